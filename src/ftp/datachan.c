#include "datachan.h"
#include "datachan_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "ascii.h"
#include "listing.h"
#include "log.h"
#include "net.h"
#include "tls.h"
#include "util.h"

#define CHUNK DATACHAN_CHUNK
#define SENDFILE_CHUNK (1u << 20)

static void pump(struct datachan *d);

void datachan_init(struct datachan *d)
{
	d->lfd = -1;
	d->fd = -1;
	d->pipe[0] = d->pipe[1] = -1;
	d->lwatch.fd = -1;
	d->watch.fd = -1;
	buf_init(&d->out, 4 * CHUNK);
	buf_init(&d->sec.wire, 0);
}

static void close_listener(struct datachan *d)
{
	if (d->lfd >= 0) {
		loop_watch_forget(d->loop, &d->lwatch);
		(void)close(d->lfd);
		d->lfd = -1;
		METRICS_ADD(d->metrics, pasv_open, -1);
	}
}

static void close_conn(struct datachan *d)
{
	if (d->tls) {
		tls_conn_free(d->tls);
		d->tls = NULL;
	}
	d->tstate = DC_PLAIN;
	for (int i = 0; i < 2; i++) {
		if (d->pipe[i] >= 0)
			(void)close(d->pipe[i]);
		d->pipe[i] = -1;
	}
	if (d->fd >= 0) {
		loop_watch_forget(d->loop, &d->watch);
		(void)close(d->fd);
		d->fd = -1;
	}
}

void datachan_reset(struct datachan *d)
{
	close_listener(d);
	close_conn(d);
	loop_timer_cancel(d->loop, &d->timer);
	d->have_target = false;
	d->connecting = false;
	d->running = false;
	buf_free(&d->out);
	buf_free(&d->sec.wire);
}

bool datachan_running(const struct datachan *d)
{
	return d->running;
}

uint64_t datachan_bytes(const struct datachan *d)
{
	return d->bytes;
}

/* A passive listener outlives its transfer for a moment: a client that
 * goes on with EPSV + RETR gets the same port again, which saves opening,
 * binding and closing a socket per file (bench/: 4 KiB files/s). */
#define LISTENER_LINGER_MS 1000u

static void on_linger(struct loop_timer *t)
{
	struct datachan *d = container_of(t, struct datachan, timer);
	if (!d->running) {
		close_conn(d);
		close_listener(d);
	}
}

void datachan_finish(struct datachan *d, enum proto_xfer_status st, int err)
{
	if (!d->running)
		return;
	d->running = false;
	loop_timer_cancel(d->loop, &d->timer);
	close_conn(d);
	if (d->lfd >= 0) {
		if (loop_watch_mod(d->loop, &d->lwatch, 0) == 0)
			loop_timer_arm(d->loop, &d->timer, LISTENER_LINGER_MS, on_linger);
		else
			close_listener(d);
	}
	d->have_target = false;
	buf_free(&d->out); /* an idle session keeps no transfer buffer */
	buf_free(&d->sec.wire);
	d->done(d, st, err, d->bytes);
}

static void on_timeout(struct loop_timer *t)
{
	struct datachan *d = container_of(t, struct datachan, timer);
	log_info(d->sid, "data connection timed out");
	datachan_finish(d, d->fd >= 0 ? XFER_CONN_LOST : XFER_NO_CONNECTION, -ETIMEDOUT);
}

void datachan_touch(struct datachan *d)
{
	loop_timer_arm(d->loop, &d->timer, d->timeout_ms, on_timeout);
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[64], y[64];
	net_addr_str(a, x, sizeof(x));
	net_addr_str(b, y, sizeof(y));
	return strcmp(x, y) == 0;
}

static void watch_conn(struct datachan *d);

/* RFC 4217 §7: the server is the TLS server on data connections too. */
static void handshake(struct datachan *d)
{
	int r = tls_handshake(d->tls);
	if (r == -EAGAIN) {
		watch_conn(d);
		return;
	}
	if (r) {
		log_info(d->sid, "data connection TLS handshake failed: %s", tls_error(d->tls));
		METRICS_ADD(d->metrics, tls_failed, 1);
		datachan_finish(d, XFER_TLS_FAILED, r);
		return;
	}
	/* RFC 4217 §10.2: the data connection must belong to this client. */
	if (d->require_reuse && !(d->ctl_tls && tls_resumed_from(d->tls, d->ctl_tls))) {
		log_warn(d->sid, "data connection did not resume the control connection's TLS session; refused");
		datachan_finish(d, XFER_TLS_NO_REUSE, -EPERM);
		return;
	}
	METRICS_ADD(d->metrics, tls_ok, 1);
	d->tstate = DC_READY;
	datachan_touch(d);
	watch_conn(d);
	pump(d);
}

