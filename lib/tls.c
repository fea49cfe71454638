/* OpenSSL over fds for io_in/io_out, built only when a handshake is due; see tls.h. */
#include "config.h"

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "str.h"
#include "tls.h"

/* Forward secrecy and AEAD only for TLS 1.2; tls_ciphers overrides. */
static const char default_ciphers[] =
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!MD5:!DSS";

struct tls {
	int server;
	const struct conf *c;
	/* server: file bytes, read by tls_preload or the first handshake */
	struct tls_files f;
	/* client */
	char servername[256];
	char cafile[CONF_PATH_MAX];
	int verify, min_version;

	SSL_CTX *ctx;
	SSL *ssl;
	char err[CONF_PATH_MAX + 256];
};

struct tls *tls_server(const struct conf *c)
{
	struct tls *t = xcalloc(1, sizeof *t);

	t->server = 1;
	t->c = c;
	return t;
}

struct tls *tls_client(const char *servername, const char *cafile, int verify,
		       int min_version)
{
	struct tls *t = xcalloc(1, sizeof *t);

	snprintf(t->servername, sizeof t->servername, "%s", servername ? servername : "");
	snprintf(t->cafile, sizeof t->cafile, "%s", cafile ? cafile : "");
	t->verify = verify;
	t->min_version = min_version;
	return t;
}

/* Takes over f's bytes: f is left empty. */
struct tls *tls_server_files(const struct conf *c, struct tls_files *f)
{
	struct tls *t = tls_server(c);

	t->f = *f;
	explicit_bzero(f, sizeof *f);
	return t;
}

int tls_preload(struct tls *t, char *err, size_t errlen)
{
	return tls_files_load(&t->f, t->c, err, errlen);
}

/* The first queued OpenSSL error as text, else what. */
static void set_err(struct tls *t, const char *what)
{
	unsigned long e = ERR_get_error();

	if (e) {
		char buf[200];
		ERR_error_string_n(e, buf, sizeof buf);
		snprintf(t->err, sizeof t->err, "%s: %s", what, buf);
	} else {
		snprintf(t->err, sizeof t->err, "%s", what);
	}
	ERR_clear_error();
}

/* A passphrase prompt would read the terminal: keys must be unencrypted. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

/* Tickets sealed with the instance's shared keys (RFC 5077 layout). */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
		     EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const unsigned char *k = NULL;
	OSSL_PARAM p[3];
	int i;

	if (enc) {
		k = t->f.tickets[0];
		memcpy(name, k, 16);
		if (RAND_bytes(iv, 16) != 1)
			return -1;
	} else {
		for (i = 0; i < t->f.ntickets; i++)
			if (!memcmp(name, t->f.tickets[i], 16))
				break;
		if (i == t->f.ntickets)
			return 0;       /* unknown key: full handshake */
		k = t->f.tickets[i];
	}
	p[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)(k + 16), 32);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	p[2] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(hctx, p))
		return -1;
	if (enc)
		return EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k + 48, iv) == 1 ? 1 : -1;
	if (EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k + 48, iv) != 1)
		return -1;
	/* sealed with an older key: accept, and issue a ticket under the new one */
	return i == 0 ? 1 : 2;
}

int tls_warm(void)
{
	SSL_CTX *ctx;

	if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL))
		return -1;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

