/* Tests for lib/qenv.c and lib/queue.c: envelope format, injection, writer atomicity, states. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"
#include "tap.h"

static char root[256];
static struct conf conf;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static int count(const char *sub, const char *suffix)
{
	char p[CONF_PATH_MAX + 64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof p, "%s/%s", conf.spool, sub);
	d = opendir(p);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		if (e->d_name[0] != '.' && l > sl && strcmp(e->d_name + l - sl, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Envelopes that parse, with what they must serialise back to. */
struct good {
	const char *in;
	size_t nrcpt;
	const char *sender;
};

static const struct good goods[] = {
	{ "postern-queue 1\nid 1.2P3Q4\nfrom a@b.test\ncreated 5\nsize 10\nhold 0\ndsn 0\n"
	  "rcpt pending 0 0 x@remote.test\n", 1, "a@b.test" },
	{ "postern-queue 1\nid 1.2P3Q4\nfrom \ncreated 5\nsize 10\nhold 1\ndsn 1\n"
	  "rcpt deferred 3 999 x@remote.test\nreply 451 4.3.0 try later\n"
	  "rcpt delivered 1 0 \"a b\"@remote.test\nreply 250 ok\n"
	  "rcpt failed 1 0 y@remote.test\nreply 550 5.1.1 no\n", 3, "" },
};

struct bad {
	const char *in;
	size_t len;             /* the literal's length: some hold a NUL */
	const char *why;
};

#define B(s, why) { s, sizeof s - 1, why }

static const struct bad bads[] = {
	B("", "truncated"),
	B("postern-queue 2\n", "version"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\n", "incomplete"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 x@y", "truncated"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 x@y\r\n", "control"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 x@y\0z\n", "control"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt bogus 0 0 x@y\n", "bad rcpt"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending x 0 x@y\n", "bad rcpt"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 <x@y>\n", "bad recipient"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 nobody\n", "bad recipient"),
	B("postern-queue 1\nid ../etc\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 x@y\n", "bad id"),
	B("postern-queue 1\nid 1\nid 2\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 x@y\n", "repeated"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nreply hi\nrcpt pending 0 0 x@y\n", "misplaced"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 x@y\nreply a\nreply b\n", "misplaced"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nhold 2\nrcpt pending 0 0 x@y\n", "flag"),
	B("postern-queue 1\nid 1\nfrom a@b\ncreated 1\nsize 1\nrcpt pending 0 0 x@y\nbcc z@y\n", "unknown"),
	B("postern-queue 1\nid 1\nfrom a\tb@c\ncreated 1\nsize 1\nrcpt pending 0 0 x@y\n", "control"),
};

static void test_format(void)
{
	struct qenv e, e2;
	struct str s = STR_INIT, s2 = STR_INIT;
	char err[256];

	qenv_init(&e);
	qenv_init(&e2);
	for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
		const struct good *g = &goods[i];
		size_t len = strlen(g->in);
		int rc = qenv_parse(&e, g->in, len, err, sizeof err);

		ok(rc == 0, "good %zu parses%s%s", i, rc ? ": " : "", rc ? err : "");
		ok(e.n == g->nrcpt, "good %zu: %zu recipients", i, g->nrcpt);
		is_str(e.sender, g->sender, "good %zu: sender", i);
		ok(qenv_format(&e, &s, err, sizeof err) == 0, "good %zu formats", i);
		is_str(str_c(&s), g->in, "good %zu: round trip is exact", i);
		/* a prefix cut inside a line (a torn write) is refused; one cut
		 * at a line end is a smaller valid envelope or incomplete */
		int torn = 0;
		for (size_t k = 0; k < len; k++)
			if (qenv_parse(&e2, g->in, k, err, sizeof err) == 0 && g->in[k - 1] != '\n')
				torn++;
		ok(torn == 0, "good %zu: no prefix cut inside a line parses", i);
		/* serialised byte by byte into a growing buffer: same text */
		str_clear(&s2);
		for (size_t k = 0; k < s.len; k++)
			str_catc(&s2, s.s[k]);
		ok(qenv_parse(&e2, s2.s, s2.len, err, sizeof err) == 0 && e2.n == e.n &&
		   memcmp(e2.r, e.r, e.n * sizeof *e.r) == 0, "good %zu: reparse is identical", i);
	}
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		const struct bad *b = &bads[i];
		int rc = qenv_parse(&e, b->in, b->len, err, sizeof err);
		ok(rc < 0 && strstr(err, b->why), "bad %zu refused (%s): %s", i, b->why, rc < 0 ? err : "accepted");
	}
	qenv_free(&e);
	qenv_free(&e2);
	str_free(&s);
	str_free(&s2);
}

