/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * seccomp/: the policy parser against tables of good and bad lines (each bad
 * one with the exact place and reason it must report), placeholders bound
 * once and several times, includes, and real filters loaded in forked
 * children: what a policy allows runs, anything else kills the child with
 * SIGSYS (POLICY_KILL) or is only logged (POLICY_LOG), across threads. The
 * real policies of seccomp-policies/x86_64 are checked and loaded too, with
 * a little of their process's workload.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/futex.h>
#include <linux/kvm.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../seccomp/internal.h"
#include "../../seccomp/policy.h"

#define POLICY_DIR "seccomp-policies/x86_64"

/* Parse text as "t.policy" (process "t"), with common.policy beside it. */
static int parse_text(const char *text, size_t len, const struct policy_binding *b, size_t nb,
		      struct policy_set *set, char *err, size_t errlen)
{
	static const char common[] = "exit_group\n";
	struct policy_file files[] = {
		{ "t.policy", text, len },
		{ "common.policy", common, sizeof(common) - 1 },
	};

	return policy_parse("t", files, nitems(files), b, nb, 0, set, err, errlen);
}

static int parse_str(const char *text, struct policy_set *set, char *err, size_t errlen)
{
	return parse_text(text, strlen(text), NULL, 0, set, err, errlen);
}

struct good {
	const char *text;
	size_t nrules;
	unsigned int ncmp; /* of the first rule */
	unsigned int arg;
	enum policy_op op;
	uint64_t mask;
	uint64_t value;
};

static const struct good good_lines[] = {
	{ "read", 1, 0, 0, 0, 0, 0 },
	{ "read # any arguments", 1, 0, 0, 0, 0, 0 },
	{ "  \tread\t  ", 1, 0, 0, 0, 0, 0 },
	{ "# a comment\n\n   # another\nread\n", 1, 0, 0, 0, 0, 0 },
	{ "read\nread\n", 2, 0, 0, 0, 0, 0 },
	{ "ioctl: arg1 == KVM_RUN", 1, 1, 1, POLICY_OP_EQ, 0, KVM_RUN },
	{ "ioctl: arg1 == KVM_RUN || arg1 == KVM_GET_REGS", 2, 1, 1, POLICY_OP_EQ, 0, KVM_RUN },
	{ "ioctl:arg1==KVM_RUN||arg1==KVM_GET_REGS", 2, 1, 1, POLICY_OP_EQ, 0, KVM_RUN },
	{ "mmap: arg2 & PROT_EXEC == 0", 1, 1, 2, POLICY_OP_MASKED_EQ, PROT_EXEC, 0 },
	{ "mmap: arg2 & PROT_EXEC|PROT_WRITE == PROT_WRITE", 1, 1, 2, POLICY_OP_MASKED_EQ,
	  PROT_EXEC | PROT_WRITE, PROT_WRITE },
	{ "mmap: arg2 & PROT_EXEC == 0 && arg3 & MAP_ANONYMOUS == MAP_ANONYMOUS", 1, 2, 2,
	  POLICY_OP_MASKED_EQ, PROT_EXEC, 0 },
	{ "fcntl: arg1 == F_GETFL || arg1 == F_SETFL && arg2 == O_NONBLOCK", 2, 1, 1, POLICY_OP_EQ, 0,
	  F_GETFL },
	{ "write: arg0 == 0x10", 1, 1, 0, POLICY_OP_EQ, 0, 16 },
	{ "write: arg0 == 0X1f", 1, 1, 0, POLICY_OP_EQ, 0, 31 },
	{ "write: arg0 == 0", 1, 1, 0, POLICY_OP_EQ, 0, 0 },
	{ "write: arg0 == -1", 1, 1, 0, POLICY_OP_EQ, 0, UINT64_MAX },
	{ "write: arg0 == -9223372036854775808", 1, 1, 0, POLICY_OP_EQ, 0, 1ull << 63 },
	{ "openat: arg0 == AT_FDCWD", 1, 1, 0, POLICY_OP_EQ, 0, (uint64_t)(int64_t)AT_FDCWD },
	{ "write: arg0 == 18446744073709551615", 1, 1, 0, POLICY_OP_EQ, 0, UINT64_MAX },
	{ "write: arg0 == 0xffffffffffffffff", 1, 1, 0, POLICY_OP_EQ, 0, UINT64_MAX },
	{ "write: arg2 != 7", 1, 1, 2, POLICY_OP_NE, 0, 7 },
	{ "write: arg2 < 7", 1, 1, 2, POLICY_OP_LT, 0, 7 },
	{ "write: arg2 <= 7", 1, 1, 2, POLICY_OP_LE, 0, 7 },
	{ "write: arg2 > 7", 1, 1, 2, POLICY_OP_GT, 0, 7 },
	{ "write: arg2 >= 7", 1, 1, 2, POLICY_OP_GE, 0, 7 },
	{ "write: arg5 == 1 && arg4 == 2 && arg3 == 3 && arg2 == 4 && arg1 == 5 && arg0 == 6", 1, 6,
	  5, POLICY_OP_EQ, 0, 1 },
	{ "futex: arg1 & FUTEX_CMD_MASK == FUTEX_WAIT", 1, 1, 1, POLICY_OP_MASKED_EQ,
	  (uint64_t)(int64_t)FUTEX_CMD_MASK, FUTEX_WAIT },
	{ "socket: arg1 == SOCK_SEQPACKET|SOCK_CLOEXEC|SOCK_NONBLOCK", 1, 1, 1, POLICY_OP_EQ, 0,
	  SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK },
	{ "fallocate: arg1 == FALLOC_FL_PUNCH_HOLE|0x1", 1, 1, 1, POLICY_OP_EQ, 0,
	  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE },
	{ "@include common.policy\nread", 2, 0, 0, 0, 0, 0 },
	{ "@include   common.policy   # the shared part\nread", 2, 0, 0, 0, 0, 0 },
	{ "read\n# no newline at the end", 1, 0, 0, 0, 0, 0 },
};

