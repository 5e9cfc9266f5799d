/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device channels as the vCPU threads use them. A device process is less
 * privileged than this one and may be compromised or stuck, so nothing here
 * waits for it without a deadline: the channel is non-blocking, a posted
 * write that finds it full waits for room, a read for its reply, and a vCPU
 * for another vCPU's access to the same device, each at most IPC_DEADLINE_MS
 * from the start of the access. A device that misses the deadline, or closes
 * its channel, is reported to the supervisor (DEV_FAILED, through the main
 * thread), which decides what happens to the VM; the vCPU that found it
 * stops. Waits are cut into slices so that a stop is never held up.
 *
 * A posted write the device's shadow keeps (one that changes nothing the
 * shadow answers: the UART's THR as a console writes it), to a device without
 * queues, is held, and the held writes go out together, in order, with one
 * sendmmsg: when one more finds VCPU_HOLD_MAX held, before anything else goes
 * to that device, at the next exit of any vCPU once the first was held
 * VCPU_HOLD_NS ago, from the main thread once that long has passed (a guest
 * that halts after a write), before the guest's end is reported, and once the
 * vCPU threads are joined, however the VM ends (chan_drain). So the device
 * wakes once per line of console output instead of once per byte, and never
 * waits for more than VCPU_HOLD_NS; the guest cannot tell (the shadow answers
 * its reads as if they had been applied). Held writes count as posted once
 * sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "vcpu.h"

#define SLICE_MS 100 /* the longest a wait goes without looking at vm->stop */

_Static_assert(VCPU_HOLD_MAX <= IPC_SEND_MANY_MAX, "held writes go in one sendmmsg");

static int stopping(const struct vm *vm)
{
	return __atomic_load_n(&vm->stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&vm->draining, __ATOMIC_ACQUIRE);
}

/* Milliseconds until deadline (ns, CLOCK_MONOTONIC), at most SLICE_MS; 0 when past. */
static int slice_ms(uint64_t deadline)
{
	uint64_t now = now_ns(), left;

	if (now >= deadline)
		return 0;
	left = (deadline - now + 999999) / 1000000;
	return left > SLICE_MS ? SLICE_MS : (int)left;
}

static uint64_t width_mask(unsigned int size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/*
 * Every write posted since the last one the shadow did not keep is applied
 * (sh_applied between d->settled and d->posted; a device that counts past
 * what it was sent is not believed).
 */
static int shadow_settled(const struct dev_chan *d)
{
	uint32_t applied = __atomic_load_n(&d->shadow->sh_applied, __ATOMIC_ACQUIRE);

	return applied - d->settled <= d->posted - d->settled;
}

static int shadow_reg_read(const struct dev_chan *d, uint64_t off, unsigned int size,
			   uint64_t *val)
{
	const struct ipc_shadow *sh = d->shadow;
	uint64_t valid, i;

	if (size != d->shadow_width || off % size || off / size >= d->shadow_regs)
		return 0;
	i = off / size;
	valid = __atomic_load_n(&sh->sh_regs_valid, __ATOMIC_ACQUIRE);
	if (!(valid & (1ull << i)))
		return 0;
	*val = __atomic_load_n(&sh->sh_regs[i], __ATOMIC_ACQUIRE) & width_mask(size);
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
 * applied every write posted on the channel but those its shadow said, when
 * they were posted, change nothing it holds (else a value there may predate
 * one of them): 1 with *val set, 0 to forward the read. The shadow is the
 * device's to write, so nothing in it is trusted beyond what the device could
 * answer anyway: fixed fields, indexes bounded here. d->lock held.
 */
static int shadow_read(const struct dev_chan *d, uint64_t off, unsigned int size, uint64_t *val)
{
	const struct ipc_shadow *sh = d->shadow;

	if (!sh || !shadow_settled(d))
		return 0;
	if (d->shadow_config_off && off >= d->shadow_config_off)
		return shadow_config_read(sh, off - d->shadow_config_off, size, val);
	return shadow_reg_read(d, off, size, val);
}

/*
 * Whether a write of val about to be posted leaves the shadow as it is
 * (sh_keeps, or sh_keeps_same when val is what the register reads now):
 * asked only while the shadow is settled, so that the masks and values are
 * those of the state the write will be applied in. d->lock held.
 */
static int shadow_keeps(const struct dev_chan *d, uint64_t off, unsigned int size, uint64_t val)
{
	const struct ipc_shadow *sh = d->shadow;
	uint64_t i, valid;

	if (!sh || size != d->shadow_width || off % size || !shadow_settled(d))
		return 0;
	i = off / size;
	if (i >= d->shadow_regs || i >= 32)
		return 0;
	if ((__atomic_load_n(&sh->sh_keeps, __ATOMIC_ACQUIRE) >> i) & 1)
		return 1;
	if (!((__atomic_load_n(&sh->sh_keeps_same, __ATOMIC_ACQUIRE) >> i) & 1))
		return 0;
	valid = __atomic_load_n(&sh->sh_regs_valid, __ATOMIC_ACQUIRE);
	return (valid >> i) & 1 &&
	       (__atomic_load_n(&sh->sh_regs[i], __ATOMIC_ACQUIRE) & width_mask(size)) ==
		       (val & width_mask(size));
}

/*
 * Whether a write to off must wait until the device applied it. The device's
 * kind says which (virtio's InterruptACK: a posted ACK could clear the bit of
 * an interrupt the device raised after the guest wrote the ACK but before the
 * device applied it, and the guest would never see its used buffers).
 */
static int write_is_sync(const struct dev_chan *d, uint64_t off)
{
	for (uint32_t i = 0; i < d->nsync; i++) {
		if (d->sync_off[i] == off)
			return 1;
	}
	return 0;
}

/* Wait until d's channel is ready for events: 0, -ETIMEDOUT, -ECANCELED (a stop) or -errno. */
static int chan_wait(const struct vm *vm, const struct dev_chan *d, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = d->fd, .events = events };
		int ms = slice_ms(deadline);
		int n;

		if (stopping(vm))
			return -ECANCELED;
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0; /* ready, or an error the call that follows reports */
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0 && ms == 0)
			return -ETIMEDOUT;
	}
}

