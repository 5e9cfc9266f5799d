/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Intel MultiProcessor Specification 1.4 tables at LAYOUT_MPTABLE_ADDR: the
 * floating pointer, then the configuration table with one processor entry per
 * vCPU, the ISA bus, the IOAPIC, interrupt routing and local interrupts.
 */
#include "loader_int.h"

#include <errno.h>

#define MP_SPEC_REV 4 /* 1.4 */
#define MP_MAX_CPUS 254 /* 8-bit APIC ids; the IOAPIC takes id nvcpus, 0xff is broadcast */
#define MP_APIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_CPU_SIGNATURE 0x600 /* family 6 */
#define MP_CPU_FEATURES 0x201 /* CPUID.1:EDX FPU | APIC */
#define MP_ISA_BUS 0
#define MP_ISA_IRQS 16
#define MP_TIMER_PIN 2 /* ISA IRQ 0 is wired to IOAPIC pin 2, as on PCs */

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01
#define MP_IRQ_CONFORMS 0x0000 /* polarity and trigger as the bus defines */
#define MP_IRQ_EDGE_HIGH 0x0005 /* polarity 01 active high, trigger 01 edge */
#define MP_ALL_LAPICS 0xff

struct mp_floating {
	char signature[4]; /* "_MP_" */
	uint32_t config_paddr;
	uint8_t length; /* in 16-byte units */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5]; /* all zero: a configuration table is present, no IMCR */
};

struct mp_config {
	char signature[4]; /* "PCMP" */
	uint16_t length; /* header and base entries */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entries;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
};

struct mp_processor {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
};

struct mp_bus {
	uint8_t type;
	uint8_t id;
	char name[6];
};

struct mp_ioapic {
	uint8_t type;
	uint8_t id;
	uint8_t version;
	uint8_t flags;
	uint32_t addr;
};

struct mp_irq { /* MP_INTSRC and MP_LINTSRC */
	uint8_t type;
	uint8_t irq_type;
	uint16_t flags;
	uint8_t bus;
	uint8_t bus_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
};

_Static_assert(sizeof(struct mp_floating) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mp_config) == 44, "MP configuration table header");
_Static_assert(sizeof(struct mp_processor) == 20, "MP processor entry");
_Static_assert(sizeof(struct mp_bus) == 8 && sizeof(struct mp_ioapic) == 8 && sizeof(struct mp_irq) == 8,
	       "MP 8-byte entries");

#define MP_BUF_SIZE                                                                                     \
	(sizeof(struct mp_floating) + sizeof(struct mp_config) + MP_MAX_CPUS * sizeof(struct mp_processor) + \
	 sizeof(struct mp_bus) + sizeof(struct mp_ioapic) + (MP_ISA_IRQS + LAYOUT_IOAPIC_PINS + 2) * sizeof(struct mp_irq))
_Static_assert(MP_BUF_SIZE <= LAYOUT_HIMEM_START - LAYOUT_MPTABLE_ADDR, "MP table below 1 MiB");

struct mp_buf {
	uint8_t b[MP_BUF_SIZE];
	size_t len;
	uint16_t entries;
};

static bool mp_device_gsi(const struct loader_ctx *c, unsigned int gsi)
{
	for (unsigned int i = 0; i < c->a->ndevices; i++)
		if (c->a->devices[i].gsi == gsi)
			return true;
	return false;
}

int mptable_check(struct loader_ctx *c)
{
	const struct loader_args *a = c->a;

	if (a->nvcpus == 0 || a->nvcpus > MP_MAX_CPUS)
		return loader_fail(c, -EINVAL, "%u vCPUs: must be 1 to %u", a->nvcpus, MP_MAX_CPUS);
	if (a->ndevices > 0 && !a->devices)
		return loader_fail(c, -EINVAL, "device list is missing");
	if (a->ndevices > LAYOUT_IOAPIC_PINS)
		return loader_fail(c, -EINVAL, "%u devices: more than IOAPIC pins", a->ndevices);
	for (unsigned int i = 0; i < a->ndevices; i++) {
		uint32_t gsi = a->devices[i].gsi;

		/* GSI 0 and 2 belong to the timer (ISA IRQ 0 on pin 2). */
		if (gsi == 0 || gsi == MP_TIMER_PIN || gsi >= LAYOUT_IOAPIC_PINS)
			return loader_fail(c, -EINVAL, "device %u has unusable GSI %u", i, gsi);
		for (unsigned int j = 0; j < i; j++)
			if (a->devices[j].gsi == gsi)
				return loader_fail(c, -EINVAL, "devices %u and %u share GSI %u", j, i, gsi);
	}
	return 0;
}

static void mp_add(struct mp_buf *m, const void *entry, size_t len)
{
	memcpy(m->b + m->len, entry, len);
	m->len += len;
	m->entries++;
}

