/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-qemu: qemu-system-x86_64's command line in, bulkhead exec'd with
 * the same VM (qemu.h). bulkhead is the one beside this executable (the
 * build tree, or BINDIR where both are installed), else BINDIR's.
 *
 * Environment: BULKHEAD_QEMU_DRY_RUN=1 prints bulkhead's argv, shell-quoted
 * on one line, instead of running it; BULKHEAD_QEMU_VERBOSE=1 says what is
 * ignored and runs bulkhead -v; BULKHEAD_QEMU_OPTIONS="--jail no-namespaces"
 * adds bulkhead options of one's own (words split at blanks).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/exedir.h"
#include "common/log.h"
#include "qemu.h"

static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

static int find_bulkhead(char *buf, size_t len)
{
	char self[PATH_MAX];
	int w;

	if (exe_dir(self, sizeof(self)) == 0) {
		w = snprintf(buf, len, "%s/bulkhead", self);
		if (w > 0 && (size_t)w < len && access(buf, X_OK) == 0)
			return 0;
	}
	w = snprintf(buf, len, "%s/bulkhead", BH_BINDIR);
	if (w < 0 || (size_t)w >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) == 0 ? 0 : -errno;
}

/* One argument, quoted for sh: '...' with each ' as '\''. */
static void print_quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

int main(int argc, char **argv)
{
	static struct qemu_cmd q;
	static struct qemu_out out;
	char err[512], bulkhead[PATH_MAX];
	int e;

	log_init("bulkhead-qemu");
	q.verbose = env_on("BULKHEAD_QEMU_VERBOSE");
	q.options = getenv("BULKHEAD_QEMU_OPTIONS");
	if (qemu_parse(&q, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "bulkhead-qemu: %s\n", err);
		return 1;
	}
	if (q.info) {
		printf("bulkhead-qemu %s: qemu-system-x86_64's command line for bulkhead (bulkhead-qemu(1))\n",
		       BH_VERSION);
		return 0;
	}
	e = find_bulkhead(bulkhead, sizeof(bulkhead));
	if (e < 0) {
		fprintf(stderr, "bulkhead-qemu: bulkhead: not beside bulkhead-qemu nor in %s: %s\n", BH_BINDIR,
			strerror(-e));
		return 1;
	}
	if (qemu_translate(&q, bulkhead, &out, err, sizeof(err)) < 0) {
		fprintf(stderr, "bulkhead-qemu: %s\n", err);
		return 1;
	}
	if (env_on("BULKHEAD_QEMU_DRY_RUN")) {
		for (unsigned int i = 0; i < out.argc; i++) {
			if (i)
				putchar(' ');
			print_quoted(out.argv[i]);
		}
		putchar('\n');
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (q.verbose)
		log_info("running %s", bulkhead);
	execv(bulkhead, out.argv);
	fprintf(stderr, "bulkhead-qemu: %s: %s\n", bulkhead, strerror(errno));
	return 1;
}
