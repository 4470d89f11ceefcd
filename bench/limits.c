/* limits: what this machine can do without any FTP server in the way, so the
 * harness can report Ferry's figures as a fraction of them: loopback TCP and
 * TLS throughput (a sender process and a receiver that checks every byte the
 * same way the load generator does), and the cost of one password hash. */
#include "bench.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIM_BUF (256u * 1024u)
#define LIM_NAME "limit.bin"

static uint8_t lim_buf[LIM_BUF];
static struct pattern lim_pat;

/* What the two sides do besides moving the bytes. */
enum lim_kind {
	LIM_MEM,      /* tcp-limit: the sender fills one cache-hot buffer again and again */
	LIM_SENDFILE, /* tcp-limit-file: the sender sendfile(2)s --file (page cache), blocking */
	LIM_TOFILE,   /* tcp-limit-tofile: the receiver stores into --file (write, or --splice), unchecked */
};

static double lim_tv(struct timeval a, struct timeval b)
{
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_usec - a.tv_usec) / 1e6;
}

/* A listening socket on 127.0.0.1 and an ephemeral port. */
static int lim_listen(const char *mode, struct sockaddr_in *a)
{
	socklen_t l = sizeof(*a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	*a = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (fd < 0 || bind(fd, (struct sockaddr *)a, sizeof(*a)) != 0 || listen(fd, 1) != 0 ||
	    getsockname(fd, (struct sockaddr *)a, &l) != 0)
		bench_fail(mode, "listen on 127.0.0.1: %s", strerror(errno));
	return fd;
}

/* The sender: the child process, like a server that sends from memory. */
static _Noreturn void lim_sender(int lfd, SSL_CTX *sctx, const struct opts *o, enum lim_kind kind)
{
	int fd = accept(lfd, NULL, NULL);
	SSL *ssl = NULL;
	if (fd < 0)
		_exit(1);
	if (kind == LIM_SENDFILE) {
		/* As a server sends a file from the page cache: blocking
		 * sendfile of all that is left (--cork, --sndbuf: ferryd's
		 * socket settings for a bulk send, src/net/conn.c). */
		int ffd = open(o->file, O_RDONLY | O_CLOEXEC);
		if (ffd < 0)
			_exit(1);
		int one = 1, sb = (int)o->sndbuf;
		if (o->cork)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
		if (sb)
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
		for (off_t off = 0; (uint64_t)off < o->size;) {
			ssize_t w = sendfile(fd, ffd, &off, (size_t)(o->size - (uint64_t)off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(0); /* the receiver stopped at its time limit */
		}
		(void)close(fd);
		_exit(0);
	}
	if (sctx) {
		ssl = SSL_new(sctx);
		if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1)
			_exit(1);
	}
	pattern_init(&lim_pat, kind == LIM_TOFILE ? o->file : LIM_NAME);
	for (uint64_t off = 0; off < o->size;) {
		size_t n = o->size - off < LIM_BUF ? (size_t)(o->size - off) : LIM_BUF;
		pattern_fill(&lim_pat, off, lim_buf, n);
		ssize_t w;
		if (ssl) {
			int r = SSL_write(ssl, lim_buf, (int)n);
			w = r > 0 ? r : -1;
		} else {
			w = send(fd, lim_buf, n, MSG_NOSIGNAL);
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(0); /* the receiver stopped at its time limit */
		off += (uint64_t)w;
	}
	if (ssl)
		(void)SSL_shutdown(ssl);
	(void)close(fd);
	_exit(0);
}

#define LIM_PIPE (1u << 20)

/* One socket -> pipe -> file step of at most max bytes: what it moved, 0
 * at the end of the stream. */
static ssize_t lim_splice(const char *mode, int fd, const int pipefd[2], int ofd, uint64_t max)
{
	ssize_t r;
	do
		r = splice(fd, NULL, pipefd[1], NULL, max < LIM_PIPE ? (size_t)max : LIM_PIPE, SPLICE_F_MOVE);
	while (r < 0 && errno == EINTR);
	for (ssize_t left = r; left > 0;) {
		ssize_t w = splice(pipefd[0], NULL, ofd, NULL, (size_t)left, SPLICE_F_MOVE);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			bench_fail(mode, "receiver: splice into the file: %s", w < 0 ? strerror(errno) : "no progress");
		left -= w;
	}
	return r;
}

/* The receiver: connects, reads and checks every byte, for at most time_s. */
static int lim_receive(const char *mode, const struct opts *o, SSL_CTX *cctx, enum lim_kind kind)
{
	int ofd = -1, pipefd[2] = { -1, -1 };
	if (kind == LIM_SENDFILE) {
		struct stat st;
		errno = 0;
		if (stat(o->file, &st) != 0 || (uint64_t)st.st_size < o->size)
			bench_fail(mode, "--file %s: %s", o->file,
				   errno ? strerror(errno) : "shorter than --size (make it with ferry-bench gen)");
	} else if (kind == LIM_TOFILE) {
		ofd = open(o->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (ofd < 0)
			bench_fail(mode, "--file %s: %s", o->file, strerror(errno));
		if (o->splice) {
			if (pipe2(pipefd, O_CLOEXEC) != 0)
				bench_fail(mode, "pipe: %s", strerror(errno));
			(void)fcntl(pipefd[1], F_SETPIPE_SZ, LIM_PIPE);
		}
	}
	struct sockaddr_in a;
	SSL_CTX *sctx = NULL;
	if (cctx) {
		sctx = SSL_CTX_new(TLS_server_method());
		if (!sctx || SSL_CTX_use_certificate_chain_file(sctx, o->cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(sctx, o->key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION) != 1 ||
		    SSL_CTX_set_ciphersuites(sctx, o->ciphersuite) != 1)
			bench_fail(mode, "server TLS context (--cert, --key, --ciphersuite): %s", bench_ssl_err());
	}
	int lfd = lim_listen(mode, &a);
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		bench_fail(mode, "fork: %s", strerror(errno));
	if (pid == 0)
		lim_sender(lfd, sctx, o, kind);
	(void)close(lfd);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		bench_fail(mode, "connect: %s", strerror(errno));
	SSL *ssl = NULL;
	if (cctx) {
		ssl = SSL_new(cctx);
		if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1)
			bench_fail(mode, "TLS handshake: %s", bench_ssl_err());
	}
	pattern_init(&lim_pat, kind == LIM_MEM ? LIM_NAME : o->file);
	uint64_t got = 0, bad = 0;
	struct rusage ru0, ru1, rs;
	(void)getrusage(RUSAGE_SELF, &ru0);
	double t0 = now_s(), t1 = t0;
	while (got < o->size) {
		ssize_t r;
		if (kind == LIM_TOFILE && o->splice) {
			/* As ferryd stores a plain upload: socket -> pipe -> file. */
			r = lim_splice(mode, fd, pipefd, ofd, o->size - got);
			if (r <= 0)
				bench_fail(mode, "receiver: connection ended after %llu bytes",
					   (unsigned long long)got);
			got += (uint64_t)r;
			t1 = now_s();
			if (t1 - t0 > o->time_s)
				break;
			continue;
		}
		if (ssl) {
			int n = SSL_read(ssl, lim_buf, (int)LIM_BUF);
			r = n > 0 ? n : 0;
		} else {
			r = recv(fd, lim_buf, LIM_BUF, 0);
			if (r < 0 && errno == EINTR)
				continue;
		}
		if (r <= 0)
			bench_fail(mode, "receiver: connection ended after %llu bytes", (unsigned long long)got);
		if (kind == LIM_TOFILE) {
			/* As a server stores an upload: write(2), nothing checked. */
			for (ssize_t put = 0; put < r;) {
				ssize_t w = write(ofd, lim_buf + put, (size_t)(r - put));
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0)
					bench_fail(mode, "receiver: write %s: %s", o->file, strerror(errno));
				put += w;
			}
		} else if (pattern_check(&lim_pat, lim_buf, (size_t)r, &bad) != 0) {
			bench_fail(mode, "receiver: wrong byte at offset %llu", (unsigned long long)bad);
		}
		got += (uint64_t)r;
		t1 = now_s();
		if (t1 - t0 > o->time_s)
			break;
	}
	(void)getrusage(RUSAGE_SELF, &ru1);
	const char *cipher = ssl ? SSL_get_cipher_name(ssl) : "";
	const char *version = ssl ? SSL_get_version(ssl) : "";
	(void)close(fd); /* a sender stopped early gets EPIPE and exits */
	if (ofd >= 0) {
		(void)close(ofd);
		(void)unlink(o->file);
	}
	for (int i = 0; i < 2; i++)
		if (pipefd[i] >= 0)
			(void)close(pipefd[i]);
	int st = 0;
	memset(&rs, 0, sizeof(rs));
	(void)wait4(pid, &st, 0, &rs);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bench_fail(mode, "the sender process failed (status %d)", st);
	char f[400];
	double secs = t1 > t0 ? t1 - t0 : 1e-9;
	/* CPU seconds of the receiver over the window and of the whole sender
	 * process: which side limits the probe. */
	double rcpu = lim_tv(ru0.ru_utime, ru1.ru_utime) + lim_tv(ru0.ru_stime, ru1.ru_stime);
	double scpu = lim_tv((struct timeval){ 0, 0 }, rs.ru_utime) + lim_tv((struct timeval){ 0, 0 }, rs.ru_stime);
	(void)snprintf(f, sizeof(f),
		       "\"bytes\":%llu,\"seconds\":%.3f,\"mib_s\":%.1f,\"cipher\":\"%s\",\"version\":\"%s\","
		       "\"recv_cpu_s\":%.3f,\"send_cpu_s\":%.3f,\"cork\":%s,\"sndbuf\":%llu,\"splice\":%s",
		       (unsigned long long)got, secs, (double)got / secs / 1048576.0, cipher, version, rcpu, scpu,
		       kind == LIM_SENDFILE && o->cork ? "true" : "false",
		       kind == LIM_SENDFILE ? (unsigned long long)o->sndbuf : 0ull,
		       kind == LIM_TOFILE && o->splice ? "true" : "false");
	struct opts ro = *o;
	ro.tls = cctx != NULL;
	bench_result(&ro, mode, f);
	if (ssl)
		SSL_free(ssl);
	SSL_CTX_free(sctx);
	return 0;
}

int limits_tcp(const struct opts *o)
{
	return lim_receive("tcp-limit", o, NULL, LIM_MEM);
}

int limits_tcp_file(const struct opts *o)
{
	return lim_receive("tcp-limit-file", o, NULL, LIM_SENDFILE);
}

int limits_tcp_tofile(const struct opts *o)
{
	return lim_receive("tcp-limit-tofile", o, NULL, LIM_TOFILE);
}

int limits_tls(const struct opts *o)
{
	if (!o->cert || !o->key)
		bench_fail("tls-limit", "--cert and --key are required");
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	if (!c || SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1)
		bench_fail("tls-limit", "client TLS context: %s", bench_ssl_err());
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	int r = lim_receive("tls-limit", o, c, LIM_MEM);
	SSL_CTX_free(c);
	return r;
}

/* One thread's hashes: crypt_rn with the setting of a real hash, the way a
 * server checks a password, until count or time_s; the result must equal
 * the hash, so --pass is checked too. */
struct hash_run {
	const struct opts *o;
	uint64_t max, n;
	double secs;
	bool bad, nomem;
};

static void *hash_loop(void *arg)
{
	struct hash_run *h = arg;
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	if (!cd) {
		h->nomem = true;
		return NULL;
	}
	double t0 = now_s(), t1 = t0;
	while (h->n < h->max && (h->n == 0 || t1 - t0 < h->o->time_s)) {
		const char *r = crypt_rn(h->o->pass, h->o->hash, cd, (int)sizeof(*cd));
		if (!r || strcmp(r, h->o->hash) != 0) {
			h->bad = true;
			break;
		}
		h->n++;
		t1 = now_s();
	}
	h->secs = t1 - t0;
	free(cd);
	return NULL;
}

#define HASH_MAX_THREADS 64

/* The cost of one hash alone (one thread), then the machine's hash rate:
 * one thread per core, all hashing at once. The second is the limit: a
 * server that hashes on every core gets no more, and it is less than
 * cores x the first, as concurrent hashes share the caches and the memory
 * bandwidth (yescrypt uses 16 MiB per hash) and map and unmap their memory
 * in one address space, as a server's threads do. */
int limits_hash(const struct opts *o)
{
	if (!o->hash)
		bench_fail("hash", "--hash is required");
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (cores < 1 || cores > HASH_MAX_THREADS)
		bench_fail("hash", "%ld cores: 1 to %d supported", cores, HASH_MAX_THREADS);
	uint64_t max = o->count ? o->count : UINT64_MAX;
	struct hash_run one = { .o = o, .max = max };
	(void)hash_loop(&one);
	struct hash_run all[HASH_MAX_THREADS];
	pthread_t t[HASH_MAX_THREADS];
	for (long i = 0; i < cores; i++) {
		all[i] = (struct hash_run){ .o = o, .max = max };
		if (pthread_create(&t[i], NULL, hash_loop, &all[i]) != 0)
			bench_fail("hash", "cannot start a hashing thread");
	}
	uint64_t n = 0;
	double secs = 0;
	bool bad = one.bad, nomem = one.nomem;
	for (long i = 0; i < cores; i++) {
		(void)pthread_join(t[i], NULL);
		n += all[i].n;
		secs = all[i].secs > secs ? all[i].secs : secs;
		bad |= all[i].bad;
		nomem |= all[i].nomem;
	}
	if (nomem)
		bench_fail("hash", "out of memory");
	if (bad)
		bench_fail("hash", "crypt_rn of --pass does not reproduce --hash");
	double ms = one.secs * 1000 / (double)one.n;
	char f[256];
	(void)snprintf(f, sizeof(f),
		       "\"hashes\":%llu,\"ms_per_hash\":%.3f,\"cores\":%ld,\"limit_per_s\":%.1f,"
		       "\"parallel_hashes\":%llu,\"cores_x_one_per_s\":%.1f",
		       (unsigned long long)one.n, ms, cores, (double)n / secs, (unsigned long long)n,
		       (double)cores * 1000 / ms);
	bench_result(o, "hash", f);
	return 0;
}
