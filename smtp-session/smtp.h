/* smtp-session: state shared by the command handlers. */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "conf.h"
#include "io.h"
#include "map.h"
#include "pamauth.h"
#include "rcpt.h"
#include "store.h"
#include "queue.h"
#include "access.h"
#include "data.h"
#include "tlsmod.h"

enum helo_kind { HELO_NONE, HELO_HELO, HELO_EHLO };

/* The message being received goes to the maildir store (delivery =
 * internal) or to a deliver process (delivery = deliver). */
struct sink {
	int open;
	int failed;           /* a write failed: commit must fail */
	int sopen, qopen;     /* internal: maildir store / outbound queue in use */
	struct store store;
	struct queue queue;
	pid_t pid;            /* deliver, 0 when none */
	int pipe;             /* deliver's stdin, -1 when internal */
	int chan;             /* deliver's commit channel (fd 3 there) */
};

struct session {
	struct conf conf;
	struct maps maps;
	struct io_in in;
	struct io_out out;

	char ip[64];                 /* peer address, "" when unknown */
	struct access acc;           /* what the relay map says about ip */
	char port[8];
	int64_t started;             /* io_now_ms() at start */
	int64_t deadline;            /* end of the whole session */

	enum helo_kind helo;
	char helo_name[256];

	/* current transaction */
	int have_mail;
	struct addr from;
	struct mail_params params;
	struct rcptset set;          /* mailboxes, deduplicated */
	struct rcptfwd fwd;          /* remote recipients, for the queue */
	unsigned nrcpt;              /* accepted RCPT commands */
	char first_rcpt[ADDR_PATH_MAX * 2 + 3];
	int bdat;                    /* a BDAT transfer is in progress */
	int64_t bdat_started;        /* io_now_ms() at its first chunk */
	unsigned long long bdat_bytes0; /* s->in.total then, for the rate */
	struct sink sink;
	struct dataparse dp;
	char msgid[32];

	/* TLS: tls is NULL when the instance has none (or its files failed) */
	struct tlsm *tls;
	int tls_on;
	struct io_ops tls_ops;

	/* AUTH */
	struct pammon pam;
	int authed;
	struct auth_user au;
	const char *auth_mech;
	unsigned auth_failures;

	/* counters */
	unsigned errors;
	unsigned long_lines;
	unsigned messages;           /* accepted */
	unsigned rejected;
	unsigned long long bytes;    /* accepted message bytes */
	int quit;
};

/* session.c */
void session_init(struct session *s);
int session_banner(struct session *s);
/* The banner, then commands until the session ends; output flushed. */
void session_run(struct session *s);
/* Process one command line; returns 0 to go on, -1 to end the session. */
int session_command(struct session *s, char *line, size_t len);
void session_reply(struct session *s, const char *text);
void session_end(struct session *s, const char *why);
void session_reply_error(struct session *s, const char *text);
/* Forget the transaction (RSET, EHLO, STARTTLS). */
void session_reset_transaction(struct session *s);

/* starttls.c */
/* Handshake on fds 0/1 and put TLS under the buffers.  -1: failed (the
 * reason is in tlsm_error(s->tls), logged by session_end). */
int session_tls_begin(struct session *s);
int cmd_starttls(struct session *s, char *arg, size_t len);

/* auth.c */
/* Is AUTH offered now: over TLS, or in clear when auth_plaintext = yes. */
int auth_offered(const struct session *s);
int cmd_auth(struct session *s, char *arg, size_t len);
/* May the authenticated user send as the MAIL FROM address?  1 yes,
 * 0 no, -1 temporary failure. */
int auth_sender_ok(struct session *s);

/* sink.c */
int sink_open(struct session *s, char *err, size_t errlen);
int sink_write(struct session *s, const char *p, size_t n);
int sink_commit(struct session *s, char *err, size_t errlen);
void sink_abort(struct session *s);

/* received.c */
/* Return-Path and Received lines for the message being received. */
void received_header(struct session *s, char *buf, size_t len, size_t *outlen);
void make_msgid(char *out, size_t len);

#endif
