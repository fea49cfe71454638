/* deliver: local delivery agent, message on stdin into the recipients' maildirs. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "map.h"
#include "priv.h"
#include "queue.h"
#include "rcpt.h"
#include "store.h"
#include "str.h"

#define CHUNK (64 * 1024)

struct opts {
	const char *dir;        /* -C */
	const char *sender;     /* -f, $SENDER, or "" */
	int cfd;                /* -c: commit channel, -1 without */
};

static const char usage_text[] =
	"usage: deliver [-C DIR] [-f SENDER] [-c FD] RECIPIENT...\n"
	"  -C DIR     instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  -f SENDER  envelope sender for Return-Path (default $SENDER, else <>)\n"
	"  -c FD      wait for a commit byte on FD (a socketpair end) after EOF\n";

static void usage(void)
{
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

static int parse_fd(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 3 || v > 65535)
		return -1;
	if (fcntl((int)v, F_GETFD) < 0)
		return -1;
	return (int)v;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	int ch;

	/* --help before getopt, which would call it an unknown option */
	for (int i = 1; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--"); i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			exit(0);
		}
	o->dir = NULL;
	o->sender = getenv("SENDER");
	o->cfd = -1;
	/* '+': a recipient never turns into an option, wherever it stands */
	while ((ch = getopt(argc, argv, "+C:f:c:")) != -1) {
		switch (ch) {
		case 'C':
			o->dir = optarg;
			break;
		case 'f':
			o->sender = optarg;
			break;
		case 'c':
			o->cfd = parse_fd(optarg);
			if (o->cfd < 0) {
				fprintf(stderr, "deliver: -c %s: not an open descriptor above 2\n", optarg);
				exit(EX_USAGE);
			}
			break;
		default:
			usage();
		}
	}
	if (!o->sender)
		o->sender = "";
	if (optind >= argc)
		usage();
}

/* A fatal error: one line for a human on stderr and one for the logs. */
static void fail(int code, const char *result, const char *from, const char *rcpt,
		 const char *msg)
{
	struct logline l;

	fprintf(stderr, "deliver: %s\n", msg);
	log_begin(&l, "deliver");
	log_s(&l, "from", from);
	if (rcpt)
		log_s(&l, "rcpt", rcpt);
	log_s(&l, "result", result);
	log_s(&l, "reason", msg);
	log_end(&l);
	exit(code);
}

/* "501 5.1.3 Bad address" -> "Bad address": the codes mean nothing here */
static const char *reply_text(const char *reply)
{
	const char *p = reply;

	for (int words = 0; words < 2; words++) {
		const char *sp = strchr(p, ' ');
		if (!sp)
			return reply;
		p = sp + 1;
	}
	return p;
}

static void resolve(struct maps *ms, const struct conf *c, const char *from,
		    const char *arg, struct rcptset *set, struct rcptfwd *remote)
{
	struct addr a;
	const char *reply;
	char why[256] = "", msg[sizeof why + sizeof a.text + 64];

	if (addr_parse_bare(arg, strlen(arg), ADDR_LAX_BRACKETS | ADDR_UTF8 | ADDR_RCPT,
			    &a, &reply) < 0) {
		/* the reply is an SMTP line; its text is what a human needs */
		snprintf(msg, sizeof msg, "bad recipient address: %s", reply_text(reply));
		fail(EX_USAGE, "usage", from, arg, msg);
	}
	ascii_lowercase(a.domain, strlen(a.domain));
	switch (rcpt_resolve_fwd(ms, c, a.local, a.domain, set, remote, why, sizeof why)) {
	case RCPT_OK:
		return;
	case RCPT_NONLOCAL:
		/* the outbound queue takes it; postern-relay sends it on */
		rcptfwd_add(remote, a.text);
		return;
	case RCPT_NOUSER:
		snprintf(msg, sizeof msg, "%s: no such user", a.text);
		fail(EX_NOUSER, "nouser", from, a.text, msg);
		break;
	case RCPT_REMOTE_TARGET:
		snprintf(msg, sizeof msg, "%s: remote recipients are not delivered locally%s%s",
			 a.text, *why ? ": " : "", why);
		fail(EX_NOUSER, "remote", from, a.text, msg);
		break;
	case RCPT_LOOP:
		snprintf(msg, sizeof msg, "%s: alias loop or nesting too deep%s%s",
			 a.text, *why ? ": " : "", why);
		fail(EX_NOUSER, "loop", from, a.text, msg);
		break;
	case RCPT_TOOMANY:
		snprintf(msg, sizeof msg, "%s: alias expands to too many mailboxes", a.text);
		fail(EX_NOUSER, "toomany", from, a.text, msg);
		break;
	case RCPT_TEMP:
	default:
		snprintf(msg, sizeof msg, "%s: temporary lookup failure%s%s",
			 a.text, *why ? ": " : "", why);
		fail(EX_TEMPFAIL, "tempfail", from, a.text, msg);
		break;
	}
}

