/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scratch share the 9p fuzz targets serve (fuzz_9p in this process,
 * fuzz_proc_9p through the jailed bulkhead-9p): BASE/share, rebuilt before
 * every input, holding files, directories and links that point out of it
 * (to /, to a file beside the share, "..", /proc/self/root), and BASE/secret,
 * a file beside the share that must never change. BASE is in $TMPDIR, else
 * /dev/shm (tmpfs: fast, and files up to 2^63 bytes), else /tmp; it is
 * removed at exit (after a crash it stays, beside the artifact, for a look).
 * Directories are 0777 and files 0666, so a server running as the jail's id
 * may change them as one running as root may.
 */
#ifndef BULKHEAD_TESTS_FUZZ_P9SHARE_H
#define BULKHEAD_TESTS_FUZZ_P9SHARE_H

/* p9share_init: make BASE, the share and the secret (once); the share's path. */
const char *p9share_init(void);
/* p9share_wipe: empty the share (never following a link) and build its tree again. */
void p9share_wipe(void);
/* p9share_check_outside: the secret is untouched and nothing appeared beside the share. */
void p9share_check_outside(void);

#endif
