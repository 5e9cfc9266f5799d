/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-vcpu: owns the KVM VM and one thread per vCPU, forwards register
 * accesses of device windows to device processes, handles the few built-in
 * ports (reset, debug exit, boot marker) itself. Private to vcpu/.
 */
#ifndef BULKHEAD_VCPU_VCPU_H
#define BULKHEAD_VCPU_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "common/layout.h"
#include "ipc/ipc.h"
#include "mem/mem.h"

#define VCPU_MAX 254
#define VCPU_REPLAY_MAX 256 /* posted writes kept per device, for a restarted one */
#define VCPU_MAX_EAGAIN 1000 /* consecutive EAGAINs from KVM_RUN before giving up */
#define VCPU_HOLD_MAX 24 /* posted writes held per device before they go (chan.c) */
#define VCPU_HOLD_NS 4000000ull /* the longest a held write waits (chan.c) */
/* The longest the last drain waits for room (chan_drain), well inside the
 * supervisor's stop timeout (SUP_STOP_TIMEOUT_MS, 3 s), after which it kills. */
#define VCPU_DRAIN_MS 1000

/* A device process whose register window this process forwards. */
struct dev_chan {
	char name[IPC_NAME_MAX];
	uint32_t space; /* enum ipc_space */
	uint64_t base, len;
	uint32_t gsi;
	int fd; /* SOCK_SEQPACKET to the device */
	int irq_fd;
	uint32_t nqueues, notify_off;
	int queue_fd[IPC_MAX_QUEUES];
	uint32_t seq;
	/* Writes to these offsets wait until the device applied them (IO_WRITE_SYNC). */
	uint32_t nsync;
	uint32_t sync_off[IPC_MAX_SYNC_WRITES];
	/* The device's register shadow (read-only; its contents are hostile), or NULL,
	 * and its layout as the device kind declared it (ipc.h, CFG_VCPU_DEV). */
	const struct ipc_shadow *shadow;
	uint32_t shadow_width, shadow_regs, shadow_config_off;
	uint32_t posted; /* register writes sent on the channel (wraps, as sh_applied). Under lock. */
	/* posted as it was after the last write the shadow's sh_keeps did not cover: the
	 * shadow answers once sh_applied has reached it. Under lock. */
	uint32_t settled;
	/* Posted writes the shadow keeps, held to go out together (chan.c): nheld of
	 * them, the first held at held_since (now_ns(); 0 when none, read without the
	 * lock). Under lock. */
	struct ipc_io held[VCPU_HOLD_MAX];
	uint32_t nheld;
	uint64_t held_since;
	/* What it failed to do (enum ipc_dev_failure), or 0; for the supervisor. Under vm->exit_lock. */
	uint32_t failed;
	uint64_t fail_offset;
	int fail_write;
	uint32_t fail_gen;
	int failure_sent; /* the main thread reported it */
	/* --on-device-failure restart: the device failed and its next incarnation is
	 * awaited (down, under lock; swapped is signalled when it arrives), gen counts
	 * incarnations, and the posted writes are kept for replay into the next one. */
	int down;
	uint32_t gen;
	pthread_cond_t swapped;
	struct ipc_io ring[VCPU_REPLAY_MAX];
	/* Held across each request and its reply, so vCPU threads never interleave; taken
	 * with a deadline (chan.c). */
	pthread_mutex_t lock;
};

/* The IOAPIC of a split irqchip (ioapic.c): its registers; the routes follow from them. */
struct ioapic {
	uint32_t regsel;
	uint32_t id;
	uint64_t redir[LAYOUT_IOAPIC_PINS];
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	int started;
};

