/* sftp_codec: SFTP v3 packets (sftp_codec.h). Every read is bounds-checked
 * against the packet in one place (struct rd); a field past the end marks
 * the reader failed and the request malformed, never reads past it. */
#include "sftp_codec.h"

#include <errno.h>
#include <string.h>

/* ---- reading ---- */

struct rd {
	const unsigned char *p;
	size_t n, off;
	bool bad;
};

static uint8_t rd_u8(struct rd *r)
{
	if (r->bad || r->n - r->off < 1) {
		r->bad = true;
		return 0;
	}
	return r->p[r->off++];
}

static uint32_t rd_u32(struct rd *r)
{
	if (r->bad || r->n - r->off < 4) {
		r->bad = true;
		return 0;
	}
	const unsigned char *q = r->p + r->off;
	r->off += 4;
	return (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
}

static uint64_t rd_u64(struct rd *r)
{
	uint64_t hi = rd_u32(r);
	return hi << 32 | rd_u32(r);
}

/* SECURITY: the length is checked against what is left before the slice
 * is made, so a huge length cannot point past the packet. */
static struct slice rd_str(struct rd *r)
{
	uint32_t len = rd_u32(r);
	if (r->bad || r->n - r->off < len) {
		r->bad = true;
		return (struct slice){ "", 0 };
	}
	struct slice s = { (const char *)r->p + r->off, len };
	r->off += len;
	return s;
}

/* filexfer-02 §5: flags, then each field its flag announces; extended
 * pairs are read and ignored. */
static void rd_attrs(struct rd *r, struct sftp_attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->flags = rd_u32(r);
	if (a->flags & SFTP_ATTR_SIZE)
		a->size = rd_u64(r);
	if (a->flags & SFTP_ATTR_UIDGID) {
		a->uid = rd_u32(r);
		a->gid = rd_u32(r);
	}
	if (a->flags & SFTP_ATTR_PERMISSIONS)
		a->perms = rd_u32(r);
	if (a->flags & SFTP_ATTR_ACMODTIME) {
		a->atime = rd_u32(r);
		a->mtime = rd_u32(r);
	}
	if (a->flags & SFTP_ATTR_EXTENDED) {
		uint32_t count = rd_u32(r);
		/* Each pair is at least 8 bytes: a count beyond what is left
		 * fails at once rather than looping 4 billion times. */
		if (!r->bad && count > (r->n - r->off) / 8)
			r->bad = true;
		for (uint32_t i = 0; i < count && !r->bad; i++) {
			(void)rd_str(r);
			(void)rd_str(r);
		}
	}
}

int sftp_frame(const void *p, size_t n, size_t *size)
{
	if (n < 4)
		return 0;
	const unsigned char *q = p;
	uint32_t len = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
	if (len == 0)
		return -EBADMSG;
	if (len > SFTP_MAX_PACKET)
		return -EMSGSIZE;
	if (n - 4 < len)
		return 0;
	*size = 4 + (size_t)len;
	return 1;
}

static const struct {
	const char *name;
	enum sftp_ext ext;
} ext_names[] = {
	{ "posix-rename@openssh.com", SFTP_EXT_POSIX_RENAME },
	{ "statvfs@openssh.com", SFTP_EXT_STATVFS },
	{ "fstatvfs@openssh.com", SFTP_EXT_FSTATVFS },
	{ "fsync@openssh.com", SFTP_EXT_FSYNC },
	{ "limits@openssh.com", SFTP_EXT_LIMITS },
	{ "expand-path@openssh.com", SFTP_EXT_EXPAND_PATH },
	{ "home-directory", SFTP_EXT_HOME },
	{ "hardlink@openssh.com", SFTP_EXT_HARDLINK },
	{ "copy-data", SFTP_EXT_COPY_DATA },
	{ "lsetstat@openssh.com", SFTP_EXT_LSETSTAT },
};

enum sftp_ext sftp_ext_lookup(struct slice name)
{
	for (size_t i = 0; i < sizeof(ext_names) / sizeof(ext_names[0]); i++)
		if (slice_eq(name, slice_from_cstr(ext_names[i].name)))
			return ext_names[i].ext;
	return SFTP_EXT_UNKNOWN;
}

static void parse_extended(struct rd *d, struct sftp_req *r)
{
	r->ext_name = rd_str(d);
	r->ext = d->bad ? SFTP_EXT_NONE : sftp_ext_lookup(r->ext_name);
	switch (r->ext) {
	case SFTP_EXT_POSIX_RENAME:
	case SFTP_EXT_HARDLINK:
		r->path = rd_str(d);
		r->path2 = rd_str(d);
		break;
	case SFTP_EXT_LSETSTAT:
		r->path = rd_str(d);
		rd_attrs(d, &r->attrs);
		break;
	case SFTP_EXT_COPY_DATA:
		r->handle = rd_str(d);
		r->offset = rd_u64(d);
		r->length = rd_u64(d);
		r->handle2 = rd_str(d);
		r->offset2 = rd_u64(d);
		break;
	case SFTP_EXT_STATVFS:
	case SFTP_EXT_EXPAND_PATH:
	case SFTP_EXT_HOME:
		r->path = rd_str(d);
		break;
	case SFTP_EXT_FSTATVFS:
	case SFTP_EXT_FSYNC:
		r->handle = rd_str(d);
		break;
	case SFTP_EXT_UNKNOWN:
		d->off = d->n; /* its fields are its own: not malformed */
		break;
	case SFTP_EXT_LIMITS:
	case SFTP_EXT_NONE:
		break;
	}
}

int sftp_parse(const void *p, size_t n, struct sftp_req *r, bool *has_id)
{
	struct rd d = { .p = p, .n = n };
	memset(r, 0, sizeof(*r));
	*has_id = false;
	r->type = rd_u8(&d);
	if (d.bad)
		return -EBADMSG;
	if (r->type == SFTP_INIT) {
		r->version = rd_u32(&d);
		d.off = d.bad ? d.off : d.n; /* extension pairs (none in v3 clients we serve) are ignored */
		return d.bad ? -EBADMSG : 0;
	}
	r->id = rd_u32(&d);
	if (d.bad)
		return -EBADMSG;
	*has_id = true;
	switch (r->type) {
	case SFTP_OPEN:
		r->path = rd_str(&d);
		r->pflags = rd_u32(&d);
		rd_attrs(&d, &r->attrs);
		break;
	case SFTP_CLOSE:
	case SFTP_FSTAT:
	case SFTP_READDIR:
		r->handle = rd_str(&d);
		break;
	case SFTP_READ:
		r->handle = rd_str(&d);
		r->offset = rd_u64(&d);
		r->len = rd_u32(&d);
		break;
	case SFTP_WRITE:
		r->handle = rd_str(&d);
		r->offset = rd_u64(&d);
		r->data = rd_str(&d);
		break;
	case SFTP_LSTAT:
	case SFTP_STAT:
	case SFTP_OPENDIR:
	case SFTP_REMOVE:
	case SFTP_RMDIR:
	case SFTP_READLINK:
		r->path = rd_str(&d);
		break;
	case SFTP_REALPATH:
		r->path = rd_str(&d);
		/* OpenSSH's sftp-server ignores a control byte and compose
		 * paths (draft 6); version 3 has none. */
		break;
	case SFTP_SETSTAT:
	case SFTP_MKDIR:
		r->path = rd_str(&d);
		rd_attrs(&d, &r->attrs);
		break;
	case SFTP_FSETSTAT:
		r->handle = rd_str(&d);
		rd_attrs(&d, &r->attrs);
		break;
	case SFTP_RENAME:
	case SFTP_SYMLINK:
		r->path = rd_str(&d);
		r->path2 = rd_str(&d);
		break;
	case SFTP_EXTENDED:
		parse_extended(&d, r);
		break;
	default:
		return -ENOTSUP;
	}
	/* Bytes after the fields are ignored, as OpenSSH's sftp-server skips
	 * them: the packet's length already delimits it, and clients send
	 * them (rclone 1.60's sftp library sends a whole 32 KiB WRITE packet
	 * around the shorter data of a file's last chunk). */
	if (d.bad)
		return -EBADMSG;
	return 0;
}

/* ---- writing: each packet is built whole in a scratch area of out, then
 * its length is patched; on -ENOBUFS nothing stays appended ---- */

struct wr {
	struct buf *out;
	size_t start; /* packet's offset from buf_data(out) */
	int err;
};

static void wr_bytes(struct wr *w, const void *p, size_t n)
{
	if (!w->err)
		w->err = buf_append(w->out, p, n);
}

static void wr_u8(struct wr *w, uint8_t v)
{
	wr_bytes(w, &v, 1);
}

static void put32(unsigned char *q, uint32_t v)
{
	q[0] = (unsigned char)(v >> 24);
	q[1] = (unsigned char)(v >> 16);
	q[2] = (unsigned char)(v >> 8);
	q[3] = (unsigned char)v;
}

static void wr_u32(struct wr *w, uint32_t v)
{
	unsigned char q[4];
	put32(q, v);
	wr_bytes(w, q, 4);
}

static void wr_u64(struct wr *w, uint64_t v)
{
	wr_u32(w, (uint32_t)(v >> 32));
	wr_u32(w, (uint32_t)v);
}

static void wr_str(struct wr *w, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		w->err = -EINVAL;
		return;
	}
	wr_u32(w, (uint32_t)n);
	wr_bytes(w, p, n);
}

