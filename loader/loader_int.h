/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to loader/: the load context shared by the image parsers and the
 * writers of the boot structures, the guest ABI constants they need (Linux
 * boot_params offsets, PVH start info, MP table), and little-endian helpers.
 * Guest ABI structs are built in host buffers and copied in with mem_write.
 */
#ifndef BULKHEAD_LOADER_LOADER_INT_H
#define BULKHEAD_LOADER_LOADER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loader.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "x86 guest structures are little-endian");

#define LOADER_PAGE 4096ULL
#define LOADER_MAX_KERNEL GiB(1) /* larger kernel images are refused outright */

/*
 * Linux boot_params ("zero page", Documentation/arch/x86/zero-page.rst) and the
 * setup header inside it (Documentation/arch/x86/boot.rst): byte offsets.
 */
#define BP_SIZE 4096
#define BP_ACPI_RSDP_ADDR 0x070 /* u64, boot protocol 2.14 */
#define BP_EXT_RAMDISK_IMAGE 0x0c0 /* u32 */
#define BP_EXT_RAMDISK_SIZE 0x0c4 /* u32 */
#define BP_EXT_CMD_LINE_PTR 0x0c8 /* u32 */
#define BP_E820_ENTRIES 0x1e8 /* u8 */
#define BP_SENTINEL 0x1ef /* u8, must stay 0 */
#define BP_HDR 0x1f1 /* start of struct setup_header */
#define BP_HDR_MAX_END 0x290 /* boot_params reserves up to here for the header */
#define BP_E820_TABLE 0x2d0 /* struct boot_e820_entry[128] */
#define BP_E820_MAX 128
#define BP_E820_ENTRY_SIZE 20 /* u64 addr, u64 size, u32 type, packed */

#define HDR_SETUP_SECTS 0x1f1 /* u8, 0 means 4 */
#define HDR_BOOT_FLAG 0x1fe /* u16, 0xaa55 */
#define HDR_JUMP 0x200 /* u16; its second byte + 0x202 is the end of the header */
#define HDR_HEADER 0x202 /* u32, "HdrS" */
#define HDR_VERSION 0x206 /* u16 */
#define HDR_TYPE_OF_LOADER 0x210 /* u8 */
#define HDR_LOADFLAGS 0x211 /* u8 */
#define HDR_CODE32_START 0x214 /* u32 */
#define HDR_RAMDISK_IMAGE 0x218 /* u32 */
#define HDR_RAMDISK_SIZE 0x21c /* u32 */
#define HDR_HEAP_END_PTR 0x224 /* u16 */
#define HDR_CMD_LINE_PTR 0x228 /* u32 */
#define HDR_INITRD_ADDR_MAX 0x22c /* u32, highest byte the initrd may occupy */
#define HDR_KERNEL_ALIGNMENT 0x230 /* u32 */
#define HDR_RELOCATABLE 0x234 /* u8 */
#define HDR_XLOADFLAGS 0x236 /* u16 */
#define HDR_CMDLINE_SIZE 0x238 /* u32, longest command line without the NUL */
#define HDR_SETUP_DATA 0x250 /* u64 */
#define HDR_PREF_ADDRESS 0x258 /* u64 */
#define HDR_INIT_SIZE 0x260 /* u32 */

#define BZ_BOOT_FLAG 0xaa55
#define BZ_HDRS 0x53726448 /* "HdrS" */
#define BZ_MIN_VERSION 0x0206
#define BZ_LOADER_UNDEFINED 0xff /* type_of_loader: a boot loader with no assigned id */
#define BZ_LOADED_HIGH 0x01
#define BZ_CAN_USE_HEAP 0x80
#define BZ_XLF_KERNEL_64 0x0001
#define BZ_ENTRY64_OFFSET 0x200 /* startup_64 relative to the load address */
/* heap_end_ptr as if setup ran at 0x90000 with a 64 KiB segment; nothing runs there for a 64-bit entry. */
#define BZ_HEAP_END 0xfe00

#define E820_RAM 1
#define E820_RESERVED 2

