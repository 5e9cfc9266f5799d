/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The PVH start info (struct hvm_start_info, Xen's arch-x86/hvm/start_info.h),
 * its memory map, and the command line: bulkhead.* parameters and the
 * virtio_mmio.device= entries. Everything is copied out at once, before
 * anything writes low memory, and every address is checked against the map.
 */
#include "guest.h"

#define XEN_HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "hvm_memmap_table_entry layout");

struct boot_info boot;

int phys_mapped(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (len == 0 || end < addr)
		return 0;
	return end <= GiB(1) || (addr >= GiB(3) && end <= GiB(4));
}

int phys_is_ram(uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;
	unsigned int i;

	if (end < addr)
		return 0;
	for (i = 0; i < boot.nmem; i++) {
		const struct mem_region *r = &boot.mem[i];

		if (r->type == 1 && addr >= r->addr && end <= r->addr + r->size)
			return 1;
	}
	return 0;
}

/* next_token: the next space-separated token at or after *pos; returns its length, 0 at the end. */
static size_t next_token(const char **pos, const char **tok)
{
	const char *p = *pos;
	size_t n = 0;

	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	*tok = p;
	while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\n')
		n++;
	*pos = p + n;
	return n;
}

const char *param_get(const char *key, size_t *len)
{
	size_t klen = strlen(key), n;
	const char *pos = boot.cmdline, *tok, *found = NULL;

	while ((n = next_token(&pos, &tok)) != 0) {
		if (n > klen && tok[klen] == '=' && !strncmp(tok, key, klen)) {
			found = tok + klen + 1;
			*len = n - klen - 1;
		}
	}
	return found;
}

uint64_t param_u64(const char *key, uint64_t dflt)
{
	const char *v;
	size_t len;
	uint64_t out;

	v = param_get(key, &len);
	if (!v || parse_u64(v, len, 1, &out))
		return dflt;
	return out;
}

/* parse_device: "SIZE@ADDR:GSI[:ID]" (the Linux virtio_mmio.device= syntax). */
static int parse_device(const char *v, size_t len, struct mmio_dev *d)
{
	size_t at, colon, end;

	for (at = 0; at < len && v[at] != '@'; at++)
		;
	for (colon = at; colon < len && v[colon] != ':'; colon++)
		;
	for (end = colon + 1; end < len && v[end] != ':'; end++)
		;
	if (at >= len || colon >= len || end <= colon + 1)
		return -1;
	if (parse_u64(v, at, 1, &d->size) || parse_u64(v + at + 1, colon - at - 1, 0, &d->base))
		return -1;
	{
		uint64_t gsi;

		if (parse_u64(v + colon + 1, end - colon - 1, 0, &gsi) || gsi > 255)
			return -1;
		d->gsi = (uint32_t)gsi;
	}
	if (d->size == 0 || d->base + d->size < d->base)
		return -1;
	return 0;
}

static void parse_devices(void)
{
	static const char key[] = "virtio_mmio.device=";
	const char *pos = boot.cmdline, *tok;
	size_t n;

	while ((n = next_token(&pos, &tok)) != 0) {
		struct mmio_dev d;

		if (n <= sizeof(key) - 1 || strncmp(tok, key, sizeof(key) - 1))
			continue;
		if (parse_device(tok + sizeof(key) - 1, n - (sizeof(key) - 1), &d) ||
		    boot.ndev == nitems(boot.dev)) {
			boot.bad_params++;
			continue;
		}
		boot.dev[boot.ndev++] = d;
	}
}

void bootinfo_parse(void)
{
	const struct hvm_start_info *h;
	uint64_t si = pvh_start_info, i;

	if (!phys_mapped(si, sizeof(*h)))
		return;
	h = phys(si);
	if (h->magic != XEN_HVM_START_MAGIC)
		return;
	boot.start_info = si;
	boot.version = h->version;
	boot.cmdline_addr = h->cmdline_paddr;
	boot.rsdp_addr = h->rsdp_paddr;
	if (h->cmdline_paddr) {
		for (i = 0; i < CMDLINE_MAX - 1 && phys_mapped(h->cmdline_paddr + i, 1); i++) {
			char c = *(const char *)phys(h->cmdline_paddr + i);

			if (!c)
				break;
			boot.cmdline[i] = c;
		}
		boot.cmdline[i] = '\0';
	}
	if (h->version >= 1 && h->memmap_paddr && h->memmap_entries &&
	    phys_mapped(h->memmap_paddr, (uint64_t)h->memmap_entries * sizeof(struct hvm_memmap_entry))) {
		const struct hvm_memmap_entry *e = phys(h->memmap_paddr);

		boot.memmap_addr = h->memmap_paddr;
		for (i = 0; i < h->memmap_entries && boot.nmem < nitems(boot.mem); i++) {
			struct mem_region *r;

			if (!e[i].size)
				continue; /* qboot ends its map with an empty entry */
			r = &boot.mem[boot.nmem++];
			r->addr = e[i].addr;
			r->size = e[i].size;
			r->type = e[i].type;
			if (r->type == 1)
				boot.ram_bytes += r->size;
		}
	}
	parse_devices();
}

/* The bump allocator: from the end of the image to the end of its RAM region (at most 1 GiB,
 * the end of the identity map's low part). Everything the loader left is below 1 MiB. */
extern char _end[];
static uint64_t alloc_next, alloc_end;

static void alloc_init(void)
{
	uint64_t start = ((uint64_t)(uintptr_t)_end + 4095) & ~4095ull;
	unsigned int i;

	alloc_next = alloc_end = start;
	for (i = 0; i < boot.nmem; i++) {
		const struct mem_region *r = &boot.mem[i];

		if (r->type == 1 && start >= r->addr && start < r->addr + r->size) {
			alloc_end = r->addr + r->size;
			break;
		}
	}
	if (alloc_end > GiB(1))
		alloc_end = GiB(1);
}

void *phys_alloc(uint64_t size, uint64_t align)
{
	uint64_t a;

	if (!alloc_next)
		alloc_init();
	if (!align || (align & (align - 1)))
		return NULL;
	a = (alloc_next + align - 1) & ~(align - 1);
	if (a < alloc_next || a > alloc_end || size > alloc_end - a)
		return NULL;
	alloc_next = a + size;
	return phys(a);
}

uint64_t phys_alloc_left(void)
{
	if (!alloc_next)
		alloc_init();
	return alloc_end - alloc_next;
}
