#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "config_row.h"
#include "config_host.h"
#include "log.h"
#include "parse.h"
#include "str.h"
#include "util.h"

/* State of one config_load(): the reader and the key handler share it. */
struct config_parse {
	struct config *c;
	char dir[PATH_MAX];
	FILE *f;
	char *buf; /* getline() buffer */
	size_t bufsz;
	unsigned line;
	unsigned *seen_line; /* config_n_rows of them; 0 = not yet given */
	int io_err;	     /* errno of a read failure */
	unsigned err_line;   /* 0 = no error recorded */
	char msg[512];	     /* the first error, without "FILE:LINE: " */
	unsigned host_seen;  /* keys given in the current [host NAME] */
};

/* Values and names from the file are quoted in messages that end up on a
 * terminal or in syslog, so they are escaped and kept short. */
static int config_apply_defaults(struct config *c, char *why, size_t whysz)
{
	char tmp[256];
	for (size_t i = 0; i < config_n_rows; i++) {
		const struct config_row *row = &config_rows[i];
		if (config_apply(row, row->def, c, NULL, tmp, sizeof(tmp)) != 0) {
			config_why(why, whysz, "built-in default: [%s] %s: %s", row->section, row->key, tmp);
			return -EINVAL;
		}
	}
	return 0;
}

struct config *config_new_default(void)
{
	char why[384];
	struct config *c = util_xcalloc(1, sizeof(*c));
	atomic_init(&c->refs, 1u);
	if (config_apply_defaults(c, why, sizeof(why)) != 0) {
		/* Only a broken table gets here; the unit tests would fail first. */
		log_err(0, "config: %s", why);
		free(c);
		return NULL;
	}
	return c;
}

static bool config_section_known(const char *s, size_t n)
{
	for (size_t i = 0; i < config_n_rows; i++)
		if (strlen(config_rows[i].section) == n && memcmp(config_rows[i].section, s, n) == 0)
			return true;
	return false;
}

/* Records the first error only: later ones are often consequences of it. */
__attribute__((format(printf, 2, 3))) static void config_fail(struct config_parse *ctx, const char *fmt, ...)
{
	va_list ap;
	if (ctx->err_line)
		return;
	ctx->err_line = ctx->line ? ctx->line : 1;
	va_start(ap, fmt);
	(void)vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
}

/* inih's line reader. Reading the file ourselves lets us (1) count lines, so
 * our message is paired with its own line number, and inih's return value
 * (the first failing line) tells whether a syntax error came earlier; (2) refuse lines too long for inih's fixed
 * 200-byte buffer, which it would otherwise split silently into two "lines"; (3) strip leading blanks, so an indented
 * key is a key and not a continuation of the previous value; (4) see [section] headers, so an empty unknown section is
 * still an error. Returning NULL ends the parse after the first error. */
static char *config_read_line(char *str, int num, void *stream)
{
	struct config_parse *ctx = stream;
	char sect[64];

	if (ctx->err_line || ctx->io_err || num < 2)
		return NULL;
	errno = 0;
	ssize_t got = getline(&ctx->buf, &ctx->bufsz, ctx->f);
	if (got < 0) {
		if (ferror(ctx->f))
			ctx->io_err = errno ? errno : EIO;
		return NULL;
	}
	ctx->line++;
	struct slice s = { ctx->buf, (size_t)got };
	if (memchr(s.p, '\0', s.n)) {
		config_fail(ctx, "line contains a NUL byte");
		return NULL;
	}
	if (ctx->line == 1 && s.n >= 3 && memcmp(s.p, "\xEF\xBB\xBF", 3) == 0) {
		s.p += 3;
		s.n -= 3;
	}
	while (s.n && (s.p[s.n - 1] == '\n' || s.p[s.n - 1] == '\r'))
		s.n--;
	s = slice_trim_spaces(s);
	if (s.n && (s.p[0] == ';' || s.p[0] == '#')) {
		s.n = 1; /* a comment of any length is still a comment */
	} else if (s.n > (size_t)num - 1) {
		config_fail(ctx, "line is longer than %d characters", num - 1);
		return NULL;
	} else if (s.n && s.p[0] == '[') {
		const char *end = memchr(s.p, ']', s.n);
		size_t n = end ? (size_t)(end - s.p - 1) : 0;
		/* [host NAME]: inih gets "[host]" (config_host.c). */
		if (end && (n == 4 || (n > 4 && s.p[5] == ' ')) && memcmp(s.p + 1, "host", 4) == 0) {
			char why[384];
			struct slice name = { s.p + 5, n - 4 };
			if (config_host_begin(ctx->c, name, ctx->line, why, sizeof(why)) != 0) {
				config_fail(ctx, "%s", why);
				return NULL;
			}
			ctx->host_seen = 0;
			memcpy(str, "[host]", sizeof("[host]"));
			return str;
		}
		if (end && !config_section_known(s.p + 1, n)) {
			struct slice name = { s.p + 1, n };
			config_fail(ctx, "[%s]: unknown section", str_escape(name, sect, sizeof(sect)));
			return NULL;
		}
	}
	memcpy(str, s.p, s.n);
	str[s.n] = '\0';
	return str;
}

