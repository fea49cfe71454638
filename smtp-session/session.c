/* smtp-session: the command table and its handlers (RFC 5321). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "smtp.h"
#include "str.h"

#define WBUF 65536

/* Command flags, after Postfix's table: what state a command needs, and
 * whether it must end a pipelined group (RFC 2920 3.1). */
enum {
	C_NEEDHELO = 1,   /* 503 before HELO/EHLO */
	C_NEEDMAIL = 2,   /* 503 before MAIL */
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

static void log_reject(struct session *s, const char *what, const char *arg,
		       const char *reply)
{
	struct logline l;

	log_begin(&l, "reject");
	log_s(&l, "ip", s->ip);
	log_s(&l, "cmd", what);
	if (s->have_mail)
		log_s(&l, "from", s->from.text);
	if (arg)
		log_s(&l, "arg", arg);
	log_s(&l, "reply", reply);
	log_end(&l);
}

static void transaction_reset(struct session *s);

void session_reset_transaction(struct session *s)
{
	transaction_reset(s);
}

static void transaction_reset(struct session *s)
{
	sink_abort(s);
	s->have_mail = 0;
	s->nrcpt = 0;
	s->bdat = 0;
	s->first_rcpt[0] = '\0';
	memset(&s->from, 0, sizeof s->from);
	memset(&s->params, 0, sizeof s->params);
	rcptset_clear(&s->set);
	s->fwd.n = 0;
}

void session_init(struct session *s)
{
	rcptset_init(&s->set);
	rcptfwd_init(&s->fwd);
	s->sink.store.fd = -1;
	s->sink.pipe = s->sink.chan = -1;
}

int session_banner(struct session *s)
{
	io_printf(&s->out, "220 %s ESMTP %s\r\n", s->conf.hostname,
		  s->conf.banner[0] ? s->conf.banner : "postern");
	return 0;
}

/* "HELO name" / "EHLO name": one word of printable ASCII. */
static int helo_arg_ok(const char *a, size_t n)
{
	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || (unsigned char)a[i] >= 0x7f)
			return 0;
	return 1;
}

static int do_helo_common(struct session *s, char *arg, size_t len, enum helo_kind k)
{
	if (!helo_arg_ok(arg, len)) {
		reply_error(s, "501 5.5.4 Syntax: HELO/EHLO hostname");
		return 0;
	}
	transaction_reset(s);
	memcpy(s->helo_name, arg, len);
	s->helo_name[len] = '\0';
	s->helo = k;
	return 1;
}

static int cmd_helo(struct session *s, char *arg, size_t len)
{
	if (do_helo_common(s, arg, len, HELO_HELO))
		io_printf(&s->out, "250 %s\r\n", s->conf.hostname);
	return 0;
}

static int cmd_ehlo(struct session *s, char *arg, size_t len)
{
	if (!do_helo_common(s, arg, len, HELO_EHLO))
		return 0;
	io_printf(&s->out, "250-%s\r\n", s->conf.hostname);
	session_reply(s, "250-PIPELINING");
	io_printf(&s->out, "250-SIZE %llu\r\n", s->conf.max_message_size);
	session_reply(s, "250-8BITMIME");
	if (s->conf.smtputf8)
		session_reply(s, "250-SMTPUTF8");
	if (s->conf.chunking)
		session_reply(s, "250-CHUNKING");
	/* RFC 3207 4.2: not again once TLS is on; AUTH only where a
	 * password would not cross the network in clear */
	if (s->tls && s->conf.tls == TLS_STARTTLS && !s->tls_on)
		session_reply(s, "250-STARTTLS");
	if (auth_offered(s))
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250 ENHANCEDSTATUSCODES");
	return 0;
}

/* "FROM:" / "TO:" prefix, case-insensitive, spaces after the colon
 * tolerated as most servers do. */
static char *after_prefix(char *arg, size_t len, const char *prefix, size_t *rest)
{
	size_t p = strlen(prefix);

	if (len < p || ascii_ncasecmp(arg, prefix, p))
		return NULL;
	while (p < len && arg[p] == ' ')
		p++;
	*rest = len - p;
	return arg + p;
}

