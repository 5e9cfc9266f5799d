/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "exedir.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int exe_dir(char *buf, size_t len)
{
	ssize_t n;
	char *slash;

	if (len < 2)
		return -ENAMETOOLONG;
	n = readlink("/proc/self/exe", buf, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n == len - 1)
		return -ENAMETOOLONG; /* perhaps cut short */
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	return 0;
}
