/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_mmio: the virtio-mmio register window and status state machine
 * (devices/virtio/mmio.c) with a small fake device of three queues that
 * offers a few features, refuses one combination in features_ok, has a
 * 24-byte config space, and answers kicks by completing every chain with a
 * pattern written into its writable part. Driven by the hostile driver of
 * fzv.c: any register sequence, Status 0 in every state.
 *
 * Checked after every access: fixed registers read their values; accesses
 * that are not aligned 32-bit below config space read 0 and change nothing;
 * Status never loses a bit except through reset, and a reset leaves the
 * transport exactly at power-on; FEATURES_OK only for an acceptable set;
 * the device's callbacks only in the states the transport promises
 * (queue_notify for live queues, config accesses inside config space,
 * driver_ok once per DRIVER_OK); live rings are where the registers say.
 */
#include <stdint.h>
#include <string.h>

#include "devices/virtio/virtio.h"
#include "fz.h"
#include "fzv.h"
#include "fzv_dev.h"

#define FAKE_NQ 3
#define FAKE_CONFIG_LEN 24
#define FAKE_ID 42
#define FAKE_FEATURES (VIRTIO_BIT(0) | VIRTIO_BIT(1) | VIRTIO_BIT(5) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | \
		       VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX) | VIRTIO_BIT(40))
#define FAKE_REFUSED (VIRTIO_BIT(1) | VIRTIO_BIT(5)) /* features_ok: not both */

static struct guest_mem gm;
static struct virtio_dev vd;
static struct fzv drv;
static uint8_t config[FAKE_CONFIG_LEN];
static struct virtq_chain chain;
static unsigned long nresets, ndriver_ok, nirq;

static uint64_t fake_features(struct virtio_dev *d)
{
	(void)d;
	return FAKE_FEATURES;
}

static int fake_features_ok(struct virtio_dev *d, uint64_t f)
{
	(void)d;
	FZ_CHECK(f & VIRTIO_BIT(VIRTIO_F_VERSION_1), "features_ok without VERSION_1");
	FZ_CHECK(!(f & ~(FAKE_FEATURES | VIRTIO_BIT(VIRTIO_F_VERSION_1))), "features_ok(0x%llx): not offered",
		 (unsigned long long)f);
	return (f & FAKE_REFUSED) == FAKE_REFUSED ? -22 : 0;
}

static void fake_notify(struct virtio_dev *d, unsigned int qi)
{
	struct virtq *q = &d->queues[qi];
	unsigned int budget = 4u * q->size + 4;
	int pushed = 0;

	FZ_CHECK(virtio_queue_live(d, qi), "queue_notify(%u) on a queue that is not live", qi);
	while (budget--) {
		enum virtq_error e = virtq_pop(q, d->mem, &chain);
		uint8_t pat[64];

		if (e == VIRTQ_EMPTY)
			break;
		if (e != VIRTQ_OK) {
			virtio_needs_reset(d, qi, e);
			break;
		}
		memset(pat, 0xa5, sizeof(pat));
		virtq_push(q, chain.head, (uint32_t)virtq_write_chain(&chain, 0, pat, sizeof(pat)));
		pushed = 1;
	}
	if (pushed)
		virtio_used(d, qi);
}

static uint64_t fake_config_read(struct virtio_dev *d, uint32_t off, unsigned int size)
{
	uint64_t v = 0;

	(void)d;
	FZ_CHECK((size == 1 || size == 2 || size == 4 || size == 8) && off < FAKE_CONFIG_LEN &&
			 size <= FAKE_CONFIG_LEN - off,
		 "config_read(%u, %u) outside config space", off, size);
	memcpy(&v, config + off, size);
	return v;
}

static void fake_config_write(struct virtio_dev *d, uint32_t off, unsigned int size, uint64_t val)
{
	(void)d;
	FZ_CHECK((size == 1 || size == 2 || size == 4 || size == 8) && off < FAKE_CONFIG_LEN &&
			 size <= FAKE_CONFIG_LEN - off,
		 "config_write(%u, %u) outside config space", off, size);
	memcpy(config + off, &val, size);
}

