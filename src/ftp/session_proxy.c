/* session_proxy: a control connection behind a TCP balancer ([server]
 * proxy_protocol): before anything else, the connection must come from
 * [server] proxy_from and send a complete PROXY protocol header within
 * proxy_timeout. Its address then becomes the client's for the whole
 * session (session_begin); until then the client has no address, so
 * nothing of [limits] applies, no greeting is sent and nothing is logged
 * as a connection of its. Anything else closes the connection, logged as
 * "refused: ip=BALANCER reason=proxy-...". The check, the read and the
 * log lines are core/proxy_wait.c's, shared with sftp/sftp_proxy.c. */
#include <errno.h>
#include <stdlib.h>

#include "loop.h"
#include "net.h"
#include "proxy_wait.h"
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

static struct proxy_wait_who who(const struct session *s)
{
	return (struct proxy_wait_who){ .id = s->id, .ip = s->peer, .protocol = NULL };
}

static void on_proxy_timeout(struct loop_timer *t)
{
	struct session *s = container_of(t, struct session, login_timer);
	struct proxy_wait_who w = who(s);
	(void)proxy_wait_timeout(&w, s->cfg);
	session_close_now(s);
}

void session_proxy_start(struct session *s, const char *refuse, bool room_needed, bool implicit)
{
	/* SECURITY: only a balancer may say who the client is. */
	struct proxy_wait_who w = who(s);
	struct sockaddr_storage peer = session_peer_addr(s);
	if (proxy_wait_check(&w, &peer, s->cfg)) {
		session_close_now(s);
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
	struct sockaddr_storage client, peer = session_peer_addr(s);
	const char *reason = NULL;
	struct proxy_wait_who w = who(s);
	int r = proxy_wait_read(&w, s->conn.fd, &s->pp->rd, &peer, &client, &reason);
	if (r == -EAGAIN)
		return;
	if (r) {
		session_close_now(s);
		return;
	}
	loop_timer_cancel(s->host->loop, &s->login_timer);
	struct session_proxy *pp = s->pp;
	s->pp = NULL;
	session_begin(s, &client, pp->refuse[0] ? pp->refuse : NULL, pp->room_needed, pp->implicit);
	session_proxy_free(pp);
}
