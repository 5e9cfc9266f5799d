/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --disk: virtio-blk, served by bulkhead-blk. The supervisor opens every image
 * (the blk process never opens a path), checks it is a regular file or block
 * device whose size is a multiple of 512, and locks it as QEMU does, so two
 * VMs cannot write one image: a write lock for read-write disks, a read lock
 * for read-only ones, both open-file-description locks that travel with the
 * fd to bulkhead-blk.
 *
 * snapshot=on (and bulkhead-qemu's -snapshot): the guest writes to a private
 * overlay that disappears when bulkhead exits; the image itself is only read,
 * under a read lock, while the overlay is made.
 *
 * The overlay is an unlinked O_TMPFILE (O_EXCL: it can never be given a
 * name), so it goes with the last fd even when bulkhead is killed, and the
 * blk process serves it like any image (a restarted one too: the supervisor
 * keeps the fd). It is made once, at start:
 *  - in the image's own directory where that may be written, so that
 *    FICLONE shares the image's extents (btrfs, XFS: instant, no space);
 *  - else in $TMPDIR or /var/tmp, with copy_file_range over the image's data
 *    extents only (SEEK_DATA/SEEK_HOLE: a sparse image stays sparse), falling
 *    back to read/write where the kernel cannot copy between the two, and
 *    skipping zero blocks there too.
 * A copy-on-write overlay inside bulkhead-blk would start faster on other
 * file systems, but it would put a second backend, a block map and its
 * persistence into the device process; a copy keeps that process as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "kinds.h"

struct blk_opts {
	char path[PATH_MAX]; /* required */
	int readonly; /* readonly=on|off, default off */
	int direct; /* direct=on|off (O_DIRECT), default off */
	int snapshot; /* snapshot=on|off: writes go to a private overlay gone at exit, default off */
	char serial[IPC_BLK_SERIAL_MAX + 1]; /* serial=ID, default "" */
};
_Static_assert(sizeof(struct blk_opts) <= CONFIG_DEV_OPTS_MAX, "blk options fit");

static const struct key_def blk_keys[] = {
	CONFIG_KEY("path", KEY_STRING, struct blk_opts, path,
		   KEY_REQUIRED | KEY_NONEMPTY | KEY_COMMAS),
	CONFIG_KEY("readonly", KEY_BOOL, struct blk_opts, readonly, KEY_NONEMPTY),
	CONFIG_KEY("serial", KEY_STRING, struct blk_opts, serial, 0),
	CONFIG_KEY("direct", KEY_BOOL, struct blk_opts, direct, KEY_NONEMPTY),
	CONFIG_KEY("snapshot", KEY_BOOL, struct blk_opts, snapshot, KEY_NONEMPTY),
};

static int blk_check(void *opts, char *err, size_t errlen)
{
	const struct blk_opts *o = opts;

	for (const char *q = o->serial; *q; q++) {
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e) {
			snprintf(err, errlen, "--disk: serial=: only printable ASCII");
			return -1;
		}
	}
	return 0;
}

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

#define SNAPSHOT_CHUNK (1u << 20) /* read/write fallback: bytes per step */

/* A private, nameless file in dir, or -errno. */
static int overlay_create(const char *dir, int direct)
{
	int fd = open(dir, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0), 0600);

	return fd < 0 ? -errno : fd;
}

static int all_zero(const char *buf, size_t len)
{
	return len == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
}

