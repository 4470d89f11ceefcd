/* loadgen: many FTP client sessions in one process. Each session is a state
 * machine driven by one epoll loop: non-blocking connect, greeting, optional
 * AUTH TLS, USER/PASS, PBSZ/PROT, TYPE I, EPSV (PASV fallback) and transfers
 * whose bytes are checked against the pattern (pattern.c). Any reply code
 * other than the expected one, any wrong byte, or a session without progress
 * for --op-timeout ends the run with a FAIL line and exit status 1. */
#include "bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LG_IN_CAP 4096
#define LG_OUT_CAP 640
#define LG_BUF (256u * 1024u)
#define LG_MAX_EVENTS 512

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

static const char *const lg_state_name[] = {
	"free", "connect", "greeting", "AUTH TLS", "TLS handshake", "USER", "PASS", "PBSZ", "PROT",
	"TYPE", "ready",   "EPSV",     "PASV",	   "transfer",	    "NOOP", "QUIT",
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

static struct {
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
} G;

static bool lg_is(const char *m) { return strcmp(G.mode, m) == 0; }

/* The measured window: its start and its latest end, with the generator's
 * CPU time at both (one getrusage each, cheap next to a transfer or login). */
static void lg_window_start(double t)
{
	G.t_start = t;
	(void)getrusage(RUSAGE_SELF, &G.ru_start);
	G.ru_end = G.ru_start;
}

static void lg_window_end(double t)
{
	G.t_end = t;
	(void)getrusage(RUSAGE_SELF, &G.ru_end);
}

static double lg_tv(struct timeval a, struct timeval b)
{
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

static _Noreturn void __attribute__((format(printf, 2, 3))) lg_fail(const struct lg_conn *c, const char *fmt, ...)
{
	char msg[800];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* idle: how far the run got, so a failure tells the opening (an idle
	 * timeout while the last sessions log in) from the release. */
	char ctx[160] = "";
	if (G.mode && lg_is("idle")) {
		double t = now_s();
		if (G.released)
			(void)snprintf(ctx, sizeof(ctx), " [idle: %u of %u logged in, released %.1f s ago, %.0f s after the start]",
				       G.ready, G.n, t - G.t_release, t - G.t_launch);
		else
			(void)snprintf(ctx, sizeof(ctx), " [idle: %u of %u logged in, not released, %.0f s after the start]",
				       G.ready, G.n, t - G.t_launch);
	}
	if (c)
		bench_fail(G.mode, "session %u (%s, after %s): %s%s", c->id, lg_state_name[c->st],
			   c->lastcmd[0] ? c->lastcmd : "connect", msg, ctx);
	bench_fail(G.mode, "%s%s", msg, ctx);
}

/* ---- epoll interest ----------------------------------------------------- */

static void lg_watch(int fd, struct lg_ev *ev, uint32_t *cur, uint32_t want)
{
	struct epoll_event e = { .events = want, .data.ptr = ev };
	int op = *cur == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (*cur == want)
		return;
	if (epoll_ctl(G.ep, op, fd, &e) != 0)
		lg_fail(ev->c, "epoll_ctl: %s", strerror(errno));
	*cur = want;
}

static void lg_ctl_interest(struct lg_conn *c)
{
	uint32_t want = EPOLLIN;
	if (c->st == ST_CONNECT || c->out_len > c->out_off || c->ssl_want_write)
		want |= EPOLLOUT;
	lg_watch(c->fd, &c->ev_ctl, &c->events, want);
}

/* ---- control connection -------------------------------------------------- */

static int lg_socket(unsigned port, int *out)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in a = G.addr;
	a.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
		int e = -errno;
		(void)close(fd);
		return e;
	}
	*out = fd;
	return 0;
}

static void lg_open(struct lg_conn *c)
{
	int r = lg_socket(G.o->port, &c->fd);
	if (r != 0)
		lg_fail(c, "connect to %s:%u: %s", G.o->host, G.o->port, strerror(-r));
	c->st = ST_CONNECT;
	c->events = 0;
	c->in_len = c->out_len = c->out_off = 0;
	c->ssl_want_write = false;
	c->lastcmd[0] = 0;
	c->t0 = c->last = c->sent = now_s();
	c->rx = 0;
	lg_ctl_interest(c);
}

static void lg_data_close(struct lg_conn *c)
{
	if (c->dssl) {
		/* Our close_notify, best effort: SSL_free without it would drop the
		 * control session from the client cache (not resumable any more). */
		if (!(SSL_get_shutdown(c->dssl) & SSL_SENT_SHUTDOWN))
			(void)SSL_shutdown(c->dssl);
		ERR_clear_error();
		SSL_free(c->dssl);
		c->dssl = NULL;
	}
	if (c->dfd >= 0) {
		(void)close(c->dfd);
		c->dfd = -1;
	}
	c->devents = 0;
}

static void lg_close(struct lg_conn *c)
{
	lg_data_close(c);
	if (c->ssl) {
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->sess) {
		SSL_SESSION_free(c->sess);
		c->sess = NULL;
	}
	if (c->fd >= 0) {
		(void)close(c->fd);
		c->fd = -1;
	}
	c->st = ST_FREE;
	c->events = 0;
	c->gen++;
}

