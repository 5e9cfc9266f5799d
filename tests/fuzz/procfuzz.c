/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Process-level fuzzing of a device process (procfuzz.h).
 *
 * The harness plays the supervisor and the vcpu process. It starts the real
 * executable ($BH_PROCFUZZ_BINDIR or the build tree's, e.g.
 * build/bulkhead-blk) with clone3(CLONE_NEWPID) + execve and an empty
 * environment, with the fds at the numbers supervisor/vm.c gives them:
 *
 *   blk, net,  3 control, 4 guest memfd (sealed), 5 channel, 6 irqfd,
 *   9p:        7 backend (blk: an image memfd; net: one end of a SOCK_DGRAM
 *              socketpair standing in for the TAP; 9p: the share's directory,
 *              p9share.h, which the child's jail bind-mounts as its root),
 *              8.. one ioeventfd per queue,
 *              then the register shadow (a sealed memfd page the harness maps
 *              read-only: every reply must find all writes sent before it
 *              counted there, and the identity registers as the reply says)
 *   serial:    3 control, 4 channel, 5 irqfd, 6 console input (a pipe),
 *              7 console output (a pipe)
 *   rng:       as blk, with 7 a timerfd (the device runs at 1 MiB/s, so its
 *              bucket and timer are in play)
 *   vsock:     as blk, with 7 a listening UNIX socket (an abstract name) that
 *              host programs of the harness connect to; the child's CONNECT
 *              requests on its control socket are answered by the harness as
 *              the supervisor would, with one end of a socketpair or a refusal
 *
 * and sends CFG_MEM, CFG_DEVICE, the kind's message (CFG_BLK, ...), CFG_JAIL (the full jail
 * by default: namespaces, empty root, uid/gid 62222; as root, like the
 * supervisor) and CFG_DONE, then waits for READY. The child is reused for
 * input after input (a Status 0 reset, or for the UART a register reset,
 * starts each) and restarted when it ends.
 *
 * Inputs: for blk, net and 9p, the fzv op language of fzv.h (the corpus of
 * fuzz_blk and fuzz_net works here too; 9p's seeds carry the T-messages of
 * fuzz_9p's in descriptor chains), with these FZV_OP_BACKEND sub-ops
 * (procfuzz.h names them):
 *   sub % 4 == 0   net: u16 length, u8 fill count, bytes: a frame on the TAP
 *   sub % 4 == 2   net: u8 count: that many minimum-size frames
 *   sub % 4 == 3   net: u8 fill: one largest frame
 *   0xfe           u16 length, bytes: a raw datagram on the channel (a
 *                  hostile vcpu process)
 *   0xff           u16 length, bytes: a raw datagram on the control socket
 *   0xfd           u8 space, u8 size, u16 offset, u8 write, u64 value: an IO
 *                  message with any space, size and offset (a protocol error
 *                  unless it is valid)
 *   vsock          sub % 6 as fuzz_vsock.c: a host program connects and writes
 *                  its line; the broker answers the oldest CONNECT (a socketpair
 *                  or a refusal); a host end writes, shuts or closes, reads
 *   rng            sub % 2 == 0: u32 (consumed: the process keeps real time)
 *   0xfc           synchronous writes on/off for the rest of the input: valid
 *                  register writes then travel as IO_WRITE_SYNC, each answered
 *                  by an IO_REPLY once applied (as bulkhead-vcpu sends the
 *                  writes a device kind declares synchronous)
 * (the malformed ones take exact byte values, so mutations reach them
 * rarely: each one costs a restart of the child). For serial, ops (byte %
 * 13, procfuzz.h): register writes (u8 offset, u8 value), reads (u8
 * offset), console input (u8 count, bytes), a sync, a wide access (u8
 * offset, u8 size code, u8 write, u64 value); and the bytes 0xfc, 0xfd, 0xfe,
 * 0xff as above.
 *
 * Findings (each aborts through fz_fail, so libFuzzer or AFL++ keeps the
 * input):
 *   - the child was killed by a signal (SIGSEGV, SIGBUS, SIGABRT, SIGILL,
 *     SIGFPE, SIGSYS from seccomp, SIGKILL from anyone but the harness...);
 *   - it exited on traffic that was well-formed (every message valid; exit
 *     status 1 after a malformed or out-of-state message is the protocol
 *     working, and 0 after STOP or a closed control socket too);
 *   - an IO_READ got no IO_REPLY within BH_PROCFUZZ_TIMEOUT_MS (1000), a
 *     kick was not taken within that time, or a reply was malformed or
 *     carried the wrong sequence number (the device hung, or spins);
 *   - it changed a byte of guest memory outside the used rings and the
 *     device-writable buffers the input gave it (fzv_check);
 *   - blk: the image changed size; net: a frame reached the TAP with a
 *     header the negotiated features do not allow; serial: console output
 *     differs from what the guest wrote to THR; 9p: the file beside the
 *     share changed, or something appeared beside the share.
 *
 * Environment: BH_PROCFUZZ_BINDIR (directory of the bulkhead-* binaries),
 * BH_PROCFUZZ_JAIL (on | no-namespaces | off; off needs no root),
 * BH_PROCFUZZ_SECCOMP (kill, the default: a call outside the policy is a
 * finding | log | off, e.g. for a sanitizer-built child),
 * BH_PROCFUZZ_STDERR (a file for the child's log; default /dev/null),
 * BH_PROCFUZZ_PASS_ENV=1 (give the child our environment, e.g. AFL++'s
 * __AFL_SHM_ID or ASAN_OPTIONS), BH_PROCFUZZ_TIMEOUT_MS,
 * BH_PROCFUZZ_LENIENT=1 (an exit on well-formed traffic is not a finding),
 * BH_PROCFUZZ_TAP=name (net: a real TAP, created and brought up, instead of
 * the socketpair; frames are injected and drained through a packet socket on
 * it, and the header rules are left to the host kernel).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sched.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "common/layout.h"
#include "fz.h"
#include "fzproc.h"
#include "fzv.h"
#include "ipc/ipc.h"
#include "mem/mem.h"
#include "p9share.h"
#include "procfuzz.h"

#ifndef FUZZ_BINDIR
#define FUZZ_BINDIR "build"
#endif

#define PF_IMAGE_SIZE (256 * 1024)
#define PF_READY_MS 10000
#define PF_JAIL_ID 62222
#define PF_MAX_FDS 16
#define PF_NET_MAX (12 + 65550)
#define PF_RNG_RATE (1u << 20)
#define PF_VSOCK_CID 3
#define PF_HOST_MAX 96 /* host ends the harness keeps */
#define PF_REQ_MAX 128

static struct {
	enum procfuzz_dev dev;
	int inited;
	char exe[4096];
	unsigned int nq;
	uint32_t space;
	uint64_t window;
	struct guest_mem mem;
	int img_fd; /* blk: the image memfd; 9p: the share's directory (O_PATH) */
	int tap_dev, tap_host; /* net: the device's end (also kept here, to see it drained) and ours */
	int in_r, in_w, out_r, out_w; /* serial console pipes */
	int ctl, chan, irq, qfd[IPC_MAX_QUEUES];
	int shadow_fd; /* blk, net: the register shadow, and our read-only view of it */
	const struct ipc_shadow *shadow;
	uint32_t posted; /* register writes sent to this child (ipc.h: sh_applied) */
	pid_t pid;
	int pidfd;
	int alive;
	uint32_t seq;
	struct fzv drv;
	int raw; /* this input sent a malformed or unexpected message */
	int sync_writes; /* PF_SUB_SYNC: valid writes go as IO_WRITE_SYNC and wait for their reply */
	int stopping; /* the harness is stopping the child on purpose */
	int reply_ms, lenient, jail_mode, seccomp_mode, pass_env;
	const char *log_path;
	const char *tap_name; /* BH_PROCFUZZ_TAP: a real TAP instead of the socketpair */
	int pkt; /* with a real TAP: our packet socket on it */
	uint64_t features_seen; /* net: every feature set accepted during this input */
	/* serial: the guest's view of LCR and MCR, and the console output it must produce */
	uint8_t lcr, mcr;
	uint8_t *want;
	size_t want_len, want_cap, got_len;
	uint8_t frame[PF_NET_MAX + 64];
	int dev_fd; /* rng: the timerfd; vsock: the listening socket (our copy) */
	/* vsock: the listening socket's address, the host ends, the child's CONNECTs */
	struct sockaddr_un listen_addr;
	socklen_t listen_len;
	int host[PF_HOST_MAX];
	unsigned int nhost;
	struct ipc_connect req[PF_REQ_MAX];
	unsigned int nreq;
} P = { .img_fd = -1, .tap_dev = -1, .tap_host = -1, .in_r = -1, .in_w = -1, .out_r = -1, .out_w = -1,
	.ctl = -1, .chan = -1, .irq = -1, .qfd = { -1, -1, -1, -1 }, .shadow_fd = -1, .pidfd = -1, .pkt = -1, .dev_fd = -1 };

extern char **environ;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Each device: its executable's suffix, the child's name, its kind and queues. */
static const struct pf_kind {
	const char *name, *child;
	uint32_t kind;
	unsigned int nq;
} pf_kinds[] = {
	[PROCFUZZ_BLK] = { "blk", "blk0", IPC_DEV_BLK, IPC_BLK_QUEUES },
	[PROCFUZZ_NET] = { "net", "net0", IPC_DEV_NET, IPC_NET_QUEUES },
	[PROCFUZZ_SERIAL] = { "serial", "serial", IPC_DEV_SERIAL, 0 },
	[PROCFUZZ_9P] = { "9p", "9p0", IPC_DEV_9P, IPC_9P_QUEUES },
	[PROCFUZZ_RNG] = { "rng", "rng", IPC_DEV_RNG, IPC_RNG_QUEUES },
	[PROCFUZZ_VSOCK] = { "vsock", "vsock", IPC_DEV_VSOCK, IPC_VSOCK_QUEUES },
};

static const char *dev_name(void)
{
	return pf_kinds[P.dev].name;
}

int procfuzz_dev_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(pf_kinds) / sizeof(pf_kinds[0]); i++) {
		if (strcmp(name, pf_kinds[i].name) == 0)
			return (int)i;
	}
	return -1;
}

