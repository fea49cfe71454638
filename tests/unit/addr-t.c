/* Tests for the RFC 5321 path and parameter parser, from tables, whole
 * and as every prefix in an exactly sized buffer (ASan catches overreads). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

struct row {
	const char *in;
	int flags;
	const char *text;     /* expected canonical text, NULL = must fail */
	const char *code;     /* expected reply prefix when failing */
};

#define M ADDR_MAIL
#define R ADDR_RCPT
#define U ADDR_UTF8

static const struct row rows[] = {
	{ "<alice@example.test>", R, "alice@example.test", NULL },
	{ "<Alice@Example.TEST>", R, "Alice@Example.TEST", NULL },
	{ "<>", M, "", NULL },
	{ "<>", R, NULL, "501 5.1.3" },
	{ "<postmaster>", R, "postmaster", NULL },
	{ "<PostMaster>", R, "PostMaster", NULL },
	{ "<postmaster>", M, NULL, "501 5.1.7" },
	{ "<\"john doe\"@example.test>", R, "\"john doe\"@example.test", NULL },
	{ "<\"john\\\"q\"@example.test>", R, "\"john\\\"q\"@example.test", NULL },
	{ "<\"plain\"@example.test>", R, "plain@example.test", NULL },
	{ "<\"v@remote\"@example.test>", R, "\"v@remote\"@example.test", NULL },
	{ "<\"a>b\"@example.test>", R, "\"a>b\"@example.test", NULL },
	{ "<u@[192.0.2.1]>", R, "u@[192.0.2.1]", NULL },
	{ "<u@[IPv6:2001:db8::1]>", R, "u@[IPv6:2001:db8::1]", NULL },
	{ "<u@[ipv6:::1]>", R, "u@[ipv6:::1]", NULL },
	{ "<u@[192.0.2.256]>", R, NULL, "501" },
	{ "<u@[1.2.3]>", R, NULL, "501" },
	{ "<u@[IPv6:zz::1]>", R, NULL, "501" },
	{ "<u@[tag:abc]>", R, NULL, "501" },
	{ "<@a.test,@b.test:u@d.test>", R, "u@d.test", NULL },
	{ "<@a.test:u@d.test>", R, "u@d.test", NULL },
	{ "<@a.test,b.test:u@d.test>", R, NULL, "501" },
	{ "<@:u@d.test>", R, NULL, "501" },
	{ "<v%remote@example.test>", R, "v%remote@example.test", NULL },
	{ "<remote!v@example.test>", R, "remote!v@example.test", NULL },
	{ "<v@remote@example.test>", R, NULL, "501" },
	{ "<a.b.c@example.test>", R, "a.b.c@example.test", NULL },
	{ "<.a@example.test>", R, NULL, "501" },
	{ "<a.@example.test>", R, NULL, "501" },
	{ "<a..b@example.test>", R, NULL, "501" },
	{ "<a@example..test>", R, NULL, "501" },
	{ "<a@-example.test>", R, NULL, "501" },
	{ "<a@example-.test>", R, NULL, "501" },
	{ "<a@example.test.>", R, NULL, "501" },
	{ "<a@.example.test>", R, NULL, "501" },
	{ "<a@ex_ample.test>", R, NULL, "501" },
	{ "<a@>", R, NULL, "501" },
	{ "<@example.test>", R, NULL, "501" },
	{ "<a>", R, NULL, "501" },
	{ "<a@b>", R, "a@b", NULL },
	{ "alice@example.test", R, NULL, "501" },
	{ "<alice@example.test", R, NULL, "501" },
	{ "<a b@example.test>", R, NULL, "501" },
	{ "<a\rb@example.test>", R, NULL, "501 5.5.2" },
	{ "<a\nb@example.test>", R, NULL, "501 5.5.2" },
	{ "<a;b@example.test>", R, NULL, "501" },
	{ "<a|b@example.test>", R, "a|b@example.test", NULL },
	{ "<a$(id)@example.test>", R, NULL, "501" },
	{ "<a`id`@example.test>", R, "a`id`@example.test", NULL },
	{ "<a@example.test>", M, "a@example.test", NULL },
	{ "<bad address>", M, NULL, "501 5.1.7" },
	{ "<j\xc3\xb6rg@example.test>", R, NULL, "501" },
	{ "<j\xc3\xb6rg@example.test>", R | U, "j\xc3\xb6rg@example.test", NULL },
	{ "<u@b\xc3\xbc\x63her.test>", R | U, "u@b\xc3\xbc\x63her.test", NULL },
	{ "<j\xc3@example.test>", R | U, NULL, "501" },
	{ "<j\xc0\x80@example.test>", R | U, NULL, "501" },
	{ "<j\xed\xa0\x80@example.test>", R | U, NULL, "501" },
	{ "<\"j\xc3\xb6\"@example.test>", R | U, "j\xc3\xb6@example.test", NULL },
	/* limits: local 64, domain 255, path 256 */
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test>", R,
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test", NULL },
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test>", R, NULL, "553 5.1.3" },
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.test>", M, NULL, "553 5.1.7" },
	{ "<a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.test>", R, NULL, "501" },
};

