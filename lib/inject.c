/* Local injection for the pickup folder and postern-sendmail; see inject.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "addr.h"
#include "inject.h"
#include "msghdr.h"
#include "queue.h"
#include "rcpt.h"
#include "store.h"

void inject_init(struct inject *in)
{
	memset(in, 0, sizeof *in);
	str_init(&in->head, 1024 * 1024);
}

void inject_free(struct inject *in)
{
	free(in->rcpt);
	str_free(&in->head);
	memset(in, 0, sizeof *in);
}

int inject_add(struct inject *in, const struct conf *c, const char *addr)
{
	char a[520];

	if (!*addr || !qvalue_ok(addr) || strpbrk(addr, "<>"))
		return -1;
	if (strchr(addr, '@'))
		snprintf(a, sizeof a, "%s", addr);
	else if ((size_t)snprintf(a, sizeof a, "%s@%s", addr, c->hostname) >= sizeof a)
		return -1;
	for (size_t i = 0; i < in->n; i++)
		if (strcmp(in->rcpt[i], a) == 0)
			return 0;
	if (in->n == in->cap) {
		in->cap = in->cap ? in->cap * 2 : 8;
		in->rcpt = xrealloc(in->rcpt, in->cap * sizeof *in->rcpt);
	}
	memcpy(in->rcpt[in->n++], a, sizeof a);
	return 0;
}

struct cbctx {
	struct inject *in;
	const struct conf *c;
	int bad;
	char *first;
};

static void add_cb(void *ctx, const char *addr)
{
	struct cbctx *x = ctx;

	if (x->first) {
		if (!x->first[0])
			snprintf(x->first, 520, "%s", addr);
		return;
	}
	if (inject_add(x->in, x->c, addr) < 0)
		x->bad = 1;
}

int inject_prepare(struct inject *in, const struct conf *c, const char *buf, size_t len,
		   int use_headers, const char *sender, const char *fullname,
		   char *err, size_t errlen)
{
	struct msghdr h;
	int has_date = 0, has_id = 0, has_from = 0;
	char tmp[1024];

	if (msghdr_parse(buf, len, &h) < 0) {
		snprintf(err, errlen, "malformed header field name");
		return -1;
	}
	in->body = h.body;
	str_clear(&in->head);
	for (size_t i = 0; i < h.n; i++) {
		const struct hfield *f = &h.f[i];
		const char *v = buf + f->start + f->nlen;
		size_t vn = f->end - f->start - f->nlen;
		int bcc = msghdr_is(buf, f, "bcc");

		/* past the name, optional space and the colon */
		while (vn && *v != ':')
			v++, vn--;
		if (vn)
			v++, vn--;
		if (msghdr_is(buf, f, "date"))
			has_date = 1;
		else if (msghdr_is(buf, f, "message-id"))
			has_id = 1;
		else if (msghdr_is(buf, f, "from")) {
			struct cbctx x = { in, c, 0, in->from };
			has_from = 1;
			msghdr_addresses(v, vn, add_cb, &x);
		}
		if (use_headers && (bcc || msghdr_is(buf, f, "to") || msghdr_is(buf, f, "cc"))) {
			struct cbctx x = { in, c, 0, NULL };
			if (msghdr_addresses(v, vn, add_cb, &x) < 0 || x.bad) {
				snprintf(err, errlen, "cannot parse the addresses in %.*s:",
					 (int)f->nlen, buf + f->start);
				msghdr_free(&h);
				return -1;
			}
		}
		if (bcc)
			continue;       /* the whole point of Bcc */
		if (str_catn(&in->head, buf + f->start, f->end - f->start) < 0 ||
		    (buf[f->end - 1] != '\n' && str_catc(&in->head, '\n') < 0)) {
			snprintf(err, errlen, "header too large");
			msghdr_free(&h);
			return -1;
		}
	}
	msghdr_free(&h);
	if (!has_from) {
		if (fullname && *fullname && qvalue_ok(fullname) && !strpbrk(fullname, "\"\\"))
			str_printf(&in->head, "From: \"%s\" <%s>\n", fullname, sender);
		else
			str_printf(&in->head, "From: <%s>\n", sender);
	}
	if (!has_date) {
		time_t t = time(NULL);
		struct tm tm;
		localtime_r(&t, &tm);
		strftime(tmp, sizeof tmp, "Date: %a, %d %b %Y %H:%M:%S %z\n", &tm);
		str_cats(&in->head, tmp);
	}
	if (!has_id) {
		queue_newid(tmp, sizeof tmp);
		str_printf(&in->head, "Message-ID: <%s@%s>\n", tmp, c->hostname);
	}
	/* the empty line; a body that started without one gets it here */
	if (str_catc(&in->head, '\n') < 0) {
		snprintf(err, errlen, "header too large");
		return -1;
	}
	return 0;
}

