/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Response bodies from a snapshot of the VM (the API page the supervisor
 * filled): JSON with jansson (vmm.ping, vm.info, vm.counters) and Prometheus
 * text (/metrics, bulkhead_* metrics labelled by VM and process or device).
 * The page is a sanitized copy (api_page_sanitize): every count is bounded
 * and every string terminated before anything here reads it.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "api.h"
#include "common/layout.h"
#include "common/log.h"

#define NS_PER_S 1e9

/* The JSON library's allocations come from here: at most API_HEAP_MAX bytes at once. */
static size_t heap_used;

struct heap_block {
	size_t size;
	_Alignas(16) unsigned char data[];
};

static void *heap_alloc(size_t size)
{
	struct heap_block *b;

	if (size > API_HEAP_MAX - heap_used)
		return NULL;
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->size = size;
	heap_used += size;
	return b->data;
}

static void heap_free(void *p)
{
	struct heap_block *b;

	if (!p)
		return;
	b = (struct heap_block *)(void *)((unsigned char *)p - offsetof(struct heap_block, data));
	heap_used -= b->size;
	free(b);
}

/*
 * The JSON library's hash seed, chosen here before the jail: left to itself it
 * would open /dev/urandom at its first object, which the policy forbids.
 */
int api_json_init(void)
{
	uint32_t seed = 0;

	json_set_alloc_funcs(heap_alloc, heap_free);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		return -errno;
	json_object_seed(seed ? seed : 1);
	return 0;
}

/* The page: counts within their arrays, strings terminated, the configuration's length
 * within its buffer and its last item terminated. */
void api_page_sanitize(struct ipc_api_page *pg)
{
	if (pg->pg_nprocs > IPC_API_MAX_PROCS)
		pg->pg_nprocs = IPC_API_MAX_PROCS;
	if (pg->pg_ndevs > LAYOUT_MAX_DEVICES)
		pg->pg_ndevs = LAYOUT_MAX_DEVICES;
	if (pg->pg_config_len > sizeof(pg->pg_config))
		pg->pg_config_len = sizeof(pg->pg_config);
	pg->pg_name[sizeof(pg->pg_name) - 1] = '\0';
	pg->pg_version[sizeof(pg->pg_version) - 1] = '\0';
	for (uint32_t i = 0; i < pg->pg_nprocs; i++) {
		struct ipc_api_proc *p = &pg->pg_procs[i];

		p->ap_name[sizeof(p->ap_name) - 1] = '\0';
		p->ap_kind[sizeof(p->ap_kind) - 1] = '\0';
		p->ap_failure[sizeof(p->ap_failure) - 1] = '\0';
	}
	for (uint32_t i = 0; i < pg->pg_ndevs; i++) {
		pg->pg_devs[i].ad_name[sizeof(pg->pg_devs[i].ad_name) - 1] = '\0';
		pg->pg_devs[i].ad_kind[sizeof(pg->pg_devs[i].ad_kind) - 1] = '\0';
	}
}

static const char *vm_state_name(uint32_t state)
{
	static const char *const names[] = {
		[IPC_VM_STARTING] = "starting",
		[IPC_VM_RUNNING] = "running",
		[IPC_VM_PAUSED] = "paused",
		[IPC_VM_STOPPING] = "shutting-down",
	};

	return state < nitems(names) && names[state] ? names[state] : "unknown";
}

static const char *proc_state_name(uint32_t state)
{
	static const char *const names[] = {
		[IPC_PROC_STARTING] = "starting",
		[IPC_PROC_RUNNING] = "running",
		[IPC_PROC_RESTARTING] = "restarting",
		[IPC_PROC_EXITED] = "exited",
	};

	return state < nitems(names) && names[state] ? names[state] : "unknown";
}

/* JSON has no unsigned 64-bit integer: a count past INT64_MAX (a lying device) is clamped. */
static json_t *json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* A string of the host's (a path, a command line) that need not be UTF-8: other bytes as \xNN. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	size_t n = strlen(s), k = 0;
	char *esc;

	if (j)
		return j;
	esc = malloc(4 * n + 1);
	if (!esc)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80)
			esc[k++] = (char)c;
		else
			k += (size_t)snprintf(esc + k, 5, "\\x%02x", c);
	}
	esc[k] = '\0';
	j = json_string(esc);
	free(esc);
	return j;
}

