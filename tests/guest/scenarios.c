/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scenarios `bulkhead.test=NAME` selects. Each ends the VM: with pass() or
 * fail() through the debug-exit port, or by the exit it tests.
 */
#include "hostile.h"
#include "net.h"
#include "p9.h"
#include "vsock.h"

#define I8042_CMD 0x64
#define I8042_RESET 0xfe
#define DEBUG_EXIT_PORT 0xf4 /* as boot.S */
#define UART_IER_RDA 0x01
#define UART_IER_THRE 0x02
#define UART_IIR_ID(x) ((x) & 0x0f)
#define UART_IIR_THRE 0x02

static void hello(void)
{
	unsigned int i;

	platform_discover();
	cprintf(GUEST_TAG "hello from the bulkhead test guest\n");
	cprintf(GUEST_TAG "cpus: %u (from %s; mptable %u, acpi madt %u)\n", plat.ncpus, plat.cpu_source,
		plat.mp_cpus, plat.madt_cpus);
	cprintf(GUEST_TAG "memory: %lu MiB (%lu KiB RAM in a map of %u regions)\n", boot.ram_bytes >> 20,
		boot.ram_bytes >> 10, boot.nmem);
	for (i = 0; i < boot.nmem; i++)
		cprintf(GUEST_TAG "  [0x%09lx-0x%09lx) type %u\n", boot.mem[i].addr,
			boot.mem[i].addr + boot.mem[i].size, boot.mem[i].type);
	cprintf(GUEST_TAG "boot info: start_info 0x%lx v%u cmdline 0x%lx rsdp 0x%lx mptable 0x%lx\n",
		boot.start_info, boot.version, boot.cmdline_addr, plat.rsdp_addr, plat.mptable_addr);
	cprintf(GUEST_TAG "tsc: %lu kHz (%s)\n", tsc_hz() / 1000, tsc_source());
	cprintf(GUEST_TAG "boot: PVH entry -> ring-3 C %lu us -> marker line %lu us\n",
		tsc_to_us(main_tsc - boot_tsc), tsc_to_us(marker_tsc - boot_tsc));
	cprintf(GUEST_TAG "virtio-mmio devices: %u\n", boot.ndev);
	for (i = 0; i < boot.ndev; i++)
		cprintf(GUEST_TAG "  0x%lx size 0x%lx gsi %u\n", boot.dev[i].base, boot.dev[i].size,
			boot.dev[i].gsi);
	if (boot.bad_params)
		cprintf(GUEST_TAG "malformed virtio_mmio.device entries: %u\n", boot.bad_params);
	cprintf(GUEST_TAG "cmdline: %s\n", boot.cmdline);
	pass();
}

static void exit_code(void)
{
	uint64_t v = param_u64("bulkhead.exit", 0);

	if (v > 255)
		fail("bulkhead.exit=%lu is out of range (0..255)", v);
	cprintf(GUEST_TAG "exit %lu\n", v);
	vm_exit((uint8_t)v);
}

static void marker_exit(void)
{
	pass();
}

/* echo_line: handle one input line. */
static void echo_line(const char *line)
{
	cprintf("echo: %s\n", line);
	if (!strcmp(line, "quit"))
		pass();
}

