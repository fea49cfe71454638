/* A loaded object's relocated read-only data (its PT_GNU_RELRO part),
 * moved into a sealed memfd that is mapped in its place.
 *
 * After ld.so has relocated an object, that part of it is private
 * anonymous memory, made read-only.  fork() copies the page table entry
 * of every such page into the child and exit() takes them down again,
 * whether the child reads the pages or not.  A listener that has loaded
 * postern-tls.so (370 KiB of it, mostly OpenSSL's method tables) pays
 * that for every connection, TLS or not.  Mapped from a file, and never
 * written, the same bytes are left out of the copy: a child maps the
 * pages it reads when it reads them, and one that never starts TLS
 * never does. */
#ifndef POSTERN_RELRO_H
#define POSTERN_RELRO_H

#include <stddef.h>

/* The pages of [addr, addr + size) that ld.so makes read-only: both
 * ends rounded down to pagesize (a power of two). */
void relro_bounds(unsigned long addr, unsigned long size, unsigned long pagesize,
		  unsigned long *start, unsigned long *end);

/* The page-aligned part of the loaded object holding `inside' that
 * ld.so made read-only after relocation: 0 with [*start, *end) set (an
 * empty range when the object has none), -1 when no loaded object
 * holds `inside'. */
int relro_range(const void *inside, unsigned long *start, unsigned long *end);

/* Whether /proc/self/maps text (n bytes) has every byte of [start, end)
 * in private read-only mappings ("r--p"), as ld.so leaves relocated
 * data made read-only.  Anything else (a writable page, a hole, a
 * mapping already shared, one of a memfd, which is what this file
 * leaves behind, a line that does not parse): 0. */
int relro_readonly_in(const char *maps, size_t n, unsigned long start, unsigned long end);

/* Moves that range into a sealed memfd mapped read-only at the same
 * address: shared, or private on kernels that refuse to map a
 * write-sealed memfd shared (before 6.7).  0 (done, or nothing to
 * move), or -1 with err set and the object as it was. */
int relro_share(const void *inside, char *err, size_t errlen);

#endif