/* Send msg, waiting for room until deadline. d->lock held. */
static int chan_send(const struct vm *vm, struct dev_chan *d, const void *msg, uint64_t deadline,
		     enum ipc_dev_failure *why)
{
	for (;;) {
		int err = ipc_send(d->fd, msg);

		if (err != -EAGAIN) {
			*why = IPC_DEV_FAIL_CLOSED;
			return err;
		}
		err = chan_wait(vm, d, POLLOUT, deadline);
		if (err < 0) {
			*why = IPC_DEV_FAIL_DRAIN;
			return err;
		}
	}
}

/* The reply to req, until deadline. d->lock held. */
static int chan_reply(const struct vm *vm, struct dev_chan *d, const struct ipc_io *req,
		      uint64_t deadline, uint64_t *val, enum ipc_dev_failure *why)
{
	union {
		struct ipc_io_reply r;
		char buf[IPC_MAX_MSG];
	} u;
	ssize_t n;
	int err;

	for (;;) {
		err = chan_wait(vm, d, POLLIN, deadline);
		if (err < 0) {
			*why = IPC_DEV_FAIL_ANSWER;
			return err;
		}
		n = ipc_recv(d->fd, u.buf);
		if (n != -EAGAIN)
			break;
	}
	*why = IPC_DEV_FAIL_CLOSED;
	if (n == 0)
		return -EPIPE;
	if (n < 0)
		return (int)n;
	*why = IPC_DEV_FAIL_PROTOCOL;
	if ((size_t)n != sizeof(u.r) || u.r.h.ih_version != IPC_VERSION ||
	    u.r.h.ih_type != IPC_IO_REPLY || u.r.h.ih_size != n || u.r.ir_seq != req->io_seq)
		return -EPROTO;
	*val = u.r.ir_data;
	return 0;
}

/* Lock d, waiting for another vCPU's access at most until deadline. */
static int chan_lock(const struct vm *vm, struct dev_chan *d, uint64_t deadline)
{
	for (;;) {
		uint64_t until = now_ns() + (uint64_t)slice_ms(deadline) * 1000000;
		struct timespec ts = { .tv_sec = (time_t)(until / 1000000000),
				       .tv_nsec = (long)(until % 1000000000) };
		int err;

		if (stopping(vm))
			return -ECANCELED;
		err = pthread_mutex_clocklock(&d->lock, CLOCK_MONOTONIC, &ts);
		if (err != ETIMEDOUT)
			return -err;
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
	}
}

static uint64_t deadline_from_now(const struct vm *vm)
{
	return now_ns() + (uint64_t)vm->cfg.cv_deadline_ms * 1000000;
}

