/* sftp_keyline: an OpenSSH public key line taken apart (the fields, the
 * line ends and blanks allowed) and every refusal with its reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sftp_keyline.h"

#define KEY "AAAAC3NzaC1lZDI1NTE5AAAAIL9gm3TkE4fueCeUvRJ9qXZWQbkOpBzjmJRMARXvTRbC"

static void split_ok(const char *line, const char *type, const char *blob, const char *comment)
{
	struct sftp_keyline kl;
	const char *why = "unset";
	assert_int_equal(sftp_keyline_split(slice_from_cstr(line), &kl, &why), 0);
	assert_null(why);
	assert_int_equal(kl.type.n, strlen(type));
	assert_memory_equal(kl.type.p, type, kl.type.n);
	assert_int_equal(kl.blob.n, strlen(blob));
	assert_memory_equal(kl.blob.p, blob, kl.blob.n);
	assert_int_equal(kl.comment.n, strlen(comment));
	if (kl.comment.n)
		assert_memory_equal(kl.comment.p, comment, kl.comment.n);
}

static void split_bad(struct slice line, const char *reason)
{
	struct sftp_keyline kl;
	const char *why = NULL;
	assert_int_equal(sftp_keyline_split(line, &kl, &why), -EINVAL);
	assert_non_null(why);
	assert_non_null(strstr(why, reason));
}

static void test_fields(void **state)
{
	split_ok("ssh-ed25519 " KEY " bob@laptop\n", "ssh-ed25519", KEY, "bob@laptop");
	split_ok("ssh-ed25519 " KEY, "ssh-ed25519", KEY, "");
	split_ok("ssh-ed25519 " KEY "\r\n", "ssh-ed25519", KEY, "");
	/* Blanks around and between fields; the comment keeps its own. */
	split_ok(" \tssh-ed25519\t " KEY "  my  key \t\n", "ssh-ed25519", KEY, "my  key");
	split_ok("sk-ssh-ed25519@openssh.com " KEY " x", "sk-ssh-ed25519@openssh.com", KEY, "x");
	/* Padding is base64's own. */
	split_ok("ssh-rsa AAAAAA== c", "ssh-rsa", "AAAAAA==", "c");
}

static void test_refusals(void **state)
{
	split_bad(slice_from_cstr(""), "empty");
	split_bad(slice_from_cstr(" \t\n"), "empty");
	split_bad(slice_from_cstr("ssh-ed25519"), "no key after");
	split_bad(slice_from_cstr("ssh-ed25519   \n"), "no key after");
	split_bad(slice_from_cstr("ssh-ed25519 " KEY " a\nssh-ed25519 " KEY " b\n"), "more than one line");
	split_bad(slice_from_cstr("ssh-ed25519 " KEY " a\n\n"), "more than one line");
	split_bad(slice_from_cstr("ssh-ed25519 " KEY " a\033[2J"), "control characters");
	split_bad((struct slice){ "ssh-ed25519 A\0AA", 16 }, "control characters");
	split_bad(slice_from_cstr("from=\"10.0.0.1\" ssh-ed25519 " KEY), "key type");
	split_bad(slice_from_cstr("# ssh-ed25519 " KEY), "key type");
	split_bad(slice_from_cstr("no-pty ssh-ed25519 " KEY), "not base64");
	split_bad(slice_from_cstr("ssh-ed25519 AAA"), "not base64");
	split_bad(slice_from_cstr("ssh-ed25519 AA=A"), "not base64");
	split_bad(slice_from_cstr("ssh-ed25519 A==="), "not base64");
	split_bad(slice_from_cstr("ssh-ed25519 AA*A"), "not base64");
}

static void test_length(void **state)
{
	static char line[SFTP_KEYLINE_MAX + 64];
	size_t n = (size_t)snprintf(line, sizeof(line), "ssh-rsa ");
	/* The longest line taken, then one byte more. */
	while (n < SFTP_KEYLINE_MAX)
		line[n++] = 'A';
	n -= (n - 8) % 4;
	struct sftp_keyline kl;
	const char *why = NULL;
	assert_int_equal(sftp_keyline_split((struct slice){ line, n }, &kl, &why), 0);
	while (n <= SFTP_KEYLINE_MAX)
		line[n++] = 'A';
	split_bad((struct slice){ line, n }, "too long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
