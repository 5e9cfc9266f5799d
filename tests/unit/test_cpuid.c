/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vcpu/cpuid.c: the guest's CPUID table from invented KVM_GET_SUPPORTED_CPUID
 * answers (an AMD EPYC-like host, an Intel host with AVX-512, MPX and PKRU,
 * one with AMX): leaf 0xD describes exactly the XSAVE components the table
 * exposes, with sizes that agree with the architectural layout for every
 * XCR0 the guest may enable, and the XCR0 the vCPU starts with is theirs; the TSC-deadline bit follows KVM's capability;
 * the brand string is the host's; the topology leaves agree with the vCPU
 * count and id. The supervisor's table (cpuid_read_supported) is taken whole
 * or not at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../vcpu/vcpu.h"

#define MAXE 256
#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* The architectural standard-format XSAVE layout (SDM vol. 1, 13.4): size and offset. */
static const struct {
	unsigned int bit;
	uint32_t size, offset;
} arch[] = {
	{ 2, 256, 576 }, /* YMM_Hi128 */
	{ 3, 64, 960 }, /* BNDREGS */
	{ 4, 64, 1024 }, /* BNDCSR */
	{ 5, 64, 1088 }, /* opmask */
	{ 6, 512, 1152 }, /* ZMM_Hi256 */
	{ 7, 1024, 1664 }, /* Hi16_ZMM */
	{ 9, 8, 2688 }, /* PKRU */
	{ 17, 64, 2752 }, /* XTILECFG */
	{ 18, 8192, 2816 }, /* XTILEDATA */
};

/* The size of the standard-format area for mask, from the table above alone. */
static uint32_t arch_size(uint64_t mask)
{
	uint32_t size = 576;

	for (size_t i = 0; i < nitems(arch); i++) {
		if ((mask >> arch[i].bit & 1) && arch[i].offset + arch[i].size > size)
			size = arch[i].offset + arch[i].size;
	}
	return size;
}

/* The same in the compacted format: in bit order, AMX tiles 64-byte aligned (add_xsave). */
static uint32_t arch_compacted(uint64_t mask)
{
	uint32_t size = 576;

	for (size_t i = 0; i < nitems(arch); i++) {
		if (!(mask >> arch[i].bit & 1))
			continue;
		if (arch[i].bit >= 17)
			size = (size + 63) & ~63u;
		size += arch[i].size;
	}
	return size;
}

struct host {
	struct kvm_cpuid_entry2 e[MAXE];
	uint32_t n;
};

static void add(struct host *h, uint32_t fn, uint32_t idx, uint32_t flags, uint32_t a, uint32_t b,
		uint32_t c, uint32_t d)
{
	assert_true(h->n < MAXE);
	h->e[h->n++] = (struct kvm_cpuid_entry2){ .function = fn, .index = idx, .flags = flags,
						  .eax = a, .ebx = b, .ecx = c, .edx = d };
}

/* KVM's leaf 0xD for the XCR0 components in mask: sizes for all, one sub-leaf each. */
static void add_xsave(struct host *h, uint64_t mask, uint32_t d1_eax)
{
	add(h, 0xd, 0, SIG, (uint32_t)mask, arch_size(mask), arch_size(mask), (uint32_t)(mask >> 32));
	add(h, 0xd, 1, SIG, d1_eax, arch_size(mask), 0, 0);
	for (size_t i = 0; i < nitems(arch); i++) {
		if (mask >> arch[i].bit & 1)
			add(h, 0xd, arch[i].bit, SIG, arch[i].size, arch[i].offset,
			    arch[i].bit >= 17 ? 0x6 : 0, 0);
	}
}

#define L1_XSAVE (1u << 26)
#define L1_OSXSAVE (1u << 27)
#define L1_AVX (1u << 28)
#define L1_TSCD (1u << 24)
#define L7B_MPX (1u << 14)
#define L7B_AVX512F (1u << 16)
#define L7C_PKU (1u << 3)
#define L7D_AMX_TILE (1u << 24)

