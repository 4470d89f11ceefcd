#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "loop.h"
#include "parse.h"
#include "sessions.h"
#include "util.h"
#include "worker.h"

#define ADMIN_OUT_MAX (4u << 20) /* status of ~20000 sessions */
#define ADMIN_IO_TIMEOUT_S 2

struct admin {
	struct loop *loop;
	struct loop_watch watch;
	struct worker *workers;
	unsigned n;
};

/* One request; lives until its answer is written. */
enum admin_kick { KICK_NONE, KICK_ID, KICK_USER, KICK_IP };

struct admin_req {
	struct loop *main;
	int fd;
	enum admin_kick kick;
	uint64_t sid;
	char who[96]; /* KICK_USER, KICK_IP: the name or the address */
	pthread_mutex_t lock;
	struct buf out;
	unsigned pending; /* workers still to answer */
	unsigned kicked;
};

struct admin_visit {
	struct admin_req *r;
	struct worker *w;
};

/* The socket's name split into its directory and last component. */
static int split_path(const char *path, char *dir, size_t dirsz, const char **base)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
	if (!**base || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0 || n >= dirsz)
		return -EINVAL;
	memcpy(dir, !slash ? "." : path, n);
	dir[n] = '\0';
	return 0;
}

/* SECURITY: the socket's directory may belong to the service account, so
 * nothing done as root may act on a name in it that the service account
 * could swap (chown()/chmod() by path after bind() once gave it any file
 * it pointed a symbolic link at). The socket is made in a fresh directory
 * only root can write, reached through its descriptor (bind() takes a
 * path, so /proc/self/fd/N names it): its owner and mode are set there,
 * then rename() moves it to its name in one step. rename() replaces the
 * directory entry itself and never follows a link found there. What is in
 * the way must be a socket (one a killed ferryd left): anything else,
 * a symbolic link too, is an error for the administrator. */
static int make_socket(int s, int dfd, const char *base, uid_t uid, gid_t gid, const char **why)
{
	char tmp[32], bpath[64];
	struct stat st;
	*why = NULL;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISSOCK(st.st_mode)) {
		*why = "exists and is not a socket (refused: remove it)";
		return -EEXIST;
	}
	int r = -EEXIST, tfd = -1;
	/* A random name: the service account cannot occupy it in advance. */
	for (unsigned i = 0; i < 16 && r == -EEXIST; i++) {
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -errno;
		(void)snprintf(tmp, sizeof(tmp), ".ferry-admin.%016llx", (unsigned long long)rnd);
		r = mkdirat(dfd, tmp, 0700) == 0 ? 0 : -errno;
	}
	if (r)
		return r;
	/* The service account could have replaced the new directory by now:
	 * only one that root owns and no one else may write is used. */
	tfd = openat(dfd, tmp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(tfd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 0077)) {
		*why = "its temporary directory was replaced";
		r = -EPERM;
		(void)close(tfd);
		return r; /* not ours: left alone */
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	(void)snprintf(bpath, sizeof(bpath), "/proc/self/fd/%d/s", tfd);
	memcpy(sa.sun_path, bpath, strlen(bpath) + 1);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		r = -errno;
		if (r == -ENOENT)
			*why = "bind through /proc/self/fd failed (is /proc mounted?)";
		goto out;
	}
	/* Listening before the rename: the name never leads to a dead socket.
	 * The mode before the owner: a chmod of a socket root no longer owns
	 * would need CAP_FOWNER, which ferryd.service does not grant. */
	if (fchmodat(tfd, "s", 0660, 0) != 0 ||
	    (uid != (uid_t)-1 && geteuid() == 0 && fchownat(tfd, "s", uid, gid, AT_SYMLINK_NOFOLLOW) != 0) ||
	    listen(s, 16) != 0 || renameat(tfd, "s", dfd, base) != 0)
		r = -errno;
