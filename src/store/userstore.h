/* userstore: the user model (permissions, user records, one-time password
 * settings) and the store interface every backend fills. Backends are whole
 * files (store_sqlite*.c, store_pg*.c or store_pg_none.c). This is the
 * bottom of the login code: the stores, auth_otp.c and auth.c use it; it
 * uses none of them. */
#ifndef FERRY_USERSTORE_H
#define FERRY_USERSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otp.h"

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
	char *home;	     /* absolute directory */
	char *account;	     /* NULL: ACCT not required */
	uint32_t perms;
	bool enabled;
	int64_t created_at, updated_at; /* seconds since the epoch */
};
void user_record_free(struct user_record *u); /* frees the strings, not u */

/* A user's one-time password settings (table otp; no row = nothing set). */
struct otp_state {
	bool otp; /* an RFC 2289 key is set */
	enum otp_alg alg;
	unsigned seq; /* the store holds OTP(seq); the next challenge asks for seq-1 */
	char seed[OTP_SEED_MAX + 1];
	uint64_t last;		/* OTP(seq): the last accepted one-time password */
	char *totp_secret;	/* RFC 6238 key, base32; NULL: no TOTP */
	int64_t totp_last_step; /* last accepted time step (T), so a code works once */
	int reply;		/* 0: server default ([otp] challenge), 331 or 336 */
	bool static_ok;		/* the static password is accepted instead of an OTP */
};
void otp_state_free(struct otp_state *st); /* wipes and frees the secret, not st */

/* Failed logins and bans shared by every ferryd using the store (schema 4,
 * table bans): one row per client address group, keyed by its text as
 * guard.h formats it ("192.0.2.1", "2001:db8:1:2::/64"). Times are
 * wall-clock milliseconds since the epoch, so the nodes' clocks must agree
 * (NTP, as TOTP already needs). The rule is guard.h's: failures failed
 * logins within window_ms ban the address for ban_ms, doubled for each
 * repeat within max_ms of the last ban, up to max_ms. */
struct ban_rule {
	int64_t failures; /* >= 1 */
	int64_t window_ms;
	int64_t ban_ms;
	int64_t max_ms;
};

/* One row of table bans as it is stored: an address's failed-login count
 * in its window, its ban and its earlier bans (ferry store copy). */
struct ban_row {
	const char *address;
	int64_t failures, window_start, banned_until, offences, updated_at;
};

/* A user's SSH public key (schema 5, table user_keys): one OpenSSH
 * public key line, taken apart. The fingerprint is OpenSSH's
 * ("SHA256:" and unpadded base64 of the blob's SHA-256), unique per user. */
struct user_key {
	char *type;	   /* the key type as the line names it: "ssh-ed25519" */
	char *blob;	   /* the key itself: the line's base64 */
	char *comment;	   /* "" when the line has none */
	char *fingerprint; /* "SHA256:..." */
	int64_t created_at;
};
void user_key_free(struct user_key *k); /* frees the strings, not k */

struct userstore; /* one open handle; not shared between threads */

/* open's flags. CREATE: make the database (SQLite: the file) and schema if
 * missing, else a missing store is -ENOENT; both stores bring an older
 * schema up to date either way (store_migrate.h). LAZY: a store behind a
 * server (PostgreSQL) connects at its first call instead of now, so a
 * database that is down when a job thread starts is not an error; the
 * handle then checks the schema version at each connection. */
enum { USERSTORE_CREATE = 1u << 0, USERSTORE_LAZY = 1u << 1 };

/* The statements of groups and policies (schema 5; the SQL is
 * store_policy_sql.h's, the calls on them policy.h's, store_policy.c). */
