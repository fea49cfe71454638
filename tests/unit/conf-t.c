/* Tests for the postern.conf parser: every key type, bounds and errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tap.h"

struct row {
	const char *text;
	const char *err;   /* NULL: must parse; else expected error substring */
};

static const struct row rows[] = {
	{ "", NULL },
	{ "# comment\n\n   \n", NULL },
	{ "hostname = mx.example.test\n", NULL },
	{ "hostname=mx.example.test", NULL },
	{ "hostname = mx.example.test\r\n", NULL },
	{ "hostname = bad_host\n", "t.conf:1: hostname: 'bad_host' is not a host name" },
	{ "hostname = a..b\n", "is not a host name" },
	{ "max_message_size = 10M\n", NULL },
	{ "max_message_size = 10Q\n", "t.conf:1: max_message_size: expected a size" },
	{ "max_message_size = 100\n", "out of range" },
	{ "max_message_size = 2048G\n", "out of range" },
	{ "max_message_size = 99999999999999999999999\n", "expected a size" },
	{ "max_recipients = 0\n", "out of range" },
	{ "max_recipients = 100001\n", "out of range" },
	{ "max_recipients = -1\n", "expected a number" },
	{ "max_recipients = 5\nmax_recipients = 6\n", "t.conf:2: 'max_recipients' set twice (first at line 1)" },
	{ "idle_timeout = 5m\n", NULL },
	{ "idle_timeout = 2d\n", "out of range" },
	{ "idle_timeout = 5x\n", "expected a time" },
	{ "line_max = 511\n", "out of range" },
	{ "line_max = 512\n", NULL },
	{ "fsync = no\n", NULL },
	{ "fsync = maybe\n", "expected yes or no" },
	{ "nosuchkey = 1\n", "t.conf:1: unknown key 'nosuchkey'" },
	{ "\n\n  bogus line\n", "t.conf:3: expected 'key = value'" },
	{ "banner = \"  spaced  \"\n", NULL },
	{ "banner = a\001b\n", "control character" },
	{ "recipient_delimiter = +\n", NULL },
	{ "recipient_delimiter = ++\n", "one printable character" },
	{ "recipient_delimiter = @\n", "one printable character" },
	{ "mail_root = \"\"\n", "empty path" },
	{ "user = postern\n", NULL },
	{ "greeting_delay = 1500ms\n", NULL },
	{ "greeting_delay = 2m\n", "out of range" },
	{ "min_data_rate = 0\n", NULL },
	{ "min_data_rate = fast\n", "expected a number" },
	{ "auth_plaintext = yes\n", NULL },
	{ "auth_plaintext = sometimes\n", "expected yes or no" },
	{ "auth_fail_delay = 100ms\n", NULL },
	{ "auth_fail_delay = 0\n", NULL },
	{ "auth_fail_delay = 2s\n", NULL },
	{ "auth_fail_delay = 61s\n", "out of range" },
	{ "auth_fail_delay = 5m\n", "out of range" },
	{ "auth_fail_delay = 10us\n", "expected a time like 2s or 250ms" },
	{ "auth_fail_delay = ms\n", "expected a time" },
	{ "max_auth_failures = 0\n", "out of range" },
	{ "max_auth_failures = 5\n", NULL },
	{ "smarthost = [127.0.0.1]:2525\n", NULL },
	{ "queue_lifetime = 5d\n", NULL },
	{ "queue_lifetime = 2s\n", NULL },
	{ "queue_lifetime = 31d\n", "out of range" },
	{ "retry_min = 200ms\n", NULL },
	{ "retry_min = 0\n", "out of range" },
	{ "retry_max = 4h\n", NULL },
	{ "retry_max = 8d\n", "out of range" },
	{ "retry_max = 4x\n", "expected a time" },
	{ "relay_concurrency = 0\n", "out of range" },
	{ "relay_concurrency = 10\n", NULL },
	{ "relay_timeout = 30s\n", NULL },
	{ "tls_ca_file = ca.pem\n", NULL },
	{ "tls = starttls\n", NULL },
	{ "tls = implicit\n", NULL },
	{ "tls = on\n", "tls: expected one of off|starttls|implicit, got 'on'" },
	{ "tls_cert = /etc/ssl/mx.pem\ntls_key = mx.key\n", NULL },
	{ "tls_key = \"\"\n", "tls_key: empty path" },
	{ "tls_ticket_key = tickets\n", NULL },
	{ "tls_min_version = 1.3\n", NULL },
	{ "tls_min_version = 1.1\n", "expected one of 1.2|1.3" },
	{ "tls_ciphers = ECDHE+AESGCM\n", NULL },
	{ "tls_ciphersuites = TLS_AES_256_GCM_SHA384\n", NULL },
	{ "tls_groups = X25519:P-256\n", NULL },
	{ "auth = users\n", NULL },
	{ "auth = pam\n", NULL },
	{ "auth = users,pam\n", NULL },
	{ "auth = pam,users\n", "expected one of users|pam|users,pam" },
	{ "pam_service = smtp\n", NULL },
	{ "submission = yes\n", NULL },
	{ "submission = 2\n", "expected yes or no" },
	{ "maps = ..\n", NULL },
};

