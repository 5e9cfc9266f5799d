/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * loader/: synthetic bzImages, ELF vmlinux and PVH images (valid and hostile),
 * the boot structures (zero page, e820, hvm_start_info, GDT, page tables, MP
 * table), and the real Debian kernel from /boot with the vmlinux extracted
 * from it. Guest memory is real: memfd regions from mem/.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/layout.h"
#include "common/log.h"
#include "loader/loader.h"
#include "mem/mem.h"

extern char **environ;

#define ERRLEN 256
#define GUEST_SMALL MiB(64)
#define GUEST_REAL MiB(512)

/* ---------------------------------------------------------------- helpers */

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void guest_new(struct guest_mem *m, uint64_t size)
{
	assert_int_equal(mem_layout(m, size), 0);
	assert_int_equal(mem_create(m, "test-loader"), 0);
	assert_int_equal(mem_map(m), 0);
}

static uint8_t *gptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *p = mem_ptr(m, gpa, len);

	assert_non_null(p);
	return p;
}

static int file_new(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int fd = memfd_create("test-image", MFD_CLOEXEC);

	assert_true(fd >= 0);
	while (len) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
	return fd;
}

static uint8_t *pattern_new(size_t len, unsigned int seed)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) ^ (i >> 17));
	return p;
}

struct opts {
	const char *cmdline;
	unsigned int nvcpus;
	const struct loader_device *devices;
	unsigned int ndevices;
	const void *initrd;
	size_t initrd_len;
};

/* Defaults first, then the test's own designated initializers override them. */
#pragma GCC diagnostic ignored "-Woverride-init"
#define OPTS(...) (&(struct opts){ .cmdline = "console=ttyS0", .nvcpus = 1, __VA_ARGS__ })

static int load_fd(const struct guest_mem *m, int kfd, const struct opts *o, struct loader_result *r, char *err)
{
	int ifd = o->initrd ? file_new(o->initrd, o->initrd_len) : -1;
	struct loader_args a = {
		.kernel_fd = kfd,
		.initrd_fd = ifd,
		.cmdline = o->cmdline,
		.nvcpus = o->nvcpus,
		.devices = o->devices,
		.ndevices = o->ndevices,
	};
	int rc;

	err[0] = 'x'; /* loader_load must reset it */
	err[1] = '\0';
	rc = loader_load(&a, m, r, err, ERRLEN);
	if (ifd >= 0)
		close(ifd);
	return rc;
}

static int load_buf(const struct guest_mem *m, const void *img, size_t len, const struct opts *o,
		    struct loader_result *r, char *err)
{
	int kfd = file_new(img, len);
	int rc = load_fd(m, kfd, o, r, err);

	close(kfd);
	return rc;
}

static void expect_fail(const struct guest_mem *m, const void *img, size_t len, const struct opts *o,
			const char *reason)
{
	struct loader_result r;
	char err[ERRLEN];
	int rc = load_buf(m, img, len, o, &r, err);

	if (rc == 0)
		fail_msg("loaded although \"%s\" was expected", reason);
	assert_true(rc < 0);
	if (!strstr(err, reason))
		fail_msg("error \"%s\" does not say \"%s\"", err, reason);
	assert_null(strchr(err, '\n'));
	assert_int_equal(r.kind, 0);
	assert_int_equal(r.entry, 0);
}

static void expect_ok(const struct guest_mem *m, const void *img, size_t len, const struct opts *o,
		      struct loader_result *r)
{
	char err[ERRLEN];
	int rc = load_buf(m, img, len, o, r, err);

	if (rc != 0)
		fail_msg("load failed: %d %s", rc, err);
	assert_string_equal(err, "");
}

/* e820 / PVH memory map expected for a guest of mem_layout(size). */
struct range {
	uint64_t addr, size;
	uint32_t type;
};

static unsigned int expected_map(const struct guest_mem *m, struct range *r)
{
	unsigned int n = 0;

	r[n++] = (struct range){ 0, 0x9fc00, 1 };
	r[n++] = (struct range){ 0x9fc00, 0x100000 - 0x9fc00, 2 };
	r[n++] = (struct range){ 0x100000, m->regions[0].size - 0x100000, 1 };
	if (m->nregions > 1)
		r[n++] = (struct range){ LAYOUT_HIGH_RAM_START, m->regions[1].size, 1 };
	return n;
}

static void check_e820(const struct guest_mem *m)
{
	const uint8_t *zp = gptr(m, LAYOUT_ZERO_PAGE_ADDR, 4096);
	struct range want[4];
	unsigned int n = expected_map(m, want);

	assert_int_equal(zp[0x1e8], n);
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *e = zp + 0x2d0 + 20 * i;

		assert_int_equal(get64(e), want[i].addr);
		assert_int_equal(get64(e + 8), want[i].size);
		assert_int_equal(get32(e + 16), want[i].type);
	}
	assert_int_equal(get64(zp + 0x2d0 + 20 * n), 0);
}

static void check_common_result(const struct guest_mem *m, const struct loader_result *r, const char *cmdline)
{
	assert_int_equal(r->gdt_base, LAYOUT_GDT_ADDR);
	assert_int_equal(r->stack, LAYOUT_BOOT_STACK);
	assert_int_equal(r->cmdline_addr, LAYOUT_CMDLINE_ADDR);
	assert_memory_equal(gptr(m, LAYOUT_CMDLINE_ADDR, strlen(cmdline) + 1), cmdline, strlen(cmdline) + 1);
	if (r->entry_mode == LOADER_ENTRY_LINUX64) {
		assert_int_equal(r->cr3, LAYOUT_PML4_ADDR);
		assert_int_equal(r->boot_info, LAYOUT_ZERO_PAGE_ADDR);
	} else {
		assert_int_equal(r->entry_mode, LOADER_ENTRY_PVH32);
		assert_int_equal(r->cr3, 0);
		assert_int_equal(r->boot_info, LAYOUT_PVH_INFO_ADDR);
	}
}

static void check_initrd(const struct guest_mem *m, const struct loader_result *r, const void *initrd, size_t len,
			 uint64_t limit)
{
	assert_int_equal(r->initrd_size, len);
	assert_int_equal(r->initrd_start % 4096, 0);
	assert_true(r->initrd_start >= r->kernel_end);
	assert_int_equal(r->initrd_start, (limit - len) & ~0xfffULL); /* as high as possible */
	assert_memory_equal(gptr(m, r->initrd_start, len), initrd, len);
}

/* ---------------------------------------------------------------- synthetic bzImage */

struct bz_opts {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t jump; /* header ends at 0x202 + jump */
	uint8_t loadflags;
	uint8_t reloc;
	uint16_t xlf;
	uint32_t pm_size;
	uint32_t init_size;
	uint64_t pref;
	uint32_t align;
	uint32_t cmdline_size;
	uint32_t initrd_max;
	uint32_t code32;
};

#define BZ_OPTS(...)                                                                                        \
	(&(struct bz_opts){ .version = 0x020f, .setup_sects = 4, .jump = 0x6a, .loadflags = 0x01, .reloc = 1,   \
			    .xlf = 0x1, .pm_size = 0x10000, .init_size = 0x400000, .pref = 0x1000000,           \
			    .align = 0x200000, .cmdline_size = 0x7ff, .initrd_max = 0x7fffffff,                \
			    .code32 = 0x100000, __VA_ARGS__ })

static size_t bz_pm_off(const uint8_t *img)
{
	return ((size_t)(img[0x1f1] ? img[0x1f1] : 4) + 1) * 512;
}

static uint8_t *bz_build(const struct bz_opts *o, size_t *len)
{
	size_t pm_off = ((size_t)(o->setup_sects ? o->setup_sects : 4) + 1) * 512;
	uint8_t *b;

	*len = pm_off + o->pm_size;
	b = pattern_new(*len, 1); /* setup code and header padding are noise, the kernel a pattern */
	b[0x1f1] = o->setup_sects;
	put16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = o->jump;
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, o->version);
	b[0x210] = 0;
	b[0x211] = o->loadflags;
	put32(b + 0x214, o->code32);
	put32(b + 0x218, 0);
	put32(b + 0x21c, 0);
	put32(b + 0x228, 0);
	put32(b + 0x22c, o->initrd_max);
	put32(b + 0x230, o->align);
	b[0x234] = o->reloc;
	b[0x235] = 21;
	put16(b + 0x236, o->xlf);
	put32(b + 0x238, o->cmdline_size);
	put64(b + 0x250, 0xdeadbeef000ULL); /* a setup_data pointer the loader must not pass on */
	put64(b + 0x258, o->pref);
	put32(b + 0x260, o->init_size);
	return b;
}

