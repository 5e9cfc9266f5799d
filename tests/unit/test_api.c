/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API socket's request path (api/http.c, api/render.c): a table of
 * requests (well-formed, wrong, hostile, oversized) fed whole and a byte at
 * a time, with the action each must give; responses framed as HTTP/1.1 with
 * the right length; bodies from a page like the supervisor's and from a
 * hostile one (counts beyond their arrays, unterminated strings and items,
 * bytes that are not UTF-8).
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "common/log.h"

static struct api_req req;
static struct ipc_api_page page;

static const struct {
	const char *name, *text;
	int status; /* 0: routed */
	enum api_route route;
} requests[] = {
	{ "ping", "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, API_ROUTE_PING },
	{ "info", "GET /api/v1/vm.info HTTP/1.1\r\n\r\n", 0, API_ROUTE_INFO },
	{ "info, HTTP/1.0", "GET /api/v1/vm.info HTTP/1.0\r\n\r\n", 0, API_ROUTE_INFO },
	{ "info, absolute form", "GET http://localhost/api/v1/vm.info HTTP/1.1\r\n\r\n", 0, API_ROUTE_INFO },
	{ "info, a query", "GET /api/v1/vm.info?full=1 HTTP/1.1\r\n\r\n", 0, API_ROUTE_INFO },
	{ "counters", "GET /api/v1/vm.counters HTTP/1.1\r\n\r\n", 0, API_ROUTE_COUNTERS },
	{ "metrics", "GET /metrics HTTP/1.1\r\nAccept: text/plain\r\n\r\n", 0, API_ROUTE_METRICS },
	{ "pause", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, API_ROUTE_PAUSE },
	{ "pause, {}", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 0, API_ROUTE_PAUSE },
	{ "pause, { } chunked", "PUT /api/v1/vm.pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				"3\r\n{ }\r\n0\r\n\r\n", 0, API_ROUTE_PAUSE },
	{ "resume", "PUT /api/v1/vm.resume HTTP/1.1\r\n\r\n", 0, API_ROUTE_RESUME },
	{ "shutdown", "PUT /api/v1/vm.shutdown HTTP/1.1\r\n\r\n", 0, API_ROUTE_SHUTDOWN },
	{ "power button", "PUT /api/v1/vm.power-button HTTP/1.1\r\n\r\n", 0, API_ROUTE_POWER_BUTTON },
	{ "unknown path", "GET /api/v1/vm.boot HTTP/1.1\r\n\r\n", 404, 0 },
	{ "prefix of a path", "GET /api/v1/vm.inf HTTP/1.1\r\n\r\n", 404, 0 },
	{ "path and more", "GET /api/v1/vm.info/x HTTP/1.1\r\n\r\n", 404, 0 },
	{ "case differs", "GET /API/v1/vm.info HTTP/1.1\r\n\r\n", 404, 0 },
	{ "GET a command", "GET /api/v1/vm.pause HTTP/1.1\r\n\r\n", 405, 0 },
	{ "PUT a query", "PUT /metrics HTTP/1.1\r\n\r\n", 405, 0 },
	{ "POST", "POST /api/v1/vm.shutdown HTTP/1.1\r\n\r\n", 405, 0 },
	{ "HEAD", "HEAD /api/v1/vm.info HTTP/1.1\r\n\r\n", 405, 0 },
	{ "a body on GET", "GET /api/v1/vm.info HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, 0 },
	{ "a member in the body", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 8\r\n\r\n{\"a\":1}", 400, 0 },
	{ "an array body", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", 400, 0 },
	{ "a broken body", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 3\r\n\r\n{\"}", 400, 0 },
	{ "trailing bytes in the body", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 4\r\n\r\n{} x", 400, 0 },
	{ "HTTP/2.0", "GET /metrics HTTP/2.0\r\n\r\n", 505, 0 },
	{ "HTTP/1.2", "GET /metrics HTTP/1.2\r\n\r\n", 505, 0 },
	{ "unknown method", "FETCH /metrics HTTP/1.1\r\n\r\n", 400, 0 },
	{ "no version (HTTP/0.9)", "GET /metrics\r\n\r\n", 505, 0 },
	{ "garbage", "\x01\x02\x03\r\n\r\n", 400, 0 },
	{ "bad header", "GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n", 400, 0 },
	{ "bad length", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, 0 },
	{ "two lengths", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}", 400, 0 },
	{ "upgrade", "GET /metrics HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 400, 0 },
	{ "CONNECT", "CONNECT host:1 HTTP/1.1\r\n\r\n", 400, 0 },
	{ "body too large", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", 413, 0 },
	{ "body too large, huge length", "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
	  413, 0 },
};

static void feed(const char *text, size_t len, size_t piece)
{
	api_req_init(&req);
	for (size_t off = 0; off < len && !req.complete && !req.status; off += piece)
		api_req_feed(&req, text + off, piece < len - off ? piece : len - off);
}

static void check_request(const char *name, const char *text, size_t len, size_t piece, int status,
			  enum api_route route)
{
	struct api_action a;

	feed(text, len, piece);
	if (!req.complete && !req.status)
		api_req_feed(&req, NULL, 0);
	api_route(&req, &a);
	if (a.status != status || a.route != route)
		fail_msg("%s (pieces of %zu): status %d route %d, want %d and %d", name, piece, a.status,
			 a.route, status, route);
	if (a.status == 405 && !a.allow)
		fail_msg("%s: 405 without the methods allowed", name);
}

static void test_requests(void **state)
{
	static const size_t pieces[] = { 1, 3, 4096 };

	(void)state;
	for (size_t i = 0; i < nitems(requests); i++) {
		for (size_t p = 0; p < nitems(pieces); p++)
			check_request(requests[i].name, requests[i].text, strlen(requests[i].text), pieces[p],
				      requests[i].status, requests[i].route);
	}
}

/* Limits: target 256 bytes, headers 8 KiB, body 4 KiB; one byte less passes. */
static void test_limits(void **state)
{
	static char text[16384];
	char path[API_URL_MAX + 2];
	int n;

	(void)state;
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[API_URL_MAX] = '\0';
	n = snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\n\r\n", path);
	check_request("target of 256", text, (size_t)n, 4096, 404, 0);
	path[API_URL_MAX] = 'a';
	path[API_URL_MAX + 1] = '\0';
	n = snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\n\r\n", path);
	check_request("target of 257", text, (size_t)n, 7, 414, 0);

	n = snprintf(text, sizeof(text), "GET /metrics HTTP/1.1\r\nX: ");
	memset(text + n, 'b', 9000);
	memcpy(text + n + 9000, "\r\n\r\n", 5);
	check_request("9000-byte header", text, strlen(text), 512, 431, 0);
	n = snprintf(text, sizeof(text), "GET /metrics HTTP/1.1\r\nX: ");
	memset(text + n, 'b', 4000);
	memcpy(text + n + 4000, "\r\n\r\n", 5);
	check_request("4000-byte header", text, strlen(text), 512, 0, API_ROUTE_METRICS);

	n = snprintf(text, sizeof(text), "PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: %d\r\n\r\n{}",
		     API_BODY_MAX);
	memset(text + n, ' ', API_BODY_MAX - 2);
	text[n + API_BODY_MAX - 2] = '\0';
	check_request("a body of 4096 bytes", text, strlen(text), 100, 0, API_ROUTE_PAUSE);
	n = snprintf(text, sizeof(text),
		     "PUT /api/v1/vm.pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n");
	memset(text + n, ' ', 4096);
	n += 4096;
	n += snprintf(text + n, sizeof(text) - (size_t)n, "\r\n1\r\n \r\n0\r\n\r\n");
	check_request("a chunked body of 4097 bytes", text, (size_t)n, 100, 413, 0);
}

/* What follows a request is not read; a request that stops short is refused at the end. */
static void test_ends(void **state)
{
	const char *two = "GET /api/v1/vmm.ping HTTP/1.1\r\n\r\nPUT /api/v1/vm.shutdown HTTP/1.1\r\n\r\n";
	const char *cut = "GET /api/v1/vmm.ping HTTP/1.1\r\nHost: x";
	struct api_action a;

	(void)state;
	feed(two, strlen(two), strlen(two));
	api_route(&req, &a);
	assert_int_equal(a.route, API_ROUTE_PING);
	api_req_feed(&req, "more", 4); /* ignored: complete */
	api_route(&req, &a);
	assert_int_equal(a.route, API_ROUTE_PING);
	feed(cut, strlen(cut), 1);
	assert_false(req.complete);
	assert_int_equal(req.status, 0);
	api_req_feed(&req, NULL, 0);
	assert_int_equal(req.status, 400);
	feed("", 0, 1);
	api_req_feed(&req, NULL, 0);
	assert_int_equal(req.status, 400);
}

static void item(const char *obj, const char *key, const char *type, const char *val)
{
	const char *part[] = { obj, key, type, val };

	for (size_t i = 0; i < nitems(part); i++) {
		size_t n = strlen(part[i]) + 1;

		assert_true(page.pg_config_len + n <= sizeof(page.pg_config));
		memcpy(page.pg_config + page.pg_config_len, part[i], n);
		page.pg_config_len += (uint32_t)n;
	}
}

static void page_fill(void)
{
	memset(&page, 0, sizeof(page));
	page.pg_state = IPC_VM_PAUSED;
	page.pg_uptime_ns = 2500000000ull;
	page.pg_pid = 321;
	snprintf(page.pg_name, sizeof(page.pg_name), "vm\"1");
	snprintf(page.pg_version, sizeof(page.pg_version), "9.8.7");
	page.pg_nprocs = 2;
	snprintf(page.pg_procs[0].ap_name, sizeof(page.pg_procs[0].ap_name), "supervisor");
	snprintf(page.pg_procs[0].ap_kind, sizeof(page.pg_procs[0].ap_kind), "supervisor");
	page.pg_procs[0].ap_pid = 321;
	page.pg_procs[0].ap_state = IPC_PROC_RUNNING;
	page.pg_procs[0].ap_flags = IPC_API_PROC_F_CPU | IPC_API_PROC_F_MEM;
	page.pg_procs[0].ap_cpu_ns = 1500000000;
	page.pg_procs[0].ap_rss = 4096000;
	page.pg_procs[0].ap_pss = 1024000;
	snprintf(page.pg_procs[1].ap_name, sizeof(page.pg_procs[1].ap_name), "blk0");
	snprintf(page.pg_procs[1].ap_kind, sizeof(page.pg_procs[1].ap_kind), "blk");
	page.pg_procs[1].ap_pid = 400;
	page.pg_procs[1].ap_state = IPC_PROC_RESTARTING;
	page.pg_procs[1].ap_restarts = 2;
	page.pg_procs[1].ap_failed_ns = 2000000000;
	snprintf(page.pg_procs[1].ap_failure, sizeof(page.pg_procs[1].ap_failure), "was killed by signal 9");
	page.pg_ndevs = 1;
	snprintf(page.pg_devs[0].ad_name, sizeof(page.pg_devs[0].ad_name), "blk0");
	snprintf(page.pg_devs[0].ad_kind, sizeof(page.pg_devs[0].ad_kind), "blk");
	page.pg_devs[0].ad_flags = IPC_API_DEV_F_COUNTERS;
	page.pg_devs[0].ad_restarts = 2;
	page.pg_devs[0].ad_counters = (struct ipc_counters){ 5, 2560, 1, 6, 4, 20, 30, 0 };
	item("", "name", "s", "vm\"1");
	item("kernel", "path", "s", "/boot/k\xff\xfe");
	item("memory", "size_mib", "n", "512");
	item("memory", "hugepages", "b", "0");
	item("", "acpi", "b", "1");
	item("device:blk0", "option", "s", "disk");
	item("device:blk0", "readonly", "b", "1");
	item("device:net0", "option", "s", "net");
	item("device:blk0", "serial", "s", "abc");
	item("", "bad number", "n", "12x");
	item("", "bad bool", "b", "yes");
	item("", "bad type", "q", "1");
}

/* The response's body, checked to be framed right: status, length, close. */
static char *respond(enum api_route route, int err, int *status, size_t *blen)
{
	struct api_action a = { .route = route };
	char *out, *body, *end;
	size_t len;
	unsigned long clen;

	assert_int_equal(api_respond(&a, err, &page, &out, &len), 0);
	assert_int_equal(sscanf(out, "HTTP/1.1 %d ", status), 1);
	end = strstr(out, "\r\n\r\n");
	assert_non_null(end);
	assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(out, "\r\nContent-Length: "));
	clen = strtoul(strstr(out, "\r\nContent-Length: ") + 18, NULL, 10);
	assert_int_equal(clen, len - (size_t)(end + 4 - out));
	body = strndup(end + 4, clen);
	assert_non_null(body);
	*blen = clen;
	free(out);
	return body;
}

static json_t *respond_json(enum api_route route)
{
	int status;
	size_t len;
	char *body = respond(route, 0, &status, &len);
	json_error_t e;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);

	assert_int_equal(status, 200);
	if (!j)
		fail_msg("not JSON (%s): %s", e.text, body);
	free(body);
	return j;
}

static void test_info(void **state)
{
	json_t *j, *cfg, *devs, *procs, *blk;

	(void)state;
	page_fill();
	api_page_sanitize(&page);
	j = respond_json(API_ROUTE_INFO);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "paused");
	assert_true(json_real_value(json_object_get(j, "uptime")) == 2.5);
	cfg = json_object_get(j, "config");
	assert_string_equal(json_string_value(json_object_get(cfg, "name")), "vm\"1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(cfg, "kernel"), "path")),
			    "/boot/k\\xff\\xfe");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(cfg, "memory"), "size_mib")), 512);
	assert_true(json_is_false(json_object_get(json_object_get(cfg, "memory"), "hugepages")));
	assert_true(json_is_true(json_object_get(cfg, "acpi")));
	assert_null(json_object_get(cfg, "bad number"));
	assert_null(json_object_get(cfg, "bad bool"));
	assert_null(json_object_get(cfg, "bad type"));
	devs = json_object_get(cfg, "devices");
	assert_int_equal(json_array_size(devs), 2);
	blk = json_array_get(devs, 0);
	assert_string_equal(json_string_value(json_object_get(blk, "name")), "blk0");
	assert_string_equal(json_string_value(json_object_get(blk, "serial")), "abc");
	assert_true(json_is_true(json_object_get(blk, "readonly")));
	procs = json_object_get(j, "processes");
	assert_int_equal(json_array_size(procs), 2);
	assert_true(json_real_value(json_object_get(json_array_get(procs, 0), "cpu_seconds")) == 1.5);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(procs, 0), "pss_bytes")), 1024000);
	assert_true(json_is_null(json_object_get(json_array_get(procs, 1), "rss_bytes")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(procs, 1), "state")), "restarting");
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(procs, 1), "last_failure"), "what")),
			    "was killed by signal 9");
	json_decref(j);
}