/* A data connection is up: TLS first if PROT P, else start moving bytes. */
static void begin_conn(struct datachan *d)
{
	if (d->x.protect) {
		if (!d->tls_ctx || tls_conn_new_data(d->tls_ctx, d->fd, &d->tls) != 0) {
			datachan_finish(d, XFER_TLS_FAILED, -EPROTO);
			return;
		}
		d->tstate = DC_HANDSHAKE;
		handshake(d);
		return;
	}
	d->tstate = DC_PLAIN;
	/* A fresh connection can be written to (and read, if the client was
	 * quick) at once: go now rather than after an epoll round trip, so a
	 * small file's 150 and 226 leave in one write. The watch is added
	 * only if the transfer has to wait. */
	pump(d);
	if (d->running && d->fd >= 0 && d->watch.fd < 0)
		watch_conn(d);
}

static void on_data(struct loop_watch *w, uint32_t ev)
{
	struct datachan *d = container_of(w, struct datachan, watch);
	if (d->connecting) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr) {
			datachan_finish(d, XFER_NO_CONNECTION, -(soerr ? soerr : errno));
			return;
		}
		d->connecting = false;
		begin_conn(d);
		return;
	}
	if (d->tstate == DC_HANDSHAKE) {
		handshake(d);
		return;
	}
	pump(d);
}

static void watch_conn(struct datachan *d)
{
	uint32_t ev = d->x.kind == XFER_RECV_FILE ? EPOLLIN : EPOLLOUT;
	if (d->tstate == DC_HANDSHAKE || d->tstate == DC_CLOSE_NOTIFY)
		ev = tls_want(d->tls) ? tls_want(d->tls) : EPOLLIN;
	else if (d->tstate == DC_DRAIN)
		ev = EPOLLIN;
	else if (d->tls && tls_want(d->tls))
		ev = tls_want(d->tls);
	if (d->watch.fd < 0) {
		if (loop_watch_add(d->loop, &d->watch, d->fd, ev, on_data) != 0)
			datachan_finish(d, XFER_NO_CONNECTION, -errno);
	} else if (loop_watch_mod(d->loop, &d->watch, ev) != 0) {
		datachan_finish(d, XFER_CONN_LOST, -errno);
	}
}

static void on_accept(struct loop_watch *w, uint32_t ev)
{
	struct datachan *d = container_of(w, struct datachan, lwatch);
	for (;;) {
		int fd;
		struct sockaddr_storage peer;
		int r = net_accept(d->lfd, &fd, &peer);
		if (r)
			return;
		/* SECURITY (RFC 2577 §8): only the control peer may connect. */
		if (!same_host(&peer, &d->ctl_peer)) {
			char who[64];
			net_addr_str(&peer, who, sizeof(who));
			log_warn(d->sid, "data connection from a foreign address refused: ip=%s", who);
			(void)close(fd);
			continue;
		}
		/* One connection per PASV/EPSV: the listener stops listening
		 * until the next one (or lingers and closes, see datachan_finish). */
		if (loop_watch_mod(d->loop, &d->lwatch, 0) != 0)
			close_listener(d);
		d->fd = fd;
		if (d->running) {
			datachan_touch(d);
			begin_conn(d);
		}
		return;
	}
}

/* The listener is offered again: anything that connected since the last
 * transfer predates the reply that will name the port, so it cannot be the
 * client's answer to it. */
static int reuse_listener(struct datachan *d, uint16_t *port)
{
	for (;;) {
		int fd;
		struct sockaddr_storage peer;
		if (net_accept(d->lfd, &fd, &peer) != 0)
			break;
		(void)close(fd);
	}
	if (loop_watch_mod(d->loop, &d->lwatch, EPOLLIN) != 0)
		return -EIO;
	loop_timer_cancel(d->loop, &d->timer);
	*port = d->lport;
	return 0;
}

