/* The relay's SMTP client: connect, EHLO/HELO, STARTTLS, AUTH, pipelined transactions. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "relay-smtp.h"
#include "sasl.h"
#include "str.h"

#define IOBUF 16384

static void seterr(struct smtpc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_line(struct smtpc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int command(struct smtpc *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Read one complete reply into s->rep.  0, or -1 with s->err. */
static int get_reply(struct smtpc *s)
{
	char *line;
	size_t len;
	int crlf, rc;

	reply_init(&s->rep);
	for (;;) {
		rc = io_getline(&s->in, REPLY_LINE_MAX, &line, &len, &crlf);
		if (rc != IO_OK) {
			seterr(s, "%s: %s", s->peer,
				 rc == IO_EOF ? "connection closed" : rc == IO_TIMEOUT ? "timed out waiting for a reply" :
				 rc == IO_LONG ? "reply line too long" : "read error");
			return -1;
		}
		rc = reply_line(&s->rep, line, len);
		if (rc < 0) {
			seterr(s, "%s: malformed reply: %s", s->peer, s->rep.why);
			return -1;
		}
		if (rc == 1)
			return 0;
	}
}

static void oneline(struct smtpc *s, char *out, size_t len)
{
	reply_oneline(&s->rep, out, len);
}


/* Reasons are cut to fit the envelope's reply field, never overflowed. */
static void seterr(struct smtpc *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
}

static int vsend(struct smtpc *s, const char *fmt, va_list ap)
{
	char line[2048];
	int n = vsnprintf(line, sizeof line, fmt, ap);

	if (n < 0 || (size_t)n >= sizeof line || io_put(&s->out, line, (size_t)n) < 0) {
		seterr(s, "%s: write error", s->peer);
		return -1;
	}
	return 0;
}

static int send_line(struct smtpc *s, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsend(s, fmt, ap);
	va_end(ap);
	return rc;
}

/* A command and its reply, flushed now.  The reply code, or -1. */
static int command(struct smtpc *s, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsend(s, fmt, ap);
	va_end(ap);
	if (rc < 0 || io_flush(&s->out) < 0) {
		seterr(s, "%s: write error", s->peer);
		return -1;
	}
	return get_reply(s) < 0 ? -1 : s->rep.code;
}

static int fail_reply(struct smtpc *s, const char *what)
{
	char r[QUEUE_REPLY_MAX - 64];

	oneline(s, r, sizeof r);
	seterr(s, "%s: %s: %s", s->peer, what, r);
	return -1;
}

