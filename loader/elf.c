/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ELF kernels through libelf: a vmlinux (ELFCLASS64, EM_X86_64) entered at its
 * 64-bit entry point with a zero page built from scratch, as Firecracker does,
 * or any x86 ELF carrying Xen's PHYS32_ENTRY note, entered through PVH.
 * Segments are copied straight from the file into guest memory with pread.
 */
#include "loader_int.h"

#include <errno.h>
#include <gelf.h>
#include <libelf.h>

#define KELF_MAX_NOTES MiB(1) /* larger note segments or sections are not read */
#define KELF_PARAMS_VERSION 0x020f /* the boot protocol version the synthetic zero page claims */

struct kelf {
	Elf *e;
	int class; /* ELFCLASS32 or ELFCLASS64 */
	GElf_Ehdr eh;
	size_t phnum;
	bool pvh;
	uint32_t pvh_entry;
};

bool kelf_probe(const uint8_t *head, size_t len)
{
	return len >= SELFMAG && memcmp(head, ELFMAG, SELFMAG) == 0;
}

static int kelf_check_header(struct loader_ctx *c, struct kelf *k)
{
	size_t ehsize, phentsize;

	if (elf_kind(k->e) != ELF_K_ELF || !gelf_getehdr(k->e, &k->eh))
		return loader_fail(c, -EINVAL, "ELF header is truncated or invalid");
	k->class = k->eh.e_ident[EI_CLASS];
	if (k->class != ELFCLASS32 && k->class != ELFCLASS64)
		return loader_fail(c, -EINVAL, "ELF class %d is neither 32 nor 64-bit", k->class);
	ehsize = k->class == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	phentsize = k->class == ELFCLASS64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (c->kernel_size < ehsize)
		return loader_fail(c, -EINVAL, "ELF header is truncated");
	if (k->eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return loader_fail(c, -EINVAL, "ELF kernel is not little-endian");
	if (k->eh.e_type != ET_EXEC)
		return loader_fail(c, -EINVAL, "ELF kernel is not an executable (e_type %u)", k->eh.e_type);
	if (k->class == ELFCLASS64 && k->eh.e_machine != EM_X86_64)
		return loader_fail(c, -EINVAL, "ELF machine %u is not x86-64", k->eh.e_machine);
	if (k->class == ELFCLASS32 && k->eh.e_machine != EM_386 && k->eh.e_machine != EM_X86_64)
		return loader_fail(c, -EINVAL, "ELF machine %u is not x86", k->eh.e_machine);
	/* e_phnum itself: libelf's elf_getphdrnum quietly clamps it to what the file holds. */
	k->phnum = k->eh.e_phnum;
	if (k->phnum == 0)
		return loader_fail(c, -EINVAL, "ELF kernel has no program headers");
	if (k->phnum == PN_XNUM)
		return loader_fail(c, -EINVAL, "ELF kernel has too many program headers");
	if (k->eh.e_phentsize != phentsize || k->eh.e_phoff > c->kernel_size ||
	    k->phnum > (c->kernel_size - k->eh.e_phoff) / phentsize)
		return loader_fail(c, -EINVAL, "ELF program headers lie past the end of the file");
	return 0;
}

static bool kelf_in_file(const struct loader_ctx *c, uint64_t off, uint64_t len)
{
	return off <= c->kernel_size && len <= c->kernel_size - off;
}

/* Look for the Xen PHYS32_ENTRY note among the notes in d. */
static int kelf_scan_notes(struct loader_ctx *c, struct kelf *k, Elf_Data *d)
{
	size_t off = 0, next, name_off, desc_off;
	const uint8_t *buf = d->d_buf;
	GElf_Nhdr nh;

	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		off = next;
		if (nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY || nh.n_namesz != 4 || memcmp(buf + name_off, "Xen", 4))
			continue;
		if (nh.n_descsz < 4)
			return loader_fail(c, -EINVAL, "PVH entry note has no 32-bit value");
		/* Linux emits the value as a pointer-sized word: 8 bytes on x86-64. */
		if (nh.n_descsz >= 8 && le_get32(buf + desc_off + 4) != 0)
			return loader_fail(c, -EINVAL, "PVH entry point 0x%llx is not a 32-bit address",
					   (unsigned long long)le_get64(buf + desc_off));
		k->pvh = true;
		k->pvh_entry = le_get32(buf + desc_off);
		return 0;
	}
	return 0;
}

