/* Password checks by backend: users.cdb (auth.c) and PAM through a tiny
 * root monitor.
 *
 * PAM modules such as pam_unix need root to read the shadow file, and a
 * session must not read the network as root.  So when PAM is configured
 * and the program starts as root, pammon_start() forks before anything is
 * read from the client: the child keeps root, closes the network fds and
 * answers only "is this user's password right?" over a socketpair, for a
 * bounded number of requests; the parent then drops privileges.  Not root:
 * PAM is called in process (test modules, or pam_unix's setuid helper).
 *
 * Wire format, one SOCK_SEQPACKET message each way: request = 2-byte
 * big-endian length + user, 2-byte length + password (each 1..255);
 * answer = one byte, an enum auth_result. */
#ifndef POSTERN_PAMAUTH_H
#define POSTERN_PAMAUTH_H

#include <stddef.h>
#include <sys/types.h>

#include "auth.h"
#include "conf.h"
#include "map.h"

struct pammon {
	int on;              /* PAM is one of the backends */
	int fd;              /* socket to the monitor; -1: PAM in process */
	pid_t pid;
	char service[64];
};

/* Start the monitor when c->auth_backend includes PAM, we are root and
 * want is set (AUTH can be offered at all).  0, or -1 with err set. */
int pammon_start(struct pammon *m, const struct conf *c, int want, char *err, size_t errlen);

/* Ask PAM about a bare user name (the local part). */
enum auth_result pammon_check(struct pammon *m, const char *user, const char *pass,
			      char *why, size_t whylen);

void pammon_stop(struct pammon *m);

/* The login check for both sessions: "local@domain" and a password,
 * against the configured backends (users, pam, or users then pam).  A
 * PAM user's address is local@primary-domain and the mailbox is
 * mail_root/<domain>/<local>, as for a virtual user. */
enum auth_result login_check(struct maps *ms, const struct conf *c, struct pammon *m,
			     const char *user, const char *pass, struct auth_user *u,
			     char *why, size_t whylen);

#endif