static void test_counters_and_ping(void **state)
{
	json_t *j, *blk;

	(void)state;
	page_fill();
	j = respond_json(API_ROUTE_COUNTERS);
	blk = json_object_get(j, "blk0");
	assert_int_equal(json_integer_value(json_object_get(blk, "requests")), 5);
	assert_int_equal(json_integer_value(json_object_get(blk, "bytes")), 2560);
	assert_int_equal(json_integer_value(json_object_get(blk, "register_writes")), 30);
	assert_int_equal(json_integer_value(json_object_get(blk, "restarts")), 2);
	assert_int_equal(json_object_size(blk), 8);
	json_decref(j);
	j = respond_json(API_ROUTE_PING);
	assert_string_equal(json_string_value(json_object_get(j, "version")), "9.8.7");
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 321);
	json_decref(j);
}

static void test_metrics(void **state)
{
	int status;
	size_t len;
	char *body;

	(void)state;
	page_fill();
	body = respond(API_ROUTE_METRICS, 0, &status, &len);
	assert_int_equal(status, 200);
	assert_non_null(strstr(body, "bulkhead_vm_state{vm=\"vm\\\"1\",state=\"paused\"} 1\n"));
	assert_non_null(strstr(body, "bulkhead_vm_state{vm=\"vm\\\"1\",state=\"running\"} 0\n"));
	assert_non_null(strstr(body, "bulkhead_device_bytes_total{vm=\"vm\\\"1\",device=\"blk0\",kind=\"blk\"} 2560\n"));
	assert_non_null(strstr(body, "bulkhead_process_cpu_seconds_total{vm=\"vm\\\"1\",process=\"supervisor\","
				     "kind=\"supervisor\"} 1.500\n"));
	/* blk0's figures were not read: no line for them */
	assert_null(strstr(body, "bulkhead_process_pss_bytes{vm=\"vm\\\"1\",process=\"blk0\""));
	assert_non_null(strstr(body, "# TYPE bulkhead_device_requests_total counter\n"));
	free(body);
}

