/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API socket's supervisor side (--api-socket). bulkhead-api parses HTTP
 * and JSON in its jail and sends fixed-size requests (ipc.h, API_REQUEST);
 * here they are answered. SNAPSHOT fills the API page with what the
 * supervisor knows: the VM's state and uptime; per process its pid, state,
 * restarts, last failure, and CPU time and memory from its /proc files; per
 * device the counters its process keeps in its shadow page. PAUSE and RESUME
 * go to the vcpu process and are answered once it has done them, SHUTDOWN
 * ends the VM with status 0, POWER_BUTTON raises the GED's interrupt.
 *
 * The split: the supervisor writes numbers and the configuration's items into
 * the page and formats nothing; the api process makes JSON and Prometheus
 * text of them. The configuration is written once, before the api process
 * starts; the rest at each SNAPSHOT, before its answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "supervisor.h"

#define PROC_TEXT_MAX 4096 /* bytes of a /proc file read: stat is about 300, smaps_rollup 700 */

static long clk_tck;

/* The configuration as items of four strings (ipc.h, struct ipc_api_page). */
struct items {
	char *buf;
	size_t len, cap;
	int full;
};

static void item(struct items *it, const char *obj, const char *key, const char *type,
		 const char *val)
{
	const char *part[] = { obj, key, type, val };
	size_t need = 0;

	for (size_t i = 0; i < nitems(part); i++)
		need += strlen(part[i]) + 1;
	if (it->full || need > it->cap - it->len) {
		it->full = 1;
		return;
	}
	for (size_t i = 0; i < nitems(part); i++) {
		size_t n = strlen(part[i]) + 1;

		memcpy(it->buf + it->len, part[i], n);
		it->len += n;
	}
}

static void item_num(struct items *it, const char *obj, const char *key, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	item(it, obj, key, "n", num);
}

static void item_bool(struct items *it, const char *obj, const char *key, int v)
{
	item(it, obj, key, "b", v ? "1" : "0");
}

static void config_vm(const struct sup *s, struct items *it)
{
	static const char *const jail[] = { "on", "no-namespaces", "off" };
	static const char *const seccomp[] = { "kill", "log", "off" };
	const struct vm_config *c = &s->cfg;

	item(it, "", "name", "s", c->name);
	item(it, "kernel", "path", "s", c->kernel_path);
	item(it, "kernel", "cmdline", "s", c->cmdline);
	if (c->initrd_path[0])
		item(it, "initrd", "path", "s", c->initrd_path);
	item_num(it, "memory", "size_mib", c->mem_mib);
	item_bool(it, "memory", "hugepages", c->mem_hugepages);
	item_num(it, "vcpus", "num", c->nvcpus);
	item_bool(it, "", "acpi", c->acpi);
	item_bool(it, "", "pit", c->pit);
	item(it, "", "irqchip", "s", c->irqchip == CONFIG_IRQCHIP_SPLIT ? "split" : "kernel");
	item(it, "", "on_device_failure", "s", c->restart ? "restart" : "stop");
	if (c->jail_mode >= 0 && (size_t)c->jail_mode < nitems(jail))
		item(it, "jail", "mode", "s", jail[c->jail_mode]);
	item_num(it, "jail", "uid", c->jail_uid);
	item_num(it, "jail", "gid", c->jail_gid);
	item_bool(it, "jail", "user_namespace", !!(s->spawn_flags & SPAWN_NEWUSER));
	if (c->seccomp_mode >= 0 && (size_t)c->seccomp_mode < nitems(seccomp))
		item(it, "", "seccomp", "s", seccomp[c->seccomp_mode]);
}

/* A device's option and the keys its kind parses, from its kind's key table. */
static void config_dev(struct items *it, const struct dev_inst *d)
{
	const struct dev_kind *k = d->kind;
	const char *word = k->word_of ? k->word_of(d->opts) : NULL;
	char obj[8 + IPC_NAME_MAX];

	snprintf(obj, sizeof(obj), "device:%s", d->name);
	item(it, obj, "option", "s", k->option);
	item(it, obj, "kind", "s", k->helper);
	if (word)
		item(it, obj, "value", "s", word);
	for (size_t i = 0; i < k->nkeys; i++) {
		const struct key_def *key = &k->keys[i];
		const char *field = (const char *)d->opts + key->off;

		if (key->kind == KEY_STRING && field[0])
			item(it, obj, key->name, "s", field);
		else if (key->kind == KEY_U64)
			item_num(it, obj, key->name, *(const uint64_t *)(const void *)field);
		else if (key->kind == KEY_UINT)
			item_num(it, obj, key->name, *(const unsigned int *)(const void *)field);
		else if (key->kind == KEY_BOOL)
			item_bool(it, obj, key->name, *(const int *)(const void *)field);
	}
}

