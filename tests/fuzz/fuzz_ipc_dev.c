/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device processes' receivers for fuzz_ipc: the runtime's rows
 * (CFG_MEM, CFG_JAIL, STOP), devproc's control table (CFG_DEVICE, the kind's
 * own message, CFG_DONE) and channel table, and the blk, net and serial
 * kinds' configuration checks, reached by including their sources (the
 * tables and handlers are static). The handlers are the real ones, with two
 * exceptions that must not run inside a fuzzer: CFG_DONE does on_cfg_done's
 * checks and the device's init but not devproc_setup's mmap and epoll nor
 * the jail, and net's init skips the fcntl on its TAP fd. Fds a message
 * names that the device would write to (channel, irqfd, console output) are
 * replaced by the harness's own once accepted.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "runtime/runtime.c"
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
static struct devproc_window fwindow;
static const struct devproc_ops *real_ops;
static int reply_fd[2] = { -1, -1 };

static int fz_net_init(struct devproc *dp)
{
	struct net *n = dp->priv;

	/* net_init without the fcntl(O_NONBLOCK) on an fd of the fuzzer's */
	net_setup(n, net_cfg.cn_tap_fd, net_cfg.cn_mac, &dp->rt.mem);
	n->set_offload = NULL;
	n->watch_tap = net_watch;
	n->owner = dp;
	virtio_dp_attach(&n->vd, dp);
	return 0;
}

static uint64_t fz_io_read(struct devproc *dp, uint64_t off, unsigned int size)
{
	FZ_CHECK(off < dp->ops->window->len && (size == 1 || size == 2 || size == 4 || size == 8) &&
			 size <= dp->ops->window->len - off,
		 "io_read(0x%llx, %u) outside the %llu-byte window", (unsigned long long)off, size,
		 (unsigned long long)dp->ops->window->len);
	return real_ops->window->io_read(dp, off, size);
}

static void fz_io_write(struct devproc *dp, uint64_t off, unsigned int size, uint64_t val)
{
	FZ_CHECK(off < dp->ops->window->len && (size == 1 || size == 2 || size == 4 || size == 8) &&
			 size <= dp->ops->window->len - off,
		 "io_write(0x%llx, %u) outside the %llu-byte window", (unsigned long long)off, size,
		 (unsigned long long)dp->ops->window->len);
	real_ops->window->io_write(dp, off, size, val);
}

/* on_cfg_done, less what a fuzzer cannot do (map, epoll the fds, enter the jail). */
static int fz_on_cfg_done(void *arg, const void *msg)
{
	struct devproc *dp = arg;
	int err;

	(void)msg;
	if (!dp->cfg.h.ih_type || !dp->have_kind_cfg || !runtime_configured(&dp->rt))
		return -EPROTO;
	if (dp->ops->init) {
		err = dp->ops->init(dp);
		if (err < 0)
			return err;
	}
	dp->rt.state = DEVPROC_ST_RUN;
	return 0;
}

static void reset_kind(uint32_t kind)
{
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
}

void fzipc_dev_reset(uint32_t kind)
{
	static int ready;
	int ep;

	if (!ready) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, reply_fd) < 0)
			fz_fail("socketpair");
		fdp.ep = epoll_create1(EPOLL_CLOEXEC);
		if (fdp.ep < 0)
			fz_fail("epoll_create1");
		ready = 1;
	}
	if (fdp.input_watched && fdp.input_fd >= 0)
		epoll_ctl(fdp.ep, EPOLL_CTL_DEL, fdp.input_fd, NULL);
	free(blk.bounce);
	memset(&blk, 0, sizeof(blk));
	memset(&net, 0, sizeof(net));
	memset(&serial, 0, sizeof(serial));
	memset(&blk_cfg, 0, sizeof(blk_cfg));
	memset(&net_cfg, 0, sizeof(net_cfg));
	reset_kind(kind);
	fops = *real_ops;
	fwindow = *real_ops->window;
	fwindow.io_read = fz_io_read;
	fwindow.io_write = fz_io_write;
	fops.window = &fwindow;
	if (real_ops == &net_ops)
		fops.init = fz_net_init;
	ep = fdp.ep;
	memset(&fdp, 0, sizeof(fdp));
	fdp.ep = ep;
	fdp.ops = &fops;
	fdp.input_fd = -1;
	fdp.priv = real_ops == &blk_ops ? (void *)&blk : real_ops == &net_ops ? (void *)&net : (void *)&serial;
	runtime_init(&fdp.rt, "fuzz_ipc", fops.policy, fwindow.uses_guest_memory);
	control_table_init(&fdp);
	fdp.table[2].fn = fz_on_cfg_done;
}

