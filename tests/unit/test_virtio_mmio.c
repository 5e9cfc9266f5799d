/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices/virtio/mmio.c: the virtio-mmio version 2 register window and the
 * device status machine, driven the way the Linux virtio_mmio driver drives
 * it, against a fake device that records every hook; then random register
 * access sequences (with a reset in every state) that must never crash
 * under ASan/UBSan nor break the transport's invariants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../devices/virtio/virtio.h"

/* Register offsets (virtio 1.2 section 4.2.2). */
enum {
	MAGIC = 0x000,
	VERSION = 0x004,
	DEVICE_ID = 0x008,
	VENDOR_ID = 0x00c,
	DEVICE_FEATURES = 0x010,
	DEVICE_FEATURES_SEL = 0x014,
	DRIVER_FEATURES = 0x020,
	DRIVER_FEATURES_SEL = 0x024,
	QUEUE_SEL = 0x030,
	QUEUE_NUM_MAX = 0x034,
	QUEUE_NUM = 0x038,
	QUEUE_READY = 0x044,
	QUEUE_NOTIFY = 0x050,
	INTERRUPT_STATUS = 0x060,
	INTERRUPT_ACK = 0x064,
	STATUS = 0x070,
	QUEUE_DESC_LOW = 0x080,
	QUEUE_DESC_HIGH = 0x084,
	QUEUE_DRIVER_LOW = 0x090,
	QUEUE_DRIVER_HIGH = 0x094,
	QUEUE_DEVICE_LOW = 0x0a0,
	QUEUE_DEVICE_HIGH = 0x0a4,
	SHM_SEL = 0x0ac,
	SHM_LEN_LOW = 0x0b0,
	SHM_LEN_HIGH = 0x0b4,
	SHM_BASE_LOW = 0x0b8,
	SHM_BASE_HIGH = 0x0bc,
	CONFIG_GENERATION = 0x0fc,
	CONFIG = 0x100,
};

#define ACK VIRTIO_STATUS_ACKNOWLEDGE
#define DRV VIRTIO_STATUS_DRIVER
#define FEAT_OK VIRTIO_STATUS_FEATURES_OK
#define DRV_OK VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RESET VIRTIO_STATUS_NEEDS_RESET
#define FAILED VIRTIO_STATUS_FAILED

#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4
#define AVAIL_F_NO_INTERRUPT 1

#define BIT5 VIRTIO_BIT(5)
#define OFFERED (VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | BIT5)
#define ALL_FEATURES (OFFERED | VIRTIO_BIT(VIRTIO_F_VERSION_1))

/* The guest: 16 MiB; queue q's rings at RING(q), buffers from BUF. */
#define MEM_SIZE MiB(16)
#define RING(q) (0x10000ULL * (1 + (uint64_t)(q)))
#define DESC(q) (RING(q))
#define AVAIL(q) (RING(q) + 0x1000)
#define USED(q) (RING(q) + 0x2000)
#define ITABLE 0x80000ULL
#define BUF 0x100000ULL
#define QSIZE 16

struct tdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct tdesc) == 16, "descriptor size");

static struct guest_mem g_mem;

static int setup_guest(void **state)
{
	(void)state;
	log_init("test_virtio_mmio");
	if (mem_layout(&g_mem, MEM_SIZE) < 0 || mem_create(&g_mem, "mmio") < 0 || mem_map(&g_mem) < 0)
		return -1;
	return 0;
}

static int teardown_guest(void **state)
{
	(void)state;
	mem_close(&g_mem);
	return 0;
}

static uint8_t *hva(uint64_t gpa)
{
	return g_mem.regions[0].hva + gpa;
}

/* ---- the fake device ---- */

struct fake {
	uint8_t cfg[16];
	unsigned int nnotify[4]; /* queue_notify calls per queue */
	unsigned int nnotify_dead; /* queue_notify called for a queue that is not live */
	unsigned int nreset, ndriver_ok, nirq;
	unsigned int ncfg_read, ncfg_write, ncfg_bad; /* bad: off + size beyond config_len */
	uint32_t cfg_off;
	unsigned int cfg_size;
	uint64_t cfg_val;
	unsigned int npopped[2], npushed[2];
	uint16_t last_head[2];
	enum virtq_error last_err;
	unsigned int nfeatures_ok;
	uint64_t features_ok_arg;
	unsigned int nirq_stale_shadow; /* interrupts raised before the shadow had their cause */
	unsigned int nbusy; /* busy asked */
};

static uint64_t fake_features(struct virtio_dev *vd)
{
	(void)vd;
	return OFFERED;
}

static void fake_notify(struct virtio_dev *vd, unsigned int q)
{
	static struct virtq_chain c;
	struct fake *f = vd->priv;
	int pushed = 0;

	if (q < nitems(f->nnotify))
		f->nnotify[q]++;
	if (!virtio_queue_live(vd, q) || q >= 2) {
		f->nnotify_dead++;
		return;
	}
	for (;;) {
		enum virtq_error e = virtq_pop(&vd->queues[q], vd->mem, &c);
		static const char reply[] = "ok";

		if (e == VIRTQ_EMPTY)
			break;
		if (e != VIRTQ_OK) {
			f->last_err = e;
			virtio_needs_reset(vd, q, e);
			break;
		}
		f->npopped[q]++;
		f->last_head[q] = c.head;
		virtq_push(&vd->queues[q], c.head,
			   (uint32_t)virtq_write_chain(&c, 0, reply, sizeof(reply)));
		f->npushed[q]++;
		pushed = 1;
	}
	if (pushed)
		virtio_used(vd, q);
}

static uint64_t fake_config_read(struct virtio_dev *vd, uint32_t off, unsigned int size)
{
	struct fake *f = vd->priv;
	uint64_t v = 0;

	f->ncfg_read++;
	f->cfg_off = off;
	f->cfg_size = size;
	if (off >= sizeof(f->cfg) || size > sizeof(f->cfg) - off || size > sizeof(v)) {
		f->ncfg_bad++;
		return 0;
	}
	memcpy(&v, f->cfg + off, size);
	return v;
}

static void fake_config_write(struct virtio_dev *vd, uint32_t off, unsigned int size, uint64_t val)
{
	struct fake *f = vd->priv;

	f->ncfg_write++;
	f->cfg_off = off;
	f->cfg_size = size;
	f->cfg_val = val;
	if (off >= sizeof(f->cfg) || size > sizeof(f->cfg) - off || size > sizeof(val)) {
		f->ncfg_bad++;
		return;
	}
	memcpy(f->cfg + off, &val, size);
}

static void fake_driver_ok(struct virtio_dev *vd)
{
	struct fake *f = vd->priv;

	f->ndriver_ok++;
}

static void fake_reset(struct virtio_dev *vd)
{
	struct fake *f = vd->priv;

	f->nreset++;
}

static void fake_irq(struct virtio_dev *vd)
{
	struct fake *f = vd->priv;

	f->nirq++;
	if (vd->shadow && (vd->shadow->sh_regs[INTERRUPT_STATUS / 4] != vd->isr ||
			   vd->shadow->sh_regs[STATUS / 4] != vd->status ||
			   vd->shadow->sh_regs[CONFIG_GENERATION / 4] != vd->config_generation))
		f->nirq_stale_shadow++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = 2,
	.nqueues = 2,
	.features = fake_features,
	.queue_notify = fake_notify,
	.config_len = 16,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.driver_ok = fake_driver_ok,
	.reset = fake_reset,
};

/* A device that refuses bit 5 in features_ok although it offers it. */
static int picky_features_ok(struct virtio_dev *vd, uint64_t features)
{
	struct fake *f = vd->priv;

	f->nfeatures_ok++;
	f->features_ok_arg = features;
	return (features & BIT5) ? -22 : 0;
}

static const struct virtio_dev_ops picky_ops = {
	.name = "picky",
	.device_id = 1,
	.nqueues = 2,
	.features = fake_features,
	.features_ok = picky_features_ok,
	.queue_notify = fake_notify,
};

/* Only what is required: no features, no config space, no reset hook. */
static const struct virtio_dev_ops bare_ops = {
	.name = "bare",
	.device_id = 42,
	.nqueues = 1,
	.queue_notify = fake_notify,
};

/* ---- the driver side ---- */

static uint32_t rd(struct virtio_dev *vd, uint64_t off)
{
	uint64_t v = virtio_mmio_read(vd, off, 4);

	assert_true(v <= UINT32_MAX);
	return (uint32_t)v;
}

static void wr(struct virtio_dev *vd, uint64_t off, uint32_t val)
{
	virtio_mmio_write(vd, off, 4, val);
}

static void dev_new(struct virtio_dev *vd, struct fake *f, const struct virtio_dev_ops *ops)
{
	memset(f, 0, sizeof(*f));
	for (unsigned int i = 0; i < sizeof(f->cfg); i++)
		f->cfg[i] = (uint8_t)(0x10 + i);
	memset(hva(0), 0, BUF); /* rings */
	virtio_init(vd, ops, &g_mem, f);
	vd->irq = fake_irq;
}

static void write_features(struct virtio_dev *vd, uint64_t features)
{
	wr(vd, DRIVER_FEATURES_SEL, 0);
	wr(vd, DRIVER_FEATURES, (uint32_t)features);
	wr(vd, DRIVER_FEATURES_SEL, 1);
	wr(vd, DRIVER_FEATURES, (uint32_t)(features >> 32));
}

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns whether FEATURES_OK stuck. */
static int negotiate(struct virtio_dev *vd, uint64_t features)
{
	wr(vd, STATUS, ACK);
	wr(vd, STATUS, ACK | DRV);
	write_features(vd, features);
	wr(vd, STATUS, ACK | DRV | FEAT_OK);
	return (rd(vd, STATUS) & FEAT_OK) != 0;
}

