#include "cmdtab.h"

#include "cmd.h"
#include "util.h"

#define PRE CMD_PRELOGIN
#define KR CMD_KEEP_REST
#define KN CMD_KEEP_RNFR
#define IX CMD_IN_XFER
#define SP CMD_SEC_PLAIN

/* One row per verb, in the order HELP lists them. The row is the only place
 * that says whether a verb needs login, whether it takes an argument, what
 * survives it (REST marker, RNFR) and whether it acts during a transfer. */
static const struct cmd_row table[] = {
	{ "ABOR", cmd_abor, ARG_NONE, PRE | IX, "ABOR", NULL },
	{ "ACCT", cmd_acct, ARG_REQUIRED, PRE, "ACCT <sp> account-information", NULL },
	{ "ADAT", cmd_adat, ARG_REQUIRED, PRE | SP, "ADAT <sp> base64-data", NULL },
	{ "ALLO", cmd_allo, ARG_OPTIONAL, 0, "ALLO <sp> decimal-integer", NULL },
	{ "APPE", cmd_appe, ARG_REQUIRED, KR, "APPE <sp> pathname", NULL },
	{ "AUTH", cmd_auth, ARG_REQUIRED, PRE | SP | CMD_TLS_FEAT, "AUTH <sp> TLS | GSSAPI", "AUTH TLS" },
	{ "AVBL", cmd_avbl, ARG_OPTIONAL, 0, "AVBL [<sp> pathname]", "AVBL" },
	{ "CCC", cmd_ccc, ARG_NONE, PRE, "CCC", NULL },
	{ "CDUP", cmd_cdup, ARG_NONE, 0, "CDUP", NULL },
	{ "CLNT", cmd_clnt, ARG_REQUIRED, PRE, "CLNT <sp> client-name", "CLNT" },
	{ "CONF", cmd_conf, ARG_REQUIRED, PRE | SP | KR | KN, "CONF <sp> base64-data", NULL },
	{ "CWD", cmd_cwd, ARG_REQUIRED, 0, "CWD <sp> pathname", "TVFS" },
	{ "DELE", cmd_dele, ARG_REQUIRED, 0, "DELE <sp> pathname", NULL },
	{ "ENC", NULL, ARG_REQUIRED, PRE | SP | KR | KN | CMD_WRAPS, "ENC <sp> base64-data", NULL },
	{ "EPRT", cmd_eprt, ARG_REQUIRED, KR, "EPRT <sp> |af|address|port|", "EPRT" },
	{ "EPSV", cmd_epsv, ARG_OPTIONAL, KR, "EPSV [<sp> 1 | 2 | ALL]", "EPSV" },
	{ "FEAT", cmd_feat, ARG_NONE, PRE, "FEAT", NULL },
	{ "HASH", cmd_hash, ARG_REQUIRED, KR, "HASH <sp> pathname", "HASH" },
	{ "HELP", cmd_help, ARG_OPTIONAL, PRE | KN, "HELP [<sp> command]", NULL },
	{ "HOST", cmd_host, ARG_REQUIRED, PRE, "HOST <sp> hostname", "HOST" },
	{ "LIST", cmd_list, ARG_OPTIONAL, 0, "LIST [<sp> pathname]", NULL },
	{ "MDTM", cmd_mdtm, ARG_REQUIRED, 0, "MDTM <sp> pathname", "MDTM" },
	{ "MFF", cmd_mff, ARG_REQUIRED, 0, "MFF <sp> fact=value;... <sp> pathname", "MFF modify;UNIX.mode;" },
	{ "MFMT", cmd_mfmt, ARG_REQUIRED, 0, "MFMT <sp> YYYYMMDDHHMMSS <sp> pathname", "MFMT" },
	{ "MIC", NULL, ARG_REQUIRED, PRE | SP | KR | KN | CMD_WRAPS, "MIC <sp> base64-data", NULL },
	{ "MKD", cmd_mkd, ARG_REQUIRED, 0, "MKD <sp> pathname", NULL },
	{ "MLSD", cmd_mlsd, ARG_OPTIONAL, 0, "MLSD [<sp> pathname]", NULL },
	{ "MLST", cmd_mlst, ARG_OPTIONAL, 0, "MLST [<sp> pathname]", "MLST" },
	{ "MODE", cmd_mode, ARG_REQUIRED, 0, "MODE <sp> S", NULL },
	{ "NLST", cmd_nlst, ARG_OPTIONAL, 0, "NLST [<sp> pathname]", NULL },
	{ "NOOP", cmd_noop, ARG_NONE, PRE | KR | KN, "NOOP", NULL },
	{ "OPTS", cmd_opts, ARG_REQUIRED, PRE, "OPTS <sp> UTF8 ON | MLST facts | HASH [<sp> algorithm]", "UTF8" },
	{ "PASS", cmd_pass, ARG_OPTIONAL, PRE, "PASS <sp> password", NULL },
	{ "PASV", cmd_pasv, ARG_NONE, KR, "PASV", NULL },
	{ "PBSZ", cmd_pbsz, ARG_REQUIRED, PRE | CMD_TLS_FEAT, "PBSZ <sp> decimal-integer", "PBSZ" },
	{ "PORT", cmd_port, ARG_REQUIRED, KR, "PORT <sp> h1,h2,h3,h4,p1,p2", NULL },
	{ "PROT", cmd_prot, ARG_REQUIRED, PRE | CMD_TLS_FEAT, "PROT <sp> C | S | P", "PROT" },
	{ "PWD", cmd_pwd, ARG_NONE, 0, "PWD", NULL },
	{ "QUIT", cmd_quit, ARG_NONE, PRE, "QUIT", NULL },
	{ "RANG", cmd_rang, ARG_REQUIRED, 0, "RANG <sp> start <sp> end", "RANG STREAM" },
	{ "REIN", cmd_rein, ARG_NONE, PRE, "REIN", NULL },
	{ "REST", cmd_rest, ARG_REQUIRED, KR, "REST <sp> offset", "REST STREAM" },
	{ "RETR", cmd_retr, ARG_REQUIRED, KR, "RETR <sp> pathname", NULL },
	{ "RMD", cmd_rmd, ARG_REQUIRED, 0, "RMD <sp> pathname", NULL },
	{ "RNFR", cmd_rnfr, ARG_REQUIRED, 0, "RNFR <sp> pathname", NULL },
	{ "RNTO", cmd_rnto, ARG_REQUIRED, KN, "RNTO <sp> pathname", NULL },
	{ "SITE", cmd_site, ARG_REQUIRED, 0, "SITE <sp> CHMOD | HELP", NULL },
	{ "SIZE", cmd_size, ARG_REQUIRED, 0, "SIZE <sp> pathname", "SIZE" },
	{ "STAT", cmd_stat, ARG_OPTIONAL, PRE | KN | IX, "STAT [<sp> pathname]", NULL },
	{ "STOR", cmd_stor, ARG_REQUIRED, KR, "STOR <sp> pathname", NULL },
	{ "STOU", cmd_stou, ARG_OPTIONAL, 0, "STOU", NULL },
	{ "STRU", cmd_stru, ARG_REQUIRED, 0, "STRU <sp> F", NULL },
	{ "SYST", cmd_syst, ARG_NONE, PRE, "SYST", NULL },
	{ "TYPE", cmd_type, ARG_REQUIRED, KR, "TYPE <sp> A [<sp> N] | I | L <sp> 8", NULL },
	{ "USER", cmd_user, ARG_REQUIRED, PRE, "USER <sp> username", NULL },
	{ "XCRC", cmd_xcrc, ARG_REQUIRED, 0, "XCRC <sp> pathname [<sp> start <sp> end]", NULL },
	{ "XCUP", cmd_cdup, ARG_NONE, 0, "XCUP", NULL },
	{ "XCWD", cmd_cwd, ARG_REQUIRED, 0, "XCWD <sp> pathname", NULL },
	{ "XMD5", cmd_xmd5, ARG_REQUIRED, 0, "XMD5 <sp> pathname [<sp> start <sp> end]", NULL },
	{ "XMKD", cmd_mkd, ARG_REQUIRED, 0, "XMKD <sp> pathname", NULL },
	{ "XPWD", cmd_pwd, ARG_NONE, 0, "XPWD", NULL },
	{ "XRMD", cmd_rmd, ARG_REQUIRED, 0, "XRMD <sp> pathname", NULL },
	{ "XSHA1", cmd_xsha1, ARG_REQUIRED, 0, "XSHA1 <sp> pathname [<sp> start <sp> end]", NULL },
	{ "XSHA256", cmd_xsha256, ARG_REQUIRED, 0, "XSHA256 <sp> pathname [<sp> start <sp> end]", NULL },
	{ "XSHA512", cmd_xsha512, ARG_REQUIRED, 0, "XSHA512 <sp> pathname [<sp> start <sp> end]", NULL },
};

/* SITE subcommands, in SITE HELP order. RFC 2577 §9: nothing that runs
 * programs (SITE EXEC) and nothing beyond what real clients need. */
static const struct cmd_row site_table[] = {
	{ "CHMOD", cmd_site_chmod, ARG_REQUIRED, 0, "SITE CHMOD <sp> octal-mode <sp> pathname", NULL },
	{ "HELP", cmd_site_help, ARG_OPTIONAL, 0, "SITE HELP [<sp> site-command]", NULL },
};

static const struct cmdtab tab = {
	.verbs = { table, ARRAY_LEN(table) },
	.site = { site_table, ARRAY_LEN(site_table) },
};

const struct cmdtab *cmdtab_get(void)
{
	return &tab;
}
