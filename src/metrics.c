#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry_version.h"
#include "log.h"

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

static uint64_t get(const atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* Appends one line; o stays at most outsz - 1. */
static size_t put(char *out, size_t outsz, size_t o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static size_t put(char *out, size_t outsz, size_t o, const char *fmt, ...)
{
	if (o + 1 >= outsz)
		return o;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out + o, outsz - o, fmt, ap);
	va_end(ap);
	if (n < 0)
		return o;
	return (size_t)n >= outsz - o ? outsz - 1 : o + (size_t)n;
}

size_t metrics_format(const struct metrics *m, const struct metrics_gauges *g, char *out, size_t outsz)
{
	size_t o = 0;
	if (outsz == 0)
		return 0;
	out[0] = '\0';
#define COUNTER(name, help, val)                                                                                       \
	o = put(out, outsz, o, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n",                   \
		(unsigned long long)(val))
#define GAUGE(name, help, val)                                                                                         \
	o = put(out, outsz, o, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %llu\n",                     \
		(unsigned long long)(val))
	o = put(out, outsz, o,
		"# HELP ferry_build_info Build information.\n# TYPE ferry_build_info gauge\n"
		"ferry_build_info{version=\"%s\"} 1\n",
		FERRY_VERSION);
	GAUGE("ferry_sessions_open", "Control connections open now.", g->sessions);
	COUNTER("ferry_connections_total", "Control connections accepted.", get(&m->connections));
	o = put(out, outsz, o,
		"# HELP ferry_logins_total Password checks by result.\n# TYPE ferry_logins_total counter\n"
		"ferry_logins_total{result=\"ok\"} %llu\nferry_logins_total{result=\"failed\"} %llu\n",
		(unsigned long long)get(&m->logins_ok), (unsigned long long)get(&m->logins_failed));
	COUNTER("ferry_received_bytes_total", "Bytes received on data connections (uploads).", get(&m->bytes_in));
	COUNTER("ferry_sent_bytes_total", "Bytes sent on data connections (downloads and listings).",
		get(&m->bytes_out));
	o = put(out, outsz, o,
		"# HELP ferry_transfers_total Data transfers (files and listings) by result.\n"
		"# TYPE ferry_transfers_total counter\n"
		"ferry_transfers_total{result=\"ok\"} %llu\nferry_transfers_total{result=\"aborted\"} %llu\n"
		"ferry_transfers_total{result=\"failed\"} %llu\n",
		(unsigned long long)get(&m->xfer_ok), (unsigned long long)get(&m->xfer_aborted),
		(unsigned long long)get(&m->xfer_failed));
	COUNTER("ferry_bans_total", "Client address groups banned for failed logins.", get(&m->bans));
	GAUGE("ferry_bans_active", "Client address groups banned now.", g->bans_active);
	COUNTER("ferry_sessions_evicted_total",
		"Connections not logged in closed to make room for a new one at [server] max_sessions.",
		get(&m->evictions));
	GAUGE("ferry_passive_ports_in_use", "Passive (PASV/EPSV) listeners open now.",
	      atomic_load_explicit(&m->pasv_open, memory_order_relaxed));
	o = put(out, outsz, o,
		"# HELP ferry_tls_handshakes_total TLS handshakes (control and data) by result.\n"
		"# TYPE ferry_tls_handshakes_total counter\n"
		"ferry_tls_handshakes_total{result=\"ok\"} %llu\nferry_tls_handshakes_total{result=\"failed\"} %llu\n",
		(unsigned long long)get(&m->tls_ok), (unsigned long long)get(&m->tls_failed));
	GAUGE("ferry_job_queue_depth", "Blocking jobs (password checks...) waiting for a thread.", g->jobs_queued);
	COUNTER("ferry_hooks_dropped_total", "Upload hooks dropped (queue full: the user held the most waiting).",
		g->hooks_dropped);
#undef COUNTER
#undef GAUGE
	return o;
}

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
		size_t cap = 8192;
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
