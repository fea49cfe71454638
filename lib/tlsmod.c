/* A session's TLS through the postern-tls.so module, loaded on first use; see tlsmod.h. */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "str.h"
#include "log.h"
#include "relro.h"
#include "samefile.h"
#include "tlsmod.h"

/* The small fields first and the two large buffers last, written only
 * when needed: a session that never starts TLS touches one page of it. */
struct tlsm {
	const struct conf *c;
	const struct tls_module *m;     /* NULL until loaded */
	struct tls *t;                  /* the module's, from tlsm_ready() */
	struct tls *own;                /* the context t uses, when not prepared by a listener */
	struct tls_files files;         /* until the module takes them */
	char err[PATH_MAX + 320];
	char path[PATH_MAX + 64];       /* the module file, while not loaded */
};

/* One module per process, whatever the number of tlsm (one in practice). */
static const struct tls_module *loaded;

/* Beside the running program (installed: libexecdir/postern), else
 * ../lib/ (the build tree, where the programs sit in their own
 * directories).  0 with out set, or -1. */
static int module_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	if ((size_t)snprintf(out, len, "%s/" TLS_MODULE_FILE, self) < len && access(out, R_OK) == 0)
		return 0;
	if ((size_t)snprintf(out, len, "%s/../lib/" TLS_MODULE_FILE, self) < len && access(out, R_OK) == 0)
		return 0;
	snprintf(out, len, "%s/" TLS_MODULE_FILE, self);
	return -1;
}

struct tlsm *tlsm_server(const struct conf *c, char *err, size_t errlen)
{
	struct tlsm *t = xmalloc(sizeof *t);

	t->c = c;
	t->m = NULL;
	t->t = t->own = NULL;
	memset(&t->files, 0, sizeof t->files);
	t->err[0] = '\0';
	/* a listener's child has the module already: no need to look (path
	 * is read only while the module is not loaded) */
	if (!loaded && module_path(t->path, sizeof t->path) < 0) {
		snprintf(err, errlen, "TLS module not found: %s (nor in ../lib/)", t->path);
		free(t);
		return NULL;
	}
	return t;
}

int tlsm_preload(struct tlsm *t, char *err, size_t errlen)
{
	return tls_files_load(&t->files, t->c, err, errlen);
}

static int check(struct tlsm *t, const struct tls_module *m)
{
	/* nothing past the version is read unless the version matches */
	if (m->version != TLS_MODULE_VERSION) {
		snprintf(t->err, sizeof t->err, "%s: module interface %u, this program wants %u",
			 t->path, (unsigned)m->version, (unsigned)TLS_MODULE_VERSION);
		return -1;
	}
	if (m->size < sizeof *m || m->conf_size != sizeof(struct conf) ||
	    m->files_size != sizeof(struct tls_files) || m->io_ops_size != sizeof(struct io_ops)) {
		snprintf(t->err, sizeof t->err, "%s: built from another version of postern (%s)",
			 t->path, m->package ? m->package : "?");
		return -1;
	}
	if (!m->server || !m->accept || !m->io_ops || !m->error || !m->version_name ||
	    !m->cipher || !m->cipher_bits || !m->reused || !m->close || !m->warm ||
	    !m->server_ready || !m->server_on) {
		snprintf(t->err, sizeof t->err, "%s: incomplete function table", t->path);
		return -1;
	}
	return 0;
}

int tlsm_load(struct tlsm *t)
{
	void *h;
	const struct tls_module *m;

	if (t->m)
		return 0;
	if (!loaded) {
		/* RTLD_LOCAL: OpenSSL's symbols stay the module's business */
		h = dlopen(t->path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			const char *e = dlerror();
			snprintf(t->err, sizeof t->err, "cannot load the TLS module: %s", e ? e : t->path);
			return -1;
		}
		m = dlsym(h, TLS_MODULE_SYMBOL);
		if (!m) {
			snprintf(t->err, sizeof t->err, "%s: no " TLS_MODULE_SYMBOL, t->path);
			dlclose(h);
			return -1;
		}
		if (check(t, m) < 0) {
			dlclose(h);
			return -1;
		}
		loaded = m;
	}
	t->m = loaded;
	return 0;
}

/* The module loaded for good and OpenSSL initialised, no instance file
 * read.  0, or -1 with err set. */
static int warm_module(const struct conf *c, char *err, size_t errlen)
{
	struct tlsm *t = tlsm_server(c, err, errlen);
	int rc;

	if (!t)
		return -1;
	rc = tlsm_load(t);
	if (rc < 0)
		snprintf(err, errlen, "%s", tlsm_error(t));
	else if (t->m->warm() < 0) {
		snprintf(err, errlen, "OpenSSL initialisation failed");
		rc = -1;
	} else {
		/* a listener's children inherit the module; most never start
		 * TLS, and none should copy its tables' page entries at fork */
		char why[160];

		if (relro_share(t->m, why, sizeof why) < 0)
			log_warn("TLS module's read-only data stays private: %s", why);
	}
	/* the module stays: `loaded' is never closed */
	tlsm_close(t);
	return rc;
}

/* tlsm_prepare()'s context and what it was built from. */
static struct {
	struct tls *ready;              /* the module's; NULL: none */
	char dir[CONF_PATH_MAX];
	char cert[CONF_PATH_MAX], key[CONF_PATH_MAX], tickets[CONF_PATH_MAX];
	int min_version;
	char ciphers[512], suites[256], groups[256];
	struct stat st[3];              /* cert, key, tickets (zeroed when unset) */
} prep;

