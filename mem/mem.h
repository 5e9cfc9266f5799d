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
	int hugetlb; /* mem_use_hugetlb: mem_create makes hugetlbfs memfds */
};

#define MEM_HUGE_PAGE_SIZE MiB(2)

/* The host's /sys/kernel/mm/transparent_hugepage/shmem_enabled: which memfds get THP. */
enum mem_thp {
	MEM_THP_NONE = 0, /* no such file: a kernel without THP (or unreadable) */
	MEM_THP_NEVER,
	MEM_THP_ADVISE, /* only mappings with MADV_HUGEPAGE */
	MEM_THP_WITHIN_SIZE, /* within i_size, and mappings with MADV_HUGEPAGE */
	MEM_THP_ALWAYS,
	MEM_THP_DENY, /* never, whatever a mapping asks (testing) */
	MEM_THP_FORCE, /* always (testing) */
};

/* The host's pool of 2 MiB huge pages (/sys/kernel/mm/hugepages/hugepages-2048kB). */
struct mem_hugetlb_pool {
	uint64_t total; /* nr_hugepages */
	uint64_t free; /* free_hugepages, reserved ones included */
	uint64_t resv; /* resv_hugepages: promised to mappings, not yet used */
};

/* mem_layout: split size bytes of RAM into regions below and above the MMIO hole (no fds, no mapping). */
int mem_layout(struct guest_mem *m, uint64_t size) __attribute__((warn_unused_result));
/*
 * mem_use_hugetlb: back m's regions (after mem_layout, before mem_create) with
 * 2 MiB hugetlbfs pages; -EINVAL unless every region is a multiple of 2 MiB.
 */
int mem_use_hugetlb(struct guest_mem *m) __attribute__((warn_unused_result));
/* mem_create: create one sealed memfd per region of m (after mem_layout); name labels them. */
int mem_create(struct guest_mem *m, const char *name) __attribute__((warn_unused_result));
/* mem_create_sealed: a memfd named label of size bytes, sealed as guest RAM is; fd or -errno. */
int mem_create_sealed(const char *label, uint64_t size) __attribute__((warn_unused_result));
/* mem_check_fd: verify fd is a memfd of exactly size bytes sealed against shrink, grow and reseal. */
int mem_check_fd(int fd, uint64_t size) __attribute__((warn_unused_result));
/*
 * mem_map: mmap every region MAP_SHARED read/write. A hugetlbfs region is
 * mapped with its reservation (the first mapping reserves every huge page, so
 * a host short of them fails here with -ENOMEM, never with SIGBUS later);
 * any other gets MADV_HUGEPAGE, which the host honours per shmem_enabled.
 */
int mem_map(struct guest_mem *m) __attribute__((warn_unused_result));
/* mem_unmap: undo mem_map (fds stay open). */
void mem_unmap(struct guest_mem *m);
/* mem_close: unmap and close every fd. */
void mem_close(struct guest_mem *m);
/* mem_total: bytes of RAM in all regions. */
uint64_t mem_total(const struct guest_mem *m);
/* mem_thp_parse: the selected ("[advise]") setting in the text of shmem_enabled. */
enum mem_thp mem_thp_parse(const char *text);
/* mem_thp_host: the host's shmem_enabled setting. */
enum mem_thp mem_thp_host(void);
/* mem_hugetlb_pool_read: the host's 2 MiB pool; 0 or -errno. */
int mem_hugetlb_pool_read(struct mem_hugetlb_pool *p) __attribute__((warn_unused_result));
/*
 * mem_describe: one line into buf saying which pages m's RAM gets and why,
 * given the host's shmem_enabled setting thp.
 */
void mem_describe(const struct guest_mem *m, enum mem_thp thp, char *buf, size_t len);
/*
 * mem_hugetlb_advice: why pool cannot back m's RAM with huge pages, and the
 * sysctl that would; for the one-line error when mem_map fails with -ENOMEM.
 */
void mem_hugetlb_advice(const struct guest_mem *m, const struct mem_hugetlb_pool *pool,
			char *buf, size_t len);
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
