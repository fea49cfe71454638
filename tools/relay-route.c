/* Routing for the relay: routes map, smarthost, MX with implicit MX and null MX. */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay-route.h"
#include "str.h"

int route_hostport(const char *s, struct route *r, char *err, size_t errlen)
{
	const char *colon = NULL, *name = s;
	size_t nl;
	unsigned long port = 25;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close) {
			snprintf(err, errlen, "%s: missing ']'", s);
			return -1;
		}
		name = s + 1;
		nl = (size_t)(close - name);
		if (nl > 5 && ascii_ncasecmp(name, "ipv6:", 5) == 0) {
			name += 5;
			nl -= 5;
		}
		if (close[1] == ':')
			colon = close + 1;
		else if (close[1]) {
			snprintf(err, errlen, "%s: junk after ']'", s);
			return -1;
		}
		r->literal = 1;
	} else {
		colon = strrchr(s, ':');
		nl = colon ? (size_t)(colon - s) : strlen(s);
		r->literal = 0;
	}
	if (nl == 0 || nl >= sizeof r->host) {
		snprintf(err, errlen, "%s: bad host", s);
		return -1;
	}
	memcpy(r->host, name, nl);
	r->host[nl] = '\0';
	if (r->literal) {
		unsigned char ip[16];
		if (inet_pton(strchr(r->host, ':') ? AF_INET6 : AF_INET, r->host, ip) != 1) {
			snprintf(err, errlen, "%s: not an IP address", s);
			return -1;
		}
	} else {
		for (const char *p = r->host; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.')) {
				snprintf(err, errlen, "%s: bad host name", s);
				return -1;
			}
	}
	if (colon) {
		char *end;
		port = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || port == 0 || port > 65535) {
			snprintf(err, errlen, "%s: port must be 1-65535", s);
			return -1;
		}
	}
	r->port = (unsigned)port;
	return 0;
}

static void defaults(struct route *r)
{
	memset(r, 0, sizeof *r);
	r->port = 25;
	r->tls = TLSP_MAY;
}

int route_parse(const struct conf *c, const char *v, size_t n, struct route *r,
		char *err, size_t errlen)
{
	char buf[2048], *save = NULL, *w;

	defaults(r);
	if (n >= sizeof buf) {
		snprintf(err, errlen, "route too long");
		return -1;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strncmp(w, "host=", 5) == 0) {
			if (route_hostport(w + 5, r, err, errlen) < 0)
				return -1;
		} else if (strcmp(w, "helo=helo") == 0) {
			r->helo = 1;
		} else if (strcmp(w, "helo=ehlo") == 0) {
			r->helo = 0;
		} else if (strncmp(w, "tls=", 4) == 0) {
			static const char *const t[] = { "none", "may", "require", "verify" };
			int i;
			for (i = 0; i < 4 && strcmp(w + 4, t[i]); i++)
				;
			if (i == 4) {
				snprintf(err, errlen, "route option %s", w);
				return -1;
			}
			r->tls = i;
		} else if (strncmp(w, "auth=", 5) == 0) {
			char *colon = strchr(w + 5, ':');
			if (!colon || colon == w + 5 || (size_t)(colon - w - 5) >= sizeof r->auth_user ||
			    conf_path(c, colon + 1, r->auth_file, sizeof r->auth_file) < 0) {
				snprintf(err, errlen, "route option auth");
				return -1;
			}
			memcpy(r->auth_user, w + 5, (size_t)(colon - w - 5));
			r->auth_user[colon - w - 5] = '\0';
		} else {
			snprintf(err, errlen, "unknown route option %.60s", w);
			return -1;
		}
	}
	/* mapsrc refuses this too; a hand-made CDB must not get around it */
	if (r->auth_user[0] && r->tls < TLSP_REQUIRE) {
		snprintf(err, errlen, "auth= needs tls=require or tls=verify");
		return -1;
	}
	return 0;
}

static void make_key(struct route *r, const char *domain)
{
	/* one connection serves recipients that share all of these; an MX
	 * route is per domain, since another domain has other MX hosts */
	snprintf(r->key, sizeof r->key, "%s|%u|%d|%d|%s|%s", r->host[0] ? r->host : domain,
		 r->port, r->helo, r->tls, r->auth_user, r->auth_file);
}

