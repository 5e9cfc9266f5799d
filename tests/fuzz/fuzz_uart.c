/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_uart: the 16550A register model (devices/serial/uart.c) under any
 * sequence of register accesses and input bytes.
 *
 * Input: ops (first byte % 4):
 *   0  u8 offset                 uart_read (offsets 0..9: 8 and 9 are outside)
 *   1  u8 offset, u8 value       uart_write
 *   2  u8 count, bytes           uart_rx
 *   3  -                         uart_rx_room
 *
 * Checked after every op, against a small reference of the datasheet rules
 * the model promises: the receive FIFO never holds more than 16 bytes and
 * never loses, reorders or invents one (input bytes and loopback THR writes
 * come back from RBR in order); uart_rx takes at most uart_rx_room() bytes
 * and none in loopback; LSR.DR says whether data is waiting; tx is never
 * called in loopback; the interrupt line always equals "OUT2 set, loopback
 * off, an enabled source pending", and ops->irq is called only on a change.
 */
#include <stdint.h>
#include <string.h>

#include "devices/serial/uart.h"
#include "fz.h"

static struct uart u;
static int line; /* last level ops->irq reported */
static uint8_t fifo[UART_FIFO_SIZE]; /* the reference receive FIFO */
static unsigned int fhead, fcount;

static void on_tx(void *ctx, uint8_t c)
{
	(void)ctx;
	(void)c;
	FZ_CHECK(!(u.mcr & 0x10), "tx called in loopback");
}

static void on_irq(void *ctx, int level)
{
	(void)ctx;
	FZ_CHECK(level == 0 || level == 1, "irq level %d", level);
	FZ_CHECK(level != line, "irq(%d) called without a change", level);
	line = level;
}

static const struct uart_ops ops = { .tx = on_tx, .irq = on_irq };

static void ref_push(uint8_t c)
{
	if (fcount < UART_FIFO_SIZE) {
		fifo[(fhead + fcount) % UART_FIFO_SIZE] = c;
		fcount++;
	}
}

static int source_pending(const struct uart *x)
{
	return ((x->ier & 0x04) && (x->lsr & 0x02)) || ((x->ier & 0x01) && x->rx_count) ||
	       ((x->ier & 0x02) && x->iir_pending_thre) || ((x->ier & 0x08) && (x->msr & 0x0f));
}

static void check_state(void)
{
	int want = (u.mcr & 0x18) == 0x08 && source_pending(&u);

	FZ_CHECK(u.rx_count <= UART_FIFO_SIZE && u.rx_head < UART_FIFO_SIZE, "FIFO head %u count %u", u.rx_head,
		 u.rx_count);
	FZ_CHECK(u.rx_count == fcount, "FIFO holds %u bytes, %u went in and were not read", u.rx_count, fcount);
	FZ_CHECK(u.irq_level == line, "irq_level %d, line %d", u.irq_level, line);
	FZ_CHECK(line == want, "interrupt line %d, want %d (ier 0x%x mcr 0x%x lsr 0x%x msr 0x%x rx %u thre %u)",
		 line, want, u.ier, u.mcr, u.lsr, u.msr, u.rx_count, u.iir_pending_thre);
	FZ_CHECK(!(u.ier & 0xf0) && !(u.mcr & 0xe0), "reserved bits set: ier 0x%x mcr 0x%x", u.ier, u.mcr);
}

static void do_read(unsigned int off)
{
	int dlab = u.lcr & 0x80;
	unsigned int count = fcount;
	uint8_t v = uart_read(&u, off);

	if (off == 0 && !dlab && count) {
		FZ_CHECK(v == fifo[fhead], "RBR read 0x%02x, the oldest byte is 0x%02x", v, fifo[fhead]);
		fhead = (fhead + 1) % UART_FIFO_SIZE;
		fcount--;
	}
	if (off == 5)
		FZ_CHECK(!!(v & 0x01) == !!count, "LSR.DR %d with %u bytes waiting", v & 1, count);
	if (off >= UART_NREGS)
		FZ_CHECK(v == 0xff, "register %u outside the UART read 0x%02x", off, v);
}

static void do_write(unsigned int off, uint8_t val)
{
	int dlab = u.lcr & 0x80;

	if (off == 0 && !dlab && (u.mcr & 0x10))
		ref_push(val); /* loopback: THR comes back in RBR */
	if (off == 2) {
		if ((val ^ u.fcr) & 0x01)
			fhead = fcount = 0;
		else if ((val & 0x01) && (val & 0x02))
			fhead = fcount = 0;
	}
	uart_write(&u, off, val);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int ops_done = 0;
	struct fz in;

	line = 0;
	fhead = fcount = 0;
	uart_init(&u, &ops, NULL);
	fz_init(&in, data, size);
	check_state();
	while (!fz_empty(&in) && ops_done++ < 8192) {
		switch (fz_u8(&in) % 4) {
		case 0:
			do_read(fz_u8(&in) % 10);
			break;
		case 1: {
			unsigned int off = fz_u8(&in) % 10;

			do_write(off, fz_u8(&in));
			break;
		}
		case 2: {
			uint8_t b[64];
			size_t n = fz_u8(&in) % sizeof(b), took;
			unsigned int room = uart_rx_room(&u);

			fz_take(&in, b, n);
			took = uart_rx(&u, b, n);
			FZ_CHECK(took <= room && took <= n && (took == n || took == room),
				 "uart_rx took %zu of %zu with room %u", took, n, room);
			FZ_CHECK(!(u.mcr & 0x10) || took == 0, "uart_rx took input in loopback");
			for (size_t i = 0; i < took; i++)
				ref_push(b[i]);
			break;
		}
		case 3:
			FZ_CHECK(uart_rx_room(&u) + fcount <= UART_FIFO_SIZE, "room %u with %u waiting",
				 uart_rx_room(&u), fcount);
			break;
		default:
			break;
		}
		check_state();
	}
	return 0;
}
