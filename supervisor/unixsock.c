/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "unixsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path) >= (int)sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int unix_sock_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, err = unix_addr(&sa, path);

	if (err < 0)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* path may be taken over only if it is absent or a socket nobody listens on (removed). */
static int clear_path(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s%s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s%s: exists and is not a socket", what, path);
		return -1;
	}
	fd = unix_sock_connect(path);
	if (fd >= 0 || fd == -EAGAIN) {
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "%s%s: something listens there already", what, path);
		return -1;
	}
	if (fd != -ECONNREFUSED || (unlink(path) < 0 && errno != ENOENT)) {
		snprintf(err, errlen, "%s%s: cannot remove the stale socket: %s", what, path,
			 strerror(fd != -ECONNREFUSED ? -fd : errno));
		return -1;
	}
	log_debug("%s: removed a stale socket", path);
	return 0;
}

int unix_sock_listen(const char *what, const char *path, mode_t mask, int backlog, char *err,
		     size_t errlen)
{
	struct sockaddr_un sa;
	mode_t old = 0;
	int fd, r;

	if (unix_addr(&sa, path) < 0) {
		snprintf(err, errlen, "%s%s: too long for a UNIX socket", what, path);
		return -1;
	}
	if (clear_path(what, path, err, errlen) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "%s%s: socket: %s", what, path, strerror(errno));
		return -1;
	}
	if (mask != UNIX_SOCK_UMASK_KEEP)
		old = umask(mask);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (mask != UNIX_SOCK_UMASK_KEEP)
		umask(old);
	if (r < 0 || listen(fd, backlog) < 0) {
		snprintf(err, errlen, "%s%s: %s", what, path, strerror(errno));
		if (r == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}
