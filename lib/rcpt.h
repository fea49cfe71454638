/* From an envelope recipient to the mailboxes that receive it: local
 * domains, alias domains, aliases (with depth and loop limits), catch-all,
 * users, sub-addresses and the postmaster rule of RFC 5321 4.5.1. Shared
 * by smtp-session (at RCPT time) and deliver. */
#ifndef POSTERN_RCPT_H
#define POSTERN_RCPT_H

#include <stddef.h>
#include "conf.h"
#include "map.h"

enum rcpt_result {
	RCPT_OK = 0,          /* mailboxes appended to the set */
	RCPT_NOUSER,          /* local domain, no such user: 550 5.1.1 */
	RCPT_NONLOCAL,        /* domain is not ours: relay decision */
	RCPT_REMOTE_TARGET,   /* an alias leads to a remote address */
	RCPT_LOOP,            /* alias loop or depth limit: 550 5.4.6 */
	RCPT_TOOMANY,         /* expansion over max_expansion: 550 5.5.3 */
	RCPT_TEMP,            /* map missing or broken: 451 4.3.0 */
};

struct mailbox {
	char addr[320];               /* final user address, lowercase */
	char path[CONF_PATH_MAX];     /* maildir directory */
};

struct rcptset {
	struct mailbox *v;
	size_t n, cap;
};

void rcptset_init(struct rcptset *s);
void rcptset_clear(struct rcptset *s);
void rcptset_free(struct rcptset *s);

/* Is domain local?  1 yes (its primary name, lowercase, in primary),
 * 0 no, -1 temporary failure. */
int rcpt_domain(struct maps *ms, const char *domain, char *primary, size_t len);

/* Resolve local@domain (domain "" for a bare <postmaster>).  New
 * mailboxes are appended to set without duplicates; on any result other
 * than RCPT_OK the set is left as it was.  why receives a short reason for
 * logs. */
enum rcpt_result rcpt_resolve(struct maps *ms, const struct conf *c,
			      const char *local, const char *domain,
			      struct rcptset *set, char *why, size_t whylen);

/* Remote addresses that aliases forward to. */
struct rcptfwd {
	char (*v)[320];
	size_t n, cap;
};

void rcptfwd_init(struct rcptfwd *f);
void rcptfwd_free(struct rcptfwd *f);
/* Append addr unless it is there already. */
void rcptfwd_add(struct rcptfwd *f, const char *addr);

/* rcpt_resolve, except that an alias target outside the local domains
 * is appended to fwd (once) and resolution goes on, instead of ending
 * with RCPT_REMOTE_TARGET: deliver and the relay queue those.  Forwards
 * count towards max_expansion.  set and fwd change only on RCPT_OK. */
enum rcpt_result rcpt_resolve_fwd(struct maps *ms, const struct conf *c,
				  const char *local, const char *domain,
				  struct rcptset *set, struct rcptfwd *fwd,
				  char *why, size_t whylen);

/* A users.cdb value "hash" or "hash:mailbox=PATH": *hashlen gets the
 * length of the hash part, path the user's maildir (mail_root/domain/local,
 * or PATH, relative to mail_root unless absolute).  Shared with the POP3
 * login so both agree on where a user's mail is.  0, or -1 when the path
 * does not fit. */
int rcpt_user_value(const struct conf *c, const char *local, const char *domain,
		    const char *v, size_t vn, size_t *hashlen,
		    char *path, size_t pathlen);

#endif
