/* libFuzzer driver: src/store/otp.c. Answers (six words or hex, RFC 2289 and
 * RFC 2243 "word:"/"hex:" forms) must parse without overreading and any
 * value formatted by otp_format_words/otp_format_hex must parse back to
 * itself; challenges: algorithm names, seeds and the made-up challenge for
 * a fuzzed user name must stay within their documented shapes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1);
	if (!in)
		abort();
	memcpy(in, data, size);
	in[size] = '\0';
	struct slice s = { in, size };
	uint64_t v = 0, back = 0;
	if (otp_parse_answer(s, &v) == 0) {
		char words[128], hex[64];
		otp_format_words(v, words, sizeof(words));
		otp_format_hex(v, hex, sizeof(hex));
		if (otp_parse_answer(slice_from_cstr(words), &back) != 0 || back != v)
			abort();
		if (otp_parse_answer(slice_from_cstr(hex), &back) != 0 || back != v)
			abort();
	}
	enum otp_alg alg;
	if (otp_alg_parse(s, &alg) == 0 && alg != OTP_MD5 && alg != OTP_SHA1)
		abort();
	/* "SEED PASSPHRASE": a valid seed gives a response. */
	const char *sp = memchr(in, ' ', size);
	if (sp) {
		struct slice seed = { in, (size_t)(sp - in) }, pass = { sp + 1, size - (size_t)(sp - in) - 1 };
		uint64_t out = 0;
		if (otp_seed_valid(seed))
			(void)otp_generate(size & 1 ? OTP_MD5 : OTP_SHA1, seed, pass, size % 4, &out);
	}
	static const uint8_t secret[32] = { 1, 2, 3 };
	unsigned seq = 0;
	char seed[OTP_SEED_MAX + 1];
	if (memchr(in, '\0', size) == NULL &&
	    otp_fake_challenge(secret, sizeof(secret), in, &seq, seed, sizeof(seed)) == 0) {
		if (!otp_seed_valid(slice_from_cstr(seed)) || seq < 1)
			abort();
	}
	free(in);
	return 0;
}
