/* Unit tests for map compilation and lookups in a scratch instance directory. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map.h"
#include "mapsrc.h"
#include "str.h"
#include "tap.h"

#define YES "$y$j9T$abcdefghijklmnop$3dL1LkYnZM.OVXuVdnnaKVDlLYT92dRwOzDZ5XiVCe."

static char dir[256];

static void put(const char *name, const char *text, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(text, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

#define PUT(name, text) put(name, text, strlen(text))

/* The whole file, or NULL; *n receives its length. */
static char *slurp(const char *name, size_t *n)
{
	char path[512];
	struct str s;
	char buf[4096];
	size_t r;
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f)
		return NULL;
	str_init(&s, 0);
	while ((r = fread(buf, 1, sizeof buf, f)) > 0)
		str_catn(&s, buf, r);
	fclose(f);
	*n = s.len;
	str_c(&s);
	return s.s;
}

static int exists(const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return stat(path, &st) == 0;
}

static int temp_files_left(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (e->d_name[0] == '.' && strstr(e->d_name, ".cdb."))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* Look key up in a fresh handle; returns the lookup result and the value. */
static int look(enum map_kind k, const char *key, char *out, size_t outlen)
{
	struct maps ms;
	const char *v;
	size_t vn;
	int r;

	maps_init(&ms, dir);
	r = map_lookup(&ms, k, key, strlen(key), &v, &vn);
	out[0] = '\0';
	if (r == 1)
		snprintf(out, outlen, "%.*s", (int)vn, v);
	maps_close(&ms);
	return r;
}

static void test_names(void)
{
	int i;

	for (i = 0; i < MAP_NKINDS; i++)
		ok(map_kind_from_name(map_name((enum map_kind)i)) == i, "name round trip %s",
		   map_name((enum map_kind)i));
	ok(map_kind_from_name("Users") == -1, "names are exact");
	ok(map_kind_from_name("passwd") == -1, "unknown name");
}

static void test_compile_lookup(void)
{
	char err[512], v[512];
	size_t n = 0;
	struct stat st;
	char path[512];
	mode_t old;

	PUT("domains", "# local domains\nexample.test\r\nexample.net example.test\nother.test");
	PUT("aliases", "team@example.test: alice@example.test, bob@example.test\n"
	    "@other.test: alice@example.test\n");
	PUT("users", "alice@example.test:" YES "\nbob@example.test:!:mailbox=/srv/bob\n");
	PUT("relay", "192.0.2.0/24 relay size=1M\ndefault deny\n");

	ok(map_compile(dir, MAP_DOMAINS, 1, err, sizeof err) == 0, "check-only domains");
	ok(!exists("domains.cdb"), "check-only writes nothing");
	old = umask(077);
	ok(map_compile_n(dir, MAP_DOMAINS, 0, &n, err, sizeof err) == 0, "compile domains");
	umask(old);
	ok(n == 3, "3 domain entries (CRLF and no final newline): %zu", n);
	snprintf(path, sizeof path, "%s/domains.cdb", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "cdb is 0644 whatever the umask");
	ok(map_compile_n(dir, MAP_ALIASES, 0, &n, err, sizeof err) == 0 && n == 2, "compile aliases");
	ok(map_compile_n(dir, MAP_USERS, 0, &n, err, sizeof err) == 0 && n == 2, "compile users");
	ok(map_compile_n(dir, MAP_RELAY, 0, &n, err, sizeof err) == 0 && n == 2, "compile relay");
	ok(temp_files_left() == 0, "no temporary files left");

	ok(look(MAP_DOMAINS, "example.test", v, sizeof v) == 1 && !*v, "primary found, empty value");
	ok(look(MAP_DOMAINS, "example.net", v, sizeof v) == 1, "alias domain found");
	is_str(v, "example.test", "alias domain value");
	ok(look(MAP_DOMAINS, "other.test", v, sizeof v) == 1, "last line without newline");
	ok(look(MAP_DOMAINS, "EXAMPLE.test", v, sizeof v) == 0, "lookups are exact");
	ok(look(MAP_DOMAINS, "nowhere.test", v, sizeof v) == 0, "not found");
	ok(look(MAP_ALIASES, "team@example.test", v, sizeof v) == 1, "alias found");
	is_str(v, "alice@example.test,bob@example.test", "alias value");
	ok(look(MAP_ALIASES, "@other.test", v, sizeof v) == 1, "catch-all found");
	ok(look(MAP_USERS, "bob@example.test", v, sizeof v) == 1, "user found");
	is_str(v, "!:mailbox=/srv/bob", "user value");
	ok(look(MAP_RELAY, "192.0.2.0/24", v, sizeof v) == 1, "relay network found");
	is_str(v, "relay size=1048576", "relay value");
	ok(look(MAP_ROUTES, "remote.test", v, sizeof v) == -1, "missing routes.cdb fails closed");
	PUT("routes", "");
	ok(map_compile_n(dir, MAP_ROUTES, 0, &n, err, sizeof err) == 0 && n == 0, "empty source compiles");
	ok(look(MAP_ROUTES, "remote.test", v, sizeof v) == 0, "empty map: not found, not broken");
	PUT("routes", "# only comments\r\n\n   \n");
	ok(map_compile_n(dir, MAP_ROUTES, 0, &n, err, sizeof err) == 0 && n == 0, "comments only");
	ok(look(MAP_ROUTES, "remote.test", v, sizeof v) == 0, "still an empty map");
	snprintf(path, sizeof path, "%s/routes.cdb", dir);
	unlink(path);
}

static int relay(const char *ip, char *out, size_t outlen)
{
	struct maps ms;
	const char *v;
	size_t vn;
	int r;

	maps_init(&ms, dir);
	r = map_relay_lookup(&ms, ip, &v, &vn);
	out[0] = '\0';
	if (r == 1)
		snprintf(out, outlen, "%.*s", (int)vn, v);
	maps_close(&ms);
	return r;
}

static void test_relay(void)
{
	static const struct {
		const char *ip;
		int r;
		const char *val;
	} t[] = {
		{ "192.0.2.7", 1, "allow" },
		{ "192.0.2.1", 1, "relay rcpts=5" },
		{ "::ffff:192.0.2.1", 1, "relay rcpts=5" },
		{ "192.0.2.200", 1, "deny" },
		{ "10.1.2.3", 1, "relay" },
		{ "198.51.100.1", 1, "allow size=1024" },
		{ "2001:db8::1", 1, "relay tls=required" },
		{ "2001:db8:1::5", 1, "allow" },
		{ "2001:db9::1", 1, "allow size=1024" },
		{ "::1", 1, "allow size=1024" },
		{ "not-an-ip", -1, "" },
		{ "fe80::1%eth0", -1, "" },
	};
	char err[512], v[512];
	size_t i;

	PUT("relay", "192.0.2.0/24 allow\n192.0.2.1 relay rcpts=5\n192.0.2.128/25 deny\n"
	    "10.0.0.0/8 relay\n2001:db8::/32 allow size=2M\n2001:db8::/48 relay tls=required\n"
	    "2001:db8:1::/48 allow\n");
	ok(map_compile(dir, MAP_RELAY, 0, err, sizeof err) == 0, "relay compiles");
	ok(relay("198.51.100.1", v, sizeof v) == 0, "no rule and no default: 0");
	PUT("relay", "192.0.2.0/24 allow\n192.0.2.1 relay rcpts=5\n192.0.2.128/25 deny\n"
	    "10.0.0.0/8 relay\n2001:db8::/32 allow size=2M\n2001:db8::/48 relay tls=required\n"
	    "2001:db8:1::/48 allow\ndefault allow size=1k\n");
	ok(map_compile(dir, MAP_RELAY, 0, err, sizeof err) == 0, "relay with default compiles");
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		ok(relay(t[i].ip, v, sizeof v) == t[i].r, "relay rule for %s: %d", t[i].ip, t[i].r);
		is_str(v, t[i].val, "relay value for %s", t[i].ip);
	}
}

