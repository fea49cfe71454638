/* Unit tests for the map source line parser: one table, whole lines and every prefix. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mapsrc.h"
#include "str.h"
#include "tap.h"

#define YES "$y$j9T$abcdefghijklmnop$3dL1LkYnZM.OVXuVdnnaKVDlLYT92dRwOzDZ5XiVCe."
#define SHA "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1"

struct row {
	enum map_kind k;
	const char *line;
	int rc;
	const char *key;        /* rc 1 */
	const char *val;        /* rc 1: value; rc -1: part of the message */
};

#define D MAP_DOMAINS
#define A MAP_ALIASES
#define U MAP_USERS
#define R MAP_RELAY
#define T MAP_ROUTES

static const struct row rows[] = {
	/* domains */
	{ D, "example.test", 1, "example.test", "" },
	{ D, "  Example.TEST  ", 1, "example.test", "" },
	{ D, "example.net example.test", 1, "example.net", "example.test" },
	{ D, "example.net\tEXAMPLE.test", 1, "example.net", "example.test" },
	{ D, "localhost", 1, "localhost", "" },
	{ D, "# a comment", 0, NULL, NULL },
	{ D, "   # indented comment", 0, NULL, NULL },
	{ D, "", 0, NULL, NULL },
	{ D, " \t ", 0, NULL, NULL },
	{ D, "example.test example.test", -1, NULL, "points at itself" },
	{ D, "a.test b.test c.test", -1, NULL, "too many fields" },
	{ D, "exa_mple.test", -1, NULL, "invalid domain" },
	{ D, "-bad.test", -1, NULL, "invalid domain" },
	{ D, "example..test", -1, NULL, "invalid domain" },
	{ D, "example.net bad_primary", -1, NULL, "invalid domain" },
	{ D, "[192.0.2.1]", -1, NULL, "address literal" },
	{ D, "exam\x01ple.test", -1, NULL, "control character" },
	{ D, "example.test\r", -1, NULL, "control character" },
	{ D, "ex\xc3\xa4mple.test", -1, NULL, "8-bit" },
	/* aliases */
	{ A, "team@example.test: alice@example.test, bob@example.test", 1,
	  "team@example.test", "alice@example.test,bob@example.test" },
	{ A, "Team@Example.Test:Alice@Example.test", 1, "team@example.test", "alice@example.test" },
	{ A, "@example.org: carol@example.test", 1, "@example.org", "carol@example.test" },
	{ A, "postmaster@example.test : alice@example.test ,\tbob@example.test ", 1,
	  "postmaster@example.test", "alice@example.test,bob@example.test" },
	{ A, "alice@example.test: alice@example.test, archive@remote.test", 1,
	  "alice@example.test", "alice@example.test,archive@remote.test" },
	{ A, "o'brien+x@example.test: a.b.c@example.test", 1,
	  "o'brien+x@example.test", "a.b.c@example.test" },
	{ A, "team@example.test", -1, NULL, "missing ':'" },
	{ A, "team@example.test:", -1, NULL, "has no targets" },
	{ A, "team@example.test:   ", -1, NULL, "has no targets" },
	{ A, "team@example.test: alice@example.test,,bob@example.test", -1, NULL, "empty target" },
	{ A, "team@example.test: alice@example.test,", -1, NULL, "empty target" },
	{ A, "team@example.test: alice@example.test, ALICE@example.test", -1, NULL, "duplicate target" },
	{ A, "team@example.test: @example.test", -1, NULL, "catch-all is not a target" },
	{ A, "team: alice@example.test", -1, NULL, "local@domain" },
	{ A, ": alice@example.test", -1, NULL, "empty alias address" },
	{ A, "\"a b\"@example.test: x@example.test", -1, NULL, "dot-atom" },
	{ A, "a..b@example.test: x@example.test", -1, NULL, "dot-atom" },
	{ A, ".a@example.test: x@example.test", -1, NULL, "dot-atom" },
	{ A, "a.@example.test: x@example.test", -1, NULL, "dot-atom" },
	{ A, "a%b@example.test: x@example.test", -1, NULL, "never match" },
	{ A, "a!b@example.test: x@example.test", -1, NULL, "never match" },
	{ A, "team@example.test: alice", -1, NULL, "local@domain" },
	{ A, "team@example.test: bob@[192.0.2.1]", -1, NULL, "address literal" },
	{ A, "@[192.0.2.1]: x@example.test", -1, NULL, "address literal" },
	{ A, "@: x@example.test", -1, NULL, "empty domain" },
	{ A, "team@bad_domain: x@example.test", -1, NULL, "invalid domain" },
	{ A, "x@example.test: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.test",
	  -1, NULL, "local part too long" },
	/* users */
	{ U, "alice@example.test:" YES, 1, "alice@example.test", YES },
	{ U, "Alice@Example.Test:" SHA ":mailbox=alice/Maildir", 1, "alice@example.test",
	  SHA ":mailbox=alice/Maildir" },
	{ U, "bob@example.test : ! ", 1, "bob@example.test", "!" },
	{ U, "bob@example.test:*LK*", 1, "bob@example.test", "*LK*" },
	{ U, "bob@example.test:!" YES, 1, "bob@example.test", "!" YES },
	{ U, "bob@example.test:" YES ": mailbox = /srv/mail/bob ", 1, "bob@example.test",
	  YES ":mailbox=/srv/mail/bob" },
	{ U, "bob+tag=x_y-z.1@example.test:!", 1, "bob+tag=x_y-z.1@example.test", "!" },
	{ U, "bob@example.test", -1, NULL, "missing ':'" },
	{ U, "bob@example.test:", -1, NULL, "missing password hash" },
	{ U, "bob@example.test:plaintext", -1, NULL, "not a crypt(3)" },
	{ U, "bob@example.test:$1$abc$def", -1, NULL, "legacy" },
	{ U, "bob@example.test:$y$", -1, NULL, "not a crypt(3)" },
	{ U, "bob@example.test:$7$x", -1, NULL, "not a crypt(3)" },
	{ U, "bob@example.test:$6$salt$", -1, NULL, "not a crypt(3)" },
	{ U, "bob@example.test:$zz$abc$def", -1, NULL, "not supported" },
	{ U, "bob@example.test:$6$sa lt$abc", -1, NULL, "not a crypt(3)" },
	{ U, "b/ob@example.test:!", -1, NULL, "may use only" },
	{ U, "b'ob@example.test:!", -1, NULL, "may use only" },
	{ U, ".bob@example.test:!", -1, NULL, "misplaced '.'" },
	{ U, "b..ob@example.test:!", -1, NULL, "misplaced '.'" },
	{ U, "@example.test:!", -1, NULL, "empty local part" },
	{ U, "bob:!", -1, NULL, "local@domain" },
	{ U, "bob@bad_domain:!", -1, NULL, "invalid domain" },
	{ U, "bob@example.test:!:quota=1", -1, NULL, "unknown option" },
	{ U, "bob@example.test:!:mailbox=../x", -1, NULL, "'..' not allowed" },
	{ U, "bob@example.test:!:mailbox=a/../b", -1, NULL, "'..' not allowed" },
	{ U, "bob@example.test:!:mailbox=a,mailbox=b", -1, NULL, "given twice" },
	{ U, "bob@example.test:!:", -1, NULL, "empty options" },
	{ U, "bob@example.test:!:mailbox", -1, NULL, "key=value" },
	{ U, "bob@example.test:!:mailbox=", -1, NULL, "empty mailbox" },
	{ U, "bob@example.test:!:mailbox=a:b", -1, NULL, "no spaces" },
	/* relay */
	{ R, "192.0.2.0/24 deny", 1, "192.0.2.0/24", "deny" },
	{ R, "192.0.2.1 allow", 1, "192.0.2.1/32", "allow" },
	{ R, "2001:DB8::/32 relay", 1, "2001:db8::/32", "relay" },
	{ R, "2001:db8:0:0::1 relay", 1, "2001:db8::1/128", "relay" },
	{ R, "::ffff:192.0.2.0/120 allow", 1, "192.0.2.0/24", "allow" },
	{ R, "::ffff:192.0.2.7 allow", 1, "192.0.2.7/32", "allow" },
	{ R, "default relay", 1, "default", "relay" },
	{ R, "DEFAULT Deny", 1, "default", "deny" },
	{ R, "0.0.0.0/0 allow", 1, "0.0.0.0/0", "allow" },
	{ R, "::/0 deny", 1, "::/0", "deny" },
	{ R, "10.0.0.0/8 relay size=10M rcpts=50 tls=required", 1, "10.0.0.0/8",
	  "relay size=10485760 rcpts=50 tls=required" },
	{ R, "10.0.0.0/8 relay TLS=required size=1k", 1, "10.0.0.0/8", "relay size=1024 tls=required" },
	{ R, "10.0.0.0/8 allow size=2G", 1, "10.0.0.0/8", "allow size=2147483648" },
	{ R, "192.0.2.0/024 allow", 1, "192.0.2.0/24", "allow" },
	{ R, "192.0.2.1/24 deny", -1, NULL, "host bits" },
	{ R, "2001:db8::1/32 deny", -1, NULL, "host bits" },
	{ R, "192.0.2.128/25 deny", 1, "192.0.2.128/25", "deny" },
	{ R, "192.0.2.129/25 deny", -1, NULL, "host bits" },
	{ R, "192.0.2.0/33 deny", -1, NULL, "prefix length" },
	{ R, "2001:db8::/129 deny", -1, NULL, "prefix length" },
	{ R, "192.0.2.0/ deny", -1, NULL, "prefix length" },
	{ R, "192.0.2.0/-1 deny", -1, NULL, "prefix length" },
	{ R, "192.0.2.0/24", -1, NULL, "missing action" },
	{ R, "192.0.2.0/24 permit", -1, NULL, "unknown action" },
	{ R, "192.0.2.0/24 deny size=1M", -1, NULL, "deny takes no options" },
	{ R, "192.0.2.0/24 allow size=0", -1, NULL, "size=" },
	{ R, "192.0.2.0/24 allow size=10X", -1, NULL, "size=" },
	{ R, "192.0.2.0/24 allow size=99999999999G", -1, NULL, "size=" },
	{ R, "192.0.2.0/24 allow rcpts=0", -1, NULL, "rcpts=" },
	{ R, "192.0.2.0/24 allow tls=maybe", -1, NULL, "tls=" },
	{ R, "192.0.2.0/24 allow foo=1", -1, NULL, "unknown option" },
	{ R, "192.0.2.0/24 allow size", -1, NULL, "key=value" },
	{ R, "192.0.2.0/24 allow size=1M size=2M", -1, NULL, "given twice" },
	{ R, "300.0.0.1 allow", -1, NULL, "invalid IP" },
	{ R, "192.0.2 allow", -1, NULL, "invalid IP" },
	{ R, "example.test allow", -1, NULL, "invalid IP" },
	/* routes */
	{ T, "remote.test host=[127.0.0.1]:2526 helo=helo tls=require", 1, "remote.test",
	  "host=[127.0.0.1]:2526 helo=helo tls=require" },
	{ T, "Remote.Test tls=may host=Smart.Example.NET", 1, "remote.test",
	  "host=smart.example.net tls=may" },
	{ T, "remote.test host=smart.example.net:0587 tls=verify auth=User@X:secrets/relay", 1,
	  "remote.test", "host=smart.example.net:587 tls=verify auth=User@X:secrets/relay" },
	{ T, "remote.test host=[IPv6:2001:DB8::1]:25", 1, "remote.test", "host=[2001:db8::1]:25" },
	{ T, "remote.test host=[2001:db8::1]", 1, "remote.test", "host=[2001:db8::1]" },
	{ T, "remote.test", 1, "remote.test", "" },
	{ T, "remote.test helo=EHLO", 1, "remote.test", "helo=ehlo" },
	{ T, "remote.test host=[127.0.0.1", -1, NULL, "missing ']'" },
	{ T, "remote.test host=[127.0.0.1]x", -1, NULL, "junk" },
	{ T, "remote.test host=smart.test:0", -1, NULL, "port" },
	{ T, "remote.test host=smart.test:65536", -1, NULL, "port" },
	{ T, "remote.test host=smart.test:", -1, NULL, "port" },
	{ T, "remote.test host=[999.0.0.1]", -1, NULL, "invalid IP" },
	{ T, "remote.test host=bad_name", -1, NULL, "invalid domain" },
	{ T, "remote.test helo=hi", -1, NULL, "helo or ehlo" },
	{ T, "remote.test tls=always", -1, NULL, "none, may, require or verify" },
	{ T, "remote.test auth=u:f", -1, NULL, "needs tls" },
	{ T, "remote.test tls=may auth=u:f", -1, NULL, "needs tls" },
	{ T, "remote.test tls=require auth=u", -1, NULL, "USER:SECRETFILE" },
	{ T, "remote.test tls=require auth=:f", -1, NULL, "USER:SECRETFILE" },
	{ T, "remote.test port=25", -1, NULL, "unknown option" },
	{ T, "remote.test host", -1, NULL, "key=value" },
	{ T, "* host=smart.test", -1, NULL, "wildcards" },
	{ T, "remote.test host=a.test host=b.test", -1, NULL, "given twice" },
	{ T, "remote.test host=", -1, NULL, "empty value" },
	{ T, "[192.0.2.1] host=smart.test", -1, NULL, "address literal" },
};

