/* One pass of postern-relay: load due messages, group recipients by destination, fork per destination, apply the results. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "rcpt.h"
#include "relay.h"
#include "str.h"

/* A file in queue/ older than this without its envelope is an orphan. */
#define ORPHAN_GRACE_MS (3600LL * 1000)

static struct rjob *job_for(struct relay *rl, const struct route *r, const char *domain, int local)
{
	struct rjob *j;

	for (size_t i = 0; i < rl->njobs; i++) {
		j = &rl->jobs[i];
		if (local ? j->local : (!j->local && strcmp(j->route.key, r->key) == 0))
			return j;
	}
	rl->jobs = xrealloc(rl->jobs, (rl->njobs + 1) * sizeof *rl->jobs);
	j = &rl->jobs[rl->njobs++];
	memset(j, 0, sizeof *j);
	j->local = local;
	if (r)
		j->route = *r;
	snprintf(j->domain, sizeof j->domain, "%s", domain);
	return j;
}

static void job_add(struct rjob *j, size_t m, size_t r)
{
	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 16;
		j->v = xrealloc(j->v, j->cap * sizeof *j->v);
	}
	j->v[j->n].msg = m;
	j->v[j->n].rcpt = r;
	j->n++;
}

static void log_result(const struct qenv *e, const struct qrcpt *r, const char *relay,
		       const char *result)
{
	struct logline l;

	log_begin(&l, "relay");
	log_s(&l, "id", e->id);
	log_s(&l, "from", e->sender);
	log_s(&l, "to", r->addr);
	log_s(&l, "relay", relay);
	log_s(&l, "result", result);
	log_u(&l, "attempts", r->attempts);
	log_s(&l, "reply", r->reply);
	log_u(&l, "delay_ms", (unsigned long long)(queue_now_ms() - e->created));
	log_end(&l);
}

/* Every recipient due now goes into the job of its destination; ones that
 * cannot be routed get their answer at once. */
static void plan(struct relay *rl, size_t m)
{
	struct rmsg *msg = &rl->msgs[m];
	struct qenv *e = &msg->env;
	char err[256], dom[256];

	if (qenv_expire(e, rl->now, rl->conf->queue_lifetime)) {
		msg->dirty = 1;
		for (size_t i = 0; i < e->n; i++)
			if (e->r[i].state == QS_FAILED && strstr(e->r[i].reply, "lifetime expired"))
				log_result(e, &e->r[i], "none", "expired");
	}
	for (size_t i = 0; i < e->n; i++) {
		struct qrcpt *r = &e->r[i];
		struct route rt;
		const char *at;
		int f, rc;

		if (!(qrcpt_due(r, rl->now) || (rl->force && r->state == QS_DEFERRED)))
			continue;
		at = strrchr(r->addr, '@');
		snprintf(dom, sizeof dom, "%s", at + 1);
		ascii_lowercase(dom, strlen(dom));
		f = rcpt_domain(&rl->maps, dom, err, sizeof err);
		if (f > 0) {
			job_add(job_for(rl, NULL, dom, 1), m, i);
			continue;
		}
		rc = f < 0 ? -1 : route_for(&rl->maps, rl->conf, dom, &rt, err, sizeof err);
		if (rc == 0) {
			job_add(job_for(rl, &rt, dom, 0), m, i);
			continue;
		}
		/* a broken map or route is the admin's to fix: wait for it */
		qrcpt_deferred(r, f < 0 ? "domains map unavailable" : err, rl->now,
			       rl->conf->retry_min, rl->conf->retry_max);
		msg->dirty = 1;
		log_result(e, r, "none", "deferred");
	}
}

