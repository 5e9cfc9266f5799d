/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef BULKHEAD_COMMON_CLOCK_H
#define BULKHEAD_COMMON_CLOCK_H

#include <stdint.h>

/* now_ns: CLOCK_MONOTONIC in nanoseconds (the vDSO's; no system call where it can). */
uint64_t now_ns(void);

#endif
