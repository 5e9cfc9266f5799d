# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# Seccomp policies: the build's checker, and each process's policy embedded
# in its binary. The top-level Makefile includes this file before its link
# rules; it also runs alone (the policy build test does):
#   make -f seccomp-policies/policies.mk [O=build] [POLICY_DIR=dir] policies
#
# What it gives the Makefile:
#   POLICY_SRCS, POLICY_OBJS  the seccomp module without the checker's main, and its
#                             objects under $(O)/obj: every process binary links them
#   POLICY_LIBS               link flags for libseccomp
#   POLICY_OBJ_<process>      that process's embedded policy (<process>.policy and
#                             common.policy), for the supervisor, vcpu and every
#                             device kind
#   DEVICE_KINDS              the device-kind table's rows: one kinds/<kind>.c each
#   POLICY_CHECK              the checker, run on every policy file; POLICY_STAMP
#                             is left when all pass, and every POLICY_OBJ_* needs it,
#                             so no binary links a policy that did not pass
#   policies                  a target that checks and assembles them all
#
# POLICY_DIR (default seccomp-policies/x86_64) selects another set of policy files.

POLICY_ARCH ?= x86_64
Q ?= @
POLICY_DIR ?= seccomp-policies/$(POLICY_ARCH)
O ?= build

# One policy per process: the supervisor, the vcpu process and each row of the
# device-kind table (kinds/kinds.c lists the rows, one file kinds/<kind>.c each).
DEVICE_KINDS := $(basename $(notdir $(filter-out kinds/kinds.c,$(wildcard kinds/*.c))))
POLICY_PROCESSES := supervisor vcpu $(DEVICE_KINDS)
POLICY_FILES = $(sort $(wildcard $(POLICY_DIR)/*.policy))
POLICY_SRCS := seccomp/policy.c seccomp/constants.c seccomp/fdload.c
POLICY_OBJS := $(patsubst %.c,$(O)/obj/%.o,$(POLICY_SRCS))
POLICY_SECCOMP_CFLAGS := $(shell pkg-config --cflags libseccomp 2>/dev/null)
POLICY_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
POLICY_CHECK := $(O)/policy/policy-check
POLICY_STAMP := $(O)/policy/checked.stamp
POLICY_CHECK_OBJS := $(patsubst seccomp/%.c,$(O)/policy/host/%.o,$(POLICY_SRCS) seccomp/policy-check.c)

# The top-level Makefile's flags when it includes us, the same ones when we run alone.
POLICY_WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual -Wstrict-prototypes \
	-Wmissing-prototypes -Wimplicit-fallthrough -Wvla -Werror
POLICY_CFLAGS = $(if $(BH_CFLAGS),$(CFLAGS) $(BH_CFLAGS),-O2 -g -std=gnu11 -D_GNU_SOURCE \
	$(POLICY_WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -MMD -MP -I.) \
	$(POLICY_SECCOMP_CFLAGS)
POLICY_LDFLAGS = $(if $(BH_LDFLAGS),$(BH_LDFLAGS),-pie -Wl,-z,relro,-z,now)

$(O)/policy/host/%.o: seccomp/%.c $(wildcard seccomp/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (policy-check)"
	$(Q)$(CC) $(POLICY_CFLAGS) -c -o $@ $<

$(POLICY_CHECK): $(POLICY_CHECK_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) $(POLICY_LDFLAGS) -o $@ $^ $(POLICY_LIBS)

# Which directory the policies came from: a build with another POLICY_DIR (and the same O)
# checks and embeds again, however old that directory's files are.
POLICY_DIR_RECORD := $(O)/policy/dir
$(POLICY_DIR_RECORD): policy-dir-force
	@mkdir -p $(dir $@)
	@echo '$(POLICY_DIR)' | cmp -s - $@ || echo '$(POLICY_DIR)' > $@

# Parse and compile every policy, as the processes will; stop the build with FILE:LINE.
$(POLICY_STAMP): $(POLICY_CHECK) $(POLICY_FILES) $(POLICY_DIR_RECORD)
	@echo "  CHECK   $(POLICY_DIR)"
	$(Q)test -n "$(POLICY_FILES)" || { echo "policy-check: no policy files in $(POLICY_DIR)" >&2; exit 1; }
	$(Q)$(POLICY_CHECK) $(POLICY_FILES)
	$(Q)touch $@

# .incbin is invisible to -MMD: the policy files are named as prerequisites instead.
define policy_obj_rule
POLICY_OBJ_$(1) := $(O)/policy/$(1).o
$(O)/policy/$(1).o: seccomp-policies/embed.S $(POLICY_DIR)/$(1).policy $(POLICY_DIR)/common.policy \
		$(POLICY_STAMP) $(POLICY_DIR_RECORD)
	@mkdir -p $$(dir $$@)
	@echo "  AS      $$@ ($(1).policy)"
	$(Q)$(CC) -DPOLICY_NAME='"$(1)"' -DPOLICY_PATH='"$(POLICY_DIR)/$(1).policy"' \
		-DCOMMON_PATH='"$(POLICY_DIR)/common.policy"' -c -o $$@ $$<
endef
$(foreach p,$(POLICY_PROCESSES),$(eval $(call policy_obj_rule,$(p))))

policies: $(POLICY_STAMP) $(foreach p,$(POLICY_PROCESSES),$(POLICY_OBJ_$(p)))

.PHONY: policies policy-dir-force