/* A message with nothing left to try: bounce what failed, then remove. */
static void finish(struct relay *rl, struct rmsg *msg)
{
	struct qenv *e = &msg->env;
	char err[256];

	if (msg->gone)
		return;
	/* a message about to be removed needs no last save: that fsync
	 * would be most of the per-message cost */
	if (msg->dirty && (!qenv_done(e) || (qenv_count(e, QS_FAILED) && (e->dsn || !e->sender[0])))) {
		if (queue_save(rl->conf, e, err, sizeof err) < 0)
			log_error("save %s: %s", e->id, err);
		msg->dirty = 0;
	}
	if (!qenv_done(e))
		return;
	if (qenv_count(e, QS_FAILED)) {
		if (e->dsn || !e->sender[0]) {
			/* never a bounce to <>: the admin gets to look at it */
			if (queue_badmail(rl->conf, e->id, err, sizeof err) < 0)
				log_error("badmail %s: %s", e->id, err);
			else
				log_warn("undeliverable bounce %s moved to badmail", e->id);
			msg->gone = 1;
			return;
		}
		if (relay_bounce(rl, e, err, sizeof err) < 0) {
			/* keep the message: the next pass tries the bounce again */
			log_error("bounce for %s: %s", e->id, err);
			return;
		}
		rl->queued++;
	}
	queue_remove(rl->conf, e->id);
	msg->gone = 1;
	{
		struct logline l;
		log_begin(&l, "removed");
		log_s(&l, "id", e->id);
		log_u(&l, "delivered", qenv_count(e, QS_DELIVERED));
		log_u(&l, "failed", qenv_count(e, QS_FAILED));
		log_end(&l);
	}
}

/* "R m r cls relay reply" from a child. */
static void apply(struct relay *rl, char *line)
{
	unsigned long m, r;
	int cls;
	char relay[300], *p;
	int used = 0;

	if (line[0] == 'M') {
		m = strtoul(line + 2, NULL, 10);
		if (m < rl->nmsgs && rl->msgs[m].jobs && --rl->msgs[m].jobs == 0)
			finish(rl, &rl->msgs[m]);
		else if (m < rl->nmsgs && rl->msgs[m].dirty) {
			/* part of the message is done: keep that on disk now, so a
			 * crash repeats as little as possible */
			char err[256];
			if (queue_save(rl->conf, &rl->msgs[m].env, err, sizeof err) < 0)
				log_error("save: %s", err);
			rl->msgs[m].dirty = 0;
		}
		return;
	}
	/* our own children's lines; the numbers are range-checked below */
	if (sscanf(line, "R %lu %lu %d %299s %n", &m, &r, &cls, relay, &used) < 4 || !used || /* NOLINT(cert-err34-c) */
	    m >= rl->nmsgs || r >= rl->msgs[m].env.n)
		return;
	p = line + used;
	{
		struct rmsg *msg = &rl->msgs[m];
		struct qrcpt *q = &msg->env.r[r];
		const char *result;
		long long now = queue_now_ms();

		if (cls == 2) {
			qrcpt_delivered(q, p);
			result = "delivered";
		} else if (cls == 5) {
			qrcpt_failed(q, p);
			result = "failed";
		} else {
			qrcpt_deferred(q, p, now, rl->conf->retry_min, rl->conf->retry_max);
			result = "deferred";
			if (now - msg->env.created >= (long long)rl->conf->queue_lifetime) {
				qenv_expire(&msg->env, now, rl->conf->queue_lifetime);
				result = "expired";
			}
		}
		msg->dirty = 1;
		log_result(&msg->env, q, relay, result);
	}
}

struct child {
	pid_t pid;
	int fd;
	char buf[8192];
	size_t len;
};

/* Read what a child wrote; complete lines are applied.  0 at EOF. */
static int drain(struct relay *rl, struct child *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	char *nl;

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (r <= 0)
		return 0;
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	while ((nl = memchr(c->buf, '\n', c->len))) {
		*nl = '\0';
		apply(rl, c->buf);
		c->len -= (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len);
	}
	if (c->len == sizeof c->buf - 1)
		c->len = 0;     /* a line this long is not ours: drop it */
	return 1;
}

