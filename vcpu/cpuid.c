/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The guest's CPUID table, built from what KVM supports as QEMU's -cpu host
 * builds it: the host's brand string, the TSC-deadline timer where KVM
 * emulates it, a topology of one socket of n single-threaded cores, and an
 * XSAVE leaf (0xD) whose sizes match exactly the state components the table
 * exposes. Pure functions of their inputs, so tests drive them with invented
 * hosts.
 *
 * The vCPU starts with XCR0 = every exposed component (cpu.c, KVM_SET_XCRS),
 * so 0xD.0 EBX ("the size for the components enabled in XCR0") is the size
 * for all of them. KVM computes EBX from its own copy of XCR0, which it
 * updates when it intercepts the guest's XSETBV; where that never reaches it
 * (TCG's emulated SVM in the nested tier), a vCPU started with the
 * architectural XCR0 of 1 reports 576 bytes after the guest enabled AVX, and
 * Linux says "XSAVE consistency problem" and turns XSAVE off. QEMU microvm has
 * the same warning there; started this way, Linux finds XSAVE consistent and
 * uses AVX. Elsewhere the guest's first XSETBV sets XCR0 as usual.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vcpu.h"

#define LEAF1_ECX_TSC_DEADLINE (1u << 24)
#define LEAF1_ECX_XSAVE (1u << 26)
#define LEAF1_ECX_AVX (1u << 28)
#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_EDX_HTT (1u << 28)
#define LEAF7_EBX_MPX (1u << 14)
#define LEAF7_EBX_AVX512F (1u << 16)
#define LEAF7_ECX_PKU (1u << 3)
#define LEAF7_EDX_AMX_TILE (1u << 24)
#define EXT1_ECX_CMP_LEGACY (1u << 1)
#define XSTATE_LEGACY_SIZE 512 /* the FXSAVE area, x87 and SSE */
#define XSTATE_HEADER_SIZE 64
#define XSTATE_MIN_SIZE (XSTATE_LEGACY_SIZE + XSTATE_HEADER_SIZE)
#define XSTATE_X87_SSE 0x3ull
#define XSTATE_MAX_COMPONENTS 64

/* An extended state component the guest may have, and the feature that exposes it. */
struct xstate_gate {
	unsigned int bit; /* XCR0 bit */
	uint32_t leaf, index; /* where the feature flag is */
	int reg; /* 1 EBX, 2 ECX, 3 EDX */
	uint32_t flag;
};

/* Components with no row here are never exposed (a future kind the table cannot vouch for). */
static const struct xstate_gate xstate_gates[] = {
	{ 2, 1, 0, 2, LEAF1_ECX_AVX }, /* YMM_Hi128 */
	{ 3, 7, 0, 1, LEAF7_EBX_MPX }, /* BNDREGS */
	{ 4, 7, 0, 1, LEAF7_EBX_MPX }, /* BNDCSR */
	{ 5, 7, 0, 1, LEAF7_EBX_AVX512F }, /* opmask */
	{ 6, 7, 0, 1, LEAF7_EBX_AVX512F }, /* ZMM_Hi256 */
	{ 7, 7, 0, 1, LEAF7_EBX_AVX512F }, /* Hi16_ZMM */
	{ 9, 7, 0, 2, LEAF7_ECX_PKU }, /* PKRU */
	{ 17, 7, 0, 3, LEAF7_EDX_AMX_TILE }, /* XTILECFG */
	{ 18, 7, 0, 3, LEAF7_EDX_AMX_TILE }, /* XTILEDATA */
};

static int leaf_indexed(uint32_t fn)
{
	return fn == 4 || fn == 7 || fn == 0xb || fn == 0xd || fn == 0xf || fn == 0x10 ||
	       fn == 0x12 || fn == 0x14 || fn == 0x17 || fn == 0x18 || fn == 0x1d || fn == 0x1e ||
	       fn == 0x1f || fn == 0x24 || fn == 0x8000001d || fn == 0x80000020;
}

const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid_entry2 *t, uint32_t n,
					  uint32_t fn, uint32_t index)
{
	for (uint32_t i = 0; i < n; i++) {
		if (t[i].function == fn && (!leaf_indexed(fn) || t[i].index == index))
			return &t[i];
	}
	return NULL;
}

