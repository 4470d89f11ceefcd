/* str: slices over untrusted bytes and the few string operations on them. */
#ifndef FERRY_STR_H
#define FERRY_STR_H

#include <stdbool.h>
#include <stddef.h>

/* A borrowed, not NUL-terminated view of bytes. */
struct slice {
	const char *p;
	size_t n;
};

#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })

struct slice slice_from_cstr(const char *s);
bool slice_eq(struct slice a, struct slice b);
/* ASCII case-insensitive equality with a C string. */
bool slice_eq_ci(struct slice a, const char *b);
/* Split at the first byte c: *head is before it, *tail after; false if absent
 * (then *head is the whole slice and *tail is empty). */
bool slice_split(struct slice s, char c, struct slice *head, struct slice *tail);
struct slice slice_trim_spaces(struct slice s);
/* True if the slice contains a NUL or an ASCII control byte (0x00-0x1f, 0x7f). */
bool slice_has_ctl(struct slice s);
/* Returns a newly allocated NUL-terminated copy (caller frees). */
char *slice_dup(struct slice s);

/* Writes a printable, escaped form of s into out (always NUL-terminated,
 * truncated with "..." if it does not fit): bytes outside 0x20-0x7e and the
 * backslash and double quote become \xHH escapes. Used wherever client text
 * reaches logs. Returns out. */
char *str_escape(struct slice s, char *out, size_t outsz);

/* Bounded copy that always NUL-terminates; returns false if truncated. */
bool str_copy(char *dst, size_t dstsz, const char *src);

#endif