static void test_injection(void)
{
	static const char *const evil[] = {
		"a@b\nrcpt pending 0 0 evil@x", "a@b\r", "a@b\rrcpt", "a\x7f@b", "a@b\t", "a@<b>",
		"<a@b>", "a@b c", "",
	};
	struct qenv e;
	struct str s = STR_INIT;
	char err[256];

	qenv_init(&e);
	for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
		ok(qenv_add(&e, evil[i], err, sizeof err) < 0, "recipient %zu with CR/LF/control/brackets refused", i);
		if (evil[i][0])
			ok(qenv_sender(&e, evil[i], err, sizeof err) < 0, "sender %zu refused", i);
	}
	ok(e.n == 0, "nothing was added");
	ok(qenv_sender(&e, "<>", err, sizeof err) == 0 && e.sender[0] == '\0', "<> is the null sender");
	ok(qenv_add(&e, "\"quoted local\"@remote.test", err, sizeof err) == 0, "quoted local part with a space");
	snprintf(e.id, sizeof e.id, "1.1P1Q1");
	/* a reply slipped into the struct directly is caught at write time */
	snprintf(e.r[0].reply, sizeof e.r[0].reply, "250 ok\nrcpt pending 0 0 evil@x");
	ok(qenv_format(&e, &s, err, sizeof err) < 0, "a reply with LF is refused at write");
	qvalue_clean(e.r[0].reply, sizeof e.r[0].reply, "250 ok\r\nrcpt\0x", 14);
	is_str(e.r[0].reply, "250 ok  rcpt?x", "qvalue_clean blanks line breaks and controls");
	ok(qenv_format(&e, &s, err, sizeof err) == 0, "cleaned reply writes");
	snprintf(e.id, sizeof e.id, "../../etc/passwd");
	ok(qenv_format(&e, &s, err, sizeof err) < 0, "a path as id is refused");
	ok(!qid_ok(".hidden") && !qid_ok("a/b") && !qid_ok("") && qid_ok("1.2P3Q4"), "qid_ok");
	qenv_free(&e);
	str_free(&s);
}

static void test_states(void)
{
	struct qrcpt r;
	struct qenv e;
	char err[128];

	memset(&r, 0, sizeof r);
	ok(qrcpt_due(&r, 0), "pending is due");
	ok(qrcpt_deferred(&r, "421 busy", 1000, 100, 1000) == 0 && r.next == 1100 && r.attempts == 1,
	   "first deferral waits retry_min");
	ok(!qrcpt_due(&r, 1099) && qrcpt_due(&r, 1100), "deferred is due at next");
	qrcpt_deferred(&r, "421", 2000, 100, 1000);
	ok(r.next == 2200, "second waits twice as long");
	qrcpt_deferred(&r, "421", 3000, 100, 1000);
	ok(r.next == 3400, "third four times");
	for (int i = 0; i < 100; i++)
		qrcpt_deferred(&r, "421", 4000, 100, 1000);
	ok(r.next == 5000, "back-off stops at retry_max, no overflow after 100 tries");
	ok(qrcpt_delivered(&r, "250 ok") == 0 && r.state == QS_DELIVERED, "deferred -> delivered");
	ok(qrcpt_failed(&r, "550") < 0 && r.state == QS_DELIVERED, "delivered is final");
	ok(qrcpt_deferred(&r, "4", 0, 1, 1) < 0, "delivered cannot be deferred");
	memset(&r, 0, sizeof r);
	ok(qrcpt_failed(&r, "550 no") == 0 && qrcpt_delivered(&r, "250") < 0, "failed is final");
	ok(!qrcpt_due(&r, 1LL << 60), "failed is never due");

	qenv_init(&e);
	qenv_add(&e, "a@x.test", err, sizeof err);
	qenv_add(&e, "b@x.test", err, sizeof err);
	qenv_add(&e, "c@x.test", err, sizeof err);
	e.created = 1000;
	qrcpt_delivered(&e.r[0], "250");
	qrcpt_deferred(&e.r[1], "451 later", 1000, 10, 10);
	ok(!qenv_done(&e), "not done with pending recipients");
	ok(qenv_expire(&e, 1999, 1000) == 0, "nothing expires before the lifetime");
	ok(qenv_expire(&e, 2000, 1000) == 2, "two expire at the lifetime");
	ok(strstr(e.r[1].reply, "lifetime expired; last reply: 451 later") != NULL, "expiry keeps the last reply");
	ok(qenv_done(&e) && qenv_count(&e, QS_FAILED) == 2 && qenv_count(&e, QS_DELIVERED) == 1,
	   "done: one delivered, two failed");
	qenv_free(&e);
}

