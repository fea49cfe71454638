/* postern-relay's child for one destination: SMTP to the route's hosts, or local delivery through the store. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "rcpt.h"
#include "relay-smtp.h"
#include "relay.h"
#include "store.h"
#include "str.h"

#define MAX_MX 16

static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(int fd, const char *fmt, ...)
{
	char line[QUEUE_REPLY_MAX + 400];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line - 1)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	/* the parent went away (kill -9): stop, the queue still has it */
	if (write(fd, line, (size_t)n) != n)
		_exit(75);
}

static void report_rcpt(int fd, size_t m, size_t r, int cls, const char *relay, const char *reply)
{
	char clean[QUEUE_REPLY_MAX];

	qvalue_clean(clean, sizeof clean, reply, strlen(reply));
	report(fd, "R %zu %zu %d %s %s", m, r, cls, relay[0] ? relay : "none", clean);
}

/* Entries [*k, end) of job j that belong to the same message. */
static size_t group_end(const struct rjob *j, size_t k)
{
	size_t e = k;

	while (e < j->n && j->v[e].msg == j->v[k].msg)
		e++;
	return e;
}

static int open_data(const struct relay *rl, const char *id, int *eightbit)
{
	char p[CONF_PATH_MAX + 96], buf[16384];
	ssize_t r;
	int fd;

	*eightbit = 0;
	if (queue_path(rl->conf, "queue", id, ".msg", p, sizeof p) < 0)
		return -1;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < r && !*eightbit; i++)
			if ((unsigned char)buf[i] & 0x80)
				*eightbit = 1;
	return fd;
}

/* Connect to the first host that answers.  0, -1 (temporary, err), -2
 * (permanent: no such domain, null MX). */
static int connect_route(struct relay *rl, const struct rjob *j, struct smtpc *s,
			 char *err, size_t errlen)
{
	struct mxrr mx[MAX_MX];
	size_t nmx = 0;
	int rc;

	err[0] = '\0';
	if (j->route.host[0]) {
		nmx = 1;
		mx[0].pref = 0;
		snprintf(mx[0].name, sizeof mx[0].name, "%s", j->route.host);
	} else {
		rc = route_mx(rl->res, j->domain, mx, MAX_MX, &nmx, err, errlen);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < nmx; i++) {
		struct addrinfo hints, *ai = NULL, *a;
		char port[8];

		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = j->route.literal ? AI_NUMERICHOST : 0;
		snprintf(port, sizeof port, "%u", j->route.port);
		rc = getaddrinfo(mx[i].name, port, &hints, &ai);
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", mx[i].name, gai_strerror(rc));
			/* the domain's only host has no address: RFC 5321 5.1 */
			continue;
		}
		for (a = ai; a; a = a->ai_next) {
			if (smtpc_open(s, &j->route, mx[i].name, a->ai_addr, a->ai_addrlen,
				       rl->conf->hostname, rl->conf->tls_ca_file,
				       rl->conf->relay_timeout) == 0) {
				freeaddrinfo(ai);
				return 0;
			}
			snprintf(err, errlen, "%s", s->err);
			smtpc_close(s);
		}
		freeaddrinfo(ai);
	}
	if (!err[0])
		snprintf(err, errlen, "no host to connect to");
	return -1;
}

static void remote_job(struct relay *rl, const struct rjob *j, int fd)
{
	struct smtpc s;
	char err[QUEUE_REPLY_MAX];
	int rc, up;

	memset(&s, 0, sizeof s);
	s.fd = -1;
	rc = connect_route(rl, j, &s, err, sizeof err);
	up = rc == 0;
	for (size_t k = 0; k < j->n;) {
		size_t e = group_end(j, k), n = e - k, m = j->v[k].msg;
		const struct qenv *env = &rl->msgs[m].env;
		const char **rcpts = xcalloc(n, sizeof *rcpts);
		int *cls = xcalloc(n, sizeof *cls);
		char (*reply)[QUEUE_REPLY_MAX] = xcalloc(n, sizeof *reply);
		struct txn t;
		int dfd = -1, eight = 0;

		for (size_t i = 0; i < n; i++) {
			rcpts[i] = env->r[j->v[k + i].rcpt].addr;
			cls[i] = rc == -2 ? 5 : 4;
			snprintf(reply[i], sizeof reply[i], "%s", err);
		}
		if (up) {
			dfd = open_data(rl, env->id, &eight);
			if (dfd < 0) {
				for (size_t i = 0; i < n; i++)
					snprintf(reply[i], sizeof reply[i], "message file unreadable: %s", strerror(errno));
			} else {
				memset(&t, 0, sizeof t);
				t.sender = env->sender;
				t.n = n;
				t.rcpts = rcpts;
				t.cls = cls;
				t.reply = reply;
				t.datafd = dfd;
				t.size = env->size;
				t.eightbit = eight;
				if (smtpc_send(&s, &t) < 0) {
					up = 0;
					snprintf(err, sizeof err, "%s", s.err[0] ? s.err : "connection lost");
				}
				close(dfd);
			}
		}
		for (size_t i = 0; i < n; i++)
			report_rcpt(fd, m, j->v[k + i].rcpt, cls[i], s.peer, reply[i]);
		report(fd, "M %zu", m);
		free(rcpts);
		free(cls);
		free(reply);
		k = e;
	}
	smtpc_close(&s);
}

