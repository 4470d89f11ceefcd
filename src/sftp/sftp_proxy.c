/* sftp_proxy: an SSH connection behind a TCP balancer ([server]
 * proxy_protocol applies to the SFTP listeners as to FTP's): before SSH
 * starts, the connection must come from [server] proxy_from and send a
 * complete PROXY protocol header within proxy_timeout, read with
 * net_proxy_read (never a byte of SSH). Its address then becomes the
 * client's for the whole session (limits, bans, logs, status). Until then
 * nothing is logged as a connection of its; anything else closes it,
 * logged as "refused: ip=BALANCER reason=proxy-... protocol=sftp", as
 * ftp/session_proxy.c does for FTP (the check, the read and the log lines
 * are core/proxy_wait.c's, shared by both). */
#include <errno.h>
#include <stdlib.h>

#include "net.h"
#include "proxy_wait.h"
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

static struct proxy_wait_who who(const struct sftp_session *s)
{
	return (struct proxy_wait_who){ .id = s->id, .ip = s->peer, .protocol = "sftp" };
}

static void on_proxy_timeout(struct loop_timer *t)
{
	struct sftp_session *s = container_of(t, struct sftp_session, login_timer);
	struct proxy_wait_who w = who(s);
	s->ops->close(s, proxy_wait_timeout(&w, s->cfg));
}

void sftp_proxy_start(struct sftp_session *s, const char *refuse, bool room_needed)
{
	/* SECURITY: only a balancer may say who the client is; a listener
	 * with the PROXY protocol on takes no connection without it. */
	struct proxy_wait_who w = who(s);
	const char *reason = proxy_wait_check(&w, &s->peer_addr, s->cfg);
	if (reason) {
		s->ops->close(s, reason);
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
	struct sockaddr_storage from;
	const char *reason = NULL;
	struct proxy_wait_who w = who(s);
	int r = proxy_wait_read(&w, s->watch.fd, &s->pp->rd, &s->peer_addr, &from, &reason);
	if (r == -EAGAIN)
		return;
	if (r) {
		s->ops->close(s, reason);
		return;
	}
	loop_timer_cancel(s->host->loop, &s->login_timer);
	struct sftp_proxy *pp = s->pp;
	s->pp = NULL;
	s->ops->begin(s, &from, pp->refuse[0] ? pp->refuse : NULL, pp->room_needed);
	sftp_proxy_free(pp);
}
