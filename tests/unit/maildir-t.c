/* Unit tests for the POP3 view of a maildir: names, UIDLs, sizes, the
 * RETR/TOP conversion (whole and byte by byte), scans and the lock. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir.h"
#include "str.h"
#include "tap.h"

struct name_row {
	const char *name;
	size_t baselen;
	long long secs;
	int has_s;
	unsigned long long s;
	int has_w;
	unsigned long long w;
	int has_info;
};

static const struct name_row names[] = {
	{ "1700000000.M1P2Q3.host,S=100,W=104", 22, 1700000000, 1, 100, 1, 104, 0 },
	{ "1700000000.M1P2Q3.host,S=100,W=104:2,S", 22, 1700000000, 1, 100, 1, 104, 1 },
	{ "1700000000.M1P2Q3.host:2,", 22, 1700000000, 0, 0, 0, 0, 1 },
	{ "1700000000.M1P2Q3.host", 22, 1700000000, 0, 0, 0, 0, 0 },
	{ "1.x,W=7", 3, 1, 0, 0, 1, 7, 0 },
	{ "12,W=", 2, 12, 0, 0, 0, 0, 0 },
	{ "12,W=1x", 2, 12, 0, 0, 0, 0, 0 },
	{ "12,W=99999999999999999999999", 2, 12, 0, 0, 0, 0, 0 },
	{ "x.y,S=5", 3, 0, 1, 5, 0, 0, 0 },
	{ "5abc", 4, 0, 0, 0, 0, 0, 0 },
	{ "7.a,Z=3,W=9,S=8:2,W=1", 3, 7, 1, 8, 1, 9, 1 },
	{ "abc:2,W=5", 3, 0, 0, 0, 0, 0, 1 },
	{ ",W=5", 0, 0, 0, 0, 1, 5, 0 },
	{ "", 0, 0, 0, 0, 0, 0, 0 },
};

static void test_names(void)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct name_row *r = &names[i];
		struct md_name nm;

		md_name_parse(r->name, strlen(r->name), &nm);
		ok(nm.baselen == r->baselen && nm.secs == r->secs && nm.has_s == r->has_s &&
		   nm.s == r->s && nm.has_w == r->has_w && nm.w == r->w && nm.has_info == r->has_info,
		   "name '%s': base %zu secs %lld S %d/%llu W %d/%llu info %d", r->name,
		   nm.baselen, nm.secs, nm.has_s, nm.s, nm.has_w, nm.w, nm.has_info);
	}
}

static int is_hex32(const char *u)
{
	if (strlen(u) != 32)
		return 0;
	for (; *u; u++)
		if (!strchr("0123456789abcdef", *u))
			return 0;
	return 1;
}

static void test_uidl(void)
{
	static const char *const same[][2] = {
		{ "1700000000.M1P2Q3.host,S=100,W=104", "1700000000.M1P2Q3.host,S=100,W=104:2," },
		{ "1700000000.M1P2Q3.host,S=100,W=104", "1700000000.M1P2Q3.host,S=100,W=104:2,RS" },
		{ "1700000000.M1P2Q3.host", "1700000000.M1P2Q3.host:2,S" },
	};
	char u[MD_UIDL_MAX + 1], v[MD_UIDL_MAX + 1], long71[72], long70[71];

	md_uidl("1700000000.M1P2Q3.host,S=1,W=2:2,", 34, u);
	is_str(u, "1700000000.M1P2Q3.host", "uidl is the base name");
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		md_uidl(same[i][0], strlen(same[i][0]), u);
		md_uidl(same[i][1], strlen(same[i][1]), v);
		is_str(v, u, "uidl survives new -> cur and flags: %s", same[i][1]);
	}
	memset(long70, 'a', 70);
	long70[70] = '\0';
	md_uidl(long70, 70, u);
	is_str(u, long70, "70 characters kept as they are");
	memset(long71, 'a', 71);
	long71[71] = '\0';
	md_uidl(long71, 71, u);
	ok(is_hex32(u), "71 characters hashed: %s", u);
	md_uidl(long71, 71, v);
	is_str(v, u, "the hash is stable");
	md_uidl("caf\xc3\xa9.1:2,", strlen("caf\xc3\xa9.1:2,"), u);
	ok(is_hex32(u), "8-bit base hashed: %s", u);
	md_uidl("caf\xc3\xa9.1", strlen("caf\xc3\xa9.1"), v);
	is_str(v, u, "8-bit base: same uidl in new/ and cur/");
	md_uidl("a b", 3, u);
	ok(is_hex32(u), "space hashed");
	md_uidl("a\x7f", 2, u);
	ok(is_hex32(u), "DEL hashed");
	md_uidl(":2,S", 4, u);
	ok(is_hex32(u), "empty base hashed");
	md_uidl("a\x7f", 2, u);
	md_uidl("a\x7e", 2, v);
	ok(strcmp(u, v) != 0, "different bases, different uidls");
	md_uidl("!~", 2, u);
	is_str(u, "!~", "0x21 and 0x7e are allowed");
}

struct conv_row {
	const char *in;
	long long top;          /* -1: RETR */
	const char *out;        /* what goes on the wire before ".CRLF" */
};