static int common_ctx(struct tls *t, int min_version)
{
	/* the system openssl.cnf is not read: it costs start-up time and
	 * the instance's settings say what we want; and no clean-up at
	 * exit: freeing OpenSSL's tables one by one in a process that is
	 * about to end cost a session a few per cent of its time */
	if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL)) {
		set_err(t, "OpenSSL initialisation");
		return -1;
	}
	t->ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());
	if (!t->ctx) {
		set_err(t, "SSL_CTX_new");
		return -1;
	}
	SSL_CTX_set_security_level(t->ctx, 2);
	SSL_CTX_set_min_proto_version(t->ctx, min_version == TLS_MIN_13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	/* renegotiation would make a read want a write behind io.c's back;
	 * a client that drops without close_notify after QUIT is common
	 * and harmless: CRLF.CRLF, not the TLS close, ends a message */
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
			    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

static int server_ctx(struct tls *t)
{
	const struct conf *c = t->c;
	char err[CONF_PATH_MAX + 128];
	X509 *x;
	EVP_PKEY *pk;
	BIO *b;

	if (tls_files_load(&t->f, c, err, sizeof err) < 0) {
		snprintf(t->err, sizeof t->err, "%s", err);
		return -1;
	}
	if (common_ctx(t, c->tls_min_version) < 0)
		return -1;
	if (SSL_CTX_set_cipher_list(t->ctx, c->tls_ciphers[0] ? c->tls_ciphers : default_ciphers) != 1 ||
	    (c->tls_ciphersuites[0] && SSL_CTX_set_ciphersuites(t->ctx, c->tls_ciphersuites) != 1) ||
	    (c->tls_groups[0] && SSL_CTX_set1_groups_list(t->ctx, c->tls_groups) != 1)) {
		set_err(t, "tls_ciphers, tls_ciphersuites or tls_groups");
		return -1;
	}
	SSL_CTX_set_dh_auto(t->ctx, 1);
	SSL_CTX_set_options(t->ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);

	b = BIO_new_mem_buf(t->f.cert, (int)t->f.certlen);
	x = b ? PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL) : NULL;
	if (!x || SSL_CTX_use_certificate(t->ctx, x) != 1) {
		X509_free(x);
		BIO_free(b);
		set_err(t, c->tls_cert);
		return -1;
	}
	X509_free(x);
	/* the rest of the file is the chain, leaf's issuer first */
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)))
		if (SSL_CTX_add0_chain_cert(t->ctx, x) != 1) {
			X509_free(x);
			BIO_free(b);
			set_err(t, c->tls_cert);
			return -1;
		}
	ERR_clear_error();      /* the end of the file reads as an error */
	BIO_free(b);

	b = BIO_new_mem_buf(t->f.key, (int)t->f.keylen);
	pk = b ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL) : NULL;
	BIO_free(b);
	tls_files_drop_pem(&t->f);
	if (!pk || SSL_CTX_use_PrivateKey(t->ctx, pk) != 1 || SSL_CTX_check_private_key(t->ctx) != 1) {
		EVP_PKEY_free(pk);
		set_err(t, c->tls_key);
		return -1;
	}
	EVP_PKEY_free(pk);

	SSL_CTX_set_session_id_context(t->ctx, (const unsigned char *)"postern", 7);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	if (t->f.ntickets) {
		SSL_CTX_set_app_data(t->ctx, t);
		SSL_CTX_set_tlsext_ticket_key_evp_cb(t->ctx, ticket_cb);
		SSL_CTX_set_num_tickets(t->ctx, 1);
	} else {
		SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(t->ctx, 0);
	}
	return 0;
}

struct tls *tls_server_ready(const struct conf *c, struct tls_files *f, char *err, size_t errlen)
{
	struct tls *t = tls_server_files(c, f);

	if (server_ctx(t) < 0) {
		snprintf(err, errlen, "%s", t->err);
		tls_close(t);
		return NULL;
	}
	/* c was the builder's; the context needs only its own copies (the
	 * ticket keys stay in t->f, which the ticket callback reads) */
	t->c = NULL;
	return t;
}

struct tls *tls_server_on(const struct conf *c, struct tls *ready)
{
	struct tls *t = tls_server(c);

	SSL_CTX_up_ref(ready->ctx);
	t->ctx = ready->ctx;
	return t;
}

