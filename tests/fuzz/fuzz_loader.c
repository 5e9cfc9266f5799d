/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_loader: loader_load (loader/: bzImage, ELF vmlinux, PVH ELF, and the
 * boot structures) on a kernel image from the input, into a 64 MiB memfd
 * guest (pages are only touched where the loader writes) with, optionally,
 * a second 64 KiB region above 4 GiB.
 *
 * Input: a 16-byte header, then the kernel image (the rest of the input):
 *   u8  flags: bit 0 an initrd, bit 1 a high RAM region, bit 2 ACPI RSDP
 *   u8  vCPUs (0 .. 255; the loader must refuse 0 and too many)
 *   u8  devices (% 20), each at the next virtio-mmio window
 *   u8  GSI of the first device (the others follow it)
 *   u32 initrd size (% 4 MiB, sparse; refused when it does not fit)
 *   u16 command line length (% 512), then
 *   u8  command line byte (repeated; a NUL in it ends the line early)
 *   u8  pad, u32 pad
 *
 * Checked: 0 or a negative errno with a one-line reason; on success the
 * result is coherent (entry and kernel inside low RAM, initrd above the
 * kernel and inside RAM, the boot info where the layout says) and the
 * command line is in guest memory; on failure the result is all zero.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/layout.h"
#include "fz.h"
#include "loader/loader.h"
#include "mem/mem.h"

#define LOW_RAM MiB(64)
#define HIGH_RAM KiB(64)

static struct guest_mem gm;
static int kfd = -1, ifd = -1;
static char cmdline[512];

