/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devices/serial/uart.c: the 16550A register model, driven the way the Linux
 * 8250 driver and the datasheet drive it, plus random access sequences that
 * must not crash (run under ASan/UBSan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../devices/serial/uart.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

#define OUT2 0x08
#define LOOP 0x10
#define DLAB 0x80

struct sink {
	uint8_t tx[4096];
	size_t ntx;
	int level; /* last level reported */
	unsigned int nirq; /* irq callbacks */
	int bad; /* a callback reported a level that did not change, or not 0/1 */
};

static void sink_tx(void *ctx, uint8_t c)
{
	struct sink *s = ctx;

	if (s->ntx < sizeof(s->tx))
		s->tx[s->ntx] = c;
	s->ntx++;
}

static void sink_irq(void *ctx, int level)
{
	struct sink *s = ctx;

	if ((level != 0 && level != 1) || level == s->level)
		s->bad = 1;
	s->level = level;
	s->nirq++;
}

static const struct uart_ops sink_ops = { .tx = sink_tx, .irq = sink_irq };

static void setup(struct uart *u, struct sink *s)
{
	memset(s, 0, sizeof(*s));
	uart_init(u, &sink_ops, s);
}

static void rx_str(struct uart *u, const char *str)
{
	size_t len = strlen(str);

	assert_int_equal(uart_rx(u, (const uint8_t *)str, len), len);
}

static void test_reset_values(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	memset(&u, 0x5a, sizeof(u));
	setup(&u, &s);
	assert_int_equal(uart_read(&u, IER), 0x00);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_int_equal(uart_read(&u, LCR), 0x00);
	assert_int_equal(uart_read(&u, MCR), 0x00);
	assert_int_equal(uart_read(&u, LSR), 0x60);
	assert_int_equal(uart_read(&u, MSR) & 0x0f, 0x00); /* no deltas after reset */
	assert_int_equal(uart_read(&u, SCR), 0x00);
	assert_int_equal(uart_read(&u, RBR), 0x00); /* empty */
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE);
	assert_int_equal(s.nirq, 0);
	assert_int_equal(s.ntx, 0);
}

static void test_lcr_dlab_divisor(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	uart_write(&u, IER, 0x05);
	uart_write(&u, LCR, DLAB | 0x03);
	assert_int_equal(uart_read(&u, LCR), DLAB | 0x03);
	uart_write(&u, DLL, 0x01);
	uart_write(&u, DLM, 0x02);
	assert_int_equal(uart_read(&u, DLL), 0x01);
	assert_int_equal(uart_read(&u, DLM), 0x02);
	/* divisor writes are not transmitted and do not touch IER */
	assert_int_equal(s.ntx, 0);
	uart_write(&u, LCR, 0x03);
	assert_int_equal(uart_read(&u, IER), 0x05);
	uart_write(&u, THR, 'x');
	assert_int_equal(s.ntx, 1);
	uart_write(&u, LCR, DLAB);
	assert_int_equal(uart_read(&u, DLL), 0x01);
	assert_int_equal(uart_read(&u, DLM), 0x02);
	uart_write(&u, DLL, 0xff);
	uart_write(&u, DLM, 0xff);
	assert_int_equal(uart_read(&u, DLL), 0xff);
	assert_int_equal(uart_read(&u, DLM), 0xff);
	/* every LCR value reads back */
	for (unsigned int v = 0; v < 256; v++) {
		uart_write(&u, LCR, (uint8_t)v);
		assert_int_equal(uart_read(&u, LCR), v);
	}
	/* with DLAB set, RBR is not read: the received byte stays */
	uart_write(&u, LCR, 0);
	rx_str(&u, "z");
	uart_write(&u, LCR, DLAB);
	assert_int_equal(uart_read(&u, RBR), 0xff); /* DLL */
	uart_write(&u, LCR, 0);
	assert_int_equal(uart_read(&u, RBR), 'z');
}

