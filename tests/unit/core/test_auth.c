/* Unit tests for auth.c and userstore.c: permission lists, password hashing and verification
 * for every scheme the store may hold, and auth_check's outcomes (including
 * its timing for unknown users) against a real SQLite store in a fresh
 * mkdtemp() directory, plus a failing store. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <crypt.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liboath/oath.h>

#include "auth.h"
#include "config.h"
#include "util.h"

/* ---- perms ---- */

static void test_perms_parse(void **state)
{
	uint32_t p = 0;
	(void)state;
	assert_int_equal(perms_parse("read", &p), 0);
	assert_int_equal(p, PERM_READ);
	assert_int_equal(perms_parse("read,write,list", &p), 0);
	assert_int_equal(p, PERM_READ | PERM_WRITE | PERM_LIST);
	assert_int_equal(perms_parse(" Delete , RENAME,mkdir ", &p), 0);
	assert_int_equal(p, PERM_DELETE | PERM_RENAME | PERM_MKDIR);
	assert_int_equal(perms_parse("all", &p), 0);
	assert_int_equal(p, PERM_ALL);
	assert_int_equal(perms_parse("ALL", &p), 0);
	assert_int_equal(p, PERM_ALL);
	assert_int_equal(perms_parse("list,read,list", &p), 0);
	assert_int_equal(p, PERM_READ | PERM_LIST);
	assert_int_equal(perms_parse("none", &p), 0);
	assert_int_equal(p, 0);
}

static void test_perms_parse_errors(void **state)
{
	static const char *const bad[] = {
	    "", " ", "x", "read,x", "read,,list", "read,", ",read", "reads", "re ad", "read;write", "all,",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		uint32_t p = 12345;
		if (perms_parse(bad[i], &p) != -EINVAL)
			fail_msg("perms_parse(\"%s\") accepted", bad[i]);
		/* The out-parameter is only written on success. */
		assert_int_equal(p, 12345);
	}
	uint32_t p;
	assert_int_equal(perms_parse(NULL, &p), -EINVAL);
}

static void test_perms_format(void **state)
{
	char out[64];
	(void)state;
	perms_format(PERM_ALL, out, sizeof(out));
	assert_string_equal(out, "all");
	perms_format(0, out, sizeof(out));
	assert_string_equal(out, "none");
	perms_format(PERM_LIST | PERM_READ, out, sizeof(out));
	assert_string_equal(out, "read,list");
	perms_format(PERM_ALL & ~PERM_DELETE, out, sizeof(out));
	assert_string_equal(out, "read,write,rename,mkdir,list");
	/* Bits beyond the known ones are not names. */
	perms_format(PERM_WRITE | (1u << 20), out, sizeof(out));
	assert_string_equal(out, "write");
}

static void test_perms_roundtrip(void **state)
{
	char out[64];
	(void)state;
	for (uint32_t bits = 0; bits <= PERM_ALL; bits++) {
		uint32_t back = 0xffffffffu;
		perms_format(bits, out, sizeof(out));
		assert_int_equal(perms_parse(out, &back), 0);
		assert_int_equal(back, bits);
	}
}

static void test_perms_format_small_buffer(void **state)
{
	char out[8];
	(void)state;
	memset(out, 'X', sizeof(out));
	perms_format(PERM_READ | PERM_WRITE | PERM_LIST, out, 8);
	/* Truncated but terminated and within bounds. */
	assert_true(memchr(out, '\0', sizeof(out)) != NULL);
	assert_int_equal(strncmp(out, "read", 4), 0);
	perms_format(PERM_READ, out, 0); /* must not write at all */
}

/* ---- hashing ---- */

static void test_hash_roundtrip(void **state)
{
	char *h1 = NULL, *h2 = NULL;
	(void)state;
	assert_int_equal(auth_hash_password("correct horse", &h1), 0);
	assert_non_null(h1);
	assert_int_equal(strncmp(h1, "$y$", 3), 0);
	assert_true(auth_verify_password(h1, "correct horse"));
	assert_false(auth_verify_password(h1, "correct horsf"));
	assert_false(auth_verify_password(h1, "correct hors"));
	assert_false(auth_verify_password(h1, ""));
	/* A fresh salt each time. */
	assert_int_equal(auth_hash_password("correct horse", &h2), 0);
	assert_string_not_equal(h1, h2);
	assert_true(auth_verify_password(h2, "correct horse"));
	free(h1);
	free(h2);
}

