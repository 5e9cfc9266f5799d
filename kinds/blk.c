/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --disk: virtio-blk, served by bulkhead-blk. The supervisor opens every image
 * (the blk process never opens a path), checks it is a regular file or block
 * device whose size is a multiple of 512, and locks it as QEMU does, so two
 * VMs cannot write one image: a write lock for read-write disks, a read lock
 * for read-only ones, both open-file-description locks that travel with the
 * fd to bulkhead-blk.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "kinds.h"

struct blk_opts {
	char path[PATH_MAX]; /* required */
	int readonly; /* readonly=on|off, default off */
	int direct; /* direct=on|off (O_DIRECT), default off */
	char serial[IPC_BLK_SERIAL_MAX + 1]; /* serial=ID, default "" */
};
_Static_assert(sizeof(struct blk_opts) <= CONFIG_DEV_OPTS_MAX, "blk options fit");

static const struct key_def blk_keys[] = {
	CONFIG_KEY("path", KEY_STRING, struct blk_opts, path,
		   KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
	CONFIG_KEY("readonly", KEY_BOOL, struct blk_opts, readonly, KEY_NONEMPTY),
	CONFIG_KEY("serial", KEY_STRING, struct blk_opts, serial, 0),
	CONFIG_KEY("direct", KEY_BOOL, struct blk_opts, direct, KEY_NONEMPTY),
};

static int blk_check(void *opts, char *err, size_t errlen)
{
	const struct blk_opts *o = opts;

	for (const char *q = o->serial; *q; q++) {
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e) {
			snprintf(err, errlen, "--disk: serial=: only printable ASCII");
			return -1;
		}
	}
	return 0;
}

static int disk_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -EINVAL;
}

static int disk_lock(int fd, int readonly)
{
	struct flock fl = {
		.l_type = readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static int blk_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct blk_opts *o = d->opts;
	struct ipc_cfg_blk *m = (struct ipc_cfg_blk *)d->msg.bytes;
	int flags = (o->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (o->direct ? O_DIRECT : 0);
	uint64_t size = 0;
	int fd, e;

	fd = open(o->path, flags);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "--disk: path=%s: %s%s", o->path, strerror(e),
			 (e == EACCES || e == EROFS) && !o->readonly ? " (add readonly=on?)" : "");
		return -1;
	}
	e = disk_size(fd, &size);
	if (e == -EINVAL) {
		snprintf(err, errlen, "--disk: path=%s: not a regular file or block device", o->path);
		goto err_close;
	}
	if (e < 0 || size == 0 || size % 512) {
		snprintf(err, errlen, "--disk: path=%s: %s", o->path,
			 e < 0 ? strerror(-e) : "size is not a non-zero multiple of 512 bytes");
		goto err_close;
	}
	e = disk_lock(fd, o->readonly);
	if (e < 0) {
		snprintf(err, errlen, "--disk: path=%s: %s", o->path,
			 e == -EAGAIN || e == -EACCES ? "in use by another VM (locked)" : strerror(-e));
		goto err_close;
	}
	ipc_init(m, IPC_CFG_BLK, sizeof(*m));
	m->cb_disk_fd = fd;
	m->cb_size = size;
	m->cb_flags = (o->readonly ? IPC_BLK_F_READONLY : 0) | (o->direct ? IPC_BLK_F_DIRECT : 0);
	snprintf(m->cb_serial, sizeof(m->cb_serial), "%s", o->serial);
	return 0;

err_close:
	close(fd);
	return -1;
}

static const struct ipc_fd_field blk_fds[] = IPC_CFG_BLK_FDS;

const struct dev_kind kind_blk = {
	.option = "disk",
	.synopsis = "path=FILE[,readonly=on|off][,serial=ID][,direct=on|off]",
	.help = "A virtio-blk disk, repeatable (vda, vdb, ...). FILE is a raw image or a block "
		"device whose size is a multiple of 512; bulkhead opens and locks it (write lock, "
		"or read lock with readonly=on) and hands the open file to its bulkhead-blk "
		"process. serial is what GET_ID returns (at most 20 bytes); direct=on opens the "
		"image with O_DIRECT. Default: read-write, buffered.",
	.keys = blk_keys,
	.nkeys = nitems(blk_keys),
	.check = blk_check,
	.max = LAYOUT_MAX_DEVICES,
	.helper = "blk",
	.ipc_kind = IPC_DEV_BLK,
	.virtio_id = IPC_BLK_VIRTIO_ID,
	.nqueues = IPC_BLK_QUEUES,
	.uses_guest_memory = 1,
	.transport = &kinds_virtio_mmio,
	.open = blk_open,
	.msg_type = IPC_CFG_BLK,
	.msg_size = sizeof(struct ipc_cfg_blk),
	.fds = blk_fds,
	.nfds = nitems(blk_fds),
	.restartable = 1,
};
