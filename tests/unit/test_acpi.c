/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * acpi/: the tables acpi_build() writes into memfd guest memory, read back at
 * the byte offsets the ACPI 6.3 specification gives (not through the
 * module's own structs): RSDP (found by the legacy 16-byte scan), XSDT, FADT,
 * MADT and DSDT, every length and checksum; the DSDT, FADT and MADT decoded
 * back by ACPICA's iasl; hostile configurations; and the AML emitter's
 * encodings and bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../acpi/acpi.h"
#include "../../acpi/acpi_int.h"
#include "../../common/log.h"
#include "../../mem/mem.h"

extern char **environ;

#define GUEST_RAM MiB(64)
#define AREA_START LAYOUT_ACPI_ADDR
#define AREA_END (LAYOUT_ACPI_ADDR + LAYOUT_ACPI_SIZE)
#define SCAN_START 0xe0000ULL /* Linux's legacy RSDP scan: 0xe0000-0xfffff */
#define SCAN_END 0x100000ULL
#define POISON 0xa5
#define POISON_START 0xd0000ULL /* poisoned before each build: the ACPI area and around it */

/* ACPI 6.3 byte offsets. */
#define HDR_LEN 36
#define FADT_LEN 276
#define FADT_DSDT 40
#define FADT_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_MINOR 131
#define FADT_X_DSDT 140
#define FADT_SLEEP_CTL 244
#define FADT_SLEEP_STS 256
#define FADT_HV_VENDOR 268
#define FADT_HW_REDUCED (1u << 20)
#define FADT_RESET_REG_SUP (1u << 10)
#define BOOT_8042 (1u << 1)
#define BOOT_NO_VGA (1u << 2)
#define BOOT_NO_CMOS_RTC (1u << 5)

struct guest {
	struct guest_mem mem;
	char tmpdir[64]; /* for iasl, made on first use, removed by teardown even after a failure */
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static int guest_setup(void **state)
{
	struct guest *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	assert_int_equal(mem_layout(&g->mem, GUEST_RAM), 0);
	assert_int_equal(mem_create(&g->mem, "test-acpi"), 0);
	assert_int_equal(mem_map(&g->mem), 0);
	*state = g;
	return 0;
}

static void tmpdir_remove(struct guest *g);

static int guest_teardown(void **state)
{
	struct guest *g = *state;

	tmpdir_remove(g);
	mem_close(&g->mem);
	free(g);
	return 0;
}

static uint8_t *guest_bytes(const struct guest *g, uint64_t gpa, uint64_t len)
{
	uint8_t *p = mem_ptr(&g->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static void poison(const struct guest *g)
{
	memset(guest_bytes(g, POISON_START, SCAN_END - POISON_START), POISON, SCAN_END - POISON_START);
}

/* Nothing outside [start, end) of the poisoned range was written. */
static void assert_poison_outside(const struct guest *g, uint64_t start, uint64_t end)
{
	const uint8_t *p = guest_bytes(g, POISON_START, SCAN_END - POISON_START);

	for (uint64_t a = POISON_START; a < SCAN_END; a++) {
		if (a >= start && a < end)
			continue;
		if (p[a - POISON_START] != POISON)
			fail_msg("byte at %#llx written", (unsigned long long)a);
	}
}

/* A table at gpa with signature sig: inside the ACPI area, sane length, bytes summing to 0. */
static const uint8_t *check_table(const struct guest *g, uint64_t gpa, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	if (gpa < AREA_START || gpa + HDR_LEN > AREA_END)
		fail_msg("%s at %#llx: outside the ACPI area", sig, (unsigned long long)gpa);
	t = guest_bytes(g, gpa, HDR_LEN);
	if (memcmp(t, sig, 4) != 0)
		fail_msg("table at %#llx: signature %.4s, want %s", (unsigned long long)gpa, (const char *)t, sig);
	len = le32(t + 4);
	if (len < HDR_LEN || gpa + len > AREA_END)
		fail_msg("%s: length %u", sig, len);
	t = guest_bytes(g, gpa, len);
	if (sum8(t, len) != 0)
		fail_msg("%s: checksum: bytes sum to %#x", sig, sum8(t, len));
	assert_memory_equal(t + 10, "BLKHD ", 6);
	return t;
}

static void assert_io_gas(const uint8_t *gas, uint16_t port)
{
	assert_int_equal(gas[0], 1); /* System I/O */
	assert_int_equal(gas[1], 8); /* bit width */
	assert_int_equal(gas[2], 0); /* bit offset */
	assert_int_equal(gas[3], 1); /* byte access */
	assert_int_equal(le64(gas + 4), port);
}

/* The addresses the XSDT lists, by signature. */
struct tables {
	uint64_t rsdp, xsdt, fadt, madt, dsdt;
};

static void check_rsdp_xsdt(const struct guest *g, uint64_t rsdp, struct tables *tb)
{
	const uint8_t *scan = guest_bytes(g, SCAN_START, SCAN_END - SCAN_START);
	const uint8_t *p, *x;
	uint64_t found = 0;
	uint32_t n;

	/* what Linux's legacy scan finds first on 16-byte boundaries */
	for (uint64_t a = SCAN_START; a < SCAN_END; a += 16) {
		const uint8_t *c = scan + (a - SCAN_START);

		if (memcmp(c, "RSD PTR ", 8) == 0 && sum8(c, 20) == 0) {
			found = a;
			break;
		}
	}
	assert_int_equal(found, rsdp);
	assert_int_equal(rsdp % 16, 0);
	assert_true(rsdp >= AREA_START && rsdp + 36 <= AREA_END);
	p = guest_bytes(g, rsdp, 36);
	assert_int_equal(sum8(p, 20), 0);
	assert_int_equal(p[15], 2); /* revision */
	assert_int_equal(le32(p + 20), 36); /* length */
	assert_int_equal(sum8(p, 36), 0); /* extended checksum */
	assert_memory_equal(p + 9, "BLKHD ", 6);

	memset(tb, 0, sizeof(*tb));
	tb->rsdp = rsdp;
	tb->xsdt = le64(p + 24);
	x = check_table(g, tb->xsdt, "XSDT");
	n = le32(x + 4);
	assert_int_equal((n - HDR_LEN) % 8, 0);
	assert_int_equal((n - HDR_LEN) / 8, 2); /* FADT and MADT, nothing else */
	for (uint32_t off = HDR_LEN; off < n; off += 8) {
		uint64_t a = le64(x + off);
		const uint8_t *t = guest_bytes(g, a, 4);

		if (memcmp(t, "FACP", 4) == 0 && !tb->fadt)
			tb->fadt = a;
		else if (memcmp(t, "APIC", 4) == 0 && !tb->madt)
			tb->madt = a;
		else
			fail_msg("XSDT entry %#llx: unexpected %.4s", (unsigned long long)a, (const char *)t);
	}
	assert_true(tb->fadt && tb->madt);
}

static void check_fadt(const struct guest *g, struct tables *tb)
{
	const uint8_t *f = check_table(g, tb->fadt, "FACP");
	uint16_t boot;

	assert_int_equal(le32(f + 4), FADT_LEN);
	assert_int_equal(f[8], 6); /* revision */
	assert_int_equal(f[FADT_MINOR] & 0x0f, 3);
	assert_true(le32(f + FADT_FLAGS) & FADT_HW_REDUCED);
	assert_true(le32(f + FADT_FLAGS) & FADT_RESET_REG_SUP);
	boot = le16(f + FADT_BOOT_ARCH);
	assert_true(boot & BOOT_NO_VGA);
	assert_true(boot & BOOT_NO_CMOS_RTC);
	assert_false(boot & BOOT_8042);
	assert_io_gas(f + FADT_RESET_REG, LAYOUT_ACPI_RESET_PORT);
	assert_int_equal(f[FADT_RESET_VALUE], LAYOUT_ACPI_RESET_VALUE);
	assert_io_gas(f + FADT_SLEEP_CTL, LAYOUT_ACPI_SLEEP_CTL_PORT);
	assert_io_gas(f + FADT_SLEEP_STS, LAYOUT_ACPI_SLEEP_STS_PORT);
	assert_memory_equal(f + FADT_HV_VENDOR, "BLKHEAD", 8);
	tb->dsdt = le64(f + FADT_X_DSDT);
	assert_int_equal(le32(f + FADT_DSDT), tb->dsdt);
	check_table(g, tb->dsdt, "DSDT");
}

static void check_madt(const struct guest *g, const struct tables *tb, unsigned int nvcpus)
{
	const uint8_t *m = check_table(g, tb->madt, "APIC");
	uint32_t len = le32(m + 4);
	unsigned int nlapic = 0, nioapic = 0, niso = 0, nnmi = 0;

	assert_int_equal(le32(m + 36), LAYOUT_LAPIC_ADDR);
	assert_int_equal(le32(m + 40), 0); /* no PC-AT 8259s */
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;

		assert_true(off + 2 <= len);
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0: /* Processor Local APIC */
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], nlapic); /* processor uid */
			assert_int_equal(e[3], nlapic); /* APIC id */
			assert_int_equal(le32(e + 4) & 1, 1);
			nlapic++;
			break;
		case 1: /* I/O APIC */
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], nvcpus);
			assert_int_equal(le32(e + 4), LAYOUT_IOAPIC_ADDR);
			assert_int_equal(le32(e + 8), 0);
			nioapic++;
			break;
		case 2: /* Interrupt Source Override */
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0); /* ISA */
			assert_int_equal(e[3], 0); /* IRQ 0 */
			assert_int_equal(le32(e + 4), 2); /* GSI 2 */
			niso++;
			break;
		case 4: /* Local APIC NMI */
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(e[5], 1); /* LINT1 */
			nnmi++;
			break;
		default:
			fail_msg("MADT: unexpected entry type %u at %u", e[0], off);
		}
		off += e[1];
	}
	assert_int_equal(nlapic, nvcpus);
	assert_int_equal(nioapic, 1);
	assert_int_equal(niso, 1);
	assert_int_equal(nnmi, 1);
}

