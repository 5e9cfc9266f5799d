/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The supervisor's configuration: command-line options and --config files.
 * Private to supervisor/. The parser only parses and range-checks; opening
 * files and loading the kernel happen in main, which reports their errors
 * with the same "--option: key=value: reason" shape.
 */
#ifndef BULKHEAD_SUPERVISOR_CONFIG_H
#define BULKHEAD_SUPERVISOR_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/layout.h"

#define CONFIG_CMDLINE_MAX 4096
#define CONFIG_NAME_MAX 16
#define CONFIG_DEFAULT_MEM_MIB 256
#define CONFIG_DEFAULT_VCPUS 1

#define CONFIG_JAIL_DEFAULT_ID 62222 /* a dedicated id no account uses */
/* A device's options (its kind's own struct, kinds/) fit in this many bytes. */
#define CONFIG_DEV_OPTS_MAX (PATH_MAX + 512)

/* Keys of a group option ("--disk path=x,readonly=on"): where each value goes. */
enum key_kind {
	KEY_STRING, /* char[size] at off */
	KEY_U64, /* uint64_t at off */
	KEY_UINT, /* unsigned int at off */
	KEY_BOOL, /* int at off: on|off */
};

#define KEY_REQUIRED 0x1 /* the group must give this key */
#define KEY_NONEMPTY 0x2 /* the value must not be empty */
#define KEY_COMMAS 0x4 /* an unquoted value may hold commas (see config.c) */
#define KEY_MIN1 0x8 /* numbers: at least 1 */

struct key_def {
	const char *name;
	enum key_kind kind;
	size_t off; /* offset of the field in the struct the option fills */
	size_t size; /* KEY_STRING: size of the buffer */
	unsigned int flags; /* KEY_* */
};

#define CONFIG_MEMBER_SIZE(type, m) sizeof(((type *)0)->m)
/* A key_def row for field of struct type. */
#define CONFIG_KEY(n, k, type, field, fl) \
	{ .name = n, .kind = k, .off = offsetof(type, field), \
	  .size = CONFIG_MEMBER_SIZE(type, field), .flags = (fl) }

struct dev_kind;

/* One device: its kind (kinds/kinds.h) and the options its kind parsed. */
struct dev_config {
	const struct dev_kind *kind;
	_Alignas(16) unsigned char opts[CONFIG_DEV_OPTS_MAX];
};

struct vm_config {
	char kernel_path[PATH_MAX]; /* required */
	char cmdline[CONFIG_CMDLINE_MAX]; /* "" when not given */
	char initrd_path[PATH_MAX]; /* "" when not given */
	uint64_t mem_mib; /* default CONFIG_DEFAULT_MEM_MIB */
	int mem_hugepages; /* --memory hugepages=on|off: hugetlbfs RAM, default off */
	unsigned int nvcpus; /* default CONFIG_DEFAULT_VCPUS */
	int acpi; /* --acpi on|off, default on */
	int pit; /* --pit on|off: the in-kernel i8254, or -1 (not said: on with --irqchip kernel) */
	int irqchip; /* --irqchip kernel|split: CONFIG_IRQCHIP_*, or -1 (not said: config_check) */
	int debug_exit; /* --debug-exit on|off: port 0xf4 ends the VM, default on */
	int restart; /* --on-device-failure stop|restart: default stop (0) */
	int jail_mode; /* --jail: 0 full (default), 1 no-namespaces, 2 off */
	int config_streamed; /* a --config was no regular file (a pipe): it cannot be read twice */
	unsigned int jail_uid, jail_gid; /* --jail uid=,gid=: default CONFIG_JAIL_DEFAULT_ID */
	int seccomp_mode; /* --seccomp: 0 kill (default), 1 log, 2 off */
	char policy_dir[PATH_MAX]; /* --seccomp-policy-dir, or "" */
	/* Every device, in the order given; a kind that is always present (COM1)
	 * has its instance from config_init, which its option then changes. */
	struct dev_config devs[LAYOUT_MAX_DEVICES];
	unsigned int ndevs;
	char name[CONFIG_NAME_MAX]; /* --name, default "vm"; [A-Za-z0-9_.-]+ */
	int verbose; /* -v / --verbose */
};

/* Host facts the values are checked against (main reads them; tests invent them). */
struct config_limits {
	uint64_t host_mem_mib; /* size_mib must not exceed this */
	unsigned int max_vcpus; /* num must not exceed this (KVM's limit) */
	int split_irqchip; /* KVM has KVM_CAP_SPLIT_IRQCHIP */
};

enum { CONFIG_IRQCHIP_KERNEL = 0, CONFIG_IRQCHIP_SPLIT = 1 };

enum config_result {
	CONFIG_OK = 0, /* run the VM */
	CONFIG_HELP = 1, /* --help was given: print config_usage() and exit 0 */
	CONFIG_VERSION = 2, /* --version was given: print the version and exit 0 */
	CONFIG_ERROR = -1, /* err holds one line naming the option; exit status 2 */
};

/* config_init: fill c with defaults. */
void config_init(struct vm_config *c);
/*
 * config_parse_args: parse argv[1..argc-1] into c (after config_init). Options
 * may repeat (the last wins); --config FILE is read in place, its lines
 * holding the same options ("kernel path=x" or "--kernel path=x"; blank lines
 * and lines starting with # are skipped; no nested --config).
 */
enum config_result config_parse_args(struct vm_config *c, int argc, char **argv, char *err,
				     size_t errlen);
/* config_check: required options present and values within lim; CONFIG_OK or CONFIG_ERROR. */
enum config_result config_check(struct vm_config *c, const struct config_limits *lim,
				char *err, size_t errlen);
/*
 * config_apply_option: apply one option as "--NAME VALUE" on the command line
 * would (VALUE NULL for a flag), for translators of other formats (fcjson.c).
 * 0, -ENOENT when there is no option NAME, or -EINVAL with one line in err.
 */
int config_apply_option(struct vm_config *c, const char *name, const char *value, char *err,
			size_t errlen) __attribute__((warn_unused_result));
/*
 * fcjson_apply_stream: Firecracker's VM configuration file (fcjson.c), the rest
 * of f from its '{', which came after `lines` newlines and then `cols` bytes;
 * applied through config_apply_option; fcjson_apply_buf the same from memory.
 * name names it in messages. CONFIG_OK, or CONFIG_ERROR with one line in err.
 */
enum config_result fcjson_apply_stream(struct vm_config *c, const char *name, FILE *f,
				       unsigned int lines, unsigned int cols, char *err, size_t errlen);
enum config_result fcjson_apply_buf(struct vm_config *c, const char *name, const char *buf,
				    size_t len, char *err, size_t errlen);
/* config_usage: print the --help text to out. */
void config_usage(FILE *out);
/* config_man_devices: print the device options as man page (roff) paragraphs to out. */
void config_man_devices(FILE *out);
/* config_dev_count: devices of kind k in c. */
unsigned int config_dev_count(const struct vm_config *c, const struct dev_kind *k);
/*
 * config_dev_describe: d's options as "key=value,..." (the keys its kind
 * parses, strings quoted where they hold a comma; an empty string and a
 * KEY_MIN1 number at 0, which are keys not given, left out) into buf; buf.
 */
const char *config_dev_describe(const struct dev_config *d, char *buf, size_t len);
/* config_dev_str: the value of d's string key named key, or NULL when its kind has none. */
const char *config_dev_str(const struct dev_config *d, const char *key);
/* config_parse_u64: a decimal or 0x hex number in s[0..len) up to max; 0, -EINVAL or -ERANGE. */
int config_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
	__attribute__((warn_unused_result));

#endif
