/* Map sources: the text files an admin edits, and their compilation into
 * CDB files (write temp, fsync, rename; the old CDB stays on any error).
 *
 * Source formats (one entry per line, '#' comments, blank lines ignored;
 * keys are lowercased):
 *
 *   domains  "example.test"                 primary (local mailboxes)
 *            "example.net  example.test"    alias domain of a primary
 *            value: "" for a primary, the primary's name for an alias
 *   aliases  "team@example.test: alice@example.test, bob@example.test"
 *            "@example.test: alice@example.test"   (catch-all)
 *            value: targets joined by ','
 *   users    "alice@example.test:$y$...hash...[:option,option]"
 *            value: "hash" or "hash:options"
 *   relay    "192.0.2.0/24 deny", "2001:db8::/32 allow", "default relay"
 *            key: canonical network "192.0.2.0/24" or "default";
 *            value: "deny" | "allow" | "relay" [ option=value ...]
 *   routes   "remote.test host=[127.0.0.1]:2526 helo=helo tls=require"
 *            value: the canonical option list
 */
#ifndef POSTERN_MAPSRC_H
#define POSTERN_MAPSRC_H

#include <stddef.h>
#include "map.h"
#include "str.h"

/* Parse one line (without its terminator).  Returns 1 and fills key/val
 * for an entry, 0 for a blank or comment line, -1 with a message in err
 * (no file:line prefix; the caller adds it). */
int mapsrc_line(enum map_kind k, const char *line, size_t n,
		struct str *key, struct str *val, char *err, size_t errlen);

/* Compile DIR/<name> into DIR/<name>.cdb atomically.  With check_only,
 * parse and cross-check only.  Returns 0; -1 for a fault in the source
 * (missing file, bad line: "file:line: msg" in err); -2 for a system
 * failure (read, write, fsync, rename: "file: reason" in err). */
int map_compile(const char *dir, enum map_kind k, int check_only,
		char *err, size_t errlen);

/* The same, and *entries receives the number of keys on success. */
int map_compile_n(const char *dir, enum map_kind k, int check_only,
		  size_t *entries, char *err, size_t errlen);

#endif
