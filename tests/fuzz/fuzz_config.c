/* libFuzzer driver: the config parser (src/config/config.c, config_values.c) on
 * arbitrary file contents. config_load reads a path, so each input is
 * written to one scratch file first. A successful load must give a config
 * the rest of ferryd can trust: listen entries present, strings
 * NUL-terminated within their fields, port range ordered. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char g_dir[] = "/tmp/ferry-fuzz-config-XXXXXX";
static char g_file[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(g_dir))
		abort();
	(void)snprintf(g_file, sizeof(g_file), "%s/ferry.conf", g_dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(g_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) != 0)
		abort();
	struct config *c = NULL;
	char err[1024];
	err[0] = '\0';
	int r = config_load(g_file, &c, err, sizeof(err));
	if (r == 0) {
		if (c->n_listen < 1 || c->n_listen > CONFIG_MAX_LISTEN || c->pasv_port_min > c->pasv_port_max)
			abort();
		if (!memchr(c->banner, '\0', sizeof(c->banner)) || !memchr(c->tls_cert, '\0', sizeof(c->tls_cert)) ||
		    !memchr(c->sandbox_roots, '\0', sizeof(c->sandbox_roots)) || c->sqlite_path[0] != '/')
			abort();
		config_unref(c);
	} else if (!err[0] || memchr(err, '\n', strlen(err))) {
		abort(); /* every refusal says why, on one line */
	}
	return 0;
}
