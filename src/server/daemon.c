#include "daemon.h"
#include "daemon_clean.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "admin.h"
#include "auth.h"
#include "buildinfo.h"
#include "guard.h"
#include "hash.h"
#include "guard_sync.h"
#include "quota.h"
#include "gss.h"
#include "net.h"
#include "jobs.h"
#include "log.h"
#include "hooks.h"
#include "loop.h"
#include "metrics.h"
#include "privs.h"
#include "session.h"
#include "sftp.h"
#include "systemd.h"
#include "sandbox.h"
#include "tls.h"
#include "util.h"
#include "vfs.h"
#include "worker.h"

struct daemon {
	struct loop *loop;
	struct loop_watch sigwatch;
	struct worker *workers;
	unsigned nworkers;
	unsigned stopped;
	bool draining;
	struct worker_shared shared;
	struct metrics metrics;
	struct metrics_http *http; /* [metrics] listen; NULL = off */
	struct admin *admin;	   /* [admin] socket; NULL = off */
	struct guard_sync *gsync;  /* bans shared through the store */
	const struct userstore_ops *store_ops;
	struct config *startup; /* borrowed: for the job threads' store */
	/* Start-up state handed from one daemon_run phase to the next, and
	 * undone by shut_down for whatever was reached. */
	int sigfd;
	int **fds;	     /* fds[worker][listener]; a row is NULL once its worker owns it */
	size_t nl;	     /* listeners per worker */
	size_t npassed;	     /* of them passed by socket activation */
	size_t npassed_sftp; /* of those, SFTP ones (named "sftp") */
	bool implicit[WORKER_MAX_LISTEN];
	bool sftp[WORKER_MAX_LISTEN]; /* [sftp] listen: the last ones */
	struct sftp_keys *sftp_keys;
	int metrics_fd, admin_fd; /* bound as root, served after the workers start */
	unsigned started;	  /* workers running */
	bool jobs_up;
	/* Set on this loop when ferryd stops: the start-up clean-up ends early
	 * (daemon_clean.h). */
	atomic_bool clean_stop;
};

static void *store_thread_init(void *arg)
{
	struct daemon *d = arg;
	struct store_handle *h = util_xcalloc(1, sizeof(*h));
	char err[512] = "";
	h->ops = d->store_ops;
	/* LAZY: a PostgreSQL store connects at the thread's first job, and
	 * again after a lost connection, rather than failing for good here. */
	if (h->ops->open(d->startup, USERSTORE_LAZY, &h->store, err, sizeof(err)) != 0) {
		log_err(0, "job thread: cannot open the user store: %s", err);
		h->store = NULL;
	}
	return h;
}

static void store_thread_fini(void *ctx)
{
	struct store_handle *h = ctx;
	if (h && h->store)
		h->ops->close(h->store);
	free(h);
}

static void on_worker_stopped_main(void *arg)
{
	struct daemon *d = arg;
	if (++d->stopped == d->nworkers)
		loop_stop(d->loop);
}

/* Runs on a worker thread: hand the news to the main loop. */
static void on_worker_stopped(void *arg)
{
	struct daemon *d = arg;
	while (loop_post(d->loop, on_worker_stopped_main, d) != 0)
		log_err(0, "cannot post worker stop; retrying");
}

