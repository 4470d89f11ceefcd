/* FEAT OPTS SYST HELP STAT NOOP CLNT ALLO SITE: commands that change no
 * files themselves (SITE hands its subcommands to their handlers). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmdtab.h"
#include "listing.h"
#include "log.h"
#include "proto_impl.h"
#include "reply.h"
#include "util.h"

void cmd_noop(struct proto *p, struct slice arg)
{
	proto_reply(p, 200, "NOOP ok.");
}

void cmd_syst(struct proto *p, struct slice arg)
{
	/* tnftp switches to binary only when the text starts with "UNIX". */
	proto_reply(p, 215, "UNIX Type: L8");
}

void cmd_feat(struct proto *p, struct slice arg)
{
	const struct cmd_row *rows = p->cmds->verbs.row;
	size_t n = p->cmds->verbs.n;
	proto_reply_begin(p, 211, "Features:");
	/* RFC 2389 §3.2: one feature per line, each starting with one space. */
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].feat || ((rows[i].flags & CMD_TLS_FEAT) && !p->tls_available && !p->gss_ops))
			continue;
		if (rows[i].fn == cmd_auth) { /* one line per mechanism offered */
			if (p->tls_available)
				proto_reply_cont(p, " AUTH TLS");
			if (p->gss_ops)
				proto_reply_cont(p, " AUTH GSSAPI");
			continue;
		}
		if (strcmp(rows[i].feat, "MLST") == 0) {
			/* RFC 3659 §7.8: '*' marks the facts currently selected. */
			char facts[128];
			listing_feat_facts(p->mlst_facts, facts, sizeof(facts));
			proto_reply_cont(p, " MLST %s", facts);
			continue;
		}
		if (rows[i].fn == cmd_hash) { /* HASH draft §3.1: '*' marks the selection */
			char algs[96];
			hash_alg_list(p->hash_alg, algs, sizeof(algs));
			proto_reply_cont(p, " HASH %s", algs);
			continue;
		}
		proto_reply_cont(p, " %s", rows[i].feat);
	}
	proto_reply_end(p, 211, "End");
}

/* Lists rows' verbs, eight to a line, as a 214 reply. */
static void help_list(struct proto *p, struct cmd_rows rows, const char *what)
{
	proto_reply_begin(p, 214, "The following %scommands are recognized.", what);
	char line[128];
	size_t len = 0;
	for (size_t i = 0; i < rows.n; i++) {
		int w = snprintf(line + len, sizeof(line) - len, " %-4s", rows.row[i].verb);
		if (w > 0)
			len += (size_t)w;
		if ((i + 1) % 8 == 0 || i + 1 == rows.n) {
			proto_reply_cont(p, "%s", line);
			len = 0;
		}
	}
	proto_reply_end(p, 214, "Help OK.");
}

/* SITE HELP [sub] and HELP SITE [sub]: the SITE table, or one row's syntax. */
void cmd_site_help(struct proto *p, struct slice arg)
{
	arg = slice_trim_spaces(arg);
	if (arg.n == 0) {
		help_list(p, p->cmds->site, "SITE ");
		return;
	}
	const struct cmd_row *row = cmd_rows_find(p->cmds->site, arg);
	if (!row) {
		char shown[64];
		proto_reply(p, 501, "Unknown SITE command %s.", reply_sanitize(arg, shown, sizeof(shown)));
		return;
	}
	proto_reply(p, 214, "Syntax: %s", row->syntax);
}

void cmd_help(struct proto *p, struct slice arg)
{
	if (arg.n) {
		struct slice verb, sub;
		(void)slice_split(slice_trim_spaces(arg), ' ', &verb, &sub);
		if (slice_eq_ci(verb, "SITE")) { /* RFC 959 §4.1.3: "HELP SITE" */
			cmd_site_help(p, sub);
			return;
		}
		const struct cmd_row *row = cmd_rows_find(p->cmds->verbs, slice_trim_spaces(arg));
		if (!row) {
			char shown[64];
			proto_reply(p, 501, "Unknown command %s.", reply_sanitize(arg, shown, sizeof(shown)));
			return;
		}
		proto_reply(p, 214, "Syntax: %s", row->syntax);
		return;
	}
	help_list(p, p->cmds->verbs, "");
}

