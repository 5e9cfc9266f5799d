/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead-probe: for each process kind, enter its exact jail and seccomp
 * policy and try what an attacker who owns that process would try, each
 * attempt in its own jailed child, and print a table of attempt x process:
 * how it was blocked (seccomp kill, EPERM, ENOENT, ...) or ALLOWED.
 * Exit status 1 if any attempt was allowed.
 *
 * usage: bulkhead-probe [--policy-dir DIR] [--uid N --gid N]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "jail/jail.h"
#include "kinds/kinds.h"
#include "seccomp/policy.h"

#define PROBE_FIRST_FD 4
#define PROBE_NFDS 12 /* fds bound to placeholders, from PROBE_FIRST_FD */
#define PROBE_MAX_KINDS (2 + 16)

struct kind {
	const char *name; /* the policy: "serial" ... */
	int keep_nproc;
	/* The placeholders of the fds a process of this kind holds, each bound to
	 * the next fd from PROBE_FIRST_FD (all of them the report pipe). */
	const char *fds[PROBE_NFDS];
	size_t nfds;
	/* The child reports through an fd its policy lets it write: the irqfd for
	 * devices, the exit eventfd for the vcpu, or (NULL) stderr, the supervisor. */
	const char *report;
	/* Not jailed: the supervisor's own narrowing (jail_narrow_supervisor), in
	 * the host's namespaces, as bulkhead runs once its children do. */
	int supervisor;
	/* The placeholder of the fd whose directory its jail root is a bind mount of (the
	 * 9p server's share: a scratch directory here), or NULL. */
	const char *share;
};

/* The vcpu process, one column per row of the device-kind table, and the supervisor. */
static struct kind kinds[PROBE_MAX_KINDS];
static size_t nkinds;

static void add_fd(struct kind *k, const char *name)
{
	if (k->nfds >= PROBE_NFDS)
		fatalx("%s: more than %d fds", k->name, PROBE_NFDS);
	k->fds[k->nfds++] = name;
}

static void kinds_init(void)
{
	struct kind *k = &kinds[nkinds++];

	*k = (struct kind){ .name = "vcpu", .keep_nproc = 1, .report = "EXIT_FD" };
	add_fd(k, "CHAN_FD");
	add_fd(k, "EXIT_FD");
	add_fd(k, "VM_FD");
	for (size_t i = 0; i < kinds_count && nkinds < PROBE_MAX_KINDS - 1; i++) {
		const struct dev_kind *d = kinds_table[i];

		k = &kinds[nkinds++];
		*k = (struct kind){ .name = d->helper, .report = "IRQ_FD", .share = d->share_fd };
		/* A process without a register window (the API's) has none of these, and
		 * reports through its kind's first fd (a connection's, to its policy). */
		if (d->transport) {
			add_fd(k, "CHAN_FD");
			add_fd(k, "IRQ_FD");
			add_fd(k, "QUEUE_FD");
		} else {
			k->report = d->nfds ? d->fds[0].name : NULL;
		}
		for (size_t f = 0; f < d->nfds; f++)
			add_fd(k, d->fds[f].name);
	}
	k = &kinds[nkinds++];
	*k = (struct kind){ .name = "supervisor", .keep_nproc = 1, .supervisor = 1 };
	add_fd(k, "SIGNAL_FD");
	add_fd(k, "KMSG_FD");
}

/* The fd number of placeholder name in a child of kind k, or -1. */
static int fd_of(const struct kind *k, const char *name)
{
	for (size_t i = 0; name && i < k->nfds; i++) {
		if (strcmp(k->fds[i], name) == 0)
			return PROBE_FIRST_FD + (int)i;
	}
	return -1;
}

/* The fd a kind reports through. */
static int report_fd(const struct kind *k)
{
	int fd = fd_of(k, k->report);

	return fd >= 0 ? fd : STDERR_FILENO;
}

/* The 9p column's share: an empty scratch directory, and its fd. */
static char share_dir[] = "/tmp/bulkhead-probe-share.XXXXXX";
static int share_fd = -1;

static pid_t supervisor;
/* What the supervisor column attacks instead of itself: a process of the same
 * user that only sleeps, so an attempt that works (a stop by PTRACE_ATTACH)
 * cannot stop the probe. */
static pid_t decoy;

/* Each attempt returns 0 if it succeeded, else the errno that stopped it. */
typedef int (*attempt_fn)(void);

static int ret(long r)
{
	return r < 0 ? errno : 0;
}

