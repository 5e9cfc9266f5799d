/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "vcpu.h"

#define CPUID_MAX_ENTRIES 512
_Static_assert(IPC_CPUID_MAX <= CPUID_MAX_ENTRIES, "a vCPU's table has room for KVM's");
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_IA32_MISC_ENABLE_FAST_STRING 0x1
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MTRR_DEF_TYPE_ENABLE_WB 0x806
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

#define CR0_PE 0x1
#define CR0_MP 0x2
#define CR0_ET 0x10
#define CR0_NE 0x20
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define EFER_LME 0x100
#define EFER_LMA 0x400

/*
 * KVM_GET_SUPPORTED_CPUID's table, which the supervisor asked while this
 * process started (KVM runs CPUID for each leaf: 0.4 ms here) and wrote to
 * the memfd cv_cpuid_fd: read once (cpuid_read_supported), and closed.
 */
static int cpu_read_supported_cpuid(struct vm *vm)
{
	int err = cpuid_read_supported(vm->cfg.cv_cpuid_fd, &vm->cpuid);

	close(vm->cfg.cv_cpuid_fd);
	vm->cfg.cv_cpuid_fd = -1;
	return err;
}

/* The host's brand string (leaves 0x80000002-4), or zeros where it has none. */
static void cpu_host_brand(uint32_t brand[12])
{
	unsigned int max = __get_cpuid_max(0x80000000, NULL);

	memset(brand, 0, 12 * sizeof(brand[0]));
	if (max < 0x80000004)
		return;
	for (unsigned int i = 0; i < 3; i++)
		__cpuid(0x80000002 + i, brand[4 * i], brand[4 * i + 1], brand[4 * i + 2],
			brand[4 * i + 3]);
}

/*
 * XCR0 as leaf 0xD's sizes say (cpuid.c); 0 (no XSAVE) leaves KVM's x87 alone.
 * A KVM that takes its own leaf 0xD over the table's (kvm_pvm) may refuse the
 * mask with EINVAL: the vCPU then starts with the architectural XCR0 of 1.
 */
static int cpu_set_xcr0(struct vcpu *v, uint64_t xcr0)
{
	struct kvm_xcrs x = { .nr_xcrs = 1, .xcrs = { { .xcr = 0, .value = xcr0 } } };

	if (!xcr0 || ioctl(v->vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) <= 0)
		return 0;
	if (ioctl(v->fd, KVM_SET_XCRS, &x) == 0)
		return 0;
	if (errno == EINVAL) {
		log_debug("vcpu%u: KVM refused XCR0 0x%llx; it starts at 1", v->id,
			  (unsigned long long)xcr0);
		return 0;
	}
	log_warn("vcpu%u: KVM_SET_XCRS 0x%llx", v->id, (unsigned long long)xcr0);
	return -errno;
}

static int cpu_set_cpuid(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct cpuid_host h = {
		.supported = vm->cpuid->entries,
		.nsupported = vm->cpuid->nent,
		.tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0,
	};
	size_t sz = sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = calloc(1, sz);
	int n, err = 0;

	if (!c)
		return -ENOMEM;
	cpu_host_brand(h.brand);
	n = cpuid_build(&h, v->id, vm->cfg.cv_nvcpus, c->entries, CPUID_MAX_ENTRIES);
	if (n < 0) {
		free(c);
		log_warnx("vcpu%u: building the CPUID table: %s", v->id, strerror(-n));
		return n;
	}
	c->nent = (uint32_t)n;
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		err = -errno;
		log_warn("vcpu%u: KVM_SET_CPUID2", v->id);
	}
	if (!err)
		err = cpu_set_xcr0(v, cpuid_xcr0(c->entries, c->nent));
	free(c);
	return err;
}

static int cpu_set_msrs(struct vcpu *v)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} m = {
		.hdr.nmsrs = 2,
		.e = {
			{ .index = MSR_IA32_MISC_ENABLE, .data = MSR_IA32_MISC_ENABLE_FAST_STRING },
			{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_DEF_TYPE_ENABLE_WB },
		},
	};
	int n = ioctl(v->fd, KVM_SET_MSRS, &m);

	if (n < 0) {
		log_warn("vcpu%u: KVM_SET_MSRS", v->id);
		return -errno;
	}
	if (n != 2)
		log_debug("vcpu%u: KVM took %d of 2 MSRs", v->id, n);
	return 0;
}

static void lapic_set_lvt_mode(struct kvm_lapic_state *l, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, l->regs + reg, sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(l->regs + reg, &v, sizeof(v));
}

/* LINT0 as ExtINT and LINT1 as NMI, as firmware leaves them for the kernel. */
static int cpu_set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0) {
		log_warn("vcpu%u: KVM_GET_LAPIC", v->id);
		return -errno;
	}
	lapic_set_lvt_mode(&l, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lapic_set_lvt_mode(&l, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(v->fd, KVM_SET_LAPIC, &l) < 0) {
		log_warn("vcpu%u: KVM_SET_LAPIC", v->id);
		return -errno;
	}
	return 0;
}

