/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_ipc's receivers. fuzz_ipc_dev.c and fuzz_ipc_vcpu.c #include the
 * real receivers' sources (runtime/runtime.c, devices/devproc/devproc.c and
 * the device mains, vcpu/main.c) to reach their static dispatch tables and handlers; each
 * serves one receiver here.
 */
#ifndef BULKHEAD_TESTS_FUZZ_FUZZ_IPC_H
#define BULKHEAD_TESTS_FUZZ_FUZZ_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc.h"

/* Fds the harness holds at fixed numbers, so inputs can name them in CFG_* messages. */
#define FZIPC_FD_MEM 200 /* sealed memfd, FZIPC_MEM_SIZE bytes */
#define FZIPC_FD_CHAN 201 /* SOCK_SEQPACKET: the device's vcpu channel */
#define FZIPC_FD_IRQ 202 /* eventfd */
#define FZIPC_FD_IMAGE 203 /* memfd, FZIPC_IMAGE_SIZE bytes: a disk image */
#define FZIPC_FD_TAP 204 /* SOCK_DGRAM: a TAP stand-in */
#define FZIPC_FD_QUEUE 205 /* 205 .. 208: eventfds */
#define FZIPC_FD_KVM 209 /* /dev/null: an open fd where the vcpu wants /dev/kvm */
#define FZIPC_FD_CPUID 210 /* an empty memfd where the vcpu wants the supervisor's CPUID table */
#define FZIPC_MEM_SIZE 0x10000
#define FZIPC_IMAGE_SIZE 0x100000

/* fzipc_dev_reset: a fresh device process of kind (enum ipc_dev_kind) in its boot state. */
void fzipc_dev_reset(uint32_t kind);
/* fzipc_dev_control: one message on the device's control socket, as control_read dispatches it. */
int fzipc_dev_control(const void *buf, size_t len);
/* fzipc_dev_channel: one message from the vcpu process, as channel_drain dispatches it. */
int fzipc_dev_channel(const void *buf, size_t len);
/* fzipc_vcpu_reset, fzipc_vcpu_control: the vcpu process's control socket. */
void fzipc_vcpu_reset(void);
int fzipc_vcpu_control(const void *buf, size_t len);
struct runtime;
/* fzipc_runtime_dispatch: one control message as runtime_control dispatches it. */
int fzipc_runtime_dispatch(struct runtime *rt, const struct ipc_handler *table, size_t n, void *ctx,
			   const void *buf, size_t len);
/* fzipc_reply_fd: the harness's end of the device channel (replies arrive here). */
int fzipc_reply_fd(void);

#endif
