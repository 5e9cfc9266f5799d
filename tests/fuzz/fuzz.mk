# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# Fuzzing (docs/fuzzing.md), included by the top-level Makefile. Every
# target links the real module sources, compiled again with clang and
# -fsanitize=fuzzer-no-link,address,undefined into $(O)/fuzz/obj/.
#
#   make fuzz            every target for FUZZ_SECONDS (60) each, then a table
#                        of executions per second and coverage
#   make fuzz-check      every target for FUZZ_CHECK_SECONDS (3) over its
#                        corpus; fails on any crash, leak or timeout
#   make fuzz-build      the binaries only: $(O)/fuzz/fuzz_<target>,
#                        $(O)/fuzz/procfuzz-stdin (AFL++-style driver)
#   make fuzz-seeds      regenerate the seed corpora in $(O)/fuzz/corpus/
#
# FUZZ_TARGETS=... picks targets; FUZZ_JOBS=2 runs that many at once;
# FUZZ_KEEP=1 goes on from the corpus the last `make fuzz` grew.
# The fuzz_proc_* targets start the real $(O)/bulkhead-{blk,net,serial,9p,rng,vsock,api}
# jailed, so they need root (as the supervisor would); without it they are
# skipped with a message. fuzz_proc_vcpu runs the test builds of bulkhead and
# its vcpu and serial processes ($(O)/testhooks: make testhooks) with
# evil-device as blk0, and needs /dev/kvm.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 3
FUZZ_JOBS ?= 1
FUZZ_KEEP ?= 0
FUZZ_DIR := $(O)/fuzz
FUZZ_SRC := tests/fuzz

FUZZ_WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wimplicit-fallthrough \
	-Wvla -Wno-missing-prototypes -Wno-unused-parameter
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g -I. $(FUZZ_WARN) -MMD -MP \
	-DBH_VERSION='"$(VERSION)"' -DBH_LIBEXECDIR='"$(LIBEXECDIR)"' \
	-DFUZZ_BINDIR='"$(abspath $(O))"' $(PKG_CFLAGS)