static void test_scratch(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	for (unsigned int v = 0; v < 256; v++) {
		uart_write(&u, SCR, (uint8_t)v);
		assert_int_equal(uart_read(&u, SCR), v);
	}
	uart_write(&u, LCR, DLAB);
	uart_write(&u, SCR, 0x42);
	assert_int_equal(uart_read(&u, SCR), 0x42);
	assert_int_equal(s.ntx, 0);
	assert_int_equal(s.nirq, 0);
}

static void test_tx(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	for (unsigned int v = 0; v < 256; v++) {
		uart_write(&u, THR, (uint8_t)v);
		/* transmission is instantaneous */
		assert_int_equal(uart_read(&u, LSR) & 0x60, 0x60);
	}
	assert_int_equal(s.ntx, 256);
	for (unsigned int v = 0; v < 256; v++)
		assert_int_equal(s.tx[v], v);
}

static void test_fifo(void **state)
{
	uint8_t in[3 * UART_FIFO_SIZE];
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(0x30 + i);
	uart_write(&u, FCR, 0x01);

	/* it takes only what it has room for */
	assert_int_equal(uart_rx(&u, in, 5), 5);
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE - 5);
	assert_int_equal(uart_read(&u, LSR) & 0x01, 0x01);
	assert_int_equal(uart_rx(&u, in + 5, sizeof(in) - 5), UART_FIFO_SIZE - 5);
	assert_int_equal(uart_rx_room(&u), 0);
	assert_int_equal(uart_rx(&u, in, 1), 0);
	assert_int_equal(uart_rx(&u, in, 0), 0);
	assert_int_equal(uart_rx(&u, NULL, 0), 0);

	/* drained in order; room comes back one byte at a time */
	for (unsigned int i = 0; i < UART_FIFO_SIZE; i++) {
		assert_int_equal(uart_read(&u, LSR) & 0x01, 0x01);
		assert_int_equal(uart_read(&u, RBR), in[i]);
		assert_int_equal(uart_rx_room(&u), i + 1);
	}
	assert_int_equal(uart_read(&u, LSR), 0x60);
	assert_int_equal(uart_read(&u, RBR), 0);

	/* wrap around the ring several times */
	for (unsigned int round = 0; round < 5; round++) {
		assert_int_equal(uart_rx(&u, in, 7), 7);
		for (unsigned int i = 0; i < 7; i++)
			assert_int_equal(uart_read(&u, RBR), in[i]);
	}
	assert_int_equal(uart_rx(&u, in, 10), 10);
	assert_int_equal(uart_read(&u, RBR), in[0]);
	assert_int_equal(uart_rx(&u, in + 10, 10), 7);
	for (unsigned int i = 1; i < 17; i++)
		assert_int_equal(uart_read(&u, RBR), in[i]);
	assert_int_equal(uart_read(&u, LSR) & 0x01, 0);

	/* FCR bit 1 clears the receive FIFO; bit 2 (transmit) leaves it */
	rx_str(&u, "abc");
	uart_write(&u, FCR, 0x05);
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE - 3);
	uart_write(&u, FCR, 0x03);
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE);
	assert_int_equal(uart_read(&u, LSR), 0x60);
	/* changing FCR bit 0 resets the FIFOs; IIR bits 6-7 follow it */
	rx_str(&u, "abc");
	assert_int_equal(uart_read(&u, IIR), 0xc1);
	uart_write(&u, FCR, 0x00);
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	/* clear bits without FCR0 do nothing (datasheet: only programmed with FCR0) */
	rx_str(&u, "abc");
	uart_write(&u, FCR, 0x06);
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE - 3);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	/* rewriting FCR0=1 while enabled keeps the data */
	uart_write(&u, FCR, 0x01);
	rx_str(&u, "d");
	uart_write(&u, FCR, 0xc1);
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE - 1);
	assert_int_equal(uart_read(&u, IIR), 0xc1); /* bits 4-5 stay 0: not a 16750 */
	uart_write(&u, FCR, 0x21);
	assert_int_equal(uart_read(&u, IIR) & 0x30, 0);
}

