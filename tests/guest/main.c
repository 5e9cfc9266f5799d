/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring-3 entry of the boot CPU, the verdicts, and the report of an unexpected
 * exception (ring 0 records it in fault_info and resumes here).
 */
#include "guest.h"

const char *scenario_name = "hello";
uint64_t main_tsc, marker_tsc;
static char name_buf[64];

void pass(void)
{
	cprintf(GUEST_TAG "PASS %s\n", scenario_name);
	vm_exit(0);
}

void fail(const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	cprintf(GUEST_TAG "FAIL %s: %s\n", scenario_name, reason);
	vm_exit(1);
}

static const char *const exc_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF(old)", "#TS",
	"#NP", "#SS", "#GP", "#PF", "reserved", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

void guest_fault_report(void)
{
	struct fault_info f;
	const char *name;

	memcpy(&f, (const void *)&fault_info, sizeof(f));
	name = f.vector < 32 && exc_names[f.vector] ? exc_names[f.vector] : "interrupt";
	cprintf(GUEST_TAG "exception %lu (%s) error 0x%lx at rip 0x%lx cs 0x%lx (ring %lu) rflags 0x%lx\n",
		f.vector, name, f.error, f.rip, f.cs, f.cs & 3, f.rflags);
	cprintf(GUEST_TAG "  rsp 0x%lx cr2 0x%lx rax 0x%lx rbx 0x%lx rcx 0x%lx rdx 0x%lx\n", f.rsp, f.cr2,
		f.regs[0], f.regs[1], f.regs[2], f.regs[3]);
	cprintf(GUEST_TAG "  rsi 0x%lx rdi 0x%lx rbp 0x%lx r8 0x%lx r9 0x%lx r10 0x%lx r11 0x%lx\n",
		f.regs[4], f.regs[5], f.regs[6], f.regs[7], f.regs[8], f.regs[9], f.regs[10]);
	if (f.vector == VEC_UD && (f.cs & 3) && (f.regs[0] >> 32) == SVC_MAGIC)
		cprintf(GUEST_TAG "  (a service call with an unknown number %lu)\n", f.regs[0] & 0xffffffff);
	fail("unexpected exception %lu (%s) at rip 0x%lx", f.vector, name, f.rip);
}

void guest_main(void)
{
	const struct scenario *s = NULL;
	const char *v;
	size_t i, len;

	main_tsc = rdtsc();
	bootinfo_parse();
	console_init(); /* writes the boot marker port first */
	console_puts(GUEST_TAG "boot marker\n");
	marker_tsc = rdtsc();
	v = param_get("bulkhead.test", &len);
	if (v) {
		if (len >= sizeof(name_buf))
			len = sizeof(name_buf) - 1;
		memcpy(name_buf, v, len);
		name_buf[len] = '\0';
		scenario_name = name_buf;
	}
	for (i = 0; i < nscenarios; i++)
		if (!strcmp(scenarios[i].name, scenario_name))
			s = &scenarios[i];
	if (!s)
		fail("unknown scenario");
	s->run();
	fail("the scenario returned without a verdict");
}
