/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "vcpu.h"

static int vm_check_api(int kvm_fd)
{
	int v = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);

	if (v < 0)
		return -errno;
	if (v != KVM_API_VERSION) {
		log_warnx("KVM API version %d, need %d", v, KVM_API_VERSION);
		return -ENOTSUP;
	}
	return 0;
}

static int vm_enable_emulation_failure_exit(struct vm *vm)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_EXIT_ON_EMULATION_FAILURE, .args = { 1 } };

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_EXIT_ON_EMULATION_FAILURE) <= 0)
		return 0;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		log_warn("KVM_ENABLE_CAP(EXIT_ON_EMULATION_FAILURE)");
		return 0;
	}
	vm->emulation_failure_bytes = 1;
	return 0;
}

/*
 * A split irqchip leaves the IOAPIC (and no PIC) to this process; KVM reserves
 * a route for each of its pins. KVM's i8254 needs its in-kernel PIC, so the
 * supervisor never asks for both.
 */
static int vm_set_split_irqchip(struct vm *vm)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args = { LAYOUT_IOAPIC_PINS } };

	/* Made before the jail and kept to the end, as the CPUID table: a free()
	 * after the lockdown may want brk, which the policy does not allow. */
	vm->routes = calloc(1, sizeof(*vm->routes) +
				       LAYOUT_IOAPIC_PINS * sizeof(vm->routes->entries[0]));
	if (!vm->routes)
		return -ENOMEM;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		log_warn("KVM_ENABLE_CAP(SPLIT_IRQCHIP)");
		return -errno;
	}
	ioapic_init(&vm->ioapic, vm->cfg.cv_nvcpus); /* the id the MADT and MP table give it */
	vm->split_irqchip = 1;
	log_debug("irqchip: split (local APICs in KVM, the IOAPIC here, no PIC, no PIT)");
	return 0;
}

static int vm_set_kernel_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_warn("KVM_CREATE_IRQCHIP");
		return -errno;
	}
	/* Without a PIT, KVM's teardown skips a wait for SRCU (~14 ms here). */
	if (vm->cfg.cv_flags & IPC_VCPU_F_NO_PIT) {
		log_debug("irqchip: kernel (PIC, IOAPIC and local APICs in KVM), no PIT");
		return 0;
	}
	log_debug("irqchip: kernel (PIC, IOAPIC and local APICs in KVM), and KVM's PIT");
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_warn("KVM_CREATE_PIT2");
		return -errno;
	}
	return 0;
}

static int vm_set_platform(struct vm *vm)
{
	uint64_t idmap = LAYOUT_KVM_IDENTITY_MAP_ADDR;

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS_ADDR) < 0) {
		log_warn("KVM_SET_TSS_ADDR");
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		log_warn("KVM_SET_IDENTITY_MAP_ADDR");
		return -errno;
	}
	if (vm->cfg.cv_flags & IPC_VCPU_F_SPLIT_IRQCHIP)
		return vm_set_split_irqchip(vm);
	return vm_set_kernel_irqchip(vm);
}

/*
 * Install the routes the IOAPIC's registers now give (under ioapic_lock),
 * unless they are the ones installed: each KVM_SET_GSI_ROUTING waits for an
 * SRCU grace period, and most entry writes (a mask, a second half) change no
 * route.
 */
static int vm_set_ioapic_routes(struct vm *vm)
{
	struct kvm_irq_routing_entry e[LAYOUT_IOAPIC_PINS];
	unsigned int n = ioapic_routes(&vm->ioapic, e);

	if (vm->routes_set && n == vm->routes->nr &&
	    memcmp(e, vm->routes->entries, n * sizeof(e[0])) == 0)
		return 0;
	memcpy(vm->routes->entries, e, n * sizeof(e[0]));
	vm->routes->nr = n;
	vm->routes->flags = 0;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routes) < 0) {
		vm->routes_set = 0;
		return -errno;
	}
	vm->routes_set = 1;
	return 0;
}

