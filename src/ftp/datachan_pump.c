/* datachan_pump: the byte pumps of a transfer (send: file, listing or
 * TYPE A conversion to the connection; receive: the connection to the
 * file), one for every transport, and a durable upload's write-behind.
 * datachan.c sets the connection up and ends the transfer. */
#include "datachan.h"
#include "datachan_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ascii.h"
#include "conn.h"
#include "jobs.h"
#include "list_feed.h"
#include "listing.h"
#include "log.h"
#include "loop.h"
#include "util.h"
#include "vfs.h"
#include "writebehind.h"

/* Bandwidth. The buckets are empty: the transfer stops watching its
 * socket (a level-triggered watch would only spin) and resumes when they
 * hold enough to be worth a wake-up (rate_resume). Waiting for our own
 * limit is not the client's idleness: the data timeout is off meanwhile
 * and starts afresh on resume. */
static void resume(struct datachan *d)
{
	if (!d->running || d->conn.fd < 0)
		return;
	datachan_touch(d);
	datachan_watch_conn(d);
	if (d->running)
		datachan_pump(d);
}

static void on_rate(struct loop_timer *t)
{
	resume(container_of(t, struct datachan, rate_timer));
}

/* Quotas. The node's grant is short and a take runs on the job pool
 * (core/quota.h GRANTS): the upload stops reading its socket, so TCP
 * holds the client back, and goes on when the answer comes; a refusal
 * is then the quota error. As with the rate, the data timeout is off
 * meanwhile. */
static void quota_pause(struct datachan *d)
{
	loop_watch_del(d->loop, &d->watch);
	loop_timer_cancel(d->loop, &d->timer);
}

void datachan_quota_resume(void *arg)
{
	resume(arg); /* as after a rate wait */
}

/* What of g the quota lets the upload write now: 0 and *ok, or
 * -EINPROGRESS (paused, the rate's tokens given back). */
static int quota_ask(struct datachan *d, uint64_t g, uint64_t *ok)
{
	*ok = g;
	if (!d->x.upload)
		return 0;
	int r = files_upload_ask(d->x.upload, g, ok);
	if (r == -EINPROGRESS) {
		datachan_rate_give_back(d, g);
		quota_pause(d);
	}
	return r;
}

static struct rate_bucket *own_bucket(const struct datachan *d)
{
	return d->x.kind == XFER_RECV_FILE ? d->own_up : d->own_down;
}

static struct rate_bucket *srv_bucket(const struct datachan *d)
{
	return d->x.kind == XFER_RECV_FILE ? d->srv_up : d->srv_down;
}

uint64_t datachan_rate_take(struct datachan *d, uint64_t want)
{
	struct rate_bucket *own = own_bucket(d), *srv = srv_bucket(d);
	if (!rate_limited(own) && !rate_limited(srv))
		return want; /* the fast path: two loads */
	uint64_t wait_us = 0;
	uint64_t g = rate_take2(own, srv, want, util_now_us(), &wait_us);
	if (g == 0) {
		loop_watch_del(d->loop, &d->watch);
		loop_timer_cancel(d->loop, &d->timer);
		loop_timer_arm_us(d->loop, &d->rate_timer, wait_us, on_rate);
	}
	return g;
}

void datachan_rate_give_back(struct datachan *d, uint64_t n)
{
	rate_give_back2(own_bucket(d), srv_bucket(d), n);
}

/* Bytes made ready to send beyond what was granted (a listing's chunk,
 * TYPE A's added CRs) are owed: the next grants wait for them. */
static void rate_settle(struct datachan *d, uint64_t granted, uint64_t used)
{
	rate_settle2(own_bucket(d), srv_bucket(d), granted, used, util_now_us());
}

/* A stream that failed: a stacked transport's refusal of the client's
 * blocks (RFC 2228 §6: over PBSZ, a bad token, the wrong level) is a
 * protection failure (535), anything else a datachan_lost connection. */
void datachan_lost(struct datachan *d, int r)
{
	bool refused = d->top != &d->conn && (r == -EBADMSG || r == -EMSGSIZE);
	datachan_finish(d, refused ? XFER_PROT_FAILED : XFER_CONN_LOST, r);
}

/* Writes d->out to the stream; 1 when it is empty, 0 when blocked, <0 datachan_lost. */
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
static int fill_file(struct datachan *d, size_t max)
{
	int err = 0;
	if (!d->x.ascii) {
		/* Binary: read straight into the output buffer, a few full
		 * 16 KiB TLS records at a time. */
		char *o = buf_reserve(&d->out, CHUNK, &err);
		if (!o)
			return err;
		ssize_t n = pread(d->x.fd, o, max < CHUNK ? max : CHUNK, (off_t)d->off);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		d->off += (uint64_t)n;
		buf_commit(&d->out, (size_t)n);
		return 0;
	}
	char in[CHUNK / 2];
	ssize_t n = pread(d->x.fd, in, max < sizeof(in) ? max : sizeof(in), (off_t)d->off);
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
			datachan_watch_conn(d);
			return;
		}
		if (r < 0) {
			datachan_lost(d, r);
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
			datachan_watch_conn(d);
			return;
		}
		if (r || got == 0) {
			datachan_finish(d, XFER_OK, 0);
			return;
		}
	}
}

