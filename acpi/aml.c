/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small AML emitter: just the terms bulkhead's DSDT needs (ACPI 6.3,
 * chapter 20, and resource descriptors from section 6.4). Everything goes through
 * aml_room(), so nothing is ever written past the buffer; errors are sticky.
 *
 * Constructs with a PkgLength (Scope, Device, Package, Buffer) reserve one
 * byte for it when opened; aml_end() picks the shortest encoding for the
 * body's real length and, if that needs more bytes, moves the body up. So the
 * output only ever grows and a buffer of exactly the final size suffices.
 */
#include "acpi_int.h"

#include <errno.h>
#include <string.h>

#include "common/log.h"

static int aml_room(struct aml *a, size_t n)
{
	if (a->err)
		return 0;
	if (a->len > a->cap || n > a->cap - a->len) {
		a->err = -ENOSPC;
		return 0;
	}
	return 1;
}

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->cap = buf ? cap : 0;
	a->len = 0;
	a->err = 0;
}

void aml_bytes(struct aml *a, const void *src, size_t n)
{
	if (!aml_room(a, n))
		return;
	if (n)
		memcpy(a->buf + a->len, src, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

void aml_word(struct aml *a, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	aml_bytes(a, b, sizeof(b));
}

void aml_dword(struct aml *a, uint32_t v)
{
	uint8_t b[4];

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, sizeof(b));
}

void aml_qword(struct aml *a, uint64_t v)
{
	uint8_t b[8];

	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_bytes(a, b, sizeof(b));
}

/*
 * PkgLength counts its own bytes. One byte holds 0-63 in bits 0-5; longer
 * forms put the number of following bytes in bits 6-7 of the lead byte, the
 * low nibble in its bits 0-3, and the rest eight bits at a time.
 */
size_t aml_pkglen(uint8_t out[4], size_t body)
{
	static const size_t limit[] = { 0, 0x3f, 0xfff, 0xfffff, AML_PKGLEN_MAX };
	size_t n, total;

	for (n = 1; n < nitems(limit); n++)
		if (body <= limit[n] - n)
			break;
	if (n == nitems(limit))
		return 0;
	total = body + n;
	if (n == 1) {
		out[0] = (uint8_t)total;
		return 1;
	}
	out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	return n;
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= UINT8_MAX) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_byte(a, (uint8_t)v);
	} else if (v <= UINT16_MAX) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_word(a, (uint16_t)v);
	} else if (v <= UINT32_MAX) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_dword(a, (uint32_t)v);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_qword(a, v);
	}
}

void aml_string(struct aml *a, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] > 0x7f) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, n + 1);
}

static int aml_segchar(char c, int lead)
{
	if ((c >= 'A' && c <= 'Z') || c == '_')
		return 1;
	return !lead && c >= '0' && c <= '9';
}

/* Length of the NameSeg at s (up to '.' or the end), or 0 if it is not one. */
static size_t aml_seglen(const char *s)
{
	size_t n;

	for (n = 0; s[n] && s[n] != '.'; n++)
		if (n == 4 || !aml_segchar(s[n], n == 0))
			return 0;
	return n;
}

static void aml_nameseg(struct aml *a, const char *s, size_t n)
{
	char seg[4] = { '_', '_', '_', '_' };

	memcpy(seg, s, n);
	aml_bytes(a, seg, sizeof(seg));
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path;
	size_t nsegs = 0;

	if (*p == '\\') {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		for (; *p == '^'; p++)
			aml_byte(a, AML_PARENT_PREFIX);
	}
	if (*p == '\0') {
		aml_byte(a, 0x00); /* NullName */
		return;
	}
	/* count and check every segment before emitting any */
	for (const char *s = p;; s++) {
		size_t n = aml_seglen(s);

		if (n == 0 || nsegs == UINT8_MAX) {
			aml_fail(a, -EINVAL);
			return;
		}
		nsegs++;
		s += n;
		if (*s == '\0')
			break;
	}
	if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nsegs);
	}
	for (const char *s = p;; s++) {
		size_t n = aml_seglen(s);

		aml_nameseg(a, s, n);
		s += n;
		if (*s == '\0')
			break;
	}
}

/*
 * EISA id "UUUHHHH": three letters of five bits each ('A' = 1) and four hex
 * digits, stored most significant first as the bytes of a little-endian DWord.
 */
