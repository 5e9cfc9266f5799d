/* Copyright (c) 2026 The bulkhead authors. */
/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * supervisor/fcjson.c: Firecracker's JSON configuration as bulkhead options.
 * What each section becomes in vm_config, and a table of bad files whose
 * errors must be one line naming the key's path, or the line and column of
 * malformed JSON. Also config_apply_option, and --config's detection of '{'.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/log.h"
#include "../../kinds/kinds.h"
#include "../../supervisor/config.h"

#define ERRLEN 512

/* The index-th device of the option's kind in c (--disk 0, ...), or NULL. */
static const struct dev_config *dev_of(const struct vm_config *c, const char *option, unsigned int index)
{
	for (unsigned int i = 0; i < c->ndevs; i++) {
		if (strcmp(c->devs[i].kind->option, option) == 0 && index-- == 0)
			return &c->devs[i];
	}
	return NULL;
}

static unsigned int dev_count(const struct vm_config *c, const char *option)
{
	return config_dev_count(c, kinds_find(option, strlen(option)));
}

/* The device's options as --NAME takes them ("path=/d.img,readonly=off,..."). */
static const char *dev_text(const struct vm_config *c, const char *option, unsigned int index)
{
	static char buf[CONFIG_DEV_OPTS_MAX + 64];
	const struct dev_config *d = dev_of(c, option, index);

	assert_non_null(d);
	return config_dev_describe(d, buf, sizeof(buf));
}

static const char *dev_str(const struct vm_config *c, const char *option, unsigned int index,
			   const char *key)
{
	const struct dev_config *d = dev_of(c, option, index);

	assert_non_null(d);
	return config_dev_str(d, key);
}

static enum config_result load(struct vm_config *c, const char *json, char *err)
{
	config_init(c);
	err[0] = '\0';
	return fcjson_apply_buf(c, "vm.json", json, strlen(json), err, ERRLEN);
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle))
		fail_msg("'%s' does not contain '%s'", haystack, needle);
}

static void assert_one_line(const char *err)
{
	assert_true(err[0] != '\0');
	for (const char *s = err; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			fail_msg("control character 0x%02x in error '%s'", (unsigned char)*s, err);
	}
}

static void test_boot_and_machine(void **state)
{
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k,1\", "
			 "\"boot_args\": \"console=ttyS0,115200 quiet\", \"initrd_path\": \"/i\"}, "
			 "\"machine-config\": {\"vcpu_count\": 4, \"mem_size_mib\": 512, \"smt\": false, "
			 "\"track_dirty_pages\": false, \"huge_pages\": \"None\"}}", err),
			 CONFIG_OK);
	assert_string_equal(c.kernel_path, "/k,1");
	assert_string_equal(c.cmdline, "console=ttyS0,115200 quiet");
	assert_string_equal(c.initrd_path, "/i");
	assert_int_equal(c.nvcpus, 4);
	assert_int_equal(c.mem_mib, 512);
	/* No boot_args: Firecracker's default command line. */
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\", "
			 "\"boot_args\": null}}", err), CONFIG_OK);
	assert_string_equal(c.cmdline, "reboot=k panic=1 nomodule 8250.nr_uarts=0 i8042.noaux "
			    "i8042.nomux i8042.dumbkbd swiotlb=noforce");
	assert_string_equal(c.initrd_path, "");
	assert_int_equal(c.nvcpus, 1);
	/* A double quote without a comma passes unquoted. */
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\", "
			 "\"boot_args\": \"init=/bin/sh x=\\\"a b\\\"\"}}", err), CONFIG_OK);
	assert_string_equal(c.cmdline, "init=/bin/sh x=\"a b\"");
}

