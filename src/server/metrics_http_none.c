/* metrics_http_none: stands in for metrics_http.c in a build without
 * libmicrohttpd (-Dmetrics=disabled). The counters (metrics.c) still run;
 * only the endpoint is missing, and a config asking for it is refused. */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "config.h"

int metrics_http_start(int fd, const struct metrics *m, void (*gauges)(void *arg, struct metrics_gauges *g), void *arg,
		       struct metrics_http **out, char *err, size_t errsz)
{
	/* Not reached: metrics_check_config refuses [metrics] listen first. */
	(void)close(fd);
	(void)snprintf(err, errsz, "[metrics] listen: ferryd was built without the metrics endpoint");
	return -ENOTSUP;
}

void metrics_http_stop(struct metrics_http *h) {}

int metrics_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	if (!c->n_metrics_listen)
		return 0;
	*section = "metrics";
	*key = "listen";
	(void)snprintf(why, whysz, "ferryd was built without the metrics endpoint (meson -Dmetrics=disabled)");
	return -ENOTSUP;
}
