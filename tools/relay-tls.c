/* OpenSSL client side for postern-relay's STARTTLS; see relay-tls.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "relay-tls.h"

static void set_err(struct rtls *t, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[200] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	snprintf(t->err, sizeof t->err, "%s%s%s", what, buf[0] ? ": " : "", buf);
	ERR_clear_error();
}

int rtls_connect(struct rtls *t, int fd, const char *servername, int verify,
		 const char *cafile, int idle_ms, int64_t deadline)
{
	unsigned char ip[16];
	int is_ip, fl;
	SSL_CTX *ctx;
	SSL *ssl;

	memset(t, 0, sizeof *t);
	is_ip = inet_pton(AF_INET, servername, ip) == 1 || inet_pton(AF_INET6, servername, ip) == 1;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		set_err(t, "SSL_CTX_new");
		return -1;
	}
	t->ctx = ctx;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (verify) {
		int ok = cafile && *cafile ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
					   : SSL_CTX_set_default_verify_paths(ctx);
		if (ok != 1) {
			set_err(t, "loading CA certificates");
			return -1;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		/* opportunistic or required-unverified: encryption against a
		 * passive eavesdropper, as RFC 7435 describes */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	ssl = SSL_new(ctx);
	if (!ssl) {
		set_err(t, "SSL_new");
		return -1;
	}
	t->ssl = ssl;
	if (!is_ip)
		SSL_set_tlsext_host_name(ssl, servername);
	if (verify) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, servername)
			   : X509_VERIFY_PARAM_set1_host(vp, servername, 0)) != 1) {
			set_err(t, "setting the name to verify");
			return -1;
		}
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || SSL_set_fd(ssl, fd) != 1) {
		set_err(t, "SSL_set_fd");
		return -1;
	}
	for (;;) {
		int r = SSL_connect(ssl), e, w;

		if (r == 1)
			break;
		e = SSL_get_error(ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			w = io_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, idle_ms, deadline);
			if (w == IO_OK)
				continue;
			snprintf(t->err, sizeof t->err, "TLS handshake timed out");
			return -1;
		}
		if (verify && SSL_get_verify_result(ssl) != X509_V_OK) {
			snprintf(t->err, sizeof t->err, "certificate verification failed: %s",
				 X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
			ERR_clear_error();
			return -1;
		}
		set_err(t, "TLS handshake failed");
		return -1;
	}
	snprintf(t->version, sizeof t->version, "%s", SSL_get_version(ssl));
	snprintf(t->cipher, sizeof t->cipher, "%s", SSL_get_cipher_name(ssl));
	return 0;
}

static ssize_t op_read(void *ctx, void *buf, size_t n)
{
	struct rtls *t = ctx;
	int r, e;

	ERR_clear_error();
	r = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return 0;
	errno = EIO;
	return -1;
}

static ssize_t op_write(void *ctx, const void *buf, size_t n)
{
	struct rtls *t = ctx;
	int r, e;

	ERR_clear_error();
	r = SSL_write(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	errno = EIO;
	return -1;
}

static size_t op_pending(void *ctx)
{
	struct rtls *t = ctx;

	return (size_t)SSL_pending(t->ssl);
}

void rtls_io_ops(struct rtls *t, struct io_ops *ops)
{
	ops->read = op_read;
	ops->write = op_write;
	ops->pending = op_pending;
	ops->ctx = t;
}

void rtls_close(struct rtls *t)
{
	if (t->ssl) {
		SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	if (t->ctx)
		SSL_CTX_free(t->ctx);
	t->ssl = t->ctx = NULL;
}

int rtls_base64(const unsigned char *p, size_t n, char *out, size_t len)
{
	if (n > INT_MAX / 2 || (n + 2) / 3 * 4 + 1 > len)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return 0;
}
