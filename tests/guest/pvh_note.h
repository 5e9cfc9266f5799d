/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PVH_NOTE(entry), for assembly: the ELF note by which a VMM finds a kernel's
 * 32-bit PVH entry: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, the entry's
 * address in 8 bytes (as Linux and QEMU expect). The test guest (boot.S) and
 * the floor's guest (bench/floor_guest.S) carry it.
 */
#ifndef BULKHEAD_GUEST_PVH_NOTE_H
#define BULKHEAD_GUEST_PVH_NOTE_H

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* clang-format off */
#define PVH_NOTE(entry)                                 \
	.pushsection .note.pvh, "a", @note;             \
	.balign 4;                                      \
	.long 4;                                        \
	.long 8;                                        \
	.long XEN_ELFNOTE_PHYS32_ENTRY;                 \
	.asciz "Xen";                                   \
	.balign 4;                                      \
	.quad entry;                                    \
	.popsection
/* clang-format on */

#endif
