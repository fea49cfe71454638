/* Tests for lib/store.c: maildir names, links, copies, rollback, memory. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

static char root[256];          /* test directory */
static struct conf conf;

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb; (void)flag; (void)f;
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *p)
{
	nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Number of entries in dir (-1 if it cannot be read); the last name seen
 * is copied into name. */
static int entries(const char *dir, char *name, size_t len)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n++;
		if (name)
			snprintf(name, len, "%s", e->d_name);
	}
	closedir(d);
	return n;
}

static int sub_entries(const char *mbox, const char *sub, char *name, size_t len)
{
	char p[CONF_PATH_MAX];

	if ((size_t)snprintf(p, sizeof p, "%s/%s", mbox, sub) >= sizeof p)
		return -1;
	return entries(p, name, len);
}

static char *slurp(const char *path, size_t *n)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return NULL;
	r = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (r < 0)
		return NULL;
	buf[r] = '\0';
	*n = (size_t)r;
	return buf;
}

static void set_box(struct mailbox *m, const char *path)
{
	memset(m, 0, sizeof *m);
	snprintf(m->addr, sizeof m->addr, "box@example.test");
	if ((size_t)snprintf(m->path, sizeof m->path, "%s", path) >= sizeof m->path)
		m->path[0] = '\0';
}

static int deliver_text(struct rcptset *set, const char *text, char *err, size_t errlen)
{
	struct store st;

	if (store_open(&st, &conf, set, err, errlen) < 0)
		return -1;
	if (store_write(&st, text, strlen(text)) < 0) {
		store_abort(&st);
		snprintf(err, errlen, "write failed");
		return -1;
	}
	return store_commit(&st, err, errlen);
}

static void test_unique(void)
{
	char a[160], b[160];

	store_unique(a, sizeof a, "mx.example.test");
	store_unique(b, sizeof b, "mx.example.test");
	ok(strcmp(a, b) != 0, "unique names differ across calls (%s, %s)", a, b);
	ok(strstr(a, ".M") && strstr(a, "P") && strstr(a, "Q"), "unique name has M, P and Q parts");
	store_unique(a, sizeof a, "odd/host:name");
	ok(strstr(a, ".odd\\057host\\072name") != NULL, "'/' and ':' in the host are escaped (%s)", a);
	ok(strchr(a, '/') == NULL && strchr(a, ':') == NULL, "no '/' or ':' left in the name");
	store_unique(a, 24, "a-very-long-host-name.example.test");
	ok(strlen(a) < 24, "unique name fits a short buffer");
}

static void test_single(void)
{
	struct mailbox m[1];
	struct rcptset set = { m, 1, 1 };
	char p[CONF_PATH_MAX], name[256], err[256] = "", want[64];
	const char *text = "Subject: hi\n\nline\n";
	const char *body;
	size_t n;

	snprintf(p, sizeof p, "%s/mail/example.test/alice", root);
	set_box(&m[0], p);
	ok(deliver_text(&set, text, err, sizeof err) == 0, "deliver to one new mailbox (%s)", err);
	ok(sub_entries(p, "new", name, sizeof name) == 1, "one file in new/");
	ok(sub_entries(p, "tmp", NULL, 0) == 0, "tmp/ is empty after commit");
	ok(sub_entries(p, "cur", NULL, 0) == 0, "cur/ exists and is empty");
	snprintf(want, sizeof want, ",S=%zu,W=%zu", strlen(text), strlen(text) + 3);
	n = strlen(name) - strlen(want);
	ok(strlen(name) > strlen(want) && strcmp(name + n, want) == 0,
	   "name %s ends in %s (3 lines)", name, want);
	snprintf(p + strlen(p), sizeof p - strlen(p), "/new/%s", name);
	body = slurp(p, &n);
	is_str(body, text, "stored bytes are the bytes written");

	snprintf(p, sizeof p, "%s/mail/example.test", root);
	{
		struct stat sb;
		ok(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 0700, "created parent is mode 0700");
	}
}

/* Small pieces are buffered, large ones written from where they are
 * (after what is buffered): the file holds every byte in order, and the
 * name counts them all. */