static void lg_flush(struct lg_conn *c)
{
	while (c->out_off < c->out_len) {
		size_t n = c->out_len - c->out_off;
		ssize_t w;
		c->ssl_want_write = false;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, c->out + c->out_off, (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE) {
					c->ssl_want_write = true;
					break;
				}
				if (e == SSL_ERROR_WANT_READ)
					break;
				lg_fail(c, "TLS write on the control connection: %s", bench_ssl_err());
			}
			w = r;
		} else {
			w = send(c->fd, c->out + c->out_off, n, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (w < 0)
				lg_fail(c, "write on the control connection: %s", strerror(errno));
		}
		c->out_off += (size_t)w;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	lg_ctl_interest(c);
}

static void __attribute__((format(printf, 3, 4))) lg_send(struct lg_conn *c, enum lg_state st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out + c->out_len, sizeof(c->out) - c->out_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= sizeof(c->out) - c->out_len)
		lg_fail(c, "command too long");
	/* The password never appears in a FAIL message. */
	(void)snprintf(c->lastcmd, sizeof(c->lastcmd), "%s",
		       strncmp(c->out + c->out_len, "PASS ", 5) == 0 ? "PASS ****" : c->out + c->out_len);
	c->out_len += (size_t)n;
	c->out[c->out_len++] = '\r';
	c->out[c->out_len++] = '\n';
	c->st = st;
	/* A command starts its own --op-timeout clock: a session that idled
	 * (idle mode holds its sessions for minutes) is not late the moment
	 * it sends its NOOP. */
	c->sent = c->last = now_s();
	lg_flush(c);
}

static void lg_handshake(struct lg_conn *c);
static void lg_reply(struct lg_conn *c, int code, const char *text);
static void lg_closed(struct lg_conn *c);

/* Splits complete replies (RFC 959 4.2, multi-line included) off c->in. */
static void lg_parse(struct lg_conn *c)
{
	unsigned gen = c->gen;
	while (c->gen == gen && c->in_len > 0) {
		char *nl = memchr(c->in, '\n', c->in_len);
		if (!nl)
			return;
		if (nl - c->in < 3 || c->in[0] < '1' || c->in[0] > '5' || c->in[1] < '0' || c->in[1] > '9' ||
		    c->in[2] < '0' || c->in[2] > '9')
			lg_fail(c, "malformed reply line: %.*s", (int)(nl - c->in), c->in);
		size_t end = (size_t)(nl - c->in) + 1;
		if (nl - c->in > 3 && c->in[3] == '-') {
			/* Multi-line: up to a line starting with the same code and a space. */
			bool found = false;
			while (end < c->in_len) {
				char *n2 = memchr(c->in + end, '\n', c->in_len - end);
				if (!n2)
					break;
				size_t ls = end;
				end = (size_t)(n2 - c->in) + 1;
				if (end - ls >= 4 && memcmp(c->in + ls, c->in, 3) == 0 && c->in[ls + 3] == ' ') {
					found = true;
					break;
				}
			}
			if (!found)
				return;
		}
		char text[300];
		size_t first = (size_t)(nl - c->in);
		size_t tl = first < sizeof(text) - 1 ? first : sizeof(text) - 1;
		memcpy(text, c->in, tl);
		while (tl > 0 && (text[tl - 1] == '\r' || text[tl - 1] == '\n'))
			tl--;
		text[tl] = 0;
		int code = (c->in[0] - '0') * 100 + (c->in[1] - '0') * 10 + (c->in[2] - '0');
		memmove(c->in, c->in + end, c->in_len - end);
		c->in_len -= end;
		lg_reply(c, code, text);
	}
}

static void lg_ctl_read(struct lg_conn *c)
{
	unsigned gen = c->gen;
	while (c->gen == gen && c->st != ST_HANDSHAKE) {
		if (c->in_len == sizeof(c->in))
			lg_fail(c, "reply longer than %zu bytes", sizeof(c->in));
		ssize_t r;
		if (c->ssl) {
			ERR_clear_error();
			int n = SSL_read(c->ssl, c->in + c->in_len, (int)(sizeof(c->in) - c->in_len));
			if (n <= 0) {
				int e = SSL_get_error(c->ssl, n);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->ssl_want_write = true;
					lg_ctl_interest(c);
					return;
				}
				if (e == SSL_ERROR_ZERO_RETURN)
					r = 0;
				else
					lg_fail(c, "TLS read on the control connection: %s", bench_ssl_err());
			} else {
				r = n;
			}
		} else {
			r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (r < 0)
				lg_fail(c, "read on the control connection: %s", strerror(errno));
		}
		if (r == 0)
			lg_fail(c, "server closed the control connection%s%.*s", c->in_len ? "; pending: " : "",
				(int)(c->in_len > 100 ? 100 : c->in_len), c->in);
		c->in_len += (size_t)r;
		c->rx = now_s();
		lg_parse(c);
	}
}