/* Header bytes the loader writes itself; all others must be the image's. */
static int bz_loader_field(size_t off)
{
	static const struct {
		size_t off, len;
	} f[] = { { 0x210, 2 }, { 0x214, 4 }, { 0x218, 4 }, { 0x21c, 4 }, { 0x224, 2 }, { 0x228, 4 }, { 0x250, 8 } };

	for (size_t i = 0; i < nitems(f); i++)
		if (off >= f[i].off && off < f[i].off + f[i].len)
			return 1;
	return 0;
}

/* The zero page built from a bzImage header, field by field. */
static void check_bz_zero_page(const struct guest_mem *m, const uint8_t *img, const struct loader_result *r)
{
	const uint8_t *zp = gptr(m, LAYOUT_ZERO_PAGE_ADDR, 4096);
	size_t end = 0x202 + img[0x201];

	if (end > 0x290)
		end = 0x290;
	for (size_t off = 0; off < 0x1f1; off++)
		if (off != 0x1e8 && zp[off] != 0)
			fail_msg("zero page byte 0x%zx is 0x%02x outside the header", off, zp[off]);
	for (size_t off = 0x1f1; off < end; off++)
		if (!bz_loader_field(off) && zp[off] != img[off])
			fail_msg("setup header byte 0x%zx is 0x%02x, image has 0x%02x", off, zp[off], img[off]);
	for (size_t off = end; off < 0x2d0; off++)
		if (zp[off] != 0)
			fail_msg("zero page byte 0x%zx past the header is 0x%02x", off, zp[off]);
	assert_int_equal(zp[0x210], 0xff); /* type_of_loader */
	assert_int_equal(zp[0x211], img[0x211] | 0x80); /* loadflags |= CAN_USE_HEAP */
	assert_int_equal(get16(zp + 0x224), 0xfe00); /* heap_end_ptr */
	assert_int_equal(get32(zp + 0x214), r->kernel_start); /* code32_start */
	assert_int_equal(get32(zp + 0x228), LAYOUT_CMDLINE_ADDR);
	assert_int_equal(get32(zp + 0xc8), 0); /* ext_cmd_line_ptr */
	assert_int_equal(get32(zp + 0x218), (uint32_t)r->initrd_start);
	assert_int_equal(get32(zp + 0xc0), (uint32_t)(r->initrd_start >> 32));
	assert_int_equal(get32(zp + 0x21c), (uint32_t)r->initrd_size);
	assert_int_equal(get32(zp + 0xc4), 0);
	assert_int_equal(get64(zp + 0x250), 0); /* setup_data */
	assert_int_equal(zp[0x1ef], 0); /* sentinel */
	check_e820(m);
}

static void test_bz_valid(void **state)
{
	static const char cmdline[] = "console=ttyS0 root=/dev/vda rw";
	struct guest_mem m;
	struct loader_result r;
	uint8_t *initrd = pattern_new(100000, 9);
	size_t len;
	uint8_t *img = bz_build(BZ_OPTS(), &len);

	(void)state;
	guest_new(&m, GUEST_SMALL);
	expect_ok(&m, img, len, OPTS(.cmdline = cmdline, .initrd = initrd, .initrd_len = 100000), &r);
	assert_int_equal(r.kind, LOADER_BZIMAGE);
	assert_string_equal(loader_kind_name(r.kind), "bzImage");
	assert_int_equal(r.entry_mode, LOADER_ENTRY_LINUX64);
	assert_int_equal(r.kernel_start, 0x1000000); /* pref_address fits */
	assert_int_equal(r.entry, 0x1000200);
	assert_int_equal(r.kernel_end, 0x1000000 + 0x400000); /* init_size */
	assert_memory_equal(gptr(&m, 0x1000000, 0x10000), img + 5 * 512, 0x10000);
	check_common_result(&m, &r, cmdline);
	check_initrd(&m, &r, initrd, 100000, GUEST_SMALL);
	check_bz_zero_page(&m, img, &r);
	mem_close(&m);
	free(initrd);
	free(img);
}

/* pref_address unusable: the lowest kernel_alignment-aligned address above 1 MiB. */
static void test_bz_placement(void **state)
{
	struct guest_mem m;
	struct loader_result r;
	size_t len;
	uint8_t *img;

	(void)state;
	guest_new(&m, GUEST_SMALL);

	img = bz_build(BZ_OPTS(.pref = 0x800), &len);
	expect_ok(&m, img, len, OPTS(), &r);
	assert_int_equal(r.kernel_start, 0x200000);
	assert_int_equal(r.entry, 0x200200);
	assert_int_equal(r.kernel_end, 0x200000 + 0x400000);
	free(img);

	/* unaligned pref_address */
	img = bz_build(BZ_OPTS(.pref = 0x1000800, .align = 0x1000000), &len);
	expect_ok(&m, img, len, OPTS(), &r);
	assert_int_equal(r.kernel_start, 0x1000000);
	free(img);

	/* non-relocatable: at code32_start */
	img = bz_build(BZ_OPTS(.reloc = 0, .pref = 0x100000), &len);
	expect_ok(&m, img, len, OPTS(), &r);
	assert_int_equal(r.kernel_start, 0x100000);
	assert_int_equal(r.entry, 0x100200);
	assert_memory_equal(gptr(&m, 0x100000, 0x10000), img + 5 * 512, 0x10000);
	free(img);

	/* protocol 2.06 (no init_size, pref_address, xloadflags), setup_sects 0 meaning 4 */
	img = bz_build(BZ_OPTS(.version = 0x0206, .jump = 0x3a, .setup_sects = 0, .xlf = 0), &len);
	expect_ok(&m, img, len, OPTS(), &r);
	assert_int_equal(r.kernel_start, 0x200000);
	assert_int_equal(r.kernel_end, 0x200000 + 0x10000);
	assert_memory_equal(gptr(&m, 0x200000, 0x10000), img + 5 * 512, 0x10000);
	check_bz_zero_page(&m, img, &r);
	free(img);

	/* a command line of exactly cmdline_size bytes is accepted */
	img = bz_build(BZ_OPTS(.cmdline_size = 16), &len);
	expect_ok(&m, img, len, OPTS(.cmdline = "0123456789abcdef"), &r);
	free(img);
	mem_close(&m);
}

