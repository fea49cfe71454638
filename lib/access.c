/* Connection control from the relay map; see access.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "access.h"
#include "str.h"

static int word(const char *p, size_t n, const char *w)
{
	return n == strlen(w) && !memcmp(p, w, n);
}

static int number(const char *p, size_t n, int size, unsigned long long *out)
{
	unsigned long long v = 0, mul = 1;
	size_t i = 0;

	if (!n)
		return -1;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		if (v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (!i)
		return -1;
	if (size && i + 1 == n) {
		switch (p[i]) {
		case 'k': case 'K': mul = 1024; break;
		case 'm': case 'M': mul = 1024 * 1024; break;
		case 'g': case 'G': mul = 1024 * 1024 * 1024; break;
		default: return -1;
		}
		i++;
	}
	if (i != n || (v && mul > ~0ULL / v))
		return -1;
	*out = v * mul;
	return 0;
}

int access_parse(const char *v, size_t n, struct access *a)
{
	size_t i = 0, w;

	memset(a, 0, sizeof *a);
	while (i < n && v[i] == ' ')
		i++;
	for (w = i; w < n && v[w] != ' '; w++)
		;
	if (word(v + i, w - i, "deny"))
		a->action = ACCESS_DENY;
	else if (word(v + i, w - i, "allow"))
		a->action = ACCESS_ALLOW;
	else if (word(v + i, w - i, "relay"))
		a->action = ACCESS_RELAY;
	else
		return -1;
	for (i = w; i < n;) {
		const char *eq;
		unsigned long long num;

		while (i < n && v[i] == ' ')
			i++;
		if (i >= n)
			break;
		for (w = i; w < n && v[w] != ' '; w++)
			;
		eq = memchr(v + i, '=', w - i);
		if (!eq)
			return -1;
		if (word(v + i, (size_t)(eq - v - i), "size")) {
			if (number(eq + 1, (size_t)(v + w - eq - 1), 1, &num) < 0 || !num)
				return -1;
			a->max_size = num;
		} else if (word(v + i, (size_t)(eq - v - i), "rcpts")) {
			if (number(eq + 1, (size_t)(v + w - eq - 1), 0, &num) < 0 || !num || num > 100000)
				return -1;
			a->max_rcpts = (unsigned)num;
		} else if (word(v + i, (size_t)(eq - v - i), "tls")) {
			if (!word(eq + 1, (size_t)(v + w - eq - 1), "required"))
				return -1;
			a->tls_required = 1;
		} else {
			return -1;
		}
		i = w;
	}
	return 0;
}

int access_check(struct maps *ms, const char *ip, struct access *a)
{
	const char *val;
	size_t vlen;
	int r;

	if (ip && *ip)
		r = map_relay_lookup(ms, ip, &val, &vlen);
	else
		r = map_lookup(ms, MAP_RELAY, "default", 7, &val, &vlen);
	if (r < 0)
		return -1;
	if (r == 0) {
		memset(a, 0, sizeof *a);
		a->action = ACCESS_DENY;
		snprintf(a->rule, sizeof a->rule, "none");
		return 0;
	}
	if (access_parse(val, vlen, a) < 0)
		return -1;
	snprintf(a->rule, sizeof a->rule, "%s", ip && *ip ? "match" : "default");
	return 0;
}
