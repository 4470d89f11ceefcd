/* loadgen: many FTP client sessions in one process. Each session is a state
 * machine driven by one epoll loop: non-blocking connect, greeting, optional
 * AUTH TLS, USER/PASS, PBSZ/PROT, TYPE I, EPSV (PASV fallback) and transfers
 * whose bytes are checked against the pattern (pattern.c). Any reply code
 * other than the expected one, any wrong byte, or a session without progress
 * for --op-timeout ends the run with a FAIL line and exit status 1. */
#include "loadgen_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define LG_MAX_EVENTS 512

struct lg_global G;

bool lg_is(const char *m)
{
	return strcmp(G.mode, m) == 0;
}

/* The measured window: its start and its latest end, with the generator's
 * CPU time at both (one getrusage each, cheap next to a transfer or login). */
static void lg_window_start(double t)
{
	G.t_start = t;
	(void)getrusage(RUSAGE_SELF, &G.ru_start);
	G.ru_end = G.ru_start;
}

static void lg_window_end(double t)
{
	G.t_end = t;
	(void)getrusage(RUSAGE_SELF, &G.ru_end);
}

static double lg_tv(struct timeval a, struct timeval b)
{
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

/* ---- modes ---------------------------------------------------------------- */

static void lg_mode_ready(struct lg_conn *c);
static void lg_mode_pasv(struct lg_conn *c);
static void lg_mode_xfer_done(struct lg_conn *c);
static void lg_mode_logged_in(struct lg_conn *c);
static void lg_after_login(struct lg_conn *c);
static void lg_closed(struct lg_conn *c);

void lg_xfer_check(struct lg_conn *c)
{
	if (!c->got_final || !c->data_done)
		return;
	if (c->xk == X_RETR && c->dbytes != c->dexpect)
		lg_fail(c, "%s: %llu bytes, expected %llu", c->path, (unsigned long long)c->dbytes,
			(unsigned long long)c->dexpect);
	if ((c->xk == X_LIST || c->xk == X_MLSD) && G.o->entries && c->lines != G.o->entries)
		lg_fail(c, "%s of %s: %llu entries, expected %llu", c->xk == X_LIST ? "LIST" : "MLSD", c->path,
			(unsigned long long)c->lines, (unsigned long long)G.o->entries);
	c->st = ST_READY;
	lg_mode_xfer_done(c);
}

static void lg_epsv(struct lg_conn *c)
{
	if (G.o->pasv || c->pasv_fallback)
		lg_send(c, ST_PASV, "PASV");
	else
		lg_send(c, ST_EPSV, "EPSV");
}

static void lg_xfer(struct lg_conn *c, enum lg_xfer k, uint64_t expect)
{
	static const char *const verb[] = { "", "RETR", "STOR", "LIST", "MLSD" };
	c->xt0 = now_s();
	lg_data_open(c, k, expect);
	lg_send(c, ST_XFER, "%s %s", verb[k], c->path);
}

void lg_reply(struct lg_conn *c, int code, const char *text)
{
	c->last = now_s();
	switch (c->st) {
	case ST_GREET:
		if (code == 120)
			return;
		if (code != 220)
			break;
		if (G.o->tls)
			lg_send(c, ST_AUTH, "AUTH TLS");
		else
			lg_send(c, ST_USER, "USER %s", G.o->user);
		return;
	case ST_AUTH:
		if (code != 234)
			break;
		lg_start_tls(c);
		return;
	case ST_USER:
		if (code != 331)
			break;
		lg_send(c, ST_PASS, "PASS %s", G.o->pass);
		return;
	case ST_PASS:
		if (code != 230)
			break;
		lg_mode_logged_in(c);
		return;
	case ST_PBSZ:
		if (code != 200)
			break;
		lg_send(c, ST_PROT, "PROT P");
		return;
	case ST_PROT:
		if (code != 200)
			break;
		lg_after_login(c);
		return;
	case ST_TYPE:
		if (code != 200)
			break;
		c->st = ST_READY;
		lg_mode_ready(c);
		return;
	case ST_EPSV:
	case ST_PASV:
		if (c->st == ST_EPSV && (code == 500 || code == 502)) {
			c->pasv_fallback = true;
			lg_epsv(c);
			return;
		}
		if (code != (c->st == ST_EPSV ? 229 : 227))
			break;
		if (lg_parse_port(text, code, &c->dport) != 0)
			lg_fail(c, "cannot parse the port in: %s", text);
		c->st = ST_READY;
		lg_mode_pasv(c);
		return;
	case ST_XFER:
		if ((code == 150 || code == 125) && !c->got_prelim) {
			c->got_prelim = true;
			return;
		}
		if ((code == 226 || code == 250) && c->got_prelim && !c->got_final) {
			c->got_final = true;
			lg_xfer_check(c);
			return;
		}
		break;
	case ST_NOOP:
		if (code != 200)
			break;
		lg_send(c, ST_QUIT, "QUIT");
		return;
	case ST_QUIT:
		if (code != 221)
			break;
		/* Close at once, as real clients do; waiting for the server's
		 * close would measure how fast it tears a session down. */
		lg_closed(c);
		return;
	default:
		break;
	}
	lg_fail(c, "unexpected reply: %s", text);
}

/* After 230 (and PBSZ/PROT under TLS): TYPE I unless the mode only idles. */
static void lg_after_login(struct lg_conn *c)
{
	if (lg_is("idle") || lg_is("logins")) {
		c->st = ST_READY;
		lg_mode_ready(c);
		return;
	}
	lg_send(c, ST_TYPE, "TYPE I");
}

static void lg_quit(struct lg_conn *c)
{
	lg_send(c, ST_QUIT, "QUIT");
}

static void lg_record_latency(double v)
{
	if (G.nlat == G.caplat) {
		G.caplat = G.caplat ? G.caplat * 2 : 4096;
		G.lat = realloc(G.lat, G.caplat * sizeof(*G.lat));
		if (!G.lat)
			lg_fail(NULL, "out of memory");
	}
	G.lat[G.nlat++] = v;
}

static void lg_mode_logged_in(struct lg_conn *c)
{
	if (lg_is("logins")) {
		double t = now_s();
		lg_record_latency(t - c->t0);
		G.done++;
		lg_window_end(t);
		lg_quit(c);
		return;
	}
	if (c->ssl)
		lg_send(c, ST_PBSZ, "PBSZ 0");
	else
		lg_after_login(c);
}

static bool lg_more(uint64_t done)
{
	if (G.o->count && done >= G.o->count)
		return false;
	return now_s() < G.deadline;
}

static void lg_idle_open_next(void)
{
	while (G.next_open < G.n && G.in_flight < G.o->concurrency && !G.stopping) {
		G.in_flight++;
		lg_open(G.c[G.next_open++]);
	}
}

/* --listing both: LIST on even iterations, MLSD on odd ones, a pair per --count. */
static enum lg_xfer lg_list_kind(uint64_t iter)
{
	if (strcmp(G.o->listing, "LIST") == 0)
		return X_LIST;
	if (strcmp(G.o->listing, "MLSD") == 0)
		return X_MLSD;
	return iter % 2 == 0 ? X_LIST : X_MLSD;
}

static void lg_list_next(struct lg_conn *c)
{
	bool round_done = c->iter > 0 && lg_list_kind(c->iter) == lg_list_kind(0);
	size_t most = G.nlist > G.nmlsd ? G.nlist : G.nmlsd;
	if (round_done && (most >= G.cap_list || now_s() >= G.deadline)) {
		lg_quit(c);
		return;
	}
	lg_epsv(c);
}

/* Logged in (files, list) or every stream at its barrier (retr, stor): with
 * --wait-start, prints READY n and blocks until a line (or EOF) on stdin, so
 * the harness can take its baselines (server CPU and memory) without the
 * logins' hashes in them. Then the measured window and the time limit start. */
static void lg_wait_start(unsigned n)
{
	if (G.o->wait_start) {
		char b[64];
		printf("READY %u\n", n);
		fflush(stdout);
		ssize_t r = read(0, b, sizeof(b));
		(void)r;
	}
	double t = now_s();
	for (unsigned i = 0; i < G.n; i++)
		G.c[i]->last = t;
	G.deadline = t + G.o->time_s;
	lg_window_start(t);
}

static void lg_mode_ready(struct lg_conn *c)
{
	if (lg_is("idle")) {
		G.in_flight--;
		G.ready++;
		if (G.ready == G.n) {
			lg_window_end(now_s());
			G.holding = true;
			printf("READY %u\n", G.ready);
			fflush(stdout);
		}
		lg_idle_open_next();
		return;
	}
	if (lg_is("logins"))
		return; /* not reached: logins QUIT at 230 */
	if (lg_is("files") || lg_is("list")) {
		lg_wait_start(1);
		if (lg_is("files"))
			lg_epsv(c);
		else
			lg_list_next(c);
		return;
	}
	lg_epsv(c); /* retr, stor: EPSV first, then wait for every stream */
}

static void lg_mode_pasv(struct lg_conn *c)
{
	if (lg_is("files")) {
		(void)snprintf(c->path, sizeof(c->path), "%s/f%05u", G.o->dir, (unsigned)(c->iter % G.o->files));
		lg_xfer(c, X_RETR, G.o->size);
		return;
	}
	if (lg_is("list")) {
		(void)snprintf(c->path, sizeof(c->path), "%s", G.o->dir);
		lg_xfer(c, lg_list_kind(c->iter), 0);
		return;
	}
	/* retr/stor: a barrier, so every stream starts at once. */
	if (++G.ready < G.n)
		return;
	lg_wait_start(G.n);
	for (unsigned i = 0; i < G.n; i++) {
		struct lg_conn *s = G.c[i];
		if (lg_is("retr")) {
			(void)snprintf(s->path, sizeof(s->path), "%s", G.o->file);
			lg_xfer(s, X_RETR, G.o->size);
		} else {
			(void)snprintf(s->path, sizeof(s->path), "%s-%u", G.o->file, i);
			lg_xfer(s, X_STOR, G.o->size);
		}
	}
}

static void lg_mode_xfer_done(struct lg_conn *c)
{
	double t = now_s();
	if (lg_is("files")) {
		c->iter++;
		G.done++;
		lg_window_end(t);
		if (lg_more(G.done))
			lg_epsv(c);
		else
			lg_quit(c);
		return;
	}
	if (lg_is("list")) {
		double ms = (t - c->xt0) * 1000;
		if (c->xk == X_LIST)
			G.list_ms[G.nlist++] = ms;
		else
			G.mlsd_ms[G.nmlsd++] = ms;
		lg_window_end(t);
		c->iter++;
		lg_list_next(c);
		return;
	}
	G.done++;
	if (G.done == G.n)
		lg_window_end(t);
	lg_quit(c);
}

/* The server closed after our QUIT. */
static void lg_closed(struct lg_conn *c)
{
	lg_close(c);
	if (lg_is("logins") && lg_more(G.done)) {
		lg_open(c);
		return;
	}
	c->finished = true;
	G.finished++;
}

static void lg_release(void)
{
	if (G.released)
		return;
	G.released = true;
	G.t_release = now_s();
	for (unsigned i = 0; i < G.n; i++)
		if (G.c[i]->st == ST_READY)
			lg_send(G.c[i], ST_NOOP, "NOOP");
}

/* ---- loop ------------------------------------------------------------------ */

static void lg_check_timeouts(double t)
{
	for (unsigned i = 0; i < G.n; i++) {
		struct lg_conn *c = G.c[i];
		if (c->st == ST_FREE || (c->st == ST_READY && lg_is("idle")))
			continue;
		if (c->st == ST_READY && (lg_is("retr") || lg_is("stor")))
			continue; /* waiting at the barrier */
		if (t - c->last > G.o->op_timeout_s)
			lg_stalled(c, t);
	}
}

static void lg_setup(const char *mode, const struct opts *o)
{
	G.o = o;
	G.mode = mode;
	G.sfd = -1;
	G.addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, o->host, &G.addr.sin_addr) != 1)
		lg_fail(NULL, "--host must be a numeric IPv4 address: %s", o->host);
	if (o->tls) {
		G.ctx = SSL_CTX_new(TLS_client_method());
		if (!G.ctx || SSL_CTX_set_min_proto_version(G.ctx, TLS1_2_VERSION) != 1)
			lg_fail(NULL, "SSL_CTX_new: %s", bench_ssl_err());
		SSL_CTX_set_verify(G.ctx, SSL_VERIFY_NONE, NULL);
		(void)SSL_CTX_set_mode(G.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	G.ep = epoll_create1(EPOLL_CLOEXEC);
	if (G.ep < 0)
		lg_fail(NULL, "epoll_create1: %s", strerror(errno));
	if (strcmp(mode, "logins") == 0)
		G.n = o->clients;
	else if (strcmp(mode, "idle") == 0)
		G.n = o->sessions;
	else if (strcmp(mode, "retr") == 0 || strcmp(mode, "stor") == 0)
		G.n = o->streams;
	else
		G.n = 1;
	G.c = calloc(G.n, sizeof(*G.c));
	if (!G.c)
		lg_fail(NULL, "out of memory");
	bool data = !lg_is("logins") && !lg_is("idle");
	for (unsigned i = 0; i < G.n; i++) {
		struct lg_conn *c = calloc(1, sizeof(*c));
		if (!c || (data && !(c->pat = malloc(sizeof(*c->pat)))))
			lg_fail(NULL, "out of memory for %u sessions", G.n);
		c->id = i;
		c->fd = c->dfd = -1;
		c->ev_ctl = (struct lg_ev){ EV_CTL, c };
		c->ev_data = (struct lg_ev){ EV_DATA, c };
		G.c[i] = c;
	}
	if (lg_is("list")) {
		G.cap_list = o->count ? (size_t)o->count : 10000;
		G.list_ms = calloc(G.cap_list, sizeof(double));
		G.mlsd_ms = calloc(G.cap_list, sizeof(double));
		if (!G.list_ms || !G.mlsd_ms)
			lg_fail(NULL, "out of memory");
	}
}

/* idle: stdin EOF and SIGTERM/SIGINT end the hold. */
static void lg_setup_release(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &set, NULL);
	G.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	G.ev_signal = (struct lg_ev){ EV_SIGNAL, NULL };
	G.ev_stdin = (struct lg_ev){ EV_STDIN, NULL };
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &G.ev_signal };
	if (G.sfd < 0 || epoll_ctl(G.ep, EPOLL_CTL_ADD, G.sfd, &e) != 0)
		lg_fail(NULL, "signalfd: %s", strerror(errno));
	e.data.ptr = &G.ev_stdin;
	/* stdin that epoll cannot watch (a file, /dev/null) counts as EOF. */
	G.stdin_watched = epoll_ctl(G.ep, EPOLL_CTL_ADD, 0, &e) == 0;
}

