/* session_xfer: the session's data channel (made on first use), the
 * DATA_SETUP and XFER effects, and a transfer's end: the upload commit
 * guard (ctl_gone, commit_grace). */
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "datachan.h"
#include "log.h"
#include "proto.h"
#include "session_impl.h"
#include "util.h"

static void on_xfer_done(struct datachan *d, enum proto_xfer_status st, int err, uint64_t bytes);

/* The data channel, made on first use: most of an idle session's memory
 * would otherwise be a data channel it may never use. The control
 * connection's local address is read again from the socket; its peer is
 * the client's address (a PROXY header's behind a balancer). */
static struct datachan *data_chan(struct session *s)
{
	if (s->data)
		return s->data;
	struct datachan *d = util_xcalloc(1, sizeof(*d));
	datachan_init(d);
	socklen_t len = sizeof(d->ctl_local);
	if (getsockname(s->conn.fd, (struct sockaddr *)&d->ctl_local, &len) != 0)
		d->ctl_local.ss_family = AF_UNSPEC; /* PASV/PORT then fail cleanly */
	d->ctl_peer = session_peer_addr(s);
	d->proxy_mode = s->cfg->pasv_proxy_protocol;
	d->proxy_from = s->cfg->proxy_from;
	d->n_proxy_from = s->cfg->n_proxy_from;
	d->loop = s->host->loop;
	d->port_min = s->cfg->pasv_port_min;
	d->port_max = s->cfg->pasv_port_max;
	d->timeout_ms = s->cfg->data_timeout_ms;
	d->sid = s->id;
	d->metrics = s->host->metrics;
	d->jobs = s->host->jobs;
	d->own_down = s->rate ? &s->rate->down : NULL;
	d->own_up = s->rate ? &s->rate->up : NULL;
	d->srv_down = s->host->rate_down;
	d->srv_up = s->host->rate_up;
	d->done = on_xfer_done;
	d->owner = s;
	d->require_reuse = s->cfg->tls_data_reuse != 0;
	s->data = d;
	return d;
}

void session_set_rate(struct session *s, uint64_t down, uint64_t up)
{
	/* Unlimited (both 0) needs no buckets: datachan takes NULL as
	 * unlimited (rate.h). Once made they stay (the data channel points
	 * at them), set back to unlimited by a later login without a rate. */
	if (!s->rate && !down && !up)
		return;
	if (!s->rate) {
		s->rate = util_xcalloc(1, sizeof(*s->rate));
		if (s->data) {
			s->data->own_down = &s->rate->down;
			s->data->own_up = &s->rate->up;
		}
	}
	uint64_t now = util_now_us();
	rate_init(&s->rate->down, down, now);
	rate_init(&s->rate->up, up, now);
}

void session_start_data(struct session *s, const struct proto_effect *e)
{
	switch (e->kind) {
	case PROTO_EFFECT_DATA_SETUP:
		if (e->data.passive) {
			struct proto_result r = { 0 };
			r.err = datachan_passive(data_chan(s), &r.port);
			session_complete(s, &r);
		} else {
			datachan_active(data_chan(s), &e->data.target);
			session_complete(s, NULL);
		}
		break;
	case PROTO_EFFECT_XFER:
		/* A running transfer counts as activity: no idle timeout. */
		loop_timer_cancel(s->host->loop, &s->idle_timer);
		data_chan(s)->tls_ctx = s->tls_ctx;
		s->data->ctl_tls = s->conn.tls ? s->conn.tls : s->ctl_tls_old;
		s->data->gss = s->gss;
		datachan_start(s->data, &e->xfer);
		break;
	default:
		break;
	}
}

/* True when the client is gone: FIN or reset on the control connection
 * and no QUIT before it. In stream mode an upload ends with the data
 * connection's FIN, and a killed client's kernel sends that FIN too, so
 * the data EOF alone cannot tell a complete upload from a killed client.
 * A live client waits for the 226 before it closes the control connection
 * (or says QUIT first). The check sees only a FIN that has arrived: the
 * kernel closes a dying process's sockets one by one in no guaranteed
 * order (on loopback the data connection's FIN is often first), and across
 * a network nothing orders two TCP connections; on_xfer_done's grace
 * covers the gap (README: "What uploads guarantee"). */
