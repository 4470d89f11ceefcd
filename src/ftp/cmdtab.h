/* cmdtab: the command table. One row per verb decides the argument rule,
 * the states the verb is allowed in, its HELP syntax and its FEAT line, so
 * handlers never re-check those and FEAT/HELP are generated from it.
 * The table is data: the session hands it to proto (proto_new), which looks
 * verbs up in it and calls the row's fn. The handlers it names are declared
 * in cmd.h, which proto.c does not include: the dispatcher never names a
 * command file, so there is no proto -> cmdtab -> cmd_* -> proto loop. */
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
 * arg, fn, verb and syntax are used; flags and feat are 0 and NULL). proto
 * keeps it (struct proto's cmds), so the dispatcher and FEAT, HELP and SITE
 * read the table without calling into cmdtab.c. */
struct cmdtab {
	struct cmd_rows verbs;
	struct cmd_rows site;
};

/* The FTP command table (static: never freed). */
const struct cmdtab *cmdtab_get(void);

/* Finds a verb among rows (ASCII case-insensitive), or NULL. Inline: the
 * dispatcher and the handlers that read the table use it without linking
 * cmdtab.c. */
static inline const struct cmd_row *cmd_rows_find(struct cmd_rows rows, struct slice verb)
{
	/* The first letters, folded, rule out most rows before the full
	 * comparison (| 0x20 folds ASCII letters; it only pre-filters). */
	unsigned char c0 = verb.n ? (unsigned char)(verb.p[0] | 0x20) : 0;
	for (size_t i = 0; i < rows.n; i++)
		if ((unsigned char)(rows.row[i].verb[0] | 0x20) == c0 && slice_eq_ci(verb, rows.row[i].verb))
			return &rows.row[i];
	return NULL;
}

#endif
