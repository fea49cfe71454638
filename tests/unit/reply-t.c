/* Tests for tools/relay-reply.c: SMTP reply lines from tables, whole and byte by byte. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "relay-reply.h"
#include "tap.h"

struct row {
	const char *in;         /* lines separated by \n, no CR */
	int rc;                 /* 1 complete, -1 malformed, 0 incomplete */
	int code;
	const char *oneline;
};

static const struct row rows[] = {
	{ "250 ok", 1, 250, "250 ok" },
	{ "250", 1, 250, "250 " },
	{ "220 mx.test ESMTP", 1, 220, "220 mx.test ESMTP" },
	{ "250-mx.test\n250-PIPELINING\n250 SIZE 1000", 1, 250, "250 mx.test / PIPELINING / SIZE 1000" },
	{ "250-first\n250-second", 0, 250, NULL },
	{ "250 done\n250 again", -1, 0, NULL },
	{ "250-a\n251 b", -1, 0, NULL },
	{ "250-a\n250 b\n250 c", -1, 0, NULL },
	{ "25 short", -1, 0, NULL },
	{ "2500 long code", -1, 0, NULL },
	{ "250x", -1, 0, NULL },
	{ "650 bad class", -1, 0, NULL },
	{ "160 bad class", -1, 0, NULL },
	{ "2a0 letter", -1, 0, NULL },
	{ "290 second digit 9", -1, 0, NULL },
	{ "", -1, 0, NULL },
	{ "550 5.1.1 <x@y>: no such user", 1, 550, "550 5.1.1 <x@y>: no such user" },
	{ "421-4.7.0 try\n421 4.7.0 later", 1, 421, "421 4.7.0 try / 4.7.0 later" },
	{ "354 go ahead", 1, 354, "354 go ahead" },
};

static int feed(struct reply *r, const char *in, int bytewise)
{
	const char *p = in;
	int rc = 0;

	reply_init(r);
	for (;;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[4096];

		/* byte by byte: the line is built up the way a slow network
		 * would deliver it; the parser only ever sees whole lines */
		if (bytewise) {
			for (size_t i = 0; i < n; i++)
				line[i] = p[i];
		} else {
			memcpy(line, p, n);
		}
		rc = reply_line(r, line, n);
		if (rc < 0 || !nl)
			return rc;
		p = nl + 1;
	}
}

int main(void)
{
	struct reply r;
	char out[600], enh[16], par[64];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *w = &rows[i];

		for (int bw = 0; bw < 2; bw++) {
			int rc = feed(&r, w->in, bw);
			ok(rc == w->rc, "row %zu%s: rc %d (want %d)%s%s", i, bw ? " bytewise" : "", rc, w->rc,
			   rc < 0 ? ": " : "", rc < 0 ? r.why : "");
		}
		if (w->rc == 1) {
			ok(r.code == w->code, "row %zu: code %d", i, w->code);
			reply_oneline(&r, out, sizeof out);
			is_str(out, w->oneline, "row %zu: one line", i);
		}
	}
	{
		const char nul[] = "250 a\0b";
		reply_init(&r);
		ok(reply_line(&r, nul, sizeof nul - 1) == -1, "NUL in a reply line is malformed");
	}
	{
		char big[REPLY_LINE_MAX + 8];
		memset(big, 'x', sizeof big);
		memcpy(big, "250 ", 4);
		reply_init(&r);
		ok(reply_line(&r, big, sizeof big) == -1, "an over-long line is malformed");
		reply_init(&r);
		int rc = 0;
		for (int i = 0; i <= REPLY_LINES_MAX && rc == 0; i++)
			rc = reply_line(&r, "250-more", 8);
		ok(rc == -1, "more than %d lines is malformed", REPLY_LINES_MAX);
		/* text that does not fit is dropped, parsing goes on */
		reply_init(&r);
		big[3] = '-';
		for (int i = 0; i < 50; i++)
			reply_line(&r, big, 1000);
		ok(reply_line(&r, "250 end", 7) == 1 && r.tlen < REPLY_TEXT_MAX, "long replies are cut, not overflowed");
	}
	feed(&r, "550 5.1.1 no such user", 0);
	reply_enhanced(&r, enh, sizeof enh);
	is_str(enh, "5.1.1", "enhanced status code");
	feed(&r, "550 4.1.1 class mismatch", 0);
	reply_enhanced(&r, enh, sizeof enh);
	is_str(enh, "", "enhanced code of another class is ignored");
	feed(&r, "250 2.0.0", 0);
	reply_enhanced(&r, enh, sizeof enh);
	is_str(enh, "2.0.0", "enhanced code alone");
	feed(&r, "250-mx.test greets you\n250-pipelining\n250-SIZE 52428800\n250-AUTH PLAIN LOGIN\n250-STARTTLSX\n250 8BITMIME", 0);
	ok(reply_ehlo_has(&r, "PIPELINING", NULL, 0), "EHLO keyword case-insensitive");
	ok(reply_ehlo_has(&r, "SIZE", par, sizeof par) && strcmp(par, "52428800") == 0, "SIZE parameter");
	ok(reply_ehlo_has(&r, "AUTH", par, sizeof par) && strcmp(par, "PLAIN LOGIN") == 0, "AUTH mechanisms");
	ok(!reply_ehlo_has(&r, "STARTTLS", NULL, 0), "STARTTLSX is not STARTTLS");
	ok(reply_ehlo_has(&r, "8BITMIME", NULL, 0), "last line keyword");
	ok(!reply_ehlo_has(&r, "MX.TEST", NULL, 0), "the greeting line is no keyword");
	return tap_done();
}