static void test_pieces(void)
{
	static const size_t sizes[] = { 120, 20000, 5, 8191, 8192, 3000, 9000, 70000, 1, 65536 };
	struct mailbox m[1];
	struct rcptset set = { m, 1, 1 };
	struct store st;
	char p[CONF_PATH_MAX], name[256], err[256] = "", want[64];
	size_t total = 0, lines = 0, n, k = 0;
	char *all, *body;

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		total += sizes[i];
	all = malloc(total);
	for (size_t i = 0; i < total; i++) {
		all[i] = (i % 61 == 60) ? '\n' : (char)('a' + (i * 7 + i / 61) % 26);
		lines += all[i] == '\n';
	}
	snprintf(p, sizeof p, "%s/mail/example.test/pieces", root);
	set_box(&m[0], p);
	ok(store_open(&st, &conf, &set, err, sizeof err) == 0, "open for pieces (%s)", err);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		if (store_write(&st, all + k, sizes[i]) < 0)
			break;
		k += sizes[i];
	}
	ok(k == total, "every piece written (%zu of %zu bytes)", k, total);
	ok(store_commit(&st, err, sizeof err) == 0, "commit of pieces (%s)", err);
	ok(sub_entries(p, "new", name, sizeof name) == 1, "one file from the pieces");
	snprintf(want, sizeof want, ",S=%zu,W=%zu", total, total + lines);
	n = strlen(name) - strlen(want);
	ok(strlen(name) > strlen(want) && strcmp(name + n, want) == 0, "name %s ends in %s", name, want);
	snprintf(p + strlen(p), sizeof p - strlen(p), "/new/%s", name);
	body = malloc(total + 1);
	n = 0;
	{
		int fd = open(p, O_RDONLY);
		ssize_t r;

		while (fd >= 0 && n <= total && (r = read(fd, body + n, total + 1 - n)) > 0)
			n += (size_t)r;
		if (fd >= 0)
			close(fd);
	}
	ok(n == total && !memcmp(body, all, total),
	   "small pieces buffered, large ones direct: the bytes in order (%zu)", n);
	free(body);
	free(all);
}

static void test_no_root(void)
{
	struct mailbox m[1];
	struct rcptset set = { m, 1, 1 };
	struct conf c = conf;
	struct store st;
	char p[CONF_PATH_MAX], err[256] = "";

	snprintf(c.mail_root, sizeof c.mail_root, "%s/missing", root);
	snprintf(p, sizeof p, "%s/missing/example.test/alice", root);
	set_box(&m[0], p);
	ok(store_open(&st, &c, &set, err, sizeof err) < 0, "missing mail_root is an error (%s)", err);
	ok(access(c.mail_root, F_OK) < 0, "mail_root is not created");
	store_abort(&st);
	store_abort(&st);
	ok(1, "abort after a failed open is safe");
}

static void test_multi(void)
{
	struct mailbox m[3];
	struct rcptset set = { m, 3, 3 };
	char p[3][CONF_PATH_MAX], name[256], err[256] = "";
	struct stat sb[3];
	int same = 1, good = 1;

	for (int i = 0; i < 3; i++) {
		snprintf(p[i], sizeof p[i], "%s/mail/example.test/u%d", root, i);
		set_box(&m[i], p[i]);
	}
	ok(deliver_text(&set, "a\nb\n", err, sizeof err) == 0, "deliver to three mailboxes (%s)", err);
	for (int i = 0; i < 3; i++) {
		char f[CONF_PATH_MAX + 300];
		if (sub_entries(p[i], "new", name, sizeof name) != 1) {
			good = 0;
			continue;
		}
		if ((size_t)snprintf(f, sizeof f, "%s/new/%s", p[i], name) >= sizeof f)
			good = 0;
		if (stat(f, &sb[i]) < 0)
			good = 0;
		else if (i && sb[i].st_ino != sb[0].st_ino)
			same = 0;
	}
	ok(good, "each mailbox has one message");
	ok(good && same && sb[0].st_nlink == 3, "the three are hard links of one inode");
	ok(strstr(name, ",S=4,W=6") != NULL, "size and CRLF size in the name (%s)", name);
	ok(sub_entries(p[0], "tmp", NULL, 0) == 0, "tmp/ of the first mailbox is empty");

	/* one maildir named twice gets the message once */
	set_box(&m[1], p[0]);
	set.n = 2;
	ok(deliver_text(&set, "x\n", err, sizeof err) == 0, "duplicate maildir in the set (%s)", err);
	ok(sub_entries(p[0], "new", NULL, 0) == 2, "the duplicate maildir got one copy");
}

