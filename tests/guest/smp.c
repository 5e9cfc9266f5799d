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
#define ICR_FIXED 0x00004000 /* fixed delivery, level assert: | vector */
#define AP_TIMEOUT_US 2000000
#define VEC_WAKE 0x50 /* the worker's wake-up IPI (no device GSI reaches it) */

volatile uint32_t smp_ap_apic_id[MAX_CPUS];
static volatile uint32_t aps_online;
static volatile uint32_t ap_started[MAX_CPUS];
static uint8_t ap_ustacks[MAX_CPUS][AP_USTACK_SIZE] __attribute__((aligned(16)));

/* The worker: CPU 1 runs smp_run's jobs when smp_start_worker started it. */
static volatile int worker_wanted;
static struct {
	void (*fn)(void *);
	void *arg;
	uint32_t posted, done; /* job counts */
	uint32_t apic_id;
} worker;

/* worker_loop: sleep in WAIT_IRQ until a job is posted (the IPI wakes it), run it. */
static NORETURN void worker_loop(void)
{
	uint32_t seen = 0;

	lapic_init();
	for (;;) {
		uint64_t irqs = irq_seq;
		uint32_t posted = __atomic_load_n(&worker.posted, __ATOMIC_ACQUIRE);

		if (posted == seen) {
			irq_wait(irqs);
			continue;
		}
		seen = posted;
		worker.fn(worker.arg);
		__atomic_store_n(&worker.done, posted, __ATOMIC_RELEASE);
	}
}

void guest_ap_main(unsigned int cpu)
{
	uint32_t slot = __atomic_fetch_add(&aps_online, 1, __ATOMIC_SEQ_CST);

	if (slot < MAX_CPUS)
		smp_ap_apic_id[slot] = lapic_id();
	if (cpu < MAX_CPUS)
		__atomic_store_n(&ap_started[cpu], 1, __ATOMIC_SEQ_CST);
	if (cpu == 1 && worker_wanted) {
		worker.apic_id = lapic_id();
		worker_loop();
	}
	cpu_stop();
}

unsigned int smp_start_worker(void)
{
	unsigned int n;

	worker_wanted = 1;
	n = smp_start();
	return n > 1 && READ_ONCE(ap_started[1]) ? n : 1;
}

int smp_run(void (*fn)(void *), void *arg)
{
	if (!worker_wanted || !READ_ONCE(ap_started[1]) || !smp_done())
		return -1;
	worker.fn = fn;
	worker.arg = arg;
	__atomic_store_n(&worker.posted, worker.posted + 1, __ATOMIC_RELEASE);
	return lapic_ipi(worker.apic_id, ICR_FIXED | VEC_WAKE);
}

int smp_done(void)
{
	return __atomic_load_n(&worker.done, __ATOMIC_ACQUIRE) == worker.posted;
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
