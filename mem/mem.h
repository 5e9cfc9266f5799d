/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory: the memfd regions and the one translation function every
 * guest-physical address goes through.
 */
#ifndef BULKHEAD_MEM_MEM_H
#define BULKHEAD_MEM_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "../common/layout.h"

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva; /* NULL until mapped */
	int fd;
};

struct guest_mem {
	struct mem_region regions[LAYOUT_MAX_MEM_REGIONS];
	unsigned int nregions;
};

/* mem_layout: split size bytes of RAM into regions below and above the MMIO hole (no fds, no mapping). */
int mem_layout(struct guest_mem *m, uint64_t size) __attribute__((warn_unused_result));
/* mem_create: create one sealed memfd per region of m (after mem_layout); name labels them. */
int mem_create(struct guest_mem *m, const char *name) __attribute__((warn_unused_result));
/* mem_create_sealed: a memfd named label of size bytes, sealed as guest RAM is; fd or -errno. */
int mem_create_sealed(const char *label, uint64_t size) __attribute__((warn_unused_result));
/* mem_check_fd: verify fd is a memfd of exactly size bytes sealed against shrink, grow and reseal. */
int mem_check_fd(int fd, uint64_t size) __attribute__((warn_unused_result));
/* mem_map: mmap every region MAP_SHARED read/write. */
int mem_map(struct guest_mem *m) __attribute__((warn_unused_result));
/* mem_unmap: undo mem_map (fds stay open). */
void mem_unmap(struct guest_mem *m);
/* mem_close: unmap and close every fd. */
void mem_close(struct guest_mem *m);
/* mem_total: bytes of RAM in all regions. */
uint64_t mem_total(const struct guest_mem *m);
/*
 * mem_ptr: host pointer for [gpa, gpa+len) if that whole range lies in one
 * mapped region, else NULL. The only way any process turns a guest address into
 * a pointer. len 0 is treated as 1.
 */
void *mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);
/* mem_write/mem_read: copy to/from guest memory; -EFAULT if out of range. */
int mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
	__attribute__((warn_unused_result));
int mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
	__attribute__((warn_unused_result));

#endif
