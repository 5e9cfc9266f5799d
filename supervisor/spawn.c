/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Starting children: clone3 (a pidfd for the supervisor's event loop) + exec,
 * with exactly the fds the child needs at the numbers its configuration
 * names, stderr for logging, and nothing else. Where clone3 is refused
 * (Docker's default seccomp profile answers it with ENOSYS so that callers
 * fall back, as glibc does), clone with CLONE_PIDFD does the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/exedir.h"
#include "common/log.h"
#include "jail/jail.h"
#include "supervisor.h"
#include "testhooks/testhooks.h"

void fdmap_init(struct fd_map *m)
{
	memset(m, 0, sizeof(*m));
	m->next = IPC_FD_CONTROL + 1;
}

int fdmap_add(struct fd_map *m, int src)
{
	if (m->n >= SPAWN_MAX_FDS || src < 0)
		return -1;
	m->src[m->n] = src;
	m->dst[m->n] = m->next++;
	return m->dst[m->n++];
}

/* Helpers live beside bulkhead (the build tree), in ../libexec/bulkhead relative
 * to it (an installed tree, wherever DESTDIR put it), or in LIBEXECDIR. */
int helper_path(const char *name, char *buf, size_t len)
{
	static const char *const rel[] = { "", "/../libexec/bulkhead" };
	char self[PATH_MAX];
	int w;

	for (size_t i = 0; exe_dir(self, sizeof(self)) == 0 && i < nitems(rel); i++) {
		w = snprintf(buf, len, "%s%s/bulkhead-%s", self, rel[i], name);
		if (w > 0 && (size_t)w < len && access(buf, X_OK) == 0)
			return 0;
	}
	w = snprintf(buf, len, "%s/bulkhead-%s", BH_LIBEXECDIR, name);
	if (w < 0 || (size_t)w >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -errno;
}

/*
 * In the child, between clone and exec, only async-signal-safe calls: a step
 * that fails says which in one write(2) to stderr, then the child ends with
 * 127 (the supervisor reports that exit as the child's death).
 */
static _Noreturn void child_fail(const char *title, const char *step, int e)
{
	const char *what = strerrordesc_np(e);
	const char *const parts[] = { "bulkhead: spawn ", title, ": ", step, ": ",
				      what ? what : "error", "\n" };
	struct iovec iov[nitems(parts)];

	for (size_t i = 0; i < nitems(parts); i++) {
		iov[i].iov_base = (void *)(uintptr_t)parts[i]; /* writev only reads */
		iov[i].iov_len = strlen(parts[i]);
	}
	(void)!writev(STDERR_FILENO, iov, (int)nitems(iov));
	_exit(127);
}

static void child_place_fds(const char *title, int ctl, const struct fd_map *m)
{
	int tmp[SPAWN_MAX_FDS + 1];
	int top = m->next > IPC_FD_CONTROL + 1 ? m->next : IPC_FD_CONTROL + 1;

	/* First lift every source above every target, so no dup2 clobbers a source. */
	tmp[0] = fcntl(ctl, F_DUPFD_CLOEXEC, top);
	for (unsigned int i = 0; i < m->n; i++)
		tmp[i + 1] = fcntl(m->src[i], F_DUPFD_CLOEXEC, top);
	for (unsigned int i = 0; i <= m->n; i++) {
		if (tmp[i] < 0)
			child_fail(title, "duplicate the child's fds", errno);
	}
	if (dup2(tmp[0], IPC_FD_CONTROL) < 0)
		child_fail(title, "place the control socket", errno);
	for (unsigned int i = 0; i < m->n; i++) {
		if (dup2(tmp[i + 1], m->dst[i]) < 0)
			child_fail(title, "place the child's fds", errno);
	}
	/* Below top, keep stderr, the control socket and the targets; close the rest. */
	for (int fd = 0; fd < top; fd++) {
		int keep = fd == STDERR_FILENO || fd == IPC_FD_CONTROL;

		for (unsigned int i = 0; i < m->n && !keep; i++)
			keep = m->dst[i] == fd;
		if (!keep)
			close(fd);
	}
	if (syscall(SYS_close_range, (unsigned int)top, ~0u, 0) < 0)
		child_fail(title, "close every other fd", errno);
}

static void child_reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
}

/*
 * clone3, or clone where clone3 is refused: fork-like (no new stack), the
 * child's pidfd in *pidfd. Returns the pid, 0 in the child, or -errno.
 */
static long clone_pidfd(uint64_t flags, int exit_signal, int *pidfd)
{
	static int no_clone3; /* clone3 said ENOSYS once: it will not change its mind */
	struct clone_args args = {
		.flags = flags | CLONE_PIDFD,
		.pidfd = (uintptr_t)pidfd,
		.exit_signal = (uint64_t)exit_signal,
	};
	long pid;

	if (!no_clone3) {
		pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid >= 0)
			return pid;
		if (errno != ENOSYS && errno != EPERM)
			return -errno;
		if (errno == ENOSYS) {
			log_debug("clone3: %s: using clone", strerror(errno));
			no_clone3 = 1;
		}
	}
	/* x86_64 argument order: flags, stack, parent_tid (the pidfd), child_tid, tls. */
	pid = syscall(SYS_clone, (unsigned long)(flags | CLONE_PIDFD | (uint64_t)exit_signal), 0UL, pidfd,
		      NULL, 0UL);
	return pid < 0 ? -errno : pid;
}

