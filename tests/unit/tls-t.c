/* Tests for the TLS layer: handshakes over a socketpair, io hooks, limits, file checks. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "io.h"
#include "tls.h"
#include "tap.h"

static char dir[] = "/tmp/postern-tls-t.XXXXXX";

/* A throwaway self-signed P-256 certificate and key. */
static int make_cert(const char *certpath, const char *keypath)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	FILE *f;

	if (!k || !x)
		return -1;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"mx.example.test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	if (!X509_sign(x, k, EVP_sha256()))
		return -1;
	if (!(f = fopen(certpath, "w")))
		return -1;
	PEM_write_X509(f, x);
	fclose(f);
	if (!(f = fopen(keypath, "w")))
		return -1;
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(k);
	return 0;
}

/* Child: TLS client that sends "ping" and expects "pong". */
static int client(int fd)
{
	struct tls *t = tls_client("mx.example.test", NULL, 0, TLS_MIN_12);
	struct io_ops ops;
	struct io_in in;
	struct io_out out;
	char *line;
	size_t len;
	int crlf;

	if (tls_connect(t, fd, fd, 5000, io_now_ms() + 10000) < 0)
		return 2;
	tls_io_ops(t, &ops);
	io_in_init(&in, fd, 4096);
	io_out_init(&out, fd, 4096);
	in.ops = out.ops = &ops;
	in.idle_ms = out.idle_ms = 5000;
	io_puts(&out, "ping\r\n");
	io_flush(&out);
	if (io_getline(&in, 100, &line, &len, &crlf) != IO_OK || strcmp(line, "pong"))
		return 3;
	tls_close(t);
	return 0;
}

static void conf_for(struct conf *c, const char *tickets)
{
	conf_defaults(c);
	c->tls = TLS_STARTTLS;
	snprintf(c->tls_cert, sizeof c->tls_cert, "%s/cert.pem", dir);
	snprintf(c->tls_key, sizeof c->tls_key, "%s/key.pem", dir);
	if (tickets)
		snprintf(c->tls_ticket_key, sizeof c->tls_ticket_key, "%s/%s", dir, tickets);
}

static void write_file(const char *name, size_t n)
{
	char p[256], buf[400];
	int fd;

	memset(buf, 'k', sizeof buf);
	snprintf(p, sizeof p, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (write(fd, buf, n) != (ssize_t)n)
			diag("short write");
		close(fd);
	}
}

int main(void)
{
	char cert[256], key[256], err[512];
	struct conf c;
	struct tls *t;
	int sv[2], st;
	pid_t pid;

	signal(SIGPIPE, SIG_IGN);
	ok(tls_ticket_keys_check(80) == 1 && tls_ticket_keys_check(320) == 4, "ticket keys: 1 and 4 keys");
	ok(tls_ticket_keys_check(0) < 0 && tls_ticket_keys_check(79) < 0 &&
	   tls_ticket_keys_check(81) < 0 && tls_ticket_keys_check(400) < 0,
	   "ticket keys: empty, partial and too many refused");

	if (!mkdtemp(dir)) {
		ok(0, "temporary directory");
		return tap_done();
	}
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
	ok(make_cert(cert, key) == 0, "self-signed certificate made");
	write_file("tickets", 160);
	write_file("badtickets", 100);

	conf_for(&c, "badtickets");
	t = tls_server(&c);
	ok(tls_preload(t, err, sizeof err) < 0 && strstr(err, "100 bytes"), "ticket key of 100 bytes refused (%s)", err);
	tls_close(t);
	conf_for(&c, NULL);
	snprintf(c.tls_key, sizeof c.tls_key, "%s/missing.pem", dir);
	t = tls_server(&c);
	ok(tls_preload(t, err, sizeof err) < 0 && strstr(err, "missing.pem"), "missing key file named (%s)", err);
	tls_close(t);

	/* a full handshake and data both ways through io_in/io_out */
	conf_for(&c, "tickets");
	t = tls_server(&c);
	ok(tls_preload(t, err, sizeof err) == 0, "preload cert, key and two ticket keys");
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(client(sv[1]));
	}
	close(sv[1]);
	{
		struct io_ops ops;
		struct io_in in;
		struct io_out out;
		char *line;
		size_t len;
		int crlf, r;

		r = tls_accept(t, sv[0], sv[0], 5000, io_now_ms() + 10000);
		ok(r == 0, "server handshake (%s)", tls_error(t));
		ok(!strcmp(tls_version(t), "TLSv1.3") && tls_cipher(t)[0] && tls_cipher_bits(t) >= 128,
		   "TLS 1.3 negotiated: %s %s %d", tls_version(t), tls_cipher(t), tls_cipher_bits(t));
		tls_io_ops(t, &ops);
		io_in_init(&in, sv[0], 4096);
		io_out_init(&out, sv[0], 4096);
		in.ops = out.ops = &ops;
		in.idle_ms = out.idle_ms = 5000;
		in.flush = &out;
		ok(io_getline(&in, 100, &line, &len, &crlf) == IO_OK && !strcmp(line, "ping") && crlf,
		   "line read through TLS");
		io_puts(&out, "pong\r\n");
		ok(io_flush(&out) == 0, "reply written through TLS");
		ok(io_getline(&in, 100, &line, &len, &crlf) == IO_EOF, "close_notify reads as end of file");
		io_in_free(&in);
		io_out_free(&out);
	}
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client saw the reply (exit %d)", WEXITSTATUS(st));
	tls_close(t);
	close(sv[0]);

	/* a client that connects and says nothing: bounded by the idle time */
	conf_for(&c, NULL);
	t = tls_server(&c);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	{
		int64_t t0 = io_now_ms();
		int r = tls_accept(t, sv[0], sv[0], 200, io_now_ms() + 10000);
		int64_t took = io_now_ms() - t0;

		ok(r < 0 && !strcmp(tls_error(t), "timeout before ClientHello") && took < 2000,
		   "silent client: '%s' after %lld ms", tls_error(t), (long long)took);
	}
	tls_close(t);
	close(sv[0]);
	close(sv[1]);

	/* plaintext where a ClientHello should be */
	t = tls_server(&c);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	if (write(sv[1], "EHLO x\r\nNOOP\r\n", 14) != 14)
		diag("short write");
	ok(tls_accept(t, sv[0], sv[0], 1000, io_now_ms() + 5000) < 0 &&
	   strstr(tls_error(t), "handshake failed"), "plaintext instead of ClientHello: %s", tls_error(t));
	tls_close(t);
	close(sv[0]);
	close(sv[1]);

	/* the deadline wins over a longer idle time */
	t = tls_server(&c);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	{
		int64_t t0 = io_now_ms();
		int r = tls_accept(t, sv[0], sv[0], 60000, io_now_ms() + 300);

		ok(r < 0 && io_now_ms() - t0 < 2000, "session deadline bounds the handshake");
	}
	tls_close(t);
	close(sv[0]);
	close(sv[1]);

	{
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			diag("cleanup failed");
	}
	return tap_done();
}
