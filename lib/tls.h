/* TLS with OpenSSL over a pair of fds, under struct io_in / io_out.
 *
 * Start-up cost is the point of this interface: a session that never
 * says STARTTLS must not pay for TLS.  The sessions do not link this file:
 * they load it with OpenSSL as a module on first use (tlsmod.h).
 * tls_server() and tls_preload() make no OpenSSL call at all; the library is initialised, the certificate and
 * key parsed and the SSL_CTX built only in the first tls_accept().  A
 * process that starts as root calls tls_preload() before dropping
 * privileges so a root-only key file is read (as bytes) while it still can.
 *
 * The handshake keeps the session's limits: every wait is at most the
 * idle timeout and never past the deadline, so a client that connects and
 * never sends a ClientHello costs one poll() and one log line.
 *
 * Session tickets: with tls_ticket_key every process of the instance
 * encrypts tickets with the same keys (the file holds one or more 80-byte
 * keys: 16 name, 32 HMAC, 32 AES; the first one issues, all are accepted),
 * so a client that comes back to another process resumes without a full
 * handshake.  Without the file no tickets are issued at all: per-process
 * keys would only cost work. */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "io.h"
#include "tlsfiles.h"

struct tls;

/* Server side for this instance (c must outlive it).  Never fails. */
struct tls *tls_server(const struct conf *c);

/* Server side with files already read (tls_files_load): takes over f's
 * bytes and leaves f empty.  Never fails. */
struct tls *tls_server_files(const struct conf *c, struct tls_files *f);

/* A server context built now from f's bytes (taken over, as above):
 * certificate and key parsed, ciphers and tickets set, for sessions
 * forked later to share (tls_server_on).  NULL with err set when the
 * files or settings are bad.  c is not kept. */
struct tls *tls_server_ready(const struct conf *c, struct tls_files *f, char *err, size_t errlen);

/* A session's server side on a ready context: no file read, nothing
 * parsed; the SSL_CTX is shared (reference counted), and its ticket
 * keys are ready's, which must outlive the session (in a forked child
 * it does: it is never freed there). */
struct tls *tls_server_on(const struct conf *c, struct tls *ready);

/* Read the certificate, key and ticket key files into memory now.
 * 0, or -1 with err set (missing, unreadable, too big, bad ticket key
 * length).  Parsing still waits for the first handshake. */
int tls_preload(struct tls *t, char *err, size_t errlen);

/* Client side, for the outbound relay: servername is sent as SNI and,
 * when verify is set, checked against the certificate; cafile NULL means
 * the system's trust store.  min_version is TLS_MIN_12 or TLS_MIN_13. */
struct tls *tls_client(const char *servername, const char *cafile, int verify,
		       int min_version);

/* Run the handshake on rfd/wfd (the fds become non-blocking).  0 when
 * done; -1 on failure, timeout or a closed connection, with the reason in
 * tls_error(). */
int tls_accept(struct tls *t, int rfd, int wfd, int idle_ms, int64_t deadline);
int tls_connect(struct tls *t, int rfd, int wfd, int idle_ms, int64_t deadline);

/* Hooks for io_in/io_out after a successful handshake. */
void tls_io_ops(struct tls *t, struct io_ops *ops);

const char *tls_error(const struct tls *t);     /* "" when none */
const char *tls_version(const struct tls *t);   /* "TLSv1.3" */
const char *tls_cipher(const struct tls *t);    /* "TLS_AES_256_GCM_SHA384" */
int tls_cipher_bits(const struct tls *t);
int tls_reused(const struct tls *t);            /* resumed from a ticket */

/* Send close_notify (best effort, never blocks long) and free. */
void tls_close(struct tls *t);

/* Initialise OpenSSL and let it fetch the server side's algorithms
 * once, with no instance state: a process that forks sessions calls
 * this first so its children find the caches filled.  0 or -1. */
int tls_warm(void);

#endif
