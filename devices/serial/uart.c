/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 16550A register model (National PC16550D datasheet). Transmission is
 * instantaneous: every THR write reaches ops->tx at once, so THR and the
 * transmitter are always empty (LSR THRE|TEMT). Input is never dropped:
 * uart_rx takes at most uart_rx_room() bytes, and none while in loopback,
 * where the datasheet disconnects the serial input.
 *
 * The interrupt output follows a PC: the UART's INTRPT pin reaches the
 * interrupt controller only while OUT2 (MCR bit 3) drives the gate, and the
 * datasheet forces the modem-control output pins inactive in loopback, so the
 * line is high only when OUT2 is set, loopback is off and an interrupt is
 * pending. ops->irq is called only when that level changes.
 */
#include "uart.h"

#include <errno.h>
#include <string.h>

/* Register offsets. */
#define UART_RBR 0 /* read, DLAB=0 */
#define UART_THR 0 /* write, DLAB=0 */
#define UART_DLL 0 /* DLAB=1 */
#define UART_IER 1 /* DLAB=0 */
#define UART_DLM 1 /* DLAB=1 */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01 /* received data available */
#define IER_THRI 0x02 /* THR empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08 /* modem status */
#define IER_MASK 0x0f /* bits 4-7 are always 0 on a 16550A */

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO 0xc0 /* FIFOs enabled */

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_KEEP 0xc9 /* enable, DMA mode, trigger level; 1-2 self-clear, 4-5 reserved */

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f /* bits 5-7 are always 0 on a 16550A */

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_STICKY LSR_OE /* error bits kept in u->lsr until LSR is read */

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_LINES 0xf0
/* Outside loopback the modem inputs read as a connected, ready peer (as QEMU does). */
#define MSR_IDLE_LINES (MSR_DCD | MSR_DSR | MSR_CTS)

#define UART_DEFAULT_DLL 0x0c /* 9600 baud from 1.8432 MHz */

static uint8_t iir_id(const struct uart *u)
{
	if ((u->ier & IER_RLSI) && (u->lsr & LSR_STICKY))
		return IIR_RLSI;
	if ((u->ier & IER_RDI) && u->rx_count > 0)
		return IIR_RDI;
	if ((u->ier & IER_THRI) && u->iir_pending_thre)
		return IIR_THRI;
	if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct uart *u)
{
	int level = (u->mcr & (MCR_OUT2 | MCR_LOOP)) == MCR_OUT2 && iir_id(u) != IIR_NO_INT;

	if (level == u->irq_level)
		return;
	u->irq_level = level;
	if (u->ops && u->ops->irq)
		u->ops->irq(u->ctx, level);
}

/* The modem-status inputs the current MCR implies. */
static uint8_t modem_lines(uint8_t mcr)
{
	uint8_t lines = 0;

	if (!(mcr & MCR_LOOP))
		return MSR_IDLE_LINES;
	/* loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
	if (mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

static void set_lines(struct uart *u, uint8_t lines)
{
	uint8_t old = u->msr & MSR_LINES, changed = old ^ lines, deltas = 0;

	if (changed & MSR_CTS)
		deltas |= MSR_DCTS;
	if (changed & MSR_DSR)
		deltas |= MSR_DDSR;
	if ((old & MSR_RI) && !(lines & MSR_RI))
		deltas |= MSR_TERI; /* trailing edge only */
	if (changed & MSR_DCD)
		deltas |= MSR_DDCD;
	u->msr = (uint8_t)(lines | (u->msr & MSR_DELTAS) | deltas);
}

static unsigned int rx_space(const struct uart *u)
{
	return u->rx_count < UART_FIFO_SIZE ? UART_FIFO_SIZE - u->rx_count : 0;
}

static void rx_push(struct uart *u, uint8_t c)
{
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
	u->rx_count++;
}