static int restarting(const struct vm *vm)
{
	return (vm->cfg.cv_flags & IPC_VCPU_F_RESTART) != 0;
}

/* Keep a posted write for a restarted device: the one at d->posted goes in slot posted % N. */
static void ring_keep(struct dev_chan *d, const struct ipc_io *req)
{
	d->ring[d->posted % VCPU_REPLAY_MAX] = *req;
}

/*
 * Send what d holds, in order, waiting for room until deadline: 0, or -errno
 * with why set (what could not go stays held, for a restarted device). d->lock held.
 */
static int chan_release_locked(struct vm *vm, struct dev_chan *d, uint64_t deadline,
			       enum ipc_dev_failure *why)
{
	uint32_t done = 0;
	int err = 0;

	while (done < d->nheld) {
		int n;

		for (uint32_t i = done; i < d->nheld; i++)
			d->ring[(d->posted + i - done) % VCPU_REPLAY_MAX] = d->held[i];
		n = ipc_send_many(d->fd, &d->held[done], sizeof(d->held[0]), d->nheld - done);
		if (n > 0) {
			d->posted += (uint32_t)n; /* kept writes: settled stays */
			done += (uint32_t)n;
			continue;
		}
		if (n != -EAGAIN) {
			*why = IPC_DEV_FAIL_CLOSED;
			err = n;
			break;
		}
		err = chan_wait(vm, d, POLLOUT, deadline);
		if (err < 0) {
			*why = IPC_DEV_FAIL_DRAIN;
			break;
		}
	}
	if (done == 0)
		return err;
	memmove(d->held, d->held + done, (d->nheld - done) * sizeof(d->held[0]));
	d->nheld -= done;
	if (d->nheld == 0) {
		__atomic_store_n(&d->held_since, 0, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&vm->nholding, 1, __ATOMIC_SEQ_CST);
	}
	return err;
}

/* Hold a posted write the shadow keeps; the first one held makes sure the main thread looks. */
static void chan_hold(struct vm *vm, struct dev_chan *d, const struct ipc_io *req)
{
	d->held[d->nheld++] = *req;
	if (d->nheld > 1)
		return;
	__atomic_store_n(&d->held_since, now_ns(), __ATOMIC_RELAXED);
	__atomic_add_fetch(&vm->nholding, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_exchange_n(&vm->main_watching, 1, __ATOMIC_SEQ_CST))
		vm_wake_main(vm);
}

/* One access on the channel, unless the shadow answers it. d->lock held. */
static int chan_io_locked(struct vm *vm, struct dev_chan *d, struct ipc_io *req,
			  uint64_t deadline, uint64_t *val, enum ipc_dev_failure *why)
{
	uint64_t ignored;
	int err;

	if (req->h.ih_type == IPC_IO_READ && shadow_read(d, req->io_offset, req->io_size, val))
		return 0;
	/* Only for a device without queues: a kick goes by ioeventfd, past the channel,
	 * and must never overtake a write the guest made before it. */
	if (req->h.ih_type == IPC_IO_WRITE && d->nqueues == 0 &&
	    shadow_keeps(d, req->io_offset, req->io_size, req->io_data)) {
		/* Full: the held ones go first. The write is held once this succeeds, and
		 * only then (a failed access is tried again on a restarted device). */
		err = d->nheld < VCPU_HOLD_MAX ? 0 : chan_release_locked(vm, d, deadline, why);
		if (err == 0)
			chan_hold(vm, d, req);
		return err;
	}
	/* Anything else goes after what is held. */
	err = chan_release_locked(vm, d, deadline, why);
	if (err < 0)
		return err;
	if (req->h.ih_type != IPC_IO_WRITE)
		req->io_seq = ++d->seq;
	if (req->h.ih_type != IPC_IO_READ)
		ring_keep(d, req);
	err = chan_send(vm, d, req, deadline, why);
	/* The device counts a write in sh_applied once it applied it; the shadow is
	 * settled again once it has applied this one. */
	if (err == 0 && req->h.ih_type != IPC_IO_READ)
		d->settled = ++d->posted;
	if (err == 0 && req->h.ih_type != IPC_IO_WRITE)
		err = chan_reply(vm, d, req, deadline, req->h.ih_type == IPC_IO_READ ? val : &ignored,
				 why);
	return err;
}

