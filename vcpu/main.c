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
#include "jail/jail.h"
#include "seccomp/policy.h"
#include "vcpu.h"

enum vcpu_state {
	ST_BOOT = 1 << 0, /* receiving configuration */
	ST_READY = 1 << 1, /* VM built, waiting for START */
	ST_RUN = 1 << 2, /* vCPUs running */
};

struct ctx {
	struct vm vm;
	uint32_t state;
	int have_cfg;
	struct ipc_cfg_jail jail;
	int reported; /* an ERROR with the reason went to the supervisor already */
	int done; /* leave the main loop */
};

static int fd_open(int fd)
{
	return ipc_fd_ok(fd) && fcntl(fd, F_GETFD) >= 0;
}

static int on_cfg_mem(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_cfg_mem *m = msg;
	struct guest_mem *mem = &c->vm.mem;
	struct mem_region *r;
	int err;

	if (m->cm_index != mem->nregions || m->cm_index >= LAYOUT_MAX_MEM_REGIONS ||
	    m->cm_gpa % 4096 || m->cm_size == 0 || m->cm_size % 4096 || !fd_open(m->cm_fd))
		return -EPROTO;
	if (m->cm_gpa != (m->cm_index == 0 ? 0 : LAYOUT_HIGH_RAM_START))
		return -EPROTO;
	if (m->cm_index == 0 && m->cm_size > LAYOUT_LOW_RAM_END)
		return -EPROTO;
	err = mem_check_fd(m->cm_fd, m->cm_size);
	if (err < 0) {
		log_warnx("memory region %u: not a sealed memfd of the announced size", m->cm_index);
		return -EPROTO;
	}
	r = &mem->regions[mem->nregions++];
	r->gpa = m->cm_gpa;
	r->size = m->cm_size;
	r->fd = m->cm_fd;
	return 0;
}