struct vm {
	struct ipc_cfg_vcpu cfg;
	struct guest_mem mem;
	struct dev_chan devs[LAYOUT_MAX_DEVICES];
	unsigned int ndevs;
	int kvm_fd, vm_fd;
	struct vcpu vcpus[VCPU_MAX];
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID (asked by the supervisor: cv_cpuid_fd) */
	int emulation_failure_bytes; /* KVM_CAP_EXIT_ON_EMULATION_FAILURE enabled */
	/* --irqchip split: the IOAPIC is ours (under ioapic_lock, which is held
	 * across KVM_SET_GSI_ROUTING so that routes are installed in the order
	 * the guest wrote them); routes has room for LAYOUT_IOAPIC_PINS entries
	 * and holds the ones installed once routes_set. */
	int split_irqchip;
	pthread_mutex_t ioapic_lock;
	struct ioapic ioapic;
	struct kvm_irq_routing *routes;
	int routes_set;
	/* The first exit request wins; the main thread reports it. */
	pthread_mutex_t exit_lock;
	int exiting;
	struct ipc_vm_exit exit_msg;
	int exit_evfd; /* written when exiting becomes 1, or a device failed */
	volatile sig_atomic_t stop; /* threads leave their loop */
	pthread_mutex_t go_lock;
	pthread_cond_t go_cond;
	int go; /* START arrived */
	unsigned int nparked; /* threads waiting for START */
	/* VCPU_PAUSE, under go_lock: the threads are to wait (paused), how many do
	 * (npaused), and whether the supervisor is owed a VCPU_PAUSED when all do. */
	int paused;
	unsigned int npaused;
	int pause_owed;
	/* CFG_VCPU_IRQ: an eventfd the supervisor writes, registered as irqfd, or -1. */
	int irq_fd;
	uint32_t irq_gsi;
	/* Channels holding posted writes, and whether the main thread looks at them
	 * every VCPU_HOLD_NS (chan.c: chan_hold_timeout_ms). Atomic. */
	unsigned int nholding;
	int main_watching;
	uint64_t hold_ns; /* the longest a held write waits: VCPU_HOLD_NS (a test build may say more) */
	/* The vCPU threads are joined and the main thread sends what they held
	 * (chan_drain): a stop, which is what started it, no longer cuts its waits. */
	int draining;
};

/* What a vCPU's CPUID table is built from (cpuid.c). */
struct cpuid_host {
	const struct kvm_cpuid_entry2 *supported; /* KVM_GET_SUPPORTED_CPUID */
	uint32_t nsupported;
	uint32_t brand[12]; /* the host's leaves 0x80000002-4 (EAX EBX ECX EDX each), or zeros */
	int tsc_deadline; /* KVM_CAP_TSC_DEADLINE_TIMER */
};

/*
 * cpuid_build: the CPUID table of vCPU id of n (one socket of n cores, one
 * thread each) from h into out, which has room for max entries; the number
 * of entries, or -E2BIG or -EINVAL.
 */
int cpuid_build(const struct cpuid_host *h, unsigned int id, unsigned int n,
		struct kvm_cpuid_entry2 *out, uint32_t max) __attribute__((warn_unused_result));
/* cpuid_find: the entry of leaf fn (sub-leaf index where it matters) in t[0..n), or NULL. */
const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid_entry2 *t, uint32_t n,
					  uint32_t fn, uint32_t index);
/* cpuid_xcr0: the XCR0 a vCPU with table t starts with (every component 0xD.0 exposes), or 0. */
uint64_t cpuid_xcr0(const struct kvm_cpuid_entry2 *t, uint32_t n);
/* cpuid_order: the bits an id of 0..n-1 takes (ceil(log2(n))). */
unsigned int cpuid_order(unsigned int n);
/*
 * cpuid_read_supported: the table in fd (struct kvm_cpuid2 and nent entries,
 * 1 to IPC_CPUID_MAX of them, and not a byte more) into *out, to free(); 0,
 * -EPROTO for anything else in fd, or -ENOMEM.
 */
int cpuid_read_supported(int fd, struct kvm_cpuid2 **out) __attribute__((warn_unused_result));

/* ioapic_init: every pin masked, the given id (ioapic.c). */
void ioapic_init(struct ioapic *io, uint32_t id);
/* ioapic_read: a read of size bytes at off in the IOAPIC's window. */
uint64_t ioapic_read(const struct ioapic *io, uint64_t off, unsigned int size);
/* ioapic_write: a write of size bytes at off; 1 when a redirection entry changed. */
int ioapic_write(struct ioapic *io, uint64_t off, unsigned int size, uint64_t val);
/* ioapic_routes: an MSI route for each pin that delivers, into out[LAYOUT_IOAPIC_PINS]; how many. */
unsigned int ioapic_routes(const struct ioapic *io, struct kvm_irq_routing_entry *out);
/* vm_ioapic_access: a vCPU's access to the IOAPIC window (split irqchip); 0, or
 * 1 when the vCPU must stop (KVM refused the routes: the VM is ending). */
