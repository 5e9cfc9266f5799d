/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_proc_api: the real bulkhead-api, jailed and under its seccomp policy,
 * driven by clients of its socket while the harness plays the supervisor.
 *
 * The harness starts the executable ($BH_PROCFUZZ_BINDIR or the build tree's
 * bulkhead-api) with clone3(CLONE_NEWPID) and execve, with the fds
 * supervisor/vm.c gives it (2 stderr, 3 control, 4 a listening UNIX socket in
 * a private directory, 5 a sealed API page), sends CFG_API, CFG_JAIL (the
 * full jail and the policy in kill mode, as root) and CFG_DONE, and waits for
 * READY. The child is reused across inputs and restarted when it ends.
 *
 * Input: ops (byte % 8), on up to 8 client connections:
 *   0  u8 k                      connect client k
 *   1  u8 k, u16 len, bytes      client k sends bytes
 *   2  u8 k, u8 r                client k sends a well-formed request (templates[r])
 *   3  u8 k                      client k ends its sending side
 *   4  u8 k                      client k closes
 *   5  u8 e, u8 c                the supervisor answers every request waiting, with
 *                                answers[e] (and, if c is odd, a page with its counts
 *                                and strings spoiled); the clients read what came
 *   6  u8 ms                     wait up to ms % 32 milliseconds, reading
 *   7  u16 len, bytes            a raw datagram on the control socket (a confused
 *                                supervisor: the child may end, status 1)
 * After the input every client closes, and a fresh one asks GET vmm.ping while
 * the supervisor answers: it must get 200 within BH_PROCFUZZ_TIMEOUT_MS (2000).
 *
 * Findings: the child was killed by a signal (SIGSYS from its policy
 * included), or exited on traffic that was well-formed; the liveness ping got
 * no answer, or not 200; an answer a client read was not "HTTP/1.1 NNN ..." with
 * a header section and a Content-Length its body matches.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fz.h"
#include "fzapi.h"
#include "fzproc.h"
#include "ipc/ipc.h"
#include "mem/mem.h"

#ifndef FUZZ_BINDIR
#define FUZZ_BINDIR "build"
#endif

#define PA_CLIENTS 8
#define PA_RESPONSE_MAX (300 * 1024)
#define PA_READY_MS 10000
#define PA_JAIL_ID 62222

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int answers[] = { 0, 0, 0, EALREADY, EBUSY, ENODEV, EAGAIN, EIO };

static const char *const templates[] = {
	"GET /api/v1/vmm.ping HTTP/1.1\r\nHost: localhost\r\n\r\n",
	"GET /api/v1/vm.info HTTP/1.1\r\n\r\n",
	"GET /api/v1/vm.counters HTTP/1.1\r\n\r\n",
	"GET /metrics HTTP/1.0\r\n\r\n",
	"PUT /api/v1/vm.pause HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
	"PUT /api/v1/vm.resume HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
	"PUT /api/v1/vm.power-button HTTP/1.1\r\n\r\n",
	"PUT /api/v1/vm.pause HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
};

struct client {
	int fd;
	char *in; /* what the child answered */
	size_t len;
};

static struct {
	int inited;
	char exe[4096], dir[64], path[128];
	int listen_fd, page_fd, ctl, pidfd;
	struct ipc_api_page *page;
	pid_t pid;
	int alive, raw, jail_mode, seccomp_mode, reply_ms;
	const char *log_path;
	struct client c[PA_CLIENTS];
} P = { .listen_fd = -1, .page_fd = -1, .ctl = -1, .pidfd = -1 };

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A whole answer: status line, header section, a Content-Length the body matches. */
static void check_answer(const struct client *c)
{
	const char *end;
	const char *cl;
	size_t head;
	int status, n = 0;

	if (c->len == 0)
		return; /* closed unanswered: the request was cut short, or its time ran out */
	FZ_CHECK(sscanf(c->in, "HTTP/1.1 %3d %n", &status, &n) == 1 && n > 0 && status >= 200 &&
			 status < 600,
		 "not a status line: %.60s", c->in);
	end = memmem(c->in, c->len, "\r\n\r\n", 4);
	FZ_CHECK(end, "an answer without the end of its header section");
	head = (size_t)(end - c->in) + 4;
	cl = memmem(c->in, head, "\r\nContent-Length: ", 18);
	FZ_CHECK(cl && strtoul(cl + 18, NULL, 10) == c->len - head, "Content-Length does not match (%zu)",
		 c->len - head);
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Read what the child sent; at its end, judge the whole answer. 1 if it ended. */
static int client_read(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->fd < 0)
			return 0;
		if (c->len == PA_RESPONSE_MAX)
			fz_fail("an answer longer than %d bytes", PA_RESPONSE_MAX);
		n = recv(c->fd, c->in + c->len, PA_RESPONSE_MAX - c->len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		c->in[c->len] = '\0';
		check_answer(c);
		client_close(c);
		return 1;
	}
}

