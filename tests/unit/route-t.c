/* Tests for tools/relay-route.c: routes values, smarthost, MX choice with a stub resolver. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay-route.h"
#include "tap.h"

struct zone {
	const char *name;
	int rc;
	const char *mx;         /* "pref name,pref name" */
};

static const struct zone zones[] = {
	{ "one.test", DNS_OK, "10 mx1.one.test" },
	{ "two.test", DNS_OK, "20 b.two.test,10 a.two.test,30 c.two.test" },
	{ "nomx.test", DNS_NODATA, "" },
	{ "null.test", DNS_OK, "0 ." },
	{ "nullempty.test", DNS_OK, "0 " },
	{ "gone.test", DNS_NXDOMAIN, "" },
	{ "flaky.test", DNS_TEMP, "" },
};

static int stub_mx(void *ctx, const char *domain, struct mxrr *rr, size_t max, size_t *n)
{
	(void)ctx;
	*n = 0;
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		char buf[256], *save = NULL;
		if (strcmp(zones[i].name, domain))
			continue;
		snprintf(buf, sizeof buf, "%s", zones[i].mx);
		for (char *w = strtok_r(buf, ",", &save); w && *n < max; w = strtok_r(NULL, ",", &save)) {
			char *sp = strchr(w, ' ');
			rr[*n].pref = (unsigned)atoi(w);
			snprintf(rr[*n].name, sizeof rr[*n].name, "%s", sp ? sp + 1 : "");
			(*n)++;
		}
		return zones[i].rc;
	}
	return DNS_NXDOMAIN;
}

int main(void)
{
	const struct resolver stub = { stub_mx, NULL };
	struct mxrr mx[8];
	struct route r;
	struct conf c;
	char why[256];
	size_t n;

	ok(route_mx(&stub, "one.test", mx, 8, &n, why, sizeof why) == 0 && n == 1 &&
	   strcmp(mx[0].name, "mx1.one.test") == 0, "one MX");
	ok(route_mx(&stub, "two.test", mx, 8, &n, why, sizeof why) == 0 && n == 3 &&
	   strcmp(mx[0].name, "a.two.test") == 0 && strcmp(mx[2].name, "c.two.test") == 0,
	   "MX sorted by preference");
	ok(route_mx(&stub, "nomx.test", mx, 8, &n, why, sizeof why) == 0 && n == 1 &&
	   strcmp(mx[0].name, "nomx.test") == 0, "no MX: the domain itself (implicit MX)");
	ok(route_mx(&stub, "null.test", mx, 8, &n, why, sizeof why) == -2 && strstr(why, "null MX"),
	   "null MX is permanent: %s", why);
	ok(route_mx(&stub, "nullempty.test", mx, 8, &n, why, sizeof why) == -2, "null MX as an empty name");
	ok(route_mx(&stub, "gone.test", mx, 8, &n, why, sizeof why) == -2, "NXDOMAIN is permanent");
	ok(route_mx(&stub, "flaky.test", mx, 8, &n, why, sizeof why) == -1, "SERVFAIL is temporary");

	conf_defaults(&c);
	snprintf(c.dir, sizeof c.dir, "/etc/postern");
	static const char full[] = "host=[127.0.0.1]:2526 helo=helo tls=require auth=u@x:secrets/x";
	ok(route_parse(&c, full, sizeof full - 1, &r, why, sizeof why) == 0,
	   "full route parses");
	ok(strcmp(r.host, "127.0.0.1") == 0 && r.literal && r.port == 2526 && r.helo && r.tls == TLSP_REQUIRE,
	   "host, port, helo, tls");
	is_str(r.auth_user, "u@x", "auth user");
	is_str(r.auth_file, "/etc/postern/secrets/x", "secret file relative to the instance");
	ok(route_parse(&c, "tls=may auth=u:f", 16, &r, why, sizeof why) < 0, "auth without required TLS refused");
	ok(route_parse(&c, "bogus=1", 7, &r, why, sizeof why) < 0, "unknown option refused");
	ok(route_parse(&c, "", 0, &r, why, sizeof why) == 0 && r.port == 25 && r.tls == TLSP_MAY && !r.host[0],
	   "empty route: defaults, MX");
	ok(route_hostport("smarthost.test", &r, why, sizeof why) == 0 && r.port == 25 && !r.literal, "name, default port");
	ok(route_hostport("smarthost.test:587", &r, why, sizeof why) == 0 && r.port == 587, "name:port");
	ok(route_hostport("[::1]:2525", &r, why, sizeof why) == 0 && strcmp(r.host, "::1") == 0 && r.literal,
	   "[ipv6]:port");
	ok(route_hostport("[IPv6:::1]", &r, why, sizeof why) == 0 && strcmp(r.host, "::1") == 0, "IPv6: prefix");
	ok(route_hostport("[1.2.3]", &r, why, sizeof why) < 0, "bad IP refused");
	ok(route_hostport("host:0", &r, why, sizeof why) < 0, "port 0 refused");
	ok(route_hostport("ho st", &r, why, sizeof why) < 0, "space refused");
	ok(route_hostport("[127.0.0.1]x", &r, why, sizeof why) < 0, "junk after ] refused");
	return tap_done();
}
