/* ferry: the admin CLI. Manages the user store and checks configuration
 * files. This file holds only main: the global options, the help text and
 * the dispatch to each command word's file (ferry_user.c, ferry_import.c, ferry_otp.c,
 * ferry_principal.c, ferry_ban.c, ferry_store.c, ferry_admin.c; ferry_common.c holds what
 * they share),
 * plus `config check`. Started as root, a command that opens the store
 * becomes the service account first (cli_open_store), so everything it
 * creates belongs to the account ferryd runs as. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ferry_cli.h"
#include "ferry_version.h"

static const char cli_usage_text[] =
    "Usage: ferry [-c FILE] COMMAND\n"
    "\n"
    "Users:\n"
    "  user add NAME --home DIR [--account ACCT] [--perms LIST] [--create-home] [--disabled]\n"
    "  user del NAME\n"
    "  user list\n"
    "  user show NAME\n"
    "  user passwd NAME\n"
    "  user enable NAME\n"
    "  user disable NAME\n"
    "  user set NAME [--home DIR [--create-home]] [--account ACCT|--no-account] [--perms LIST]\n"
    "  user import --format pureftpd|proftpd|htpasswd FILE [--home-base DIR] [--replace]\n"
    "              [--create-homes] [--perms LIST] [--dry-run]\n"
    "                     take the users of a Pure-FTPd, ProFTPD or htpasswd file, keeping\n"
    "                     the password hashes libxcrypt verifies (exit 1: some skipped)\n"
    "  user set NAME [--groups G1,G2] [--perms inherit] [--mount VPATH=DIR[:PERMS]] [--unmount VPATH]\n"
    "                [--dir-perms VPATH=PERMS] [--quota-bytes N] [--quota-files N] [--rate-down N]\n"
    "                [--rate-up N] [--allow-from CIDR,...] [--expires DATE] [--max-sessions N]\n"
    "                     policy: sizes take K/M/G, rates (bytes/s) K/M; each option takes\n"
    "                     'inherit' to drop the user's own value (groups, then server apply)\n"
    "Groups (a user takes policy from itself, then its groups in order, then the server):\n"
    "  group add NAME\n"
    "  group del NAME\n"
    "  group list\n"
    "  group show NAME\n"
    "  group set NAME [--perms LIST] [the policy options of user set but --groups]\n"
    "\n"
    "SSH public keys a user may log in with over SFTP (keys named by their SHA256 fingerprint):\n"
    "  user key add NAME  read one OpenSSH public key line (a .pub file) from standard input\n"
    "  user key list NAME fingerprint, type, comment and date added of each key\n"
    "  user key del NAME FINGERPRINT\n"
    "\n"
    "One-time passwords:\n"
    "  otp init NAME [--alg md5|sha1] [--count N] [--seed SEED] [--reply 331|336] [--allow-password]\n"
    "  otp show NAME\n"
    "  otp set NAME [--reply 331|336|default] [--allow-password|--no-password]\n"
    "  otp disable NAME\n"
    "  totp enable NAME\n"
    "  totp disable NAME\n"
    "Kerberos principals allowed to log in as a user (AUTH GSSAPI, then USER -> 232):\n"
    "  principal add PRINCIPAL NAME\n"
    "  principal del PRINCIPAL NAME\n"
    "  principal list [NAME]\n"
    "  (without a mapping, PRINCIPAL name@DEFAULT.REALM may log in as name)\n"
    "\n"
    "Failed-login bans ([limits] ban_*), shared by every ferryd using the store:\n"
    "  ban list           addresses banned now, and until when\n"
    "  ban del ADDRESS    lift ADDRESS's ban (an IPv6 address: its /64) and forget its\n"
    "                     failed logins, on every node\n"
    "\n"
    "Quotas (user set/group set --quota-bytes/--quota-files):\n"
    "  quota show NAME    NAME's quota and the usage the store keeps\n"
    "  quota scan NAME    recount NAME's usage from the home on disk into the store\n"
    "\n"
    "User store:\n"
    "  store migrate      bring the store's schema up to this ferry's version\n"
    "  store copy --to CONNINFO [--force]\n"
    "                     copy every user, OTP/TOTP setting, principal mapping and SSH key\n"
    "                     (and the bans) into a PostgreSQL database (--force: replace its users)\n"
    "\n"
    "Configuration:\n"
    "  config check       validate the configuration file\n"
    "\n"
    "Running server (through [admin] socket):\n"
    "  status             live FTP and SFTP sessions: id, user, address, protocol, state,\n"
    "                     idle time, transfer and progress\n"
    "  kick SESSION       close a session (FTP: 421), by the id status shows\n"
    "  kick --user NAME   close every session of a user (--ip ADDRESS: from an address)\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE  configuration file (default " FERRY_DEFAULT_CONFIG ")\n"
    "  -h, --help         show this help\n"
    "  -V, --version      show the version\n"
    "\n"
    "NAME is 1-64 characters of A-Z a-z 0-9 . _ @ - and starts with neither '-' nor '.'.\n"
    "LIST is a comma-separated subset of read,write,delete,rename,mkdir,list, or all\n"
    "(the default). Passwords are read from the terminal (twice, not echoed) or as\n"
    "one line from standard input, never from the command line; so is the OTP pass\n"
    "phrase (10-63 characters, RFC 2289).\n";

/* The same check as ferryd --check: load and validate, report, no side
 * effects (no privilege drop, nothing opened besides the file). */