static void test_good_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(good_lines); i++) {
		const struct good *g = &good_lines[i];
		struct policy_set set;
		char err[256];
		int ret = parse_str(g->text, &set, err, sizeof(err));

		if (ret != 0)
			fail_msg("%zu: '%s': %s", i, g->text, err);
		assert_int_equal(set.nrules, g->nrules);
		assert_int_equal(set.rules[0].ncmp, g->ncmp);
		if (g->ncmp) {
			const struct policy_cmp *c = &set.rules[0].cmp[0];

			assert_int_equal(c->arg, g->arg);
			assert_int_equal(c->op, g->op);
			assert_true(c->mask == g->mask);
			if (c->value != g->value)
				fail_msg("%zu: '%s': value 0x%llx, want 0x%llx", i, g->text,
					 (unsigned long long)c->value, (unsigned long long)g->value);
		}
		assert_string_equal(set.rules[set.nrules - 1].file, "t.policy");
		policy_set_free(&set);
	}
}

struct bad {
	const char *text;
	const char *err; /* the whole message */
};

static const struct bad bad_lines[] = {
	{ "foo", "t.policy:1: unknown syscall 'foo'" },
	{ "# fine\nread\nfoo_bar", "t.policy:3: unknown syscall 'foo_bar'" },
	{ "Read", "t.policy:1: unknown syscall 'Read'" },
	{ "socketcall", "t.policy:1: 'socketcall' is not a system call of this architecture" },
	{ "123", "t.policy:1: expected a syscall name, found '123'" },
	{ "read arg0", "t.policy:1: expected ':' or end of line after 'read', found 'arg0'" },
	{ "read:", "t.policy:1: expected an argument arg0 to arg5, found end of line" },
	{ "read: ", "t.policy:1: expected an argument arg0 to arg5, found end of line" },
	{ "read: arg6 == 1", "t.policy:1: expected an argument arg0 to arg5, found 'arg6'" },
	{ "read: arg00 == 1", "t.policy:1: expected an argument arg0 to arg5, found 'arg00'" },
	{ "read: x == 1", "t.policy:1: expected an argument arg0 to arg5, found 'x'" },
	{ "read: arg0 = 1", "t.policy:1: unexpected '=' (comparisons use '==')" },
	{ "read: arg0 1", "t.policy:1: expected a comparison (== != < <= > >=) or '&' after arg0, found '1'" },
	{ "read: arg0 ==", "t.policy:1: expected a number, a constant or a @placeholder, found end of line" },
	{ "read: arg0 == FOO", "t.policy:1: unknown constant 'FOO'" },
	{ "read: arg0 == PROT_READ|FOO", "t.policy:1: unknown constant 'FOO'" },
	{ "read: arg0 == 1 |", "t.policy:1: expected a number, a constant or a @placeholder, found end of line" },
	{ "read: arg0 == 1 extra", "t.policy:1: expected '&&', '||' or end of line, found 'extra'" },
	{ "read: arg0 == 1 ||", "t.policy:1: expected an argument arg0 to arg5, found end of line" },
	{ "read: arg0 == 1 &&", "t.policy:1: expected an argument arg0 to arg5, found end of line" },
	{ "read: arg0 == 1 : 2", "t.policy:1: expected '&&', '||' or end of line, found ':'" },
	{ "read: arg0 == 1 && arg0 == 2",
	  "t.policy:1: arg0 is compared twice in one conjunction (libseccomp takes one comparison per argument and rule: use a mask or '||')" },
	{ "read: arg0 == 01", "t.policy:1: number '01' has a leading zero (octal is not supported)" },
	{ "read: arg0 == 0x", "t.policy:1: bad number '0x'" },
	{ "read: arg0 == 0x1g", "t.policy:1: bad number '0x1g'" },
	{ "read: arg0 == 12ab", "t.policy:1: bad number '12ab'" },
	{ "read: arg0 == 18446744073709551616", "t.policy:1: number '18446744073709551616' does not fit in 64 bits" },
	{ "read: arg0 == 0x10000000000000000", "t.policy:1: number '0x10000000000000000' does not fit in 64 bits" },
	{ "read: arg0 == -9223372036854775809", "t.policy:1: number '-9223372036854775809' does not fit in 64 bits" },
	{ "read: arg0 == @NOPE", "t.policy:1: unbound placeholder '@NOPE'" },
	{ "read: arg0 == @", "t.policy:1: '@' must be followed by a placeholder name" },
	{ "read: arg0 & 0 == 0", "t.policy:1: arg0 & 0 is always 0: the mask selects no bit" },
	{ "read: arg0 & 1 == 2", "t.policy:1: arg0 & 0x1 can never be 0x2: the value has bits outside the mask" },
	{ "read: arg0 & 1 != 0", "t.policy:1: expected '==' after the mask, found '!='" },
	{ "read: arg0 & 1", "t.policy:1: expected '==' after the mask, found end of line" },
	{ "read: arg0 == $", "t.policy:1: unexpected character '$'" },
	{ "read: arg0 == 1 ! 2", "t.policy:1: unexpected character '!'" },
	{ "read: arg0 == AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	  "t.policy:1: name 'AAAAAAAAAAAAAAAAAAAA...' is longer than 63 characters" },
	{ "read: arg0 == 1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17",
	  "t.policy:1: more than 16 terms joined by '|'" },
	{ "read: arg0 == 1 || arg0 == 2 || arg0 == 3 || arg0 == 4 || arg0 == 5 || arg0 == 6 || arg0 == 7 || arg0 == 8 || arg0 == 9 || arg0 == 10 || arg0 == 11 || arg0 == 12 || arg0 == 13 || arg0 == 14 || arg0 == 15 || arg0 == 16 || arg0 == 17",
	  "t.policy:1: more than 16 alternatives joined by '||'" },
	{ "@include", "t.policy:1: @include takes one file name ending in .policy" },
	{ "@include common", "t.policy:1: @include takes one file name ending in .policy" },
	{ "@include ../common.policy", "t.policy:1: @include takes one file name ending in .policy" },
	{ "@include common.policy extra", "t.policy:1: @include takes one file name ending in .policy" },
	{ "@include nothere.policy", "t.policy:1: @include nothere.policy: no such policy file" },
	{ "@include t.policy", "t.policy:1: a policy cannot include itself" },
	{ "@include common.policy\n@include common.policy", "t.policy:2: common.policy is included twice" },
	{ "@includecommon.policy", "t.policy:1: unknown directive '@includecommon.policy' (the only one is @include)" },
	{ "@foo bar", "t.policy:1: unknown directive '@foo' (the only one is @include)" },
	{ "read\r\n", "t.policy:1: unexpected byte 0x0d (policies are printable ASCII)" },
	{ "read\x01", "t.policy:1: unexpected byte 0x01 (policies are printable ASCII)" },
	{ "# caf\xc3\xa9\nread", "t.policy:1: unexpected byte 0xc3 (policies are printable ASCII)" },
	{ "", "t.policy: no rules: a policy may not be empty" },
	{ "# only a comment\n\n", "t.policy: no rules: a policy may not be empty" },
};

static void test_bad_lines(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(bad_lines); i++) {
		struct policy_set set;
		char err[512];
		int ret = parse_str(bad_lines[i].text, &set, err, sizeof(err));

		if (ret != -EINVAL)
			fail_msg("%zu: '%s' parsed (%d)", i, bad_lines[i].text, ret);
		if (strcmp(err, bad_lines[i].err) != 0)
			fail_msg("%zu: '%s':\n got  %s\n want %s", i, bad_lines[i].text, err,
				 bad_lines[i].err);
		assert_null(set.rules);
	}
}