static int open_read(void)
{
	return ret(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
}

static int open_write(void)
{
	return ret(open("/tmp/bulkhead-probe-was-here", O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
}

static int openat2_path(const char *path, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.mode = (flags & O_CREAT) ? 0600 : 0 };

	return ret(syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how)));
}

/* The file server's own call, without the RESOLVE flags the server always gives it. */
static int openat2_host(void)
{
	return openat2_path("/etc/passwd", O_RDONLY);
}

static int openat2_up(void)
{
	return openat2_path("../../../etc/passwd", O_RDONLY);
}

static int openat2_create(void)
{
	return openat2_path("/tmp/bulkhead-probe-was-here", O_WRONLY | O_CREAT);
}

static int list_root(void)
{
	char buf[4096];
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	if (fd < 0)
		return errno;
	n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
	if (n < 0)
		return errno;
	/* "." and ".." alone (48 bytes or so) is an empty root: nothing to see. */
	return n > 64 ? 0 : ENOENT;
}

static int exec_shell(void)
{
	char *const argv[] = { "sh", "-c", "true", NULL };

	execve("/bin/sh", argv, NULL);
	return errno;
}

static int inet_connect(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(22),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return errno;
	return ret(connect(s, (struct sockaddr *)&a, sizeof(a)));
}

static int unix_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "/run/dbus/system_bus_socket" };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return errno;
	return ret(connect(s, (struct sockaddr *)&a, sizeof(a)));
}

static int ptrace_supervisor(void)
{
	return ret(ptrace(PTRACE_ATTACH, supervisor, NULL, NULL));
}

static int kill_supervisor(void)
{
	return ret(kill(supervisor, SIGCONT));
}

static int do_mount(void)
{
	return ret(mount("none", "/", "tmpfs", 0, NULL));
}

static int unshare_user(void)
{
	return ret(unshare(CLONE_NEWUSER));
}

static int setuid_0(void)
{
	return ret(setuid(0));
}

static int mmap_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? errno : 0;
}

static int mprotect_exec(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return errno;
	return ret(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}

static int memfd_exec(void)
{
	char *const argv[] = { "x", NULL };
	int fd = memfd_create("probe", MFD_CLOEXEC);

	if (fd < 0)
		return errno;
	syscall(SYS_execveat, fd, "", argv, NULL, AT_EMPTY_PATH);
	return errno;
}

static int open_kvm(void)
{
	return ret(open("/dev/kvm", O_RDWR | O_CLOEXEC));
}

static int read_supervisor(void)
{
	char buf[16];
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)0x400000, sizeof(buf) };

	return ret(process_vm_readv(supervisor, &local, 1, &remote, 1, 0));
}

static int write_self_mem(void)
{
	return ret(open("/proc/self/mem", O_RDWR | O_CLOEXEC));
}

static int do_fork(void)
{
	pid_t p = fork();

	if (p == 0)
		_exit(0);
	return p < 0 ? errno : 0;
}

static void *thread_main(void *arg)
{
	return arg;
}

static int make_thread(void)
{
	pthread_t t;
	int e = pthread_create(&t, NULL, thread_main, NULL);

	return e;
}

/* getpid through the 32-bit entry: a filter that checks only x86_64 numbers
 * would let every i386 system call through under other numbers. */
static int int80_getpid(void)
{
	long r;

	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "r8", "r9", "r10", "r11", "memory");
	return r < 0 ? (int)-r : 0;
}

/* Push a byte into a terminal's input (stderr's, if it is one): the
 * classic escape from a confined process that shares a tty. */
static int tiocsti_stderr(void)
{
	char c = '\n';

	return ret(ioctl(STDERR_FILENO, TIOCSTI, &c));
}

struct attempt {
	const char *name;
	attempt_fn fn;
};

/* The control: the child lives through its jail and policy and can report. */
static int nothing(void)
{
	return 0;
}

