/* Bounded growable strings; see str.h. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "str.h"

static void nomem(void)
{
	static const char msg[] = "event=fatal msg=\"out of memory\"\n";
	ssize_t r = write(2, msg, sizeof msg - 1);
	(void)r;
	_exit(EX_TEMPFAIL);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		nomem();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		nomem();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		nomem();
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	size_t len;
	char *p;

	if (size_add(n, 1, &len) < 0)
		nomem();
	p = xmalloc(len);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int size_add(size_t a, size_t b, size_t *r)
{
	if (a > SIZE_MAX - b)
		return -1;
	*r = a + b;
	return 0;
}

int size_mul(size_t a, size_t b, size_t *r)
{
	if (a && b > SIZE_MAX / a)
		return -1;
	*r = a * b;
	return 0;
}

void str_init(struct str *s, size_t max)
{
	s->s = NULL;
	s->len = 0;
	s->cap = 0;
	s->max = max;
}

int str_reserve(struct str *s, size_t extra)
{
	size_t need, ncap;

	/* len + extra + NUL, checked */
	if (size_add(s->len, extra, &need) < 0 || size_add(need, 1, &need) < 0)
		return -1;
	if (s->max && need - 1 > s->max)
		return -1;
	if (need <= s->cap)
		return 0;
	ncap = s->cap ? s->cap : 32;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2) {
			ncap = need;
			break;
		}
		ncap *= 2;
	}
	if (s->max && ncap > s->max + 1)
		ncap = s->max + 1;
	s->s = xrealloc(s->s, ncap);
	s->cap = ncap;
	return 0;
}

int str_catn(struct str *s, const char *p, size_t n)
{
	if (str_reserve(s, n) < 0)
		return -1;
	if (n)
		memcpy(s->s + s->len, p, n);
	s->len += n;
	s->s[s->len] = '\0';
	return 0;
}

int str_cats(struct str *s, const char *p)
{
	return str_catn(s, p, strlen(p));
}

int str_catc(struct str *s, char c)
{
	return str_catn(s, &c, 1);
}

int str_catu(struct str *s, unsigned long long v)
{
	char tmp[24];
	size_t i = sizeof tmp;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return str_catn(s, tmp + i, sizeof tmp - i);
}

int str_vprintf(struct str *s, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if (str_reserve(s, (size_t)n) < 0)
		return -1;
	vsnprintf(s->s + s->len, (size_t)n + 1, fmt, ap);
	s->len += (size_t)n;
	return 0;
}

int str_printf(struct str *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = str_vprintf(s, fmt, ap);
	va_end(ap);
	return r;
}

int str_copyn(struct str *s, const char *p, size_t n)
{
	size_t old = s->len;

	s->len = 0;
	if (str_catn(s, p, n) < 0) {
		s->len = old;
		return -1;
	}
	return 0;
}

int str_copys(struct str *s, const char *p)
{
	return str_copyn(s, p, strlen(p));
}

const char *str_c(struct str *s)
{
	if (!s->s)
		return "";
	return s->s;
}

void str_truncate(struct str *s, size_t len)
{
	if (len < s->len) {
		s->len = len;
		s->s[len] = '\0';
	}
}

void str_clear(struct str *s)
{
	s->len = 0;
	if (s->s)
		s->s[0] = '\0';
}

void str_free(struct str *s)
{
	free(s->s);
	s->s = NULL;
	s->len = s->cap = 0;
}

int ascii_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

void ascii_lowercase(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)ascii_lower((unsigned char)p[i]);
}

int ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = ascii_lower((unsigned char)*a), y = ascii_lower((unsigned char)*b);
		if (x != y || !x)
			return x - y;
	}
}

int ascii_ncasecmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int x = ascii_lower((unsigned char)a[i]), y = ascii_lower((unsigned char)b[i]);
		if (x != y || !x)
			return x - y;
	}
	return 0;
}