enum store_policy_sql {
	STORE_POL_GROUP_ADD,	  /* 1 name, 2 created_at */
	STORE_POL_GROUP_DEL,	  /* 1 name */
	STORE_POL_GROUP_LIST,	  /* 1 name or NULL -> name */
	STORE_POL_MEMBER_CLEAR,	  /* 1 user */
	STORE_POL_MEMBER_ADD,	  /* 1 user, 2 group, 3 position */
	STORE_POL_MEMBER_LIST,	  /* 1 user or NULL, 2 group or NULL -> user, group */
	STORE_POL_USER_PUT,	  /* 1 user, 2 attr, 3 key, 4 value */
	STORE_POL_USER_DEL,	  /* 1 user, 2 attr, 3 key */
	STORE_POL_USER_GET,	  /* 1 user -> attr, key, value */
	STORE_POL_GROUP_PUT,	  /* as USER_* for a group */
	STORE_POL_GROUP_DEL_ATTR, /* 1 group, 2 attr, 3 key */
	STORE_POL_GROUP_GET,	  /* 1 group -> attr, key, value */
	/* Quota usage (schema 7, policy.h): an absent row is 0, 0. */
	STORE_POL_USAGE_GET, /* 1 user -> bytes, files */
	STORE_POL_USAGE_ADD, /* 1 user, 2 delta bytes, 3 delta files (clamped at 0) */
	STORE_POL_USAGE_SET, /* 1 user, 2 bytes, 3 files */
	/* Quota grants (schema 8, policy.h): bytes a node holds for a user's
	 * uploads beyond the usage. */
	STORE_POL_USAGE_LOCK,  /* 1 user: the usage row, created if absent and locked to the transaction's end */
	STORE_POL_GRANT_ROOM,  /* 1 user, 2 node, 3 now -> usage bytes, bytes of the live grants */
	STORE_POL_GRANT_ADD,   /* 1 user, 2 node, 3 bytes, 4 expires */
	STORE_POL_GRANT_SUB,   /* 1 user, 2 node, 3 bytes (clamped at 0) */
	STORE_POL_GRANT_RENEW, /* 1 node, 2 expires */
	STORE_POL_GRANT_CLEAR, /* 1 user, 2 now, 3 node kept ("": none): the expired grants */
	STORE_POL_GRANT_DROP,  /* 1 node: all its grants */
	STORE_POL_GRANT_LIST,  /* 1 user -> node, bytes, expires */
	STORE_POL_COUNT
};
#define STORE_POL_MAX_ARGS 4
#define STORE_POL_MAX_COLS 3

/* A transaction around several calls (ferry store copy). */
enum userstore_txn { USERSTORE_BEGIN, USERSTORE_COMMIT, USERSTORE_ROLLBACK };

struct userstore_ops {
	const char *name; /* "sqlite", "postgres": [store] backend */
	/* Opens the store named by cfg (flags: USERSTORE_*). Writes a clear
	 * message to err on failure. */
	int (*open)(const struct config *cfg, unsigned flags, struct userstore **out, char *err, size_t errsz);
	/* Names the store cfg configures for messages ("user database PATH",
	 * "PostgreSQL user store host=... dbname=..."): never a password. */
	void (*where)(const struct config *cfg, char *out, size_t outsz);
	/* The schema version of the open store and the one open found (equal
	 * when open had nothing to migrate). */
	void (*schema)(struct userstore *s, int *version, int *found);
	/* Begins, commits or rolls back a transaction: the calls in between
	 * take effect together or not at all. */
	int (*txn)(struct userstore *s, enum userstore_txn what);
	/* 0 and *out filled, -ENOENT if no such user, other -errno on failure. */
	int (*lookup)(struct userstore *s, const char *name, struct user_record *out);
	/* Admin operations (the ferry CLI). -EEXIST / -ENOENT as appropriate.
	 * add: created_at 0 means now; a non-zero one is kept (copies). */
	int (*add)(struct userstore *s, const struct user_record *u);
	int (*remove)(struct userstore *s, const char *name);
	/* Replaces every field of the existing row u->name; updated_at = now. */
	int (*update)(struct userstore *s, const struct user_record *u);
	/* Compare-and-swap of a password hash (the upgrade at login,
	 * core/auth_hash.c): sets name's hash to new_hash only if it still
	 * is old_hash; -ESTALE when it is not (changed meanwhile, or no such
	 * user). Leaves updated_at alone: no admin changed the user. */
	int (*password_swap)(struct userstore *s, const char *name, const char *old_hash, const char *new_hash);
	/* Calls fn for each user in name order; stops early if fn returns non-zero. */
	int (*list)(struct userstore *s, int (*fn)(const struct user_record *u, void *arg), void *arg);
	void (*close)(struct userstore *s);

