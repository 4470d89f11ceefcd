/* datachan_sec: RFC 2228 §6 protected data connections (PROT S/P under
 * AUTH GSSAPI). Plaintext travels as blocks of a 4-byte big-endian length
 * and a GSSAPI token of at most PBSZ bytes (sec.c frames the header,
 * gss.c wraps and unwraps); an empty block ends the stream in both
 * directions. The rest of the transfer (sources, sinks, TYPE A, the
 * timeout) is datachan.c's, reached through datachan_impl.h. */
#include "datachan_impl.h"

#include <errno.h>
#include <sys/socket.h>

#include "gss.h"
#include "log.h"
#include "sec.h"

#define CHUNK DATACHAN_CHUNK

int datachan_sec_start(struct datachan *d)
{
	d->sec.src_eof = false;
	d->sec.end = false;
	/* RFC 2228 §6: every token at most PBSZ; received blocks are kept
	 * whole until unwrapped. */
	d->sec.max_plain = d->gss ? gss_sess_max_plain(d->gss, d->x.gss_prot == 'P', d->x.pbsz) : 0;
	buf_free(&d->sec.wire);
	buf_init(&d->sec.wire, (size_t)d->x.pbsz + 4 + CHUNK);
	return d->sec.max_plain ? 0 : -EPROTO;
}

/* RFC 2228 §6 sending: plaintext in blocks of at most max_plain, each sent
 * as a 4-byte big-endian length and its wrapped token, then a wrapped empty
 * block; the connection closes after it. */
void datachan_sec_pump_send(struct datachan *d)
{
	bool conf = d->x.gss_prot == 'P';
	for (;;) {
		while (d->sec.wire.len) {
			ssize_t n = send(d->fd, buf_data(&d->sec.wire), d->sec.wire.len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			if (n < 0) {
				datachan_finish(d, XFER_CONN_LOST, -errno);
				return;
			}
			buf_consume(&d->sec.wire, (size_t)n);
			datachan_touch(d);
		}
		if (d->sec.end) {
			datachan_finish(d, XFER_OK, 0);
			return;
		}
		/* Bounded: each fill adds at least one byte or reaches EOF. */
		while (!d->sec.src_eof && d->out.len < d->sec.max_plain) {
			int fr = datachan_fill(d);
			if (fr < 0) {
				datachan_finish(d, XFER_LOCAL_ERROR, fr);
				return;
			}
			d->sec.src_eof = fr == 1;
		}
		size_t n = d->out.len < d->sec.max_plain ? d->out.len : d->sec.max_plain;
		unsigned char hdr[4] = { 0 };
		size_t at = d->sec.wire.len;
		int r = buf_append(&d->sec.wire, hdr, sizeof(hdr));
		if (r == 0)
			r = gss_sess_wrap(d->gss, conf, (struct slice){ buf_data(&d->out), n }, &d->sec.wire);
		if (r) {
			datachan_finish(d, XFER_PROT_FAILED, r);
			return;
		}
		sec_block_header((uint32_t)(d->sec.wire.len - at - sizeof(hdr)),
				 (unsigned char *)buf_data(&d->sec.wire) + at);
		buf_consume(&d->out, n);
		d->bytes += n;
		d->sec.end = n == 0; /* the empty block ends the stream */
	}
}

/* RFC 2228 §6 receiving: whole blocks are unwrapped and written; a block
 * over PBSZ, a bad token or one at the wrong level fails the transfer with
 * 535; the empty block completes it. Returns 0 or the failure's status. */
static enum proto_xfer_status recv_blocks(struct datachan *d, int *err)
{
	bool conf = d->x.gss_prot == 'P';
	struct buf plain;
	enum proto_xfer_status st = XFER_OK;
	buf_init(&plain, d->x.pbsz);
	while (st == XFER_OK && !d->sec.end && d->sec.wire.len >= 4) {
		uint32_t len = sec_block_len(buf_slice(&d->sec.wire));
		bool was_conf = false;
		if (len > d->x.pbsz) {
			log_info(d->sid, "protected block of %u bytes exceeds PBSZ %u", len, d->x.pbsz);
			*err = -EMSGSIZE;
			st = XFER_PROT_FAILED;
			break;
		}
		if (d->sec.wire.len - 4 < len)
			break;
		buf_reset(&plain);
		*err = gss_sess_unwrap(d->gss, (struct slice){ buf_data(&d->sec.wire) + 4, len }, &plain, &was_conf);
		if (*err || was_conf != conf) {
			log_info(d->sid, "bad protected data block");
			*err = -EBADMSG;
			st = XFER_PROT_FAILED;
			break;
		}
		buf_consume(&d->sec.wire, 4 + (size_t)len);
		d->sec.end = plain.len == 0;
		d->bytes += plain.len;
		*err = datachan_store(d, buf_data(&plain), plain.len);
		if (*err)
			st = XFER_LOCAL_ERROR;
	}
	buf_free(&plain);
	return st;
}

/* RFC 2228 §6 receiving: the wire buffer gathers whole blocks; the
 * connection closing before the empty block means a truncated upload. */
void datachan_sec_pump_recv(struct datachan *d)
{
	for (int rounds = 0; rounds < 16; rounds++) {
		int err = 0;
		size_t room = buf_room(&d->sec.wire);
		char *dst = buf_reserve(&d->sec.wire, room < CHUNK ? room : CHUNK, &err);
		if (!dst) {
			datachan_finish(d, XFER_PROT_FAILED, err);
			return;
		}
		ssize_t n = datachan_recv(d, dst, room < CHUNK ? room : CHUNK);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			datachan_finish(d, XFER_CONN_LOST, (int)n);
			return;
		}
		if (n == 0) { /* EOF before the empty block: truncated, not committed */
			datachan_finish(d, XFER_CONN_LOST, -ECONNRESET);
			return;
		}
		buf_commit(&d->sec.wire, (size_t)n);
		datachan_touch(d);
		enum proto_xfer_status st = recv_blocks(d, &err);
		if (st == XFER_OK && d->sec.end) {
			err = datachan_store_end(d);
			st = err ? XFER_LOCAL_ERROR : XFER_OK;
		}
		if (st != XFER_OK || d->sec.end) {
			datachan_finish(d, st, err);
			return;
		}
	}
}
