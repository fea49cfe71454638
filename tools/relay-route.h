/* Where the relay sends mail for a domain: the routes map, then the
 * smarthost setting, then the domain's MX hosts (RFC 5321 5.1, RFC 7505).
 * DNS is behind a small interface so the MX logic is tested with a stub. */
#ifndef POSTERN_RELAY_ROUTE_H
#define POSTERN_RELAY_ROUTE_H

#include <stddef.h>
#include "conf.h"
#include "map.h"

enum { TLSP_NONE = 0, TLSP_MAY, TLSP_REQUIRE, TLSP_VERIFY };

struct route {
	char host[256];         /* name or IP (no brackets); "" = the domain's MX */
	int literal;            /* host is an IP address: no MX lookup */
	unsigned port;          /* 25 unless given */
	int helo;               /* 1: greet with HELO, no extensions */
	int tls;                /* TLSP_* */
	char auth_user[256];
	char auth_file[CONF_PATH_MAX];  /* absolute */
	char key[2700];         /* same key = same connection */
};

/* Parse a routes.cdb value ("host=[ip]:port helo=helo tls=require auth=u:f")
 * into r (defaults first).  0, or -1 with err. */
int route_parse(const struct conf *c, const char *v, size_t n, struct route *r,
		char *err, size_t errlen);
/* "host[:port]" or "[ip][:port]" (the smarthost key) into r->host/port. */
int route_hostport(const char *s, struct route *r, char *err, size_t errlen);
/* The route for a recipient domain (lowercase).  0 ok; -1 temporary (the
 * routes map is broken), err set; -2 bad configuration. */
int route_for(struct maps *ms, const struct conf *c, const char *domain,
	      struct route *r, char *err, size_t errlen);

/* DNS: MX records of a name.  Returns DNS_OK with *n records, DNS_NODATA
 * (the name exists, no MX), DNS_NXDOMAIN, or DNS_TEMP. */
enum { DNS_OK = 0, DNS_NODATA = 1, DNS_NXDOMAIN = 2, DNS_TEMP = -1 };

struct mxrr {
	unsigned pref;
	char name[256];
};

struct resolver {
	int (*mx)(void *ctx, const char *domain, struct mxrr *rr, size_t max, size_t *n);
	void *ctx;
};

/* The system resolver (res_query). */
extern const struct resolver resolver_system;

/* Hosts to try for domain, best first (equal preferences shuffled).  No
 * MX record: the domain itself (RFC 5321 5.1 implicit MX).  0 ok; -1
 * temporary; -2 permanent (no such domain, or a null MX: the domain
 * accepts no mail, RFC 7505), with why set. */
int route_mx(const struct resolver *rs, const char *domain, struct mxrr *hosts,
	     size_t max, size_t *n, char *why, size_t whylen);

#endif