/* SITE sub [args]: the subcommand's row decides its argument rule, as the
 * main table does for verbs. Anything not in the table is 500 (RFC 2577
 * §9: SITE EXEC and friends are an attack surface, never offered). */
void cmd_site(struct proto *p, struct slice arg)
{
	struct slice sub, rest;
	bool has_arg = slice_split(arg, ' ', &sub, &rest);
	const struct cmd_row *row = cmd_rows_find(p->cmds->site, sub);
	if (!row) {
		proto_reply(p, 500, "Unknown SITE command.");
		return;
	}
	if (row->arg == ARG_NONE && has_arg && rest.n) {
		proto_reply(p, 501, "SITE %s takes no argument.", row->verb);
		return;
	}
	if (row->arg == ARG_REQUIRED && (!has_arg || rest.n == 0)) {
		proto_reply(p, 501, "SITE %s needs an argument.", row->verb);
		return;
	}
	row->fn(p, has_arg ? rest : (struct slice){ arg.p + arg.n, 0 });
}

void cmd_stat(struct proto *p, struct slice arg)
{
	struct log_escaped e;
	if (arg.n && !proto_in_xfer(p)) {
		if (p->login != LOGIN_DONE) {
			proto_reply(p, 530, "Please login with USER and PASS.");
			return;
		}
		cmd_stat_path(p, arg);
		return;
	}
	if (proto_in_xfer(p)) {
		/* RFC 959 §4.1.3: during a transfer, the transfer's status. */
		proto_reply(p, 213, "Status: %llu bytes transferred.", (unsigned long long)p->xfer_bytes);
		return;
	}
	proto_reply_begin(p, 211, "FTP server status:");
	proto_reply_cont(p, " Connected from %s", p->peer);
	if (p->login == LOGIN_DONE)
		proto_reply_cont(p, " Logged in as %s", log_esc(slice_from_cstr(p->user), &e));
	else
		proto_reply_cont(p, " Not logged in");
	proto_reply_cont(p, " TYPE: %s, FORM: Nonprint; STRUcture: File; transfer MODE: Stream",
			 p->type == 'A' ? "ASCII" : "BINARY");
	if (p->tls)
		proto_reply_cont(p, " Control connection is TLS; data protection: %s",
				 p->prot == 'P' ? "private (PROT P)" : "clear (PROT C)");
	proto_reply_cont(p, " No data connection");
	proto_reply_end(p, 211, "End of status.");
}

void cmd_opts(struct proto *p, struct slice arg)
{
	struct slice name, rest;
	(void)slice_split(arg, ' ', &name, &rest);
	rest = slice_trim_spaces(rest);
	if (slice_eq_ci(name, "UTF8")) {
		if (slice_eq_ci(rest, "ON")) {
			proto_reply(p, 200, "Always in UTF8 mode.");
			return;
		}
		if (slice_eq_ci(rest, "OFF")) {
			proto_reply(p, 504, "UTF8 cannot be turned off.");
			return;
		}
		proto_reply(p, 501, "OPTS UTF8 takes ON.");
		return;
	}
	if (slice_eq_ci(name, "MLST")) {
		/* RFC 3659 §7.9: unknown facts are dropped silently. */
		char want[256], echo[128];
		(void)str_copy(want, sizeof(want), "");
		if (rest.n < sizeof(want)) {
			memcpy(want, rest.p, rest.n);
			want[rest.n] = '\0';
		}
		p->mlst_facts = listing_parse_facts(want, echo, sizeof(echo));
		proto_reply(p, 200, "MLST OPTS %s", echo);
		return;
	}
	if (slice_eq_ci(name, "HASH")) {
		cmd_opts_hash(p, rest);
		return;
	}
	proto_reply(p, 501, "Option not understood.");
}

void cmd_clnt(struct proto *p, struct slice arg)
{
	struct log_escaped e;
	log_info(p->sid, "client: \"%s\"", log_esc(arg, &e));
	proto_reply(p, 200, "Noted.");
}

void cmd_allo(struct proto *p, struct slice arg)
{
	/* RFC 959 §4.1.3: servers that need no allocation treat ALLO as NOOP. */
	proto_reply(p, 202, "No storage allocation necessary.");
}
