/* postern-user: add, remove, list virtual users and set their passwords. */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "conf.h"
#include "map.h"
#include "mapsrc.h"
#include "rcpt.h"
#include "str.h"

static const char usage_text[] =
	"usage: postern-user [-C DIR] add ADDRESS [--password-file FILE | --stdin] [--sha512]\n"
	"       postern-user [-C DIR] passwd ADDRESS [--password-file FILE | --stdin] [--sha512]\n"
	"       postern-user [-C DIR] del ADDRESS\n"
	"       postern-user [-C DIR] list\n"
	"  Edits DIR/users and rebuilds DIR/users.cdb; add also creates the maildir.\n"
	"  The password is asked for twice on a terminal; scripts give it on\n"
	"  standard input (--stdin) or in the first line of a file.\n"
	"  -C DIR    instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  --sha512  SHA-512-crypt instead of yescrypt\n";

#define PASS_MAX 1024
#define SOURCE_MAX (256UL * 1024 * 1024)

struct opts {
	const char *dir;
	const char *cmd;
	const char *address;
	const char *password_file;
	int use_stdin;
	int sha512;
};

struct tool {
	struct opts o;
	struct conf conf;
	char users[CONF_PATH_MAX + 16];     /* DIR/users */
	char *src;                          /* its contents */
	size_t srclen;
	int src_exists;
	struct stat src_st;
	char addr[320];                     /* lowercase local@domain */
	char local[128], domain[256];
};

__attribute__((format(printf, 2, 3)))
static int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("postern-user: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static int usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof *o);
	o->dir = CONF_DEFAULT_DIR;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-C") && i + 1 < argc)
			o->dir = argv[++i];
		else if (!strcmp(a, "--password-file") && i + 1 < argc)
			o->password_file = argv[++i];
		else if (!strcmp(a, "--stdin"))
			o->use_stdin = 1;
		else if (!strcmp(a, "--sha512"))
			o->sha512 = 1;
		else if (a[0] == '-')
			return -1;
		else if (!o->cmd)
			o->cmd = a;
		else if (!o->address)
			o->address = a;
		else
			return -1;
	}
	if (!o->cmd || (o->password_file && o->use_stdin))
		return -1;
	if (!strcmp(o->cmd, "list"))
		return (o->address || o->password_file || o->use_stdin || o->sha512) ? -1 : 0;
	if (!strcmp(o->cmd, "del"))
		return (!o->address || o->password_file || o->use_stdin || o->sha512) ? -1 : 0;
	if (!strcmp(o->cmd, "add") || !strcmp(o->cmd, "passwd"))
		return o->address ? 0 : -1;
	return -1;
}

/* One line from fd: up to LF, without CR/LF.  0, or -1 when too long,
 * empty or unreadable. */
static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || c == '\n')
			break;
		if (n + 1 >= len)
			return -1;
		buf[n++] = c;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return n && !memchr(buf, '\0', n) ? 0 : -1;
}

static int prompt(const char *text, char *buf, size_t len)
{
	struct termios old, quiet;
	int r;

	fputs(text, stderr);
	fflush(stderr);
	if (tcgetattr(0, &old) < 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(0, TCSAFLUSH, &quiet) < 0)
		return -1;
	r = read_line(0, buf, len);
	tcsetattr(0, TCSAFLUSH, &old);
	return r;
}

static int get_password(const struct opts *o, char *pw, size_t len)
{
	char again[PASS_MAX];
	int fd, r;

	if (o->password_file) {
		fd = open(o->password_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(EX_NOINPUT, "%s: %s", o->password_file, strerror(errno));
		r = read_line(fd, pw, len);
		close(fd);
		if (r < 0)
			return fail(EX_DATAERR, "%s: no password in the first line (or over %d bytes)",
				    o->password_file, PASS_MAX - 1);
		return 0;
	}
	if (o->use_stdin) {
		if (read_line(0, pw, len) < 0)
			return fail(EX_DATAERR, "no password on standard input (or over %d bytes)", PASS_MAX - 1);
		return 0;
	}
	if (!isatty(0))
		return fail(EX_USAGE, "standard input is not a terminal: use --stdin or --password-file");
	if (prompt("Password: ", pw, len) < 0)
		return fail(EX_DATAERR, "empty or unreadable password");
	if (prompt("Retype password: ", again, sizeof again) < 0 || strcmp(pw, again) != 0) {
		explicit_bzero(again, sizeof again);
		return fail(EX_DATAERR, "passwords do not match");
	}
	explicit_bzero(again, sizeof again);
	return 0;
}

static int make_hash(const struct opts *o, const char *pw, char *out, size_t len)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *prefix = o->sha512 ? "$6$" : "$y$";
	const char *h;

	if (!crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof salt))
		return fail(EX_SOFTWARE, "crypt_gensalt %s: %s", prefix, strerror(errno));
	cd = xcalloc(1, sizeof *cd);
	h = crypt_rn(pw, salt, cd, (int)sizeof *cd);
	if (!h || strncmp(h, prefix, 3) != 0 || strlen(h) >= len) {
		free(cd);
		return fail(EX_SOFTWARE, "crypt failed");
	}
	snprintf(out, len, "%s", h);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return 0;
}

