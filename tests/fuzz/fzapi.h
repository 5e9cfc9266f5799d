/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* The API socket's fuzzing (fuzz_api, fuzz_proc_api, their seeds): a snapshot page like the
 * supervisor's, with processes, devices and configuration items. */
#ifndef BULKHEAD_TESTS_FUZZ_FZAPI_H
#define BULKHEAD_TESTS_FUZZ_FZAPI_H

#include "ipc/ipc.h"

/* fz_api_page: fill pg as the supervisor would for a small VM (five processes, two devices). */
void fz_api_page(struct ipc_api_page *pg);

#endif
