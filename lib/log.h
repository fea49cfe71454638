/* One key=value line per event on stderr.
 *
 *   struct logline l;
 *   log_begin(&l, "connect");
 *   log_s(&l, "ip", ip);
 *   log_u(&l, "port", port);
 *   log_end(&l);
 *
 * prints "smtp-session[123]: event=connect ip=192.0.2.1 port=4711".
 * Values with spaces, quotes or '=' are quoted; control and 8-bit bytes
 * are escaped as \xHH, so a line never carries CR, LF or NUL from the
 * network.  Lines are capped at LOG_LINE_MAX bytes. */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stddef.h>

#define LOG_LINE_MAX 1024

struct logline {
	char buf[LOG_LINE_MAX];
	size_t len;
	int truncated;
};

/* Set the program name.  When stderr is the client's socket (inetd,
 * xinetd), events go to syslog (facility mail) instead and stderr is
 * never written. */
void log_init(const char *prog);
int log_to_syslog(void);
const char *log_prog(void);
void log_begin(struct logline *l, const char *event);
void log_s(struct logline *l, const char *key, const char *val);
void log_sn(struct logline *l, const char *key, const char *val, size_t n);
void log_u(struct logline *l, const char *key, unsigned long long v);
void log_i(struct logline *l, const char *key, long long v);
void log_end(struct logline *l);

/* Shorthand for single-purpose messages: event=error msg="..." */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formatting helper exposed for tests: append key=value to l. */
void log_escape_value(struct logline *l, const char *val, size_t n);

#endif
