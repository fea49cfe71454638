/* Unit tests for POP3 logins: user name splitting, crypt(3) hash checks
 * and the whole lookup over a scratch instance. */
#include "config.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "map.h"
#include "mapsrc.h"
#include "tap.h"

struct split_row {
	const char *in;
	const char *local, *domain;   /* NULL: refused */
};

static const struct split_row splits[] = {
	{ "alice@example.test", "alice", "example.test" },
	{ "Alice@EXAMPLE.Test", "alice", "example.test" },
	{ "a@b@example.test", "a@b", "example.test" },
	{ "alice", NULL, NULL },
	{ "@example.test", NULL, NULL },
	{ "alice@", NULL, NULL },
	{ "", NULL, NULL },
	{ "al ice@example.test", NULL, NULL },
	{ "alice@example.test\r", NULL, NULL },
	{ "al\x01ice@example.test", NULL, NULL },
	{ "\xc3\xa9@example.test", NULL, NULL },
	{ "a+b@example.test", "a+b", "example.test" },
};

static void test_split(void)
{
	char l[128], d[256], big[400];

	for (size_t i = 0; i < sizeof splits / sizeof splits[0]; i++) {
		const struct split_row *r = &splits[i];
		int rc = auth_split_user(r->in, strlen(r->in), l, sizeof l, d, sizeof d);

		if (r->local)
			ok(rc == 0 && !strcmp(l, r->local) && !strcmp(d, r->domain),
			   "split '%s' -> '%s' '%s'", r->in, rc == 0 ? l : "-", rc == 0 ? d : "-");
		else
			ok(rc < 0, "split '%s' refused", r->in);
	}
	memset(big, 'a', sizeof big);
	memcpy(big + 200, "@x.test", 7);
	ok(auth_split_user(big, sizeof big, l, sizeof l, d, sizeof d) < 0, "over-long name refused");
	ok(auth_split_user("abcdef@x.test", 13, l, 4, d, sizeof d) < 0, "local part longer than the buffer refused");
}

/* the test instance's hashes (tests/data/instance/users) */
static const char sha512_alice[] =
	"$6$Q9x2uT7bLk3mZ0aa$lao6hknKs/6TP1Fr/2pPOTbcbDM84rvHB5Ot43YRbzskRMajuYyGnxXoBj/ROTvm/STka1xjX3aXbbvSUb6wc0";

static void test_hash(char *yes, size_t ylen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], buf[600];
	struct crypt_data cd;
	const char *h;

	ok(auth_hash_check(sha512_alice, strlen(sha512_alice), "alice-secret") == 1, "sha512 right password");
	ok(auth_hash_check(sha512_alice, strlen(sha512_alice), "alice-secreT") == 0, "sha512 wrong password");
	ok(auth_hash_check(sha512_alice, strlen(sha512_alice), "") == 0, "sha512 empty password");
	ok(auth_hash_check(sha512_alice, strlen(sha512_alice) - 1, "alice-secret") == 0, "truncated hash never matches");
	memset(&cd, 0, sizeof cd);
	h = crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt) ?
	    crypt_rn("s3cret pass", salt, &cd, (int)sizeof cd) : NULL;
	if (!ok(h && !strncmp(h, "$y$", 3), "yescrypt hash made"))
		return;
	snprintf(yes, ylen, "%s", h);
	ok(auth_hash_check(yes, strlen(yes), "s3cret pass") == 1, "yescrypt right password");
	ok(auth_hash_check(yes, strlen(yes), "s3cret") == 0, "yescrypt wrong password");
	snprintf(buf, sizeof buf, "!%s", yes);
	ok(auth_hash_check(buf, strlen(buf), "s3cret pass") == 0, "'!' disables the account");
	snprintf(buf, sizeof buf, "*%s", yes);
	ok(auth_hash_check(buf, strlen(buf), "s3cret pass") == 0, "'*' disables the account");
	ok(auth_hash_check("", 0, "") == 0, "empty hash never matches");
	ok(auth_hash_check("!", 1, "") == 0, "'!' alone never matches");
	ok(auth_hash_check("$6$", 3, "x") == 0, "a bare setting never matches");
	ok(auth_hash_check("plain", 5, "plain") == 0, "a cleartext 'hash' never matches");
}