/* Copy the data file into the store (after its Return-Path) and the
 * forwarding queue file.  0 or -1. */
static int copy_data(int dfd, struct store *st, struct queue *q)
{
	char buf[65536];
	ssize_t r;

	while ((r = read(dfd, buf, sizeof buf)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if ((st && store_write(st, buf, (size_t)r) < 0) ||
		    (q && queue_write(q, buf, (size_t)r) < 0))
			return -1;
	}
	return 0;
}

/* One message's local recipients: resolve, store all-or-nothing, queue
 * the forwards.  Results per recipient in cls/reply. */
static void local_message(struct relay *rl, const struct qenv *env, const struct jobrc *v,
			  size_t n, int *cls, char (*reply)[QUEUE_REPLY_MAX])
{
	struct rcptset set;
	struct rcptfwd fwd;
	struct store st;
	struct queue q;
	char err[CONF_ERR_MAX], why[256], rp[QUEUE_ADDR_MAX + 16];
	int dfd = -1, eight, want = 0, sopen = 0, qopen = 0;

	rcptset_init(&set);
	rcptfwd_init(&fwd);
	memset(&st, 0, sizeof st);
	st.fd = -1;
	memset(&q, 0, sizeof q);
	q.fd = -1;
	for (size_t i = 0; i < n; i++) {
		const char *a = env->r[v[i].rcpt].addr, *at = strrchr(a, '@');
		char local[QUEUE_ADDR_MAX];

		snprintf(local, sizeof local, "%.*s", (int)(at - a), a);
		switch (rcpt_resolve_fwd(&rl->maps, rl->conf, local, at + 1, &set, &fwd, why, sizeof why)) {
		case RCPT_OK:
			cls[i] = 2;
			want = 1;
			continue;
		case RCPT_TEMP:
			cls[i] = 4;
			snprintf(reply[i], sizeof reply[i], "451 4.3.0 %s", why);
			continue;
		case RCPT_LOOP:
			cls[i] = 5;
			snprintf(reply[i], sizeof reply[i], "550 5.4.6 %s", why);
			continue;
		default:
			cls[i] = 5;
			snprintf(reply[i], sizeof reply[i], "550 5.1.1 %s", why[0] ? why : "no such user");
			continue;
		}
	}
	if (!want)
		goto out;
	err[0] = '\0';
	dfd = open_data(rl, env->id, &eight);
	if (dfd < 0 || lseek(dfd, 0, SEEK_SET) < 0) {
		snprintf(err, sizeof err, "message file unreadable");
		goto fail;
	}
	if (set.n) {
		if (store_open(&st, rl->conf, &set, err, sizeof err) < 0)
			goto fail;
		sopen = 1;
		snprintf(rp, sizeof rp, "Return-Path: <%s>\n", env->sender);
		if (store_write(&st, rp, strlen(rp)) < 0)
			goto fail;
	}
	if (fwd.n) {
		const char **list = xcalloc(fwd.n, sizeof *list);
		for (size_t i = 0; i < fwd.n; i++)
			list[i] = fwd.v[i];
		qopen = queue_open(&q, rl->conf, env->sender, list, fwd.n, err, sizeof err) == 0;
		free(list);
		if (!qopen)
			goto fail;
	}
	if (copy_data(dfd, sopen ? &st : NULL, qopen ? &q : NULL) < 0) {
		snprintf(err, sizeof err, "copying the message: %s", strerror(errno));
		goto fail;
	}
	/* the order of queue.h: forwards prepared, mailboxes committed,
	 * forwards published */
	if ((qopen && queue_prepare(&q, err, sizeof err) < 0) ||
	    (sopen && store_commit(&st, err, sizeof err) < 0))
		goto fail;
	sopen = 0;
	if (qopen && queue_commit(&q, err, sizeof err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (cls[i] == 2)
			snprintf(reply[i], sizeof reply[i], "250 2.0.0 delivered%s", fwd.n ? " or forwarded" : "");
	goto out;
fail:
	for (size_t i = 0; i < n; i++)
		if (cls[i] == 2) {
			cls[i] = 4;
			snprintf(reply[i], sizeof reply[i], "451 4.3.0 %s", err);
		}
out:
	if (sopen)
		store_abort(&st);
	if (qopen)
		queue_abort(&q);
	if (dfd >= 0)
		close(dfd);
	rcptset_free(&set);
	rcptfwd_free(&fwd);
}

static void local_job(struct relay *rl, const struct rjob *j, int fd)
{
	for (size_t k = 0; k < j->n;) {
		size_t e = group_end(j, k), n = e - k, m = j->v[k].msg;
		int *cls = xcalloc(n, sizeof *cls);
		char (*reply)[QUEUE_REPLY_MAX] = xcalloc(n, sizeof *reply);

		local_message(rl, &rl->msgs[m].env, j->v + k, n, cls, reply);
		for (size_t i = 0; i < n; i++)
			report_rcpt(fd, m, j->v[k + i].rcpt, cls[i], "local", reply[i]);
		report(fd, "M %zu", m);
		free(cls);
		free(reply);
		k = e;
	}
}

void relay_job(struct relay *rl, const struct rjob *j, int fd)
{
	/* the parent's maps stay the parent's; a child opens its own */
	maps_init(&rl->maps, conf_maps_dir(rl->conf));
	if (j->local)
		local_job(rl, j, fd);
	else
		remote_job(rl, j, fd);
	maps_close(&rl->maps);
}