static int on_cfg_vcpu(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_cfg_vcpu *m = msg;

	if (c->have_cfg || m->cv_nvcpus == 0 || m->cv_nvcpus > VCPU_MAX ||
	    (m->cv_entry_mode != IPC_ENTRY_LINUX64 && m->cv_entry_mode != IPC_ENTRY_PVH32) ||
	    !fd_open(m->cv_kvm_fd) || !ipc_str_ok(m->cv_name, sizeof(m->cv_name)))
		return -EPROTO;
	c->vm.cfg = *m;
	c->vm.kvm_fd = m->cv_kvm_fd;
	c->have_cfg = 1;
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

/* Map a virtio device's register shadow read-only (exits.c reads it). */
static int shadow_map(struct dev_chan *d, const struct ipc_cfg_vcpu_dev *m)
{
	void *p;

	if (!(m->cd_flags & IPC_VCPU_DEV_F_SHADOW))
		return 0;
	if (m->cd_space != IPC_SPACE_MMIO || !fd_open(m->cd_shadow_fd) ||
	    mem_check_fd(m->cd_shadow_fd, IPC_SHADOW_SIZE) < 0)
		return -EPROTO;
	p = mmap(NULL, IPC_SHADOW_SIZE, PROT_READ, MAP_SHARED, m->cd_shadow_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	d->shadow = p;
	return 0;
}

static int on_cfg_vcpu_dev(void *arg, const void *msg)
{
	struct ctx *c = arg;
	const struct ipc_cfg_vcpu_dev *m = msg;
	struct dev_chan *d;
	int err;

	if (c->vm.ndevs >= IPC_MAX_DEVICES || !ipc_str_ok(m->cd_name, sizeof(m->cd_name)) ||
	    !dev_window_ok(m) || dev_overlaps(&c->vm, m) || m->cd_gsi >= LAYOUT_IOAPIC_PINS ||
	    !fd_open(m->cd_chan_fd) || (m->cd_irq_fd != IPC_FD_NONE && !fd_open(m->cd_irq_fd)) ||
	    m->cd_nqueues > IPC_MAX_QUEUES)
		return -EPROTO;
	if (m->cd_nqueues && (m->cd_notify_off > m->cd_len || m->cd_len - m->cd_notify_off < 4))
		return -EPROTO;
	if (m->cd_flags & ~(uint32_t)IPC_VCPU_DEV_F_SHADOW)
		return -EPROTO;
	for (uint32_t q = 0; q < m->cd_nqueues; q++) {
		if (!fd_open(m->cd_queue_fd[q]))
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
	pthread_mutex_init(&d->lock, NULL);
	return 0;
}

/* Every fd this process holds is below this: vCPU fds, devices' fds, memfds. */
static unsigned int vcpu_nofile(const struct vm *vm)
{
	return 64 + vm->cfg.cv_nvcpus + 8 * IPC_MAX_DEVICES;
}

static int on_cfg_jail(void *arg, const void *msg)
{
	struct ctx *c = arg;
	struct jail_config jc;

	if (c->jail.h.ih_type || jail_from_ipc(msg, &jc, 64) < 0)
		return -EPROTO;
	memcpy(&c->jail, msg, sizeof(c->jail));
	return 0;
}

static int jail_failed(struct ctx *c, int e, const char *err)
{
	log_warnx("%s", err);
	ipc_send_error(IPC_FD_CONTROL, -e, "%s", err);
	c->reported = 1;
	return e;
}

/* The seccomp filter (every thread, through TSYNC): embedded, or from --seccomp-policy-dir. */
static int vcpu_seccomp(struct ctx *c, char *err, size_t errlen)
{
	struct policy_binding b[4 + IPC_MAX_DEVICES];
	size_t n = 0;

	b[n++] = (struct policy_binding){ "CONTROL_FD", IPC_FD_CONTROL };
	b[n++] = (struct policy_binding){ "EXIT_FD", (uint64_t)c->vm.exit_evfd };
	b[n++] = (struct policy_binding){ "PID", (uint64_t)getpid() };
	for (unsigned int i = 0; i < c->vm.ndevs; i++)
		b[n++] = (struct policy_binding){ "CHAN_FD", (uint64_t)c->vm.devs[i].fd };
	return policy_load_from("vcpu", c->jail.cj_policy_fd, c->jail.cj_include_fd, b, n,
				(enum policy_mode)c->jail.cj_seccomp, err, errlen);
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
	struct jail_config jc;
	char err[IPC_TEXT_MAX];
	int e;

	if (jail_from_ipc(&c->jail, &jc, vcpu_nofile(&c->vm)) < 0)
		return -EPROTO;
	jc.keep_nproc = 1; /* see jail.h: KVM_RUN needs to start a worker task */
	e = vm_create(&c->vm);
	if (e == 0)
		e = cpu_create_all(&c->vm);
	if (e < 0)
		return e;
	e = jail_enter_fs(&jc, err, sizeof(err));
	if (e < 0)
		return jail_failed(c, e, err);
	e = vm_create_slots(&c->vm);
	if (e == 0)
		e = cpu_create_threads(&c->vm);
	if (e < 0)
		return e;
	c->state = ST_READY; /* threads exist: they must be stopped on the way out */
	e = jail_enter_creds(&jc, err, sizeof(err));
	if (e == 0)
		e = vcpu_seccomp(c, err, sizeof(err));
	if (e < 0)
		return jail_failed(c, e, err);
	return 0;
}

static int send_simple(enum ipc_type type)
{
	struct ipc_empty m;

	ipc_init(&m, type, sizeof(m));
	return ipc_send(IPC_FD_CONTROL, &m);
}

static int on_cfg_done(void *arg, const void *msg)
{
	struct ctx *c = arg;
	int err;

	(void)msg;
	if (!c->have_cfg || c->vm.mem.nregions == 0 || !c->jail.h.ih_type)
		return -EPROTO;
	err = build_and_lock_down(c);
	if (err < 0)
		return err;
	err = send_simple(IPC_READY);
	if (err < 0)
		return err;
	c->state = ST_READY;
	return 0;
}

static int on_start(void *arg, const void *msg)
{
	struct ctx *c = arg;

	(void)msg;
	cpu_go(&c->vm);
	c->state = ST_RUN;
	return 0;
}

static int on_stop(void *arg, const void *msg)
{
	struct ctx *c = arg;

	(void)msg;
	c->done = 1;
	return 0;
}

static const struct ipc_handler control_table[] = {
	{ IPC_CFG_MEM, sizeof(struct ipc_cfg_mem), ST_BOOT, on_cfg_mem },
	{ IPC_CFG_VCPU, sizeof(struct ipc_cfg_vcpu), ST_BOOT, on_cfg_vcpu },
	{ IPC_CFG_VCPU_DEV, sizeof(struct ipc_cfg_vcpu_dev), ST_BOOT, on_cfg_vcpu_dev },
	{ IPC_CFG_JAIL, sizeof(struct ipc_cfg_jail), ST_BOOT, on_cfg_jail },
	{ IPC_CFG_DONE, sizeof(struct ipc_empty), ST_BOOT, on_cfg_done },
	{ IPC_START, sizeof(struct ipc_empty), ST_READY, on_start },
	{ IPC_STOP, sizeof(struct ipc_empty), ST_BOOT | ST_READY | ST_RUN, on_stop },
};

static void report_error(int err, const char *what)
{
	ipc_send_error(IPC_FD_CONTROL, err, "%s: %s", what, strerror(err));
}

/* One control message; returns -errno when the channel or the message is bad. */
static int control_read(struct ctx *c)
{
	char buf[IPC_MAX_MSG];
	ssize_t n = ipc_recv(IPC_FD_CONTROL, buf);

	if (n == 0) {
		c->done = 1; /* the supervisor is gone */
		return 0;
	}
	if (n < 0)
		return (int)n;
	return ipc_dispatch(control_table, nitems(control_table), buf, (size_t)n, c->state, c);
}

static int report_exit(struct ctx *c)
{
	uint64_t v;

	(void)!read(c->vm.exit_evfd, &v, sizeof(v));
	c->done = 1;
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
	while (!err && !c->done) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		for (int i = 0; i < n && !err && !c->done; i++) {
			if (evs[i].data.fd == c->vm.exit_evfd)
				err = report_exit(c);
			else
				err = control_read(c);
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
	log_init(argv[0] && argv[0][0] ? argv[0] : "bulkhead-vcpu");
	c.state = ST_BOOT;
	c.vm.kvm_fd = -1;
	c.vm.vm_fd = -1;
	for (unsigned int i = 0; i < LAYOUT_MAX_MEM_REGIONS; i++)
		c.vm.mem.regions[i].fd = -1;
	pthread_mutex_init(&c.vm.exit_lock, NULL);
	c.vm.exit_evfd = eventfd(0, EFD_CLOEXEC);
	if (c.vm.exit_evfd < 0)
		fatal("eventfd");
	err = main_loop(&c);
	if (c.state != ST_BOOT)
		cpu_stop_all(&c.vm);
	if (err < 0) {
		errno = -err;
		log_warn("stopping");
		if (!c.reported)
			report_error(-err,
				     err == -EPROTO ? "protocol error on the control channel" : "vcpu");
	}
	vm_destroy(&c.vm);
	return err < 0 ? 1 : 0;
}