static void test_bz_malformed(void **state)
{
	char longcmd[40];
	struct guest_mem m;
	uint8_t *initrd = pattern_new(MiB(60), 3);
	size_t len;
	uint8_t *img;

	(void)state;
	guest_new(&m, GUEST_SMALL);
	memset(longcmd, 'a', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';

	img = bz_build(BZ_OPTS(), &len);
	memcpy(img + 0x202, "HdrZ", 4);
	expect_fail(&m, img, len, OPTS(), "not a bzImage or ELF kernel");
	free(img);

	img = bz_build(BZ_OPTS(), &len);
	put16(img + 0x1fe, 0x55aa);
	expect_fail(&m, img, len, OPTS(), "boot_flag");
	free(img);

	img = bz_build(BZ_OPTS(.version = 0x0204), &len);
	expect_fail(&m, img, len, OPTS(), "bzImage boot protocol 2.04 is older than 2.06");
	free(img);

	img = bz_build(BZ_OPTS(.xlf = 0x2), &len);
	expect_fail(&m, img, len, OPTS(), "XLF_KERNEL_64");
	free(img);

	img = bz_build(BZ_OPTS(.setup_sects = 200), &len);
	expect_fail(&m, img, 0x10000, OPTS(), "points past the end of the file"); /* 201 sectors > 64 KiB */
	free(img);

	img = bz_build(BZ_OPTS(), &len);
	expect_fail(&m, img, 0x240, OPTS(), "setup header is truncated");
	expect_fail(&m, img, 0x205, OPTS(), "not a bzImage or ELF kernel");
	expect_fail(&m, img, 5 * 512 + 0x100, OPTS(), "protected-mode kernel is only 256 bytes");
	expect_fail(&m, img, 5 * 512, OPTS(), "points past the end of the file");
	free(img);

	img = bz_build(BZ_OPTS(.jump = 0x20), &len);
	expect_fail(&m, img, len, OPTS(), "too short");
	free(img);

	img = bz_build(BZ_OPTS(.cmdline_size = 16), &len);
	expect_fail(&m, img, len, OPTS(.cmdline = longcmd), "command line is 39 bytes, the kernel accepts at most 16");
	free(img);

	img = bz_build(BZ_OPTS(), &len);
	expect_fail(&m, img, len, OPTS(.initrd = initrd, .initrd_len = MiB(60)), "does not fit below 0x3ffffff");
	free(img);

	img = bz_build(BZ_OPTS(.init_size = 0x8000000), &len);
	expect_fail(&m, img, len, OPTS(), "needs RAM up to 0x9000000");
	free(img);

	/* below pref_address, Linux still decompresses at pref_address + init_size */
	img = bz_build(BZ_OPTS(.pref = 0x3e00000), &len);
	expect_fail(&m, img, len, OPTS(), "needs RAM up to 0x4200000");
	free(img);

	img = bz_build(BZ_OPTS(.align = 0x300000), &len);
	expect_fail(&m, img, len, OPTS(), "kernel_alignment");
	free(img);

	img = bz_build(BZ_OPTS(.loadflags = 0), &len);
	expect_fail(&m, img, len, OPTS(), "not loaded high");
	free(img);

	img = bz_build(BZ_OPTS(.reloc = 0, .code32 = 0x10000), &len);
	expect_fail(&m, img, len, OPTS(), "below 1 MiB");
	free(img);
	mem_close(&m);
	free(initrd);
}

/* initrd_addr_max is the highest byte the initrd may occupy. */
static void test_bz_initrd_max(void **state)
{
	struct guest_mem m;
	struct loader_result r;
	uint8_t *initrd = pattern_new(MiB(16), 4);
	size_t len;
	uint8_t *img = bz_build(BZ_OPTS(.initrd_max = 0x1ffffff), &len);

	(void)state;
	guest_new(&m, MiB(256));
	expect_ok(&m, img, len, OPTS(.initrd = initrd, .initrd_len = MiB(1) + 5), &r);
	check_initrd(&m, &r, initrd, MiB(1) + 5, 0x2000000);
	assert_int_equal(r.initrd_start, 0x1eff000);
	expect_fail(&m, img, len, OPTS(.initrd = initrd, .initrd_len = MiB(16)),
		    "initrd (16777216 bytes) does not fit below 0x1ffffff");
	mem_close(&m);
	free(initrd);
	free(img);
}

/* ---------------------------------------------------------------- synthetic ELF / PVH */

struct eseg {
	uint32_t type;
	uint64_t paddr, vaddr, filesz, memsz;
};

struct elf_opts {
	int class;
	uint16_t machine;
	uint64_t entry;
	const struct eseg *segs;
	size_t nsegs;
	const uint8_t *note; /* raw note bytes, or NULL */
	size_t note_len;
	int note_in_section; /* only an SHT_NOTE section, no PT_NOTE */
};

struct elf_img {
	uint8_t *b;
	size_t len;
	size_t phoff, phentsize, phnum;
	size_t seg_off[8]; /* file offset of each segment's data */
};

static const struct eseg default_segs[] = {
	{ PT_LOAD, 0x100000, 0xffffffff80100000ULL, 0x3000, 0x5000 },
	{ PT_LOAD, 0x200000, 0xffffffff80200000ULL, 0x1800, 0x2000 },
};

#define ELF_OPTS(...)                                                                                         \
	(&(struct elf_opts){ .class = ELFCLASS64, .machine = EM_X86_64, .entry = 0xffffffff80100040ULL,         \
			     .segs = default_segs, .nsegs = 2, __VA_ARGS__ })

static size_t note_make(uint8_t *buf, const char *name, uint32_t type, const void *desc, uint32_t desclen)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t off = 12;

	memset(buf, 0, 12 + ((namesz + 3) & ~3U) + ((desclen + 3) & ~3U));
	put32(buf, namesz);
	put32(buf + 4, desclen);
	put32(buf + 8, type);
	memcpy(buf + off, name, namesz);
	off += (namesz + 3) & ~3U;
	memcpy(buf + off, desc, desclen);
	off += (desclen + 3) & ~3U;
	return off;
}

/* A note segment with unrelated notes around the PVH one, like a real vmlinux. */
static size_t pvh_note(uint8_t *buf, const void *desc, uint32_t desclen)
{
	size_t n = 0;

	n += note_make(buf + n, "GNU", 3, "0123456789abcdefghij", 20);
	n += note_make(buf + n, "Xen", 6, "linux", 6);
	n += note_make(buf + n, "Xen", 18, desc, desclen);
	n += note_make(buf + n, "Linux", 0x100, "6.1", 4);
	return n;
}

static void elf_put_phdr(struct elf_img *e, int class, size_t i, uint32_t type, uint64_t off, uint64_t vaddr,
			 uint64_t paddr, uint64_t filesz, uint64_t memsz, uint64_t align)
{
	uint8_t *p = e->b + e->phoff + i * e->phentsize;

	if (class == ELFCLASS64) {
		Elf64_Phdr ph = { .p_type = type, .p_offset = off, .p_vaddr = vaddr, .p_paddr = paddr,
				  .p_filesz = filesz, .p_memsz = memsz, .p_flags = PF_R | PF_X, .p_align = align };

		memcpy(p, &ph, sizeof(ph));
	} else {
		Elf32_Phdr ph = { .p_type = type, .p_offset = (uint32_t)off, .p_vaddr = (uint32_t)vaddr,
				  .p_paddr = (uint32_t)paddr, .p_filesz = (uint32_t)filesz, .p_memsz = (uint32_t)memsz,
				  .p_flags = PF_R | PF_X, .p_align = (uint32_t)align };

		memcpy(p, &ph, sizeof(ph));
	}
}

static void elf_build(const struct elf_opts *o, struct elf_img *e)
{
	int c64 = o->class == ELFCLASS64;
	size_t ehsize = c64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t shentsize = c64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	size_t off = 0x1000, note_off = 0, shoff = 0, shnum = o->note && o->note_in_section ? 2 : 0;

	memset(e, 0, sizeof(*e));
	e->phoff = ehsize;
	e->phentsize = c64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	e->phnum = o->nsegs + (o->note && !o->note_in_section ? 1 : 0);
	for (size_t i = 0; i < o->nsegs; i++) {
		e->seg_off[i] = off;
		off = (off + o->segs[i].filesz + 15) & ~(size_t)15;
	}
	if (o->note) {
		note_off = off;
		off = (off + o->note_len + 15) & ~(size_t)15;
	}
	if (shnum) {
		shoff = off;
		off += shnum * shentsize;
	}
	e->len = off;
	e->b = calloc(1, e->len);
	assert_non_null(e->b);
	for (size_t i = 0; i < o->nsegs; i++) {
		for (size_t j = 0; j < o->segs[i].filesz; j++)
			e->b[e->seg_off[i] + j] = (uint8_t)(j * 31 + i * 17 + 5 + (j >> 8));
		elf_put_phdr(e, o->class, i, o->segs[i].type, e->seg_off[i], o->segs[i].vaddr, o->segs[i].paddr,
			     o->segs[i].filesz, o->segs[i].memsz, 0x1000);
	}
	if (o->note) {
		memcpy(e->b + note_off, o->note, o->note_len);
		if (!o->note_in_section)
			elf_put_phdr(e, o->class, o->nsegs, PT_NOTE, note_off, 0, 0, o->note_len, o->note_len, 4);
	}
	memcpy(e->b, ELFMAG, SELFMAG);
	e->b[EI_CLASS] = (uint8_t)o->class;
	e->b[EI_DATA] = ELFDATA2LSB;
	e->b[EI_VERSION] = EV_CURRENT;
	if (c64) {
		Elf64_Ehdr *h = (Elf64_Ehdr *)e->b;
		Elf64_Shdr *sh = (Elf64_Shdr *)(e->b + shoff);

		h->e_type = ET_EXEC;
		h->e_machine = o->machine;
		h->e_version = EV_CURRENT;
		h->e_entry = o->entry;
		h->e_phoff = e->phoff;
		h->e_ehsize = (uint16_t)ehsize;
		h->e_phentsize = (uint16_t)e->phentsize;
		h->e_phnum = (uint16_t)e->phnum;
		if (shnum) {
			h->e_shoff = shoff;
			h->e_shentsize = (uint16_t)shentsize;
			h->e_shnum = (uint16_t)shnum;
			sh[1].sh_type = SHT_NOTE;
			sh[1].sh_flags = SHF_ALLOC;
			sh[1].sh_offset = note_off;
			sh[1].sh_size = o->note_len;
			sh[1].sh_addralign = 4;
		}
	} else {
		Elf32_Ehdr *h = (Elf32_Ehdr *)e->b;
		Elf32_Shdr *sh = (Elf32_Shdr *)(e->b + shoff);

		h->e_type = ET_EXEC;
		h->e_machine = o->machine;
		h->e_version = EV_CURRENT;
		h->e_entry = (uint32_t)o->entry;
		h->e_phoff = (uint32_t)e->phoff;
		h->e_ehsize = (uint16_t)ehsize;
		h->e_phentsize = (uint16_t)e->phentsize;
		h->e_phnum = (uint16_t)e->phnum;
		if (shnum) {
			h->e_shoff = (uint32_t)shoff;
			h->e_shentsize = (uint16_t)shentsize;
			h->e_shnum = (uint16_t)shnum;
			sh[1].sh_type = SHT_NOTE;
			sh[1].sh_flags = SHF_ALLOC;
			sh[1].sh_offset = (uint32_t)note_off;
			sh[1].sh_size = (uint32_t)o->note_len;
			sh[1].sh_addralign = 4;
		}
	}
}

