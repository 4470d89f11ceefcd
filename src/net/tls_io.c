/* tls_io: reading and writing TLS streams, and the bulk paths of PROT P
 * data connections (tls.c makes contexts and connections and does the
 * handshakes). Control connections keep OpenSSL's defaults: small,
 * released buffers, so an idle TLS session costs little memory.
 *
 * What a record costs besides its cipher (perf, bench/: 1 GiB over
 * loopback TLS 1.3 with AES-128-GCM): OpenSSL reads a record with two
 * recv calls (its header, then its body) and writes each 16 KiB record
 * with its own send. So once the handshake is over, a data connection
 * reads and writes through OpenSSL's buffering BIO (BIO_f_buffer): one
 * recv takes up to TLS_DATA_RBUF bytes of records, and the records of one
 * write go out in sends of TLS_DATA_WBUF bytes. OpenSSL's own read-ahead
 * is not used: with a buffer larger than a record it moves the unread rest
 * to the front of its buffer after every record (a memmove per record of
 * up to the buffer's size, measured at 12% of an upload's CPU time).
 *
 * Kernel TLS instead (tls_ktls.c decided the context may ask for it): the
 * kernel frames and encrypts, so nothing is buffered here, and files are
 * sent with SSL_sendfile. The buffering BIOs are never used on such a
 * connection, even when OpenSSL ended up not using the kernel: bytes
 * buffered ahead of OpenSSL must never meet a socket the kernel decrypts. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "loop.h"
#include "tls_local.h"

/* Fatal outcomes are remembered so no SSL call follows them (OpenSSL
 * forbids SSL_shutdown after SSL_ERROR_SYSCALL/SSL_ERROR_SSL). */
int tls_fail(struct tls_conn *t, int ret, int sys_errno, const char *what)
{
	int r;
	unsigned long e;

	switch (SSL_get_error(t->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		t->want = LOOP_IN;
		ERR_clear_error();
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want = LOOP_OUT;
		ERR_clear_error();
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		/* The end of the stream where the caller cannot take it as a
		 * clean end (handshake, write); reads handle it themselves. */
		(void)snprintf(
		    t->err, sizeof(t->err), "%s during %s",
		    t->peer_notify ? "peer sent close_notify" : "connection closed by peer without close_notify", what);
		r = -ECONNRESET;
		break;
	case SSL_ERROR_SYSCALL:
		if (sys_errno == 0 || sys_errno == ECONNRESET || sys_errno == EPIPE) {
			(void)snprintf(t->err, sizeof(t->err),
				       "connection closed by peer without close_notify during %s", what);
			r = -ECONNRESET;
		} else {
			(void)snprintf(t->err, sizeof(t->err), "%s during %s", strerror(sys_errno), what);
			r = -sys_errno;
		}
		break;
	case SSL_ERROR_SSL:
		e = ERR_peek_error();
		if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
			(void)snprintf(t->err, sizeof(t->err),
				       "connection closed by peer without close_notify during %s", what);
			r = -ECONNRESET;
		} else if (e) {
			ERR_error_string_n(e, t->err, sizeof(t->err));
			r = -EPROTO;
		} else {
			(void)snprintf(t->err, sizeof(t->err), "TLS protocol error during %s", what);
			r = -EPROTO;
		}
		break;
	default:
		(void)snprintf(t->err, sizeof(t->err), "unexpected OpenSSL state during %s", what);
		r = -EPROTO;
		break;
	}
	ERR_clear_error();
	t->want = 0;
	t->fatal = r;
	return r;
}

#ifndef TLS_DATA_RBUF
#define TLS_DATA_RBUF (128u * 1024u)
#endif
#ifndef TLS_DATA_WBUF
#define TLS_DATA_WBUF (64u * 1024u)
#endif
/* A caller that reads or writes at least a record's worth at a time moves
 * bulk data: only then are the buffering BIOs worth their memory (not for
 * the few bytes read while a download waits for the client's close). */
#define TLS_DATA_BULK 16384u
/* Bytes of a file read per pread when the kernel does not send it. */
#ifndef TLS_DATA_FBUF
#define TLS_DATA_FBUF (128u * 1024u)
#endif

/* A buffering BIO over its own socket BIO on fd (borrowed, not closed). */
static BIO *tls_buffer_bio(int fd, bool reads, size_t size)
{
	BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
	BIO *buf = BIO_new(BIO_f_buffer());
	if (!sock || !buf)
		goto fail;
	if ((reads ? BIO_set_read_buffer_size(buf, (long)size) : BIO_set_write_buffer_size(buf, (long)size)) != 1)
		goto fail;
	(void)BIO_push(buf, sock);
	return buf;
fail:
	BIO_free(buf);
	BIO_free(sock);
	ERR_clear_error();
	return NULL;
}

/* Once the handshake is over: the handshake's messages went through the
 * plain socket BIO and nothing of them is left in it (OpenSSL reads no
 * further than a record without read-ahead, and flushes its flights). */
static bool tls_data_plain(const struct tls_conn *t)
{
	return !t->data || t->ktls || !t->established || t->fatal;
}

