/* Trace header: Received (RFC 5321 4.4). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "smtp.h"

/* A short id that is unique per host: seconds, microseconds and pid. */
void make_msgid(char *out, size_t len)
{
	static unsigned n;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(out, len, "%llX%05lX%lX%X", (unsigned long long)tv.tv_sec,
		 (unsigned long)tv.tv_usec, (unsigned long)getpid(), n++ & 0xf);
}

/* RFC 3848 / RFC 6531 protocol names: S for TLS, A for AUTH. */
static void protocol(const struct session *s, char *out, size_t len)
{
	const char *base = s->params.smtputf8 ? "UTF8SMTP"
			   : s->helo == HELO_EHLO ? "ESMTP" : "SMTP";

	/* plain SMTP (HELO) has no registered S/A variants */
	if (!strcmp(base, "SMTP"))
		snprintf(out, len, "%s", base);
	else
		snprintf(out, len, "%s%s%s", base, s->tls_on ? "S" : "", s->authed ? "A" : "");
}

void received_header(struct session *s, char *buf, size_t len, size_t *outlen)
{
	char date[64], from[400], proto[16], tls[200] = "";
	time_t now = time(NULL);
	struct tm tm;
	int n;

	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (s->ip[0])
		snprintf(from, sizeof from, "%s ([%s%s])", s->helo_name,
			 strchr(s->ip, ':') ? "IPv6:" : "", s->ip);
	else
		snprintf(from, sizeof from, "%s", s->helo_name);
	protocol(s, proto, sizeof proto);
	if (s->tls_on)
		snprintf(tls, sizeof tls, "\t(using %s with cipher %s (%d bits))\n",
			 tlsm_version(s->tls), tlsm_cipher(s->tls), tlsm_cipher_bits(s->tls));
	/* Return-Path is the mailboxes' business: sink.c writes it for the
	 * store, deliver for itself, and the queue never has one */
	n = snprintf(buf, len,
		     "Received: from %s\n"
		     "%s"
		     "\tby %s (postern) with %s id %s%s%s%s;\n"
		     "\t%s\n",
		     from, tls, s->conf.hostname, proto, s->msgid,
		     s->nrcpt == 1 ? "\n\tfor <" : "",
		     s->nrcpt == 1 ? s->first_rcpt : "",
		     s->nrcpt == 1 ? ">" : "", date);
	if (n < 0 || (size_t)n >= len)
		n = 0;
	*outlen = (size_t)n;
}
