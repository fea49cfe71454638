/* Relocated read-only data moved to a memfd mapping; see relro.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "relro.h"

void relro_bounds(unsigned long addr, unsigned long size, unsigned long pagesize,
		  unsigned long *start, unsigned long *end)
{
	/* what ld.so protects (_dl_protect_relro): the start and the end
	 * both rounded down, so a last partial page stays writable */
	*start = addr & ~(pagesize - 1);
	*end = (addr + size) & ~(pagesize - 1);
	if (*end < *start)
		*end = *start;
}

struct find {
	unsigned long addr, pagesize;
	unsigned long start, end;
	int found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find *f = arg;
	unsigned long start = 0, end = 0;
	int holds = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		unsigned long a = info->dlpi_addr + p->p_vaddr;

		if (p->p_type == PT_LOAD && f->addr >= a && f->addr - a < p->p_memsz)
			holds = 1;
		else if (p->p_type == PT_GNU_RELRO)
			relro_bounds(a, p->p_memsz, f->pagesize, &start, &end);
	}
	if (!holds)
		return 0;
	f->found = 1;
	f->start = start;
	f->end = end;
	return 1;
}

int relro_range(const void *inside, unsigned long *start, unsigned long *end)
{
	struct find f = { 0 };
	long pg = sysconf(_SC_PAGESIZE);

	f.addr = (unsigned long)inside;
	f.pagesize = pg > 0 ? (unsigned long)pg : 4096;
	dl_iterate_phdr(find_object, &f);
	if (!f.found)
		return -1;
	*start = f.start;
	*end = f.end;
	return 0;
}

/* Hex digits from *p, before end: 0 with *v set, or -1 (none, or too
 * many for an unsigned long). */
static int hex(const char **p, const char *end, unsigned long *v)
{
	const char *q = *p;
	unsigned long x = 0;

	while (q < end) {
		int d = *q >= '0' && *q <= '9' ? *q - '0' : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10 : -1;

		if (d < 0)
			break;
		if (x > (~0UL >> 4))
			return -1;
		x = x << 4 | (unsigned long)d;
		q++;
	}
	if (q == *p)
		return -1;
	*p = q;
	*v = x;
	return 0;
}

/* "start-end perms" at the head of one line of maps, [p, end): 0, or -1
 * when it does not read so. */
static int maps_line(const char *p, const char *end, unsigned long *a, unsigned long *b,
		     const char **perms)
{
	if (hex(&p, end, a) < 0 || p == end || *p++ != '-' || hex(&p, end, b) < 0 ||
	    end - p < 5 || *p++ != ' ' || *a >= *b)
		return -1;
	*perms = p;
	p += 4;
	return p == end || *p == ' ' ? 0 : -1;
}

int relro_readonly_in(const char *maps, size_t n, unsigned long start, unsigned long end)
{
	const char *p = maps, *stop = maps + n;
	unsigned long at = start;

	while (at < end && p < stop) {
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		const char *eol = nl ? nl : stop, *perms;
		unsigned long a, b;

		if (maps_line(p, eol, &a, &b, &perms) < 0)
			return 0;
		p = eol + (nl != NULL);
		if (b <= at)
			continue;
		if (a > at || memcmp(perms, "r--p", 4) || memmem(perms, (size_t)(eol - perms), "/memfd:", 7))
			return 0;
		at = b;
	}
	return at >= end;
}

/* the buffer is mapped for the call alone: kept (in bss or the heap),
 * its pages would be copied into every child, which is what this file
 * is there to avoid */
static int private_readonly(unsigned long start, unsigned long end)
{
	/* room for some 10,000 mappings; only the pages read are touched */
	const size_t size = 1 << 20;
	char *buf = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t n = 0;
	ssize_t r;
	int fd, ok = 0;

	if (buf == MAP_FAILED)
		return 0;
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (n < size && ((r = read(fd, buf + n, size - n)) > 0 || (r < 0 && errno == EINTR)))
			if (r > 0)
				n += (size_t)r;
		close(fd);
		ok = relro_readonly_in(buf, n, start, end);
	}
	munmap(buf, size);
	return ok;
}

/* Word by word, outside the address sanitizer's view: the pages span
 * the redzones it puts between globals, which to this file are bytes
 * like any other.  len is a whole number of pages. */
__attribute__((no_sanitize_address))
static void copy_words(void *to, const void *from, size_t len)
{
	volatile unsigned long *d = to;
	const volatile unsigned long *s = from;

	for (size_t i = 0; i < len / sizeof *d; i++)
		d[i] = s[i];
}

__attribute__((no_sanitize_address))
static int same_words(const void *a, const void *b, size_t len)
{
	const volatile unsigned long *x = a, *y = b;

	for (size_t i = 0; i < len / sizeof *x; i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

int relro_share(const void *inside, char *err, size_t errlen)
{
	unsigned long start, end;
	size_t len;
	void *copy, *p;
	int fd, flags = MAP_SHARED;

	if (relro_range(inside, &start, &end) < 0) {
		snprintf(err, errlen, "no loaded object holds %p", inside);
		return -1;
	}
	if (end == start)
		return 0;
	len = end - start;
	if (!private_readonly(start, end)) {
		snprintf(err, errlen, "%#lx-%#lx is not private read-only memory", start, end);
		return -1;
	}
	fd = memfd_create("postern-relro", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return -1;
	}
	if (ftruncate(fd, (off_t)len) < 0 ||
	    (copy = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		snprintf(err, errlen, "sizing the memfd: %s", strerror(errno));
		close(fd);
		return -1;
	}
	copy_words(copy, (const void *)start, len);
	munmap(copy, len);
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		snprintf(err, errlen, "sealing the memfd: %s", strerror(errno));
		close(fd);
		return -1;
	}
	/* mapped once elsewhere first and compared, so that the mapping
	 * that replaces the original can only fail for want of memory.
	 * Shared where the kernel maps a write-sealed memfd shared and
	 * read-only (Linux 6.7 and later); before that private, which fork
	 * leaves out of the copy all the same as long as nothing writes it. */
	copy = mmap(NULL, len, PROT_READ, flags, fd, 0);
	if (copy == MAP_FAILED && errno == EPERM) {
		flags = MAP_PRIVATE;
		copy = mmap(NULL, len, PROT_READ, flags, fd, 0);
	}
	if (copy == MAP_FAILED || !same_words(copy, (const void *)start, len)) {
		snprintf(err, errlen, "mapping the memfd: %s",
			 copy == MAP_FAILED ? strerror(errno) : "bytes differ");
		if (copy != MAP_FAILED)
			munmap(copy, len);
		close(fd);
		return -1;
	}
	munmap(copy, len);
	p = mmap((void *)start, len, PROT_READ, flags | MAP_FIXED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		/* the original may be gone: nothing sane is left to run (in
		 * a listener that serves already, when TLS was turned on by
		 * SIGHUP; the identical mapping above leaves only ENOMEM) */
		log_error("relro: mapping %#lx-%#lx: %s", start, end, strerror(errno));
		abort();
	}
	return 0;
}
