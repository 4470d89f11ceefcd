/* sftp_ssh: the SSH connection of an SFTP session, driven by the worker's
 * own event loop (no thread or process per connection).
 *
 * libssh runs non-blocking on the accepted socket: the loop watches the fd
 * and, when it is ready, drive() lets libssh read and write with
 * ssh_event_dopoll(.., 0) (a poll() that never waits) until the socket has
 * nothing more, then takes the messages libssh queued (authentication,
 * channel open and channel requests: answered here, or later for a
 * password that waits for the job pool) and moves SFTP bytes between the
 * channel and the SFTP server (sftp_server.c). libssh's callbacks only
 * record (channel bytes into s->in, EOF, close): everything is acted on
 * from drive(), never from inside libssh, so no callback re-enters
 * the session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "net.h"
#include "sftp_codec.h"
#include "sftp_impl.h"
#include "util.h"

/* Unconsumed SFTP input held here; more waits in libssh's channel buffer
 * and then in the client, held back by the channel window. */
#define IN_MAX (1024u * 1024u)
/* Replies are made while less than OUT_HIGH waits to go out. */
#define OUT_HIGH (512u * 1024u)
#define OUT_MAX (OUT_HIGH + SFTP_MAX_PACKET + 64u * 1024u)
/* Per wake-up: poll rounds (4 KiB each in libssh) and SFTP requests, then
 * the loop's other sessions get their turn. */
#define DRIVE_ROUNDS 64
#define DRIVE_REQUESTS 64u

/* Modern algorithms only (README): curve25519 key exchange (libssh 0.10.6
 * adds the strict key exchange of the Terrapin fix itself), ed25519 (or
 * RSA with SHA-2) host keys, AEAD ciphers first, then CTR with SHA-2 MACs,
 * encrypt-then-MAC first; the plain SHA-2 MACs after them are for libssh2
 * 1.10 (curl's sftp:// in Debian 12), which knows no ETM and no AEAD. */
#define SFTP_KEX "curve25519-sha256,curve25519-sha256@libssh.org"
#define SFTP_CIPHERS "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes128-ctr"
#define SFTP_MACS "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
#define SFTP_HOSTKEYS "ssh-ed25519,rsa-sha2-512,rsa-sha2-256"

int sftp_host_init(struct sftp_host *h, const struct sftp_keys *keys, char *err, size_t errsz)
{
	ssh_bind b = ssh_bind_new();
	bool no = false;
	if (!b) {
		(void)snprintf(err, errsz, "sftp: cannot create the SSH server (out of memory)");
		return -ENOMEM;
	}
	/* No system-wide libssh configuration: what is served is what ferryd
	 * says (and nothing is read from disk after the sandbox). */
	int min = RSA_MIN_BITS;
	int r = ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no);
	if (r == 0)
		r = ssh_bind_options_set(b, SSH_BIND_OPTIONS_RSA_MIN_SIZE, &min);
	const struct {
		enum ssh_bind_options_e opt;
		const char *v;
	} opts[] = {
		{ SSH_BIND_OPTIONS_KEY_EXCHANGE, SFTP_KEX },	{ SSH_BIND_OPTIONS_CIPHERS_C_S, SFTP_CIPHERS },
		{ SSH_BIND_OPTIONS_CIPHERS_S_C, SFTP_CIPHERS }, { SSH_BIND_OPTIONS_HMAC_C_S, SFTP_MACS },
		{ SSH_BIND_OPTIONS_HMAC_S_C, SFTP_MACS },	{ SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, SFTP_HOSTKEYS },
		{ SSH_BIND_OPTIONS_BANNER, "Ferry" },
	};
	for (size_t i = 0; r == 0 && i < ARRAY_LEN(opts); i++)
		r = ssh_bind_options_set(b, opts[i].opt, opts[i].v);
	for (size_t i = 0; r == 0 && i < keys->n; i++) {
		/* The bind owns what it imports: each worker its own copy. */
		ssh_key k = ssh_key_dup(keys->keys[i]);
		r = k ? ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, k) : -1;
	}
	if (r != 0) {
		(void)snprintf(err, errsz, "sftp: cannot set up the SSH server: %s", ssh_get_error(b));
		ssh_bind_free(b);
		return -EINVAL;
	}
	h->bind = b;
	return 0;
}

