/* SMTP replies as the relay's client reads them (RFC 5321 4.2): pure,
 * one line at a time, strict.
 *
 *   struct reply r;
 *   reply_init(&r);
 *   while ((rc = reply_line(&r, line, len)) == 0)
 *           ... read the next line ...
 *   rc 1: r.code, r.text complete; rc -1: malformed (r.why says how)
 *
 * Every line is three digits 2xx-5xx, then '-' (more follow), ' ' or
 * nothing (the last); all lines carry the same code; NUL bytes, lines
 * over REPLY_LINE_MAX and replies over REPLY_LINES_MAX lines are
 * malformed.  The text of all lines is kept, LF-separated, up to
 * REPLY_TEXT_MAX bytes (EHLO keywords are read from it); what does not
 * fit is dropped but still parsed. */
#ifndef POSTERN_RELAY_REPLY_H
#define POSTERN_RELAY_REPLY_H

#include <stddef.h>

#define REPLY_LINE_MAX 2048
#define REPLY_LINES_MAX 256
#define REPLY_TEXT_MAX 4096

struct reply {
	int code;                       /* 0 until the first line */
	unsigned lines;
	int done;
	char text[REPLY_TEXT_MAX];      /* line texts without codes, LF between */
	size_t tlen;
	const char *why;                /* for a malformed reply */
};

void reply_init(struct reply *r);
/* One line without its CRLF.  1 complete, 0 more lines follow, -1 bad. */
int reply_line(struct reply *r, const char *line, size_t n);
/* The enhanced status code (RFC 3463) at the start of the text, e.g.
 * "5.1.1", into out; "" when there is none. */
void reply_enhanced(const struct reply *r, char *out, size_t len);
/* Find an EHLO keyword (case-insensitive) in a complete 250 reply; its
 * parameters (text after "KEYWORD ") into params when found.  1 or 0. */
int reply_ehlo_has(const struct reply *r, const char *kw, char *params, size_t plen);
/* The reply as one line for logs and envelopes: "550 5.1.1 text / text". */
void reply_oneline(const struct reply *r, char *out, size_t len);

#endif
