/* session_proxy: a control connection behind a TCP balancer ([server]
 * proxy_protocol): before anything else, the connection must come from
 * [server] proxy_from and send a complete PROXY protocol header within
 * proxy_timeout. Its address then becomes the client's for the whole
 * session (session_begin); until then the client has no address, so
 * nothing of [limits] applies, no greeting is sent and nothing is logged
 * as a connection of its. Anything else closes the connection, logged as
 * "refused: ip=BALANCER reason=proxy-...". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "net.h"
#include "session_impl.h"
#include "str.h"
#include "util.h"

struct session_proxy {
	struct net_proxy_reader rd;
	bool room_needed; /* the worker's: the server was full at accept */
	bool implicit;	  /* implicit FTPS: the TLS handshake follows the header */
	char refuse[200]; /* the worker's refusal, passed on once the header is read; "" = none */
};

void session_proxy_free(struct session_proxy *pp)
{
	if (!pp)
		return;
	net_proxy_reader_free(&pp->rd);
	free(pp);
}

static void refuse_now(struct session *s, const char *reason, const char *detail)
{
	log_warn(s->id, "refused: ip=%s reason=%s (%s)", s->peer, reason, detail);
	LOG_JSON(s->id, "refused", LOG_FS("ip", s->peer), LOG_FS("reason", reason), LOG_FS("detail", detail));
	session_close_now(s);
}

static void on_proxy_timeout(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, login_timer);
	char detail[96];
	(void)snprintf(detail, sizeof(detail), "no complete PROXY header within [server] proxy_timeout = %ums",
		       (unsigned)s->cfg->proxy_timeout_ms);
	refuse_now(s, "proxy-header-timeout", detail);
}

void session_proxy_start(struct session *s, const char *refuse, bool room_needed, bool implicit)
{
	/* SECURITY: only a balancer may say who the client is; anybody else
	 * could claim any address (the spec's "never guess" rule: a listener
	 * with the PROXY protocol on takes no connection without it). */
	if (!proxy_from_allows(&s->peer_addr, s->cfg->proxy_from, s->cfg->n_proxy_from)) {
		refuse_now(s, "proxy-not-allowed", "not in [server] proxy_from");
		return;
	}
	struct session_proxy *pp = util_xcalloc(1, sizeof(*pp));
	net_proxy_reader_init(&pp->rd, (enum proxy_mode)s->cfg->proxy_protocol);
	pp->room_needed = room_needed;
	pp->implicit = implicit;
	if (refuse)
		(void)str_copy(pp->refuse, sizeof(pp->refuse), refuse);
	s->pp = pp;
	loop_timer_arm(s->host->loop, &s->login_timer, s->cfg->proxy_timeout_ms, on_proxy_timeout);
	session_proxy_io(s); /* a balancer sends it with the connection: often here already */
}

void session_proxy_io(struct session *s)
{
	struct proxy_hdr hdr;
	const char *why = "";
	int r = net_proxy_read(s->conn.fd, &s->pp->rd, &hdr, &why);
	if (r == -EAGAIN)
		return;
	if (r == -EPROTO || r == -ECONNRESET) {
		/* why is empty for a reset (an error, not an end of stream) */
		refuse_now(s, r == -EPROTO ? "proxy-header-malformed" : "proxy-header-missing",
			   why[0] ? why : strerror(-r));
		return;
	}
	if (r) {
		refuse_now(s, "proxy-header-unreadable", strerror(-r));
		return;
	}
	loop_timer_cancel(s->host->loop, &s->login_timer);
	if (hdr.has_addr) {
		char client[64];
		net_addr_str(&hdr.src, client, sizeof(client));
		log_info(s->id, "proxy: v%d %s header from %s: client ip=%s", hdr.version, hdr.kind, s->peer, client);
	} else {
		/* The spec's rule for LOCAL (a health check), UNKNOWN, UNSPEC:
		 * the connection's own endpoints, the balancer's address. */
		log_info(s->id, "proxy: v%d %s header from %s: no client address, the balancer's is used", hdr.version,
			 hdr.kind, s->peer);
	}
	struct session_proxy *pp = s->pp;
	s->pp = NULL;
	struct sockaddr_storage client = hdr.has_addr ? hdr.src : s->peer_addr;
	session_begin(s, &client, pp->refuse[0] ? pp->refuse : NULL, pp->room_needed, pp->implicit);
	session_proxy_free(pp);
}
