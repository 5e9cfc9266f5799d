/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The supervisor's event loop: READY from every child, then START; then
 * watch the children's control sockets (VM_EXIT, ERROR), their pidfds (a
 * death) and the signalfd (SIGINT, SIGTERM, SIGHUP). Whatever ends the VM,
 * every child gets STOP, and whoever has not exited in time gets SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <seccomp.h>
#include <stdlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "jail/jail.h"
#include "seccomp/policy.h"
#include "supervisor.h"
#include "testhooks/testhooks.h"

#define TAG_SIGNAL 0
#define TAG_CTL 1
#define TAG_PIDFD 2
#define TAG_LISTEN 3 /* the listening socket of a child that starts at its first client */
#define TAG(kind, i) (((uint64_t)(kind) << 32) | (i))

void sup_decide(struct sup *s, int status, const char *fmt, ...)
{
	va_list ap;

	if (s->status >= 0)
		return;
	s->status = status;
	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

/* STOP to the children that run and are (vcpu 1) or are not (0) the vcpu process. */
static void sup_send_stop(struct sup *s, int vcpu)
{
	struct ipc_empty m;

	ipc_init(&m, IPC_STOP, sizeof(m));
	for (unsigned int i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		/* A child that is gone makes the send fail with EPIPE; its pidfd tells the rest. */
		if (!c->exited && c->ctl >= 0 && !c->is_vcpu == !vcpu)
			(void)!ipc_send(c->ctl, &m);
	}
}

static int vcpu_running(const struct sup *s)
{
	for (unsigned int i = 0; i < s->nchildren; i++) {
		if (s->children[i].is_vcpu && !s->children[i].exited)
			return 1;
	}
	return 0;
}

/*
 * The vcpu process first: on its way out it sends the devices what it still
 * holds of the guest's writes (the last console bytes, chan_drain), so they
 * get STOP once it has exited (child_reap), all within SUP_STOP_TIMEOUT_MS.
 */
void sup_stop_all(struct sup *s)
{
	if (s->phase == PHASE_STOPPING)
		return;
	s->phase = PHASE_STOPPING;
	sup_send_stop(s, 1);
	if (!vcpu_running(s))
		sup_send_stop(s, 0);
}

/* Brokering (socket, connect) is allowed only while a device whose kind has a broker runs. */
static size_t broker_bindings(const struct sup *s, struct policy_binding *b)
{
	int on = 0;

	for (unsigned int i = 0; i < s->ndevs; i++)
		on |= s->devs[i].kind->connect != NULL;
	b[0] = (struct policy_binding){ "BROKER_FAMILY", on ? AF_UNIX : KINDS_BROKER_NONE };
	b[1] = (struct policy_binding){ "BROKER_ADDRLEN",
					on ? sizeof(struct sockaddr_un) : KINDS_BROKER_NONE };
	return 2;
}

/*
 * Once every child runs, the supervisor needs little: its control sockets,
 * pidfds and signalfd, the terminal, and CAP_KILL to stop children that run
 * as another uid. Everything else goes, and its own policy closes in.
 */
static int sup_lockdown(struct sup *s)
{
	struct policy_binding b[16 + 3 * SUP_MAX_CHILDREN];
	char err[256];
	size_t n = 0;
	int e;

	/* --jail off narrows nothing, but the filter stays unless --seccomp off. */
	if (s->cfg.jail_mode != 2 && (e = jail_narrow_supervisor(err, sizeof(err))) < 0) {
		log_warnx("%s", err);
		return e;
	}
	b[n++] = (struct policy_binding){ "SIGNAL_FD", (uint64_t)s->sigfd };
	b[n++] = (struct policy_binding){ "EPOLL_FD", (uint64_t)s->ep };
	b[n++] = (struct policy_binding){ "KMSG_FD", (uint64_t)(int64_t)s->kmsg_fd };
	b[n++] = (struct policy_binding){ "PID", (uint64_t)getpid() };
	n += broker_bindings(s, b + n);
	for (unsigned int i = 0; i < s->nchildren; i++)
		b[n++] = (struct policy_binding){ "CONTROL_FD", (uint64_t)(int64_t)s->children[i].ctl };
	n += control_bindings(s, b + n, nitems(b) - n);
	e = policy_load_from("supervisor", -1, -1, b, n, (enum policy_mode)s->cfg.seccomp_mode, err,
			     sizeof(err));
	if (e < 0)
		log_warnx("%s", err);
	return e;
}

static int watch(struct sup *s, int fd, unsigned int kind, unsigned int i);

/* The processes that start at their first client wait for it from now on (clients that came
 * earlier are in the backlog): starting one needs the spawner, which answers only now. */
static void watch_listeners(struct sup *s)
{
	for (unsigned int i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->unstarted && watch(s, kinds_listen_fd(&s->devs[c->dev]), TAG_LISTEN, i) < 0) {
			sup_decide(s, EXIT_VM_FAILED, "%s: cannot watch its socket: %s", c->name,
				   strerror(errno));
			sup_stop_all(s);
		}
	}
}