static unsigned advertised(const struct session *s)
{
	unsigned a = 0;

	if (s->helo != HELO_EHLO)
		return 0;
	a = PARAM_SIZE | PARAM_8BITMIME;
	if (s->conf.smtputf8)
		a |= PARAM_SMTPUTF8;
	return a;
}

static int cmd_mail(struct session *s, char *arg, size_t len)
{
	const char *reply;
	size_t n, used;
	char *p = after_prefix(arg, len, "FROM:", &n);

	if (s->have_mail) {
		reply_error(s, "503 5.5.1 Error: nested MAIL command");
		return 0;
	}
	if (s->conf.submission && !s->authed) {
		reply_error(s, "530 5.7.0 Authentication required");
		return 0;
	}
	if (s->acc.tls_required && !s->tls_on) {
		reply_error(s, "530 5.7.0 Must issue a STARTTLS command first");
		return 0;
	}
	if (s->messages >= s->conf.max_messages) {
		session_reply(s, "452 4.5.3 Too many messages in this session, try again later");
		return 0;
	}
	if (!p) {
		reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return 0;
	}
	if (addr_parse_path(p, n, ADDR_MAIL | ADDR_UTF8, &s->from, &used, &reply) < 0) {
		log_reject(s, "MAIL", p, reply);
		reply_error(s, reply);
		return 0;
	}
	if (used < n && p[used] != ' ') {
		reply_error(s, "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]");
		return 0;
	}
	if (addr_parse_mail_params(p + used, n - used, advertised(s), &s->params, &reply) < 0) {
		reply_error(s, reply);
		return 0;
	}
	/* RFC 6531 3.5: UTF-8 in the envelope needs SMTPUTF8 */
	if (s->from.utf8 && !s->params.smtputf8) {
		reply_error(s, "553 5.6.7 Sender address needs SMTPUTF8");
		return 0;
	}
	if (s->params.has_size && s->params.size > s->conf.max_message_size) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return 0;
	}
	/* an authenticated user sends as themselves or an alias of theirs */
	if (s->authed) {
		int ok = auth_sender_ok(s);
		if (ok < 0) {
			session_reply(s, "451 4.3.0 Sender check failed: temporary lookup failure");
			return 0;
		}
		if (!ok) {
			reply = "553 5.7.1 Sender address rejected: not owned by the authenticated user";
			log_reject(s, "MAIL", s->from.text, reply);
			reply_error(s, reply);
			return 0;
		}
	}
	s->have_mail = 1;
	session_reply(s, "250 2.1.0 Ok");
	return 0;
}

