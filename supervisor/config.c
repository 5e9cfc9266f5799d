/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command-line and --config parsing, table-driven: options[] names every
 * option with its kind and handler; a group option ("--kernel path=x,cmdline=y")
 * has a table of keys, each naming the vm_config field it fills. To add an
 * option, add a row (and, for a group, a key table and a reset function).
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

#include "../common/log.h"

#define CONFIG_LINE_MAX 8192 /* bytes in one --config line, newline excluded */
#define CONFIG_SHOW_MAX 48 /* bytes of a value quoted in an error message */
#define CONFIG_VERBOSE_MAX 9
#define CONFIG_PREFIX_MAX 512

#define MEMBER_SIZE(type, m) sizeof(((type *)0)->m)
#define STR_(x) #x
#define STR(x) STR_(x)

struct parse {
	struct vm_config *c;
	char *err;
	size_t errlen;
	int in_file; /* inside --config: no nesting */
	char prefix[CONFIG_PREFIX_MAX]; /* "--config: FILE:LINE: " or "" */
};

enum key_kind {
	KEY_STRING, /* char[size] at off */
	KEY_U64, /* uint64_t at off */
	KEY_UINT, /* unsigned int at off */
	KEY_BOOL, /* int at off: on|off */
};

#define KEY_REQUIRED 0x1 /* the group must give this key */
#define KEY_NONEMPTY 0x2 /* the value must not be empty */
#define KEY_COMMAS 0x4 /* an unquoted value may hold commas (see top of file) */
#define KEY_MIN1 0x8 /* numbers: at least 1 */

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t off; /* offsetof(struct vm_config, field), or of the list item's field */
	size_t size; /* KEY_STRING: size of the buffer */
	unsigned int flags; /* KEY_* */
};

enum opt_kind {
	OPT_FLAG, /* no value */
	OPT_VALUE, /* one value, handled by fn */
	OPT_GROUP, /* key=value,... over keys[] (and bare words) */
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
	int (*word)(struct vm_config *c, const char *val);
	const char *words; /* for messages: "stdio, none" */
	/* OPT_GROUP: clear the option's fields before applying keys (a repeat replaces) */
	void (*reset)(struct vm_config *c);
	/* OPT_GROUP, optional: after all keys were applied */
	void (*finish)(struct vm_config *c);
	/* OPT_GROUP, optional: a repeatable option; returns a fresh zeroed item whose
	 * fields the keys fill (offsets relative to it), or NULL when the list is full */
	void *(*item)(struct vm_config *c);
	unsigned int max_items; /* for the message when item() returns NULL */
};

/* Errors. */

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
	for (char *s = p->err; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
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
static int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
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
}

static void vcpus_reset(struct vm_config *c)
{
	c->nvcpus = CONFIG_DEFAULT_VCPUS;
}

static void serial_reset(struct vm_config *c)
{
	c->serial = SERIAL_STDIO;
	c->serial_path[0] = '\0';
}

static void serial_finish(struct vm_config *c)
{
	/* the only key is file=, which is required to be non-empty */
	c->serial = SERIAL_FILE;
}

static int serial_word(struct vm_config *c, const char *val)
{
	if (strcmp(val, "stdio") == 0)
		c->serial = SERIAL_STDIO;
	else if (strcmp(val, "none") == 0)
		c->serial = SERIAL_NONE;
	else
		return -1;
	return 0;
}

static void jail_reset(struct vm_config *c)
{
	c->jail_mode = 0;
	c->jail_uid = c->jail_gid = CONFIG_JAIL_DEFAULT_ID;
}