/* Every child the VM needs is ready: an expendable one (the API's) may still be getting so. */
static void sup_start_vcpu(struct sup *s)
{
	struct ipc_empty m;

	for (unsigned int i = 0; i < s->nchildren; i++) {
		const struct child *c = &s->children[i];

		if (!c->ready && !(c->dev >= 0 && s->devs[c->dev].kind->expendable))
			return;
	}
	ipc_init(&m, IPC_START, sizeof(m));
	for (unsigned int i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->is_vcpu && ipc_send(c->ctl, &m) < 0) {
			sup_decide(s, EXIT_VM_FAILED, "%s: cannot start the vCPUs", c->name);
			sup_stop_all(s);
			return;
		}
	}
	s->phase = PHASE_RUNNING;
	jailplan_done(); /* long exited: reaped while the supervisor still may */
	watch_listeners(s);
	if (sup_lockdown(s) < 0) {
		sup_decide(s, EXIT_VM_FAILED, "the supervisor could not lock itself down");
		sup_stop_all(s);
	}
	testhook_supervisor_fault();
}

static int vm_exit_status(const struct ipc_vm_exit *m)
{
	switch (m->ve_reason) {
	case IPC_EXIT_RESET:
	case IPC_EXIT_TRIPLE_FAULT:
	case IPC_EXIT_POWEROFF:
		return EXIT_GUEST_DONE;
	case IPC_EXIT_DEBUG:
		return (int)(((m->ve_value & 0xff) << 1) | 1) & 0xff;
	default:
		return EXIT_VM_FAILED;
	}
}

static void child_reap(struct sup *s, struct child *c);
static int replaceable(const struct sup *s, const struct child *c);
static int expendable(const struct sup *s, const struct child *c);

static unsigned int children_exited(const struct sup *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->nchildren; i++)
		n += s->children[i].exited;
	return n;
}

/*
 * A child that already died explains an error better than the one who
 * noticed it. A dying process closes its sockets a moment before it can be
 * reaped, so its peer's EPIPE can arrive first: look again for up to 200 ms
 * (error paths only). The reporter itself is alive and may be leaving.
 */
static void reap_dead(struct sup *s, const struct child *reporter)
{
	unsigned int before = children_exited(s);

	for (int tries = 0; tries < 20; tries++) {
		for (unsigned int i = 0; i < s->nchildren; i++) {
			if (!s->children[i].exited && &s->children[i] != reporter)
				child_reap(s, &s->children[i]);
		}
		if (children_exited(s) > before)
			return;
		usleep(10000);
	}
}

static struct child *child_named(struct sup *s, const char *name)
{
	for (unsigned int i = 0; i < s->nchildren; i++) {
		if (strcmp(s->children[i].name, name) == 0)
			return &s->children[i];
	}
	return NULL;
}

/* A device's instance: its child bears the instance's name. */
static const struct dev_inst *child_dev(const struct sup *s, const struct child *c)
{
	for (unsigned int i = 0; i < s->ndevs && !c->is_vcpu; i++) {
		if (strcmp(s->devs[i].name, c->name) == 0)
			return &s->devs[i];
	}
	return NULL;
}

