/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mmio-bench: what one device register read costs when the VMM's userspace
 * answers it. Ring 3 reads MagicValue of the first virtio-mmio device in a
 * loop: one MMIO exit each, which bulkhead forwards to the device process and
 * QEMU answers in its vCPU thread. Two reads that no device process sees frame
 * it: an MMIO address no device claims (the VMM's vCPU thread answers it) and
 * the LAPIC (the kernel answers it).
 *
 * Port I/O faults in ring 3, so port reads go through PIO_BATCH services.
 * Each iteration makes one service call of 16 reads and one of 1 read; the
 * difference, over 15, is one read inside ring 0 without the trap around it.
 * COM1's scratch register is forwarded to bulkhead-serial; port 0x80 is
 * answered by bulkhead-vcpu itself.
 */
#include "virtio.h"

#define SCRATCH_PORT (COM1 + 7)
#define SCRATCH_VALUE 0xa5
#define POST_PORT 0x80
#define UNCLAIMED_MMIO ((uint64_t)0xd8000000) /* in the MMIO hole, far from every device window */
#define PIO_PER_CALL 16
#define WARMUP 16

struct pio_cost {
	uint64_t one, batch; /* TSC cycles of all calls of 1 read and of PIO_PER_CALL reads */
};

/* first_device: the first window of boot.dev[] with a virtio-mmio device behind it. */
static int first_device(struct vdev *d)
{
	unsigned int i;

	for (i = 0; i < boot.ndev; i++) {
		if (!phys_mapped(boot.dev[i].base, 0x100))
			continue;
		if (vdev_probe(d, boot.dev[i].base, boot.dev[i].gsi) == 0 && d->device_id)
			return 0;
	}
	return -1;
}

static int in_device_window(uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < boot.ndev; i++)
		if (addr >= boot.dev[i].base && addr - boot.dev[i].base < boot.dev[i].size)
			return 1;
	return 0;
}

/* ns_per: cycles spread over n operations, in ns. */
static uint64_t ns_per(uint64_t cycles, uint64_t n)
{
	return tsc_to_us(cycles * 1000 / (n ? n : 1));
}

/* read_loop: n 32-bit reads at addr after a warm-up; TSC cycles. *bad counts reads other than want. */
static uint64_t read_loop(uint64_t addr, unsigned int n, uint32_t want, unsigned int *bad)
{
	volatile uint32_t *reg = phys(addr);
	unsigned int i, wrong = 0;
	uint64_t t0, t1;

	for (i = 0; i < WARMUP; i++)
		wrong += *reg != want;
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		wrong += *reg != want;
	t1 = rdtsc();
	*bad = wrong;
	return t1 - t0;
}

/* pio_call: one PIO_BATCH of n reads of port; TSC cycles. *bad counts values other than want. */
static uint64_t pio_call(struct pio_op *ops, unsigned int n, uint32_t want, unsigned int *bad)
{
	unsigned int i;
	uint64_t t0, t1;

	for (i = 0; i < n; i++)
		ops[i].value = ~want;
	t0 = rdtsc();
	pio_batch(ops, n);
	t1 = rdtsc();
	for (i = 0; i < n; i++)
		*bad += ops[i].value != want;
	return t1 - t0;
}

/* pio_loop: n iterations of a call of PIO_PER_CALL reads and a call of 1 read of port. */
static struct pio_cost pio_loop(uint16_t port, unsigned int n, uint32_t want, unsigned int *bad)
{
	struct pio_op ops[PIO_PER_CALL];
	struct pio_cost c = { 0, 0 };
	unsigned int i;

	for (i = 0; i < PIO_PER_CALL; i++)
		ops[i] = (struct pio_op){ .port = port, .size = 1, .write = 0 };
	*bad = 0;
	pio_call(ops, PIO_PER_CALL, want, bad);
	for (i = 0; i < n; i++) {
		c.batch += pio_call(ops, PIO_PER_CALL, want, bad);
		c.one += pio_call(ops, 1, want, bad);
	}
	return c;
}

/* pio_read_ns: what one more read in a call adds (0 if noise made it negative). */
static uint64_t pio_read_ns(const struct pio_cost *c, unsigned int n)
{
	if (c->batch <= c->one)
		return 0;
	return ns_per(c->batch - c->one, (uint64_t)n * (PIO_PER_CALL - 1));
}

static void pio_report(const char *what, const struct pio_cost *c, unsigned int n)
{
	cprintf(GUEST_TAG "mmio-bench: %s ns %lu (a call of %u reads %lu ns, of 1 read %lu ns)\n", what,
		pio_read_ns(c, n), PIO_PER_CALL, ns_per(c->batch, n), ns_per(c->one, n));
}