static void test_errors(void **state)
{
	static const struct {
		int err, status;
	} cases[] = {
		{ EALREADY, 409 }, { EBUSY, 409 }, { ENODEV, 409 }, { EAGAIN, 503 }, { ETIMEDOUT, 504 },
		{ EIO, 500 },
	};

	(void)state;
	page_fill();
	for (size_t i = 0; i < nitems(cases); i++) {
		int status;
		size_t len;
		char *body = respond(API_ROUTE_PAUSE, cases[i].err, &status, &len);

		assert_int_equal(status, cases[i].status);
		assert_non_null(strstr(body, "{\"error\":\""));
		free(body);
	}
	{
		int status;
		size_t len;
		char *body = respond(API_ROUTE_SHUTDOWN, 0, &status, &len);

		assert_int_equal(status, 204);
		assert_int_equal(len, 0);
		free(body);
	}
}

/* A page written by something gone wrong: counts beyond their arrays, nothing terminated. */
static void test_hostile_page(void **state)
{
	json_t *j;

	(void)state;
	memset(&page, 0xff, sizeof(page));
	api_page_sanitize(&page);
	assert_int_equal(page.pg_nprocs, IPC_API_MAX_PROCS);
	assert_int_equal(page.pg_ndevs, LAYOUT_MAX_DEVICES);
	assert_int_equal(page.pg_config_len, sizeof(page.pg_config));
	j = respond_json(API_ROUTE_INFO);
	assert_int_equal(json_array_size(json_object_get(j, "processes")), IPC_API_MAX_PROCS);
	json_decref(j);
	j = respond_json(API_ROUTE_COUNTERS);
	json_decref(j);
	{
		int status;
		size_t len;
		char *body = respond(API_ROUTE_METRICS, 0, &status, &len);

		assert_int_equal(status, 200);
		free(body);
	}
	/* an item cut off at the end of the configuration is dropped */
	page_fill();
	memcpy(page.pg_config + page.pg_config_len, "cut\0off", 7);
	page.pg_config_len += 7;
	j = respond_json(API_ROUTE_INFO);
	assert_null(json_object_get(json_object_get(j, "config"), "cut"));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_ends),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_counters_and_ping),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_hostile_page),
	};

	api_http_init();
	if (api_json_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
