/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The floor's guest for a VMM: what bench/kvm_floor.c runs (one port write,
 * then hlt), as a kernel a VMM boots through its PVH entry. It writes 0 to
 * the debug-exit port (0xf4), which ends bulkhead, and QEMU with
 * isa-debug-exit, with status 1. The start figure boots it in both VMMs, so
 * that their launch to exit, set against the floor's, is the VMM's own cost:
 * the test guest's own work (marker-exit prints two console lines) left out.
 */
#include "../tests/guest/pvh_note.h"

#define DEBUG_EXIT_PORT 0xf4

PVH_NOTE(floor_entry)

/* Entered in 32-bit protected mode, paging off (the PVH boot ABI). */
	.text
	.code32
	.globl floor_entry
floor_entry:
	xorl %eax, %eax
	outb %al, $DEBUG_EXIT_PORT
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
