/* sftp_codec: SFTP v3 framing (a packet at a time, the length limit),
 * parsing of every request served (truncated, over-long and left-over
 * bytes are BAD_MESSAGE with the id when it was read; unknown types are
 * OP_UNSUPPORTED), extended requests, and the replies' exact bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "sftp_codec.h"

/* A packet under construction: big-endian fields, as on the wire. */
struct pk {
	uint8_t b[4096];
	size_t n;
};

static void u8(struct pk *p, uint8_t v)
{
	p->b[p->n++] = v;
}

static void u32(struct pk *p, uint32_t v)
{
	u8(p, (uint8_t)(v >> 24));
	u8(p, (uint8_t)(v >> 16));
	u8(p, (uint8_t)(v >> 8));
	u8(p, (uint8_t)v);
}

static void u64(struct pk *p, uint64_t v)
{
	u32(p, (uint32_t)(v >> 32));
	u32(p, (uint32_t)v);
}

static void str(struct pk *p, const char *s)
{
	u32(p, (uint32_t)strlen(s));
	memcpy(p->b + p->n, s, strlen(s));
	p->n += strlen(s);
}

static bool slice_is(struct slice s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static uint32_t get32(const char *p)
{
	const unsigned char *q = (const unsigned char *)p;
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static void test_frame(void **state)
{
	size_t size = 0;
	uint8_t b[8] = { 0, 0, 0, 3, 1, 0, 0, 0 };
	assert_int_equal(sftp_frame(b, 3, &size), 0);
	assert_int_equal(sftp_frame(b, 6, &size), 0);
	assert_int_equal(sftp_frame(b, 7, &size), 1);
	assert_int_equal(size, 7);
	assert_int_equal(sftp_frame(b, 8, &size), 1); /* the next packet's first byte is not this one's */
	assert_int_equal(size, 7);
	/* Zero and over the limit: the stream is broken. */
	uint8_t z[4] = { 0, 0, 0, 0 };
	assert_int_equal(sftp_frame(z, 4, &size), -EBADMSG);
	uint8_t big[4] = { 0, 4, 0, 1 }; /* 256 KiB + 1 */
	assert_int_equal(sftp_frame(big, 4, &size), -EMSGSIZE);
	uint8_t max[4] = { 0, 4, 0, 0 }; /* exactly 256 KiB: waits for its bytes */
	assert_int_equal(sftp_frame(max, 4, &size), 0);
	uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(sftp_frame(huge, 4, &size), -EMSGSIZE);
}

static void test_parse_requests(void **state)
{
	struct sftp_req r;
	bool has_id;
	struct pk p = { 0 };
	u8(&p, SFTP_INIT);
	u32(&p, 3);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.type, SFTP_INIT);
	assert_int_equal(r.version, 3);
	assert_false(has_id);

	p.n = 0;
	u8(&p, SFTP_OPEN);
	u32(&p, 7);
	str(&p, "/a b");
	u32(&p, SFTP_FXF_WRITE | SFTP_FXF_CREAT | SFTP_FXF_TRUNC);
	u32(&p, SFTP_ATTR_PERMISSIONS | SFTP_ATTR_ACMODTIME);
	u32(&p, 0100644);
	u32(&p, 10);
	u32(&p, 20);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_true(has_id);
	assert_int_equal(r.id, 7);
	assert_true(slice_is(r.path, "/a b"));
	assert_int_equal(r.pflags, SFTP_FXF_WRITE | SFTP_FXF_CREAT | SFTP_FXF_TRUNC);
	assert_int_equal(r.attrs.perms, 0100644);
	assert_int_equal(r.attrs.atime, 10);
	assert_int_equal(r.attrs.mtime, 20);

	p.n = 0;
	u8(&p, SFTP_READ);
	u32(&p, 9);
	str(&p, "HHHH");
	u64(&p, 1ull << 40);
	u32(&p, 32768);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_true(slice_is(r.handle, "HHHH"));
	assert_true(r.offset == 1ull << 40);
	assert_int_equal(r.len, 32768);

	p.n = 0;
	u8(&p, SFTP_WRITE);
	u32(&p, 10);
	str(&p, "HHHH");
	u64(&p, 5);
	str(&p, "data");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_true(slice_is(r.data, "data"));
	assert_true(r.offset == 5);

	p.n = 0;
	u8(&p, SFTP_RENAME);
	u32(&p, 11);
	str(&p, "from");
	str(&p, "to");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_true(slice_is(r.path, "from") && slice_is(r.path2, "to"));

	/* Extended attributes are read and skipped. */
	p.n = 0;
	u8(&p, SFTP_SETSTAT);
	u32(&p, 12);
	str(&p, "f");
	u32(&p, SFTP_ATTR_SIZE | SFTP_ATTR_EXTENDED);
	u64(&p, 99);
	u32(&p, 1);
	str(&p, "k");
	str(&p, "v");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_true(r.attrs.size == 99);
}

static void test_parse_bad(void **state)
{
	struct sftp_req r;
	bool has_id;
	struct pk p = { 0 };
	/* Truncated: the string runs past the end; the id was read. */
	u8(&p, SFTP_STAT);
	u32(&p, 42);
	u32(&p, 100);
	memcpy(p.b + p.n, "abc", 3);
	p.n += 3;
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -EBADMSG);
	assert_true(has_id);
	assert_int_equal(r.id, 42);
	/* A length that would wrap around. */
	p.n = 0;
	u8(&p, SFTP_STAT);
	u32(&p, 43);
	u32(&p, 0xffffffffu);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -EBADMSG);
	/* Bytes left over after the fields are ignored (OpenSSH's server
	 * skips them; rclone 1.60 sends them after a file's last WRITE). */
	p.n = 0;
	u8(&p, SFTP_REMOVE);
	u32(&p, 44);
	str(&p, "x");
	u8(&p, 0);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.id, 44);
	assert_true(slice_is(r.path, "x"));
	p.n = 0;
	u8(&p, SFTP_WRITE);
	u32(&p, 45);
	str(&p, "HHHH");
	u64(&p, 65536);
	str(&p, "tail");
	memset(p.b + p.n, 0xAB, 100);
	p.n += 100;
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_true(slice_is(r.data, "tail") && r.offset == 65536);
	/* No id at all. */
	p.n = 0;
	u8(&p, SFTP_REMOVE);
	u8(&p, 0);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -EBADMSG);
	assert_false(has_id);
	assert_int_equal(sftp_parse(p.b, 0, &r, &has_id), -EBADMSG);
	/* An extended-attribute count larger than the packet could hold. */
	p.n = 0;
	u8(&p, SFTP_SETSTAT);
	u32(&p, 45);
	str(&p, "f");
	u32(&p, SFTP_ATTR_EXTENDED);
	u32(&p, 0x7fffffffu);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -EBADMSG);
	/* Unknown types: not served, answered by id. */
	p.n = 0;
	u8(&p, 99);
	u32(&p, 46);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -ENOTSUP);
	assert_int_equal(r.id, 46);
	p.n = 0;
	u8(&p, SFTP_STATUS); /* a reply type sent by a client */
	u32(&p, 47);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -ENOTSUP);
}

