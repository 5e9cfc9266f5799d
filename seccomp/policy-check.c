/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy-check: the build's checker. Parses and compiles every policy file
 * named on the command line, as bulkhead would at start (placeholders bound
 * to a dummy value), and also refuses what no bulkhead process may ever be
 * allowed: starting programs or processes, debugging or signalling others,
 * namespaces and mounts, changing ids, opening files or sockets, loading
 * kernel code, and executable memory (a few of these only narrowed to a
 * placeholder: narrowed[], the supervisor's broker and vsock's accept).
 * Prints PATH:LINE: reason for each error and exits 1 if there was one.
 *
 *   policy-check [-v] seccomp-policies/x86_64/common.policy seccomp-policies/x86_64/blk.policy ...
 *
 * -v also prints, per policy, its rules (with how many filter arguments)
 * and the length of its BPF program.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "common/log.h"
#include "internal.h"

/* Syscalls no policy may name, with or without argument filters. */
static const char *const forbidden[] = {
	/* new programs and processes (vCPU threads exist before the filter loads) */
	"execve", "execveat", "fork", "vfork", "clone", "clone3",
	/* other processes */
	"ptrace", "process_vm_readv", "process_vm_writev", "kill", "tkill", "kcmp",
	"pidfd_open", "pidfd_getfd", "process_madvise",
	/* namespaces, mounts, roots */
	"unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "chdir", "fchdir",
	"open_tree", "move_mount", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
	/* identities and privileges */
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
	"setgroups", "capset", "prctl", "seccomp", "personality",
	/* files and sockets: a jailed process opens nothing */
	"open", "openat", "openat2", "creat", "open_by_handle_at", "name_to_handle_at", "memfd_create",
	"socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "mknod", "mknodat",
	"link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "rename", "renameat",
	"renameat2", "mkdir", "mkdirat", "rmdir", "truncate", "chmod", "fchmodat", "chown",
	"lchown", "fchownat",
	/* kernel code, raw hardware, the kernel's own state */
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "bpf",
	"perf_event_open", "iopl", "ioperm", "modify_ldt", "reboot", "swapon", "swapoff",
	"syslog", "acct", "quotactl", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "keyctl", "add_key", "request_key", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init",
	"lookup_dcookie", "vhangup", "uselib", "remap_file_pages", "pkey_alloc",
};

/*
 * The exception: bulkhead-9p is the one process whose job is files (DESIGN.md,
 * "Brokered host access"). Its policy may name these, and only these, of the
 * calls above: the lookup that cannot leave a directory fd (openat2 with
 * RESOLVE_BENEATH; open and openat stay forbidden) and the *at calls it
 * serves requests with.
 */
static const char *const file_server = "9p";
static const char *const file_server_calls[] = {
	"openat2", "mkdirat", "mknodat", "symlinkat", "linkat", "unlinkat", "renameat", "fchmodat", "fchownat",
};

static int file_server_may(const char *process, const char *call)
{
	if (strcmp(process, file_server) != 0)
		return 0;
	for (size_t i = 0; i < nitems(file_server_calls); i++) {
		if (strcmp(file_server_calls[i], call) == 0)
			return 1;
	}
	return 0;
}

/*
 * Forbidden calls a policy may still name, narrowed: only in the policy of
 * that process (NULL: any), and only with argument arg compared (==) with a
 * placeholder, a value bulkhead binds at start from what it gave the process.
 */
static const struct narrowed {
	const char *syscall, *process;
	unsigned int arg;
} narrowed[] = {
	/* the supervisor's broker (kinds.h: connect): a UNIX socket only while a kind needs it */
	{ "socket", "supervisor", 0 },
	{ "connect", "supervisor", 2 },
	/* connections to a listening socket the supervisor made and passed (vsock's LISTEN_FD) */
	{ "accept4", NULL, 0 },
};

