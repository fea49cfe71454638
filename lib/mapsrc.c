/* Map sources: check one line of an admin's text file (pure). */
#include "config.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "addr.h"
#include "conf.h"
#include "mapsrc.h"
#include "str.h"

#define LINE_CAP 4096

struct span {
	const char *p;
	size_t n;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* User text in messages is capped so one error stays one readable line. */
#define Q(s) (int)((s).n > 80 ? 80 : (s).n), (s).p

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static struct span trim(struct span s)
{
	while (s.n && is_ws(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_ws(s.p[s.n - 1]))
		s.n--;
	return s;
}

/* Next whitespace-separated field; empty span at the end. */
static struct span field(struct span *rest)
{
	struct span f;
	size_t i = 0;

	*rest = trim(*rest);
	while (i < rest->n && !is_ws(rest->p[i]))
		i++;
	f.p = rest->p;
	f.n = i;
	rest->p += i;
	rest->n -= i;
	return f;
}

/* Split at the first c: head before it, *rest after it.  0 when absent. */
static int cut(struct span *rest, char c, struct span *head)
{
	const char *q = memchr(rest->p, c, rest->n);

	if (!q)
		return 0;
	head->p = rest->p;
	head->n = (size_t)(q - rest->p);
	rest->n -= head->n + 1;
	rest->p = q + 1;
	return 1;
}

static int span_is(struct span s, const char *word)
{
	size_t n = strlen(word);

	return s.n == n && ascii_ncasecmp(s.p, word, n) == 0;
}

static int put_lower(struct str *s, struct span v)
{
	size_t old = s->len;

	if (str_catn(s, v.p, v.n) < 0)
		return -1;
	ascii_lowercase(s->s + old, v.n);
	return 0;
}

static int too_long(char *err, size_t errlen)
{
	return fail(err, errlen, "entry too long");
}

/* Decimal without sign or leading junk, at most max. */
static int parse_uint(struct span v, unsigned long long max,
		      unsigned long long *out)
{
	unsigned long long r = 0;
	size_t i;

	if (v.n == 0 || v.n > 20)
		return -1;
	for (i = 0; i < v.n; i++) {
		unsigned d;

		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		d = (unsigned)(v.p[i] - '0');
		if (r > (max - d) / 10)
			return -1;
		r = r * 10 + d;
	}
	*out = r;
	return 0;
}

/* Maps name real domains only: an address literal is never local and
 * never a route key, so it is refused rather than silently unused. */
static int check_domain(struct span d, char *err, size_t errlen)
{
	char buf[ADDR_DOMAIN_MAX + 1];

	if (d.n == 0)
		return fail(err, errlen, "empty domain");
	if (d.p[0] == '[')
		return fail(err, errlen, "address literal %.*s not allowed here", Q(d));
	if (d.n > ADDR_DOMAIN_MAX)
		return fail(err, errlen, "domain too long: %.*s...", Q(d));
	memcpy(buf, d.p, d.n);
	buf[d.n] = '\0';
	ascii_lowercase(buf, d.n);
	if (!addr_domain_ok(buf, d.n, 0))
		return fail(err, errlen, "invalid domain %.*s", Q(d));
	return 0;
}

static int atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* local@domain with a dot-atom local part.  Quoted local parts are
 * refused: the aliases value is a ','-joined list, and a quoted part
 * could carry ',' or '@' into it. */
static int check_addr(struct span a, char *err, size_t errlen)
{
	char buf[ADDR_PATH_MAX + 1];
	struct span local, dom;
	struct addr parsed;
	const char *reply;
	const char *at;
	size_t i;

	if (a.n == 0)
		return fail(err, errlen, "empty address");
	if (a.n > ADDR_PATH_MAX - 2)
		return fail(err, errlen, "address too long: %.*s...", Q(a));
	at = memrchr(a.p, '@', a.n);
	if (!at)
		return fail(err, errlen, "%.*s: address needs local@domain", Q(a));
	local.p = a.p;
	local.n = (size_t)(at - a.p);
	dom.p = at + 1;
	dom.n = a.n - local.n - 1;
	if (local.n == 0)
		return fail(err, errlen, "%.*s: empty local part", Q(a));
	if (local.n > ADDR_LOCAL_MAX)
		return fail(err, errlen, "%.*s: local part too long", Q(a));
	for (i = 0; i < local.n; i++) {
		unsigned char c = (unsigned char)local.p[i];

		if (c == '.' && i > 0 && i + 1 < local.n && local.p[i + 1] != '.')
			continue;
		if (c == '.' || !atext(c))
			return fail(err, errlen, "%.*s: local part must be a plain dot-atom", Q(a));
	}
	if (check_domain(dom, err, errlen) < 0)
		return -1;
	memcpy(buf, a.p, a.n);
	buf[a.n] = '\0';
	ascii_lowercase(buf, a.n);
	if (addr_parse_bare(buf, a.n, 0, &parsed, &reply) < 0)
		return fail(err, errlen, "%.*s: invalid address", Q(a));
	return 0;
}

static int parse_domains(struct span rest, struct str *key, struct str *val,
			 char *err, size_t errlen)
{
	struct span d = field(&rest), primary = field(&rest);

	if (trim(rest).n)
		return fail(err, errlen, "too many fields (want \"domain\" or \"alias-domain primary-domain\")");
	if (check_domain(d, err, errlen) < 0)
		return -1;
	if (put_lower(key, d) < 0)
		return too_long(err, errlen);
	if (primary.n == 0)
		return 1;
	if (check_domain(primary, err, errlen) < 0)
		return -1;
	if (put_lower(val, primary) < 0)
		return too_long(err, errlen);
	if (key->len == val->len && memcmp(key->s, val->s, key->len) == 0)
		return fail(err, errlen, "alias domain %.*s points at itself", Q(d));
	return 1;
}

static int parse_aliases(struct span rest, struct str *key, struct str *val,
			 char *err, size_t errlen)
{
	struct span k, t;
	int last = 0;

	if (!cut(&rest, ':', &k))
		return fail(err, errlen, "missing ':' after the alias address");
	k = trim(k);
	if (k.n == 0)
		return fail(err, errlen, "empty alias address");
	if (k.p[0] == '@') {
		struct span d = { k.p + 1, k.n - 1 };
		if (check_domain(d, err, errlen) < 0)
			return -1;
	} else if (check_addr(k, err, errlen) < 0) {
		return -1;
	} else if (memchr(k.p, '%', k.n) || memchr(k.p, '!', k.n)) {
		/* Recipients with these are never looked up (no source routing). */
		return fail(err, errlen, "%.*s: '%%' and '!' never match", Q(k));
	}
	if (put_lower(key, k) < 0)
		return too_long(err, errlen);
	if (trim(rest).n == 0)
		return fail(err, errlen, "alias %.*s has no targets", Q(k));
	while (!last) {
		size_t start = val->len;

		if (!cut(&rest, ',', &t)) {
			t = rest;
			last = 1;
		}
		t = trim(t);
		if (t.n == 0)
			return fail(err, errlen, "empty target in the list of %.*s", Q(k));
		if (t.p[0] == '@')
			return fail(err, errlen, "target %.*s: a catch-all is not a target", Q(t));
		if (check_addr(t, err, errlen) < 0)
			return -1;
		if ((start && str_catc(val, ',') < 0) || put_lower(val, t) < 0)
			return too_long(err, errlen);
		/* Look for the new target among the earlier ones. */
		if (start) {
			const char *me = val->s + start + 1;
			size_t mn = val->len - start - 1;
			const char *q = val->s, *end = val->s + start;

			while (q < end) {
				const char *c = memchr(q, ',', (size_t)(end - q));
				size_t ln = c ? (size_t)(c - q) : (size_t)(end - q);

				if (ln == mn && memcmp(q, me, mn) == 0)
					return fail(err, errlen, "duplicate target %.*s", Q(t));
				q += ln + 1;
			}
		}
	}
	return 1;
}

/* Filesystem-safe by construction: the local part becomes a directory
 * name under mail_root/<domain>/. */
static int check_user(struct span a, char *err, size_t errlen)
{
	const char *at = memrchr(a.p, '@', a.n);
	struct span local, dom;
	size_t i;

	if (!at)
		return fail(err, errlen, "%.*s: user needs local@domain", Q(a));
	local.p = a.p;
	local.n = (size_t)(at - a.p);
	dom.p = at + 1;
	dom.n = a.n - local.n - 1;
	if (local.n == 0)
		return fail(err, errlen, "%.*s: empty local part", Q(a));
	if (local.n > ADDR_LOCAL_MAX)
		return fail(err, errlen, "%.*s: local part too long", Q(a));
	for (i = 0; i < local.n; i++) {
		char c = (char)ascii_lower((unsigned char)local.p[i]);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      strchr("._+=-", c)))
			return fail(err, errlen, "%.*s: user names may use only a-z 0-9 . _ + = -", Q(a));
	}
	if (local.p[0] == '.' || local.p[local.n - 1] == '.' ||
	    memmem(local.p, local.n, "..", 2))
		return fail(err, errlen, "%.*s: misplaced '.' in user name", Q(a));
	return check_domain(dom, err, errlen);
}

