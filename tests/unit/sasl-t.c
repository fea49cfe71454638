/* Tests for strict base64 and SASL PLAIN framing, whole and a byte at a time. */
#include "config.h"

#include <string.h>

#include "sasl.h"
#include "tap.h"

struct b64row {
	const char *in;
	const char *out;    /* NULL: must be refused */
	size_t outlen;
};

static const struct b64row b64rows[] = {
	{ "", "", 0 },
	{ "Zg==", "f", 1 },
	{ "Zm8=", "fo", 2 },
	{ "Zm9v", "foo", 3 },
	{ "Zm9vYg==", "foob", 4 },
	{ "Zm9vYmE=", "fooba", 5 },
	{ "Zm9vYmFy", "foobar", 6 },
	{ "AGFsaWNlAHNlY3JldA==", "\0alice\0secret", 13 },
	{ "+/+/", "\xfb\xff\xbf", 3 },
	{ "Zg=", NULL, 0 },            /* short */
	{ "Zg", NULL, 0 },
	{ "Z", NULL, 0 },
	{ "Zh==", NULL, 0 },           /* non-zero bits under the padding */
	{ "Zm9=", NULL, 0 },
	{ "Zg==Zg==", NULL, 0 },       /* data after padding */
	{ "Z===", NULL, 0 },
	{ "=Zg=", NULL, 0 },
	{ "Zm 9v", NULL, 0 },          /* whitespace */
	{ "Zm9v\r\n", NULL, 0 },
	{ "Zm9-", NULL, 0 },           /* base64url is not base64 */
	{ "Zm9_", NULL, 0 },
	{ "Zm9v=", NULL, 0 },
	{ "Zm9v====", NULL, 0 },
};

struct plainrow {
	const char *msg;
	size_t len;
	const char *user, *pass;   /* NULL: refused */
};

#define P(s) s, sizeof s - 1
static const struct plainrow plainrows[] = {
	{ P("\0alice@example.test\0secret"), "alice@example.test", "secret" },
	{ P("alice@example.test\0alice@example.test\0pw"), "alice@example.test", "pw" },
	{ P("bob@example.test\0alice@example.test\0pw"), NULL, NULL },   /* acting for someone else */
	{ P("\0alice\0"), NULL, NULL },                 /* empty password */
	{ P("\0\0secret"), NULL, NULL },                /* empty user */
	{ P("\0alice\0se\0cret"), NULL, NULL },         /* three NULs */
	{ P("alice\0secret"), NULL, NULL },             /* one NUL */
	{ P("alicesecret"), NULL, NULL },
	{ P("\0al\001ice\0secret"), NULL, NULL },       /* control byte in the id */
	{ P("\0alice\0pass word\t"), "alice", "pass word\t" },  /* passwords may hold anything but NUL */
	{ P("\0caf\xc3\xa9\0x"), "caf\xc3\xa9", "x" },  /* UTF-8 ids */
};

int main(void)
{
	unsigned char out[64];
	char enc[64];
	size_t n;

	for (size_t i = 0; i < sizeof b64rows / sizeof b64rows[0]; i++) {
		const struct b64row *r = &b64rows[i];
		int rc = b64_decode(r->in, strlen(r->in), out, sizeof out, &n);
		struct b64dec d;
		int whole, bytewise;

		whole = r->out ? rc == 0 && n == r->outlen && !memcmp(out, r->out, n) : rc < 0;
		b64_init(&d, out, sizeof out);
		for (size_t k = 0; r->in[k]; k++)
			b64_feed(&d, r->in + k, 1);
		rc = b64_finish(&d);
		bytewise = r->out ? rc == 0 && d.len == r->outlen && !memcmp(out, r->out, d.len) : rc < 0;
		ok(whole, "base64 '%s' whole", r->in);
		ok(bytewise, "base64 '%s' byte by byte", r->in);
		if (r->out) {
			b64_encode((const unsigned char *)r->out, r->outlen, enc);
			ok(!strcmp(enc, r->in), "base64 encode gives back '%s' (got '%s')", r->in, enc);
		}
	}
	ok(b64_decode("Zm9vYmFy", 8, out, 5, &n) < 0, "base64: output over capacity is refused");

	for (size_t i = 0; i < sizeof plainrows / sizeof plainrows[0]; i++) {
		const struct plainrow *r = &plainrows[i];
		struct sasl_plain p;
		const char *why = "";
		int rc = sasl_plain_parse((const unsigned char *)r->msg, r->len, &p, &why);

		if (r->user)
			ok(rc == 0 && !strcmp(p.authcid, r->user) && !strcmp(p.passwd, r->pass),
			   "PLAIN row %zu parses (%s)", i, why);
		else
			ok(rc < 0, "PLAIN row %zu refused (%s)", i, why);
	}
	{
		/* the longest fields allowed, and one byte more */
		unsigned char m[SASL_PLAIN_MAX + 2];
		struct sasl_plain p;
		const char *why;

		m[0] = 0;
		memset(m + 1, 'u', 255);
		m[256] = 0;
		memset(m + 257, 'p', 255);
		ok(sasl_plain_parse(m, 512, &p, &why) == 0 && strlen(p.passwd) == 255,
		   "PLAIN: 255-byte user and password");
		m[512] = 'p';
		ok(sasl_plain_parse(m, 513, &p, &why) < 0, "PLAIN: 256-byte password refused");
	}
	{
		char f[SASL_FIELD_MAX + 1];
		ok(sasl_field((const unsigned char *)"alice", 5, f, 1) == 0 && !strcmp(f, "alice"),
		   "LOGIN field");
		ok(sasl_field((const unsigned char *)"", 0, f, 1) < 0, "LOGIN: empty field refused");
		ok(sasl_field((const unsigned char *)"a\0b", 3, f, 0) < 0, "LOGIN: NUL refused");
		ok(sasl_field((const unsigned char *)"a\nb", 3, f, 1) < 0, "LOGIN: control byte in a name refused");
	}
	return tap_done();
}
