/* Fuzz harness: whole SMTP sessions (smtp-session/session.c and its
 * handlers) over an in-memory connection, delivering into a tmpfs instance.
 *
 * Input: byte 0 picks the session's circumstances (client address, EHLO
 * limits, submission, VRFY, read sizes), the rest is what the client sends.
 * Checked after every session: each reply line is "NNN text" or "NNN-text"
 * with CRLF, nothing is left in any tmp/ folder, no stored message holds a
 * CR or NUL (the store gets LF line ends only; smuggling cannot get a bare
 * CR through), the number of "queued as" replies is the number of accepted
 * messages, and every message in new/ came with a 250. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "log.h"
#include "smtp.h"
#include "str.h"

static const char *dir;
static struct conf base;
static char mail[1100], spool[1100];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[CONF_ERR_MAX + CONF_PATH_MAX];

	(void)argc;
	(void)argv;
	log_init("smtp-session");
	dir = fuzz_instance(NULL);
	if (conf_load(&base, dir, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		exit(1);
	}
	snprintf(mail, sizeof mail, "%s", base.mail_root);
	snprintf(spool, sizeof spool, "%s", base.spool);
	return 0;
}

static int reply_ok(const char *l, size_t n)
{
	return n >= 4 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
	       l[2] >= '0' && l[2] <= '9' && (l[3] == ' ' || l[3] == '-');
}

static size_t count_queued(const unsigned char *p, size_t n)
{
	static const char tag[] = "250 2.0.0 Ok: queued as ";
	size_t c = 0;

	for (size_t i = 0; i + sizeof tag - 1 <= n; i++)
		if ((i == 0 || p[i - 1] == '\n') && !memcmp(p + i, tag, sizeof tag - 1))
			c++;
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session s;
	static const size_t chunks[4] = { 0, 1, 7, 300 };
	static const char *const ips[4] = { "192.0.2.1", "127.0.0.1", "198.51.100.7", "" };
	struct fuzz_io f;
	unsigned mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;

	memset(&s, 0, sizeof s);
	s.conf = base;
	s.conf.submission = (mode >> 2) & 1;
	s.conf.vrfy = (mode >> 3) & 1;
	s.conf.chunking = !((mode >> 4) & 1);
	s.conf.max_auth_failures = 2;
	session_init(&s);
	snprintf(s.ip, sizeof s.ip, "%s", ips[mode & 3]);
	snprintf(s.port, sizeof s.port, "25");
	s.started = io_now_ms();
	s.deadline = s.started + (int64_t)s.conf.session_timeout * 1000;
	maps_init(&s.maps, conf_maps_dir(&s.conf));
	if (access_check(&s.maps, s.ip, &s.acc) < 0 || s.acc.action == ACCESS_DENY) {
		/* main.c refuses these before the banner: nothing to fuzz */
		maps_close(&s.maps);
		rcptset_free(&s.set);
		rcptfwd_free(&s.fwd);
		return 0;
	}
	if (s.acc.max_size && s.acc.max_size < s.conf.max_message_size)
		s.conf.max_message_size = s.acc.max_size;
	if (s.acc.max_rcpts && s.acc.max_rcpts < s.conf.max_recipients)
		s.conf.max_recipients = s.acc.max_rcpts;
	io_in_init(&s.in, 0, s.conf.line_max + 4096);
	io_out_init(&s.out, 1, 16384);
	fuzz_io_init(&f, data, size, chunks[(mode >> 5) & 3], 0x1234567u + mode);
	fuzz_io_attach(&f, &s.in, &s.out);
	s.in.idle_ms = s.out.idle_ms = (int)s.conf.idle_timeout * 1000;
	s.in.deadline = s.out.deadline = s.deadline;
	s.in.flush = &s.out;

	/* what main.c runs */
	session_run(&s);

	/* the checks */
	FUZZ_CHECK(!s.sink.open && s.sink.pid == 0);
	if (f.outlen < f.outcap) {
		fuzz_check_lines(f.out, f.outlen, reply_ok);
		FUZZ_CHECK(count_queued(f.out, f.outlen) == s.messages);
	}
	{
		int bad = 0;
		size_t files = fuzz_count_files(mail, "\r\0", 2, &bad);

		files += fuzz_count_files(spool, NULL, 0, NULL);
		FUZZ_CHECK(!bad);
		FUZZ_CHECK(fuzz_count_tmp(mail) == 0 && fuzz_count_tmp(spool) == 0);
		FUZZ_CHECK(s.messages > 0 || files == 0);
		if (files) {
			fuzz_rmtree(mail);
			fuzz_rmtree(spool);
			mkdir(mail, 0700);
			mkdir(spool, 0700);
		}
	}

	maps_close(&s.maps);
	rcptset_free(&s.set);
	rcptfwd_free(&s.fwd);
	io_in_free(&s.in);
	io_out_free(&s.out);
	fuzz_io_free(&f);
	return 0;
}
