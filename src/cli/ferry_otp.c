/* ferry_otp: "ferry otp ..." (RFC 2289 keys) and "ferry totp ..." (RFC 6238
 * secrets). The pass phrase is read like a password (terminal without echo,
 * or one line of stdin), never from argv; only OTP(N) is stored, from which
 * the pass phrase cannot be recovered. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry_cli.h"
#include "otp.h"
#include "parse.h"
#include "str.h"
#include "util.h"

/* Like OPIE's opiepasswd: 500 logins before a new key is needed. */
#define CLI_OTP_COUNT_DEFAULT 500
#define CLI_PHRASE_BUF (OTP_PASSPHRASE_MAX + 64)

enum cli_otp_opt {
	OTP_OPT_ALG = 0x100,
	OTP_OPT_COUNT,
	OTP_OPT_SEED,
	OTP_OPT_REPLY,
	OTP_OPT_ALLOW,
	OTP_OPT_NO_PW,
	OTP_OPT_HOST
};

/* clang-format off */
static const struct option cli_otp_options[] = {
	{ "alg", required_argument, NULL, OTP_OPT_ALG },
	{ "count", required_argument, NULL, OTP_OPT_COUNT },
	{ "seed", required_argument, NULL, OTP_OPT_SEED },
	{ "reply", required_argument, NULL, OTP_OPT_REPLY },
	{ "allow-password", no_argument, NULL, OTP_OPT_ALLOW },
	{ "no-password", no_argument, NULL, OTP_OPT_NO_PW },
	{ "host", required_argument, NULL, OTP_OPT_HOST },
	{ NULL, 0, NULL, 0 },
};
/* clang-format on */

struct cli_otp_args {
	const char *verb;
	const char *name;
	enum otp_alg alg;
	unsigned count;
	char seed[OTP_SEED_MAX + 1];
	int reply;	  /* -1: unchanged; 0 default; 331; 336 */
	int static_ok;	  /* -1: unchanged; 0; 1 */
	const char *host; /* --host: a [host NAME] */
	/* the store key: name, or "NAME:HOST" with --host (user_key) */
	char key[CLI_NAME_MAX + CONFIG_VHOST_NAME_MAX + 2];
};

static int cli_otp_parse_opt(struct cli_otp_args *a, int o, const char *v)
{
	char esc[128];
	uint64_t n;

	switch (o) {
	case OTP_OPT_ALG:
		if (otp_alg_parse(slice_from_cstr(v), &a->alg) != 0)
			return cli_usage_err("otp %s: --alg must be md5 or sha1", a->verb);
		return CLI_EXIT_OK;
	case OTP_OPT_COUNT:
		/* A challenge must ask for a sequence of at least 1. */
		if (parse_u64(slice_from_cstr(v), OTP_COUNT_MAX, &n) != 0 || n < 2)
			return cli_usage_err("otp %s: --count must be 2-%d", a->verb, OTP_COUNT_MAX);
		a->count = (unsigned)n;
		return CLI_EXIT_OK;
	case OTP_OPT_SEED:
		if (!otp_seed_valid(slice_from_cstr(v)))
			return cli_usage_err("otp %s: --seed '%s' must be 1-%d letters and digits", a->verb,
					     cli_esc(v, esc, sizeof(esc)), OTP_SEED_MAX);
		/* RFC 2289 §6: seeds are case-insensitive; lftp uses the one
		 * it sees as it is, so show and store it in lower case. */
		for (size_t i = 0; v[i]; i++)
			a->seed[i] = (char)(v[i] >= 'A' && v[i] <= 'Z' ? v[i] - 'A' + 'a' : v[i]);
		return CLI_EXIT_OK;
	case OTP_OPT_REPLY:
		if (strcmp(v, "331") == 0)
			a->reply = 331;
		else if (strcmp(v, "336") == 0)
			a->reply = 336;
		else if (strcmp(v, "default") == 0)
			a->reply = 0;
		else
			return cli_usage_err("otp %s: --reply must be 331, 336 or default", a->verb);
		return CLI_EXIT_OK;
	case OTP_OPT_HOST:
		a->host = v;
		return CLI_EXIT_OK;
	case OTP_OPT_ALLOW:
	case OTP_OPT_NO_PW:
		if (a->static_ok >= 0 && a->static_ok != (o == OTP_OPT_ALLOW))
			return cli_usage_err("otp %s: --allow-password and --no-password exclude each other", a->verb);
		a->static_ok = o == OTP_OPT_ALLOW;
		return CLI_EXIT_OK;
	default:
		return cli_usage_err("otp %s: unknown option", a->verb);
	}
}

