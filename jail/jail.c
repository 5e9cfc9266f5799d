/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include "jail.h"

#include "ipc/ipc.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Any existing directory will do as the mount point of the new root; these
 * exist on every system bulkhead runs on, in this order of preference. */
static const char *const root_mountpoints[] = { "/proc", "/tmp", "/dev", "/mnt" };

/* A failed step and the option that would skip it: one line. */
static int fail_with(char *err, size_t errlen, const char *step, int e, const char *relax)
{
	snprintf(err, errlen, "jail step '%s' failed: %s (%s)", step, strerror(e), relax);
	return -e;
}

/* Steps 1 and 2, the namespaces and the empty root. */
static int step_fail(char *err, size_t errlen, const char *step, int e)
{
	return fail_with(err, errlen, step, e, "--jail no-namespaces runs without namespaces");
}

/* Steps 3 to 5, which every jail takes. */
static int creds_fail(char *err, size_t errlen, const char *step, int e)
{
	return fail_with(err, errlen, step, e, "only --jail off skips it");
}

static const char *pick_mountpoint(void)
{
	struct stat st;

	for (size_t i = 0; i < sizeof(root_mountpoints) / sizeof(root_mountpoints[0]); i++) {
		if (stat(root_mountpoints[i], &st) == 0 && S_ISDIR(st.st_mode))
			return root_mountpoints[i];
	}
	return NULL;
}

/* An empty, read-only tmpfs becomes /: nothing of the host's file system stays reachable. */
static int empty_root(char *err, size_t errlen)
{
	const char *dir = pick_mountpoint();

	if (!dir)
		return step_fail(err, errlen, "find a mount point for the empty root", ENOENT);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return step_fail(err, errlen, "make every mount private", errno);
	if (mount("bulkhead", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555") < 0)
		return step_fail(err, errlen, "mount an empty tmpfs", errno);
	if (chdir(dir) < 0)
		return step_fail(err, errlen, "enter the empty tmpfs", errno);
	/* pivot_root(".", "."): the old root ends up stacked under the new one... */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return step_fail(err, errlen, "pivot_root into the empty tmpfs", errno);
	/* ...and is detached here, with everything mounted below it. */
	if (umount2(".", MNT_DETACH) < 0)
		return step_fail(err, errlen, "detach the old root", errno);
	if (chdir("/") < 0)
		return step_fail(err, errlen, "chdir /", errno);
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return step_fail(err, errlen, "make the root read-only", errno);
	return 0;
}

/*
 * The shared directory again, by path, in this new mount namespace: a mount
 * can only be cloned from the namespace it is in, and share_fd's is the
 * supervisor's. The path is the fd's own (its /proc link); the directory
 * found must be the same inode, or the path changed under us.
 */
static int share_reopen(const struct jail_config *jc, char *err, size_t errlen)
{
	char link[64], path[PATH_MAX];
	struct stat want, got;
	ssize_t n;
	int fd;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", jc->share_fd);
	if (fstat(jc->share_fd, &want) < 0)
		return step_fail(err, errlen, "stat the shared directory", errno);
	n = readlink(link, path, sizeof(path));
	if (n < 0)
		return step_fail(err, errlen, "read the shared directory's path", errno);
	if ((size_t)n >= sizeof(path) || path[0] != '/')
		return step_fail(err, errlen, "read the shared directory's path", ENAMETOOLONG);
	path[n] = '\0';
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return step_fail(err, errlen, "open the shared directory in the jail's namespace", errno);
	if (fstat(fd, &got) < 0 || got.st_dev != want.st_dev || got.st_ino != want.st_ino) {
		close(fd);
		return step_fail(err, errlen, "find the same shared directory (it moved)", ESTALE);
	}
	return fd;
}

/* A bind mount of the shared directory becomes /: nothing else of the host stays reachable. */
static int shared_root(const struct jail_config *jc, char *err, size_t errlen)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
			    (jc->share_readonly ? MOUNT_ATTR_RDONLY : 0),
	};
	const char *dir = pick_mountpoint();
	int fd, tree, e;

	if (!dir)
		return step_fail(err, errlen, "find a mount point for the shared directory", ENOENT);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return step_fail(err, errlen, "make every mount private", errno);
	fd = share_reopen(jc, err, errlen);
	if (fd < 0)
		return fd;
	tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	e = errno;
	close(fd);
	if (tree < 0)
		return step_fail(err, errlen,
				 e == EINVAL && jc->userns ? "bind the shared directory (mounts below it cannot be hidden "
					       "without privilege: share a directory with no mount below it)"
					     : "bind the shared directory",
				 e);
	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		e = step_fail(err, errlen, "make the shared directory's mount nosuid, nodev, noexec", errno);
		goto err_close_tree;
	}
	if (move_mount(tree, "", AT_FDCWD, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		e = step_fail(err, errlen, "mount the shared directory", errno);
		goto err_close_tree;
	}
	if (chdir(dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0) {
		e = step_fail(err, errlen, "pivot_root into the shared directory", errno);
		goto err_close_tree;
	}
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		e = step_fail(err, errlen, "detach the old root", errno);
		goto err_close_tree;
	}
	/* The server goes on at the same fd number, now on the jail's mount. */
	if (dup3(tree, jc->share_fd, O_CLOEXEC) < 0) {
		e = step_fail(err, errlen, "keep the shared directory's new root", errno);
		goto err_close_tree;
	}
	close(tree);
	return 0;

err_close_tree:
	close(tree);
	return e;
}