static int cmd_rcpt(struct session *s, char *arg, size_t len)
{
	const char *reply;
	struct addr to;
	size_t n, used;
	char why[256] = "";
	char *p = after_prefix(arg, len, "TO:", &n);

	if (s->bdat) {
		reply_error(s, "503 5.5.1 Error: BDAT transfer in progress");
		return 0;
	}
	if (!p) {
		reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address>");
		return 0;
	}
	if (addr_parse_path(p, n, ADDR_RCPT | ADDR_UTF8, &to, &used, &reply) < 0) {
		log_reject(s, "RCPT", p, reply);
		reply_error(s, reply);
		return 0;
	}
	if (used < n && p[used] != ' ') {
		reply_error(s, "501 5.5.4 Syntax: RCPT TO:<address> [parameters]");
		return 0;
	}
	if (addr_parse_rcpt_params(p + used, n - used, advertised(s), &reply) < 0) {
		reply_error(s, reply);
		return 0;
	}
	if (to.utf8 && !s->params.smtputf8) {
		reply_error(s, "553 5.6.7 Recipient address needs SMTPUTF8");
		return 0;
	}
	if (s->nrcpt >= s->conf.max_recipients) {
		session_reply(s, "452 4.5.3 Too many recipients");
		return 0;
	}
	switch (rcpt_resolve_fwd(&s->maps, &s->conf, to.local, to.domain, &s->set, &s->fwd,
				 why, sizeof why)) {
	case RCPT_OK:
	accept:
		if (s->nrcpt++ == 0)
			snprintf(s->first_rcpt, sizeof s->first_rcpt, "%s", to.text);
		session_reply(s, "250 2.1.5 Ok");
		return 0;
	case RCPT_NOUSER:
		reply = "550 5.1.1 Recipient address rejected: User unknown";
		break;
	case RCPT_NONLOCAL:
		/* relay: authenticated users and clients the relay map trusts */
		if (!s->authed && s->acc.action != ACCESS_RELAY) {
			reply = "554 5.7.1 Recipient address rejected: Relay access denied";
			snprintf(why, sizeof why, "relay not permitted");
		} else if (to.domain[0] == '[') {
			reply = "554 5.7.1 Recipient address rejected: address literals are not relayed";
			snprintf(why, sizeof why, "address literal");
		} else {
			rcptfwd_add(&s->fwd, to.text);
			goto accept;
		}
		break;
	case RCPT_REMOTE_TARGET:
		reply = "451 4.4.0 Recipient address rejected: remote delivery is not configured";
		break;
	case RCPT_LOOP:
		reply = "550 5.4.6 Recipient address rejected: alias loop";
		break;
	case RCPT_TOOMANY:
		reply = "550 5.5.3 Recipient address rejected: too many recipients after alias expansion";
		break;
	case RCPT_TEMP:
	default:
		reply = "451 4.3.0 Recipient address rejected: temporary lookup failure";
		break;
	}
	{
		struct logline l;
		log_begin(&l, "reject");
		log_s(&l, "ip", s->ip);
		log_s(&l, "cmd", "RCPT");
		log_s(&l, "from", s->from.text);
		log_s(&l, "to", to.text);
		log_s(&l, "why", why);
		log_s(&l, "reply", reply);
		log_end(&l);
	}
	if (reply[0] == '5')
		reply_error(s, reply);
	else
		session_reply(s, reply);
	return 0;
}

/* Open the maildir transaction and write the trace headers. */
static int begin_message(struct session *s)
{
	char err[512], hdr[2400];
	size_t hn;

	make_msgid(s->msgid, sizeof s->msgid);
	if (sink_open(s, err, sizeof err) < 0) {
		log_error("cannot start delivery: %s", err);
		return -1;
	}
	received_header(s, hdr, sizeof hdr, &hn);
	sink_write(s, hdr, hn);
	data_init(&s->dp);
	return 0;
}

static void log_message(struct session *s, const char *result, unsigned long long size)
{
	struct logline l;

	log_begin(&l, "message");
	log_s(&l, "id", s->msgid);
	log_s(&l, "ip", s->ip);
	log_s(&l, "from", s->from.text);
	log_s(&l, "to", s->first_rcpt);
	log_u(&l, "rcpts", s->nrcpt);
	log_u(&l, "mailboxes", s->set.n);
	log_u(&l, "size", size);
	log_s(&l, "result", result);
	log_end(&l);
}

/* End of DATA or BDAT LAST: decide, commit or throw away, reply. */
static void finish_message(struct session *s)
{
	char err[512], reply[128];
	unsigned long long size = s->dp.size;

	if (s->dp.size > s->conf.max_message_size) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		log_message(s, "too-big", size);
		s->rejected++;
	} else if (s->dp.flags) {
		session_reply(s, (s->dp.flags & DATA_NUL)
			      ? "554 5.6.0 Message refused: NUL character in message"
			      : "554 5.6.0 Message refused: bare CR or LF (lines must end in CRLF)");
		log_message(s, (s->dp.flags & DATA_NUL) ? "nul" : "bare-newline", size);
		s->rejected++;
	} else if (sink_commit(s, err, sizeof err) < 0) {
		log_error("delivery failed: %s", err);
		session_reply(s, "451 4.3.0 Error: local delivery failed, try again later");
		log_message(s, "tempfail", size);
		s->rejected++;
	} else {
		snprintf(reply, sizeof reply, "250 2.0.0 Ok: queued as %s", s->msgid);
		session_reply(s, reply);
		log_message(s, "ok", size);
		s->messages++;
		s->bytes += size;
	}
	transaction_reset(s);
}

/* The client went away or ran out of time mid-message: nothing is kept. */
#define DATA_SLOW 1       /* beside the IO_* codes: below min_data_rate */

