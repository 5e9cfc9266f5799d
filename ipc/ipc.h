/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The wire ABI between bulkhead processes. Every message is a fixed-size
 * struct that starts with struct ipc_hdr and travels alone in one
 * SOCK_SEQPACKET datagram. Fixed-width fields, no pointers, little-endian
 * (all processes run on the same x86_64 host). The receiver checks version,
 * type, exact size and the state it is in before it looks at any field, then
 * checks each field; anything wrong is a protocol error that ends the channel.
 *
 * File descriptors do not travel in messages: the supervisor places them at
 * the numbers a configuration message names before it execs the child (see
 * docs/architecture.md, "File descriptors"), and the child verifies each.
 * The exceptions are CONNECT_REPLY, the answer to a device's run-time
 * request for a host connection (brokered access), which carries one
 * connected socket with SCM_RIGHTS; VCPU_DEV_SWAP, which gives the vcpu
 * process the channel of a restarted device; and SPAWNED, between the
 * supervisor and its spawner. Only a receiver that asked for that one type
 * (ipc_recv_fd, ipc_recv_fds) takes fds; ipc_recv refuses any fd.
 *
 * Channels:
 *   supervisor <-> child: CFG_* (IN to child), DONE, START, STOP, CONNECT_REPLY,
 *                         VCPU_PAUSE, API_REPLY; READY, ERROR, VM_EXIT, DEV_FAILED,
 *                         CONNECT, VCPU_PAUSED, API_REQUEST (OUT of child)
 *   vcpu <-> device:      IO_READ, IO_WRITE, IO_WRITE_SYNC (vcpu to device),
 *                         IO_REPLY (device to vcpu)
 *
 * Each device kind has its own configuration message (CFG_SERIAL, CFG_BLK,
 * CFG_NET, ...) after the generic CFG_DEVICE. The fds such a message carries
 * are listed by an IPC_CFG_<KIND>_FDS initializer below it: the offset of each
 * fd field and the seccomp-policy placeholder that names it. The supervisor
 * places those fds and the device process validates and binds them from the
 * same list.
 */
#ifndef BULKHEAD_IPC_IPC_H
#define BULKHEAD_IPC_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/layout.h"

#define IPC_VERSION 2
#define IPC_MAX_MSG 512 /* no message is larger; receivers read into this much */
#define IPC_NAME_MAX 16
#define IPC_TEXT_MAX 240
#define IPC_MAX_QUEUES 4
#define IPC_MAX_SYNC_WRITES 2 /* registers of one device whose writes wait until applied */
#define IPC_FD_MIN 3
#define IPC_FD_MAX 1023 /* fd numbers named in messages lie in [IPC_FD_MIN, IPC_FD_MAX] */
#define IPC_FD_NONE (-1)
#define IPC_MAX_FDS 5 /* fds one message may carry (the few types that carry any) */
#define IPC_DEADLINE_MS 5000 /* a less privileged peer answers or drains within this */
#define IPC_SEND_MANY_MAX 32 /* messages one ipc_send_many sends at most */

/* Fixed fd numbers every child starts with. */
#define IPC_FD_CONTROL 3 /* SOCK_SEQPACKET to the supervisor */

struct ipc_hdr {
	uint16_t ih_version; /* IPC_VERSION */
	uint16_t ih_type; /* enum ipc_type */
	uint32_t ih_size; /* size of the whole message, header included */
};
_Static_assert(sizeof(struct ipc_hdr) == 8, "ipc_hdr size");

enum ipc_type {
	IPC_CFG_MEM = 1, /* IN child: one guest memory region */
	IPC_CFG_VCPU = 2, /* IN vcpu: vCPU count, boot state, launch time */
	IPC_CFG_VCPU_DEV = 3, /* IN vcpu: one device's register window and fds */
	IPC_CFG_DEVICE = 4, /* IN device: its identity, window, channel, interrupt and queues */
	IPC_CFG_DONE = 5, /* IN child: bootstrap complete; lock down and answer READY */
	IPC_START = 6, /* IN vcpu: run the guest */
	IPC_STOP = 7, /* IN child: stop, flush, exit 0 */
	IPC_READY = 8, /* OUT child: locked down and serving */
	IPC_ERROR = 9, /* OUT child: it failed and is about to exit */
	IPC_VM_EXIT = 10, /* OUT vcpu: the guest ended, or the VM cannot go on */
	IPC_IO_READ = 11, /* vcpu -> device: register read, wants IO_REPLY */
	IPC_IO_WRITE = 12, /* vcpu -> device: register write, posted (no reply) */
	IPC_IO_REPLY = 13, /* device -> vcpu: value of an IO_READ */
	IPC_CFG_BLK = 14, /* IN blk: image, its size, flags, serial */
	IPC_CFG_NET = 15, /* IN net: TAP, MAC */
	IPC_CFG_JAIL = 16, /* IN child: jail and seccomp settings */
	IPC_IO_WRITE_SYNC = 17, /* vcpu -> device: register write, IO_REPLY once applied */
	IPC_CFG_SERIAL = 18, /* IN serial: console input and output */
	IPC_DEV_FAILED = 19, /* OUT vcpu: a device missed a deadline on its channel, or closed it */
	IPC_CONNECT = 20, /* OUT device: connect me to the host end my kind names for a port */
	IPC_CONNECT_REPLY = 21, /* IN device: the answer, with one fd when it succeeded */
	IPC_VCPU_DEV_SWAP = 22, /* IN vcpu: a restarted device's new channel (one fd) */
	IPC_SPAWN = 23, /* supervisor -> spawner: start this device's next (or first) process */
	IPC_SPAWNED = 24, /* spawner -> supervisor: its pidfd, control and vcpu channel ends */
	IPC_CFG_9P = 25, /* IN 9p: the shared directory, its mount tag, read-only or not */
	IPC_CFG_RNG = 26, /* IN rng: rate limit */
	IPC_CFG_VSOCK = 27, /* IN vsock: the guest's CID, the listening socket */
	IPC_API_REQUEST = 28, /* OUT api: a command, or a snapshot of the VM into the API page */
	IPC_API_REPLY = 29, /* IN api: its answer */
	IPC_VCPU_PAUSE = 30, /* IN vcpu: stop every vCPU (or let them run again) */
	IPC_VCPU_PAUSED = 31, /* OUT vcpu: every vCPU is stopped (or running again) */
	IPC_CFG_VCPU_IRQ = 32, /* IN vcpu: an interrupt line the supervisor pulses (power button) */
	IPC_CFG_API = 33, /* IN api: the listening socket and the API page */
	IPC_TYPE_MAX = 34,
};