static const struct attempt attempts[] = {
	{ "(control: nothing, must be ALLOWED)", nothing },
	{ "open a host file to read", open_read },
	{ "open a host file to write", open_write },
	{ "list /", list_root },
	{ "openat2 /etc/passwd (no RESOLVE flags)", openat2_host },
	{ "openat2 ../../../etc/passwd", openat2_up },
	{ "openat2 O_CREAT /tmp/...", openat2_create },
	{ "execve a shell", exec_shell },
	{ "socket(AF_INET) + connect", inet_connect },
	{ "socket(AF_UNIX) to a host path", unix_connect },
	{ "ptrace the supervisor", ptrace_supervisor },
	{ "signal the supervisor", kill_supervisor },
	{ "mount", do_mount },
	{ "unshare(CLONE_NEWUSER)", unshare_user },
	{ "setuid(0)", setuid_0 },
	{ "mmap PROT_EXEC", mmap_exec },
	{ "mprotect PROT_EXEC", mprotect_exec },
	{ "memfd_create + execveat", memfd_exec },
	{ "open /dev/kvm", open_kvm },
	{ "process_vm_readv the supervisor", read_supervisor },
	{ "open /proc/self/mem", write_self_mem },
	{ "fork", do_fork },
	{ "create a thread", make_thread },
	{ "a 32-bit system call (int 0x80)", int80_getpid },
	{ "ioctl TIOCSTI on stderr", tiocsti_stderr },
};

/* Policy texts, read once before any child is jailed. */
struct policy_set {
	struct policy_file files[PROBE_MAX_KINDS][2];
	char names[PROBE_MAX_KINDS][2][64];
};

static int load_policies(const char *dir, struct policy_set *ps)
{
	char path[4096];

	for (size_t k = 0; k < nkinds; k++) {
		int fd, inc;

		snprintf(path, sizeof(path), "%s/%s.policy", dir, kinds[k].name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "%s/common.policy", dir);
		inc = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || inc < 0)
			return -errno;
		if (policy_from_fds(kinds[k].name, fd, inc, ps->files[k], ps->names[k]) < 0)
			return -EIO;
	}
	return 0;
}

/* In the child: the fds a process of this kind holds, as numbers its policy binds. */
static size_t bindings(const struct kind *k, struct policy_binding *b)
{
	size_t n = 0;

	b[n++] = (struct policy_binding){ "CONTROL_FD", 3 };
	b[n++] = (struct policy_binding){ "PID", (uint64_t)getpid() };
	b[n++] = (struct policy_binding){ "EPOLL_FD", PROBE_FIRST_FD + PROBE_NFDS };
	/* The supervisor of a VM without a brokered kind (docs/security.md: with --vsock it
	 * may also make AF_UNIX stream sockets and connect them). */
	b[n++] = (struct policy_binding){ "BROKER_FAMILY", KINDS_BROKER_NONE };
	b[n++] = (struct policy_binding){ "BROKER_ADDRLEN", KINDS_BROKER_NONE };
	/* The API's connections: every fd the probe holds counts as one. The supervisor's
	 * /proc files and power button: an API socket's (-1 without one). */
	b[n++] = (struct policy_binding){ "CONN_FD_MIN", PROBE_FIRST_FD };
	b[n++] = (struct policy_binding){ "PROC_FD", (uint64_t)(int64_t)-1 };
	b[n++] = (struct policy_binding){ "POWER_FD", (uint64_t)(int64_t)-1 };
	for (size_t i = 0; i < k->nfds; i++)
		b[n++] = (struct policy_binding){ k->fds[i], PROBE_FIRST_FD + i };
	return n;
}

static enum policy_mode probe_mode = POLICY_KILL;

static void child(size_t k, const struct attempt *a, const struct policy_set *ps,
		  const struct jail_config *jc0, int report)
{
	struct policy_binding b[8 + PROBE_NFDS];
	struct jail_config jc = *jc0;
	char err[256];
	int r;

	jc.keep_nproc = kinds[k].keep_nproc;
	if (kinds[k].share) {
		jc.share = 1;
		jc.share_fd = fd_of(&kinds[k], kinds[k].share);
	}
	if (kinds[k].supervisor)
		supervisor = decoy;
	if ((kinds[k].supervisor ? jail_narrow_supervisor(err, sizeof(err))
				 : jail_enter(&jc, err, sizeof(err))) < 0 ||
	    policy_load(kinds[k].name, ps->files[k], 2, b, bindings(&kinds[k], b), probe_mode, err,
			sizeof(err)) < 0) {
		dprintf(2, "bulkhead-probe: %s: %s\n", kinds[k].name, err);
		_exit(120);
	}
	(void)report;
	r = a->fn();
	(void)!write(report_fd(&kinds[k]), &r, sizeof(r));
	_exit(0);
}

