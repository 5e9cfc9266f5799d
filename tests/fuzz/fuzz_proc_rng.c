/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_proc_rng: libFuzzer drives the real, jailed bulkhead-rng process
 * through procfuzz.c (one persistent child, restarted when it ends).
 */
#include <stddef.h>
#include <stdint.h>

#include "procfuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	procfuzz_init(PROCFUZZ_RNG);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	procfuzz_one(data, size);
	return 0;
}
