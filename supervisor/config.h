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

#define CONFIG_CMDLINE_MAX 4096
#define CONFIG_NAME_MAX 16
#define CONFIG_DEFAULT_MEM_MIB 256
#define CONFIG_DEFAULT_VCPUS 1

#define CONFIG_JAIL_DEFAULT_ID 62222 /* a dedicated id no account uses */
#define CONFIG_MAX_DISKS 16
#define CONFIG_DISK_SERIAL_MAX 20 /* virtio-blk GET_ID bytes */

struct disk_config {
	char path[PATH_MAX]; /* required */
	int readonly; /* readonly=on|off, default off */
	int direct; /* direct=on|off (O_DIRECT), default off */
	int snapshot; /* snapshot=on|off: writes go to a private overlay gone at exit, default off */
	char serial[CONFIG_DISK_SERIAL_MAX + 1]; /* serial=ID, default "" */
};

#define CONFIG_MAX_NETS 8
#define CONFIG_IFNAME_MAX 16 /* IFNAMSIZ */

struct net_config {
	char tap[CONFIG_IFNAME_MAX]; /* tap=NAME, or "" */
	char fd[12]; /* fd=N as given (checked in config_check), or "" */
	char mac[32]; /* mac=xx:xx:xx:xx:xx:xx as given, or "" (generated) */
	int tap_fd; /* config_check: fd=N as a number, else -1 */
	uint8_t mac_bytes[6]; /* config_check: the parsed mac= */
	int has_mac;
};

enum serial_mode {
	SERIAL_STDIO = 0,
	SERIAL_FILE = 1,
	SERIAL_NONE = 2,
};

struct vm_config {
	char kernel_path[PATH_MAX]; /* required */
	char cmdline[CONFIG_CMDLINE_MAX]; /* "" when not given */
	char initrd_path[PATH_MAX]; /* "" when not given */
	uint64_t mem_mib; /* default CONFIG_DEFAULT_MEM_MIB */
	unsigned int nvcpus; /* default CONFIG_DEFAULT_VCPUS */
	enum serial_mode serial; /* default SERIAL_STDIO */
	char serial_path[PATH_MAX]; /* SERIAL_FILE */
	int acpi; /* --acpi on|off, default on */
	int pit; /* --pit on|off: the in-kernel i8254, default on */
	int debug_exit; /* --debug-exit on|off: port 0xf4 ends the VM, default on */
	int jail_mode; /* --jail: 0 full (default), 1 no-namespaces, 2 off */
	unsigned int jail_uid, jail_gid; /* --jail uid=,gid=: default CONFIG_JAIL_DEFAULT_ID */
	int seccomp_mode; /* --seccomp: 0 kill (default), 1 log, 2 off */
	char policy_dir[PATH_MAX]; /* --seccomp-policy-dir, or "" */
	struct disk_config disks[CONFIG_MAX_DISKS]; /* --disk, repeatable: vda, vdb, ... */
	unsigned int ndisks;
	struct net_config nets[CONFIG_MAX_NETS]; /* --net, repeatable: eth0, eth1, ... */
	unsigned int nnets;
	char name[CONFIG_NAME_MAX]; /* --name, default "vm"; [A-Za-z0-9_.-]+ */
	int verbose; /* -v / --verbose */
};

/* Host facts the values are checked against (main reads them; tests invent them). */
struct config_limits {
	uint64_t host_mem_mib; /* size_mib must not exceed this */
	unsigned int max_vcpus; /* num must not exceed this (KVM's limit) */
};

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
/* config_usage: the --help text. */
const char *config_usage(void);

#endif