void aml_eisaid(struct aml *a, const char *id)
{
	uint32_t v = 0;
	uint8_t b[4];

	if (strlen(id) != 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (size_t i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(a, -EINVAL);
			return;
		}
		v = (v << 5) | (uint32_t)(id[i] - 0x40);
	}
	for (size_t i = 3; i < 7; i++) {
		char c = id[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else {
			aml_fail(a, -EINVAL);
			return;
		}
		v = (v << 4) | d;
	}
	/* v holds 31 significant bits, big-endian: byte 0 is the first letters */
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	aml_byte(a, AML_DWORD_PREFIX);
	aml_bytes(a, b, sizeof(b));
}

void aml_name(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_namestring(a, path);
}

/* Emit op and one byte for a PkgLength; return where it starts. */
static size_t aml_open(struct aml *a, const uint8_t *op, size_t oplen)
{
	size_t mark;

	aml_bytes(a, op, oplen);
	mark = a->len;
	aml_byte(a, 0);
	return mark;
}

void aml_end(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	size_t body, n;

	if (a->err)
		return;
	if (mark >= a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	body = a->len - mark - 1;
	n = aml_pkglen(enc, body);
	if (n == 0) {
		aml_fail(a, -ENOSPC);
		return;
	}
	if (!aml_room(a, n - 1))
		return;
	memmove(a->buf + mark + n, a->buf + mark + 1, body);
	memcpy(a->buf + mark, enc, n);
	a->len += n - 1;
}

size_t aml_scope(struct aml *a, const char *path)
{
	static const uint8_t op[] = { AML_SCOPE_OP };
	size_t mark = aml_open(a, op, sizeof(op));

	aml_namestring(a, path);
	return mark;
}

size_t aml_device(struct aml *a, const char *name)
{
	static const uint8_t op[] = { AML_EXT_OP_PREFIX, AML_DEVICE_OP };
	size_t mark = aml_open(a, op, sizeof(op));

	aml_namestring(a, name);
	return mark;
}

/* MethodFlags: ArgCount in bits 0-2, NotSerialized, SyncLevel 0. */
size_t aml_method(struct aml *a, const char *name, uint8_t nargs)
{
	static const uint8_t op[] = { AML_METHOD_OP };
	size_t mark = aml_open(a, op, sizeof(op));

	if (nargs > 7)
		aml_fail(a, -EINVAL);
	aml_namestring(a, name);
	aml_byte(a, nargs & 7);
	return mark;
}

void aml_notify(struct aml *a, const char *path, uint64_t value)
{
	aml_byte(a, AML_NOTIFY_OP);
	aml_namestring(a, path);
	aml_integer(a, value);
}

size_t aml_package(struct aml *a, uint8_t nelems)
{
	static const uint8_t op[] = { AML_PACKAGE_OP };
	size_t mark = aml_open(a, op, sizeof(op));

	aml_byte(a, nelems);
	return mark;
}

void aml_buffer(struct aml *a, const void *data, size_t n)
{
	static const uint8_t op[] = { AML_BUFFER_OP };
	size_t mark = aml_open(a, op, sizeof(op));

	aml_integer(a, n);
	aml_bytes(a, data, n);
	aml_end(a, mark);
}

/* Large resource descriptors: tag, 16-bit length of what follows. */
void aml_mem32fixed(struct aml *a, int writable, uint32_t base, uint32_t size)
{
	aml_byte(a, 0x86);
	aml_word(a, 9);
	aml_byte(a, writable ? 1 : 0);
	aml_dword(a, base);
	aml_dword(a, size);
}

void aml_interrupt(struct aml *a, uint8_t flags, uint32_t gsi)
{
	aml_byte(a, 0x89);
	aml_word(a, 6); /* flags, count and one interrupt number */
	aml_byte(a, flags);
	aml_byte(a, 1);
	aml_dword(a, gsi);
}

/* Small resource descriptors: type in bits 3-6 of the tag, length in bits 0-2. */
void aml_io(struct aml *a, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	aml_byte(a, 0x47); /* I/O port, 7 bytes */
	aml_byte(a, 1); /* Decode16 */
	aml_word(a, min);
	aml_word(a, max);
	aml_byte(a, align);
	aml_byte(a, len);
}

void aml_irqnoflags(struct aml *a, uint8_t irq)
{
	if (irq > 15) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, 0x22); /* IRQ, 2 bytes: no information byte */
	aml_word(a, (uint16_t)(1u << irq));
}

void aml_endtag(struct aml *a)
{
	aml_byte(a, 0x79);
	aml_byte(a, 0); /* checksum 0: treated as valid */
}
