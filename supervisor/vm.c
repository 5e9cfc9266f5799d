/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building the process tree of one VM: the channels and eventfds that join
 * the children, the fds each child gets, and the configuration messages
 * each receives before it answers READY.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/layout.h"
#include "common/log.h"
#include "mem/mem.h"
#include "supervisor.h"
#include "testhooks/testhooks.h"

/* The channels and eventfds between the vcpu process and one device. */
struct dev_link {
	int chan[2]; /* [0] vcpu end, [1] device end */
	int irq_fd;
	int queue_fd[IPC_MAX_QUEUES]; /* ioeventfds, datamatch = index */
	unsigned int nqueues;
	int shadow_fd; /* virtio devices: the register shadow memfd (struct ipc_shadow) */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A device with queues is a virtio device, whose side-effect-free registers are shadowed. */
static int link_create(struct dev_link *l, unsigned int nqueues)
{
	l->chan[0] = l->chan[1] = l->irq_fd = l->shadow_fd = -1;
	l->nqueues = 0;
	if (nqueues) {
		l->shadow_fd = mem_create_sealed("bulkhead-shadow", IPC_SHADOW_SIZE);
		if (l->shadow_fd < 0)
			return l->shadow_fd;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l->chan) < 0)
		return -errno;
	l->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->irq_fd < 0)
		return -errno;
	for (; l->nqueues < nqueues && l->nqueues < IPC_MAX_QUEUES; l->nqueues++) {
		l->queue_fd[l->nqueues] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (l->queue_fd[l->nqueues] < 0)
			return -errno;
	}
	return 0;
}

static void link_close(struct dev_link *l)
{
	close_fd(&l->chan[0]);
	close_fd(&l->chan[1]);
	close_fd(&l->irq_fd);
	close_fd(&l->shadow_fd);
	for (unsigned int q = 0; q < l->nqueues; q++)
		close_fd(&l->queue_fd[q]);
	l->nqueues = 0;
}

static struct child *child_new(struct sup *s, const char *name)
{
	struct child *c;

