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
 * file gave a kernel (boot-source is required), terminated strings and lists
 * within their bounds.
 */
#include <stdint.h>
#include <string.h>

#include "fz.h"
#include "supervisor/config.h"

static struct vm_config cfg;

static int terminated(const char *s, size_t n)
{
	return strnlen(s, n) < n;
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
	FZ_CHECK(cfg.ndisks <= CONFIG_MAX_DISKS && cfg.nnets <= CONFIG_MAX_NETS, "%u disks, %u nets", cfg.ndisks,
		 cfg.nnets);
	for (unsigned int i = 0; i < cfg.ndisks; i++)
		FZ_CHECK(terminated(cfg.disks[i].path, sizeof(cfg.disks[i].path)) && cfg.disks[i].path[0],
			 "disk %u: bad path", i);
	for (unsigned int i = 0; i < cfg.nnets; i++)
		FZ_CHECK(terminated(cfg.nets[i].tap, sizeof(cfg.nets[i].tap)) && cfg.nets[i].tap[0] &&
				 terminated(cfg.nets[i].mac, sizeof(cfg.nets[i].mac)),
			 "net %u: bad fields", i);
	FZ_CHECK(cfg.nvcpus >= 1 && cfg.mem_mib >= 1, "nvcpus %u mem %llu", cfg.nvcpus,
		 (unsigned long long)cfg.mem_mib);
	return 0;
}