out:
	if (tfd >= 0) {
		(void)unlinkat(tfd, "s", 0); /* gone after the rename */
		(void)close(tfd);
	}
	(void)unlinkat(dfd, tmp, AT_REMOVEDIR);
	return r;
}

int admin_listen(const char *path, uid_t uid, gid_t gid, int *fd, char *err, size_t errsz)
{
	/* ferry status connects by this name: it must fit in sun_path. */
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *base, *why = NULL;
	int s = -1, dfd = -1,
	    r = strlen(path) < sizeof(dir) ? split_path(path, dir, sizeof(dir), &base) : -ENAMETOOLONG;
	if (r) {
		(void)snprintf(err, errsz, "[admin] socket: %s (at most %zu bytes, ending in a file name)",
			       r == -ENAMETOOLONG ? "path too long" : "not a socket path", sizeof(dir) - 1);
		return r;
	}
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s < 0 || dfd < 0)
		r = -errno;
	else
		r = make_socket(s, dfd, base, uid, gid, &why);
	if (dfd >= 0)
		(void)close(dfd);
	if (r) {
		(void)snprintf(err, errsz, "[admin] socket %s: %s", path, why ? why : strerror(-r));
		if (s >= 0)
			(void)close(s);
		return r;
	}
	*fd = s;
	return 0;
}

static void req_free(struct admin_req *r)
{
	if (r->fd >= 0)
		(void)close(r->fd);
	buf_free(&r->out);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the client left, or timed out (SO_SNDTIMEO) */
		p += w;
		n -= (size_t)w;
	}
}

/* On the main loop: every worker has answered. */
static void req_finish(void *arg)
{
	struct admin_req *r = arg;
	if (r->kick == KICK_ID) {
		char line[64];
		(void)snprintf(line, sizeof(line), "%s %llu\n", r->kicked ? "kicked" : "no session",
			       (unsigned long long)r->sid);
		write_all(r->fd, line, strlen(line));
	} else if (r->kick && !r->kicked) {
		char line[160];
		(void)snprintf(line, sizeof(line), "no session %s=%s\n", r->kick == KICK_USER ? "user" : "ip", r->who);
		write_all(r->fd, line, strlen(line));
	} else if (r->kick) {
		write_all(r->fd, buf_data(&r->out), r->out.len); /* one "kicked ID" line each */
	} else {
		write_all(r->fd, buf_data(&r->out), r->out.len);
		write_all(r->fd, ".\n", 2);
	}
	req_free(r);
}

static bool kick_matches(const struct admin_req *r, const struct sessions_entry *e)
{
	switch (r->kick) {
	case KICK_ID:
		return e->id == r->sid;
	case KICK_USER:
		return strcmp(sessions_user(e), r->who) == 0;
	case KICK_IP:
		return strcmp(e->peer, r->who) == 0;
	default:
		return false;
	}
}

static void append_line(struct admin_req *r, const char *line)
{
	pthread_mutex_lock(&r->lock);
	/* Over ADMIN_OUT_MAX the list is cut short. */
	if (buf_append_str(&r->out, line) == 0)
		(void)buf_append(&r->out, "\n", 1);
	pthread_mutex_unlock(&r->lock);
}

/* Kicks the worker's sessions that match r, whatever their protocol. A
 * kicked session leaves the registry at once, so each round starts from
 * the head again; bounded by the number there was. */
static unsigned kick_on_worker(struct admin_req *r, struct sessions *reg)
{
	unsigned kicked = 0;
	for (size_t round = 0, n = reg->count; round < n; round++) {
		struct sessions_entry *e = reg->head;
		while (e && !kick_matches(r, e))
			e = e->next;
		if (!e)
			break;
		char line[48];
		(void)snprintf(line, sizeof(line), "kicked %llu", (unsigned long long)e->id);
		log_info(e->id, "kicked by the administrator: protocol=%s", e->ops->protocol);
		append_line(r, line);
		e->ops->kick(e);
		kicked++;
		if (r->kick == KICK_ID)
			break;
	}
	return kicked;
}

