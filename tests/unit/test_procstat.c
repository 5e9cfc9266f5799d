/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The supervisor's reading of /proc/PID/stat and smaps_rollup
 * (supervisor/procstat.c): real lines, a process name that holds spaces and
 * parentheses, and hostile or cut-off text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/log.h"
#include "supervisor/supervisor.h"

#define STAT_TAIL " 0 0 20 0 1 0 12345 2138112 84 18446744073709551615 1 1 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"

static void test_cpu(void **state)
{
	static const struct {
		const char *name, *text;
		long tck;
		int ok;
		uint64_t ns;
	} cases[] = {
		{ "real line", "4589 (bulkhead-blk) S 4586 4586 4530 0 -1 4194560 51 0 0 0 7 3" STAT_TAIL, 100, 1,
		  100000000 },
		{ "1000 Hz", "1 (x) R 0 1 1 0 -1 0 0 0 0 0 1500 500" STAT_TAIL, 1000, 1, 2000000000 },
		{ "name with spaces and parentheses", "77 (a) b (c)) S 1 1 1 0 -1 0 0 0 0 0 2 2" STAT_TAIL, 100, 1,
		  40000000 },
		{ "name that looks like fields", "9 (x) S 1 1 1 0 -1 0 0 0 0 0 9 9) R 1 2 3 4 5 6 7 8 9 10 1 1" STAT_TAIL,
		  100, 1, 20000000 },
		{ "no stime", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 7", 100, 0, 0 },
		{ "cut after utime", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 7 ", 100, 0, 0 },
		{ "too few fields", "1 (x) S 1 1", 100, 0, 0 },
		{ "no parenthesis", "1 x S 1 1 1 0 -1 0 0 0 0 0 7 3" STAT_TAIL, 100, 0, 0 },
		{ "letters for utime", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a 3" STAT_TAIL, 100, 0, 0 },
		{ "negative stime", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 -3" STAT_TAIL, 100, 0, 0 },
		{ "two spaces", "1 (x) S 1 1 1 0 -1 0 0 0 0 0  1 3" STAT_TAIL, 100, 0, 0 },
		{ "utime overflows", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999999 3" STAT_TAIL, 100, 0, 0 },
		{ "sum overflows", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551615 1" STAT_TAIL, 100, 0, 0 },
		{ "ns overflow", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 18446744073709 0" STAT_TAIL, 1, 0, 0 },
		{ "no clock rate", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1" STAT_TAIL, 0, 0, 0 },
		{ "empty", "", 100, 0, 0 },
		{ "just a parenthesis", ")", 100, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		uint64_t ns = 0xdead;
		int r = procstat_cpu_ns(cases[i].text, strlen(cases[i].text), cases[i].tck, &ns);

		if (cases[i].ok && (r != 0 || ns != cases[i].ns))
			fail_msg("%s: %d, %llu ns; want %llu", cases[i].name, r, (unsigned long long)ns,
				 (unsigned long long)cases[i].ns);
		if (!cases[i].ok && (r != -EINVAL || ns != 0xdead))
			fail_msg("%s: %d, want -EINVAL and nothing stored", cases[i].name, r);
	}
}

/* The length given bounds the reading: text past it is never looked at. */
static void test_cpu_bounded(void **state)
{
	const char *text = "1 (x) S 1 1 1 0 -1 0 0 0 0 0 7 3" STAT_TAIL;
	uint64_t ns;

	(void)state;
	assert_int_equal(procstat_cpu_ns(text, strlen("1 (x) S 1 1 1 0 -1 0 0 0 0 0 7 3"), 100, &ns), 0);
	assert_int_equal(ns, 100000000);
	assert_int_equal(procstat_cpu_ns(text, strlen("1 (x) S 1 1 1 0 -1 0 0 0 0 0 7 "), 100, &ns), -EINVAL);
	assert_int_equal(procstat_cpu_ns(text, 3, 100, &ns), -EINVAL);
}

#define ROLLUP_HEAD "55de242c2000-7ffcdf6c5000 ---p 00000000 00:00 0                          [rollup]\n"

static void test_mem(void **state)
{
	static const struct {
		const char *name, *text;
		int ok;
		uint64_t rss, pss;
	} cases[] = {
		{ "real file", ROLLUP_HEAD "Rss:                1640 kB\nPss:                 263 kB\n"
			       "Pss_Dirty:           112 kB\nPss_Anon:            112 kB\nSwap: 0 kB\n", 1,
		  1640 * 1024, 263 * 1024 },
		{ "Pss_Dirty first", "Pss_Dirty: 5 kB\nRss: 10 kB\nPss: 7 kB\n", 1, 10240, 7168 },
		{ "no spaces", "Rss:8 kB\nPss:4 kB\n", 1, 8192, 4096 },
		{ "no Pss", ROLLUP_HEAD "Rss: 10 kB\nPss_Anon: 3 kB\n", 0, 0, 0 },
		{ "Rss inside a line", "XRss: 10 kB\nPss: 3 kB\n", 0, 0, 0 },
		{ "no unit", "Rss: 10\nPss: 3 kB\n", 0, 0, 0 },
		{ "other unit", "Rss: 10 MB\nPss: 3 kB\n", 0, 0, 0 },
		{ "no number", "Rss: kB\nPss: 3 kB\n", 0, 0, 0 },
		{ "overflow", "Rss: 99999999999999999999 kB\nPss: 3 kB\n", 0, 0, 0 },
		{ "bytes overflow", "Rss: 18014398509481984 kB\nPss: 3 kB\n", 0, 0, 0 },
		{ "cut in the unit", "Rss: 10 kB\nPss: 3 k", 0, 0, 0 },
		{ "empty", "", 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		uint64_t rss = 1, pss = 1;
		int r = procstat_mem(cases[i].text, strlen(cases[i].text), &rss, &pss);

		if (cases[i].ok && (r != 0 || rss != cases[i].rss || pss != cases[i].pss))
			fail_msg("%s: %d, rss %llu pss %llu", cases[i].name, r, (unsigned long long)rss,
				 (unsigned long long)pss);
		if (!cases[i].ok && r != -EINVAL)
			fail_msg("%s: %d, want -EINVAL", cases[i].name, r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_cpu_bounded),
		cmocka_unit_test(test_mem),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