/* argv[0] is the verb; allowed: the OTP_OPT_* values the verb accepts. */
static int cli_otp_parse(struct cli *c, const char *cmd, int argc, char **argv, const int *allowed,
			 struct cli_otp_args *a)
{
	char esc[128];
	int o;

	*a = (struct cli_otp_args){
		.verb = argv[0], .alg = OTP_MD5, .count = CLI_OTP_COUNT_DEFAULT, .reply = -1, .static_ok = -1
	};
	opterr = 0;
	optind = 0;
	while ((o = getopt_long(argc, argv, ":", cli_otp_options, NULL)) != -1) {
		if (o == ':')
			return cli_usage_err("%s %s: option '%s' needs a value", cmd, a->verb, argv[optind - 1]);
		bool ok = false;
		for (const int *p = allowed; *p; p++)
			ok = ok || *p == o;
		if (!ok)
			return cli_usage_err("%s %s: unknown option '%s'", cmd, a->verb,
					     cli_esc(argv[optind - 1], esc, sizeof(esc)));
		int rc = cli_otp_parse_opt(a, o, optarg);
		if (rc)
			return rc;
	}
	if (argc - optind < 1)
		return cli_usage_err("%s %s: missing NAME", cmd, a->verb);
	if (argc - optind > 1)
		return cli_usage_err("%s %s: unexpected argument '%s'", cmd, a->verb,
				     cli_esc(argv[optind + 1], esc, sizeof(esc)));
	a->name = argv[optind];
	if (!cli_name_valid(a->name))
		return cli_usage_err("%s %s: invalid user name '%s'", cmd, a->verb, cli_esc(a->name, esc, sizeof(esc)));
	if (!a->host) {
		(void)str_copy(a->key, sizeof(a->key), a->name);
		return CLI_EXIT_OK;
	}
	int rc = cli_load_config(c);
	return rc ? rc : cli_store_key(c, a->name, a->host, a->key, sizeof(a->key), NULL);
}

/* Opens the store and reads the user's current settings (none is fine);
 * the user must exist. */
static int cli_otp_load(struct cli *c, const char *name, struct otp_state *st)
{
	struct user_record u;
	int rc = c->cfg ? CLI_EXIT_OK : cli_load_config(c); /* --host loaded it */
	if (!rc)
		rc = cli_open_store(c, 0);
	if (rc)
		return rc;
	int r = c->ops->lookup(c->store, name, &u);
	if (r)
		return cli_store_err(c, name, r);
	user_record_free(&u);
	r = c->ops->otp_get(c->store, name, st);
	if (r && r != -ENOENT)
		return cli_store_err(c, name, r);
	return CLI_EXIT_OK;
}

static int cli_otp_save(struct cli *c, const char *name, const struct otp_state *st)
{
	int r = c->ops->otp_put(c->store, name, st);
	return r ? cli_store_err(c, name, r) : CLI_EXIT_OK;
}