/* ---- the child's end ---- */

/* Judge how the child ended (it has: the pidfd is readable). */
static void pf_judge(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)P.pidfd, &si, WEXITED) < 0)
		fz_fail("waitid on the %s child: %s", dev_name(), strerror(errno));
	P.alive = 0;
	close_fd(&P.pidfd);
	if (si.si_code == CLD_EXITED) {
		if (si.si_status == 0 && (P.stopping || P.raw))
			return;
		if (si.si_status == 1 && (P.raw || P.lenient))
			return;
		fz_fail("bulkhead-%s exited with status %d on well-formed traffic (run with BH_PROCFUZZ_STDERR=file "
			"to see why)",
			dev_name(), si.si_status);
	}
	if (si.si_status == SIGKILL && P.stopping)
		return;
	fz_fail("bulkhead-%s was killed by signal %d (%s)%s", dev_name(), si.si_status, strsignal(si.si_status),
		si.si_status == SIGSYS ? ": a system call outside its seccomp policy" : "");
}

/* The child may be going: wait up to the reply timeout for it to end, then judge it. */
static void pf_wait_end(const char *why)
{
	struct pollfd p = { .fd = P.pidfd, .events = POLLIN };

	if (!P.alive)
		return;
	if (poll(&p, 1, P.reply_ms) != 1)
		fz_fail("bulkhead-%s: %s, yet it is still running", dev_name(), why);
	pf_judge();
}

static int pf_child_ended(void)
{
	return fzproc_gone(P.alive, P.pidfd, pf_judge);
}

/* ---- serial console output ---- */

static void want_byte(uint8_t c)
{
	if (P.want_len == P.want_cap) {
		size_t cap = P.want_cap ? 2 * P.want_cap : 4096;
		uint8_t *p = realloc(P.want, cap);

		if (!p)
			fz_fail("out of memory");
		P.want = p;
		P.want_cap = cap;
	}
	P.want[P.want_len++] = c;
}

/* Read what the console printed so far and compare; -1 once the child closed it. */
static int drain_out(void)
{
	uint8_t buf[4096];

	if (P.out_r < 0)
		return 0;
	for (;;) {
		ssize_t n = read(P.out_r, buf, sizeof(buf));

		if (n == 0)
			return -1;
		if (n < 0)
			return 0;
		for (ssize_t i = 0; i < n; i++) {
			FZ_CHECK(P.got_len < P.want_len,
				 "bulkhead-serial wrote console byte 0x%02x the guest never sent (%zu expected so far)",
				 buf[i], P.want_len);
			FZ_CHECK(buf[i] == P.want[P.got_len],
				 "console byte %zu is 0x%02x, the guest wrote 0x%02x", P.got_len, buf[i],
				 P.want[P.got_len]);
			P.got_len++;
		}
	}
}

/* ---- messages ---- */

/* Send one message on fd; 0, or -1 if the child is gone (and judged). */
static int pf_send_raw(int fd, const void *buf, size_t len)
{
	long deadline = now_ms() + P.reply_ms;

	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		struct pollfd p[2] = { { .fd = fd, .events = POLLOUT }, { .fd = P.out_r, .events = POLLIN } };

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			fz_fail("short send on a SOCK_SEQPACKET socket");
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
			pf_wait_end("its socket is closed");
			return -1;
		}
		if (errno == EMSGSIZE || errno == ENOBUFS)
			return 0; /* a raw datagram too big for the socket: not sent */
		if (errno != EAGAIN && errno != EINTR)
			fz_fail("send to bulkhead-%s: %s", dev_name(), strerror(errno));
		if (pf_child_ended())
			return -1;
		if (now_ms() > deadline)
			fz_fail("bulkhead-%s took no message for %d ms (its channel is full: it hangs or spins)",
				dev_name(), P.reply_ms);
		poll(p, P.out_r >= 0 ? 2 : 1, 10);
		(void)drain_out();
	}
}

