/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT, MADT and a
 * DSDT generated at start with one LNRO0005 (virtio-mmio) device per window,
 * so that distribution kernels built without VIRTIO_MMIO_CMDLINE_DEVICES find
 * bulkhead's devices. Written into guest memory at LAYOUT_ACPI_ADDR.
 */
#ifndef BULKHEAD_ACPI_ACPI_H
#define BULKHEAD_ACPI_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "mem/mem.h"


struct acpi_mmio_device {
	uint64_t base; /* guest-physical window */
	uint32_t size; /* bytes (LAYOUT_VIRTIO_MMIO_SIZE) */
	uint32_t gsi; /* edge-triggered, active high */
};

struct acpi_config {
	unsigned int nvcpus; /* 1..254; APIC ids 0..nvcpus-1, IOAPIC id nvcpus */
	const struct acpi_mmio_device *devices;
	unsigned int ndevices; /* <= LAYOUT_MAX_DEVICES */
	int serial; /* describe COM1 (0x3f8, IRQ 4) as PNP0501 in the DSDT */
	/* a power button (PNP0C0C) that a Generic Event Device (ACPI0013) on
	 * LAYOUT_GED_GSI notifies: the host presses it by raising that GSI */
	int power_button;
};

/*
 * acpi_build: write every table into mem (mapped) inside [LAYOUT_ACPI_ADDR,
 * LAYOUT_ACPI_ADDR + LAYOUT_ACPI_SIZE) and return the RSDP's address in
 * *rsdp. 0 or -errno (-EINVAL for a bad config, -ENOSPC if it does not fit,
 * -EFAULT if mem does not map the whole area). On error guest memory and
 * *rsdp are untouched. Window bases and sizes must lie in [LAYOUT_LOW_RAM_END,
 * 4 GiB), clear of each other and of the IOAPIC, LAPIC and KVM pages; GSIs in
 * 1..LAYOUT_IOAPIC_PINS-1 but not 2 (timer), 4 (COM1) or, with a power button,
 * LAYOUT_GED_GSI. A GSI named by more
 * than one window is declared Shared.
 */
int acpi_build(const struct guest_mem *mem, const struct acpi_config *cfg, uint64_t *rsdp)
	__attribute__((warn_unused_result));

#endif
