/* ferry-bench: subcommand dispatch, options, result lines. */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char bench_usage[] =
	"usage: ferry-bench MODE [options]\n"
	"FTP load (one process, epoll; every byte checked, any unexpected reply fails):\n"
	"  logins   --clients 32 [--count K] --time T      connect/USER/PASS/QUIT in a loop\n"
	"  idle     --sessions N [--concurrency C] --time T  log N sessions in, print READY n, hold\n"
	"                                                    until stdin EOF, SIGTERM or T; NOOP, QUIT\n"
	"  files    --dir D --files F [--size 4096] [--count M] --time T   EPSV+RETR D/fNNNNN\n"
	"  list     --dir D --entries E [--count K] [--listing LIST|MLSD|both] --time T\n"
	"           [--wait-start]                           LIST and/or MLSD of D, entries counted;\n"
	"                                                    --wait-start: READY 1 after login, then\n"
	"                                                    wait for a line on stdin\n"
	"  retr     --file PATH --size S [--streams N]        parallel downloads of one file\n"
	"  stor     --file PREFIX --size S [--streams N]      uploads PREFIX-0..N-1\n"
	"  common:  --host 127.0.0.1 --port P --user U --pass W [--tls] [--pasv] [--op-timeout 30]\n"
	"           [--label TEXT]\n"
	"Machine limits:\n"
	"  tcp-limit  --size S [--time T]                  loopback TCP, sender -> verifying receiver\n"
	"  tcp-limit-file --file PATH --size S [--time T] [--cork] [--sndbuf B]\n"
	"                                                  the sender sendfile()s PATH (made by gen)\n"
	"  tcp-limit-tofile --file PATH --size S [--time T] [--splice]\n"
	"                                                  the receiver stores into PATH (then removed)\n"
	"  tls-limit  --size S --cert C --key K [--ciphersuite TLS_AES_128_GCM_SHA256]\n"
	"  hash       --hash SETTING --pass W [--count N] --time T   crypt_rn cost\n"
	"Test data:\n"
	"  gen PATH SIZE | verify PATH SIZE\n";

double now_s(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

_Noreturn void bench_fail(const char *mode, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ferry-bench: FAIL: %s: %s\n", mode, msg);
	/* The message goes into JSON: keep it printable and quote-free. */
	for (char *c = msg; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = '\'';
	printf("{\"mode\":\"%s\",\"ok\":false,\"error\":\"%s\"}\n", mode, msg);
	fflush(stdout);
	exit(1);
}

void bench_result(const struct opts *o, const char *mode, const char *fields)
{
	printf("{\"mode\":\"%s\",\"ok\":true,\"tls\":%s,\"label\":\"%s\",%s}\n", mode, o->tls ? "true" : "false",
	       o->label ? o->label : "", fields);
	fflush(stdout);
}

const char *bench_ssl_err(void)
{
	static char b[160];
	unsigned long e = ERR_get_error();
	if (!e)
		return errno ? strerror(errno) : "no error detail";
	ERR_error_string_n(e, b, sizeof(b));
	ERR_clear_error();
	return b;
}

void bench_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_quantile(double *v, size_t n, double q)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_double);
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static uint64_t opts_u64(const char *name, const char *s)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-') {
		fprintf(stderr, "ferry-bench: --%s: not a number: %s\n", name, s);
		exit(2);
	}
	return v;
}

static double opts_double(const char *name, const char *s)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "ferry-bench: --%s: not a duration: %s\n", name, s);
		exit(2);
	}
	return v;
}

static unsigned opts_uint(const char *name, const char *s, unsigned max)
{
	uint64_t v = opts_u64(name, s);
	if (v > max) {
		fprintf(stderr, "ferry-bench: --%s: at most %u\n", name, max);
		exit(2);
	}
	return (unsigned)v;
}

