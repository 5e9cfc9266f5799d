/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --seccomp-policy-dir: the supervisor opens DIR/<process>.policy and
 * DIR/common.policy and hands the fds over; the child reads them here,
 * before its jail closes, instead of using its embedded policy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

#define POLICY_FILE_MAX (256 * 1024)

static int read_all(int fd, char **text, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= POLICY_FILE_MAX) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int policy_from_fds(const char *process, int fd, int include_fd, struct policy_file files[2],
		    char names[2][64])
{
	size_t len;
	char *text;
	int err;

	snprintf(names[0], 64, "%s.policy", process);
	snprintf(names[1], 64, "common.policy");
	err = read_all(fd, &text, &len);
	if (err < 0)
		return err;
	files[0] = (struct policy_file){ .name = names[0], .text = text, .len = len };
	err = read_all(include_fd, &text, &len);
	if (err < 0)
		return err;
	files[1] = (struct policy_file){ .name = names[1], .text = text, .len = len };
	close(fd);
	close(include_fd);
	return 0;
}

int policy_load_from(const char *process, int policy_fd, int include_fd,
		     const struct policy_binding *bindings, size_t nbindings, enum policy_mode mode,
		     char *err, size_t errlen)
{
	struct policy_file dir_files[2];
	const struct policy_file *files;
	char names[2][64];
	size_t nfiles;
	int e;

	if (policy_fd >= 0) {
		e = policy_from_fds(process, policy_fd, include_fd, dir_files, names);
		if (e < 0) {
			snprintf(err, errlen, "reading the policy from --seccomp-policy-dir: %s",
				 strerror(-e));
			return e;
		}
		files = dir_files;
		nfiles = 2;
	} else {
		files = policy_embedded(&nfiles);
	}
	return policy_load(process, files, nfiles, bindings, nbindings, mode, err, errlen);
}
