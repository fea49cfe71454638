/* postern-check: validate a whole instance and name every problem by file[:line]. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "map.h"
#include "mapsrc.h"
#include "tls.h"

static const char usage_text[] =
	"usage: postern-check [-C DIR] [-u USER] [-q]\n"
	"  -C DIR   instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  -u USER  the account the sessions run as (default: 'user' in\n"
	"           postern.conf, else postern, else the caller)\n"
	"  -q       print problems only, not \"ok\"\n"
	"Prints one line per problem, file[:line]: what is wrong, and exits 78;\n"
	"exits 0 after \"ok\" when there is none.\n";

/* a stand-in when the check runs outside systemd: key checks are skipped */
#define NO_CREDENTIALS "/nonexistent/postern-check-credentials"

static unsigned problems;
static int quiet;

__attribute__((format(printf, 2, 3)))
static void problem(const char *where, const char *fmt, ...)
{
	va_list ap;

	problems++;
	printf("%s: ", where);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fputs("postern-check: note: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The account the sessions will run as, and whether we can become it. */
static struct {
	char name[64];
	uid_t uid;
	gid_t gid;
	int known;
} runas;

/* May the run-as user access path with mode (R_OK, W_OK, X_OK)?  As
 * root, ask the kernel from a child that has become that user; as that
 * user, ask directly; otherwise judge from the file's own bits. */
static int user_can(const char *path, int mode)
{
	struct stat st;

	if (!runas.known || geteuid() == runas.uid)
		return access(path, mode) == 0;
	if (geteuid() == 0) {
		int status;
		pid_t pid = fork();

		if (pid < 0)
			return access(path, mode) == 0;
		if (pid == 0) {
			if (initgroups(runas.name, runas.gid) < 0 || setgid(runas.gid) < 0 ||
			    setuid(runas.uid) < 0)
				_exit(2);
			_exit(access(path, mode) == 0 ? 0 : 1);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return 0;
		return WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	if (stat(path, &st) < 0)
		return 0;
	{
		int shift = 0;
		if (st.st_uid == runas.uid)
			shift = 6;
		else {
			gid_t groups[256];
			int n = 256;
			if (getgrouplist(runas.name, runas.gid, groups, &n) < 0)
				n = 0;
			for (int i = 0; i < n; i++)
				if (groups[i] == st.st_gid)
					shift = 3;
		}
		int bits = (int)(st.st_mode >> shift) & 7;
		return ((mode & R_OK) == 0 || (bits & 4)) && ((mode & W_OK) == 0 || (bits & 2)) &&
		       ((mode & X_OK) == 0 || (bits & 1));
	}
}

static void pick_user(const char *opt, const struct conf *c, int conf_ok)
{
	const char *want = opt ? opt : (conf_ok && c->user[0]) ? c->user : NULL;
	struct passwd *pw;

	if (want) {
		pw = getpwnam(want);
		if (!pw) {
			if (opt)
				problem(opt, "no such user (-u)");
			else
				problem(c->dir, "postern.conf: user %s: no such user", want);
			return;
		}
		if (pw->pw_uid == 0)
			problem(want, "the sessions must not run as uid 0");
	} else {
		pw = getpwnam("postern");
		if (!pw)
			pw = getpwuid(geteuid());
		if (!pw)
			return;
		note("no 'user' in postern.conf: checking access for %s", pw->pw_name);
	}
	snprintf(runas.name, sizeof runas.name, "%s", pw->pw_name);
	runas.uid = pw->pw_uid;
	runas.gid = pw->pw_gid;
	runas.known = 1;
}

static int newer(const struct stat *a, const struct stat *b)
{
	if (a->st_mtim.tv_sec != b->st_mtim.tv_sec)
		return a->st_mtim.tv_sec > b->st_mtim.tv_sec;
	return a->st_mtim.tv_nsec > b->st_mtim.tv_nsec;
}

/* The sessions answer with temporary failures without these. */
static int map_needed(enum map_kind k)
{
	return k != MAP_ROUTES;
}

static void check_map(const char *dir, const char *instance, enum map_kind k)
{
	char src[CONF_PATH_MAX + 32], cdb[CONF_PATH_MAX + 32];
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	struct stat ss, cs;
	int have_src, have_cdb;
	const char *name = map_name(k);

	snprintf(src, sizeof src, "%s/%s", dir, name);
	snprintf(cdb, sizeof cdb, "%s/%s.cdb", dir, name);
	have_src = stat(src, &ss) == 0;
	if (!have_src && errno != ENOENT)
		problem(src, "%s", strerror(errno));
	have_cdb = stat(cdb, &cs) == 0;
	if (!have_cdb && errno != ENOENT)
		problem(cdb, "%s", strerror(errno));

	if (have_src) {
		int r = map_compile(dir, k, 1, err, sizeof err);
		if (r < 0)
			printf("%s\n", err), problems++;
		if (!have_cdb)
			problem(cdb, "missing: run postern-map -C %s", instance);
		else if (newer(&ss, &cs))
			problem(cdb, "older than its source %s: run postern-map -C %s", src, instance);
	} else if (!have_cdb) {
		if (map_needed(k))
			problem(src, "missing, and no %s.cdb: the sessions fail closed without it", name);
		return;
	}
	if (have_cdb) {
		struct maps ms;
		const char *v;
		size_t vn;

		maps_init(&ms, dir);
		if (!S_ISREG(cs.st_mode) || map_lookup(&ms, k, "\n", 1, &v, &vn) < 0)
			problem(cdb, "not a readable constant database");
		maps_close(&ms);
		if (!user_can(cdb, R_OK))
			problem(cdb, "not readable by %s", runas.name);
	}
	if (k == MAP_USERS) {
		/* password hashes */
		if (have_src && (ss.st_mode & S_IRWXO))
			problem(src, "holds password hashes but is accessible to others (mode %04o): chmod o-rwx",
				(unsigned)(ss.st_mode & 07777));
		if (have_cdb && (cs.st_mode & S_IRWXO))
			problem(cdb, "holds password hashes but is accessible to others (mode %04o): chmod o-rwx",
				(unsigned)(cs.st_mode & 07777));
	}
}

static void check_dir(const char *key, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		problem(path, "%s (%s in postern.conf)", strerror(errno), key);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		problem(path, "not a directory (%s in postern.conf)", key);
		return;
	}
	if (runas.known && !user_can(path, W_OK | X_OK))
		problem(path, "not writable for %s (%s in postern.conf; owner uid %u, mode %04o)",
			runas.name, key, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
}

static void ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "no PEM data");
	ERR_clear_error();
}

/* A secret file: readable by us, not by everyone. */
static int secret_ok(const char *path, const char *key)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		problem(path, "%s (%s in postern.conf)", strerror(errno), key);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		problem(path, "not a regular file (%s in postern.conf)", key);
		return 0;
	}
	if (st.st_mode & S_IRWXO)
		problem(path, "secret but accessible to others (mode %04o): chmod o-rwx",
			(unsigned)(st.st_mode & 07777));
	if (access(path, R_OK) < 0) {
		problem(path, "%s (%s in postern.conf)", strerror(errno), key);
		return 0;
	}
	return 1;
}