/* set: json_object_set_new that gives up (0) when either side could not be made. */
static int set(json_t *obj, const char *key, json_t *val)
{
	if (!obj || !val) {
		json_decref(val);
		return 0;
	}
	return json_object_set_new(obj, key, val) == 0;
}

/* An item's value by its type (ipc.h): "s" string, "n" unsigned decimal, "b" 0 or 1. */
static json_t *item_value(const char *type, const char *val)
{
	uint64_t v = 0;

	if (strcmp(type, "s") == 0)
		return json_text(val);
	if (strcmp(type, "b") == 0 && (strcmp(val, "0") == 0 || strcmp(val, "1") == 0))
		return json_boolean(val[0] == '1');
	if (strcmp(type, "n") != 0 || !val[0])
		return NULL;
	for (const char *p = val; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	return json_u64(v);
}

/* The device object named name in devs, made if it is new. */
static json_t *device_obj(json_t *devs, const char *name)
{
	size_t i;
	json_t *d;

	json_array_foreach(devs, i, d) {
		const char *n = json_string_value(json_object_get(d, "name"));

		if (n && strcmp(n, name) == 0)
			return d;
	}
	d = json_object();
	if (!set(d, "name", json_text(name)) || json_array_append_new(devs, d) < 0)
		return NULL;
	return d;
}

/* The object an item belongs to: the root, a device, or a group of the VM's options. */
static json_t *item_target(json_t *root, json_t *devs, const char *obj)
{
	json_t *g;

	if (!obj[0])
		return root;
	if (strncmp(obj, "device:", 7) == 0)
		return device_obj(devs, obj + 7);
	g = json_object_get(root, obj);
	if (json_is_object(g))
		return g;
	g = json_object();
	return set(root, obj, g) ? g : NULL;
}

/* The configuration's items, four NUL-terminated strings each; a cut-off item ends it. */
static json_t *config_json(const struct ipc_api_page *pg)
{
	json_t *root = json_object(), *devs = json_array();
	size_t off = 0, len = pg->pg_config_len;

	while (root && devs && off < len) {
		const char *part[4];
		json_t *target;

		for (size_t k = 0; k < nitems(part); k++) {
			size_t n = off < len ? strnlen(pg->pg_config + off, len - off) : 0;

			part[k] = off < len && n < len - off ? pg->pg_config + off : NULL;
			off += n + 1;
		}
		if (!part[3])
			break;
		target = item_target(root, devs, part[0]);
		if (target && target != devs)
			set(target, part[1], item_value(part[2], part[3]));
	}
	set(root, "devices", devs);
	return root;
}

static json_t *proc_json(const struct ipc_api_proc *p)
{
	json_t *o = json_object(), *fail = json_null();

	if (p->ap_failure[0]) {
		fail = json_object();
		set(fail, "what", json_text(p->ap_failure));
		set(fail, "at", json_real((double)p->ap_failed_ns / NS_PER_S));
	}
	set(o, "name", json_text(p->ap_name));
	set(o, "kind", json_text(p->ap_kind));
	set(o, "pid", json_integer(p->ap_pid));
	set(o, "state", json_string(proc_state_name(p->ap_state)));
	set(o, "restarts", json_integer(p->ap_restarts));
	set(o, "last_failure", fail);
	set(o, "cpu_seconds", (p->ap_flags & IPC_API_PROC_F_CPU)
				      ? json_real((double)p->ap_cpu_ns / NS_PER_S)
				      : json_null());
	set(o, "rss_bytes", (p->ap_flags & IPC_API_PROC_F_MEM) ? json_u64(p->ap_rss) : json_null());
	set(o, "pss_bytes", (p->ap_flags & IPC_API_PROC_F_MEM) ? json_u64(p->ap_pss) : json_null());
	return o;
}

static json_t *info_json(const struct ipc_api_page *pg)
{
	json_t *o = json_object(), *procs = json_array();

	for (uint32_t i = 0; procs && i < pg->pg_nprocs; i++)
		json_array_append_new(procs, proc_json(&pg->pg_procs[i]));
	set(o, "state", json_string(vm_state_name(pg->pg_state)));
	set(o, "uptime", json_real((double)pg->pg_uptime_ns / NS_PER_S));
	set(o, "config", config_json(pg));
	set(o, "processes", procs);
	return o;
}

static json_t *ping_json(const struct ipc_api_page *pg)
{
	char build[64];
	json_t *o = json_object();

	snprintf(build, sizeof(build), "bulkhead %s", pg->pg_version);
	set(o, "build_version", json_text(build));
	set(o, "version", json_text(pg->pg_version));
	set(o, "pid", json_integer(pg->pg_pid));
	set(o, "features", json_array());
	return o;
}

/* The counters a device keeps, by the names vm.counters and /metrics give them. */
#define COUNTER_FIELDS(X) \
	X(requests, ct_requests, "requests completed, or frames (net) and packets (vsock) sent and received") \
	X(bytes, ct_bytes, "bytes those moved (serial: console bytes out and in)") \
	X(errors, ct_errors, "requests failed or frames dropped") \
	X(notifications, ct_notifications, "queue notifications (kicks) from the guest") \
	X(interrupts, ct_interrupts, "interrupts raised") \
	X(register_reads, ct_reads, "register reads forwarded to the device process") \
	X(register_writes, ct_writes, "register writes the device process applied")

static json_t *counters_json(const struct ipc_api_page *pg)
{
	json_t *o = json_object();

	for (uint32_t i = 0; o && i < pg->pg_ndevs; i++) {
		const struct ipc_api_dev *d = &pg->pg_devs[i];
		json_t *c = json_object();

		if (d->ad_flags & IPC_API_DEV_F_COUNTERS) {
#define X(name, field, help) set(c, #name, json_u64(d->ad_counters.field));
			COUNTER_FIELDS(X)
#undef X
		}
		set(c, "restarts", json_integer(d->ad_restarts));
		set(o, d->ad_name, c);
	}
	return o;
}

/* j as compact text in a buffer of the C library's (the JSON library's heap is its own); j goes. */
static char *dump(json_t *j, size_t *len)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	char *out = s ? strdup(s) : NULL;

	heap_free(s);
	json_decref(j);
	if (out)
		*len = strlen(out);
	return out;
}

