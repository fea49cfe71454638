/* Dropping root before the network is read. */
#ifndef POSTERN_PRIV_H
#define POSTERN_PRIV_H

#include <stddef.h>
#include <sys/types.h>

/* When running as root: switch to user (gid, supplementary groups, uid)
 * and check it stuck; an empty user is an error (no network parsing as
 * root).  user is a name (looked up with getpwnam) or "uid:gid" in
 * decimal (no lookup at all; uid 0 or gid 0 refused).  When not root:
 * nothing to do.  0 or -1 with err set. */
int priv_drop(const char *user, char *err, size_t errlen);

/* "uid:gid", two decimal ids below 4294967295: 0 with both set, else -1
 * (a user name).  Pure. */
int priv_parse_ids(const char *user, uid_t *uid, gid_t *gid);

/* Look a user name up now, so later priv_drop() calls with the same
 * name in this process or its forked children skip the NSS lookup
 * (listener mode: once at start and at SIGHUP).  Quietly does nothing
 * when not root, for "uid:gid" or an unknown name (priv_drop reports
 * that). */
void priv_remember(const char *user);

#endif
