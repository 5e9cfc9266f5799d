/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command-line and --config parsing, table-driven: options[] names every
 * option with its kind and handler; a group option ("--kernel path=x,cmdline=y")
 * has a table of keys, each naming the vm_config field it fills. To add an
 * option, add a row (and, for a group, a key table and a reset function).
 * Device options (--disk, --net, ...) are the rows of the device-kind table
 * (kinds/kinds.h): each kind names its keys in its own options struct.
 *
 * Group values are comma-separated key=value pairs. A value may be
 * double-quoted to hold commas. Because the shell strips quotes, an unquoted
 * value of a key marked KEY_COMMAS ends only at a comma followed by one of the
 * group's own keys and '=', so "cmdline=console=ttyS0,115200 quiet" stays one
 * value. Numeric values end at the first comma.
 *
 * Every error is one line "--option: key=value: reason", prefixed with
 * "--config: FILE:LINE: " for lines of a config file.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "kinds/kinds.h"

#define CONFIG_LINE_MAX 8192 /* bytes in one --config line, newline excluded */
#define CONFIG_SHOW_MAX 48 /* bytes of a value quoted in an error message */
#define CONFIG_VERBOSE_MAX 9
#define CONFIG_PREFIX_MAX 512

#define STR_(x) #x
#define STR(x) STR_(x)

struct parse {
	struct vm_config *c;
	char *err;
	size_t errlen;
	int in_file; /* inside --config: no nesting */
	char prefix[CONFIG_PREFIX_MAX]; /* "--config: FILE:LINE: " or "" */
};

enum opt_kind {
	OPT_FLAG, /* no value */
	OPT_VALUE, /* one value, handled by fn */
	OPT_GROUP, /* key=value,... over keys[] (and bare words) */
	OPT_DEVICE, /* a device kind's option: a group over its own keys */
};

struct option_def;
typedef enum config_result (*opt_fn)(struct parse *p, const struct option_def *o,
				     const char *val);

struct option_def {
	const char *name; /* long name, without "--" */
	char short_name; /* 0 or the letter of "-x" */
	enum opt_kind kind;
	opt_fn fn; /* OPT_FLAG, OPT_VALUE; OPT_GROUP uses parse_group */
	const struct key_def *keys; /* OPT_GROUP */
	size_t nkeys;
	/* OPT_GROUP, optional: a value that is one bare word; 0 if taken, -1 if not a word */
	int (*word)(void *base, const char *val);
	const char *words; /* for messages: "stdio, none" */
	/* OPT_GROUP: clear the option's fields before applying keys (a repeat replaces) */
	void (*reset)(struct vm_config *c);
	const struct dev_kind *kind_row; /* OPT_DEVICE */
};

/* Errors. */

/* A message quotes what the user gave: keep it one printable line. */
static void one_line(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
}

/* Write prefix + message into p->err, keeping it one printable line. */
static enum config_result BH_PRINTF(2, 3) perr(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (!p->err || p->errlen == 0)
		return CONFIG_ERROR;
	n = (size_t)snprintf(p->err, p->errlen, "%s", p->prefix);
	if (n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
		va_end(ap);
	}
	one_line(p->err);
	return CONFIG_ERROR;
}

/* A printable excerpt of s[0..len) for a message: at most CONFIG_SHOW_MAX bytes, then "...". */
static const char *show(char *buf, size_t bufsz, const char *s, size_t len)
{
	if (len > CONFIG_SHOW_MAX)
		snprintf(buf, bufsz, "%.*s...", CONFIG_SHOW_MAX, s);
	else
		snprintf(buf, bufsz, "%.*s", (int)len, s);
	return buf;
}

#define SHOW_BUF (CONFIG_SHOW_MAX + 4)

/* Numbers: decimal or 0x hex, unsigned, no sign, no spaces, no junk, no overflow. */
int config_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	unsigned int base = 10;
	uint64_t v = 0;
	size_t i = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		unsigned int d;
		char ch = s[i];

		if (ch >= '0' && ch <= '9')
			d = (unsigned int)(ch - '0');
		else if (base == 16 && ch >= 'a' && ch <= 'f')
			d = (unsigned int)(ch - 'a' + 10);
		else if (base == 16 && ch >= 'A' && ch <= 'F')
			d = (unsigned int)(ch - 'A' + 10);
		else
			return -EINVAL;
		if (v > (max - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= CONFIG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return 0;
	}
	return 1;
}

/* Group options. */

static void kernel_reset(struct vm_config *c)
{
	c->kernel_path[0] = '\0';
	c->cmdline[0] = '\0';
}

static void initrd_reset(struct vm_config *c)
{
	c->initrd_path[0] = '\0';
}

static void memory_reset(struct vm_config *c)
{
	c->mem_mib = CONFIG_DEFAULT_MEM_MIB;
	c->mem_hugepages = 0;
}

static void vcpus_reset(struct vm_config *c)
{
	c->nvcpus = CONFIG_DEFAULT_VCPUS;
}

static void jail_reset(struct vm_config *c)
{
	c->jail_mode = 0;
	c->jail_uid = c->jail_gid = CONFIG_JAIL_DEFAULT_ID;
}

