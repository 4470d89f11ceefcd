/* policy: groups and the policy attributes of users and groups (schema 5,
 * issue 18): the model, its text forms (what the CLI accepts and the store
 * keeps) and the store calls on it. Resolving a user's effective policy
 * (user, then its groups in order, then the server) is core's
 * (core/policy_eff.h); this file only reads and writes one owner's rows.
 *
 * Stored as one row per attribute (tables user_policy, group_policy):
 * attr is one of the POLICY_A_* names, key is "" or the virtual path of a
 * mount or dir-perms, value the canonical text below. A value this ferry
 * cannot read (a hand edit) fails the load with a log line, never a guess.
 *   perms         "read,list" (perms_format); a user's "inherit": take the
 *                 groups' perms first (its own users.perms last)
 *   quota-bytes   decimal bytes, 0 = no quota       (core/quota.h)
 *   quota-files   decimal count, 0 = no quota       (core/quota.h)
 *   rate-down     decimal bytes/s, 0 = unlimited    (the session's bucket)
 *   rate-up       decimal bytes/s, 0 = unlimited    (the session's bucket)
 *   allow-from    "10.0.0.0/8,2001:db8::/32"; "any" = everywhere
 *   expires       decimal seconds since the epoch: refused from then on;
 *                 0 = never
 *   max-sessions  decimal, 0 = no limit (beats [limits] max_per_user)
 *   mount         key VPATH, value "DIR" or "DIR:PERMS" (core/files_space.c)
 *   dir-perms     key VPATH, value PERMS                (core/files_space.c) */
#ifndef FERRY_POLICY_H
#define FERRY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "userstore.h"

#define POLICY_A_PERMS "perms"
#define POLICY_A_QUOTA_BYTES "quota-bytes"
#define POLICY_A_QUOTA_FILES "quota-files"
#define POLICY_A_RATE_DOWN "rate-down"
#define POLICY_A_RATE_UP "rate-up"
#define POLICY_A_ALLOW_FROM "allow-from"
#define POLICY_A_EXPIRES "expires"
#define POLICY_A_MAX_SESSIONS "max-sessions"
#define POLICY_A_MOUNT "mount"
#define POLICY_A_DIR_PERMS "dir-perms"
#define POLICY_PERMS_INHERIT "inherit"

enum policy_kind { POLICY_USER, POLICY_GROUP };

/* Which scalar attributes a struct policy_attrs sets (mounts and dir-perms
 * are set when their arrays are not empty). */
enum {
	POLICY_HAS_PERMS = 1u << 0,
	POLICY_HAS_QUOTA_BYTES = 1u << 1,
	POLICY_HAS_QUOTA_FILES = 1u << 2,
	POLICY_HAS_RATE_DOWN = 1u << 3,
	POLICY_HAS_RATE_UP = 1u << 4,
	POLICY_HAS_ALLOW_FROM = 1u << 5,
	POLICY_HAS_EXPIRES = 1u << 6,
	POLICY_HAS_MAX_SESSIONS = 1u << 7,
};

/* A network: IPv4 as v4-mapped IPv6 (prefix + 96). */
struct policy_net {
	unsigned char addr[16];
	unsigned prefix; /* 0..128 */
};

struct policy_mount {
	char *vpath; /* absolute, normalised ("/shared") */
	char *dir;   /* absolute directory on the host */
	uint32_t perms;
	bool has_perms; /* else the user's perms apply inside */
};

struct policy_dir_perms {
	char *vpath;
	uint32_t perms;
};

/* One owner's attributes (or, resolved, a user's effective policy). */
struct policy_attrs {
	unsigned has; /* POLICY_HAS_* */
	uint32_t perms;
	bool perms_inherit; /* a user's "perms inherit" */
	uint64_t quota_bytes, quota_files;
	uint64_t rate_down, rate_up; /* bytes/s; 0 = unlimited */
	struct policy_net *allow;
	size_t n_allow;	       /* 0 with HAS_ALLOW_FROM: nowhere ... never stored */
	int64_t expires;       /* 0 = never */
	unsigned max_sessions; /* 0 = no limit */
	struct policy_mount *mounts;
	size_t n_mounts;
	struct policy_dir_perms *dir_perms;
	size_t n_dir_perms;
	/* Resolved only (policy_eff_load): the group whose max-sessions it
	 * is, NULL when the user's own or nobody's. */
	char *max_sessions_group;
};
void policy_attrs_free(struct policy_attrs *a); /* frees the arrays, not a */
/* A deep copy of src into *dst (which it overwrites). */
void policy_attrs_copy(struct policy_attrs *dst, const struct policy_attrs *src);

/* Parsers of the CLI's and the store's text; each returns 0 or -EINVAL.
 * Sizes: a decimal number with an optional suffix K, M, G (powers of
 * 1024; rates take K and M only: max_suffix 'M'). */
int policy_parse_size(const char *s, char max_suffix, uint64_t *out);
/* "CIDR,CIDR..." (an address alone is a /32 or /128; "any" is 0.0.0.0/0
 * and ::/0); *out is malloc'd. On -EINVAL *bad points at the item. */
int policy_parse_nets(const char *s, struct policy_net **out, size_t *n, const char **bad, size_t *badlen);
/* Canonical text of a list (out NUL-terminated, truncated if small). */
void policy_format_nets(const struct policy_net *nets, size_t n, char *out, size_t outsz);
/* "YYYY-MM-DD" (the account works through that day, UTC: refused from the
 * next midnight) or "YYYY-MM-DDTHH:MM:SSZ" (refused from that second);
 * "never" is 0. */