static char dir[256];

static void put(const char *name, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_login(const char *yes)
{
	char err[CONF_ERR_MAX + CONF_PATH_MAX], p[512], users[2048], why[128];
	struct conf c;
	struct maps ms;
	struct auth_user u;

	snprintf(dir, sizeof dir, "/tmp/postern-auth-t.XXXXXX");
	if (!ok(mkdtemp(dir) != NULL, "scratch instance"))
		return;
	put("postern.conf", "mail_root = mail\n");
	put("domains", "example.test\nexample.net example.test\n");
	snprintf(users, sizeof users,
		 "alice@example.test:%s\n"
		 "carol@example.test:%s:mailbox=carol/Maildir\n"
		 "dan@example.test:%s:mailbox=/srv/dan\n"
		 "off@example.test:!%s\n",
		 sha512_alice, yes, yes, yes);
	put("users", users);
	ok(map_compile(dir, MAP_DOMAINS, 0, err, sizeof err) == 0, "compile domains (%s)", err);
	ok(map_compile(dir, MAP_USERS, 0, err, sizeof err) == 0, "compile users (%s)", err);
	ok(conf_load(&c, dir, err, sizeof err) == 0, "load conf (%s)", err);
	maps_init(&ms, dir);

#define LOGIN(user, pass) auth_login(&ms, &c, user, strlen(user), pass, &u, why, sizeof why)
	ok(LOGIN("alice@example.test", "alice-secret") == AUTH_OK, "alice logs in");
	is_str(u.addr, "alice@example.test", "canonical address");
	snprintf(p, sizeof p, "%s/mail/example.test/alice", dir);
	is_str(u.mailbox, p, "default mailbox");
	ok(LOGIN("ALICE@Example.NET", "alice-secret") == AUTH_OK, "alias domain and case: alice");
	is_str(u.addr, "alice@example.test", "alias domain maps to the primary");
	ok(LOGIN("alice@example.test", "wrong") == AUTH_FAIL, "wrong password fails");
	is_str(why, "wrong password", "reason for the log");
	ok(LOGIN("nobody@example.test", "alice-secret") == AUTH_FAIL, "unknown user fails");
	ok(LOGIN("alice@other.test", "alice-secret") == AUTH_FAIL, "unknown domain fails");
	ok(LOGIN("alice", "alice-secret") == AUTH_FAIL, "no domain fails");
	ok(LOGIN("carol@example.test", "s3cret pass") == AUTH_OK, "yescrypt user logs in");
	snprintf(p, sizeof p, "%s/mail/carol/Maildir", dir);
	is_str(u.mailbox, p, "mailbox= relative to mail_root");
	ok(LOGIN("dan@example.test", "s3cret pass") == AUTH_OK, "dan logs in");
	is_str(u.mailbox, "/srv/dan", "absolute mailbox=");
	ok(LOGIN("off@example.test", "s3cret pass") == AUTH_FAIL, "disabled account fails with its password");
	maps_close(&ms);

	snprintf(p, sizeof p, "%s/users.cdb", dir);
	unlink(p);
	maps_init(&ms, dir);
	ok(LOGIN("alice@example.test", "alice-secret") == AUTH_TEMP, "users.cdb missing: temporary");
	maps_close(&ms);
	snprintf(p, sizeof p, "%s/domains.cdb", dir);
	unlink(p);
	maps_init(&ms, dir);
	ok(LOGIN("alice@example.test", "alice-secret") == AUTH_TEMP, "domains.cdb missing: temporary");
	maps_close(&ms);
#undef LOGIN
	snprintf(p, sizeof p, "rm -rf '%s'", dir);
	ok(system(p) == 0, "cleanup");
}

int main(void)
{
	char yes[CRYPT_OUTPUT_SIZE] = "";

	test_split();
	test_hash(yes, sizeof yes);
	test_login(yes);
	return tap_done();
}