char *api_render_json(enum api_route route, const struct ipc_api_page *pg, size_t *len)
{
	json_t *j = route == API_ROUTE_PING	 ? ping_json(pg)
		    : route == API_ROUTE_INFO	 ? info_json(pg)
		    : route == API_ROUTE_COUNTERS ? counters_json(pg)
						  : NULL;

	return dump(j, len);
}

char *api_render_error(const char *why, size_t *len)
{
	json_t *j = json_object();

	set(j, "error", json_text(why));
	return dump(j, len);
}

/* Prometheus text, into a bounded buffer; err once it would overflow. */
struct text {
	char *buf;
	size_t len, cap;
	int err;
};

static void BH_PRINTF(2, 3) put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len)
		t->err = 1;
	else
		t->len += (size_t)n;
}

/* A label value as the exposition format wants it: \ " and newline escaped. */
static const char *label(const char *s, char *buf, size_t len)
{
	size_t k = 0;

	for (; *s && k + 3 < len; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n') {
			buf[k++] = '\\';
			buf[k++] = *s == '\n' ? 'n' : *s;
		} else {
			buf[k++] = *s;
		}
	}
	buf[k] = '\0';
	return buf;
}

static void metric_head(struct text *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP bulkhead_%s %s\n# TYPE bulkhead_%s %s\n", name, help, name, type);
}

static void metrics_vm(struct text *t, const struct ipc_api_page *pg, const char *vm)
{
	static const uint32_t states[] = { IPC_VM_STARTING, IPC_VM_RUNNING, IPC_VM_PAUSED,
					   IPC_VM_STOPPING };
	char ver[64];

	metric_head(t, "vm_info", "gauge", "The VM, with bulkhead's version as a label (always 1).");
	put(t, "bulkhead_vm_info{vm=\"%s\",version=\"%s\"} 1\n", vm,
	    label(pg->pg_version, ver, sizeof(ver)));
	metric_head(t, "vm_state", "gauge", "1 for the state the VM is in, 0 for the others.");
	for (size_t i = 0; i < nitems(states); i++)
		put(t, "bulkhead_vm_state{vm=\"%s\",state=\"%s\"} %d\n", vm, vm_state_name(states[i]),
		    pg->pg_state == states[i]);
	metric_head(t, "vm_uptime_seconds", "gauge", "Seconds since bulkhead started.");
	put(t, "bulkhead_vm_uptime_seconds{vm=\"%s\"} %.3f\n", vm, (double)pg->pg_uptime_ns / NS_PER_S);
}

