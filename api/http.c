/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One request: read with http-parser (Debian's libhttp-parser, the C parser
 * Node.js used before llhttp; it allocates nothing and makes no system call),
 * bounded while it is read (target 414, headers 431, body 413), then routed:
 * an HTTP version other than 1.0 and 1.1 is 505, an unknown path 404, a known
 * one with another method 405, a body on a path that takes none, or one that
 * is not an empty JSON object, 400. The
 * response is framed here; render.c makes its body.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "common/log.h"

#define API_PREFIX "/api/v1/"

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct api_req *r = p->data;

	if (n > API_URL_MAX - r->url_len) {
		r->status = 414;
		return -1;
	}
	memcpy(r->url + r->url_len, at, n);
	r->url_len += n;
	r->url[r->url_len] = '\0';
	return 0;
}

/* A body announced longer than we take is refused before it is sent. */
static int on_headers_complete(http_parser *p)
{
	struct api_req *r = p->data;

	if ((p->flags & F_CONTENTLENGTH) && p->content_length > API_BODY_MAX) {
		r->status = 413;
		return -1;
	}
	return 0;
}

/* Bodies without a length (chunked) are counted as they come. */
static int on_body(http_parser *p, const char *at, size_t n)
{
	struct api_req *r = p->data;

	if (n > API_BODY_MAX - r->body_len) {
		r->status = 413;
		return -1;
	}
	memcpy(r->body + r->body_len, at, n);
	r->body_len += n;
	return 0;
}

