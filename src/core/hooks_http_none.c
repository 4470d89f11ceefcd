/* hooks_http_none: stands in for hooks_http.c in a build without libcurl
 * (-Dhooks=disabled). upload_exec hooks still run (hooks.c needs no
 * library); a config asking for upload_url is refused at check time. */
#include "hooks_http.h"

#include <errno.h>
#include <stdio.h>

#include "config.h"

int hooks_http_global_init(void)
{
	return -ENOTSUP; /* not reached: hooks_check_config refuses upload_url */
}

void hooks_http_global_cleanup(void) {}

struct hooks_http *hooks_http_new(const char *url, const char *body, uint32_t timeout_ms)
{
	return NULL;
}

int hooks_http_post(struct hooks_http *hh, long *code, char *why, size_t whysz)
{
	(void)snprintf(why, whysz, "built without HTTP hooks");
	return -ENOTSUP;
}

void hooks_http_free(struct hooks_http *hh) {}

int hooks_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	if (!c->hooks_upload_url[0])
		return 0;
	*section = "hooks";
	*key = "upload_url";
	(void)snprintf(why, whysz, "ferryd was built without HTTP hooks (meson -Dhooks=disabled); upload_exec works");
	return -ENOTSUP;
}
