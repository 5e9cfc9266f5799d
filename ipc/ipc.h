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
 *
 * Channels:
 *   supervisor <-> child: CFG_* (IN to child), DONE, START, STOP;
 *                         READY, ERROR, VM_EXIT (OUT of child)
 *   vcpu <-> device:      IO_READ, IO_WRITE, IO_WRITE_BATCH (vcpu to device),
 *                         IO_REPLY (device to vcpu)
 */
#ifndef BULKHEAD_IPC_IPC_H
#define BULKHEAD_IPC_IPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IPC_VERSION 1
#define IPC_MAX_MSG 512 /* no message is larger; receivers read into this much */
#define IPC_NAME_MAX 16
#define IPC_TEXT_MAX 240
#define IPC_MAX_QUEUES 4
#define IPC_MAX_DEVICES 20
#define IPC_FD_MIN 3
#define IPC_FD_MAX 1023 /* fd numbers named in messages lie in [IPC_FD_MIN, IPC_FD_MAX] */
#define IPC_FD_NONE (-1)

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
	IPC_CFG_DEVICE = 4, /* IN device: its own fds and identity */
	IPC_CFG_DONE = 5, /* IN child: bootstrap complete; lock down and answer READY */
	IPC_START = 6, /* IN vcpu: run the guest */
	IPC_STOP = 7, /* IN child: stop, flush, exit 0 */
	IPC_READY = 8, /* OUT child: locked down and serving */
	IPC_ERROR = 9, /* OUT child: it failed and is about to exit */
	IPC_VM_EXIT = 10, /* OUT vcpu: the guest ended, or the VM cannot go on */
	IPC_IO_READ = 11, /* vcpu -> device: register read, wants IO_REPLY */
	IPC_IO_WRITE = 12, /* vcpu -> device: register write, posted (no reply) */
	IPC_IO_REPLY = 13, /* device -> vcpu: value of an IO_READ */
	IPC_CFG_BLK = 14, /* IN blk: image size, flags, serial */
	IPC_CFG_NET = 15, /* IN net: MAC */
	IPC_CFG_JAIL = 16, /* IN child: jail and seccomp settings */
	IPC_IO_WRITE_BATCH = 17, /* vcpu -> device: consecutive register writes, posted */
	IPC_TYPE_MAX = 18,
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
};
_Static_assert(sizeof(struct ipc_cfg_vcpu) == 88, "ipc_cfg_vcpu size");
#define IPC_VCPU_F_VERBOSE 0x1
#define IPC_VCPU_F_NO_PIT 0x2 /* --pit off */
#define IPC_VCPU_F_NO_DEBUG_EXIT 0x4 /* --debug-exit off: writes to port 0xf4 are ignored */

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
};
_Static_assert(sizeof(struct ipc_cfg_vcpu_dev) == 88, "ipc_cfg_vcpu_dev size");
#define IPC_VCPU_DEV_F_SHADOW 0x1 /* answer reads from cd_shadow_fd while it is current */

enum ipc_dev_kind {
	IPC_DEV_SERIAL = 1,
	IPC_DEV_BLK = 2,
	IPC_DEV_NET = 3,
};

/* IN device process. */
struct ipc_cfg_device {
	struct ipc_hdr h;
	char cd_name[IPC_NAME_MAX]; /* NUL-terminated */
	uint32_t cd_kind; /* enum ipc_dev_kind; must match the executable */
	uint32_t cd_flags; /* IPC_DEV_F_* */
	int32_t cd_chan_fd; /* SOCK_SEQPACKET to the vcpu process */
	int32_t cd_irq_fd; /* eventfd: writing it raises the device's GSI */
	int32_t cd_in_fd; /* serial: console input or IPC_FD_NONE; blk: image; net: TAP */
	int32_t cd_out_fd; /* serial: console output or IPC_FD_NONE */
	uint64_t cd_base; /* first port or guest-physical address of the window */
	uint32_t cd_nqueues;
	int32_t cd_queue_fd[IPC_MAX_QUEUES]; /* ioeventfds, one per queue */
	int32_t cd_shadow_fd; /* with IPC_DEV_F_SHADOW: the register shadow to keep current */
};
_Static_assert(sizeof(struct ipc_cfg_device) == 80, "ipc_cfg_device size");
#define IPC_DEV_F_VERBOSE 0x1
#define IPC_DEV_F_SHADOW 0x2 /* cd_shadow_fd is set (virtio devices) */

/*
 * The register shadow: one sealed memfd page per virtio device, written by the
 * device process (MAP_SHARED read-write) and read by the vcpu process (PROT_READ),
 * which answers a register read from it instead of forwarding it while
 * sh_applied equals the number of register writes it has posted on the channel.
 * The device stores values before sh_applied (release) and publishes a register
 * its own work changes before it acts on it (InterruptStatus before the irqfd).
 * Hostile input to the vcpu process: every index is bounded by the constants here.
 */