static void test_iir_priorities(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	uart_write(&u, MCR, OUT2);

	/* data available: only with IER bit 0 */
	rx_str(&u, "a");
	assert_int_equal(uart_read(&u, IIR), 0x01);
	uart_write(&u, IER, 0x01);
	assert_int_equal(uart_read(&u, IIR), 0x04);
	assert_int_equal(uart_read(&u, IIR), 0x04); /* reading IIR does not clear it */
	assert_int_equal(s.level, 1);
	assert_int_equal(uart_read(&u, RBR), 'a');
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_int_equal(s.level, 0);

	/* THRE set by enabling IER bit 1; data available outranks it */
	rx_str(&u, "b");
	uart_write(&u, IER, 0x03);
	assert_int_equal(uart_read(&u, IIR), 0x04);
	assert_int_equal(uart_read(&u, IIR), 0x04); /* THRE is not cleared underneath */
	assert_int_equal(uart_read(&u, RBR), 'b');
	assert_int_equal(uart_read(&u, IIR), 0x02);
	/* reading IIR cleared THRE */
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_int_equal(s.level, 0);

	/* a THR write re-arms it */
	uart_write(&u, THR, 'x');
	assert_int_equal(s.level, 1);
	assert_int_equal(uart_read(&u, IIR), 0x02);
	assert_int_equal(uart_read(&u, IIR), 0x01);

	/* IER bit 1 already set: rewriting it does not re-arm */
	uart_write(&u, IER, 0x03);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	/* 1 -> 0 -> 1 does */
	uart_write(&u, IER, 0x01);
	uart_write(&u, IER, 0x03);
	assert_int_equal(uart_read(&u, IIR), 0x02);
	assert_int_equal(uart_read(&u, IIR), 0x01);

	/* a pending THRE masked by IER is not reported, nor cleared by reading IIR */
	uart_write(&u, THR, 'y');
	uart_write(&u, IER, 0x01);
	assert_int_equal(uart_read(&u, IIR), 0x01);
	assert_int_equal(s.level, 0);

	/* a THR write while data is pending: data is reported first, THRE after */
	uart_write(&u, IER, 0x00);
	uart_write(&u, IER, 0x03);
	assert_int_equal(uart_read(&u, IIR), 0x02);
	rx_str(&u, "c");
	uart_write(&u, THR, 'z');
	assert_int_equal(uart_read(&u, IIR), 0x04);
	assert_int_equal(uart_read(&u, RBR), 'c');
	assert_int_equal(uart_read(&u, IIR), 0x02);
	assert_int_equal(uart_read(&u, IIR), 0x01);

	/* IER bits 4-7 do not exist */
	uart_write(&u, IER, 0xf0);
	assert_int_equal(uart_read(&u, IER), 0x00);
	uart_write(&u, IER, 0xff);
	assert_int_equal(uart_read(&u, IER), 0x0f);
	assert_int_equal(s.bad, 0);
}

static void test_thre_linux_probe(void **state)
{
	struct uart u;
	struct sink s;
	uint8_t iir1, iir, lsr;

	(void)state;
	setup(&u, &s);
	/* serial8250_do_startup's UART_BUG_THRE test */
	uart_write(&u, IER, 0x02);
	iir1 = uart_read(&u, IIR);
	uart_write(&u, IER, 0x00);
	uart_write(&u, IER, 0x02);
	iir = uart_read(&u, IIR);
	uart_write(&u, IER, 0x00);
	lsr = uart_read(&u, LSR);
	assert_false(iir1 & 0x01);
	assert_false((lsr & 0x40) && (iir & 0x01));
	/* ... and its UART_BUG_TXEN test */
	uart_write(&u, IER, 0x02);
	lsr = uart_read(&u, LSR);
	iir = uart_read(&u, IIR);
	uart_write(&u, IER, 0x00);
	assert_false((lsr & 0x40) && (iir & 0x01));
}