static void test_parse_extended(void **state)
{
	struct sftp_req r;
	bool has_id;
	struct pk p = { 0 };
	u8(&p, SFTP_EXTENDED);
	u32(&p, 1);
	str(&p, "posix-rename@openssh.com");
	str(&p, "a");
	str(&p, "b");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.ext, SFTP_EXT_POSIX_RENAME);
	assert_true(slice_is(r.path, "a") && slice_is(r.path2, "b"));
	p.n = 0;
	u8(&p, SFTP_EXTENDED);
	u32(&p, 2);
	str(&p, "limits@openssh.com");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.ext, SFTP_EXT_LIMITS);
	p.n = 0;
	u8(&p, SFTP_EXTENDED);
	u32(&p, 3);
	str(&p, "fsync@openssh.com");
	str(&p, "HHHH");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.ext, SFTP_EXT_FSYNC);
	/* An unknown extension's fields are its own: not malformed. */
	p.n = 0;
	u8(&p, SFTP_EXTENDED);
	u32(&p, 4);
	str(&p, "copy-data@example.com");
	str(&p, "whatever");
	u64(&p, 1);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.ext, SFTP_EXT_UNKNOWN);
	/* copy-data: read handle, offset, length, write handle, offset. */
	p.n = 0;
	u8(&p, SFTP_EXTENDED);
	u32(&p, 6);
	str(&p, "copy-data");
	str(&p, "RRRR");
	u64(&p, 0x100000001ull);
	u64(&p, 0);
	str(&p, "WWWW");
	u64(&p, 7);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.ext, SFTP_EXT_COPY_DATA);
	assert_true(slice_is(r.handle, "RRRR") && slice_is(r.handle2, "WWWW"));
	assert_true(r.offset == 0x100000001ull && r.length == 0 && r.offset2 == 7);
	p.n -= 8; /* the write offset cut off */
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -EBADMSG);
	assert_int_equal(r.id, 6);
	/* hardlink: old path, new path. */
	p.n = 0;
	u8(&p, SFTP_EXTENDED);
	u32(&p, 7);
	str(&p, "hardlink@openssh.com");
	str(&p, "old");
	str(&p, "new");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.ext, SFTP_EXT_HARDLINK);
	assert_true(slice_is(r.path, "old") && slice_is(r.path2, "new"));
	/* lsetstat: path, attrs. */
	p.n = 0;
	u8(&p, SFTP_EXTENDED);
	u32(&p, 8);
	str(&p, "lsetstat@openssh.com");
	str(&p, "ln");
	u32(&p, SFTP_ATTR_ACMODTIME);
	u32(&p, 1);
	u32(&p, 2);
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), 0);
	assert_int_equal(r.ext, SFTP_EXT_LSETSTAT);
	assert_true(slice_is(r.path, "ln"));
	assert_true(r.attrs.flags == SFTP_ATTR_ACMODTIME && r.attrs.atime == 1 && r.attrs.mtime == 2);
	p.n -= 4;
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -EBADMSG);
	/* A known one with a missing field is. */
	p.n = 0;
	u8(&p, SFTP_EXTENDED);
	u32(&p, 5);
	str(&p, "statvfs@openssh.com");
	assert_int_equal(sftp_parse(p.b, p.n, &r, &has_id), -EBADMSG);
	assert_int_equal(r.id, 5);
}

