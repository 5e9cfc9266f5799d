/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "kinds.h"

#include <string.h>
#include <unistd.h>

#include "common/layout.h"
#include "common/log.h"

/* Each kind's row, in its own file; the order is the order of their windows. */
extern const struct dev_kind kind_serial, kind_blk, kind_net, kind_9p, kind_rng, kind_vsock,
	kind_api;

const struct dev_kind *const kinds_table[] = {
	&kind_serial,
	&kind_blk,
	&kind_net,
	&kind_9p,
	&kind_rng,
	&kind_vsock,
	&kind_api,
};
const size_t kinds_count = nitems(kinds_table);

/* A 4 KiB virtio-mmio window with its own GSI, placed in order from
 * LAYOUT_VIRTIO_MMIO_BASE. Its side-effect-free registers (32-bit, below
 * 0x100) and config space are shadowed; InterruptACK is synchronous. */
const struct dev_transport kinds_virtio_mmio = {
	.name = "virtio-mmio",
	.space = IPC_SPACE_MMIO,
	.len = LAYOUT_VIRTIO_MMIO_SIZE,
	.notify_off = VIRTIO_MMIO_QUEUE_NOTIFY_OFF,
	.nsync = 1,
	.sync_off = { VIRTIO_MMIO_INTERRUPT_ACK_OFF },
	.shadow_width = 4,
	.shadow_regs = VIRTIO_MMIO_CONFIG_OFF / 4,
	.shadow_config_off = VIRTIO_MMIO_CONFIG_OFF,
	.shadow = 1,
	.announce = 1,
};

/* COM1: eight ports at 0x3f8, GSI 4. Its shadow answers the reads of the UART's
 * registers that change nothing (bulkhead-serial says which, as its state goes),
 * also while THR writes that change none of them are on their way. */
const struct dev_transport kinds_com1 = {
	.name = "COM1",
	.space = IPC_SPACE_PIO,
	.base = LAYOUT_COM1_PORT,
	.len = LAYOUT_COM1_PORTS,
	.gsi = LAYOUT_SERIAL_GSI,
	.shadow_width = 1,
	.shadow_regs = LAYOUT_COM1_PORTS,
	.shadow = 1,
};

const struct dev_kind *kinds_find(const char *name, size_t len)
{
	for (size_t i = 0; i < kinds_count; i++) {
		const char *o = kinds_table[i]->option;

		if (strlen(o) == len && memcmp(o, name, len) == 0)
			return kinds_table[i];
	}
	return NULL;
}

const struct dev_kind *kinds_by_helper(const char *helper)
{
	for (size_t i = 0; i < kinds_count; i++) {
		if (strcmp(kinds_table[i]->helper, helper) == 0)
			return kinds_table[i];
	}
	return NULL;
}

int kinds_announced(const struct dev_kind *k)
{
	return k->transport && k->transport->announce;
}

int kinds_msg_fd(const struct dev_inst *d, size_t i)
{
	int32_t fd;

	memcpy(&fd, d->msg.bytes + d->kind->fds[i].off, sizeof(fd));
	return fd;
}

void kinds_set_msg_fd(struct dev_inst *d, size_t i, int fd)
{
	int32_t v = fd;

	memcpy(d->msg.bytes + d->kind->fds[i].off, &v, sizeof(v));
}

int kinds_listen_fd(const struct dev_inst *d)
{
	for (size_t i = 0; d->kind->listen_fd && d->msg.h.ih_type && i < d->kind->nfds; i++) {
		if (!strcmp(d->kind->fds[i].name, d->kind->listen_fd))
			return kinds_msg_fd(d, i);
	}
	return -1;
}

void kinds_close(struct dev_inst *d)
{
	for (size_t i = 0; d->msg.h.ih_type && i < d->kind->nfds; i++) {
		int fd = kinds_msg_fd(d, i);

		if (fd >= 0)
			close(fd);
		kinds_set_msg_fd(d, i, IPC_FD_NONE);
	}
}