static void region(struct mem_region *r, uint64_t gpa, uint64_t size, const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);
	void *p;

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		fz_fail("guest region");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		fz_fail("mmap guest region");
	r->gpa = gpa;
	r->size = size;
	r->hva = p;
	r->fd = fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct loader_device devs[20];
	struct loader_result res;
	struct loader_args a;
	char err[256];
	uint8_t flags, ndev, gsi, fill;
	uint32_t isize;
	uint16_t clen;
	const uint8_t *img;
	size_t ilen;
	struct fz in;
	int rc;

	if (kfd < 0) {
		region(&gm.regions[0], 0, LOW_RAM, "fuzz-loader-low");
		region(&gm.regions[1], LAYOUT_HIGH_RAM_START, HIGH_RAM, "fuzz-loader-high");
		kfd = memfd_create("fuzz-kernel", MFD_CLOEXEC);
		ifd = memfd_create("fuzz-initrd", MFD_CLOEXEC);
		if (kfd < 0 || ifd < 0)
			fz_fail("memfd_create");
	}
	fz_init(&in, data, size);
	flags = fz_u8(&in);
	memset(&a, 0, sizeof(a));
	a.nvcpus = fz_u8(&in);
	ndev = fz_u8(&in) % 20;
	gsi = fz_u8(&in);
	isize = fz_u32(&in) % (uint32_t)MiB(4);
	clen = fz_u16(&in) % sizeof(cmdline);
	fill = fz_u8(&in);
	(void)fz_u8(&in);
	(void)fz_u32(&in);
	img = fz_rest(&in, &ilen);

	gm.nregions = (flags & 2) ? 2 : 1;
	memset(cmdline, fill ? fill : 'x', clen);
	cmdline[clen] = '\0';
	for (unsigned int i = 0; i < ndev; i++) {
		devs[i].base = LAYOUT_VIRTIO_MMIO_BASE + LAYOUT_VIRTIO_MMIO_SIZE * i;
		devs[i].gsi = (uint32_t)gsi + i;
	}
	if (ftruncate(kfd, 0) < 0 || (ilen && pwrite(kfd, img, ilen, 0) != (ssize_t)ilen))
		fz_fail("writing the kernel image");
	if (ftruncate(ifd, 0) < 0 || ftruncate(ifd, (off_t)isize) < 0)
		fz_fail("sizing the initrd");
	a.kernel_fd = kfd;
	a.initrd_fd = (flags & 1) ? ifd : -1;
	a.cmdline = cmdline;
	a.devices = devs;
	a.ndevices = ndev;
	a.rsdp = (flags & 4) ? LAYOUT_ACPI_ADDR : 0;
	memset(err, 0x7e, sizeof(err));
	memset(&res, 0x5a, sizeof(res));
	rc = loader_load(&a, &gm, &res, err, sizeof(err));
	if (getenv("BH_FUZZ_VERBOSE"))
		fprintf(stderr, "loader_load: %d %s: kind %d entry 0x%llx kernel [0x%llx, 0x%llx) initrd 0x%llx+0x%llx\n",
			rc, rc < 0 ? err : "ok", (int)res.kind, (unsigned long long)res.entry,
			(unsigned long long)res.kernel_start, (unsigned long long)res.kernel_end,
			(unsigned long long)res.initrd_start, (unsigned long long)res.initrd_size);
	if (rc < 0) {
		static const struct loader_result zero;

		FZ_CHECK(rc >= -4095, "loader_load returned %d", rc);
		FZ_CHECK(strnlen(err, sizeof(err)) < sizeof(err) && err[0], "failure %d without a reason", rc);
		for (const char *s = err; *s; s++)
			FZ_CHECK((unsigned char)*s >= 0x20 || *s == '\t', "control byte in \"%s\"", err);
		FZ_CHECK(memcmp(&res, &zero, sizeof(res)) == 0, "failure left a result behind");
		return 0;
	}
	FZ_CHECK(rc == 0, "loader_load returned %d", rc);
	FZ_CHECK(res.kind == LOADER_BZIMAGE || res.kind == LOADER_ELF64 || res.kind == LOADER_PVH, "kind %d",
		 (int)res.kind);
	FZ_CHECK((res.entry_mode == LOADER_ENTRY_PVH32) == (res.kind == LOADER_PVH), "entry mode %d for kind %d",
		 (int)res.entry_mode, (int)res.kind);
	FZ_CHECK(res.kernel_start >= LAYOUT_HIMEM_START && res.kernel_start < res.kernel_end &&
			 res.kernel_end <= LOW_RAM,
		 "kernel at [0x%llx, 0x%llx)", (unsigned long long)res.kernel_start,
		 (unsigned long long)res.kernel_end);
	FZ_CHECK(res.entry < LOW_RAM, "entry 0x%llx outside low RAM", (unsigned long long)res.entry);
	if (res.kind == LOADER_PVH)
		FZ_CHECK(res.entry <= 0xffffffffull && res.boot_info == LAYOUT_PVH_INFO_ADDR && res.cr3 == 0,
			 "PVH entry 0x%llx boot info 0x%llx", (unsigned long long)res.entry,
			 (unsigned long long)res.boot_info);
	else
		FZ_CHECK(res.boot_info == LAYOUT_ZERO_PAGE_ADDR && res.cr3 == LAYOUT_PML4_ADDR,
			 "Linux boot info 0x%llx cr3 0x%llx", (unsigned long long)res.boot_info,
			 (unsigned long long)res.cr3);
	if (flags & 1) {
		FZ_CHECK(res.initrd_size == isize, "initrd of %u bytes loaded as %llu", isize,
			 (unsigned long long)res.initrd_size);
		FZ_CHECK(res.initrd_start >= res.kernel_end && res.initrd_start % 4096 == 0 &&
				 res.initrd_start + res.initrd_size <= LOW_RAM,
			 "initrd at [0x%llx, +0x%llx) with the kernel ending at 0x%llx",
			 (unsigned long long)res.initrd_start, (unsigned long long)res.initrd_size,
			 (unsigned long long)res.kernel_end);
	} else {
		FZ_CHECK(res.initrd_start == 0 && res.initrd_size == 0, "an initrd appeared");
	}
	FZ_CHECK(res.cmdline_addr == LAYOUT_CMDLINE_ADDR &&
			 memcmp(gm.regions[0].hva + LAYOUT_CMDLINE_ADDR, cmdline, strlen(cmdline) + 1) == 0,
		 "command line not at 0x%llx", (unsigned long long)res.cmdline_addr);
	return 0;
}
