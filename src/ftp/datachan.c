#include "datachan.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "ascii.h"
#include "conn.h"
#include "conn_sec.h"
#include "list_feed.h"
#include "listing.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "tls.h"
#include "util.h"
#include "vfs.h"

/* Bytes moved per read/write step (file, socket, listing chunk). */
#define CHUNK (64u * 1024u)
#define SENDFILE_CHUNK (1u << 20)
/* Bytes one wake-up may send before the loop serves the worker's other
 * sessions (epoll reports the socket writable again at once): ~3 ms at
 * loopback speed, and one more epoll_wait per 8 MiB costs nothing. */
#define SEND_BURST (8u << 20)
/* A durable upload asks the kernel to start writing what arrived every
 * this many bytes (vfs_upload_writebehind), so its fsync at the end finds
 * little to do instead of the whole file. */
#define WRITE_BEHIND (8u << 20)

static void pump(struct datachan *d);

/* A durable upload's write-behind, on the job pool: sync_file_range can
 * wait for the device's queue (tens of ms seen on this machine's disk),
 * which the loop must not. The job has its own descriptor, so the upload
 * may end (and its fd close) while it runs; d is forgotten then. */
struct writebehind {
	struct job job;
	int fd;
	struct datachan *d; /* NULL once the transfer ended */
};

static void writebehind_run(struct job *j, void *ctx)
{
	struct writebehind *w = container_of(j, struct writebehind, job);
	(void)ctx;
	vfs_upload_writebehind(w->fd);
	vfs_fd_close(w->fd);
}

static void writebehind_done(struct job *j)
{
	struct writebehind *w = container_of(j, struct writebehind, job);
	if (w->d)
		w->d->wb = NULL;
	free(w);
}

/* A listing's next chunk is ready (list_feed.h): send it. */
static void list_ready(void *arg)
{
	pump(arg);
}

void datachan_init(struct datachan *d)
{
	d->lfd = -1;
	conn_init(&d->conn, -1);
	d->top = &d->conn;
	d->lwatch.fd = -1;
	d->watch.fd = -1;
	buf_init(&d->out, 4 * CHUNK);
}

static void close_listener(struct datachan *d)
{
	if (d->lfd >= 0) {
		loop_watch_forget(d->loop, &d->lwatch);
		(void)close(d->lfd);
		d->lfd = -1;
		d->offered = false;
		d->accepted_early = false;
		METRICS_ADD(d->metrics, pasv_open, -1);
	}
}

/* The stacked RFC 2228 transport goes before the stream it rides on. */
static void close_conn(struct datachan *d)
{
	if (d->top != &d->conn)
		conn_close(d->top);
	d->top = &d->conn;
	d->tstate = DC_OPEN;
	if (d->conn.fd >= 0)
		loop_watch_forget(d->loop, &d->watch);
	conn_close(&d->conn);
	net_proxy_reader_free(&d->hdr);
	d->hdr_wait = false;
}