static void data_lost(struct session *s, int r)
{
	log_message(s, r == IO_TIMEOUT ? "timeout-in-data" : r == DATA_SLOW ? "too-slow" : "lost-in-data",
		    s->dp.size);
	transaction_reset(s);
	if (r == IO_TIMEOUT)
		session_reply(s, "421 4.4.2 Timeout while receiving the message, closing connection");
	else if (r == DATA_SLOW)
		session_reply(s, "421 4.4.2 Data rate too low, closing connection");
	session_end(s, r == IO_TIMEOUT ? "timeout" : r == DATA_SLOW ? "too-slow" : "disconnect");
}

/* A client trickling data holds a process and a slot for as long as the
 * timeouts allow; after a 10 s grace it must keep min_data_rate up. */
#define DATA_RATE_GRACE_MS 10000

static int too_slow(const struct session *s, int64_t start, unsigned long long bytes0)
{
	int64_t el = io_now_ms() - start;
	unsigned long long got = s->in.total - bytes0;

	return s->conf.min_data_rate && el > DATA_RATE_GRACE_MS &&
	       got * 1000 / (unsigned long long)el < s->conf.min_data_rate;
}

/* DATA, and a BDAT transfer from its first chunk to LAST, must end
 * within data_timeout as well as within the session deadline. */
static int64_t data_deadline(const struct session *s, int64_t start)
{
	int64_t d = start + (int64_t)s->conf.data_timeout * 1000;

	return (!s->in.deadline || d < s->in.deadline) ? d : s->in.deadline;
}

/* Stop writing once the message is too big or refused anyway, but keep
 * reading to the end so the session stays in step. */
static void store_out(struct session *s, const char *p, size_t n)
{
	if (s->dp.size > s->conf.max_message_size || s->dp.flags)
		return;
	sink_write(s, p, n);
}

/* Message data is read under its own deadline, and each read of it is
 * acknowledged at once (io.h, quickack); the command's deadline after. */
static void data_read_begin(struct session *s, int64_t deadline)
{
	s->in.deadline = deadline;
	s->in.quickack = 1;
}

static void data_read_end(struct session *s, int64_t saved)
{
	s->in.deadline = saved;
	s->in.quickack = 0;
}

static int cmd_data(struct session *s, char *arg, size_t len)
{
	int64_t saved = s->in.deadline;

	if (len) {
		reply_error(s, "501 5.5.4 Syntax: DATA");
		return 0;
	}
	if (s->bdat) {
		reply_error(s, "503 5.5.1 Error: BDAT transfer in progress");
		return 0;
	}
	if (!s->nrcpt) {
		reply_error(s, "554 5.5.1 Error: no valid recipients");
		return 0;
	}
	if (begin_message(s) < 0) {
		session_reply(s, "451 4.3.0 Error: cannot store message now, try again later");
		transaction_reset(s);
		return 0;
	}
	session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	data_read_begin(s, data_deadline(s, io_now_ms()));
	int64_t start = io_now_ms();
	unsigned long long bytes0 = s->in.total - io_buffered(&s->in);

	while (!s->dp.done) {
		size_t n, used, on;
		int r = io_fill(&s->in);

		if (r == IO_OK && too_slow(s, start, bytes0))
			r = DATA_SLOW;
		if (r != IO_OK) {
			data_read_end(s, saved);
			data_lost(s, r);
			return -1;
		}
		/* unstuffed in place: the stored bytes are the first on of
		 * the used ones, and are written before the buffer is read
		 * into again */
		char *p = io_peek_rw(&s->in);

		n = io_buffered(&s->in);
		used = data_feed(&s->dp, p, n, p, &on);
		io_skip(&s->in, used);
		store_out(s, p, on);
	}
	data_read_end(s, saved);
	finish_message(s);
	return 0;
}

/* BDAT <size> [LAST] (RFC 3030).  The chunk is always read, even when the
 * command is refused, so the byte stream stays in step. */