static void test_abort(void)
{
	struct mailbox m[1];
	struct rcptset set = { m, 1, 1 };
	struct store st;
	char p[CONF_PATH_MAX], err[256] = "";

	memset(&st, 0, sizeof st);
	st.fd = -1;
	store_abort(&st);
	ok(1, "abort on a zeroed store is safe");

	snprintf(p, sizeof p, "%s/mail/example.test/ab", root);
	set_box(&m[0], p);
	ok(store_open(&st, &conf, &set, err, sizeof err) == 0, "open (%s)", err);
	if (st.anon)
		ok(sub_entries(p, "tmp", NULL, 0) == 0, "open made an unnamed file: tmp/ stays empty");
	else
		ok(sub_entries(p, "tmp", NULL, 0) == 1, "open made a named file in tmp/");
	store_write(&st, "hello\n", 6);
	store_abort(&st);
	store_abort(&st);
	ok(sub_entries(p, "tmp", NULL, 0) == 0 && sub_entries(p, "new", NULL, 0) == 0,
	   "abort (twice) leaves tmp/ and new/ empty");
	ok(store_write(&st, "x\n", 2) < 0, "write after abort fails");
	ok(store_commit(&st, err, sizeof err) < 0, "commit after abort fails");
	ok(sub_entries(p, "new", NULL, 0) == 0, "nothing in new/ after that");
}

/* mkdir -p PATH/{tmp,new,cur}: a mailbox that exists before delivery
 * (store_open makes a maildir only when it finds it missing). */
static void make_box(const char *path)
{
	char p[CONF_PATH_MAX + 8];
	static const char *const sub[] = { "tmp", "new", "cur" };

	if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p)
		return;
	for (char *q = p + 1; *q; q++)
		if (*q == '/') {
			*q = '\0';
			mkdir(p, 0700);
			*q = '/';
		}
	mkdir(p, 0700);
	for (int i = 0; i < 3; i++) {
		if ((size_t)snprintf(p, sizeof p, "%s/%s", path, sub[i]) < sizeof p)
			mkdir(p, 0700);
	}
}

/* Break the new/ of mailbox 'bad' in a way root cannot write through
 * either: a regular file, or a dangling symlink. */
static int check_rollback(const char *label, int symlinked, int shm_box)
{
	struct mailbox m[3];
	struct rcptset set = { m, 3, 3 };
	struct store st;
	char p[3][CONF_PATH_MAX], nw[CONF_PATH_MAX + 8], err[256] = "";
	int rc, good = 1;

	for (int i = 0; i < 3; i++) {
		snprintf(p[i], sizeof p[i], "%s/mail/example.test/%s%d", root, label, i);
		set_box(&m[i], p[i]);
	}
	if (shm_box) {
		snprintf(p[1], sizeof p[1], "%s/%s", (const char *)"/dev/shm/postern-store-t", label);
		set_box(&m[1], p[1]);
	}
	for (int i = 0; i < 3; i++)
		make_box(p[i]);
	if (store_open(&st, &conf, &set, err, sizeof err) < 0)
		return ok(0, "rollback %s: open (%s)", label, err);
	store_write(&st, "x\n", 2);
	snprintf(nw, sizeof nw, "%s/new", p[2]);
	rmdir(nw);
	if (symlinked)
		rc = symlink("/nonexistent/postern/new", nw);
	else
		rc = close(open(nw, O_WRONLY | O_CREAT, 0600));
	if (rc < 0)
		return ok(0, "rollback %s: cannot break new/ (%s)", label, strerror(errno));
	err[0] = '\0';
	ok(store_commit(&st, err, sizeof err) < 0 && err[0],
	   "rollback %s: commit fails when the last new/ is broken (%s)", label, err);
	for (int i = 0; i < 2; i++)
		if (sub_entries(p[i], "new", NULL, 0) != 0 || sub_entries(p[i], "tmp", NULL, 0) != 0)
			good = 0;
	ok(good, "rollback %s: no copy left in the other mailboxes' new/ or tmp/", label);
	store_abort(&st);
	return good;
}

static void test_rollback(void)
{
	check_rollback("file", 0, 0);
	check_rollback("link", 1, 0);
}

static void test_exdev(void)
{
	struct mailbox m[2];
	struct rcptset set = { m, 2, 2 };
	struct stat a, b;
	char p[2][CONF_PATH_MAX], name[2][256], f[2][CONF_PATH_MAX + 300], err[256] = "";
	size_t n;
	const char *body;

	if (stat(root, &a) < 0 || stat("/dev/shm", &b) < 0 || a.st_dev == b.st_dev ||
	    ((mkdir("/dev/shm/postern-store-t", 0700) < 0 && errno != EEXIST))) {
		diag("skip: /dev/shm is not a separate writable filesystem");
		/* as many as the checks below, rollback included */
		for (int i = 0; i < 6; i++)
			ok(1, "# skip EXDEV copy");
		return;
	}
	snprintf(p[0], sizeof p[0], "%s/mail/example.test/x0", root);
	snprintf(p[1], sizeof p[1], "/dev/shm/postern-store-t/x1");
	set_box(&m[0], p[0]);
	set_box(&m[1], p[1]);
	ok(deliver_text(&set, "cross\ndevice\n", err, sizeof err) == 0,
	   "deliver across filesystems (%s)", err);
	for (int i = 0; i < 2; i++) {
		name[i][0] = '\0';
		sub_entries(p[i], "new", name[i], sizeof name[i]);
		if ((size_t)snprintf(f[i], sizeof f[i], "%s/new/%s", p[i], name[i]) >= sizeof f[i])
			f[i][0] = '\0';
	}
	is_str(name[1], name[0], "the copy has the same name");
	body = slurp(f[1], &n);
	is_str(body, "cross\ndevice\n", "the copy has the same bytes");
	ok(sub_entries(p[1], "tmp", NULL, 0) == 0, "the copy's tmp/ is empty");
	check_rollback("shm", 0, 1);
}

