/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to acpi/: the table formats (ACPI 6.3, little-endian, packed as the
 * specification lays them out), where each table sits in the ACPI area, and a
 * bounded AML emitter. The unit test includes this header to check the
 * emitter's encodings directly.
 */
#ifndef BULKHEAD_ACPI_ACPI_INT_H
#define BULKHEAD_ACPI_ACPI_INT_H

#include <stddef.h>
#include <stdint.h>

#include "acpi.h"

#define ACPI_MAX_VCPUS 254 /* 8-bit APIC ids; the IOAPIC takes id nvcpus, 0xff is broadcast */

/* Offsets inside [LAYOUT_ACPI_ADDR, LAYOUT_ACPI_ADDR + LAYOUT_ACPI_SIZE). */
#define ACPI_RSDP_OFF 0x0000 /* 36 bytes, 16-byte aligned for the legacy scan */
#define ACPI_XSDT_OFF 0x0040 /* 36 + 8 per entry */
#define ACPI_FADT_OFF 0x0080 /* 276 bytes */
#define ACPI_MADT_OFF 0x0200 /* at most 2104 bytes (254 vCPUs) */
#define ACPI_DSDT_OFF 0x1000 /* the rest: up to 60 KiB of AML */

struct acpi_header {
	char sig[4];
	uint32_t length; /* whole table, header included */
	uint8_t revision;
	uint8_t checksum; /* all bytes of the table sum to 0 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char sig[8]; /* "RSD PTR " */
	uint8_t checksum; /* first 20 bytes (the ACPI 1.0 structure) */
	char oem_id[6];
	uint8_t revision; /* 2: XSDT address and extended checksum present */
	uint32_t rsdt_addr; /* 0: no RSDT */
	uint32_t length; /* 36 */
	uint64_t xsdt_addr;
	uint8_t ext_checksum; /* all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_revision;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	char hypervisor_vendor[8];
} __attribute__((packed));

/* FADT flags. */
#define ACPI_FADT_WBINVD (1u << 0)
#define ACPI_FADT_PWR_BUTTON (1u << 4) /* no fixed-feature power button */
#define ACPI_FADT_SLP_BUTTON (1u << 5) /* no fixed-feature sleep button */
#define ACPI_FADT_RESET_REG_SUP (1u << 10)
#define ACPI_FADT_HW_REDUCED (1u << 20)
/* FADT IAPC_BOOT_ARCH. */
#define ACPI_BOOT_VGA_NOT_PRESENT (1u << 2)
#define ACPI_BOOT_MSI_NOT_SUPPORTED (1u << 3)
#define ACPI_BOOT_ASPM_CONTROLS (1u << 4)
#define ACPI_BOOT_CMOS_RTC_NOT_PRESENT (1u << 5)

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags; /* 0: no PC-AT dual 8259 */
} __attribute__((packed));

enum { ACPI_MADT_LAPIC = 0, ACPI_MADT_IOAPIC = 1, ACPI_MADT_ISO = 2, ACPI_MADT_LAPIC_NMI = 4 };

struct acpi_madt_lapic {
	uint8_t type;
	uint8_t length;
	uint8_t uid; /* ACPI processor uid */
	uint8_t apic_id;
	uint32_t flags; /* bit 0: enabled */
} __attribute__((packed));