static void read_all(void)
{
	for (int i = 0; i < PA_CLIENTS; i++)
		client_read(&P.c[i]);
}


/* A send fails only when the child is going, which only a malformed message of ours explains. */
static void send_msg(const void *m)
{
	int err = ipc_send(P.ctl, m);

	if (err < 0 && !P.raw)
		fz_fail("sending to bulkhead-api: %s", strerror(-err));
}

static void wait_ready(void)
{
	long deadline = now_ms() + PA_READY_MS;
	_Alignas(8) uint8_t buf[IPC_MAX_MSG];

	while (now_ms() < deadline) {
		struct pollfd p = { .fd = P.ctl, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = ipc_recv(P.ctl, buf);
		if (n == (ssize_t)sizeof(struct ipc_empty) && ((struct ipc_hdr *)(void *)buf)->ih_type == IPC_READY)
			return;
		fz_fail("bulkhead-api sent %zd bytes (type %u) instead of READY", n,
			n > 0 ? ((struct ipc_hdr *)(void *)buf)->ih_type : 0);
	}
	fz_fail("bulkhead-api did not answer READY within %d ms", PA_READY_MS);
}

static void spawn(void)
{
	struct ipc_cfg_api a;
	struct ipc_cfg_jail j;
	struct ipc_empty done;
	int ctl[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
		fz_fail("socketpair: %s", strerror(errno));
	{
		const int src[] = { ctl[1], P.listen_fd, P.page_fd }, dst[] = { IPC_FD_CONTROL, 4, 5 };

		P.pid = fzproc_spawn(P.exe, "bulkhead/fuzz/api", (char *[]){ NULL }, src, dst, 3,
				     P.log_path, P.jail_mode == IPC_JAIL_FULL, &P.pidfd);
	}
	close(ctl[1]);
	P.ctl = ctl[0];
	P.alive = 1;
	ipc_init(&a, IPC_CFG_API, sizeof(a));
	a.ca_listen_fd = 4;
	a.ca_page_fd = 5;
	a.ca_flags = getenv("BH_PROCFUZZ_VERBOSE") ? IPC_API_F_VERBOSE : 0;
	send_msg(&a);
	ipc_init(&j, IPC_CFG_JAIL, sizeof(j));
	j.cj_mode = (uint32_t)P.jail_mode;
	j.cj_uid = j.cj_gid = PA_JAIL_ID;
	j.cj_seccomp = (uint32_t)P.seccomp_mode;
	j.cj_policy_fd = j.cj_include_fd = IPC_FD_NONE;
	send_msg(&j);
	ipc_init(&done, IPC_CFG_DONE, sizeof(done));
	send_msg(&done);
	wait_ready();
	fcntl(P.ctl, F_SETFL, O_NONBLOCK);
}

/* The child ended: a signal is a finding, and so is an exit no malformed message explains. */
static void judge(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)P.pidfd, &si, WEXITED) < 0)
		fz_fail("waitid: %s", strerror(errno));
	close(P.pidfd);
	close(P.ctl);
	P.pidfd = P.ctl = -1;
	P.alive = 0;
	if (si.si_code != CLD_EXITED)
		fz_fail("bulkhead-api was killed by signal %d%s", si.si_status,
			si.si_status == SIGSYS ? " (SIGSYS: its seccomp policy)" : "");
	if (!P.raw)
		fz_fail("bulkhead-api exited with status %d on well-formed traffic", si.si_status);
}

static int child_ended(void)
{
	return fzproc_gone(P.alive, P.pidfd, judge);
}