enum ipc_space {
	IPC_SPACE_PIO = 1,
	IPC_SPACE_MMIO = 2,
};

/* IN child. */
struct ipc_cfg_mem {
	struct ipc_hdr h;
	uint64_t cm_gpa; /* guest-physical base, 4 KiB aligned */
	uint64_t cm_size; /* bytes, 4 KiB multiple; the memfd is exactly this long and sealed */
	int32_t cm_fd; /* memfd */
	uint32_t cm_index; /* 0 .. LAYOUT_MAX_MEM_REGIONS-1, in order */
};
_Static_assert(sizeof(struct ipc_cfg_mem) == 32, "ipc_cfg_mem size");

enum ipc_entry {
	IPC_ENTRY_LINUX64 = 1, /* 64-bit Linux boot protocol: long mode, rsi = zero page */
	IPC_ENTRY_PVH32 = 2, /* PVH: 32-bit protected mode, paging off, rbx = hvm_start_info */
};

/* IN vcpu. */
struct ipc_cfg_vcpu {
	struct ipc_hdr h;
	uint32_t cv_nvcpus; /* 1 .. KVM's limit */
	uint32_t cv_entry_mode; /* enum ipc_entry */
	uint64_t cv_entry; /* rip */
	uint64_t cv_boot_info; /* rsi (LINUX64) or rbx (PVH32) */
	uint64_t cv_cr3; /* LINUX64 only: identity page tables */
	uint64_t cv_stack; /* rsp */
	uint64_t cv_gdt_base; /* boot GDT, LAYOUT_GDT_ENTRIES entries */
	uint64_t cv_launch_ns; /* CLOCK_MONOTONIC when the supervisor started */
	int32_t cv_kvm_fd; /* open /dev/kvm */
	uint32_t cv_flags; /* IPC_VCPU_F_* */
	char cv_name[IPC_NAME_MAX]; /* VM name, NUL-terminated */
	uint32_t cv_deadline_ms; /* a device answers or drains within this: IPC_DEADLINE_MS, or less */
	/* A memfd with KVM_GET_SUPPORTED_CPUID's answer (struct kvm_cpuid2 and its nent entries, at
	 * most IPC_CPUID_MAX), complete once CFG_DONE comes: the supervisor asks KVM while this
	 * process starts. */
	int32_t cv_cpuid_fd;
};
_Static_assert(sizeof(struct ipc_cfg_vcpu) == 96, "ipc_cfg_vcpu size");
#define IPC_DEADLINE_MIN_MS 50
#define IPC_CPUID_MAX 512 /* entries in cv_cpuid_fd's table */
#define IPC_VCPU_F_VERBOSE 0x1
#define IPC_VCPU_F_NO_PIT 0x2 /* --pit off */
#define IPC_VCPU_F_RESTART 0x4 /* --on-device-failure restart: a failed device comes back */
#define IPC_VCPU_F_NO_DEBUG_EXIT 0x8 /* --debug-exit off: writes to port 0xf4 are ignored */
#define IPC_VCPU_F_SPLIT_IRQCHIP 0x10 /* --irqchip split: the IOAPIC in this process, LAPICs in KVM */

/* IN vcpu: a device whose registers the vcpu process forwards. */
struct ipc_cfg_vcpu_dev {
	struct ipc_hdr h;
	char cd_name[IPC_NAME_MAX]; /* "serial", "blk0", NUL-terminated */
	uint32_t cd_space; /* enum ipc_space of its register window */
	uint32_t cd_gsi; /* its interrupt */
	uint64_t cd_base; /* first port or guest-physical address */
	uint64_t cd_len; /* bytes or ports */
	int32_t cd_chan_fd; /* SOCK_SEQPACKET to the device process */
	int32_t cd_irq_fd; /* eventfd to register as irqfd on cd_gsi */
	uint32_t cd_nqueues; /* ioeventfds to register */
	uint32_t cd_notify_off; /* queue notify register, offset in the window */
	int32_t cd_queue_fd[IPC_MAX_QUEUES]; /* ioeventfd i has datamatch i */
	uint32_t cd_flags; /* IPC_VCPU_DEV_F_* */
	int32_t cd_shadow_fd; /* with IPC_VCPU_DEV_F_SHADOW: the register shadow (struct ipc_shadow) */
	/* Writes to these offsets (the first cd_nsync) are sent as IO_WRITE_SYNC and
	 * wait until the device applied them; every other write is posted. */
	uint32_t cd_nsync;
	uint32_t cd_sync_off[IPC_MAX_SYNC_WRITES];
	/* The shadow's layout (IPC_VCPU_DEV_F_SHADOW): sh_regs[i] answers reads of
	 * cd_shadow_width bytes at offset i * cd_shadow_width, i < cd_shadow_regs;
	 * sh_config answers reads of any width from cd_shadow_config_off on (0: none). */
	uint16_t cd_shadow_width; /* 1, 2 or 4 */
	uint16_t cd_shadow_regs; /* <= IPC_SHADOW_REGS */
	uint32_t cd_shadow_config_off;
	uint32_t cd_pad;
};
_Static_assert(sizeof(struct ipc_cfg_vcpu_dev) == 112, "ipc_cfg_vcpu_dev size");
#define IPC_VCPU_DEV_F_SHADOW 0x1 /* answer reads from cd_shadow_fd while it is current */

