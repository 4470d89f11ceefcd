/* sftp_pubkey: users' SSH public keys through libssh: a key line for the
 * store (ferry user key add) and a client's key as the store compares it
 * (publickey logins, sftp_auth.c). Both end in the same three fields, so
 * a key added from its .pub line and the same key offered by a client
 * meet in the store byte for byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sftp_impl.h"
#include "sftp_keyline.h"
#include "util.h"

/* Key types a user may log in with: no DSA (OpenSSH dropped it), no
 * certificates (no CA is configured to check them against). */
static const char *key_refused(ssh_key key)
{
	switch (ssh_key_type(key)) {
	case SSH_KEYTYPE_ED25519:
	case SSH_KEYTYPE_ECDSA_P256:
	case SSH_KEYTYPE_ECDSA_P384:
	case SSH_KEYTYPE_ECDSA_P521:
	case SSH_KEYTYPE_SK_ED25519:
	case SSH_KEYTYPE_SK_ECDSA:
		return NULL;
	case SSH_KEYTYPE_RSA:
		return !sftp_rsa_size_ok(key) ? "RSA keys shorter than 2048 bits are not accepted" : NULL;
	case SSH_KEYTYPE_DSS:
		return "DSA keys are not accepted";
	default:
		return "certificates and this key type are not accepted";
	}
}

int sftp_key_describe(ssh_key key, struct user_key *out)
{
	char fp[SFTP_FP_MAX];
	char *b64 = NULL;
	*out = (struct user_key){ 0 };
	if (!key || key_refused(key))
		return -EINVAL;
	const char *type = ssh_key_type_to_char(ssh_key_type(key));
	if (!type || ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK || !b64)
		return -ENOMEM;
	sftp_key_fingerprint(key, fp, sizeof(fp));
	out->type = util_xstrdup(type);
	out->blob = util_xstrdup(b64);
	out->fingerprint = util_xstrdup(fp);
	ssh_string_free_char(b64);
	return fp[0] == '?' ? (user_key_free(out), -ENOMEM) : 0;
}

int sftp_pubkey_parse(const char *line, size_t len, struct user_key *out, char *err, size_t errsz)
{
	struct sftp_keyline kl;
	const char *why = NULL;
	ssh_key key = NULL;
	char type[72], *blob = NULL;
	int r = -EINVAL;

	*out = (struct user_key){ 0 };
	if (sftp_keyline_split((struct slice){ line, len }, &kl, &why) != 0) {
		(void)snprintf(err, errsz, "not an OpenSSH public key line: %s", why);
		return -EINVAL;
	}
	(void)snprintf(type, sizeof(type), "%.*s", (int)kl.type.n, kl.type.p);
	enum ssh_keytypes_e kt = ssh_key_type_from_name(type);
	if (kt == SSH_KEYTYPE_UNKNOWN) {
		(void)snprintf(err, errsz, "unknown key type '%s'", type);
		return -EINVAL;
	}
	blob = util_xstrndup(kl.blob.p, kl.blob.n);
	if (ssh_pki_import_pubkey_base64(blob, kt, &key) != SSH_OK || !key) {
		(void)snprintf(err, errsz, "the key cannot be read as a %s key", type);
		goto fail;
	}
	const char *refused = key_refused(key);
	if (refused) {
		(void)snprintf(err, errsz, "%s", refused);
		goto fail;
	}
	r = sftp_key_describe(key, out);
	if (r) {
		(void)snprintf(err, errsz, "the key cannot be read (%s)", strerror(-r));
		goto fail;
	}
	/* SECURITY: what the store keeps is what libssh wrote back, so it
	 * must be the line's own key of the line's own type (a blob of another
	 * type, or trailing bytes, would otherwise pass). */
	if (strcmp(out->type, type) != 0 || strcmp(out->blob, blob) != 0) {
		(void)snprintf(err, errsz, "the key is not a valid %s key", type);
		user_key_free(out);
		r = -EINVAL;
		goto fail;
	}
	out->comment = util_xstrndup(kl.comment.p, kl.comment.n);
	r = 0;
fail:
	free(blob);
	ssh_key_free(key);
	return r;
}
