/* Dropping root; see priv.h. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "priv.h"

/* A decimal id of at most 4294967294 ((uid_t)-1 means "none"). */
static int parse_id(const char *p, const char *end, unsigned long *out)
{
	unsigned long v = 0;

	if (p == end || end - p > 10)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 4294967294UL)
		return -1;
	*out = v;
	return 0;
}

int priv_parse_ids(const char *user, uid_t *uid, gid_t *gid)
{
	const char *colon = strchr(user, ':');
	unsigned long u, g;

	if (!colon || parse_id(user, colon, &u) < 0 ||
	    parse_id(colon + 1, colon + strlen(colon), &g) < 0)
		return -1;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

/* A name looked up before (listener mode: once in the parent, not in
 * every child). */
static struct {
	char name[64];
	uid_t uid;
	gid_t gid;
	int set;
} known;

void priv_remember(const char *user)
{
	struct passwd *pw;
	uid_t u;
	gid_t g;

	known.set = 0;
	if (geteuid() != 0 || !user || !*user || strlen(user) >= sizeof known.name ||
	    priv_parse_ids(user, &u, &g) == 0)
		return;
	if (!(pw = getpwnam(user)))
		return;
	snprintf(known.name, sizeof known.name, "%s", user);
	known.uid = pw->pw_uid;
	known.gid = pw->pw_gid;
	known.set = 1;
}

int priv_drop(const char *user, char *err, size_t errlen)
{
	struct passwd *pw = NULL;
	int from_passwd = 0;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0)
		return 0;
	if (!user || !*user) {
		snprintf(err, errlen, "running as root and no 'user' set in postern.conf: refusing to read the network as root");
		return -1;
	}
	/* "uid:gid" costs no NSS lookup (nsswitch.conf, nscd, /etc/passwd:
	 * ~0.2 ms of every connection); a name is looked up */
	if (known.set && strcmp(known.name, user) == 0) {
		uid = known.uid;
		gid = known.gid;
		from_passwd = 1;
	} else if (priv_parse_ids(user, &uid, &gid) < 0) {
		errno = 0;
		pw = getpwnam(user);
		if (!pw) {
			snprintf(err, errlen, "user %s: %s", user, errno ? strerror(errno) : "no such user");
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
		from_passwd = 1;
	}
	if (uid == 0 || (gid == 0 && !from_passwd)) {
		snprintf(err, errlen, "user %s has %s 0", user, uid == 0 ? "uid" : "gid");
		return -1;
	}
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		snprintf(err, errlen, "cannot switch to user %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0 || geteuid() == 0) {
		snprintf(err, errlen, "privileges could be regained after switching to %s", user);
		return -1;
	}
	return 0;
}