static int cmd_bdat(struct session *s, char *arg, size_t len)
{
	static char out[WBUF];
	int64_t saved = s->in.deadline;
	unsigned long long size = 0, chunk;
	size_t i = 0, digits = 0;
	int last = 0;
	const char *refuse = NULL;

	while (i < len && arg[i] >= '0' && arg[i] <= '9' && digits < 20) {
		unsigned d = (unsigned)(arg[i] - '0');
		if (size > (~0ULL - d) / 10)
			break;
		size = size * 10 + d;
		i++;
		digits++;
	}
	if (!digits || (i < len && arg[i] != ' ')) {
		/* without a valid size the stream cannot be followed */
		session_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		session_end(s, "bad-bdat");
		return -1;
	}
	while (i < len && arg[i] == ' ')
		i++;
	if (i < len) {
		if (len - i == 4 && !ascii_ncasecmp(arg + i, "LAST", 4))
			last = 1;
		else {
			session_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
			session_end(s, "bad-bdat");
			return -1;
		}
	}
	chunk = size;
	if (!s->conf.chunking || s->helo != HELO_EHLO)
		refuse = "503 5.5.1 Error: send EHLO first (CHUNKING)";
	else if (!s->have_mail)
		refuse = "503 5.5.1 Error: need MAIL command";
	else if (!s->nrcpt)
		refuse = "554 5.5.1 Error: no valid recipients";
	if (!refuse && !s->bdat) {
		if (begin_message(s) < 0)
			refuse = "451 4.3.0 Error: cannot store message now, try again later";
		else {
			s->bdat = 1;
			s->bdat_started = io_now_ms();
			s->bdat_bytes0 = s->in.total - io_buffered(&s->in);
		}
	}
	data_read_begin(s, s->bdat ? data_deadline(s, s->bdat_started) : saved);
	while (size) {
		size_t n, on;
		int r = io_fill(&s->in);

		if (r == IO_OK && s->bdat && too_slow(s, s->bdat_started, s->bdat_bytes0))
			r = DATA_SLOW;
		if (r != IO_OK) {
			data_read_end(s, saved);
			if (s->bdat)
				data_lost(s, r);
			else
				session_end(s, r == IO_TIMEOUT ? "timeout" : "disconnect");
			return -1;
		}
		n = io_buffered(&s->in);
		if (n > sizeof out)
			n = sizeof out;
		if (n > size)
			n = (size_t)size;
		if (!refuse) {
			bdat_feed(&s->dp, io_peek(&s->in), n, out, &on);
			store_out(s, out, on);
		}
		io_skip(&s->in, n);
		size -= n;
	}
	data_read_end(s, saved);
	if (refuse) {
		if (s->bdat)
			transaction_reset(s);
		reply_error(s, refuse);
		return 0;
	}
	if (!last) {
		char reply[64];
		snprintf(reply, sizeof reply, "250 2.0.0 %llu octets received", chunk);
		session_reply(s, reply);
		return 0;
	}
	{
		size_t on;
		bdat_finish(&s->dp, out, &on);
		store_out(s, out, on);
	}
	finish_message(s);
	return 0;
}