static void lg_ev_stdin(void)
{
	char b[256];
	ssize_t r = read(0, b, sizeof(b));
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		(void)epoll_ctl(G.ep, EPOLL_CTL_DEL, 0, NULL);
		G.stdin_watched = false;
		if (G.holding)
			lg_release();
		else
			G.stopping = true;
	}
}

static void lg_run(void)
{
	struct epoll_event ev[LG_MAX_EVENTS];
	double next_scan = now_s() + 1;
	while (G.finished < G.n) {
		int n = epoll_wait(G.ep, ev, LG_MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR)
			lg_fail(NULL, "epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			struct lg_ev *e = ev[i].data.ptr;
			if (e->kind == EV_CTL) {
				if (e->c->fd >= 0)
					lg_ev_ctl(e->c, ev[i].events);
			} else if (e->kind == EV_DATA) {
				if (e->c->dfd >= 0)
					lg_ev_data(e->c, ev[i].events);
			} else if (e->kind == EV_STDIN) {
				lg_ev_stdin();
			} else {
				struct signalfd_siginfo si;
				while (read(G.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
					;
				if (G.holding)
					lg_release();
				else
					G.stopping = true;
			}
		}
		double t = now_s();
		if (lg_is("idle")) {
			if (G.stopping && !G.holding)
				lg_fail(NULL, "stopped (stdin EOF or signal) with %u of %u sessions logged in", G.ready,
					G.n);
			if (G.holding && !G.stdin_watched)
				lg_release();
			if (t >= G.deadline) {
				if (!G.holding)
					lg_fail(NULL, "only %u of %u sessions logged in within %.0f s", G.ready, G.n,
						G.o->time_s);
				lg_release();
			}
		} else if (t >= G.deadline + G.o->op_timeout_s) {
			lg_fail(NULL, "not finished %.0f s after the time limit", G.o->op_timeout_s);
		}
		if (t >= next_scan) {
			lg_check_timeouts(t);
			next_scan = t + 1;
		}
	}
}

int loadgen_main(const char *mode, const struct opts *o)
{
	char f[768];
	(void)signal(SIGPIPE, SIG_IGN);
	lg_setup(mode, o);
	if (lg_is("idle"))
		lg_setup_release();
	lg_window_start(now_s());
	G.t_launch = G.t_start;
	G.deadline = G.t_start + o->time_s;
	if (lg_is("idle"))
		lg_idle_open_next();
	else
		for (unsigned i = 0; i < G.n; i++)
			lg_open(G.c[i]);
	lg_run();
	double secs = G.t_end > G.t_start ? G.t_end - G.t_start : 1e-9;
	if (lg_is("logins")) {
		double p50 = bench_quantile(G.lat, G.nlat, 0.50) * 1000;
		double p99 = bench_quantile(G.lat, G.nlat, 0.99) * 1000;
		double mx = G.nlat ? G.lat[G.nlat - 1] * 1000 : 0;
		(void)snprintf(f, sizeof(f),
			       "\"clients\":%u,\"logins\":%llu,\"seconds\":%.3f,\"rate\":%.1f,\"p50_ms\":%.2f,"
			       "\"p99_ms\":%.2f,\"max_ms\":%.2f",
			       G.n, (unsigned long long)G.done, secs, (double)G.done / secs, p50, p99, mx);
	} else if (lg_is("idle")) {
		(void)snprintf(f, sizeof(f), "\"sessions\":%u,\"alive\":%u,\"open_seconds\":%.3f,\"open_rate\":%.1f",
			       G.n, G.finished, secs, (double)G.n / secs);
	} else if (lg_is("files")) {
		(void)snprintf(f, sizeof(f), "\"files\":%llu,\"size\":%llu,\"seconds\":%.3f,\"rate\":%.1f",
			       (unsigned long long)G.done, (unsigned long long)o->size, secs, (double)G.done / secs);
	} else if (lg_is("list")) {
		/* bench_quantile sorts, so [0] is the minimum afterwards. */
		double lq = bench_quantile(G.list_ms, G.nlist, 0.5), mq = bench_quantile(G.mlsd_ms, G.nmlsd, 0.5);
		(void)snprintf(
		    f, sizeof(f),
		    "\"entries\":%llu,\"listings\":%zu,\"list_ms\":%.2f,\"mlsd_ms\":%.2f,\"list_min_ms\":%.2f,"
		    "\"mlsd_min_ms\":%.2f",
		    (unsigned long long)o->entries, G.nlist + G.nmlsd, lq, mq, G.nlist ? G.list_ms[0] : 0,
		    G.nmlsd ? G.mlsd_ms[0] : 0);
	} else {
		double bytes = (double)o->size * G.n;
		(void)snprintf(f, sizeof(f), "\"streams\":%u,\"bytes\":%.0f,\"seconds\":%.3f,\"mib_s\":%.1f", G.n,
			       bytes, secs, bytes / secs / 1048576.0);
	}
	/* The measured window and the generator's CPU time within it. */
	size_t l = strlen(f);
	double gu = lg_tv(G.ru_start.ru_utime, G.ru_end.ru_utime), gs = lg_tv(G.ru_start.ru_stime, G.ru_end.ru_stime);
	(void)snprintf(f + l, sizeof(f) - l,
		       ",\"window_s\":%.4f,\"gen_user_s\":%.4f,\"gen_sys_s\":%.4f,\"gen_cpu_s\":%.4f", secs, gu, gs,
		       gu + gs);
	bench_result(o, mode, f);
	return 0;
}
