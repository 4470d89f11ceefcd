/* log_event: the event files ([log] xferlog, [log] json); see log.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct log_file {
	pthread_mutex_t lock; /* guards fd against a reopen */
	atomic_int fd;	      /* -1: off */
	char path[PATH_MAX];
	const char *what; /* for messages */
};

/* The event files are part of the log sink, one of the two permitted
 * globals (ARCHITECTURE.md §3). */
static struct log_file xfer_file = { PTHREAD_MUTEX_INITIALIZER, -1, "", "[log] xferlog" };
static struct log_file json_file = { PTHREAD_MUTEX_INITIALIZER, -1, "", "[log] json" };

#define LOG_FILE_MODE 0640

/* SECURITY: the files are opened as root before the privilege drop, often
 * in a directory the service account may write (and reopened by the
 * service user on SIGUSR1): a link planted at the path must not make
 * ferryd append to another file. O_NOFOLLOW refuses a symbolic link as the
 * last component (O_NONBLOCK: a FIFO planted there cannot block the open);
 * what is opened must be a regular file with one link (a hard link to
 * another file has two) owned by root, by us or by the service user uid.
 * On refusal *why says what was found. */
static int file_check(int fd, uid_t uid, const char **why)
{
	struct stat st;
	*why = NULL;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if (st.st_nlink != 1)
		*why = "a hard link (the file has other names)";
	else if (st.st_uid != 0 && st.st_uid != geteuid() && (uid == (uid_t)-1 || st.st_uid != uid))
		*why = "owned by another user than root or the service user";
	else
		return 0;
	return -EPERM;
}

/* Opens path for appending; a file created here is given to uid/gid so
 * the service user can keep using it (and a reopen finds it writable).
 * On failure *why is the reason for the message. */
static int file_open(const char *path, uid_t uid, gid_t gid, const char **why)
{
	const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
	bool created = false;
	int fd = open(path, flags);
	if (fd < 0 && errno == ENOENT) {
		/* O_EXCL: never through a link planted meanwhile. */
		fd = open(path, flags | O_CREAT | O_EXCL, LOG_FILE_MODE);
		created = fd >= 0;
	}
	if (fd < 0) {
		int r = -errno;
		*why = r == -ELOOP ? "a symbolic link (refused: it could point anywhere)" : strerror(-r);
		return r;
	}
	int r = file_check(fd, uid, why);
	if (r == 0 && created && uid != (uid_t)-1 && geteuid() == 0 && fchown(fd, uid, gid) != 0)
		r = -errno;
	if (r) {
		if (!*why)
			*why = strerror(-r);
		(void)close(fd);
		return r;
	}
	return fd;
}

static void file_set(struct log_file *f, int fd)
{
	pthread_mutex_lock(&f->lock);
	int old = atomic_exchange(&f->fd, fd);
	pthread_mutex_unlock(&f->lock);
	if (old >= 0)
		(void)close(old);
}

int log_files_open(const char *xferlog, const char *json, uid_t uid, gid_t gid, char *err, size_t errsz)
{
	struct log_file *files[2] = { &xfer_file, &json_file };
	const char *paths[2] = { xferlog, json };
	for (size_t i = 0; i < 2; i++) {
		struct log_file *f = files[i];
		f->path[0] = '\0';
		if (!paths[i] || !paths[i][0]) {
			file_set(f, -1);
			continue;
		}
		if (strlen(paths[i]) >= sizeof(f->path)) {
			(void)snprintf(err, errsz, "%s: path too long", f->what);
			return -ENAMETOOLONG;
		}
		const char *why = NULL;
		int fd = file_open(paths[i], uid, gid, &why);
		if (fd < 0) {
			(void)snprintf(err, errsz, "%s: cannot open %s: %s", f->what, paths[i], why);
			return fd;
		}
		memcpy(f->path, paths[i], strlen(paths[i]) + 1);
		file_set(f, fd);
	}
	return 0;
}

