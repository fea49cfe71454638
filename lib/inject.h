/* Local injection (pickup folder, postern-sendmail): recipients from
 * arguments and/or To/Cc/Bcc, Bcc removed, Date/Message-ID/From added
 * when missing; then local recipients into their maildirs and remote
 * ones (and alias forwards) into the queue, all or nothing (queue.h). */
#ifndef POSTERN_INJECT_H
#define POSTERN_INJECT_H

#include <stddef.h>
#include "conf.h"
#include "map.h"
#include "str.h"

struct inject {
	char (*rcpt)[520];
	size_t n, cap;
	struct str head;        /* the header block to write, with its empty line */
	size_t body;            /* offset of the body in the input */
	char from[520];         /* first From: address, "" when none */
};

void inject_init(struct inject *in);
void inject_free(struct inject *in);
/* Add a recipient: a bare name gets "@hostname"; duplicates are dropped.
 * 0, or -1 for an address with control bytes or brackets. */
int inject_add(struct inject *in, const struct conf *c, const char *addr);
/* Parse buf (LF line ends): with use_headers the To, Cc and Bcc
 * addresses are added; the header block is rewritten into in->head.
 * 0, or -1 with err (a header that does not parse). */
int inject_prepare(struct inject *in, const struct conf *c, const char *buf, size_t len,
		   int use_headers, const char *sender, const char *fullname,
		   char *err, size_t errlen);
/* Deliver: 0, or a sysexits code with err (EX_NOUSER for an unknown
 * local user or a bad address, EX_TEMPFAIL, EX_USAGE without recipients). */
int inject_deliver(struct inject *in, const struct conf *c, struct maps *ms,
		   const char *sender, const char *buf, size_t len,
		   char *err, size_t errlen);

#endif