enum ipc_dev_kind {
	IPC_DEV_SERIAL = 1,
	IPC_DEV_BLK = 2,
	IPC_DEV_NET = 3,
	IPC_DEV_9P = 4,
	IPC_DEV_RNG = 5,
	IPC_DEV_VSOCK = 6,
	IPC_DEV_API = 7, /* the control socket's process: no register window, no queues */
};

/* IN device process, first; its kind's own message (CFG_SERIAL, ...) follows. */
struct ipc_cfg_device {
	struct ipc_hdr h;
	char cd_name[IPC_NAME_MAX]; /* NUL-terminated */
	uint32_t cd_kind; /* enum ipc_dev_kind; must match the executable */
	uint32_t cd_flags; /* IPC_DEV_F_* */
	int32_t cd_chan_fd; /* SOCK_SEQPACKET to the vcpu process */
	int32_t cd_irq_fd; /* eventfd: writing it raises the device's GSI */
	uint64_t cd_base; /* first port or guest-physical address of the window */
	uint32_t cd_nqueues; /* the kind's queue count */
	int32_t cd_queue_fd[IPC_MAX_QUEUES]; /* ioeventfds, one per queue */
	int32_t cd_shadow_fd; /* with IPC_DEV_F_SHADOW: the register shadow to keep current */
	int32_t cd_state_fd; /* with IPC_DEV_F_STATE: its state page (struct ipc_state) */
	uint32_t cd_pad;
};
_Static_assert(sizeof(struct ipc_cfg_device) == 80, "ipc_cfg_device size");
#define IPC_DEV_F_VERBOSE 0x1
#define IPC_DEV_F_SHADOW 0x2 /* cd_shadow_fd is set */
#define IPC_DEV_F_STATE 0x4 /* cd_state_fd is set: keep the state a restart needs current */
#define IPC_DEV_F_RESTORE 0x8 /* and this process replaces one that died: restore from it */

/*
 * A device's state page (--on-device-failure restart): one sealed memfd page
 * per device, made by the supervisor at start and handed to every
 * incarnation, which keeps in it what must outlive the process. A new
 * incarnation restores from it as from hostile input: the process that wrote
 * it may have been compromised.
 *
 * Two snapshot slots: a new snapshot is written into the slot st_cur does not
 * name, then st_cur is switched to it, so that a process killed at any
 * instant leaves one whole snapshot (a page whose slot has another kind or a
 * bad length is not restored). st_live is written through, field by field,
 * outside the snapshots (for virtio: each queue's indices, at every request).
 */
#define IPC_STATE_SIZE 4096
#define IPC_STATE_MAGIC 0x74736862u /* "bhst" */
#define IPC_STATE_LIVE 64
#define IPC_STATE_SNAP 2000
struct ipc_state {
	uint32_t st_magic; /* IPC_STATE_MAGIC once a snapshot was written */
	uint32_t st_cur; /* 0 or 1: the slot of the latest whole snapshot */
	uint32_t st_kind; /* enum ipc_dev_kind of the writer */
	uint32_t st_len[2]; /* bytes each slot's snapshot holds */
	uint32_t st_pad;
	uint8_t st_live[IPC_STATE_LIVE];
	uint8_t st_snap[2][IPC_STATE_SNAP];
	uint8_t st_unused[IPC_STATE_SIZE - 24 - IPC_STATE_LIVE - 2 * IPC_STATE_SNAP];
};
_Static_assert(sizeof(struct ipc_state) == IPC_STATE_SIZE, "ipc_state size");

/* IN vcpu, with one fd: the new channel of the device named. */
struct ipc_vcpu_dev_swap {
	struct ipc_hdr h;
	char ds_name[IPC_NAME_MAX]; /* as in its CFG_VCPU_DEV; NUL-terminated */
};
_Static_assert(sizeof(struct ipc_vcpu_dev_swap) == 24, "ipc_vcpu_dev_swap size");

/* Between the supervisor and its spawner (two halves of one process tree). */
struct ipc_spawn {
	struct ipc_hdr h;
	uint32_t sp_index; /* the device instance */
	int32_t sp_errno; /* SPAWNED: 0, with its fds (below); else why not, and none */
	int32_t sp_pid; /* SPAWNED: the new process */
	uint32_t sp_fds; /* SPAWNED: IPC_SPAWN_FD_*: which fds follow its pidfd and control end */
	uint32_t sp_flags; /* SPAWN: IPC_SPAWN_F_* */
	uint32_t sp_pad;
};
_Static_assert(sizeof(struct ipc_spawn) == 32, "ipc_spawn size");
/* SPAWN: its first process (one that starts at its first client), not a replacement */
#define IPC_SPAWN_F_FIRST 0x1
/* After the pidfd and the supervisor's end of its control socket, in this order: */
#define IPC_SPAWN_FD_STAT 0x1 /* its /proc/PID/stat */
#define IPC_SPAWN_FD_SMAPS 0x2 /* its /proc/PID/smaps_rollup, opened after its exec */
#define IPC_SPAWN_FD_CHAN 0x4 /* the vcpu process's end of its channel (a kind with a window) */