void log_files_reopen(void)
{
	struct log_file *files[2] = { &xfer_file, &json_file };
	for (size_t i = 0; i < 2; i++) {
		struct log_file *f = files[i];
		if (!f->path[0])
			continue;
		const char *why = NULL;
		int fd = file_open(f->path, (uid_t)-1, (gid_t)-1, &why);
		if (fd < 0) {
			log_err(0, "%s: cannot reopen %s: %s; still writing to the old file", f->what, f->path, why);
			continue;
		}
		file_set(f, fd);
		log_info(0, "%s: reopened %s", f->what, f->path);
	}
}

void log_files_close(void)
{
	file_set(&xfer_file, -1);
	file_set(&json_file, -1);
	xfer_file.path[0] = json_file.path[0] = '\0';
}

bool log_json_on(void)
{
	return atomic_load_explicit(&json_file.fd, memory_order_relaxed) >= 0;
}

static void file_write(struct log_file *f, const char *line, size_t n)
{
	pthread_mutex_lock(&f->lock);
	int fd = atomic_load(&f->fd);
	/* One write of a whole line on O_APPEND: lines from threads never
	 * interleave. A short write (disk full) loses the rest of that line. */
	if (fd >= 0 && write(fd, line, n) < 0) {
		/* Not logged through log_msg: it could be the same full disk. */
	}
	pthread_mutex_unlock(&f->lock);
}