static int pf_send(int fd, const void *msg)
{
	const struct ipc_hdr *h = msg;

	return pf_send_raw(fd, msg, h->ih_size);
}

/* Wait for the IO_REPLY to seq; its value, or all ones if the child ended. */
static uint64_t pf_reply(uint32_t seq, uint64_t off, unsigned int size)
{
	long deadline = now_ms() + P.reply_ms;

	for (;;) {
		struct pollfd p[3] = { { .fd = P.chan, .events = POLLIN },
				       { .fd = P.pidfd, .events = POLLIN },
				       { .fd = P.out_r, .events = POLLIN } };
		long left = deadline - now_ms();
		uint8_t buf[IPC_MAX_MSG];
		struct ipc_io_reply r;
		ssize_t n;

		if (left < 0)
			left = 0;
		n = poll(p, P.out_r >= 0 ? 3 : 2, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (p[2].revents & POLLIN)
			(void)drain_out();
		if (p[0].revents & (POLLIN | POLLHUP)) {
			n = ipc_recv(P.chan, buf);
			if (n == 0 || n == -ECONNRESET) {
				pf_wait_end("it closed its channel");
				return ~0ull;
			}
			if (n == -EAGAIN)
				continue;
			FZ_CHECK(n == (ssize_t)sizeof(r), "bulkhead-%s answered IO_READ with %zd bytes", dev_name(), n);
			memcpy(&r, buf, sizeof(r));
			FZ_CHECK(r.h.ih_version == IPC_VERSION && r.h.ih_type == IPC_IO_REPLY &&
					 r.h.ih_size == sizeof(r),
				 "bulkhead-%s answered IO_READ with type %u size %u", dev_name(), r.h.ih_type,
				 r.h.ih_size);
			if (r.ir_seq != seq && P.raw)
				continue; /* the answer to a raw IO_READ the input sent */
			FZ_CHECK(r.ir_seq == seq, "bulkhead-%s answered IO_READ %u with sequence %u", dev_name(), seq,
				 r.ir_seq);
			FZ_CHECK(size == 8 || r.ir_data <= 0xffffffffull, "a %u-byte read returned 0x%llx", size,
				 (unsigned long long)r.ir_data);
			return r.ir_data;
		}
		if (p[1].revents & POLLIN) {
			pf_judge();
			return ~0ull;
		}
		if (n == 0 && now_ms() >= deadline) {
			if (pf_child_ended())
				return ~0ull;
			fz_fail("bulkhead-%s sent no IO_REPLY to IO_READ of 0x%llx/%u within %d ms: it hangs or spins",
				dev_name(), (unsigned long long)off, size, P.reply_ms);
		}
	}
}

static int io_valid(uint32_t space, uint64_t off, unsigned int size)
{
	return space == P.space && (size == 1 || size == 2 || size == 4 || size == 8) && off < P.window &&
	       size <= P.window - off;
}

/*
 * After a reply, the device has applied every write sent before the read
 * (the channel is ordered), so the shadow must count them all; and the
 * identity registers, which nothing changes, must read as the reply said.
 */
static uint64_t shadow_check(uint64_t off, unsigned int size, uint64_t val)
{
	uint32_t applied;

	if (!P.shadow || !P.alive || P.raw)
		return val;
	applied = __atomic_load_n(&P.shadow->sh_applied, __ATOMIC_ACQUIRE);
	FZ_CHECK(applied == P.posted, "bulkhead-%s: register shadow counts %u writes applied, %u were sent",
		 dev_name(), applied, P.posted);
	if (size == 4 && off <= 0xc && off % 4 == 0)
		FZ_CHECK(P.shadow->sh_regs[off / 4] == val,
			 "bulkhead-%s: register shadow has 0x%x at 0x%llx, a read gave 0x%llx", dev_name(),
			 P.shadow->sh_regs[off / 4], (unsigned long long)off, (unsigned long long)val);
	return val;
}

static uint64_t pf_io(int write, uint32_t space, uint64_t off, unsigned int size, uint64_t val)
{
	struct ipc_io io;

	int sync = write && P.sync_writes && io_valid(space, off, size);

	if (!P.alive)
		return ~0ull;
	ipc_init(&io, sync ? IPC_IO_WRITE_SYNC : write ? IPC_IO_WRITE : IPC_IO_READ, sizeof(io));
	if (!write || sync)
		io.io_seq = ++P.seq;
	io.io_space = (uint8_t)space;
	io.io_size = (uint8_t)size;
	io.io_offset = off;
	io.io_data = write ? val : 0;
	if (pf_send(P.chan, &io) < 0)
		return ~0ull;
	if (sync) {
		P.posted++;
		val = pf_reply(io.io_seq, off, 8);
		FZ_CHECK(!P.alive || val == 0, "bulkhead-%s answered IO_WRITE_SYNC with 0x%llx", dev_name(),
			 (unsigned long long)val);
		return 0;
	}
	if (write) {
		P.posted++;
		return 0;
	}
	return shadow_check(off, size, pf_reply(io.io_seq, off, size));
}

/* The serial mirror: what the guest's THR writes must produce on the console. */
static void serial_mirror_write(uint64_t off, uint64_t val)
{
	uint8_t v = (uint8_t)val;

	if (off == 3)
		P.lcr = v;
	else if (off == 4)
		P.mcr = v & 0x1f;
	else if (off == 0 && !(P.lcr & 0x80) && !(P.mcr & 0x10))
		want_byte(v);
}

static void pf_write_checked(uint64_t off, unsigned int size, uint64_t val)
{
	if (!P.alive)
		return;
	if (P.dev == PROCFUZZ_SERIAL)
		serial_mirror_write(off, val);
	(void)pf_io(1, P.space, off, size, val);
}

/* An IO message with any space, size and offset: valid ones go through the mirror. */
static void pf_odd_io(struct fz *in)
{
	uint32_t space = fz_u8(in);
	unsigned int size = fz_u8(in);
	uint64_t off = fz_u16(in);
	int write = fz_u8(in) & 1;
	uint64_t val = fz_u64(in);

	if (io_valid(space, off, size)) {
		if (write && P.dev != PROCFUZZ_SERIAL)
			fzv_write(&P.drv, off, size, val);
		else if (write)
			pf_write_checked(off, size, val);
		else
			(void)pf_io(0, space, off, size, 0);
		return;
	}
	P.raw = 1;
	(void)pf_io(write, space, off, size, val);
}

static void pf_raw(struct fz *in, int control)
{
	uint8_t buf[600];
	size_t len = fz_u16(in) % sizeof(buf);

	fz_take(in, buf, len);
	if (!P.alive || len == 0)
		return;
	P.raw = 1;
	(void)pf_send_raw(control ? P.ctl : P.chan, buf, len);
}

/* PF_SUB_SYNC: synchronous register writes on or off for the rest of the input. */
static void pf_toggle_sync(void)
{
	P.sync_writes = !P.sync_writes;
}

/* ---- vsock: host programs and the broker ---- */

/* A listening UNIX socket with a fresh abstract name (the child's PATH). */
static int vsock_listener(void)
{
	static unsigned int serial;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(&P.listen_addr, 0, sizeof(P.listen_addr));
	P.listen_addr.sun_family = AF_UNIX;
	snprintf(P.listen_addr.sun_path + 1, sizeof(P.listen_addr.sun_path) - 1, "bulkhead-procfuzz-%d-%u",
		 (int)getpid(), serial++);
	P.listen_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(P.listen_addr.sun_path + 1));
	if (fd < 0 || bind(fd, (struct sockaddr *)&P.listen_addr, P.listen_len) < 0 || listen(fd, 128) < 0)
		return -1;
	return fd;
}

