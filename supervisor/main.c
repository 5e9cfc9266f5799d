/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkhead: the supervisor. Parses the configuration, opens every host
 * resource, creates sealed guest memory, writes the boot image into it,
 * starts one process per job and watches them until the guest ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <termios.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "common/clock.h"
#include "common/layout.h"
#include "common/log.h"
#include "acpi/acpi.h"
#include "loader/loader.h"
#include "supervisor.h"
#include "testhooks/testhooks.h"

#define MAX_GUEST_VCPUS 254 /* 8-bit APIC ids in the MP table, the IOAPIC takes one */

static struct termios saved_tty;
static int tty_raw;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
}

/* Restoring the terminal is async-signal-safe; it is the only thing this does. */
static void crash_handler(int sig)
{
	tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void tty_make_raw(void)
{
	static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return;
	raw = saved_tty;
	cfmakeraw(&raw);
	/* Keep output post-processing so our own log lines start at column 0. */
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return;
	tty_raw = 1;
	atexit(tty_restore);
	for (size_t i = 0; i < nitems(crash_signals); i++)
		signal(crash_signals[i], crash_handler);
}

static _Noreturn void usage_error(const char *msg)
{
	fprintf(stderr, "bulkhead: %s\n", msg);
	exit(EXIT_USAGE);
}

static int open_config_file(const char *opt, const char *key, const char *path, int flags)
{
	char msg[PATH_MAX + 128];
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0) {
		snprintf(msg, sizeof(msg), "%s: %s=%s: %s", opt, key, path, strerror(errno));
		usage_error(msg);
	}
	return fd;
}

static unsigned int kvm_max_vcpus(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (n <= 0)
		n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (n <= 0)
		n = 4;
	return n < MAX_GUEST_VCPUS ? (unsigned int)n : MAX_GUEST_VCPUS;
}

static void check_config(struct sup *s)
{
	struct config_limits lim;
	struct sysinfo si;
	char err[512];

	if (sysinfo(&si) < 0)
		fatal("sysinfo");
	lim.host_mem_mib = (uint64_t)si.totalram * si.mem_unit >> 20;
	lim.max_vcpus = kvm_max_vcpus(s->kvm_fd);
	lim.split_irqchip = ioctl(s->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SPLIT_IRQCHIP) > 0;
	if (config_check(&s->cfg, &lim, err, sizeof(err)) != CONFIG_OK)
		usage_error(err);
}

