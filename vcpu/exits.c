/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * KVM exit dispatch: a table of port and MMIO ranges to their owners (a
 * built-in handler or a device channel). Unclaimed reads return all ones and
 * unclaimed writes are dropped, as on a PC bus.
 *
 * Posted writes to a device without queues (the UART) are coalesced: they
 * wait in the channel's batch, which goes out as one IO_WRITE_BATCH when it
 * is full, before any other exit of the same vCPU (a read, a write elsewhere,
 * anything else), before any read of that device by any vCPU, and at the
 * latest VCPU_BATCH_MAX_AGE_NS after its first write: a per-thread timer
 * kicks the thread out of KVM_RUN, so a guest that halts or spins after a
 * write still has it delivered. Each device sees its writes in guest order.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "vcpu.h"

struct io_range;
typedef int (*io_read_fn)(struct vcpu *v, uint64_t off, unsigned int size, uint64_t *val);
typedef int (*io_write_fn)(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val);

struct builtin_port {
	uint16_t port;
	uint16_t len;
	io_read_fn read;
	io_write_fn write;
};

static void flush_all_channels(struct vm *vm);

/* The guest ends the VM: what any vCPU posted before reaches its device first. */
static void end_vm(struct vcpu *v, enum ipc_exit_reason reason, uint32_t value, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));
static void end_vm(struct vcpu *v, enum ipc_exit_reason reason, uint32_t value, const char *fmt,
		   ...)
{
	char text[IPC_TEXT_MAX];
	va_list ap;

	flush_all_channels(v->vm);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	vm_request_exit(v->vm, reason, value, "%s", text);
}

static int port_read_zero(struct vcpu *v, uint64_t off, unsigned int size, uint64_t *val)
{
	(void)v;
	(void)off;
	(void)size;
	*val = 0;
	return 0;
}

static int port_write_ignore(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)v;
	(void)off;
	(void)size;
	(void)val;
	return 0;
}

static int i8042_cmd_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)off;
	(void)size;
	if ((val & 0xff) != LAYOUT_I8042_RESET_CMD)
		return 0;
	end_vm(v, IPC_EXIT_RESET, 0, "guest reset through the i8042 (vcpu%u)", v->id);
	return 1;
}

static int debug_exit_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)off;
	(void)size;
	if (v->vm->cfg.cv_flags & IPC_VCPU_F_NO_DEBUG_EXIT)
		return 0; /* --debug-exit off: an unclaimed port, as in QEMU without isa-debug-exit */
	end_vm(v, IPC_EXIT_DEBUG, (uint32_t)(val & 0xff),
	       "guest wrote %u to the debug-exit port (vcpu%u)", (unsigned int)(val & 0xff), v->id);
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int boot_marker_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	uint64_t ns = now_ns() - v->vm->cfg.cv_launch_ns;

	(void)off;
	(void)size;
	log_info("boot marker 0x%02x from vcpu%u at %llu.%03llu ms since launch",
		 (unsigned int)(val & 0xff), v->id, (unsigned long long)(ns / 1000000),
		 (unsigned long long)(ns / 1000 % 1000));
	return 0;
}

/* ACPI hardware-reduced sleep control: (SLP_TYP << 2) | SLP_EN; \_S5 powers off. */
static int acpi_sleep_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	unsigned int typ = (unsigned int)(val >> 2) & 7;

	(void)off;
	(void)size;
	if (!(val & (1u << 5)) || typ != LAYOUT_ACPI_S5_TYPE)
		return 0;
	end_vm(v, IPC_EXIT_POWEROFF, 0, "guest powered off through ACPI (vcpu%u)", v->id);
	return 1;
}

static int acpi_reset_write(struct vcpu *v, uint64_t off, unsigned int size, uint64_t val)
{
	(void)off;
	(void)size;
	if ((val & 0xff) != LAYOUT_ACPI_RESET_VALUE)
		return 0;
	end_vm(v, IPC_EXIT_RESET, 0, "guest reset through the ACPI reset register (vcpu%u)", v->id);
	return 1;
}

