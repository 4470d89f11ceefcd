/* gss: RFC 2228 App. I on MIT Kerberos. The keytab is copied into a MEMORY
 * keytab at start-up so the daemon needs no access to the file after it
 * drops privileges (like the TLS keys); credentials are imported from that
 * copy with gss_krb5_import_cred, so no KRB5_KTNAME in the environment of a
 * multithreaded process. */
#include "gss.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_alloc.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>

#include "util.h"

struct gss_acceptor {
	krb5_context kctx;
	krb5_keytab kt; /* MEMORY: the copied keys; the credential refers to it */
	gss_cred_id_t cred;
	char realm[256]; /* default realm, "" if none is configured */
	size_t keys;
};

struct gss_sess {
	const struct gss_acceptor *a;
	gss_ctx_id_t ctx;
	bool complete;
	char *principal;
	char *local;
};

/* Appends the GSSAPI messages for (major, minor) to err. */
static void gss_describe(OM_uint32 major, OM_uint32 minor, char *err, size_t errsz)
{
	size_t used = 0;
	err[0] = '\0';
	for (int kind = 0; kind < 2; kind++) {
		OM_uint32 code = kind ? minor : major, ctx = 0, min2;
		if (kind && !minor)
			break;
		/* Bounded: a status has a handful of messages. */
		for (int i = 0; i < 8; i++) {
			gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
			OM_uint32 r = gss_display_status(&min2, code, kind ? GSS_C_MECH_CODE : GSS_C_GSS_CODE,
							 GSS_C_NO_OID, &ctx, &msg);
			if (GSS_ERROR(r))
				break;
			int n = snprintf(err + used, errsz - used, "%s%.*s", used ? "; " : "", (int)msg.length,
					 (const char *)msg.value);
			(void)gss_release_buffer(&min2, &msg);
			if (n < 0 || (size_t)n >= errsz - used)
				return;
			used += (size_t)n;
			if (!ctx)
				break;
		}
	}
}

static bool gss_is_service(krb5_context k, krb5_const_principal p, const char *service)
{
	if (krb5_princ_size(k, p) != 2)
		return false;
	const krb5_data *c = krb5_princ_component(k, p, 0);
	return c->length == strlen(service) && memcmp(c->data, service, c->length) == 0;
}

static void gss_krb5_error(krb5_context k, krb5_error_code kr, const char *path, char *err, size_t errsz)
{
	const char *msg = krb5_get_error_message(k, kr);
	(void)snprintf(err, errsz, "[gssapi] keytab %s: %s", path, msg);
	krb5_free_error_message(k, msg);
}

/* Copies the service's keys from the keytab file into kt. */
static int gss_copy_keys(struct gss_acceptor *a, const char *path, const char *service, char *err, size_t errsz)
{
	char name[PATH_MAX + 8];
	krb5_keytab file = NULL;
	krb5_kt_cursor cur;
	krb5_keytab_entry e;
	(void)snprintf(name, sizeof(name), "FILE:%s", path);
	krb5_error_code kr = krb5_kt_resolve(a->kctx, name, &file);
	if (kr == 0)
		kr = krb5_kt_start_seq_get(a->kctx, file, &cur);
	if (kr) {
		gss_krb5_error(a->kctx, kr, path, err, errsz);
		goto fail;
	}
	while ((kr = krb5_kt_next_entry(a->kctx, file, &e, &cur)) == 0) {
		if (gss_is_service(a->kctx, e.principal, service)) {
			kr = krb5_kt_add_entry(a->kctx, a->kt, &e);
			a->keys++;
		}
		(void)krb5_free_keytab_entry_contents(a->kctx, &e);
		if (kr)
			break;
	}
	(void)krb5_kt_end_seq_get(a->kctx, file, &cur);
	if (kr != KRB5_KT_END) {
		gss_krb5_error(a->kctx, kr, path, err, errsz);
		goto fail;
	}
	(void)krb5_kt_close(a->kctx, file);
	if (!a->keys) {
		(void)snprintf(err, errsz,
			       "[gssapi] keytab %s has no keys for service \"%s\" (principals %s/HOST@REALM)", path,
			       service, service);
		return -ENOENT;
	}
	return 0;
fail:
	if (file)
		(void)krb5_kt_close(a->kctx, file);
	return -EINVAL;
}

