/* Bounded growable strings and checked allocation.
 *
 * Every size computation that could overflow goes through this file, so
 * callers never add lengths themselves.  Allocation failure ends the
 * program with EX_TEMPFAIL: there are no half-handled NULLs. */
#ifndef POSTERN_STR_H
#define POSTERN_STR_H

#include <stddef.h>
#include <stdarg.h>

struct str {
	char *s;        /* always NUL-terminated once anything was added */
	size_t len;     /* bytes in use, excluding the NUL */
	size_t cap;     /* bytes allocated */
	size_t max;     /* hard limit on len; 0 means "no limit but overflow" */
};

#define STR_INIT { NULL, 0, 0, 0 }

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* a + b, or -1 (and *r untouched) when it would overflow. */
int size_add(size_t a, size_t b, size_t *r);
int size_mul(size_t a, size_t b, size_t *r);

void str_init(struct str *s, size_t max);
/* All of these return 0, or -1 when the result would pass s->max or
 * overflow size_t; on -1 the string is unchanged. */
int str_reserve(struct str *s, size_t extra);
int str_catn(struct str *s, const char *p, size_t n);
int str_cats(struct str *s, const char *p);
int str_catc(struct str *s, char c);
int str_catu(struct str *s, unsigned long long v);
int str_printf(struct str *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int str_vprintf(struct str *s, const char *fmt, va_list ap);
int str_copyn(struct str *s, const char *p, size_t n);
int str_copys(struct str *s, const char *p);
const char *str_c(struct str *s);      /* never NULL */
void str_truncate(struct str *s, size_t len);
void str_clear(struct str *s);
void str_free(struct str *s);

/* ASCII helpers (locale-independent). */
int ascii_lower(int c);
void ascii_lowercase(char *p, size_t n);
int ascii_casecmp(const char *a, const char *b);
int ascii_ncasecmp(const char *a, const char *b, size_t n);

#endif
