/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef BULKHEAD_TESTHOOKS_TESTHOOKS_H
#define BULKHEAD_TESTHOOKS_TESTHOOKS_H

#include <stddef.h>

/*
 * Fault injection for the tests, compiled only into test builds
 * (make testhooks: build/testhooks/, -DBH_TEST_HOOKS). Release binaries get
 * the empty inline versions below and carry no trace of the hook.
 *
 * BULKHEAD_TEST_FAULT=<process>:<syscall> in the supervisor's environment
 * (process as in the child's title: vcpu, serial, blk0, net1, ..., or
 * supervisor) makes that one process, jailed and under its policy, call
 * <syscall>: a device process when the first guest register access reaches
 * it, the vcpu process at its first guest exit, the supervisor once it has
 * locked itself down. A compromised process, on demand.
 */
#define TESTHOOK_FAULT_ENV "BULKHEAD_TEST_FAULT"
/*
 * BULKHEAD_TEST_NO_SHADOW=1 in the supervisor's environment: the vcpu process
 * forwards every register read, so a test can compare both read paths.
 */
#define TESTHOOK_NO_SHADOW_ENV "BULKHEAD_TEST_NO_SHADOW"
/*
 * BULKHEAD_TEST_DEADLINE_MS=N in the supervisor's environment: devices must
 * answer within N ms (at least IPC_DEADLINE_MIN_MS) instead of IPC_DEADLINE_MS,
 * so that the compromised-device fuzzer does not wait 5 s for each silence.
 */
#define TESTHOOK_DEADLINE_ENV "BULKHEAD_TEST_DEADLINE_MS"
/*
 * BULKHEAD_TEST_RESTART_WINDOW_MS=N: --on-device-failure restart counts a
 * device's failures over N ms instead of SUP_RESTART_WINDOW_MS (at most that),
 * so that a test can restart a device many times without waiting minutes.
 */
#define TESTHOOK_RESTART_WINDOW_ENV "BULKHEAD_TEST_RESTART_WINDOW_MS"
/*
 * BULKHEAD_TEST_HOLD_MS=N in the supervisor's environment (passed on to the
 * vcpu process): a held posted write (vcpu/chan.c) waits up to N ms (at most
 * TESTHOOK_HOLD_MAX_MS) instead of VCPU_HOLD_NS, so that a test can end the VM
 * while the guest's last console bytes are certainly still held.
 */
#define TESTHOOK_HOLD_ENV "BULKHEAD_TEST_HOLD_MS"
#define TESTHOOK_HOLD_MAX_MS 60000

#ifdef BH_TEST_HOOKS
/* The environment entry for the child titled title, or NULL; built in buf. */
char *testhook_child_env(const char *title, char *buf, size_t len);
/* The hold-time entry for the child titled title (the vcpu process only), or NULL; built in buf. */
char *testhook_child_hold_env(const char *title, char *buf, size_t len);
/* In the vcpu process: how long a held write waits, in ns: dflt unless the test asks for longer. */
unsigned long long testhook_hold_ns(unsigned long long dflt);
/* In the child: make the forbidden call once, if this child was chosen. */
void testhook_fault_fire(void);
/* In the supervisor: make the forbidden call once, if it was chosen ("supervisor:"). */
void testhook_supervisor_fault(void);
/* In the supervisor: whether the vcpu process must not use register shadows. */
int testhook_no_shadow(void);
/* In the supervisor: the device deadline, dflt unless the test asks for another. */
unsigned int testhook_deadline_ms(unsigned int dflt);
/* In the supervisor: the restart window, dflt unless the test asks for a shorter one. */
unsigned int testhook_restart_window_ms(unsigned int dflt);
#else
static inline char *testhook_child_env(const char *title, char *buf, size_t len)
{
	(void)title;
	(void)buf;
	(void)len;
	return NULL;
}

static inline char *testhook_child_hold_env(const char *title, char *buf, size_t len)
{
	(void)title;
	(void)buf;
	(void)len;
	return NULL;
}

static inline unsigned long long testhook_hold_ns(unsigned long long dflt)
{
	return dflt;
}

static inline void testhook_fault_fire(void)
{
}

static inline void testhook_supervisor_fault(void)
{
}

static inline int testhook_no_shadow(void)
{
	return 0;
}

static inline unsigned int testhook_deadline_ms(unsigned int dflt)
{
	return dflt;
}

static inline unsigned int testhook_restart_window_ms(unsigned int dflt)
{
	return dflt;
}
#endif

#endif
