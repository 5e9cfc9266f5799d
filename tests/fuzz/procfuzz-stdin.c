/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * procfuzz-stdin: the process-level harness (procfuzz.c) as a plain
 * program, one input per run, for AFL++ and for replaying a crash:
 *
 *   procfuzz-stdin blk|net|serial|9p [FILE]
 *
 * reads the input from FILE (AFL++: @@) or stdin, starts the device
 * process, runs the input, stops the child and exits 0; a finding aborts
 * (SIGABRT) after printing what broke, which AFL++ records as a crash.
 * Built with afl-clang-fast, it also runs AFL++'s persistent loop
 * (__AFL_LOOP), reusing one child for up to 1000 inputs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fz.h"
#include "procfuzz.h"

#define MAX_INPUT (1 << 20)

static size_t read_input(int fd, uint8_t *buf)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, MAX_INPUT - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			perror("read");
			exit(2);
		}
		if (r == 0 || (n += (size_t)r) == MAX_INPUT)
			return n;
	}
}

int main(int argc, char **argv)
{
	static uint8_t buf[MAX_INPUT];
	int dev = argc > 1 ? procfuzz_dev_from_name(argv[1]) : -1;
	int fd = STDIN_FILENO;

	if (dev < 0 || argc > 3) {
		fprintf(stderr, "usage: %s blk|net|serial|9p|rng|vsock [FILE]   (input on stdin without FILE)\n", argv[0]);
		return 2;
	}
	procfuzz_init((enum procfuzz_dev)dev);
#ifdef __AFL_LOOP
	while (__AFL_LOOP(1000)) {
#endif
		if (argc == 3) {
			fd = open(argv[2], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
				return 2;
			}
		}
		procfuzz_one(buf, read_input(fd, buf));
		if (fd != STDIN_FILENO)
			close(fd);
#ifdef __AFL_LOOP
	}
#endif
	procfuzz_stop();
	return 0;
}
