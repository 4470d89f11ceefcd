/* userfile: one line of another FTP server's user file, as `ferry user
 * import` reads them: a Pure-FTPd pureftpd.passwd, a ProFTPD AuthUserFile
 * (ftpasswd) or an htpasswd-style file. Pure: bytes in, a verdict out; the
 * hash is only split off here (whether libxcrypt can verify it is
 * core/auth_rehash.c's question), the file is read by the CLI. */
#ifndef FERRY_USERFILE_H
#define FERRY_USERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "str.h"

enum userfile_format { USERFILE_PUREFTPD, USERFILE_PROFTPD, USERFILE_HTPASSWD };

/* "pureftpd", "proftpd" or "htpasswd" (exactly); -EINVAL otherwise. */
int userfile_format_parse(const char *s, enum userfile_format *out);

#define USERFILE_HOME_MAX 4096

/* Pure-FTPd's per-user limits (fields 7-18 of its line), as its file keeps
 * them: pure-pw writes the bandwidths in bytes/s (its -t/-T take KB/s and
 * multiply by 1024) and the size quota in bytes (its -N takes MB). has_*
 * says the field was not empty; the address lists and the time restriction
 * ("hhmm-hhmm") are the raw text (slices into the line), "" when empty. */
struct userfile_limits {
	bool has_rate_up, has_rate_down, has_max_sessions, has_quota_files, has_quota_bytes;
	uint64_t rate_up, rate_down;   /* bytes/s; Pure-FTPd: 0 = unthrottled */
	uint64_t max_sessions;	       /* Pure-FTPd: 0 = no limit */
	uint64_t quota_files;	       /* Pure-FTPd: 0 = nothing may be uploaded */
	uint64_t quota_bytes;	       /* bytes; 0 likewise */
	uint64_t ratio_up, ratio_down; /* 0 = none */
	struct slice allow_local, deny_local, allow_client, deny_client, time;
};

/* One user. name and hash point into the line given to userfile_parse. */
struct userfile_entry {
	struct slice name;
	struct slice hash; /* without a leading '!' (see locked) */
	/* The home, normalised (no trailing '/', no "." or ".."), "" for
	 * htpasswd (which has none). A Pure-FTPd/ProFTPD chroot marker "/./"
	 * splits it: home is the part before it (the directory the user was
	 * locked into), start what followed (a directory inside it the
	 * session started in, "" if none). */
	char home[USERFILE_HOME_MAX];
	char start[USERFILE_HOME_MAX];
	bool chroot; /* the home had a "/./" marker */
	bool locked; /* the hash had a leading '!' (ftpasswd --lock) */
	bool limits; /* Pure-FTPd: bandwidth, ratio, quota, connection, IP or
		      * time fields were set (then lim says which) */
	struct userfile_limits lim;
};

enum userfile_verdict {
	USERFILE_ENTRY, /* *e is filled */
	USERFILE_SKIP,	/* blank line or '#' comment */
	USERFILE_BAD,	/* *why says what is wrong (a static string); e->name is
			 * set when the line had one */
};

/* Parses one line (without its '\n'; a trailing '\r' is dropped). */
enum userfile_verdict userfile_parse(enum userfile_format f, struct slice line, struct userfile_entry *e,
				     const char **why);

#endif