static uint32_t entry_reg(const struct kvm_cpuid_entry2 *e, int reg)
{
	return reg == 1 ? e->ebx : reg == 2 ? e->ecx : e->edx;
}

static int has_flag(const struct kvm_cpuid_entry2 *t, uint32_t n, const struct xstate_gate *g)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(t, n, g->leaf, g->index);

	return e && (entry_reg(e, g->reg) & g->flag);
}

unsigned int cpuid_order(unsigned int n)
{
	unsigned int shift = 0;

	while (shift < 31 && (1u << shift) < n)
		shift++;
	return shift;
}

static int is_amd(const struct kvm_cpuid_entry2 *t, uint32_t n)
{
	const struct kvm_cpuid_entry2 *e = cpuid_find(t, n, 0, 0);

	/* "AuthenticAMD" and "HygonGenuine": EBX "Auth"/"Hygo" */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

/* Cache leaves (4, 0x8000001d): cores sharing the cache, by level; EAX[25:14]. */
static uint32_t cache_sharing(uint32_t eax, unsigned int n)
{
	unsigned int level = (eax >> 5) & 7;
	uint32_t share = level >= 3 ? (1u << cpuid_order(n)) - 1 : 0;

	return (eax & ~(0xfffu << 14)) | ((share & 0xfff) << 14);
}

/* One vCPU's view of the leaves that carry its APIC id and the VM's topology. */
static void patch_entry(struct kvm_cpuid_entry2 *e, const struct cpuid_host *h, unsigned int id,
			unsigned int n, int amd)
{
	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | (n > 1 ? (n & 0xff) << 16 : 0);
		e->ecx |= LEAF1_ECX_HYPERVISOR;
		e->ecx = h->tsc_deadline ? e->ecx | LEAF1_ECX_TSC_DEADLINE
					 : e->ecx & ~LEAF1_ECX_TSC_DEADLINE;
		if (n > 1)
			e->edx |= LEAF1_EDX_HTT; /* the logical count field is valid */
		else
			e->edx &= ~LEAF1_EDX_HTT;
		break;
	case 4:
		if (amd)
			break;
		/* cores in the package (as an APIC id span, 6 bits), and who shares each cache */
		e->eax = (cache_sharing(e->eax, n) & 0x03ffffff) |
			 ((cpuid_order(n) > 6 ? 63 : (1u << cpuid_order(n)) - 1) << 26);
		break;
	case 0x80000001:
		if (amd && n > 1)
			e->ecx |= EXT1_ECX_CMP_LEGACY;
		else if (amd)
			e->ecx &= ~EXT1_ECX_CMP_LEGACY;
		break;
	case 0x80000008:
		/* NC: cores - 1; ApicIdCoreIdSize: the bits of the APIC id that number them */
		e->ecx = (e->ecx & ~0xf0ffu) | ((n - 1) & 0xff) | (cpuid_order(n) << 12);
		break;
	case 0x8000001d:
		e->eax = cache_sharing(e->eax, n);
		break;
	case 0x8000001e:
		/* extended APIC id; compute unit = core id, one thread each; one node */
		e->eax = id;
		e->ebx = id & 0xff;
		e->ecx = 0;
		e->edx = 0;
		break;
	default:
		break;
	}
}

static int push(struct kvm_cpuid_entry2 *out, uint32_t max, uint32_t *nent,
		const struct kvm_cpuid_entry2 *e)
{
	if (*nent >= max)
		return -E2BIG;
	out[(*nent)++] = *e;
	return 0;
}

/* Leaves 0xb and 0x1f: SMT level (one thread), core level (n cores), then the end. */
static int push_topology(struct kvm_cpuid_entry2 *out, uint32_t max, uint32_t *nent, uint32_t fn,
			 unsigned int id, unsigned int n)
{
	for (uint32_t i = 0; i <= 2; i++) {
		struct kvm_cpuid_entry2 e = {
			.function = fn,
			.index = i,
			.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
			.eax = i == 1 ? cpuid_order(n) : 0,
			.ebx = i == 0 ? 1 : i == 1 ? n : 0,
			.ecx = i == 0 ? 0x100 : i == 1 ? 0x201 : i,
			.edx = id,
		};
		int err = push(out, max, nent, &e);

		if (err < 0)
			return err;
	}
	return 0;
}

