/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_blk: the virtio-blk request path (devices/blk/blk.c over the real
 * transport and virtqueue) in this process, against a memfd image and
 * memfd guest memory, driven by the hostile driver of fzv.c.
 *
 * Input: u8 flags (bit 0 read-only, bit 1 direct; bit 2: the image is a
 * file opened with O_DIRECT in $TMPDIR or /var/tmp, where the file system
 * allows it, so unaligned guest buffers take the bounce-buffer path), u8
 * image size code (4096 * (code % 64 + 1) bytes), u8 serial length, serial
 * bytes, then fzv ops.
 *
 * Checked after every op: the register mirror matches the device (queue
 * layout registers cannot change under a live queue, FEATURES_OK only for an
 * acceptable set), live rings are exactly where the registers say, the image
 * keeps its size; after the input: the device wrote no guest byte outside
 * used rings and device-writable buffers. Sanitizers catch the rest;
 * libFuzzer's -timeout catches a device that spins.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/blk/blk.h"
#include "fz.h"
#include "fzv.h"
#include "fzv_dev.h"

static struct guest_mem gm;
static struct blk blk;
static struct fzv drv;
static int img_fd = -1;
static int dio_fd = -2; /* -2: not tried yet; -1: the file system refuses O_DIRECT */
static uint64_t img_size;
static unsigned long irqs;

static void on_irq(struct virtio_dev *vd)
{
	(void)vd;
	irqs++;
}

static uint64_t be_read(void *ctx, uint64_t off, unsigned int size)
{
	(void)ctx;
	return virtio_mmio_read(&blk.vd, off, size);
}

static void be_write(void *ctx, uint64_t off, unsigned int size, uint64_t val)
{
	(void)ctx;
	virtio_mmio_write(&blk.vd, off, size, val);
}

static void be_kick(void *ctx, unsigned int q)
{
	(void)ctx;
	virtio_kick(&blk.vd, q);
}

static void be_after(void *ctx)
{
	struct stat st;

	(void)ctx;
	fzv_check_transport(&blk.vd, &drv, &gm);
	FZ_CHECK(fstat(blk.fd, &st) == 0 && (uint64_t)st.st_size == img_size,
		 "image is %lld bytes, was %llu", (long long)st.st_size, (unsigned long long)img_size);
}

static const struct fzv_backend backend = {
	.nqueues = 1,
	.io_read = be_read,
	.io_write = be_write,
	.kick = be_kick,
	.after_op = be_after,
};

/* A file opened with O_DIRECT, unlinked at once; -1 where the file system refuses. */
static int open_direct(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/bulkhead-fuzz-blk-XXXXXX", dir && *dir ? dir : "/var/tmp");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	unlink(path);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char serial[IPC_BLK_SERIAL_MAX + 1];
	char why[256];
	uint8_t flags, code, slen;
	struct fz in;
	int fd;

	if (img_fd < 0) {
		fzv_guest(&gm, FZV_MEM_SIZE, "fuzz-blk");
		img_fd = memfd_create("fuzz-blk-image", MFD_CLOEXEC);
		if (img_fd < 0)
			fz_fail("memfd_create");
		fzv_init(&drv, &backend, gm.regions[0].hva, FZV_MEM_SIZE);
	}
	fz_init(&in, data, size);
	flags = fz_u8(&in);
	code = fz_u8(&in);
	slen = fz_u8(&in) % (IPC_BLK_SERIAL_MAX + 1);
	memset(serial, 0, sizeof(serial));
	fz_take(&in, serial, slen);
	img_size = 4096ull * (code % 64 + 1);
	fd = img_fd;
	if (flags & 4) {
		if (dio_fd == -2)
			dio_fd = open_direct();
		if (dio_fd >= 0) {
			fd = dio_fd;
			flags |= IPC_BLK_F_DIRECT;
		}
	}
	if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)img_size) < 0)
		fz_fail("ftruncate image: %s", strerror(errno));
	free(blk.bounce);
	if (blk_setup(&blk, fd, img_size, flags & (IPC_BLK_F_READONLY | IPC_BLK_F_DIRECT), serial, &gm) < 0)
		fz_fail("blk_setup refused a valid image");
	blk.vd.irq = on_irq;
	fzv_begin(&drv);
	fzv_run(&drv, &in);
	if (fzv_check(&drv, why, sizeof(why)) < 0)
		fz_fail("%s", why);
	be_after(NULL);
	if (getenv("BH_FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz_blk: status 0x%x, %lu interrupts, queue 0 used idx %u\n", blk.vd.status, irqs,
			blk.vd.queues[0].used_idx);
	return 0;
}
