/* conn_tls: the TLS transport of conn (tls*.c do the OpenSSL work). Its
 * sendfile sends a file with SSL_sendfile where the kernel does TLS (no
 * copy through user space), else by large reads and whole records
 * (tls_send_file); there is no splice_in: every byte received is
 * decrypted in user space. */
#include <errno.h>
#include <sys/socket.h>

#include "conn.h"
#include "tls.h"

static int tls_step(struct conn *c, int r)
{
	c->want = r == -EAGAIN ? tls_want(c->tls) : 0;
	return r;
}

static int xtls_read(struct conn *c, void *p, size_t n, size_t *got)
{
	return tls_step(c, tls_read(c->tls, p, n, got));
}

static int xtls_write(struct conn *c, const void *p, size_t n, size_t *put)
{
	return tls_step(c, tls_write(c->tls, p, n, put));
}

/* close_notify, then half-close the socket; the peer's close_notify is
 * awaited by the caller (CONN_CAP_AWAIT_PEER, RFC 4217 §12.6). Written
 * bytes still buffered go first, and failing that the stream is lost;
 * once they are out, a peer that left early is no loss. */
static int xtls_shutdown(struct conn *c)
{
	int r = tls_step(c, tls_flush(c->tls));
	if (r)
		return r;
	r = tls_step(c, tls_close_notify(c->tls));
	if (r == -EAGAIN)
		return r;
	if (r)
		return 1;
	(void)shutdown(c->fd, SHUT_WR);
	return 0;
}

static void xtls_close_notify(struct conn *c)
{
	(void)tls_close_notify(c->tls);
}

static int xtls_sendfile(struct conn *c, int fd, uint64_t *off, size_t n, size_t *put)
{
	return tls_step(c, tls_send_file(c->tls, fd, off, n, put));
}

static size_t xtls_pending(const struct conn *c)
{
	return tls_pending(c->tls);
}

static void xtls_free(struct conn *c)
{
	tls_conn_free(c->tls);
	c->tls = NULL;
}

const struct conn_ops conn_tls_ops = {
	.name = "tls",
	.caps = CONN_CAP_AWAIT_PEER | CONN_CAP_SENDFILE,
	.read = xtls_read,
	.write = xtls_write,
	.shutdown = xtls_shutdown,
	.close_notify = xtls_close_notify,
	.pending = xtls_pending,
	.sendfile = xtls_sendfile,
	.free = xtls_free,
};

static int start(struct conn *c, struct tls_ctx *ctx, bool data)
{
	if (c->tls)
		return -EALREADY;
	int r = data ? tls_conn_new_data(ctx, c->fd, &c->tls) : tls_conn_new(ctx, c->fd, &c->tls);
	if (r == 0)
		c->ops = &conn_tls_ops;
	return r;
}

int conn_start_tls(struct conn *c, struct tls_ctx *ctx)
{
	return start(c, ctx, false);
}

int conn_start_tls_data(struct conn *c, struct tls_ctx *ctx)
{
	return start(c, ctx, true);
}

int conn_handshake(struct conn *c)
{
	return tls_step(c, tls_handshake(c->tls));
}

int conn_stop_tls(struct conn *c, struct tls_conn **old)
{
	int r = tls_step(c, tls_shutdown(c->tls));
	if (r == 0) {
		*old = c->tls;
		c->tls = NULL;
		c->ops = &conn_plain_ops;
	}
	return r;
}
