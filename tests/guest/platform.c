/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Platform discovery from the firmware tables: the CPUs from the MP table
 * (Intel MP spec 1.4) or else the ACPI MADT, and the FADT's reset register.
 * Every table is checked (signature, length inside the map, checksum) before
 * it is believed.
 */
#include "guest.h"

struct platform plat;

static uint8_t sum8(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *b++);
	return s;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static void add_cpu(uint32_t apic_id)
{
	unsigned int i;

	for (i = 0; i < plat.ncpus; i++)
		if (plat.apic_id[i] == apic_id)
			return;
	if (plat.ncpus < MAX_CPUS)
		plat.apic_id[plat.ncpus++] = apic_id;
}

/* scan: the first 16-byte aligned sig in [start, start + len) whose len16 bytes sum to 0. */
static uint64_t scan(uint64_t start, uint64_t len, const char *sig, size_t siglen, size_t sumlen)
{
	uint64_t a;

	if (!phys_mapped(start, len))
		return 0;
	for (a = start; a + sumlen <= start + len; a += 16)
		if (!memcmp(phys(a), sig, siglen) && sum8(phys(a), sumlen) == 0)
			return a;
	return 0;
}

static uint64_t ebda_base(void)
{
	uint64_t ebda = (uint64_t)*(const uint16_t *)phys(0x40e) << 4;

	return ebda >= 0x80000 && ebda < 0xa0000 ? ebda : 0;
}

/* ---- MP table ---- */

/* mp_parse: count the enabled CPUs of the MP table, adding them to plat when add is set. */
static unsigned int mp_parse(uint64_t fp_addr, int add)
{
	const uint8_t *fp = phys(fp_addr), *t, *e, *end;
	uint64_t cfg = rd32(fp + 4);
	uint16_t len;
	unsigned int found = 0;

	if (!cfg || !phys_mapped(cfg, 44))
		return 0;
	t = phys(cfg);
	len = rd16(t + 4);
	if (memcmp(t, "PCMP", 4) || len < 44 || !phys_mapped(cfg, len) || sum8(t, len))
		return 0;
	end = t + len;
	/* Walk by the table length, as Linux does: qboot leaves the entry count at 0. */
	for (e = t + 44; e < end;) {
		if (e[0] == 0) { /* processor, 20 bytes */
			if (e + 20 > end)
				break;
			if (e[3] & 1) { /* enabled */
				if (add)
					add_cpu(e[1]);
				found++;
			}
			e += 20;
		} else if (e[0] <= 4) { /* bus, IOAPIC, I/O and local interrupt: 8 bytes */
			e += 8;
		} else {
			break;
		}
	}
	return found;
}

static uint64_t mp_find(void)
{
	uint64_t a = 0, ebda = ebda_base();

	if (ebda)
		a = scan(ebda, 1024, "_MP_", 4, 16);
	if (!a)
		a = scan(0x9fc00, 1024, "_MP_", 4, 16);
	if (!a)
		a = scan(0xf0000, 0x10000, "_MP_", 4, 16);
	return a;
}

/* ---- ACPI ---- */

static uint64_t rsdp_find(void)
{
	uint64_t a = boot.rsdp_addr, ebda = ebda_base();

	if (a && phys_mapped(a, 20) && !memcmp(phys(a), "RSD PTR ", 8) && sum8(phys(a), 20) == 0)
		return a;
	a = 0;
	if (ebda)
		a = scan(ebda, 1024, "RSD PTR ", 8, 20);
	if (!a)
		a = scan(0xe0000, 0x20000, "RSD PTR ", 8, 20);
	return a;
}

/* sdt_ok: a table with a sane header at addr; returns its length, or 0. */
static uint32_t sdt_ok(uint64_t addr)
{
	uint32_t len;

	if (!addr || !phys_mapped(addr, 36))
		return 0;
	len = rd32((const uint8_t *)phys(addr) + 4);
	if (len < 36 || !phys_mapped(addr, len) || sum8(phys(addr), len))
		return 0;
	return len;
}

