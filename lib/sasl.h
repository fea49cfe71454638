/* SASL pieces that need no I/O: strict base64 (RFC 4648 section 4, no
 * whitespace, canonical padding and trailing bits) and the PLAIN message
 * (RFC 4616: [authzid] NUL authcid NUL passwd).  Shared by smtp-session
 * (RFC 4954) and pop3-session (RFC 5034), tested from tables. */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stddef.h>

#define SASL_FIELD_MAX 255      /* RFC 4616 section 2: each field */
/* the longest PLAIN message, and the base64 that carries it */
#define SASL_PLAIN_MAX (3 * SASL_FIELD_MAX + 2)
#define SASL_B64_MAX ((SASL_PLAIN_MAX + 2) / 3 * 4)

/* Incremental decoder, so input may arrive in pieces of any size. */
struct b64dec {
	unsigned char *out;
	size_t cap, len;
	unsigned quad[4];
	unsigned nq;        /* symbols in quad */
	unsigned pad;       /* '=' seen */
	int bad;
};

void b64_init(struct b64dec *d, unsigned char *out, size_t cap);
void b64_feed(struct b64dec *d, const char *in, size_t n);
/* 0 and d->len bytes in out, or -1: bad symbol, bad padding, non-zero
 * trailing bits, a length that is not a multiple of 4, or over cap. */
int b64_finish(struct b64dec *d);

/* Whole string at once: the same rules.  0 or -1. */
int b64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen);

/* Encode n bytes; out must hold 4 * ((n + 2) / 3) + 1.  Returns the length. */
size_t b64_encode(const unsigned char *in, size_t n, char *out);

struct sasl_plain {
	char authzid[SASL_FIELD_MAX + 1];
	char authcid[SASL_FIELD_MAX + 1];
	char passwd[SASL_FIELD_MAX + 1];
};

/* Split a decoded PLAIN message.  Exactly two NULs; authcid and passwd
 * not empty; no field over SASL_FIELD_MAX; no control bytes in the ids;
 * authzid empty or equal to authcid (we never act for someone else).
 * 0, or -1 with *why set to a short reason. */
int sasl_plain_parse(const unsigned char *m, size_t n, struct sasl_plain *p,
		     const char **why);

/* A user name or password sent alone (LOGIN): not empty, no NUL, at most
 * SASL_FIELD_MAX.  Copies into out (SASL_FIELD_MAX + 1).  0 or -1. */
int sasl_field(const unsigned char *m, size_t n, char *out, int is_name);

#endif
