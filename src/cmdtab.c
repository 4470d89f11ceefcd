#include "cmdtab.h"

#include "util.h"

/* One row per verb, in the order HELP lists them. The row is the only place
 * that says whether a verb needs login and whether it takes an argument. */
static const struct cmd_row table[] = {
	{ "ACCT", cmd_acct, ARG_REQUIRED, CMD_PRELOGIN, "ACCT <sp> account-information", NULL },
	{ "ALLO", cmd_allo, ARG_OPTIONAL, 0, "ALLO <sp> decimal-integer", NULL },
	{ "CLNT", cmd_clnt, ARG_REQUIRED, CMD_PRELOGIN, "CLNT <sp> client-name", "CLNT" },
	{ "FEAT", cmd_feat, ARG_NONE, CMD_PRELOGIN, "FEAT", NULL },
	{ "HELP", cmd_help, ARG_OPTIONAL, CMD_PRELOGIN, "HELP [<sp> command]", NULL },
	{ "MODE", cmd_mode, ARG_REQUIRED, 0, "MODE <sp> S", NULL },
	{ "NOOP", cmd_noop, ARG_NONE, CMD_PRELOGIN, "NOOP", NULL },
	{ "OPTS", cmd_opts, ARG_REQUIRED, CMD_PRELOGIN, "OPTS <sp> UTF8 ON", "UTF8" },
	{ "PASS", cmd_pass, ARG_OPTIONAL, CMD_PRELOGIN, "PASS <sp> password", NULL },
	{ "PWD", cmd_pwd, ARG_NONE, 0, "PWD", NULL },
	{ "QUIT", cmd_quit, ARG_NONE, CMD_PRELOGIN, "QUIT", NULL },
	{ "REIN", cmd_rein, ARG_NONE, CMD_PRELOGIN, "REIN", NULL },
	{ "STAT", cmd_stat, ARG_NONE, CMD_PRELOGIN, "STAT", NULL },
	{ "STRU", cmd_stru, ARG_REQUIRED, 0, "STRU <sp> F", NULL },
	{ "SYST", cmd_syst, ARG_NONE, CMD_PRELOGIN, "SYST", NULL },
	{ "TYPE", cmd_type, ARG_REQUIRED, 0, "TYPE <sp> A [<sp> N] | I | L <sp> 8", NULL },
	{ "USER", cmd_user, ARG_REQUIRED, CMD_PRELOGIN, "USER <sp> username", NULL },
	{ "XPWD", cmd_pwd, ARG_NONE, 0, "XPWD", NULL },
};

const struct cmd_row *cmdtab_find(struct slice verb)
{
	for (size_t i = 0; i < ARRAY_LEN(table); i++)
		if (slice_eq_ci(verb, table[i].verb))
			return &table[i];
	return NULL;
}

const struct cmd_row *cmdtab_rows(size_t *n)
{
	*n = ARRAY_LEN(table);
	return table;
}
