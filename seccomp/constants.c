/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The constant names a policy may use as argument values, each taken from
 * the system header that defines it, never typed in by hand. Add a name
 * here when a policy needs it; the build's checker refuses any other.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "internal.h"

struct policy_const {
	const char *name;
	uint64_t value;
};

/* (uint64_t)(int64_t) so that a negative int (AT_FDCWD, FUTEX_CMD_MASK) is sign-extended
 * as it is in the 64-bit register the filter sees. */
#define C(x) { #x, (uint64_t)(int64_t)(x) }

static const struct policy_const consts[] = {
	/* file descriptors every process has */
	C(STDIN_FILENO), C(STDOUT_FILENO), C(STDERR_FILENO),

	/* vCPU ioctls (<linux/kvm.h>) */
	C(KVM_RUN), C(KVM_GET_REGS), C(KVM_SET_REGS), C(KVM_GET_SREGS), C(KVM_SET_SREGS),
	C(KVM_GET_FPU), C(KVM_SET_FPU), C(KVM_GET_LAPIC), C(KVM_SET_LAPIC), C(KVM_GET_MSRS),
	C(KVM_SET_MSRS), C(KVM_SET_CPUID2), C(KVM_GET_CPUID2), C(KVM_SET_SIGNAL_MASK),
	C(KVM_GET_MP_STATE), C(KVM_SET_MP_STATE), C(KVM_GET_VCPU_EVENTS), C(KVM_SET_VCPU_EVENTS),
	C(KVM_INTERRUPT), C(KVM_NMI),

	/* VM ioctls */
	C(KVM_SET_GSI_ROUTING),

	/* TAP ioctls (<linux/if_tun.h>) */
	C(TUNSETOFFLOAD), C(TUNSETVNETHDRSZ), C(TUN_F_CSUM), C(TUN_F_TSO4), C(TUN_F_TSO6),
	C(TUN_F_TSO_ECN), C(TUN_F_UFO),

	/* terminal ioctls */
	C(TCGETS), C(TCSETS), C(TCSETSW), C(TCSETSF), C(FIONBIO), C(FIONREAD),

	/* mmap, mprotect, madvise */
	C(PROT_NONE), C(PROT_READ), C(PROT_WRITE), C(PROT_EXEC), C(MAP_SHARED), C(MAP_PRIVATE),
	C(MAP_ANONYMOUS), C(MAP_FIXED), C(MAP_NORESERVE), C(MAP_STACK), C(MAP_POPULATE),
	C(MADV_DONTNEED), C(MADV_FREE), C(MADV_HUGEPAGE), C(MADV_NOHUGEPAGE), C(MADV_DONTDUMP),

	/* sockets */
	C(AF_UNIX), C(AF_INET), C(AF_INET6), C(SOCK_STREAM), C(SOCK_DGRAM), C(SOCK_SEQPACKET),
	C(SOCK_NONBLOCK), C(SOCK_CLOEXEC), C(MSG_NOSIGNAL), C(MSG_DONTWAIT), C(MSG_CMSG_CLOEXEC),
	C(MSG_PEEK), C(MSG_TRUNC), C(MSG_WAITALL), C(SHUT_RD), C(SHUT_WR), C(SHUT_RDWR),

	/* fcntl and open */
	C(F_GETFD), C(F_SETFD), C(F_GETFL), C(F_SETFL), C(F_DUPFD), C(F_DUPFD_CLOEXEC),
	C(F_GET_SEALS), C(F_ADD_SEALS), C(F_OFD_SETLK), C(F_OFD_GETLK), C(FD_CLOEXEC),
	C(O_RDONLY), C(O_WRONLY), C(O_RDWR), C(O_NONBLOCK), C(O_CLOEXEC), C(O_DIRECT), C(O_APPEND),
	C(AT_FDCWD),

	/* the *at calls and lseek (the 9p server) */
	C(AT_EMPTY_PATH), C(AT_SYMLINK_NOFOLLOW), C(AT_REMOVEDIR), C(SEEK_SET),

	/* fallocate */
	C(FALLOC_FL_KEEP_SIZE), C(FALLOC_FL_PUNCH_HOLE), C(FALLOC_FL_ZERO_RANGE),
	C(FALLOC_FL_COLLAPSE_RANGE), C(FALLOC_FL_INSERT_RANGE),

	/* epoll */
	C(EPOLL_CTL_ADD), C(EPOLL_CTL_DEL), C(EPOLL_CTL_MOD), C(EPOLL_CLOEXEC),

	/* signals and the sigprocmask "how" */
	C(SIGHUP), C(SIGINT), C(SIGQUIT), C(SIGILL), C(SIGTRAP), C(SIGABRT), C(SIGBUS), C(SIGFPE),
	C(SIGKILL), C(SIGUSR1), C(SIGSEGV), C(SIGUSR2), C(SIGPIPE), C(SIGALRM), C(SIGTERM),
	C(SIGCHLD), C(SIGCONT), C(SIGSTOP), C(SIGSYS), C(SIG_BLOCK), C(SIG_UNBLOCK),
	C(SIG_SETMASK),

	/* futex operations */
	C(FUTEX_WAIT), C(FUTEX_WAKE), C(FUTEX_REQUEUE), C(FUTEX_CMP_REQUEUE), C(FUTEX_WAKE_OP),
	C(FUTEX_WAIT_BITSET), C(FUTEX_WAKE_BITSET), C(FUTEX_PRIVATE_FLAG), C(FUTEX_CLOCK_REALTIME),
	C(FUTEX_CMD_MASK),

	/* clone flags */
	C(CLONE_VM), C(CLONE_FS), C(CLONE_FILES), C(CLONE_SIGHAND), C(CLONE_THREAD),
	C(CLONE_SYSVSEM), C(CLONE_SETTLS), C(CLONE_PARENT_SETTID), C(CLONE_CHILD_CLEARTID),
	C(CLONE_NEWNS), C(CLONE_NEWPID), C(CLONE_NEWNET), C(CLONE_NEWUSER),

	/* waitid */
	C(P_ALL), C(P_PID), C(P_PIDFD), C(WEXITED), C(WNOHANG), C(WSTOPPED), C(WCONTINUED), C(__WALL),
};

int policy_const_lookup(const char *name, size_t len, uint64_t *value)
{
	for (size_t i = 0; i < nitems(consts); i++) {
		if (strlen(consts[i].name) == len && memcmp(consts[i].name, name, len) == 0) {
			*value = consts[i].value;
			return 0;
		}
	}
	return -ENOENT;
}
