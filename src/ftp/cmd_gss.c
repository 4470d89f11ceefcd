/* RFC 2228 with the GSSAPI mechanism (App. I): AUTH GSSAPI, ADAT, CONF and
 * PBSZ/PROT/CCC under GSSAPI. MIC/ENC and the wrapping of their replies
 * (631/632) are the dispatcher's (proto.c); USER authorised by the exchange
 * (232) is the login's (cmd_login.c). The GSSAPI calls themselves are the
 * session's (proto_gss_ops, gss.c); the context steps run on the job pool as
 * the GSS_STEP effect. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"
#include "parse.h"
#include "proto_impl.h"
#include "reply.h"
#include "sec.h"
#include "util.h"

/* Largest PBSZ granted: a received block is buffered whole before it is
 * unwrapped, so this bounds a session's memory (RFC 2228 §3 lets the server
 * lower the size; the client must then use the smaller one). */
#define GSS_PBSZ_MAX 65536u
/* Smaller buffers leave no room for data after the token overhead. */
#define GSS_PBSZ_MIN 256u

void gss_drop(struct proto *p)
{
	if (p->gss_ops)
		p->gss_ops->reset(p->gss_ctx);
	p->gss = GSS_OFF;
	p->gss_cleared = false;
	if (p->gx) {
		free(p->gx->principal);
		p->gx->principal = NULL;
		free(p->gx->local);
		p->gx->local = NULL;
	}
	p->pbsz = false;
	p->prot = 'C';
	p->level = 'C';
}

/* ---- AUTH GSSAPI, ADAT ---- */

void cmd_auth_gssapi(struct proto *p)
{
	if (!p->gss_ops) {
		proto_reply(p, 431, "GSSAPI is not configured on this server.");
		return;
	}
	/* One security mechanism per connection: RFC 2228 §3 has 534 for an
	 * AUTH the server is unwilling to accept; GSSAPI inside TLS would
	 * protect the same commands twice. */
	if (p->tls) {
		proto_reply(p, 534, "AUTH GSSAPI is not available on a TLS connection.");
		return;
	}
	/* RFC 2228 §3: AUTH resets the security state, and the user must log
	 * in again (Decision 9). A protected AUTH gets its 334 protected. */
	proto_reply(p, 334, "Using authentication type GSSAPI; ADAT must follow.");
	gss_drop(p);
	proto_logout(p);
	p->gss = GSS_NEED_ADAT;
}

static void gss_step_done(struct proto *p, const struct proto_result *r);

void cmd_adat(struct proto *p, struct slice arg)
{
	if (p->gss != GSS_NEED_ADAT) {
		proto_reply(p, 503,
			    p->gss == GSS_ON ? "Security data exchange already complete."
					     : "ADAT needs AUTH GSSAPI first.");
		return;
	}
	struct buf *tok = &proto_gss_state(p)->tok;
	buf_reset(tok);
	/* RFC 2228 §3: after a failed ADAT the exchange is over; the client
	 * starts again with AUTH. */
	if (sec_b64_decode(slice_trim_spaces(arg), tok) != 0) {
		p->gss = GSS_OFF;
		proto_reply(p, 501, "Cannot decode the ADAT data (base64).");
		return;
	}
	proto_start_effect(p, (struct proto_effect){
				  .kind = PROTO_EFFECT_GSS_STEP, .gss_token = buf_slice(tok), .then = gss_step_done });
}

