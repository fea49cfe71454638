/*
 * limits: what this machine can do at best, so that each postern figure in
 * bench/run can be read as a fraction of it.  Not part of the build or the
 * test suite; bench/run compiles it into its temporary directory.
 *
 *   limits fsync DIR FILES WRITERS [SIZE]
 *       WRITERS processes, FILES files in all: create a SIZE-byte file in
 *       DIR/tmp, write, fsync, rename into DIR/new, fsync DIR/new -- the
 *       floor of one durable maildir delivery.  Prints files/s.
 *   limits fsync-unnamed DIR FILES WRITERS [SIZE]
 *       the same with an unnamed file: open DIR/tmp with O_TMPFILE, write,
 *       link it into DIR/new through /proc/self/fd, fsync it, fsync
 *       DIR/new (tmp/ is never written).  Prints files/s.
 *   limits spawn PROG N
 *       fork+execve+waitpid and posix_spawn+waitpid of PROG, N times each.
 *       Prints per-spawn milliseconds and spawns/s.
 *   limits tcp MB
 *       one loopback TCP connection, MB megabytes in 64 KiB writes.  MB/s.
 *
 * Built with -DTRIVIAL it is the trivial program for "spawn" instead (and,
 * given an argument, a banner-only handler for systemd-socket-activate).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef TRIVIAL
int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		static const char b[] = "220 limit ESMTP\r\n";
		if (write(1, b, sizeof b - 1) < 0)
			return 1;
	}
	return 0;
}
#else

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void writer(const char *dir, int id, long files, size_t size, int go, int unnamed)
{
	char tmp[4096], dst[4096], newdir[4096], tmpdir[4096];
	char *buf = malloc(size);
	char c;
	int dfd;

	if (!buf)
		die("malloc");
	memset(buf, 'x', size);
	snprintf(newdir, sizeof newdir, "%s/new", dir);
	snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
	if (read(go, &c, 1) < 0)
		die("read");
	dfd = open(newdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die(newdir);
	for (long i = 0; i < files; i++) {
		snprintf(tmp, sizeof tmp, "%s/tmp/%d.%ld", dir, id, i);
		snprintf(dst, sizeof dst, "%s/new/%d.%ld", dir, id, i);
		int fd = unnamed ? open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)
				 : open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			die(tmp);
		for (size_t off = 0; off < size;) {
			ssize_t w = write(fd, buf + off, size - off);
			if (w < 0)
				die("write");
			off += (size_t)w;
		}
		if (unnamed) {
			snprintf(tmp, sizeof tmp, "/proc/self/fd/%d", fd);
			if (linkat(AT_FDCWD, tmp, AT_FDCWD, dst, AT_SYMLINK_FOLLOW) < 0)
				die("linkat");
			if (fsync(fd) < 0)
				die("fsync");
			close(fd);
		} else {
			if (fsync(fd) < 0)
				die("fsync");
			close(fd);
			if (rename(tmp, dst) < 0)
				die("rename");
		}
		if (fsync(dfd) < 0)
			die("fsync dir");
	}
	_exit(0);
}

static int do_fsync(const char *dir, long files, int writers, size_t size, int unnamed)
{
	char p[4096];
	int go[2];
	pid_t *pids = calloc((size_t)writers, sizeof *pids);
	double t0, t1;

	snprintf(p, sizeof p, "%s/tmp", dir);
	mkdir(dir, 0700);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/new", dir);
	mkdir(p, 0700);
	if (pipe(go) < 0)
		die("pipe");
	for (int w = 0; w < writers; w++) {
		long n = files / writers + (w < files % writers);
		pids[w] = fork();
		if (pids[w] < 0)
			die("fork");
		if (pids[w] == 0) {
			close(go[1]);
			writer(dir, w, n, size, go[0], unnamed);
		}
	}
	close(go[0]);
	t0 = now();
	close(go[1]); /* everyone starts */
	for (int w = 0; w < writers; w++) {
		int st;
		if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			die("writer failed");
	}
	t1 = now();
	printf("%s writers=%d files=%ld size=%zu seconds=%.3f files_per_s=%.1f ms_per_file=%.3f\n",
	       unnamed ? "fsync-unnamed" : "fsync", writers, files, size, t1 - t0, files / (t1 - t0), (t1 - t0) * 1000 / files * writers);
	return 0;
}

static int do_spawn(const char *prog, int n)
{
	char *argv[] = { (char *)prog, NULL };
	double t0, t1;
	int st;

	t0 = now();
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0) {
			execve(prog, argv, environ);
			_exit(127);
		}
		if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			die("fork+exec child");
	}
	t1 = now();
	printf("fork+exec prog=%s n=%d ms_each=%.3f per_s=%.1f\n", prog, n, (t1 - t0) * 1000 / n, n / (t1 - t0));

	t0 = now();
	for (int i = 0; i < n; i++) {
		pid_t p;
		int e = posix_spawn(&p, prog, NULL, NULL, argv, environ);
		if (e) {
			errno = e;
			die("posix_spawn");
		}
		if (waitpid(p, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			die("posix_spawn child");
	}
	t1 = now();
	printf("posix_spawn prog=%s n=%d ms_each=%.3f per_s=%.1f\n", prog, n, (t1 - t0) * 1000 / n, n / (t1 - t0));
	return 0;
}

static int do_tcp(long mb)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	static char buf[65536];
	long long total = mb * 1048576LL, got = 0;
	double t0, t1;
	pid_t p;
	int st;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) < 0)
		die("listen");
	p = fork();
	if (p < 0)
		die("fork");
	if (p == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof sa) < 0)
			die("connect");
		memset(buf, 'x', sizeof buf);
		for (long long sent = 0; sent < total;) {
			ssize_t w = write(c, buf, sizeof buf);
			if (w < 0)
				die("write");
			sent += w;
		}
		close(c);
		_exit(0);
	}
	int c = accept(ls, NULL, NULL);
	if (c < 0)
		die("accept");
	t0 = now();
	for (;;) {
		ssize_t r = read(c, buf, sizeof buf);
		if (r < 0)
			die("read");
		if (r == 0)
			break;
		got += r;
	}
	t1 = now();
	waitpid(p, &st, 0);
	printf("tcp loopback MB=%lld seconds=%.3f MB_per_s=%.1f\n", got / 1048576, t1 - t0, got / 1048576.0 / (t1 - t0));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && (!strcmp(argv[1], "fsync") || !strcmp(argv[1], "fsync-unnamed")))
		return do_fsync(argv[2], atol(argv[3]), atoi(argv[4]), argc > 5 ? (size_t)atol(argv[5]) : 10240,
				!strcmp(argv[1], "fsync-unnamed"));
	if (argc == 4 && !strcmp(argv[1], "spawn"))
		return do_spawn(argv[2], atoi(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "tcp"))
		return do_tcp(atol(argv[2]));
	fputs("usage: limits fsync|fsync-unnamed DIR FILES WRITERS [SIZE] | spawn PROG N | tcp MB\n", stderr);
	return 64;
}
#endif