static int cmd_rset(struct session *s, char *arg, size_t len)
{
	if (len) {
		reply_error(s, "501 5.5.4 Syntax: RSET");
		return 0;
	}
	transaction_reset(s);
	session_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int cmd_noop(struct session *s, char *arg, size_t len)
{
	session_reply(s, "250 2.0.0 Ok");
	return 0;
}

static int cmd_quit(struct session *s, char *arg, size_t len)
{
	io_printf(&s->out, "221 2.0.0 %s closing connection\r\n", s->conf.hostname);
	s->quit = 1;
	return -1;
}

static int cmd_vrfy(struct session *s, char *arg, size_t len)
{
	if (!len) {
		reply_error(s, "501 5.5.4 Syntax: VRFY address");
		return 0;
	}
	/* Answering truthfully hands out the user list: only when asked to. */
	if (s->conf.vrfy) {
		struct addr a;
		struct rcptset set;
		const char *reply;
		char why[128];
		enum rcpt_result r;
		char tmp[ADDR_PATH_MAX + 3];

		snprintf(tmp, sizeof tmp, "%s%.*s%s", arg[0] == '<' ? "" : "<", (int)len, arg,
			 arg[0] == '<' ? "" : ">");
		if (addr_parse_bare(tmp, strlen(tmp), ADDR_RCPT | ADDR_UTF8 | ADDR_LAX_BRACKETS, &a, &reply) < 0) {
			reply_error(s, reply);
			return 0;
		}
		rcptset_init(&set);
		r = rcpt_resolve(&s->maps, &s->conf, a.local, a.domain, &set, why, sizeof why);
		rcptset_free(&set);
		if (r == RCPT_OK)
			io_printf(&s->out, "250 2.1.5 <%s>\r\n", a.text);
		else if (r == RCPT_NOUSER)
			reply_error(s, "550 5.1.1 User unknown");
		else if (r == RCPT_TEMP)
			session_reply(s, "451 4.3.0 Temporary lookup failure");
		else
			session_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
		return 0;
	}
	session_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
	return 0;
}

static int cmd_expn(struct session *s, char *arg, size_t len)
{
	reply_error(s, "502 5.5.1 EXPN is not supported");
	return 0;
}

static int cmd_help(struct session *s, char *arg, size_t len)
{
	session_reply(s, "214-Commands:");
	session_reply(s, "214-  HELO EHLO MAIL RCPT DATA BDAT RSET");
	session_reply(s, "214-  NOOP QUIT VRFY HELP STARTTLS AUTH");
	session_reply(s, "214 2.0.0 See RFC 5321");
	return 0;
}

static const struct cmd commands[] = {
	{ "EHLO", cmd_ehlo, 0 },
	{ "HELO", cmd_helo, 0 },
	{ "MAIL", cmd_mail, C_NEEDHELO },
	{ "RCPT", cmd_rcpt, C_NEEDHELO | C_NEEDMAIL },
	{ "DATA", cmd_data, C_NEEDHELO | C_NEEDMAIL },
	{ "BDAT", cmd_bdat, 0 },
	{ "RSET", cmd_rset, 0 },
	{ "NOOP", cmd_noop, 0 },
	{ "QUIT", cmd_quit, 0 },
	{ "VRFY", cmd_vrfy, 0 },
	{ "EXPN", cmd_expn, 0 },
	{ "HELP", cmd_help, 0 },
	{ "STARTTLS", cmd_starttls, 0 },
	{ "AUTH", cmd_auth, 0 },
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
	if (!c) {
		if (memchr(line, '\0', len))
			reply_error(s, "500 5.5.2 Error: NUL character in command");
		else
			reply_error(s, "500 5.5.2 Error: command not recognized");
	} else if ((c->flags & C_NEEDHELO) && s->helo == HELO_NONE) {
		reply_error(s, "503 5.5.1 Error: send HELO/EHLO first");
	} else if ((c->flags & C_NEEDMAIL) && !s->have_mail) {
		reply_error(s, "503 5.5.1 Error: need MAIL command");
	} else if (memchr(line, '\0', len)) {
		reply_error(s, "501 5.5.2 Error: NUL character in command");
	} else {
		char *arg = line + w;
		size_t alen = len - w;
		/* exactly one space separates verb and argument (RFC 5321 4.1.1) */
		if (alen && *arg == ' ') {
			arg++;
			alen--;
		}
		if (c->fn(s, arg, alen) < 0)
			return -1;
	}
	if (s->errors >= s->conf.max_errors) {
		session_reply(s, "421 4.7.0 Too many errors, closing connection");
		session_end(s, "too-many-errors");
		return -1;
	}
	return 0;
}

void session_end(struct session *s, const char *why)
{
	struct logline l;

	transaction_reset(s);
	/* the last reply may be sent after the session deadline: briefly */
	s->out.deadline = io_now_ms() + 2000;
	io_flush(&s->out);
	log_begin(&l, "disconnect");
	log_s(&l, "ip", s->ip);
	log_s(&l, "reason", why);
	log_u(&l, "messages", s->messages);
	log_u(&l, "rejected", s->rejected);
	log_u(&l, "bytes", s->bytes);
	log_u(&l, "errors", s->errors);
	if (s->authed)
		log_s(&l, "user", s->au.addr);
	if (s->tls && tlsm_error(s->tls)[0])
		log_s(&l, "tls_error", tlsm_error(s->tls));
	log_u(&l, "ms", (unsigned long long)(io_now_ms() - s->started));
	log_end(&l);
}