static const struct conv_row convs[] = {
	{ "", -1, "" },
	{ "a\n", -1, "a\r\n" },
	{ "a", -1, "a\r\n" },
	{ "a\r\n", -1, "a\r\n" },
	{ "a\r", -1, "a\r\n" },
	{ "a\rb\n", -1, "a\rb\r\n" },
	{ "\n", -1, "\r\n" },
	{ "\n\n", -1, "\r\n\r\n" },
	{ ".\n", -1, "..\r\n" },
	{ ".", -1, "..\r\n" },
	{ "..x\n.\n", -1, "...x\r\n..\r\n" },
	{ "S: x\n\n.body\nx.y\n.\n", -1, "S: x\r\n\r\n..body\r\nx.y\r\n..\r\n" },
	{ "a\r\r\nb", -1, "a\r\r\nb\r\n" },
	{ "\r\n.\r\n", -1, "\r\n..\r\n" },
	/* TOP */
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 0, "H: 1\r\nH: 2\r\n\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 2, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 3, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3\n", 99, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n" },
	{ "H: 1\nH: 2\n\nb1\nb2\nb3", 99, "H: 1\r\nH: 2\r\n\r\nb1\r\nb2\r\nb3\r\n" },
	{ "H: 1\r\n\r\n.b1\r\nb2\r\n", 1, "H: 1\r\n\r\n..b1\r\n" },
	{ "H: 1\nH: 2\n", 0, "H: 1\r\nH: 2\r\n" },
	{ "H: 1\nH: 2", 5, "H: 1\r\nH: 2\r\n" },
	{ "H: 1\n\n", 0, "H: 1\r\n\r\n" },
	{ "H: 1\n\n", 3, "H: 1\r\n\r\n" },
	{ "", 0, "" },
	{ "\nbody\n", 0, "\r\n" },
	{ "\nbody\nmore\n", 1, "\r\nbody\r\n" },
	{ ".H: 1\n\n\n\nx\n", 2, "..H: 1\r\n\r\n\r\n\r\n" },
};

/* Run the conversion feeding step bytes at a time (0: all at once). */
static void convert(const struct conv_row *r, size_t step, struct str *out,
		    unsigned long long *payload)
{
	struct md_conv c;
	size_t n = strlen(r->in), pos = 0;
	char buf[256];

	str_clear(out);
	md_conv_init(&c, r->top);
	while (pos < n && !c.done) {
		size_t k = step && n - pos > step ? step : n - pos, used, o;

		o = md_conv(&c, r->in + pos, k, buf, &used);
		str_catn(out, buf, o);
		pos += used;
		if (used < k)
			break;
	}
	str_catn(out, buf, md_conv_end(&c, buf));
	*payload = c.payload;
}

static size_t stuffing(const char *wire)
{
	size_t n = wire[0] == '.';

	for (const char *p = wire; (p = strstr(p, "\n.")); p++)
		n++;
	return n;
}

static void test_conv(void)
{
	struct str out = STR_INIT;
	unsigned long long payload;

	for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
		const struct conv_row *r = &convs[i];
		size_t steps[] = { 0, 1, 2, 3 };

		for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
			convert(r, steps[s], &out, &payload);
			is_str(str_c(&out), r->out, "conv %zu (top %lld) in steps of %zu", i, r->top, steps[s]);
		}
		ok(payload == strlen(r->out) - stuffing(r->out),
		   "conv %zu: payload %llu is the wire bytes without stuffing", i, payload);
		if (r->top < 0) {
			struct md_count c;
			size_t n = strlen(r->in);

			md_count_init(&c);
			md_count_feed(&c, r->in, n);
			ok(md_count_end(&c) == payload, "count %zu whole: %llu", i, md_count_end(&c));
			md_count_init(&c);
			for (size_t k = 0; k < n; k++)
				md_count_feed(&c, r->in + k, 1);
			ok(md_count_end(&c) == payload, "count %zu byte by byte: %llu", i, md_count_end(&c));
		}
	}
	str_free(&out);
}

/* What store.c writes as W= (bytes + LFs) is what RETR sends for every
 * message that ends with a line end and has no CR before an LF. */