static void test_drives(void **state)
{
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	/* The root device goes first, and root= with ro or rw joins the command line. */
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": "
			 "\"console=ttyS0\"}, \"drives\": [{\"drive_id\": \"data\", \"path_on_host\": "
			 "\"/d.img\", \"is_root_device\": false, \"cache_type\": \"Writeback\", "
			 "\"io_engine\": \"Async\", \"rate_limiter\": null}, {\"drive_id\": \"rootfs\", "
			 "\"path_on_host\": \"/r,oot.img\", \"is_root_device\": true, \"is_read_only\": true, "
			 "\"partuuid\": null}]}", err), CONFIG_OK);
	assert_int_equal(dev_count(&c, "disk"), 2);
	assert_string_equal(dev_text(&c, "disk", 0),
			    "path=\"/r,oot.img\",readonly=on,direct=off,snapshot=off");
	assert_string_equal(dev_text(&c, "disk", 1), "path=/d.img,readonly=off,direct=off,snapshot=off");
	assert_string_equal(c.cmdline, "console=ttyS0 root=/dev/vda ro");
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": "
			 "\"\"}, \"drives\": [{\"drive_id\": \"r\", \"path_on_host\": \"/r\", "
			 "\"is_root_device\": true, \"partuuid\": \"0eaa91a0-01\"}]}", err), CONFIG_OK);
	assert_string_equal(c.cmdline, " root=PARTUUID=0eaa91a0-01 rw");
	/* A comma and a double quote together pass unquoted while no key follows the comma. */
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": "
			 "[{\"drive_id\": \"r\", \"path_on_host\": \"/a,\\\"b\", \"is_root_device\": "
			 "false}]}", err), CONFIG_OK);
	assert_string_equal(dev_str(&c, "disk", 0, "path"), "/a,\"b");
}

static void test_network_and_logging(void **state)
{
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, "
			 "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", "
			 "\"guest_mac\": \"06:00:ac:10:00:02\"}, {\"iface_id\": \"eth1\", "
			 "\"host_dev_name\": \"tap1\", \"rx_rate_limiter\": null}], \"logger\": "
			 "{\"log_path\": \"/tmp/fc.log\", \"level\": \"Debug\", \"show_level\": true}, "
			 "\"metrics\": {\"metrics_path\": \"/tmp/m\"}, \"balloon\": null, \"pmem\": []}",
			 err), CONFIG_OK);
	assert_int_equal(dev_count(&c, "net"), 2);
	assert_string_equal(dev_text(&c, "net", 0), "tap=tap0,mac=06:00:ac:10:00:02");
	assert_string_equal(dev_text(&c, "net", 1), "tap=tap1");
}