static void echo(void)
{
	char line[256], buf[64];
	size_t len = 0, n, i;
	uint32_t before;
	uint64_t end;
	uint8_t iir;

	lapic_init();
	ioapic_route(COM1_GSI, VEC_SERIAL, lapic_id());
	irq_enable();

	/* The transmitter is empty, so enabling its interrupt must raise one now. */
	before = irq_count[VEC_SERIAL];
	console_set_ier(UART_IER_THRE);
	end = rdtsc() + us_to_tsc(1000000);
	while (irq_count[VEC_SERIAL] == before && rdtsc() < end)
		cpu_relax();
	iir = console_iir();
	console_set_ier(UART_IER_RDA);
	if (irq_count[VEC_SERIAL] == before)
		fail("no THRE interrupt within 1 s of setting IER.THRE (IIR 0x%02x)", iir);
	if (UART_IIR_ID(iir) != UART_IIR_THRE)
		fail("THRE interrupt, but IIR says 0x%02x", iir);
	cprintf(GUEST_TAG "THRE interrupt ok\n");
	console_puts(GUEST_TAG "ready\n");

	for (;;) {
		uint64_t seen = irq_seq;

		n = console_read(buf, sizeof(buf));
		for (i = 0; i < n; i++) {
			char c = buf[i];

			if (c == '\r' || c == '\n') {
				if (len) {
					line[len] = '\0';
					echo_line(line);
					len = 0;
				}
			} else if (len < sizeof(line) - 1) {
				line[len++] = c;
			}
		}
		if (!n)
			irq_wait(seen);
	}
}

/* acpi_reset_write: v to the FADT's reset register (I/O or memory). */
static void acpi_reset_write(uint8_t v)
{
	if (plat.reset_reg.space == 1)
		outb((uint16_t)plat.reset_reg.addr, v);
	else
		*(volatile uint8_t *)phys(plat.reset_reg.addr) = v;
}

static void reboot(void)
{
	platform_discover();
	cprintf(GUEST_TAG "reboot: writing 0x%x to port 0x%x (i8042 reset)\n", I8042_RESET, I8042_CMD);
	outb(I8042_CMD, I8042_RESET);
	udelay(200000);
	if (plat.has_reset_reg && plat.reset_reg.space <= 1) {
		cprintf(GUEST_TAG "reboot: still running; writing 0x%x to the ACPI reset register (%s 0x%lx)\n",
			plat.reset_value, plat.reset_reg.space ? "port" : "memory", plat.reset_reg.addr);
		if (plat.reset_reg.space == 1 || phys_mapped(plat.reset_reg.addr, 1))
			acpi_reset_write(plat.reset_value);
		udelay(200000);
	}
	fail("the VM did not reset");
}

/* Port 0xf4 is a debug-exit port only where the VMM has one (QEMU: isa-debug-exit). */
static void debug_exit_ignored(void)
{
	cprintf(GUEST_TAG "debug-exit-ignored: writing 1 to port 0x%x\n", DEBUG_EXIT_PORT);
	outb(DEBUG_EXIT_PORT, 1);
	cprintf(GUEST_TAG "debug-exit-ignored: still running; resetting\n");
	outb(I8042_CMD, I8042_RESET);
	udelay(200000);
	fail("the VM did not reset");
}

/* reboot-acpi: only the ACPI reset register: a wrong value first, which must not reset. */
static void reboot_acpi(void)
{
	uint8_t wrong;

	platform_discover();
	if (!plat.has_reset_reg)
		fail("no ACPI reset register (FADT RESET_REG_SUP) found");
	if (plat.reset_reg.space > 1 || (plat.reset_reg.space == 0 && !phys_mapped(plat.reset_reg.addr, 1)))
		fail("the ACPI reset register is in address space %u at 0x%lx", plat.reset_reg.space,
		     plat.reset_reg.addr);
	wrong = (uint8_t)(plat.reset_value ^ 0x5a);
	cprintf(GUEST_TAG "reboot-acpi: writing 0x%x (not the FADT's 0x%x) to the ACPI reset register (%s 0x%lx)\n",
		wrong, plat.reset_value, plat.reset_reg.space ? "port" : "memory", plat.reset_reg.addr);
	acpi_reset_write(wrong);
	udelay(50000);
	cprintf(GUEST_TAG "reboot-acpi: still running after the wrong value; writing 0x%x\n", plat.reset_value);
	acpi_reset_write(plat.reset_value);
	udelay(200000);
	fail("the VM did not reset through the ACPI reset register");
}

static void do_triple_fault(void)
{
	cprintf(GUEST_TAG "triple-fault: loading an empty IDT and faulting\n");
	triple_fault();
}