int gss_acceptor_new(const char *keytab, const char *service, struct gss_acceptor **out, char *err, size_t errsz)
{
	struct gss_acceptor *a = util_xcalloc(1, sizeof(*a));
	char name[64];
	int r = -EINVAL;
	a->cred = GSS_C_NO_CREDENTIAL;
	krb5_error_code kr = krb5_init_context(&a->kctx);
	if (kr) {
		(void)snprintf(err, errsz, "[gssapi] cannot initialise Kerberos (error %d)", (int)kr);
		a->kctx = NULL;
		goto fail;
	}
	(void)snprintf(name, sizeof(name), "MEMORY:ferry-acceptor-%p", (void *)a);
	kr = krb5_kt_resolve(a->kctx, name, &a->kt);
	if (kr) {
		gss_krb5_error(a->kctx, kr, "(memory)", err, errsz);
		goto fail;
	}
	r = gss_copy_keys(a, keytab, service, err, errsz);
	if (r)
		goto fail;
	OM_uint32 minor, major = gss_krb5_import_cred(&minor, NULL, NULL, a->kt, &a->cred);
	if (GSS_ERROR(major)) {
		char why[512];
		gss_describe(major, minor, why, sizeof(why));
		(void)snprintf(err, errsz, "[gssapi] cannot use the keytab %s: %s", keytab, why);
		r = -EINVAL;
		goto fail;
	}
	char *realm = NULL;
	if (krb5_get_default_realm(a->kctx, &realm) == 0) {
		(void)str_copy(a->realm, sizeof(a->realm), realm);
		krb5_free_default_realm(a->kctx, realm);
	}
	*out = a;
	return 0;
fail:
	gss_acceptor_free(a);
	return r;
}

void gss_acceptor_free(struct gss_acceptor *a)
{
	if (!a)
		return;
	OM_uint32 minor;
	if (a->cred != GSS_C_NO_CREDENTIAL)
		(void)gss_release_cred(&minor, &a->cred);
	if (a->kt)
		(void)krb5_kt_close(a->kctx, a->kt);
	if (a->kctx)
		krb5_free_context(a->kctx);
	free(a);
}

size_t gss_acceptor_keys(const struct gss_acceptor *a)
{
	return a->keys;
}

struct gss_sess *gss_sess_new(const struct gss_acceptor *a)
{
	struct gss_sess *g = util_xcalloc(1, sizeof(*g));
	g->a = a;
	g->ctx = GSS_C_NO_CONTEXT;
	return g;
}

void gss_sess_reset(struct gss_sess *g)
{
	OM_uint32 minor;
	if (g->ctx != GSS_C_NO_CONTEXT)
		(void)gss_delete_sec_context(&minor, &g->ctx, GSS_C_NO_BUFFER);
	g->ctx = GSS_C_NO_CONTEXT;
	g->complete = false;
	free(g->principal);
	g->principal = NULL;
	free(g->local);
	g->local = NULL;
}

void gss_sess_free(struct gss_sess *g)
{
	if (!g)
		return;
	gss_sess_reset(g);
	free(g);
}

/* The default rule: "name@DEFAULT.REALM" may log in as "name". Only plain
 * one-component names (no '/', no escapes) qualify. */
static char *gss_local_name(const struct gss_acceptor *a, const char *principal)
{
	const char *at = strrchr(principal, '@');
	if (!at || at == principal || !a->realm[0] || strcmp(at + 1, a->realm) != 0)
		return NULL;
	for (const char *c = principal; c < at; c++)
		if (*c == '/' || *c == '\\' || *c == '@')
			return NULL;
	return util_xstrndup(principal, (size_t)(at - principal));
}