static void run_one(size_t k, const struct attempt *a, const struct policy_set *ps,
		    const struct jail_config *jc, char *out, size_t outlen)
{
	struct clone_args args = { .flags = CLONE_NEWPID, .exit_signal = SIGCHLD };
	uid_t uid = getuid();
	gid_t gid = getgid();
	int pfd[2], r = -1, st;
	long pid;

	if (kinds[k].supervisor)
		args.flags = 0; /* the supervisor stays in the host's namespaces */
	else if (jc->userns)
		args.flags |= CLONE_NEWUSER;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		fatal("pipe");
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0)
		fatal("clone3");
	if (pid == 0) {
		if (!kinds[k].supervisor && jc->userns && jail_map_ids(uid, gid) < 0)
			_exit(120);
		close(pfd[0]);
		/* The fds a device holds (numbers its policy binds), here just eventfds. */
		for (int i = 0; i <= PROBE_NFDS; i++)
			dup2(pfd[1], PROBE_FIRST_FD + i);
		if (kinds[k].share)
			dup2(share_fd, fd_of(&kinds[k], kinds[k].share));
		if (kinds[k].supervisor)
			dup2(pfd[1], STDERR_FILENO);
		child(k, a, ps, jc, pfd[1]);
	}
	close(pfd[1]);
	if (read(pfd[0], &r, sizeof(r)) != sizeof(r))
		r = -1;
	close(pfd[0]);
	waitpid((pid_t)pid, &st, 0);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		snprintf(out, outlen, "seccomp kill");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 120)
		snprintf(out, outlen, "(jail failed)");
	else if (r == 0)
		snprintf(out, outlen, "ALLOWED");
	else if (r > 0)
		snprintf(out, outlen, "%s", strerrorname_np(r) ? strerrorname_np(r) : "error");
	else if (WIFSIGNALED(st))
		snprintf(out, outlen, "signal %d", WTERMSIG(st));
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		snprintf(out, outlen, "ALLOWED"); /* exited without a report: it exec'd */
	else
		snprintf(out, outlen, "no answer");
}

/* One table: every attempt for every kind; returns how many were allowed. */
static int table(const struct policy_set *ps, const struct jail_config *jc, enum policy_mode mode,
		 const char *title)
{
	int allowed = 0;

	probe_mode = mode;
	printf("\n%s\n\n| attempt |", title);
	for (size_t k = 0; k < nkinds; k++)
		printf(" %s |", kinds[k].name);
	printf("\n|---|");
	for (size_t k = 0; k < nkinds; k++)
		printf("---|");
	printf("\n");
	for (size_t i = 0; i < nitems(attempts); i++) {
		printf("| %s |", attempts[i].name);
		for (size_t k = 0; k < nkinds; k++) {
			char res[64];

			fflush(stdout);
			run_one(k, &attempts[i], ps, jc, res, sizeof(res));
			if (i == 0 && strcmp(res, "ALLOWED") != 0) {
				printf(" %s |\n", res);
				fatalx("%s: the control attempt did not report: the probe measures nothing",
				       kinds[k].name);
			}
			allowed += i > 0 && strcmp(res, "ALLOWED") == 0;
			printf(" %s |", res);
		}
		printf("\n");
	}
	return allowed;
}

int main(int argc, char **argv)
{
	struct jail_config jc = { .mode = JAIL_FULL, .uid = JAIL_DEFAULT_ID, .gid = JAIL_DEFAULT_ID,
				  .nofile = 64 };
	const char *dir = BH_POLICY_DIR;
	static struct policy_set ps;
	int allowed = 0;

	log_init("bulkhead-probe");
	kinds_init();
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--policy-dir") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "--uid") == 0)
			jc.uid = (uid_t)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--gid") == 0)
			jc.gid = (gid_t)atoi(argv[i + 1]);
	}
	/* As bulkhead does: run by another user, each child gets a user namespace. */
	jc.userns = geteuid() != 0;
	if (load_policies(dir, &ps) < 0)
		fatalx("cannot read the policies in %s (--policy-dir DIR)", dir);
	/* As a read-write share is: the jail's id may write in it. */
	if (!mkdtemp(share_dir) || chmod(share_dir, 0777) < 0 ||
	    (share_fd = open(share_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		fatal("a scratch directory for the 9p column's share");
	supervisor = getpid();
	decoy = fork();
	if (decoy < 0)
		fatal("fork");
	if (decoy == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	allowed = table(&ps, &jc, POLICY_KILL, "the jail and the seccomp policy (as bulkhead runs)");
	table(&ps, &jc, POLICY_OFF, "the jail alone (--seccomp off): the second line of defence");
	printf("\n%d attempt(s) allowed\n", allowed);
	kill(decoy, SIGKILL);
	waitpid(decoy, NULL, 0);
	if (rmdir(share_dir) < 0)
		log_warn("rmdir %s (an attempt left something in it)", share_dir);
	return allowed ? 1 : 0;
}