static int check_hash(struct span h, char *err, size_t errlen)
{
	char buf[512];
	const char *last;
	size_t i, dollars = 0;
	int r;

	if (h.n == 0)
		return fail(err, errlen, "missing password hash (use '!' to disable the account)");
	if (h.p[0] == '!' || h.p[0] == '*')
		return 0;
	if (h.n >= sizeof buf)
		return fail(err, errlen, "password hash too long");
	for (i = 0; i < h.n; i++) {
		char c = h.p[i];

		if (c == '$')
			dollars++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '.' || c == '/' ||
			   c == '=' || c == ',' || c == '-'))
			break;
	}
	last = memrchr(h.p, '$', h.n);
	/* crypt_checksalt() looks at the setting only, so "$y$" alone would
	 * pass: require "$id$...$hash" with a non-empty hash part. */
	if (i < h.n || h.p[0] != '$' || dollars < 3 || last == h.p + h.n - 1)
		return fail(err, errlen, "not a crypt(3) password hash");
	memcpy(buf, h.p, h.n);
	buf[h.n] = '\0';
	r = crypt_checksalt(buf);
	if (r == CRYPT_SALT_METHOD_LEGACY)
		return fail(err, errlen, "legacy password hash method (use yescrypt $y$ or SHA-512 $6$)");
	if (r != CRYPT_SALT_OK)
		return fail(err, errlen, "password hash method not supported by crypt(3)");
	return 0;
}

