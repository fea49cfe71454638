/* Listener mode: accept, fork, reap; see listen.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "listen.h"
#include "log.h"
#include "map.h"
#include "priv.h"
#include "store.h"
#include "str.h"
#include "tlsmod.h"

/* systemd passes sockets from fd 3 on */
#define LISTEN_FD0 3

/* A decimal number without sign or spaces, at most 9 digits. */
static int small_number(const char *s, long *out)
{
	long v = 0;
	size_t i;

	if (!s || !*s)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 9)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int listen_env(const char *fds, const char *pid, long me)
{
	long n, p;

	if (!fds)
		return 0;
	if (small_number(fds, &n) < 0 || n > LISTEN_MAX)
		return -1;
	/* inherited from a parent that was socket-activated: not ours */
	if (small_number(pid, &p) < 0 || p != me)
		return 0;
	return (int)n;
}

static int is_listening(int fd)
{
	int v = 0;
	socklen_t l = sizeof v;

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l) == 0 && v;
}

int listen_find(int *fds, char *err, size_t errlen)
{
	const char *e = getenv("LISTEN_FDS");
	int n = listen_env(e, getenv("LISTEN_PID"), (long)getpid()), k = 0;

	if (n < 0)
		snprintf(err, errlen, "LISTEN_FDS=%.20s: not a number of sockets up to %d", e, LISTEN_MAX);
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	if (n < 0)
		return -1;
	/* Accept=yes passes the connection as fd 3 too: only listening
	 * sockets make a listener */
	for (int i = 0; i < n; i++)
		if (is_listening(LISTEN_FD0 + i))
			fds[k++] = LISTEN_FD0 + i;
	if (k == 0 && is_listening(0))
		fds[k++] = 0;
	return k;
}

static void key_of(const struct sockaddr_storage *ss, unsigned char key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		memcpy(key, &in6->sin6_addr, 16);
	}
}

int listen_table_add(struct listen_table *t, pid_t pid, const unsigned char addr[16])
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		t->v = xrealloc(t->v, cap * sizeof *t->v);
		t->cap = cap;
	}
	t->v[t->n].pid = pid;
	memcpy(t->v[t->n].addr, addr, 16);
	t->v[t->n].ended = 0;
	t->n++;
	t->live++;
	return 0;
}

int listen_table_remove(struct listen_table *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].pid == pid) {
			if (!t->v[i].ended)
				t->live--;
			t->v[i] = t->v[--t->n];
			return 0;
		}
	return -1;
}

int listen_table_end(struct listen_table *t, pid_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].pid == pid) {
			if (t->v[i].ended)
				return -1;
			t->v[i].ended = 1;
			t->live--;
			return 0;
		}
	return -1;
}

size_t listen_table_count(const struct listen_table *t, const unsigned char addr[16])
{
	size_t c = 0;

	for (size_t i = 0; i < t->n; i++)
		c += !t->v[i].ended && memcmp(t->v[i].addr, addr, 16) == 0;
	return c;
}

static volatile sig_atomic_t got_chld, got_term, got_hup;
static int wake[2] = { -1, -1 };
/* children write their pid here as their session ends (session_ended) */
static int ended[2] = { -1, -1 };
static pid_t session_pid;

static void on_signal(int sig)
{
	int e = errno;

	if (sig == SIGCHLD)
		got_chld = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
	else
		got_term = 1;
	/* non-blocking: a full pipe already says "look at the flags" */
	(void)!write(wake[1], "", 1);
	errno = e;
}

static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };

static int set_signals(void (*h)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	return 0;
}

struct limits {
	unsigned max_sessions, max_per_ip;
};

/* The configuration the listener last read without error, kept in the
 * caller's struct (listen_start), which the children inherit: the
 * limits, the maps they will read (opened here, map.h, maps_warm), the
 * TLS context they will share (tlsmod.h, tlsm_prepare), both looked at
 * again at most once a second, and, while postern.conf is still the
 * file read here, the children's own configuration
 * (listen_conf_current). */
static struct conf *lconf;
static struct stat lconf_st;      /* postern.conf as read */
static int lconf_ok;              /* lconf holds a configuration */
static struct timespec maps_checked;

static void prepare_tls(void)
{
	/* a broken certificate is looked at every second: said once,
	 * and again only when the reason changes */
	static char last[CONF_PATH_MAX + 320];
	char err[sizeof last];

	if (lconf->tls == TLS_OFF)
		return;
	if (tlsm_prepare(lconf, err, sizeof err) == 0) {
		last[0] = '\0';
		return;
	}
	if (strcmp(err, last) != 0)
		log_warn("listener: TLS context not prepared (each session builds its own): %s", err);
	snprintf(last, sizeof last, "%s", err);
}

