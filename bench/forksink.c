/*
 * forksink PORT: the least a process-per-connection SMTP server costs.
 * Listens on 127.0.0.1:PORT, forks one child per connection; the child
 * answers 220, 250 to every command, 354 to DATA, 250 after the final
 * dot and 221 to QUIT, stores nothing and exits.  For bench/cpu-floor,
 * beside smtp-sink (one process for every connection).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	(void)!write(fd, s, strlen(s));
}

static void serve(int c)
{
	static char buf[65536];
	size_t have = 0;
	int data = 0;

	say(c, "220 forksink ESMTP\r\n");
	for (;;) {
		ssize_t r = read(c, buf + have, sizeof buf - have);
		char *p = buf, *nl;

		if (r <= 0)
			_exit(0);
		have += (size_t)r;
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf))) != NULL) {
			size_t len = (size_t)(nl - p);

			if (data) {
				if (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '\r'))) {
					data = 0;
					say(c, "250 2.0.0 Ok\r\n");
				}
			} else if (len >= 4 && !strncasecmp(p, "DATA", 4)) {
				data = 1;
				say(c, "354 go on\r\n");
			} else if (len >= 4 && !strncasecmp(p, "QUIT", 4)) {
				say(c, "221 2.0.0 Bye\r\n");
				_exit(0);
			} else
				say(c, "250 Ok\r\n");
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
		if (have == sizeof buf)
			have = 0; /* a line longer than the buffer: dropped */
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int l, one = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: forksink PORT\n");
		return 64;
	}
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 256) < 0) {
		perror("forksink");
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
	for (;;) {
		int c = accept(l, NULL, NULL);

		if (c < 0)
			continue;
		if (fork() == 0) {
			close(l);
			serve(c);
		}
		close(c);
	}
}
