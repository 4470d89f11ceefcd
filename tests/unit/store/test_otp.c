/* Unit tests for src/store/otp.c: every RFC 2289 Appendix C vector (MD5 and SHA1,
 * hex and six-word forms), dictionary round trips, checksum failures, answer
 * parsing in its accepted variants, seeds and made-up challenges. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "otp.h"
#include "util.h"

static struct slice S(const char *s)
{
	return slice_from_cstr(s);
}

/* RFC 2289 Appendix C, copied from the RFC (MD4 rows left out: see otp.h). */
static const struct {
	enum otp_alg alg;
	const char *passphrase, *seed;
	unsigned count;
	const char *hex, *words;
} vectors[] = {
    { OTP_MD5, "This is a test.", "TeSt", 0, "9E87 6134 D904 99DD", "INCH SEA ANNE LONG AHEM TOUR" },
    { OTP_MD5, "This is a test.", "TeSt", 1, "7965 E054 36F5 029F", "EASE OIL FUM CURE AWRY AVIS" },
    { OTP_MD5, "This is a test.", "TeSt", 99, "50FE 1962 C496 5880", "BAIL TUFT BITS GANG CHEF THY" },
    { OTP_MD5, "AbCdEfGhIjK", "alpha1", 0, "8706 6DD9 644B F206", "FULL PEW DOWN ONCE MORT ARC" },
    { OTP_MD5, "AbCdEfGhIjK", "alpha1", 1, "7CD3 4C10 40AD D14B", "FACT HOOF AT FIST SITE KENT" },
    { OTP_MD5, "AbCdEfGhIjK", "alpha1", 99, "5AA3 7A81 F212 146C", "BODE HOP JAKE STOW JUT RAP" },
    { OTP_MD5, "OTP's are good", "correct", 0, "F205 7539 43DE 4CF9", "ULAN NEW ARMY FUSE SUIT EYED" },
    { OTP_MD5, "OTP's are good", "correct", 1, "DDCD AC95 6F23 4937", "SKIM CULT LOB SLAM POE HOWL" },
    { OTP_MD5, "OTP's are good", "correct", 99, "B203 E28F A525 BE47", "LONG IVY JULY AJAR BOND LEE" },
    { OTP_SHA1, "This is a test.", "TeSt", 0, "BB9E 6AE1 979D 8FF4", "MILT VARY MAST OK SEES WENT" },
    { OTP_SHA1, "This is a test.", "TeSt", 1, "63D9 3663 9734 385B", "CART OTTO HIVE ODE VAT NUT" },
    { OTP_SHA1, "This is a test.", "TeSt", 99, "87FE C776 8B73 CCF9", "GAFF WAIT SKID GIG SKY EYED" },
    { OTP_SHA1, "AbCdEfGhIjK", "alpha1", 0, "AD85 F658 EBE3 83C9", "LEST OR HEEL SCOT ROB SUIT" },
    { OTP_SHA1, "AbCdEfGhIjK", "alpha1", 1, "D07C E229 B5CF 119B", "RITE TAKE GELD COST TUNE RECK" },
    { OTP_SHA1, "AbCdEfGhIjK", "alpha1", 99, "27BC 7103 5AAF 3DC6", "MAY STAR TIN LYON VEDA STAN" },
    { OTP_SHA1, "OTP's are good", "correct", 0, "D51F 3E99 BF8E 6F0B", "RUST WELT KICK FELL TAIL FRAU" },
    { OTP_SHA1, "OTP's are good", "correct", 1, "82AE B52D 9437 74E4", "FLIT DOSE ALSO MEW DRUM DEFY" },
    { OTP_SHA1, "OTP's are good", "correct", 99, "4F29 6A74 FE15 67EC", "AURA ALOE HURL WING BERG WAIT" },
};

static void test_rfc_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(vectors); i++) {
		uint64_t v = 0, parsed = 0;
		char hex[OTP_HEX_TEXT_MAX], words[OTP_WORDS_TEXT_MAX];
		assert_int_equal(otp_generate(vectors[i].alg, S(vectors[i].seed), S(vectors[i].passphrase),
					      vectors[i].count, &v),
				 0);
		otp_format_hex(v, hex, sizeof(hex));
		otp_format_words(v, words, sizeof(words));
		assert_string_equal(hex, vectors[i].hex);
		assert_string_equal(words, vectors[i].words);
		assert_int_equal(otp_parse_answer(S(vectors[i].words), &parsed), 0);
		assert_true(parsed == v);
		assert_int_equal(otp_parse_answer(S(vectors[i].hex), &parsed), 0);
		assert_true(parsed == v);
	}
}

