/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Process-level fuzzing: start a real, jailed device process on its own
 * (no KVM, no vcpu process), bootstrap it exactly as the supervisor does,
 * and drive it the way a vcpu process and a guest would: register accesses
 * over its channel, rings written straight into the shared guest memory,
 * kicks on its ioeventfds, frames on its TAP, bytes on its console. See
 * procfuzz.c for the checks and docs/fuzzing.md for how to use it.
 */
#ifndef BULKHEAD_TESTS_FUZZ_PROCFUZZ_H
#define BULKHEAD_TESTS_FUZZ_PROCFUZZ_H

#include <stddef.h>
#include <stdint.h>

enum procfuzz_dev {
	PROCFUZZ_BLK,
	PROCFUZZ_NET,
	PROCFUZZ_SERIAL,
	PROCFUZZ_9P,
	PROCFUZZ_RNG,
	PROCFUZZ_VSOCK,
};

/*
 * Backend sub-ops of FZV_OP_BACKEND; see procfuzz.c. The malformed ones
 * take one exact byte value each, so that mutations reach them only
 * rarely: each one costs a restart of the child.
 */
#define PF_SUB_NET_FRAME 0 /* sub % 4 */
#define PF_SUB_NET_SMALL 2
#define PF_SUB_NET_BIG 3
/* vsock (sub % 6, fuzz_vsock.c's language): 0 a host program connects and writes its
 * line, 1 the broker answers the oldest CONNECT, 2 a host end writes, 3 shuts or closes,
 * 4 reads; rng (sub % 2): 0 u32 of time passes (consumed; the process keeps real time) */
#define PF_SUB_VSOCK_CONNECT 0
#define PF_SUB_VSOCK_BROKER 1
#define PF_SUB_VSOCK_WRITE 2
#define PF_SUB_VSOCK_SHUT 3
#define PF_SUB_VSOCK_READ 4
#define PF_SUB_SYNC 0xfc /* exact values */
#define PF_SUB_ODD_IO 0xfd
#define PF_SUB_RAW 0xfe
#define PF_SUB_RAW_CTL 0xff

/* The serial op language: op % PF_SER_NOPS, in ranges so writes and reads dominate, or an exact PF_SUB_* value. */
#define PF_SER_WRITE 0 /* 0 .. 4: u8 offset, u8 value */
#define PF_SER_READ 5 /* 5 .. 8: u8 offset */
#define PF_SER_INPUT 9 /* 9 .. 10: u8 count, bytes on the console */
#define PF_SER_SYNC 11
#define PF_SER_WIDE 12 /* u8 offset, u8 size code, u8 write, u64 value */
#define PF_SER_NOPS 13

/* procfuzz_dev_from_name: "blk", "net", "serial", "9p", "rng", "vsock"; -1 if none. */
int procfuzz_dev_from_name(const char *name);
/* procfuzz_init: choose the device (once per process); the child starts with the first input. */
void procfuzz_init(enum procfuzz_dev dev);
/* procfuzz_one: run one input against the (persistent) child; a finding aborts via fz_fail. */
void procfuzz_one(const uint8_t *data, size_t size);
/* procfuzz_stop: stop the child (STOP, then SIGKILL after a second) and reap it. */
void procfuzz_stop(void);

#endif