void sftp_host_fini(struct sftp_host *h)
{
	if (h->bind)
		ssh_bind_free(h->bind);
	h->bind = NULL;
}

static void drive(struct sftp_session *s);
static void session_close(struct sftp_session *s, const char *why);
static void session_free(struct sftp_session *s);

static void drive_deferred(void *p)
{
	drive(p);
}

static void proxy_begin(struct sftp_session *s, const struct sockaddr_storage *client, const char *refuse,
			bool room_needed);

static const struct sftp_conn_ops conn_ops = {
	.close = session_close, .drive = drive, .free = session_free, .begin = proxy_begin
};

/* ---- channel callbacks: record only (see the top of this file) ---- */

static int on_chan_data(ssh_session ssh, ssh_channel ch, void *data, uint32_t len, int is_stderr, void *arg)
{
	struct sftp_chan *c = arg;
	struct sftp_session *s = c->s;
	if (is_stderr || s->closed)
		return (int)len; /* a client's stderr means nothing to SFTP */
	if (ch != s->chan) {
		/* Before SFTP starts on it (its INIT may come right behind
		 * the subsystem request): libssh keeps it, within the window. */
		c->pending = len;
		return 0;
	}
	/* Taken as far as s->in has room; libssh keeps the rest (and opens
	 * the window no further), pulled once there is room (pull_input). */
	size_t take = buf_room(&s->in) < len ? buf_room(&s->in) : len;
	if (take && buf_append(&s->in, data, take) != 0)
		take = 0;
	s->chan_pending = len - take;
	return (int)take;
}

static void on_chan_eof(ssh_session ssh, ssh_channel ch, void *arg)
{
	struct sftp_chan *c = arg;
	c->eof = true;
	if (ch == c->s->chan)
		c->s->chan_eof = true;
}

static void on_chan_close(ssh_session ssh, ssh_channel ch, void *arg)
{
	struct sftp_chan *c = arg;
	c->closed = true;
	if (ch == c->s->chan)
		c->s->chan_closed = true;
}

/* ---- closing ---- */

static void session_free(struct sftp_session *s)
{
	buf_free(&s->in);
	buf_free(&s->out);
	free(s->user);
	free(s->home);
	config_unref(s->cfg);
	free(s);
}

static void free_deferred(void *p)
{
	session_free(p);
}

static void session_close(struct sftp_session *s, const char *why)
{
	if (s->closed)
		return;
	s->closed = true;
	struct sftp_host *h = s->host;
	if (s->srv) {
		sftp_server_free(s->srv, true);
		s->srv = NULL;
	}
	if (s->prev)
		s->prev->next = s->next;
	else
		h->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->count--;
	sessions_remove(h->reg, &s->reg);
	if (s->guarded)
		guard_disconnect(h->guard, &s->gkey);
	sftp_auth_release(s);
	loop_timer_cancel(h->loop, &s->login_timer);
	loop_timer_cancel(h->loop, &s->idle_timer);
	loop_timer_cancel(h->loop, &s->delay_timer);
	loop_timer_cancel(h->loop, &s->rate_timer);
	int fd = s->watch.fd;
	if (fd >= 0)
		loop_watch_forget(h->loop, &s->watch); /* libssh closes the socket below */
	if (fd >= 0 && !s->ssh)
		(void)close(fd); /* no SSH yet (waiting for the PROXY header) */
	sftp_proxy_free(s->pp);
	s->pp = NULL;
	if (s->ssh) {
		if (ssh_is_connected(s->ssh))
			ssh_disconnect(s->ssh); /* a DISCONNECT message, then the socket closes */
		s->chan = NULL;			/* the channels are freed with the session */
		memset(s->chans, 0, sizeof(s->chans));
		if (s->ev)
			ssh_event_free(s->ev);
		ssh_free(s->ssh);
		s->ssh = NULL;
		s->ev = NULL;
	}
	if (s->begun) { /* else not logged as a connection either (PROXY header refused) */
		log_info(s->id, "disconnect: ip=%s protocol=sftp%s%s", s->peer, why ? " reason=" : "", why ? why : "");
		LOG_JSON(s->id, "disconnect", LOG_FS("ip", s->peer), LOG_FS("protocol", "sftp"));
	}
	h->closed(h);
	/* A password check in flight refers to s: it frees s when it returns. */
	if (s->job)
		sftp_auth_cancel(s);
	else
		loop_defer(h->loop, free_deferred, s);
}