/*
 * The register shadow: one sealed memfd page per device whose kind keeps one
 * (the virtio devices, the UART), written by the device process (MAP_SHARED
 * read-write) and read by the vcpu process (PROT_READ), which answers a
 * register read from it instead of forwarding it while every write it posted
 * on the channel has been applied (sh_applied), or every one but writes the
 * device called harmless (sh_keeps) when they were posted. The device stores
 * values before sh_applied (release) and publishes a register its own work
 * changes before it acts on it (InterruptStatus before the irqfd). Which
 * offsets it answers is the device kind's declaration (CFG_VCPU_DEV's
 * cd_shadow_*), passed on by the supervisor; the vcpu process knows no device
 * model. Hostile input to the vcpu process: every index is bounded by the
 * constants here.
 */
#define IPC_SHADOW_SIZE 4096 /* the memfd's exact size */
#define IPC_SHADOW_REGS 64 /* registers at window offsets 0, w, 2w, ... (w: their width) */
#define IPC_SHADOW_CONFIG_MAX 256

struct ipc_shadow {
	uint32_t sh_applied; /* register writes applied from the channel (wraps) */
	/* bit i (i < 32): a write of any value to register i, applied in the device's
	 * present state, changes no register valid here, nor sh_regs_valid, nor this
	 * mask; the mask changes only while the device handles an access from the
	 * channel. The vcpu process may then answer reads from here while such
	 * writes are still on their way (the UART's THR: a console's next LSR poll). */
	uint32_t sh_keeps;
	uint64_t sh_regs_valid; /* bit i: reads of register i (cd_shadow_width bytes) read sh_regs[i] */
	uint32_t sh_regs[IPC_SHADOW_REGS];
	uint32_t sh_config_len; /* bytes of sh_config readable at any width (<= CONFIG_MAX) */
	/* bit i (i < 32): as sh_keeps, for a write of the value register i reads now
	 * (valid here) only: a write that changes nothing (IER 0 over IER 0). */
	uint32_t sh_keeps_same;
	uint8_t sh_config[IPC_SHADOW_CONFIG_MAX];
};
_Static_assert(sizeof(struct ipc_shadow) == 536, "ipc_shadow size");
_Static_assert(sizeof(struct ipc_shadow) <= IPC_SHADOW_SIZE, "ipc_shadow fits its page");

/*
 * A device's counters (the API's vm.counters and /metrics), kept by its
 * process in its register shadow page at IPC_COUNTERS_OFF, past what the vcpu
 * process reads, and read by the supervisor when it is asked: nothing is sent
 * per event. One writer (the device's main thread), each a naturally aligned
 * 64-bit store; the device's own figures, so a compromised device can only lie
 * about itself. They go on across its restarts (the page outlives its processes).
 */
#define IPC_COUNTERS_OFF 2048
struct ipc_counters {
	uint64_t ct_requests; /* requests completed (blk, 9p, rng), frames (net) or packets
			       * (vsock) sent and received */
	uint64_t ct_bytes; /* bytes those moved (9p: T- and R-messages; serial: console out and in;
			    * vsock: stream data) */
	uint64_t ct_errors; /* requests failed, frames dropped, packets malformed (vsock) */
	uint64_t ct_notifications; /* queue kicks taken from its ioeventfds */
	uint64_t ct_interrupts; /* interrupts raised (irqfd writes) */
	uint64_t ct_reads; /* register reads forwarded to it (not those the shadow answered) */
	uint64_t ct_writes; /* register writes it applied */
	uint64_t ct_pad;
};
_Static_assert(sizeof(struct ipc_counters) == 64, "ipc_counters size");
/* ipc_count: add n to counter *c (one writer; read by another process at any time). */
static inline void ipc_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}
_Static_assert(sizeof(struct ipc_shadow) <= IPC_COUNTERS_OFF &&
		       IPC_COUNTERS_OFF + sizeof(struct ipc_counters) <= IPC_SHADOW_SIZE,
	       "the counters lie in the shadow page, past the registers");

/* An fd field of a kind's configuration message: where it is and the placeholder
 * its process's seccomp policy names it by. */
struct ipc_fd_field {
	const char *name; /* "DISK_FD" */
	uint32_t off; /* offsetof the int32_t field in the message */
	uint32_t optional; /* IPC_FD_NONE is allowed */
};

/* serial: a 16550A on COM1, no queues. IN serial. */
struct ipc_cfg_serial {
	struct ipc_hdr h;
	int32_t cs_in_fd; /* console input, or IPC_FD_NONE */
	int32_t cs_out_fd; /* console output, or IPC_FD_NONE */
};
_Static_assert(sizeof(struct ipc_cfg_serial) == 16, "ipc_cfg_serial size");
/* The log names of the kinds' configuration messages (ipc_type_name): a new
 * kind adds its message's name here, so that ipc.c knows no kind. */
#define IPC_KIND_TYPE_NAMES \
	[IPC_CFG_SERIAL] = "CFG_SERIAL", [IPC_CFG_BLK] = "CFG_BLK", [IPC_CFG_NET] = "CFG_NET", \
	[IPC_CFG_9P] = "CFG_9P", \
	[IPC_CFG_RNG] = "CFG_RNG", [IPC_CFG_VSOCK] = "CFG_VSOCK", [IPC_CFG_API] = "CFG_API",

#define IPC_CFG_SERIAL_FDS \
	{ { "IN_FD", offsetof(struct ipc_cfg_serial, cs_in_fd), 1 }, \
	  { "OUT_FD", offsetof(struct ipc_cfg_serial, cs_out_fd), 1 } }

/* blk: virtio-blk over a raw image. IN blk. */
#define IPC_BLK_VIRTIO_ID 2
#define IPC_BLK_QUEUES 1
#define IPC_BLK_SERIAL_MAX 20 /* VIRTIO_BLK_ID_BYTES */
#define IPC_BLK_F_READONLY 0x1
#define IPC_BLK_F_DIRECT 0x2

