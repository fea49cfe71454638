/* Maildir snapshots for POP3: names, sizes, UIDLs, the lock; see maildir.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir.h"
#include "str.h"

/* Decimal digits at p (at most up to end) into *v; the count of digits,
 * 0 when there are none or the value overflows. */
static size_t digits(const char *p, const char *end, unsigned long long *v)
{
	unsigned long long n = 0;
	size_t i = 0;

	while (p + i < end && p[i] >= '0' && p[i] <= '9') {
		unsigned d = (unsigned)(p[i] - '0');
		if (n > (~0ULL - d) / 10)
			return 0;
		n = n * 10 + d;
		i++;
	}
	*v = n;
	return i;
}

void md_name_parse(const char *name, size_t n, struct md_name *out)
{
	const char *end = name + n, *info = memchr(name, ':', n), *p;
	unsigned long long v;
	size_t d;

	memset(out, 0, sizeof *out);
	while (out->baselen < n && name[out->baselen] != ',' && name[out->baselen] != ':')
		out->baselen++;
	/* "<seconds>.<rest>" is how every maildir writer starts a name */
	d = digits(name, name + out->baselen, &v);
	if (d && v <= (unsigned long long)INT64_MAX && (d == out->baselen || name[d] == '.'))
		out->secs = (long long)v;
	if (info) {
		out->has_info = end - info >= 3 && info[1] == '2' && info[2] == ',';
		end = info;
	}
	/* ",KEY=VALUE" fields between the base and the info part */
	for (p = name + out->baselen; p < end; ) {
		const char *f = p + 1, *next = memchr(f, ',', (size_t)(end - f));
		const char *stop = next ? next : end;

		if (stop - f >= 3 && f[1] == '=' && (f[0] == 'S' || f[0] == 'W')) {
			d = digits(f + 2, stop, &v);
			if (d && f + 2 + d == stop) {
				if (f[0] == 'S') {
					out->has_s = 1;
					out->s = v;
				} else {
					out->has_w = 1;
					out->w = v;
				}
			}
		}
		p = stop;
	}
}

