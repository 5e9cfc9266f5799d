/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by every fuzz target: a reader that takes fixed-width values off
 * the fuzzer's input (zeros once it runs out, so every input is valid), a
 * writer the seed generator uses to build inputs in the same encoding, and
 * fz_fail, the one way a target reports a broken invariant (it aborts, so
 * libFuzzer and AFL++ keep the input as a crash).
 */
#ifndef BULKHEAD_TESTS_FUZZ_FZ_H
#define BULKHEAD_TESTS_FUZZ_FZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fz {
	const uint8_t *p;
	size_t n;
};

static inline void fz_init(struct fz *f, const uint8_t *p, size_t n)
{
	f->p = p;
	f->n = n;
}

static inline int fz_empty(const struct fz *f)
{
	return f->n == 0;
}

/* fz_take: copy up to len bytes into dst (zero-filling what the input lacks); bytes taken. */
static inline size_t fz_take(struct fz *f, void *dst, size_t len)
{
	size_t n = len < f->n ? len : f->n;

	if (n)
		memcpy(dst, f->p, n);
	if (n < len)
		memset((uint8_t *)dst + n, 0, len - n);
	f->p += n;
	f->n -= n;
	return n;
}

static inline uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	fz_take(f, &v, 1);
	return v;
}

static inline uint16_t fz_u16(struct fz *f)
{
	uint16_t v;

	fz_take(f, &v, 2);
	return v;
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t v;

	fz_take(f, &v, 4);
	return v;
}

static inline uint64_t fz_u64(struct fz *f)
{
	uint64_t v;

	fz_take(f, &v, 8);
	return v;
}

/* fz_rest: the remaining input as a pointer and length, consuming it. */
static inline const uint8_t *fz_rest(struct fz *f, size_t *len)
{
	const uint8_t *p = f->p;

	*len = f->n;
	f->p += f->n;
	f->n = 0;
	return p;
}

/* fz_on_fail: called by fz_fail before it aborts (the process harness kills its child). */
extern void (*fz_on_fail)(void);
/* fz_fail: report a broken invariant (printf-style) and abort. */
_Noreturn void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FZ_CHECK(cond, ...)                     \
	do {                                    \
		if (!(cond))                    \
			fz_fail(__VA_ARGS__);   \
	} while (0)

/* The seed generator's side: append values in the same encoding. */
struct fzw {
	uint8_t *p;
	size_t n, cap;
};

void fzw_bytes(struct fzw *w, const void *src, size_t len);
void fzw_u8(struct fzw *w, uint8_t v);
void fzw_u16(struct fzw *w, uint16_t v);
void fzw_u32(struct fzw *w, uint32_t v);
void fzw_u64(struct fzw *w, uint64_t v);

#endif
