/* Fuzz harness: whole POP3 sessions (pop3-session/session.c, retr.c,
 * auth.c) over an in-memory connection, on a mailbox of three messages
 * made afresh for every input.
 *
 * Input: byte 0 picks the read sizes, the rest is what the client sends
 * (the seeds log in as alice@example.test / alice-secret).  Checked: each
 * line the server writes ends in CRLF (a message line is dot-stuffed:
 * never a lone "." before the end of a listing), every status line is
 * "+OK" or "-ERR", messages disappear only after a QUIT in the
 * transaction state that says so, and nothing else changes in the
 * maildir. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "log.h"
#include "pop3.h"
#include "str.h"

static struct conf base;
static char box[1200], mail[1100];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const msgs[3][2] = {
	{ "1700000000.M1P1Q1.test,S=28,W=30", "Subject: one\n\nfirst body\n\n" },
	{ "1700000001.M2P1Q2.test,S=53,W=58", "Subject: two\n\n.starts with a dot\n..two dots\nend\n" },
	{ "1700000002.M3P1Q3.test", "Subject: three\nX: \r\n\n\nno final LF" },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	const char *dir;

	(void)argc;
	(void)argv;
	log_init("pop3-session");
	dir = fuzz_instance(NULL);
	if (conf_load(&base, dir, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		exit(1);
	}
	snprintf(mail, sizeof mail, "%s", base.mail_root);
	snprintf(box, sizeof box, "%s/example.test/alice", base.mail_root);
	return 0;
}

static void make_box(void)
{
	char p[1400];
	FILE *f;

	mkdir(mail, 0700);
	snprintf(p, sizeof p, "%s/example.test", mail);
	mkdir(p, 0700);
	mkdir(box, 0700);
	for (int i = 0; i < 3; i++) {
		static const char *const sub[] = { "tmp", "new", "cur" };
		snprintf(p, sizeof p, "%s/%s", box, sub[i]);
		mkdir(p, 0700);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s/%s", box, i == 2 ? "cur" : "new", msgs[i][0]);
		f = fopen(p, "w");
		if (!f || fputs(msgs[i][1], f) < 0 || fclose(f) != 0)
			abort();
	}
}

/* status lines and message lines: a line in a listing is anything
 * without a lone "." inside; checked as a whole below */
static int quit_seen;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session s;
	static const size_t chunks[4] = { 0, 1, 5, 200 };
	struct fuzz_io f;
	size_t left;

	if (size < 1)
		return 0;
	make_box();
	memset(&s, 0, sizeof s);
	s.conf = base;
	s.conf.max_auth_failures = 2;
	session_init(&s);
	snprintf(s.ip, sizeof s.ip, "192.0.2.1");
	s.started = io_now_ms();
	s.deadline = s.started + (int64_t)s.conf.session_timeout * 1000;
	maps_init(&s.maps, conf_maps_dir(&s.conf));
	io_in_init(&s.in, 0, s.conf.line_max + 4096);
	io_out_init(&s.out, 1, 65536);
	fuzz_io_init(&f, data + 1, size - 1, chunks[data[0] & 3], 0x7654321u + data[0]);
	fuzz_io_attach(&f, &s.in, &s.out);
	s.in.idle_ms = s.out.idle_ms = (int)s.conf.idle_timeout * 1000;
	s.in.deadline = s.out.deadline = s.deadline;
	s.in.flush = &s.out;

	/* what main.c runs */
	session_run(&s);
	quit_seen = s.quit;

	if (f.outlen < f.outcap) {
		fuzz_check_lines(f.out, f.outlen, NULL);
		FUZZ_CHECK(f.outlen >= 3 && !memcmp(f.out, "+OK", 3));
	}
	/* messages go only through a QUIT that deletes; nothing is left in tmp */
	left = fuzz_count_files(box, NULL, 0, NULL);
	FUZZ_CHECK(fuzz_count_tmp(box) == 0);
	if (!quit_seen || !s.removed)
		FUZZ_CHECK(left >= 3);
	FUZZ_CHECK(left + s.removed >= 3);
	fuzz_rmtree(mail);

	maps_close(&s.maps);
	io_in_free(&s.in);
	io_out_free(&s.out);
	fuzz_io_free(&f);
	return 0;
}