int jail_enter_fs(const struct jail_config *jc, char *err, size_t errlen)
{
	if (jc->mode != JAIL_FULL)
		return 0;
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0)
		return step_fail(err, errlen, "unshare mount, network, IPC and UTS namespaces", errno);
	return jc->share ? shared_root(jc, err, errlen) : empty_root(err, errlen);
}

static int set_limit(int resource, rlim_t value)
{
	struct rlimit rl = { .rlim_cur = value, .rlim_max = value };

	return setrlimit(resource, &rl) < 0 ? -errno : 0;
}

static int limits(const struct jail_config *jc, char *err, size_t errlen)
{
	int e;

	if ((e = set_limit(RLIMIT_NOFILE, jc->nofile)) < 0)
		return creds_fail(err, errlen, "rlimit NOFILE", -e);
	if ((e = set_limit(RLIMIT_CORE, 0)) < 0)
		return creds_fail(err, errlen, "rlimit CORE", -e);
	if (!jc->keep_nproc && (e = set_limit(RLIMIT_NPROC, 0)) < 0)
		return creds_fail(err, errlen, "rlimit NPROC", -e);
	return 0;
}

static int write_proc_self(const char *file, const char *text)
{
	char path[64];
	size_t len = strlen(text);
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	e = errno;
	close(fd);
	if (n < 0)
		return -e;
	return (size_t)n == len ? 0 : -EIO;
}

int jail_map_ids(uid_t uid, gid_t gid)
{
	char line[64];
	int r;

	if ((r = write_proc_self("setgroups", "deny")) < 0)
		return r;
	snprintf(line, sizeof(line), "0 %u 1", (unsigned int)uid);
	if ((r = write_proc_self("uid_map", line)) < 0)
		return r;
	snprintf(line, sizeof(line), "0 %u 1", (unsigned int)gid);
	return write_proc_self("gid_map", line);
}

int jail_narrow_supervisor(char *err, size_t errlen)
{
	if (geteuid() == 0) {
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_KILL) < 0 ||
		    capng_apply(CAPNG_SELECT_BOTH) < 0)
			return creds_fail(err, errlen, "keep only CAP_KILL", EPERM);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return creds_fail(err, errlen, "no_new_privs", errno);
	return 0;
}

/*
 * --jail no-namespaces run by a user without CAP_SETUID: the supervisor gave
 * the children its own ids, which they keep (with its supplementary groups,
 * which only CAP_SETGID could drop).
 */
