/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which jail the children get, decided once before any is spawned: the
 * strongest the environment allows for the --jail mode asked for, said with
 * -v, and said on stderr whenever it is weaker than the full jail.
 *
 * --jail on: the full jail, its namespaces made with CAP_SYS_ADMIN where the
 * supervisor has it, else inside a user namespace. Whether the namespaces can
 * be made is not guessed from capabilities and sysctls: a throwaway child
 * takes the jail's namespace steps (jail_enter_fs) and says which failed.
 * Where the supervisor has CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID, that
 * probe comes only after a start that failed (jailplan_recheck): the children
 * are spawned into the full jail at once, and the jail is known to work once
 * one of them is ready; a start whose children could not be spawned, or one of
 * which died before the VM ran, is then judged by the probe, as if it had come
 * first. Where that judgement could need a second start that cannot be made
 * (a --config read from a pipe, no /proc/self/exe), the probe comes first.
 * The probe costs about 1 ms of every start on two CPUs (docs/performance.md),
 * and the full jail is what a privileged supervisor's children nearly always
 * get.
 * Where none can be made (Docker's default seccomp profile answers clone and
 * unshare with namespace flags, and mount, with EPERM; AppArmor's docker-default
 * profile denies mount; Ubuntu's restriction of unprivileged user namespaces
 * leaves them without capabilities), --jail on refuses with one line naming
 * --jail no-namespaces and the container settings that allow the full jail.
 *
 * --jail no-namespaces: no namespaces; the children change to the jail's uid
 * and gid where the supervisor may (CAP_SETUID and CAP_SETGID), else keep the
 * invoking user's (never root's); every other step of the jail stays.
 */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "jail/jail.h"
#include "supervisor.h"

/* The way out, after the failed step (which names --jail no-namespaces). */
#define JAILPLAN_FIX "for the full jail, let the container make namespaces (docker run " \
	"--security-opt seccomp=unconfined --security-opt apparmor=unconfined, or --privileged)"
#define JAILPLAN_RELAX "(--jail no-namespaces runs without namespaces)"

static int have_cap(unsigned int cap)
{
	return capng_have_capability(CAPNG_EFFECTIVE, cap);
}

/* A namespace probe under way: its pid and the read end of its verdict's pipe. */
struct probe {
	long pid;
	int fd;
	unsigned int spawn_flags;
};

/* The first probe, started by jailplan_begin while the supervisor goes on. */
static struct probe early = { .pid = -1, .fd = -1 };

/* jailplan_begin left the full jail unprobed: jailplan_choose takes it as working. */
static int unprobed;

/*
 * In the probe's child: the namespace steps of the jail, then its verdict in
 * one write: '0', or '1' and the step that failed. The parent reads it without
 * waiting for the child's exit (tearing its namespaces down takes time).
 */
static _Noreturn void probe_child(int out, unsigned int spawn_flags, uid_t uid, gid_t gid)
{
	struct jail_config jc = { .mode = JAIL_FULL };
	char msg[256] = "1";
	int e = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (spawn_flags & SPAWN_NEWUSER) {
		e = jail_map_ids(uid, gid);
		if (e < 0)
			snprintf(msg + 1, sizeof(msg) - 1, "jail step 'map ids in the new user namespace' "
				 "failed: %s " JAILPLAN_RELAX, strerror(-e));
	}
	if (e == 0)
		e = jail_enter_fs(&jc, msg + 1, sizeof(msg) - 1);
	if (e == 0)
		msg[0] = '0';
	(void)!write(out, msg, strlen(msg));
	_exit(e < 0 ? 1 : 0);
}

/*
 * A throwaway child made as spawn_child makes one (clone with spawn_flags'
 * namespaces) takes the jail's namespace steps. 0 once it runs, else -errno
 * with the failed step in err.
 */
