/* The outbound queue in the spool directory (conf->spool):
 *
 *   spool/tmp/      files being written; never read by anyone else
 *   spool/queue/    <id>.msg (the message) and <id>.env (its envelope)
 *   spool/pickup/   complete RFC 5322 messages dropped by local programs
 *   spool/badmail/  bounces that could not be delivered
 *
 * A message is its data file (bytes with LF line ends, no Return-Path)
 * and its envelope file.  Both are written in tmp/, fsynced and renamed
 * into queue/, the envelope last: the runner only looks at envelopes, so
 * it never sees half a message.  A data file without an envelope is what
 * a crash between the two renames leaves; the runner removes it after a
 * grace period (queue_cleanup).
 *
 * Envelope values never contain CR, LF, NUL or other control bytes: the
 * file is line-based, and a value that could break a line could forge a
 * recipient (the CVE-2020-8794 class).  They are refused when an
 * envelope is built, when it is written and when it is read.
 *
 * Writing a message for remote and local recipients at once, all or
 * nothing with lib/store.c:
 *
 *   queue_open(&q, c, sender, remote, nremote)   store_open(&st, c, set)
 *   queue_write(&q, p, n)                        store_write(&st, p, n)
 *   ...                                          ...
 *   queue_prepare(&q)          data durable in queue/, envelope in tmp/
 *   store_commit(&st)          local mailboxes have it
 *   queue_commit(&q)           envelope renamed: the runner may send it
 *
 * Any failure before queue_commit: queue_abort (and store_abort), answer
 * with a temporary error.  A failure of queue_commit after store_commit
 * (a rename that fails; in practice a dead disk) is answered with a
 * temporary error too, so the client sends again and the local recipients
 * get a duplicate.  A crash anywhere in between leaves no 250 behind
 * either: the client sends again, local recipients may see the message
 * twice, remote ones see it once (the envelope was never published and
 * the orphan data file is cleaned up).  At most a duplicate, never a
 * loss. */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <stddef.h>
#include "conf.h"
#include "str.h"

#define QUEUE_ID_MAX 64
#define QUEUE_ADDR_MAX 516         /* addr.h: ADDR_PATH_MAX * 2 + 4 */
#define QUEUE_REPLY_MAX 512
#define QUEUE_ENV_MAX (16 * 1024 * 1024)   /* envelope file size cap */

enum qstate { QS_PENDING = 0, QS_DELIVERED, QS_DEFERRED, QS_FAILED };

struct qrcpt {
	char addr[QUEUE_ADDR_MAX];      /* local@domain, as given in RCPT */
	int state;                      /* enum qstate */
	unsigned attempts;              /* delivery attempts so far */
	long long next;                 /* next attempt, ms since the epoch */
	char reply[QUEUE_REPLY_MAX];    /* last reply or reason, one line */
};

struct qenv {
	char id[QUEUE_ID_MAX];
	char sender[QUEUE_ADDR_MAX];    /* "" is the null sender <> */
	long long created;              /* ms since the epoch */
	unsigned long long size;        /* data file bytes */
	int hold;                       /* held by the admin: not sent */
	int dsn;                        /* a bounce: never bounced itself */
	struct qrcpt *r;
	size_t n, cap;
};

/* A value fit for an envelope: no byte below 0x20 and no DEL. */
int qvalue_ok(const char *s);
/* A queue id: 1..QUEUE_ID_MAX-1 bytes of [A-Za-z0-9.], not starting
 * with '.'; ids from the command line go through this before they
 * become file names. */
int qid_ok(const char *id);
/* Copy remote text (a reply) into an envelope value: control bytes
 * become '?', line breaks a space, long text is cut. */
void qvalue_clean(char *dst, size_t dlen, const char *src, size_t n);

const char *qstate_name(int s);
int qstate_parse(const char *s);        /* -1 when unknown */

void qenv_init(struct qenv *e);
void qenv_free(struct qenv *e);
/* Add a pending recipient.  0, or -1 (err set) for a bad value. */
int qenv_add(struct qenv *e, const char *addr, char *err, size_t errlen);
/* Set the sender (bad value: -1). */
int qenv_sender(struct qenv *e, const char *sender, char *err, size_t errlen);
/* Serialise into out (cleared first).  -1 (err set) for a bad value. */
int qenv_format(const struct qenv *e, struct str *out, char *err, size_t errlen);
/* Parse an envelope file's bytes (e is reset first).  0 or -1 with err. */
int qenv_parse(struct qenv *e, const char *buf, size_t len, char *err, size_t errlen);

