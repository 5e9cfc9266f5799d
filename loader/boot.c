/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The boot structures every entry shares: the guest memory map, the Linux zero
 * page's loader fields, the boot GDT and the identity page tables.
 */
#include "loader_int.h"

#include <errno.h>

#define PTE_PRESENT 0x001ULL
#define PTE_WRITE 0x002ULL
#define PTE_HUGE 0x080ULL /* PS: a 2 MiB page in a PD entry */
#define PT_ENTRIES 512
#define PT_PDS 4 /* one PD per GiB: the first 4 GiB */

/* GDT descriptor from access byte + flags nibble (as 0xF0FF), base and 20-bit limit. */
#define GDT_ENTRY(flags, base, limit)                                                                     \
	((((uint64_t)(base) & 0xff000000ULL) << 32) | (((uint64_t)(flags) & 0xf0ffULL) << 40) |          \
	 (((uint64_t)(limit) & 0xf0000ULL) << 32) | (((uint64_t)(base) & 0xffffffULL) << 16) |           \
	 ((uint64_t)(limit) & 0xffffULL))
#define GDT_CODE64 GDT_ENTRY(0xa09b, 0, 0xfffff) /* G, L; present, ring 0, code exec/read, accessed */
#define GDT_CODE32 GDT_ENTRY(0xc09b, 0, 0xfffff) /* G, D */
#define GDT_DATA GDT_ENTRY(0xc093, 0, 0xfffff) /* G, B; data read/write, accessed */
/*
 * TSS type 0xb (busy) rather than 0x9 (available): the vCPU loads TR with
 * this descriptor's hidden part directly, and VMX requires a busy TSS in TR;
 * an LTR would have marked the descriptor busy the same way.
 */
#define GDT_TSS GDT_ENTRY(0x008b, 0, 0x67)

_Static_assert(LAYOUT_BOOT_TSS / 8 + 1 < LAYOUT_GDT_ENTRIES, "the TSS descriptor takes two GDT slots");
_Static_assert(GDT_CODE64 == 0x00af9b000000ffffULL, "64-bit code descriptor");
_Static_assert(GDT_CODE32 == 0x00cf9b000000ffffULL, "32-bit code descriptor");
_Static_assert(GDT_DATA == 0x00cf93000000ffffULL, "data descriptor");

unsigned int boot_memmap(const struct loader_ctx *c, struct boot_range *r)
{
	unsigned int n = 0;

	r[n++] = (struct boot_range){ 0, LAYOUT_EBDA_START, E820_RAM };
	r[n++] = (struct boot_range){ LAYOUT_EBDA_START, LAYOUT_HIMEM_START - LAYOUT_EBDA_START, E820_RESERVED };
	r[n++] = (struct boot_range){ LAYOUT_HIMEM_START, c->low_end - LAYOUT_HIMEM_START, E820_RAM };
	for (unsigned int i = 1; i < c->mem->nregions && n < BOOT_MAX_RANGES; i++)
		r[n++] = (struct boot_range){ c->mem->regions[i].gpa, c->mem->regions[i].size, E820_RAM };
	return n;
}

int boot_write_params(struct loader_ctx *c, const struct loader_result *out)
{
	struct boot_range r[BOOT_MAX_RANGES];
	unsigned int n = boot_memmap(c, r);
	uint8_t *zp = c->zp;

	_Static_assert(BOOT_MAX_RANGES <= BP_E820_MAX, "e820 table size");
	le_put32(zp + HDR_CMD_LINE_PTR, (uint32_t)out->cmdline_addr);
	le_put32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(out->cmdline_addr >> 32));
	le_put32(zp + HDR_RAMDISK_IMAGE, (uint32_t)out->initrd_start);
	le_put32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(out->initrd_start >> 32));
	le_put32(zp + HDR_RAMDISK_SIZE, (uint32_t)out->initrd_size);
	le_put32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(out->initrd_size >> 32));
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *e = zp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		le_put64(e, r[i].addr);
		le_put64(e + 8, r[i].size);
		le_put32(e + 16, r[i].type);
	}
	le_put64(zp + BP_ACPI_RSDP_ADDR, c->a->rsdp);
	zp[BP_SENTINEL] = 0; /* else the kernel assumes a loader that did not zero boot_params */
	if (mem_write(c->mem, LAYOUT_ZERO_PAGE_ADDR, zp, BP_SIZE) < 0)
		return loader_fail(c, -EFAULT, "zero page does not fit in guest memory");
	return 0;
}

int boot_write_gdt(struct loader_ctx *c, enum loader_entry_mode mode)
{
	uint64_t gdt[LAYOUT_GDT_ENTRIES] = { 0 };

	gdt[LAYOUT_BOOT_CS / 8] = mode == LOADER_ENTRY_LINUX64 ? GDT_CODE64 : GDT_CODE32;
	gdt[LAYOUT_BOOT_DS / 8] = GDT_DATA;
	gdt[LAYOUT_BOOT_TSS / 8] = GDT_TSS;
	gdt[LAYOUT_BOOT_TSS / 8 + 1] = 0; /* upper half of the 16-byte long-mode TSS descriptor: base 63:32 */
	if (mem_write(c->mem, LAYOUT_GDT_ADDR, gdt, sizeof(gdt)) < 0)
		return loader_fail(c, -EFAULT, "GDT does not fit in guest memory");
	return 0;
}

int boot_write_page_tables(struct loader_ctx *c)
{
	uint64_t page[PT_ENTRIES];

	memset(page, 0, sizeof(page));
	page[0] = LAYOUT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	if (mem_write(c->mem, LAYOUT_PML4_ADDR, page, sizeof(page)) < 0)
		goto err_fault;
	memset(page, 0, sizeof(page));
	for (unsigned int i = 0; i < PT_PDS; i++)
		page[i] = (LAYOUT_PD_ADDR + i * LOADER_PAGE) | PTE_PRESENT | PTE_WRITE;
	if (mem_write(c->mem, LAYOUT_PDPT_ADDR, page, sizeof(page)) < 0)
		goto err_fault;
	for (unsigned int pd = 0; pd < PT_PDS; pd++) {
		for (unsigned int i = 0; i < PT_ENTRIES; i++)
			page[i] = (((uint64_t)pd * PT_ENTRIES + i) << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
		if (mem_write(c->mem, LAYOUT_PD_ADDR + pd * LOADER_PAGE, page, sizeof(page)) < 0)
			goto err_fault;
	}
	return 0;

err_fault:
	return loader_fail(c, -EFAULT, "page tables do not fit in guest memory");
}