static void parse_args(struct sup *s, int argc, char **argv)
{
	char err[512];

	config_init(&s->cfg);
	switch (config_parse_args(&s->cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_OK:
		break;
	case CONFIG_HELP:
		config_usage(stdout);
		exit(0);
	case CONFIG_VERSION:
		printf("bulkhead %s\n", BH_VERSION);
		exit(0);
	default:
		usage_error(err);
	}
	log_set_verbose(s->cfg.verbose);
}

static void open_kvm(struct sup *s)
{
	s->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (s->kvm_fd < 0) {
		fprintf(stderr, "bulkhead: /dev/kvm: %s\n", strerror(errno));
		exit(EXIT_VM_FAILED);
	}
}

/* The virtio-mmio windows, for the DSDT. */
static int build_acpi(struct sup *s, uint64_t *rsdp)
{
	struct acpi_mmio_device devs[LAYOUT_MAX_DEVICES];
	struct acpi_config cfg = {
		.nvcpus = s->cfg.nvcpus,
		.devices = devs,
		.serial = 1,
		.power_button = s->power_fd >= 0,
	};

	for (unsigned int i = 0; i < s->ndevs; i++) {
		if (!kinds_announced(s->devs[i].kind))
			continue;
		devs[cfg.ndevices].base = s->devs[i].base;
		devs[cfg.ndevices].size = (uint32_t)s->devs[i].len;
		devs[cfg.ndevices++].gsi = s->devs[i].gsi;
	}
	return acpi_build(&s->mem, &cfg, rsdp);
}

/* Guest RAM, mapped; a host short of the huge pages asked for is a configuration error. */
static void create_memory(struct sup *s)
{
	struct mem_hugetlb_pool pool;
	char line[400], msg[480];
	int ret = mem_layout(&s->mem, s->cfg.mem_mib << 20);

	if (ret == 0 && s->cfg.mem_hugepages && mem_use_hugetlb(&s->mem) < 0)
		usage_error("--memory: hugepages=on: size_mib must be a multiple of 2 (2 MiB pages)");
	if (ret == 0)
		ret = mem_create(&s->mem, s->cfg.name);
	if (ret == 0)
		ret = mem_map(&s->mem);
	if (ret < 0 && s->mem.hugetlb) {
		if (ret == -ENOMEM && mem_hugetlb_pool_read(&pool) == 0)
			mem_hugetlb_advice(&s->mem, &pool, line, sizeof(line));
		else
			snprintf(line, sizeof(line), "no 2 MiB huge pages for guest RAM: %s", strerror(-ret));
		snprintf(msg, sizeof(msg), "--memory: hugepages=on: %s", line);
		usage_error(msg);
	}
	if (ret < 0) {
		errno = -ret;
		fatal("guest memory");
	}
	mem_describe(&s->mem, mem_thp_host(), line, sizeof(line));
	log_debug("%s", line);
}

static void load_kernel(struct sup *s)
{
	struct loader_device devs[LAYOUT_MAX_DEVICES];
	struct loader_args a = {
		.cmdline = s->cmdline,
		.nvcpus = s->cfg.nvcpus,
		.devices = devs,
	};
	char err[256], msg[PATH_MAX + 320];
	int ret;

	a.kernel_fd = open_config_file("--kernel", "path", s->cfg.kernel_path, O_RDONLY);
	a.initrd_fd = s->cfg.initrd_path[0]
			      ? open_config_file("--initrd", "path", s->cfg.initrd_path, O_RDONLY)
			      : -1;
	for (unsigned int i = 0; i < s->ndevs; i++) {
		if (!kinds_announced(s->devs[i].kind))
			continue;
		devs[a.ndevices].base = s->devs[i].base;
		devs[a.ndevices++].gsi = s->devs[i].gsi;
	}
	create_memory(s);
	if (s->cfg.acpi) {
		ret = build_acpi(s, &a.rsdp);
		if (ret < 0) {
			errno = -ret;
			fatal("ACPI tables");
		}
	}
	ret = loader_load(&a, &s->mem, &s->boot, err, sizeof(err));
	if (ret < 0) {
		const char *opt = strncmp(err, "initrd", 6) == 0 ? "--initrd" : "--kernel";
		const char *path = opt[2] == 'i' ? s->cfg.initrd_path : s->cfg.kernel_path;

		snprintf(msg, sizeof(msg), "%s: path=%s: %s", opt, path, err);
		usage_error(msg);
	}
	log_debug("loaded %s kernel at 0x%llx-0x%llx, entry 0x%llx", loader_kind_name(s->boot.kind),
		  (unsigned long long)s->boot.kernel_start, (unsigned long long)s->boot.kernel_end,
		  (unsigned long long)s->boot.entry);
	/* The supervisor never touches guest memory again. */
	mem_unmap(&s->mem);
	close(a.kernel_fd);
	if (a.initrd_fd >= 0)
		close(a.initrd_fd);
}

static int uses_stdio(const struct sup *s)
{
	for (unsigned int i = 0; i < s->ndevs; i++) {
		if (s->devs[i].uses_stdio)
			return 1;
	}
	return 0;
}

/* The strongest jail the environment allows for --jail (jailplan.c); seccomp said out loud. */
static void jail_plan(struct sup *s)
{
	static const char *const seccomp_names[] = { "kill", "log", "off" };
	char err[512];

	if (jailplan_choose(s, err, sizeof(err)) < 0)
		usage_error(err);
	if (s->cfg.seccomp_mode != 0)
		log_info("warning: --seccomp %s: system calls are %s", seccomp_names[s->cfg.seccomp_mode],
			 s->cfg.seccomp_mode == 1 ? "only logged, not stopped" : "not filtered");
}

static int block_signals(struct sup *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, &s->old_sigmask) < 0)
		return -errno;
	sigdelset(&set, SIGPIPE);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return s->sigfd < 0 ? -errno : 0;
}