static void queue_layout(struct virtio_dev *vd, unsigned int q, uint32_t num, uint64_t desc,
			 uint64_t avail, uint64_t used)
{
	wr(vd, QUEUE_SEL, q);
	wr(vd, QUEUE_NUM, num);
	wr(vd, QUEUE_DESC_LOW, (uint32_t)desc);
	wr(vd, QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(vd, QUEUE_DRIVER_LOW, (uint32_t)avail);
	wr(vd, QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	wr(vd, QUEUE_DEVICE_LOW, (uint32_t)used);
	wr(vd, QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
}

static void queue_setup(struct virtio_dev *vd, unsigned int q)
{
	queue_layout(vd, q, QSIZE, DESC(q), AVAIL(q), USED(q));
	wr(vd, QUEUE_READY, 1);
	assert_int_equal(rd(vd, QUEUE_READY), 1);
}

/* The whole Linux probe sequence: features, both queues, DRIVER_OK. */
static void bring_up(struct virtio_dev *vd, uint64_t features)
{
	assert_true(negotiate(vd, features));
	for (unsigned int q = 0; q < vd->ops->nqueues; q++)
		queue_setup(vd, q);
	wr(vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(rd(vd, STATUS), ACK | DRV | FEAT_OK | DRV_OK);
}

static void desc_set(uint64_t table, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct tdesc d = { .addr = addr, .len = len, .flags = flags, .next = next };

	memcpy(hva(table + 16 * (uint64_t)i), &d, sizeof(d));
}

static uint16_t *avail16(unsigned int q, unsigned int i)
{
	return (uint16_t *)(void *)hva(AVAIL(q) + 2 * (uint64_t)i);
}

static uint16_t *used16(unsigned int q, unsigned int i)
{
	return (uint16_t *)(void *)hva(USED(q) + 2 * (uint64_t)i);
}

/* Make a readable + writable chain at head available on queue q (size QSIZE). */
static void publish(unsigned int q, uint16_t head)
{
	uint16_t idx = *avail16(q, 1);

	desc_set(DESC(q), head, BUF + 0x1000 * (uint64_t)head, 16, F_NEXT, (uint16_t)((head + 1) % QSIZE));
	desc_set(DESC(q), (head + 1) % QSIZE, BUF + 0x1000 * (uint64_t)head + 0x800, 16, F_WRITE, 0);
	*avail16(q, 2 + (idx % QSIZE)) = head;
	*avail16(q, 1) = (uint16_t)(idx + 1);
}

/* Make a chain whose head is beyond the queue available. */
static void publish_bad(unsigned int q)
{
	uint16_t idx = *avail16(q, 1);

	*avail16(q, 2 + (idx % QSIZE)) = QSIZE;
	*avail16(q, 1) = (uint16_t)(idx + 1);
}

/* ---- identification and features ---- */

static void test_identity(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	assert_int_equal(rd(&vd, MAGIC), 0x74726976);
	assert_int_equal(rd(&vd, VERSION), 2);
	assert_int_equal(rd(&vd, DEVICE_ID), 2);
	assert_int_equal(rd(&vd, VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(rd(&vd, STATUS), 0);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 0);
	dev_new(&vd, &f, &bare_ops);
	assert_int_equal(rd(&vd, DEVICE_ID), 42);
	/* the read-only identity registers ignore writes */
	wr(&vd, MAGIC, 0);
	wr(&vd, VERSION, 1);
	wr(&vd, DEVICE_ID, 7);
	assert_int_equal(rd(&vd, MAGIC), 0x74726976);
	assert_int_equal(rd(&vd, VERSION), 2);
	assert_int_equal(rd(&vd, DEVICE_ID), 42);
}

static void test_device_features(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), (uint32_t)OFFERED); /* sel 0 after init */
	wr(&vd, DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), 1); /* VERSION_1 is bit 32 */
	wr(&vd, DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), (1u << 28) | (1u << 29) | (1u << 5));
	wr(&vd, DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), 0);
	wr(&vd, DEVICE_FEATURES_SEL, 0xffffffff);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), 0);
	wr(&vd, DEVICE_FEATURES_SEL, 0x80000001);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), 0);
	/* the device features are not writable */
	wr(&vd, DEVICE_FEATURES_SEL, 0);
	wr(&vd, DEVICE_FEATURES, 0xffffffff);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), (uint32_t)OFFERED);

	/* a device without a features hook offers VERSION_1 alone */
	dev_new(&vd, &f, &bare_ops);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), 0);
	wr(&vd, DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), 1);
}

static void test_feature_negotiation(void **state)
{
	static const struct {
		uint64_t features;
		int ok;
	} cases[] = {
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1), 1 },
		{ ALL_FEATURES, 1 },
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1) | BIT5, 1 },
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC), 1 },
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX), 1 },
		{ 0, 0 }, /* legacy driver: VERSION_1 missing */
		{ OFFERED, 0 },
		{ BIT5, 0 },
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(6), 0 }, /* not offered */
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(0), 0 },
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(33), 0 },
		{ VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(63), 0 },
		{ ALL_FEATURES | VIRTIO_BIT(31), 0 },
		{ UINT64_MAX, 0 },
	};
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		int ok;

		dev_new(&vd, &f, &fake_ops);
		ok = negotiate(&vd, cases[i].features);
		if (ok != cases[i].ok)
			fail_msg("features %#llx: FEATURES_OK %s", (unsigned long long)cases[i].features,
				 ok ? "set" : "clear");
		/* the other bits the driver wrote stay */
		assert_int_equal(rd(&vd, STATUS) & ~(uint32_t)FEAT_OK, ACK | DRV);
		if (!ok) {
			/* a driver may fix its features and try again */
			write_features(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1));
			wr(&vd, STATUS, ACK | DRV | FEAT_OK);
			assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK);
			continue;
		}
		for (unsigned int b = 0; b < 64; b++)
			assert_int_equal(virtio_has_feature(&vd, b), (cases[i].features >> b) & 1);
		assert_false(virtio_has_feature(&vd, 64));
		assert_false(virtio_has_feature(&vd, 0xffffffff));
		for (unsigned int q = 0; q < 2; q++) {
			assert_int_equal(vd.queues[q].indirect,
					 (cases[i].features >> VIRTIO_F_INDIRECT_DESC) & 1);
			assert_int_equal(vd.queues[q].event_idx,
					 (cases[i].features >> VIRTIO_F_RING_EVENT_IDX) & 1);
		}
	}

	/* the device's own features_ok hook has the last word */
	dev_new(&vd, &f, &picky_ops);
	assert_false(negotiate(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1) | BIT5));
	assert_int_equal(f.nfeatures_ok, 1);
	assert_int_equal(f.features_ok_arg, VIRTIO_BIT(VIRTIO_F_VERSION_1) | BIT5);
	dev_new(&vd, &f, &picky_ops);
	assert_true(negotiate(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)));
	/* and is not asked about features the transport already refuses */
	dev_new(&vd, &f, &picky_ops);
	assert_false(negotiate(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(7)));
	assert_int_equal(f.nfeatures_ok, 0);
}

static void test_features_locked(void **state)
{
	const uint64_t want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	/* DriverFeaturesSel beyond bank 1 selects nothing */
	wr(&vd, STATUS, ACK | DRV);
	write_features(&vd, want);
	wr(&vd, DRIVER_FEATURES_SEL, 2);
	wr(&vd, DRIVER_FEATURES, 0xffffffff);
	wr(&vd, DRIVER_FEATURES_SEL, 0xffffffff);
	wr(&vd, DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(vd.driver_features, want);
	wr(&vd, STATUS, ACK | DRV | FEAT_OK);
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK);
	/* after FEATURES_OK, nothing the driver writes changes them */
	write_features(&vd, ALL_FEATURES);
	write_features(&vd, 0);
	assert_int_equal(vd.driver_features, want);
	assert_true(virtio_has_feature(&vd, VIRTIO_F_INDIRECT_DESC));
	assert_false(virtio_has_feature(&vd, VIRTIO_F_RING_EVENT_IDX));
	queue_setup(&vd, 0);
	wr(&vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	write_features(&vd, ALL_FEATURES);
	assert_int_equal(vd.driver_features, want);
	assert_false(vd.queues[0].event_idx);
	assert_true(vd.queues[0].indirect);
}

/* ---- access widths ---- */

static void test_access_width(void **state)
{
	static const uint64_t regs[] = {
		MAGIC, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, QUEUE_NUM_MAX, QUEUE_READY,
		INTERRUPT_STATUS, STATUS, SHM_LEN_LOW, SHM_LEN_HIGH, CONFIG_GENERATION,
	};
	static const unsigned int sizes[] = { 0, 1, 2, 3, 8, 16 };
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	virtio_needs_reset(&vd, 0, VIRTQ_E_HEAD); /* every register reads non-zero now */
	for (size_t i = 0; i < nitems(regs); i++) {
		assert_int_not_equal(rd(&vd, regs[i]), 0);
		for (size_t s = 0; s < nitems(sizes); s++) {
			if (virtio_mmio_read(&vd, regs[i], sizes[s]) != 0)
				fail_msg("register %#llx read with size %u", (unsigned long long)regs[i],
					 sizes[s]);
		}
		for (unsigned int off = 1; off < 4; off++) {
			if (virtio_mmio_read(&vd, regs[i] + off, 4) != 0 ||
			    virtio_mmio_read(&vd, regs[i] + off, 2) != 0 ||
			    virtio_mmio_read(&vd, regs[i] + off, 1) != 0)
				fail_msg("register %#llx read at +%u", (unsigned long long)regs[i], off);
		}
	}

	/* writes that are not 32-bit and aligned are ignored */
	dev_new(&vd, &f, &fake_ops);
	for (size_t s = 0; s < nitems(sizes); s++) {
		virtio_mmio_write(&vd, STATUS, sizes[s], ACK);
		virtio_mmio_write(&vd, QUEUE_SEL, sizes[s], 1);
		virtio_mmio_write(&vd, DEVICE_FEATURES_SEL, sizes[s], 1);
		virtio_mmio_write(&vd, DRIVER_FEATURES, sizes[s], 0xffffffff);
		virtio_mmio_write(&vd, QUEUE_NUM, sizes[s], 8);
		virtio_mmio_write(&vd, QUEUE_DESC_LOW, sizes[s], 0x1000);
	}
	for (unsigned int off = 1; off < 4; off++) {
		virtio_mmio_write(&vd, STATUS + off, 4, ACK);
		virtio_mmio_write(&vd, STATUS + off, 1, ACK);
		virtio_mmio_write(&vd, QUEUE_SEL + off, 4, 1);
		virtio_mmio_write(&vd, QUEUE_NUM + off, 4, 8);
	}
	assert_int_equal(vd.status, 0);
	assert_int_equal(vd.queue_sel, 0);
	assert_int_equal(vd.dev_features_sel, 0);
	assert_int_equal(vd.driver_features, 0);
	assert_int_equal(vd.queues[0].size, 0);
	assert_int_equal(vd.queues[0].desc_gpa, 0);
	assert_int_equal(f.nreset, 0);

	/* an 8-byte write of 0 to Status is not a reset; a 2-byte QueueNotify is not a kick */
	bring_up(&vd, ALL_FEATURES);
	virtio_mmio_write(&vd, STATUS, 8, 0);
	virtio_mmio_write(&vd, STATUS, 2, 0);
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f.nreset, 0);
	publish(0, 0);
	virtio_mmio_write(&vd, QUEUE_NOTIFY, 2, 0);
	virtio_mmio_write(&vd, QUEUE_NOTIFY, 8, 0);
	virtio_mmio_write(&vd, QUEUE_NOTIFY + 2, 2, 0);
	assert_int_equal(f.nnotify[0], 0);
	/* unknown and write-only registers read 0 */
	assert_int_equal(rd(&vd, QUEUE_NUM), 0);
	assert_int_equal(rd(&vd, QUEUE_NOTIFY), 0);
	assert_int_equal(rd(&vd, INTERRUPT_ACK), 0);
	assert_int_equal(rd(&vd, 0x018), 0);
	assert_int_equal(rd(&vd, 0x0f8), 0);
}