static int connect_to(struct smtpc *s, const struct sockaddr *sa, socklen_t salen, int64_t deadline)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), e;
	socklen_t el = sizeof e;

	if (fd < 0)
		return -1;
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS)
		goto fail;
	if (io_wait(fd, POLLOUT, s->idle_ms, deadline) != IO_OK) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
		goto fail;
	if (e) {
		errno = e;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void read_ehlo(struct smtpc *s)
{
	char p[64];

	s->ext = 0;
	s->maxsize = 0;
	if (reply_ehlo_has(&s->rep, "PIPELINING", NULL, 0))
		s->ext |= EXT_PIPELINING;
	if (reply_ehlo_has(&s->rep, "8BITMIME", NULL, 0))
		s->ext |= EXT_8BITMIME;
	if (reply_ehlo_has(&s->rep, "STARTTLS", NULL, 0))
		s->ext |= EXT_STARTTLS;
	if (reply_ehlo_has(&s->rep, "SIZE", p, sizeof p)) {
		s->ext |= EXT_SIZE;
		s->maxsize = strtoull(p, NULL, 10);
	}
	if (reply_ehlo_has(&s->rep, "AUTH", p, sizeof p)) {
		/* "AUTH PLAIN LOGIN": look for whole words */
		char *save = NULL;
		for (char *w = strtok_r(p, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			if (ascii_casecmp(w, "PLAIN") == 0)
				s->ext |= EXT_AUTH_PLAIN;
			else if (ascii_casecmp(w, "LOGIN") == 0)
				s->ext |= EXT_AUTH_LOGIN;
		}
	}
}

static int greet(struct smtpc *s, int helo)
{
	int c = (helo ? command(s, "HELO %s\r\n", s->myname) : command(s, "EHLO %s\r\n", s->myname));

	if (c < 0)
		return -1;
	if (c != 250)
		return fail_reply(s, helo ? "HELO refused" : "EHLO refused");
	if (!helo)
		read_ehlo(s);
	else
		s->ext = 0;
	return 0;
}

/* The password: the secret file's first line. */
static int read_secret(const char *path, char *out, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = read(fd, out, len - 1);
	close(fd);
	if (r < 0)
		return -1;
	out[r] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static int auth(struct smtpc *s, const struct route *r)
{
	char pw[512], raw[1024], b64[1500];
	size_t ul = strlen(r->auth_user), pl;
	int c;

	if (read_secret(r->auth_file, pw, sizeof pw) < 0) {
		seterr(s, "cannot read secret file %s: %s", r->auth_file, strerror(errno));
		return -1;
	}
	pl = strlen(pw);
	if (s->ext & EXT_AUTH_PLAIN) {
		if (ul + pl + 2 > sizeof raw)
			return -1;
		raw[0] = '\0';
		memcpy(raw + 1, r->auth_user, ul);
		raw[ul + 1] = '\0';
		memcpy(raw + ul + 2, pw, pl);
		b64_encode((unsigned char *)raw, ul + pl + 2, b64);
		c = command(s, "AUTH PLAIN %s\r\n", b64);
	} else if (s->ext & EXT_AUTH_LOGIN) {
		c = command(s, "AUTH LOGIN\r\n");
		if (c == 334) {
			b64_encode((const unsigned char *)r->auth_user, ul, b64);
			c = command(s, "%s\r\n", b64);
		}
		if (c == 334) {
			b64_encode((const unsigned char *)pw, pl, b64);
			c = command(s, "%s\r\n", b64);
		}
	} else {
		explicit_bzero(pw, sizeof pw);
		seterr(s, "%s: no AUTH PLAIN or LOGIN offered", s->peer);
		return -1;
	}
	explicit_bzero(pw, sizeof pw);
	explicit_bzero(raw, sizeof raw);
	explicit_bzero(b64, sizeof b64);
	if (c < 0)
		return -1;
	if (c != 235)
		return fail_reply(s, "authentication failed");
	return 0;
}

int smtpc_open(struct smtpc *s, const struct route *r, const char *hostname,
	       const struct sockaddr *sa, socklen_t salen, const char *myname,
	       const char *cafile, unsigned timeout_s)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port;
	int64_t deadline;

	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->myname = myname;
	s->idle_ms = (int)timeout_s * 1000;
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;
		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)sa;
		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
		port = ntohs(a->sin_port);
	}
	snprintf(s->peer, sizeof s->peer, "%s[%s]:%u", hostname, ip, port);
	deadline = io_now_ms() + (int64_t)timeout_s * 1000;
	s->fd = connect_to(s, sa, salen, deadline);
	if (s->fd < 0) {
		seterr(s, "connect to %s: %s", s->peer, strerror(errno));
		return -1;
	}
	io_in_init(&s->in, s->fd, IOBUF);
	io_out_init(&s->out, s->fd, IOBUF);
	s->in.idle_ms = s->out.idle_ms = s->idle_ms;
	/* flush pending commands exactly when a reply is awaited */
	s->in.flush = &s->out;
	if (get_reply(s) < 0)
		return -1;
	if (s->rep.code != 220)
		return fail_reply(s, "greeting");
	if (greet(s, r->helo) < 0)
		return -1;
	if (r->tls != TLSP_NONE && (s->ext & EXT_STARTTLS)) {
		int c = command(s, "STARTTLS\r\n");
		if (c < 0)
			return -1;
		if (c != 220) {
			if (r->tls >= TLSP_REQUIRE)
				return fail_reply(s, "STARTTLS refused");
		} else {
			/* nothing the server sent before the handshake counts */
			io_discard(&s->in);
			s->tls = tls_client(r->host[0] && !r->literal ? r->host : hostname, cafile,
					    r->tls == TLSP_VERIFY, TLS_MIN_12);
			if (tls_connect(s->tls, s->fd, s->fd, s->idle_ms,
					io_now_ms() + (int64_t)timeout_s * 1000) < 0) {
				seterr(s, "%s: TLS %s", s->peer, tls_error(s->tls));
				return -1;
			}
			tls_io_ops(s->tls, &s->ops);
			s->in.ops = s->out.ops = &s->ops;
			s->tls_on = 1;
			if (greet(s, r->helo) < 0)
				return -1;
		}
	} else if (r->tls >= TLSP_REQUIRE) {
		seterr(s, "%s: TLS required but STARTTLS not offered%s",
			 s->peer, r->helo ? " (route says helo=helo: no extensions)" : "");
		return -1;
	}
	if (r->auth_user[0]) {
		if (!s->tls_on) {
			seterr(s, "%s: no AUTH without TLS", s->peer);
			return -1;
		}
		if (auth(s, r) < 0)
			return -1;
	}
	return 0;
}

