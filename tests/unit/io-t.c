/* Tests for buffered I/O: line caps, long lines, deadlines, flush-before-read. */
#include "config.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "tap.h"

/* Reader over a pipe fed with `data` (closed afterwards). */
static int feed(const char *data, size_t n)
{
	int p[2];

	if (pipe(p) < 0)
		return -1;
	if (fork() == 0) {
		close(p[0]);
		while (n) {
			ssize_t w = write(p[1], data, n);
			if (w <= 0)
				_exit(1);
			data += w;
			n -= (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

int main(void)
{
	struct io_in in;
	char *line;
	size_t len;
	int crlf, r;

	{
		const char d[] = "EHLO a\r\nNOOP\nQUIT\r\n";
		int fd = feed(d, sizeof d - 1);
		io_in_init(&in, fd, 64);
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_OK && len == 6 && !memcmp(line, "EHLO a", 6) && crlf, "CRLF line");
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_OK && len == 4 && !crlf, "bare LF line flagged");
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_OK && !strcmp(line, "QUIT"), "third line");
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_EOF, "EOF after last line");
		io_in_free(&in);
		close(fd);
	}
	{
		/* exactly at the cap, one over, and a line far over the buffer */
		static char d[3 * 1024 * 1024];
		size_t n = 0;
		memset(d + n, 'a', 32); n += 32; memcpy(d + n, "\r\n", 2); n += 2;
		memset(d + n, 'b', 33); n += 33; memcpy(d + n, "\r\n", 2); n += 2;
		memset(d + n, 'c', 2 * 1024 * 1024); n += 2 * 1024 * 1024; memcpy(d + n, "\r\n", 2); n += 2;
		memcpy(d + n, "NEXT\r\n", 6); n += 6;
		int fd = feed(d, n);
		io_in_init(&in, fd, 64);
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_OK && len == 32, "line of exactly the cap accepted");
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_LONG, "line one over the cap refused");
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_LONG, "2 MB line refused");
		ok(in.cap == 64, "buffer did not grow while skipping");
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_OK && !strcmp(line, "NEXT"), "stream in step after a long line");
		io_in_free(&in);
		close(fd);
	}
	{
		/* a read that never comes ends at the idle timeout */
		int sv[2];
		int64_t t0;
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		io_in_init(&in, sv[0], 64);
		in.idle_ms = 200;
		t0 = io_now_ms();
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_TIMEOUT && io_now_ms() - t0 >= 190, "idle timeout");
		/* the absolute deadline wins over a longer idle timeout */
		in.idle_ms = 10000;
		in.deadline = io_now_ms() + 150;
		t0 = io_now_ms();
		r = io_fill(&in);
		ok(r == IO_TIMEOUT && io_now_ms() - t0 < 5000, "absolute deadline before the idle timeout");
		/* a slowloris: bytes keep coming, the deadline still ends it */
		in.deadline = io_now_ms() + 300;
		in.idle_ms = 10000;
		if (fork() == 0) {
			for (int i = 0; i < 20; i++) {
				if (write(sv[1], "a", 1) != 1)
					_exit(0);
				usleep(50000);
			}
			_exit(0);
		}
		t0 = io_now_ms();
		r = io_getline(&in, 32, &line, &len, &crlf);
		ok(r == IO_TIMEOUT && io_now_ms() - t0 < 5000, "deadline ends a trickling line");
		io_in_free(&in);
		close(sv[0]);
		close(sv[1]);
	}
	{
		/* replies wait in the buffer until the reader would block */
		int sv[2];
		struct io_out out;
		char buf[64];
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		io_in_init(&in, sv[0], 64);
		io_out_init(&out, sv[0], 64);
		in.flush = &out;
		in.idle_ms = 500;
		if (write(sv[1], "A\r\nB\r\n", 6) != 6)
			return 1;
		r = io_getline(&in, 32, &line, &len, &crlf);
		io_puts(&out, "250 A\r\n");
		r = io_getline(&in, 32, &line, &len, &crlf);
		io_puts(&out, "250 B\r\n");
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		ok(read(sv[1], buf, sizeof buf) < 0, "nothing written while input is buffered");
		r = io_getline(&in, 32, &line, &len, &crlf);   /* blocks -> flush, then timeout */
		ssize_t got = read(sv[1], buf, sizeof buf);
		ok(got == 14 && !memcmp(buf, "250 A\r\n250 B\r\n", 14), "both replies in one flush");
		/* STARTTLS: whatever is buffered can be thrown away */
		if (write(sv[1], "X\r\nY\r\n", 6) != 6)
			return 1;
		io_fill(&in);
		ok(io_discard(&in) == 6 && io_buffered(&in) == 0, "discard drops buffered input");
		io_out_free(&out);
		io_in_free(&in);
		close(sv[0]);
		close(sv[1]);
	}
	{
		/* large writes go straight out; io_printf truncates safely */
		int sv[2];
		struct io_out out;
		static char big[100000], back[100000];
		size_t got = 0;
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		io_out_init(&out, sv[0], 64);
		out.idle_ms = 2000;
		memset(big, 'z', sizeof big);
		if (fork() == 0) {
			io_put(&out, big, sizeof big);
			io_flush(&out);
			_exit(0);
		}
		while (got < sizeof back) {
			ssize_t n = read(sv[1], back + got, sizeof back - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		ok(got == sizeof big && !memcmp(big, back, got), "large write delivered whole");
		io_out_free(&out);
		close(sv[0]);
		close(sv[1]);
	}
	{
		/* a socket whose peer never reads: the first bytes go out
		 * without waiting, the rest wait, and the idle timeout ends
		 * the wait (no hang) */
		int sv[2];
		struct io_out out;
		static char big[4 * 1024 * 1024];
		int64_t t0;
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		io_out_init(&out, sv[0], 64);
		out.idle_ms = 200;
		t0 = io_now_ms();
		ok(io_put(&out, big, sizeof big) < 0 && out.err == IO_TIMEOUT &&
		   io_now_ms() - t0 >= 190 && io_now_ms() - t0 < 5000,
		   "full socket: idle timeout, not a hang");
		ok(out.total > 0 && out.total < sizeof big, "full socket: part was sent (%llu)", out.total);
		io_out_free(&out);
		close(sv[0]);
		close(sv[1]);
		/* a peer that has gone: an error, not a signal */
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		close(sv[1]);
		io_out_init(&out, sv[0], 64);
		out.idle_ms = 200;
		io_puts(&out, "221 bye\r\n");
		ok(io_flush(&out) < 0 && out.err == IO_ERR, "closed peer: IO_ERR");
		io_out_free(&out);
		close(sv[0]);
		/* a past deadline sends nothing */
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		io_out_init(&out, sv[0], 64);
		out.deadline = io_now_ms() - 1;
		io_puts(&out, "250 late\r\n");
		ok(io_flush(&out) < 0 && out.err == IO_TIMEOUT && out.total == 0, "past deadline: nothing sent");
		io_out_free(&out);
		close(sv[0]);
		close(sv[1]);
	}
	{
		/* a pipe (not a socket): written the waiting way */
		int p[2];
		struct io_out out;
		char buf[32];
		if (pipe(p) < 0)
			return 1;
		io_out_init(&out, p[1], 64);
		out.idle_ms = 1000;
		io_puts(&out, "220 pipe\r\n");
		ok(io_flush(&out) == 0 && out.not_socket, "pipe: written, marked as no socket");
		ok(read(p[0], buf, sizeof buf) == 10 && !memcmp(buf, "220 pipe\r\n", 10), "pipe: bytes arrive");
		io_out_free(&out);
		close(p[0]);
		close(p[1]);
	}
	{
		/* message data on TCP: each read is acknowledged at once
		 * (TCP_QUICKACK); on anything else the flag is dropped */
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t al = sizeof a;
		int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), sv, q = 0;
		socklen_t ql = sizeof q;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
		    getsockname(l, (struct sockaddr *)&a, &al) < 0 ||
		    connect(c, (struct sockaddr *)&a, sizeof a) < 0 || (sv = accept(l, NULL, NULL)) < 0)
			return 1;
		io_in_init(&in, sv, 64);
		in.idle_ms = 2000;
		/* commands and replies: Linux takes the connection for an
		 * interactive one and starts delaying its ACKs */
		for (int i = 0; i < 8; i++) {
			char b[16];
			if (write(c, "NOOP\r\n", 6) != 6 || io_fill(&in) != IO_OK ||
			    write(sv, "250 ok\r\n", 8) != 8 || read(c, b, sizeof b) <= 0)
				return 1;
			io_discard(&in);
		}
		if (write(c, "data\r\n", 6) != 6 || io_fill(&in) != IO_OK)
			return 1;
		io_discard(&in);
		/* (the check below can only fail when this holds) */
		if (getsockopt(sv, IPPROTO_TCP, TCP_QUICKACK, &q, &ql) == 0 && q == 0)
			ok(1, "TCP: after a command exchange, ACKs are delayed");
		else
			ok(1, "TCP: delayed ACKs # SKIP this kernel did not delay them (quick-ACK %d)", q);
		in.quickack = 1;
		if (write(c, "data\r\n", 6) != 6)
			return 1;
		ok(io_fill(&in) == IO_OK && in.quickack, "TCP: read, quick ACKs still asked for");
		ok(getsockopt(sv, IPPROTO_TCP, TCP_QUICKACK, &q, &ql) == 0 && q == 1,
		   "TCP: the socket is in quick-ACK mode after the read");
		io_in_free(&in);
		close(sv);
		close(c);
		close(l);
		int p[2];
		if (pipe(p) < 0 || write(p[1], "x", 1) != 1)
			return 1;
		io_in_init(&in, p[0], 64);
		in.idle_ms = 2000;
		in.quickack = 1;
		ok(io_fill(&in) == IO_OK && !in.quickack, "pipe: read, quick ACKs no longer asked for");
		io_in_free(&in);
		close(p[0]);
		close(p[1]);
	}
	return tap_done();
}
