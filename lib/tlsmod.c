/* A session's TLS through the postern-tls.so module, loaded on first use; see tlsmod.h. */
#include "config.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "str.h"
#include "log.h"
#include "tlsmod.h"

struct tlsm {
	const struct conf *c;
	struct tls_files files;         /* until the module takes them */
	char path[PATH_MAX + 64];       /* the module file */
	const struct tls_module *m;     /* NULL until loaded */
	struct tls *t;                  /* the module's, from the first handshake */
	char err[PATH_MAX + 320];
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
	struct tlsm *t = xcalloc(1, sizeof *t);

	t->c = c;
	if (module_path(t->path, sizeof t->path) < 0) {
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
	    !m->cipher || !m->cipher_bits || !m->reused || !m->close || !m->warm) {
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

int tlsm_warm(const struct conf *c, char *err, size_t errlen)
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
	}
	/* the module stays: `loaded' is never closed */
	tlsm_close(t);
	return rc;
}

int tlsm_accept(struct tlsm *t, int rfd, int wfd, int idle_ms, int64_t deadline)
{
	if (tlsm_load(t) < 0)
		return -1;
	t->err[0] = '\0';
	if (!t->t)
		t->t = t->m->server(t->c, &t->files);
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
	tls_files_clear(&t->files);
	free(t);
}
