/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One process's policy and common.policy, embedded in its binary as the
 * table policy_embedded() returns (struct policy_file: name, text, len).
 * Assembled once per process by policies.mk with
 *   -DPOLICY_NAME='"blk"' -DPOLICY_PATH='"DIR/blk.policy"' -DCOMMON_PATH='"DIR/common.policy"'
 * Each text is followed by a NUL that its length leaves out.
 */
	.section .rodata.bh_policy, "a"
name_own:
	.ascii POLICY_NAME
	.asciz ".policy"
name_common:
	.asciz "common.policy"
text_own:
	.incbin POLICY_PATH
text_own_end:
	.byte 0
text_common:
	.incbin COMMON_PATH
text_common_end:
	.byte 0

	/* Pointers need relocating in a PIE: read-only after relocation (RELRO). */
	.section .data.rel.ro.bh_policy, "aw"
	.balign 8
	.globl policy_embedded_files
	.hidden policy_embedded_files
	.type policy_embedded_files, @object
policy_embedded_files:
	.quad name_own, text_own, text_own_end - text_own
	.quad name_common, text_common, text_common_end - text_common
	.size policy_embedded_files, . - policy_embedded_files

	.section .rodata.bh_policy, "a"
	.balign 8
	.globl policy_embedded_nfiles
	.hidden policy_embedded_nfiles
	.type policy_embedded_nfiles, @object
policy_embedded_nfiles:
	.quad 2
	.size policy_embedded_nfiles, 8

	.section .note.GNU-stack, "", @progbits