/* Every PT_LOAD segment of o, byte for byte, bss zeroed. */
static void check_segments(const struct guest_mem *m, const struct elf_opts *o, const struct elf_img *e)
{
	for (size_t i = 0; i < o->nsegs; i++) {
		const struct eseg *s = &o->segs[i];
		const uint8_t *p;

		if (s->type != PT_LOAD)
			continue;
		p = gptr(m, s->paddr, s->memsz);
		assert_memory_equal(p, e->b + e->seg_off[i], s->filesz);
		for (uint64_t j = s->filesz; j < s->memsz; j++)
			if (p[j] != 0)
				fail_msg("segment %zu bss byte 0x%llx is not zero", i, (unsigned long long)j);
	}
}

/*
 * Guest memory comes zeroed (loader_load's contract), so the loader leaves
 * the bss alone: before anything reads it, none of its whole pages is even
 * allocated (a MiB of the test guest's bss once cost 0.6 ms of every start).
 */
static void check_bss_untouched(const struct guest_mem *m, const struct elf_opts *o)
{
	for (size_t i = 0; i < o->nsegs; i++) {
		uint64_t from = (o->segs[i].paddr + o->segs[i].filesz + 4095) & ~4095ULL;
		uint64_t to = (o->segs[i].paddr + o->segs[i].memsz) & ~4095ULL;
		unsigned char vec[64];

		if (o->segs[i].type != PT_LOAD || to <= from)
			continue;
		assert_true((to - from) / 4096 <= sizeof(vec));
		assert_int_equal(mincore(gptr(m, from, to - from), to - from, vec), 0);
		for (uint64_t k = 0; k < (to - from) / 4096; k++)
			if (vec[k] & 1)
				fail_msg("segment %zu: bss page at 0x%llx was written", i,
					 (unsigned long long)(from + k * 4096));
	}
}

static void check_elf64_zero_page(const struct guest_mem *m, const struct loader_result *r)
{
	const uint8_t *zp = gptr(m, LAYOUT_ZERO_PAGE_ADDR, 4096);

	assert_int_equal(get16(zp + 0x1fe), 0xaa55);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_true(get16(zp + 0x206) >= 0x0206);
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(get32(zp + 0x228), LAYOUT_CMDLINE_ADDR);
	assert_int_equal(get32(zp + 0xc8), 0);
	assert_int_equal(get32(zp + 0x218), (uint32_t)r->initrd_start);
	assert_int_equal(get32(zp + 0xc0), (uint32_t)(r->initrd_start >> 32));
	assert_int_equal(get32(zp + 0x21c), (uint32_t)r->initrd_size);
	assert_int_equal(get32(zp + 0xc4), 0);
	assert_int_equal(zp[0x1ef], 0);
	check_e820(m);
}

static void check_pvh_info(const struct guest_mem *m, const struct loader_result *r)
{
	const uint8_t *si = gptr(m, LAYOUT_PVH_INFO_ADDR, 56);
	struct range want[4];
	unsigned int n = expected_map(m, want);
	uint64_t memmap = get64(si + 40);

	assert_int_equal(get32(si), 0x336ec578);
	assert_int_equal(get32(si + 4), 1);
	assert_int_equal(get32(si + 8), 0); /* flags */
	assert_int_equal(get64(si + 24), LAYOUT_CMDLINE_ADDR);
	assert_int_equal(get64(si + 32), 0); /* rsdp */
	assert_int_equal(get32(si + 48), n);
	assert_true(memmap > LAYOUT_PVH_INFO_ADDR && memmap % 8 == 0);
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *e = gptr(m, memmap + 24 * i, 24);

		assert_int_equal(get64(e), want[i].addr);
		assert_int_equal(get64(e + 8), want[i].size);
		assert_int_equal(get32(e + 16), want[i].type);
		assert_int_equal(get32(e + 20), 0);
	}
	if (r->initrd_size) {
		const uint8_t *mod;

		assert_int_equal(get32(si + 12), 1);
		mod = gptr(m, get64(si + 16), 32);
		assert_int_equal(get64(mod), r->initrd_start);
		assert_int_equal(get64(mod + 8), r->initrd_size);
		assert_int_equal(get64(mod + 16), 0);
		assert_int_equal(get64(mod + 24), 0);
	} else {
		assert_int_equal(get32(si + 12), 0);
		assert_int_equal(get64(si + 16), 0);
	}
}

static void test_elf64_valid(void **state)
{
	static const char cmdline[] = "console=ttyS0 quiet";
	const struct elf_opts *o = ELF_OPTS();
	struct guest_mem m;
	struct loader_result r;
	struct elf_img e;
	uint8_t *initrd = pattern_new(5000, 5);

	(void)state;
	guest_new(&m, GUEST_SMALL);
	elf_build(o, &e);
	expect_ok(&m, e.b, e.len, OPTS(.cmdline = cmdline, .initrd = initrd, .initrd_len = 5000), &r);
	assert_int_equal(r.kind, LOADER_ELF64);
	assert_string_equal(loader_kind_name(r.kind), "ELF");
	assert_int_equal(r.entry_mode, LOADER_ENTRY_LINUX64);
	assert_int_equal(r.entry, 0x100040); /* virtual e_entry translated through segment 0 */
	assert_int_equal(r.kernel_start, 0x100000);
	assert_int_equal(r.kernel_end, 0x202000);
	check_bss_untouched(&m, o);
	check_segments(&m, o, &e);
	check_common_result(&m, &r, cmdline);
	check_initrd(&m, &r, initrd, 5000, GUEST_SMALL);
	check_elf64_zero_page(&m, &r);
	free(e.b);

	/* a physical e_entry is taken as is */
	elf_build(ELF_OPTS(.entry = 0x200010), &e);
	expect_ok(&m, e.b, e.len, OPTS(.cmdline = NULL), &r);
	assert_int_equal(r.entry, 0x200010);
	assert_int_equal(*gptr(&m, LAYOUT_CMDLINE_ADDR, 1), 0);
	free(e.b);
	mem_close(&m);
	free(initrd);
}

static void test_pvh_valid(void **state)
{
	static const char cmdline[] = "bulkhead.test=smoke";
	uint8_t note[256];
	uint32_t entry32 = 0x100080;
	uint64_t entry64 = 0x200100;
	struct guest_mem m;
	struct loader_result r;
	struct elf_img e;
	const struct elf_opts *o;
	uint8_t *initrd = pattern_new(70000, 6);

	(void)state;
	guest_new(&m, GUEST_SMALL);

	/* ELF64 with a 4-byte note value, in a PT_NOTE segment */
	o = ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 4));
	elf_build(o, &e);
	expect_ok(&m, e.b, e.len, OPTS(.cmdline = cmdline, .initrd = initrd, .initrd_len = 70000), &r);
	assert_int_equal(r.kind, LOADER_PVH);
	assert_string_equal(loader_kind_name(r.kind), "PVH");
	assert_int_equal(r.entry_mode, LOADER_ENTRY_PVH32);
	assert_int_equal(r.entry, 0x100080);
	check_bss_untouched(&m, o);
	check_segments(&m, o, &e);
	check_common_result(&m, &r, cmdline);
	check_initrd(&m, &r, initrd, 70000, GUEST_SMALL);
	check_pvh_info(&m, &r);
	free(e.b);

	/* ELF32 (EM_386) with an 8-byte value, as Linux emits it, no initrd */
	o = ELF_OPTS(.class = ELFCLASS32, .machine = EM_386, .entry = 0x100000, .note = note,
		     .note_len = pvh_note(note, &entry64, 8));
	elf_build(o, &e);
	expect_ok(&m, e.b, e.len, OPTS(.cmdline = cmdline), &r);
	assert_int_equal(r.kind, LOADER_PVH);
	assert_int_equal(r.entry, 0x200100);
	check_segments(&m, o, &e);
	check_pvh_info(&m, &r);
	free(e.b);

	/* the note only in an SHT_NOTE section */
	o = ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 4), .note_in_section = 1);
	elf_build(o, &e);
	expect_ok(&m, e.b, e.len, OPTS(), &r);
	assert_int_equal(r.kind, LOADER_PVH);
	assert_int_equal(r.entry, 0x100080);
	free(e.b);
	mem_close(&m);
	free(initrd);
}

/* Patch phdr i of a built image (64-bit). */
static Elf64_Phdr *phdr64(struct elf_img *e, size_t i)
{
	return (Elf64_Phdr *)(e->b + e->phoff + i * e->phentsize);
}