static const struct builtin_port builtin_ports[] = {
	{ LAYOUT_ACPI_SLEEP_CTL_PORT, 1, port_read_zero, acpi_sleep_write },
	{ LAYOUT_ACPI_SLEEP_STS_PORT, 1, port_read_zero, port_write_ignore },
	{ LAYOUT_ACPI_RESET_PORT, 1, port_read_zero, acpi_reset_write },
	{ LAYOUT_I8042_DATA_PORT, 1, port_read_zero, port_write_ignore },
	{ LAYOUT_I8042_CMD_PORT, 1, port_read_zero, i8042_cmd_write },
	{ LAYOUT_DEBUG_EXIT_PORT, 1, port_read_zero, debug_exit_write },
	{ LAYOUT_BOOT_MARKER_PORT, 1, port_read_zero, boot_marker_write },
	{ LAYOUT_POST_PORT, 1, port_read_zero, port_write_ignore },
};

static struct dev_chan *dev_find(struct vm *vm, uint32_t space, uint64_t addr, unsigned int size)
{
	for (unsigned int i = 0; i < vm->ndevs; i++) {
		struct dev_chan *d = &vm->devs[i];

		if (d->space == space && addr >= d->base && addr - d->base < d->len &&
		    size <= d->len - (addr - d->base))
			return d;
	}
	return NULL;
}

/*
 * How long to poll for d's replies before sleeping follows how long its last
 * reply took: one that came while polling keeps the window; one that came
 * within VCPU_REPLY_SPIN_GROW_NS, though the thread slept, doubles it; a
 * slower one (a busy device, or a host short of CPUs) halves it, and below
 * VCPU_REPLY_SPIN_MIN_NS polling is off. d->lock held.
 */
static void reply_spin_adjust(struct dev_chan *d, uint64_t waited_ns)
{
	if (waited_ns <= d->spin_ns)
		return;
	if (waited_ns > VCPU_REPLY_SPIN_GROW_NS) {
		d->spin_ns /= 2;
		if (d->spin_ns < VCPU_REPLY_SPIN_MIN_NS)
			d->spin_ns = 0;
	} else if (d->spin_ns == 0) {
		d->spin_ns = VCPU_REPLY_SPIN_MIN_NS;
	} else {
		d->spin_ns *= 2;
		if (d->spin_ns > VCPU_REPLY_SPIN_MAX_NS)
			d->spin_ns = VCPU_REPLY_SPIN_MAX_NS;
	}
}

