/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_fcjson: Firecracker's JSON configuration translated into bulkhead
 * options (supervisor/fcjson.c), through the real option parser
 * (supervisor/config.c).
 *
 * Input: the file's bytes, as --config would read them.
 *
 * Checked: the result is CONFIG_OK or CONFIG_ERROR; an error is one
 * printable, non-empty line inside the buffer naming --config; an accepted
 * file gave a kernel (boot-source is required), terminated strings, and
 * devices of the table's kinds within their kind's and the total cap, the
 * disks and NICs with their path and TAP.
 */
#include <stdint.h>
#include <string.h>

#include "fz.h"
#include "kinds/kinds.h"
#include "supervisor/config.h"

static struct vm_config cfg;

static int terminated(const char *s, size_t n)
{
	return strnlen(s, n) < n;
}

/* Every device of a kind of the table, within the caps, its strings terminated; Firecracker's
 * drives and NICs always name their file and TAP. */
static void check_devices(const struct vm_config *c)
{
	FZ_CHECK(c->ndevs <= LAYOUT_MAX_DEVICES, "%u devices", c->ndevs);
	for (unsigned int i = 0; i < c->ndevs; i++) {
		const struct dev_kind *k = c->devs[i].kind;
		const char *must = NULL;
		size_t t;

		for (t = 0; t < kinds_count && kinds_table[t] != k; t++)
			;
		FZ_CHECK(t < kinds_count, "device %u: not a kind of the table", i);
		FZ_CHECK(config_dev_count(c, k) <= k->max, "%u --%s", config_dev_count(c, k), k->option);
		for (size_t j = 0; j < k->nkeys; j++) {
			if (k->keys[j].kind == KEY_STRING)
				FZ_CHECK(terminated((const char *)c->devs[i].opts + k->keys[j].off, k->keys[j].size),
					 "--%s %s=: unterminated", k->option, k->keys[j].name);
		}
		if (strcmp(k->option, "disk") == 0)
			must = config_dev_str(&c->devs[i], "path");
		else if (strcmp(k->option, "net") == 0)
			must = config_dev_str(&c->devs[i], "tap");
		else
			continue;
		FZ_CHECK(must && must[0], "--%s %u: no path or TAP", k->option, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	enum config_result r;
	size_t n;

	config_init(&cfg);
	memset(err, 0x7e, sizeof(err));
	r = fcjson_apply_buf(&cfg, "vm.json", (const char *)data, size, err, sizeof(err));
	FZ_CHECK(r == CONFIG_OK || r == CONFIG_ERROR, "fcjson_apply_buf returned %d", (int)r);
	if (r == CONFIG_ERROR) {
		n = strnlen(err, sizeof(err));
		FZ_CHECK(n < sizeof(err) && n > 0, "error message empty or not terminated");
		FZ_CHECK(strncmp(err, "--config: vm.json", 17) == 0, "error does not name the file: %s", err);
		for (size_t i = 0; i < n; i++)
			FZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f, "control byte 0x%02x in \"%s\"",
				 (unsigned char)err[i], err);
		return 0;
	}
	FZ_CHECK(terminated(cfg.kernel_path, sizeof(cfg.kernel_path)) && cfg.kernel_path[0],
		 "accepted without a kernel");
	FZ_CHECK(terminated(cfg.cmdline, sizeof(cfg.cmdline)) && terminated(cfg.initrd_path, sizeof(cfg.initrd_path)),
		 "an unterminated string field");
	check_devices(&cfg);
	FZ_CHECK(cfg.nvcpus >= 1 && cfg.mem_mib >= 1, "nvcpus %u mem %llu", cfg.nvcpus,
		 (unsigned long long)cfg.mem_mib);
	return 0;
}