/* An AMD EPYC-like host (the nested tier's emulated CPU): x87, SSE, AVX. */
static void host_epyc(struct host *h)
{
	memset(h, 0, sizeof(*h));
	add(h, 0, 0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65); /* AuthenticAMD */
	add(h, 1, 0, 0, 0x00800f12, 0x00020800, 0x7ed8320b | L1_XSAVE | L1_AVX, 0x178bfbff);
	add(h, 7, 0, SIG, 0, 0x209c01a9, 0, 0);
	add_xsave(h, 0x7, 0xf);
	add(h, 0x80000000, 0, 0, 0x8000001f, 0x68747541, 0x444d4163, 0x69746e65);
	add(h, 0x80000001, 0, 0, 0x00800f12, 0, 0x35c233ff, 0x2fd3fbff);
	add(h, 0x80000002, 0, 0, 0, 0, 0, 0); /* KVM's: zeros here */
	add(h, 0x80000003, 0, 0, 0, 0, 0, 0);
	add(h, 0x80000004, 0, 0, 0, 0, 0, 0);
	add(h, 0x80000008, 0, 0, 0x3030, 0, 0x7007, 0); /* the host's 8 cores */
	for (uint32_t i = 0; i < 4; i++) /* L1d, L1i, L2, L3 */
		add(h, 0x8000001d, i, SIG, ((i < 2 ? 1 : i) << 5) | (i == 1 ? 2 : 1) | (i == 3 ? 7u << 14 : 1u << 14), 0, 0, 0);
	add(h, 0x8000001e, 0, 0, 9, 0x104, 0x300, 0);
}

/* An Intel host with AVX-512, MPX and PKRU (XCR0 0x2ff), and x2APIC topology leaves. */
static void host_intel(struct host *h, int amx)
{
	uint64_t mask = 0x2ff | (amx ? 0x60000ull : 0);

	memset(h, 0, sizeof(*h));
	add(h, 0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69); /* GenuineIntel */
	add(h, 1, 0, 0, 0x00050654, 0x00100800, 0x77fef3ff | L1_XSAVE | L1_AVX | L1_TSCD, 0xbfebfbff);
	for (uint32_t i = 0; i < 4; i++) /* L1d, L1i, L2 by 2 threads; L3 by 32 */
		add(h, 4, i, SIG, 0x1c000000 | ((i < 2 ? 1 : i) << 5) | (i == 1 ? 2 : 1) | (i == 3 ? 31u << 14 : 1u << 14), 0, 0, 0);
	add(h, 7, 0, SIG, 0, 0xd39ffffb | L7B_MPX | L7B_AVX512F, L7C_PKU, amx ? L7D_AMX_TILE : 0);
	add(h, 0xb, 0, SIG, 1, 2, 0x100, 3);
	add(h, 0xb, 1, SIG, 6, 32, 0x201, 3);
	add(h, 0x1f, 0, SIG, 1, 2, 0x100, 3);
	add(h, 0x1f, 1, SIG, 6, 32, 0x201, 3);
	add_xsave(h, mask, amx ? 0x1f : 0xf);
	add(h, 0x80000000, 0, 0, 0x80000008, 0, 0, 0);
	add(h, 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800);
	add(h, 0x80000008, 0, 0, 0x302e, 0, 0, 0);
}

static const char brand_text[48] = "AMD EPYC Processor";

static int build(const struct host *hs, unsigned int id, unsigned int n, int tscd, int brand,
		 struct kvm_cpuid_entry2 *out)
{
	struct cpuid_host h = { .supported = hs->e, .nsupported = hs->n, .tsc_deadline = tscd };

	if (brand)
		memcpy(h.brand, brand_text, sizeof(h.brand));
	return cpuid_build(&h, id, n, out, MAXE);
}

static const struct kvm_cpuid_entry2 *must_find(const struct kvm_cpuid_entry2 *t, int n,
						uint32_t fn, uint32_t idx)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(t, (uint32_t)n, fn, idx);

	if (!e)
		fail_msg("no leaf %#x.%u", fn, idx);
	return e;
}

static unsigned int count_leaf(const struct kvm_cpuid_entry2 *t, int n, uint32_t fn)
{
	unsigned int c = 0;

	for (int i = 0; i < n; i++)
		c += t[i].function == fn;
	return c;
}

/* The standard-format size for mask from the table's own sub-leaves. */
static uint32_t table_size(const struct kvm_cpuid_entry2 *t, int n, uint64_t mask)
{
	uint32_t size = 576;

	for (unsigned int i = 2; i < 64; i++) {
		const struct kvm_cpuid_entry2 *c;

		if (!(mask >> i & 1))
			continue;
		c = must_find(t, n, 0xd, i);
		if (c->ebx + c->eax > size)
			size = c->ebx + c->eax;
	}
	return size;
}

