/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-qemu: the subset of qemu-system-x86_64's command line that CI
 * tools use (the kernel's KUnit runner, test scripts), translated into
 * bulkhead's options and exec'd, so that a qemu-system-x86_64 on PATH that
 * links to it runs them unchanged. A translator only: bulkhead parses,
 * checks and runs the VM. docs/bulkhead-qemu.1 lists the options.
 *
 * Errors are one line naming the option (and key), exit status 1 as QEMU's.
 */
#ifndef BULKHEAD_FRONTENDS_QEMU_QEMU_H
#define BULKHEAD_FRONTENDS_QEMU_QEMU_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define QEMU_MAX_DISKS 16 /* bulkhead's virtio devices in all */
#define QEMU_MAX_DRIVES 16
#define QEMU_MAX_NETDEVS 8
#define QEMU_MAX_NICS 8
#define QEMU_MAX_FSDEVS 8 /* -fsdev and -virtfs */
#define QEMU_MAX_RNG_OBJECTS 4 /* -object rng-random|rng-builtin */
#define QEMU_ID_MAX 64
#define QEMU_OUT_ARGS 112 /* bulkhead argv entries */
#define QEMU_OUT_BYTES (64 * 1024 + 32 * PATH_MAX) /* their text */
#define QEMU_KEPT_BYTES (16 * 1024 + 32 * PATH_MAX) /* unescaped values the command keeps */

enum qemu_serial {
	QEMU_SERIAL_DEFAULT = 0, /* not given: QEMU's default for the other options */
	QEMU_SERIAL_STDIO,
	QEMU_SERIAL_FILE,
	QEMU_SERIAL_NONE,
};

struct qemu_drive {
	char id[QEMU_ID_MAX];
	const char *file;
	int readonly, snapshot, direct;
	int attached; /* if=virtio, or named by a -device */
};

struct qemu_netdev {
	char id[QEMU_ID_MAX];
	const char *ifname; /* ifname=, or NULL */
	const char *fd; /* fd=, or NULL */
	int attached;
};

struct qemu_nic {
	unsigned int netdev; /* index into netdevs */
	const char *mac; /* or NULL */
};

struct qemu_disk {
	unsigned int drive; /* index into drives */
	const char *serial; /* or NULL */
};

/* -fsdev local (or the one a -virtfs makes): a directory; attached by its 9p device. */
struct qemu_fsdev {
	char id[QEMU_ID_MAX];
	const char *path;
	const char *tag; /* mount_tag= of the 9p device that attached it, NULL until one did */
	int readonly;
};

/* What the command line asked for; strings point into argv. */
struct qemu_cmd {
	int verbose; /* BULKHEAD_QEMU_VERBOSE: notes on stderr, and bulkhead -v */
	const char *options; /* BULKHEAD_QEMU_OPTIONS: more bulkhead options, split at blanks */
	const char *kernel, *initrd, *append, *name;
	uint64_t mem_mib; /* 0: QEMU's default, 128 */
	unsigned int vcpus; /* 0: 1 */
	enum qemu_serial serial;
	const char *serial_file;
	int nserials;
	int nodefaults, nographic, no_reboot, snapshot, debug_exit;
	int rng; /* a virtio-rng device */
	uint64_t rng_rate; /* its max-bytes/period in bytes per second, 0: no limit */
	char rng_objects[QEMU_MAX_RNG_OBJECTS][QEMU_ID_MAX]; /* -object rng-* ids */
	unsigned int nrng_objects;
	int acpi, pit; /* -1: not said (-machine acpi=, pit=) */
	int irqchip_split; /* -1: not said; -machine kernel_irqchip=on (0) or split (1) */
	struct qemu_drive drives[QEMU_MAX_DRIVES];
	unsigned int ndrives;
	struct qemu_disk disks[QEMU_MAX_DISKS];
	unsigned int ndisks;
	struct qemu_netdev netdevs[QEMU_MAX_NETDEVS];
	unsigned int nnetdevs;
	struct qemu_nic nics[QEMU_MAX_NICS];
	unsigned int nnics;
	struct qemu_fsdev fsdevs[QEMU_MAX_FSDEVS];
	unsigned int nfsdevs;
	unsigned int shares[QEMU_MAX_FSDEVS]; /* indices into fsdevs, in the order attached */
	unsigned int nshares;
	int info; /* -version or -help: print, run nothing */
	char kept[QEMU_KEPT_BYTES]; /* the unescaped values above point here (or into argv) */
	size_t nkept;
};

/* bulkhead's argv, its strings in text. */
struct qemu_out {
	char *argv[QEMU_OUT_ARGS + 1];
	unsigned int argc;
	char text[QEMU_OUT_BYTES];
	size_t used;
};

/* qemu_one_line: every control byte of the message s becomes '?' (values come from argv). */
void qemu_one_line(char *s);
/* qemu_parse: argv[1..] into q (zeroed, verbose set); 0, or -1 with one line in err. */
int qemu_parse(struct qemu_cmd *q, int argc, char **argv, char *err, size_t errlen)
	__attribute__((warn_unused_result));
/* qemu_translate: q as bulkhead's argv (argv[0] = bulkhead); 0, or -1 with one line in err. */
int qemu_translate(const struct qemu_cmd *q, const char *bulkhead, struct qemu_out *out, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

#endif
