/* Functions from a shared library that is loaded only when first needed.
 *
 * Every library a per-connection program links costs every connection
 * (bench/results/2026-11-28-startup.txt: libpam with libaudit and libcap-ng about
 * 0.4 ms, libcrypt 0.1 ms), and most sessions never log in.  So the
 * sessions do not link libpam or libcrypt; they look the few functions up
 * here at the first login.
 *
 * A symbol already in the process (the program was linked against the
 * library, as the tools are, or an interposer such as pam_wrapper is
 * preloaded) wins, as it would with ordinary linking; else the library is
 * dlopen()ed by its soname (RTLD_NOW | RTLD_LOCAL) and kept. */
#ifndef POSTERN_LAZYLIB_H
#define POSTERN_LAZYLIB_H

#include <stddef.h>

struct lazylib {
	const char *soname;     /* "libpam.so.0" */
	void *handle;           /* once loaded */
};

/* The address of name, or NULL with err set ("libpam.so.0: cannot open
 * shared object file..."). */
void *lazy_sym(struct lazylib *l, const char *name, char *err, size_t errlen);

#endif
