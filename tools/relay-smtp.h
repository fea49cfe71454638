/* The relay's SMTP client: one connection, then any number of
 * transactions on it.  Results are per recipient: the reply class
 * (2, 4 or 5) and the reply text as one line. */
#ifndef POSTERN_RELAY_SMTP_H
#define POSTERN_RELAY_SMTP_H

#include <stddef.h>
#include <sys/socket.h>
#include "io.h"
#include "queue.h"
#include "relay-reply.h"
#include "relay-route.h"
#include "tls.h"

enum {
	EXT_PIPELINING = 1, EXT_SIZE = 2, EXT_8BITMIME = 4, EXT_STARTTLS = 8,
	EXT_AUTH_PLAIN = 16, EXT_AUTH_LOGIN = 32,
};

struct smtpc {
	int fd;
	struct io_in in;
	struct io_out out;
	struct io_ops ops;
	struct tls *tls;        /* lib/tls.c client, once STARTTLS is done */
	int tls_on;
	int idle_ms;
	unsigned ext;
	unsigned long long maxsize;     /* SIZE parameter, 0 = none given */
	const char *myname;             /* for EHLO */
	char peer[320];                 /* "name[ip]:port" */
	char err[QUEUE_REPLY_MAX];      /* why the connection failed */
	struct reply rep;
};

/* Connect to one address of a host and get it ready for MAIL: greeting,
 * EHLO/HELO, STARTTLS per the route, AUTH when the route has it.
 * cafile is for tls=verify.  0, or -1 with s->err (try the next host). */
int smtpc_open(struct smtpc *s, const struct route *r, const char *hostname,
	       const struct sockaddr *sa, socklen_t salen, const char *myname,
	       const char *cafile, unsigned timeout_s);

struct txn {
	const char *sender;             /* "" for <> */
	size_t n;
	const char *const *rcpts;
	int *cls;                       /* out: 2, 4 or 5 per recipient */
	char (*reply)[QUEUE_REPLY_MAX]; /* out: the reply, one line */
	int datafd;                     /* LF line ends, read from the start */
	unsigned long long size;
	int eightbit;
};

/* One transaction.  0: the connection may carry another; -1: it broke
 * (recipients without an answer got class 4 and s->err). */
int smtpc_send(struct smtpc *s, struct txn *t);
/* QUIT (best effort) and close. */
void smtpc_close(struct smtpc *s);

#endif
