/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The boot loader: reads a kernel image (bzImage, ELF vmlinux, or a PVH ELF),
 * writes it, the initrd, the command line and the boot structures into guest
 * memory, and says how the boot vCPU must start. Every field of the image is
 * hostile: lengths and offsets are checked against the file and against guest
 * memory (only through mem_ptr), and a bad image is an error, never an
 * out-of-bounds access.
 */
#ifndef BULKHEAD_LOADER_LOADER_H
#define BULKHEAD_LOADER_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "../mem/mem.h"

enum loader_kind {
	LOADER_BZIMAGE = 1, /* Linux x86 boot protocol, 64-bit entry */
	LOADER_ELF64 = 2, /* ELF vmlinux without a PVH note, 64-bit Linux entry */
	LOADER_PVH = 3, /* ELF with XEN_ELFNOTE_PHYS32_ENTRY, 32-bit PVH entry */
};

enum loader_entry_mode {
	LOADER_ENTRY_LINUX64 = 1, /* long mode, paging on (identity), rsi = zero page */
	LOADER_ENTRY_PVH32 = 2, /* protected mode, paging off, rbx = hvm_start_info */
};

/* A device window the guest must be told about (MP table interrupt routing, ACPI later). */
struct loader_device {
	uint64_t base; /* guest-physical window, LAYOUT_VIRTIO_MMIO_SIZE bytes */
	uint32_t gsi;
};

struct loader_args {
	int kernel_fd; /* open for reading */
	int initrd_fd; /* open for reading, or -1 */
	const char *cmdline; /* final command line, NUL-terminated */
	unsigned int nvcpus; /* >= 1; APIC ids 0 .. nvcpus-1 */
	const struct loader_device *devices;
	unsigned int ndevices;
	uint64_t rsdp; /* ACPI RSDP address for boot_params/hvm_start_info, or 0 */
};

struct loader_result {
	enum loader_kind kind;
	enum loader_entry_mode entry_mode;
	uint64_t entry; /* initial rip */
	uint64_t boot_info; /* zero page (LINUX64) or hvm_start_info (PVH32) */
	uint64_t cr3; /* LINUX64: LAYOUT_PML4_ADDR; PVH32: 0 */
	uint64_t stack; /* initial rsp */
	uint64_t gdt_base; /* LAYOUT_GDT_ADDR */
	uint64_t kernel_start, kernel_end; /* guest-physical range the kernel occupies */
	uint64_t initrd_start, initrd_size; /* 0 when none */
	uint64_t cmdline_addr;
};

/*
 * loader_load: load a->kernel_fd (and initrd) into mem, which must be mapped
 * and zeroed. Returns 0, or -errno with a one-line reason in err (no option
 * name: the caller adds it), e.g. "not a bzImage or ELF kernel". A reason
 * about the initrd starts with "initrd".
 */
int loader_load(const struct loader_args *a, const struct guest_mem *mem, struct loader_result *out,
		char *err, size_t errlen) __attribute__((warn_unused_result));
/* loader_kind_name: "bzImage", "ELF", "PVH". */
const char *loader_kind_name(enum loader_kind kind);

#endif