static void check_tls(const struct conf *c)
{
	char why[256];
	X509 *x = NULL;
	EVP_PKEY *pk = NULL;
	BIO *b;

	if (c->tls_cert[0]) {
		b = BIO_new_file(c->tls_cert, "r");
		if (!b) {
			problem(c->tls_cert, "%s (tls_cert in postern.conf)", strerror(errno));
		} else {
			x = PEM_read_bio_X509(b, NULL, NULL, NULL);
			if (!x) {
				ssl_reason(why, sizeof why);
				problem(c->tls_cert, "no PEM certificate: %s", why);
			} else {
				X509 *chain;
				if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
					problem(c->tls_cert, "certificate has expired");
				else if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
					problem(c->tls_cert, "certificate is not valid yet");
				while ((chain = PEM_read_bio_X509(b, NULL, NULL, NULL)))
					X509_free(chain);
				unsigned long e = ERR_peek_last_error();
				if (e && ERR_GET_REASON(e) != PEM_R_NO_START_LINE) {
					ssl_reason(why, sizeof why);
					problem(c->tls_cert, "bad certificate in the chain: %s", why);
				}
				ERR_clear_error();
			}
			BIO_free(b);
		}
	}
	if (c->tls_key[0]) {
		if (!strncmp(c->tls_key, NO_CREDENTIALS, sizeof NO_CREDENTIALS - 1)) {
			note("tls_key is a systemd credential: set CREDENTIALS_DIRECTORY to the directory "
			     "that holds %s to check it", c->tls_key + sizeof NO_CREDENTIALS);
		} else if (secret_ok(c->tls_key, "tls_key")) {
			b = BIO_new_file(c->tls_key, "r");
			pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
			if (!pk) {
				ssl_reason(why, sizeof why);
				problem(c->tls_key, "no PEM private key (or one with a passphrase): %s", why);
			} else if (x && X509_check_private_key(x, pk) != 1) {
				problem(c->tls_key, "does not match the certificate %s", c->tls_cert);
			}
			ERR_clear_error();
			BIO_free(b);
		}
	}
	EVP_PKEY_free(pk);
	X509_free(x);

	if (c->tls_ticket_key[0]) {
		struct stat st;

		if (!strncmp(c->tls_ticket_key, NO_CREDENTIALS, sizeof NO_CREDENTIALS - 1))
			note("tls_ticket_key is a systemd credential: not checked");
		else if (secret_ok(c->tls_ticket_key, "tls_ticket_key") && stat(c->tls_ticket_key, &st) == 0 &&
			 (st.st_size == 0 || st.st_size % TLS_TICKET_KEY_LEN ||
			  st.st_size / TLS_TICKET_KEY_LEN > TLS_TICKET_KEYS_MAX))
			problem(c->tls_ticket_key, "%lld bytes: a ticket key file holds 1 to %d keys of %d bytes",
				(long long)st.st_size, TLS_TICKET_KEYS_MAX, TLS_TICKET_KEY_LEN);
	}
	if (c->tls_ca_file[0] && access(c->tls_ca_file, R_OK) < 0)
		problem(c->tls_ca_file, "%s (tls_ca_file in postern.conf)", strerror(errno));
}