static bool ctl_gone(struct session *s)
{
	if (!s->read_eof && !s->closed) {
		struct pollfd pfd = { .fd = s->conn.fd, .events = POLLIN | POLLRDHUP };
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			/* What the client sent before its FIN decides (a QUIT);
			 * a reset closes the session. */
			session_read_some(s);
			if (!s->closed && s->in.len) {
				size_t used = 0;
				if (proto_feed(s->proto, buf_data(&s->in), s->in.len, &used) == 0)
					buf_consume(&s->in, used);
			}
		}
	}
	return s->closed || (s->read_eof && s->in.len == 0 && !proto_quit_queued(s->proto));
}

/* Reports a transfer's end to proto (which commits or discards an upload). */
static void xfer_finish(struct session *s, bool upload, enum proto_xfer_status st, int err, uint64_t bytes)
{
	bool ctl_closed = upload && (st == XFER_OK || st == XFER_ABORTED) && ctl_gone(s);
	if (ctl_closed && st == XFER_OK) {
		log_info(s->id, "upload ended by the data connection's EOF with the control connection closed: "
				"not committed");
		st = XFER_ABORTED;
	}
	struct proto_result r = { .xfer_status = st, .err = err, .bytes = bytes, .ctl_closed = ctl_closed };
	session_complete(s, &r); /* the transfer's event: logs, metrics, hooks (files_event) */
	if (s->closed)
		return; /* ctl_gone() met a reset, or session_close_now() ended a grace */
	loop_timer_arm(s->host->loop, &s->idle_timer, s->cfg->idle_timeout_ms, session_on_idle);
	sessions_touch(&s->reg);
	if (!s->pumping)
		session_pump(s);
}

/* The end of an upload's grace (see on_xfer_done): commit unless the
 * control connection went meanwhile. */
void session_grace_end(struct session *s)
{
	s->grace_pending = false;
	loop_timer_cancel(s->host->loop, &s->effect_timer);
	xfer_finish(s, true, XFER_OK, 0, s->data ? datachan_bytes(s->data) : 0);
}

static void on_grace_timer(struct loop_timer *t)
{
	session_grace_end(container_of(t, struct session, effect_timer));
}

static void on_xfer_done(struct datachan *d, enum proto_xfer_status st, int err, uint64_t bytes)
{
	struct session *s = d->owner;
	bool upload = d->x.kind == XFER_RECV_FILE;
	/* A plain stream upload ends with a bare FIN, which a killed client's
	 * kernel sends as well, and the kernel does not order its closes of
	 * the client's sockets (the data connection's FIN often comes first,
	 * microseconds ahead). So the commit waits [transfer] commit_grace for
	 * the control connection's FIN; a live client is waiting for the 226
	 * and sends nothing. TLS (close_notify) and RFC 2228 (the empty
	 * block) uploads end with an explicit marker a killed client never
	 * sends, and need no grace. effect_timer is free during a transfer. */
	if (upload && st == XFER_OK && !d->x.protect && !d->x.gss_prot && s->cfg->commit_grace_us && !s->closed &&
	    !ctl_gone(s)) {
		s->grace_pending = true;
		uint32_t us = s->cfg->commit_grace_us;
		bool whole_ms = us % 1000u == 0; /* written as configured: "5ms", "250us" */
		log_debug(s->id, "upload EOF: waiting up to %u%s for the control connection before the commit",
			  (unsigned)(whole_ms ? us / 1000u : us), whole_ms ? "ms" : "us");
		loop_timer_arm_us(s->host->loop, &s->effect_timer, s->cfg->commit_grace_us, on_grace_timer);
		return;
	}
	xfer_finish(s, upload, st, err, bytes);
}
