/* config: one INI file (libinih) → an immutable struct config.
 * Every key is a row in a table in config_table.c (section, key, type, range,
 * default, help); etc/ferry.conf documents each one. A reload builds a new
 * struct and swaps the current snapshot; sessions keep the one they started
 * with until they end. */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTEN 16

struct config_listen {
	char host[64]; /* numeric IPv4 or IPv6 address, without brackets */
	uint16_t port;
};

/* A network of [server] proxy_from: family 4 or 6, the address (IPv4 in the
 * first 4 bytes) with no bit set past the prefix length. */
#define CONFIG_MAX_CIDRS 32
struct config_cidr {
	uint8_t family;
	uint8_t bits;
	uint8_t addr[16];
};

/* A [host NAME] section (RFC 7151 HOST and TLS SNI select it): its own
 * users (stored under user_key(): "NAME:HOST"), banner, certificate and
 * limits. Names are lower case; aliases is "" or comma-separated. */
#define CONFIG_MAX_VHOSTS 16
#define CONFIG_VHOST_NAME_MAX 127
struct config_vhost {
	char name[CONFIG_VHOST_NAME_MAX + 1]; /* the section's NAME: the canonical host name */
	char aliases[512];		      /* further names HOST and SNI match */
	char banner[256];		      /* reply text of HOST's 220; "" = [server] banner */
	char tls_cert[1024];		      /* "" = the [tls] certificates answer */
	char tls_key[1024];
	unsigned max_per_user; /* logged-in sessions per user of this host; 0 = [limits] max_per_user */
	unsigned line;	       /* of the [host NAME] header, for messages */
};

struct config {
	atomic_uint refs;
	char path[PATH_MAX]; /* the file it was read from ("" for built-in defaults) */

	/* [server] */
	struct config_listen listen[CONFIG_MAX_LISTEN];
	size_t n_listen;
	char run_as[64];	   /* service user when started as root */
	unsigned workers;	   /* event-loop threads; 0 = one per CPU */
	unsigned jobs;		   /* blocking-work threads (hashing, database) */
	unsigned io_jobs;	   /* disk-bound work's own threads (fsync, clean-up) */
	char banner[256];	   /* text of the 220 greeting */
	size_t max_line;	   /* longest command line accepted, bytes */
	uint32_t idle_timeout_ms;  /* no command and no transfer → 421 */
	uint32_t login_timeout_ms; /* not logged in after this long → 421 */
	uint32_t login_fail_delay_ms;
	unsigned max_login_failures; /* per connection; then 530 + 421 + close */
	uint32_t drain_timeout_ms;   /* SIGTERM: sessions get this long to finish */
	unsigned max_sessions;	     /* whole server; over it → 421 at connect */
	/* PROXY protocol on control connections (enum proxy_mode: 0 off, 1 v1,
	 * 2 v2, 3 any), accepted only from proxy_from, read within proxy_timeout */
	int proxy_protocol;
	struct config_cidr proxy_from[CONFIG_MAX_CIDRS];
	size_t n_proxy_from;
	uint32_t proxy_timeout_ms;
	/* [limits]: abuse limits (guard.h); 0 turns a limit off where allowed */
	unsigned max_per_ip, max_per_user, connect_rate, connect_burst, prelogin_commands, ban_failures;
	unsigned hash_jobs; /* [limits] hash_jobs: HASH/XCRC/check-file running at once per user */
	uint32_t ban_window_ms, ban_time_ms, ban_max_ms;
	/* [limits] quota_grant_expiry: how long a node's quota grant counts
	 * in the store unless renewed (core/quota.h GRANTS); read at start */
	uint32_t quota_grant_expiry_ms;
	/* [limits] rate_down, rate_up: the whole server's transfer rates, bytes/s,
	 * shared by all sessions (core/rate.h); 0 = unlimited */
	uint64_t rate_down, rate_up;

	/* [store] */
	char store_backend[16];	    /* "sqlite" or "postgres" (set by [store] postgres) */
	char sqlite_path[PATH_MAX]; /* absolute after loading */
	char pg_conninfo[512];	    /* libpq connection string or URI; "" = not set */

	/* [passive] */
	uint16_t pasv_port_min, pasv_port_max;
	char pasv_address[64];	 /* advertised; "" = control connection's local address */
	int pasv_proxy_protocol; /* PROXY protocol on data connections (as proxy_protocol) */

	/* [transfer] */
	int atomic_uploads;	  /* 1: STOR goes to a temporary renamed into place */
	uint32_t data_timeout_ms; /* data connection set-up and stall timeout */
	uint32_t commit_grace_us; /* a plain upload's EOF waits this long (µs) for a closing control connection */
	uint32_t partial_keep_ms; /* interrupted atomic uploads stay resumable this long; 0 = discarded */
	int xfer_fsync;		  /* 1: a committed upload is fsync'ed (file, directory) before its 226 */