/* Answer every request waiting, as the supervisor would (the page first, for a snapshot). */
static int serve(int err, int spoil)
{
	_Alignas(8) uint8_t buf[IPC_MAX_MSG];
	int served = 0;

	for (;;) {
		const struct ipc_api_request *m = (const void *)buf;
		struct ipc_api_reply r;
		ssize_t n = ipc_recv(P.ctl, buf);

		if (n == -EAGAIN || n == 0)
			return served;
		if (n < 0 && P.raw)
			return served; /* it is ending: child_ended() tells how */
		if (n < 0)
			fz_fail("the control socket: %s", strerror((int)-n));
		if (P.raw && m->h.ih_type == IPC_ERROR)
			continue; /* it refused what it was sent, and is ending */
		FZ_CHECK(n == (ssize_t)sizeof(*m) && m->h.ih_type == IPC_API_REQUEST &&
				 m->aq_cmd > 0 && m->aq_cmd < IPC_API_CMD_MAX,
			 "bulkhead-api sent type %u, %zd bytes", m->h.ih_type, n);
		if (m->aq_cmd == IPC_API_SNAPSHOT) {
			fz_api_page(P.page);
			if (spoil) {
				P.page->pg_nprocs = 0xffffffff;
				P.page->pg_ndevs = 77;
				P.page->pg_config_len = 0x7fffffff;
				memset(P.page->pg_name, 'x', sizeof(P.page->pg_name));
				memset(P.page->pg_procs[1].ap_failure, 0xff, sizeof(P.page->pg_procs[1].ap_failure));
			}
			P.page->pg_seq = m->aq_seq;
		}
		ipc_init(&r, IPC_API_REPLY, sizeof(r));
		r.ar_seq = m->aq_seq;
		r.ar_cmd = m->aq_cmd;
		r.ar_errno = m->aq_cmd == IPC_API_SNAPSHOT ? 0 : err;
		send_msg(&r);
		served++;
	}
}

static struct client *client(struct fz *in)
{
	return &P.c[fz_u8(in) % PA_CLIENTS];
}

/* Non-blocking: a full backlog (16 clients the child has not taken) is EAGAIN, not a wait. */
static int client_connect(struct client *c)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int r;

	client_close(c);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", P.path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		fz_fail("socket: %s", strerror(errno));
	do
		r = connect(c->fd, (struct sockaddr *)&a, sizeof(a));
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (errno != EAGAIN)
		fz_fail("connect %s: %s", P.path, strerror(errno));
	client_close(c);
	return -1;
}

static void client_send(struct client *c, const void *p, size_t n)
{
	if (c->fd >= 0 && send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN &&
	    errno != EPIPE && errno != ECONNRESET)
		fz_fail("send: %s", strerror(errno));
}

static void run_op(struct fz *in)
{
	uint8_t op = fz_u8(in);
	struct client *c;
	uint8_t bytes[4096];
	size_t n;

	switch (op % 8) {
	case 0:
		(void)client_connect(client(in));
		break;
	case 1:
		c = client(in);
		n = fz_u16(in) % sizeof(bytes);
		n = fz_take(in, bytes, n);
		client_send(c, bytes, n);
		break;
	case 2:
		c = client(in);
		n = fz_u8(in) % (sizeof(templates) / sizeof(templates[0]));
		client_send(c, templates[n], strlen(templates[n]));
		break;
	case 3:
		c = client(in);
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_WR);
		break;
	case 4:
		client_close(client(in));
		break;
	case 5:
		n = fz_u8(in);
		serve(answers[n % (sizeof(answers) / sizeof(answers[0]))], fz_u8(in) & 1);
		read_all();
		break;
	case 6:
		usleep(1000u * (fz_u8(in) % 32));
		read_all();
		break;
	case 7:
		n = fz_u16(in) % IPC_MAX_MSG;
		n = fz_take(in, bytes, n);
		if (n) {
			P.raw = 1;
			(void)!send(P.ctl, bytes, n, MSG_NOSIGNAL);
		}
		break;
	}
}