static void test_irq_level_changes(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	uart_write(&u, MCR, OUT2);
	uart_write(&u, IER, 0x01);
	assert_int_equal(s.nirq, 0);
	rx_str(&u, "ab");
	assert_int_equal(s.nirq, 1);
	assert_int_equal(s.level, 1);
	rx_str(&u, "cd"); /* still high: no callback */
	uart_write(&u, SCR, 1);
	uart_write(&u, LCR, 3);
	(void)uart_read(&u, IIR);
	(void)uart_read(&u, LSR);
	assert_int_equal(s.nirq, 1);
	for (int i = 0; i < 3; i++)
		(void)uart_read(&u, RBR);
	assert_int_equal(s.nirq, 1);
	assert_int_equal(uart_read(&u, RBR), 'd');
	assert_int_equal(s.nirq, 2);
	assert_int_equal(s.level, 0);
	/* IER toggles the line */
	rx_str(&u, "e");
	assert_int_equal(s.nirq, 3);
	uart_write(&u, IER, 0);
	assert_int_equal(s.nirq, 4);
	assert_int_equal(s.level, 0);
	uart_write(&u, IER, 0x01);
	assert_int_equal(s.nirq, 5);
	assert_int_equal(s.level, 1);
	/* clearing the FIFO lowers it */
	uart_write(&u, FCR, 0x01); /* FCR0 0 -> 1 resets the FIFO */
	assert_int_equal(s.nirq, 6);
	assert_int_equal(s.level, 0);
	assert_int_equal(s.bad, 0);
}

static void test_out2_gating(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	uart_write(&u, IER, 0x01);
	rx_str(&u, "a");
	/* pending, but OUT2 is clear: the line stays low */
	assert_int_equal(uart_read(&u, IIR), 0x04);
	assert_int_equal(s.nirq, 0);
	uart_write(&u, MCR, 0x03); /* DTR | RTS */
	assert_int_equal(s.nirq, 0);
	uart_write(&u, MCR, 0x0b); /* DTR | RTS | OUT2, as Linux sets */
	assert_int_equal(s.nirq, 1);
	assert_int_equal(s.level, 1);
	uart_write(&u, MCR, 0x03);
	assert_int_equal(s.nirq, 2);
	assert_int_equal(s.level, 0);
	uart_write(&u, MCR, 0x0b);
	assert_int_equal(s.level, 1);
	/* the loopback forces the output pins inactive: no interrupt reaches the PIC */
	uart_write(&u, MCR, 0x1b);
	assert_int_equal(s.level, 0);
	uart_write(&u, MCR, 0x0b);
	assert_int_equal(s.level, 1);
	(void)uart_read(&u, RBR);
	assert_int_equal(s.level, 0);
	assert_int_equal(s.nirq, 6);
	assert_int_equal(s.bad, 0);
}

