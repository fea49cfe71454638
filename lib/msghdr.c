/* RFC 5322 header fields and address lists for local injection; see msghdr.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "msghdr.h"
#include "str.h"

int msghdr_parse(const char *buf, size_t len, struct msghdr *h)
{
	size_t pos = 0;

	h->f = NULL;
	h->n = h->cap = 0;
	h->body = len;
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - s) + 1 : len - pos;
		const char *colon;

		if (s[0] == '\n') {
			h->body = pos + 1;
			return 0;
		}
		if ((s[0] == ' ' || s[0] == '\t') && h->n) {
			h->f[h->n - 1].end = pos + ll;
			pos += ll;
			continue;
		}
		colon = memchr(s, ':', ll);
		if (!colon) {
			/* no empty line before the body: it starts here */
			h->body = pos;
			return 0;
		}
		/* a name is printable ASCII except ':' (RFC 5322 2.2); obsolete
		 * space before the colon is allowed and not part of it */
		{
			size_t nl2 = (size_t)(colon - s);
			while (nl2 && (s[nl2 - 1] == ' ' || s[nl2 - 1] == '\t'))
				nl2--;
			if (nl2 == 0)
				return -1;
			for (size_t i = 0; i < nl2; i++)
				if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
					return -1;
			if (h->n == h->cap) {
				h->cap = h->cap ? h->cap * 2 : 16;
				h->f = xrealloc(h->f, h->cap * sizeof *h->f);
			}
			h->f[h->n].start = pos;
			h->f[h->n].end = pos + ll;
			h->f[h->n].nlen = nl2;
			h->n++;
		}
		pos += ll;
	}
	return 0;
}

void msghdr_free(struct msghdr *h)
{
	free(h->f);
	h->f = NULL;
	h->n = h->cap = 0;
}

int msghdr_is(const char *buf, const struct hfield *f, const char *name)
{
	return strlen(name) == f->nlen && ascii_ncasecmp(buf + f->start, name, f->nlen) == 0;
}

struct alist {
	struct str seg;         /* the current address outside <>, comments gone */
	struct str angle;       /* the last <...> of it */
	int has_angle, in_angle, words;
	void (*cb)(void *, const char *);
	void *ctx;
	int count;
};

/* The end of one address: the angle address if there was one, else the
 * segment, which must then be an addr-spec. */
static int finish(struct alist *a)
{
	const char *p;
	struct str *s = a->has_angle ? &a->angle : &a->seg;
	char *t;
	int rc = 0;

	str_catc(s, '\0');
	t = s->s;
	/* an obsolete source route "@a,@b:" goes (RFC 5322 4.4) */
	if (a->has_angle && t[0] == '@') {
		char *colon = strchr(t, ':');
		if (!colon)
			return -1;
		t = colon + 1;
	}
	if (*t) {
		/* words separated by space outside <> are a phrase, not an address */
		if (!a->has_angle && a->words > 1)
			rc = -1;
		p = strrchr(t, '@');
		if (p && (p == t || !p[1]))
			rc = -1;
		if (rc == 0) {
			a->cb(a->ctx, t);
			a->count++;
		}
	} else if (a->has_angle) {
		rc = -1;        /* "<>" is no recipient */
	}
	str_clear(&a->seg);
	str_clear(&a->angle);
	a->has_angle = a->words = 0;
	return rc;
}

int msghdr_addresses(const char *v, size_t n, void (*cb)(void *ctx, const char *addr),
		     void *ctx)
{
	struct alist a;
	int in_group = 0, rc = -1, space = 0;

	memset(&a, 0, sizeof a);
	str_init(&a.seg, 4096);
	str_init(&a.angle, 4096);
	a.cb = cb;
	a.ctx = ctx;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		struct str *out = a.in_angle ? &a.angle : &a.seg;

		if (c == '(') {
			int depth = 1;
			for (i++; i < n && depth; i++) {
				if (v[i] == '\\')
					i++;
				else if (v[i] == '(')
					depth++;
				else if (v[i] == ')')
					depth--;
			}
			if (depth)
				goto out;
			i--;
			space = 1;
			continue;
		}
		if (c == '"') {
			if (!a.in_angle && space && a.seg.len)
				a.words++;
			space = 0;
			if (!a.in_angle && !a.seg.len)
				a.words++;
			str_catc(out, '"');
			for (i++; i < n && v[i] != '"'; i++) {
				if (v[i] == '\\' && i + 1 < n)
					str_catc(out, v[i++]);
				if (v[i] != '\n' && v[i] != '\r')
					str_catc(out, v[i]);
			}
			if (i >= n)
				goto out;
			str_catc(out, '"');
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = 1;
			continue;
		}
		if (a.in_angle) {
			if (c == '>')
				a.in_angle = 0;
			else if (c == '<')
				goto out;
			else
				str_catc(&a.angle, c);
			space = 0;
			continue;
		}
		switch (c) {
		case '<':
			if (a.has_angle)
				goto out;
			a.in_angle = a.has_angle = 1;
			str_clear(&a.angle);
			break;
		case '>':
			goto out;
		case ',':
			if (finish(&a) < 0)
				goto out;
			break;
		case ':':
			/* "display name:" opens a group; the name is dropped */
			if (in_group || a.has_angle)
				goto out;
			in_group = 1;
			str_clear(&a.seg);
			a.words = 0;
			break;
		case ';':
			if (!in_group || finish(&a) < 0)
				goto out;
			in_group = 0;
			break;
		default:
			/* the text before "<" is the display name: only its
			 * presence matters, and spaces around '@' and '.' are
			 * the obsolete CFWS of an addr-spec */
			if (space && a.seg.len && c != '@' && c != '.' &&
			    a.seg.s[a.seg.len - 1] != '@' && a.seg.s[a.seg.len - 1] != '.')
				a.words++;
			else if (!a.seg.len)
				a.words = 1;
			str_catc(&a.seg, c);
		}
		space = 0;
	}
	if (a.in_angle || in_group)
		goto out;
	if (finish(&a) < 0)
		goto out;
	rc = a.count;
out:
	str_free(&a.seg);
	str_free(&a.angle);
	return rc;
}
