/* TLS for the per-connection programs, with OpenSSL loaded only when a
 * session starts TLS.
 *
 * Linking OpenSSL costs every process start, TLS or not: dynamically
 * about 4 ms of symbol binding, statically ~18,700 relocations and 130
 * more page faults (bench/results).  So smtp-session and pop3-session do
 * not link it.  lib/tls.c and OpenSSL live in a module, postern-tls.so,
 * that sits beside the program once installed (libexecdir/postern) or in
 * lib/ of the build tree; the session dlopen()s it at STARTTLS/STLS, or
 * right away for implicit TLS.  The module exports one versioned table of
 * functions (struct tls_module) and nothing else.
 *
 * What needs root stays here, outside the module: tlsm_preload() reads
 * the certificate, key and ticket keys as bytes (tlsfiles.h) before the
 * session drops privileges; the module parses them at the first
 * handshake.
 *
 * Failure is never a crash: tlsm_server() returns NULL when the module is
 * not where it should be (the session then offers no STARTTLS), and a
 * module that does not load or does not match makes tlsm_load() fail with
 * the reason in tlsm_error(). */
#ifndef POSTERN_TLSMOD_H
#define POSTERN_TLSMOD_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "io.h"
#include "tlsfiles.h"

#define TLS_MODULE_FILE "postern-tls.so"
#define TLS_MODULE_SYMBOL "postern_tls_module"
#define TLS_MODULE_VERSION 2

struct tls;     /* the module's (lib/tls.c) */

/* What the module exports.  The sizes let a session refuse a module built
 * from another version of the structures it passes across. */
struct tls_module {
	uint32_t version;       /* TLS_MODULE_VERSION */
	uint32_t size;          /* sizeof (struct tls_module) */
	uint32_t conf_size;     /* sizeof (struct conf) */
	uint32_t files_size;    /* sizeof (struct tls_files) */
	uint32_t io_ops_size;   /* sizeof (struct io_ops) */
	const char *package;    /* PACKAGE_VERSION */

	/* tls.h's server side; server() takes over f's bytes */
	struct tls *(*server)(const struct conf *c, struct tls_files *f);
	int (*accept)(struct tls *t, int rfd, int wfd, int idle_ms, int64_t deadline);
	void (*io_ops)(struct tls *t, struct io_ops *ops);
	const char *(*error)(const struct tls *t);
	const char *(*version_name)(const struct tls *t);
	const char *(*cipher)(const struct tls *t);
	int (*cipher_bits)(const struct tls *t);
	int (*reused)(const struct tls *t);
	void (*close)(struct tls *t);
	/* initialise OpenSSL and fill its algorithm caches, no instance
	 * state (listener mode, before forking): 0 or -1 */
	int (*warm)(void);
	/* tls.h's tls_server_ready() and tls_server_on() */
	struct tls *(*server_ready)(const struct conf *c, struct tls_files *f, char *err, size_t errlen);
	struct tls *(*server_on)(const struct conf *c, struct tls *ready);
};

/* A session's TLS: file bytes now, the module at the first handshake. */
struct tlsm;

/* For instance c (which must outlive it): NULL with err set when the
 * module cannot be found.  No OpenSSL, no dlopen: an access(2) or two. */
struct tlsm *tlsm_server(const struct conf *c, char *err, size_t errlen);

/* Read the certificate, key and ticket key bytes now (before dropping
 * root).  0, or -1 with err set. */
int tlsm_preload(struct tlsm *t, char *err, size_t errlen);

/* Load and check the module now (STARTTLS does this before it answers
 * 220).  0, or -1 with the reason in tlsm_error(). */
int tlsm_load(struct tlsm *t);

/* Listener mode: load the module and initialise OpenSSL for instance c
 * now, and build its server context (as root, before forking),
 * certificate and key parsed, so that the sessions it forks share all of
 * it instead of each loading, reading and parsing (OpenSSL reseeds its
 * random generator in a forked child by itself).  Called
 * again, it rebuilds only when c's TLS settings or the files (device,
 * inode, size, time) have changed; a failure keeps nothing, and the
 * sessions then do it all themselves, as without a listener.  0 or -1
 * with err set. */
int tlsm_prepare(const struct conf *c, char *err, size_t errlen);

/* 1 when this process holds a context prepared for c's TLS settings:
 * the session neither reads the files (tlsm_preload is not needed) nor
 * parses them at the handshake. */
int tlsm_prepared_for(const struct conf *c);

/* The prepared context freed, its keys wiped: for a listener whose
 * configuration no longer has TLS, so that neither it nor the children
 * it forks from then on hold the key. */
void tlsm_unprepare(void);

/* Everything before the handshake: the module loaded, and the session's
 * TLS object made on the listener's prepared context or, without one, on
 * a context built now from the files tlsm_preload() read (a certificate
 * or key that does not parse fails here).  STARTTLS and STLS call it
 * before they answer, so that a broken certificate gets 454 / -ERR and
 * the session goes on in clear, not a promise the handshake then
 * breaks.  0, or -1 with the reason in tlsm_error(). */
int tlsm_ready(struct tlsm *t);

/* The handshake on rfd/wfd, as tls_accept(); tlsm_ready() first. */
int tlsm_accept(struct tlsm *t, int rfd, int wfd, int idle_ms, int64_t deadline);
void tlsm_io_ops(struct tlsm *t, struct io_ops *ops);

/* A session's handshake on fds 0/1, then its buffers in and out run
 * through TLS (ops is the session's storage for the TLS I/O hooks) and
 * event=tls is logged for ip.  0, or -1 with the reason in tlsm_error(). */
int tlsm_start(struct tlsm *t, struct io_in *in, struct io_out *out, struct io_ops *ops,
	       const char *ip, int idle_ms, int64_t deadline);

const char *tlsm_error(const struct tlsm *t);     /* "" when none */
const char *tlsm_version(const struct tlsm *t);   /* "TLSv1.3", "" before */
const char *tlsm_cipher(const struct tlsm *t);
int tlsm_cipher_bits(const struct tlsm *t);
int tlsm_reused(const struct tlsm *t);

/* close_notify (best effort) and free; NULL is fine. */
void tlsm_close(struct tlsm *t);

#endif
