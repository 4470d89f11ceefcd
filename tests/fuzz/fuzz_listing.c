/* libFuzzer driver: the line functions of src/fs/listing_line.c (LIST, MLSD/MLST)
 * with fuzzed names, symlink targets and stat fields, and the OPTS MLST
 * fact parser. Every line must be exactly one CRLF-terminated line: a file
 * name with CR or LF must never split it (RFC 959 listings are parsed line
 * by line by clients). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auth.h"
#include "buf.h"
#include "listing.h"

struct fuzz_head {
	uint64_t size;
	int64_t mtime, now;
	uint32_t mode, nlink;
	uint8_t flags, facts;
};

static void check_one_line(const struct buf *b)
{
	const char *p = buf_data(b);
	if (b->len < 2 || p[b->len - 2] != '\r' || p[b->len - 1] != '\n')
		abort();
	for (size_t i = 0; i + 2 < b->len; i++)
		if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0')
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_head h;
	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	/* "NAME\0TARGET" (NUL-terminated strings, as readdir/readlink give). */
	char *name = malloc(size + 1);
	if (!name)
		abort();
	memcpy(name, data, size);
	name[size] = '\0';
	size_t nl = strlen(name);
	const char *target = nl < size ? name + nl + 1 : NULL;
	struct stat st = { 0 };
	st.st_mode = h.mode;
	st.st_size = (off_t)(h.size & INT64_MAX);
	st.st_nlink = h.nlink;
	st.st_mtim.tv_sec = h.mtime;
	struct listing_opts o = { .all = h.flags & 1, .facts = h.facts, .perms = PERM_ALL, .now = h.now };
	struct buf b;
	buf_init(&b, 1 << 16);
	if (listing_list_line(&b, name, &st, target, &o) == 0)
		check_one_line(&b);
	buf_consume(&b, b.len);
	static const char *const types[] = { "file", "dir", "cdir", "pdir" };
	if (listing_facts_line(&b, name, &st, types[h.flags >> 6], h.flags & 2, &o) == 0)
		check_one_line(&b);
	buf_free(&b);
	char echo[128];
	(void)listing_parse_facts(name, echo, (h.flags >> 2) % sizeof(echo) + 1);
	if (strlen(echo) > (h.flags >> 2) % sizeof(echo))
		abort();
	free(name);
	return 0;
}
