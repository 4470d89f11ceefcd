/* sftp_keyline: one OpenSSH public key line ("ssh-ed25519 AAAA... comment",
 * the form of a .pub file) taken apart, before libssh reads the key
 * (sftp_pubkey.c). Pure: no allocation, no I/O; always built, so the CLI's
 * messages and the unit tests do not depend on libssh. */
#ifndef FERRY_SFTP_KEYLINE_H
#define FERRY_SFTP_KEYLINE_H

#include "str.h"

/* The longest line taken: an RSA key of 16384 bits is about 2.8 KiB. */
#define SFTP_KEYLINE_MAX 8192

struct sftp_keyline {
	struct slice type;    /* "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256" ... */
	struct slice blob;    /* the base64 key */
	struct slice comment; /* may be empty; inner spaces kept */
};

/* Splits line (one line: a final LF or CRLF is allowed; spaces and tabs
 * around the fields are) into out, whose slices point into line. 0, or
 * -EINVAL with *why saying what is wrong in words a message can quote:
 * empty, several lines, control bytes, too long, options before the type
 * (an authorized_keys line), no key after the type, a key that is not
 * base64. */
int sftp_keyline_split(struct slice line, struct sftp_keyline *out, const char **why);

#endif