/* bulkhead ctl SOCKET COMMAND: the API socket's client, a helper of its own (ctl/). */
static _Noreturn void run_ctl(int argc, char **argv)
{
	char exe[PATH_MAX];
	int err = helper_path("ctl", exe, sizeof(exe));

	(void)argc;
	argv[1] = "bulkhead ctl";
	if (err == 0)
		execv(exe, argv + 1);
	fprintf(stderr, "bulkhead: ctl: bulkhead-ctl: %s\n", strerror(err < 0 ? -err : errno));
	exit(EXIT_USAGE);
}

/*
 * The children of an unprobed jail (jailplan.c) could not be spawned, or one
 * died before any was ready: the probe says whether the jail was why. If it
 * was not, the failure stands; if no jail works, the line jailplan_choose would
 * have given and status 2; if only a user namespace's works, bulkhead starts
 * again from the top with the probe first (everything it made is closed on
 * exec), and says why with -v.
 */
static int recheck_jail(struct sup *s, char **argv, int status)
{
	char err[512];
	int e = jailplan_recheck(s, err, sizeof(err));

	if (e == 0) {
		if (s->jail_spawn_error[0])
			log_warnx("%s", s->jail_spawn_error);
		return status;
	}
	if (e < 0)
		usage_error(err);
	log_debug("jail: the full jail cannot be built here; starting again, probing first");
	if (setenv(JAILPLAN_PROBE_ENV, "1", 1) < 0)
		fatal("setenv");
	sigprocmask(SIG_SETMASK, &s->old_sigmask, NULL);
	execv("/proc/self/exe", argv);
	fatal("exec /proc/self/exe");
}

int main(int argc, char **argv)
{
	static struct sup s;
	char err[PATH_MAX + 256];
	int status, err_no;

	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		run_ctl(argc, argv);
	s.launch_ns = now_ns();
	s.status = -1;
	s.deadline_ms = testhook_deadline_ms(IPC_DEADLINE_MS);
	s.restart_window_ms = testhook_restart_window_ms(SUP_RESTART_WINDOW_MS);
	s.phase = PHASE_STARTING;
	log_init("bulkhead");
	parse_args(&s, argc, argv);
	open_kvm(&s);
	check_config(&s);
	jailplan_begin(&s);
	if (vm_open_devices(&s, err, sizeof(err)) < 0)
		usage_error(err);
	if ((err_no = control_init(&s)) < 0) {
		errno = -err_no;
		fatal("--api-socket: the API page");
	}
	load_kernel(&s);
	if (block_signals(&s) < 0)
		fatal("signals");
	/* Only to explain a seccomp kill; not readable unprivileged on most systems. */
	s.kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (s.kmsg_fd >= 0)
		lseek(s.kmsg_fd, 0, SEEK_END);
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (s.ep < 0)
		fatal("epoll_create1");
	jail_plan(&s);
	control_config(&s);
	if (uses_stdio(&s))
		tty_make_raw();
	if (vm_start_children(&s) < 0 || vm_start_spawner(&s) < 0) {
		sup_decide(&s, EXIT_VM_FAILED, "cannot start the VM's processes");
		sup_stop_all(&s); /* those that started, at once rather than at the READY timeout */
	}
	/* The supervisor never maps guest memory again; the spawner keeps its copy. */
	mem_close(&s.mem);
	status = sup_run(&s);
	vm_close_devices(&s);
	vm_close_links(&s);
	tty_restore();
	/* A signal's stop is not the jail's failure, and is not started again. */
	if (s.jail_failed && !s.signalled)
		status = recheck_jail(&s, argv, status);
	log_info("%s; exit status %d", s.reason, status);
	return status;
}