/* Recipient state transitions.  Delivered and failed are final: moving
 * out of them returns -1 and changes nothing. */
int qrcpt_delivered(struct qrcpt *r, const char *reply);
int qrcpt_failed(struct qrcpt *r, const char *reply);
/* Another attempt later: attempts++, next = now + min(retry_min *
 * 2^(attempts-1), retry_max). */
int qrcpt_deferred(struct qrcpt *r, const char *reply, long long now,
		   long long retry_min, long long retry_max);
/* Is r to be tried at now? */
int qrcpt_due(const struct qrcpt *r, long long now);
/* Recipients still pending or deferred at created + lifetime fail with
 * "queue lifetime expired".  Returns how many did. */
size_t qenv_expire(struct qenv *e, long long now, long long lifetime);
/* No recipient pending or deferred. */
int qenv_done(const struct qenv *e);
/* How many recipients are in state s. */
size_t qenv_count(const struct qenv *e, int s);

/* Create spool/{tmp,queue,pickup,badmail} (0700) as needed.  The spool
 * directory itself must exist: a missing one is usually an unmounted
 * volume.  0, or -1 with err. */
int queue_setup(const struct conf *c, char *err, size_t errlen);
/* A new id, unique across processes: time, pid, per-process counter. */
void queue_newid(char *out, size_t len);
/* spool/<sub>/<id><suffix>.  0, or -1 when it does not fit. */
int queue_path(const struct conf *c, const char *sub, const char *id,
	       const char *suffix, char *out, size_t len);
long long queue_now_ms(void);

/* The streaming writer. */
struct queue {
	const struct conf *conf;
	struct qenv env;
	int fd;
	int stage;                      /* 0 closed, 1 writing, 2 prepared */
	char datatmp[CONF_PATH_MAX + 96];
	char dataq[CONF_PATH_MAX + 96];
	char envtmp[CONF_PATH_MAX + 96];
	char *buf;
	size_t blen, bcap;
	int failed, saved_errno;
};

/* Open a message for sender ("" for <>) and n recipients.  A recipient
 * or sender with a control byte is refused here.  0 or -1 (err set);
 * queue_abort is safe after either. */
int queue_open(struct queue *q, const struct conf *c, const char *sender,
	       const char *const *rcpts, size_t n, char *err, size_t errlen);
/* Append message bytes (LF line ends).  0 or -1. */
int queue_write(struct queue *q, const char *p, size_t n);
/* Data fsynced and renamed into queue/, envelope written and fsynced in
 * tmp/.  Nothing is visible to the runner yet.  0 or -1 (err set). */
int queue_prepare(struct queue *q, char *err, size_t errlen);
/* Publish: the envelope is renamed into queue/ and the directory
 * fsynced (prepares first when that was not done).  0 or -1 (err set;
 * nothing published).  The id is in q->env.id. */
int queue_commit(struct queue *q, char *err, size_t errlen);
/* Remove whatever was written; safe twice and after commit (then it
 * only frees memory). */
void queue_abort(struct queue *q);

/* The runner's side. */
/* Read queue/<id>.env.  0, 1 when it does not exist (any more), -1 with
 * err for a broken one. */
int queue_load(const struct conf *c, const char *id, struct qenv *e,
	       char *err, size_t errlen);
/* Replace queue/<id>.env atomically (tmp, fsync, rename). */
int queue_save(const struct conf *c, const struct qenv *e, char *err, size_t errlen);
/* Remove a message: the envelope first, so a crash leaves an orphan data
 * file at worst.  0 or -1. */
int queue_remove(const struct conf *c, const char *id);
/* Move a message to badmail/ (envelope kept beside it for the admin). */
int queue_badmail(const struct conf *c, const char *id, char *err, size_t errlen);
/* Ids with an envelope in queue/, sorted (oldest id first). *ids is
 * malloc'd, each entry QUEUE_ID_MAX bytes.  Count, or -1. */
long queue_scan(const struct conf *c, char (**ids)[QUEUE_ID_MAX]);
/* Remove files in tmp/ and data files without envelope older than
 * grace_ms.  Returns how many went. */
unsigned queue_cleanup(const struct conf *c, long long now, long long grace_ms);

#endif
