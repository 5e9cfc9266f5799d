/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/log.h"

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << 26) /* log2(2 MiB) << MFD_HUGE_SHIFT */
#endif

#define MEM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define THP_SHMEM_PATH "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define HUGETLB_POOL_PATH "/sys/kernel/mm/hugepages/hugepages-2048kB/"

int mem_layout(struct guest_mem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	for (unsigned int i = 0; i < LAYOUT_MAX_MEM_REGIONS; i++)
		m->regions[i].fd = -1;
	if (size == 0 || size % 4096)
		return -EINVAL;
	if (size > LAYOUT_LOW_RAM_END &&
	    size - LAYOUT_LOW_RAM_END > UINT64_MAX - LAYOUT_HIGH_RAM_START)
		return -EINVAL;
	m->regions[0].gpa = 0;
	m->regions[0].size = size < LAYOUT_LOW_RAM_END ? size : LAYOUT_LOW_RAM_END;
	m->nregions = 1;
	if (size > LAYOUT_LOW_RAM_END) {
		m->regions[1].gpa = LAYOUT_HIGH_RAM_START;
		m->regions[1].size = size - LAYOUT_LOW_RAM_END;
		m->nregions = 2;
	}
	return 0;
}

int mem_use_hugetlb(struct guest_mem *m)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		if (m->regions[i].size % MEM_HUGE_PAGE_SIZE)
			return -EINVAL;
	}
	m->hugetlb = 1;
	return 0;
}

static int memfd_sealed(const char *label, uint64_t size, unsigned int flags)
{
	int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING | flags);
	int err;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, MEM_SEALS) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int mem_create_sealed(const char *label, uint64_t size)
{
	return memfd_sealed(label, size, 0);
}

int mem_create(struct guest_mem *m, const char *name)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		struct mem_region *r = &m->regions[i];
		char label[64];
		int fd;

		snprintf(label, sizeof(label), "%s-ram%u", name, i);
		fd = memfd_sealed(label, r->size, m->hugetlb ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
		if (fd < 0)
			return fd;
		r->fd = fd;
	}
	return 0;
}

int mem_check_fd(int fd, uint64_t size)
{
	struct stat st;
	int seals;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return -errno;
	if ((seals & MEM_SEALS) != MEM_SEALS)
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return -EINVAL;
	return 0;
}

static int is_hugetlbfs(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && sfs.f_type == HUGETLBFS_MAGIC;
}

static int map_region(struct mem_region *r)
{
	int huge = is_hugetlbfs(r->fd);
	void *p;

	p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | (huge ? 0 : MAP_NORESERVE),
		 r->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r->hva = p;
	/* EINVAL: a kernel without transparent huge pages; the advice is moot there. */
	if (!huge && madvise(p, r->size, MADV_HUGEPAGE) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

int mem_map(struct guest_mem *m)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		int err = map_region(&m->regions[i]);

		if (err < 0) {
			mem_unmap(m);
			return err;
		}
	}
	return 0;
}

void mem_unmap(struct guest_mem *m)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		struct mem_region *r = &m->regions[i];

		if (r->hva)
			munmap(r->hva, r->size);
		r->hva = NULL;
	}
}

void mem_close(struct guest_mem *m)
{
	mem_unmap(m);
	for (unsigned int i = 0; i < m->nregions; i++) {
		if (m->regions[i].fd >= 0)
			close(m->regions[i].fd);
		m->regions[i].fd = -1;
	}
}

uint64_t mem_total(const struct guest_mem *m)
{
	uint64_t total = 0;

	for (unsigned int i = 0; i < m->nregions; i++)
		total += m->regions[i].size;
	return total;
}

enum mem_thp mem_thp_parse(const char *text)
{
	static const char *const names[] = {
		[MEM_THP_NEVER] = "never", [MEM_THP_ADVISE] = "advise",
		[MEM_THP_WITHIN_SIZE] = "within_size", [MEM_THP_ALWAYS] = "always",
		[MEM_THP_DENY] = "deny", [MEM_THP_FORCE] = "force",
	};
	const char *open = strchr(text, '['), *close;

