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
	CMD_PRELOGIN = 1u << 0,	 /* allowed before login */
	CMD_KEEP_REST = 1u << 1, /* a pending REST marker survives this command */
	CMD_KEEP_RNFR = 1u << 2, /* a pending RNFR survives this command */
	CMD_IN_XFER = 1u << 3,	 /* acts immediately while a transfer runs */
	CMD_TLS_FEAT = 1u << 4,	 /* FEAT line only when TLS or GSSAPI is configured */
	CMD_SEC_PLAIN = 1u << 5, /* allowed unprotected when RFC 2228 protection is required */
	CMD_WRAPS = 1u << 6,	 /* MIC, ENC: the dispatcher unwraps and runs the argument (fn NULL) */
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
/* The SITE subcommands (Decision 17), the same way: a row decides the
 * argument rule and the syntax, and SITE HELP lists them. Only arg, fn,
 * verb and syntax are used; flags and feat are 0 and NULL. */
const struct cmd_row *cmdtab_find_site(struct slice verb);
const struct cmd_row *cmdtab_site_rows(size_t *n);

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
void cmd_cwd(struct proto *p, struct slice arg);
void cmd_cdup(struct proto *p, struct slice arg);
void cmd_mkd(struct proto *p, struct slice arg);
void cmd_rmd(struct proto *p, struct slice arg);
void cmd_dele(struct proto *p, struct slice arg);
void cmd_rnfr(struct proto *p, struct slice arg);
void cmd_rnto(struct proto *p, struct slice arg);
void cmd_size(struct proto *p, struct slice arg);
void cmd_mdtm(struct proto *p, struct slice arg);
void cmd_mlst(struct proto *p, struct slice arg);
void cmd_rest(struct proto *p, struct slice arg);
void cmd_pasv(struct proto *p, struct slice arg);
void cmd_epsv(struct proto *p, struct slice arg);
void cmd_port(struct proto *p, struct slice arg);
void cmd_eprt(struct proto *p, struct slice arg);
void cmd_retr(struct proto *p, struct slice arg);
void cmd_stor(struct proto *p, struct slice arg);
void cmd_appe(struct proto *p, struct slice arg);
void cmd_stou(struct proto *p, struct slice arg);
void cmd_list(struct proto *p, struct slice arg);
void cmd_nlst(struct proto *p, struct slice arg);
void cmd_mlsd(struct proto *p, struct slice arg);
void cmd_abor(struct proto *p, struct slice arg);
void cmd_mfmt(struct proto *p, struct slice arg);
void cmd_auth(struct proto *p, struct slice arg);
void cmd_pbsz(struct proto *p, struct slice arg);
void cmd_prot(struct proto *p, struct slice arg);
void cmd_ccc(struct proto *p, struct slice arg);
void cmd_mff(struct proto *p, struct slice arg);
void cmd_stat_path(struct proto *p, struct slice arg);
void cmd_adat(struct proto *p, struct slice arg);
void cmd_conf(struct proto *p, struct slice arg);
void cmd_site(struct proto *p, struct slice arg);
void cmd_site_help(struct proto *p, struct slice arg);
void cmd_site_chmod(struct proto *p, struct slice arg);

#endif