static int spawn(struct relay *rl, size_t ji, struct child *c)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	c->pid = fork();
	if (c->pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (c->pid == 0) {
		close(p[0]);
		relay_job(rl, &rl->jobs[ji], p[1]);
		_exit(0);
	}
	close(p[1]);
	c->fd = p[0];
	c->len = 0;
	return 0;
}

static void run_jobs(struct relay *rl)
{
	unsigned max = rl->conf->relay_concurrency ? rl->conf->relay_concurrency : 1;
	struct child *kids = xcalloc(max, sizeof *kids);
	struct pollfd *pf = xcalloc(max, sizeof *pf);
	size_t next = 0, active = 0;

	for (;;) {
		while (active < max && next < rl->njobs) {
			if (spawn(rl, next, &kids[active]) < 0) {
				log_error("fork: %s", strerror(errno));
				break;
			}
			next++;
			active++;
		}
		if (!active)
			break;
		for (size_t i = 0; i < active; i++) {
			pf[i].fd = kids[i].fd;
			pf[i].events = POLLIN;
			pf[i].revents = 0;
		}
		if (poll(pf, active, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (size_t i = 0; i < active; i++) {
			if (!pf[i].revents || drain(rl, &kids[i]))
				continue;
			close(kids[i].fd);
			waitpid(kids[i].pid, NULL, 0);
			kids[i] = kids[--active];
			pf[i] = pf[active];
			i--;
		}
	}
	free(kids);
	free(pf);
}

int relay_pass(struct relay *rl)
{
	char (*ids)[QUEUE_ID_MAX] = NULL;
	char err[256];
	long n;

	rl->now = queue_now_ms();
	rl->queued = 0;
	/* maps are replaced by rename: a long-running runner reopens them */
	maps_close(&rl->maps);
	maps_init(&rl->maps, conf_maps_dir(rl->conf));
	relay_pickup(rl);
	queue_cleanup(rl->conf, rl->now, ORPHAN_GRACE_MS);
	n = queue_scan(rl->conf, &ids);
	if (n < 0) {
		log_error("scan %s/queue: %s", rl->conf->spool, strerror(errno));
		return -1;
	}
	rl->msgs = xcalloc((size_t)n + 1, sizeof *rl->msgs);
	rl->nmsgs = 0;
	for (long i = 0; i < n; i++) {
		struct rmsg *m = &rl->msgs[rl->nmsgs];
		int rc = queue_load(rl->conf, ids[i], &m->env, err, sizeof err);

		if (rc == 1)
			continue;
		if (rc < 0) {
			/* an envelope we cannot trust is never sent */
			log_error("%s: %s; moved to badmail", ids[i], err);
			queue_badmail(rl->conf, ids[i], err, sizeof err);
			qenv_free(&m->env);
			continue;
		}
		if (m->env.hold) {
			qenv_free(&m->env);
			continue;
		}
		plan(rl, rl->nmsgs);
		rl->nmsgs++;
	}
	free(ids);
	for (size_t j = 0; j < rl->njobs; j++) {
		size_t last = (size_t)-1;
		/* recipients of a message are listed together in a job */
		for (size_t k = 0; k < rl->jobs[j].n; k++)
			if (rl->jobs[j].v[k].msg != last) {
				last = rl->jobs[j].v[k].msg;
				rl->msgs[last].jobs++;
			}
	}
	run_jobs(rl);
	for (size_t i = 0; i < rl->nmsgs; i++) {
		/* messages no job touched (all deferred to later, expired, or a
		 * child that died before reporting) are saved or finished here */
		rl->msgs[i].jobs = 0;
		finish(rl, &rl->msgs[i]);
		qenv_free(&rl->msgs[i].env);
	}
	free(rl->msgs);
	rl->msgs = NULL;
	rl->nmsgs = 0;
	for (size_t j = 0; j < rl->njobs; j++)
		free(rl->jobs[j].v);
	free(rl->jobs);
	rl->jobs = NULL;
	rl->njobs = 0;
	return 0;
}