/* On a worker's thread: its sessions are only touched there. */
static void visit_worker(void *arg)
{
	struct admin_visit *v = arg;
	struct admin_req *r = v->r;
	struct worker *w = v->w;
	free(v);
	unsigned kicked = 0;
	if (r->kick) {
		kicked = kick_on_worker(r, &w->reg);
	} else {
		uint64_t now = util_now_ms();
		for (struct sessions_entry *e = w->reg.head; e; e = e->next) {
			char line[1024];
			sessions_describe(e, now, line, sizeof(line));
			append_line(r, line);
		}
	}
	pthread_mutex_lock(&r->lock);
	r->kicked += kicked;
	bool last = --r->pending == 0;
	pthread_mutex_unlock(&r->lock);
	if (last)
		while (loop_post(r->main, req_finish, r) != 0)
			log_err(0, "admin: cannot post the answer; retrying");
}

static void serve(struct admin *a, int fd)
{
	struct timeval tv = { ADMIN_IO_TIMEOUT_S, 0 };
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* The client sends its one line at once; a short blocking read with a
	 * timeout keeps this simple (only root and the service user get here). */
	char line[128];
	ssize_t n = recv(fd, line, sizeof(line) - 1, 0);
	if (n <= 0) {
		(void)close(fd);
		return;
	}
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	struct admin_req *r = util_xcalloc(1, sizeof(*r));
	r->main = a->loop;
	r->fd = fd;
	pthread_mutex_init(&r->lock, NULL);
	buf_init(&r->out, ADMIN_OUT_MAX);
	const char *who = strncmp(line, "kick user ", 10) == 0 ? line + 10
			  : strncmp(line, "kick ip ", 8) == 0  ? line + 8
							       : NULL;
	if (who) {
		r->kick = line[5] == 'u' ? KICK_USER : KICK_IP;
		if (!who[0] || strlen(who) >= sizeof(r->who)) {
			write_all(fd, "error: kick needs a user name or an address\n", 44);
			req_free(r);
			return;
		}
		memcpy(r->who, who, strlen(who) + 1);
	} else if (strncmp(line, "kick ", 5) == 0) {
		r->kick = KICK_ID;
		if (parse_u64(slice_from_cstr(line + 5), UINT64_MAX, &r->sid) != 0) {
			write_all(fd, "error: kick needs a session id\n", 31);
			req_free(r);
			return;
		}
	} else if (strcmp(line, "status") != 0) {
		write_all(fd, "error: unknown request\n", 23);
		req_free(r);
		return;
	}
	r->pending = a->n;
	for (unsigned i = 0; i < a->n; i++) {
		struct admin_visit *v = util_xcalloc(1, sizeof(*v));
		v->r = r;
		v->w = &a->workers[i];
		if (loop_post(a->workers[i].loop, visit_worker, v) != 0) {
			/* Counted as answered, with nothing to say. */
			free(v);
			pthread_mutex_lock(&r->lock);
			bool last = --r->pending == 0;
			pthread_mutex_unlock(&r->lock);
			if (last)
				req_finish(r);
		}
	}
}

static void on_accept(struct loop_watch *lw, uint32_t events)
{
	struct admin *a = container_of(lw, struct admin, watch);
	for (int i = 0; i < 16; i++) {
		int fd = accept4(lw->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		serve(a, fd);
	}
}

int admin_start(struct admin **out, struct loop *loop, int fd, struct worker *workers, unsigned n)
{
	struct admin *a = util_xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->workers = workers;
	a->n = n;
	int r = loop_watch_add(loop, &a->watch, fd, LOOP_IN, on_accept);
	if (r) {
		(void)close(fd);
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	int fd = a->watch.fd;
	loop_watch_del(a->loop, &a->watch);
	if (fd >= 0)
		(void)close(fd);
	free(a);
}