static void test_w_formula(void)
{
	static const char *const msgs[] = {
		"a\n", "Subject: x\n\nbody\n", "\n", ".\n..\n", "x\ry\n",
	};

	for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
		struct md_count c;
		size_t n = strlen(msgs[i]), lf = 0;

		for (size_t k = 0; k < n; k++)
			lf += msgs[i][k] == '\n';
		md_count_init(&c);
		md_count_feed(&c, msgs[i], n);
		ok(md_count_end(&c) == n + lf, "W= formula holds for message %zu", i);
	}
}

static char dir[256];

static void put(const char *sub, const char *name, const char *text)
{
	char p[1024];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
	f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static int exists(const char *sub, const char *name)
{
	char p[1024];

	snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
	return access(p, F_OK) == 0;
}

static void test_scan(void)
{
	struct maildir md, other;
	char err[512], p[512];
	int fd;

	snprintf(dir, sizeof dir, "/tmp/postern-maildir-t.XXXXXX");
	if (!ok(mkdtemp(dir) != NULL, "scratch maildir"))
		return;
	snprintf(p, sizeof p, "%s/none", dir);
	maildir_init(&md);
	ok(maildir_lock(&md, p, err, sizeof err) == 0 && md.lockfd < 0, "missing maildir: no lock, no error");
	ok(maildir_scan(&md, err, sizeof err) == 0 && md.n == 0, "missing maildir is empty");
	maildir_free(&md);

	for (const char *s = "tmp\0new\0cur\0"; *s; s += 4) {
		snprintf(p, sizeof p, "%s/%s", dir, s);
		mkdir(p, 0700);
	}
	put("new", "300.B.host,S=2,W=4", "x\ny\n");                 /* W= trusted as written */
	put("new", "200.A.host", "line\n.dot\nlast");              /* computed: 6 + 6 + 6 */
	put("cur", "200.A0.host,S=3,W=4:2,S", "ab\n");
	put("cur", "100.Z.host:2,", "\r\n");
	put("new", ".hidden", "no");
	put("tmp", "50.T.host", "not yet delivered");
	snprintf(p, sizeof p, "%s/new/999.dir", dir);
	mkdir(p, 0700);

	maildir_init(&md);
	ok(maildir_lock(&md, dir, err, sizeof err) == 0 && md.lockfd >= 0, "lock taken");
	maildir_init(&other);
	ok(maildir_lock(&other, dir, err, sizeof err) == 1, "second lock refused while held");
	maildir_free(&other);
	ok(maildir_scan(&md, err, sizeof err) == 0, "scan (%s)", err);
	ok(md.n == 4, "four messages (dotfile, tmp/ and directory skipped): %zu", md.n);
	if (md.n == 4) {
		is_str(maildir_name(&md, 0), "100.Z.host:2,", "oldest first");
		is_str(maildir_name(&md, 1), "200.A.host:2,", "same second: by name");
		is_str(maildir_name(&md, 2), "200.A0.host,S=3,W=4:2,S", "then the longer name");
		is_str(maildir_name(&md, 3), "300.B.host,S=2,W=4:2,", "newest last, moved to cur/");
		ok(md.v[0].size == 2 && md.v[1].size == 18 && md.v[2].size == 4 && md.v[3].size == 4,
		   "sizes %llu %llu %llu %llu", md.v[0].size, md.v[1].size, md.v[2].size, md.v[3].size);
		ok(md.total == 28, "total %llu", md.total);
		ok(md.moved == 2, "two moved from new/ to cur/");
		ok(!exists("new", "200.A.host") && exists("cur", "200.A.host:2,"), "new/X is now cur/X:2,");
		fd = maildir_open(&md, 1);
		ok(fd >= 0, "open a message");
		if (fd >= 0)
			close(fd);
		ok(maildir_remove(&md, 0) == 0 && !exists("cur", "100.Z.host:2,"), "remove");
		ok(maildir_remove(&md, 0) == 0, "removing a vanished message is not an error");
		ok(maildir_open(&md, 0) < 0, "a vanished message does not open");
	}
	maildir_free(&md);
	maildir_init(&other);
	ok(maildir_lock(&other, dir, err, sizeof err) == 0, "lock free again once released");
	ok(maildir_scan(&other, err, sizeof err) == 0 && other.n == 3, "rescan: three left");
	maildir_free(&other);
	/* leave no scratch behind */
	snprintf(p, sizeof p, "rm -rf '%s'", dir);
	ok(system(p) == 0, "cleanup");
}

int main(void)
{
	test_names();
	test_uidl();
	test_conv();
	test_w_formula();
	test_scan();
	return tap_done();
}
