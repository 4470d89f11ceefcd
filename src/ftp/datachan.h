/* datachan: one session's data connection: PASV/EPSV listener or PORT/EPRT
 * target, accept (from the control peer only) or connect, and the transfer
 * pump: one loop over a conn (plain, TLS under PROT P, RFC 2228 §6 blocks
 * under GSSAPI PROT S/P stacked on it, conn_sec.c), TYPE A converted on the
 * way (ascii.c), sendfile for binary RETR and splice for binary STOR where
 * the transport offers them. Non-blocking, on the session's loop. */
#ifndef FERRY_DATACHAN_H
#define FERRY_DATACHAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ascii.h"
#include "jobs.h"
#include "buf.h"
#include "conn.h"
#include "writebehind.h"
#include "loop.h"
#include "metrics.h"
#include "net.h"
#include "proto.h"
#include "quota.h"
#include "rate.h"

struct jobs;
struct list_feed;

struct datachan {
	struct loop *loop;
	struct sockaddr_storage ctl_local, ctl_peer; /* the control connection */
	uint16_t port_min, port_max;
	uint32_t timeout_ms;
	uint64_t sid; /* for logs */
	/* TLS (PROT P) */
	struct tls_ctx *tls_ctx;  /* borrowed from the session */
	struct tls_conn *ctl_tls; /* the control connection's TLS, for resumption checks */
	bool require_reuse;	  /* [tls] data_reuse = require */
	/* GSSAPI (PROT S/P under AUTH GSSAPI): RFC 2228 §6 wrapped blocks */
	struct gss_sess *gss; /* borrowed from the session */
	/* called once per datachan_start, on the loop */
	void (*done)(struct datachan *d, enum proto_xfer_status st, int err, uint64_t bytes);
	void *owner;		 /* for done(): the session */
	struct metrics *metrics; /* borrowed; NULL = not counted */
	/* [passive] proxy_protocol (enum proxy_mode, 0 = off): passive
	 * connections come from a balancer in proxy_from (borrowed from the
	 * session's config) with a PROXY header naming the client. */
	int proxy_mode;
	const struct config_cidr *proxy_from;
	size_t n_proxy_from;
	struct jobs *jobs; /* borrowed: a durable upload's write-behind and listings (list_feed.h) are
			    * made there; NULL = none, listings on the loop */
	/* Bandwidth (core/rate.h), borrowed, NULL = none: the session's own
	 * buckets and the server's ([limits] rate_down/rate_up, shared by
	 * every worker). A transfer moves what both grant; when they are
	 * empty it stops watching its socket and waits on rate_timer, so the
	 * worker's other sessions (and its own commands) go on. */
	struct rate_bucket *own_down, *own_up, *srv_down, *srv_up;

	/* private */
	int lfd;
	uint16_t lport; /* lfd's port */
	struct loop_watch lwatch, watch;
	struct loop_timer timer;
	struct loop_timer rate_timer; /* armed while the rate buckets are empty */
	struct quota_wait qwait;      /* an upload paused for a quota grant (core/quota.h GRANTS) */
	bool have_target, connecting, running;
	bool offered;	     /* a PASV/EPSV reply names lfd and no connection was taken for it */
	bool accepted_early; /* datachan_start took it: skip one listener event */
	struct ascii_rx rx;  /* TYPE A receive: a CR held between chunks */
	struct sockaddr_storage target;
	struct proto_xfer x;
	uint64_t off, bytes;
	struct writebehind wb; /* a durable upload's write-behind (core/writebehind.h) */
	struct buf out;
	bool list_done;
	/* a listing's chunks, made on the job pool */
	struct list_feed *feed;
	struct conn conn; /* the data connection: plain, or TLS under PROT P */
	struct conn sec;  /* RFC 2228 §6 blocks over conn (GSSAPI PROT S/P) */
	struct conn *top; /* what the pump reads and writes: &conn or &sec */
	bool hdr_wait;	  /* conn is a passive connection still sending its PROXY header */
	struct net_proxy_reader hdr;
	enum { DC_OPEN, DC_HANDSHAKE, DC_SHUTDOWN, DC_DRAIN } tstate;
};

void datachan_init(struct datachan *d);
/* Closes the listener/connection (no callback). */
void datachan_reset(struct datachan *d);
/* PASV/EPSV: listens on a port from the range on the control connection's
 * local address; *port is the port. */
int datachan_passive(struct datachan *d, uint16_t *port);
/* PORT/EPRT: the next transfer connects to target. */
void datachan_active(struct datachan *d, const struct sockaddr_storage *target);
/* Runs x; done() reports the outcome. */
void datachan_start(struct datachan *d, const struct proto_xfer *x);
/* Stops a running transfer: done(XFER_ABORTED). */
void datachan_abort(struct datachan *d);
bool datachan_running(const struct datachan *d);
uint64_t datachan_bytes(const struct datachan *d);

#endif
