/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_api: the API socket's request path (api/http.c, api/render.c), as
 * bulkhead-api runs it: any bytes as a request, fed in pieces the input
 * chooses, then routed and answered from a snapshot page the input fills
 * (sanitized first, as the process does) with a supervisor answer the input
 * chooses.
 *
 * Input: u8 piece length (0: all at once), u8 the supervisor's answer (an
 * index into answers[]), u8 whether the client ends its side after the
 * request, u16 the request's length, the request, then the page: the rest of
 * the input over a zeroed struct ipc_api_page, from its start.
 *
 * Checked: every request ends (complete or refused) once its bytes and its
 * end are in; the response is "HTTP/1.1 NNN Reason" with a status of the
 * documented set, a Content-Length equal to the body's length and
 * "Connection: close"; a 405 names the methods allowed; a JSON body parses to
 * an object (an error: with a non-empty "error" string); a /metrics body is
 * comments and "bulkhead_NAME{LABELS} NUMBER" lines; a snapshot route with no
 * error is 200, a command 204.
 */
#include <errno.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "fz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int answers[] = { 0, 0, 0, 0, EALREADY, EBUSY, ENODEV, EAGAIN, ETIMEDOUT, EIO, EINVAL };
static const int statuses[] = { 200, 204, 400, 404, 405, 409, 413, 414, 431, 500, 503, 504, 505 };
static struct ipc_api_page page;
static regex_t metric_line;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	api_http_init();
	if (api_json_init() < 0 ||
	    regcomp(&metric_line, "^bulkhead_[a-z_]+\\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)+\\} [0-9][0-9.e+]*$",
		    REG_EXTENDED | REG_NOSUB) != 0)
		abort();
	return 0;
}

static int status_known(int status)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		if (statuses[i] == status)
			return 1;
	}
	return 0;
}

/* The value of header name in head[0..n), NUL-terminated in out, or 0 if it is absent. */
static int header(const char *head, size_t n, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl + 2 < n; i++) {
		size_t e;

		if ((i && head[i - 1] != '\n') || strncmp(head + i, name, nl) != 0 || head[i + nl] != ':')
			continue;
		for (e = i + nl + 2; e < n && head[e] != '\r'; e++)
			;
		FZ_CHECK(e - (i + nl + 2) < len, "header %s too long", name);
		memcpy(out, head + i + nl + 2, e - (i + nl + 2));
		out[e - (i + nl + 2)] = '\0';
		return 1;
	}
	return 0;
}

static void check_metrics(const char *body, size_t len)
{
	char *text = strndup(body, len), *save = NULL;

	FZ_CHECK(text && strlen(text) == len, "metrics body holds a NUL");
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		FZ_CHECK(strncmp(line, "# HELP bulkhead_", 16) == 0 ||
				 strncmp(line, "# TYPE bulkhead_", 16) == 0 ||
				 regexec(&metric_line, line, 0, NULL, 0) == 0,
			 "not a metric line: %s", line);
	free(text);
}

static void check_json(const char *body, size_t len, int status)
{
	json_error_t e;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);

	FZ_CHECK(j && json_is_object(j), "body is not a JSON object: %s (%.*s)", e.text,
		 (int)(len > 200 ? 200 : len), body);
	if (status >= 400) {
		const char *why = json_string_value(json_object_get(j, "error"));

		FZ_CHECK(why && why[0], "an error without its message");
	}
	json_decref(j);
}

static void check_response(const struct api_action *a, int err, const char *out, size_t len)
{
	const char *end = memmem(out, len, "\r\n\r\n", 4);
	char value[128], type[128], line[64];
	size_t head, clen;
	int status, n = 0;

	FZ_CHECK(end, "no end of the header section");
	head = (size_t)(end - out) + 4;
	snprintf(line, sizeof(line), "%.*s", (int)(head < sizeof(line) ? head : sizeof(line) - 1), out);
	FZ_CHECK(sscanf(line, "HTTP/1.1 %3d %n", &status, &n) == 1 && n > 0 && status_known(status),
		 "bad status line: %s", line);
	FZ_CHECK(header(out, head, "Content-Length", value, sizeof(value)), "no Content-Length");
	clen = strtoul(value, NULL, 10);
	FZ_CHECK(clen == len - head, "Content-Length %zu, body %zu", clen, len - head);
	FZ_CHECK(header(out, head, "Connection", value, sizeof(value)) && !strcmp(value, "close"),
		 "no Connection: close");
	FZ_CHECK(status != 405 || header(out, head, "Allow", value, sizeof(value)), "405 without Allow");
	if (a->status)
		FZ_CHECK(status == a->status, "status %d, the action said %d", status, a->status);
	else if (!err)
		FZ_CHECK(status == 200 || status == 204 || status == 500, "route %d answered %d", a->route,
			 status);
	if (status == 204) {
		FZ_CHECK(clen == 0, "204 with a body");
		return;
	}
	FZ_CHECK(header(out, head, "Content-Type", type, sizeof(type)), "no Content-Type");
	if (strncmp(type, "text/plain", 10) == 0)
		check_metrics(out + head, clen);
	else
		check_json(out + head, clen, status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_req req;
	struct api_action act;
	struct fz f;
	size_t piece, rlen, plen, off = 0;
	const uint8_t *request, *rest;
	int err, shut;
	char *out;
	size_t len;

	fz_init(&f, data, size);
	piece = fz_u8(&f);
	err = answers[fz_u8(&f) % (sizeof(answers) / sizeof(answers[0]))];
	shut = fz_u8(&f) & 1;
	rlen = fz_u16(&f);
	if (rlen > f.n)
		rlen = f.n;
	request = f.p;
	f.p += rlen;
	f.n -= rlen;
	rest = fz_rest(&f, &plen);
	memset(&page, 0, sizeof(page));
	memcpy(&page, rest, plen < sizeof(page) ? plen : sizeof(page));
	api_page_sanitize(&page);

	api_req_init(&req);
	while (off < rlen && !req.complete && !req.status) {
		size_t n = piece && piece < rlen - off ? piece : rlen - off;

		api_req_feed(&req, (const char *)request + off, n);
		off += n;
	}
	if (shut)
		api_req_feed(&req, NULL, 0);
	if (!req.complete && !req.status) {
		FZ_CHECK(!shut, "the client ended its side and the request neither ended nor failed");
		return 0;
	}
	FZ_CHECK(!(req.complete && req.status), "a request both complete and refused");
	api_route(&req, &act);
	FZ_CHECK(act.status || act.route != API_ROUTE_NONE, "no route and no status");
	if (act.status)
		err = 0;
	FZ_CHECK(api_respond(&act, err, &page, &out, &len) == 0, "no response");
	check_response(&act, err, out, len);
	free(out);
	return 0;
}
