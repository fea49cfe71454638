/* Tests for the DATA and BDAT readers: framing, dot-unstuffing, CRLF,
 * smuggling vectors; every row whole and one byte at a time. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "data.h"
#include "tap.h"

struct row {
	const char *name;
	const char *in;       /* what the client sends after 354 */
	size_t inlen;         /* 0: strlen */
	int done;             /* end of data expected */
	const char *out;      /* stored bytes (LF line ends) */
	unsigned flags;
	size_t consumed;      /* bytes consumed when done (0: all) */
};

#define L(s) s, sizeof(s) - 1

static const struct row rows[] = {
	{ "empty message", L(".\r\n"), 1, "", 0, 3 },
	{ "one line", L("Hello\r\n.\r\n"), 1, "Hello\n", 0, 0 },
	{ "two lines", L("a\r\nb\r\n.\r\n"), 1, "a\nb\n", 0, 0 },
	{ "dot-stuffed line", L("..dot\r\n.\r\n"), 1, ".dot\n", 0, 0 },
	{ "lone stuffed dot", L("..\r\n.\r\n"), 1, ".\n", 0, 0 },
	{ "dot in middle", L("a.b\r\n.\r\n"), 1, "a.b\n", 0, 0 },
	{ "dot then text not end", L(".x\r\n.\r\n"), 1, "x\n", 0, 0 },
	{ "next command stays", L("x\r\n.\r\nQUIT\r\n"), 1, "x\n", 0, 6 },
	{ "empty lines", L("\r\n\r\n.\r\n"), 1, "\n\n", 0, 0 },
	{ "no end yet", L("partial\r\n"), 0, "partial\n", 0, 0 },
	{ "smuggle \\n.\\n", L("a\n.\nMAIL FROM:<x@y>\r\n.\r\n"), 1, "a\n.\nMAIL FROM:<x@y>\n", DATA_BARE_LF, 0 },
	{ "smuggle \\n.\\r\\n", L("a\n.\r\nMAIL\r\n.\r\n"), 1, "a\n.\nMAIL\n", DATA_BARE_LF, 0 },
	{ "smuggle \\r\\n.\\n", L("a\r\n.\nMAIL\r\n.\r\n"), 1, "a\n\nMAIL\n", DATA_BARE_LF, 0 },
	{ "smuggle \\r.\\r", L("a\r.\rMAIL\r\n.\r\n"), 1, "a.MAIL\n", DATA_BARE_CR, 0 },
	{ "smuggle \\r\\r\\n.\\r\\r\\n", L("a\r\r\n.\r\r\nMAIL\r\n.\r\n"), 1, "a\n\nMAIL\n", DATA_BARE_CR, 0 },
	{ "smuggle \\r\\n.\\r", L("a\r\n.\rMAIL\r\n.\r\n"), 1, "a\nMAIL\n", DATA_BARE_CR, 0 },
	{ "NUL inside", "a\0b\r\n.\r\n", 8, 1, NULL, DATA_NUL, 0 },
	{ "NUL before end", "\0\r\n.\r\n", 6, 1, NULL, DATA_NUL, 0 },
	{ "bare LF line", L("a\nb\r\n.\r\n"), 1, "a\nb\n", DATA_BARE_LF, 0 },
	{ "CR at end of text", L("a\r"), 0, "a", 0, 0 },
	{ "8-bit text", L("caf\xc3\xa9\r\n.\r\n"), 1, "caf\xc3\xa9\n", 0, 0 },
	{ "dot CR then text", L(".\rx\r\n.\r\n"), 1, "x\n", DATA_BARE_CR, 0 },
	{ "end only after CRLF", L("a.\r\n.\r\n"), 1, "a.\n", 0, 0 },
};

/* inplace: the output written over the chunk itself, as smtp-session
 * does in its input buffer, then copied out */
static void check(const struct row *r, size_t step, int idx, int inplace)
{
	size_t n = r->inlen, i = 0, o = 0, consumed = 0;
	char *out = malloc(n + 1);
	struct dataparse d;
	const char *want = r->out;

	data_init(&d);
	while (i < n && !d.done) {
		size_t chunk = step && step < n - i ? step : n - i, on, used;
		char *in = malloc(chunk);
		memcpy(in, r->in + i, chunk);
		if (inplace) {
			used = data_feed(&d, in, chunk, in, &on);
			memcpy(out + o, in, on);
		} else
			used = data_feed(&d, in, chunk, out + o, &on);
		free(in);
		o += on;
		i += used;
		consumed = i;
	}
	if (r->flags & DATA_NUL) {
		ok(d.done == r->done && (d.flags & r->flags), "data %d %s (step %zu%s)", idx, r->name, step,
		   inplace ? ", in place" : "");
	} else {
		int good = d.done == r->done && d.flags == r->flags && o == strlen(want) &&
			!memcmp(out, want, o) && (!r->done || consumed == (r->consumed ? r->consumed : n));
		ok(good, "data %d %s (step %zu%s)", idx, r->name, step, inplace ? ", in place" : "");
		if (!good)
			diag("done=%d flags=%u out=%zu want=%zu consumed=%zu", d.done, d.flags, o,
			     strlen(want), consumed);
	}
	free(out);
}

struct brow {
	const char *name;
	const char *chunks[4];
	const char *out;
	unsigned flags;
};

static const struct brow brows[] = {
	{ "single chunk", { "a\r\nb\r\n", NULL }, "a\nb\n", 0 },
	{ "CRLF split across chunks", { "a\r", "\nb\r\n", NULL }, "a\nb\n", 0 },
	{ "no dot handling", { ".\r\n..x\r\n", NULL }, ".\n..x\n", 0 },
	{ "no final CRLF gets LF", { "abc", NULL }, "abc\n", 0 },
	{ "bare LF flagged", { "a\nb\r\n", NULL }, "a\nb\n", DATA_BARE_LF },
	{ "bare CR flagged", { "a\rb\r\n", NULL }, "ab\n", DATA_BARE_CR },
	{ "CR at very end flagged", { "a\r\n", "b\r", NULL }, "a\nb\n", DATA_BARE_CR },
	{ "empty chunks", { "", "x\r\n", "", NULL }, "x\n", 0 },
};

int main(void)
{
	static const size_t steps[] = { 0, 1, 2, 3, 7 };

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct row r = rows[i];
		if (!r.inlen)
			r.inlen = strlen(r.in);
		for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
			check(&r, steps[s], (int)i, 0);
			check(&r, steps[s], (int)i, 1);
		}
	}

	/* size counts CRLF line ends and no stuffing */
	{
		struct dataparse d;
		char out[64];
		size_t on;
		data_init(&d);
		data_feed(&d, "ab\r\n..c\r\n.\r\n", 13, out, &on);
		ok(d.size == 8 && d.lines == 2, "size in CRLF octets without stuffing (%llu)", d.size);
	}

	for (size_t i = 0; i < sizeof brows / sizeof brows[0]; i++) {
		const struct brow *b = &brows[i];
		struct dataparse d;
		char out[256];
		size_t o = 0, on;

		data_init(&d);
		for (int c = 0; b->chunks[c]; c++) {
			size_t n = strlen(b->chunks[c]);
			bdat_feed(&d, b->chunks[c], n, out + o, &on);
			o += on;
		}
		bdat_finish(&d, out + o, &on);
		o += on;
		ok(o == strlen(b->out) && !memcmp(out, b->out, o) && d.flags == b->flags,
		   "bdat %zu %s", i, b->name);
	}
	return tap_done();
}
