/* Map compilation: a whole source checked, then written to its CDB atomically. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cdb.h>

#include "conf.h"
#include "mapsrc.h"
#include "str.h"

/* Far above any sane map; a bigger file is a mistake, not a map. */
#define SOURCE_CAP (1UL << 30)

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Every entry with its line; sorted once at the end, which finds
 * duplicates and serves the domains cross-check.  Nothing is written
 * until the whole source has passed. */
struct ent {
	char *key;
	char *val;
	unsigned long line;
};

struct table {
	struct ent *v;
	size_t n, cap;
};

static void tab_add(struct table *t, const struct str *key, const char *val,
		    unsigned long line)
{
	struct ent *nv;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		/* xcalloc checks the multiplication for overflow. */
		nv = xcalloc(t->cap, sizeof *t->v);
		if (t->n)
			memcpy(nv, t->v, t->n * sizeof *t->v);
		free(t->v);
		t->v = nv;
	}
	t->v[t->n].key = xstrndup(key->s, key->len);
	t->v[t->n].val = xstrdup(val);
	t->v[t->n++].line = line;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int r = strcmp(x->key, y->key);

	return r ? r : x->line < y->line ? -1 : x->line > y->line;
}

/* First entry with this key in the sorted table (the earliest line). */
static const struct ent *tab_find(const struct table *t, const char *key)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && strcmp(t->v[lo].key, key) == 0 ? &t->v[lo] : NULL;
}

/* Sort, then the duplicate with the lowest line; 0 when there is none. */
static unsigned long tab_dup(struct table *t, const struct ent **first,
			     const struct ent **dup)
{
	unsigned long best = 0;
	size_t i, head = 0;

	if (t->n)
		qsort(t->v, t->n, sizeof *t->v, ent_cmp);
	for (i = 1; i < t->n; i++) {
		if (strcmp(t->v[i].key, t->v[head].key) != 0) {
			head = i;
			continue;
		}
		if (i == head + 1 && (!best || t->v[i].line < best)) {
			best = t->v[i].line;
			*first = &t->v[head];
			*dup = &t->v[i];
		}
	}
	return best;
}

static void tab_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].val);
	}
	free(t->v);
}

/* An alias domain must lead straight to a primary: a chain would make
 * the domains map order-dependent to read.  Reports the lowest line. */
static int check_domains(const struct table *t, const char *src, char *err,
			 size_t errlen)
{
	const struct ent *bad = NULL, *target = NULL;
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct ent *e = &t->v[i], *p;

		if (!*e->val || (bad && bad->line < e->line))
			continue;
		p = tab_find(t, e->val);
		if (!p || *p->val) {
			bad = e;
			target = p;
		}
	}
	if (!bad)
		return 0;
	if (!target)
		return fail(err, errlen, "%s:%lu: %s is not a primary domain listed in this file",
			    src, bad->line, bad->val);
	return fail(err, errlen, "%s:%lu: %s is an alias domain (line %lu), not a primary",
		    src, bad->line, bad->val, target->line);
}

/* -1 when the source is absent or not a file (the admin's mistake),
 * -2 when reading it failed. */
static int read_source(const char *src, struct str *buf, char *err, size_t errlen)
{
	struct stat st;
	char chunk[65536];
	ssize_t r;
	int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		int e = errno;
		fail(err, errlen, "%s: %s", src, strerror(e));
		return e == ENOENT || e == ENOTDIR ? -1 : -2;
	}
	if (fstat(fd, &st) < 0) {
		fail(err, errlen, "%s: %s", src, strerror(errno));
		close(fd);
		return -2;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, "%s: not a regular file", src);
	}
	for (;;) {
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fail(err, errlen, "%s: %s", src, strerror(errno));
			close(fd);
			return -2;
		}
		if (r == 0)
			break;
		if (str_catn(buf, chunk, (size_t)r) < 0) {
			close(fd);
			return fail(err, errlen, "%s: file too large", src);
		}
	}
	close(fd);
	return 0;
}

/* Most maps are read by the mail user and hold nothing secret: 0644.
 * users holds password hashes: its CDB takes the source's owner, group
 * and mode (at most 0660), so "root:postern 0640" on the source gives a
 * CDB the sessions can read and nobody else can. */
static int map_mode(const char *src, struct stat *sb)
{
	if (stat(src, sb) < 0)
		return -1;
	return (int)((sb->st_mode & 0660) | 0600);
}

