/* Fuzz harness: RFC 5322 header blocks and address lists (lib/msghdr.c).
 *
 * Checked: fields lie inside the buffer, in order, without overlap, and
 * before the body offset; each name is printable ASCII followed by ':'
 * (blanks allowed before it);
 * every address handed out by msghdr_addresses is a terminated string
 * without CR or LF, and their count is what the call returns. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "msghdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int got;

static void cb(void *ctx, const char *a)
{
	(void)ctx;
	FUZZ_CHECK(!strpbrk(a, "\r\n"));
	got++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msghdr h;
	char *buf = malloc(size ? size : 1);
	size_t prev = 0;

	memcpy(buf, data, size);
	memset(&h, 0, sizeof h);
	if (msghdr_parse(buf, size, &h) == 0) {
		FUZZ_CHECK(h.body <= size);
		for (size_t i = 0; i < h.n; i++) {
			const struct hfield *f = &h.f[i];

			FUZZ_CHECK(f->start >= prev && f->start < f->end && f->end <= h.body);
			FUZZ_CHECK(f->nlen > 0 && f->start + f->nlen < f->end);
			/* the name, then (obsolete) blanks, then ':' */
			{
				size_t c = f->start + f->nlen;
				while (c < f->end && (buf[c] == ' ' || buf[c] == '\t'))
					c++;
				FUZZ_CHECK(c < f->end && buf[c] == ':');
			}
			for (size_t k = 0; k < f->nlen; k++)
				FUZZ_CHECK(buf[f->start + k] >= 33 && buf[f->start + k] <= 126);
			prev = f->end;
			got = 0;
			{
				size_t v = (size_t)((const char *)memchr(buf + f->start, ':',
									 f->end - f->start) - buf) + 1;
				int n = msghdr_addresses(buf + v, f->end - v, cb, NULL);
				FUZZ_CHECK(n < 0 || n == got);
			}
			(void)msghdr_is(buf, f, "to");
		}
	}
	msghdr_free(&h);
	got = 0;
	{
		int n = msghdr_addresses(buf, size, cb, NULL);
		FUZZ_CHECK(n < 0 || n == got);
	}
	free(buf);
	return 0;
}
