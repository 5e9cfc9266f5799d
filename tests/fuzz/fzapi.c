/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "fzapi.h"

static void api_item(struct ipc_api_page *pg, const char *obj, const char *key, const char *type,
		     const char *val)
{
	const char *part[] = { obj, key, type, val };

	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(part[i]) + 1;

		memcpy(pg->pg_config + pg->pg_config_len, part[i], n);
		pg->pg_config_len += (uint32_t)n;
	}
}

void fz_api_page(struct ipc_api_page *pg)
{
	static const char *const procs[][2] = { { "supervisor", "supervisor" }, { "serial", "serial" },
						{ "blk0", "blk" }, { "api", "api" }, { "vcpu", "vcpu" } };

	memset(pg, 0, sizeof(*pg));
	pg->pg_state = IPC_VM_RUNNING;
	pg->pg_uptime_ns = 1234567890;
	pg->pg_pid = 4242;
	pg->pg_flags = IPC_API_PG_F_ACPI;
	snprintf(pg->pg_name, sizeof(pg->pg_name), "vm0");
	snprintf(pg->pg_version, sizeof(pg->pg_version), "0.1.0");
	for (size_t i = 0; i < 5; i++) {
		struct ipc_api_proc *p = &pg->pg_procs[pg->pg_nprocs++];

		snprintf(p->ap_name, sizeof(p->ap_name), "%s", procs[i][0]);
		snprintf(p->ap_kind, sizeof(p->ap_kind), "%s", procs[i][1]);
		p->ap_pid = 100 + (int32_t)i;
		p->ap_state = IPC_PROC_RUNNING;
		p->ap_flags = IPC_API_PROC_F_CPU | IPC_API_PROC_F_MEM;
		p->ap_cpu_ns = 10000000 * i;
		p->ap_rss = 2 << 20;
		p->ap_pss = 1 << 19;
	}
	pg->pg_procs[2].ap_restarts = 1;
	pg->pg_procs[2].ap_failed_ns = 500000000;
	snprintf(pg->pg_procs[2].ap_failure, sizeof(pg->pg_procs[2].ap_failure),
		 "was killed by signal 9 (SIGKILL)");
	snprintf(pg->pg_devs[0].ad_name, sizeof(pg->pg_devs[0].ad_name), "serial");
	snprintf(pg->pg_devs[0].ad_kind, sizeof(pg->pg_devs[0].ad_kind), "serial");
	snprintf(pg->pg_devs[1].ad_name, sizeof(pg->pg_devs[1].ad_name), "blk0");
	snprintf(pg->pg_devs[1].ad_kind, sizeof(pg->pg_devs[1].ad_kind), "blk");
	pg->pg_devs[0].ad_flags = pg->pg_devs[1].ad_flags = IPC_API_DEV_F_COUNTERS;
	pg->pg_devs[1].ad_counters = (struct ipc_counters){ 10, 40960, 1, 12, 11, 30, 60, 0 };
	pg->pg_devs[1].ad_restarts = 1;
	pg->pg_ndevs = 2;
	api_item(pg, "", "name", "s", "vm0");
	api_item(pg, "kernel", "path", "s", "/boot/vmlinuz");
	api_item(pg, "kernel", "cmdline", "s", "console=ttyS0 reboot=k");
	api_item(pg, "memory", "size_mib", "n", "256");
	api_item(pg, "memory", "hugepages", "b", "0");
	api_item(pg, "", "acpi", "b", "1");
	api_item(pg, "device:blk0", "option", "s", "disk");
	api_item(pg, "device:blk0", "path", "s", "/var/lib/d\xff.img");
	api_item(pg, "device:blk0", "readonly", "b", "1");
	api_item(pg, "device:api", "option", "s", "api-socket");
}

