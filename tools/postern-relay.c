/* postern-relay: the outbound queue runner, and the admin's view of the queue (list, flush, hold, release, remove). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "relay.h"
#include "str.h"

enum mode { M_DAEMON, M_ONCE, M_LIST, M_FLUSH, M_HOLD, M_RELEASE, M_REMOVE };

static const char usage_text[] =
	"usage: postern-relay [-C DIR] [-v] [-l | -f | -q | --once | --hold ID | --release ID | --remove ID]\n"
	"  -C DIR        instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  (no mode)     run forever: pickup, queue, retries as they fall due\n"
	"  -q, --once    one pass over pickup and the queue, then exit\n"
	"  -f            make every deferred recipient due now, then one pass\n"
	"  -l            list the queue\n"
	"  --hold ID     keep a message from being sent\n"
	"  --release ID  let a held message go again (due now)\n"
	"  --remove ID   delete a message without a bounce\n";

static void usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

/* One pass at a time per spool.  wait: block until the lock is ours
 * (admin commands), else give up when another runner has it. */
static int lock_spool(const struct conf *c, int wait)
{
	char p[CONF_PATH_MAX + 32];
	int fd;

	snprintf(p, sizeof p, "%s/.relay.lock", c->spool);
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* no CLOEXEC matters here: children inherit the lock on purpose, so
	 * a killed runner's children still keep a second runner out until
	 * they are done with the messages they have */
	while (flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return -2;
	}
	return fd;
}

static void unlock_spool(int fd)
{
	if (fd >= 0) {
		flock(fd, LOCK_UN);
		close(fd);
	}
}

static void age(long long ms, char *out, size_t len)
{
	long long s = ms / 1000;

	if (s < 120)
		snprintf(out, len, "%llds", s);
	else if (s < 7200)
		snprintf(out, len, "%lldm", s / 60);
	else if (s < 172800)
		snprintf(out, len, "%lldh", s / 3600);
	else
		snprintf(out, len, "%lldd", s / 86400);
}

static int list(const struct conf *c)
{
	char (*ids)[QUEUE_ID_MAX];
	char err[256], a[32];
	long n = queue_scan(c, &ids);
	long long now = queue_now_ms();
	struct qenv e;

	if (n < 0) {
		fprintf(stderr, "postern-relay: %s/queue: %s\n", c->spool, strerror(errno));
		return EX_TEMPFAIL;
	}
	qenv_init(&e);
	for (long i = 0; i < n; i++) {
		if (queue_load(c, ids[i], &e, err, sizeof err) != 0)
			continue;
		age(now - e.created, a, sizeof a);
		printf("%s %s %llu <%s>%s%s\n", e.id, a, e.size, e.sender,
		       e.hold ? " held" : "", e.dsn ? " bounce" : "");
		for (size_t k = 0; k < e.n; k++) {
			const struct qrcpt *r = &e.r[k];
			printf("    %s %s attempts=%u", r->addr, qstate_name(r->state), r->attempts);
			if (r->state == QS_DEFERRED) {
				age(r->next > now ? r->next - now : 0, a, sizeof a);
				printf(" next=%s", a);
			}
			if (r->reply[0])
				printf(" reply=\"%s\"", r->reply);
			printf("\n");
		}
		qenv_free(&e);
	}
	printf("%ld message%s\n", n, n == 1 ? "" : "s");
	free(ids);
	return 0;
}

/* hold, release, remove: under the spool lock, so never in the middle
 * of a pass that has the message. */
static int edit(const struct conf *c, enum mode m, const char *id)
{
	struct qenv e;
	char err[256];
	int lk, rc;

	if (!qid_ok(id)) {
		fprintf(stderr, "postern-relay: %s: not a queue id\n", id);
		return EX_USAGE;
	}
	lk = lock_spool(c, 1);
	if (lk < 0) {
		fprintf(stderr, "postern-relay: cannot lock %s: %s\n", c->spool, strerror(errno));
		return EX_TEMPFAIL;
	}
	qenv_init(&e);
	rc = queue_load(c, id, &e, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "postern-relay: %s: %s\n", id, rc > 0 ? "no such message" : err);
		unlock_spool(lk);
		return rc > 0 ? EX_NOINPUT : EX_DATAERR;
	}
	if (m == M_REMOVE) {
		rc = queue_remove(c, id);
	} else {
		e.hold = m == M_HOLD;
		if (m == M_RELEASE)
			for (size_t i = 0; i < e.n; i++)
				if (e.r[i].state == QS_DEFERRED)
					e.r[i].next = 0;
		rc = queue_save(c, &e, err, sizeof err);
	}
	{
		struct logline l;
		log_begin(&l, m == M_REMOVE ? "remove" : m == M_HOLD ? "hold" : "release");
		log_s(&l, "id", id);
		log_s(&l, "result", rc == 0 ? "ok" : "error");
		log_end(&l);
	}
	qenv_free(&e);
	unlock_spool(lk);
	return rc == 0 ? 0 : EX_TEMPFAIL;
}

/* Passes until nothing new was queued by the pass itself (a bounce or
 * a forward to deliver), at most a few. */
static int passes(struct relay *rl)
{
	int rc = 0;

	for (int i = 0; i < 4; i++) {
		rc = relay_pass(rl);
		rl->force = 0;
		if (rc < 0 || !rl->queued)
			break;
	}
	return rc;
}