/* Build cfg into fresh poison, check every table; tb says where they are. */
static void build_and_check(const struct guest *g, const struct acpi_config *cfg, struct tables *tb)
{
	uint64_t rsdp = 0;

	poison(g);
	assert_int_equal(acpi_build(&g->mem, cfg, &rsdp), 0);
	assert_poison_outside(g, AREA_START, AREA_END);
	check_rsdp_xsdt(g, rsdp, tb);
	check_fadt(g, tb);
	check_madt(g, tb, cfg->nvcpus);
}

/* --- iasl ------------------------------------------------------------- */

static const char *tmpdir(struct guest *g)
{
	if (!g->tmpdir[0]) {
		snprintf(g->tmpdir, sizeof(g->tmpdir), "/tmp/bh-test-acpi-XXXXXX");
		if (!mkdtemp(g->tmpdir)) {
			g->tmpdir[0] = '\0';
			fail_msg("mkdtemp: %s", strerror(errno));
		}
	}
	return g->tmpdir;
}

static void tmpdir_remove(struct guest *g)
{
	DIR *dir;
	struct dirent *e;

	if (!g->tmpdir[0])
		return;
	dir = opendir(g->tmpdir);
	assert_non_null(dir);
	while ((e = readdir(dir))) {
		char p[128];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		assert_true(snprintf(p, sizeof(p), "%s/%s", g->tmpdir, e->d_name) < (int)sizeof(p));
		assert_int_equal(unlink(p), 0);
	}
	closedir(dir);
	assert_int_equal(rmdir(g->tmpdir), 0);
	g->tmpdir[0] = '\0';
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return s;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fail_msg("%s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/*
 * Disassemble the table at gpa with `iasl -d DIR/SIG.dat` (iasl writes
 * DIR/SIG.dsl and identifies the table by its header) and return the .dsl
 * text. A missing iasl fails the test: acpica-tools is a build dependency.
 */
static char *iasl_decode(struct guest *g, uint64_t gpa, const char *sig)
{
	const uint8_t *t = guest_bytes(g, gpa, HDR_LEN);
	const char *dir = tmpdir(g);
	char dat[128], dsl[128], log[128];
	char *argv[] = { "iasl", "-d", dat, NULL };
	posix_spawn_file_actions_t fa;
	char *out, *msgs;
	int r, status;
	pid_t pid;

	assert_true(snprintf(dat, sizeof(dat), "%s/%s.dat", dir, sig) < (int)sizeof(dat));
	assert_true(snprintf(dsl, sizeof(dsl), "%s/%s.dsl", dir, sig) < (int)sizeof(dsl));
	assert_true(snprintf(log, sizeof(log), "%s/%s.log", dir, sig) < (int)sizeof(log));
	write_file(dat, guest_bytes(g, gpa, le32(t + 4)), le32(t + 4));

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	assert_int_equal(posix_spawn_file_actions_adddup2(&fa, 1, 2), 0);
	r = posix_spawnp(&pid, "iasl", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r == ENOENT)
		fail_msg("iasl not found in PATH: install acpica-tools (Debian package acpica-tools) to run this test");
	if (r != 0)
		fail_msg("posix_spawnp iasl: %s", strerror(r));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	msgs = read_text(log);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fail_msg("iasl could not be run (install acpica-tools): %s", msgs);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("iasl -d %s failed (status %#x):\n%s", sig, (unsigned int)status, msgs);
	/* iasl exits 0 even on a bad checksum or a truncated table: read what it said */
	if (strstr(msgs, "arning") || strstr(msgs, "rror"))
		fail_msg("iasl -d %s complained:\n%s", sig, msgs);
	if (!strstr(msgs, "decoded") && !strstr(msgs, "Disassembly completed"))
		fail_msg("iasl -d %s did not decode the table:\n%s", sig, msgs);
	free(msgs);

	out = read_text(dsl);
	if (strstr(out, "****") || strstr(out, "Incorrect") || strstr(out, "Invalid") || strstr(out, "Unknown"))
		fail_msg("iasl -d %s flagged the table:\n%s", sig, out);
	return out;
}

static unsigned int count_substr(const char *s, const char *sub)
{
	unsigned int n = 0;

	for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
		n++;
	return n;
}

static void assert_contains(const char *text, const char *what, const char *where)
{
	if (!strstr(text, what))
		fail_msg("%s: no \"%s\" in:\n%s", where, what, text);
}

/* The text of `Device (name)` up to the next Device or the end; caller frees. */
static char *dsl_device(const char *dsl, const char *name)
{
	char head[32];
	const char *s, *e;
	char *out;

	snprintf(head, sizeof(head), "Device (%s)", name);
	s = strstr(dsl, head);
	if (!s) {
		fail_msg("no %s in:\n%s", head, dsl);
		return NULL;
	}
	e = strstr(s + strlen(head), "Device (");
	if (!e)
		e = s + strlen(s);
	out = strndup(s, (size_t)(e - s));
	assert_non_null(out);
	return out;
}

static unsigned int count_gsi(const struct acpi_config *cfg, uint32_t gsi)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < cfg->ndevices; i++)
		n += cfg->devices[i].gsi == gsi;
	return n;
}

