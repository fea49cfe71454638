/* Buffered fd I/O with a hard line cap and absolute deadlines.
 *
 * Reads wait at most the idle timeout and never past the absolute session
 * deadline.  A reader may be tied to a writer: the writer is flushed only
 * when the reader is about to block, so a pipelined batch of commands gets
 * one write with all its replies.  The low-level read/write functions are
 * hooks so a TLS layer can slot in under the same buffers. */
#ifndef POSTERN_IO_H
#define POSTERN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	IO_OK = 0,
	IO_EOF = -1,      /* peer closed */
	IO_TIMEOUT = -2,  /* idle timeout or session deadline passed */
	IO_ERR = -3,      /* read/write error */
	IO_LONG = -4,     /* line longer than the cap (the line was skipped) */
};

struct io_ops {
	ssize_t (*read)(void *ctx, void *buf, size_t n);
	ssize_t (*write)(void *ctx, const void *buf, size_t n);
	size_t (*pending)(void *ctx);   /* bytes buffered below us (TLS) */
	void *ctx;
};

struct io_out;

struct io_in {
	int fd;
	char *buf;
	size_t cap, start, end;
	int idle_ms;             /* max wait per read; <= 0: none */
	int64_t deadline;        /* absolute, io_now_ms() clock; 0: none */
	struct io_out *flush;    /* flushed before blocking */
	const struct io_ops *ops;/* NULL: plain read(2) */
	unsigned long long total;/* bytes read so far */
	int err;                 /* last error (IO_*) */
	int quickack;            /* io_fill acknowledges each read at once
				  * (TCP_QUICKACK): set while message data
				  * arrives, so a client that writes the last
				  * few bytes separately without TCP_NODELAY
				  * does not wait for a delayed ACK */
};

struct io_out {
	int fd;
	char *buf;
	size_t cap, len;
	int idle_ms;
	int64_t deadline;
	const struct io_ops *ops;
	unsigned long long total;
	int err;
	int not_socket;          /* fd is not a socket: no MSG_DONTWAIT try */
};

int64_t io_now_ms(void);
/* Wait until fd is ready for events (POLLIN/POLLOUT) within idle_ms and
 * before deadline: IO_OK, IO_TIMEOUT or IO_ERR.  For layers below the
 * buffers (a TLS handshake) that must keep the same time limits. */
int io_wait(int fd, short events, int idle_ms, int64_t deadline);

void io_in_init(struct io_in *in, int fd, size_t bufsize);
void io_in_free(struct io_in *in);
/* Make sure at least one byte is buffered: IO_OK, IO_EOF, IO_TIMEOUT, IO_ERR. */
int io_fill(struct io_in *in);
/* Bytes already buffered (no syscall). */
size_t io_buffered(const struct io_in *in);
/* Pointer to the buffered bytes; consume with io_skip. */
const char *io_peek(const struct io_in *in);
/* The same bytes, writable: for a reader that rewrites what it consumes
 * in place (before io_skip()). */
char *io_peek_rw(struct io_in *in);
void io_skip(struct io_in *in, size_t n);
/* Throw away everything buffered (STARTTLS). Returns the number dropped. */
size_t io_discard(struct io_in *in);
/* True when input is readable right now without blocking (poll 0). */
int io_readable_now(struct io_in *in);

/* Read one line of at most cap bytes (terminator excluded).  On IO_OK,
 * *line points into the buffer (valid until the next call), *len is its
 * length without the terminator, *crlf says whether it ended in CRLF (else
 * bare LF).  A longer line is consumed up to and including its LF without
 * growing memory and IO_LONG is returned.  cap must be < bufsize - 1. */
int io_getline(struct io_in *in, size_t cap, char **line, size_t *len, int *crlf);

void io_out_init(struct io_out *out, int fd, size_t bufsize);
void io_out_free(struct io_out *out);
int io_put(struct io_out *out, const char *p, size_t n);
int io_puts(struct io_out *out, const char *s);
int io_printf(struct io_out *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int io_flush(struct io_out *out);

#endif
