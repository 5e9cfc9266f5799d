/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The engine the disk-based hostile-guest suites share (blk_hostile.c runs it
 * for blk-hostile, mmio-hostile and vring-hostile): one virtio-blk disk and a
 * table of cases. Each case sets the device up, commits one violation and
 * reports the device's answer as an outcome; the engine then resets the
 * device (Status 0, until it reads 0), sets it up again, and a good write and
 * read must work. A NEEDS_RESET seen while the driver was DRIVER_OK must come
 * with InterruptStatus bit 1 (the configuration-change interrupt).
 *
 * One line per case: `SUITE: NAME: what ... ok (OUTCOME) [details]` or
 * `... FAIL (OUTCOME) [details]`, then `SUITE: N passed, N failed, N skipped`.
 */
#ifndef BULKHEAD_TESTS_GUEST_HOSTILE_H
#define BULKHEAD_TESTS_GUEST_HOSTILE_H

#include "blk.h"

#define HOSTILE_TIMEOUT_US 1000000 /* how long a case waits for the device's answer */
#define HOSTILE_QUIET_US 100000 /* how long "nothing happens" must hold */
#define HOSTILE_NOWHERE (1ull << 40) /* 1 TiB: no RAM there */
#define HOSTILE_BIG (MiB(1) + KiB(8)) /* h->big: buffers larger than a request slot */

/* What the device did. A case passes when its outcome has a bit of the case's accept mask. */
enum {
	O_NONE = 0,
	O_NEEDS_RESET = 1 << 0,
	O_IOERR = 1 << 1,
	O_UNSUPP = 1 << 2,
	O_NOSTATUS = 1 << 3, /* completed without writing the status byte */
	O_OK = 1 << 4, /* completed with status OK */
	O_BADSTATUS = 1 << 5, /* a status value that is none of the above */
	O_REFUSED = 1 << 6, /* QueueReady or FEATURES_OK stayed 0 */
	O_IGNORED = 1 << 7, /* the access changed nothing and the device kept working */
	O_SERVED = 1 << 8, /* every request completed OK */
	O_QUIET = 1 << 9, /* nothing touched the rings or buffers when nothing may */
	O_SURVIVED = 1 << 10, /* every request answered (completed or NEEDS_RESET), nothing stray */
	O_WRONG = 1 << 11, /* something the device must never do: fails whatever else */
};
#define O_ERROR (O_NEEDS_RESET | O_IOERR | O_UNSUPP)

struct hctx {
	const char *suite; /* the scenario's name, the prefix of each line */
	struct blk *b;
	struct blk_opts base;
	struct vq *q;
	struct blk_slot *s, *t1, *t2; /* request (header, status, data), two indirect tables */
	uint8_t *big; /* HOSTILE_BIG bytes of RAM for the cases' own buffers */
	uint64_t sector; /* sector of the hostile request */
	uint64_t scratch; /* sector of the recovery write and read */
	uint64_t seed;
	unsigned int cpus; /* online CPUs; the second one runs smp_run jobs */
	uint32_t isr; /* InterruptStatus when NEEDS_RESET was seen */
	uint8_t status; /* the status byte at completion */
	int driver_ok; /* the case left the device DRIVER_OK (NEEDS_RESET must interrupt) */
	char note[160];
};

struct hcase {
	const char *name, *what;
	/* build: commit the violation (the device is set up and DRIVER_OK); 0, or 1 to skip
	 * the case (h->note says why). The engine waits for the request's outcome. */
	int (*build)(struct hctx *h);
	/* custom: a case that runs its own sequence from a reset device; its outcome. */
	unsigned int (*custom)(struct hctx *h);
	unsigned int accept; /* outcomes that pass */
	int indirect; /* 1: needs INDIRECT_DESC negotiated; -1: must not negotiate it; 0: either */
	uint64_t need; /* feature bits the case needs offered */
	unsigned int cpus; /* CPUs the case needs (2: a second vCPU for smp_run) */
};

/* hostile_run: the scenario suite: disk bulkhead.disk (0), the cases (bulkhead.case=NAME
 * runs one), polling; PASS if every case that ran passed. */
NORETURN void hostile_run(const char *suite, const struct hcase *cases, size_t n);

/* ---- helpers for cases ---- */

#define HR 0
#define HW VQ_DESC_F_WRITE
#define HN VQ_DESC_F_NEXT
#define HPHYS(p) ((uint64_t)(uintptr_t)(p))
#define HHDR(h) HPHYS((h)->s->hdr)
#define HSTATUS(h) HPHYS((h)->s->status)
#define HDATA(h) HPHYS((h)->s->buf)

/* hostile_desc: descriptor i of table t. */
void hostile_desc(struct vq_desc *t, unsigned int i, uint64_t addr, uint32_t len, uint16_t flags,
		  uint16_t next);
/* hostile_request: h->s's header for type at h->sector; status 0xff. */
void hostile_request(struct hctx *h, uint32_t type);
/* hostile_good_chain: a valid IN of one block in descriptors t[0..2]. */
void hostile_good_chain(struct hctx *h, struct vq_desc *t);
/* hostile_post: head into the avail ring, publish, notify (whatever the device asked). */
void hostile_post(struct hctx *h, uint16_t head);
/* hostile_notify: write QueueNotify for the queue (after a fence). */
void hostile_notify(struct hctx *h);
/* hostile_needs_reset: Status has NEEDS_RESET (InterruptStatus saved in h->isr, note set). */
int hostile_needs_reset(struct hctx *h);
/* hostile_wait_outcome: the device's answer to the request at used ring entry 0, within
 * HOSTILE_TIMEOUT_US: its status, NEEDS_RESET, or O_NONE. status_ro: the status byte was
 * device-readable (a status written there is wrong). */
unsigned int hostile_wait_outcome(struct hctx *h, int status_ro);
/* hostile_wait_used: until used idx reaches want or NEEDS_RESET, at most us; 1 if it did,
 * -1 on NEEDS_RESET, 0 on timeout. */
int hostile_wait_used(struct hctx *h, uint16_t want, uint64_t us);
/* hostile_setup: reset and set the disk up again (driver_ok: through DRIVER_OK); 0 or -1
 * (h->note). */
int hostile_setup(struct hctx *h, int driver_ok);
/* hostile_live: hostile_setup through DRIVER_OK, and h->driver_ok set (a NEEDS_RESET from
 * now on must raise the configuration-change interrupt); 0 or -1. */
int hostile_live(struct hctx *h);
/* hostile_queue: from reset, negotiate, then queue 0 with size n at desc/avail/used and
 * QueueReady 1; O_REFUSED if QueueReady reads 0, | O_NEEDS_RESET if Status says so (note
 * set). */
unsigned int hostile_queue(struct hctx *h, uint32_t n, uint64_t desc, uint64_t avail, uint64_t used);
/* hostile_io: a good OUT (write) or IN of one 4 KiB request at h->scratch through the
 * driver, with the pattern; 0 or -1 (h->note: what failed). */
int hostile_io(struct hctx *h, int write);

/* ---- the suites (blk_hostile() is in blk.h) ---- */

void mmio_hostile(void);
void vring_hostile(void);

#endif
