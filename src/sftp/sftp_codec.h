/* sftp_codec: SFTP version 3 packets (draft-ietf-secsh-filexfer-02 and
 * the OpenSSH extensions), a pure module: bytes in, a parsed request out;
 * replies appended to a buffer. No sockets, no files, no clocks, so the
 * unit tests and the fuzz driver run it alone.
 *
 * A packet is uint32 length, byte type, then the type's fields (uint32
 * request id first, except INIT/VERSION). Strings are uint32 length + bytes
 * and are returned as slices into the packet, never NUL-terminated. */
#ifndef FERRY_SFTP_CODEC_H
#define FERRY_SFTP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "str.h"

#define SFTP_VERSION 3

/* The longest packet accepted (length field), as OpenSSH's sftp-server:
 * a bigger one closes the session; READ and WRITE carry at most
 * SFTP_MAX_DATA bytes (the limits@openssh.com extension says so). */
#define SFTP_MAX_PACKET (256u * 1024u)
#define SFTP_MAX_DATA (SFTP_MAX_PACKET - 1024u)
/* Handles are this many bytes on the wire. */
#define SFTP_HANDLE_LEN 4u

enum sftp_type {
	SFTP_INIT = 1,
	SFTP_VERSION_REPLY = 2,
	SFTP_OPEN = 3,
	SFTP_CLOSE = 4,
	SFTP_READ = 5,
	SFTP_WRITE = 6,
	SFTP_LSTAT = 7,
	SFTP_FSTAT = 8,
	SFTP_SETSTAT = 9,
	SFTP_FSETSTAT = 10,
	SFTP_OPENDIR = 11,
	SFTP_READDIR = 12,
	SFTP_REMOVE = 13,
	SFTP_MKDIR = 14,
	SFTP_RMDIR = 15,
	SFTP_REALPATH = 16,
	SFTP_STAT = 17,
	SFTP_RENAME = 18,
	SFTP_READLINK = 19,
	SFTP_SYMLINK = 20,
	SFTP_STATUS = 101,
	SFTP_HANDLE = 102,
	SFTP_DATA = 103,
	SFTP_NAME = 104,
	SFTP_ATTRS = 105,
	SFTP_EXTENDED = 200,
	SFTP_EXTENDED_REPLY = 201,
};

/* Status codes (filexfer-02 §7). */
enum sftp_status {
	SFTP_OK = 0,
	SFTP_EOF = 1,
	SFTP_NO_SUCH_FILE = 2,
	SFTP_PERMISSION_DENIED = 3,
	SFTP_FAILURE = 4,
	SFTP_BAD_MESSAGE = 5,
	SFTP_NO_CONNECTION = 6,
	SFTP_CONNECTION_LOST = 7,
	SFTP_OP_UNSUPPORTED = 8,
};

/* OPEN's pflags. */
#define SFTP_FXF_READ 0x01u
#define SFTP_FXF_WRITE 0x02u
#define SFTP_FXF_APPEND 0x04u
#define SFTP_FXF_CREAT 0x08u
#define SFTP_FXF_TRUNC 0x10u
#define SFTP_FXF_EXCL 0x20u

/* ATTRS flags. */
#define SFTP_ATTR_SIZE 0x01u
#define SFTP_ATTR_UIDGID 0x02u
#define SFTP_ATTR_PERMISSIONS 0x04u
#define SFTP_ATTR_ACMODTIME 0x08u
#define SFTP_ATTR_EXTENDED 0x80000000u

struct sftp_attrs {
	uint32_t flags;
	uint64_t size;
	uint32_t uid, gid;
	uint32_t perms; /* st_mode bits, file type included */
	uint32_t atime, mtime;
};

