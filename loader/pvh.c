/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PVH boot information: struct hvm_start_info (version 1) at
 * LAYOUT_PVH_INFO_ADDR, followed in the same page by the memory map and the
 * module list (the initrd is module 0).
 */
#include "loader_int.h"

#include <errno.h>

_Static_assert(PVH_MEMMAP_OFFSET >= sizeof(struct hvm_start_info), "memory map after the start info");
_Static_assert(PVH_MEMMAP_OFFSET + BOOT_MAX_RANGES * sizeof(struct hvm_memmap_table_entry) <= PVH_MODLIST_OFFSET,
	       "module list after the memory map");
_Static_assert(PVH_MODLIST_OFFSET + sizeof(struct hvm_modlist_entry) <= LOADER_PAGE, "one page");
_Static_assert(LAYOUT_PVH_INFO_ADDR + LOADER_PAGE <= LAYOUT_ZERO_PAGE_ADDR, "PVH page below the zero page");

int pvh_write_info(struct loader_ctx *c, const struct loader_result *out)
{
	struct boot_range r[BOOT_MAX_RANGES];
	unsigned int n = boot_memmap(c, r);
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = HVM_START_VERSION,
		.cmdline_paddr = out->cmdline_addr,
		.memmap_paddr = LAYOUT_PVH_INFO_ADDR + PVH_MEMMAP_OFFSET,
		.memmap_entries = n,
		.rsdp_paddr = c->a->rsdp,
	};
	uint8_t page[LOADER_PAGE];

	memset(page, 0, sizeof(page));
	for (unsigned int i = 0; i < n; i++) {
		struct hvm_memmap_table_entry e = { .addr = r[i].addr, .size = r[i].size, .type = r[i].type };

		memcpy(page + PVH_MEMMAP_OFFSET + i * sizeof(e), &e, sizeof(e));
	}
	if (out->initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = out->initrd_start, .size = out->initrd_size };

		memcpy(page + PVH_MODLIST_OFFSET, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_INFO_ADDR + PVH_MODLIST_OFFSET;
	}
	memcpy(page, &si, sizeof(si));
	if (mem_write(c->mem, LAYOUT_PVH_INFO_ADDR, page, sizeof(page)) < 0)
		return loader_fail(c, -EFAULT, "PVH start info does not fit in guest memory");
	return 0;
}