static const struct config_row *config_find_row(const char *section, const char *key, bool *section_known)
{
	*section_known = false;
	for (size_t i = 0; i < config_n_rows; i++) {
		if (strcmp(config_rows[i].section, section) != 0)
			continue;
		*section_known = true;
		if (strcmp(config_rows[i].key, key) == 0)
			return &config_rows[i];
	}
	return NULL;
}

/* inih's handler: nonzero = accepted. */
static int config_handle_key(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *ctx = user;
	char qs[64], qk[64], why[384];
	bool section_known;

	if (ctx->err_line)
		return 0;
	if (!value)
		value = "";
	(void)config_quote(section, qs, sizeof(qs));
	(void)config_quote(name, qk, sizeof(qk));
	if (section[0] == '\0') {
		config_fail(ctx, "%s: key outside any [section]", qk);
		return 0;
	}
	if (strcmp(section, "host") == 0) {
		if (config_host_key(ctx->c, name, value, ctx->dir, &ctx->host_seen, why, sizeof(why)) != 0) {
			config_fail(ctx, "%s", why);
			return 0;
		}
		return 1;
	}
	const struct config_row *row = config_find_row(section, name, &section_known);
	if (!row) {
		config_fail(ctx, "[%s] %s: %s", qs, qk, section_known ? "unknown key" : "unknown section");
		return 0;
	}
	size_t i = (size_t)(row - config_rows);
	if (ctx->seen_line[i]) {
		config_fail(ctx, "[%s] %s: given twice (first on line %u)", qs, qk, ctx->seen_line[i]);
		return 0;
	}
	ctx->seen_line[i] = ctx->line;
	if (config_apply(row, value, ctx->c, ctx->dir, why, sizeof(why)) != 0) {
		config_fail(ctx, "[%s] %s: %s", qs, qk, why);
		return 0;
	}
	return 1;
}

/* Entries in a stored CONFIG_T_PATH_LIST value ("" = 0). */
static size_t config_list_count(const char *s)
{
	size_t n = s[0] ? 1 : 0;
	for (; *s; s++)
		n += *s == ',';
	return n;
}

static unsigned config_seen_line(const struct config_parse *ctx, const char *section, const char *key)
{
	bool known;
	const struct config_row *row = config_find_row(section, key, &known);
	return row ? ctx->seen_line[row - config_rows] : 0;
}

/* Records an error for a given line (cross-key checks run after the file
 * was read, when ctx->line is its last line). */
__attribute__((format(printf, 3, 4))) static void config_fail_at(struct config_parse *ctx, unsigned line,
								 const char *fmt, ...)
{
	va_list ap;
	if (ctx->err_line)
		return;
	ctx->err_line = line ? line : 1;
	va_start(ap, fmt);
	(void)vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
}

/* True if a listener on a would take connections meant for b: the same
 * port and address, or a wildcard of the same family (IPv6 sockets are
 * V6ONLY, so [::] does not cover IPv4). */