static int probe_start(struct probe *p, unsigned int spawn_flags, char *err, size_t errlen)
{
	unsigned long flags = SIGCHLD | CLONE_NEWPID | ((spawn_flags & SPAWN_NEWUSER) ? CLONE_NEWUSER : 0);
	uid_t uid = getuid();
	gid_t gid = getgid();
	int pipefd[2];
	long pid;

	p->spawn_flags = spawn_flags;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "the namespace probe: pipe: %s", strerror(errno));
		return -errno;
	}
	/* Plain clone: Docker's profile judges its flags; clone3 it only answers ENOSYS. */
	pid = syscall(SYS_clone, flags, 0UL, NULL, NULL, 0UL);
	if (pid == 0)
		probe_child(pipefd[1], spawn_flags, uid, gid);
	close(pipefd[1]);
	if (pid < 0) {
		int e = errno;

		close(pipefd[0]);
		snprintf(err, errlen, "jail step 'clone with new %sPID namespaces' failed: %s " JAILPLAN_RELAX,
			 (spawn_flags & SPAWN_NEWUSER) ? "user and " : "", strerror(e));
		return -e;
	}
	p->pid = pid;
	p->fd = pipefd[0];
	return 0;
}

/* Wait for the probe's exit, if it has not been waited for. Its status, or -1. */
static int probe_reap(struct probe *p)
{
	int status = -1;

	while (p->pid > 0 && waitpid((pid_t)p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
	return status;
}

/* The probe's verdict: 0 when every step worked, else -EPERM with the failed step in err. */
static int probe_finish(struct probe *p, char *err, size_t errlen)
{
	char msg[256];
	ssize_t n;
	int status;

	do
		n = read(p->fd, msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	close(p->fd);
	p->fd = -1;
	msg[n > 0 ? n : 0] = '\0';
	if (n > 0 && msg[0] == '0')
		return 0;
	if (n > 1 && msg[0] == '1') {
		snprintf(err, errlen, "%s", msg + 1);
		return -EPERM;
	}
	status = probe_reap(p);
	snprintf(err, errlen, "the namespace probe %s %d",
		 WIFEXITED(status) ? "exited with status" : "was killed by signal",
		 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return -EPERM;
}

static int probe_namespaces(unsigned int spawn_flags, char *err, size_t errlen)
{
	struct probe p = { .pid = -1, .fd = -1 };
	int e = probe_start(&p, spawn_flags, err, errlen);

	if (e == 0)
		e = probe_finish(&p, err, errlen);
	probe_reap(&p);
	return e;
}

static int privileged(void)
{
	return have_cap(CAP_SYS_ADMIN) && have_cap(CAP_SETUID) && have_cap(CAP_SETGID);
}

/* The early probe's verdict, if it was started for these flags; else a probe now. */
static int probe_verdict(unsigned int spawn_flags, char *err, size_t errlen)
{
	if (early.fd >= 0 && early.spawn_flags == spawn_flags)
		return probe_finish(&early, err, errlen);
	return probe_namespaces(spawn_flags, err, errlen);
}

static int plan_full(struct sup *s, char *err, size_t errlen)
{
	char why[256];

	if (unprobed) {
		s->spawn_flags = SPAWN_NEWPID;
		s->jail_unprobed = 1;
		log_debug("jail: full (namespaces made with CAP_SYS_ADMIN; probed only if the start "
			  "fails), children run as uid %u gid %u", s->cfg.jail_uid, s->cfg.jail_gid);
		return 0;
	}

	if (privileged() && probe_verdict(SPAWN_NEWPID, why, sizeof(why)) == 0) {
		s->spawn_flags = SPAWN_NEWPID;
		log_debug("jail: full (namespaces made with CAP_SYS_ADMIN), children run as uid %u gid %u",
			  s->cfg.jail_uid, s->cfg.jail_gid);
		return 0;
	}
	if (probe_verdict(SPAWN_NEWPID | SPAWN_NEWUSER, why, sizeof(why)) == 0) {
		s->spawn_flags = SPAWN_NEWPID | SPAWN_NEWUSER;
		if (geteuid() == 0)
			log_info("warning: --jail on: the jail is built in a user namespace (%s), "
				 "whose root is uid 0 outside it: weaker than the full jail's uid %u; %s",
				 privileged() ? "the full jail's namespaces cannot be made here"
					      : "no CAP_SYS_ADMIN",
				 s->cfg.jail_uid,
				 privileged() ? JAILPLAN_FIX
					      : "run bulkhead as a non-root user in the kvm group, or with "
						"CAP_SYS_ADMIN");
		else
			log_debug("jail: full, inside a user namespace (no CAP_SYS_ADMIN), children run as "
				  "uid %u outside it", (unsigned int)getuid());
		return 0;
	}
	snprintf(err, errlen, "--jail on: %s; %s", why, JAILPLAN_FIX);
	return -EPERM;
}

static int plan_no_namespaces(struct sup *s, char *err, size_t errlen)
{
	const char *ids = "";
	char who[192];

	s->spawn_flags = 0;
	if (!(have_cap(CAP_SETUID) && have_cap(CAP_SETGID))) {
		if (geteuid() == 0 || getuid() == 0 || getegid() == 0 || getgid() == 0) {
			snprintf(err, errlen, "--jail no-namespaces: bulkhead runs as root without CAP_SETUID "
				 "and CAP_SETGID, so its children could not leave uid 0; run it as a non-root "
				 "user who may open /dev/kvm, or grant CAP_SETUID and CAP_SETGID");
			return -EPERM;
		}
		/* jail_enter_creds sees its own ids and only drops capabilities. */
		s->cfg.jail_uid = (unsigned int)getuid();
		s->cfg.jail_gid = (unsigned int)getgid();
		snprintf(who, sizeof(who), " as the invoking user (uid %u gid %u, with its groups: no CAP_SETUID "
			 "to change to the jail's id)", s->cfg.jail_uid, s->cfg.jail_gid);
		ids = who;
	}
	log_info("warning: --jail no-namespaces: children share the host's mount, network, IPC, UTS and "
		 "PID namespaces and file system%s", ids);
	log_debug("jail: no namespaces; children run as uid %u gid %u, without capabilities, with "
		  "no_new_privs, rlimits and their seccomp policies", s->cfg.jail_uid, s->cfg.jail_gid);
	return 0;
}

void jailplan_begin(const struct sup *s)
{
	const char *probe_first = getenv(JAILPLAN_PROBE_ENV);
	char err[256];

	capng_get_caps_process();
	if (s->cfg.jail_mode != 0)
		return;
	/* Starting again must be possible: bulkhead can exec itself and read its configuration twice. */
	if (privileged() && !(probe_first && strcmp(probe_first, "1") == 0) && !s->cfg.config_streamed &&
	    access("/proc/self/exe", X_OK) == 0) {
		unprobed = 1;
		return;
	}
	/* If it cannot even start, jailplan_choose probes again and says why. */
	(void)probe_start(&early, privileged() ? SPAWN_NEWPID : SPAWN_NEWPID | SPAWN_NEWUSER,
			  err, sizeof(err));
}

int jailplan_recheck(struct sup *s, char *err, size_t errlen)
{
	char why[256];

	s->jail_unprobed = 0;
	if (probe_namespaces(SPAWN_NEWPID, why, sizeof(why)) == 0) {
		log_debug("jail: the probe built the full jail: the start failed for another reason");
		return 0;
	}
	log_debug("jail: the full jail failed (%s); probing a user namespace", why);
	if (probe_namespaces(SPAWN_NEWPID | SPAWN_NEWUSER, why, sizeof(why)) == 0)
		return 1;
	snprintf(err, errlen, "--jail on: %s; %s", why, JAILPLAN_FIX);
	return -EPERM;
}

void jailplan_done(void)
{
	if (early.fd >= 0)
		close(early.fd);
	early.fd = -1;
	probe_reap(&early);
}

int jailplan_choose(struct sup *s, char *err, size_t errlen)
{
	switch (s->cfg.jail_mode) {
	case 0:
		return plan_full(s, err, errlen);
	case 1:
		return plan_no_namespaces(s, err, errlen);
	default:
		s->spawn_flags = 0;
		log_info("warning: --jail off: children run unjailed with bulkhead's own privileges "
			 "(no namespaces, id change, capability drop or rlimits) and the supervisor "
			 "keeps its own; %s",
			 s->cfg.seccomp_mode == 2 ? "--seccomp off removes every seccomp filter too"
						  : "every process keeps its seccomp filter");
		return 0;
	}
}