static int reply_poll(const struct dev_chan *d, int timeout_ms)
{
	struct pollfd p = { .fd = d->fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/*
 * Wait for a device's reply. Poll without sleeping for a while first: a
 * device answers a register read in tens of microseconds, and a thread that
 * sleeps waits 20-30 us more for its halted host CPU to wake. d->lock held.
 */
static int dev_reply_wait(struct dev_chan *d, uint64_t sent_ns)
{
	int n = 0;

	while (VCPU_REPLY_SPIN && n == 0 && d->spin_ns && now_ns() - sent_ns < d->spin_ns) {
		n = reply_poll(d, 0);
		if (n == 0)
			sched_yield(); /* the device may be queued on this CPU (a sync wake-up) */
	}
	if (n == 0)
		n = reply_poll(d, VCPU_REPLY_TIMEOUT_MS);
	if (n < 0)
		return n;
	if (n == 0)
		return -ETIMEDOUT;
	reply_spin_adjust(d, now_ns() - sent_ns);
	return 0;
}

static int dev_read_locked(struct dev_chan *d, struct ipc_io *req, uint64_t *val)
{
	union {
		struct ipc_io_reply r;
		char buf[IPC_MAX_MSG];
	} u;
	ssize_t n;
	int err;

	req->io_seq = ++d->seq;
	err = ipc_send(d->fd, req);
	if (err < 0)
		return err;
	err = dev_reply_wait(d, now_ns());
	if (err < 0)
		return err;
	n = ipc_recv(d->fd, u.buf);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n != sizeof(u.r) || u.r.h.ih_version != IPC_VERSION ||
	    u.r.h.ih_type != IPC_IO_REPLY || u.r.h.ih_size != n || u.r.ir_seq != d->seq)
		return -EPROTO;
	*val = u.r.ir_data;
	return 0;
}

/* Send d's batch, if it holds anything, and start an empty one. d->lock held. */
static int batch_send_locked(struct dev_chan *d)
{
	int err;

	if (d->batch.ib_count == 0)
		return 0;
	err = ipc_send(d->fd, &d->batch);
	if (err == 0)
		d->posted += d->batch.ib_count;
	ipc_init(&d->batch, IPC_IO_WRITE_BATCH, sizeof(d->batch));
	return err;
}

/* Arm (on) or disarm v's flush timer; if that fails, v batches no more. */
static int flush_timer_set(struct vcpu *v, int on)
{
	struct itimerspec t = { .it_value.tv_nsec = on ? VCPU_BATCH_MAX_AGE_NS : 0 };

	if (v->flush_timer_armed == on)
		return 0;
	if (timer_settime(v->flush_timer, 0, &t, NULL) < 0) {
		log_warn("vcpu%u: timer_settime: posted writes go one by one from now", v->id);
		v->has_flush_timer = 0;
		return -1;
	}
	v->flush_timer_armed = on;
	return 0;
}

static int dev_failed(struct vcpu *v, const struct dev_chan *d, const char *what, uint64_t addr,
		      int err)
{
	vm_request_exit(v->vm, IPC_EXIT_ERROR, 0, "device %s did not answer a %s at 0x%llx: %s",
			d->name, what, (unsigned long long)addr, strerror(-err));
	return 1;
}

int exits_flush(struct vcpu *v)
{
	struct dev_chan *d = v->batch_dev;
	int err;

	if (!d)
		return 0;
	v->batch_dev = NULL;
	(void)flush_timer_set(v, 0);
	pthread_mutex_lock(&d->lock);
	err = batch_send_locked(d);
	pthread_mutex_unlock(&d->lock);
	return err < 0 ? dev_failed(v, d, "write", d->base, err) : 0;
}

/* Best effort: the VM is ending, and a device that is gone changes nothing. */
static void flush_all_channels(struct vm *vm)
{
	for (unsigned int i = 0; i < vm->ndevs; i++) {
		pthread_mutex_lock(&vm->devs[i].lock);
		(void)!batch_send_locked(&vm->devs[i]);
		pthread_mutex_unlock(&vm->devs[i].lock);
	}
}

/*
 * Whether posted writes to d may wait in a batch. A virtio device also hears
 * from the guest through its ioeventfds, which do not pass through here: a
 * register write held back could be overtaken by the kick that follows it.
 */
static int dev_batches(const struct vcpu *v, const struct dev_chan *d)
{
	return d->nqueues == 0 && v->has_flush_timer;
}

static int batch_add(struct vcpu *v, struct dev_chan *d, uint64_t off, unsigned int size,
		     uint64_t val)
{
	struct ipc_io_write *w;
	int err = 0, full;

	if (v->batch_dev != d && exits_flush(v))
		return 1;
	pthread_mutex_lock(&d->lock);
	if (d->batch.ib_count == 0) {
		ipc_init(&d->batch, IPC_IO_WRITE_BATCH, sizeof(d->batch));
		d->batch.ib_space = (uint8_t)d->space;
	}
	w = &d->batch.ib_writes[d->batch.ib_count++];
	w->iw_offset = off;
	w->iw_size = (uint8_t)size;
	w->iw_data = val;
	full = d->batch.ib_count == IPC_IO_BATCH_MAX;
	if (full)
		err = batch_send_locked(d);
	pthread_mutex_unlock(&d->lock);
	if (err < 0)
		return dev_failed(v, d, "write", d->base + off, err);
	if (full) {
		v->batch_dev = NULL;
		(void)flush_timer_set(v, 0);
		return 0;
	}
	v->batch_dev = d;
	return flush_timer_set(v, 1) < 0 ? exits_flush(v) : 0;
}

static int shadow_reg_read(const struct ipc_shadow *sh, uint64_t off, unsigned int size,
			   uint64_t *val)
{
	uint64_t valid;

	if (size != 4 || off % 4 || off / 4 >= IPC_SHADOW_REGS)
		return 0;
	valid = __atomic_load_n(&sh->sh_regs_valid, __ATOMIC_ACQUIRE);
	if (!(valid & (1ull << (off / 4))))
		return 0;
	*val = __atomic_load_n(&sh->sh_regs[off / 4], __ATOMIC_ACQUIRE);
	return 1;
}

static int shadow_config_read(const struct ipc_shadow *sh, uint64_t cfg, unsigned int size,
			      uint64_t *val)
{
	uint32_t len = __atomic_load_n(&sh->sh_config_len, __ATOMIC_ACQUIRE);
	uint64_t v = 0;

	if (len > IPC_SHADOW_CONFIG_MAX)
		len = IPC_SHADOW_CONFIG_MAX;
	if (size > 8 || cfg >= len || size > len - cfg)
		return 0;
	for (unsigned int i = 0; i < size; i++)
		v |= (uint64_t)__atomic_load_n(&sh->sh_config[cfg + i], __ATOMIC_RELAXED) << (8 * i);
	*val = v;
	return 1;
}

/*
 * Answer a register read from d's shadow, if it has one and the device has
 * applied every write posted on the channel (else a value there may predate
 * one of them): 1 with *val set, 0 to forward the read. The shadow is the
 * device's to write, so nothing in it is trusted beyond what the device could
 * answer anyway: fixed fields, indexes bounded here. d->lock held.
 */
static int shadow_read(const struct dev_chan *d, uint64_t off, unsigned int size, uint64_t *val)
{
	const struct ipc_shadow *sh = d->shadow;

	if (!sh || __atomic_load_n(&sh->sh_applied, __ATOMIC_ACQUIRE) != d->posted)
		return 0;
	if (off < IPC_SHADOW_CONFIG_OFF)
		return shadow_reg_read(sh, off, size, val);
	return shadow_config_read(sh, off - IPC_SHADOW_CONFIG_OFF, size, val);
}

#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070

/*
 * A posted InterruptACK could clear the bit of an interrupt the device raised
 * after the guest wrote the ACK but before the device applied it: the guest
 * then finds InterruptStatus 0 on that interrupt and never sees its used
 * buffers (a lost interrupt). So the ACK is made synchronous: a forwarded read
 * of Status (no side effect) returns only once the device applied the ACK.
 */
static int ack_must_wait(const struct dev_chan *d, uint64_t off)
{
	return d->space == IPC_SPACE_MMIO && d->nqueues > 0 &&
	       off == VIRTIO_MMIO_INTERRUPT_ACK;
}

/* Forward one access to a device; reads wait for the reply, writes are posted. */
static int dev_access(struct vcpu *v, struct dev_chan *d, int is_write, uint64_t addr,
		      unsigned int size, uint64_t *val)
{
	struct ipc_io req;
	int err;

	if (is_write && dev_batches(v, d))
		return batch_add(v, d, addr - d->base, size, *val);
	if (exits_flush(v))
		return 1;
	ipc_init(&req, is_write ? IPC_IO_WRITE : IPC_IO_READ, sizeof(req));
	req.io_space = (uint8_t)d->space;
	req.io_size = (uint8_t)size;
	req.io_offset = addr - d->base;
	req.io_data = is_write ? *val : 0;
	pthread_mutex_lock(&d->lock);
	/* Writes other vCPUs posted to d come before this access. */
	err = batch_send_locked(d);
	if (err == 0 && is_write) {
		err = ipc_send(d->fd, &req);
		d->posted += err == 0;
		if (err == 0 && ack_must_wait(d, req.io_offset)) {
			uint64_t status;

			req.h.ih_type = IPC_IO_READ;
			req.io_offset = VIRTIO_MMIO_STATUS;
			req.io_size = 4;
			req.io_data = 0;
			err = dev_read_locked(d, &req, &status);
		}
	} else if (err == 0 && !shadow_read(d, req.io_offset, size, val)) {
		err = dev_read_locked(d, &req, val);
	}
	pthread_mutex_unlock(&d->lock);
	if (err < 0)
		return dev_failed(v, d, is_write ? "write" : "read", addr, err);
	return 0;
}

static uint64_t size_mask(unsigned int size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static int pio_one(struct vcpu *v, uint16_t port, unsigned int size, int is_write, uint8_t *data)
{
	uint64_t val = 0;
	struct dev_chan *d;
	int stop = 0;

	if (is_write)
		memcpy(&val, data, size);
	for (size_t i = 0; i < nitems(builtin_ports); i++) {
		const struct builtin_port *b = &builtin_ports[i];

		if (port < b->port || port - b->port >= b->len)
			continue;
		if (exits_flush(v))
			return 1;
		if (is_write)
			return b->write(v, port - b->port, size, val);
		stop = b->read(v, port - b->port, size, &val);
		memcpy(data, &val, size);
		return stop;
	}
	d = dev_find(v->vm, IPC_SPACE_PIO, port, size);
	if (d) {
		stop = dev_access(v, d, is_write, port, size, &val);
	} else if (exits_flush(v)) {
		return 1;
	} else if (!is_write) {
		val = size_mask(size);
		log_debug("vcpu%u: read of unclaimed port 0x%x", v->id, port);
	}
	if (!is_write)
		memcpy(data, &val, size);
	return stop;
}

static int exit_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned int size = run->io.size;
	int is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	if (size != 1 && size != 2 && size != 4)
		return 0;
	/* KVM keeps data inside the kvm_run mapping; check anyway before using it. */
	if (run->io.data_offset > v->run_size ||
	    (uint64_t)run->io.count * size > v->run_size - run->io.data_offset)
		return 0;
	for (uint32_t i = 0; i < run->io.count; i++) {
		if (pio_one(v, run->io.port, size, is_write, data + (size_t)i * size))
			return 1;
	}
	return 0;
}

static int exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned int size = run->mmio.len;
	uint64_t addr = run->mmio.phys_addr;
	struct dev_chan *d;
	uint64_t val = 0;
	int stop = 0;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return 0;
	if (run->mmio.is_write)
		memcpy(&val, run->mmio.data, size);
	d = dev_find(v->vm, IPC_SPACE_MMIO, addr, size);
	if (d) {
		stop = dev_access(v, d, run->mmio.is_write, addr, size, &val);
	} else if (exits_flush(v)) {
		return 1;
	} else if (!run->mmio.is_write) {
		val = size_mask(size);
		log_debug("vcpu%u: read of unclaimed MMIO 0x%llx", v->id, (unsigned long long)addr);
	}
	if (!run->mmio.is_write)
		memcpy(run->mmio.data, &val, size);
	return stop;
}