static int jail_word(struct vm_config *c, const char *val)
{
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

static int seccomp_word(struct vm_config *c, const char *val)
{
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

static int acpi_word(struct vm_config *c, const char *val)
{
	return on_off_word(&c->acpi, val);
}

static void pit_reset(struct vm_config *c)
{
	c->pit = 1;
}

static int pit_word(struct vm_config *c, const char *val)
{
	return on_off_word(&c->pit, val);
}

static void debug_exit_reset(struct vm_config *c)
{
	c->debug_exit = 1;
}

static int debug_exit_word(struct vm_config *c, const char *val)
{
	return on_off_word(&c->debug_exit, val);
}

static void *disk_item(struct vm_config *c)
{
	struct disk_config *d;

	if (c->ndisks >= CONFIG_MAX_DISKS)
		return NULL;
	d = &c->disks[c->ndisks++];
	memset(d, 0, sizeof(*d));
	return d;
}

#define DISK_KEY(n, k, field, fl) \
	{ .name = n, .kind = k, .off = offsetof(struct disk_config, field), \
	  .size = MEMBER_SIZE(struct disk_config, field), .flags = (fl) }

static const struct key_def disk_keys[] = {
	DISK_KEY("path", KEY_STRING, path, KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
	DISK_KEY("readonly", KEY_BOOL, readonly, KEY_NONEMPTY),
	DISK_KEY("serial", KEY_STRING, serial, 0),
	DISK_KEY("direct", KEY_BOOL, direct, KEY_NONEMPTY),
	DISK_KEY("snapshot", KEY_BOOL, snapshot, KEY_NONEMPTY),
};

static void *net_item(struct vm_config *c)
{
	struct net_config *n;

	if (c->nnets >= CONFIG_MAX_NETS)
		return NULL;
	n = &c->nets[c->nnets++];
	memset(n, 0, sizeof(*n));
	n->tap_fd = -1;
	return n;
}

#define NET_KEY(n, field) \
	{ .name = n, .kind = KEY_STRING, .off = offsetof(struct net_config, field), \
	  .size = MEMBER_SIZE(struct net_config, field), .flags = KEY_NONEMPTY }

static const struct key_def net_keys[] = {
	NET_KEY("tap", tap),
	NET_KEY("fd", fd),
	NET_KEY("mac", mac),
};

#define VM_STRING(n, field, fl) \
	{ .name = n, .kind = KEY_STRING, .off = offsetof(struct vm_config, field), \
	  .size = MEMBER_SIZE(struct vm_config, field), .flags = (fl) }

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
};

static const struct key_def vcpus_keys[] = {
	{ .name = "num", .kind = KEY_UINT, .off = offsetof(struct vm_config, nvcpus),
	  .flags = KEY_REQUIRED | KEY_NONEMPTY | KEY_MIN1 },
};

static const struct key_def serial_keys[] = {
	VM_STRING("file", serial_path, KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
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
	{ .name = "serial", .kind = OPT_GROUP, .keys = serial_keys, .nkeys = nitems(serial_keys),
	  .word = serial_word, .words = "stdio, none", .reset = serial_reset,
	  .finish = serial_finish },
	{ .name = "disk", .kind = OPT_GROUP, .keys = disk_keys, .nkeys = nitems(disk_keys),
	  .item = disk_item, .max_items = CONFIG_MAX_DISKS },
	{ .name = "net", .kind = OPT_GROUP, .keys = net_keys, .nkeys = nitems(net_keys),
	  .item = net_item, .max_items = CONFIG_MAX_NETS },
	{ .name = "acpi", .kind = OPT_GROUP, .word = acpi_word, .words = "on, off",
	  .reset = acpi_reset },
	{ .name = "pit", .kind = OPT_GROUP, .word = pit_word, .words = "on, off",
	  .reset = pit_reset },
	{ .name = "debug-exit", .kind = OPT_GROUP, .word = debug_exit_word, .words = "on, off",
	  .reset = debug_exit_reset },
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

static const struct option_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < nitems(options); i++) {
		if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
			return &options[i];
	}
	return NULL;
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
		r = parse_u64(v, len, max, &num);
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

/* Apply "key=value,key=value" (or a bare word) to p->c. */
static enum config_result parse_group(struct parse *p, const struct option_def *o,
				      const char *val)
{
	char shown[SHOW_BUF], keys[128];
	uint32_t seen = 0;
	const char *s = val;
	enum config_result r;

	char *base = (char *)p->c;

	if (*val == '\0')
		return perr(p, "--%s: empty value", o->name);
	if (o->item) {
		base = o->item(p->c);
		if (!base)
			return perr(p, "--%s: at most %u may be given", o->name, o->max_items);
	} else {
		o->reset(p->c);
	}
	if (o->word && o->word(p->c, val) == 0)
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
	if (o->finish)
		o->finish(p->c);
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
	char shown[SHOW_BUF];
	char *name;
	size_t len;
	int has_value = 0;

	if (s[0] == '-' && s[1] == '-') {
		name = s + 2;
		len = strcspn(name, "= \t");
		o = find_long(name, len);
	} else if (s[0] == '-') {
		name = s + 1;
		len = strcspn(name, "= \t");
		o = len == 1 ? find_short(name[0]) : NULL;
	} else {
		name = s;
		len = strcspn(name, "= \t");
		o = find_long(name, len);
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
		return perr(p, "--%s: missing value", o->name);
	return apply(p, o, s);
}

static int is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\v' || ch == '\f';
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
	if (o->kind == OPT_GROUP)
		return parse_group(p, o, val);
	return o->fn(p, o, val);
}

/* Exported. */

int config_apply_option(struct vm_config *c, const char *name, const char *value, char *err,
			size_t errlen)
{
	struct parse p = { .c = c, .err = err, .errlen = errlen, .in_file = 1 };
	const struct option_def *o = find_long(name, strlen(name));

	if (err && errlen)
		err[0] = '\0';
	if (!o)
		return -ENOENT;
	if (o->kind == OPT_FLAG && value)
		return perr(&p, "--%s: takes no value", o->name), -EINVAL;
	if (o->kind != OPT_FLAG && !value)
		return perr(&p, "--%s: missing value", o->name), -EINVAL;
	return apply(&p, o, value) == CONFIG_OK ? 0 : -EINVAL;
}

void config_init(struct vm_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mem_mib = CONFIG_DEFAULT_MEM_MIB;
	c->nvcpus = CONFIG_DEFAULT_VCPUS;
	c->serial = SERIAL_STDIO;
	c->acpi = 1;
	c->pit = 1;
	c->debug_exit = 1;
	c->jail_uid = c->jail_gid = CONFIG_JAIL_DEFAULT_ID;
	snprintf(c->name, sizeof(c->name), "%s", "vm");
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
		enum config_result r;
		size_t len;

		if (arg[0] == '-' && arg[1] == '-') {
			len = strcspn(arg + 2, "=");
			o = find_long(arg + 2, len);
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
			if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] == '-'))
				return perr(&p, "--%s: missing value", o->name);
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

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "xx:xx:xx:xx:xx:xx", unicast and not all zeros. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static enum config_result check_net(struct parse *p, struct net_config *n)
{
	static const uint8_t zero[6];
	char shown[SHOW_BUF];
	uint64_t fd;

	if (!str_terminated(n->tap, sizeof(n->tap)) || !str_terminated(n->fd, sizeof(n->fd)) ||
	    !str_terminated(n->mac, sizeof(n->mac)))
		return perr(p, "--net: value too long");
	if (!n->tap[0] == !n->fd[0])
		return perr(p, "--net: give exactly one of tap=NAME and fd=N");
	if (n->tap[0] && (strchr(n->tap, '/') || strcmp(n->tap, ".") == 0 ||
			  strcmp(n->tap, "..") == 0))
		return perr(p, "--net: tap=%s: not an interface name",
			    show(shown, sizeof(shown), n->tap, strlen(n->tap)));
	n->tap_fd = -1;
	if (n->fd[0]) {
		if (parse_u64(n->fd, strlen(n->fd), 1023, &fd) < 0 || fd < 3)
			return perr(p, "--net: fd=%s: must be an open fd number from 3 to 1023",
				    show(shown, sizeof(shown), n->fd, strlen(n->fd)));
		n->tap_fd = (int)fd;
	}
	n->has_mac = n->mac[0] != '\0';
	if (n->has_mac) {
		if (parse_mac(n->mac, n->mac_bytes) < 0)
			return perr(p, "--net: mac=%s: not a MAC address (xx:xx:xx:xx:xx:xx)",
				    show(shown, sizeof(shown), n->mac, strlen(n->mac)));
		if (n->mac_bytes[0] & 1)
			return perr(p, "--net: mac=%s: a multicast address", n->mac);
		if (memcmp(n->mac_bytes, zero, 6) == 0)
			return perr(p, "--net: mac=%s: the all-zero address", n->mac);
	}
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
	switch (c->serial) {
	case SERIAL_STDIO:
	case SERIAL_NONE:
		break;
	case SERIAL_FILE:
		if (!str_terminated(c->serial_path, sizeof(c->serial_path)))
			return perr(&p, "--serial: file=: too long (at most %zu bytes)",
				    sizeof(c->serial_path) - 1);
		if (c->serial_path[0] == '\0')
			return perr(&p, "--serial: file=: must not be empty");
		break;
	default:
		return perr(&p, "--serial: mode %d: must be stdio, none or file=PATH",
			    (int)c->serial);
	}
	if (!str_terminated(c->name, sizeof(c->name)) || !name_ok(c->name, strlen(c->name)))
		return perr(&p, "--name: must be 1 to %d characters from A-Z a-z 0-9 _ . -",
			    CONFIG_NAME_MAX - 1);
	if (c->ndisks > CONFIG_MAX_DISKS)
		return perr(&p, "--disk: at most %d may be given", CONFIG_MAX_DISKS);
	for (unsigned int i = 0; i < c->nnets; i++) {
		enum config_result r = check_net(&p, &c->nets[i]);

		if (r != CONFIG_OK)
			return r;
	}
	if (c->ndisks + c->nnets > CONFIG_MAX_DISKS)
		return perr(&p, "--net: at most %d disks and NICs in all", CONFIG_MAX_DISKS);
	for (unsigned int i = 0; i < c->ndisks; i++) {
		const struct disk_config *d = &c->disks[i];

		if (!str_terminated(d->path, sizeof(d->path)) || d->path[0] == '\0')
			return perr(&p, "--disk: path= is required");
		if (!str_terminated(d->serial, sizeof(d->serial)))
			return perr(&p, "--disk: serial=: at most %d bytes", CONFIG_DISK_SERIAL_MAX);
		for (const char *q = d->serial; *q; q++) {
			if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
				return perr(&p, "--disk: serial=: only printable ASCII");
		}
	}
	return CONFIG_OK;
}

const char *config_usage(void)
{
	return "usage: bulkhead --kernel path=FILE[,cmdline=TEXT] [OPTION]...\n"
	       "\n"
	       "  --kernel path=FILE[,cmdline=TEXT]\n"
	       "                   kernel: bzImage, ELF vmlinux or PVH ELF (required);\n"
	       "                   its command line (default: empty)\n"
	       "  --initrd path=FILE\n"
	       "                   initial ramdisk (default: none)\n"
	       "  --memory size_mib=N\n"
	       "                   guest RAM in MiB (default: " STR(CONFIG_DEFAULT_MEM_MIB) ")\n"
	       "  --vcpus num=N    virtual CPUs (default: " STR(CONFIG_DEFAULT_VCPUS) ")\n"
	       "  --serial stdio|none|file=PATH\n"
	       "                   where COM1 goes (default: stdio)\n"
	       "  --disk path=FILE[,readonly=on|off][,serial=ID][,direct=on|off]\n"
	       "         [,snapshot=on|off]\n"
	       "                   a virtio-blk disk (repeatable: vda, vdb, ...); raw image\n"
	       "                   file or block device; serial: at most 20 bytes for GET_ID;\n"
	       "                   direct: O_DIRECT; snapshot: writes go to a private copy\n"
	       "                   that is gone at exit (default: read-write, buffered)\n"
	       "  --net tap=NAME|fd=N[,mac=xx:xx:xx:xx:xx:xx]\n"
	       "                   a virtio-net NIC on a TAP (repeatable: eth0, eth1, ...):\n"
	       "                   attach to (or, with CAP_NET_ADMIN, create) TAP NAME, or use\n"
	       "                   the open TAP fd N; the MAC defaults to one derived from\n"
	       "                   the TAP's name\n"
	       "  --jail on|off|no-namespaces|uid=N,gid=N\n"
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
	       "  --pit on|off     the in-kernel i8254 timer (default: on); Linux on KVM and\n"
	       "                   the test guest need none, and the VM ends faster without it\n"
	       "  --debug-exit on|off\n"
	       "                   a guest's write to I/O port 0xf4 ends the VM with status\n"
	       "                   2v+1 (default: on); off ignores it, as QEMU without\n"
	       "                   isa-debug-exit\n"
	       "  --name NAME      VM name for logs and process titles, 1-15 of\n"
	       "                   A-Z a-z 0-9 _ . - (default: vm)\n"
	       "  --config FILE    read options from FILE, one per line (\"kernel path=x\");\n"
	       "                   blank lines and # comments are skipped\n"
	       "  -v, --verbose    log more (repeat for more)\n"
	       "  -h, --help       print this help and exit\n"
	       "  --version        print the version and exit\n"
	       "\n"
	       "Options take \"--opt value\" or \"--opt=value\" and apply in order; a repeated\n"
	       "option replaces the earlier one. Keys are comma-separated key=value pairs;\n"
	       "quote a value (\"...\") to put commas in it. Numbers are decimal or 0x hex.\n"
	       "\n"
	       "Exit status: 0 the guest powered off, reset or triple-faulted; 2v+1 the guest\n"
	       "wrote v to debug-exit port 0xf4; 2 bad usage or configuration; 4 a bulkhead\n"
	       "process failed or the VM hit an error; 128+N stopped by signal N.\n";
}
