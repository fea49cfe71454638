/* The spool's queue on disk: setup, ids, the streaming writer, load/save/scan for the runner; see queue.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include "queue.h"
#include "str.h"

#define QBUF (64 * 1024)

long long queue_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int queue_path(const struct conf *c, const char *sub, const char *id,
	       const char *suffix, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s/%s%s", c->spool, sub, id, suffix);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = ENOSPC;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int fsync_dir(const struct conf *c, const char *sub)
{
	char p[CONF_PATH_MAX + 32];
	int fd, rc, e;

	if (!c->fsync)
		return 0;
	snprintf(p, sizeof p, "%s/%s", c->spool, sub);
	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}

int queue_setup(const struct conf *c, char *err, size_t errlen)
{
	static const char *const sub[] = { "tmp", "queue", "pickup", "badmail" };
	char p[CONF_PATH_MAX + 32];
	struct stat sb;

	if (stat(c->spool, &sb) < 0) {
		snprintf(err, errlen, "spool %s: %s", c->spool, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "spool %s: not a directory", c->spool);
		return -1;
	}
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		if ((size_t)snprintf(p, sizeof p, "%s/%s", c->spool, sub[i]) >= sizeof p) {
			snprintf(err, errlen, "spool %s: path too long", c->spool);
			return -1;
		}
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
			return -1;
		}
	}
	return 0;
}

void queue_newid(char *out, size_t len)
{
	static unsigned long long counter;
	struct timeval tv;

	/* seconds first so a sorted directory listing is oldest first */
	gettimeofday(&tv, NULL);
	snprintf(out, len, "%010lld.%06ldP%ldQ%llu", (long long)tv.tv_sec,
		 (long)tv.tv_usec, (long)getpid(), ++counter);
}