static int put_both(struct store *st, struct queue *q, const char *p, size_t n)
{
	return (st && store_write(st, p, n) < 0) || (q && queue_write(q, p, n) < 0) ? -1 : 0;
}

int inject_deliver(struct inject *in, const struct conf *c, struct maps *ms,
		   const char *sender, const char *buf, size_t len,
		   char *err, size_t errlen)
{
	struct rcptset set;
	struct rcptfwd fwd;
	struct store st;
	struct queue q;
	const char **remote = NULL;
	size_t nremote = 0;
	char why[256], rp[600];
	int rc = EX_TEMPFAIL, sopen = 0, qopen = 0;

	if (in->n == 0) {
		snprintf(err, errlen, "no recipients");
		return EX_USAGE;
	}
	rcptset_init(&set);
	rcptfwd_init(&fwd);
	memset(&st, 0, sizeof st);
	st.fd = -1;
	memset(&q, 0, sizeof q);
	q.fd = -1;
	remote = xcalloc(in->n, sizeof *remote);
	for (size_t i = 0; i < in->n; i++) {
		struct addr a;
		const char *reply;

		if (addr_parse_bare(in->rcpt[i], strlen(in->rcpt[i]),
				    ADDR_LAX_BRACKETS | ADDR_UTF8 | ADDR_RCPT, &a, &reply) < 0) {
			snprintf(err, errlen, "%s: bad address", in->rcpt[i]);
			rc = EX_NOUSER;
			goto out;
		}
		ascii_lowercase(a.domain, strlen(a.domain));
		switch (rcpt_resolve_fwd(ms, c, a.local, a.domain, &set, &fwd, why, sizeof why)) {
		case RCPT_OK:
			break;
		case RCPT_NONLOCAL:
			remote[nremote++] = in->rcpt[i];
			break;
		case RCPT_TEMP:
			snprintf(err, errlen, "%s: %s", in->rcpt[i], why);
			rc = EX_TEMPFAIL;
			goto out;
		default:
			snprintf(err, errlen, "%s: %s", in->rcpt[i], why[0] ? why : "no such user");
			rc = EX_NOUSER;
			goto out;
		}
	}
	if (fwd.n) {
		remote = xrealloc(remote, (nremote + fwd.n) * sizeof *remote);
		for (size_t i = 0; i < fwd.n; i++)
			remote[nremote++] = fwd.v[i];
	}
	if (set.n) {
		if (store_open(&st, c, &set, err, errlen) < 0)
			goto out;
		sopen = 1;
		snprintf(rp, sizeof rp, "Return-Path: <%s>\n", sender);
		if (store_write(&st, rp, strlen(rp)) < 0)
			goto write_err;
	}
	if (nremote) {
		if (queue_open(&q, c, sender, remote, nremote, err, errlen) < 0)
			goto out;
		qopen = 1;
	}
	if (put_both(sopen ? &st : NULL, qopen ? &q : NULL, in->head.s, in->head.len) < 0 ||
	    put_both(sopen ? &st : NULL, qopen ? &q : NULL, buf + in->body, len - in->body) < 0 ||
	    (len > in->body && buf[len - 1] != '\n' &&
	     put_both(sopen ? &st : NULL, qopen ? &q : NULL, "\n", 1) < 0))
		goto write_err;
	if ((qopen && queue_prepare(&q, err, errlen) < 0) ||
	    (sopen && store_commit(&st, err, errlen) < 0))
		goto out;
	sopen = 0;
	if (qopen && queue_commit(&q, err, errlen) < 0)
		goto out;
	rc = 0;
	goto out;
write_err:
	snprintf(err, errlen, "writing the message failed");
out:
	if (sopen)
		store_abort(&st);
	if (qopen)
		queue_abort(&q);
	free(remote);
	rcptset_free(&set);
	rcptfwd_free(&fwd);
	return rc;
}
