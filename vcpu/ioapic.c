/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The IOAPIC of a split irqchip: KVM keeps the local APICs, this file keeps
 * the 82093AA's registers and turns its redirection table into MSI routes,
 * one per unmasked pin, which KVM then injects straight from each device's
 * irqfd. Every device line is edge-triggered (the DSDT and the MP table say
 * so), so an irqfd's signal is an edge and a pin needs no level, remote IRR or
 * EOI: a route is delivered edge-triggered whatever the trigger bit says.
 *
 * The register model below is pure (no KVM, no lock) so that it can be unit
 * tested; vm.c serialises the vCPU threads' accesses and installs the routes.
 */
#include <string.h>

#include "vcpu.h"

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REG_ID 0x00
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REG_ARB 0x02
#define IOAPIC_REG_REDIR 0x10
#define IOAPIC_VERSION 0x11 /* an 82093AA: no EOI register */

#define RTE_VECTOR 0xffull
#define RTE_DELIVERY_SHIFT 8
#define RTE_DELIVERY_MASK (7ull << RTE_DELIVERY_SHIFT)
#define RTE_DEST_LOGICAL (1ull << 11)
#define RTE_POLARITY_LOW (1ull << 13)
#define RTE_TRIGGER_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTE_DEST_SHIFT 56
/* What a guest can set: the read-only delivery status (12) and remote IRR (14)
 * stay 0, the reserved bits 17-55 read as 0. */
#define RTE_WRITABLE (RTE_VECTOR | RTE_DELIVERY_MASK | RTE_DEST_LOGICAL | RTE_POLARITY_LOW | \
		      RTE_TRIGGER_LEVEL | RTE_MASKED | (0xffull << RTE_DEST_SHIFT))

enum { DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_EXTINT = 7 };

#define MSI_ADDR_BASE 0xfee00000u
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_DEST_LOGICAL (1u << 2)

void ioapic_init(struct ioapic *io, uint32_t id)
{
	for (unsigned int i = 0; i < LAYOUT_IOAPIC_PINS; i++)
		io->redir[i] = RTE_MASKED;
	io->regsel = 0;
	io->id = id & 0xf;
}

static uint32_t ioapic_reg_read(const struct ioapic *io, uint32_t reg)
{
	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return io->id << 24;
	case IOAPIC_REG_VER:
		return (uint32_t)(LAYOUT_IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	}
	if (reg >= IOAPIC_REG_REDIR && reg < IOAPIC_REG_REDIR + 2 * LAYOUT_IOAPIC_PINS) {
		uint64_t e = io->redir[(reg - IOAPIC_REG_REDIR) / 2];

		return (reg & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	return 0;
}

/* 1 when the write changed the entry (what the pin delivers may be the same). */
static int ioapic_reg_write(struct ioapic *io, uint32_t reg, uint32_t val)
{
	uint64_t *e, old;

	if (reg == IOAPIC_REG_ID) {
		io->id = (val >> 24) & 0xf;
		return 0;
	}
	if (reg < IOAPIC_REG_REDIR || reg >= IOAPIC_REG_REDIR + 2 * LAYOUT_IOAPIC_PINS)
		return 0; /* VER, ARB and the unimplemented registers are read-only */
	e = &io->redir[(reg - IOAPIC_REG_REDIR) / 2];
	old = *e;
	if (reg & 1)
		*e = (*e & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*e = (*e & ~0xffffffffull) | val;
	*e &= RTE_WRITABLE;
	return *e != old;
}

/*
 * The window is two 32-bit registers, IOREGSEL at 0 and IOWIN at 0x10; a
 * narrower or wider access reads or writes the low bytes of the one it
 * starts in, anything else reads as 0 and is dropped.
 */
uint64_t ioapic_read(const struct ioapic *io, uint64_t off, unsigned int size)
{
	uint64_t v = 0;

	if (off == IOAPIC_REGSEL)
		v = io->regsel;
	else if (off == IOAPIC_WIN)
		v = ioapic_reg_read(io, io->regsel);
	return size >= 8 ? v : v & ((1ull << (8 * size)) - 1);
}

int ioapic_write(struct ioapic *io, uint64_t off, unsigned int size, uint64_t val)
{
	if (off == IOAPIC_REGSEL) {
		io->regsel = (uint32_t)val & 0xff;
		return 0;
	}
	if (off != IOAPIC_WIN || size < 4)
		return 0;
	return ioapic_reg_write(io, io->regsel, (uint32_t)val);
}

/* A pin delivers when unmasked, in a mode an MSI can carry and no PIC is needed for. */
static int rte_delivers(uint64_t e)
{
	unsigned int dm = (unsigned int)((e & RTE_DELIVERY_MASK) >> RTE_DELIVERY_SHIFT);

	if (e & RTE_MASKED)
		return 0;
	return dm == DM_FIXED || dm == DM_LOWEST || dm == DM_SMI || dm == DM_NMI || dm == DM_INIT;
}

unsigned int ioapic_routes(const struct ioapic *io, struct kvm_irq_routing_entry *out)
{
	unsigned int n = 0;

	for (unsigned int pin = 0; pin < LAYOUT_IOAPIC_PINS; pin++) {
		uint64_t e = io->redir[pin];
		struct kvm_irq_routing_entry *r;

		if (!rte_delivers(e))
			continue;
		r = &out[n++];
		memset(r, 0, sizeof(*r));
		r->gsi = pin;
		r->type = KVM_IRQ_ROUTING_MSI;
		r->u.msi.address_lo = MSI_ADDR_BASE |
				      (uint32_t)(e >> RTE_DEST_SHIFT) << MSI_ADDR_DEST_SHIFT |
				      ((e & RTE_DEST_LOGICAL) ? MSI_ADDR_DEST_LOGICAL : 0);
		r->u.msi.data = (uint32_t)(e & (RTE_VECTOR | RTE_DELIVERY_MASK));
	}
	return n;
}
