#include "buildinfo.h"

#include "ferry_version.h"
#include "gss.h"
#include "hooks_http.h"
#include "metrics.h"
#include "sftp.h"
#include "userstore.h"

const char *buildinfo_features(void)
{
	return FERRY_FEATURES; /* meson.build: the features whose files it chose */
}

int buildinfo_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	/* systemd has no key: systemd_none.c refuses passed sockets at start. */
	int (*const checks[])(const struct config *, const char **, const char **, char *, size_t) = {
		gss_check_config, metrics_check_config, hooks_check_config, store_pg_check_config, sftp_check_config,
	};
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		int r = checks[i](c, section, key, why, whysz);
		if (r)
			return r;
	}
	return 0;
}