static void wr_cstr(struct wr *w, const char *s)
{
	wr_str(w, s, strlen(s));
}

static void wr_attrs(struct wr *w, const struct sftp_attrs *a)
{
	uint32_t f = a->flags & ~SFTP_ATTR_EXTENDED;
	wr_u32(w, f);
	if (f & SFTP_ATTR_SIZE)
		wr_u64(w, a->size);
	if (f & SFTP_ATTR_UIDGID) {
		wr_u32(w, a->uid);
		wr_u32(w, a->gid);
	}
	if (f & SFTP_ATTR_PERMISSIONS)
		wr_u32(w, a->perms);
	if (f & SFTP_ATTR_ACMODTIME) {
		wr_u32(w, a->atime);
		wr_u32(w, a->mtime);
	}
}

/* Starts a packet: the length (patched by wr_end) and the type. */
static void wr_begin(struct wr *w, struct buf *out, uint8_t type)
{
	*w = (struct wr){ .out = out, .start = out->len };
	wr_u32(w, 0);
	wr_u8(w, type);
}

static int wr_end(struct wr *w)
{
	struct buf *out = w->out;
	if (w->err) {
		/* Drop the partial packet: out->len back to where it began. */
		out->len = w->start < out->len ? w->start : out->len;
		return w->err;
	}
	put32((unsigned char *)buf_data(out) + w->start, (uint32_t)(out->len - w->start - 4));
	return 0;
}