static void check_dsdt_text(const char *dsl, const struct acpi_config *cfg)
{
	char want[96];

	assert_contains(dsl, "Scope (\\_SB)", "DSDT");
	assert_int_equal(count_substr(dsl, "\"LNRO0005\""), cfg->ndevices);
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct acpi_mmio_device *d = &cfg->devices[i];
		char name[16], *dev;

		snprintf(name, sizeof(name), "VR%02u", i);
		dev = dsl_device(dsl, name);
		assert_contains(dev, "Name (_HID, \"LNRO0005\")", name);
		if (i == 0)
			snprintf(want, sizeof(want), "Name (_UID, Zero)");
		else if (i == 1)
			snprintf(want, sizeof(want), "Name (_UID, One)");
		else
			snprintf(want, sizeof(want), "Name (_UID, 0x%02X)", i);
		assert_contains(dev, want, name);
		snprintf(want, sizeof(want), "Memory32Fixed (ReadWrite,\n                    0x%08llX,",
			 (unsigned long long)d->base);
		assert_contains(dev, want, name);
		snprintf(want, sizeof(want), "0x%08X,         // Address Length", d->size);
		assert_contains(dev, want, name);
		snprintf(want, sizeof(want), "Interrupt (ResourceConsumer, Edge, ActiveHigh, %s",
			 count_gsi(cfg, d->gsi) > 1 ? "Shared" : "Exclusive");
		assert_contains(dev, want, name);
		snprintf(want, sizeof(want), "{\n                    0x%08X,\n                }", d->gsi);
		assert_contains(dev, want, name);
		free(dev);
	}
	if (cfg->serial) {
		char *com1 = dsl_device(dsl, "COM1");

		assert_contains(com1, "EisaId (\"PNP0501\")", "COM1");
		assert_contains(com1, "Name (_UID, Zero)", "COM1");
		assert_contains(com1, "IO (Decode16,\n                    0x03F8,", "COM1");
		assert_contains(com1, "0x08,               // Length", "COM1");
		assert_contains(com1, "IRQNoFlags ()\n                    {4}", "COM1");
		free(com1);
	} else {
		assert_null(strstr(dsl, "COM1"));
		assert_null(strstr(dsl, "PNP0501"));
	}
	if (cfg->power_button) {
		char *pwrb = dsl_device(dsl, "PWRB"), *ged = dsl_device(dsl, "GED0");

		assert_contains(pwrb, "Name (_HID, EisaId (\"PNP0C0C\")", "PWRB");
		assert_contains(ged, "Name (_HID, \"ACPI0013\"", "GED0");
		assert_contains(ged, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive", "GED0");
		snprintf(want, sizeof(want), "{\n                    0x%08X,\n                }",
			 LAYOUT_GED_GSI);
		assert_contains(ged, want, "GED0");
		assert_contains(ged, "Method (_EVT, 1, NotSerialized)", "GED0");
		assert_contains(ged, "Notify (\\_SB.PWRB, 0x80)", "GED0");
		free(pwrb);
		free(ged);
	} else {
		assert_null(strstr(dsl, "PNP0C0C"));
		assert_null(strstr(dsl, "ACPI0013"));
	}
	assert_contains(dsl, "Name (\\_S5, Package (0x04)", "DSDT");
	snprintf(want, sizeof(want), "{\n        0x%02X, \n        Zero, \n        Zero, \n        Zero\n    }",
		 LAYOUT_ACPI_S5_TYPE);
	assert_contains(dsl, want, "DSDT \\_S5");
}

