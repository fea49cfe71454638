/* Buffered fd I/O with line caps and deadlines; see io.h. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "io.h"
#include "str.h"

int64_t io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long poll may wait: the idle timeout, cut short by the deadline.
 * 0 means the deadline has already passed. */
static int wait_ms(int idle_ms, int64_t deadline)
{
	int64_t w = idle_ms > 0 ? idle_ms : -1;

	if (deadline) {
		int64_t left = deadline - io_now_ms();
		if (left <= 0)
			return 0;
		if (w < 0 || left < w)
			w = left;
	}
	return (int)w;
}

/* Wait until fd is ready for events; IO_OK or IO_TIMEOUT/IO_ERR. */
int io_wait(int fd, short events, int idle_ms, int64_t deadline)
{
	struct pollfd p;
	int r, w;

	for (;;) {
		w = wait_ms(idle_ms, deadline);
		if (w == 0)
			return IO_TIMEOUT;
		p.fd = fd;
		p.events = events;
		p.revents = 0;
		r = poll(&p, 1, w);
		if (r > 0)
			return IO_OK;   /* readable, or HUP/ERR: read() will tell */
		if (r == 0)
			return IO_TIMEOUT;
		if (errno != EINTR)
			return IO_ERR;
	}
}

void io_in_init(struct io_in *in, int fd, size_t bufsize)
{
	memset(in, 0, sizeof *in);
	in->fd = fd;
	in->cap = bufsize;
	in->buf = xmalloc(bufsize);
}

void io_in_free(struct io_in *in)
{
	free(in->buf);
	in->buf = NULL;
}

size_t io_buffered(const struct io_in *in)
{
	return in->end - in->start;
}

char *io_peek_rw(struct io_in *in)
{
	return in->buf + in->start;
}

const char *io_peek(const struct io_in *in)
{
	return in->buf + in->start;
}

void io_skip(struct io_in *in, size_t n)
{
	if (n > in->end - in->start)
		n = in->end - in->start;
	in->start += n;
	if (in->start == in->end)
		in->start = in->end = 0;
}

size_t io_discard(struct io_in *in)
{
	size_t n = in->end - in->start;

	in->start = in->end = 0;
	return n;
}

int io_readable_now(struct io_in *in)
{
	struct pollfd p = { .fd = in->fd, .events = POLLIN };

	if (io_buffered(in) || (in->ops && in->ops->pending && in->ops->pending(in->ops->ctx)))
		return 1;
	return poll(&p, 1, 0) > 0;
}

/* After the Nagle-delayed part of a write (the final ".\r\n" of a message,
 * say) a client waits for our ACK, which Linux delays by up to 40 ms once
 * a connection looks interactive.  Asking for quick ACKs after each read
 * of message data sends it at once.  Not TCP (a pipe): stop asking. */
static void ack_now(struct io_in *in)
{
	int one = 1;

	if (setsockopt(in->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one) < 0)
		in->quickack = 0;
}

int io_fill(struct io_in *in)
{
	ssize_t r;
	int w;

	if (in->end > in->start)
		return IO_OK;
	in->start = in->end = 0;
	/* The moment we would block is the moment replies must go out. */
	if (in->flush && in->flush->len && io_flush(in->flush) < 0)
		return in->err = in->flush->err;
	for (;;) {
		if (in->deadline && io_now_ms() >= in->deadline)
			return in->err = IO_TIMEOUT;
		if (!(in->ops && in->ops->pending && in->ops->pending(in->ops->ctx))) {
			w = io_wait(in->fd, POLLIN, in->idle_ms, in->deadline);
			if (w != IO_OK)
				return in->err = w;
		}
		if (in->ops)
			r = in->ops->read(in->ops->ctx, in->buf, in->cap);
		else
			r = read(in->fd, in->buf, in->cap);
		if (r > 0) {
			in->end = (size_t)r;
			in->total += (unsigned long long)r;
			if (in->quickack)
				ack_now(in);
			return IO_OK;
		}
		if (r == 0)
			return in->err = IO_EOF;
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			continue;
		return in->err = IO_ERR;
	}
}