/* PVH: Xen's ELF note and start info (public/arch-x86/hvm/start_info.h, version 1). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578U
#define HVM_START_VERSION 1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes");

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* E820_RAM, E820_RESERVED */
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry is 24 bytes");

/* Where pvh.c puts things inside the page at LAYOUT_PVH_INFO_ADDR. */
#define PVH_MEMMAP_OFFSET 0x40
#define PVH_MODLIST_OFFSET 0x200

/* The guest's physical memory map, shared by e820 and the PVH memory map. */
#define BOOT_MAX_RANGES (3 + LAYOUT_MAX_MEM_REGIONS)
struct boot_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct loader_ctx {
	const struct loader_args *a;
	const struct guest_mem *mem;
	char *err;
	size_t errlen;
	uint64_t kernel_size; /* bytes in the kernel image file */
	uint64_t low_end; /* end of the RAM region at gpa 0 */
	const char *cmdline;
	size_t cmdline_len; /* without the NUL */
	uint64_t cmdline_max; /* longest command line the kernel accepts, without the NUL */
	uint64_t initrd_limit; /* the initrd must end at or below this address */
	uint8_t zp[BP_SIZE]; /* LINUX64: boot_params being built */
};

/* loader_fail: format a one-line reason into c->err and return code (a -errno). */
int loader_fail(struct loader_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* loader_pread: read exactly len bytes of fd at off into buf; -EIO if the file ends first. */
int loader_pread(int fd, void *buf, size_t len, uint64_t off) __attribute__((warn_unused_result));
/* loader_copy_in: read len bytes of fd (what: "kernel", "initrd") at off into guest memory at gpa. */
int loader_copy_in(struct loader_ctx *c, const char *what, int fd, uint64_t gpa, uint64_t len, uint64_t off)
	__attribute__((warn_unused_result));

/* bzimage_probe: head holds the first len bytes of the image; true if it carries a setup header. */
bool bzimage_probe(const uint8_t *head, size_t len);
/* bzimage_load: check the setup header, place and copy the protected-mode kernel, start c->zp. */
int bzimage_load(struct loader_ctx *c, struct loader_result *out) __attribute__((warn_unused_result));

/* kelf_probe: true if head starts with the ELF magic. */
bool kelf_probe(const uint8_t *head, size_t len);
/* kelf_load: load an ELF kernel's PT_LOAD segments; decide ELF64 or PVH from its notes. */
int kelf_load(struct loader_ctx *c, struct loader_result *out) __attribute__((warn_unused_result));

/* boot_memmap: fill r (room for BOOT_MAX_RANGES) with the guest memory map; returns the count. */
unsigned int boot_memmap(const struct loader_ctx *c, struct boot_range *r);
/* boot_write_params: finish c->zp (cmdline, initrd, e820) and write it at LAYOUT_ZERO_PAGE_ADDR. */
int boot_write_params(struct loader_ctx *c, const struct loader_result *out) __attribute__((warn_unused_result));
/* boot_write_gdt: the boot GDT for mode at LAYOUT_GDT_ADDR. */
int boot_write_gdt(struct loader_ctx *c, enum loader_entry_mode mode) __attribute__((warn_unused_result));
/* boot_write_page_tables: identity map of the first 4 GiB with 2 MiB pages at LAYOUT_PML4_ADDR. */
int boot_write_page_tables(struct loader_ctx *c) __attribute__((warn_unused_result));

/* pvh_write_info: hvm_start_info, memory map and module list at LAYOUT_PVH_INFO_ADDR. */
int pvh_write_info(struct loader_ctx *c, const struct loader_result *out) __attribute__((warn_unused_result));

/* mptable_check: validate nvcpus and the device GSIs before anything is written. */
int mptable_check(struct loader_ctx *c) __attribute__((warn_unused_result));
/* mptable_write: MP floating pointer and configuration table at LAYOUT_MPTABLE_ADDR. */
int mptable_write(struct loader_ctx *c) __attribute__((warn_unused_result));

static inline uint16_t le_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t le_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t le_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void le_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void le_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void le_put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

#endif
