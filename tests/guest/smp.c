/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Application processor bring-up, from ring 3: copy the trampoline (boot.S) to
 * a free RAM page below 1 MiB, then INIT, SIPI, SIPI to each APIC id through
 * the local APIC, one AP at a time. Each AP runs the same long-mode path as
 * the boot CPU with its own TSS and stacks, counts itself in ring 3 and parks.
 */
#include "guest.h"

#define ICR_INIT 0x00004500 /* INIT, level assert */
#define ICR_SIPI 0x00004600 /* start-up, vector = page number */
#define AP_TIMEOUT_US 2000000

volatile uint32_t smp_ap_apic_id[MAX_CPUS];
static volatile uint32_t aps_online;
static volatile uint32_t ap_started[MAX_CPUS];
static uint8_t ap_ustacks[MAX_CPUS][AP_USTACK_SIZE] __attribute__((aligned(16)));

void guest_ap_main(unsigned int cpu)
{
	uint32_t slot = __atomic_fetch_add(&aps_online, 1, __ATOMIC_SEQ_CST);

	if (slot < MAX_CPUS)
		smp_ap_apic_id[slot] = lapic_id();
	if (cpu < MAX_CPUS)
		__atomic_store_n(&ap_started[cpu], 1, __ATOMIC_SEQ_CST);
	cpu_stop();
}

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return blen && a < b + blen && b < a + alen;
}

/* tramp_page: a RAM page below 1 MiB that no boot structure uses, or 0. */
static uint64_t tramp_page(void)
{
	static const uint64_t candidates[] = { 0x3000, 0x4000, 0x5000, 0x8000, 0x10000, 0x11000, 0x30000 };
	size_t i;

	for (i = 0; i < nitems(candidates); i++) {
		uint64_t p = candidates[i];

		if (boot.nmem && !phys_is_ram(p, 4096))
			continue;
		if (overlaps(p, 4096, boot.start_info, 64) ||
		    overlaps(p, 4096, boot.memmap_addr, (uint64_t)boot.nmem * 24) ||
		    overlaps(p, 4096, boot.cmdline_addr, strlen(boot.cmdline) + 1) ||
		    overlaps(p, 4096, plat.mptable_addr, 16) || overlaps(p, 4096, plat.rsdp_addr, 36))
			continue;
		return p;
	}
	return 0;
}

unsigned int smp_start(void)
{
	uint32_t bsp = lapic_id();
	unsigned int i, next = 1;
	uint64_t page;

	platform_discover();
	if (plat.ncpus <= 1)
		return 1;
	page = tramp_page();
	if (!page) {
		cprintf(GUEST_TAG "smp: no free page below 1 MiB for the trampoline\n");
		return 1;
	}
	memcpy(phys(page), tramp_start, (size_t)(tramp_end - tramp_start));
	lapic_init();
	for (i = 0; i < plat.ncpus && next < MAX_CPUS; i++) {
		uint32_t id = plat.apic_id[i];
		uint64_t t0, end;

		if (id == bsp)
			continue;
		ap_boot_ustack = (uintptr_t)&ap_ustacks[next][AP_USTACK_SIZE];
		ap_boot_index = next;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (lapic_ipi(id, ICR_INIT))
			cprintf(GUEST_TAG "smp: INIT to APIC %u not delivered\n", id);
		udelay(10000);
		t0 = rdtsc();
		lapic_ipi(id, ICR_SIPI | (uint32_t)(page >> 12));
		udelay(200);
		if (!READ_ONCE(ap_started[next]))
			lapic_ipi(id, ICR_SIPI | (uint32_t)(page >> 12));
		end = rdtsc() + us_to_tsc(AP_TIMEOUT_US);
		while (!READ_ONCE(ap_started[next]) && rdtsc() < end)
			cpu_relax();
		if (READ_ONCE(ap_started[next]))
			cprintf(GUEST_TAG "smp: APIC %u online as cpu %u, %lu us after its first SIPI\n", id, next,
				tsc_to_us(rdtsc() - t0));
		else
			cprintf(GUEST_TAG "smp: APIC %u did not come up\n", id);
		next++;
	}
	return 1 + READ_ONCE(aps_online);
}