int vm_ioapic_access(struct vcpu *v, int is_write, uint64_t off, unsigned int size,
		     uint64_t *val)
{
	struct vm *vm = v->vm;
	int err = 0;

	pthread_mutex_lock(&vm->ioapic_lock);
	if (!is_write)
		*val = ioapic_read(&vm->ioapic, off, size);
	else if (ioapic_write(&vm->ioapic, off, size, *val))
		err = vm_set_ioapic_routes(vm);
	pthread_mutex_unlock(&vm->ioapic_lock);
	if (err == 0)
		return 0;
	vm_request_exit(vm, IPC_EXIT_ERROR, 0, "vcpu%u: KVM_SET_GSI_ROUTING: %s", v->id,
			strerror(-err));
	return 1;
}

static int vm_set_memory(struct vm *vm)
{
	int err = mem_map(&vm->mem);

	if (err < 0) {
		errno = -err;
		log_warn("mmap guest memory");
		return err;
	}
	for (unsigned int i = 0; i < vm->mem.nregions; i++) {
		const struct mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			log_warn("KVM_SET_USER_MEMORY_REGION slot %u", i);
			return -errno;
		}
	}
	return 0;
}

static int vm_set_device_fds(struct vm *vm, struct dev_chan *d)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)d->irq_fd, .gsi = d->gsi };

	if (d->irq_fd >= 0 && ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_warn("%s: KVM_IRQFD gsi %u", d->name, d->gsi);
		return -errno;
	}
	for (uint32_t q = 0; q < d->nqueues; q++) {
		struct kvm_ioeventfd ev = {
			.datamatch = q,
			.addr = d->base + d->notify_off,
			.len = 4,
			.fd = d->queue_fd[q],
			.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
		};

		if (d->space == IPC_SPACE_PIO)
			ev.flags |= KVM_IOEVENTFD_FLAG_PIO;
		if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0) {
			log_warn("%s: KVM_IOEVENTFD queue %u", d->name, q);
			return -errno;
		}
	}
	return 0;
}

int vm_create(struct vm *vm)
{
	int err;

	vm->vm_fd = -1;
	err = vm_check_api(vm->kvm_fd);
	if (err < 0)
		return err;
	do
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		log_warn("KVM_CREATE_VM");
		return -errno;
	}
	err = vm_enable_emulation_failure_exit(vm);
	if (err == 0)
		err = vm_set_platform(vm);
	return err;
}

int vm_create_slots(struct vm *vm)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)vm->irq_fd, .gsi = vm->irq_gsi };
	int err = vm_set_memory(vm);

	for (unsigned int i = 0; err == 0 && i < vm->ndevs; i++)
		err = vm_set_device_fds(vm, &vm->devs[i]);
	if (err == 0 && vm->irq_fd >= 0 && ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_warn("KVM_IRQFD gsi %u (the power button)", vm->irq_gsi);
		err = -errno;
	}
	return err;
}

void vm_destroy(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->cfg.cv_nvcpus && i < VCPU_MAX; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd > 0)
			close(v->fd);
	}
	mem_unmap(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
}

void vm_wake_main(struct vm *vm)
{
	uint64_t one = 1;

	(void)!write(vm->exit_evfd, &one, sizeof(one));
}

void vm_request_exit(struct vm *vm, enum ipc_exit_reason reason, uint32_t value, const char *fmt,
		     ...)
{
	va_list ap;

	pthread_mutex_lock(&vm->exit_lock);
	if (!vm->exiting) {
		vm->exiting = 1;
		ipc_init(&vm->exit_msg, IPC_VM_EXIT, sizeof(vm->exit_msg));
		vm->exit_msg.ve_reason = reason;
		vm->exit_msg.ve_value = value;
		va_start(ap, fmt);
		vsnprintf(vm->exit_msg.ve_text, sizeof(vm->exit_msg.ve_text), fmt, ap);
		va_end(ap);
		vm_wake_main(vm);
	}
	pthread_mutex_unlock(&vm->exit_lock);
}
