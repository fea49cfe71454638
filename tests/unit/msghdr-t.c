/* Tests for lib/msghdr.c: header fields with folding, address lists from tables. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "msghdr.h"
#include "str.h"
#include "tap.h"

struct row {
	const char *in;
	int count;
	const char *want;       /* addresses joined by ' ' */
};

static const struct row rows[] = {
	{ "a@b.test", 1, "a@b.test" },
	{ "a@b.test, c@d.test", 2, "a@b.test c@d.test" },
	{ "Alice <alice@x.test>", 1, "alice@x.test" },
	{ "\"Doe, John\" <john@x.test>, bob@y.test", 2, "john@x.test bob@y.test" },
	{ "bob@y.test (Bob, the builder)", 1, "bob@y.test" },
	{ "(lead) bob@y.test (trail (nested))", 1, "bob@y.test" },
	{ "team: a@x.test, b@x.test;, c@y.test", 3, "a@x.test b@x.test c@y.test" },
	{ "undisclosed-recipients:;", 0, "" },
	{ "<@relay.test:user@x.test>", 1, "user@x.test" },
	{ "\"quoted local\"@x.test", 1, "\"quoted local\"@x.test" },
	{ "Folded\n Name\n\t<f@x.test>", 1, "f@x.test" },
	{ "a @ b.test", 1, "a@b.test" },
	{ "root", 1, "root" },
	{ "", 0, "" },
	{ "a@b.test,", 1, "a@b.test" },
	{ "John Doe", -1, NULL },
	{ "<unclosed@x.test", -1, NULL },
	{ "\"open quote <a@b.test>", -1, NULL },
	{ "(open comment a@b.test", -1, NULL },
	{ "x <a@b> <c@d>", -1, NULL },
	{ "a@b.test>", -1, NULL },
	{ "<>", -1, NULL },
	{ "group: a@b.test", -1, NULL },
	{ "@b.test", -1, NULL },
};

static void collect(void *ctx, const char *addr)
{
	struct str *s = ctx;

	if (s->len)
		str_catc(s, ' ');
	str_cats(s, addr);
}

int main(void)
{
	struct str got = STR_INIT;
	struct msghdr h;
	static const char msg[] =
		"From: a@x.test\n"
		"To: b@y.test,\n"
		" c@z.test\n"
		"Bcc: secret@y.test\n"
		"X-Odd : value\n"
		"\n"
		"Body: not a header\n";
	static const char nobl[] = "Subject: x\nthis is body\n";

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		str_clear(&got);
		int n = msghdr_addresses(r->in, strlen(r->in), collect, &got);
		ok(n == r->count, "row %zu: %d addresses (want %d)", i, n, r->count);
		if (r->want)
			is_str(str_c(&got), r->want, "row %zu: addresses", i);
	}
	ok(msghdr_parse(msg, sizeof msg - 1, &h) == 0 && h.n == 4, "four fields");
	ok(msghdr_is(msg, &h.f[1], "TO") && h.f[1].end - h.f[1].start == strlen("To: b@y.test,\n c@z.test\n"),
	   "a folded field spans its continuation");
	ok(msghdr_is(msg, &h.f[3], "x-odd"), "obsolete space before the colon");
	ok(strcmp(msg + h.body, "Body: not a header\n") == 0, "body starts after the empty line");
	msghdr_free(&h);
	ok(msghdr_parse(nobl, sizeof nobl - 1, &h) == 0 && h.n == 1 && strcmp(nobl + h.body, "this is body\n") == 0,
	   "a line that is no field starts the body");
	msghdr_free(&h);
	ok(msghdr_parse(": empty name\n", 13, &h) < 0, "empty field name refused");
	str_free(&got);
	return tap_done();
}