static void warn_unreloadable(const struct config *old, const struct config *nw)
{
	bool listen_changed = old->n_listen != nw->n_listen;
	for (size_t i = 0; !listen_changed && i < old->n_listen; i++)
		listen_changed =
		    old->listen[i].port != nw->listen[i].port || strcmp(old->listen[i].host, nw->listen[i].host) != 0;
	if (listen_changed)
		log_warn(0, "reload: [server] listen changed; it takes effect after a restart");
	if (old->workers != nw->workers || old->jobs != nw->jobs)
		log_warn(0, "reload: [server] workers/jobs changed; they take effect after a restart");
	if (old->io_jobs != nw->io_jobs)
		log_warn(0, "reload: [server] io_jobs changed; it takes effect after a restart");
	if (strcmp(old->run_as, nw->run_as) != 0)
		log_warn(0, "reload: [server] run_as changed; it takes effect after a restart");
	if (strcmp(old->store_backend, nw->store_backend) != 0 || strcmp(old->sqlite_path, nw->sqlite_path) != 0 ||
	    strcmp(old->pg_conninfo, nw->pg_conninfo) != 0)
		log_warn(0, "reload: [store] changed; it takes effect after a restart");
	if (strcmp(old->log_xferlog, nw->log_xferlog) != 0 || strcmp(old->log_json, nw->log_json) != 0)
		log_warn(0, "reload: [log] xferlog/json changed; they take effect after a restart");
	bool metrics_changed =
	    old->n_metrics_listen != nw->n_metrics_listen ||
	    (old->n_metrics_listen && (old->metrics_listen[0].port != nw->metrics_listen[0].port ||
				       strcmp(old->metrics_listen[0].host, nw->metrics_listen[0].host) != 0));
	if (metrics_changed || strcmp(old->admin_socket, nw->admin_socket) != 0)
		log_warn(0, "reload: [metrics] listen or [admin] socket changed; they take effect after a restart");
	if (strcmp(old->hooks_upload_exec, nw->hooks_upload_exec) != 0 ||
	    strcmp(old->hooks_upload_url, nw->hooks_upload_url) != 0 || old->hooks_timeout_ms != nw->hooks_timeout_ms ||
	    old->hooks_concurrency != nw->hooks_concurrency)
		log_warn(0, "reload: [hooks] changed; it takes effect after a restart");
	bool sftp_changed = old->n_sftp_listen != nw->n_sftp_listen ||
			    memcmp(old->sftp_listen, nw->sftp_listen, sizeof(old->sftp_listen)) != 0 ||
			    strcmp(old->sftp_host_keys, nw->sftp_host_keys) != 0;
	if (sftp_changed)
		log_warn(0, "reload: [sftp] changed; it takes effect after a restart");
	if (strcmp(old->gss_keytab, nw->gss_keytab) != 0 || strcmp(old->gss_service, nw->gss_service) != 0)
		log_warn(0, "reload: [gssapi] keytab/service changed; they take effect after a restart");
	if ((nw->sandbox_roots[0] && strcmp(old->sandbox_roots, nw->sandbox_roots) != 0) ||
	    old->sandbox_landlock != nw->sandbox_landlock || old->sandbox_seccomp != nw->sandbox_seccomp)
		log_warn(0, "reload: [sandbox] changed; it takes effect after a restart");
}

static void guard_limits_from(const struct config *c, struct guard_limits *lim)
{
	*lim = (struct guard_limits){
		.max_per_ip = c->max_per_ip,
		.max_per_user = c->max_per_user,
		.connect_rate = c->connect_rate,
		.connect_burst = c->connect_burst,
		.ban_failures = c->ban_failures,
		.ban_window_ms = c->ban_window_ms,
		.ban_time_ms = c->ban_time_ms,
		.ban_max_ms = c->ban_max_ms,
	};
}

/* [sandbox] roots left empty: the directories that hold the homes now.
 * Written into cfg (not yet shared), so logins check the same roots that
 * Landlock enforces; reload() carries them over. */
static void derive_roots(struct daemon *d, struct userstore *probe, struct config *cfg)
{
	int r = sandbox_derive_roots(d->store_ops, probe, cfg->sandbox_roots, sizeof(cfg->sandbox_roots));
	if (r) {
		cfg->sandbox_roots[0] = '\0';
		log_warn(0, "sandbox: cannot derive the roots from the user store (%s); set [sandbox] roots",
			 strerror(-r));
	} else if (!cfg->sandbox_roots[0]) {
		log_warn(0, "sandbox: the user store has no users and [sandbox] roots is empty: no home is "
			    "reachable until ferryd restarts; set [sandbox] roots");
	} else {
		log_info(0,
			 "sandbox: [sandbox] roots not set; homes must lie under %s (the directories holding "
			 "the homes in the user store)",
			 cfg->sandbox_roots);
	}
}