struct ipc_cfg_blk {
	struct ipc_hdr h;
	int32_t cb_disk_fd; /* the image, opened and locked by the supervisor */
	uint32_t cb_flags; /* IPC_BLK_F_* */
	uint64_t cb_size; /* image bytes, a multiple of 512; the device checks it with fstat */
	char cb_serial[IPC_BLK_SERIAL_MAX + 4]; /* NUL-terminated, printable, at most 20 bytes */
	uint32_t cb_pad;
};
_Static_assert(sizeof(struct ipc_cfg_blk) == 56, "ipc_cfg_blk size");
#define IPC_CFG_BLK_FDS { { "DISK_FD", offsetof(struct ipc_cfg_blk, cb_disk_fd), 0 } }

/* net: virtio-net over a TAP with a 12-byte vnet header. IN net. */
#define IPC_NET_VIRTIO_ID 1
#define IPC_NET_QUEUES 2 /* receive, transmit */

struct ipc_cfg_net {
	struct ipc_hdr h;
	int32_t cn_tap_fd; /* IFF_TAP | IFF_NO_PI | IFF_VNET_HDR */
	uint8_t cn_mac[6]; /* unicast */
	uint16_t cn_pad;
};
_Static_assert(sizeof(struct ipc_cfg_net) == 20, "ipc_cfg_net size");
#define IPC_CFG_NET_FDS { { "TAP_FD", offsetof(struct ipc_cfg_net, cn_tap_fd), 0 } }

/*
 * 9p: virtio-9p, a 9P2000.L server for one shared directory. The supervisor
 * opens the directory (O_PATH); the 9p process makes a bind mount of it its
 * root (jail.h: root_fd) and serves every request beneath it. IN 9p.
 */
#define IPC_9P_VIRTIO_ID 9
#define IPC_9P_QUEUES 1
#define IPC_9P_TAG_MAX 31 /* mount tag bytes: graphic ASCII, as QEMU allows */
#define IPC_9P_F_READONLY 0x1 /* readonly=on: a read-only bind mount, and EROFS for changes */

struct ipc_cfg_9p {
	struct ipc_hdr h;
	int32_t c9_root_fd; /* the shared directory, O_PATH | O_DIRECTORY */
	uint32_t c9_flags; /* IPC_9P_F_* */
	char c9_tag[IPC_9P_TAG_MAX + 1]; /* NUL-terminated, 1 to IPC_9P_TAG_MAX graphic bytes */
};
_Static_assert(sizeof(struct ipc_cfg_9p) == 48, "ipc_cfg_9p size");
#define IPC_CFG_9P_FDS { { "ROOT_FD", offsetof(struct ipc_cfg_9p, c9_root_fd), 0 } }

/* rng: virtio-rng, random bytes from getrandom(2); with a rate, a timerfd. IN rng. */
#define IPC_RNG_VIRTIO_ID 4
#define IPC_RNG_QUEUES 1
#define IPC_RNG_RATE_MAX (1ull << 40) /* bytes per second */

struct ipc_cfg_rng {
	struct ipc_hdr h;
	uint64_t rg_rate; /* bytes per second (token bucket), 0: unlimited; <= IPC_RNG_RATE_MAX */
	int32_t rg_timer_fd; /* with a rate: a timerfd (CLOCK_MONOTONIC, non-blocking); else none */
	uint32_t rg_pad;
};
_Static_assert(sizeof(struct ipc_cfg_rng) == 24, "ipc_cfg_rng size");
#define IPC_CFG_RNG_FDS { { "TIMER_FD", offsetof(struct ipc_cfg_rng, rg_timer_fd), 1 } }

/*
 * vsock: virtio-vsock with Firecracker's hybrid host side. The listening UNIX
 * socket at the configured path (made by the supervisor) for host programs;
 * connections the guest makes to the host go through the broker (CONNECT).
 * IN vsock.
 */
#define IPC_VSOCK_VIRTIO_ID 19
#define IPC_VSOCK_QUEUES 3 /* rx, tx, event */
#define IPC_VSOCK_CID_MIN 3 /* 0-2 are reserved, 2 is the host */
#define IPC_VSOCK_CID_MAX 0xfffffffeull /* the upper 32 bits are reserved; ~0u is "any" */

struct ipc_cfg_vsock {
	struct ipc_hdr h;
	uint64_t vs_cid; /* the guest's CID, IPC_VSOCK_CID_MIN..IPC_VSOCK_CID_MAX */
	int32_t vs_listen_fd; /* AF_UNIX SOCK_STREAM, listening */
	uint32_t vs_pad;
};
_Static_assert(sizeof(struct ipc_cfg_vsock) == 24, "ipc_cfg_vsock size");
#define IPC_CFG_VSOCK_FDS { { "LISTEN_FD", offsetof(struct ipc_cfg_vsock, vs_listen_fd), 0 } }

enum ipc_jail_mode {
	IPC_JAIL_FULL = 0,
	IPC_JAIL_NO_NAMESPACES = 1,
	IPC_JAIL_OFF = 2,
};

enum ipc_seccomp_mode {
	IPC_SECCOMP_KILL = 0,
	IPC_SECCOMP_LOG = 1,
	IPC_SECCOMP_OFF = 2,
};

#define IPC_JAIL_F_USERNS 0x1 /* the child is root of its own user namespace only */

/* IN child: how to lock down after bootstrap. */
struct ipc_cfg_jail {
	struct ipc_hdr h;
	uint32_t cj_mode; /* enum ipc_jail_mode */
	uint32_t cj_uid; /* never 0 */
	uint32_t cj_gid; /* never 0 */
	uint32_t cj_flags; /* IPC_JAIL_F_* */
	uint32_t cj_seccomp; /* enum ipc_seccomp_mode */
	int32_t cj_policy_fd; /* --seccomp-policy-dir: this process's policy file, or IPC_FD_NONE */
	int32_t cj_include_fd; /* and the common.policy it includes, or IPC_FD_NONE */
	uint32_t cj_pad;
};
_Static_assert(sizeof(struct ipc_cfg_jail) == 40, "ipc_cfg_jail size");