	if (s->nchildren >= SUP_MAX_CHILDREN)
		return NULL;
	c = &s->children[s->nchildren++];
	memset(c, 0, sizeof(*c));
	c->ctl = c->pidfd = -1;
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

/* Spawn the helper; the control socket's child end lives only in the child. */
static int child_spawn(struct sup *s, struct child *c, const char *helper, struct fd_map *m)
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
	err = spawn_child(c, exe, sv[1], m, s->spawn_flags);
	close(sv[1]);
	if (err < 0) {
		close(sv[0]);
		errno = -err;
		log_warn("spawn %s", c->name);
		return err;
	}
	c->exited = 0;
	c->ctl = sv[0];
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

static int fd_valid(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int start_serial(struct sup *s, struct dev_link *l, int *out_file)
{
	struct child *c = child_new(s, "serial");
	struct ipc_cfg_device m;
	struct fd_map map;
	int in = IPC_FD_NONE, out = IPC_FD_NONE;
	int err;

	if (!c)
		return -ENOSPC;
	fdmap_init(&map);
	ipc_init(&m, IPC_CFG_DEVICE, sizeof(m));
	snprintf(m.cd_name, sizeof(m.cd_name), "serial");
	m.cd_kind = IPC_DEV_SERIAL;
	m.cd_flags = s->cfg.verbose ? IPC_DEV_F_VERBOSE : 0;
	m.cd_chan_fd = fdmap_add(&map, l->chan[1]);
	m.cd_irq_fd = fdmap_add(&map, l->irq_fd);
	if (s->cfg.serial == SERIAL_STDIO) {
		if (fd_valid(STDIN_FILENO))
			in = fdmap_add(&map, STDIN_FILENO);
		if (fd_valid(STDOUT_FILENO))
			out = fdmap_add(&map, STDOUT_FILENO);
	} else if (s->cfg.serial == SERIAL_FILE) {
		out = fdmap_add(&map, *out_file);
	}
	m.cd_in_fd = in;
	m.cd_out_fd = out;
	m.cd_base = LAYOUT_COM1_PORT;
	err = child_spawn(s, c, "serial", &map);
	if (err == 0)
		err = ipc_send(c->ctl, &m);
	if (err == 0)
		err = send_done(s, c);
	close_fd(out_file);
	return err;
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

static int start_vdev(struct sup *s, struct vdev *v, struct dev_link *l)
{
	struct child *c = child_new(s, v->name);
	int mem_fds[LAYOUT_MAX_MEM_REGIONS];
	struct ipc_cfg_device m;
	struct fd_map map;
	int err;

	if (!c)
		return -ENOSPC;
	fdmap_init(&map);
	map_mem(s, &map, mem_fds);
	ipc_init(&m, IPC_CFG_DEVICE, sizeof(m));
	snprintf(m.cd_name, sizeof(m.cd_name), "%s", v->name);
	m.cd_kind = v->kind;
	m.cd_flags = s->cfg.verbose ? IPC_DEV_F_VERBOSE : 0;
	m.cd_chan_fd = fdmap_add(&map, l->chan[1]);
	m.cd_irq_fd = fdmap_add(&map, l->irq_fd);
	m.cd_in_fd = fdmap_add(&map, v->backend_fd);
	m.cd_out_fd = IPC_FD_NONE;
	m.cd_base = v->base;
	m.cd_nqueues = l->nqueues;
	for (unsigned int q = 0; q < l->nqueues; q++)
		m.cd_queue_fd[q] = fdmap_add(&map, l->queue_fd[q]);
	m.cd_shadow_fd = IPC_FD_NONE;
	if (l->shadow_fd >= 0) {
		m.cd_flags |= IPC_DEV_F_SHADOW;
		m.cd_shadow_fd = fdmap_add(&map, l->shadow_fd);
	}
	err = child_spawn(s, c, v->helper, &map);
	if (err == 0)
		err = send_mem_config(s, c, mem_fds);
	if (err == 0)
		err = ipc_send(c->ctl, &m);
	if (err == 0 && v->kind == IPC_DEV_BLK)
		err = ipc_send(c->ctl, &v->blk);
	if (err == 0 && v->kind == IPC_DEV_NET)
		err = ipc_send(c->ctl, &v->net);
	if (err == 0)
		err = send_done(s, c);
	close_fd(&v->backend_fd);
	return err;
}

static int send_vcpu_config(struct sup *s, struct child *c, const int *mem_fds, int kvm_fd)
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
	v.cv_flags = (s->cfg.verbose ? IPC_VCPU_F_VERBOSE : 0) | (s->cfg.pit ? 0 : IPC_VCPU_F_NO_PIT) |
		     (s->cfg.debug_exit ? 0 : IPC_VCPU_F_NO_DEBUG_EXIT);
	snprintf(v.cv_name, sizeof(v.cv_name), "%s", s->cfg.name);
	if (err == 0)
		err = ipc_send(c->ctl, &v);
	return err;
}

/* The vcpu process's view of one device: window, GSI, channel, irqfd, ioeventfds. */
static void vcpu_dev_msg(struct ipc_cfg_vcpu_dev *d, struct fd_map *map, const char *name,
			 uint32_t space, uint64_t base, uint64_t len, uint32_t gsi,
			 const struct dev_link *l)
{
	ipc_init(d, IPC_CFG_VCPU_DEV, sizeof(*d));
	snprintf(d->cd_name, sizeof(d->cd_name), "%s", name);
	d->cd_space = space;
	d->cd_gsi = gsi;
	d->cd_base = base;
	d->cd_len = len;
	d->cd_chan_fd = fdmap_add(map, l->chan[0]);
	d->cd_irq_fd = fdmap_add(map, l->irq_fd);
	d->cd_nqueues = l->nqueues;
	d->cd_notify_off = l->nqueues ? VIRTIO_MMIO_QUEUE_NOTIFY_OFF : 0;
	for (unsigned int q = 0; q < l->nqueues; q++)
		d->cd_queue_fd[q] = fdmap_add(map, l->queue_fd[q]);
	d->cd_shadow_fd = IPC_FD_NONE;
	if (l->shadow_fd >= 0 && !testhook_no_shadow()) {
		d->cd_flags |= IPC_VCPU_DEV_F_SHADOW;
		d->cd_shadow_fd = fdmap_add(map, l->shadow_fd);
	}
}

static int start_vcpu(struct sup *s, const struct dev_link *serial, const struct dev_link *links)
{
	struct child *c = child_new(s, "vcpu");
	struct ipc_cfg_vcpu_dev devs[1 + LAYOUT_MAX_VIRTIO_DEVICES];
	int mem_fds[LAYOUT_MAX_MEM_REGIONS];
	struct fd_map map;
	int kvm_fd;
	int err;

	if (!c)
		return -ENOSPC;
	c->is_vcpu = 1;
	fdmap_init(&map);
	kvm_fd = fdmap_add(&map, s->kvm_fd);
	map_mem(s, &map, mem_fds);
	vcpu_dev_msg(&devs[0], &map, "serial", IPC_SPACE_PIO, LAYOUT_COM1_PORT, LAYOUT_COM1_PORTS,
		     LAYOUT_SERIAL_GSI, serial);
	for (unsigned int i = 0; i < s->nvdevs; i++)
		vcpu_dev_msg(&devs[1 + i], &map, s->vdevs[i].name, IPC_SPACE_MMIO, s->vdevs[i].base,
			     LAYOUT_VIRTIO_MMIO_SIZE, s->vdevs[i].gsi, &links[i]);
	err = child_spawn(s, c, "vcpu", &map);
	if (err == 0)
		err = send_vcpu_config(s, c, mem_fds, kvm_fd);
	for (unsigned int i = 0; err == 0 && i <= s->nvdevs; i++)
		err = ipc_send(c->ctl, &devs[i]);
	if (err == 0)
		err = send_done(s, c);
	return err;
}

int vm_start_children(struct sup *s)
{
	struct dev_link serial, links[LAYOUT_MAX_VIRTIO_DEVICES];
	int out_file = s->serial_fd;
	int err;

	s->serial_fd = -1;
	err = link_create(&serial, 0);
	if (err == 0)
		err = start_serial(s, &serial, &out_file);
	for (unsigned int i = 0; i < s->nvdevs; i++) {
		links[i].nqueues = 0;
		links[i].chan[0] = links[i].chan[1] = links[i].irq_fd = links[i].shadow_fd = -1;
		if (err == 0)
			err = link_create(&links[i], s->vdevs[i].nqueues);
		if (err == 0)
			err = start_vdev(s, &s->vdevs[i], &links[i]);
	}
	if (err == 0)
		err = start_vcpu(s, &serial, links);
	/* The children hold their ends now; the supervisor keeps none of them. */
	link_close(&serial);
	for (unsigned int i = 0; i < s->nvdevs; i++) {
		link_close(&links[i]);
		close_fd(&s->vdevs[i].backend_fd);
	}
	close_fd(&out_file);
	close_fd(&s->kvm_fd);
	for (unsigned int i = 0; i < s->npolicy_fds; i++)
		close_fd(&s->policy_fds[i]);
	mem_close(&s->mem);
	if (err < 0) {
		errno = -err;
		log_warn("starting the VM");
	}
	return err;
}