int io_getline(struct io_in *in, size_t cap, char **line, size_t *len, int *crlf)
{
	int skipping = 0, r;

	for (;;) {
		char *s = in->buf + in->start;
		size_t have = in->end - in->start;
		char *lf = memchr(s, '\n', have);

		if (lf) {
			size_t n = (size_t)(lf - s);
			io_skip(in, n + 1);
			if (skipping)
				return IO_LONG;
			*crlf = n > 0 && s[n - 1] == '\r';
			if (*crlf)
				n--;
			if (n > cap)
				return IO_LONG;
			*line = s;
			*len = n;
			s[n] = '\0';
			return IO_OK;
		}
		/* cap + CR + LF must fit; anything longer is dropped as it
		 * arrives so memory never grows with the line */
		if (have > cap + 1) {
			skipping = 1;
			/* keep a trailing CR: it may pair with the next LF */
			io_skip(in, have);
		} else if (in->start > 0) {
			memmove(in->buf, s, have);
			in->start = 0;
			in->end = have;
		}
		if (in->end == in->cap) {
			skipping = 1;
			io_skip(in, in->cap);
		}
		/* read more after what we have */
		{
			ssize_t got;
			int w;

			if (in->flush && in->flush->len && io_flush(in->flush) < 0)
				return in->err = in->flush->err;
			if (in->deadline && io_now_ms() >= in->deadline)
				return in->err = IO_TIMEOUT;
			if (!(in->ops && in->ops->pending && in->ops->pending(in->ops->ctx))) {
				w = io_wait(in->fd, POLLIN, in->idle_ms, in->deadline);
				if (w != IO_OK)
					return in->err = w;
			}
			if (in->ops)
				got = in->ops->read(in->ops->ctx, in->buf + in->end, in->cap - in->end);
			else
				got = read(in->fd, in->buf + in->end, in->cap - in->end);
			if (got > 0) {
				in->end += (size_t)got;
				in->total += (unsigned long long)got;
				continue;
			}
			if (got == 0)
				return in->err = IO_EOF;
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			r = IO_ERR;
			return in->err = r;
		}
	}
}

void io_out_init(struct io_out *out, int fd, size_t bufsize)
{
	memset(out, 0, sizeof *out);
	out->fd = fd;
	out->cap = bufsize;
	out->buf = xmalloc(bufsize);
}

void io_out_free(struct io_out *out)
{
	free(out->buf);
	out->buf = NULL;
}

/* A socket with room in its send buffer takes the bytes at once: try
 * that first, without blocking, and wait (poll) only when it is full.
 * Anything else (a pipe, a file: transcripts) goes the waiting way. */
static ssize_t try_send(struct io_out *out, const char *p, size_t n)
{
	ssize_t r;

	if (out->ops || out->not_socket)
		return 0;
	if (out->deadline && io_now_ms() >= out->deadline)
		return 0;
	r = send(out->fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	if (errno == ENOTSOCK)
		out->not_socket = 1;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		return -1;
	return 0;
}

static int write_all(struct io_out *out, const char *p, size_t n)
{
	ssize_t sent = try_send(out, p, n);

	if (sent < 0)
		return out->err = IO_ERR;
	p += sent;
	n -= (size_t)sent;
	out->total += (unsigned long long)sent;
	while (n) {
		ssize_t r;
		int w = io_wait(out->fd, POLLOUT, out->idle_ms, out->deadline);

		if (w != IO_OK)
			return out->err = w;
		if (out->ops)
			r = out->ops->write(out->ops->ctx, p, n);
		else
			r = write(out->fd, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			out->total += (unsigned long long)r;
			continue;
		}
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		return out->err = IO_ERR;
	}
	return IO_OK;
}

int io_flush(struct io_out *out)
{
	int r;

	if (out->err)
		return -1;
	if (!out->len)
		return 0;
	r = write_all(out, out->buf, out->len);
	out->len = 0;
	return r == IO_OK ? 0 : -1;
}

int io_put(struct io_out *out, const char *p, size_t n)
{
	if (out->err)
		return -1;
	if (n > out->cap - out->len) {
		if (io_flush(out) < 0)
			return -1;
		if (n > out->cap)
			return write_all(out, p, n) == IO_OK ? 0 : -1;
	}
	memcpy(out->buf + out->len, p, n);
	out->len += n;
	return 0;
}

int io_puts(struct io_out *out, const char *s)
{
	return io_put(out, s, strlen(s));
}

int io_printf(struct io_out *out, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof tmp)
		n = sizeof tmp - 1;
	return io_put(out, tmp, (size_t)n);
}
