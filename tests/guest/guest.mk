# Copyright (c) 2026 The bulkhead authors.
# SPDX-License-Identifier: BSD-3-Clause
#
# The freestanding test guest (tests/guest/README.md), included by the top-level
# Makefile: `make guest` builds $(O)/guest/bulkhead-test-guest, a PVH ELF image
# linked at 1 MiB, with the system gcc. The guest's C runs in ring 3 and its
# boot.S in ring 0, under a KVM that interprets ring 0 and rejects many
# instructions there; check-insns.sh refuses an image that contains them.

GUEST_DIR := tests/guest
GUEST_OUT := $(O)/guest
GUEST_IMG := $(GUEST_OUT)/bulkhead-test-guest
GUEST_OBJS := $(patsubst $(GUEST_DIR)/%.c,$(GUEST_OUT)/%.o,$(wildcard $(GUEST_DIR)/*.c)) \
	$(GUEST_OUT)/boot.o

GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	-Wmissing-prototypes -Wimplicit-fallthrough -Wvla -Werror \
	-march=x86-64 -mtune=generic -mgeneral-regs-only -mno-popcnt -mno-red-zone \
	-ffreestanding -fno-builtin -fno-pic -fno-pie -fno-stack-protector -fno-common \
	-fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fcf-protection=none -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(GUEST_DIR)/guest.ld -Wl,--build-id=none \
	-Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments

guest: $(GUEST_IMG)

$(GUEST_IMG): $(GUEST_OBJS) $(GUEST_DIR)/guest.ld $(GUEST_DIR)/check-insns.sh
	@echo "  LD      $@"
	$(Q)$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_OBJS)
	$(Q)sh $(GUEST_DIR)/check-insns.sh $@

$(GUEST_OUT)/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (guest)"
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_OUT)/%.o: $(GUEST_DIR)/%.S
	@mkdir -p $(dir $@)
	@echo "  AS      $< (guest)"
	$(Q)$(CC) $(GUEST_CFLAGS) -c -o $@ $<

.PHONY: guest