static bool config_listen_overlap(const struct config_listen *a, const struct config_listen *b)
{
	bool v6a = strchr(a->host, ':') != NULL, v6b = strchr(b->host, ':') != NULL;
	if (a->port != b->port || v6a != v6b)
		return false;
	if (strcmp(a->host, b->host) == 0)
		return true;
	const char *any = v6a ? "::" : "0.0.0.0";
	return strcmp(a->host, any) == 0 || strcmp(b->host, any) == 0;
}

/* [tls] checks that involve several keys. Returns nonzero on failure. */
static int config_check_tls(struct config_parse *ctx)
{
	const struct config *c = ctx->c;
	size_t nc = config_list_count(c->tls_cert), nk = config_list_count(c->tls_key);
	unsigned cert_line = config_seen_line(ctx, "tls", "cert");
	unsigned key_line = config_seen_line(ctx, "tls", "key");
	unsigned impl_line = config_seen_line(ctx, "tls", "implicit_listen");
	char a[80], b[80];

	if (nc != nk) {
		config_fail_at(ctx, key_line ? key_line : cert_line, "[tls] key: %zu certificate%s but %zu key%s", nc,
			       nc == 1 ? "" : "s", nk, nk == 1 ? "" : "s");
		return -1;
	}
	/* One address cannot serve both plain FTP and implicit FTPS. ferryd
	 * binds one socket per address without SO_REUSEPORT, so the second
	 * bind would fail at start with a bare "Address already in use";
	 * refusing here names the keys and lets --check catch it before a
	 * restart. */
	for (size_t i = 0; i < c->n_tls_implicit; i++) {
		for (size_t j = 0; j < c->n_listen; j++) {
			if (!config_listen_overlap(&c->tls_implicit[i], &c->listen[j]))
				continue;
			config_listen_format(&c->tls_implicit[i], a, sizeof(a));
			config_listen_format(&c->listen[j], b, sizeof(b));
			if (strcmp(a, b) == 0)
				config_fail_at(ctx, impl_line,
					       "[tls] implicit_listen: %s is also a [server] listen address", a);
			else
				config_fail_at(ctx, impl_line, "[tls] implicit_listen: %s overlaps [server] listen %s",
					       a, b);
			return -1;
		}
	}
	if (nc == 0 && c->n_tls_implicit) {
		config_fail_at(ctx, impl_line, "[tls] implicit_listen: needs a certificate ([tls] cert and key)");
		return -1;
	}
	if (nc == 0 && c->tls_required) {
		config_fail_at(ctx, config_seen_line(ctx, "tls", "required"),
			       "[tls] required: %s needs a certificate ([tls] cert and key)",
			       config_tls_required_modes[c->tls_required]);
		return -1;
	}
	/* The service is the first component of SERVICE/HOST@REALM. */
	if (strpbrk(c->gss_service, "/@\\ ")) {
		config_fail_at(ctx, config_seen_line(ctx, "gssapi", "service"),
			       "[gssapi] service: a bare service name like \"ftp\" (no '/', '@', '\\' or spaces)");
		return -1;
	}
	return 0;
}

/* [sftp] listen: an address already serving FTP or implicit FTPS would
 * fail at start with a bare "Address already in use" (as implicit_listen
 * above); refused here with the key's line. */
static int config_check_sftp(struct config_parse *ctx)
{
	const struct config *c = ctx->c;
	char a[80];
	for (size_t i = 0; i < c->n_sftp_listen; i++) {
		const struct config_listen *other = NULL;
		for (size_t j = 0; !other && j < c->n_listen; j++)
			if (config_listen_overlap(&c->sftp_listen[i], &c->listen[j]))
				other = &c->listen[j];
		for (size_t j = 0; !other && j < c->n_tls_implicit; j++)
			if (config_listen_overlap(&c->sftp_listen[i], &c->tls_implicit[j]))
				other = &c->tls_implicit[j];
		if (other) {
			config_listen_format(&c->sftp_listen[i], a, sizeof(a));
			config_fail_at(ctx, config_seen_line(ctx, "sftp", "listen"),
				       "[sftp] listen: %s is also an FTP listen address", a);
			return -1;
		}
	}
	return 0;
}