/* ---- queues ---- */

static void test_queue_setup(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	assert_true(negotiate(&vd, ALL_FEATURES));
	for (unsigned int q = 0; q < 2; q++) {
		wr(&vd, QUEUE_SEL, q);
		assert_int_equal(rd(&vd, QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
		assert_int_equal(rd(&vd, QUEUE_READY), 0);
	}
	/* the address halves combine */
	wr(&vd, QUEUE_SEL, 1);
	wr(&vd, QUEUE_DESC_HIGH, 0x12345678);
	wr(&vd, QUEUE_DESC_LOW, 0x9abcdef0);
	wr(&vd, QUEUE_DRIVER_LOW, 0x11111112);
	wr(&vd, QUEUE_DRIVER_HIGH, 0x1);
	wr(&vd, QUEUE_DEVICE_HIGH, 0xffffffff);
	wr(&vd, QUEUE_DEVICE_LOW, 0xfffffffc);
	assert_int_equal(vd.queues[1].desc_gpa, 0x123456789abcdef0ULL);
	assert_int_equal(vd.queues[1].avail_gpa, 0x111111112ULL);
	assert_int_equal(vd.queues[1].used_gpa, 0xfffffffffffffffcULL);
	wr(&vd, QUEUE_DESC_HIGH, 0);
	assert_int_equal(vd.queues[1].desc_gpa, 0x9abcdef0ULL);
	assert_int_equal(vd.queues[0].desc_gpa, 0); /* queue 0 untouched */

	for (unsigned int q = 0; q < 2; q++) {
		queue_layout(&vd, q, QSIZE, DESC(q), AVAIL(q), USED(q));
		assert_int_equal(vd.queues[q].size, QSIZE);
		assert_false(vd.queues[q].ready);
		wr(&vd, QUEUE_READY, 1);
		assert_int_equal(rd(&vd, QUEUE_READY), 1);
		assert_ptr_equal(vd.queues[q].desc, hva(DESC(q)));
		assert_ptr_equal(vd.queues[q].avail, hva(AVAIL(q)));
		assert_ptr_equal(vd.queues[q].used, hva(USED(q)));
		assert_true(vd.queues[q].indirect);
		assert_true(vd.queues[q].event_idx);
	}
	/* QueueReady reads per queue */
	wr(&vd, QUEUE_SEL, 0);
	assert_int_equal(rd(&vd, QUEUE_READY), 1);
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK);
	assert_int_equal(f.nirq, 0);
	/* the largest queue */
	dev_new(&vd, &f, &fake_ops);
	assert_true(negotiate(&vd, ALL_FEATURES));
	queue_layout(&vd, 0, VIRTQ_MAX_SIZE, DESC(0), AVAIL(0), USED(0));
	wr(&vd, QUEUE_READY, 1);
	assert_int_equal(rd(&vd, QUEUE_READY), 1);
	assert_int_equal(vd.queues[0].size, VIRTQ_MAX_SIZE);
	/* a queue of one */
	queue_layout(&vd, 1, 1, DESC(1), AVAIL(1), USED(1));
	wr(&vd, QUEUE_READY, 1);
	assert_int_equal(rd(&vd, QUEUE_READY), 1);
}

static void test_queue_bad(void **state)
{
	static const struct {
		const char *name;
		uint32_t num;
		uint64_t desc, avail, used;
	} cases[] = {
		{ "size 0", 0, DESC(0), AVAIL(0), USED(0) },
		{ "size never written", 0xdead, DESC(0), AVAIL(0), USED(0) },
		{ "size 3", 3, DESC(0), AVAIL(0), USED(0) },
		{ "size 24", 24, DESC(0), AVAIL(0), USED(0) },
		{ "size > QueueNumMax", VIRTQ_MAX_SIZE * 2, DESC(0), AVAIL(0), USED(0) },
		{ "size QueueNumMax + 1", VIRTQ_MAX_SIZE + 1, DESC(0), AVAIL(0), USED(0) },
		{ "size 0x10010", 0x10010, DESC(0), AVAIL(0), USED(0) }, /* 16 after a 16-bit cast */
		{ "size 0xffffffff", 0xffffffff, DESC(0), AVAIL(0), USED(0) },
		{ "desc beyond memory", QSIZE, MEM_SIZE, AVAIL(0), USED(0) },
		{ "desc in the high half", QSIZE, 0x100000000ULL | DESC(0), AVAIL(0), USED(0) },
		{ "desc straddling the end", QSIZE, MEM_SIZE - 128, AVAIL(0), USED(0) },
		{ "desc misaligned", QSIZE, DESC(0) + 8, AVAIL(0), USED(0) },
		{ "avail beyond memory", QSIZE, DESC(0), MEM_SIZE + 0x1000, USED(0) },
		{ "avail straddling the end", QSIZE, DESC(0), MEM_SIZE - 20, USED(0) },
		{ "avail odd", QSIZE, DESC(0), AVAIL(0) + 1, USED(0) },
		{ "used beyond memory", QSIZE, DESC(0), AVAIL(0), MEM_SIZE },
		{ "used straddling the end", QSIZE, DESC(0), AVAIL(0), MEM_SIZE - 128 },
		{ "used at the top of the address space", QSIZE, DESC(0), AVAIL(0), 0xfffffffffffffffcULL },
		{ "used misaligned", QSIZE, DESC(0), AVAIL(0), USED(0) + 2 },
	};
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		dev_new(&vd, &f, &fake_ops);
		assert_true(negotiate(&vd, ALL_FEATURES));
		queue_setup(&vd, 1); /* the other queue is fine */
		if (cases[i].num == 0xdead) {
			wr(&vd, QUEUE_SEL, 0);
			wr(&vd, QUEUE_DESC_LOW, (uint32_t)cases[i].desc);
			wr(&vd, QUEUE_DRIVER_LOW, (uint32_t)cases[i].avail);
			wr(&vd, QUEUE_DEVICE_LOW, (uint32_t)cases[i].used);
		} else {
			queue_layout(&vd, 0, cases[i].num, cases[i].desc, cases[i].avail, cases[i].used);
		}
		wr(&vd, QUEUE_READY, 1);
		if (!(rd(&vd, STATUS) & NEEDS_RESET))
			fail_msg("%s: no DEVICE_NEEDS_RESET", cases[i].name);
		assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK | NEEDS_RESET);
		assert_int_equal(rd(&vd, QUEUE_READY), 0);
		assert_false(vd.queues[0].ready);
		assert_null(vd.queues[0].desc);
		assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
		assert_int_equal(f.nirq, 1);
		assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
		/* a second attempt does not raise another interrupt */
		wr(&vd, QUEUE_READY, 1);
		assert_int_equal(f.nirq, 1);
		assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
		/* nothing is served until a reset */
		wr(&vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
		assert_true(rd(&vd, STATUS) & NEEDS_RESET);
		assert_false(virtio_queue_live(&vd, 1));
		publish(1, 0);
		wr(&vd, QUEUE_NOTIFY, 1);
		assert_int_equal(f.nnotify[1], 0);
		wr(&vd, STATUS, 0);
		assert_int_equal(rd(&vd, STATUS), 0);
		assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	}
}

/* Queue 0's rings against queue 1's, set up through the registers: a used ring over
 * the other queue's rings is refused at QueueReady, whichever queue comes second. */
