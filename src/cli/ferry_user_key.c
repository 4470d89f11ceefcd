/* ferry user key add|list|del: the SSH public keys a user may log in with
 * over SFTP (publickey). add reads one OpenSSH public key line (a .pub
 * file's) on standard input and checks it with libssh (sftp_pubkey_parse;
 * a build without SFTP refuses); keys are named by their SHA256
 * fingerprint, as ssh-keygen -l prints it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ferry_cli.h"
#include "sftp.h"
#include "sftp_keyline.h"

/* Input refused (a bad key line, a key the user already has): "ferry:
 * MESSAGE" and exit 2, without cli_usage_err's pointer to --help (the
 * command was right, its input was not). */
__attribute__((format(printf, 1, 2))) static int cli_key_refused(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)fputs("ferry: ", stderr);
	(void)vfprintf(stderr, fmt, ap);
	(void)fputs("\n", stderr);
	va_end(ap);
	return CLI_EXIT_USAGE;
}

/* "SHA256:" and 43 characters of unpadded base64. */
static bool cli_fingerprint_valid(const char *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	return strncmp(s, "SHA256:", 7) == 0 && strlen(s + 7) == 43 && strspn(s + 7, b64) == 43;
}

/* The whole of standard input, at most one key line's worth (a longer
 * input is refused by the parser, which sees one byte too many). */
static int cli_read_key_line(char *buf, size_t bufsz, size_t *len)
{
	size_t n = 0;
	if (isatty(STDIN_FILENO) == 1)
		(void)fprintf(stderr, "Paste the public key line (ssh-ed25519 AAAA... comment), then Ctrl-D:\n");
	while (n < bufsz) {
		size_t got = fread(buf + n, 1, bufsz - n, stdin);
		if (got == 0)
			break;
		n += got;
	}
	if (ferror(stdin))
		return cli_err("cannot read the key from standard input: %s", strerror(errno));
	/* Blank lines after the key are not a second key. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		n--;
	*len = n;
	return CLI_EXIT_OK;
}

static int cli_key_add(struct cli *c, const char *name)
{
	char line[SFTP_KEYLINE_MAX + 2], err[256], esc[128];
	struct user_key k;
	size_t n = 0;
	int rc = cli_read_key_line(line, sizeof(line), &n);
	if (rc)
		return rc;
	int r = sftp_pubkey_parse(line, n, &k, err, sizeof(err));
	if (r == -ENOTSUP)
		return cli_err("%s", err);
	if (r)
		return cli_key_refused("user key add: %s", err);
	rc = cli_load_config(c);
	if (!rc)
		rc = cli_open_store(c, 0);
	if (!rc && !c->ops->key_add)
		rc = cli_err("[store] backend '%s' has no SSH keys", c->cfg->store_backend);
	if (!rc) {
		r = c->ops->key_add(c->store, name, &k);
		if (r == -EEXIST)
			rc = cli_key_refused("user '%s' already has the key %s", name, k.fingerprint);
		else if (r)
			rc = cli_store_err(c, name, r);
		else
			(void)printf("ferry: key %s (%s%s%s) added for user '%s'\n", k.fingerprint, k.type,
				     k.comment[0] ? " " : "", cli_esc(k.comment, esc, sizeof(esc)), name);
	}
	user_key_free(&k);
	return rc;
}

static int cli_key_print(const char *name, const struct user_key *k, void *arg)
{
	char esc[256], date[32];
	struct tm tm;
	time_t t = (time_t)k->created_at;
	if (!gmtime_r(&t, &tm) || strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		(void)snprintf(date, sizeof(date), "?");
	(void)printf("%s\t%s\t%s\t%s\n", k->fingerprint, k->type, cli_esc(k->comment, esc, sizeof(esc)), date);
	return 0;
}

/* The user must exist for list (an empty list would hide a typo). */
static int cli_key_list(struct cli *c, const char *name)
{
	struct user_record u;
	int r = c->ops->lookup(c->store, name, &u);
	if (r)
		return cli_store_err(c, name, r);
	user_record_free(&u);
	r = c->ops->key_list(c->store, name, cli_key_print, NULL);
	return r ? cli_store_fail(c, r) : CLI_EXIT_OK;
}

static int cli_key_del(struct cli *c, const char *name, const char *fp)
{
	struct user_record u;
	int r = c->ops->lookup(c->store, name, &u);
	if (r)
		return cli_store_err(c, name, r);
	user_record_free(&u);
	r = c->ops->key_remove(c->store, name, fp);
	if (r == -ENOENT)
		return cli_err("user '%s' has no key %s (see: ferry user key list %s)", name, fp, name);
	if (r)
		return cli_store_fail(c, r);
	(void)printf("ferry: key %s removed from user '%s'\n", fp, name);
	return CLI_EXIT_OK;
}

int cli_user_key(struct cli *c, int argc, char **argv)
{
	char esc[128];
	if (argc < 1)
		return cli_usage_err("user key: missing command (add, list, del)");
	bool add = strcmp(argv[0], "add") == 0, del = strcmp(argv[0], "del") == 0;
	bool list = strcmp(argv[0], "list") == 0;
	if (!add && !del && !list)
		return cli_usage_err("user key: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
	if (argc != (del ? 3 : 2))
		return cli_usage_err(del ? "user key del: expected NAME FINGERPRINT" : "user key %s: expected NAME",
				     argv[0]);
	const char *name = argv[1];
	if (!cli_name_valid(name))
		return cli_usage_err("user key %s: invalid user name '%s'", argv[0], cli_esc(name, esc, sizeof(esc)));
	if (del && !cli_fingerprint_valid(argv[2]))
		return cli_usage_err("user key del: '%s' is not a key fingerprint like SHA256:... (ferry user key list "
				     "NAME shows them)",
				     cli_esc(argv[2], esc, sizeof(esc)));
	if (add)
		return cli_key_add(c, name);
	int rc = cli_load_config(c);
	if (!rc)
		rc = cli_open_store(c, 0);
	if (!rc && !c->ops->key_list)
		rc = cli_err("[store] backend '%s' has no SSH keys", c->cfg->store_backend);
	if (rc)
		return rc;
	return list ? cli_key_list(c, name) : cli_key_del(c, name, argv[2]);
}
