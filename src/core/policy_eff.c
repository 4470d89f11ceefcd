/* policy_eff: the effective policy of a user and the login's admission by
 * it (see policy_eff.h for the rule). */
#include "policy_eff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "guard.h"
#include "userstore.h"
#include "util.h"

void policy_defaults_from_config(const struct config *cfg, struct policy_defaults *d)
{
	*d = (struct policy_defaults){ 0 };
	if (cfg)
		d->max_sessions = cfg->max_per_user;
}

/* The first of user, groups... that has bit, or NULL. */
static const struct policy_attrs *first_with(const struct policy_attrs *user, const struct policy_attrs *groups,
					     size_t n, unsigned bit)
{
	if (user && (user->has & bit))
		return user;
	for (size_t i = 0; i < n; i++)
		if (groups[i].has & bit)
			return &groups[i];
	return NULL;
}

static bool has_mount(const struct policy_attrs *a, const char *vpath)
{
	for (size_t i = 0; i < a->n_mounts; i++)
		if (strcmp(a->mounts[i].vpath, vpath) == 0)
			return true;
	return false;
}

static bool has_dir_perms(const struct policy_attrs *a, const char *vpath)
{
	for (size_t i = 0; i < a->n_dir_perms; i++)
		if (strcmp(a->dir_perms[i].vpath, vpath) == 0)
			return true;
	return false;
}

/* Adds from's mounts and dir-perms whose paths out does not have yet. */
static void merge_paths(struct policy_attrs *out, const struct policy_attrs *from)
{
	for (size_t i = 0; i < from->n_mounts; i++) {
		if (has_mount(out, from->mounts[i].vpath))
			continue;
		struct policy_mount *m = realloc(out->mounts, (out->n_mounts + 1) * sizeof(*m));
		if (!m)
			abort(); /* as util_x*: out of memory is fatal */
		out->mounts = m;
		m[out->n_mounts] = from->mounts[i];
		m[out->n_mounts].vpath = util_xstrdup(from->mounts[i].vpath);
		m[out->n_mounts].dir = util_xstrdup(from->mounts[i].dir);
		out->n_mounts++;
	}
	for (size_t i = 0; i < from->n_dir_perms; i++) {
		if (has_dir_perms(out, from->dir_perms[i].vpath))
			continue;
		struct policy_dir_perms *d = realloc(out->dir_perms, (out->n_dir_perms + 1) * sizeof(*d));
		if (!d)
			abort();
		out->dir_perms = d;
		d[out->n_dir_perms] = from->dir_perms[i];
		d[out->n_dir_perms].vpath = util_xstrdup(from->dir_perms[i].vpath);
		out->n_dir_perms++;
	}
}

void policy_resolve(const struct user_record *u, const struct policy_attrs *user, const struct policy_attrs *groups,
		    size_t n, const struct policy_defaults *server, struct policy_attrs *out)
{
	const struct policy_attrs *src;
	*out = (struct policy_attrs){ 0 };

	/* Permissions: the user's own unless it inherits. */
	out->perms = u ? u->perms : 0;
	if (user && user->perms_inherit) {
		src = first_with(NULL, groups, n, POLICY_HAS_PERMS);
		if (src)
			out->perms = src->perms;
		out->perms_inherit = true;
	}
	out->has |= POLICY_HAS_PERMS;

	if ((src = first_with(user, groups, n, POLICY_HAS_QUOTA_BYTES)))
		out->quota_bytes = src->quota_bytes, out->has |= POLICY_HAS_QUOTA_BYTES;
	else if (server)
		out->quota_bytes = server->quota_bytes;
	if ((src = first_with(user, groups, n, POLICY_HAS_QUOTA_FILES)))
		out->quota_files = src->quota_files, out->has |= POLICY_HAS_QUOTA_FILES;
	else if (server)
		out->quota_files = server->quota_files;
	if ((src = first_with(user, groups, n, POLICY_HAS_RATE_DOWN)))
		out->rate_down = src->rate_down, out->has |= POLICY_HAS_RATE_DOWN;
	else if (server)
		out->rate_down = server->rate_down;
	if ((src = first_with(user, groups, n, POLICY_HAS_RATE_UP)))
		out->rate_up = src->rate_up, out->has |= POLICY_HAS_RATE_UP;
	else if (server)
		out->rate_up = server->rate_up;
	if ((src = first_with(user, groups, n, POLICY_HAS_MAX_SESSIONS)))
		out->max_sessions = src->max_sessions, out->has |= POLICY_HAS_MAX_SESSIONS;
	else if (server)
		out->max_sessions = server->max_sessions;
	if ((src = first_with(user, groups, n, POLICY_HAS_EXPIRES)))
		out->expires = src->expires, out->has |= POLICY_HAS_EXPIRES;
	if ((src = first_with(user, groups, n, POLICY_HAS_ALLOW_FROM)) && src->n_allow) {
		out->allow = util_xcalloc(src->n_allow, sizeof(*out->allow));
		memcpy(out->allow, src->allow, src->n_allow * sizeof(*out->allow));
		out->n_allow = src->n_allow;
		out->has |= POLICY_HAS_ALLOW_FROM;
	}
	if (user)
		merge_paths(out, user);
	for (size_t i = 0; i < n; i++)
		merge_paths(out, &groups[i]);
}

struct group_names {
	char **names;
	size_t n;
};

static int collect_group(const char *user, const char *group, void *arg)
{
	struct group_names *g = arg;
	char **names = realloc(g->names, (g->n + 1) * sizeof(*names));
	if (!names)
		return -ENOMEM;
	g->names = names;
	g->names[g->n++] = util_xstrdup(group);
	return 0;
}