int main(void)
{
	struct conf c;
	char err[CONF_ERR_MAX];

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		int rc;

		conf_defaults(&c);
		err[0] = '\0';
		rc = conf_parse(&c, "t.conf", r->text, strlen(r->text), err, sizeof err);
		if (!r->err)
			ok(rc == 0, "conf %zu parses (%s)", i, err);
		else
			ok(rc < 0 && strstr(err, r->err), "conf %zu error '%s' (got '%s')", i, r->err, err);
	}

	conf_defaults(&c);
	ok(c.max_message_size == 25ULL << 20 && c.line_max == 1000 && c.fsync == 1,
	   "defaults");
	conf_parse(&c, "t", "max_message_size = 2k\nidle_timeout = 2m\nbanner = \"  hi  \"\n", 57, err, sizeof err);
	ok(c.max_message_size == 2048, "size suffix k");
	ok(c.idle_timeout == 120, "time suffix m");
	is_str(c.banner, "  hi  ", "quoted value keeps inner spaces");
	conf_defaults(&c);
	ok(c.auth_plaintext == 0 && c.auth_fail_delay == 2000 && c.max_auth_failures == 3,
	   "POP3 login defaults: no plaintext, 2s delay, 3 failures");
	conf_parse(&c, "t", "auth_fail_delay = 150ms\n", 23, err, sizeof err);
	ok(c.auth_fail_delay == 150, "milliseconds: 150ms");
	conf_defaults(&c);
	conf_parse(&c, "t", "auth_fail_delay = 3\n", 19, err, sizeof err);
	ok(c.auth_fail_delay == 3000, "a bare number is seconds: 3 -> 3000ms");
	conf_defaults(&c);
	conf_parse(&c, "t", "auth_fail_delay = 1m\n", 20, err, sizeof err);
	ok(c.auth_fail_delay == 60000, "minutes: 1m -> 60000ms");

	{
		const char nul[] = "hostname = a\0b\n";
		conf_defaults(&c);
		ok(conf_parse(&c, "t", nul, sizeof nul - 1, err, sizeof err) < 0 && strstr(err, "NUL"),
		   "NUL byte refused");
	}
	{
		char path[CONF_PATH_MAX];
		conf_defaults(&c);
		strcpy(c.dir, "/etc/postern/a");
		ok(conf_path(&c, "mail", path, sizeof path) == 0 && !strcmp(path, "/etc/postern/a/mail"),
		   "relative path resolved against the instance");
		ok(conf_path(&c, "/srv/mail", path, sizeof path) == 0 && !strcmp(path, "/srv/mail"),
		   "absolute path kept");
	}
	conf_defaults(&c);
	ok(c.tls == TLS_OFF && c.tls_min_version == TLS_MIN_12 && c.auth_backend == AUTHB_USERS &&
	   !strcmp(c.pam_service, "postern") && !c.submission && !c.maps[0],
	   "TLS and auth defaults: off, TLS 1.2, users map, service postern");
	ok(!strcmp(conf_maps_dir(&c), c.dir), "maps default to the instance directory");
	{
		char path[CONF_PATH_MAX];
		setenv("CREDENTIALS_DIRECTORY", "/run/credentials/x", 1);
		ok(conf_path(&c, "$CREDENTIALS_DIRECTORY/key.pem", path, sizeof path) == 0 &&
		   !strcmp(path, "/run/credentials/x/key.pem"), "$CREDENTIALS_DIRECTORY expanded");
		unsetenv("CREDENTIALS_DIRECTORY");
		ok(conf_path(&c, "$CREDENTIALS_DIRECTORY/key.pem", path, sizeof path) < 0,
		   "$CREDENTIALS_DIRECTORY unset: an error, not a relative path");
	}
	ok(conf_load(&c, "/nonexistent-postern-dir", err, sizeof err) < 0 &&
	   strstr(err, "/nonexistent-postern-dir/postern.conf"), "missing postern.conf named");

	/* conf_unchanged: the file read, the same file, then edited in
	 * place, then replaced */
	{
		char dir[] = "/tmp/postern-conf-t.XXXXXX", file[CONF_PATH_MAX + 16];
		struct stat st;
		FILE *f;
		int loaded;

		if (!mkdtemp(dir))
			return 1;
		ok(conf_file(dir, file, sizeof file) == 0 && strlen(file) > strlen(dir) &&
		   !strcmp(file + strlen(dir), "/postern.conf"), "conf_file: %s", file);
		f = fopen(file, "w");
		fputs("hostname = a.example.test\n", f);
		fclose(f);
		err[0] = '\0';
		loaded = conf_load_st(&c, dir, &st, err, sizeof err) == 0;
		ok(loaded && !strcmp(c.hostname, "a.example.test"), "conf_load_st reads it (%s)", err);
		ok(loaded && conf_unchanged(dir, &st), "unchanged right after reading");
		f = fopen(file, "a");
		fputs("banner = x\n", f);
		fclose(f);
		ok(!conf_unchanged(dir, &st), "edited in place: changed");
		conf_load_st(&c, dir, &st, err, sizeof err);
		{
			char tmp[CONF_PATH_MAX + 32];
			snprintf(tmp, sizeof tmp, "%s.new", file);
			f = fopen(tmp, "w");
			fputs("hostname = a.example.test\nbanner = x\n", f);
			fclose(f);
			rename(tmp, file);
		}
		ok(!conf_unchanged(dir, &st), "replaced by another file: changed");
		unlink(file);
		ok(!conf_unchanged(dir, &st), "gone: changed");
		rmdir(dir);
	}
	return tap_done();
}
