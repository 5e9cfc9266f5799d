/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-9p device (virtio 1.2 section 5.3): device id 9, one request
 * queue, the mount tag in config space (VIRTIO_9P_F_MOUNT_TAG). Each chain
 * is one request: its readable part holds the T-message, its writable part
 * receives the R-message, and the used length is the reply's size. A chain
 * whose writable part cannot hold even an Rlerror cannot be answered: the
 * device goes to DEVICE_NEEDS_RESET, as blk does for a chain without a
 * status byte.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "p9.h"

static uint64_t p9_features(struct virtio_dev *vd)
{
	(void)vd;
	return VIRTIO_BIT(VIRTIO_9P_F_MOUNT_TAG) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
	       VIRTIO_BIT(VIRTIO_F_RING_EVENT_IDX);
}

static uint64_t p9_config_read(struct virtio_dev *vd, uint32_t off, unsigned int size)
{
	struct p9_dev *d = vd->priv;
	uint64_t v = 0;

	memcpy(&v, (const uint8_t *)&d->config + off, size);
	return v;
}

static int p9_request(struct virtio_dev *vd, unsigned int q)
{
	struct p9_dev *d = vd->priv;
	const struct virtq_chain *c = &d->chain;
	size_t len = p9_handle(&d->srv, c->iov, c->nread, c->iov + c->nread, c->nwrite);

	if (len == 0) {
		virtio_count(&d->vd, 0, 0, 1);
		virtio_fail(&d->vd, q, "9p request without room for a reply");
		return -1;
	}
	virtq_push(&d->vd.queues[q], c->head, (uint32_t)len);
	virtio_count(&d->vd, 1, c->read_len + len, 0); /* the T-message and its R-message */
	return 0;
}

static void p9_queue_notify(struct virtio_dev *vd, unsigned int q)
{
	struct p9_dev *d = vd->priv;

	virtio_serve_queue(vd, q, &d->chain, p9_request);
}

/* A reset ends the session: the driver starts again with Tversion. */
static void p9_reset(struct virtio_dev *vd)
{
	struct p9_dev *d = vd->priv;

	p9_server_reset(&d->srv);
}

const struct virtio_dev_ops p9_virtio_ops = {
	.name = "virtio-9p",
	.device_id = VIRTIO_ID_9P,
	.nqueues = 1,
	.features = p9_features,
	.queue_notify = p9_queue_notify,
	.config_len = sizeof(struct p9_virtio_config),
	.config_read = p9_config_read,
	.reset = p9_reset,
	.poll = 1, /* a client waits for each reply: every round trip counts */
};

int p9_dev_setup(struct p9_dev *d, int root_fd, uint32_t flags, unsigned int fd_budget, const char *tag,
		 const struct guest_mem *mem)
{
	size_t len;
	int err;

	if (!p9_tag_ok(tag))
		return -EINVAL;
	err = p9_server_init(&d->srv, root_fd, flags, fd_budget);
	if (err < 0)
		return err;
	len = strlen(tag);
	memset(&d->config, 0, sizeof(d->config));
	d->config.tag_len = (uint16_t)len; /* little-endian, like the host */
	memcpy(d->config.tag, tag, len);
	virtio_init(&d->vd, &p9_virtio_ops, mem, d);
	return 0;
}

void p9_dev_destroy(struct p9_dev *d)
{
	p9_server_destroy(&d->srv);
}