static void child_kill(struct child *c)
{
	if (!c->exited && c->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
}

/*
 * The vcpu process found a device that missed its deadline or closed its
 * channel. A stuck device is killed at once: ending the VM must not wait for
 * it. One that died is described by its death, if it can be reaped.
 */
static void on_dev_failed(struct sup *s, struct child *vcpu, const struct ipc_dev_failed *m)
{
	static const char *const what[] = {
		[IPC_DEV_FAIL_DRAIN] = "did not drain its channel within the deadline",
		[IPC_DEV_FAIL_ANSWER] = "did not answer within the deadline",
		[IPC_DEV_FAIL_CLOSED] = "closed its channel",
		[IPC_DEV_FAIL_PROTOCOL] = "answered with something that is not a reply",
		[IPC_DEV_FAIL_BUSY] = "was held by another vCPU's access past the deadline",
	};
	struct child *c = ipc_str_ok(m->df_name, sizeof(m->df_name)) ? child_named(s, m->df_name) : NULL;

	if (!c || c->is_vcpu || m->df_what == 0 || m->df_what >= nitems(what)) {
		sup_decide(s, EXIT_VM_FAILED, "%s: protocol error on its control channel", vcpu->name);
		sup_stop_all(s);
		return;
	}
	if (replaceable(s, c)) {
		/* One of an incarnation already replaced, or one that is dying: nothing to do. */
		if (m->df_gen != c->gen || c->restarting || c->exited)
			return;
		log_info("%s %s (%u ms; a register %s at offset 0x%llx of its window); killing it",
			 c->name, what[m->df_what], s->deadline_ms, m->df_write ? "write" : "read",
			 (unsigned long long)m->df_offset);
		child_kill(c);
		return;
	}
	if (m->df_what == IPC_DEV_FAIL_CLOSED)
		reap_dead(s, vcpu);
	sup_decide(s, EXIT_VM_FAILED, "%s %s (%u ms; a register %s at offset 0x%llx of its window)",
		   c->name, what[m->df_what], s->deadline_ms, m->df_write ? "write" : "read",
		   (unsigned long long)m->df_offset);
	child_kill(c);
	sup_stop_all(s);
}

/*
 * CONNECT: a device asks for a host connection (brokered access). Its kind's
 * broker checks the port against the instance's configuration and connects
 * without blocking; the answer carries the socket, or why there is none.
 * Once the VM is stopping nothing is connected any more.
 */
static void on_connect(struct sup *s, struct child *c, const struct ipc_connect *m)
{
	const struct dev_inst *d = child_dev(s, c);
	struct ipc_connect_reply r;
	int fd = -ESHUTDOWN, err;

	if (!d || !d->kind->connect) {
		sup_decide(s, EXIT_VM_FAILED, "%s: asked for a connection its kind has no broker for",
			   c->name);
		sup_stop_all(s);
		return;
	}
	if (s->phase == PHASE_RUNNING)
		fd = d->kind->connect(d, m->cq_port);
	ipc_init(&r, IPC_CONNECT_REPLY, sizeof(r));
	r.cr_seq = m->cq_seq;
	r.cr_errno = fd >= 0 ? 0 : -fd <= IPC_ERRNO_MAX ? -fd : EIO;
	err = fd >= 0 ? ipc_send_fd(c->ctl, &r, fd) : ipc_send(c->ctl, &r);
	if (fd >= 0)
		close(fd);
	/* EPIPE: the device is gone, and its pidfd says how. EAGAIN: it does not read. */
	if (err < 0 && err != -EPIPE && s->phase == PHASE_RUNNING) {
		sup_decide(s, EXIT_VM_FAILED, "%s: cannot answer its connection request: %s", c->name,
			   strerror(-err));
		sup_stop_all(s);
	}
}

/* A line that may be cut short where it does not fit (failures, for the API). */
static void BH_PRINTF(3, 4) text_set(char *dst, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, len, fmt, ap);
	va_end(ap);
}

/* What only the vcpu process, or only a kind that controls the VM (the API), may send. */
static int sender_ok(const struct sup *s, const struct child *c, uint16_t type)
{
	if (type == IPC_VM_EXIT || type == IPC_DEV_FAILED || type == IPC_VCPU_PAUSED)
		return c->is_vcpu;
	if (type == IPC_API_REQUEST)
		return c->dev >= 0 && s->devs[c->dev].kind->controls;
	return 1;
}

/* A protocol error ends the VM, unless the VM goes on without the process that made it. */
static void protocol_error(struct sup *s, struct child *c)
{
	if (expendable(s, c) && s->phase == PHASE_RUNNING && s->status < 0) {
		log_info("%s: protocol error on its control channel; killing it", c->name);
		snprintf(c->failure, sizeof(c->failure), "protocol error on its control channel");
		c->error_said = 1;
		child_kill(c);
		return;
	}
	sup_decide(s, EXIT_VM_FAILED, "%s: protocol error on its control channel", c->name);
	sup_stop_all(s);
}