int sftp_put_version(struct buf *out)
{
	struct wr w;
	wr_begin(&w, out, SFTP_VERSION_REPLY);
	wr_u32(&w, SFTP_VERSION);
	/* The extensions served, each with its version string as OpenSSH
	 * announces them (clients check the version). */
	static const char *const exts[][2] = {
		{ "posix-rename@openssh.com", "1" },
		{ "statvfs@openssh.com", "2" },
		{ "fstatvfs@openssh.com", "2" },
		{ "fsync@openssh.com", "1" },
		{ "limits@openssh.com", "1" },
		{ "expand-path@openssh.com", "1" },
		{ "home-directory", "1" },
		{ "hardlink@openssh.com", "1" },
		{ "copy-data", "1" },
		{ "lsetstat@openssh.com", "1" },
	};
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		wr_cstr(&w, exts[i][0]);
		wr_cstr(&w, exts[i][1]);
	}
	return wr_end(&w);
}

int sftp_put_status(struct buf *out, uint32_t id, enum sftp_status code, const char *msg)
{
	struct wr w;
	wr_begin(&w, out, SFTP_STATUS);
	wr_u32(&w, id);
	wr_u32(&w, (uint32_t)code);
	wr_cstr(&w, msg ? msg : "");
	wr_cstr(&w, "en");
	return wr_end(&w);
}

