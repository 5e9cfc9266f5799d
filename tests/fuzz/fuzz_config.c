/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_config: the command-line and --config parser (supervisor/config.c).
 *
 * Input: u8 flags, u32 host memory MiB, u16 KVM vCPU limit, then the
 * argument text: NUL-separated words form argv[1..] (at most 64). If flag
 * bit 0 is set, the text is split at the first "\n\n\n": what follows is
 * written to a memfd and becomes a --config file, reachable as
 * /proc/self/fd/N; the word "@CONFIG" in argv is replaced by that path.
 * So that no input makes the parser read a real file (or block on a
 * terminal), every --config value is replaced by that path (or by a path
 * that does not exist when there is no file).
 *
 * Checked: config_parse_args and config_check return one of their
 * documented results; on CONFIG_ERROR the message is one printable line
 * inside the buffer, and non-empty; on CONFIG_OK every string field is
 * terminated, every checked value lies in its documented range, every
 * device belongs to a kind of the table within its kind's and the total
 * cap, and a checked device's options, printed, parse back the same.
 */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fz.h"
#include "kinds/kinds.h"
#include "supervisor/config.h"

#define MAX_ARGS 64
#define NO_FILE "/nonexistent/bulkhead-fuzz-config"

static struct vm_config cfg;
static int cfg_fd = -1;
static char cfg_path[64];

static int terminated(const char *s, size_t n)
{
	return strnlen(s, n) < n;
}

static void check_err(const char *err, size_t len, const char *what)
{
	size_t n = strnlen(err, len);

	FZ_CHECK(n < len, "%s: error message not terminated", what);
	FZ_CHECK(n > 0, "%s: CONFIG_ERROR with an empty message", what);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
			 "%s: control byte 0x%02x in the message \"%s\"", what, (unsigned char)err[i], err);
}

static int kind_known(const struct dev_kind *k)
{
	for (size_t i = 0; i < kinds_count; i++) {
		if (kinds_table[i] == k)
			return 1;
	}
	return 0;
}

static void check_devices(const struct vm_config *c)
{
	FZ_CHECK(c->ndevs <= LAYOUT_MAX_DEVICES, "%u devices", c->ndevs);
	for (size_t k = 0; k < kinds_count; k++) {
		unsigned int n = config_dev_count(c, kinds_table[k]);

		FZ_CHECK(n <= kinds_table[k]->max, "%u --%s", n, kinds_table[k]->option);
		FZ_CHECK(!kinds_table[k]->always || n == 1, "%u --%s", n, kinds_table[k]->option);
	}
	for (unsigned int i = 0; i < c->ndevs && i < LAYOUT_MAX_DEVICES; i++) {
		const struct dev_kind *k = c->devs[i].kind;

		FZ_CHECK(kind_known(k), "device %u: not a kind of the table", i);
		for (size_t j = 0; j < k->nkeys; j++) {
			const struct key_def *key = &k->keys[j];

			if (key->kind == KEY_STRING)
				FZ_CHECK(terminated((const char *)c->devs[i].opts + key->off, key->size),
					 "--%s %s=: unterminated", k->option, key->name);
		}
	}
}

/* A device's options, printed, parse back into the same options. */
static void check_round_trip(const struct dev_config *d)
{
	static char text[CONFIG_DEV_OPTS_MAX + 64], again[CONFIG_DEV_OPTS_MAX + 64];
	static struct vm_config c2;
	char opt[64], err[256];
	char *argv[4] = { "bulkhead", opt, text, NULL };

	for (size_t j = 0; j < d->kind->nkeys; j++) {
		const struct key_def *key = &d->kind->keys[j];

		if (key->kind == KEY_STRING && strchr((const char *)d->opts + key->off, '"'))
			return; /* a value with quotes of its own is not printed to be parsed */
	}
	config_dev_describe(d, text, sizeof(text));
	if (!text[0])
		return;
	snprintf(opt, sizeof(opt), "--%s", d->kind->option);
	config_init(&c2);
	FZ_CHECK(config_parse_args(&c2, 3, argv, err, sizeof(err)) == CONFIG_OK,
		 "--%s %s does not parse back: %s", d->kind->option, text, err);
	for (unsigned int i = c2.ndevs; i-- > 0;) {
		if (c2.devs[i].kind == d->kind) {
			config_dev_describe(&c2.devs[i], again, sizeof(again));
			FZ_CHECK(strcmp(text, again) == 0, "--%s %s parses back as %s", d->kind->option, text,
				 again);
			return;
		}
	}
	fz_fail("--%s %s: no device after parsing it back", d->kind->option, text);
}

