/* Fuzz harness: RFC 5321 paths and ESMTP parameters (lib/addr.c).
 *
 * Byte 0 picks the flags and the advertised extensions; the rest is the
 * text after "MAIL FROM:" / "RCPT TO:".  Checked: a parsed path used at
 * most the input and ends in '>', its parts fit their limits and hold no
 * CR, LF or NUL, and its canonical text parses again to the same text
 * (what goes into envelopes and execve arguments is stable). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int clean(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

static int reply_ok(const char *r)
{
	return r && strlen(r) > 4 && (r[0] == '5' || r[0] == '4') && r[3] == ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int fl[4] = { ADDR_MAIL, ADDR_RCPT, ADDR_MAIL | ADDR_UTF8, ADDR_RCPT | ADDR_UTF8 };
	struct addr a, b;
	struct mail_params mp;
	const char *reply = NULL;
	size_t used = 0;
	char *s;
	int flags;
	unsigned allowed;

	if (size < 1)
		return 0;
	flags = fl[data[0] & 3];
	allowed = (data[0] >> 2) & 15;
	/* a copy of exactly size bytes: reads past it are caught */
	s = malloc(size - 1 ? size - 1 : 1);
	memcpy(s, data + 1, size - 1);
	size--;

	if (addr_parse_path(s, size, flags, &a, &used, &reply) == 0) {
		FUZZ_CHECK(used > 0 && used <= size && s[used - 1] == '>');
		FUZZ_CHECK(strlen(a.local) <= ADDR_LOCAL_MAX * 2 + 2);
		FUZZ_CHECK(strlen(a.domain) <= ADDR_DOMAIN_MAX);
		FUZZ_CHECK(strlen(a.text) < sizeof a.text);
		FUZZ_CHECK(clean(a.text) && clean(a.local) && clean(a.domain));
		FUZZ_CHECK(a.utf8 || utf8_valid((const unsigned char *)a.text, strlen(a.text)));
		FUZZ_CHECK(!a.null || (flags & ADDR_MAIL));
		if (!a.null) {
			char again[sizeof a.text + 2];
			size_t u2;
			const char *r2;
			int n = snprintf(again, sizeof again, "<%s>", a.text);

			FUZZ_CHECK(addr_parse_path(again, (size_t)n, flags, &b, &u2, &r2) == 0);
			FUZZ_CHECK(u2 == (size_t)n);
			FUZZ_CHECK(!strcmp(a.text, b.text));
			FUZZ_CHECK(!strcmp(a.domain, b.domain));
			FUZZ_CHECK(!strcmp(a.local, b.local));
			FUZZ_CHECK(a.utf8 == b.utf8);
		}
		if (flags & ADDR_MAIL) {
			if (addr_parse_mail_params(s + used, size - used, allowed, &mp, &reply) == 0)
				FUZZ_CHECK(!mp.has_size || (allowed & PARAM_SIZE));
			else
				FUZZ_CHECK(reply_ok(reply));
		} else if (addr_parse_rcpt_params(s + used, size - used, allowed, &reply) < 0) {
			FUZZ_CHECK(reply_ok(reply));
		}
	} else {
		FUZZ_CHECK(reply_ok(reply));
	}

	reply = NULL;
	if (addr_parse_bare(s, size, flags | ADDR_LAX_BRACKETS, &a, &reply) == 0) {
		FUZZ_CHECK(clean(a.text));
		FUZZ_CHECK(strlen(a.text) < sizeof a.text);
	} else {
		FUZZ_CHECK(reply_ok(reply));
	}
	(void)addr_domain_ok(s, size, flags & ADDR_UTF8);
	(void)utf8_valid((const unsigned char *)s, size);
	free(s);
	return 0;
}