static void test_writer(void)
{
	const char *rc2[] = { "x@remote.test", "y@remote.test" };
	const char *badr[] = { "x@remote.test", "y@remote.test\r\nRCPT TO:<evil@x>" };
	struct queue q;
	struct qenv e;
	char err[256], id[QUEUE_ID_MAX], p[CONF_PATH_MAX + 128];
	char (*ids)[QUEUE_ID_MAX];
	struct stat sb;
	long n;

	conf_defaults(&conf);
	conf.fsync = 1;
	snprintf(root, sizeof root, "%s/queue-t.XXXXXX", getenv("TESTTMP") ? getenv("TESTTMP") : "/tmp");
	if (!mkdtemp(root)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(conf.spool, sizeof conf.spool, "%s/spool", root);
	ok(queue_setup(&conf, err, sizeof err) < 0, "a missing spool is an error, not created");
	mkdir(conf.spool, 0700);
	ok(queue_setup(&conf, err, sizeof err) == 0, "setup makes the folders");
	snprintf(p, sizeof p, "%s/pickup", conf.spool);
	ok(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0700, "pickup is 0700");

	ok(queue_open(&q, &conf, "s@local.test", badr, 2, err, sizeof err) < 0, "CRLF in a recipient refused at open");
	queue_abort(&q);
	ok(count("tmp", "") == 0, "nothing left after a refused open");

	ok(queue_open(&q, &conf, "s@local.test", rc2, 2, err, sizeof err) == 0, "open");
	ok(queue_write(&q, "Subject: x\n\nbody\n", 17) == 0, "write");
	ok(count("tmp", ".msg") == 1 && count("queue", ".env") == 0, "while writing: data in tmp/, nothing queued");
	ok(queue_prepare(&q, err, sizeof err) == 0, "prepare");
	ok(count("queue", ".msg") == 1 && count("queue", ".env") == 0 && count("tmp", ".env") == 1,
	   "prepared: data in queue/, envelope still in tmp/");
	n = queue_scan(&conf, &ids);
	ok(n == 0, "a prepared message is invisible to the runner");
	free(ids);
	ok(queue_commit(&q, err, sizeof err) == 0, "commit");
	snprintf(id, sizeof id, "%s", q.env.id);
	queue_abort(&q);
	ok(count("queue", ".env") == 1 && count("tmp", "") == 0, "committed: envelope in queue/, abort after commit removes nothing");
	n = queue_scan(&conf, &ids);
	ok(n == 1 && strcmp(ids[0], id) == 0, "scan finds it");
	free(ids);
	qenv_init(&e);
	ok(queue_load(&conf, id, &e, err, sizeof err) == 0 && e.n == 2 && e.size == 17 &&
	   strcmp(e.sender, "s@local.test") == 0, "load: sender, recipients, size");
	qrcpt_delivered(&e.r[0], "250 2.0.0 ok");
	ok(queue_save(&conf, &e, err, sizeof err) == 0, "save");
	qenv_free(&e);
	ok(queue_load(&conf, id, &e, err, sizeof err) == 0 && e.r[0].state == QS_DELIVERED &&
	   strcmp(e.r[0].reply, "250 2.0.0 ok") == 0, "saved state reads back");
	qenv_free(&e);
	ok(queue_load(&conf, "nonexistent", &e, err, sizeof err) == 1, "missing id: 1");
	ok(queue_load(&conf, "../x", &e, err, sizeof err) == -1, "path as id: -1");

	/* an envelope edited by hand to inject a line is refused on read */
	queue_path(&conf, "queue", id, ".env", p, sizeof p);
	{
		FILE *f = fopen(p, "a");
		fputs("rcpt pending 0 0 evil@x\r\n", f);
		fclose(f);
	}
	ok(queue_load(&conf, id, &e, err, sizeof err) == -1 && strstr(err, "control"), "CR in a stored envelope refused on read");
	qenv_free(&e);
	ok(queue_remove(&conf, id) == 0 && count("queue", "") == 0, "remove takes both files");

	/* abort after prepare leaves nothing */
	ok(queue_open(&q, &conf, "", rc2, 1, err, sizeof err) == 0 && queue_write(&q, "x\n", 2) == 0 &&
	   queue_prepare(&q, err, sizeof err) == 0, "second message prepared");
	queue_abort(&q);
	ok(count("queue", "") == 0 && count("tmp", "") == 0, "abort after prepare removes data and envelope");

	/* ids are unique within a process, and sort by time */
	{
		char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX];
		queue_newid(a, sizeof a);
		queue_newid(b, sizeof b);
		ok(strcmp(a, b) != 0 && qid_ok(a) && qid_ok(b), "two ids differ and are valid: %s %s", a, b);
	}

	/* orphans: a data file without envelope, old enough, goes */
	queue_path(&conf, "queue", "1.1P1Q1", ".msg", p, sizeof p);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	ok(queue_cleanup(&conf, queue_now_ms(), 60000) == 0, "young orphan stays");
	ok(queue_cleanup(&conf, queue_now_ms() + 120000, 60000) == 1 && count("queue", "") == 0,
	   "old orphan removed");

	/* a fresh spool: folders made at the first open */
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(root, 0700);
	mkdir(conf.spool, 0700);
	ok(queue_open(&q, &conf, "", rc2, 1, err, sizeof err) == 0, "open on a bare spool makes the folders");
	queue_abort(&q);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	test_format();
	test_injection();
	test_states();
	test_writer();
	return tap_done();
}