static void check_parsed(const struct vm_config *c)
{
	FZ_CHECK(terminated(c->kernel_path, sizeof(c->kernel_path)) && terminated(c->cmdline, sizeof(c->cmdline)) &&
			 terminated(c->initrd_path, sizeof(c->initrd_path)) &&
			 terminated(c->policy_dir, sizeof(c->policy_dir)) && terminated(c->name, sizeof(c->name)),
		 "an unterminated string field");
	FZ_CHECK(c->jail_mode >= 0 && c->jail_mode <= 2 && c->seccomp_mode >= 0 && c->seccomp_mode <= 2 &&
			 (c->acpi == 0 || c->acpi == 1) && c->verbose >= 0,
		 "jail %d seccomp %d acpi %d verbose %d", c->jail_mode, c->seccomp_mode, c->acpi, c->verbose);
	check_devices(c);
}

static void check_checked(const struct vm_config *c, const struct config_limits *lim)
{
	FZ_CHECK(c->kernel_path[0], "config_check passed without a kernel");
	FZ_CHECK(c->mem_mib >= 1 && c->mem_mib <= lim->host_mem_mib, "mem_mib %llu", (unsigned long long)c->mem_mib);
	FZ_CHECK(c->nvcpus >= 1 && c->nvcpus <= lim->max_vcpus, "nvcpus %u", c->nvcpus);
	for (unsigned int i = 0; i < c->ndevs; i++)
		check_round_trip(&c->devs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2];
	char err[256];
	struct config_limits lim;
	enum config_result r;
	const uint8_t *text;
	size_t tlen, alen;
	char *args, *file_arg;
	int argc = 1, has_file;
	struct fz in;

	if (cfg_fd < 0) {
		cfg_fd = memfd_create("fuzz-config", MFD_CLOEXEC);
		if (cfg_fd < 0)
			fz_fail("memfd_create");
		snprintf(cfg_path, sizeof(cfg_path), "/proc/self/fd/%d", cfg_fd);
	}
	fz_init(&in, data, size);
	has_file = fz_u8(&in) & 1;
	lim.host_mem_mib = fz_u32(&in);
	lim.max_vcpus = fz_u16(&in);
	text = fz_rest(&in, &tlen);
	alen = tlen;
	if (has_file) {
		const uint8_t *sep = memmem(text, tlen, "\n\n\n", 3);

		alen = sep ? (size_t)(sep - text) : tlen;
		if (ftruncate(cfg_fd, 0) < 0 || pwrite(cfg_fd, sep ? sep + 3 : text + tlen,
						       sep ? tlen - alen - 3 : 0, 0) < 0)
			fz_fail("writing the config file");
	}
	file_arg = has_file ? cfg_path : (char *)NO_FILE;
	args = malloc(alen + 1);
	if (!args)
		fz_fail("malloc");
	memcpy(args, text, alen);
	args[alen] = '\0';
	argv[0] = (char *)"bulkhead";
	for (size_t i = 0; i <= alen && argc <= MAX_ARGS;) {
		char *w = args + i;
		size_t l = strlen(w);

		argv[argc++] = strcmp(w, "@CONFIG") == 0 ? file_arg : w;
		i += l + 1;
	}
	argv[argc] = NULL;
	/* Every --config value becomes our file: no input may name a real one. */
	for (int i = 1; i < argc; i++) {
		static char eq[80];

		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			argv[++i] = file_arg;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			snprintf(eq, sizeof(eq), "--config=%s", file_arg);
			argv[i] = eq;
		}
	}
	config_init(&cfg);
	memset(err, 0x7e, sizeof(err));
	r = config_parse_args(&cfg, argc, argv, err, sizeof(err));
	FZ_CHECK(r == CONFIG_OK || r == CONFIG_HELP || r == CONFIG_VERSION || r == CONFIG_ERROR,
		 "config_parse_args returned %d", (int)r);
	check_parsed(&cfg);
	if (r == CONFIG_ERROR)
		check_err(err, sizeof(err), "config_parse_args");
	if (r == CONFIG_OK) {
		memset(err, 0x7e, sizeof(err));
		r = config_check(&cfg, &lim, err, sizeof(err));
		FZ_CHECK(r == CONFIG_OK || r == CONFIG_ERROR, "config_check returned %d", (int)r);
		if (r == CONFIG_ERROR)
			check_err(err, sizeof(err), "config_check");
		else
			check_checked(&cfg, &lim);
	}
	free(args);
	return 0;
}