	if (!open || !(close = strchr(open, ']')))
		return MEM_THP_NONE;
	open++;
	for (size_t i = MEM_THP_NEVER; i < nitems(names); i++) {
		if (strlen(names[i]) == (size_t)(close - open) && memcmp(names[i], open, close - open) == 0)
			return (enum mem_thp)i;
	}
	return MEM_THP_NONE;
}

/* The first line of a small sysfs file, NUL-terminated; 0 or -errno. */
static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return 0;
}

enum mem_thp mem_thp_host(void)
{
	char text[128];

	if (read_small(THP_SHMEM_PATH, text, sizeof(text)) < 0)
		return MEM_THP_NONE;
	return mem_thp_parse(text);
}

static int read_count(const char *name, uint64_t *v)
{
	char text[32], *end;
	int err = read_small(name, text, sizeof(text));

	if (err < 0)
		return err;
	errno = 0;
	*v = strtoull(text, &end, 10);
	if (errno || end == text || (*end != '\n' && *end != '\0'))
		return -EINVAL;
	return 0;
}

int mem_hugetlb_pool_read(struct mem_hugetlb_pool *p)
{
	int err = read_count(HUGETLB_POOL_PATH "nr_hugepages", &p->total);

	if (err == 0)
		err = read_count(HUGETLB_POOL_PATH "free_hugepages", &p->free);
	if (err == 0)
		err = read_count(HUGETLB_POOL_PATH "resv_hugepages", &p->resv);
	return err;
}

void mem_describe(const struct guest_mem *m, enum mem_thp thp, char *buf, size_t len)
{
	unsigned long long mib = mem_total(m) >> 20;

	if (m->hugetlb) {
		snprintf(buf, len, "guest RAM: %llu MiB on 2 MiB huge pages (hugetlbfs)", mib);
		return;
	}
	switch (thp) {
	case MEM_THP_ADVISE:
	case MEM_THP_WITHIN_SIZE:
		snprintf(buf, len, "guest RAM: %llu MiB, transparent huge pages advised "
			 "(MADV_HUGEPAGE; shmem_enabled is %s)", mib,
			 thp == MEM_THP_ADVISE ? "advise" : "within_size");
		return;
	case MEM_THP_ALWAYS:
	case MEM_THP_FORCE:
		snprintf(buf, len, "guest RAM: %llu MiB, transparent huge pages (shmem_enabled is %s)",
			 mib, thp == MEM_THP_ALWAYS ? "always" : "force");
		return;
	case MEM_THP_NEVER:
	case MEM_THP_DENY:
		snprintf(buf, len, "guest RAM: %llu MiB on 4 KiB pages (shmem_enabled is %s: "
			 "--memory hugepages=on, or shmem_enabled advise, gives 2 MiB pages)", mib,
			 thp == MEM_THP_NEVER ? "never" : "deny");
		return;
	case MEM_THP_NONE:
		break;
	}
	snprintf(buf, len, "guest RAM: %llu MiB on 4 KiB pages (the host kernel has no "
		 "transparent huge pages for shmem)", mib);
}

void mem_hugetlb_advice(const struct guest_mem *m, const struct mem_hugetlb_pool *pool,
			char *buf, size_t len)
{
	uint64_t need = mem_total(m) / MEM_HUGE_PAGE_SIZE;
	uint64_t avail = pool->free > pool->resv ? pool->free - pool->resv : 0;
	uint64_t want = pool->total + (need > avail ? need - avail : 0);

	snprintf(buf, len, "%llu MiB of guest RAM need %llu free 2 MiB huge pages and the host has "
		 "%llu (vm.nr_hugepages=%llu); reserve more with 'sysctl vm.nr_hugepages=%llu'",
		 (unsigned long long)(mem_total(m) >> 20), (unsigned long long)need,
		 (unsigned long long)avail, (unsigned long long)pool->total,
		 (unsigned long long)want);
}

void *mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		len = 1;
	for (unsigned int i = 0; i < m->nregions && i < LAYOUT_MAX_MEM_REGIONS; i++) {
		const struct mem_region *r = &m->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* off < size and len <= size - off, written so nothing can overflow */
		if (off >= r->size || len > r->size - off)
			continue;
		if (!r->hva)
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

int mem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int mem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	const void *p = mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}
