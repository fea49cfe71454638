/* smtp-session: STARTTLS (RFC 3207) and implicit TLS under the session's buffers. */
#include "config.h"

#include <string.h>

#include "log.h"
#include "smtp.h"

int session_tls_begin(struct session *s)
{
	if (tlsm_start(s->tls, &s->in, &s->out, &s->tls_ops, s->ip,
		       (int)s->conf.idle_timeout * 1000, s->deadline) < 0)
		return -1;
	s->tls_on = 1;
	return 0;
}

int cmd_starttls(struct session *s, char *arg, size_t len)
{
	if (s->tls_on) {
		session_reply_error(s, "503 5.5.1 Error: TLS already active");
		return 0;
	}
	if (!s->tls || s->conf.tls != TLS_STARTTLS) {
		session_reply_error(s, "502 5.5.1 Error: command not implemented");
		return 0;
	}
	if (len) {
		session_reply_error(s, "501 5.5.4 Syntax: STARTTLS");
		return 0;
	}
	if (s->have_mail) {
		session_reply_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return 0;
	}
	/* OpenSSL comes in now, and the certificate and key are parsed
	 * (unless a listener did that): if either fails, say so before
	 * promising TLS */
	if (tlsm_ready(s->tls) < 0) {
		log_error("tls: %s", tlsm_error(s->tls));
		tlsm_close(s->tls);
		s->tls = NULL;
		session_reply_error(s, "454 4.7.0 TLS not available due to temporary reason");
		return 0;
	}
	session_reply(s, "220 2.0.0 Ready to start TLS");
	if (io_flush(&s->out) < 0) {
		session_end(s, "disconnect");
		return -1;
	}
	/* Whatever the client sent after STARTTLS in clear was written by
	 * someone who could not yet be sure who we are: it must never be
	 * read as if it came through TLS (CVE-2011-0411). */
	io_discard(&s->in);
	if (session_tls_begin(s) < 0) {
		session_end(s, "tls-failed");
		return -1;
	}
	/* RFC 3207 4.2: forget everything learnt in clear, EHLO again */
	session_reset_transaction(s);
	s->helo = HELO_NONE;
	s->helo_name[0] = '\0';
	return 0;
}
