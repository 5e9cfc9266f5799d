/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcpu/ioapic.c: the split irqchip's IOAPIC as a guest drives it through
 * IOREGSEL and IOWIN: its identity registers, the redirection table's
 * writable and read-only bits, accesses it ignores, and the MSI routes its
 * table gives KVM (one per pin that delivers, always edge-triggered).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../vcpu/vcpu.h"

#define REGSEL 0x00
#define WIN 0x10
#define REDIR(pin) (0x10 + 2 * (pin))

static uint32_t reg_read(struct ioapic *io, uint32_t reg)
{
	assert_int_equal(ioapic_write(io, REGSEL, 4, reg), 0);
	return (uint32_t)ioapic_read(io, WIN, 4);
}

static int reg_write(struct ioapic *io, uint32_t reg, uint32_t val)
{
	assert_int_equal(ioapic_write(io, REGSEL, 4, reg), 0);
	return ioapic_write(io, WIN, 4, val);
}

/* Pin pin to vector vec on APIC dest, delivery mode dm, logical or physical. */
static int route_pin(struct ioapic *io, unsigned int pin, uint8_t vec, uint8_t dest,
		     unsigned int dm, int logical)
{
	int changed = reg_write(io, REDIR(pin) + 1, (uint32_t)dest << 24);

	return changed | reg_write(io, REDIR(pin), vec | dm << 8 | (logical ? 1u << 11 : 0));
}

static void test_reset_state(void **state)
{
	struct kvm_irq_routing_entry r[LAYOUT_IOAPIC_PINS];
	struct ioapic io;

	(void)state;
	memset(&io, 0xa5, sizeof(io));
	ioapic_init(&io, 2);
	assert_int_equal(reg_read(&io, 0x00), 2u << 24); /* ID */
	assert_int_equal(reg_read(&io, 0x01), (LAYOUT_IOAPIC_PINS - 1) << 16 | 0x11); /* VER */
	assert_int_equal(reg_read(&io, 0x02), 2u << 24); /* ARB */
	for (unsigned int pin = 0; pin < LAYOUT_IOAPIC_PINS; pin++) {
		assert_int_equal(reg_read(&io, REDIR(pin)), 1u << 16); /* masked */
		assert_int_equal(reg_read(&io, REDIR(pin) + 1), 0);
	}
	assert_int_equal(ioapic_routes(&io, r), 0);
}

