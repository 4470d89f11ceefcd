/* store_policy_sql: the SQL of groups and policies (tables groups,
 * group_members, user_policy, group_policy: schema 5), written once for both
 * stores. The including file defines the dialect first: POL_P1..POL_P4 its
 * parameters ("?1" or "$1"...) and POL_ORDER, the collation names sort by
 * (PostgreSQL: COLLATE "C", so both stores list in byte order). Every
 * parameter is text (NULL allowed); integers are cast in the SQL, so a
 * backend binds nothing but text. Included by store_sqlite_policy.c and
 * store_pg_policy.c only; the statements are used by store_policy.c through
 * userstore_ops policy_write/policy_read, in the order of enum
 * store_policy_sql (userstore.h). */
#ifndef FERRY_STORE_POLICY_SQL_H
#define FERRY_STORE_POLICY_SQL_H

/* A policy row of a user or a group: only for an owner that exists (no row
 * inserted means -ENOENT), replacing the value of the same (attr, key). */
#define STORE_POLICY_PUT(table, owners)                                                                                \
	"INSERT INTO " table "(name, attr, key, value) SELECT " POL_P1 ", " POL_P2 ", " POL_P3 ", " POL_P4             \
	" FROM " owners " WHERE name = " POL_P1 " ON CONFLICT(name, attr, key) DO UPDATE SET value = excluded.value"
#define STORE_POLICY_DEL(table) "DELETE FROM " table " WHERE name = " POL_P1 " AND attr = " POL_P2 " AND key = " POL_P3
#define STORE_POLICY_GET(table)                                                                                        \
	"SELECT attr, key, value FROM " table " WHERE name = " POL_P1 " ORDER BY attr" POL_ORDER ", key" POL_ORDER

/* x, or 0 when x is negative, in both dialects. Usage is stored as the raw
 * sum of every change and clamped only when read: the changes of one user
 * may reach the store in any order (each is its own job on the pool), and
 * a sum is the same in every order, a sum clamped at each step is not. */
#define STORE_USAGE_MAX0(x) "CASE WHEN " x " < 0 THEN 0 ELSE " x " END"

/* Quota grants (schema 8, policy.h policy_grant_take). USAGE_LOCK is the
 * take's first statement: an upsert that changes nothing, but creates the
 * user's usage row if absent and takes its row lock (PostgreSQL) or the
 * write lock (SQLite) until the transaction ends, so two takes for one
 * user, on any nodes, run one after the other and the second's
 * GRANT_ROOM sees the first's grant (a new snapshot per statement under
 * PostgreSQL's READ COMMITTED). A grant counts while it has not expired,
 * and the asking node's own always (it renews them). */
#define STORE_GRANT_SQL_INIT                                                                                           \
	[STORE_POL_USAGE_LOCK] = "INSERT INTO quota_usage(name, bytes, files) SELECT " POL_P1 ", 0, 0 FROM users "     \
				 "WHERE name = " POL_P1 " ON CONFLICT(name) DO UPDATE SET bytes = quota_usage.bytes",  \
	[STORE_POL_GRANT_ROOM] = "SELECT CAST(COALESCE((SELECT " STORE_USAGE_MAX0(                                     \
	    "bytes") " FROM quota_usage WHERE name = " POL_P1                                                          \
		     "), 0) AS TEXT), CAST(COALESCE((SELECT SUM(" STORE_USAGE_MAX0(                                    \
			 "bytes") ") FROM quota_grants WHERE name = " POL_P1 " AND (expires > CAST(" POL_P3            \
				  " AS BIGINT) OR node = " POL_P2 ")), 0) AS TEXT)",                                   \
	[STORE_POL_GRANT_ADD] =                                                                                        \
	    "INSERT INTO quota_grants(name, node, bytes, files, expires) SELECT " POL_P1 ", " POL_P2 ", CAST(" POL_P3  \
	    " AS BIGINT), 0, CAST(" POL_P4 " AS BIGINT) FROM users WHERE name = " POL_P1                               \
	    " ON CONFLICT(name, node) DO UPDATE SET bytes = quota_grants.bytes + excluded.bytes, "                     \
	    "expires = excluded.expires",                                                                              \
	[STORE_POL_GRANT_SUB] = "UPDATE quota_grants SET bytes = " STORE_USAGE_MAX0(                                   \
	    "bytes - CAST(" POL_P3 " AS BIGINT)") " WHERE name = " POL_P1 " AND node = " POL_P2,                       \
	[STORE_POL_GRANT_RENEW] = "UPDATE quota_grants SET expires = CAST(" POL_P2 " AS BIGINT) WHERE node = " POL_P1, \
	[STORE_POL_GRANT_CLEAR] = "DELETE FROM quota_grants WHERE name = " POL_P1 " AND expires <= CAST(" POL_P2       \
				  " AS BIGINT) AND node <> " POL_P3,                                                   \
	[STORE_POL_GRANT_DROP] = "DELETE FROM quota_grants WHERE node = " POL_P1,                                      \
	[STORE_POL_GRANT_LIST] = "SELECT node, CAST(bytes AS TEXT), CAST(expires AS TEXT) FROM quota_grants WHERE "    \
				 "name = " POL_P1 " ORDER BY node" POL_ORDER,

