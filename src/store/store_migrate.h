/* store_migrate: the versioned schema both stores share. Version N means
 * the same tables in SQLite and PostgreSQL (each in its own dialect):
 *   1  users
 *   2  one-time passwords: otp, otp_locks, meta (the made-up-challenge secret)
 *   3  Kerberos principal -> user mappings: principals
 *   4  failed logins and bans shared by the nodes: bans
 *   5  groups and policies: groups, group_members, user_policy, group_policy
 *   6  users' SSH public keys (SFTP publickey logins): user_keys
 *   7  quota usage of each user, shared by the nodes: quota_usage
 *   8  quota grants: the bytes each node holds for a user's uploads: quota_grants
 * A backend lists its steps in order and fills the ops below; the runner
 * decides what to apply, refuses a newer or a foreign database, and applies
 * the missing steps in one transaction that also serialises two ferryd (or
 * ferry) starting at once: SQLite's BEGIN IMMEDIATE, PostgreSQL's advisory
 * lock. Only the store backends include this header. */
#ifndef FERRY_STORE_MIGRATE_H
#define FERRY_STORE_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 8

/* A backend's side of a migration; db is its handle. Each returns 0 or a
 * negative errno, its text in errmsg(db). */
struct store_migrate_ops {
	/* The current version: 0 when there is no ferry schema, with foreign
	 * set when the database holds tables that are not ferry's. */
	int (*version)(void *db, int64_t *version, bool *foreign);
	/* Starts the one write transaction migrations run in, taking the
	 * lock that makes a second migrator wait. */
	int (*lock)(void *db);
	/* Applies step `to` (the schema of version to-1 becomes version to). */
	int (*step)(void *db, int to);
	/* Records version and commits. */
	int (*commit)(void *db, int version);
	void (*rollback)(void *db);
	const char *(*errmsg)(void *db);
};

/* Brings db to STORE_SCHEMA_VERSION. where names the store in messages
 * ("user database /var/lib/ferry/users.db"). create: an empty database gets
 * the whole schema; without it an empty one is -ENOENT, with no message
 * (the backend says how to create it). *found is the version before.
 * Returns 0, -EPROTONOSUPPORT (newer than this ferry), -EINVAL (not a
 * ferry database) or the backend's error; err gets a message. Blocking. */
int store_migrate(const struct store_migrate_ops *ops, void *db, const char *where, bool create, int *found, char *err,
		  size_t errsz);

#endif
