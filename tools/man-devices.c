/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * man-devices: print the device options of bulkhead(1) from the device-kind
 * table, as roff. `make man` puts its output between the markers of
 * docs/bulkhead.1; a test checks that the committed page matches.
 */
#include <stdio.h>

#include "supervisor/config.h"

int main(void)
{
	config_man_devices(stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}