/* Tell the supervisor, once per incarnation; the main thread sends it (main.c). */
static void chan_report(struct vm *vm, struct dev_chan *d, uint32_t gen, enum ipc_dev_failure why,
			const struct ipc_io *req)
{
	pthread_mutex_lock(&vm->exit_lock);
	if (!d->failed && gen == d->gen) {
		d->failed = why;
		d->fail_offset = req->io_offset;
		d->fail_write = req->h.ih_type != IPC_IO_READ;
		d->fail_gen = gen;
	}
	pthread_mutex_unlock(&vm->exit_lock);
	vm_wake_main(vm);
}

/* While d is down, wait for its next incarnation until deadline. d->lock held. */
static int chan_wait_swap(const struct vm *vm, struct dev_chan *d, uint64_t deadline)
{
	while (d->down) {
		uint64_t until = now_ns() + (uint64_t)slice_ms(deadline) * 1000000;
		struct timespec ts = { .tv_sec = (time_t)(until / 1000000000),
				       .tv_nsec = (long)(until % 1000000000) };

		if (stopping(vm))
			return -ECANCELED;
		if (now_ns() >= deadline)
			return -ETIMEDOUT;
		pthread_cond_clockwait(&d->swapped, &d->lock, CLOCK_MONOTONIC, &ts);
	}
	return 0;
}

/*
 * One attempt at the access: 0, -ECANCELED (a stop), -ETIMEDOUT while waiting
 * for a restarted device (*came_back 0), or another failure of the device
 * (why, gen set). With restarts, a failure marks the device down.
 */
static int chan_attempt(struct vm *vm, struct dev_chan *d, struct ipc_io *req, uint64_t *val,
			enum ipc_dev_failure *why, uint32_t *gen, int *came_back)
{
	uint64_t deadline = deadline_from_now(vm);
	int err = chan_lock(vm, d, deadline);

	*why = IPC_DEV_FAIL_BUSY;
	*came_back = 1;
	if (err < 0)
		return err;
	*gen = d->gen;
	err = restarting(vm) ? chan_wait_swap(vm, d, deadline) : 0;
	if (err == -ETIMEDOUT)
		*came_back = 0;
	else if (err == 0)
		err = chan_io_locked(vm, d, req, deadline, val, why);
	if (err < 0 && err != -ECANCELED && *came_back && restarting(vm))
		d->down = 1;
	pthread_mutex_unlock(&d->lock);
	return err;
}

int chan_access(struct vcpu *v, struct dev_chan *d, int is_write, uint64_t off, unsigned int size,
		uint64_t *val)
{
	enum ipc_dev_failure why;
	struct ipc_io req;
	int came_back;
	uint32_t gen = 0;

	ipc_init(&req, !is_write ? IPC_IO_READ : write_is_sync(d, off) ? IPC_IO_WRITE_SYNC : IPC_IO_WRITE,
		 sizeof(req));
	req.io_space = (uint8_t)d->space;
	req.io_size = (uint8_t)size;
	req.io_offset = off;
	for (;;) {
		int err;

		req.io_data = is_write ? *val : 0;
		err = chan_attempt(v->vm, d, &req, val, &why, &gen, &came_back);
		if (err == 0)
			return 0;
		if (err == -ECANCELED)
			return 1;
		if (!came_back) {
			vm_request_exit(v->vm, IPC_EXIT_ERROR, 0, "device %s did not come back within %u ms",
					d->name, v->vm->cfg.cv_deadline_ms);
			return 1;
		}
		log_debug("vcpu%u: %s at 0x%llx: %s", v->id, d->name, (unsigned long long)off,
			  strerror(-err));
		chan_report(v->vm, d, gen, why, &req);
		/* Without restarts the supervisor ends the VM; with them, wait for the next one. */
		if (!restarting(v->vm))
			return 1;
	}
}

/* Send what d holds if it was held age_ns ago or longer; a failure is d's, reported. */
static void chan_release_one(struct vm *vm, struct dev_chan *d, uint64_t age_ns)
{
	uint64_t since = __atomic_load_n(&d->held_since, __ATOMIC_RELAXED);
	uint64_t deadline = deadline_from_now(vm);
	enum ipc_dev_failure why;
	int err;

	if (!since || now_ns() - since < age_ns || chan_lock(vm, d, deadline) < 0)
		return;
	err = d->down ? 0 : chan_release_locked(vm, d, deadline, &why);
	if (err < 0 && err != -ECANCELED) {
		uint32_t gen = d->gen;
		struct ipc_io first = d->held[0];

		if (restarting(vm))
			d->down = 1;
		pthread_mutex_unlock(&d->lock);
		log_debug("%s: held writes: %s", d->name, strerror(-err));
		chan_report(vm, d, gen, why, &first);
		return;
	}
	pthread_mutex_unlock(&d->lock);
}

