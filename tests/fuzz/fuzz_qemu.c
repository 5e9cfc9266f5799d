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
 * and it starts with the executable and --kernel (after a --name). The argv
 * is walked as bulkhead's parser walks it: no value it would take for an
 * option, a bare --rng last. bulkhead's own parser (supervisor/config.c and
 * the device-kind table, through config_apply_option) reads back every
 * path, command line, serial, TAP, share path and mount tag the translator
 * quoted exactly as QEMU's command line gave it, whenever it accepts the
 * option (it may refuse a value, as bulkhead would: too long, a bad MAC), so
 * a key the translator does not know cannot cut a value; it reads a share's
 * readonly as given, and it always accepts --rng, with the rate
 * max-bytes/period gave.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/qemu/qemu.h"
#include "fz.h"
#include "supervisor/config.h"

#define MAX_ARGS 64

static struct qemu_cmd q;
static struct qemu_out out;
static struct vm_config cfg;

static void check_err(const char *err, size_t len, const char *what)
{
	size_t n = strnlen(err, len);

	FZ_CHECK(n < len && n > 0, "%s: error message empty or not terminated", what);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f, "%s: control byte 0x%02x in \"%s\"",
			 what, (unsigned char)err[i], err);
}

/* The value of --option in a fresh configuration, or NULL where bulkhead refuses it. */
static const struct vm_config *parse_one(const char *option, const char *value)
{
	char err[256];

	config_init(&cfg);
	return config_apply_option(&cfg, option, value, err, sizeof(err)) == 0 ? &cfg : NULL;
}

/* The string key of the device the last option made. */
static const char *last_dev(const struct vm_config *c, const char *key)
{
	const char *v = config_dev_str(&c->devs[c->ndevs - 1], key);

	FZ_CHECK(v, "no key %s", key);
	return v;
}

static void same(const char *what, const char *want, const char *got)
{
	FZ_CHECK(strcmp(want ? want : "", got) == 0, "%s: gave \"%s\", bulkhead reads \"%s\"", what,
		 want ? want : "", got);
}

/* --rng last: bare (then nothing may follow that bulkhead would read as its value), or rate=N,
 * max-bytes every period ms as bytes per second, which bulkhead must accept as given. */
static void check_rng(const char *val)
{
	char want[48], got[64];
	const struct vm_config *c;

	FZ_CHECK(q.rng, "--rng without a virtio-rng device");
	if (!q.rng_rate) {
		FZ_CHECK(!val || strncmp(val, "--", 2) == 0, "--rng followed by %s, which bulkhead takes for its value",
			 val);
		val = NULL;
	}
	c = parse_one("rng", val);
	FZ_CHECK(c, "bulkhead refuses --rng %s", val ? val : "");
	/* no rate (0, unlimited) is described as nothing: rate=0 is not a value --rng takes */
	if (q.rng_rate)
		snprintf(want, sizeof(want), "rate=%llu", (unsigned long long)q.rng_rate);
	else
		want[0] = '\0';
	same("max-bytes/period", want, config_dev_describe(&c->devs[c->ndevs - 1], got, sizeof(got)));
}

static void check_share(unsigned int share, const char *val)
{
	const struct qemu_fsdev *f = &q.fsdevs[q.shares[share]];
	const struct vm_config *c = parse_one("fs", val);
	char got[64 + 2 * PATH_MAX];
	const char *ro;

	if (!c)
		return;
	same("-fsdev path=", f->path, last_dev(c, "path"));
	same("mount_tag=", f->tag, last_dev(c, "tag"));
	config_dev_describe(&c->devs[c->ndevs - 1], got, sizeof(got));
	/* readonly is the kind's last key and always described: what follows the last comma (a
	 * search of the whole description finds "readonly=on" in a path like /readonly=on) */
	ro = strrchr(got, ',');
	FZ_CHECK(ro && strcmp(ro + 1, f->readonly ? "readonly=on" : "readonly=off") == 0,
		 "readonly=%d, bulkhead reads %s", f->readonly, got);
}