static void test_queue_overlap_across(void **state)
{
	static const struct {
		const char *name;
		uint64_t desc, avail, used; /* queue 1's layout; queue 0 at DESC(0) .. USED(0) */
		int refused;
	} cases[] = {
		{ "used over queue 0's avail ring", DESC(1), AVAIL(1), AVAIL(0), 1 },
		{ "used over queue 0's descriptor table", DESC(1), AVAIL(1), DESC(0) + 0x40, 1 },
		{ "used over queue 0's used ring", DESC(1), AVAIL(1), USED(0), 1 },
		{ "descriptor table under queue 0's used ring", USED(0), AVAIL(1), USED(1), 1 },
		{ "avail ring under queue 0's used ring", DESC(1), USED(0) + 2, USED(1), 1 },
		{ "descriptor tables shared", DESC(0), AVAIL(1), USED(1), 0 },
	};
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		for (unsigned int second = 0; second < 2; second++) {
			unsigned int first = 1 - second;

			dev_new(&vd, &f, &fake_ops);
			assert_true(negotiate(&vd, ALL_FEATURES));
			/* queue 1 keeps the case's layout; queue 0 its own; "second" is set up last */
			for (unsigned int k = 0; k < 2; k++) {
				unsigned int q = k ? second : first;

				if (q == 0)
					queue_layout(&vd, 0, QSIZE, DESC(0), AVAIL(0), USED(0));
				else
					queue_layout(&vd, 1, QSIZE, cases[i].desc, cases[i].avail, cases[i].used);
				wr(&vd, QUEUE_READY, 1);
			}
			wr(&vd, QUEUE_SEL, first);
			assert_int_equal(rd(&vd, QUEUE_READY), 1);
			wr(&vd, QUEUE_SEL, second);
			if (rd(&vd, QUEUE_READY) != !cases[i].refused ||
			    !(rd(&vd, STATUS) & NEEDS_RESET) != !cases[i].refused)
				fail_msg("%s (queue %u set up second): QueueReady %u, Status %#x", cases[i].name,
					 second, rd(&vd, QUEUE_READY), rd(&vd, STATUS));
			if (cases[i].refused)
				assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
		}
	}
}

/* An rx buffer (device-writable, queue 1) over queue 0's avail ring: NEEDS_RESET, and
 * the ring is as the driver left it. */
static void test_buffer_over_other_queue(void **state)
{
	struct virtio_dev vd;
	struct fake f;
	uint8_t before[6 + 2 * QSIZE];

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	desc_set(DESC(1), 0, AVAIL(0), 16, F_WRITE, 0);
	*avail16(1, 2) = 0;
	*avail16(1, 1) = 1;
	memcpy(before, hva(AVAIL(0)), sizeof(before));
	wr(&vd, QUEUE_NOTIFY, 1);
	assert_int_equal(f.npushed[1], 0);
	assert_int_equal(f.last_err, VIRTQ_E_ADDR);
	assert_true(rd(&vd, STATUS) & NEEDS_RESET);
	assert_memory_equal(hva(AVAIL(0)), before, sizeof(before));
	/* a queue the driver stopped (QueueReady 0) has no rings left to protect */
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	wr(&vd, QUEUE_SEL, 0);
	wr(&vd, QUEUE_READY, 0);
	assert_null(vd.queues[0].desc);
	desc_set(DESC(1), 0, AVAIL(0), 16, F_WRITE, 0);
	*avail16(1, 2) = 0;
	*avail16(1, 1) = 1;
	wr(&vd, QUEUE_NOTIFY, 1);
	assert_int_equal(f.npushed[1], 1);
	assert_false(rd(&vd, STATUS) & NEEDS_RESET);
}

static void test_layout_locked_while_ready(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	wr(&vd, QUEUE_SEL, 0);
	queue_layout(&vd, 0, 4, MEM_SIZE, MEM_SIZE, MEM_SIZE);
	wr(&vd, QUEUE_DESC_HIGH, 1);
	wr(&vd, QUEUE_DRIVER_HIGH, 1);
	wr(&vd, QUEUE_DEVICE_HIGH, 1);
	wr(&vd, QUEUE_READY, 1); /* ready again: nothing happens */
	assert_int_equal(vd.queues[0].size, QSIZE);
	assert_int_equal(vd.queues[0].desc_gpa, DESC(0));
	assert_int_equal(vd.queues[0].avail_gpa, AVAIL(0));
	assert_int_equal(vd.queues[0].used_gpa, USED(0));
	assert_ptr_equal(vd.queues[0].desc, hva(DESC(0)));
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK | DRV_OK);
	/* and the queue still works */
	publish(0, 3);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.npopped[0], 1);
	assert_int_equal(f.last_head[0], 3);
	/* once not ready, the layout is writable again */
	wr(&vd, QUEUE_READY, 0);
	assert_int_equal(rd(&vd, QUEUE_READY), 0);
	wr(&vd, QUEUE_NUM, 8);
	assert_int_equal(vd.queues[0].size, 8);
}

static void test_queue_sel_beyond(void **state)
{
	static const uint32_t sels[] = { 2, 3, 4, 5, 100, 0x80000000, 0xffffffff };
	struct virtio_dev vd, before;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	memcpy(&before, &vd, sizeof(vd));
	for (size_t i = 0; i < nitems(sels); i++) {
		wr(&vd, QUEUE_SEL, sels[i]);
		assert_int_equal(rd(&vd, QUEUE_NUM_MAX), 0);
		assert_int_equal(rd(&vd, QUEUE_READY), 0);
		queue_layout(&vd, sels[i], QSIZE, DESC(0), AVAIL(0), USED(0));
		wr(&vd, QUEUE_READY, 1);
		wr(&vd, QUEUE_READY, 0);
		assert_int_equal(rd(&vd, QUEUE_READY), 0);
		wr(&vd, QUEUE_NOTIFY, sels[i]);
		virtio_kick(&vd, sels[i]);
	}
	/* nothing changed but the selector, nothing was notified */
	assert_memory_equal(vd.queues, before.queues, sizeof(vd.queues));
	assert_int_equal(vd.status, before.status);
	assert_int_equal(f.nnotify[2] + f.nnotify[3] + f.nnotify_dead, 0);
	assert_int_equal(f.nnotify[0] + f.nnotify[1], 0);
	assert_int_equal(f.nirq, 0);
}

/* ---- kicks, DRIVER_OK, interrupts ---- */

static void test_kick_before_driver_ok(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	/* before anything: not live, kicks are ignored */
	virtio_kick(&vd, 0);
	assert_int_equal(f.nnotify[0], 0);
	assert_true(negotiate(&vd, ALL_FEATURES));
	queue_setup(&vd, 0);
	queue_setup(&vd, 1);
	publish(0, 0);
	publish(0, 4);
	assert_false(virtio_queue_live(&vd, 0));
	virtio_kick(&vd, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nnotify[0], 0);
	assert_int_equal(f.npopped[0], 0);
	/* DRIVER_OK serves what was made available before it, once, on that queue only */
	wr(&vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f.ndriver_ok, 1);
	assert_int_equal(f.nnotify[0], 1);
	assert_int_equal(f.nnotify[1], 0);
	assert_int_equal(f.npopped[0], 2);
	assert_int_equal(*used16(0, 1), 2);
	assert_int_equal(f.nirq, 1); /* first used interrupt always goes out under EVENT_IDX */
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_USED);
	assert_memory_equal(hva(BUF + 0x800), "ok", 3);
	assert_memory_equal(hva(BUF + 0x4800), "ok", 3);
	/* writing DRIVER_OK again is not a new DRIVER_OK */
	wr(&vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(f.ndriver_ok, 1);
	assert_int_equal(f.nnotify[0], 1);
	/* now kicks work */
	publish(1, 2);
	virtio_kick(&vd, 1);
	assert_int_equal(f.nnotify[1], 1);
	assert_int_equal(f.npopped[1], 1);
	/* kicks of queues that do not exist are ignored */
	virtio_kick(&vd, 2);
	virtio_kick(&vd, 4);
	virtio_kick(&vd, 0xffffffff);
	assert_int_equal(f.nnotify[2] + f.nnotify[3] + f.nnotify_dead, 0);
}

static void test_kick_gating(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	/* DRIVER_OK without FEATURES_OK: nothing is live, driver_ok is not called */
	dev_new(&vd, &f, &fake_ops);
	wr(&vd, STATUS, ACK | DRV);
	queue_setup(&vd, 0);
	publish(0, 0);
	wr(&vd, STATUS, ACK | DRV | DRV_OK);
	assert_int_equal(f.ndriver_ok, 0);
	assert_int_equal(f.nnotify[0], 0);
	virtio_kick(&vd, 0);
	assert_int_equal(f.nnotify[0], 0);
	/* FEATURES_OK after DRIVER_OK (3.1.1: features come first), with features it would
	 * otherwise take: refused, never live */
	write_features(&vd, ALL_FEATURES);
	wr(&vd, STATUS, ACK | DRV | DRV_OK | FEAT_OK);
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | DRV_OK);
	assert_int_equal(f.ndriver_ok, 0);
	assert_false(virtio_queue_live(&vd, 0));
	virtio_kick(&vd, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nnotify[0], 0);
	/* FEATURES_OK and DRIVER_OK at once with features refused: not live */
	dev_new(&vd, &f, &fake_ops);
	wr(&vd, STATUS, ACK | DRV);
	write_features(&vd, 0);
	queue_setup(&vd, 0);
	publish(0, 0);
	wr(&vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	assert_int_equal(rd(&vd, STATUS) & FEAT_OK, 0);
	assert_int_equal(f.ndriver_ok, 0);
	assert_int_equal(f.nnotify[0], 0);
	/* a queue that is not ready is not live */
	dev_new(&vd, &f, &fake_ops);
	assert_true(negotiate(&vd, ALL_FEATURES));
	queue_setup(&vd, 0);
	wr(&vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	virtio_kick(&vd, 1);
	assert_int_equal(f.nnotify[1], 0);
	assert_true(virtio_queue_live(&vd, 0));
	assert_false(virtio_queue_live(&vd, 1));
	assert_false(virtio_queue_live(&vd, 2));
	/* QueueReady = 0 takes a queue out of service */
	wr(&vd, QUEUE_SEL, 0);
	wr(&vd, QUEUE_READY, 0);
	publish(0, 0);
	virtio_kick(&vd, 0);
	assert_int_equal(f.nnotify[0], 0);
	/* NEEDS_RESET takes every queue out of service */
	wr(&vd, QUEUE_READY, 1);
	assert_true(virtio_queue_live(&vd, 0));
	virtio_needs_reset(&vd, 1, VIRTQ_E_LOOP);
	assert_false(virtio_queue_live(&vd, 0));
	virtio_kick(&vd, 0);
	assert_int_equal(f.nnotify[0], 0);
	assert_int_equal(f.nnotify_dead, 0);
}

static void test_queue_notify_register(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	publish(0, 1);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nnotify[0], 1);
	assert_int_equal(f.npopped[0], 1);
	assert_int_equal(f.last_head[0], 1);
	publish(1, 5);
	publish(1, 7);
	wr(&vd, QUEUE_NOTIFY, 1);
	assert_int_equal(f.nnotify[1], 1);
	assert_int_equal(f.npopped[1], 2);
	wr(&vd, QUEUE_NOTIFY, 2);
	wr(&vd, QUEUE_NOTIFY, 0xffffffff);
	wr(&vd, QUEUE_NOTIFY, 0x10000); /* not queue 0 with extra bits */
	assert_int_equal(f.nnotify[0], 1);
	assert_int_equal(f.nnotify[1], 1);
	assert_int_equal(f.nnotify_dead, 0);
	/* a kick with nothing available still reaches the device (it finds nothing) */
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nnotify[0], 2);
	assert_int_equal(f.npopped[0], 1);
	/* the MMIO QueueNotify offset the header exports is the register */
	publish(0, 2);
	virtio_mmio_write(&vd, VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
	assert_int_equal(f.npopped[0], 2);
}