static void test_elf_malformed(void **state)
{
	static const struct eseg low[] = { { PT_LOAD, 0x80000, 0x80000, 0x1000, 0x1000 } };
	static const struct eseg none[] = { { PT_NULL, 0x100000, 0x100000, 0x1000, 0x1000 } };
	uint8_t note[256];
	uint32_t entry32 = 0x100080;
	uint64_t entry_hi = 0x100000100000ULL;
	struct guest_mem m;
	struct elf_img e;

	(void)state;
	guest_new(&m, GUEST_SMALL);

	elf_build(ELF_OPTS(), &e);
	phdr64(&e, 1)->p_offset = e.len - 0x100;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF segment 1 lies past the end of the file");
	phdr64(&e, 1)->p_offset = UINT64_MAX - 0x10;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF segment 1 lies past the end of the file");
	free(e.b);

	elf_build(ELF_OPTS(), &e);
	phdr64(&e, 0)->p_memsz = 0x2000;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF segment 0 has p_filesz 0x3000 > p_memsz 0x2000");
	free(e.b);

	elf_build(ELF_OPTS(), &e);
	phdr64(&e, 1)->p_paddr = GUEST_SMALL - 0x1000;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF segment 1 lies outside guest memory");
	phdr64(&e, 1)->p_paddr = 0xd0000000; /* MMIO hole */
	expect_fail(&m, e.b, e.len, OPTS(), "ELF segment 1 lies outside guest memory");
	phdr64(&e, 1)->p_paddr = UINT64_MAX - 0xfff;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF segment 1 wraps around the address space");
	free(e.b);

	elf_build(ELF_OPTS(.segs = low, .nsegs = 1, .entry = 0x80000), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "overlaps the boot area below 1 MiB");
	free(e.b);

	elf_build(ELF_OPTS(.segs = none, .nsegs = 1), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "no loadable segment");
	free(e.b);

	elf_build(ELF_OPTS(.entry = 0x400000), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "ELF entry point 0x400000 is not in a loaded segment");
	free(e.b);

	elf_build(ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 2)), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "PVH entry note has no 32-bit value");
	free(e.b);

	elf_build(ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry_hi, 8)), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "is not a 32-bit address");
	free(e.b);

	entry32 = 0x300000;
	elf_build(ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 4)), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "ELF entry point 0x300000 is not in a loaded segment");
	free(e.b);

	/* a note segment that runs past the end of the file */
	entry32 = 0x100080;
	elf_build(ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 4)), &e);
	phdr64(&e, 2)->p_filesz = 0x100000;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF note segment 2 lies past the end of the file");
	free(e.b);

	elf_build(ELF_OPTS(.class = ELFCLASS32, .machine = EM_386, .entry = 0x100000), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "32-bit ELF kernel without a PVH entry note");
	free(e.b);

	elf_build(ELF_OPTS(.machine = EM_AARCH64), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "is not x86-64");
	free(e.b);

	/* truncated headers */
	elf_build(ELF_OPTS(), &e);
	expect_fail(&m, e.b, 40, OPTS(), "ELF");
	expect_fail(&m, e.b, 4, OPTS(), "ELF");
	expect_fail(&m, e.b, 64 + 56, OPTS(), "ELF program headers lie past the end of the file");
	((Elf64_Ehdr *)e.b)->e_phoff = 0xfffffffffffffff0ULL;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF");
	((Elf64_Ehdr *)e.b)->e_phoff = 64;
	((Elf64_Ehdr *)e.b)->e_phentsize = 32;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF");
	((Elf64_Ehdr *)e.b)->e_phentsize = 56;
	((Elf64_Ehdr *)e.b)->e_phnum = 0;
	expect_fail(&m, e.b, e.len, OPTS(), "no program headers");
	((Elf64_Ehdr *)e.b)->e_phnum = 2;
	((Elf64_Ehdr *)e.b)->e_type = ET_DYN;
	expect_fail(&m, e.b, e.len, OPTS(), "not an executable");
	((Elf64_Ehdr *)e.b)->e_type = ET_EXEC;
	e.b[EI_DATA] = ELFDATA2MSB;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF");
	e.b[EI_DATA] = ELFDATA2LSB;
	e.b[EI_CLASS] = 7;
	expect_fail(&m, e.b, e.len, OPTS(), "ELF");
	/* the file ends inside segment data */
	e.b[EI_CLASS] = ELFCLASS64;
	expect_fail(&m, e.b, e.len - 0x10, OPTS(), "ELF segment 1 lies past the end of the file");
	free(e.b);
	mem_close(&m);
}

/* ---------------------------------------------------------------- hostile files, arguments */

static void test_garbage(void **state)
{
	struct guest_mem m;
	uint8_t *junk = pattern_new(0x20000, 77);
	unsigned int seed = 1;
	char longcmd[LAYOUT_CMDLINE_MAX + 10];
	struct loader_result r;
	char err[ERRLEN];
	int fd;

	(void)state;
	guest_new(&m, GUEST_SMALL);
	for (size_t i = 0; i < 0x20000; i++)
		junk[i] = (uint8_t)rand_r(&seed);
	expect_fail(&m, junk, 0x20000, OPTS(), "not a bzImage or ELF kernel");
	expect_fail(&m, junk, 1, OPTS(), "not a bzImage or ELF kernel");
	expect_fail(&m, junk, 0, OPTS(), "kernel image is empty");
	memcpy(junk, ELFMAG, SELFMAG);
	expect_fail(&m, junk, 0x20000, OPTS(), "ELF");
	memcpy(junk, "MZ", 2);
	memcpy(junk + 0x202, "HdrS", 4);
	expect_fail(&m, junk, 0x20000, OPTS(), "bzImage");

	/* bigger than guest RAM, bigger than 1 GiB (sparse) */
	fd = memfd_create("big", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)(GUEST_SMALL + 4096)), 0);
	assert_true(load_fd(&m, fd, OPTS(), &r, err) < 0);
	assert_non_null(strstr(err, "larger than guest RAM"));
	assert_int_equal(ftruncate(fd, (off_t)(GiB(1) + 1)), 0);
	assert_true(load_fd(&m, fd, OPTS(), &r, err) < 0);
	assert_non_null(strstr(err, "larger than 1 GiB"));
	close(fd);

	/* a command line beyond LAYOUT_CMDLINE_MAX */
	memset(longcmd, 'c', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';
	{
		struct elf_img e;

		elf_build(ELF_OPTS(), &e);
		expect_fail(&m, e.b, e.len, OPTS(.cmdline = longcmd), "command line is longer than");
		free(e.b);
	}
	mem_close(&m);
	free(junk);
}

/* Random byte flips in the headers of valid images: errors or loads, never a crash (ASan watches). */
static void fuzz_image(const struct guest_mem *m, const uint8_t *img, size_t len, size_t span, unsigned int seed)
{
	uint8_t *copy = malloc(len);
	int kfd;

	assert_non_null(copy);
	kfd = memfd_create("fuzz", MFD_CLOEXEC);
	assert_true(kfd >= 0);
	for (int iter = 0; iter < 400; iter++) {
		struct loader_result r;
		char err[ERRLEN];
		int flips = 1 + rand_r(&seed) % 8;
		int rc;

		memcpy(copy, img, len);
		for (int f = 0; f < flips; f++)
			copy[(size_t)rand_r(&seed) % span] = (uint8_t)rand_r(&seed);
		assert_int_equal(pwrite(kfd, copy, len, 0), (ssize_t)len);
		assert_int_equal(ftruncate(kfd, (off_t)(rand_r(&seed) % 4 ? len : (size_t)rand_r(&seed) % len)), 0);
		rc = load_fd(m, kfd, OPTS(), &r, err);
		if (rc < 0)
			assert_true(err[0] != '\0' && err[0] != 'x');
		else
			assert_string_equal(err, "");
	}
	close(kfd);
	free(copy);
}

static void test_fuzz(void **state)
{
	uint8_t note[256];
	uint32_t entry32 = 0x100080;
	struct guest_mem m;
	struct elf_img e;
	size_t len;
	uint8_t *img;

	(void)state;
	guest_new(&m, GUEST_SMALL);
	img = bz_build(BZ_OPTS(), &len);
	fuzz_image(&m, img, len, 0x300, 11);
	free(img);
	elf_build(ELF_OPTS(), &e);
	fuzz_image(&m, e.b, e.len, e.phoff + e.phnum * e.phentsize, 12);
	free(e.b);
	elf_build(ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 4)), &e);
	fuzz_image(&m, e.b, e.len, e.len, 13);
	free(e.b);
	elf_build(ELF_OPTS(.class = ELFCLASS32, .machine = EM_386, .entry = 0x100000, .note = note,
			   .note_len = pvh_note(note, &entry32, 4), .note_in_section = 1),
		  &e);
	fuzz_image(&m, e.b, e.len, e.len, 14);
	free(e.b);
	mem_close(&m);
}