static int cli_otp_init(struct cli *c, const struct cli_otp_args *a)
{
	struct otp_state st = { 0 };
	char phrase[CLI_PHRASE_BUF];
	size_t n = 0;
	int rc = cli_otp_load(c, a->key, &st);

	if (rc)
		goto out;
	if (st.totp_secret) {
		rc = cli_err("user '%s' has TOTP; run 'ferry totp disable %s' first", a->name, a->name);
		goto out;
	}
	rc = cli_get_secret("pass phrase", phrase, sizeof(phrase), OTP_PASSPHRASE_MAX, &n);
	if (rc)
		goto out;
	if (n < OTP_PASSPHRASE_MIN) {
		rc = cli_err("pass phrase is shorter than %d characters (RFC 2289)", OTP_PASSPHRASE_MIN);
		goto out;
	}
	st.otp = true;
	st.alg = a->alg;
	st.seq = a->count;
	if (a->seed[0]) {
		(void)str_copy(st.seed, sizeof(st.seed), a->seed);
	} else {
		uint8_t rnd[OTP_SEED_DEFAULT_LEN];
		if (util_random(rnd, sizeof(rnd)) != 0) {
			rc = cli_err("cannot get random bytes for the seed");
			goto out;
		}
		otp_seed_from_bytes(rnd, sizeof(rnd), st.seed, sizeof(st.seed));
	}
	int r = otp_generate(st.alg, slice_from_cstr(st.seed), (struct slice){ phrase, n }, st.seq, &st.last);
	if (r) {
		rc = cli_err("cannot compute the one-time password: %s", strerror(-r));
		goto out;
	}
	if (a->reply >= 0)
		st.reply = a->reply;
	if (a->static_ok >= 0)
		st.static_ok = a->static_ok;
	rc = cli_otp_save(c, a->key, &st);
	if (!rc)
		(void)printf("ferry: user '%s' has a new one-time password key; next challenge: otp-%s %u %s\n",
			     a->name, otp_alg_name(st.alg), st.seq - 1, st.seed);
out:
	util_wipe(phrase, sizeof(phrase));
	otp_state_free(&st);
	return rc;
}

static int cli_otp_show(struct cli *c, const struct cli_otp_args *a)
{
	struct otp_state st = { 0 };
	int rc = cli_otp_load(c, a->key, &st);
	if (rc)
		return rc;
	(void)printf("name: %s\n", a->name);
	if (st.otp) {
		/* The sequence shown is the next challenge's: what the user
		 * will be asked for, and how many logins are left. */
		(void)printf("otp: %s\nsequence: %u\nseed: %s\nchallenge: otp-%s %u %s\n", otp_alg_name(st.alg),
			     st.seq - (st.seq > 0), st.seed, otp_alg_name(st.alg), st.seq - (st.seq > 0), st.seed);
	} else {
		(void)printf("otp: off\n");
	}
	(void)printf("totp: %s\n", st.totp_secret ? "on" : "off");
	if (st.reply)
		(void)printf("reply: %d\n", st.reply);
	else
		(void)printf("reply: default (%s)\n", c->cfg->otp_challenge_336 ? "336" : "331");
	(void)printf("static password: %s\n", !st.otp || st.static_ok ? "accepted" : "refused");
	otp_state_free(&st);
	return CLI_EXIT_OK;
}

/* Load, change, save, report: the commands that only flip settings. */
static int cli_otp_modify(struct cli *c, const struct cli_otp_args *a,
			  void (*change)(struct otp_state *st, const struct cli_otp_args *a), const char *done)
{
	struct otp_state st = { 0 };
	int rc = cli_otp_load(c, a->key, &st);
	if (!rc) {
		change(&st, a);
		rc = cli_otp_save(c, a->key, &st);
	}
	if (!rc)
		(void)printf("ferry: user '%s' %s\n", a->name, done);
	otp_state_free(&st);
	return rc;
}

static void cli_change_settings(struct otp_state *st, const struct cli_otp_args *a)
{
	if (a->reply >= 0)
		st->reply = a->reply;
	if (a->static_ok >= 0)
		st->static_ok = a->static_ok;
}

static void cli_change_otp_off(struct otp_state *st, const struct cli_otp_args *a)
{
	st->otp = false;
	st->static_ok = false;
}

static void cli_change_totp_off(struct otp_state *st, const struct cli_otp_args *a)
{
	otp_state_free(st);
	st->totp_last_step = 0;
}

