/* TLS certificate, key and ticket-key bytes, read without OpenSSL; see tlsfiles.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "str.h"
#include "tlsfiles.h"

#define FILE_MAX (1024 * 1024)

int tls_ticket_keys_check(size_t n)
{
	if (n == 0 || n % TLS_TICKET_KEY_LEN || n / TLS_TICKET_KEY_LEN > TLS_TICKET_KEYS_MAX)
		return -1;
	return (int)(n / TLS_TICKET_KEY_LEN);
}

/* The whole of a small file; -1 with err set. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct stat sb;
	size_t got = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_size > FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most 1 MiB", path);
		close(fd);
		return -1;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	return 0;
}

static void drop_bytes(char **p, size_t *n)
{
	if (*p) {
		explicit_bzero(*p, *n);
		free(*p);
	}
	*p = NULL;
	*n = 0;
}

int tls_files_load(struct tls_files *f, const struct conf *c, char *err, size_t errlen)
{
	if (f->loaded)
		return 0;
	if (read_file(c->tls_cert, &f->cert, &f->certlen, err, errlen) < 0 ||
	    read_file(c->tls_key, &f->key, &f->keylen, err, errlen) < 0)
		goto fail;
	if (c->tls_ticket_key[0]) {
		char *tk = NULL;
		size_t tn = 0;
		int k;

		if (read_file(c->tls_ticket_key, &tk, &tn, err, errlen) < 0)
			goto fail;
		k = tls_ticket_keys_check(tn);
		if (k < 0) {
			snprintf(err, errlen, "%s: %zu bytes; want 80 per key, 1 to %d keys (openssl rand 80)",
				 c->tls_ticket_key, tn, TLS_TICKET_KEYS_MAX);
			drop_bytes(&tk, &tn);
			goto fail;
		}
		memcpy(f->tickets, tk, tn);
		f->ntickets = k;
		drop_bytes(&tk, &tn);
	}
	f->loaded = 1;
	return 0;
fail:
	tls_files_clear(f);
	return -1;
}

void tls_files_drop_pem(struct tls_files *f)
{
	drop_bytes(&f->cert, &f->certlen);
	drop_bytes(&f->key, &f->keylen);
}

void tls_files_clear(struct tls_files *f)
{
	tls_files_drop_pem(f);
	explicit_bzero(f->tickets, sizeof f->tickets);
	f->ntickets = 0;
	f->loaded = 0;
}
