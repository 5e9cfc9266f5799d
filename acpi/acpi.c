/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * acpi_build: check the configuration, build the whole ACPI area in a host
 * buffer (so a failure leaves guest memory untouched), then copy it into the
 * guest with one mem_write. Layout inside the 64 KiB at LAYOUT_ACPI_ADDR:
 *
 *   0x0000 RSDP (revision 2)   0x0040 XSDT -> FADT, MADT
 *   0x0080 FADT (6.3, HW-reduced, X_DSDT)   0x0200 MADT   0x1000 DSDT
 */
#include "acpi_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

#define ACPI_OEM_ID "BLKHD "
#define ACPI_OEM_TABLE_ID "BULKHEAD"
#define ACPI_OEM_REVISION 1
#define ACPI_CREATOR_ID "BLKH"
#define ACPI_CREATOR_REVISION 1
#define ACPI_HYPERVISOR_VENDOR "BLKHEAD"

#define ACPI_XSDT_REVISION 1
#define ACPI_FADT_REVISION 6
#define ACPI_FADT_MINOR 3 /* ACPI 6.3 */
#define ACPI_MADT_REVISION 5 /* ACPI 6.3 */
#define ACPI_DSDT_REVISION 2 /* 64-bit integers */
#define ACPI_XSDT_ENTRIES 2

#define ACPI_4GIB 0x100000000ULL
#define ACPI_MADT_ENABLED 0x1
#define ACPI_ALL_PROCESSORS 0xff
#define ACPI_TIMER_PIN 2 /* ISA IRQ 0 arrives on IOAPIC pin 2, as on PCs */

_Static_assert(LAYOUT_ACPI_ADDR % 16 == 0 && ACPI_RSDP_OFF % 16 == 0, "RSDP on a 16-byte boundary");
_Static_assert(LAYOUT_ACPI_ADDR + LAYOUT_ACPI_SIZE <= LAYOUT_MPTABLE_ADDR,
	       "ACPI area ends before the MP table");
_Static_assert(ACPI_RSDP_OFF + sizeof(struct acpi_rsdp) <= ACPI_XSDT_OFF &&
		       ACPI_XSDT_OFF + sizeof(struct acpi_header) + 8 * ACPI_XSDT_ENTRIES <= ACPI_FADT_OFF &&
		       ACPI_FADT_OFF + sizeof(struct acpi_fadt) <= ACPI_MADT_OFF &&
		       ACPI_MADT_OFF + ACPI_MADT_MAX_SIZE <= ACPI_DSDT_OFF &&
		       ACPI_DSDT_OFF + sizeof(struct acpi_header) < LAYOUT_ACPI_SIZE,
	       "ACPI tables do not overlap");

/* Ranges of the MMIO hole that belong to the platform, not to a device window. */
static const struct {
	uint64_t base, size;
} acpi_reserved[] = {
	{ LAYOUT_IOAPIC_ADDR, 0x1000 },
	{ LAYOUT_LAPIC_ADDR, 0x1000 },
	{ LAYOUT_KVM_IDENTITY_MAP_ADDR, 0x1000 },
	{ LAYOUT_KVM_TSS_ADDR, 0x3000 },
};

static int acpi_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int acpi_check_device(const struct acpi_config *cfg, unsigned int i)
{
	const struct acpi_mmio_device *d = &cfg->devices[i];

	if (d->size == 0 || d->base < LAYOUT_LOW_RAM_END || d->base >= ACPI_4GIB ||
	    d->size > ACPI_4GIB - d->base) {
		log_warnx("device %u: window %#llx+%#x outside the MMIO hole", i, (unsigned long long)d->base,
			  d->size);
		return -EINVAL;
	}
	if (d->gsi == 0 || d->gsi == ACPI_TIMER_PIN || d->gsi == LAYOUT_SERIAL_GSI || d->gsi >= LAYOUT_IOAPIC_PINS ||
	    (cfg->power_button && d->gsi == LAYOUT_GED_GSI)) {
		log_warnx("device %u: GSI %u is not free for devices", i, d->gsi);
		return -EINVAL;
	}
	/* bases and sizes are below 4 GiB from here on: the sums cannot overflow */
	for (size_t j = 0; j < nitems(acpi_reserved); j++) {
		if (acpi_overlap(d->base, d->size, acpi_reserved[j].base, acpi_reserved[j].size)) {
			log_warnx("device %u: window %#llx+%#x overlaps the platform at %#llx", i,
				  (unsigned long long)d->base, d->size, (unsigned long long)acpi_reserved[j].base);
			return -EINVAL;
		}
	}
	for (unsigned int j = 0; j < i; j++) {
		const struct acpi_mmio_device *e = &cfg->devices[j];

		if (acpi_overlap(d->base, d->size, e->base, e->size)) {
			log_warnx("device %u: window %#llx+%#x overlaps device %u", i,
				  (unsigned long long)d->base, d->size, j);
			return -EINVAL;
		}
	}
	return 0;
}