/* IN child: no body. Also used for IPC_START, IPC_STOP and IPC_READY. */
struct ipc_empty {
	struct ipc_hdr h;
};
_Static_assert(sizeof(struct ipc_empty) == 8, "ipc_empty size");

/* OUT child. */
struct ipc_error {
	struct ipc_hdr h;
	int32_t ie_errno; /* positive errno, or 0 */
	uint32_t ie_pad;
	char ie_text[IPC_TEXT_MAX]; /* NUL-terminated, one line */
};
_Static_assert(sizeof(struct ipc_error) == 256, "ipc_error size");

enum ipc_exit_reason {
	IPC_EXIT_RESET = 1, /* i8042 reset or KVM system reset: status 0 */
	IPC_EXIT_TRIPLE_FAULT = 2, /* KVM_EXIT_SHUTDOWN: status 0 */
	IPC_EXIT_POWEROFF = 3, /* ACPI sleep or KVM system shutdown: status 0 */
	IPC_EXIT_DEBUG = 4, /* debug-exit port: status (value << 1) | 1 */
	IPC_EXIT_ERROR = 5, /* the VM cannot go on (KVM error, unhandled exit, device gone) */
};

/* OUT vcpu. */
struct ipc_vm_exit {
	struct ipc_hdr h;
	uint32_t ve_reason; /* enum ipc_exit_reason */
	uint32_t ve_value; /* IPC_EXIT_DEBUG: the byte written */
	char ve_text[IPC_TEXT_MAX]; /* NUL-terminated, one line */
};
_Static_assert(sizeof(struct ipc_vm_exit) == 256, "ipc_vm_exit size");

/* What a device failed to do on its channel (IPC_DEV_FAILED). */
enum ipc_dev_failure {
	IPC_DEV_FAIL_DRAIN = 1, /* its channel stayed full for the deadline: it reads no writes */
	IPC_DEV_FAIL_ANSWER = 2, /* no reply within the deadline */
	IPC_DEV_FAIL_CLOSED = 3, /* its end of the channel is gone */
	IPC_DEV_FAIL_PROTOCOL = 4, /* a reply that is not one */
	IPC_DEV_FAIL_BUSY = 5, /* another vCPU's access to it did not end within the deadline */
};

/* OUT vcpu: the supervisor decides (ends the VM, or replaces the device). */
struct ipc_dev_failed {
	struct ipc_hdr h;
	char df_name[IPC_NAME_MAX]; /* the device, as in CFG_VCPU_DEV; NUL-terminated */
	uint32_t df_what; /* enum ipc_dev_failure */
	uint32_t df_write; /* the access that found it was a write */
	uint64_t df_offset; /* its offset in the window */
	uint32_t df_gen; /* which incarnation of it (0 first; one more at each VCPU_DEV_SWAP) */
	uint32_t df_pad;
};
_Static_assert(sizeof(struct ipc_dev_failed) == 48, "ipc_dev_failed size");

/* vcpu -> device. IO_READ and IO_WRITE_SYNC want an IO_REPLY with the same io_seq
 * (for IO_WRITE_SYNC sent once the write was applied, ir_data 0); IO_WRITE is posted. */
struct ipc_io {
	struct ipc_hdr h;
	uint32_t io_seq; /* increases by one per IO_READ or IO_WRITE_SYNC on the channel */
	uint8_t io_space; /* enum ipc_space */
	uint8_t io_size; /* 1, 2, 4 or 8 */
	uint16_t io_pad;
	uint64_t io_offset; /* offset from the window's base, < window length */
	uint64_t io_data; /* IO_WRITE, IO_WRITE_SYNC: value; IO_READ: 0 */
};
_Static_assert(sizeof(struct ipc_io) == 32, "ipc_io size");

/* device -> vcpu. */
struct ipc_io_reply {
	struct ipc_hdr h;
	uint32_t ir_seq; /* io_seq of the read it answers */
	uint32_t ir_pad;
	uint64_t ir_data;
};
_Static_assert(sizeof(struct ipc_io_reply) == 24, "ipc_io_reply size");

/*
 * Brokered host access (docs/security.md): a jailed device opens no path, so
 * a connection it needs at run time (vsock: the host listener at PATH_<port>)
 * it asks the supervisor for. The supervisor checks the request against the
 * configuration of the device's kind (kinds.h: connect), connects, and
 * answers CONNECT_REPLY: with cr_errno 0 and exactly one fd, a connected,
 * non-blocking stream socket (SCM_RIGHTS); otherwise with a positive errno and
 * no fd. Only a device whose kind has a broker may send CONNECT.
 */
#define IPC_ERRNO_MAX 4095

/* OUT device. */
struct ipc_connect {
	struct ipc_hdr h;
	uint32_t cq_seq; /* the device's own, echoed in the reply */
	uint32_t cq_port; /* what the kind maps to a host end */
};
_Static_assert(sizeof(struct ipc_connect) == 16, "ipc_connect size");

/* IN device: the only message that may carry an fd. */
struct ipc_connect_reply {
	struct ipc_hdr h;
	uint32_t cr_seq; /* cq_seq of the request it answers */
	int32_t cr_errno; /* 0: one fd came with it; else 1..IPC_ERRNO_MAX and no fd */
};
_Static_assert(sizeof(struct ipc_connect_reply) == 16, "ipc_connect_reply size");

/*
 * Pausing the guest: VCPU_PAUSE (IN vcpu) with vp_pause 1 stops every vCPU
 * (each leaves KVM_RUN and waits), with 0 lets them run again; VCPU_PAUSED
 * (OUT vcpu) says, with the same vp_pause, that it is done.
 */
