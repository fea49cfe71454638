/* Unit tests for recipient resolution over a scratch instance: a table of recipient -> outcome. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "map.h"
#include "mapsrc.h"
#include "rcpt.h"
#include "str.h"
#include "tap.h"

static char dir[256];

static const char domains[] =
	"example.test\n"
	"example.net example.test\n"
	"other.test\n"
	"third.test\n";

static const char users[] =
	"alice@example.test:!\n"
	"bob@example.test:!\n"
	"dave@example.test:!:mailbox=dave/Maildir\n"
	"keep@example.test:!\n"
	"bob+x@example.test:!\n"
	"carol@other.test:*:mailbox=/var/mail/carol\n";

static const char aliases[] =
	"postmaster@example.test: alice@example.test\n"
	"team@example.test: alice@example.test, bob@example.test\n"
	"all@example.test: team@example.test, alice@example.test, dave@example.test\n"
	"loopa@example.test: loopb@example.test\n"
	"loopb@example.test: loopa@example.test\n"
	"self@example.test: self@example.test\n"
	"keep@example.test: keep@example.test, alice@example.test\n"
	"fwd@example.test: someone@remote.test\n"
	"mix@example.test: alice@example.test, someone@remote.test\n"
	"broken@example.test: nobody@example.test\n"
	"net@example.test: bob@example.net\n"
	"d1@example.test: d2@example.test\n"
	"d2@example.test: d3@example.test\n"
	"d3@example.test: d4@example.test\n"
	"d4@example.test: alice@example.test\n"
	"@other.test: carol@other.test\n";

struct row {
	const char *local, *domain;
	enum rcpt_result want;
	const char *boxes;      /* "addr=path addr=path", paths relative to mail_root */
};

static const struct row rows[] = {
	{ "alice", "example.test", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "Alice", "EXAMPLE.TEST", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "alice", "example.net", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "ALICE", "Example.Net", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "dave", "example.test", RCPT_OK, "dave@example.test=dave/Maildir" },
	{ "carol", "other.test", RCPT_OK, "carol@other.test=/var/mail/carol" },
	{ "team", "example.test", RCPT_OK,
	  "alice@example.test=example.test/alice bob@example.test=example.test/bob" },
	{ "team", "example.net", RCPT_OK,
	  "alice@example.test=example.test/alice bob@example.test=example.test/bob" },
	{ "all", "example.test", RCPT_OK,
	  "alice@example.test=example.test/alice bob@example.test=example.test/bob "
	  "dave@example.test=dave/Maildir" },
	{ "net", "example.test", RCPT_OK, "bob@example.test=example.test/bob" },
	{ "keep", "example.test", RCPT_OK,
	  "keep@example.test=example.test/keep alice@example.test=example.test/alice" },
	{ "d1", "example.test", RCPT_OK, "alice@example.test=example.test/alice" },
	/* sub-addresses */
	{ "alice+tag", "example.test", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "alice+", "example.test", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "alice+a+b", "example.test", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "team+list", "example.test", RCPT_OK,
	  "alice@example.test=example.test/alice bob@example.test=example.test/bob" },
	{ "bob+x", "example.test", RCPT_OK, "bob+x@example.test=example.test/bob+x" },
	{ "bob+y", "example.test", RCPT_OK, "bob@example.test=example.test/bob" },
	{ "+tag", "example.test", RCPT_NOUSER, "" },
	{ "alice-tag", "example.test", RCPT_NOUSER, "" },
	/* catch-all */
	{ "anyone", "other.test", RCPT_OK, "carol@other.test=/var/mail/carol" },
	{ "a%b", "other.test", RCPT_OK, "carol@other.test=/var/mail/carol" },
	{ "postmaster", "other.test", RCPT_OK, "carol@other.test=/var/mail/carol" },
	/* postmaster */
	{ "postmaster", "example.test", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "PostMaster", "example.net", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "postmaster", "third.test", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "postmaster", "", RCPT_OK, "alice@example.test=example.test/alice" },
	{ "alice", "", RCPT_NOUSER, "" },
	/* failures */
	{ "nobody", "example.test", RCPT_NOUSER, "" },
	{ "nobody", "third.test", RCPT_NOUSER, "" },
	{ "a%b", "example.test", RCPT_NOUSER, "" },
	{ "alice%example.test", "example.test", RCPT_NOUSER, "" },
	{ "a!b", "example.test", RCPT_NOUSER, "" },
	{ "alice@example.test", "example.test", RCPT_NOUSER, "" },
	{ "broken", "example.test", RCPT_NOUSER, "" },
	{ "alice", "remote.test", RCPT_NONLOCAL, "" },
	{ "alice", "[192.0.2.1]", RCPT_NONLOCAL, "" },
	{ "alice", "sub.example.test", RCPT_NONLOCAL, "" },
	{ "fwd", "example.test", RCPT_REMOTE_TARGET, "" },
	{ "mix", "example.test", RCPT_REMOTE_TARGET, "" },
	{ "loopa", "example.test", RCPT_LOOP, "" },
	{ "self", "example.test", RCPT_LOOP, "" },
};

