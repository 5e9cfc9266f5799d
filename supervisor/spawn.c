/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Starting children: clone3 (a pidfd for the supervisor's event loop) + exec,
 * with exactly the fds the child needs at the numbers its configuration
 * names, stderr for logging, and nothing else.
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
#include <unistd.h>

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
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	int w;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		for (size_t i = 0; slash && i < nitems(rel); i++) {
			w = snprintf(buf, len, "%s%s/bulkhead-%s", self, rel[i], name);
			if (w > 0 && (size_t)w < len && access(buf, X_OK) == 0)
				return 0;
		}
	}
	w = snprintf(buf, len, "%s/bulkhead-%s", BH_LIBEXECDIR, name);
	if (w < 0 || (size_t)w >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -errno;
}

/* In the child, between clone and exec: only async-signal-safe calls. */
static void child_place_fds(int ctl, const struct fd_map *m)
{
	int tmp[SPAWN_MAX_FDS + 1];
	int top = m->next > IPC_FD_CONTROL + 1 ? m->next : IPC_FD_CONTROL + 1;

	/* First lift every source above every target, so no dup2 clobbers a source. */
	tmp[0] = fcntl(ctl, F_DUPFD_CLOEXEC, top);
	for (unsigned int i = 0; i < m->n; i++)
		tmp[i + 1] = fcntl(m->src[i], F_DUPFD_CLOEXEC, top);
	for (unsigned int i = 0; i <= m->n; i++) {
		if (tmp[i] < 0)
			_exit(127);
	}
	if (dup2(tmp[0], IPC_FD_CONTROL) < 0)
		_exit(127);
	for (unsigned int i = 0; i < m->n; i++) {
		if (dup2(tmp[i + 1], m->dst[i]) < 0)
			_exit(127);
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
		_exit(127);
}

static void child_reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
}

int spawn_child(struct child *c, const char *exe, int ctl_child_end, const struct fd_map *m,
		unsigned int spawn_flags)
{
	struct clone_args args = {
		.flags = CLONE_PIDFD,
		.pidfd = (uintptr_t)&c->pidfd,
		.exit_signal = SIGCHLD,
	};
	char *const argv[] = { c->title, NULL };
	char hook[128];
	/* The test hook's fault is made by the first process of a name, not by its replacements. */
	char *envp[] = { (spawn_flags & SPAWN_SIBLING) ? NULL
						       : testhook_child_env(c->title, hook, sizeof(hook)),
			 NULL };
	uid_t uid = getuid();
	gid_t gid = getgid();
	long pid;

	if (spawn_flags & SPAWN_NEWPID)
		args.flags |= CLONE_NEWPID;
	if (spawn_flags & SPAWN_NEWUSER)
		args.flags |= CLONE_NEWUSER;
	/* Back only once the child has exec'd (or died): its /proc files are then its own. */
	if (spawn_flags & SPAWN_WAIT_EXEC)
		args.flags |= CLONE_VFORK;
	/* clone3 takes no exit signal with CLONE_PARENT: the supervisor waits with __WALL. */
	if (spawn_flags & SPAWN_SIBLING) {
		args.flags |= CLONE_PARENT;
		args.exit_signal = 0;
	}
	c->pidfd = -1;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Die with the supervisor; the control socket's EOF covers the race before this. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if ((spawn_flags & SPAWN_NEWUSER) && jail_map_ids(uid, gid) < 0)
			_exit(126);
		child_reset_signals();
		child_place_fds(ctl_child_end, m);
		execve(exe, argv, envp);
		_exit(127);
	}
	c->pid = (pid_t)pid;
	return 0;
}