/*
 * console-end: bulkhead.lines=N (40) numbered lines, then a last one without
 * its newline, then the VM ends at once as bulkhead.end says: triple (fault),
 * reset (i8042), exit (debug-exit port), device (a write to the first
 * virtio-mmio window's Status register, which a test hook makes fatal to the
 * device) or halt (the host stops the VM). Every byte must still come out.
 */
static void console_end(void)
{
	static const char *const ends[] = { "triple", "reset", "exit", "device", "halt" };
	uint64_t i, n = param_u64("bulkhead.lines", 40);
	const char *how = NULL, *v;
	size_t k, len = 0;

	v = param_get("bulkhead.end", &len);
	for (k = 0; v && k < nitems(ends); k++) {
		if (len == strlen(ends[k]) && memcmp(v, ends[k], len) == 0)
			how = ends[k];
	}
	if (!how)
		fail("bulkhead.end must be triple, reset, exit, device or halt");
	if (!strcmp(how, "device") && (!boot.ndev || !phys_mapped(boot.dev[0].base, 0x100)))
		fail("bulkhead.end=device: no virtio-mmio window on the command line; attach a disk");
	for (i = 1; i <= n; i++)
		cprintf(GUEST_TAG "console-end: line %lu of %lu, then the end\n", i, n);
	cprintf(GUEST_TAG "console-end: the last bytes before the end (%s)", how);
	if (!strcmp(how, "triple"))
		triple_fault();
	if (!strcmp(how, "reset"))
		outb(I8042_CMD, I8042_RESET);
	if (!strcmp(how, "exit"))
		vm_exit(0);
	if (!strcmp(how, "device"))
		*(volatile uint32_t *)phys(boot.dev[0].base + VIRTIO_MMIO_STATUS) = 0;
	cpu_stop();
}

static void smp(void)
{
	unsigned int n, i;

	platform_discover();
	cprintf(GUEST_TAG "smp: %u cpus found (%s), boot cpu APIC %u\n", plat.ncpus, plat.cpu_source,
		lapic_id());
	n = smp_start();
	cprintf(GUEST_TAG "cpus online: %u\n", n);
	for (i = 0; i + 1 < n && i < MAX_CPUS; i++)
		cprintf(GUEST_TAG "  AP %u reported APIC id %u\n", i + 1, smp_ap_apic_id[i]);
	if (n != plat.ncpus)
		fail("%u of %u cpus online", n, plat.ncpus);
	pass();
}

static void fault(void)
{
	volatile uint64_t *p = phys(GiB(1) + 0x1000); /* PDPT entry 1 is not present */

	cprintf(GUEST_TAG "fault: reading unmapped 0x%lx from ring 3\n", (uint64_t)(uintptr_t)p);
	(void)*p;
	fail("reading an unmapped address did not fault");
}

/*
 * exec-mmio: jump to an address in the MMIO hole that no device claims. The
 * page is mapped, but there is no memory behind it, so the vCPU cannot fetch
 * the instruction: KVM reports an internal (emulation) error and the VMM must
 * stop the VM with a message that names it, the registers and the rip.
 */
static void exec_mmio(void)
{
	void (*fn)(void) = (void (*)(void))phys(0xfeb00000);

	cprintf(GUEST_TAG "exec-mmio: jumping to unbacked MMIO at 0xfeb00000\n");
	fn();
	fail("executing unbacked MMIO returned");
}

static void serial_flood(void)
{
	uint64_t bytes = param_u64("bulkhead.bytes", 65536), left, t0, t1;
	static char block[4096];
	size_t i;

	for (i = 0; i < sizeof(block); i++)
		block[i] = (i % 64 == 63) ? '\n' : (char)('!' + i % 64);
	t0 = rdtsc();
	for (left = bytes; left;) {
		size_t n = left < sizeof(block) ? (size_t)left : sizeof(block);

		console_write(block, n);
		left -= n;
	}
	t1 = rdtsc();
	cprintf("\n" GUEST_TAG "serial-flood: %lu bytes in %lu TSC cycles (%lu us)\n", bytes, t1 - t0,
		tsc_to_us(t1 - t0));
	pass();
}