static int jail_word(void *base, const char *val)
{
	struct vm_config *c = base;

	if (strcmp(val, "on") == 0)
		c->jail_mode = 0;
	else if (strcmp(val, "no-namespaces") == 0)
		c->jail_mode = 1;
	else if (strcmp(val, "off") == 0)
		c->jail_mode = 2;
	else
		return -1;
	return 0;
}

static const struct key_def jail_keys[] = {
	{ .name = "uid", .kind = KEY_UINT, .off = offsetof(struct vm_config, jail_uid),
	  .flags = KEY_NONEMPTY | KEY_MIN1 },
	{ .name = "gid", .kind = KEY_UINT, .off = offsetof(struct vm_config, jail_gid),
	  .flags = KEY_NONEMPTY | KEY_MIN1 },
};

static void seccomp_reset(struct vm_config *c)
{
	c->seccomp_mode = 0;
}

static int seccomp_word(void *base, const char *val)
{
	struct vm_config *c = base;

	if (strcmp(val, "kill") == 0)
		c->seccomp_mode = 0;
	else if (strcmp(val, "log") == 0)
		c->seccomp_mode = 1;
	else if (strcmp(val, "off") == 0)
		c->seccomp_mode = 2;
	else
		return -1;
	return 0;
}

/* A bare on|off into *field; -1 if val is neither. */
static int on_off_word(int *field, const char *val)
{
	if (strcmp(val, "on") == 0)
		*field = 1;
	else if (strcmp(val, "off") == 0)
		*field = 0;
	else
		return -1;
	return 0;
}

static void acpi_reset(struct vm_config *c)
{
	c->acpi = 1;
}

static int acpi_word(void *base, const char *val)
{
	return on_off_word(&((struct vm_config *)base)->acpi, val);
}

static void restart_reset(struct vm_config *c)
{
	c->restart = 0;
}

static int restart_word(void *base, const char *val)
{
	struct vm_config *c = base;

	if (strcmp(val, "stop") == 0)
		c->restart = 0;
	else if (strcmp(val, "restart") == 0)
		c->restart = 1;
	else
		return -1;
	return 0;
}

static void pit_reset(struct vm_config *c)
{
	c->pit = -1;
}

static int pit_word(void *base, const char *val)
{
	return on_off_word(&((struct vm_config *)base)->pit, val);
}

static void irqchip_reset(struct vm_config *c)
{
	c->irqchip = -1;
}

static int irqchip_word(void *base, const char *val)
{
	struct vm_config *c = base;

	if (strcmp(val, "kernel") == 0)
		c->irqchip = CONFIG_IRQCHIP_KERNEL;
	else if (strcmp(val, "split") == 0)
		c->irqchip = CONFIG_IRQCHIP_SPLIT;
	else
		return -1;
	return 0;
}

static void debug_exit_reset(struct vm_config *c)
{
	c->debug_exit = 1;
}

static int debug_exit_word(void *base, const char *val)
{
	return on_off_word(&((struct vm_config *)base)->debug_exit, val);
}

#define VM_STRING(n, field, fl) \
	{ .name = n, .kind = KEY_STRING, .off = offsetof(struct vm_config, field), \
	  .size = CONFIG_MEMBER_SIZE(struct vm_config, field), .flags = (fl) }

