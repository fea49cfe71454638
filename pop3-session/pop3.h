/* pop3-session: state shared by the command handlers. */
#ifndef POSTERN_POP3_H
#define POSTERN_POP3_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "conf.h"
#include "io.h"
#include "maildir.h"
#include "map.h"
#include "pamauth.h"
#include "tlsmod.h"

/* RFC 1939 3: AUTHORIZATION, then TRANSACTION; UPDATE is what QUIT
 * does in TRANSACTION. */
enum pop3_state { ST_AUTH, ST_TRANS };

struct session {
	struct conf conf;
	struct maps maps;
	struct io_in in;
	struct io_out out;

	char ip[64];                 /* peer address, "" when unknown */
	char port[8];
	int64_t started;             /* io_now_ms() at start */
	int64_t deadline;            /* end of the whole session */

	enum pop3_state state;
	char user[AUTH_ADDR_MAX];    /* name given with USER */
	int have_user;
	struct auth_user au;         /* who logged in */
	struct maildir md;           /* the snapshot taken at login */
	unsigned char *deleted;      /* one flag per message */
	size_t ndeleted;
	unsigned long long deleted_size;

	/* TLS (tls NULL: none configured, or its files failed) and PAM */
	struct tlsm *tls;
	int tls_on;
	struct io_ops tls_ops;
	struct pammon pam;

	/* counters */
	unsigned errors;
	unsigned long_lines;
	unsigned auth_failures;
	unsigned retrieved;          /* RETR commands answered +OK */
	unsigned removed;            /* messages deleted at QUIT */
	unsigned long long bytes;    /* message octets sent by RETR and TOP */
	int quit;
};

/* session.c */
void session_init(struct session *s);
void session_banner(struct session *s);
/* The banner, then commands until the session ends; output flushed. */
void session_run(struct session *s);
/* Process one command line; 0 to go on, -1 to end the session. */
int session_command(struct session *s, char *line, size_t len);
void session_reply(struct session *s, const char *text);
void session_end(struct session *s, const char *why);
/* The message number argument: index (from 0) of a message that exists
 * and is not deleted, or -1 after replying -ERR. */
long session_msgno(struct session *s, const char *arg);

void session_reply_error(struct session *s, const char *text);
/* Check user and password, pay the failure delay, open the mailbox.
 * 0 to go on, -1 when the session must end (replied). */
int session_login(struct session *s, const char *user, const char *pass);
/* Are passwords accepted now: over TLS, or auth_plaintext = yes. */
int session_auth_allowed(const struct session *s);

/* auth.c */
int session_tls_begin(struct session *s);
int cmd_stls(struct session *s, char *arg, size_t len);
int cmd_auth(struct session *s, char *arg, size_t len);

/* retr.c */
/* RETR and TOP: "+OK", the message converted for the wire, ".".  body
 * lines < 0 means the whole message.  -1 when the session must end (the
 * connection failed, or a read error after "+OK" left it out of step). */
int retr_send(struct session *s, size_t i, long long body_lines);

#endif
