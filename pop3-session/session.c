/* pop3-session: the command table and its handlers (RFC 1939, 2449, 3206). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pop3.h"
#include "str.h"

/* Which states a command belongs to (RFC 1939 4-6); CAPA and QUIT work
 * in both (RFC 2449 5). */
enum {
	C_AUTH = 1,
	C_TRANS = 2,
};

struct cmd {
	const char *name;
	int (*fn)(struct session *s, char *arg, size_t len);
	unsigned flags;
};

void session_reply(struct session *s, const char *text)
{
	io_puts(&s->out, text);
	io_put(&s->out, "\r\n", 2);
}

static void reply_error(struct session *s, const char *text)
{
	session_reply(s, text);
	s->errors++;
}

void session_reply_error(struct session *s, const char *text)
{
	reply_error(s, text);
}

int session_auth_allowed(const struct session *s)
{
	return s->tls_on || s->conf.auth_plaintext;
}

void session_init(struct session *s)
{
	maildir_init(&s->md);
	s->state = ST_AUTH;
}

void session_banner(struct session *s)
{
	io_printf(&s->out, "+OK %s POP3 server ready\r\n",
		  s->conf.banner[0] ? s->conf.banner : "postern");
}

/* Split arg into at most max words separated by spaces.  The count, or
 * -1 when there are more. */
