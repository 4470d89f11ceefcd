/* loadgen's private declarations, shared by its two halves: loadgen_conn.c
 * (sockets, epoll interest, the control and data connections, TLS, reply
 * parsing, stall diagnostics) and loadgen.c (the modes' state machines, the
 * run loop and the result line). Not for the rest of ferry-bench. */
#ifndef FERRY_BENCH_LOADGEN_IMPL_H
#define FERRY_BENCH_LOADGEN_IMPL_H

#include "bench.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/resource.h>

#define LG_IN_CAP 4096
#define LG_OUT_CAP 640
#define LG_BUF (256u * 1024u)

enum lg_state {
	ST_FREE,
	ST_CONNECT,
	ST_GREET,
	ST_AUTH,
	ST_HANDSHAKE,
	ST_USER,
	ST_PASS,
	ST_PBSZ,
	ST_PROT,
	ST_TYPE,
	ST_READY, /* logged in and set up: the mode decides */
	ST_EPSV,
	ST_PASV,
	ST_XFER,
	ST_NOOP,
	ST_QUIT,
};

enum lg_xfer { X_NONE, X_RETR, X_STOR, X_LIST, X_MLSD };

enum lg_kind { EV_CTL, EV_DATA, EV_STDIN, EV_SIGNAL };

struct lg_conn;
struct lg_ev {
	enum lg_kind kind;
	struct lg_conn *c;
};

struct lg_conn {
	unsigned id;
	struct lg_ev ev_ctl, ev_data;
	/* control connection */
	int fd;
	SSL *ssl;
	SSL_SESSION *sess; /* the control session, resumed by data connections */
	enum lg_state st;
	uint32_t events;
	bool ssl_want_write;
	char in[LG_IN_CAP];
	size_t in_len;
	char out[LG_OUT_CAP];
	size_t out_off, out_len;
	char lastcmd[80];
	/* last: the latest progress (an event, a reply, a command sent): the
	 * --op-timeout clock. sent: when lastcmd went out. rx: the latest bytes
	 * received on the control connection (0: none yet). */
	double t0, last, sent, rx;
	unsigned gen; /* bumped when the connection is closed and reopened */
	/* data connection */
	int dfd;
	SSL *dssl;
	uint32_t devents;
	bool dconnecting, dhs_done, dshut, data_done, got_prelim, got_final, pasv_fallback;
	enum lg_xfer xk;
	unsigned dport;
	uint64_t dbytes, dexpect;
	struct pattern *pat;
	char path[300];
	uint64_t lines;
	char lbuf[256];
	size_t llen;
	double xt0;
	/* mode */
	uint64_t iter;
	bool finished;
};

struct lg_global {
	const struct opts *o;
	const char *mode;
	int ep;
	SSL_CTX *ctx;
	struct sockaddr_in addr;
	struct lg_conn **c;
	unsigned n;
	uint8_t buf[LG_BUF];
	/* statistics */
	double *lat;
	size_t nlat, caplat;
	double *list_ms, *mlsd_ms;
	size_t nlist, nmlsd;
	uint64_t done;
	double t_start, t_end, deadline;
	/* The generator's own CPU time (user, sys) at t_start and t_end: the
	 * harness flags a figure whose generator saturated a core. */
	struct rusage ru_start, ru_end;
	bool stopping;
	unsigned finished, ready, in_flight, next_open;
	bool holding, released, stdin_watched;
	double t_launch, t_release; /* idle: the start, and when NOOPs went out */
	size_t cap_list;
	int sfd;
	struct lg_ev ev_stdin, ev_signal;
};

/* The generator's state: one process, one run (defined in loadgen.c). */
extern struct lg_global G;

/* ---- loadgen.c ------------------------------------------------------------- */

bool lg_is(const char *m);
void lg_reply(struct lg_conn *c, int code, const char *text);
void lg_xfer_check(struct lg_conn *c);

/* ---- loadgen_conn.c -------------------------------------------------------- */

_Noreturn void __attribute__((format(printf, 2, 3))) lg_fail(const struct lg_conn *c, const char *fmt, ...);
void lg_open(struct lg_conn *c);
void lg_close(struct lg_conn *c);
void __attribute__((format(printf, 3, 4))) lg_send(struct lg_conn *c, enum lg_state st, const char *fmt, ...);
void lg_start_tls(struct lg_conn *c);
void lg_ev_ctl(struct lg_conn *c, uint32_t events);
void lg_data_open(struct lg_conn *c, enum lg_xfer k, uint64_t expect);
void lg_ev_data(struct lg_conn *c, uint32_t events);
int lg_parse_port(const char *text, int code, unsigned *port);
_Noreturn void lg_stalled(struct lg_conn *c, double t);

#endif