struct acpi_madt_ioapic {
	uint8_t type;
	uint8_t length;
	uint8_t id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct acpi_madt_iso {
	uint8_t type;
	uint8_t length;
	uint8_t bus; /* 0: ISA */
	uint8_t source; /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags; /* 0: polarity and trigger as the bus defines */
} __attribute__((packed));

struct acpi_madt_lapic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t uid; /* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define ACPI_MADT_MAX_SIZE                                                                     \
	(sizeof(struct acpi_madt) + ACPI_MAX_VCPUS * sizeof(struct acpi_madt_lapic) +          \
	 sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_iso) + sizeof(struct acpi_madt_lapic_nmi))

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT (ACPI 6.x)");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112 && offsetof(struct acpi_fadt, reset_reg) == 116 &&
		       offsetof(struct acpi_fadt, x_dsdt) == 140 &&
		       offsetof(struct acpi_fadt, sleep_control_reg) == 244 &&
		       offsetof(struct acpi_fadt, hypervisor_vendor) == 268,
	       "FADT field offsets");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT header");
_Static_assert(sizeof(struct acpi_madt_lapic) == 8 && sizeof(struct acpi_madt_ioapic) == 12 &&
		       sizeof(struct acpi_madt_iso) == 10 && sizeof(struct acpi_madt_lapic_nmi) == 6,
	       "MADT entries");

/*
 * A bounded byte sink for AML (and for any table built piece by piece). Every
 * emitter checks room first and writes nothing past cap; the first failure is
 * kept in err (-ENOSPC full, -EINVAL a malformed name, string or length) and
 * makes every later call a no-op, so a builder emits everything and checks err
 * once at the end.
 */
struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

/* AML opcodes and prefixes (ACPI 6.3, 20.3). */
#define AML_ZERO_OP 0x00
#define AML_ONE_OP 0x01
#define AML_NAME_OP 0x08
#define AML_BYTE_PREFIX 0x0a
#define AML_WORD_PREFIX 0x0b
#define AML_DWORD_PREFIX 0x0c
#define AML_STRING_PREFIX 0x0d
#define AML_QWORD_PREFIX 0x0e
#define AML_SCOPE_OP 0x10
#define AML_METHOD_OP 0x14
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_DUAL_NAME_PREFIX 0x2e
#define AML_MULTI_NAME_PREFIX 0x2f
#define AML_EXT_OP_PREFIX 0x5b
#define AML_DEVICE_OP 0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR 0x5c
#define AML_PARENT_PREFIX 0x5e
#define AML_NOTIFY_OP 0x86
#define AML_PKGLEN_MAX 0x0fffffff /* 28 bits in four bytes */

/* Extended Interrupt descriptor flags. */
#define AML_IRQ_CONSUMER 0x01
#define AML_IRQ_EDGE 0x02
#define AML_IRQ_ACTIVE_LOW 0x04
#define AML_IRQ_SHARED 0x08

/* aml_init: emit into buf[0, cap). */
void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* aml_bytes/aml_byte/aml_word/aml_dword/aml_qword: raw little-endian data. */
void aml_bytes(struct aml *a, const void *src, size_t n);
void aml_byte(struct aml *a, uint8_t v);
void aml_word(struct aml *a, uint16_t v);
void aml_dword(struct aml *a, uint32_t v);
void aml_qword(struct aml *a, uint64_t v);
/* aml_pkglen: encode a PkgLength for body bytes that follow it into out; its size (1-4), 0 if too long. */
size_t aml_pkglen(uint8_t out[4], size_t body);
/* aml_integer: v as ZeroOp, OneOp or the shortest Byte/Word/DWord/QWord constant. */
void aml_integer(struct aml *a, uint64_t v);
/* aml_string: a String of ASCII 0x01-0x7f, NUL-terminated. */
void aml_string(struct aml *a, const char *s);
/* aml_namestring: path such as "\\_SB_.VR00", "^FOO" or "_HID"; segments 1-4 chars, padded with '_'. */
void aml_namestring(struct aml *a, const char *path);
/* aml_eisaid: id such as "PNP0501" compressed to a DWord constant. */
void aml_eisaid(struct aml *a, const char *id);
/* aml_name: Name (path, ...): NameOp and the NameString; the caller emits the object next. */
void aml_name(struct aml *a, const char *path);
/* aml_scope/aml_device/aml_package: open a construct; its contents follow; close with aml_end(mark). */
size_t aml_scope(struct aml *a, const char *path);
size_t aml_device(struct aml *a, const char *name);
size_t aml_package(struct aml *a, uint8_t nelems);
/* aml_method: Method (name, nargs, NotSerialized): open; its body follows; close with aml_end. */
size_t aml_method(struct aml *a, const char *name, uint8_t nargs);
/* aml_notify: Notify (path, value). */
void aml_notify(struct aml *a, const char *path, uint64_t value);
/* aml_end: fill in the PkgLength of the construct opened at mark. Close inner constructs first. */
void aml_end(struct aml *a, size_t mark);
/* aml_buffer: Buffer () { data[0, n) }. */
void aml_buffer(struct aml *a, const void *data, size_t n);

/* Resource descriptors, emitted raw; wrap them with aml_buffer. */
/* aml_mem32fixed: Memory32Fixed (ReadWrite or ReadOnly, base, size). */
void aml_mem32fixed(struct aml *a, int writable, uint32_t base, uint32_t size);
/* aml_interrupt: Interrupt (flags of AML_IRQ_*) { gsi }. */
void aml_interrupt(struct aml *a, uint8_t flags, uint32_t gsi);
/* aml_io: IO (Decode16, min, max, align, len). */
void aml_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* aml_irqnoflags: IRQNoFlags () { irq } for ISA irq 0-15. */
void aml_irqnoflags(struct aml *a, uint8_t irq);
/* aml_endtag: End Tag closing a resource template. */
void aml_endtag(struct aml *a);

/* dsdt_build: emit the DSDT's AML body (no header) for a validated cfg; 0 or a->err. */
int dsdt_build(struct aml *a, const struct acpi_config *cfg) __attribute__((warn_unused_result));

#endif