static const struct key_def kernel_keys[] = {
	VM_STRING("path", kernel_path, KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
	VM_STRING("cmdline", cmdline, KEY_COMMAS),
};

static const struct key_def initrd_keys[] = {
	VM_STRING("path", initrd_path, KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
};

static const struct key_def memory_keys[] = {
	{ .name = "size_mib", .kind = KEY_U64, .off = offsetof(struct vm_config, mem_mib),
	  .flags = KEY_REQUIRED | KEY_NONEMPTY | KEY_MIN1 },
	{ .name = "hugepages", .kind = KEY_BOOL, .off = offsetof(struct vm_config, mem_hugepages),
	  .flags = KEY_NONEMPTY },
};

static const struct key_def vcpus_keys[] = {
	{ .name = "num", .kind = KEY_UINT, .off = offsetof(struct vm_config, nvcpus),
	  .flags = KEY_REQUIRED | KEY_NONEMPTY | KEY_MIN1 },
};

static enum config_result opt_help(struct parse *p, const struct option_def *o, const char *val);
static enum config_result opt_version(struct parse *p, const struct option_def *o,
				      const char *val);
static enum config_result opt_verbose(struct parse *p, const struct option_def *o,
				      const char *val);
static enum config_result opt_name(struct parse *p, const struct option_def *o, const char *val);
static enum config_result opt_policy_dir(struct parse *p, const struct option_def *o,
					 const char *val);
static enum config_result opt_config(struct parse *p, const struct option_def *o,
				     const char *val);

#define GROUP(n, k, r) \
	{ .name = n, .kind = OPT_GROUP, .keys = k, .nkeys = nitems(k), .reset = r }

static const struct option_def options[] = {
	GROUP("kernel", kernel_keys, kernel_reset),
	GROUP("initrd", initrd_keys, initrd_reset),
	GROUP("memory", memory_keys, memory_reset),
	GROUP("vcpus", vcpus_keys, vcpus_reset),
	{ .name = "acpi", .kind = OPT_GROUP, .word = acpi_word, .words = "on, off",
	  .reset = acpi_reset },
	{ .name = "pit", .kind = OPT_GROUP, .word = pit_word, .words = "on, off",
	  .reset = pit_reset },
	{ .name = "irqchip", .kind = OPT_GROUP, .word = irqchip_word, .words = "kernel, split",
	  .reset = irqchip_reset },
	{ .name = "debug-exit", .kind = OPT_GROUP, .word = debug_exit_word, .words = "on, off",
	  .reset = debug_exit_reset },
	{ .name = "on-device-failure", .kind = OPT_GROUP, .word = restart_word,
	  .words = "stop, restart", .reset = restart_reset },
	{ .name = "jail", .kind = OPT_GROUP, .keys = jail_keys, .nkeys = nitems(jail_keys),
	  .word = jail_word, .words = "on, off, no-namespaces", .reset = jail_reset },
	{ .name = "seccomp", .kind = OPT_GROUP, .word = seccomp_word, .words = "kill, log, off",
	  .reset = seccomp_reset },
	{ .name = "seccomp-policy-dir", .kind = OPT_VALUE, .fn = opt_policy_dir },
	{ .name = "name", .kind = OPT_VALUE, .fn = opt_name },
	{ .name = "config", .kind = OPT_VALUE, .fn = opt_config },
	{ .name = "verbose", .short_name = 'v', .kind = OPT_FLAG, .fn = opt_verbose },
	{ .name = "help", .short_name = 'h', .kind = OPT_FLAG, .fn = opt_help },
	{ .name = "version", .kind = OPT_FLAG, .fn = opt_version },
};

/* o is a device kind's option that may be given with no value (--rng). */
static int takes_bare(const struct option_def *o)
{
	return o->kind == OPT_DEVICE && o->kind_row->bare;
}

/* An option of the table, or a device kind's option described in *dev. */
static const struct option_def *find_long(const char *name, size_t len, struct option_def *dev)
{
	const struct dev_kind *k;

	for (size_t i = 0; i < nitems(options); i++) {
		if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
			return &options[i];
	}
	k = kinds_find(name, len);
	if (!k)
		return NULL;
	*dev = (struct option_def){ .name = k->option, .kind = OPT_DEVICE, .keys = k->keys,
				    .nkeys = k->nkeys, .word = k->word, .words = k->words,
				    .kind_row = k };
	return dev;
}

static const struct option_def *find_short(char ch)
{
	for (size_t i = 0; i < nitems(options); i++) {
		if (options[i].short_name && options[i].short_name == ch)
			return &options[i];
	}
	return NULL;
}

/* "path, cmdline" for messages. */
static const char *key_list(const struct option_def *o, char *buf, size_t bufsz)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->nkeys && n < bufsz; i++)
		n += (size_t)snprintf(buf + n, bufsz - n, "%s%s", i ? ", " : "", o->keys[i].name);
	return buf;
}

/* The key of o named s[0..len), or NULL. */
static const struct key_def *find_key(const struct option_def *o, const char *s, size_t len)
{
	for (size_t i = 0; i < o->nkeys; i++) {
		if (strlen(o->keys[i].name) == len && memcmp(o->keys[i].name, s, len) == 0)
			return &o->keys[i];
	}
	return NULL;
}

/* s starts with one of o's keys followed by '='. */
static int at_key(const struct option_def *o, const char *s)
{
	for (size_t i = 0; i < o->nkeys; i++) {
		size_t kl = strlen(o->keys[i].name);

		if (strncmp(s, o->keys[i].name, kl) == 0 && s[kl] == '=')
			return 1;
	}
	return 0;
}

/* Store the value v[0..len) of key k. */
static enum config_result set_key(struct parse *p, const struct option_def *o, char *base,
				  const struct key_def *k, const char *v, size_t len)
{
	char *field = base + k->off;
	char shown[SHOW_BUF];
	uint64_t num, max;
	int r;

	if (len == 0 && (k->flags & KEY_NONEMPTY))
		return perr(p, "--%s: %s=: must not be empty", o->name, k->name);
	switch (k->kind) {
	case KEY_STRING:
		if (len >= k->size)
			return perr(p, "--%s: %s=%s: too long (at most %zu bytes)", o->name,
				    k->name, show(shown, sizeof(shown), v, len), k->size - 1);
		memcpy(field, v, len);
		field[len] = '\0';
		return CONFIG_OK;
	case KEY_U64:
	case KEY_UINT:
		max = k->kind == KEY_U64 ? UINT64_MAX : UINT_MAX;
		r = config_parse_u64(v, len, max, &num);
		if (r == -ERANGE)
			return perr(p, "--%s: %s=%s: number too large (at most %llu)", o->name,
				    k->name, show(shown, sizeof(shown), v, len),
				    (unsigned long long)max);
		if (r < 0)
			return perr(p, "--%s: %s=%s: not a number", o->name, k->name,
				    show(shown, sizeof(shown), v, len));
		if ((k->flags & KEY_MIN1) && num == 0)
			return perr(p, "--%s: %s=%s: must be at least 1", o->name, k->name,
				    show(shown, sizeof(shown), v, len));
		if (k->kind == KEY_U64)
			*(uint64_t *)(void *)field = num;
		else
			*(unsigned int *)(void *)field = (unsigned int)num;
		return CONFIG_OK;
	case KEY_BOOL:
		if (len == 2 && memcmp(v, "on", 2) == 0)
			*(int *)(void *)field = 1;
		else if (len == 3 && memcmp(v, "off", 3) == 0)
			*(int *)(void *)field = 0;
		else
			return perr(p, "--%s: %s=%s: must be on or off", o->name, k->name,
				    show(shown, sizeof(shown), v, len));
		return CONFIG_OK;
	}
	return perr(p, "--%s: %s: internal error: bad key kind", o->name, k->name);
}

