/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef BULKHEAD_COMMON_EXEDIR_H
#define BULKHEAD_COMMON_EXEDIR_H

#include <stddef.h>

/*
 * exe_dir: the directory of the running executable (/proc/self/exe, symlinks
 * resolved), where bulkhead's executables look for each other; into buf of
 * len bytes. 0, or -errno.
 */
int exe_dir(char *buf, size_t len) __attribute__((warn_unused_result));

#endif