static void lg_start_tls(struct lg_conn *c)
{
	if (c->in_len)
		lg_fail(c, "bytes after 234 before the TLS handshake");
	c->ssl = SSL_new(G.ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		lg_fail(c, "SSL_new: %s", bench_ssl_err());
	c->st = ST_HANDSHAKE;
	lg_handshake(c);
}

static void lg_after_login(struct lg_conn *c);

static void lg_handshake(struct lg_conn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	c->ssl_want_write = false;
	if (r == 1) {
		lg_send(c, ST_USER, "USER %s", G.o->user);
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_WRITE)
		c->ssl_want_write = true;
	else if (e != SSL_ERROR_WANT_READ)
		lg_fail(c, "TLS handshake: %s", bench_ssl_err());
	lg_ctl_interest(c);
}

static void lg_ev_ctl(struct lg_conn *c, uint32_t events)
{
	c->last = now_s();
	if (c->st == ST_CONNECT) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
			err = errno;
		if (err)
			lg_fail(c, "connect to %s:%u: %s", G.o->host, G.o->port, strerror(err));
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		if (getpeername(c->fd, (struct sockaddr *)&peer, &pl) != 0)
			return; /* a stale event from before a reconnect: still connecting */
		c->st = ST_GREET;
		lg_ctl_interest(c);
		return;
	}
	if (c->st == ST_HANDSHAKE) {
		lg_handshake(c);
		return;
	}
	if ((events & EPOLLOUT) && (c->out_len > c->out_off || c->ssl_want_write))
		lg_flush(c);
	if (c->st != ST_FREE && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		lg_ctl_read(c);
}

/* ---- data connection ----------------------------------------------------- */

static void lg_data_interest(struct lg_conn *c, uint32_t want) { lg_watch(c->dfd, &c->ev_data, &c->devents, want); }

static void lg_xfer_check(struct lg_conn *c);

static void lg_data_open(struct lg_conn *c, enum lg_xfer k, uint64_t expect)
{
	int r = lg_socket(c->dport, &c->dfd);
	if (r != 0)
		lg_fail(c, "data connect to port %u: %s", c->dport, strerror(-r));
	c->xk = k;
	c->dexpect = expect;
	c->dbytes = c->lines = 0;
	c->llen = 0;
	c->dconnecting = true;
	c->dhs_done = c->dshut = c->data_done = c->got_prelim = c->got_final = false;
	c->devents = 0;
	if (c->ssl) {
		if (!c->sess)
			c->sess = SSL_get1_session(c->ssl);

		c->dssl = SSL_new(G.ctx);
		if (!c->dssl || SSL_set_fd(c->dssl, c->dfd) != 1 || (c->sess && SSL_set_session(c->dssl, c->sess) != 1))
			lg_fail(c, "data SSL_new: %s", bench_ssl_err());
	}
	if (c->pat && (k == X_RETR || k == X_STOR))
		pattern_init(c->pat, c->path);
	lg_data_interest(c, EPOLLOUT);
}

static void lg_count_lines(struct lg_conn *c, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n') {
			if (c->llen < sizeof(c->lbuf) - 1)
				c->lbuf[c->llen++] = (char)p[i];
			continue;
		}
		c->lbuf[c->llen] = 0;
		if (c->xk == X_LIST ? c->lbuf[0] == '-' : strcasestr(c->lbuf, "type=file;") != NULL)
			c->lines++;
		c->llen = 0;
	}
}

/* Handles n received bytes of a download or listing. */
static void lg_data_in(struct lg_conn *c, const uint8_t *p, size_t n)
{
	if (c->xk == X_RETR) {
		uint64_t bad = 0;
		if (c->dbytes + n > c->dexpect)
			lg_fail(c, "%s: more than the %llu bytes expected", c->path, (unsigned long long)c->dexpect);
		if (pattern_check(c->pat, p, n, &bad) != 0)
			lg_fail(c, "%s: wrong byte at offset %llu", c->path, (unsigned long long)bad);
	} else if (c->xk == X_LIST || c->xk == X_MLSD) {
		lg_count_lines(c, p, n);
	}
	c->dbytes += n;
}

static void lg_data_eof(struct lg_conn *c)
{
	lg_data_close(c);
	c->data_done = true;
	lg_xfer_check(c);
}