static int check_path(struct span p, const char *what, char *err, size_t errlen)
{
	size_t i = 0;

	if (p.n == 0)
		return fail(err, errlen, "empty %s", what);
	if (p.n >= CONF_PATH_MAX / 2)
		return fail(err, errlen, "%s too long", what);
	/* Refuse climbing out of wherever the path is anchored. */
	while (i < p.n) {
		size_t j = i;

		while (j < p.n && p.p[j] != '/')
			j++;
		if (j - i == 2 && p.p[i] == '.' && p.p[i + 1] == '.')
			return fail(err, errlen, "%s %.*s: '..' not allowed", what, Q(p));
		i = j + 1;
	}
	for (i = 0; i < p.n; i++)
		if (p.p[i] == ',' || p.p[i] == ':' || is_ws(p.p[i]))
			return fail(err, errlen, "%s %.*s: no spaces, ',' or ':' allowed", what, Q(p));
	return 0;
}

static int parse_users(struct span rest, struct str *key, struct str *val,
		       char *err, size_t errlen)
{
	struct span k, h;
	int have_opts, have_mailbox = 0;

	if (!cut(&rest, ':', &k))
		return fail(err, errlen, "missing ':' after the user address");
	k = trim(k);
	if (check_user(k, err, errlen) < 0)
		return -1;
	if (put_lower(key, k) < 0)
		return too_long(err, errlen);
	have_opts = cut(&rest, ':', &h);
	if (!have_opts)
		h = rest;
	h = trim(h);
	if (check_hash(h, err, errlen) < 0)
		return -1;
	if (str_catn(val, h.p, h.n) < 0)
		return too_long(err, errlen);
	if (!have_opts)
		return 1;
	rest = trim(rest);
	if (rest.n == 0)
		return fail(err, errlen, "empty options after ':'");
	for (;;) {
		struct span opt, name;
		int last = !cut(&rest, ',', &opt);

		if (last)
			opt = rest;
		opt = trim(opt);
		if (!cut(&opt, '=', &name))
			return fail(err, errlen, "option %.*s: want key=value", Q(opt));
		name = trim(name);
		opt = trim(opt);
		if (!span_is(name, "mailbox"))
			return fail(err, errlen, "unknown option %.*s", Q(name));
		if (have_mailbox++)
			return fail(err, errlen, "option mailbox given twice");
		if (check_path(opt, "mailbox", err, errlen) < 0)
			return -1;
		if (str_cats(val, ":mailbox=") < 0 || str_catn(val, opt.p, opt.n) < 0)
			return too_long(err, errlen);
		if (last)
			break;
	}
	return 1;
}

