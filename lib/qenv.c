/* Queue envelopes: validation, text format, recipient state transitions (pure). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "str.h"

/* The file format, one item per line, LF ends, values to the end of the
 * line:
 *
 *   postern-queue 1
 *   id <id>
 *   from <sender, empty for <>>
 *   created <ms since the epoch>
 *   size <bytes>
 *   hold 0|1
 *   dsn 0|1
 *   rcpt <state> <attempts> <next ms> <address>
 *   reply <last reply of the rcpt line above>
 *
 * The address comes last because a quoted local part may hold spaces;
 * it can never hold a tab, CR or LF (RFC 5321 qtextSMTP). */

static const char *const states[] = { "pending", "delivered", "deferred", "failed" };

int qvalue_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int qid_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= QUEUE_ID_MAX || id[0] == '.')
		return 0;
	for (; *id; id++)
		if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') ||
		      (*id >= '0' && *id <= '9') || *id == '.'))
			return 0;
	return 1;
}

void qvalue_clean(char *dst, size_t dlen, const char *src, size_t n)
{
	size_t o = 0;

	if (!dlen)
		return;
	for (size_t i = 0; i < n && o + 1 < dlen; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\r' || c == '\n' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

const char *qstate_name(int s)
{
	return s >= 0 && s < 4 ? states[s] : "?";
}

int qstate_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, states[i]) == 0)
			return i;
	return -1;
}

void qenv_init(struct qenv *e)
{
	memset(e, 0, sizeof *e);
}

void qenv_free(struct qenv *e)
{
	free(e->r);
	qenv_init(e);
}

__attribute__((format(printf, 3, 4)))
static int err_set(char *err, size_t errlen, const char *fmt, ...);

static int err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* An address for an envelope: printable, an '@' with text on both
 * sides, no angle brackets (the client adds them; one inside would end
 * the path early), short enough. */
static int addr_ok(const char *a)
{
	const char *at = strrchr(a, '@');
	size_t n = strlen(a);

	return n && n < QUEUE_ADDR_MAX && qvalue_ok(a) && at && at != a && at[1] &&
	       !strpbrk(a, "<>") && !strchr(at, ' ');
}

int qenv_add(struct qenv *e, const char *addr, char *err, size_t errlen)
{
	struct qrcpt *r;

	if (!addr_ok(addr))
		return err_set(err, errlen, "bad recipient in envelope: %.200s", qvalue_ok(addr) ? addr : "(control bytes)");
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 4, bytes;

		if (size_mul(cap, sizeof *e->r, &bytes) < 0)
			return err_set(err, errlen, "%s", "too many recipients");
		e->r = xrealloc(e->r, bytes);
		e->cap = cap;
	}
	r = &e->r[e->n++];
	memset(r, 0, sizeof *r);
	memcpy(r->addr, addr, strlen(addr) + 1);
	r->state = QS_PENDING;
	return 0;
}

int qenv_sender(struct qenv *e, const char *sender, char *err, size_t errlen)
{
	if (strcmp(sender, "<>") == 0)
		sender = "";
	if (*sender && !addr_ok(sender))
		return err_set(err, errlen, "bad sender in envelope: %.200s", qvalue_ok(sender) ? sender : "(control bytes)");
	memcpy(e->sender, sender, strlen(sender) + 1);
	return 0;
}

