/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Local APIC (xAPIC MMIO) and IOAPIC, driven from ring 3: their pages are
 * mapped user-accessible and uncached, so no trap is needed.
 */
#include "guest.h"

#define LAPIC_TPR 0x80
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_LVT_MASKED 0x10000
#define LAPIC_ICR_BUSY 0x1000
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REDIR(gsi) (0x10 + 2 * (gsi))

uint32_t lapic_read(uint32_t off)
{
	return *(volatile uint32_t *)phys(LAPIC_BASE + off);
}

void lapic_write(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)phys(LAPIC_BASE + off) = v;
}

void lapic_init(void)
{
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED); /* no 8259 ExtINT */
	lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED | VEC_TIMER);
	lapic_write(LAPIC_LVT_ERROR, LAPIC_LVT_MASKED);
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
}

uint32_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

int lapic_ipi(uint32_t apic_id, uint32_t icr_lo)
{
	unsigned int i;

	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr_lo);
	for (i = 0; i < 1000; i++)
		if (!(lapic_read(LAPIC_ICR_LO) & LAPIC_ICR_BUSY))
			return 0;
	return -1;
}

void ioapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)phys(IOAPIC_BASE + IOAPIC_REGSEL) = reg;
	*(volatile uint32_t *)phys(IOAPIC_BASE + IOAPIC_WIN) = v;
}

uint32_t ioapic_read(uint32_t reg)
{
	*(volatile uint32_t *)phys(IOAPIC_BASE + IOAPIC_REGSEL) = reg;
	return *(volatile uint32_t *)phys(IOAPIC_BASE + IOAPIC_WIN);
}

void ioapic_route(unsigned int gsi, unsigned int vector, uint32_t apic_id)
{
	ioapic_write(IOAPIC_REDIR(gsi) + 1, apic_id << 24);
	ioapic_write(IOAPIC_REDIR(gsi), vector & 0xff); /* fixed, physical, high, edge */
}

void ioapic_mask(unsigned int gsi)
{
	ioapic_write(IOAPIC_REDIR(gsi), LAPIC_LVT_MASKED);
}
