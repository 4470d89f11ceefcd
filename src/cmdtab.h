/* cmdtab: the command table. One row per verb decides the argument rule,
 * the states the verb is allowed in, its HELP syntax and its FEAT line, so
 * handlers never re-check those and FEAT/HELP are generated from it. */
#ifndef FERRY_CMDTAB_H
#define FERRY_CMDTAB_H

#include <stddef.h>

#include "str.h"

struct proto;

enum cmd_arg { ARG_NONE, ARG_OPTIONAL, ARG_REQUIRED };

enum cmd_flags {
	CMD_PRELOGIN = 1u << 0, /* allowed before login */
};

struct cmd_row {
	const char *verb;
	void (*fn)(struct proto *p, struct slice arg);
	enum cmd_arg arg;
	unsigned flags;
	const char *syntax; /* for HELP VERB */
	const char *feat;   /* FEAT line without the leading space, or NULL */
};

/* Finds a verb (ASCII case-insensitive), or NULL. */
const struct cmd_row *cmdtab_find(struct slice verb);
/* The whole table, in HELP order. */
const struct cmd_row *cmdtab_rows(size_t *n);

/* Handlers (cmd_login.c, cmd_misc.c, cmd_xfer.c). */
void cmd_user(struct proto *p, struct slice arg);
void cmd_pass(struct proto *p, struct slice arg);
void cmd_acct(struct proto *p, struct slice arg);
void cmd_rein(struct proto *p, struct slice arg);
void cmd_quit(struct proto *p, struct slice arg);
void cmd_noop(struct proto *p, struct slice arg);
void cmd_syst(struct proto *p, struct slice arg);
void cmd_feat(struct proto *p, struct slice arg);
void cmd_help(struct proto *p, struct slice arg);
void cmd_stat(struct proto *p, struct slice arg);
void cmd_opts(struct proto *p, struct slice arg);
void cmd_clnt(struct proto *p, struct slice arg);
void cmd_allo(struct proto *p, struct slice arg);
void cmd_pwd(struct proto *p, struct slice arg);
void cmd_type(struct proto *p, struct slice arg);
void cmd_mode(struct proto *p, struct slice arg);
void cmd_stru(struct proto *p, struct slice arg);

#endif
