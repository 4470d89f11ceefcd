/* libFuzzer driver: the SFTP v3 codec (src/sftp/sftp_codec.c). The input
 * is what a client sent on the channel, as an exact heap copy (ASan sees
 * any read past it): packets are framed and parsed one after another as
 * the server does. Checked: a frame is never longer than the input nor
 * past the limit; every slice a parsed request holds lies inside its
 * packet; a parse error leaves an id only when one was there; and replies
 * built from the parsed fields (STATUS, HANDLE, NAME, ATTRS, DATA) are
 * whole packets whose length field matches what was appended. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sftp_codec.h"

static void inside(struct slice s, const char *p, size_t n)
{
	if (s.n && (s.p < p || s.p + s.n > p + n))
		abort();
}

static void whole(const struct buf *b, size_t start)
{
	if (b->len == start)
		return;
	if (b->len - start < 5)
		abort();
	const unsigned char *q = (const unsigned char *)buf_data(b) + start;
	uint32_t len = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
	if (len != b->len - start - 4)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);
	if (!p)
		abort();
	memcpy(p, data, size);
	struct buf out;
	buf_init(&out, 1u << 20);
	size_t off = 0;
	for (int i = 0; i < 64 && off < size; i++) {
		size_t len = 0;
		int r = sftp_frame(p + off, size - off, &len);
		if (r <= 0)
			break;
		if (len > size - off || len > SFTP_MAX_PACKET + 4 || len < 5)
			abort();
		const char *body = p + off + 4;
		size_t n = len - 4;
		struct sftp_req req;
		bool has_id = true;
		r = sftp_parse(body, n, &req, &has_id);
		if (r != 0 && r != -EBADMSG && r != -ENOTSUP)
			abort();
		if (r == -ENOTSUP && !has_id)
			abort();
		inside(req.path, body, n);
		inside(req.path2, body, n);
		inside(req.handle, body, n);
		inside(req.handle2, body, n);
		inside(req.data, body, n);
		inside(req.ext_name, body, n);
		buf_reset(&out);
		size_t start = out.len;
		(void)sftp_put_status(&out, req.id, SFTP_OK, "ok");
		whole(&out, start);
		start = out.len;
		(void)sftp_put_handle(&out, req.id, req.handle.p, req.handle.n);
		whole(&out, start);
		start = out.len;
		size_t mark;
		if (sftp_name_begin(&out, req.id, &mark) == 0) {
			(void)sftp_name_add(&out, req.path, req.path2, &req.attrs);
			sftp_name_end(&out, mark, 1);
		}
		whole(&out, start);
		start = out.len;
		(void)sftp_put_attrs(&out, req.id, &req.attrs);
		whole(&out, start);
		start = out.len;
		int err = 0;
		size_t want = req.data.n < 4096 ? req.data.n : 4096;
		char *d = sftp_data_begin(&out, req.id, want, &err);
		if (d) {
			memcpy(d, req.data.p ? req.data.p : "", want);
			sftp_data_end(&out, d, want, want);
		}
		whole(&out, start);
		off += len;
	}
	buf_free(&out);
	free(p);
	return 0;
}