static void test_bad_chain(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	publish(0, 0);
	publish_bad(0);
	publish(0, 2);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.npopped[0], 1);
	assert_int_equal(f.last_err, VIRTQ_E_HEAD);
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RESET);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_USED | VIRTIO_INT_CONFIG);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
	/* the device does not touch the queue again until reset */
	wr(&vd, QUEUE_NOTIFY, 0);
	wr(&vd, QUEUE_NOTIFY, 1);
	assert_int_equal(f.nnotify[0], 1);
	assert_int_equal(f.nnotify[1], 0);
	/* the driver cannot clear NEEDS_RESET by writing Status */
	wr(&vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
	wr(&vd, STATUS, ACK);
	assert_true(rd(&vd, STATUS) & NEEDS_RESET);
	wr(&vd, STATUS, 0);
	assert_int_equal(rd(&vd, STATUS), 0);
	assert_int_equal(f.nreset, 1);
}

static void test_reset(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.npopped[0], 1);
	virtio_needs_reset(&vd, 0, VIRTQ_E_ADDR);
	wr(&vd, DEVICE_FEATURES_SEL, 1);
	wr(&vd, DRIVER_FEATURES_SEL, 1);
	wr(&vd, QUEUE_SEL, 1);
	assert_int_not_equal(rd(&vd, INTERRUPT_STATUS), 0);

	wr(&vd, STATUS, 0);
	assert_int_equal(f.nreset, 1);
	assert_int_equal(rd(&vd, STATUS), 0);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	assert_int_equal(vd.driver_features, 0);
	assert_int_equal(vd.dev_features_sel, 0);
	assert_int_equal(vd.drv_features_sel, 0);
	assert_int_equal(vd.queue_sel, 0);
	assert_int_equal(rd(&vd, DEVICE_FEATURES), (uint32_t)OFFERED); /* bank 0 again */
	for (unsigned int q = 0; q < 2; q++) {
		wr(&vd, QUEUE_SEL, q);
		assert_int_equal(rd(&vd, QUEUE_READY), 0);
		assert_int_equal(rd(&vd, QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
		assert_int_equal(vd.queues[q].size, 0);
		assert_int_equal(vd.queues[q].desc_gpa, 0);
		assert_null(vd.queues[q].avail);
		assert_false(vd.queues[q].event_idx);
		assert_false(vd.queues[q].indirect);
		assert_false(virtio_queue_live(&vd, q));
	}
	assert_false(virtio_has_feature(&vd, VIRTIO_F_VERSION_1));
	/* the generation counter is not reset (it only ever moves forward) */
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
	/* kicks after reset are ignored */
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nnotify[0], 1);

	/* and the device works again after a fresh setup, without EVENT_IDX this time */
	memset(hva(0), 0, BUF);
	bring_up(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	assert_false(vd.queues[0].event_idx);
	publish(0, 6);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.npopped[0], 2);
	assert_int_equal(f.last_head[0], 6);
	assert_int_equal(*used16(0, 1), 1);
	/* resetting twice is harmless and calls the hook each time */
	wr(&vd, STATUS, 0);
	wr(&vd, STATUS, 0);
	assert_int_equal(f.nreset, 3);
	/* a device without a reset hook resets too */
	dev_new(&vd, &f, &bare_ops);
	bring_up(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	wr(&vd, STATUS, 0);
	assert_int_equal(rd(&vd, STATUS), 0);
	assert_false(vd.queues[0].ready);
}

/* A reset from every state the driver can reach, and a working device after it. */
static void test_reset_from_every_state(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	for (unsigned int st = 0; st < 10; st++) {
		dev_new(&vd, &f, &fake_ops);
		switch (st) {
		case 0: /* fresh */
			break;
		case 1:
			wr(&vd, STATUS, ACK);
			break;
		case 2:
			wr(&vd, STATUS, ACK | DRV);
			write_features(&vd, ALL_FEATURES);
			break;
		case 3:
			assert_true(negotiate(&vd, ALL_FEATURES));
			break;
		case 4:
			assert_false(negotiate(&vd, 0)); /* refused */
			break;
		case 5:
			assert_true(negotiate(&vd, ALL_FEATURES));
			queue_setup(&vd, 0);
			break;
		case 6:
			bring_up(&vd, ALL_FEATURES);
			publish(0, 0);
			break;
		case 7:
			bring_up(&vd, ALL_FEATURES);
			publish_bad(0);
			wr(&vd, QUEUE_NOTIFY, 0);
			assert_true(rd(&vd, STATUS) & NEEDS_RESET);
			break;
		case 8:
			wr(&vd, STATUS, ACK | DRV | FAILED);
			break;
		default:
			assert_true(negotiate(&vd, ALL_FEATURES));
			queue_layout(&vd, 0, 3, DESC(0), AVAIL(0), USED(0));
			wr(&vd, QUEUE_READY, 1);
			break;
		}
		wr(&vd, STATUS, 0);
		assert_int_equal(rd(&vd, STATUS), 0);
		assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
		assert_int_equal(vd.driver_features, 0);
		assert_false(vd.queues[0].ready);
		assert_false(vd.queues[1].ready);
		assert_int_equal(f.nreset, 1);
		memset(hva(0), 0, BUF);
		bring_up(&vd, ALL_FEATURES);
		publish(0, 9);
		publish(1, 10);
		wr(&vd, QUEUE_NOTIFY, 0);
		wr(&vd, QUEUE_NOTIFY, 1);
		assert_int_equal(f.last_head[0], 9);
		assert_int_equal(f.last_head[1], 10);
		assert_int_equal(*used16(0, 1), 1);
		assert_int_equal(*used16(1, 1), 1);
		assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK | DRV_OK);
	}
}

static void test_interrupt_ack(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_USED);
	assert_int_equal(f.nirq, 1);
	virtio_needs_reset(&vd, 0, VIRTQ_E_LEN);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_USED | VIRTIO_INT_CONFIG);
	assert_int_equal(f.nirq, 2);
	wr(&vd, INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	wr(&vd, INTERRUPT_ACK, 0);
	wr(&vd, INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	wr(&vd, INTERRUPT_ACK, 0xfffffffc); /* bits that were never set */
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	wr(&vd, INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	/* InterruptStatus is read-only */
	wr(&vd, INTERRUPT_STATUS, 3);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	wr(&vd, INTERRUPT_ACK, 0xffffffff);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	assert_int_equal(f.nirq, 2); /* acking raises nothing */
}

/* Used-buffer interrupts follow the driver's suppression, through virtio_used. */
static void test_used_interrupts(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	/* without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT */
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	*avail16(0, 0) = AVAIL_F_NO_INTERRUPT;
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.npopped[0], 1);
	assert_int_equal(f.nirq, 0);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	*avail16(0, 0) = 0;
	publish(0, 2);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nirq, 1);
	/* with EVENT_IDX: the first always, then when used idx passes used_event */
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	*avail16(0, 2 + QSIZE) = 2; /* used_event */
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0); /* used idx 1: first */
	assert_int_equal(f.nirq, 1);
	publish(0, 2);
	wr(&vd, QUEUE_NOTIFY, 0); /* used idx 2: not past 2 */
	assert_int_equal(f.nirq, 1);
	publish(0, 4);
	wr(&vd, QUEUE_NOTIFY, 0); /* used idx 3: passed 2 */
	assert_int_equal(f.nirq, 2);
	publish(0, 6);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nirq, 2);
	assert_int_equal(*used16(0, 1), 4);
	/* virtio_used on a queue that does not exist does nothing */
	virtio_used(&vd, 2);
	virtio_used(&vd, 0xffffffff);
	assert_int_equal(f.nirq, 2);
}

/* ---- polling before sleeping (ops->poll) ---- */

static struct virtq_chain poll_chain;

static int poll_serve_one(struct virtio_dev *vd, unsigned int q)
{
	static const char reply[] = "ok";
	struct fake *f = vd->priv;

	f->npopped[q]++;
	virtq_push(&vd->queues[q], poll_chain.head,
		   (uint32_t)virtq_write_chain(&poll_chain, 0, reply, sizeof(reply)));
	f->npushed[q]++;
	return 0;
}

static void poll_notify(struct virtio_dev *vd, unsigned int q)
{
	struct fake *f = vd->priv;

	f->nnotify[q]++;
	virtio_serve_queue(vd, q, &poll_chain, poll_serve_one);
}

/* The driver's avail_event: in the used ring, after its QSIZE elements. */
static uint16_t avail_event(unsigned int q)
{
	return *used16(q, 2 + 4 * QSIZE);
}

static int fake_busy(struct virtio_dev *vd, unsigned int q)
{
	struct fake *f = vd->priv;

	assert_int_equal(q, 0);
	f->nbusy++;
	return 1;
}

static const struct virtio_dev_ops poll_ops = {
	.name = "poller",
	.device_id = 9,
	.nqueues = 2,
	.features = fake_features,
	.queue_notify = poll_notify,
	.poll = 1,
};

