/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DSDT body, generated at start:
 *
 *   Scope (\_SB) {
 *     Device (VR00) {                  one per virtio-mmio window
 *       Name (_HID, "LNRO0005")
 *       Name (_UID, 0)
 *       Name (_CRS, ResourceTemplate () {
 *         Memory32Fixed (ReadWrite, base, size)
 *         Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }
 *       })
 *     }
 *     Device (COM1) {                  with cfg->serial
 *       Name (_HID, EisaId ("PNP0501"))
 *       Name (_UID, 0)
 *       Name (_CRS, ResourceTemplate () { IO (Decode16, 0x3f8, 0x3f8, 0, 8) IRQNoFlags () { 4 } })
 *     }
 *     Device (PWRB) {                  with cfg->power_button
 *       Name (_HID, EisaId ("PNP0C0C"))
 *       Name (_UID, 0)
 *     }
 *     Device (GED0) {                  its one event: the host raised LAYOUT_GED_GSI
 *       Name (_HID, "ACPI0013")
 *       Name (_UID, 0)
 *       Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Edge, ActiveHigh,
 *                                                    Exclusive) { LAYOUT_GED_GSI } })
 *       Method (_EVT, 1) { Notify (\_SB.PWRB, 0x80) }
 *     }
 *   }
 *   Name (\_S5, Package () { LAYOUT_ACPI_S5_TYPE, 0, 0, 0 })
 *
 * A GSI that more than one window names is declared Shared instead of Exclusive.
 */
#include "acpi_int.h"

#include <errno.h>

#define DSDT_RES_MAX 32 /* bytes of one device's resource template */

static int dsdt_gsi_shared(const struct acpi_config *cfg, unsigned int i)
{
	for (unsigned int j = 0; j < cfg->ndevices; j++)
		if (j != i && cfg->devices[j].gsi == cfg->devices[i].gsi)
			return 1;
	return 0;
}

/* Name (_CRS, ResourceTemplate () { ... }) from the descriptors in r. */
static void dsdt_crs(struct aml *a, struct aml *r)
{
	aml_endtag(r);
	if (r->err) {
		if (!a->err)
			a->err = r->err;
		return;
	}
	aml_name(a, "_CRS");
	aml_buffer(a, r->buf, r->len);
}

static void dsdt_mmio(struct aml *a, const struct acpi_config *cfg, unsigned int i)
{
	const struct acpi_mmio_device *d = &cfg->devices[i];
	char name[5] = { 'V', 'R', (char)('0' + i / 10 % 10), (char)('0' + i % 10), '\0' };
	uint8_t flags = AML_IRQ_CONSUMER | AML_IRQ_EDGE;
	uint8_t res[DSDT_RES_MAX];
	struct aml r;
	size_t dev;

	if (dsdt_gsi_shared(cfg, i))
		flags |= AML_IRQ_SHARED;
	dev = aml_device(a, name);
	aml_name(a, "_HID");
	aml_string(a, "LNRO0005");
	aml_name(a, "_UID");
	aml_integer(a, i);
	aml_init(&r, res, sizeof(res));
	aml_mem32fixed(&r, 1, (uint32_t)d->base, d->size);
	aml_interrupt(&r, flags, d->gsi);
	dsdt_crs(a, &r);
	aml_end(a, dev);
}

/* Device (name) { Name (_HID, EisaId (eisaid)) Name (_UID, 0) ...: close with aml_end. */
static size_t dsdt_pnp_device(struct aml *a, const char *name, const char *eisaid)
{
	size_t dev = aml_device(a, name);

	aml_name(a, "_HID");
	aml_eisaid(a, eisaid);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	return dev;
}

static void dsdt_com1(struct aml *a)
{
	uint8_t res[DSDT_RES_MAX];
	struct aml r;
	size_t dev;

	dev = dsdt_pnp_device(a, "COM1", "PNP0501");
	aml_init(&r, res, sizeof(res));
	aml_io(&r, LAYOUT_COM1_PORT, LAYOUT_COM1_PORT, 0, LAYOUT_COM1_PORTS);
	aml_irqnoflags(&r, LAYOUT_SERIAL_GSI);
	dsdt_crs(a, &r);
	aml_end(a, dev);
}

/*
 * The power button of a hardware-reduced platform (ACPI 6.3, 4.8.2.2.1.2): a
 * control-method button whose notification comes from a Generic Event Device
 * (5.6.9). A GED with one interrupt needs no status register: _EVT is only
 * ever called for that interrupt. 0x80 is the button's "pressed" (4.8.2.2.1.3).
 */
static void dsdt_power_button(struct aml *a)
{
	uint8_t res[DSDT_RES_MAX];
	struct aml r;
	size_t dev, method;

	dev = dsdt_pnp_device(a, "PWRB", "PNP0C0C");
	aml_end(a, dev);

	dev = aml_device(a, "GED0");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_init(&r, res, sizeof(res));
	aml_interrupt(&r, AML_IRQ_CONSUMER | AML_IRQ_EDGE, LAYOUT_GED_GSI);
	dsdt_crs(a, &r);
	method = aml_method(a, "_EVT", 1);
	aml_notify(a, "\\_SB_.PWRB", 0x80);
	aml_end(a, method);
	aml_end(a, dev);
}

int dsdt_build(struct aml *a, const struct acpi_config *cfg)
{
	size_t sb, pkg;

	if (cfg->ndevices > LAYOUT_MAX_DEVICES) {
		if (!a->err)
			a->err = -EINVAL;
		return a->err;
	}
	sb = aml_scope(a, "\\_SB_");
	for (unsigned int i = 0; i < cfg->ndevices; i++)
		dsdt_mmio(a, cfg, i);
	if (cfg->serial)
		dsdt_com1(a);
	if (cfg->power_button)
		dsdt_power_button(a);
	aml_end(a, sb);

	aml_name(a, "\\_S5_");
	pkg = aml_package(a, 4);
	aml_integer(a, LAYOUT_ACPI_S5_TYPE); /* SLP_TYPa */
	aml_integer(a, 0); /* SLP_TYPb */
	aml_integer(a, 0); /* reserved */
	aml_integer(a, 0);
	aml_end(a, pkg);
	return a->err;
}