static void long_domain_tests(void)
{
	char buf[600], want[600];
	struct addr a;
	const char *reply;
	size_t used;

	/* 4 labels of 63 + 3 dots = 255: the longest valid domain */
	strcpy(buf, "<u@");
	for (int i = 0; i < 4; i++) {
		if (i)
			strcat(buf, ".");
		strcat(buf, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	}
	strcat(buf, ">");
	snprintf(want, sizeof want, "%.*s", (int)strlen(buf) - 2, buf + 1);
	ok(addr_domain_ok(want + 2, strlen(want + 2), 0), "255-octet domain is valid");
	/* but "<u@" + 255 + ">" is 259 octets: over the 256-octet path limit */
	ok(addr_parse_path(buf, strlen(buf), R, &a, &used, &reply) < 0 && !strncmp(reply, "501 5.5.2", 9),
	   "path with a 255-octet domain is over 256 octets");
	/* one more label character: 256 */
	memmove(buf + 4, buf + 3, strlen(buf + 3) + 1);
	buf[3] = 'c';
	ok(!addr_domain_ok(buf + 3, strlen(buf + 3) - 1, 0), "256-octet domain is invalid");
	ok(addr_parse_path(buf, strlen(buf), R, &a, &used, &reply) < 0 && reply[0] == '5',
	   "256-octet domain refused (%s)", reply ? reply : "");
	/* path over 256 with legal parts: long local + long domain */
	snprintf(buf, sizeof buf, "<%.64s@%.63s.%.63s.%.63s.%.40s>",
		 "llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll",
		 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
		 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
		 "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
		 "dddddddddddddddddddddddddddddddddddddddd");
	ok(addr_parse_path(buf, strlen(buf), R, &a, &used, &reply) < 0 && !strncmp(reply, "501 5.5.2", 9),
	   "path over 256 octets refused (%s)", reply ? reply : "");
}

struct prow {
	const char *in;
	unsigned allowed;
	int ok;
	unsigned long long size;
	int body, utf8;
	const char *code;
};

#define ALL (PARAM_SIZE | PARAM_8BITMIME | PARAM_SMTPUTF8)

static const struct prow prows[] = {
	{ "", ALL, 1, 0, BODY_UNSET, 0, NULL },
	{ " SIZE=1000", ALL, 1, 1000, BODY_UNSET, 0, NULL },
	{ " size=1000 body=8bitmime", ALL, 1, 1000, BODY_8BITMIME, 0, NULL },
	{ " BODY=7BIT", ALL, 1, 0, BODY_7BIT, 0, NULL },
	{ " SMTPUTF8", ALL, 1, 0, BODY_UNSET, 1, NULL },
	{ " SMTPUTF8 BODY=8BITMIME SIZE=5", ALL, 1, 5, BODY_8BITMIME, 1, NULL },
	{ " SMTPUTF8", PARAM_SIZE, 0, 0, 0, 0, "555 5.5.4" },
	{ " SIZE=1", 0, 0, 0, 0, 0, "555 5.5.4" },
	{ " BODY=BINARYMIME", ALL, 0, 0, 0, 0, "555 5.5.4" },
	{ " BODY=9BIT", ALL, 0, 0, 0, 0, "555 5.5.4" },
	{ " SIZE=abc", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " SIZE=", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " SIZE", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " SIZE=1 SIZE=2", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " SIZE=99999999999999999999999", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " SIZE=18446744073709551615", ALL, 1, 18446744073709551615ULL, BODY_UNSET, 0, NULL },
	{ " SIZE=18446744073709551616", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " SMTPUTF8=yes", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " RET=FULL", ALL, 0, 0, 0, 0, "555 5.5.4" },
	{ " X-FOO", ALL, 0, 0, 0, 0, "555 5.5.4" },
	{ " -X", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ " A=b=c", ALL, 0, 0, 0, 0, "501 5.5.4" },
	{ "  SIZE=10  ", ALL, 1, 10, BODY_UNSET, 0, NULL },
};

int main(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		size_t n = strlen(r->in), used = 0;
		char *copy = malloc(n ? n : 1);
		struct addr a;
		const char *reply = NULL;
		int rc, prefix_bad = 0;

		memcpy(copy, r->in, n);
		rc = addr_parse_path(copy, n, r->flags, &a, &used, &reply);
		if (r->text)
			ok(rc == 0 && used == n && !strcmp(a.text, r->text),
			   "path %zu '%s' -> '%s' (got rc=%d '%s')", i, r->in, r->text, rc,
			   rc == 0 ? a.text : (reply ? reply : ""));
		else
			ok(rc < 0 && reply && !strncmp(reply, r->code, strlen(r->code)),
			   "path %zu '%s' refused with %s (got rc=%d '%s')", i, r->in, r->code, rc,
			   reply ? reply : "");
		free(copy);
		/* every strict prefix must fail cleanly, within its buffer */
		for (size_t k = 0; k < n; k++) {
			char *p = malloc(k ? k : 1);
			memcpy(p, r->in, k);
			if (addr_parse_path(p, k, r->flags, &a, &used, &reply) == 0 &&
			    (used > k || (r->text && !strcmp(a.text, r->text) && k + 1 < n)))
				prefix_bad = 1;
			free(p);
		}
		ok(!prefix_bad, "path %zu: prefixes byte by byte", i);
	}
	long_domain_tests();

	/* bare addresses (deliver arguments, map targets) */
	{
		struct addr a;
		const char *reply;
		ok(addr_parse_bare("bob@example.test", 16, R, &a, &reply) == 0 &&
		   !strcmp(a.local, "bob") && !strcmp(a.domain, "example.test"), "bare address");
		ok(addr_parse_bare("<bob@example.test>", 18, R | ADDR_LAX_BRACKETS, &a, &reply) == 0,
		   "bracketed bare address with LAX_BRACKETS");
		ok(addr_parse_bare("<bob@example.test>", 18, R, &a, &reply) < 0,
		   "brackets refused without LAX_BRACKETS");
		ok(addr_parse_bare("bob@example.test\n", 17, R, &a, &reply) < 0,
		   "LF in bare address refused");
		ok(addr_parse_bare("bob", 3, R, &a, &reply) < 0, "bare local part refused");
	}

	for (size_t i = 0; i < sizeof prows / sizeof prows[0]; i++) {
		const struct prow *r = &prows[i];
		size_t n = strlen(r->in);
		char *copy = malloc(n ? n : 1);
		struct mail_params mp;
		const char *reply = NULL;
		int rc;

		memcpy(copy, r->in, n);
		rc = addr_parse_mail_params(copy, n, r->allowed, &mp, &reply);
		if (r->ok)
			ok(rc == 0 && mp.size == r->size && (int)mp.body == r->body && mp.smtputf8 == r->utf8,
			   "params %zu '%s'", i, r->in);
		else
			ok(rc < 0 && reply && !strncmp(reply, r->code, strlen(r->code)),
			   "params %zu '%s' refused with %s (got %s)", i, r->in, r->code, reply ? reply : "ok");
		free(copy);
	}
	{
		const char *reply = NULL;
		ok(addr_parse_rcpt_params("", 0, ALL, &reply) == 0, "no RCPT params");
		ok(addr_parse_rcpt_params(" NOTIFY=NEVER", 13, ALL, &reply) < 0 &&
		   !strncmp(reply, "555", 3), "RCPT NOTIFY refused (no DSN)");
	}
	ok(utf8_valid((const unsigned char *)"\xe2\x82\xac", 3), "utf8: euro sign");
	ok(!utf8_valid((const unsigned char *)"\xe2\x82", 2), "utf8: truncated");
	ok(!utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4), "utf8: above U+10FFFF");
	ok(!utf8_valid((const unsigned char *)"\xe0\x80\xaf", 3), "utf8: overlong");
	return tap_done();
}