/* The rule compares argument arg with a placeholder (bound to the dummy value here). */
static int compares_placeholder(const struct policy_rule *r, unsigned int arg)
{
	for (unsigned int i = 0; i < r->ncmp; i++) {
		if (r->cmp[i].arg == arg && r->cmp[i].op == POLICY_OP_EQ &&
		    r->cmp[i].value == POLICY_DUMMY_VALUE)
			return 1;
	}
	return 0;
}

/* The narrowed[] row for a forbidden syscall, or NULL. */
static const struct narrowed *narrowed_row(const char *name)
{
	for (size_t i = 0; i < nitems(narrowed); i++) {
		if (strcmp(narrowed[i].syscall, name) == 0)
			return &narrowed[i];
	}
	return NULL;
}

/* A forbidden rule narrowed[] allows. */
static int narrowed_ok(const char *process, const struct policy_rule *r, const struct narrowed *w)
{
	return w && (!w->process || strcmp(w->process, process) == 0) &&
	       compares_placeholder(r, w->arg);
}

struct checked_file {
	struct policy_file pf;
	const char *path;
	char *text;
};

static int read_file(const char *path, struct checked_file *f)
{
	FILE *fp = fopen(path, "r");
	size_t cap = POLICY_MAX_FILE_BYTES + 1, n;
	const char *slash;

	if (!fp)
		return -errno;
	f->text = malloc(cap);
	if (!f->text) {
		fclose(fp);
		return -ENOMEM;
	}
	n = fread(f->text, 1, cap, fp);
	if (ferror(fp)) {
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	slash = strrchr(path, '/');
	f->path = path;
	f->pf.name = slash ? slash + 1 : path;
	f->pf.text = f->text;
	f->pf.len = n; /* more than the limit: the parser says so */
	return 0;
}

/* An error in common.policy comes back from every policy that includes it: say it once. */
static int reported_before(const char *msg)
{
	static char seen[2 * POLICY_MAX_FILES][512];
	static size_t nseen;

	for (size_t i = 0; i < nseen; i++) {
		if (strcmp(seen[i], msg) == 0)
			return 1;
	}
	if (nseen < nitems(seen))
		snprintf(seen[nseen++], sizeof(seen[0]), "%s", msg);
	return 0;
}

/* "blk.policy:12: reason" becomes "seccomp-policies/x86_64/blk.policy:12: reason". */
static void report(const struct checked_file *files, size_t n, const char *msg)
{
	size_t len = strcspn(msg, ":");

	if (reported_before(msg))
		return;

	for (size_t i = 0; i < n; i++) {
		if (strlen(files[i].pf.name) == len && memcmp(files[i].pf.name, msg, len) == 0) {
			fprintf(stderr, "policy-check: %s%s\n", files[i].path, msg + len);
			return;
		}
	}
	fprintf(stderr, "policy-check: %s\n", msg);
}

static const char *path_of(const struct checked_file *files, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(files[i].pf.name, name) == 0)
			return files[i].path;
	}
	return name;
}

/* A comparison on arg2 (prot) that PROT_EXEC can never pass. */
static int excludes_exec(const struct policy_rule *r)
{
	for (unsigned int i = 0; i < r->ncmp; i++) {
		const struct policy_cmp *c = &r->cmp[i];

		if (c->arg != 2)
			continue;
		if (c->op == POLICY_OP_MASKED_EQ && (c->mask & PROT_EXEC) && !(c->value & PROT_EXEC))
			return 1;
		if (c->op == POLICY_OP_EQ && !(c->value & PROT_EXEC))
			return 1;
	}
	return 0;
}