static void on_child_msg(struct sup *s, struct child *c, const void *buf, size_t len)
{
	static const struct ipc_handler table[] = {
		{ IPC_READY, sizeof(struct ipc_empty), ~0u, NULL },
		{ IPC_ERROR, sizeof(struct ipc_error), ~0u, NULL },
		{ IPC_VM_EXIT, sizeof(struct ipc_vm_exit),
		  (1u << PHASE_RUNNING) | (1u << PHASE_STOPPING), NULL },
		{ IPC_DEV_FAILED, sizeof(struct ipc_dev_failed),
		  (1u << PHASE_RUNNING) | (1u << PHASE_STOPPING), NULL },
		{ IPC_CONNECT, sizeof(struct ipc_connect),
		  (1u << PHASE_RUNNING) | (1u << PHASE_STOPPING), NULL },
		{ IPC_API_REQUEST, sizeof(struct ipc_api_request), ~0u, NULL },
		{ IPC_VCPU_PAUSED, sizeof(struct ipc_vcpu_pause),
		  (1u << PHASE_RUNNING) | (1u << PHASE_STOPPING), NULL },
	};
	const struct ipc_handler *row;

	row = ipc_check(table, nitems(table), buf, len, 1u << s->phase);
	if (!row || !sender_ok(s, c, row->type) ||
	    (row->type == IPC_VCPU_PAUSED && control_paused(s, buf) < 0)) {
		protocol_error(s, c);
		return;
	}
	if (row->type == IPC_VCPU_PAUSED)
		return;
	if (row->type == IPC_API_REQUEST) {
		control_request(s, c, buf);
	} else if (row->type == IPC_DEV_FAILED) {
		on_dev_failed(s, c, buf);
	} else if (row->type == IPC_CONNECT) {
		on_connect(s, c, buf);
	} else if (row->type == IPC_READY) {
		c->ready = 1;
		s->jail_unprobed = 0; /* its jail is built: the namespaces work */
		control_proc_open(s, c); /* before the lockdown the last READY brings */
		if (s->phase == PHASE_STARTING)
			sup_start_vcpu(s);
	} else if (row->type == IPC_ERROR && (replaceable(s, c) || expendable(s, c)) &&
		   s->phase == PHASE_RUNNING) {
		const struct ipc_error *e = buf;

		/* It is ending: its death is what counts, and it will be replaced or done without. */
		text_set(c->failure, sizeof(c->failure), "failed: %.*s", (int)sizeof(e->ie_text),
			 ipc_str_ok(e->ie_text, sizeof(e->ie_text)) ? e->ie_text : "(garbled)");
		c->error_said = 1;
		log_info("%s %s", c->name, c->failure);
	} else if (row->type == IPC_ERROR) {
		const struct ipc_error *e = buf;

		reap_dead(s, c);
		sup_decide(s, EXIT_VM_FAILED, "%s failed: %.*s", c->name, (int)sizeof(e->ie_text),
			   ipc_str_ok(e->ie_text, sizeof(e->ie_text)) ? e->ie_text : "(garbled)");
		sup_stop_all(s);
	} else {
		const struct ipc_vm_exit *e = buf;

		if (e->ve_reason == IPC_EXIT_ERROR)
			reap_dead(s, c);
		sup_decide(s, vm_exit_status(e), "%.*s", (int)sizeof(e->ve_text),
			   ipc_str_ok(e->ve_text, sizeof(e->ve_text)) ? e->ve_text : "(garbled)");
		sup_stop_all(s);
	}
}

/* Whether c's process is replaced when it dies. */
static int replaceable(const struct sup *s, const struct child *c)
{
	return s->cfg.restart && c->dev >= 0 && s->devs[c->dev].kind->restartable;
}

/* Whether the VM goes on without c's process when it dies and is not replaced. */
static int expendable(const struct sup *s, const struct child *c)
{
	return c->dev >= 0 && s->devs[c->dev].kind->expendable && !replaceable(s, c);
}

static void on_spawned(struct sup *s, struct child *spawner, const void *buf, size_t len,
		       const int *fds, size_t nfds);

/* A process that waited for its first client (an expendable kind's) will not start: the VM
 * goes on without it, and its socket closes, so that clients are refused, not kept waiting. */
static void never_started(struct sup *s, struct child *c, const char *what, int err)
{
	log_info("%s: %s: %s; the VM goes on without it", c->name, what, strerror(-err));
	c->restarting = c->unstarted = 0;
	kinds_close(&s->devs[c->dev]);
}

/* Without restarts, the spawner goes once the last process it was kept for has started:
 * a privileged process for no more time than it is needed. */
