/* auth_hash: what Ferry thinks of a stored password hash, and the upgrade
 * of an old one at login. A hash libxcrypt calls legacy (md5crypt,
 * sha256crypt, DES...) or too cheap, any method other than yescrypt, and a
 * yescrypt hash below the default cost are replaced with a fresh yescrypt
 * hash (auth_hash_password, the default cost) once the user has logged in
 * with the right password: the only moment the password is known. The
 * import (ferry user import) asks the same question of each hash it reads. */
#ifndef FERRY_AUTH_HASH_H
#define FERRY_AUTH_HASH_H

#include "userstore.h"

enum auth_hash_grade {
	AUTH_HASH_CURRENT,  /* yescrypt at the default cost or more */
	AUTH_HASH_UPGRADE,  /* verifiable; replaced at the next login */
	AUTH_HASH_UNUSABLE, /* libxcrypt cannot verify it */
};

/* Grades a crypt(3) hash. *why (may be NULL) gets a static phrase for
 * UPGRADE and UNUSABLE ("a legacy method", "Apache's APR1-MD5, not a
 * libxcrypt method", ...), NULL for CURRENT. Checks the hash's form and
 * method (crypt_checksalt), never runs crypt. */
enum auth_hash_grade auth_hash_grade(const char *hash, const char **why);

/* The method's name for messages: "yescrypt", "md5crypt", "bcrypt",
 * "descrypt"...; "unknown" when libxcrypt does not know it. */
const char *auth_hash_method(const char *hash);

/* After a successful check of password against old_hash (the hash user's
 * record held): when old_hash grades UPGRADE, hashes password anew and
 * stores it with ops->password_swap (only if the record still holds
 * old_hash), logging the upgrade. Never fails the login: a hashing or store
 * error is logged and the old hash stays. Blocking (one more crypt and a
 * store write): job pool only. */
void auth_rehash(const struct userstore_ops *ops, struct userstore *s, const char *user, const char *password,
		 const char *old_hash);

#endif