#define IPC_SHADOW_SIZE 4096 /* the memfd's exact size */
#define IPC_SHADOW_REGS 64 /* 32-bit registers at window offsets 0, 4, ... 0xfc */
#define IPC_SHADOW_CONFIG_OFF 0x100 /* window offset of sh_config[0] */
#define IPC_SHADOW_CONFIG_MAX 256

struct ipc_shadow {
	uint32_t sh_applied; /* register writes applied from the channel (wraps) */
	uint32_t sh_pad;
	uint64_t sh_regs_valid; /* bit i: aligned 32-bit reads at offset 4i read sh_regs[i] */
	uint32_t sh_regs[IPC_SHADOW_REGS];
	uint32_t sh_config_len; /* bytes of sh_config readable at any width (<= CONFIG_MAX) */
	uint32_t sh_pad2;
	uint8_t sh_config[IPC_SHADOW_CONFIG_MAX];
};
_Static_assert(sizeof(struct ipc_shadow) == 536, "ipc_shadow size");
_Static_assert(sizeof(struct ipc_shadow) <= IPC_SHADOW_SIZE, "ipc_shadow fits its page");

#define IPC_BLK_SERIAL_MAX 20 /* VIRTIO_BLK_ID_BYTES */
#define IPC_BLK_F_READONLY 0x1
#define IPC_BLK_F_DIRECT 0x2

/* IN blk. */
struct ipc_cfg_blk {
	struct ipc_hdr h;
	uint64_t cb_size; /* image bytes, a multiple of 512; the device checks it with fstat */
	uint32_t cb_flags; /* IPC_BLK_F_* */
	char cb_serial[IPC_BLK_SERIAL_MAX + 4]; /* NUL-terminated, printable, at most 20 bytes */
	uint32_t cb_pad;
};
_Static_assert(sizeof(struct ipc_cfg_blk) == 48, "ipc_cfg_blk size");

/* IN net. */
struct ipc_cfg_net {
	struct ipc_hdr h;
	uint8_t cn_mac[6]; /* unicast */
	uint16_t cn_pad;
};
_Static_assert(sizeof(struct ipc_cfg_net) == 16, "ipc_cfg_net size");

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

/* vcpu -> device. IO_READ wants an IO_REPLY with the same io_seq; IO_WRITE is posted. */
struct ipc_io {
	struct ipc_hdr h;
	uint32_t io_seq; /* increases by one per IO_READ on the channel */
	uint8_t io_space; /* enum ipc_space */
	uint8_t io_size; /* 1, 2, 4 or 8 */
	uint16_t io_pad;
	uint64_t io_offset; /* offset from the window's base, < window length */
	uint64_t io_data; /* IO_WRITE: value; IO_READ: 0 */
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

#define IPC_IO_BATCH_MAX 16 /* writes in one IO_WRITE_BATCH: a 16550A's transmit FIFO */

/* One write of an IO_WRITE_BATCH. */
struct ipc_io_write {
	uint64_t iw_offset; /* offset from the window's base, < window length */
	uint64_t iw_data;
	uint8_t iw_size; /* 1, 2, 4 or 8 */
	uint8_t iw_pad[7];
};
_Static_assert(sizeof(struct ipc_io_write) == 24, "ipc_io_write size");

/* vcpu -> device: ib_count posted writes to one window, to be applied in order
 * as if each had come in an IO_WRITE. Writes past ib_count are all zero. */
struct ipc_io_batch {
	struct ipc_hdr h;
	uint8_t ib_space; /* enum ipc_space of every write */
	uint8_t ib_count; /* 1 .. IPC_IO_BATCH_MAX */
	uint16_t ib_pad;
	uint32_t ib_pad2;
	struct ipc_io_write ib_writes[IPC_IO_BATCH_MAX];
};
_Static_assert(sizeof(struct ipc_io_batch) == 400, "ipc_io_batch size");
_Static_assert(sizeof(struct ipc_io_batch) <= IPC_MAX_MSG, "ipc_io_batch fits IPC_MAX_MSG");

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
/* ipc_recv: receive one message into buf (IPC_MAX_MSG bytes); bytes, 0 on EOF, -errno;
 * -EMSGSIZE if it was longer than IPC_MAX_MSG; -EPROTO if it carried fds. */
ssize_t ipc_recv(int fd, void *buf) __attribute__((warn_unused_result));
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
/* ipc_io_batch_ok: b's count is in range, each write is of a valid size inside a window of
 * space and window_len bytes, and the unused writes are zero. */
int ipc_io_batch_ok(const struct ipc_io_batch *b, uint32_t space, uint64_t window_len);
/* ipc_fd_ok: fd lies in the range messages may name. */
int ipc_fd_ok(int32_t fd);
/* ipc_type_name: a name for logs. */
const char *ipc_type_name(unsigned int type);

#endif
