/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-vcpu main: receive the configuration from the supervisor, create
 * the VM, answer READY, run the vCPUs on START, report how the guest ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "runtime/runtime.h"
#include "testhooks/testhooks.h"
#include "vcpu.h"

enum vcpu_state {
	ST_BOOT = RUNTIME_ST_BOOT, /* receiving configuration */
	ST_READY = 1 << 1, /* VM built, waiting for START */
	ST_RUN = 1 << 2, /* vCPUs running */
};

struct ctx {
	struct runtime rt;
	struct vm vm;
	int have_cfg;
};

static int on_cfg_vcpu(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_cfg_vcpu *m = msg;

	if (c->have_cfg || m->cv_nvcpus == 0 || m->cv_nvcpus > VCPU_MAX ||
	    m->cv_deadline_ms < IPC_DEADLINE_MIN_MS || m->cv_deadline_ms > IPC_DEADLINE_MS ||
	    (m->cv_entry_mode != IPC_ENTRY_LINUX64 && m->cv_entry_mode != IPC_ENTRY_PVH32) ||
	    !runtime_fd_ok(m->cv_kvm_fd) || !runtime_fd_ok(m->cv_cpuid_fd) ||
	    !ipc_str_ok(m->cv_name, sizeof(m->cv_name)))
		return -EPROTO;
	c->vm.cfg = *m;
	c->vm.kvm_fd = m->cv_kvm_fd;
	c->have_cfg = 1;
	if (m->cv_flags & IPC_VCPU_F_RESTART)
		runtime_accept_fd(&c->rt, IPC_VCPU_DEV_SWAP);
	if (m->cv_flags & IPC_VCPU_F_VERBOSE)
		log_set_verbose(1);
	return 0;
}

static int dev_window_ok(const struct ipc_cfg_vcpu_dev *m)
{
	if (m->cd_len == 0)
		return 0;
	if (m->cd_space == IPC_SPACE_PIO)
		return m->cd_base < 0x10000 && m->cd_len <= 0x10000 - m->cd_base;
	if (m->cd_space == IPC_SPACE_MMIO)
		return m->cd_base >= LAYOUT_LOW_RAM_END && m->cd_base < LAYOUT_HIGH_RAM_START &&
		       m->cd_len <= LAYOUT_HIGH_RAM_START - m->cd_base;
	return 0;
}

static int dev_overlaps(const struct vm *vm, const struct ipc_cfg_vcpu_dev *m)
{
	for (unsigned int i = 0; i < vm->ndevs; i++) {
		const struct dev_chan *d = &vm->devs[i];

		if (d->space == m->cd_space && m->cd_base < d->base + d->len &&
		    d->base < m->cd_base + m->cd_len)
			return 1;
	}
	return 0;
}

/* The shadow's layout stays inside the window and inside struct ipc_shadow. */
static int shadow_layout_ok(const struct ipc_cfg_vcpu_dev *m)
{
	uint32_t w = m->cd_shadow_width;

	if (w != 1 && w != 2 && w != 4)
		return 0;
	if (m->cd_shadow_regs > IPC_SHADOW_REGS || (uint64_t)m->cd_shadow_regs * w > m->cd_len)
		return 0;
	return m->cd_shadow_config_off == 0 ||
	       (m->cd_shadow_config_off >= (uint64_t)m->cd_shadow_regs * w &&
		m->cd_shadow_config_off < m->cd_len);
}

/* Map a device's register shadow read-only (exits.c reads it). */
static int shadow_map(struct dev_chan *d, const struct ipc_cfg_vcpu_dev *m)
{
	if (!(m->cd_flags & IPC_VCPU_DEV_F_SHADOW))
		return 0;
	if (!shadow_layout_ok(m) || !runtime_fd_ok(m->cd_shadow_fd))
		return -EPROTO;
	d->shadow = runtime_map_shadow(m->cd_shadow_fd, PROT_READ);
	if (!d->shadow)
		return -errno;
	d->shadow_width = m->cd_shadow_width;
	d->shadow_regs = m->cd_shadow_regs;
	d->shadow_config_off = m->cd_shadow_config_off;
	return 0;
}