int cli_otp(struct cli *c, int argc, char **argv)
{
	static const int init_opts[] = {
		OTP_OPT_ALG, OTP_OPT_COUNT, OTP_OPT_SEED, OTP_OPT_REPLY, OTP_OPT_ALLOW, OTP_OPT_HOST, 0
	};
	static const int set_opts[] = { OTP_OPT_REPLY, OTP_OPT_ALLOW, OTP_OPT_NO_PW, OTP_OPT_HOST, 0 };
	static const int no_opts[] = { OTP_OPT_HOST, 0 };
	struct cli_otp_args a;
	char esc[128];
	int rc;

	if (argc < 1)
		return cli_usage_err("otp: missing command (init, show, set, disable)");
	if (strcmp(argv[0], "init") == 0) {
		rc = cli_otp_parse(c, "otp", argc, argv, init_opts, &a);
		return rc ? rc : cli_otp_init(c, &a);
	}
	if (strcmp(argv[0], "set") == 0) {
		rc = cli_otp_parse(c, "otp", argc, argv, set_opts, &a);
		if (!rc && a.reply < 0 && a.static_ok < 0)
			rc = cli_usage_err(
			    "otp set: nothing to change (give --reply, --allow-password or --no-password)");
		return rc ? rc : cli_otp_modify(c, &a, cli_change_settings, "updated");
	}
	if (strcmp(argv[0], "show") == 0 || strcmp(argv[0], "disable") == 0) {
		rc = cli_otp_parse(c, "otp", argc, argv, no_opts, &a);
		if (rc)
			return rc;
		if (argv[0][0] == 's')
			return cli_otp_show(c, &a);
		return cli_otp_modify(c, &a, cli_change_otp_off, "logs in with the password again");
	}
	return cli_usage_err("otp: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
}

static int cli_totp_enable(struct cli *c, const struct cli_otp_args *a)
{
	struct otp_state st = { 0 };
	char uri[512];
	char *secret = NULL;
	int rc = cli_otp_load(c, a->key, &st);
	int r;

	if (rc)
		goto out;
	if (st.otp) {
		rc = cli_err("user '%s' has one-time passwords; run 'ferry otp disable %s' first", a->name, a->name);
		goto out;
	}
	r = auth_totp_secret_new(&secret);
	if (r == 0)
		r = auth_totp_uri(a->name, secret, uri, sizeof(uri));
	if (r) {
		rc = cli_err("cannot make a TOTP secret: %s", strerror(-r));
		goto out;
	}
	otp_state_free(&st);
	st.totp_secret = secret;
	secret = NULL;
	st.totp_last_step = 0;
	rc = cli_otp_save(c, a->key, &st);
	if (!rc) {
		/* Shown once: the store keeps the secret, nothing prints it again. */
		(void)printf("%s\n", uri);
		(void)fprintf(
		    stderr,
		    "ferry: user '%s' now logs in with the password followed by the 6-digit code; add the URI "
		    "above to an authenticator app (it is not shown again)\n",
		    a->name);
	}
out:
	if (secret) {
		util_wipe(secret, strlen(secret));
		free(secret);
	}
	util_wipe(uri, sizeof(uri));
	otp_state_free(&st);
	return rc;
}

int cli_totp(struct cli *c, int argc, char **argv)
{
	static const int no_opts[] = { OTP_OPT_HOST, 0 };
	struct cli_otp_args a;
	char esc[128];

	if (argc < 1)
		return cli_usage_err("totp: missing command (enable, disable)");
	bool enable = strcmp(argv[0], "enable") == 0;
	if (!enable && strcmp(argv[0], "disable") != 0)
		return cli_usage_err("totp: unknown command '%s'", cli_esc(argv[0], esc, sizeof(esc)));
	int rc = cli_otp_parse(c, "totp", argc, argv, no_opts, &a);
	if (rc)
		return rc;
	if (enable)
		return cli_totp_enable(c, &a);
	return cli_otp_modify(c, &a, cli_change_totp_off, "logs in with the password alone");
}
