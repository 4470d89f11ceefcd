/* sftp_keys: the SSH host keys (sftp.h). Read as root before the
 * privilege drop; the files must not be readable by group or others, as
 * sshd requires. When [sftp] host_keys is empty, one ed25519 key is made
 * once in the state directory (the directory of [store] sqlite) and kept
 * there, so clients see the same host key after every restart. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sftp.h"
#include "sftp_impl.h"
#include "str.h"
#include "util.h"

/* A private key file is a few KiB (RSA 8192 is under 7 KiB in PEM). */
#define KEY_FILE_MAX (32u * 1024u)
#define DEFAULT_KEY_NAME "ssh_host_ed25519_key"

int sftp_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	return 0; /* built with libssh: every [sftp] key is served */
}

int sftp_keys_default_path(const struct config *cfg, char *out, size_t outsz)
{
	char dir[PATH_MAX];
	(void)snprintf(dir, sizeof(dir), "%s", cfg->sqlite_path);
	int n = snprintf(out, outsz, "%s/%s", dirname(dir), DEFAULT_KEY_NAME);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}

void sftp_key_fingerprint(ssh_key key, char *out, size_t outsz)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	(void)snprintf(out, outsz, "?");
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0)
		return;
	char *fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	if (fp)
		(void)snprintf(out, outsz, "%s", fp);
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
}

/* Reads one private key file. SECURITY: a key readable by group or others
 * is refused (as sshd does); a link is not followed. */
static int key_read(const char *path, ssh_key *out, char *err, size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		(void)snprintf(err, errsz, "[sftp] host_keys: %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	int r = 0;
	char *text = NULL;
	if (fstat(fd, &st) != 0) {
		r = -errno;
		(void)snprintf(err, errsz, "[sftp] host_keys: %s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > KEY_FILE_MAX) {
		r = -EINVAL;
		(void)snprintf(err, errsz,
			       "[sftp] host_keys: %s: not a private key file (a regular file of at most %u bytes)",
			       path, KEY_FILE_MAX);
		goto out;
	}
	if (st.st_mode & 077) {
		r = -EACCES;
		(void)snprintf(
		    err, errsz,
		    "[sftp] host_keys: %s: readable by group or others (mode %04o); make it 0600 (chmod 600)", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	text = util_xcalloc(1, (size_t)st.st_size + 1);
	ssize_t got = read(fd, text, (size_t)st.st_size);
	if (got != st.st_size) {
		r = got < 0 ? -errno : -EIO;
		(void)snprintf(err, errsz, "[sftp] host_keys: %s: cannot read it", path);
		goto out;
	}
	if (ssh_pki_import_privkey_base64(text, NULL, NULL, NULL, out) != SSH_OK) {
		r = -EINVAL;
		(void)snprintf(err, errsz,
			       "[sftp] host_keys: %s: not an unencrypted private key libssh can read (OpenSSH or PEM "
			       "format, no passphrase)",
			       path);
	}
out:
	if (text) {
		util_wipe(text, (size_t)st.st_size);
		free(text);
	}
	(void)close(fd);
	return r;
}

/* Makes the default key: a new ed25519 key, written with O_EXCL (never over
 * an existing file or through a link), mode 0600, owned by uid/gid. */
static int key_generate(const char *path, uid_t uid, gid_t gid, ssh_key *out, char *err, size_t errsz)
{
	ssh_key key = NULL;
	char *text = NULL;
	int fd = -1, r = 0;
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK ||
	    ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &text) != SSH_OK) {
		(void)snprintf(err, errsz, "[sftp]: cannot generate an ed25519 host key");
		r = -EIO;
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		r = -errno;
		(void)snprintf(err, errsz,
			       "[sftp]: cannot create the host key %s: %s (set [sftp] host_keys, or make the "
			       "directory of [store] sqlite writable)",
			       path, strerror(-r));
		goto out;
	}
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n || fsync(fd) != 0 || (uid != (uid_t)-1 && fchown(fd, uid, gid) != 0)) {
		r = errno ? -errno : -EIO;
		(void)snprintf(err, errsz, "[sftp]: cannot write the host key %s: %s", path, strerror(-r));
		(void)unlink(path);
		goto out;
	}
	*out = key;
	key = NULL;
out:
	if (fd >= 0)
		(void)close(fd);
	if (text) {
		util_wipe(text, strlen(text));
		ssh_string_free_char(text);
	}
	ssh_key_free(key);
	return r;
}

bool sftp_rsa_size_ok(ssh_key key)
{
	ssh_bind b = ssh_bind_new();
	int min = RSA_MIN_BITS;
	ssh_key k = ssh_key_dup(key);
	bool ok = b && k && ssh_bind_options_set(b, SSH_BIND_OPTIONS_RSA_MIN_SIZE, &min) == 0 &&
		  ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, k) == 0;
	if (ok || !b)
		k = NULL; /* the bind owns it now */
	ssh_key_free(k);
	if (b)
		ssh_bind_free(b);
	return ok;
}

