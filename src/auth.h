/* auth: the user-store interface, the backend registry and password checks.
 * Backends are whole files (store_sqlite.c, later store_pg.c) that fill a
 * struct userstore_ops. Everything here may block: the daemon calls it only
 * from the job pool, never on an event loop. */
#ifndef FERRY_AUTH_H
#define FERRY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* Per-user permission bits (names as in the store and on the CLI). */
enum {
	PERM_READ = 1u << 0,   /* "read": RETR, SIZE, MDTM, HASH */
	PERM_WRITE = 1u << 1,  /* "write": STOR, APPE, STOU, MFMT, SITE CHMOD */
	PERM_DELETE = 1u << 2, /* "delete": DELE, RMD */
	PERM_RENAME = 1u << 3, /* "rename": RNFR/RNTO */
	PERM_MKDIR = 1u << 4,  /* "mkdir": MKD */
	PERM_LIST = 1u << 5,   /* "list": LIST, NLST, MLSD, MLST, STAT path */
	PERM_ALL = (1u << 6) - 1,
};

/* Parses "read,write,list" or "all" (case-insensitive, spaces allowed around
 * commas) into bits; -EINVAL names nothing itself, the caller reports it.
 * perms_format writes the canonical comma list ("all" for PERM_ALL). */
int perms_parse(const char *s, uint32_t *out);
void perms_format(uint32_t perms, char *out, size_t outsz);

struct user_record {
	char *name;
	char *password_hash; /* crypt(3) string: $y$ (yescrypt), $2b$, $6$ ... */
	char *home;          /* absolute directory */
	char *account;       /* NULL: ACCT not required */
	uint32_t perms;
	bool enabled;
	int64_t created_at, updated_at; /* seconds since the epoch */
};
void user_record_free(struct user_record *u); /* frees the strings, not u */

struct userstore; /* one open handle; not shared between threads */

struct userstore_ops {
	const char *name; /* "sqlite" */
	/* Opens the store named by cfg. create: make the database and schema if
	 * missing (else a missing store is -ENOENT). Writes a clear message to
	 * err on failure. */
	int (*open)(const struct config *cfg, bool create, struct userstore **out, char *err, size_t errsz);
	/* 0 and *out filled, -ENOENT if no such user, other -errno on failure. */
	int (*lookup)(struct userstore *s, const char *name, struct user_record *out);
	/* Admin operations (the ferry CLI). -EEXIST / -ENOENT as appropriate. */
	int (*add)(struct userstore *s, const struct user_record *u);
	int (*remove)(struct userstore *s, const char *name);
	/* Replaces every field of the existing row u->name; updated_at = now. */
	int (*update)(struct userstore *s, const struct user_record *u);
	/* Calls fn for each user in name order; stops early if fn returns non-zero. */
	int (*list)(struct userstore *s, int (*fn)(const struct user_record *u, void *arg), void *arg);
	void (*close)(struct userstore *s);
	/* Kerberos principal → user mappings (RFC 2228 GSSAPI logins). check:
	 * 0 if principal may log in as name, -ENOENT if not. add: -EEXIST if
	 * the pair exists, -ENOENT if the user does not. remove: -ENOENT if
	 * absent. list: pairs in (user, principal) order; name NULL = all. */
	int (*principal_check)(struct userstore *s, const char *principal, const char *name);
	int (*principal_add)(struct userstore *s, const char *principal, const char *name);
	int (*principal_remove)(struct userstore *s, const char *principal, const char *name);
	int (*principal_list)(struct userstore *s, const char *name,
			      int (*fn)(const char *principal, const char *name, void *arg), void *arg);
};

/* The backend for cfg->store_backend, or NULL. */
const struct userstore_ops *auth_backend(const char *name);

/* The embedded SQLite backend (store_sqlite.c). */
extern const struct userstore_ops store_sqlite_ops;

/* Hashes password with a fresh random yescrypt salt (libxcrypt); returns a
 * malloc'd crypt string in *out. */
int auth_hash_password(const char *password, char **out);

/* Verifies password against a crypt(3) hash in constant time per hash type. */
bool auth_verify_password(const char *hash, const char *password);

/* Result of a login check, owned by the caller (auth_result_free). */
struct auth_result {
	bool ok;             /* user exists, enabled, password matches */
	char *home;          /* set when ok */
	char *account;       /* set when ok and the user needs ACCT */
	uint32_t perms;
	int err;             /* 0, or -errno when the store itself failed */
};
void auth_result_free(struct auth_result *r);

/* Looks the user up and verifies the password. An unknown or disabled user
 * costs one hash computation against a fixed dummy hash, so timing does not
 * tell which users exist. Blocking: job pool only. */
void auth_check(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		struct auth_result *out);

/* After a GSSAPI exchange: may principal log in as user? Yes when the user
 * exists and is enabled and either by_default (the default rule matched) or
 * the store maps principal to user. No password is involved. Blocking. */
void auth_check_principal(const struct userstore_ops *ops, struct userstore *s, const char *user,
			  const char *principal, bool by_default, struct auth_result *out);

#endif
