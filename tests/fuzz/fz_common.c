/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every fuzz target links instead of common/log.c: the same log API,
 * formatting every message (so a bad format argument is still found) but
 * printing only with BH_FUZZ_VERBOSE=1 set, because a guest that fills the
 * log at a million executions a second would drown the fuzzer. fatal() must
 * never be reached from the code under test (STYLE.md: no fatal in device
 * models, the virtqueue, the loader or the IPC library), so here it is a
 * crash. Also fz_fail and the seed writer.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "fz.h"

static const char *fz_log_name = "fuzz";
static int fz_log_level = -1; /* -1: not read from the environment yet */

static int fz_verbose(void)
{
	if (fz_log_level < 0) {
		const char *v = getenv("BH_FUZZ_VERBOSE");

		fz_log_level = v && *v && *v != '0';
	}
	return fz_log_level;
}

static void fz_emit(const char *func, int err, const char *fmt, va_list ap)
{
	char line[1024];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0 || !fz_verbose())
		return;
	fprintf(stderr, "%s: %s%s%s%s%s\n", fz_log_name, func ? func : "", func ? ": " : "", line,
		err ? ": " : "", err ? strerror(err) : "");
}

void log_init(const char *name)
{
	fz_log_name = name;
}

void log_set_verbose(int level)
{
	(void)level;
}

void log_warn_at(const char *func, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	fz_emit(func, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void log_warnx_at(const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fz_emit(func, 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fz_emit(NULL, 0, fmt, ap);
	va_end(ap);
}

void log_debug_at(const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fz_emit(func, 0, fmt, ap);
	va_end(ap);
}

_Noreturn void fatal_at(const char *func, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fz_fail("fatal() reached from fuzzed code: %s: %s", func, line);
}

_Noreturn void fatalx_at(const char *func, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fz_fail("fatalx() reached from fuzzed code: %s: %s", func, line);
}

void (*fz_on_fail)(void);

_Noreturn void fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==== bulkhead fuzz invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	if (fz_on_fail)
		fz_on_fail();
	abort();
}

void fzw_bytes(struct fzw *w, const void *src, size_t len)
{
	if (len == 0)
		return;
	if (w->n + len > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *p;

		while (cap < w->n + len)
			cap *= 2;
		p = realloc(w->p, cap);
		if (!p) {
			perror("realloc");
			exit(1);
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->n, src, len);
	w->n += len;
}

void fzw_u8(struct fzw *w, uint8_t v)
{
	fzw_bytes(w, &v, 1);
}

void fzw_u16(struct fzw *w, uint16_t v)
{
	fzw_bytes(w, &v, 2);
}

void fzw_u32(struct fzw *w, uint32_t v)
{
	fzw_bytes(w, &v, 4);
}

void fzw_u64(struct fzw *w, uint64_t v)
{
	fzw_bytes(w, &v, 8);
}
