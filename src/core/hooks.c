#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hooks_http.h"
#include "log.h"
#include "parse.h"
#include "util.h"

#define HOOKS_QUEUE_MAX 1024u
#define HOOKS_URL_TRIES 3
#define HOOKS_RETRY_MS 200u

struct hook_item {
	struct hook_item *next;
	uint64_t sid, bytes;
	char *user, *vpath, *file, *ip, *protocol;
};

/* One user's waiting hooks, oldest first. */
struct hook_user {
	struct hook_user *next; /* the next user in turn */
	struct hook_item *head, **tail;
	unsigned queued;
	char name[];
};

/* Users take turns (round robin): one user's flood neither delays nor,
 * while the queue is full, pushes out another user's hooks. */
struct hook_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Users with waiting hooks, the next in turn first. */
	struct hook_user *turn, **turn_tail;
	/* All users' waiting hooks, at most HOOKS_QUEUE_MAX. */
	unsigned queued;
	/* Shared with ferryd (struct hooks), for metrics. */
	atomic_uint_fast64_t *dropped;
	bool stopping;
	bool http_up;
	unsigned n;
	pthread_t *threads;
	char *exec, *url;
	uint32_t timeout_ms;
};

static void item_free(struct hook_item *it)
{
	free(it->user);
	free(it->vpath);
	free(it->file);
	free(it->ip);
	free(it->protocol);
	free(it);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static char *env_var(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *s = malloc(n);
	if (s)
		(void)snprintf(s, n, "%s=%s", name, value);
	return s;
}

/* The program runs as the service user with a clean environment and the
 * default signal mask (ferryd's threads block the signals it reads from a
 * signalfd). It is killed when the timeout passes. */
static void pool_stop(struct hook_pool *h);

static void run_exec(struct hook_pool *h, const struct hook_item *it)
{
	char num[32], bytes[32];
	(void)snprintf(num, sizeof(num), "%llu", (unsigned long long)it->sid);
	(void)snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)it->bytes);
	char *envp[] = {
		env_var("PATH", "/usr/local/bin:/usr/bin:/bin"),
		env_var("FERRY_EVENT", "upload"),
		env_var("FERRY_USER", it->user),
		env_var("FERRY_PATH", it->vpath),
		env_var("FERRY_FILE", it->file),
		env_var("FERRY_SIZE", bytes),
		env_var("FERRY_CLIENT_IP", it->ip),
		env_var("FERRY_PROTOCOL", it->protocol),
		env_var("FERRY_SESSION", num),
		NULL,
	};
	const size_t nenv = ARRAY_LEN(envp) - 1;
	char *argv[] = { h->exec, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	pid_t pid;
	int r;
	bool env_ok = true;
	for (size_t i = 0; i < nenv; i++)
		env_ok = env_ok && envp[i];
	if (!env_ok) {
		log_err(it->sid, "hook: out of memory");
		goto free_env;
	}
	sigemptyset(&none);
	sigfillset(&def);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	(void)posix_spawnattr_init(&at);
	(void)posix_spawnattr_setsigmask(&at, &none);
	(void)posix_spawnattr_setsigdefault(&at, &def);
	(void)posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
	r = posix_spawn(&pid, h->exec, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r) {
		log_warn(it->sid, "hook: cannot run %s: %s", h->exec, strerror(r));
		goto free_env;
	}
	uint64_t deadline = util_now_ms() + h->timeout_ms;
	int status = 0;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			break;
		if (util_now_ms() >= deadline) {
			/* The whole process group (POSIX_SPAWN_SETSID): a shell
			 * script's children go too. */
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			log_warn(it->sid, "hook: %s timed out after %u ms and was killed", h->exec, h->timeout_ms);
			goto free_env;
		}
		sleep_ms(10);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info(it->sid, "hook: %s done", h->exec);
	else if (WIFEXITED(status))
		log_warn(it->sid, "hook: %s failed with exit status %d", h->exec, WEXITSTATUS(status));
	else
		log_warn(it->sid, "hook: %s killed by signal %d", h->exec, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
free_env:
	for (size_t i = 0; i < nenv; i++)
		free(envp[i]);
}

static char *json_body(const struct hook_item *it)
{
	const char *keys[] = { "user", "path", "file", "ip", "protocol" };
	const char *vals[] = { it->user, it->vpath, it->file, it->ip, it->protocol };
	size_t cap = 200;
	for (size_t i = 0; i < ARRAY_LEN(vals); i++)
		cap += 16 + 6 * strlen(vals[i]);
	char *b = malloc(cap);
	if (!b)
		return NULL;
	size_t o = (size_t)snprintf(b, cap, "{\"event\":\"upload\",\"session\":%llu,\"size\":%llu",
				    (unsigned long long)it->sid, (unsigned long long)it->bytes);
	for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
		o += (size_t)snprintf(b + o, cap - o, ",\"%s\":\"", keys[i]);
		size_t k = 0;
		(void)log_json_escape(vals[i], strlen(vals[i]), b + o, cap - o, &k);
		o += k;
		b[o++] = '"';
	}
	b[o++] = '}';
	b[o] = '\0';
	return b;
}

