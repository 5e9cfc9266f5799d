/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --fs: virtio-9p, a host directory shared over 9P2000.L, served by
 * bulkhead-9p. The supervisor opens the directory (O_PATH: it reads nothing
 * in it) and hands the fd over; the 9p process makes a bind mount of it its
 * root and serves every request beneath it (devices/9p/main.c, jail.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "kinds.h"

struct fs_opts {
	char path[PATH_MAX]; /* required */
	char tag[IPC_9P_TAG_MAX + 1]; /* required */
	int readonly; /* readonly=on|off, default off */
};
_Static_assert(sizeof(struct fs_opts) <= CONFIG_DEV_OPTS_MAX, "fs options fit");

static const struct key_def fs_keys[] = {
	CONFIG_KEY("path", KEY_STRING, struct fs_opts, path, KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
	CONFIG_KEY("tag", KEY_STRING, struct fs_opts, tag, KEY_REQUIRED | KEY_NONEMPTY),
	CONFIG_KEY("readonly", KEY_BOOL, struct fs_opts, readonly, KEY_NONEMPTY),
};

/* A mount tag ends up in mount(8) arguments and on kernel command lines (root=TAG). */
static int fs_check(void *opts, char *err, size_t errlen)
{
	const struct fs_opts *o = opts;

	for (const char *q = o->tag; *q; q++) {
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f) {
			snprintf(err, errlen, "--fs: tag=: only printable ASCII without blanks");
			return -1;
		}
	}
	return 0;
}

static int fs_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct fs_opts *o = d->opts;
	struct ipc_cfg_9p *m = (struct ipc_cfg_9p *)d->msg.bytes;
	struct statvfs sv;
	int fd;

	fd = open(o->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "--fs: path=%s: %s", o->path, strerror(errno));
		return -1;
	}
	if (!o->readonly && fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY)) {
		snprintf(err, errlen, "--fs: path=%s: a read-only file system (add readonly=on?)",
			 o->path);
		close(fd);
		return -1;
	}
	ipc_init(m, IPC_CFG_9P, sizeof(*m));
	m->c9_root_fd = fd;
	m->c9_flags = o->readonly ? IPC_9P_F_READONLY : 0;
	snprintf(m->c9_tag, sizeof(m->c9_tag), "%s", o->tag);
	return 0;
}

static const struct ipc_fd_field fs_fds[] = IPC_CFG_9P_FDS;

const struct dev_kind kind_9p = {
	.option = "fs",
	.synopsis = "path=DIR,tag=TAG[,readonly=on|off]",
	.help = "A host directory shared over virtio-9p (9P2000.L), repeatable; the guest mounts "
		"it with \"mount -t 9p -o trans=virtio,version=9p2000.L TAG /mnt\", or, with 9P "
		"built into its kernel, boots from it with \"root=TAG rootfstype=9p "
		"rootflags=trans=virtio,version=9p2000.L\". TAG is 1 to 31 printable ASCII bytes. "
		"Its bulkhead-9p process is jailed into a bind mount of DIR (read-only with "
		"readonly=on) and serves nothing outside it. The guest sees the files' host owners; "
		"what it creates belongs to the jail's uid and gid (--jail uid=,gid=), or, when "
		"bulkhead runs unprivileged, to the user who started it. Not restarted by "
		"--on-device-failure restart: the guest's open files live only in its process. "
		"Default: read-write.",
	.keys = fs_keys,
	.nkeys = nitems(fs_keys),
	.check = fs_check,
	.max = LAYOUT_MAX_DEVICES,
	.helper = "9p",
	.ipc_kind = IPC_DEV_9P,
	.virtio_id = IPC_9P_VIRTIO_ID,
	.nqueues = IPC_9P_QUEUES,
	.uses_guest_memory = 1,
	.transport = &kinds_virtio_mmio,
	.open = fs_open,
	.msg_type = IPC_CFG_9P,
	.msg_size = sizeof(struct ipc_cfg_9p),
	.fds = fs_fds,
	.nfds = nitems(fs_fds),
	.share_fd = "ROOT_FD",
	.restartable = 0,
	/* docs/architecture.md, "bulkhead-9p", has the whole argument */
	.no_restart_reason = "the guest's fids (open files, files unlinked but open, their locks) "
			     "live only in its process and cannot be rebuilt",
};