int policy_parse_date(const char *s, int64_t *out);
/* Does ss (IPv4, IPv6 or v4-mapped) fall in one of the networks? */
bool policy_nets_match(const struct policy_net *nets, size_t n, const struct sockaddr_storage *ss);
/* A virtual path for mount and dir-perms: absolute, no "." or ".."
 * components, no control bytes; normalised (no double or trailing slash)
 * into out. */
int policy_parse_vpath(const char *s, char *out, size_t outsz);
/* "DIR" or "DIR:PERMS" (PERMS after the last colon, when it parses). */
int policy_parse_mount(const char *s, char **dir, uint32_t *perms, bool *has_perms);

/* Adds one stored row to a (the attribute replaces what a held). */
int policy_attr_apply(struct policy_attrs *a, const char *attr, const char *key, const char *value);

/* Store calls (blocking). Errors are the store's: -ENOENT no such owner
 * (or group), -EEXIST a duplicate. */
int policy_group_add(const struct userstore_ops *ops, struct userstore *s, const char *name);
int policy_group_remove(const struct userstore_ops *ops, struct userstore *s, const char *name);
/* 0 if the group exists, -ENOENT if not. */
int policy_group_check(const struct userstore_ops *ops, struct userstore *s, const char *name);
int policy_group_list(const struct userstore_ops *ops, struct userstore *s, int (*fn)(const char *name, void *arg),
		      void *arg);
/* Replaces user's groups by groups[0..n) in that order (call inside a
 * transaction): -ENOENT when the user or a group does not exist. */
int policy_groups_set(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *const *groups,
		      size_t n);
/* Memberships in (user, position) order; user or group NULL = any. */
int policy_members(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *group,
		   int (*fn)(const char *user, const char *group, void *arg), void *arg);
/* Sets (value) or removes (value NULL: -ENOENT if absent) one attribute
 * of a user or group; key "" for all but mount and dir-perms. */
int policy_put(const struct userstore_ops *ops, struct userstore *s, enum policy_kind kind, const char *name,
	       const char *attr, const char *key, const char *value);
/* The stored rows of one owner, raw (ferry user show). */
int policy_rows(const struct userstore_ops *ops, struct userstore *s, enum policy_kind kind, const char *name,
		int (*fn)(const char *attr, const char *key, const char *value, void *arg), void *arg);
/* One owner's attributes, parsed into *out (freed by the caller, also on
 * error); -EINVAL for a row it cannot read (logged). */
int policy_load(const struct userstore_ops *ops, struct userstore *s, enum policy_kind kind, const char *name,
		struct policy_attrs *out);

/* Quota usage (schema 7, table quota_usage): the bytes and files under a
 * user's home as the store counts them (core/quota.h keeps the count and
 * enforces it). usage_get: 0 and 0, 0 when no row is kept yet. usage_add
 * adds the deltas in one statement, so every node's changes add up
 * exactly in whatever order they arrive; a total is stored unclamped and
 * read as 0 when below 0. usage_set replaces both (ferry
 * quota scan). Both: -ENOENT when no such user. Blocking. */
int policy_usage_get(const struct userstore_ops *ops, struct userstore *s, const char *user, uint64_t *bytes,
		     uint64_t *files);
int policy_usage_add(const struct userstore_ops *ops, struct userstore *s, const char *user, int64_t dbytes,
		     int64_t dfiles);
int policy_usage_set(const struct userstore_ops *ops, struct userstore *s, const char *user, uint64_t bytes,
		     uint64_t files);

/* Quota grants (schema 8, table quota_grants; core/quota.h "GRANTS"): the
 * bytes a node holds in the store for a user's running uploads, beyond
 * the usage, so that the nodes sharing a store never admit more than the
 * quota together. node is a running ferryd's name for itself; a grant
 * counts until expires (seconds since the epoch) unless renewed.
 *
 * Pure: the bytes a take grants: min(room, max(need, chunk)), room being
 * what limit leaves after used and granted; 0 (refused) when room is less
 * than need, or need is 0. */
uint64_t policy_grant_size(uint64_t limit, uint64_t used, uint64_t granted, uint64_t need, uint64_t chunk);
/* One transaction: locks the user's usage row, drops the other nodes'
 * expired grants, counts usage and the live grants (node's own always)
 * and adds policy_grant_size's bytes to node's grant (expiring at
 * expires). *got: the bytes granted, 0 when refused. -ENOENT: no such
 * user. Blocking, as all below. */
int policy_grant_take(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *node,
		      uint64_t need, uint64_t chunk, uint64_t limit, int64_t now, int64_t expires, uint64_t *got);
/* Gives back bytes of node's grant (clamped at 0). */
int policy_grant_sub(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *node,
		     uint64_t bytes);
/* Every grant of node now expires at expires (0: it had none). */
int policy_grant_renew(const struct userstore_ops *ops, struct userstore *s, const char *node, int64_t expires);
/* Drops user's grants expired at now (ferry quota scan). */
int policy_grant_clear(const struct userstore_ops *ops, struct userstore *s, const char *user, int64_t now);
/* Drops every grant of node (its shutdown). */
int policy_grant_drop(const struct userstore_ops *ops, struct userstore *s, const char *node);
/* user's grants, node by node (ferry quota show). */
int policy_grant_list(const struct userstore_ops *ops, struct userstore *s, const char *user,
		      int (*fn)(const char *node, uint64_t bytes, int64_t expires, void *arg), void *arg);

#endif
