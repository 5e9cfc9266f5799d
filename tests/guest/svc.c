/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/* The services that do not return (the others are inline in guest.h). */
#include "guest.h"

void vm_exit(uint8_t v)
{
	svc_call(SVC_EXIT, v, 0, 0);
	for (;;)
		cpu_relax();
}

void cpu_stop(void)
{
	svc_call(SVC_STOP_CPU, 0, 0, 0);
	for (;;)
		cpu_relax();
}

void triple_fault(void)
{
	svc_call(SVC_TRIPLE_FAULT, 0, 0, 0);
	for (;;)
		cpu_relax();
}
