/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-api: the control socket's process (--api-socket). It holds the
 * listening socket the supervisor made, reads HTTP/1.1 requests with Debian's
 * http-parser and answers them; what a request needs from the VM it asks the
 * supervisor for with fixed-size messages (ipc.h, API_REQUEST), and it makes
 * JSON (jansson) and Prometheus text of the answer. The supervisor never
 * parses HTTP or formats JSON. Paths are Cloud Hypervisor's (its running-VM
 * subset), so its clients and curl work; every connection carries one request
 * and is closed after the response.
 *
 * The request path (http.c: parsing and routing; render.c: responses) is
 * separate from the process (main.c: sockets, the supervisor), so that the
 * unit tests and the fuzz target drive the same code.
 */
#ifndef BULKHEAD_API_API_H
#define BULKHEAD_API_API_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc.h"

/* Bounds (docs/architecture.md, "The API socket"). */
#define API_MAX_CONNS 16 /* connections served at once */
#define API_MAX_REFUSED 16 /* beyond them, connections answered 503 at once (more: closed) */
#define API_REFUSED_MS 1000 /* how long such a one may take to finish sending */
#define API_HEADER_MAX 8192 /* bytes of request line and headers: more is 431 */
#define API_URL_MAX 256 /* bytes of the request target: more is 414 */
#define API_BODY_MAX 4096 /* bytes of body: more is 413 */
#define API_TIMEOUT_MS 10000 /* a connection's whole life, from accept to its last byte out */
#define API_RESPONSE_MAX (256 * 1024) /* bytes of one response */
#define API_HEAP_MAX (8 * 1024 * 1024) /* what the JSON library may hold at once */

enum api_route {
	API_ROUTE_NONE = 0, /* answered with its status alone */
	API_ROUTE_PING, /* GET /api/v1/vmm.ping */
	API_ROUTE_INFO, /* GET /api/v1/vm.info */
	API_ROUTE_COUNTERS, /* GET /api/v1/vm.counters */
	API_ROUTE_METRICS, /* GET /metrics */
	API_ROUTE_PAUSE, /* PUT /api/v1/vm.pause */
	API_ROUTE_RESUME, /* PUT /api/v1/vm.resume */
	API_ROUTE_SHUTDOWN, /* PUT /api/v1/vm.shutdown */
	API_ROUTE_POWER_BUTTON, /* PUT /api/v1/vm.power-button */
};

/* One request being read: the parser and what it keeps of the request. */
struct api_req {
	http_parser parser;
	char url[API_URL_MAX + 1];
	size_t url_len;
	char body[API_BODY_MAX];
	size_t body_len;
	int status; /* an error found while reading (4xx), else 0 */
	int complete; /* the whole request is in */
};

/* What a request asks for. */
struct api_action {
	enum api_route route;
	int status; /* 4xx: answer that; 0: ask the supervisor, then api_respond */
	const char *allow; /* 405: the methods the path takes */
	const char *why; /* the error's message */
};

/* api_http_init: set the parser's header limit (process-wide); once, at start. */
void api_http_init(void);
/* api_req_init: a fresh request. */
void api_req_init(struct api_req *r);
/* api_req_feed: parse data[0..len) (len 0: the peer sent no more); sets complete or status. */
void api_req_feed(struct api_req *r, const char *data, size_t len);
/* api_route: the action for a request that is complete or has a status. */
void api_route(const struct api_req *r, struct api_action *a);
/* api_cmd: the supervisor command (IPC_API_*) route needs, and its SNAPSHOT aq_what. */
uint32_t api_cmd(enum api_route route, uint32_t *what);

/*
 * api_respond: the whole HTTP response to action a, given the supervisor's
 * answer err (0, a positive errno, or ETIMEDOUT when it did not answer in
 * time) and, for a snapshot, the page pg (sanitized). 0 with *out (malloc'd,
 * the caller frees) and *len, or -ENOMEM.
 */
int api_respond(const struct api_action *a, int err, const struct ipc_api_page *pg, char **out,
		size_t *len) __attribute__((warn_unused_result));
/* api_page_sanitize: bound every count and terminate every string of a page copy. */
void api_page_sanitize(struct ipc_api_page *pg);
/*
 * api_render_json / api_render_metrics (render.c): the body of a snapshot route
 * into a malloc'd, NUL-terminated string (*len bytes); NULL on failure.
 */
char *api_render_json(enum api_route route, const struct ipc_api_page *pg, size_t *len);
char *api_render_metrics(const struct ipc_api_page *pg, size_t *len);
/* api_render_error: {"error": why} as a malloc'd string; NULL on failure. */
char *api_render_error(const char *why, size_t *len);
/* api_json_init: route the JSON library's allocations through a bounded heap (API_HEAP_MAX)
 * and seed its hash tables, before the jail. 0 or -errno. */
int api_json_init(void) __attribute__((warn_unused_result));

#endif