static void tls_data_read_setup(struct tls_conn *t)
{
	if (t->rbuffered || tls_data_plain(t))
		return;
	BIO *b = tls_buffer_bio(SSL_get_rfd(t->ssl), true, TLS_DATA_RBUF);
	if (!b)
		return;
	SSL_set0_rbio(t->ssl, b); /* drops the reference the old BIO had as rbio */
	t->rbuffered = true;
}

static void tls_data_write_setup(struct tls_conn *t)
{
	if (t->wbuffered || tls_data_plain(t))
		return;
	/* A record OpenSSL could not send yet stays in its own buffer and
	 * goes out through the new BIO, to the same socket. */
	BIO *b = tls_buffer_bio(SSL_get_wfd(t->ssl), false, TLS_DATA_WBUF);
	if (!b)
		return;
	SSL_set0_wbio(t->ssl, b);
	t->wbuffered = true;
}

static bool tls_data_buffered(const struct tls_conn *t)
{
	if (SSL_has_pending(t->ssl))
		return true;
	return t->rbuffered && BIO_pending(SSL_get_rbio(t->ssl)) > 0;
}

static int tls_data_flush(struct tls_conn *t)
{
	if (!t->wbuffered)
		return 0;
	BIO *b = SSL_get_wbio(t->ssl);
	if (BIO_wpending(b) <= 0)
		return 0;
	ERR_clear_error();
	errno = 0;
	if (BIO_flush(b) > 0) {
		t->want = 0;
		return 0;
	}
	int se = errno;
	if (BIO_should_retry(b)) {
		t->want = LOOP_OUT;
		return -EAGAIN;
	}
	ERR_clear_error();
	if (se == 0 || se == EPIPE || se == ECONNRESET) {
		(void)snprintf(t->err, sizeof(t->err), "connection closed by peer during a write");
		t->fatal = -ECONNRESET;
	} else {
		(void)snprintf(t->err, sizeof(t->err), "%s during a write", strerror(se));
		t->fatal = -se;
	}
	t->want = 0;
	return t->fatal;
}

/* SSL_MODE_ENABLE_PARTIAL_WRITE makes each SSL_write one record: loop
 * over them, then push the tail out. Bytes the socket did not take yet
 * count as written: they wait in the BIO, and the next write, or the
 * close_notify, sends them first. */
static int tls_data_write(struct tls_conn *t, const void *p, size_t n, size_t *put)
{
	*put = 0;
	if (n >= TLS_DATA_BULK)
		tls_data_write_setup(t);
	int r = tls_data_flush(t);
	if (r)
		return r;
	size_t tot = 0;
	int ret = 1, se = 0;
	while (tot < n) {
		size_t w = 0;
		ERR_clear_error();
		errno = 0;
		ret = SSL_write_ex(t->ssl, (const unsigned char *)p + tot, n - tot, &w);
		se = errno;
		if (ret != 1)
			break;
		tot += w;
	}
	if (tot == 0)
		return tls_fail(t, ret, se, "a write");
	if (ret != 1) {
		int e = SSL_get_error(t->ssl, ret);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			ERR_clear_error(); /* found again by the next call */
		else
			(void)tls_fail(t, ret, se, "a write"); /* remembered for the next call */
	} else {
		r = tls_data_flush(t);
		(void)r; /* -EAGAIN: sent by the next call; fatal: remembered */
	}
	t->want = 0;
	*put = tot;
	return 0;
}

bool tls_ktls_sending(const struct tls_conn *t)
{
	return t->ktls && t->established && BIO_get_ktls_send(SSL_get_wbio(t->ssl));
}

/* The kernel encrypts: sendfile(2) on the socket, through OpenSSL (it
 * sends any alert it owes first). */
static int tls_ktls_send_file(struct tls_conn *t, int fd, uint64_t *off, size_t n, size_t *put)
{
	ERR_clear_error();
	errno = 0;
	ossl_ssize_t r = SSL_sendfile(t->ssl, fd, (off_t)*off, n, 0);
	int se = errno;
	if (r >= 0) {
		t->want = 0;
		*off += (uint64_t)r;
		*put = (size_t)r;
		return 0;
	}
	int e = SSL_get_error(t->ssl, (int)r);
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
		return tls_fail(t, (int)r, se, "sendfile");
	/* OpenSSL reports every sendfile(2) failure as "uninitialized":
	 * the errno says what it was (the file's EIO, the peer's EPIPE). */
	ERR_clear_error();
	if (se == 0)
		se = EIO;
	(void)snprintf(t->err, sizeof(t->err), "%s during sendfile", strerror(se));
	t->want = 0;
	if (se == EPIPE || se == ECONNRESET) {
		t->fatal = -se;
		return t->fatal;
	}
	return -se; /* the file's error: the connection itself is fine */
}

