/* Recipient resolution: local domains, aliases, users, sub-addresses, postmaster. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcpt.h"
#include "str.h"

#define ADDR_MAX 320

struct ctx {
	struct maps *ms;
	const struct conf *c;
	struct rcptset out;     /* this recipient only; merged on success */
	char (*stack)[ADDR_MAX];/* addresses being expanded, outermost first */
	unsigned depth;
	unsigned long visits;
	int in_postmaster;
	struct rcptfwd *fwd;    /* NULL: a remote target ends resolution */
	struct rcptfwd fout;    /* this recipient's forwards */
	char *why;
	size_t whylen;
};

static enum rcpt_result say(struct ctx *x, enum rcpt_result r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum rcpt_result say(struct ctx *x, enum rcpt_result r, const char *fmt, ...)
{
	va_list ap;

	if (x->whylen) {
		va_start(ap, fmt);
		vsnprintf(x->why, x->whylen, fmt, ap);
		va_end(ap);
	}
	return r;
}

void rcptset_init(struct rcptset *s)
{
	s->v = NULL;
	s->n = s->cap = 0;
}

void rcptset_clear(struct rcptset *s)
{
	s->n = 0;
}

void rcptset_free(struct rcptset *s)
{
	free(s->v);
	rcptset_init(s);
}

static int set_has(const struct rcptset *s, const char *path)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].path, path) == 0)
			return 1;
	return 0;
}

static void set_add(struct rcptset *s, const struct mailbox *m)
{
	struct mailbox *nv;

	if (set_has(s, m->path))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 2; /* most messages have one or two */
		/* xcalloc checks the multiplication for overflow. */
		nv = xcalloc(s->cap, sizeof *s->v);
		if (s->n)
			memcpy(nv, s->v, s->n * sizeof *s->v);
		free(s->v);
		s->v = nv;
	}
	s->v[s->n++] = *m;
}

void rcptfwd_init(struct rcptfwd *f)
{
	f->v = NULL;
	f->n = f->cap = 0;
}

void rcptfwd_free(struct rcptfwd *f)
{
	free(f->v);
	rcptfwd_init(f);
}

void rcptfwd_add(struct rcptfwd *f, const char *addr)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i], addr) == 0)
			return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		char (*nv)[320] = xcalloc(cap, sizeof *nv);

		if (f->n)
			memcpy(nv, f->v, f->n * sizeof *nv);
		free(f->v);
		f->v = nv;
		f->cap = cap;
	}
	snprintf(f->v[f->n++], sizeof f->v[0], "%s", addr);
}

int rcpt_domain(struct maps *ms, const char *domain, char *primary, size_t len)
{
	char d[256];
	const char *v;
	size_t n = strlen(domain), vn;
	int r;

	/* An address literal names a host, never one of our domains. */
	if (n == 0 || n >= sizeof d || domain[0] == '[')
		return 0;
	memcpy(d, domain, n + 1);
	ascii_lowercase(d, n);
	r = map_lookup(ms, MAP_DOMAINS, d, n, &v, &vn);
	if (r <= 0)
		return r;
	if (vn == 0) {
		v = d;
		vn = n;
	}
	if (vn >= len)
		return -1;
	memcpy(primary, v, vn);
	primary[vn] = '\0';
	return 1;
}

/* A local part that could only mean routing ('%', '!') or needs quoting
 * is never a key: such a recipient can reach the catch-all at most. */
static int plain_local(const char *l)
{
	for (; *l; l++)
		if (*l <= ' ' || *l >= 0x7f || strchr("%!@\"\\()<>[]:;,", *l))
			return 0;
	return 1;
}

int rcpt_user_value(const struct conf *c, const char *local, const char *domain,
		    const char *v, size_t vn, size_t *hashlen,
		    char *path, size_t pathlen)
{
	const char *o = memchr(v, ':', vn), *end = v + vn;
	const char *mb = NULL;
	size_t mlen = 0;
	int w;

	*hashlen = o ? (size_t)(o - v) : vn;
	while (o && o < end) {
		const char *next = memchr(o + 1, ',', (size_t)(end - o - 1));
		const char *stop = next ? next : end;

		if ((size_t)(stop - o - 1) > 8 && memcmp(o + 1, "mailbox=", 8) == 0) {
			mb = o + 9;
			mlen = (size_t)(stop - mb);
		}
		o = next;
	}
	if (mb && mb[0] == '/')
		w = snprintf(path, pathlen, "%.*s", (int)mlen, mb);
	else if (mb)
		w = snprintf(path, pathlen, "%s/%.*s", c->mail_root, (int)mlen, mb);
	else
		w = snprintf(path, pathlen, "%s/%s/%s", c->mail_root, domain, local);
	return (w < 0 || (size_t)w >= pathlen) ? -1 : 0;
}

