/* userfile: parsing one line of a Pure-FTPd, ProFTPD or htpasswd user file
 * (see userfile.h). The field lists follow the servers' own readers:
 * Pure-FTPd's pure-pw (account:password:uid:gid:gecos:home, then optional
 * upload/download bandwidth, upload/download ratio, maximum connections,
 * files quota, size quota, allowed/refused local IPs, allowed/refused
 * client IPs, time restrictions), ProFTPD's mod_auth_file (passwd(5):
 * name:hash:uid:gid:gecos:home:shell), Apache's htpasswd (name:hash). */
#include "userfile.h"

#include <errno.h>
#include <string.h>

#include "parse.h"
#include "path.h"

#define USERFILE_FIELDS_MAX 18 /* Pure-FTPd's full line */

int userfile_format_parse(const char *s, enum userfile_format *out)
{
	static const char *const names[] = {
		[USERFILE_PUREFTPD] = "pureftpd",
		[USERFILE_PROFTPD] = "proftpd",
		[USERFILE_HTPASSWD] = "htpasswd",
	};
	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum userfile_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Splits at every ':' into at most max fields; returns the count, or
 * max + 1 when there are more. */
static size_t userfile_split(struct slice line, struct slice *fields, size_t max)
{
	size_t n = 0;
	bool more = true;

	while (more) {
		struct slice head;
		more = slice_split(line, ':', &head, &line);
		if (n == max)
			return max + 1;
		fields[n++] = head;
	}
	return n;
}

static bool userfile_digits(struct slice s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

/* path_resolve of "/" + p: lexical normalisation, "" stays "/". */
static int userfile_norm(struct slice p, char *out, size_t outsz)
{
	return path_resolve("/", p, out, outsz);
}

/* The home field: absolute, no control bytes; a "/./" (or a final "/.")
 * marks the chroot, as both servers read it. */
static const char *userfile_home(struct slice h, struct userfile_entry *e)
{
	struct slice root = h, start = { h.p + h.n, 0 };

	if (h.n == 0)
		return "empty home directory";
	if (h.p[0] != '/')
		return "home directory is not an absolute path";
	if (slice_has_ctl(h))
		return "home directory contains control characters";
	for (size_t i = 0; i + 1 < h.n; i++) {
		if (h.p[i] == '/' && h.p[i + 1] == '.' && (i + 2 == h.n || h.p[i + 2] == '/')) {
			e->chroot = true;
			root = (struct slice){ h.p, i };
			start =
			    i + 2 < h.n ? (struct slice){ h.p + i + 3, h.n - i - 3 } : (struct slice){ h.p + h.n, 0 };
			break;
		}
	}
	if (userfile_norm(root, e->home, sizeof(e->home)) != 0 || userfile_norm(start, e->start, sizeof(e->start)) != 0)
		return "home directory is too long";
	if (strcmp(e->start, "/") == 0)
		e->start[0] = '\0';
	return NULL;
}

/* Name and hash, the two fields every format starts with. */
static const char *userfile_credentials(struct slice name, struct slice hash, struct userfile_entry *e)
{
	if (name.n == 0)
		return "empty user name";
	if (slice_has_ctl(name))
		return "user name contains control characters";
	e->name = name;
	if (hash.n > 0 && hash.p[0] == '!') {
		e->locked = true;
		hash.p++;
		hash.n--;
	}
	if (hash.n == 0)
		return e->locked ? "locked account without a password hash" : "empty password hash";
	if (slice_has_ctl(hash) || memchr(hash.p, ' ', hash.n))
		return "password hash contains spaces or control characters";
	e->hash = hash;
	return NULL;
}

/* One numeric limit field: empty = not set, else decimal digits (what
 * pure-pw writes; its reader's strtoul would turn anything else into 0). */
static const char *userfile_number(const struct slice *f, size_t n, size_t i, bool *has, uint64_t *out, const char *why)
{
	if (i >= n || f[i].n == 0)
		return NULL;
	if (parse_u64(f[i], UINT64_MAX, out) != 0)
		return why;
	if (has)
		*has = true;
	return NULL;
}

/* Fields 7-18: bandwidth up and down, ratio up and down, connections,
 * files and size quota, allowed/refused local IPs, allowed/refused client
 * IPs, time restrictions (pure-ftpd's log_puredb.c reads them so). */
static const char *userfile_pureftpd_limits(const struct slice *f, size_t n, struct userfile_limits *l)
{
	const char *why = userfile_number(f, n, 6, &l->has_rate_up, &l->rate_up, "upload bandwidth is not a number");
	if (!why)
		why = userfile_number(f, n, 7, &l->has_rate_down, &l->rate_down, "download bandwidth is not a number");
	if (!why)
		why = userfile_number(f, n, 8, NULL, &l->ratio_up, "upload ratio is not a number");
	if (!why)
		why = userfile_number(f, n, 9, NULL, &l->ratio_down, "download ratio is not a number");
	if (!why)
		why = userfile_number(f, n, 10, &l->has_max_sessions, &l->max_sessions,
				      "maximum number of connections is not a number");
	if (!why)
		why = userfile_number(f, n, 11, &l->has_quota_files, &l->quota_files, "files quota is not a number");
	if (!why)
		why = userfile_number(f, n, 12, &l->has_quota_bytes, &l->quota_bytes, "size quota is not a number");
	struct slice *text[] = { &l->allow_local, &l->deny_local, &l->allow_client, &l->deny_client, &l->time };
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		*text[i] = 13 + i < n ? f[13 + i] : (struct slice){ "", 0 };
		if (!why && slice_has_ctl(*text[i]))
			why = "an address list or time restriction contains control characters";
	}
	return why;
}

static const char *userfile_pureftpd(const struct slice *f, size_t n, struct userfile_entry *e)
{
	const char *why;

	if (n < 6)
		return "not a Pure-FTPd line (account:password:uid:gid:gecos:home[:...])";
	if (n > USERFILE_FIELDS_MAX)
		return "not a Pure-FTPd line (more than 18 fields)";
	why = userfile_credentials(f[0], f[1], e);
	if (!why && (!userfile_digits(f[2]) || !userfile_digits(f[3])))
		why = "uid or gid is not a number";
	if (!why)
		why = userfile_home(f[5], e);
	if (!why)
		why = userfile_pureftpd_limits(f, n, &e->lim);
	for (size_t i = 6; i < n; i++)
		if (f[i].n > 0)
			e->limits = true;
	return why;
}

static const char *userfile_proftpd(const struct slice *f, size_t n, struct userfile_entry *e)
{
	const char *why;

	if (n != 7)
		return "not a ProFTPD AuthUserFile line (name:hash:uid:gid:gecos:home:shell)";
	why = userfile_credentials(f[0], f[1], e);
	if (!why && (!userfile_digits(f[2]) || !userfile_digits(f[3])))
		why = "uid or gid is not a number";
	if (!why)
		why = userfile_home(f[5], e);
	return why;
}

static const char *userfile_htpasswd(const struct slice *f, size_t n, struct userfile_entry *e)
{
	if (n != 2)
		return "not an htpasswd line (name:hash)";
	return userfile_credentials(f[0], f[1], e);
}

enum userfile_verdict userfile_parse(enum userfile_format f, struct slice line, struct userfile_entry *e,
				     const char **why)
{
	struct slice fields[USERFILE_FIELDS_MAX];

	memset(e, 0, sizeof(*e));
	*why = NULL;
	if (line.n > 0 && line.p[line.n - 1] == '\r')
		line.n--;
	if (slice_trim_spaces(line).n == 0 || line.p[0] == '#')
		return USERFILE_SKIP;
	size_t n = userfile_split(line, fields, USERFILE_FIELDS_MAX);
	if (f == USERFILE_PUREFTPD)
		*why = userfile_pureftpd(fields, n, e);
	else if (f == USERFILE_PROFTPD)
		*why = userfile_proftpd(fields, n, e);
	else
		*why = userfile_htpasswd(fields, n, e);
	if (*why) {
		e->hash = (struct slice){ 0 };
		return USERFILE_BAD;
	}
	return USERFILE_ENTRY;
}