static void test_poll_window(void **state)
{
	(void)state;
	/* a kick soon after the queue slept: twice the gap, within the bounds */
	assert_int_equal(virtio_poll_window(0, 10000), 20000);
	assert_int_equal(virtio_poll_window(50000, 10000), 20000);
	assert_int_equal(virtio_poll_window(0, 300), VIRTIO_POLL_MIN_NS);
	assert_int_equal(virtio_poll_window(0, 40000), VIRTIO_POLL_MAX_NS);
	assert_int_equal(virtio_poll_window(0, VIRTIO_POLL_MAX_NS), VIRTIO_POLL_MAX_NS);
	/* requests further apart: halve it, down to none */
	assert_int_equal(virtio_poll_window(VIRTIO_POLL_MAX_NS, VIRTIO_POLL_MAX_NS + 1), 25000);
	assert_int_equal(virtio_poll_window(25000, 1000000000), 12500);
	assert_int_equal(virtio_poll_window(3000, 1000000), 0);
	assert_int_equal(virtio_poll_window(0, UINT64_MAX), 0);
}

static void test_poll_serve(void **state)
{
	struct virtio_dev vd;
	struct fake f;
	uint64_t t0, took;
	uint32_t window;

	(void)state;
	dev_new(&vd, &f, &poll_ops);
	bring_up(&vd, ALL_FEATURES);
	/* the first request: no window yet; served, signalled, re-armed, the sleep noted */
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.npopped[0], 1);
	assert_int_equal(f.nirq, 1);
	assert_int_equal(vd.poll_ns[0], 0);
	assert_true(vd.slept_at[0] != 0);
	assert_int_equal(avail_event(0), 1); /* kick me at the next */
	/* a kick 10 us after that sleep: a 20 us window, watched after the reply is out */
	vd.slept_at[0] = now_ns() - 10000;
	*avail16(0, 2 + QSIZE) = 1; /* used_event: an interrupt for the next reply */
	publish(0, 2);
	t0 = now_ns();
	wr(&vd, QUEUE_NOTIFY, 0);
	took = now_ns() - t0;
	assert_true(vd.poll_ns[0] >= 20000 && vd.poll_ns[0] <= VIRTIO_POLL_MAX_NS); /* 2x 10 us, and
										  * the time since */
	window = vd.poll_ns[0];
	assert_int_equal(f.npopped[0], 2);
	assert_int_equal(*used16(0, 1), 2);
	assert_int_equal(f.nirq, 2);
	assert_true(took >= window);
	assert_int_equal(avail_event(0), 2);
	assert_true(vd.slept_at[0] >= t0 + window);
	/* a kick long after: the window halves; a reset forgets it */
	vd.slept_at[0] = now_ns() - 10000000;
	publish(0, 4);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(vd.poll_ns[0], window / 2);
	assert_int_equal(f.npopped[0], 3);
	wr(&vd, STATUS, 0);
	assert_int_equal(vd.poll_ns[0], 0);
	assert_int_equal(vd.slept_at[0], 0);
	/* an owner with other work waiting (a register access) ends the watch at the first look */
	dev_new(&vd, &f, &poll_ops);
	bring_up(&vd, ALL_FEATURES);
	vd.busy = fake_busy;
	vd.slept_at[0] = now_ns() - 10000;
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_true(vd.poll_ns[0] >= 20000);
	assert_int_equal(f.npopped[0], 1);
	assert_int_equal(f.nbusy, 1);
	assert_true(vd.slept_at[0] != 0);
	/* a device without ops->poll never watches nor notes its sleeps */
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(vd.slept_at[0], 0);
}

/* ---- config space ---- */

static void test_config_space(void **state)
{
	static const struct {
		uint64_t off;
		unsigned int size;
		int reaches; /* the hook sees it */
	} cases[] = {
		{ 0, 1, 1 }, { 0, 2, 1 }, { 0, 4, 1 }, { 0, 8, 1 }, { 1, 1, 1 }, { 1, 2, 1 },
		{ 3, 4, 1 }, /* unaligned but inside: the device decides */
		{ 8, 8, 1 }, { 12, 4, 1 }, { 14, 2, 1 }, { 15, 1, 1 },
		{ 15, 2, 0 }, { 13, 4, 0 }, { 9, 8, 0 }, { 16, 1, 0 }, { 16, 4, 0 }, { 0xeff, 1, 0 },
		{ 0xf00, 4, 0 }, { 0x1000, 4, 0 }, { UINT64_MAX - CONFIG, 1, 0 },
		{ 0, 0, 0 }, { 0, 3, 0 }, { 0, 16, 0 }, { 4, 5, 0 }, { 0, 0xffffffff, 0 },
	};
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	for (size_t i = 0; i < nitems(cases); i++) {
		uint64_t off = CONFIG + cases[i].off, v, want = 0, val = 0xa1b2c3d4e5f60718ULL;
		unsigned int size = cases[i].size;
		uint8_t before[16];

		f.ncfg_read = f.ncfg_write = 0;
		if (cases[i].reaches)
			memcpy(&want, f.cfg + cases[i].off, size);
		v = virtio_mmio_read(&vd, off, size);
		if (v != want || f.ncfg_read != (unsigned int)cases[i].reaches)
			fail_msg("config read +%#llx size %u: %#llx, hook %u",
				 (unsigned long long)cases[i].off, size, (unsigned long long)v,
				 f.ncfg_read);
		if (cases[i].reaches) {
			assert_int_equal(f.cfg_off, cases[i].off);
			assert_int_equal(f.cfg_size, size);
		}
		memcpy(before, f.cfg, sizeof(before));
		virtio_mmio_write(&vd, off, size, val);
		if (f.ncfg_write != (unsigned int)cases[i].reaches)
			fail_msg("config write +%#llx size %u: hook %u", (unsigned long long)cases[i].off,
				 size, f.ncfg_write);
		if (cases[i].reaches) {
			assert_int_equal(f.cfg_off, cases[i].off);
			assert_int_equal(f.cfg_size, size);
			assert_int_equal(f.cfg_val, val);
			assert_memory_equal(f.cfg + cases[i].off, &val, size);
			/* and reads back */
			memcpy(&want, &val, sizeof(want));
			if (size < 8)
				want &= (1ULL << (8 * size)) - 1;
			assert_int_equal(virtio_mmio_read(&vd, off, size), want);
		} else {
			assert_memory_equal(f.cfg, before, sizeof(before));
		}
	}
	assert_int_equal(f.ncfg_bad, 0);
	/* config space writes are not register writes */
	assert_int_equal(vd.status, 0);

	/* a device without config space reads 0 everywhere and ignores writes */
	dev_new(&vd, &f, &bare_ops);
	for (unsigned int off = 0; off < 32; off++) {
		assert_int_equal(virtio_mmio_read(&vd, CONFIG + off, 1), 0);
		assert_int_equal(virtio_mmio_read(&vd, CONFIG + off, 4), 0);
		virtio_mmio_write(&vd, CONFIG + off, 4, 0xffffffff);
	}
	assert_int_equal(vd.status, 0);
}

/* ---- DEVICE_NEEDS_RESET, SHM ---- */

static void test_needs_reset(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 0);
	virtio_needs_reset(&vd, 0, VIRTQ_E_LOOP);
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RESET);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
	assert_int_equal(f.nirq, 1);
	/* idempotent: no second interrupt, no second generation */
	virtio_needs_reset(&vd, 1, VIRTQ_E_ADDR);
	virtio_needs_reset(&vd, 0, VIRTQ_E_RING);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
	assert_int_equal(f.nirq, 1);
	/* even after the driver acknowledged the interrupt */
	wr(&vd, INTERRUPT_ACK, VIRTIO_INT_CONFIG);
	virtio_needs_reset(&vd, 0, VIRTQ_E_RING);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), 0);
	assert_int_equal(f.nirq, 1);
	/* ConfigGeneration is read-only */
	wr(&vd, CONFIG_GENERATION, 0);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
	/* after a reset it can happen again, and counts on */
	wr(&vd, STATUS, 0);
	bring_up(&vd, ALL_FEATURES);
	virtio_needs_reset(&vd, 0, VIRTQ_E_LOOP);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 2);
	assert_int_equal(f.nirq, 2);
	/* without an irq callback nothing breaks */
	vd.irq = NULL;
	wr(&vd, STATUS, 0);
	virtio_needs_reset(&vd, 0, VIRTQ_E_LOOP);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	/* virtio_fail is the same, for a reason the device found */
	dev_new(&vd, &f, &fake_ops);
	bring_up(&vd, ALL_FEATURES);
	virtio_fail(&vd, 1, "request without a status byte");
	assert_int_equal(rd(&vd, STATUS), ACK | DRV | FEAT_OK | DRV_OK | NEEDS_RESET);
	assert_int_equal(rd(&vd, INTERRUPT_STATUS), VIRTIO_INT_CONFIG);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
	virtio_fail(&vd, 0, "again");
	virtio_needs_reset(&vd, 0, VIRTQ_E_LOOP);
	assert_int_equal(rd(&vd, CONFIG_GENERATION), 1);
	assert_int_equal(f.nirq, 1);
	assert_false(virtio_queue_live(&vd, 0));
	/* a needs-reset before the driver ever started the device */
	dev_new(&vd, &f, &fake_ops);
	virtio_needs_reset(&vd, 0, (enum virtq_error)99);
	assert_int_equal(rd(&vd, STATUS), NEEDS_RESET);
}

/* ---- the register shadow (ipc.h) ---- */

static const uint32_t shadowed[] = { MAGIC,		 VERSION, DEVICE_ID,	     VENDOR_ID,
				     INTERRUPT_STATUS, STATUS,	CONFIG_GENERATION };

