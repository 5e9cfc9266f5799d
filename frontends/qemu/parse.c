/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QEMU's command line into struct qemu_cmd: a table of the options
 * bulkhead-qemu takes, each with its handler; "key=value,..." values are
 * split as QEMU splits them (",," is a comma inside a value; the first
 * element may be a bare word for the option's implied key: "-device
 * virtio-blk-pci,drive=d0", "-netdev tap,id=n0", "-m 1G,maxmem=2G").
 * Whatever bulkhead cannot do is refused by name, never dropped: an option
 * not in the table, a key an option does not know, a value it cannot honour.
 * What changes nothing in bulkhead (-cpu, -bios, -accel kvm, ...) is said
 * when BULKHEAD_QEMU_VERBOSE is set.
 */
#include "qemu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ipc/ipc.h"

#define QOPT_MAX 16 /* elements of one key=value list */
#define QOPT_TEXT_MAX (8192 + PATH_MAX) /* one option value */

struct qopt {
	const char *key;
	const char *val;
	int used; /* a handler read it */
};

struct qopts {
	struct qopt o[QOPT_MAX];
	unsigned int n;
	char *text; /* the unescaped copy the pairs point into */
};

struct parse {
	struct qemu_cmd *q;
	const char *opt; /* "-drive", for messages */
	char *err;
	size_t errlen;
};

static int BH_PRINTF(2, 3) fail(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->errlen, "%s: ", p->opt);

	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	qemu_one_line(p->err);
	return -1;
}

void qemu_one_line(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
	}
}

static void BH_PRINTF(2, 3) note(struct parse *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!p->q->verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_info("%s: %s", p->opt, line);
}

/*
 * Split s as QEMU does: elements separated by ',', ",," a literal comma,
 * "key=value" or a bare word (the implied key's value when it comes first and
 * implied is not NULL, else key=on). Empty elements are refused.
 */
static int qopts_split(struct parse *p, const char *s, const char *implied, struct qopts *qo)
{
	size_t len = strlen(s);
	char *w;

	qo->n = 0;
	qo->text = NULL;
	if (len > QOPT_TEXT_MAX)
		return fail(p, "value longer than %d bytes", QOPT_TEXT_MAX);
	qo->text = malloc(len + 2);
	if (!qo->text)
		return fail(p, "%s", strerror(ENOMEM));
	w = qo->text;
	while (*s) {
		char *word = w, *eq = NULL;
		const char *key, *val;

		if (qo->n == QOPT_MAX)
			return fail(p, "more than %d key=value elements", QOPT_MAX);
		for (; *s; s++) {
			if (*s == ',' && s[1] == ',' && eq) {
				*w++ = *s++; /* ",," in a value */
			} else if (*s == ',') {
				break;
			} else if (*s == '=' && !eq) {
				*w++ = '\0';
				eq = w;
			} else {
				*w++ = *s;
			}
		}
		*w++ = '\0';
		if (*s == ',') {
			s++;
			if (!*s)
				return fail(p, "trailing comma");
		}
		if (!*word)
			return fail(p, eq ? "missing key before '='" : "empty element");
		key = word;
		val = eq;
		if (!eq && qo->n == 0 && implied) {
			key = implied;
			val = word;
		} else if (!eq) {
			val = "on";
		}
		for (unsigned int i = 0; i < qo->n; i++) {
			if (strcmp(qo->o[i].key, key) == 0)
				return fail(p, "%s= given twice", key);
		}
		qo->o[qo->n].key = key;
		qo->o[qo->n].val = val;
		qo->o[qo->n].used = 0;
		qo->n++;
	}
	return 0;
}

static const char *qget(struct qopts *qo, const char *key)
{
	for (unsigned int i = 0; i < qo->n; i++) {
		if (strcmp(qo->o[i].key, key) == 0) {
			qo->o[i].used = 1;
			return qo->o[i].val;
		}
	}
	return NULL;
}

/* Every element was read by the handler: anything else is refused by name. */
static int qopts_done(struct parse *p, struct qopts *qo)
{
	for (unsigned int i = 0; i < qo->n; i++) {
		if (!qo->o[i].used)
			return fail(p, "%s=%s: not supported by bulkhead-qemu", qo->o[i].key, qo->o[i].val);
	}
	return 0;
}

/* A value the command keeps, copied out of the qopts into the command's own buffer. */
static const char *keep(struct parse *p, const char *s)
{
	struct qemu_cmd *q = p->q;
	size_t len = s ? strlen(s) + 1 : 0;
	char *c;

	if (!s)
		return NULL;
	if (len > sizeof(q->kept) - q->nkept) {
		fail(p, "the values add up to more than %zu bytes", sizeof(q->kept));
		return NULL;
	}
	c = q->kept + q->nkept;
	memcpy(c, s, len);
	q->nkept += len;
	return c;
}