/* bulkhead's argv as bulkhead's parser walks it: "--opt VALUE" (a value never starting with --,
 * which it would take for the next option), "--name=NAME", the flag -v, --rng last. */
static void check_parse_back(void)
{
	unsigned int disk = 0, nic = 0, share = 0, rng = 0;
	const struct vm_config *c;

	for (unsigned int i = 1; i < out.argc; i++) {
		const char *opt = out.argv[i], *val = out.argv[i + 1]; /* NULL after the last */

		if (strcmp(opt, "-v") == 0)
			continue;
		if (strcmp(opt, "--rng") == 0) {
			check_rng(val);
			rng++;
			i += q.rng_rate != 0;
			continue;
		}
		if (strncmp(opt, "--name=", 7) == 0) {
			val = opt + 7;
			opt = "--name";
		} else {
			FZ_CHECK(val && strncmp(val, "--", 2) != 0, "%s: its value %s reads as an option", opt,
				 val ? val : "(none)");
			i++;
		}
		if (strcmp(opt, "--name") == 0) {
			FZ_CHECK(parse_one("name", val), "bulkhead refuses --name %s", val);
		} else if (strcmp(opt, "--kernel") == 0 && (c = parse_one("kernel", val))) {
			same("-kernel", q.kernel, c->kernel_path);
			same("-append", q.append, c->cmdline);
		} else if (strcmp(opt, "--initrd") == 0 && (c = parse_one("initrd", val))) {
			same("-initrd", q.initrd, c->initrd_path);
		} else if (strcmp(opt, "--serial") == 0 && strncmp(val, "file=", 5) == 0 &&
			   (c = parse_one("serial", val))) {
			same("-serial file:", q.serial_file, last_dev(c, "file"));
		} else if (strcmp(opt, "--disk") == 0) {
			FZ_CHECK(disk < q.ndisks, "more --disk than disks");
			if ((c = parse_one("disk", val))) {
				same("-drive file=", q.drives[q.disks[disk].drive].file, last_dev(c, "path"));
				same("serial=", q.disks[disk].serial, last_dev(c, "serial"));
			}
			disk++;
		} else if (strcmp(opt, "--net") == 0) {
			const struct qemu_netdev *n;

			FZ_CHECK(nic < q.nnics, "more --net than NICs");
			n = &q.netdevs[q.nics[nic].netdev];
			if ((c = parse_one("net", val))) {
				same("ifname=", n->ifname ? n->ifname : "", last_dev(c, "tap"));
				same("fd=", n->ifname ? "" : n->fd, last_dev(c, "fd"));
				same("mac=", q.nics[nic].mac, last_dev(c, "mac"));
			}
			nic++;
		} else if (strcmp(opt, "--fs") == 0) {
			FZ_CHECK(share < q.nshares, "more --fs than shares");
			check_share(share++, val);
		}
	}
	FZ_CHECK(disk == q.ndisks && nic == q.nnics && share == q.nshares && rng == (q.rng ? 1u : 0u),
		 "%u of %u disks, %u of %u NICs, %u of %u shares, %u rng", disk, q.ndisks, nic, q.nnics, share,
		 q.nshares, rng);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2], *text = malloc(size + 1);
	char err[256];
	unsigned int first;
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
	first = strcmp(out.argv[1], "--name") == 0 ? 3 : strncmp(out.argv[1], "--name=", 7) == 0 ? 2 : 1;
	FZ_CHECK(strcmp(out.argv[0], "/bulkhead") == 0 && first < out.argc &&
			 strcmp(out.argv[first], "--kernel") == 0,
		 "argv[1] is %s, not --kernel after a --name", out.argv[1]);
	for (unsigned int i = 0; i < out.argc; i++)
		FZ_CHECK(out.argv[i] >= out.text && out.argv[i] + strlen(out.argv[i]) < out.text + sizeof(out.text),
			 "argv[%u] outside the text", i);
	check_parse_back();
out:
	free(text);
	return 0;
}
