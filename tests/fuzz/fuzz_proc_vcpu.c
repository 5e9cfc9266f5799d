/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_proc_vcpu: a compromised device against the real bulkhead-vcpu. Each
 * input is the script of evil-device (evildev.c), which the real supervisor
 * starts as blk0 beside the real vcpu and serial processes (test builds, so
 * that the device deadline can be 100 ms instead of 5 s). The guest
 * (mmio-loop, mixed) reads, writes and synchronously writes the device's
 * registers, shadowed and not, forever; the evil device answers with replies
 * of every size and type, out of order, never, with fds, or tears its shadow
 * page, and exits when its script ends.
 *
 * Checked: bulkhead ends every run within 20 s, with status 4 and a last
 * line that names blk0 (the device, not the vcpu process, is what failed);
 * the vcpu process never dies of a signal and never reports a protocol error
 * of its own; nothing of the VM is left running.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fz.h"

#define RUN_SECONDS 20
#define ERR_MAX 65536

static char dir[PATH_MAX];
static char bulkhead[PATH_MAX + 32], input[PATH_MAX + 32], image[PATH_MAX + 32];
static char guest[PATH_MAX];

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t n;

	if (in < 0)
		fz_fail("%s: %s (make all testhooks fuzz-build first)", from, strerror(errno));
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0)
		fz_fail("%s: %s", to, strerror(errno));
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, (size_t)n) != n)
			fz_fail("%s: short write", to);
	}
	close(in);
	close(out);
}

/* Copies, not links: bulkhead finds its helpers beside the file it was exec'd from. */
static void setup(void)
{
	static const char *const real[] = { "bulkhead", "bulkhead-vcpu", "bulkhead-serial" };
	char from[PATH_MAX + 64], to[PATH_MAX + 64];
	int fd;

	snprintf(dir, sizeof(dir), "/tmp/bulkhead-fuzz-vcpu.%d", (int)getpid());
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		fz_fail("%s: %s", dir, strerror(errno));
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++) {
		snprintf(from, sizeof(from), "%s/testhooks/%s", FUZZ_BINDIR, real[i]);
		snprintf(to, sizeof(to), "%s/%s", dir, real[i]);
		copy_file(from, to);
	}
	snprintf(from, sizeof(from), "%s/fuzz/evil-device", FUZZ_BINDIR);
	snprintf(to, sizeof(to), "%s/bulkhead-blk", dir);
	copy_file(from, to);
	snprintf(bulkhead, sizeof(bulkhead), "%s/bulkhead", dir);
	snprintf(input, sizeof(input), "%s/fuzz-input", dir);
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	snprintf(guest, sizeof(guest), "%s/guest/bulkhead-test-guest", FUZZ_BINDIR);
	fd = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		fz_fail("%s: %s", image, strerror(errno));
	close(fd);
}

static void write_input(const uint8_t *data, size_t size)
{
	int fd = open(input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		fz_fail("%s: %s", input, strerror(errno));
	close(fd);
}

static pid_t start(int err_fd)
{
	char kernel[PATH_MAX + 128], disk[PATH_MAX + 32];
	char *const argv[] = { bulkhead, "--name", "fzvcpu", "--kernel", kernel, "--memory", "size_mib=64",
			       "--pit", "off", "--serial", "none", "--disk", disk, NULL };
	char *const envp[] = { "BULKHEAD_TEST_DEADLINE_MS=100", NULL };
	pid_t pid;

	snprintf(kernel, sizeof(kernel),
		 "path=%s,cmdline=bulkhead.test=mmio-loop bulkhead.mmio-op=mixed", guest);
	snprintf(disk, sizeof(disk), "path=%s", image);
	pid = fork();
	if (pid < 0)
		fz_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(err_fd, STDERR_FILENO);
		execve(bulkhead, argv, envp);
		_exit(127);
	}
	return pid;
}

/* Read bulkhead's stderr until it closes or the run's time is up; 0 if it was up. */
static int collect(int fd, char *buf, size_t max, size_t *len)
{
	time_t end = time(NULL) + RUN_SECONDS;

	*len = 0;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (time(NULL) >= end)
			return 0;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		n = read(fd, buf + *len, max - 1 - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len >= max - 1)
			*len = 0; /* keep reading; only the last lines matter */
	}
	buf[*len] = '\0';
	return 1;
}

static const char *last_line(char *text)
{
	char *end = text + strlen(text);

	while (end > text && end[-1] == '\n')
		*--end = '\0';
	while (end > text && end[-1] != '\n')
		end--;
	return end;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char err[ERR_MAX];
	int pipefd[2], status;
	const char *line;
	size_t len;
	pid_t pid;

	write_input(data, size);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		fz_fail("pipe: %s", strerror(errno));
	pid = start(pipefd[1]);
	close(pipefd[1]);
	if (!collect(pipefd[0], err, sizeof(err), &len)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fz_fail("bulkhead did not end within %d s of a compromised device", RUN_SECONDS);
	}
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		fz_fail("waitpid: %s", strerror(errno));
	line = last_line(err);
	FZ_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 4, "bulkhead ended with status 0x%x: %s",
		 status, line);
	FZ_CHECK(strncmp(line, "bulkhead: blk0 ", 15) == 0, "the last line does not name blk0: %s", line);
	FZ_CHECK(!strstr(err, "vcpu (pid"), "the vcpu process died: %s", err);
	FZ_CHECK(!strstr(err, "vcpu: protocol error") && !strstr(err, "vcpu failed"),
		 "the vcpu process failed: %s", err);
	return 0;
}
