/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_name = "bulkhead";
static int log_verbose;

void log_init(const char *name)
{
	log_name = name;
}

void log_set_verbose(int level)
{
	log_verbose = level;
}

/* One write(2) per line so that lines from several processes do not interleave. */
static void log_emit(const char *func, int err, const char *fmt, va_list ap)
{
	char line[1024];
	int n = 0;

	n = snprintf(line, sizeof(line), "%s: ", log_name);
	if (func && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, "%s: ", func);
	if (n >= 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (err && n >= 0 && (size_t)n < sizeof(line))
		n += snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
}

void log_warn_at(const char *func, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(func, err ? err : EIO, fmt, ap);
	va_end(ap);
	errno = err;
}

void log_warnx_at(const char *func, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(func, 0, fmt, ap);
	va_end(ap);
	errno = err;
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(NULL, 0, fmt, ap);
	va_end(ap);
}

void log_debug_at(const char *func, const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_emit(func, 0, fmt, ap);
	va_end(ap);
}

void fatal_at(const char *func, const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(func, err ? err : EIO, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx_at(const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(func, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