static void reload(struct daemon *d)
{
	const struct config *old = config_current();
	struct config *nw = NULL;
	char err[1024];
	systemd_notify_reloading();
	int r = config_load_checked(old->path, buildinfo_check_config, &nw, err, sizeof(err));
	if (r) {
		log_err(0, "reload failed, keeping the running configuration: %s%s", err,
			r == -EACCES ? " (reloads read the file as the service user: make it readable by that user,"
				       " e.g. owner root, group of the service user, mode 0640)"
				     : "");
		config_unref(old);
		systemd_notify("READY=1\nSTATUS=reload failed, running configuration kept");
		return;
	}
	warn_unreloadable(old, nw);
	/* Landlock's rules are fixed: logins keep checking the running roots. */
	memcpy(nw->sandbox_roots, old->sandbox_roots, sizeof(nw->sandbox_roots));
	nw->sandbox_landlock = old->sandbox_landlock;
	nw->sandbox_seccomp = old->sandbox_seccomp;
	/* Certificates are re-read now, as the service user: keep the running
	 * ones if that fails. */
	struct tls_ctx *tc = NULL;
	char terr[512] = "";
	int tr = tls_ctx_new(nw, &tc, terr, sizeof(terr));
	if (tr == 0)
		worker_shared_set_tls(&d->shared, tc);
	else if (tr == -ENOENT)
		worker_shared_set_tls(&d->shared, NULL);
	else
		log_err(0, "reload: TLS certificates not reloaded, keeping the running ones: %s", terr);
	struct guard_limits lim;
	guard_limits_from(nw, &lim);
	guard_set_limits(d->shared.guard, &lim);
	rate_set(&d->shared.rate_down, nw->rate_down);
	rate_set(&d->shared.rate_up, nw->rate_up);
	log_setup((enum log_target)nw->log_target, (enum log_level)nw->log_level, "ferryd");
	log_info(0, "configuration reloaded from %s; new sessions use it", old->path);
	config_unref(old);
	config_set_current(nw);
	systemd_notify("READY=1\nSTATUS=configuration reloaded");
}

/* Says how long the stop may take: with sessions open, ferryd exits only
 * when they have ended or at the drain deadline (README: Stopping). */
static void log_drain_start(struct daemon *d)
{
	const struct config *cfg = config_current();
	unsigned n_open = atomic_load(&d->shared.sessions);
	if (n_open)
		log_info(0,
			 "stopping: no new connections; %u open session(s) get until the drain deadline, in %u.%03u s "
			 "([server] drain_timeout), to finish",
			 n_open, cfg->drain_timeout_ms / 1000u, cfg->drain_timeout_ms % 1000u);
	else
		log_info(0, "stopping: no new connections; no session is open");
	config_unref(cfg);
}

static void on_signal(struct loop_watch *w, uint32_t events)
{
	struct daemon *d = (struct daemon *)((char *)w - offsetof(struct daemon, sigwatch));
	struct signalfd_siginfo si;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			reload(d);
			break;
		case SIGUSR1: /* logrotate renamed the event files */
			log_files_reopen();
			break;
		case SIGTERM:
		case SIGINT:
			if (d->draining) {
				log_info(0, "already stopping");
				break;
			}
			d->draining = true;
			atomic_store(&d->clean_stop, true);
			systemd_notify("STOPPING=1\nSTATUS=draining sessions");
			log_drain_start(d);
			for (unsigned i = 0; i < d->nworkers; i++)
				worker_drain(&d->workers[i]);
			break;
		default:
			break;
		}
	}
}

/* [server] jobs = 0: one per CPU, but two at least, so a slow database call
 * never holds up every login on a one-CPU machine. */
static unsigned job_count(const struct config *cfg)
{
	if (cfg->jobs)
		return cfg->jobs;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 2 && n <= 64 ? (unsigned)n : n > 64 ? 64 : 2;
}

/* [log] xferlog and json are opened now, as root, so they may live where
 * only root can create files; a file created here belongs to the service
 * user, who reopens it on SIGUSR1. */
static int open_event_logs(const struct config *cfg)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	char err[512];
	if (geteuid() == 0 && cfg->run_as[0] && privs_lookup(cfg->run_as, &uid, &gid) != 0)
		uid = (uid_t)-1, gid = (gid_t)-1; /* privs_drop reports the unknown user */
	int r = log_files_open(cfg->log_xferlog, cfg->log_json, uid, gid, err, sizeof(err));
	if (r)
		log_err(0, "%s", err);
	return r;
}

/* Scrape-time gauges: on the metrics thread, read through thread-safe
 * accessors only. */