/* --- tests ------------------------------------------------------------ */

static const struct acpi_mmio_device three[] = {
	{ LAYOUT_VIRTIO_MMIO_BASE, LAYOUT_VIRTIO_MMIO_SIZE, LAYOUT_VIRTIO_GSI_BASE },
	{ LAYOUT_VIRTIO_MMIO_BASE + 0x1000, LAYOUT_VIRTIO_MMIO_SIZE, LAYOUT_VIRTIO_GSI_BASE + 1 },
	{ LAYOUT_VIRTIO_MMIO_BASE + 0x2000, LAYOUT_VIRTIO_MMIO_SIZE, LAYOUT_VIRTIO_GSI_BASE + 2 },
};

static void test_tables_vcpus(void **state)
{
	static const unsigned int nvcpus[] = { 1, 2, 8, 254 };
	struct guest *g = *state;

	for (size_t i = 0; i < nitems(nvcpus); i++) {
		struct acpi_config cfg = {
			.nvcpus = nvcpus[i], .devices = three, .ndevices = nitems(three), .serial = 1
		};
		struct tables tb;

		build_and_check(g, &cfg, &tb);
	}
}

/* The fixed places the report and the loader rely on. */
static void test_layout_offsets(void **state)
{
	struct guest *g = *state;
	struct acpi_config cfg = { .nvcpus = 254, .devices = three, .ndevices = nitems(three), .serial = 1 };
	struct tables tb;

	build_and_check(g, &cfg, &tb);
	assert_int_equal(tb.rsdp, LAYOUT_ACPI_ADDR + 0x0000);
	assert_int_equal(tb.xsdt, LAYOUT_ACPI_ADDR + 0x0040);
	assert_int_equal(tb.fadt, LAYOUT_ACPI_ADDR + 0x0080);
	assert_int_equal(tb.madt, LAYOUT_ACPI_ADDR + 0x0200);
	assert_int_equal(tb.dsdt, LAYOUT_ACPI_ADDR + 0x1000);
	/* 254 vCPUs: the largest MADT ends before the DSDT */
	assert_int_equal(le32(guest_bytes(g, tb.madt + 4, 4)), 44 + 254 * 8 + 12 + 10 + 6);
}