static int acpi_check(const struct acpi_config *cfg)
{
	if (!cfg)
		return -EINVAL;
	if (cfg->nvcpus < 1 || cfg->nvcpus > ACPI_MAX_VCPUS) {
		log_warnx("%u vCPUs: must be 1 to %u", cfg->nvcpus, ACPI_MAX_VCPUS);
		return -EINVAL;
	}
	if (cfg->ndevices > LAYOUT_MAX_DEVICES) {
		log_warnx("%u devices: at most %u", cfg->ndevices, LAYOUT_MAX_DEVICES);
		return -EINVAL;
	}
	if (cfg->ndevices && !cfg->devices) {
		log_warnx("%u devices but no device list", cfg->ndevices);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		int r = acpi_check_device(cfg, i);

		if (r < 0)
			return r;
	}
	return 0;
}

/* The byte that makes p[0, len) sum to 0 once stored in a zeroed checksum field. */
static uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)(0 - sum);
}

/* Write the header of the len-byte table at t (its body already in place), then its checksum. */
static void acpi_seal(uint8_t *t, const char *sig, size_t len, uint8_t revision)
{
	struct acpi_header h;

	memset(&h, 0, sizeof(h));
	memcpy(h.sig, sig, sizeof(h.sig));
	h.length = (uint32_t)len;
	h.revision = revision;
	memcpy(h.oem_id, ACPI_OEM_ID, sizeof(h.oem_id));
	memcpy(h.oem_table_id, ACPI_OEM_TABLE_ID, sizeof(h.oem_table_id));
	h.oem_revision = ACPI_OEM_REVISION;
	memcpy(h.creator_id, ACPI_CREATOR_ID, sizeof(h.creator_id));
	h.creator_revision = ACPI_CREATOR_REVISION;
	memcpy(t, &h, sizeof(h));
	t[offsetof(struct acpi_header, checksum)] = acpi_checksum(t, len);
}

static void acpi_io_gas(struct acpi_gas *g, uint16_t port)
{
	g->space_id = ACPI_GAS_SYSTEM_IO;
	g->bit_width = 8;
	g->bit_offset = 0;
	g->access_size = ACPI_GAS_ACCESS_BYTE;
	g->address = port;
}

static int acpi_dsdt(uint8_t *img, const struct acpi_config *cfg)
{
	static const struct acpi_header blank;
	uint8_t *t = img + ACPI_DSDT_OFF;
	struct aml a;
	int r;

	aml_init(&a, t, LAYOUT_ACPI_SIZE - ACPI_DSDT_OFF);
	aml_bytes(&a, &blank, sizeof(blank));
	r = dsdt_build(&a, cfg);
	if (r < 0)
		return r;
	acpi_seal(t, "DSDT", a.len, ACPI_DSDT_REVISION);
	return 0;
}

static void acpi_fadt(uint8_t *img)
{
	struct acpi_fadt f;
	uint64_t dsdt = LAYOUT_ACPI_ADDR + ACPI_DSDT_OFF;

	memset(&f, 0, sizeof(f));
	f.minor_revision = ACPI_FADT_MINOR;
	f.dsdt = (uint32_t)dsdt;
	f.x_dsdt = dsdt;
	f.flags = ACPI_FADT_WBINVD | ACPI_FADT_PWR_BUTTON | ACPI_FADT_SLP_BUTTON | ACPI_FADT_RESET_REG_SUP |
		  ACPI_FADT_HW_REDUCED;
	/* no VGA, no PCI (so no MSI and no ASPM to manage), no CMOS RTC */
	f.iapc_boot_arch = ACPI_BOOT_VGA_NOT_PRESENT | ACPI_BOOT_MSI_NOT_SUPPORTED | ACPI_BOOT_ASPM_CONTROLS |
			   ACPI_BOOT_CMOS_RTC_NOT_PRESENT;
	acpi_io_gas(&f.reset_reg, LAYOUT_ACPI_RESET_PORT);
	f.reset_value = LAYOUT_ACPI_RESET_VALUE;
	acpi_io_gas(&f.sleep_control_reg, LAYOUT_ACPI_SLEEP_CTL_PORT);
	acpi_io_gas(&f.sleep_status_reg, LAYOUT_ACPI_SLEEP_STS_PORT);
	memcpy(f.hypervisor_vendor, ACPI_HYPERVISOR_VENDOR, sizeof(ACPI_HYPERVISOR_VENDOR));
	memcpy(img + ACPI_FADT_OFF, &f, sizeof(f));
	acpi_seal(img + ACPI_FADT_OFF, "FACP", sizeof(f), ACPI_FADT_REVISION);
}