static void dismiss_spawner(struct child *spawner)
{
	struct ipc_empty m;

	if (spawner->dismissed || spawner->exited)
		return;
	ipc_init(&m, IPC_STOP, sizeof(m));
	spawner->dismissed = 1;
	if (ipc_send(spawner->ctl, &m) < 0)
		log_warnx("spawner: cannot tell it to stop");
	log_debug("spawner: nothing left to start; stopping it");
}

static void child_ctl_read(struct sup *s, struct child *c)
{
	_Alignas(8) char buf[IPC_MAX_MSG];
	int fds[IPC_MAX_FDS];
	size_t nfds = 0;
	ssize_t n;

	if (c->ctl < 0 || c->ctl_eof)
		return;
	if (c->is_spawner)
		n = ipc_recv_fds(c->ctl, buf, IPC_SPAWNED, fds, nitems(fds), &nfds);
	else
		n = ipc_recv(c->ctl, buf);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		/* EOF or error: the child is going; its pidfd will say how. A device
		 * that will be replaced keeps the fd's number for its successor's. */
		epoll_ctl(s->ep, EPOLL_CTL_DEL, c->ctl, NULL);
		c->ctl_eof = 1;
		if (!replaceable(s, c)) {
			close(c->ctl);
			c->ctl = -1;
		}
		return;
	}
	if (c->is_spawner)
		on_spawned(s, c, buf, (size_t)n, fds, nfds);
	else
		on_child_msg(s, c, buf, (size_t)n);
}

/*
 * A seccomp kill is logged by the kernel's audit code ("... pid=N ...
 * syscall=M ..."); find the record for pid in /dev/kmsg (opened and moved to
 * its end at start) to name the call. kauditd prints asynchronously, so give
 * it a moment.
 */
static int seccomp_syscall_of(struct sup *s, pid_t pid)
{
	char rec[2048], key[32];

	if (s->kmsg_fd < 0)
		return -1;
	snprintf(key, sizeof(key), " pid=%d ", (int)pid);
	for (int tries = 0; tries < 100; tries++) {
		ssize_t n;

		while ((n = read(s->kmsg_fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
			char *p;

			if (n <= 0)
				continue; /* EPIPE: records were overwritten; read on */
			rec[n] = '\0';
			p = strstr(rec, "type=1326");
			if (p && strstr(p, key) && (p = strstr(p, " syscall=")))
				return atoi(p + 9);
		}
		usleep(10000);
	}
	return -1;
}

static void describe_exit(struct sup *s, pid_t pid, char *buf, size_t len, const siginfo_t *si)
{
	int nr;

	if (si->si_code == CLD_EXITED) {
		snprintf(buf, len, "exited with status %d", si->si_status);
	} else if (si->si_status == SIGSYS && (nr = seccomp_syscall_of(s, pid)) >= 0) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		snprintf(buf, len, "was killed by seccomp for system call %s (%d)", name ? name : "?", nr);
		free(name);
	} else if (si->si_status == SIGSYS)
		snprintf(buf, len, "was killed by seccomp (signal %d, SIGSYS; %s)", si->si_status,
			 s->kmsg_fd < 0 ? "the kernel's audit record names the call, and bulkhead "
					  "may not read /dev/kmsg" : "no audit record found");
	else
		snprintf(buf, len, "was killed by signal %d (SIG%s)", si->si_status,
			 sigabbrev_np(si->si_status) ? sigabbrev_np(si->si_status) : "?");
}

/* Failures of c within the last SUP_RESTART_WINDOW_MS, this one counted. */
static unsigned int failures_in_window(const struct sup *s, struct child *c)
{
	uint64_t now = now_ns(), window = (uint64_t)s->restart_window_ms * 1000000;
	unsigned int n = 0;

	memmove(&c->failed_ns[1], &c->failed_ns[0], sizeof(c->failed_ns) - sizeof(c->failed_ns[0]));
	c->failed_ns[0] = now;
	while (n < nitems(c->failed_ns) && c->failed_ns[n] && now - c->failed_ns[n] <= window)
		n++;
	return n;
}

/*
 * --on-device-failure restart: a device's process died while the guest runs.
 * Its next incarnation comes from the spawner (on_spawned); the vCPUs that
 * touch the device meanwhile wait for it. More than SUP_RESTART_MAX failures
 * within the window is a crash loop, not bad luck: the VM ends.
 */
static void restart_device(struct sup *s, struct child *c, const char *how)
{
	unsigned int n = failures_in_window(s, c);
	int err;

	if (n > SUP_RESTART_MAX) {
		sup_decide(s, EXIT_VM_FAILED,
			   "%s (pid %d) %s: %u failures within %u ms, more than %d; not restarting it",
			   c->name, (int)c->pid, how, n, s->restart_window_ms, SUP_RESTART_MAX);
		sup_stop_all(s);
		return;
	}
	log_info("%s (pid %d) %s; restarting it (restart %u; %u failure%s in the last %u ms)",
		 c->name, (int)c->pid, how, c->gen + 1, n, n == 1 ? "" : "s", s->restart_window_ms);
	c->restarting = 1;
	err = vm_ask_respawn(s, (unsigned int)c->dev, 0);
	if (err < 0) {
		sup_decide(s, EXIT_VM_FAILED, "%s: cannot ask for its restart: %s", c->name,
			   strerror(-err));
		sup_stop_all(s);
	}
}

static struct child *vcpu_child(struct sup *s)
{
	for (unsigned int i = 0; i < s->nchildren; i++) {
		if (s->children[i].is_vcpu)
			return &s->children[i];
	}
	return NULL;
}

static int watch(struct sup *s, int fd, unsigned int kind, unsigned int i)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG(kind, i) };

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The new incarnation takes the old one's place (or the placeholders of a child that had
 * none yet, vm.c start_later): same child, same control fd number. */
