/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * supervisor/config.c: argv and --config parsing, config_check, usage.
 * Tables of valid and invalid command lines; every error must be one line
 * naming the option (and key and value where there is one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../kinds/kinds.h"
#include "../../supervisor/config.h"

#define MAX_ARGS 16
#define MAX_WANT 4
#define ERRLEN 512

static const struct config_limits test_limits = { .host_mem_mib = 24000, .max_vcpus = 64 };

static int count_args(char *const *argv)
{
	int n = 0;

	while (n < MAX_ARGS && argv[n])
		n++;
	return n;
}

/* Parse "bulkhead" + argv (NULL-terminated) into c after config_init. */
static enum config_result parse(struct vm_config *c, char *const *argv, char *err,
				size_t errlen)
{
	char *av[MAX_ARGS + 2];
	int n = count_args(argv);

	av[0] = "bulkhead";
	memcpy(&av[1], argv, sizeof(av[0]) * (size_t)n);
	av[n + 1] = NULL;
	config_init(c);
	return config_parse_args(c, n + 1, av, err, errlen);
}

/* The options of the index-th device of the kind whose option is option, as text. */
static const char *dev_describe(const struct vm_config *c, const char *option, unsigned int index)
{
	static char buf[CONFIG_DEV_OPTS_MAX + 64];

	for (unsigned int i = 0; i < c->ndevs; i++) {
		if (strcmp(c->devs[i].kind->option, option) == 0 && index-- == 0)
			return config_dev_describe(&c->devs[i], buf, sizeof(buf));
	}
	return "(none)";
}

/* An error message must be one non-empty printable line. */
static void assert_one_line(const char *err)
{
	assert_true(err[0] != '\0');
	for (const char *s = err; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fail_msg("control character 0x%02x in error '%s'", (unsigned char)*s, err);
	}
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void test_acpi_option(void **state)
{
	struct vm_config c;
	char err[ERRLEN];
	char *on[] = { "bulkhead", "--kernel", "path=k", "--acpi", "off", "--acpi=on" };
	char *off[] = { "bulkhead", "--kernel", "path=k", "--acpi", "off" };

	(void)state;
	config_init(&c);
	assert_int_equal(c.acpi, 1);
	assert_int_equal(config_parse_args(&c, 6, on, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(c.acpi, 1);
	config_init(&c);
	assert_int_equal(config_parse_args(&c, 5, off, err, sizeof(err)), CONFIG_OK);
	assert_int_equal(c.acpi, 0);
}

/* The bare on|off option that defaults to on: --debug-exit (off: port 0xf4 is no
 * debug-exit port, as QEMU without isa-debug-exit). --pit: test_irqchip_and_pit. */
static void test_on_off_options(void **state)
{
	static const struct {
		char *name;
		size_t off;
	} opts[] = {
		{ "--debug-exit", offsetof(struct vm_config, debug_exit) },
	};
	struct vm_config c;
	char err[ERRLEN], want[64];

	(void)state;
	for (size_t i = 0; i < nitems(opts); i++) {
		char *off[] = { "bulkhead", "--kernel", "path=k", opts[i].name, "off" };
		char *bad[] = { "bulkhead", "--kernel", "path=k", opts[i].name, "maybe" };
		const int *field = (const int *)(const void *)((const char *)&c + opts[i].off);

		config_init(&c);
		assert_int_equal(*field, 1);
		assert_int_equal(config_parse_args(&c, 5, off, err, sizeof(err)), CONFIG_OK);
		assert_int_equal(*field, 0);
		config_init(&c);
		assert_int_equal(config_parse_args(&c, 5, bad, err, sizeof(err)), CONFIG_ERROR);
		snprintf(want, sizeof(want), "%s: 'maybe': expected on, off", opts[i].name);
		assert_string_equal(err, want);
	}
}

/* Split where KVM has it unless --pit on asks for KVM's i8254; a PIT by default only with
 * the in-kernel irqchip; the two that cannot go together are refused. */
static void test_irqchip_and_pit(void **state)
{
	static const struct {
		char *irqchip, *pit;
		int kvm_split; /* KVM_CAP_SPLIT_IRQCHIP */
		int want_irqchip, want_pit;
		const char *err;
	} cases[] = {
		{ NULL, NULL, 1, CONFIG_IRQCHIP_SPLIT, 0, NULL },
		{ NULL, NULL, 0, CONFIG_IRQCHIP_KERNEL, 1, NULL },
		{ NULL, "on", 1, CONFIG_IRQCHIP_KERNEL, 1, NULL },
		{ NULL, "off", 1, CONFIG_IRQCHIP_SPLIT, 0, NULL },
		{ NULL, "off", 0, CONFIG_IRQCHIP_KERNEL, 0, NULL },
		{ "kernel", NULL, 1, CONFIG_IRQCHIP_KERNEL, 1, NULL },
		{ "kernel", "off", 1, CONFIG_IRQCHIP_KERNEL, 0, NULL },
		{ "split", NULL, 1, CONFIG_IRQCHIP_SPLIT, 0, NULL },
		{ "split", "off", 1, CONFIG_IRQCHIP_SPLIT, 0, NULL },
		{ "split", "on", 1, 0, 0,
		  "--pit on: KVM's i8254 needs its in-kernel PIC, not --irqchip split" },
		{ "split", NULL, 0, 0, 0, "--irqchip split: this KVM has no KVM_CAP_SPLIT_IRQCHIP" },
	};
	struct config_limits lim = test_limits;
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char *argv[MAX_ARGS] = { "bulkhead", "--kernel", "path=k" };
		int argc = 3;

		if (cases[i].irqchip) {
			argv[argc++] = "--irqchip";
			argv[argc++] = cases[i].irqchip;
		}
		if (cases[i].pit) {
			argv[argc++] = "--pit";
			argv[argc++] = cases[i].pit;
		}
		lim.split_irqchip = cases[i].kvm_split;
		config_init(&c);
		assert_int_equal(config_parse_args(&c, argc, argv, err, sizeof(err)), CONFIG_OK);
		if (cases[i].err) {
			assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
			assert_string_equal(err, cases[i].err);
			continue;
		}
		assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_OK);
		assert_int_equal(c.irqchip, cases[i].want_irqchip);
		assert_int_equal(c.pit, cases[i].want_pit);
	}
	for (size_t i = 0; i < 2; i++) {
		char *bad[] = { "bulkhead", "--kernel", "path=k", i ? "--pit" : "--irqchip", "maybe" };

		config_init(&c);
		assert_int_equal(config_parse_args(&c, 5, bad, err, sizeof(err)), CONFIG_ERROR);
		assert_string_equal(err, i ? "--pit: 'maybe': expected on, off" :
					     "--irqchip: 'maybe': expected kernel, split");
	}
}

static void test_defaults(void **state)
{
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	config_init(&c);
	assert_string_equal(c.kernel_path, "");
	assert_string_equal(c.cmdline, "");
	assert_string_equal(c.initrd_path, "");
	assert_int_equal(c.mem_mib, CONFIG_DEFAULT_MEM_MIB);
	assert_int_equal(c.nvcpus, CONFIG_DEFAULT_VCPUS);
	assert_string_equal(dev_describe(&c, "serial", 0), "stdio");
	assert_int_equal(c.ndevs, 1);
	assert_string_equal(c.name, "vm");
	assert_int_equal(c.verbose, 0);

	/* no options at all parses, but config_check wants a kernel */
	assert_int_equal(config_parse_args(&c, 1, (char *[]){ "bulkhead", NULL }, err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(config_check(&c, &test_limits, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "--kernel: path= is required");
	assert_int_equal(config_parse_args(&c, 0, (char *[]){ NULL }, err, sizeof(err)), CONFIG_OK);
}

struct valid_case {
	char *argv[MAX_ARGS];
	/* expectations; NULL or 0 means "not checked" */
	const char *kernel, *cmdline, *initrd, *serial, *name;
	uint64_t mem_mib;
	unsigned int nvcpus;
	int verbose; /* expected + 1, or 0 */
};

static const struct valid_case valid_cases[] = {
	{ .argv = { "--kernel", "path=vmlinuz" }, .kernel = "vmlinuz", .cmdline = "",
	  .initrd = "", .mem_mib = CONFIG_DEFAULT_MEM_MIB, .nvcpus = CONFIG_DEFAULT_VCPUS,
	  .serial = "stdio", .name = "vm", .verbose = 1 },
	/* the full example from the usage line */
	{ .argv = { "--kernel", "path=vmlinuz,cmdline=console=ttyS0 reboot=k panic=-1",
		    "--initrd", "path=initramfs.cpio.gz", "--memory", "size_mib=256", "--vcpus",
		    "num=2", "--serial", "stdio" },
	  .kernel = "vmlinuz", .cmdline = "console=ttyS0 reboot=k panic=-1",
	  .initrd = "initramfs.cpio.gz", .mem_mib = 256, .nvcpus = 2,
	  .serial = "stdio" },
	/* --opt=value */
	{ .argv = { "--kernel=path=k,cmdline=a=b", "--memory=size_mib=512", "--vcpus=num=4",
		    "--name=test-1", "--serial=none" },
	  .kernel = "k", .cmdline = "a=b", .mem_mib = 512, .nvcpus = 4, .name = "test-1",
	  .serial = "none" },
	/* quoted values (the shell passed the quotes through) */
	{ .argv = { "--kernel", "path=\"my,kernel\",cmdline=\"a,b c\"" }, .kernel = "my,kernel",
	  .cmdline = "a,b c" },
	{ .argv = { "--kernel", "cmdline=\"path=x,y\",path=k" }, .kernel = "k",
	  .cmdline = "path=x,y" },
	{ .argv = { "--kernel", "path=k,cmdline=\"\"" }, .kernel = "k", .cmdline = "" },
	{ .argv = { "--memory", "size_mib=\"64\"", "--kernel", "path=k" }, .mem_mib = 64 },
	/* comma heuristic: a comma not followed by a known key stays in the value */
	{ .argv = { "--kernel", "path=k,cmdline=console=ttyS0,115200 reboot=k" }, .kernel = "k",
	  .cmdline = "console=ttyS0,115200 reboot=k" },
	{ .argv = { "--kernel", "cmdline=console=ttyS0,115200,path=k" }, .kernel = "k",
	  .cmdline = "console=ttyS0,115200" },
	{ .argv = { "--kernel", "path=a,b,cmdline=x,y" }, .kernel = "a,b", .cmdline = "x,y" },
	{ .argv = { "--kernel", "path=a,pathx=1" }, .kernel = "a,pathx=1" },
	{ .argv = { "--kernel", "path=k,cmdline=a,b=c,d" }, .kernel = "k", .cmdline = "a,b=c,d" },
	{ .argv = { "--kernel", "path=k,cmdline=x=\"q\" y" }, .kernel = "k",
	  .cmdline = "x=\"q\" y" },
	{ .argv = { "--kernel", "path=k,cmdline=" }, .kernel = "k", .cmdline = "" },
	/* serial */
	{ .argv = { "--kernel", "path=k", "--serial", "file=/tmp/out.log" },
	  .serial = "file=/tmp/out.log" },
	{ .argv = { "--kernel", "path=k", "--serial", "file=a,b" }, .serial = "file=\"a,b\"" },
	{ .argv = { "--kernel", "path=k", "--serial", "file=x", "--serial", "stdio" },
	  .serial = "stdio" },
	{ .argv = { "--kernel", "path=k", "--serial", "none", "--serial", "file=\"y z\"" },
	  .serial = "file=y z" },
	/* repeats: the last wins, and a repeated group replaces the whole group */
	{ .argv = { "--kernel", "path=a,cmdline=x", "--kernel", "path=b" }, .kernel = "b",
	  .cmdline = "" },
	{ .argv = { "--kernel", "path=k", "--memory", "size_mib=1", "--memory", "size_mib=2" },
	  .mem_mib = 2 },
	{ .argv = { "--kernel", "path=k", "--name", "a", "--name=b" }, .name = "b" },
	{ .argv = { "--kernel", "path=k", "--initrd", "path=i1", "--initrd=path=i2" },
	  .initrd = "i2" },
	/* numbers */
	{ .argv = { "--kernel", "path=k", "--memory", "size_mib=0x100" }, .mem_mib = 256 },
	{ .argv = { "--kernel", "path=k", "--memory", "size_mib=0X1f" }, .mem_mib = 31 },
	{ .argv = { "--kernel", "path=k", "--memory", "size_mib=0010" }, .mem_mib = 10 },
	{ .argv = { "--kernel", "path=k", "--memory", "size_mib=18446744073709551615" },
	  .mem_mib = UINT64_MAX },
	{ .argv = { "--kernel", "path=k", "--vcpus", "num=4294967295" }, .nvcpus = 4294967295u },
	{ .argv = { "--kernel", "path=k", "--vcpus", "num=0xffffffff" }, .nvcpus = 4294967295u },
	/* flags */
	{ .argv = { "--kernel", "path=k", "-v" }, .verbose = 2 },
	{ .argv = { "--kernel", "path=k", "-v", "--verbose", "-v" }, .verbose = 4 },
	/* names */
	{ .argv = { "--kernel", "path=k", "--name", "A.b_c-9" }, .name = "A.b_c-9" },
	{ .argv = { "--kernel", "path=k", "--name", "abcdefghijklmno" }, .name = "abcdefghijklmno" },
	{ .argv = { "--kernel", "path=k", "--name", "-" }, .name = "-" },
	/* a path with spaces, '=' and a leading quote-free value */
	{ .argv = { "--initrd", "path=/a b/c=d", "--kernel", "path=k" }, .initrd = "/a b/c=d" },
};

static void test_valid(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(valid_cases); i++) {
		const struct valid_case *t = &valid_cases[i];
		struct vm_config c;
		char err[ERRLEN];
		enum config_result r;

		r = parse(&c, t->argv, err, sizeof(err));
		if (r != CONFIG_OK)
			fail_msg("case %zu (%s): result %d, err '%s'", i, t->argv[0], r, err);
		assert_string_equal(err, "");
		if (t->kernel)
			assert_string_equal(c.kernel_path, t->kernel);
		if (t->cmdline)
			assert_string_equal(c.cmdline, t->cmdline);
		if (t->initrd)
			assert_string_equal(c.initrd_path, t->initrd);
		if (t->name)
			assert_string_equal(c.name, t->name);
		if (t->mem_mib)
			assert_int_equal(c.mem_mib, t->mem_mib);
		if (t->nvcpus)
			assert_int_equal(c.nvcpus, t->nvcpus);
		if (t->serial)
			assert_string_equal(dev_describe(&c, "serial", 0), t->serial);
		if (t->verbose)
			assert_int_equal(c.verbose, t->verbose - 1);
	}
}

struct invalid_case {
	char *argv[MAX_ARGS];
	const char *want[MAX_WANT]; /* substrings of the error; want[0] is its start */
};

static const struct invalid_case invalid_cases[] = {
	/* options */
	{ { "--bogus" }, { "--bogus: unknown option (see --help)" } },
	{ { "--kernel", "path=k", "--acpi", "maybe" }, { "--acpi: 'maybe': expected on, off" } },
	{ { "--kernel", "path=k", "--acpi", "on=1" }, { "--acpi: " } },
	{ { "--bogus=1" }, { "--bogus: unknown option" } },
	{ { "--kernel", "path=k", "-x" }, { "-x: unknown option" } },
	{ { "-vv" }, { "-vv: unknown option" } },
	{ { "--" }, { "--: unknown option" } },
	{ { "--KERNEL", "path=k" }, { "--KERNEL: unknown option" } },
	{ { "vmlinuz" }, { "'vmlinuz': unexpected argument" } },
	{ { "-" }, { "'-': unexpected argument" } },
	{ { "--kernel" }, { "--kernel: missing value" } },
	{ { "--name" }, { "--name: missing value" } },
	{ { "--config" }, { "--config: missing value" } },
	{ { "--kernel", "--memory", "size_mib=1" }, { "--kernel: missing value" } },
	{ { "--verbose=1" }, { "--verbose: takes no value" } },
	{ { "-v=1" }, { "--verbose: takes no value" } },
	{ { "--help=x" }, { "--help: takes no value" } },
	/* groups */
	{ { "--kernel", "" }, { "--kernel: empty value" } },
	{ { "--kernel=" }, { "--kernel: empty value" } },
	{ { "--kernel", "foo=bar" }, { "--kernel: unknown key 'foo' (known: path, cmdline)" } },
	{ { "--kernel", "foo=x,path=k" }, { "--kernel: unknown key 'foo'" } },
	{ { "--kernel", "path=k,cmdline=\"a\",foo=b" }, { "--kernel: unknown key 'foo'" } },
	{ { "--memory", "size_mib=1,bogus=2" }, { "--memory: unknown key 'bogus' (known: size_mib, hugepages)" } },
	{ { "--vcpus", "cpus=2" }, { "--vcpus: unknown key 'cpus' (known: num)" } },
	{ { "--initrd", "file=x" }, { "--initrd: unknown key 'file' (known: path)" } },
	{ { "--kernel", "path=a,path=b" }, { "--kernel: duplicate key 'path'" } },
	{ { "--kernel", "cmdline=\"x\",path=k,cmdline=y" }, { "--kernel: duplicate key 'cmdline'" } },
	{ { "--memory", "size_mib=1,size_mib=2" }, { "--memory: duplicate key 'size_mib'" } },
	{ { "--kernel", "vmlinuz" }, { "--kernel: 'vmlinuz': expected key=value", "path, cmdline" } },
	{ { "--kernel", "path" }, { "--kernel: 'path': expected key=value" } },
	{ { "--memory", "256" }, { "--memory: '256': expected key=value", "size_mib" } },
	{ { "--kernel", "=x" }, { "--kernel: '=x': missing key" } },
	{ { "--kernel", "path=\"k\",x" }, { "--kernel: 'x': expected key=value" } },
	{ { "--kernel", "path=\"k\"," }, { "--kernel: trailing comma" } },
	{ { "--memory", "size_mib=1," }, { "--memory: trailing comma" } },
	{ { "--kernel", "path=" }, { "--kernel: path=: must not be empty" } },
	{ { "--kernel", "path=\"\"" }, { "--kernel: path=: must not be empty" } },
	{ { "--kernel", "path=,cmdline=x" }, { "--kernel: path=: must not be empty" } },
	{ { "--initrd", "path=" }, { "--initrd: path=: must not be empty" } },
	{ { "--memory", "size_mib=" }, { "--memory: size_mib=: must not be empty" } },
	{ { "--kernel", "cmdline=x" }, { "--kernel: path= is required" } },
	{ { "--kernel", "path=\"k" }, { "--kernel: path=\"k: unterminated quote" } },
	{ { "--kernel", "path=k,cmdline=\"a b" }, { "--kernel: cmdline=\"a b: unterminated quote" } },
	{ { "--kernel", "path=\"k\"x" }, { "--kernel: path: unexpected text after the closing quote" } },
	/* numbers */
	{ { "--vcpus", "num=abc" }, { "--vcpus: num=abc: not a number" } },
	{ { "--vcpus", "num=-1" }, { "--vcpus: num=-1: not a number" } },
	{ { "--vcpus", "num=+1" }, { "--vcpus: num=+1: not a number" } },
	{ { "--vcpus", "num= 1" }, { "--vcpus: num= 1: not a number" } },
	{ { "--vcpus", "num=1 " }, { "--vcpus: num=1 : not a number" } },
	{ { "--vcpus", "num=2x" }, { "--vcpus: num=2x: not a number" } },
	{ { "--vcpus", "num=1.5" }, { "--vcpus: num=1.5: not a number" } },
	{ { "--vcpus", "num=0x" }, { "--vcpus: num=0x: not a number" } },
	{ { "--vcpus", "num=0xg" }, { "--vcpus: num=0xg: not a number" } },
	{ { "--vcpus", "num=1e3" }, { "--vcpus: num=1e3: not a number" } },
	{ { "--vcpus", "num=\"\"" }, { "--vcpus: num=: must not be empty" } },
	{ { "--vcpus", "num=4294967296" }, { "--vcpus: num=4294967296: number too large" } },
	{ { "--vcpus", "num=0x100000000" }, { "--vcpus: num=0x100000000: number too large" } },
	{ { "--memory", "size_mib=18446744073709551616" },
	  { "--memory: size_mib=18446744073709551616: number too large" } },
	{ { "--memory", "size_mib=99999999999999999999999" }, { "--memory: size_mib=", "too large" } },
	{ { "--memory", "size_mib=0x10000000000000000" }, { "--memory: size_mib=", "too large" } },
	{ { "--memory", "size_mib=0" }, { "--memory: size_mib=0: must be at least 1" } },
	{ { "--vcpus", "num=0" }, { "--vcpus: num=0: must be at least 1" } },
	{ { "--vcpus", "num=0x0" }, { "--vcpus: num=0x0: must be at least 1" } },
	/* serial */
	{ { "--serial", "tty" }, { "--serial: 'tty': expected stdio, none or key=value", "file" } },
	{ { "--serial", "file=" }, { "--serial: file=: must not be empty" } },
	{ { "--serial", "path=x" }, { "--serial: unknown key 'path' (known: file)" } },
	{ { "--serial", "stdio,file=x" }, { "--serial: 'stdio': expected stdio, none" } },
	{ { "--serial", "STDIO" }, { "--serial: 'STDIO'" } },
	{ { "--serial", "" }, { "--serial: empty value" } },
	/* name */
	{ { "--name", "" }, { "--name: '': must be 1 to 15 characters" } },
	{ { "--name=" }, { "--name: '': must be" } },
	{ { "--name", "abcdefghijklmnop" }, { "--name: 'abcdefghijklmnop': must be 1 to 15" } },
	{ { "--name", "a b" }, { "--name: 'a b': must be" } },
	{ { "--name", "a/b" }, { "--name: 'a/b': must be" } },
	{ { "--name", "caf\xc3\xa9" }, { "--name: ", "must be" } },
	{ { "--name", "a\nb" }, { "--name: 'a?b': must be" } },
	/* errors stop at the first bad option, even if --help follows */
	{ { "--bogus", "--help" }, { "--bogus: unknown option" } },
	{ { "--memory", "size_mib=x", "--version" }, { "--memory: size_mib=x: not a number" } },
	/* missing --config file */
	{ { "--config", "/nonexistent/bulkhead.cfg" },
	  { "--config: /nonexistent/bulkhead.cfg: No such file or directory" } },
	{ { "--config=" }, { "--config: : No such file or directory" } },
};

static void test_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(invalid_cases); i++) {
		const struct invalid_case *t = &invalid_cases[i];
		struct vm_config c;
		char err[ERRLEN];
		enum config_result r;

		r = parse(&c, t->argv, err, sizeof(err));
		if (r != CONFIG_ERROR)
			fail_msg("case %zu (%s %s): result %d, want error", i, t->argv[0],
				 t->argv[1] ? t->argv[1] : "", r);
		assert_one_line(err);
		if (strncmp(err, t->want[0], strlen(t->want[0])) != 0)
			fail_msg("case %zu: error '%s' does not start with '%s'", i, err, t->want[0]);
		for (size_t j = 1; j < MAX_WANT && t->want[j]; j++)
			assert_contains(err, t->want[j]);
	}
}

/* Parses, but config_check refuses it. */
static const struct invalid_case check_cases[] = {
	{ { "--memory", "size_mib=256" }, { "--kernel: path= is required" } },
	{ { "--kernel", "path=k", "--memory", "size_mib=24001" },
	  { "--memory: size_mib=24001: must be between 1 and 24000 (host memory)" } },
	{ { "--kernel", "path=k", "--memory", "size_mib=18446744073709551615" },
	  { "--memory: size_mib=18446744073709551615: must be between 1 and 24000" } },
	{ { "--kernel", "path=k", "--vcpus", "num=65" },
	  { "--vcpus: num=65: must be between 1 and 64" } },
	{ { "--kernel", "path=k", "--vcpus", "num=4294967295" },
	  { "--vcpus: num=4294967295: must be between 1 and 64" } },
	{ { "--kernel", "path=k", "--kernel", "cmdline=x" }, { "--kernel: path= is required" } },
};

static void test_check_invalid(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(check_cases); i++) {
		const struct invalid_case *t = &check_cases[i];
		struct vm_config c;
		char err[ERRLEN];
		enum config_result r;

		r = parse(&c, t->argv, err, sizeof(err));
		if (r == CONFIG_OK)
			r = config_check(&c, &test_limits, err, sizeof(err));
		if (r != CONFIG_ERROR)
			fail_msg("case %zu: result %d, want error", i, r);
		assert_one_line(err);
		if (strncmp(err, t->want[0], strlen(t->want[0])) != 0)
			fail_msg("case %zu: error '%s' does not start with '%s'", i, err, t->want[0]);
	}
}

static void test_check_direct(void **state)
{
	struct config_limits lim = { .host_mem_mib = 1024, .max_vcpus = 4 };
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	config_init(&c);
	strcpy(c.kernel_path, "k");
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_OK);
	assert_string_equal(err, "");

	/* boundaries */
	c.mem_mib = 1024;
	c.nvcpus = 4;
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_OK);
	c.mem_mib = 1025;
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "--memory: size_mib=1025: must be between 1 and 1024 (host memory)");
	c.mem_mib = 0;
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "--memory: size_mib=0: must be between 1 and 1024 (host memory)");
	c.mem_mib = 1;
	c.nvcpus = 0;
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_string_equal(err, "--vcpus: num=0: must be between 1 and 4 (KVM's limit)");
	c.nvcpus = 5;
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "--vcpus: num=5: must be between 1 and 4");
	c.nvcpus = 1;

	/* fields set by hand, not through the parser */
	strcpy(c.name, "a b");
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "--name: ");
	c.name[0] = '\0';
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "--name: ");
	memset(c.name, 'a', sizeof(c.name));
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "--name: ");
	strcpy(c.name, "vm");

	memset(c.cmdline, 'c', sizeof(c.cmdline));
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "--kernel: cmdline=: too long");
	c.cmdline[0] = '\0';
	memset(c.initrd_path, 'i', sizeof(c.initrd_path));
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "--initrd: path=: too long");
	c.initrd_path[0] = '\0';
	memset(c.kernel_path, 'k', sizeof(c.kernel_path));
	assert_int_equal(config_check(&c, &lim, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "--kernel: path=: too long");
}