/* Every register and config read the shadow offers gives what the transport returns. */
static int shadow_mismatch(struct virtio_dev *vd, const struct ipc_shadow *sh, char *why, size_t len)
{
	static const unsigned int widths[] = { 1, 2, 4, 8 };
	uint64_t valid = 0;

	for (size_t i = 0; i < nitems(shadowed); i++)
		valid |= 1ull << (shadowed[i] / 4);
	if (sh->sh_regs_valid != valid) {
		snprintf(why, len, "valid mask %#llx", (unsigned long long)sh->sh_regs_valid);
		return 1;
	}
	for (size_t i = 0; i < nitems(shadowed); i++) {
		uint64_t v = virtio_mmio_read(vd, shadowed[i], 4);

		if (sh->sh_regs[shadowed[i] / 4] != v) {
			snprintf(why, len, "register %#x: shadow %#x, read %#llx", shadowed[i],
				 sh->sh_regs[shadowed[i] / 4], (unsigned long long)v);
			return 1;
		}
	}
	if (sh->sh_config_len != (vd->ops->config_read ? vd->ops->config_len : 0)) {
		snprintf(why, len, "config length %u", sh->sh_config_len);
		return 1;
	}
	for (uint32_t off = 0; off < sh->sh_config_len; off++) {
		for (size_t w = 0; w < nitems(widths) && widths[w] <= sh->sh_config_len - off; w++) {
			uint64_t v = 0;

			memcpy(&v, sh->sh_config + off, widths[w]);
			if (v != virtio_mmio_read(vd, CONFIG + off, widths[w])) {
				snprintf(why, len, "config %u width %u", off, widths[w]);
				return 1;
			}
		}
	}
	return 0;
}

static void assert_shadow(struct virtio_dev *vd, const struct ipc_shadow *sh)
{
	char why[128];

	if (shadow_mismatch(vd, sh, why, sizeof(why)))
		fail_msg("shadow: %s", why);
}