/* Ed25519 and RSA (at least RSA_MIN_BITS), one of each at most: libssh
 * serves one key per type. */
static int key_accept(struct sftp_keys *k, ssh_key key, const char *path, char *err, size_t errsz)
{
	enum ssh_keytypes_e t = ssh_key_type(key);
	if (t != SSH_KEYTYPE_ED25519 && t != SSH_KEYTYPE_RSA) {
		(void)snprintf(err, errsz, "[sftp] host_keys: %s: a %s key; ed25519 or RSA keys only", path,
			       ssh_key_type_to_char(t));
		return -EINVAL;
	}
	if (t == SSH_KEYTYPE_RSA && !sftp_rsa_size_ok(key)) {
		(void)snprintf(err, errsz, "[sftp] host_keys: %s: an RSA key shorter than %d bits", path, RSA_MIN_BITS);
		return -EINVAL;
	}
	for (size_t i = 0; i < k->n; i++)
		if (ssh_key_type(k->keys[i]) == t) {
			(void)snprintf(err, errsz, "[sftp] host_keys: %s: a second %s key (one per type)", path,
				       ssh_key_type_to_char(t));
			return -EINVAL;
		}
	char fp[128];
	sftp_key_fingerprint(key, fp, sizeof(fp));
	log_info(0, "sftp: host key %s (%s) %s", path, ssh_key_type_to_char(t), fp);
	k->keys[k->n++] = key;
	return 0;
}

int sftp_keys_load(const struct config *cfg, uid_t uid, gid_t gid, struct sftp_keys **out, char *err, size_t errsz)
{
	struct sftp_keys *k = util_xcalloc(1, sizeof(*k));
	int r = 0;
	*out = NULL;
	if (cfg->sftp_host_keys[0]) {
		struct slice rest = slice_from_cstr(cfg->sftp_host_keys), item;
		bool more = true;
		while (more && !r) {
			char file[PATH_MAX];
			ssh_key key = NULL;
			more = slice_split(rest, ',', &item, &rest);
			item = slice_trim_spaces(item);
			if (item.n == 0 || item.n >= sizeof(file) || k->n == SFTP_MAX_KEYS) {
				(void)snprintf(err, errsz, "[sftp] host_keys: expected 1 to %d file names",
					       SFTP_MAX_KEYS);
				r = -EINVAL;
				break;
			}
			memcpy(file, item.p, item.n);
			file[item.n] = '\0';
			r = key_read(file, &key, err, errsz);
			if (r == 0 && (r = key_accept(k, key, file, err, errsz)) != 0)
				ssh_key_free(key);
		}
	} else {
		char path[PATH_MAX];
		ssh_key key = NULL;
		r = sftp_keys_default_path(cfg, path, sizeof(path));
		if (r)
			(void)snprintf(err, errsz, "[sftp]: the default host key path is too long");
		if (r == 0) {
			r = key_read(path, &key, err, errsz);
			if (r == -ENOENT) {
				r = key_generate(path, uid, gid, &key, err, errsz);
				if (r == 0)
					log_warn(
					    0, "sftp: generated a new ed25519 host key %s ([sftp] host_keys is empty)",
					    path);
			}
		}
		if (r == 0 && (r = key_accept(k, key, path, err, errsz)) != 0)
			ssh_key_free(key);
	}
	if (r) {
		sftp_keys_free(k);
		return r;
	}
	*out = k;
	return 0;
}

void sftp_keys_free(struct sftp_keys *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		ssh_key_free(k->keys[i]);
	free(k);
}
