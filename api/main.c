/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-api main: the bootstrap (runtime/: CFG_API, CFG_JAIL, CFG_DONE,
 * then the jail and api.policy), then one epoll loop over the listening
 * socket, at most API_MAX_CONNS connections and the control socket.
 *
 * Connections are non-blocking, each with its own parser state and response
 * buffer and one deadline for its whole life, so a slow or silent client
 * holds one slot for at most API_TIMEOUT_MS and delays no other. One request
 * to the supervisor is in flight at a time; the others wait their turn in
 * arrival order. A SNAPSHOT's page is copied and sanitized as soon as its
 * answer arrives, before the next request can make the supervisor write it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api.h"
#include "common/clock.h"
#include "common/log.h"
#include "runtime/runtime.h"
#include "testhooks/testhooks.h"

#define ST_RUN 0x2u /* serving, after READY */
#define TAG_CONTROL 0
#define TAG_LISTEN 1
#define TAG_CONN 2 /* + the connection's index */
#define READ_CHUNK 4096
#define DRAIN_MAX (64 * 1024) /* bytes of an unread request read and dropped after an error */
#define NS_PER_MS 1000000ull

/* 503 for a connection beyond API_MAX_CONNS, sent before its request is read. */
static const char busy_response[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
				    "Content-Length: 33\r\nConnection: close\r\n\r\n"
				    "{\"error\":\"too many connections\"}";

enum conn_state {
	CONN_FREE = 0,
	CONN_READ, /* reading the request */
	CONN_WAIT, /* waiting for the supervisor */
	CONN_WRITE, /* writing the response, then closing */
	CONN_DRAIN, /* the response is out, the request was not read to its end: read and drop
		     * what the client still sends (at most DRAIN_MAX), so that it reads the
		     * answer instead of a reset */
};

struct conn {
	enum conn_state state;
	int fd;
	uint64_t deadline; /* CLOCK_MONOTONIC ns: the whole connection ends by then */
	uint64_t order; /* its turn among those waiting for the supervisor */
	struct api_req req;
	struct api_action act;
	char *out;
	size_t out_len, out_off;
	size_t drained;
	int unwatched; /* left the epoll set while waiting (the peer hung up) */
};

static struct api {
	struct runtime rt;
	struct ipc_cfg_api cfg;
	int have_cfg;
	const struct ipc_api_page *page; /* the supervisor's, read-only */
	struct ipc_api_page copy; /* what a response is made from */
	int ep;
	struct conn conns[API_MAX_CONNS + API_MAX_REFUSED];
	uint64_t next_order;
	/* the request in flight to the supervisor */
	int busy;
	uint32_t seq, cmd;
	int waiter; /* the connection it is for, or -1 (it timed out meanwhile) */
	uint64_t busy_since;
} A;

static const struct ipc_fd_field api_fds[] = IPC_CFG_API_FDS;

static int watch(int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(A.ep, op, fd, &ev) < 0 ? -errno : 0;
}

static void conn_close(struct conn *c)
{
	if (c->state == CONN_FREE)
		return;
	if (A.busy && A.waiter == (int)(c - A.conns))
		A.waiter = -1;
	close(c->fd); /* leaves the epoll set with it */
	if (c->out != busy_response)
		free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void conn_drain(struct conn *c)
{
	char buf[READ_CHUNK];

	while (c->drained < DRAIN_MAX) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		c->drained += (size_t)n;
	}
	conn_close(c);
}

/* Write what is left of the response; then close, or drain what was not read. */
static void conn_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->req.complete || shutdown(c->fd, SHUT_WR) < 0 ||
	    watch(EPOLL_CTL_MOD, c->fd, EPOLLIN | EPOLLRDHUP, TAG_CONN + (uint64_t)(c - A.conns)) < 0) {
		conn_close(c);
		return;
	}
	c->state = CONN_DRAIN;
	conn_drain(c);
}