/* The users source into memory; a missing file is an empty one. */
static int load_source(struct tool *t)
{
	int fd = open(t->users, O_RDONLY | O_CLOEXEC);
	size_t got = 0;
	ssize_t r;

	t->src = xmalloc(1);
	t->srclen = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return fail(EX_TEMPFAIL, "%s: %s", t->users, strerror(errno));
	}
	if (fstat(fd, &t->src_st) < 0 || !S_ISREG(t->src_st.st_mode) ||
	    (unsigned long long)t->src_st.st_size > SOURCE_MAX) {
		close(fd);
		return fail(EX_CONFIG, "%s: not a regular file of sensible size", t->users);
	}
	t->src_exists = 1;
	t->src = xrealloc(t->src, (size_t)t->src_st.st_size + 1);
	while (got < (size_t)t->src_st.st_size) {
		r = read(fd, t->src + got, (size_t)t->src_st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return fail(EX_TEMPFAIL, "read %s: %s", t->users, strerror(errno));
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	t->srclen = got;
	return 0;
}

/* Where the entry for t->addr is: its line's offset and length (with
 * the LF), its value in val.  1 found, 0 not. */
static int find_user(struct tool *t, size_t *off, size_t *len, struct str *val)
{
	struct str key = STR_INIT;
	char err[256];
	size_t pos = 0;
	int found = 0;

	while (pos < t->srclen && !found) {
		const char *s = t->src + pos, *e = memchr(s, '\n', t->srclen - pos);
		size_t n = e ? (size_t)(e - s) : t->srclen - pos;

		str_clear(&key);
		str_clear(val);
		if (mapsrc_line(MAP_USERS, s, n, &key, val, err, sizeof err) == 1 &&
		    !strcmp(str_c(&key), t->addr)) {
			*off = pos;
			*len = n + (e ? 1 : 0);
			found = 1;
		}
		pos += n + (e ? 1 : 0);
	}
	str_free(&key);
	return found;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Replace DIR/users with the three pieces, atomically, keeping the old
 * file's mode and owner. */
static int write_source(struct tool *t, const char *a, size_t an, const char *b, size_t bn,
			const char *c, size_t cn)
{
	char tmp[CONF_PATH_MAX + 32];
	const char *parts[3] = { a, b, c };
	size_t lens[3] = { an, bn, cn };
	int fd;

	snprintf(tmp, sizeof tmp, "%s/.users.XXXXXX", t->o.dir);
	fd = mkstemp(tmp);
	if (fd < 0)
		return fail(EX_TEMPFAIL, "create %s: %s", tmp, strerror(errno));
	if (fchmod(fd, t->src_exists ? (t->src_st.st_mode & 07777) : 0600) < 0 ||
	    (t->src_exists && geteuid() == 0 &&
	     fchown(fd, t->src_st.st_uid, t->src_st.st_gid) < 0))
		goto fail;
	for (int i = 0; i < 3; i++) {
		const char *p = parts[i];
		size_t n = lens[i];

		while (n) {
			ssize_t r = write(fd, p, n);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				goto fail;
			p += r;
			n -= (size_t)r;
		}
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, t->users) < 0)
		goto fail;
	fsync_dir(t->o.dir);
	return 0;
fail:
	{
		int e = errno;
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return fail(EX_TEMPFAIL, "write %s: %s", t->users, strerror(e));
	}
}

static int rebuild(struct tool *t)
{
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	int r = map_compile(t->o.dir, MAP_USERS, 0, err, sizeof err);

	if (r == -1)
		return fail(EX_CONFIG, "%s", err);
	if (r < 0)
		return fail(EX_TEMPFAIL, "%s", err);
	return 0;
}

/* mkdir that accepts an existing directory and, as root, hands a new one
 * to the mail user. */
static int mkdir_owned(const char *p, const struct passwd *pw)
{
	if (mkdir(p, 0700) < 0) {
		if (errno == EEXIST)
			return 0;
		return fail(EX_CANTCREAT, "mkdir %s: %s", p, strerror(errno));
	}
	if (pw && chown(p, pw->pw_uid, pw->pw_gid) < 0)
		return fail(EX_CANTCREAT, "chown %s: %s", p, strerror(errno));
	return 0;
}

static int make_maildir(struct tool *t, const char *path)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	const struct passwd *pw = NULL;
	char p[CONF_PATH_MAX + 300];
	struct stat sb;
	size_t rl = strlen(t->conf.mail_root);
	int r;

	if (geteuid() == 0 && t->conf.user[0] && !(pw = getpwnam(t->conf.user)))
		return fail(EX_CONFIG, "mail user %s does not exist", t->conf.user);
	if (stat(t->conf.mail_root, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return fail(EX_CONFIG, "mail_root %s is not a directory", t->conf.mail_root);
	/* the domain directory, when the maildir sits in mail_root */
	if (!strncmp(path, t->conf.mail_root, rl) && path[rl] == '/') {
		snprintf(p, sizeof p, "%s/%s", t->conf.mail_root, t->domain);
		if (!strncmp(path, p, strlen(p)) && (r = mkdir_owned(p, pw)) != 0)
			return r;
	}
	if ((r = mkdir_owned(path, pw)) != 0)
		return r;
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", path, sub[i]);
		if ((r = mkdir_owned(p, pw)) != 0)
			return r;
	}
	return 0;
}

/* Address syntax as the users map wants it, and split. */
static int check_address(struct tool *t)
{
	struct str key = STR_INIT, val = STR_INIT, line = STR_INIT;
	char err[256];
	const char *at;
	int r;

	str_printf(&line, "%s:!", t->o.address);
	r = mapsrc_line(MAP_USERS, str_c(&line), line.len, &key, &val, err, sizeof err);
	if (r == 1 && key.len < sizeof t->addr && (at = strrchr(str_c(&key), '@')) &&
	    (size_t)(at - key.s) < sizeof t->local && strlen(at + 1) < sizeof t->domain) {
		snprintf(t->addr, sizeof t->addr, "%s", str_c(&key));
		snprintf(t->local, sizeof t->local, "%.*s", (int)(at - key.s), key.s);
		snprintf(t->domain, sizeof t->domain, "%s", at + 1);
		r = 0;
	} else {
		r = fail(EX_USAGE, "%s: %s", t->o.address, r < 0 ? err : "not a user address");
	}
	str_free(&key);
	str_free(&val);
	str_free(&line);
	return r;
}

static int cmd_list(struct tool *t)
{
	struct str key = STR_INIT, val = STR_INIT;
	char err[256], path[CONF_PATH_MAX];
	size_t pos = 0;

	while (pos < t->srclen) {
		const char *s = t->src + pos, *e = memchr(s, '\n', t->srclen - pos);
		size_t n = e ? (size_t)(e - s) : t->srclen - pos, hl;
		const char *at, *kind;

		pos += n + (e ? 1 : 0);
		str_clear(&key);
		str_clear(&val);
		if (mapsrc_line(MAP_USERS, s, n, &key, &val, err, sizeof err) != 1)
			continue;
		at = strrchr(str_c(&key), '@');
		if (!at)
			continue;
		*(char *)at = '\0';
		if (rcpt_user_value(&t->conf, key.s, at + 1, val.s, val.len, &hl, path, sizeof path) < 0)
			snprintf(path, sizeof path, "?");
		*(char *)at = '@';
		kind = val.s[0] == '!' || val.s[0] == '*' ? "disabled" :
		       !strncmp(val.s, "$y$", 3) ? "yescrypt" :
		       !strncmp(val.s, "$6$", 3) ? "sha512" : "crypt";
		printf("%s\t%s\t%s\n", key.s, kind, path);
	}
	str_free(&key);
	str_free(&val);
	return 0;
}

static int cmd_add(struct tool *t, const char *hash)
{
	char err[256], path[CONF_PATH_MAX], primary[256];
	struct str line = STR_INIT, val = STR_INIT, key = STR_INIT;
	struct maps ms;
	size_t off, len, hl;
	int r;

	if (find_user(t, &off, &len, &val)) {
		str_free(&val);
		return fail(EX_DATAERR, "%s already exists", t->addr);
	}
	str_free(&val);
	maps_init(&ms, t->o.dir);
	r = rcpt_domain(&ms, t->domain, primary, sizeof primary);
	maps_close(&ms);
	if (r < 0)
		return fail(EX_CONFIG, "%s/domains.cdb missing or unreadable (run postern-map)", t->o.dir);
	if (r == 0)
		return fail(EX_DATAERR, "%s is not a local domain (see domains)", t->domain);
	if (strcmp(primary, t->domain) != 0)
		return fail(EX_DATAERR, "%s is an alias of %s: add the user there", t->domain, primary);
	if (rcpt_user_value(&t->conf, t->local, t->domain, hash, strlen(hash), &hl,
			    path, sizeof path) < 0)
		return fail(EX_CONFIG, "mailbox path too long");
	if ((r = make_maildir(t, path)) != 0)
		return r;
	str_printf(&line, "%s%s:%s\n", t->srclen && t->src[t->srclen - 1] != '\n' ? "\n" : "",
		   t->addr, hash);
	if (mapsrc_line(MAP_USERS, line.s + (line.s[0] == '\n'), line.len - 1 - (line.s[0] == '\n'),
			&key, &val, err, sizeof err) != 1) {
		str_free(&line);
		str_free(&val);
		str_free(&key);
		return fail(EX_SOFTWARE, "new entry refused: %s", err);
	}
	r = write_source(t, t->src, t->srclen, line.s, line.len, "", 0);
	str_free(&line);
	str_free(&val);
	str_free(&key);
	if (r)
		return r;
	if ((r = rebuild(t)) != 0)
		return r;
	printf("added %s, maildir %s\n", t->addr, path);
	return 0;
}

static int cmd_change(struct tool *t, const char *hash)
{
	struct str val = STR_INIT, line = STR_INIT;
	size_t off, len, hl = 0;
	int r;

	if (!find_user(t, &off, &len, &val)) {
		str_free(&val);
		return fail(EX_NOUSER, "no such user %s", t->addr);
	}
	if (hash) {
		/* keep the options (mailbox=...) that follow the hash */
		const char *o = memchr(val.s, ':', val.len);
		hl = o ? (size_t)(o - val.s) : val.len;
		str_printf(&line, "%s:%s%s\n", t->addr, hash, val.s + hl);
	}
	r = write_source(t, t->src, off, line.len ? line.s : "", line.len,
			 t->src + off + len, t->srclen - off - len);
	str_free(&val);
	str_free(&line);
	if (r)
		return r;
	if ((r = rebuild(t)) != 0)
		return r;
	printf(hash ? "password changed for %s\n" : "removed %s (the maildir is kept)\n", t->addr);
	return 0;
}

int main(int argc, char **argv)
{
	static struct tool t;
	char err[CONF_ERR_MAX + CONF_PATH_MAX], pw[PASS_MAX], hash[CRYPT_OUTPUT_SIZE];
	int lockfd, r, editing;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return usage(stdout, 0);
	if (parse_args(argc, argv, &t.o) < 0)
		return usage(stderr, EX_USAGE);
	if (conf_load(&t.conf, t.o.dir, err, sizeof err) < 0)
		return fail(EX_CONFIG, "%s", err);
	snprintf(t.users, sizeof t.users, "%s/users", t.o.dir);
	editing = strcmp(t.o.cmd, "list") != 0;
	if (editing && (r = check_address(&t)) != 0)
		return r;
	hash[0] = '\0';
	if (!strcmp(t.o.cmd, "add") || !strcmp(t.o.cmd, "passwd")) {
		if ((r = get_password(&t.o, pw, sizeof pw)) != 0)
			return r;
		r = make_hash(&t.o, pw, hash, sizeof hash);
		explicit_bzero(pw, sizeof pw);
		if (r)
			return r;
	}
	/* one editor at a time, or two adds could each drop the other's */
	lockfd = -1;
	if (editing) {
		snprintf(err, sizeof err, "%s/.users.lock", t.o.dir);
		lockfd = open(err, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
			return fail(EX_TEMPFAIL, "%s: %s", err, strerror(errno));
	}
	if ((r = load_source(&t)) != 0)
		return r;
	if (editing && t.src_exists) {
		/* a source that is already broken is the admin's to fix
		 * first: rewriting it would only move the problem */
		r = map_compile(t.o.dir, MAP_USERS, 1, err, sizeof err);
		if (r == -1)
			return fail(EX_CONFIG, "%s (fix it before editing)", err);
		if (r < 0)
			return fail(EX_TEMPFAIL, "%s", err);
	}
	if (!strcmp(t.o.cmd, "list"))
		r = cmd_list(&t);
	else if (!strcmp(t.o.cmd, "add"))
		r = cmd_add(&t, hash);
	else if (!strcmp(t.o.cmd, "passwd"))
		r = cmd_change(&t, hash);
	else
		r = cmd_change(&t, NULL);
	if (lockfd >= 0)
		close(lockfd);
	free(t.src);
	return r;
}