static int acpi_madt(uint8_t *img, const struct acpi_config *cfg)
{
	struct acpi_madt m;
	struct acpi_madt_ioapic io = {
		.type = ACPI_MADT_IOAPIC,
		.length = sizeof(io),
		.id = (uint8_t)cfg->nvcpus,
		.address = (uint32_t)LAYOUT_IOAPIC_ADDR,
		.gsi_base = 0,
	};
	struct acpi_madt_iso iso = {
		.type = ACPI_MADT_ISO,
		.length = sizeof(iso),
		.bus = 0,
		.source = 0,
		.gsi = ACPI_TIMER_PIN,
		.flags = 0,
	};
	struct acpi_madt_lapic_nmi nmi = {
		.type = ACPI_MADT_LAPIC_NMI,
		.length = sizeof(nmi),
		.uid = ACPI_ALL_PROCESSORS,
		.flags = 0,
		.lint = 1,
	};
	uint8_t *t = img + ACPI_MADT_OFF;
	struct aml b;

	aml_init(&b, t, ACPI_DSDT_OFF - ACPI_MADT_OFF);
	memset(&m, 0, sizeof(m));
	m.lapic_addr = (uint32_t)LAYOUT_LAPIC_ADDR;
	m.flags = 0; /* no PC-AT 8259s */
	aml_bytes(&b, &m, sizeof(m)); /* the header is sealed once the length is known */
	for (unsigned int i = 0; i < cfg->nvcpus; i++) {
		struct acpi_madt_lapic l = {
			.type = ACPI_MADT_LAPIC,
			.length = sizeof(l),
			.uid = (uint8_t)i,
			.apic_id = (uint8_t)i,
			.flags = ACPI_MADT_ENABLED,
		};

		aml_bytes(&b, &l, sizeof(l));
	}
	aml_bytes(&b, &io, sizeof(io));
	aml_bytes(&b, &iso, sizeof(iso));
	aml_bytes(&b, &nmi, sizeof(nmi));
	if (b.err)
		return b.err;
	acpi_seal(t, "APIC", b.len, ACPI_MADT_REVISION);
	return 0;
}

static void acpi_xsdt(uint8_t *img)
{
	struct {
		struct acpi_header h;
		uint64_t entry[ACPI_XSDT_ENTRIES];
	} __attribute__((packed)) x;

	memset(&x, 0, sizeof(x));
	x.entry[0] = LAYOUT_ACPI_ADDR + ACPI_FADT_OFF;
	x.entry[1] = LAYOUT_ACPI_ADDR + ACPI_MADT_OFF;
	memcpy(img + ACPI_XSDT_OFF, &x, sizeof(x));
	acpi_seal(img + ACPI_XSDT_OFF, "XSDT", sizeof(x), ACPI_XSDT_REVISION);
}

static void acpi_rsdp(uint8_t *img)
{
	struct acpi_rsdp p;

	memset(&p, 0, sizeof(p));
	memcpy(p.sig, "RSD PTR ", sizeof(p.sig));
	memcpy(p.oem_id, ACPI_OEM_ID, sizeof(p.oem_id));
	p.revision = 2;
	p.rsdt_addr = 0;
	p.length = sizeof(p);
	p.xsdt_addr = LAYOUT_ACPI_ADDR + ACPI_XSDT_OFF;
	p.checksum = acpi_checksum((const uint8_t *)&p, offsetof(struct acpi_rsdp, length));
	p.ext_checksum = acpi_checksum((const uint8_t *)&p, sizeof(p));
	memcpy(img + ACPI_RSDP_OFF, &p, sizeof(p));
}

int acpi_build(const struct guest_mem *mem, const struct acpi_config *cfg, uint64_t *rsdp)
{
	uint8_t *img;
	int r;

	r = acpi_check(cfg);
	if (r < 0)
		return r;
	if (!mem_ptr(mem, LAYOUT_ACPI_ADDR, LAYOUT_ACPI_SIZE)) {
		log_warnx("guest memory does not cover the ACPI area at %#llx", LAYOUT_ACPI_ADDR);
		return -EFAULT;
	}
	img = calloc(1, LAYOUT_ACPI_SIZE);
	if (!img)
		return -ENOMEM;
	r = acpi_dsdt(img, cfg);
	if (r == 0)
		r = acpi_madt(img, cfg);
	if (r < 0) {
		log_warnx("cannot build the tables in %#llx bytes: %s", LAYOUT_ACPI_SIZE, strerror(-r));
		goto free_img;
	}
	acpi_fadt(img);
	acpi_xsdt(img);
	acpi_rsdp(img);
	r = mem_write(mem, LAYOUT_ACPI_ADDR, img, LAYOUT_ACPI_SIZE);
	if (r == 0)
		*rsdp = LAYOUT_ACPI_ADDR + ACPI_RSDP_OFF;
free_img:
	free(img);
	return r;
}