static int keeps_own_ids(const struct jail_config *jc)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;

	if (jc->mode != JAIL_NO_NAMESPACES || getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return 0;
	capng_get_caps_process();
	return r == jc->uid && e == jc->uid && s == jc->uid && rg == jc->gid && eg == jc->gid &&
	       sg == jc->gid && !capng_have_capability(CAPNG_EFFECTIVE, CAP_SETUID);
}

/* Every capability goes, from the effective, permitted, inheritable and bounding sets;
 * then the ids change (libcap-ng keeps CAP_SETUID just long enough to do it). */
static int drop_privileges(const struct jail_config *jc, char *err, size_t errlen)
{
	if (keeps_own_ids(jc)) {
		/* Without CAP_SETPCAP the bounding set stays; no_new_privs makes it moot. */
		capng_clear(CAPNG_SELECT_BOTH);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0)
			return creds_fail(err, errlen, "drop every capability", EPERM);
		return 0;
	}
	capng_clear(CAPNG_SELECT_BOTH);
	if (jc->userns) {
		/* Inside our own user namespace we are its root only by mapping; the
		 * outer identity is the unprivileged user who started bulkhead. */
		if (capng_apply(CAPNG_SELECT_BOTH) < 0)
			return creds_fail(err, errlen, "drop every capability", EPERM);
		return 0;
	}
	if (jc->uid == 0 || jc->gid == 0)
		return creds_fail(err, errlen, "refuse uid or gid 0", EINVAL);
	if (capng_change_id((int)jc->uid, (int)jc->gid, CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING) < 0)
		return creds_fail(err, errlen, "drop every capability and change to the jail's uid and gid",
				 errno ? errno : EPERM);
	return 0;
}

int jail_enter_creds(const struct jail_config *jc, char *err, size_t errlen)
{
	int e;

	if (jc->mode == JAIL_OFF)
		return 0;
	if ((e = limits(jc, err, errlen)) < 0)
		return e;
	if ((e = drop_privileges(jc, err, errlen)) < 0)
		return e;
	/* Changing ids cleared the parent-death signal the spawn set (the kernel's
	 * commit_creds does): set it again, or a child that cannot notice its
	 * control socket's end (a stopped one) outlives a killed supervisor. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return creds_fail(err, errlen, "PR_SET_PDEATHSIG", errno);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return creds_fail(err, errlen, "PR_SET_NO_NEW_PRIVS", errno);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return creds_fail(err, errlen, "PR_SET_DUMPABLE 0", errno);
	return 0;
}

int jail_enter(const struct jail_config *jc, char *err, size_t errlen)
{
	int e = jail_enter_fs(jc, err, errlen);

	return e < 0 ? e : jail_enter_creds(jc, err, errlen);
}

int jail_from_ipc(const struct ipc_cfg_jail *m, struct jail_config *jc, unsigned int nofile)
{
	if (m->cj_mode > IPC_JAIL_OFF || (m->cj_flags & ~(uint32_t)IPC_JAIL_F_USERNS) ||
	    m->cj_seccomp > IPC_SECCOMP_OFF)
		return -EPROTO;
	if ((m->cj_policy_fd == IPC_FD_NONE) != (m->cj_include_fd == IPC_FD_NONE) ||
	    (m->cj_policy_fd != IPC_FD_NONE && (!ipc_fd_ok(m->cj_policy_fd) || !ipc_fd_ok(m->cj_include_fd))))
		return -EPROTO;
	if (!(m->cj_flags & IPC_JAIL_F_USERNS) && m->cj_mode != IPC_JAIL_OFF &&
	    (m->cj_uid == 0 || m->cj_gid == 0))
		return -EPROTO;
	jc->mode = m->cj_mode == IPC_JAIL_FULL	       ? JAIL_FULL
		   : m->cj_mode == IPC_JAIL_NO_NAMESPACES ? JAIL_NO_NAMESPACES
							  : JAIL_OFF;
	jc->uid = m->cj_uid;
	jc->gid = m->cj_gid;
	jc->userns = (m->cj_flags & IPC_JAIL_F_USERNS) != 0;
	jc->nofile = nofile;
	jc->keep_nproc = 0;
	jc->share = 0;
	jc->share_fd = -1;
	jc->share_readonly = 0;
	return 0;
}
