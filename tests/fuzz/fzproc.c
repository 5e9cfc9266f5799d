/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fz.h"
#include "fzproc.h"

#define FZPROC_MAX_FDS 16
#define FZPROC_TOP 64 /* the fds are lifted above this first, so no dup2 clobbers a source */

static _Noreturn void fzproc_exec(const char *exe, char *title, char *const envp[],
				  const int *src, const int *dst, unsigned int n, int log_fd)
{
	char *argv[2] = { title, NULL };
	int tmp[FZPROC_MAX_FDS];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (n > FZPROC_MAX_FDS)
		_exit(127);
	if (log_fd >= 0)
		dup2(log_fd, STDERR_FILENO);
	for (unsigned int i = 0; i < n; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, FZPROC_TOP);
		if (tmp[i] < 0)
			_exit(127);
	}
	for (unsigned int i = 0; i < n; i++) {
		if (dup2(tmp[i], dst[i]) < 0)
			_exit(127);
	}
	for (int fd = 0; fd < FZPROC_TOP; fd++) {
		int keep = fd == STDERR_FILENO;

		for (unsigned int i = 0; i < n && !keep; i++)
			keep = dst[i] == fd;
		if (!keep)
			close(fd);
	}
	if (syscall(SYS_close_range, (unsigned int)FZPROC_TOP, ~0u, 0) < 0)
		_exit(127);
	{
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int s = 1; s < NSIG; s++)
			signal(s, SIG_DFL);
	}
	execve(exe, argv, envp);
	_exit(127);
}

pid_t fzproc_spawn(const char *exe, char *title, char *const envp[], const int *src,
		   const int *dst, unsigned int n, const char *log_path, int newpid, int *pidfd)
{
	struct clone_args args;
	int log_fd = open(log_path ? log_path : "/dev/null",
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	long pid;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD | (newpid ? CLONE_NEWPID : 0);
	args.pidfd = (uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		fz_fail("clone3: %s (the full jail needs root; see BH_PROCFUZZ_JAIL)", strerror(errno));
	if (pid == 0)
		fzproc_exec(exe, title, envp, src, dst, n, log_fd);
	if (log_fd >= 0)
		close(log_fd);
	return (pid_t)pid;
}

int fzproc_ended(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

int fzproc_gone(int alive, int pidfd, void (*judge)(void))
{
	if (!alive)
		return 1;
	if (!fzproc_ended(pidfd))
		return 0;
	judge();
	return 1;
}
