/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The listening UNIX sockets the supervisor makes for a kind (--vsock uds=,
 * --api-socket) and the connections its broker makes, in one place.
 */
#ifndef BULKHEAD_SUPERVISOR_UNIXSOCK_H
#define BULKHEAD_SUPERVISOR_UNIXSOCK_H

#include <stddef.h>
#include <sys/types.h>

/* unix_sock_connect: a new non-blocking stream socket connected to path, or -errno.
 * Never waits: a listener whose backlog is full makes it fail with -EAGAIN. */
int unix_sock_connect(const char *path);

/*
 * unix_sock_listen: a non-blocking listening stream socket bound at path,
 * or -1 with a message that starts with what (an option and key, as
 * "--vsock: uds=") in err. path may be absent or a socket nobody listens on
 * (connect refused: a stale one, removed); a file of another type, or a
 * socket something answers on, is refused. mask is the umask the socket
 * file is made under (0177: mode 0600), or UNIX_SOCK_UMASK_KEEP: the process's.
 */
#define UNIX_SOCK_UMASK_KEEP ((mode_t)-1)
int unix_sock_listen(const char *what, const char *path, mode_t mask, int backlog, char *err,
		     size_t errlen);

#endif