	/* [tls] */
	char tls_cert[1024];				      /* comma-separated PEM certificate files ("" = no TLS) */
	char tls_key[1024];				      /* matching private keys, same order */
	struct config_listen tls_implicit[CONFIG_MAX_LISTEN]; /* implicit FTPS listeners */
	size_t n_tls_implicit;
	int tls_data_reuse;	    /* 1 = require (default), 0 = off */
	int tls_required;	    /* 0 none, 1 login, 2 data, 3 all */
	int tls_min_version;	    /* 0 = TLS 1.2, 1 = TLS 1.3 */
	char tls_ticket_keys[1024]; /* comma-separated 80-byte key files, the first encrypts ("" = per process) */
	int tls_ktls;		    /* 0 = off, 1 = auto (default): kernel TLS on data connections */

	/* [otp] */
	int otp_challenge_336;	   /* 0: 331 "Response to otp-md5 ..." (default), 1: 336 */
	int otp_unknown_challenge; /* 1: unknown users get a made-up OTP challenge */
	/* [gssapi] (RFC 2228 App. I) */
	char gss_keytab[1024]; /* "" = AUTH GSSAPI off (a path list of at most one entry) */
	char gss_service[64];  /* keytab principals service/HOST@REALM are used */
	int gss_required;      /* 1: after ADAT, plaintext commands get 533 until CCC */

	/* [sandbox] */
	char sandbox_roots[1024]; /* comma-separated directories holding every home; "" = derived at
				   * start from the user store (daemon.c fills in what it derived) */
	int sandbox_landlock;	  /* enum sandbox_mode: 0 off, 1 auto, 2 require */
	int sandbox_seccomp;	  /* enum sandbox_mode */

	/* [log] */
	int log_target;		/* enum log_target */
	int log_level;		/* enum log_level */
	char log_xferlog[1024]; /* "" = off (a path list of at most one entry); reopened on SIGUSR1 */
	char log_json[1024];	/* "" = off */

	/* [metrics] */
	struct config_listen metrics_listen[1]; /* Prometheus endpoint */
	size_t n_metrics_listen;		/* 0 = off */

	/* [hooks] (read at start) */
	char hooks_upload_exec[1024]; /* "" = none */
	char hooks_upload_url[512];   /* "" = none */
	uint32_t hooks_timeout_ms;
	unsigned hooks_concurrency;

	/* [sftp] (src/sftp/; read at start) */
	struct config_listen sftp_listen[CONFIG_MAX_LISTEN]; /* SSH/SFTP listeners; none = SFTP off */
	size_t n_sftp_listen;
	char sftp_host_keys[1024]; /* comma-separated private key files; "" = one ed25519 key generated
				    * once in the state directory (the directory of [store] sqlite) */

	/* [admin] */
	char admin_socket[1024]; /* "" = no admin socket (ferry status/kick) */

	/* [host NAME] sections (config_host.c), in file order */
	struct config_vhost vhosts[CONFIG_MAX_VHOSTS];
	size_t n_vhosts;
};

/* The [host] section whose name or alias is name (case-insensitive), or NULL. */
const struct config_vhost *config_vhost_find(const struct config *c, const char *name);
/* True if name is a valid host name for HOST, SNI and [host NAME]: 1-127
 * characters of letters, digits, '.', '-' (no ':' or '/': see user_key). */
bool config_vhost_name_valid(const char *name);

/* Built-in defaults (no file). Returns ownership (refs = 1). */
struct config *config_new_default(void);

/* Reads and validates path. On success *out owns a new config (refs = 1) and
 * 0 is returned. On failure returns -EINVAL (or -errno for I/O) and writes one
 * clear message to err, of the form "FILE:LINE: [section] key: what is wrong"
 * (or "FILE: ..." when no line applies). Relative paths inside the file are
 * resolved against the file's directory. */
int config_load(const char *path, struct config **out, char *err, size_t errsz);

/* config_load plus the build's own check (buildinfo.c: keys asking for a
 * part this build leaves out): check returns nonzero with the key's section
 * and name and why, reported as "FILE:LINE: [section] key: why". NULL: none. */
typedef int config_check_fn(const struct config *c, const char **section, const char **key, char *why, size_t whysz);
int config_load_checked(const char *path, config_check_fn *check, struct config **out, char *err, size_t errsz);

/* Reference counting: config_ref returns c; config_unref frees at zero. */
const struct config *config_ref(const struct config *c);
void config_unref(const struct config *c);

/* The current snapshot (one of the two permitted globals). config_current()
 * returns a new reference the caller must config_unref(). config_set_current
 * takes ownership of c's reference and drops the previous snapshot's. */
const struct config *config_current(void);
void config_set_current(struct config *c);

/* Writes "host:port" / "[v6]:port" for listen entry i. */
void config_listen_format(const struct config_listen *l, char *out, size_t outsz);

#endif
