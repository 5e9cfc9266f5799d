/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* The process-level harnesses' child (procfuzz.c, fuzz_proc_api.c): started as the supervisor
 * starts one, and watched through its pidfd. */
#ifndef BULKHEAD_TESTS_FUZZ_FZPROC_H
#define BULKHEAD_TESTS_FUZZ_FZPROC_H

#include <sys/types.h>

/*
 * fzproc_spawn: start exe as the supervisor would: clone3 with a pidfd (into
 * *pidfd) and, with newpid, a new PID namespace; in the child it dies with
 * the harness, has stderr on log_path (or /dev/null), fds src[i] at dst[i]
 * and no other but stderr, default signals, argv[0] title and envp. The
 * child's pid (it fails the input through fz_fail if it cannot).
 */
pid_t fzproc_spawn(const char *exe, char *title, char *const envp[], const int *src,
		   const int *dst, unsigned int n, const char *log_path, int newpid, int *pidfd);
/* fzproc_ended: the child behind pidfd has ended (its pidfd is readable), without waiting. */
int fzproc_ended(int pidfd);
/* fzproc_gone: 1 if the child is not alive, or has just ended (then judge() says how), else 0. */
int fzproc_gone(int alive, int pidfd, void (*judge)(void));

#endif
