/* Unit tests for auth_hash.c: grading stored hashes (what `ferry user
 * import` takes and what a login upgrades) and the upgrade itself at a
 * good password login, against a real SQLite store and a store whose
 * compare-and-swap fails (the login must still succeed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "auth_hash.h"
#include "config.h"

/* crypt(pw, setting) as a malloc'd string. */
static char *make(const char *pw, const char *setting)
{
	struct crypt_data cd;
	memset(&cd, 0, sizeof(cd));
	const char *h = crypt_rn(pw, setting, &cd, (int)sizeof(cd));
	assert_non_null(h);
	assert_int_equal(h[0] == '*', 0);
	return strdup(h);
}

/* crypt_gensalt for prefix at count, then crypt. */
static char *make_at(const char *pw, const char *prefix, unsigned long count)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, salt, (int)sizeof(salt)));
	return make(pw, salt);
}

static void expect(const char *hash, enum auth_hash_grade want, const char *why_part)
{
	const char *why = "unset";
	enum auth_hash_grade g = auth_hash_grade(hash, &why);
	if (g != want)
		fail_msg("auth_hash_grade(\"%s\") = %d, want %d (%s)", hash ? hash : "(null)", g, want, why ? why : "");
	if (why_part && (!why || !strstr(why, why_part)))
		fail_msg("auth_hash_grade(\"%s\"): reason \"%s\" lacks \"%s\"", hash, why ? why : "(null)", why_part);
	if (!why_part && want == AUTH_HASH_CURRENT)
		assert_null(why);
}

