/* postern-relay's shared state: one pass over the queue, its messages
 * and the destinations their recipients are grouped into. */
#ifndef POSTERN_RELAY_H
#define POSTERN_RELAY_H

#include <stddef.h>
#include "conf.h"
#include "map.h"
#include "queue.h"
#include "relay-route.h"

struct rmsg {
	struct qenv env;
	unsigned jobs;          /* destinations not yet reported */
	int dirty;              /* state changed: save */
	int gone;               /* removed or moved to badmail */
};

struct jobrc {                  /* one recipient of one message */
	size_t msg, rcpt;
};

struct rjob {                   /* one destination, one child */
	struct route route;
	char domain[256];       /* for the MX lookup */
	int local;              /* delivered here through the store */
	struct jobrc *v;
	size_t n, cap;
};

struct relay {
	const struct conf *conf;
	struct maps maps;
	const struct resolver *res;
	long long now;
	int force;              /* -f: deferred recipients are due now */
	int verbose;
	struct rmsg *msgs;
	size_t nmsgs;
	struct rjob *jobs;
	size_t njobs;
	unsigned queued;        /* messages this pass created (bounces, forwards) */
};

/* relay-run.c: one pass; 0 or -1 (a system error was logged). */
int relay_pass(struct relay *rl);
/* relay-deliver.c: the child's work for one destination; reports go to
 * fd as lines "R <msg> <rcpt> <class> <relay> <reply>" and "M <msg>". */
void relay_job(struct relay *rl, const struct rjob *j, int fd);
/* relay-bounce.c: queue an RFC 3464 report for the failed recipients of
 * m to its sender.  0, or -1 with err. */
int relay_bounce(struct relay *rl, const struct qenv *e, char *err, size_t errlen);
/* relay-pickup.c: queue every file in spool/pickup; how many. */
unsigned relay_pickup(struct relay *rl);

#endif