/* [server] proxy_protocol and [passive] proxy_protocol trust a header only
 * from proxy_from: on without it would trust anybody, or nobody. */
static int config_check_proxy(struct config_parse *ctx)
{
	const struct config *c = ctx->c;
	const char *sec = c->proxy_protocol ? "server" : c->pasv_proxy_protocol ? "passive" : NULL;
	if (!sec || c->n_proxy_from)
		return 0;
	int mode = c->proxy_protocol ? c->proxy_protocol : c->pasv_proxy_protocol;
	config_fail_at(ctx, config_seen_line(ctx, sec, "proxy_protocol"),
		       "[%s] proxy_protocol: %s needs [server] proxy_from, the addresses of the balancers allowed "
		       "to send the PROXY header (e.g. proxy_from = 10.0.0.5, 192.0.2.0/28)",
		       sec, config_proxy_modes[mode]);
	return -1;
}

/* [store]: exactly one of sqlite and postgres names the store. sqlite has
 * a default, so "given" means written in the file; postgres means set to a
 * non-empty value, which also makes postgres the backend. */
static int config_check_store(struct config_parse *ctx)
{
	struct config *c = ctx->c;
	unsigned sqlite_line = config_seen_line(ctx, "store", "sqlite");
	unsigned pg_line = config_seen_line(ctx, "store", "postgres");
	unsigned backend_line = config_seen_line(ctx, "store", "backend");
	bool pg = c->pg_conninfo[0] != '\0';

	if (pg && sqlite_line) {
		config_fail_at(ctx, pg_line > sqlite_line ? pg_line : sqlite_line,
			       "[store] %s: only one of [store] sqlite and [store] postgres may be set (this file sets "
			       "both: sqlite on line %u, postgres on line %u)",
			       pg_line > sqlite_line ? "postgres" : "sqlite", sqlite_line, pg_line);
		return -1;
	}
	if (pg && backend_line && strcmp(c->store_backend, "postgres") != 0) {
		config_fail_at(ctx, backend_line, "[store] backend: is %s, but [store] postgres is set",
			       c->store_backend);
		return -1;
	}
	if (!pg && strcmp(c->store_backend, "postgres") == 0) {
		config_fail_at(ctx, backend_line, "[store] backend: postgres needs [store] postgres = CONNINFO");
		return -1;
	}
	if (pg)
		(void)str_copy(c->store_backend, sizeof(c->store_backend), "postgres");
	return 0;
}

/* c->path is made absolute so a reload after the daemon's chdir("/") reads
 * the same file; ctx->dir is its directory for relative values. */
static int config_resolve_file(struct config_parse *ctx, const char *path)
{
	struct config *c = ctx->c;
	int n;
	if (path[0] == '/') {
		n = snprintf(c->path, sizeof(c->path), "%s", path);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(c->path, sizeof(c->path), "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", path);
	}
	if (n < 0 || (size_t)n >= sizeof(c->path))
		return -ENAMETOOLONG;
	const char *slash = strrchr(c->path, '/');
	size_t dn = slash == c->path ? 1 : (size_t)(slash - c->path);
	memcpy(ctx->dir, c->path, dn);
	ctx->dir[dn] = '\0';
	return 0;
}

/* The build's check (config_load_checked), after the file's own checks. */
static int config_check_build(struct config_parse *ctx, config_check_fn *check)
{
	const char *section = "", *key = "";
	char why[256] = "";
	if (!check || check(ctx->c, &section, &key, why, sizeof(why)) == 0)
		return 0;
	config_fail_at(ctx, config_seen_line(ctx, section, key), "[%s] %s: %s", section, key, why);
	return -1;
}

int config_load(const char *path, struct config **out, char *err, size_t errsz)
{
	return config_load_checked(path, NULL, out, err, errsz);
}

