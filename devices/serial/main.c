/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-serial: a 16550A on COM1. Register accesses come from the vcpu
 * process; output goes to the console (cs_out_fd) in batches; input (cs_in_fd) is read
 * only while the receive FIFO has room, so no byte is ever dropped.
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

static void serial_irq(void *ctx, int level)
{
	struct serial *s = ctx;

	/* The IOAPIC pin is edge-triggered: a rising edge is one interrupt. */
	if (level)
		devproc_irq(s->dp);
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
	return devproc_watch_input(dp, 1);
}

static uint64_t serial_io_read(struct devproc *dp, uint64_t offset, unsigned int size)
{
	struct serial *s = dp->priv;

	(void)size;
	return uart_read(&s->uart, (unsigned int)offset);
}

static void serial_io_write(struct devproc *dp, uint64_t offset, unsigned int size, uint64_t val)
{
	struct serial *s = dp->priv;

	(void)size;
	uart_write(&s->uart, (unsigned int)offset, (uint8_t)val);
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

	(void)live;
	if (!data || len != sizeof(st))
		return -EINVAL;
	memcpy(&st, data, sizeof(st));
	return uart_restore(&s->uart, &st);
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
