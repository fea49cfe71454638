/* What smtp-session and pop3-session do before a session starts.
 *
 * Options (-C DIR, -h), listener mode (listen.h), postern.conf, the
 * per-address refusal of a listener child, and, as root, everything that
 * needs root before a byte of network input: the PAM monitor forks, the
 * TLS key is read; then privileges are dropped. */
#ifndef POSTERN_STARTUP_H
#define POSTERN_STARTUP_H

#include "conf.h"
#include "pamauth.h"
#include "tlsmod.h"

struct startup {
	const char *prog;               /* name in logs */
	const char *usage;              /* --help text */
	const char *conf_error;         /* reply line (CRLF included) when unusable */
	/* print the reply to a client over max_sessions_per_ip */
	void (*refuse_busy)(const struct conf *c);
};

/* 0: go on with c loaded, the PAM monitor started, *tls the server's
 * TLS state (NULL without TLS, or with a broken STARTTLS setup: then
 * STARTTLS/STLS is not offered) and privileges dropped.  -1: exit now
 * with *status (after help, usage, a refusal or an error that has been
 * logged and answered). */
int startup(int argc, char **argv, const struct startup *sp, struct conf *c,
	    struct pammon *pam, struct tlsm **tls, int *status);

/* The end of a session that has closed what it opened: standard I/O
 * flushed, a listener told the session is over (listen.h), then
 * _exit(status).  exit() would also run the destructors of every loaded
 * library (ld.so, libc, the TLS module): in a listener's child that only
 * faults in pages about to be thrown away. */
_Noreturn void session_exit(int status);

#endif