/* svc_bench: what a service call, a port write and a UART write cost here. */
static void svc_bench(void)
{
	static const char chunk[UART_TX_CHUNK + 1] = "0123456789abcde\n";
	struct pio_op ops[16];
	uint64_t t0, t[5];
	unsigned int i, n = (unsigned int)param_u64("bulkhead.iterations", 200);

	for (i = 0; i < nitems(ops); i++)
		ops[i] = (struct pio_op){ .port = 0x80, .size = 1, .write = 1, .value = i };
	tsc_hz();
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		irq_disable(); /* a service that does nothing */
	t[0] = rdtsc() - t0;
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		outb(0x80, (uint8_t)i);
	t[1] = rdtsc() - t0;
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		pio_batch(ops, nitems(ops));
	t[2] = rdtsc() - t0;
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		console_write(chunk, UART_TX_CHUNK);
	t[3] = rdtsc() - t0;
	t0 = rdtsc();
	for (i = 0; i < n; i++)
		(void)lapic_read(LAPIC_ID);
	t[4] = rdtsc() - t0;
	cprintf(GUEST_TAG "svc-bench: %u iterations\n", n);
	cprintf(GUEST_TAG "  null service        %lu ns\n", tsc_to_us(t[0] * 1000 / n));
	cprintf(GUEST_TAG "  outb (1 trap)       %lu ns\n", tsc_to_us(t[1] * 1000 / n));
	cprintf(GUEST_TAG "  16 outb, 1 batch    %lu ns\n", tsc_to_us(t[2] * 1000 / n));
	cprintf(GUEST_TAG "  16-byte UART write  %lu ns\n", tsc_to_us(t[3] * 1000 / n));
	cprintf(GUEST_TAG "  LAPIC read, ring 3  %lu ns\n", tsc_to_us(t[4] * 1000 / n));
	pass();
}

static void bad_service(void)
{
	cprintf(GUEST_TAG "bad-service: calling service %u, which does not exist\n", SVC_COUNT);
	svc_call(SVC_COUNT, 0, 0, 0);
	fail("an unknown service number returned");
}

static void list(void)
{
	size_t i;

	for (i = 0; i < nscenarios; i++)
		cprintf(GUEST_TAG "scenario %-14s %s\n", scenarios[i].name, scenarios[i].help);
	pass();
}

