/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test guest's ring-3 interfaces: the service layer (ud2 calls into ring 0,
 * abi.h), the console, the boot information from the PVH start info and the
 * command line, platform discovery (CPUs, ACPI), the local APIC and IOAPIC,
 * time, SMP bring-up, verdicts and the scenario table.
 */
#ifndef BULKHEAD_TESTS_GUEST_GUEST_H
#define BULKHEAD_TESTS_GUEST_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "lib.h"

#define NORETURN __attribute__((noreturn))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))

/* phys: a pointer to physical address a (identity map), opaque to the compiler. */
static inline void *phys(uint64_t a)
{
	__asm__("" : "+r"(a));
	return (void *)(uintptr_t)a;
}

/* ---- services (svc.c; the ABI is in abi.h) ---- */

struct pio_op {
	uint16_t port;
	uint8_t size; /* 1, 2 or 4 */
	uint8_t write; /* 1 = out, 0 = in */
	uint32_t value; /* out: the value; in: filled by the service */
};
_Static_assert(sizeof(struct pio_op) == 8, "struct pio_op is the SVC_PIO_BATCH ABI");

/* svc_call: service n with arguments a, b, c; returns rax. */
static inline uint64_t svc_call(uint32_t n, uint64_t a, uint64_t b, uint64_t c)
{
	register uint64_t rax __asm__("rax") = ((uint64_t)SVC_MAGIC << 32) | n;
	register uint64_t rdi __asm__("rdi") = a;
	register uint64_t rsi __asm__("rsi") = b;
	register uint64_t rdx __asm__("rdx") = c;

	__asm__ __volatile__("ud2"
			     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx)
			     :
			     : "rcx", "r8", "r9", "r10", "r11", "memory", "cc");
	return rax;
}

/* outb, inb, outw, inw, outl, inl: one port access each (one trap). */
static inline void outb(uint16_t port, uint8_t v) { svc_call(SVC_OUTB, port, v, 0); }
static inline uint8_t inb(uint16_t port) { return (uint8_t)svc_call(SVC_INB, port, 0, 0); }
static inline void outw(uint16_t port, uint16_t v) { svc_call(SVC_OUTW, port, v, 0); }
static inline uint16_t inw(uint16_t port) { return (uint16_t)svc_call(SVC_INW, port, 0, 0); }
static inline void outl(uint16_t port, uint32_t v) { svc_call(SVC_OUTL, port, v, 0); }
static inline uint32_t inl(uint16_t port) { return (uint32_t)svc_call(SVC_INL, port, 0, 0); }
/* pio_batch: run ops[0..n) in order in one trap; reads fill .value. */
static inline void pio_batch(struct pio_op *ops, size_t n) { svc_call(SVC_PIO_BATCH, (uintptr_t)ops, n, 0); }
/* irq_enable, irq_disable: set or clear IF for this CPU's ring-3 code. */
static inline void irq_enable(void) { svc_call(SVC_IRQ_ON, 0, 0, 0); }
static inline void irq_disable(void) { svc_call(SVC_IRQ_OFF, 0, 0, 0); }
/* irq_wait: halt until an interrupt unless irq_seq != seen already; returns irq_seq. */
static inline uint64_t irq_wait(uint64_t seen) { return svc_call(SVC_WAIT_IRQ, seen, 0, 0); }
/* rdmsr, wrmsr: MSR msr (a bad MSR is a fatal #GP). */
static inline uint64_t rdmsr(uint32_t msr) { return svc_call(SVC_RDMSR, msr, 0, 0); }
static inline void wrmsr(uint32_t msr, uint64_t v) { svc_call(SVC_WRMSR, msr, v, 0); }
/* vm_exit: write v to the debug-exit port, then halt for good. */
NORETURN void vm_exit(uint8_t v);
/* cpu_stop: halt this CPU for good (INIT still resets it). */
NORETURN void cpu_stop(void);
/* triple_fault: load an empty IDT and fault. */
NORETURN void triple_fault(void);