	/* One-time passwords. otp_get: 0, or -ENOENT when nothing is set.
	 * otp_put replaces the user's settings (-ENOENT: no such user); a
	 * state with nothing set removes the row. */
	int (*otp_get)(struct userstore *s, const char *name, struct otp_state *out);
	int (*otp_put)(struct userstore *s, const char *name, const struct otp_state *st);
	/* Compare-and-swap: stores OTP(seq-1) = next only if the row still
	 * holds seq and last; -ESTALE when another login got there first. */
	int (*otp_advance)(struct userstore *s, const char *name, unsigned seq, uint64_t last, uint64_t next);
	/* Records TOTP step as used only if it is later than the last one;
	 * -ESTALE otherwise (a code is accepted once). */
	int (*totp_advance)(struct userstore *s, const char *name, int64_t step);
	/* RFC 2289 §9: one outstanding challenge per name, across connections
	 * and servers sharing the store. lock takes it for owner until the
	 * wall-clock second until (-EBUSY: another owner holds it and it has
	 * not expired); unlock releases it if owner still holds it. */
	int (*challenge_lock)(struct userstore *s, const char *name, uint64_t owner, int64_t now, int64_t until);
	int (*challenge_unlock)(struct userstore *s, const char *name, uint64_t owner);
	/* A random secret made once per store (made-up challenges). */
	int (*server_secret)(struct userstore *s, uint8_t *out, size_t n);
	/* Kerberos principal → user mappings (RFC 2228 GSSAPI logins). check:
	 * 0 if principal may log in as name, -ENOENT if not. add: -EEXIST if
	 * the pair exists, -ENOENT if the user does not. remove: -ENOENT if
	 * absent. list: pairs in (user, principal) order; name NULL = all. */
	int (*principal_check)(struct userstore *s, const char *principal, const char *name);
	int (*principal_add)(struct userstore *s, const char *principal, const char *name);
	int (*principal_remove)(struct userstore *s, const char *principal, const char *name);
	int (*principal_list)(struct userstore *s, const char *name,
			      int (*fn)(const char *principal, const char *name, void *arg), void *arg);
	/* SSH public keys (struct user_key; SFTP publickey logins). add:
	 * -EEXIST if the user has a key of that fingerprint, -ENOENT if the
	 * user does not exist; created_at 0 means now. remove: -ENOENT if the
	 * user has no such key. list: name's keys (NULL: everyone's) in
	 * (user, added, fingerprint) order. check: 0 if name has the key of
	 * that fingerprint and blob, -ENOENT if not. */
	int (*key_add)(struct userstore *s, const char *name, const struct user_key *k);
	int (*key_remove)(struct userstore *s, const char *name, const char *fingerprint);
	int (*key_list)(struct userstore *s, const char *name,
			int (*fn)(const char *name, const struct user_key *k, void *arg), void *arg);
	int (*key_check)(struct userstore *s, const char *name, const char *fingerprint, const char *blob);
	/* Bans (struct ban_rule). ban_fail counts one failed login from
	 * address at now_ms under rule, in one statement, so failures from
	 * every node add up exactly: *until gets the address's banned_until
	 * afterwards (0, or past: not banned) and *started whether this very
	 * failure started the ban. ban_list calls fn for each address banned
	 * at now_ms, in address order. ban_remove forgets an address (its ban,
	 * failures and repeat offences; -ENOENT: nothing recorded).
	 * ban_purge deletes the rows nothing depends on any more at now_ms. */
	int (*ban_fail)(struct userstore *s, const char *address, const struct ban_rule *rule, int64_t now_ms,
			int64_t *until, bool *started);
	int (*ban_list)(struct userstore *s, int64_t now_ms, int (*fn)(const char *address, int64_t until, void *arg),
			void *arg);
	int (*ban_remove)(struct userstore *s, const char *address);
	int (*ban_purge)(struct userstore *s, const struct ban_rule *rule, int64_t now_ms);
	/* ban_rows calls fn for every row of table bans (banned now or not),
	 * in address order; ban_put writes one row as it is, replacing the
	 * address's (ferry store copy). */
	int (*ban_rows)(struct userstore *s, int (*fn)(const struct ban_row *row, void *arg), void *arg);
	int (*ban_put)(struct userstore *s, const struct ban_row *row);
	/* Waits at most timeout_ms for news that a ban changed (another node
	 * banned or ferry ban del lifted one) or for wake_fd to be readable:
	 * 1 when there may be news (and after a new connection, which missed
	 * what came before), 0 otherwise. NULL for a store that cannot tell
	 * (SQLite): the caller polls. PostgreSQL: LISTEN ferry_bans. */
	int (*ban_watch)(struct userstore *s, int wake_fd, int timeout_ms);
	/* Groups and policies (policy.h is the API on top of these two).
	 * policy_write runs statement q with n text arguments (NULL: SQL
	 * NULL): 0, -ENOENT when it changed no row, -EEXIST for a duplicate
	 * key, other -errno. policy_read calls fn with each row's text
	 * columns (never NULL) until fn returns non-zero (returned). */
	int (*policy_write)(struct userstore *s, enum store_policy_sql q, const char *const *args, int n);
	int (*policy_read)(struct userstore *s, enum store_policy_sql q, const char *const *args, int n,
			   int (*fn)(const char *const *cols, void *arg), void *arg);
};