static void test_grade_methods(void **state)
{
	(void)state;
	char *y = NULL;
	assert_int_equal(auth_hash_password("pw", &y), 0);
	expect(y, AUTH_HASH_CURRENT, NULL);
	assert_string_equal(auth_hash_method(y), "yescrypt");
	free(y);

	/* libxcrypt's legacy methods, and strong ones that are not Ferry's. */
	static const struct {
		const char *setting, *method, *why;
	} cases[] = {
		{ "$1$abcdefgh$", "md5crypt", "legacy" },
		{ "$5$abcdefgh$", "sha256crypt", "legacy" },
		{ "ab", "descrypt", "legacy" },
		{ "$6$abcdefghijklmnop$", "sha512crypt", "not yescrypt" },
		{ "$2b$05$abcdefghijklmnopqrstuu", "bcrypt", "not yescrypt" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *h = make("pw", cases[i].setting);
		expect(h, AUTH_HASH_UPGRADE, cases[i].why);
		assert_string_equal(auth_hash_method(h), cases[i].method);
		free(h);
	}
}

/* yescrypt below the default cost (count 5) is upgraded, above it kept. */
static void test_grade_yescrypt_cost(void **state)
{
	(void)state;
	for (unsigned long count = 1; count <= 7; count++) {
		char *h = make_at("pw", "$y$", count);
		if (count < 5)
			expect(h, AUTH_HASH_UPGRADE, "below Ferry's default cost");
		else
			expect(h, AUTH_HASH_CURRENT, NULL);
		free(h);
	}
}

static void test_grade_unusable(void **state)
{
	(void)state;
	expect("$apr1$abcdefgh$Tq6ZqcuWfM/Ctbz.0hUPf.", AUTH_HASH_UNUSABLE, "APR1-MD5");
	expect("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", AUTH_HASH_UNUSABLE, "{SHA}");
	expect("$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$abc", AUTH_HASH_UNUSABLE, "Argon2");
	expect("", AUTH_HASH_UNUSABLE, "no password hash");
	expect(NULL, AUTH_HASH_UNUSABLE, "no password hash");
	expect("plaintext password", AUTH_HASH_UNUSABLE, "libxcrypt");
	expect("*", AUTH_HASH_UNUSABLE, "libxcrypt");
	expect("$9$whatever$x", AUTH_HASH_UNUSABLE, "libxcrypt");
	/* A setting without its hash: no password could ever match. */
	expect("$1$abcdefgh$", AUTH_HASH_UNUSABLE, "not a password hash (");
	expect("$y$j9T$abcdefghijklmnopqrstuv$", AUTH_HASH_UNUSABLE, "not a password hash (");
	/* htpasswd -p keeps cleartext: crypt_checksalt takes "cl" for a DES
	 * salt, the form check does not. */
	expect("cleartext-password", AUTH_HASH_UNUSABLE, "not a password hash (");
	expect("abcdefghijklmn", AUTH_HASH_UNUSABLE, "not a password hash (");
	expect("$1$abc$d f", AUTH_HASH_UNUSABLE, NULL);
	expect("_J9..abcd", AUTH_HASH_UNUSABLE, "not a password hash (");
	assert_int_equal(auth_hash_grade("$1$abcdefgh$", NULL), AUTH_HASH_UNUSABLE); /* why may be NULL */
	assert_string_equal(auth_hash_method("$apr1$x$y"), "Apache APR1-MD5");
	assert_string_equal(auth_hash_method("{SHA}x"), "Apache SHA-1");
	assert_string_equal(auth_hash_method("$9$x"), "unknown");
	assert_string_equal(auth_hash_method(""), "none");
}

/* ---- the upgrade at login ---- */

struct fixture {
	char dir[256];
	struct config *cfg;
	const struct userstore_ops *ops;
	struct userstore *s;
};

static void put_user(struct fixture *fx, const char *name, const char *hash)
{
	struct user_record u = { .name = (char *)name,
				 .password_hash = (char *)hash,
				 .home = (char *)"/srv/x",
				 .perms = PERM_ALL,
				 .enabled = true };
	assert_int_equal(fx->ops->add(fx->s, &u), 0);
}

static char *stored_hash(struct fixture *fx, const char *name)
{
	struct user_record u;
	assert_int_equal(fx->ops->lookup(fx->s, name, &u), 0);
	char *h = u.password_hash;
	u.password_hash = NULL;
	user_record_free(&u);
	return h;
}

static int setup(void **state)
{
	char err[512];
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	(void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/ferry-test-rehash-XXXXXX");
	fx->cfg = config_new_default();
	if (!mkdtemp(fx->dir) || !fx->cfg)
		return -1;
	(void)snprintf(fx->cfg->sqlite_path, sizeof(fx->cfg->sqlite_path), "%s/users.db", fx->dir);
	fx->ops = auth_backend(fx->cfg->store_backend);
	if (!fx->ops || fx->ops->open(fx->cfg, USERSTORE_CREATE, &fx->s, err, sizeof(err)) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[300];
	fx->ops->close(fx->s);
	config_unref(fx->cfg);
	static const char *const files[] = { "users.db", "users.db-wal", "users.db-shm" };
	for (size_t i = 0; i < 3; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", fx->dir, files[i]);
		(void)unlink(path);
	}
	int r = rmdir(fx->dir);
	free(fx);
	return r;
}

static void login(struct fixture *fx, const struct userstore_ops *ops, const char *name, const char *pw, bool want)
{
	struct auth_result r;
	auth_check(ops, fx->s, name, pw, &r);
	assert_int_equal(r.ok, want);
	assert_int_equal(r.err, 0);
	auth_result_free(&r);
}

static void test_login_upgrades_md5(void **state)
{
	struct fixture *fx = *state;
	char *md5 = make("old-pw", "$1$abcdefgh$");
	put_user(fx, "alice", md5);

	login(fx, fx->ops, "alice", "wrong", false);
	char *h = stored_hash(fx, "alice");
	assert_string_equal(h, md5); /* a wrong password changes nothing */
	free(h);

	login(fx, fx->ops, "alice", "old-pw", true);
	h = stored_hash(fx, "alice");
	assert_int_equal(strncmp(h, "$y$", 3), 0);
	assert_int_equal(auth_hash_grade(h, NULL), AUTH_HASH_CURRENT);
	assert_true(auth_verify_password(h, "old-pw"));
	free(h);
	login(fx, fx->ops, "alice", "old-pw", true);
	login(fx, fx->ops, "alice", "wrong", false);
	free(md5);
}

static void test_login_keeps_current(void **state)
{
	struct fixture *fx = *state;
	char *y = NULL;
	assert_int_equal(auth_hash_password("pw", &y), 0);
	put_user(fx, "bob", y);
	login(fx, fx->ops, "bob", "pw", true);
	char *h = stored_hash(fx, "bob");
	assert_string_equal(h, y);
	free(h);
	free(y);
}

static int swap_fails(struct userstore *s, const char *name, const char *old_hash, const char *new_hash)
{
	(void)s;
	(void)name;
	(void)old_hash;
	(void)new_hash;
	return -EIO;
}

/* The store refusing the new hash (or another writer having changed it:
 * -ESTALE) never fails the login, and the old hash stays usable. */
static void test_login_upgrade_fails_safe(void **state)
{
	struct fixture *fx = *state;
	struct userstore_ops broken = *fx->ops;
	char *sha = make("pw", "$5$abcdefgh$");
	put_user(fx, "carol", sha);

	broken.password_swap = swap_fails;
	login(fx, &broken, "carol", "pw", true);
	broken.password_swap = NULL; /* a store without the operation */
	login(fx, &broken, "carol", "pw", true);
	char *h = stored_hash(fx, "carol");
	assert_string_equal(h, sha);
	free(h);

	/* The compare part: a hash that is no longer the stored one. */
	assert_int_equal(fx->ops->password_swap(fx->s, "carol", "$5$other$x", "$y$new"), -ESTALE);
	assert_int_equal(fx->ops->password_swap(fx->s, "nobody", sha, "$y$new"), -ESTALE);
	h = stored_hash(fx, "carol");
	assert_string_equal(h, sha);
	free(h);
	free(sha);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grade_methods),
		cmocka_unit_test(test_grade_yescrypt_cost),
		cmocka_unit_test(test_grade_unusable),
		cmocka_unit_test_setup_teardown(test_login_upgrades_md5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_keeps_current, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_upgrade_fails_safe, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