/* The clone step as a message names it: what was asked for, and the option that asked. */
static const char *clone_step(unsigned int spawn_flags)
{
	if (spawn_flags & SPAWN_NEWUSER)
		return "clone with new user and PID namespaces (--jail on)";
	if (spawn_flags & SPAWN_NEWPID)
		return "clone with a new PID namespace (--jail on)";
	return "clone";
}

int spawn_child(struct child *c, const char *exe, int ctl_child_end, const struct fd_map *m,
		unsigned int spawn_flags)
{
	char *const argv[] = { c->title, NULL };
	char hook[128], hold[64];
	char *envp[3] = { NULL };
	size_t nenv = 0;
	uid_t uid = getuid();
	gid_t gid = getgid();
	uint64_t flags = 0;
	int exit_signal = SIGCHLD;
	long pid;
	int e;

	/* The test hook's fault is made by the first process of a name, not by its replacements. */
	if (!(spawn_flags & SPAWN_REPLACEMENT))
		envp[nenv] = testhook_child_env(c->title, hook, sizeof(hook));
	if (envp[nenv])
		nenv++;
	envp[nenv] = testhook_child_hold_env(c->title, hold, sizeof(hold));
	if (spawn_flags & SPAWN_NEWPID)
		flags |= CLONE_NEWPID;
	if (spawn_flags & SPAWN_NEWUSER)
		flags |= CLONE_NEWUSER;
	/* Back only once the child has exec'd (or died): its /proc files are then its own. */
	if (spawn_flags & SPAWN_WAIT_EXEC)
		flags |= CLONE_VFORK;
	/* A sibling (CLONE_PARENT) takes no exit signal of its own: the supervisor waits with __WALL. */
	if (spawn_flags & SPAWN_SIBLING) {
		flags |= CLONE_PARENT;
		exit_signal = 0;
	}
	c->pidfd = -1;
	pid = clone_pidfd(flags, exit_signal, &c->pidfd);
	if (pid < 0 && (spawn_flags & SPAWN_QUIET))
		return (int)pid;
	if (pid < 0) {
		log_warnx("%s: %s: %s%s", c->title, clone_step(spawn_flags), strerror((int)-pid),
			  (flags & (CLONE_NEWPID | CLONE_NEWUSER)) ? " (--jail no-namespaces runs without namespaces)"
								   : "");
		return (int)pid;
	}
	if (pid == 0) {
		/* Die with the supervisor; the control socket's EOF covers the race before this. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((spawn_flags & SPAWN_NEWUSER) && (e = jail_map_ids(uid, gid)) < 0)
			child_fail(c->title, "map ids in the new user namespace (--jail on)", -e);
		child_reset_signals();
		child_place_fds(c->title, ctl_child_end, m);
		execve(exe, argv, envp);
		child_fail(c->title, "exec", errno);
	}
	c->pid = (pid_t)pid;
	return 0;
}
