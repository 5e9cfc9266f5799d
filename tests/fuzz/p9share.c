/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* The 9p fuzz targets' scratch share (p9share.h). */
#include "p9share.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fz.h"

#define SECRET "SECRET 9p fuzz"

static char base[256], share[300], secret[300];
static struct stat secret_st;

static void must(int ok, const char *what)
{
	if (!ok)
		fz_fail("9p share setup: %s: %s", what, strerror(errno));
}

static void host_file(const char *rel, const char *text)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", share, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	must(fd >= 0, p);
	must(write(fd, text, strlen(text)) == (ssize_t)strlen(text), p);
	must(fchmod(fd, 0666) == 0, p);
	close(fd);
}

static void host_link(const char *target, const char *rel)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", share, rel);
	must(symlink(target, p) == 0, p);
}

static void host_dir(const char *rel)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/%s", share, rel);
	must(mkdir(p, 0777) == 0 && chmod(p, 0777) == 0, p);
}

static void build_tree(void)
{
	host_file("hello", "hello, world\n");
	host_dir("sub");
	host_dir("sub/deep");
	host_file("sub/inner", "inner\n");
	host_file("sub/deep/x", "x");
	host_link("/", "toroot");
	host_link(secret, "abs");
	host_link("..", "up");
	host_link("/proc/self/root", "magic");
	host_link("../..", "sub/escape");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	if (ftw->level == 0)
		return 0; /* the share itself stays: the server holds it */
	if (flag == FTW_DP || flag == FTW_DNR)
		chmod(path, 0700); /* a directory the input made unsearchable (chmod follows symlinks) */
	return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

void p9share_wipe(void)
{
	/* Twice: a chmod above lets the second pass into directories the first could not read. */
	if (nftw(share, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		must(nftw(share, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, "wipe the share");
	must(chmod(share, 0777) == 0, "chmod share");
	build_tree();
}

static int rm_all(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_DNR)
		chmod(path, 0700);
	remove(path);
	return 0;
}

static void remove_base(void)
{
	nftw(base, rm_all, 16, FTW_DEPTH | FTW_PHYS);
}

const char *p9share_init(void)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (base[0])
		return share;
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(base, sizeof(base), "%s/bulkhead-fuzz-9p-XXXXXX", tmp);
	must(mkdtemp(base) != NULL, "mkdtemp");
	snprintf(share, sizeof(share), "%s/share", base);
	snprintf(secret, sizeof(secret), "%s/secret", base);
	must(mkdir(share, 0777) == 0 && chmod(share, 0777) == 0, "mkdir share");
	fd = open(secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	must(fd >= 0 && write(fd, SECRET, strlen(SECRET)) == (ssize_t)strlen(SECRET), "secret");
	close(fd);
	must(stat(secret, &secret_st) == 0, "stat secret");
	build_tree();
	atexit(remove_base);
	return share;
}

void p9share_check_outside(void)
{
	char buf[64];
	ssize_t n;
	int fd = open(secret, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char p[600];

	FZ_CHECK(fd >= 0, "the file beside the share is gone: %s", strerror(errno));
	n = read(fd, buf, sizeof(buf));
	close(fd);
	FZ_CHECK(n == (ssize_t)strlen(SECRET) && memcmp(buf, SECRET, (size_t)n) == 0,
		 "the file beside the share changed");
	FZ_CHECK(stat(secret, &st) == 0 && st.st_mode == secret_st.st_mode && st.st_nlink == 1 &&
			 st.st_uid == secret_st.st_uid && st.st_mtim.tv_nsec == secret_st.st_mtim.tv_nsec,
		 "the file beside the share changed mode or links");
	/* Nothing new beside the share: the names a traversal would make. */
	for (const char *const *name = (const char *const[]){ "x", "new", "d", "evil", "fifo", "l", NULL }; *name;
	     name++) {
		snprintf(p, sizeof(p), "%s/%s", base, *name);
		FZ_CHECK(lstat(p, &st) < 0, "%s appeared beside the share", p);
	}
}