int policy_eff_load(const struct userstore_ops *ops, struct userstore *s, const struct user_record *u,
		    struct policy_attrs *out)
{
	struct policy_attrs user = { 0 }, *groups = NULL;
	struct group_names g = { 0 };
	int r;

	*out = (struct policy_attrs){ 0 };
	if (!ops->policy_read) { /* a store without policies: the user's perms */
		policy_resolve(u, NULL, NULL, 0, NULL, out);
		return 0;
	}
	r = policy_load(ops, s, POLICY_USER, u->name, &user);
	if (!r)
		r = policy_members(ops, s, u->name, NULL, collect_group, &g);
	if (!r && g.n)
		groups = util_xcalloc(g.n, sizeof(*groups));
	for (size_t i = 0; !r && i < g.n; i++)
		r = policy_load(ops, s, POLICY_GROUP, g.names[i], &groups[i]);
	if (!r) {
		policy_resolve(u, &user, groups, g.n, NULL, out);
		/* Which group's max-sessions it is, for the refusal's text. */
		const struct policy_attrs *src = first_with(&user, groups, g.n, POLICY_HAS_MAX_SESSIONS);
		if (src && src != &user)
			out->max_sessions_group = util_xstrdup(g.names[src - groups]);
	}
	for (size_t i = 0; i < g.n; i++) {
		if (groups)
			policy_attrs_free(&groups[i]);
		free(g.names[i]);
	}
	free(groups);
	free(g.names);
	policy_attrs_free(&user);
	return r;
}

const char *policy_login_refusal(const struct policy_attrs *eff, const struct sockaddr_storage *peer, int64_t now_s)
{
	if ((eff->has & POLICY_HAS_ALLOW_FROM) && !(peer && policy_nets_match(eff->allow, eff->n_allow, peer)))
		return "allow-from";
	if ((eff->has & POLICY_HAS_EXPIRES) && eff->expires && now_s >= eff->expires)
		return "expired";
	return NULL;
}

const char *auth_admit(struct guard *g, const struct config *cfg, const char *user, struct auth_result *res,
		       const struct sockaddr_storage *peer, int64_t now_s, bool *counted)
{
	struct policy_defaults d;
	*counted = false;
	policy_defaults_from_config(cfg, &d);
	if (!(res->policy.has & POLICY_HAS_RATE_DOWN))
		res->policy.rate_down = d.rate_down;
	if (!(res->policy.has & POLICY_HAS_RATE_UP))
		res->policy.rate_up = d.rate_up;
	if (!(res->policy.has & POLICY_HAS_QUOTA_BYTES))
		res->policy.quota_bytes = d.quota_bytes;
	if (!(res->policy.has & POLICY_HAS_QUOTA_FILES))
		res->policy.quota_files = d.quota_files;
	if (!(res->policy.has & POLICY_HAS_MAX_SESSIONS))
		res->policy.max_sessions = d.max_sessions;
	res->limit_from = !(res->policy.has & POLICY_HAS_MAX_SESSIONS) ? AUTH_LIMIT_SERVER
			  : res->policy.max_sessions_group	       ? AUTH_LIMIT_GROUP
								       : AUTH_LIMIT_USER;
	res->limit = res->policy.max_sessions;
	const char *why = policy_login_refusal(&res->policy, peer, now_s);
	if (why)
		return why;
	if (!g)
		return NULL;
	/* Without a value of its own the guard's live [limits] max_per_user
	 * counts (a reload may have changed it since cfg). */
	const unsigned *limit = (res->policy.has & POLICY_HAS_MAX_SESSIONS) ? &res->policy.max_sessions : NULL;
	/* A virtual host's user (NAME:HOST): that [host] max_per_user, when
	 * set, stands for the server's. */
	const struct config_vhost *h = config_vhost_find(cfg, user_key_host(user));
	unsigned host_max = h ? h->max_per_user : 0;
	if (!limit && host_max) {
		limit = &host_max;
		res->limit_from = AUTH_LIMIT_HOST;
		res->limit = host_max;
	}
	if (!guard_user_acquire_limit(g, user, limit))
		return "user-limit";
	*counted = true;
	return NULL;
}

/* Where a max-sessions limit came from, for the log (token) and for the
 * 421's advice (setting); a group's carries its name (limit_name). */
static const struct {
	const char *token, *setting;
} limit_names[] = {
	[AUTH_LIMIT_NONE] = { NULL, "[limits] max_per_user" },
	[AUTH_LIMIT_USER] = { "user", "the user's max-sessions" },
	[AUTH_LIMIT_HOST] = { "[host]max_per_user", "[host] max_per_user" },
	[AUTH_LIMIT_SERVER] = { "[limits]max_per_user", "[limits] max_per_user" },
};

static const char *limit_name(const struct auth_result *res, bool setting, char *buf, size_t n)
{
	unsigned from = (unsigned)res->limit_from;
	if (from >= sizeof(limit_names) / sizeof(limit_names[0]))
		from = AUTH_LIMIT_NONE;
	if (from != AUTH_LIMIT_GROUP)
		return setting ? limit_names[from].setting : limit_names[from].token;
	const char *group = res->policy.max_sessions_group;
	if (setting)
		(void)snprintf(buf, n, "group %s's max-sessions", group);
	else
		(void)snprintf(buf, n, "group:%s", group);
	return buf;
}

const char *auth_limit_token(const struct auth_result *res, char *buf, size_t n)
{
	return limit_name(res, false, buf, n);
}

const char *auth_limit_setting(const struct auth_result *res, char *buf, size_t n)
{
	return limit_name(res, true, buf, n);
}