static const char *kind_name(enum map_kind k)
{
	return map_name(k);
}

/* Exactly n bytes on the heap, so ASan reports any read past the end. */
static char *exact(const char *p, size_t n)
{
	char *q = xmalloc(n ? n : 1);

	memcpy(q, p, n);
	return q;
}

static void check_row(const struct row *r, size_t idx)
{
	struct str key, val;
	char err[256] = "";
	size_t n = strlen(r->line), i;
	char *copy = exact(r->line, n);
	int rc, prefix_ok = 1, nul_ok = 1;

	str_init(&key, 0);
	str_init(&val, 0);
	rc = mapsrc_line(r->k, copy, n, &key, &val, err, sizeof err);
	if (!ok(rc == r->rc, "row %zu %s \"%s\": rc %d", idx, kind_name(r->k), r->line, r->rc))
		diag("got rc %d, err \"%s\"", rc, err);
	if (r->rc == 1 && rc == 1) {
		is_str(str_c(&key), r->key, "row %zu key", idx);
		is_str(str_c(&val), r->val, "row %zu value", idx);
	} else if (r->rc == -1 && rc == -1) {
		if (!ok(strstr(err, r->val) != NULL, "row %zu message has \"%s\"", idx, r->val))
			diag("message: \"%s\"", err);
	}
	free(copy);

	/* Every prefix, each in its own exact-size buffer: never a read past
	 * n, never an answer outside the contract. */
	for (i = 0; i < n; i++) {
		char *p = exact(r->line, i);
		int c = mapsrc_line(r->k, p, i, &key, &val, err, sizeof err);

		if (c < -1 || c > 1)
			prefix_ok = 0;
		free(p);
	}
	ok(prefix_ok, "row %zu: all %zu prefixes parse within bounds", idx, n);

	/* A NUL anywhere in the line is an error, wherever it sits. */
	for (i = 0; i < n; i++) {
		char *p = exact(r->line, n);

		p[i] = '\0';
		/* (a bad byte before it may be reported first) */
		if (mapsrc_line(r->k, p, n, &key, &val, err, sizeof err) != -1 ||
		    (r->rc != -1 && !strstr(err, "NUL")))
			nul_ok = 0;
		free(p);
	}
	ok(nul_ok, "row %zu: a NUL at any of %zu positions is an error", idx, n);
	str_free(&key);
	str_free(&val);
}

