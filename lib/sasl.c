/* Strict base64 and SASL PLAIN framing, without I/O; see sasl.h. */
#include "config.h"

#include <string.h>

#include "sasl.h"

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int symbol(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

void b64_init(struct b64dec *d, unsigned char *out, size_t cap)
{
	memset(d, 0, sizeof *d);
	d->out = out;
	d->cap = cap;
}

static void put(struct b64dec *d, unsigned v)
{
	if (d->len >= d->cap) {
		d->bad = 1;
		return;
	}
	d->out[d->len++] = (unsigned char)v;
}

void b64_feed(struct b64dec *d, const char *in, size_t n)
{
	for (size_t i = 0; i < n && !d->bad; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == '=') {
			/* padding only in the last two places of a quad */
			if (d->nq < 2) {
				d->bad = 1;
				return;
			}
			d->pad++;
			d->quad[d->nq++] = 0;
		} else {
			/* nothing may follow padding, not even another quad */
			if (d->pad || (v = symbol(c)) < 0) {
				d->bad = 1;
				return;
			}
			d->quad[d->nq++] = (unsigned)v;
		}
		if (d->nq < 4)
			continue;
		{
			unsigned *q = d->quad;
			unsigned w = q[0] << 18 | q[1] << 12 | q[2] << 6 | q[3];

			/* canonical form: bits under the padding are zero */
			if ((d->pad == 1 && (q[2] & 3)) || (d->pad == 2 && (q[1] & 15))) {
				d->bad = 1;
				return;
			}
			put(d, w >> 16 & 0xff);
			if (d->pad < 2)
				put(d, w >> 8 & 0xff);
			if (d->pad < 1)
				put(d, w & 0xff);
			d->nq = 0;
		}
	}
}

int b64_finish(struct b64dec *d)
{
	return d->bad || d->nq ? -1 : 0;
}

int b64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	struct b64dec d;

	b64_init(&d, out, cap);
	b64_feed(&d, in, n);
	if (b64_finish(&d) < 0)
		return -1;
	*outlen = d.len;
	return 0;
}

size_t b64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned w = (unsigned)in[i] << 16;
		size_t left = n - i;

		if (left > 1)
			w |= (unsigned)in[i + 1] << 8;
		if (left > 2)
			w |= in[i + 2];
		out[o++] = alphabet[w >> 18 & 63];
		out[o++] = alphabet[w >> 12 & 63];
		out[o++] = left > 1 ? alphabet[w >> 6 & 63] : '=';
		out[o++] = left > 2 ? alphabet[w & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static int field_ok(const unsigned char *p, size_t n, int is_name)
{
	if (n > SASL_FIELD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0 || (is_name && (p[i] < 0x20 || p[i] == 0x7f)))
			return 0;
	return 1;
}

int sasl_plain_parse(const unsigned char *m, size_t n, struct sasl_plain *p,
		     const char **why)
{
	const unsigned char *z1 = memchr(m, 0, n), *z2;
	size_t a, b, c;

	memset(p, 0, sizeof *p);
	if (!z1 || !(z2 = memchr(z1 + 1, 0, n - (size_t)(z1 - m) - 1))) {
		*why = "fewer than two NUL separators";
		return -1;
	}
	a = (size_t)(z1 - m);
	b = (size_t)(z2 - z1) - 1;
	c = n - (size_t)(z2 - m) - 1;
	if (memchr(z2 + 1, 0, c)) {
		*why = "more than two NUL separators";
		return -1;
	}
	if (!b || !c) {
		*why = "empty authentication id or password";
		return -1;
	}
	if (!field_ok(m, a, 1) || !field_ok(z1 + 1, b, 1) || !field_ok(z2 + 1, c, 0)) {
		*why = "field too long or control character in an id";
		return -1;
	}
	memcpy(p->authzid, m, a);
	memcpy(p->authcid, z1 + 1, b);
	memcpy(p->passwd, z2 + 1, c);
	if (a && (a != b || memcmp(p->authzid, p->authcid, a))) {
		explicit_bzero(p, sizeof *p);
		*why = "authorization id differs from authentication id";
		return -1;
	}
	return 0;
}

int sasl_field(const unsigned char *m, size_t n, char *out, int is_name)
{
	if (!n || !field_ok(m, n, is_name))
		return -1;
	memcpy(out, m, n);
	out[n] = '\0';
	return 0;
}
