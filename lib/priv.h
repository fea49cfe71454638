/* Dropping root before the network is read. */
#ifndef POSTERN_PRIV_H
#define POSTERN_PRIV_H

#include <stddef.h>

/* When running as root: switch to user (gid, supplementary groups, uid)
 * and check it stuck; an empty user is an error (no network parsing as
 * root).  When not root: nothing to do.  0 or -1 with err set. */
int priv_drop(const char *user, char *err, size_t errlen);

#endif
