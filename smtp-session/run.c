/* smtp-session: the banner and the command loop of one connection. */
#include "config.h"

#include "smtp.h"

void session_run(struct session *s)
{
	session_banner(s);
	for (;;) {
		char *line;
		size_t len;
		int crlf;
		int r = io_getline(&s->in, s->conf.line_max, &line, &len, &crlf);

		if (r == IO_LONG) {
			s->errors++;
			if (++s->long_lines >= 3) {
				session_reply(s, "421 4.7.0 Too many overlong lines, closing connection");
				session_end(s, "long-lines");
				break;
			}
			session_reply(s, "500 5.5.2 Error: line too long");
			if (s->errors >= s->conf.max_errors) {
				session_reply(s, "421 4.7.0 Too many errors, closing connection");
				session_end(s, "too-many-errors");
				break;
			}
			continue;
		}
		if (r != IO_OK) {
			if (r == IO_TIMEOUT)
				session_reply(s, "421 4.4.2 Timeout, closing connection");
			session_end(s, r == IO_TIMEOUT ? "timeout" : r == IO_EOF ? "eof" : "io-error");
			break;
		}
		if (session_command(s, line, len) < 0) {
			if (s->quit)
				session_end(s, "quit");
			break;
		}
	}
	io_flush(&s->out);
}