static int kelf_scan_segment_notes(struct loader_ctx *c, struct kelf *k)
{
	for (size_t i = 0; i < k->phnum && !k->pvh; i++) {
		GElf_Phdr ph;
		Elf_Data *d;
		int rc;

		if (!gelf_getphdr(k->e, (int)i, &ph))
			return loader_fail(c, -EINVAL, "cannot read ELF program header %zu", i);
		if (ph.p_type != PT_NOTE || ph.p_filesz == 0)
			continue;
		if (!kelf_in_file(c, ph.p_offset, ph.p_filesz) || ph.p_filesz > KELF_MAX_NOTES)
			return loader_fail(c, -EINVAL, "ELF note segment %zu lies past the end of the file", i);
		d = elf_getdata_rawchunk(k->e, (int64_t)ph.p_offset, ph.p_filesz,
					 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
		if (!d)
			return loader_fail(c, -EINVAL, "cannot read ELF note segment %zu: %s", i, elf_errmsg(-1));
		rc = kelf_scan_notes(c, k, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Section notes are a fallback: a broken section table only means there are none. */
static int kelf_scan_section_notes(struct loader_ctx *c, struct kelf *k)
{
	Elf_Scn *scn = NULL;
	size_t shnum;

	if (elf_getshdrnum(k->e, &shnum) < 0 || shnum == 0)
		return 0;
	while (!k->pvh && (scn = elf_nextscn(k->e, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *d;
		int rc;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || sh.sh_size == 0)
			continue;
		if (!kelf_in_file(c, sh.sh_offset, sh.sh_size) || sh.sh_size > KELF_MAX_NOTES)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			continue;
		rc = kelf_scan_notes(c, k, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int kelf_load_segment(struct loader_ctx *c, size_t i, const GElf_Phdr *ph, struct loader_result *out)
{
	uint64_t end;
	uint8_t *p;
	int rc;

	if (ph->p_filesz > ph->p_memsz)
		return loader_fail(c, -EINVAL, "ELF segment %zu has p_filesz 0x%llx > p_memsz 0x%llx", i,
				   (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (!kelf_in_file(c, ph->p_offset, ph->p_filesz))
		return loader_fail(c, -EINVAL, "ELF segment %zu lies past the end of the file", i);
	if (ph->p_memsz == 0)
		return 0;
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &end))
		return loader_fail(c, -EINVAL, "ELF segment %zu wraps around the address space", i);
	/* Below 1 MiB live the GDT, zero page, page tables and MP table. */
	if (ph->p_paddr < LAYOUT_HIMEM_START)
		return loader_fail(c, -EINVAL, "ELF segment %zu at 0x%llx overlaps the boot area below 1 MiB", i,
				   (unsigned long long)ph->p_paddr);
	p = mem_ptr(c->mem, ph->p_paddr, ph->p_memsz);
	if (!p || end > c->low_end)
		return loader_fail(c, -EINVAL, "ELF segment %zu lies outside guest memory", i);
	rc = loader_copy_in(c, "kernel", c->a->kernel_fd, ph->p_paddr, ph->p_filesz, ph->p_offset);
	if (rc < 0)
		return rc;
	/* The rest (bss) is zero already (loader_load's contract): writing zeros would only
	 * allocate its pages now (a MiB of the test guest's, 0.6 ms of the start). */
	if (out->kernel_end == 0 || ph->p_paddr < out->kernel_start)
		out->kernel_start = ph->p_paddr;
	if (end > out->kernel_end)
		out->kernel_end = end;
	return 0;
}

static int kelf_load_segments(struct loader_ctx *c, struct kelf *k, struct loader_result *out)
{
	for (size_t i = 0; i < k->phnum; i++) {
		GElf_Phdr ph;
		int rc;

		if (!gelf_getphdr(k->e, (int)i, &ph))
			return loader_fail(c, -EINVAL, "cannot read ELF program header %zu", i);
		if (ph.p_type != PT_LOAD)
			continue;
		rc = kelf_load_segment(c, i, &ph, out);
		if (rc < 0)
			return rc;
	}
	if (out->kernel_end == 0)
		return loader_fail(c, -EINVAL, "ELF kernel has no loadable segment");
	return 0;
}

/*
 * The physical entry point: an address inside a loaded segment as is, or a
 * virtual address inside one (a vmlinux linked at __START_KERNEL_map)
 * translated through that segment.
 */
static int kelf_entry(struct loader_ctx *c, struct kelf *k, uint64_t entry, bool virt_ok, uint64_t *phys)
{
	for (int pass = 0; pass < (virt_ok ? 2 : 1); pass++) {
		for (size_t i = 0; i < k->phnum; i++) {
			GElf_Phdr ph;
			uint64_t base;

			if (!gelf_getphdr(k->e, (int)i, &ph) || ph.p_type != PT_LOAD || ph.p_memsz == 0)
				continue;
			base = pass == 0 ? ph.p_paddr : ph.p_vaddr;
			if (entry < base || entry - base >= ph.p_memsz)
				continue;
			*phys = ph.p_paddr + (entry - base);
			return 0;
		}
	}
	return loader_fail(c, -EINVAL, "ELF entry point 0x%llx is not in a loaded segment",
			   (unsigned long long)entry);
}

/* A zero page from scratch for a vmlinux: just what startup_64 reads. */
static void kelf_start_params(struct loader_ctx *c)
{
	uint8_t *zp = c->zp;

	memset(zp, 0, sizeof(c->zp));
	le_put16(zp + HDR_BOOT_FLAG, BZ_BOOT_FLAG);
	le_put32(zp + HDR_HEADER, BZ_HDRS);
	le_put16(zp + HDR_VERSION, KELF_PARAMS_VERSION);
	zp[HDR_TYPE_OF_LOADER] = BZ_LOADER_UNDEFINED;
	zp[HDR_LOADFLAGS] = BZ_LOADED_HIGH;
	le_put32(zp + HDR_CMDLINE_SIZE, (uint32_t)c->cmdline_max);
}

static int kelf_load_elf(struct loader_ctx *c, struct kelf *k, struct loader_result *out)
{
	uint64_t entry = 0;
	int rc;

	rc = kelf_check_header(c, k);
	if (rc == 0)
		rc = kelf_scan_segment_notes(c, k);
	if (rc == 0 && !k->pvh)
		rc = kelf_scan_section_notes(c, k);
	if (rc < 0)
		return rc;
	if (!k->pvh && k->class != ELFCLASS64)
		return loader_fail(c, -EINVAL, "32-bit ELF kernel without a PVH entry note");
	rc = kelf_load_segments(c, k, out);
	if (rc < 0)
		return rc;
	rc = kelf_entry(c, k, k->pvh ? k->pvh_entry : k->eh.e_entry, !k->pvh, &entry);
	if (rc < 0)
		return rc;
	out->entry = entry;
	c->initrd_limit = c->low_end;
	if (k->pvh) {
		out->kind = LOADER_PVH;
		out->entry_mode = LOADER_ENTRY_PVH32;
	} else {
		out->kind = LOADER_ELF64;
		out->entry_mode = LOADER_ENTRY_LINUX64;
		kelf_start_params(c);
	}
	return 0;
}

int kelf_load(struct loader_ctx *c, struct loader_result *out)
{
	struct kelf k = { 0 };
	int rc;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return loader_fail(c, -EINVAL, "libelf is out of date: %s", elf_errmsg(-1));
	k.e = elf_begin(c->a->kernel_fd, ELF_C_READ, NULL);
	if (!k.e)
		return loader_fail(c, -EINVAL, "ELF kernel is unreadable: %s", elf_errmsg(-1));
	rc = kelf_load_elf(c, &k, out);
	elf_end(k.e);
	return rc;
}