void sftp_host_close_all(struct sftp_host *h)
{
	while (h->head)
		session_close(h->head, "shutdown");
}

size_t sftp_host_drain_end(struct sftp_host *h)
{
	size_t waiting = 0;
	struct sftp_session *next;
	for (struct sftp_session *s = h->head; s; s = next) {
		next = s->next; /* session_close closes s only */
		const char *what, *path;
		if (!s->srv || !sftp_server_syncing(s->srv, &what, &path)) {
			session_close(s, "shutdown");
			continue;
		}
		/* As FTP's (session_host_drain_end): the job cannot be stopped
		 * midway and ferryd waits for it anyway; only its reply would be
		 * lost. serve() answers that request alone, then closes. */
		struct log_escaped esc;
		s->drain_end = true;
		waiting++;
		log_info(s->id,
			 "shutdown: waiting for the %s of \"%s\" protocol=sftp; its reply goes out, then the "
			 "session closes",
			 what, log_esc(slice_from_cstr(path), &esc));
	}
	return waiting;
}

/* ---- messages: channels and their requests ---- */

static struct sftp_chan *chan_slot(struct sftp_session *s, ssh_channel ch)
{
	for (size_t i = 0; i < ARRAY_LEN(s->chans); i++)
		if (s->chans[i].ch == ch)
			return &s->chans[i];
	return NULL;
}

static void channel_open(struct sftp_session *s, ssh_message msg)
{
	/* SECURITY: session channels only, after login, a few at a time and
	 * none once SFTP runs (one SFTP channel per connection): no
	 * direct-tcpip or forwarded-tcpip (port forwarding), no x11. A client
	 * may open the next before it closes one whose request was refused
	 * (paramiko does), so more than one is taken. */
	struct sftp_chan *c = chan_slot(s, NULL);
	if (!s->logged_in || s->srv || !c || ssh_message_subtype(msg) != SSH_CHANNEL_SESSION) {
		log_info(s->id, "sftp: channel refused: ip=%s type=%d", s->peer, ssh_message_subtype(msg));
		(void)ssh_message_reply_default(msg);
		return;
	}
	ssh_channel ch = ssh_message_channel_request_open_reply_accept(msg);
	if (!ch)
		return;
	memset(c, 0, sizeof(*c));
	c->s = s;
	c->ch = ch;
	c->cb.userdata = c;
	c->cb.channel_data_function = on_chan_data;
	c->cb.channel_eof_function = on_chan_eof;
	c->cb.channel_close_function = on_chan_close;
	ssh_callbacks_init(&c->cb);
	(void)ssh_set_channel_callbacks(ch, &c->cb);
}

static const char *request_name(int subtype)
{
	switch (subtype) {
	case SSH_CHANNEL_REQUEST_PTY:
		return "pty";
	case SSH_CHANNEL_REQUEST_EXEC:
		return "exec";
	case SSH_CHANNEL_REQUEST_SHELL:
		return "shell";
	case SSH_CHANNEL_REQUEST_ENV:
		return "env";
	case SSH_CHANNEL_REQUEST_SUBSYSTEM:
		return "subsystem";
	case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
		return "window-change";
	case SSH_CHANNEL_REQUEST_X11:
		return "x11";
	default:
		return "other";
	}
}