static void test_loopback(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	uart_write(&u, FCR, 0x07);
	/* Linux autoconfig: MCR = LOOP | 0x0A must read MSR & 0xf0 == 0x90 */
	uart_write(&u, MCR, LOOP | 0x0a);
	assert_int_equal(uart_read(&u, MCR), LOOP | 0x0a);
	assert_int_equal(uart_read(&u, MSR) & 0xf0, 0x90);
	/* each output maps to its input: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
	static const struct {
		uint8_t mcr, msr;
	} map[] = {
		{ 0x01, 0x20 }, { 0x02, 0x10 }, { 0x04, 0x40 }, { 0x08, 0x80 },
		{ 0x0f, 0xf0 }, { 0x00, 0x00 }, { 0x05, 0x60 }, { 0x0a, 0x90 },
	};
	for (size_t i = 0; i < nitems(map); i++) {
		uart_write(&u, MCR, LOOP | map[i].mcr);
		assert_int_equal(uart_read(&u, MSR) & 0xf0, map[i].msr);
	}
	/* deltas: set on change, cleared by reading MSR; RI only on its trailing edge */
	uart_write(&u, MCR, LOOP);
	(void)uart_read(&u, MSR);
	uart_write(&u, MCR, LOOP | 0x0f);
	assert_int_equal(uart_read(&u, MSR), 0xf0 | 0x0b);
	assert_int_equal(uart_read(&u, MSR), 0xf0);
	uart_write(&u, MCR, LOOP);
	assert_int_equal(uart_read(&u, MSR), 0x0f);
	assert_int_equal(uart_read(&u, MSR), 0x00);
	/* modem status interrupt, lowest priority */
	uart_write(&u, IER, 0x08);
	assert_int_equal(uart_read(&u, IIR) & 0x0f, 0x01);
	uart_write(&u, MCR, LOOP | 0x01);
	assert_int_equal(uart_read(&u, IIR) & 0x0f, 0x00);
	(void)uart_read(&u, MSR);
	assert_int_equal(uart_read(&u, IIR) & 0x0f, 0x01);
	uart_write(&u, IER, 0);

	/* THR goes to the receive FIFO, not to tx */
	uart_write(&u, THR, 'L');
	uart_write(&u, THR, 'B');
	assert_int_equal(s.ntx, 0);
	assert_int_equal(uart_read(&u, LSR) & 0x61, 0x61);
	assert_int_equal(uart_read(&u, RBR), 'L');
	assert_int_equal(uart_read(&u, RBR), 'B');
	/* external input is disconnected in loopback: none is taken, none dropped */
	assert_int_equal(uart_rx_room(&u), 0);
	assert_int_equal(uart_rx(&u, (const uint8_t *)"x", 1), 0);
	/* overrun: 17 bytes into a 16-byte FIFO; the 17th is lost and LSR says so */
	for (unsigned int i = 0; i < UART_FIFO_SIZE + 1; i++)
		uart_write(&u, THR, (uint8_t)i);
	uart_write(&u, IER, 0x05);
	assert_int_equal(uart_read(&u, IIR) & 0x0f, 0x06); /* line status outranks data */
	assert_int_equal(uart_read(&u, LSR) & 0x03, 0x03);
	assert_int_equal(uart_read(&u, LSR) & 0x03, 0x01); /* OE cleared by the read */
	assert_int_equal(uart_read(&u, IIR) & 0x0f, 0x04);
	for (unsigned int i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(uart_read(&u, RBR), i);
	/* out of loopback: tx again, input accepted, modem lines idle (DCD DSR CTS) */
	uart_write(&u, MCR, 0x0b);
	uart_write(&u, THR, 'T');
	assert_int_equal(s.ntx, 1);
	assert_int_equal(s.tx[0], 'T');
	assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE);
	assert_int_equal(uart_read(&u, MSR) & 0xf0, 0xb0);
	/* MCR bits 5-7 do not exist */
	uart_write(&u, MCR, 0xe0);
	assert_int_equal(uart_read(&u, MCR), 0);
	assert_int_equal(s.bad, 0);
}

/* The register sequence of Linux's autoconfig() for a 16550A. */
static void test_linux_autoconfig(void **state)
{
	struct uart u;
	struct sink s;
	uint8_t scratch, scratch2, scratch3, status1, save_mcr, save_lcr;

	(void)state;
	setup(&u, &s);
	scratch = uart_read(&u, IER);
	uart_write(&u, IER, 0);
	scratch2 = uart_read(&u, IER) & 0x0f;
	uart_write(&u, IER, 0x0f);
	scratch3 = uart_read(&u, IER) & 0x0f;
	uart_write(&u, IER, scratch);
	assert_int_equal(scratch2, 0);
	assert_int_equal(scratch3, 0x0f);

	save_mcr = uart_read(&u, MCR);
	save_lcr = uart_read(&u, LCR);
	uart_write(&u, MCR, LOOP | 0x0a);
	status1 = uart_read(&u, MSR) & 0xf0;
	uart_write(&u, MCR, save_mcr);
	assert_int_equal(status1, 0x90);

	uart_write(&u, LCR, 0xbf); /* UART_LCR_CONF_MODE_B */
	uart_write(&u, 2, 0); /* EFR on a 16650, FCR here */
	uart_write(&u, LCR, 0);
	uart_write(&u, FCR, 0x01);
	assert_int_equal(uart_read(&u, IIR) >> 6, 3); /* 16550A family */
	/* autoconfig_16550a: no EFR at offset 2 in LCR 0xbf mode */
	uart_write(&u, LCR, 0xbf);
	assert_int_not_equal(uart_read(&u, 2), 0);
	uart_write(&u, LCR, 0);
	/* no 64-byte FIFO (16750) */
	uart_write(&u, FCR, 0x01 | 0x20);
	assert_int_equal(uart_read(&u, IIR) >> 5, 6);
	/* no UUE bit (XScale) */
	uart_write(&u, IER, 0x40);
	assert_int_equal(uart_read(&u, IER) & 0x40, 0);
	uart_write(&u, LCR, save_lcr);
	assert_int_equal(s.ntx, 0);
}

