/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "jail/jail.h"

void runtime_init(struct runtime *rt, const char *name, const char *policy, int wants_mem)
{
	memset(rt, 0, sizeof(*rt));
	log_init(name);
	rt->policy = policy;
	rt->state = RUNTIME_ST_BOOT;
	rt->wants_mem = wants_mem;
	rt->share_fd = -1;
	for (unsigned int i = 0; i < LAYOUT_MAX_MEM_REGIONS; i++)
		rt->mem.regions[i].fd = -1;
	rt->bind[rt->nbind++] = (struct policy_binding){ "CONTROL_FD", IPC_FD_CONTROL };
}

int runtime_fd_ok(int32_t fd)
{
	return ipc_fd_ok(fd) && fcntl(fd, F_GETFD) >= 0;
}

int runtime_fd_ok_or_none(int32_t fd)
{
	return fd == IPC_FD_NONE || runtime_fd_ok(fd);
}

int runtime_bind(struct runtime *rt, const char *name, int64_t value)
{
	if (rt->nbind >= nitems(rt->bind))
		return -ENOSPC;
	rt->bind[rt->nbind++] = (struct policy_binding){ name, (uint64_t)value };
	return 0;
}

int32_t runtime_msg_fd(const void *msg, const struct ipc_fd_field *f)
{
	int32_t fd;

	memcpy(&fd, (const char *)msg + f->off, sizeof(fd));
	return fd;
}

int runtime_bind_fds(struct runtime *rt, const void *msg, const struct ipc_fd_field *fds,
		     size_t nfds)
{
	for (size_t i = 0; i < nfds; i++) {
		int32_t fd = runtime_msg_fd(msg, &fds[i]);

		if (fds[i].optional ? !runtime_fd_ok_or_none(fd) : !runtime_fd_ok(fd))
			return -EPROTO;
	}
	for (size_t i = 0; i < nfds; i++) {
		if (runtime_bind(rt, fds[i].name, runtime_msg_fd(msg, &fds[i])) < 0)
			return -EPROTO;
	}
	return 0;
}

/* Regions come in order: low RAM from 0, then RAM above the MMIO hole. */
static int on_cfg_mem(void *arg, const void *msg)
{
	struct runtime *rt = arg;
	const struct ipc_cfg_mem *m = msg;
	struct guest_mem *mem = &rt->mem;
	struct mem_region *r;

	if (!rt->wants_mem || m->cm_index != mem->nregions || m->cm_index >= LAYOUT_MAX_MEM_REGIONS ||
	    m->cm_gpa % 4096 || m->cm_size == 0 || m->cm_size % 4096 || !runtime_fd_ok(m->cm_fd))
		return -EPROTO;
	if (m->cm_gpa != (m->cm_index == 0 ? 0 : LAYOUT_HIGH_RAM_START))
		return -EPROTO;
	if (m->cm_index == 0 && m->cm_size > LAYOUT_LOW_RAM_END)
		return -EPROTO;
	if (mem_check_fd(m->cm_fd, m->cm_size) < 0) {
		log_warnx("memory region %u: not a sealed memfd of the announced size", m->cm_index);
		return -EPROTO;
	}
	r = &mem->regions[mem->nregions++];
	r->gpa = m->cm_gpa;
	r->size = m->cm_size;
	r->fd = m->cm_fd;
	return 0;
}

/* The jail is checked with the tightest fd limit; the real one is set at lockdown. */
static int on_cfg_jail(void *arg, const void *msg)
{
	struct runtime *rt = arg;
	struct jail_config jc;

	if (rt->jail.h.ih_type || jail_from_ipc(msg, &jc, 64) < 0)
		return -EPROTO;
	memcpy(&rt->jail, msg, sizeof(rt->jail));
	return 0;
}

static int on_stop(void *arg, const void *msg)
{
	struct runtime *rt = arg;

	(void)msg;
	rt->done = 1;
	return 0;
}

static const struct ipc_handler runtime_table[] = {
	{ IPC_CFG_MEM, sizeof(struct ipc_cfg_mem), RUNTIME_ST_BOOT, on_cfg_mem },
	{ IPC_CFG_JAIL, sizeof(struct ipc_cfg_jail), RUNTIME_ST_BOOT, on_cfg_jail },
	{ IPC_STOP, sizeof(struct ipc_empty), ~0u, on_stop },
};

void runtime_accept_fd(struct runtime *rt, uint16_t type)
{
	rt->fd_type = type;
}

size_t runtime_take_fds(struct runtime *rt, int *out, size_t max)
{
	size_t n = rt->nrx_fds <= max ? rt->nrx_fds : 0;

	memcpy(out, rt->rx_fds, n * sizeof(int));
	rt->nrx_fds -= n;
	return n;
}