static void warm(int force)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!lconf_ok || (!force && now.tv_sec - maps_checked.tv_sec < 1))
		return;
	maps_checked = now;
	maps_warm(conf_maps_dir(lconf));
	prepare_tls();
}

static int load_limits(const char *dir, struct limits *lim)
{
	/* read aside: with an error in the file the old one stays */
	struct conf *c = xmalloc(sizeof *c);
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	struct stat st;
	int rc = conf_load_st(c, dir, &st, err, sizeof err);

	if (rc < 0)
		log_error("%s", err);
	else {
		memcpy(lconf, c, sizeof *c);
		lconf_st = st;
		lconf_ok = 1;
		lim->max_sessions = lconf->max_sessions;
		lim->max_per_ip = lconf->max_sessions_per_ip;
		/* the children drop to this user: look it up once here */
		priv_remember(lconf->user);
		/* with TLS on: the module loaded, OpenSSL initialised and the
		 * server context built once for all of them (warm() looks
		 * at the files again, at most once a second); with TLS off
		 * no key stays */
		if (lconf->tls == TLS_OFF)
			tlsm_unprepare();
		warm(1);
		store_warm();
		/* the time zone for Received: dates, read once (a change of
		 * /etc/localtime takes a restart, as in any long-running
		 * program) */
		tzset();
	}
	free(c);
	return rc;
}

/* In the child, at exit(), before the kernel closes the connection:
 * "this session has ended".  Not in the processes the session forks
 * (the PAM monitor), and not on a crash (reaping covers that). */
void listen_session_ended(void)
{
	if (session_pid && getpid() == session_pid) {
		(void)!write(ended[1], &session_pid, sizeof session_pid);
		session_pid = 0;
	}
}

static void reap(struct listen_table *t)
{
	struct logline l;
	pid_t pid, v[64];
	ssize_t r;
	int st;

	/* the messages first: a child's message is written before it can
	 * be reaped, so a pid read here is never one reused since */
	while ((r = read(ended[0], v, sizeof v)) > 0)
		for (size_t i = 0; i < (size_t)r / sizeof v[0]; i++)
			listen_table_end(t, v[i]);
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		listen_table_remove(t, pid);
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM && WTERMSIG(st) != SIGKILL) {
			log_begin(&l, "session-crash");
			log_i(&l, "pid", (long long)pid);
			log_i(&l, "signal", WTERMSIG(st));
			log_end(&l);
		}
	}
}

static void drain(void)
{
	char b[64];

	while (read(wake[0], b, sizeof b) > 0)
		;
}

/* In the child: the connection becomes fds 0 and 1, nothing of the
 * listener stays open. */
static void become_session(int c, const int *lfds, int n)
{
	set_signals(SIG_DFL);
	close(wake[0]);
	close(wake[1]);
	close(ended[0]);
	session_pid = getpid();
	atexit(listen_session_ended);
	for (int i = 0; i < n; i++)
		if (lfds[i] > 1 && lfds[i] != c)
			close(lfds[i]);
	if (c != 0)
		dup2(c, 0);
	if (c != 1)
		dup2(c, 1);
	if (c > 1)
		close(c);
}

static int accept_error_is_transient(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED ||
	       e == EPROTO || e == EPERM || e == ENETDOWN || e == EHOSTUNREACH ||
	       e == ENETUNREACH || e == ENOPROTOOPT || e == EOPNOTSUPP;
}

/* Accept on the n sockets in lfds until SIGTERM/SIGINT.  Returns only in
 * a child, with fds 0 and 1 the connection: 0 = serve it, 1 = refuse it
 * (its address has max_sessions_per_ip sessions already).  The parent
 * exits: 0 after SIGTERM/SIGINT once its sessions have ended (a second
 * signal stops the wait), EX_CONFIG if postern.conf cannot be read at
 * start, EX_OSERR if a socket fails for good. */
