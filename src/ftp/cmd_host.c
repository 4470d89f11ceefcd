/* HOST (RFC 7151): selects a virtual host ([host NAME]) before USER. 220
 * with the host's banner; 501 for a name that is not one (a port included);
 * 504 for a name no [host] section has, or one other than the TLS server
 * name (SNI) the client already gave; 503 once USER was sent or a user is
 * logged in (REIN ends that, and forgets the host). An IP literal, or any
 * name on a server without [host] sections, selects the default host. */
#include <arpa/inet.h>
#include <string.h>

#include "cmd.h"
#include "proto_impl.h"
#include "reply.h"

/* 1: an IPv4 address or a bracketed IPv6 one; 0: a name; -1: neither. */
static int host_literal(struct slice a, char *name, size_t namesz)
{
	unsigned char addr[16];
	if (a.n >= namesz)
		return -1;
	if (a.n >= 2 && a.p[0] == '[' && a.p[a.n - 1] == ']') {
		memcpy(name, a.p + 1, a.n - 2);
		name[a.n - 2] = '\0';
		return inet_pton(AF_INET6, name, addr) == 1 ? 1 : -1;
	}
	memcpy(name, a.p, a.n);
	name[a.n] = '\0';
	if (inet_pton(AF_INET, name, addr) == 1)
		return 1;
	return config_vhost_name_valid(name) ? 0 : -1;
}

void cmd_host(struct proto *p, struct slice arg)
{
	char name[CONFIG_VHOST_NAME_MAX + 3], shown[80];
	if (p->login != LOGIN_NONE) {
		proto_reply(p, 503, "HOST must come before USER (after a login, send REIN first).");
		return;
	}
	int lit = host_literal(arg, name, sizeof(name));
	if (lit < 0) {
		proto_reply(p, 501, "HOST takes a host name or address, without a port.");
		return;
	}
	const struct config_vhost *h = lit ? NULL : config_vhost_find(p->cfg, name);
	(void)reply_sanitize(arg, shown, sizeof(shown));
	if (!lit && !h && p->cfg->n_vhosts) {
		proto_reply(p, 504, "Unknown host %s.", shown);
		return;
	}
	/* RFC 7151 §3.3: with TLS, the HOST must name the host of the SNI. */
	if (p->tls && p->sni_given && h != p->sni_vhost) {
		proto_reply(p, 504, "Host %s is not the TLS server name this connection gave.", shown);
		return;
	}
	p->vhost = h;
	proto_reply(p, 220, "%s", h && h->banner[0] ? h->banner : p->cfg->banner);
}