/* Leaf 0xD exactly as the exposed mask says, and consistent for each of masks (subsets). */
static void check_xsave(const struct kvm_cpuid_entry2 *t, int n, uint64_t exposed,
			const uint64_t *masks, size_t nmasks)
{
	const struct kvm_cpuid_entry2 *d0 = must_find(t, n, 0xd, 0);
	const struct kvm_cpuid_entry2 *d1 = must_find(t, n, 0xd, 1);

	assert_int_equal(((uint64_t)d0->edx << 32) | d0->eax, exposed);
	/* the vCPU starts with XCR0 = every exposed component: EBX is their size, as ECX */
	assert_int_equal(cpuid_xcr0(t, (uint32_t)n), exposed);
	assert_int_equal(d0->ebx, arch_size(exposed));
	assert_int_equal(d0->ecx, arch_size(exposed));
	assert_int_equal(d1->ebx, (d1->eax & 0xa) ? arch_compacted(exposed) : 0);
	assert_int_equal(d1->ecx, 0); /* no supervisor state */
	assert_int_equal(d1->edx, 0);
	assert_int_equal(d0->flags & SIG, SIG);
	/* one sub-leaf per exposed component and none other: 0, 1 and the components */
	assert_int_equal(count_leaf(t, n, 0xd), 2 + __builtin_popcountll(exposed & ~3ull));
	for (unsigned int i = 2; i < 64; i++) {
		const struct kvm_cpuid_entry2 *c = cpuid_find(t, (uint32_t)n, 0xd, i);

		if (!(exposed >> i & 1)) {
			assert_null(c);
			continue;
		}
		assert_non_null(c);
		assert_int_equal(c->ecx & 1, 0); /* a user (XCR0) component */
		assert_int_equal(c->edx, 0);
		for (size_t k = 0; k < nitems(arch); k++) {
			if (arch[k].bit == i) {
				assert_int_equal(c->eax, arch[k].size);
				assert_int_equal(c->ebx, arch[k].offset);
			}
		}
	}
	/* What Linux's paranoid_xstate_size_valid() compares once it enabled mask in XCR0. */
	for (size_t m = 0; m < nmasks; m++) {
		if ((masks[m] & exposed) != masks[m])
			continue;
		if (table_size(t, n, masks[m]) != arch_size(masks[m]))
			fail_msg("XCR0 %#llx: the table's sub-leaves give %u bytes, the layout %u",
				 (unsigned long long)masks[m], table_size(t, n, masks[m]),
				 arch_size(masks[m]));
	}
}

static const uint64_t masks[] = {
	0x3, 0x7, 0x1f, 0xe7, 0xe3, 0x207, 0x2ff, 0x60007, 0x602ff,
};

static void test_xsave_epyc(void **state)
{
	struct kvm_cpuid_entry2 t[MAXE];
	struct host h;
	int n;

	(void)state;
	host_epyc(&h);
	n = build(&h, 0, 2, 1, 1, t);
	assert_true(n > 0);
	check_xsave(t, n, 0x7, masks, nitems(masks));
	assert_int_equal(must_find(t, n, 0xd, 0)->ecx, 832);
	/* XSAVEC/XSAVES: the compacted size for the same XCR0 */
	assert_int_equal(must_find(t, n, 0xd, 1)->eax, 0xf);
	assert_int_equal(must_find(t, n, 0xd, 1)->ebx, 832);
	/* without XSAVEC or XSAVES there is no compacted size */
	for (uint32_t k = 0; k < h.n; k++) {
		if (h.e[k].function == 0xd && h.e[k].index == 1)
			h.e[k].eax = 0x5; /* XSAVEOPT, XGETBV1 */
	}
	n = build(&h, 0, 2, 1, 1, t);
	check_xsave(t, n, 0x7, masks, nitems(masks));
	assert_int_equal(must_find(t, n, 0xd, 1)->ebx, 0);
}

static void test_xsave_intel(void **state)
{
	struct kvm_cpuid_entry2 t[MAXE];
	struct host h;
	int n;

	(void)state;
	host_intel(&h, 0);
	n = build(&h, 3, 4, 1, 0, t);
	assert_true(n > 0);
	check_xsave(t, n, 0x2ff, masks, nitems(masks));
	assert_int_equal(must_find(t, n, 0xd, 0)->ecx, 2696);
	host_intel(&h, 1);
	n = build(&h, 0, 1, 1, 0, t);
	assert_true(n > 0);
	check_xsave(t, n, 0x602ff, masks, nitems(masks));
	assert_int_equal(must_find(t, n, 0xd, 0)->ecx, 11008);
	assert_int_equal(must_find(t, n, 0xd, 1)->eax, 0x1f); /* with XFD */
	assert_int_equal(must_find(t, n, 0xd, 18)->ecx, 0x6);
}