/* The lookup both halves of a login start with (auth_lookup for USER,
 * auth_login for PASS): name's record into *u and, when the user exists, its
 * OTP settings into *st; *found and *have_st say which were there. Returns
 * 0, or the store's -errno for anything but "no such user" / "nothing set".
 * The caller owns and frees *u and *st in every case. Blocking. */
int userstore_load(const struct userstore_ops *ops, struct userstore *s, const char *name, struct user_record *u,
		   struct otp_state *st, bool *found, bool *have_st);

/* Virtual hosts ([host NAME], RFC 7151 HOST): a user of a host other than
 * the default one is stored under the key "NAME:HOST" (HOST the section's
 * name, lower case) in every table that names users; ':' is not allowed in
 * user names, so no key of one host can be a name of another. */
#define USER_HOST_SEP ':'
/* Writes name's key for host (NULL or "" = the default host: name itself)
 * to out. -EINVAL when name is empty or holds the separator (a client's
 * text, never a key), -ENAMETOOLONG when it does not fit. */
int user_key(const char *name, const char *host, char *out, size_t outsz);
/* The host part of a key, or NULL for a user of the default host; the name
 * is the key's first user_key_name_len() bytes. */
const char *user_key_host(const char *key);
size_t user_key_name_len(const char *key);

/* The embedded SQLite backend (store_sqlite.c). */
extern const struct userstore_ops store_sqlite_ops;
/* The PostgreSQL backend (store_pg.c; store_pg_none.c when ferry is built
 * without libpq: its open refuses with a clear message). */
extern const struct userstore_ops store_pg_ops;
/* The build's check of [store] postgres (buildinfo.c): nonzero with why
 * when the build has no PostgreSQL support. */
int store_pg_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz);

#endif
