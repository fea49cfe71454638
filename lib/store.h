/* Maildir delivery of one message to a set of mailboxes, all or nothing.
 *
 * The message is written once into tmp/ of the first mailbox, as an
 * unnamed file (O_TMPFILE) where the file system has them, else as a
 * named one; at commit it is fsynced, hard-linked into new/ of every
 * mailbox (copied where a link is not possible), each new/ directory is
 * fsynced, and only then does commit return success.  Any failure
 * removes every copy made so far.  File names: "<sec>.M<usec>P<pid>Q<n>.<host>,S=<bytes>,W=<crlf>"
 * where S is the size on disk (LF line ends) and W the size with CRLF
 * line ends, which POP3 reports. */
#ifndef POSTERN_STORE_H
#define POSTERN_STORE_H

#include <stddef.h>
#include "conf.h"
#include "rcpt.h"

struct store {
	const struct conf *conf;
	const struct rcptset *set;
	int fd;
	int anon;                       /* fd is an unnamed (O_TMPFILE) file */
	char tmppath[CONF_PATH_MAX + 128]; /* its name, or /proc/self/fd/N */
	char label[CONF_PATH_MAX + 160];   /* what error messages call it */
	char base[160];                 /* unique part of the name */
	unsigned long long size;        /* bytes written */
	unsigned long long lines;       /* LF count, for W= */
	char *buf;                      /* write buffer */
	size_t blen, bcap;
	int failed;                     /* a write failed: commit will fail */
	int saved_errno;
};

/* Create missing maildirs (0700), open the tmp file.  0 or -1 (err set). */
int store_open(struct store *st, const struct conf *c, const struct rcptset *set,
	       char *err, size_t errlen);
/* Append message bytes: LF line ends, no CR before LF. 0 or -1. */
int store_write(struct store *st, const char *p, size_t n);
/* 0: every mailbox has the message in new/, durably. -1: none has it. */
int store_commit(struct store *st, char *err, size_t errlen);
/* Remove the tmp file; safe twice, after commit, and on a never-opened
 * store provided it was zeroed with fd = -1 (store_open does that first,
 * so a failed store_open may be followed by store_abort). */
void store_abort(struct store *st);

/* 0: named tmp files only, the way a file system without O_TMPFILE is
 * served (for tests); 1 (the default): unnamed where possible. */
void store_unnamed(int on);
/* Find out now, not at the first message, whether unnamed files can be
 * linked (a listener calls it once for all the sessions it forks). */
void store_warm(void);

/* Unique base name (exposed for tests). */
void store_unique(char *out, size_t len, const char *host);

#endif
