/* auth_hash: making password hashes (auth_hash_password, declared in
 * auth.h), grading stored ones and upgrading old ones at login (see
 * auth_hash.h). Calls go one way: auth.c -> auth_hash.c. libxcrypt decides what it can verify
 * (crypt_checksalt); the cost of a yescrypt hash is compared with the
 * default's by asking crypt_gensalt for the settings of each lower cost. */
#include "auth_hash.h"

#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "str.h"
#include "util.h"

#define AUTH_YESCRYPT "$y$"

/* Prefix -> method name; the Apache and libsodium formats that are not
 * crypt(3) methods get their reason. Longer prefixes first where one
 * starts another ("$2b$" before nothing, "$md5" before "$1$": distinct). */
static const struct {
	const char *prefix, *name, *foreign;
} auth_methods[] = {
	{ "$y$", "yescrypt", NULL },
	{ "$gy$", "gost-yescrypt", NULL },
	{ "$7$", "scrypt", NULL },
	{ "$2b$", "bcrypt", NULL },
	{ "$2a$", "bcrypt", NULL },
	{ "$2y$", "bcrypt", NULL },
	{ "$2x$", "bcrypt", NULL },
	{ "$6$", "sha512crypt", NULL },
	{ "$5$", "sha256crypt", NULL },
	{ "$sha1$", "sha1crypt", NULL },
	{ "$md5", "sunmd5", NULL },
	{ "$1$", "md5crypt", NULL },
	{ "$3$", "nthash", NULL },
	{ "_", "bsdicrypt", NULL },
	{ "$apr1$", "Apache APR1-MD5", "Apache's APR1-MD5 ($apr1$) is not a libxcrypt method" },
	{ "{SHA}", "Apache SHA-1", "Apache's {SHA} (unsalted SHA-1) is not a libxcrypt method" },
	{ "{SSHA}", "salted SHA-1", "{SSHA} (salted SHA-1) is not a libxcrypt method" },
	{ "$argon2", "Argon2", "Argon2 is not a libxcrypt method" },
};

/* Hashes with yescrypt, the one method Ferry makes (auth.h). */
int auth_hash_password(const char *password, char **out)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = NULL;
	const char *h;
	int r;

	if (!password || !out)
		return -EINVAL;
	errno = 0;
	/* NULL rbytes: libxcrypt takes the salt from the OS random source;
	 * count 0 picks the library's current recommended cost. */
	if (!crypt_gensalt_rn(AUTH_YESCRYPT, 0, NULL, 0, salt, (int)sizeof(salt))) {
		r = errno ? -errno : -EINVAL;
		goto fail;
	}
	/* struct crypt_data is 32 KiB: too big for a job-pool thread's stack. */
	cd = calloc(1, sizeof(*cd));
	if (!cd) {
		r = -ENOMEM;
		goto fail;
	}
	errno = 0;
	h = crypt_rn(password, salt, cd, (int)sizeof(*cd));
	if (!h || h[0] != '$') {
		r = errno ? -errno : -EINVAL;
		goto fail;
	}
	*out = strdup(h);
	if (!*out) {
		r = -ENOMEM;
		goto fail;
	}
	r = 0;
fail:
	/* The scratch area holds key material derived from the password. */
	if (cd)
		util_wipe(cd, sizeof(*cd));
	free(cd);
	return r;
}

static bool auth_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *auth_hash_method(const char *hash)
{
	if (!hash || !hash[0])
		return "none";
	for (size_t i = 0; i < ARRAY_LEN(auth_methods); i++)
		if (auth_has_prefix(hash, auth_methods[i].prefix))
			return auth_methods[i].name;
	if (hash[0] != '$' && crypt_checksalt(hash) != CRYPT_SALT_INVALID)
		return strlen(hash) > 13 ? "bigcrypt" : "descrypt";
	return "unknown";
}

/* The cost settings of a yescrypt setting: what lies between "$y$" and the
 * next '$' ("j9T"). */
static struct slice auth_yescrypt_params(const char *setting)
{
	const char *p = setting + strlen(AUTH_YESCRYPT), *end = strchr(p, '$');
	return (struct slice){ p, end ? (size_t)(end - p) : 0 };
}

/* Is this yescrypt hash cheaper than auth_hash_password's (count 0)? Each
 * lower count's settings are asked of crypt_gensalt (fixed salt bytes: the
 * salt is not looked at) until the default's own come up. Settings that no
 * lower count makes (another r, a higher N) count as not cheaper. */