static enum config_result bad_element(struct parse *p, const struct option_def *o,
				      const char *s, size_t len)
{
	char shown[SHOW_BUF], keys[128];

	key_list(o, keys, sizeof(keys));
	if (o->word && o->nkeys == 0)
		return perr(p, "--%s: '%s': expected %s", o->name,
			    show(shown, sizeof(shown), s, len), o->words);
	if (o->word)
		return perr(p, "--%s: '%s': expected %s or key=value (keys: %s)", o->name,
			    show(shown, sizeof(shown), s, len), o->words, keys);
	return perr(p, "--%s: '%s': expected key=value (keys: %s)", o->name,
		    show(shown, sizeof(shown), s, len), keys);
}

/* The device of kind k an option fills: kind's one instance (replaced), or a new one. */
static struct dev_config *device_new(struct vm_config *c, const struct dev_kind *k)
{
	struct dev_config *d = &c->devs[c->ndevs++];

	d->kind = k;
	memset(d->opts, 0, sizeof(d->opts));
	if (k->defaults)
		k->defaults(d->opts);
	return d;
}

static enum config_result device_slot(struct parse *p, const struct dev_kind *k, void **opts)
{
	struct dev_config *d = NULL;

	for (unsigned int i = 0; k->max == 1 && i < p->c->ndevs; i++) {
		if (p->c->devs[i].kind == k)
			d = &p->c->devs[i];
	}
	if (d) {
		memset(d->opts, 0, sizeof(d->opts));
		if (k->defaults)
			k->defaults(d->opts);
	} else if (config_dev_count(p->c, k) >= k->max) {
		return perr(p, "--%s: at most %u may be given", k->option, k->max);
	} else if (p->c->ndevs >= LAYOUT_MAX_DEVICES) {
		return perr(p, "--%s: at most %d devices in all", k->option, LAYOUT_MAX_DEVICES);
	} else {
		d = device_new(p->c, k);
	}
	*opts = d->opts;
	return CONFIG_OK;
}

/* Apply "key=value,key=value" (or a bare word) to p->c. */
static enum config_result parse_group(struct parse *p, const struct option_def *o,
				      const char *val)
{
	char shown[SHOW_BUF], keys[128];
	uint32_t seen = 0;
	const char *s = val;
	enum config_result r;

	char *base = (char *)p->c;

	if (!val) {
		/* No value at all: only a device kind that takes one (takes_bare) gets here. */
		return device_slot(p, o->kind_row, (void **)&base);
	}
	if (*val == '\0')
		return perr(p, "--%s: empty value", o->name);
	if (o->kind == OPT_DEVICE) {
		r = device_slot(p, o->kind_row, (void **)&base);
		if (r != CONFIG_OK)
			return r;
	} else {
		o->reset(p->c);
	}
	if (o->word && o->word(base, val) == 0)
		return CONFIG_OK;
	for (;;) {
		const char *eq = strpbrk(s, "=,");
		const struct key_def *k;
		const char *v, *end, *next;
		size_t idx;

		if (!eq || *eq == ',')
			return bad_element(p, o, s, eq ? (size_t)(eq - s) : strlen(s));
		if (eq == s)
			return perr(p, "--%s: '%s': missing key before '='", o->name,
				    show(shown, sizeof(shown), s, strlen(s)));
		k = find_key(o, s, (size_t)(eq - s));
		if (!k)
			return perr(p, "--%s: unknown key '%s' (known: %s)", o->name,
				    show(shown, sizeof(shown), s, (size_t)(eq - s)),
				    key_list(o, keys, sizeof(keys)));
		idx = (size_t)(k - o->keys);
		if (seen & (UINT32_C(1) << idx))
			return perr(p, "--%s: duplicate key '%s'", o->name, k->name);
		seen |= UINT32_C(1) << idx;
		v = eq + 1;
		if (*v == '"') {
			v++;
			end = strchr(v, '"');
			if (!end)
				return perr(p, "--%s: %s=\"%s: unterminated quote", o->name,
					    k->name, show(shown, sizeof(shown), v, strlen(v)));
			next = end + 1;
			if (*next != ',' && *next != '\0')
				return perr(p, "--%s: %s: unexpected text after the closing quote",
					    o->name, k->name);
		} else if (k->flags & KEY_COMMAS) {
			end = v;
			while ((end = strchr(end, ',')) && !at_key(o, end + 1))
				end++;
			if (!end)
				end = v + strlen(v);
			next = end;
		} else {
			end = strchr(v, ',');
			if (!end)
				end = v + strlen(v);
			next = end;
		}
		r = set_key(p, o, base, k, v, (size_t)(end - v));
		if (r != CONFIG_OK)
			return r;
		if (*next == '\0')
			break;
		s = next + 1; /* past the comma */
		if (*s == '\0')
			return perr(p, "--%s: trailing comma", o->name);
	}
	for (size_t i = 0; i < o->nkeys; i++) {
		if ((o->keys[i].flags & KEY_REQUIRED) && !(seen & (UINT32_C(1) << i)))
			return perr(p, "--%s: %s= is required", o->name, o->keys[i].name);
	}
	return CONFIG_OK;
}

