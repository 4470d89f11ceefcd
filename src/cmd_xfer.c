/* TYPE MODE STRU PWD: transfer parameters and the working directory name. */
#include <string.h>

#include "cmdtab.h"
#include "proto_impl.h"
#include "reply.h"

/* Splits "A N" style arguments into up to three single-space-separated
 * words; returns the count (more than three counts as 4). */
static size_t words(struct slice s, struct slice w[3])
{
	size_t n = 0;
	s = slice_trim_spaces(s);
	while (s.n) {
		struct slice head, tail;
		(void)slice_split(s, ' ', &head, &tail);
		if (n == 3)
			return 4;
		w[n++] = head;
		s = slice_trim_spaces(tail);
	}
	return n;
}

void cmd_type(struct proto *p, struct slice arg)
{
	struct slice w[3];
	size_t n = words(arg, w);
	if (n == 0 || n > 2 || w[0].n != 1) {
		proto_reply(p, 501, "Unrecognised TYPE.");
		return;
	}
	switch (w[0].p[0]) {
	case 'A':
	case 'a':
		/* RFC 959 §4.1.2: a first parameter alone means format N. */
		if (n == 2 && !slice_eq_ci(w[1], "N")) {
			if (slice_eq_ci(w[1], "T") || slice_eq_ci(w[1], "C"))
				proto_reply(p, 504, "Only TYPE A N (non-print) is supported.");
			else
				proto_reply(p, 501, "Unrecognised TYPE A format.");
			return;
		}
		p->type = 'A';
		proto_reply(p, 200, "Switching to ASCII mode.");
		return;
	case 'I':
	case 'i':
		if (n != 1)
			break;
		p->type = 'I';
		proto_reply(p, 200, "Switching to Binary mode.");
		return;
	case 'L':
	case 'l':
		if (n != 2)
			break;
		if (!slice_eq(w[1], SLICE_LIT("8"))) {
			proto_reply(p, 504, "Only TYPE L 8 is supported.");
			return;
		}
		p->type = 'I';
		proto_reply(p, 200, "Switching to Binary mode.");
		return;
	case 'E':
	case 'e':
		proto_reply(p, 504, "TYPE E (EBCDIC) is not supported.");
		return;
	default:
		break;
	}
	proto_reply(p, 501, "Unrecognised TYPE.");
}

/* MODE and STRU: one letter, of which only the first is implemented. */
static void one_letter(struct proto *p, struct slice arg, const char *what, const char *ok, const char *known)
{
	arg = slice_trim_spaces(arg);
	char c = arg.n == 1 ? arg.p[0] : '\0';
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c && c == ok[0])
		proto_reply(p, 200, "%s set to %s.", what, ok);
	else if (c && strchr(known, c))
		proto_reply(p, 504, "Only %s %s is supported.", what, ok);
	else
		proto_reply(p, 501, "Unrecognised %s.", what);
}

void cmd_mode(struct proto *p, struct slice arg)
{
	one_letter(p, arg, "MODE", "S", "BCZ");
}

void cmd_stru(struct proto *p, struct slice arg)
{
	one_letter(p, arg, "STRU", "F", "RP");
}

void cmd_pwd(struct proto *p, struct slice arg)
{
	char quoted[PATH_MAX * 2];
	if (reply_quote_path(p->cwd, quoted, sizeof(quoted)) != 0) {
		proto_reply(p, 550, "Current directory name is too long to show.");
		return;
	}
	proto_reply(p, 257, "\"%s\" is the current directory.", quoted);
}
