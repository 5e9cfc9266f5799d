/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Firecracker's VM configuration file (firecracker --config-file), read by
 * --config when it starts with '{', translated into bulkhead's own options
 * and applied through the option parser (config_apply_option), so that it
 * fills the same vm_config as the command line and nothing else.
 *
 *   boot-source        kernel_image_path, initrd_path, boot_args -> --kernel, --initrd
 *                      (no boot_args: Firecracker's default command line)
 *   machine-config     vcpu_count, mem_size_mib, smt false, track_dirty_pages false,
 *                      huge_pages "None" -> --vcpus, --memory
 *   drives[]           path_on_host, is_read_only, is_root_device (first, and root= on
 *                      the command line as Firecracker adds it), partuuid, cache_type,
 *                      io_engine -> --disk
 *   network-interfaces[] host_dev_name, guest_mac -> --net tap=,mac=
 *   vsock              guest_cid, uds_path -> --vsock cid=,uds=
 *   entropy            rate_limiter.bandwidth -> --rng [rate=bytes per second]
 *   logger, metrics    accepted; bulkhead logs to stderr (said with -v)
 * An unknown key, a value of the wrong type or a feature bulkhead does not
 * have is an error naming the key's path ("drives[1].is_read_only"); malformed
 * JSON is an error with the line and column. Parsing is jansson's, on a file
 * of at most FCJSON_FILE_MAX bytes, with duplicate keys refused.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"

#define FCJSON_FILE_MAX (1 << 20)
#define FCJSON_WHERE_MAX 96
#define FCJSON_VALUE_MAX (PATH_MAX + CONFIG_CMDLINE_MAX + 64)
/* boot_args absent: Firecracker's DEFAULT_KERNEL_CMDLINE (src/vmm/src/vmm_config/boot_source.rs). */
#define FCJSON_DEFAULT_CMDLINE "reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux " \
	"i8042.nomux i8042.dumbkbd swiotlb=noforce"

struct fc {
	struct vm_config *c;
	const char *file; /* for messages */
	char *err;
	size_t errlen;
	char root_args[96]; /* "root=/dev/vda rw", from the root drive */
};

enum fc_kind {
	FC_STRING,
	FC_UINT,
	FC_BOOL,
	FC_OBJECT,
	FC_ARRAY,
	FC_UNSUPPORTED, /* a Firecracker key bulkhead has no equivalent for: only null */
};

#define FC_REQUIRED 0x1

struct fc_key {
	const char *name;
	enum fc_kind kind;
	unsigned int flags;
};

static int BH_PRINTF(2, 3) fc_err(struct fc *f, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	n = (size_t)snprintf(f->err, f->errlen, "--config: %s: ", f->file);
	if (n < f->errlen) {
		va_start(ap, fmt);
		vsnprintf(f->err + n, f->errlen - n, fmt, ap);
		va_end(ap);
	}
	for (char *s = f->err; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
	return -EINVAL;
}

static const char *kind_name(enum fc_kind k)
{
	static const char *const names[] = {
		[FC_STRING] = "a string", [FC_UINT] = "a non-negative integer",
		[FC_BOOL] = "true or false", [FC_OBJECT] = "an object", [FC_ARRAY] = "an array",
		[FC_UNSUPPORTED] = "null",
	};

	return names[k];
}

static int kind_ok(enum fc_kind k, json_t *v)
{
	switch (k) {
	case FC_STRING:
		return json_is_string(v);
	case FC_UINT:
		return json_is_integer(v) && json_integer_value(v) >= 0;
	case FC_BOOL:
		return json_is_boolean(v);
	case FC_OBJECT:
		return json_is_object(v);
	case FC_ARRAY:
		return json_is_array(v);
	case FC_UNSUPPORTED:
		return json_is_null(v);
	}
	return 0;
}

/*
 * obj is an object whose keys are all in keys[], each of its kind (null counts
 * as absent, as Firecracker's optional fields take it) and every required one
 * present.
 */
static int fc_check(struct fc *f, json_t *obj, const char *where, const struct fc_key *keys,
		    size_t nkeys)
{
	const char *name;
	json_t *v;

	if (!json_is_object(obj))
		return fc_err(f, "%s: must be an object", where);
	json_object_foreach(obj, name, v) {
		size_t i;

		for (i = 0; i < nkeys && strcmp(keys[i].name, name) != 0; i++)
			;
		if (i == nkeys)
			return fc_err(f, "%s.%s: unknown key", where, name);
		if (json_is_null(v) && !(keys[i].flags & FC_REQUIRED))
			continue;
		if (keys[i].kind == FC_UNSUPPORTED)
			return fc_err(f, "%s.%s: not supported by bulkhead (only null)", where, name);
		if (!kind_ok(keys[i].kind, v))
			return fc_err(f, "%s.%s: must be %s", where, name, kind_name(keys[i].kind));
	}
	for (size_t i = 0; i < nkeys; i++) {
		if ((keys[i].flags & FC_REQUIRED) && !json_object_get(obj, keys[i].name))
			return fc_err(f, "%s.%s: required", where, keys[i].name);
	}
	return 0;
}

/* The value of an optional key: NULL when absent or null. */
static json_t *fc_get(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	return json_is_null(v) ? NULL : v;
}

/* A string that was checked to be one; "" when absent. */
static const char *fc_str(json_t *obj, const char *name)
{
	json_t *v = fc_get(obj, name);

	return v ? json_string_value(v) : "";
}

/* The string key of the device the last option added (--disk, --net: never one that replaces). */
static const char *fc_last_dev(const struct fc *f, const char *key)
{
	return f->c->ndevs ? config_dev_str(&f->c->devs[f->c->ndevs - 1], key) : NULL;
}

/*
 * An option value "key=\"value\"": quoted, so commas stay in it; the quoted
 * form cannot hold a '"', so such a value goes unquoted and the caller checks
 * what the parser made of it (fc_same).
 */
static int fc_put(struct fc *f, char *buf, size_t len, size_t *at, const char *where,
		  const char *key, const char *value)
{
	const char *sep = *at ? "," : "";
	int n = strchr(value, '"') ? snprintf(buf + *at, len - *at, "%s%s=%s", sep, key, value)
				   : snprintf(buf + *at, len - *at, "%s%s=\"%s\"", sep, key, value);

	if (n < 0 || (size_t)n >= len - *at)
		return fc_err(f, "%s: too long", where);
	*at += (size_t)n;
	return 0;
}

static int fc_apply(struct fc *f, const char *where, const char *name, const char *value)
{
	char msg[512];
	int r = config_apply_option(f->c, name, value, msg, sizeof(msg));

	if (r == -ENOENT)
		return fc_err(f, "%s: not supported yet (bulkhead has no --%s option)", where, name);
	if (r < 0)
		return fc_err(f, "%s: %s", where, msg);
	return 0;
}

/* The parser kept the string exactly (see fc_put). */
static int fc_same(struct fc *f, const char *where, const char *key, const char *want,
		   const char *got)
{
	if (!got || strcmp(want, got) != 0)
		return fc_err(f, "%s.%s: cannot be passed on (a comma and a double quote together, "
			      "or too long)", where, key);
	return 0;
}

static const struct fc_key machine_keys[] = {
	{ "vcpu_count", FC_UINT, FC_REQUIRED },
	{ "mem_size_mib", FC_UINT, FC_REQUIRED },
	{ "smt", FC_BOOL, 0 },
	{ "cpu_template", FC_STRING, 0 },
	{ "track_dirty_pages", FC_BOOL, 0 },
	{ "huge_pages", FC_STRING, 0 },
};

static int fc_machine(struct fc *f, json_t *o, const char *where)
{
	const char *tmpl = fc_str(o, "cpu_template"), *huge = fc_str(o, "huge_pages");
	char val[64];
	int r;

	if ((r = fc_check(f, o, where, machine_keys, nitems(machine_keys))) < 0)
		return r;
	if (json_is_true(json_object_get(o, "smt")))
		return fc_err(f, "%s.smt: true is not supported (bulkhead's vCPUs are not SMT siblings)",
			      where);
	if (json_is_true(json_object_get(o, "track_dirty_pages")))
		return fc_err(f, "%s.track_dirty_pages: true is not supported (no snapshots)", where);
	if (tmpl[0] && strcmp(tmpl, "None") != 0)
		return fc_err(f, "%s.cpu_template: \"%s\" is not supported (only \"None\")", where, tmpl);
	if (huge[0] && strcmp(huge, "None") != 0)
		return fc_err(f, "%s.huge_pages: \"%s\" is not supported (only \"None\")", where, huge);
	snprintf(val, sizeof(val), "num=%lld", (long long)json_integer_value(json_object_get(o, "vcpu_count")));
	if ((r = fc_apply(f, where, "vcpus", val)) < 0)
		return r;
	snprintf(val, sizeof(val), "size_mib=%lld",
		 (long long)json_integer_value(json_object_get(o, "mem_size_mib")));
	return fc_apply(f, where, "memory", val);
}

static const struct fc_key drive_keys[] = {
	{ "drive_id", FC_STRING, FC_REQUIRED },
	{ "path_on_host", FC_STRING, FC_REQUIRED },
	{ "is_root_device", FC_BOOL, FC_REQUIRED },
	{ "is_read_only", FC_BOOL, 0 },
	{ "partuuid", FC_STRING, 0 },
	{ "cache_type", FC_STRING, 0 },
	{ "io_engine", FC_STRING, 0 },
	{ "rate_limiter", FC_UNSUPPORTED, 0 },
	{ "socket", FC_UNSUPPORTED, 0 },
};

static int fc_drive(struct fc *f, json_t *o, const char *where)
{
	const char *path = fc_str(o, "path_on_host"), *cache = fc_str(o, "cache_type");
	const char *engine = fc_str(o, "io_engine"), *partuuid = fc_str(o, "partuuid");
	int ro = json_is_true(json_object_get(o, "is_read_only"));
	char val[PATH_MAX + 64];
	size_t at = 0;
	int r;

	if (cache[0] && strcmp(cache, "Unsafe") != 0 && strcmp(cache, "Writeback") != 0)
		return fc_err(f, "%s.cache_type: must be \"Unsafe\" or \"Writeback\"", where);
	if (engine[0] && strcmp(engine, "Sync") != 0 && strcmp(engine, "Async") != 0)
		return fc_err(f, "%s.io_engine: must be \"Sync\" or \"Async\"", where);
	if (json_is_true(json_object_get(o, "is_root_device"))) {
		if (partuuid[0] && (strlen(partuuid) > 64 || strpbrk(partuuid, " \t\"")))
			return fc_err(f, "%s.partuuid: not a partition UUID", where);
		snprintf(f->root_args, sizeof(f->root_args), "root=%s%s %s", partuuid[0] ? "PARTUUID=" : "",
			 partuuid[0] ? partuuid : "/dev/vda", ro ? "ro" : "rw");
	}
	if ((r = fc_put(f, val, sizeof(val), &at, where, "path", path)) < 0)
		return r;
	if (ro && (r = fc_put(f, val, sizeof(val), &at, where, "readonly", "on")) < 0)
		return r;
	if ((r = fc_apply(f, where, "disk", val)) < 0)
		return r;
	return fc_same(f, where, "path_on_host", path, fc_last_dev(f, "path"));
}

/* Every drive checked first; the root device becomes vda, as in Firecracker. */
static int fc_drives(struct fc *f, json_t *a, const char *name)
{
	char where[FCJSON_WHERE_MAX];
	size_t i, root = SIZE_MAX;
	json_t *d;
	int r;

	json_array_foreach(a, i, d) {
		snprintf(where, sizeof(where), "%s[%zu]", name, i);
		if ((r = fc_check(f, d, where, drive_keys, nitems(drive_keys))) < 0)
			return r;
		for (size_t j = 0; j < i; j++) {
			if (json_equal(json_object_get(d, "drive_id"),
				       json_object_get(json_array_get(a, j), "drive_id")))
				return fc_err(f, "%s.drive_id: \"%s\" is given twice", where, fc_str(d, "drive_id"));
		}
		if (json_is_true(json_object_get(d, "is_root_device"))) {
			if (root != SIZE_MAX)
				return fc_err(f, "%s.is_root_device: %s[%zu] is the root device already",
					      where, name, root);
			root = i;
		}
	}
	if (root != SIZE_MAX) {
		snprintf(where, sizeof(where), "%s[%zu]", name, root);
		if ((r = fc_drive(f, json_array_get(a, root), where)) < 0)
			return r;
	}
	json_array_foreach(a, i, d) {
		snprintf(where, sizeof(where), "%s[%zu]", name, i);
		if (i != root && (r = fc_drive(f, d, where)) < 0)
			return r;
	}
	return 0;
}

static const struct fc_key boot_keys[] = {
	{ "kernel_image_path", FC_STRING, FC_REQUIRED },
	{ "initrd_path", FC_STRING, 0 },
	{ "boot_args", FC_STRING, 0 },
};

static int fc_boot(struct fc *f, json_t *o, const char *where)
{
	const char *kernel = fc_str(o, "kernel_image_path"), *initrd = fc_str(o, "initrd_path");
	char *val, *cmdline;
	size_t at = 0;
	int r, n;

	if ((r = fc_check(f, o, where, boot_keys, nitems(boot_keys))) < 0)
		return r;
	val = malloc(FCJSON_VALUE_MAX);
	cmdline = malloc(CONFIG_CMDLINE_MAX);
	if (!val || !cmdline) {
		r = fc_err(f, "%s: %s", where, strerror(ENOMEM));
		goto out_free;
	}
	n = snprintf(cmdline, CONFIG_CMDLINE_MAX, "%s%s%s",
		     fc_get(o, "boot_args") ? fc_str(o, "boot_args") : FCJSON_DEFAULT_CMDLINE,
		     f->root_args[0] ? " " : "", f->root_args);
	r = -EINVAL;
	if (n < 0 || n >= CONFIG_CMDLINE_MAX) {
		fc_err(f, "%s.boot_args: too long (at most %d bytes with root=)", where, CONFIG_CMDLINE_MAX - 1);
		goto out_free;
	}
	if ((r = fc_put(f, val, FCJSON_VALUE_MAX, &at, where, "path", kernel)) < 0 ||
	    (r = fc_put(f, val, FCJSON_VALUE_MAX, &at, where, "cmdline", cmdline)) < 0 ||
	    (r = fc_apply(f, where, "kernel", val)) < 0 ||
	    (r = fc_same(f, where, "kernel_image_path", kernel, f->c->kernel_path)) < 0 ||
	    (r = fc_same(f, where, "boot_args", cmdline, f->c->cmdline)) < 0)
		goto out_free;
	if (initrd[0]) {
		at = 0;
		if ((r = fc_put(f, val, FCJSON_VALUE_MAX, &at, where, "path", initrd)) < 0 ||
		    (r = fc_apply(f, where, "initrd", val)) < 0 ||
		    (r = fc_same(f, where, "initrd_path", initrd, f->c->initrd_path)) < 0)
			goto out_free;
	}
	r = 0;
out_free:
	free(cmdline);
	free(val);
	return r;
}

static const struct fc_key net_keys[] = {
	{ "iface_id", FC_STRING, FC_REQUIRED },
	{ "host_dev_name", FC_STRING, FC_REQUIRED },
	{ "guest_mac", FC_STRING, 0 },
	{ "mtu", FC_UNSUPPORTED, 0 },
	{ "rx_rate_limiter", FC_UNSUPPORTED, 0 },
	{ "tx_rate_limiter", FC_UNSUPPORTED, 0 },
};

static int fc_net(struct fc *f, json_t *o, const char *where)
{
	const char *tap = fc_str(o, "host_dev_name"), *mac = fc_str(o, "guest_mac");
	char val[128];
	size_t at = 0;
	int r;

	if ((r = fc_check(f, o, where, net_keys, nitems(net_keys))) < 0)
		return r;
	if ((r = fc_put(f, val, sizeof(val), &at, where, "tap", tap)) < 0 ||
	    (mac[0] && (r = fc_put(f, val, sizeof(val), &at, where, "mac", mac)) < 0) ||
	    (r = fc_apply(f, where, "net", val)) < 0)
		return r;
	return fc_same(f, where, "host_dev_name", tap, fc_last_dev(f, "tap"));
}

static int fc_nets(struct fc *f, json_t *a, const char *name)
{
	char where[FCJSON_WHERE_MAX];
	size_t i;
	json_t *n;
	int r;

	json_array_foreach(a, i, n) {
		snprintf(where, sizeof(where), "%s[%zu]", name, i);
		if ((r = fc_net(f, n, where)) < 0)
			return r;
	}
	return 0;
}

static const struct fc_key vsock_keys[] = {
	{ "vsock_id", FC_STRING, 0 },
	{ "guest_cid", FC_UINT, FC_REQUIRED },
	{ "uds_path", FC_STRING, FC_REQUIRED },
};

static int fc_vsock(struct fc *f, json_t *o, const char *where)
{
	json_int_t cid;
	char val[PATH_MAX + 64];
	size_t at;
	int r;

	if ((r = fc_check(f, o, where, vsock_keys, nitems(vsock_keys))) < 0)
		return r;
	cid = json_integer_value(json_object_get(o, "guest_cid"));
	if (cid < 3 || cid > UINT32_MAX)
		return fc_err(f, "%s.guest_cid: %lld: must be from 3 to %u", where, (long long)cid, UINT32_MAX);
	at = (size_t)snprintf(val, sizeof(val), "cid=%lld", (long long)cid);
	if ((r = fc_put(f, val, sizeof(val), &at, where, "uds", fc_str(o, "uds_path"))) < 0)
		return r;
	return fc_apply(f, where, "vsock", val);
}

static const struct fc_key bucket_keys[] = {
	{ "size", FC_UINT, FC_REQUIRED },
	{ "refill_time", FC_UINT, FC_REQUIRED },
	{ "one_time_burst", FC_UNSUPPORTED, 0 },
};

static const struct fc_key limiter_keys[] = {
	{ "bandwidth", FC_OBJECT, 0 },
	{ "ops", FC_UNSUPPORTED, 0 },
};

static const struct fc_key entropy_keys[] = {
	{ "rate_limiter", FC_OBJECT, 0 },
};

/* entropy.rate_limiter.bandwidth: size bytes every refill_time ms -> bytes per second. */
static int fc_entropy(struct fc *f, json_t *o, const char *where)
{
	json_t *lim, *bw;
	char in[FCJSON_WHERE_MAX], val[64];
	json_int_t size, ms;
	int r;

	if ((r = fc_check(f, o, where, entropy_keys, nitems(entropy_keys))) < 0)
		return r;
	lim = fc_get(o, "rate_limiter");
	if (!lim)
		return fc_apply(f, where, "rng", NULL);
	snprintf(in, sizeof(in), "%s.rate_limiter", where);
	if ((r = fc_check(f, lim, in, limiter_keys, nitems(limiter_keys))) < 0)
		return r;
	bw = fc_get(lim, "bandwidth");
	if (!bw)
		return fc_apply(f, where, "rng", NULL);
	snprintf(in, sizeof(in), "%s.rate_limiter.bandwidth", where);
	if ((r = fc_check(f, bw, in, bucket_keys, nitems(bucket_keys))) < 0)
		return r;
	size = json_integer_value(json_object_get(bw, "size"));
	ms = json_integer_value(json_object_get(bw, "refill_time"));
	if (size == 0 || ms == 0 || size > INT64_MAX / 1000)
		return fc_err(f, "%s: size and refill_time must be from 1 (and size at most %lld)", in,
			      (long long)(INT64_MAX / 1000));
	snprintf(val, sizeof(val), "rate=%lld", (long long)(size * 1000 / ms));
	return fc_apply(f, where, "rng", val);
}

static const struct fc_key logger_keys[] = {
	{ "log_path", FC_STRING, 0 },
	{ "level", FC_STRING, 0 },
	{ "show_level", FC_BOOL, 0 },
	{ "show_log_origin", FC_BOOL, 0 },
	{ "module", FC_STRING, 0 },
};

static const struct fc_key metrics_keys[] = {
	{ "metrics_path", FC_STRING, FC_REQUIRED },
	{ "emit_id", FC_BOOL, 0 },
	{ "properties", FC_OBJECT, 0 },
};

/* Accepted so that Firecracker's files run unchanged; bulkhead logs to stderr. */
static int fc_logging(struct fc *f, json_t *o, const char *where)
{
	int metrics = strcmp(where, "metrics") == 0;
	int r = metrics ? fc_check(f, o, where, metrics_keys, nitems(metrics_keys))
			: fc_check(f, o, where, logger_keys, nitems(logger_keys));

	if (r == 0 && f->c->verbose)
		log_info("--config: %s: %s: accepted and not used: bulkhead logs to stderr%s", f->file,
			 where, metrics ? " and keeps no metrics file" : "");
	return r;
}

/* The sections, in the order they are applied (drives before boot-source, for root=). */
static const struct fc_section {
	const char *name;
	enum fc_kind kind;
	int (*apply)(struct fc *f, json_t *v, const char *where); /* NULL: not supported */
	unsigned int flags;
} sections[] = {
	{ "machine-config", FC_OBJECT, fc_machine, 0 },
	{ "drives", FC_ARRAY, fc_drives, 0 },
	{ "boot-source", FC_OBJECT, fc_boot, FC_REQUIRED },
	{ "network-interfaces", FC_ARRAY, fc_nets, 0 },
	{ "vsock", FC_OBJECT, fc_vsock, 0 },
	{ "entropy", FC_OBJECT, fc_entropy, 0 },
	{ "logger", FC_OBJECT, fc_logging, 0 },
	{ "metrics", FC_OBJECT, fc_logging, 0 },
	{ "balloon", FC_OBJECT, NULL, 0 },
	{ "mmds-config", FC_OBJECT, NULL, 0 },
	{ "cpu-config", FC_OBJECT, NULL, 0 },
	{ "memory-hotplug", FC_OBJECT, NULL, 0 },
	{ "pmem", FC_ARRAY, NULL, 0 },
};

static int fc_top(struct fc *f, json_t *root)
{
	const char *name;
	json_t *v;
	int r;

	if (!json_is_object(root))
		return fc_err(f, "the top level must be an object");
	json_object_foreach(root, name, v) {
		size_t i;

		for (i = 0; i < nitems(sections) && strcmp(sections[i].name, name) != 0; i++)
			;
		if (i == nitems(sections))
			return fc_err(f, "%s: unknown key", name);
		if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0))
			continue;
		if (!kind_ok(sections[i].kind, v))
			return fc_err(f, "%s: must be %s", name, kind_name(sections[i].kind));
		if (!sections[i].apply)
			return fc_err(f, "%s: not supported by bulkhead", name);
	}
	for (size_t i = 0; i < nitems(sections); i++) {
		v = fc_get(root, sections[i].name);
		if (!v && (sections[i].flags & FC_REQUIRED))
			return fc_err(f, "%s: required", sections[i].name);
		if (v && sections[i].apply && (r = sections[i].apply(f, v, sections[i].name)) < 0)
			return r;
	}
	return 0;
}