/* Parse "a.b.c.d[/len]" or "v6[/len]" into a canonical network.  Host
 * bits set are an error: "192.0.2.1/24" is a typo, and guessing which
 * half the admin meant would be worse than asking. */
static int parse_net(struct span s, struct str *key, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 1], out[INET6_ADDRSTRLEN];
	unsigned char ip[16];
	unsigned long long len;
	const char *slash = memchr(s.p, '/', s.n);
	struct span l = s, a;
	int v6, max, i;

	if (slash)
		l.n = (size_t)(slash - s.p);
	if (l.n == 0 || l.n > INET6_ADDRSTRLEN - 1)
		return fail(err, errlen, "invalid network %.*s", Q(s));
	memcpy(buf, l.p, l.n);
	buf[l.n] = '\0';
	v6 = memchr(l.p, ':', l.n) != NULL;
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, ip) != 1)
		return fail(err, errlen, "invalid IP address %.*s", Q(l));
	max = v6 ? 128 : 32;
	len = (unsigned long long)max;
	if (slash) {
		a.p = slash + 1;
		a.n = s.n - l.n - 1;
		if (a.n > 3 || parse_uint(a, (unsigned long long)max, &len) < 0)
			return fail(err, errlen, "invalid prefix length in %.*s (0-%d)", Q(s), max);
	}
	for (i = 0; i < max / 8; i++) {
		int bits = (int)len - i * 8;
		unsigned mask = bits >= 8 ? 0xff : bits <= 0 ? 0 : (0xff00u >> bits) & 0xff;

		if (ip[i] & ~mask & 0xff)
			return fail(err, errlen, "host bits set in %.*s", Q(s));
	}
	/* ::ffff:a.b.c.d is how an IPv4 client shows up on a v6 socket; one
	 * key form keeps both spellings the same rule. */
	if (v6 && len >= 96 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)ip)) {
		memmove(ip, ip + 12, 4);
		len -= 96;
		v6 = 0;
	}
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, ip, out, sizeof out))
		return fail(err, errlen, "invalid network %.*s", Q(s));
	if (str_printf(key, "%s/%llu", out, len) < 0)
		return too_long(err, errlen);
	return 0;
}

/* size=N[k|M|G] in bytes; k, M and G are powers of 1024. */
static int parse_size(struct span v, unsigned long long *out)
{
	unsigned long long mul = 1, r;

	if (v.n && strchr("kKmMgG", v.p[v.n - 1])) {
		char c = (char)ascii_lower((unsigned char)v.p[v.n - 1]);

		mul = c == 'k' ? 1ULL << 10 : c == 'm' ? 1ULL << 20 : 1ULL << 30;
		v.n--;
	}
	if (parse_uint(v, (1ULL << 50) / mul, &r) < 0 || r == 0)
		return -1;
	*out = r * mul;
	return 0;
}