/* libxcrypt takes passwords shorter than CRYPT_MAX_PASSPHRASE_SIZE bytes. */
#define LONGEST (CRYPT_MAX_PASSPHRASE_SIZE - 1)

static void test_hash_long_and_binary_passwords(void **state)
{
	char pw[LONGEST + 2];
	char *h = NULL;
	(void)state;
	memset(pw, 'a', LONGEST);
	pw[LONGEST] = '\0';
	assert_int_equal(auth_hash_password(pw, &h), 0);
	assert_true(auth_verify_password(h, pw));
	pw[LONGEST - 1] = 'b';
	assert_false(auth_verify_password(h, pw));
	/* One byte longer: refused, never silently truncated. */
	pw[LONGEST - 1] = 'a';
	pw[LONGEST] = 'a';
	pw[LONGEST + 1] = '\0';
	assert_false(auth_verify_password(h, pw));
	free(h);
	h = NULL;
	assert_int_equal(auth_hash_password(pw, &h), -ERANGE);
	assert_null(h);
	assert_int_equal(auth_hash_password("p\xc3\xa4ss \x01\x7f", &h), 0);
	assert_true(auth_verify_password(h, "p\xc3\xa4ss \x01\x7f"));
	free(h);
	assert_int_equal(auth_hash_password(NULL, &h), -EINVAL);
}

/* Hashes pw with another scheme, as an imported account would have. */
static char *hash_with(const char *prefix, const char *pw)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	assert_non_null(cd);
	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, salt, (int)sizeof(salt)));
	const char *h = crypt_rn(pw, salt, cd, (int)sizeof(*cd));
	assert_non_null(h);
	char *copy = strdup(h);
	free(cd);
	assert_non_null(copy);
	return copy;
}

static void test_verify_other_schemes(void **state)
{
	static const char *const prefixes[] = {"$2b$", "$6$", "$y$"};
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(prefixes); i++) {
		char *h = hash_with(prefixes[i], "s3cret!");
		assert_int_equal(strncmp(h, prefixes[i], strlen(prefixes[i])), 0);
		assert_true(auth_verify_password(h, "s3cret!"));
		assert_false(auth_verify_password(h, "s3cret?"));
		assert_false(auth_verify_password(h, ""));
		free(h);
	}
}

static void test_verify_locked_and_malformed(void **state)
{
	char *h = NULL;
	char locked[CRYPT_OUTPUT_SIZE];
	(void)state;
	assert_int_equal(auth_hash_password("pw", &h), 0);
	/* The shadow(5) convention: a leading '!' or '*' locks the account
	 * even though the rest is a valid hash of the right password. */
	(void)snprintf(locked, sizeof(locked), "!%s", h);
	assert_false(auth_verify_password(locked, "pw"));
	(void)snprintf(locked, sizeof(locked), "*%s", h);
	assert_false(auth_verify_password(locked, "pw"));
	assert_false(auth_verify_password("*", "pw"));
	assert_false(auth_verify_password("!", ""));
	assert_false(auth_verify_password("", ""));
	assert_false(auth_verify_password("$y$garbage", "pw"));
	assert_false(auth_verify_password("$9$unknown$scheme", "pw"));
	/* Legacy DES: two salt chars; crypt would accept it, we must not let
	 * a truncated or odd string match an empty password by accident. */
	assert_false(auth_verify_password("ab", ""));
	assert_false(auth_verify_password(NULL, "pw"));
	assert_false(auth_verify_password(h, NULL));
	free(h);
}

/* ---- auth_check against a real store ---- */

struct fixture {
	char dir[256];
	struct config *cfg;
	const struct userstore_ops *ops;
	struct userstore *s;
};

static void add_user(struct fixture *fx, const char *name, const char *pw, const char *account, uint32_t perms,
		     bool enabled)
{
	char home[300];
	struct user_record u = {.account = (char *)account, .perms = perms, .enabled = enabled};
	(void)snprintf(home, sizeof(home), "/srv/ftp/%s", name);
	u.name = (char *)name;
	u.home = home;
	assert_int_equal(auth_hash_password(pw, &u.password_hash), 0);
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
	free(u.password_hash);
}