/* The brand string leaves, from the host's own CPUID when it has one. */
static void set_brand(struct kvm_cpuid_entry2 *e, const struct cpuid_host *h)
{
	const uint32_t *b = &h->brand[(e->function - 0x80000002) * 4];
	uint32_t any = 0;

	for (size_t i = 0; i < nitems(h->brand); i++)
		any |= h->brand[i];
	if (!any)
		return;
	e->eax = b[0];
	e->ebx = b[1];
	e->ecx = b[2];
	e->edx = b[3];
}

/*
 * The XCR0 components the table exposes: supported by KVM (0xD.0), announced
 * by their feature flag in the table, and described by a sub-leaf of their own.
 */
static uint64_t xstate_exposed(const struct kvm_cpuid_entry2 *sup, uint32_t nsup,
			       const struct kvm_cpuid_entry2 *t, uint32_t n)
{
	const struct kvm_cpuid_entry2 *d0 = cpuid_find(sup, nsup, 0xd, 0);
	uint64_t supported, exposed = XSTATE_X87_SSE;

	if (!d0)
		return 0;
	supported = ((uint64_t)d0->edx << 32) | d0->eax;
	if ((supported & XSTATE_X87_SSE) != XSTATE_X87_SSE)
		return 0;
	for (size_t i = 0; i < nitems(xstate_gates); i++) {
		const struct xstate_gate *g = &xstate_gates[i];
		const struct kvm_cpuid_entry2 *c = cpuid_find(sup, nsup, 0xd, g->bit);

		if ((supported >> g->bit & 1) && has_flag(t, n, g) && c && c->eax &&
		    !(c->ecx & 1) && c->ebx >= XSTATE_MIN_SIZE)
			exposed |= 1ull << g->bit;
	}
	return exposed;
}

/* The standard-format XSAVE area for the XCR0 components in mask, by the table's offsets. */
static uint32_t xstate_size(const struct kvm_cpuid_entry2 *sup, uint32_t nsup, uint64_t mask)
{
	uint64_t size = XSTATE_MIN_SIZE;

	for (unsigned int i = 2; i < XSTATE_MAX_COMPONENTS; i++) {
		const struct kvm_cpuid_entry2 *c;

		if (!(mask >> i & 1) || !(c = cpuid_find(sup, nsup, 0xd, i)))
			continue;
		if ((uint64_t)c->ebx + c->eax > size)
			size = (uint64_t)c->ebx + c->eax;
	}
	return size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
}

/* The compacted-format XSAVE area for the components in mask (XSAVEC, XSAVES). */
static uint32_t xstate_compacted_size(const struct kvm_cpuid_entry2 *sup, uint32_t nsup,
				      uint64_t mask)
{
	uint64_t size = XSTATE_MIN_SIZE;

	for (unsigned int i = 2; i < XSTATE_MAX_COMPONENTS; i++) {
		const struct kvm_cpuid_entry2 *c;

		if (!(mask >> i & 1) || !(c = cpuid_find(sup, nsup, 0xd, i)))
			continue;
		if (c->ecx & 2)
			size = (size + 63) & ~63ull;
		size += c->eax;
	}
	return size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;
}

/*
 * Leaf 0xD for the exposed components: sub-leaf 0 (EBX the size for XCR0 as
 * the vCPU starts, every exposed component; ECX the size for every exposed
 * component), sub-leaf 1 (XSAVEOPT/XSAVEC/XSAVES and friends as KVM has them,
 * EBX the compacted size for the same XCR0; no supervisor state), one
 * sub-leaf per exposed component from 2 up.
 */