static int split_args(char *arg, char **argv, int max)
{
	int n = 0;
	char *p = arg;

	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -1;
		argv[n++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

/* A decimal number of at most 18 digits (so it fits any count we keep). */
static int parse_number(const char *a, unsigned long long *v)
{
	unsigned long long n = 0;
	size_t i;

	for (i = 0; a[i]; i++) {
		if (a[i] < '0' || a[i] > '9' || i >= 18)
			return -1;
		n = n * 10 + (unsigned)(a[i] - '0');
	}
	if (!i)
		return -1;
	*v = n;
	return 0;
}

long session_msgno(struct session *s, const char *arg)
{
	unsigned long long n;
	char reply[96];

	if (parse_number(arg, &n) < 0) {
		reply_error(s, "-ERR invalid message number");
		return -1;
	}
	if (n == 0 || n > s->md.n) {
		session_reply(s, "-ERR no such message");
		return -1;
	}
	if (s->deleted[n - 1]) {
		snprintf(reply, sizeof reply, "-ERR message %llu already deleted", n);
		session_reply(s, reply);
		return -1;
	}
	return (long)(n - 1);
}

static int cmd_capa(struct session *s, char *arg, size_t len)
{
	session_reply(s, "+OK Capability list follows");
	session_reply(s, "TOP");
	session_reply(s, "UIDL");
	/* RFC 2595 4: STLS until TLS is on; passwords only where they
	 * would not cross the network in clear */
	if (s->state == ST_AUTH && s->tls && s->conf.tls == TLS_STARTTLS && !s->tls_on)
		session_reply(s, "STLS");
	if (s->state == ST_AUTH && session_auth_allowed(s)) {
		session_reply(s, "USER");
		session_reply(s, "SASL PLAIN");
	}
	session_reply(s, "RESP-CODES");
	session_reply(s, "AUTH-RESP-CODE");
	session_reply(s, "PIPELINING");
	session_reply(s, "EXPIRE NEVER");
	session_reply(s, "LOGIN-DELAY 0");
	session_reply(s, "IMPLEMENTATION postern");
	session_reply(s, ".");
	return 0;
}

static int cmd_user(struct session *s, char *arg, size_t len)
{
	if (!session_auth_allowed(s)) {
		/* without TLS a password would cross the network in clear */
		session_reply(s, "-ERR [SYS/PERM] plaintext authentication disabled");
		return 0;
	}
	if (len == 0 || len >= sizeof s->user || memchr(arg, ' ', len)) {
		s->have_user = 0;
		reply_error(s, "-ERR syntax: USER name");
		return 0;
	}
	memcpy(s->user, arg, len + 1);
	s->have_user = 1;
	session_reply(s, "+OK send PASS");
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void log_auth(struct session *s, const char *event, const char *why)
{
	struct logline l;

	log_begin(&l, event);
	log_s(&l, "user", s->user);
	log_s(&l, "ip", s->ip);
	log_s(&l, "why", why);
	if (!strcmp(event, "auth-fail"))
		log_u(&l, "failures", s->auth_failures);
	log_end(&l);
}

/* Login succeeded: lock and snapshot the mailbox.  0 or -1 (replied). */
static int open_mailbox(struct session *s)
{
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	int r = maildir_lock(&s->md, s->au.mailbox, err, sizeof err);

	if (r == 1) {
		log_auth(s, "in-use", "mailbox locked by another session");
		maildir_free(&s->md);
		session_reply(s, "-ERR [IN-USE] mailbox locked by another session");
		return -1;
	}
	if (r < 0 || maildir_scan(&s->md, err, sizeof err) < 0) {
		log_error("user %s: %s", s->au.addr, err);
		maildir_free(&s->md);
		session_reply(s, "-ERR [SYS/TEMP] cannot open mailbox, try again later");
		return -1;
	}
	s->deleted = xcalloc(s->md.n ? s->md.n : 1, 1);
	return 0;
}

static int cmd_pass(struct session *s, char *arg, size_t len)
{
	int r;

	if (!session_auth_allowed(s)) {
		session_reply(s, "-ERR [SYS/PERM] plaintext authentication disabled");
		return 0;
	}
	if (!s->have_user) {
		reply_error(s, "-ERR send USER first");
		return 0;
	}
	s->have_user = 0;
	r = session_login(s, s->user, arg);
	explicit_bzero(arg, len);
	return r;
}

int session_login(struct session *s, const char *user, const char *pass)
{
	char why[160];
	struct logline l;
	enum auth_result r;

	if (user != s->user)
		snprintf(s->user, sizeof s->user, "%s", user);
	r = login_check(&s->maps, &s->conf, &s->pam, user, pass, &s->au, why, sizeof why);
	switch (r) {
	case AUTH_OK:
		break;
	case AUTH_TEMP:
		log_auth(s, "auth-temp", why);
		session_reply(s, "-ERR [SYS/TEMP] authentication unavailable, try again later");
		return 0;
	case AUTH_FAIL:
	default:
		s->auth_failures++;
		log_auth(s, "auth-fail", why);
		/* the delay is paid before any reply, whichever way it failed */
		io_flush(&s->out);
		sleep_ms(s->conf.auth_fail_delay);
		if (s->auth_failures >= s->conf.max_auth_failures) {
			session_reply(s, "-ERR [AUTH] too many authentication failures, closing connection");
			session_end(s, "auth-failures");
			return -1;
		}
		session_reply(s, "-ERR [AUTH] invalid user name or password");
		return 0;
	}
	if (open_mailbox(s) < 0)
		return 0;
	s->state = ST_TRANS;
	io_printf(&s->out, "+OK %zu messages (%llu octets)\r\n", s->md.n, s->md.total);
	log_begin(&l, "login");
	log_s(&l, "user", s->au.addr);
	log_s(&l, "ip", s->ip);
	log_u(&l, "messages", s->md.n);
	log_u(&l, "octets", s->md.total);
	log_u(&l, "moved", s->md.moved);
	log_end(&l);
	return 0;
}

static int cmd_stat(struct session *s, char *arg, size_t len)
{
	if (len) {
		reply_error(s, "-ERR syntax: STAT");
		return 0;
	}
	io_printf(&s->out, "+OK %zu %llu\r\n", s->md.n - s->ndeleted,
		  s->md.total - s->deleted_size);
	return 0;
}

/* LIST and UIDL: one message, or every message not deleted. */
static int listing(struct session *s, char *arg, int uidl)
{
	char *argv[1], u[MD_UIDL_MAX + 1];
	int argc = split_args(arg, argv, 1);
	long i;

	if (argc < 0) {
		reply_error(s, uidl ? "-ERR syntax: UIDL [msg]" : "-ERR syntax: LIST [msg]");
		return 0;
	}
	if (argc == 1) {
		if ((i = session_msgno(s, argv[0])) < 0)
			return 0;
		if (uidl) {
			const char *name = maildir_name(&s->md, (size_t)i);
			md_uidl(name, strlen(name), u);
			io_printf(&s->out, "+OK %ld %s\r\n", i + 1, u);
		} else {
			io_printf(&s->out, "+OK %ld %llu\r\n", i + 1, s->md.v[i].size);
		}
		return 0;
	}
	if (uidl)
		session_reply(s, "+OK unique-id listing follows");
	else
		io_printf(&s->out, "+OK %zu messages (%llu octets)\r\n",
			  s->md.n - s->ndeleted, s->md.total - s->deleted_size);
	for (size_t k = 0; k < s->md.n; k++) {
		if (s->deleted[k])
			continue;
		if (uidl) {
			const char *name = maildir_name(&s->md, k);
			md_uidl(name, strlen(name), u);
			io_printf(&s->out, "%zu %s\r\n", k + 1, u);
		} else {
			io_printf(&s->out, "%zu %llu\r\n", k + 1, s->md.v[k].size);
		}
	}
	session_reply(s, ".");
	return 0;
}

static int cmd_list(struct session *s, char *arg, size_t len)
{
	return listing(s, arg, 0);
}

static int cmd_uidl(struct session *s, char *arg, size_t len)
{
	return listing(s, arg, 1);
}

static int cmd_retr(struct session *s, char *arg, size_t len)
{
	char *argv[1];
	long i;

	if (split_args(arg, argv, 1) != 1) {
		reply_error(s, "-ERR syntax: RETR msg");
		return 0;
	}
	if ((i = session_msgno(s, argv[0])) < 0)
		return 0;
	return retr_send(s, (size_t)i, -1);
}

static int cmd_top(struct session *s, char *arg, size_t len)
{
	char *argv[2];
	unsigned long long k;
	long i;

	if (split_args(arg, argv, 2) != 2) {
		reply_error(s, "-ERR syntax: TOP msg lines");
		return 0;
	}
	if (parse_number(argv[1], &k) < 0) {
		reply_error(s, "-ERR invalid number of lines");
		return 0;
	}
	if ((i = session_msgno(s, argv[0])) < 0)
		return 0;
	return retr_send(s, (size_t)i, (long long)k);
}

static int cmd_dele(struct session *s, char *arg, size_t len)
{
	char *argv[1], reply[64];
	long i;

	if (split_args(arg, argv, 1) != 1) {
		reply_error(s, "-ERR syntax: DELE msg");
		return 0;
	}
	if ((i = session_msgno(s, argv[0])) < 0)
		return 0;
	s->deleted[i] = 1;
	s->ndeleted++;
	s->deleted_size += s->md.v[i].size;
	snprintf(reply, sizeof reply, "+OK message %ld deleted", i + 1);
	session_reply(s, reply);
	return 0;
}

static int cmd_rset(struct session *s, char *arg, size_t len)
{
	if (len) {
		reply_error(s, "-ERR syntax: RSET");
		return 0;
	}
	memset(s->deleted, 0, s->md.n ? s->md.n : 1);
	s->ndeleted = 0;
	s->deleted_size = 0;
	io_printf(&s->out, "+OK %zu messages (%llu octets)\r\n", s->md.n, s->md.total);
	return 0;
}

static int cmd_noop(struct session *s, char *arg, size_t len)
{
	if (len) {
		reply_error(s, "-ERR syntax: NOOP");
		return 0;
	}
	session_reply(s, "+OK");
	return 0;
}

/* The UPDATE state (RFC 1939 6): only here does anything get deleted. */
static int cmd_quit(struct session *s, char *arg, size_t len)
{
	unsigned failed = 0;

	if (s->state == ST_TRANS) {
		for (size_t i = 0; i < s->md.n; i++) {
			if (!s->deleted[i])
				continue;
			if (maildir_remove(&s->md, i) < 0) {
				log_error("user %s: cannot remove %s: %s", s->au.addr,
					  maildir_name(&s->md, i), strerror(errno));
				failed++;
			} else {
				s->removed++;
			}
		}
	}
	if (failed)
		io_printf(&s->out, "-ERR [SYS/TEMP] %u messages could not be deleted\r\n", failed);
	else if (s->state == ST_TRANS)
		io_printf(&s->out, "+OK postern POP3 server signing off (%u messages deleted)\r\n",
			  s->removed);
	else
		session_reply(s, "+OK postern POP3 server signing off");
	s->quit = 1;
	session_end(s, "quit");
	return -1;
}

static const struct cmd commands[] = {
	{ "CAPA", cmd_capa, C_AUTH | C_TRANS },
	{ "USER", cmd_user, C_AUTH },
	{ "PASS", cmd_pass, C_AUTH },
	{ "QUIT", cmd_quit, C_AUTH | C_TRANS },
	{ "STAT", cmd_stat, C_TRANS },
	{ "LIST", cmd_list, C_TRANS },
	{ "RETR", cmd_retr, C_TRANS },
	{ "DELE", cmd_dele, C_TRANS },
	{ "NOOP", cmd_noop, C_TRANS },
	{ "RSET", cmd_rset, C_TRANS },
	{ "TOP", cmd_top, C_TRANS },
	{ "UIDL", cmd_uidl, C_TRANS },
	{ "STLS", cmd_stls, C_AUTH },
	{ "AUTH", cmd_auth, C_AUTH },
};

int session_command(struct session *s, char *line, size_t len)
{
	size_t w = 0;
	const struct cmd *c = NULL;

	while (w < len && line[w] != ' ')
		w++;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (w == strlen(commands[i].name) && !ascii_ncasecmp(line, commands[i].name, w)) {
			c = &commands[i];
			break;
		}
	if (memchr(line, '\0', len)) {
		reply_error(s, "-ERR NUL character in command");
	} else if (!c) {
		reply_error(s, "-ERR unknown command");
	} else if (!(c->flags & (s->state == ST_AUTH ? C_AUTH : C_TRANS))) {
		reply_error(s, s->state == ST_AUTH ? "-ERR not logged in"
			    : "-ERR command not valid after login");
	} else {
		char *arg = line + w;
		size_t alen = len - w;

		if (alen && *arg == ' ') {
			arg++;
			alen--;
		}
		if (c->fn(s, arg, alen) < 0)
			return -1;
	}
	if (s->errors >= s->conf.max_errors) {
		session_reply(s, "-ERR too many errors, closing connection");
		session_end(s, "too-many-errors");
		return -1;
	}
	return 0;
}

void session_end(struct session *s, const char *why)
{
	struct logline l;

	io_flush(&s->out);
	log_begin(&l, s->state == ST_TRANS ? "logout" : "disconnect");
	if (s->state == ST_TRANS)
		log_s(&l, "user", s->au.addr);
	log_s(&l, "ip", s->ip);
	log_s(&l, "reason", why);
	if (s->state == ST_TRANS) {
		log_u(&l, "retrieved", s->retrieved);
		log_u(&l, "deleted", s->removed);
		log_u(&l, "bytes", s->bytes);
	} else {
		log_u(&l, "auth_failures", s->auth_failures);
	}
	log_u(&l, "errors", s->errors);
	if (s->tls && tlsm_error(s->tls)[0])
		log_s(&l, "tls_error", tlsm_error(s->tls));
	log_u(&l, "ms", (unsigned long long)(io_now_ms() - s->started));
	log_end(&l);
	maildir_free(&s->md);
	free(s->deleted);
	s->deleted = NULL;
}