static void test_bad_args(void **state)
{
	struct guest_mem m, unmapped;
	struct loader_result r;
	struct loader_args a = { .initrd_fd = -1, .cmdline = "", .nvcpus = 1 };
	char err[ERRLEN];
	struct elf_img e;

	(void)state;
	guest_new(&m, GUEST_SMALL);
	elf_build(ELF_OPTS(), &e);
	a.kernel_fd = file_new(e.b, e.len);
	/* no error buffer at all */
	assert_int_equal(loader_load(&a, &m, &r, NULL, 0), 0);
	a.nvcpus = 0;
	assert_true(loader_load(&a, &m, &r, NULL, 0) < 0);
	a.nvcpus = 1;
	assert_true(loader_load(NULL, &m, &r, err, sizeof(err)) < 0);
	assert_true(loader_load(&a, NULL, &r, err, sizeof(err)) < 0);
	assert_true(loader_load(&a, &m, NULL, err, sizeof(err)) < 0);
	/* guest memory not mapped, or too small */
	assert_int_equal(mem_layout(&unmapped, GUEST_SMALL), 0);
	assert_true(loader_load(&a, &unmapped, &r, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "not mapped"));
	/* an initrd that is a pipe, or empty */
	{
		int p[2];

		assert_int_equal(pipe(p), 0);
		a.initrd_fd = p[0];
		assert_true(loader_load(&a, &m, &r, err, sizeof(err)) < 0);
		assert_string_equal(err, "initrd is not a regular file");
		close(p[0]);
		close(p[1]);
		a.initrd_fd = file_new("", 0);
		assert_true(loader_load(&a, &m, &r, err, sizeof(err)) < 0);
		assert_string_equal(err, "initrd is empty");
		close(a.initrd_fd);
		a.initrd_fd = -1;
	}
	close(a.kernel_fd);
	a.kernel_fd = -1;
	assert_true(loader_load(&a, &m, &r, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot stat the kernel"));
	free(e.b);
	mem_close(&m);

	guest_new(&m, MiB(1));
	elf_build(ELF_OPTS(), &e);
	expect_fail(&m, e.b, e.len, OPTS(), "guest low RAM");
	free(e.b);
	mem_close(&m);
}

/* ---------------------------------------------------------------- MP table, GDT, page tables */

struct mp_counts {
	unsigned int cpus, buses, ioapics, intsrc, lint;
};

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	for (size_t i = 0; i < len; i++)
		s += p[i];
	return s;
}

static void check_mptable(const struct guest_mem *m, unsigned int nvcpus, const struct loader_device *dev,
			  unsigned int ndev, struct mp_counts *n)
{
	const uint8_t *fp = gptr(m, LAYOUT_MPTABLE_ADDR, 16);
	const uint8_t *cfg, *p, *end;
	uint8_t pin_used[LAYOUT_IOAPIC_PINS] = { 0 };
	unsigned int count, i;
	uint16_t len;

	memset(n, 0, sizeof(*n));
	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(sum8(fp, 16), 0);
	assert_int_equal(fp[8], 1); /* length in paragraphs */
	assert_int_equal(fp[9], 4); /* spec 1.4 */
	assert_int_equal(fp[11], 0); /* a configuration table is present */
	cfg = gptr(m, get32(fp + 4), 44);
	assert_true(get32(fp + 4) >= LAYOUT_EBDA_START && get32(fp + 4) < 0x100000);
	assert_memory_equal(cfg, "PCMP", 4);
	len = get16(cfg + 4);
	cfg = gptr(m, get32(fp + 4), len);
	assert_int_equal(cfg[6], 4);
	assert_int_equal(sum8(cfg, len), 0);
	assert_int_equal(get32(cfg + 36), LAYOUT_LAPIC_ADDR);
	count = get16(cfg + 34);
	p = cfg + 44;
	end = cfg + len;
	for (i = 0; i < count; i++) {
		assert_true(p < end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], n->cpus); /* APIC ids in order */
			assert_int_equal(p[3] & 1, 1);
			assert_int_equal(!!(p[3] & 2), n->cpus == 0);
			assert_true(get32(p + 8) & 0x200); /* APIC feature */
			n->cpus++;
			p += 20;
			break;
		case 1:
			assert_memory_equal(p + 2, "ISA   ", 6);
			n->buses++;
			p += 8;
			break;
		case 2:
			assert_int_equal(p[1], nvcpus);
			assert_int_equal(p[2], 0x11);
			assert_int_equal(p[3], 1);
			assert_int_equal(get32(p + 4), LAYOUT_IOAPIC_ADDR);
			n->ioapics++;
			p += 8;
			break;
		case 3: {
			unsigned int irq = p[5], pin = p[7];
			int is_dev = 0;

			assert_int_equal(p[1], 0); /* INT */
			assert_int_equal(p[4], 0); /* ISA bus */
			assert_int_equal(p[6], nvcpus); /* to the IOAPIC */
			for (unsigned int d = 0; d < ndev; d++)
				is_dev |= dev[d].gsi == irq;
			if (is_dev) {
				assert_int_equal(get16(p + 2), 0x5); /* edge, active high */
				assert_int_equal(pin, irq);
			} else {
				assert_true(irq < 16 && irq != 2);
				assert_int_equal(get16(p + 2), 0);
				assert_int_equal(pin, irq == 0 ? 2 : irq);
			}
			assert_true(pin < LAYOUT_IOAPIC_PINS);
			assert_int_equal(pin_used[pin], 0);
			pin_used[pin] = 1;
			n->intsrc++;
			p += 8;
			break;
		}
		case 4:
			assert_int_equal(p[1], n->lint == 0 ? 3 : 1); /* ExtINT, then NMI */
			assert_int_equal(p[6], 0xff);
			assert_int_equal(p[7], n->lint);
			n->lint++;
			p += 8;
			break;
		default:
			fail_msg("MP entry type %u", p[0]);
		}
	}
	assert_ptr_equal(p, end);
}

static void test_mptable(void **state)
{
	static const struct loader_device devs[] = { { LAYOUT_VIRTIO_MMIO_BASE, 5 },
						     { LAYOUT_VIRTIO_MMIO_BASE + 0x1000, 20 } };
	static const struct loader_device dev_bad[] = { { LAYOUT_VIRTIO_MMIO_BASE, 2 } };
	static const struct loader_device dev_dup[] = { { LAYOUT_VIRTIO_MMIO_BASE, 7 },
							{ LAYOUT_VIRTIO_MMIO_BASE + 0x1000, 7 } };
	static const struct loader_device dev_big[] = { { LAYOUT_VIRTIO_MMIO_BASE, 24 } };
	struct guest_mem m;
	struct loader_result r;
	struct mp_counts n;
	struct elf_img e;

	(void)state;
	guest_new(&m, GUEST_SMALL);
	elf_build(ELF_OPTS(), &e);

	expect_ok(&m, e.b, e.len, OPTS(.nvcpus = 1), &r);
	check_mptable(&m, 1, NULL, 0, &n);
	assert_int_equal(n.cpus, 1);
	assert_int_equal(n.buses, 1);
	assert_int_equal(n.ioapics, 1);
	assert_int_equal(n.intsrc, 15); /* ISA 0-15 without the cascade */
	assert_int_equal(n.lint, 2);

	expect_ok(&m, e.b, e.len, OPTS(.nvcpus = 2, .devices = devs, .ndevices = 2), &r);
	check_mptable(&m, 2, devs, 2, &n);
	assert_int_equal(n.cpus, 2);
	assert_int_equal(n.intsrc, 16); /* 15 ISA, IRQ 5 given to device 0, plus GSI 20 */
	assert_int_equal(n.lint, 2);

	expect_ok(&m, e.b, e.len, OPTS(.nvcpus = 254), &r);
	check_mptable(&m, 254, NULL, 0, &n);
	assert_int_equal(n.cpus, 254);

	expect_fail(&m, e.b, e.len, OPTS(.nvcpus = 0), "0 vCPUs");
	expect_fail(&m, e.b, e.len, OPTS(.nvcpus = 255), "255 vCPUs");
	expect_fail(&m, e.b, e.len, OPTS(.devices = dev_bad, .ndevices = 1), "unusable GSI 2");
	expect_fail(&m, e.b, e.len, OPTS(.devices = dev_big, .ndevices = 1), "unusable GSI 24");
	expect_fail(&m, e.b, e.len, OPTS(.devices = dev_dup, .ndevices = 2), "share GSI 7");
	expect_fail(&m, e.b, e.len, OPTS(.devices = NULL, .ndevices = 1), "device list");
	free(e.b);
	mem_close(&m);
}

static void check_gdt(const struct guest_mem *m, uint64_t code)
{
	const uint8_t *g = gptr(m, LAYOUT_GDT_ADDR, 8 * LAYOUT_GDT_ENTRIES);

	assert_int_equal(LAYOUT_GDT_ENTRIES, 6);
	assert_int_equal(get64(g + 0), 0);
	assert_int_equal(get64(g + 8), 0);
	assert_int_equal(get64(g + LAYOUT_BOOT_CS), code);
	assert_int_equal(get64(g + LAYOUT_BOOT_DS), 0x00cf93000000ffffULL);
	/* TSS: base 0, limit 0x67, present, type 0xb (TSS, busy as the vCPU loads it) */
	assert_int_equal(get64(g + LAYOUT_BOOT_TSS), 0x00008b0000000067ULL);
	assert_int_equal(get64(g + LAYOUT_BOOT_TSS + 8), 0);
}

