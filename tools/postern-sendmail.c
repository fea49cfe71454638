/* postern-sendmail: sendmail(8)-compatible injector; local recipients into their maildirs at once, remote ones into the queue. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "inject.h"
#include "log.h"
#include "map.h"
#include "priv.h"
#include "queue.h"
#include "str.h"

static const char usage_text[] =
	"usage: postern-sendmail [-C DIR] [-t] [-i] [-f SENDER] [-F NAME] [-bm] [RECIPIENT...]\n"
	"  -C DIR     instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  -t         recipients from To, Cc and Bcc (Bcc is removed)\n"
	"  -i, -oi    a line with a single dot does not end the message\n"
	"  -f SENDER  envelope sender (also -r)\n"
	"  -F NAME    full name for a From: header that has to be added\n"
	"  -bm        deliver mail (the default)\n"
	"  -o..., -od..., -oe..., -v, -N, -R, -V, -B, -X: accepted and ignored\n";

struct opts {
	const char *dir, *sender, *fullname;
	int t, i;
	int first_rcpt;
};

static void usage(int code)
{
	fputs(usage_text, code ? stderr : stdout);
	exit(code);
}

/* sendmail's options are older than getopt conventions: "-oi", "-odb",
 * "-bm", "-f addr" and "-faddr".  Unknown letters are an error rather
 * than a guess. */
static void parse(int argc, char **argv, struct opts *o)
{
	int a;

	memset(o, 0, sizeof *o);
	for (a = 1; a < argc && argv[a][0] == '-' && argv[a][1]; a++) {
		const char *s = argv[a];
		const char **dst = NULL;
		const char *ign = NULL;   /* the value of an ignored option */

		if (strcmp(s, "--") == 0) {
			a++;
			break;
		}
		if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)
			usage(0);
		switch (s[1]) {
		case 't': o->t = 1; if (s[2]) usage(EX_USAGE); continue;
		case 'i': o->i = 1; if (s[2]) usage(EX_USAGE); continue;
		case 'o':
			if (s[2] == 'i' && !s[3])
				o->i = 1;
			/* -oem, -odb, -oQ... and the rest: no meaning here */
			continue;
		case 'b':
			if (strcmp(s, "-bm") == 0)
				continue;
			fprintf(stderr, "postern-sendmail: %s: only -bm is supported\n", s);
			exit(EX_USAGE);
		case 'v': case 'm': case 'n': case 'U': case 'G': continue;
		case 'C': dst = &o->dir; break;
		case 'f': case 'r': dst = &o->sender; break;
		case 'F': dst = &o->fullname; break;
		case 'N': case 'R': case 'V': case 'B': case 'X': case 'L': case 'h':
			dst = &ign;
			break;
		default:
			fprintf(stderr, "postern-sendmail: unknown option %s\n", s);
			usage(EX_USAGE);
		}
		if (s[2])
			*dst = s + 2;
		else if (a + 1 < argc)
			*dst = argv[++a];
		else
			usage(EX_USAGE);
	}
	o->first_rcpt = a;
}

/* stdin with CRLF made LF; without -i a line "." ends it.  Over max
 * bytes: NULL. */
static char *read_message(int dot_ends, unsigned long long max, size_t *len)
{
	struct str s;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	str_init(&s, 0);
	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n') {
			line[n - 2] = '\n';
			n--;
		}
		if (dot_ends && n == 2 && line[0] == '.' && line[1] == '\n')
			break;
		if ((unsigned long long)s.len + (size_t)n > max) {
			free(line);
			str_free(&s);
			return NULL;
		}
		str_catn(&s, line, (size_t)n);
	}
	free(line);
	*len = s.len;
	if (!s.s)
		return xstrdup("");
	return s.s;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct conf conf;
	struct maps ms;
	struct inject in;
	char err[CONF_ERR_MAX], sender[520];
	char *msg;
	size_t len;
	int rc;

	log_init("postern-sendmail");
	signal(SIGPIPE, SIG_IGN);
	parse(argc, argv, &o);
	if (conf_load(&conf, o.dir, err, sizeof err) < 0) {
		fprintf(stderr, "postern-sendmail: %s\n", err);
		return EX_CONFIG;
	}
	/* root (cron) writes as the mail user, like deliver; anyone else
	 * needs write access to the spool and maildirs */
	if (getuid() == 0 && priv_drop(conf.user, err, sizeof err) < 0) {
		fprintf(stderr, "postern-sendmail: %s\n", err);
		return EX_CONFIG;
	}
	if (o.sender) {
		if (!qvalue_ok(o.sender) || strlen(o.sender) >= sizeof sender - 1) {
			fprintf(stderr, "postern-sendmail: bad sender\n");
			return EX_USAGE;
		}
		snprintf(sender, sizeof sender, "%s", strcmp(o.sender, "<>") ? o.sender : "");
	} else {
		/* the caller, at this host: what sendmail has always done */
		struct passwd *pw = getpwuid(getuid());
		snprintf(sender, sizeof sender, "%s@%s", pw ? pw->pw_name : "nobody", conf.hostname);
	}
	if (sender[0] && !strchr(sender, '@'))
		snprintf(sender + strlen(sender), sizeof sender - strlen(sender), "@%s", conf.hostname);
	inject_init(&in);
	for (int a = o.first_rcpt; a < argc; a++) {
		/* "a@b, c@d" as one argument is common in scripts */
		char *copy = xstrdup(argv[a]), *save = NULL;
		for (char *w = strtok_r(copy, ", ", &save); w; w = strtok_r(NULL, ", ", &save))
			if (inject_add(&in, &conf, w) < 0) {
				fprintf(stderr, "postern-sendmail: %s: bad recipient\n", w);
				return EX_USAGE;
			}
		free(copy);
	}
	msg = read_message(!o.i, conf.max_message_size, &len);
	if (!msg) {
		fprintf(stderr, "postern-sendmail: message larger than max_message_size\n");
		return EX_DATAERR;
	}
	if (inject_prepare(&in, &conf, msg, len, o.t, sender, o.fullname, err, sizeof err) < 0) {
		fprintf(stderr, "postern-sendmail: %s\n", err);
		return EX_DATAERR;
	}
	maps_init(&ms, conf_maps_dir(&conf));
	rc = inject_deliver(&in, &conf, &ms, sender, msg, len, err, sizeof err);
	maps_close(&ms);
	{
		struct logline l;
		log_begin(&l, "sendmail");
		log_s(&l, "from", sender);
		log_u(&l, "rcpts", in.n);
		log_u(&l, "size", len);
		log_s(&l, "result", rc == 0 ? "ok" : "error");
		if (rc)
			log_s(&l, "reason", err);
		log_end(&l);
	}
	if (rc)
		fprintf(stderr, "postern-sendmail: %s\n", err);
	inject_free(&in);
	free(msg);
	return rc;
}