static void test_shadow(void **state)
{
	static struct ipc_shadow sh;
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	memset(&sh, 0, sizeof(sh));
	dev_new(&vd, &f, &fake_ops);
	virtio_shadow_attach(&vd, &sh);
	assert_int_equal(sh.sh_regs[MAGIC / 4], 0x74726976);
	assert_int_equal(sh.sh_applied, 0); /* the device process counts writes, not the transport */
	assert_shadow(&vd, &sh);
	bring_up(&vd, ALL_FEATURES);
	assert_shadow(&vd, &sh);
	/* a config write shows at once, at every width */
	virtio_mmio_write(&vd, CONFIG + 3, 2, 0xbeef);
	assert_shadow(&vd, &sh);
	assert_int_equal(sh.sh_config[3], 0xef);
	/* a used interrupt from a kick the ioeventfd delivered (no register write) */
	publish(0, 0);
	virtio_kick(&vd, 0);
	assert_int_equal(f.nirq, 1);
	assert_int_equal(sh.sh_regs[INTERRUPT_STATUS / 4], VIRTIO_INT_USED);
	assert_shadow(&vd, &sh);
	wr(&vd, INTERRUPT_ACK, VIRTIO_INT_USED);
	assert_int_equal(sh.sh_regs[INTERRUPT_STATUS / 4], 0);
	assert_shadow(&vd, &sh);
	/* a broken ring: NEEDS_RESET, a new generation and a config interrupt */
	publish_bad(0);
	virtio_kick(&vd, 0);
	assert_true(sh.sh_regs[STATUS / 4] & NEEDS_RESET);
	assert_int_equal(sh.sh_regs[INTERRUPT_STATUS / 4], VIRTIO_INT_CONFIG);
	assert_int_equal(sh.sh_regs[CONFIG_GENERATION / 4], 1);
	assert_shadow(&vd, &sh);
	virtio_fail(&vd, 1, "test");
	assert_shadow(&vd, &sh);
	/* reset, and up again */
	wr(&vd, STATUS, 0);
	assert_int_equal(sh.sh_regs[STATUS / 4], 0);
	assert_int_equal(sh.sh_regs[INTERRUPT_STATUS / 4], 0);
	assert_shadow(&vd, &sh);
	memset(hva(0), 0, BUF);
	bring_up(&vd, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	publish(0, 0);
	wr(&vd, QUEUE_NOTIFY, 0);
	assert_int_equal(f.nirq, 3);
	assert_shadow(&vd, &sh);
	assert_int_equal(f.nirq_stale_shadow, 0);
	/* no config space: nothing of it offered */
	dev_new(&vd, &f, &bare_ops);
	memset(&sh, 0, sizeof(sh));
	virtio_shadow_attach(&vd, &sh);
	assert_int_equal(sh.sh_config_len, 0);
	assert_shadow(&vd, &sh);
}

static void test_shm(void **state)
{
	struct virtio_dev vd;
	struct fake f;

	(void)state;
	dev_new(&vd, &f, &fake_ops);
	for (uint32_t sel = 0; sel < 4; sel++) {
		wr(&vd, SHM_SEL, sel == 3 ? 0xffffffff : sel);
		assert_int_equal(rd(&vd, SHM_LEN_LOW), 0xffffffff);
		assert_int_equal(rd(&vd, SHM_LEN_HIGH), 0xffffffff);
	}
	wr(&vd, SHM_LEN_LOW, 0);
	assert_int_equal(rd(&vd, SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(virtio_mmio_read(&vd, SHM_LEN_LOW, 2), 0);
	(void)rd(&vd, SHM_BASE_LOW);
	(void)rd(&vd, SHM_BASE_HIGH);
}

/* ---- random register sequences ---- */

#define FUZZ_SEED 0x6d6d696f66757a7aULL /* "mmiofuzz" */
#define FUZZ_SEQUENCES 1000
#define FUZZ_STEPS 400

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

static const uint64_t fuzz_regs[] = {
	MAGIC, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, DEVICE_FEATURES_SEL, DRIVER_FEATURES,
	DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY,
	INTERRUPT_STATUS, INTERRUPT_ACK, STATUS, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW,
	QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, SHM_SEL, SHM_LEN_LOW, SHM_LEN_HIGH,
	SHM_BASE_LOW, SHM_BASE_HIGH, CONFIG_GENERATION, CONFIG, CONFIG + 4, CONFIG + 8, CONFIG + 12,
};

static uint64_t fuzz_offset(uint64_t *s)
{
	switch (rng_below(s, 8)) {
	case 0:
		return rng_below(s, 0x1000);
	case 1:
		return CONFIG + rng_below(s, 32);
	case 2:
		return rng_next(s);
	default:
		return fuzz_regs[rng_below(s, nitems(fuzz_regs))];
	}
}

static unsigned int fuzz_size(uint64_t *s)
{
	static const unsigned int sizes[] = { 4, 4, 4, 4, 4, 4, 1, 2, 8, 0, 3, 16 };

	return sizes[rng_below(s, nitems(sizes))];
}

/*
 * Ring addresses come from pools that never overlap the descriptors' buffers
 * and indirect tables, so no chain here makes an indirect table alias a
 * descriptor table (that walker bug is test_virtq's).
 */
static uint64_t fuzz_value(uint64_t *s, uint64_t off)
{
	static const uint32_t statuses[] = {
		0, ACK, ACK | DRV, ACK | DRV | FEAT_OK, ACK | DRV | FEAT_OK | DRV_OK, DRV_OK,
		FEAT_OK, FAILED, NEEDS_RESET, 0xff, ACK | DRV | DRV_OK, ACK | DRV | FEAT_OK | FAILED,
	};
	static const uint64_t ring_addrs[] = {
		DESC(0), DESC(1), AVAIL(0), AVAIL(1), USED(0), USED(1), DESC(2), AVAIL(2) + 2,
		USED(2) + 4, MEM_SIZE - 16, MEM_SIZE, DESC(0) + 8, AVAIL(0) + 1, USED(0) + 2,
	};

	if (rng_below(s, 8) == 0)
		return rng_next(s);
	switch (off) {
	case STATUS:
		return statuses[rng_below(s, nitems(statuses))];
	case DRIVER_FEATURES:
		return rng_below(s, 2) ? (uint32_t)ALL_FEATURES : (uint32_t)(ALL_FEATURES >> 32);
	case DRIVER_FEATURES_SEL:
	case DEVICE_FEATURES_SEL:
		return rng_below(s, 4);
	case QUEUE_SEL:
	case QUEUE_NOTIFY:
		return rng_below(s, 6);
	case QUEUE_NUM:
		if (rng_below(s, 4))
			return QSIZE;
		return rng_below(s, 2) ? 1u << rng_below(s, 10) : rng_below(s, 600);
	case QUEUE_READY:
		return rng_below(s, 3) != 0;
	case QUEUE_DESC_LOW:
	case QUEUE_DRIVER_LOW:
	case QUEUE_DEVICE_LOW:
		return (uint32_t)ring_addrs[rng_below(s, nitems(ring_addrs))];
	case QUEUE_DESC_HIGH:
	case QUEUE_DRIVER_HIGH:
	case QUEUE_DEVICE_HIGH:
		return rng_below(s, 4) ? 0 : rng_below(s, 3);
	case INTERRUPT_ACK:
		return rng_below(s, 4);
	default:
		return rng_below(s, 2) ? rng_below(s, 0x100) : rng_next(s);
	}
}

/* As a driver would: make a chain available on queue q, using the rings it set up. */
static void fuzz_publish(uint64_t *s, const struct virtq *vq)
{
	uint16_t size = vq->size, idx, head;
	uint16_t *avail;
	uint8_t *desc;

	if (!vq->ready || !vq->avail || !vq->desc || size == 0 || (size & (size - 1)))
		return;
	avail = vq->avail;
	desc = vq->desc;
	head = (uint16_t)rng_below(s, size);
	if (rng_below(s, 16) == 0)
		head = (uint16_t)rng_next(s); /* possibly beyond the queue */
	if (head < size) {
		struct tdesc d = {
			.addr = BUF + rng_below(s, MiB(1)),
			.len = 1 + (uint32_t)rng_below(s, 256),
			.flags = (uint16_t)(rng_below(s, 2) ? F_WRITE : 0),
		};

		switch (rng_below(s, 12)) {
		case 0:
			d.len = 0;
			break;
		case 1:
			d.addr = MEM_SIZE;
			break;
		case 2:
			if (size > 1) {
				d.flags |= F_NEXT;
				d.next = (uint16_t)((head + 1) % size);
			}
			break;
		case 3:
			/* an indirect table well away from every ring */
			d.addr = ITABLE;
			d.len = 32;
			d.flags = F_INDIRECT;
			break;
		default:
			break;
		}
		memcpy(desc + 16 * (size_t)head, &d, sizeof(d));
	}
	idx = avail[1];
	avail[2 + (idx & (size - 1))] = head;
	avail[1] = (uint16_t)(idx + (rng_below(s, 16) ? 1 : rng_below(s, 0x10000)));
	if (rng_below(s, 4) == 0)
		avail[0] = (uint16_t)rng_below(s, 2);
}

/* Features the device accepts (the picky one refuses bit 5). */
static uint64_t fuzz_features(uint64_t *s, const struct virtio_dev *vd)
{
	uint64_t f = rng_below(s, 2) ? ALL_FEATURES : VIRTIO_BIT(VIRTIO_F_VERSION_1);

	return vd->ops == &picky_ops ? f & ~BIT5 : f;
}

/* The probe sequence without expectations: stale rings may well break the device. */
static void fuzz_bring_up(struct virtio_dev *vd, uint64_t features)
{
	wr(vd, STATUS, ACK);
	wr(vd, STATUS, ACK | DRV);
	write_features(vd, features);
	wr(vd, STATUS, ACK | DRV | FEAT_OK);
	for (unsigned int q = 0; q < vd->ops->nqueues; q++) {
		queue_layout(vd, q, QSIZE, DESC(q), AVAIL(q), USED(q));
		wr(vd, QUEUE_READY, 1);
	}
	wr(vd, STATUS, ACK | DRV | FEAT_OK | DRV_OK);
}

static int g_stderr = -1;

static void quiet(int on)
{
	if (on) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		assert_true(null >= 0);
		g_stderr = dup(STDERR_FILENO);
		assert_true(g_stderr >= 0);
		assert_int_equal(dup2(null, STDERR_FILENO), STDERR_FILENO);
		close(null);
	} else if (g_stderr >= 0) {
		assert_int_equal(dup2(g_stderr, STDERR_FILENO), STDERR_FILENO);
		close(g_stderr);
		g_stderr = -1;
	}
}

static int restore_stderr(void **state)
{
	(void)state;
	quiet(0); /* after a failed assertion inside a quiet stretch */
	return 0;
}

#define FUZZ_FAIL(...)                        \
	do {                                  \
		quiet(0);                     \
		fail_msg(__VA_ARGS__);        \
	} while (0)

static void fuzz_check(const struct virtio_dev *vd, const struct fake *f, unsigned int seq,
		       unsigned int step)
{
	if (vd->isr & ~(uint32_t)(VIRTIO_INT_USED | VIRTIO_INT_CONFIG))
		FUZZ_FAIL("seq %u step %u: InterruptStatus %#x", seq, step, vd->isr);
	if (vd->status & ~0xffu)
		FUZZ_FAIL("seq %u step %u: status %#x", seq, step, vd->status);
	if ((vd->status & FEAT_OK) &&
	    (!(vd->driver_features & VIRTIO_BIT(VIRTIO_F_VERSION_1)) ||
	     (vd->driver_features & ~ALL_FEATURES)))
		FUZZ_FAIL("seq %u step %u: FEATURES_OK with features %#llx", seq, step,
			  (unsigned long long)vd->driver_features);
	for (unsigned int q = 0; q < nitems(vd->queues); q++) {
		const struct virtq *vq = &vd->queues[q];

		if (q >= vd->ops->nqueues) {
			static const struct virtq zero;

			if (memcmp(vq, &zero, sizeof(zero)))
				FUZZ_FAIL("seq %u step %u: queue %u (no such queue) was written", seq,
					  step, q);
			continue;
		}
		if (!vq->ready)
			continue;
		if (!vq->desc || !vq->avail || !vq->used || vq->size == 0 ||
		    vq->size > VIRTQ_MAX_SIZE || (vq->size & (vq->size - 1)))
			FUZZ_FAIL("seq %u step %u: queue %u ready with a bad layout", seq, step, q);
		if (vq->desc != mem_ptr(&g_mem, vq->desc_gpa, 16 * (uint64_t)vq->size) ||
		    vq->avail != mem_ptr(&g_mem, vq->avail_gpa, 6 + 2 * (uint64_t)vq->size) ||
		    vq->used != mem_ptr(&g_mem, vq->used_gpa, 6 + 8 * (uint64_t)vq->size))
			FUZZ_FAIL("seq %u step %u: queue %u rings are not at their addresses", seq,
				  step, q);
	}
	if (f->nnotify_dead || f->ncfg_bad || f->nnotify[2] || f->nnotify[3])
		FUZZ_FAIL("seq %u step %u: a hook ran when it should not have", seq, step);
}

static void test_random_registers(void **state)
{
	static struct virtio_dev vd;
	static struct fake f;
	static struct ipc_shadow sh;
	uint64_t s = FUZZ_SEED;
	unsigned long long nresets = 0, nreads = 0, nwrites = 0, nlive = 0, npopped = 0, nrunning = 0;

	(void)state;
	quiet(1);
	for (unsigned int seq = 0; seq < FUZZ_SEQUENCES; seq++) {
		dev_new(&vd, &f, seq % 5 == 4 ? &picky_ops : &fake_ops);
		if (seq % 4 == 0) {
			memset(&sh, 0, sizeof(sh));
			virtio_shadow_attach(&vd, &sh);
		}
		if (rng_below(&s, 2))
			bring_up(&vd, fuzz_features(&s, &vd));
		for (unsigned int step = 0; step < FUZZ_STEPS; step++) {
			uint64_t off = fuzz_offset(&s);
			unsigned int size = fuzz_size(&s), q = (unsigned int)rng_below(&s, 5);
			unsigned int resets = f.nreset + (vd.ops->reset != NULL); /* after a reset */

			switch (rng_below(&s, 16)) {
			case 0:
			case 1:
			case 2:
			case 3:
			case 4:
			case 5: {
				uint64_t v = fuzz_value(&s, off);

				virtio_mmio_write(&vd, off, size, v);
				nwrites++;
				if (off == STATUS && size == 4 && (uint32_t)v == 0) {
					if (vd.status || vd.driver_features || vd.isr ||
					    vd.queues[0].ready || vd.queues[1].ready || f.nreset != resets)
						FUZZ_FAIL("seq %u step %u: reset left state", seq, step);
					nresets++;
				}
				break;
			}
			case 6:
			case 7:
			case 8: {
				uint64_t v = virtio_mmio_read(&vd, off, size);

				nreads++;
				if (off < CONFIG && v > UINT32_MAX)
					FUZZ_FAIL("seq %u step %u: register read %#llx", seq, step,
						  (unsigned long long)v);
				if (off == QUEUE_NUM_MAX && size == 4 &&
				    v != (vd.queue_sel < 2 ? VIRTQ_MAX_SIZE : 0))
					FUZZ_FAIL("seq %u step %u: QueueNumMax %llu, queue %u", seq, step,
						  (unsigned long long)v, vd.queue_sel);
				break;
			}
			case 9:
				if (rng_below(&s, 4))
					break;
				virtio_mmio_write(&vd, STATUS, 4, 0); /* a reset in whatever state */
				if (vd.status || f.nreset != resets)
					FUZZ_FAIL("seq %u step %u: reset", seq, step);
				nresets++;
				break;
			case 10:
			case 11:
				if (q < 2)
					fuzz_publish(&s, &vd.queues[q]);
				break;
			case 12:
				nlive += virtio_queue_live(&vd, q);
				virtio_kick(&vd, q);
				break;
			case 13:
				/* the device raises used interrupts only for queues it runs */
				if (q < 2 && vd.queues[q].ready)
					virtio_used(&vd, q);
				break;
			case 14:
				if (rng_below(&s, 8) == 0)
					virtio_needs_reset(&vd, q, (enum virtq_error)rng_below(&s, 12));
				break;
			default:
				if (rng_below(&s, 4) == 0) {
					wr(&vd, STATUS, 0);
					nresets++;
				}
				if (rng_below(&s, 2) && vd.status == 0)
					fuzz_bring_up(&vd, fuzz_features(&s, &vd));
				break;
			}
			fuzz_check(&vd, &f, seq, step);
			if (vd.shadow) {
				char why[128];

				if (shadow_mismatch(&vd, &sh, why, sizeof(why)) || f.nirq_stale_shadow)
					FUZZ_FAIL("seq %u step %u: shadow: %s", seq, step,
						  f.nirq_stale_shadow ? "stale at an interrupt" : why);
			}
			nrunning += (vd.status & (DRV_OK | FEAT_OK | NEEDS_RESET)) == (DRV_OK | FEAT_OK);
		}
		npopped += f.npopped[0] + f.npopped[1];
	}
	quiet(0);
	print_message("%llu writes, %llu reads, %llu resets, %llu steps running, %llu kicks of live "
		      "queues, %llu chains served\n",
		      nwrites, nreads, nresets, nrunning, nlive, npopped);
	assert_true(nlive > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_device_features),
		cmocka_unit_test(test_feature_negotiation),
		cmocka_unit_test(test_features_locked),
		cmocka_unit_test(test_access_width),
		cmocka_unit_test(test_queue_setup),
		cmocka_unit_test(test_queue_bad),
		cmocka_unit_test(test_queue_overlap_across),
		cmocka_unit_test(test_buffer_over_other_queue),
		cmocka_unit_test(test_layout_locked_while_ready),
		cmocka_unit_test(test_queue_sel_beyond),
		cmocka_unit_test(test_kick_before_driver_ok),
		cmocka_unit_test(test_kick_gating),
		cmocka_unit_test(test_queue_notify_register),
		cmocka_unit_test(test_bad_chain),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_reset_from_every_state),
		cmocka_unit_test(test_interrupt_ack),
		cmocka_unit_test(test_used_interrupts),
		cmocka_unit_test(test_poll_window),
		cmocka_unit_test(test_poll_serve),
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_needs_reset),
		cmocka_unit_test(test_shadow),
		cmocka_unit_test(test_shm),
		cmocka_unit_test_teardown(test_random_registers, restore_stderr),
	};

	return cmocka_run_group_tests(tests, setup_guest, teardown_guest);
}
