/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Regressions for what the fuzzers (tests/fuzz/, docs/fuzzing.md) found,
 * each reduced to the smallest ring that shows it, against the real
 * virtqueue, transport and device models in a memfd guest. A case that
 * could spin runs in a child under an alarm, so a bug fails the test
 * instead of hanging it.
 *
 * 1. A device that writes its own avail ring never finishes a kick
 *    (fuzz_blk, fuzz_net, fuzz_proc_blk: "no IO_REPLY within 1000 ms").
 *    virtq_start accepted a used ring on top of the avail ring: every
 *    virtq_push then advanced avail->idx too, blk_queue_notify and net_tx
 *    popped their own completions forever, and the device process spun at
 *    100% CPU without answering its channel. A device-writable buffer over
 *    avail->idx does the same through data: a blk OUT request copies
 *    used->idx to the disk and an IN request copies it back into avail->idx.
 *    Fix (devices/virtio/virtq.c): virtq_start refuses a used ring that
 *    overlaps the descriptor table or the avail ring (VIRTQ_E_RING), and
 *    chain_add refuses a device-writable buffer that overlaps them
 *    (VIRTQ_E_ADDR); either puts the device in DEVICE_NEEDS_RESET.
 *
 * Tests that fail because of a known bug say "REGRESSION" in their failure
 * message and name the function to fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../devices/blk/blk.h"
#include "../../devices/net/net.h"

#define MEM_SIZE MiB(1)
#define IMAGE_SIZE KiB(64)
#define QSIZE 16
#define DESC_GPA 0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA 0x3000ULL
#define BUF 0x10000ULL

#define F_NEXT 1
#define F_WRITE 2

/* virtio-mmio registers and status bits a driver uses */
#define R_DRV_FEAT 0x020
#define R_DRV_FEAT_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_STATUS 0x070
#define R_DESC_LO 0x080
#define R_DRIVER_LO 0x090
#define R_DEVICE_LO 0x0a0
#define S_RUNNING 15