static void mmio_reads(const struct vdev *d, unsigned int n)
{
	uint32_t other = *(volatile uint32_t *)phys(UNCLAIMED_MMIO);
	uint32_t apic = lapic_read(LAPIC_ID);
	unsigned int bad;
	uint64_t t;

	t = read_loop(d->base + VIRTIO_MMIO_MAGIC_VALUE, n, VIRTIO_MMIO_MAGIC, &bad);
	if (bad)
		fail("MagicValue of 0x%lx was not 0x%x in %u of %u reads", d->base, VIRTIO_MMIO_MAGIC,
		     bad, n + WARMUP);
	cprintf(GUEST_TAG "mmio-bench: read ns %lu (MagicValue 0x%x in all %u reads)\n", ns_per(t, n),
		VIRTIO_MMIO_MAGIC, n + WARMUP);
	t = read_loop(UNCLAIMED_MMIO, n, other, &bad);
	if (bad)
		fail("unclaimed MMIO 0x%lx changed in %u reads", UNCLAIMED_MMIO, bad);
	cprintf(GUEST_TAG "mmio-bench: unclaimed read ns %lu (0x%lx reads 0x%x)\n", ns_per(t, n),
		UNCLAIMED_MMIO, other);
	t = read_loop(LAPIC_BASE + LAPIC_ID, n, apic, &bad);
	if (bad)
		fail("the LAPIC ID changed in %u reads", bad);
	cprintf(GUEST_TAG "mmio-bench: lapic read ns %lu\n", ns_per(t, n));
}

static void pio_reads(unsigned int n)
{
	struct pio_cost c;
	unsigned int bad;

	outb(SCRATCH_PORT, SCRATCH_VALUE);
	c = pio_loop(SCRATCH_PORT, n, SCRATCH_VALUE, &bad);
	if (bad)
		fail("COM1 scratch (0x%x) did not read 0x%x in %u reads", SCRATCH_PORT, SCRATCH_VALUE, bad);
	pio_report("pio read", &c, n);
	c = pio_loop(POST_PORT, n, inb(POST_PORT), &bad);
	if (bad)
		fail("port 0x%x changed in %u reads", POST_PORT, bad);
	pio_report("port 0x80 read", &c, n);
}

void mmio_bench(void)
{
	unsigned int n = (unsigned int)param_u64("bulkhead.iterations", 2000);
	struct vdev d;

	if (!n)
		fail("bulkhead.iterations=0");
	if (first_device(&d))
		fail("no virtio-mmio device (%u windows on the command line); attach a disk", boot.ndev);
	if (in_device_window(UNCLAIMED_MMIO))
		fail("0x%lx is inside a device window", UNCLAIMED_MMIO);
	tsc_hz();
	cprintf(GUEST_TAG "mmio-bench: device at 0x%lx (virtio id %u), %u iterations\n", d.base,
		d.device_id, n);
	mmio_reads(&d, n);
	pio_reads(n);
	pass();
}

/*
 * mmio-loop: with bulkhead.mmio-op=write, write QueueSel of the first device
 * forever (posted writes); with =read, read its QueueNumMax forever (never
 * answered from a shadow: it depends on the selector); with =mixed, each
 * round writes QueueSel, reads QueueNumMax, MagicValue (a shadowed register)
 * and a config byte, and writes InterruptACK (a synchronous write). For the
 * frozen- and compromised-device tests: the VMM must end the VM when the
 * device stops serving them (or replace the device). With bulkhead.seconds=N
 * it PASSes after N seconds.
 */
static int op_is(const char *op, size_t len, const char *name)
{
	return len == strlen(name) && memcmp(op, name, len) == 0;
}

void mmio_loop(void)
{
	size_t len = 0;
	const char *op = param_get("bulkhead.mmio-op", &len);
	int write = op && op_is(op, len, "write"), mixed = op && op_is(op, len, "mixed");
	volatile uint32_t *sel, *nummax, *magic, *ack;
	volatile uint8_t *config;
	uint32_t i = 0, sink = 0;
	uint64_t base, seconds = param_u64("bulkhead.seconds", 0);
	uint64_t until = rdtsc() + us_to_tsc(seconds * 1000000);

	if (!op || (!write && !mixed && !op_is(op, len, "read")))
		fail("bulkhead.mmio-op must be write, read or mixed");
	/* The first window as announced, without probing it: whatever the device
	 * answers, the loop goes on. */
	if (!boot.ndev || !phys_mapped(boot.dev[0].base, 0x200))
		fail("no virtio-mmio window on the command line; attach a disk");
	base = boot.dev[0].base;
	sel = phys(base + 0x30);
	nummax = phys(base + 0x34);
	magic = phys(base);
	ack = phys(base + 0x64);
	config = phys(base + 0x100);
	cprintf(GUEST_TAG "mmio-loop: %s at 0x%lx\n", mixed ? "mixing" : write ? "writing" : "reading",
		base);
	for (;; i++) {
		/* bulkhead.seconds=N: PASS after N seconds (0: never) */
		if (seconds && (i & 255) == 0 && rdtsc() >= until) {
			cprintf(GUEST_TAG "mmio-loop: %u rounds\n", i);
			pass();
		}
		if (write || mixed)
			*sel = i & 1;
		if (!write)
			sink += *nummax;
		if (mixed) {
			sink += *magic + config[i % 8];
			*ack = 1;
		}
	}
	(void)sink;
}