static int cpu_set_fpu(struct vcpu *v)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };

	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0) {
		log_warn("vcpu%u: KVM_SET_FPU", v->id);
		return -errno;
	}
	return 0;
}

static void cpu_flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, int code64)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

/* The boot vCPU starts where the loader said, in the mode it said. */
static int cpu_set_boot_state(struct vcpu *v)
{
	const struct ipc_cfg_vcpu *cfg = &v->vm->cfg;
	int long_mode = cfg->cv_entry_mode == IPC_ENTRY_LINUX64;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		log_warn("vcpu%u: KVM_GET_SREGS", v->id);
		return -errno;
	}
	cpu_flat_segment(&sregs.cs, LAYOUT_BOOT_CS, 0xb, long_mode);
	cpu_flat_segment(&sregs.ds, LAYOUT_BOOT_DS, 0x3, 0);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = LAYOUT_BOOT_TSS;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 0xb;
	sregs.tr.present = 1;
	sregs.gdt.base = cfg->cv_gdt_base;
	sregs.gdt.limit = LAYOUT_GDT_ENTRIES * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	if (long_mode) {
		sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
		sregs.cr3 = cfg->cv_cr3;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
	} else {
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr3 = 0;
		sregs.cr4 = 0;
		sregs.efer = 0;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
		log_warn("vcpu%u: KVM_SET_SREGS", v->id);
		return -errno;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = cfg->cv_entry;
	regs.rsp = cfg->cv_stack;
	if (long_mode)
		regs.rsi = cfg->cv_boot_info;
	else
		regs.rbx = cfg->cv_boot_info;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		log_warn("vcpu%u: KVM_SET_REGS", v->id);
		return -errno;
	}
	return 0;
}

static int cpu_create(struct vm *vm, unsigned int id, int run_size)
{
	struct vcpu *v = &vm->vcpus[id];
	void *run;
	int err;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		log_warn("KVM_CREATE_VCPU %u", id);
		return -errno;
	}
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		log_warn("vcpu%u: mmap kvm_run", id);
		return -errno;
	}
	v->run = run;
	v->run_size = run_size;
	err = cpu_set_cpuid(v);
	if (!err)
		err = cpu_set_msrs(v);
	if (!err)
		err = cpu_set_lapic(v);
	if (!err)
		err = cpu_set_fpu(v);
	if (!err && id == 0)
		err = cpu_set_boot_state(v);
	return err;
}

int cpu_create_all(struct vm *vm)
{
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	int err;

	if (run_size < (int)sizeof(struct kvm_run)) {
		log_warn("KVM_GET_VCPU_MMAP_SIZE");
		return -EINVAL;
	}
	err = cpu_read_supported_cpuid(vm);
	for (unsigned int i = 0; !err && i < vm->cfg.cv_nvcpus; i++)
		err = cpu_create(vm, i, run_size);
	return err;
}

/* Threads are created before the jail closes (no new tasks after it) and
 * wait here until the supervisor says START. */
static int cpu_wait_go(struct vm *vm)
{
	pthread_mutex_lock(&vm->go_lock);
	vm->nparked++;
	pthread_cond_broadcast(&vm->go_cond);
	while (!vm->go && !vm->stop)
		pthread_cond_wait(&vm->go_cond, &vm->go_lock);
	pthread_mutex_unlock(&vm->go_lock);
	return !vm->stop;
}

/* The kvm_run of the vCPU this thread runs, for the kick handler. */
static __thread struct kvm_run *cpu_self_run;

static int cpu_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE);
}

/* KVM_RUN returned EINTR: a stop, or a signal that means nothing to us. */
static int cpu_kicked(struct vcpu *v)
{
	/* Reading a stopper's 1 here makes its vm->stop visible to the loop. */
	__atomic_exchange_n(&v->run->immediate_exit, 0, __ATOMIC_ACQ_REL);
	return cpu_stopping(v->vm);
}

/*
 * While the VM is paused, wait; the last thread to wait wakes the main thread,
 * which tells the supervisor. 0 if the VM is stopping.
 */
static int cpu_pause_point(struct vcpu *v)
{
	struct vm *vm = v->vm;

	if (!__atomic_load_n(&vm->paused, __ATOMIC_ACQUIRE))
		return !cpu_stopping(vm);
	pthread_mutex_lock(&vm->go_lock);
	if (vm->paused && !vm->stop) {
		if (++vm->npaused == vm->cfg.cv_nvcpus)
			vm_wake_main(vm);
		while (vm->paused && !vm->stop)
			pthread_cond_wait(&vm->go_cond, &vm->go_lock);
		vm->npaused--;
	}
	pthread_mutex_unlock(&vm->go_lock);
	return !cpu_stopping(vm);
}

