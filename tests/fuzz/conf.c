/* Fuzz harness: postern.conf parsing (lib/conf.c conf_parse).
 *
 * Checked: an error names the file and a line; after a successful parse
 * every string key is NUL-terminated inside its buffer and the numbers
 * respect the bounds the key table promises. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(f) FUZZ_CHECK(memchr(c.f, '\0', sizeof c.f) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf c;
	char err[CONF_ERR_MAX];
	char *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	conf_defaults(&c);
	err[0] = '\0';
	if (conf_parse(&c, "fuzz.conf", buf, size, err, sizeof err) < 0) {
		FUZZ_CHECK(!strncmp(err, "fuzz.conf:", 10));
		FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
	} else {
		TERMINATED(hostname);
		TERMINATED(banner);
		TERMINATED(mail_root);
		TERMINATED(spool);
		TERMINATED(user);
		TERMINATED(postmaster);
		TERMINATED(recipient_delimiter);
		TERMINATED(maps);
		TERMINATED(pam_service);
		TERMINATED(tls_cert);
		TERMINATED(tls_key);
		TERMINATED(tls_ciphers);
		TERMINATED(smarthost);
		FUZZ_CHECK(c.max_message_size >= 1024 && c.max_message_size <= 1ULL << 40);
		FUZZ_CHECK(c.max_recipients >= 1 && c.max_recipients <= 100000);
		FUZZ_CHECK(c.max_errors >= 1);
		FUZZ_CHECK(c.line_max >= 512 && c.line_max <= 65536);
		FUZZ_CHECK(c.idle_timeout >= 1 && c.session_timeout >= 1);
		FUZZ_CHECK(c.auth_fail_delay <= 60000);
		FUZZ_CHECK(c.fsync == 0 || c.fsync == 1);
		FUZZ_CHECK(c.tls >= TLS_OFF && c.tls <= TLS_IMPLICIT);
		FUZZ_CHECK(c.delivery == DELIVERY_INTERNAL || c.delivery == DELIVERY_DELIVER);
		/* banner, hostname and the like end up in replies: one line */
		FUZZ_CHECK(!strpbrk(c.hostname, "\r\n") && !strpbrk(c.banner, "\r\n"));
	}
	free(buf);
	return 0;
}