static void run_url(struct hook_pool *h, const struct hook_item *it)
{
	char *body = json_body(it);
	struct hooks_http *hh = body ? hooks_http_new(h->url, body, h->timeout_ms) : NULL;
	if (!hh) {
		log_err(it->sid, "hook: out of memory for the HTTP hook");
		goto out;
	}
	for (int attempt = 1; attempt <= HOOKS_URL_TRIES; attempt++) {
		long code = 0;
		char why[256] = "";
		if (hooks_http_post(hh, &code, why, sizeof(why)) == 0) {
			log_info(it->sid, "hook: POST %s: %ld", h->url, code);
			goto out;
		}
		log_warn(it->sid, "hook: POST %s failed (attempt %d of %d): %s", h->url, attempt, HOOKS_URL_TRIES, why);
		if (attempt < HOOKS_URL_TRIES)
			sleep_ms(HOOKS_RETRY_MS << (attempt - 1));
	}
	log_err(it->sid, "hook: POST %s gave up after %d attempts", h->url, HOOKS_URL_TRIES);
out:
	hooks_http_free(hh);
	free(body);
}

/* The oldest hook of the user whose turn it is; that user then goes to the
 * back of the line (or leaves it, with nothing left). Under h->lock. */
static struct hook_item *take_next(struct hook_pool *h)
{
	struct hook_user *u = h->turn;
	if (!u)
		return NULL;
	struct hook_item *it = u->head;
	u->head = it->next;
	if (!u->head)
		u->tail = &u->head;
	it->next = NULL;
	u->queued--;
	h->queued--;
	h->turn = u->next;
	if (!h->turn)
		h->turn_tail = &h->turn;
	u->next = NULL;
	if (u->queued) {
		*h->turn_tail = u;
		h->turn_tail = &u->next;
	} else {
		free(u);
	}
	return it;
}

static void *hook_thread(void *arg)
{
	struct hook_pool *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->lock);
		while (!h->turn && !h->stopping)
			pthread_cond_wait(&h->cond, &h->lock);
		struct hook_item *it = take_next(h);
		pthread_mutex_unlock(&h->lock);
		if (!it)
			return NULL;
		if (h->exec)
			run_exec(h, it);
		if (h->url)
			run_url(h, it);
		item_free(it);
	}
}