bool log_json_escape(const char *s, size_t n, char *out, size_t outsz, size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;
	bool ok = true;
	if (outsz == 0)
		return false;
	for (size_t i = 0; i < n;) {
		char tmp[8];
		const char *piece = tmp;
		size_t k = 0, used = 1;
		unsigned char c = u[i];
		uint32_t cp = c;
		size_t ul = c >= 0x80 ? str_utf8_next(s + i, n - i, &cp) : 1;
		if (c == '"' || c == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			k = 2;
		} else if (c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') {
			tmp[0] = '\\';
			tmp[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c == '\b' ? 'b' : 'f';
			k = 2;
		} else if (c < 0x20 || c == 0x7f || ul == 0) {
			/* SECURITY: control bytes and bytes of invalid UTF-8 never
			 * reach the file raw: a JSON reader sees \u00XX. */
			memcpy(tmp, "\\u00", 4);
			tmp[4] = hex[c >> 4];
			tmp[5] = hex[c & 15];
			k = 6;
		} else if (str_cp_breaks_line(cp) && cp <= 0xffff) {
			/* SECURITY: valid JSON raw, but a line reader (or
			 * JavaScript before ES2019) would split the record at
			 * U+0085/U+2028/U+2029: written as a \u escape (\u2028). */
			tmp[0] = '\\';
			tmp[1] = 'u';
			for (int d = 0; d < 4; d++)
				tmp[2 + d] = hex[cp >> (12 - 4 * d) & 15];
			k = 6;
			used = ul;
		} else {
			piece = s + i;
			k = used = ul;
		}
		if (o + k >= outsz) {
			ok = false;
			break;
		}
		memcpy(out + o, piece, k);
		o += k;
		i += used;
	}
	out[o] = '\0';
	if (len)
		*len = o;
	return ok;
}

static size_t field_len(const struct log_field *f)
{
	if (f->type == LOG_F_STR && f->s)
		return f->n == SIZE_MAX ? strlen(f->s) : f->n;
	return 0;
}

void log_json(uint64_t sid, const char *event, const struct log_field *f, size_t n)
{
	if (!log_json_on())
		return;
	/* Room for the worst case: every byte of every string as \u00XX. */
	size_t cap = 160 + strlen(event);
	for (size_t i = 0; i < n; i++)
		cap += strlen(f[i].key) + 32 + 6 * field_len(&f[i]);
	char *line = malloc(cap);
	if (!line)
		return;
	char when[LOG_TIME_LEN];
	log_time(when, sizeof(when));
	int w = snprintf(line, cap, "{\"ts\":\"%s\",\"session\":%llu,\"event\":\"%s\"", when, (unsigned long long)sid,
			 event);
	size_t o = w > 0 ? (size_t)w : 0;
	for (size_t i = 0; i < n && o < cap; i++) {
		w = snprintf(line + o, cap - o, ",\"%s\":", f[i].key);
		o += w > 0 ? (size_t)w : 0;
		if (f[i].type == LOG_F_UINT) {
			w = snprintf(line + o, cap - o, "%llu", (unsigned long long)f[i].u);
			o += w > 0 ? (size_t)w : 0;
		} else if (!f[i].s) {
			w = snprintf(line + o, cap - o, "null");
			o += w > 0 ? (size_t)w : 0;
		} else {
			size_t k = 0;
			line[o++] = '"';
			(void)log_json_escape(f[i].s, field_len(&f[i]), line + o, cap - o, &k);
			o += k;
			line[o++] = '"';
		}
	}
	if (o + 3 <= cap) {
		line[o++] = '}';
		line[o++] = '\n';
		file_write(&json_file, line, o);
	}
	free(line);
}

/* xferlog(5) has no quoting: whitespace would split the filename field, so
 * spaces become '_' (as wu-ftpd, ProFTPD and vsftpd write them), and so do
 * the Unicode spaces and line separators (SECURITY: U+0085, U+00A0, U+2028
 * would split the record or field for some readers); control bytes and
 * bytes of invalid UTF-8 (a lone 0x85 is NEL in Latin-1) become '?'. Valid
 * UTF-8 is kept. */
static void xfer_name(const char *s, char *out, size_t outsz)
{
	size_t n = strlen(s), o = 0;
	for (size_t i = 0; i < n && o + 1 < outsz;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp = c;
		size_t len = str_utf8_next(s + i, n - i, &cp);
		if (len == 0 || (c < 0x80 && str_cp_breaks_line(cp))) {
			out[o++] = '?';
			i++;
		} else if (c == ' ' || str_cp_breaks_line(cp)) {
			out[o++] = '_';
			i += len;
		} else if (o + len < outsz) {
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
		} else {
			break; /* a character is never cut in half */
		}
	}
	out[o] = '\0';
}

bool log_protocol_shown(const char *protocol)
{
	return protocol && strcmp(protocol, "ftp") != 0 && strcmp(protocol, "ftps") != 0;
}

void log_xfer_format(const struct log_xfer *x, int64_t now, char *out, size_t outsz)
{
	time_t t = (time_t)now;
	struct tm tm;
	(void)localtime_r(&t, &tm);
	char when[40];
	(void)strftime(when, sizeof(when), "%a %b %e %H:%M:%S %Y", &tm);
	/* Whole seconds, at least 1 (as vsftpd): tools divide by it. */
	uint64_t secs = (x->duration_ms + 500) / 1000;
	if (secs == 0)
		secs = 1;
	char name[PATH_MAX], user[256];
	xfer_name(x->path ? x->path : "", name, sizeof(name));
	xfer_name(x->user && x->user[0] ? x->user : "*", user, sizeof(user));
	(void)snprintf(out, outsz, "%s %llu %s %llu %s %c _ %c r %s %s 0 * %c", when, (unsigned long long)secs, x->ip,
		       (unsigned long long)x->bytes, name, x->ascii ? 'a' : 'b', x->direction, user,
		       log_protocol_shown(x->protocol) ? x->protocol : "ftp", strcmp(x->result, "ok") == 0 ? 'c' : 'i');
}

void log_xfer(uint64_t sid, const struct log_xfer *x)
{
	if (x->direction && atomic_load_explicit(&xfer_file.fd, memory_order_relaxed) >= 0) {
		char line[PATH_MAX + 512];
		log_xfer_format(x, util_wall_s(), line, sizeof(line) - 1);
		size_t n = strlen(line);
		line[n++] = '\n';
		file_write(&xfer_file, line, n);
	}
	const struct log_field f[] = {
		LOG_FS("user", x->user),     LOG_FS("ip", x->ip),
		LOG_FS("cmd", x->cmd),	     LOG_FS("path", x->path),
		LOG_FU("bytes", x->bytes),   LOG_FU("duration_ms", x->duration_ms),
		LOG_FS("result", x->result), LOG_FS("type", x->ascii ? "A" : "I"),
		LOG_FS("reason", x->reason), LOG_FS("protocol", x->protocol),
	};
	/* The protocol field only for a front-end other than FTP's. */
	log_json(sid, "transfer", f, ARRAY_LEN(f) - (log_protocol_shown(x->protocol) ? 0 : 1));
}