static void host_keep(int fd)
{
	if (P.nhost == PF_HOST_MAX) {
		close(fd);
		return;
	}
	P.host[P.nhost++] = fd;
}

static void host_close_all(void)
{
	while (P.nhost)
		close(P.host[--P.nhost]);
}

/* The child's CONNECT requests, as the supervisor's loop reads them. */
static void vsock_ctl_drain(void)
{
	uint8_t buf[IPC_MAX_MSG];
	ssize_t n;

	while (P.alive && (n = ipc_recv(P.ctl, buf)) > 0) {
		struct ipc_connect m;

		if ((size_t)n != sizeof(m) || ((struct ipc_hdr *)buf)->ih_type != IPC_CONNECT)
			continue; /* an ERROR before it exits: its end is judged by the pidfd */
		memcpy(&m, buf, sizeof(m));
		if (P.nreq < PF_REQ_MAX)
			P.req[P.nreq++] = m;
	}
}

/* Answer the oldest request: a connection (one end of a socketpair, the other ours), or not. */
static void vsock_broker(int connect)
{
	struct ipc_connect_reply r;
	int sv[2] = { -1, -1 };

	vsock_ctl_drain();
	if (!P.nreq || !P.alive)
		return;
	ipc_init(&r, IPC_CONNECT_REPLY, sizeof(r));
	r.cr_seq = P.req[0].cq_seq;
	memmove(P.req, P.req + 1, sizeof(P.req[0]) * --P.nreq);
	if (connect && socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		fz_fail("socketpair: %s", strerror(errno));
	r.cr_errno = connect ? 0 : ECONNREFUSED;
	if ((connect ? ipc_send_fd(P.ctl, &r, sv[0]) : ipc_send(P.ctl, &r)) < 0 && errno != EPIPE)
		fz_fail("CONNECT_REPLY to bulkhead-vsock: %s", strerror(errno));
	if (connect) {
		close(sv[0]);
		host_keep(sv[1]);
	}
}

static int host_pick(struct fz *in)
{
	uint8_t i = fz_u8(in);

	return P.nhost ? P.host[(i & 0x7f) % P.nhost] : -1;
}

/* fuzz_vsock.c's backend language, against the process. */
static void vsock_backend(struct fz *in, uint8_t sub)
{
	uint8_t line[255];
	size_t n;
	int fd;

	switch (sub % 6) {
	case PF_SUB_VSOCK_CONNECT:
		n = fz_u8(in);
		fz_take(in, line, n);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fz_fail("socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&P.listen_addr, P.listen_len) < 0) {
			close(fd); /* the backlog is full: the child is not accepting now */
			break;
		}
		if (n)
			(void)!send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		host_keep(fd);
		break;
	case PF_SUB_VSOCK_BROKER:
		vsock_broker(!(fz_u8(in) & 1));
		break;
	case PF_SUB_VSOCK_WRITE:
		fd = host_pick(in);
		n = fz_u16(in);
		memset(P.frame, 0x42, n);
		if (fd >= 0)
			(void)!send(fd, P.frame, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		break;
	case PF_SUB_VSOCK_SHUT: {
		uint8_t how = in->n ? in->p[0] : 0;

		fd = host_pick(in);
		if (fd >= 0 && (how & 0x80)) {
			for (unsigned int k = 0; k < P.nhost; k++)
				if (P.host[k] == fd)
					P.host[k] = P.host[--P.nhost];
			close(fd);
		} else if (fd >= 0) {
			shutdown(fd, SHUT_WR);
		}
		break;
	}
	case PF_SUB_VSOCK_READ:
		fd = host_pick(in);
		while (fd >= 0 && recv(fd, P.frame, sizeof(P.frame), MSG_DONTWAIT) > 0)
			;
		break;
	default:
		break;
	}
}

/* ---- fzv backend (blk, net, rng, vsock) ---- */

static uint64_t be_read(void *ctx, uint64_t off, unsigned int size)
{
	(void)ctx;
	return pf_io(0, P.space, off, size, 0);
}

static void be_write(void *ctx, uint64_t off, unsigned int size, uint64_t val)
{
	(void)ctx;
	(void)pf_io(1, P.space, off, size, val);
}

static void be_kick(void *ctx, unsigned int q)
{
	uint64_t one = 1;

	(void)ctx;
	if (P.alive && q < P.nq && write(P.qfd[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		fz_fail("kick: %s", strerror(errno));
}

/* Return when every kick was taken and every message before this was handled. */
static void be_sync(void *ctx)
{
	long deadline = now_ms() + P.reply_ms;

	(void)ctx;
	for (unsigned int q = 0; q < P.nq && P.alive; q++) {
		for (;;) {
			struct pollfd p = { .fd = P.qfd[q], .events = POLLIN };

			if (poll(&p, 1, 0) == 0)
				break;
			(void)drain_out();
			if (pf_child_ended())
				return;
			if (now_ms() > deadline)
				fz_fail("bulkhead-%s did not take a kick of queue %u within %d ms: it hangs or spins",
					dev_name(), q, P.reply_ms);
			usleep(50);
		}
	}
	/* A read is answered only after everything before it, kicks included, was handled. */
	(void)pf_io(0, P.space, P.dev == PROCFUZZ_SERIAL ? 7 : 0, P.dev == PROCFUZZ_SERIAL ? 1 : 4, 0);
}

static void net_inject(const void *buf, size_t len)
{
	int fd = P.tap_host;

	if (P.pkt >= 0) {
		/* A real TAP: the host sends the frame out of the interface; the kernel writes the header. */
		if (len < 12 + ETH_HLEN)
			return;
		fd = P.pkt;
		buf = (const uint8_t *)buf + 12;
		len -= 12;
	}
	if (send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != ENOBUFS &&
	    errno != EMSGSIZE && errno != ENXIO && errno != ENETDOWN && errno != EINVAL)
		fz_fail("TAP inject: %s", strerror(errno));
}

/* The header rules of net.c's tx_header_ok, for the features negotiated during this input. */
static void net_check_frame(const uint8_t *buf, size_t len, uint64_t f)
{
	uint16_t csum_start, csum_offset, hdr_len, gso_size;
	uint8_t flags = buf[0], gso_type = buf[1], gso = gso_type & 0x7f;
	uint64_t flen = len - 12;

	FZ_CHECK(len >= 12 && len <= PF_NET_MAX, "TAP got a %zu-byte datagram", len);
	memcpy(&hdr_len, buf + 2, 2);
	memcpy(&gso_size, buf + 4, 2);
	memcpy(&csum_start, buf + 6, 2);
	memcpy(&csum_offset, buf + 8, 2);
	FZ_CHECK(!(flags & ~1u), "TAP got header flags 0x%x", flags);
	if (flags & 1)
		FZ_CHECK((f & 1) && (uint64_t)csum_start + csum_offset + 2 <= flen,
			 "TAP got NEEDS_CSUM %u+%u in a %llu-byte frame (features 0x%llx)", csum_start, csum_offset,
			 (unsigned long long)flen, (unsigned long long)f);
	if (gso == 0) {
		FZ_CHECK(gso_type == 0, "TAP got gso_type 0x%x", gso_type);
		return;
	}
	FZ_CHECK((gso == 1 && (f & (1ull << 11))) || (gso == 4 && (f & (1ull << 12))),
		 "TAP got gso_type 0x%x with features 0x%llx", gso_type, (unsigned long long)f);
	FZ_CHECK(gso_size > 0 && hdr_len <= flen && (flags & 1), "TAP got GSO size %u hdr_len %u flags 0x%x",
		 gso_size, hdr_len, flags);
}

static void net_drain(void)
{
	if (P.pkt >= 0) {
		/* A real TAP: the kernel took the header (and would refuse a bad one); just empty the socket. */
		while (recv(P.pkt, P.frame, sizeof(P.frame), MSG_DONTWAIT) >= 0)
			;
		return;
	}
	if (P.tap_host < 0)
		return;
	P.features_seen |= fzv_features(&P.drv);
	for (;;) {
		ssize_t n = recv(P.tap_host, P.frame, sizeof(P.frame), MSG_DONTWAIT);

		if (n < 0)
			return;
		net_check_frame(P.frame, (size_t)n, P.features_seen);
	}
}

static void be_backend(void *ctx, struct fz *in, uint8_t sub)
{
	(void)ctx;
	if (sub == PF_SUB_RAW || sub == PF_SUB_RAW_CTL) {
		pf_raw(in, sub == PF_SUB_RAW_CTL);
		return;
	}
	if (sub == PF_SUB_ODD_IO) {
		pf_odd_io(in);
		return;
	}
	if (sub == PF_SUB_SYNC) {
		pf_toggle_sync();
		return;
	}
	if (P.dev == PROCFUZZ_VSOCK) {
		vsock_backend(in, sub);
		return;
	}
	if (P.dev == PROCFUZZ_RNG) {
		if (sub % 2 == 0)
			(void)fz_u32(in); /* fuzz_rng's clock: the process keeps real time */
		return;
	}
	switch (sub % 4) {
	case PF_SUB_NET_FRAME:
		if (P.dev == PROCFUZZ_NET) {
			size_t len = fz_u16(in) % (12 + 2048);
			uint8_t nfill = fz_u8(in), skip[255];

			for (size_t i = 0; i < len; i++)
				P.frame[i] = (uint8_t)(i * 7 + 1);
			fz_take(in, P.frame, nfill < len ? nfill : len);
			if (nfill > len)
				fz_take(in, skip, nfill - len);
			net_inject(P.frame, len);
		}
		break;
	case PF_SUB_NET_SMALL:
		if (P.dev == PROCFUZZ_NET) {
			unsigned int k = fz_u8(in) % 64;

			memset(P.frame, 0, 12 + 60);
			for (unsigned int i = 0; i < k; i++)
				net_inject(P.frame, 12 + 60);
		}
		break;
	case PF_SUB_NET_BIG:
		if (P.dev == PROCFUZZ_NET) {
			memset(P.frame, fz_u8(in), PF_NET_MAX);
			memset(P.frame, 0, 12);
			net_inject(P.frame, PF_NET_MAX);
		}
		break;
	default:
		break;
	}
}

static void be_after(void *ctx)
{
	(void)ctx;
	if (P.dev == PROCFUZZ_NET)
		net_drain();
	if (P.dev == PROCFUZZ_9P)
		p9share_check_outside();
	if (P.dev == PROCFUZZ_VSOCK)
		vsock_ctl_drain();
}

static const struct fzv_backend pf_backend = {
	.io_read = be_read,
	.io_write = be_write,
	.kick = be_kick,
	.backend = be_backend,
	.sync = be_sync,
	.after_op = be_after,
};
static struct fzv_backend backend;

/* ---- starting the child ---- */

/* In the child, between clone and exec: only async-signal-safe calls. */

/* A fresh register shadow for each child, as the supervisor makes one per device. */
static void shadow_open(void)
{
	void *p;

	P.shadow_fd = mem_create_sealed("procfuzz-shadow", IPC_SHADOW_SIZE);
	if (P.shadow_fd < 0)
		fz_fail("shadow memfd: %s", strerror(-P.shadow_fd));
	p = mmap(NULL, IPC_SHADOW_SIZE, PROT_READ, MAP_SHARED, P.shadow_fd, 0);
	if (p == MAP_FAILED)
		fz_fail("shadow mmap: %s", strerror(errno));
	P.shadow = p;
}

static void pf_cleanup_fds(void)
{
	if (P.shadow)
		munmap((void *)P.shadow, IPC_SHADOW_SIZE);
	P.shadow = NULL;
	close_fd(&P.shadow_fd);
	close_fd(&P.ctl);
	close_fd(&P.chan);
	close_fd(&P.irq);
	for (unsigned int q = 0; q < IPC_MAX_QUEUES; q++)
		close_fd(&P.qfd[q]);
	close_fd(&P.tap_dev);
	close_fd(&P.tap_host);
	close_fd(&P.pkt);
	close_fd(&P.in_r);
	close_fd(&P.in_w);
	close_fd(&P.out_r);
	close_fd(&P.out_w);
	close_fd(&P.dev_fd);
	host_close_all();
	P.nreq = 0;
}

static void pf_send_config(int mem_fd, int chan_fd, int irq_fd, int in_fd, int out_fd, const int *qfd,
			   int shadow_fd)
{
	struct ipc_cfg_device d;
	struct ipc_cfg_jail j;
	struct ipc_empty done;

	if (P.dev != PROCFUZZ_SERIAL) {
		struct ipc_cfg_mem m;

		ipc_init(&m, IPC_CFG_MEM, sizeof(m));
		m.cm_gpa = 0;
		m.cm_size = FZV_MEM_SIZE;
		m.cm_fd = mem_fd;
		m.cm_index = 0;
		if (pf_send(P.ctl, &m) < 0)
			return;
	}
	ipc_init(&d, IPC_CFG_DEVICE, sizeof(d));
	snprintf(d.cd_name, sizeof(d.cd_name), "%s", pf_kinds[P.dev].child);
	d.cd_kind = pf_kinds[P.dev].kind;
	d.cd_flags = getenv("BH_PROCFUZZ_VERBOSE") ? IPC_DEV_F_VERBOSE : 0;
	d.cd_chan_fd = chan_fd;
	d.cd_irq_fd = irq_fd;
	d.cd_base = P.dev == PROCFUZZ_SERIAL ? LAYOUT_COM1_PORT : LAYOUT_VIRTIO_MMIO_BASE;
	d.cd_nqueues = P.nq;
	for (unsigned int q = 0; q < IPC_MAX_QUEUES; q++)
		d.cd_queue_fd[q] = q < P.nq ? qfd[q] : 0;
	d.cd_shadow_fd = shadow_fd;
	if (shadow_fd != IPC_FD_NONE)
		d.cd_flags |= IPC_DEV_F_SHADOW;
	if (pf_send(P.ctl, &d) < 0)
		return;
	if (P.dev == PROCFUZZ_BLK) {
		struct ipc_cfg_blk b;

		ipc_init(&b, IPC_CFG_BLK, sizeof(b));
		b.cb_disk_fd = in_fd;
		b.cb_size = PF_IMAGE_SIZE;
		b.cb_flags = 0;
		snprintf(b.cb_serial, sizeof(b.cb_serial), "procfuzz-disk");
		if (pf_send(P.ctl, &b) < 0)
			return;
	} else if (P.dev == PROCFUZZ_9P) {
		struct ipc_cfg_9p pm;

		ipc_init(&pm, IPC_CFG_9P, sizeof(pm));
		pm.c9_root_fd = in_fd;
		snprintf(pm.c9_tag, sizeof(pm.c9_tag), "fuzz");
		if (pf_send(P.ctl, &pm) < 0)
			return;
	} else if (P.dev == PROCFUZZ_NET) {
		struct ipc_cfg_net nm;
		static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

		ipc_init(&nm, IPC_CFG_NET, sizeof(nm));
		nm.cn_tap_fd = in_fd;
		memcpy(nm.cn_mac, mac, sizeof(mac));
		if (pf_send(P.ctl, &nm) < 0)
			return;
	} else if (P.dev == PROCFUZZ_RNG) {
		struct ipc_cfg_rng rm;

		ipc_init(&rm, IPC_CFG_RNG, sizeof(rm));
		rm.rg_rate = PF_RNG_RATE;
		rm.rg_timer_fd = in_fd;
		if (pf_send(P.ctl, &rm) < 0)
			return;
	} else if (P.dev == PROCFUZZ_VSOCK) {
		struct ipc_cfg_vsock vm;

		ipc_init(&vm, IPC_CFG_VSOCK, sizeof(vm));
		vm.vs_cid = PF_VSOCK_CID;
		vm.vs_listen_fd = in_fd;
		if (pf_send(P.ctl, &vm) < 0)
			return;
	} else {
		struct ipc_cfg_serial sm;

		ipc_init(&sm, IPC_CFG_SERIAL, sizeof(sm));
		sm.cs_in_fd = in_fd;
		sm.cs_out_fd = out_fd;
		if (pf_send(P.ctl, &sm) < 0)
			return;
	}
	ipc_init(&j, IPC_CFG_JAIL, sizeof(j));
	j.cj_mode = (uint32_t)P.jail_mode;
	j.cj_uid = PF_JAIL_ID;
	j.cj_gid = PF_JAIL_ID;
	j.cj_flags = 0;
	j.cj_seccomp = (uint32_t)P.seccomp_mode;
	j.cj_policy_fd = IPC_FD_NONE;
	j.cj_include_fd = IPC_FD_NONE;
	if (pf_send(P.ctl, &j) < 0)
		return;
	ipc_init(&done, IPC_CFG_DONE, sizeof(done));
	(void)pf_send(P.ctl, &done);
}

static void pf_wait_ready(void)
{
	long deadline = now_ms() + PF_READY_MS;
	uint8_t buf[IPC_MAX_MSG];

	for (;;) {
		struct pollfd p[2] = { { .fd = P.ctl, .events = POLLIN }, { .fd = P.pidfd, .events = POLLIN } };
		long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0)
			fz_fail("bulkhead-%s did not answer READY within %d ms", dev_name(), PF_READY_MS);
		if (poll(p, 2, (int)left) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			n = ipc_recv(P.ctl, buf);
			if (n == (ssize_t)sizeof(struct ipc_empty) && ((struct ipc_hdr *)buf)->ih_type == IPC_READY)
				return;
			if (n == (ssize_t)sizeof(struct ipc_error) && ((struct ipc_hdr *)buf)->ih_type == IPC_ERROR)
				fz_fail("bulkhead-%s refused its bootstrap: %.*s", dev_name(), IPC_TEXT_MAX,
					((struct ipc_error *)buf)->ie_text);
			if (n > 0)
				fz_fail("bulkhead-%s sent message type %u instead of READY", dev_name(),
					((struct ipc_hdr *)buf)->ih_type);
		}
		if (p[1].revents & POLLIN) {
			siginfo_t si;

			memset(&si, 0, sizeof(si));
			waitid((idtype_t)P_PIDFD, (id_t)P.pidfd, &si, WEXITED);
			fz_fail("bulkhead-%s (%s) ended during bootstrap: %s %d%s", dev_name(), P.exe,
				si.si_code == CLD_EXITED ? "exit status" : "signal", si.si_status,
				si.si_code == CLD_EXITED && si.si_status == 127 ? " (could not exec it?)" : "");
		}
	}
}

/*
 * BH_PROCFUZZ_TAP: open (creating) the TAP the way the net kind does (kinds/net.c)
 * (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte header, no offloads), bring
 * the interface up and bind a packet socket to it: frames we send there come
 * out of the device's TAP fd with a header the kernel wrote, and the device's
 * frames reach the host kernel's own parser.
 */
static int tap_open(const char *name)
{
	struct sockaddr_ll sll;
	struct ifreq ifr;
	int fd, sz = 12, s;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		fz_fail("/dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)
		fz_fail("TAP %s: %s", name, strerror(errno));
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		fz_fail("TAP %s: SIOCGIFFLAGS: %s", name, strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		fz_fail("TAP %s: up: %s", name, strerror(errno));
	close(s);
	P.pkt = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)if_nametoindex(name);
	if (P.pkt < 0 || bind(P.pkt, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		fz_fail("packet socket on %s: %s", name, strerror(errno));
	return fd;
}

static void pf_spawn(void)
{
	int ctl[2], chan[2], src[PF_MAX_FDS], dst[PF_MAX_FDS], qfd[IPC_MAX_QUEUES] = { 0 };
	int mem_fd = -1, chan_fd, irq_fd, in_fd = IPC_FD_NONE, out_fd = IPC_FD_NONE;
	int shadow_fd = IPC_FD_NONE;
	unsigned int n = 0, next = 4;
	char title[64];

	pf_cleanup_fds();
	snprintf(title, sizeof(title), "bulkhead/fuzz/%s", pf_kinds[P.dev].child);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0)
		fz_fail("socketpair: %s", strerror(errno));
	P.irq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (P.irq < 0)
		fz_fail("eventfd: %s", strerror(errno));
	src[n] = ctl[1];
	dst[n++] = IPC_FD_CONTROL;
	if (P.dev != PROCFUZZ_SERIAL) {
		mem_fd = next++;
		src[n] = P.mem.regions[0].fd;
		dst[n++] = mem_fd;
	}
	chan_fd = next++;
	src[n] = chan[1];
	dst[n++] = chan_fd;
	irq_fd = next++;
	src[n] = P.irq;
	dst[n++] = irq_fd;
	if (P.dev == PROCFUZZ_BLK || P.dev == PROCFUZZ_9P) {
		in_fd = next++;
		src[n] = P.img_fd; /* the image, or the share's directory */
		dst[n++] = in_fd;
	} else if (P.dev == PROCFUZZ_NET) {
		int tap[2];

		if (P.tap_name) {
			P.tap_dev = tap_open(P.tap_name);
		} else {
			if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, tap) < 0)
				fz_fail("socketpair: %s", strerror(errno));
			P.tap_dev = tap[0];
			P.tap_host = tap[1];
		}
		in_fd = next++;
		src[n] = P.tap_dev;
		dst[n++] = in_fd;
	} else if (P.dev == PROCFUZZ_RNG || P.dev == PROCFUZZ_VSOCK) {
		P.dev_fd = P.dev == PROCFUZZ_RNG ? timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)
						 : vsock_listener();
		if (P.dev_fd < 0)
			fz_fail("%s backend fd: %s", dev_name(), strerror(errno));
		in_fd = next++;
		src[n] = P.dev_fd;
		dst[n++] = in_fd;
	} else {
		int in[2], out[2];

		if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
			fz_fail("pipe2: %s", strerror(errno));
		P.in_r = in[0];
		P.in_w = in[1];
		P.out_r = out[0];
		P.out_w = out[1];
		fcntl(P.in_w, F_SETFL, O_NONBLOCK);
		fcntl(P.out_r, F_SETFL, O_NONBLOCK);
		in_fd = next++;
		src[n] = P.in_r;
		dst[n++] = in_fd;
		out_fd = next++;
		src[n] = P.out_w;
		dst[n++] = out_fd;
	}
	for (unsigned int q = 0; q < P.nq; q++) {
		P.qfd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (P.qfd[q] < 0)
			fz_fail("eventfd: %s", strerror(errno));
		qfd[q] = next++;
		src[n] = P.qfd[q];
		dst[n++] = qfd[q];
	}
	if (P.dev != PROCFUZZ_SERIAL) {
		shadow_open();
		shadow_fd = next++;
		src[n] = P.shadow_fd;
		dst[n++] = shadow_fd;
	}
	P.pid = fzproc_spawn(P.exe, title, P.pass_env ? environ : (char *[]){ NULL }, src, dst, n,
			     P.log_path, P.jail_mode == IPC_JAIL_FULL, &P.pidfd);
	P.alive = 1;
	P.stopping = 0;
	P.seq = 0;
	close(ctl[1]);
	close(chan[1]);
	P.ctl = ctl[0];
	P.chan = chan[0];
	close_fd(&P.in_r);
	close_fd(&P.out_w);
	if (P.tap_name)
		close_fd(&P.tap_dev); /* the device holds the TAP; we only talk to the interface */
	fcntl(P.ctl, F_SETFL, O_NONBLOCK);
	fcntl(P.chan, F_SETFL, O_NONBLOCK);
	P.want_len = P.got_len = 0;
	P.lcr = P.mcr = 0;
	P.posted = 0;
	pf_send_config(mem_fd, chan_fd, irq_fd, in_fd, out_fd, qfd, shadow_fd);
	pf_wait_ready();
}

/* A finding aborts the harness: take the child down with it (a spinning one would stay). */
static void pf_on_fail(void)
{
	if (P.alive && P.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, P.pidfd, SIGKILL, NULL, 0);
}

void procfuzz_init(enum procfuzz_dev dev)
{
	const char *dir = getenv("BH_PROCFUZZ_BINDIR"), *jail = getenv("BH_PROCFUZZ_JAIL");
	const char *t = getenv("BH_PROCFUZZ_TIMEOUT_MS"), *sc = getenv("BH_PROCFUZZ_SECCOMP");
	struct stat st;

	if (P.inited)
		return;
	P.inited = 1;
	P.dev = dev;
	fz_on_fail = pf_on_fail;
	signal(SIGPIPE, SIG_IGN);
	snprintf(P.exe, sizeof(P.exe), "%s/bulkhead-%s", dir && *dir ? dir : FUZZ_BINDIR, dev_name());
	if (stat(P.exe, &st) < 0)
		fz_fail("%s: %s (build it first, or set BH_PROCFUZZ_BINDIR)", P.exe, strerror(errno));
	P.reply_ms = t && atoi(t) > 0 ? atoi(t) : 1000;
	P.lenient = getenv("BH_PROCFUZZ_LENIENT") && *getenv("BH_PROCFUZZ_LENIENT") == '1';
	P.pass_env = getenv("BH_PROCFUZZ_PASS_ENV") && *getenv("BH_PROCFUZZ_PASS_ENV") == '1';
	P.log_path = getenv("BH_PROCFUZZ_STDERR");
	P.tap_name = dev == PROCFUZZ_NET && getenv("BH_PROCFUZZ_TAP") && *getenv("BH_PROCFUZZ_TAP")
			     ? getenv("BH_PROCFUZZ_TAP")
			     : NULL;
	P.jail_mode = IPC_JAIL_FULL;
	if (jail && strcmp(jail, "no-namespaces") == 0)
		P.jail_mode = IPC_JAIL_NO_NAMESPACES;
	else if (jail && strcmp(jail, "off") == 0)
		P.jail_mode = IPC_JAIL_OFF;
	else if (jail && strcmp(jail, "on") != 0)
		fz_fail("BH_PROCFUZZ_JAIL=%s: on, no-namespaces or off", jail);
	P.seccomp_mode = IPC_SECCOMP_KILL;
	if (sc && strcmp(sc, "log") == 0)
		P.seccomp_mode = IPC_SECCOMP_LOG;
	else if (sc && strcmp(sc, "off") == 0)
		P.seccomp_mode = IPC_SECCOMP_OFF;
	else if (sc && strcmp(sc, "kill") != 0)
		fz_fail("BH_PROCFUZZ_SECCOMP=%s: kill, log or off", sc);
	if (P.jail_mode != IPC_JAIL_OFF && geteuid() != 0)
		fz_fail("the jail needs root, as the supervisor does (or set BH_PROCFUZZ_JAIL=off)");
	P.nq = pf_kinds[dev].nq;
	P.space = dev == PROCFUZZ_SERIAL ? IPC_SPACE_PIO : IPC_SPACE_MMIO;
	P.window = dev == PROCFUZZ_SERIAL ? LAYOUT_COM1_PORTS : LAYOUT_VIRTIO_MMIO_SIZE;
	if (dev != PROCFUZZ_SERIAL) {
		fzv_guest(&P.mem, FZV_MEM_SIZE, "procfuzz");
		backend = pf_backend;
		backend.nqueues = P.nq;
		fzv_init(&P.drv, &backend, P.mem.regions[0].hva, FZV_MEM_SIZE);
	}
	if (dev == PROCFUZZ_BLK) {
		P.img_fd = memfd_create("procfuzz-image", MFD_CLOEXEC);
		if (P.img_fd < 0 || ftruncate(P.img_fd, PF_IMAGE_SIZE) < 0)
			fz_fail("image memfd: %s", strerror(errno));
	}
	if (dev == PROCFUZZ_9P) {
		P.img_fd = open(p9share_init(), O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (P.img_fd < 0)
			fz_fail("the share: %s", strerror(errno));
	}
}

void procfuzz_stop(void)
{
	struct ipc_empty m;

	if (!P.alive)
		return;
	P.stopping = 1;
	ipc_init(&m, IPC_STOP, sizeof(m));
	(void)pf_send(P.ctl, &m);
	if (P.alive) {
		struct pollfd p = { .fd = P.pidfd, .events = POLLIN };

		if (poll(&p, 1, 1000) != 1)
			syscall(SYS_pidfd_send_signal, P.pidfd, SIGKILL, NULL, 0);
		pf_judge();
	}
	pf_cleanup_fds();
}

/* ---- one input ---- */

static void serial_begin(void)
{
	static const uint8_t regs[][2] = { { 3, 0 }, { 4, 0 }, { 1, 0 }, { 2, 0 }, { 7, 0 } };

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		pf_write_checked(regs[i][0], 1, regs[i][1]);
	for (int i = 0; i < 17; i++)
		(void)pf_io(0, P.space, 0, 1, 0);
	(void)pf_io(0, P.space, 5, 1, 0);
	(void)pf_io(0, P.space, 6, 1, 0);
	(void)pf_io(0, P.space, 2, 1, 0);
}

static void serial_run(struct fz *in)
{
	unsigned int ops = 0;

	while (!fz_empty(in) && ops++ < 4096 && P.alive) {
		uint8_t byte = fz_u8(in), op = byte % PF_SER_NOPS;

		if (byte == PF_SUB_ODD_IO) {
			pf_odd_io(in);
		} else if (byte == PF_SUB_SYNC) {
			pf_toggle_sync();
		} else if (byte == PF_SUB_RAW || byte == PF_SUB_RAW_CTL) {
			pf_raw(in, byte == PF_SUB_RAW_CTL);
		} else if (op < PF_SER_READ) {
			uint64_t off = fz_u8(in) % 8;

			pf_write_checked(off, 1, fz_u8(in));
		} else if (op < PF_SER_INPUT) {
			(void)pf_io(0, P.space, fz_u8(in) % 8, 1, 0);
		} else if (op < PF_SER_SYNC) {
			uint8_t b[256];
			size_t k = fz_u8(in);

			fz_take(in, b, k);
			if (k && write(P.in_w, b, k) < 0 && errno != EAGAIN)
				fz_fail("console input: %s", strerror(errno));
		} else if (op == PF_SER_SYNC) {
			be_sync(NULL);
		} else if (op == PF_SER_WIDE) {
			static const unsigned int sizes[4] = { 1, 2, 4, 8 };
			uint64_t off = fz_u8(in) % 8;
			unsigned int size = sizes[fz_u8(in) % 4];
			int write = fz_u8(in) & 1;
			uint64_t val = fz_u64(in);

			if (size > 8 - off)
				off = 8 - size;
			if (write)
				pf_write_checked(off, size, val);
			else
				(void)pf_io(0, P.space, off, size, 0);
		}
	}
}

/* Everything the guest printed must come out, in order, and nothing else. */
static void serial_finish(void)
{
	long deadline = now_ms() + P.reply_ms;

	while (P.alive && P.got_len < P.want_len) {
		struct pollfd p = { .fd = P.out_r, .events = POLLIN };
		long left = deadline - now_ms();

		if (left <= 0) {
			if (pf_child_ended())
				return;
			fz_fail("bulkhead-serial lost console output: %zu of %zu bytes arrived", P.got_len,
				P.want_len);
		}
		poll(&p, 1, (int)left);
		if (drain_out() < 0) {
			pf_wait_end("it closed its console output");
			return;
		}
	}
	P.want_len = P.got_len = 0;
}

/*
 * An input that sent a raw message may have ended the child, or will once
 * a message still queued is read: judge the child now, with the input that
 * did it, and start the next input with a fresh one.
 */
static void pf_end_raw(void)
{
	if (!P.alive)
		return;
	P.stopping = 1;
	syscall(SYS_pidfd_send_signal, P.pidfd, SIGKILL, NULL, 0);
	pf_wait_end("it was sent SIGKILL");
}

static void pf_run(const uint8_t *data, size_t size);

void procfuzz_one(const uint8_t *data, size_t size)
{
	pf_run(data, size);
	if (P.raw)
		pf_end_raw();
}

static void pf_run(const uint8_t *data, size_t size)
{
	char why[256];
	struct fz in;

	if (!P.inited)
		fz_fail("procfuzz_init was not called");
	if (!P.alive)
		pf_spawn();
	if (P.dev == PROCFUZZ_NET)
		net_drain(); /* anything left from the last input, under its features */
	if (P.dev == PROCFUZZ_9P)
		p9share_wipe(); /* the Status 0 of fzv_begin ends the last input's session */
	P.raw = 0;
	P.sync_writes = 0;
	P.features_seen = 0;
	fz_init(&in, data, size);
	if (P.dev == PROCFUZZ_SERIAL) {
		serial_begin();
		be_sync(NULL);
		serial_finish();
		serial_run(&in);
		be_sync(NULL);
		if (P.alive)
			serial_finish();
		return;
	}
	if (P.dev == PROCFUZZ_VSOCK)
		host_close_all();
	fzv_begin(&P.drv);
	fzv_run(&P.drv, &in);
	while (P.dev == PROCFUZZ_VSOCK && P.alive && P.nreq)
		vsock_broker(0); /* the input is over: what it left waiting is refused */
	if (!P.alive)
		return;
	if (fzv_check(&P.drv, why, sizeof(why)) < 0)
		fz_fail("bulkhead-%s %s", dev_name(), why);
	if (P.dev == PROCFUZZ_BLK) {
		struct stat st;

		FZ_CHECK(fstat(P.img_fd, &st) == 0 && st.st_size == PF_IMAGE_SIZE, "the image is now %lld bytes",
			 (long long)st.st_size);
	}
	if (P.dev == PROCFUZZ_NET)
		net_drain();
}