/* A user entry found: its mailbox joins the set. */
static enum rcpt_result user_mailbox(struct ctx *x, const char *local,
				     const char *dom, const char *v, size_t vn)
{
	struct mailbox m;
	size_t hl;

	if (rcpt_user_value(x->c, local, dom, v, vn, &hl, m.path, sizeof m.path) < 0)
		return say(x, RCPT_TEMP, "mailbox path of %s@%s too long", local, dom);
	if ((size_t)snprintf(m.addr, sizeof m.addr, "%s@%s", local, dom) >= sizeof m.addr)
		return say(x, RCPT_TEMP, "address too long");
	set_add(&x->out, &m);
	if (x->out.n > x->c->max_expansion)
		return say(x, RCPT_TOOMANY, "expands to more than %u mailboxes",
			   x->c->max_expansion);
	return RCPT_OK;
}

static enum rcpt_result resolve(struct ctx *x, const char *local, const char *domain);

static enum rcpt_result expand(struct ctx *x, const char *key, const char *v, size_t vn)
{
	const char *p = v, *end = v + vn;
	enum rcpt_result r;

	if (x->depth >= x->c->alias_depth)
		return say(x, RCPT_LOOP, "aliases nested deeper than %u at %s",
			   x->c->alias_depth, key);
	x->depth++;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		char t[ADDR_MAX], *at;

		/* Each target costs a lookup: bound the work as well as the
		 * result, so a fan-out of fan-outs cannot run away. */
		if (++x->visits > 4UL * x->c->max_expansion)
			return say(x, RCPT_TOOMANY, "alias %s expands too widely", key);
		if (n == 0 || n >= sizeof t)
			return say(x, RCPT_TEMP, "bad target in alias %s", key);
		memcpy(t, p, n);
		t[n] = '\0';
		at = strrchr(t, '@');
		if (!at)
			return say(x, RCPT_TEMP, "bad target in alias %s", key);
		*at = '\0';
		r = resolve(x, t, at + 1);
		if (r != RCPT_OK)
			return r;
		p += n + (comma != NULL);
	}
	x->depth--;
	return RCPT_OK;
}

/* Is addr already being expanded further out?  0 no, 1 yes. */
static int on_stack(const struct ctx *x, const char *addr)
{
	unsigned i;

	for (i = 0; i < x->depth; i++)
		if (strcmp(x->stack[i], addr) == 0)
			return 1;
	return 0;
}

/* aliases then users for one local part; 1 found (and handled: *r set),
 * 0 not found. */
static int try_local(struct ctx *x, const char *local, const char *dom,
		     enum rcpt_result *r)
{
	char key[ADDR_MAX];
	const char *v;
	size_t vn;
	int f;

	if ((size_t)snprintf(key, sizeof key, "%s@%s", local, dom) >= sizeof key)
		return 0;
	f = map_lookup(x->ms, MAP_ALIASES, key, strlen(key), &v, &vn);
	if (f < 0) {
		*r = say(x, RCPT_TEMP, "aliases map unavailable");
		return 1;
	}
	if (f > 0 && !on_stack(x, key)) {
		memcpy(x->stack[x->depth], key, sizeof key);
		*r = expand(x, key, v, vn);
		return 1;
	}
	/* f > 0 on the stack: the alias names itself ("keep a copy"), so
	 * only the user of that name can end it. */
	f = map_lookup(x->ms, MAP_USERS, key, strlen(key), &v, &vn);
	if (f < 0) {
		*r = say(x, RCPT_TEMP, "users map unavailable");
		return 1;
	}
	if (f > 0) {
		*r = user_mailbox(x, local, dom, v, vn);
		return 1;
	}
	if (on_stack(x, key)) {
		*r = say(x, RCPT_LOOP, "alias loop at %s", key);
		return 1;
	}
	return 0;
}

static enum rcpt_result postmaster(struct ctx *x)
{
	char pm[sizeof x->c->postmaster], *at;

	if (!x->c->postmaster[0])
		return say(x, RCPT_NOUSER, "no postmaster configured");
	if (x->in_postmaster)
		return say(x, RCPT_NOUSER, "postmaster %s has no mailbox", x->c->postmaster);
	memcpy(pm, x->c->postmaster, sizeof pm);
	pm[sizeof pm - 1] = '\0';
	at = strrchr(pm, '@');
	if (!at || at == pm || !at[1])
		return say(x, RCPT_NOUSER, "postmaster setting %s is not an address", pm);
	*at = '\0';
	x->in_postmaster = 1;
	return resolve(x, pm, at + 1);
}

