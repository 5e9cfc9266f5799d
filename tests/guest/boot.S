/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Everything the test guest runs in ring 0: the PVH entry, the switch to long
 * mode, the AP trampoline, the exception and interrupt stubs and the services
 * ring 3 reaches through ud2 (abi.h). Ring-0 code is interpreted by the host's
 * KVM (about 0.6 us an instruction), so it is kept to a few dozen instructions
 * per path, and the GDT, TSSs, IDT and page tables are built by the assembler
 * at fixed addresses instead of by code.
 *
 * Only plain integer instructions here: no int3, int n, SSE, xsave or vmcall.
 */
#include "abi.h"
#include "pvh_note.h"

#define EFER_MSR 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_ET 0x10
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define RFLAGS_IF 0x200
#define DEBUG_EXIT_PORT 0xf4

#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80

PVH_NOTE(pvh_entry)

/* ---- the fixed boot area: 7 pages at IMAGE_BASE (guest.ld asserts the address) ---- */
	.section .boot.fixed, "awx", @progbits

/* Interrupt stubs: one per vector, ISR_STUB_SIZE bytes apart, so the IDT is a constant. */
	.code64
	.set vec, 0
	.rept 256
	.org vec * ISR_STUB_SIZE, 0x90 /* nop padding keeps the stubs disassemblable */
	.if vec == VEC_UD
	jmp svc_entry
	.elseif vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
	pushq $vec /* the CPU pushed an error code */
	jmp exc_common
	.elseif vec < 32
	pushq $0
	pushq $vec
	jmp exc_common
	.elseif vec == VEC_SPURIOUS
	iretq /* no EOI for the spurious vector */
	.else
	pushq $vec
	jmp irq_common
	.endif
	.set vec, vec + 1
	.endr

/* IDT: 64-bit interrupt gates (IF cleared on entry), DPL 0. */
	.org IDT_ADDR - IMAGE_BASE
	.set vec, 0
	.rept 256
	.word (ISR_STUBS_ADDR + vec * ISR_STUB_SIZE) & 0xffff
	.word SEL_KCODE
	.byte 0, 0x8e
	.word (ISR_STUBS_ADDR + vec * ISR_STUB_SIZE) >> 16
	.long 0, 0
	.set vec, vec + 1
	.endr

/* Page tables: 0-1 GiB and 3-4 GiB identity-mapped with 2 MiB user pages. */
	.org PML4_ADDR - IMAGE_BASE
	.quad PDPT_ADDR + (PTE_P | PTE_RW | PTE_US)
	.org PDPT_ADDR - IMAGE_BASE
	.quad PD_LOW_ADDR + (PTE_P | PTE_RW | PTE_US)
	.quad 0, 0
	.quad PD_HOLE_ADDR + (PTE_P | PTE_RW | PTE_US)
	.org PD_LOW_ADDR - IMAGE_BASE
	.set i, 0
	.rept 512
	.quad (i << 21) + (PTE_P | PTE_RW | PTE_US | PTE_PS)
	.set i, i + 1
	.endr
	.org PD_HOLE_ADDR - IMAGE_BASE
	.set i, 0
	.rept 512
	.quad 0xc0000000 + (i << 21) + (PTE_P | PTE_RW | PTE_US | PTE_PWT | PTE_PCD | PTE_PS)
	.set i, i + 1
	.endr

/* GDT: null, kernel code64, kernel data, user data, user code64, code32, one TSS per CPU. */
	.org GDT_ADDR - IMAGE_BASE
	.quad 0
	.quad 0x00af9a000000ffff /* SEL_KCODE */
	.quad 0x00cf92000000ffff /* SEL_KDATA */
	.quad 0x00cff2000000ffff /* SEL_UDATA */
	.quad 0x00affa000000ffff /* SEL_UCODE */
	.quad 0x00cf9a000000ffff /* SEL_KCODE32 */
	.set i, 0
	.rept MAX_CPUS
	.quad 0x67 | (((TSS_ADDR + i * TSS_STRIDE) & 0xffffff) << 16) | (0x89 << 40) | ((((TSS_ADDR + i * TSS_STRIDE) >> 24) & 0xff) << 56)
	.quad 0
	.set i, i + 1
	.endr

