/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * KVM exit dispatch: a table of port and MMIO ranges to their owners (a
 * built-in handler or a device channel). Unclaimed reads return all ones and
 * unclaimed writes are dropped, as on a PC bus.
 *
 * Register writes to a device are posted (sent, not waited for), except at
 * the offsets its kind declared synchronous; reads wait for the reply unless
 * the device's register shadow answers them. What any register means is the
 * device's business: this file knows windows, offsets and widths only.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "testhooks/testhooks.h"
#include "vcpu.h"

struct io_range;
typedef int (*io_read_fn)(struct vcpu *v, uint64_t off, unsigned int size, uint64_t *val);
typedef int (*io_write_fn)(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val);

struct builtin_port {
	uint16_t port;
	uint16_t len;
	io_read_fn read;
	io_write_fn write;
};

/* The guest ends the VM. */
static void end_vm(struct vcpu *v, enum ipc_exit_reason reason, uint32_t value, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));
static void end_vm(struct vcpu *v, enum ipc_exit_reason reason, uint32_t value, const char *fmt,
		   ...)
{
	char text[IPC_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	vm_request_exit(v->vm, reason, value, "%s", text);
}

static int port_read_zero(struct vcpu *v, uint64_t off, unsigned int size, uint64_t *val)
{
	(void)v;
	(void)off;
	(void)size;
	*val = 0;
	return 0;
}

static int port_write_ignore(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)v;
	(void)off;
	(void)size;
	(void)val;
	return 0;
}

static int i8042_cmd_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)off;
	(void)size;
	if ((val & 0xff) != LAYOUT_I8042_RESET_CMD)
		return 0;
	end_vm(v, IPC_EXIT_RESET, 0, "guest reset through the i8042 (vcpu%u)", v->id);
	return 1;
}

static int debug_exit_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)off;
	(void)size;
	if (v->vm->cfg.cv_flags & IPC_VCPU_F_NO_DEBUG_EXIT)
		return 0; /* --debug-exit off: an unclaimed port, as in QEMU without isa-debug-exit */
	end_vm(v, IPC_EXIT_DEBUG, (uint32_t)(val & 0xff),
	       "guest wrote %u to the debug-exit port (vcpu%u)", (unsigned int)(val & 0xff), v->id);
	return 1;
}

static int boot_marker_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	uint64_t ns = now_ns() - v->vm->cfg.cv_launch_ns;

	(void)off;
	(void)size;
	log_info("boot marker 0x%02x from vcpu%u at %llu.%03llu ms since launch",
		 (unsigned int)(val & 0xff), v->id, (unsigned long long)(ns / 1000000),
		 (unsigned long long)(ns / 1000 % 1000));
	return 0;
}

/* ACPI hardware-reduced sleep control: (SLP_TYP << 2) | SLP_EN; \_S5 powers off. */
static int acpi_sleep_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	unsigned int typ = (unsigned int)(val >> 2) & 7;

	(void)off;
	(void)size;
	if (!(val & (1u << 5)) || typ != LAYOUT_ACPI_S5_TYPE)
		return 0;
	end_vm(v, IPC_EXIT_POWEROFF, 0, "guest powered off through ACPI (vcpu%u)", v->id);
	return 1;
}

static int acpi_reset_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)off;
	(void)size;
	if ((val & 0xff) != LAYOUT_ACPI_RESET_VALUE)
		return 0;
	end_vm(v, IPC_EXIT_RESET, 0, "guest reset through the ACPI reset register (vcpu%u)", v->id);
	return 1;
}

static const struct builtin_port builtin_ports[] = {
	{ LAYOUT_ACPI_SLEEP_CTL_PORT, 1, port_read_zero, acpi_sleep_write },
	{ LAYOUT_ACPI_SLEEP_STS_PORT, 1, port_read_zero, port_write_ignore },
	{ LAYOUT_ACPI_RESET_PORT, 1, port_read_zero, acpi_reset_write },
	{ LAYOUT_I8042_DATA_PORT, 1, port_read_zero, port_write_ignore },
	{ LAYOUT_I8042_CMD_PORT, 1, port_read_zero, i8042_cmd_write },
	{ LAYOUT_DEBUG_EXIT_PORT, 1, port_read_zero, debug_exit_write },
	{ LAYOUT_BOOT_MARKER_PORT, 1, port_read_zero, boot_marker_write },
	{ LAYOUT_POST_PORT, 1, port_read_zero, port_write_ignore },
};

static struct dev_chan *dev_find(struct vm *vm, uint32_t space, uint64_t addr, unsigned int size)
{
	for (unsigned int i = 0; i < vm->ndevs; i++) {
		struct dev_chan *d = &vm->devs[i];

		if (d->space == space && addr >= d->base && addr - d->base < d->len &&
		    size <= d->len - (addr - d->base))
			return d;
	}
	return NULL;
}