/* Written by ring 0 (boot.S). */
extern volatile uint32_t irq_count[256]; /* per vector */
extern volatile uint64_t irq_seq; /* device and timer interrupts taken, all vectors */
extern volatile uint64_t pvh_start_info; /* ebx at the PVH entry */
extern volatile uint64_t boot_tsc; /* TSC at the PVH entry */
extern uint64_t main_tsc, marker_tsc; /* TSC at guest_main, after the boot marker line */
extern volatile uint32_t ap_boot_index; /* CPU index the next AP takes */
extern volatile uint64_t ap_boot_ustack; /* its ring-3 stack top */
extern const uint8_t tramp_start[], tramp_end[]; /* the AP trampoline */

struct fault_info {
	uint64_t vector, error, rip, cs, rflags, rsp, ss, cr2;
	uint64_t regs[FAULT_NREGS]; /* rax rbx rcx rdx rsi rdi rbp r8 .. r15 */
};
_Static_assert(sizeof(struct fault_info) == FAULT_SIZE, "struct fault_info is the boot.S layout");
extern volatile struct fault_info fault_info;

/* Ring-3 entry points called by boot.S. */
NORETURN void guest_main(void);
NORETURN void guest_ap_main(unsigned int cpu);
NORETURN void guest_fault_report(void);

/* ---- console: 16550 on COM1 (console.c) ---- */

#define COM1 0x3f8
#define COM1_GSI 4

/* console_init: boot marker, mask the 8259s, program COM1 (8N1, FIFO on), in one trap. */
void console_init(void);
/* console_write: send s[0..n) (one trap per call). */
void console_write(const char *s, size_t n);
/* console_puts: send a NUL-terminated string. */
void console_puts(const char *s);
/* cprintf: format (lib.h's vsnprintf) and send; lines up to 512 bytes. */
void cprintf(const char *fmt, ...) PRINTF(1, 2);
/* console_read: take up to max received bytes (bytes received before init first). */
size_t console_read(char *buf, size_t max);
/* console_set_ier: write the UART's interrupt enable register. */
void console_set_ier(uint8_t ier);
/* console_iir: read the UART's interrupt identification register. */
uint8_t console_iir(void);

/* ---- boot information (bootinfo.c) ---- */

#define MAX_MEM_REGIONS 32
#define MAX_MMIO_DEVS 32
#define CMDLINE_MAX 4096

struct mem_region {
	uint64_t addr, size;
	uint32_t type; /* 1 = RAM, as in e820 */
};

/* A virtio_mmio.device=SIZE@ADDR:GSI entry. */
struct mmio_dev {
	uint64_t base, size;
	uint32_t gsi;
};

struct boot_info {
	uint64_t start_info; /* physical address of hvm_start_info, 0 if bad */
	uint32_t version; /* hvm_start_info.version */
	uint64_t cmdline_addr, rsdp_addr, memmap_addr;
	char cmdline[CMDLINE_MAX];
	unsigned int nmem;
	struct mem_region mem[MAX_MEM_REGIONS];
	uint64_t ram_bytes; /* sum of the RAM regions */
	unsigned int ndev;
	struct mmio_dev dev[MAX_MMIO_DEVS];
	unsigned int bad_params; /* malformed virtio_mmio.device entries */
};
extern struct boot_info boot;

/* bootinfo_parse: copy the command line and memory map out of the PVH start info. */
void bootinfo_parse(void);
/* param_get: the value of the last key=value on the command line (*len set), or NULL. */
const char *param_get(const char *key, size_t *len);
/* param_u64: the number value of key, or dflt when absent or malformed. */
uint64_t param_u64(const char *key, uint64_t dflt);
/* phys_mapped: whether [addr, addr + len) is inside the guest's identity map. */
int phys_mapped(uint64_t addr, uint64_t len);
/* phys_is_ram: whether [addr, addr + len) is RAM in the memory map. */
int phys_is_ram(uint64_t addr, uint64_t len);
/*
 * phys_alloc: size bytes of RAM above the image, aligned to align (a power of two), from
 * a bump allocator that never frees; NULL when RAM runs out. Fresh memory is zero (guest
 * RAM arrives zeroed). phys_alloc_left: bytes still free.
 */
void *phys_alloc(uint64_t size, uint64_t align);
uint64_t phys_alloc_left(void);

/* ---- platform: CPUs and ACPI (platform.c) ---- */

