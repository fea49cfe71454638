/* Where an accepted message goes: the maildir store in this process, or
 * the deliver program over a pipe with its commit protocol (-c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "smtp.h"
#include "str.h"

extern char **environ;

/* deliver sits beside us once installed (libexecdir/postern), or in its
 * own directory of the build tree. */
static int deliver_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	snprintf(out, len, "%s/deliver", self);
	if (access(out, X_OK) == 0)
		return 0;
	snprintf(out, len, "%s/../deliver/deliver", self);
	return access(out, X_OK) == 0 ? 0 : -1;
}

static int spawn_deliver(struct session *s, char *err, size_t errlen)
{
	struct sink *k = &s->sink;
	char path[PATH_MAX + 32];
	char **argv;
	size_t argc = 0;
	int in[2] = { -1, -1 }, ch[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	int rc;

	if (deliver_path(path, sizeof path) < 0) {
		snprintf(err, errlen, "cannot find the deliver program");
		return -1;
	}
	if (pipe2(in, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	argv = xcalloc(s->set.n + s->fwd.n + 10, sizeof *argv);
	argv[argc++] = "deliver";
	argv[argc++] = "-C";
	argv[argc++] = s->conf.dir;
	argv[argc++] = "-f";
	argv[argc++] = s->from.text;
	argv[argc++] = "-c";
	argv[argc++] = "3";
	argv[argc++] = "--";
	/* final mailboxes: deliver resolves them to themselves */
	for (size_t i = 0; i < s->set.n; i++)
		argv[argc++] = s->set.v[i].addr;
	/* remote recipients: deliver queues them */
	for (size_t i = 0; i < s->fwd.n; i++)
		argv[argc++] = s->fwd.v[i];
	argv[argc] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	/* never the client's socket: deliver must not write into the session */
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, ch[1], 3);
	rc = posix_spawn(&k->pid, path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	close(in[0]);
	close(ch[1]);
	in[0] = ch[1] = -1;
	if (rc != 0) {
		snprintf(err, errlen, "spawn %s: %s", path, strerror(rc));
		k->pid = 0;
		goto fail;
	}
	k->pipe = in[1];
	k->chan = ch[0];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (ch[i] >= 0)
			close(ch[i]);
	}
	return -1;
}

/* Internal delivery: the maildir store for local mailboxes, the queue
 * for remote recipients, committed together (see lib/queue.h). */
static int internal_open(struct session *s, char *err, size_t errlen)
{
	struct sink *k = &s->sink;
	char rp[ADDR_PATH_MAX * 2 + 32];
	int n;

	if (s->set.n) {
		k->sopen = 1;
		if (store_open(&k->store, &s->conf, &s->set, err, errlen) < 0)
			return -1;
		/* Return-Path belongs to the mailboxes, not to the next MTA */
		n = snprintf(rp, sizeof rp, "Return-Path: <%s>\n", s->from.text);
		if (store_write(&k->store, rp, (size_t)n) < 0)
			k->failed = 1;
	}
	if (s->fwd.n) {
		const char **list = xcalloc(s->fwd.n, sizeof *list);
		int rc;

		for (size_t i = 0; i < s->fwd.n; i++)
			list[i] = s->fwd.v[i];
		k->qopen = 1;
		rc = queue_open(&k->queue, &s->conf, s->from.text, list, s->fwd.n, err, errlen);
		free(list);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int sink_open(struct session *s, char *err, size_t errlen)
{
	struct sink *k = &s->sink;

	memset(k, 0, sizeof *k);
	k->store.fd = -1;
	k->queue.fd = -1;
	k->pipe = k->chan = -1;
	k->open = 1;
	if (s->conf.delivery == DELIVERY_DELIVER) {
		if (spawn_deliver(s, err, errlen) < 0) {
			k->open = 0;
			return -1;
		}
	} else if (internal_open(s, err, errlen) < 0) {
		sink_abort(s);
		return -1;
	}
	return 0;
}

int sink_write(struct session *s, const char *p, size_t n)
{
	struct sink *k = &s->sink;

	if (k->failed)
		return -1;
	if (k->pipe < 0) {
		if ((k->sopen && store_write(&k->store, p, n) < 0) ||
		    (k->qopen && queue_write(&k->queue, p, n) < 0))
			k->failed = 1;
		return k->failed ? -1 : 0;
	}
	while (n) {
		ssize_t w = write(k->pipe, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			k->failed = 1;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Wait for deliver to exit; its status or -1. */
static int reap(struct sink *k)
{
	int st;

	if (k->pid <= 0)
		return -1;
	while (waitpid(k->pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	k->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int sink_commit(struct session *s, char *err, size_t errlen)
{
	struct sink *k = &s->sink;
	char reply[256];
	size_t got = 0;
	int rc = -1;

	k->open = 0;
	if (k->pipe < 0 && k->chan < 0) {
		/* queue data durable first, then the mailboxes, then the
		 * envelope: at most a duplicate, never a loss */
		if (k->failed) {
			/* say why, as deliver does: "No space left on device" */
			int e = k->store.saved_errno ? k->store.saved_errno : k->queue.saved_errno;
			snprintf(err, errlen, "writing the message: %s", e ? strerror(e) : "a write failed");
			goto internal_fail;
		}
		if (k->qopen && queue_prepare(&k->queue, err, errlen) < 0)
			goto internal_fail;
		if (k->sopen && store_commit(&k->store, err, errlen) < 0)
			goto internal_fail;
		k->sopen = 0;
		if (k->qopen && queue_commit(&k->queue, err, errlen) < 0)
			goto internal_fail;
		if (k->qopen)
			queue_abort(&k->queue);  /* frees; the files are the runner's now */
		k->qopen = 0;
		return 0;
internal_fail:
		if (k->sopen)
			store_abort(&k->store);
		if (k->qopen)
			queue_abort(&k->queue);
		k->sopen = k->qopen = 0;
		return -1;
	}
	close(k->pipe);
	k->pipe = -1;
	if (!k->failed && write(k->chan, "C", 1) == 1) {
		/* "OK\n" or "ERR reason\n"; deliver fsyncs first, so allow time */
		while (got < sizeof reply - 1) {
			struct pollfd p = { .fd = k->chan, .events = POLLIN };
			ssize_t r;
			if (poll(&p, 1, 120000) <= 0)
				break;
			r = read(k->chan, reply + got, sizeof reply - 1 - got);
			if (r <= 0)
				break;
			got += (size_t)r;
			if (memchr(reply, '\n', got))
				break;
		}
		reply[got] = '\0';
		reply[strcspn(reply, "\n")] = '\0';
		if (!strcmp(reply, "OK"))
			rc = 0;
		else
			snprintf(err, errlen, "deliver: %s", got ? reply : "no answer");
	} else {
		snprintf(err, errlen, "deliver: message not handed over");
	}
	close(k->chan);
	k->chan = -1;
	if (reap(k) != 0 && rc == 0) {
		snprintf(err, errlen, "deliver exited with an error after OK");
		rc = -1;
	}
	return rc;
}

void sink_abort(struct session *s)
{
	struct sink *k = &s->sink;

	if (!k->open)
		return;
	k->open = 0;
	if (k->pipe < 0 && k->chan < 0 && !k->pid) {
		if (k->sopen)
			store_abort(&k->store);
		if (k->qopen)
			queue_abort(&k->queue);
		k->sopen = k->qopen = 0;
		return;
	}
	/* closing the channel without 'C' is deliver's signal to throw away */
	if (k->pipe >= 0)
		close(k->pipe);
	if (k->chan >= 0)
		close(k->chan);
	k->pipe = k->chan = -1;
	reap(k);
}