static void test_replies(void **state)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	assert_int_equal(sftp_put_status(&b, 5, SFTP_NO_SUCH_FILE, "gone"), 0);
	static const char st[] = "\0\0\0\x17\x65\0\0\0\x05\0\0\0\x02\0\0\0\x04gone\0\0\0\x02"
				 "en";
	assert_int_equal(b.len, sizeof(st) - 1);
	assert_memory_equal(buf_data(&b), st, sizeof(st) - 1);
	buf_reset(&b);

	/* DATA: room reserved, fewer bytes written. */
	int err = 0;
	char *d = sftp_data_begin(&b, 9, 100, &err);
	assert_non_null(d);
	memcpy(d, "xyz", 3);
	sftp_data_end(&b, d, 100, 3);
	static const char dt[] = "\0\0\0\x0c\x67\0\0\0\x09\0\0\0\x03xyz";
	assert_int_equal(b.len, sizeof(dt) - 1);
	assert_memory_equal(buf_data(&b), dt, sizeof(dt) - 1);
	buf_reset(&b);

	/* NAME built entry by entry. */
	size_t mark;
	struct sftp_attrs a = { .flags = SFTP_ATTR_SIZE, .size = 7 };
	assert_int_equal(sftp_name_begin(&b, 3, &mark), 0);
	assert_int_equal(sftp_name_add(&b, SLICE_LIT("f"), SLICE_LIT("l"), &a), 0);
	sftp_name_end(&b, mark, 1);
	assert_int_equal(get32(buf_data(&b)), b.len - 4);
	assert_int_equal((unsigned char)buf_data(&b)[4], SFTP_NAME);
	assert_int_equal(get32(buf_data(&b) + 9), 1);
	buf_reset(&b);

	/* VERSION names every extension served. */
	assert_int_equal(sftp_put_version(&b), 0);
	assert_int_equal((unsigned char)buf_data(&b)[4], SFTP_VERSION_REPLY);
	assert_int_equal(get32(buf_data(&b) + 5), 3);
	assert_non_null(memmem(buf_data(&b), b.len, "posix-rename@openssh.com", 24));
	assert_non_null(memmem(buf_data(&b), b.len, "limits@openssh.com", 18));
	assert_non_null(memmem(buf_data(&b), b.len, "hardlink@openssh.com", 20));
	assert_non_null(memmem(buf_data(&b), b.len,
			       "\0\0\0\x09"
			       "copy-data"
			       "\0\0\0\x01"
			       "1",
			       18));
	assert_non_null(memmem(buf_data(&b), b.len, "lsetstat@openssh.com", 20));
	buf_free(&b);

	/* A reply that does not fit leaves nothing behind. */
	buf_init(&b, 10);
	assert_int_equal(sftp_put_status(&b, 1, SFTP_OK, "a long message"), -ENOBUFS);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame),	  cmocka_unit_test(test_parse_requests),
		cmocka_unit_test(test_parse_bad), cmocka_unit_test(test_parse_extended),
		cmocka_unit_test(test_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