static int pool_start(struct hook_pool **out, const char *exec, const char *url, unsigned concurrency,
		      uint32_t timeout_ms, atomic_uint_fast64_t *dropped)
{
	struct hook_pool *h = util_xcalloc(1, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->turn_tail = &h->turn;
	h->dropped = dropped;
	h->exec = exec && exec[0] ? util_xstrdup(exec) : NULL;
	h->url = url && url[0] ? util_xstrdup(url) : NULL;
	h->timeout_ms = timeout_ms;
	if (h->url) {
		if (hooks_http_global_init() != 0) {
			pool_stop(h);
			return -EIO;
		}
		h->http_up = true;
	}
	h->threads = util_xcalloc(concurrency, sizeof(pthread_t));
	for (unsigned i = 0; i < concurrency; i++) {
		int r = pthread_create(&h->threads[i], NULL, hook_thread, h);
		if (r) {
			pool_stop(h);
			return -r;
		}
		h->n = i + 1;
	}
	*out = h;
	return 0;
}

/* Queues it under its user. When the queue is full, the hook dropped is
 * it, unless another user holds at least two more: then that user's newest
 * goes instead (the one it would have been refused). So a user is refused
 * only when taking its hook would leave it holding as many as anybody.
 * Returns the item dropped (it or another user's), or NULL. Under h->lock. */
static struct hook_item *queue_fairly(struct hook_pool *h, struct hook_item *it)
{
	struct hook_user *mine = NULL, *most = NULL;
	for (struct hook_user *u = h->turn; u; u = u->next) {
		if (strcmp(u->name, it->user) == 0)
			mine = u;
		if (!most || u->queued > most->queued)
			most = u;
	}
	struct hook_item *drop = NULL;
	if (h->queued >= HOOKS_QUEUE_MAX) {
		if (!most || (mine ? mine->queued : 0) + 1 >= most->queued)
			return it;
		/* most keeps at least one: it is still in turn, where it was. */
		struct hook_item **pp = &most->head;
		while ((*pp)->next)
			pp = &(*pp)->next;
		drop = *pp;
		*pp = NULL;
		most->tail = pp;
		most->queued--;
		h->queued--;
	}
	if (!mine) {
		size_t n = strlen(it->user) + 1;
		mine = util_xcalloc(1, sizeof(*mine) + n);
		memcpy(mine->name, it->user, n);
		mine->tail = &mine->head;
		*h->turn_tail = mine;
		h->turn_tail = &mine->next;
	}
	*mine->tail = it;
	mine->tail = &it->next;
	mine->queued++;
	h->queued++;
	pthread_cond_signal(&h->cond);
	return drop;
}

static void pool_upload(struct hook_pool *h, const struct hook_upload *u)
{
	struct hook_item *it = util_xcalloc(1, sizeof(*it));
	it->sid = u->sid;
	it->bytes = u->bytes;
	it->user = util_xstrdup(u->user ? u->user : "");
	it->vpath = util_xstrdup(u->vpath);
	size_t hl = strlen(u->home);
	/* "/home/bob" + "/a/b" (the virtual path always starts with '/').
	 * SECURITY: joined as text, so a symbolic link inside the home is
	 * followed by whoever opens it; ferry.conf(5) warns hook authors. */
	size_t fl = hl + strlen(u->vpath) + 1;
	it->file = util_xcalloc(1, fl);
	(void)snprintf(it->file, fl, "%.*s%s", (int)(hl && u->home[hl - 1] == '/' ? hl - 1 : hl), u->home, u->vpath);
	it->ip = util_xstrdup(u->ip);
	it->protocol = util_xstrdup(u->protocol);
	pthread_mutex_lock(&h->lock);
	struct hook_item *drop = queue_fairly(h, it);
	const char *why = drop == it ? "queue-full" : "fair-share";
	pthread_mutex_unlock(&h->lock);
	if (drop) {
		/* Never silent: whoever scans or moves uploads must learn which
		 * upload went without its hooks. */
		atomic_fetch_add_explicit(h->dropped, 1, memory_order_relaxed);
		struct log_escaped eu, ep;
		log_warn(drop->sid, "hook: dropped: user=\"%s\" path=\"%s\" reason=%s (%u waiting)",
			 log_esc(slice_from_cstr(drop->user), &eu), log_esc(slice_from_cstr(drop->vpath), &ep), why,
			 HOOKS_QUEUE_MAX);
		item_free(drop);
	}
}

static void pool_stop(struct hook_pool *h)
{
	if (!h)
		return;
	/* Queued hooks are dropped (a stop must not wait for up to a full
	 * queue of timeouts); running ones finish or time out. */
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	struct hook_user *left = h->turn;
	unsigned dropped = h->queued;
	h->turn = NULL;
	h->turn_tail = &h->turn;
	h->queued = 0;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	if (dropped)
		log_warn(0, "hook: stopping; %u queued hook run(s) dropped", dropped);
	while (left) {
		struct hook_user *u = left;
		left = u->next;
		while (u->head) {
			struct hook_item *it = u->head;
			u->head = it->next;
			item_free(it);
		}
		free(u);
	}
	for (unsigned i = 0; i < h->n; i++)
		(void)pthread_join(h->threads[i], NULL);
	if (h->http_up)
		hooks_http_global_cleanup();
	free(h->threads);
	free(h->exec);
	free(h->url);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* ---- the hook runner: a process of its own, outside the sandbox ----
 *
 * ferryd runs under seccomp and Landlock (sandbox.c); a hook program, a
 * shell script and whatever it starts would inherit both and die on their
 * first unlisted system call or path. So hooks run in a child forked
 * before the sandbox, as the service user, which holds nothing but its end
 * of a socketpair: ferryd sends it one message per committed upload. */

#define RUNNER_FD 3
#define RUNNER_MSG_MAX (3u * 4096u + 512u)

struct hooks {
	int fd; /* SOCK_SEQPACKET to the runner */
	pid_t pid;
	uint32_t timeout_ms;
	/* Hooks dropped, by ferryd or the runner: one page shared between the
	 * two processes (MAP_SHARED, made before the fork). */
	atomic_uint_fast64_t *dropped;
};

/* Fields, each ending in NUL: sid, bytes, user, vpath, home, ip, protocol. */
static size_t runner_pack(const struct hook_upload *u, char *out, size_t cap)
{
	char num[2][24];
	(void)snprintf(num[0], sizeof(num[0]), "%llu", (unsigned long long)u->sid);
	(void)snprintf(num[1], sizeof(num[1]), "%llu", (unsigned long long)u->bytes);
	const char *f[7] = { num[0], num[1], u->user ? u->user : "", u->vpath, u->home, u->ip, u->protocol };
	size_t n = 0;
	for (size_t i = 0; i < 7; i++) {
		size_t l = strlen(f[i]) + 1;
		if (l > cap - n)
			return 0;
		memcpy(out + n, f[i], l);
		n += l;
	}
	return n;
}

static bool runner_unpack(char *msg, size_t n, struct hook_upload *u)
{
	const char *f[7];
	size_t k = 0, start = 0;
	for (size_t i = 0; i < n && k < 7; i++) {
		if (msg[i] == '\0') {
			f[k++] = msg + start;
			start = i + 1;
		}
	}
	uint64_t sid, bytes;
	if (k != 7 || parse_u64(slice_from_cstr(f[0]), UINT64_MAX, &sid) != 0 ||
	    parse_u64(slice_from_cstr(f[1]), UINT64_MAX, &bytes) != 0)
		return false;
	*u = (struct hook_upload){
		.sid = sid, .bytes = bytes, .user = f[2], .vpath = f[3], .home = f[4], .ip = f[5], .protocol = f[6]
	};
	return u->vpath[0] == '/';
}

static _Noreturn void runner_main(const char *exec, const char *url, unsigned concurrency, uint32_t timeout_ms,
				  atomic_uint_fast64_t *dropped)
{
	/* Ends with ferryd, whatever way ferryd ends. */
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	(void)signal(SIGTERM, SIG_DFL);
	(void)pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	struct hook_pool *p = NULL;
	if (pool_start(&p, exec, url, concurrency, timeout_ms, dropped) != 0) {
		log_err(0, "hook runner: cannot start its threads");
		_exit(1);
	}
	static char msg[RUNNER_MSG_MAX];
	for (;;) {
		ssize_t n = recv(RUNNER_FD, msg, sizeof(msg), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* ferryd closed its end: stop */
		struct hook_upload u;
		if (runner_unpack(msg, (size_t)n, &u))
			pool_upload(p, &u);
		else
			log_warn(0, "hook runner: malformed request ignored");
	}
	pool_stop(p);
	_exit(0);
}

int hooks_start(struct hooks **out, const char *exec, const char *url, unsigned concurrency, uint32_t timeout_ms)
{
	int sp[2];
	atomic_uint_fast64_t *dropped =
	    mmap(NULL, sizeof(*dropped), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (dropped == MAP_FAILED)
		return -errno;
	atomic_init(dropped, 0);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
		int err = -errno;
		(void)munmap(dropped, sizeof(*dropped));
		return err;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int err = -errno;
		(void)close(sp[0]);
		(void)close(sp[1]);
		(void)munmap(dropped, sizeof(*dropped));
		return err;
	}
	if (pid == 0) {
		/* Keep only stdio (logs) and the socket: no listening sockets,
		 * database or keys in the process that runs other programs. */
		if (dup2(sp[1], RUNNER_FD) != RUNNER_FD)
			_exit(1);
		(void)close_range(RUNNER_FD + 1, ~0u, 0);
		runner_main(exec, url, concurrency, timeout_ms, dropped);
	}
	(void)close(sp[1]);
	(void)fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK);
	struct hooks *h = util_xcalloc(1, sizeof(*h));
	h->fd = sp[0];
	h->pid = pid;
	h->timeout_ms = timeout_ms;
	h->dropped = dropped;
	*out = h;
	return 0;
}

uint64_t hooks_dropped(const struct hooks *h)
{
	return h ? atomic_load_explicit(h->dropped, memory_order_relaxed) : 0;
}

void hooks_upload(struct hooks *h, const struct hook_upload *u)
{
	char msg[RUNNER_MSG_MAX];
	size_t n = runner_pack(u, msg, sizeof(msg));
	if (n == 0) {
		atomic_fetch_add_explicit(h->dropped, 1, memory_order_relaxed);
		log_warn(u->sid, "hook: upload details too long; hooks for this upload dropped");
		return;
	}
	/* One datagram per upload: atomic, so the worker threads can share
	 * the socket; never blocks a worker. */
	if (send(h->fd, msg, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		atomic_fetch_add_explicit(h->dropped, 1, memory_order_relaxed);
		log_warn(u->sid, "hook: cannot hand the upload to the hook runner (%s); hooks for it dropped",
			 strerror(errno));
	}
}

void hooks_stop(struct hooks *h)
{
	if (!h)
		return;
	(void)close(h->fd); /* the runner drops what is queued and lets running hooks end */
	uint64_t deadline = util_now_ms() + h->timeout_ms + 2000u;
	int st;
	for (;;) {
		pid_t r = waitpid(h->pid, &st, WNOHANG);
		if (r == h->pid || (r < 0 && errno != EINTR))
			break;
		if (util_now_ms() >= deadline) {
			/* Landlock's signal scope may refuse this (the runner is
			 * outside the sandbox); it then ends with ferryd anyway
			 * (PR_SET_PDEATHSIG). */
			if (kill(h->pid, SIGKILL) == 0)
				(void)waitpid(h->pid, &st, 0);
			break;
		}
		sleep_ms(10);
	}
	(void)munmap(h->dropped, sizeof(*h->dropped));
	free(h);
}
