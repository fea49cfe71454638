/* pop3-session: STLS (RFC 2595), implicit TLS and AUTH PLAIN (RFC 5034). */
#include "config.h"

#include <string.h>

#include "log.h"
#include "pop3.h"
#include "sasl.h"
#include "str.h"

#define RESP_CAP (SASL_B64_MAX + 16)

int session_tls_begin(struct session *s)
{
	if (tlsm_start(s->tls, &s->in, &s->out, &s->tls_ops, s->ip,
		       (int)s->conf.idle_timeout * 1000, s->deadline) < 0)
		return -1;
	s->tls_on = 1;
	return 0;
}

int cmd_stls(struct session *s, char *arg, size_t len)
{
	if (s->tls_on) {
		session_reply_error(s, "-ERR TLS already active");
		return 0;
	}
	if (!s->tls || s->conf.tls != TLS_STARTTLS) {
		session_reply_error(s, "-ERR unknown command");
		return 0;
	}
	if (len) {
		session_reply_error(s, "-ERR syntax: STLS");
		return 0;
	}
	/* OpenSSL comes in now, and the certificate and key are parsed
	 * (unless a listener did that): if either fails, say so before
	 * promising TLS */
	if (tlsm_ready(s->tls) < 0) {
		log_error("tls: %s", tlsm_error(s->tls));
		tlsm_close(s->tls);
		s->tls = NULL;
		session_reply_error(s, "-ERR [SYS/TEMP] TLS not available");
		return 0;
	}
	session_reply(s, "+OK Begin TLS negotiation");
	if (io_flush(&s->out) < 0) {
		session_end(s, "disconnect");
		return -1;
	}
	/* plaintext pipelined after STLS must not be read as if it came
	 * through TLS (CVE-2021-38084) */
	io_discard(&s->in);
	if (session_tls_begin(s) < 0) {
		session_end(s, "tls-failed");
		return -1;
	}
	s->have_user = 0;
	return 0;
}

/* "=" is the empty response (RFC 5034 4). */
static int decode(const char *p, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	if (n == 1 && p[0] == '=') {
		*outlen = 0;
		return 0;
	}
	return b64_decode(p, n, out, cap, outlen);
}

int cmd_auth(struct session *s, char *arg, size_t len)
{
	unsigned char m[SASL_PLAIN_MAX + 1];
	struct sasl_plain p;
	const char *why, *ir = NULL;
	size_t n, w = 0, irlen = 0;
	int r;

	if (!len) {
		/* the mechanism list some clients ask for (RFC 1734 style) */
		if (session_auth_allowed(s))
			session_reply(s, "+OK\r\nPLAIN\r\n.");
		else
			session_reply(s, "+OK\r\n.");
		return 0;
	}
	if (!session_auth_allowed(s)) {
		session_reply(s, "-ERR [SYS/PERM] plaintext authentication disabled");
		return 0;
	}
	while (w < len && arg[w] != ' ')
		w++;
	if (w != 5 || ascii_ncasecmp(arg, "PLAIN", 5)) {
		session_reply_error(s, "-ERR unsupported authentication mechanism");
		return 0;
	}
	if (w < len) {
		ir = arg + w + 1;
		irlen = len - w - 1;
	}
	if (!ir) {
		char *line;
		int crlf;

		session_reply(s, "+ ");
		r = io_getline(&s->in, RESP_CAP, &line, &irlen, &crlf);
		if (r == IO_LONG) {
			session_reply_error(s, "-ERR authentication line too long");
			return 0;
		}
		if (r != IO_OK) {
			session_end(s, r == IO_TIMEOUT ? "timeout" : r == IO_EOF ? "eof" : "io-error");
			return -1;
		}
		if (irlen == 1 && line[0] == '*') {
			session_reply_error(s, "-ERR authentication cancelled");
			return 0;
		}
		ir = line;
	}
	r = decode(ir, irlen, m, sizeof m, &n);
	explicit_bzero((char *)ir, irlen);
	if (r < 0) {
		session_reply_error(s, "-ERR cannot decode the response (base64)");
		return 0;
	}
	r = sasl_plain_parse(m, n, &p, &why);
	explicit_bzero(m, sizeof m);
	if (r < 0) {
		session_reply_error(s, "-ERR malformed PLAIN message");
		return 0;
	}
	r = session_login(s, p.authcid, p.passwd);
	explicit_bzero(&p, sizeof p);
	return r;
}
