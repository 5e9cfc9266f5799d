/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building the process tree of one VM: each device's instance (its kind's
 * host resources and window), the channels and eventfds that join the
 * children, the fds each child gets, and the configuration messages each
 * receives before it answers READY. Nothing here knows a device model: it
 * loops over the instances, and their kinds (kinds/) say what differs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "common/layout.h"
#include "common/log.h"
#include "mem/mem.h"
#include "supervisor.h"
#include "testhooks/testhooks.h"

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Place the instance's window: a fixed one, or the next virtio-mmio window and GSI. */
static void place_window(struct sup *s, struct dev_inst *d, unsigned int *nwindows)
{
	const struct dev_transport *t = d->kind->transport;
	size_t len;

	if (!t)
		return;
	d->len = t->len;
	d->base = t->base;
	d->gsi = t->gsi;
	if (!t->announce)
		return;
	d->base = LAYOUT_VIRTIO_MMIO_BASE + *nwindows * LAYOUT_VIRTIO_MMIO_SIZE;
	d->gsi = LAYOUT_VIRTIO_GSI_BASE + *nwindows;
	(*nwindows)++;
	len = strlen(s->cmdline);
	snprintf(s->cmdline + len, sizeof(s->cmdline) - len, "%svirtio_mmio.device=4K@0x%llx:%u",
		 len ? " " : "", (unsigned long long)d->base, d->gsi);
}

static void inst_init(struct dev_inst *d, const struct dev_config *c, unsigned int index)
{
	memset(d, 0, sizeof(*d));
	d->kind = c->kind;
	d->opts = c->opts;
	d->index = index;
	if (c->kind->max == 1)
		snprintf(d->name, sizeof(d->name), "%s", c->kind->helper);
	else
		snprintf(d->name, sizeof(d->name), "%s%u", c->kind->helper, index);
}

int vm_open_devices(struct sup *s, char *err, size_t errlen)
{
	unsigned int nwindows = 0;

	snprintf(s->cmdline, sizeof(s->cmdline), "%s", s->cfg.cmdline);
	for (size_t k = 0; k < kinds_count; k++) {
		unsigned int index = 0;

		for (unsigned int i = 0; i < s->cfg.ndevs; i++) {
			const struct dev_config *c = &s->cfg.devs[i];
			struct dev_inst *d = &s->devs[s->ndevs];

			if (c->kind != kinds_table[k])
				continue;
			if (s->ndevs >= LAYOUT_MAX_DEVICES) {
				snprintf(err, errlen, "--%s: at most %d devices in all", c->kind->option,
					 LAYOUT_MAX_DEVICES);
				return -1;
			}
			inst_init(d, c, index++);
			if (c->kind->open(d, err, errlen) < 0) {
				kinds_close(d);
				return -1;
			}
			s->ndevs++;
			place_window(s, d, &nwindows);
		}
	}
	return 0;
}

void vm_close_devices(struct sup *s)
{
	for (unsigned int i = 0; i < s->ndevs; i++)
		kinds_close(&s->devs[i]);
}

/* The counters a device keeps in its shadow page, for the API: read-only here. */
static int link_map_counters(struct dev_link *l)
{
	void *p = mmap(NULL, IPC_SHADOW_SIZE, PROT_READ, MAP_SHARED, l->shadow_fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	l->counters = (const struct ipc_counters *)(const void *)((const char *)p + IPC_COUNTERS_OFF);
	return 0;
}

/* A link with nothing in it: what every device has until link_create, and keeps without a
 * window (0 would be stdin to link_close). */
static const struct dev_link link_none = { .irq_fd = -1, .shadow_fd = -1, .state_fd = -1 };

/*
 * What outlives the device's processes: its eventfds, its shadow, its state
 * page. A kind without a register window has none of them.
 */
static int link_create(struct sup *s, struct dev_link *l, const struct dev_inst *d)
{
	int err;

	*l = link_none;
	if (!d->kind->transport)
		return 0;
	if (d->kind->transport->shadow) {
		l->shadow_fd = mem_create_sealed("bulkhead-shadow", IPC_SHADOW_SIZE);
		if (l->shadow_fd < 0)
			return l->shadow_fd;
		if (s->api_page && (err = link_map_counters(l)) < 0)
			return err;
	}
	if (s->cfg.restart) {
		l->state_fd = mem_create_sealed("bulkhead-state", IPC_STATE_SIZE);
		if (l->state_fd < 0)
			return l->state_fd;
	}
	l->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->irq_fd < 0)
		return -errno;
	for (; l->nqueues < d->kind->nqueues && l->nqueues < IPC_MAX_QUEUES; l->nqueues++) {
		l->queue_fd[l->nqueues] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (l->queue_fd[l->nqueues] < 0)
			return -errno;
	}
	return 0;
}

