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

/* Rows in HELP order. */
struct cmd_rows {
	const struct cmd_row *row;
	size_t n;
};

/* The verbs, and the SITE subcommands (Decision 17) the same way: a row
 * decides the argument rule and the syntax, and SITE HELP lists them (only
 * arg, fn, verb and syntax are used; flags and feat are 0 and NULL). The
 * dispatcher hands this to the handlers (struct proto's cmds), so FEAT, HELP
 * and SITE read the table that names them without calling back into
 * cmdtab.c. */
struct cmdtab {
	struct cmd_rows verbs;
	struct cmd_rows site;
};

const struct cmdtab *cmdtab_get(void);
/* Finds a verb of the main table (ASCII case-insensitive), or NULL. */
const struct cmd_row *cmdtab_find(struct slice verb);

/* Finds a verb among rows (ASCII case-insensitive), or NULL. Inline: the
 * handlers that read the table use it without linking cmdtab.c. */
static inline const struct cmd_row *cmd_rows_find(struct cmd_rows rows, struct slice verb)
{
	for (size_t i = 0; i < rows.n; i++)
		if (slice_eq_ci(verb, rows.row[i].verb))
			return &rows.row[i];
	return NULL;
}

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