static int parse_relay(struct span rest, struct str *key, struct str *val,
		       char *err, size_t errlen)
{
	struct span net = field(&rest), act = field(&rest), opt;
	unsigned long long size = 0, rcpts = 0;
	int tls = 0;

	if (span_is(net, "default")) {
		if (str_cats(key, "default") < 0)
			return too_long(err, errlen);
	} else if (parse_net(net, key, err, errlen) < 0) {
		return -1;
	}
	if (act.n == 0)
		return fail(err, errlen, "missing action (deny, allow or relay)");
	if (!span_is(act, "deny") && !span_is(act, "allow") && !span_is(act, "relay"))
		return fail(err, errlen, "unknown action %.*s (deny, allow or relay)", Q(act));
	if (put_lower(val, act) < 0)
		return too_long(err, errlen);
	while ((opt = field(&rest)).n) {
		struct span name;

		if (span_is(act, "deny"))
			return fail(err, errlen, "deny takes no options");
		if (!cut(&opt, '=', &name))
			return fail(err, errlen, "option %.*s: want key=value", Q(opt));
		if (span_is(name, "size")) {
			if (size)
				return fail(err, errlen, "option size given twice");
			if (parse_size(opt, &size) < 0)
				return fail(err, errlen, "size=%.*s: want N, Nk, NM or NG (N > 0)", Q(opt));
		} else if (span_is(name, "rcpts")) {
			if (rcpts)
				return fail(err, errlen, "option rcpts given twice");
			if (parse_uint(opt, 1000000, &rcpts) < 0 || rcpts == 0)
				return fail(err, errlen, "rcpts=%.*s: want 1-1000000", Q(opt));
		} else if (span_is(name, "tls")) {
			if (tls++)
				return fail(err, errlen, "option tls given twice");
			if (!span_is(opt, "required"))
				return fail(err, errlen, "tls=%.*s: the only value is required", Q(opt));
		} else {
			return fail(err, errlen, "unknown option %.*s", Q(name));
		}
	}
	if ((size && str_printf(val, " size=%llu", size) < 0) ||
	    (rcpts && str_printf(val, " rcpts=%llu", rcpts) < 0) ||
	    (tls && str_cats(val, " tls=required") < 0))
		return too_long(err, errlen);
	return 1;
}

static int parse_host(struct span v, struct str *out, char *err, size_t errlen)
{
	struct span name = v, port = { NULL, 0 };
	unsigned long long pn;
	int has_port = 0;

	if (v.n && v.p[0] == '[') {
		const char *close = memchr(v.p, ']', v.n);
		char buf[INET6_ADDRSTRLEN + 1], txt[INET6_ADDRSTRLEN];
		unsigned char ip[16];
		int v6;

		if (!close)
			return fail(err, errlen, "host=%.*s: missing ']'", Q(v));
		name.p = v.p + 1;
		name.n = (size_t)(close - name.p);
		if (name.n > 5 && ascii_ncasecmp(name.p, "ipv6:", 5) == 0) {
			name.p += 5;
			name.n -= 5;
		}
		port.p = close + 1;
		port.n = v.n - (size_t)(port.p - v.p);
		if (port.n) {
			if (port.p[0] != ':')
				return fail(err, errlen, "host=%.*s: junk after ']'", Q(v));
			port.p++;
			port.n--;
			has_port = 1;
		}
		if (name.n == 0 || name.n >= sizeof buf)
			return fail(err, errlen, "host=%.*s: invalid IP address", Q(v));
		memcpy(buf, name.p, name.n);
		buf[name.n] = '\0';
		v6 = memchr(name.p, ':', name.n) != NULL;
		if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, ip) != 1 ||
		    !inet_ntop(v6 ? AF_INET6 : AF_INET, ip, txt, sizeof txt))
			return fail(err, errlen, "host=%.*s: invalid IP address", Q(v));
		if (str_printf(out, "host=[%s]", txt) < 0)
			return too_long(err, errlen);
	} else {
		struct span rest = v;

		if (cut(&rest, ':', &name)) {
			port = rest;
			has_port = 1;
		}
		if (check_domain(name, err, errlen) < 0)
			return -1;
		if (str_cats(out, "host=") < 0 || put_lower(out, name) < 0)
			return too_long(err, errlen);
	}
	if (has_port) {
		if (port.n > 5 || parse_uint(port, 65535, &pn) < 0 || pn == 0)
			return fail(err, errlen, "host=%.*s: port must be 1-65535", Q(v));
		if (str_printf(out, ":%llu", pn) < 0)
			return too_long(err, errlen);
	}
	return 0;
}