static int make_temp(const char *dir, const char *name, const char *src,
		     char *tmp, size_t len)
{
	struct stat sb;
	int mode = 0644, own = 0;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid() << 16;
	int i, fd;

	if (!strcmp(name, "users")) {
		mode = map_mode(src, &sb);
		if (mode < 0)
			return -1;
		own = geteuid() == 0;
	}
	for (i = 0; i < 100; i++) {
		seed = seed * 1103515245u + 12345u;
		if (snprintf(tmp, len, "%s/.%s.cdb.%ld.%08x", dir, name,
			     (long)getpid(), seed) >= (int)len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			/* whatever the umask */
			if ((own && fchown(fd, sb.st_uid, sb.st_gid) < 0) || fchmod(fd, (mode_t)mode) < 0) {
				int e = errno;
				close(fd);
				unlink(tmp);
				errno = e;
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	/* Some filesystems cannot fsync a directory; nothing more to do there. */
	if (r < 0 && errno == EINVAL)
		r = 0;
	close(fd);
	return r;
}

/* Only a source that passed every check gets here, so the one failure
 * left is the system's: -2, or -3 once the rename has happened. */
static int write_cdb(const struct table *t, const char *dir, const char *name,
		     const char *src, const char *dst, char *err, size_t errlen)
{
	char tmp[CONF_PATH_MAX];
	struct cdb_make cm;
	size_t i;
	int fd = make_temp(dir, name, src, tmp, sizeof tmp);

	if (fd < 0) {
		fail(err, errlen, "%s: cannot create a temporary file: %s", dir, strerror(errno));
		return -2;
	}
	if (cdb_make_start(&cm, fd) < 0)
		goto bad;
	for (i = 0; i < t->n; i++)
		if (cdb_make_add(&cm, t->v[i].key, (unsigned)strlen(t->v[i].key),
				 t->v[i].val, (unsigned)strlen(t->v[i].val)) < 0) {
			int e = errno;

			cdb_make_finish(&cm);   /* the only way to free its lists */
			errno = e;
			goto bad;
		}
	if (cdb_make_finish(&cm) < 0 || fsync(fd) < 0)
		goto bad;
	if (close(fd) < 0) {
		fd = -1;
		goto bad;
	}
	if (rename(tmp, dst) < 0) {
		fail(err, errlen, "rename to %s: %s", dst, strerror(errno));
		unlink(tmp);
		return -2;
	}
	if (sync_dir(dir) < 0) {
		fail(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		return -3;
	}
	return 0;
bad:
	fail(err, errlen, "%s: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -2;
}

/* Parse every line into t; the first error in source order wins. */
static int parse_source(enum map_kind k, const char *src, struct str *buf,
			struct table *t, char *err, size_t errlen)
{
	const char *p = str_c(buf), *end = p + buf->len;
	const struct ent *first = NULL, *dup = NULL;
	unsigned long lineno = 0, bad = 0;
	struct str key, val;
	char msg[256];

	str_init(&key, 0);
	str_init(&val, 0);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int rc;

		lineno++;
		if (n && p[n - 1] == '\r')
			n--;
		rc = mapsrc_line(k, p, n, &key, &val, msg, sizeof msg);
		p = nl ? nl + 1 : end;
		if (rc < 0) {
			bad = lineno;
			break;
		}
		if (rc > 0)
			tab_add(t, &key, str_c(&val), lineno);
	}
	str_free(&key);
	str_free(&val);
	/* Every key seen so far precedes a bad line, so a duplicate among
	 * them is the earlier error. */
	if (tab_dup(t, &first, &dup))
		return fail(err, errlen, "%s:%lu: duplicate key %.200s, first at line %lu",
			    src, dup->line, dup->key, first->line);
	if (bad)
		return fail(err, errlen, "%s:%lu: %s", src, bad, msg);
	if (k == MAP_DOMAINS)
		return check_domains(t, src, err, errlen);
	return 0;
}

int map_compile_n(const char *dir, enum map_kind k, int check_only,
		  size_t *entries, char *err, size_t errlen)
{
	char src[CONF_PATH_MAX], dst[CONF_PATH_MAX];
	struct table t = { 0 };
	struct str buf;
	const char *name;
	int r;

	if ((unsigned)k >= MAP_NKINDS)
		return fail(err, errlen, "unknown map kind");
	name = map_name(k);
	if (snprintf(src, sizeof src, "%s/%s", dir, name) >= (int)sizeof src ||
	    snprintf(dst, sizeof dst, "%s/%s.cdb", dir, name) >= (int)sizeof dst)
		return fail(err, errlen, "%s: directory name too long", dir);
	str_init(&buf, SOURCE_CAP);
	r = read_source(src, &buf, err, errlen);
	if (r == 0)
		r = parse_source(k, src, &buf, &t, err, errlen);
	if (r == 0 && !check_only) {
		r = write_cdb(&t, dir, name, src, dst, err, errlen);
		/* The rename happened: the new map is live, only its
		 * durability is in doubt. */
		if (r == -3)
			r = -2;
	}
	if (r == 0 && entries)
		*entries = t.n;
	tab_free(&t);
	str_free(&buf);
	return r;
}

int map_compile(const char *dir, enum map_kind k, int check_only,
		char *err, size_t errlen)
{
	return map_compile_n(dir, k, check_only, NULL, err, errlen);
}