static const char *result_name(enum rcpt_result r)
{
	static const char *const n[] = { "OK", "NOUSER", "NONLOCAL", "REMOTE_TARGET",
					 "LOOP", "TOOMANY", "TEMP" };

	return (unsigned)r < sizeof n / sizeof n[0] ? n[r] : "?";
}

static void put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

static void compile(enum map_kind k)
{
	char err[512];

	if (!ok(map_compile(dir, k, 0, err, sizeof err) == 0, "compile %s", map_name(k)))
		diag("%s", err);
}

/* The set as "addr=path ..." with mail_root cut off the paths. */
static void describe(const struct rcptset *s, const struct conf *c, struct str *out)
{
	size_t i, mr = strlen(c->mail_root);

	str_clear(out);
	str_c(out);
	for (i = 0; i < s->n; i++) {
		const char *p = s->v[i].path;

		if (strncmp(p, c->mail_root, mr) == 0 && p[mr] == '/')
			p += mr + 1;
		str_printf(out, "%s%s=%s", i ? " " : "", s->v[i].addr, p);
	}
}

static void check_rows(struct maps *ms, const struct conf *c)
{
	struct rcptset set;
	struct str got;
	char why[256];
	size_t i;

	rcptset_init(&set);
	str_init(&got, 0);
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		enum rcpt_result res;

		rcptset_clear(&set);
		res = rcpt_resolve(ms, c, r->local, r->domain, &set, why, sizeof why);
		if (!ok(res == r->want, "%s@%s -> %s", r->local, r->domain, result_name(r->want)))
			diag("got %s (%s)", result_name(res), why);
		describe(&set, c, &got);
		is_str(str_c(&got), r->boxes, "%s@%s mailboxes", r->local, r->domain);
		if (res != RCPT_OK)
			ok(why[0] != '\0', "%s@%s has a reason: %s", r->local, r->domain, why);
	}
	rcptset_free(&set);
	str_free(&got);
}

static void check_set(struct maps *ms, const struct conf *c)
{
	struct rcptset set;
	struct str got;
	struct conf small = *c;
	char why[256];

	rcptset_init(&set);
	str_init(&got, 0);
	ok(rcpt_resolve(ms, c, "alice", "example.test", &set, why, sizeof why) == RCPT_OK, "alice");
	ok(rcpt_resolve(ms, c, "team", "example.test", &set, why, sizeof why) == RCPT_OK, "then team");
	describe(&set, c, &got);
	is_str(str_c(&got), "alice@example.test=example.test/alice bob@example.test=example.test/bob",
	       "set deduplicated by path");
	ok(rcpt_resolve(ms, c, "mix", "example.test", &set, why, sizeof why) == RCPT_REMOTE_TARGET,
	   "mix fails");
	ok(set.n == 2, "failed expansion left the set as it was");
	{
		struct rcptfwd fwd;

		rcptfwd_init(&fwd);
		ok(rcpt_resolve_fwd(ms, c, "mix", "example.test", &set, &fwd, why, sizeof why) == RCPT_OK &&
		   fwd.n == 1 && strcmp(fwd.v[0], "someone@remote.test") == 0 && set.n == 2,
		   "with forwarding: mix = alice (already there) + someone@remote.test");
		ok(rcpt_resolve_fwd(ms, c, "fwd", "example.test", &set, &fwd, why, sizeof why) == RCPT_OK &&
		   fwd.n == 1, "the same forward is listed once");
		ok(rcpt_resolve_fwd(ms, c, "x", "remote.test", &set, &fwd, why, sizeof why) == RCPT_NONLOCAL,
		   "a remote recipient itself is still nonlocal");
		rcptfwd_free(&fwd);
	}
	ok(rcpt_resolve(ms, c, "keep", "example.test", &set, why, sizeof why) == RCPT_OK, "keep");
	ok(set.n == 3, "only the new mailbox was added");

	small.max_expansion = 2;
	rcptset_clear(&set);
	ok(rcpt_resolve(ms, &small, "all", "example.test", &set, why, sizeof why) == RCPT_TOOMANY,
	   "three mailboxes over max_expansion 2");
	ok(set.n == 0, "nothing added on TOOMANY");
	ok(rcpt_resolve(ms, &small, "team", "example.test", &set, why, sizeof why) == RCPT_OK,
	   "two mailboxes within max_expansion 2");

	small = *c;
	small.alias_depth = 3;
	ok(rcpt_resolve(ms, &small, "d2", "example.test", &set, why, sizeof why) == RCPT_OK,
	   "three levels within alias_depth 3");
	ok(rcpt_resolve(ms, &small, "d1", "example.test", &set, why, sizeof why) == RCPT_LOOP,
	   "four levels over alias_depth 3: %s", why);

	small = *c;
	small.recipient_delimiter[0] = '\0';
	ok(rcpt_resolve(ms, &small, "alice+tag", "example.test", &set, why, sizeof why) == RCPT_NOUSER,
	   "no delimiter: no sub-addresses");
	strcpy(small.recipient_delimiter, "-");
	ok(rcpt_resolve(ms, &small, "alice-tag", "example.test", &set, why, sizeof why) == RCPT_OK,
	   "delimiter '-'");

	small = *c;
	small.postmaster[0] = '\0';
	ok(rcpt_resolve(ms, &small, "postmaster", "", &set, why, sizeof why) == RCPT_NOUSER,
	   "bare postmaster without a postmaster setting");
	is_str(why, "no postmaster configured", "reason");
	ok(rcpt_resolve(ms, &small, "postmaster", "third.test", &set, why, sizeof why) == RCPT_NOUSER,
	   "postmaster@third.test without a postmaster setting");
	ok(rcpt_resolve(ms, &small, "postmaster", "example.test", &set, why, sizeof why) == RCPT_OK,
	   "postmaster alias still works");
	strcpy(small.postmaster, "postmaster@third.test");
	ok(rcpt_resolve(ms, &small, "postmaster", "", &set, why, sizeof why) == RCPT_NOUSER,
	   "postmaster setting that leads nowhere does not recurse");
	strcpy(small.postmaster, "admin@remote.test");
	ok(rcpt_resolve(ms, &small, "postmaster", "", &set, why, sizeof why) == RCPT_REMOTE_TARGET,
	   "remote postmaster");
	rcptset_free(&set);
	str_free(&got);
}

