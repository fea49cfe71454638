/* RFC 5321 paths and ESMTP parameters (pure functions, no I/O).
 *
 * Accepts <local@domain>, <> (MAIL only), <postmaster> (RCPT only),
 * quoted local parts, address literals [1.2.3.4] and [IPv6:...], and
 * source routes <@a,@b:u@d>, which are accepted and dropped (RFC 5321
 * 3.3, C.).  Rejects CR, LF, NUL and parts over the RFC limits.
 * Errors come back as a full SMTP reply ("501 5.1.7 ...") so callers do
 * not invent their own wording. */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_PATH_MAX 256

struct addr {
	int null;                         /* <> */
	int utf8;                         /* contains non-ASCII */
	char local[ADDR_LOCAL_MAX * 2 + 3];   /* decoded (quotes removed) */
	char domain[ADDR_DOMAIN_MAX + 1];
	char text[ADDR_PATH_MAX * 2 + 3];     /* canonical local@domain, quoting as needed */
};

enum {
	ADDR_MAIL = 1,       /* MAIL FROM: allows <> */
	ADDR_RCPT = 2,       /* RCPT TO: allows <postmaster> */
	ADDR_UTF8 = 4,       /* SMTPUTF8 given: allow UTF-8 */
	ADDR_LAX_BRACKETS = 8,  /* accept a path without <> (deliver args) */
};

/* Parse a path starting at s (length n).  On success returns 0, fills *a
 * and sets *used to the bytes consumed (up to and including '>').  On
 * failure returns -1 and points *reply at a static SMTP reply. */
int addr_parse_path(const char *s, size_t n, int flags, struct addr *a,
		    size_t *used, const char **reply);

/* Parse a bare address "local@domain" (deliver arguments, map targets). */
int addr_parse_bare(const char *s, size_t n, int flags, struct addr *a,
		    const char **reply);

/* Domain syntax: dot-atom of LDH labels or an address literal. */
int addr_domain_ok(const char *d, size_t n, int utf8);

/* Well-formed UTF-8 without overlongs or surrogates. */
int utf8_valid(const unsigned char *p, size_t n);

/* ESMTP parameters after the path of MAIL/RCPT. */
enum body_type { BODY_UNSET, BODY_7BIT, BODY_8BITMIME, BODY_BINARYMIME };

struct mail_params {
	unsigned long long size;  /* SIZE=, 0 when absent */
	int has_size;
	enum body_type body;
	int smtputf8;
};

/* Parse "KEY=VALUE KEY ..." (the text after the path).  allowed: bitmask of
 * what the server advertised (see enum below).  Returns 0 or -1 with *reply
 * set (555 5.5.4 for unknown or bad parameters, 501 5.5.4 for syntax). */
enum { PARAM_SIZE = 1, PARAM_8BITMIME = 2, PARAM_SMTPUTF8 = 4, PARAM_BINARYMIME = 8 };
int addr_parse_mail_params(const char *s, size_t n, unsigned allowed,
			   struct mail_params *p, const char **reply);
int addr_parse_rcpt_params(const char *s, size_t n, unsigned allowed,
			   const char **reply);

#endif
