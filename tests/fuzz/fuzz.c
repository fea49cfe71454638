/* Shared pieces of the libFuzzer harnesses; see fuzz.h. */
#include "config.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "map.h"
#include "mapsrc.h"

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: property failed: %s\n", file, line, what);
	abort();
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	f = fopen(p, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", p, strerror(errno));
		exit(1);
	}
}

static char *instance_dir;

static void remove_instance(void)
{
	if (instance_dir)
		fuzz_rmtree(instance_dir);
}

const char *fuzz_instance(const char *extra_conf)
{
	static char dir[256];
	char users[1024], err[1024];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	const char *hash;
	/* SHA-512 at its lowest cost: a login costs little in a fuzzer */
	struct crypt_data cd;
	const enum map_kind kinds[] = { MAP_DOMAINS, MAP_ALIASES, MAP_USERS, MAP_RELAY };

	if (instance_dir)
		return instance_dir;
	snprintf(dir, sizeof dir, "%s/postern-fuzz.XXXXXX", base);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "fuzz: mkdtemp %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	instance_dir = dir;
	atexit(remove_instance);
	memset(&cd, 0, sizeof cd);
	hash = crypt_r("alice-secret", "$6$rounds=1000$fuzzsaltfuzzsalt$", &cd);
	if (!hash || hash[0] != '$') {
		fprintf(stderr, "fuzz: crypt_r failed\n");
		exit(1);
	}
	snprintf(users, sizeof users, "alice@example.test:%s\nbob@example.test:%s\n", hash, hash);
	put_file(dir, "postern.conf",
		 "hostname = mx.example.test\n"
		 "mail_root = mail\n"
		 "spool = spool\n"
		 "postmaster = postmaster@example.test\n"
		 "recipient_delimiter = +\n"
		 "max_message_size = 64k\n"
		 "max_recipients = 20\n"
		 "max_messages = 5\n"
		 "max_errors = 10\n"
		 "fsync = no\n"
		 "auth_plaintext = yes\n"
		 "auth_fail_delay = 0ms\n"
		 "greeting_delay = 0ms\n");
	if (extra_conf) {
		char p[4096];
		FILE *f;

		snprintf(p, sizeof p, "%s/postern.conf", dir);
		f = fopen(p, "a");
		if (!f || fputs(extra_conf, f) < 0 || fclose(f) != 0)
			exit(1);
	}
	put_file(dir, "domains", "example.test\nother.test\nexample.net example.test\n");
	put_file(dir, "aliases",
		 "postmaster@example.test: alice@example.test\n"
		 "team@example.test: alice@example.test, bob@example.test\n"
		 "loop1@example.test: loop2@example.test\n"
		 "loop2@example.test: loop1@example.test\n"
		 "fwd@example.test: someone@remote.test\n"
		 "@other.test: bob@example.test\n");
	put_file(dir, "users", users);
	put_file(dir, "relay",
		 "127.0.0.0/8 relay\n"
		 "198.51.100.0/24 allow tls=required rcpts=2 size=2k\n"
		 "default allow\n");
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (map_compile(dir, kinds[i], 0, err, sizeof err) < 0) {
			fprintf(stderr, "fuzz: %s\n", err);
			exit(1);
		}
	{
		char p[512];

		snprintf(p, sizeof p, "%s/mail", dir);
		mkdir(p, 0700);
		snprintf(p, sizeof p, "%s/spool", dir);
		mkdir(p, 0700);
	}
	return dir;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(p);
	return 0;
}

void fuzz_rmtree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *scan_bad;
static size_t scan_nbad, scan_files;
static int scan_found;

static int scan_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	scan_files++;
	if (scan_nbad) {
		char buf[8192];
		ssize_t r;
		int fd = open(p, O_RDONLY);

		if (fd < 0)
			return 0;
		while ((r = read(fd, buf, sizeof buf)) > 0)
			for (ssize_t i = 0; i < r; i++)
				if (memchr(scan_bad, buf[i], scan_nbad))
					scan_found = 1;
		close(fd);
	}
	return 0;
}