void chan_release_held(struct vm *vm, uint64_t age_ns)
{
	if (!__atomic_load_n(&vm->nholding, __ATOMIC_SEQ_CST))
		return;
	for (unsigned int i = 0; i < vm->ndevs; i++)
		chan_release_one(vm, &vm->devs[i], age_ns);
}

int chan_hold_timeout_ms(struct vm *vm)
{
	if (!__atomic_load_n(&vm->nholding, __ATOMIC_SEQ_CST)) {
		__atomic_store_n(&vm->main_watching, 0, __ATOMIC_SEQ_CST);
		/* a vCPU that starts holding now sees main_watching 0 and wakes us */
		if (!__atomic_load_n(&vm->nholding, __ATOMIC_SEQ_CST))
			return -1;
		__atomic_store_n(&vm->main_watching, 1, __ATOMIC_SEQ_CST);
	}
	return (int)((vm->hold_ns + 999999) / 1000000);
}

void chan_drain(struct vm *vm)
{
	uint64_t deadline = now_ns() + (uint64_t)VCPU_DRAIN_MS * 1000000;

	__atomic_store_n(&vm->draining, 1, __ATOMIC_RELEASE);
	for (unsigned int i = 0; i < vm->ndevs; i++) {
		struct dev_chan *d = &vm->devs[i];
		enum ipc_dev_failure why;
		uint32_t n;
		int err;

		pthread_mutex_lock(&d->lock);
		n = d->nheld;
		err = d->down || !n ? 0 : chan_release_locked(vm, d, deadline, &why);
		if (err < 0)
			log_warnx("%s: %u held writes not sent at the end: %s", d->name, d->nheld,
				  strerror(-err));
		else if (n)
			log_debug("%s: %u held writes sent at the end", d->name, n);
		pthread_mutex_unlock(&d->lock);
	}
}

int chan_init(struct dev_chan *d)
{
	pthread_condattr_t ca;
	int err = pthread_mutex_init(&d->lock, NULL);

	if (!err)
		err = pthread_condattr_init(&ca);
	if (!err)
		err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(&d->swapped, &ca);
	return -err;
}

/* Send again what the old incarnation may not have applied (d->lock held). */
static int chan_replay(struct vm *vm, struct dev_chan *d, uint64_t deadline)
{
	uint32_t applied = d->shadow ? __atomic_load_n(&d->shadow->sh_applied, __ATOMIC_ACQUIRE)
				      : d->posted;
	uint32_t pending = d->posted - applied;
	enum ipc_dev_failure why;
	int err = 0;

	/* The count is the dead process's word: one past what we kept is a lie, not replayed. */
	if (pending > VCPU_REPLAY_MAX) {
		log_warnx("%s: %u writes to send again, more than the %d kept; none sent", d->name,
			  pending, VCPU_REPLAY_MAX);
		return 0;
	}
	for (uint32_t k = applied; k != d->posted && err == 0; k++) {
		struct ipc_io w = d->ring[k % VCPU_REPLAY_MAX];

		w.h.ih_type = IPC_IO_WRITE; /* answered or not before, it is posted now */
		err = chan_send(vm, d, &w, deadline, &why);
	}
	if (pending)
		log_debug("%s: %u posted writes sent again", d->name, pending);
	return err;
}

int chan_swap(struct vm *vm, struct dev_chan *d, int fd)
{
	uint64_t deadline = deadline_from_now(vm);
	int err = chan_lock(vm, d, deadline);

	if (err < 0) {
		close(fd);
		return err;
	}
	if (dup3(fd, d->fd, O_CLOEXEC) < 0)
		err = -errno;
	close(fd);
	/* One that does not take them is found by the next access, like any stuck device. */
	if (err == 0 && chan_replay(vm, d, deadline) < 0)
		log_warnx("%s: the restarted device did not take the writes sent again", d->name);
	pthread_mutex_lock(&vm->exit_lock);
	d->failed = 0;
	d->failure_sent = 0;
	d->gen++;
	pthread_mutex_unlock(&vm->exit_lock);
	d->down = 0;
	pthread_cond_broadcast(&d->swapped);
	pthread_mutex_unlock(&d->lock);
	return err;
}