static int sync_offsets_ok(const struct ipc_cfg_vcpu_dev *m)
{
	if (m->cd_nsync > IPC_MAX_SYNC_WRITES)
		return 0;
	for (uint32_t i = 0; i < m->cd_nsync; i++) {
		if (m->cd_sync_off[i] >= m->cd_len)
			return 0;
	}
	return 1;
}

static int on_cfg_vcpu_dev(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_cfg_vcpu_dev *m = msg;
	struct dev_chan *d;
	int err;

	if (c->vm.ndevs >= LAYOUT_MAX_DEVICES || !ipc_str_ok(m->cd_name, sizeof(m->cd_name)) ||
	    !dev_window_ok(m) || dev_overlaps(&c->vm, m) || m->cd_gsi >= LAYOUT_IOAPIC_PINS ||
	    (c->vm.irq_fd >= 0 && m->cd_gsi == c->vm.irq_gsi) ||
	    !runtime_fd_ok(m->cd_chan_fd) || !runtime_fd_ok_or_none(m->cd_irq_fd) ||
	    m->cd_nqueues > IPC_MAX_QUEUES || !sync_offsets_ok(m))
		return -EPROTO;
	if (m->cd_nqueues && (m->cd_notify_off > m->cd_len || m->cd_len - m->cd_notify_off < 4))
		return -EPROTO;
	if (m->cd_flags & ~(uint32_t)IPC_VCPU_DEV_F_SHADOW)
		return -EPROTO;
	for (uint32_t q = 0; q < m->cd_nqueues; q++) {
		if (!runtime_fd_ok(m->cd_queue_fd[q]))
			return -EPROTO;
	}
	d = &c->vm.devs[c->vm.ndevs];
	err = shadow_map(d, m);
	if (err < 0)
		return err;
	c->vm.ndevs++;
	memcpy(d->name, m->cd_name, sizeof(d->name));
	d->space = m->cd_space;
	d->base = m->cd_base;
	d->len = m->cd_len;
	d->gsi = m->cd_gsi;
	d->fd = m->cd_chan_fd;
	d->irq_fd = m->cd_irq_fd;
	d->nqueues = m->cd_nqueues;
	d->notify_off = m->cd_notify_off;
	for (uint32_t q = 0; q < m->cd_nqueues; q++)
		d->queue_fd[q] = m->cd_queue_fd[q];
	if (fcntl(d->fd, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	d->nsync = m->cd_nsync;
	memcpy(d->sync_off, m->cd_sync_off, sizeof(d->sync_off));
	err = chan_init(d);
	if (err < 0)
		return err;
	return runtime_bind(&c->rt, "CHAN_FD", d->fd) < 0 ? -EPROTO : 0;
}

/* The supervisor's interrupt line (the power button's GED): its own GSI, no device's. */
static int on_cfg_vcpu_irq(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_cfg_vcpu_irq *m = msg;

	if (c->vm.irq_fd >= 0 || !runtime_fd_ok(m->ci_fd) || m->ci_gsi == 0 ||
	    m->ci_gsi >= LAYOUT_IOAPIC_PINS)
		return -EPROTO;
	for (unsigned int i = 0; i < c->vm.ndevs; i++) {
		if (c->vm.devs[i].gsi == m->ci_gsi)
			return -EPROTO;
	}
	c->vm.irq_fd = m->ci_fd;
	c->vm.irq_gsi = m->ci_gsi;
	return 0;
}

/* Every fd this process holds is below this: vCPU fds, devices' fds, memfds. */
static unsigned int vcpu_nofile(const struct vm *vm)
{
	return 64 + vm->cfg.cv_nvcpus + 8 * LAYOUT_MAX_DEVICES;
}

/*
 * Every VM-level ioctl is done before the jail closes; the vCPU threads are
 * made between its file-system part (which needs a single thread) and its
 * credentials part (after which no task can be created). The memory slots
 * come as late as they can: after KVM_CREATE_IRQCHIP the first one waits in
 * KVM for an SRCU grace period (5-7 ms here), less the longer it comes after
 * (docs/performance.md, "Start-up: where the time goes").
 */
static int build_and_lock_down(struct ctx *c)
{
	unsigned int nofile = vcpu_nofile(&c->vm);
	int e;

	e = vm_create(&c->vm);
	if (e == 0)
		e = cpu_create_all(&c->vm);
	if (e == 0)
		e = runtime_jail_fs(&c->rt, nofile);
	if (e == 0)
		e = vm_create_slots(&c->vm);
	if (e == 0)
		e = cpu_create_threads(&c->vm);
	if (e < 0)
		return e;
	c->rt.state = ST_READY; /* threads exist: they must be stopped on the way out */
	/* keep_nproc: see jail.h; KVM_RUN needs to start a worker task */
	e = runtime_jail_creds(&c->rt, nofile, 1);
	if (e == 0)
		e = runtime_bind(&c->rt, "EXIT_FD", c->vm.exit_evfd);
	if (e == 0)
		e = runtime_bind(&c->rt, "VM_FD", c->vm.vm_fd);
	if (e == 0)
		e = runtime_bind(&c->rt, "PID", getpid());
	if (e == 0)
		e = runtime_seccomp(&c->rt);
	return e;
}

static int on_cfg_done(void *arg, const void *msg)
{
	struct ctx *c = arg;
	int err;

	(void)msg;
	if (!c->have_cfg || !runtime_configured(&c->rt))
		return -EPROTO;
	c->vm.mem = c->rt.mem;
	err = build_and_lock_down(c);
	if (err == 0)
		err = runtime_send(IPC_READY);
	return err;
}

static int on_start(void *arg, const void *msg)
{
	struct ctx *c = arg;

	(void)msg;
	cpu_go(&c->vm);
	c->rt.state = ST_RUN;
	return 0;
}

/* VCPU_PAUSE: pausing answers once every vCPU waits (report_events); resuming at once. */
static int on_pause(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_vcpu_pause *m = msg;
	struct ipc_vcpu_pause r;

	if (m->vp_pause > 1)
		return -EPROTO;
	cpu_pause(&c->vm, (int)m->vp_pause);
	if (m->vp_pause) {
		c->vm.pause_owed = 1;
		vm_wake_main(&c->vm);
		return 0;
	}
	c->vm.pause_owed = 0;
	ipc_init(&r, IPC_VCPU_PAUSED, sizeof(r));
	return ipc_send(IPC_FD_CONTROL, &r);
}

/* A restarted device's channel (--on-device-failure restart). */
static int on_dev_swap(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_vcpu_dev_swap *m = msg;
	int fd = runtime_take_fd(&c->rt);

	if (fd < 0 || !ipc_str_ok(m->ds_name, sizeof(m->ds_name)))
		goto err_close;
	for (unsigned int i = 0; i < c->vm.ndevs; i++) {
		if (strcmp(c->vm.devs[i].name, m->ds_name) == 0)
			return chan_swap(&c->vm, &c->vm.devs[i], fd);
	}
err_close:
	if (fd >= 0)
		close(fd);
	return -EPROTO;
}

static const struct ipc_handler control_table[] = {
	{ IPC_CFG_VCPU, sizeof(struct ipc_cfg_vcpu), ST_BOOT, on_cfg_vcpu },
	{ IPC_CFG_VCPU_DEV, sizeof(struct ipc_cfg_vcpu_dev), ST_BOOT, on_cfg_vcpu_dev },
	{ IPC_CFG_VCPU_IRQ, sizeof(struct ipc_cfg_vcpu_irq), ST_BOOT, on_cfg_vcpu_irq },
	{ IPC_CFG_DONE, sizeof(struct ipc_empty), ST_BOOT, on_cfg_done },
	{ IPC_START, sizeof(struct ipc_empty), ST_READY, on_start },
	{ IPC_VCPU_DEV_SWAP, sizeof(struct ipc_vcpu_dev_swap), ST_RUN, on_dev_swap },
	{ IPC_VCPU_PAUSE, sizeof(struct ipc_vcpu_pause), ST_RUN, on_pause },
};

/* The devices that failed since the last look, each told once. */
static int report_failures(struct ctx *c)
{
	int err = 0;

	for (unsigned int i = 0; i < c->vm.ndevs && err == 0; i++) {
		struct dev_chan *d = &c->vm.devs[i];
		struct ipc_dev_failed m;

		pthread_mutex_lock(&c->vm.exit_lock);
		if (!d->failed || d->failure_sent) {
			pthread_mutex_unlock(&c->vm.exit_lock);
			continue;
		}
		d->failure_sent = 1;
		ipc_init(&m, IPC_DEV_FAILED, sizeof(m));
		memcpy(m.df_name, d->name, sizeof(m.df_name));
		m.df_what = d->failed;
		m.df_write = (uint32_t)d->fail_write;
		m.df_offset = d->fail_offset;
		m.df_gen = d->fail_gen;
		pthread_mutex_unlock(&c->vm.exit_lock);
		err = ipc_send(IPC_FD_CONTROL, &m);
	}
	return err;
}

/* Woken by a vCPU thread: a device failed, or the guest's end is decided. */
static int report_events(struct ctx *c)
{
	uint64_t v;
	int err;

	(void)!read(c->vm.exit_evfd, &v, sizeof(v));
	err = report_failures(c);
	if (err == 0 && c->vm.pause_owed && cpu_paused(&c->vm)) {
		struct ipc_vcpu_pause r;

		c->vm.pause_owed = 0;
		ipc_init(&r, IPC_VCPU_PAUSED, sizeof(r));
		r.vp_pause = 1;
		err = ipc_send(IPC_FD_CONTROL, &r);
	}
	if (err < 0 || !__atomic_load_n(&c->vm.exiting, __ATOMIC_ACQUIRE))
		return err;
	/* What the guest wrote before its end reaches the devices before the supervisor
	 * hears of it and stops them. */
	chan_release_held(&c->vm, 0);
	c->rt.done = 1;
	return ipc_send(IPC_FD_CONTROL, &c->vm.exit_msg);
}

static int main_loop(struct ctx *c)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int err = 0;

	if (ep < 0)
		return -errno;
	ev.data.fd = IPC_FD_CONTROL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, IPC_FD_CONTROL, &ev) < 0)
		err = -errno;
	ev.data.fd = c->vm.exit_evfd;
	if (!err && epoll_ctl(ep, EPOLL_CTL_ADD, c->vm.exit_evfd, &ev) < 0)
		err = -errno;
	while (!err && !c->rt.done) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, chan_hold_timeout_ms(&c->vm));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		/* writes held while the vCPUs exit no more (a guest halted after them) */
		chan_release_held(&c->vm, c->vm.hold_ns);
		for (int i = 0; i < n && !err && !c->rt.done; i++) {
			if (evs[i].data.fd == c->vm.exit_evfd)
				err = report_events(c);
			else
				err = runtime_control(&c->rt, control_table, nitems(control_table), c);
		}
	}
	close(ep);
	return err;
}

