/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The serial console: a 16550A on COM1, programmed in one PIO batch, written
 * and read through the UART services so that a line costs one trap.
 */
#include "guest.h"

#define UART_RBR 0
#define UART_THR 0
#define UART_DLL 0
#define UART_IER 1
#define UART_DLM 1
#define UART_IIR 2
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_DR 0x01
#define UART_MCR_LOOP 0x10

#define BOOT_MARKER_PORT 0x3f0
#define BOOT_MARKER_VALUE 123 /* what Firecracker's boot timer expects */

static char early_rx[UART_TX_CHUNK + 1];
static size_t early_rx_len;
static int uart_dead;

void console_init(void)
{
	struct pio_op setup[] = {
		{ BOOT_MARKER_PORT, 1, 1, BOOT_MARKER_VALUE }, /* first: the VMM timestamps it */
		{ 0x21, 1, 1, 0xff }, /* mask both 8259s; interrupts go through the IOAPIC */
		{ 0xa1, 1, 1, 0xff },
		{ COM1 + UART_IER, 1, 1, 0 },
		{ COM1 + UART_MCR, 1, 1, UART_MCR_LOOP },
	};
	struct pio_op init[] = {
		{ COM1 + UART_FCR, 1, 1, 0x01 }, /* FIFO on, RX trigger 1 byte, no reset */
		{ COM1 + UART_MCR, 1, 1, 0x0b }, /* loopback off; DTR, RTS, OUT2 */
		{ COM1 + UART_LSR, 1, 0, 0 },
		{ COM1 + UART_RBR, 1, 0, 0 },
		{ COM1 + UART_LCR, 1, 1, 0x80 }, /* DLAB */
		{ COM1 + UART_DLL, 1, 1, 1 }, /* 115200 baud */
		{ COM1 + UART_DLM, 1, 1, 0 },
		{ COM1 + UART_LCR, 1, 1, 0x03 }, /* 8N1 */
	};

	/*
	 * Switching the FIFO on empties it, so input that arrived before init
	 * (a byte in RBR, or more in a model that buffers it) is taken first,
	 * in loopback, where the serial input is disconnected and nothing new
	 * arrives. QEMU keeps receiving in loopback but sends the next byte
	 * only when prompted by an RBR read outside loopback: the read after
	 * loopback is switched off does that, and keeps a byte it delivers.
	 */
	pio_batch(setup, nitems(setup));
	early_rx_len = svc_call(SVC_UART_READ, COM1, (uintptr_t)early_rx, sizeof(early_rx));
	pio_batch(init, nitems(init));
	if (init[2].value != 0xff && (init[2].value & UART_LSR_DR) && early_rx_len < sizeof(early_rx))
		early_rx[early_rx_len++] = (char)init[3].value;
}

void console_write(const char *s, size_t n)
{
	while (n && !uart_dead) {
		uint64_t w = svc_call(SVC_UART_WRITE, COM1, (uintptr_t)s, n);

		if (w == 0) {
			uart_dead = 1; /* THRE never came: no UART, stop paying for it */
			break;
		}
		s += w;
		n -= w;
	}
}

void console_puts(const char *s)
{
	console_write(s, strlen(s));
}

void cprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	console_write(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

size_t console_read(char *buf, size_t max)
{
	size_t n = 0;

	while (early_rx_len && n < max) {
		buf[n++] = early_rx[0];
		memmove(early_rx, early_rx + 1, --early_rx_len);
	}
	if (n < max)
		n += svc_call(SVC_UART_READ, COM1, (uintptr_t)(buf + n), max - n);
	return n;
}

void console_set_ier(uint8_t ier)
{
	outb(COM1 + UART_IER, ier);
}

uint8_t console_iir(void)
{
	return inb(COM1 + UART_IIR);
}