void datachan_reset(struct datachan *d)
{
	close_listener(d);
	close_conn(d);
	loop_timer_cancel(d->loop, &d->timer);
	d->have_target = false;
	d->connecting = false;
	d->running = false;
	list_feed_cancel(d->feed);
	d->feed = NULL;
	buf_free(&d->out);
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

/* Ends the running transfer: closes the connection, keeps a passive
 * listener lingering, calls d->done once. */
static void datachan_finish(struct datachan *d, enum proto_xfer_status st, int err)
{
	if (!d->running)
		return;
	d->running = false;
	list_feed_cancel(d->feed); /* a chunk still being made is dropped by its job */
	d->feed = NULL;
	loop_timer_cancel(d->loop, &d->timer);
	if (d->wb) {
		d->wb->d = NULL;
		d->wb = NULL;
	}
	close_conn(d);
	d->offered = false; /* whatever connects now, the next PASV/EPSV did not ask for */
	if (d->lfd >= 0)
		loop_timer_arm(d->loop, &d->timer, LISTENER_LINGER_MS, on_linger);
	d->have_target = false;
	buf_free(&d->out); /* an idle session keeps no transfer buffer */
	d->done(d, st, err, d->bytes);
}

static void on_timeout(struct loop_timer *t)
{
	struct datachan *d = container_of(t, struct datachan, timer);
	log_info(d->sid, "data connection timed out");
	datachan_finish(d, d->conn.fd >= 0 && !d->hdr_wait ? XFER_CONN_LOST : XFER_NO_CONNECTION, -ETIMEDOUT);
}

/* Progress: re-arms the idle timeout. */
static void datachan_touch(struct datachan *d)
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
	int r = conn_handshake(&d->conn);
	if (r == -EAGAIN) {
		watch_conn(d);
		return;
	}
	if (r) {
		log_info(d->sid, "data connection TLS handshake failed: %s", tls_error(d->conn.tls));
		METRICS_ADD(d->metrics, tls_failed, 1);
		datachan_finish(d, XFER_TLS_FAILED, r);
		return;
	}
	/* RFC 4217 §10.2: the data connection must belong to this client. */
	if (d->require_reuse && !(d->ctl_tls && tls_resumed_from(d->conn.tls, d->ctl_tls))) {
		log_warn(d->sid, "data connection did not resume the control connection's TLS session; refused");
		datachan_finish(d, XFER_TLS_NO_REUSE, -EPERM);
		return;
	}
	METRICS_ADD(d->metrics, tls_ok, 1);
	d->tstate = DC_OPEN;
	datachan_touch(d);
	watch_conn(d);
	pump(d);
}

/* A data connection is up: TLS first if PROT P, else start moving bytes. */
static void begin_conn(struct datachan *d)
{
	if (d->x.protect) {
		if (!d->tls_ctx || conn_start_tls_data(&d->conn, d->tls_ctx) != 0) {
			datachan_finish(d, XFER_TLS_FAILED, -EPROTO);
			return;
		}
		d->tstate = DC_HANDSHAKE;
		handshake(d);
		return;
	}
	d->tstate = DC_OPEN;
	/* A fresh connection can be written to (and read, if the client was
	 * quick) at once: go now rather than after an epoll round trip, so a
	 * small file's 150 and 226 leave in one write. The watch is added
	 * only if the transfer has to wait. */
	pump(d);
	if (d->running && d->conn.fd >= 0 && d->watch.fd < 0)
		watch_conn(d);
}

static void proxy_header(struct datachan *d);