static int push_xstate(struct kvm_cpuid_entry2 *out, uint32_t max, uint32_t *nent,
		       const struct kvm_cpuid_entry2 *sup, uint32_t nsup, uint64_t exposed)
{
	const struct kvm_cpuid_entry2 *d1 = cpuid_find(sup, nsup, 0xd, 1);
	struct kvm_cpuid_entry2 e = {
		.function = 0xd,
		.index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		.eax = (uint32_t)exposed,
		.ebx = xstate_size(sup, nsup, exposed),
		.ecx = xstate_size(sup, nsup, exposed),
		.edx = (uint32_t)(exposed >> 32),
	};
	int err = push(out, max, nent, &e);

	if (err < 0)
		return err;
	e = (struct kvm_cpuid_entry2){
		.function = 0xd,
		.index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		/* XSAVEOPT, XSAVEC, XGETBV1, XSAVES, XFD */
		.eax = d1 ? d1->eax & 0x1f : 0,
		/* compacted size for XCR0 | XSS as the vCPU starts (XSS is 0) */
		.ebx = d1 && (d1->eax & 0xa) ? xstate_compacted_size(sup, nsup, exposed) : 0,
	};
	err = push(out, max, nent, &e);
	for (unsigned int i = 2; !err && i < XSTATE_MAX_COMPONENTS; i++) {
		const struct kvm_cpuid_entry2 *c = cpuid_find(sup, nsup, 0xd, i);

		if (!(exposed >> i & 1))
			continue;
		e = *c; /* xstate_exposed only exposes components with a sub-leaf */
		e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		/* user state (bit 0 clear); 64-byte aligned when compacted; XFD-capable */
		e.ecx &= 0x6;
		e.edx = 0;
		err = push(out, max, nent, &e);
	}
	return err;
}

int cpuid_build(const struct cpuid_host *h, unsigned int id, unsigned int n,
		struct kvm_cpuid_entry2 *out, uint32_t max)
{
	const struct kvm_cpuid_entry2 *sup = h->supported;
	uint32_t nsup = h->nsupported, nent = 0;
	int amd = is_amd(sup, nsup), err = 0;
	uint64_t exposed;
	uint32_t leaf1;

	if (n == 0 || id >= n)
		return -EINVAL;
	for (uint32_t i = 0; !err && i < nsup; i++) {
		struct kvm_cpuid_entry2 e = sup[i];

		/* rebuilt below, whatever KVM's table had */
		if (e.function == 0xb || e.function == 0x1f || e.function == 0xd)
			continue;
		if (e.function >= 0x80000002 && e.function <= 0x80000004)
			set_brand(&e, h);
		patch_entry(&e, h, id, n, amd);
		err = push(out, max, &nent, &e);
	}
	if (!err && cpuid_find(sup, nsup, 0xb, 0))
		err = push_topology(out, max, &nent, 0xb, id, n);
	if (!err && cpuid_find(sup, nsup, 0x1f, 0))
		err = push_topology(out, max, &nent, 0x1f, id, n);
	if (err)
		return err;
	for (leaf1 = 0; leaf1 < nent && out[leaf1].function != 1; leaf1++)
		;
	if (leaf1 == nent || !(out[leaf1].ecx & LEAF1_ECX_XSAVE))
		return (int)nent; /* no XSAVE: no leaf 0xD either */
	exposed = xstate_exposed(sup, nsup, out, nent);
	if (!exposed) {
		/* XSAVE without a usable leaf 0xD: say no XSAVE rather than something inconsistent */
		out[leaf1].ecx &= ~LEAF1_ECX_XSAVE;
		return (int)nent;
	}
	err = push_xstate(out, max, &nent, sup, nsup, exposed);
	return err ? err : (int)nent;
}

uint64_t cpuid_xcr0(const struct kvm_cpuid_entry2 *t, uint32_t n)
{
	const struct kvm_cpuid_entry2 *d0 = cpuid_find(t, n, 0xd, 0);

	return d0 ? ((uint64_t)d0->edx << 32) | d0->eax : 0;
}

int cpuid_read_supported(int fd, struct kvm_cpuid2 **out)
{
	size_t max = sizeof(struct kvm_cpuid2) + IPC_CPUID_MAX * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *t = calloc(1, max + 1);
	ssize_t n;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	/* One byte more than the largest table: a longer file is not taken for one. */
	n = pread(fd, t, max + 1, 0);
	if (n < (ssize_t)sizeof(*t) || t->nent == 0 || t->nent > IPC_CPUID_MAX ||
	    (size_t)n != sizeof(*t) + t->nent * sizeof(t->entries[0])) {
		log_warnx("the supervisor's CPUID table: %zd bytes, %u entries", n,
			  n >= (ssize_t)sizeof(*t) ? t->nent : 0);
		free(t);
		return -EPROTO;
	}
	*out = t;
	return 0;
}
