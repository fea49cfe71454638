/* smtp-session: AUTH PLAIN and LOGIN (RFC 4954) and the sender rule for authenticated users. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sasl.h"
#include "smtp.h"
#include "str.h"

/* The response line may carry a whole PLAIN message in base64 */
#define RESP_CAP (SASL_B64_MAX + 16)

enum { R_OK = 0, R_CANCEL = 1, R_BAD = 2, R_END = -1 };

int auth_offered(const struct session *s)
{
	return s->tls_on || s->conf.auth_plaintext;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Decode base64 text into out; "=" alone is the empty string (RFC 4954 4). */
static int decode(const char *p, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	if (n == 1 && p[0] == '=') {
		*outlen = 0;
		return 0;
	}
	return b64_decode(p, n, out, cap, outlen);
}

/* Send "334 challenge", read the client's line and decode it. */
static int exchange(struct session *s, const char *challenge, unsigned char *out,
		    size_t cap, size_t *outlen)
{
	char *line;
	size_t len;
	int crlf, r;

	io_printf(&s->out, "334 %s\r\n", challenge);
	r = io_getline(&s->in, RESP_CAP, &line, &len, &crlf);
	if (r == IO_LONG) {
		session_reply_error(s, "500 5.5.6 Authentication exchange line is too long");
		return R_BAD;
	}
	if (r != IO_OK) {
		if (r == IO_TIMEOUT)
			session_reply(s, "421 4.4.2 Timeout, closing connection");
		session_end(s, r == IO_TIMEOUT ? "timeout" : r == IO_EOF ? "eof" : "io-error");
		return R_END;
	}
	if (len == 1 && line[0] == '*') {
		session_reply_error(s, "501 5.7.0 Authentication cancelled");
		return R_CANCEL;
	}
	r = decode(line, len, out, cap, outlen);
	explicit_bzero(line, len);
	if (r < 0) {
		session_reply_error(s, "501 5.5.2 Cannot decode the response (base64)");
		return R_BAD;
	}
	return R_OK;
}

static void log_auth(struct session *s, const char *event, const char *user, const char *why)
{
	struct logline l;

	log_begin(&l, event);
	log_s(&l, "ip", s->ip);
	log_s(&l, "mech", s->auth_mech);
	log_s(&l, "user", user);
	if (why)
		log_s(&l, "why", why);
	if (!strcmp(event, "auth-fail"))
		log_u(&l, "failures", s->auth_failures);
	log_end(&l);
}

/* The verdict on a user name and password, and its reply. */
static int verdict(struct session *s, const char *user, const char *pass)
{
	char why[160];
	enum auth_result r;

	r = login_check(&s->maps, &s->conf, &s->pam, user, pass, &s->au, why, sizeof why);
	if (r == AUTH_OK) {
		s->authed = 1;
		log_auth(s, "auth", s->au.addr, NULL);
		session_reply(s, "235 2.7.0 Authentication successful");
		return 0;
	}
	if (r == AUTH_TEMP) {
		log_auth(s, "auth-temp", user, why);
		session_reply(s, "454 4.7.0 Temporary authentication failure, try again later");
		return 0;
	}
	s->auth_failures++;
	log_auth(s, "auth-fail", user, why);
	/* the same delay and words whether the user exists or not */
	io_flush(&s->out);
	sleep_ms(s->conf.auth_fail_delay);
	if (s->auth_failures >= s->conf.max_auth_failures) {
		session_reply(s, "421 4.7.0 Too many authentication failures, closing connection");
		session_end(s, "auth-failures");
		return -1;
	}
	session_reply(s, "535 5.7.8 Authentication credentials invalid");
	return 0;
}

static int mech_plain(struct session *s, const char *ir, size_t irlen, int has_ir)
{
	unsigned char m[SASL_PLAIN_MAX + 1];
	struct sasl_plain p;
	const char *why;
	size_t n;
	int r;

	if (has_ir) {
		if (decode(ir, irlen, m, sizeof m, &n) < 0) {
			session_reply_error(s, "501 5.5.2 Cannot decode the response (base64)");
			return 0;
		}
	} else if ((r = exchange(s, "", m, sizeof m, &n)) != R_OK) {
		return r == R_END ? -1 : 0;
	}
	r = sasl_plain_parse(m, n, &p, &why);
	explicit_bzero(m, sizeof m);
	if (r < 0) {
		log_auth(s, "auth-bad", "", why);
		session_reply_error(s, "501 5.5.2 Malformed PLAIN message");
		return 0;
	}
	r = verdict(s, p.authcid, p.passwd);
	explicit_bzero(&p, sizeof p);
	return r;
}

static int mech_login(struct session *s, const char *ir, size_t irlen, int has_ir)
{
	unsigned char m[SASL_FIELD_MAX + 1];
	char user[SASL_FIELD_MAX + 1], pass[SASL_FIELD_MAX + 1];
	size_t n;
	int r;

	/* "Username:" and "Password:" in base64, as every client expects */
	if (has_ir) {
		if (decode(ir, irlen, m, sizeof m, &n) < 0) {
			session_reply_error(s, "501 5.5.2 Cannot decode the response (base64)");
			return 0;
		}
	} else if ((r = exchange(s, "VXNlcm5hbWU6", m, sizeof m, &n)) != R_OK) {
		return r == R_END ? -1 : 0;
	}
	if (sasl_field(m, n, user, 1) < 0) {
		session_reply_error(s, "501 5.5.2 Malformed user name");
		return 0;
	}
	if ((r = exchange(s, "UGFzc3dvcmQ6", m, sizeof m, &n)) != R_OK)
		return r == R_END ? -1 : 0;
	r = sasl_field(m, n, pass, 0);
	explicit_bzero(m, sizeof m);
	if (r < 0) {
		session_reply_error(s, "501 5.5.2 Malformed password");
		return 0;
	}
	r = verdict(s, user, pass);
	explicit_bzero(pass, sizeof pass);
	return r;
}

int cmd_auth(struct session *s, char *arg, size_t len)
{
	size_t w = 0;
	const char *ir;
	size_t irlen = 0;
	int has_ir = 0, r;

	if (!auth_offered(s)) {
		if (s->tls && s->conf.tls == TLS_STARTTLS)
			session_reply_error(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		else
			session_reply_error(s, "502 5.5.1 Error: command not implemented");
		return 0;
	}
	if (s->helo != HELO_EHLO) {
		session_reply_error(s, "503 5.5.1 Error: send EHLO first");
		return 0;
	}
	if (s->authed) {
		session_reply_error(s, "503 5.5.1 Error: already authenticated");
		return 0;
	}
	if (s->have_mail) {
		session_reply_error(s, "503 5.5.1 Error: MAIL transaction in progress");
		return 0;
	}
	while (w < len && arg[w] != ' ')
		w++;
	ir = arg + w;
	if (w < len) {
		ir++;
		irlen = len - w - 1;
		has_ir = 1;
	}
	if (!w || (has_ir && (!irlen || memchr(ir, ' ', irlen)))) {
		session_reply_error(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		return 0;
	}
	if (w == 5 && !ascii_ncasecmp(arg, "PLAIN", 5)) {
		s->auth_mech = "PLAIN";
		r = mech_plain(s, ir, irlen, has_ir);
	} else if (w == 5 && !ascii_ncasecmp(arg, "LOGIN", 5)) {
		s->auth_mech = "LOGIN";
		r = mech_login(s, ir, irlen, has_ir);
	} else {
		session_reply_error(s, "504 5.5.4 Unrecognized authentication type");
		return 0;
	}
	if (has_ir)
		explicit_bzero((char *)ir, irlen);
	return r;
}

int auth_sender_ok(struct session *s)
{
	char local[ADDR_LOCAL_MAX * 2 + 3], primary[256], own[AUTH_ADDR_MAX + 8];
	struct rcptset set;
	char why[128];
	enum rcpt_result r;
	int d, ok = 0;

	if (s->from.null || s->from.utf8 || !s->from.domain[0])
		return 0;
	snprintf(local, sizeof local, "%s", s->from.local);
	ascii_lowercase(local, strlen(local));
	d = rcpt_domain(&s->maps, s->from.domain, primary, sizeof primary);
	if (d <= 0)
		return d;
	snprintf(own, sizeof own, "%s@%s", local, primary);
	if (!strcmp(own, s->au.addr))
		return 1;
	/* an alias (or sub-address) that reaches the user's own mailbox */
	rcptset_init(&set);
	r = rcpt_resolve(&s->maps, &s->conf, s->from.local, s->from.domain, &set, why, sizeof why);
	if (r == RCPT_TEMP)
		ok = -1;
	else if (r == RCPT_OK)
		for (size_t i = 0; i < set.n; i++)
			if (!strcmp(set.v[i].addr, s->au.addr))
				ok = 1;
	rcptset_free(&set);
	return ok;
}