static void test_iasl_dsdt(void **state)
{
	struct guest *g = *state;
	static const struct acpi_mmio_device shared[] = {
		{ 0xc0000000, 0x1000, 1 }, /* the lowest window, GSI 1 */
		{ 0xd0000000, 0x200, 23 }, /* the last pin */
		{ 0xd0001000, 0x1000, 23 }, /* the same GSI: Shared */
		{ 0xfebff000, 0x1000, 3 }, /* just below the IOAPIC */
		{ 0xff000000, 0x1000000, 5 }, /* up to 4 GiB exactly */
	};
	static const struct {
		const struct acpi_mmio_device *d;
		unsigned int n;
		int serial, power_button;
	} cases[] = {
		{ three, nitems(three), 1, 0 },
		{ three, nitems(three), 0, 0 },
		{ shared, nitems(shared), 1, 0 },
		{ NULL, 0, 1, 0 },
		{ NULL, 0, 0, 0 },
		{ three, nitems(three), 1, 1 },
		{ NULL, 0, 0, 1 },
	};

	for (size_t i = 0; i < nitems(cases); i++) {
		struct acpi_config cfg = {
			.nvcpus = 2, .devices = cases[i].d, .ndevices = cases[i].n, .serial = cases[i].serial,
			.power_button = cases[i].power_button
		};
		struct tables tb;
		char *dsl;

		build_and_check(g, &cfg, &tb);
		dsl = iasl_decode(g, tb.dsdt, "DSDT");
		check_dsdt_text(dsl, &cfg);
		free(dsl);
	}
}

static void test_iasl_data_tables(void **state)
{
	static const unsigned int nvcpus[] = { 1, 8 };
	struct guest *g = *state;

	for (size_t i = 0; i < nitems(nvcpus); i++) {
		struct acpi_config cfg = {
			.nvcpus = nvcpus[i], .devices = three, .ndevices = nitems(three), .serial = 1
		};
		struct tables tb;
		char *fadt, *madt, *xsdt, want[80];

		build_and_check(g, &cfg, &tb);
		fadt = iasl_decode(g, tb.fadt, "FACP");
		assert_contains(fadt, "Hardware Reduced (V5) : 1", "FADT");
		assert_contains(fadt, "Reset Register Supported (V2) : 1", "FADT");
		assert_contains(fadt, "CMOS RTC Not Present (V5) : 1", "FADT");
		assert_contains(fadt, "FADT Minor Revision : 03", "FADT");
		snprintf(want, sizeof(want), "DSDT Address : %016llX", (unsigned long long)tb.dsdt);
		assert_contains(fadt, want, "FADT");
		assert_contains(fadt, "Address : 0000000000000600", "FADT");
		assert_contains(fadt, "Address : 0000000000000601", "FADT");
		assert_contains(fadt, "Address : 0000000000000602", "FADT");
		madt = iasl_decode(g, tb.madt, "APIC");
		assert_int_equal(count_substr(madt, "[Processor Local APIC]"), nvcpus[i]);
		snprintf(want, sizeof(want), "I/O Apic ID : %02X", nvcpus[i]);
		assert_contains(madt, want, "MADT");
		assert_contains(madt, "[Interrupt Source Override]", "MADT");
		assert_contains(madt, "[Local APIC NMI]", "MADT");
		xsdt = iasl_decode(g, tb.xsdt, "XSDT");
		assert_int_equal(count_substr(xsdt, "ACPI Table Address"), 2);
		free(fadt);
		free(madt);
		free(xsdt);
	}
}

static void test_zero_devices(void **state)
{
	struct guest *g = *state;
	struct acpi_config cfg = { .nvcpus = 1, .devices = NULL, .ndevices = 0, .serial = 0 };
	struct tables tb;

	build_and_check(g, &cfg, &tb);
}

static void test_max_config(void **state)
{
	struct guest *g = *state;
	struct acpi_mmio_device devs[LAYOUT_MAX_DEVICES];
	struct acpi_config cfg = { .nvcpus = 254, .devices = devs, .ndevices = nitems(devs), .serial = 1 };
	struct tables tb;
	char *dsl;

	/* more windows than free pins: GSIs are shared, and declared so */
	for (unsigned int i = 0; i < nitems(devs); i++) {
		devs[i].base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE;
		devs[i].size = LAYOUT_VIRTIO_MMIO_SIZE;
		devs[i].gsi = LAYOUT_VIRTIO_GSI_BASE + i % (LAYOUT_IOAPIC_PINS - LAYOUT_VIRTIO_GSI_BASE);
	}
	build_and_check(g, &cfg, &tb);
	dsl = iasl_decode(g, tb.dsdt, "DSDT");
	check_dsdt_text(dsl, &cfg);
	free(dsl);
}