void opts_parse(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", 1, NULL, 'h' },	    { "port", 1, NULL, 'p' },	      { "user", 1, NULL, 'u' },
		{ "pass", 1, NULL, 'w' },	    { "tls", 0, NULL, 'T' },	      { "pasv", 0, NULL, 'P' },
		{ "time", 1, NULL, 't' },	    { "op-timeout", 1, NULL, 'o' },   { "clients", 1, NULL, 'c' },
		{ "count", 1, NULL, 'n' },	    { "sessions", 1, NULL, 's' },     { "concurrency", 1, NULL, 'C' },
		{ "dir", 1, NULL, 'd' },	    { "files", 1, NULL, 'F' },	      { "entries", 1, NULL, 'e' },
		{ "size", 1, NULL, 'S' },	    { "streams", 1, NULL, 'N' },      { "file", 1, NULL, 'f' },
		{ "cert", 1, NULL, 'x' },	    { "key", 1, NULL, 'k' },	      { "ciphersuite", 1, NULL, 'z' },
		{ "hash", 1, NULL, 'H' },	    { "label", 1, NULL, 'L' },	      { "listing", 1, NULL, 'l' },
		{ "wait-start", 0, NULL, 'W' },	    { "cork", 0, NULL, 'K' },	      { "sndbuf", 1, NULL, 'B' },
		{ "splice", 0, NULL, 'Y' },
		{ NULL, 0, NULL, 0 },
	};
	*o = (struct opts){ .host = "127.0.0.1",
			    .port = 21,
			    .user = "bench",
			    .pass = "",
			    .time_s = 10,
			    .op_timeout_s = 30,
			    .clients = 32,
			    .sessions = 100,
			    .concurrency = 64,
			    .dir = ".",
			    .files = 100,
			    .size = 4096,
			    .streams = 1,
			    .file = "big.bin",
			    .ciphersuite = "TLS_AES_128_GCM_SHA256",
			    .label = "",
			    .listing = "both" };
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'h': o->host = optarg; break;
		case 'p': o->port = opts_uint("port", optarg, 65535); break;
		case 'u': o->user = optarg; break;
		case 'w': o->pass = optarg; break;
		case 'T': o->tls = true; break;
		case 'P': o->pasv = true; break;
		case 't': o->time_s = opts_double("time", optarg); break;
		case 'o': o->op_timeout_s = opts_double("op-timeout", optarg); break;
		case 'c': o->clients = opts_uint("clients", optarg, 100000); break;
		case 'n': o->count = opts_u64("count", optarg); break;
		case 's': o->sessions = opts_uint("sessions", optarg, 1000000); break;
		case 'C': o->concurrency = opts_uint("concurrency", optarg, 100000); break;
		case 'd': o->dir = optarg; break;
		case 'F': o->files = opts_uint("files", optarg, 100000); break;
		case 'e': o->entries = opts_u64("entries", optarg); break;
		case 'S': o->size = opts_u64("size", optarg); break;
		case 'N': o->streams = opts_uint("streams", optarg, 1024); break;
		case 'f': o->file = optarg; break;
		case 'x': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 'z': o->ciphersuite = optarg; break;
		case 'H': o->hash = optarg; break;
		case 'L': o->label = optarg; break;
		case 'l': o->listing = optarg; break;
		case 'W': o->wait_start = true; break;
		case 'K': o->cork = true; break;
		case 'B': o->sndbuf = opts_uint("sndbuf", optarg, 1u << 30); break;
		case 'Y': o->splice = true; break;
		default: fputs(bench_usage, stderr); exit(2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "ferry-bench: unexpected argument: %s\n%s", argv[optind], bench_usage);
		exit(2);
	}
	for (const char *l = o->label; *l; l++) {
		if (*l == '"' || *l == '\\' || (unsigned char)*l < 0x20) {
			fprintf(stderr, "ferry-bench: --label: no quotes, backslashes or control characters\n");
			exit(2);
		}
	}
	if (strcmp(o->listing, "both") != 0 && strcmp(o->listing, "LIST") != 0 && strcmp(o->listing, "MLSD") != 0) {
		fprintf(stderr, "ferry-bench: --listing: LIST, MLSD or both\n");
		exit(2);
	}
	if (o->clients == 0 || o->sessions == 0 || o->concurrency == 0 || o->streams == 0 || o->files == 0) {
		fprintf(stderr, "ferry-bench: counts must be at least 1\n");
		exit(2);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(bench_usage, stderr);
		return 2;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "gen") == 0)
		return pattern_gen(argc - 1, argv + 1);
	if (strcmp(mode, "verify") == 0)
		return pattern_verify(argc - 1, argv + 1);
	struct opts o;
	opts_parse(&o, argc - 1, argv + 1);
	bench_raise_nofile();
	if (strcmp(mode, "tcp-limit") == 0)
		return limits_tcp(&o);
	if (strcmp(mode, "tcp-limit-file") == 0)
		return limits_tcp_file(&o);
	if (strcmp(mode, "tcp-limit-tofile") == 0)
		return limits_tcp_tofile(&o);
	if (strcmp(mode, "tls-limit") == 0)
		return limits_tls(&o);
	if (strcmp(mode, "hash") == 0)
		return limits_hash(&o);
	if (strcmp(mode, "logins") == 0 || strcmp(mode, "idle") == 0 || strcmp(mode, "files") == 0 ||
	    strcmp(mode, "list") == 0 || strcmp(mode, "retr") == 0 || strcmp(mode, "stor") == 0)
		return loadgen_main(mode, &o);
	fprintf(stderr, "ferry-bench: unknown mode: %s\n%s", mode, bench_usage);
	return 2;
}
