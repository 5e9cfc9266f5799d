/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The few libc pieces the freestanding test guest needs. No floating point,
 * no allocation; everything is bounded by the caller's buffer.
 */
#ifndef BULKHEAD_TESTS_GUEST_LIB_H
#define BULKHEAD_TESTS_GUEST_LIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)
#define nitems(a) (sizeof(a) / sizeof((a)[0]))
#define barrier() __asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* memcpy, memmove, memset, memcmp: as in C (the compiler may call them). */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
/* strlen, strnlen, strcmp, strncmp: as in C. */
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* mem_filled: every byte of p[0..n) is v. */
int mem_filled(const void *p, size_t n, uint8_t v);
/* strlcpy: copy src into dst of size n, NUL-terminated; returns strlen(src). */
size_t strlcpy(char *dst, const char *src, size_t n);

/*
 * vsnprintf: %d %i %u %x %X %p %s %c %% with flags '-' '0', a width, and the
 * l, ll, z length modifiers. Returns the length the full output would have.
 */
int vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* snprintf: as vsnprintf. */
int snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* snappendf: format at the end of the NUL-terminated string in buf[0..n), truncating. */
void snappendf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * parse_u64: parse s[0..len) as a decimal or 0x-hex number with an optional
 * K, M or G suffix (binary multiples) when suffix is nonzero. Returns 0 and
 * *out, or -1 on an empty, malformed or overflowing number.
 */
int parse_u64(const char *s, size_t len, int suffix, uint64_t *out);

/* rdtsc: the time-stamp counter (ring 3 may read it). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* cpu_relax: pause in a spin loop. */
static inline void cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}

/* cpuid: leaf, subleaf -> eax, ebx, ecx, edx in r[0..3]. */
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* ---- the data pattern (tests/guest/pattern.py) ---- */

/* splitmix64: the standard mixer. */
static inline uint64_t splitmix64(uint64_t x)
{
	uint64_t z = x + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
/* pattern_word: the little-endian word at disk byte offset off (a multiple of 8). */
static inline uint64_t pattern_word(uint64_t seed, uint64_t off)
{
	return splitmix64(seed ^ (off >> 3));
}
/* copy_fast: memcpy with rep movsb (ring 3 runs it natively; memcpy is a byte loop). */
static inline void copy_fast(void *dst, const void *src, size_t n)
{
	__asm__ __volatile__("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

#endif