/* A component whose feature flag the table does not show is not in leaf 0xD either. */
static void test_xsave_follows_feature_flags(void **state)
{
	static const struct {
		uint32_t leaf;
		int reg; /* 1 EBX, 2 ECX, 3 EDX */
		uint32_t flag;
		uint64_t exposed;
	} cases[] = {
		{ 7, 1, L7B_AVX512F, 0x6021f }, /* no opmask/ZMM */
		{ 7, 1, L7B_MPX, 0x602e7 }, /* no BNDREGS/BNDCSR */
		{ 7, 2, L7C_PKU, 0x600ff },
		{ 7, 3, L7D_AMX_TILE, 0x2ff },
		{ 1, 2, L1_AVX, 0x602fb }, /* YMM goes; the AVX-512 parts stay, as the flags say */
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct kvm_cpuid_entry2 t[MAXE];
		struct host h;
		int n;

		host_intel(&h, 1);
		for (uint32_t k = 0; k < h.n; k++) {
			struct kvm_cpuid_entry2 *e = &h.e[k];

			if (e->function != cases[i].leaf || e->index != 0)
				continue;
			if (cases[i].reg == 1)
				e->ebx &= ~cases[i].flag;
			else if (cases[i].reg == 2)
				e->ecx &= ~cases[i].flag;
			else
				e->edx &= ~cases[i].flag;
		}
		n = build(&h, 0, 2, 1, 0, t);
		assert_true(n > 0);
		check_xsave(t, n, cases[i].exposed, masks, nitems(masks));
	}
}

/* Components KVM lists without a sub-leaf, or with a bogus one, and unknown ones, stay hidden. */
static void test_xsave_odd_kvm_answers(void **state)
{
	struct kvm_cpuid_entry2 t[MAXE];
	struct host h;
	int n;

	(void)state;
	host_intel(&h, 0);
	for (uint32_t k = 0; k < h.n; k++) {
		struct kvm_cpuid_entry2 *e = &h.e[k];

		if (e->function == 0xd && e->index == 0)
			e->eax |= 1u << 19; /* a component the table cannot vouch for */
		if (e->function == 0xd && e->index == 9)
			e->function = 0x99; /* PKRU without its sub-leaf */
		if (e->function == 0xd && e->index == 3)
			e->ecx = 1; /* BNDREGS said to be supervisor state */
	}
	n = build(&h, 0, 2, 1, 0, t);
	assert_true(n > 0);
	check_xsave(t, n, 0xf7, masks, nitems(masks));
}

static void test_xsave_absent(void **state)
{
	struct kvm_cpuid_entry2 t[MAXE];
	struct host h;
	int n;

	(void)state;
	/* no XSAVE in leaf 1: no leaf 0xD */
	host_epyc(&h);
	h.e[1].ecx &= ~L1_XSAVE;
	n = build(&h, 0, 1, 0, 0, t);
	assert_true(n > 0);
	assert_int_equal(count_leaf(t, n, 0xd), 0);
	/* XSAVE but no leaf 0xD from KVM: XSAVE goes too */
	host_epyc(&h);
	for (uint32_t k = 0; k < h.n; k++) {
		if (h.e[k].function == 0xd)
			h.e[k].function = 0x99;
	}
	n = build(&h, 0, 1, 0, 0, t);
	assert_true(n > 0);
	assert_int_equal(count_leaf(t, n, 0xd), 0);
	assert_int_equal(must_find(t, n, 1, 0)->ecx & L1_XSAVE, 0);
	assert_int_equal(cpuid_xcr0(t, (uint32_t)n), 0); /* XCR0 stays KVM's */
}

static void test_tsc_deadline_and_hypervisor(void **state)
{
	struct kvm_cpuid_entry2 t[MAXE];
	struct host h;
	int n;

	(void)state;
	host_epyc(&h);
	n = build(&h, 0, 1, 1, 0, t);
	assert_int_equal(must_find(t, n, 1, 0)->ecx & L1_TSCD, L1_TSCD);
	assert_int_equal(must_find(t, n, 1, 0)->ecx >> 31, 1);
	/* without KVM_CAP_TSC_DEADLINE_TIMER the bit is clear, whatever the host's table said */
	host_intel(&h, 0);
	n = build(&h, 0, 1, 0, 0, t);
	assert_int_equal(must_find(t, n, 1, 0)->ecx & L1_TSCD, 0);
	n = build(&h, 0, 1, 1, 0, t);
	assert_int_equal(must_find(t, n, 1, 0)->ecx & L1_TSCD, L1_TSCD);
}