static const struct {
	const char *json;
	const char *want; /* in the message */
} bad[] = {
	{ "", "vm.json:1:0: " },
	{ "{\n  \"boot-source\": {\n    \"kernel_image_path\": \"/k\",\n  }\n}", "vm.json:4:3: " },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}} x", "vm.json:1:46: " },
	{ "{\"boot-source\": {}, \"boot-source\": {}}", "vm.json:1:" }, /* duplicate key */
	{ "[]", "the top level must be an object" },
	{ "{}", "boot-source: required" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"nope\": 1}", "nope: unknown key" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\", \"nope\": 1}}",
	  "boot-source.nope: unknown key" },
	{ "{\"boot-source\": {\"kernel_image_path\": 7}}", "boot-source.kernel_image_path: must be a string" },
	{ "{\"boot-source\": {\"kernel_image_path\": null}}", "boot-source.kernel_image_path: must be a string" },
	{ "{\"boot-source\": {\"initrd_path\": \"/i\"}}", "boot-source.kernel_image_path: required" },
	{ "{\"boot-source\": []}", "boot-source: must be an object" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": {\"vcpu_count\": -1, "
	  "\"mem_size_mib\": 1}}", "machine-config.vcpu_count: must be a non-negative integer" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": {\"vcpu_count\": 1.5, "
	  "\"mem_size_mib\": 1}}", "machine-config.vcpu_count: must be a non-negative integer" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": {\"vcpu_count\": 1}}",
	  "machine-config.mem_size_mib: required" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": {\"vcpu_count\": 0, "
	  "\"mem_size_mib\": 1}}", "machine-config: --vcpus: num=0: must be at least 1" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": {\"vcpu_count\": 1, "
	  "\"mem_size_mib\": 1, \"smt\": true}}", "machine-config.smt: true is not supported" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": {\"vcpu_count\": 1, "
	  "\"mem_size_mib\": 1, \"smt\": 1}}", "machine-config.smt: must be true or false" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"machine-config\": {\"vcpu_count\": 1, "
	  "\"mem_size_mib\": 1, \"cpu_template\": \"T2\"}}", "machine-config.cpu_template: \"T2\"" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": {}}", "drives: must be an array" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [7]}", "drives[0]: must be an object" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"a\", "
	  "\"path_on_host\": \"/a\"}]}", "drives[0].is_root_device: required" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"a\", "
	  "\"path_on_host\": \"/a\", \"is_root_device\": true}, {\"drive_id\": \"b\", "
	  "\"path_on_host\": \"/b\", \"is_root_device\": true}]}",
	  "drives[1].is_root_device: drives[0] is the root device already" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"a\", "
	  "\"path_on_host\": \"/a\", \"is_root_device\": false}, {\"drive_id\": \"a\", "
	  "\"path_on_host\": \"/b\", \"is_root_device\": false}]}", "drives[1].drive_id: \"a\" is given twice" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"a\", "
	  "\"path_on_host\": \"/a\", \"is_root_device\": false, \"rate_limiter\": {}}]}",
	  "drives[0].rate_limiter: not supported by bulkhead" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"a\", "
	  "\"path_on_host\": \"/a\", \"is_root_device\": false, \"cache_type\": \"Fast\"}]}",
	  "drives[0].cache_type: must be" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"a\", "
	  "\"path_on_host\": \"\", \"is_root_device\": false}]}", "drives[0]: --disk: path=: must not be empty" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"drives\": [{\"drive_id\": \"a\", "
	  "\"path_on_host\": \"/a,serial=\\\"b\", \"is_root_device\": false}]}", "drives[0]" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"network-interfaces\": [{\"iface_id\": "
	  "\"eth0\"}]}", "network-interfaces[0].host_dev_name: required" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"network-interfaces\": [{\"iface_id\": "
	  "\"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 1400}]}",
	  "network-interfaces[0].mtu: not supported by bulkhead" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vsock\": {\"guest_cid\": 2, "
	  "\"uds_path\": \"/v\"}}", "vsock.guest_cid: 2: must be from 3" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vsock\": {\"guest_cid\": 3}}",
	  "vsock.uds_path: required" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"entropy\": {\"rate_limiter\": {\"ops\": "
	  "{\"size\": 1, \"refill_time\": 1}}}}", "entropy.rate_limiter.ops: not supported" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"entropy\": {\"rate_limiter\": {\"bandwidth\": "
	  "{\"size\": 1, \"refill_time\": 0}}}}", "entropy.rate_limiter.bandwidth: size and refill_time" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"logger\": {\"colour\": true}}",
	  "logger.colour: unknown key" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"metrics\": {}}", "metrics.metrics_path: required" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"balloon\": {\"amount_mib\": 1}}",
	  "balloon: not supported by bulkhead" },
	{ "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"mmds-config\": {}}",
	  "mmds-config: not supported by bulkhead" },
};

static void test_bad_files(void **state)
{
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	for (size_t i = 0; i < nitems(bad); i++) {
		if (load(&c, bad[i].json, err) != CONFIG_ERROR)
			fail_msg("accepted: %s", bad[i].json);
		assert_one_line(err);
		assert_contains(err, "--config: vm.json");
		assert_contains(err, bad[i].want);
	}
}