/* The extended requests understood (EXTENDED's name). */
enum sftp_ext {
	SFTP_EXT_NONE,
	SFTP_EXT_POSIX_RENAME, /* posix-rename@openssh.com: path, path2 */
	SFTP_EXT_STATVFS,      /* statvfs@openssh.com: path */
	SFTP_EXT_FSTATVFS,     /* fstatvfs@openssh.com: handle */
	SFTP_EXT_FSYNC,	       /* fsync@openssh.com: handle */
	SFTP_EXT_LIMITS,       /* limits@openssh.com */
	SFTP_EXT_EXPAND_PATH,  /* expand-path@openssh.com: path */
	SFTP_EXT_HOME,	       /* home-directory: path (a user name) */
	SFTP_EXT_HARDLINK,     /* hardlink@openssh.com: path (old), path2 (new) */
	SFTP_EXT_COPY_DATA,    /* copy-data: handle, offset, length, handle2, offset2 */
	SFTP_EXT_LSETSTAT,     /* lsetstat@openssh.com: path, attrs */
	SFTP_EXT_UNKNOWN,      /* any other name: OP_UNSUPPORTED */
};

/* One request. Slices point into the packet given to sftp_parse. */
struct sftp_req {
	uint8_t type;
	uint32_t id;	  /* not for INIT */
	uint32_t version; /* INIT */
	struct slice path, path2;
	struct slice handle;
	uint32_t pflags;	 /* OPEN */
	uint64_t offset;	 /* READ, WRITE */
	uint32_t len;		 /* READ */
	struct slice data;	 /* WRITE */
	struct sftp_attrs attrs; /* OPEN, SETSTAT, FSETSTAT, MKDIR, lsetstat */
	/* copy-data (draft-ietf-secsh-filexfer-extensions-00 §7): handle at
	 * offset for length bytes (0: to its end) into handle2 at offset2. */
	uint64_t length;
	struct slice handle2;
	uint64_t offset2;
	enum sftp_ext ext;
	struct slice ext_name;
};

/* Looks for a whole packet at the start of p (n bytes): 1 with its total
 * size (length field included) in *size, 0 when more bytes are needed,
 * -EMSGSIZE when its length is over SFTP_MAX_PACKET (the peer must be
 * dropped: the stream cannot be resynchronised) or -EBADMSG when it is 0. */
int sftp_frame(const void *p, size_t n, size_t *size);

/* Parses one packet's body (after the length: type and fields, n bytes).
 * 0: *r holds the request. -EBADMSG: malformed (truncated, a string past
 * the end; bytes after the fields are ignored, as OpenSSH does); r->type and, when has_id, r->id are set so
 * the caller can answer BAD_MESSAGE. -ENOTSUP: a type this server does not
 * serve (r->id set): OP_UNSUPPORTED. *has_id says whether r->id was read. */
int sftp_parse(const void *p, size_t n, struct sftp_req *r, bool *has_id);

/* The extension name's enum (NULL-safe on the slice). */
enum sftp_ext sftp_ext_lookup(struct slice name);

/* ---- replies: each appends one whole packet to out; 0 or -ENOBUFS (out's
 * cap; nothing appended then) ---- */
/* VERSION with the extensions this server implements. */
int sftp_put_version(struct buf *out);
int sftp_put_status(struct buf *out, uint32_t id, enum sftp_status code, const char *msg);
int sftp_put_handle(struct buf *out, uint32_t id, const void *h, size_t n);
int sftp_put_attrs(struct buf *out, uint32_t id, const struct sftp_attrs *a);
/* DATA: reserves the header and n bytes, returns where the caller writes
 * the data (then sftp_data_end with how many it wrote, at most n). */
char *sftp_data_begin(struct buf *out, uint32_t id, size_t n, int *err);
void sftp_data_end(struct buf *out, char *data, size_t reserved, size_t wrote);
/* NAME, built entry by entry: begin, add..., end. The mark is the packet's
 * start; a failed add leaves the entries before it (end still works). */
int sftp_name_begin(struct buf *out, uint32_t id, size_t *mark);
int sftp_name_add(struct buf *out, struct slice name, struct slice longname, const struct sftp_attrs *a);
void sftp_name_end(struct buf *out, size_t mark, uint32_t count);
/* EXTENDED_REPLY of limits@openssh.com (max packet, read, write, handles). */
int sftp_put_limits(struct buf *out, uint32_t id, uint64_t max_handles);
/* EXTENDED_REPLY of statvfs@openssh.com (11 uint64 fields in order). */
int sftp_put_statvfs(struct buf *out, uint32_t id, const uint64_t f[11]);

/* The longest reply header of a NAME entry besides its strings and attrs. */
#define SFTP_ATTRS_MAX 32u

#endif