/* Bytes no text editor would write: a NUL, a line at and over the limit, an oversized file. */
static void test_hostile_text(void **state)
{
	static char big[POLICY_MAX_FILE_BYTES + 2];
	char line[POLICY_MAX_LINE + 2], err[256];
	struct policy_set set;

	(void)state;
	assert_int_equal(parse_text("read\0\n", 6, NULL, 0, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy:1: unexpected byte 0x00 (policies are printable ASCII)");

	memset(line, ' ', sizeof(line));
	memcpy(line, "read", 4);
	line[POLICY_MAX_LINE] = '\n'; /* exactly POLICY_MAX_LINE bytes before it */
	if (parse_text(line, POLICY_MAX_LINE + 1, NULL, 0, &set, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	policy_set_free(&set);
	line[POLICY_MAX_LINE] = ' '; /* one byte more */
	assert_int_equal(parse_text(line, POLICY_MAX_LINE + 1, NULL, 0, &set, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.policy:1: line longer than 512 bytes");

	memset(big, '\n', sizeof(big));
	memcpy(big, "read", 4);
	assert_int_equal(parse_text(big, sizeof(big), NULL, 0, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy: larger than 262144 bytes");
	assert_int_equal(parse_text(big, POLICY_MAX_FILE_BYTES, NULL, 0, &set, err, sizeof(err)), 0);
	policy_set_free(&set);

	/* An error message never overruns a short buffer. */
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse_str("foo_bar_baz", &set, err, 8), -EINVAL);
	assert_string_equal(err, "t.polic");
	assert_int_equal(err[8], 'x');
	assert_int_equal(parse_str("foo", &set, NULL, 0), -EINVAL);
}

/* A deterministic mutation fuzz: no input may crash the parser or leave a rule behind. */
static void test_mutations(void **state)
{
	static const char seed[] =
		"@include common.policy\nread: arg0 == @FD && arg2 & PROT_EXEC|0x10 == 0 || arg1 >= -5\n"
		"ioctl: arg1 == KVM_RUN # x\nwrite\n";
	static const char alphabet[] = "@:&|=!<>#\n\t -0x9aZ_";
	struct policy_binding b = { "FD", 3 };
	uint32_t rnd = 12345;
	char buf[sizeof(seed)], err[256];

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		struct policy_set set;
		int ret;

		memcpy(buf, seed, sizeof(seed));
		for (int k = 0; k < 4; k++) {
			rnd = rnd * 1103515245 + 12345;
			size_t pos = (rnd >> 8) % (sizeof(buf) - 1);

			rnd = rnd * 1103515245 + 12345;
			buf[pos] = (rnd >> 16) % 3 == 0 ? (char)(rnd >> 8)
							 : alphabet[(rnd >> 8) % (sizeof(alphabet) - 1)];
		}
		rnd = rnd * 1103515245 + 12345;
		ret = parse_text(buf, (rnd >> 8) % sizeof(buf), &b, 1, &set, err, sizeof(err));
		if (ret == 0) {
			assert_true(set.nrules > 0 && set.nrules <= POLICY_MAX_RULES);
			policy_set_free(&set);
		} else {
			assert_int_equal(ret, -EINVAL);
			assert_null(set.rules);
			assert_true(strlen(err) > 0);
		}
	}
}

static void test_placeholders(void **state)
{
	struct policy_binding b[POLICY_MAX_VALUES + 1];
	struct policy_set set;
	char err[256];
	size_t n;

	(void)state;
	/* Bound once: one rule with the value. */
	b[0] = (struct policy_binding){ "DISK_FD", 7 };
	assert_int_equal(parse_text("pread64: arg0 == @DISK_FD", 25, b, 1, &set, err, sizeof(err)), 0);
	assert_int_equal(set.nrules, 1);
	assert_true(set.rules[0].cmp[0].value == 7);
	policy_set_free(&set);
	/* Also inside a mask and beside constants. */
	assert_int_equal(parse_text("read: arg2 & @DISK_FD|0x10 == 0x10", 34, b, 1, &set, err,
				    sizeof(err)), 0);
	assert_true(set.rules[0].cmp[0].mask == 0x17 && set.rules[0].cmp[0].value == 0x10);
	policy_set_free(&set);

	/* Bound several times: one rule per value, for == only. */
	b[0] = (struct policy_binding){ "Q", 5 };
	b[1] = (struct policy_binding){ "R", 10 };
	b[2] = (struct policy_binding){ "Q", 6 };
	b[3] = (struct policy_binding){ "R", 11 };
	b[4] = (struct policy_binding){ "R", 12 };
	assert_int_equal(parse_text("read: arg0 == @Q", 16, b, 5, &set, err, sizeof(err)), 0);
	assert_int_equal(set.nrules, 2);
	assert_true(set.rules[0].cmp[0].value == 5 && set.rules[1].cmp[0].value == 6);
	policy_set_free(&set);
	assert_int_equal(parse_text("read: arg0 == @Q && arg1 == @R && arg2 == 1", 43, b, 5, &set,
				    err, sizeof(err)), 0);
	assert_int_equal(set.nrules, 6);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(set.rules[i].ncmp, 3);
		assert_true(set.rules[i].cmp[2].value == 1);
		for (size_t k = 0; k < i; k++)
			assert_false(set.rules[i].cmp[0].value == set.rules[k].cmp[0].value &&
				     set.rules[i].cmp[1].value == set.rules[k].cmp[1].value);
	}
	policy_set_free(&set);
	assert_int_equal(parse_text("read: arg0 != @Q", 16, b, 5, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy:1: placeholder '@Q' is bound to 2 values: only 'argN == @Q' may use it");
	assert_int_equal(parse_text("read: arg0 == @Q|1", 18, b, 5, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy:1: placeholder '@Q' is bound to 2 values: only 'argN == @Q' may use it");
	assert_int_equal(parse_text("read: arg0 & @Q == 0", 20, b, 5, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy:1: placeholder '@Q' is bound to 2 values: only 'argN == @Q' may use it");

	/* Bad bindings. */
	b[0] = (struct policy_binding){ "A B", 1 };
	assert_int_equal(parse_text("read", 4, b, 1, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy: binding 0: a placeholder name is letters, digits and '_'");
	b[0] = (struct policy_binding){ NULL, 1 };
	assert_int_equal(parse_text("read", 4, b, 1, &set, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_text("read", 4, NULL, 1, &set, err, sizeof(err)), -EINVAL);
	for (n = 0; n <= POLICY_MAX_VALUES; n++)
		b[n] = (struct policy_binding){ "MANY", n };
	assert_int_equal(parse_text("read", 4, b, n, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy: placeholder '@MANY' is bound more than 64 times");
}

static void test_placeholder_limits(void **state)
{
	static struct policy_binding many[3 * 40];
	static const char *const name[3] = { "X", "Y", "Z" };
	struct policy_set set;
	char err[256];

	(void)state;
	for (size_t n = 0; n < nitems(many); n++)
		many[n] = (struct policy_binding){ name[n % 3], n };
	/* 40 x 40 = 1600 rules: more than a policy may have. */
	assert_int_equal(parse_text("read: arg0 == @X && arg1 == @Y", 30, many, nitems(many), &set,
				    err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.policy:1: too many rules: a policy has at most 1024 once placeholders are expanded");
	/* 40 x 40 x 40 (the count must not wrap or run long either) */
	assert_int_equal(parse_text("read: arg0 == @X && arg1 == @Y && arg2 == @Z", 44, many,
				    nitems(many), &set, err, sizeof(err)), -EINVAL);
	/* 20 x 20 = 400 rules are fine. */
	assert_int_equal(parse_text("read: arg0 == @X && arg1 == @Y", 30, many, 60, &set, err,
				    sizeof(err)), 0);
	assert_int_equal(set.nrules, 400);
	policy_set_free(&set);
}

static void test_includes(void **state)
{
	static const char main_text[] = "@include common.policy\nread\n";
	static const char common_ok[] = "# shared\nwrite: arg0 == STDERR_FILENO\nexit_group\n";
	static const char common_bad[] = "write\nnot_a_syscall\n";
	static const char common_nested[] = "write\n@include other.policy\n";
	static const char other[] = "getpid\n";
	struct policy_file files[3] = {
		{ "main.policy", main_text, sizeof(main_text) - 1 },
		{ "common.policy", common_ok, sizeof(common_ok) - 1 },
		{ "other.policy", other, sizeof(other) - 1 },
	};
	struct policy_set set;
	char err[256];

	(void)state;
	assert_int_equal(policy_parse("main", files, 3, NULL, 0, 0, &set, err, sizeof(err)), 0);
	assert_int_equal(set.nrules, 3);
	assert_string_equal(set.rules[0].file, "common.policy");
	assert_int_equal(set.rules[0].line, 2);
	assert_string_equal(set.rules[2].file, "main.policy");
	assert_int_equal(set.rules[2].line, 2);
	policy_set_free(&set);

	/* An error in the included file names that file and its line. */
	files[1].text = common_bad;
	files[1].len = sizeof(common_bad) - 1;
	assert_int_equal(policy_parse("main", files, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "common.policy:2: unknown syscall 'not_a_syscall'");

	/* One level only. */
	files[1].text = common_nested;
	files[1].len = sizeof(common_nested) - 1;
	assert_int_equal(policy_parse("main", files, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "common.policy:2: @include in an included file: policies include one level only");

	/* The process's own file must be there, and named sensibly. */
	assert_int_equal(policy_parse("blk", files, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "blk.policy: no such policy file");
	assert_int_equal(policy_parse("../main", files, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
	assert_int_equal(policy_parse("", files, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
	assert_int_equal(policy_parse(NULL, files, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
	assert_int_equal(policy_parse("main", NULL, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
	assert_int_equal(policy_parse("main", files, POLICY_MAX_FILES + 1, NULL, 0, 0, &set, err,
				      sizeof(err)), -EINVAL);
	files[2].name = NULL;
	assert_int_equal(policy_parse("main", files, 3, NULL, 0, 0, &set, err, sizeof(err)), -EINVAL);
}

static void test_check_and_modes(void **state)
{
	static const char text[] = "read: arg0 == @ANYTHING\nexit_group\n";
	struct policy_file f = { "x.policy", text, sizeof(text) - 1 };
	char err[256];
	size_t n = 99;

	(void)state;
	/* policy_check binds every placeholder to a dummy value. */
	assert_int_equal(policy_check("x", &f, 1, err, sizeof(err)), 0);
	assert_int_equal(policy_check("y", &f, 1, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "y.policy: no such policy file");
	/* POLICY_OFF loads nothing and so checks nothing; an unknown mode is an error. */
	assert_int_equal(policy_load("y", &f, 1, NULL, 0, POLICY_OFF, err, sizeof(err)), 0);
	assert_int_equal(policy_load("x", &f, 1, NULL, 0, (enum policy_mode)7, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unknown policy mode 7");
	/* Loading does not invent bindings. */
	assert_int_equal(policy_load("x", &f, 1, NULL, 0, POLICY_KILL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "x.policy:1: unbound placeholder '@ANYTHING'");
	/* No policy is embedded in a unit test. */
	assert_null(policy_embedded(&n));
	assert_int_equal(n, 0);
}

/* ---- real filters, in forked children ---- */

typedef int (*child_fn)(void *arg);

/* Run fn in a child; its wait status. The child never returns into cmocka. */
static int run_child(child_fn fn, void *arg)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) /* exit_group itself: a sanitizer's _exit makes calls no test policy allows */
		syscall(SYS_exit_group, fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int killed_by_sigsys(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

static int exited_with(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

struct load_case {
	const char *text; /* the policy of process "c" */
	enum policy_mode mode;
	const struct policy_binding *b;
	size_t nb;
	int step; /* what the child does after loading */
	int fd;
};

enum {
	STEP_FORBIDDEN, /* getppid */
	STEP_IOCTL_OK, /* ioctl(fd, FIONREAD) */
	STEP_IOCTL_OTHER, /* ioctl(fd, FIONBIO) */
	STEP_MMAP_READ,
	STEP_MMAP_EXEC,
	STEP_THREAD_FORBIDDEN, /* a thread made before the load calls getppid */
	STEP_WRITE_BOUND_FD, /* write on the placeholder's fd */
	STEP_WRITE_OTHER_FD,
};

static int thread_pipe[2];

static void *thread_main(void *arg)
{
	char c;

	(void)arg;
	if (read(thread_pipe[0], &c, 1) == 1)
		syscall(SYS_getppid);
	return NULL;
}

/* In the child: load, then act; 0 = everything worked, 1..9 = which step failed. */
static int load_child(void *arg)
{
	const struct load_case *lc = arg;
	struct policy_file f = { "c.policy", lc->text, strlen(lc->text) };
	pthread_t th;
	char err[256];
	int n = 0;
	void *p;

	if (lc->step == STEP_THREAD_FORBIDDEN &&
	    (pipe(thread_pipe) < 0 || pthread_create(&th, NULL, thread_main, NULL) != 0))
		return 8;
	if (policy_load("c", &f, 1, lc->b, lc->nb, lc->mode, err, sizeof(err)) < 0) {
		(void)!write(STDERR_FILENO, err, strlen(err));
		return 9;
	}
	switch (lc->step) {
	case STEP_FORBIDDEN:
		syscall(SYS_getppid);
		return 0;
	case STEP_IOCTL_OK:
		return ioctl(lc->fd, FIONREAD, &n) == 0 ? 0 : 2;
	case STEP_IOCTL_OTHER:
		n = 1;
		return ioctl(lc->fd, FIONBIO, &n) == 0 ? 0 : 3;
	case STEP_MMAP_READ:
		p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p != MAP_FAILED ? 0 : 4;
	case STEP_MMAP_EXEC:
		p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p != MAP_FAILED ? 0 : 5;
	case STEP_THREAD_FORBIDDEN:
		if (write(thread_pipe[1], "x", 1) != 1)
			return 6;
		syscall(SYS_futex, &n, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0); /* the thread's getppid ends us */
		return 0;
	case STEP_WRITE_BOUND_FD:
		return write(lc->fd, "x", 1) == 1 ? 0 : 7;
	case STEP_WRITE_OTHER_FD:
		return write(lc->fd + 1, "x", 1) == 1 ? 0 : 7;
	}
	return 1;
}

static int load_status(const char *text, enum policy_mode mode, int step, int fd,
		       const struct policy_binding *b, size_t nb)
{
	struct load_case lc = { text, mode, b, nb, step, fd };

	return run_child(load_child, &lc);
}

static void test_load_kill_and_log(void **state)
{
	static const char text[] = "write\nexit_group\n";

	(void)state;
	assert_true(killed_by_sigsys(load_status(text, POLICY_KILL, STEP_FORBIDDEN, -1, NULL, 0)));
	assert_true(exited_with(load_status(text, POLICY_LOG, STEP_FORBIDDEN, -1, NULL, 0), 0));
	assert_true(exited_with(load_status(text, POLICY_OFF, STEP_FORBIDDEN, -1, NULL, 0), 0));
	/* Allowed, the same call runs. */
	assert_true(exited_with(load_status("getppid\nexit_group\n", POLICY_KILL, STEP_FORBIDDEN, -1,
					    NULL, 0), 0));
}

static void test_load_ioctl_filter(void **state)
{
	static const char text[] = "ioctl: arg1 == FIONREAD\nexit_group\n";
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_true(exited_with(load_status(text, POLICY_KILL, STEP_IOCTL_OK, p[0], NULL, 0), 0));
	assert_true(killed_by_sigsys(load_status(text, POLICY_KILL, STEP_IOCTL_OTHER, p[0], NULL, 0)));
	assert_true(exited_with(load_status(text, POLICY_LOG, STEP_IOCTL_OTHER, p[0], NULL, 0), 0));
	close(p[0]);
	close(p[1]);
}

static void test_load_no_exec_mmap(void **state)
{
	static const char text[] = "mmap: arg2 & PROT_EXEC == 0\nexit_group\n";

	(void)state;
	assert_true(exited_with(load_status(text, POLICY_KILL, STEP_MMAP_READ, -1, NULL, 0), 0));
	assert_true(killed_by_sigsys(load_status(text, POLICY_KILL, STEP_MMAP_EXEC, -1, NULL, 0)));
}

static void test_load_all_threads(void **state)
{
	static const char text[] = "write\nread\nfutex\nexit_group\n";

	(void)state;
	assert_true(killed_by_sigsys(load_status(text, POLICY_KILL, STEP_THREAD_FORBIDDEN, -1, NULL, 0)));
}

static void test_load_placeholder_fd(void **state)
{
	static const char text[] = "write: arg0 == @OUT_FD\nexit_group\n";
	struct policy_binding b = { "OUT_FD", 0 };
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	b.value = (uint64_t)p[1];
	assert_true(exited_with(load_status(text, POLICY_KILL, STEP_WRITE_BOUND_FD, p[1], &b, 1), 0));
	assert_true(killed_by_sigsys(load_status(text, POLICY_KILL, STEP_WRITE_OTHER_FD, p[1], &b, 1)));
	close(p[0]);
	close(p[1]);
}

/* ---- the real policies ---- */

static const char *const processes[] = { "supervisor", "vcpu", "serial", "blk", "net" };

struct real {
	struct policy_file files[nitems(processes) + 1];
	char *text[nitems(processes) + 1];
	size_t n;
};

static int read_real(struct real *r)
{
	static const char *const names[] = { "common", "supervisor", "vcpu", "serial", "blk", "net" };
	static char fname[nitems(names)][32];

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < nitems(names); i++) {
		char path[128];
		FILE *fp;
		size_t len;

		snprintf(path, sizeof(path), POLICY_DIR "/%s.policy", names[i]);
		snprintf(fname[i], sizeof(fname[i]), "%s.policy", names[i]);
		fp = fopen(path, "r");
		if (!fp)
			return -1;
		r->text[i] = calloc(1, POLICY_MAX_FILE_BYTES + 1);
		len = fread(r->text[i], 1, POLICY_MAX_FILE_BYTES, fp);
		fclose(fp);
		r->files[i] = (struct policy_file){ fname[i], r->text[i], len };
		r->n++;
	}
	return 0;
}

static void free_real(struct real *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->text[i]);
}

static void test_real_policies_check(void **state)
{
	struct real r;
	char err[512];

	(void)state;
	if (read_real(&r) < 0)
		skip(); /* run from the source tree: make unit */
	for (size_t i = 0; i < nitems(processes); i++) {
		if (policy_check(processes[i], r.files, r.n, err, sizeof(err)) < 0)
			fail_msg("%s: %s", processes[i], err);
	}
	free_real(&r);
}

/* blk's policy with its bindings: requests on the disk fd run, the same calls elsewhere kill. */
struct blk_case {
	struct real *r;
	int disk, other, queue, irq;
	int step;
};

static int blk_child(void *arg)
{
	const struct blk_case *c = arg;
	const struct policy_binding b[] = {
		{ "CONTROL_FD", 3 },	      { "CHAN_FD", 1000 },
		{ "IRQ_FD", (uint64_t)c->irq }, { "QUEUE_FD", (uint64_t)c->queue },
		{ "DISK_FD", (uint64_t)c->disk },
	};
	char buf[512], err[256];
	struct iovec iov = { buf, sizeof(buf) };
	uint64_t v = 1;
	void *p;

	memset(buf, 0x5a, sizeof(buf));
	if (policy_load("blk", c->r->files, c->r->n, b, nitems(b), POLICY_KILL, err, sizeof(err)) < 0) {
		(void)!write(STDERR_FILENO, err, strlen(err));
		return 9;
	}
	switch (c->step) {
	case 0: /* the workload */
		if (pwritev(c->disk, &iov, 1, 512) != (ssize_t)sizeof(buf) ||
		    preadv(c->disk, &iov, 1, 0) != (ssize_t)sizeof(buf) || fdatasync(c->disk) < 0)
			return 1;
		if (fallocate(c->disk, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) < 0 ||
		    fallocate(c->disk, FALLOC_FL_ZERO_RANGE, 0, 4096) < 0)
			return 2;
		if (write(c->irq, &v, sizeof(v)) != sizeof(v) || read(c->queue, &v, sizeof(v)) < 0)
			return 3;
		/* the bounce buffer, as glibc's malloc gets it (raw: a sanitizer's allocator does more) */
		p = (void *)syscall(SYS_mmap, NULL, 1 << 20, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED || syscall(SYS_munmap, p, 1 << 20) < 0 || syscall(SYS_brk, 0) <= 0)
			return 4;
		return 0;
	case 5: /* not anonymous */
		(void)!syscall(SYS_mmap, NULL, 4096, PROT_READ, MAP_SHARED, c->disk, 0);
		return 0;
	case 1:
		(void)!pwritev(c->other, &iov, 1, 0);
		return 0;
	case 2:
		(void)!fallocate(c->disk, FALLOC_FL_COLLAPSE_RANGE, 0, 4096);
		return 0;
	case 3:
		(void)!syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
		return 0;
	case 4:
		(void)!syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
		return 0;
	}
	return 8;
}

static void test_real_blk_policy(void **state)
{
	struct blk_case c;
	struct real r;
	char path[] = "/tmp/bulkhead-test-policy-XXXXXX";

	(void)state;
	if (read_real(&r) < 0)
		skip();
	c.r = &r;
	c.disk = mkstemp(path);
	assert_true(c.disk >= 0);
	unlink(path);
	assert_int_equal(ftruncate(c.disk, 1 << 20), 0);
	c.other = dup(c.disk);
	c.queue = eventfd(1, EFD_NONBLOCK);
	c.irq = eventfd(0, EFD_NONBLOCK);
	assert_true(c.other >= 0 && c.queue >= 0 && c.irq >= 0);
	c.step = 0;
	assert_true(exited_with(run_child(blk_child, &c), 0));
	for (c.step = 1; c.step <= 5; c.step++)
		assert_true(killed_by_sigsys(run_child(blk_child, &c)));
	close(c.disk);
	close(c.other);
	close(c.queue);
	close(c.irq);
	free_real(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_placeholder_limits),
		cmocka_unit_test(test_includes),
		cmocka_unit_test(test_check_and_modes),
		cmocka_unit_test(test_load_kill_and_log),
		cmocka_unit_test(test_load_ioctl_filter),
		cmocka_unit_test(test_load_no_exec_mmap),
		cmocka_unit_test(test_load_all_threads),
		cmocka_unit_test(test_load_placeholder_fd),
		cmocka_unit_test(test_real_policies_check),
		cmocka_unit_test(test_real_blk_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