static int listen_serve(const int *lfds, int n, const char *dir)
{
	struct listen_table t = { 0 };
	struct limits lim;
	struct pollfd p[1 + LISTEN_MAX];
	struct logline l;
	int paused = 0, full_logged = 0;

	if (load_limits(dir, &lim) < 0)
		exit(EX_CONFIG);
	if (pipe(wake) < 0 || fcntl(wake[0], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(wake[1], F_SETFL, O_NONBLOCK) < 0 || pipe2(ended, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    set_signals(on_signal) < 0) {
		log_error("listener: %s", strerror(errno));
		exit(EX_OSERR);
	}
	for (int i = 0; i < n; i++)
		fcntl(lfds[i], F_SETFL, fcntl(lfds[i], F_GETFL) | O_NONBLOCK);
	log_begin(&l, "listen");
	log_u(&l, "sockets", (unsigned long long)n);
	log_u(&l, "max_sessions", lim.max_sessions);
	log_u(&l, "max_sessions_per_ip", lim.max_per_ip);
	log_s(&l, "instance", dir ? dir : CONF_DEFAULT_DIR);
	log_end(&l);

	while (!got_term) {
		int accepting, r;

		if (got_chld) {
			got_chld = 0;
			reap(&t);
		}
		if (got_hup) {
			got_hup = 0;
			if (load_limits(dir, &lim) == 0) {
				log_begin(&l, "reload");
				log_u(&l, "max_sessions", lim.max_sessions);
				log_u(&l, "max_sessions_per_ip", lim.max_per_ip);
				log_end(&l);
			}
		}
		if (!paused && t.live >= lim.max_sessions)
			reap(&t);
		accepting = !paused && t.live < lim.max_sessions;
		if (!accepting && !paused && !full_logged) {
			log_begin(&l, "listen-full");
			log_u(&l, "sessions", t.live);
			log_end(&l);
			full_logged = 1;
		}
		if (accepting)
			full_logged = 0;
		p[0].fd = wake[0];
		p[0].events = POLLIN;
		for (int i = 0; i < n; i++) {
			p[1 + i].fd = accepting ? lfds[i] : -1;
			p[1 + i].events = POLLIN;
			p[1 + i].revents = 0;
		}
		/* after running out of descriptors or processes, look again in 100 ms */
		r = poll(p, (nfds_t)n + 1, paused ? 100 : -1);
		paused = 0;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			log_error("listener: poll: %s", strerror(errno));
			exit(EX_OSERR);
		}
		if (p[0].revents)
			drain();
		for (int i = 0; i < n && !paused; i++) {
			if (!(p[1 + i].revents & (POLLIN | POLLERR | POLLHUP)))
				continue;
			/* a few at a time per socket, so none starves */
			for (int k = 0; k < 16 && t.live < lim.max_sessions; k++) {
				struct sockaddr_storage ss;
				socklen_t sl = sizeof ss;
				unsigned char key[16];
				int c, busy;
				pid_t pid;

				memset(&ss, 0, sizeof ss);
				c = accept(lfds[i], (struct sockaddr *)&ss, &sl);
				if (c < 0) {
					if (accept_error_is_transient(errno))
						break;
					if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
					    errno == ENOMEM) {
						log_error("listener: accept: %s (pausing)", strerror(errno));
						paused = 1;
						break;
					}
					log_error("listener: accept: %s", strerror(errno));
					exit(EX_OSERR);
				}
				key_of(&ss, key);
				busy = lim.max_per_ip && listen_table_count(&t, key) >= lim.max_per_ip;
				/* sessions that have ended but whose messages or
				 * SIGCHLD are not handled yet count no more */
				if (busy) {
					reap(&t);
					busy = listen_table_count(&t, key) >= lim.max_per_ip;
				}
				warm(0);
				pid = fork();
				if (pid == 0) {
					become_session(c, lfds, n);
					free(t.v);
					return busy;
				}
				close(c);
				if (pid < 0) {
					log_error("listener: fork: %s (pausing)", strerror(errno));
					paused = 1;
					break;
				}
				listen_table_add(&t, pid, key);
			}
		}
	}
	for (int i = 0; i < n; i++)
		close(lfds[i]);
	log_begin(&l, "listen-stop");
	log_u(&l, "sessions", t.n);
	log_end(&l);
	/* running sessions end on their own (their timeouts bound them); a
	 * second SIGTERM stops waiting */
	got_term = 0;
	while (t.n && !got_term) {
		p[0].fd = wake[0];
		p[0].events = POLLIN;
		if (poll(p, 1, 1000) > 0)
			drain();
		got_chld = 0;
		reap(&t);
	}
	free(t.v);
	exit(0);
}

int listen_start(const char *dir, struct conf *c)
{
	int fds[LISTEN_MAX], n;
	char err[128];

	n = listen_find(fds, err, sizeof err);
	if (n < 0) {
		log_error("%s", err);
		exit(EX_USAGE);
	}
	lconf = c;
	return n ? listen_serve(fds, n, dir) : 0;
}

int listen_conf_current(const char *dir)
{
	return session_pid && lconf_ok && conf_unchanged(dir, &lconf_st);
}
