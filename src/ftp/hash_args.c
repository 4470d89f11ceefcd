/* hash_args: pure argument parsing for RANG and the X checksum commands
 * (hash_args.h). */
#include "hash_args.h"

#include <errno.h>
#include <stdint.h>

#include "parse.h"

enum hash_rang hash_args_rang(struct slice arg, uint64_t *start, uint64_t *end)
{
	struct slice a, b;
	if (!slice_split(arg, ' ', &a, &b) || parse_u64(a, INT64_MAX, start) != 0 || parse_u64(b, INT64_MAX, end) != 0)
		return HASH_RANG_SYNTAX;
	if (*start == 1 && *end == 0)
		return HASH_RANG_RESET;
	return *start > *end ? HASH_RANG_BACKWARDS : HASH_RANG_SET;
}

/* The last space-separated word of s into *word, the rest into *head;
 * false when s has no space. */
static bool last_word(struct slice s, struct slice *head, struct slice *word)
{
	for (size_t i = s.n; i > 0; i--)
		if (s.p[i - 1] == ' ') {
			*head = (struct slice){ s.p, i - 1 };
			*word = (struct slice){ s.p + i, s.n - i };
			return true;
		}
	return false;
}

int hash_args_x(struct slice arg, struct slice *path, bool *ranged, uint64_t *start, uint64_t *end)
{
	struct slice head, w2, head2, w1;
	uint64_t a, b;
	*path = arg;
	*ranged = false;
	if (!last_word(arg, &head, &w2) || parse_u64(w2, INT64_MAX, &b) != 0)
		return 0;
	if (!last_word(head, &head2, &w1) || parse_u64(w1, INT64_MAX, &a) != 0)
		return head.n ? -EINVAL : 0;
	if (head2.n == 0)
		return -EINVAL;
	*path = head2;
	*ranged = true;
	*start = a;
	*end = b;
	return 0;
}

void hash_args_upper(char *hex)
{
	for (; *hex; hex++)
		if (*hex >= 'a' && *hex <= 'f')
			*hex = (char)(*hex - 32);
}
