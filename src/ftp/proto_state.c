/* proto_state: what the FTP session sets on proto (the TLS server name and
 * the virtual host it picks, TLS and GSSAPI, addresses, the clock, the
 * sinks, the quota) and reads back from it (the output, the effect to run,
 * the login, the running transfer, held commands). Plain accessors over
 * struct proto (proto_impl.h); the protocol itself is in proto.c. */
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "proto_impl.h"
#include "userstore.h"

void proto_set_sni(struct proto *p, const char *sni)
{
	p->sni_given = sni && sni[0];
	p->sni_vhost = p->sni_given ? config_vhost_find(p->cfg, sni) : NULL;
	if (!p->vhost)
		p->vhost = p->sni_vhost;
}

const char *proto_vhost_name(const struct proto *p)
{
	return p->vhost ? p->vhost->name : NULL;
}

void proto_refuse(struct proto *p, const char *text)
{
	proto_close_with(p, text);
}

void proto_set_tls(struct proto *p, bool available, bool implicit)
{
	p->tls_available = available;
	p->tls = implicit;
}

void proto_set_gss(struct proto *p, const struct proto_gss_ops *ops, void *ctx)
{
	p->gss_ops = ops;
	p->gss_ctx = ctx;
}

void proto_xfer_progress(struct proto *p, uint64_t bytes)
{
	p->xfer_bytes = bytes;
}

void proto_set_addrs(struct proto *p, const struct sockaddr_storage *local, const struct sockaddr_storage *peer)
{
	net_addr_pack(&p->local_addr, local);
	net_addr_pack(&p->peer_addr, peer);
}

struct buf *proto_output(struct proto *p)
{
	return &p->out;
}

bool proto_has_held(const struct proto *p)
{
	return p->held.len != 0;
}

bool proto_logged_in(const struct proto *p)
{
	return p->login == LOGIN_DONE;
}

bool proto_login_holds_slot(const struct proto *p)
{
	return p->login == LOGIN_DONE || p->login == LOGIN_ACCT;
}

bool proto_quit_queued(const struct proto *p)
{
	struct slice rest = buf_slice(&p->held), rec, verb, arg;
	while (rest.n && slice_split(rest, '\n', &rec, &rest)) {
		if (rec.n < 1 || (rec.p[0] != 'L' && rec.p[0] != 'S' && rec.p[0] != 'P'))
			continue;
		(void)slice_split((struct slice){ rec.p + 1, rec.n - 1 }, ' ', &verb, &arg);
		if (slice_eq_ci(verb, "QUIT"))
			return true;
	}
	return false;
}

const char *proto_user(const struct proto *p)
{
	return p->user;
}

bool proto_challenge_lock(const struct proto *p, const char **user, uint64_t *lock)
{
	if (!p->lock || !p->lock_user)
		return false;
	*user = p->lock_user;
	*lock = p->lock;
	return true;
}

const struct proto_effect *proto_effect(const struct proto *p)
{
	return proto_effect_kind(p) == PROTO_EFFECT_NONE ? NULL : p->effect;
}

void proto_set_now(struct proto *p, uint64_t now_ms, int64_t wall_s)
{
	p->now_ms = now_ms;
	p->wall_s = wall_s;
}

void proto_set_files_sink(struct proto *p, struct files_sink sink)
{
	p->files_sink = sink;
}

void proto_set_quota(struct proto *p, struct quota_user *q)
{
	p->quota = q;
}

void proto_set_auth_sink(struct proto *p, struct auth_sink sink)
{
	p->auth_sink = sink;
}

bool proto_xfer_running(const struct proto *p, const char **verb, const char **path, uint64_t *size)
{
	if (!proto_in_xfer(p))
		return false;
	*verb = p->xfer_verb;
	*path = p->xfer_name ? p->xfer_name : "";
	*size = p->effect->xfer.kind == XFER_SEND_FILE ? p->effect->xfer.size : 0;
	return true;
}

bool proto_committing(const struct proto *p, const char **path)
{
	if (proto_effect_kind(p) != PROTO_EFFECT_UPLOAD_COMMIT)
		return false;
	*path = p->xfer_name ? p->xfer_name : "";
	return true;
}
