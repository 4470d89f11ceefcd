/* ferry-bench: load generator and machine-limit probes for the side-by-side
 * benchmark (bench/run). Not part of ferryd: it links only libc, OpenSSL and
 * libxcrypt, and it is built but never installed. */
#ifndef FERRY_BENCH_H
#define FERRY_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- test data: a deterministic stream per file name (pattern.c) -------- */

/* Content of a benchmark file: 4 KiB blocks of a PRNG stream seeded by the
 * file's base name; the first 8 bytes of block i are XORed with i, so a
 * block that is repeated, lost or moved is caught as well as a wrong byte. */
#define PATTERN_BLOCK 4096u

struct pattern {
	uint8_t block[PATTERN_BLOCK];
	uint64_t off; /* verifier: bytes checked so far */
};

/* Seeds p from the base name of path (what follows the last '/'). */
void pattern_init(struct pattern *p, const char *path);
/* Writes the n bytes at file offset off into buf. */
void pattern_fill(const struct pattern *p, uint64_t off, uint8_t *buf, size_t n);
/* Checks the next n bytes of the stream; returns 0, or -1 with *bad set to
 * the file offset of the first wrong byte. */
int pattern_check(struct pattern *p, const uint8_t *buf, size_t n, uint64_t *bad);

/* ---- options shared by every subcommand (common.c) ---------------------- */

struct opts {
	const char *host;
	unsigned port;
	const char *user;
	const char *pass;
	bool tls;
	bool pasv;	      /* PASV only (no EPSV) */
	double time_s;	      /* wall-clock bound of the measurement */
	double op_timeout_s;  /* one connection without progress for this long fails */
	unsigned clients;     /* logins: looping clients */
	uint64_t count;	      /* logins/files/list: iterations (0 = until time_s) */
	unsigned sessions;    /* idle */
	unsigned concurrency; /* idle: logins in flight */
	const char *dir;      /* files/list: remote directory */
	unsigned files;	      /* files: distinct files f00000.. in dir */
	uint64_t entries;     /* list: expected entries */
	const char *listing;  /* list: LIST, MLSD or both */
	bool wait_start;      /* list: print READY 1 once logged in, wait for a stdin line */
	uint64_t size;	      /* files/retr/stor/limits: bytes */
	unsigned streams;     /* retr/stor */
	const char *file;     /* retr: remote file; stor: remote name prefix */
	const char *cert, *key, *ciphersuite; /* tls-limit */
	bool cork;			      /* tcp-limit-file: TCP_CORK on the sender */
	uint64_t sndbuf;		      /* tcp-limit-file: SO_SNDBUF of the sender (0: autotuned) */
	bool splice;			      /* tcp-limit-tofile: splice(2) socket -> pipe -> file */
	const char *hash;		      /* hash: the setting to verify against */
	const char *label;		      /* copied into the JSON line */
};

/* Parses argv (after the subcommand) into o; exits 2 on a usage error. */
void opts_parse(struct opts *o, int argc, char **argv);

/* Monotonic seconds. */
double now_s(void);
/* Prints "ferry-bench: FAIL: ..." on stderr, a JSON line with "ok":false on
 * stdout, and exits 1. */
_Noreturn void bench_fail(const char *mode, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints one JSON result line: {"mode":..,"ok":true,"label":..,<fields>}.
 * fields is a preformatted list of "key":value pairs. */
void bench_result(const struct opts *o, const char *mode, const char *fields);
/* The oldest queued OpenSSL error (or errno) as text, for FAIL messages;
 * clears the queue. The string lives until the next call. */
const char *bench_ssl_err(void);
/* A TCP socket's state for a FAIL message (sockstate.c): "ESTABLISHED, 0
 * bytes received and not read, 0 sent and not acknowledged", or "closed". */
void bench_sock_state(int fd, char *out, size_t n);
/* Raises RLIMIT_NOFILE's soft limit to the hard limit. */
void bench_raise_nofile(void);
/* The value at quantile q (0..1) of v[0..n), which it sorts. */
double bench_quantile(double *v, size_t n, double q);

/* ---- subcommands --------------------------------------------------------- */
int loadgen_main(const char *mode, const struct opts *o);
int limits_tcp(const struct opts *o);
/* tcp-limit with the sender sendfile(2)ing --file from the page cache (as a
 * server's RETR), and with the receiver writing into --file (as a STOR). */
int limits_tcp_file(const struct opts *o);
int limits_tcp_tofile(const struct opts *o);
int limits_tls(const struct opts *o);
int limits_hash(const struct opts *o);
int pattern_gen(int argc, char **argv);
int pattern_verify(int argc, char **argv);

#endif
