/* postern.conf parsing: typed, bounded keys with file:line errors. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "samefile.h"
#include "str.h"

/* K_TIME is whole seconds; K_MSEC is milliseconds, for the few delays
 * that must be shorter than a second (tests) yet are written like times. */
enum ktype { K_STR, K_PATH, K_HOST, K_CHAR, K_UINT, K_SIZE, K_TIME, K_MSEC, K_BOOL, K_ENUM };

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	size_t len;                     /* buffer size for strings */
	unsigned long long min, max;    /* bounds for numbers */
	const char *choices;            /* K_ENUM: "a|b|c", stored as the index */
};

static int host_ok(const char *h);

#define S(f) offsetof(struct conf, f), sizeof(((struct conf *)0)->f)
#define N(f) offsetof(struct conf, f), 0

/* Bounds are what an admin could sensibly want; outside them the value is
 * a mistake, and a mistake is reported rather than clamped. */
static const struct key keys[] = {
	{ "hostname", K_HOST, S(hostname), 0, 0, NULL },
	{ "banner", K_STR, S(banner), 0, 0, NULL },
	{ "mail_root", K_PATH, S(mail_root), 0, 0, NULL },
	{ "spool", K_PATH, S(spool), 0, 0, NULL },
	{ "user", K_STR, S(user), 0, 0, NULL },
	{ "postmaster", K_STR, S(postmaster), 0, 0, NULL },
	{ "recipient_delimiter", K_CHAR, S(recipient_delimiter), 0, 0, NULL },
	{ "max_message_size", K_SIZE, N(max_message_size), 1024, 1ULL << 40, NULL },
	{ "max_recipients", K_UINT, N(max_recipients), 1, 100000, NULL },
	{ "max_messages", K_UINT, N(max_messages), 1, 1000000, NULL },
	{ "max_errors", K_UINT, N(max_errors), 1, 1000, NULL },
	{ "max_sessions", K_UINT, N(max_sessions), 1, 100000, NULL },
	{ "max_sessions_per_ip", K_UINT, N(max_sessions_per_ip), 0, 100000, NULL },
	{ "line_max", K_UINT, N(line_max), 512, 65536, NULL },
	{ "idle_timeout", K_TIME, N(idle_timeout), 1, 86400, NULL },
	{ "session_timeout", K_TIME, N(session_timeout), 1, 7 * 86400, NULL },
	{ "data_timeout", K_TIME, N(data_timeout), 1, 86400, NULL },
	{ "alias_depth", K_UINT, N(alias_depth), 1, 100, NULL },
	{ "max_expansion", K_UINT, N(max_expansion), 1, 100000, NULL },
	{ "fsync", K_BOOL, N(fsync), 0, 1, NULL },
	{ "smtputf8", K_BOOL, N(smtputf8), 0, 1, NULL },
	{ "chunking", K_BOOL, N(chunking), 0, 1, NULL },
	{ "vrfy", K_BOOL, N(vrfy), 0, 1, NULL },
	{ "delivery", K_ENUM, N(delivery), 0, 0, "internal|deliver" },
	{ "auth_plaintext", K_BOOL, N(auth_plaintext), 0, 1, NULL },
	{ "auth_fail_delay", K_MSEC, N(auth_fail_delay), 0, 60000, NULL },
	{ "greeting_delay", K_MSEC, N(greeting_delay), 0, 60000, NULL },
	{ "min_data_rate", K_UINT, N(min_data_rate), 0, 1000000000, NULL },
	{ "max_auth_failures", K_UINT, N(max_auth_failures), 1, 100, NULL },
	{ "smarthost", K_STR, S(smarthost), 0, 0, NULL },
	{ "queue_lifetime", K_MSEC, N(queue_lifetime), 1, 30ULL * 86400000, NULL },
	{ "retry_min", K_MSEC, N(retry_min), 1, 86400000, NULL },
	{ "retry_max", K_MSEC, N(retry_max), 1, 7ULL * 86400000, NULL },
	{ "relay_concurrency", K_UINT, N(relay_concurrency), 1, 100, NULL },
	{ "relay_timeout", K_TIME, N(relay_timeout), 1, 3600, NULL },
	{ "tls_ca_file", K_PATH, S(tls_ca_file), 0, 0, NULL },
	{ "maps", K_PATH, S(maps), 0, 0, NULL },
	{ "submission", K_BOOL, N(submission), 0, 1, NULL },
	{ "auth", K_ENUM, N(auth_backend), 0, 0, "users|pam|users,pam" },
	{ "pam_service", K_STR, S(pam_service), 0, 0, NULL },
	{ "tls", K_ENUM, N(tls), 0, 0, "off|starttls|implicit" },
	{ "tls_cert", K_PATH, S(tls_cert), 0, 0, NULL },
	{ "tls_key", K_PATH, S(tls_key), 0, 0, NULL },
	{ "tls_ticket_key", K_PATH, S(tls_ticket_key), 0, 0, NULL },
	{ "tls_min_version", K_ENUM, N(tls_min_version), 0, 0, "1.2|1.3" },
	{ "tls_ciphers", K_STR, S(tls_ciphers), 0, 0, NULL },
	{ "tls_ciphersuites", K_STR, S(tls_ciphersuites), 0, 0, NULL },
	{ "tls_groups", K_STR, S(tls_groups), 0, 0, NULL },
};