static void test_brand_string(void **state)
{
	struct kvm_cpuid_entry2 t[MAXE];
	char text[49];
	struct host h;
	int n;

	(void)state;
	host_epyc(&h);
	n = build(&h, 0, 1, 1, 1, t);
	for (uint32_t i = 0; i < 3; i++) {
		const struct kvm_cpuid_entry2 *e = must_find(t, n, 0x80000002 + i, 0);
		uint32_t r[4] = { e->eax, e->ebx, e->ecx, e->edx };

		memcpy(text + 16 * i, r, 16);
	}
	text[48] = '\0';
	assert_string_equal(text, "AMD EPYC Processor");
	/* a host without one: KVM's leaves as they were */
	n = build(&h, 0, 1, 1, 0, t);
	assert_int_equal(must_find(t, n, 0x80000002, 0)->eax, 0);
	assert_int_equal(count_leaf(t, n, 0x80000003), 1);
}

static void check_topology(const struct kvm_cpuid_entry2 *t, int n, unsigned int id,
			   unsigned int ncpu, int intel)
{
	unsigned int order = cpuid_order(ncpu);
	const struct kvm_cpuid_entry2 *e = must_find(t, n, 1, 0);

	assert_true((1u << order) >= ncpu && (order == 0 || (1u << (order - 1)) < ncpu));
	assert_int_equal(e->ebx >> 24, id);
	assert_int_equal((e->ebx >> 16) & 0xff, ncpu > 1 ? ncpu : 0);
	assert_int_equal((e->edx >> 28) & 1, ncpu > 1);
	assert_int_equal(e->ebx & 0xffff, intel ? 0x0800 : 0x0800); /* CLFLUSH size kept */
	if (intel) {
		for (uint32_t i = 0; i < 4; i++) {
			e = must_find(t, n, 4, i);
			/* a 6-bit field: at most 64 core ids */
			assert_int_equal(e->eax >> 26, order > 6 ? 63 : (1u << order) - 1);
			assert_int_equal((e->eax >> 14) & 0xfff, i == 3 ? (1u << order) - 1 : 0);
			assert_int_equal(e->eax & 0x3fff, (i < 2 ? 1u : i) << 5 | (i == 1 ? 2 : 1));
		}
	} else {
		e = must_find(t, n, 0x80000008, 0);
		assert_int_equal(e->ecx & 0xff, ncpu - 1);
		assert_int_equal((e->ecx >> 12) & 0xf, order);
		assert_int_equal(e->ecx & 0xffff0000, 0);
		e = must_find(t, n, 0x8000001e, 0);
		assert_int_equal(e->eax, id);
		assert_int_equal(e->ebx, id);
		assert_int_equal(e->ecx, 0);
		assert_int_equal((must_find(t, n, 0x80000001, 0)->ecx >> 1) & 1, ncpu > 1);
		for (uint32_t i = 0; i < 4; i++) {
			e = must_find(t, n, 0x8000001d, i);
			assert_int_equal((e->eax >> 14) & 0xfff, i == 3 ? (1u << order) - 1 : 0);
		}
	}
	for (uint32_t fn = 0xb; intel && fn <= 0x1f; fn += 0x1f - 0xb) {
		assert_int_equal(count_leaf(t, n, fn), 3);
		e = must_find(t, n, fn, 0); /* SMT: one thread per core */
		assert_int_equal(e->eax, 0);
		assert_int_equal(e->ebx, 1);
		assert_int_equal(e->ecx, 0x100);
		assert_int_equal(e->edx, id);
		e = must_find(t, n, fn, 1); /* cores: all of them, in order bits */
		assert_int_equal(e->eax, order);
		assert_int_equal(e->ebx, ncpu);
		assert_int_equal(e->ecx, 0x201);
		assert_int_equal(e->edx, id);
		e = must_find(t, n, fn, 2); /* the end */
		assert_int_equal(e->eax, 0);
		assert_int_equal(e->ebx, 0);
		assert_int_equal(e->ecx, 2);
		assert_int_equal(e->flags & SIG, SIG);
	}
}

