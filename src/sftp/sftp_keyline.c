/* sftp_keyline: an OpenSSH public key line taken apart (sftp_keyline.h). */
#include "sftp_keyline.h"

#include <errno.h>
#include <stdbool.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Up to the next blank: the field, and the rest after the blanks. */
static struct slice next_field(struct slice *rest)
{
	size_t i = 0;
	while (i < rest->n && !is_blank(rest->p[i]))
		i++;
	struct slice f = { rest->p, i };
	while (i < rest->n && is_blank(rest->p[i]))
		i++;
	*rest = (struct slice){ rest->p + i, rest->n - i };
	return f;
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Base64 as OpenSSH writes it: padded to a multiple of 4, '=' only at
 * the end. */
static bool blob_valid(struct slice b)
{
	size_t pad = 0;
	if (b.n == 0 || b.n % 4 != 0)
		return false;
	while (pad < 2 && b.n > pad && b.p[b.n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < b.n - pad; i++)
		if (!is_b64(b.p[i]))
			return false;
	return true;
}

/* A key type: a name like "ssh-ed25519" or "sk-ssh-ed25519@openssh.com". */
static bool type_valid(struct slice t)
{
	if (t.n == 0 || t.n > 64)
		return false;
	for (size_t i = 0; i < t.n; i++) {
		char c = t.p[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '@' || c == '.' || c == '_';
		if (!ok)
			return false;
	}
	return true;
}

int sftp_keyline_split(struct slice line, struct sftp_keyline *out, const char **why)
{
	*out = (struct sftp_keyline){ 0 };
	if (line.n > 0 && line.p[line.n - 1] == '\n')
		line.n--;
	if (line.n > 0 && line.p[line.n - 1] == '\r')
		line.n--;
	for (size_t i = 0; i < line.n; i++) {
		if (line.p[i] == '\n') {
			*why = "more than one line (give one key at a time)";
			return -EINVAL;
		}
	}
	if (line.n > SFTP_KEYLINE_MAX) {
		*why = "the line is too long";
		return -EINVAL;
	}
	/* SECURITY: the comment is printed by key list and logged: no
	 * control bytes (tabs between fields aside). */
	for (size_t i = 0; i < line.n; i++) {
		unsigned char c = (unsigned char)line.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*why = "the line holds control characters";
			return -EINVAL;
		}
	}
	while (line.n > 0 && is_blank(line.p[0]))
		line = (struct slice){ line.p + 1, line.n - 1 };
	while (line.n > 0 && is_blank(line.p[line.n - 1]))
		line.n--;
	if (line.n == 0) {
		*why = "no key (an empty line)";
		return -EINVAL;
	}
	struct slice rest = line;
	out->type = next_field(&rest);
	if (!type_valid(out->type) || out->type.p[0] == '#') {
		*why = "it does not start with a key type such as ssh-ed25519 (options or a comment line?)";
		return -EINVAL;
	}
	out->blob = next_field(&rest);
	if (out->blob.n == 0) {
		*why = "no key after the key type";
		return -EINVAL;
	}
	if (!blob_valid(out->blob)) {
		/* "ssh-ed25519 AAAA" after options like from="..." lands here
		 * too, but then the type check above has already refused. */
		*why = "the key is not base64";
		return -EINVAL;
	}
	out->comment = rest;
	*why = NULL;
	return 0;
}