static void test_routes_follow_the_table(void **state)
{
	struct kvm_irq_routing_entry r[LAYOUT_IOAPIC_PINS];
	struct ioapic io;

	(void)state;
	ioapic_init(&io, 1);
	assert_int_equal(route_pin(&io, 5, 0x31, 1, 0, 0), 1);
	assert_int_equal(route_pin(&io, 9, 0x40, 0x3, 1, 1), 1); /* lowest priority, logical */
	assert_int_equal(ioapic_routes(&io, r), 2);
	assert_int_equal(r[0].gsi, 5);
	assert_int_equal(r[0].type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(r[0].u.msi.address_lo, 0xfee01000u);
	assert_int_equal(r[0].u.msi.address_hi, 0);
	assert_int_equal(r[0].u.msi.data, 0x31);
	assert_int_equal(r[1].gsi, 9);
	assert_int_equal(r[1].u.msi.address_lo, 0xfee03004u);
	assert_int_equal(r[1].u.msi.data, 0x140);
	/* The same entry again changes nothing: no new routes to install. */
	assert_int_equal(route_pin(&io, 5, 0x31, 1, 0, 0), 0);
	/* Masking pin 5 removes its route; unmasking brings it back. */
	assert_int_equal(reg_write(&io, REDIR(5), 0x31 | 1u << 16), 1);
	assert_int_equal(ioapic_routes(&io, r), 1);
	assert_int_equal(r[0].gsi, 9);
	assert_int_equal(reg_write(&io, REDIR(5), 0x31), 1);
	assert_int_equal(ioapic_routes(&io, r), 2);
}

/* A level-triggered, active-low entry keeps its bits, but its route is an edge. */
static void test_routes_are_edges(void **state)
{
	struct kvm_irq_routing_entry r[LAYOUT_IOAPIC_PINS];
	struct ioapic io;

	(void)state;
	ioapic_init(&io, 1);
	assert_int_equal(reg_write(&io, REDIR(3), 0x50 | 1u << 13 | 1u << 15), 1);
	assert_int_equal(reg_read(&io, REDIR(3)), 0x50 | 1u << 13 | 1u << 15);
	assert_int_equal(ioapic_routes(&io, r), 1);
	assert_int_equal(r[0].u.msi.data, 0x50);
}

/* Delivery status and remote IRR are read-only, bits 17-55 reserved. */
static void test_read_only_bits(void **state)
{
	struct ioapic io;

	(void)state;
	ioapic_init(&io, 1);
	assert_int_equal(reg_write(&io, REDIR(7), 0xffffffff), 1);
	assert_int_equal(reg_read(&io, REDIR(7)), 0x1afff);
	assert_int_equal(reg_write(&io, REDIR(7) + 1, 0xffffffff), 1);
	assert_int_equal(reg_read(&io, REDIR(7) + 1), 0xff000000);
	/* VER, ARB and registers past the table take no write. */
	assert_int_equal(reg_write(&io, 0x01, 0), 0);
	assert_int_equal(reg_read(&io, 0x01), (LAYOUT_IOAPIC_PINS - 1) << 16 | 0x11);
	assert_int_equal(reg_write(&io, 0x02, 0), 0);
	for (uint32_t reg = REDIR(LAYOUT_IOAPIC_PINS); reg < 0x100; reg++) {
		assert_int_equal(reg_write(&io, reg, 0x12345678), 0);
		assert_int_equal(reg_read(&io, reg), 0);
	}
	/* The ID register keeps bits 24-27 only. */
	assert_int_equal(reg_write(&io, 0x00, 0xffffffff), 0);
	assert_int_equal(reg_read(&io, 0x00), 0x0f000000);
}

/* ExtINT (no PIC), the reserved modes and masked pins give no route; NMI, SMI and INIT do. */
static void test_modes_without_route(void **state)
{
	struct kvm_irq_routing_entry r[LAYOUT_IOAPIC_PINS];
	static const unsigned int none[] = { 3, 6, 7 }, some[] = { 2, 4, 5 };
	struct ioapic io;

	(void)state;
	ioapic_init(&io, 1);
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
		route_pin(&io, (unsigned int)i, 0x30, 0, none[i], 0);
	assert_int_equal(ioapic_routes(&io, r), 0);
	for (size_t i = 0; i < sizeof(some) / sizeof(some[0]); i++)
		route_pin(&io, 10 + (unsigned int)i, 0x30, 0, some[i], 0);
	assert_int_equal(ioapic_routes(&io, r), 3);
	assert_int_equal(r[2].u.msi.data, 0x30 | 5u << 8);
}

/* Only 32-bit (or wider) writes reach IOWIN; other offsets read as 0 and take nothing. */
static void test_odd_accesses(void **state)
{
	struct kvm_irq_routing_entry r[LAYOUT_IOAPIC_PINS];
	struct ioapic io;

	(void)state;
	ioapic_init(&io, 1);
	assert_int_equal(ioapic_write(&io, REGSEL, 1, 0x1234 + REDIR(4)), 0);
	assert_int_equal(ioapic_read(&io, REGSEL, 4), (0x34 + REDIR(4)) & 0xff);
	assert_int_equal(ioapic_write(&io, REGSEL, 4, REDIR(4)), 0);
	assert_int_equal(ioapic_write(&io, WIN, 1, 0x30), 0);
	assert_int_equal(ioapic_write(&io, WIN, 2, 0x30), 0);
	assert_int_equal(ioapic_read(&io, WIN, 4), 1u << 16);
	assert_int_equal(ioapic_read(&io, WIN + 2, 2), 0);
	assert_int_equal(ioapic_read(&io, WIN, 1), 0);
	assert_int_equal(ioapic_read(&io, WIN, 8), 1u << 16);
	for (uint64_t off = 0x04; off < 0x100; off += 4) {
		if (off == WIN)
			continue;
		assert_int_equal(ioapic_write(&io, off, 4, 0x30), 0);
		assert_int_equal(ioapic_read(&io, off, 4), 0);
	}
	assert_int_equal(ioapic_write(&io, WIN, 8, 0xffffffff00000030ull), 1);
	assert_int_equal(ioapic_routes(&io, r), 1);
	assert_int_equal(r[0].u.msi.data, 0x30);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_state),
		cmocka_unit_test(test_routes_follow_the_table),
		cmocka_unit_test(test_routes_are_edges),
		cmocka_unit_test(test_read_only_bits),
		cmocka_unit_test(test_modes_without_route),
		cmocka_unit_test(test_odd_accesses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