/* What a server does (RFC 2289 §7): one more step on the answer for n-1
 * must give the stored OTP(n). */
static void test_step_links_counts(void **state)
{
	(void)state;
	for (size_t i = 0; i + 1 < ARRAY_LEN(vectors); i++) {
		if (vectors[i].count != 0 || vectors[i + 1].count != 1)
			continue;
		uint64_t zero, one, stepped;
		assert_int_equal(otp_parse_answer(S(vectors[i].hex), &zero), 0);
		assert_int_equal(otp_parse_answer(S(vectors[i + 1].hex), &one), 0);
		assert_int_equal(otp_step(vectors[i].alg, zero, &stepped), 0);
		assert_true(stepped == one);
	}
}

static void test_dictionary(void **state)
{
	(void)state;
	/* Ranges sorted, lengths as otp.c assumes; spot checks of App. D. */
	for (int i = 1; i < OTP_WORDS; i++) {
		if (i == 571)
			continue;
		assert_true(strcmp(otp_words[i - 1], otp_words[i]) < 0);
	}
	for (int i = 0; i < OTP_WORDS; i++)
		assert_true(i < 571 ? strlen(otp_words[i]) <= 3 : strlen(otp_words[i]) == 4);
	assert_string_equal(otp_words[0], "A");
	assert_string_equal(otp_words[570], "YOU");
	assert_string_equal(otp_words[571], "ABED");
	assert_string_equal(otp_words[2047], "YOKE");
}

static void test_round_trips(void **state)
{
	(void)state;
	uint64_t v = 0x0123456789abcdefull;
	/* A walk over values with every bit pattern position exercised. */
	for (int i = 0; i < 4096; i++) {
		char words[OTP_WORDS_TEXT_MAX], hex[OTP_HEX_TEXT_MAX];
		uint64_t a = 0, b = 0;
		v = v * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t x = i < 64 ? (1ull << i) : i == 64 ? 0 : i == 65 ? UINT64_MAX : v;
		otp_format_words(x, words, sizeof(words));
		otp_format_hex(x, hex, sizeof(hex));
		assert_int_equal(otp_parse_answer(S(words), &a), 0);
		assert_int_equal(otp_parse_answer(S(hex), &b), 0);
		assert_true(a == x);
		assert_true(b == x);
	}
}

static void test_checksum_failure(void **state)
{
	(void)state;
	uint64_t v;
	/* Last word changed: the value bits may be fine, the checksum is not. */
	assert_int_equal(otp_parse_answer(S("BAIL TUFT BITS GANG CHEF TIC"), &v), -EBADMSG);
	assert_int_equal(otp_parse_answer(S("BAIL TUFT BITS GANG CHEF THE"), &v), -EBADMSG);
	/* Changing an earlier word changes the bits behind the checksum. */
	assert_int_equal(otp_parse_answer(S("BAIL TUFT BITS GANG CHEW THY"), &v), -EBADMSG);
	/* The last word carries 9 value bits and the 2 checksum bits: of the
	 * 2048 possible last words, one in four has the right checksum. */
	int good = 0;
	for (int i = 0; i < OTP_WORDS; i++) {
		char text[64];
		(void)snprintf(text, sizeof(text), "BAIL TUFT BITS GANG CHEF %.4s", otp_words[i]);
		if (otp_parse_answer(S(text), &v) == 0)
			good++;
	}
	assert_int_equal(good, 512);
}

