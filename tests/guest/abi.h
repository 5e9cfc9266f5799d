/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The test guest's fixed layout and its ring-3 -> ring-0 service ABI, shared by
 * boot.S (ring 0) and the C code (ring 3). Everything here is a constant the
 * assembler can use: the boot structures sit at fixed addresses so that the
 * GDT, IDT and page tables are built at link time, not by interpreted ring-0 code.
 *
 * Service call (from ring 3 only):  rax = SVC_MAGIC << 32 | SVC_*, rdi/rsi/rdx =
 * arguments, then `ud2`.
 * The #UD handler checks the faulting bytes are 0f 0b and CS is ring 3, runs the
 * service in ring 0, advances rip by 2 and returns; the result is in rax.
 * Clobbered: rax, rcx, rdx, rsi, rdi, r8-r11, flags (as for a syscall).
 */
#ifndef BULKHEAD_TESTS_GUEST_ABI_H
#define BULKHEAD_TESTS_GUEST_ABI_H

/* Physical = virtual (identity map). The image is linked here. */
#define IMAGE_BASE 0x100000
#define ISR_STUBS_ADDR 0x100000 /* 256 stubs, ISR_STUB_SIZE bytes each */
#define ISR_STUB_SIZE 16
#define IDT_ADDR 0x101000 /* 256 gates x 16 bytes */
#define PML4_ADDR 0x102000
#define PDPT_ADDR 0x103000
#define PD_LOW_ADDR 0x104000 /* 0 - 1 GiB, 2 MiB user pages, write-back */
#define PD_HOLE_ADDR 0x105000 /* 3 - 4 GiB, 2 MiB user pages, uncached (MMIO) */
#define GDT_ADDR 0x106000
#define TSS_ADDR 0x106800 /* MAX_CPUS TSSs, TSS_STRIDE bytes apart */
#define TSS_STRIDE 128
#define TEXT_ADDR 0x107000 /* everything else follows */

#define MAX_CPUS 16

/* GDT selectors. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b /* index 3, RPL 3 */
#define SEL_UCODE 0x23 /* index 4, RPL 3 */
#define SEL_KCODE32 0x28 /* flat 32-bit code, for the AP trampoline */
#define SEL_TSS0 0x30 /* CPU i uses SEL_TSS0 + 16 * i */
#define GDT_SIZE (SEL_TSS0 + 16 * MAX_CPUS)

/* Stacks. */
#define KSTACK_SIZE 4096 /* ring 0, per CPU */
#define USTACK_SIZE 65536 /* ring 3, boot CPU and fault reporter */
#define AP_USTACK_SIZE 16384 /* ring 3, per application processor */

/* Interrupt vectors. */
#define VEC_UD 6
#define VEC_IRQ_BASE 0x20 /* GSI g is routed to VEC_IRQ_BASE + g */
#define VEC_SERIAL (VEC_IRQ_BASE + 4)
#define VEC_TIMER 0xf0 /* LAPIC timer */
#define VEC_SPURIOUS 0xff

/* LAPIC, fixed by the platform; ring 0 needs it for EOI. */
#define LAPIC_BASE 0xfee00000
#define LAPIC_EOI (LAPIC_BASE + 0xb0)

/* Services. */
#define SVC_OUTB 0 /* rdi = port, rsi = byte */
#define SVC_INB 1 /* rdi = port; -> byte */
#define SVC_OUTW 2
#define SVC_INW 3
#define SVC_OUTL 4
#define SVC_INL 5
#define SVC_PIO_BATCH 6 /* rdi = struct pio_op[], rsi = count; reads fill .value */
#define SVC_UART_WRITE 7 /* rdi = base port, rsi = buf, rdx = len; -> bytes written */
#define SVC_UART_READ 8 /* rdi = base port, rsi = buf, rdx = max; -> bytes read */
#define SVC_WAIT_IRQ 9 /* rdi = irq_seq seen; sti;hlt;cli unless it moved; -> irq_seq */
#define SVC_IRQ_ON 10 /* return to ring 3 with IF = 1 */
#define SVC_IRQ_OFF 11 /* return to ring 3 with IF = 0 */
#define SVC_RDMSR 12 /* rdi = msr; -> value */
#define SVC_WRMSR 13 /* rdi = msr, rsi = value */
#define SVC_EXIT 14 /* rdi = byte for the debug-exit port; then halts for good */
#define SVC_STOP_CPU 15 /* cli; hlt forever (parks an AP; INIT/SIPI still work) */
#define SVC_TRIPLE_FAULT 16 /* lidt with limit 0, then ud2 */
#define SVC_COUNT 17
#define SVC_MAGIC 0xb0a7 /* rax bits 63:32 on every call, so a stray ud2 is not a call */

/* struct pio_op, as SVC_PIO_BATCH reads it: 8 bytes. */
#define PIO_OP_PORT 0 /* u16 */
#define PIO_OP_SIZE 2 /* u8: 1, 2 or 4 */
#define PIO_OP_WRITE 3 /* u8: 1 = out, 0 = in */
#define PIO_OP_VALUE 4 /* u32: value out, or value read */

/*
 * struct fault_info, filled by ring 0 on an unexpected exception before it
 * resumes ring 3 at guest_fault_report(): u64 fields in this order.
 */
#define FAULT_VECTOR 0
#define FAULT_ERROR 8
#define FAULT_RIP 16
#define FAULT_CS 24
#define FAULT_RFLAGS 32
#define FAULT_RSP 40
#define FAULT_SS 48
#define FAULT_CR2 56
#define FAULT_RAX 64 /* then rbx rcx rdx rsi rdi rbp r8 .. r15 */
#define FAULT_NREGS 15
#define FAULT_SIZE (FAULT_RAX + 8 * FAULT_NREGS)

#define UART_TX_CHUNK 16 /* bytes per LSR.THRE check: the 16550A FIFO */
#define UART_THRE_SPINS 4096 /* LSR reads before SVC_UART_WRITE gives up */

#endif
