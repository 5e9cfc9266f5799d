/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_qemu: bulkhead-qemu's parser and translator (frontends/qemu/parse.c,
 * translate.c): QEMU's command line, its key=value lists with ",," escapes,
 * into bulkhead's argv.
 *
 * Input: NUL-separated words, argv[1..] (at most 64).
 *
 * Checked: both return 0 or -1; on -1 the message is one printable,
 * non-empty line inside the buffer; on success bulkhead's argv is
 * NULL-terminated, within QEMU_OUT_ARGS, every word inside the text buffer,
 * and it starts with the executable and --kernel.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/qemu/qemu.h"
#include "fz.h"

#define MAX_ARGS 64

static struct qemu_cmd q;
static struct qemu_out out;

static void check_err(const char *err, size_t len, const char *what)
{
	size_t n = strnlen(err, len);

	FZ_CHECK(n < len && n > 0, "%s: error message empty or not terminated", what);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f, "%s: control byte 0x%02x in \"%s\"",
			 what, (unsigned char)err[i], err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *text = malloc(size + 1);
	char err[256];
	int argc = 1, r;

	if (!text)
		fz_fail("malloc");
	memcpy(text, data, size);
	text[size] = '\0';
	argv[0] = (char *)"bulkhead-qemu";
	for (size_t i = 0; i <= size && argc <= MAX_ARGS; i += strlen(text + i) + 1)
		argv[argc++] = text + i;
	argv[argc] = NULL;
	memset(&q, 0, sizeof(q));
	memset(err, 0x7e, sizeof(err));
	r = qemu_parse(&q, argc, argv, err, sizeof(err));
	FZ_CHECK(r == 0 || r == -1, "qemu_parse returned %d", r);
	if (r < 0) {
		check_err(err, sizeof(err), "qemu_parse");
		goto out;
	}
	memset(err, 0x7e, sizeof(err));
	r = qemu_translate(&q, "/bulkhead", &out, err, sizeof(err));
	FZ_CHECK(r == 0 || r == -1, "qemu_translate returned %d", r);
	if (r < 0) {
		check_err(err, sizeof(err), "qemu_translate");
		goto out;
	}
	FZ_CHECK(out.argc >= 3 && out.argc <= QEMU_OUT_ARGS && !out.argv[out.argc], "argc %u", out.argc);
	FZ_CHECK(strcmp(out.argv[0], "/bulkhead") == 0 && strcmp(out.argv[1], "--name") != 0 ?
			 strcmp(out.argv[1], "--kernel") == 0 : 1,
		 "argv[1] is %s", out.argv[1]);
	for (unsigned int i = 0; i < out.argc; i++)
		FZ_CHECK(out.argv[i] >= out.text && out.argv[i] + strlen(out.argv[i]) < out.text + sizeof(out.text),
			 "argv[%u] outside the text", i);
out:
	free(text);
	return 0;
}
