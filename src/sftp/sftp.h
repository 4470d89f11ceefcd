/* sftp: the SFTP front-end (SSH through libssh, SFTP version 3) as the
 * server layer sees it: the host keys read at start, one host per worker
 * (its event loop, job pool, limits, counters and sessions) and the
 * sessions started on accepted sockets. A session never changes thread.
 * Built without libssh (-Dsftp=disabled), sftp_none.c stands in and
 * refuses the [sftp] keys. */
#ifndef FERRY_SFTP_H
#define FERRY_SFTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config.h"
#include "userstore.h"

struct loop;
struct jobs;
struct guard;
struct metrics;
struct hooks;
struct rate_bucket;
struct hash_limit;
struct sftp_keys;
struct sftp_session;
struct sessions;

/* What a worker lends its SFTP sessions (as ftp/'s session_host). */
struct sftp_host {
	struct loop *loop;
	struct jobs *jobs;
	struct guard *guard;	  /* NULL = no [limits] */
	struct quota_book *quota; /* users' quotas (core/quota.h); NULL = none */
	struct metrics *metrics;  /* NULL = not counted */
	struct hooks *hooks;	  /* NULL = no [hooks] */
	void *bind;		  /* this worker's ssh_bind (sftp_host_init) */
	struct sftp_session *head;
	size_t count;
	/* The worker's sessions of every protocol (core/sessions.h). */
	struct sessions *reg;
	/* [limits] rate_down/rate_up, the server's buckets (core/rate.h); NULL = none */
	struct rate_bucket *rate_down, *rate_up;
	/* [limits] hash_jobs (check-file), shared by all workers; NULL = none */
	struct hash_limit *hashlim;
	/* Called on the loop after a session closed (count already lowered). */
	void (*closed)(struct sftp_host *h);
	/* Set by the host around sftp_session_start when the connection takes
	 * the server past [server] max_sessions: once [limits] admitted it,
	 * make_room(h) must evict a session not logged in (of any protocol),
	 * or it is refused. */
	bool room_needed;
	bool (*make_room)(struct sftp_host *h);
};

/* The build's config check (buildinfo.c): nonzero when c sets an [sftp]
 * key this build cannot serve (sftp_none.c); 0 here. */
int sftp_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz);

/* Reads [sftp] host_keys, or the default key (sftp_keys_default_path),
 * generating it once when it does not exist: a new ed25519 key written
 * with mode 0600 and given to uid/gid ((uid_t)-1: kept). Called as root
 * before the privilege drop; logs each key's SHA256 fingerprint. *out is
 * the caller's (sftp_keys_free). 0, or -errno with the reason in err. */
int sftp_keys_load(const struct config *cfg, uid_t uid, gid_t gid, struct sftp_keys **out, char *err, size_t errsz);
void sftp_keys_free(struct sftp_keys *k);
/* Where the generated key lives: ssh_host_ed25519_key in the state
 * directory, the directory of [store] sqlite (/var/lib/ferry by default). */
int sftp_keys_default_path(const struct config *cfg, char *out, size_t outsz);

/* ferry user key add: one OpenSSH public key line (len bytes, see
 * sftp_keyline.h) read with libssh (ssh_pki_import_pubkey_base64) into
 * *out (the caller's: user_key_free), its fingerprint computed. Refused:
 * a malformed line, an unknown key type, DSA, certificates, RSA shorter
 * than 2048 bits, a key that is not what the line's type says. 0, or
 * -EINVAL with the reason in err; -ENOTSUP in a build without libssh
 * (sftp_none.c). */
int sftp_pubkey_parse(const char *line, size_t len, struct user_key *out, char *err, size_t errsz);

/* Prepares h's SSH server side with keys (borrowed; outlive h). The other
 * fields are the caller's. 0, or -errno with err. */
int sftp_host_init(struct sftp_host *h, const struct sftp_keys *keys, char *err, size_t errsz);
/* After every session of h has gone. */
void sftp_host_fini(struct sftp_host *h);

/* Starts a session on an accepted socket (takes fd and a reference to
 * cfg). refuse: the connection is logged and closed at once (a server
 * limit); [limits] are applied here. */
void sftp_session_start(struct sftp_host *h, const struct config *cfg, int fd, const struct sockaddr_storage *peer,
			uint64_t id, const char *refuse);
/* Shutdown deadline: closes the host's sessions (SSH disconnect first). */
void sftp_host_close_all(struct sftp_host *h);
/* The drain deadline (server/worker.c): closes the host's sessions as
 * sftp_host_close_all, except one whose durable CLOSE (or
 * fsync@openssh.com) runs on the job pool: it answers no other request,
 * and once the job has ended sends that reply (OK, or FAILURE when the
 * commit failed) and closes. Returns how many sessions wait so (each logs
 * that it does). */
size_t sftp_host_drain_end(struct sftp_host *h);

#endif
