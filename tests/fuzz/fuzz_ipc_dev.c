/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device processes' receivers for fuzz_ipc: devproc's control and
 * channel tables and the blk/net configuration tables, reached by
 * including their sources (the tables and handlers are static). The
 * handlers are the real ones, with two exceptions that must not run inside
 * a fuzzer: CFG_DONE does on_cfg_done's checks and the device's init but
 * not devproc_setup's mmap and epoll nor the jail, and net's init skips the
 * fcntl on its TAP fd. Fds a message names that the device would write to
 * (channel, irqfd) are replaced by the harness's own once accepted.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "devices/devproc/devproc.c"

#define main fz_blk_main
#include "devices/blk/main.c"
#undef main
#define main fz_net_main
#include "devices/net/main.c"
#undef main
#define main fz_serial_main
#include "devices/serial/main.c"
#undef main

#include "fz.h"
#include "fuzz_ipc.h"

int fz_blk_main(int argc, char **argv);
int fz_net_main(int argc, char **argv);
int fz_serial_main(int argc, char **argv);

static struct devproc fdp;
static struct devproc_ops fops; /* a copy of the real ops, io callbacks wrapped */
static const struct devproc_ops *real_ops;
static int reply_fd[2] = { -1, -1 };

static int fz_net_init(struct devproc *dp)
{
	struct net *n = dp->priv;

	/* net_init without the fcntl(O_NONBLOCK) on an fd of the fuzzer's */
	if (!net_cfg.h.ih_type || dp->cfg.cd_nqueues != 2 || dp->cfg.cd_in_fd == IPC_FD_NONE)
		return -EPROTO;
	net_setup(n, dp->cfg.cd_in_fd, net_cfg.cn_mac, &dp->mem);
	n->set_offload = NULL;
	n->watch_tap = net_watch;
	n->owner = dp;
	virtio_dp_attach(&n->vd, dp);
	return 0;
}

static uint64_t fz_io_read(struct devproc *dp, uint64_t off, unsigned int size)
{
	FZ_CHECK(off < dp->ops->window_len && (size == 1 || size == 2 || size == 4 || size == 8) &&
			 size <= dp->ops->window_len - off,
		 "io_read(0x%llx, %u) outside the %llu-byte window", (unsigned long long)off, size,
		 (unsigned long long)dp->ops->window_len);
	return real_ops->io_read(dp, off, size);
}

static void fz_io_write(struct devproc *dp, uint64_t off, unsigned int size, uint64_t val)
{
	FZ_CHECK(off < dp->ops->window_len && (size == 1 || size == 2 || size == 4 || size == 8) &&
			 size <= dp->ops->window_len - off,
		 "io_write(0x%llx, %u) outside the %llu-byte window", (unsigned long long)off, size,
		 (unsigned long long)dp->ops->window_len);
	real_ops->io_write(dp, off, size, val);
}

/* on_cfg_done, less what a fuzzer cannot do (map, epoll the fds, enter the jail). */
static int fz_on_cfg_done(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	int err;

	(void)msg;
	if (!dp->cfg.h.ih_type || (dp->ops->uses_guest_memory && dp->mem.nregions == 0))
		return -EPROTO;
	if (!dp->jail.h.ih_type)
		return -EPROTO;
	if (dp->ops->init) {
		err = dp->ops->init(dp);
		if (err < 0)
			return err;
	}
	dp->state = ST_RUN;
	return 0;
}

static struct ipc_handler fz_control_table[nitems(control_table)];

