/* The relay's TLS client (OpenSSL) under the io.c buffers.  Kept apart
 * from lib/tls.c, whose server side the sessions load lazily; the relay
 * is a long-running runner and pays for OpenSSL once. */
#ifndef POSTERN_RELAY_TLS_H
#define POSTERN_RELAY_TLS_H

#include <stdint.h>
#include "io.h"

struct rtls {
	void *ctx;              /* SSL_CTX */
	void *ssl;              /* SSL */
	char err[256];
	char version[32];
	char cipher[64];
};

/* Handshake on fd (made non-blocking).  servername goes out as SNI
 * unless it is an IP address; with verify the chain must verify against
 * cafile (NULL or "": the system store) and name the host.  0, or -1
 * with t->err set. */
int rtls_connect(struct rtls *t, int fd, const char *servername, int verify,
		 const char *cafile, int idle_ms, int64_t deadline);
void rtls_io_ops(struct rtls *t, struct io_ops *ops);
void rtls_close(struct rtls *t);
/* base64 of n bytes into out (NUL-terminated); -1 when it does not fit. */
int rtls_base64(const unsigned char *p, size_t n, char *out, size_t len);

#endif
