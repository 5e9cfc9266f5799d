/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vcpu process's control receiver for fuzz_ipc, reached by including
 * vcpu/main.c (its table and handlers are static). Real handlers, except
 * CFG_DONE (its checks only: no VM, no threads, no jail) and START (no
 * vCPUs to start).
 */
#define main fz_vcpu_main
#include "vcpu/main.c"
#undef main

#include "fz.h"
#include "fuzz_ipc.h"

int fz_vcpu_main(int argc, char **argv);

static struct ctx vc;
static struct ipc_handler fz_table[nitems(control_table)];

static int fz_on_cfg_done(void *arg, const void *msg)
{
	struct ctx *c = arg;

	(void)msg;
	if (!c->have_cfg || !runtime_configured(&c->rt))
		return -EPROTO;
	c->rt.state = ST_READY;
	return 0;
}

static int fz_on_start(void *arg, const void *msg)
{
	struct ctx *c = arg;

	(void)msg;
	c->rt.state = ST_RUN;
	return 0;
}

void fzipc_vcpu_reset(void)
{
	static int ready;

	if (!ready) {
		for (size_t i = 0; i < nitems(control_table); i++) {
			fz_table[i] = control_table[i];
			if (control_table[i].type == IPC_CFG_DONE)
				fz_table[i].fn = fz_on_cfg_done;
			if (control_table[i].type == IPC_START)
				fz_table[i].fn = fz_on_start;
		}
		ready = 1;
	}
	for (unsigned int i = 0; i < vc.vm.ndevs; i++)
		pthread_mutex_destroy(&vc.vm.devs[i].lock);
	memset(&vc, 0, sizeof(vc));
	runtime_init(&vc.rt, "fuzz_ipc", "vcpu", 1);
	vc.vm.kvm_fd = -1;
	vc.vm.vm_fd = -1;
	for (unsigned int i = 0; i < LAYOUT_MAX_MEM_REGIONS; i++)
		vc.vm.mem.regions[i].fd = -1;
}

int fzipc_vcpu_control(const void *buf, size_t len)
{
	int err = fzipc_runtime_dispatch(&vc.rt, fz_table, nitems(fz_table), &vc, buf, len);

	if (err == 0) {
		FZ_CHECK(vc.vm.ndevs <= LAYOUT_MAX_DEVICES, "%u devices", vc.vm.ndevs);
		for (unsigned int i = 0; i < vc.vm.ndevs; i++) {
			const struct dev_chan *d = &vc.vm.devs[i];

			FZ_CHECK(d->len > 0 && d->nqueues <= IPC_MAX_QUEUES, "device %u: len %llu, %u queues", i,
				 (unsigned long long)d->len, d->nqueues);
			FZ_CHECK(d->space == IPC_SPACE_PIO ? d->base + d->len <= 0x10000
							   : d->space == IPC_SPACE_MMIO &&
								     d->base >= LAYOUT_LOW_RAM_END &&
								     d->base + d->len <= LAYOUT_HIGH_RAM_START,
				 "device %u: window [0x%llx, +0x%llx) in space %u", i, (unsigned long long)d->base,
				 (unsigned long long)d->len, d->space);
			for (unsigned int j = 0; j < i; j++) {
				const struct dev_chan *e = &vc.vm.devs[j];

				FZ_CHECK(e->space != d->space || d->base >= e->base + e->len ||
						 e->base >= d->base + d->len,
					 "devices %u and %u overlap", j, i);
			}
		}
	}
	if (err < 0 || vc.rt.done)
		fzipc_vcpu_reset();
	return err;
}