void fzipc_dev_reset(uint32_t kind)
{
	static int ready;

	if (!ready) {
		/* The copy must stay the real table, row for row. */
		for (size_t i = 0; i < nitems(control_table); i++) {
			fz_control_table[i] = control_table[i];
			if (control_table[i].type == IPC_CFG_DONE)
				fz_control_table[i].fn = fz_on_cfg_done;
		}
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, reply_fd) < 0)
			fz_fail("socketpair");
		fdp.ep = epoll_create1(EPOLL_CLOEXEC);
		if (fdp.ep < 0)
			fz_fail("epoll_create1");
		ready = 1;
	}
	if (fdp.input_watched && fdp.cfg.cd_in_fd >= 0)
		epoll_ctl(fdp.ep, EPOLL_CTL_DEL, fdp.cfg.cd_in_fd, NULL);
	free(blk.bounce);
	memset(&blk, 0, sizeof(blk));
	memset(&net, 0, sizeof(net));
	memset(&serial, 0, sizeof(serial));
	memset(&blk_cfg, 0, sizeof(blk_cfg));
	memset(&net_cfg, 0, sizeof(net_cfg));
	switch (kind % 3) {
	case 0:
		real_ops = &blk_ops;
		fdp.priv = &blk;
		break;
	case 1:
		real_ops = &net_ops;
		fdp.priv = &net;
		break;
	default:
		real_ops = &serial_ops;
		fdp.priv = &serial;
		break;
	}
	fops = *real_ops;
	fops.io_read = fz_io_read;
	fops.io_write = fz_io_write;
	if (real_ops == &net_ops)
		fops.init = fz_net_init;
	fdp.ops = &fops;
	memset(&fdp.cfg, 0, sizeof(fdp.cfg));
	memset(&fdp.mem, 0, sizeof(fdp.mem));
	for (unsigned int i = 0; i < LAYOUT_MAX_MEM_REGIONS; i++)
		fdp.mem.regions[i].fd = -1;
	memset(&fdp.jail, 0, sizeof(fdp.jail));
	fdp.state = ST_BOOT;
	fdp.input_watched = 0;
	fdp.chan_closed = 0;
	fdp.reported = 0;
	fdp.done = 0;
}

int fzipc_reply_fd(void)
{
	return reply_fd[1];
}

int fzipc_dev_control(const void *buf, size_t len)
{
	const struct devproc_ops *ops = fdp.ops;
	uint32_t had_cfg = fdp.cfg.h.ih_type;
	int err;

	/* as control_read: the device's own table first, then devproc's */
	if (ops->cfg_table && ipc_check(ops->cfg_table, ops->ncfg_table, buf, len, fdp.state))
		err = ipc_dispatch(ops->cfg_table, ops->ncfg_table, buf, len, fdp.state, &fdp);
	else
		err = ipc_dispatch(fz_control_table, nitems(fz_control_table), buf, len, fdp.state, &fdp);
	if (err == 0 && !had_cfg && fdp.cfg.h.ih_type) {
		/* The device would write these; in here they are the harness's. */
		fdp.cfg.cd_chan_fd = reply_fd[0];
		if (fdp.cfg.cd_irq_fd != IPC_FD_NONE)
			fdp.cfg.cd_irq_fd = FZIPC_FD_IRQ;
		if (fdp.cfg.cd_out_fd != IPC_FD_NONE)
			fdp.cfg.cd_out_fd = FZIPC_FD_IRQ;
	}
	if (err == 0) {
		FZ_CHECK(fdp.mem.nregions <= LAYOUT_MAX_MEM_REGIONS, "%u memory regions", fdp.mem.nregions);
		for (unsigned int i = 0; i < fdp.mem.nregions; i++)
			FZ_CHECK(fdp.mem.regions[i].size && fdp.mem.regions[i].size % 4096 == 0 &&
					 fdp.mem.regions[i].gpa % 4096 == 0,
				 "region %u accepted at 0x%llx size 0x%llx", i,
				 (unsigned long long)fdp.mem.regions[i].gpa,
				 (unsigned long long)fdp.mem.regions[i].size);
		FZ_CHECK(fdp.cfg.cd_nqueues <= IPC_MAX_QUEUES, "%u queues accepted", fdp.cfg.cd_nqueues);
		if (blk_cfg.h.ih_type)
			FZ_CHECK(blk_cfg.cb_size && blk_cfg.cb_size % 512 == 0 &&
					 strnlen(blk_cfg.cb_serial, sizeof(blk_cfg.cb_serial)) <= IPC_BLK_SERIAL_MAX,
				 "CFG_BLK accepted with size %llu", (unsigned long long)blk_cfg.cb_size);
		if (net_cfg.h.ih_type)
			FZ_CHECK(!(net_cfg.cn_mac[0] & 1), "CFG_NET accepted a multicast MAC");
	}
	if (fdp.done || err < 0)
		fzipc_dev_reset((uint32_t)(real_ops == &blk_ops ? 0 : real_ops == &net_ops ? 1 : 2));
	return err;
}

int fzipc_dev_channel(const void *buf, size_t len)
{
	int err = ipc_dispatch(channel_table, nitems(channel_table), buf, len, fdp.state, &fdp);

	if (err < 0 && fdp.state == ST_RUN)
		fzipc_dev_reset((uint32_t)(real_ops == &blk_ops ? 0 : real_ops == &net_ops ? 1 : 2));
	return err;
}
