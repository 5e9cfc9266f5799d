/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest platform every bulkhead process agrees on: where RAM, the MMIO hole,
 * the boot structures and the device windows are, and which ports and GSIs
 * the built-in devices use. docs/architecture.md draws the same map.
 */
#ifndef BULKHEAD_COMMON_LAYOUT_H
#define BULKHEAD_COMMON_LAYOUT_H

#define KiB(x) ((unsigned long long)(x) << 10)
#define MiB(x) ((unsigned long long)(x) << 20)
#define GiB(x) ((unsigned long long)(x) << 30)

/* RAM: [0, min(size, LOW_RAM_END)) and, for larger guests, [HIGH_RAM_START, ...). */
#define LAYOUT_LOW_RAM_END 0xc0000000ULL /* 3 GiB: the 32-bit MMIO hole starts here */
#define LAYOUT_HIGH_RAM_START 0x100000000ULL /* 4 GiB */
#define LAYOUT_MAX_MEM_REGIONS 2

/* Low memory, all inside the first MiB. */
#define LAYOUT_GDT_ADDR 0x1000ULL /* boot GDT */
#define LAYOUT_PVH_INFO_ADDR 0x6000ULL /* hvm_start_info, memory map, module list */
#define LAYOUT_ZERO_PAGE_ADDR 0x7000ULL /* Linux boot_params */
#define LAYOUT_PML4_ADDR 0x9000ULL /* identity page tables: PML4, PDPT, 4 PDs */
#define LAYOUT_PDPT_ADDR 0xa000ULL
#define LAYOUT_PD_ADDR 0xb000ULL /* 4 pages: identity map of the first 4 GiB */
#define LAYOUT_BOOT_STACK 0x8ff0ULL /* initial rsp for 64-bit entries */
#define LAYOUT_CMDLINE_ADDR 0x20000ULL
#define LAYOUT_CMDLINE_MAX 0x10000ULL /* 64 KiB; the kernel's own limit may be lower */
#define LAYOUT_EBDA_START 0x9fc00ULL /* reserved from here to 1 MiB */
#define LAYOUT_MPTABLE_ADDR 0xf0000ULL /* MP floating pointer + config table, 64 KiB */
#define LAYOUT_ACPI_ADDR 0xe0000ULL /* RSDP and ACPI tables (issue 3) */
#define LAYOUT_HIMEM_START 0x100000ULL /* 1 MiB: default kernel load address */

/* Boot GDT selectors, shared by the loader (writes the GDT) and vcpu (loads sregs). */
#define LAYOUT_BOOT_CS 0x10
#define LAYOUT_BOOT_DS 0x18
#define LAYOUT_BOOT_TSS 0x20
#define LAYOUT_GDT_ENTRIES 6 /* null, null, code, data, TSS (two slots) */

/* MMIO hole. */
#define LAYOUT_VIRTIO_MMIO_BASE 0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE 0x1000ULL /* one 4 KiB window per device */
/* The one cap on devices: COM1 and one virtio-mmio window per remaining GSI (5..23). */
#define LAYOUT_MAX_DEVICES 20
#define VIRTIO_MMIO_QUEUE_NOTIFY_OFF 0x050 /* QueueNotify in a virtio-mmio window */
#define VIRTIO_MMIO_INTERRUPT_ACK_OFF 0x064 /* InterruptACK */
#define VIRTIO_MMIO_CONFIG_OFF 0x100 /* the device's config space */
#define LAYOUT_IOAPIC_ADDR 0xfec00000ULL
#define LAYOUT_IOAPIC_WINDOW 0x100ULL /* its registers, as KVM's in-kernel one decodes them */
#define LAYOUT_LAPIC_ADDR 0xfee00000ULL
#define LAYOUT_KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL /* one page, for KVM on Intel */
#define LAYOUT_KVM_TSS_ADDR 0xfeffd000ULL /* three pages, for KVM on Intel */

/* GSIs (IOAPIC pins). */
#define LAYOUT_SERIAL_GSI 4
#define LAYOUT_GED_GSI 3 /* the ACPI Generic Event Device: the power button */
#define LAYOUT_VIRTIO_GSI_BASE 5 /* device i gets GSI 5 + i */
#define LAYOUT_IOAPIC_PINS 24

/* I/O ports. */
#define LAYOUT_COM1_PORT 0x3f8
#define LAYOUT_COM1_PORTS 8
#define LAYOUT_I8042_DATA_PORT 0x60
#define LAYOUT_I8042_CMD_PORT 0x64
#define LAYOUT_I8042_RESET_CMD 0xfe
#define LAYOUT_DEBUG_EXIT_PORT 0xf4 /* as QEMU's isa-debug-exit,iobase=0xf4,iosize=1 */
#define LAYOUT_BOOT_MARKER_PORT 0x3f0 /* as Firecracker's boot-complete port */
#define LAYOUT_POST_PORT 0x80
/* ACPI hardware-reduced registers (FADT): sleep control/status and reset. */
#define LAYOUT_ACPI_SLEEP_CTL_PORT 0x600
#define LAYOUT_ACPI_SLEEP_STS_PORT 0x601
#define LAYOUT_ACPI_RESET_PORT 0x602
#define LAYOUT_ACPI_RESET_VALUE 0x1
#define LAYOUT_ACPI_S5_TYPE 5 /* SLP_TYP the DSDT's \_S5 names */
#define LAYOUT_ACPI_SIZE 0x10000ULL /* [LAYOUT_ACPI_ADDR, +64 KiB) holds every table */

#endif
