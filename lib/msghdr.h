/* RFC 5322 header blocks for local injection (pickup folder,
 * postern-sendmail -t): fields with folding, address lists with display
 * names, comments, quoted strings and groups.  Pure functions. */
#ifndef POSTERN_MSGHDR_H
#define POSTERN_MSGHDR_H

#include <stddef.h>
#include "str.h"

struct hfield {
	size_t start, end;      /* the whole field, continuation lines and its LF */
	size_t nlen;            /* length of the name */
};

struct msghdr {
	struct hfield *f;
	size_t n, cap;
	size_t body;            /* offset of the body (after the empty line), or len */
};

/* Split buf (LF line ends) into fields.  A line that is neither "name:"
 * nor a continuation ends the header block there (it is body, as if an
 * empty line stood before it).  0, or -1 when a field name is empty or
 * holds bytes outside 33..126. */
int msghdr_parse(const char *buf, size_t len, struct msghdr *h);
void msghdr_free(struct msghdr *h);
/* Is field f named name (case-insensitive)? */
int msghdr_is(const char *buf, const struct hfield *f, const char *name);

/* The addr-specs of an address list (a field's value, folded or not),
 * in order: "Name" <a@b>, a@b (comment), group: x@y, z@w;, <@route:a@b>.
 * Each goes to cb as a NUL-terminated string.  Returns the count, or -1
 * for a syntax error (unbalanced quote, comment or bracket, or a bare
 * phrase where an address should be). */
int msghdr_addresses(const char *v, size_t n, void (*cb)(void *ctx, const char *addr),
		     void *ctx);

#endif