static int exit_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char bytes[3 * 16 + 1] = "";
	struct kvm_regs r = { 0 };

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned int n = run->emulation_failure.insn_size;

		if (n > 15)
			n = 15;
		for (unsigned int i = 0; i < n; i++)
			snprintf(bytes + 3 * i, sizeof(bytes) - 3 * i, " %02x",
				 run->emulation_failure.insn_bytes[i]);
	}
	cpu_dump(v);
	(void)!ioctl(v->fd, KVM_GET_REGS, &r);
	vm_request_exit(v->vm, IPC_EXIT_ERROR, 0,
			"vcpu%u: KVM internal error, suberror %u%s at rip 0x%llx%s%s", v->id,
			run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "",
			(unsigned long long)r.rip, bytes[0] ? ", instruction:" : "", bytes);
	return 1;
}

static int exit_rip_error(struct vcpu *v, const char *what)
{
	struct kvm_regs r = { 0 };

	cpu_dump(v);
	(void)!ioctl(v->fd, KVM_GET_REGS, &r);
	vm_request_exit(v->vm, IPC_EXIT_ERROR, 0, "vcpu%u: %s at rip 0x%llx", v->id, what,
			(unsigned long long)r.rip);
	return 1;
}

static int exit_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		end_vm(v, IPC_EXIT_POWEROFF, 0, "guest powered off (vcpu%u)", v->id);
		return 1;
	case KVM_SYSTEM_EVENT_RESET:
		end_vm(v, IPC_EXIT_RESET, 0, "guest reset (vcpu%u)", v->id);
		return 1;
	default:
		return exit_rip_error(v, "guest crash system event");
	}
}

int exits_handle(struct vcpu *v)
{
	char what[64];

	if (v->run->exit_reason == KVM_EXIT_IO)
		return exit_io(v);
	if (v->run->exit_reason == KVM_EXIT_MMIO)
		return exit_mmio(v);
	if (exits_flush(v))
		return 1;
	switch (v->run->exit_reason) {
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		end_vm(v, IPC_EXIT_TRIPLE_FAULT, 0, "guest triple fault (vcpu%u)", v->id);
		return 1;
	case KVM_EXIT_SYSTEM_EVENT:
		return exit_system_event(v);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal_error(v);
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM entry failure, reason 0x%llx",
			 (unsigned long long)v->run->fail_entry.hardware_entry_failure_reason);
		return exit_rip_error(v, what);
	default:
		snprintf(what, sizeof(what), "unhandled KVM exit reason %u", v->run->exit_reason);
		return exit_rip_error(v, what);
	}
}

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid /* glibc before 2.41 does not name it */
#endif

int exits_thread_init(struct vcpu *v)
{
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1 };

	if (!VCPU_BATCH_WRITES)
		return 0;

	ev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &ev, &v->flush_timer) < 0)
		return -errno;
	v->has_flush_timer = 1;
	return 0;
}
