/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * struct qemu_cmd as bulkhead's argv. QEMU's defaults where bulkhead's
 * differ: 128 MiB of memory; no serial port with -nodefaults, COM1 on stdio
 * with -nographic, and otherwise none (QEMU's would be a graphical console);
 * port 0xf4 is a debug-exit port only with -device isa-debug-exit
 * (--debug-exit off without it). A value goes quoted (key="value") so that
 * its commas stay in it; one holding a double quote, which quotes cannot
 * hold, goes bare where bulkhead's parser keeps it whole (docs/bulkhead.1).
 */
#include "qemu.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

#define QEMU_DEFAULT_MEM_MIB 128 /* qemu-system-x86_64 without -m */
#define NAME_MAX_LEN 15 /* bulkhead --name */

struct out {
	struct qemu_out *o;
	char *err;
	size_t errlen;
	char *cur; /* the argument being built */
};

static int BH_PRINTF(2, 3) fail(struct out *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
	qemu_one_line(w->err);
	return -1;
}

/* Append text to the current argument (begun by arg_begin). */
static int BH_PRINTF(2, 3) put(struct out *w, const char *fmt, ...)
{
	struct qemu_out *o = w->o;
	size_t room = sizeof(o->text) - o->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->text + o->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return fail(w, "the command line is too long for bulkhead-qemu");
	o->used += (size_t)n;
	return 0;
}

static int arg_begin(struct out *w)
{
	struct qemu_out *o = w->o;

	if (o->argc == QEMU_OUT_ARGS || o->used == sizeof(o->text))
		return fail(w, "too many options for bulkhead-qemu");
	o->argv[o->argc++] = o->text + o->used;
	o->argv[o->argc] = NULL;
	return 0;
}

/* End the current argument: its terminating NUL. */
static int arg_end(struct out *w)
{
	struct qemu_out *o = w->o;

	if (o->used == sizeof(o->text))
		return fail(w, "the command line is too long for bulkhead-qemu");
	o->text[o->used++] = '\0';
	return 0;
}

static int arg(struct out *w, const char *s)
{
	return arg_begin(w) < 0 || put(w, "%s", s) < 0 ? -1 : arg_end(w);
}

/*
 * ",key=value" (no comma first when first): quoted unless the value holds a
 * '"'; then bare, which bulkhead keeps whole only for a key that may hold
 * commas (commas_ok) and a value in which no ",KEY=" of keys[] could end it;
 * any other value holding a '"' is refused.
 */
static int kv(struct out *w, int first, const char *key, const char *val, int commas_ok,
	      const char *const *keys, const char *what)
{
	if (!strchr(val, '"'))
		return put(w, "%s%s=\"%s\"", first ? "" : ",", key, val);
	/* Bare, a '"' inside a value that others follow would open a quote for
	 * bulkhead's parser and swallow the next keys (fuzz_qemu: tag=a"b,readonly=off). */
	if (val[0] == '"' || !commas_ok)
		return fail(w, "%s: %s: a double quote cannot be passed to bulkhead here", what, val);
	for (; commas_ok && *keys; keys++) {
		char probe[32];

		snprintf(probe, sizeof(probe), ",%s=", *keys);
		if (strstr(val, probe))
			return fail(w, "%s: %s: cannot be passed to bulkhead (it holds \"%s\")", what, val, probe);
	}
	return put(w, "%s%s=%s", first ? "" : ",", key, val);
}

/* The keys of bulkhead's options (supervisor/config.c, kinds/): fuzz_qemu checks that
 * bulkhead's parser reads every value back as given. */
static const char *const kernel_keys[] = { "path", "cmdline", NULL };
static const char *const initrd_keys[] = { "path", NULL };
static const char *const serial_keys[] = { "file", NULL };
static const char *const disk_keys[] = { "path", "readonly", "serial", "direct", "snapshot", NULL };
static const char *const fs_keys[] = { "path", "tag", "readonly", NULL };

static int out_kernel(struct out *w, const struct qemu_cmd *q)
{
	if (!q->kernel)
		return fail(w, "-kernel is required (bulkhead boots a kernel, not firmware)");
	if (arg(w, "--kernel") < 0 || arg_begin(w) < 0 ||
	    kv(w, 1, "path", q->kernel, 1, kernel_keys, "-kernel") < 0 ||
	    (q->append && kv(w, 0, "cmdline", q->append, 1, kernel_keys, "-append") < 0) || arg_end(w) < 0)
		return -1;
	if (q->initrd && (arg(w, "--initrd") < 0 || arg_begin(w) < 0 ||
			  kv(w, 1, "path", q->initrd, 1, initrd_keys, "-initrd") < 0 || arg_end(w) < 0))
		return -1;
	return 0;
}

static int out_machine(struct out *w, const struct qemu_cmd *q)
{
	if (arg(w, "--memory") < 0 || arg_begin(w) < 0 ||
	    put(w, "size_mib=%llu", (unsigned long long)(q->mem_mib ? q->mem_mib : QEMU_DEFAULT_MEM_MIB)) < 0 ||
	    arg_end(w) < 0)
		return -1;
	if (arg(w, "--vcpus") < 0 || arg_begin(w) < 0 || put(w, "num=%u", q->vcpus ? q->vcpus : 1) < 0 ||
	    arg_end(w) < 0)
		return -1;
	if (q->acpi >= 0 && (arg(w, "--acpi") < 0 || arg(w, q->acpi ? "on" : "off") < 0))
		return -1;
	if (q->pit >= 0 && (arg(w, "--pit") < 0 || arg(w, q->pit ? "on" : "off") < 0))
		return -1;
	if (q->irqchip_split >= 0 &&
	    (arg(w, "--irqchip") < 0 || arg(w, q->irqchip_split ? "split" : "kernel") < 0))
		return -1;
	return arg(w, "--debug-exit") < 0 ? -1 : arg(w, q->debug_exit ? "on" : "off");
}

static int out_serial(struct out *w, const struct qemu_cmd *q)
{
	enum qemu_serial s = q->serial;

	if (s == QEMU_SERIAL_DEFAULT)
		s = !q->nodefaults && q->nographic ? QEMU_SERIAL_STDIO : QEMU_SERIAL_NONE;
	if (arg(w, "--serial") < 0)
		return -1;
	if (s == QEMU_SERIAL_FILE)
		return arg_begin(w) < 0 || kv(w, 1, "file", q->serial_file, 1, serial_keys,
					      "-serial") < 0 ? -1 : arg_end(w);
	return arg(w, s == QEMU_SERIAL_STDIO ? "stdio" : "none");
}

static int out_disks(struct out *w, const struct qemu_cmd *q)
{
	for (unsigned int i = 0; i < q->ndisks; i++) {
		const struct qemu_drive *d = &q->drives[q->disks[i].drive];

		if (arg(w, "--disk") < 0 || arg_begin(w) < 0 ||
		    kv(w, 1, "path", d->file, 1, disk_keys, "-drive file=") < 0 ||
		    (d->readonly && put(w, ",readonly=on") < 0) || (d->direct && put(w, ",direct=on") < 0) ||
		    ((d->snapshot || q->snapshot) && !d->readonly && put(w, ",snapshot=on") < 0) ||
		    (q->disks[i].serial && kv(w, 0, "serial", q->disks[i].serial, 0, disk_keys, "serial=") < 0) ||
		    arg_end(w) < 0)
			return -1;
	}
	for (unsigned int i = 0; i < q->ndrives; i++) {
		if (!q->drives[i].attached)
			return fail(w, "-drive id=%s: if=none and no -device virtio-blk-*,drive=%s", q->drives[i].id,
				    q->drives[i].id);
	}
	return 0;
}

static int out_nics(struct out *w, const struct qemu_cmd *q)
{
	for (unsigned int i = 0; i < q->nnics; i++) {
		const struct qemu_netdev *n = &q->netdevs[q->nics[i].netdev];

		if (arg(w, "--net") < 0 || arg_begin(w) < 0 ||
		    (n->ifname ? kv(w, 1, "tap", n->ifname, 0, NULL, "-netdev ifname=")
			       : kv(w, 1, "fd", n->fd, 0, NULL, "-netdev fd=")) < 0 ||
		    (q->nics[i].mac && kv(w, 0, "mac", q->nics[i].mac, 0, NULL, "mac=") < 0) || arg_end(w) < 0)
			return -1;
	}
	for (unsigned int i = 0; i < q->nnetdevs; i++) {
		if (!q->netdevs[i].attached)
			return fail(w, "-netdev id=%s: no -device virtio-net-*,netdev=%s", q->netdevs[i].id,
				    q->netdevs[i].id);
	}
	return 0;
}

static int out_shares(struct out *w, const struct qemu_cmd *q)
{
	for (unsigned int i = 0; i < q->nshares; i++) {
		const struct qemu_fsdev *f = &q->fsdevs[q->shares[i]];

		if (arg(w, "--fs") < 0 || arg_begin(w) < 0 || kv(w, 1, "path", f->path, 1, fs_keys, "path=") < 0 ||
		    kv(w, 0, "tag", f->tag, 0, fs_keys, "mount_tag=") < 0 ||
		    (f->readonly && put(w, ",readonly=on") < 0) || arg_end(w) < 0)
			return -1;
	}
	for (unsigned int i = 0; i < q->nfsdevs; i++) {
		if (!q->fsdevs[i].tag)
			return fail(w, "-fsdev id=%s: no -device virtio-9p-*,fsdev=%s", q->fsdevs[i].id,
				    q->fsdevs[i].id);
	}
	return 0;
}

/* Last: --rng alone is an option whose keys are optional, so nothing may follow it but an option. */
static int out_rng(struct out *w, const struct qemu_cmd *q)
{
	if (!q->rng)
		return 0;
	if (arg(w, "--rng") < 0)
		return -1;
	if (!q->rng_rate)
		return 0;
	return arg_begin(w) < 0 || put(w, "rate=%llu", (unsigned long long)q->rng_rate) < 0 ? -1 : arg_end(w);
}

/* bulkhead's --name is [A-Za-z0-9_.-]{1,15}: other bytes become '-', longer names are cut. One
 * that starts with "--" goes as --name=NAME: after --name, bulkhead would take it for an option. */
static int out_name(struct out *w, const struct qemu_cmd *q)
{
	char name[NAME_MAX_LEN + 1];
	size_t i;

	if (!q->name)
		return 0;
	for (i = 0; q->name[i] && i < NAME_MAX_LEN; i++) {
		char c = q->name[i];

		name[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
				  c == '_' || c == '.' || c == '-'
			  ? c
			  : '-';
	}
	name[i] = '\0';
	if (strncmp(name, "--", 2) == 0)
		return arg_begin(w) < 0 || put(w, "--name=%s", name) < 0 ? -1 : arg_end(w);
	return arg(w, "--name") < 0 ? -1 : arg(w, name);
}

/* BULKHEAD_QEMU_OPTIONS: bulkhead's own options (--jail no-namespaces in a container), after ours. */
static int out_options(struct out *w, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, " \t\n");

		if (n && (arg_begin(w) < 0 || put(w, "%.*s", (int)n, s) < 0 || arg_end(w) < 0))
			return -1;
		s += n;
		s += strspn(s, " \t\n");
	}
	return 0;
}

int qemu_translate(const struct qemu_cmd *q, const char *bulkhead, struct qemu_out *o, char *err,
		   size_t errlen)
{
	struct out w = { .o = o, .err = err, .errlen = errlen };

	o->argc = 0;
	o->used = 0;
	if (arg(&w, bulkhead) < 0 || out_name(&w, q) < 0 || out_kernel(&w, q) < 0 ||
	    out_machine(&w, q) < 0 || out_serial(&w, q) < 0 || out_disks(&w, q) < 0 ||
	    out_nics(&w, q) < 0 || out_shares(&w, q) < 0)
		return -1;
	if (q->options && out_options(&w, q->options) < 0)
		return -1;
	if (q->verbose && arg(&w, "-v") < 0)
		return -1;
	return out_rng(&w, q);
}