static void fake_driver_ok(struct virtio_dev *d)
{
	uint32_t need = VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

	FZ_CHECK((d->status & need) == need && !(d->status & VIRTIO_STATUS_NEEDS_RESET),
		 "driver_ok in status 0x%x", d->status);
	ndriver_ok++;
}

static void fake_reset(struct virtio_dev *d)
{
	(void)d;
	nresets++;
}

static const struct virtio_dev_ops fake_ops = {
	.name = "fake",
	.device_id = FAKE_ID,
	.nqueues = FAKE_NQ,
	.features = fake_features,
	.features_ok = fake_features_ok,
	.queue_notify = fake_notify,
	.config_len = FAKE_CONFIG_LEN,
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.driver_ok = fake_driver_ok,
	.reset = fake_reset,
};

static void on_irq(struct virtio_dev *d)
{
	FZ_CHECK(d->isr & (VIRTIO_INT_USED | VIRTIO_INT_CONFIG), "interrupt with isr 0x%x", d->isr);
	nirq++;
}

static int plain_register(uint64_t off, unsigned int size)
{
	return size == 4 && off % 4 == 0 && off < VIRTIO_MMIO_CONFIG;
}

static uint64_t be_read(void *ctx, uint64_t off, unsigned int size)
{
	uint8_t before[sizeof(vd)];
	uint64_t v;

	(void)ctx;
	memcpy(before, &vd, sizeof(vd));
	v = virtio_mmio_read(&vd, off, size);
	/* Reads have no side effects in this transport. */
	FZ_CHECK(memcmp(before, &vd, sizeof(vd)) == 0, "read of 0x%llx/%u changed the device",
		 (unsigned long long)off, size);
	if (off >= VIRTIO_MMIO_CONFIG) {
		uint64_t cfg = off - VIRTIO_MMIO_CONFIG, want = 0;

		if (cfg < FAKE_CONFIG_LEN && size <= FAKE_CONFIG_LEN - cfg)
			memcpy(&want, config + cfg, size);
		FZ_CHECK(v == want, "config read 0x%llx/%u = 0x%llx, want 0x%llx", (unsigned long long)cfg,
			 size, (unsigned long long)v, (unsigned long long)want);
		return v;
	}
	if (!plain_register(off, size)) {
		FZ_CHECK(v == 0, "odd access 0x%llx/%u read 0x%llx", (unsigned long long)off, size,
			 (unsigned long long)v);
		return v;
	}
	switch (off) {
	case 0x000:
		FZ_CHECK(v == VIRTIO_MMIO_MAGIC, "MagicValue 0x%llx", (unsigned long long)v);
		break;
	case 0x004:
		FZ_CHECK(v == VIRTIO_MMIO_VERSION, "Version %llu", (unsigned long long)v);
		break;
	case 0x008:
		FZ_CHECK(v == FAKE_ID, "DeviceID %llu", (unsigned long long)v);
		break;
	case 0x00c:
		FZ_CHECK(v == VIRTIO_MMIO_VENDOR, "VendorID 0x%llx", (unsigned long long)v);
		break;
	case FZV_R_QUEUE_NUM_MAX:
		FZ_CHECK(v == (vd.queue_sel < FAKE_NQ ? VIRTQ_MAX_SIZE : 0), "QueueNumMax %llu for queue %u",
			 (unsigned long long)v, vd.queue_sel);
		break;
	case FZV_R_STATUS:
		FZ_CHECK(v == vd.status, "Status read 0x%llx", (unsigned long long)v);
		break;
	default:
		FZ_CHECK(v <= 0xffffffffull, "32-bit register 0x%llx read 0x%llx", (unsigned long long)off,
			 (unsigned long long)v);
		break;
	}
	return v;
}

static int queue_zero(const struct virtq *q)
{
	static const struct virtq zero;

	return memcmp(q, &zero, sizeof(zero)) == 0;
}