static void link_close(struct dev_link *l)
{
	if (l->counters)
		munmap((void *)((uintptr_t)l->counters - IPC_COUNTERS_OFF), IPC_SHADOW_SIZE);
	l->counters = NULL;
	close_fd(&l->irq_fd);
	close_fd(&l->shadow_fd);
	close_fd(&l->state_fd);
	for (unsigned int q = 0; q < l->nqueues; q++)
		close_fd(&l->queue_fd[q]);
	l->nqueues = 0;
}

void vm_close_links(struct sup *s)
{
	for (unsigned int i = 0; i < s->ndevs; i++)
		link_close(&s->links[i]);
}

/* A device's channel to the vcpu process, new for each of its processes. */
static int chan_create(int chan[2])
{
	chan[0] = chan[1] = -1;
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, chan) < 0 ? -errno
												 : 0;
}

static struct child *child_new(struct sup *s, const char *name)
{
	struct child *c;

	if (s->nchildren >= SUP_MAX_CHILDREN)
		return NULL;
	c = &s->children[s->nchildren++];
	memset(c, 0, sizeof(*c));
	c->ctl = c->pidfd = c->stat_fd = c->smaps_fd = -1;
	c->exited = 1; /* until spawned: the main loop waits for no process that never was */
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->title, sizeof(c->title), "bulkhead/%s/%s", s->cfg.name, name);
	return c;
}

