/* Tests for relro.c: the /proc/self/maps check from a table (whole and
 * cut short at every byte), then this program's own relocated
 * read-only data moved to a shared mapping while it runs on it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relro.h"
#include "tap.h"

static const struct {
	const char *maps;
	unsigned long start, end;
	int want;
	const char *what;
} cases[] = {
	{ "1000-3000 r--p 00000000 fe:00 12 /lib/x.so\n", 0x1000, 0x3000, 1, "one line, exactly" },
	{ "1000-3000 r--p 00000000 fe:00 12 /lib/x.so\n", 0x2000, 0x3000, 1, "inside one line" },
	{ "1000-2000 r--p 0 0:0 0\n2000-3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 1, "two lines end to end" },
	{ "0400-0800 r-xp 0 0:0 0 /bin/a\n1000-3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 1,
	  "lines before the range are passed over" },
	{ "1000-3000 r--p 0 0:0 0\n4000-5000 rw-p 0 0:0 0\n", 0x1000, 0x3000, 1, "lines after it too" },
	{ "1000-3000 r--p 0 0:0 0", 0x1000, 0x3000, 1, "no newline at the end" },
	{ "1000-3000 r--p", 0x1000, 0x3000, 1, "only the fields that count" },
	{ "1000-3000 r--p 0 0:0 0\n", 0x2000, 0x2000, 1, "an empty range" },
	{ "", 0x2000, 0x2000, 1, "an empty range, no maps" },
	{ "", 0x1000, 0x2000, 0, "no maps" },
	{ "1000-2000 r--p 0 0:0 0\n2000-3000 rw-p 0 0:0 0\n", 0x1000, 0x3000, 0, "a writable page" },
	{ "1000-3000 r--s 0 0:1 70 /memfd:postern-relro (deleted)\n", 0x1000, 0x3000, 0,
	  "already shared" },
	{ "1000-3000 r-xp 0 0:0 0\n", 0x1000, 0x3000, 0, "executable" },
	{ "1000-2000 r--p 0 0:0 0\n2800-3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "a hole" },
	{ "1000-2000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "the range goes past the last line" },
	{ "1800-3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "the first line starts late" },
	{ "garbage\n1000-3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "a line that does not parse" },
	{ "3000-1000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "a line that ends before it starts" },
	{ "1000-3000 r--pq 0 0:0 0\n", 0x1000, 0x3000, 0, "overlong permissions" },
	{ "1000-3000 r-\n", 0x1000, 0x3000, 0, "short permissions" },
	{ "1000-3000\n", 0x1000, 0x3000, 0, "no permissions" },
	{ "1000 3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "no dash" },
	{ "-3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "no start" },
	{ "1000-3000r--p 0 0:0 0\n", 0x1000, 0x3000, 0, "no blank before the permissions" },
	{ "1000-3000 r--p\n", 0x1000, 0x3000, 1, "nothing after the permissions" },
	{ "10000000000000000-10000000000000001 r--p 0 0:0 0\n", 0x1000, 0x3000, 0,
	  "numbers too large" },
	{ "ffffffffffffe000-fffffffffffff000 r--p 0 0:0 0\n", 0xffffffffffffe000UL,
	  0xfffffffffffff000UL, 1, "the largest numbers" },
	{ "1000-3000 R--P 0 0:0 0\n", 0x1000, 0x3000, 0, "upper-case permissions" },
};

/* a table of pointers: relocated at load, so it lives in the RELRO part */
static int one(void) { return 1; }
static int two(void) { return 2; }
static int (*const table[])(void) = { one, two };
static const char *const names[] = { "one", "two" };

static int shared_in_maps(unsigned long start, unsigned long end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	while (f && fgets(line, sizeof line, f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a <= start && b >= end &&
		    strstr(line, " r--s ") && strstr(line, "memfd:postern-relro"))
			found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

/* in a child: does a write to p kill it with SIGSEGV? */
static int write_faults(volatile char *p)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*p = *p;
		_exit(0);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

int main(void)
{
	unsigned long start, end, s2, e2;
	char err[256] = "";
	int stack_var = 0;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *m = cases[i].maps;
		size_t n = strlen(m), bad = 0;
		int got = relro_readonly_in(m, n, cases[i].start, cases[i].end);

		ok(got == cases[i].want, "maps: %s", cases[i].what);
		/* cut short anywhere, read from a buffer of exactly that size:
		 * where the whole text says yes, no cut that ends before the
		 * needed permissions are whole does */
		const char *last = NULL;

		for (const char *q = m; (q = strstr(q, "r--p")); q++)
			last = q;
		size_t need = last ? (size_t)(last - m) + 4 : 0;

		for (size_t k = 0; k < n; k++) {
			char *cut = malloc(k ? k : 1);

			memcpy(cut, m, k);
			got = relro_readonly_in(cut, k, cases[i].start, cases[i].end);
			if (cases[i].want && cases[i].start < cases[i].end && k < need && got)
				bad++;
			free(cut);
		}
		ok(bad == 0, "maps: %s, cut short at every byte (%zu wrong)", cases[i].what, bad);
	}
	/* a cut that ends inside the needed line's permissions is a no */
	ok(!relro_readonly_in("1000-3000 r--p", 12, 0x1000, 0x3000), "maps: permissions cut short");

	ok(relro_range(&stack_var, &start, &end) == -1, "range: no loaded object holds a stack address");
	int rc = relro_range(table, &start, &end);

	ok(rc == 0 && start < end, "range: this program has one (%#lx-%#lx)", start, end);
	ok((unsigned long)table >= start && (unsigned long)(table + 2) <= end &&
	   (unsigned long)names >= start, "range: the pointer tables are in it");
	ok(relro_range((const void *)main, &s2, &e2) == 0 && s2 == start && e2 == end,
	   "range: found from the program's text too");

	ok(relro_share(table, err, sizeof err) == 0, "share: done (%s)", err);
	ok(shared_in_maps(start, end), "share: the range is a shared read-only memfd mapping");
	ok(table[0]() + table[1]() == 3 && !strcmp(names[1], "two"),
	   "share: the tables still read the same, and calls go through them");
	/* calls into libc go through the GOT, which is in the range too */
	ok(getpid() > 0 && strlen(err) < sizeof err, "share: libc is still called through the GOT");
	rc = mprotect((void *)start, end - start, PROT_READ | PROT_WRITE);
	ok(rc == -1, "share: sealed, so it cannot be made writable (%s)", strerror(errno));
	ok(write_faults((volatile char *)start), "share: a write faults");

	pid_t pid = fork();
	int st = 0;

	if (pid == 0)
		_exit(table[1]() == 2 && !strcmp(names[0], "one") ? 0 : 1);
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "share: a forked child reads it");

	err[0] = '\0';
	ok(relro_share(table, err, sizeof err) == -1 && strstr(err, "not private read-only"),
	   "share again: refused, as already shared (%s)", err);
	ok(table[0]() == 1, "share again: the mapping is left as it was");
	ok(relro_share(&stack_var, err, sizeof err) == -1 && strstr(err, "no loaded object"),
	   "share a stack address: refused (%s)", err);

	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
