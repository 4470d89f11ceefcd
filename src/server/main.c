/* ferryd: argv, config load, hand-off to the daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "buildinfo.h"
#include "ferry_version.h"
#include "log.h"

#ifndef FERRY_DEFAULT_CONFIG
#define FERRY_DEFAULT_CONFIG "/etc/ferry/ferry.conf"
#endif

static void usage(FILE *f)
{
	(void)fprintf(f, "usage: ferryd [-c FILE] [--check]\n"
			 "  -c, --config FILE  configuration file (default " FERRY_DEFAULT_CONFIG ")\n"
			 "      --check        validate the configuration and exit (status 1 on error)\n"
			 "  -h, --help         this text\n"
			 "  -V, --version      print the version and the optional parts built in\n"
			 "Runs in the foreground until SIGTERM; SIGHUP reloads the configuration.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = FERRY_DEFAULT_CONFIG;
	int check = 0, c;
	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			/* The second line tells scripts and tests what is built in. */
			(void)printf("ferryd %s\nfeatures:%s%s\n", FERRY_VERSION, buildinfo_features()[0] ? " " : "",
				     buildinfo_features());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	struct config *cfg = NULL;
	char err[1024];
	if (config_load_checked(path, buildinfo_check_config, &cfg, err, sizeof(err)) != 0) {
		(void)fprintf(stderr, "ferryd: %s\n", err);
		return 1;
	}
	if (check) {
		(void)printf("%s: OK\n", path);
		config_unref(cfg);
		return 0;
	}
	log_setup((enum log_target)cfg->log_target, (enum log_level)cfg->log_level, "ferryd");
	log_info(0, "ferryd %s starting with %s", FERRY_VERSION, cfg->path);
	return daemon_run(cfg);
}
