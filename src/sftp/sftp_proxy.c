/* sftp_proxy: an SSH connection behind a TCP balancer ([server]
 * proxy_protocol applies to the SFTP listeners as to FTP's): before SSH
 * starts, the connection must come from [server] proxy_from and send a
 * complete PROXY protocol header within proxy_timeout, read with
 * net_proxy_read (never a byte of SSH). Its address then becomes the
 * client's for the whole session (limits, bans, logs, status). Until then
 * nothing is logged as a connection of its; anything else closes it,
 * logged as "refused: ip=BALANCER reason=proxy-... protocol=sftp", as
 * ftp/session_proxy.c does for FTP. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "net.h"
#include "sftp_impl.h"
#include "str.h"
#include "util.h"

struct sftp_proxy {
	struct net_proxy_reader rd;
	bool room_needed; /* the worker's: the server was full at accept */
	char refuse[96];  /* the worker's refusal, passed on once the header is read; "" = none */
};

void sftp_proxy_free(struct sftp_proxy *pp)
{
	if (!pp)
		return;
	net_proxy_reader_free(&pp->rd);
	free(pp);
}

static void refuse_now(struct sftp_session *s, const char *reason, const char *detail)
{
	log_warn(s->id, "refused: ip=%s reason=%s (%s) protocol=sftp", s->peer, reason, detail);
	LOG_JSON(s->id, "refused", LOG_FS("ip", s->peer), LOG_FS("reason", reason), LOG_FS("detail", detail),
		 LOG_FS("protocol", "sftp"));
	s->ops->close(s, reason);
}

static void on_proxy_timeout(struct loop_timer *t)
{
	struct sftp_session *s = container_of(t, struct sftp_session, login_timer);
	char detail[96];
	(void)snprintf(detail, sizeof(detail), "no complete PROXY header within [server] proxy_timeout = %ums",
		       (unsigned)s->cfg->proxy_timeout_ms);
	refuse_now(s, "proxy-header-timeout", detail);
}

void sftp_proxy_start(struct sftp_session *s, const char *refuse, bool room_needed)
{
	/* SECURITY: only a balancer may say who the client is; a listener
	 * with the PROXY protocol on takes no connection without it. */
	if (!proxy_from_allows(&s->peer_addr, s->cfg->proxy_from, s->cfg->n_proxy_from)) {
		refuse_now(s, "proxy-not-allowed", "not in [server] proxy_from");
		return;
	}
	struct sftp_proxy *pp = util_xcalloc(1, sizeof(*pp));
	net_proxy_reader_init(&pp->rd, (enum proxy_mode)s->cfg->proxy_protocol);
	pp->room_needed = room_needed;
	if (refuse)
		(void)str_copy(pp->refuse, sizeof(pp->refuse), refuse);
	s->pp = pp;
	loop_timer_arm(s->host->loop, &s->login_timer, s->cfg->proxy_timeout_ms, on_proxy_timeout);
	sftp_proxy_io(s); /* a balancer sends it with the connection: often here already */
}

void sftp_proxy_io(struct sftp_session *s)
{
	struct proxy_hdr hdr;
	const char *why = "";
	int r = net_proxy_read(s->watch.fd, &s->pp->rd, &hdr, &why);
	if (r == -EAGAIN)
		return;
	if (r == -EPROTO || r == -ECONNRESET) {
		refuse_now(s, r == -EPROTO ? "proxy-header-malformed" : "proxy-header-missing",
			   why[0] ? why : strerror(-r));
		return;
	}
	if (r) {
		refuse_now(s, "proxy-header-unreadable", strerror(-r));
		return;
	}
	loop_timer_cancel(s->host->loop, &s->login_timer);
	char client[64];
	if (hdr.has_addr) {
		net_addr_str(&hdr.src, client, sizeof(client));
		log_info(s->id, "proxy: v%d %s header from %s: client ip=%s protocol=sftp", hdr.version, hdr.kind,
			 s->peer, client);
	} else {
		/* LOCAL (a health check), UNKNOWN, UNSPEC: the balancer's address. */
		log_info(s->id, "proxy: v%d %s header from %s: no client address, the balancer's is used protocol=sftp",
			 hdr.version, hdr.kind, s->peer);
	}
	struct sftp_proxy *pp = s->pp;
	s->pp = NULL;
	struct sockaddr_storage from = hdr.has_addr ? hdr.src : s->peer_addr;
	s->ops->begin(s, &from, pp->refuse[0] ? pp->refuse : NULL, pp->room_needed);
	sftp_proxy_free(pp);
}