/* acpi_find: the table with signature sig, through the XSDT or RSDT of the RSDP at rsdp. */
static uint64_t acpi_find(uint64_t rsdp, const char *sig)
{
	const uint8_t *r = phys(rsdp);
	uint64_t root;
	uint32_t len, i, esize;

	if (r[15] >= 2 && phys_mapped(rsdp, 36) && rd64(r + 24)) {
		root = rd64(r + 24);
		esize = 8;
	} else {
		root = rd32(r + 16);
		esize = 4;
	}
	len = sdt_ok(root);
	if (!len)
		return 0;
	for (i = 36; i + esize <= len; i += esize) {
		const uint8_t *p = (const uint8_t *)phys(root) + i;
		uint64_t t = esize == 8 ? rd64(p) : rd32(p);

		if (sdt_ok(t) && !memcmp(phys(t), sig, 4))
			return t;
	}
	return 0;
}

/* madt_parse: count the enabled CPUs of the MADT, adding them to plat when add is set. */
static unsigned int madt_parse(uint64_t madt, int add)
{
	const uint8_t *t = phys(madt), *e;
	uint32_t len = rd32(t + 4);
	unsigned int found = 0;

	for (e = t + 44; e + 2 <= t + len && e[1] >= 2 && e + e[1] <= t + len; e += e[1]) {
		if (e[0] == 0 && e[1] >= 8 && (rd32(e + 4) & 1)) { /* local APIC, enabled */
			if (add)
				add_cpu(e[3]);
			found++;
		} else if (e[0] == 9 && e[1] >= 16 && (rd32(e + 8) & 1)) { /* x2APIC, enabled */
			if (add)
				add_cpu(rd32(e + 4));
			found++;
		}
	}
	return found;
}

static void gas_parse(const uint8_t *g, struct acpi_gas *out)
{
	out->space = g[0];
	out->width = g[1];
	out->offset = g[2];
	out->access = g[3];
	out->addr = rd64(g + 4);
}

static void fadt_parse(uint64_t fadt)
{
	const uint8_t *t = phys(fadt);
	uint32_t len = rd32(t + 4);

	/* SLEEP_CONTROL_REG at 244 (ACPI 5.0 and later) */
	if (len >= 256) {
		gas_parse(t + 244, &plat.sleep_reg);
		plat.has_sleep_reg = plat.sleep_reg.addr != 0;
	}
	if (len < 129 || !(rd32(t + 112) & (1u << 10))) /* RESET_REG_SUP */
		return;
	plat.reset_reg.space = t[116];
	plat.reset_reg.width = t[117];
	plat.reset_reg.offset = t[118];
	plat.reset_reg.access = t[119];
	plat.reset_reg.addr = rd64(t + 120);
	plat.reset_value = t[128];
	plat.has_reset_reg = plat.reset_reg.addr != 0;
}

void platform_discover(void)
{
	static int done;
	size_t len;
	const char *pref = param_get("bulkhead.cpus-from", &len);
	int acpi_first = pref && len == 4 && !strncmp(pref, "acpi", 4);

	if (done)
		return;
	done = 1;
	plat.cpu_source = "none";
	plat.mptable_addr = mp_find();
	if (plat.mptable_addr)
		plat.mp_cpus = mp_parse(plat.mptable_addr, 0);
	plat.rsdp_addr = rsdp_find();
	if (plat.rsdp_addr) {
		plat.madt_addr = acpi_find(plat.rsdp_addr, "APIC");
		plat.fadt_addr = acpi_find(plat.rsdp_addr, "FACP");
		if (plat.fadt_addr)
			fadt_parse(plat.fadt_addr);
	}
	if (plat.madt_addr)
		plat.madt_cpus = madt_parse(plat.madt_addr, 0);
	/* The MP table first, unless bulkhead.cpus-from=acpi asks for the MADT. */
	if (plat.mp_cpus && !(acpi_first && plat.madt_cpus)) {
		mp_parse(plat.mptable_addr, 1);
		plat.cpu_source = "mptable";
	} else if (plat.madt_cpus) {
		madt_parse(plat.madt_addr, 1);
		plat.cpu_source = "acpi";
	}
	if (!plat.ncpus) {
		plat.apic_id[0] = lapic_id();
		plat.ncpus = 1;
	}
}