struct ipc_vcpu_pause {
	struct ipc_hdr h;
	uint32_t vp_pause; /* 1: stop, 0: run */
	uint32_t vp_pad;
};
_Static_assert(sizeof(struct ipc_vcpu_pause) == 16, "ipc_vcpu_pause size");

/* IN vcpu: an eventfd the supervisor writes, to register as irqfd on ci_gsi (the
 * ACPI power button's Generic Event Device, LAYOUT_GED_GSI). */
struct ipc_cfg_vcpu_irq {
	struct ipc_hdr h;
	int32_t ci_fd;
	uint32_t ci_gsi;
};
_Static_assert(sizeof(struct ipc_cfg_vcpu_irq) == 16, "ipc_cfg_vcpu_irq size");

/*
 * The control socket (--api-socket; docs/architecture.md, "The API socket").
 * bulkhead-api holds the listening socket and parses HTTP and JSON; the
 * supervisor never does. The api process sends API_REQUEST, one at a time,
 * and the supervisor answers API_REPLY with the same sequence number. What a
 * SNAPSHOT describes is in the API page, a sealed memfd the supervisor writes
 * and the api process maps read-only: the supervisor fills it before it sends
 * the reply and not again before the next request, so the api process reads
 * it between the two without a lock. The configuration part of the page is
 * written once, before the api process starts.
 */
enum ipc_api_cmd {
	IPC_API_SNAPSHOT = 1, /* fill the page (aq_what says how much) */
	IPC_API_PAUSE = 2, /* stop every vCPU */
	IPC_API_RESUME = 3, /* let them run again */
	IPC_API_SHUTDOWN = 4, /* end the VM, exit status 0 */
	IPC_API_POWER_BUTTON = 5, /* press the ACPI power button */
	IPC_API_CMD_MAX = 6,
};
#define IPC_API_WHAT_PROCS 0x1 /* SNAPSHOT: every process's CPU time and memory */
#define IPC_API_WHAT_DEVS 0x2 /* SNAPSHOT: every device's counters */

/* OUT api. */
struct ipc_api_request {
	struct ipc_hdr h;
	uint32_t aq_seq; /* the api process's own, echoed */
	uint32_t aq_cmd; /* enum ipc_api_cmd */
	uint32_t aq_what; /* SNAPSHOT: IPC_API_WHAT_*; else 0 */
	uint32_t aq_pad;
};
_Static_assert(sizeof(struct ipc_api_request) == 24, "ipc_api_request size");

/* IN api. ar_errno: 0 done; EBUSY another command is under way; EALREADY the VM is
 * paused (PAUSE) or running (RESUME) already; EAGAIN it is starting or stopping;
 * ENODEV no power button (--acpi off); another errno: it failed. */
struct ipc_api_reply {
	struct ipc_hdr h;
	uint32_t ar_seq;
	uint32_t ar_cmd;
	int32_t ar_errno; /* positive, <= IPC_ERRNO_MAX */
	uint32_t ar_pad;
};
_Static_assert(sizeof(struct ipc_api_reply) == 24, "ipc_api_reply size");

/* IN api: its kind's configuration message. */
struct ipc_cfg_api {
	struct ipc_hdr h;
	int32_t ca_listen_fd; /* the listening UNIX stream socket, non-blocking */
	int32_t ca_page_fd; /* the API page: a sealed memfd of IPC_API_PAGE_SIZE */
	uint32_t ca_flags; /* IPC_API_F_* */
	uint32_t ca_pad;
};
_Static_assert(sizeof(struct ipc_cfg_api) == 24, "ipc_cfg_api size");
#define IPC_API_F_VERBOSE 0x1
#define IPC_CFG_API_FDS \
	{ { "LISTEN_FD", offsetof(struct ipc_cfg_api, ca_listen_fd), 0 }, \
	  { "PAGE_FD", offsetof(struct ipc_cfg_api, ca_page_fd), 0 } }

#define IPC_API_PAGE_SIZE (64 * 1024)
#define IPC_API_MAX_PROCS (LAYOUT_MAX_DEVICES + 3) /* the supervisor, vcpu, devices, spawner */
#define IPC_API_CONFIG_MAX (48 * 1024)

enum ipc_vm_state {
	IPC_VM_STARTING = 1, /* its processes are getting ready */
	IPC_VM_RUNNING = 2,
	IPC_VM_PAUSED = 3, /* every vCPU stopped */
	IPC_VM_STOPPING = 4, /* it is ending */
};

enum ipc_proc_state {
	IPC_PROC_STARTING = 1, /* spawned, not READY yet */
	IPC_PROC_RUNNING = 2,
	IPC_PROC_RESTARTING = 3, /* dead; its next incarnation is on the way */
	IPC_PROC_EXITED = 4,
};

/* One process of the VM, as the supervisor sees it. */
struct ipc_api_proc {
	char ap_name[IPC_NAME_MAX]; /* "supervisor", "vcpu", "blk0", "spawner" */
	char ap_kind[IPC_NAME_MAX]; /* "supervisor", "vcpu", "blk", "spawner" */
	int32_t ap_pid; /* in the host's PID namespace */
	uint32_t ap_state; /* enum ipc_proc_state */
	uint32_t ap_restarts; /* incarnations after its first */
	uint32_t ap_flags; /* IPC_API_PROC_F_* */
	uint64_t ap_cpu_ns; /* user and system time, all threads (/proc/PID/stat) */
	uint64_t ap_rss; /* bytes resident (/proc/PID/smaps_rollup) */
	uint64_t ap_pss; /* its proportional share of them */
	uint64_t ap_failed_ns; /* when it last failed, since launch (0: never) */
	char ap_failure[IPC_TEXT_MAX]; /* how, NUL-terminated; "" if it never failed */
};
_Static_assert(sizeof(struct ipc_api_proc) == 320, "ipc_api_proc size");
#define IPC_API_PROC_F_CPU 0x1 /* ap_cpu_ns was read */
#define IPC_API_PROC_F_MEM 0x2 /* ap_rss and ap_pss were read */

