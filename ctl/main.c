/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-ctl: a small client of the API socket, run as `bulkhead ctl SOCKET
 * COMMAND` (the supervisor binary execs it; it links no HTTP code itself).
 * One request per command, the response read with the same http-parser the
 * server uses; the body goes to stdout. Exit status 0 for a 2xx answer, 1 for
 * any other answer or no answer, 2 for bad usage.
 *
 *   bulkhead ctl SOCKET ping|info|counters|metrics|pause|resume|shutdown|power-button
 */
#include <errno.h>
#include <http_parser.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define CTL_TIMEOUT_MS 15000 /* the server's own deadline is 10 s */
#define CTL_RESPONSE_MAX (1024 * 1024)

static const struct {
	const char *cmd, *method, *path;
} commands[] = {
	{ "ping", "GET", "/api/v1/vmm.ping" },
	{ "info", "GET", "/api/v1/vm.info" },
	{ "counters", "GET", "/api/v1/vm.counters" },
	{ "metrics", "GET", "/metrics" },
	{ "pause", "PUT", "/api/v1/vm.pause" },
	{ "resume", "PUT", "/api/v1/vm.resume" },
	{ "shutdown", "PUT", "/api/v1/vm.shutdown" },
	{ "power-button", "PUT", "/api/v1/vm.power-button" },
};

struct response {
	char *body;
	size_t len;
	int done;
};

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct response *r = p->data;

	memcpy(r->body + r->len, at, n); /* the whole response fits its buffer */
	r->len += n;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct response *r = p->data;

	r->done = 1;
	return 0;
}

/* A failure to reach the VM: one line, status 1. */
static _Noreturn void fail(const char *sock, const char *what)
{
	log_info("%s: %s: %s", sock, what, strerror(errno));
	exit(1);
}

static _Noreturn void usage(void)
{
	fprintf(stderr, "usage: bulkhead ctl SOCKET COMMAND\ncommands:");
	for (size_t i = 0; i < nitems(commands); i++)
		fprintf(stderr, " %s", commands[i].cmd);
	fprintf(stderr, "\n");
	exit(2);
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read the whole response (the server closes after it) within the deadline. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
	uint64_t end = now_ns() + (uint64_t)CTL_TIMEOUT_MS * 1000000;
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t n;

		if (now >= end || poll(&p, 1, (int)((end - now) / 1000000) + 1) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (len == cap) {
			errno = EMSGSIZE;
			return -1;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return (ssize_t)len;
		len += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	static const http_parser_settings settings = {
		.on_body = on_body,
		.on_message_complete = on_message_complete,
	};
	struct response r = { 0 };
	char req[256], *raw;
	http_parser p;
	ssize_t n;
	size_t c;
	int fd;

	log_init("bulkhead ctl");
	if (argc != 3)
		usage();
	for (c = 0; c < nitems(commands) && strcmp(commands[c].cmd, argv[2]) != 0; c++)
		;
	if (c == nitems(commands))
		usage();
	fd = connect_to(argv[1]);
	if (fd < 0)
		fail(argv[1], "cannot connect");
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		 commands[c].method, commands[c].path);
	if (send_all(fd, req, strlen(req)) < 0)
		fail(argv[1], "sending the request");
	raw = malloc(CTL_RESPONSE_MAX);
	r.body = malloc(CTL_RESPONSE_MAX);
	if (!raw || !r.body)
		fail(argv[1], "memory for the response");
	n = read_all(fd, raw, CTL_RESPONSE_MAX);
	if (n < 0)
		fail(argv[1], "reading the response");
	close(fd);
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = &r;
	http_parser_execute(&p, &settings, raw, (size_t)n);
	if (!r.done)
		http_parser_execute(&p, &settings, raw, 0); /* the end of a response without a length */
	if (!r.done || HTTP_PARSER_ERRNO(&p) != HPE_OK) {
		log_info("%s: not an HTTP response (%s)", argv[1],
			 http_errno_name(HTTP_PARSER_ERRNO(&p)));
		return 1;
	}
	fwrite(r.body, 1, r.len, p.status_code < 300 ? stdout : stderr);
	if (r.len && r.body[r.len - 1] != '\n')
		fputc('\n', p.status_code < 300 ? stdout : stderr);
	if (p.status_code >= 300)
		log_info("%s: %u %s", commands[c].cmd, p.status_code,
			 http_status_str((enum http_status)p.status_code));
	return p.status_code < 300 ? 0 : 1;
}