/* [off, off + len) of in to out with read/write, leaving zero blocks as holes. */
static int copy_by_hand(int in, int out, uint64_t off, uint64_t len)
{
	char *buf = malloc(SNAPSHOT_CHUNK);
	int e = 0;

	if (!buf)
		return -ENOMEM;
	while (len && e == 0) {
		size_t want = len < SNAPSHOT_CHUNK ? (size_t)len : SNAPSHOT_CHUNK;
		ssize_t n = pread(in, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO; /* the image shrank under its read lock */
			break;
		}
		if (!all_zero(buf, (size_t)n) && pwrite(out, buf, (size_t)n, (off_t)off) != n)
			e = errno ? -errno : -EIO;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	free(buf);
	return e;
}

/* One data extent: copy_file_range, or by hand where the kernel cannot. */
static int copy_extent(int in, int out, uint64_t off, uint64_t len)
{
	while (len) {
		loff_t from = (loff_t)off, to = (loff_t)off;
		ssize_t n = copy_file_range(in, &from, out, &to, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
			return copy_by_hand(in, out, off, len);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* The image's data extents into out (which has its size already). */
static int copy_data(int in, int out, uint64_t size)
{
	uint64_t off = 0;
	int e;

	while (off < size) {
		off_t data = lseek(in, (off_t)off, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			return 0; /* only holes from here on */
		if (data < 0) /* no SEEK_DATA here (a block device): all of it is data */
			return copy_extent(in, out, off, size - off);
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		if ((e = copy_extent(in, out, (uint64_t)data, (uint64_t)(hole - data))) < 0)
			return e;
		off = (uint64_t)hole;
	}
	return 0;
}

static int read_lock(int fd)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

static void dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

static int snapshot_overlay(int image, const char *path, int direct, uint64_t size, char *err,
			    size_t errlen)
{
	const char *tmp = getenv("TMPDIR");
	char dir[PATH_MAX];
	const char *how = "reflink";
	int out, e;

	if ((e = read_lock(image)) < 0) {
		snprintf(err, errlen, "--disk: path=%s: %s", path,
			 e == -EAGAIN || e == -EACCES ? "in use by another VM (locked)" : strerror(-e));
		goto err_close_image;
	}
	dir_of(path, dir, sizeof(dir));
	out = overlay_create(dir, direct);
	if (out < 0 || ioctl(out, FICLONE, image) < 0) {
		if (out >= 0)
			close(out);
		snprintf(dir, sizeof(dir), "%s", tmp && tmp[0] == '/' ? tmp : "/var/tmp");
		out = overlay_create(dir, direct);
		if (out < 0) {
			snprintf(err, errlen, "--disk: path=%s: snapshot=on: a private overlay in %s: %s",
				 path, dir, strerror(-out));
			goto err_close_image;
		}
		how = "copy";
		e = ftruncate(out, (off_t)size) < 0 ? -errno : copy_data(image, out, size);
		if (e < 0) {
			snprintf(err, errlen, "--disk: path=%s: snapshot=on: copying into a private overlay "
				 "in %s: %s", path, dir, strerror(-e));
			close(out);
			goto err_close_image;
		}
	}
	log_debug("--disk: path=%s: snapshot=on: writes go to a private overlay in %s (%s)", path, dir,
		  how);
	close(image);
	return out;

err_close_image:
	close(image);
	return -1;
}

static int blk_open(struct dev_inst *d, char *err, size_t errlen)
{
	const struct blk_opts *o = d->opts;
	struct ipc_cfg_blk *m = (struct ipc_cfg_blk *)d->msg.bytes;
	int flags = (o->readonly || o->snapshot ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    (o->direct ? O_DIRECT : 0);
	uint64_t size = 0;
	int fd, e;

	fd = open(o->path, flags);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "--disk: path=%s: %s%s", o->path, strerror(e),
			 (e == EACCES || e == EROFS) && !o->readonly ? " (add readonly=on?)" : "");
		return -1;
	}
	e = disk_size(fd, &size);
	if (e == -EINVAL) {
		snprintf(err, errlen, "--disk: path=%s: not a regular file or block device", o->path);
		goto err_close;
	}
	if (e < 0 || size == 0 || size % 512) {
		snprintf(err, errlen, "--disk: path=%s: %s", o->path,
			 e < 0 ? strerror(-e) : "size is not a non-zero multiple of 512 bytes");
		goto err_close;
	}
	if (o->snapshot && (fd = snapshot_overlay(fd, o->path, o->direct, size, err, errlen)) < 0)
		return -1;
	e = disk_lock(fd, o->readonly);
	if (e < 0) {
		snprintf(err, errlen, "--disk: path=%s: %s", o->path,
			 e == -EAGAIN || e == -EACCES ? "in use by another VM (locked)" : strerror(-e));
		goto err_close;
	}
	ipc_init(m, IPC_CFG_BLK, sizeof(*m));
	m->cb_disk_fd = fd;
	m->cb_size = size;
	m->cb_flags = (o->readonly ? IPC_BLK_F_READONLY : 0) | (o->direct ? IPC_BLK_F_DIRECT : 0);
	snprintf(m->cb_serial, sizeof(m->cb_serial), "%s", o->serial);
	return 0;

err_close:
	close(fd);
	return -1;
}

static const struct ipc_fd_field blk_fds[] = IPC_CFG_BLK_FDS;

const struct dev_kind kind_blk = {
	.option = "disk",
	.synopsis = "path=FILE[,readonly=on|off][,serial=ID][,direct=on|off][,snapshot=on|off]",
	.help = "A virtio-blk disk, repeatable (vda, vdb, ...). FILE is a raw image or a block "
		"device whose size is a multiple of 512; bulkhead opens and locks it (write lock, "
		"or read lock with readonly=on) and hands the open file to its bulkhead-blk "
		"process. serial is what GET_ID returns (at most 20 bytes); direct=on opens the "
		"image with O_DIRECT. With snapshot=on the guest's writes go to a private, nameless "
		"overlay that is gone when bulkhead exits, even when it is killed: a reflink of the "
		"image where its directory is writable and its file system can, else a copy of its "
		"data extents in TMPDIR or /var/tmp (a sparse image stays sparse); the image is only "
		"read, under a read lock while the overlay is made, so it may be a read-only file. "
		"Default: read-write, buffered.",
	.keys = blk_keys,
	.nkeys = nitems(blk_keys),
	.check = blk_check,
	.max = LAYOUT_MAX_DEVICES,
	.helper = "blk",
	.ipc_kind = IPC_DEV_BLK,
	.virtio_id = IPC_BLK_VIRTIO_ID,
	.nqueues = IPC_BLK_QUEUES,
	.uses_guest_memory = 1,
	.transport = &kinds_virtio_mmio,
	.open = blk_open,
	.msg_type = IPC_CFG_BLK,
	.msg_size = sizeof(struct ipc_cfg_blk),
	.fds = blk_fds,
	.nfds = nitems(blk_fds),
	.restartable = 1,
};