static void test_open_once(void)
{
	struct maps ms;
	const char *v;
	size_t vn;
	char err[512];

	/* A reader keeps its mapping of the old file across a rename. */
	maps_init(&ms, dir);
	ok(map_lookup(&ms, MAP_DOMAINS, "other.test", 10, &v, &vn) == 1, "open domains");
	PUT("domains", "example.test\n");
	ok(map_compile(dir, MAP_DOMAINS, 0, err, sizeof err) == 0, "recompile while open");
	ok(map_lookup(&ms, MAP_DOMAINS, "other.test", 10, &v, &vn) == 1,
	   "old handle still sees the old map");
	maps_close(&ms);
	maps_init(&ms, dir);
	ok(map_lookup(&ms, MAP_DOMAINS, "other.test", 10, &v, &vn) == 0, "new handle sees the new map");
	ok(map_lookup(&ms, (enum map_kind)99, "x", 1, &v, &vn) == -1, "bad kind fails");
	maps_close(&ms);
	maps_close(&ms);        /* twice is harmless */
}

static void test_corrupt(void)
{
	char v[512], junk[3000];
	char *good;
	size_t n, i;
	unsigned seed = 12345;

	for (i = 0; i < sizeof junk; i++) {
		seed = seed * 1103515245u + 12345u;
		junk[i] = (char)(seed >> 16);
	}
	put("relay.cdb", junk, sizeof junk);
	ok(look(MAP_RELAY, "default", v, sizeof v) == -1, "garbage cdb fails closed");
	put("relay.cdb", junk, 100);
	ok(look(MAP_RELAY, "default", v, sizeof v) == -1, "short garbage fails closed");
	put("relay.cdb", "", 0);
	ok(look(MAP_RELAY, "default", v, sizeof v) == -1, "empty cdb fails closed");
	memset(junk, 0, sizeof junk);
	put("relay.cdb", junk, sizeof junk);
	ok(look(MAP_RELAY, "default", v, sizeof v) == -1, "zeroed cdb fails closed");

	good = slurp("users.cdb", &n);
	put("users.cdb", good, n - 5);
	ok(look(MAP_USERS, "alice@example.test", v, sizeof v) == -1, "truncated cdb fails closed");
	put("users.cdb", good, n);
	ok(look(MAP_USERS, "alice@example.test", v, sizeof v) == 1, "restored cdb works");
	free(good);

	ok(chmod(dir, 0700) == 0, "chmod");
	if (geteuid() != 0) {
		char path[512];

		snprintf(path, sizeof path, "%s/users.cdb", dir);
		chmod(path, 0);
		ok(look(MAP_USERS, "alice@example.test", v, sizeof v) == -1, "unreadable cdb fails closed");
		chmod(path, 0644);
	} else {
		ok(1, "unreadable cdb: skipped as root");
	}
}