static enum rcpt_result resolve(struct ctx *x, const char *local, const char *domain)
{
	char l[ADDR_MAX], d[256], base[ADDR_MAX], key[ADDR_MAX];
	const char *delim = x->c->recipient_delimiter, *v;
	enum rcpt_result r;
	size_t ln = strlen(local), cut, vn;
	int f;

	if (ln == 0 || ln >= sizeof l)
		return say(x, RCPT_NOUSER, "bad local part");
	memcpy(l, local, ln + 1);
	ascii_lowercase(l, ln);
	if (!domain[0]) {
		if (strcmp(l, "postmaster") != 0)
			return say(x, RCPT_NOUSER, "no domain");
		return postmaster(x);
	}
	f = rcpt_domain(x->ms, domain, d, sizeof d);
	if (f < 0)
		return say(x, RCPT_TEMP, "domains map unavailable");
	if (f == 0 && x->depth == 0 && !x->in_postmaster)
		return say(x, RCPT_NONLOCAL, "%s is not a local domain", domain);
	if (f == 0 && x->fwd) {
		char t[ADDR_MAX];

		if ((size_t)snprintf(t, sizeof t, "%s@%s", l, domain) >= sizeof t)
			return say(x, RCPT_NOUSER, "address too long");
		ascii_lowercase(strrchr(t, '@'), strlen(strrchr(t, '@')));
		rcptfwd_add(&x->fout, t);
		if (x->out.n + x->fout.n > x->c->max_expansion)
			return say(x, RCPT_TOOMANY, "expands to more than %u addresses",
				   x->c->max_expansion);
		return RCPT_OK;
	}
	if (f == 0)
		return say(x, RCPT_REMOTE_TARGET, "leads to %s@%s", local, domain);
	if (plain_local(l)) {
		if (try_local(x, l, d, &r))
			return r;
		cut = delim[0] ? strcspn(l, delim) : ln;
		if (cut > 0 && cut < ln) {
			memcpy(base, l, cut);
			base[cut] = '\0';
			if (try_local(x, base, d, &r))
				return r;
		}
	}
	snprintf(key, sizeof key, "@%s", d);
	f = map_lookup(x->ms, MAP_ALIASES, key, strlen(key), &v, &vn);
	if (f < 0)
		return say(x, RCPT_TEMP, "aliases map unavailable");
	if (f > 0) {
		/* The catch-all's targets resolve as the address they caught,
		 * so a catch-all pointing back into its domain is a loop, not
		 * an endless walk. */
		if ((size_t)snprintf(base, sizeof base, "%s@%s", l, d) >= sizeof base)
			return say(x, RCPT_NOUSER, "address too long");
		if (on_stack(x, base))
			return say(x, RCPT_LOOP, "alias loop at %s", base);
		memcpy(x->stack[x->depth], base, sizeof base);
		return expand(x, key, v, vn);
	}
	if (strcmp(l, "postmaster") == 0)
		return postmaster(x);
	return say(x, RCPT_NOUSER, "no such user %s@%s", l, d);
}

enum rcpt_result rcpt_resolve(struct maps *ms, const struct conf *c,
			      const char *local, const char *domain,
			      struct rcptset *set, char *why, size_t whylen)
{
	return rcpt_resolve_fwd(ms, c, local, domain, set, NULL, why, whylen);
}

enum rcpt_result rcpt_resolve_fwd(struct maps *ms, const struct conf *c,
				  const char *local, const char *domain,
				  struct rcptset *set, struct rcptfwd *fwd,
				  char *why, size_t whylen)
{
	struct ctx x;
	enum rcpt_result r;
	size_t i;

	memset(&x, 0, sizeof x);
	x.ms = ms;
	x.c = c;
	x.why = why;
	x.whylen = whylen;
	x.fwd = fwd;
	rcptfwd_init(&x.fout);
	if (whylen)
		why[0] = '\0';
	rcptset_init(&x.out);
	x.stack = xcalloc((size_t)c->alias_depth + 1, sizeof *x.stack);
	r = resolve(&x, local, domain);
	if (r == RCPT_OK) {
		for (i = 0; i < x.out.n; i++)
			set_add(set, &x.out.v[i]);
		/* fout stays empty without fwd (rcpt_resolve) */
		for (i = 0; fwd && i < x.fout.n; i++)
			rcptfwd_add(fwd, x.fout.v[i]);
	}
	rcptset_free(&x.out);
	rcptfwd_free(&x.fout);
	free(x.stack);
	return r;
}
