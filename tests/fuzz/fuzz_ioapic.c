/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ioapic: the split irqchip's IOAPIC (vcpu/ioapic.c) under any sequence
 * of guest accesses to its window.
 *
 * Input: ops (first byte % 3):
 *   0  u8 offset, u8 size          ioapic_read (size 1, 2, 4 or 8)
 *   1  u8 offset, u8 size, u32 v   ioapic_write
 *   2  u8 register, u32 v          a 32-bit IOREGSEL write, then an IOWIN write
 *
 * Checked after every op: no redirection entry holds a read-only or
 * reserved bit, the version register never changes, a write says the routes
 * changed exactly when an entry did, and the routes are what KVM can take:
 * at most one per pin, in pin order, only for unmasked entries in a mode an
 * MSI carries, always edge-triggered, addressed to the local APICs' page.
 */
#include <stdint.h>
#include <string.h>

#include "fz.h"
#include "vcpu/vcpu.h"

#define RTE_ALLOWED 0xff0000000001afffull /* vector, mode, dest mode, polarity, trigger, mask, dest */
#define VERSION ((uint32_t)(LAYOUT_IOAPIC_PINS - 1) << 16 | 0x11)

static struct ioapic io;

static void check_routes(void)
{
	struct kvm_irq_routing_entry r[LAYOUT_IOAPIC_PINS];
	unsigned int n = ioapic_routes(&io, r);

	FZ_CHECK(n <= LAYOUT_IOAPIC_PINS, "%u routes", n);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t e;
		unsigned int dm;

		FZ_CHECK(r[i].gsi < LAYOUT_IOAPIC_PINS, "route %u for GSI %u", i, r[i].gsi);
		FZ_CHECK(i == 0 || r[i].gsi > r[i - 1].gsi, "routes out of order at %u", i);
		FZ_CHECK(r[i].type == KVM_IRQ_ROUTING_MSI && r[i].flags == 0, "route %u type %u", i,
			 r[i].type);
		e = io.redir[r[i].gsi];
		dm = (unsigned int)(e >> 8) & 7;
		FZ_CHECK(!(e & (1ull << 16)), "a route for masked pin %u", r[i].gsi);
		FZ_CHECK(dm != 3 && dm != 6 && dm != 7, "a route for pin %u in mode %u", r[i].gsi, dm);
		FZ_CHECK((r[i].u.msi.address_lo & 0xfff00ffbu) == 0xfee00000u && r[i].u.msi.address_hi == 0,
			 "route %u address 0x%x:%08x", i, r[i].u.msi.address_hi, r[i].u.msi.address_lo);
		FZ_CHECK((r[i].u.msi.address_lo >> 12 & 0xff) == (uint32_t)(e >> 56),
			 "route %u destination", i);
		FZ_CHECK(r[i].u.msi.data == (uint32_t)(e & 0x7ff), "route %u data 0x%x for entry 0x%llx", i,
			 r[i].u.msi.data, (unsigned long long)e);
	}
}

static void check_state(void)
{
	uint32_t sel = io.regsel;

	for (unsigned int pin = 0; pin < LAYOUT_IOAPIC_PINS; pin++)
		FZ_CHECK(!(io.redir[pin] & ~RTE_ALLOWED), "pin %u entry 0x%llx", pin,
			 (unsigned long long)io.redir[pin]);
	FZ_CHECK(io.id <= 0xf, "id %u", io.id);
	io.regsel = 1;
	FZ_CHECK(ioapic_read(&io, 0x10, 4) == VERSION, "version register 0x%llx",
		 (unsigned long long)ioapic_read(&io, 0x10, 4));
	io.regsel = sel;
	check_routes();
}

static void do_write(uint64_t off, unsigned int size, uint64_t v)
{
	uint64_t before[LAYOUT_IOAPIC_PINS];
	int changed;

	memcpy(before, io.redir, sizeof(before));
	changed = ioapic_write(&io, off, size, v);
	FZ_CHECK(changed == (memcmp(before, io.redir, sizeof(before)) != 0),
		 "write at 0x%llx said %d", (unsigned long long)off, changed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int sizes[] = { 1, 2, 4, 8 };
	unsigned int ops_done = 0;
	struct fz in;

	ioapic_init(&io, 1);
	fz_init(&in, data, size);
	check_state();
	while (!fz_empty(&in) && ops_done++ < 8192) {
		switch (fz_u8(&in) % 3) {
		case 0: {
			uint64_t off = fz_u8(&in);

			(void)ioapic_read(&io, off, sizes[fz_u8(&in) % 4]);
			break;
		}
		case 1: {
			uint64_t off = fz_u8(&in);
			unsigned int sz = sizes[fz_u8(&in) % 4];

			do_write(off, sz, fz_u32(&in));
			break;
		}
		default:
			do_write(0x00, 4, fz_u8(&in));
			do_write(0x10, 4, fz_u32(&in));
			break;
		}
		check_state();
	}
	return 0;
}
