/* metrics_http: the [metrics] Prometheus endpoint (metrics.h); the only
 * libmicrohttpd user. Built with -Dmetrics=enabled/auto; metrics_http_none.c
 * stands in without it. */
#include "metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <microhttpd.h>
#include <unistd.h>

#include "config.h"

/* Connections the endpoint holds at once, and how long an idle one may
 * keep its slot (seconds); see metrics_http_start. The descriptors come
 * out of the 1024 that daemon.c adds to the limit for max_sessions. */
#define METRICS_CONN_MAX 256u
#define METRICS_CONN_TIMEOUT_S 3u

struct metrics_http {
	struct MHD_Daemon *mhd;
	const struct metrics *m;
	void (*gauges)(void *arg, struct metrics_gauges *g);
	void *arg;
	int fd;
};

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct metrics_http *h = cls;
	bool found = strcmp(url, "/metrics") == 0;
	bool get_or_head = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	char *body;
	unsigned status;
	if (found && get_or_head) {
		struct metrics_gauges g = { 0 };
		h->gauges(h->arg, &g);
		size_t cap = 16384;
		body = malloc(cap);
		if (!body)
			return MHD_NO;
		size_t n = metrics_format(h->m, &g, body, cap);
		body[n] = '\0';
		status = MHD_HTTP_OK;
	} else {
		body = strdup(found ? "method not allowed\n" : "not found: try /metrics\n");
		if (!body)
			return MHD_NO;
		status = found ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				      status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
							    : "text/plain");
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

int metrics_http_start(int fd, const struct metrics *m, void (*gauges)(void *arg, struct metrics_gauges *g), void *arg,
		       struct metrics_http **out, char *err, size_t errsz)
{
	struct metrics_http *h = calloc(1, sizeof(*h));
	if (!h) {
		(void)close(fd);
		(void)snprintf(err, errsz, "[metrics]: out of memory");
		return -ENOMEM;
	}
	h->m = m;
	h->gauges = gauges;
	h->arg = arg;
	h->fd = fd;
	/* SECURITY: a scraper gets a bounded service on one thread. Idle
	 * connections cost that thread nothing (epoll), but each holds a slot
	 * until its timeout, and at the limit new ones wait in the backlog:
	 * 16 slots and 10 s let 20 idle connections block every scrape for
	 * 10 s. So: many slots, each with a small memory pool (a scrape's
	 * request is a few hundred bytes; at most METRICS_CONN_MAX × 16 KiB),
	 * and a short timeout (a scrape takes milliseconds). */
	h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, answer, h,
				  MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
				  METRICS_CONN_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
				  MHD_OPTION_CONNECTION_TIMEOUT, METRICS_CONN_TIMEOUT_S, MHD_OPTION_END);
	if (!h->mhd) {
		(void)close(fd);
		free(h);
		(void)snprintf(err, errsz, "[metrics]: cannot start the HTTP server");
		return -EIO;
	}
	*out = h;
	return 0;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd); /* closes the listening socket it was given */
	free(h);
}

int metrics_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	return 0; /* everything [metrics] asks for is built in */
}