size_t fuzz_count_files(const char *path, const char *bad, size_t nbad, int *found_bad)
{
	scan_bad = bad;
	scan_nbad = nbad;
	scan_files = 0;
	scan_found = 0;
	nftw(path, scan_one, 16, FTW_PHYS);
	if (found_bad)
		*found_bad = scan_found;
	return scan_files;
}

static size_t tmp_files;

static int tmp_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	const char *slash;

	if (type != FTW_F || !S_ISREG(st->st_mode) || ftw->base < 5)
		return 0;
	/* ".../tmp/name": the parent folder is tmp */
	slash = p + ftw->base - 1;
	if (slash - p >= 4 && !memcmp(slash - 4, "/tmp", 4))
		tmp_files++;
	return 0;
}

size_t fuzz_count_tmp(const char *path)
{
	tmp_files = 0;
	nftw(path, tmp_one, 16, FTW_PHYS);
	return tmp_files;
}

uint32_t fuzz_rand(uint32_t *s)
{
	/* xorshift32; never 0 */
	uint32_t x = *s ? *s : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct fuzz_io *f = ctx;
	size_t k = f->inlen - f->inpos;

	if (f->max_chunk) {
		size_t c = 1 + fuzz_rand(&f->rng) % f->max_chunk;
		if (k > c)
			k = c;
	}
	if (k > n)
		k = n;
	memcpy(buf, f->in + f->inpos, k);
	f->inpos += k;
	return (ssize_t)k;
}

static ssize_t mem_write(void *ctx, const void *buf, size_t n)
{
	struct fuzz_io *f = ctx;

	if (f->outlen < f->outcap) {
		size_t k = f->outcap - f->outlen < n ? f->outcap - f->outlen : n;
		memcpy(f->out + f->outlen, buf, k);
		f->outlen += k;
	}
	return (ssize_t)n;
}

static size_t mem_pending(void *ctx)
{
	(void)ctx;
	return 1;
}

void fuzz_io_init(struct fuzz_io *f, const unsigned char *in, size_t n,
		  size_t max_chunk, uint32_t seed)
{
	memset(f, 0, sizeof *f);
	f->in = in;
	f->inlen = n;
	f->max_chunk = max_chunk;
	f->rng = seed;
	f->outcap = 1 << 20;
	f->out = malloc(f->outcap);
	f->nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (!f->out || f->nullfd < 0)
		abort();
	f->ops.read = mem_read;
	f->ops.write = mem_write;
	f->ops.pending = mem_pending;
	f->ops.ctx = f;
}

void fuzz_io_free(struct fuzz_io *f)
{
	free(f->out);
	f->out = NULL;
	if (f->nullfd >= 0)
		close(f->nullfd);
	f->nullfd = -1;
}

void fuzz_io_attach(struct fuzz_io *f, struct io_in *in, struct io_out *out)
{
	in->fd = f->nullfd;
	in->ops = &f->ops;
	out->fd = f->nullfd;
	out->ops = &f->ops;
}

void fuzz_check_lines(const unsigned char *p, size_t n,
		      int (*line_ok)(const char *line, size_t len))
{
	size_t i = 0;

	while (i < n) {
		const unsigned char *lf = memchr(p + i, '\n', n - i);
		size_t len;

		FUZZ_CHECK(lf != NULL);                 /* every line ends */
		len = (size_t)(lf - (p + i));
		FUZZ_CHECK(len > 0 && p[i + len - 1] == '\r');
		FUZZ_CHECK(!memchr(p + i, '\r', len - 1));      /* no CR inside */
		FUZZ_CHECK(!memchr(p + i, '\0', len));
		if (line_ok)
			FUZZ_CHECK(line_ok((const char *)p + i, len - 1));
		i += len + 1;
	}
}