/* One request per connection: whatever follows it is not read. */
static int on_message_complete(http_parser *p)
{
	struct api_req *r = p->data;

	r->complete = 1;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings api_settings = {
	.on_url = on_url,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void api_http_init(void)
{
	http_parser_set_max_header_size(API_HEADER_MAX);
}

void api_req_init(struct api_req *r)
{
	memset(r, 0, sizeof(*r));
	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
}

void api_req_feed(struct api_req *r, const char *data, size_t len)
{
	enum http_errno e;

	if (r->complete || r->status)
		return;
	http_parser_execute(&r->parser, &api_settings, data, len);
	e = HTTP_PARSER_ERRNO(&r->parser);
	if (r->status)
		return;
	if (r->parser.upgrade) {
		/* CONNECT, or an Upgrade: this socket speaks plain HTTP/1.1 only. */
		r->complete = 0;
		r->status = 400;
		return;
	}
	if (r->complete)
		return;
	if (e == HPE_HEADER_OVERFLOW)
		r->status = 431;
	else if (e != HPE_OK || len == 0)
		r->status = 400; /* malformed, or the peer stopped before the request ended */
}

static const struct {
	const char *path;
	enum api_route route;
	unsigned int method;
} api_routes[] = {
	{ API_PREFIX "vmm.ping", API_ROUTE_PING, HTTP_GET },
	{ API_PREFIX "vm.info", API_ROUTE_INFO, HTTP_GET },
	{ API_PREFIX "vm.counters", API_ROUTE_COUNTERS, HTTP_GET },
	{ "/metrics", API_ROUTE_METRICS, HTTP_GET },
	{ API_PREFIX "vm.pause", API_ROUTE_PAUSE, HTTP_PUT },
	{ API_PREFIX "vm.resume", API_ROUTE_RESUME, HTTP_PUT },
	{ API_PREFIX "vm.shutdown", API_ROUTE_SHUTDOWN, HTTP_PUT },
	{ API_PREFIX "vm.power-button", API_ROUTE_POWER_BUTTON, HTTP_PUT },
};

static void refuse(struct api_action *a, int status, const char *why)
{
	a->route = API_ROUTE_NONE;
	a->status = status;
	a->why = why;
}

/* No body, or (PUT, as Cloud Hypervisor's clients may send) an empty JSON object. */
static int body_ok(const struct api_req *r)
{
	json_error_t e;
	json_t *j;
	int ok;

	if (r->body_len == 0)
		return 1;
	if (r->parser.method != HTTP_PUT)
		return 0;
	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &e);
	ok = j && json_is_object(j) && json_object_size(j) == 0;
	json_decref(j);
	return ok;
}

static const char *status_why(int status)
{
	switch (status) {
	case 413:
		return "request body too large";
	case 414:
		return "request target too long";
	case 431:
		return "request headers too large";
	default:
		return "malformed request";
	}
}

void api_route(const struct api_req *r, struct api_action *a)
{
	struct http_parser_url u;
	const char *path;
	size_t plen;

	memset(a, 0, sizeof(*a));
	if (r->status || !r->complete) {
		refuse(a, r->status ? r->status : 400, status_why(r->status));
		return;
	}
	if (r->parser.http_major != 1 || r->parser.http_minor > 1) {
		refuse(a, 505, "HTTP/1.0 and HTTP/1.1 only");
		return;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(r->url, r->url_len, 0, &u) != 0 || !(u.field_set & (1u << UF_PATH))) {
		refuse(a, 400, "malformed request target");
		return;
	}
	path = r->url + u.field_data[UF_PATH].off;
	plen = u.field_data[UF_PATH].len;
	for (size_t i = 0; i < nitems(api_routes); i++) {
		if (strlen(api_routes[i].path) != plen || memcmp(api_routes[i].path, path, plen) != 0)
			continue;
		if (r->parser.method != api_routes[i].method) {
			refuse(a, 405, "method not allowed on this path");
			a->allow = api_routes[i].method == HTTP_GET ? "GET" : "PUT";
		} else if (!body_ok(r)) {
			refuse(a, 400, "this request takes no body (or an empty JSON object)");
		} else {
			a->route = api_routes[i].route;
		}
		return;
	}
	refuse(a, 404, "no such path");
}

uint32_t api_cmd(enum api_route route, uint32_t *what)
{
	*what = 0;
	switch (route) {
	case API_ROUTE_PING:
		return IPC_API_SNAPSHOT;
	case API_ROUTE_INFO:
		*what = IPC_API_WHAT_PROCS;
		return IPC_API_SNAPSHOT;
	case API_ROUTE_COUNTERS:
		*what = IPC_API_WHAT_DEVS;
		return IPC_API_SNAPSHOT;
	case API_ROUTE_METRICS:
		*what = IPC_API_WHAT_PROCS | IPC_API_WHAT_DEVS;
		return IPC_API_SNAPSHOT;
	case API_ROUTE_PAUSE:
		return IPC_API_PAUSE;
	case API_ROUTE_RESUME:
		return IPC_API_RESUME;
	case API_ROUTE_SHUTDOWN:
		return IPC_API_SHUTDOWN;
	case API_ROUTE_POWER_BUTTON:
		return IPC_API_POWER_BUTTON;
	case API_ROUTE_NONE:
		break;
	}
	return 0;
}

/* The supervisor's refusal of a command, as an HTTP status and a message. */
static int command_status(int err, const char **why)
{
	switch (err) {
	case EALREADY:
		*why = "the VM is in that state already";
		return 409;
	case EBUSY:
		*why = "another command is under way";
		return 409;
	case ENODEV:
		*why = "the VM has no power button (--acpi off)";
		return 409;
	case EAGAIN:
		*why = "the VM is starting or stopping";
		return 503;
	case ETIMEDOUT:
		*why = "the VMM did not answer in time";
		return 504;
	default:
		*why = "the VMM could not do it";
		return 500;
	}
}

static int frame(int status, const char *allow, const char *type, const char *body, size_t blen,
		 char **out, size_t *len)
{
	char head[256];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\n%s%s%s%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
		     status, http_status_str((enum http_status)status), allow ? "Allow: " : "",
		     allow ? allow : "", allow ? "\r\n" : "", type ? "Content-Type: " : "",
		     type ? type : "", type ? "\r\n" : "", blen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -ENOMEM;
	*out = malloc((size_t)n + blen);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, head, (size_t)n);
	if (blen)
		memcpy(*out + n, body, blen);
	*len = (size_t)n + blen;
	return 0;
}

static int frame_error(int status, const char *allow, const char *why, char **out, size_t *len)
{
	size_t blen;
	char *body = api_render_error(why, &blen);
	int err;

	if (!body)
		return -ENOMEM;
	err = frame(status, allow, "application/json", body, blen, out, len);
	free(body);
	return err;
}

int api_respond(const struct api_action *a, int err, const struct ipc_api_page *pg, char **out,
		size_t *len)
{
	const char *why, *type = "application/json";
	uint32_t what;
	size_t blen;
	char *body;
	int status;

	if (a->status)
		return frame_error(a->status, a->allow, a->why, out, len);
	if (err) {
		status = command_status(err, &why);
		return frame_error(status, NULL, why, out, len);
	}
	if (api_cmd(a->route, &what) != IPC_API_SNAPSHOT)
		return frame(204, NULL, NULL, NULL, 0, out, len);
	if (a->route == API_ROUTE_METRICS) {
		body = api_render_metrics(pg, &blen);
		type = "text/plain; version=0.0.4";
	} else {
		body = api_render_json(a->route, pg, &blen);
	}
	if (!body || blen > API_RESPONSE_MAX) {
		free(body);
		return frame_error(500, NULL, "the response would be too large", out, len);
	}
	status = frame(200, NULL, type, body, blen, out, len);
	free(body);
	return status;
}