/* 64-bit FNV-1a from a chosen starting value. */
static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void md_uidl(const char *name, size_t n, char *out)
{
	struct md_name nm;
	size_t i;

	md_name_parse(name, n, &nm);
	for (i = 0; i < nm.baselen; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			break;
	if (nm.baselen >= 1 && nm.baselen <= MD_UIDL_MAX && i == nm.baselen) {
		memcpy(out, name, nm.baselen);
		out[nm.baselen] = '\0';
		return;
	}
	/* RFC 1939 7: 1-70 characters of 0x21-0x7E.  Two differently seeded
	 * hashes of the base give 128 bits, plenty against collisions in one
	 * mailbox, and the same base always gives the same UIDL. */
	snprintf(out, MD_UIDL_MAX + 1, "%016llx%016llx",
		 (unsigned long long)fnv1a(0xcbf29ce484222325ULL, name, nm.baselen),
		 (unsigned long long)fnv1a(0x84222325cbf29ce4ULL ^ 0x5bd1e995ULL, name, nm.baselen));
}

void md_count_init(struct md_count *c)
{
	memset(c, 0, sizeof *c);
}

void md_count_feed(struct md_count *c, const char *p, size_t n)
{
	const char *q = p, *end = p + n, *lf;

	if (!n)
		return;
	c->n += n;
	while ((lf = memchr(q, '\n', (size_t)(end - q)))) {
		int before = lf > p ? lf[-1] == '\r' : c->cr;
		if (!before)
			c->n++;
		q = lf + 1;
	}
	c->any = 1;
	c->cr = end[-1] == '\r';
	c->lf = end[-1] == '\n';
}

unsigned long long md_count_end(const struct md_count *c)
{
	if (!c->any || c->lf)
		return c->n;
	return c->n + (c->cr ? 1 : 2);
}

void md_conv_init(struct md_conv *c, long long body_lines)
{
	memset(c, 0, sizeof *c);
	c->bol = 1;
	c->line_empty = 1;
	c->in_header = 1;
	c->body_lines = body_lines;
}

/* A line ended: TOP counts body lines after the blank separator. */
static void line_done(struct md_conv *c)
{
	if (c->in_header) {
		if (c->line_empty) {
			c->in_header = 0;
			if (c->body_lines == 0)
				c->done = 1;
		}
	} else if (c->body_lines > 0 && --c->body_lines == 0) {
		c->done = 1;
	}
	c->bol = 1;
	c->line_empty = 1;
	c->cr = 0;
}

size_t md_conv(struct md_conv *c, const char *in, size_t n, char *out, size_t *used)
{
	size_t i, o = 0;

	for (i = 0; i < n && !c->done; i++) {
		char ch = in[i];

		c->any = 1;
		if (ch == '\n') {
			if (!c->cr)
				out[o++] = '\r';
			out[o++] = '\n';
			c->payload += c->cr ? 1 : 2;
			line_done(c);
			continue;
		}
		if (c->bol && ch == '.')
			out[o++] = '.';
		c->bol = 0;
		out[o++] = ch;
		c->payload++;
		c->cr = ch == '\r';
		if (ch != '\r')
			c->line_empty = 0;
	}
	*used = i;
	return o;
}

size_t md_conv_end(struct md_conv *c, char *out)
{
	size_t o = 0;

	if (!c->any || c->bol || c->done)
		return 0;
	if (!c->cr)
		out[o++] = '\r';
	out[o++] = '\n';
	c->payload += o;
	c->bol = 1;
	return o;
}

void maildir_init(struct maildir *md)
{
	memset(md, 0, sizeof *md);
	md->lockfd = -1;
}

void maildir_free(struct maildir *md)
{
	if (md->lockfd >= 0)
		close(md->lockfd);
	free(md->v);
	free(md->names);
	maildir_init(md);
}

int maildir_lock(struct maildir *md, const char *path, char *err, size_t errlen)
{
	char p[sizeof md->path + sizeof MD_LOCKNAME + 1];
	struct stat sb;
	int fd;

	if (strlen(path) >= sizeof md->path) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	snprintf(md->path, sizeof md->path, "%s", path);
	if (stat(path, &sb) < 0) {
		if (errno == ENOENT) {
			md->missing = 1;
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(p, sizeof p, "%s/%s", path, MD_LOCKNAME);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", p, strerror(errno));
		return -1;
	}
	/* flock, not a lock file's existence: the kernel drops it when the
	 * holder dies, so a crash never leaves the mailbox locked */
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		if (errno == EWOULDBLOCK)
			return 1;
		snprintf(err, errlen, "flock %s: %s", p, strerror(errno));
		return -1;
	}
	md->lockfd = fd;
	return 0;
}

const char *maildir_name(const struct maildir *md, size_t i)
{
	return md->names + md->v[i].name;
}

/* "<maildir>/cur/<name>" (or new/) into p. */
static int msg_path(const struct maildir *md, const char *sub, const char *name,
		    char *p, size_t len)
{
	int w = snprintf(p, len, "%s/%s/%s", md->path, sub, name);

	return (w < 0 || (size_t)w >= len) ? -1 : 0;
}

static int open_path(const char *p)
{
	struct stat sb;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	if (fd < 0)
		return -1;
	/* a FIFO or device dropped into cur/ must not hang or feed us */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

int maildir_open(const struct maildir *md, size_t i)
{
	char p[sizeof md->path + 600];

	if (msg_path(md, md->v[i].in_new ? "new" : "cur", maildir_name(md, i), p, sizeof p) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return open_path(p);
}

int maildir_remove(const struct maildir *md, size_t i)
{
	char p[sizeof md->path + 600];

	if (msg_path(md, md->v[i].in_new ? "new" : "cur", maildir_name(md, i), p, sizeof p) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (unlink(p) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* Size of a message whose name does not carry W=: read it once. */
static int size_from_file(const char *p, unsigned long long *size)
{
	char buf[16384];
	struct md_count c;
	ssize_t r;
	int fd = open_path(p);

	if (fd < 0)
		return -1;
	md_count_init(&c);
	while ((r = read(fd, buf, sizeof buf)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		md_count_feed(&c, buf, (size_t)r);
	}
	close(fd);
	*size = md_count_end(&c);
	return 0;
}

static void add_msg(struct maildir *md, const char *name, size_t len,
		    unsigned long long size, long long secs, int in_new)
{
	size_t need;

	if (md->n == md->cap) {
		size_t cap = md->cap ? md->cap * 2 : 64, bytes;
		if (size_mul(cap, sizeof *md->v, &bytes) < 0)
			bytes = SIZE_MAX;   /* xrealloc ends the program cleanly */
		md->v = xrealloc(md->v, bytes);
		md->cap = cap;
	}
	if (size_add(md->nlen, len + 1, &need) < 0)
		need = SIZE_MAX;
	if (need > md->ncap) {
		size_t cap = md->ncap ? md->ncap : 4096;
		while (cap < need && cap < SIZE_MAX / 2)
			cap *= 2;
		md->names = xrealloc(md->names, cap);
		md->ncap = cap;
	}
	memcpy(md->names + md->nlen, name, len + 1);
	md->v[md->n].name = md->nlen;
	md->v[md->n].size = size;
	md->v[md->n].secs = secs;
	md->v[md->n].in_new = in_new;
	md->nlen += len + 1;
	md->n++;
	md->total += size;
}

/* One directory of the maildir into the snapshot. */
static int scan_dir(struct maildir *md, const char *sub, char *err, size_t errlen)
{
	char dir[sizeof md->path + 8], from[sizeof md->path + 620], to[sizeof md->path + 620];
	char moved[600];
	DIR *d;
	struct dirent *e;
	int is_new = strcmp(sub, "new") == 0;

	snprintf(dir, sizeof dir, "%s/%s", md->path, sub);
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	for (;;) {
		const char *name;
		size_t len;
		struct md_name nm;
		unsigned long long size;
		int in_new = 0;

		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno) {
				snprintf(err, errlen, "readdir %s: %s", dir, strerror(errno));
				closedir(d);
				return -1;
			}
			break;
		}
		name = e->d_name;
		if (name[0] == '.' || e->d_type == DT_DIR)
			continue;
		len = strlen(name);
		if (len + 4 >= sizeof moved)
			continue;
		if (is_new) {
			/* Seen by a client now: cur/ with the "2," info part,
			 * which keeps the base name and so the UIDL */
			snprintf(moved, sizeof moved, "%s%s", name, memchr(name, ':', len) ? "" : ":2,");
			msg_path(md, "new", name, from, sizeof from);
			msg_path(md, "cur", moved, to, sizeof to);
			if (rename(from, to) == 0) {
				md->moved++;
				name = moved;
				len = strlen(moved);
			} else if (errno == ENOENT) {
				continue;
			} else {
				/* readable where it is; try the move next time */
				in_new = 1;
			}
		}
		md_name_parse(name, len, &nm);
		if (nm.has_w) {
			size = nm.w;
		} else {
			msg_path(md, in_new || !is_new ? sub : "cur", name, from, sizeof from);
			if (size_from_file(from, &size) < 0)
				continue;   /* vanished or unreadable: not in the snapshot */
		}
		add_msg(md, name, len, size, nm.secs, in_new);
	}
	closedir(d);
	return 0;
}

static int by_time_then_name(const void *a, const void *b, void *arg)
{
	const struct md_msg *x = a, *y = b;
	const char *names = arg;

	if (x->secs != y->secs)
		return x->secs < y->secs ? -1 : 1;
	return strcmp(names + x->name, names + y->name);
}

int maildir_scan(struct maildir *md, char *err, size_t errlen)
{
	md->n = 0;
	md->nlen = 0;
	md->total = 0;
	md->moved = 0;
	if (md->missing)
		return 0;
	/* cur/ first: a message moved out of new/ meanwhile is then met once */
	if (scan_dir(md, "cur", err, errlen) < 0 || scan_dir(md, "new", err, errlen) < 0)
		return -1;
	if (md->n > 1)
		qsort_r(md->v, md->n, sizeof *md->v, by_time_then_name, md->names);
	return 0;
}