int qenv_format(const struct qenv *e, struct str *out, char *err, size_t errlen)
{
	str_clear(out);
	if (!qid_ok(e->id))
		return err_set(err, errlen, "bad queue id %.80s", qvalue_ok(e->id) ? e->id : "(control bytes)");
	if (*e->sender && !addr_ok(e->sender))
		return err_set(err, errlen, "%s", "bad sender in envelope");
	if (str_printf(out, "postern-queue 1\nid %s\nfrom %s\ncreated %lld\nsize %llu\nhold %d\ndsn %d\n",
		       e->id, e->sender, e->created, e->size, e->hold ? 1 : 0, e->dsn ? 1 : 0) < 0)
		return err_set(err, errlen, "%s", "envelope too large");
	for (size_t i = 0; i < e->n; i++) {
		const struct qrcpt *r = &e->r[i];

		if (!addr_ok(r->addr) || !qvalue_ok(r->reply) || r->state < 0 || r->state > 3)
			return err_set(err, errlen, "%s", "bad recipient or reply in envelope");
		if (str_printf(out, "rcpt %s %u %lld %s\n", states[r->state], r->attempts,
			       r->next, r->addr) < 0 ||
		    (r->reply[0] && str_printf(out, "reply %s\n", r->reply) < 0))
			return err_set(err, errlen, "%s", "envelope too large");
	}
	return 0;
}

/* A decimal number that fills s entirely. */
static int num(const char *s, unsigned long long max, unsigned long long *v)
{
	unsigned long long n = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || n > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		n = n * 10 + (unsigned)(*s - '0');
	}
	*v = n;
	return 0;
}

/* rcpt <state> <attempts> <next> <address> */
static int parse_rcpt(struct qenv *e, char *v, char *err, size_t errlen)
{
	char *f[3];
	unsigned long long att, next;
	int st;

	for (int i = 0; i < 3; i++) {
		char *sp = strchr(v, ' ');
		if (!sp)
			return err_set(err, errlen, "%s", "short rcpt line");
		*sp = '\0';
		f[i] = v;
		v = sp + 1;
	}
	st = qstate_parse(f[0]);
	if (st < 0 || num(f[1], 1000000, &att) < 0 || num(f[2], 1ULL << 62, &next) < 0)
		return err_set(err, errlen, "%s", "bad rcpt line");
	if (qenv_add(e, v, err, errlen) < 0)
		return -1;
	e->r[e->n - 1].state = st;
	e->r[e->n - 1].attempts = (unsigned)att;
	e->r[e->n - 1].next = (long long)next;
	return 0;
}

int qenv_parse(struct qenv *e, const char *buf, size_t len, char *err, size_t errlen)
{
	enum { F_ID = 1, F_FROM = 2, F_CREATED = 4, F_SIZE = 8 };
	unsigned seen = 0, lineno = 0;
	size_t pos = 0;
	char line[QUEUE_ADDR_MAX + QUEUE_REPLY_MAX + 64];

	qenv_free(e);
	if (len == 0 || buf[len - 1] != '\n')
		return err_set(err, errlen, "%s", "envelope truncated (no final line end)");
	while (pos < len) {
		const char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = (size_t)(nl - s);
		unsigned long long v;
		char *val;

		pos += n + 1;
		lineno++;
		if (n >= sizeof line)
			return err_set(err, errlen, "%s", "envelope line too long");
		memcpy(line, s, n);
		line[n] = '\0';
		/* a NUL or CR inside a line shows here as a short or bad value */
		if (strlen(line) != n || !qvalue_ok(line))
			return err_set(err, errlen, "%s", "control byte in envelope");
		if (lineno == 1) {
			if (strcmp(line, "postern-queue 1") != 0)
				return err_set(err, errlen, "%s", "not a version 1 envelope");
			continue;
		}
		val = strchr(line, ' ');
		if (!val)
			return err_set(err, errlen, "bad envelope line: %.40s", line);
		*val++ = '\0';
		if (strcmp(line, "id") == 0 && !(seen & F_ID)) {
			if (!qid_ok(val))
				return err_set(err, errlen, "%s", "bad id in envelope");
			memcpy(e->id, val, strlen(val) + 1);
			seen |= F_ID;
		} else if (strcmp(line, "from") == 0 && !(seen & F_FROM)) {
			if (qenv_sender(e, val, err, errlen) < 0)
				return -1;
			seen |= F_FROM;
		} else if (strcmp(line, "created") == 0 && !(seen & F_CREATED)) {
			if (num(val, 1ULL << 62, &v) < 0)
				return err_set(err, errlen, "%s", "bad created time");
			e->created = (long long)v;
			seen |= F_CREATED;
		} else if (strcmp(line, "size") == 0 && !(seen & F_SIZE)) {
			if (num(val, ~0ULL, &v) < 0)
				return err_set(err, errlen, "%s", "bad size");
			e->size = v;
			seen |= F_SIZE;
		} else if (strcmp(line, "hold") == 0 || strcmp(line, "dsn") == 0) {
			if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
				return err_set(err, errlen, "bad %s flag", line);
			*(line[0] == 'h' ? &e->hold : &e->dsn) = val[0] == '1';
		} else if (strcmp(line, "rcpt") == 0) {
			if (parse_rcpt(e, val, err, errlen) < 0)
				return -1;
		} else if (strcmp(line, "reply") == 0) {
			struct qrcpt *r = e->n ? &e->r[e->n - 1] : NULL;
			if (!r || r->reply[0] || strlen(val) >= sizeof r->reply)
				return err_set(err, errlen, "%s", "misplaced or long reply line");
			memcpy(r->reply, val, strlen(val) + 1);
		} else {
			return err_set(err, errlen, "unknown or repeated envelope item %.40s", line);
		}
	}
	if (seen != (F_ID | F_FROM | F_CREATED | F_SIZE) || e->n == 0)
		return err_set(err, errlen, "%s", "envelope incomplete");
	return 0;
}