static void lg_data_read(struct lg_conn *c)
{
	for (;;) {
		ssize_t r;
		if (c->dssl) {
			ERR_clear_error();
			int n = SSL_read(c->dssl, G.buf, (int)sizeof(G.buf));
			if (n <= 0) {
				int e = SSL_get_error(c->dssl, n);
				if (e == SSL_ERROR_WANT_READ)
					return;
				if (e == SSL_ERROR_WANT_WRITE) {
					lg_data_interest(c, EPOLLIN | EPOLLOUT);
					return;
				}
				/* Our close_notify is sent: how the server ends it no longer matters. */
				if (e != SSL_ERROR_ZERO_RETURN && !c->dshut)
					lg_fail(c, "data connection closed without TLS close_notify after %llu bytes: %s",
						(unsigned long long)c->dbytes, bench_ssl_err());
				r = 0;
			} else {
				r = n;
			}
		} else {
			r = recv(c->dfd, G.buf, sizeof(G.buf), 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (r < 0 && c->dshut)
				r = 0;
			if (r < 0)
				lg_fail(c, "data read: %s", strerror(errno));
		}
		if (r == 0) {
			lg_data_eof(c);
			return;
		}
		if (c->xk == X_STOR)
			lg_fail(c, "server sent data on an upload connection");
		lg_data_in(c, G.buf, (size_t)r);
	}
}

static void lg_data_write(struct lg_conn *c)
{
	while (c->dbytes < c->dexpect) {
		uint64_t left = c->dexpect - c->dbytes;
		size_t n = left < sizeof(G.buf) ? (size_t)left : sizeof(G.buf);
		pattern_fill(c->pat, c->dbytes, G.buf, n);
		ssize_t w;
		if (c->dssl) {
			ERR_clear_error();
			int r = SSL_write(c->dssl, G.buf, (int)n);
			if (r <= 0) {
				int e = SSL_get_error(c->dssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					return;
				lg_fail(c, "TLS data write after %llu bytes: %s", (unsigned long long)c->dbytes,
					bench_ssl_err());
			}
			w = r;
		} else {
			w = send(c->dfd, G.buf, n, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (w < 0)
				lg_fail(c, "data write after %llu bytes: %s", (unsigned long long)c->dbytes,
					strerror(errno));
		}
		c->dbytes += (uint64_t)w;
	}
	/* All sent: close_notify (TLS), then half-close, then wait for the
	 * server's close so no reset can discard what it has not read yet. */
	if (c->dssl)
		(void)SSL_shutdown(c->dssl);
	(void)shutdown(c->dfd, SHUT_WR);
	c->dshut = true;
	lg_data_interest(c, EPOLLIN);
}

static void lg_ev_data(struct lg_conn *c, uint32_t events)
{
	c->last = now_s();
	if (c->dconnecting) {
		int err = 0;
		socklen_t l = sizeof(err);
		if (getsockopt(c->dfd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
			err = errno;
		if (err)
			lg_fail(c, "data connect to port %u: %s", c->dport, strerror(err));
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		if (getpeername(c->dfd, (struct sockaddr *)&peer, &pl) != 0)
			return; /* a stale event for an earlier data connection */
		c->dconnecting = false;
	}
	if (c->dssl && !c->dhs_done) {
		ERR_clear_error();
		int r = SSL_connect(c->dssl);
		if (r != 1) {
			int e = SSL_get_error(c->dssl, r);
			if (e == SSL_ERROR_WANT_READ)
				lg_data_interest(c, EPOLLIN);
			else if (e == SSL_ERROR_WANT_WRITE)
				lg_data_interest(c, EPOLLOUT);
			else
				lg_fail(c, "data TLS handshake: %s", bench_ssl_err());
			return;
		}
		c->dhs_done = true;
	}
	if (c->xk == X_STOR && !c->dshut) {
		lg_data_interest(c, EPOLLOUT);
		lg_data_write(c);
		if (!c->dshut)
			return;
	} else {
		lg_data_interest(c, EPOLLIN);
	}
	lg_data_read(c);
}

/* ---- modes ---------------------------------------------------------------- */

static void lg_mode_ready(struct lg_conn *c);
static void lg_mode_pasv(struct lg_conn *c);
static void lg_mode_xfer_done(struct lg_conn *c);
static void lg_mode_logged_in(struct lg_conn *c);

static void lg_xfer_check(struct lg_conn *c)
{
	if (!c->got_final || !c->data_done)
		return;
	if (c->xk == X_RETR && c->dbytes != c->dexpect)
		lg_fail(c, "%s: %llu bytes, expected %llu", c->path, (unsigned long long)c->dbytes,
			(unsigned long long)c->dexpect);
	if ((c->xk == X_LIST || c->xk == X_MLSD) && G.o->entries && c->lines != G.o->entries)
		lg_fail(c, "%s of %s: %llu entries, expected %llu", c->xk == X_LIST ? "LIST" : "MLSD", c->path,
			(unsigned long long)c->lines, (unsigned long long)G.o->entries);
	c->st = ST_READY;
	lg_mode_xfer_done(c);
}

static void lg_epsv(struct lg_conn *c)
{
	if (G.o->pasv || c->pasv_fallback)
		lg_send(c, ST_PASV, "PASV");
	else
		lg_send(c, ST_EPSV, "EPSV");
}

static void lg_xfer(struct lg_conn *c, enum lg_xfer k, uint64_t expect)
{
	static const char *const verb[] = { "", "RETR", "STOR", "LIST", "MLSD" };
	c->xt0 = now_s();
	lg_data_open(c, k, expect);
	lg_send(c, ST_XFER, "%s %s", verb[k], c->path);
}

static int lg_parse_port(const char *text, int code, unsigned *port)
{
	if (code == 229) {
		const char *p = strchr(text + 4, '(');
		unsigned v = 0;
		char d;
		if (!p || p[1] == 0)
			return -1;
		d = p[1];
		if (p[2] != d || p[3] != d)
			return -1;
		p += 4;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9' && v <= 65535)
			v = v * 10 + (unsigned)(*p++ - '0');
		if (*p != d || v == 0 || v > 65535)
			return -1;
		*port = v;
		return 0;
	}
	const char *p = strchr(text + 4, '(');
	if (!p) /* RFC 959 does not require the parentheses */
		for (p = text + 4; *p && (*p < '0' || *p > '9'); p++)
			;
	else
		p++;
	unsigned v[6] = { 0 };
	for (int i = 0; i < 6; i++) {
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9' && v[i] <= 255)
			v[i] = v[i] * 10 + (unsigned)(*p++ - '0');
		if (v[i] > 255 || (i < 5 && *p++ != ','))
			return -1;
	}
	*port = v[4] * 256 + v[5];
	return *port ? 0 : -1;
}

static void lg_reply(struct lg_conn *c, int code, const char *text)
{
	c->last = now_s();
	switch (c->st) {
	case ST_GREET:
		if (code == 120)
			return;
		if (code != 220)
			break;
		if (G.o->tls)
			lg_send(c, ST_AUTH, "AUTH TLS");
		else
			lg_send(c, ST_USER, "USER %s", G.o->user);
		return;
	case ST_AUTH:
		if (code != 234)
			break;
		lg_start_tls(c);
		return;
	case ST_USER:
		if (code != 331)
			break;
		lg_send(c, ST_PASS, "PASS %s", G.o->pass);
		return;
	case ST_PASS:
		if (code != 230)
			break;
		lg_mode_logged_in(c);
		return;
	case ST_PBSZ:
		if (code != 200)
			break;
		lg_send(c, ST_PROT, "PROT P");
		return;
	case ST_PROT:
		if (code != 200)
			break;
		lg_after_login(c);
		return;
	case ST_TYPE:
		if (code != 200)
			break;
		c->st = ST_READY;
		lg_mode_ready(c);
		return;
	case ST_EPSV:
	case ST_PASV:
		if (c->st == ST_EPSV && (code == 500 || code == 502)) {
			c->pasv_fallback = true;
			lg_epsv(c);
			return;
		}
		if (code != (c->st == ST_EPSV ? 229 : 227))
			break;
		if (lg_parse_port(text, code, &c->dport) != 0)
			lg_fail(c, "cannot parse the port in: %s", text);
		c->st = ST_READY;
		lg_mode_pasv(c);
		return;
	case ST_XFER:
		if ((code == 150 || code == 125) && !c->got_prelim) {
			c->got_prelim = true;
			return;
		}
		if ((code == 226 || code == 250) && c->got_prelim && !c->got_final) {
			c->got_final = true;
			lg_xfer_check(c);
			return;
		}
		break;
	case ST_NOOP:
		if (code != 200)
			break;
		lg_send(c, ST_QUIT, "QUIT");
		return;
	case ST_QUIT:
		if (code != 221)
			break;
		/* Close at once, as real clients do; waiting for the server's
		 * close would measure how fast it tears a session down. */
		lg_closed(c);
		return;
	default:
		break;
	}
	lg_fail(c, "unexpected reply: %s", text);
}

/* After 230 (and PBSZ/PROT under TLS): TYPE I unless the mode only idles. */
static void lg_after_login(struct lg_conn *c)
{
	if (lg_is("idle") || lg_is("logins")) {
		c->st = ST_READY;
		lg_mode_ready(c);
		return;
	}
	lg_send(c, ST_TYPE, "TYPE I");
}

static void lg_quit(struct lg_conn *c) { lg_send(c, ST_QUIT, "QUIT"); }

static void lg_record_latency(double v)
{
	if (G.nlat == G.caplat) {
		G.caplat = G.caplat ? G.caplat * 2 : 4096;
		G.lat = realloc(G.lat, G.caplat * sizeof(*G.lat));
		if (!G.lat)
			lg_fail(NULL, "out of memory");
	}
	G.lat[G.nlat++] = v;
}

static void lg_mode_logged_in(struct lg_conn *c)
{
	if (lg_is("logins")) {
		double t = now_s();
		lg_record_latency(t - c->t0);
		G.done++;
		lg_window_end(t);
		lg_quit(c);
		return;
	}
	if (c->ssl)
		lg_send(c, ST_PBSZ, "PBSZ 0");
	else
		lg_after_login(c);
}

static bool lg_more(uint64_t done)
{
	if (G.o->count && done >= G.o->count)
		return false;
	return now_s() < G.deadline;
}

static void lg_idle_open_next(void)
{
	while (G.next_open < G.n && G.in_flight < G.o->concurrency && !G.stopping) {
		G.in_flight++;
		lg_open(G.c[G.next_open++]);
	}
}

/* --listing both: LIST on even iterations, MLSD on odd ones, a pair per --count. */
static enum lg_xfer lg_list_kind(uint64_t iter)
{
	if (strcmp(G.o->listing, "LIST") == 0)
		return X_LIST;
	if (strcmp(G.o->listing, "MLSD") == 0)
		return X_MLSD;
	return iter % 2 == 0 ? X_LIST : X_MLSD;
}

static void lg_list_next(struct lg_conn *c)
{
	bool round_done = c->iter > 0 && lg_list_kind(c->iter) == lg_list_kind(0);
	size_t most = G.nlist > G.nmlsd ? G.nlist : G.nmlsd;
	if (round_done && (most >= G.cap_list || now_s() >= G.deadline)) {
		lg_quit(c);
		return;
	}
	lg_epsv(c);
}

/* Logged in (files, list) or every stream at its barrier (retr, stor): with
 * --wait-start, prints READY n and blocks until a line (or EOF) on stdin, so
 * the harness can take its baselines (server CPU and memory) without the
 * logins' hashes in them. Then the measured window and the time limit start. */
static void lg_wait_start(unsigned n)
{
	if (G.o->wait_start) {
		char b[64];
		printf("READY %u\n", n);
		fflush(stdout);
		ssize_t r = read(0, b, sizeof(b));
		(void)r;
	}
	double t = now_s();
	for (unsigned i = 0; i < G.n; i++)
		G.c[i]->last = t;
	G.deadline = t + G.o->time_s;
	lg_window_start(t);
}

static void lg_mode_ready(struct lg_conn *c)
{
	if (lg_is("idle")) {
		G.in_flight--;
		G.ready++;
		if (G.ready == G.n) {
			lg_window_end(now_s());
			G.holding = true;
			printf("READY %u\n", G.ready);
			fflush(stdout);
		}
		lg_idle_open_next();
		return;
	}
	if (lg_is("logins"))
		return; /* not reached: logins QUIT at 230 */
	if (lg_is("files") || lg_is("list")) {
		lg_wait_start(1);
		if (lg_is("files"))
			lg_epsv(c);
		else
			lg_list_next(c);
		return;
	}
	lg_epsv(c); /* retr, stor: EPSV first, then wait for every stream */
}

static void lg_mode_pasv(struct lg_conn *c)
{
	if (lg_is("files")) {
		(void)snprintf(c->path, sizeof(c->path), "%s/f%05u", G.o->dir, (unsigned)(c->iter % G.o->files));
		lg_xfer(c, X_RETR, G.o->size);
		return;
	}
	if (lg_is("list")) {
		(void)snprintf(c->path, sizeof(c->path), "%s", G.o->dir);
		lg_xfer(c, lg_list_kind(c->iter), 0);
		return;
	}
	/* retr/stor: a barrier, so every stream starts at once. */
	if (++G.ready < G.n)
		return;
	lg_wait_start(G.n);
	for (unsigned i = 0; i < G.n; i++) {
		struct lg_conn *s = G.c[i];
		if (lg_is("retr")) {
			(void)snprintf(s->path, sizeof(s->path), "%s", G.o->file);
			lg_xfer(s, X_RETR, G.o->size);
		} else {
			(void)snprintf(s->path, sizeof(s->path), "%s-%u", G.o->file, i);
			lg_xfer(s, X_STOR, G.o->size);
		}
	}
}

static void lg_mode_xfer_done(struct lg_conn *c)
{
	double t = now_s();
	if (lg_is("files")) {
		c->iter++;
		G.done++;
		lg_window_end(t);
		if (lg_more(G.done))
			lg_epsv(c);
		else
			lg_quit(c);
		return;
	}
	if (lg_is("list")) {
		double ms = (t - c->xt0) * 1000;
		if (c->xk == X_LIST)
			G.list_ms[G.nlist++] = ms;
		else
			G.mlsd_ms[G.nmlsd++] = ms;
		lg_window_end(t);
		c->iter++;
		lg_list_next(c);
		return;
	}
	G.done++;
	if (G.done == G.n)
		lg_window_end(t);
	lg_quit(c);
}

/* The server closed after our QUIT. */
static void lg_closed(struct lg_conn *c)
{
	lg_close(c);
	if (lg_is("logins") && lg_more(G.done)) {
		lg_open(c);
		return;
	}
	c->finished = true;
	G.finished++;
}

static void lg_release(void)
{
	if (G.released)
		return;
	G.released = true;
	G.t_release = now_s();
	for (unsigned i = 0; i < G.n; i++)
		if (G.c[i]->st == ST_READY)
			lg_send(G.c[i], ST_NOOP, "NOOP");
}

/* ---- loop ------------------------------------------------------------------ */

/* No progress for --op-timeout: the FAIL message says what was awaited and
 * what the sockets hold, so one occurrence is enough to tell a server that
 * did not answer from an answer the generator did not read. */
static _Noreturn void lg_stalled(struct lg_conn *c, double t)
{
	char ctl[200], data[240] = "", got[160], part[160] = "no partial reply";
	bench_sock_state(c->fd, ctl, sizeof(ctl));
	if (c->rx == 0)
		(void)snprintf(got, sizeof(got), "nothing ever received");
	else if (c->rx < c->sent)
		(void)snprintf(got, sizeof(got), "nothing received since it (last bytes %.1f s ago)", t - c->rx);
	else
		(void)snprintf(got, sizeof(got), "last bytes received %.1f s ago", t - c->rx);
	if (c->in_len) {
		size_t k = c->in_len < 80 ? c->in_len : 80;
		char txt[81];
		for (size_t i = 0; i < k; i++)
			txt[i] = (unsigned char)c->in[i] < 0x20 ? '.' : c->in[i];
		txt[k] = 0;
		(void)snprintf(part, sizeof(part), "%zu bytes of a partial reply: %s", c->in_len, txt);
	}
	if (c->dfd >= 0) {
		char ds[200];
		bench_sock_state(c->dfd, ds, sizeof(ds));
		(void)snprintf(data, sizeof(data), "; data connection after %llu bytes: %s",
			       (unsigned long long)c->dbytes, ds);
	}
	lg_fail(c, "no progress for %.0f s: %.1f s since %s%s, %s, %s; control connection: %s, epoll %s%s",
		G.o->op_timeout_s, t - c->sent, c->lastcmd[0] ? c->lastcmd : "the connect",
		c->lastcmd[0] ? " was sent" : " began", got, part, ctl, (c->events & EPOLLOUT) ? "IN|OUT" : "IN", data);
}

static void lg_check_timeouts(double t)
{
	for (unsigned i = 0; i < G.n; i++) {
		struct lg_conn *c = G.c[i];
		if (c->st == ST_FREE || (c->st == ST_READY && lg_is("idle")))
			continue;
		if (c->st == ST_READY && (lg_is("retr") || lg_is("stor")))
			continue; /* waiting at the barrier */
		if (t - c->last > G.o->op_timeout_s)
			lg_stalled(c, t);
	}
}

static void lg_setup(const char *mode, const struct opts *o)
{
	G.o = o;
	G.mode = mode;
	G.sfd = -1;
	G.addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, o->host, &G.addr.sin_addr) != 1)
		lg_fail(NULL, "--host must be a numeric IPv4 address: %s", o->host);
	if (o->tls) {
		G.ctx = SSL_CTX_new(TLS_client_method());
		if (!G.ctx || SSL_CTX_set_min_proto_version(G.ctx, TLS1_2_VERSION) != 1)
			lg_fail(NULL, "SSL_CTX_new: %s", bench_ssl_err());
		SSL_CTX_set_verify(G.ctx, SSL_VERIFY_NONE, NULL);
		(void)SSL_CTX_set_mode(G.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	G.ep = epoll_create1(EPOLL_CLOEXEC);
	if (G.ep < 0)
		lg_fail(NULL, "epoll_create1: %s", strerror(errno));
	if (strcmp(mode, "logins") == 0)
		G.n = o->clients;
	else if (strcmp(mode, "idle") == 0)
		G.n = o->sessions;
	else if (strcmp(mode, "retr") == 0 || strcmp(mode, "stor") == 0)
		G.n = o->streams;
	else
		G.n = 1;
	G.c = calloc(G.n, sizeof(*G.c));
	if (!G.c)
		lg_fail(NULL, "out of memory");
	bool data = !lg_is("logins") && !lg_is("idle");
	for (unsigned i = 0; i < G.n; i++) {
		struct lg_conn *c = calloc(1, sizeof(*c));
		if (!c || (data && !(c->pat = malloc(sizeof(*c->pat)))))
			lg_fail(NULL, "out of memory for %u sessions", G.n);
		c->id = i;
		c->fd = c->dfd = -1;
		c->ev_ctl = (struct lg_ev){ EV_CTL, c };
		c->ev_data = (struct lg_ev){ EV_DATA, c };
		G.c[i] = c;
	}
	if (lg_is("list")) {
		G.cap_list = o->count ? (size_t)o->count : 10000;
		G.list_ms = calloc(G.cap_list, sizeof(double));
		G.mlsd_ms = calloc(G.cap_list, sizeof(double));
		if (!G.list_ms || !G.mlsd_ms)
			lg_fail(NULL, "out of memory");
	}
}

/* idle: stdin EOF and SIGTERM/SIGINT end the hold. */
static void lg_setup_release(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
	G.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	G.ev_signal = (struct lg_ev){ EV_SIGNAL, NULL };
	G.ev_stdin = (struct lg_ev){ EV_STDIN, NULL };
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &G.ev_signal };
	if (G.sfd < 0 || epoll_ctl(G.ep, EPOLL_CTL_ADD, G.sfd, &e) != 0)
		lg_fail(NULL, "signalfd: %s", strerror(errno));
	e.data.ptr = &G.ev_stdin;
	/* stdin that epoll cannot watch (a file, /dev/null) counts as EOF. */
	G.stdin_watched = epoll_ctl(G.ep, EPOLL_CTL_ADD, 0, &e) == 0;
}

static void lg_ev_stdin(void)
{
	char b[256];
	ssize_t r = read(0, b, sizeof(b));
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		(void)epoll_ctl(G.ep, EPOLL_CTL_DEL, 0, NULL);
		G.stdin_watched = false;
		if (G.holding)
			lg_release();
		else
			G.stopping = true;
	}
}

static void lg_run(void)
{
	struct epoll_event ev[LG_MAX_EVENTS];
	double next_scan = now_s() + 1;
	while (G.finished < G.n) {
		int n = epoll_wait(G.ep, ev, LG_MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR)
			lg_fail(NULL, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct lg_ev *e = ev[i].data.ptr;
			if (e->kind == EV_CTL) {
				if (e->c->fd >= 0)
					lg_ev_ctl(e->c, ev[i].events);
			} else if (e->kind == EV_DATA) {
				if (e->c->dfd >= 0)
					lg_ev_data(e->c, ev[i].events);
			} else if (e->kind == EV_STDIN) {
				lg_ev_stdin();
			} else {
				struct signalfd_siginfo si;
				while (read(G.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
					;
				if (G.holding)
					lg_release();
				else
					G.stopping = true;
			}
		}
		double t = now_s();
		if (lg_is("idle")) {
			if (G.stopping && !G.holding)
				lg_fail(NULL, "stopped (stdin EOF or signal) with %u of %u sessions logged in", G.ready,
					G.n);
			if (G.holding && !G.stdin_watched)
				lg_release();
			if (t >= G.deadline) {
				if (!G.holding)
					lg_fail(NULL, "only %u of %u sessions logged in within %.0f s", G.ready, G.n,
						G.o->time_s);
				lg_release();
			}
		} else if (t >= G.deadline + G.o->op_timeout_s) {
			lg_fail(NULL, "not finished %.0f s after the time limit", G.o->op_timeout_s);
		}
		if (t >= next_scan) {
			lg_check_timeouts(t);
			next_scan = t + 1;
		}
	}
}

int loadgen_main(const char *mode, const struct opts *o)
{
	char f[768];
	(void)signal(SIGPIPE, SIG_IGN);
	lg_setup(mode, o);
	if (lg_is("idle"))
		lg_setup_release();
	lg_window_start(now_s());
	G.t_launch = G.t_start;
	G.deadline = G.t_start + o->time_s;
	if (lg_is("idle"))
		lg_idle_open_next();
	else
		for (unsigned i = 0; i < G.n; i++)
			lg_open(G.c[i]);
	lg_run();
	double secs = G.t_end > G.t_start ? G.t_end - G.t_start : 1e-9;
	if (lg_is("logins")) {
		double p50 = bench_quantile(G.lat, G.nlat, 0.50) * 1000;
		double p99 = bench_quantile(G.lat, G.nlat, 0.99) * 1000;
		double mx = G.nlat ? G.lat[G.nlat - 1] * 1000 : 0;
		(void)snprintf(f, sizeof(f),
			       "\"clients\":%u,\"logins\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"p50_ms\":%.2f,"
			       "\"p99_ms\":%.2f,\"max_ms\":%.2f",
			       G.n, (unsigned long long)G.done, secs, (double)G.done / secs, p50, p99, mx);
	} else if (lg_is("idle")) {
		(void)snprintf(f, sizeof(f), "\"sessions\":%u,\"alive\":%u,\"open_seconds\":%.3f,\"open_rate\":%.1f",
			       G.n, G.finished, secs, (double)G.n / secs);
	} else if (lg_is("files")) {
		(void)snprintf(f, sizeof(f), "\"files\":%llu,\"size\":%llu,\"seconds\":%.3f,\"rate\":%.1f",
			       (unsigned long long)G.done, (unsigned long long)o->size, secs, (double)G.done / secs);
	} else if (lg_is("list")) {
		/* bench_quantile sorts, so [0] is the minimum afterwards. */
		double lq = bench_quantile(G.list_ms, G.nlist, 0.5), mq = bench_quantile(G.mlsd_ms, G.nmlsd, 0.5);
		(void)snprintf(f, sizeof(f),
			       "\"entries\":%llu,\"listings\":%zu,\"list_ms\":%.2f,\"mlsd_ms\":%.2f,\"list_min_ms\":%.2f,"
			       "\"mlsd_min_ms\":%.2f",
			       (unsigned long long)o->entries, G.nlist + G.nmlsd, lq, mq, G.nlist ? G.list_ms[0] : 0,
			       G.nmlsd ? G.mlsd_ms[0] : 0);
	} else {
		double bytes = (double)o->size * G.n;
		(void)snprintf(f, sizeof(f), "\"streams\":%u,\"bytes\":%.0f,\"seconds\":%.3f,\"mib_s\":%.1f", G.n, bytes,
			       secs, bytes / secs / 1048576.0);
	}
	/* The measured window and the generator's CPU time within it. */
	size_t l = strlen(f);
	double gu = lg_tv(G.ru_start.ru_utime, G.ru_end.ru_utime), gs = lg_tv(G.ru_start.ru_stime, G.ru_end.ru_stime);
	(void)snprintf(f + l, sizeof(f) - l,
		       ",\"window_s\":%.4f,\"gen_user_s\":%.4f,\"gen_sys_s\":%.4f,\"gen_cpu_s\":%.4f", secs, gu, gs,
		       gu + gs);
	bench_result(o, mode, f);
	return 0;
}
