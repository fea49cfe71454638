/* RFC 5321 paths and ESMTP parameters; see addr.h. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "addr.h"
#include "str.h"

/* Replies: MAIL uses X.1.7 (sender), RCPT X.1.3 (recipient). */
static const char *r_syntax(int flags)
{
	return (flags & ADDR_MAIL) ? "501 5.1.7 Bad sender address syntax"
				   : "501 5.1.3 Bad recipient address syntax";
}

static const char *r_long(int flags, int part)
{
	if (part == 0)
		return (flags & ADDR_MAIL) ? "553 5.1.7 Sender local part longer than 64 octets"
					   : "553 5.1.3 Recipient local part longer than 64 octets";
	if (part == 1)
		return (flags & ADDR_MAIL) ? "553 5.1.7 Sender domain longer than 255 octets"
					   : "553 5.1.3 Recipient domain longer than 255 octets";
	return "501 5.5.2 Path longer than 256 octets";
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int is_atext(int c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

int utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t k;
		unsigned cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* Length of a UTF-8 sequence starting at p (already validated later). */
static size_t utf8_len(unsigned char c)
{
	return c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static int literal_ok(const char *d, size_t n)
{
	char tmp[64];
	unsigned char bin[16];

	if (n < 3 || d[0] != '[' || d[n - 1] != ']' || n - 2 >= sizeof tmp)
		return 0;
	if (n - 2 > 5 && !ascii_ncasecmp(d + 1, "IPv6:", 5)) {
		memcpy(tmp, d + 6, n - 7);
		tmp[n - 7] = '\0';
		return inet_pton(AF_INET6, tmp, bin) == 1;
	}
	memcpy(tmp, d + 1, n - 2);
	tmp[n - 2] = '\0';
	/* inet_pton takes exactly dotted-quad decimal, which is RFC 5321's form */
	return inet_pton(AF_INET, tmp, bin) == 1;
}

int addr_domain_ok(const char *d, size_t n, int utf8)
{
	size_t label = 0;

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	if (d[0] == '[')
		return literal_ok(d, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			/* label ends: must be non-empty and not end with '-' */
			if (label == 0 || d[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (c >= 0x80) {
			size_t k = utf8_len(c);
			if (!utf8 || k > n - i || !utf8_valid((const unsigned char *)d + i, k))
				return 0;
			i += k - 1;
			label += k;
		} else if (is_alpha(c) || is_digit(c)) {
			label++;
		} else if (c == '-' && label > 0) {
			label++;
		} else {
			return 0;
		}
		if (label > 63)
			return 0;
	}
	return label > 0 && d[n - 1] != '-';
}

/* Parse a dot-string or quoted-string local part at s.  The decoded
 * form goes to out.  Returns bytes consumed or 0 on a syntax error; sets
 * *toolong when the decoded part passes the limit. */
static size_t parse_local(const char *s, size_t n, int utf8, char *out,
			  int *quoted, int *toolong)
{
	size_t i = 0, o = 0;

	*quoted = 0;
	*toolong = 0;
	if (n && s[0] == '"') {
		*quoted = 1;
		for (i = 1; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '"')
				break;
			if (c == '\\') {
				if (i + 1 >= n)
					return 0;
				c = (unsigned char)s[++i];
				if (c < 32 || c > 126)
					return 0;
			} else if (c >= 0x80) {
				size_t k = utf8_len(c);
				if (!utf8 || k > n - i || !utf8_valid((const unsigned char *)s + i, k))
					return 0;
				for (size_t j = 0; j < k; j++) {
					if (o < ADDR_LOCAL_MAX * 2)
						out[o] = s[i + j];
					o++;
				}
				i += k - 1;
				continue;
			} else if (c < 32 || c > 126) {
				return 0;
			}
			if (o < ADDR_LOCAL_MAX * 2)
				out[o] = (char)c;
			o++;
		}
		if (i >= n)
			return 0;
		i++;   /* closing quote */
	} else {
		int dot_ok = 0;   /* a dot may follow an atom, never start or repeat */
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '.') {
				if (!dot_ok)
					return 0;
				dot_ok = 0;
			} else if (is_atext(c)) {
				dot_ok = 1;
			} else if (c >= 0x80 && utf8) {
				size_t k = utf8_len(c);
				if (k > n - i || !utf8_valid((const unsigned char *)s + i, k))
					return 0;
				for (size_t j = 0; j + 1 < k; j++) {
					if (o < ADDR_LOCAL_MAX * 2)
						out[o] = s[i + j];
					o++;
				}
				i += k - 1;
				c = (unsigned char)s[i];
				dot_ok = 1;
			} else {
				break;
			}
			if (o < ADDR_LOCAL_MAX * 2)
				out[o] = (char)c;
			o++;
		}
		if (i == 0 || !dot_ok)
			return 0;
	}
	if (o > ADDR_LOCAL_MAX) {
		*toolong = 1;
		o = ADDR_LOCAL_MAX;
	}
	out[o] = '\0';
	return i;
}

/* Does the decoded local part need quotes to be written back? */
static int needs_quotes(const char *l)
{
	int dot_ok = 0;

	if (!*l)
		return 1;
	for (; *l; l++) {
		unsigned char c = (unsigned char)*l;
		if (c == '.') {
			if (!dot_ok)
				return 1;
			dot_ok = 0;
		} else if (is_atext(c) || c >= 0x80) {
			dot_ok = 1;
		} else {
			return 1;
		}
	}
	return !dot_ok;
}

static void make_text(struct addr *a)
{
	size_t o = 0, cap = sizeof a->text;

	if (a->null) {
		a->text[0] = '\0';
		return;
	}
	if (needs_quotes(a->local)) {
		a->text[o++] = '"';
		for (const char *p = a->local; *p && o + 4 < cap; p++) {
			if (*p == '"' || *p == '\\')
				a->text[o++] = '\\';
			a->text[o++] = *p;
		}
		a->text[o++] = '"';
	} else {
		size_t n = strlen(a->local);
		memcpy(a->text, a->local, n);
		o = n;
	}
	if (a->domain[0]) {
		size_t n = strlen(a->domain);
		if (o + 1 + n < cap) {
			a->text[o++] = '@';
			memcpy(a->text + o, a->domain, n);
			o += n;
		}
	}
	a->text[o] = '\0';
}

static int has_nonascii(const char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

/* Mailbox = Local-part "@" Domain, starting at s, ending at n. */
static int parse_mailbox(const char *s, size_t n, int flags, struct addr *a,
			 const char **reply)
{
	int utf8 = (flags & ADDR_UTF8) != 0, quoted, toolong;
	size_t i = parse_local(s, n, utf8, a->local, &quoted, &toolong);

	if (!i) {
		*reply = r_syntax(flags);
		return -1;
	}
	if (toolong) {
		*reply = r_long(flags, 0);
		return -1;
	}
	if (i >= n || s[i] != '@') {
		*reply = r_syntax(flags);
		return -1;
	}
	i++;
	if (n - i > ADDR_DOMAIN_MAX) {
		*reply = r_long(flags, 1);
		return -1;
	}
	if (!addr_domain_ok(s + i, n - i, utf8)) {
		*reply = r_syntax(flags);
		return -1;
	}
	memcpy(a->domain, s + i, n - i);
	a->domain[n - i] = '\0';
	a->utf8 = has_nonascii(a->local) || has_nonascii(a->domain);
	make_text(a);
	return 0;
}

int addr_parse_path(const char *s, size_t n, int flags, struct addr *a,
		    size_t *used, const char **reply)
{
	size_t i = 0, end;

	memset(a, 0, sizeof *a);
	*reply = NULL;
	for (size_t k = 0; k < n; k++)
		if (s[k] == '\0' || s[k] == '\r' || s[k] == '\n') {
			*reply = "501 5.5.2 Control characters are not allowed in addresses";
			return -1;
		}
	if (n == 0 || s[0] != '<') {
		*reply = r_syntax(flags);
		return -1;
	}
	/* Find the closing '>' outside a quoted string. */
	{
		int inq = 0;
		for (end = 1; end < n; end++) {
			if (inq && s[end] == '\\' && end + 1 < n) {
				end++;
				continue;
			}
			if (s[end] == '"')
				inq = !inq;
			else if (!inq && s[end] == '>')
				break;
		}
		if (end >= n) {
			*reply = r_syntax(flags);
			return -1;
		}
	}
	*used = end + 1;
	if (end + 1 > ADDR_PATH_MAX) {
		*reply = r_long(flags, 2);
		return -1;
	}
	i = 1;
	if (end == 1) {
		if (!(flags & ADDR_MAIL)) {
			*reply = "501 5.1.3 Null recipient not allowed";
			return -1;
		}
		a->null = 1;
		return 0;
	}
	/* A-d-l ":" : accepted and dropped (RFC 5321 3.3 and appendix C) */
	if (s[i] == '@') {
		for (;;) {
			size_t st = ++i;
			while (i < end && s[i] != ',' && s[i] != ':')
				i++;
			if (i >= end || !addr_domain_ok(s + st, i - st, 0)) {
				*reply = r_syntax(flags);
				return -1;
			}
			if (s[i] == ':') {
				i++;
				break;
			}
			i++;            /* ',' */
			if (i >= end || s[i] != '@') {
				*reply = r_syntax(flags);
				return -1;
			}
		}
	}
	if ((flags & ADDR_RCPT) && end - i == 10 && !ascii_ncasecmp(s + i, "postmaster", 10)) {
		memcpy(a->local, s + i, 10);
		a->local[10] = '\0';
		make_text(a);
		return 0;
	}
	return parse_mailbox(s + i, end - i, flags, a, reply);
}

int addr_parse_bare(const char *s, size_t n, int flags, struct addr *a,
		    const char **reply)
{
	size_t used;

	memset(a, 0, sizeof *a);
	if ((flags & ADDR_LAX_BRACKETS) && n && s[0] == '<') {
		if (addr_parse_path(s, n, flags, a, &used, reply) < 0)
			return -1;
		if (used != n) {
			*reply = r_syntax(flags);
			return -1;
		}
		return 0;
	}
	for (size_t k = 0; k < n; k++)
		if (s[k] == '\0' || s[k] == '\r' || s[k] == '\n') {
			*reply = "501 5.5.2 Control characters are not allowed in addresses";
			return -1;
		}
	if (n + 2 > ADDR_PATH_MAX) {
		*reply = r_long(flags, 2);
		return -1;
	}
	return parse_mailbox(s, n, flags, a, reply);
}

/* Split "KEY[=VALUE]" words separated by spaces; calls back per word. */
struct param {
	const char *key, *val;
	size_t klen, vlen;
	int has_val;
};

static int next_param(const char **pp, const char *end, struct param *p,
		      const char **reply)
{
	const char *s = *pp;

	while (s < end && *s == ' ')
		s++;
	if (s >= end)
		return 0;
	p->key = s;
	if (!is_alpha((unsigned char)*s) && !is_digit((unsigned char)*s)) {
		*reply = "501 5.5.4 Bad ESMTP parameter syntax";
		return -1;
	}
	while (s < end && (is_alpha((unsigned char)*s) || is_digit((unsigned char)*s) || *s == '-'))
		s++;
	p->klen = (size_t)(s - p->key);
	p->has_val = 0;
	p->val = NULL;
	p->vlen = 0;
	if (s < end && *s == '=') {
		p->has_val = 1;
		p->val = ++s;
		while (s < end && *s != ' ') {
			unsigned char c = (unsigned char)*s;
			if (c < 33 || c > 126 || c == '=') {
				*reply = "501 5.5.4 Bad ESMTP parameter value";
				return -1;
			}
			s++;
		}
		p->vlen = (size_t)(s - p->val);
		if (!p->vlen) {
			*reply = "501 5.5.4 Bad ESMTP parameter value";
			return -1;
		}
	}
	if (s < end && *s != ' ') {
		*reply = "501 5.5.4 Bad ESMTP parameter syntax";
		return -1;
	}
	*pp = s;
	return 1;
}

static int kw(const struct param *p, const char *name)
{
	return p->klen == strlen(name) && !ascii_ncasecmp(p->key, name, p->klen);
}

int addr_parse_mail_params(const char *s, size_t n, unsigned allowed,
			   struct mail_params *mp, const char **reply)
{
	const char *end = s + n;
	struct param p;
	int r;

	memset(mp, 0, sizeof *mp);
	while ((r = next_param(&s, end, &p, reply)) > 0) {
		if (kw(&p, "SIZE") && (allowed & PARAM_SIZE)) {
			unsigned long long v = 0;
			if (!p.has_val || mp->has_size || p.vlen > 20)
				goto bad;
			for (size_t i = 0; i < p.vlen; i++) {
				if (!is_digit((unsigned char)p.val[i]))
					goto bad;
				unsigned d = (unsigned)(p.val[i] - '0');
				if (v > (~0ULL - d) / 10)
					goto bad;
				v = v * 10 + d;
			}
			mp->size = v;
			mp->has_size = 1;
		} else if (kw(&p, "BODY") && (allowed & PARAM_8BITMIME)) {
			if (!p.has_val || mp->body != BODY_UNSET)
				goto bad;
			if (p.vlen == 4 && !ascii_ncasecmp(p.val, "7BIT", 4))
				mp->body = BODY_7BIT;
			else if (p.vlen == 8 && !ascii_ncasecmp(p.val, "8BITMIME", 8))
				mp->body = BODY_8BITMIME;
			else if (p.vlen == 10 && !ascii_ncasecmp(p.val, "BINARYMIME", 10) &&
				 (allowed & PARAM_BINARYMIME))
				mp->body = BODY_BINARYMIME;
			else {
				*reply = "555 5.5.4 Unsupported BODY type";
				return -1;
			}
		} else if (kw(&p, "SMTPUTF8") && (allowed & PARAM_SMTPUTF8)) {
			if (p.has_val || mp->smtputf8)
				goto bad;
			mp->smtputf8 = 1;
		} else {
			*reply = "555 5.5.4 Unsupported MAIL parameter";
			return -1;
		}
	}
	return r;
bad:
	*reply = "501 5.5.4 Bad MAIL parameter value";
	return -1;
}

int addr_parse_rcpt_params(const char *s, size_t n, unsigned allowed,
			   const char **reply)
{
	const char *end = s + n;
	struct param p;
	int r = next_param(&s, end, &p, reply);

	(void)allowed;
	if (r > 0) {
		*reply = "555 5.5.4 Unsupported RCPT parameter";
		return -1;
	}
	return r;
}