static void check_lengths(void)
{
	struct str key, val;
	char err[256];
	char *line = xmalloc(4097);
	int rc;

	str_init(&key, 0);
	str_init(&val, 0);
	/* 4096 bytes: a long but legal line (comment). */
	memset(line, ' ', 4096);
	line[4095] = '#';
	rc = mapsrc_line(MAP_ALIASES, line, 4096, &key, &val, err, sizeof err);
	ok(rc == 0, "a 4096-byte line is accepted");
	memset(line, 'a', 4097);
	rc = mapsrc_line(MAP_ALIASES, line, 4097, &key, &val, err, sizeof err);
	ok(rc == -1 && strstr(err, "line too long"), "a 4097-byte line is an error");
	rc = mapsrc_line(MAP_DOMAINS, line, 300, &key, &val, err, sizeof err);
	ok(rc == -1 && strstr(err, "too long"), "a 300-byte domain is an error");
	/* A small errlen truncates without overflowing. */
	rc = mapsrc_line(MAP_DOMAINS, "a b c", 5, &key, &val, err, 4);
	ok(rc == -1 && strlen(err) == 3, "error message truncated to errlen");
	rc = mapsrc_line(MAP_DOMAINS, "a b c", 5, &key, &val, NULL, 0);
	ok(rc == -1, "errlen 0 is allowed");
	free(line);
	str_free(&key);
	str_free(&val);
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++)
		check_row(&rows[i], i);
	check_lengths();
	diag("%zu table rows", sizeof rows / sizeof rows[0]);
	return tap_done();
}