int datachan_passive(struct datachan *d, uint16_t *port)
{
	close_conn(d);
	d->have_target = false;
	if (d->lfd >= 0 && !d->running && reuse_listener(d, port) == 0)
		return 0;
	close_listener(d);
	char host[64];
	net_addr_str(&d->ctl_local, host, sizeof(host));
	uint32_t span = (uint32_t)d->port_max - d->port_min + 1;
	uint32_t start = util_random_u32();
	/* RFC 2577 §8: ports in random order, so they cannot be guessed. */
	int r = -EADDRINUSE;
	char err[256];
	for (uint32_t i = 0; i < span && i < 256; i++) {
		uint16_t p = (uint16_t)(d->port_min + (start + i * 2654435761u) % span);
		r = net_listen(host, p, &d->lfd, err, sizeof(err));
		if (r == 0) {
			*port = p;
			d->lport = p;
			break;
		}
		if (r != -EADDRINUSE && r != -EACCES)
			break;
	}
	if (r) {
		log_warn(d->sid, "no passive port available: %s", strerror(-r));
		return r;
	}
	r = loop_watch_add(d->loop, &d->lwatch, d->lfd, EPOLLIN, on_accept);
	if (r) {
		(void)close(d->lfd);
		d->lfd = -1;
		return r;
	}
	METRICS_ADD(d->metrics, pasv_open, 1);
	return 0;
}

void datachan_active(struct datachan *d, const struct sockaddr_storage *target)
{
	loop_timer_cancel(d->loop, &d->timer); /* a lingering listener's */
	close_listener(d);
	close_conn(d);
	d->target = *target;
	d->have_target = true;
}

