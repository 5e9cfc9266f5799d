/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bzImage per the Linux x86 boot protocol (Documentation/arch/x86/boot.rst),
 * entered through the 64-bit entry point: only the protected-mode kernel is
 * loaded; the real-mode setup code never runs, its header goes into the zero
 * page.
 */
#include "loader_int.h"

#include <errno.h>

struct bz_header {
	uint8_t b[BP_HDR_MAX_END]; /* file bytes [0, BP_HDR_MAX_END), zero past the header's end */
	uint16_t version;
	size_t end; /* the header occupies [BP_HDR, end) */
};

bool bzimage_probe(const uint8_t *head, size_t len)
{
	return len >= HDR_HEADER + 4 && le_get32(head + HDR_HEADER) == BZ_HDRS;
}

static int bz_read_header(struct loader_ctx *c, struct bz_header *h)
{
	size_t n = c->kernel_size < sizeof(h->b) ? c->kernel_size : sizeof(h->b);
	uint16_t flag;

	memset(h->b, 0, sizeof(h->b));
	if (n < HDR_VERSION + 2 || loader_pread(c->a->kernel_fd, h->b, n, 0) < 0)
		return loader_fail(c, -EINVAL, "bzImage setup header is truncated");
	flag = le_get16(h->b + HDR_BOOT_FLAG);
	if (flag != BZ_BOOT_FLAG)
		return loader_fail(c, -EINVAL, "bzImage boot_flag is 0x%04x, not 0x%04x", flag, BZ_BOOT_FLAG);
	h->version = le_get16(h->b + HDR_VERSION);
	if (h->version < BZ_MIN_VERSION)
		return loader_fail(c, -EINVAL, "bzImage boot protocol %u.%02u is older than 2.06", h->version >> 8,
				   h->version & 0xff);
	/* The jump instruction at 0x200 skips the header: its 8-bit offset says where the header ends. */
	h->end = HDR_HEADER + h->b[HDR_JUMP + 1];
	if (h->end > sizeof(h->b))
		h->end = sizeof(h->b);
	if (h->end > n)
		return loader_fail(c, -EINVAL, "bzImage setup header is truncated");
	if (h->end < HDR_CMDLINE_SIZE + 4)
		return loader_fail(c, -EINVAL, "bzImage setup header ends at 0x%zx, too short for protocol 2.06",
				   h->end);
	/* Fields the header does not reach read as zero, whatever bytes follow it in the file. */
	memset(h->b + h->end, 0, sizeof(h->b) - h->end);
	return 0;
}

static int bz_check_header(struct loader_ctx *c, const struct bz_header *h)
{
	if (h->version >= 0x020c && !(le_get16(h->b + HDR_XLOADFLAGS) & BZ_XLF_KERNEL_64))
		return loader_fail(c, -EINVAL, "bzImage has no 64-bit entry point (XLF_KERNEL_64 is clear)");
	if (!(h->b[HDR_LOADFLAGS] & BZ_LOADED_HIGH))
		return loader_fail(c, -EINVAL, "bzImage is not loaded high (a zImage), unsupported");
	return 0;
}

static bool bz_fits(const struct loader_ctx *c, uint64_t addr, uint64_t len)
{
	return addr >= LAYOUT_HIMEM_START && len <= c->low_end && addr <= c->low_end - len;
}

/*
 * The range [load, *end) the kernel uses until it has parsed the e820 map.
 * Linux's decompressor (arch/x86/boot/compressed/head_64.S, startup_64) runs
 * at the load address rounded up to kernel_alignment, but never below
 * LOAD_PHYSICAL_ADDR, which the header reports as pref_address; it needs
 * init_size bytes from there. A relocatable kernel loaded below pref_address
 * therefore still needs RAM up to pref_address + init_size.
 */
static int bz_footprint(const struct bz_header *h, uint64_t load, uint64_t pm_size, uint64_t align,
			uint64_t *end)
{
	uint64_t init_size = h->version >= 0x020a ? le_get32(h->b + HDR_INIT_SIZE) : 0;
	uint64_t pref = h->version >= 0x020a ? le_get64(h->b + HDR_PREF_ADDRESS) : 0;
	uint64_t run = load, a_end, b_end;

	*end = UINT64_MAX;
	if (align > 1 && __builtin_add_overflow(load, align - 1, &run))
		return -EINVAL;
	run &= ~(align - 1);
	if (pref > run)
		run = pref;
	if (__builtin_add_overflow(load, pm_size, &a_end) || __builtin_add_overflow(run, init_size, &b_end))
		return -EINVAL;
	*end = a_end > b_end ? a_end : b_end;
	return 0;
}