static int adopt(struct sup *s, struct child *c, pid_t pid, int pidfd, int ctl)
{
	unsigned int i = (unsigned int)(c - s->children);

	if (dup3(ctl, c->ctl, O_CLOEXEC) < 0)
		return -errno;
	c->ctl_eof = 0;
	c->pid = pid;
	c->pidfd = pidfd;
	c->exited = 0;
	c->ready = 0;
	c->restarting = 0;
	c->error_said = 0;
	c->gen += !c->unstarted;
	c->unstarted = 0;
	if (watch(s, c->ctl, TAG_CTL, i) < 0 || watch(s, c->pidfd, TAG_PIDFD, i) < 0)
		return -errno;
	return 0;
}

/* The fds SPAWNED says follow its pidfd and control end, if they are the ones c's kind needs. */
static int spawned_ok(const struct sup *s, const struct child *c, const struct ipc_spawn *m,
		      size_t nfds)
{
	uint32_t known = IPC_SPAWN_FD_STAT | IPC_SPAWN_FD_SMAPS | IPC_SPAWN_FD_CHAN;
	int chan = s->devs[c->dev].kind->transport != NULL;

	return !(m->sp_fds & ~known) && !!(m->sp_fds & IPC_SPAWN_FD_CHAN) == chan &&
	       nfds == 2 + (size_t)__builtin_popcount(m->sp_fds);
}

/* Its /proc files take its predecessor's numbers (the PROC_FD rules name them), if it had any. */
static void adopt_proc_file(int *old, int fd)
{
	if (*old >= 0 && dup3(fd, *old, O_CLOEXEC) < 0)
		log_warn("dup3 /proc file");
}

/* SPAWNED: the device's next process, its /proc files, and the vcpu process's end of its
 * channel. */