/* Write a whole small file into tmp/, fsync, rename to dst. */
static int write_file(const struct conf *c, const char *tmp, const char *dst,
		      const char *p, size_t n, char *err, size_t errlen)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write_all(fd, p, n) < 0 || (c->fsync && fsync(fd) < 0)) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	rc = close(fd);
	if (rc < 0 || (dst && rename(tmp, dst) < 0)) {
		snprintf(err, errlen, "%s %s: %s", rc < 0 ? "close" : "rename", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int queue_open(struct queue *q, const struct conf *c, const char *sender,
	       const char *const *rcpts, size_t n, char *err, size_t errlen)
{
	memset(q, 0, sizeof *q);
	q->fd = -1;
	q->conf = c;
	qenv_init(&q->env);
	if (n == 0) {
		snprintf(err, errlen, "no recipients to queue for");
		return -1;
	}
	if (qenv_sender(&q->env, sender, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (qenv_add(&q->env, rcpts[i], err, errlen) < 0)
			return -1;
	queue_newid(q->env.id, sizeof q->env.id);
	q->env.created = queue_now_ms();
	if (queue_path(c, "tmp", q->env.id, ".msg", q->datatmp, sizeof q->datatmp) < 0 ||
	    queue_path(c, "queue", q->env.id, ".msg", q->dataq, sizeof q->dataq) < 0 ||
	    queue_path(c, "tmp", q->env.id, ".env", q->envtmp, sizeof q->envtmp) < 0) {
		snprintf(err, errlen, "spool %s: path too long", c->spool);
		return -1;
	}
	q->fd = open(q->datatmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (q->fd < 0 && errno == ENOENT) {
		/* first message in a fresh spool */
		if (queue_setup(c, err, errlen) < 0)
			return -1;
		q->fd = open(q->datatmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (q->fd < 0) {
		snprintf(err, errlen, "create %s: %s", q->datatmp, strerror(errno));
		return -1;
	}
	q->stage = 1;
	q->bcap = QBUF;
	q->buf = xmalloc(q->bcap);
	return 0;
}

static int flush(struct queue *q)
{
	if (q->failed)
		return -1;
	if (q->blen && write_all(q->fd, q->buf, q->blen) < 0) {
		q->failed = 1;
		q->saved_errno = errno;
		return -1;
	}
	q->blen = 0;
	return 0;
}

int queue_write(struct queue *q, const char *p, size_t n)
{
	if (q->stage != 1 || q->failed)
		return -1;
	if (n > ~0ULL - q->env.size) {
		q->failed = 1;
		q->saved_errno = EFBIG;
		return -1;
	}
	q->env.size += n;
	while (n) {
		size_t k = q->bcap - q->blen;
		if (k > n)
			k = n;
		memcpy(q->buf + q->blen, p, k);
		q->blen += k;
		p += k;
		n -= k;
		if (q->blen == q->bcap && flush(q) < 0)
			return -1;
	}
	return 0;
}

int queue_prepare(struct queue *q, char *err, size_t errlen)
{
	struct str env = STR_INIT;
	int rc;

	if (q->stage == 2)
		return 0;
	if (q->stage != 1) {
		snprintf(err, errlen, "no message open");
		return -1;
	}
	if (flush(q) < 0) {
		snprintf(err, errlen, "write %s: %s", q->datatmp, strerror(q->saved_errno));
		return -1;
	}
	if (q->conf->fsync && fsync(q->fd) < 0) {
		snprintf(err, errlen, "fsync %s: %s", q->datatmp, strerror(errno));
		return -1;
	}
	rc = close(q->fd);
	q->fd = -1;
	if (rc < 0) {
		snprintf(err, errlen, "close %s: %s", q->datatmp, strerror(errno));
		return -1;
	}
	/* the data file may be seen in queue/ without its envelope; the
	 * runner ignores such a file until the grace period is over */
	if (rename(q->datatmp, q->dataq) < 0) {
		snprintf(err, errlen, "rename %s: %s", q->datatmp, strerror(errno));
		return -1;
	}
	q->datatmp[0] = '\0';
	/* the data's rename must be on disk before the envelope's can be */
	if (fsync_dir(q->conf, "queue") < 0) {
		snprintf(err, errlen, "fsync %s/queue: %s", q->conf->spool, strerror(errno));
		return -1;
	}
	if (qenv_format(&q->env, &env, err, errlen) < 0 ||
	    write_file(q->conf, q->envtmp, NULL, env.s, env.len, err, errlen) < 0) {
		str_free(&env);
		return -1;
	}
	str_free(&env);
	q->stage = 2;
	return 0;
}

int queue_commit(struct queue *q, char *err, size_t errlen)
{
	char dst[CONF_PATH_MAX + 96];

	if (queue_prepare(q, err, errlen) < 0)
		return -1;
	if (queue_path(q->conf, "queue", q->env.id, ".env", dst, sizeof dst) < 0 ||
	    rename(q->envtmp, dst) < 0) {
		snprintf(err, errlen, "rename %s: %s", q->envtmp, strerror(errno));
		return -1;
	}
	q->envtmp[0] = '\0';
	q->dataq[0] = '\0';
	q->stage = 3;
	if (fsync_dir(q->conf, "queue") < 0) {
		/* published but perhaps not durable: the caller cannot take the
		 * rename back safely (a runner may be sending it already), so
		 * this is reported and the message stays */
		snprintf(err, errlen, "fsync %s/queue: %s", q->conf->spool, strerror(errno));
		return -1;
	}
	return 0;
}

void queue_abort(struct queue *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	if (q->stage != 3) {
		if (q->datatmp[0])
			unlink(q->datatmp);
		if (q->dataq[0] && q->stage == 2)
			unlink(q->dataq);
		if (q->envtmp[0])
			unlink(q->envtmp);
	}
	q->datatmp[0] = q->dataq[0] = q->envtmp[0] = '\0';
	free(q->buf);
	q->buf = NULL;
	q->blen = q->bcap = 0;
	qenv_free(&q->env);
	q->stage = 0;
}

int queue_load(const struct conf *c, const char *id, struct qenv *e,
	       char *err, size_t errlen)
{
	char p[CONF_PATH_MAX + 96], *buf;
	struct stat sb;
	size_t got = 0;
	ssize_t r;
	int fd, rc;

	if (!qid_ok(id) || queue_path(c, "queue", id, ".env", p, sizeof p) < 0) {
		snprintf(err, errlen, "bad queue id");
		return -1;
	}
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > QUEUE_ENV_MAX) {
		snprintf(err, errlen, "%s: unreadable, not a file or too large", p);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	rc = qenv_parse(e, buf, got, err, errlen);
	free(buf);
	if (rc == 0 && strcmp(e->id, id) != 0) {
		snprintf(err, errlen, "%s: envelope names another id", p);
		rc = -1;
	}
	return rc;
}

int queue_save(const struct conf *c, const struct qenv *e, char *err, size_t errlen)
{
	char tmp[CONF_PATH_MAX + 96], dst[CONF_PATH_MAX + 96];
	struct str s = STR_INIT;
	int rc;

	if (!qid_ok(e->id) || queue_path(c, "tmp", e->id, ".env.new", tmp, sizeof tmp) < 0 ||
	    queue_path(c, "queue", e->id, ".env", dst, sizeof dst) < 0) {
		snprintf(err, errlen, "bad queue id or path too long");
		return -1;
	}
	rc = qenv_format(e, &s, err, errlen);
	if (rc == 0)
		rc = write_file(c, tmp, dst, s.s, s.len, err, errlen);
	str_free(&s);
	return rc;
}

int queue_remove(const struct conf *c, const char *id)
{
	char p[CONF_PATH_MAX + 96];
	int rc = 0;

	if (!qid_ok(id))
		return -1;
	if (queue_path(c, "queue", id, ".env", p, sizeof p) < 0 ||
	    (unlink(p) < 0 && errno != ENOENT))
		rc = -1;
	if (queue_path(c, "queue", id, ".msg", p, sizeof p) < 0 ||
	    (unlink(p) < 0 && errno != ENOENT))
		rc = -1;
	fsync_dir(c, "queue");
	return rc;
}

int queue_badmail(const struct conf *c, const char *id, char *err, size_t errlen)
{
	char from[CONF_PATH_MAX + 96], to[CONF_PATH_MAX + 96];

	if (!qid_ok(id)) {
		snprintf(err, errlen, "bad queue id");
		return -1;
	}
	/* the data first: a crash in between leaves a queued envelope whose
	 * data is gone, which the runner also moves to badmail */
	queue_path(c, "queue", id, ".msg", from, sizeof from);
	queue_path(c, "badmail", id, ".msg", to, sizeof to);
	if (rename(from, to) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "rename %s: %s", from, strerror(errno));
		return -1;
	}
	queue_path(c, "queue", id, ".env", from, sizeof from);
	queue_path(c, "badmail", id, ".env", to, sizeof to);
	if (rename(from, to) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "rename %s: %s", from, strerror(errno));
		return -1;
	}
	fsync_dir(c, "badmail");
	fsync_dir(c, "queue");
	return 0;
}

static int idcmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

long queue_scan(const struct conf *c, char (**ids)[QUEUE_ID_MAX])
{
	char p[CONF_PATH_MAX + 32];
	struct dirent *d;
	DIR *dir;
	size_t n = 0, cap = 0;

	*ids = NULL;
	snprintf(p, sizeof p, "%s/queue", c->spool);
	dir = opendir(p);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		size_t len = strlen(d->d_name);

		if (len < 5 || len - 4 >= QUEUE_ID_MAX || strcmp(d->d_name + len - 4, ".env") != 0)
			continue;
		d->d_name[len - 4] = '\0';
		if (!qid_ok(d->d_name))
			continue;
		if (n == cap) {
			size_t bytes;

			cap = cap ? cap * 2 : 64;
			if (size_mul(cap, QUEUE_ID_MAX, &bytes) < 0)
				break;
			*ids = xrealloc(*ids, bytes);
		}
		memcpy((*ids)[n++], d->d_name, len - 3);
	}
	closedir(dir);
	if (n)
		qsort(*ids, n, QUEUE_ID_MAX, idcmp);
	return (long)n;
}

/* Unlink sub/name when it is older than the grace period and, for a data
 * file in queue/, has no envelope beside it. */
static unsigned clean_dir(const struct conf *c, const char *sub, long long now,
			  long long grace_ms)
{
	char dir[CONF_PATH_MAX + 32], p[CONF_PATH_MAX + 320];
	struct dirent *d;
	struct stat sb;
	unsigned k = 0;
	DIR *dh;

	snprintf(dir, sizeof dir, "%s/%s", c->spool, sub);
	dh = opendir(dir);
	if (!dh)
		return 0;
	while ((d = readdir(dh))) {
		size_t len = strlen(d->d_name);

		if (d->d_name[0] == '.')
			continue;
		if (strcmp(sub, "queue") == 0) {
			if (len < 5 || strcmp(d->d_name + len - 4, ".msg") != 0 || len >= 250)
				continue;
			snprintf(p, sizeof p, "%s/%.*s.env", dir, (int)(len - 4), d->d_name);
			if (access(p, F_OK) == 0 || errno != ENOENT)
				continue;
		}
		snprintf(p, sizeof p, "%s/%s", dir, d->d_name);
		if (lstat(p, &sb) < 0 || !S_ISREG(sb.st_mode))
			continue;
		if (now - (long long)sb.st_mtime * 1000 < grace_ms)
			continue;
		if (unlink(p) == 0)
			k++;
	}
	closedir(dh);
	return k;
}

unsigned queue_cleanup(const struct conf *c, long long now, long long grace_ms)
{
	return clean_dir(c, "tmp", now, grace_ms) + clean_dir(c, "queue", now, grace_ms);
}