/* One device's counters (struct ipc_counters, read from its shadow page). */
struct ipc_api_dev {
	char ad_name[IPC_NAME_MAX];
	char ad_kind[IPC_NAME_MAX];
	uint32_t ad_restarts;
	uint32_t ad_flags; /* IPC_API_DEV_F_COUNTERS: ad_counters holds its figures */
	struct ipc_counters ad_counters;
};
_Static_assert(sizeof(struct ipc_api_dev) == 104, "ipc_api_dev size");
#define IPC_API_DEV_F_COUNTERS 0x1

/*
 * The configuration, as items of four NUL-terminated strings each: object,
 * key, type, value. Object "" is the VM itself, "device:NAME" one device
 * instance (its kind's option under key "option"), any other name a group
 * of the VM's options ("kernel", "memory"). Type "s" is a string, "n" an
 * unsigned decimal number, "b" a boolean ("0" or "1").
 */
struct ipc_api_page {
	uint32_t pg_seq; /* aq_seq of the request this snapshot answers */
	uint32_t pg_state; /* enum ipc_vm_state */
	uint64_t pg_uptime_ns; /* since bulkhead started */
	int32_t pg_pid; /* the supervisor's */
	uint32_t pg_flags; /* IPC_API_PG_F_* */
	uint32_t pg_nprocs; /* pg_procs[0 .. pg_nprocs) */
	uint32_t pg_ndevs; /* pg_devs[0 .. pg_ndevs) */
	char pg_name[IPC_NAME_MAX]; /* the VM's --name */
	char pg_version[IPC_NAME_MAX]; /* bulkhead's */
	struct ipc_api_proc pg_procs[IPC_API_MAX_PROCS];
	struct ipc_api_dev pg_devs[LAYOUT_MAX_DEVICES];
	uint32_t pg_config_len; /* bytes of pg_config */
	uint32_t pg_pad;
	char pg_config[IPC_API_CONFIG_MAX];
};
_Static_assert(sizeof(struct ipc_api_page) <= IPC_API_PAGE_SIZE, "the API page fits");
#define IPC_API_PG_F_ACPI 0x1 /* the guest has ACPI: the power button works */

/* A receiver's table row: a message of this type must be exactly size bytes
 * and may arrive only while the receiver's state bit is in states. */
struct ipc_handler {
	uint16_t type;
	uint32_t size;
	uint32_t states;
	int (*fn)(void *ctx, const void *msg);
};

/* ipc_init: fill the header of a message of the given type and size and zero the rest. */
void ipc_init(void *msg, enum ipc_type type, size_t size);
/* ipc_send: send one whole message on fd; 0 or -errno (-EPIPE when the peer is gone). */
int ipc_send(int fd, const void *msg) __attribute__((warn_unused_result));
/*
 * ipc_send_many: send n messages of size bytes each, laid out one after the
 * other at msgs, in order, with one system call (sendmmsg); how many went
 * (1..n), or -errno (-EAGAIN: none, the channel is full).
 */
int ipc_send_many(int fd, const void *msgs, size_t size, unsigned int n)
	__attribute__((warn_unused_result));
/* ipc_recv: receive one message into buf (IPC_MAX_MSG bytes); bytes, 0 on EOF, -errno;
 * -EMSGSIZE if it was longer than IPC_MAX_MSG; -EPROTO if it carried fds. */
ssize_t ipc_recv(int fd, void *buf) __attribute__((warn_unused_result));
/*
 * ipc_recv_fd: ipc_recv for a receiver that asked for a CONNECT_REPLY: the
 * message may carry one fd (SCM_RIGHTS), which lands in *got (else -1), and
 * only if the message's type is fd_type; any other fd, more than one, or an
 * fd with another type is closed and -EPROTO.
 */
ssize_t ipc_recv_fd(int fd, void *buf, uint16_t fd_type, int *got)
	__attribute__((warn_unused_result));
/* ipc_recv_fds: ipc_recv_fd for messages that carry 1 to max (<= IPC_MAX_FDS) fds: *n of them
 * land in got[]. */
ssize_t ipc_recv_fds(int fd, void *buf, uint16_t fd_type, int *got, size_t max, size_t *n)
	__attribute__((warn_unused_result));
/* ipc_send_fd: ipc_send with pass (an open fd) attached by SCM_RIGHTS; 0 or -errno. */
int ipc_send_fd(int fd, const void *msg, int pass) __attribute__((warn_unused_result));
/* ipc_send_fds: ipc_send with the n (1 .. IPC_MAX_FDS) fds pass[] attached; 0 or -errno. */
int ipc_send_fds(int fd, const void *msg, const int *pass, size_t n)
	__attribute__((warn_unused_result));
/* ipc_check: validate header of buf (len bytes) against table for state; the row or NULL with errno. */
const struct ipc_handler *ipc_check(const struct ipc_handler *table, size_t n, const void *buf,
				    size_t len, uint32_t state);
/* ipc_dispatch: ipc_check then call the row's handler; its result, or -EPROTO. */
int ipc_dispatch(const struct ipc_handler *table, size_t n, const void *buf, size_t len,
		 uint32_t state, void *ctx) __attribute__((warn_unused_result));
/* ipc_send_error: send IPC_ERROR with errno err and a formatted one-line text; best effort. */
void ipc_send_error(int fd, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ipc_str_ok: the fixed-size field s[n] holds a NUL-terminated printable string. */
int ipc_str_ok(const char *s, size_t n);
/* ipc_fd_ok: fd lies in the range messages may name. */
int ipc_fd_ok(int32_t fd);
/* ipc_type_name: a name for logs. */
const char *ipc_type_name(unsigned int type);

#endif
