/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TSC frequency, found once: from kvm-clock's scale factors (exact under
 * KVM), else the hypervisor or CPUID frequency leaves, else a guess on the
 * high side so that timeouts err long. All timing then uses rdtsc in ring 3.
 */
#include "guest.h"

#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define GUESS_HZ 4000000000ULL

struct pvclock {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((aligned(64)));

static struct pvclock kvmclock;
static uint64_t hz;
static const char *source = "none";

static uint64_t from_kvmclock(void)
{
	uint32_t r[4];
	uint64_t f;
	int i;

	cpuid(0x40000000, 0, r);
	if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d) /* "KVMKVMKVM" */
		return 0;
	cpuid(0x40000001, 0, r);
	if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
		return 0;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uintptr_t)&kvmclock | 1);
	for (i = 0; i < 1000 && !READ_ONCE(kvmclock.tsc_to_system_mul); i++)
		cpu_relax();
	f = READ_ONCE(kvmclock.tsc_to_system_mul);
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0); /* no more host writes into the image */
	if (!f)
		return 0;
	f = (1000000000ULL << 32) / f;
	if (kvmclock.tsc_shift >= 0)
		f >>= kvmclock.tsc_shift;
	else
		f <<= -kvmclock.tsc_shift;
	return f;
}

static uint64_t from_cpuid(const char **src)
{
	uint32_t r[4];

	cpuid(0x40000000, 0, r);
	if (r[0] >= 0x40000010 && r[0] < 0x40010000) {
		cpuid(0x40000010, 0, r);
		if (r[0]) {
			*src = "cpuid 0x40000010";
			return (uint64_t)r[0] * 1000;
		}
	}
	cpuid(0, 0, r);
	if (r[0] >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2]) {
			*src = "cpuid 0x15";
			return (uint64_t)r[2] * r[1] / r[0];
		}
	}
	cpuid(0, 0, r);
	if (r[0] >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0]) {
			*src = "cpuid 0x16";
			return (uint64_t)r[0] * 1000000;
		}
	}
	return 0;
}

uint64_t tsc_hz(void)
{
	if (hz)
		return hz;
	hz = from_kvmclock();
	if (hz) {
		source = "kvm-clock";
		return hz;
	}
	hz = from_cpuid(&source);
	if (!hz) {
		hz = GUESS_HZ;
		source = "guess";
	}
	return hz;
}

const char *tsc_source(void)
{
	tsc_hz();
	return source;
}

uint64_t us_to_tsc(uint64_t us)
{
	return us * (tsc_hz() / 1000) / 1000;
}

uint64_t tsc_to_us(uint64_t cycles)
{
	return cycles / (tsc_hz() / 1000000 ? tsc_hz() / 1000000 : 1);
}

void udelay(uint64_t us)
{
	uint64_t end = rdtsc() + us_to_tsc(us);

	while (rdtsc() < end)
		cpu_relax();
}