/* --seccomp-policy-dir: the child reads its policy from these instead of its own copy. */
static int policy_dir_fds(struct sup *s, const char *helper, struct child *c, struct fd_map *m)
{
	char path[PATH_MAX + 64];
	int fd, inc;

	c->policy_fd = c->include_fd = IPC_FD_NONE;
	if (!s->cfg.policy_dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/%s.policy", s->cfg.policy_dir, helper);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("--seccomp-policy-dir: %s", path);
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/common.policy", s->cfg.policy_dir);
	inc = open(path, O_RDONLY | O_CLOEXEC);
	if (inc < 0) {
		log_warn("--seccomp-policy-dir: %s", path);
		close(fd);
		return -errno;
	}
	c->policy_fd = fdmap_add(m, fd);
	c->include_fd = fdmap_add(m, inc);
	/* The child has its copies after spawn; these go when the map is done with. */
	s->policy_fds[s->npolicy_fds++] = fd;
	s->policy_fds[s->npolicy_fds++] = inc;
	return 0;
}

/* Spawn the helper; the control socket's child end lives only in the child. flags: the
 * caller's SPAWN_WAIT_EXEC (return once it has exec'd: its /proc files are then its own)
 * and SPAWN_REPLACEMENT. */
static int child_spawn(struct sup *s, struct child *c, const char *helper, struct fd_map *m,
		       unsigned int flags)
{
	char exe[PATH_MAX];
	int sv[2];
	int err;

	c->exited = 1; /* until it exists */
	err = policy_dir_fds(s, helper, c, m);
	if (err < 0)
		return err;
	err = helper_path(helper, exe, sizeof(exe));
	if (err < 0) {
		errno = -err;
		log_warn("bulkhead-%s", helper);
		return err;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* A replacement (from the spawner) is the supervisor's child, and its /proc files
	 * are opened once it has exec'd. A clone refused for an unprobed jail is main's
	 * to explain (jailplan_recheck). */
	if (s->jail_unprobed && !s->in_spawner)
		flags |= SPAWN_QUIET;
	err = spawn_child(c, exe, sv[1], m,
			  s->spawn_flags | (s->in_spawner ? SPAWN_SIBLING | SPAWN_WAIT_EXEC : 0) | flags);
	close(sv[1]);
	if (err < 0) {
		close(sv[0]);
		if (flags & SPAWN_QUIET) {
			s->jail_failed = 1;
			snprintf(s->jail_spawn_error, sizeof(s->jail_spawn_error), "spawn %s: clone: %s",
				 c->name, strerror(-err));
			return err;
		}
		errno = -err;
		log_warn("spawn %s", c->name);
		return err;
	}
	c->exited = 0;
	c->ctl = sv[0];
	log_debug("started %s, pid %d", c->name, (int)c->pid);
	if (fcntl(c->ctl, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* The jail settings, then the end of the configuration. */
static int send_done(struct sup *s, struct child *c)
{
	struct ipc_cfg_jail j;
	struct ipc_empty m;
	int err;

	ipc_init(&j, IPC_CFG_JAIL, sizeof(j));
	j.cj_mode = (uint32_t)s->cfg.jail_mode;
	j.cj_uid = s->cfg.jail_uid;
	j.cj_gid = s->cfg.jail_gid;
	j.cj_flags = (s->spawn_flags & SPAWN_NEWUSER) ? IPC_JAIL_F_USERNS : 0;
	j.cj_seccomp = (uint32_t)s->cfg.seccomp_mode;
	j.cj_policy_fd = c->policy_fd;
	j.cj_include_fd = c->include_fd;
	err = ipc_send(c->ctl, &j);
	if (err < 0)
		return err;
	ipc_init(&m, IPC_CFG_DONE, sizeof(m));
	return ipc_send(c->ctl, &m);
}

static int send_mem_config(struct sup *s, struct child *c, const int *mem_fds)
{
	int err = 0;

	for (unsigned int i = 0; i < s->mem.nregions && err == 0; i++) {
		struct ipc_cfg_mem m;

		ipc_init(&m, IPC_CFG_MEM, sizeof(m));
		m.cm_gpa = s->mem.regions[i].gpa;
		m.cm_size = s->mem.regions[i].size;
		m.cm_fd = mem_fds[i];
		m.cm_index = i;
		err = ipc_send(c->ctl, &m);
	}
	return err;
}

static void map_mem(struct sup *s, struct fd_map *map, int *mem_fds)
{
	for (unsigned int i = 0; i < s->mem.nregions; i++)
		mem_fds[i] = fdmap_add(map, s->mem.regions[i].fd);
}

/* The generic part of a device's configuration: identity, window, channel, queues. */
static void device_msg(const struct sup *s, const struct dev_inst *d, const struct dev_link *l,
		       int chan, int restore, struct fd_map *map, struct ipc_cfg_device *m)
{
	ipc_init(m, IPC_CFG_DEVICE, sizeof(*m));
	snprintf(m->cd_name, sizeof(m->cd_name), "%s", d->name);
	m->cd_kind = d->kind->ipc_kind;
	m->cd_flags = s->cfg.verbose ? IPC_DEV_F_VERBOSE : 0;
	m->cd_chan_fd = fdmap_add(map, chan);
	m->cd_irq_fd = fdmap_add(map, l->irq_fd);
	m->cd_base = d->base;
	m->cd_nqueues = l->nqueues;
	for (unsigned int q = 0; q < l->nqueues; q++)
		m->cd_queue_fd[q] = fdmap_add(map, l->queue_fd[q]);
	m->cd_shadow_fd = IPC_FD_NONE;
	if (l->shadow_fd >= 0) {
		m->cd_flags |= IPC_DEV_F_SHADOW;
		m->cd_shadow_fd = fdmap_add(map, l->shadow_fd);
	}
	m->cd_state_fd = IPC_FD_NONE;
	if (l->state_fd >= 0 && d->kind->restartable) {
		m->cd_flags |= IPC_DEV_F_STATE | (restore ? IPC_DEV_F_RESTORE : 0);
		m->cd_state_fd = fdmap_add(map, l->state_fd);
	}
}

/* The kind's own message, with its fds at their numbers in the child. */
static void kind_msg(const struct dev_inst *d, struct fd_map *map, struct dev_inst *out)
{
	*out = *d;
	for (size_t i = 0; i < d->kind->nfds; i++) {
		int fd = kinds_msg_fd(d, i);

		kinds_set_msg_fd(out, i, fd < 0 ? IPC_FD_NONE : fdmap_add(map, fd));
	}
}

/* Start a process for device i on channel chan (its end), as its first or a replacement. */
static int start_device(struct sup *s, struct child *c, unsigned int i, int chan, int restore)
{
	const struct dev_inst *d = &s->devs[i];
	int mem_fds[LAYOUT_MAX_MEM_REGIONS];
	struct ipc_cfg_device m;
	struct dev_inst placed;
	struct fd_map map;
	int err;

	c->dev = (int)i;
	fdmap_init(&map);
	if (d->kind->uses_guest_memory)
		map_mem(s, &map, mem_fds);
	if (d->kind->transport)
		device_msg(s, d, &s->links[i], chan, restore, &map, &m);
	kind_msg(d, &map, &placed);
	/* An expendable process's /proc files are opened now: the VM does not wait for its READY. */
	err = child_spawn(s, c, d->kind->helper, &map,
			  (d->kind->expendable && s->api_page ? SPAWN_WAIT_EXEC : 0) |
				  (restore ? SPAWN_REPLACEMENT : 0));
	if (err == 0 && d->kind->expendable)
		control_proc_open(s, c);
	if (err == 0 && d->kind->uses_guest_memory)
		err = send_mem_config(s, c, mem_fds);
	if (err == 0 && d->kind->transport)
		err = ipc_send(c->ctl, &m);
	if (err == 0)
		err = ipc_send(c->ctl, &placed.msg);
	if (err == 0)
		err = send_done(s, c);
	/* A replacement the spawner waited for (SPAWN_WAIT_EXEC) can be killed before it has
	 * read its configuration: a failure of the device, which its pidfd reports to the
	 * supervisor and the restart cap counts, not one of the spawner's. */
	if (err == -EPIPE && s->in_spawner && c->pidfd >= 0)
		err = 0;
	return err;
}

static int send_vcpu_config(struct sup *s, struct child *c, const int *mem_fds, int kvm_fd,
			    int cpuid_fd)
{
	struct ipc_cfg_vcpu v;
	int err = send_mem_config(s, c, mem_fds);

	ipc_init(&v, IPC_CFG_VCPU, sizeof(v));
	v.cv_nvcpus = s->cfg.nvcpus;
	v.cv_entry_mode = s->boot.entry_mode == LOADER_ENTRY_PVH32 ? IPC_ENTRY_PVH32
								   : IPC_ENTRY_LINUX64;
	v.cv_entry = s->boot.entry;
	v.cv_boot_info = s->boot.boot_info;
	v.cv_cr3 = s->boot.cr3;
	v.cv_stack = s->boot.stack;
	v.cv_gdt_base = s->boot.gdt_base;
	v.cv_launch_ns = s->launch_ns;
	v.cv_kvm_fd = kvm_fd;
	v.cv_cpuid_fd = cpuid_fd;
	v.cv_flags = (s->cfg.verbose ? IPC_VCPU_F_VERBOSE : 0) | (s->cfg.pit ? 0 : IPC_VCPU_F_NO_PIT) |
		     (s->cfg.irqchip == CONFIG_IRQCHIP_SPLIT ? IPC_VCPU_F_SPLIT_IRQCHIP : 0) |
		     (s->cfg.debug_exit ? 0 : IPC_VCPU_F_NO_DEBUG_EXIT) |
		     (s->cfg.restart ? IPC_VCPU_F_RESTART : 0);
	v.cv_deadline_ms = s->deadline_ms;
	snprintf(v.cv_name, sizeof(v.cv_name), "%s", s->cfg.name);
	if (err == 0)
		err = ipc_send(c->ctl, &v);
	return err;
}

/* The vcpu process's view of one device: window, GSI, channel, irqfd, ioeventfds, and
 * what its transport declares about synchronous writes and its shadow. */
static void vcpu_dev_msg(struct ipc_cfg_vcpu_dev *m, struct fd_map *map, const struct dev_inst *d,
			 const struct dev_link *l, int chan)
{
	const struct dev_transport *t = d->kind->transport;

	ipc_init(m, IPC_CFG_VCPU_DEV, sizeof(*m));
	snprintf(m->cd_name, sizeof(m->cd_name), "%s", d->name);
	m->cd_space = t->space;
	m->cd_gsi = d->gsi;
	m->cd_base = d->base;
	m->cd_len = d->len;
	m->cd_chan_fd = fdmap_add(map, chan);
	m->cd_irq_fd = fdmap_add(map, l->irq_fd);
	m->cd_nqueues = l->nqueues;
	m->cd_notify_off = l->nqueues ? t->notify_off : 0;
	for (unsigned int q = 0; q < l->nqueues; q++)
		m->cd_queue_fd[q] = fdmap_add(map, l->queue_fd[q]);
	m->cd_nsync = t->nsync;
	memcpy(m->cd_sync_off, t->sync_off, sizeof(m->cd_sync_off));
	m->cd_shadow_fd = IPC_FD_NONE;
	if (l->shadow_fd >= 0 && !testhook_no_shadow()) {
		m->cd_flags |= IPC_VCPU_DEV_F_SHADOW;
		m->cd_shadow_fd = fdmap_add(map, l->shadow_fd);
		m->cd_shadow_width = t->shadow_width;
		m->cd_shadow_regs = t->shadow_regs;
		m->cd_shadow_config_off = t->shadow_config_off;
	}
}

/*
 * KVM_GET_SUPPORTED_CPUID's table into the vcpu process's memfd fd, asked
 * while that process execs: KVM runs CPUID for each leaf (0.4 ms here), which
 * would otherwise come between its exec and the guest's start. 0 or -errno.
 */
static int write_supported_cpuid(int kvm_fd, int fd)
{
	size_t sz = sizeof(struct kvm_cpuid2) + IPC_CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *t = calloc(1, sz);
	ssize_t n;
	int err = 0;

	if (!t)
		return -ENOMEM;
	t->nent = IPC_CPUID_MAX;
	if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, t) < 0) {
		err = -errno;
		log_warn("KVM_GET_SUPPORTED_CPUID");
	} else {
		sz = sizeof(*t) + t->nent * sizeof(t->entries[0]);
		n = pwrite(fd, t, sz, 0);
		if (n != (ssize_t)sz)
			err = n < 0 ? -errno : -EIO;
	}
	free(t);
	return err;
}

static int start_vcpu(struct sup *s, const int *chans)
{
	struct child *c = child_new(s, "vcpu");
	int cpuid_memfd = memfd_create("cpuid", MFD_CLOEXEC);
	struct ipc_cfg_vcpu_dev devs[LAYOUT_MAX_DEVICES];
	int mem_fds[LAYOUT_MAX_MEM_REGIONS];
	struct ipc_cfg_vcpu_irq irq;
	unsigned int ndevs = 0;
	struct fd_map map;
	int kvm_fd, cpuid_fd;
	int err;

	if (!c || cpuid_memfd < 0) {
		err = !c ? -ENOSPC : -errno;
		close_fd(&cpuid_memfd);
		return err;
	}
	c->is_vcpu = 1;
	c->dev = -1;
	fdmap_init(&map);
	kvm_fd = fdmap_add(&map, s->kvm_fd);
	map_mem(s, &map, mem_fds);
	for (unsigned int i = 0; i < s->ndevs; i++) {
		if (s->devs[i].kind->transport)
			vcpu_dev_msg(&devs[ndevs++], &map, &s->devs[i], &s->links[i], chans[i]);
	}
	/* The power button's line, after the devices (whose GSIs it must not share). */
	ipc_init(&irq, IPC_CFG_VCPU_IRQ, sizeof(irq));
	irq.ci_gsi = LAYOUT_GED_GSI;
	if (s->power_fd >= 0)
		irq.ci_fd = fdmap_add(&map, s->power_fd);
	/* Last: the process closes it once read, and its number goes to the first fd it makes. */
	cpuid_fd = fdmap_add(&map, cpuid_memfd);
	/* a full map would hand the process no table, which it refuses as a protocol error */
	err = cpuid_fd < 0 ? -EMFILE : child_spawn(s, c, "vcpu", &map, 0);
	if (err == 0)
		err = send_vcpu_config(s, c, mem_fds, kvm_fd, cpuid_fd);
	for (unsigned int i = 0; err == 0 && i < ndevs; i++)
		err = ipc_send(c->ctl, &devs[i]);
	if (err == 0 && s->power_fd >= 0)
		err = ipc_send(c->ctl, &irq);
	if (err == 0)
		err = write_supported_cpuid(s->kvm_fd, cpuid_memfd);
	close_fd(&cpuid_memfd);
	if (err == 0)
		err = send_done(s, c);
	return err;
}

/* Device i's first process (with its channel's other end in *vcpu_end, if its kind has one). */
static int start_first(struct sup *s, unsigned int i, int *vcpu_end)
{
	int chan[2] = { -1, -1 };
	struct child *c;
	int err;

	err = link_create(s, &s->links[i], &s->devs[i]);
	if (err == 0 && s->devs[i].kind->transport)
		err = chan_create(chan);
	c = err == 0 ? child_new(s, s->devs[i].name) : NULL;
	if (err == 0 && !c)
		err = -ENOSPC;
	if (err == 0)
		err = start_device(s, c, i, chan[1], 0);
	close_fd(&chan[1]);
	*vcpu_end = chan[0];
	return err;
}

/*
 * Device i's process starts at the first connection to its listening socket
 * (run.c), from the spawner: for now its child has fd numbers (/dev/null) that
 * the lockdown's rules name and its process's will take, as a replacement
 * takes its predecessor's. Its executable is looked for now, so that a broken
 * install fails the start rather than the first client.
 */
static int start_later(struct sup *s, unsigned int i)
{
	struct child *c = child_new(s, s->devs[i].name);
	char exe[PATH_MAX];
	int err;

	if (!c)
		return -ENOSPC;
	c->dev = (int)i;
	c->unstarted = 1;
	err = helper_path(s->devs[i].kind->helper, exe, sizeof(exe));
	if (err < 0) {
		errno = -err;
		log_warn("bulkhead-%s", s->devs[i].kind->helper);
		return err;
	}
	c->ctl = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (c->ctl < 0)
		return -errno;
	if (s->api_page) {
		c->stat_fd = fcntl(c->ctl, F_DUPFD_CLOEXEC, 0);
		c->smaps_fd = fcntl(c->ctl, F_DUPFD_CLOEXEC, 0);
		if (c->stat_fd < 0 || c->smaps_fd < 0)
			return -errno;
	}
	log_debug("%s: starts at the first connection", c->name);
	return 0;
}

/*
 * The devices with a register window, then the vcpu process, then the
 * processes without one (the API's): those the guest needs first, and the
 * rest, which the VM does not wait for, start while it boots, or at their
 * first client.
 */
int vm_start_children(struct sup *s)
{
	int vcpu_end[LAYOUT_MAX_DEVICES];
	int err = 0;

	for (unsigned int i = 0; i < s->ndevs; i++)
		s->links[i] = link_none;
	for (unsigned int i = 0; i < s->ndevs; i++) {
		vcpu_end[i] = -1;
		if (err == 0 && s->devs[i].kind->transport)
			err = start_first(s, i, &vcpu_end[i]);
	}
	if (err == 0)
		err = start_vcpu(s, vcpu_end);
	for (unsigned int i = 0; i < s->ndevs; i++) {
		if (err == 0 && !s->devs[i].kind->transport && kinds_listen_fd(&s->devs[i]) >= 0)
			err = start_later(s, i);
		else if (err == 0 && !s->devs[i].kind->transport)
			err = start_first(s, i, &vcpu_end[i]);
	}
	/* The children hold their channels now; the supervisor keeps none of them. */
	for (unsigned int i = 0; i < s->ndevs; i++)
		close_fd(&vcpu_end[i]);
	close_fd(&s->kvm_fd);
	for (unsigned int i = 0; i < s->npolicy_fds; i++)
		close_fd(&s->policy_fds[i]);
	s->npolicy_fds = 0;
	if (err < 0 && !s->jail_failed) {
		errno = -err;
		log_warn("starting the VM");
	}
	return err;
}

/*
 * The spawner: with --on-device-failure restart or a process that starts at
 * its first client, the supervisor locks itself down as ever, and this
 * process, forked just before, keeps what starting a device takes (the privileges to build its jail, guest memory, every
 * device's eventfds, shadow, state page and host resources). Its only input
 * is the supervisor's SPAWN request on its socket; it answers SPAWNED with
 * the new process's pidfd, the supervisor's end of its control socket and the
 * vcpu process's end of its channel. It takes nothing from the guest or any
 * device, so it needs no filter of its own (and a filter here would bind every
 * device it starts).
 */
static int respawn(struct sup *s, unsigned int i, int first, struct child *c, int *vcpu_end)
{
	int chan[2];
	int err;

	memset(c, 0, sizeof(*c));
	c->ctl = c->pidfd = c->stat_fd = c->smaps_fd = -1;
	chan[0] = chan[1] = -1;
	snprintf(c->name, sizeof(c->name), "%s", s->devs[i].name);
	snprintf(c->title, sizeof(c->title), "bulkhead/%s/%s", s->cfg.name, c->name);
	err = s->devs[i].kind->transport ? chan_create(chan) : 0;
	if (err == 0)
		err = start_device(s, c, i, chan[1], !first);
	close_fd(&chan[1]);
	if (err == 0)
		control_proc_open(s, c);
	for (unsigned int k = 0; k < s->npolicy_fds; k++)
		close_fd(&s->policy_fds[k]);
	s->npolicy_fds = 0;
	if (err < 0) {
		close_fd(&chan[0]);
		close_fd(&c->ctl);
		close_fd(&c->pidfd);
		return err;
	}
	*vcpu_end = chan[0];
	return 0;
}

/* SPAWNED's fds after the pidfd and control end: those that are there, in IPC_SPAWN_FD_* order. */
static size_t spawned_fds(const struct child *c, int vcpu_end, int *fds, uint32_t *which)
{
	size_t n = 0;

	*which = 0;
	fds[n++] = c->pidfd;
	fds[n++] = c->ctl;
	if (c->stat_fd >= 0) {
		fds[n++] = c->stat_fd;
		*which |= IPC_SPAWN_FD_STAT;
	}
	if (c->smaps_fd >= 0) {
		fds[n++] = c->smaps_fd;
		*which |= IPC_SPAWN_FD_SMAPS;
	}
	if (vcpu_end >= 0) {
		fds[n++] = vcpu_end;
		*which |= IPC_SPAWN_FD_CHAN;
	}
	return n;
}

static void spawner_answer(struct sup *s, int fd, const struct ipc_spawn *req)
{
	struct ipc_spawn r;
	struct child c = { .ctl = -1, .pidfd = -1, .stat_fd = -1, .smaps_fd = -1 };
	int vcpu_end = -1, err = -EINVAL;

	ipc_init(&r, IPC_SPAWNED, sizeof(r));
	r.sp_index = req->sp_index;
	if (req->sp_index < s->ndevs && s->devs[req->sp_index].kind->restartable &&
	    !(req->sp_flags & ~IPC_SPAWN_F_FIRST))
		err = respawn(s, req->sp_index, !!(req->sp_flags & IPC_SPAWN_F_FIRST), &c, &vcpu_end);
	r.sp_errno = -err;
	r.sp_pid = err == 0 ? c.pid : 0;
	if (err == 0) {
		int fds[IPC_MAX_FDS];
		size_t n = spawned_fds(&c, vcpu_end, fds, &r.sp_fds);

		err = ipc_send_fds(fd, &r, fds, n);
		for (size_t k = 0; k < n; k++)
			close(fds[k]);
	} else {
		err = ipc_send(fd, &r);
	}
	if (err < 0)
		log_warnx("spawner: answering the supervisor: %s", strerror(-err));
}

/*
 * Without restarts the spawner only ever starts the processes that wait for
 * their first client (the API's): it drops guest memory and every other
 * device's host resources and links, which only a restart would need.
 */
static void spawner_narrow(struct sup *s)
{
	int memory = 0;

	if (s->cfg.restart)
		return;
	for (unsigned int k = 0; k < s->nchildren; k++) {
		const struct child *c = &s->children[k];

		if (c->unstarted)
			memory |= s->devs[c->dev].kind->uses_guest_memory;
	}
	for (unsigned int i = 0; i < s->ndevs; i++) {
		int keep = 0;

		for (unsigned int k = 0; k < s->nchildren; k++)
			keep |= s->children[k].unstarted && s->children[k].dev == (int)i;
		if (!keep) {
			kinds_close(&s->devs[i]);
			link_close(&s->links[i]);
		}
	}
	if (!memory)
		mem_close(&s->mem);
}

static _Noreturn void spawner_main(struct sup *s, int fd)
{
	static const struct ipc_handler table[] = {
		{ IPC_SPAWN, sizeof(struct ipc_spawn), 1, NULL },
	};
	_Alignas(8) char buf[IPC_MAX_MSG];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "bh-spawner");
	s->in_spawner = 1; /* what it starts is the supervisor's child, to watch and reap */
	spawner_narrow(s);
	for (;;) {
		ssize_t n = ipc_recv(fd, buf);

		if (n == -EINTR || n == -EAGAIN)
			continue;
		if (n <= 0)
			_exit(n == 0 ? 0 : 1);
		if (ipc_check(table, nitems(table), buf, (size_t)n, 1))
			spawner_answer(s, fd, (const struct ipc_spawn *)(const void *)buf);
		else if (((const struct ipc_hdr *)(const void *)buf)->ih_type == IPC_STOP)
			_exit(0);
		else
			_exit(1);
	}
}

int vm_start_spawner(struct sup *s)
{
	struct child *c;
	int sv[2];
	pid_t pid;

	if (!vm_spawner_needed(s))
		return 0;
	c = child_new(s, "spawner");
	if (!c)
		return -ENOSPC;
	c->dev = -1;
	c->is_spawner = 1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sv[0]);
		spawner_main(s, sv[1]);
	}
	close(sv[1]);
	c->pid = pid;
	c->ctl = sv[0];
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (c->pidfd < 0 || fcntl(c->ctl, F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	c->exited = 0;
	c->ready = 1;
	control_proc_open(s, c);
	return 0;
}

int vm_spawner_needed(const struct sup *s)
{
	int n = s->cfg.restart;

	for (unsigned int k = 0; k < s->nchildren; k++)
		n |= s->children[k].unstarted;
	return n;
}

int vm_ask_respawn(struct sup *s, unsigned int i, int first)
{
	struct ipc_spawn m;

	for (unsigned int k = 0; k < s->nchildren; k++) {
		if (!s->children[k].is_spawner || s->children[k].exited)
			continue;
		ipc_init(&m, IPC_SPAWN, sizeof(m));
		m.sp_index = i;
		m.sp_flags = first ? IPC_SPAWN_F_FIRST : 0;
		return ipc_send(s->children[k].ctl, &m);
	}
	return -ESRCH;
}
