# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# One non-recursive Makefile. Each folder is a module; the *_MODULES lists say
# which binary links which modules. Output goes to build/ (O=...).

VERSION := 0.1.0
.DEFAULT_GOAL := all
O ?= build
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/bulkhead
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual -Wstrict-prototypes \
	-Wmissing-prototypes -Wimplicit-fallthrough -Wvla -Werror
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
BH_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) $(HARDEN) -MMD -MP -I. \
	-DBH_VERSION='"$(VERSION)"' -DBH_LIBEXECDIR='"$(LIBEXECDIR)"' -DBH_BINDIR='"$(BINDIR)"'
BH_LDFLAGS := -pie -Wl,-z,relro,-z,now
# make testhooks builds the binaries again under $(O)/testhooks with the
# tests' fault-injection hook (testhooks/testhooks.h); never installed.
ifeq ($(BH_TEST_HOOKS),1)
BH_CFLAGS += -DBH_TEST_HOOKS
endif
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

PKGS := libelf libseccomp jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ELF_LIBS := $(shell pkg-config --libs libelf 2>/dev/null || echo -lelf)
CAPNG_LIBS := $(shell pkg-config --libs libcap-ng 2>/dev/null || echo -lcap-ng)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

ifeq ($(V),1)
Q :=
else
Q := @
endif

srcs = $(if $(filter %.c,$(1)),$(1),$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(O)/obj/%.o,$(foreach m,$(1),$(call srcs,$(m))))
sanobjs = $(patsubst %.c,$(O)/san/%.o,$(foreach m,$(1),$(call srcs,$(m))))

# Which binary links which modules (a folder, or one file of one).
BULKHEAD_MODULES := supervisor kinds loader acpi jail mem ipc testhooks common
VCPU_MODULES := vcpu runtime jail mem ipc testhooks common
# A device process for every row of the device-kind table (kinds/<kind>.c,
# DEVICE_KINDS in policies.mk): its own modules, MODULES_<kind>, and the runtime.
DEVICE_RUNTIME := devices/devproc runtime jail mem ipc testhooks common
MODULES_serial := devices/serial
MODULES_blk := devices/blk devices/virtio
MODULES_net := devices/net devices/virtio
# The API socket's process has no register window: the runtime without devices/devproc,
# and Debian's HTTP parser and JSON library (docs/architecture.md, "The API socket").
MODULES_api := api
RUNTIME_api := runtime jail mem ipc testhooks common
LIBS_api := -lhttp_parser $(JANSSON_LIBS)
MODULES_9p := devices/9p devices/virtio
MODULES_rng := devices/rng devices/virtio
MODULES_vsock := devices/vsock devices/virtio
PROBE_MODULES := probe kinds supervisor/config.c supervisor/fcjson.c supervisor/unixsock.c jail ipc common
QEMU_MODULES := frontends/qemu common

-include seccomp-policies/policies.mk

DEVICE_BINS := $(foreach k,$(DEVICE_KINDS),$(O)/bulkhead-$(k))
BINS := $(O)/bulkhead $(O)/bulkhead-vcpu $(DEVICE_BINS) $(O)/bulkhead-ctl

all: $(BINS) $(O)/bulkhead-qemu $(O)/bulkhead-probe $(O)/tools/man-devices guest

$(O)/bulkhead: $(call objs,$(BULKHEAD_MODULES)) $(POLICY_OBJS) $(POLICY_OBJ_supervisor)
	@echo "  LD      $@"
	$(Q)$(CC) $(BH_LDFLAGS) -o $@ $^ $(ELF_LIBS) $(CAPNG_LIBS) $(POLICY_LIBS) $(JANSSON_LIBS)

$(O)/bulkhead-vcpu: $(call objs,$(VCPU_MODULES)) $(POLICY_OBJS) $(POLICY_OBJ_vcpu)
	@echo "  LD      $@"
	$(Q)$(CC) $(BH_LDFLAGS) -o $@ $^ -lpthread $(CAPNG_LIBS) $(POLICY_LIBS)

