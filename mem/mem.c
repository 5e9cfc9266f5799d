/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MEM_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

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

int mem_create_sealed(const char *label, uint64_t size)
{
	int fd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
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

int mem_create(struct guest_mem *m, const char *name)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		struct mem_region *r = &m->regions[i];
		char label[64];
		int fd;

		snprintf(label, sizeof(label), "%s-ram%u", name, i);
		fd = mem_create_sealed(label, r->size);
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

int mem_map(struct guest_mem *m)
{
	for (unsigned int i = 0; i < m->nregions; i++) {
		struct mem_region *r = &m->regions[i];
		void *p;

		p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, r->fd, 0);
		if (p == MAP_FAILED) {
			int err = -errno;

			mem_unmap(m);
			return err;
		}
		r->hva = p;
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
