/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A 16550A UART register model, without any I/O: the caller feeds it register
 * accesses and input bytes, and it calls back to transmit a byte and to
 * change its interrupt line. Every register offset and value is guest input.
 */
#ifndef BULKHEAD_DEVICES_SERIAL_UART_H
#define BULKHEAD_DEVICES_SERIAL_UART_H

#include <stddef.h>
#include <stdint.h>

#define UART_FIFO_SIZE 16
#define UART_NREGS 8

struct uart_ops {
	/* tx: the guest wrote byte c to THR (not called in loopback mode). */
	void (*tx)(void *ctx, uint8_t c);
	/* irq: the interrupt line changed to level (0 or 1). */
	void (*irq)(void *ctx, int level);
};

struct uart {
	const struct uart_ops *ops;
	void *ctx;
	uint8_t ier, iir_pending_thre, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
	uint8_t rx[UART_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	int irq_level;
};

/* What a UART that replaces another needs (--on-device-failure restart). */
struct uart_state {
	uint8_t ier, fcr, lcr, mcr, scr, dll, dlm, thre_pending;
	uint8_t rx[UART_FIFO_SIZE]; /* the receive FIFO, oldest first */
	uint32_t rx_count;
};

/*
 * What the vcpu process may answer without asking the UART (a register
 * shadow, ipc.h): the value a read of each register returns, which reads
 * change nothing (quiet: not RBR with data, not IIR while it reports THRE,
 * not LSR with an error bit, not MSR with a delta bit), and which writes, of
 * any value, change neither a quiet register nor which are quiet (keeps: THR
 * outside loopback and DLAB unless it raises a THRE interrupt; LSR and MSR,
 * which ignore writes), and which writes do so when they write the value the
 * register reads (keeps_same: IER or DLM, LCR, MCR, SCR, DLL).
 */
struct uart_view {
	uint8_t regs[UART_NREGS];
	uint8_t quiet; /* bit i: reading register i has no side effect; regs[i] is what it returns */
	uint8_t keeps; /* bit i: a write to register i leaves every quiet register and the masks */
	uint8_t keeps_same; /* bit i: so does a write of regs[i] (the value it reads) to register i */
};

/* uart_init: reset state; ops->tx and ops->irq must be set. */
void uart_init(struct uart *u, const struct uart_ops *ops, void *ctx);
/* uart_read: value of register off (0..7; others read 0xff), with read side effects. */
uint8_t uart_read(struct uart *u, unsigned int off);
/* uart_write: write register off (0..7; others ignored). */
void uart_write(struct uart *u, unsigned int off, uint8_t val);
/* uart_rx_room: how many input bytes the receive FIFO can take now. */
unsigned int uart_rx_room(const struct uart *u);
/* uart_rx: queue up to len input bytes; returns how many it took. */
size_t uart_rx(struct uart *u, const uint8_t *buf, size_t len);
/* uart_view: what reads of u would return and which have no side effect, without reading. */
void uart_view(const struct uart *u, struct uart_view *v);
/* uart_save: what u holds, for a UART that replaces it. */
void uart_save(const struct uart *u, struct uart_state *st);
/*
 * uart_restore: set u (just initialised) as st says, each register through
 * the same write the guest makes; 0, or -EINVAL (st makes no sense: u stays
 * as it was reset).
 */
int uart_restore(struct uart *u, const struct uart_state *st);

#endif