static void *cpu_thread(void *arg)
{
	struct vcpu *v = arg;

	cpu_self_run = v->run;
	if (!cpu_wait_go(v->vm))
		return NULL;
	unsigned int again = 0;

	while (cpu_pause_point(v)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			/* EAGAIN: an AP left the wait-for-SIPI state and must simply run
			 * again; the same answer over and over means KVM cannot run this
			 * vCPU at all, and retrying would spin. */
			if (errno == EINTR && cpu_kicked(v))
				break;
			if (errno == EINTR || (errno == EAGAIN && ++again < VCPU_MAX_EAGAIN))
				continue;
			vm_request_exit(v->vm, IPC_EXIT_ERROR, 0, "vcpu%u: KVM_RUN: %s", v->id,
					strerror(errno));
			break;
		}
		again = 0;
		if (exits_handle(v))
			break;
		chan_release_held(v->vm, v->vm->hold_ns);
	}
	return NULL;
}

/* A kick that lands just before KVM_RUN must still stop it: immediate_exit. */
static void cpu_kick_handler(int sig)
{
	struct kvm_run *run = cpu_self_run;

	(void)sig;
	if (run)
		__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_RELAXED);
}

int cpu_create_threads(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = cpu_kick_handler };
	sigset_t set;

	/* SIGUSR1 kicks a thread out of KVM_RUN; immediate_exit closes the race
	 * where it arrives just before the thread enters KVM_RUN. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pthread_mutex_init(&vm->go_lock, NULL);
	pthread_cond_init(&vm->go_cond, NULL);
	for (unsigned int i = 0; i < vm->cfg.cv_nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int err = pthread_create(&v->thread, NULL, cpu_thread, v);

		if (err) {
			log_warnx("pthread_create vcpu%u: %s", i, strerror(err));
			return -err;
		}
		v->started = 1;
	}
	/* Every thread must be parked, its start-up system calls (rseq, signal
	 * masks...) done, before the seccomp filter reaches it. */
	pthread_mutex_lock(&vm->go_lock);
	while (vm->nparked < vm->cfg.cv_nvcpus)
		pthread_cond_wait(&vm->go_cond, &vm->go_lock);
	pthread_mutex_unlock(&vm->go_lock);
	return 0;
}

void cpu_go(struct vm *vm)
{
	pthread_mutex_lock(&vm->go_lock);
	vm->go = 1;
	pthread_cond_broadcast(&vm->go_cond);
	pthread_mutex_unlock(&vm->go_lock);
}

/* Out of KVM_RUN now, or at once if it is about to enter it (immediate_exit). */
static void cpu_kick_all(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->cfg.cv_nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, SIGUSR1);
	}
}

void cpu_pause(struct vm *vm, int on)
{
	pthread_mutex_lock(&vm->go_lock);
	__atomic_store_n(&vm->paused, on, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->go_cond);
	pthread_mutex_unlock(&vm->go_lock);
	if (on)
		cpu_kick_all(vm);
}

int cpu_paused(struct vm *vm)
{
	int all;

	pthread_mutex_lock(&vm->go_lock);
	all = vm->paused && vm->npaused == vm->cfg.cv_nvcpus;
	pthread_mutex_unlock(&vm->go_lock);
	return all;
}

void cpu_stop_all(struct vm *vm)
{
	pthread_mutex_lock(&vm->go_lock);
	vm->stop = 1;
	pthread_cond_broadcast(&vm->go_cond);
	pthread_mutex_unlock(&vm->go_lock);
	cpu_kick_all(vm);
	for (unsigned int i = 0; i < vm->cfg.cv_nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->started)
			pthread_join(v->thread, NULL);
		v->started = 0;
	}
}

void cpu_dump(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_warn("vcpu%u: cannot read registers", v->id);
		return;
	}
	log_info("vcpu%u: rip %016llx rsp %016llx rflags %016llx", v->id, r.rip, r.rsp, r.rflags);
	log_info("vcpu%u: rax %016llx rbx %016llx rcx %016llx rdx %016llx", v->id, r.rax, r.rbx,
		 r.rcx, r.rdx);
	log_info("vcpu%u: rsi %016llx rdi %016llx rbp %016llx r8  %016llx", v->id, r.rsi, r.rdi,
		 r.rbp, r.r8);
	log_info("vcpu%u: r9  %016llx r10 %016llx r11 %016llx r12 %016llx", v->id, r.r9, r.r10,
		 r.r11, r.r12);
	log_info("vcpu%u: r13 %016llx r14 %016llx r15 %016llx", v->id, r.r13, r.r14, r.r15);
	log_info("vcpu%u: cs %04x (base %llx l%u db%u) ss %04x cr0 %llx cr3 %llx cr4 %llx efer %llx",
		 v->id, s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.cr0, s.cr3, s.cr4,
		 s.efer);
}