int config_load_checked(const char *path, config_check_fn *check, struct config **out, char *err, size_t errsz)
{
	char dummy[1];
	struct config_parse *ctx = util_xcalloc(1, sizeof(*ctx));
	int r;

	if (!err || errsz == 0) {
		err = dummy;
		errsz = sizeof(dummy);
	}
	err[0] = '\0';
	ctx->seen_line = util_xcalloc(config_n_rows, sizeof(*ctx->seen_line));
	ctx->c = util_xcalloc(1, sizeof(*ctx->c));
	atomic_init(&ctx->c->refs, 1u);
	r = config_apply_defaults(ctx->c, ctx->msg, sizeof(ctx->msg));
	if (r != 0) {
		(void)snprintf(err, errsz, "%s: %s", path, ctx->msg);
		goto fail;
	}
	r = config_resolve_file(ctx, path);
	if (r != 0) {
		(void)snprintf(err, errsz, "%s: cannot resolve path: %s", path, strerror(-r));
		goto fail;
	}
	ctx->f = fopen(path, "re");
	if (!ctx->f) {
		r = -errno;
		(void)snprintf(err, errsz, "%s: cannot open: %s", path, strerror(errno));
		goto fail;
	}
	int line = ini_parse_stream(config_read_line, ctx, config_handle_key, ctx);
	if (ctx->io_err) {
		r = -ctx->io_err;
		(void)snprintf(err, errsz, "%s: cannot read: %s", path, strerror(ctx->io_err));
		goto fail;
	}
	if (line < 0) {
		r = -ENOMEM; /* -2: inih's heap line buffer (not used by Debian's build) */
		(void)snprintf(err, errsz, "%s: out of memory", path);
		goto fail;
	}
	/* inih reports the first failing line, ours or its own syntax error;
	 * an earlier syntax error wins over our later message. */
	if (line > 0 && (ctx->err_line == 0 || (unsigned)line < ctx->err_line)) {
		r = -EINVAL;
		(void)snprintf(err, errsz,
			       "%s:%d: syntax error: expected \"[section]\", \"key = value\" or a "
			       "comment",
			       path, line);
		goto fail;
	}
	if (!ctx->err_line) {
		unsigned hl = 0;
		if (config_host_check(ctx->c, &hl, ctx->msg, sizeof(ctx->msg)) != 0)
			ctx->err_line = hl ? hl : 1;
	}
	if (ctx->err_line || config_check_tls(ctx) != 0 || config_check_proxy(ctx) != 0 ||
	    config_check_store(ctx) != 0 || config_check_sftp(ctx) != 0 || config_check_build(ctx, check) != 0) {
		r = -EINVAL;
		(void)snprintf(err, errsz, "%s:%u: %s", path, ctx->err_line, ctx->msg);
		goto fail;
	}
	*out = ctx->c;
	ctx->c = NULL;
	r = 0;
fail:
	if (ctx->f)
		(void)fclose(ctx->f);
	free(ctx->buf);
	free(ctx->seen_line);
	free(ctx->c);
	free(ctx);
	return r;
}

const struct config *config_ref(const struct config *c)
{
	if (c) {
		/* refs is the one mutable member of an otherwise immutable
		 * snapshot; the object itself was never defined const. */
		atomic_uint *refs = (atomic_uint *)&c->refs;
		(void)atomic_fetch_add_explicit(refs, 1u, memory_order_relaxed);
	}
	return c;
}

void config_unref(const struct config *c)
{
	if (!c)
		return;
	atomic_uint *refs = (atomic_uint *)&c->refs;
	/* acq_rel: every holder's reads happen before the free. */
	if (atomic_fetch_sub_explicit(refs, 1u, memory_order_acq_rel) == 1u)
		free((void *)c);
}

/* The current snapshot and its lock (ARCHITECTURE.md §3: a permitted global). */
static pthread_mutex_t config_cur_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *config_cur;

const struct config *config_current(void)
{
	/* The reference is taken under the lock so a concurrent swap cannot
	 * drop the last reference between the read and the increment. */
	(void)pthread_mutex_lock(&config_cur_lock);
	const struct config *c = config_ref(config_cur);
	(void)pthread_mutex_unlock(&config_cur_lock);
	return c;
}

void config_set_current(struct config *c)
{
	(void)pthread_mutex_lock(&config_cur_lock);
	struct config *old = config_cur;
	config_cur = c;
	(void)pthread_mutex_unlock(&config_cur_lock);
	config_unref(old); /* outside the lock: freeing needs no lock */
}
