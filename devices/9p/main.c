/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-9p: one virtio-9p device serving one shared directory over
 * 9P2000.L. The supervisor opened the directory; at lockdown the jail makes
 * a bind mount of it this process's root (read-only with readonly=on), and
 * every request is served beneath that root by openat2 and the *at calls
 * (p9.h). Files the guest creates get the modes it asks for (umask 0) and
 * belong to the jail's uid and gid.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/layout.h"
#include "common/log.h"
#include "devices/devproc/devproc.h"
#include "p9.h"

/*
 * RLIMIT_NOFILE in the jail: room for an fd per fid of a guest that keeps a
 * few thousand files open or cached (Linux's client holds a fid per cached
 * dentry), lowered to the hard limit bulkhead was started with. The server
 * keeps its fids' fds within what is left after the process's own fds
 * (P9_OWN_FDS: control, channel, irqfd, kick, epoll, shadow, guest memory,
 * the root, stdio; every one below that number) and gives fids beyond it
 * only their paths.
 */
#define P9_NOFILE 8192u
#define P9_NOFILE_MIN 256u
#define P9_OWN_FDS 64u

static struct p9_dev p9;
static struct ipc_cfg_9p p9_cfg;
static const struct ipc_fd_field p9_fds[] = IPC_CFG_9P_FDS;

static int p9_cfg_check(struct devproc *dp, const void *msg)
{
	const struct ipc_cfg_9p *m = msg;

	if ((m->c9_flags & ~(uint32_t)IPC_9P_F_READONLY) ||
	    !ipc_str_ok(m->c9_tag, sizeof(m->c9_tag)) || !p9_tag_ok(m->c9_tag))
		return -EPROTO;
	p9_cfg = *m;
	/* The jail's root becomes a bind mount of it (runtime.h: share_fd). */
	dp->rt.share_fd = m->c9_root_fd;
	dp->rt.share_readonly = (m->c9_flags & IPC_9P_F_READONLY) != 0;
	return 0;
}

static int p9_init(struct devproc *dp)
{
	struct p9_dev *d = dp->priv;
	uint32_t flags = (p9_cfg.c9_flags & IPC_9P_F_READONLY) ? P9_F_READONLY : 0;
	int err;

	err = p9_dev_setup(d, p9_cfg.c9_root_fd, flags, dp->ops->nofile - P9_OWN_FDS, p9_cfg.c9_tag,
			   &dp->rt.mem);
	if (err < 0)
		return err;
	virtio_dp_attach(&d->vd, dp);
	return 0;
}

static struct devproc_ops p9_ops = {
	.name = "bulkhead-9p",
	.policy = "9p",
	.kind = IPC_DEV_9P,
	.nqueues = IPC_9P_QUEUES,
	.window = &virtio_dp_window,
	.msg = DEVPROC_MSG(IPC_CFG_9P, struct ipc_cfg_9p, p9_fds),
	.cfg = p9_cfg_check,
	.init = p9_init,
};

/* P9_NOFILE, or the hard limit when that is lower (the jail cannot raise it). */
static unsigned int nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < P9_NOFILE)
		return rl.rlim_max < P9_NOFILE_MIN ? P9_NOFILE_MIN : (unsigned int)rl.rlim_max;
	return P9_NOFILE;
}

int main(int argc, char **argv)
{
	/* The modes of what the guest creates are the guest's (9P2000.L sends them whole). */
	umask(0);
	p9_ops.nofile = nofile_limit();
	return devproc_main(&p9_ops, &p9, argc, argv);
}