static void on_spawned(struct sup *s, struct child *spawner, const void *buf, size_t len,
		       const int *fds, size_t nfds)
{
	static const struct ipc_handler table[] = {
		{ IPC_SPAWNED, sizeof(struct ipc_spawn), (1u << PHASE_RUNNING) | (1u << PHASE_STOPPING),
		  NULL },
	};
	const struct ipc_spawn *m = buf;
	struct child *c = NULL, *vcpu = vcpu_child(s);
	struct ipc_vcpu_dev_swap swap;
	int err = -EPROTO;
	size_t k = 2;

	if (ipc_check(table, nitems(table), buf, len, 1u << s->phase) && m->sp_index < s->ndevs)
		c = child_named(s, s->devs[m->sp_index].name);
	if (c && c->restarting && m->sp_errno == 0 && spawned_ok(s, c, m, nfds) && vcpu &&
	    !vcpu->exited)
		err = adopt(s, c, (pid_t)m->sp_pid, fds[0], fds[1]);
	else if (c && c->restarting && m->sp_errno > 0 && nfds == 0)
		err = -m->sp_errno;
	if (err == 0 && (m->sp_fds & IPC_SPAWN_FD_STAT))
		adopt_proc_file(&c->stat_fd, fds[k++]);
	if (err == 0 && (m->sp_fds & IPC_SPAWN_FD_SMAPS))
		adopt_proc_file(&c->smaps_fd, fds[k++]);
	if (err == 0 && (m->sp_fds & IPC_SPAWN_FD_CHAN)) {
		ipc_init(&swap, IPC_VCPU_DEV_SWAP, sizeof(swap));
		snprintf(swap.ds_name, sizeof(swap.ds_name), "%s", c->name);
		err = ipc_send_fd(vcpu->ctl, &swap, fds[k]);
	}
	/* The pidfd is the child's now (adopt); the rest were copied or not wanted. */
	for (k = c && c->pidfd == fds[0] ? 1 : 0; k < nfds; k++)
		close(fds[k]);
	if (err < 0 && s->phase == PHASE_RUNNING && c && c->unstarted && s->devs[c->dev].kind->expendable) {
		never_started(s, c, "cannot start it", err);
	} else if (err < 0 && s->phase == PHASE_RUNNING) {
		sup_decide(s, EXIT_VM_FAILED, "%s: cannot restart it: %s", c ? c->name : spawner->name,
			   strerror(-err));
		sup_stop_all(s);
	}
	if (s->phase == PHASE_RUNNING && !vm_spawner_needed(s))
		dismiss_spawner(spawner);
}

/*
 * Its first client came: the process starts now, from the spawner (on_spawned),
 * and takes the client from the backlog. Once the VM ends, nothing starts.
 */
static void start_on_demand(struct sup *s, struct child *c)
{
	int err;

	epoll_ctl(s->ep, EPOLL_CTL_DEL, kinds_listen_fd(&s->devs[c->dev]), NULL);
	if (s->phase != PHASE_RUNNING || !c->unstarted || c->restarting)
		return;
	log_debug("%s: a first client; starting it", c->name);
	c->restarting = 1;
	err = vm_ask_respawn(s, (unsigned int)c->dev, 1);
	if (err < 0)
		never_started(s, c, "cannot ask for its start", err);
}

/* How c's process ended, for the API: what it said (ERROR), and how it died. */
static void record_failure(struct sup *s, struct child *c, const char *how)
{
	char said[sizeof(c->failure)];

	c->failed_at = now_ns() - s->launch_ns;
	if (!c->error_said) {
		snprintf(c->failure, sizeof(c->failure), "%s", how);
		return;
	}
	memcpy(said, c->failure, sizeof(said));
	text_set(c->failure, sizeof(c->failure), "%s (%s)", said, how);
	c->error_said = 0;
}

static void child_reap(struct sup *s, struct child *c)
{
	const struct dev_kind *kind;
	siginfo_t si = { 0 };
	char how[192];

	/* __WALL: a device the spawner started has no exit signal (spawn.c). */
	if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG | __WALL) < 0) {
		if (errno != ECHILD)
			return;
		/* Not ours to reap (it should be): gone, with no status to tell. */
		si.si_code = CLD_KILLED;
		si.si_status = 0;
	} else if (si.si_pid == 0) {
		return;
	}
	/* Read what it said before it went: a VM_EXIT or ERROR explains the exit. */
	while (c->ctl >= 0 && !c->ctl_eof)
		child_ctl_read(s, c);
	c->exited = 1;
	epoll_ctl(s->ep, EPOLL_CTL_DEL, c->pidfd, NULL);
	close(c->pidfd);
	c->pidfd = -1;
	describe_exit(s, c->pid, how, sizeof(how), &si);
	/* Dead before any child was ready: main asks the probe whether the jail was why. */
	if (s->jail_unprobed && !c->is_spawner)
		s->jail_failed = 1;
	if (s->phase == PHASE_STOPPING && c->is_vcpu)
		sup_send_stop(s, 0);
	if (s->phase == PHASE_STOPPING && si.si_code == CLD_EXITED && si.si_status == 0)
		return;
	if (c->dismissed && si.si_code == CLD_EXITED && si.si_status == 0)
		return;
	record_failure(s, c, how);
	if (s->phase == PHASE_RUNNING && s->status < 0 && replaceable(s, c)) {
		restart_device(s, c, how);
		return;
	}
	if (s->phase == PHASE_RUNNING && s->status < 0 && expendable(s, c)) {
		log_info("%s (pid %d) %s; the VM goes on without it (--on-device-failure restart "
			 "would replace it)", c->name, (int)c->pid, how);
		/* Its host resources go with it: a client of the API socket is refused, not
		 * left waiting on a socket nobody serves. */
		kinds_close(&s->devs[c->dev]);
		return;
	}
	if (s->phase == PHASE_STOPPING && s->status >= 0)
		log_debug("%s (pid %d) %s", c->name, (int)c->pid, how);
	kind = c->dev >= 0 ? s->devs[c->dev].kind : NULL;
	sup_decide(s, EXIT_VM_FAILED, "%s (pid %d) %s%s%s", c->name, (int)c->pid, how,
		   s->cfg.restart && kind && !kind->restartable ? "; not restartable: " : "",
		   s->cfg.restart && kind && !kind->restartable ? kind->no_restart_reason : "");
	sup_stop_all(s);
}

