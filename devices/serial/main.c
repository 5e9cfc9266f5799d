/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-serial: a 16550A on COM1. Register accesses come from the vcpu
 * process; output goes to the console (cs_out_fd) in batches; input (cs_in_fd) is read
 * only while the receive FIFO has room, so no byte is ever dropped.
 *
 * The register shadow (ipc.h) holds what reads without side effects return
 * (uart_view), so the vcpu process answers them itself, and which writes change
 * none of it (THR, as a console writes it), so that it goes on answering while
 * those are on their way. It is republished after everything that changes the
 * UART: an applied write, a forwarded read (before its reply), input (before
 * the interrupt).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/layout.h"
#include "common/log.h"
#include "devices/devproc/devproc.h"
#include "uart.h"

#define SERIAL_OUT_BUF 4096

struct serial {
	struct devproc *dp;
	struct uart uart;
	uint8_t out[SERIAL_OUT_BUF];
	size_t out_len;
	int out_broken; /* output failed once: drop further output, keep serving the guest */
	int in_eof;
	int out_fd; /* console output, or IPC_FD_NONE */
	struct uart_view shown; /* what the shadow holds; valid are shown.quiet */
	int shown_any; /* the shadow holds anything of this process's */
	int held; /* restoring: the shadow keeps what the process replaced left there */
};

static struct serial serial;
static const struct ipc_fd_field serial_fds[] = IPC_CFG_SERIAL_FDS;

static void serial_write_out(struct serial *s)
{
	size_t off = 0;

	while (off < s->out_len && !s->out_broken) {
		ssize_t n = write(s->out_fd, s->out + off, s->out_len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("console output lost");
			s->out_broken = 1;
			break;
		}
		off += (size_t)n;
	}
	devproc_count(s->dp, 0, off, 0);
	s->out_len = 0;
}

static void serial_tx(void *ctx, uint8_t c)
{
	struct serial *s = ctx;

	if (s->out_fd == IPC_FD_NONE || s->out_broken)
		return;
	if (s->out_len == sizeof(s->out))
		serial_write_out(s);
	s->out[s->out_len++] = c;
}

/*
 * Publish what the UART now answers. Registers whose value changes, or that
 * stop being quiet, are withdrawn first and offered again only after every
 * new value is in: a reader that saw one new value never sees an old one
 * after it (it reads new values or asks this process, which is past them).
 */
static void serial_publish(struct serial *s)
{
	struct ipc_shadow *sh = s->dp->shadow;
	struct uart_view v;
	uint8_t changed = 0;

	if (!sh || s->held)
		return;
	uart_view(&s->uart, &v);
	for (unsigned int i = 0; i < UART_NREGS; i++) {
		if (!s->shown_any || v.regs[i] != s->shown.regs[i])
			changed |= (uint8_t)(1u << i);
	}
	if (s->shown_any && !changed && v.quiet == s->shown.quiet && v.keeps == s->shown.keeps &&
	    v.keeps_same == s->shown.keeps_same)
		return;
	__atomic_store_n(&sh->sh_regs_valid, (uint64_t)(s->shown.quiet & v.quiet & ~changed),
			 __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < UART_NREGS; i++) {
		if (changed & (1u << i))
			__atomic_store_n(&sh->sh_regs[i], v.regs[i], __ATOMIC_RELEASE);
	}
	__atomic_store_n(&sh->sh_keeps, v.keeps, __ATOMIC_RELEASE);
	__atomic_store_n(&sh->sh_keeps_same, v.keeps_same, __ATOMIC_RELEASE);
	__atomic_store_n(&sh->sh_regs_valid, (uint64_t)v.quiet, __ATOMIC_RELEASE);
	s->shown = v;
	s->shown_any = 1;
}

static void serial_irq(void *ctx, int level)
{
	struct serial *s = ctx;

	/* The IOAPIC pin is edge-triggered: a rising edge is one interrupt. Its
	 * handler reads IIR and LSR: the shadow tells of its cause first. */
	if (level) {
		serial_publish(s);
		devproc_irq(s->dp);
	}
}