const struct scenario scenarios[] = {
	{ "hello", hello, "print CPUs, memory and devices found; PASS" },
	{ "exit", exit_code, "write bulkhead.exit=N to the debug-exit port" },
	{ "marker-exit", marker_exit, "boot marker, then PASS at once" },
	{ "echo", echo, "echo serial input lines (RX interrupt); PASS on 'quit'" },
	{ "reboot", reboot, "reset through the i8042 (then the ACPI reset register)" },
	{ "debug-exit-ignored", debug_exit_ignored, "write 1 to port 0xf4; if still running, reset" },
	{ "reboot-acpi", reboot_acpi, "reset through the ACPI reset register only (a wrong value first)" },
	{ "triple-fault", do_triple_fault, "empty IDT + exception = triple fault" },
	{ "console-end", console_end, "bulkhead.lines=N lines, then bulkhead.end=triple|reset|exit|device|halt at once" },
	{ "smp", smp, "start every AP; PASS if all come online" },
	{ "fault", fault, "page fault in ring 3: the report says FAIL" },
	{ "exec-mmio", exec_mmio, "execute from unbacked MMIO: the VMM must stop the VM" },
	{ "bad-service", bad_service, "an unknown service number: the report says FAIL" },
	{ "serial-flood", serial_flood, "write bulkhead.bytes=N (65536) bytes; print the time" },
	{ "svc-bench", svc_bench, "time a service call, port writes and UART writes" },
	{ "mmio-bench", mmio_bench, "time forwarded MMIO and port reads of a device (attach a disk)" },
	{ "mmio-loop", mmio_loop, "bulkhead.mmio-op=write|read: a device register, forever" },
	{ "count", count_scenario, "'count: N' every bulkhead.interval-ms (100); bulkhead.seconds" },
	{ "power-button", power_button_scenario, "wait for the ACPI power button, then power off" },
	{ "blk-info", blk_info, "print each virtio-blk disk's features and config; PASS" },
	{ "blk-rw", blk_rw, "write the pattern (mixed requests), read it back and compare" },
	{ "blk-verify", blk_verify, "check that sectors hold the pattern of bulkhead.seed" },
	{ "blk-flush", blk_flush, "write the pattern, FLUSH, print 'flushed', halt" },
	{ "blk-id", blk_id, "GET_ID; compare with bulkhead.serial" },
	{ "blk-discard", blk_discard, "DISCARD and WRITE_ZEROES ranges read back as zeros" },
	{ "blk-ro", blk_ro, "read-only disk: reads work, a write gets IOERR" },
	{ "blk-two", blk_two, "two disks, two seeds, at once" },
	{ "blk-hostile", blk_hostile, "hostile rings: the device must refuse, then work after a reset" },
	{ "mmio-hostile", mmio_hostile, "the virtio-mmio register protocol broken (a disk, 2 cpus)" },
	{ "vring-hostile", vring_hostile, "the split virtqueue broken (a disk, 2 cpus)" },
	{ "ioapic-hostile", ioapic_hostile, "IOAPIC registers garbled and churned; a disk must still interrupt" },
	{ "blk-bench", blk_bench, "sequential MB/s and random-read IOPS" },
	{ "blk-gaps", blk_gaps, "4 KiB reads one at a time; the longest gaps between completions" },
	{ "net-info", net_info, "print each virtio-net device's MAC, link and features; PASS" },
	{ "net-tx", net_tx, "send bulkhead.frames=N (64) pattern frames; the host peer checks them" },
	{ "net-echo", net_echo, "echo frames through the host peer, check each, median rtt" },
	{ "net-rx", net_rx, "the host peer sends N pattern frames; all must arrive intact" },
	{ "net-bench", net_bench, "tx and rx frames/s and MB/s, echo rtt (with the host peer)" },
	{ "net-hostile", net_hostile, "hostile frames and rings: refused, then working after a reset" },
	{ "net-two", net_two, "echo on two NICs at once" },
	{ "p9-info", p9_info, "the first virtio-9p device: tag, a session, the root; PASS" },
	{ "p9-rw", p9_rw, "read data.bin (pattern of bulkhead.seed), write files back, dirs, links" },
	{ "p9-ro", p9_ro, "a read-only share: reads work, every change is EROFS" },
	{ "p9-hostile", p9_hostile, "traversal, bad names and fids, msize, frames: refused, then serving" },
	{ "p9-bench", p9_bench, "time reading read.bin, writing write.bin, walking to and getattr of files/f*" },
	{ "rng-read", rng_read, "read bulkhead.bytes=N (65536) random bytes; judge them; bytes/s" },
	{ "rng-hostile", rng_hostile, "hostile rng chains: refused or empty, then working after a reset" },
	{ "vsock-serve", vsock_serve, "serve bulkhead.conns host programs on bulkhead.port; answer each's checksum" },
	{ "vsock-dial", vsock_dial, "connect to the host's bulkhead.port; send the pattern; check its answer" },
	{ "vsock-rst", vsock_rst, "a connection to a host port nobody listens on gets RST" },
	{ "vsock-stall", vsock_stall, "one host program never reads; another connection still works" },
	{ "vsock-hostile", vsock_hostile, "hostile vsock packets: RST, then working after a reset" },
	{ "vsock-bench", vsock_bench, "vsock connect time and throughput both ways" },
	{ "list", list, "print this table" },
};
const size_t nscenarios = nitems(scenarios);