static void test_errors(void)
{
	char err[512], want[600], *before, *after;
	size_t nb, na;

	before = slurp("aliases.cdb", &nb);
	PUT("aliases", "team@example.test: alice@example.test\n# ok\nbad line\nx@example.test: y@example.test\n");
	ok(map_compile(dir, MAP_ALIASES, 0, err, sizeof err) == -1, "bad line fails");
	snprintf(want, sizeof want, "%s/aliases:3: missing ':' after the alias address", dir);
	is_str(err, want, "error names file and line");
	after = slurp("aliases.cdb", &na);
	ok(before && after && na == nb && memcmp(before, after, nb) == 0, "old cdb kept byte for byte");
	ok(temp_files_left() == 0, "temporary file removed");
	free(before);
	free(after);

	PUT("users", "# users\nalice@example.test:!\nbob@example.test:!\n\nAlice@Example.Test:!\n");
	ok(map_compile(dir, MAP_USERS, 0, err, sizeof err) == -1, "duplicate key fails");
	snprintf(want, sizeof want, "%s/users:5: duplicate key alice@example.test, first at line 2", dir);
	is_str(err, want, "duplicate names both lines");

	PUT("users", "a@example.test:!\nb@example.test:!\na@example.test:!\nbad\n");
	ok(map_compile(dir, MAP_USERS, 1, err, sizeof err) == -1, "duplicate before a bad line");
	snprintf(want, sizeof want, "%s/users:3: duplicate key a@example.test, first at line 1", dir);
	is_str(err, want, "the first error wins");

	PUT("relay", "192.0.2.0/24 deny\n::ffff:192.0.2.0/120 allow\n");
	ok(map_compile(dir, MAP_RELAY, 0, err, sizeof err) == -1, "same network twice");
	snprintf(want, sizeof want, "%s/relay:2: duplicate key 192.0.2.0/24, first at line 1", dir);
	is_str(err, want, "canonical keys collide");

	PUT("domains", "example.test\nexample.net example.org\n");
	ok(map_compile(dir, MAP_DOMAINS, 1, err, sizeof err) == -1, "alias of an unlisted primary");
	snprintf(want, sizeof want, "%s/domains:2: example.org is not a primary domain listed in this file", dir);
	is_str(err, want, "message");
	PUT("domains", "a.test b.test\nexample.test\nb.test example.test\nc.test a.test\n");
	ok(map_compile(dir, MAP_DOMAINS, 1, err, sizeof err) == -1, "alias of an alias");
	snprintf(want, sizeof want, "%s/domains:1: b.test is an alias domain (line 3), not a primary", dir);
	is_str(err, want, "message names the lowest line");
	PUT("domains", "a.test b.test\nb.test\n");
	ok(map_compile(dir, MAP_DOMAINS, 1, err, sizeof err) == 0, "primary listed after its alias");

	put("routes", "remote.test tls=may\nx\0y\n", 22);
	ok(map_compile(dir, MAP_ROUTES, 0, err, sizeof err) == -1, "NUL byte in file");
	snprintf(want, sizeof want, "%s/routes:2: NUL byte in line", dir);
	is_str(err, want, "NUL message");
	ok(!exists("routes.cdb"), "no cdb after a failed first compile");

	{
		char *big = xmalloc(5000);

		memset(big, 'a', 5000);
		memcpy(big, "remote.test\n", 12);
		put("routes", big, 5000);
		free(big);
	}
	ok(map_compile(dir, MAP_ROUTES, 1, err, sizeof err) == -1, "over-long line");
	snprintf(want, sizeof want, "%s/routes:2: line too long (over 4096 bytes)", dir);
	is_str(err, want, "long line message");

	ok(map_compile(dir, MAP_ROUTES + 0, 1, err, sizeof err) == -1, "still bad");
	snprintf(want, sizeof want, "%s/nonexistent", dir);
	ok(map_compile(want, MAP_ROUTES, 0, err, sizeof err) == -1, "missing directory is a source fault");
	unlink(strcat(strcpy(want, dir), "/routes"));
	ok(map_compile(dir, MAP_ROUTES, 0, err, sizeof err) == -1, "missing source");
	ok(strstr(err, "/routes: No such file") != NULL, "missing source message: %s", err);

	PUT("routes", "remote.test host=[192.0.2.1]:2525 tls=require\n");
	if (geteuid() != 0) {
		chmod(dir, 0500);
		ok(map_compile(dir, MAP_ROUTES, 0, err, sizeof err) == -2, "unwritable directory: system error");
		chmod(dir, 0700);
	} else {
		ok(1, "unwritable directory: skipped as root");
	}
	ok(map_compile(dir, MAP_ROUTES, 0, err, sizeof err) == 0, "routes compiles");
}

static void cleanup(void)
{
	static const char *const files[] = {
		"domains", "aliases", "users", "relay", "routes", "domains.cdb",
		"aliases.cdb", "users.cdb", "relay.cdb", "routes.cdb",
	};
	char path[512];
	size_t i;

	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	ok(rmdir(dir) == 0, "scratch directory empty at the end");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/map-t.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	test_names();
	test_compile_lookup();
	test_relay();
	test_open_once();
	test_corrupt();
	test_errors();
	cleanup();
	return tap_done();
}
