/* Fuzz harness: the DATA and BDAT readers (smtp-session/data.c).
 *
 * The input is fed in pieces of random sizes (byte 0 seeds them, bit 0
 * of byte 1 picks BDAT) and compared with a plain reference model:
 *  - DATA ends exactly at the first CRLF "." CRLF (counting the start as
 *    a line start), never earlier, never at a bare LF or CR variant;
 *  - the output is the text before it with CRLF -> LF, a leading dot
 *    removed from each line, bare CRs dropped and bare LFs kept;
 *  - every call writes at most as many bytes as it consumes;
 *  - the flags say exactly whether a NUL, a bare CR, a bare LF was seen;
 *  - size = output bytes + one more per line; lines = LFs in the output.
 * An input without the end marker gets one appended. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the reference: output and flags for content c (n bytes) */
static size_t model(const char *c, size_t n, int dot, char *out, unsigned *flags)
{
	size_t o = 0;

	*flags = 0;
	for (size_t i = 0; i < n; i++) {
		int bol = i == 0 || (i >= 2 && c[i - 1] == '\n' && c[i - 2] == '\r');

		if (dot && bol && c[i] == '.')
			continue;
		if (c[i] == '\r') {
			if (i + 1 < n && c[i + 1] == '\n') {
				out[o++] = '\n';
				i++;
			} else {
				*flags |= DATA_BARE_CR;
			}
			continue;
		}
		if (c[i] == '\n')
			*flags |= DATA_BARE_LF;
		if (c[i] == '\0')
			*flags |= DATA_NUL;
		out[o++] = c[i];
	}
	return o;
}

static size_t count_lf(const char *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += p[i] == '\n';
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dataparse d;
	uint32_t rng, rng0;
	int bdat;
	size_t n, i, o, content, consumed;
	char *in, *out, *ref, *x;
	unsigned rflags;
	size_t rlen;

	if (size < 2)
		return 0;
	rng = rng0 = 0x9e3779b9u * (data[0] + 1u);
	bdat = data[1] & 1;
	data += 2;
	size -= 2;

	/* the input, plus an end marker for DATA */
	n = size + (bdat ? 0 : 5);
	in = malloc(n + 1);
	memcpy(in, data, size);
	if (!bdat)
		memcpy(in + size, "\r\n.\r\n", 5);
	out = malloc(n + 2);
	ref = malloc(n + 2);

	data_init(&d);
	o = 0;
	i = 0;
	while (i < n && !d.done) {
		size_t piece = 1 + fuzz_rand(&rng) % 64, on = 0, used;

		if (piece > n - i)
			piece = n - i;
		if (bdat) {
			bdat_feed(&d, in + i, piece, out + o, &on);
			used = piece;
		} else {
			used = data_feed(&d, in + i, piece, out + o, &on);
			FUZZ_CHECK(used <= piece);
			FUZZ_CHECK(used == piece || d.done);
			FUZZ_CHECK(used > 0);
		}
		FUZZ_CHECK(on <= used);
		o += on;
		i += used;
	}
	if (bdat) {
		size_t on = 0;

		FUZZ_CHECK(!d.done);
		bdat_finish(&d, out + o, &on);
		FUZZ_CHECK(on <= 1);
		o += on;
		FUZZ_CHECK(d.done);
		content = n;
		consumed = n;
	} else {
		/* the first CRLF.CRLF in CRLF + input */
		FUZZ_CHECK(d.done);
		x = malloc(n + 2);
		x[0] = '\r';
		x[1] = '\n';
		memcpy(x + 2, in, n);
		for (content = 0; content + 5 <= n + 2; content++)
			if (!memcmp(x + content, "\r\n.\r\n", 5))
				break;
		free(x);
		FUZZ_CHECK(content + 5 <= n + 2);
		consumed = content + 3;
		/* content: the input up to and including the CRLF before "." */
		FUZZ_CHECK(i == consumed);
	}
	rlen = model(in, content, !bdat, ref, &rflags);
	if (bdat && rlen && ref[rlen - 1] != '\n')
		ref[rlen++] = '\n';
	FUZZ_CHECK(o <= n + (size_t)bdat);
	FUZZ_CHECK(d.flags == rflags);
	FUZZ_CHECK(o == rlen && !memcmp(out, ref, o));
	FUZZ_CHECK(d.lines == count_lf(out, o));
	FUZZ_CHECK(d.size == o + d.lines);
	if (!bdat) {
		/* the same pieces unstuffed in place, as smtp-session does in
		 * its input buffer: the same bytes come out */
		char *w = malloc(n + 1), *got = malloc(n + 2);
		struct dataparse d2;
		size_t o2 = 0, j = 0;

		memcpy(w, in, n);
		rng = rng0;
		data_init(&d2);
		while (j < n && !d2.done) {
			size_t piece = 1 + fuzz_rand(&rng) % 64, on = 0, used;

			if (piece > n - j)
				piece = n - j;
			used = data_feed(&d2, w + j, piece, w + j, &on);
			memcpy(got + o2, w + j, on);
			o2 += on;
			j += used;
		}
		FUZZ_CHECK(j == i && d2.flags == d.flags);
		FUZZ_CHECK(o2 == o && !memcmp(got, out, o));
		free(w);
		free(got);
	}
	free(in);
	free(out);
	free(ref);
	return 0;
}