static int cli_config(struct cli *c, int argc, char **argv)
{
	char err[1024];
	const char *path = c->conf_arg ? c->conf_arg : FERRY_DEFAULT_CONFIG;

	if (argc < 1 || strcmp(argv[0], "check") != 0)
		return cli_usage_err("config: expected 'config check'");
	if (argc > 1)
		return cli_usage_err("config check: unexpected argument '%s'", argv[1]);
	int r = config_load(path, &c->cfg, err, sizeof(err));
	if (r)
		return cli_err("%s", err);
	(void)printf("%s: OK\n", path);
	return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option global[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { 0 };
	int o, rc = CLI_EXIT_OK;

	opterr = 0;
	/* '+': stop at the command word; its own options are parsed later. */
	while ((o = getopt_long(argc, argv, "+:c:hV", global, NULL)) != -1) {
		switch (o) {
		case 'c':
			c.conf_arg = optarg;
			break;
		case 'h':
			(void)fputs(cli_usage_text, stdout);
			goto out;
		case 'V':
			(void)printf("ferry %s\n", FERRY_VERSION);
			goto out;
		case ':':
			return cli_usage_err("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return cli_usage_err("unknown option '-%c'", optopt);
			return cli_usage_err("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_err("missing command");
	if (strcmp(argv[optind], "user") == 0 && optind + 1 < argc && strcmp(argv[optind + 1], "import") == 0) {
		rc = cli_user_import(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "user") == 0 && optind + 1 < argc && strcmp(argv[optind + 1], "set") == 0) {
		rc = cli_user_set(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "user") == 0) {
		rc = cli_user(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "group") == 0) {
		rc = cli_group(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "otp") == 0) {
		rc = cli_otp(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "totp") == 0) {
		rc = cli_totp(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "principal") == 0) {
		rc = cli_principal(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "ban") == 0) {
		rc = cli_ban(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "quota") == 0) {
		rc = cli_quota(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "store") == 0) {
		rc = cli_store(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "status") == 0) {
		rc = cli_status(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "kick") == 0) {
		rc = cli_kick(&c, argc - optind - 1, argv + optind + 1);
	} else if (strcmp(argv[optind], "config") == 0) {
		rc = cli_config(&c, argc - optind - 1, argv + optind + 1);
	} else {
		char esc[128];
		rc = cli_usage_err("unknown command '%s'", cli_esc(argv[optind], esc, sizeof(esc)));
	}

out:
	if (c.store)
		c.ops->close(c.store);
	if (c.cfg)
		config_unref(c.cfg);
	/* A full disk or closed pipe must not look like success to a script. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		(void)fprintf(stderr, "ferry: cannot write output: %s\n", strerror(errno));
		return CLI_EXIT_FAIL;
	}
	return rc;
}
