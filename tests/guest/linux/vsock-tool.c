/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vsock-tool: both ends of the Linux tier's vsock case, built static by
 * build-kit.sh (busybox has no socat). In the guest it speaks AF_VSOCK; on
 * the VMM's side (the nested L1, or the host) it speaks Firecracker's hybrid
 * convention over UNIX sockets. The receiver of a stream answers, at its
 * end, "<bytes> 0x<crc32>\n" (zlib's CRC-32), which the sender compares with
 * its own: exit status 0 only if it matches.
 *
 *   vsock-tool listen PORT                   guest: take one connection on PORT
 *   vsock-tool send PORT BYTES SEED          guest: to CID 2, PORT
 *   vsock-tool host-sink PATH                host: take one connection on PATH
 *   vsock-tool host-send PATH PORT BYTES SEED
 *                                            host: to the guest's PORT through PATH
 *
 * Each prints one line: "vsock-tool: <what> <bytes> bytes crc32 0x<crc> in
 * <seconds> s (<MB/s> MB/s)[, answer ok|<answer>]".
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "vsock-tool: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* splitmix64, as the test guest's pattern: byte i of seed's stream. */
static void pattern(uint8_t *p, size_t n, uint64_t off, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t z = (seed ^ ((off + i) >> 3)) + 0x9e3779b97f4a7c15ull;

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		p[i] = (uint8_t)(z >> (8 * ((off + i) & 7)));
	}
}

static void report(const char *what, uint64_t n, uint32_t crc, double t0, const char *answer)
{
	double s = now() - t0;

	printf("vsock-tool: %s %llu bytes crc32 0x%08x in %.2f s (%.1f MB/s)%s%s\n", what,
	       (unsigned long long)n, crc, s, s > 0 ? n / s / 1e6 : 0.0, answer ? ", answer " : "",
	       answer ? answer : "");
	fflush(stdout);
}

/* Read to the end; answer with the count and CRC; print them. */
static int sink(int fd, const char *what)
{
	static uint8_t buf[CHUNK];
	uint64_t n = 0;
	uint32_t crc = 0;
	double t0 = now();
	char line[48];
	ssize_t r;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		crc = crc32(crc, buf, (size_t)r);
		n += (uint64_t)r;
	}
	if (r < 0)
		die("read");
	snprintf(line, sizeof(line), "%llu 0x%08x\n", (unsigned long long)n, crc);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		die("write the answer");
	report(what, n, crc, t0, NULL);
	close(fd);
	return 0;
}

/* Send bytes of the pattern, shut, read the answer; 0 if it is ours. */
static int source(int fd, uint64_t bytes, uint64_t seed, const char *what)
{
	static uint8_t buf[CHUNK];
	char answer[64], want[48];
	uint64_t sent = 0;
	uint32_t crc = 0;
	double t0 = now();
	size_t got = 0;
	ssize_t r;

	while (sent < bytes) {
		size_t n = bytes - sent < sizeof(buf) ? (size_t)(bytes - sent) : sizeof(buf);
		size_t off = 0;

		pattern(buf, n, sent, seed);
		crc = crc32(crc, buf, n);
		while (off < n) {
			r = write(fd, buf + off, n - off);
			if (r <= 0)
				die("write");
			off += (size_t)r;
		}
		sent += n;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		die("shutdown");
	while (got < sizeof(answer) - 1 && (r = read(fd, answer + got, sizeof(answer) - 1 - got)) > 0)
		got += (size_t)r;
	answer[got] = '\0';
	snprintf(want, sizeof(want), "%llu 0x%08x\n", (unsigned long long)bytes, crc);
	answer[strcspn(answer, "\n")] = '\0';
	want[strcspn(want, "\n")] = '\0';
	report(what, sent, crc, t0, strcmp(answer, want) == 0 ? "ok" : answer[0] ? answer : "(none)");
	close(fd);
	return strcmp(answer, want) == 0 ? 0 : 1;
}

/* Bind s to a, listen, take one connection and close s; the connection. */
static int accept_one(int s, const struct sockaddr *a, socklen_t len, const char *what)
{
	int c;

	if (s < 0 || bind(s, a, len) < 0 || listen(s, 1) < 0)
		die(what);
	if (a->sa_family == AF_VSOCK) {
		printf("vsock-tool: listening on port %u\n", ((const struct sockaddr_vm *)a)->svm_port);
		fflush(stdout);
	}
	c = accept(s, NULL, NULL);
	if (c < 0)
		die("accept");
	close(s);
	return c;
}

static int vsock_listen(unsigned int port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port };

	return accept_one(socket(AF_VSOCK, SOCK_STREAM, 0), (struct sockaddr *)&a, sizeof(a),
			  "AF_VSOCK listen");
}

static int vsock_dial(unsigned int port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = port };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("AF_VSOCK connect to CID 2");
	return s;
}

static void unix_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		fprintf(stderr, "vsock-tool: %s: too long\n", path);
		exit(2);
	}
	strcpy(a->sun_path, path);
}

static int host_listen(const char *path)
{
	struct sockaddr_un a;

	unix_addr(&a, path);
	unlink(path);
	return accept_one(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&a, sizeof(a), path);
}

/* Through PATH to the guest's port: "CONNECT port\n", then "OK <port>\n". */
static int host_dial(const char *path, unsigned int port)
{
	struct sockaddr_un a;
	char line[32];
	size_t n = 0;
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	unix_addr(&a, path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die(path);
	n = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n", port);
	if (write(s, line, n) != (ssize_t)n)
		die("write CONNECT");
	for (n = 0; n < sizeof(line) - 1; n++) {
		if (read(s, line + n, 1) != 1)
			break;
		if (line[n] == '\n')
			break;
	}
	line[n] = '\0';
	if (strncmp(line, "OK ", 3) != 0) {
		fprintf(stderr, "vsock-tool: CONNECT %u: no OK (got '%s')\n", port, line);
		exit(1);
	}
	return s;
}

int main(int argc, char **argv)
{
	crc_init();
	if (argc == 3 && strcmp(argv[1], "listen") == 0)
		return sink(vsock_listen((unsigned int)atoi(argv[2])), "received");
	if (argc == 5 && strcmp(argv[1], "send") == 0)
		return source(vsock_dial((unsigned int)atoi(argv[2])), strtoull(argv[3], NULL, 0),
			      strtoull(argv[4], NULL, 0), "sent");
	if (argc == 3 && strcmp(argv[1], "host-sink") == 0)
		return sink(host_listen(argv[2]), "host received");
	if (argc == 6 && strcmp(argv[1], "host-send") == 0)
		return source(host_dial(argv[2], (unsigned int)atoi(argv[3])), strtoull(argv[4], NULL, 0),
			      strtoull(argv[5], NULL, 0), "host sent");
	fprintf(stderr, "usage: vsock-tool listen PORT | send PORT BYTES SEED | host-sink PATH |"
			" host-send PATH PORT BYTES SEED\n");
	return 2;
}