static void on_data(struct loop_watch *w, uint32_t ev)
{
	struct datachan *d = container_of(w, struct datachan, watch);
	if (d->hdr_wait) {
		proxy_header(d);
		return;
	}
	if (d->connecting) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);
		if (getsockopt(d->conn.fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr) {
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

/* The interest follows what the transport's last -EAGAIN waits for (a
 * TLS read can need the socket writable), else the transfer's direction;
 * the handshake and the end of a stream wait for the peer. */
static void watch_conn(struct datachan *d)
{
	const struct conn *c = d->tstate == DC_HANDSHAKE ? &d->conn : d->top;
	uint32_t ev = d->x.kind == XFER_RECV_FILE || d->tstate != DC_OPEN ? LOOP_IN : LOOP_OUT;
	if (c->want)
		ev = c->want;
	if (d->watch.fd < 0) {
		if (loop_watch_add(d->loop, &d->watch, d->conn.fd, ev, on_data) != 0)
			datachan_finish(d, XFER_NO_CONNECTION, -errno);
	} else if (loop_watch_mod(d->loop, &d->watch, ev) != 0) {
		datachan_finish(d, XFER_CONN_LOST, -errno);
	}
}

/* [passive] proxy_protocol: reads the PROXY header of the passive
 * connection in d->conn; the client it names must be the control
 * connection's. A bad header or a foreign client closes the connection and
 * the listener takes the next one. */
static void proxy_header(struct datachan *d)
{
	struct proxy_hdr h;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	const char *why = "";
	char who[64] = "?";
	int r = net_proxy_read(d->conn.fd, &d->hdr, &h, &why);
	if (r == -EAGAIN) {
		if (d->watch.fd >= 0)
			return;
		r = loop_watch_add(d->loop, &d->watch, d->conn.fd, LOOP_IN, on_data);
		if (r == 0)
			return;
	}
	if (r == 0 && !h.has_addr && getpeername(d->conn.fd, (struct sockaddr *)&peer, &len) != 0)
		r = -errno;
	if (r == 0) {
		if (h.has_addr)
			peer = h.src;
		net_addr_str(&peer, who, sizeof(who));
	}
	if (r || !same_host(&peer, &d->ctl_peer)) {
		if (r)
			log_warn(d->sid, "data connection refused: PROXY header: %s", why[0] ? why : strerror(-r));
		else
			log_warn(d->sid, "data connection from a foreign address refused: ip=%s (PROXY header)", who);
		close_conn(d);
		d->offered = true; /* the listener (always armed) takes the next one */
		return;
	}
	net_proxy_reader_free(&d->hdr);
	d->hdr_wait = false;
	if (d->running) {
		datachan_touch(d);
		begin_conn(d);
	} else {
		loop_watch_del(d->loop, &d->watch); /* the transfer adds its own (begin_conn) */
	}
}

/* Takes the client's connection from the listener, if it is there, and
 * starts the transfer waiting for it. The listener stays armed for its
 * whole life (no epoll_ctl per transfer): what connects while no reply
 * offers the port (before the PASV/EPSV that names it again, or a second
 * connection for one reply) is closed at once, as the drain of the next
 * PASV/EPSV did before. */
static void accept_pending(struct datachan *d)
{
	for (;;) {
		int fd;
		struct sockaddr_storage peer;
		int r = net_accept(d->lfd, &fd, &peer);
		if (r)
			return;
		/* SECURITY (RFC 2577 §8): only the control peer may connect;
		 * behind a balancer, only the balancer, for the peer its PROXY
		 * header names (proxy_header). */
		bool ok = d->proxy_mode ? proxy_from_allows(&peer, d->proxy_from, d->n_proxy_from)
					: same_host(&peer, &d->ctl_peer);
		if (!ok) {
			char who[64];
			net_addr_str(&peer, who, sizeof(who));
			log_warn(d->sid, "data connection from a foreign address refused: ip=%s%s", who,
				 d->proxy_mode ? " (not in [server] proxy_from; [passive] proxy_protocol is on)" : "");
			(void)close(fd);
			continue;
		}
		/* One connection per PASV/EPSV reply; anything else predates
		 * the reply or comes after the client's answer to it. */
		if (!d->offered || d->conn.fd >= 0) {
			(void)close(fd);
			continue;
		}
		d->offered = false;
		conn_init(&d->conn, fd);
		if (d->proxy_mode) {
			net_proxy_reader_init(&d->hdr, (enum proxy_mode)d->proxy_mode);
			d->hdr_wait = true;
			proxy_header(d);
		} else if (d->running) {
			datachan_touch(d);
			begin_conn(d);
		}
		return;
	}
}

static void on_accept(struct loop_watch *w, uint32_t ev)
{
	struct datachan *d = container_of(w, struct datachan, lwatch);
	/* datachan_start took the connection this round, and this event was
	 * likely fetched with the command's: skip it once rather than pay
	 * for an accept4 that fails (the listener is level-triggered: one
	 * that is real is reported again). */
	if (d->accepted_early) {
		d->accepted_early = false;
		return;
	}
	accept_pending(d);
}

/* The lingering listener is offered again (see accept_pending). What is
 * queued on it now connected before the reply that names the port again,
 * so it is not the client's answer to it: closed here, before the offer
 * (its epoll event may not have been handled yet). */
static void reuse_listener(struct datachan *d, uint16_t *port)
{
	loop_timer_cancel(d->loop, &d->timer);
	d->offered = false;
	for (;;) {
		int fd;
		struct sockaddr_storage peer;
		if (net_accept(d->lfd, &fd, &peer) != 0)
			break;
		(void)close(fd);
	}
	d->offered = true;
	d->accepted_early = false;
	*port = d->lport;
}

int datachan_passive(struct datachan *d, uint16_t *port)
{
	close_conn(d);
	d->have_target = false;
	if (d->lfd >= 0 && !d->running) {
		reuse_listener(d, port);
		return 0;
	}
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
	r = loop_watch_add(d->loop, &d->lwatch, d->lfd, LOOP_IN, on_accept);
	if (r) {
		(void)close(d->lfd);
		d->lfd = -1;
		return r;
	}
	METRICS_ADD(d->metrics, pasv_open, 1);
	d->offered = true;
	d->accepted_early = false;
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
	conn_init(&d->conn, fd);
	d->connecting = true;
	return 0;
}

void datachan_start(struct datachan *d, const struct proto_xfer *x)
{
	d->x = *x;
	d->off = x->offset;
	d->bytes = 0;
	d->unflushed = 0;
	d->running = true;
	d->list_done = false;
	d->rx = (struct ascii_rx){ 0 };
	buf_reset(&d->out);
	/* RFC 2228 §6: PROT S/P under AUTH GSSAPI rides on the stream. */
	if (x->gss_prot) {
		if (conn_sec_start(&d->sec, &d->conn, d->gss, x->gss_prot == 'P', x->pbsz, d->sid) != 0) {
			datachan_finish(d, XFER_PROT_FAILED, -EPROTO);
			return;
		}
		d->top = &d->sec;
	}
	/* A listing's first chunk is made while the connection comes up. */
	if (x->kind == XFER_SEND_LIST && x->listing && d->jobs &&
	    list_feed_start(&d->feed, d->jobs, d->loop, x->listing, list_ready, d) != 0) {
		datachan_finish(d, XFER_LOCAL_ERROR, -ENOMEM);
		return;
	}
	datachan_touch(d);
	if (d->have_target && d->conn.fd < 0) {
		int r = connect_out(d);
		if (r) {
			datachan_finish(d, XFER_NO_CONNECTION, r);
			return;
		}
	}
	if (d->hdr_wait)
		return; /* proxy_header() begins once the PROXY header is read */
	if (d->conn.fd >= 0 && !d->connecting)
		begin_conn(d);
	else if (d->conn.fd >= 0)
		watch_conn(d);
	else if (d->lfd >= 0 && d->offered) {
		/* Clients connect before they send RETR or STOR, so the
		 * connection is usually queued already (its event fetched in the
		 * same round as the command, or not yet): taken now, a small
		 * file is done in this round and its 150 and 226 leave in one
		 * write. Otherwise on_accept takes it when it comes. */
		accept_pending(d);
		d->accepted_early = !d->offered;
	}
}

void datachan_abort(struct datachan *d)
{
	datachan_finish(d, XFER_ABORTED, 0);
}

/* A stream that failed: a stacked transport's refusal of the client's
 * blocks (RFC 2228 §6: over PBSZ, a bad token, the wrong level) is a
 * protection failure (535), anything else a lost connection. */
static void lost(struct datachan *d, int r)
{
	bool refused = d->top != &d->conn && (r == -EBADMSG || r == -EMSGSIZE);
	datachan_finish(d, refused ? XFER_PROT_FAILED : XFER_CONN_LOST, r);
}

/* Writes d->out to the stream; 1 when it is empty, 0 when blocked, <0 lost. */
static int drain_out(struct datachan *d)
{
	while (d->out.len) {
		size_t put = 0;
		int r = conn_write(d->top, buf_data(&d->out), d->out.len, &put);
		if (r == -EAGAIN)
			return 0;
		if (r)
			return r;
		buf_consume(&d->out, put);
		d->bytes += put;
		datachan_touch(d);
	}
	return 1;
}

/* Reads the next chunk of the file into d->out: LF → CRLF for TYPE A
 * (RFC 959 §3.1.1.1), as is otherwise (a transport without sendfile).
 * Returns 1 at EOF. */
static int fill_file(struct datachan *d)
{
	int err = 0;
	if (!d->x.ascii) {
		/* Binary: read straight into the output buffer, a few full
		 * 16 KiB TLS records at a time. */
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

/* Everything was handed to the stream: its end mark (plain: none, the
 * close sends FIN; TLS: close_notify; RFC 2228: the last block and the
 * empty one). Where the transport asks for it, then wait for the client to
 * close its side, so its own close_notify never meets a reset (RFC 4217
 * §12.6). */
static void send_done(struct datachan *d)
{
	if (d->tstate == DC_OPEN)
		d->tstate = DC_SHUTDOWN;
	if (d->tstate == DC_SHUTDOWN) {
		int r = conn_shutdown(d->top);
		if (r == -EAGAIN) {
			watch_conn(d);
			return;
		}
		if (r < 0) {
			lost(d, r);
			return;
		}
		/* r == 1: the data is out; the client left early. */
		if (r == 1 || !(conn_caps(d->top) & CONN_CAP_AWAIT_PEER)) {
			datachan_finish(d, XFER_OK, 0);
			return;
		}
		d->tstate = DC_DRAIN;
	}
	for (;;) {
		char sink[4096];
		size_t got = 0;
		int r = conn_read(d->top, sink, sizeof(sink), &got);
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
static int fill(struct datachan *d)
{
	int fr;
	if (d->x.kind == XFER_SEND_FILE) {
		fr = fill_file(d);
	} else if (!d->list_done) {
		/* Directory listing (streamed) or one prepared line. */
		if (d->x.buf) {
			fr = buf_append(&d->out, buf_data(d->x.buf), d->x.buf->len);
			d->list_done = true;
		} else if (d->feed) {
			/* -EAGAIN: the next chunk is still being made (list_ready). */
			fr = list_feed_take(d->feed, &d->out);
			if (fr >= 0) {
				d->list_done = fr == 1;
				fr = 0;
			}
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

/* Binary RETR over a stream that can take it: sendfile(2), no copy
 * through user space. */
static int send_zero_copy(struct datachan *d)
{
	if (d->off >= d->x.size)
		return 1;
	size_t put = 0;
	uint64_t left = d->x.size - d->off;
	int r = conn_sendfile(d->top, d->x.fd, &d->off, left < SENDFILE_CHUNK ? (size_t)left : SENDFILE_CHUNK, &put);
	if (r)
		return r;
	if (put == 0) /* the file shrank under us: send what there was */
		return 1;
	d->bytes += put;
	datachan_touch(d);
	return 0;
}

static void pump_send(struct datachan *d)
{
	if (d->tstate != DC_OPEN) {
		send_done(d);
		return;
	}
	bool zero_copy = d->x.kind == XFER_SEND_FILE && !d->x.ascii && (conn_caps(d->top) & CONN_CAP_SENDFILE);
	uint64_t start = d->bytes;
	for (;;) {
		if (d->bytes - start >= SEND_BURST) {
			/* Fairness: the rest after the other sessions' events. */
			watch_conn(d);
			return;
		}
		int r = drain_out(d);
		if (r < 0) {
			lost(d, r);
			return;
		}
		if (r == 0) {
			watch_conn(d);
			return;
		}
		if (zero_copy) {
			r = send_zero_copy(d);
			if (r == -EAGAIN) {
				watch_conn(d);
				return;
			}
			/* EPIPE/ECONNRESET: the client went away */
			if (r < 0)
				datachan_finish(d, r == -EPIPE || r == -ECONNRESET ? XFER_CONN_LOST : XFER_LOCAL_ERROR,
						r);
			else if (r == 1)
				send_done(d);
			if (r)
				return;
			continue;
		}
		int fr = fill(d);
		if (fr == -EAGAIN) {
			/* Nothing to send until list_ready: no interest in
			 * writability meanwhile (it would only spin). */
			loop_watch_del(d->loop, &d->watch);
			return;
		}
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

/* n more bytes of the upload are in its file. One write-behind at a time:
 * while one runs, the next waits for the following bytes. */
static void received(struct datachan *d, size_t n)
{
	d->bytes += n;
	datachan_touch(d);
	if (!d->x.durable || !d->jobs)
		return;
	d->unflushed += n;
	if (d->unflushed < WRITE_BEHIND || d->wb)
		return;
	int fd = fcntl(d->x.fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return; /* best effort: the commit's fsync does it all */
	struct writebehind *w = util_xcalloc(1, sizeof(*w));
	*w = (struct writebehind){ .job = { .run = writebehind_run, .done = writebehind_done, .owner = d->loop },
				   .fd = fd,
				   .d = d };
	d->wb = w;
	d->unflushed = 0;
	jobs_submit(d->jobs, &w->job);
}

/* Stores received bytes in the file, CRLF → LF first under TYPE A. */
static int store(struct datachan *d, const char *p, size_t n)
{
	if (!d->x.ascii)
		return util_write_all(d->x.fd, p, n);
	char conv[ASCII_FROM_WIRE_MAX(CHUNK)];
	for (size_t off = 0; off < n; off += CHUNK) {
		size_t k = n - off < CHUNK ? n - off : CHUNK;
		k = ascii_from_wire(&d->rx, (struct slice){ p + off, k }, conv);
		int r = util_write_all(d->x.fd, conv, k);
		if (r)
			return r;
	}
	return 0;
}

/* The stream's end mark arrived (plain: FIN; TLS: close_notify; RFC 2228:
 * the empty block): the upload is whole. Its own end mark answers the
 * client's (TLS: so the client's unwrap completes, RFC 4217 §12.6; tiny,
 * one try is enough), and a CR held back by TYPE A was the file's last
 * byte. */
static void end_upload(struct datachan *d)
{
	conn_close_notify(d->top);
	char cr;
	size_t n = ascii_rx_end(&d->rx, &cr);
	int r = n ? util_write_all(d->x.fd, &cr, n) : 0;
	datachan_finish(d, r ? XFER_LOCAL_ERROR : XFER_OK, r);
}

#define SPLICE_MAX (1u << 20)

/* Binary STOR over a stream that can take it: socket → pipe → file
 * (splice(2)). Returns 1 when the transfer goes on by read/write, 0 when
 * it has done what it could (finished, waiting for input, or paused for
 * fairness: epoll reports the rest again). */
static int recv_zero_copy(struct datachan *d)
{
	for (int rounds = 0; rounds < 16; rounds++) {
		size_t got = 0;
		bool file_err = false;
		int r = conn_splice_in(d->top, d->x.fd, SPLICE_MAX, &got, &file_err);
		if (r == -EOPNOTSUPP)
			return 1;
		if (r == -EAGAIN) {
			watch_conn(d);
			return 0;
		}
		if (r) {
			datachan_finish(d, file_err ? XFER_LOCAL_ERROR : XFER_CONN_LOST, r);
			return 0;
		}
		if (got == 0) { /* FIN: the upload is whole */
			end_upload(d);
			return 0;
		}
		received(d, got);
	}
	return 0;
}

static void pump_recv(struct datachan *d)
{
	if (!d->x.ascii && (conn_caps(d->top) & CONN_CAP_SPLICE_IN) && recv_zero_copy(d) == 0)
		return;
	char in[CHUNK];
	/* Bounded for fairness, but bytes already inside the transport (TLS
	 * records decrypted, RFC 2228 blocks whole) must be taken now: epoll
	 * will not signal them again. */
	for (int rounds = 0; rounds < 16 || conn_pending(d->top); rounds++) {
		size_t n = 0;
		int r = conn_read(d->top, in, sizeof(in), &n);
		if (r == -EAGAIN) {
			watch_conn(d);
			return;
		}
		if (r) {
			/* -ECONNRESET: the stream closed without its end mark
			 * (TLS close_notify, RFC 2228's empty block), so the
			 * upload may be truncated: not committed. */
			lost(d, r);
			return;
		}
		if (n == 0) {
			end_upload(d);
			return;
		}
		received(d, n);
		r = store(d, in, n);
		if (r) {
			datachan_finish(d, XFER_LOCAL_ERROR, r);
			return;
		}
	}
	/* Fairness: let other sessions run; epoll reports the rest again. */
}

/* One pump for every transport: what differs (TLS, RFC 2228 blocks, the
 * zero-copy paths of plain TCP) is the conn's. */
static void pump(struct datachan *d)
{
	if (!d->running || d->conn.fd < 0 || d->connecting || d->tstate == DC_HANDSHAKE)
		return;
	if (d->x.kind == XFER_RECV_FILE)
		pump_recv(d);
	else
		pump_send(d);
}