static void gss_step_done(struct proto *p, const struct proto_result *r)
{
	buf_reset(&proto_gss_state(p)->tok);
	struct buf b64;
	buf_init(&b64, REPLY_MAX_LINE - 16);
	if (r && r->gss_status >= 0 && r->gss_reply.n && sec_b64_encode(r->gss_reply.p, r->gss_reply.n, &b64) != 0) {
		buf_free(&b64);
		p->gss = GSS_OFF;
		p->gss_ops->reset(p->gss_ctx);
		proto_reply(p, 535, "GSSAPI reply token too large.");
		return;
	}
	if (!r || r->gss_status < 0) {
		buf_free(&b64);
		/* The message may quote names the client chose: escaped. */
		struct log_escaped e;
		log_info(p->sid, "GSSAPI exchange failed: ip=%s error=\"%s\"", p->peer,
			 log_esc(slice_from_cstr(r && r->gss_error ? r->gss_error : "-"), &e));
		p->gss = GSS_OFF;
		p->gss_ops->reset(p->gss_ctx);
		proto_reply(p, 535, "GSSAPI security data rejected.");
		return;
	}
	/* App. I: the acceptor's token goes back as ADAT=base64 in the text. */
	int len = (int)b64.len;
	const char *tok = len ? buf_data(&b64) : "";
	if (r->gss_status == 0) {
		proto_reply(p, 335, "ADAT=%.*s", len, tok);
	} else {
		p->gss = GSS_ON;
		struct proto_gss_state *gx = proto_gss_state(p);
		free(gx->principal);
		free(gx->local);
		gx->principal = util_xstrdup(r->gss_principal ? r->gss_principal : "");
		gx->local = r->gss_local ? util_xstrdup(r->gss_local) : NULL;
		struct log_escaped e;
		log_info(p->sid, "GSSAPI authenticated: principal=\"%s\" ip=%s",
			 log_esc(slice_from_cstr(gx->principal), &e), p->peer);
		if (len)
			proto_reply(p, 235, "ADAT=%.*s", len, tok);
		else
			proto_reply(p, 235, "Security data exchange complete.");
	}
	buf_free(&b64);
}

/* ---- CONF (MIC and ENC are unwrapped by the dispatcher, proto.c) ---- */

void cmd_conf(struct proto *p, struct slice arg)
{
	if (p->gss != GSS_ON) {
		proto_reply(p, 503, "Protected commands need a completed security exchange (AUTH GSSAPI, ADAT).");
		return;
	}
	/* App. I: GSSAPI has no confidentiality without integrity. */
	proto_reply(p, 537, "CONF is not supported by GSSAPI; use MIC or ENC.");
}

/* ---- PBSZ, PROT, CCC ---- */

void cmd_pbsz_gss(struct proto *p, struct slice arg)
{
	uint64_t v;
	if (parse_u64(slice_trim_spaces(arg), UINT32_MAX, &v) != 0) {
		proto_reply(p, 501, "PBSZ needs a decimal size.");
		return;
	}
	if (v < GSS_PBSZ_MIN) {
		proto_reply(p, 501, "PBSZ must be at least %u with GSSAPI.", GSS_PBSZ_MIN);
		return;
	}
	p->pbsz = true;
	p->pbsz_size = v < GSS_PBSZ_MAX ? (uint32_t)v : GSS_PBSZ_MAX;
	proto_reply(p, 200, "PBSZ=%u", p->pbsz_size);
}

void cmd_prot_gss(struct proto *p, struct slice arg)
{
	if (!p->pbsz) {
		proto_reply(p, 503, "PROT needs PBSZ first.");
		return;
	}
	if (slice_eq_ci(arg, "C") || slice_eq_ci(arg, "S") || slice_eq_ci(arg, "P")) {
		p->prot = (char)(arg.p[0] & ~0x20);
		proto_reply(p, 200, "Protection level set to %c.", p->prot);
	} else if (slice_eq_ci(arg, "E")) {
		proto_reply(p, 536, "PROT E is not supported by GSSAPI.");
	} else {
		proto_reply(p, 504, "Unknown PROT level.");
	}
}

void cmd_ccc_gss(struct proto *p)
{
	/* RFC 2228 §3: only an integrity-protected CCC may clear protection. */
	if (p->level == 'C') {
		proto_reply(p, 533, "CCC must be sent protected (MIC or ENC).");
		return;
	}
	proto_reply(p, 200, "Command channel cleared; plaintext commands are accepted.");
	p->gss_cleared = true;
}
