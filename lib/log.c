/* key=value event lines on stderr; see log.h. */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *progname = "postern";
static int use_syslog;

/* Is stderr a TCP socket?  inetd and xinetd (and systemd with
 * StandardError=inherit) hand the client's socket to fd 2 as well, and so
 * does anything we start from there; a log line written to it would go to
 * the client.  journald's stream is a unix socket and stays in use. */
static int stderr_is_network(void)
{
	/* zeroed: a short address leaves no garbage in ss_family */
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof ss;

	if (getsockname(2, (struct sockaddr *)&ss, &sl) < 0)
		return 0;
	return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

void log_init(const char *prog)
{
	const char *slash = strrchr(prog, '/');
	progname = slash ? slash + 1 : prog;
	if (stderr_is_network()) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

		use_syslog = 1;
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_MAIL);
		/* nothing else may write to the client either: not a usage
		 * message, not a program we start */
		if (fd >= 0) {
			dup2(fd, 2);
			if (fd != 2)
				close(fd);
		}
	}
}

int log_to_syslog(void)
{
	return use_syslog;
}

const char *log_prog(void)
{
	return progname;
}

static void put(struct logline *l, const char *p, size_t n)
{
	/* keep room for "\n"; byte by byte so a truncated copy can never
	 * read past a short source */
	for (size_t i = 0; i < n; i++) {
		if (l->len >= sizeof l->buf - 1) {
			l->truncated = 1;
			return;
		}
		l->buf[l->len++] = p[i];
	}
}

void log_begin(struct logline *l, const char *event)
{
	l->len = 0;
	l->truncated = 0;
	l->buf[0] = '\0';
	put(l, "event=", 6);
	put(l, event, strlen(event));
}

void log_escape_value(struct logline *l, const char *val, size_t n)
{
	int quote = n == 0;
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n && !quote; i++) {
		unsigned char c = (unsigned char)val[i];
		if (c == ' ' || c == '"' || c == '=' || c == '\\' || c < 0x21 || c > 0x7e)
			quote = 1;
	}
	if (quote)
		put(l, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)val[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put(l, e, 2);
		} else if (c < 0x20 || c > 0x7e) {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };
			put(l, e, 4);
		} else {
			put(l, (const char *)&val[i], 1);
		}
	}
	if (quote)
		put(l, "\"", 1);
}

void log_sn(struct logline *l, const char *key, const char *val, size_t n)
{
	put(l, " ", 1);
	put(l, key, strlen(key));
	put(l, "=", 1);
	log_escape_value(l, val ? val : "", val ? n : 0);
}

void log_s(struct logline *l, const char *key, const char *val)
{
	log_sn(l, key, val, val ? strlen(val) : 0);
}

void log_u(struct logline *l, const char *key, unsigned long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%llu", v);
	log_sn(l, key, tmp, (size_t)n);
}

void log_i(struct logline *l, const char *key, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof tmp, "%lld", v);
	log_sn(l, key, tmp, (size_t)n);
}

void log_end(struct logline *l)
{
	char head[96];
	int hn;

	if (use_syslog) {
		syslog(LOG_INFO, "%.*s", (int)l->len, l->buf);
		return;
	}
	hn = snprintf(head, sizeof head, "%s[%ld]: ", progname, (long)getpid());
	char out[sizeof head + LOG_LINE_MAX + 1];
	size_t n = 0;

	if (hn < 0)
		hn = 0;
	if ((size_t)hn >= sizeof head)
		hn = sizeof head - 1;
	memcpy(out, head, (size_t)hn);
	n = (size_t)hn;
	memcpy(out + n, l->buf, l->len);
	n += l->len;
	out[n++] = '\n';
	/* one write per line so concurrent sessions never interleave */
	ssize_t r = write(2, out, n);
	(void)r;
}

static void vmsg(const char *event, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	struct logline l;
	int n = vsnprintf(msg, sizeof msg, fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	log_begin(&l, event);
	log_sn(&l, "msg", msg, (size_t)n);
	log_end(&l);
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("error", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmsg("warning", fmt, ap);
	va_end(ap);
}
