/* Lookups in the instance's CDB maps, opened lazily and failing closed. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cdb.h>

#include "map.h"
#include "samefile.h"

static const char *const names[MAP_NKINDS] = {
	"domains", "aliases", "users", "relay", "routes",
};

const char *map_name(enum map_kind k)
{
	return (unsigned)k < MAP_NKINDS ? names[k] : "unknown";
}

int map_kind_from_name(const char *name)
{
	int i;

	for (i = 0; i < MAP_NKINDS; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

void maps_init(struct maps *ms, const char *dir)
{
	int i;

	memset(ms, 0, sizeof *ms);
	for (i = 0; i < MAP_NKINDS; i++)
		ms->m[i].fd = -1;
	/* A truncated directory name would open some other instance's
	 * maps: make every lookup fail instead. */
	if (snprintf(ms->dir, sizeof ms->dir, "%s", dir) >= (int)sizeof ms->dir)
		for (i = 0; i < MAP_NKINDS; i++)
			ms->m[i].state = -1;
}

void maps_close(struct maps *ms)
{
	int i;

	for (i = 0; i < MAP_NKINDS; i++) {
		struct map *m = &ms->m[i];

		if (m->state == 1 && !m->inherited)
			cdb_free(&m->cdb);
		m->inherited = 0;
		if (m->fd >= 0)
			close(m->fd);
		m->fd = -1;
		m->state = 0;
	}
}

/* Both cdb writers lay the 256 hash tables end to end after the
 * records, in slot order, up to the end of the file.  Checking that
 * once at open turns a truncated or overwritten file into "broken"
 * instead of a lookup that happens to say "not found". */
static int layout_ok(const struct cdb *c)
{
	const unsigned char *mem = c->cdb_mem;
	unsigned fsize = c->cdb_fsize, pos, n, expect;
	int i;

	if (fsize < 2048)
		return 0;
	expect = cdb_unpack(mem);
	for (i = 0; i < 256; i++) {
		pos = cdb_unpack(mem + i * 8);
		n = cdb_unpack(mem + i * 8 + 4);
		if (pos != expect || pos < 2048 || pos > fsize ||
		    n > (fsize - pos) / 8)
			return 0;
		expect = pos + n * 8;
	}
	return expect == fsize;
}

/* maps_warm()'s maps, inherited by the children a listener forks. */
static struct {
	char dir[1024];
	struct {
		int ok;
		struct stat st;
		struct cdb cdb;
	} m[MAP_NKINDS];
} warm;

/* Could this process open the file for reading?  The sessions drop to
 * one uid and one gid (priv.c sets no other groups). */
static int may_read(const struct stat *st)
{
	uid_t u = geteuid();

	if (u == 0)
		return 1;
	if (st->st_uid == u)
		return (st->st_mode & S_IRUSR) != 0;
	if (st->st_gid == getegid())
		return (st->st_mode & S_IRGRP) != 0;
	return (st->st_mode & S_IROTH) != 0;
}

static int open_checked(const char *path, struct cdb *c, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	if ((st && fstat(fd, st) < 0) || cdb_init(c, fd) < 0) {
		close(fd);
		return -1;
	}
	if (!layout_ok(c)) {
		cdb_free(c);
		close(fd);
		errno = EPROTO;
		return -1;
	}
	return fd;
}

void maps_warm(const char *dir)
{
	char path[sizeof warm.dir + 16];
	struct stat st;

	if (strcmp(warm.dir, dir) != 0) {
		for (int k = 0; k < MAP_NKINDS; k++)
			if (warm.m[k].ok) {
				close(cdb_fileno(&warm.m[k].cdb));
				cdb_free(&warm.m[k].cdb);
				warm.m[k].ok = 0;
			}
		if (snprintf(warm.dir, sizeof warm.dir, "%s", dir) >= (int)sizeof warm.dir) {
			warm.dir[0] = '\0';
			return;
		}
	}
	for (int k = 0; k < MAP_NKINDS; k++) {
		if (snprintf(path, sizeof path, "%s/%s.cdb", warm.dir, names[k]) >= (int)sizeof path)
			continue;
		if (warm.m[k].ok && stat(path, &st) == 0 && same_file(&st, &warm.m[k].st))
			continue;
		if (warm.m[k].ok) {
			close(cdb_fileno(&warm.m[k].cdb));
			cdb_free(&warm.m[k].cdb);
			warm.m[k].ok = 0;
		}
		warm.m[k].ok = open_checked(path, &warm.m[k].cdb, &warm.m[k].st) >= 0;
	}
}

static int map_open(struct maps *ms, struct map *m, enum map_kind k)
{
	char path[sizeof ms->dir + 16];
	struct stat st;
	int fd;

	if (snprintf(path, sizeof path, "%s/%s.cdb", ms->dir, names[k]) >= (int)sizeof path)
		return -1;
	if (warm.m[k].ok && strcmp(warm.dir, ms->dir) == 0 && stat(path, &st) == 0 &&
	    same_file(&st, &warm.m[k].st) && may_read(&st)) {
		m->cdb = warm.m[k].cdb;
		m->inherited = 1;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (cdb_init(&m->cdb, fd) < 0) {
		close(fd);
		return -1;
	}
	if (!layout_ok(&m->cdb)) {
		cdb_free(&m->cdb);
		close(fd);
		errno = EPROTO;
		return -1;
	}
	m->fd = fd;
	return 0;
}

int map_lookup(struct maps *ms, enum map_kind k, const char *key, size_t klen,
	       const char **val, size_t *vlen)
{
	struct map *m;
	int r;

	if ((unsigned)k >= MAP_NKINDS)
		return -1;
	m = &ms->m[k];
	if (m->state == 0)
		m->state = map_open(ms, m, k) < 0 ? -1 : 1;
	if (m->state < 0)
		return -1;
	if (klen > UINT_MAX)
		return 0;
	r = cdb_find(&m->cdb, key, (unsigned)klen);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	*val = cdb_getdata(&m->cdb);
	*vlen = cdb_datalen(&m->cdb);
	if (!*val)
		return -1;
	return 1;
}

int map_relay_lookup(struct maps *ms, const char *ip, const char **val,
		     size_t *vlen)
{
	unsigned char a[16], m[16];
	char txt[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 8];
	int v6 = strchr(ip, ':') != NULL, len, i, r;

	if (inet_pton(v6 ? AF_INET6 : AF_INET, ip, a) != 1)
		return -1;
	/* The same rule as postern-map: a mapped address is IPv4. */
	if (v6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) {
		memmove(a, a + 12, 4);
		v6 = 0;
	}
	for (len = v6 ? 128 : 32; len >= 0; len--) {
		for (i = 0; i < (v6 ? 16 : 4); i++) {
			int bits = len - i * 8;

			m[i] = bits >= 8 ? a[i] : bits <= 0 ? 0 :
				(unsigned char)(a[i] & (0xff00u >> bits));
		}
		if (!inet_ntop(v6 ? AF_INET6 : AF_INET, m, txt, sizeof txt))
			return -1;
		snprintf(key, sizeof key, "%s/%d", txt, len);
		r = map_lookup(ms, MAP_RELAY, key, strlen(key), val, vlen);
		if (r != 0)
			return r;
	}
	return map_lookup(ms, MAP_RELAY, "default", 7, val, vlen);
}