static void be_write(void *ctx, uint64_t off, unsigned int size, uint64_t val)
{
	struct virtio_dev before;
	unsigned long resets = nresets, oks = ndriver_ok;
	uint32_t now = (uint32_t)val & 0xff;

	(void)ctx;
	memcpy(&before, &vd, sizeof(vd));
	virtio_mmio_write(&vd, off, size, val);
	if (off >= VIRTIO_MMIO_CONFIG)
		return;
	if (!plain_register(off, size)) {
		FZ_CHECK(memcmp(&before, &vd, sizeof(vd)) == 0, "odd write 0x%llx/%u changed the device",
			 (unsigned long long)off, size);
		return;
	}
	if (off != FZV_R_STATUS)
		return;
	if (now == 0) {
		FZ_CHECK(nresets == resets + 1, "Status 0 did not reset the device model");
		FZ_CHECK(vd.status == 0 && vd.isr == 0 && vd.queue_sel == 0 && vd.driver_features == 0 &&
				 vd.dev_features_sel == 0 && vd.drv_features_sel == 0,
			 "Status 0 left status 0x%x isr 0x%x sel %u features 0x%llx", vd.status, vd.isr,
			 vd.queue_sel, (unsigned long long)vd.driver_features);
		for (unsigned int q = 0; q < FAKE_NQ; q++)
			FZ_CHECK(queue_zero(&vd.queues[q]), "Status 0 left queue %u configured", q);
		return;
	}
	FZ_CHECK(((before.status & ~(uint32_t)VIRTIO_STATUS_NEEDS_RESET) & ~vd.status) == 0,
		 "Status write 0x%x took bits away: 0x%x -> 0x%x", now, before.status, vd.status);
	FZ_CHECK(!(vd.status & ~(now | before.status | VIRTIO_STATUS_NEEDS_RESET)),
		 "Status write 0x%x set bits the driver did not write: 0x%x -> 0x%x", now, before.status,
		 vd.status);
	if ((vd.status & VIRTIO_STATUS_FEATURES_OK) && !(before.status & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t f = vd.driver_features;

		FZ_CHECK((f & VIRTIO_BIT(VIRTIO_F_VERSION_1)) &&
				 !(f & ~(FAKE_FEATURES | VIRTIO_BIT(VIRTIO_F_VERSION_1))) &&
				 (f & FAKE_REFUSED) != FAKE_REFUSED,
			 "FEATURES_OK accepted features 0x%llx", (unsigned long long)f);
		for (unsigned int q = 0; q < FAKE_NQ; q++)
			FZ_CHECK(vd.queues[q].event_idx == !!(f & VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX)) &&
					 vd.queues[q].indirect == !!(f & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC)),
				 "queue %u ring features do not follow the negotiation", q);
	}
	if (ndriver_ok != oks)
		FZ_CHECK(ndriver_ok == oks + 1 && !(before.status & VIRTIO_STATUS_DRIVER_OK),
			 "driver_ok called again");
}

static void be_kick(void *ctx, unsigned int q)
{
	(void)ctx;
	virtio_kick(&vd, q);
}

static void be_after(void *ctx)
{
	(void)ctx;
	fzv_check_transport(&vd, &drv, &gm);
	FZ_CHECK(vd.dev_features_sel <= 0xffffffffu, "feature select");
}

static const struct fzv_backend backend = {
	.nqueues = FAKE_NQ,
	.io_read = be_read,
	.io_write = be_write,
	.kick = be_kick,
	.after_op = be_after,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	struct fz in;

	if (!drv.be) {
		fzv_guest(&gm, FZV_MEM_SIZE, "fuzz-mmio");
		fzv_init(&drv, &backend, gm.regions[0].hva, FZV_MEM_SIZE);
	}
	virtio_init(&vd, &fake_ops, &gm, NULL);
	vd.irq = on_irq;
	for (unsigned int i = 0; i < FAKE_CONFIG_LEN; i++)
		config[i] = (uint8_t)(i * 17);
	fz_init(&in, data, size);
	fzv_begin(&drv);
	fzv_run(&drv, &in);
	if (fzv_check(&drv, why, sizeof(why)) < 0)
		fz_fail("%s", why);
	return 0;
}
