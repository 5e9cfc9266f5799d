/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * boot-clock: time a VMM the way bench/run.py does on the host, where there is
 * no Python (inside the nested tier's L1, busybox only). It starts
 * COMMAND with its standard output on a pipe, and prints one line:
 *
 *   BOOTCLOCK line_ms L exit_ms E status S bytes B first_ms F
 *
 * L: from just before the fork to the first time TEXT appeared in that output
 * (-1 if it never did); E: to the command's exit; F: to its first byte (-1:
 * none); S: its exit status (128+N
 * for a signal); B: bytes of output. With -o FILE the output is also kept
 * there (for the boot logs), else it is read and dropped, as a console pipe
 * that nobody looks at would be.
 *
 * usage: boot-clock [-o FILE] TEXT COMMAND [ARG...]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEXT_MAX 256

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

#define CHUNK 65536

/*
 * Whether text appears in what was read so far: scan holds the last len-1
 * bytes of the output before buf (*ntail of them) and has room for buf after
 * them.
 */
static int seen(const char *text, size_t len, char *scan, size_t *ntail, const char *buf, size_t n)
{
	size_t all = *ntail + n;

	memcpy(scan + *ntail, buf, n);
	if (memmem(scan, all, text, len))
		return 1;
	*ntail = all < len - 1 ? all : len - 1;
	memmove(scan, scan + all - *ntail, *ntail);
	return 0;
}

int main(int argc, char **argv)
{
	const char *keep = NULL, *text;
	static char buf[CHUNK], scan[TEXT_MAX + CHUNK];
	size_t len, ntail = 0;
	unsigned long long bytes = 0;
	double line_ms = -1, first_ms = -1;
	struct timespec t0;
	int fds[2], out = -1, status, arg = 1;
	pid_t pid;

	if (argc > 2 && strcmp(argv[1], "-o") == 0) {
		keep = argv[2];
		arg = 3;
	}
	if (argc - arg < 2) {
		fprintf(stderr, "usage: boot-clock [-o FILE] TEXT COMMAND [ARG...]\n");
		return 2;
	}
	text = argv[arg];
	len = strlen(text);
	if (len == 0 || len > TEXT_MAX) {
		fprintf(stderr, "boot-clock: TEXT must have 1 to %d bytes\n", TEXT_MAX);
		return 2;
	}
	if (keep && (out = open(keep, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		perror(keep);
		return 2;
	}
	if (pipe2(fds, O_CLOEXEC) < 0) {
		perror("pipe2");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		if (dup2(fds[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[arg + 1], argv + arg + 1);
		perror(argv[arg + 1]);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t n = read(fds[0], buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (first_ms < 0)
			first_ms = ms_since(&t0);
		if (line_ms < 0 && seen(text, len, scan, &ntail, buf, (size_t)n))
			line_ms = ms_since(&t0);
		bytes += (unsigned long long)n;
		if (out >= 0 && write(out, buf, (size_t)n) != n) {
			perror(keep);
			close(out);
			out = -1;
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("waitpid");
			return 2;
		}
	}
	printf("BOOTCLOCK line_ms %.1f exit_ms %.1f status %d bytes %llu first_ms %.1f\n", line_ms,
	       ms_since(&t0), WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), bytes,
	       first_ms);
	return 0;
}