static void start_sftp(struct sftp_session *s)
{
	struct sftp_server_conf c = {
		.sid = s->id,
		.user = s->user,
		.ip = s->peer,
		.home = s->home,
		.fu = { .vfs = &s->vfs,
			.space = s->space,
			.perms = s->perms,
			.name = s->user,
			.atomic = s->cfg->atomic_uploads != 0,
			.partials = false,
			.durable = s->cfg->xfer_fsync != 0,
			.quota = s->quota },
		.sink = { .metrics = s->host->metrics, .hooks = s->host->hooks },
		.own_down = &s->rate_down,
		.own_up = &s->rate_up,
		.srv_down = s->host->rate_down,
		.srv_up = s->host->rate_up,
		.loop = s->host->loop,
		.jobs = s->host->jobs,
		.hashlim = s->host->hashlim,
		.hash_jobs = s->cfg->hash_jobs,
		.wake = drive_deferred,
		.wake_arg = s,
	};
	s->srv = sftp_server_new(&c);
}

static void channel_request(struct sftp_session *s, ssh_message msg)
{
	int sub = ssh_message_subtype(msg);
	const char *subsystem =
	    sub == SSH_CHANNEL_REQUEST_SUBSYSTEM ? ssh_message_channel_request_subsystem(msg) : NULL;
	ssh_channel ch = ssh_message_channel_request_channel(msg);
	struct sftp_chan *c = ch ? chan_slot(s, ch) : NULL;
	if (c && !s->srv && !c->eof && !c->closed && subsystem && strcmp(subsystem, "sftp") == 0) {
		s->chan = ch;
		s->chan_pending = c->pending;
		start_sftp(s);
		(void)ssh_message_channel_request_reply_success(msg);
		log_info(s->id, "sftp: subsystem started: user=\"%s\" ip=%s", s->user, s->peer);
		return;
	}
	/* SECURITY: everything but the sftp subsystem is refused: no shell,
	 * exec, pty, agent or X11 forwarding; env is ignored (refused). */
	if (sub != SSH_CHANNEL_REQUEST_ENV)
		log_info(s->id, "sftp: channel request refused: ip=%s request=%s", s->peer, request_name(sub));
	(void)ssh_message_reply_default(msg);
}

/* The channels SFTP does not run on, given up by the client: its EOF is
 * answered with our CLOSE; its CLOSE frees the channel. Called right after
 * take_messages() emptied libssh's queue, so no request message refers to
 * a channel freed here. (A channel freed before the client's CLOSE would
 * be freed by libssh when that comes, in the middle of a read, under a
 * request that may have come just before it; and its callbacks would run
 * then, for a slot that may hold the next channel.) */
static void retire_channels(struct sftp_session *s)
{
	for (size_t i = 0; i < ARRAY_LEN(s->chans); i++) {
		struct sftp_chan *c = &s->chans[i];
		if (!c->ch || c->ch == s->chan)
			continue;
		if (c->closed) {
			(void)ssh_remove_channel_callbacks(c->ch, &c->cb);
			ssh_channel_free(c->ch); /* sends our CLOSE if not sent */
			memset(c, 0, sizeof(*c));
		} else if (c->eof && !c->close_sent) {
			(void)ssh_channel_close(c->ch);
			c->close_sent = true;
		}
	}
}

/* Takes the messages libssh queued. The one that needs the job pool (a
 * password) is kept by sftp_auth.c; every other is answered now. */
static void take_messages(struct sftp_session *s)
{
	ssh_message msg;
	while (!s->closed && (msg = ssh_message_get(s->ssh)) != NULL) {
		switch (ssh_message_type(msg)) {
		case SSH_REQUEST_AUTH:
			sftp_auth_request(s, msg); /* takes msg */
			continue;
		case SSH_REQUEST_CHANNEL_OPEN:
			channel_open(s, msg);
			break;
		case SSH_REQUEST_CHANNEL:
			channel_request(s, msg);
			break;
		default: /* service requests (accepted), global requests (refused) */
			(void)ssh_message_reply_default(msg);
			break;
		}
		ssh_message_free(msg);
	}
}