static bool auth_yescrypt_cheap(const char *hash)
{
	static const char rbytes[16] = { 0 };
	char def[CRYPT_GENSALT_OUTPUT_SIZE], low[CRYPT_GENSALT_OUTPUT_SIZE];
	struct slice have = auth_yescrypt_params(hash);

	if (!crypt_gensalt_rn(AUTH_YESCRYPT, 0, rbytes, (int)sizeof(rbytes), def, (int)sizeof(def)))
		return false;
	struct slice want = auth_yescrypt_params(def);
	for (unsigned long count = 1; count < 32; count++) {
		if (!crypt_gensalt_rn(AUTH_YESCRYPT, count, rbytes, (int)sizeof(rbytes), low, (int)sizeof(low)))
			return false;
		struct slice p = auth_yescrypt_params(low);
		if (slice_eq(p, want))
			return false;
		if (slice_eq(p, have))
			return true;
	}
	return false;
}

/* A whole hash, not a bare setting or some other text: only crypt's
 * alphabet ("./0-9A-Za-z", plus '$', '=' and ',' between a method's
 * fields); a DES-style hash (no '$') is 13 characters, bigcrypt 13 plus
 * 11 per further block, BSDi's '_' form 20. Without the password nothing
 * more can be checked: a cleartext password that happens to have such a
 * form passes (and never matches). */
static bool auth_hash_complete(const char *hash)
{
	static const char alphabet[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t n = strlen(hash);

	if (hash[0] == '_')
		return n == 20 && strspn(hash + 1, alphabet) == n - 1;
	if (hash[0] != '$')
		return n >= 13 && (n - 13) % 11 == 0 && strspn(hash, alphabet) == n;
	if (strspn(hash, "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz$=,") != n)
		return false;
	return strrchr(hash, '$')[1] != '\0';
}

enum auth_hash_grade auth_hash_grade(const char *hash, const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!hash || !hash[0]) {
		*why = "no password hash";
		return AUTH_HASH_UNUSABLE;
	}
	for (size_t i = 0; i < ARRAY_LEN(auth_methods); i++) {
		if (auth_methods[i].foreign && auth_has_prefix(hash, auth_methods[i].prefix)) {
			*why = auth_methods[i].foreign;
			return AUTH_HASH_UNUSABLE;
		}
	}
	switch (crypt_checksalt(hash)) {
	case CRYPT_SALT_OK:
		break;
	case CRYPT_SALT_METHOD_LEGACY:
		*why = "a legacy method";
		break;
	case CRYPT_SALT_TOO_CHEAP:
		*why = "below its method's minimum cost";
		break;
	case CRYPT_SALT_METHOD_DISABLED:
		*why = "a method this libxcrypt was built without";
		return AUTH_HASH_UNUSABLE;
	default:
		*why = "not a password hash libxcrypt knows";
		return AUTH_HASH_UNUSABLE;
	}
	if (!auth_hash_complete(hash)) {
		*why = "not a password hash (cleartext, or a bare setting?)";
		return AUTH_HASH_UNUSABLE;
	}
	if (*why)
		return AUTH_HASH_UPGRADE;
	if (!auth_has_prefix(hash, AUTH_YESCRYPT)) {
		*why = "not yescrypt, Ferry's method";
		return AUTH_HASH_UPGRADE;
	}
	if (auth_yescrypt_cheap(hash)) {
		*why = "yescrypt below Ferry's default cost";
		return AUTH_HASH_UPGRADE;
	}
	return AUTH_HASH_CURRENT;
}

void auth_rehash(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		 const char *old_hash)
{
	struct log_escaped e;
	const char *why;
	char *fresh = NULL;

	if (!ops || !ops->password_swap || !s || !user || !password ||
	    auth_hash_grade(old_hash, &why) != AUTH_HASH_UPGRADE)
		return;
	const char *name = log_esc(slice_from_cstr(user), &e);
	const char *from = auth_hash_method(old_hash);
	int r = auth_hash_password(password, &fresh);
	if (r == 0)
		r = ops->password_swap(s, user, old_hash, fresh);
	if (r == 0)
		log_info(0, "password hash upgraded: user=%s from=%s to=yescrypt (%s)", name, from, why);
	else if (r == -ESTALE)
		log_info(0, "password hash not upgraded: user=%s from=%s: changed in the store meanwhile", name, from);
	else
		log_warn(0, "password hash not upgraded: user=%s from=%s: %s", name, from, strerror(-r));
	free(fresh);
}