/* Choose the load address and the end of the kernel's footprint. */
static int bz_place(struct loader_ctx *c, const struct bz_header *h, uint64_t pm_size, uint64_t *load,
		    uint64_t *end)
{
	bool reloc = h->b[HDR_RELOCATABLE] != 0;
	uint64_t align = 1, pref, addr;

	if (reloc) {
		align = le_get32(h->b + HDR_KERNEL_ALIGNMENT);
		if (align == 0 || (align & (align - 1)) || align > GiB(1))
			return loader_fail(c, -EINVAL, "bzImage kernel_alignment 0x%llx is not a power of two up to 1 GiB",
					   (unsigned long long)align);
		pref = h->version >= 0x020a ? le_get64(h->b + HDR_PREF_ADDRESS) : 0;
		addr = (LAYOUT_HIMEM_START + align - 1) & ~(align - 1);
		if (pref >= LAYOUT_HIMEM_START && (pref & (align - 1)) == 0 &&
		    bz_footprint(h, pref, pm_size, align, end) == 0 && bz_fits(c, pref, *end - pref))
			addr = pref;
	} else {
		addr = le_get32(h->b + HDR_CODE32_START);
		if (addr == 0)
			addr = LAYOUT_HIMEM_START;
		if (addr < LAYOUT_HIMEM_START)
			return loader_fail(c, -EINVAL, "bzImage code32_start 0x%llx is below 1 MiB",
					   (unsigned long long)addr);
	}
	if (bz_footprint(h, addr, pm_size, align, end) < 0 || !bz_fits(c, addr, *end - addr))
		return loader_fail(c, -ENOSPC, "bzImage at 0x%llx needs RAM up to 0x%llx, guest low RAM ends at 0x%llx",
				   (unsigned long long)addr, (unsigned long long)*end, (unsigned long long)c->low_end);
	*load = addr;
	return 0;
}

/* The zero page starts as the image's setup header; the loader's own fields follow. */
static void bz_start_params(struct loader_ctx *c, const struct bz_header *h, uint64_t load)
{
	uint8_t *zp = c->zp;

	memset(zp, 0, sizeof(c->zp));
	memcpy(zp + BP_HDR, h->b + BP_HDR, h->end - BP_HDR);
	zp[HDR_TYPE_OF_LOADER] = BZ_LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] |= BZ_CAN_USE_HEAP;
	le_put16(zp + HDR_HEAP_END_PTR, BZ_HEAP_END);
	le_put32(zp + HDR_CODE32_START, (uint32_t)load);
	le_put64(zp + HDR_SETUP_DATA, 0); /* we pass no setup_data; never follow the image's */
}

int bzimage_load(struct loader_ctx *c, struct loader_result *out)
{
	struct bz_header h;
	uint64_t setup_sects, pm_off, pm_size, load = 0, end = 0, cmdline_size;
	int rc;

	rc = bz_read_header(c, &h);
	if (rc == 0)
		rc = bz_check_header(c, &h);
	if (rc < 0)
		return rc;
	setup_sects = h.b[HDR_SETUP_SECTS] ? h.b[HDR_SETUP_SECTS] : 4;
	pm_off = (setup_sects + 1) * 512;
	if (pm_off >= c->kernel_size)
		return loader_fail(c, -EINVAL, "bzImage setup_sects %llu points past the end of the file",
				   (unsigned long long)setup_sects);
	pm_size = c->kernel_size - pm_off;
	if (pm_size <= BZ_ENTRY64_OFFSET)
		return loader_fail(c, -EINVAL, "bzImage protected-mode kernel is only %llu bytes",
				   (unsigned long long)pm_size);
	rc = bz_place(c, &h, pm_size, &load, &end);
	if (rc < 0)
		return rc;
	rc = loader_copy_in(c, "kernel", c->a->kernel_fd, load, pm_size, pm_off);
	if (rc < 0)
		return rc;

	c->initrd_limit = (uint64_t)le_get32(h.b + HDR_INITRD_ADDR_MAX) + 1;
	cmdline_size = le_get32(h.b + HDR_CMDLINE_SIZE);
	if (cmdline_size < c->cmdline_max)
		c->cmdline_max = cmdline_size;
	bz_start_params(c, &h, load);

	out->kind = LOADER_BZIMAGE;
	out->entry_mode = LOADER_ENTRY_LINUX64;
	out->entry = load + BZ_ENTRY64_OFFSET;
	out->kernel_start = load;
	out->kernel_end = end;
	return 0;
}
