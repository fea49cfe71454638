/* Strict parser of SMTP reply lines for the relay's client; see relay-reply.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "relay-reply.h"
#include "str.h"

void reply_init(struct reply *r)
{
	memset(r, 0, sizeof *r);
}

static int bad(struct reply *r, const char *why)
{
	r->why = why;
	return -1;
}

int reply_line(struct reply *r, const char *line, size_t n)
{
	int code;
	size_t add;

	if (r->done)
		return bad(r, "line after the last line of a reply");
	if (n > REPLY_LINE_MAX)
		return bad(r, "reply line too long");
	if (memchr(line, '\0', n))
		return bad(r, "NUL in reply");
	if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    line[2] < '0' || line[2] > '9')
		return bad(r, "reply line does not start with a code 200-559");
	if (n > 3 && line[3] != ' ' && line[3] != '-')
		return bad(r, "junk after the reply code");
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->code && code != r->code)
		return bad(r, "reply lines with different codes");
	r->code = code;
	if (++r->lines > REPLY_LINES_MAX)
		return bad(r, "reply with too many lines");
	/* the text, LF-joined; what does not fit is dropped */
	add = n > 4 ? n - 4 : 0;
	if (r->tlen && r->tlen + 1 < sizeof r->text)
		r->text[r->tlen++] = '\n';
	if (add > sizeof r->text - 1 - r->tlen)
		add = sizeof r->text - 1 - r->tlen;
	memcpy(r->text + r->tlen, line + 4, add);
	r->tlen += add;
	r->text[r->tlen] = '\0';
	if (n > 3 && line[3] == '-')
		return 0;
	r->done = 1;
	return 1;
}

void reply_enhanced(const struct reply *r, char *out, size_t len)
{
	const char *p = r->text;
	size_t i = 0;

	/* class "." subject "." detail: 1 digit, 1-3 digits, 1-3 digits */
	if (len)
		out[0] = '\0';
	if (!(p[0] >= '2' && p[0] <= '5' && p[0] == '0' + r->code / 100 && p[1] == '.'))
		return;
	i = 2;
	for (int part = 0; part < 2; part++) {
		size_t d = 0;
		while (p[i] >= '0' && p[i] <= '9' && d < 4)
			i++, d++;
		if (d < 1 || d > 3)
			return;
		if (part == 0 && p[i++] != '.')
			return;
	}
	if (p[i] && p[i] != ' ' && p[i] != '\n')
		return;
	if (i < len) {
		memcpy(out, p, i);
		out[i] = '\0';
	}
}

int reply_ehlo_has(const struct reply *r, const char *kw, char *params, size_t plen)
{
	const char *p = r->text, *end = r->text + r->tlen;
	size_t kl = strlen(kw);
	int first = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		/* the first line is the server's greeting, never a keyword */
		if (!first && n >= kl && ascii_ncasecmp(p, kw, kl) == 0 &&
		    (n == kl || p[kl] == ' ' || p[kl] == '=')) {
			if (params && plen) {
				size_t pn = n > kl ? n - kl - 1 : 0;
				if (pn >= plen)
					pn = plen - 1;
				memcpy(params, p + kl + (n > kl), pn);
				params[pn] = '\0';
			}
			return 1;
		}
		first = 0;
		p += n + 1;
	}
	return 0;
}

void reply_oneline(const struct reply *r, char *out, size_t len)
{
	size_t o;

	if (!len)
		return;
	o = (size_t)snprintf(out, len, "%03d ", r->code);
	if (o >= len)
		return;
	for (size_t i = 0; i < r->tlen && o + 4 < len; i++) {
		unsigned char c = (unsigned char)r->text[i];

		if (c == '\n') {
			memcpy(out + o, " / ", 3);
			o += 3;
		} else {
			out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
		}
	}
	out[o] = '\0';
}