static int setup_store(void **state)
{
	char err[512];
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-test-auth-XXXXXX");
	fx->cfg = config_new_default();
	if (!mkdtemp(fx->dir) || !fx->cfg)
		return -1;
	(void)snprintf(fx->cfg->sqlite_path, sizeof(fx->cfg->sqlite_path), "%s/users.db", fx->dir);
	fx->ops = auth_backend(fx->cfg->store_backend);
	if (!fx->ops || fx->ops->open(fx->cfg, true, &fx->s, err, sizeof(err)) != 0)
		return -1;
	*state = fx;
	add_user(fx, "alice", "alice-pw", NULL, PERM_READ | PERM_LIST, true);
	add_user(fx, "bob", "bob-pw", NULL, PERM_ALL, false);
	add_user(fx, "carol", "carol-pw", "acct-carol", PERM_ALL, true);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown_store(void **state)
{
	struct fixture *fx = *state;
	fx->ops->close(fx->s);
	config_unref(fx->cfg);
	int r = nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return r == 0 ? 0 : -1;
}

static void test_check_ok(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	auth_check(fx->ops, fx->s, "alice", "alice-pw", &r);
	assert_true(r.ok);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.home, "/srv/ftp/alice");
	assert_null(r.account);
	assert_int_equal(r.perms, PERM_READ | PERM_LIST);
	auth_result_free(&r);
	assert_null(r.home);
	assert_false(r.ok);
}

/* Virtual hosts: a host's user is stored as "NAME:HOST" (user_key).
 * auth_login (FTP, after HOST) finds it by its key; auth_check (SFTP, the
 * default host) never takes a name holding ':', even the key itself. */