int runtime_take_fd(struct runtime *rt)
{
	int fd;

	return runtime_take_fds(rt, &fd, 1) == 1 ? fd : -1;
}

int runtime_control(struct runtime *rt, const struct ipc_handler *table, size_t n, void *ctx)
{
	_Alignas(8) char buf[IPC_MAX_MSG];
	ssize_t len = ipc_recv_fds(IPC_FD_CONTROL, buf, rt->fd_type, rt->rx_fds,
				   rt->fd_type ? IPC_MAX_FDS : 0, &rt->nrx_fds);
	int err;

	if (len == 0) {
		rt->done = 1; /* the supervisor is gone */
		return 0;
	}
	if (len < 0)
		return len == -EAGAIN ? 0 : (int)len;
	if (ipc_check(runtime_table, nitems(runtime_table), buf, (size_t)len, rt->state))
		err = ipc_dispatch(runtime_table, nitems(runtime_table), buf, (size_t)len, rt->state,
				   rt);
	else
		err = ipc_dispatch(table, n, buf, (size_t)len, rt->state, ctx);
	for (size_t i = 0; i < rt->nrx_fds; i++)
		close(rt->rx_fds[i]); /* its handler did not take it */
	rt->nrx_fds = 0;
	return err;
}

int runtime_configured(const struct runtime *rt)
{
	return rt->jail.h.ih_type && (!rt->wants_mem || rt->mem.nregions > 0);
}

int runtime_map_mem(struct runtime *rt)
{
	return mem_map(&rt->mem);
}

void *runtime_map_page(int fd, size_t size, int prot)
{
	void *p;

	if (mem_check_fd(fd, size) < 0) {
		errno = EPROTO;
		return NULL;
	}
	p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void *runtime_map_shadow(int fd, int prot)
{
	return runtime_map_page(fd, IPC_SHADOW_SIZE, prot);
}

static int jail_config(const struct runtime *rt, unsigned int nofile, int keep_nproc,
		       struct jail_config *jc)
{
	if (jail_from_ipc(&rt->jail, jc, nofile) < 0)
		return -EPROTO;
	jc->keep_nproc = keep_nproc;
	jc->share = rt->share_fd >= 0;
	jc->share_fd = rt->share_fd;
	jc->share_readonly = rt->share_readonly;
	return 0;
}

static int lockdown_failed(struct runtime *rt, int e, const char *err)
{
	log_warnx("%s", err);
	ipc_send_error(IPC_FD_CONTROL, -e, "%s", err);
	rt->reported = 1;
	return e;
}

int runtime_jail_fs(struct runtime *rt, unsigned int nofile)
{
	struct jail_config jc;
	char err[IPC_TEXT_MAX];
	int e = jail_config(rt, nofile, 0, &jc);

	if (e == 0 && (e = jail_enter_fs(&jc, err, sizeof(err))) < 0)
		return lockdown_failed(rt, e, err);
	return e;
}

int runtime_jail_creds(struct runtime *rt, unsigned int nofile, int keep_nproc)
{
	struct jail_config jc;
	char err[IPC_TEXT_MAX];
	int e = jail_config(rt, nofile, keep_nproc, &jc);

	if (e == 0 && (e = jail_enter_creds(&jc, err, sizeof(err))) < 0)
		return lockdown_failed(rt, e, err);
	return e;
}

int runtime_seccomp(struct runtime *rt)
{
	char err[IPC_TEXT_MAX];
	int e = policy_load_from(rt->policy, rt->jail.cj_policy_fd, rt->jail.cj_include_fd, rt->bind,
				 rt->nbind, (enum policy_mode)rt->jail.cj_seccomp, err, sizeof(err));

	return e < 0 ? lockdown_failed(rt, e, err) : 0;
}

int runtime_lockdown(struct runtime *rt, unsigned int nofile)
{
	int e = runtime_jail_fs(rt, nofile);

	if (e == 0)
		e = runtime_jail_creds(rt, nofile, 0);
	if (e == 0)
		e = runtime_seccomp(rt);
	return e;
}

int runtime_send(enum ipc_type type)
{
	struct ipc_empty m;

	ipc_init(&m, type, sizeof(m));
	return ipc_send(IPC_FD_CONTROL, &m);
}

void runtime_fail(struct runtime *rt, int err, const char *what)
{
	if (rt->reported)
		return;
	rt->reported = 1;
	ipc_send_error(IPC_FD_CONTROL, -err, "%s: %s", what, strerror(-err));
}
