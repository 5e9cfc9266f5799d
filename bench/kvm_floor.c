/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The floor of the start figure: the least a KVM VMM does on this machine. A VM
 * with 64 MiB, one vCPU in real mode running "out 0x80, al; hlt", then exit 0
 * (1 on any failure). No jail, no processes, no guest kernel. With --irqchip it
 * first creates KVM's in-kernel PIC, IOAPIC and LAPICs, as QEMU and
 * Firecracker do; with --split-irqchip only the LAPICs (KVM_CAP_SPLIT_IRQCHIP),
 * as bulkhead does by default.
 *
 * With --jail, the same VM (split irqchip) in one jailed process, as a VMM
 * that jails itself would run it: cloned into a new PID namespace and exec'd
 * again, it makes the VM, then enters bulkhead's own jail (jail/jail.c: new
 * mount, network, IPC and UTS namespaces, an empty read-only root, rlimits,
 * no capabilities, the jail's uid and gid, no_new_privs) and a seccomp filter
 * compiled with libseccomp at start, as bulkhead's children compile theirs,
 * and only then runs the vCPU. What bulkhead's split into processes costs is
 * its launch to exit over this one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/jail.h"

#define MEM (64u << 20)
#define CODE 0x1000

enum irqchip { IRQCHIP_NONE, IRQCHIP_KERNEL, IRQCHIP_SPLIT };

/* What the vCPU loop still calls once the jail has closed; everything else kills. */
static int load_filter(void)
{
	static const int allowed[] = { SCMP_SYS(ioctl), SCMP_SYS(exit_group), SCMP_SYS(exit) };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = ctx ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static int enter_jail(void)
{
	struct jail_config jc = {
		.mode = JAIL_FULL,
		.uid = JAIL_DEFAULT_ID,
		.gid = JAIL_DEFAULT_ID,
		.nofile = 64,
		.keep_nproc = 1, /* KVM_RUN starts a worker task (jail.h) */
	};
	char err[256];

	return jail_enter(&jc, err, sizeof(err)) == 0 && load_filter() == 0 ? 0 : -1;
}

static int run_vm(enum irqchip irqchip, int jail)
{
	static const uint8_t code[] = { 0xb0, 0x42, 0xe6, 0x80, 0xf4 }; /* mov al,0x42; out 0x80,al; hlt */
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, cpu, size, ios = 0;
	struct kvm_userspace_memory_region r = { .memory_size = MEM };
	struct kvm_regs regs = { .rip = CODE, .rflags = 2 };
	struct kvm_sregs sregs;
	struct kvm_run *run;
	uint8_t *mem;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		return 1;
	if (irqchip == IRQCHIP_KERNEL && ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return 1;
	if (irqchip == IRQCHIP_SPLIT && ioctl(vm, KVM_ENABLE_CAP, &split) < 0)
		return 1;
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	for (unsigned int i = 0; i < sizeof(code); i++)
		mem[CODE + i] = code[i];
	r.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0 || (cpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0 ||
	    (size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
		return 1;
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
	if (run == MAP_FAILED || ioctl(cpu, KVM_GET_SREGS, &sregs) < 0)
		return 1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(cpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(cpu, KVM_SET_REGS, &regs) < 0)
		return 1;
	if (jail && enter_jail() < 0)
		return 1;
	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0) < 0)
			return 1;
		if (run->exit_reason == KVM_EXIT_HLT)
			return ios == 1 ? 0 : 1;
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x80 || ios++)
			return 1;
		if (irqchip != IRQCHIP_NONE) /* with the in-kernel LAPIC, KVM waits in hlt itself */
			return 0;
	}
}

/* --jail: this program again, exec'd in a new PID namespace, as bulkhead spawns a child. */
static int run_jailed(void)
{
	long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWPID | SIGCHLD), 0UL, NULL, NULL, 0UL);
	int status;

	if (pid == 0) {
		execl("/proc/self/exe", "kvm-floor", "--jailed", (char *)NULL);
		_exit(1);
	}
	if (pid < 0 || waitpid((pid_t)pid, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "--irqchip") == 0)
		return run_vm(IRQCHIP_KERNEL, 0);
	if (strcmp(mode, "--split-irqchip") == 0)
		return run_vm(IRQCHIP_SPLIT, 0);
	if (strcmp(mode, "--jail") == 0)
		return run_jailed();
	if (strcmp(mode, "--jailed") == 0)
		return run_vm(IRQCHIP_SPLIT, 1);
	return run_vm(IRQCHIP_NONE, 0);
}
