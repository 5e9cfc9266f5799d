/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The floor of the start figure: the least a KVM VMM does on this machine. A VM
 * with 64 MiB, one vCPU in real mode running "out 0x80, al; hlt", then exit 0
 * (1 on any failure). No jail, no processes, no guest kernel. With --irqchip it
 * first creates KVM's in-kernel PIC, IOAPIC and LAPICs, as QEMU and
 * Firecracker do; with --split-irqchip only the LAPICs (KVM_CAP_SPLIT_IRQCHIP),
 * as bulkhead does by default.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM (64u << 20)
#define CODE 0x1000

int main(int argc, char **argv)
{
	static const uint8_t code[] = { 0xb0, 0x42, 0xe6, 0x80, 0xf4 }; /* mov al,0x42; out 0x80,al; hlt */
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { 24 } };
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, cpu, size, irqchip = 0, ios = 0;
	struct kvm_userspace_memory_region r = { .memory_size = MEM };
	struct kvm_regs regs = { .rip = CODE, .rflags = 2 };
	struct kvm_sregs sregs;
	struct kvm_run *run;
	uint8_t *mem;

	if (kvm < 0 || (vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		return 1;
	if (argc > 1 && strcmp(argv[1], "--irqchip") == 0) {
		irqchip = 1;
		if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
			return 1;
	} else if (argc > 1 && strcmp(argv[1], "--split-irqchip") == 0) {
		irqchip = 1;
		if (ioctl(vm, KVM_ENABLE_CAP, &split) < 0)
			return 1;
	}
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
	for (;;) {
		if (ioctl(cpu, KVM_RUN, 0) < 0)
			return 1;
		if (run->exit_reason == KVM_EXIT_HLT)
			return ios == 1 ? 0 : 1;
		if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x80 || ios++)
			return 1;
		if (irqchip) /* with the in-kernel LAPIC, KVM waits in hlt itself */
			return 0;
	}
}