void conf_defaults(struct conf *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->dir, sizeof c->dir, "%s", CONF_DEFAULT_DIR);
	if (gethostname(c->hostname, sizeof c->hostname - 1) < 0 || !host_ok(c->hostname))
		snprintf(c->hostname, sizeof c->hostname, "localhost");
	snprintf(c->mail_root, sizeof c->mail_root, "mail");
	snprintf(c->spool, sizeof c->spool, "spool");
	c->max_message_size = 25ULL * 1024 * 1024;
	c->max_recipients = 100;
	c->max_messages = 100;
	c->max_errors = 10;
	c->max_sessions = 100;
	c->max_sessions_per_ip = 50;
	c->line_max = 1000;             /* RFC 5321 4.5.3.1.4 minimum is 512 */
	c->idle_timeout = 300;          /* RFC 5321 4.5.3.2.7 */
	c->session_timeout = 3600;
	c->data_timeout = 600;
	c->alias_depth = 10;
	c->max_expansion = 1000;
	c->fsync = 1;
	c->smtputf8 = 1;
	c->chunking = 1;
	c->vrfy = 0;
	c->auth_plaintext = 0;          /* no TLS yet: passwords stay off the wire */
	c->auth_fail_delay = 2000;
	c->greeting_delay = 0;
	c->min_data_rate = 256;         /* bytes/s, checked after 10 s of DATA */
	c->max_auth_failures = 3;
	c->queue_lifetime = 5U * 86400000;     /* RFC 5321 4.5.4.1: 4-5 days */
	c->retry_min = 5 * 60000;
	c->retry_max = 4 * 3600000;
	c->relay_concurrency = 4;
	c->relay_timeout = 300;                 /* RFC 5321 4.5.3.2 */
	snprintf(c->pam_service, sizeof c->pam_service, "postern");
	c->tls = TLS_OFF;
	c->tls_min_version = TLS_MIN_12;
}

const char *conf_maps_dir(const struct conf *c)
{
	return c->maps[0] ? c->maps : c->dir;
}

__attribute__((format(printf, 5, 6)))
static int err_at(char *err, size_t errlen, const char *name, unsigned line,
		  const char *fmt, ...)
{
	char msg[CONF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%u: %s", name, line, msg);
	return -1;
}

/* A name we can put in a banner, EHLO reply and Received header. */
static int host_ok(const char *h)
{
	size_t n = strlen(h);

	if (!n || n > 253 || h[0] == '.' || h[0] == '-' || h[n - 1] == '.')
		return 0;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.') ||
		    (*p == '.' && p[1] == '.'))
			return 0;
	return 1;
}