static void test_hostile(void **state)
{
	struct guest *g = *state;
	static const struct {
		const char *what;
		unsigned int nvcpus;
		unsigned int ndev;
		struct acpi_mmio_device dev[2];
	} cases[] = {
		{ "0 vCPUs", 0, 0, { { 0 } } },
		{ "255 vCPUs", 255, 0, { { 0 } } },
		{ "UINT_MAX vCPUs", UINT32_MAX, 0, { { 0 } } },
		{ "below 3 GiB", 1, 1, { { 0xbffff000, 0x1000, 5 } } },
		{ "at 0", 1, 1, { { 0, 0x1000, 5 } } },
		{ "straddles 3 GiB", 1, 1, { { 0xbffff000, 0x2000, 5 } } },
		{ "crosses 4 GiB", 1, 1, { { 0xfffff000, 0x2000, 5 } } },
		{ "at 4 GiB", 1, 1, { { 0x100000000ULL, 0x1000, 5 } } },
		{ "wraps", 1, 1, { { UINT64_MAX - 0xfff, 0x1000, 5 } } },
		{ "size 0", 1, 1, { { 0xd0000000, 0, 5 } } },
		{ "size 4 GiB - 1 from 3 GiB", 1, 1, { { 0xc0000000, UINT32_MAX, 5 } } },
		{ "on the IOAPIC", 1, 1, { { LAYOUT_IOAPIC_ADDR, 0x1000, 5 } } },
		{ "on the LAPIC", 1, 1, { { LAYOUT_LAPIC_ADDR - 0x800, 0x1000, 5 } } },
		{ "on the KVM TSS", 1, 1, { { LAYOUT_KVM_TSS_ADDR + 0x1000, 0x1000, 5 } } },
		{ "gsi 0", 1, 1, { { 0xd0000000, 0x1000, 0 } } },
		{ "gsi 2", 1, 1, { { 0xd0000000, 0x1000, 2 } } },
		{ "gsi 4", 1, 1, { { 0xd0000000, 0x1000, 4 } } },
		{ "gsi 24", 1, 1, { { 0xd0000000, 0x1000, 24 } } },
		{ "gsi UINT32_MAX", 1, 1, { { 0xd0000000, 0x1000, UINT32_MAX } } },
		{ "same window", 1, 2, { { 0xd0000000, 0x1000, 5 }, { 0xd0000000, 0x1000, 6 } } },
		{ "overlap", 1, 2, { { 0xd0000000, 0x1000, 5 }, { 0xd0000800, 0x1000, 6 } } },
		{ "overlap below", 1, 2, { { 0xd0000800, 0x1000, 5 }, { 0xd0000000, 0x1000, 6 } } },
		{ "inside", 1, 2, { { 0xd0000000, 0x10000, 5 }, { 0xd0004000, 0x1000, 6 } } },
		{ "second bad", 1, 2, { { 0xd0000000, 0x1000, 5 }, { 0xd0001000, 0x1000, 2 } } },
	};
	struct acpi_mmio_device many[LAYOUT_MAX_DEVICES + 1];

	for (size_t i = 0; i < nitems(cases); i++) {
		struct acpi_config cfg = {
			.nvcpus = cases[i].nvcpus, .devices = cases[i].dev, .ndevices = cases[i].ndev, .serial = 1
		};
		uint64_t rsdp = 0x1234;
		int r;

		poison(g);
		r = acpi_build(&g->mem, &cfg, &rsdp);
		if (r != -EINVAL)
			fail_msg("%s: %d, want -EINVAL", cases[i].what, r);
		assert_int_equal(rsdp, 0x1234);
		assert_poison_outside(g, 0, 0); /* nothing written at all */
	}

	for (unsigned int i = 0; i < nitems(many); i++) {
		many[i].base = LAYOUT_VIRTIO_MMIO_BASE + i * LAYOUT_VIRTIO_MMIO_SIZE;
		many[i].size = LAYOUT_VIRTIO_MMIO_SIZE;
		many[i].gsi = LAYOUT_VIRTIO_GSI_BASE;
	}
	{
		struct acpi_config cfg = { .nvcpus = 1, .devices = many, .ndevices = nitems(many), .serial = 0 };
		struct acpi_config nodev = { .nvcpus = 1, .devices = NULL, .ndevices = 1, .serial = 0 };
		static const struct acpi_mmio_device on_ged = { 0xd0000000, 0x1000, LAYOUT_GED_GSI };
		struct acpi_config ged = { .nvcpus = 1, .devices = &on_ged, .ndevices = 1, .power_button = 1 };
		uint64_t rsdp = 0;

		poison(g);
		assert_int_equal(acpi_build(&g->mem, &cfg, &rsdp), -EINVAL); /* one too many */
		assert_int_equal(acpi_build(&g->mem, &nodev, &rsdp), -EINVAL);
		assert_int_equal(acpi_build(&g->mem, NULL, &rsdp), -EINVAL);
		assert_int_equal(acpi_build(&g->mem, &ged, &rsdp), -EINVAL); /* the power button's GSI */
		assert_poison_outside(g, 0, 0);
		cfg.ndevices = LAYOUT_MAX_DEVICES; /* the cap itself is fine */
		assert_int_equal(acpi_build(&g->mem, &cfg, &rsdp), 0);
	}
}

/* Guest memory that does not cover the ACPI area, or is not mapped. */
static void test_no_memory(void **state)
{
	struct acpi_config cfg = { .nvcpus = 1, .devices = three, .ndevices = nitems(three), .serial = 1 };
	struct guest_mem small, unmapped;
	uint64_t rsdp = 0;

	(void)state;
	assert_int_equal(mem_layout(&small, KiB(512)), 0);
	assert_int_equal(mem_create(&small, "test-acpi-small"), 0);
	assert_int_equal(mem_map(&small), 0);
	assert_int_equal(acpi_build(&small, &cfg, &rsdp), -EFAULT);
	mem_close(&small);

	assert_int_equal(mem_layout(&unmapped, MiB(2)), 0);
	assert_int_equal(acpi_build(&unmapped, &cfg, &rsdp), -EFAULT);
	assert_int_equal(rsdp, 0);
}