static uint64_t size_mask(unsigned int size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* Forward one access to a device (chan.c); 0 to go on, 1 when the vCPU must stop. */
static int dev_access(struct vcpu *v, struct dev_chan *d, int is_write, uint64_t addr,
		      unsigned int size, uint64_t *val)
{
	return chan_access(v, d, is_write, addr - d->base, size, val);
}

static int pio_one(struct vcpu *v, uint16_t port, unsigned int size, int is_write, uint8_t *data)
{
	uint64_t val = 0;
	struct dev_chan *d;
	int stop = 0;

	if (is_write)
		memcpy(&val, data, size);
	for (size_t i = 0; i < nitems(builtin_ports); i++) {
		const struct builtin_port *b = &builtin_ports[i];

		if (port < b->port || port - b->port >= b->len)
			continue;
		if (is_write)
			return b->write(v, port - b->port, size, val);
		stop = b->read(v, port - b->port, size, &val);
		memcpy(data, &val, size);
		return stop;
	}
	d = dev_find(v->vm, IPC_SPACE_PIO, port, size);
	if (d) {
		stop = dev_access(v, d, is_write, port, size, &val);
	} else if (!is_write) {
		val = size_mask(size);
		log_debug("vcpu%u: read of unclaimed port 0x%x", v->id, port);
	}
	if (!is_write)
		memcpy(data, &val, size);
	return stop;
}

static int exit_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned int size = run->io.size;
	int is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (size != 1 && size != 2 && size != 4)
		return 0;
	/* KVM keeps data inside the kvm_run mapping; check anyway before using it. */
	if (run->io.data_offset > v->run_size ||
	    (uint64_t)run->io.count * size > v->run_size - run->io.data_offset)
		return 0;
	for (uint32_t i = 0; i < run->io.count; i++) {
		if (pio_one(v, run->io.port, size, is_write, data + (size_t)i * size))
			return 1;
	}
	return 0;
}

static int exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned int size = run->mmio.len;
	uint64_t addr = run->mmio.phys_addr;
	struct dev_chan *d;
	uint64_t val = 0;
	int stop = 0;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return 0;
	if (run->mmio.is_write)
		memcpy(&val, run->mmio.data, size);
	if (v->vm->split_irqchip && addr - LAYOUT_IOAPIC_ADDR < LAYOUT_IOAPIC_WINDOW) {
		stop = vm_ioapic_access(v, run->mmio.is_write, addr - LAYOUT_IOAPIC_ADDR, size, &val);
	} else if ((d = dev_find(v->vm, IPC_SPACE_MMIO, addr, size))) {
		stop = dev_access(v, d, run->mmio.is_write, addr, size, &val);
	} else if (!run->mmio.is_write) {
		val = size_mask(size);
		log_debug("vcpu%u: read of unclaimed MMIO 0x%llx", v->id, (unsigned long long)addr);
	}
	if (!run->mmio.is_write)
		memcpy(run->mmio.data, &val, size);
	return stop;
}

static int exit_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char bytes[3 * 16 + 1] = "";
	struct kvm_regs r = { 0 };

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned int n = run->emulation_failure.insn_size;

		if (n > 15)
			n = 15;
		for (unsigned int i = 0; i < n; i++)
			snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, " %02x",
				 run->emulation_failure.insn_bytes[i]);
	}
	cpu_dump(v);
	(void)!ioctl(v->fd, KVM_GET_REGS, &r);
	vm_request_exit(v->vm, IPC_EXIT_ERROR, 0,
			"vcpu%u: KVM internal error, suberror %u%s at rip 0x%llx%s%s", v->id,
			run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "",
			(unsigned long long)r.rip, bytes[0] ? ", instruction:" : "", bytes);
	return 1;
}

static int exit_rip_error(struct vcpu *v, const char *what)
{
	struct kvm_regs r = { 0 };

	cpu_dump(v);
	(void)!ioctl(v->fd, KVM_GET_REGS, &r);
	vm_request_exit(v->vm, IPC_EXIT_ERROR, 0, "vcpu%u: %s at rip 0x%llx", v->id, what,
			(unsigned long long)r.rip);
	return 1;
}

static int exit_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		end_vm(v, IPC_EXIT_POWEROFF, 0, "guest powered off (vcpu%u)", v->id);
		return 1;
	case KVM_SYSTEM_EVENT_RESET:
		end_vm(v, IPC_EXIT_RESET, 0, "guest reset (vcpu%u)", v->id);
		return 1;
	default:
		return exit_rip_error(v, "guest crash system event");
	}
}

int exits_handle(struct vcpu *v)
{
	char what[64];

	testhook_fault_fire();
	if (v->run->exit_reason == KVM_EXIT_IO)
		return exit_io(v);
	if (v->run->exit_reason == KVM_EXIT_MMIO)
		return exit_mmio(v);
	switch (v->run->exit_reason) {
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_IOAPIC_EOI:
		return 0; /* routes are edge-triggered (ioapic.c): nothing waits for an EOI */
	case KVM_EXIT_SHUTDOWN:
		end_vm(v, IPC_EXIT_TRIPLE_FAULT, 0, "guest triple fault (vcpu%u)", v->id);
		return 1;
	case KVM_EXIT_SYSTEM_EVENT:
		return exit_system_event(v);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal_error(v);
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM entry failure, reason 0x%llx",
			 (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
		return exit_rip_error(v, what);
	default:
		snprintf(what, sizeof(what), "unhandled KVM exit reason %u", v->run->exit_reason);
		return exit_rip_error(v, what);
	}
}
