/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#ifdef BH_TEST_HOOKS
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "testhooks/testhooks.h"

char *testhook_child_env(const char *title, char *buf, size_t len)
{
	const char *spec = getenv(TESTHOOK_FAULT_ENV);
	const char *role = strrchr(title, '/');
	const char *colon;
	int n;

	if (!spec || !role)
		return NULL;
	role++;
	colon = strchr(spec, ':');
	if (!colon || (size_t)(colon - spec) != strlen(role) || strncmp(spec, role, strlen(role)))
		return NULL;
	n = snprintf(buf, len, "%s=%s", TESTHOOK_FAULT_ENV, colon + 1);
	return n > 0 && (size_t)n < len ? buf : NULL;
}

char *testhook_child_hold_env(const char *title, char *buf, size_t len)
{
	const char *v = getenv(TESTHOOK_HOLD_ENV);
	const char *role = strrchr(title, '/');
	int n;

	if (!v || !role || strcmp(role + 1, "vcpu") != 0)
		return NULL;
	n = snprintf(buf, len, "%s=%s", TESTHOOK_HOLD_ENV, v);
	return n > 0 && (size_t)n < len ? buf : NULL;
}

unsigned long long testhook_hold_ns(unsigned long long dflt)
{
	const char *v = getenv(TESTHOOK_HOLD_ENV);
	long ms = v ? strtol(v, NULL, 10) : 0;

	if (ms <= 0 || ms > TESTHOOK_HOLD_MAX_MS || (unsigned long long)ms * 1000000 < dflt)
		return dflt;
	return (unsigned long long)ms * 1000000;
}

int testhook_no_shadow(void)
{
	const char *v = getenv(TESTHOOK_NO_SHADOW_ENV);

	return v && strcmp(v, "1") == 0;
}

static unsigned int env_ms(const char *name, unsigned int dflt)
{
	const char *v = getenv(name);
	long ms = v ? strtol(v, NULL, 10) : 0;

	return ms > 0 && ms <= (long)dflt ? (unsigned int)ms : dflt;
}

unsigned int testhook_deadline_ms(unsigned int dflt)
{
	return env_ms(TESTHOOK_DEADLINE_ENV, dflt);
}

unsigned int testhook_restart_window_ms(unsigned int dflt)
{
	return env_ms(TESTHOOK_RESTART_WINDOW_ENV, dflt);
}

static void fault_call(const char *name)
{
	int nr;

	nr = seccomp_syscall_resolve_name(name);
	if (nr < 0) {
		log_warnx("test hook: unknown system call %s", name);
		return;
	}
	log_info("test hook: calling %s (%d)", name, nr);
	/* Zero arguments: harmless where a policy lets the call through (log mode). */
	syscall(nr, 0, 0, 0, 0, 0, 0);
}

void testhook_fault_fire(void)
{
	static int fired;
	const char *name = getenv(TESTHOOK_FAULT_ENV);

	if (__atomic_exchange_n(&fired, 1, __ATOMIC_ACQ_REL) || !name)
		return;
	fault_call(name);
}

void testhook_supervisor_fault(void)
{
	static const char role[] = "supervisor:";
	const char *spec = getenv(TESTHOOK_FAULT_ENV);

	if (spec && strncmp(spec, role, sizeof(role) - 1) == 0)
		fault_call(spec + sizeof(role) - 1);
}
#endif