/* Flag and value options. */

static enum config_result opt_policy_dir(struct parse *p, const struct option_def *o,
					 const char *val)
{
	if (val[0] == '\0')
		return perr(p, "--%s: empty value", o->name);
	if (strlen(val) >= sizeof(p->c->policy_dir))
		return perr(p, "--%s: too long", o->name);
	snprintf(p->c->policy_dir, sizeof(p->c->policy_dir), "%s", val);
	return CONFIG_OK;
}

static enum config_result opt_help(struct parse *p, const struct option_def *o, const char *val)
{
	(void)p;
	(void)o;
	(void)val;
	return CONFIG_HELP;
}

static enum config_result opt_version(struct parse *p, const struct option_def *o,
				      const char *val)
{
	(void)p;
	(void)o;
	(void)val;
	return CONFIG_VERSION;
}

static enum config_result opt_verbose(struct parse *p, const struct option_def *o,
				      const char *val)
{
	(void)o;
	(void)val;
	if (p->c->verbose < CONFIG_VERBOSE_MAX)
		p->c->verbose++;
	return CONFIG_OK;
}

static enum config_result opt_name(struct parse *p, const struct option_def *o, const char *val)
{
	char shown[SHOW_BUF];
	size_t len = strlen(val);

	if (!name_ok(val, len))
		return perr(p, "--%s: '%s': must be 1 to %d characters from A-Z a-z 0-9 _ . -",
			    o->name, show(shown, sizeof(shown), val, len), CONFIG_NAME_MAX - 1);
	memcpy(p->c->name, val, len + 1);
	return CONFIG_OK;
}

static enum config_result apply(struct parse *p, const struct option_def *o, const char *val);

/* One line of a config file, trimmed, not blank, not a comment. */
static enum config_result apply_line(struct parse *p, char *s)
{
	const struct option_def *o;
	struct option_def dev;
	char shown[SHOW_BUF];
	char *name;
	size_t len;
	int has_value = 0;

	if (s[0] == '-' && s[1] == '-') {
		name = s + 2;
		len = strcspn(name, "= \t");
		o = find_long(name, len, &dev);
	} else if (s[0] == '-') {
		name = s + 1;
		len = strcspn(name, "= \t");
		o = len == 1 ? find_short(name[0]) : NULL;
	} else {
		name = s;
		len = strcspn(name, "= \t");
		o = find_long(name, len, &dev);
	}
	if (!o)
		return perr(p, "%s%s: unknown option (see --help)", s[0] == '-' ? "" : "--",
			    show(shown, sizeof(shown), s, (size_t)(name - s) + len));
	s = name + len;
	s += strspn(s, " \t");
	if (*s == '=') {
		has_value = 1;
		s++;
		s += strspn(s, " \t");
	}
	if (*s)
		has_value = 1;
	if (o->kind == OPT_FLAG) {
		if (has_value)
			return perr(p, "--%s: takes no value", o->name);
		return apply(p, o, NULL);
	}
	if (!has_value)
		return takes_bare(o) ? apply(p, o, NULL) : perr(p, "--%s: missing value", o->name);
	return apply(p, o, s);
}

static int is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
}

static int is_regular_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

static enum config_result opt_config(struct parse *p, const struct option_def *o,
				     const char *val)
{
	enum config_result r = CONFIG_OK;
	char *line;
	unsigned int lineno = 0, col = 0;
	FILE *f;
	int ch = 0;

	(void)o;
	if (p->in_file)
		return perr(p, "--config: nested --config is not allowed");
	f = fopen(val, "re");
	if (!f)
		return perr(p, "--config: %s: %s", val, strerror(errno));
	p->c->config_streamed |= !is_regular_file(fileno(f));
	line = malloc(CONFIG_LINE_MAX + 1);
	if (!line) {
		fclose(f);
		return perr(p, "--config: %s: %s", val, strerror(ENOMEM));
	}
	/* Firecracker's JSON starts with '{' (fcjson.c), read from here (f may be a pipe). */
	while ((ch = getc(f)) != EOF && is_space(ch)) {
		lineno += ch == '\n';
		col = ch == '\n' ? 0 : col + 1;
	}
	if (ch == '{') {
		ungetc(ch, f);
		r = fcjson_apply_stream(p->c, val, f, lineno, col, p->err, p->errlen);
		free(line);
		fclose(f);
		return r;
	}
	if (ch != EOF)
		ungetc(ch, f);
	ch = 0;
	p->in_file = 1;
	while (ch != EOF) {
		size_t n = 0;
		int nul = 0;
		char *s, *e;

		lineno++;
		while ((ch = getc(f)) != EOF && ch != '\n') {
			if (n == CONFIG_LINE_MAX) {
				n++; /* too long: stop reading (the file may be endless) */
				break;
			}
			if (ch == '\0')
				nul = 1;
			line[n++] = (char)ch;
		}
		if (ch == EOF && ferror(f)) {
			r = perr(p, "--config: %s: %s", val, strerror(errno ? errno : EIO));
			break;
		}
		if (n > CONFIG_LINE_MAX) {
			r = perr(p, "--config: %s:%u: line longer than %d bytes", val, lineno,
				 CONFIG_LINE_MAX);
			break;
		}
		if (nul) {
			r = perr(p, "--config: %s:%u: NUL byte in line", val, lineno);
			break;
		}
		line[n] = '\0';
		s = line;
		while (is_space(*s))
			s++;
		e = s + strlen(s);
		while (e > s && is_space(e[-1]))
			*--e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		if (snprintf(p->prefix, sizeof(p->prefix), "--config: %s:%u: ", val, lineno) < 0)
			p->prefix[0] = '\0';
		r = apply_line(p, s);
		p->prefix[0] = '\0';
		if (r != CONFIG_OK)
			break;
	}
	p->in_file = 0;
	free(line);
	fclose(f);
	return r;
}

