/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Seccomp policies as data (seccomp-policies/<arch>/<process>.policy),
 * compiled with libseccomp at start. Format, one rule per line:
 *   # a comment
 *   @include common.policy          (one level)
 *   read                            (allowed with any arguments)
 *   ioctl: arg1 == KVM_RUN || arg1 == KVM_GET_REGS
 *   mmap: arg2 & PROT_EXEC == 0
 *   pread64: arg0 == @DISK_FD       (a placeholder bound at start)
 * An argument filter is a disjunction (||) of conjunctions (&&) of
 * comparisons "argN OP VALUE" with OP one of == != < <= > >= or
 * "argN & MASK == VALUE"; VALUE is a number, a known constant name, a
 * constant expression joined with | or a placeholder @NAME.
 * Numbers are decimal (a leading - is two's complement, as a sign-extended
 * int arrives) or 0x hex; < <= > >= compare unsigned 64-bit values, as
 * libseccomp does. A conjunction compares each argument at most once (a
 * libseccomp rule has one comparison per argument). A syscall may have
 * several lines; they add up. A placeholder bound several times (the same
 * name in several bindings) stands for any of its values, in "argN == @NAME"
 * only. Lines, names, rules and files are bounded (seccomp/internal.h).
 * Every policy is embedded in the binary that uses it at build time; the
 * build parses and compiles all of them and fails with FILE:LINE on an
 * unknown syscall, constant or syntax error.
 */
#ifndef BULKHEAD_SECCOMP_POLICY_H
#define BULKHEAD_SECCOMP_POLICY_H

#include <stddef.h>
#include <stdint.h>

enum policy_mode {
	POLICY_KILL = 0, /* default action: kill the process */
	POLICY_LOG = 1, /* default action: log and allow (writing policies) */
	POLICY_OFF = 2, /* no filter (warned about on every start) */
};

struct policy_binding {
	const char *name; /* placeholder without '@', e.g. "DISK_FD" */
	uint64_t value;
};

/* An embedded policy file: its name ("blk.policy") and text. */
struct policy_file {
	const char *name;
	const char *text;
	size_t len;
};

/*
 * policy_load: compile the policy of process ("blk": the file "blk.policy")
 * from files (the embedded ones, or ones read from --seccomp-policy-dir
 * before the jail closed) with bindings for its placeholders, and load it
 * into this process with SECCOMP_FILTER_FLAG_TSYNC, so every thread gets it.
 * 0 or -errno with a one-line reason ("blk.policy:12: unknown syscall
 * 'foo'") in err. POLICY_OFF loads nothing and returns 0.
 */
int policy_load(const char *process, const struct policy_file *files, size_t nfiles,
		const struct policy_binding *bindings, size_t nbindings, enum policy_mode mode,
		char *err, size_t errlen) __attribute__((warn_unused_result));
/* policy_embedded: the policy files built into this binary (its own and its includes). */
const struct policy_file *policy_embedded(size_t *nfiles);

/*
 * policy_check: parse and compile (without loading) the policy text of
 * file, resolving includes among files and binding every placeholder to a
 * dummy value. 0 or -EINVAL with "FILE:LINE: reason" in err. Used by the
 * build's checker.
 */
int policy_check(const char *process, const struct policy_file *files, size_t nfiles, char *err,
		 size_t errlen) __attribute__((warn_unused_result));

/*
 * policy_from_fds: read the process's policy and common.policy from two open
 * files (--seccomp-policy-dir) into files[0..1] (names in names[]) and close
 * the fds. 0 or -errno.
 */
int policy_from_fds(const char *process, int fd, int include_fd, struct policy_file files[2],
		    char names[2][64]) __attribute__((warn_unused_result));

/*
 * policy_load_from: policy_load with the files read from policy_fd and
 * include_fd (--seccomp-policy-dir) when policy_fd >= 0, else the embedded ones.
 */
int policy_load_from(const char *process, int policy_fd, int include_fd,
		     const struct policy_binding *bindings, size_t nbindings, enum policy_mode mode,
		     char *err, size_t errlen) __attribute__((warn_unused_result));

#endif