static void metrics_procs(struct text *t, const struct ipc_api_page *pg, const char *vm)
{
	static const struct {
		const char *name, *type, *help;
	} m[] = {
		{ "process_up", "gauge", "1 while the process runs." },
		{ "process_restarts_total", "counter", "Times the process was replaced after a failure." },
		{ "process_cpu_seconds_total", "counter", "User and system CPU time of the process." },
		{ "process_resident_memory_bytes", "gauge", "Resident memory of the process (RSS)." },
		{ "process_pss_bytes", "gauge", "Its proportional share of memory it shares (PSS)." },
	};

	for (size_t k = 0; k < nitems(m); k++) {
		metric_head(t, m[k].name, m[k].type, m[k].help);
		for (uint32_t i = 0; i < pg->pg_nprocs; i++) {
			const struct ipc_api_proc *p = &pg->pg_procs[i];
			char name[2 * IPC_NAME_MAX], kind[2 * IPC_NAME_MAX];

			if ((k == 2 && !(p->ap_flags & IPC_API_PROC_F_CPU)) ||
			    (k >= 3 && !(p->ap_flags & IPC_API_PROC_F_MEM)))
				continue;
			put(t, "bulkhead_%s{vm=\"%s\",process=\"%s\",kind=\"%s\"} ", m[k].name, vm,
			    label(p->ap_name, name, sizeof(name)), label(p->ap_kind, kind, sizeof(kind)));
			if (k == 0)
				put(t, "%d\n", p->ap_state == IPC_PROC_RUNNING);
			else if (k == 1)
				put(t, "%u\n", p->ap_restarts);
			else if (k == 2)
				put(t, "%.3f\n", (double)p->ap_cpu_ns / NS_PER_S);
			else
				put(t, "%llu\n", (unsigned long long)(k == 3 ? p->ap_rss : p->ap_pss));
		}
	}
}

static void metrics_dev(struct text *t, const struct ipc_api_page *pg, const char *vm,
			const char *metric, size_t field)
{
	for (uint32_t i = 0; i < pg->pg_ndevs; i++) {
		const struct ipc_api_dev *d = &pg->pg_devs[i];
		char name[2 * IPC_NAME_MAX], kind[2 * IPC_NAME_MAX];
		uint64_t v;

		if (!(d->ad_flags & IPC_API_DEV_F_COUNTERS))
			continue;
		memcpy(&v, (const char *)&d->ad_counters + field, sizeof(v));
		put(t, "bulkhead_device_%s_total{vm=\"%s\",device=\"%s\",kind=\"%s\"} %llu\n", metric,
		    vm, label(d->ad_name, name, sizeof(name)), label(d->ad_kind, kind, sizeof(kind)),
		    (unsigned long long)v);
	}
}

static void metrics_devs(struct text *t, const struct ipc_api_page *pg, const char *vm)
{
	char head[64];

#define X(name, f, help) \
	snprintf(head, sizeof(head), "device_%s_total", #name); \
	metric_head(t, head, "counter", help); \
	metrics_dev(t, pg, vm, #name, offsetof(struct ipc_counters, f));
	COUNTER_FIELDS(X)
#undef X
	metric_head(t, "device_restarts_total", "counter", "Times the device's process was replaced.");
	for (uint32_t i = 0; i < pg->pg_ndevs; i++) {
		char name[2 * IPC_NAME_MAX], kind[2 * IPC_NAME_MAX];

		put(t, "bulkhead_device_restarts_total{vm=\"%s\",device=\"%s\",kind=\"%s\"} %u\n", vm,
		    label(pg->pg_devs[i].ad_name, name, sizeof(name)),
		    label(pg->pg_devs[i].ad_kind, kind, sizeof(kind)), pg->pg_devs[i].ad_restarts);
	}
}

char *api_render_metrics(const struct ipc_api_page *pg, size_t *len)
{
	struct text t = { .cap = API_RESPONSE_MAX };
	char vm[2 * IPC_NAME_MAX];

	t.buf = malloc(t.cap);
	if (!t.buf)
		return NULL;
	label(pg->pg_name, vm, sizeof(vm));
	metrics_vm(&t, pg, vm);
	metrics_procs(&t, pg, vm);
	metrics_devs(&t, pg, vm);
	if (t.err) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