/* Return-Path carries the envelope sender, canonicalised; "" and "<>"
 * are the null sender of bounces. */
static void sender_path(const char *sender, char *out, size_t len)
{
	struct addr a;
	const char *reply;

	if (!*sender || strcmp(sender, "<>") == 0) {
		snprintf(out, len, "<>");
		return;
	}
	if (addr_parse_bare(sender, strlen(sender), ADDR_LAX_BRACKETS | ADDR_UTF8 | ADDR_MAIL,
			    &a, &reply) < 0) {
		fprintf(stderr, "deliver: bad sender address: %s\n", reply_text(reply));
		exit(EX_USAGE);
	}
	snprintf(out, len, "<%s>", a.null ? "" : a.text);
}

/* store_write remembering the last byte, so the message can be given
 * the final LF every maildir reader (and POP3's W= size) expects. */
static char last_byte = '\n';

/* Where the message goes: the local mailboxes, the outbound queue, or
 * both, written in one stream and committed together (queue.h). */
struct dest {
	struct store st;
	int sopen;
	struct queue q;
	int qopen;
};

static int put(struct dest *d, const char *p, size_t n)
{
	if (n)
		last_byte = p[n - 1];
	if (d->sopen && store_write(&d->st, p, n) < 0)
		return -1;
	if (d->qopen && queue_write(&d->q, p, n) < 0)
		return -1;
	return 0;
}

static void dest_abort(struct dest *d)
{
	if (d->sopen)
		store_abort(&d->st);
	if (d->qopen)
		queue_abort(&d->q);
	d->sopen = d->qopen = 0;
}

/* Copy stdin into the store with CRLF turned into LF; a CR not followed
 * by LF stays.  A CR at the end of a chunk waits for the next one. 0 ok,
 * -1 read error, -2 store error. */