struct tdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct blkhdr {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct guest_mem g_mem;

static int group_setup(void **state)
{
	(void)state;
	log_init("test_fuzz_regressions");
	if (mem_layout(&g_mem, MEM_SIZE) < 0 || mem_create(&g_mem, "fuzzreg") < 0 || mem_map(&g_mem) < 0)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mem_close(&g_mem);
	return 0;
}

static void *gp(uint64_t gpa, uint64_t len)
{
	void *p = mem_ptr(&g_mem, gpa, len);

	if (!p) {
		fprintf(stderr, "test_fuzz_regressions: 0x%llx is not guest memory\n", (unsigned long long)gpa);
		abort();
	}
	return p;
}

static void put16(uint64_t gpa, uint16_t v)
{
	memcpy(gp(gpa, 2), &v, 2);
}

static void desc(uint64_t table, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct tdesc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(gp(table + 16 * (uint64_t)i, 16), &d, 16);
}

static void blk_header(uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct blkhdr h = { .type = type, .sector = sector };

	memcpy(gp(gpa, sizeof(h)), &h, sizeof(h));
}

/* Run fn in a child under an alarm: its exit status, or minus the signal that ended it. */
static int run_bounded(int (*fn)(void), unsigned int seconds)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		alarm(seconds);
		_exit(fn() & 0xff);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* A driver: negotiate what the device offers, set queue q up at desc/avail/used, DRIVER_OK last. */
static void drv_setup(struct virtio_dev *vd, unsigned int nq, const uint64_t *layout)
{
	uint64_t f = VIRTIO_BIT(VIRTIO_F_VERSION_1) | vd->ops->features(vd);

	virtio_mmio_write(vd, R_STATUS, 4, 0);
	virtio_mmio_write(vd, R_STATUS, 4, 1);
	virtio_mmio_write(vd, R_STATUS, 4, 3);
	virtio_mmio_write(vd, R_DRV_FEAT_SEL, 4, 0);
	virtio_mmio_write(vd, R_DRV_FEAT, 4, (uint32_t)f);
	virtio_mmio_write(vd, R_DRV_FEAT_SEL, 4, 1);
	virtio_mmio_write(vd, R_DRV_FEAT, 4, (uint32_t)(f >> 32));
	virtio_mmio_write(vd, R_STATUS, 4, 11);
	for (unsigned int q = 0; q < nq; q++) {
		virtio_mmio_write(vd, R_QUEUE_SEL, 4, q);
		virtio_mmio_write(vd, R_QUEUE_NUM, 4, QSIZE);
		virtio_mmio_write(vd, R_DESC_LO, 4, (uint32_t)layout[3 * q]);
		virtio_mmio_write(vd, R_DRIVER_LO, 4, (uint32_t)layout[3 * q + 1]);
		virtio_mmio_write(vd, R_DEVICE_LO, 4, (uint32_t)layout[3 * q + 2]);
		virtio_mmio_write(vd, R_QUEUE_READY, 4, 1);
	}
	virtio_mmio_write(vd, R_STATUS, 4, S_RUNNING); /* buffers already posted are served here */
}

/* ---- 1. the virtqueue refuses rings the device would write into ---- */

static void test_virtq_used_over_avail_refused(void **state)
{
	static const struct {
		const char *name;
		uint64_t desc, avail, used;
	} cases[] = {
		{ "used ring == avail ring", DESC_GPA, AVAIL_GPA, AVAIL_GPA },
		{ "used ring running into avail->idx", DESC_GPA, AVAIL_GPA, AVAIL_GPA - 128 },
		{ "used ring over the descriptor table", DESC_GPA, AVAIL_GPA, DESC_GPA + 16 * QSIZE - 8 },
	};
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct virtq q;
		enum virtq_error e;

		memset(gp(0, BUF), 0, BUF);
		virtq_reset(&q);
		q.size = QSIZE;
		q.desc_gpa = cases[i].desc;
		q.avail_gpa = cases[i].avail;
		q.used_gpa = cases[i].used;
		e = virtq_start(&q, &g_mem);
		if (e != VIRTQ_E_RING) {
			print_error("REGRESSION: %s: virtq_start returned %s, want VIRTQ_E_RING (virtq_start must "
				    "refuse a used ring over the descriptors or the avail ring)\n",
				    cases[i].name, virtq_error_name(e));
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void test_virtq_writable_over_rings_refused(void **state)
{
	static const struct {
		const char *name;
		uint64_t addr;
		uint32_t len;
	} cases[] = {
		{ "device-writable over avail->idx", AVAIL_GPA + 2, 2 },
		{ "device-writable over an avail ring entry", AVAIL_GPA + 4 + 2 * 3, 64 },
		{ "device-writable over the last descriptor", DESC_GPA + 16 * (QSIZE - 1), 4 },
	};
	static struct virtq_chain c;
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct virtq q;
		enum virtq_error e;

		memset(gp(0, BUF), 0, BUF);
		virtq_reset(&q);
		q.size = QSIZE;
		q.desc_gpa = DESC_GPA;
		q.avail_gpa = AVAIL_GPA;
		q.used_gpa = USED_GPA;
		assert_int_equal(virtq_start(&q, &g_mem), VIRTQ_OK);
		desc(DESC_GPA, 0, BUF, 16, F_NEXT, 1);
		desc(DESC_GPA, 1, cases[i].addr, cases[i].len, F_WRITE, 0);
		put16(AVAIL_GPA + 4, 0);
		put16(AVAIL_GPA + 2, 1);
		e = virtq_pop(&q, &g_mem, &c);
		if (e == VIRTQ_OK) {
			print_error("REGRESSION: %s: virtq_pop accepted the chain (chain_add must refuse a "
				    "device-writable buffer over the queue's descriptors or avail ring)\n",
				    cases[i].name);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

/* ---- 1. the same through the devices: a kick must end ---- */

static struct blk g_blk;
static unsigned int g_irqs;

static void count_irq(struct virtio_dev *vd)
{
	(void)vd;
	g_irqs++;
}

static int blk_open(void)
{
	int fd = memfd_create("fuzzreg-image", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, IMAGE_SIZE) < 0)
		return -1;
	if (blk_setup(&g_blk, fd, IMAGE_SIZE, 0, "fuzzreg", &g_mem) < 0)
		return -1;
	g_blk.vd.irq = count_irq;
	return fd;
}

/*
 * fuzz_blk's reproducer, reduced: used ring == avail ring, avail->idx
 * (== used->idx) 1 when the queue goes ready, one FLUSH request posted. At
 * DRIVER_OK every completion bumps avail->idx and is popped again.
 * Child exit: 0 the device gave up (NEEDS_RESET), 1 it served the request,
 * 2 setup failed; SIGALRM: it spins.
 */
static int blk_used_over_avail(void)
{
	static const uint64_t layout[3] = { DESC_GPA, AVAIL_GPA, AVAIL_GPA };

	memset(gp(0, BUF + 0x1000), 0, BUF + 0x1000);
	if (blk_open() < 0)
		return 2;
	blk_header(BUF, VIRTIO_BLK_T_FLUSH, 0);
	desc(DESC_GPA, 0, BUF, 16, F_NEXT, 1);
	desc(DESC_GPA, 1, BUF + 0x100, 1, F_WRITE, 0);
	put16(AVAIL_GPA + 2, 1); /* avail->idx, and so used->idx */
	drv_setup(&g_blk.vd, 1, layout);
	return (g_blk.vd.status & VIRTIO_STATUS_NEEDS_RESET) ? 0 : 1;
}

/*
 * The same loop through data, with a used ring in its own place: an OUT
 * request copies used->idx to sector 0, an IN request copies it back over
 * avail->idx (its data split so that only those two bytes land there), and
 * every avail ring slot alternates between the two. used->idx starts at 10,
 * so avail->idx stays 8 ahead of the device forever.
 */
static int blk_dma_over_avail(void)
{
	static const uint64_t layout[3] = { DESC_GPA, AVAIL_GPA, USED_GPA };

	memset(gp(0, BUF + 0x2000), 0, BUF + 0x2000);
	if (blk_open() < 0)
		return 2;
	blk_header(BUF, VIRTIO_BLK_T_OUT, 0);
	blk_header(BUF + 0x10, VIRTIO_BLK_T_IN, 0);
	desc(DESC_GPA, 0, BUF, 16, F_NEXT, 1);
	desc(DESC_GPA, 1, USED_GPA, 512, F_NEXT, 2); /* OUT data: the used ring */
	desc(DESC_GPA, 2, BUF + 0x100, 1, F_WRITE, 0);
	desc(DESC_GPA, 3, BUF + 0x10, 16, F_NEXT, 4);
	desc(DESC_GPA, 4, BUF + 0x1000, 2, F_WRITE | F_NEXT, 5);
	desc(DESC_GPA, 5, AVAIL_GPA + 2, 2, F_WRITE | F_NEXT, 6); /* IN data bytes 2..3: avail->idx */
	desc(DESC_GPA, 6, BUF + 0x1100, 508, F_WRITE | F_NEXT, 7);
	desc(DESC_GPA, 7, BUF + 0x101, 1, F_WRITE, 0);
	for (unsigned int i = 0; i < QSIZE; i++)
		put16(AVAIL_GPA + 4 + 2 * i, (i & 1) ? 3 : 0);
	put16(USED_GPA + 2, 10);
	put16(AVAIL_GPA + 2, 2);
	drv_setup(&g_blk.vd, 1, layout);
	return (g_blk.vd.status & VIRTIO_STATUS_NEEDS_RESET) ? 0 : 1;
}

static struct net g_net;

/* fuzz_net's reproducer: the tx queue's used ring == its avail ring, one frame posted. */
static int net_tx_used_over_avail(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static const uint64_t layout[6] = { DESC_GPA, AVAIL_GPA, USED_GPA, 0x4000, 0x6000, 0x6000 };
	int sv[2];

	memset(gp(0, BUF + 0x1000), 0, BUF + 0x1000);
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 2;
	net_setup(&g_net, sv[0], mac, &g_mem);
	g_net.vd.irq = count_irq;
	desc(0x4000, 0, BUF, 12 + 60, 0, 0);
	put16(0x6000 + 2, 1);
	drv_setup(&g_net.vd, 2, layout);
	return (g_net.vd.status & VIRTIO_STATUS_NEEDS_RESET) ? 0 : 1;
}

static void expect_gives_up(const char *name, int (*fn)(void), const char *fix)
{
	int r = run_bounded(fn, 2);

	if (r == -SIGALRM)
		fail_msg("REGRESSION: %s: the device did not return from the kick within 2 s (%s)", name, fix);
	if (r == 2)
		fail_msg("%s: setup failed", name);
	if (r != 0)
		fail_msg("%s: the device %s, want DEVICE_NEEDS_RESET", name,
			 r == 1 ? "served the ring" : "crashed");
}

static void test_blk_used_over_avail_ends(void **state)
{
	(void)state;
	expect_gives_up("blk, used ring == avail ring", blk_used_over_avail,
			"virtq_start must refuse the layout");
}

static void test_blk_dma_over_avail_ends(void **state)
{
	(void)state;
	expect_gives_up("blk, OUT then IN copying used->idx into avail->idx", blk_dma_over_avail,
			"chain_add must refuse a device-writable buffer over avail->idx");
}

static void test_net_tx_used_over_avail_ends(void **state)
{
	(void)state;
	expect_gives_up("net tx, used ring == avail ring", net_tx_used_over_avail,
			"virtq_start must refuse the layout");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_virtq_used_over_avail_refused),
		cmocka_unit_test(test_virtq_writable_over_rings_refused),
		cmocka_unit_test(test_blk_used_over_avail_ends),
		cmocka_unit_test(test_blk_dma_over_avail_ends),
		cmocka_unit_test(test_net_tx_used_over_avail_ends),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