/* --- the AML emitter -------------------------------------------------- */

static void test_aml_pkglen(void **state)
{
	static const struct {
		size_t body;
		size_t n;
		uint8_t enc[4];
	} cases[] = {
		{ 0, 1, { 0x01 } },
		{ 62, 1, { 0x3f } },
		{ 63, 2, { 0x41, 0x04 } }, /* 65 */
		{ 4093, 2, { 0x4f, 0xff } }, /* 4095 */
		{ 4094, 3, { 0x81, 0x00, 0x01 } }, /* 4097 */
		{ 0xfffff - 3, 3, { 0x8f, 0xff, 0xff } },
		{ 0xfffff - 2, 4, { 0xc1, 0x00, 0x00, 0x01 } }, /* 0x100001 */
		{ AML_PKGLEN_MAX - 4, 4, { 0xcf, 0xff, 0xff, 0xff } },
		{ AML_PKGLEN_MAX - 3, 0, { 0 } },
		{ SIZE_MAX, 0, { 0 } },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		uint8_t enc[4] = { 0 };
		size_t n = aml_pkglen(enc, cases[i].body);

		if (n != cases[i].n)
			fail_msg("body %zu: %zu bytes, want %zu", cases[i].body, n, cases[i].n);
		assert_memory_equal(enc, cases[i].enc, n);
	}
}