static int parse_routes(struct span rest, struct str *key, struct str *val,
			char *err, size_t errlen)
{
	static const char *const tlsv[] = { "none", "may", "require", "verify" };
	struct span d = field(&rest), opt, host = { 0, 0 }, helo = { 0, 0 };
	struct span tls = { 0, 0 }, auth = { 0, 0 };
	int tlsi = -1;
	size_t i;

	if (d.n && d.p[0] == '*')
		return fail(err, errlen, "wildcards are not supported; name each domain");
	if (check_domain(d, err, errlen) < 0)
		return -1;
	if (put_lower(key, d) < 0)
		return too_long(err, errlen);
	while ((opt = field(&rest)).n) {
		struct span name, *slot;

		if (!cut(&opt, '=', &name))
			return fail(err, errlen, "option %.*s: want key=value", Q(opt));
		if (span_is(name, "host"))
			slot = &host;
		else if (span_is(name, "helo"))
			slot = &helo;
		else if (span_is(name, "tls"))
			slot = &tls;
		else if (span_is(name, "auth"))
			slot = &auth;
		else
			return fail(err, errlen, "unknown option %.*s", Q(name));
		if (slot->p)
			return fail(err, errlen, "option %.*s given twice", Q(name));
		if (opt.n == 0)
			return fail(err, errlen, "option %.*s: empty value", Q(name));
		*slot = opt;
	}
	if (host.p && parse_host(host, val, err, errlen) < 0)
		return -1;
	if (helo.p) {
		if (!span_is(helo, "helo") && !span_is(helo, "ehlo"))
			return fail(err, errlen, "helo=%.*s: want helo or ehlo", Q(helo));
		if ((val->len && str_catc(val, ' ') < 0) ||
		    str_cats(val, "helo=") < 0 || put_lower(val, helo) < 0)
			return too_long(err, errlen);
	}
	if (tls.p) {
		for (i = 0; i < sizeof tlsv / sizeof tlsv[0]; i++)
			if (span_is(tls, tlsv[i]))
				tlsi = (int)i;
		if (tlsi < 0)
			return fail(err, errlen, "tls=%.*s: want none, may, require or verify", Q(tls));
		if ((val->len && str_catc(val, ' ') < 0) ||
		    str_printf(val, "tls=%s", tlsv[tlsi]) < 0)
			return too_long(err, errlen);
	}
	if (auth.p) {
		struct span user, file = auth;

		/* Credentials never leave in clear text. */
		if (tlsi < 2)
			return fail(err, errlen, "auth= needs tls=require or tls=verify");
		if (!cut(&file, ':', &user) || user.n == 0 || file.n == 0)
			return fail(err, errlen, "auth=%.*s: want USER:SECRETFILE", Q(auth));
		if (check_path(file, "secret file", err, errlen) < 0)
			return -1;
		if ((val->len && str_catc(val, ' ') < 0) || str_cats(val, "auth=") < 0 ||
		    str_catn(val, auth.p, auth.n) < 0)
			return too_long(err, errlen);
	}
	return 1;
}

int mapsrc_line(enum map_kind k, const char *line, size_t n,
		struct str *key, struct str *val, char *err, size_t errlen)
{
	struct span s;
	size_t i;

	str_clear(key);
	str_clear(val);
	if (n > LINE_CAP)
		return fail(err, errlen, "line too long (over %d bytes)", LINE_CAP);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == '\0')
			return fail(err, errlen, "NUL byte in line");
		if (c >= 0x80)
			return fail(err, errlen, "8-bit byte in line (maps are ASCII)");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(err, errlen, "control character 0x%02x in line", c);
	}
	s.p = line;
	s.n = n;
	s = trim(s);
	if (s.n == 0 || s.p[0] == '#')
		return 0;
	switch (k) {
	case MAP_DOMAINS:
		return parse_domains(s, key, val, err, errlen);
	case MAP_ALIASES:
		return parse_aliases(s, key, val, err, errlen);
	case MAP_USERS:
		return parse_users(s, key, val, err, errlen);
	case MAP_RELAY:
		return parse_relay(s, key, val, err, errlen);
	case MAP_ROUTES:
		return parse_routes(s, key, val, err, errlen);
	default:
		return fail(err, errlen, "unknown map kind");
	}
}