/* What the parser accepts but no bulkhead policy may say. */
static int check_rules(const char *process, const struct checked_file *files, size_t n,
		       const struct policy_set *set)
{
	int bad = 0;
	int nr_mmap = seccomp_syscall_resolve_name("mmap");
	int nr_mprotect = seccomp_syscall_resolve_name("mprotect");
	int nr_pkey_mprotect = seccomp_syscall_resolve_name("pkey_mprotect");

	for (size_t i = 0; i < set->nrules; i++) {
		const struct policy_rule *r = &set->rules[i];

		for (size_t k = 0; k < nitems(forbidden); k++) {
			if (seccomp_syscall_resolve_name(forbidden[k]) == r->nr) {
				const struct narrowed *w = narrowed_row(forbidden[k]);

				if (file_server_may(process, forbidden[k]) || narrowed_ok(process, r, w))
					break;
				if (w)
					fprintf(stderr, "policy-check: %s:%u: '%s' is allowed only in %s%s with arg%u == @PLACEHOLDER\n",
						path_of(files, n, r->file), r->line, forbidden[k],
						w->process ? w->process : "a policy", w->process ? ".policy" : "",
						w->arg);
				else
					fprintf(stderr, "policy-check: %s:%u: '%s' is never allowed in a bulkhead policy\n",
						path_of(files, n, r->file), r->line, forbidden[k]);
				bad = 1;
				break;
			}
		}
		if ((r->nr == nr_mmap || r->nr == nr_mprotect || r->nr == nr_pkey_mprotect) &&
		    !excludes_exec(r)) {
			fprintf(stderr, "policy-check: %s:%u: a memory protection rule must refuse PROT_EXEC (arg2 & PROT_EXEC == 0)\n",
				path_of(files, n, r->file), r->line);
			bad = 1;
		}
	}
	return bad;
}

/* -v: "blk.policy: 17 rules, 14 with argument filters; 123 BPF instructions". */
static void describe(const char *process, const struct policy_file *pf, size_t n,
		     const struct policy_set *set)
{
	size_t filtered = 0, insns = 0;
	char err[512];

	for (size_t i = 0; i < set->nrules; i++)
		filtered += set->rules[i].ncmp > 0;
	if (policy_filter_insns(process, pf, n, &insns, err, sizeof(err)) < 0)
		insns = 0;
	printf("%s.policy: %zu rules, %zu with argument filters; %zu BPF instructions\n", process,
	       set->nrules, filtered, insns);
}

int main(int argc, char **argv)
{
	struct checked_file files[POLICY_MAX_FILES];
	struct policy_file pf[POLICY_MAX_FILES];
	int verbose = 0, first = 1;
	size_t n = 0;
	int bad = 0;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = 1;
		first = 2;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: policy-check [-v] FILE.policy...\n");
		return 2;
	}
	if ((size_t)(argc - first) > POLICY_MAX_FILES) {
		fprintf(stderr, "policy-check: more than %d policy files\n", POLICY_MAX_FILES);
		return 2;
	}
	memset(files, 0, sizeof(files));
	for (int i = first; i < argc; i++) {
		int err = read_file(argv[i], &files[n]);

		if (err < 0) {
			fprintf(stderr, "policy-check: %s: %s\n", argv[i], strerror(-err));
			return 1;
		}
		pf[n] = files[n].pf;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		char process[POLICY_MAX_NAME], err[512];
		size_t len = strlen(pf[i].name);
		struct policy_set set;

		if (len <= 7 || len - 7 >= sizeof(process) || strcmp(pf[i].name + len - 7, ".policy")) {
			fprintf(stderr, "policy-check: %s: a policy file's name ends in .policy\n",
				files[i].path);
			bad = 1;
			continue;
		}
		memcpy(process, pf[i].name, len - 7);
		process[len - 7] = '\0';
		if (policy_check(process, pf, n, err, sizeof(err)) < 0) {
			report(files, n, err);
			bad = 1;
			continue;
		}
		if (policy_parse(process, pf, n, NULL, 0, 1, &set, err, sizeof(err)) < 0) {
			report(files, n, err);
			bad = 1;
			continue;
		}
		bad |= check_rules(process, files, n, &set);
		if (verbose)
			describe(process, pf, n, &set);
		policy_set_free(&set);
	}
	for (size_t i = 0; i < n; i++)
		free(files[i].text);
	return bad ? 1 : 0;
}