#define STORE_POLICY_SQL_INIT                                                                                          \
	[STORE_POL_GROUP_ADD] = "INSERT INTO groups(name, created_at) VALUES(" POL_P1 ", CAST(" POL_P2 " AS BIGINT))", \
	[STORE_POL_GROUP_DEL] = "DELETE FROM groups WHERE name = " POL_P1,                                             \
	[STORE_POL_GROUP_LIST] =                                                                                       \
	    "SELECT name FROM groups WHERE " POL_P1 " IS NULL OR name = " POL_P1 " ORDER BY name" POL_ORDER,           \
	[STORE_POL_MEMBER_CLEAR] = "DELETE FROM group_members WHERE name = " POL_P1,                                   \
	[STORE_POL_MEMBER_ADD] =                                                                                       \
	    "INSERT INTO group_members(name, grp, position) SELECT " POL_P1 ", " POL_P2 ", CAST(" POL_P3               \
	    " AS BIGINT) FROM groups WHERE name = " POL_P2 " AND EXISTS(SELECT 1 FROM users WHERE name = " POL_P1 ")", \
	[STORE_POL_MEMBER_LIST] =                                                                                      \
	    "SELECT name, grp FROM group_members WHERE (" POL_P1 " IS NULL OR name = " POL_P1 ") AND (" POL_P2         \
	    " IS NULL OR grp = " POL_P2 ") ORDER BY name" POL_ORDER ", position",                                      \
	[STORE_POL_USER_PUT] = STORE_POLICY_PUT("user_policy", "users"),                                               \
	[STORE_POL_USER_DEL] = STORE_POLICY_DEL("user_policy"),                                                        \
	[STORE_POL_USER_GET] = STORE_POLICY_GET("user_policy"),                                                        \
	[STORE_POL_GROUP_PUT] = STORE_POLICY_PUT("group_policy", "groups"),                                            \
	[STORE_POL_GROUP_DEL_ATTR] = STORE_POLICY_DEL("group_policy"),                                                 \
	[STORE_POL_GROUP_GET] = STORE_POLICY_GET("group_policy"),                                                      \
	[STORE_POL_USAGE_GET] = "SELECT CAST(" STORE_USAGE_MAX0("bytes") " AS TEXT), CAST(" STORE_USAGE_MAX0(          \
	    "files") " AS TEXT) FROM quota_usage WHERE name = " POL_P1,                                                \
	[STORE_POL_USAGE_ADD] = "INSERT INTO quota_usage(name, bytes, files) SELECT " POL_P1 ", CAST(" POL_P2          \
				" AS BIGINT), CAST(" POL_P3 " AS BIGINT) FROM users WHERE name = " POL_P1              \
				" ON CONFLICT(name) DO UPDATE SET bytes = quota_usage.bytes + excluded.bytes, "        \
				"files = quota_usage.files + excluded.files",                                          \
	[STORE_POL_USAGE_SET] = "INSERT INTO quota_usage(name, bytes, files) SELECT " POL_P1 ", CAST(" POL_P2          \
				" AS BIGINT), CAST(" POL_P3 " AS BIGINT) FROM users WHERE name = " POL_P1              \
				" ON CONFLICT(name) DO UPDATE SET bytes = excluded.bytes, files = excluded.files",     \
	STORE_GRANT_SQL_INIT

#endif