static int connect_out(struct datachan *d)
{
	int fd = socket(d->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t len = d->target.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (connect(fd, (struct sockaddr *)&d->target, len) != 0 && errno != EINPROGRESS) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	d->fd = fd;
	d->connecting = true;
	return 0;
}

void datachan_start(struct datachan *d, const struct proto_xfer *x)
{
	d->x = *x;
	d->off = x->offset;
	d->bytes = 0;
	d->running = true;
	d->list_done = false;
	d->rx = (struct ascii_rx){ 0 };
	d->no_splice = false;
	buf_reset(&d->out);
	if (x->gss_prot && datachan_sec_start(d) != 0) {
		datachan_finish(d, XFER_PROT_FAILED, -EPROTO);
		return;
	}
	datachan_touch(d);
	if (d->have_target && d->fd < 0) {
		int r = connect_out(d);
		if (r) {
			datachan_finish(d, XFER_NO_CONNECTION, r);
			return;
		}
	}
	if (d->fd >= 0 && !d->connecting)
		begin_conn(d);
	else if (d->fd >= 0)
		watch_conn(d);
	/* else: waiting for the client to connect to the listener */
}

void datachan_abort(struct datachan *d)
{
	datachan_finish(d, XFER_ABORTED, 0);
}

/* Writes d->out to the socket; 1 when it is empty, 0 when blocked, <0 lost. */
static int drain_out(struct datachan *d)
{
	while (d->out.len) {
		if (d->tls) {
			size_t put = 0;
			int r = tls_write(d->tls, buf_data(&d->out), d->out.len, &put);
			if (r == -EAGAIN)
				return 0;
			if (r)
				return r;
			buf_consume(&d->out, put);
			d->bytes += put;
			datachan_touch(d);
			continue;
		}
		ssize_t n = send(d->fd, buf_data(&d->out), d->out.len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		buf_consume(&d->out, (size_t)n);
		d->bytes += (uint64_t)n;
		datachan_touch(d);
	}
	return 1;
}

/* Reads the next chunk of the file into d->out: LF → CRLF for TYPE A
 * (RFC 959 §3.1.1.1), as is otherwise (TLS, where sendfile cannot be
 * used). Returns 1 at EOF. */
static int fill_file(struct datachan *d)
{
	int err = 0;
	if (!d->x.ascii) {
		/* Binary under TLS: read straight into the output buffer, a few
		 * full 16 KiB records at a time. */
		char *o = buf_reserve(&d->out, CHUNK, &err);
		if (!o)
			return err;
		ssize_t n = pread(d->x.fd, o, CHUNK, (off_t)d->off);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		d->off += (uint64_t)n;
		buf_commit(&d->out, (size_t)n);
		return 0;
	}
	char in[CHUNK / 2];
	ssize_t n = pread(d->x.fd, in, sizeof(in), (off_t)d->off);
	if (n < 0)
		return -errno;
	if (n == 0)
		return 1;
	d->off += (uint64_t)n;
	char *o = buf_reserve(&d->out, ASCII_TO_WIRE_MAX((size_t)n), &err);
	if (!o)
		return err;
	buf_commit(&d->out, ascii_to_wire((struct slice){ in, (size_t)n }, o));
	return 0;
}

/* Everything was sent. Plain: close (the kernel ends with FIN). TLS:
 * close_notify, then wait for the client to close its side, so its own
 * close_notify never meets a reset (RFC 4217 §12.6). */
static void send_done(struct datachan *d)
{
	if (!d->tls) {
		datachan_finish(d, XFER_OK, 0);
		return;
	}
	if (d->tstate != DC_CLOSE_NOTIFY && d->tstate != DC_DRAIN)
		d->tstate = DC_CLOSE_NOTIFY;
	if (d->tstate == DC_CLOSE_NOTIFY) {
		int r = tls_close_notify(d->tls);
		if (r == -EAGAIN) {
			watch_conn(d);
			return;
		}
		if (r) {
			datachan_finish(d, XFER_OK, 0); /* the data is out; the client left early */
			return;
		}
		(void)shutdown(d->fd, SHUT_WR);
		d->tstate = DC_DRAIN;
	}
	for (;;) {
		char sink[4096];
		size_t got = 0;
		int r = tls_read(d->tls, sink, sizeof(sink), &got);
		if (r == -EAGAIN) {
			watch_conn(d);
			return;
		}
		if (r || got == 0) {
			datachan_finish(d, XFER_OK, 0);
			return;
		}
	}
}

/* The next bytes to send (file, listing, prepared line) into d->out;
 * 1 when there are no more. */
int datachan_fill(struct datachan *d)
{
	int fr;
	if (d->x.kind == XFER_SEND_FILE) {
		fr = fill_file(d);
	} else if (!d->list_done) {
		/* Directory listing (streamed) or one prepared line. */
		if (d->x.buf) {
			fr = buf_append(&d->out, buf_data(d->x.buf), d->x.buf->len);
			d->list_done = true;
		} else {
			fr = listing_next(d->x.listing, &d->out, CHUNK);
			if (fr >= 0) {
				d->list_done = fr == 0;
				fr = 0;
			}
		}
	} else {
		fr = 1;
	}
	return fr;
}

static void pump_send(struct datachan *d)
{
	if (d->tstate == DC_CLOSE_NOTIFY || d->tstate == DC_DRAIN) {
		send_done(d);
		return;
	}
	for (;;) {
		int r = drain_out(d);
		if (r < 0) {
			datachan_finish(d, XFER_CONN_LOST, r);
			return;
		}
		if (r == 0)
			return; /* wait for EPOLLOUT */
		if (d->x.kind == XFER_SEND_FILE && !d->x.ascii && !d->tls && !d->x.gss_prot) {
			if (d->off >= d->x.size) {
				datachan_finish(d, XFER_OK, 0);
				return;
			}
			off_t off = (off_t)d->off;
			ssize_t n = sendfile(d->fd, d->x.fd, &off, SENDFILE_CHUNK);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				int e = errno;
				/* EPIPE/ECONNRESET: the client went away */
				datachan_finish(d, e == EPIPE || e == ECONNRESET ? XFER_CONN_LOST : XFER_LOCAL_ERROR,
						-e);
				return;
			}
			if (n == 0) { /* the file shrank under us: send what there was */
				datachan_finish(d, XFER_OK, 0);
				return;
			}
			d->off = (uint64_t)off;
			d->bytes += (uint64_t)n;
			datachan_touch(d);
			continue;
		}
		int fr = datachan_fill(d);
		if (fr < 0) {
			datachan_finish(d, XFER_LOCAL_ERROR, fr);
			return;
		}
		if (fr == 1 && d->out.len == 0) {
			send_done(d);
			return;
		}
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Stores received bytes in the file, CRLF → LF first under TYPE A. */
int datachan_store(struct datachan *d, const char *p, size_t n)
{
	if (!d->x.ascii)
		return write_all(d->x.fd, p, n);
	char conv[ASCII_FROM_WIRE_MAX(CHUNK)];
	for (size_t off = 0; off < n; off += CHUNK) {
		size_t k = n - off < CHUNK ? n - off : CHUNK;
		k = ascii_from_wire(&d->rx, (struct slice){ p + off, k }, conv);
		int r = write_all(d->x.fd, conv, k);
		if (r)
			return r;
	}
	return 0;
}

/* The upload is whole: a CR held back by TYPE A was the file's last byte. */
int datachan_store_end(struct datachan *d)
{
	char cr;
	size_t n = ascii_rx_end(&d->rx, &cr);
	return n ? write_all(d->x.fd, &cr, n) : 0;
}

#define SPLICE_PIPE (1u << 20)

static int pipe_to_file(struct datachan *d, size_t left)
{
	char tmp[CHUNK];
	while (left) {
		ssize_t n = read(d->pipe[0], tmp, left < sizeof(tmp) ? left : sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		int r = write_all(d->x.fd, tmp, (size_t)n);
		if (r)
			return r;
		left -= (size_t)n;
	}
	return 0;
}

/* Plain binary upload without copying through user space: socket → pipe →
 * file. Returns 1 when it cannot be used (the caller falls back to
 * read/write), 0 when it has done what it could (datachan_finish() called or waiting
 * for input). */
static int recv_splice(struct datachan *d)
{
	if (d->pipe[0] < 0) {
		/* splice(2) refuses O_APPEND targets (APPE, resumed uploads). */
		int fl = fcntl(d->x.fd, F_GETFL);
		if (fl < 0 || (fl & O_APPEND) || pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
			d->no_splice = true;
			return 1;
		}
		/* A bigger pipe means fewer splice calls; the default 64 KiB works too. */
		(void)fcntl(d->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE);
	}
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = splice(d->fd, NULL, d->pipe[1], NULL, SPLICE_PIPE, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			if ((errno == EINVAL || errno == ENOSYS) && d->bytes == 0) {
				d->no_splice = true;
				return 1;
			}
			datachan_finish(d, XFER_CONN_LOST, -errno);
			return 0;
		}
		if (n == 0) { /* FIN: the upload is whole */
			datachan_finish(d, XFER_OK, 0);
			return 0;
		}
		d->bytes += (uint64_t)n;
		datachan_touch(d);
		/* The pipe is emptied into the file before reading more, so
		 * nothing is left in it when the transfer ends. */
		for (size_t left = (size_t)n; left;) {
			ssize_t w = splice(d->pipe[0], NULL, d->x.fd, NULL, left, SPLICE_F_MOVE);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno == EINVAL) {
				/* The file system does not take splice: copy what the
				 * pipe holds, then read/write for the rest. */
				int r = pipe_to_file(d, left);
				if (r) {
					datachan_finish(d, XFER_LOCAL_ERROR, r);
					return 0;
				}
				d->no_splice = true;
				return 1;
			}
			if (w <= 0) {
				datachan_finish(d, XFER_LOCAL_ERROR, w < 0 ? -errno : -EIO);
				return 0;
			}
			left -= (size_t)w;
		}
	}
	return 0; /* fairness: epoll reports the rest again */
}

ssize_t datachan_recv(struct datachan *d, char *dst, size_t n)
{
	for (;;) {
		ssize_t got = recv(d->fd, dst, n, 0);
		if (got >= 0)
			return got;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

static void pump_recv(struct datachan *d)
{
	if (!d->tls && !d->x.ascii && !d->no_splice && recv_splice(d) == 0)
		return;
	char in[CHUNK];
	/* Bounded for fairness, but bytes already decrypted inside TLS must be
	 * taken now: epoll will not signal them again. */
	for (int rounds = 0; rounds < 16 || (d->tls && tls_pending(d->tls)); rounds++) {
		ssize_t n;
		if (d->tls) {
			size_t got = 0;
			int r = tls_read(d->tls, in, sizeof(in), &got);
			if (r == -EAGAIN) {
				watch_conn(d);
				return;
			}
			if (r) {
				/* -ECONNRESET: TCP closed without close_notify, so the
				 * upload may be truncated: not committed. */
				datachan_finish(d, XFER_CONN_LOST, r);
				return;
			}
			n = (ssize_t)got;
		} else {
			n = datachan_recv(d, in, sizeof(in));
			if (n == -EAGAIN)
				return;
			if (n < 0) {
				datachan_finish(d, XFER_CONN_LOST, (int)n);
				return;
			}
		}
		if (n == 0) {
			/* The client's close_notify (TLS) or FIN: the upload is whole.
			 * Answer close_notify so the client's unwrap completes
			 * (RFC 4217 §12.6); it is tiny, one try is enough. */
			if (d->tls)
				(void)tls_close_notify(d->tls);
			int r = datachan_store_end(d);
			datachan_finish(d, r ? XFER_LOCAL_ERROR : XFER_OK, r);
			return;
		}
		d->bytes += (uint64_t)n;
		datachan_touch(d);
		int r = datachan_store(d, in, (size_t)n);
		if (r) {
			datachan_finish(d, XFER_LOCAL_ERROR, r);
			return;
		}
	}
	/* Fairness: let other sessions run; epoll reports the rest again. */
}

static void pump(struct datachan *d)
{
	if (!d->running || d->fd < 0 || d->connecting || d->tstate == DC_HANDSHAKE)
		return;
	if (d->x.gss_prot && d->x.kind == XFER_RECV_FILE)
		datachan_sec_pump_recv(d);
	else if (d->x.gss_prot)
		datachan_sec_pump_send(d);
	else if (d->x.kind == XFER_RECV_FILE)
		pump_recv(d);
	else
		pump_send(d);
}