static void test_check_host_keys(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	char key[64];
	assert_int_equal(user_key("alice", "a.test", key, sizeof(key)), 0);
	assert_string_equal(key, "alice:a.test");
	assert_string_equal(user_key_host(key), "a.test");
	assert_int_equal(user_key_name_len(key), 5);
	assert_null(user_key_host("alice"));
	assert_int_equal(user_key_name_len("alice"), 5);
	assert_int_equal(user_key("alice", NULL, key, sizeof(key)), 0);
	assert_string_equal(key, "alice");
	assert_int_equal(user_key("a:b", "a.test", key, sizeof(key)), -EINVAL);
	assert_int_equal(user_key("", NULL, key, sizeof(key)), -EINVAL);
	assert_int_equal(user_key("alice", "a.test", key, 8), -ENAMETOOLONG);

	add_user(fx, "alice:a.test", "host-pw", NULL, PERM_READ, true);
	auth_login(fx->ops, fx->s, "alice:a.test", "host-pw", NULL, &r);
	assert_true(r.ok);
	assert_string_equal(r.home, "/srv/ftp/alice:a.test");
	auth_result_free(&r);
	auth_check(fx->ops, fx->s, "alice:a.test", "host-pw", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	auth_result_free(&r);
	/* the default host's alice is another user */
	auth_check(fx->ops, fx->s, "alice", "host-pw", &r);
	assert_false(r.ok);
	auth_result_free(&r);
	auth_check(fx->ops, fx->s, "alice", "alice-pw", &r);
	assert_true(r.ok);
	auth_result_free(&r);
}

static void test_check_wrong_password(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	auth_check(fx->ops, fx->s, "alice", "alice-PW", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	assert_null(r.home);
	assert_null(r.account);
	assert_int_equal(r.perms, 0);
	auth_result_free(&r);
	auth_check(fx->ops, fx->s, "alice", "", &r);
	assert_false(r.ok);
	auth_result_free(&r);
}

static void test_check_unknown_user(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	auth_check(fx->ops, fx->s, "mallory", "alice-pw", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0); /* not a store failure */
	assert_null(r.home);
	auth_result_free(&r);
	/* Names are exact. */
	auth_check(fx->ops, fx->s, "Alice", "alice-pw", &r);
	assert_false(r.ok);
	auth_result_free(&r);
}

static void test_check_disabled(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	auth_check(fx->ops, fx->s, "bob", "bob-pw", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	assert_null(r.home);
	auth_result_free(&r);
}

/* SSH key logins: listed keys of enabled users only, the same answer for
 * an unknown user, a disabled one, another key or another blob under the
 * same fingerprint; a TOTP user's key asks for the code next. */
static void test_check_key(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	struct user_key k = { .type = "ssh-ed25519", .blob = "AAAAkey1", .comment = "c", .fingerprint = "SHA256:one" };
	assert_int_equal(fx->ops->key_add(fx->s, "alice", &k), 0);
	assert_int_equal(fx->ops->key_add(fx->s, "alice", &k), -EEXIST);
	assert_int_equal(fx->ops->key_add(fx->s, "bob", &k), 0);
	assert_int_equal(fx->ops->key_add(fx->s, "mallory", &k), -ENOENT);
	auth_check_key(fx->ops, fx->s, "alice", "SHA256:one", "AAAAkey1", &r);
	assert_true(r.ok);
	assert_false(r.totp_next);
	assert_string_equal(r.home, "/srv/ftp/alice");
	assert_int_equal(r.perms, PERM_READ | PERM_LIST);
	auth_result_free(&r);
	const char *no[][3] = {
		{ "alice", "SHA256:one", "AAAAkey2" }, /* another blob */
		{ "alice", "SHA256:two", "AAAAkey1" }, /* another key */
		{ "bob", "SHA256:one", "AAAAkey1" },   /* disabled */
		{ "mallory", "SHA256:one", "AAAAkey1" }, /* unknown */
		{ "Alice", "SHA256:one", "AAAAkey1" },   /* names are exact */
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		auth_check_key(fx->ops, fx->s, no[i][0], no[i][1], no[i][2], &r);
		assert_false(r.ok);
		assert_int_equal(r.err, 0);
		assert_null(r.home);
		auth_result_free(&r);
	}
	/* With TOTP the key stands for the password only. */
	struct otp_state st = { .totp_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" };
	assert_int_equal(fx->ops->otp_put(fx->s, "alice", &st), 0);
	auth_check_key(fx->ops, fx->s, "alice", "SHA256:one", "AAAAkey1", &r);
	assert_true(r.ok);
	assert_true(r.totp_next);
	auth_result_free(&r);
	auth_check_totp(fx->ops, fx->s, "alice", "000000x", &r);
	assert_false(r.ok);
	auth_result_free(&r);
	auth_check_totp(fx->ops, fx->s, "mallory", "123456", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	auth_result_free(&r);
	/* The keys go with the user. */
	assert_int_equal(fx->ops->remove(fx->s, "alice"), 0);
	add_user(fx, "alice", "alice-pw", NULL, PERM_ALL, true);
	auth_check_key(fx->ops, fx->s, "alice", "SHA256:one", "AAAAkey1", &r);
	assert_false(r.ok);
	auth_result_free(&r);
	assert_int_equal(fx->ops->key_remove(fx->s, "bob", "SHA256:one"), 0);
	assert_int_equal(fx->ops->key_remove(fx->s, "bob", "SHA256:one"), -ENOENT);
}

static void test_check_account(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	auth_check(fx->ops, fx->s, "carol", "carol-pw", &r);
	assert_true(r.ok);
	assert_string_equal(r.account, "acct-carol");
	assert_string_equal(r.home, "/srv/ftp/carol");
	assert_int_equal(r.perms, PERM_ALL);
	auth_result_free(&r);
	assert_null(r.account);
}

static void test_check_locked_hash(void **state)
{
	struct fixture *fx = *state;
	struct user_record u;
	struct auth_result r;
	char locked[CRYPT_OUTPUT_SIZE];
	assert_int_equal(fx->ops->lookup(fx->s, "alice", &u), 0);
	(void)snprintf(locked, sizeof(locked), "!%s", u.password_hash);
	free(u.password_hash);
	u.password_hash = locked;
	assert_int_equal(fx->ops->update(fx->s, &u), 0);
	u.password_hash = NULL;
	user_record_free(&u);
	auth_check(fx->ops, fx->s, "alice", "alice-pw", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	auth_result_free(&r);
}

/* A store whose lookup always fails, as a broken database would. */
static int failing_lookup(struct userstore *s, const char *name, struct user_record *out)
{
	(void)s;
	(void)name;
	(void)out;
	return -EIO;
}

static void test_check_store_failure(void **state)
{
	static char token; /* any non-NULL handle: the fake never reads it */
	struct userstore_ops ops = {.name = "failing", .lookup = failing_lookup};
	struct auth_result r;
	(void)state;
	auth_check(&ops, (struct userstore *)(void *)&token, "alice", "alice-pw", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, -EIO);
	assert_null(r.home);
	auth_result_free(&r);
	auth_check(&ops, NULL, "alice", "alice-pw", &r);
	assert_false(r.ok);
	assert_int_equal(r.err, -EINVAL);
	auth_result_free(&r);
}

static uint64_t time_check(struct fixture *fx, const char *user, const char *pw)
{
	struct auth_result r;
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		uint64_t t0 = util_now_ms();
		auth_check(fx->ops, fx->s, user, pw, &r);
		uint64_t dt = util_now_ms() - t0;
		assert_false(r.ok);
		auth_result_free(&r);
		if (dt < best)
			best = dt;
	}
	return best;
}

/* SECURITY: an unknown or disabled user must cost a full hash, or response
 * times list the accounts. The bound is loose (a skipped hash is ~1000x
 * faster), so machine noise cannot make this flaky. */
static void test_check_timing(void **state)
{
	struct fixture *fx = *state;
	uint64_t wrong = time_check(fx, "alice", "nope");
	uint64_t unknown = time_check(fx, "mallory", "nope");
	uint64_t disabled = time_check(fx, "bob", "bob-pw");
	print_message("wrong %llu ms, unknown %llu ms, disabled %llu ms\n", (unsigned long long)wrong,
		      (unsigned long long)unknown, (unsigned long long)disabled);
	assert_true(wrong >= 4); /* yescrypt at its default cost is far slower */
	assert_true(unknown * 4 >= wrong);
	assert_true(disabled * 4 >= wrong);
}

/* ---- one-time passwords and TOTP (auth_lookup, auth_login) ---- */

#define PHRASE "This is a test."

static void set_otp(struct fixture *fx, const char *name, unsigned seq, bool static_ok)
{
	struct otp_state st = { .otp = true, .alg = OTP_MD5, .seq = seq, .seed = "test", .static_ok = static_ok };
	assert_int_equal(otp_generate(OTP_MD5, slice_from_cstr("test"), slice_from_cstr(PHRASE), seq, &st.last), 0);
	assert_int_equal(fx->ops->otp_put(fx->s, name, &st), 0);
}

static void lookup(struct fixture *fx, const char *name, bool fake, struct auth_challenge *ch)
{
	struct auth_lookup_req req = { .user = name, .fake_unknown = fake, .lock_s = 60 };
	auth_lookup(fx->ops, fx->s, &req, ch);
	assert_int_equal(ch->err, 0);
}

static bool login(struct fixture *fx, const char *name, const char *pw, const struct auth_challenge *ch,
		  struct auth_result *r)
{
	auth_login(fx->ops, fx->s, name, pw, ch, r);
	assert_int_equal(r->err, 0);
	return r->ok;
}

static void words(unsigned n, char *out)
{
	uint64_t v;
	assert_int_equal(otp_generate(OTP_MD5, slice_from_cstr("test"), slice_from_cstr(PHRASE), n, &v), 0);
	otp_format_words(v, out, OTP_WORDS_TEXT_MAX);
}

static void test_otp_login(void **state)
{
	struct fixture *fx = *state;
	struct auth_challenge ch;
	struct auth_result r;
	char w99[OTP_WORDS_TEXT_MAX], w98[OTP_WORDS_TEXT_MAX];
	words(99, w99);
	words(98, w98);
	assert_string_equal(w99, "BAIL TUFT BITS GANG CHEF THY");
	set_otp(fx, "alice", 100, false);

	lookup(fx, "alice", false, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_OTP);
	assert_int_equal(ch.seq, 99);
	assert_string_equal(ch.seed, "test");
	assert_true(ch.lock != 0);
	/* Only the challenge shown counts: OTP(98) now is refused. */
	assert_false(login(fx, "alice", w98, &ch, &r));
	auth_result_free(&r);
	lookup(fx, "alice", false, &ch);
	assert_true(login(fx, "alice", "bail tuft bits gang chef thy", &ch, &r));
	assert_true(r.otp);
	assert_int_equal(r.otp_left, 98);
	assert_string_equal(r.home, "/srv/ftp/alice");
	auth_result_free(&r);
	/* Replay, and the static password, are refused. */
	lookup(fx, "alice", false, &ch);
	assert_int_equal(ch.seq, 98);
	assert_false(login(fx, "alice", w99, &ch, &r));
	auth_result_free(&r);
	lookup(fx, "alice", false, &ch);
	assert_false(login(fx, "alice", "alice-pw", &ch, &r));
	auth_result_free(&r);
	/* No challenge at all (auth_check): no OTP can succeed either. */
	auth_check(fx->ops, fx->s, "alice", w98, &r);
	assert_false(r.ok);
	auth_result_free(&r);
	/* With the static password allowed, it works and the OTP stays. */
	set_otp(fx, "alice", 100, true);
	lookup(fx, "alice", false, &ch);
	assert_true(login(fx, "alice", "alice-pw", &ch, &r));
	assert_false(r.otp);
	auth_result_free(&r);
	lookup(fx, "alice", false, &ch);
	assert_int_equal(ch.seq, 99);
	assert_true(login(fx, "alice", w99, &ch, &r));
	auth_result_free(&r);
}

static void test_otp_lookup_kinds(void **state)
{
	struct fixture *fx = *state;
	struct auth_challenge ch, ch2, fake1, fake2;
	struct auth_result r;
	char w[OTP_WORDS_TEXT_MAX];

	lookup(fx, "carol", false, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_PASSWORD);
	assert_int_equal(ch.lock, 0);
	lookup(fx, "mallory", false, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_PASSWORD);
	/* RFC 2289 §9: one connection holds the name's challenge; a second
	 * gets the same one, shared (no lock), so nobody is locked out. */
	set_otp(fx, "alice", 3, false);
	lookup(fx, "alice", false, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_OTP);
	assert_true(ch.lock != 0);
	assert_false(ch.shared);
	lookup(fx, "alice", false, &ch2);
	assert_int_equal(ch2.kind, AUTH_KIND_OTP);
	assert_true(ch2.shared);
	assert_int_equal(ch2.lock, 0);
	assert_int_equal(ch2.seq, ch.seq);
	assert_string_equal(ch2.seed, ch.seed);
	words(2, w);
	assert_true(login(fx, "alice", w, &ch, &r)); /* releases the lock */
	assert_int_equal(r.otp_left, 1);
	auth_result_free(&r);
	assert_false(login(fx, "alice", w, &ch2, &r)); /* the same OTP works once */
	auth_result_free(&r);
	lookup(fx, "alice", false, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_OTP);
	assert_int_equal(ch.seq, 1);
	auth_release(fx->ops, fx->s, "alice", ch.lock);
	set_otp(fx, "alice", 1, false);
	lookup(fx, "alice", false, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_EXHAUSTED);
	/* Made-up challenges: stable per name, locked like real ones. */
	lookup(fx, "mallory", true, &fake1);
	assert_int_equal(fake1.kind, AUTH_KIND_OTP);
	assert_true(fake1.seq >= OTP_FAKE_SEQ_MIN && fake1.seq <= OTP_FAKE_SEQ_MAX);
	lookup(fx, "mallory", true, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_OTP);
	assert_true(ch.shared);
	assert_int_equal(ch.seq, fake1.seq);
	auth_release(fx->ops, fx->s, "mallory", fake1.lock);
	lookup(fx, "mallory", true, &fake2);
	assert_int_equal(fake2.seq, fake1.seq);
	assert_string_equal(fake2.seed, fake1.seed);
	assert_false(login(fx, "mallory", "BAIL TUFT BITS GANG CHEF THY", &fake2, &r));
	auth_result_free(&r);
	/* A disabled user looks like an unknown one. */
	lookup(fx, "bob", true, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_OTP);
	auth_release(fx->ops, fx->s, "bob", ch.lock);
}

static void test_totp_login(void **state)
{
	struct fixture *fx = *state;
	struct auth_challenge ch;
	struct auth_result r;
	char *secret = NULL, *raw = NULL, code[8], pw[32], uri[256];
	size_t rawlen = 0;
	int64_t step;

	assert_int_equal(auth_totp_secret_new(&secret), 0);
	assert_int_equal(strlen(secret), 32); /* 20 bytes in base32 */
	assert_int_equal(auth_totp_uri("a b@c", secret, uri, sizeof(uri)), 0);
	assert_true(strncmp(uri, "otpauth://totp/Ferry:a%20b%40c?secret=", 38) == 0);
	struct otp_state st = { .totp_secret = secret };
	assert_int_equal(fx->ops->otp_put(fx->s, "alice", &st), 0);
	lookup(fx, "alice", false, &ch);
	assert_int_equal(ch.kind, AUTH_KIND_TOTP);
	assert_int_equal(ch.lock, 0);

	/* Codes made independently of auth_totp_check, with liboath itself. */
	assert_int_equal(oath_base32_decode(secret, strlen(secret), &raw, &rawlen), OATH_OK);
	time_t now = time(NULL);
	assert_int_equal(oath_totp_generate(raw, rawlen, now, 30, 0, 6, code), OATH_OK);
	assert_int_equal(auth_totp_check(secret, code, now, &step), 0);
	assert_int_equal(step, now / 30);
	assert_int_equal(auth_totp_check(secret, code, now + 30, &step), 0); /* one step of skew */
	assert_int_equal(auth_totp_check(secret, code, now + 90, &step), -EACCES);
	assert_int_equal(auth_totp_check(secret, "12345", now, &step), -EACCES);
	assert_int_equal(auth_totp_check(secret, "12345x", now, &step), -EACCES);

	(void)snprintf(pw, sizeof(pw), "alice-pw%s", code);
	assert_false(login(fx, "alice", "alice-pw", &ch, &r));
	auth_result_free(&r);
	(void)snprintf(pw, sizeof(pw), "alice-PW%s", code);
	assert_false(login(fx, "alice", pw, &ch, &r));
	auth_result_free(&r);
	(void)snprintf(pw, sizeof(pw), "alice-pw%s", code);
	assert_true(login(fx, "alice", pw, &ch, &r));
	auth_result_free(&r);
	/* The same step again: refused. */
	assert_false(login(fx, "alice", pw, &ch, &r));
	auth_result_free(&r);
	free(raw);
	free(secret);
}

/* The compare-and-swap's store fails (a PostgreSQL connection lost in the
 * middle): the login is a store error (421), never a 530 that blames the
 * password and counts toward a ban, and never a 230. */
static int broken_otp_advance(struct userstore *s, const char *name, unsigned seq, uint64_t last, uint64_t next)
{
	return -EIO;
}

static int broken_totp_advance(struct userstore *s, const char *name, int64_t step)
{
	return -EIO;
}

static void test_cas_store_failure(void **state)
{
	struct fixture *fx = *state;
	struct userstore_ops broken = *fx->ops;
	struct auth_challenge ch;
	struct auth_result r;
	char w99[OTP_WORDS_TEXT_MAX], code[8], pw[32];
	char *secret = NULL, *raw = NULL;
	size_t rawlen = 0;

	broken.otp_advance = broken_otp_advance;
	broken.totp_advance = broken_totp_advance;
	words(99, w99);
	set_otp(fx, "alice", 100, true);
	lookup(fx, "alice", false, &ch);
	auth_login(&broken, fx->s, "alice", w99, &ch, &r);
	assert_false(r.ok);
	assert_int_equal(r.err, -EIO);
	auth_result_free(&r);
	/* Even where the static password would do: a store error is no login. */
	auth_login(&broken, fx->s, "alice", "alice-pw", &ch, &r);
	assert_true(r.ok); /* the static password needs no compare-and-swap */
	assert_int_equal(r.err, 0);
	auth_result_free(&r);
	auth_release(fx->ops, fx->s, "alice", ch.lock);

	assert_int_equal(auth_totp_secret_new(&secret), 0);
	struct otp_state st = { .totp_secret = secret };
	assert_int_equal(fx->ops->otp_put(fx->s, "alice", &st), 0);
	assert_int_equal(oath_base32_decode(secret, strlen(secret), &raw, &rawlen), OATH_OK);
	assert_int_equal(oath_totp_generate(raw, rawlen, time(NULL), 30, 0, 6, code), OATH_OK);
	(void)snprintf(pw, sizeof(pw), "alice-pw%s", code);
	lookup(fx, "alice", false, &ch);
	auth_login(&broken, fx->s, "alice", pw, &ch, &r);
	assert_false(r.ok);
	assert_int_equal(r.err, -EIO);
	auth_result_free(&r);
	free(raw);
	free(secret);
}

/* SECURITY: an OTP user's failed login costs a crypt like anyone's. */
static void test_otp_timing(void **state)
{
	struct fixture *fx = *state;
	set_otp(fx, "alice", 100, false);
	uint64_t otp_fail = time_check(fx, "alice", "BAIL TUFT BITS GANG CHEF THY");
	uint64_t unknown = time_check(fx, "mallory", "nope");
	assert_true(otp_fail * 4 >= unknown);
}

/* After a GSSAPI exchange: the default rule or a mapping, an existing and
 * enabled user, no password. */
static void test_check_principal(void **state)
{
	struct fixture *fx = *state;
	struct auth_result r;
	auth_check_principal(fx->ops, fx->s, "alice", "alice@R", true, &r);
	assert_true(r.ok);
	assert_string_equal(r.home, "/srv/ftp/alice");
	assert_int_equal(r.perms, PERM_READ | PERM_LIST);
	auth_result_free(&r);
	auth_check_principal(fx->ops, fx->s, "alice", "eve@R", false, &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	assert_null(r.home);
	auth_result_free(&r);
	assert_int_equal(fx->ops->principal_add(fx->s, "eve@R", "alice"), 0);
	auth_check_principal(fx->ops, fx->s, "alice", "eve@R", false, &r);
	assert_true(r.ok);
	auth_result_free(&r);
	/* disabled (bob) and unknown users never pass */
	auth_check_principal(fx->ops, fx->s, "bob", "bob@R", true, &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	auth_result_free(&r);
	auth_check_principal(fx->ops, fx->s, "zed", "zed@R", true, &r);
	assert_false(r.ok);
	assert_int_equal(r.err, 0);
	auth_result_free(&r);
	/* the account is passed on: the caller decides (a password login) */
	auth_check_principal(fx->ops, fx->s, "carol", "carol@R", true, &r);
	assert_true(r.ok);
	assert_string_equal(r.account, "acct-carol");
	auth_result_free(&r);
	auth_check_principal(fx->ops, fx->s, "carol", NULL, true, &r);
	assert_int_equal(r.err, -EINVAL);
	auth_result_free(&r);
}

/* The store backends ferryd and ferry can name in [store] backend. */
static void test_backend_registry(void **state)
{
	(void)state;
	assert_ptr_equal(auth_backend("sqlite"), &store_sqlite_ops);
	assert_string_equal(store_sqlite_ops.name, "sqlite");
	assert_null(auth_backend("pg"));
	assert_null(auth_backend(""));
	assert_null(auth_backend(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backend_registry),
	    cmocka_unit_test_setup_teardown(test_otp_login, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_otp_lookup_kinds, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_totp_login, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_cas_store_failure, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_otp_timing, setup_store, teardown_store),
	    cmocka_unit_test(test_perms_parse),
	    cmocka_unit_test(test_perms_parse_errors),
	    cmocka_unit_test(test_perms_format),
	    cmocka_unit_test(test_perms_roundtrip),
	    cmocka_unit_test(test_perms_format_small_buffer),
	    cmocka_unit_test(test_hash_roundtrip),
	    cmocka_unit_test(test_hash_long_and_binary_passwords),
	    cmocka_unit_test(test_verify_other_schemes),
	    cmocka_unit_test(test_verify_locked_and_malformed),
	    cmocka_unit_test_setup_teardown(test_check_ok, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_wrong_password, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_host_keys, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_unknown_user, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_disabled, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_account, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_key, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_locked_hash, setup_store, teardown_store),
	    cmocka_unit_test(test_check_store_failure),
	    cmocka_unit_test_setup_teardown(test_check_timing, setup_store, teardown_store),
	    cmocka_unit_test_setup_teardown(test_check_principal, setup_store, teardown_store),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
