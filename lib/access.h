/* Connection control: what the relay map says about a client address.
 * Both session programs ask before they say anything. */
#ifndef POSTERN_ACCESS_H
#define POSTERN_ACCESS_H

#include <stddef.h>
#include "map.h"

enum access_action { ACCESS_DENY, ACCESS_ALLOW, ACCESS_RELAY };

struct access {
	enum access_action action;
	unsigned long long max_size;   /* size= override, 0: none */
	unsigned max_rcpts;            /* rcpts= override, 0: none */
	int tls_required;              /* tls=required */
	char rule[64];                 /* the matching key, for logs */
};

/* Parse a relay map value ("deny", "allow size=10M rcpts=5 tls=required",
 * "relay").  0, or -1 when the value is not one postern-map writes. */
int access_parse(const char *v, size_t n, struct access *a);

/* Look ip up (longest prefix, then "default"); an empty ip (a piped
 * session) takes the "default" rule.  0 with *a filled; -1 when the map
 * is missing or broken (the caller refuses with a temporary error).  No
 * rule at all means deny. */
int access_check(struct maps *ms, const char *ip, struct access *a);

#endif
