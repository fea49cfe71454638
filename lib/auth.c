/* users.cdb + crypt(3) password checks in constant work; see auth.h. */
#include "config.h"

#include <crypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "lazylib.h"
#include "rcpt.h"
#include "str.h"

/* A real yescrypt hash (default cost) of a password nobody knows: an
 * unknown user pays for one crypt() like a known one. */
static const char dummy_hash[] =
	"$y$j9T$sNLwNlw1zJdsNjbVseiBL1$RrrN.HgLxlBtkqKYw7Kj8veCpi0ka8qaLJb.yPuIZK7";

#define HASH_MAX 512

static void say(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!len)
		return;
	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

int auth_split_user(const char *user, size_t n, char *local, size_t llen,
		    char *domain, size_t dlen)
{
	const char *at = NULL;
	size_t i, ln, dn;

	if (n == 0 || n >= AUTH_ADDR_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];
		if (c <= ' ' || c >= 0x7f)
			return -1;
		if (c == '@')
			at = user + i;
	}
	if (!at)
		return -1;
	ln = (size_t)(at - user);
	dn = n - ln - 1;
	if (ln == 0 || dn == 0 || ln >= llen || dn >= dlen)
		return -1;
	memcpy(local, user, ln);
	local[ln] = '\0';
	memcpy(domain, at + 1, dn);
	domain[dn] = '\0';
	ascii_lowercase(local, ln);
	ascii_lowercase(domain, dn);
	return 0;
}

/* crypt_rn() from libcrypt, loaded at the first login (lazylib.h). */
typedef char *crypt_rn_fn(const char *, const char *, void *, int);

static crypt_rn_fn *crypt_fn(void)
{
	static struct lazylib lib = { "libcrypt.so.1", NULL };
	static crypt_rn_fn *fn;
	char err[256];

	if (!fn)
		fn = (crypt_rn_fn *)lazy_sym(&lib, "crypt_rn", err, sizeof err);
	return fn;
}

int auth_hash_check(const char *hash, size_t hlen, const char *pass)
{
	crypt_rn_fn *crypt_rn_p = crypt_fn();
	struct crypt_data *cd;
	char setting[HASH_MAX];
	const char *out;
	size_t olen, i;
	unsigned diff;
	int usable = hlen > 0 && hlen < sizeof setting && hash[0] != '!' && hash[0] != '*';

	if (usable) {
		memcpy(setting, hash, hlen);
		setting[hlen] = '\0';
	} else {
		memcpy(setting, dummy_hash, sizeof dummy_hash);
		hash = dummy_hash;
		hlen = sizeof dummy_hash - 1;
	}
	if (!crypt_rn_p)
		return -1;
	cd = xcalloc(1, sizeof *cd);
	out = crypt_rn_p(pass, setting, cd, (int)sizeof *cd);
	if (!out || out[0] == '*') {
		free(cd);
		return 0;
	}
	olen = strlen(out);
	/* every byte of the stored hash is looked at whatever differs */
	diff = olen != hlen;
	for (i = 0; i < hlen; i++)
		diff |= (unsigned char)(out[i < olen ? i : 0] ^ hash[i]);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return usable && diff == 0;
}

enum auth_result auth_login(struct maps *ms, const struct conf *c,
			    const char *user, size_t ulen, const char *pass,
			    struct auth_user *u, char *why, size_t whylen)
{
	char local[AUTH_ADDR_MAX], domain[256], primary[256], key[AUTH_ADDR_MAX];
	const char *v = NULL;
	size_t vn = 0, hl;
	int r;

	say(why, whylen, "no such user");
	if (auth_split_user(user, ulen, local, sizeof local, domain, sizeof domain) < 0) {
		auth_hash_check("", 0, pass);
		say(why, whylen, "not a user name");
		return AUTH_FAIL;
	}
	r = rcpt_domain(ms, domain, primary, sizeof primary);
	if (r < 0) {
		say(why, whylen, "domains map unavailable");
		return AUTH_TEMP;
	}
	if (r > 0) {
		if ((size_t)snprintf(key, sizeof key, "%s@%s", local, primary) >= sizeof key)
			r = 0;
		else
			r = map_lookup(ms, MAP_USERS, key, strlen(key), &v, &vn);
		if (r < 0) {
			say(why, whylen, "users map unavailable");
			return AUTH_TEMP;
		}
	}
	if (r == 0) {
		auth_hash_check("", 0, pass);
		return AUTH_FAIL;
	}
	if (rcpt_user_value(c, local, primary, v, vn, &hl, u->mailbox, sizeof u->mailbox) < 0) {
		auth_hash_check("", 0, pass);
		say(why, whylen, "mailbox path too long");
		return AUTH_TEMP;
	}
	if (hl && (v[0] == '!' || v[0] == '*')) {
		auth_hash_check("", 0, pass);
		say(why, whylen, "account disabled");
		return AUTH_FAIL;
	}
	r = auth_hash_check(v, hl, pass);
	if (r < 0) {
		say(why, whylen, "cannot load libcrypt");
		return AUTH_TEMP;
	}
	if (!r) {
		say(why, whylen, "wrong password");
		return AUTH_FAIL;
	}
	snprintf(u->addr, sizeof u->addr, "%s", key);
	say(why, whylen, "ok");
	return AUTH_OK;
}