/* The response to c's request, given the supervisor's answer (err) and the page copy. */
static void conn_respond(struct conn *c, int err)
{
	char *out;
	size_t len;

	if (api_respond(&c->act, err, &A.copy, &out, &len) < 0) {
		log_warnx("no memory for a response");
		conn_close(c);
		return;
	}
	log_debug("%s %s: %.*s",
		  c->req.complete ? http_method_str((enum http_method)c->req.parser.method) : "(unread)",
		  c->req.url, (int)(strchr(out, '\r') ? strchr(out, '\r') - out : 0), out);
	c->out = out;
	c->out_len = len;
	c->state = CONN_WRITE;
	if (watch(c->unwatched ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, EPOLLOUT,
		  TAG_CONN + (uint64_t)(c - A.conns)) < 0) {
		conn_close(c);
		return;
	}
	c->unwatched = 0;
	conn_write(c);
}

/* A request is in (or broken): answer it now, or queue it for the supervisor. */
static void conn_routed(struct conn *c)
{
	testhook_fault_fire();
	api_route(&c->req, &c->act);
	if (c->act.status) {
		conn_respond(c, 0);
		return;
	}
	c->state = CONN_WAIT;
	c->order = A.next_order++;
	/* Nothing more is read from it; its response is written when the answer comes. */
	if (watch(EPOLL_CTL_MOD, c->fd, 0, TAG_CONN + (uint64_t)(c - A.conns)) < 0)
		conn_close(c);
}

static void conn_read(struct conn *c)
{
	char buf[READ_CHUNK];

	while (c->state == CONN_READ) {
		ssize_t n = read(c->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			conn_close(c);
			return;
		}
		api_req_feed(&c->req, buf, (size_t)n);
		if (c->req.complete || c->req.status)
			conn_routed(c);
		else if (n == 0)
			conn_close(c); /* it left before it finished asking */
	}
}