/* After every input: a new client's ping is answered 200 while the supervisor serves. */
static void liveness(void)
{
	struct client *c = &P.c[0];
	long deadline = now_ms() + P.reply_ms;
	int status = 0;

	for (int i = 0; i < PA_CLIENTS; i++)
		client_close(&P.c[i]);
	while (client_connect(c) < 0 && now_ms() < deadline && !child_ended()) {
		serve(0, 0);
		usleep(1000);
	}
	client_send(c, templates[0], strlen(templates[0]));
	while (now_ms() < deadline && !child_ended()) {
		serve(0, 0);
		if (client_read(c))
			break;
		usleep(1000);
	}
	if (!P.alive)
		return;
	if (c->len == 0 && P.raw) {
		/* Told something malformed, it may be on its way out: sockets close before the
		 * pidfd says so. */
		struct pollfd p = { .fd = P.pidfd, .events = POLLIN };

		if (poll(&p, 1, P.reply_ms) == 1) {
			judge();
			return;
		}
	}
	FZ_CHECK(c->fd < 0 && sscanf(P.c[0].in, "HTTP/1.1 %3d", &status) == 1 && status == 200,
		 "no 200 for a ping within %d ms (status %d; %s, %zu bytes; this input %s)", P.reply_ms,
		 status, c->fd < 0 ? "closed" : "still open", c->len,
		 P.raw ? "sent a malformed message" : "was well-formed");
}

static void on_fail(void)
{
	if (P.alive && P.pidfd >= 0)
		syscall(SYS_pidfd_send_signal, P.pidfd, SIGKILL, NULL, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("BH_PROCFUZZ_BINDIR"), *jail = getenv("BH_PROCFUZZ_JAIL");
	const char *t = getenv("BH_PROCFUZZ_TIMEOUT_MS"), *sc = getenv("BH_PROCFUZZ_SECCOMP");
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	(void)argc;
	(void)argv;
	fz_on_fail = on_fail;
	signal(SIGPIPE, SIG_IGN);
	snprintf(P.exe, sizeof(P.exe), "%s/bulkhead-api", dir && *dir ? dir : FUZZ_BINDIR);
	P.reply_ms = t && atoi(t) > 0 ? atoi(t) : 2000;
	P.log_path = getenv("BH_PROCFUZZ_STDERR");
	P.jail_mode = !jail || !strcmp(jail, "on") ? IPC_JAIL_FULL
		      : !strcmp(jail, "no-namespaces") ? IPC_JAIL_NO_NAMESPACES
						       : IPC_JAIL_OFF;
	P.seccomp_mode = !sc || !strcmp(sc, "kill") ? IPC_SECCOMP_KILL
			 : !strcmp(sc, "log")	    ? IPC_SECCOMP_LOG
						    : IPC_SECCOMP_OFF;
	if (P.jail_mode != IPC_JAIL_OFF && geteuid() != 0)
		fz_fail("the jail needs root, as the supervisor does (or set BH_PROCFUZZ_JAIL=off)");
	for (int i = 0; i < PA_CLIENTS; i++) {
		P.c[i].fd = -1;
		P.c[i].in = malloc(PA_RESPONSE_MAX + 1);
		if (!P.c[i].in)
			fz_fail("malloc");
	}
	snprintf(P.dir, sizeof(P.dir), "/tmp/fuzz-api-XXXXXX");
	if (!mkdtemp(P.dir))
		fz_fail("mkdtemp: %s", strerror(errno));
	snprintf(P.path, sizeof(P.path), "%s/api.sock", P.dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", P.path);
	P.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (P.listen_fd < 0 || bind(P.listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(P.listen_fd, 16) < 0)
		fz_fail("the listening socket: %s", strerror(errno));
	P.page_fd = mem_create_sealed("fuzz-api-page", IPC_API_PAGE_SIZE);
	if (P.page_fd < 0)
		fz_fail("the API page: %s", strerror(-P.page_fd));
	P.page = mmap(NULL, IPC_API_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, P.page_fd, 0);
	if (P.page == MAP_FAILED)
		fz_fail("mmap: %s", strerror(errno));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz in;

	if (!P.alive)
		spawn();
	P.raw = 0;
	fz_init(&in, data, size);
	for (int ops = 0; !fz_empty(&in) && ops < 256 && !child_ended(); ops++)
		run_op(&in);
	if (!child_ended())
		liveness();
	child_ended();
	return 0;
}
