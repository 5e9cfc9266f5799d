/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 9P wire format: little-endian integers, strings as u16 length and
 * bytes, qids as type[1] version[4] path[8]. The reader never reads past
 * its buffer (a short message reads as zeros and is marked bad); the writer
 * never writes past its capacity (an overflow is marked and the reply is
 * refused). Names and strings are checked before anything uses them.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static const uint8_t *take(struct p9_in *in, size_t n)
{
	const uint8_t *p;

	if (in->bad || n > in->len - in->pos) {
		in->bad = 1;
		return NULL;
	}
	p = in->p + in->pos;
	in->pos += n;
	return p;
}

uint8_t p9_get_u8(struct p9_in *in)
{
	const uint8_t *p = take(in, 1);

	return p ? p[0] : 0;
}

uint16_t p9_get_u16(struct p9_in *in)
{
	const uint8_t *p = take(in, 2);

	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t p9_get_u32(struct p9_in *in)
{
	const uint8_t *p = take(in, 4);

	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

uint64_t p9_get_u64(struct p9_in *in)
{
	uint64_t lo = p9_get_u32(in);

	return lo | (uint64_t)p9_get_u32(in) << 32;
}

void p9_get_str(struct p9_in *in, struct p9_str *s)
{
	uint16_t len = p9_get_u16(in);
	const uint8_t *p = take(in, len);

	s->p = p ? (const char *)p : "";
	s->len = p ? len : 0;
}

int p9_in_done(const struct p9_in *in)
{
	return in->bad || in->pos != in->len ? -EPROTO : 0;
}

static uint8_t *room(struct p9_out *out, size_t n)
{
	uint8_t *p;

	if (out->over || n > out->cap - out->len) {
		out->over = 1;
		return NULL;
	}
	p = out->p + out->len;
	out->len += n;
	return p;
}

void p9_put_u8(struct p9_out *out, uint8_t v)
{
	uint8_t *p = room(out, 1);

	if (p)
		p[0] = v;
}

void p9_put_u16(struct p9_out *out, uint16_t v)
{
	uint8_t *p = room(out, 2);

	if (p) {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
	}
}

void p9_put_u32(struct p9_out *out, uint32_t v)
{
	uint8_t *p = room(out, 4);

	if (p) {
		for (int i = 0; i < 4; i++)
			p[i] = (uint8_t)(v >> (8 * i));
	}
}

void p9_put_u64(struct p9_out *out, uint64_t v)
{
	p9_put_u32(out, (uint32_t)v);
	p9_put_u32(out, (uint32_t)(v >> 32));
}

void p9_put_str(struct p9_out *out, const char *s, size_t len)
{
	uint8_t *p;

	if (len > UINT16_MAX) {
		out->over = 1;
		return;
	}
	p9_put_u16(out, (uint16_t)len);
	p = room(out, len);
	if (p && len)
		memcpy(p, s, len);
}

void p9_put_qid(struct p9_out *out, const struct p9_qid *q)
{
	p9_put_u8(out, q->type);
	p9_put_u32(out, q->version);
	p9_put_u64(out, q->path);
}

int p9_text(const struct p9_str *s, char *buf, size_t max)
{
	if (s->len > max)
		return -ENAMETOOLONG;
	if (memchr(s->p, '\0', s->len))
		return -EINVAL;
	memcpy(buf, s->p, s->len);
	buf[s->len] = '\0';
	return 0;
}

int p9_name(const struct p9_str *s, char *name, int dotdot)
{
	int err = p9_text(s, name, P9_NAME_MAX);

	if (err < 0)
		return err;
	if (s->len == 0 || memchr(name, '/', s->len) || strcmp(name, ".") == 0 ||
	    (!dotdot && strcmp(name, "..") == 0))
		return -EINVAL;
	return 0;
}

size_t p9_iov_len(const struct iovec *iov, unsigned int n)
{
	size_t total = 0;

	for (unsigned int i = 0; i < n; i++)
		total += iov[i].iov_len;
	return total;
}

/* Copy len bytes between buf and the buffers at offset off: into them (to_iov) or out of them. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t off, uint8_t *buf, size_t len, int to_iov)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, k;
		uint8_t *p;

		if (off >= l) {
			off -= l;
			continue;
		}
		k = l - off < len - done ? l - off : len - done;
		p = (uint8_t *)iov[i].iov_base + off;
		memcpy(to_iov ? p : buf + done, to_iov ? buf + done : p, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t p9_iov_read(const struct iovec *iov, unsigned int n, size_t off, void *dst, size_t len)
{
	return iov_copy(iov, n, off, dst, len, 0);
}

size_t p9_iov_write(const struct iovec *iov, unsigned int n, size_t off, const void *src, size_t len)
{
	/* iov_copy only reads buf when it copies into the buffers */
	return iov_copy(iov, n, off, (uint8_t *)(uintptr_t)src, len, 1);
}

int p9_iov_slice(const struct iovec *iov, unsigned int n, size_t off, size_t len, struct iovec *out,
		 unsigned int max)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && len > 0; i++) {
		size_t l = iov[i].iov_len, take_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		if (k == max)
			return -1;
		take_len = l - off < len ? l - off : len;
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = take_len;
		k++;
		len -= take_len;
		off = 0;
	}
	return len ? -1 : (int)k;
}
