/* All-or-nothing maildir delivery of one message to many mailboxes; see store.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "store.h"
#include "str.h"

#define STORE_BUF (64 * 1024)
/* Room for "<maildir>/new/<base>,S=<20 digits>,W=<20 digits>". */
#define STORE_PATH (CONF_PATH_MAX + 256)

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			/* a regular file never does this; treat it as a full disk */
			errno = ENOSPC;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd, rc, e;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

static int mkdir_ok(const char *p)
{
	if (mkdir(p, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* The maildir's parents below mail_root are ours to create (new domains
 * and users appear without a separate step), mail_root itself is not: a
 * missing mail_root usually means an unmounted volume, and creating it
 * would hide the mail on the real one. */
static int make_parents(const struct conf *c, const char *path, char *err, size_t errlen)
{
	char tmp[CONF_PATH_MAX];
	size_t rl = strlen(c->mail_root), n = strlen(path);
	struct stat sb;

	while (rl > 1 && c->mail_root[rl - 1] == '/')
		rl--;
	if (n >= sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(tmp, path, n + 1);
	if (rl && strncmp(path, c->mail_root, rl) == 0 && path[rl] == '/') {
		if (stat(c->mail_root, &sb) < 0) {
			snprintf(err, errlen, "mail_root %s: %s", c->mail_root, strerror(errno));
			return -1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "mail_root %s: not a directory", c->mail_root);
			return -1;
		}
		for (size_t i = rl + 1; i < n; i++) {
			if (tmp[i] != '/' || tmp[i - 1] == '/')
				continue;
			tmp[i] = '\0';
			if (mkdir_ok(tmp) < 0) {
				snprintf(err, errlen, "mkdir %s: %s", tmp, strerror(errno));
				return -1;
			}
			tmp[i] = '/';
		}
	}
	/* outside mail_root (an explicit mailbox path) only the maildir
	 * itself is created; its parent must exist */
	if (mkdir_ok(tmp) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_maildir(const struct conf *c, const char *path, char *err, size_t errlen)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char p[STORE_PATH];
	int tried_parents = 0;

	for (size_t i = 0; i < 3; i++) {
		if ((size_t)snprintf(p, sizeof p, "%s/%s", path, sub[i]) >= sizeof p) {
			snprintf(err, errlen, "%s: path too long", path);
			return -1;
		}
		if (mkdir_ok(p) == 0)
			continue;
		/* the common case (maildir exists) costs three mkdir calls;
		 * parents are only walked when one is missing */
		if (errno == ENOENT && !tried_parents) {
			tried_parents = 1;
			if (make_parents(c, path, err, errlen) < 0)
				return -1;
			i--;
			continue;
		}
		snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

void store_unique(char *out, size_t len, const char *host)
{
	static unsigned long long counter;
	struct timeval tv;
	size_t o;
	int r;

	if (!len)
		return;
	gettimeofday(&tv, NULL);
	r = snprintf(out, len, "%lld.M%06ldP%ldQ%llu.", (long long)tv.tv_sec,
		     (long)tv.tv_usec, (long)getpid(), ++counter);
	if (r < 0 || (size_t)r >= len) {
		out[0] = '\0';
		return;
	}
	o = (size_t)r;
	if (!host || !*host)
		host = "localhost";
	/* '/' would make a path and ':' starts the maildir info part */
	for (; *host; host++) {
		const char *e = *host == '/' ? "\\057" : *host == ':' ? "\\072" : NULL;
		size_t el = e ? 4 : 1;
		if (o + el >= len)
			break;
		if (e)
			memcpy(out + o, e, 4);
		else
			out[o] = *host;
		o += el;
	}
	out[o] = '\0';
}

/* The message is written into an unnamed file (O_TMPFILE) in the first
 * mailbox's tmp/ and given its names in new/ at commit through
 * /proc/self/fd: tmp/ is not touched at all (no entry to create, fsync
 * and remove; no lock shared by every session delivering to that
 * mailbox), and a crash leaves nothing behind in tmp/.  Where the file
 * system or the kernel has no O_TMPFILE, or /proc is not mounted, a
 * named file in tmp/ does the same job the classic maildir way. */
static int anon_usable = 1, proc_checked;

void store_unnamed(int on)
{
	anon_usable = on;
	proc_checked = 0;
}

/* The links are made through /proc/self/fd: without /proc, named files.
 * Checked once per process (a listener checks for all its children). */
void store_warm(void)
{
	if (proc_checked)
		return;
	proc_checked = 1;
	if (access("/proc/self/fd", X_OK) < 0)
		anon_usable = 0;
}

static int open_anon(struct store *st, const char *mbox)
{
	char dir[STORE_PATH];
	int fd;

	store_warm();
	if (!anon_usable)
		return -1;
	if ((size_t)snprintf(dir, sizeof dir, "%s/tmp", mbox) >= sizeof dir)
		return -1;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* ENOENT: the maildir is new, the caller makes it and retries */
		if (errno != ENOENT)
			anon_usable = 0;
		return -1;
	}
	snprintf(st->tmppath, sizeof st->tmppath, "/proc/self/fd/%d", fd);
	snprintf(st->label, sizeof st->label, "%s/tmp (unnamed)", mbox);
	st->anon = 1;
	st->fd = fd;
	return 0;
}

int store_open(struct store *st, const struct conf *c, const struct rcptset *set,
	       char *err, size_t errlen)
{
	int made = 0;

	memset(st, 0, sizeof *st);
	st->fd = -1;
	st->conf = c;
	st->set = set;
	if (!set || set->n == 0) {
		snprintf(err, errlen, "no mailboxes to deliver to");
		return -1;
	}
	/* The maildirs usually exist: they are made (with their parents)
	 * only when creating the file here, or a link in commit, finds a
	 * directory missing. */
	if (open_anon(st, set->v[0].path) < 0 && errno == ENOENT && anon_usable) {
		made = 1;
		if (make_maildir(c, set->v[0].path, err, errlen) < 0)
			return -1;
		open_anon(st, set->v[0].path);
	}
	/* A clash of names means a clock step or a reused pid; a fresh name
	 * fixes it. */
	for (int tries = 0; tries < 6 && st->fd < 0; tries++) {
		store_unique(st->base, sizeof st->base, c->hostname);
		if ((size_t)snprintf(st->tmppath, sizeof st->tmppath, "%s/tmp/%s",
				     set->v[0].path, st->base) >= sizeof st->tmppath) {
			snprintf(err, errlen, "%s: path too long", set->v[0].path);
			st->tmppath[0] = '\0';
			return -1;
		}
		snprintf(st->label, sizeof st->label, "%s", st->tmppath);
		st->fd = open(st->tmppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (st->fd < 0 && errno == ENOENT && !made) {
			made = 1;
			if (make_maildir(c, set->v[0].path, err, errlen) < 0) {
				st->tmppath[0] = '\0';
				return -1;
			}
			tries--;
			continue;
		}
		if (st->fd < 0 && errno != EEXIST)
			break;
	}
	if (st->fd < 0) {
		snprintf(err, errlen, "create %s: %s", st->tmppath, strerror(errno));
		st->tmppath[0] = '\0';
		return -1;
	}
	if (st->anon)
		store_unique(st->base, sizeof st->base, c->hostname);
	st->bcap = STORE_BUF;
	st->buf = xmalloc(st->bcap);
	return 0;
}

static int flush(struct store *st)
{
	if (st->failed)
		return -1;
	if (st->blen && write_all(st->fd, st->buf, st->blen) < 0) {
		st->failed = 1;
		st->saved_errno = errno;
		return -1;
	}
	st->blen = 0;
	return 0;
}

int store_write(struct store *st, const char *p, size_t n)
{
	if (st->fd < 0 || st->failed)
		return -1;
	if (n == 0)
		return 0;
	if (n > ~0ULL - st->size) {
		st->failed = 1;
		st->saved_errno = EFBIG;
		return -1;
	}
	st->size += n;
	for (const char *q = p, *e = p + n; (q = memchr(q, '\n', (size_t)(e - q))); q++)
		st->lines++;
	while (n) {
		size_t k = st->bcap - st->blen;
		if (k > n)
			k = n;
		memcpy(st->buf + st->blen, p, k);
		st->blen += k;
		p += k;
		n -= k;
		if (st->blen == st->bcap && flush(st) < 0)
			return -1;
	}
	return 0;
}

static void release(struct store *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	if (st->tmppath[0] && !st->anon)
		unlink(st->tmppath);
	st->tmppath[0] = '\0';
	st->anon = 0;
	free(st->buf);
	st->buf = NULL;
	st->blen = st->bcap = 0;
}

void store_abort(struct store *st)
{
	release(st);
}

/* Two entries of a set can name the same maildir (different addresses,
 * one mailbox); it gets the message once. */
static int seen_before(const struct rcptset *set, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(set->v[j].path, set->v[i].path) == 0)
			return 1;
	return 0;
}

/* Where a hard link cannot be made (another filesystem, or one without
 * links), the mailbox gets its own copy, written through its own tmp/ so
 * a reader never sees half a message. */
static int copy_into(struct store *st, const char *mbox, const char *name,
		     const char *dst, char *err, size_t errlen)
{
	char tmp[STORE_PATH];
	int in = -1, out = -1, e;
	ssize_t r;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s/tmp/%s", mbox, name) >= sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", mbox);
		return -1;
	}
	if (make_maildir(st->conf, mbox, err, errlen) < 0)
		return -1;
	in = open(st->tmppath, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		snprintf(err, errlen, "open %s: %s", st->label, strerror(errno));
		return -1;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		close(in);
		return -1;
	}
	for (;;) {
		r = read(in, st->buf, st->bcap);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (write_all(out, st->buf, (size_t)r) < 0) {
			r = -1;
			break;
		}
	}
	if (r < 0)
		goto fail;
	if (st->conf->fsync && fsync(out) < 0)
		goto fail;
	e = close(out);
	out = -1;
	if (e < 0)
		goto fail;
	close(in);
	if (rename(tmp, dst) < 0) {
		snprintf(err, errlen, "rename %s: %s", dst, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	e = errno;
	snprintf(err, errlen, "copy to %s: %s", tmp, strerror(e));
	if (out >= 0)
		close(out);
	close(in);
	unlink(tmp);
	return -1;
}

/* A name in new/ for the message: a hard link to the named tmp file, or
 * to the unnamed one through its /proc/self/fd name. */
static int link_to(const struct store *st, const char *dst)
{
	if (st->anon)
		return linkat(AT_FDCWD, st->tmppath, AT_FDCWD, dst, AT_SYMLINK_FOLLOW);
	return link(st->tmppath, dst);
}

static void rollback(struct store *st, const char *name, size_t made)
{
	char p[STORE_PATH];

	for (size_t i = 0; i < made; i++) {
		if (seen_before(st->set, i))
			continue;
		snprintf(p, sizeof p, "%s/new/%s", st->set->v[i].path, name);
		if (unlink(p) == 0 && st->conf->fsync) {
			snprintf(p, sizeof p, "%s/new", st->set->v[i].path);
			fsync_dir(p);
		}
	}
	release(st);
}

int store_commit(struct store *st, char *err, size_t errlen)
{
	const struct rcptset *set = st->set;
	char name[sizeof st->base + 64], p[STORE_PATH];
	struct stat sb;
	size_t i = 0, made = 0;
	int rc;

	name[0] = '\0';
	if (st->fd < 0 || !st->buf) {
		snprintf(err, errlen, "no message open");
		release(st);
		return -1;
	}
	if (flush(st) < 0) {
		snprintf(err, errlen, "write %s: %s", st->label, strerror(st->saved_errno));
		goto fail;
	}
	/* A named file is fsynced before its links are made.  An unnamed
	 * one after: it has no link until then, and on a file system
	 * without a journal the inode written by an earlier fsync would
	 * say so, which fsck reads as a deleted file however many
	 * directories name it.  Either way the file, then every new/, is
	 * on disk before commit returns. */
	if (!st->anon && st->conf->fsync && fsync(st->fd) < 0) {
		snprintf(err, errlen, "fsync %s: %s", st->label, strerror(errno));
		goto fail;
	}
	if (fstat(st->fd, &sb) < 0) {
		snprintf(err, errlen, "stat %s: %s", st->label, strerror(errno));
		goto fail;
	}
	/* NFS reports a failed write-back only at close (an unnamed file
	 * is never on NFS: it stays open, its /proc name is the source of
	 * the links) */
	if (!st->anon) {
		rc = close(st->fd);
		st->fd = -1;
		if (rc < 0) {
			snprintf(err, errlen, "close %s: %s", st->label, strerror(errno));
			goto fail;
		}
	}
	if ((unsigned long long)sb.st_size != st->size) {
		snprintf(err, errlen, "%s: size on disk is not the size written", st->label);
		goto fail;
	}
	if (st->size + st->lines < st->size) {
		snprintf(err, errlen, "message too large");
		goto fail;
	}
	snprintf(name, sizeof name, "%s,S=%llu,W=%llu", st->base, st->size,
		 st->size + st->lines);
	for (i = 0; i < set->n; i++, made = i) {
		if (seen_before(set, i))
			continue;
		if ((size_t)snprintf(p, sizeof p, "%s/new/%s", set->v[i].path, name) >= sizeof p) {
			snprintf(err, errlen, "%s: path too long", set->v[i].path);
			goto fail;
		}
		if (link_to(st, p) == 0)
			continue;
		if (errno == ENOENT) {
			/* a mailbox seen for the first time */
			if (make_maildir(st->conf, set->v[i].path, err, errlen) < 0)
				goto fail;
			if (link_to(st, p) == 0)
				continue;
		}
		if (errno != EXDEV && errno != EMLINK && errno != EPERM && errno != ENOTSUP) {
			snprintf(err, errlen, "link %s: %s", p, strerror(errno));
			goto fail;
		}
		if (copy_into(st, set->v[i].path, name, p, err, errlen) < 0)
			goto fail;
	}
	made = set->n;
	if (st->anon && st->conf->fsync && fsync(st->fd) < 0) {
		snprintf(err, errlen, "fsync %s: %s", st->label, strerror(errno));
		goto fail;
	}
	if (st->conf->fsync) {
		for (i = 0; i < set->n; i++) {
			if (seen_before(set, i))
				continue;
			snprintf(p, sizeof p, "%s/new", set->v[i].path);
			if (fsync_dir(p) < 0) {
				snprintf(err, errlen, "fsync %s: %s", p, strerror(errno));
				goto fail;
			}
		}
	}
	if (!st->anon && unlink(st->tmppath) < 0) {
		snprintf(err, errlen, "unlink %s: %s", st->tmppath, strerror(errno));
		goto fail;
	}
	st->tmppath[0] = '\0';
	release(st);
	return 0;
fail:
	rollback(st, name, made);
	return -1;
}