int route_for(struct maps *ms, const struct conf *c, const char *domain,
	      struct route *r, char *err, size_t errlen)
{
	const char *v;
	size_t vn;
	int f;

	defaults(r);
	f = map_lookup(ms, MAP_ROUTES, domain, strlen(domain), &v, &vn);
	if (f < 0) {
		/* an instance without a routes map is fine; a broken one is not */
		char p[CONF_PATH_MAX + 16];
		snprintf(p, sizeof p, "%s/routes.cdb", ms->dir);
		if (access(p, F_OK) == 0) {
			snprintf(err, errlen, "routes map unreadable");
			return -1;
		}
		f = 0;
	}
	if (f > 0) {
		if (route_parse(c, v, vn, r, err, errlen) < 0)
			return -2;
	}
	if (!r->host[0] && c->smarthost[0]) {
		/* the route's own options stay; only the host comes from here */
		if (route_hostport(c->smarthost, r, err, errlen) < 0)
			return -2;
	}
	make_key(r, domain);
	return 0;
}

static int sys_mx(void *ctx, const char *domain, struct mxrr *rr, size_t max, size_t *n)
{
	unsigned char ans[8192];
	ns_msg msg;
	ns_rr rec;
	int len, count;

	(void)ctx;
	*n = 0;
	len = res_query(domain, ns_c_in, ns_t_mx, ans, sizeof ans);
	if (len < 0) {
		if (h_errno == HOST_NOT_FOUND)
			return DNS_NXDOMAIN;
		if (h_errno == NO_DATA)
			return DNS_NODATA;
		return DNS_TEMP;
	}
	if (ns_initparse(ans, len, &msg) < 0)
		return DNS_TEMP;
	count = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < count && *n < max; i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rec) < 0)
			return DNS_TEMP;
		if (ns_rr_type(rec) != ns_t_mx || ns_rr_rdlen(rec) < 3)
			continue;
		rr[*n].pref = ns_get16(ns_rr_rdata(rec));
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rec) + 2,
			      rr[*n].name, sizeof rr[*n].name) < 0)
			return DNS_TEMP;
		(*n)++;
	}
	return *n ? DNS_OK : DNS_NODATA;
}

const struct resolver resolver_system = { sys_mx, NULL };

static int by_pref(const void *a, const void *b)
{
	const struct mxrr *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

int route_mx(const struct resolver *rs, const char *domain, struct mxrr *hosts,
	     size_t max, size_t *n, char *why, size_t whylen)
{
	int rc;

	*n = 0;
	rc = rs->mx(rs->ctx, domain, hosts, max, n);
	if (rc == DNS_NXDOMAIN) {
		snprintf(why, whylen, "domain %s does not exist", domain);
		return -2;
	}
	if (rc == DNS_TEMP) {
		snprintf(why, whylen, "MX lookup for %s failed temporarily", domain);
		return -1;
	}
	if (rc == DNS_NODATA || *n == 0) {
		/* RFC 5321 5.1: no MX, the domain's own address is the host */
		if (max == 0)
			return -1;
		hosts[0].pref = 0;
		snprintf(hosts[0].name, sizeof hosts[0].name, "%s", domain);
		*n = 1;
		return 0;
	}
	for (size_t i = 0; i < *n; i++) {
		/* RFC 7505: "." (dn_expand gives "" or ".") means no mail at all */
		if (hosts[i].name[0] == '\0' || strcmp(hosts[i].name, ".") == 0) {
			snprintf(why, whylen, "domain %s accepts no mail (null MX)", domain);
			*n = 0;
			return -2;
		}
	}
	qsort(hosts, *n, sizeof *hosts, by_pref);
	/* equal preferences share the load (RFC 5321 5.1) */
	for (size_t i = 0; i < *n;) {
		size_t j = i;
		while (j < *n && hosts[j].pref == hosts[i].pref)
			j++;
		for (size_t k = j - 1; k > i; k--) {
			size_t s = i + (size_t)random() % (k - i + 1);
			struct mxrr t = hosts[k];
			hosts[k] = hosts[s];
			hosts[s] = t;
		}
		i = j;
	}
	return 0;
}