static void read_gauges(void *arg, struct metrics_gauges *g)
{
	struct daemon *d = arg;
	for (int p = 0; p < METRICS_PROTOCOLS; p++)
		g->sessions[p] = atomic_load(&d->shared.sessions_by[p]);
	g->bans_active = d->shared.guard ? guard_bans_active(d->shared.guard, util_now_ms()) : 0;
	g->jobs_queued = d->shared.jobs ? jobs_queued(d->shared.jobs) : 0;
	g->io_jobs_queued = d->shared.jobs ? jobs_io_queued(d->shared.jobs) : 0;
	g->hooks_dropped = hooks_dropped(d->shared.hooks);
}

static unsigned worker_count(const struct config *cfg)
{
	if (cfg->workers)
		return cfg->workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 && n < 256 ? (unsigned)n : 1;
}

/* Each session may hold its control socket, its root directory and a data
 * connection or listener; the default soft limit (1024) would cap Ferry
 * far below max_sessions. Raised while still root, so the hard limit may
 * grow too (up to fs.nr_open). */
static void raise_fd_limit(const struct config *cfg)
{
	rlim_t want = (rlim_t)cfg->max_sessions * 3 + 1024, nr_open = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f) {
		unsigned long long v;
		if (fscanf(f, "%llu", &v) == 1)
			nr_open = (rlim_t)v;
		(void)fclose(f);
	}
	if (want > nr_open)
		want = nr_open;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want) {
		struct rlimit up = { want, want };
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		log_warn(0,
			 "max_sessions = %u needs up to %llu file descriptors, but the limit is %llu; "
			 "raise LimitNOFILE / ulimit -n or lower [server] max_sessions",
			 cfg->max_sessions, (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

/* Signals arrive through a signalfd, never handlers (ARCHITECTURE.md §3);
 * they are blocked before any thread exists, so every thread inherits the
 * mask and only the main loop reads them. */
static int block_signals(struct daemon *d)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGPIPE);
	/* Blocked before any thread exists, so every thread inherits it. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGPIPE);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0) {
		log_err(0, "signalfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Secrets are read while still root (ARCHITECTURE.md §1): the files may be
 * readable by root only, and the service user never needs them. */
/* The SSH host keys: the default one is made now if missing, as root, and
 * given to the service user. */
static int load_sftp_keys(struct daemon *d, const struct config *cfg, char *err, size_t errsz)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	if (geteuid() == 0 && cfg->run_as[0] && privs_lookup(cfg->run_as, &uid, &gid) != 0)
		uid = (uid_t)-1, gid = (gid_t)-1; /* privs_drop reports the unknown user */
	if (sftp_keys_load(cfg, uid, gid, &d->sftp_keys, err, errsz) != 0) {
		log_err(0, "%s", err);
		return -1;
	}
	d->shared.sftp_keys = d->sftp_keys;
	return 0;
}

static int read_secrets(struct daemon *d, const struct config *cfg, char *err, size_t errsz)
{
	/* Keys are read now, while still root (ARCHITECTURE.md §1). */
	int tr = tls_ctx_new(cfg, &d->shared.tls, err, errsz);
	if (tr != 0 && tr != -ENOENT) {
		log_err(0, "%s", err);
		return -1;
	}
	/* implicit_listen or required without a certificate never gets here:
	 * config_load refuses it with the line number. */
	/* The keytab too: its keys are copied into memory now. */
	if (cfg->gss_keytab[0]) {
		struct gss_acceptor *ga = NULL;
		if (gss_acceptor_new(cfg->gss_keytab, cfg->gss_service, &ga, err, errsz) != 0) {
			log_err(0, "%s", err);
			return -1;
		}
		d->shared.gss = ga;
	}
	/* The SSH host keys too (bind_listeners when only socket activation
	 * passes SFTP sockets). */
	return cfg->n_sftp_listen ? load_sftp_keys(d, cfg, err, errsz) : 0;
}

/* The control listeners, bound as root (privileged ports) or passed by
 * socket activation, each duplicated once per worker: d->fds[w][i]. */
static int bind_listeners(struct daemon *d, const struct config *cfg, char *err, size_t errsz)
{
	int passed[WORKER_MAX_LISTEN];
	if (systemd_listen_fds(passed, d->implicit, d->sftp, WORKER_MAX_LISTEN, &d->npassed, err, errsz) != 0) {
		log_err(0, "%s", err);
		return -1;
	}
	if (d->npassed) {
		/* Socket activation: the passed sockets replace [server] listen and
		 * [tls] implicit_listen, and those named "sftp" [sftp] listen. */
		d->nl = d->npassed;
		for (size_t i = 0; i < d->nl; i++)
			d->npassed_sftp += d->sftp[i];
		for (size_t i = 0; i < d->nl; i++)
			if (d->implicit[i] && !d->shared.tls) {
				log_err(0,
					"socket activation passed an implicit FTPS socket (name \"%s\") but [tls] cert "
					"is not set",
					SYSTEMD_FDNAME_IMPLICIT);
				for (size_t j = 0; j < d->nl; j++)
					(void)close(passed[j]);
				return -1;
			}
	} else {
		d->nl = cfg->n_listen + cfg->n_tls_implicit;
		for (size_t i = 0; i < d->nl; i++)
			d->implicit[i] = i >= cfg->n_listen;
	}
	/* [sftp] listen is bound by ferryd, also under socket activation,
	 * unless sockets named "sftp" were passed. */
	size_t nftp = d->nl;
	for (size_t i = 0; !d->npassed_sftp && i < cfg->n_sftp_listen; i++)
		d->sftp[d->nl++] = true;
	if (d->npassed_sftp && !d->sftp_keys && load_sftp_keys(d, cfg, err, errsz) != 0) {
		for (size_t j = 0; j < d->npassed; j++)
			(void)close(passed[j]);
		return -1;
	}
	d->fds = util_xcalloc(d->nworkers, sizeof(*d->fds));
	for (unsigned w = 0; w < d->nworkers; w++) {
		d->fds[w] = util_xcalloc(d->nl, sizeof(int));
		for (size_t i = 0; i < d->nl; i++)
			d->fds[w][i] = -1;
	}
	for (size_t i = 0; i < d->nl; i++) {
		if (d->npassed && i < nftp) {
			d->fds[0][i] = passed[i];
		} else {
			/* Bound as root (privileged ports), once per address and
			 * without SO_REUSEPORT: a second ferryd on the same address
			 * fails here with "Address already in use" instead of
			 * silently sharing the port with this one. */
			const struct config_listen *l = i >= nftp	    ? &cfg->sftp_listen[i - nftp]
							: i < cfg->n_listen ? &cfg->listen[i]
									    : &cfg->tls_implicit[i - cfg->n_listen];
			if (net_listen(l->host, l->port, &d->fds[0][i], err, errsz) != 0) {
				log_err(0, "%s", err);
				return -1;
			}
		}
		/* One descriptor per worker for the one socket. */
		for (unsigned w = 1; w < d->nworkers; w++) {
			d->fds[w][i] = fcntl(d->fds[0][i], F_DUPFD_CLOEXEC, 3);
			if (d->fds[w][i] < 0) {
				log_err(0, "dup of a listening socket: %s", strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

/* The rest of what needs root: the kernel check, the descriptor limit, the
 * event logs (maybe in a root-only directory), the metrics listener (any
 * port) and the admin socket (created, then given to the service user). */
static int open_as_root(struct daemon *d, const struct config *cfg, char *err, size_t errsz)
{
	/* ARCHITECTURE.md §5: confinement is the kernel's job; no fallback. */
	if (!vfs_supported()) {
		log_err(0, "this kernel lacks openat2(RESOLVE_IN_ROOT) (Linux 5.6+); refusing to start");
		return -1;
	}
	raise_fd_limit(cfg);
	if (open_event_logs(cfg) != 0)
		return -1;
	/* Bound as root too (any port); served from its own thread later. */
	if (cfg->n_metrics_listen &&
	    net_listen(cfg->metrics_listen[0].host, cfg->metrics_listen[0].port, &d->metrics_fd, err, errsz) != 0) {
		log_err(0, "[metrics] listen: %s", err);
		return -1;
	}
	if (cfg->admin_socket[0]) {
		uid_t uid = (uid_t)-1;
		gid_t gid = (gid_t)-1;
		if (geteuid() == 0 && privs_lookup(cfg->run_as, &uid, &gid) != 0)
			uid = (uid_t)-1, gid = (gid_t)-1;
		if (admin_listen(cfg->admin_socket, uid, gid, &d->admin_fd, err, errsz) != 0) {
			log_err(0, "%s", err);
			return -1;
		}
	}
	return 0;
}

/* From here on ferryd is the service user: whatever it opens next (the
 * store, the config on reload) is checked with that user's rights now, at
 * start, not at the first login or the first SIGHUP. */
static int drop_to_service_user(struct daemon *d, struct config *cfg, char *err, size_t errsz)
{
	if (privs_drop(cfg->run_as, err, errsz) != 0) {
		log_err(0, "%s", err);
		return -1;
	}

	if (access(cfg->path, R_OK) != 0)
		log_warn(0,
			 "%s is not readable by the service user; SIGHUP reloads will fail until it is "
			 "(e.g. owner root, group of the service user, mode 0640)",
			 cfg->path);

	/* Open (and create on first run) the store now, as the service user,
	 * so a permission problem is reported at start, not at first login. */
	struct userstore *probe = NULL;
	if (d->store_ops->open(cfg, USERSTORE_CREATE, &probe, err, errsz) != 0) {
		log_err(0, "%s", err);
		return -1;
	}
	if (cfg->sandbox_landlock != SANDBOX_OFF && !cfg->sandbox_roots[0])
		derive_roots(d, probe, cfg);
	d->store_ops->close(probe);
	return 0;
}

/* Hooks, then the sandbox: both while ferryd is still one thread, so the
 * hook runner forks cleanly and every later thread inherits the sandbox. */
static int fork_hooks_and_sandbox(struct daemon *d, const struct config *cfg, char *err, size_t errsz)
{
	/* Hooks run in a process of their own, forked before the sandbox
	 * (hooks.c): the programs they start must not inherit it. */
	if (cfg->hooks_upload_exec[0] || cfg->hooks_upload_url[0]) {
		if (hooks_start(&d->shared.hooks, cfg->hooks_upload_exec, cfg->hooks_upload_url, cfg->hooks_concurrency,
				cfg->hooks_timeout_ms) != 0) {
			log_err(0, "[hooks]: cannot start the hook runner");
			return -1;
		}
		log_info(0, "hooks: after each upload%s%s%s%s", cfg->hooks_upload_exec[0] ? " run " : "",
			 cfg->hooks_upload_exec, cfg->hooks_upload_url[0] ? " POST to " : "", cfg->hooks_upload_url);
	}

	/* Before any other thread exists: every thread inherits the sandbox. */
	if (sandbox_apply(cfg, err, errsz) != 0) {
		log_err(0, "%s", err);
		return -1;
	}
	return 0;
}

/* The threads: the main loop (signals), the job pool, then the workers,
 * each taking its copies of the listeners. cfg becomes the current
 * snapshot first, since every thread reads it. */
static int start_threads(struct daemon *d, struct config *cfg)
{
	d->startup = cfg;
	(void)config_ref(cfg); /* the current snapshot holds its own reference */
	config_set_current(cfg);
	if (loop_new(&d->loop) != 0 || loop_watch_add(d->loop, &d->sigwatch, d->sigfd, LOOP_IN, on_signal) != 0) {
		log_err(0, "cannot create the main event loop");
		return -1;
	}
	if (jobs_start(&d->shared.jobs, job_count(cfg), store_thread_init, store_thread_fini, d) != 0) {
		log_err(0, "cannot start the job pool");
		return -1;
	}
	d->jobs_up = true;
	/* Disk-bound work (fsyncs, the clean-up) on threads of its own: a slow
	 * disk never holds the threads logins need (event/jobs.h). */
	if (jobs_start_io(d->shared.jobs, cfg->io_jobs) != 0) {
		log_err(0, "cannot start the job pool's I/O threads");
		return -1;
	}
	struct guard_limits lim;
	guard_limits_from(cfg, &lim);
	d->shared.guard = guard_new(&lim);
	d->shared.quota = quota_book_new(d->shared.jobs);
	/* Nodes sharing the store never pass a quota together (quota.h GRANTS). */
	quota_book_grants(d->shared.quota, d->loop, NULL, (cfg->quota_grant_expiry_ms + 999) / 1000);
	rate_init(&d->shared.rate_down, cfg->rate_down, util_now_us());
	rate_init(&d->shared.rate_up, cfg->rate_up, util_now_us());
	d->shared.hashlim = hash_limit_new();
	char err[512];
	if (guard_sync_start(&d->gsync, d->shared.guard, d->store_ops, cfg, &d->metrics, err, sizeof(err)) != 0) {
		log_err(0, "%s", err);
		return -1;
	}
	atomic_init(&d->shared.next_sid, 1);
	atomic_init(&d->shared.sessions, 0);
	for (int p = 0; p < METRICS_PROTOCOLS; p++)
		atomic_init(&d->shared.sessions_by[p], 0);
	d->shared.metrics = &d->metrics;
	d->shared.stopped = on_worker_stopped;
	d->shared.stopped_arg = d;
	d->workers = util_xcalloc(d->nworkers, sizeof(*d->workers));
	for (unsigned w = 0; w < d->nworkers; w++) {
		if (worker_init(&d->workers[w], w, &d->shared, d->fds[w], d->implicit, d->sftp, d->nl) != 0) {
			log_err(0, "cannot set up worker %u", w);
			return -1;
		}
		free(d->fds[w]);
		d->fds[w] = NULL; /* the worker owns the sockets now */
		if (worker_start(&d->workers[w]) != 0) {
			log_err(0, "cannot start worker %u", w);
			worker_free(&d->workers[w]);
			return -1;
		}
		d->started++;
	}
	return 0;
}

/* Serving: the side endpoints (metrics, admin) come up once the workers
 * they report on exist; then the start-up log, READY=1 for systemd and the
 * clean-up of temporaries an earlier ferryd left. */
static int announce_ready(struct daemon *d, const struct config *cfg, char *err, size_t errsz)
{
	for (size_t i = 0; !d->npassed && i < cfg->n_listen; i++) {
		char where[96];
		config_listen_format(&cfg->listen[i], where, sizeof(where));
		log_info(0, "listening on %s", where);
	}
	for (size_t i = 0; !d->npassed && i < cfg->n_tls_implicit; i++) {
		char where[96];
		config_listen_format(&cfg->tls_implicit[i], where, sizeof(where));
		log_info(0, "listening on %s (implicit FTPS)", where);
	}
	if (d->npassed)
		log_info(0,
			 "socket activation: %zu socket(s) passed, [server] listen and [tls] implicit_listen not used",
			 d->npassed);
	if (d->npassed_sftp)
		log_info(0, "socket activation: %zu SFTP socket(s) passed, [sftp] listen not used", d->npassed_sftp);
	for (size_t i = 0; !d->npassed_sftp && i < cfg->n_sftp_listen; i++) {
		char where[96];
		config_listen_format(&cfg->sftp_listen[i], where, sizeof(where));
		log_info(0, "listening on %s (SFTP)", where);
	}
	if (d->metrics_fd >= 0) {
		int fd = d->metrics_fd;
		d->metrics_fd = -1; /* metrics_http_start owns it now, even on failure */
		if (metrics_http_start(fd, &d->metrics, read_gauges, d, &d->http, err, errsz) != 0) {
			log_err(0, "%s", err);
			return -1;
		}
		char where[96];
		config_listen_format(&cfg->metrics_listen[0], where, sizeof(where));
		log_info(0, "metrics: Prometheus endpoint on http://%s/metrics", where);
	}
	if (d->admin_fd >= 0) {
		int fd = d->admin_fd;
		d->admin_fd = -1; /* admin_start owns it now */
		if (admin_start(&d->admin, d->loop, fd, d->workers, d->nworkers) != 0) {
			log_err(0, "[admin] socket: cannot serve it");
			return -1;
		}
		log_info(0, "admin socket: %s", cfg->admin_socket);
	}
	log_info(0, "TLS: %s", d->shared.tls ? "AUTH TLS offered" : "off (no [tls] cert)");
	if (d->shared.gss)
		log_info(0, "GSSAPI: AUTH GSSAPI offered (%zu key(s) for service %s)", gss_acceptor_keys(d->shared.gss),
			 cfg->gss_service);
	else
		log_info(0, "GSSAPI: off (no [gssapi] keytab)");
	char where[512];
	d->store_ops->where(cfg, where, sizeof(where));
	log_info(0, "ferryd ready: %u worker(s), %u job thread(s), %s", d->nworkers, job_count(cfg), where);
	char status_msg[128];
	(void)snprintf(status_msg, sizeof(status_msg), "READY=1\nSTATUS=serving: %u worker(s), %zu listener(s)",
		       d->nworkers, d->nl);
	systemd_notify(status_msg);
	daemon_clean_start(d->shared.jobs, d->loop, cfg, &d->clean_stop);
	return 0;
}

/* Undoes whatever the phases got to, in an order that respects who reads
 * what: the metrics thread first, the workers (which queue jobs and hooks)
 * before the job pool and the hook runner, the shared state last. */
static void shut_down(struct daemon *d)
{
	atomic_store(&d->clean_stop, true); /* before jobs_stop (daemon_clean.h) */
	/* First: its thread reads the guard and the job pool. */
	metrics_http_stop(d->http);
	if (d->metrics_fd >= 0)
		(void)close(d->metrics_fd);
	admin_stop(d->admin);
	if (d->admin_fd >= 0)
		(void)close(d->admin_fd);
	if (d->started && !d->draining)
		for (unsigned i = 0; i < d->started; i++)
			worker_drain(&d->workers[i]);
	for (unsigned i = 0; i < d->started; i++)
		worker_join(&d->workers[i]);
	if (d->jobs_up) {
		quota_book_release(d->shared.quota); /* the uploads ended with the workers */
		jobs_stop(d->shared.jobs);
	}
	quota_book_stop(d->shared.quota); /* sessions freed below send no more */
	guard_sync_stop(d->gsync);	  /* after the workers: they queue failures */
	hooks_stop(d->shared.hooks);	  /* after the workers: they queue hooks */
	for (unsigned i = 0; i < d->started; i++)
		worker_free(&d->workers[i]);
	free(d->workers);
	guard_free(d->shared.guard);
	hash_limit_free(d->shared.hashlim);
	quota_book_free(d->shared.quota);
	if (d->fds) {
		for (unsigned w = 0; w < d->nworkers; w++) {
			if (!d->fds[w])
				continue;
			for (size_t i = 0; i < d->nl; i++)
				if (d->fds[w][i] >= 0)
					(void)close(d->fds[w][i]);
			free(d->fds[w]);
		}
		free(d->fds);
	}
	if (d->loop) {
		loop_watch_del(d->loop, &d->sigwatch);
		loop_free(d->loop);
	}
	if (d->sigfd >= 0)
		(void)close(d->sigfd);
	worker_shared_set_tls(&d->shared, NULL);
	gss_acceptor_free((struct gss_acceptor *)d->shared.gss);
	sftp_keys_free(d->sftp_keys); /* after the workers: their binds held copies */
	pthread_mutex_destroy(&d->shared.tls_lock);
}

/* The phases in their one safe order (ARCHITECTURE.md §1): everything that
 * needs root, then the privilege drop, then the sandbox while single-
 * threaded, then the threads; each phase logs its own failure. */
int daemon_run(struct config *cfg)
{
	struct daemon d = { .sigfd = -1, .metrics_fd = -1, .admin_fd = -1 };
	int status = 1;
	char err[1024];

	pthread_mutex_init(&d.shared.tls_lock, NULL);
	d.store_ops = auth_backend(cfg->store_backend);
	if (!d.store_ops) {
		log_err(0, "[store] backend '%s' is not built in", cfg->store_backend);
		config_unref(cfg);
		return 1;
	}
	if (block_signals(&d) != 0 || read_secrets(&d, cfg, err, sizeof(err)) != 0)
		goto out;
	d.nworkers = worker_count(cfg);
	if (bind_listeners(&d, cfg, err, sizeof(err)) != 0 || open_as_root(&d, cfg, err, sizeof(err)) != 0 ||
	    drop_to_service_user(&d, cfg, err, sizeof(err)) != 0 ||
	    fork_hooks_and_sandbox(&d, cfg, err, sizeof(err)) != 0 || start_threads(&d, cfg) != 0 ||
	    announce_ready(&d, cfg, err, sizeof(err)) != 0)
		goto out;

	if (loop_run(d.loop) == 0)
		status = 0;
out:
	shut_down(&d);
	if (status == 0)
		log_info(0, "ferryd stopped");
	log_files_close();
	config_set_current(NULL);
	config_unref(cfg);
	return status;
}