static void conn_event(struct conn *c, uint32_t events)
{
	if (c->state == CONN_READ)
		conn_read(c);
	else if (c->state == CONN_WRITE && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		conn_write(c);
	else if (c->state == CONN_DRAIN)
		conn_drain(c);
	else if (c->state == CONN_WAIT && (events & (EPOLLERR | EPOLLHUP)) && !c->unwatched) {
		/* Gone while it waits: its answer finds out; until then, no event per loop. */
		if (watch(EPOLL_CTL_DEL, c->fd, 0, 0) == 0)
			c->unwatched = 1;
	}
}

/* A free slot, and how many connections are being served (not just refused). */
static struct conn *conn_free_slot(unsigned int *served)
{
	struct conn *free_slot = NULL;

	*served = 0;
	for (size_t i = 0; i < nitems(A.conns); i++) {
		if (A.conns[i].state == CONN_FREE && !free_slot)
			free_slot = &A.conns[i];
		else if (A.conns[i].state != CONN_FREE && A.conns[i].out != busy_response)
			(*served)++;
	}
	return free_slot;
}

/*
 * Every waiting connection. One beyond API_MAX_CONNS is answered 503 at once
 * and then drained for a moment (closing it before it has sent its request
 * would make its send fail before it reads the answer); beyond that too, it
 * is closed. An accept4 error other than "none waiting" (which bounds on fds
 * make impossible) ends the process rather than spin on the socket.
 */
static int accept_all(void)
{
	for (;;) {
		int fd = accept4(A.cfg.ca_listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned int served;
		struct conn *c;

		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && errno == ECONNABORTED)
			continue;
		if (fd < 0)
			return errno == EAGAIN ? 0 : -errno;
		c = conn_free_slot(&served);
		if (!c) {
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		api_req_init(&c->req);
		if (watch(EPOLL_CTL_ADD, fd, served >= API_MAX_CONNS ? EPOLLOUT : EPOLLIN | EPOLLRDHUP,
			  TAG_CONN + (uint64_t)(c - A.conns)) < 0) {
			close(fd);
			continue;
		}
		if (served >= API_MAX_CONNS) {
			c->state = CONN_WRITE;
			c->deadline = now_ns() + API_REFUSED_MS * NS_PER_MS;
			c->out = (char *)(uintptr_t)busy_response;
			c->out_len = sizeof(busy_response) - 1;
			conn_write(c);
			continue;
		}
		c->state = CONN_READ;
		c->deadline = now_ns() + API_TIMEOUT_MS * NS_PER_MS;
		conn_read(c);
	}
}

/* The next waiting connection's request to the supervisor, when none is in flight. */
static int pump(void)
{
	struct ipc_api_request m;
	struct conn *next = NULL;
	int err;

	if (A.busy)
		return 0;
	for (size_t i = 0; i < nitems(A.conns); i++) {
		struct conn *c = &A.conns[i];

		if (c->state == CONN_WAIT && (!next || c->order < next->order))
			next = c;
	}
	if (!next)
		return 0;
	ipc_init(&m, IPC_API_REQUEST, sizeof(m));
	m.aq_seq = ++A.seq;
	m.aq_cmd = api_cmd(next->act.route, &m.aq_what);
	err = ipc_send(IPC_FD_CONTROL, &m);
	if (err < 0)
		return err;
	A.busy = 1;
	A.cmd = m.aq_cmd;
	A.waiter = (int)(next - A.conns);
	A.busy_since = now_ns();
	return 0;
}

static int on_api_reply(void *arg, const void *msg)
{
	const struct ipc_api_reply *m = msg;
	struct conn *c;
	int err;

	(void)arg;
	if (m->ar_errno < 0 || m->ar_errno > IPC_ERRNO_MAX)
		return -EPROTO;
	/* An answer to a request that was given up on (it came after its deadline). */
	if (!A.busy || m->ar_seq != A.seq || m->ar_cmd != A.cmd)
		return 0;
	A.busy = 0;
	err = m->ar_errno;
	if (err == 0 && m->ar_cmd == IPC_API_SNAPSHOT) {
		memcpy(&A.copy, A.page, sizeof(A.copy));
		api_page_sanitize(&A.copy);
		if (A.copy.pg_seq != m->ar_seq)
			err = EIO;
	}
	if (A.waiter >= 0) {
		c = &A.conns[A.waiter];
		A.waiter = -1;
		conn_respond(c, err);
	}
	return 0;
}

/* Deadlines: a connection's whole life, and an answer the supervisor owes. */
static void expire(void)
{
	uint64_t now = now_ns();

	for (size_t i = 0; i < nitems(A.conns); i++) {
		struct conn *c = &A.conns[i];

		if (c->state == CONN_FREE || now < c->deadline)
			continue;
		if (c->state == CONN_WAIT) {
			if (A.busy && A.waiter == (int)i)
				A.waiter = -1;
			c->deadline = now + API_TIMEOUT_MS * NS_PER_MS; /* for writing the 504 */
			c->act.status = 0;
			conn_respond(c, ETIMEDOUT);
		} else {
			conn_close(c); /* a client too slow to ask, or to take its answer */
		}
	}
	if (A.busy && now - A.busy_since > API_TIMEOUT_MS * NS_PER_MS) {
		log_warnx("the supervisor did not answer request %u within %d ms", A.seq,
			  API_TIMEOUT_MS);
		A.busy = 0;
	}
}

static int next_timeout_ms(void)
{
	uint64_t now = now_ns(), first = UINT64_MAX;

	for (size_t i = 0; i < nitems(A.conns); i++) {
		if (A.conns[i].state != CONN_FREE && A.conns[i].deadline < first)
			first = A.conns[i].deadline;
	}
	if (A.busy && A.busy_since + API_TIMEOUT_MS * NS_PER_MS < first)
		first = A.busy_since + API_TIMEOUT_MS * NS_PER_MS;
	if (first == UINT64_MAX)
		return -1;
	return first <= now ? 0 : (int)((first - now) / NS_PER_MS) + 1;
}

static int on_cfg_api(void *arg, const void *msg)
{
	const struct ipc_cfg_api *m = msg;

	(void)arg;
	if (A.have_cfg || (m->ca_flags & ~(uint32_t)IPC_API_F_VERBOSE) ||
	    runtime_bind_fds(&A.rt, m, api_fds, nitems(api_fds)) < 0)
		return -EPROTO;
	A.cfg = *m;
	A.have_cfg = 1;
	if (m->ca_flags & IPC_API_F_VERBOSE)
		log_set_verbose(1);
	return 0;
}

/*
 * Connections get the lowest free fd numbers: with 0 and 1 (closed at spawn)
 * taken, every connection's number is above every fd the process was given,
 * which is what api.policy's @CONN_FD_MIN rules rely on.
 */
static int conn_fd_min(void)
{
	int top = A.ep;

	if (A.cfg.ca_listen_fd > top)
		top = A.cfg.ca_listen_fd;
	if (A.cfg.ca_page_fd > top)
		top = A.cfg.ca_page_fd;
	return top + 1;
}

static int on_cfg_done(void *arg, const void *msg)
{
	unsigned int nofile;
	int err;

	(void)arg;
	(void)msg;
	if (!A.have_cfg || !runtime_configured(&A.rt))
		return -EPROTO;
	A.page = runtime_map_page(A.cfg.ca_page_fd, IPC_API_PAGE_SIZE, PROT_READ);
	if (!A.page)
		return -errno;
	err = watch(EPOLL_CTL_ADD, A.cfg.ca_listen_fd, EPOLLIN, TAG_LISTEN);
	/* every slot's connection, and one more: accepted only to be closed when all are taken */
	nofile = (unsigned int)conn_fd_min() + nitems(A.conns) + 2;
	if (err == 0)
		err = runtime_bind(&A.rt, "EPOLL_FD", A.ep);
	if (err == 0)
		err = runtime_bind(&A.rt, "CONN_FD_MIN", conn_fd_min());
	if (err == 0)
		err = runtime_lockdown(&A.rt, nofile);
	if (err == 0)
		err = runtime_send(IPC_READY);
	if (err == 0)
		A.rt.state = ST_RUN;
	return err;
}

static const struct ipc_handler control_table[] = {
	{ IPC_CFG_API, sizeof(struct ipc_cfg_api), RUNTIME_ST_BOOT, on_cfg_api },
	{ IPC_CFG_DONE, sizeof(struct ipc_empty), RUNTIME_ST_BOOT, on_cfg_done },
	{ IPC_API_REPLY, sizeof(struct ipc_api_reply), ST_RUN, on_api_reply },
};

static int handle(const struct epoll_event *ev)
{
	uint64_t tag = ev->data.u64;

	if (tag == TAG_CONTROL)
		return runtime_control(&A.rt, control_table, nitems(control_table), NULL);
	if (A.rt.state != ST_RUN)
		return 0;
	if (tag == TAG_LISTEN)
		return accept_all();
	if (tag >= TAG_CONN && tag < TAG_CONN + nitems(A.conns))
		conn_event(&A.conns[tag - TAG_CONN], ev->events);
	return 0;
}

static int api_loop(void)
{
	int err = watch(EPOLL_CTL_ADD, IPC_FD_CONTROL, EPOLLIN, TAG_CONTROL);

	while (!err && !A.rt.done) {
		struct epoll_event evs[API_MAX_CONNS + 2];
		int n = epoll_wait(A.ep, evs, (int)nitems(evs), next_timeout_ms());

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (int i = 0; i < n && !err && !A.rt.done; i++)
			err = handle(&evs[i]);
		if (!err && A.rt.state == ST_RUN) {
			expire();
			err = pump();
		}
	}
	return err;
}

/* fds 0 and 1 (closed at spawn) become copies of stderr, so connections never get them. */
static int fill_std_fds(void)
{
	for (int fd = 0; fd < STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && dup2(STDERR_FILENO, fd) < 0)
			return -errno;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int err;

	(void)argc;
	runtime_init(&A.rt, argv[0] && argv[0][0] ? argv[0] : "bulkhead-api", "api", 0);
	A.waiter = -1;
	for (size_t i = 0; i < nitems(A.conns); i++)
		A.conns[i].fd = -1;
	/* A client that leaves early must not end us: its write fails with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	api_http_init();
	if (api_json_init() < 0)
		fatal("seeding the JSON library");
	if (fill_std_fds() < 0)
		fatal("fds 0 and 1");
	A.ep = epoll_create1(EPOLL_CLOEXEC);
	if (A.ep < 0)
		fatal("epoll_create1");
	err = api_loop();
	for (size_t i = 0; i < nitems(A.conns); i++)
		conn_close(&A.conns[i]);
	if (err < 0) {
		errno = -err;
		log_warn("stopping");
		runtime_fail(&A.rt, err, err == -EPROTO ? "protocol error" : "bulkhead-api");
		return 1;
	}
	return 0;
}