int main(int argc, char **argv)
{
	const char *dir = CONF_DEFAULT_DIR, *user = NULL;
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	struct conf c;
	int opt, conf_ok;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
	opterr = 0;
	while ((opt = getopt(argc, argv, "C:u:qh")) != -1) {
		switch (opt) {
		case 'C':
			dir = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			if (optopt == 'C' || optopt == 'u')
				fprintf(stderr, "postern-check: -%c needs an argument\n", optopt);
			else
				fprintf(stderr, "postern-check: unknown option -%c\n", optopt);
			fputs(usage_text, stderr);
			return EX_USAGE;
		}
	}
	if (optind < argc || !*dir) {
		fputs(usage_text, stderr);
		return EX_USAGE;
	}
	/* Outside systemd a credential path cannot resolve; stand in for it
	 * so the rest of postern.conf is still checked. */
	if (!getenv("CREDENTIALS_DIRECTORY"))
		setenv("CREDENTIALS_DIRECTORY", NO_CREDENTIALS, 1);

	conf_ok = conf_load(&c, dir, err, sizeof err) == 0;
	if (!conf_ok) {
		printf("%s\n", err);
		problems++;
		conf_defaults(&c);
		snprintf(c.dir, sizeof c.dir, "%s", dir);
	}
	pick_user(user, &c, conf_ok);

	if (conf_ok) {
		char file[CONF_PATH_MAX + 16];

		conf_file(dir, file, sizeof file);
		if (runas.known && !user_can(file, R_OK))
			problem(file, "not readable by %s", runas.name);
	}
	for (int k = 0; k < MAP_NKINDS; k++)
		check_map(conf_ok ? conf_maps_dir(&c) : dir, dir, (enum map_kind)k);
	if (conf_ok) {
		check_dir("mail_root", c.mail_root);
		check_dir("spool", c.spool);
		check_tls(&c);
		if (c.auth_backend != AUTHB_USERS) {
			char pam[128];
			snprintf(pam, sizeof pam, "/etc/pam.d/%s", c.pam_service);
			if (access(pam, R_OK) < 0)
				problem(pam, "%s (pam_service %s; PAM would fall back to 'other')",
					strerror(errno), c.pam_service);
		}
	}
	if (problems)
		return EX_CONFIG;
	if (!quiet)
		puts("ok");
	return fflush(stdout) == 0 ? 0 : EX_IOERR;
}