static enum config_result apply(struct parse *p, const struct option_def *o, const char *val)
{
	if (o->kind == OPT_GROUP || o->kind == OPT_DEVICE)
		return parse_group(p, o, val);
	return o->fn(p, o, val);
}

/* Exported. */

int config_apply_option(struct vm_config *c, const char *name, const char *value, char *err,
			size_t errlen)
{
	struct parse p = { .c = c, .err = err, .errlen = errlen, .in_file = 1 };
	struct option_def dev;
	const struct option_def *o = find_long(name, strlen(name), &dev);

	if (err && errlen)
		err[0] = '\0';
	if (!o)
		return -ENOENT;
	if (o->kind == OPT_FLAG && value)
		return perr(&p, "--%s: takes no value", o->name), -EINVAL;
	if (o->kind != OPT_FLAG && !value && !takes_bare(o))
		return perr(&p, "--%s: missing value", o->name), -EINVAL;
	return apply(&p, o, value) == CONFIG_OK ? 0 : -EINVAL;
}

void config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mem_mib = CONFIG_DEFAULT_MEM_MIB;
	c->nvcpus = CONFIG_DEFAULT_VCPUS;
	c->acpi = 1;
	c->pit = -1;
	c->irqchip = -1;
	c->debug_exit = 1;
	c->jail_uid = c->jail_gid = CONFIG_JAIL_DEFAULT_ID;
	snprintf(c->name, sizeof(c->name), "%s", "vm");
	for (size_t i = 0; i < kinds_count; i++) {
		if (kinds_table[i]->always)
			device_new(c, kinds_table[i]);
	}
}

enum config_result config_parse_args(struct vm_config *c, int argc, char **argv, char *err,
				     size_t errlen)
{
	struct parse p = { .c = c, .err = err, .errlen = errlen };
	char shown[SHOW_BUF];

	if (err && errlen)
		err[0] = '\0';
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL;
		const struct option_def *o = NULL;
		struct option_def dev;
		enum config_result r;
		size_t len;

		if (arg[0] == '-' && arg[1] == '-') {
			len = strcspn(arg + 2, "=");
			o = find_long(arg + 2, len, &dev);
			if (arg[2 + len] == '=')
				val = arg + 2 + len + 1;
			len += 2;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			len = strcspn(arg, "=");
			o = len == 2 ? find_short(arg[1]) : NULL;
			if (arg[len] == '=')
				val = arg + len + 1;
		} else {
			return perr(&p, "'%s': unexpected argument (options start with --;"
				    " see --help)", show(shown, sizeof(shown), arg, strlen(arg)));
		}
		if (!o)
			return perr(&p, "%s: unknown option (see --help)",
				    show(shown, sizeof(shown), arg, len));
		if (o->kind == OPT_FLAG) {
			if (val)
				return perr(&p, "--%s: takes no value", o->name);
		} else if (!val) {
			int next_is_option = i + 1 >= argc ||
					     (argv[i + 1][0] == '-' && argv[i + 1][1] == '-');

			if (next_is_option && !takes_bare(o))
				return perr(&p, "--%s: missing value", o->name);
			if (!next_is_option)
				val = argv[++i];
		}
		r = apply(&p, o, val);
		if (r != CONFIG_OK)
			return r;
	}
	return CONFIG_OK;
}

static int str_terminated(const char *s, size_t size)
{
	return strnlen(s, size) < size;
}

unsigned int config_dev_count(const struct vm_config *c, const struct dev_kind *k)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < c->ndevs && i < LAYOUT_MAX_DEVICES; i++)
		n += c->devs[i].kind == k;
	return n;
}

/*
 * Which irqchip and whether a PIT: split where KVM can, unless the PIT was
 * asked for (KVM's i8254 needs its in-kernel PIC); a PIT by default only with
 * the in-kernel irqchip.
 */
static enum config_result config_check_irqchip(struct parse *p, struct vm_config *c,
					       const struct config_limits *lim)
{
	if (c->irqchip == CONFIG_IRQCHIP_SPLIT && c->pit == 1)
		return perr(p, "--pit on: KVM's i8254 needs its in-kernel PIC, not --irqchip split");
	if (c->irqchip == CONFIG_IRQCHIP_SPLIT && !lim->split_irqchip)
		return perr(p, "--irqchip split: this KVM has no KVM_CAP_SPLIT_IRQCHIP");
	if (c->irqchip < 0)
		c->irqchip = c->pit == 1 || !lim->split_irqchip ? CONFIG_IRQCHIP_KERNEL :
								 CONFIG_IRQCHIP_SPLIT;
	if (c->pit < 0)
		c->pit = c->irqchip == CONFIG_IRQCHIP_KERNEL;
	return CONFIG_OK;
}