/* ---- the SFTP byte stream ---- */

/* More of what libssh holds for us, now that s->in has room. */
static void pull_input(struct sftp_session *s)
{
	while (s->chan && s->chan_pending && buf_room(&s->in)) {
		size_t want = buf_room(&s->in) < s->chan_pending ? buf_room(&s->in) : s->chan_pending;
		if (want > 64u * 1024u)
			want = 64u * 1024u;
		int err = 0;
		char *dst = buf_reserve(&s->in, want, &err);
		if (!dst)
			return;
		/* libssh's buffer holds at least want bytes: this reads them
		 * without touching the socket. */
		int n = ssh_channel_read_nonblocking(s->chan, dst, (uint32_t)want, 0);
		if (n <= 0) {
			s->chan_pending = 0;
			return;
		}
		buf_commit(&s->in, (size_t)n);
		s->chan_pending -= (size_t)n < s->chan_pending ? (size_t)n : s->chan_pending;
	}
}

/* Replies go out as far as the channel's window and libssh's own output
 * allow; the rest waits in s->out for the client's window adjust. */
static int push_output(struct sftp_session *s)
{
	while (s->chan && s->out.len && !(ssh_get_poll_flags(s->ssh) & SSH_WRITE_PENDING)) {
		uint32_t win = ssh_channel_window_size(s->chan);
		size_t n = s->out.len < win ? s->out.len : win;
		if (n > 256u * 1024u)
			n = 256u * 1024u;
		if (n == 0)
			return 0;
		int w = ssh_channel_write(s->chan, buf_data(&s->out), (uint32_t)n);
		if (w < 0)
			return -EIO;
		if (w == 0)
			return 0; /* a key re-exchange holds writes back */
		buf_consume(&s->out, (size_t)w);
	}
	return 0;
}

/* A request held back by a rate limit may go now. */
static void on_rate(struct loop_timer *t)
{
	drive(container_of(t, struct sftp_session, rate_timer));
}

/* Answers the SFTP requests in s->in. Returns false when the session
 * closed. */
static bool serve(struct sftp_session *s)
{
	if (!s->srv)
		return true;
	/* Past the drain deadline only the request whose job runs is
	 * answered (sftp_host_drain_end): a budget of one, then close. */
	unsigned budget = s->drain_end ? 1 : DRIVE_REQUESTS;
	for (;;) {
		pull_input(s);
		size_t before = s->in.len;
		int r = sftp_server_feed(s->srv, &s->in, &s->out, OUT_HIGH, &budget);
		if (r) {
			log_warn(s->id, "sftp: closing: ip=%s reason=%s", s->peer,
				 r == -EMSGSIZE ? "packet-too-large"
				 : r == -EPROTO ? "no-init"
						: "bad-packet");
			session_close(s, r == -EMSGSIZE ? "packet-too-large" : "bad-packet");
			return false;
		}
		if (s->in.len != before) {
			loop_timer_arm(s->host->loop, &s->idle_timer, s->cfg->idle_timeout_ms, s->idle_timer.cb);
			sessions_touch(&s->reg);
		}
		if (push_output(s) != 0) {
			session_close(s, "write-failed");
			return false;
		}
		if (s->drain_end && !budget) {
			/* Its reply is with libssh, which has written it to the
			 * socket unless the socket is full. */
			session_close(s, "shutdown");
			return false;
		}
		if (s->in.len == before || !budget || s->out.len >= OUT_HIGH || s->drain_end)
			break;
	}
	if (!budget)
		loop_defer(s->host->loop, drive_deferred, s);
	else if (sftp_server_rate_wait(s->srv))
		loop_timer_arm_us(s->host->loop, &s->rate_timer, sftp_server_rate_wait(s->srv), on_rate);
	return true;
}

/* ---- driving ---- */

