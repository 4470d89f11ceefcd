/* ferry_cli: what the ferry admin CLI's files share (ferry.c: main and
 * config check; ferry_common.c: the helpers below; ferry_user.c: users;
 * ferry_import.c: user import; ferry_user_key.c: users' SSH keys;
 * ferry_otp.c: one-time passwords and TOTP; ferry_principal.c: Kerberos
 * principals; ferry_ban.c: failed-login bans; ferry_store.c: schema
 * migrations and copying a store;
 * ferry_admin.c: the running server). Not used by ferryd. */
#ifndef FERRY_FERRY_CLI_H
#define FERRY_FERRY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "config.h"

#ifndef FERRY_DEFAULT_CONFIG
#define FERRY_DEFAULT_CONFIG "/etc/ferry/ferry.conf"
#endif

/* Input bound only: libxcrypt refuses passwords of CRYPT_MAX_PASSPHRASE_SIZE
 * (512) bytes or more, which cli_new_hash (ferry_user.c) reports. */
#define CLI_PASSWORD_MAX 1024
/* Room for the longest password, a CR, an LF and the NUL. */
#define CLI_PASSWORD_BUF (CLI_PASSWORD_MAX + 3)
#define CLI_NAME_MAX 64
#define CLI_HOME_MODE 0750

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

struct cli {
	const char *conf_arg; /* -c FILE, or NULL for the default */
	struct config *cfg;
	const struct userstore_ops *ops;
	struct userstore *store;
};

/* Writes "ferry: MESSAGE" to stderr and returns code; a usage error also
 * points at --help. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define cli_err(...) cli_fail(CLI_EXIT_FAIL, __VA_ARGS__)
#define cli_usage_err(...) cli_fail(CLI_EXIT_USAGE, __VA_ARGS__)

/* argv text made safe for a message; returns out. */
const char *cli_esc(const char *s, char *out, size_t outsz);
/* The wall clock in milliseconds since the epoch (the bans' times). */
int64_t cli_wall_ms(void);
bool cli_name_valid(const char *s);
/* Loads the configuration, then drops privileges and opens the store. */
int cli_load_config(struct cli *c);
/* flags: USERSTORE_CREATE (userstore.h) or 0. */
int cli_open_store(struct cli *c, unsigned flags);
/* Exit code and message for a store error about user name. */
int cli_store_err(const struct cli *c, const char *name, int r);
/* Exit code and "STORE: error" for a store error about nothing in particular. */
int cli_store_fail(const struct cli *c, int r);
/* Reads a secret: twice without echo from a terminal (prompt, then
 * "Repeat ..."), or one line from a pipe. Returns an exit code; *len is its
 * length; buf holds a secret the caller wipes. what names it in messages. */
int cli_get_secret(const char *what, char *buf, size_t bufsz, size_t maxlen, size_t *len);

/* --host HOSTNAME (virtual hosts): name's store key (user_key) in that
 * [host] of c->cfg (loaded), or name itself when host is NULL; *host_name
 * (may be NULL) the section's name or NULL. An unknown host is a usage
 * error (exit 2) naming the file. */
int cli_store_key(const struct cli *c, const char *name, const char *host, char *key, size_t keysz,
		  const char **host_name);
/* Takes "--host HOSTNAME" or "--host=HOSTNAME" out of argv[1..] (argv[0],
 * the verb, stays) into *host, shortening *argc; a second --host or one
 * without a value is a usage error naming cmd. For commands that take no
 * other options (quota, principal). */
int cli_host_opt(const char *cmd, int *argc, char **argv, const char **host);
/* ferry user add|del|list|show|passwd|enable|disable|set (ferry_user.c);
 * argv[0] is the verb. */
int cli_user(struct cli *c, int argc, char **argv);
/* ferry user import (ferry_import.c); argv[0] is "import". */
int cli_user_import(struct cli *c, int argc, char **argv);
/* mkdir -p of a home, each new directory CLI_HOME_MODE: 0 or -errno. */
int cli_mkdir_p(const char *path);
/* ferry user set (ferry_user_set.c): takes the policy options out and
 * hands the rest to cli_user. */
int cli_user_set(struct cli *c, int argc, char **argv);
/* ferry group add|del|list|show|set (ferry_group.c). */
int cli_group(struct cli *c, int argc, char **argv);
/* ferry user key add|list|del (ferry_user_key.c); argv[0] is the verb
 * after "key". */
int cli_user_key(struct cli *c, int argc, char **argv);
/* ferry otp ... / ferry totp ... (ferry_otp.c); argv[0] is the verb. */
int cli_otp(struct cli *c, int argc, char **argv);
int cli_totp(struct cli *c, int argc, char **argv);

/* ferry principal add|del|list (ferry_principal.c). */
int cli_principal(struct cli *c, int argc, char **argv);
/* ferry ban list|del (ferry_ban.c). */
int cli_ban(struct cli *c, int argc, char **argv);
/* ferry quota show|scan NAME (ferry_quota.c). */
int cli_quota(struct cli *c, int argc, char **argv);
/* ferry store migrate|copy (ferry_store.c). */
int cli_store(struct cli *c, int argc, char **argv);
/* ferry_admin.c: status and kick through the running ferryd's admin socket. */
int cli_status(struct cli *c, int argc, char **argv);
int cli_kick(struct cli *c, int argc, char **argv);

#endif