static void config_write(const struct sup *s, struct ipc_api_page *pg)
{
	struct items it = { .buf = pg->pg_config, .cap = sizeof(pg->pg_config) };

	config_vm(s, &it);
	for (unsigned int i = 0; i < s->ndevs; i++)
		config_dev(&it, &s->devs[i]);
	if (it.full)
		log_info("warning: the configuration is longer than the API page holds "
			 "(%zu bytes); vm.info shows the part that fits", sizeof(pg->pg_config));
	pg->pg_config_len = (uint32_t)it.len;
}

/* The instance whose kind controls the VM (the API's), or NULL. */
static struct dev_inst *api_inst(struct sup *s)
{
	for (unsigned int i = 0; i < s->ndevs; i++) {
		if (s->devs[i].kind->controls)
			return &s->devs[i];
	}
	return NULL;
}

void proc_files_open(pid_t pid, int *stat_fd, int *smaps_fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	*stat_fd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	*smaps_fd = open(path, O_RDONLY | O_CLOEXEC);
}

int control_init(struct sup *s)
{
	struct dev_inst *d = api_inst(s);
	struct ipc_cfg_api *m;
	void *p;
	int fd;

	s->power_fd = s->self_stat_fd = s->self_smaps_fd = -1;
	if (!d)
		return 0;
	clk_tck = sysconf(_SC_CLK_TCK);
	fd = mem_create_sealed("bulkhead-api", IPC_API_PAGE_SIZE);
	if (fd < 0)
		return fd;
	p = mmap(NULL, IPC_API_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	/* The api process gets it with its kind's message; kinds_close closes it at the end. */
	m = (struct ipc_cfg_api *)(void *)d->msg.bytes;
	m->ca_page_fd = fd;
	m->ca_flags = s->cfg.verbose ? IPC_API_F_VERBOSE : 0;
	s->api_page = p;
	snprintf(s->api_page->pg_name, sizeof(s->api_page->pg_name), "%s", s->cfg.name);
	snprintf(s->api_page->pg_version, sizeof(s->api_page->pg_version), "%s", BH_VERSION);
	if (s->cfg.acpi) {
		s->power_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (s->power_fd < 0)
			return -errno;
	}
	proc_files_open(getpid(), &s->self_stat_fd, &s->self_smaps_fd);
	return 0;
}

void control_config(const struct sup *s)
{
	if (s->api_page)
		config_write(s, s->api_page);
}

/* Before the lockdown (the supervisor) or in the spawner: after it, nothing is opened. */
void control_proc_open(const struct sup *s, struct child *c)
{
	if (!s->api_page || c->stat_fd >= 0 || c->pid <= 0 || s->phase != PHASE_STARTING)
		return;
	proc_files_open(c->pid, &c->stat_fd, &c->smaps_fd);
}

size_t control_bindings(const struct sup *s, struct policy_binding *b, size_t max)
{
	size_t n = 0;

	if (max < 2 + 2 + 2 * (size_t)s->nchildren)
		return 0;
	b[n++] = (struct policy_binding){ "POWER_FD", (uint64_t)(int64_t)s->power_fd };
	/* Unbound placeholders are an error: -1 names no file. */
	b[n++] = (struct policy_binding){ "PROC_FD", (uint64_t)(int64_t)s->self_stat_fd };
	b[n++] = (struct policy_binding){ "PROC_FD", (uint64_t)(int64_t)s->self_smaps_fd };
	for (unsigned int i = 0; i < s->nchildren; i++) {
		const struct child *c = &s->children[i];

		if (c->stat_fd >= 0)
			b[n++] = (struct policy_binding){ "PROC_FD", (uint64_t)c->stat_fd };
		if (c->smaps_fd >= 0)
			b[n++] = (struct policy_binding){ "PROC_FD", (uint64_t)c->smaps_fd };
	}
	return n;
}

/* One /proc file, read whole (they are short) into buf; its length, or 0. */
static size_t proc_read(int fd, char *buf, size_t len)
{
	ssize_t n = fd >= 0 ? pread(fd, buf, len, 0) : -1;

	return n > 0 ? (size_t)n : 0;
}

static void proc_figures(struct ipc_api_proc *p, int stat_fd, int smaps_fd)
{
	char text[PROC_TEXT_MAX];
	size_t n;

	n = proc_read(stat_fd, text, sizeof(text));
	if (n && procstat_cpu_ns(text, n, clk_tck, &p->ap_cpu_ns) == 0)
		p->ap_flags |= IPC_API_PROC_F_CPU;
	n = proc_read(smaps_fd, text, sizeof(text));
	if (n && procstat_mem(text, n, &p->ap_rss, &p->ap_pss) == 0)
		p->ap_flags |= IPC_API_PROC_F_MEM;
}

static uint32_t proc_state(const struct child *c)
{
	if (c->restarting)
		return IPC_PROC_RESTARTING;
	if (c->exited)
		return IPC_PROC_EXITED;
	return c->ready ? IPC_PROC_RUNNING : IPC_PROC_STARTING;
}

static const char *child_kind(const struct sup *s, const struct child *c)
{
	if (c->is_vcpu)
		return "vcpu";
	if (c->is_spawner)
		return "spawner";
	return c->dev >= 0 ? s->devs[c->dev].kind->helper : "?";
}

static void snapshot_procs(const struct sup *s, struct ipc_api_page *pg, int figures)
{
	struct ipc_api_proc *p = &pg->pg_procs[0];

	memset(p, 0, sizeof(*p));
	snprintf(p->ap_name, sizeof(p->ap_name), "supervisor");
	snprintf(p->ap_kind, sizeof(p->ap_kind), "supervisor");
	p->ap_pid = getpid();
	p->ap_state = IPC_PROC_RUNNING;
	if (figures)
		proc_figures(p, s->self_stat_fd, s->self_smaps_fd);
	pg->pg_nprocs = 1;
	for (unsigned int i = 0; i < s->nchildren && pg->pg_nprocs < IPC_API_MAX_PROCS; i++) {
		const struct child *c = &s->children[i];

		p = &pg->pg_procs[pg->pg_nprocs++];
		memset(p, 0, sizeof(*p));
		snprintf(p->ap_name, sizeof(p->ap_name), "%s", c->name);
		snprintf(p->ap_kind, sizeof(p->ap_kind), "%s", child_kind(s, c));
		p->ap_pid = c->pid;
		p->ap_state = proc_state(c);
		p->ap_restarts = c->gen;
		p->ap_failed_ns = c->failure[0] ? c->failed_at : 0;
		memcpy(p->ap_failure, c->failure, sizeof(p->ap_failure));
		p->ap_failure[sizeof(p->ap_failure) - 1] = '\0';
		if (figures && p->ap_state == IPC_PROC_RUNNING)
			proc_figures(p, c->stat_fd, c->smaps_fd);
	}
}

static const struct child *dev_child(const struct sup *s, unsigned int i)
{
	for (unsigned int k = 0; k < s->nchildren; k++) {
		if (s->children[k].dev == (int)i)
			return &s->children[k];
	}
	return NULL;
}

/* A device's own figures, as its process keeps them: one load each. */
static void counters_copy(struct ipc_counters *to, const struct ipc_counters *from)
{
	to->ct_requests = __atomic_load_n(&from->ct_requests, __ATOMIC_RELAXED);
	to->ct_bytes = __atomic_load_n(&from->ct_bytes, __ATOMIC_RELAXED);
	to->ct_errors = __atomic_load_n(&from->ct_errors, __ATOMIC_RELAXED);
	to->ct_notifications = __atomic_load_n(&from->ct_notifications, __ATOMIC_RELAXED);
	to->ct_interrupts = __atomic_load_n(&from->ct_interrupts, __ATOMIC_RELAXED);
	to->ct_reads = __atomic_load_n(&from->ct_reads, __ATOMIC_RELAXED);
	to->ct_writes = __atomic_load_n(&from->ct_writes, __ATOMIC_RELAXED);
}

/* Every device with a register window; the API's own process is no device. */
static void snapshot_devs(const struct sup *s, struct ipc_api_page *pg)
{
	pg->pg_ndevs = 0;
	for (unsigned int i = 0; i < s->ndevs && pg->pg_ndevs < LAYOUT_MAX_DEVICES; i++) {
		const struct child *c = dev_child(s, i);
		struct ipc_api_dev *d;

		if (!s->devs[i].kind->transport)
			continue;
		d = &pg->pg_devs[pg->pg_ndevs++];
		memset(d, 0, sizeof(*d));
		snprintf(d->ad_name, sizeof(d->ad_name), "%s", s->devs[i].name);
		snprintf(d->ad_kind, sizeof(d->ad_kind), "%s", s->devs[i].kind->helper);
		d->ad_restarts = c ? c->gen : 0;
		if (s->links[i].counters) {
			counters_copy(&d->ad_counters, s->links[i].counters);
			d->ad_flags |= IPC_API_DEV_F_COUNTERS;
		}
	}
}

static uint32_t vm_state(const struct sup *s)
{
	if (s->phase == PHASE_STARTING)
		return IPC_VM_STARTING;
	if (s->phase == PHASE_STOPPING)
		return IPC_VM_STOPPING;
	return s->paused ? IPC_VM_PAUSED : IPC_VM_RUNNING;
}

static void snapshot(const struct sup *s, uint32_t seq, uint32_t what)
{
	struct ipc_api_page *pg = s->api_page;

	pg->pg_seq = seq;
	pg->pg_state = vm_state(s);
	pg->pg_uptime_ns = now_ns() - s->launch_ns;
	pg->pg_pid = getpid();
	pg->pg_flags = s->power_fd >= 0 ? IPC_API_PG_F_ACPI : 0;
	snapshot_procs(s, pg, !!(what & IPC_API_WHAT_PROCS));
	if (what & IPC_API_WHAT_DEVS)
		snapshot_devs(s, pg);
	else
		pg->pg_ndevs = 0;
}

static void reply(struct child *c, uint32_t seq, uint32_t cmd, int err)
{
	struct ipc_api_reply r;
	int e;

	if (c->ctl < 0 || c->exited)
		return;
	ipc_init(&r, IPC_API_REPLY, sizeof(r));
	r.ar_seq = seq;
	r.ar_cmd = cmd;
	r.ar_errno = err;
	/* EPIPE: it is gone, and its pidfd says how; EAGAIN: it does not read its answers. */
	e = ipc_send(c->ctl, &r);
	if (e < 0 && e != -EPIPE)
		log_warnx("%s: cannot answer its request: %s", c->name, strerror(-e));
}

static struct child *vcpu_of(struct sup *s)
{
	for (unsigned int i = 0; i < s->nchildren; i++) {
		if (s->children[i].is_vcpu && !s->children[i].exited)
			return &s->children[i];
	}
	return NULL;
}

/* PAUSE or RESUME: the vcpu process does it and says so (control_paused). */
static int pause_start(struct sup *s, uint32_t cmd, uint32_t seq)
{
	struct child *vcpu = vcpu_of(s);
	struct ipc_vcpu_pause m;
	int err;

	if (s->phase != PHASE_RUNNING || !vcpu)
		return EAGAIN;
	if (s->cmd)
		return EBUSY;
	if ((cmd == IPC_API_PAUSE) == !!s->paused)
		return EALREADY;
	ipc_init(&m, IPC_VCPU_PAUSE, sizeof(m));
	m.vp_pause = cmd == IPC_API_PAUSE;
	err = ipc_send(vcpu->ctl, &m);
	if (err < 0)
		return -err <= IPC_ERRNO_MAX ? -err : EIO;
	s->cmd = cmd;
	s->cmd_seq = seq;
	return 0;
}

static int power_button(struct sup *s)
{
	uint64_t one = 1;

	if (s->power_fd < 0)
		return ENODEV;
	if (s->phase != PHASE_RUNNING)
		return EAGAIN;
	if (write(s->power_fd, &one, sizeof(one)) < 0)
		return errno;
	log_info("the power button was pressed through the API socket");
	return 0;
}

void control_request(struct sup *s, struct child *c, const struct ipc_api_request *m)
{
	int err;

	switch (m->aq_cmd) {
	case IPC_API_SNAPSHOT:
		if (m->aq_what & ~(uint32_t)(IPC_API_WHAT_PROCS | IPC_API_WHAT_DEVS))
			break;
		snapshot(s, m->aq_seq, m->aq_what);
		reply(c, m->aq_seq, m->aq_cmd, 0);
		return;
	case IPC_API_PAUSE:
	case IPC_API_RESUME:
		err = pause_start(s, m->aq_cmd, m->aq_seq);
		if (err)
			reply(c, m->aq_seq, m->aq_cmd, err);
		return;
	case IPC_API_SHUTDOWN:
		/* Answered first: the api process is told STOP right after. */
		reply(c, m->aq_seq, m->aq_cmd, 0);
		log_info("shutdown asked through the API socket");
		sup_decide(s, EXIT_GUEST_DONE, "shut down through the API socket");
		sup_stop_all(s);
		return;
	case IPC_API_POWER_BUTTON:
		reply(c, m->aq_seq, m->aq_cmd, power_button(s));
		return;
	default:
		break;
	}
	reply(c, m->aq_seq, m->aq_cmd, EINVAL);
}

int control_paused(struct sup *s, const struct ipc_vcpu_pause *m)
{
	uint32_t cmd = m->vp_pause ? IPC_API_PAUSE : IPC_API_RESUME;

	if (m->vp_pause > 1 || s->cmd != cmd)
		return -EPROTO;
	s->paused = (int)m->vp_pause;
	s->cmd = 0;
	log_info("the VM is %s (through the API socket)", s->paused ? "paused" : "running again");
	for (unsigned int i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->dev >= 0 && s->devs[c->dev].kind->controls)
			reply(c, s->cmd_seq, cmd, 0);
	}
	return 0;
}
