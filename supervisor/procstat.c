/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A process's CPU time and memory from its /proc files, for the API. The
 * kernel writes both; the one part a process controls is its name in stat,
 * "(comm)", which may hold spaces and parentheses: the fields are counted
 * from the last ')'. Bounded by the length given; nothing is trusted to end.
 */
#include <errno.h>
#include <string.h>

#include "supervisor.h"

#define STAT_UTIME 14 /* proc(5): utime, then stime, in clock ticks */

/* The decimal number at s[*i..n), moving *i past it; -1 if there is none or it overflows. */
static int decimal(const char *s, size_t n, size_t *i, uint64_t *v)
{
	size_t start = *i;

	*v = 0;
	for (; *i < n && s[*i] >= '0' && s[*i] <= '9'; (*i)++) {
		if (*v > (UINT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (uint64_t)(s[*i] - '0');
	}
	return *i > start ? 0 : -1;
}

int procstat_cpu_ns(const char *s, size_t n, long tck, uint64_t *ns)
{
	uint64_t utime, stime;
	size_t i, field = 2; /* the field that ends at the last ')': comm */

	if (tck <= 0)
		return -EINVAL;
	for (i = n; i > 0 && s[i - 1] != ')'; i--)
		;
	if (i == 0)
		return -EINVAL;
	/* Fields 3 .. 13 (state, ppid, ...), each after one space. */
	while (field < STAT_UTIME - 1) {
		if (i >= n || s[i] != ' ')
			return -EINVAL;
		for (i++; i < n && s[i] != ' '; i++)
			;
		field++;
	}
	if (i >= n || s[i++] != ' ' || decimal(s, n, &i, &utime) < 0 || i >= n || s[i++] != ' ' ||
	    decimal(s, n, &i, &stime) < 0 || utime > UINT64_MAX - stime)
		return -EINVAL;
	utime += stime;
	if (utime > UINT64_MAX / 1000000000)
		return -EINVAL;
	*ns = utime * 1000000000 / (uint64_t)tck;
	return 0;
}

/* "\nName:   123 kB": the value of the line that starts with name, in bytes. */
static int kb_line(const char *s, size_t n, const char *name, uint64_t *bytes)
{
	size_t len = strlen(name);

	for (size_t i = 0; i + len <= n; i++) {
		uint64_t kb;
		size_t j;

		if ((i > 0 && s[i - 1] != '\n') || memcmp(s + i, name, len) != 0)
			continue;
		for (j = i + len; j < n && s[j] == ' '; j++)
			;
		if (decimal(s, n, &j, &kb) < 0 || j + 3 > n || memcmp(s + j, " kB", 3) != 0 ||
		    kb > UINT64_MAX / 1024)
			return -EINVAL;
		*bytes = kb * 1024;
		return 0;
	}
	return -EINVAL;
}

int procstat_mem(const char *s, size_t n, uint64_t *rss, uint64_t *pss)
{
	if (kb_line(s, n, "Rss:", rss) < 0 || kb_line(s, n, "Pss:", pss) < 0)
		return -EINVAL;
	return 0;
}