/* When the next deferred recipient falls due: ms from now, capped. */
static long long next_due(const struct conf *c, long long cap)
{
	char (*ids)[QUEUE_ID_MAX];
	char err[256];
	long n = queue_scan(c, &ids);
	long long now = queue_now_ms(), best = cap;
	struct qenv e;

	qenv_init(&e);
	for (long i = 0; i < n; i++) {
		if (queue_load(c, ids[i], &e, err, sizeof err) != 0)
			continue;
		for (size_t k = 0; k < e.n && !e.hold; k++) {
			long long w = e.r[k].state == QS_PENDING ? 0 :
				      e.r[k].state == QS_DEFERRED ? e.r[k].next - now : cap;
			if (w < best)
				best = w < 0 ? 0 : w;
		}
		qenv_free(&e);
	}
	free(ids);
	return best;
}

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Run forever: a pass, then sleep until something is due or a file
 * lands in queue/ or pickup/ (inotify). */
static int daemon_loop(struct relay *rl)
{
	char p[CONF_PATH_MAX + 32], evbuf[4096];
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (in >= 0) {
		snprintf(p, sizeof p, "%s/queue", rl->conf->spool);
		inotify_add_watch(in, p, IN_MOVED_TO);
		snprintf(p, sizeof p, "%s/pickup", rl->conf->spool);
		inotify_add_watch(in, p, IN_MOVED_TO | IN_CLOSE_WRITE);
	}
	while (!stopping) {
		int lk = lock_spool(rl->conf, 1);
		long long w;
		struct pollfd pf;

		if (lk < 0) {
			log_error("cannot lock the spool: %s", strerror(errno));
			return EX_TEMPFAIL;
		}
		passes(rl);
		unlock_spool(lk);
		/* drain events that our own pass caused */
		while (in >= 0 && read(in, evbuf, sizeof evbuf) > 0)
			;
		w = next_due(rl->conf, 60000);
		pf.fd = in;
		pf.events = POLLIN;
		if (w > 0 && !stopping)
			poll(&pf, in >= 0 ? 1 : 0, (int)w);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, 'q' },
		{ "hold", required_argument, NULL, 'H' },
		{ "release", required_argument, NULL, 'R' },
		{ "remove", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct conf conf;
	struct relay rl;
	enum mode mode = M_DAEMON;
	const char *dir = NULL, *id = NULL;
	char err[CONF_ERR_MAX];
	int ch, modes = 0, rc, lk;

	log_init("postern-relay");
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "C:lfqvh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C': dir = optarg; break;
		case 'l': mode = M_LIST; modes++; break;
		case 'f': mode = M_FLUSH; modes++; break;
		case 'q': mode = M_ONCE; modes++; break;
		case 'H': mode = M_HOLD; id = optarg; modes++; break;
		case 'R': mode = M_RELEASE; id = optarg; modes++; break;
		case 'D': mode = M_REMOVE; id = optarg; modes++; break;
		case 'v': break;
		case 'h': usage(0); break;
		default: usage(EX_USAGE);
		}
	}
	if (modes > 1 || optind != argc)
		usage(EX_USAGE);
	if (conf_load(&conf, dir, err, sizeof err) < 0) {
		fprintf(stderr, "postern-relay: %s\n", err);
		log_error("config: %s", err);
		return EX_CONFIG;
	}
	if (conf.smarthost[0]) {
		struct route r;
		if (route_hostport(conf.smarthost, &r, err, sizeof err) < 0) {
			fprintf(stderr, "postern-relay: smarthost: %s\n", err);
			return EX_CONFIG;
		}
	}
	if (priv_drop(conf.user, err, sizeof err) < 0) {
		fprintf(stderr, "postern-relay: %s\n", err);
		log_error("privileges: %s", err);
		return EX_CONFIG;
	}
	if (queue_setup(&conf, err, sizeof err) < 0) {
		fprintf(stderr, "postern-relay: %s\n", err);
		log_error("spool: %s", err);
		return EX_TEMPFAIL;
	}
	if (mode == M_LIST)
		return list(&conf);
	if (mode == M_HOLD || mode == M_RELEASE || mode == M_REMOVE)
		return edit(&conf, mode, id);

	memset(&rl, 0, sizeof rl);
	rl.conf = &conf;
	rl.res = &resolver_system;
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	maps_init(&rl.maps, conf_maps_dir(&conf));
	if (mode == M_DAEMON) {
		rc = daemon_loop(&rl);
		maps_close(&rl.maps);
		return rc;
	}
	rl.force = mode == M_FLUSH;
	/* -f waits its turn; a plain pass leaves the work to the runner
	 * that has the lock */
	lk = lock_spool(&conf, mode == M_FLUSH);
	if (lk == -2) {
		maps_close(&rl.maps);
		return 0;
	}
	if (lk < 0) {
		fprintf(stderr, "postern-relay: cannot lock %s: %s\n", conf.spool, strerror(errno));
		maps_close(&rl.maps);
		return EX_TEMPFAIL;
	}
	rc = passes(&rl);
	unlock_spool(lk);
	maps_close(&rl.maps);
	return rc < 0 ? EX_TEMPFAIL : 0;
}