static void test_offsets_out_of_range(void **state)
{
	static const unsigned int offs[] = { 8, 9, 15, 16, 255, 256, 0x3f8, 0x7fffffff, 0x80000000u,
					     0xffffffffu };
	struct uart u, before;
	struct sink s;

	(void)state;
	setup(&u, &s);
	rx_str(&u, "q");
	uart_write(&u, IER, 0x03);
	uart_write(&u, MCR, OUT2);
	memcpy(&before, &u, sizeof(u));
	for (size_t i = 0; i < nitems(offs); i++) {
		assert_int_equal(uart_read(&u, offs[i]), 0xff);
		uart_write(&u, offs[i], 0x00);
		uart_write(&u, offs[i], 0xff);
	}
	assert_memory_equal(&u, &before, sizeof(u));
	assert_int_equal(s.ntx, 0);
}

/* A small deterministic generator (xorshift64*). */
static uint64_t rnd_next(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

/* Invariants that must hold after any access. */
static void check_invariants(struct uart *u, const struct sink *s)
{
	unsigned int room = uart_rx_room(u);
	uint8_t mcr = uart_read(u, MCR), ier, lcr = uart_read(u, LCR);

	assert_true(room <= UART_FIFO_SIZE);
	assert_true(u->rx_count <= UART_FIFO_SIZE);
	assert_true(u->rx_head < UART_FIFO_SIZE);
	assert_int_equal(mcr & 0xe0, 0);
	assert_int_equal(s->bad, 0);
	assert_int_equal(s->level, u->irq_level);
	if (!(mcr & OUT2) || (mcr & LOOP))
		assert_int_equal(u->irq_level, 0);
	if (!(lcr & DLAB)) {
		ier = uart_read(u, IER);
		assert_int_equal(ier & 0xf0, 0);
	}
}

/* ---- the register shadow's view (uart_view) ---- */

/*
 * What uart_view says holds: every quiet register reads its value and
 * changes nothing (state, interrupt line, output), and a write of any value
 * to a register it keeps changes no quiet register, nor which are quiet,
 * nor which writes are kept. Checked on copies; u is left as it was.
 */
static void check_view(const struct uart *u, uint8_t val)
{
	struct uart_view v, after;
	struct sink s2;

	uart_view(u, &v);
	for (unsigned int i = 0; i < UART_NREGS; i++) {
		struct uart c = *u;

		if (!(v.quiet & (1u << i)))
			continue;
		memset(&s2, 0, sizeof(s2));
		s2.level = u->irq_level;
		c.ctx = &s2;
		assert_int_equal(uart_read(&c, i), v.regs[i]);
		c.ctx = u->ctx;
		if (memcmp(&c, u, sizeof(c)) != 0)
			fail_msg("a read of quiet register %u changed the UART", i);
		assert_int_equal(s2.nirq + s2.ntx, 0);
	}
	for (unsigned int k = 0; k < 2 * UART_NREGS; k++) {
		unsigned int i = k % UART_NREGS, same = k >= UART_NREGS;
		struct uart c = *u;

		if (!((same ? v.keeps_same : v.keeps) & (1u << i)))
			continue;
		assert_true(!same || (v.quiet & (1u << i))); /* the value to write must be known */
		memset(&s2, 0, sizeof(s2));
		s2.level = u->irq_level;
		c.ctx = &s2;
		uart_write(&c, i, same ? v.regs[i] : val);
		uart_view(&c, &after);
		assert_int_equal(after.quiet, v.quiet);
		assert_int_equal(after.keeps, v.keeps);
		assert_int_equal(after.keeps_same, v.keeps_same);
		for (unsigned int r = 0; r < UART_NREGS; r++) {
			if ((v.quiet & (1u << r)) && after.regs[r] != v.regs[r])
				fail_msg("a kept write%s to %u changed quiet register %u: %#x -> %#x",
					 same ? " of the same value" : "", i, r, v.regs[r], after.regs[r]);
		}
	}
}

static uint8_t quiet_of(const struct uart *u)
{
	struct uart_view v;

	uart_view(u, &v);
	return v.quiet;
}

static uint8_t keeps_of(const struct uart *u)
{
	struct uart_view v;

	uart_view(u, &v);
	return v.keeps;
}

/* A console that polls LSR before every byte, as Linux's 8250 console does. */
static void test_view_console(void **state)
{
	struct uart u;
	struct sink s;
	struct uart_view v;

	(void)state;
	setup(&u, &s);
	uart_write(&u, LCR, 0x03);
	uart_write(&u, MCR, OUT2 | 0x03);
	uart_write(&u, FCR, 0x07);
	uart_write(&u, SCR, 0xa5);
	uart_view(&u, &v);
	/* every register reads quietly: nothing received, no error, no delta, no THRE interrupt */
	assert_int_equal(v.quiet, 0xff);
	assert_int_equal(v.regs[LSR], 0x60);
	assert_int_equal(v.regs[IIR], 0xc1);
	assert_int_equal(v.regs[SCR], 0xa5);
	assert_int_equal(v.regs[RBR], 0);
	/* THR writes keep everything, so LSR is answered while they are on their way */
	for (const char *p = "console line\n"; *p; p++) {
		assert_true(keeps_of(&u) & (1u << THR));
		check_view(&u, (uint8_t)*p);
		uart_write(&u, THR, (uint8_t)*p);
		uart_view(&u, &v);
		assert_int_equal(v.regs[LSR], 0x60);
	}
	assert_int_equal(s.ntx, strlen("console line\n"));
	/* IER writes of another value never do: they change IER itself; the
	 * console's IER 0 over IER 0 (its clear and restore before the port is
	 * opened) does */
	assert_false(keeps_of(&u) & (1u << IER));
	uart_view(&u, &v);
	assert_int_equal(v.regs[IER], 0);
	assert_true(v.keeps_same & (1u << IER));
	check_view(&u, 0);
	/* LSR and MSR ignore writes */
	assert_int_equal(keeps_of(&u) & ((1u << LSR) | (1u << MSR)), (1u << LSR) | (1u << MSR));
}

/* The reads that change something are never quiet, and the writes that show are never kept. */
static void test_view_side_effects(void **state)
{
	struct uart u;
	struct sink s;

	(void)state;
	setup(&u, &s);
	uart_write(&u, MCR, OUT2);
	/* received data: RBR pops it */
	rx_str(&u, "ab");
	assert_false(quiet_of(&u) & (1u << RBR));
	check_view(&u, 0);
	assert_int_equal(uart_read(&u, RBR), 'a');
	assert_int_equal(uart_read(&u, RBR), 'b');
	assert_true(quiet_of(&u) & (1u << RBR));
	/* with DLAB, offset 0 is DLL and reads quietly even with data waiting */
	rx_str(&u, "c");
	uart_write(&u, LCR, DLAB);
	assert_true(quiet_of(&u) & (1u << RBR));
	assert_false(keeps_of(&u) & (1u << THR)); /* a DLL write changes offset 0 */
	check_view(&u, 0x55);
	uart_write(&u, LCR, 0);
	assert_int_equal(uart_read(&u, RBR), 'c');
	/* THRE interrupt enabled: the write that raises it is not kept, IIR reporting it is not quiet */
	uart_write(&u, IER, 0x02);
	assert_false(quiet_of(&u) & (1u << IIR));
	assert_true(keeps_of(&u) & (1u << THR)); /* already pending: one more changes nothing */
	check_view(&u, 'x');
	assert_int_equal(uart_read(&u, IIR) & 0x0f, 0x02);
	assert_true(quiet_of(&u) & (1u << IIR));
	assert_false(keeps_of(&u) & (1u << THR));
	check_view(&u, 'y');
	uart_write(&u, THR, 'y');
	assert_false(quiet_of(&u) & (1u << IIR));
	uart_write(&u, IER, 0);
	/* an overrun error: LSR clears it */
	uart_write(&u, MCR, OUT2 | LOOP);
	assert_false(keeps_of(&u) & (1u << THR)); /* loopback: the byte is received */
	for (unsigned int i = 0; i <= UART_FIFO_SIZE; i++) {
		check_view(&u, (uint8_t)i);
		uart_write(&u, THR, (uint8_t)i);
	}
	assert_false(quiet_of(&u) & (1u << LSR));
	check_view(&u, 0);
	assert_int_equal(uart_read(&u, LSR) & 0x02, 0x02);
	assert_true(quiet_of(&u) & (1u << LSR));
	/* a modem-status delta (loopback lines follow MCR): MSR clears it */
	uart_write(&u, MCR, OUT2 | LOOP | 0x01);
	assert_false(quiet_of(&u) & (1u << MSR));
	check_view(&u, 0);
	(void)uart_read(&u, MSR);
	assert_true(quiet_of(&u) & (1u << MSR));
	check_view(&u, 0);
}

static void test_random_sequences(void **state)
{
	/* seeds: each a sequence; some biased to stress one area */
	static const struct {
		uint64_t seed;
		unsigned int steps;
		unsigned int offmask; /* offsets drawn from [0, offmask] */
	} cases[] = {
		{ 1, 20000, 7 },	    { 0xdeadbeef, 20000, 7 }, { 42, 20000, 15 },
		{ 0x123456789, 5000, 255 }, { 7, 50000, 7 },	      { 0xfeedface, 20000, 0xffff },
		{ 99, 20000, 3 },	    { 1234567, 20000, 7 },
	};

	unsigned long total_irq = 0, total_tx = 0;

	(void)state;
	for (size_t c = 0; c < nitems(cases); c++) {
		uint64_t x = cases[c].seed;
		struct uart u;
		struct sink s;

		setup(&u, &s);
		for (unsigned int i = 0; i < cases[c].steps; i++) {
			uint64_t r = rnd_next(&x);
			unsigned int off = (unsigned int)(r >> 8) & cases[c].offmask;
			uint8_t val = (uint8_t)(r >> 32);
			uint8_t buf[UART_FIFO_SIZE * 2];

			switch (r & 7) {
			case 0:
			case 1:
			case 2:
				uart_write(&u, off, val);
				break;
			case 3:
			case 4:
			case 5:
				(void)uart_read(&u, off);
				break;
			case 6: {
				size_t want = (size_t)(val % sizeof(buf)), room = uart_rx_room(&u);
				size_t got;

				memset(buf, val, sizeof(buf));
				got = uart_rx(&u, buf, want);
				assert_int_equal(got, want < room ? want : room);
				break;
			}
			default:
				/* a guest register fault storm: mostly MCR/IER/FCR/LCR */
				uart_write(&u, 1 + (unsigned int)(r >> 40) % 4, val);
				break;
			}
			check_invariants(&u, &s);
			check_view(&u, (uint8_t)(r >> 48));
		}
		total_irq += s.nirq;
		total_tx += s.ntx;
		/* data taken is data read back, in order, once the guest drains it */
		uart_write(&u, LCR, 0);
		uart_write(&u, MCR, 0);
		uart_write(&u, FCR, 0x07);
		uart_write(&u, FCR, 0x00);
		assert_int_equal(uart_rx_room(&u), UART_FIFO_SIZE);
		rx_str(&u, "0123456789abcdef");
		for (unsigned int i = 0; i < 16; i++)
			assert_int_equal(uart_read(&u, RBR), (uint8_t)"0123456789abcdef"[i]);
	}
	/* the sequences did reach the interesting paths */
	assert_true(total_irq > 100);
	assert_true(total_tx > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_values),
		cmocka_unit_test(test_lcr_dlab_divisor),
		cmocka_unit_test(test_scratch),
		cmocka_unit_test(test_tx),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_iir_priorities),
		cmocka_unit_test(test_thre_linux_probe),
		cmocka_unit_test(test_irq_level_changes),
		cmocka_unit_test(test_out2_gating),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_linux_autoconfig),
		cmocka_unit_test(test_offsets_out_of_range),
		cmocka_unit_test(test_view_console),
		cmocka_unit_test(test_view_side_effects),
		cmocka_unit_test(test_random_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