static int copy_message(struct dest *st, char *buf)
{
	int held_cr = 0;
	ssize_t r;

	for (;;) {
		char *p, *end, *q;

		r = read(0, buf, CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		p = buf;
		end = buf + r;
		if (held_cr) {
			held_cr = 0;
			if (*p != '\n' && put(st, "\r", 1) < 0)
				return -2;
		}
		while (p < end) {
			q = memchr(p, '\r', (size_t)(end - p));
			if (!q) {
				if (put(st, p, (size_t)(end - p)) < 0)
					return -2;
				break;
			}
			if (q + 1 == end) {
				held_cr = 1;
				if (put(st, p, (size_t)(q - p)) < 0)
					return -2;
				break;
			}
			/* keep the CR unless an LF follows: only CRLF is a line end */
			if (put(st, p, (size_t)(q - p) + (q[1] != '\n')) < 0)
				return -2;
			p = q + 1;
		}
	}
	/* a CR at the very end ends the last line: kept as CR, then LF, it
	 * would read as CRLF to POP3 and break the W= size */
	if (held_cr && put(st, "\n", 1) < 0)
		return -2;
	if (last_byte != '\n' && put(st, "\n", 1) < 0)
		return -2;
	return 0;
}

/* The commit byte from the session; anything but 'C' is an abort. */
static int wait_commit(int fd)
{
	char c;
	ssize_t r;

	do
		r = read(fd, &c, 1);
	while (r < 0 && errno == EINTR);
	return r == 1 && c == 'C';
}

static void answer(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t r = write(fd, s, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

static void answer_err(int fd, const char *why)
{
	char line[CONF_ERR_MAX + 8];
	size_t n;

	snprintf(line, sizeof line - 1, "ERR %s", why);
	/* one line, whatever a path or errno text contains */
	for (n = 0; line[n]; n++)
		if (line[n] == '\r' || line[n] == '\n')
			line[n] = ' ';
	line[n++] = '\n';
	line[n] = '\0';
	answer(fd, line);
}

static void log_result(const char *from, size_t nrcpt, const struct rcptset *set,
		       unsigned long long size, const char *result, const char *reason)
{
	struct logline l;

	log_begin(&l, "deliver");
	log_s(&l, "from", from);
	log_u(&l, "rcpts", nrcpt);
	log_u(&l, "mailboxes", set->n);
	log_u(&l, "size", size);
	log_s(&l, "result", result);
	if (reason)
		log_s(&l, "reason", reason);
	log_end(&l);
}

/* Store the message for every mailbox in set and queue it for the remote
 * recipients; returns the exit status. */
static int deliver_message(const struct opts *o, const struct conf *conf,
			   const struct rcptset *set, const struct rcptfwd *remote,
			   const char *from, size_t nrcpt)
{
	struct dest d;
	char err[CONF_ERR_MAX], *buf, sender[ADDR_PATH_MAX * 2 + 8];
	unsigned long long size;
	int rc = 0;

	memset(&d, 0, sizeof d);
	d.st.fd = -1;
	d.q.fd = -1;
	if (set->n) {
		d.sopen = 1;
		if (store_open(&d.st, conf, set, err, sizeof err) < 0)
			goto tempfail;
	}
	if (remote->n) {
		const char **list = xcalloc(remote->n, sizeof *list);

		for (size_t i = 0; i < remote->n; i++)
			list[i] = remote->v[i];
		/* from is "<addr>"; the queue keeps the bare address */
		snprintf(sender, sizeof sender, "%.*s", (int)strlen(from) - 2, from + 1);
		d.qopen = 1;
		rc = queue_open(&d.q, conf, sender, list, remote->n, err, sizeof err);
		free(list);
		if (rc < 0)
			goto tempfail;
	}
	buf = xmalloc(CHUNK);
	/* Return-Path is for the mailboxes only; the next MTA adds its own */
	if (d.sopen && (store_write(&d.st, "Return-Path: ", 13) < 0 ||
			store_write(&d.st, from, strlen(from)) < 0 ||
			store_write(&d.st, "\n", 1) < 0))
		rc = -2;
	else
		rc = copy_message(&d, buf);
	free(buf);
	if (rc < 0) {
		if (rc == -1)
			snprintf(err, sizeof err, "reading the message: %s", strerror(errno));
		else
			snprintf(err, sizeof err, "writing the message: %s",
				 strerror(d.st.saved_errno ? d.st.saved_errno :
					  d.q.saved_errno ? d.q.saved_errno : EIO));
		goto tempfail;
	}
	size = d.sopen ? d.st.size : d.q.env.size;
	if (o->cfd >= 0 && !wait_commit(o->cfd)) {
		dest_abort(&d);
		log_result(from, nrcpt, set, size, "abort", NULL);
		return EX_TEMPFAIL;
	}
	/* queue prepared, mailboxes committed, queue published: a failure
	 * in between means a duplicate at worst (queue.h) */
	if ((d.qopen && queue_prepare(&d.q, err, sizeof err) < 0) ||
	    (d.sopen && store_commit(&d.st, err, sizeof err) < 0))
		goto tempfail;
	d.sopen = 0;
	if (d.qopen && queue_commit(&d.q, err, sizeof err) < 0)
		goto tempfail;
	if (o->cfd >= 0)
		answer(o->cfd, "OK\n");
	log_result(from, nrcpt, set, size, "ok", NULL);
	if (d.qopen) {
		struct logline l;
		log_begin(&l, "queued");
		log_s(&l, "id", d.q.env.id);
		log_s(&l, "from", sender);
		log_u(&l, "rcpts", remote->n);
		log_end(&l);
	}
	dest_abort(&d);
	return 0;
tempfail:
	size = d.sopen ? d.st.size : d.qopen ? d.q.env.size : 0;
	dest_abort(&d);
	if (o->cfd >= 0)
		answer_err(o->cfd, err);
	fprintf(stderr, "deliver: %s\n", err);
	log_result(from, nrcpt, set, size, "tempfail", err);
	return EX_TEMPFAIL;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct conf conf;
	struct maps ms;
	struct rcptset set;
	struct rcptfwd remote;
	char err[CONF_ERR_MAX], from[ADDR_PATH_MAX * 2 + 8];
	size_t nrcpt;
	int rc;

	log_init("deliver");
	/* a vanished session must surface as a write error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv, &o);
	nrcpt = (size_t)(argc - optind);

	if (conf_load(&conf, o.dir, err, sizeof err) < 0) {
		fprintf(stderr, "deliver: %s\n", err);
		log_error("config: %s", err);
		return EX_CONFIG;
	}
	if (priv_drop(conf.user, err, sizeof err) < 0) {
		fprintf(stderr, "deliver: %s\n", err);
		log_error("privileges: %s", err);
		return EX_CONFIG;
	}
	sender_path(o.sender, from, sizeof from);

	/* every recipient is known before a byte is stored: one bad one and
	 * nobody gets the message, so the sender sees a single clean error */
	maps_init(&ms, conf_maps_dir(&conf));
	rcptset_init(&set);
	rcptfwd_init(&remote);
	for (int i = optind; i < argc; i++)
		resolve(&ms, &conf, from, argv[i], &set, &remote);
	maps_close(&ms);

	rc = deliver_message(&o, &conf, &set, &remote, from, nrcpt);
	rcptset_free(&set);
	rcptfwd_free(&remote);
	return rc;
}