int tls_send_file(struct tls_conn *t, int fd, uint64_t *off, size_t n, size_t *put)
{
	*put = 0;
	if (t->fatal)
		return t->fatal;
	if (!t->data)
		return -EOPNOTSUPP;
	if (n == 0)
		return -EINVAL; /* *put == 0 would read as the end of the file */
	if (tls_ktls_sending(t))
		return tls_ktls_send_file(t, fd, off, n, put);
	if (!t->fbuf) {
		t->fbuf = malloc(TLS_DATA_FBUF);
		if (!t->fbuf)
			return -ENOMEM;
		t->flen = 0;
	}
	/* A retried write must offer the same bytes again: the buffer is
	 * read anew only once everything in it was taken. */
	if (t->flen == 0 || *off < t->foff || *off - t->foff >= t->flen) {
		ssize_t r;
		do
			r = pread(fd, t->fbuf, TLS_DATA_FBUF, (off_t)*off);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		t->foff = *off;
		t->flen = (size_t)r;
		if (r == 0)
			return 0;
	}
	size_t at = (size_t)(*off - t->foff);
	size_t k = t->flen - at < n ? t->flen - at : n;
	size_t w = 0;
	int r = tls_data_write(t, t->fbuf + at, k, &w);
	/* The caller tells a failed file (any errno) from a lost stream
	 * (-EPIPE, -ECONNRESET), as for sendfile(2) on a plain socket: every
	 * failure of the TLS stream is a lost stream (tls_error says how). */
	if (r && r != -EAGAIN && r != -EPIPE && r != -ENOMEM)
		return -ECONNRESET;
	if (r)
		return r;
	*off += w;
	*put = w;
	return 0;
}

/* ---- the stream calls ------------------------------------------------- */

/* SSL_read returns one record (16 KiB at most) per call; the records
 * already read from the socket are taken too, so a caller's large buffer
 * fills in one call (an upload: one file write per 64 KiB, not per record).
 * An end or failure after some bytes is left for the next call (OpenSSL
 * reports it again; a fatal one is remembered now), and until then
 * tls_pending() says there is something to read: it may have come from
 * the buffer, so the socket would never signal it. */
int tls_read(struct tls_conn *t, void *p, size_t n, size_t *got)
{
	size_t total = 0;
	*got = 0;
	t->read_deferred = false;
	if (t->fatal)
		return t->fatal;
	if (n == 0)
		return -EINVAL; /* *got == 0 would read as a clean close */
	if (t->data && n >= TLS_DATA_BULK)
		tls_data_read_setup(t);
	for (;;) {
		size_t g = 0;
		ERR_clear_error();
		errno = 0;
		int ret = SSL_read_ex(t->ssl, (unsigned char *)p + total, n - total, &g);
		int se = errno;
		if (ret == 1) {
			total += g;
			if (total < n && tls_data_buffered(t))
				continue;
			break;
		}
		int e = SSL_get_error(t->ssl, ret);
		if (total > 0) {
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_ZERO_RETURN)
				ERR_clear_error();
			else
				(void)tls_fail(t, ret, se, "a read");
			t->read_deferred = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
			break;
		}
		if (e == SSL_ERROR_ZERO_RETURN && t->peer_notify) {
			ERR_clear_error();
			t->want = 0;
			return 0; /* close_notify: a clean end of stream */
		}
		return tls_fail(t, ret, se, "a read");
	}
	t->want = 0;
	*got = total;
	return 0;
}

int tls_write(struct tls_conn *t, const void *p, size_t n, size_t *put)
{
	size_t w = 0;
	*put = 0;
	if (t->fatal)
		return t->fatal;
	if (n == 0)
		return 0;
	if (t->data)
		return tls_data_write(t, p, n, put);
	ERR_clear_error();
	errno = 0;
	int ret = SSL_write_ex(t->ssl, p, n, &w);
	int se = errno;
	if (ret == 1) {
		t->want = 0;
		*put = w;
		return 0;
	}
	return tls_fail(t, ret, se, "a write");
}

int tls_close_notify(struct tls_conn *t)
{
	if (t->fatal)
		return t->fatal;
	/* Written data first, then the alert, both through a data
	 * connection's buffering BIO when it has one. */
	int r = tls_data_flush(t);
	if (r || t->notify_sent)
		return r;
	ERR_clear_error();
	errno = 0;
	int ret = SSL_shutdown(t->ssl);
	int se = errno;
	if (ret < 0) /* after WANT_WRITE the next call re-sends the queued alert only */
		return tls_fail(t, ret, se, "the shutdown");
	t->want = 0;
	t->notify_sent = true;
	return tls_data_flush(t);
}

uint32_t tls_want(const struct tls_conn *t)
{
	return t->want;
}

size_t tls_pending(const struct tls_conn *t)
{
	int n = SSL_pending(t->ssl);
	if (n > 0)
		return (size_t)n;
	if (t->read_deferred)
		return 1; /* the end of the stream, or a failure, to report */
	/* Records read from the socket, not decrypted yet: amount unknown. */
	return tls_data_buffered(t) ? 1 : 0;
}

int tls_flush(struct tls_conn *t)
{
	return t->fatal ? t->fatal : tls_data_flush(t);
}

void tls_data_free(struct tls_conn *t)
{
	free(t->fbuf);
	t->fbuf = NULL;
}