static void test_help_version(void **state)
{
	static const struct {
		char *argv[MAX_ARGS];
		enum config_result want;
	} cases[] = {
		{ { "--help" }, CONFIG_HELP },
		{ { "-h" }, CONFIG_HELP },
		{ { "--version" }, CONFIG_VERSION },
		{ { "--help", "--bogus" }, CONFIG_HELP },
		{ { "--version", "--kernel" }, CONFIG_VERSION },
		{ { "--kernel", "path=k", "--help" }, CONFIG_HELP },
		{ { "--memory", "size_mib=0", "--help" }, CONFIG_ERROR },
		{ { "--version", "--help" }, CONFIG_VERSION },
		{ { "--help", "--version" }, CONFIG_HELP },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct vm_config c;
		char err[ERRLEN];

		if (parse(&c, cases[i].argv, err, sizeof(err)) != cases[i].want)
			fail_msg("case %zu: want %d", i, cases[i].want);
		if (cases[i].want != CONFIG_ERROR)
			assert_string_equal(err, "");
	}
}

static void test_long_values(void **state)
{
	static char path[PATH_MAX + 16], cmd[CONFIG_CMDLINE_MAX + 16], arg[PATH_MAX + 64];
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	/* a path of PATH_MAX - 1 bytes fits, PATH_MAX does not */
	memset(path, 'p', PATH_MAX - 1);
	path[PATH_MAX - 1] = '\0';
	snprintf(arg, sizeof(arg), "path=%s", path);
	assert_int_equal(parse(&c, (char *[]){ "--kernel", arg, NULL }, err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(strlen(c.kernel_path), PATH_MAX - 1);
	assert_int_equal(config_check(&c, &test_limits, err, sizeof(err)), CONFIG_OK);
	strcat(arg, "p");
	assert_int_equal(parse(&c, (char *[]){ "--kernel", arg, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_one_line(err);
	assert_contains(err, "--kernel: path=pppp");
	assert_contains(err, "...: too long (at most 4095 bytes)");
	assert_true(strlen(err) < 200); /* the value is abbreviated */
	assert_int_equal(parse(&c, (char *[]){ "--initrd", arg, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_contains(err, "--initrd: path=");
	assert_contains(err, "too long");
	arg[0] = 'f', arg[1] = 'i', arg[2] = 'l', arg[3] = 'e';
	assert_int_equal(parse(&c, (char *[]){ "--serial", arg, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_contains(err, "--serial: file=");
	assert_contains(err, "too long");

	/* cmdline: CONFIG_CMDLINE_MAX - 1 bytes fit */
	memset(cmd, 'c', CONFIG_CMDLINE_MAX - 1);
	cmd[CONFIG_CMDLINE_MAX - 1] = '\0';
	snprintf(arg, sizeof(arg), "path=k,cmdline=%s", cmd);
	assert_int_equal(parse(&c, (char *[]){ "--kernel", arg, NULL }, err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(strlen(c.cmdline), CONFIG_CMDLINE_MAX - 1);
	strcat(arg, "c");
	assert_int_equal(parse(&c, (char *[]){ "--kernel", arg, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_contains(err, "--kernel: cmdline=ccc");
	assert_contains(err, "too long (at most 4095 bytes)");
	/* quoted, too */
	snprintf(arg, sizeof(arg), "path=k,cmdline=\"%sc\"", cmd);
	assert_int_equal(parse(&c, (char *[]){ "--kernel", arg, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_contains(err, "too long");
}

static void test_err_buffer(void **state)
{
	struct vm_config c;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(parse(&c, (char *[]){ "--bogus-option-with-a-long-name", NULL }, err,
			       sizeof(err)),
			 CONFIG_ERROR);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_memory_equal(err, "--bogus", 7);
	/* no buffer at all */
	assert_int_equal(parse(&c, (char *[]){ "--bogus", NULL }, NULL, 0), CONFIG_ERROR);
	assert_int_equal(parse(&c, (char *[]){ "--kernel", "path=k", NULL }, NULL, 0), CONFIG_OK);
	config_init(&c);
	assert_int_equal(config_check(&c, &test_limits, NULL, 0), CONFIG_ERROR);
	/* control characters in values never reach the message */
	char big[ERRLEN];

	assert_int_equal(parse(&c, (char *[]){ "--vcpus", "num=1\n2\r\x1b[31m", NULL }, big,
			       sizeof(big)),
			 CONFIG_ERROR);
	assert_one_line(big);
	assert_contains(big, "--vcpus: num=1?2??[31m: not a number");
}

static void test_usage(void **state)
{
	static const char *const want[] = {
		"--kernel",  "path=",	"cmdline=",   "--initrd",  "--memory", "size_mib=",
		"--vcpus",   "num=",	"--serial",   "stdio",	   "none",     "file=",
		"--name",    "--config", "--verbose", "-v",	   "--help",   "-h",
		"--version", "default: 256", "default: 1", "default: stdio", "default: vm",
		"0xf4",	     "2v+1",	"128+N",  "--debug-exit", "snapshot=on|off",
	};
	char *u = NULL;
	size_t ulen = 0;
	FILE *f = open_memstream(&u, &ulen);

	(void)state;
	assert_non_null(f);
	config_usage(f);
	fclose(f);
	assert_non_null(u);
	for (size_t i = 0; i < nitems(want); i++)
		assert_contains(u, want[i]);
	for (const char *s = u; *s; s++)
		assert_true(*s == '\n' || ((unsigned char)*s >= 0x20 && *s != 0x7f));
	/* an 80-column terminal */
	for (const char *s = u, *nl; *s; s = nl + 1) {
		nl = strchr(s, '\n');
		assert_non_null(nl);
		assert_true(nl - s <= 80);
	}
	free(u);
}

/* Device options: rows of the device-kind table, parsed and checked by their kinds. */
static void test_devices(void **state)
{
	static const struct {
		char *argv[MAX_ARGS];
		const char *option;
		unsigned int index;
		const char *want; /* its options as text */
	} ok[] = {
		{ { "--disk", "path=a.img" }, "disk", 0, "path=a.img,readonly=off,direct=off,snapshot=off" },
		{ { "--disk", "path=a,b.img,readonly=on,serial=s1" }, "disk", 0,
		  "path=\"a,b.img\",readonly=on,serial=s1,direct=off,snapshot=off" },
		{ { "--disk", "path=a", "--disk", "path=b,direct=on" }, "disk", 1,
		  "path=b,readonly=off,direct=on,snapshot=off" },
		{ { "--disk", "path=a,snapshot=on" }, "disk", 0,
		  "path=a,readonly=off,direct=off,snapshot=on" },
		{ { "--net", "tap=tap0" }, "net", 0, "tap=tap0" },
		{ { "--net", "fd=7,mac=52:54:00:12:34:56" }, "net", 0,
		  "fd=7,mac=52:54:00:12:34:56" },
		{ { "--net", "tap=a", "--disk", "path=x", "--net", "tap=b" }, "net", 1, "tap=b" },
		{ { "--fs", "path=/srv/share,tag=share" }, "fs", 0, "path=/srv/share,tag=share,readonly=off" },
		{ { "--fs", "path=/,tag=root,readonly=on" }, "fs", 0, "path=/,tag=root,readonly=on" },
		{ { "--fs", "path=a,b,tag=x", "--fs", "tag=y,path=c" }, "fs", 1, "path=c,tag=y,readonly=off" },
		/* an option with no value: at the end, or before another option */
		/* no rate: none printed (rate=0 would not parse back; found by fuzz_config) */
		{ { "--rng" }, "rng", 0, "" },
		{ { "--rng", "--disk", "path=a" }, "rng", 0, "" },
		{ { "--rng", "rate=4096" }, "rng", 0, "rate=4096" },
		{ { "--rng=rate=0x10" }, "rng", 0, "rate=16" },
		{ { "--rng", "rate=5", "--rng" }, "rng", 0, "" }, /* one instance, replaced */
		{ { "--vsock", "cid=3,uds=/run/v.sock" }, "vsock", 0, "cid=3,uds=/run/v.sock" },
		{ { "--vsock", "uds=/a,b/v.sock,cid=4294967294" }, "vsock", 0,
		  "cid=4294967294,uds=\"/a,b/v.sock\"" },
		{ { "--vsock", "cid=3,uds=/a", "--vsock", "cid=4,uds=/b" }, "vsock", 0, "cid=4,uds=/b" },
	};
	static const struct invalid_case bad[] = {
		{ { "--disk", "readonly=on" }, { "--disk: path= is required" } },
		{ { "--disk", "speed=1,path=a" }, { "--disk: unknown key 'speed' (known: path, readonly, serial, direct, snapshot)" } },
		{ { "--disk", "path=a,serial=123456789012345678901" }, { "--disk: serial=", "too long" } },
		{ { "--disk", "path=a,serial=\"a\tb\"" }, { "--disk: serial=: only printable ASCII" } },
		{ { "--disk", "path=a,snapshot=yes" }, { "--disk: snapshot=yes: must be on or off" } },
		{ { "--net", "mac=52:54:00:12:34:56" }, { "--net: give exactly one of tap=NAME and fd=N" } },
		{ { "--net", "tap=a,fd=3" }, { "--net: give exactly one of tap=NAME and fd=N" } },
		{ { "--net", "tap=a/b" }, { "--net: tap=a/b: not an interface name" } },
		{ { "--net", "fd=2" }, { "--net: fd=2: must be an open fd number from 3 to 1023" } },
		{ { "--net", "tap=a,mac=01:00:00:00:00:01" }, { "--net: mac=01:00:00:00:00:01: a multicast address" } },
		{ { "--net", "tap=a,mac=00:00:00:00:00:00" }, { "--net: mac=00:00:00:00:00:00: the all-zero address" } },
		{ { "--net", "tap=a,mac=52:54:00:12:34" }, { "--net: mac=52:54:00:12:34: not a MAC address" } },
		{ { "--fs", "path=/srv" }, { "--fs: tag= is required" } },
		{ { "--fs", "tag=t" }, { "--fs: path= is required" } },
		{ { "--fs", "path=/srv,tag=" }, { "--fs: tag=" } },
		{ { "--fs", "path=/srv,tag=a b" }, { "--fs: tag=: only printable ASCII without blanks" } },
		{ { "--fs", "path=/srv,tag=0123456789012345678901234567890123" }, { "--fs: tag=", "too long" } },
		{ { "--fs", "path=/srv,tag=t,readonly=yes" }, { "--fs: readonly=" } },
		{ { "--fs", "path=/srv,tag=t,cache=none" }, { "--fs: unknown key 'cache' (known: path, tag, readonly)" } },
		/* a kind's own message is one printable line too (found by fuzz_config) */
		{ { "--net", "tap=a,mac=\n\x01" }, { "--net: mac=??: not a MAC address" } },
		{ { "--rng", "rate=0" }, { "--rng: rate=0: must be at least 1" } },
		{ { "--rng", "rate=" }, { "--rng: rate=: must not be empty" } },
		{ { "--rng=" }, { "--rng: empty value" } },
		{ { "--rng", "fast" }, { "--rng: 'fast': expected key=value (keys: rate)" } },
		{ { "--rng", "rate=1099511627777" },
		  { "--rng: rate=1099511627777: at most 1099511627776 bytes per second" } },
		{ { "--vsock" }, { "--vsock: missing value" } },
		{ { "--vsock", "cid=3" }, { "--vsock: uds= is required" } },
		{ { "--vsock", "uds=/v" }, { "--vsock: cid= is required" } },
		{ { "--vsock", "cid=2,uds=/v" }, { "--vsock: cid=2: must be from 3 to 4294967294" } },
		{ { "--vsock", "cid=4294967295,uds=/v" }, { "--vsock: cid=4294967295: must be from 3" } },
		{ { "--vsock", "cid=3,uds=/0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456" },
		  { "--vsock: uds=", "too long", "at most 96 bytes" } },
	};
	char *many[2 * LAYOUT_MAX_DEVICES + 4] = { "bulkhead" };
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < nitems(ok); i++) {
		if (parse(&c, ok[i].argv, err, sizeof(err)) != CONFIG_OK ||
		    config_check(&c, &test_limits, err, sizeof(err)) != CONFIG_ERROR)
			fail_msg("case %zu: %s", i, err); /* no kernel: only that is wrong */
		assert_string_equal(err, "--kernel: path= is required");
		assert_string_equal(dev_describe(&c, ok[i].option, ok[i].index), ok[i].want);
	}
	for (size_t i = 0; i < nitems(bad); i++) {
		char *argv[MAX_ARGS + 2] = { "--kernel", "path=k" };

		memcpy(&argv[2], bad[i].argv, sizeof(bad[i].argv));
		if (parse(&c, argv, err, sizeof(err)) == CONFIG_OK &&
		    config_check(&c, &test_limits, err, sizeof(err)) == CONFIG_OK)
			fail_msg("bad case %zu accepted", i);
		assert_one_line(err);
		for (size_t w = 0; w < MAX_WANT && bad[i].want[w]; w++)
			if (!strstr(err, bad[i].want[w]))
				fail_msg("bad case %zu: '%s' lacks '%s'", i, err, bad[i].want[w]);
	}
	/* one cap on devices in all: COM1 and the rest */
	for (int i = 0; i < LAYOUT_MAX_DEVICES - 1; i++) {
		many[1 + 2 * i] = "--disk";
		many[2 + 2 * i] = "path=x";
	}
	config_init(&c);
	assert_int_equal(config_parse_args(&c, 2 * LAYOUT_MAX_DEVICES - 1, many, err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(c.ndevs, LAYOUT_MAX_DEVICES);
	many[2 * LAYOUT_MAX_DEVICES - 1] = "--net";
	many[2 * LAYOUT_MAX_DEVICES] = "tap=a";
	config_init(&c);
	assert_int_equal(config_parse_args(&c, 2 * LAYOUT_MAX_DEVICES + 1, many, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_string_equal(err, "--net: at most 20 devices in all");
}

/* A kind whose option may come alone has no key that must be given. */
static void test_bare_kinds(void **state)
{
	(void)state;
	for (size_t i = 0; i < kinds_count; i++) {
		for (size_t k = 0; kinds_table[i]->bare && k < kinds_table[i]->nkeys; k++)
			assert_false(kinds_table[i]->keys[k].flags & KEY_REQUIRED);
	}
	assert_non_null(kinds_find("rng", 3));
	assert_true(kinds_find("rng", 3)->bare);
}

/* A kind whose process starts at its first client can go without it, can be started after
 * the lockdown (the spawner's restart path), has no window, and names one of its fd fields. */
static void test_listen_kinds(void **state)
{
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < kinds_count; i++) {
		const struct dev_kind *k = kinds_table[i];
		int named = 0;

		if (!k->listen_fd)
			continue;
		n++;
		assert_true(k->expendable && k->restartable);
		assert_null(k->transport);
		for (size_t f = 0; f < k->nfds; f++)
			named += !strcmp(k->fds[f].name, k->listen_fd);
		assert_int_equal(named, 1);
	}
	assert_int_equal(n, 1);
	assert_non_null(kinds_find("api-socket", 10)->listen_fd);
}

/* The man page's device options come from the same rows as --help. */
static void test_man_devices(void **state)
{
	char *m = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&m, &len);

	(void)state;
	assert_non_null(f);
	config_man_devices(f);
	fclose(f);
	for (size_t i = 0; i < kinds_count; i++) {
		char want[64];

		snprintf(want, sizeof(want), ".BI \\-\\-%s \"", kinds_table[i]->option);
		assert_contains(m, want);
	}
	assert_contains(m, "path=FILE[,readonly=on|off]");
	assert_null(strstr(m, "\n.\n")); /* no stray roff request */
	free(m);
}

/* Config files. */

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bh-test-config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Write len bytes of text to tmpdir/name; path receives the full path. */
static void write_file(const char *name, const void *text, size_t len, char *path,
		       size_t pathlen)
{
	FILE *f;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

#define WRITE(name, text, path) write_file(name, text, strlen(text), path, sizeof(path))

static void test_config_file_valid(void **state)
{
	static const char text[] =
		"# a comment\n"
		"\n"
		"   \t\n"
		"kernel path=vmlinuz,cmdline=\"console=ttyS0 reboot=k panic=-1\"\n"
		"  --initrd path=initrd.img  \n"
		"memory=size_mib=512\n"
		"--vcpus=num=3\n"
		"\t# indented comment\n"
		"serial file=/var/log/vm console.log\r\n"
		"name = web1\n"
		"verbose\n"
		"-v\n"
		"rng\n"
		"--verbose";
	char path[256], arg[300];
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	WRITE("valid.cfg", text, path);
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_OK);
	assert_string_equal(c.kernel_path, "vmlinuz");
	assert_string_equal(c.cmdline, "console=ttyS0 reboot=k panic=-1");
	assert_string_equal(c.initrd_path, "initrd.img");
	assert_int_equal(c.mem_mib, 512);
	assert_int_equal(c.nvcpus, 3);
	assert_string_equal(dev_describe(&c, "serial", 0), "file=/var/log/vm console.log");
	assert_string_equal(c.name, "web1");
	assert_int_equal(c.verbose, 3);
	assert_string_equal(dev_describe(&c, "rng", 0), "");
	assert_int_equal(config_check(&c, &test_limits, err, sizeof(err)), CONFIG_OK);

	/* --config=FILE; argv after the file overrides it */
	snprintf(arg, sizeof(arg), "--config=%s", path);
	assert_int_equal(parse(&c, (char *[]){ arg, "--memory", "size_mib=64", "--kernel",
					       "path=other", NULL },
			       err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(c.mem_mib, 64);
	assert_string_equal(c.kernel_path, "other");
	assert_string_equal(c.cmdline, "");
	assert_int_equal(c.nvcpus, 3);
	/* the file after argv overrides argv */
	assert_int_equal(parse(&c, (char *[]){ "--memory", "size_mib=64", "--name", "x",
					       "--config", path, NULL },
			       err, sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(c.mem_mib, 512);
	assert_string_equal(c.name, "web1");
	/* the same file twice (not nested) is fine */
	assert_int_equal(parse(&c, (char *[]){ "--config", path, "--config", path, NULL }, err,
			       sizeof(err)),
			 CONFIG_OK);
	assert_int_equal(c.verbose, 6);

	/* empty file, comments only */
	WRITE("empty.cfg", "", path);
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_OK);
	WRITE("comments.cfg", "#\n# x\n\n\n", path);
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_OK);
	/* help and version in a file act at once */
	WRITE("help.cfg", "kernel path=k\nhelp\nbogus\n", path);
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_HELP);
	WRITE("version.cfg", "--version\n", path);
	assert_int_equal(parse(&c, (char *[]){ "--config", path, "--help", NULL }, err,
			       sizeof(err)),
			 CONFIG_VERSION);
}

struct file_case {
	const char *text;
	const char *want[MAX_WANT]; /* substrings after "--config: PATH" */
};

static const struct file_case file_cases[] = {
	{ "kernel path=k\n\n# c\nmemory size_mib=0\n", { ":4: --memory: size_mib=0: must be at least 1" } },
	{ "bogus=1\n", { ":1: --bogus: unknown option (see --help)" } },
	{ "--bogus\n", { ":1: --bogus: unknown option" } },
	{ "-x\n", { ":1: -x: unknown option" } },
	{ "kernel\n", { ":1: --kernel: missing value" } },
	{ "vsock\n", { ":1: --vsock: missing value" } },
	{ "rng rate=0\n", { ":1: --rng: rate=0: must be at least 1" } },
	{ "kernel =  \n", { ":1: --kernel: empty value" } },
	{ "verbose=1\n", { ":1: --verbose: takes no value" } },
	{ "verbose yes\n", { ":1: --verbose: takes no value" } },
	{ "memory size_mib=1,foo=1\n", { ":1: --memory: unknown key 'foo' (known: size_mib, hugepages)" } },
	{ "kernel foo=1\n", { ":1: --kernel: unknown key 'foo' (known: path, cmdline)" } },
	{ "vcpus num=abc\n", { ":1: --vcpus: num=abc: not a number" } },
	{ "kernel path=k,cmdline=\"a\n", { ":1: --kernel: cmdline=\"a: unterminated quote" } },
	{ "name bad name\n", { ":1: --name: 'bad name': must be" } },
	{ "\n\nconfig other.cfg\n", { ":3: --config: nested --config is not allowed" } },
	{ "--config=x\n", { ":1: --config: nested --config" } },
	{ "kernel path=k\nvcpus num=2\n  serial  tty  \n", { ":3: --serial: 'tty': expected" } },
};

static void test_config_file_invalid(void **state)
{
	char path[256], want[512];
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < nitems(file_cases); i++) {
		const struct file_case *t = &file_cases[i];

		WRITE("bad.cfg", t->text, path);
		if (parse(&c, (char *[]){ "--kernel", "path=k", "--config", path, NULL }, err,
			  sizeof(err)) != CONFIG_ERROR)
			fail_msg("case %zu: want an error", i);
		assert_one_line(err);
		snprintf(want, sizeof(want), "--config: %s%s", path, t->want[0]);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %zu: error '%s' does not start with '%s'", i, err, want);
	}
}

static void test_config_file_limits(void **state)
{
	static char text[3 * 8192];
	char path[256], want[512];
	struct vm_config c;
	char err[ERRLEN];
	size_t n;

	(void)state;
	/* a line of exactly 8192 bytes is read, 8193 is refused naming the line */
	n = (size_t)snprintf(text, sizeof(text), "# first\nkernel path=k,cmdline=");
	memset(text + n, 'c', 8192 - strlen("kernel path=k,cmdline="));
	n += 8192 - strlen("kernel path=k,cmdline=");
	text[n++] = '\n';
	text[n] = '\0';
	write_file("long.cfg", text, n, path, sizeof(path));
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	/* read whole, then refused by the cmdline limit (4095 bytes), on line 2 */
	snprintf(want, sizeof(want), "--config: %s:2: --kernel: cmdline=ccc", path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);

	text[n - 1] = 'c';
	text[n++] = '\n';
	text[n] = '\0';
	write_file("long.cfg", text, n, path, sizeof(path));
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	snprintf(want, sizeof(want), "--config: %s:2: line longer than 8192 bytes", path);
	assert_string_equal(err, want);

	/* the same without a final newline */
	write_file("long.cfg", text, n - 1, path, sizeof(path));
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_string_equal(err, want);

	/* a long comment line is still a long line */
	memset(text, '#', 9000);
	text[9000] = '\n';
	write_file("long.cfg", text, 9001, path, sizeof(path));
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_contains(err, ":1: line longer than 8192 bytes");

	/* an endless file without newlines is cut off, not read forever */
	assert_int_equal(parse(&c, (char *[]){ "--config", "/dev/zero", NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_string_equal(err, "--config: /dev/zero:1: line longer than 8192 bytes");

	/* a NUL byte */
	write_file("nul.cfg", "kernel path=k\nname a\0b\n", 23, path, sizeof(path));
	assert_int_equal(parse(&c, (char *[]){ "--config", path, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	snprintf(want, sizeof(want), "--config: %s:2: NUL byte in line", path);
	assert_string_equal(err, want);

	/* a directory */
	assert_int_equal(parse(&c, (char *[]){ "--config", tmpdir, NULL }, err, sizeof(err)),
			 CONFIG_ERROR);
	assert_one_line(err);
	snprintf(want, sizeof(want), "--config: %s: ", tmpdir);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);

	/* missing file, from inside argv */
	snprintf(path, sizeof(path), "%s/missing.cfg", tmpdir);
	assert_int_equal(parse(&c, (char *[]){ "--kernel", "path=k", "--config", path, NULL },
			       err, sizeof(err)),
			 CONFIG_ERROR);
	snprintf(want, sizeof(want), "--config: %s: No such file or directory", path);
	assert_string_equal(err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_acpi_option),
		cmocka_unit_test(test_on_off_options),
		cmocka_unit_test(test_irqchip_and_pit),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_check_invalid),
		cmocka_unit_test(test_check_direct),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_long_values),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_man_devices),
		cmocka_unit_test(test_listen_kinds),
		cmocka_unit_test(test_bare_kinds),
		cmocka_unit_test(test_config_file_valid),
		cmocka_unit_test(test_config_file_invalid),
		cmocka_unit_test(test_config_file_limits),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
