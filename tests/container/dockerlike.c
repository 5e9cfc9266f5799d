/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dockerlike: run a command as a default Docker container would, as far as
 * the jail can tell: Docker's default capability set (no CAP_SYS_ADMIN, no
 * CAP_NET_ADMIN) and the part of Docker's default seccomp profile that holds
 * without CAP_SYS_ADMIN for the calls a jail makes (moby's
 * profiles/seccomp/default.json):
 *   clone3                                   -> ENOSYS (so callers fall back to clone)
 *   clone with any CLONE_NEW* flag           -> EPERM
 *   unshare, setns, mount, umount2, pivot_root, and the new mount API -> EPERM
 * Everything else is allowed: this is a model of the container's limits for
 * tests (tests/integration/security/test_containers.py), not a sandbox.
 *
 *   dockerlike [--model MODEL] COMMAND [ARG]...
 *
 * Run as root, as the container's root is; the command keeps Docker's
 * capabilities (COMMAND may be setpriv to become another user). Inside a
 * real container (no CAP_SYS_ADMIN) the filter is loaded with no_new_privs.
 *
 * The other models keep every capability, CAP_SYS_ADMIN included, so that
 * bulkhead spawns its children into the full jail without probing first
 * (supervisor/jailplan.c), and refuse one part of what the jail does:
 *   sys-admin-seccomp   the filter above (a profile stricter than Docker's,
 *                       which lets CAP_SYS_ADMIN make namespaces): the clone
 *                       that spawns a child fails
 *   sys-admin-apparmor  only mount, umount2, pivot_root and the new mount API
 *                       (EPERM), as AppArmor's docker-default profile refuses
 *                       mount to a container given CAP_SYS_ADMIN: each child
 *                       fails inside its own jail
 *   userns-only         clone with CLONE_NEWPID but without CLONE_NEWUSER
 *                       (EPERM): only a user namespace's jail can be built
 */
#include <cap-ng.h>
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* Docker's default capabilities (moby oci/caps/defaults.go). */
static const unsigned int docker_caps[] = {
	CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_MKNOD, CAP_NET_RAW, CAP_SETGID,
	CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
	CAP_AUDIT_WRITE,
};

static const unsigned long namespace_flags[] = {
	CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
	CLONE_NEWCGROUP,
};

static const char *const eperm_calls[] = {
	"unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount",
	"fspick", "move_mount", "open_tree", "mount_setattr",
};

static const char *const mount_calls[] = {
	"mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
	"open_tree", "mount_setattr",
};

enum model { DOCKER, SYS_ADMIN_SECCOMP, SYS_ADMIN_APPARMOR, USERNS_ONLY };

static const char *const model_names[] = {
	[DOCKER] = "docker",
	[SYS_ADMIN_SECCOMP] = "sys-admin-seccomp",
	[SYS_ADMIN_APPARMOR] = "sys-admin-apparmor",
	[USERNS_ONLY] = "userns-only",
};

static int refuse_calls(scmp_filter_ctx ctx, const char *const *calls, size_t n)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		int nr = seccomp_syscall_resolve_name(calls[i]);

		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	return r;
}

static int add_rules(scmp_filter_ctx ctx, enum model model)
{
	int r;

	if (model == SYS_ADMIN_APPARMOR)
		return refuse_calls(ctx, mount_calls, nitems(mount_calls));
	/* clone3 carries its flags in memory, out of a filter's sight: ENOSYS makes callers use clone. */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* x86_64 clone: the flags are argument 0. */
	if (r == 0 && model == USERNS_ONLY)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWPID | CLONE_NEWUSER, CLONE_NEWPID));
	if (r == 0)
		r = refuse_calls(ctx, eperm_calls, nitems(eperm_calls));
	for (size_t i = 0; r == 0 && i < nitems(namespace_flags); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, namespace_flags[i], namespace_flags[i]));
	return r;
}

/* As runc does: no no_new_privs where CAP_SYS_ADMIN allows (nnp 0), else with it. */
static int load_filter(int nnp, enum model model)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r;

	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, (uint32_t)nnp);
	if (r == 0)
		r = add_rules(ctx, model);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

static int keep_docker_caps(void)
{
	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < nitems(docker_caps); i++) {
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE |
					    CAPNG_BOUNDING_SET, docker_caps[i]) < 0)
			return -EINVAL;
	}
	return capng_apply(CAPNG_SELECT_BOTH) < 0 ? -EPERM : 0;
}

static int model_named(const char *name)
{
	for (size_t i = 0; i < nitems(model_names); i++) {
		if (strcmp(name, model_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

int main(int argc, char **argv)
{
	enum model model = DOCKER;
	int r;

	if (argc >= 3 && strcmp(argv[1], "--model") == 0) {
		r = model_named(argv[2]);
		if (r < 0) {
			fprintf(stderr, "dockerlike: --model: unknown model %s\n", argv[2]);
			return 2;
		}
		model = (enum model)r;
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: dockerlike [--model MODEL] COMMAND [ARG]...\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "dockerlike: run it as root (the container's root)\n");
		return 2;
	}
	r = load_filter(0, model);
	if (r < 0) /* in a real container already: no CAP_SYS_ADMIN (libseccomp says ECANCELED) */
		r = load_filter(1, model);
	if (r < 0) {
		fprintf(stderr, "dockerlike: seccomp filter: %s\n", strerror(-r));
		return 1;
	}
	r = model == DOCKER ? keep_docker_caps() : 0;
	if (r < 0) {
		fprintf(stderr, "dockerlike: capabilities: %s\n", strerror(-r));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "dockerlike: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