/* The next bytes to send (file, listing, prepared line) into d->out, a
 * file's at most max; 1 when there are no more. */
static int fill(struct datachan *d, size_t max)
{
	int fr;
	if (d->x.kind == XFER_SEND_FILE) {
		fr = fill_file(d, max);
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
	uint64_t g = datachan_rate_take(d, left < SENDFILE_CHUNK ? left : SENDFILE_CHUNK);
	if (g == 0)
		return 2; /* paused (rate_timer) */
	int r = conn_sendfile(d->top, d->x.fd, &d->off, (size_t)g, &put);
	datachan_rate_give_back(d, g - put);
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
			datachan_watch_conn(d);
			return;
		}
		int r = drain_out(d);
		if (r < 0) {
			datachan_lost(d, r);
			return;
		}
		if (r == 0) {
			datachan_watch_conn(d);
			return;
		}
		if (zero_copy) {
			r = send_zero_copy(d);
			if (r == -EAGAIN) {
				datachan_watch_conn(d);
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
		uint64_t g = datachan_rate_take(d, CHUNK);
		if (g == 0)
			return; /* paused (rate_timer) */
		size_t before = d->out.len;
		int fr = fill(d, (size_t)g);
		rate_settle(d, g, d->out.len > before ? d->out.len - before : 0);
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

/* n more bytes of the upload are in its file; a durable upload's
 * write-behind (core/writebehind.h) follows them. */
static void received(struct datachan *d, size_t n)
{
	d->bytes += n;
	datachan_touch(d);
	if (d->x.durable)
		writebehind_add(&d->wb, d->jobs, d->loop, d->x.fd, n);
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
		uint64_t g = datachan_rate_take(d, SPLICE_MAX);
		if (g == 0)
			return 0; /* paused (rate_timer) */
		uint64_t ok;
		if (quota_ask(d, g, &ok) != 0)
			return 0; /* paused for the quota's grant */
		if (ok < g) {
			datachan_rate_give_back(d, g - ok);
			g = ok;
		}
		if (g == 0)
			return 1; /* at the quota: read tells the end from one byte too many */
		int r = conn_splice_in(d->top, d->x.fd, (size_t)g, &got, &file_err);
		datachan_rate_give_back(d, g - got);
		if (d->x.upload)
			files_upload_wrote(d->x.upload, got);
		if (r == -EOPNOTSUPP)
			return 1;
		if (r == -EAGAIN) {
			datachan_watch_conn(d);
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
		uint64_t g = datachan_rate_take(d, sizeof(in));
		if (g == 0)
			return; /* paused (rate_timer) */
		/* The quota's check of each chunk (core/files.h), before
		 * reading it: at the quota, one byte tells the end of the
		 * upload from one too many, which stops it unwritten (552). */
		uint64_t ok;
		if (quota_ask(d, g, &ok) != 0)
			return; /* paused for the quota's grant */
		if (ok < g) {
			datachan_rate_give_back(d, g - (ok ? ok : 1));
			g = ok ? ok : 1;
		}
		int r = conn_read(d->top, in, (size_t)g, &n);
		datachan_rate_give_back(d, g - n);
		if (r == -EAGAIN) {
			datachan_watch_conn(d);
			return;
		}
		if (r) {
			/* -ECONNRESET: the stream closed without its end mark
			 * (TLS close_notify, RFC 2228's empty block), so the
			 * upload may be truncated: not committed. */
			datachan_lost(d, r);
			return;
		}
		if (n == 0) {
			end_upload(d);
			return;
		}
		if (n > ok) {
			datachan_finish(d, XFER_LOCAL_ERROR, -EDQUOT);
			return;
		}
		received(d, n);
		r = store(d, in, n);
		if (d->x.upload)
			files_upload_wrote(d->x.upload, n);
		if (r) {
			datachan_finish(d, XFER_LOCAL_ERROR, r);
			return;
		}
	}
	/* Fairness: let other sessions run; epoll reports the rest again. */
}

/* One datachan_pump for every transport: what differs (TLS, RFC 2228 blocks, the
 * zero-copy paths of plain TCP) is the conn's. */
void datachan_pump(struct datachan *d)
{
	if (!d->running || d->conn.fd < 0 || d->connecting || d->tstate == DC_HANDSHAKE)
		return;
	if (d->x.kind == XFER_RECV_FILE)
		pump_recv(d);
	else
		pump_send(d);
}