static void check_page_tables(const struct guest_mem *m)
{
	const uint8_t *pml4 = gptr(m, LAYOUT_PML4_ADDR, 4096);
	const uint8_t *pdpt = gptr(m, LAYOUT_PDPT_ADDR, 4096);
	const uint8_t *pd = gptr(m, LAYOUT_PD_ADDR, 4 * 4096);

	assert_int_equal(get64(pml4), LAYOUT_PDPT_ADDR | 3);
	for (unsigned int i = 1; i < 512; i++)
		assert_int_equal(get64(pml4 + 8 * i), 0);
	for (unsigned int i = 0; i < 512; i++)
		assert_int_equal(get64(pdpt + 8 * i), i < 4 ? (LAYOUT_PD_ADDR + 4096 * i) | 3 : 0);
	for (unsigned int i = 0; i < 4 * 512; i++)
		assert_int_equal(get64(pd + 8 * i), ((uint64_t)i << 21) | 0x83);
}

static void test_gdt_page_tables(void **state)
{
	uint8_t note[256];
	uint32_t entry32 = 0x100080;
	struct guest_mem m;
	struct loader_result r;
	struct elf_img e;
	size_t len;
	uint8_t *img = bz_build(BZ_OPTS(), &len);

	(void)state;
	guest_new(&m, GUEST_SMALL);
	expect_ok(&m, img, len, OPTS(), &r);
	check_gdt(&m, 0x00af9b000000ffffULL);
	check_page_tables(&m);
	free(img);
	mem_close(&m);

	guest_new(&m, GUEST_SMALL);
	elf_build(ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 4)), &e);
	expect_ok(&m, e.b, e.len, OPTS(), &r);
	check_gdt(&m, 0x00cf9b000000ffffULL);
	assert_int_equal(get64(gptr(&m, LAYOUT_PML4_ADDR, 8)), 0); /* PVH starts with paging off */
	free(e.b);
	mem_close(&m);
}

/* A 4 GiB guest: low RAM to 3 GiB, 1 GiB above 4 GiB; both maps list both. */
static void test_two_regions(void **state)
{
	uint8_t note[256];
	uint32_t entry32 = 0x100080;
	struct guest_mem m;
	struct loader_result r;
	struct elf_img e;
	uint8_t *initrd = pattern_new(MiB(3), 8);
	size_t len;
	uint8_t *img = bz_build(BZ_OPTS(), &len);

	(void)state;
	guest_new(&m, GiB(4));
	assert_int_equal(m.nregions, 2);
	expect_ok(&m, img, len, OPTS(.initrd = initrd, .initrd_len = MiB(3)), &r);
	check_e820(&m);
	assert_int_equal(gptr(&m, LAYOUT_ZERO_PAGE_ADDR, 4096)[0x1e8], 4);
	check_initrd(&m, &r, initrd, MiB(3), 0x80000000ULL); /* below initrd_addr_max, not 3 GiB */

	elf_build(ELF_OPTS(.note = note, .note_len = pvh_note(note, &entry32, 4)), &e);
	expect_ok(&m, e.b, e.len, OPTS(.initrd = initrd, .initrd_len = MiB(3)), &r);
	check_pvh_info(&m, &r);
	assert_int_equal(get32(gptr(&m, LAYOUT_PVH_INFO_ADDR, 56) + 48), 4);
	check_initrd(&m, &r, initrd, MiB(3), LAYOUT_LOW_RAM_END);
	free(e.b);
	free(img);
	free(initrd);
	mem_close(&m);
}

/* ---------------------------------------------------------------- the real Debian kernel */

struct blob {
	uint8_t *b;
	size_t len;
};

static struct blob read_fd(int fd)
{
	struct blob f = { 0 };
	struct stat st;
	size_t done = 0;

	assert_int_equal(fstat(fd, &st), 0);
	f.len = (size_t)st.st_size;
	f.b = malloc(f.len ? f.len : 1);
	assert_non_null(f.b);
	while (done < f.len) {
		ssize_t n = pread(fd, f.b + done, f.len - done, (off_t)done);

		assert_true(n > 0);
		done += (size_t)n;
	}
	return f;
}

static struct blob read_all(const char *path)
{
	struct blob f;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	f = read_fd(fd);
	close(fd);
	return f;
}

static char vmlinuz_path[4096];

/* The newest /boot/vmlinuz-*; its absence is a failure (deps install linux-image-amd64). */
static struct blob real_bzimage(void)
{
	glob_t g;

	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0 || g.gl_pathc == 0)
		fail_msg("no /boot/vmlinuz-* found: install linux-image-amd64 (make deps)");
	snprintf(vmlinuz_path, sizeof(vmlinuz_path), "%s", g.gl_pathv[g.gl_pathc - 1]);
	globfree(&g);
	return read_all(vmlinuz_path);
}

static int tmpfile_new(char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, len, "%s/test_loader.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		fail_msg("mkstemp %s: %s", path, strerror(errno));
	return fd;
}

/*
 * Decompress the bzImage payload with the matching tool: stdin a temporary
 * file, stdout the vmlinux in another (both unlinked at once, used by fd).
 */
static struct blob real_vmlinux(void)
{
	static struct blob cached;
	struct blob bz;
	char in_path[4096], out_path[4096];
	char *argv[5] = { NULL };
	const uint8_t *pl;
	size_t pl_len, strip = 4; /* every format but gzip has the kernel size appended */
	int in_fd, out_fd, status;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	if (cached.b)
		return cached;
	bz = real_bzimage();
	assert_true(bz.len > 0x250);
	pl_len = get32(bz.b + 0x24c);
	assert_true(bz_pm_off(bz.b) + get32(bz.b + 0x248) + pl_len <= bz.len);
	pl = bz.b + bz_pm_off(bz.b) + get32(bz.b + 0x248);
	if (pl_len > 6 && !memcmp(pl, "\xfd" "7zXZ\0", 6)) {
		argv[0] = "xz", argv[1] = "-dcq";
	} else if (pl_len > 2 && pl[0] == 0x1f && pl[1] == 0x8b) {
		argv[0] = "gzip", argv[1] = "-dcq", strip = 0;
	} else if (pl_len > 4 && !memcmp(pl, "\x28\xb5\x2f\xfd", 4)) {
		argv[0] = "zstd", argv[1] = "-dcq";
	} else if (pl_len > 4 && !memcmp(pl, "\x02\x21\x4c\x18", 4)) {
		argv[0] = "lz4", argv[1] = "-dcq";
	} else if (pl_len > 3 && !memcmp(pl, "BZh", 3)) {
		argv[0] = "bzip2", argv[1] = "-dcq";
	} else if (pl_len > 3 && !memcmp(pl, "\x5d\x00\x00", 3)) {
		argv[0] = "xz", argv[1] = "--format=lzma", argv[2] = "-dcq";
	} else if (pl_len > 4 && !memcmp(pl, "\x89LZO", 4)) {
		argv[0] = "lzop", argv[1] = "-dcq";
	} else {
		fail_msg("%s: unknown payload compression %02x %02x %02x %02x", vmlinuz_path, pl[0], pl[1], pl[2], pl[3]);
	}
	assert_true(pl_len > strip);
	in_fd = tmpfile_new(in_path, sizeof(in_path));
	out_fd = tmpfile_new(out_path, sizeof(out_path));
	unlink(in_path);
	unlink(out_path);
	assert_int_equal(write(in_fd, pl, pl_len - strip), (ssize_t)(pl_len - strip));
	assert_int_equal(lseek(in_fd, 0, SEEK_SET), 0);
	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, in_fd, 0), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, out_fd, 1), 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		fail_msg("cannot run %s to decompress %s", argv[0], vmlinuz_path);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed to decompress the payload of %s", argv[0], vmlinuz_path);
	cached = read_fd(out_fd);
	close(in_fd);
	close(out_fd);
	free(bz.b);
	assert_true(cached.len > sizeof(Elf64_Ehdr));
	assert_memory_equal(cached.b, ELFMAG, SELFMAG);
	return cached;
}