int sftp_put_handle(struct buf *out, uint32_t id, const void *h, size_t n)
{
	struct wr w;
	wr_begin(&w, out, SFTP_HANDLE);
	wr_u32(&w, id);
	wr_str(&w, h, n);
	return wr_end(&w);
}

int sftp_put_attrs(struct buf *out, uint32_t id, const struct sftp_attrs *a)
{
	struct wr w;
	wr_begin(&w, out, SFTP_ATTRS);
	wr_u32(&w, id);
	wr_attrs(&w, a);
	return wr_end(&w);
}

/* DATA's header: length, type, id, data length. */
#define DATA_HDR 13u

char *sftp_data_begin(struct buf *out, uint32_t id, size_t n, int *err)
{
	char *p = buf_reserve(out, DATA_HDR + n, err);
	if (!p)
		return NULL;
	unsigned char *q = (unsigned char *)p;
	q[4] = SFTP_DATA;
	put32(q + 5, id);
	return p + DATA_HDR;
}

void sftp_data_end(struct buf *out, char *data, size_t reserved, size_t wrote)
{
	unsigned char *q = (unsigned char *)data - DATA_HDR;
	if (wrote > reserved)
		wrote = reserved;
	put32(q, (uint32_t)(DATA_HDR - 4 + wrote));
	put32(q + 9, (uint32_t)wrote);
	buf_commit(out, DATA_HDR + wrote);
}

int sftp_name_begin(struct buf *out, uint32_t id, size_t *mark)
{
	struct wr w;
	wr_begin(&w, out, SFTP_NAME);
	wr_u32(&w, id);
	wr_u32(&w, 0); /* count, patched by sftp_name_end */
	*mark = w.start;
	if (w.err)
		out->len = w.start < out->len ? w.start : out->len;
	return w.err;
}

int sftp_name_add(struct buf *out, struct slice name, struct slice longname, const struct sftp_attrs *a)
{
	struct wr w = { .out = out, .start = out->len };
	wr_str(&w, name.p, name.n);
	wr_str(&w, longname.p, longname.n);
	wr_attrs(&w, a);
	if (w.err)
		out->len = w.start < out->len ? w.start : out->len;
	return w.err;
}

void sftp_name_end(struct buf *out, size_t mark, uint32_t count)
{
	unsigned char *q = (unsigned char *)buf_data(out) + mark;
	put32(q, (uint32_t)(out->len - mark - 4));
	put32(q + 9, count);
}

int sftp_put_limits(struct buf *out, uint32_t id, uint64_t max_handles)
{
	struct wr w;
	wr_begin(&w, out, SFTP_EXTENDED_REPLY);
	wr_u32(&w, id);
	wr_u64(&w, SFTP_MAX_PACKET);
	wr_u64(&w, SFTP_MAX_DATA);
	wr_u64(&w, SFTP_MAX_DATA);
	wr_u64(&w, max_handles);
	return wr_end(&w);
}

int sftp_put_statvfs(struct buf *out, uint32_t id, const uint64_t f[11])
{
	struct wr w;
	wr_begin(&w, out, SFTP_EXTENDED_REPLY);
	wr_u32(&w, id);
	for (int i = 0; i < 11; i++)
		wr_u64(&w, f[i]);
	return wr_end(&w);
}