static uint8_t mp_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return (uint8_t)(0 - sum);
}

static void mp_add_irq(struct mp_buf *m, uint8_t type, uint8_t irq_type, uint16_t flags, uint8_t bus_irq,
		       uint8_t dst_apic, uint8_t dst_pin)
{
	struct mp_irq e = { .type = type, .irq_type = irq_type, .flags = flags, .bus = MP_ISA_BUS,
			    .bus_irq = bus_irq, .dst_apic = dst_apic, .dst_pin = dst_pin };

	mp_add(m, &e, sizeof(e));
}

static void mp_add_cpus(struct mp_buf *m, unsigned int nvcpus)
{
	for (unsigned int i = 0; i < nvcpus; i++) {
		struct mp_processor p = {
			.type = MP_PROCESSOR,
			.apic_id = (uint8_t)i,
			.apic_version = MP_APIC_VERSION,
			.flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.signature = MP_CPU_SIGNATURE,
			.features = MP_CPU_FEATURES,
		};

		mp_add(m, &p, sizeof(p));
	}
}

/*
 * ISA IRQs 0-15 go to the same IOAPIC pin with the ISA bus's default edge /
 * active-high, except IRQ 0 (the PIT) on pin 2 and IRQ 2 (the cascade,
 * whose pin IRQ 0 now takes). A pin given to a device is announced once, as
 * the device's: edge, active high.
 */
static void mp_add_routing(struct mp_buf *m, const struct loader_ctx *c, uint8_t ioapic)
{
	for (unsigned int irq = 0; irq < MP_ISA_IRQS; irq++) {
		if (irq == MP_TIMER_PIN || mp_device_gsi(c, irq))
			continue;
		mp_add_irq(m, MP_INTSRC, MP_INT, MP_IRQ_CONFORMS, (uint8_t)irq, ioapic,
			   (uint8_t)(irq == 0 ? MP_TIMER_PIN : irq));
	}
	for (unsigned int i = 0; i < c->a->ndevices; i++) {
		uint8_t gsi = (uint8_t)c->a->devices[i].gsi;

		mp_add_irq(m, MP_INTSRC, MP_INT, MP_IRQ_EDGE_HIGH, gsi, ioapic, gsi);
	}
	mp_add_irq(m, MP_LINTSRC, MP_EXTINT, MP_IRQ_CONFORMS, 0, MP_ALL_LAPICS, 0);
	mp_add_irq(m, MP_LINTSRC, MP_NMI, MP_IRQ_CONFORMS, 0, MP_ALL_LAPICS, 1);
}

int mptable_write(struct loader_ctx *c)
{
	struct mp_buf m;
	struct mp_floating fp = { .signature = "_MP_", .length = 1, .spec_rev = MP_SPEC_REV };
	struct mp_config hdr = {
		.signature = "PCMP",
		.spec_rev = MP_SPEC_REV,
		.oem = "BULKHEAD",
		.product = "BULKHEAD VM ",
		.lapic_addr = (uint32_t)LAYOUT_LAPIC_ADDR,
	};
	struct mp_bus bus = { .type = MP_BUS, .id = MP_ISA_BUS, .name = "ISA   " };
	uint8_t ioapic_id = (uint8_t)c->a->nvcpus;
	struct mp_ioapic ioapic = { .type = MP_IOAPIC, .id = ioapic_id, .version = MP_IOAPIC_VERSION,
				    .flags = MP_IOAPIC_ENABLED, .addr = (uint32_t)LAYOUT_IOAPIC_ADDR };
	size_t cfg = sizeof(fp);

	memset(&m, 0, sizeof(m));
	m.len = cfg + sizeof(hdr); /* entries follow the header; both are filled in last */
	mp_add_cpus(&m, c->a->nvcpus);
	mp_add(&m, &bus, sizeof(bus));
	mp_add(&m, &ioapic, sizeof(ioapic));
	mp_add_routing(&m, c, ioapic_id);

	hdr.length = (uint16_t)(m.len - cfg);
	hdr.entries = m.entries;
	memcpy(m.b + cfg, &hdr, sizeof(hdr));
	m.b[cfg + offsetof(struct mp_config, checksum)] = mp_checksum(m.b + cfg, hdr.length);

	fp.config_paddr = (uint32_t)(LAYOUT_MPTABLE_ADDR + cfg);
	memcpy(m.b, &fp, sizeof(fp));
	m.b[offsetof(struct mp_floating, checksum)] = mp_checksum(m.b, sizeof(fp));

	if (mem_write(c->mem, LAYOUT_MPTABLE_ADDR, m.b, m.len) < 0)
		return loader_fail(c, -EFAULT, "MP table does not fit in guest memory");
	return 0;
}
