/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * loader_load: check the arguments and guest memory, pick the image parser
 * from the first bytes of the file, place the initrd and the command line, and
 * write the boot structures the chosen entry needs.
 */
#include "loader_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOADER_HEAD 4096 /* enough bytes to recognise an ELF header or a setup header */

int loader_fail(struct loader_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

int loader_pread(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		size_t chunk = len - done;
		ssize_t n;

		if (chunk > GiB(1))
			chunk = GiB(1);
		if (off + done > (uint64_t)INT64_MAX)
			return -EINVAL;
		n = pread(fd, p + done, chunk, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file ended (or shrank) before len bytes */
		done += (size_t)n;
	}
	return 0;
}

int loader_copy_in(struct loader_ctx *c, const char *what, int fd, uint64_t gpa, uint64_t len, uint64_t off)
{
	uint8_t *p;
	int rc;

	if (len == 0)
		return 0;
	p = mem_ptr(c->mem, gpa, len);
	if (!p)
		return loader_fail(c, -EFAULT, "%s range [0x%llx, +0x%llx) is not guest RAM", what,
				   (unsigned long long)gpa, (unsigned long long)len);
	rc = loader_pread(fd, p, len, off);
	if (rc < 0)
		return loader_fail(c, rc == -EIO ? -EINVAL : rc, "%s: cannot read 0x%llx bytes at offset 0x%llx: %s",
				   what, (unsigned long long)len, (unsigned long long)off,
				   rc == -EIO ? "file is truncated" : strerror(-rc));
	return 0;
}

/*
 * RAM must start at 0 with more than the first MiB (the boot structures live
 * below 1 MiB, kernels above), stay below the MMIO hole, and be mapped; further
 * regions come above it, in order.
 */
static int loader_check_mem(struct loader_ctx *c)
{
	const struct guest_mem *m = c->mem;

	if (m->nregions < 1 || m->nregions > LAYOUT_MAX_MEM_REGIONS)
		return loader_fail(c, -EINVAL, "guest memory has %u regions", m->nregions);
	if (m->regions[0].gpa != 0 || m->regions[0].size <= LAYOUT_HIMEM_START ||
	    m->regions[0].size > LAYOUT_LOW_RAM_END)
		return loader_fail(c, -EINVAL, "guest low RAM must span [0, 1 MiB) and end by 0x%llx",
				   LAYOUT_LOW_RAM_END);
	for (unsigned int i = 0; i < m->nregions; i++) {
		const struct mem_region *r = &m->regions[i];

		if (!r->hva || r->size == 0 || r->gpa + r->size < r->gpa)
			return loader_fail(c, -EINVAL, "guest memory region %u is not mapped", i);
		if (i > 0 && r->gpa < m->regions[i - 1].gpa + m->regions[i - 1].size)
			return loader_fail(c, -EINVAL, "guest memory region %u is out of order", i);
	}
	c->low_end = m->regions[0].size;
	return 0;
}

static int loader_check_cmdline(struct loader_ctx *c)
{
	c->cmdline = c->a->cmdline ? c->a->cmdline : "";
	c->cmdline_len = strnlen(c->cmdline, LAYOUT_CMDLINE_MAX);
	if (c->cmdline_len >= LAYOUT_CMDLINE_MAX)
		return loader_fail(c, -EINVAL, "command line is longer than %llu bytes", LAYOUT_CMDLINE_MAX - 1);
	c->cmdline_max = LAYOUT_CMDLINE_MAX - 1;
	return 0;
}

static int loader_read_head(struct loader_ctx *c, uint8_t *head, size_t *len)
{
	struct stat st;
	int rc;

	if (fstat(c->a->kernel_fd, &st) < 0)
		return loader_fail(c, -errno, "cannot stat the kernel: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return loader_fail(c, -EINVAL, "kernel is not a regular file");
	if (st.st_size == 0)
		return loader_fail(c, -EINVAL, "kernel image is empty");
	if ((uint64_t)st.st_size > LOADER_MAX_KERNEL)
		return loader_fail(c, -EFBIG, "kernel image is larger than 1 GiB");
	if ((uint64_t)st.st_size > mem_total(c->mem))
		return loader_fail(c, -EFBIG, "kernel image (%lld bytes) is larger than guest RAM",
				   (long long)st.st_size);
	c->kernel_size = (uint64_t)st.st_size;
	*len = c->kernel_size < LOADER_HEAD ? c->kernel_size : LOADER_HEAD;
	rc = loader_pread(c->a->kernel_fd, head, *len, 0);
	if (rc < 0)
		return loader_fail(c, rc == -EIO ? -EINVAL : rc, "cannot read the kernel image");
	return 0;
}

/* The initrd goes as high as it can below the kernel's limit, page aligned, above the kernel. */
static int loader_load_initrd(struct loader_ctx *c, struct loader_result *out)
{
	uint64_t limit = c->initrd_limit < c->low_end ? c->initrd_limit : c->low_end;
	uint64_t floor = (out->kernel_end + LOADER_PAGE - 1) & ~(LOADER_PAGE - 1);
	uint64_t size, start;
	struct stat st;

	if (c->a->initrd_fd < 0)
		return 0;
	if (fstat(c->a->initrd_fd, &st) < 0)
		return loader_fail(c, -errno, "initrd is unreadable: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return loader_fail(c, -EINVAL, "initrd is not a regular file");
	if (st.st_size == 0)
		return loader_fail(c, -EINVAL, "initrd is empty");
	size = (uint64_t)st.st_size;
	if (size > limit || ((limit - size) & ~(LOADER_PAGE - 1)) < floor)
		return loader_fail(c, -ENOSPC, "initrd (%llu bytes) does not fit below 0x%llx",
				   (unsigned long long)size, (unsigned long long)(limit - 1));
	start = (limit - size) & ~(LOADER_PAGE - 1);
	out->initrd_start = start;
	out->initrd_size = size;
	return loader_copy_in(c, "initrd", c->a->initrd_fd, start, size, 0);
}

static int loader_write_cmdline(struct loader_ctx *c, struct loader_result *out)
{
	if (c->cmdline_len > c->cmdline_max)
		return loader_fail(c, -E2BIG, "command line is %zu bytes, the kernel accepts at most %llu",
				   c->cmdline_len, (unsigned long long)c->cmdline_max);
	if (mem_write(c->mem, LAYOUT_CMDLINE_ADDR, c->cmdline, c->cmdline_len + 1) < 0)
		return loader_fail(c, -EFAULT, "command line does not fit in guest memory");
	out->cmdline_addr = LAYOUT_CMDLINE_ADDR;
	return 0;
}

static int loader_load_kernel(struct loader_ctx *c, struct loader_result *out)
{
	uint8_t head[LOADER_HEAD];
	size_t len = 0;
	int rc;

	rc = loader_read_head(c, head, &len);
	if (rc < 0)
		return rc;
	if (kelf_probe(head, len))
		return kelf_load(c, out);
	if (bzimage_probe(head, len))
		return bzimage_load(c, out);
	return loader_fail(c, -EINVAL, "not a bzImage or ELF kernel");
}

static int loader_write_boot(struct loader_ctx *c, struct loader_result *out)
{
	int rc;

	if (out->entry_mode == LOADER_ENTRY_LINUX64) {
		rc = boot_write_params(c, out);
		if (rc == 0)
			rc = boot_write_page_tables(c);
		out->boot_info = LAYOUT_ZERO_PAGE_ADDR;
		out->cr3 = LAYOUT_PML4_ADDR;
	} else {
		rc = pvh_write_info(c, out);
		out->boot_info = LAYOUT_PVH_INFO_ADDR;
		out->cr3 = 0;
	}
	if (rc == 0)
		rc = boot_write_gdt(c, out->entry_mode);
	if (rc == 0)
		rc = mptable_write(c);
	/* PVH does not define a stack; a valid one costs nothing and helps early guest code. */
	out->stack = LAYOUT_BOOT_STACK;
	out->gdt_base = LAYOUT_GDT_ADDR;
	return rc;
}

int loader_load(const struct loader_args *a, const struct guest_mem *mem, struct loader_result *out, char *err,
		size_t errlen)
{
	struct loader_ctx c = { .a = a, .mem = mem, .err = err, .errlen = errlen };
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		return loader_fail(&c, -EINVAL, "no result buffer");
	memset(out, 0, sizeof(*out));
	if (!a || !mem)
		return loader_fail(&c, -EINVAL, "no arguments or guest memory");
	rc = loader_check_mem(&c);
	if (rc == 0)
		rc = loader_check_cmdline(&c);
	if (rc == 0)
		rc = mptable_check(&c);
	if (rc == 0)
		rc = loader_load_kernel(&c, out);
	if (rc == 0)
		rc = loader_load_initrd(&c, out);
	if (rc == 0)
		rc = loader_write_cmdline(&c, out);
	if (rc == 0)
		rc = loader_write_boot(&c, out);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

const char *loader_kind_name(enum loader_kind kind)
{
	switch (kind) {
	case LOADER_BZIMAGE:
		return "bzImage";
	case LOADER_ELF64:
		return "ELF";
	case LOADER_PVH:
		return "PVH";
	}
	return "unknown";
}
