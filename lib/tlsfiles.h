/* The server's TLS files as bytes: certificate chain, private key and
 * session-ticket keys.
 *
 * No OpenSSL here.  A session that starts as root reads these before it
 * drops privileges (a root-only key file stays readable that way) and
 * hands them to the TLS code, which parses them only at the first
 * handshake; a session that never starts TLS never links, loads or calls
 * OpenSSL. */
#ifndef POSTERN_TLSFILES_H
#define POSTERN_TLSFILES_H

#include <stddef.h>

#include "conf.h"

#define TLS_TICKET_KEY_LEN 80
#define TLS_TICKET_KEYS_MAX 4

struct tls_files {
	int loaded;
	char *cert, *key;
	size_t certlen, keylen;
	unsigned char tickets[TLS_TICKET_KEYS_MAX][TLS_TICKET_KEY_LEN];
	int ntickets;
};

/* Read c's tls_cert, tls_key and (when set) tls_ticket_key.  0, or -1
 * with err set (missing, unreadable, over 1 MiB, bad ticket key length);
 * on failure nothing stays loaded.  Loading twice is a no-op. */
int tls_files_load(struct tls_files *f, const struct conf *c, char *err, size_t errlen);

/* Wipe and free the certificate and key bytes (once parsed). */
void tls_files_drop_pem(struct tls_files *f);

/* Wipe everything, ticket keys too. */
void tls_files_clear(struct tls_files *f);

/* A ticket key file of n bytes: n must be a multiple of 80, at most
 * TLS_TICKET_KEYS_MAX keys.  The number of keys, or -1.  Pure. */
int tls_ticket_keys_check(size_t n);

#endif
