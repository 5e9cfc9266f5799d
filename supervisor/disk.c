/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --disk: the supervisor opens every image (the blk process never opens a
 * path), checks it is a regular file or block device whose size is a
 * multiple of 512, and locks it as QEMU does, so two VMs cannot write one
 * image: a write lock for read-write disks, a read lock for read-only ones,
 * both open-file-description locks that travel with the fd to bulkhead-blk.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/layout.h"
#include "supervisor.h"

static int disk_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) < 0 ? -errno : 0;
	return -EINVAL;
}

static int disk_lock(int fd, int readonly)
{
	struct flock fl = {
		.l_type = readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static int disk_open_one(struct sup *s, unsigned int i, char *err, size_t errlen)
{
	const struct disk_config *d = &s->cfg.disks[i];
	struct vdev *v = &s->vdevs[s->nvdevs];
	int flags = (d->readonly || d->snapshot ? O_RDONLY : O_RDWR) | O_CLOEXEC | (d->direct ? O_DIRECT : 0);
	uint64_t size = 0;
	int fd, e;

	fd = open(d->path, flags);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "--disk: path=%s: %s%s", d->path, strerror(e),
			 (e == EACCES || e == EROFS) && !d->readonly ? " (add readonly=on?)" : "");
		return -1;
	}
	e = disk_size(fd, &size);
	if (e == -EINVAL) {
		snprintf(err, errlen, "--disk: path=%s: not a regular file or block device", d->path);
		goto err_close;
	}
	if (e < 0 || size == 0 || size % 512) {
		snprintf(err, errlen, "--disk: path=%s: %s", d->path,
			 e < 0 ? strerror(-e) : "size is not a non-zero multiple of 512 bytes");
		goto err_close;
	}
	if (d->snapshot && (fd = snapshot_overlay(fd, d->path, d->direct, size, err, errlen)) < 0)
		return -1;
	e = disk_lock(fd, d->readonly);
	if (e < 0) {
		snprintf(err, errlen, "--disk: path=%s: %s", d->path,
			 e == -EAGAIN || e == -EACCES ? "in use by another VM (locked)" : strerror(-e));
		goto err_close;
	}
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "blk%u", i);
	v->helper = "blk";
	v->kind = IPC_DEV_BLK;
	v->nqueues = 1;
	v->backend_fd = fd;
	ipc_init(&v->blk, IPC_CFG_BLK, sizeof(v->blk));
	v->blk.cb_size = size;
	v->blk.cb_flags = (d->readonly ? IPC_BLK_F_READONLY : 0) | (d->direct ? IPC_BLK_F_DIRECT : 0);
	snprintf(v->blk.cb_serial, sizeof(v->blk.cb_serial), "%s", d->serial);
	s->nvdevs++;
	return 0;

err_close:
	close(fd);
	return -1;
}

int disks_open(struct sup *s, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < s->cfg.ndisks; i++) {
		if (s->nvdevs >= LAYOUT_MAX_VIRTIO_DEVICES) {
			snprintf(err, errlen, "--disk: at most %d virtio devices in all",
				 LAYOUT_MAX_VIRTIO_DEVICES);
			return -1;
		}
		if (disk_open_one(s, i, err, errlen) < 0)
			return -1;
	}
	return 0;
}
