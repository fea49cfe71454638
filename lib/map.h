/* Lookups in the instance's CDB maps (tinycdb, mmap'd, O(1)).
 *
 * A map is opened on first use.  Missing, unreadable or corrupt = -1,
 * which every caller turns into a temporary failure: a broken map never
 * means "accept everything".  Keys are looked up exactly as given; map
 * sources are lowercased when compiled, so callers lowercase too. */
#ifndef POSTERN_MAP_H
#define POSTERN_MAP_H

#include <stddef.h>
#include <cdb.h>

enum map_kind { MAP_DOMAINS, MAP_ALIASES, MAP_USERS, MAP_RELAY, MAP_ROUTES, MAP_NKINDS };

struct map {
	int state;        /* 0 not tried, 1 open, -1 failed */
	int fd;
	int inherited;    /* the mapping is maps_warm()'s, not ours to free */
	struct cdb cdb;
};

struct maps {
	char dir[1024];
	struct map m[MAP_NKINDS];
};

const char *map_name(enum map_kind k);          /* "domains", ... */
int map_kind_from_name(const char *name);       /* -1 when unknown */

void maps_init(struct maps *ms, const char *dir);
void maps_close(struct maps *ms);

/* Listener mode: open and check dir's maps in this process now (again
 * only for a file that changed).  A child forked afterwards uses such a
 * mapping instead of opening the file when the file at the path is still
 * the same one (device, inode, size, modification time: a map rebuilt by
 * postern-map is a new file) and its owner, group and mode let the child
 * read it, so every other case, a missing or unreadable map included,
 * goes the usual way. */
void maps_warm(const char *dir);

/* 1 found (*val, *vlen point into the mapping, valid until maps_close),
 * 0 not found, -1 map missing/unreadable/corrupt. */
int map_lookup(struct maps *ms, enum map_kind k, const char *key, size_t klen,
	       const char **val, size_t *vlen);

/* Relay rule for a client address ("192.0.2.7", "2001:db8::1",
 * "::ffff:192.0.2.7" counts as IPv4): the most specific network in
 * relay.cdb that contains it, else the "default" entry.  1 found, 0 no
 * rule at all, -1 map missing/broken or ip not an address. */
int map_relay_lookup(struct maps *ms, const char *ip, const char **val,
		     size_t *vlen);

#endif