/* Unsigned decimal with an optional unit suffix.  Returns 0 or -1. */
static int parse_number(const char *v, enum ktype t, unsigned long long *out)
{
	unsigned long long n = 0, mul = 1;
	const char *p = v;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');
		if (n > (ULLONG_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
		p++;
	}
	if (t == K_SIZE) {
		switch (*p) {
		case 'k': case 'K': mul = 1024ULL; p++; break;
		case 'm': case 'M': mul = 1024ULL * 1024; p++; break;
		case 'g': case 'G': mul = 1024ULL * 1024 * 1024; p++; break;
		}
	} else if (t == K_MSEC) {
		/* bare numbers are seconds, as for every other time */
		if (p[0] == 'm' && p[1] == 's')
			p += 2;
		else if (*p == 's' || !*p) {
			mul = 1000;
			p += *p == 's';
		} else if (*p == 'm') {
			mul = 60000;
			p++;
		} else if (*p == 'h') {
			mul = 3600000;
			p++;
		} else if (*p == 'd') {
			mul = 86400000;
			p++;
		}
	} else if (t == K_TIME) {
		switch (*p) {
		case 's': p++; break;
		case 'm': mul = 60; p++; break;
		case 'h': mul = 3600; p++; break;
		case 'd': mul = 86400; p++; break;
		}
	}
	if (*p)
		return -1;
	if (n && mul > ULLONG_MAX / n)
		return -1;
	*out = n * mul;
	return 0;
}

static int set_value(struct conf *c, const struct key *k, const char *v,
		     const char *name, unsigned line, char *err, size_t errlen)
{
	char *base = (char *)c + k->off;
	unsigned long long n;

	switch (k->type) {
	case K_HOST:
		if (!host_ok(v))
			return err_at(err, errlen, name, line, "%s: '%s' is not a host name", k->name, v);
		goto copy;
	case K_CHAR:
		if (strlen(v) > 1 || (v[0] && (v[0] == '@' || v[0] == '"' || v[0] == '\\' ||
					      (unsigned char)v[0] <= ' ' || (unsigned char)v[0] >= 0x7f)))
			return err_at(err, errlen, name, line, "%s: one printable character other than @, quote or backslash", k->name);
		goto copy;
	case K_STR:
	case K_PATH:
	copy:
		if (strlen(v) >= k->len)
			return err_at(err, errlen, name, line, "%s: value too long", k->name);
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return err_at(err, errlen, name, line, "%s: control character in value", k->name);
		if (k->type == K_PATH && !*v)
			return err_at(err, errlen, name, line, "%s: empty path", k->name);
		memcpy(base, v, strlen(v) + 1);
		return 0;
	case K_ENUM: {
		const char *ch = k->choices;
		for (int idx = 0; *ch; idx++) {
			size_t len = strcspn(ch, "|");
			if (strlen(v) == len && !strncmp(ch, v, len)) {
				*(int *)base = idx;
				return 0;
			}
			ch += len + (ch[len] == '|');
		}
		return err_at(err, errlen, name, line, "%s: expected one of %s, got '%s'", k->name, k->choices, v);
	}
	case K_BOOL:
		if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
			*(int *)base = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
			*(int *)base = 0;
		else
			return err_at(err, errlen, name, line, "%s: expected yes or no, got '%s'", k->name, v);
		return 0;
	case K_UINT:
	case K_SIZE:
	case K_TIME:
	case K_MSEC:
		if (parse_number(v, k->type, &n) < 0)
			return err_at(err, errlen, name, line, "%s: expected %s, got '%s'", k->name,
				      k->type == K_SIZE ? "a size like 10M" :
				      k->type == K_TIME ? "a time like 30s or 5m" :
				      k->type == K_MSEC ? "a time like 2s or 250ms" : "a number", v);
		if (n < k->min || n > k->max)
			return err_at(err, errlen, name, line, "%s: %s out of range %llu..%llu",
				      k->name, v, k->min, k->max);
		if (k->type == K_SIZE)
			*(unsigned long long *)base = n;
		else
			*(unsigned *)base = (unsigned)n;
		return 0;
	}
	return -1;
}


int conf_parse(struct conf *c, const char *name, const char *buf, size_t len,
	       char *err, size_t errlen)
{
	unsigned line = 0;
	unsigned char seen[sizeof keys / sizeof keys[0]] = { 0 };
	unsigned seen_line[sizeof keys / sizeof keys[0]] = { 0 };
	size_t pos = 0;

	while (pos < len) {
		const char *s = buf + pos, *e = memchr(s, '\n', len - pos);
		size_t n = e ? (size_t)(e - s) : len - pos;
		char text[CONF_PATH_MAX + 128], *k, *v, *p;

		pos += n + (e ? 1 : 0);
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		if (memchr(s, '\0', n))
			return err_at(err, errlen, name, line, "NUL byte in line");
		if (n >= sizeof text)
			return err_at(err, errlen, name, line, "line too long");
		memcpy(text, s, n);
		text[n] = '\0';
		for (p = text; *p == ' ' || *p == '\t'; p++)
			;
		if (!*p || *p == '#')
			continue;
		k = p;
		while (*p && *p != '=' && *p != ' ' && *p != '\t')
			p++;
		char *kend = p;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			return err_at(err, errlen, name, line, "expected 'key = value'");
		*kend = '\0';
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		v = p;
		p = v + strlen(v);
		while (p > v && (p[-1] == ' ' || p[-1] == '\t'))
			*--p = '\0';
		/* "quoted values" keep inner spaces at the ends */
		if (p - v >= 2 && v[0] == '"' && p[-1] == '"') {
			p[-1] = '\0';
			v++;
		}

		size_t i;
		for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
			if (!strcmp(keys[i].name, k))
				break;
		if (i == sizeof keys / sizeof keys[0])
			return err_at(err, errlen, name, line, "unknown key '%s'", k);
		if (seen[i]) {
			return err_at(err, errlen, name, line, "'%s' set twice (first at line %u)", k, seen_line[i]);
		}
		seen[i] = 1;
		seen_line[i] = line;
		if (set_value(c, &keys[i], v, name, line, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int conf_path(const struct conf *c, const char *p, char *out, size_t outlen)
{
	int n;

	static const char cred[] = "$CREDENTIALS_DIRECTORY/";
	const char *cd;

	if (!strncmp(p, cred, sizeof cred - 1)) {
		/* systemd: a root-only key copied for the unprivileged user */
		cd = getenv("CREDENTIALS_DIRECTORY");
		if (!cd || cd[0] != '/')
			return -1;
		n = snprintf(out, outlen, "%s/%s", cd, p + sizeof cred - 1);
	} else if (p[0] == '/')
		n = snprintf(out, outlen, "%s", p);
	else
		n = snprintf(out, outlen, "%s/%s", c->dir, p);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

int conf_file(const char *dir, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/postern.conf", dir ? dir : CONF_DEFAULT_DIR);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int conf_unchanged(const char *dir, const struct stat *st)
{
	char file[CONF_PATH_MAX + 16];
	struct stat now;

	return conf_file(dir, file, sizeof file) == 0 && stat(file, &now) == 0 &&
	       same_file(&now, st);
}

int conf_load(struct conf *c, const char *dir, char *err, size_t errlen)
{
	return conf_load_st(c, dir, NULL, err, errlen);
}

int conf_load_st(struct conf *c, const char *dir, struct stat *st, char *err, size_t errlen)
{
	char file[CONF_PATH_MAX + 16], tmp[CONF_PATH_MAX];
	struct stat sb;
	char *buf;
	ssize_t r;
	size_t got = 0;
	int fd, rc;

	conf_defaults(c);
	if (!dir)
		dir = CONF_DEFAULT_DIR;
	if (strlen(dir) >= sizeof c->dir - 1 || !*dir) {
		snprintf(err, errlen, "%s: instance directory name too long or empty", dir);
		return -1;
	}
	snprintf(c->dir, sizeof c->dir, "%s", dir);
	conf_file(dir, file, sizeof file);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > 1024 * 1024) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", file);
		close(fd);
		return -1;
	}
	if (st)
		*st = sb;
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	rc = conf_parse(c, file, buf, got, err, errlen);
	free(buf);
	if (rc < 0)
		return -1;
	{
		char *paths[] = { c->mail_root, c->spool, c->maps, c->tls_cert,
				  c->tls_key, c->tls_ticket_key, c->tls_ca_file };
		for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
			if (!paths[i][0])
				continue;       /* unset optional path */
			if (conf_path(c, paths[i], tmp, sizeof tmp) < 0 ||
			    snprintf(paths[i], CONF_PATH_MAX, "%s", tmp) >= CONF_PATH_MAX) {
				snprintf(err, errlen, "%s: path too long, or $CREDENTIALS_DIRECTORY unset", file);
				return -1;
			}
		}
	}
	if (c->tls != TLS_OFF && (!c->tls_cert[0] || !c->tls_key[0])) {
		snprintf(err, errlen, "%s: tls needs tls_cert and tls_key", file);
		return -1;
	}
	return 0;
}

void conf_dump(const struct conf *c, int fd)
{
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const struct key *k = &keys[i];
		const char *base = (const char *)c + k->off;
		switch (k->type) {
		case K_STR: case K_PATH:
			dprintf(fd, "%s = %s\n", k->name, base);
			break;
		case K_BOOL:
			dprintf(fd, "%s = %s\n", k->name, *(const int *)base ? "yes" : "no");
			break;
		case K_ENUM: {
			const char *ch = k->choices;
			for (int idx = *(const int *)base; idx > 0 && *ch; idx--)
				ch += strcspn(ch, "|") + 1;
			dprintf(fd, "%s = %.*s\n", k->name, (int)strcspn(ch, "|"), ch);
			break;
		}
		case K_SIZE:
			dprintf(fd, "%s = %llu\n", k->name, *(const unsigned long long *)base);
			break;
		case K_MSEC:
			dprintf(fd, "%s = %ums\n", k->name, *(const unsigned *)base);
			break;
		default:
			dprintf(fd, "%s = %u\n", k->name, *(const unsigned *)base);
		}
	}
}