enum config_result config_check(struct vm_config *c, const struct config_limits *lim,
				char *err, size_t errlen)
{
	struct parse p = { .err = err, .errlen = errlen };

	if (err && errlen)
		err[0] = '\0';
	if (!str_terminated(c->kernel_path, sizeof(c->kernel_path)))
		return perr(&p, "--kernel: path=: too long (at most %zu bytes)",
			    sizeof(c->kernel_path) - 1);
	if (c->kernel_path[0] == '\0')
		return perr(&p, "--kernel: path= is required");
	if (!str_terminated(c->cmdline, sizeof(c->cmdline)))
		return perr(&p, "--kernel: cmdline=: too long (at most %zu bytes)",
			    sizeof(c->cmdline) - 1);
	if (!str_terminated(c->initrd_path, sizeof(c->initrd_path)))
		return perr(&p, "--initrd: path=: too long (at most %zu bytes)",
			    sizeof(c->initrd_path) - 1);
	if (c->mem_mib < 1 || c->mem_mib > lim->host_mem_mib)
		return perr(&p, "--memory: size_mib=%llu: must be between 1 and %llu (host memory)",
			    (unsigned long long)c->mem_mib,
			    (unsigned long long)lim->host_mem_mib);
	if (c->nvcpus < 1 || c->nvcpus > lim->max_vcpus)
		return perr(&p, "--vcpus: num=%u: must be between 1 and %u (KVM's limit)",
			    c->nvcpus, lim->max_vcpus);
	if (!str_terminated(c->name, sizeof(c->name)) || !name_ok(c->name, strlen(c->name)))
		return perr(&p, "--name: must be 1 to %d characters from A-Z a-z 0-9 _ . -",
			    CONFIG_NAME_MAX - 1);
	if (c->ndevs > LAYOUT_MAX_DEVICES)
		return perr(&p, "at most %d devices in all", LAYOUT_MAX_DEVICES);
	if (config_check_irqchip(&p, c, lim) != CONFIG_OK)
		return CONFIG_ERROR;
	for (unsigned int i = 0; i < c->ndevs; i++) {
		const struct dev_kind *k = c->devs[i].kind;

		if (k->check && k->check(c->devs[i].opts, err, errlen) < 0) {
			if (err && errlen)
				one_line(err);
			return CONFIG_ERROR;
		}
	}
	return CONFIG_OK;
}

/* Print text wrapped at 79 columns, each line indented by indent spaces. */
static void print_wrapped(FILE *out, const char *text, int indent)
{
	const int width = 79;
	int col = 0;

	while (*text) {
		size_t w = strcspn(text, " ");

		if (col > indent && col + 1 + (int)w > width) {
			fputc('\n', out);
			col = 0;
		}
		if (col == 0)
			col = fprintf(out, "%*s", indent, "");
		else
			col += fprintf(out, " ");
		col += fprintf(out, "%.*s", (int)w, text);
		text += w;
		text += strspn(text, " ");
	}
	if (col)
		fputc('\n', out);
}

/* "  --option SYNOPSIS", broken before a '[' where it would pass 79 columns. */
static void print_synopsis(FILE *out, const struct dev_kind *k)
{
	const int width = 79;
	int indent = fprintf(out, "  --%s ", k->option), col = indent;
	const char *s = k->synopsis;

	while (*s) {
		int w = (int)strcspn(s + 1, "[") + 1;

		if (col > indent && col + w > width)
			col = fprintf(out, "\n%*s", indent, "") - 1;
		col += fprintf(out, "%.*s", w, s);
		s += w;
	}
	fputc('\n', out);
}

static void usage_devices(FILE *out)
{
	for (size_t i = 0; i < kinds_count; i++) {
		print_synopsis(out, kinds_table[i]);
		print_wrapped(out, kinds_table[i]->help, 19);
	}
}

