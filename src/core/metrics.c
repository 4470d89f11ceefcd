#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ferry_version.h"
#include "log.h"

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
		"# HELP ferry_logins_total Logins by result (failed: wrong credentials, refused, store error).\n"
		"# TYPE ferry_logins_total counter\n"
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