static void rx_clear(struct uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

void uart_init(struct uart *u, const struct uart_ops *ops, void *ctx)
{
	memset(u, 0, sizeof(*u));
	u->ops = ops;
	u->ctx = ctx;
	u->lsr = 0; /* only sticky error bits live here; DR, THRE, TEMT are computed */
	u->msr = modem_lines(0);
	u->dll = UART_DEFAULT_DLL;
}

static uint8_t lsr_value(const struct uart *u)
{
	uint8_t v = LSR_THRE | LSR_TEMT | (u->lsr & LSR_STICKY);

	if (u->rx_count > 0)
		v |= LSR_DR;
	return v;
}

static uint8_t read_lsr(struct uart *u)
{
	uint8_t v = lsr_value(u);

	u->lsr &= (uint8_t)~LSR_STICKY;
	return v;
}

static uint8_t iir_value(const struct uart *u)
{
	return (uint8_t)(iir_id(u) | ((u->fcr & FCR_ENABLE) ? IIR_FIFO : 0));
}

/*
 * A THR write sends its byte (or loops it back), sets the pending THRE
 * interrupt and, with DLAB, sets DLL instead: it leaves every other register
 * as it is when none of that shows.
 */
static int thr_write_keeps(const struct uart *u)
{
	if (u->lcr & LCR_DLAB || u->mcr & MCR_LOOP)
		return 0;
	return !(u->ier & IER_THRI) || u->iir_pending_thre;
}

void uart_view(const struct uart *u, struct uart_view *v)
{
	int dlab = (u->lcr & LCR_DLAB) != 0;

	memset(v, 0, sizeof(*v));
	v->regs[UART_RBR] = dlab ? u->dll : 0;
	v->regs[UART_IER] = dlab ? u->dlm : u->ier;
	v->regs[UART_IIR] = iir_value(u);
	v->regs[UART_LCR] = u->lcr;
	v->regs[UART_MCR] = u->mcr;
	v->regs[UART_LSR] = lsr_value(u);
	v->regs[UART_MSR] = u->msr;
	v->regs[UART_SCR] = u->scr;
	v->quiet = 1u << UART_IER | 1u << UART_LCR | 1u << UART_MCR | 1u << UART_SCR;
	if (dlab || u->rx_count == 0)
		v->quiet |= 1u << UART_RBR;
	if (iir_id(u) != IIR_THRI)
		v->quiet |= 1u << UART_IIR;
	if (!(u->lsr & LSR_STICKY))
		v->quiet |= 1u << UART_LSR;
	if (!(u->msr & MSR_DELTAS))
		v->quiet |= 1u << UART_MSR;
	v->keeps = 1u << UART_LSR | 1u << UART_MSR;
	if (thr_write_keeps(u))
		v->keeps |= 1u << UART_THR;
	/* what these read is what a write stores, and storing it again changes nothing */
	v->keeps_same = 1u << UART_IER | 1u << UART_LCR | 1u << UART_MCR | 1u << UART_SCR;
	if (dlab)
		v->keeps_same |= 1u << UART_DLL;
}

uint8_t uart_read(struct uart *u, unsigned int off)
{
	uint8_t v;

	switch (off) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (u->rx_count == 0)
			return 0;
		v = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
		u->rx_count--;
		update_irq(u);
		return v;
	case UART_IER:
		if (u->lcr & LCR_DLAB)
			return u->dlm;
		return u->ier;
	case UART_IIR:
		v = iir_value(u);
		if (iir_id(u) == IIR_THRI) {
			/* reading IIR clears THRE when it is the reported source */
			u->iir_pending_thre = 0;
			update_irq(u);
		}
		return v;
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = read_lsr(u);
		update_irq(u);
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= MSR_LINES;
		update_irq(u);
		return v;
	case UART_SCR:
		return u->scr;
	default:
		return 0xff;
	}
}

static void write_thr(struct uart *u, uint8_t val)
{
	if (u->mcr & MCR_LOOP) {
		if (rx_space(u) > 0)
			rx_push(u, val);
		else
			u->lsr |= LSR_OE; /* the FIFO keeps its bytes; the new one is lost */
	} else if (u->ops && u->ops->tx) {
		u->ops->tx(u->ctx, val);
	}
	/* writing THR clears THRE; the byte leaves at once and THRE is set again */
	u->iir_pending_thre = 1;
}

static void write_fcr(struct uart *u, uint8_t val)
{
	if ((val ^ u->fcr) & FCR_ENABLE)
		rx_clear(u); /* changing FCR0 resets both FIFOs */
	if (!(val & FCR_ENABLE)) {
		/* the other bits are only programmed together with FCR0 */
		u->fcr = 0;
		return;
	}
	if (val & FCR_CLEAR_RX)
		rx_clear(u);
	/* FCR_CLEAR_TX: the transmit FIFO is always empty */
	u->fcr = val & FCR_KEEP;
}

void uart_write(struct uart *u, unsigned int off, uint8_t val)
{
	switch (off) {
	case UART_THR:
		if (u->lcr & LCR_DLAB)
			u->dll = val;
		else
			write_thr(u, val);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = val;
			break;
		}
		val &= IER_MASK;
		/* enabling the THRE interrupt while THR is empty raises it */
		if ((val & IER_THRI) && !(u->ier & IER_THRI))
			u->iir_pending_thre = 1;
		u->ier = val;
		break;
	case UART_FCR:
		write_fcr(u, val);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & MCR_MASK;
		set_lines(u, modem_lines(u->mcr));
		break;
	case UART_LSR:
	case UART_MSR:
		/* read-only (factory test on some parts) */
		break;
	case UART_SCR:
		u->scr = val;
		break;
	default:
		return;
	}
	update_irq(u);
}

unsigned int uart_rx_room(const struct uart *u)
{
	if (u->mcr & MCR_LOOP)
		return 0; /* the serial input is disconnected in loopback */
	return rx_space(u);
}

size_t uart_rx(struct uart *u, const uint8_t *buf, size_t len)
{
	size_t n = uart_rx_room(u);

	if (len < n)
		n = len;
	for (size_t i = 0; i < n; i++)
		rx_push(u, buf[i]);
	if (n > 0)
		update_irq(u);
	return n;
}

void uart_save(const struct uart *u, struct uart_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ier = u->ier;
	st->fcr = u->fcr;
	st->lcr = u->lcr;
	st->mcr = u->mcr;
	st->scr = u->scr;
	st->dll = u->dll;
	st->dlm = u->dlm;
	st->thre_pending = (uint8_t)u->iir_pending_thre;
	st->rx_count = u->rx_count;
	for (unsigned int i = 0; i < u->rx_count && i < UART_FIFO_SIZE; i++)
		st->rx[i] = u->rx[(u->rx_head + i) % UART_FIFO_SIZE];
}

int uart_restore(struct uart *u, const struct uart_state *st)
{
	if (st->rx_count > UART_FIFO_SIZE || st->thre_pending > 1)
		return -EINVAL;
	uart_write(u, UART_LCR, st->lcr | LCR_DLAB);
	uart_write(u, UART_THR, st->dll);
	uart_write(u, UART_IER, st->dlm);
	uart_write(u, UART_LCR, st->lcr);
	uart_write(u, UART_FCR, st->fcr);
	uart_write(u, UART_MCR, st->mcr);
	uart_write(u, UART_SCR, st->scr);
	uart_write(u, UART_IER, st->ier);
	uart_rx(u, st->rx, st->rx_count);
	u->iir_pending_thre = st->thre_pending;
	update_irq(u);
	return 0;
}