struct acpi_gas {
	uint8_t space; /* 0 = memory, 1 = I/O */
	uint8_t width, offset, access;
	uint64_t addr;
};

struct platform {
	unsigned int ncpus;
	uint32_t apic_id[MAX_CPUS];
	const char *cpu_source; /* "mptable", "acpi", or "none" */
	unsigned int mp_cpus, madt_cpus; /* enabled CPUs each table lists */
	uint64_t mptable_addr, rsdp_addr, madt_addr, fadt_addr;
	int has_reset_reg;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	int has_sleep_reg; /* a hardware-reduced FADT's SLEEP_CONTROL_REG */
	struct acpi_gas sleep_reg;
};
extern struct platform plat;

/* platform_discover: count CPUs (MP table, else ACPI MADT) and read the FADT. */
void platform_discover(void);

/* ---- local APIC and IOAPIC, from ring 3 through user MMIO pages (apic.c) ---- */

#define IOAPIC_BASE 0xfec00000
#define LAPIC_ID 0x20
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310

/* lapic_read, lapic_write: register off of this CPU's local APIC. */
uint32_t lapic_read(uint32_t off);
void lapic_write(uint32_t off, uint32_t v);
/* lapic_init: software-enable (spurious VEC_SPURIOUS), mask LINT0 and the LVTs. */
void lapic_init(void);
/* lapic_id: this CPU's APIC id. */
uint32_t lapic_id(void);
/* lapic_ipi: send icr_lo to apic_id; returns 0, or -1 if delivery never completed. */
int lapic_ipi(uint32_t apic_id, uint32_t icr_lo);
/* ioapic_route: GSI gsi -> vector on apic_id, edge, active high, unmasked. */
void ioapic_route(unsigned int gsi, unsigned int vector, uint32_t apic_id);
/* ioapic_mask: mask GSI gsi. */
void ioapic_mask(unsigned int gsi);
/* ioapic_read, ioapic_write: IOAPIC register reg (through IOREGSEL and IOWIN, 32 bits). */
uint32_t ioapic_read(uint32_t reg);
void ioapic_write(uint32_t reg, uint32_t v);

/* ---- time (time.c) ---- */

/* tsc_hz: TSC frequency (kvm-clock, CPUID, or a guess; measured once). */
uint64_t tsc_hz(void);
/* tsc_source: where tsc_hz came from. */
const char *tsc_source(void);
/* us_to_tsc, tsc_to_us: convert between microseconds and TSC cycles. */
uint64_t us_to_tsc(uint64_t us);
uint64_t tsc_to_us(uint64_t cycles);
/* udelay: spin (in ring 3) for us microseconds. */
void udelay(uint64_t us);

/* ---- SMP (smp.c) ---- */

/* smp_start: start every CPU in plat but this one; returns how many are online, this one included. */
unsigned int smp_start(void);
/* smp_online_ids: APIC ids the APs reported, in start order (count = smp_start() - 1). */
extern volatile uint32_t smp_ap_apic_id[MAX_CPUS];
/* smp_start_worker: smp_start, keeping CPU 1 to run smp_run's jobs (asleep between them);
 * how many CPUs are online (1 if CPU 1 did not come up). */
unsigned int smp_start_worker(void);
/* smp_run: start fn(arg) on the worker and return at once; 0, or -1 if there is no worker
 * or its last job has not finished. smp_done: the last job finished. */
int smp_run(void (*fn)(void *), void *arg);
int smp_done(void);

/* ---- verdicts and scenarios (main.c, scenarios.c) ---- */

#define GUEST_TAG "bulkhead-test-guest: "

extern const char *scenario_name;

/* pass: print the PASS line and exit with 0 through the debug-exit port. */
NORETURN void pass(void);
/* fail: print the FAIL line with the reason and exit with 1. */
NORETURN void fail(const char *fmt, ...) PRINTF(1, 2);

struct scenario {
	const char *name;
	void (*run)(void); /* ends with pass(), fail() or its own VM exit */
	const char *help;
};
extern const struct scenario scenarios[];
extern const size_t nscenarios;

/* The API socket's scenarios (api_scenarios.c). */
void count_scenario(void);
void power_button_scenario(void);

#endif
