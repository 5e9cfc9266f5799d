/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to seccomp/: a policy's parsed form, shared by policy.c, the
 * build's checker (policy-check.c) and the unit tests. Processes use
 * policy.h only.
 */
#ifndef BULKHEAD_SECCOMP_INTERNAL_H
#define BULKHEAD_SECCOMP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/* Every length the parser accepts is bounded. */
#define POLICY_MAX_FILES 16 /* files in one set (a policy and its includes) */
#define POLICY_MAX_FILE_BYTES (256 * 1024) /* bytes in one file */
#define POLICY_MAX_LINE 512 /* bytes in one line, comment included */
#define POLICY_MAX_NAME 64 /* a file, syscall, constant or placeholder name */
#define POLICY_MAX_RULES 1024 /* rules in one policy, after expansion */
#define POLICY_MAX_CONJ 16 /* conjunctions joined by || on one line */
#define POLICY_MAX_TERMS 16 /* constants joined by | in one value */
#define POLICY_MAX_BINDINGS 256 /* bindings passed to policy_load */
#define POLICY_MAX_VALUES 64 /* values of one placeholder bound several times */
#define POLICY_NARGS 6 /* syscall arguments arg0..arg5 */
#define POLICY_DUMMY_VALUE 1000 /* what policy_check binds every placeholder to */
#define POLICY_MAX_INSNS 4096 /* BPF_MAXINSNS: the kernel refuses longer filters */

enum policy_op {
	POLICY_OP_EQ = 1,
	POLICY_OP_NE,
	POLICY_OP_LT, /* unsigned 64-bit, as libseccomp compares */
	POLICY_OP_LE,
	POLICY_OP_GT,
	POLICY_OP_GE,
	POLICY_OP_MASKED_EQ, /* (arg & mask) == value */
};

struct policy_cmp {
	unsigned int arg; /* 0..5 */
	enum policy_op op;
	uint64_t mask; /* POLICY_OP_MASKED_EQ only */
	uint64_t value;
};

/* One allow rule: the syscall, with every comparison true (none: any arguments). */
struct policy_rule {
	int nr;
	unsigned int ncmp;
	struct policy_cmp cmp[POLICY_NARGS];
	const char *file; /* the policy_file's name, for messages */
	unsigned int line;
};

struct policy_set {
	struct policy_rule *rules; /* POLICY_MAX_RULES of them */
	size_t nrules;
};

/*
 * policy_parse: parse process's policy ("blk": "blk.policy") and its
 * include from files into set, placeholders taken from bindings or, with
 * dummy set, all bound to POLICY_DUMMY_VALUE. 0, or -EINVAL/-ENOMEM with
 * "FILE:LINE: reason" in err. On success free set with policy_set_free.
 */
int policy_parse(const char *process, const struct policy_file *files, size_t nfiles,
		 const struct policy_binding *bindings, size_t nbindings, int dummy,
		 struct policy_set *set, char *err, size_t errlen) __attribute__((warn_unused_result));
/*
 * policy_filter_insns: the length in BPF instructions of process's filter
 * (placeholders bound to the dummy value), as libseccomp generates it. 0 or
 * -EINVAL with a reason in err.
 */
int policy_filter_insns(const char *process, const struct policy_file *files, size_t nfiles,
			size_t *insns, char *err, size_t errlen) __attribute__((warn_unused_result));
/* policy_set_free: release what policy_parse allocated. */
void policy_set_free(struct policy_set *set);
/* policy_const_lookup: the value of constant name (len bytes); 0 or -ENOENT. */
int policy_const_lookup(const char *name, size_t len, uint64_t *value)
	__attribute__((warn_unused_result));

#endif