int fzipc_runtime_dispatch(struct runtime *rt, const struct ipc_handler *table, size_t n, void *ctx,
			   const void *buf, size_t len)
{
	if (ipc_check(runtime_table, nitems(runtime_table), buf, len, rt->state))
		return ipc_dispatch(runtime_table, nitems(runtime_table), buf, len, rt->state, rt);
	return ipc_dispatch(table, n, buf, len, rt->state, ctx);
}

int fzipc_reply_fd(void)
{
	return reply_fd[1];
}

/* The device would write these; in here they are the harness's. */
static void take_over_fds(void)
{
	fdp.cfg.cd_chan_fd = reply_fd[0];
	if (fdp.cfg.cd_irq_fd != IPC_FD_NONE)
		fdp.cfg.cd_irq_fd = FZIPC_FD_IRQ;
}

static void check_accepted(void)
{
	const struct guest_mem *mem = &fdp.rt.mem;

	FZ_CHECK(mem->nregions <= LAYOUT_MAX_MEM_REGIONS, "%u memory regions", mem->nregions);
	for (unsigned int i = 0; i < mem->nregions; i++)
		FZ_CHECK(mem->regions[i].size && mem->regions[i].size % 4096 == 0 &&
				 mem->regions[i].gpa % 4096 == 0,
			 "region %u accepted at 0x%llx size 0x%llx", i,
			 (unsigned long long)mem->regions[i].gpa, (unsigned long long)mem->regions[i].size);
	FZ_CHECK(fdp.cfg.cd_nqueues <= IPC_MAX_QUEUES, "%u queues accepted", fdp.cfg.cd_nqueues);
	FZ_CHECK(fdp.rt.nbind <= RUNTIME_MAX_BINDINGS, "%zu bindings", fdp.rt.nbind);
	if (blk_cfg.h.ih_type)
		FZ_CHECK(blk_cfg.cb_size && blk_cfg.cb_size % 512 == 0 &&
				 strnlen(blk_cfg.cb_serial, sizeof(blk_cfg.cb_serial)) <= IPC_BLK_SERIAL_MAX,
			 "CFG_BLK accepted with size %llu", (unsigned long long)blk_cfg.cb_size);
	if (net_cfg.h.ih_type)
		FZ_CHECK(!(net_cfg.cn_mac[0] & 1), "CFG_NET accepted a multicast MAC");
}

int fzipc_dev_control(const void *buf, size_t len)
{
	uint32_t had_cfg = fdp.cfg.h.ih_type;
	int had_kind = fdp.have_kind_cfg;
	int err;

	err = fzipc_runtime_dispatch(&fdp.rt, fdp.table, fdp.ntable, &fdp, buf, len);
	if (err == 0 && !had_cfg && fdp.cfg.h.ih_type)
		take_over_fds();
	if (err == 0 && !had_kind && fdp.have_kind_cfg && serial.out_fd != IPC_FD_NONE)
		serial.out_fd = FZIPC_FD_IRQ;
	if (err == 0)
		check_accepted();
	if (fdp.rt.done || err < 0)
		fzipc_dev_reset((uint32_t)(real_ops == &blk_ops ? 0 : real_ops == &net_ops ? 1 : 2));
	return err;
}

int fzipc_dev_channel(const void *buf, size_t len)
{
	int err = ipc_dispatch(channel_table, nitems(channel_table), buf, len, fdp.rt.state, &fdp);

	if (err < 0 && fdp.rt.state == DEVPROC_ST_RUN)
		fzipc_dev_reset((uint32_t)(real_ops == &blk_ops ? 0 : real_ops == &net_ops ? 1 : 2));
	return err;
}
