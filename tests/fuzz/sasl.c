/* Fuzz harness: strict base64 and SASL PLAIN (lib/sasl.c).
 *
 * Checked: the whole-string decoder and the incremental one fed in
 * random pieces agree; a decoded string encodes back to exactly the
 * input (strict base64 has one spelling per byte string); anything
 * encoded decodes back; a parsed PLAIN message has terminated fields with
 * no NUL inside and an authzid that is empty or the authcid. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char out[SASL_B64_MAX * 2], out2[SASL_B64_MAX * 2];
	static char enc[SASL_B64_MAX * 4 + 8];
	struct sasl_plain p;
	struct b64dec d;
	const char *why;
	uint32_t rng = 0x2545f491u;
	size_t olen = 0, cap, i;
	int r, r2;
	char *in;

	if (size < 1)
		return 0;
	cap = data[0] < 0x80 ? SASL_PLAIN_MAX : (size_t)(data[0] & 0x7f);
	data++;
	size--;
	in = malloc(size ? size : 1);
	memcpy(in, data, size);

	r = b64_decode(in, size, out, cap, &olen);
	b64_init(&d, out2, cap);
	for (i = 0; i < size;) {
		size_t piece = 1 + fuzz_rand(&rng) % 16;
		if (piece > size - i)
			piece = size - i;
		b64_feed(&d, in + i, piece);
		i += piece;
	}
	r2 = b64_finish(&d);
	FUZZ_CHECK(r == r2);
	if (r == 0) {
		FUZZ_CHECK(olen <= cap && d.len == olen && !memcmp(out, out2, olen));
		FUZZ_CHECK(b64_encode(out, olen, enc) == size && !memcmp(enc, in, size));
		if (sasl_plain_parse(out, olen, &p, &why) == 0) {
			FUZZ_CHECK(memchr(p.authcid, '\0', sizeof p.authcid));
			FUZZ_CHECK(memchr(p.passwd, '\0', sizeof p.passwd));
			FUZZ_CHECK(memchr(p.authzid, '\0', sizeof p.authzid));
			FUZZ_CHECK(p.authcid[0] && p.passwd[0]);
			FUZZ_CHECK(!p.authzid[0] || !strcmp(p.authzid, p.authcid));
		} else {
			FUZZ_CHECK(why != NULL);
		}
	}
	/* the other way round: the raw bytes encode and decode back */
	if (size <= SASL_PLAIN_MAX) {
		size_t n = b64_encode((const unsigned char *)in, size, enc);

		FUZZ_CHECK(n == 4 * ((size + 2) / 3) && enc[n] == '\0');
		FUZZ_CHECK(b64_decode(enc, n, out, sizeof out, &olen) == 0);
		FUZZ_CHECK(olen == size && !memcmp(out, in, size));
		if (sasl_plain_parse((const unsigned char *)in, size, &p, &why) == 0)
			FUZZ_CHECK(p.authcid[0] && p.passwd[0]);
		{
			char field[SASL_FIELD_MAX + 1];
			if (sasl_field((const unsigned char *)in, size, field, 1) == 0)
				FUZZ_CHECK(strlen(field) == size);
		}
	}
	free(in);
	return 0;
}