static int on_off(struct parse *p, const char *key, const char *v, int *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0) {
		*out = 1;
		return 0;
	}
	if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0) {
		*out = 0;
		return 0;
	}
	return fail(p, "%s=%s: expected on or off", key, v);
}

static int number(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A backend's id=: required, 1 to QEMU_ID_MAX - 1 bytes, and not one its kind has (taken). */
static int id_check(struct parse *p, const char *id, int taken)
{
	if (!id || !*id || strlen(id) >= QEMU_ID_MAX)
		return fail(p, "id= is required (1 to %d bytes)", QEMU_ID_MAX - 1);
	if (taken)
		return fail(p, "id=%s: given twice", id);
	return 0;
}

/* -m [size=]N[M|G|T][,slots=,maxmem=]: MiB without a suffix, as QEMU. */
static int opt_m(struct parse *p, const char *arg)
{
	struct qopts qo;
	const char *size;
	char *end;
	unsigned long long v;
	uint64_t shift = 0;
	int r = -1, hotplug;

	if (qopts_split(p, arg, "size", &qo) < 0)
		goto out;
	size = qget(&qo, "size");
	hotplug = qget(&qo, "slots") != NULL;
	hotplug += qget(&qo, "maxmem") != NULL; /* both read, so both count as used */
	if (hotplug)
		note(p, "slots= and maxmem= ignored: bulkhead has no memory hotplug");
	if (!size || !*size || *size == '-') {
		fail(p, "size missing");
		goto out;
	}
	errno = 0;
	v = strtoull(size, &end, 10);
	switch (*end) {
	case '\0':
	case 'M':
	case 'm':
		break;
	case 'G':
	case 'g':
		shift = 10;
		break;
	case 'T':
	case 't':
		shift = 20;
		break;
	default:
		fail(p, "%s: not a size (N, NM, NG or NT)", size);
		goto out;
	}
	if (errno || (*end && end[1] && !(end[1] == 'B' && !end[2])) || v == 0 || v > (UINT64_MAX >> 30)) {
		fail(p, "%s: not a size (N, NM, NG or NT)", size);
		goto out;
	}
	p->q->mem_mib = v << shift;
	r = qopts_done(p, &qo);
out:
	free(qo.text);
	return r;
}

/* -smp [cpus=]N[,maxcpus=,sockets=,dies=,clusters=,cores=,threads=]. */
static int opt_smp(struct parse *p, const char *arg)
{
	static const char *const topology[] = { "maxcpus", "sockets", "dies", "clusters", "cores",
						"threads", "books", "drawers" };
	struct qopts qo;
	const char *cpus;
	uint64_t n;
	int r = -1;

	if (qopts_split(p, arg, "cpus", &qo) < 0)
		goto out;
	cpus = qget(&qo, "cpus");
	for (size_t i = 0; i < nitems(topology); i++) {
		if (qget(&qo, topology[i]))
			note(p, "%s= ignored: bulkhead gives the guest cpus= flat vCPUs", topology[i]);
	}
	if (!cpus || number(cpus, 4096, &n) < 0 || n == 0) {
		fail(p, "cpus=%s: expected a number of vCPUs", cpus ? cpus : "");
		goto out;
	}
	p->q->vcpus = (unsigned int)n;
	r = qopts_done(p, &qo);
out:
	free(qo.text);
	return r;
}

/* kernel_irqchip=on|split; off would take the local APICs out of KVM, which bulkhead never does. */
static int machine_irqchip(struct parse *p, const char *v)
{
	if (strcmp(v, "split") == 0) {
		p->q->irqchip_split = 1;
		return 0;
	}
	if (on_off(p, "kernel_irqchip", v, &p->q->irqchip_split) < 0)
		return -1;
	if (!p->q->irqchip_split)
		return fail(p, "kernel_irqchip=%s: bulkhead keeps the local APICs in KVM: on or split", v);
	p->q->irqchip_split = 0;
	return 0;
}

/* -machine/-M microvm|q35|pc[,accel=,acpi=,pit=,kernel_irqchip=,...]: bulkhead's machine is its own. */
static int opt_machine(struct parse *p, const char *arg)
{
	static const char *const types[] = { "microvm", "q35", "pc" };
	struct qopts qo;
	const char *type, *v;
	size_t i;
	int r = -1;

	if (qopts_split(p, arg, "type", &qo) < 0)
		goto out;
	type = qget(&qo, "type");
	for (i = 0; type && i < nitems(types); i++) {
		if (strcmp(type, types[i]) == 0 || (strncmp(type, types[i], strlen(types[i])) == 0 &&
						    type[strlen(types[i])] == '-'))
			break;
	}
	if (!type || i == nitems(types)) {
		fail(p, "%s: bulkhead-qemu takes microvm, q35 or pc", type ? type : "(no type)");
		goto out;
	}
	if ((v = qget(&qo, "acpi")) && on_off(p, "acpi", v, &p->q->acpi) < 0)
		goto out;
	if ((v = qget(&qo, "pit")) && on_off(p, "pit", v, &p->q->pit) < 0)
		goto out;
	if (((v = qget(&qo, "kernel_irqchip")) || (v = qget(&qo, "kernel-irqchip"))) &&
	    machine_irqchip(p, v) < 0)
		goto out;
	if ((v = qget(&qo, "accel")) && !strstr(v, "kvm"))
		note(p, "accel=%s: bulkhead always runs on KVM", v);
	for (i = 0; i < qo.n; i++) {
		if (!qo.o[i].used) {
			note(p, "%s=%s ignored: bulkhead's machine is its own", qo.o[i].key, qo.o[i].val);
			qo.o[i].used = 1;
		}
	}
	r = 0;
out:
	free(qo.text);
	return r;
}

static int opt_accel(struct parse *p, const char *arg)
{
	if (strncmp(arg, "kvm", 3) != 0 || (arg[3] && arg[3] != ','))
		note(p, "%s: bulkhead always runs on KVM", arg);
	else if (arg[3])
		note(p, "%s: properties ignored", arg);
	return 0;
}

static int opt_ignored(struct parse *p, const char *arg)
{
	note(p, "%s%signored: bulkhead decides this itself", arg ? arg : "", arg ? ": " : "");
	return 0;
}

/* -serial stdio|mon:stdio|file:PATH|none|null: COM1 (a second one only if it is none). */
static int opt_serial(struct parse *p, const char *arg)
{
	struct qemu_cmd *q = p->q;
	enum qemu_serial s;
	const char *file = NULL;

	if (strcmp(arg, "stdio") == 0 || strcmp(arg, "mon:stdio") == 0) {
		s = QEMU_SERIAL_STDIO;
	} else if (strcmp(arg, "none") == 0 || strcmp(arg, "null") == 0) {
		s = QEMU_SERIAL_NONE;
	} else if (strncmp(arg, "file:", 5) == 0 && arg[5]) {
		s = QEMU_SERIAL_FILE;
		file = arg + 5;
	} else {
		return fail(p, "%s: bulkhead-qemu takes stdio, mon:stdio, file:PATH, none or null", arg);
	}
	if (q->nserials++ > 0) {
		if (s != QEMU_SERIAL_NONE)
			return fail(p, "%s: bulkhead has one serial port (COM1)", arg);
		return 0;
	}
	q->serial = s;
	q->serial_file = file;
	return 0;
}

static int opt_display(struct parse *p, const char *arg)
{
	if (strcmp(arg, "none") != 0)
		return fail(p, "%s: bulkhead has no display (-display none)", arg);
	return 0;
}

static struct qemu_drive *drive_by_id(struct qemu_cmd *q, const char *id)
{
	for (unsigned int i = 0; i < q->ndrives; i++) {
		if (strcmp(q->drives[i].id, id) == 0)
			return &q->drives[i];
	}
	return NULL;
}

static int add_disk(struct parse *p, unsigned int drive, const char *serial)
{
	struct qemu_cmd *q = p->q;

	if (q->drives[drive].attached)
		return fail(p, "drive %s is attached twice", q->drives[drive].id);
	if (q->ndisks == QEMU_MAX_DISKS)
		return fail(p, "at most %d disks", QEMU_MAX_DISKS);
	q->drives[drive].attached = 1;
	q->disks[q->ndisks].drive = drive;
	q->disks[q->ndisks].serial = serial;
	q->ndisks++;
	return 0;
}

/* -drive file=,format=raw,if=virtio|none,readonly=,id=,snapshot=,cache=,media=disk */
static int drive_fill(struct parse *p, struct qopts *qo, struct qemu_drive *d, const char **iface)
{
	const char *file = qget(qo, "file"), *format = qget(qo, "format"), *id = qget(qo, "id");
	const char *v;

	*iface = qget(qo, "if");
	if (!file || !*file)
		return fail(p, "file= is required");
	if (format && strcmp(format, "raw") != 0)
		return fail(p, "format=%s: bulkhead takes raw images only", format);
	if (!format)
		note(p, "file=%s: no format=: taken as raw (QEMU would probe it)", file);
	if (!*iface)
		return fail(p, "give if=virtio or if=none (bulkhead has virtio-blk disks only)");
	if (strcmp(*iface, "virtio") != 0 && strcmp(*iface, "none") != 0)
		return fail(p, "if=%s: bulkhead has virtio-blk disks only (if=virtio or if=none)", *iface);
	if ((v = qget(qo, "media")) && strcmp(v, "disk") != 0)
		return fail(p, "media=%s: bulkhead has disks only", v);
	if ((v = qget(qo, "readonly")) && on_off(p, "readonly", v, &d->readonly) < 0)
		return -1;
	if ((v = qget(qo, "snapshot")) && on_off(p, "snapshot", v, &d->snapshot) < 0)
		return -1;
	if ((v = qget(qo, "cache"))) {
		if (strcmp(v, "none") == 0 || strcmp(v, "directsync") == 0)
			d->direct = 1;
		else if (strcmp(v, "writeback") != 0 && strcmp(v, "writethrough") != 0 &&
			 strcmp(v, "unsafe") != 0)
			return fail(p, "cache=%s: expected none, directsync, writeback, writethrough or unsafe", v);
	}
	if (id && (!*id || strlen(id) >= sizeof(d->id)))
		return fail(p, "id=%s: 1 to %zu bytes", id, sizeof(d->id) - 1);
	if (id && drive_by_id(p->q, id))
		return fail(p, "id=%s: given twice", id);
	snprintf(d->id, sizeof(d->id), "%s", id ? id : "");
	d->file = keep(p, file);
	return d->file ? 0 : -1;
}

static int opt_drive(struct parse *p, const char *arg)
{
	struct qemu_cmd *q = p->q;
	struct qemu_drive *d;
	const char *iface;
	struct qopts qo;
	int r = -1;

	if (q->ndrives == QEMU_MAX_DRIVES)
		return fail(p, "at most %d drives", QEMU_MAX_DRIVES);
	d = &q->drives[q->ndrives];
	memset(d, 0, sizeof(*d));
	if (qopts_split(p, arg, NULL, &qo) < 0 || drive_fill(p, &qo, d, &iface) < 0 ||
	    qopts_done(p, &qo) < 0)
		goto out;
	if (strcmp(iface, "none") == 0 && !d->id[0]) {
		fail(p, "if=none needs id= for a -device to name");
		goto out;
	}
	q->ndrives++;
	r = strcmp(iface, "virtio") == 0 ? add_disk(p, q->ndrives - 1, NULL) : 0;
out:
	free(qo.text);
	return r;
}

static struct qemu_netdev *netdev_by_id(struct qemu_cmd *q, const char *id)
{
	for (unsigned int i = 0; i < q->nnetdevs; i++) {
		if (strcmp(q->netdevs[i].id, id) == 0)
			return &q->netdevs[i];
	}
	return NULL;
}

static int opt_netdev(struct parse *p, const char *arg)
{
	struct qemu_cmd *q = p->q;
	struct qemu_netdev *n;
	const char *type, *id, *v;
	struct qopts qo;
	int r = -1;

	if (q->nnetdevs == QEMU_MAX_NETDEVS)
		return fail(p, "at most %d netdevs", QEMU_MAX_NETDEVS);
	n = &q->netdevs[q->nnetdevs];
	memset(n, 0, sizeof(*n));
	if (qopts_split(p, arg, "type", &qo) < 0)
		goto out;
	type = qget(&qo, "type");
	id = qget(&qo, "id");
	if (!type || strcmp(type, "tap") != 0) {
		fail(p, "%s: bulkhead-qemu takes tap netdevs only", type ? type : "(no type)");
		goto out;
	}
	if (id_check(p, id, id && netdev_by_id(q, id)) < 0)
		goto out;
	for (const char *const *k = (const char *const[]){ "script", "downscript", NULL }; *k; k++) {
		v = qget(&qo, *k);
		if (v && strcmp(v, "no") != 0) {
			fail(p, "%s=%s: bulkhead runs no scripts (%s=no)", *k, v, *k);
			goto out;
		}
	}
	n->ifname = keep(p, qget(&qo, "ifname"));
	n->fd = keep(p, qget(&qo, "fd"));
	if (!n->ifname == !n->fd) {
		fail(p, "give exactly one of ifname= and fd=");
		goto out;
	}
	snprintf(n->id, sizeof(n->id), "%s", id);
	if (qopts_done(p, &qo) < 0)
		goto out;
	q->nnetdevs++;
	r = 0;
out:
	free(qo.text);
	return r;
}

static int device_blk(struct parse *p, struct qopts *qo)
{
	const char *id = qget(qo, "drive"), *serial = qget(qo, "serial");
	struct qemu_drive *d;

	qget(qo, "id");
	if (!id)
		return fail(p, "drive= is required");
	d = drive_by_id(p->q, id);
	if (!d)
		return fail(p, "drive=%s: no -drive with that id (give -drive ...,if=none,id=%s first)", id, id);
	if (qopts_done(p, qo) < 0)
		return -1;
	serial = serial ? keep(p, serial) : NULL;
	return add_disk(p, (unsigned int)(d - p->q->drives), serial);
}

static int device_net(struct parse *p, struct qopts *qo)
{
	struct qemu_cmd *q = p->q;
	const char *id = qget(qo, "netdev"), *mac = qget(qo, "mac");
	struct qemu_netdev *n;

	qget(qo, "id");
	if (!id)
		return fail(p, "netdev= is required");
	n = netdev_by_id(q, id);
	if (!n)
		return fail(p, "netdev=%s: no -netdev with that id (give -netdev tap,id=%s,... first)", id, id);
	if (n->attached)
		return fail(p, "netdev=%s is attached twice", id);
	if (q->nnics == QEMU_MAX_NICS)
		return fail(p, "at most %d NICs", QEMU_MAX_NICS);
	if (qopts_done(p, qo) < 0)
		return -1;
	n->attached = 1;
	q->nics[q->nnics].netdev = (unsigned int)(n - q->netdevs);
	q->nics[q->nnics].mac = mac ? keep(p, mac) : NULL;
	q->nnics++;
	return 0;
}

/* isa-debug-exit,iobase=0xf4,iosize=N: bulkhead's port is 0xf4 (QEMU's default is 0x501). */
static int device_debug_exit(struct parse *p, struct qopts *qo)
{
	const char *base = qget(qo, "iobase"), *size = qget(qo, "iosize");
	uint64_t v;

	if (!base || number(base, 0xffff, &v) < 0 || v != 0xf4)
		return fail(p, "isa-debug-exit: give iobase=0xf4 (bulkhead's debug-exit port)");
	if (size && (number(size, 8, &v) < 0 || (v != 1 && v != 2 && v != 4)))
		return fail(p, "isa-debug-exit: iosize=%s: 1, 2 or 4", size);
	qget(qo, "id");
	if (qopts_done(p, qo) < 0)
		return -1;
	p->q->debug_exit = 1;
	return 0;
}

static int rng_object_taken(const struct qemu_cmd *q, const char *id)
{
	for (unsigned int i = 0; i < q->nrng_objects; i++) {
		if (strcmp(q->rng_objects[i], id) == 0)
			return 1;
	}
	return 0;
}

/*
 * -object rng-random,id=ID[,filename=/dev/urandom|/dev/random] or rng-builtin,id=ID: the host
 * kernel's generator, which bulkhead-rng reads with getrandom(2) (as /dev/urandom, and as
 * /dev/random since Linux 5.6). Another file, or rng-egd's daemon, it cannot read.
 */
static int opt_object(struct parse *p, const char *arg)
{
	struct qemu_cmd *q = p->q;
	const char *type, *id, *file;
	struct qopts qo;
	int r = -1;

	if (qopts_split(p, arg, "qom-type", &qo) < 0)
		goto out;
	type = qget(&qo, "qom-type");
	id = qget(&qo, "id");
	if (!type || (strcmp(type, "rng-random") != 0 && strcmp(type, "rng-builtin") != 0)) {
		fail(p, "%s: bulkhead-qemu takes rng-random and rng-builtin objects only (bulkhead-rng "
		     "reads getrandom(2))", type ? type : "(no type)");
		goto out;
	}
	file = strcmp(type, "rng-random") == 0 ? qget(&qo, "filename") : NULL;
	if (file && strcmp(file, "/dev/urandom") != 0 && strcmp(file, "/dev/random") != 0) {
		fail(p, "filename=%s: bulkhead-rng reads the kernel's generator with getrandom(2) "
		     "(filename=/dev/urandom or /dev/random)", file);
		goto out;
	}
	if (q->nrng_objects == QEMU_MAX_RNG_OBJECTS) {
		fail(p, "at most %d rng objects", QEMU_MAX_RNG_OBJECTS);
		goto out;
	}
	if (id_check(p, id, id && rng_object_taken(q, id)) < 0 || qopts_done(p, &qo) < 0)
		goto out;
	snprintf(q->rng_objects[q->nrng_objects++], QEMU_ID_MAX, "%s", id);
	r = 0;
out:
	free(qo.text);
	return r;
}

/*
 * QEMU's virtio-rng hands out max-bytes every period ms (by default 2^63 - 1 every 65536 ms: no
 * limit); bulkhead's --rng rate= is their average, whole bytes per second (kinds/rng.c), with
 * bursts of at most one second's worth. 0 in *rate: no limit.
 */
static int rng_rate(struct parse *p, const char *max, const char *period, uint64_t *rate)
{
	uint64_t bytes = INT64_MAX, ms = 1 << 16;
	unsigned __int128 per_s;

	*rate = 0;
	if (max && number(max, INT64_MAX, &bytes) < 0)
		return fail(p, "max-bytes=%s: a number of bytes below 2^63", max);
	if (period && (number(period, UINT32_MAX, &ms) < 0 || ms == 0))
		return fail(p, "period=%s: a number of milliseconds from 1 to 2^32 - 1", period);
	per_s = (unsigned __int128)bytes * 1000 / ms;
	if (per_s > IPC_RNG_RATE_MAX) {
		if (max)
			note(p, "max-bytes=%s every %llu ms: no limit (above bulkhead's highest rate, %llu "
			     "bytes per second)", max, (unsigned long long)ms, (unsigned long long)IPC_RNG_RATE_MAX);
		return 0;
	}
	if (per_s == 0)
		return fail(p, "max-bytes=%llu every %llu ms: less than bulkhead's lowest rate, 1 byte per "
			    "second", (unsigned long long)bytes, (unsigned long long)ms);
	if ((unsigned __int128)bytes * 1000 % ms)
		note(p, "max-bytes=%llu every %llu ms: rate=%llu bytes per second, rounded down",
		     (unsigned long long)bytes, (unsigned long long)ms, (unsigned long long)per_s);
	*rate = (uint64_t)per_s;
	return 0;
}

/* virtio-rng-*[,rng=ID][,max-bytes=N][,period=MS][,id=]: bulkhead has one. */
static int device_rng(struct parse *p, struct qopts *qo)
{
	struct qemu_cmd *q = p->q;
	const char *obj = qget(qo, "rng"), *max = qget(qo, "max-bytes"), *period = qget(qo, "period");

	qget(qo, "id");
	if (q->rng)
		return fail(p, "bulkhead has one virtio-rng device");
	if (obj && !rng_object_taken(q, obj))
		return fail(p, "rng=%s: no -object rng-random or rng-builtin with that id (give -object "
			    "rng-random,id=%s first)", obj, obj);
	if (qopts_done(p, qo) < 0 || rng_rate(p, max, period, &q->rng_rate) < 0)
		return -1;
	q->rng = 1;
	return 0;
}

static struct qemu_fsdev *fsdev_by_id(struct qemu_cmd *q, const char *id)
{
	for (unsigned int i = 0; i < q->nfsdevs; i++) {
		if (strcmp(q->fsdevs[i].id, id) == 0)
			return &q->fsdevs[i];
	}
	return NULL;
}

/* The 9p device of fsdev f, with its mount tag: bulkhead's --fs. */
static int add_share(struct parse *p, struct qemu_fsdev *f, const char *tag)
{
	struct qemu_cmd *q = p->q;

	if (!tag)
		return fail(p, "mount_tag= is required");
	if (f->tag)
		return fail(p, "fsdev %s is attached twice", f->id);
	f->tag = keep(p, tag);
	if (!f->tag)
		return -1;
	q->shares[q->nshares++] = (unsigned int)(f - q->fsdevs);
	return 0;
}

/*
 * The keys -fsdev and -virtfs share: local,path=DIR,security_model=none[,readonly=on]. bulkhead's
 * 9p server runs as its jail's unprivileged user and keeps no ownership of its own: the guest sees
 * the host's owners and modes, and what it creates belongs to the server's user, as with QEMU's
 * security_model=none run by an ordinary user. passthrough (the guest's ids on the host, QEMU as
 * root) and the mapped models (the guest's ids in xattrs or files) it cannot honour.
 */
static int fsdev_fill(struct parse *p, struct qopts *qo, struct qemu_fsdev *f)
{
	const char *driver = qget(qo, "fsdriver"), *path = qget(qo, "path");
	const char *model = qget(qo, "security_model"), *v;

	if (!driver || strcmp(driver, "local") != 0)
		return fail(p, "%s: bulkhead-qemu takes local fsdevs only", driver ? driver : "(no driver)");
	if (!path || !*path)
		return fail(p, "path= is required");
	if (!model)
		return fail(p, "security_model= is required (bulkhead's 9p is security_model=none)");
	if (strcmp(model, "passthrough") == 0)
		return fail(p, "security_model=passthrough: bulkhead's 9p server is unprivileged, so what "
			    "the guest creates belongs to it, not to the guest's ids (security_model=none)");
	if (strcmp(model, "mapped") == 0 || strcmp(model, "mapped-xattr") == 0 ||
	    strcmp(model, "mapped-file") == 0)
		return fail(p, "security_model=%s: bulkhead's 9p stores no guest owners or modes: the guest "
			    "sees the host's (security_model=none)", model);
	if (strcmp(model, "none") != 0)
		return fail(p, "security_model=%s: bulkhead's 9p is security_model=none", model);
	if ((v = qget(qo, "readonly")) && on_off(p, "readonly", v, &f->readonly) < 0)
		return -1;
	f->path = keep(p, path);
	return f->path ? 0 : -1;
}

/* -fsdev local,id=ID,... (attached by a -device virtio-9p-*), or -virtfs local,mount_tag=TAG,...
 * (attached at once; its id defaults to the tag, as QEMU's). */
static int add_fsdev(struct parse *p, const char *arg, int virtfs)
{
	struct qemu_cmd *q = p->q;
	struct qemu_fsdev *f;
	const char *id, *tag = NULL;
	struct qopts qo;
	int r = -1;

	if (q->nfsdevs == QEMU_MAX_FSDEVS)
		return fail(p, "at most %d shared directories", QEMU_MAX_FSDEVS);
	f = &q->fsdevs[q->nfsdevs];
	memset(f, 0, sizeof(*f));
	if (qopts_split(p, arg, "fsdriver", &qo) < 0 || fsdev_fill(p, &qo, f) < 0)
		goto out;
	id = qget(&qo, "id");
	if (virtfs) {
		tag = qget(&qo, "mount_tag");
		if (!tag) {
			fail(p, "mount_tag= is required");
			goto out;
		}
		id = id ? id : tag;
	}
	if (id_check(p, id, id && fsdev_by_id(q, id)) < 0 || qopts_done(p, &qo) < 0)
		goto out;
	snprintf(f->id, sizeof(f->id), "%s", id);
	q->nfsdevs++;
	r = virtfs ? add_share(p, f, tag) : 0;
out:
	free(qo.text);
	return r;
}

static int opt_fsdev(struct parse *p, const char *arg)
{
	return add_fsdev(p, arg, 0);
}

static int opt_virtfs(struct parse *p, const char *arg)
{
	return add_fsdev(p, arg, 1);
}

/* virtio-9p-*,fsdev=ID,mount_tag=TAG[,id=] */
static int device_9p(struct parse *p, struct qopts *qo)
{
	const char *id = qget(qo, "fsdev"), *tag = qget(qo, "mount_tag");
	struct qemu_fsdev *f;

	qget(qo, "id");
	if (!id)
		return fail(p, "fsdev= is required");
	f = fsdev_by_id(p->q, id);
	if (!f)
		return fail(p, "fsdev=%s: no -fsdev with that id (give -fsdev local,id=%s,... first)", id, id);
	if (qopts_done(p, qo) < 0)
		return -1;
	return add_share(p, f, tag);
}

/*
 * vhost-vsock-* and vhost-user-vsock-*: no faithful translation. Host programs reach a QEMU guest
 * through the host kernel's AF_VSOCK (or a vhost-user daemon QEMU's command line does not
 * describe); bulkhead's vsock is Firecracker's hybrid, UNIX sockets at a path of its own.
 */
static int device_vsock(struct parse *p, struct qopts *qo)
{
	const char *cid = qget(qo, "guest-cid");

	return fail(p, "%s: bulkhead's vsock is Firecracker's hybrid (host programs use UNIX sockets, "
		    "not AF_VSOCK): give bulkhead's --vsock cid=%s,uds=PATH in BULKHEAD_QEMU_OPTIONS",
		    qget(qo, "driver"), cid ? cid : "N");
}

static const struct {
	const char *driver;
	int (*fn)(struct parse *p, struct qopts *qo);
} devices[] = {
	{ "virtio-blk-device", device_blk },
	{ "virtio-blk-pci", device_blk },
	{ "virtio-net-device", device_net },
	{ "virtio-net-pci", device_net },
	{ "isa-debug-exit", device_debug_exit },
	{ "virtio-rng-device", device_rng },
	{ "virtio-rng-pci", device_rng },
	{ "virtio-9p-device", device_9p },
	{ "virtio-9p-pci", device_9p },
	{ "vhost-vsock-device", device_vsock },
	{ "vhost-vsock-pci", device_vsock },
	{ "vhost-user-vsock-device", device_vsock },
	{ "vhost-user-vsock-pci", device_vsock },
};

static int opt_device(struct parse *p, const char *arg)
{
	struct qopts qo;
	const char *driver;
	int r = -1;

	if (qopts_split(p, arg, "driver", &qo) < 0)
		goto out;
	driver = qget(&qo, "driver");
	for (size_t i = 0; driver && i < nitems(devices); i++) {
		if (strcmp(driver, devices[i].driver) == 0) {
			r = devices[i].fn(p, &qo);
			goto out;
		}
	}
	fail(p, "%s: not a device bulkhead-qemu takes (virtio-blk-*, virtio-net-*, virtio-rng-*, "
	     "virtio-9p-*, isa-debug-exit)", driver ? driver : "(no driver)");
out:
	free(qo.text);
	return r;
}

static int opt_name(struct parse *p, const char *arg)
{
	struct qopts qo;
	const char *name;
	int r = -1, ignored;

	if (qopts_split(p, arg, "guest", &qo) < 0)
		goto out;
	name = qget(&qo, "guest");
	ignored = qget(&qo, "process") != NULL;
	ignored += qget(&qo, "debug-threads") != NULL; /* both read, so both count as used */
	if (ignored)
		note(p, "process= and debug-threads= ignored: bulkhead titles its processes itself");
	if (!name || !*name) {
		fail(p, "a name is required");
		goto out;
	}
	p->q->name = keep(p, name);
	r = p->q->name ? qopts_done(p, &qo) : -1;
out:
	free(qo.text);
	return r;
}

static int opt_refused(struct parse *p, const char *arg)
{
	(void)arg;
	if (strstr(p->opt, "daemonize"))
		return fail(p, "bulkhead stays in the foreground: its exit status is the guest's verdict "
			    "(run it in the background from the shell)");
	return fail(p, "not supported: bulkhead-qemu execs bulkhead, whose pid is the one it was "
		    "started with ($! in a shell)");
}

#define SET_FLAG(fname, field) \
	static int fname(struct parse *p, const char *arg) \
	{ \
		(void)arg; \
		p->q->field = 1; \
		return 0; \
	}
SET_FLAG(opt_nographic, nographic)
SET_FLAG(opt_nodefaults, nodefaults)
SET_FLAG(opt_no_reboot, no_reboot)
SET_FLAG(opt_snapshot, snapshot)
SET_FLAG(opt_info, info)

#define SET_STRING(fname, field) \
	static int fname(struct parse *p, const char *arg) \
	{ \
		p->q->field = arg; \
		return 0; \
	}
SET_STRING(opt_kernel, kernel)
SET_STRING(opt_initrd, initrd)
SET_STRING(opt_append, append)

static const struct qemu_option {
	const char *name; /* without the leading '-' */
	int has_arg;
	int (*fn)(struct parse *p, const char *arg);
} options[] = {
	{ "kernel", 1, opt_kernel },
	{ "initrd", 1, opt_initrd },
	{ "append", 1, opt_append },
	{ "m", 1, opt_m },
	{ "smp", 1, opt_smp },
	{ "machine", 1, opt_machine },
	{ "M", 1, opt_machine },
	{ "accel", 1, opt_accel },
	{ "enable-kvm", 0, opt_ignored },
	{ "cpu", 1, opt_ignored },
	{ "bios", 1, opt_ignored },
	{ "no-user-config", 0, opt_ignored },
	{ "nodefaults", 0, opt_nodefaults },
	{ "nographic", 0, opt_nographic },
	{ "display", 1, opt_display },
	{ "serial", 1, opt_serial },
	{ "no-reboot", 0, opt_no_reboot },
	{ "snapshot", 0, opt_snapshot },
	{ "name", 1, opt_name },
	{ "drive", 1, opt_drive },
	{ "netdev", 1, opt_netdev },
	{ "device", 1, opt_device },
	{ "pidfile", 1, opt_refused },
	{ "daemonize", 0, opt_refused },
	{ "fsdev", 1, opt_fsdev },
	{ "virtfs", 1, opt_virtfs },
	{ "object", 1, opt_object },
	{ "version", 0, opt_info },
	{ "help", 0, opt_info },
	{ "h", 0, opt_info },
};

int qemu_parse(struct qemu_cmd *q, int argc, char **argv, char *err, size_t errlen)
{
	struct parse p = { .q = q, .err = err, .errlen = errlen };

	q->acpi = q->pit = q->irqchip_split = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		size_t k;

		if (!*a)
			continue; /* KUnit's x86_64 config adds an empty argument; QEMU ignores it */
		if (a[0] != '-' || !a[1]) {
			snprintf(err, errlen, "%s: not an option (bulkhead-qemu takes no image without -drive)", a);
			qemu_one_line(err);
			return -1;
		}
		a += a[1] == '-' ? 2 : 1; /* QEMU takes -opt and --opt alike */
		for (k = 0; k < nitems(options) && strcmp(options[k].name, a) != 0; k++)
			;
		p.opt = argv[i];
		if (k == nitems(options)) {
			snprintf(err, errlen, "%s: unsupported option (bulkhead-qemu takes the options "
				 "listed in bulkhead-qemu(1))", argv[i]);
			qemu_one_line(err);
			return -1;
		}
		if (options[k].has_arg && i + 1 >= argc)
			return fail(&p, "requires an argument");
		if (options[k].fn(&p, options[k].has_arg ? argv[++i] : NULL) < 0)
			return -1;
	}
	return 0;
}