/* Copy the data file as DATA: CRLF line ends, dot-stuffing, the final
 * dot.  A CR in the file (never part of a line end there) is dropped:
 * a bare CR must not reach the next server.  0 or -1. */
static int send_body(struct smtpc *s, int fd)
{
	char buf[16384], out[16384 * 2 + 8];
	int bol = 1;
	ssize_t r;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	for (;;) {
		size_t o = 0;

		r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			char c = buf[i];
			if (c == '\r')
				continue;
			if (bol && c == '.')
				out[o++] = '.';
			if (c == '\n') {
				out[o++] = '\r';
				bol = 1;
			} else {
				bol = 0;
			}
			out[o++] = c;
		}
		if (io_put(&s->out, out, o) < 0)
			return -1;
	}
	if (!bol && io_put(&s->out, "\r\n", 2) < 0)
		return -1;
	return io_put(&s->out, ".\r\n", 3);
}

static void set_all(struct txn *t, const int *accepted, int cls, const char *reply)
{
	for (size_t i = 0; i < t->n; i++) {
		if (accepted && !accepted[i])
			continue;
		t->cls[i] = cls;
		snprintf(t->reply[i], sizeof t->reply[i], "%s", reply);
	}
}

int smtpc_send(struct smtpc *s, struct txn *t)
{
	char line[QUEUE_REPLY_MAX], sz[64] = "";
	int pipe = (s->ext & EXT_PIPELINING) != 0, c;
	size_t ok = 0;
	int *acc = xcalloc(t->n ? t->n : 1, sizeof *acc);

	set_all(t, NULL, 4, "no reply");
	if ((s->ext & EXT_SIZE) && s->maxsize && t->size > s->maxsize) {
		snprintf(line, sizeof line, "552 5.3.4 message of %llu bytes exceeds the %llu the server takes (%s)",
			 t->size, s->maxsize, s->peer);
		set_all(t, NULL, 5, line);
		free(acc);
		return 0;
	}
	if (s->ext & EXT_SIZE)
		snprintf(sz, sizeof sz, " SIZE=%llu", t->size);
	if (t->eightbit && (s->ext & EXT_8BITMIME))
		/* " SIZE=" + 20 digits + 14 bytes fit in sz[64] */
		strcat(sz, " BODY=8BITMIME");   /* NOLINT(clang-analyzer-security.insecureAPI.strcpy): bounded, see above */
	if (send_line(s, "MAIL FROM:<%s>%s\r\n", t->sender, sz) < 0)
		goto broken;
	if (!pipe) {
		if (get_reply(s) < 0)
			goto broken;
		if (s->rep.code / 100 != 2)
			goto mail_refused;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (send_line(s, "RCPT TO:<%s>\r\n", t->rcpts[i]) < 0)
			goto broken;
		if (!pipe) {
			if (get_reply(s) < 0)
				goto broken;
			oneline(s, t->reply[i], sizeof t->reply[i]);
			t->cls[i] = s->rep.code / 100;
			acc[i] = t->cls[i] == 2;
			ok += acc[i];
		}
	}
	if (pipe) {
		/* RFC 2920: DATA goes in the same group; its reply tells us
		 * whether the server took it, whatever the RCPTs said */
		if (send_line(s, "DATA\r\n") < 0 || get_reply(s) < 0)
			goto broken;
		if (s->rep.code / 100 != 2) {
			/* the remaining replies still come; read them all */
			int mc = s->rep.code;
			char mr[QUEUE_REPLY_MAX];
			oneline(s, mr, sizeof mr);
			for (size_t i = 0; i < t->n; i++)
				if (get_reply(s) < 0)
					goto broken;
			if (get_reply(s) < 0)
				goto broken;
			if (s->rep.code == 354) {
				/* a server that wants data after refusing MAIL: end it */
				if (io_puts(&s->out, ".\r\n") < 0 || get_reply(s) < 0)
					goto broken;
			}
			set_all(t, NULL, mc / 100 == 5 ? 5 : 4, mr);
			goto rset;
		}
		for (size_t i = 0; i < t->n; i++) {
			if (get_reply(s) < 0)
				goto broken;
			oneline(s, t->reply[i], sizeof t->reply[i]);
			t->cls[i] = s->rep.code / 100 == 2 ? 2 : s->rep.code / 100 == 5 ? 5 : 4;
			acc[i] = t->cls[i] == 2;
			ok += acc[i];
		}
		if (get_reply(s) < 0)
			goto broken;
		c = s->rep.code;
		if (c == 354 && ok == 0) {
			/* nobody to send to, yet the server wants data: send none */
			if (io_puts(&s->out, ".\r\n") < 0 || get_reply(s) < 0)
				goto broken;
			goto rset;
		}
	} else {
		if (ok == 0)
			goto rset;
		c = command(s, "DATA\r\n");
		if (c < 0)
			goto broken;
	}
	if (ok == 0)
		goto rset;
	if (c != 354) {
		oneline(s, line, sizeof line);
		set_all(t, acc, c / 100 == 5 ? 5 : 4, line);
		goto rset;
	}
	/* from here on a lost connection leaves the outcome unknown: the
	 * recipients stay deferred and may get the message twice */
	if (send_body(s, t->datafd) < 0 || io_flush(&s->out) < 0 || get_reply(s) < 0) {
		if (!s->err[0])
			seterr(s, "%s: lost while sending the message", s->peer);
		goto broken;
	}
	oneline(s, line, sizeof line);
	c = s->rep.code / 100;
	set_all(t, acc, c == 2 ? 2 : c == 5 ? 5 : 4, line);
	free(acc);
	return 0;
mail_refused:
	oneline(s, line, sizeof line);
	set_all(t, NULL, s->rep.code / 100 == 5 ? 5 : 4, line);
rset:
	free(acc);
	if (command(s, "RSET\r\n") != 250)
		return -1;
	return 0;
broken:
	for (size_t i = 0; i < t->n; i++)
		if (t->cls[i] == 2 || !strcmp(t->reply[i], "no reply")) {
			t->cls[i] = 4;
			snprintf(t->reply[i], sizeof t->reply[i], "%s", s->err[0] ? s->err : "connection lost");
		}
	free(acc);
	return -1;
}

void smtpc_close(struct smtpc *s)
{
	if (s->fd >= 0 && !s->out.err) {
		if (io_puts(&s->out, "QUIT\r\n") == 0 && io_flush(&s->out) == 0) {
			s->in.idle_ms = 2000;
			get_reply(s);
		}
	}
	tls_close(s->tls);
	s->tls = NULL;
	if (s->fd >= 0) {
		io_in_free(&s->in);
		io_out_free(&s->out);
		close(s->fd);
	}
	s->fd = -1;
}
