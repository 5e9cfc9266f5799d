/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef BULKHEAD_COMMON_LOG_H
#define BULKHEAD_COMMON_LOG_H

#include <stdarg.h>

#define BH_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* log_init: name is the prefix of every line (e.g. "bulkhead-serial"). */
void log_init(const char *name);
/* log_set_verbose: level 0 = warnings and info, 1 = also debug. */
void log_set_verbose(int level);

void log_warn_at(const char *func, const char *fmt, ...) BH_PRINTF(2, 3);
void log_warnx_at(const char *func, const char *fmt, ...) BH_PRINTF(2, 3);
void log_info(const char *fmt, ...) BH_PRINTF(1, 2);
void log_debug_at(const char *func, const char *fmt, ...) BH_PRINTF(2, 3);
/* fatal/fatalx: only from a process's main, jail setup, or on a malformed peer message. */
_Noreturn void fatal_at(const char *func, const char *fmt, ...) BH_PRINTF(2, 3);
_Noreturn void fatalx_at(const char *func, const char *fmt, ...) BH_PRINTF(2, 3);

/* log_warn appends strerror(errno); log_warnx does not; both name the function. */
#define log_warn(...) log_warn_at(__func__, __VA_ARGS__)
#define log_warnx(...) log_warnx_at(__func__, __VA_ARGS__)
#define log_debug(...) log_debug_at(__func__, __VA_ARGS__)
#define fatal(...) fatal_at(__func__, __VA_ARGS__)
#define fatalx(...) fatalx_at(__func__, __VA_ARGS__)

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#endif
