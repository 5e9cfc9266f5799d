/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* --serial: COM1, served by bulkhead-serial; its console is stdio, a file or nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "kinds.h"

enum serial_mode {
	SERIAL_STDIO = 0,
	SERIAL_FILE = 1,
	SERIAL_NONE = 2,
};

struct serial_opts {
	int mode; /* enum serial_mode */
	char file[PATH_MAX]; /* file=PATH: output only */
};
_Static_assert(sizeof(struct serial_opts) <= CONFIG_DEV_OPTS_MAX, "serial options fit");

static const struct key_def serial_keys[] = {
	CONFIG_KEY("file", KEY_STRING, struct serial_opts, file,
		   KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
};

static int serial_word(void *opts, const char *val)
{
	struct serial_opts *o = opts;

	if (strcmp(val, "stdio") == 0)
		o->mode = SERIAL_STDIO;
	else if (strcmp(val, "none") == 0)
		o->mode = SERIAL_NONE;
	else
		return -1;
	o->file[0] = '\0';
	return 0;
}

static const char *serial_word_of(const void *opts)
{
	const struct serial_opts *o = opts;

	if (o->file[0])
		return NULL;
	return o->mode == SERIAL_NONE ? "none" : "stdio";
}

static int serial_check(void *opts, char *err, size_t errlen)
{
	struct serial_opts *o = opts;

	if (o->file[0])
		o->mode = SERIAL_FILE;
	if (o->mode < SERIAL_STDIO || o->mode > SERIAL_NONE) {
		snprintf(err, errlen, "--serial: must be stdio, none or file=PATH");
		return -1;
	}
	return 0;
}

/* Our own copy of stdin or stdout, if it is open (a daemon may have neither). */
static int dup_std(int fd)
{
	if (fcntl(fd, F_GETFD) < 0)
		return IPC_FD_NONE;
	fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	return fd < 0 ? IPC_FD_NONE : fd;
}

static int serial_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct serial_opts *o = d->opts;
	struct ipc_cfg_serial *m = (struct ipc_cfg_serial *)d->msg.bytes;

	ipc_init(m, IPC_CFG_SERIAL, sizeof(*m));
	m->cs_in_fd = m->cs_out_fd = IPC_FD_NONE;
	if (o->mode == SERIAL_STDIO) {
		m->cs_in_fd = dup_std(STDIN_FILENO);
		m->cs_out_fd = dup_std(STDOUT_FILENO);
		d->uses_stdio = 1;
	} else if (o->mode == SERIAL_FILE) {
		m->cs_out_fd = open(o->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (m->cs_out_fd < 0) {
			snprintf(err, errlen, "--serial: file=%s: %s", o->file, strerror(errno));
			m->cs_out_fd = IPC_FD_NONE;
			return -1;
		}
	}
	return 0;
}

static const struct ipc_fd_field serial_fds[] = IPC_CFG_SERIAL_FDS;

const struct dev_kind kind_serial = {
	.option = "serial",
	.synopsis = "stdio|none|file=PATH",
	.help = "Where the COM1 console goes (default: stdio): standard input and output, "
		"nothing, or output only to PATH. With stdio on a terminal, the terminal is raw "
		"while the guest runs and restored on exit.",
	.keys = serial_keys,
	.nkeys = nitems(serial_keys),
	.word = serial_word,
	.words = "stdio, none",
	.word_of = serial_word_of,
	.check = serial_check,
	.max = 1,
	.always = 1,
	.helper = "serial",
	.ipc_kind = IPC_DEV_SERIAL,
	.transport = &kinds_com1,
	.open = serial_open,
	.msg_type = IPC_CFG_SERIAL,
	.msg_size = sizeof(struct ipc_cfg_serial),
	.fds = serial_fds,
	.nfds = nitems(serial_fds),
	.restartable = 1,
};
