/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * write-floor FILE BYTES CHUNK: the host's own floor under the shared
 * directory's write figure. BYTES go to a new FILE in pwrites of CHUNK bytes,
 * as a 9p server's Twrites of a whole msize land, then one fsync, as the
 * Tfsync does; no VMM, no guest. Prints
 *   WRITEFLOOR bytes N writes_us W fsync_us F
 * removes FILE, and exits 0 (1 on any failure, said on stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static int fail(const char *what)
{
	fprintf(stderr, "write-floor: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	unsigned long long bytes, chunk;
	uint64_t t0, t1, t2;
	char *buf;
	int fd;

	if (argc != 4 || (bytes = strtoull(argv[2], NULL, 0)) == 0 ||
	    (chunk = strtoull(argv[3], NULL, 0)) == 0 || chunk > (64u << 20)) {
		fprintf(stderr, "usage: write-floor FILE BYTES CHUNK (CHUNK at most 64 MiB)\n");
		return 2;
	}
	buf = malloc(chunk);
	if (!buf)
		return fail("malloc");
	memset(buf, 0x5a, chunk);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(argv[1]);
	t0 = now_us();
	for (unsigned long long off = 0; off < bytes; off += chunk) {
		size_t n = bytes - off < chunk ? (size_t)(bytes - off) : (size_t)chunk;

		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			return fail("pwrite");
	}
	t1 = now_us();
	if (fsync(fd) < 0)
		return fail("fsync");
	t2 = now_us();
	close(fd);
	if (unlink(argv[1]) < 0)
		return fail("unlink");
	printf("WRITEFLOOR bytes %llu writes_us %llu fsync_us %llu\n", bytes,
	       (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1));
	return 0;
}