static int same_settings(const struct conf *c)
{
	return !strcmp(prep.dir, c->dir) && !strcmp(prep.cert, c->tls_cert) &&
	       !strcmp(prep.key, c->tls_key) && !strcmp(prep.tickets, c->tls_ticket_key) &&
	       prep.min_version == c->tls_min_version && !strcmp(prep.ciphers, c->tls_ciphers) &&
	       !strcmp(prep.suites, c->tls_ciphersuites) && !strcmp(prep.groups, c->tls_groups);
}

static int stat_files(const struct conf *c, struct stat st[3], char *err, size_t errlen)
{
	const char *p[3] = { c->tls_cert, c->tls_key, c->tls_ticket_key };

	memset(st, 0, 3 * sizeof st[0]);
	for (int i = 0; i < 3; i++)
		if (p[i][0] && stat(p[i], &st[i]) < 0) {
			snprintf(err, errlen, "%s: %s", p[i], strerror(errno));
			return -1;
		}
	return 0;
}

void tlsm_unprepare(void)
{
	if (prep.ready && loaded)
		loaded->close(prep.ready);
	memset(&prep, 0, sizeof prep);
}

int tlsm_prepare(const struct conf *c, char *err, size_t errlen)
{
	struct stat st[3];
	struct tls_files f;
	struct tls *ready;

	/* the module and OpenSSL first: children need them whatever the files */
	if (!loaded && warm_module(c, err, errlen) < 0)
		return -1;
	if (stat_files(c, st, err, errlen) < 0) {
		tlsm_unprepare();
		return -1;
	}
	if (prep.ready && same_settings(c) && same_file(&st[0], &prep.st[0]) &&
	    same_file(&st[1], &prep.st[1]) && same_file(&st[2], &prep.st[2]))
		return 0;
	tlsm_unprepare();
	memset(&f, 0, sizeof f);
	if (tls_files_load(&f, c, err, errlen) < 0)
		return -1;
	ready = loaded->server_ready(c, &f, err, errlen);
	tls_files_clear(&f);
	if (!ready)
		return -1;
	prep.ready = ready;
	snprintf(prep.dir, sizeof prep.dir, "%s", c->dir);
	snprintf(prep.cert, sizeof prep.cert, "%s", c->tls_cert);
	snprintf(prep.key, sizeof prep.key, "%s", c->tls_key);
	snprintf(prep.tickets, sizeof prep.tickets, "%s", c->tls_ticket_key);
	prep.min_version = c->tls_min_version;
	snprintf(prep.ciphers, sizeof prep.ciphers, "%s", c->tls_ciphers);
	snprintf(prep.suites, sizeof prep.suites, "%s", c->tls_ciphersuites);
	snprintf(prep.groups, sizeof prep.groups, "%s", c->tls_groups);
	memcpy(prep.st, st, sizeof st);
	return 0;
}

int tlsm_prepared_for(const struct conf *c)
{
	return prep.ready && same_settings(c);
}

int tlsm_ready(struct tlsm *t)
{
	if (tlsm_load(t) < 0)
		return -1;
	if (t->t)
		return 0;
	t->err[0] = '\0';
	if (!tlsm_prepared_for(t->c)) {
		/* certificate and key parsed now: a file that reads but does
		 * not parse fails here, not in the handshake */
		t->own = t->m->server_ready(t->c, &t->files, t->err, sizeof t->err);
		if (!t->own)
			return -1;
	}
	t->t = t->m->server_on(t->c, t->own ? t->own : prep.ready);
	if (!t->t) {
		snprintf(t->err, sizeof t->err, "cannot set up a TLS session");
		return -1;
	}
	return 0;
}

int tlsm_accept(struct tlsm *t, int rfd, int wfd, int idle_ms, int64_t deadline)
{
	if (tlsm_ready(t) < 0)
		return -1;
	return t->m->accept(t->t, rfd, wfd, idle_ms, deadline);
}

void tlsm_io_ops(struct tlsm *t, struct io_ops *ops)
{
	t->m->io_ops(t->t, ops);
}

int tlsm_start(struct tlsm *t, struct io_in *in, struct io_out *out, struct io_ops *ops,
	       const char *ip, int idle_ms, int64_t deadline)
{
	struct logline l;

	if (tlsm_accept(t, 0, 1, idle_ms, deadline) < 0)
		return -1;
	tlsm_io_ops(t, ops);
	in->ops = ops;
	out->ops = ops;
	log_begin(&l, "tls");
	log_s(&l, "ip", ip);
	log_s(&l, "version", tlsm_version(t));
	log_s(&l, "cipher", tlsm_cipher(t));
	log_s(&l, "resumed", tlsm_reused(t) ? "yes" : "no");
	log_end(&l);
	return 0;
}

const char *tlsm_error(const struct tlsm *t)
{
	if (!t)
		return "";
	if (t->err[0] || !t->t)
		return t->err;
	return t->m->error(t->t);
}

const char *tlsm_version(const struct tlsm *t)
{
	return t && t->t ? t->m->version_name(t->t) : "";
}

const char *tlsm_cipher(const struct tlsm *t)
{
	return t && t->t ? t->m->cipher(t->t) : "";
}

int tlsm_cipher_bits(const struct tlsm *t)
{
	return t && t->t ? t->m->cipher_bits(t->t) : 0;
}

int tlsm_reused(const struct tlsm *t)
{
	return t && t->t ? t->m->reused(t->t) : 0;
}

void tlsm_close(struct tlsm *t)
{
	if (!t)
		return;
	if (t->t)
		t->m->close(t->t);
	if (t->own)
		t->m->close(t->own);
	tls_files_clear(&t->files);
	free(t);
}