static void check_domain_fn(struct maps *ms)
{
	char p[256];

	ok(rcpt_domain(ms, "Example.NET", p, sizeof p) == 1, "alias domain is local");
	is_str(p, "example.test", "its primary");
	ok(rcpt_domain(ms, "example.test", p, sizeof p) == 1, "primary is local");
	is_str(p, "example.test", "itself");
	ok(rcpt_domain(ms, "remote.test", p, sizeof p) == 0, "remote");
	ok(rcpt_domain(ms, "[127.0.0.1]", p, sizeof p) == 0, "literal never local");
	ok(rcpt_domain(ms, "", p, sizeof p) == 0, "empty never local");
	ok(rcpt_domain(ms, "example.test", p, 5) == -1, "too small a buffer");
}

static void check_broken(const struct conf *c)
{
	struct maps ms;
	struct rcptset set;
	char why[256], path[512];

	rcptset_init(&set);
	snprintf(path, sizeof path, "%s/users.cdb", dir);
	unlink(path);
	maps_init(&ms, dir);
	ok(rcpt_resolve(&ms, c, "alice", "example.test", &set, why, sizeof why) == RCPT_TEMP,
	   "missing users map: TEMP (%s)", why);
	ok(rcpt_resolve(&ms, c, "team", "example.test", &set, why, sizeof why) == RCPT_TEMP,
	   "missing users map under an alias: TEMP");
	ok(set.n == 0, "nothing added");
	ok(rcpt_resolve(&ms, c, "x", "remote.test", &set, why, sizeof why) == RCPT_NONLOCAL,
	   "remote domains still known");
	maps_close(&ms);

	snprintf(path, sizeof path, "%s/domains.cdb", dir);
	unlink(path);
	maps_init(&ms, dir);
	ok(rcpt_resolve(&ms, c, "x", "remote.test", &set, why, sizeof why) == RCPT_TEMP,
	   "missing domains map: TEMP, never 'not local'");
	ok(rcpt_domain(&ms, "example.test", path, sizeof path) == -1, "rcpt_domain: -1");
	maps_close(&ms);
	rcptset_free(&set);
}

static void cleanup(void)
{
	static const char *const f[] = { "domains", "aliases", "users", "domains.cdb",
					 "aliases.cdb", "users.cdb" };
	char path[512];
	size_t i;

	for (i = 0; i < sizeof f / sizeof f[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, f[i]);
		unlink(path);
	}
	ok(rmdir(dir) == 0, "scratch directory removed");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct maps ms;
	struct conf c;

	snprintf(dir, sizeof dir, "%s/rcpt-t.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	put("domains", domains);
	put("users", users);
	put("aliases", aliases);
	compile(MAP_DOMAINS);
	compile(MAP_USERS);
	compile(MAP_ALIASES);

	conf_defaults(&c);
	snprintf(c.dir, sizeof c.dir, "%s", dir);
	snprintf(c.mail_root, sizeof c.mail_root, "%s/mail", dir);
	strcpy(c.postmaster, "postmaster@example.test");
	strcpy(c.recipient_delimiter, "+");

	maps_init(&ms, dir);
	check_rows(&ms, &c);
	check_set(&ms, &c);
	check_domain_fn(&ms);
	maps_close(&ms);
	check_broken(&c);
	cleanup();
	return tap_done();
}