static void test_aml_terms(void **state)
{
#define T(emit, ...)                                                                                  \
	do {                                                                                          \
		static const uint8_t want[] = { __VA_ARGS__ };                                        \
		uint8_t buf[64];                                                                      \
		struct aml a;                                                                         \
		aml_init(&a, buf, sizeof(buf));                                                       \
		emit;                                                                                 \
		if (a.err || a.len != sizeof(want) || memcmp(buf, want, sizeof(want)) != 0)          \
			fail_msg("%s: err %d, %zu bytes", #emit, a.err, a.len);                       \
	} while (0)
#define BAD(emit)                                                                                     \
	do {                                                                                          \
		uint8_t buf[64];                                                                      \
		struct aml a;                                                                         \
		aml_init(&a, buf, sizeof(buf));                                                       \
		emit;                                                                                 \
		if (a.err != -EINVAL)                                                                 \
			fail_msg("%s: err %d, want -EINVAL", #emit, a.err);                           \
	} while (0)
	(void)state;
	T(aml_integer(&a, 0), 0x00);
	T(aml_integer(&a, 1), 0x01);
	T(aml_integer(&a, 2), 0x0a, 0x02);
	T(aml_integer(&a, 0xff), 0x0a, 0xff);
	T(aml_integer(&a, 0x100), 0x0b, 0x00, 0x01);
	T(aml_integer(&a, 0xffff), 0x0b, 0xff, 0xff);
	T(aml_integer(&a, 0x10000), 0x0c, 0x00, 0x00, 0x01, 0x00);
	T(aml_integer(&a, 0xfec00000), 0x0c, 0x00, 0x00, 0xc0, 0xfe);
	T(aml_integer(&a, 0x100000000ULL), 0x0e, 0, 0, 0, 0, 1, 0, 0, 0);
	T(aml_integer(&a, UINT64_MAX), 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
	T(aml_string(&a, "LNRO0005"), 0x0d, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0);
	T(aml_string(&a, ""), 0x0d, 0);
	T(aml_namestring(&a, "_HID"), '_', 'H', 'I', 'D');
	T(aml_namestring(&a, "\\_SB"), 0x5c, '_', 'S', 'B', '_');
	T(aml_namestring(&a, "\\_SB_.VR00"), 0x5c, 0x2e, '_', 'S', 'B', '_', 'V', 'R', '0', '0');
	T(aml_namestring(&a, "A.B.C"), 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_', 'C', '_', '_', '_');
	T(aml_namestring(&a, "^^FOO"), 0x5e, 0x5e, 'F', 'O', 'O', '_');
	T(aml_namestring(&a, "\\"), 0x5c, 0x00);
	T(aml_namestring(&a, ""), 0x00);
	T(aml_eisaid(&a, "PNP0501"), 0x0c, 0x41, 0xd0, 0x05, 0x01);
	T(aml_eisaid(&a, "PNP0A03"), 0x0c, 0x41, 0xd0, 0x0a, 0x03);
	T(aml_name(&a, "_UID"); aml_integer(&a, 3), 0x08, '_', 'U', 'I', 'D', 0x0a, 0x03);
	T(aml_mem32fixed(&a, 1, 0xd0000000, 0x1000), 0x86, 9, 0, 1, 0, 0, 0, 0xd0, 0, 0x10, 0, 0);
	T(aml_interrupt(&a, AML_IRQ_CONSUMER | AML_IRQ_EDGE, 5), 0x89, 6, 0, 0x03, 1, 5, 0, 0, 0);
	T(aml_io(&a, 0x3f8, 0x3f8, 0, 8), 0x47, 1, 0xf8, 0x03, 0xf8, 0x03, 0, 8);
	T(aml_irqnoflags(&a, 4), 0x22, 0x10, 0x00);
	T(aml_endtag(&a), 0x79, 0);
	/* Scope (\_SB) { Device (VR00) { Name (_UID, Zero) } } */
	T({
		size_t s = aml_scope(&a, "\\_SB_");
		size_t d = aml_device(&a, "VR00");
		aml_name(&a, "_UID");
		aml_integer(&a, 0);
		aml_end(&a, d);
		aml_end(&a, s);
	},
	  0x10, 0x13, 0x5c, '_', 'S', 'B', '_', 0x5b, 0x82, 0x0b, 'V', 'R', '0', '0', 0x08, '_', 'U', 'I', 'D',
	  0x00);
	T({
		size_t p = aml_package(&a, 4);
		aml_integer(&a, 5);
		aml_integer(&a, 0);
		aml_integer(&a, 0);
		aml_integer(&a, 0);
		aml_end(&a, p);
	},
	  0x12, 0x07, 0x04, 0x0a, 0x05, 0x00, 0x00, 0x00);
	T(aml_buffer(&a, "\x79\x00", 2), 0x11, 0x05, 0x0a, 0x02, 0x79, 0x00);

	BAD(aml_string(&a, "caf\xc3\xa9"));
	BAD(aml_namestring(&a, "ABCDE"));
	BAD(aml_namestring(&a, "1ABC"));
	BAD(aml_namestring(&a, "abc"));
	BAD(aml_namestring(&a, "A..B"));
	BAD(aml_namestring(&a, "A."));
	BAD(aml_namestring(&a, ".A"));
	BAD(aml_namestring(&a, "\\^A"));
	BAD(aml_eisaid(&a, "pnp0501"));
	BAD(aml_eisaid(&a, "PNP050"));
	BAD(aml_eisaid(&a, "PNP05011"));
	BAD(aml_eisaid(&a, "PNP050G"));
	BAD(aml_irqnoflags(&a, 16));
	BAD(aml_end(&a, 0)); /* nothing was opened */
#undef T
#undef BAD
}

/* A two-byte PkgLength: the body is moved up, nothing lost. */
static void test_aml_long(void **state)
{
	uint8_t data[100], buf[128];
	struct aml a;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	aml_init(&a, buf, sizeof(buf));
	aml_buffer(&a, data, sizeof(data));
	assert_int_equal(a.err, 0);
	assert_int_equal(a.len, 1 + 2 + 2 + sizeof(data));
	/* body: BytePrefix 100 and 100 bytes = 102; PkgLength 104 = 0x68 */
	assert_int_equal(buf[0], 0x11);
	assert_int_equal(buf[1], 0x48);
	assert_int_equal(buf[2], 0x06);
	assert_int_equal(buf[3], 0x0a);
	assert_int_equal(buf[4], 100);
	assert_memory_equal(buf + 5, data, sizeof(data));
}

/*
 * dsdt_build into every capacity from 0 to the exact size: each short one
 * fails with -ENOSPC and writes nothing past its end; the exact one succeeds
 * with the same bytes as an ample buffer.
 */
static void test_aml_bounds(void **state)
{
	static const struct acpi_config cfg = {
		.nvcpus = 1, .devices = three, .ndevices = nitems(three), .serial = 1
	};
	enum { GUARD = 16 };
	uint8_t full[4096], *buf;
	struct aml a;
	size_t need;

	(void)state;
	aml_init(&a, full, sizeof(full));
	assert_int_equal(dsdt_build(&a, &cfg), 0);
	need = a.len;
	assert_true(need > 0 && need < sizeof(full));
	buf = malloc(need + GUARD);
	assert_non_null(buf);
	for (size_t cap = 0; cap <= need; cap++) {
		int r;

		memset(buf, POISON, need + GUARD);
		aml_init(&a, buf, cap);
		r = dsdt_build(&a, &cfg);
		for (size_t i = cap; i < need + GUARD; i++)
			if (buf[i] != POISON)
				fail_msg("capacity %zu: byte %zu written", cap, i);
		assert_true(a.len <= cap);
		if (cap < need) {
			if (r != -ENOSPC)
				fail_msg("capacity %zu of %zu: %d, want -ENOSPC", cap, need, r);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(a.len, need);
			assert_memory_equal(buf, full, need);
		}
	}
	free(buf);
	/* a NULL buffer is a full one */
	aml_init(&a, NULL, 100);
	aml_byte(&a, 1);
	assert_int_equal(a.err, -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tables_vcpus, guest_setup, guest_teardown),
		cmocka_unit_test_setup_teardown(test_layout_offsets, guest_setup, guest_teardown),
		cmocka_unit_test_setup_teardown(test_iasl_dsdt, guest_setup, guest_teardown),
		cmocka_unit_test_setup_teardown(test_iasl_data_tables, guest_setup, guest_teardown),
		cmocka_unit_test_setup_teardown(test_zero_devices, guest_setup, guest_teardown),
		cmocka_unit_test_setup_teardown(test_max_config, guest_setup, guest_teardown),
		cmocka_unit_test_setup_teardown(test_hostile, guest_setup, guest_teardown),
		cmocka_unit_test(test_no_memory),
		cmocka_unit_test(test_aml_pkglen),
		cmocka_unit_test(test_aml_terms),
		cmocka_unit_test(test_aml_long),
		cmocka_unit_test(test_aml_bounds),
	};

	log_init("test_acpi");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
