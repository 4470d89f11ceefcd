#include "datachan.h"
#include "datachan_impl.h"

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

/* A listing's next chunk is ready (list_feed.h): send it. */
static void list_ready(void *arg)
{
	datachan_pump(arg);
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
	loop_timer_cancel(d->loop, &d->rate_timer);
	quota_wait_cancel(&d->qwait);
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
void datachan_finish(struct datachan *d, enum proto_xfer_status st, int err)
{
	if (!d->running)
		return;
	d->running = false;
	list_feed_cancel(d->feed); /* a chunk still being made is dropped by its job */
	d->feed = NULL;
	loop_timer_cancel(d->loop, &d->timer);
	loop_timer_cancel(d->loop, &d->rate_timer);
	quota_wait_cancel(&d->qwait);
	writebehind_forget(&d->wb);
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
void datachan_touch(struct datachan *d)
{
	loop_timer_arm(d->loop, &d->timer, d->timeout_ms, on_timeout);
}

/* Compared as bytes: formatting both addresses cost more than the rest
 * of taking a small file's connection (bench/: 4 KiB files/s). */
static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	return net_addr_same(a, b);
}

/* RFC 4217 §7: the server is the TLS server on data connections too. */
static void handshake(struct datachan *d)
{
	int r = conn_handshake(&d->conn);
	if (r == -EAGAIN) {
		datachan_watch_conn(d);
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
	datachan_watch_conn(d);
	datachan_pump(d);
}

/* A data connection is up: TLS first if PROT P, else start moving bytes. */
static void begin_conn(struct datachan *d)
{
	if (d->x.protect) {
		/* A passive connection comes corked (datachan_passive): the
		 * handshake's flights must not wait for a full segment. */
		if (d->lfd >= 0)
			(void)net_cork(d->conn.fd, false);
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
	datachan_pump(d);
	if (d->running && d->conn.fd >= 0 && d->watch.fd < 0)
		datachan_watch_conn(d);
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
	datachan_pump(d);
}

/* The interest follows what the transport's last -EAGAIN waits for (a
 * TLS read can need the socket writable), else the transfer's direction;
 * the handshake and the end of a stream wait for the peer. */
void datachan_watch_conn(struct datachan *d)
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
	/* The connections it accepts inherit TCP_CORK (no system call each):
	 * what a transfer sends leaves in full segments, and its tail with
	 * the FIN that the close sends, so a small file or listing is one
	 * segment and one wake-up of the client instead of two (bench/: 4 KiB
	 * files/s). Nothing of a plain transfer waits for the peer while
	 * bytes are held back; TLS uncorks first (begin_conn). */
	(void)net_cork(d->lfd, true);
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
	writebehind_forget(&d->wb);
	d->running = true;
	d->list_done = false;
	d->rx = (struct ascii_rx){ 0 };
	buf_reset(&d->out);
	if (x->upload) {
		d->qwait = (struct quota_wait){ .loop = d->loop, .fn = datachan_quota_resume, .arg = d };
		files_upload_set_wait(x->upload, &d->qwait);
	}
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
		datachan_watch_conn(d);
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