static void test_topology(void **state)
{
	static const unsigned int counts[] = { 1, 2, 3, 4, 5, 8, 9, 64, 254 };
	struct kvm_cpuid_entry2 t[MAXE];
	struct host h;

	(void)state;
	for (size_t i = 0; i < nitems(counts); i++) {
		unsigned int ids[] = { 0, counts[i] / 2, counts[i] - 1 };

		for (size_t k = 0; k < nitems(ids); k++) {
			int n;

			host_intel(&h, 0);
			n = build(&h, ids[k], counts[i], 1, 0, t);
			assert_true(n > 0);
			check_topology(t, n, ids[k], counts[i], 1);
			host_epyc(&h);
			n = build(&h, ids[k], counts[i], 1, 0, t);
			assert_true(n > 0);
			check_topology(t, n, ids[k], counts[i], 0);
			/* AMD: no Intel leaf 0xb to invent where KVM had none */
			assert_int_equal(count_leaf(t, n, 0xb), 0);
		}
	}
}

static void test_bad_arguments(void **state)
{
	struct kvm_cpuid_entry2 t[MAXE];
	struct cpuid_host ch;
	struct host h;

	(void)state;
	host_intel(&h, 1);
	ch = (struct cpuid_host){ .supported = h.e, .nsupported = h.n };
	assert_int_equal(cpuid_build(&ch, 0, 0, t, MAXE), -EINVAL);
	assert_int_equal(cpuid_build(&ch, 2, 2, t, MAXE), -EINVAL);
	for (uint32_t max = 0; max < 40; max++) {
		int n = cpuid_build(&ch, 0, 2, t, max);

		assert_true(n == -E2BIG || (n > 0 && (uint32_t)n <= max));
	}
	/* an empty answer from KVM: an empty table, no crash */
	ch.nsupported = 0;
	assert_int_equal(cpuid_build(&ch, 0, 1, t, MAXE), 0);
}

/* A memfd holding len bytes of a table of nent entries (its header says hdr_nent). */
static int table_fd(uint32_t hdr_nent, uint32_t nent, size_t extra)
{
	size_t len = sizeof(struct kvm_cpuid2) + nent * sizeof(struct kvm_cpuid_entry2) + extra;
	struct kvm_cpuid2 *t = calloc(1, len);
	int fd = memfd_create("cpuid-test", MFD_CLOEXEC);

	assert_non_null(t);
	assert_true(fd >= 0);
	t->nent = hdr_nent;
	for (uint32_t i = 0; i < nent; i++)
		t->entries[i].function = i;
	assert_int_equal(write(fd, t, len), (ssize_t)len);
	free(t);
	return fd;
}

static void expect_read(int fd, int want, uint32_t nent)
{
	struct kvm_cpuid2 *t = (void *)1;

	assert_int_equal(cpuid_read_supported(fd, &t), want);
	if (want == 0) {
		assert_non_null(t);
		assert_int_equal(t->nent, nent);
		assert_int_equal(t->entries[nent - 1].function, nent - 1);
	} else {
		assert_null(t);
	}
	free(t);
	close(fd);
}

static void test_supervisor_table(void **state)
{
	(void)state;
	expect_read(table_fd(59, 59, 0), 0, 59);
	expect_read(table_fd(1, 1, 0), 0, 1);
	expect_read(table_fd(IPC_CPUID_MAX, IPC_CPUID_MAX, 0), 0, IPC_CPUID_MAX);
	/* empty, short of its header or of its entries, one byte more, too many, none */
	expect_read(memfd_create("cpuid-empty", MFD_CLOEXEC), -EPROTO, 0);
	expect_read(table_fd(59, 58, 0), -EPROTO, 0);
	expect_read(table_fd(59, 59, 1), -EPROTO, 0);
	expect_read(table_fd(IPC_CPUID_MAX + 1, IPC_CPUID_MAX + 1, 0), -EPROTO, 0);
	expect_read(table_fd(0, 0, 0), -EPROTO, 0);
	expect_read(table_fd(0xffffffffu, 4, 0), -EPROTO, 0);
	/* not a file to read */
	expect_read(-1, -EPROTO, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xsave_epyc),
		cmocka_unit_test(test_xsave_intel),
		cmocka_unit_test(test_xsave_follows_feature_flags),
		cmocka_unit_test(test_xsave_odd_kvm_answers),
		cmocka_unit_test(test_xsave_absent),
		cmocka_unit_test(test_tsc_deadline_and_hypervisor),
		cmocka_unit_test(test_brand_string),
		cmocka_unit_test(test_topology),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_supervisor_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