int vm_ioapic_access(struct vcpu *v, int is_write, uint64_t off, unsigned int size,
		     uint64_t *val);

/* vm_create: create the VM: irqchip, PIT (then the vCPUs, then vm_create_slots). */
int vm_create(struct vm *vm) __attribute__((warn_unused_result));
/* vm_create_slots: the VM's memory slots, irqfds and ioeventfds. */
int vm_create_slots(struct vm *vm) __attribute__((warn_unused_result));
/* vm_destroy: close what vm_create opened. */
void vm_destroy(struct vm *vm);
/* cpu_create_all: create every vCPU, set CPUID, MSRs, LAPIC and the boot vCPU's registers. */
int cpu_create_all(struct vm *vm) __attribute__((warn_unused_result));
/* cpu_create_threads: one thread per vCPU, each waiting for cpu_go (before the jail closes). */
int cpu_create_threads(struct vm *vm) __attribute__((warn_unused_result));
/* cpu_go: let the vCPU threads run the guest. */
void cpu_go(struct vm *vm);
/* cpu_pause: stop every vCPU (on: each leaves KVM_RUN and waits) or let them run (off). */
void cpu_pause(struct vm *vm, int on);
/* cpu_paused: every vCPU thread is waiting in a pause. */
int cpu_paused(struct vm *vm);
/* cpu_stop_all: kick every vCPU out of KVM_RUN and join its thread. */
void cpu_stop_all(struct vm *vm);
/* cpu_dump: log the registers of v (after an error exit). */
void cpu_dump(struct vcpu *v);
/* vm_request_exit: record why the VM ends (first caller wins) and wake main. */
void vm_request_exit(struct vm *vm, enum ipc_exit_reason reason, uint32_t value, const char *fmt,
		     ...) __attribute__((format(printf, 4, 5)));
/*
 * chan_access: forward a register access of v's guest to device d (window offset
 * off, size bytes, *val the value written or read), within IPC_DEADLINE_MS; 0,
 * or 1 when the vCPU must stop (a stop, or d failed: reported to the supervisor).
 */
int chan_access(struct vcpu *v, struct dev_chan *d, int is_write, uint64_t off, unsigned int size,
		uint64_t *val);
/*
 * chan_release_held: send the writes every channel holds since age_ns or
 * longer (0: all of them), each channel under its lock; a device that fails
 * is reported as chan_access reports it. Called at every exit of a vCPU that
 * sees writes held, by the main thread on its timeout, and before the guest's
 * end is reported.
 */
void chan_release_held(struct vm *vm, uint64_t age_ns);
/* chan_hold_timeout_ms: the main thread's epoll timeout: vm->hold_ns while a
 * channel holds writes, else -1 (a vCPU that holds one wakes it). */
int chan_hold_timeout_ms(struct vm *vm);
/*
 * chan_drain: once the vCPU threads are joined, however the VM ends: send every
 * write a channel still holds, waiting for room at most VCPU_DRAIN_MS in all,
 * so that what the guest wrote last (its panic message) reaches the device
 * before the supervisor stops it (which it does once this process has exited).
 */
void chan_drain(struct vm *vm);
/* chan_init: set up d's lock and condition variable. 0 or -errno. */
int chan_init(struct dev_chan *d) __attribute__((warn_unused_result));
/*
 * chan_swap: fd is the channel of d's next incarnation (main thread): it takes
 * the place of the old one (same fd number, as the policy names it), the
 * posted writes the old one may not have applied are sent again, and the
 * vCPUs waiting for it go on. 0 or -errno.
 */
int chan_swap(struct vm *vm, struct dev_chan *d, int fd) __attribute__((warn_unused_result));
/* vm_wake_main: make the main thread look at vm->exiting and the devices' failures. */
void vm_wake_main(struct vm *vm);
/* exits_handle: handle one KVM exit of v; 0 to go on, 1 when the vCPU must stop. */
int exits_handle(struct vcpu *v);

#endif