static int client_ctx(struct tls *t)
{
	if (common_ctx(t, t->min_version) < 0)
		return -1;
	/* without verify: encryption against a passive eavesdropper, as
	 * RFC 7435 describes, and no trust store to load */
	if (t->verify && (t->cafile[0] ? SSL_CTX_load_verify_locations(t->ctx, t->cafile, NULL) != 1
				       : SSL_CTX_set_default_verify_paths(t->ctx) != 1)) {
		set_err(t, "trust store");
		return -1;
	}
	SSL_CTX_set_verify(t->ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int handshake(struct tls *t, int rfd, int wfd, int idle_ms, int64_t deadline)
{
	if (!t->ctx && (t->server ? server_ctx(t) : client_ctx(t)) < 0)
		return -1;
	/* TLS writes a reply as several records (a session ticket, then the
	 * data): with Nagle's algorithm the second one waits for the peer's
	 * delayed ACK, 40 ms per round trip.  Not a socket: no matter. */
	{
		int one = 1;
		setsockopt(wfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	if (set_nonblock(rfd) < 0 || set_nonblock(wfd) < 0) {
		snprintf(t->err, sizeof t->err, "fcntl: %s", strerror(errno));
		return -1;
	}
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl || SSL_set_rfd(t->ssl, rfd) != 1 || SSL_set_wfd(t->ssl, wfd) != 1) {
		set_err(t, "SSL_new");
		return -1;
	}
	if (!t->server && t->servername[0]) {
		unsigned char ip[16];
		int is_ip = inet_pton(AF_INET, t->servername, ip) == 1 ||
			    inet_pton(AF_INET6, t->servername, ip) == 1;
		X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);

		/* SNI carries host names only; an address is checked
		 * against the certificate's IP entries */
		if (!is_ip)
			SSL_set_tlsext_host_name(t->ssl, t->servername);
		if (t->verify && (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, t->servername)
					: X509_VERIFY_PARAM_set1_host(vp, t->servername, 0)) != 1) {
			set_err(t, "setting the name to verify");
			return -1;
		}
	}
	for (;;) {
		int r, e, w;

		ERR_clear_error();
		r = t->server ? SSL_accept(t->ssl) : SSL_connect(t->ssl);
		if (r == 1)
			return 0;
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			w = e == SSL_ERROR_WANT_READ ? io_wait(rfd, POLLIN, idle_ms, deadline)
						     : io_wait(wfd, POLLOUT, idle_ms, deadline);
			if (w == IO_OK)
				continue;
			if (w == IO_TIMEOUT)
				snprintf(t->err, sizeof t->err, "%s",
					 BIO_number_read(SSL_get_rbio(t->ssl)) == 0
					 ? "timeout before ClientHello" : "timeout in handshake");
			else
				snprintf(t->err, sizeof t->err, "poll: %s", strerror(errno));
			return -1;
		}
		if (e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SYSCALL && !ERR_peek_error())) {
			snprintf(t->err, sizeof t->err, "connection closed in handshake%s",
				 BIO_number_read(SSL_get_rbio(t->ssl)) == 0 ? " (no ClientHello)" : "");
			return -1;
		}
		if (!t->server && t->verify && SSL_get_verify_result(t->ssl) != X509_V_OK) {
			snprintf(t->err, sizeof t->err, "certificate verification failed: %s",
				 X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
			ERR_clear_error();
			return -1;
		}
		set_err(t, "handshake failed");
		return -1;
	}
}

int tls_accept(struct tls *t, int rfd, int wfd, int idle_ms, int64_t deadline)
{
	return handshake(t, rfd, wfd, idle_ms, deadline);
}

int tls_connect(struct tls *t, int rfd, int wfd, int idle_ms, int64_t deadline)
{
	return handshake(t, rfd, wfd, idle_ms, deadline);
}

/* io.c retries on EAGAIN after waiting on the fd, which is what a
 * non-blocking SSL_read/SSL_write that wants more data needs. */
static ssize_t op_read(void *ctx, void *buf, size_t n)
{
	struct tls *t = ctx;
	int r, e;

	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !ERR_peek_error() && !errno))
		return 0;
	set_err(t, "read");
	errno = EIO;
	return -1;
}

static ssize_t op_write(void *ctx, const void *buf, size_t n)
{
	struct tls *t = ctx;
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
	set_err(t, "write");
	errno = EIO;
	return -1;
}

static size_t op_pending(void *ctx)
{
	struct tls *t = ctx;
	int n = SSL_pending(t->ssl);

	return n > 0 ? (size_t)n : 0;
}

void tls_io_ops(struct tls *t, struct io_ops *ops)
{
	ops->read = op_read;
	ops->write = op_write;
	ops->pending = op_pending;
	ops->ctx = t;
}

const char *tls_error(const struct tls *t)
{
	return t ? t->err : "";
}

const char *tls_version(const struct tls *t)
{
	return t && t->ssl ? SSL_get_version(t->ssl) : "";
}

const char *tls_cipher(const struct tls *t)
{
	const char *n = t && t->ssl ? SSL_get_cipher_name(t->ssl) : NULL;

	return n ? n : "";
}

int tls_cipher_bits(const struct tls *t)
{
	return t && t->ssl ? SSL_get_cipher_bits(t->ssl, NULL) : 0;
}

int tls_reused(const struct tls *t)
{
	return t && t->ssl ? SSL_session_reused(t->ssl) : 0;
}

void tls_close(struct tls *t)
{
	if (!t)
		return;
	if (t->ssl) {
		/* one try: a client that is gone must not hold us up */
		if (SSL_is_init_finished(t->ssl))
			SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	SSL_CTX_free(t->ctx);
	tls_files_clear(&t->f);
	free(t);
}
