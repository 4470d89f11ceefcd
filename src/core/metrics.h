/* metrics: the server's counters and the optional Prometheus endpoint
 * ([metrics] listen, off by default); the only libmicrohttpd user.
 * Counters are atomics bumped by the sessions on any worker thread; gauges
 * are read from their owners when the endpoint is scraped. */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* The protocol label (protocol="ftp"|"sftp") of the session, login and
 * transfer series: their counters are arrays indexed by it. FTPS is
 * counted as ftp. */
enum metrics_protocol { METRICS_FTP, METRICS_SFTP, METRICS_PROTOCOLS };

struct metrics {
	atomic_uint_fast64_t connections[METRICS_PROTOCOLS]; /* accepted control (SSH) connections */
	atomic_uint_fast64_t logins_ok[METRICS_PROTOCOLS], logins_failed[METRICS_PROTOCOLS];
	atomic_uint_fast64_t bytes_in[METRICS_PROTOCOLS], bytes_out[METRICS_PROTOCOLS]; /* file data */
	atomic_uint_fast64_t xfer_ok[METRICS_PROTOCOLS], xfer_aborted[METRICS_PROTOCOLS],
	    xfer_failed[METRICS_PROTOCOLS];
	atomic_uint_fast64_t tls_ok, tls_failed;	   /* control and data handshakes */
	atomic_uint_fast64_t bans;			   /* bans imposed */
	atomic_uint_fast64_t evictions[METRICS_PROTOCOLS]; /* not logged in, closed for room (max_sessions) */
	atomic_uint pasv_open;				   /* passive listeners open now */
};

/* The label index of a front-end's protocol name ("ftp", "ftps", "sftp";
 * NULL is FTP's, as in auth_event and files_event). */
enum metrics_protocol metrics_protocol_of(const char *protocol);

/* Values read at scrape time. */
struct metrics_gauges {
	unsigned sessions[METRICS_PROTOCOLS];
	unsigned bans_active;
	unsigned jobs_queued;
	unsigned io_jobs_queued;
	uint64_t hooks_dropped; /* a counter kept by the hook runner (hooks.h) */
};

#define METRICS_ADD(m, field, n)                                                                                       \
	do {                                                                                                           \
		if (m)                                                                                                 \
			atomic_fetch_add_explicit(&(m)->field, (n), memory_order_relaxed);                             \
	} while (0)

/* The Prometheus text exposition (format 0.0.4) of m and g into out;
 * returns the length (truncated at outsz - 1, always NUL-terminated). */
size_t metrics_format(const struct metrics *m, const struct metrics_gauges *g, char *out, size_t outsz);

struct metrics_http;
/* Serves GET /metrics on the listening socket fd (takes ownership) from a
 * thread of its own; gauges(arg, g) is called there on every scrape. */
int metrics_http_start(int fd, const struct metrics *m, void (*gauges)(void *arg, struct metrics_gauges *g), void *arg,
		       struct metrics_http **out, char *err, size_t errsz);
/* Stops the thread and closes the socket; NULL is fine. */
void metrics_http_stop(struct metrics_http *h);

struct config;
/* Config check of this build (buildinfo.c): nonzero, with the key and why,
 * when c asks for the endpoint and it is not built in (metrics_http_none.c). */
int metrics_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz);

#endif