/* vsock and entropy fill --vsock and --rng; what those refuse is said with the field. */
static void test_vsock_and_entropy(void **state)
{
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"vsock\": "
			 "{\"vsock_id\": \"v\", \"guest_cid\": 3, \"uds_path\": \"/v.sock\"}}", err),
			 CONFIG_OK);
	assert_int_equal(dev_count(&c, "vsock"), 1);
	assert_string_equal(dev_text(&c, "vsock", 0), "cid=3,uds=/v.sock");
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"entropy\": {}}",
			 err), CONFIG_OK);
	assert_string_equal(dev_text(&c, "rng", 0), ""); /* no rate= */
	/* 1000 bytes every 100 ms */
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"entropy\": "
			 "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1000, \"refill_time\": 100}}}}",
			 err), CONFIG_OK);
	assert_string_equal(dev_text(&c, "rng", 0), "rate=10000");
	/* a bucket of less than a byte a second: --rng's own refusal, named by the field */
	assert_int_equal(load(&c, "{\"boot-source\": {\"kernel_image_path\": \"/k\"}, \"entropy\": "
			 "{\"rate_limiter\": {\"bandwidth\": {\"size\": 1, \"refill_time\": 2000}}}}",
			 err), CONFIG_ERROR);
	assert_one_line(err);
	assert_contains(err, "entropy: --rng: rate=0: must be at least 1");
}

static void test_too_large(void **state)
{
	struct vm_config c;
	char err[ERRLEN];
	size_t len = (1 << 20) + 1;
	char *big = malloc(len);

	(void)state;
	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '{';
	config_init(&c);
	assert_int_equal(fcjson_apply_buf(&c, "big.json", big, len, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, "larger than");
	free(big);
}

static void test_apply_option(void **state)
{
	struct vm_config c;
	char err[ERRLEN];

	(void)state;
	config_init(&c);
	assert_int_equal(config_apply_option(&c, "vcpus", "num=3", err, sizeof(err)), 0);
	assert_int_equal(c.nvcpus, 3);
	assert_int_equal(config_apply_option(&c, "verbose", NULL, err, sizeof(err)), 0);
	assert_int_equal(c.verbose, 1);
	assert_int_equal(c.debug_exit, 1);
	assert_int_equal(config_apply_option(&c, "debug-exit", "off", err, sizeof(err)), 0);
	assert_int_equal(c.debug_exit, 0);
	assert_int_equal(config_apply_option(&c, "debug-exit", "maybe", err, sizeof(err)), -EINVAL);
	assert_contains(err, "--debug-exit: 'maybe': expected on, off");
	assert_int_equal(config_apply_option(&c, "no-such-option", "x", err, sizeof(err)), -ENOENT);
	assert_int_equal(config_apply_option(&c, "vcpus", NULL, err, sizeof(err)), -EINVAL);
	assert_contains(err, "--vcpus: missing value");
	assert_int_equal(config_apply_option(&c, "verbose", "1", err, sizeof(err)), -EINVAL);
	assert_contains(err, "--verbose: takes no value");
	assert_int_equal(config_apply_option(&c, "memory", "size_mib=x", err, sizeof(err)), -EINVAL);
	assert_contains(err, "--memory: size_mib=x: not a number");
}

/* --config FILE: a file that starts with '{' (after blank lines) is Firecracker's. */
static void test_config_detects_json(void **state)
{
	char path[] = "/tmp/bulkhead-fcjson-XXXXXX";
	const char *text = "\n  \n{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"a\"},\n"
			   " \"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 96}}\n";
	char *argv[] = { "bulkhead", "--config", path, "--vcpus", "num=5", NULL };
	struct vm_config c;
	char err[ERRLEN];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	config_init(&c);
	assert_int_equal(config_parse_args(&c, 5, argv, err, sizeof(err)), CONFIG_OK);
	assert_string_equal(c.kernel_path, "/k");
	assert_int_equal(c.mem_mib, 96);
	assert_int_equal(c.nvcpus, 5); /* later options still win */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\n\n{\n\"x\"", 7), 7);
	close(fd);
	config_init(&c);
	assert_int_equal(config_parse_args(&c, 3, argv, err, sizeof(err)), CONFIG_ERROR);
	assert_contains(err, ":4:3: "); /* lines count from the file's first */
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_and_machine),
		cmocka_unit_test(test_drives),
		cmocka_unit_test(test_network_and_logging),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_vsock_and_entropy),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_apply_option),
		cmocka_unit_test(test_config_detects_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
