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

static const char *const proto_names[METRICS_PROTOCOLS] = { "ftp", "sftp" };

/* One series with the protocol label: from vals (gauges) or counters. */
static size_t per_protocol(char *out, size_t outsz, size_t o, const char *name, const char *type, const char *help,
			   const uint64_t *vals, const atomic_uint_fast64_t *counters)
{
	o = put(out, outsz, o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (int p = 0; p < METRICS_PROTOCOLS; p++)
		o = put(out, outsz, o, "%s{protocol=\"%s\"} %llu\n", name, proto_names[p],
			(unsigned long long)(vals ? vals[p] : get(&counters[p])));
	return o;
}

/* A counter with the protocol and result labels; arrs[i] is results[i]'s. */
static size_t by_result(char *out, size_t outsz, size_t o, const char *name, const char *help,
			const atomic_uint_fast64_t *const *arrs, const char *const *results, size_t n)
{
	o = put(out, outsz, o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	for (int p = 0; p < METRICS_PROTOCOLS; p++)
		for (size_t i = 0; i < n; i++)
			o = put(out, outsz, o, "%s{protocol=\"%s\",result=\"%s\"} %llu\n", name, proto_names[p],
				results[i], (unsigned long long)get(&arrs[i][p]));
	return o;
}

enum metrics_protocol metrics_protocol_of(const char *protocol)
{
	return protocol && strcmp(protocol, "sftp") == 0 ? METRICS_SFTP : METRICS_FTP;
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
	const atomic_uint_fast64_t *logins[] = { m->logins_ok, m->logins_failed };
	const atomic_uint_fast64_t *xfers[] = { m->xfer_ok, m->xfer_aborted, m->xfer_failed };
	uint64_t open[METRICS_PROTOCOLS];
	for (int p = 0; p < METRICS_PROTOCOLS; p++)
		open[p] = g->sessions[p];
	o = per_protocol(out, outsz, o, "ferry_sessions_open", "gauge",
			 "Control (FTP) and SSH (SFTP) connections open now.", open, NULL);
	o = per_protocol(out, outsz, o, "ferry_connections_total", "counter",
			 "Control (FTP) and SSH (SFTP) connections accepted.", NULL, m->connections);
	o = by_result(out, outsz, o, "ferry_logins_total",
		      "Logins by result (failed: wrong credentials, refused, store error).", logins,
		      (const char *const[]){ "ok", "failed" }, 2);
	o = per_protocol(out, outsz, o, "ferry_received_bytes_total", "counter", "File bytes received (uploads).", NULL,
			 m->bytes_in);
	o = per_protocol(out, outsz, o, "ferry_sent_bytes_total", "counter",
			 "File bytes sent (downloads and listings).", NULL, m->bytes_out);
	o = by_result(out, outsz, o, "ferry_transfers_total", "Transfers (files and listings) by result.", xfers,
		      (const char *const[]){ "ok", "aborted", "failed" }, 3);
	COUNTER("ferry_bans_total", "Client address groups banned for failed logins.", get(&m->bans));
	GAUGE("ferry_bans_active", "Client address groups banned now.", g->bans_active);
	o = per_protocol(out, outsz, o, "ferry_sessions_evicted_total", "counter",
			 "Connections not logged in closed to make room for a new one at [server] max_sessions.", NULL,
			 m->evictions);
	GAUGE("ferry_passive_ports_in_use", "Passive (PASV/EPSV) listeners open now.",
	      atomic_load_explicit(&m->pasv_open, memory_order_relaxed));
	o = put(out, outsz, o,
		"# HELP ferry_tls_handshakes_total TLS handshakes (control and data) by result.\n"
		"# TYPE ferry_tls_handshakes_total counter\n"
		"ferry_tls_handshakes_total{result=\"ok\"} %llu\nferry_tls_handshakes_total{result=\"failed\"} %llu\n",
		(unsigned long long)get(&m->tls_ok), (unsigned long long)get(&m->tls_failed));
	GAUGE("ferry_job_queue_depth", "Blocking jobs (password checks...) waiting for a thread.", g->jobs_queued);
	GAUGE("ferry_io_job_queue_depth",
	      "Disk-bound jobs (durable commits' fsyncs, the start-up clean-up) waiting for an I/O thread.",
	      g->io_jobs_queued);
	COUNTER("ferry_hooks_dropped_total", "Upload hooks dropped (queue full: the user held the most waiting).",
		g->hooks_dropped);
#undef COUNTER
#undef GAUGE
	return o;
}
