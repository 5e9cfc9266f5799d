/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * devproc_pending (devices/devproc/devproc.c): while a device watches queue q
 * for the driver's next request, anything else that waits for the main loop
 * (a register access on the channel, another queue's kick) ends the watch and
 * stays for the loop; q's own kicks are taken, or every watch after a re-armed
 * queue's kick would end at its first look.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/devproc/devproc.h"

struct rig {
	struct devproc dp;
	int chan[2];
};

static void watch(struct devproc *dp, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	assert_int_equal(epoll_ctl(dp->ep, EPOLL_CTL_ADD, fd, &ev), 0);
}

/* Two queues and the channel to the vcpu process, tagged as devproc_setup tags them. */
static int rig_up(void **state)
{
	static struct rig rig;
	struct rig *r = &rig;

	*r = (struct rig){ .dp.ep = epoll_create1(EPOLL_CLOEXEC) };
	assert_true(r->dp.ep >= 0);
	r->dp.cfg.cd_nqueues = 2;
	for (unsigned int q = 0; q < 2; q++) {
		r->dp.cfg.cd_queue_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(r->dp.cfg.cd_queue_fd[q] >= 0);
		watch(&r->dp, r->dp.cfg.cd_queue_fd[q], EV_QUEUE + q);
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, r->chan), 0);
	r->dp.cfg.cd_chan_fd = r->chan[0];
	watch(&r->dp, r->chan[0], EV_CHANNEL);
	*state = r;
	return 0;
}

static int rig_down(void **state)
{
	struct rig *r = *state;

	for (unsigned int q = 0; q < 2; q++)
		close(r->dp.cfg.cd_queue_fd[q]);
	close(r->chan[0]);
	close(r->chan[1]);
	close(r->dp.ep);
	return 0;
}

static void kick(struct rig *r, unsigned int q, uint64_t n)
{
	assert_int_equal(write(r->dp.cfg.cd_queue_fd[q], &n, sizeof(n)), sizeof(n));
}

/* What queue q's ioeventfd still holds (and takes it), 0 if nothing. */
static uint64_t kicks_left(struct rig *r, unsigned int q)
{
	uint64_t v = 0;

	return read(r->dp.cfg.cd_queue_fd[q], &v, sizeof(v)) == sizeof(v) ? v : 0;
}

static void test_nothing_waits(void **state)
{
	struct rig *r = *state;

	assert_int_equal(devproc_pending(&r->dp, 0), 0);
}

static void test_own_kicks_are_taken(void **state)
{
	struct rig *r = *state;

	kick(r, 0, 2);
	assert_int_equal(devproc_pending(&r->dp, 0), 0);
	assert_int_equal(kicks_left(r, 0), 0);
	assert_int_equal(devproc_pending(&r->dp, 0), 0);
}

static void test_another_queue_ends_the_watch(void **state)
{
	struct rig *r = *state;

	kick(r, 0, 1);
	kick(r, 1, 3);
	assert_int_equal(devproc_pending(&r->dp, 0), 1);
	assert_int_equal(kicks_left(r, 0), 0); /* taken all the same */
	assert_int_equal(kicks_left(r, 1), 3); /* left for the main loop */
	/* watching queue 1 instead: queue 0's kick is the other work now */
	kick(r, 0, 2);
	kick(r, 1, 1);
	assert_int_equal(devproc_pending(&r->dp, 1), 1);
	assert_int_equal(kicks_left(r, 1), 0);
	assert_int_equal(kicks_left(r, 0), 2);
}

static void test_a_register_access_ends_the_watch(void **state)
{
	struct rig *r = *state;
	char msg[16] = "access";

	assert_int_equal(write(r->chan[1], msg, sizeof(msg)), sizeof(msg));
	assert_int_equal(devproc_pending(&r->dp, 0), 1);
	assert_int_equal(devproc_pending(&r->dp, 0), 1); /* still there: the loop reads it */
	assert_int_equal(read(r->chan[0], msg, sizeof(msg)), sizeof(msg));
	assert_int_equal(devproc_pending(&r->dp, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_nothing_waits, rig_up, rig_down),
		cmocka_unit_test_setup_teardown(test_own_kicks_are_taken, rig_up, rig_down),
		cmocka_unit_test_setup_teardown(test_another_queue_ends_the_watch, rig_up, rig_down),
		cmocka_unit_test_setup_teardown(test_a_register_access_ends_the_watch, rig_up, rig_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
