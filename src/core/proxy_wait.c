#include "proxy_wait.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "proxyproto.h"

void proxy_wait_refused(const struct proxy_wait_who *w, const char *reason, const char *detail)
{
	log_warn(w->id, "refused: ip=%s reason=%s (%s)%s%s", w->ip, reason, detail, w->protocol ? " protocol=" : "",
		 w->protocol ? w->protocol : "");
	if (w->protocol)
		LOG_JSON(w->id, "refused", LOG_FS("ip", w->ip), LOG_FS("reason", reason), LOG_FS("detail", detail),
			 LOG_FS("protocol", w->protocol));
	else
		LOG_JSON(w->id, "refused", LOG_FS("ip", w->ip), LOG_FS("reason", reason), LOG_FS("detail", detail));
}

const char *proxy_wait_check(const struct proxy_wait_who *w, const struct sockaddr_storage *peer,
			     const struct config *cfg)
{
	/* Anybody else could claim any address (the spec's "never guess"
	 * rule: a listener with the PROXY protocol on takes no connection
	 * without it). */
	if (proxy_from_allows(peer, cfg->proxy_from, cfg->n_proxy_from))
		return NULL;
	proxy_wait_refused(w, "proxy-not-allowed", "not in [server] proxy_from");
	return "proxy-not-allowed";
}

const char *proxy_wait_timeout(const struct proxy_wait_who *w, const struct config *cfg)
{
	char detail[96];
	(void)snprintf(detail, sizeof(detail), "no complete PROXY header within [server] proxy_timeout = %ums",
		       (unsigned)cfg->proxy_timeout_ms);
	proxy_wait_refused(w, "proxy-header-timeout", detail);
	return "proxy-header-timeout";
}

int proxy_wait_read(const struct proxy_wait_who *w, int fd, struct net_proxy_reader *rd,
		    const struct sockaddr_storage *peer, struct sockaddr_storage *client, const char **reason)
{
	struct proxy_hdr hdr;
	const char *why = "";
	int r = net_proxy_read(fd, rd, &hdr, &why);
	if (r == -EAGAIN)
		return r;
	if (r == -EPROTO || r == -ECONNRESET) {
		/* why is empty for a reset (an error, not an end of stream) */
		*reason = r == -EPROTO ? "proxy-header-malformed" : "proxy-header-missing";
		proxy_wait_refused(w, *reason, why[0] ? why : strerror(-r));
		return r;
	}
	if (r) {
		*reason = "proxy-header-unreadable";
		proxy_wait_refused(w, *reason, strerror(-r));
		return r;
	}
	const char *pre = w->protocol ? " protocol=" : "", *proto = w->protocol ? w->protocol : "";
	if (hdr.has_addr) {
		char ip[64];
		net_addr_str(&hdr.src, ip, sizeof(ip));
		log_info(w->id, "proxy: v%d %s header from %s: client ip=%s%s%s", hdr.version, hdr.kind, w->ip, ip, pre,
			 proto);
	} else {
		/* The spec's rule for LOCAL (a health check), UNKNOWN, UNSPEC:
		 * the connection's own endpoints, the balancer's address. */
		log_info(w->id, "proxy: v%d %s header from %s: no client address, the balancer's is used%s%s",
			 hdr.version, hdr.kind, w->ip, pre, proto);
	}
	*client = hdr.has_addr ? hdr.src : *peer;
	return 0;
}
