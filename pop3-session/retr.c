/* pop3-session: RETR and TOP, streamed from the file in fixed buffers. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pop3.h"

#define CHUNK 16384

int retr_send(struct session *s, size_t i, long long body_lines)
{
	/* the conversion at most doubles its input */
	char in[CHUNK], out[2 * CHUNK];
	struct md_conv c;
	const char *name = maildir_name(&s->md, i);
	int fd = maildir_open(&s->md, i);
	ssize_t r;

	if (fd < 0) {
		if (errno == ENOENT) {
			/* another program removed it: the session goes on */
			io_printf(&s->out, "-ERR [SYS/TEMP] message %zu vanished\r\n", i + 1);
			return 0;
		}
		log_error("user %s: open %s: %s", s->au.addr, name, strerror(errno));
		io_printf(&s->out, "-ERR [SYS/TEMP] cannot read message %zu\r\n", i + 1);
		return 0;
	}
	if (body_lines < 0)
		io_printf(&s->out, "+OK %llu octets\r\n", s->md.v[i].size);
	else
		session_reply(s, "+OK top of message follows");
	md_conv_init(&c, body_lines);
	while (!c.done && (r = read(fd, in, sizeof in)) != 0) {
		size_t used, n;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* "+OK" is out: no way to say -ERR now, and the client
			 * must not take a truncated message as whole */
			log_error("user %s: read %s: %s", s->au.addr, name, strerror(errno));
			close(fd);
			session_end(s, "read-error");
			return -1;
		}
		n = md_conv(&c, in, (size_t)r, out, &used);
		if (io_put(&s->out, out, n) < 0)
			break;
	}
	close(fd);
	{
		size_t n = md_conv_end(&c, out);
		io_put(&s->out, out, n);
	}
	io_put(&s->out, ".\r\n", 3);
	if (s->out.err) {
		session_end(s, "write-error");
		return -1;
	}
	s->bytes += c.payload;
	if (body_lines < 0) {
		s->retrieved++;
		if (c.payload != s->md.v[i].size) {
			struct logline l;

			/* LIST told the client something else: worth knowing */
			log_begin(&l, "size-mismatch");
			log_s(&l, "user", s->au.addr);
			log_s(&l, "file", name);
			log_u(&l, "listed", s->md.v[i].size);
			log_u(&l, "sent", c.payload);
			log_end(&l);
		}
	}
	return 0;
}