/* Parse buf, whose first byte came after `lines` newlines and `cols` bytes of the file, and apply it. */
static enum config_result apply_at(struct vm_config *c, const char *name, const char *buf, size_t len,
				   unsigned int lines, unsigned int cols, char *err, size_t errlen)
{
	struct fc f = { .c = c, .file = name, .err = err, .errlen = errlen };
	json_error_t je;
	json_t *root;
	int r;

	if (len > FCJSON_FILE_MAX)
		return fc_err(&f, "larger than %d bytes", FCJSON_FILE_MAX), CONFIG_ERROR;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		/* As a compiler says it: FILE:LINE:COLUMN, counted from the file's start. */
		snprintf(err, errlen, "--config: %s:%u:%u: %s", name, (unsigned int)je.line + lines,
			 (unsigned int)je.column + (je.line == 1 ? cols : 0), je.text);
		for (char *s = err; *s; s++)
			*s = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
		return CONFIG_ERROR;
	}
	r = fc_top(&f, root);
	json_decref(root);
	return r < 0 ? CONFIG_ERROR : CONFIG_OK;
}

enum config_result fcjson_apply_buf(struct vm_config *c, const char *name, const char *buf,
				    size_t len, char *err, size_t errlen)
{
	return apply_at(c, name, buf, len, 0, 0, err, errlen);
}

enum config_result fcjson_apply_stream(struct vm_config *c, const char *name, FILE *f,
				       unsigned int lines, unsigned int cols, char *err, size_t errlen)
{
	struct fc fc = { .c = c, .file = name, .err = err, .errlen = errlen };
	enum config_result r;
	char *buf = malloc(FCJSON_FILE_MAX + 1);
	size_t len;

	if (!buf)
		return fc_err(&fc, "%s", strerror(ENOMEM)), CONFIG_ERROR;
	/* One byte more than allowed tells a file that is too large. */
	len = fread(buf, 1, FCJSON_FILE_MAX + 1, f);
	if (ferror(f)) {
		fc_err(&fc, "%s", strerror(errno ? errno : EIO));
		free(buf);
		return CONFIG_ERROR;
	}
	r = apply_at(c, name, buf, len, lines, cols, err, errlen);
	free(buf);
	return r;
}