define device_rule
$(O)/bulkhead-$(1): $(call objs,$(MODULES_$(1)) $(or $(RUNTIME_$(1)),$(DEVICE_RUNTIME))) $(POLICY_OBJS) $(POLICY_OBJ_$(1))
	@echo "  LD      $$@"
	$(Q)$(CC) $(BH_LDFLAGS) -o $$@ $$^ $(LIBS_$(1)) $(CAPNG_LIBS) $(POLICY_LIBS)
endef
$(foreach k,$(DEVICE_KINDS),$(eval $(call device_rule,$(k))))

# `bulkhead ctl SOCKET COMMAND`: the API socket's client, exec'd by bulkhead so that the
# supervisor's binary links no HTTP parser.
$(O)/bulkhead-ctl: $(call objs,ctl common)
	@echo "  LD      $@"
	$(Q)$(CC) $(BH_LDFLAGS) -o $@ $^ -lhttp_parser

# qemu-system-x86_64's command line translated into bulkhead's (frontends/qemu/qemu.h).
$(O)/bulkhead-qemu: $(call objs,$(QEMU_MODULES))
	@echo "  LD      $@"
	$(Q)$(CC) $(BH_LDFLAGS) -o $@ $^

# The probe reads the policies from the source tree (or --policy-dir), the same
# texts the processes embed; it is a tool for evaluating the jail, not installed.
$(O)/bulkhead-probe: $(call objs,$(PROBE_MODULES)) $(POLICY_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(BH_LDFLAGS) -o $@ $^ -lpthread $(CAPNG_LIBS) $(POLICY_LIBS) $(JANSSON_LIBS)

$(O)/obj/probe/%.o: probe/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(BH_CFLAGS) $(PKG_CFLAGS) -DBH_POLICY_DIR='"$(CURDIR)/seccomp-policies/x86_64"' -c -o $@ $<

# The man page's device options come from the device-kind table: `make man`
# writes them between the markers of docs/bulkhead.1.
MAN_MODULES := tools/man-devices.c supervisor/config.c supervisor/fcjson.c supervisor/unixsock.c kinds ipc common
$(O)/tools/man-devices: $(call objs,$(MAN_MODULES))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(BH_LDFLAGS) -o $@ $^ $(JANSSON_LIBS)

man: $(O)/tools/man-devices
	$(Q)$< > $(O)/man-devices.roff
	$(Q)sed -i -e '/^\.\\" BEGIN DEVICE OPTIONS/,/^\.\\" END DEVICE OPTIONS/{//!d}' \
		-e '/^\.\\" BEGIN DEVICE OPTIONS/r $(O)/man-devices.roff' docs/bulkhead.1

probe: $(O)/bulkhead-probe
	$(Q)$(O)/bulkhead-probe

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) $(BH_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

# Unit tests: tests/unit/test_NAME.c links the modules in UNIT_NAME. Each is built
# twice, plain and with ASan+UBSan, and `make check` runs both.
UNIT_config := supervisor/config.c supervisor/fcjson.c supervisor/unixsock.c kinds ipc common
UNIT_fcjson := supervisor/config.c supervisor/fcjson.c supervisor/unixsock.c kinds ipc common
UNIT_ipc := ipc common
UNIT_loader := loader mem common
UNIT_uart := devices/serial/uart.c common
UNIT_mem := mem common
UNIT_cpuid := vcpu/cpuid.c common
UNIT_ioapic := vcpu/ioapic.c common
UNIT_acpi := acpi mem common
UNIT_policy := seccomp/policy.c seccomp/constants.c common
UNIT_virtq := devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_virtio_mmio := devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_blk := devices/blk/blk.c devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_net := devices/net/net.c devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_procstat := supervisor/procstat.c common
UNIT_api := api/http.c api/render.c common
P9_SRCS := $(filter-out devices/9p/main.c,$(wildcard devices/9p/*.c))
UNIT_9p := $(P9_SRCS) devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_rng := devices/rng/rng.c devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_vsock := devices/vsock/vsock.c devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_devproc := devices/devproc runtime jail mem ipc testhooks seccomp/policy.c seccomp/constants.c \
	seccomp/fdload.c common
UNIT_fuzz_regressions := devices/blk/blk.c devices/net/net.c devices/virtio/virtq.c devices/virtio/mmio.c mem common
UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
# Calls a test puts itself in front of (it defines __wrap_NAME, calling __real_NAME).
UNIT_LDFLAGS_net := -Wl,--wrap=virtq_unpop
UNIT_LDFLAGS_blk := -Wl,--wrap=fdatasync
UNIT_LDFLAGS_api := -lhttp_parser $(JANSSON_LIBS)
UNIT_LDFLAGS_devproc := $(CAPNG_LIBS)

unit_srcs = $(foreach m,$(UNIT_$(1)),$(if $(filter %.c,$(m)),$(m),$(call srcs,$(m))))
define unit_rule
$(O)/tests/test_$(1): tests/unit/test_$(1).c $(patsubst %.c,$(O)/obj/%.o,$(call unit_srcs,$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  TEST    $$@"
	$(Q)$$(CC) $$(CFLAGS) $$(BH_CFLAGS) $$(PKG_CFLAGS) -Wno-missing-prototypes -o $$@ $$(filter %.c %.o,$$^) $$(UNIT_LDFLAGS_$(1)) $$(CMOCKA_LIBS) $$(ELF_LIBS) $$(POLICY_LIBS) $$(JANSSON_LIBS) -pie
$(O)/tests/san/test_$(1): tests/unit/test_$(1).c $(patsubst %.c,$(O)/san/%.o,$(call unit_srcs,$(1)))
	@mkdir -p $$(dir $$@)
	@echo "  TEST    $$@ (asan+ubsan)"
	$(Q)$$(CC) $$(CFLAGS) $$(SAN) $$(BH_CFLAGS) $$(PKG_CFLAGS) -Wno-missing-prototypes -o $$@ $$(filter %.c %.o,$$^) $$(UNIT_LDFLAGS_$(1)) $$(CMOCKA_LIBS) $$(ELF_LIBS) $$(POLICY_LIBS) $$(JANSSON_LIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

$(O)/san/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (asan+ubsan)"
	$(Q)$(CC) $(CFLAGS) $(SAN) $(BH_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

UNIT_BINS := $(foreach t,$(UNIT_TESTS),$(O)/tests/test_$(t) $(O)/tests/san/test_$(t))

# A command run under a Docker-like seccomp filter and capability set, for the
# container tests (tests/integration/security/test_containers.py).
TEST_TOOLS := $(O)/tests/dockerlike
$(O)/tests/dockerlike: tests/container/dockerlike.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(BH_CFLAGS) $(PKG_CFLAGS) -o $@ $< $(CAPNG_LIBS) $(POLICY_LIBS) -pie

-include tests/guest/guest.mk
-include tests/fuzz/fuzz.mk
-include bench/bench.mk

deps:
	$(Q)scripts/deps.sh

unit: $(UNIT_BINS)
	$(Q)set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

bins: $(BINS)

testhooks:
	$(Q)$(MAKE) --no-print-directory O=$(O)/testhooks BH_TEST_HOOKS=1 bins

integration: all testhooks $(KVM_FLOOR) $(FLOOR_GUEST) $(WRITE_FLOOR) $(TEST_TOOLS)
	$(Q)/usr/bin/python3 -m pytest -q -rs tests/integration
	$(Q)tests/integration/run-unprivileged.sh

# The functional and security suites with bulkhead run by an unprivileged user.
integration-unprivileged: all testhooks
	$(Q)tests/integration/run-unprivileged.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all testhooks
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration
	$(Q)$(MAKE) --no-print-directory fuzz-check

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

install: $(BINS) $(O)/bulkhead-qemu
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(O)/bulkhead $(O)/bulkhead-qemu $(DESTDIR)$(BINDIR)/
	install -m 755 $(O)/bulkhead-vcpu $(DEVICE_BINS) $(O)/bulkhead-ctl $(DESTDIR)$(LIBEXECDIR)/
	install -m 644 docs/bulkhead.1 docs/bulkhead-qemu.1 $(DESTDIR)$(MANDIR)/man1/

clean:
	rm -rf $(O)

.PHONY: all bins testhooks deps unit integration integration-unprivileged check demo install clean guest probe man
.DELETE_ON_ERROR:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