static void test_disk_full(void)
{
	struct mailbox m[1];
	struct rcptset set = { m, 1, 1 };
	struct rlimit old, lim;
	struct store st;
	char p[CONF_PATH_MAX], err[256] = "", chunk[4096];
	int wrc = 0;

	snprintf(p, sizeof p, "%s/mail/example.test/full", root);
	set_box(&m[0], p);
	memset(chunk, 'x', sizeof chunk);
	chunk[sizeof chunk - 1] = '\n';
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	ok(store_open(&st, &conf, &set, err, sizeof err) == 0, "open (%s)", err);
	lim = old;
	lim.rlim_cur = 100000;
	setrlimit(RLIMIT_FSIZE, &lim);
	/* the error can surface in a write or only at commit */
	for (int i = 0; i < 64 && wrc == 0; i++)
		wrc = store_write(&st, chunk, sizeof chunk);
	ok(store_commit(&st, err, sizeof err) < 0, "a failed write makes commit fail (%s)", err);
	setrlimit(RLIMIT_FSIZE, &old);
	ok(sub_entries(p, "new", NULL, 0) == 0 && sub_entries(p, "tmp", NULL, 0) == 0,
	   "nothing left after the failed write");
}

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_big(void)
{
	struct mailbox m[1];
	struct rcptset set = { m, 1, 1 };
	struct store st;
	char p[CONF_PATH_MAX], name[256], err[256] = "", chunk[10000], want[80];
	const unsigned long long total = 50ULL * 1000 * 1000;
	unsigned long long lines = 0;
	long before, after;
	int wrc = 0;

	snprintf(p, sizeof p, "%s/mail/example.test/big", root);
	set_box(&m[0], p);
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (i % 100 == 99) ? '\n' : 'a' + (char)(i % 26);
	ok(store_open(&st, &conf, &set, err, sizeof err) == 0, "open (%s)", err);
	before = maxrss_kb();
	for (unsigned long long w = 0; w < total && wrc == 0; w += sizeof chunk) {
		wrc = store_write(&st, chunk, sizeof chunk);
		lines += sizeof chunk / 100;
	}
	after = maxrss_kb();
	ok(wrc == 0, "50 MB written in chunks");
	ok(st.bcap == 64 * 1024, "the write buffer stays 64 KiB");
	ok(after - before < 4096, "max RSS grew by %ld KiB (< 4 MiB)", after - before);
	ok(store_commit(&st, err, sizeof err) == 0, "commit 50 MB (%s)", err);
	sub_entries(p, "new", name, sizeof name);
	snprintf(want, sizeof want, ",S=%llu,W=%llu", total, total + lines);
	ok(strstr(name, want) != NULL, "name has %s", want);
}

static void pass(int unnamed)
{
	char p[300];

	store_unnamed(unnamed);
	snprintf(root, sizeof root, "%s/postern-store-t.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(1);
	}
	memset(&conf, 0, sizeof conf);
	snprintf(conf.hostname, sizeof conf.hostname, "mx.example.test");
	snprintf(conf.mail_root, sizeof conf.mail_root, "%s/mail", root);
	conf.fsync = 1;
	snprintf(p, sizeof p, "%s/mail", root);
	mkdir(p, 0700);

	diag("%s tmp files", unnamed ? "unnamed (O_TMPFILE)" : "named");
	if (unnamed)
		test_unique();
	test_single();
	test_pieces();
	test_no_root();
	test_multi();
	test_abort();
	test_rollback();
	test_exdev();
	test_disk_full();
	if (unnamed)
		test_big();

	rm_rf(root);
	rm_rf("/dev/shm/postern-store-t");
}

int main(void)
{
	pass(1);
	pass(0);
	return tap_done();
}