static void on_signal(struct sup *s)
{
	struct signalfd_siginfo si;

	if (read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	s->signalled = 1;
	sup_decide(s, EXIT_SIGNAL_BASE + (int)si.ssi_signo, "stopped by SIG%s",
		   sigabbrev_np((int)si.ssi_signo) ? sigabbrev_np((int)si.ssi_signo) : "?");
	sup_stop_all(s);
}

static int sup_watch(struct sup *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG(TAG_SIGNAL, 0) };

	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sigfd, &ev) < 0)
		return -errno;
	for (unsigned int i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->exited)
			continue;
		ev.data.u64 = TAG(TAG_CTL, i);
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->ctl, &ev) < 0)
			return -errno;
		ev.data.u64 = TAG(TAG_PIDFD, i);
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->pidfd, &ev) < 0)
			return -errno;
	}
	return 0;
}

static int children_left(const struct sup *s)
{
	int n = 0;

	for (unsigned int i = 0; i < s->nchildren; i++)
		n += !s->children[i].exited;
	return n;
}

static void kill_stragglers(struct sup *s)
{
	for (unsigned int i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->exited)
			continue;
		log_warnx("%s (pid %d) did not stop in time; killing it", c->name, (int)c->pid);
		syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
	}
}

static int phase_timeout_ms(const struct sup *s, uint64_t phase_start)
{
	uint64_t limit = s->phase == PHASE_STARTING ? SUP_READY_TIMEOUT_MS : SUP_STOP_TIMEOUT_MS;
	uint64_t spent = (now_ns() - phase_start) / 1000000;

	if (s->phase == PHASE_RUNNING)
		return -1;
	return spent >= limit ? 0 : (int)(limit - spent);
}

static void on_event(struct sup *s, uint64_t tag)
{
	unsigned int kind = (unsigned int)(tag >> 32), i = (unsigned int)tag;

	if (kind == TAG_SIGNAL)
		on_signal(s);
	else if (kind == TAG_CTL && i < s->nchildren)
		child_ctl_read(s, &s->children[i]);
	else if (kind == TAG_PIDFD && i < s->nchildren)
		child_reap(s, &s->children[i]);
	else if (kind == TAG_LISTEN && i < s->nchildren)
		start_on_demand(s, &s->children[i]);
}

int sup_run(struct sup *s)
{
	uint64_t phase_start = now_ns();
	enum sup_phase last = s->phase;
	int killed = 0;

	if (sup_watch(s) < 0) {
		sup_decide(s, EXIT_VM_FAILED, "cannot watch the children: %s", strerror(errno));
		sup_stop_all(s);
	}
	while (children_left(s)) {
		struct epoll_event evs[8];
		int timeout = killed ? -1 : phase_timeout_ms(s, phase_start);
		int n = epoll_wait(s->ep, evs, (int)nitems(evs), timeout);

		if (n < 0 && errno != EINTR) {
			sup_decide(s, EXIT_VM_FAILED, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++)
			on_event(s, evs[i].data.u64);
		if (s->phase != last) {
			last = s->phase;
			phase_start = now_ns();
			continue;
		}
		if (n == 0 && s->phase == PHASE_STARTING) {
			sup_decide(s, EXIT_VM_FAILED, "the children did not get ready within %d s",
				   SUP_READY_TIMEOUT_MS / 1000);
			sup_stop_all(s);
		} else if (n == 0 && s->phase == PHASE_STOPPING && !killed) {
			kill_stragglers(s);
			killed = 1;
		}
	}
	/* A second start (jailplan_recheck) only once every child of this one is gone. */
	if (children_left(s))
		s->jail_failed = 0;
	return s->status >= 0 ? s->status : EXIT_VM_FAILED;
}