enum gss_step_status gss_sess_step(struct gss_sess *g, struct slice token, struct buf *out, char *err, size_t errsz)
{
	OM_uint32 minor, min2, flags = 0;
	gss_buffer_desc in = { token.n, (void *)(uintptr_t)token.p }, tok = GSS_C_EMPTY_BUFFER;
	gss_name_t src = GSS_C_NO_NAME;
	enum gss_step_status st = GSS_STEP_FAILED;
	if (g->complete) {
		(void)snprintf(err, errsz, "security context already complete");
		return GSS_STEP_FAILED;
	}
	OM_uint32 major = gss_accept_sec_context(&minor, &g->ctx, g->a->cred, &in, GSS_C_NO_CHANNEL_BINDINGS, &src,
						 NULL, &tok, &flags, NULL, NULL);
	if (GSS_ERROR(major)) {
		gss_describe(major, minor, err, errsz);
		goto out;
	}
	if (tok.length && buf_append(out, tok.value, tok.length) != 0) {
		(void)snprintf(err, errsz, "reply token too large");
		goto out;
	}
	if (major & GSS_S_CONTINUE_NEEDED) {
		st = GSS_STEP_CONTINUE;
		goto out;
	}
	/* MIC/ENC need both services; the krb5 mechanism always offers them. */
	if (!(flags & GSS_C_INTEG_FLAG) || !(flags & GSS_C_CONF_FLAG)) {
		(void)snprintf(err, errsz, "context offers no integrity/confidentiality");
		goto out;
	}
	/* SECURITY: replay detection is on only if the client asked for it;
	 * without it GSS_Unwrap accepts a recorded MIC/ENC command again and
	 * gss_sess_unwrap's check of the supplementary bits sees nothing.
	 * Sequence detection (GSS_C_SEQUENCE_FLAG) is not required: curl --krb
	 * asks for mutual authentication and replay detection only, so
	 * requiring it would shut curl out. What it adds is reporting tokens
	 * dropped or reordered in transit, which on one TCP stream takes an
	 * attacker who rewrites the stream; replayed tokens, the attack open
	 * to anyone who recorded a session, are refused. */
	if (!(flags & GSS_C_REPLAY_FLAG)) {
		(void)snprintf(err, errsz, "client did not request replay detection");
		goto out;
	}
	gss_buffer_desc name = GSS_C_EMPTY_BUFFER;
	if (GSS_ERROR(gss_display_name(&min2, src, &name, NULL))) {
		(void)snprintf(err, errsz, "cannot read the client's name");
		goto out;
	}
	size_t nlen = name.length;
	g->principal = util_xstrndup(name.value, nlen);
	(void)gss_release_buffer(&min2, &name);
	if (strlen(g->principal) != nlen) { /* embedded NUL: refuse */
		(void)snprintf(err, errsz, "client name contains NUL");
		goto out;
	}
	g->local = gss_local_name(g->a, g->principal);
	g->complete = true;
	st = GSS_STEP_COMPLETE;
out:
	if (src != GSS_C_NO_NAME)
		(void)gss_release_name(&min2, &src);
	(void)gss_release_buffer(&min2, &tok);
	if (st == GSS_STEP_FAILED)
		gss_sess_reset(g);
	return st;
}

const char *gss_sess_principal(const struct gss_sess *g)
{
	return g->complete ? g->principal : NULL;
}

const char *gss_sess_local_name(const struct gss_sess *g)
{
	return g->complete ? g->local : NULL;
}

int gss_sess_wrap(struct gss_sess *g, bool conf, struct slice plain, struct buf *out)
{
	if (!g->complete)
		return -EPROTO;
	OM_uint32 minor;
	int state = 0;
	gss_buffer_desc in = { plain.n, (void *)(uintptr_t)plain.p }, tok = GSS_C_EMPTY_BUFFER;
	OM_uint32 major = gss_wrap(&minor, g->ctx, conf, GSS_C_QOP_DEFAULT, &in, &state, &tok);
	if (GSS_ERROR(major) || (conf && !state)) {
		(void)gss_release_buffer(&minor, &tok);
		return -EPROTO;
	}
	int r = buf_append(out, tok.value, tok.length);
	(void)gss_release_buffer(&minor, &tok);
	return r;
}

/* MIT's gss_release_buffer skips zero-length buffers, but unwrapping an
 * empty integrity-only token (the RFC 2228 §6 end block) allocates one. */
static void gss_free_buffer(gss_buffer_t b)
{
	OM_uint32 minor;
	if (b->length == 0 && b->value) {
		gssalloc_free(b->value);
		b->value = NULL;
	} else {
		(void)gss_release_buffer(&minor, b);
	}
}

int gss_sess_unwrap(struct gss_sess *g, struct slice token, struct buf *out, bool *conf)
{
	if (!g->complete)
		return -EPROTO;
	OM_uint32 minor;
	int state = 0;
	gss_qop_t qop;
	gss_buffer_desc in = { token.n, (void *)(uintptr_t)token.p }, plain = GSS_C_EMPTY_BUFFER;
	OM_uint32 major = gss_unwrap(&minor, g->ctx, &in, &plain, &state, &qop);
	/* SECURITY: supplementary bits (duplicate, old, gap) are not errors to
	 * GSSAPI but are a replayed or reordered command here: refused. */
	if (major != GSS_S_COMPLETE) {
		gss_free_buffer(&plain);
		return -EBADMSG;
	}
	*conf = state != 0;
	int r = buf_append(out, plain.value, plain.length);
	gss_free_buffer(&plain);
	return r;
}

uint32_t gss_sess_max_plain(struct gss_sess *g, bool conf, uint32_t max_token)
{
	OM_uint32 minor, max_in = 0;
	if (!g->complete || GSS_ERROR(gss_wrap_size_limit(&minor, g->ctx, conf, GSS_C_QOP_DEFAULT, max_token, &max_in)))
		return 0;
	return max_in;
}

int gss_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	return 0; /* [gssapi] is built in */
}
