/* Functions from shared libraries loaded at first use; see lazylib.h. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>

#include "lazylib.h"

void *lazy_sym(struct lazylib *l, const char *name, char *err, size_t errlen)
{
	void *p = dlsym(RTLD_DEFAULT, name);
	const char *e;

	if (p)
		return p;
	if (!l->handle) {
		l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
		if (!l->handle) {
			e = dlerror();
			snprintf(err, errlen, "%s", e ? e : l->soname);
			return NULL;
		}
	}
	dlerror();
	p = dlsym(l->handle, name);
	if (!p)
		snprintf(err, errlen, "%s: no %s", l->soname, name);
	return p;
}