static void test_real_bzimage(void **state)
{
	static const char cmdline[] = "console=ttyS0 root=/dev/vda rw panic=-1";
	struct blob bz = real_bzimage();
	uint8_t *initrd = pattern_new(MiB(2) + 123, 21);
	struct guest_mem m;
	struct loader_result r;
	uint32_t init_size, align, initrd_max;
	uint64_t pref;
	size_t pm_off;
	char *longcmd;

	(void)state;
	pm_off = bz_pm_off(bz.b);
	assert_memory_equal(bz.b + 0x202, "HdrS", 4);
	assert_true(get16(bz.b + 0x206) >= 0x020c);
	assert_true(bz.b[0x234]); /* Debian's kernel is relocatable */
	init_size = get32(bz.b + 0x260);
	align = get32(bz.b + 0x230);
	pref = get64(bz.b + 0x258);
	initrd_max = get32(bz.b + 0x22c);

	guest_new(&m, GUEST_REAL);
	expect_ok(&m, bz.b, bz.len, OPTS(.cmdline = cmdline, .nvcpus = 2, .initrd = initrd, .initrd_len = MiB(2) + 123),
		  &r);
	assert_int_equal(r.kind, LOADER_BZIMAGE);
	assert_int_equal(r.entry_mode, LOADER_ENTRY_LINUX64);
	/* at pref_address (16 MiB), aligned, init_size bytes reserved, entry at startup_64 */
	assert_int_equal(r.kernel_start, pref);
	assert_int_equal(r.kernel_start % align, 0);
	assert_int_equal(r.entry, r.kernel_start + 0x200);
	assert_int_equal(r.kernel_end, r.kernel_start + init_size);
	assert_true(r.kernel_end <= GUEST_REAL);
	assert_memory_equal(gptr(&m, r.kernel_start, bz.len - pm_off), bz.b + pm_off, bz.len - pm_off);
	check_common_result(&m, &r, cmdline);
	check_bz_zero_page(&m, bz.b, &r);
	check_initrd(&m, &r, initrd, MiB(2) + 123,
		     (uint64_t)initrd_max + 1 < GUEST_REAL ? (uint64_t)initrd_max + 1 : GUEST_REAL);
	check_gdt(&m, 0x00af9b000000ffffULL);
	check_page_tables(&m);
	mem_close(&m);

	/* too little RAM for init_size above pref_address */
	guest_new(&m, GUEST_SMALL);
	{
		char want[64];

		snprintf(want, sizeof(want), "needs RAM up to 0x%llx", (unsigned long long)(pref + init_size));
		expect_fail(&m, bz.b, bz.len, OPTS(), want);
	}
	mem_close(&m);

	/* longer than the kernel's cmdline_size */
	guest_new(&m, GUEST_REAL);
	longcmd = malloc(get32(bz.b + 0x238) + 2);
	assert_non_null(longcmd);
	memset(longcmd, 'k', get32(bz.b + 0x238) + 1);
	longcmd[get32(bz.b + 0x238) + 1] = '\0';
	expect_fail(&m, bz.b, bz.len, OPTS(.cmdline = longcmd), "the kernel accepts at most");
	free(longcmd);
	mem_close(&m);
	free(initrd);
	free(bz.b);
}

/* The PHYS32_ENTRY value, found by walking the raw PT_NOTE bytes of an ELF64 image. */
static int raw_pvh_note(const struct blob *v, size_t *type_off, uint64_t *value)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)v->b;

	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(v->b + eh->e_phoff + i * sizeof(Elf64_Phdr));
		size_t off = ph->p_offset, end = ph->p_offset + ph->p_filesz;

		if (ph->p_type != PT_NOTE)
			continue;
		assert_true(end <= v->len);
		while (off + 12 <= end) {
			uint32_t namesz = get32(v->b + off), descsz = get32(v->b + off + 4), type = get32(v->b + off + 8);
			size_t desc = off + 12 + ((namesz + 3) & ~3U);

			if (namesz == 4 && !memcmp(v->b + off + 12, "Xen", 4) && type == 18) {
				*type_off = off + 8;
				*value = descsz >= 8 ? get64(v->b + desc) : get32(v->b + desc);
				return 1;
			}
			off = desc + ((descsz + 3) & ~3U);
		}
	}
	return 0;
}

static void check_real_segments(const struct guest_mem *m, const struct blob *v, const struct loader_result *r)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)v->b;
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned int loads = 0;

	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(v->b + eh->e_phoff + i * sizeof(Elf64_Phdr));
		const uint8_t *p;

		if (ph->p_type != PT_LOAD)
			continue;
		p = gptr(m, ph->p_paddr, ph->p_memsz);
		assert_memory_equal(p, v->b + ph->p_offset, ph->p_filesz);
		for (uint64_t j = ph->p_filesz; j < ph->p_memsz; j++)
			assert_int_equal(p[j], 0);
		lo = ph->p_paddr < lo ? ph->p_paddr : lo;
		hi = ph->p_paddr + ph->p_memsz > hi ? ph->p_paddr + ph->p_memsz : hi;
		loads++;
	}
	assert_true(loads >= 2);
	assert_int_equal(r->kernel_start, lo);
	assert_int_equal(r->kernel_end, hi);
	assert_true(r->entry >= lo && r->entry < hi);
}

/* The vmlinux as a temporary file, unlinked at once: the loader gets a regular-file fd. */
static int blob_fd(const struct blob *v)
{
	char path[4096];
	int fd = tmpfile_new(path, sizeof(path));

	unlink(path);
	assert_int_equal(write(fd, v->b, v->len), (ssize_t)v->len);
	return fd;
}

static void test_real_vmlinux_pvh(void **state)
{
	static const char cmdline[] = "console=ttyS0 earlyprintk=ttyS0";
	struct blob v = real_vmlinux();
	uint8_t *initrd = pattern_new(MiB(1) + 7, 22);
	struct guest_mem m;
	struct loader_result r;
	char err[ERRLEN];
	size_t type_off;
	uint64_t value;
	int fd, rc;

	(void)state;
	if (!raw_pvh_note(&v, &type_off, &value))
		fail_msg("the vmlinux in %s has no XEN_ELFNOTE_PHYS32_ENTRY note (CONFIG_PVH)", vmlinuz_path);
	fd = blob_fd(&v);
	guest_new(&m, GUEST_REAL);
	rc = load_fd(&m, fd, OPTS(.cmdline = cmdline, .nvcpus = 4, .initrd = initrd, .initrd_len = MiB(1) + 7), &r,
		     err);
	close(fd);
	if (rc != 0)
		fail_msg("vmlinux: %s", err);
	assert_int_equal(r.kind, LOADER_PVH);
	assert_int_equal(r.entry_mode, LOADER_ENTRY_PVH32);
	assert_int_equal(r.entry, value);
	assert_true(value < GiB(4));
	check_real_segments(&m, &v, &r);
	check_common_result(&m, &r, cmdline);
	check_pvh_info(&m, &r);
	check_initrd(&m, &r, initrd, MiB(1) + 7, GUEST_REAL);
	check_gdt(&m, 0x00cf9b000000ffffULL);
	{
		struct mp_counts n;

		check_mptable(&m, 4, NULL, 0, &n);
		assert_int_equal(n.cpus, 4);
	}
	mem_close(&m);
	free(initrd);
}

/* The same vmlinux with its PVH note renamed: the 64-bit Linux entry with a zero page from scratch. */
static void test_real_vmlinux_elf64(void **state)
{
	static const char cmdline[] = "console=ttyS0";
	struct blob v = real_vmlinux(), copy;
	struct guest_mem m;
	struct loader_result r;
	char err[ERRLEN];
	size_t type_off;
	uint64_t value;
	int fd, rc;

	(void)state;
	assert_true(raw_pvh_note(&v, &type_off, &value));
	copy.len = v.len;
	copy.b = malloc(v.len);
	assert_non_null(copy.b);
	memcpy(copy.b, v.b, v.len);
	put32(copy.b + type_off, 0x7f); /* no longer PHYS32_ENTRY, in the segment and the section alike */
	fd = blob_fd(&copy);
	guest_new(&m, GUEST_REAL);
	rc = load_fd(&m, fd, OPTS(.cmdline = cmdline), &r, err);
	close(fd);
	if (rc != 0)
		fail_msg("vmlinux without PVH note: %s", err);
	assert_int_equal(r.kind, LOADER_ELF64);
	assert_int_equal(r.entry_mode, LOADER_ENTRY_LINUX64);
	assert_int_equal(r.entry, ((const Elf64_Ehdr *)v.b)->e_entry); /* phys_startup_64 */
	check_real_segments(&m, &copy, &r);
	check_common_result(&m, &r, cmdline);
	check_elf64_zero_page(&m, &r);
	check_page_tables(&m);
	check_gdt(&m, 0x00af9b000000ffffULL);
	mem_close(&m);
	free(copy.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bz_valid),
		cmocka_unit_test(test_bz_placement),
		cmocka_unit_test(test_bz_malformed),
		cmocka_unit_test(test_bz_initrd_max),
		cmocka_unit_test(test_elf64_valid),
		cmocka_unit_test(test_pvh_valid),
		cmocka_unit_test(test_elf_malformed),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_mptable),
		cmocka_unit_test(test_gdt_page_tables),
		cmocka_unit_test(test_two_regions),
		cmocka_unit_test(test_real_bzimage),
		cmocka_unit_test(test_real_vmlinux_pvh),
		cmocka_unit_test(test_real_vmlinux_elf64),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
