/* loadgen's connection plumbing (the modes and the run loop are in
 * loadgen.c): non-blocking sockets and their epoll interest, the control
 * connection (commands out, replies split off and handed to lg_reply), the
 * TLS handshake, the data connection whose bytes are checked against the
 * pattern (pattern.c), and the FAIL message for a session that stalled. */
#include "loadgen_impl.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const lg_state_name[] = {
	"free", "connect", "greeting", "AUTH TLS", "TLS handshake", "USER",	"PASS", "PBSZ",
	"PROT", "TYPE",	   "ready",    "EPSV",	   "PASV",	    "transfer", "NOOP", "QUIT",
};

_Noreturn void __attribute__((format(printf, 2, 3))) lg_fail(const struct lg_conn *c, const char *fmt, ...)
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
			(void)snprintf(ctx, sizeof(ctx),
				       " [idle: %u of %u logged in, released %.1f s ago, %.0f s after the start]",
				       G.ready, G.n, t - G.t_release, t - G.t_launch);
		else
			(void)snprintf(ctx, sizeof(ctx),
				       " [idle: %u of %u logged in, not released, %.0f s after the start]", G.ready,
				       G.n, t - G.t_launch);
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

void lg_open(struct lg_conn *c)
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

void lg_close(struct lg_conn *c)
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

void __attribute__((format(printf, 3, 4))) lg_send(struct lg_conn *c, enum lg_state st, const char *fmt, ...)
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

void lg_start_tls(struct lg_conn *c)
{
	if (c->in_len)
		lg_fail(c, "bytes after 234 before the TLS handshake");
	c->ssl = SSL_new(G.ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		lg_fail(c, "SSL_new: %s", bench_ssl_err());
	c->st = ST_HANDSHAKE;
	lg_handshake(c);
}

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

void lg_ev_ctl(struct lg_conn *c, uint32_t events)
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

static void lg_data_interest(struct lg_conn *c, uint32_t want)
{
	lg_watch(c->dfd, &c->ev_data, &c->devents, want);
}

void lg_data_open(struct lg_conn *c, enum lg_xfer k, uint64_t expect)
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
					lg_fail(c,
						"data connection closed without TLS close_notify after %llu bytes: %s",
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

void lg_ev_data(struct lg_conn *c, uint32_t events)
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

int lg_parse_port(const char *text, int code, unsigned *port)
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

/* No progress for --op-timeout: the FAIL message says what was awaited and
 * what the sockets hold, so one occurrence is enough to tell a server that
 * did not answer from an answer the generator did not read. */
_Noreturn void lg_stalled(struct lg_conn *c, double t)
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
