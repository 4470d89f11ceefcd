#include "sec.h"

#include <errno.h>

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sec_b64_encode(const void *in, size_t n, struct buf *out)
{
	const unsigned char *s = in;
	size_t groups = n / 3 + (n % 3 != 0);
	if (groups > (SIZE_MAX - 1) / 4)
		return -ENOBUFS;
	int err = 0;
	char *o = buf_reserve(out, groups * 4, &err);
	if (!o)
		return err;
	size_t k = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		o[k++] = b64_alphabet[(v >> 18) & 63];
		o[k++] = b64_alphabet[(v >> 12) & 63];
		o[k++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		o[k++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
	}
	buf_commit(out, k);
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sec_b64_decode(struct slice in, struct buf *out)
{
	/* SECURITY: client bytes; every symbol is checked before anything is
	 * written, so a bad token leaves out untouched. */
	if (in.n == 0 || in.n % 4 != 0)
		return -EINVAL;
	size_t pad = 0;
	if (in.p[in.n - 1] == '=')
		pad = in.p[in.n - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < in.n - pad; i++)
		if (b64_value((unsigned char)in.p[i]) < 0)
			return -EINVAL;
	/* Non-canonical encodings (bits set below the padding) are refused:
	 * there is exactly one valid text per token. */
	if (pad == 2 && (b64_value((unsigned char)in.p[in.n - 3]) & 15))
		return -EINVAL;
	if (pad == 1 && (b64_value((unsigned char)in.p[in.n - 2]) & 3))
		return -EINVAL;
	size_t len = in.n / 4 * 3 - pad;
	int err = 0;
	unsigned char *o = (unsigned char *)buf_reserve(out, len, &err);
	if (!o)
		return err;
	size_t k = 0;
	for (size_t i = 0; i < in.n; i += 4) {
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in.p[i + j];
			v = v << 6 | (uint32_t)(c == '=' ? 0 : b64_value(c));
		}
		unsigned char b[3] = { (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v };
		for (size_t j = 0; j < 3 && k < len; j++)
			o[k++] = b[j];
	}
	buf_commit(out, len);
	return 0;
}

int sec_reply_line(struct buf *out, int code, bool last, struct slice token)
{
	int r = buf_printf(out, "%03d%c", code, last ? ' ' : '-');
	if (r == 0)
		r = sec_b64_encode(token.p, token.n, out);
	if (r == 0)
		r = buf_append(out, "\r\n", 2);
	return r;
}

void sec_block_header(uint32_t len, unsigned char hdr[4])
{
	hdr[0] = (unsigned char)(len >> 24);
	hdr[1] = (unsigned char)(len >> 16);
	hdr[2] = (unsigned char)(len >> 8);
	hdr[3] = (unsigned char)len;
}

uint32_t sec_block_len(struct slice in)
{
	const unsigned char *b = (const unsigned char *)in.p;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
