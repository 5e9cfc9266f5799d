/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API socket's scenarios: a counter the host watches stop while the VM
 * is paused (vm.pause) and go on after vm.resume, and a guest that waits for
 * the ACPI power button (vm.power-button) and powers off through the FADT's
 * sleep register, as an ACPI operating system does.
 */
#include "guest.h"

#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_DCR 0x3e0
#define LAPIC_TIMER_PERIODIC 0x20000
#define TICK_COUNT 625000 /* about 10 ms at KVM's 1 GHz APIC bus, divided by 16 */
#define GED_GSI 3 /* bulkhead's power button (common/layout.h, LAYOUT_GED_GSI) */
#define S5_TYPE 5 /* the SLP_TYP of bulkhead's \_S5 (LAYOUT_ACPI_S5_TYPE) */
#define SLP_EN (1u << 5)

/* A periodic LAPIC tick, so that irq_wait sleeps at most one tick. */
static void tick_start(void)
{
	lapic_init();
	lapic_write(LAPIC_TIMER_DCR, 0x3);
	lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | VEC_TIMER);
	lapic_write(LAPIC_TIMER_ICR, TICK_COUNT);
	irq_enable();
}

/*
 * count: "count: N" every bulkhead.interval-ms (100), sleeping between lines;
 * with bulkhead.seconds=S, PASS after S seconds (0, the default: never).
 */
void count_scenario(void)
{
	uint64_t interval = us_to_tsc(param_u64("bulkhead.interval-ms", 100) * 1000);
	uint64_t seconds = param_u64("bulkhead.seconds", 0);
	uint64_t until = rdtsc() + us_to_tsc(seconds * 1000000), next = rdtsc(), n = 0;

	tick_start();
	for (;;) {
		uint64_t seen = irq_seq;

		if (seconds && rdtsc() >= until)
			pass();
		if (rdtsc() >= next) {
			cprintf("count: %lu\n", n++);
			next = rdtsc() + interval;
		}
		irq_wait(seen);
	}
}

/* The FADT's sleep register, written as \_S5 says: the VM powers off. */
static void sleep_s5(void)
{
	uint8_t v = (uint8_t)((S5_TYPE << 2) | SLP_EN);

	if (plat.sleep_reg.space == 1)
		outb((uint16_t)plat.sleep_reg.addr, v);
	else
		*(volatile uint8_t *)phys(plat.sleep_reg.addr) = v;
}

/* power-button: wait for the GED's interrupt (the host pressed the button), then S5. */
void power_button_scenario(void)
{
	unsigned int vec = VEC_IRQ_BASE + GED_GSI;
	uint32_t before;

	platform_discover();
	if (!plat.has_sleep_reg)
		fail("no ACPI sleep control register (boot with ACPI)");
	tick_start();
	ioapic_route(GED_GSI, vec, lapic_id());
	before = irq_count[vec];
	cprintf(GUEST_TAG "power-button: waiting for GSI %u\n", GED_GSI);
	while (irq_count[vec] == before)
		irq_wait(irq_seq);
	cprintf(GUEST_TAG "power-button: pressed; powering off\n");
	sleep_s5();
	udelay(200000);
	fail("still running 200 ms after writing the sleep register");
}