int main(int argc, char **argv)
{
	static struct ctx c;
	int err;

	(void)argc;
	runtime_init(&c.rt, argv[0] && argv[0][0] ? argv[0] : "bulkhead-vcpu", "vcpu", 1);
	c.vm.kvm_fd = -1;
	c.vm.vm_fd = -1;
	c.vm.irq_fd = -1;
	for (unsigned int i = 0; i < LAYOUT_MAX_MEM_REGIONS; i++)
		c.vm.mem.regions[i].fd = -1;
	pthread_mutex_init(&c.vm.exit_lock, NULL);
	pthread_mutex_init(&c.vm.ioapic_lock, NULL);
	c.vm.exit_evfd = eventfd(0, EFD_CLOEXEC);
	if (c.vm.exit_evfd < 0)
		fatal("eventfd");
	c.vm.hold_ns = testhook_hold_ns(VCPU_HOLD_NS);
	err = main_loop(&c);
	if (c.rt.state != ST_BOOT) {
		cpu_stop_all(&c.vm);
		/* The supervisor stops the devices once this process has exited. */
		chan_drain(&c.vm);
	}
	if (err < 0) {
		errno = -err;
		log_warn("stopping");
		runtime_fail(&c.rt, err, err == -EPROTO ? "protocol error on the control channel" : "vcpu");
	}
	vm_destroy(&c.vm);
	return err < 0 ? 1 : 0;
}