static int final(const struct qrcpt *r)
{
	return r->state == QS_DELIVERED || r->state == QS_FAILED;
}

static void set_reply(struct qrcpt *r, const char *reply)
{
	qvalue_clean(r->reply, sizeof r->reply, reply ? reply : "", reply ? strlen(reply) : 0);
}

int qrcpt_delivered(struct qrcpt *r, const char *reply)
{
	if (final(r))
		return -1;
	r->state = QS_DELIVERED;
	r->attempts++;
	set_reply(r, reply);
	return 0;
}

int qrcpt_failed(struct qrcpt *r, const char *reply)
{
	if (final(r))
		return -1;
	r->state = QS_FAILED;
	r->attempts++;
	set_reply(r, reply);
	return 0;
}

int qrcpt_deferred(struct qrcpt *r, const char *reply, long long now,
		   long long retry_min, long long retry_max)
{
	long long d = retry_min > 0 ? retry_min : 1;

	if (final(r))
		return -1;
	r->state = QS_DEFERRED;
	r->attempts++;
	/* doubling stops at retry_max long before it could overflow */
	for (unsigned i = 1; i < r->attempts && d < retry_max; i++)
		d *= 2;
	if (d > retry_max)
		d = retry_max;
	r->next = now + d;
	set_reply(r, reply);
	return 0;
}

int qrcpt_due(const struct qrcpt *r, long long now)
{
	return r->state == QS_PENDING || (r->state == QS_DEFERRED && r->next <= now);
}

size_t qenv_expire(struct qenv *e, long long now, long long lifetime)
{
	char why[QUEUE_REPLY_MAX];
	size_t k = 0;

	if (now - e->created < lifetime)
		return 0;
	for (size_t i = 0; i < e->n; i++) {
		struct qrcpt *r = &e->r[i];
		if (final(r))
			continue;
		snprintf(why, sizeof why, "queue lifetime expired%s%.400s",
			 r->reply[0] ? "; last reply: " : "", r->reply);
		r->state = QS_FAILED;
		set_reply(r, why);
		k++;
	}
	return k;
}

int qenv_done(const struct qenv *e)
{
	for (size_t i = 0; i < e->n; i++)
		if (!final(&e->r[i]))
			return 0;
	return 1;
}

size_t qenv_count(const struct qenv *e, int s)
{
	size_t k = 0;

	for (size_t i = 0; i < e->n; i++)
		k += e->r[i].state == s;
	return k;
}