static void update_interest(struct sftp_session *s)
{
	uint32_t ev = LOOP_IN;
	if (ssh_get_poll_flags(s->ssh) & SSH_WRITE_PENDING)
		ev |= LOOP_OUT;
	if (s->watch.events != ev && loop_watch_mod(s->host->loop, &s->watch, ev) != 0)
		session_close(s, "epoll");
}

static bool ssh_gone(struct sftp_session *s)
{
	return (ssh_get_status(s->ssh) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

static void drive(struct sftp_session *s)
{
	if (s->closed || s->driving)
		return;
	s->driving = true;
	for (int i = 0; i < DRIVE_ROUNDS && !s->closed; i++) {
		if (!s->kex_done) {
			int r = ssh_handle_key_exchange(s->ssh);
			if (r == SSH_AGAIN)
				break;
			if (r != SSH_OK) {
				log_info(s->id, "sftp: SSH handshake failed: ip=%s error=\"%s\"", s->peer,
					 ssh_get_error(s->ssh));
				session_close(s, "handshake");
				break;
			}
			s->kex_done = true;
			/* Its socket moves into s->ev: from now on one poll() per
			 * round on this session's fd alone. */
			if (ssh_event_add_session(s->ev, s->ssh) != SSH_OK) {
				session_close(s, "ssh-event");
				break;
			}
			continue;
		}
		int r = ssh_event_dopoll(s->ev, 0);
		if (r == SSH_ERROR || ssh_gone(s)) {
			session_close(s, "client-gone");
			break;
		}
		if (!serve(s))
			break;
		if (r == SSH_AGAIN)
			break; /* the socket has nothing more */
	}
	if (!s->closed && s->kex_done) {
		take_messages(s);
		if (!s->closed && ssh_gone(s))
			session_close(s, "client-gone");
	}
	/* Right after the queue is empty (ssh_message_get() reads too), so
	 * that no message refers to a channel retired here. */
	if (!s->closed && s->kex_done)
		retire_channels(s);
	if (!s->closed && s->kex_done)
		(void)serve(s);
	if (!s->closed && s->srv && !s->chan_over &&
	    (s->chan_closed || (s->chan_eof && s->in.len == 0 && !s->chan_pending && !s->out.len))) {
		/* The client ended the SFTP channel. As sshd, we answer its EOF
		 * with exit-status 0, EOF and CLOSE, and leave the connection
		 * for the client to end: OpenSSH's ssh (under scp) fails with
		 * "closed by remote host" and Go's ssh (rclone) with "use of
		 * closed network connection" when the server goes first. No
		 * channel opens after this one (s->srv stays). */
		if (s->chan && !s->chan_closed && !s->chan_ending) {
			s->chan_ending = true;
			(void)ssh_channel_request_send_exit_status(s->chan, 0);
			(void)ssh_channel_send_eof(s->chan);
			(void)ssh_channel_close(s->chan);
		}
		s->chan_over = s->chan_closed;
	}
	/* Sending (the replies above, the channel's end) reads too: libssh
	 * may have met the client's end there and closed the socket, which
	 * leaves the loop nothing more to report. */
	if (!s->closed && s->kex_done && ssh_gone(s))
		session_close(s, "client-gone");
	s->driving = false;
	if (!s->closed) {
		/* Logged in by now (sftp_auth.c drives after a login): no longer
		 * one max_sessions may evict. */
		sessions_set_prelogin(s->host->reg, &s->reg, !s->logged_in);
		buf_trim(&s->in);
		buf_trim(&s->out);
		update_interest(s);
	}
}

static void on_io(struct loop_watch *w, uint32_t events)
{
	struct sftp_session *s = container_of(w, struct sftp_session, watch);
	if (s->pp)
		sftp_proxy_io(s);
	else
		drive(s);
}

static void on_login_timeout(struct loop_timer *t)
{
	struct sftp_session *s = container_of(t, struct sftp_session, login_timer);
	if (s->logged_in)
		return;
	log_info(s->id, "login timeout: ip=%s protocol=sftp", s->peer);
	session_close(s, "login-timeout");
}

static void on_idle(struct loop_timer *t)
{
	struct sftp_session *s = container_of(t, struct sftp_session, idle_timer);
	if (s->srv && sftp_server_waiting(s->srv)) {
		/* Like a transfer, a long checksum is not idleness. */
		loop_timer_arm(s->host->loop, &s->idle_timer, s->cfg->idle_timeout_ms, on_idle);
		return;
	}
	log_info(s->id, "idle timeout: ip=%s protocol=sftp", s->peer);
	session_close(s, "idle-timeout");
}

/* ---- the worker's registry (core/sessions.h) ---- */

static void reg_view(const struct sessions_entry *e, struct sessions_view *v)
{
	const struct sftp_session *s = container_of(e, struct sftp_session, reg);
	v->user = s->logged_in ? s->user : NULL;
	v->xfer = s->srv && sftp_server_transfer(s->srv, &v->verb, &v->path, &v->bytes, &v->size);
	/* "proxy": still waiting for the PROXY header; ip is the balancer's. */
	v->state = s->pp ? "proxy" : !s->logged_in ? "login" : v->xfer ? "transfer" : "idle";
}

static void reg_kick(struct sessions_entry *e)
{
	session_close(container_of(e, struct sftp_session, reg), "kicked");
}

/* [server] max_sessions: an SSH connection not logged in makes room as an
 * FTP session not logged in does (logged, counted; SSH's DISCONNECT). */
static bool reg_evict(struct sessions_entry *e)
{
	struct sftp_session *s = container_of(e, struct sftp_session, reg);
	if (s->closed || s->logged_in)
		return false;
	log_warn(s->id, "evicted: ip=%s reason=server-full max_sessions=%u not-logged-in-for=%llums protocol=sftp",
		 s->peer, s->cfg->max_sessions, (unsigned long long)(util_now_ms() - s->reg.prelogin_since));
	LOG_JSON(s->id, "evicted", LOG_FS("ip", s->peer), LOG_FS("reason", "server-full"), LOG_FS("protocol", "sftp"));
	METRICS_ADD(s->host->metrics, evictions[METRICS_SFTP], 1);
	session_close(s, "evicted");
	return true;
}

static const struct sessions_ops reg_ops = {
	.protocol = "sftp", .view = reg_view, .kick = reg_kick, .evict = reg_evict
};

/* [limits] at connect (guard.h): NULL when admitted (then counted until
 * close), else the reason token, logged as FTP logs it. */
static const char *guard_admit(struct sftp_session *s)
{
	uint64_t retry = 0;
	guard_key_from_addr(&s->peer_addr, &s->gkey);
	enum guard_verdict v = guard_connect(s->host->guard, &s->gkey, util_now_ms(), &retry);
	if (v == GUARD_OK) {
		s->guarded = true;
		return NULL;
	}
	char group[64];
	guard_key_format(&s->gkey, group, sizeof(group));
	const char *why = v == GUARD_BANNED ? "banned" : v == GUARD_RATE ? "connect-rate" : "per-ip-limit";
	log_warn(s->id, "refused: ip=%s reason=%s group=%s protocol=sftp", s->peer, why, group);
	return why;
}

/* The client's address is known (peer: the socket's, or the PROXY
 * header's): logs the connection, applies [limits], refuse (the worker's
 * reason, or NULL) and max_sessions (room_needed), then starts SSH on fd. */
static void session_begin(struct sftp_session *s, int fd, const struct sockaddr_storage *peer, const char *refuse,
			  bool room_needed)
{
	struct sftp_host *h = s->host;
	const struct config *cfg = s->cfg;
	uint64_t id = s->id;
	s->begun = true;
	s->peer_addr = *peer;
	net_addr_str(peer, s->peer, sizeof(s->peer));
	log_info(id, "connect: ip=%s protocol=sftp", s->peer);
	METRICS_ADD(h->metrics, connections[METRICS_SFTP], 1);
	LOG_JSON(id, "connect", LOG_FS("ip", s->peer), LOG_FS("protocol", "sftp"));
	char why[64];
	if (!refuse && h->guard)
		refuse = guard_admit(s);
	else if (refuse)
		log_warn(id, "refused: ip=%s reason=%s protocol=sftp", s->peer, refuse);
	/* Over max_sessions: room is made only for a connection [limits]
	 * admit, so refused ones cannot evict anybody. */
	if (!refuse && room_needed && !(h->make_room && h->make_room(h))) {
		log_warn(id, "refused: ip=%s reason=server-full max_sessions=%u (all logged in) protocol=sftp", s->peer,
			 cfg->max_sessions);
		(void)snprintf(why, sizeof(why), "server-full max_sessions=%u", cfg->max_sessions);
		refuse = why;
	}
	if (refuse) {
		LOG_JSON(id, "refused", LOG_FS("ip", s->peer), LOG_FS("reason", refuse), LOG_FS("protocol", "sftp"));
		(void)close(fd); /* no SSH yet: nothing can be said to the client */
		session_close(s, "refused");
		return;
	}
	s->ssh = ssh_new();
	s->ev = ssh_event_new();
	if (!s->ssh || !s->ev || net_control_opts(fd) != 0 || ssh_bind_accept_fd(h->bind, s->ssh, fd) != SSH_OK) {
		log_warn(id, "sftp: cannot set up the connection: ip=%s: %s", s->peer,
			 s->ssh ? ssh_get_error(s->ssh) : "out of memory");
		if (!s->ssh || ssh_get_fd(s->ssh) != fd)
			(void)close(fd);
		session_close(s, "setup");
		return;
	}
	ssh_set_blocking(s->ssh, 0);
	/* password, publickey, keyboard-interactive (sftp_auth.c). */
	ssh_set_auth_methods(s->ssh, SFTP_AUTH_METHODS);
	if (loop_watch_add(h->loop, &s->watch, fd, LOOP_IN, on_io) != 0) {
		s->watch.fd = -1;
		session_close(s, "epoll");
		return;
	}
	loop_timer_arm(h->loop, &s->idle_timer, cfg->idle_timeout_ms, on_idle);
	loop_timer_arm(h->loop, &s->login_timer, cfg->login_timeout_ms, on_login_timeout);
	sessions_set_prelogin(h->reg, &s->reg, true);
	drive(s);
}

/* Behind a balancer: the PROXY header says whose the connection is
 * (sftp_proxy.c), then session_begin. */
static void proxy_begin(struct sftp_session *s, const struct sockaddr_storage *client, const char *refuse,
			bool room_needed)
{
	int fd = s->watch.fd;
	loop_watch_del(s->host->loop, &s->watch); /* session_begin watches it again */
	session_begin(s, fd, client, refuse, room_needed);
}

void sftp_session_start(struct sftp_host *h, const struct config *cfg, int fd, const struct sockaddr_storage *peer,
			uint64_t id, const char *refuse)
{
	struct sftp_session *s = util_xcalloc(1, sizeof(*s));
	s->host = h;
	s->ops = &conn_ops;
	s->id = id;
	s->cfg = cfg;
	s->vfs.root_fd = -1;
	s->watch.fd = -1;
	s->peer_addr = *peer; /* the balancer's, until a PROXY header says whose */
	net_addr_str(peer, s->peer, sizeof(s->peer));
	buf_init(&s->in, IN_MAX);
	buf_init(&s->out, OUT_MAX);
	s->idle_timer.cb = on_idle;
	s->next = h->head;
	if (h->head)
		h->head->prev = s;
	h->head = s;
	h->count++;
	sessions_add(h->reg, &s->reg, &reg_ops, id, s->peer);
	if (!cfg->proxy_protocol) {
		session_begin(s, fd, peer, refuse, h->room_needed);
		return;
	}
	if (loop_watch_add(h->loop, &s->watch, fd, LOOP_IN, on_io) != 0) {
		s->watch.fd = -1;
		(void)close(fd);
		session_close(s, "epoll");
		return;
	}
	sftp_proxy_start(s, refuse, h->room_needed);
}
