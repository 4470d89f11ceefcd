/* gss_none: stands in for gss.c in a build without MIT Kerberos
 * (-Dgssapi=disabled). No acceptor can exist, so no session gets a
 * security context and AUTH GSSAPI answers exactly as on a server without
 * [gssapi] keytab (cmd_gss.c, the protocol side, is the same in both
 * builds); a config that sets a keytab is refused at check time. */
#include "gss.h"

#include <errno.h>
#include <stdio.h>

#include "config.h"

int gss_acceptor_new(const char *keytab, const char *service, struct gss_acceptor **out, char *err, size_t errsz)
{
	/* Not reached: gss_check_config refuses [gssapi] keytab first. */
	(void)snprintf(err, errsz, "[gssapi] keytab: ferryd was built without GSSAPI");
	return -ENOTSUP;
}

void gss_acceptor_free(struct gss_acceptor *a) {}

size_t gss_acceptor_keys(const struct gss_acceptor *a)
{
	return 0;
}

struct gss_sess *gss_sess_new(const struct gss_acceptor *a)
{
	return NULL;
}

void gss_sess_free(struct gss_sess *g) {}

void gss_sess_reset(struct gss_sess *g) {}

enum gss_step_status gss_sess_step(struct gss_sess *g, struct slice token, struct buf *out, char *err, size_t errsz)
{
	(void)snprintf(err, errsz, "built without GSSAPI");
	return GSS_STEP_FAILED;
}

const char *gss_sess_principal(const struct gss_sess *g)
{
	return NULL;
}

const char *gss_sess_local_name(const struct gss_sess *g)
{
	return NULL;
}

int gss_sess_wrap(struct gss_sess *g, bool conf, struct slice plain, struct buf *out)
{
	return -EPROTO;
}

int gss_sess_unwrap(struct gss_sess *g, struct slice token, struct buf *out, bool *conf)
{
	return -EBADMSG;
}

uint32_t gss_sess_max_plain(struct gss_sess *g, bool conf, uint32_t max_token)
{
	return 0;
}

int gss_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	if (!c->gss_keytab[0])
		return 0;
	*section = "gssapi";
	*key = "keytab";
	(void)snprintf(why, whysz, "ferryd was built without GSSAPI (meson -Dgssapi=disabled)");
	return -ENOTSUP;
}