static void test_parse_variants(void **state)
{
	(void)state;
	uint64_t v = 0;
	const uint64_t want = 0x50FE1962C4965880ull;
	static const char *const ok[] = {
		"bail  tuft bits gang chef thy",
		"  Bail\tTuft BITS gang Chef tHy  ",
		"BAIL TUFT BITS GANG CHEF THY\r\n",
		"50FE 1962 C496 5880",
		"50fe1962c4965880",
		" 50 fe 19 62\tc4 96 58 80 ",
		"word:BAIL TUFT BITS GANG CHEF THY",
		"WORD: bail tuft bits gang chef thy",
		"hex:50FE1962C4965880",
		"HEX: 50fe 1962 c496 5880",
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		v = 0;
		assert_int_equal(otp_parse_answer(S(ok[i]), &v), 0);
		assert_true(v == want);
	}
	static const char *const bad[] = {
		"",
		"BAIL TUFT BITS GANG CHEF",
		"BAIL TUFT BITS GANG CHEF THY THY",
		"BAIL TUFT BITS GANG CHEF XYZZY",
		"BAILTUFT BITS GANG CHEF THY",
		"50FE 1962 C496 588",
		"50FE 1962 C496 58800",
		"50FE 1962 C496 588G",
		"hex:BAIL TUFT BITS GANG CHEF THY",
		"word:50FE 1962 C496 5880",
		"This is a test.",
		"init-word:BAIL TUFT BITS GANG CHEF THY",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		assert_int_equal(otp_parse_answer(S(bad[i]), &v), -EINVAL);
	/* Binary junk is refused without reading past the slice. */
	assert_int_equal(otp_parse_answer((struct slice){ "AB\0E ACE", 8 }, &v), -EINVAL);
}

static void test_seed_and_alg(void **state)
{
	(void)state;
	enum otp_alg a;
	assert_true(otp_seed_valid(S("TeSt")));
	assert_true(otp_seed_valid(S("a")));
	assert_true(otp_seed_valid(S("0123456789abcdef")));
	assert_false(otp_seed_valid(S("")));
	assert_false(otp_seed_valid(S("0123456789abcdefg")));
	assert_false(otp_seed_valid(S("te st")));
	assert_false(otp_seed_valid(S("te-st")));
	uint64_t v;
	assert_int_equal(otp_generate(OTP_MD5, S("bad seed"), S("This is a test."), 0, &v), -EINVAL);
	/* The seed is lower-cased before use (RFC 2289 §6). */
	uint64_t lo, up;
	assert_int_equal(otp_generate(OTP_MD5, S("test"), S("This is a test."), 99, &lo), 0);
	assert_int_equal(otp_generate(OTP_MD5, S("TEST"), S("This is a test."), 99, &up), 0);
	assert_true(lo == up);
	assert_int_equal(otp_alg_parse(S("MD5"), &a), 0);
	assert_int_equal(a, OTP_MD5);
	assert_int_equal(otp_alg_parse(S("sha1"), &a), 0);
	assert_int_equal(a, OTP_SHA1);
	assert_int_equal(otp_alg_parse(S("md4"), &a), -EINVAL);
	assert_string_equal(otp_alg_name(OTP_SHA1), "sha1");
	assert_string_equal(otp_alg_name(OTP_MD5), "md5");

	uint8_t rnd[OTP_SEED_DEFAULT_LEN];
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)(i * 37 + 250);
	char seed[OTP_SEED_MAX + 1];
	otp_seed_from_bytes(rnd, sizeof(rnd), seed, sizeof(seed));
	assert_int_equal(strlen(seed), OTP_SEED_DEFAULT_LEN);
	assert_true(otp_seed_valid(S(seed)));
	for (size_t i = 0; seed[i]; i++)
		assert_false(seed[i] >= 'A' && seed[i] <= 'Z');
}

static void test_fake_challenge(void **state)
{
	(void)state;
	static const uint8_t secret[] = "0123456789abcdef0123456789abcdef";
	static const uint8_t other[] = "fedcba9876543210fedcba9876543210";
	unsigned s1, s2, s3;
	char d1[OTP_SEED_MAX + 1], d2[OTP_SEED_MAX + 1], d3[OTP_SEED_MAX + 1];
	assert_int_equal(otp_fake_challenge(secret, 32, "nosuch", &s1, d1, sizeof(d1)), 0);
	assert_int_equal(otp_fake_challenge(secret, 32, "nosuch", &s2, d2, sizeof(d2)), 0);
	assert_int_equal(s1, s2);
	assert_string_equal(d1, d2);
	assert_true(s1 >= OTP_FAKE_SEQ_MIN && s1 <= OTP_FAKE_SEQ_MAX);
	assert_true(otp_seed_valid(S(d1)));
	/* Another secret (another server) or another name: another challenge. */
	assert_int_equal(otp_fake_challenge(other, 32, "nosuch", &s3, d3, sizeof(d3)), 0);
	assert_string_not_equal(d1, d3);
	assert_int_equal(otp_fake_challenge(secret, 32, "nosuch2", &s3, d3, sizeof(d3)), 0);
	assert_string_not_equal(d1, d3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_vectors),     cmocka_unit_test(test_step_links_counts),
		cmocka_unit_test(test_dictionary),      cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_checksum_failure), cmocka_unit_test(test_parse_variants),
		cmocka_unit_test(test_seed_and_alg),    cmocka_unit_test(test_fake_challenge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
