/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --api-socket: the control socket, served by bulkhead-api. The supervisor
 * makes the socket file (mode 0600, owned by whoever runs bulkhead) and hands
 * the listening socket to the api process, which parses HTTP and JSON in its
 * jail and sends the supervisor only fixed-size commands (supervisor/control.c).
 * The process starts at the socket's first client (listen_fd), not with the VM.
 * The process has no register window, queues or guest memory. An existing
 * path is taken over only when it is a socket nobody listens on (a VM that
 * ended left it: once locked down, the supervisor cannot remove files).
 */
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "common/log.h"
#include "kinds.h"
#include "supervisor/unixsock.h"

#define API_BACKLOG 16
#define API_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path) /* with its NUL */

struct api_opts {
	char path[API_PATH_MAX];
	int too_long; /* a bare PATH that does not fit */
};
_Static_assert(sizeof(struct api_opts) <= CONFIG_DEV_OPTS_MAX, "api options fit");

static const struct key_def api_keys[] = {
	CONFIG_KEY("path", KEY_STRING, struct api_opts, path,
		   KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
};

/* --api-socket PATH: a value without '=' is the path (path=PATH says the same). */
static int api_word(void *opts, const char *val)
{
	struct api_opts *o = opts;

	if (strchr(val, '='))
		return -1;
	if (strlen(val) >= sizeof(o->path)) {
		o->too_long = 1;
		return 0;
	}
	snprintf(o->path, sizeof(o->path), "%s", val);
	return 0;
}

static int api_check(void *opts, char *err, size_t errlen)
{
	const struct api_opts *o = opts;

	if (o->too_long || !o->path[0]) {
		snprintf(err, errlen, "--api-socket: path=: %s (at most %zu bytes)",
			 o->too_long ? "too long" : "must not be empty", sizeof(o->path) - 1);
		return -1;
	}
	return 0;
}

/* The socket file is born 0600 (umask), so no other user can ever connect. */
static int api_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct api_opts *o = d->opts;
	struct ipc_cfg_api *m = (struct ipc_cfg_api *)d->msg.bytes;
	int fd = unix_sock_listen("--api-socket: path=", o->path, 0177, API_BACKLOG, err, errlen);

	if (fd < 0)
		return -1;
	ipc_init(m, IPC_CFG_API, sizeof(*m));
	m->ca_listen_fd = fd;
	m->ca_page_fd = IPC_FD_NONE; /* the supervisor's API page (control.c) */
	return 0;
}

static const struct ipc_fd_field api_fds[] = IPC_CFG_API_FDS;

const struct dev_kind kind_api = {
	.option = "api-socket",
	.synopsis = "PATH|path=PATH",
	.help = "A control socket at PATH (HTTP over a UNIX socket, Cloud Hypervisor's paths): "
		"GET /api/v1/vmm.ping, /api/v1/vm.info, /api/v1/vm.counters and /metrics "
		"(Prometheus); PUT /api/v1/vm.pause, vm.resume, vm.shutdown and vm.power-button. "
		"bulkhead makes the socket with mode 0600; an existing PATH is replaced only if "
		"it is a socket nobody listens on. Served by a jailed bulkhead-api process, "
		"started at the first connection; bulkhead ctl PATH COMMAND is a client. "
		"Default: no socket.",
	.keys = api_keys,
	.nkeys = nitems(api_keys),
	.word = api_word,
	.words = "PATH",
	.check = api_check,
	.max = 1,
	.helper = "api",
	.ipc_kind = IPC_DEV_API,
	.transport = NULL,
	.open = api_open,
	.msg_type = IPC_CFG_API,
	.msg_size = sizeof(struct ipc_cfg_api),
	.fds = api_fds,
	.nfds = nitems(api_fds),
	.restartable = 1,
	.expendable = 1,
	.controls = 1,
	.listen_fd = "LISTEN_FD",
};