FUZZ_CFLAGS := $(FUZZ_BASE_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer

# What each target links (sources; the module code is the real thing).
FUZZ_VIRTIO := devices/virtio/virtq.c devices/virtio/mmio.c mem/mem.c common/clock.c
FUZZ_srcs_fuzz_virtq := $(FUZZ_SRC)/fuzz_virtq.c devices/virtio/virtq.c mem/mem.c
FUZZ_srcs_fuzz_blk := $(FUZZ_SRC)/fuzz_blk.c $(FUZZ_SRC)/fzv.c devices/blk/blk.c $(FUZZ_VIRTIO)
FUZZ_srcs_fuzz_net := $(FUZZ_SRC)/fuzz_net.c $(FUZZ_SRC)/fzv.c devices/net/net.c $(FUZZ_VIRTIO)
FUZZ_srcs_fuzz_mmio := $(FUZZ_SRC)/fuzz_mmio.c $(FUZZ_SRC)/fzv.c $(FUZZ_VIRTIO)
FUZZ_srcs_fuzz_uart := $(FUZZ_SRC)/fuzz_uart.c devices/serial/uart.c
FUZZ_srcs_fuzz_ioapic := $(FUZZ_SRC)/fuzz_ioapic.c vcpu/ioapic.c
FUZZ_srcs_fuzz_rng := $(FUZZ_SRC)/fuzz_rng.c $(FUZZ_SRC)/fzv.c devices/rng/rng.c $(FUZZ_VIRTIO)
FUZZ_srcs_fuzz_vsock := $(FUZZ_SRC)/fuzz_vsock.c $(FUZZ_SRC)/fzv.c devices/vsock/vsock.c $(FUZZ_VIRTIO)
# fuzz_ipc_dev.c #includes runtime/runtime.c, devices/devproc/devproc.c and the device mains for
# their static tables, and fuzz_ipc_vcpu.c includes vcpu/main.c
FUZZ_srcs_fuzz_ipc := $(FUZZ_SRC)/fuzz_ipc.c $(FUZZ_SRC)/fuzz_ipc_dev.c $(FUZZ_SRC)/fuzz_ipc_vcpu.c \
	ipc/ipc.c jail/jail.c devices/blk/blk.c devices/net/net.c devices/serial/uart.c \
	devices/virtio/devglue.c $(FUZZ_VIRTIO) $(filter-out vcpu/main.c,$(wildcard vcpu/*.c)) \
	$(filter-out seccomp/policy-check.c,$(wildcard seccomp/*.c))
# the protocol layer of devices/9p (no virtio, no device main)
FUZZ_srcs_fuzz_9p := $(FUZZ_SRC)/fuzz_9p.c $(FUZZ_SRC)/p9share.c $(filter-out devices/9p/main.c devices/9p/virtio9p.c,$(wildcard devices/9p/*.c))
FUZZ_CONFIG := supervisor/config.c supervisor/fcjson.c supervisor/unixsock.c $(wildcard kinds/*.c) ipc/ipc.c
FUZZ_srcs_fuzz_config := $(FUZZ_SRC)/fuzz_config.c $(FUZZ_CONFIG)
FUZZ_srcs_fuzz_fcjson := $(FUZZ_SRC)/fuzz_fcjson.c $(FUZZ_CONFIG)
FUZZ_srcs_fuzz_qemu := $(FUZZ_SRC)/fuzz_qemu.c frontends/qemu/parse.c frontends/qemu/translate.c \
	$(FUZZ_CONFIG)
FUZZ_srcs_fuzz_loader := $(FUZZ_SRC)/fuzz_loader.c $(wildcard loader/*.c) mem/mem.c
FUZZ_srcs_fuzz_api := $(FUZZ_SRC)/fuzz_api.c api/http.c api/render.c
FUZZ_PROC := $(FUZZ_SRC)/procfuzz.c $(FUZZ_SRC)/fzproc.c $(FUZZ_SRC)/fzv.c $(FUZZ_SRC)/p9share.c ipc/ipc.c mem/mem.c
FUZZ_srcs_fuzz_proc_blk := $(FUZZ_SRC)/fuzz_proc_blk.c $(FUZZ_PROC)
FUZZ_srcs_fuzz_proc_net := $(FUZZ_SRC)/fuzz_proc_net.c $(FUZZ_PROC)
FUZZ_srcs_fuzz_proc_serial := $(FUZZ_SRC)/fuzz_proc_serial.c $(FUZZ_PROC)
FUZZ_srcs_fuzz_proc_rng := $(FUZZ_SRC)/fuzz_proc_rng.c $(FUZZ_PROC)
FUZZ_srcs_fuzz_proc_vsock := $(FUZZ_SRC)/fuzz_proc_vsock.c $(FUZZ_PROC)
# bulkhead-api, played by clients of its socket and a supervisor (its own harness).
FUZZ_srcs_fuzz_proc_api := $(FUZZ_SRC)/fuzz_proc_api.c $(FUZZ_SRC)/fzapi.c $(FUZZ_SRC)/fzproc.c \
	ipc/ipc.c mem/mem.c
# A compromised device (evil-device, as bulkhead-blk) against the real vcpu process.
FUZZ_srcs_fuzz_proc_9p := $(FUZZ_SRC)/fuzz_proc_9p.c $(FUZZ_PROC)
FUZZ_srcs_fuzz_proc_vcpu := $(FUZZ_SRC)/fuzz_proc_vcpu.c

FUZZ_libs_fuzz_ipc := $(CAPNG_LIBS) $(or $(POLICY_LIBS),-lseccomp) -lpthread
FUZZ_libs_fuzz_loader := $(ELF_LIBS)
FUZZ_libs_fuzz_config := $(JANSSON_LIBS)
FUZZ_libs_fuzz_fcjson := $(JANSSON_LIBS)
FUZZ_libs_fuzz_qemu := $(JANSSON_LIBS)
FUZZ_libs_fuzz_api := -lhttp_parser $(JANSSON_LIBS)

FUZZ_INPROC := fuzz_virtq fuzz_blk fuzz_net fuzz_rng fuzz_vsock fuzz_mmio fuzz_uart fuzz_ioapic fuzz_ipc fuzz_config \
	fuzz_fcjson fuzz_qemu fuzz_loader fuzz_9p fuzz_api
FUZZ_PROCS := fuzz_proc_blk fuzz_proc_net fuzz_proc_serial fuzz_proc_9p fuzz_proc_rng fuzz_proc_vsock \
	fuzz_proc_vcpu fuzz_proc_api
FUZZ_ALL := $(FUZZ_INPROC) $(FUZZ_PROCS)
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/,$(FUZZ_ALL)) $(FUZZ_DIR)/procfuzz-stdin $(FUZZ_DIR)/evil-device
FUZZ_DEVICE_BINS := $(O)/bulkhead-blk $(O)/bulkhead-net $(O)/bulkhead-serial $(O)/bulkhead-9p \
	$(O)/bulkhead-rng $(O)/bulkhead-vsock $(O)/bulkhead-api

fuzz_objs = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))
# Objects of the AFL++-style driver and the seed generator: sanitizers, no libFuzzer.
fuzz_plain_objs = $(patsubst %.c,$(FUZZ_DIR)/plain/%.o,$(1))

define fuzz_target_rule
$(FUZZ_DIR)/$(1): $(call fuzz_objs,$(FUZZ_srcs_$(1)) $(FUZZ_SRC)/fz_common.c)
	@echo "  FUZZLD  $$@"
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $$@ $$^ $(FUZZ_libs_$(1))
endef
$(foreach t,$(FUZZ_ALL),$(eval $(call fuzz_target_rule,$(t))))

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/plain/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (fuzz driver, asan+ubsan)"
	$(Q)$(FUZZ_CC) $(FUZZ_BASE_CFLAGS) $(FUZZ_SAN) -c -o $@ $<

# fuzz_proc_vcpu's device: plain, it is the attacker.
$(FUZZ_DIR)/evil-device: $(FUZZ_SRC)/evildev.c ipc/ipc.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(BH_CFLAGS) -Wno-missing-prototypes -o $@ $^

# One input on stdin (or a file argument) per run, for AFL++ and for replaying crashes.
$(FUZZ_DIR)/procfuzz-stdin: $(call fuzz_plain_objs,$(FUZZ_SRC)/procfuzz-stdin.c $(FUZZ_PROC) $(FUZZ_SRC)/fz_common.c)
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^

$(FUZZ_DIR)/make-seeds: $(call fuzz_plain_objs,$(FUZZ_SRC)/make_seeds.c $(FUZZ_SRC)/fzv.c $(FUZZ_SRC)/fzapi.c mem/mem.c ipc/ipc.c $(FUZZ_SRC)/fz_common.c)
	@echo "  LD      $@"
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^

$(FUZZ_DIR)/corpus/.stamp: $(FUZZ_DIR)/make-seeds $(FUZZ_SRC)/make-seeds.sh $(wildcard $(FUZZ_SRC)/corpus/*/*) \
		$(wildcard $(O)/guest/bulkhead-test-guest $(O)/linux-kit/bzImage)
	$(Q)sh $(FUZZ_SRC)/make-seeds.sh $(FUZZ_DIR)/make-seeds $(FUZZ_DIR)/corpus $(O)
	@touch $@

fuzz-build: $(FUZZ_BINS) $(FUZZ_DEVICE_BINS)

fuzz-seeds: $(FUZZ_DIR)/make-seeds
	$(Q)sh $(FUZZ_SRC)/make-seeds.sh $(FUZZ_DIR)/make-seeds $(FUZZ_DIR)/corpus $(O)
	@touch $(FUZZ_DIR)/corpus/.stamp

fuzz: fuzz-build $(FUZZ_DIR)/corpus/.stamp
	$(Q)FUZZ_KEEP=$(FUZZ_KEEP) sh $(FUZZ_SRC)/run-fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_DIR) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-check: fuzz-build $(FUZZ_DIR)/corpus/.stamp
	$(Q)sh $(FUZZ_SRC)/run-fuzz.sh check $(FUZZ_CHECK_SECONDS) $(FUZZ_DIR) $(FUZZ_JOBS) $(FUZZ_TARGETS)

.PHONY: fuzz fuzz-check fuzz-build fuzz-seeds