/* TSSs: rsp0 = the CPU's ring-0 stack; I/O map base past the limit (no ports). */
	.set i, 0
	.rept MAX_CPUS
	.org TSS_ADDR - IMAGE_BASE + i * TSS_STRIDE
	.long 0
	.quad kstacks + (i + 1) * KSTACK_SIZE
	.org TSS_ADDR - IMAGE_BASE + i * TSS_STRIDE + 102
	.word 104
	.set i, i + 1
	.endr
	.org TEXT_ADDR - IMAGE_BASE

/* ---- entry ---- */
	.text
	.code32
	.globl pvh_entry
pvh_entry:
	/* PVH: protected mode, paging off, flat segments, ebx = hvm_start_info. */
	movl %ebx, pvh_start_info
	rdtsc
	movl %eax, boot_tsc
	movl %edx, boot_tsc + 4
	xorl %esi, %esi
common32:
	/* esi = CPU index. */
	lgdt gdt_ptr
	movl $PML4_ADDR, %eax
	movl %eax, %cr3
	movl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $EFER_MSR, %ecx
	movl $EFER_LME, %eax
	xorl %edx, %edx
	wrmsr
	movl $(CR0_PG | CR0_ET | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $SEL_KCODE, $long64

	.globl ap_entry32
ap_entry32:
	/* From the trampoline: CS = SEL_KCODE32, the data segments still real-mode ones. */
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl ap_boot_index, %esi
	jmp common32

	.code64
long64:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	lidt idt_ptr
	movl %esi, %eax
	shll $4, %eax
	addl $SEL_TSS0, %eax
	ltr %ax
	leal 1(%rsi), %eax
	.if KSTACK_SIZE != 4096
	.error "long64 assumes KSTACK_SIZE == 4096"
	.endif
	shll $12, %eax
	leaq kstacks(%rax), %rsp
	testl %esi, %esi
	jnz 1f
	movl $bsp_ustack_top, %ecx
	movl $user_bsp_start, %edx
	jmp 2f
1:	movq ap_boot_ustack, %rcx
	movl $user_ap_start, %edx
2:	pushq $SEL_UDATA
	pushq %rcx
	pushq $0x2 /* IF = 0 until ring 3 asks for interrupts */
	pushq $SEL_UCODE
	pushq %rdx
	movl %esi, %edi
	iretq

/* ---- ring-3 entry points (the C code runs here) ---- */
user_bsp_start:
	xorl %ebp, %ebp
	call guest_main
1:	jmp 1b
user_ap_start:
	xorl %ebp, %ebp
	call guest_ap_main /* edi = CPU index */
1:	jmp 1b
user_fault_start:
	xorl %ebp, %ebp
	call guest_fault_report
1:	jmp 1b

/* ---- interrupts: count, EOI, return ---- */
irq_common:
	/* [rsp] = vector, then the CPU's frame. */
	pushq %rax
	movq 8(%rsp), %rax
	lock incl irq_count(, %rax, 4)
	lock incq irq_seq
	movl $LAPIC_EOI, %eax
	movl $0, (%rax)
	popq %rax
	addq $8, %rsp
	iretq

/* ---- unexpected exceptions: record, then report from ring 3 ---- */
exc_common:
	/* [rsp] = vector, error code, rip, cs, rflags, rsp, ss. */
	cld
	lock btsq $0, in_fault /* one reporter; any other CPU that faults dies */
	jc fault_die
	movq %rax, fault_info + FAULT_RAX
	movq %rbx, fault_info + FAULT_RAX + 8
	movq %rcx, fault_info + FAULT_RAX + 16
	movq %rdx, fault_info + FAULT_RAX + 24
	movq %rsi, fault_info + FAULT_RAX + 32
	movq %rdi, fault_info + FAULT_RAX + 40
	movq %rbp, fault_info + FAULT_RAX + 48
	movq %r8, fault_info + FAULT_RAX + 56
	movq %r9, fault_info + FAULT_RAX + 64
	movq %r10, fault_info + FAULT_RAX + 72
	movq %r11, fault_info + FAULT_RAX + 80
	movq %r12, fault_info + FAULT_RAX + 88
	movq %r13, fault_info + FAULT_RAX + 96
	movq %r14, fault_info + FAULT_RAX + 104
	movq %r15, fault_info + FAULT_RAX + 112
	movl $fault_info, %edi
	movl $7, %ecx
	movq %rsp, %rsi
	rep movsq /* vector .. ss */
	movq %cr2, %rax
	movq %rax, fault_info + FAULT_CR2
	pushq $SEL_UDATA
	pushq $fault_ustack_top
	pushq $0x2
	pushq $SEL_UCODE
	pushq $user_fault_start
	iretq
fault_die:
	/* A fault while reporting one: FAIL at once. */
	movb $1, %al
	outb %al, $DEBUG_EXIT_PORT
	cli
1:	hlt
	jmp 1b

/* ---- services (abi.h) ---- */
svc_entry:
	testb $3, 8(%rsp) /* CS of the caller: ring 3 only */
	jz 9f
	movq (%rsp), %rcx
	cmpw $0x0b0f, (%rcx) /* ud2 */
	jne 9f
	movq %rax, %rcx
	shrq $32, %rcx
	cmpl $SVC_MAGIC, %ecx
	jne 9f
	cmpl $SVC_COUNT, %eax
	jae 9f
	movl %eax, %eax /* rax kept whole until here, for the fault report */
	addq $2, (%rsp)
	jmp *svc_table(, %rax, 8)
9:	pushq $0
	pushq $VEC_UD
	jmp exc_common

svc_outb:
	movl %edi, %edx
	movl %esi, %eax
	outb %al, %dx
	iretq
svc_inb:
	movl %edi, %edx
	xorl %eax, %eax
	inb %dx, %al
	iretq
svc_outw:
	movl %edi, %edx
	movl %esi, %eax
	outw %ax, %dx
	iretq
svc_inw:
	movl %edi, %edx
	xorl %eax, %eax
	inw %dx, %ax
	iretq
svc_outl:
	movl %edi, %edx
	movl %esi, %eax
	outl %eax, %dx
	iretq
svc_inl:
	movl %edi, %edx
	inl %dx, %eax
	iretq

svc_pio_batch:
	/* rdi = struct pio_op[], rsi = count */
1:	testq %rsi, %rsi
	jz 9f
	movzwl PIO_OP_PORT(%rdi), %edx
	movzbl PIO_OP_SIZE(%rdi), %ecx
	cmpb $0, PIO_OP_WRITE(%rdi)
	je 5f
	movl PIO_OP_VALUE(%rdi), %eax
	cmpl $1, %ecx
	jne 2f
	outb %al, %dx
	jmp 8f
2:	cmpl $2, %ecx
	jne 3f
	outw %ax, %dx
	jmp 8f
3:	outl %eax, %dx
	jmp 8f
5:	xorl %eax, %eax
	cmpl $1, %ecx
	jne 6f
	inb %dx, %al
	jmp 7f
6:	cmpl $2, %ecx
	jne 4f
	inw %dx, %ax
	jmp 7f
4:	inl %dx, %eax
7:	movl %eax, PIO_OP_VALUE(%rdi)
8:	addq $8, %rdi
	decq %rsi
	jmp 1b
9:	iretq

svc_uart_write:
	/* rdi = base port, rsi = buf, rdx = len; -> bytes written. */
	movq %rdx, %r8 /* left */
	movq %rdx, %r11 /* len */
1:	testq %r8, %r8
	jz 9f
	leal 5(%edi), %edx /* LSR */
	movl $UART_THRE_SPINS, %r10d
2:	inb %dx, %al
	testb $0x20, %al /* THRE: the FIFO is empty */
	jnz 3f
	decl %r10d
	jnz 2b
	jmp 9f
3:	movl $UART_TX_CHUNK, %ecx
	cmpq %rcx, %r8
	cmovbq %r8, %rcx
	subq %rcx, %r8
	movl %edi, %edx
	rep outsb
	jmp 1b
9:	movq %r11, %rax
	subq %r8, %rax
	iretq

svc_uart_read:
	/* rdi = base port, rsi = buf, rdx = max; -> bytes read. */
	movq %rdx, %r10
	xorl %ecx, %ecx
1:	cmpq %r10, %rcx
	jae 9f
	leal 5(%edi), %edx /* LSR */
	inb %dx, %al
	testb $1, %al /* DR */
	jz 9f
	movl %edi, %edx
	inb %dx, %al
	movb %al, (%rsi, %rcx)
	incq %rcx
	jmp 1b
9:	movq %rcx, %rax
	iretq

svc_wait_irq:
	/* rdi = irq_seq the caller saw; sleep unless it moved since. */
	movq irq_seq, %rax
	cmpq %rdi, %rax
	jne 1f
	sti
	hlt
	cli
	movq irq_seq, %rax
1:	iretq

svc_irq_on:
	orq $RFLAGS_IF, 16(%rsp)
	iretq
svc_irq_off:
	andq $~RFLAGS_IF, 16(%rsp)
	iretq

svc_rdmsr:
	movl %edi, %ecx
	rdmsr
	shlq $32, %rdx
	orq %rdx, %rax
	iretq
svc_wrmsr:
	movl %edi, %ecx
	movl %esi, %eax
	movq %rsi, %rdx
	shrq $32, %rdx
	wrmsr
	iretq

svc_exit:
	movl %edi, %eax
	outb %al, $DEBUG_EXIT_PORT
	/* fall through: nothing left to do if the VMM did not stop us */
svc_stop_cpu:
	cli
1:	hlt
	jmp 1b

svc_triple_fault:
	lidt zero_idt_ptr
	ud2

/* ---- data ---- */
	.section .rodata
	.balign 8
svc_table:
	.quad svc_outb, svc_inb, svc_outw, svc_inw, svc_outl, svc_inl
	.quad svc_pio_batch, svc_uart_write, svc_uart_read, svc_wait_irq
	.quad svc_irq_on, svc_irq_off, svc_rdmsr, svc_wrmsr, svc_exit
	.quad svc_stop_cpu, svc_triple_fault
	.if (. - svc_table) != SVC_COUNT * 8
	.error "svc_table does not match SVC_COUNT"
	.endif

	.balign 8
gdt_ptr:
	.word GDT_SIZE - 1
	.quad GDT_ADDR
	.balign 8
idt_ptr:
	.word 256 * 16 - 1
	.quad IDT_ADDR
	.balign 8
zero_idt_ptr:
	.word 0
	.quad 0

/*
 * The AP trampoline, copied by ring 3 to a free page below 1 MiB whose page
 * number is the SIPI vector. Real mode -> flat 32-bit code -> ap_entry32.
 */
	.balign 16
	.globl tramp_start, tramp_end
	.code16
tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdtr - tramp_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE32, $ap_entry32
	.balign 8
tramp_gdtr:
	.word GDT_SIZE - 1
	.long GDT_ADDR
tramp_end:
	.code64

	.data
	.balign 8
	.globl pvh_start_info, boot_tsc, ap_boot_index, ap_boot_ustack
pvh_start_info:
	.quad 0
boot_tsc:
	.quad 0
ap_boot_index:
	.long 0
	.long 0
ap_boot_ustack:
	.quad 0

	.bss
	.balign 64
	.globl irq_count, irq_seq, fault_info, in_fault
irq_count:
	.skip 256 * 4
irq_seq:
	.skip 8
fault_info:
	.skip FAULT_SIZE
in_fault:
	.skip 8
	.balign 4096
kstacks:
	.skip KSTACK_SIZE * MAX_CPUS
	.balign 16
	.skip USTACK_SIZE
bsp_ustack_top:
	.skip 16384
fault_ustack_top:

	.section .note.GNU-stack, "", @progbits