void config_usage(FILE *out)
{
	fputs("usage: bulkhead --kernel path=FILE[,cmdline=TEXT] [OPTION]...\n"
	      "\n"
	      "  --kernel path=FILE[,cmdline=TEXT]\n"
	      "                   kernel: bzImage, ELF vmlinux or PVH ELF (required);\n"
	      "                   its command line (default: empty)\n"
	      "  --initrd path=FILE\n"
	      "                   initial ramdisk (default: none)\n"
	      "  --memory size_mib=N[,hugepages=on|off]\n"
	      "                   guest RAM in MiB (default: " STR(CONFIG_DEFAULT_MEM_MIB) "); hugepages:\n"
	      "                   on 2 MiB hugetlbfs pages the host has reserved (default: off)\n"
	      "  --vcpus num=N    virtual CPUs (default: " STR(CONFIG_DEFAULT_VCPUS) ")\n",
	      out);
	usage_devices(out);
	fputs("  --jail on|off|no-namespaces|uid=N,gid=N\n"
	      "                   the jail of every child process (default: on, with the\n"
	      "                   dedicated id " STR(CONFIG_JAIL_DEFAULT_ID) "); off and no-namespaces\n"
	      "                   warn on every start\n"
	      "  --seccomp kill|log|off\n"
	      "                   seccomp default action: kill the process (default), log the\n"
	      "                   violation and go on (for writing policies), or no filter\n"
	      "  --seccomp-policy-dir DIR\n"
	      "                   load policies from DIR instead of the built-in ones\n"
	      "  --acpi on|off    ACPI tables (RSDP, XSDT, FADT, MADT, DSDT); off leaves\n"
	      "                   the MP table and the command line (default: on)\n"
	      "  --irqchip kernel|split\n"
	      "                   interrupt controllers: all in KVM (kernel), or the local\n"
	      "                   APICs in KVM and the IOAPIC in bulkhead-vcpu, no PIC\n"
	      "                   (split; the default where KVM has it, unless --pit on)\n"
	      "  --pit on|off     KVM's i8254 timer, which needs --irqchip kernel (default:\n"
	      "                   on with it); Linux on KVM and the test guest need none\n"
	      "  --debug-exit on|off\n"
	      "                   a guest's write to I/O port 0xf4 ends the VM with status\n"
	      "                   2v+1 (default: on); off ignores it, as QEMU without\n"
	      "                   isa-debug-exit\n"
	      "  --on-device-failure stop|restart\n"
	      "                   a device process that dies ends the VM (default: stop), or\n"
	      "                   is replaced by a fresh one while the guest runs (restart;\n"
	      "                   more than 5 failures of one device in 60 s end the VM)\n"
	      "  --name NAME      VM name for logs and process titles, 1-15 of\n"
	      "                   A-Z a-z 0-9 _ . - (default: vm)\n"
	      "  --config FILE    read options from FILE, one per line (\"kernel path=x\");\n"
	      "                   blank lines and # comments are skipped\n"
	      "  -v, --verbose    log more (repeat for more)\n"
	      "  -h, --help       print this help and exit\n"
	      "  --version        print the version and exit\n"
	      "\n"
	      "Options take \"--opt value\" or \"--opt=value\" and apply in order; a repeated\n"
	      "option replaces the earlier one, except a repeatable device option, which\n"
	      "adds one more device. Keys are comma-separated key=value pairs; quote a\n"
	      "value (\"...\") to put commas in it. Numbers are decimal or 0x hex.\n"
	      "\n"
	      "Exit status: 0 the guest powered off, reset or triple-faulted; 2v+1 the guest\n"
	      "wrote v to debug-exit port 0xf4; 2 bad usage or configuration; 4 a bulkhead\n"
	      "process failed or the VM hit an error; 128+N stopped by signal N.\n",
	      out);
}

/* roff: a backslash and a leading dot or quote need escaping; '-' is a hyphen. */
static void roff_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

void config_man_devices(FILE *out)
{
	for (size_t i = 0; i < kinds_count; i++) {
		const struct dev_kind *k = kinds_table[i];

		fprintf(out, ".TP\n.BI \\-\\-%s \" ", k->option);
		roff_text(out, k->synopsis);
		fputs("\"\n", out);
		roff_text(out, k->help);
		fputc('\n', out);
	}
}

/* Print the value of key k in base into buf, quoted if it holds a comma. */
static size_t describe_key(const struct key_def *k, const char *base, char *buf, size_t len)
{
	const char *field = base + k->off;

	switch (k->kind) {
	case KEY_STRING:
		return (size_t)snprintf(buf, len, strchr(field, ',') ? "%s=\"%s\"" : "%s=%s",
					k->name, field);
	case KEY_U64:
		return (size_t)snprintf(buf, len, "%s=%llu", k->name,
					(unsigned long long)*(const uint64_t *)(const void *)field);
	case KEY_UINT:
		return (size_t)snprintf(buf, len, "%s=%u", k->name,
					*(const unsigned int *)(const void *)field);
	case KEY_BOOL:
		return (size_t)snprintf(buf, len, "%s=%s", k->name,
					*(const int *)(const void *)field ? "on" : "off");
	}
	return 0;
}

const char *config_dev_str(const struct dev_config *d, const char *key)
{
	for (size_t i = 0; i < d->kind->nkeys; i++) {
		const struct key_def *k = &d->kind->keys[i];

		if (k->kind == KEY_STRING && strcmp(k->name, key) == 0)
			return (const char *)d->opts + k->off;
	}
	return NULL;
}

static int describe_zero(const struct key_def *k, const char *field)
{
	if (k->kind == KEY_U64)
		return *(const uint64_t *)(const void *)field == 0;
	if (k->kind == KEY_UINT)
		return *(const unsigned int *)(const void *)field == 0;
	return 0;
}

const char *config_dev_describe(const struct dev_config *d, char *buf, size_t len)
{
	size_t n = 0;

	const char *word = d->kind->word_of ? d->kind->word_of(d->opts) : NULL;

	if (len)
		buf[0] = '\0';
	if (word)
		n = (size_t)snprintf(buf, len, "%s", word);
	for (size_t i = 0; i < d->kind->nkeys && n + 1 < len; i++) {
		const struct key_def *k = &d->kind->keys[i];
		const char *field = (const char *)d->opts + k->off;

		if (k->kind == KEY_STRING && !field[0])
			continue;
		/* A number that must be at least 1 is 0 only when it was not given. */
		if ((k->flags & KEY_MIN1) && describe_zero(k, field))
			continue;
		if (n)
			buf[n++] = ',';
		n += describe_key(k, (const char *)d->opts, buf + n, len - n);
	}
	if (n >= len && len)
		buf[len - 1] = '\0';
	return buf;
}
