# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# make bench        bulkhead against QEMU microvm (bench/run.py): BENCH_RUNS runs of
#                   each VMM per figure, alternating; results in bench/results/ and
#                   the latest table in docs/performance.md. Needs root, /dev/kvm,
#                   qemu-system-x86_64 and gnuplot. Not part of make check.
# make bench-smoke  one run of each figure at tiny sizes, results in $(O)/bench-smoke/
#                   (make check runs the same through
#                   tests/integration/functional/test_bench_smoke.py).
#
# BENCH_RUNS (5): runs of each VMM per figure. BENCH_QUIET_WAIT (0): wait up to this
# many seconds for the 1-minute load average to fall below BENCH_QUIET_LOAD (0.5)
# before measuring. BENCH_ARGS: more bench/run.py options (--only disk,net ...).

# $(O)/bench/kvm-floor: the floor of the start figure (bench/kvm_floor.c), a bare KVM
# program: 64 MiB, one vCPU in real mode, one port write, hlt, exit; with --jail, the
# same in one process inside bulkhead's jail.
# $(O)/bench/floor-guest: the floor's guest as a kernel a VMM boots (bench/floor_guest.S):
# one port write through the PVH entry; the start figure boots it in both VMMs.
# $(O)/bench/boot-clock: the linux figure's clock where there is no Python (in the
# nested tier's L1): launch to a console line and to exit (bench/boot_clock.c).

BENCH_RUNS ?= 5
BENCH_QUIET_WAIT ?= 0
BENCH_QUIET_LOAD ?= 0.5
BENCH_ARGS ?=

KVM_FLOOR := $(O)/bench/kvm-floor
BOOT_CLOCK := $(O)/bench/boot-clock
# $(O)/bench/write-floor: the host's own floor under the 9p write figure (bench/write_floor.c).
WRITE_FLOOR := $(O)/bench/write-floor
FLOOR_GUEST := $(O)/bench/floor-guest

# --jail links bulkhead's own jail (jail/jail.c, which checks ipc fds) and libseccomp.
$(KVM_FLOOR): bench/kvm_floor.c jail/jail.c jail/jail.h ipc/ipc.c ipc/ipc.h common/log.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(BH_CFLAGS) $(BH_LDFLAGS) -o $@ bench/kvm_floor.c jail/jail.c ipc/ipc.c \
		common/log.c $(CAPNG_LIBS) $(POLICY_LIBS)

$(FLOOR_GUEST): bench/floor_guest.S bench/floor_guest.ld tests/guest/pvh_note.h
	@mkdir -p $(dir $@)
	@echo "  AS      $@"
	$(Q)$(CC) -nostdlib -static -no-pie -Wl,-T,bench/floor_guest.ld -Wl,--build-id=none -o $@ $<

$(WRITE_FLOOR): bench/write_floor.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(BH_CFLAGS) $(BH_LDFLAGS) -o $@ $<

$(BOOT_CLOCK): bench/boot_clock.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(BH_CFLAGS) $(BH_LDFLAGS) -o $@ $<

bench: all $(KVM_FLOOR) $(FLOOR_GUEST) $(WRITE_FLOOR) $(BOOT_CLOCK)
	$(Q)tests/guest/linux/build-kit.sh $(O)/linux-kit
	$(Q)BULKHEAD_BUILD=$(abspath $(O)) BENCH_RUNS=$(BENCH_RUNS) \
		BENCH_QUIET_WAIT=$(BENCH_QUIET_WAIT) BENCH_QUIET_LOAD=$(BENCH_QUIET_LOAD) \
		/usr/bin/python3 bench/run.py $(BENCH_ARGS)

bench-smoke: all $(KVM_FLOOR) $(FLOOR_GUEST) $(WRITE_FLOOR)
	$(Q)BULKHEAD_BUILD=$(abspath $(O)) /usr/bin/python3 bench/run.py --smoke --no-docs \
		--out $(O)/bench-smoke $(BENCH_ARGS)

.PHONY: bench bench-smoke