static const struct uart_ops serial_uart_ops = {
	.tx = serial_tx,
	.irq = serial_irq,
};

static int serial_cfg(struct devproc *dp, const void *msg)
{
	const struct ipc_cfg_serial *m = msg;
	struct serial *s = dp->priv;

	s->out_fd = m->cs_out_fd;
	devproc_set_input(dp, m->cs_in_fd);
	return 0;
}

static int serial_init(struct devproc *dp)
{
	struct serial *s = dp->priv;

	s->dp = dp;
	uart_init(&s->uart, &serial_uart_ops, s);
	/* A replacement publishes once it has restored what the shadow already tells. */
	s->held = (dp->cfg.cd_flags & IPC_DEV_F_RESTORE) != 0;
	serial_publish(s);
	return devproc_watch_input(dp, 1);
}

static uint64_t serial_io_read(struct devproc *dp, uint64_t offset, unsigned int size)
{
	struct serial *s = dp->priv;
	uint8_t v;

	(void)size;
	v = uart_read(&s->uart, (unsigned int)offset);
	serial_publish(s);
	return v;
}

static void serial_io_write(struct devproc *dp, uint64_t offset, unsigned int size, uint64_t val)
{
	struct serial *s = dp->priv;

	(void)size;
	uart_write(&s->uart, (unsigned int)offset, (uint8_t)val);
	serial_publish(s);
}

static int serial_input(struct devproc *dp)
{
	struct serial *s = dp->priv;
	uint8_t buf[UART_FIFO_SIZE];
	unsigned int room = uart_rx_room(&s->uart);
	ssize_t n;

	if (room == 0)
		return devproc_watch_input(dp, 0);
	n = read(dp->input_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n <= 0) {
		/* End of input (or a broken terminal): the guest just sees no more bytes. */
		s->in_eof = 1;
		return devproc_watch_input(dp, 0);
	}
	uart_rx(&s->uart, buf, (size_t)n);
	devproc_count(dp, 0, (uint64_t)n, 0);
	serial_publish(s);
	return 0;
}

/* After each batch: write out what the guest printed, and poll input only while there is room. */
static int serial_flush(struct devproc *dp)
{
	struct serial *s = dp->priv;

	if (s->out_len)
		serial_write_out(s);
	if (s->in_eof)
		return 0;
	return devproc_watch_input(dp, uart_rx_room(&s->uart) > 0);
}

static size_t serial_save(struct devproc *dp, void *data, size_t max)
{
	struct serial *s = dp->priv;
	struct uart_state st;

	if (max < sizeof(st))
		return 0;
	uart_save(&s->uart, &st);
	memcpy(data, &st, sizeof(st));
	return sizeof(st);
}

/* Without a whole state the UART stays as reset: the console goes on either way. */
static int serial_restore(struct devproc *dp, const void *data, size_t len, const void *live)
{
	struct serial *s = dp->priv;
	struct uart_state st;
	int err = -EINVAL;

	(void)live;
	if (data && len == sizeof(st)) {
		memcpy(&st, data, sizeof(st));
		err = uart_restore(&s->uart, &st);
	}
	s->held = 0;
	serial_publish(s);
	return err;
}

static const struct devproc_window serial_window = {
	.space = IPC_SPACE_PIO,
	.len = LAYOUT_COM1_PORTS,
	.io_read = serial_io_read,
	.io_write = serial_io_write,
	.save = serial_save,
	.restore = serial_restore,
};

static const struct devproc_ops serial_ops = {
	.name = "bulkhead-serial",
	.policy = "serial",
	.kind = IPC_DEV_SERIAL,
	.window = &serial_window,
	.msg = DEVPROC_MSG(IPC_CFG_SERIAL, struct ipc_cfg_serial, serial_fds),
	.cfg = serial_cfg,
	.init = serial_init,
	.input = serial_input,
	.flush = serial_flush,
};

int main(int argc, char **argv)
{
	return devproc_main(&serial_ops, &serial, argc, argv);
}
