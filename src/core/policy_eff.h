/* policy_eff: a user's effective policy (issue 18) and the login's
 * admission by it: protocol-neutral, so FTP and SFTP (and any later
 * front-end) decide alike.
 *
 * THE RULE (first match wins, per attribute): an attribute comes from the
 * user when the user sets it, else from the user's first group (in the
 * order of `ferry user set NAME --groups G1,G2`) that sets it, else from
 * the server ([limits] and the rest of the configuration), else it is
 * unlimited / absent. Two attributes are lists merged per virtual path
 * instead: mounts and dir-perms take every path the user or any group
 * names, the first owner in that order winning for a path. Permissions:
 * the user's own (users.perms) unless the user is set to `--perms
 * inherit`; then the first group that sets perms, else the user's own
 * after all. A list attribute (allow-from) is taken whole from the first
 * owner that sets it, never merged.
 *
 * Enforced at login here (auth_admit): allow-from, expires, max-sessions;
 * perms through auth_result.perms. Mounts and dir-perms are enforced by
 * the file service from the login on (core/files_space.c: files_space_open
 * takes them from auth_result.policy). Rates (rate_down, rate_up:
 * bytes/s, 0 = unlimited) become the session's own buckets at login;
 * quotas (quota_bytes, quota_files) the user's entry in the quota book
 * (core/quota.h), enforced by the file service on every upload. */
#ifndef FERRY_POLICY_EFF_H
#define FERRY_POLICY_EFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy.h"
#include "userstore.h"

struct config;
struct guard;
struct auth_result;

/* The server's part: what applies where neither the user nor a group sets
 * an attribute. */
struct policy_defaults {
	uint64_t rate_down, rate_up; /* bytes/s, 0 = unlimited */
	uint64_t quota_bytes, quota_files;
	unsigned max_sessions; /* [limits] max_per_user, 0 = no limit */
};
/* The defaults cfg gives. */
void policy_defaults_from_config(const struct config *cfg, struct policy_defaults *d);

/* Pure: resolves user u's effective policy from its own attributes
 * (user), its groups' (groups[0..n), in membership order) and the
 * server's (server; NULL = none) into *out (freed by the caller with
 * policy_attrs_free). out->has keeps the bits a user or a group set;
 * perms are always set. */
void policy_resolve(const struct user_record *u, const struct policy_attrs *user, const struct policy_attrs *groups,
		    size_t n, const struct policy_defaults *server, struct policy_attrs *out);

/* Blocking (job pool): loads u's attributes and its groups' from the
 * store and resolves them without server defaults (auth_admit adds
 * those). 0, or the store's -errno (-EINVAL for a row it cannot read). */
int policy_eff_load(const struct userstore_ops *ops, struct userstore *s, const struct user_record *u,
		    struct policy_attrs *out);

/* Pure: may a login from peer at now_s (wall-clock seconds) go on? NULL,
 * or the reason for the log ("allow-from", "expired"). */
const char *policy_login_refusal(const struct policy_attrs *eff, const struct sockaddr_storage *peer, int64_t now_s);

/* A login with good credentials (res->ok), on the loop: completes
 * res->policy with cfg's defaults, then checks allow-from, expires and
 * takes the user's session slot in g (max-sessions: the user's or
 * group's value, else [limits] max_per_user; g NULL: no counting).
 * Returns NULL when admitted (*counted: a slot was taken, to be given
 * back with guard_user_release) or the refusal's reason: "allow-from",
 * "expired" or "user-limit". */
const char *auth_admit(struct guard *g, const struct config *cfg, const char *user, struct auth_result *res,
		       const struct sockaddr_storage *peer, int64_t now_s, bool *counted);

/* Where the max-sessions limit auth_admit applied (res->limit) came from
 * (res->limit_from): the one-word form of the log line's limit-from=
 * ("user", "group:NAME", "[host]max_per_user", "[limits]max_per_user";
 * NULL if auth_admit did not run), and the setting to raise as a reply
 * names it ("the user's max-sessions", "group NAME's max-sessions",
 * "[host] max_per_user", "[limits] max_per_user"). buf holds a group's. */
const char *auth_limit_token(const struct auth_result *res, char *buf, size_t n);
const char *auth_limit_setting(const struct auth_result *res, char *buf, size_t n);

#endif
