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
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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
	{ "1000-3000 r--p 0 0:1 70 /memfd:postern-relro (deleted)\n", 0x1000, 0x3000, 0,
	  "already moved, mapped private" },
	{ "0800-1000 rw-p 0 0:0 0\n1000-3000 r--p 0 0:0 0\n", 0x1000, 0x3000, 1,
	  "a writable line that ends where the range starts" },
	{ "10000000000001000-10000000000003000 r--p 0 0:0 0\n", 0x1000, 0x3000, 0,
	  "numbers that would wrap to the range" },
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

static const struct {
	unsigned long addr, size, start, end;
	const char *what;
} bounds[] = {
	{ 0x1000, 0x2000, 0x1000, 0x3000, "whole pages" },
	{ 0x3dd5d0, 0x5aa30, 0x3dd000, 0x438000, "a module's: start and end rounded down" },
	{ 0x1100, 0x2000, 0x1000, 0x3000, "a partial first page is in" },
	{ 0x1000, 0x2100, 0x1000, 0x3000, "a partial last page is out" },
	{ 0x1100, 0x100, 0x1000, 0x1000, "within one page: nothing" },
	{ 0x1000, 0, 0x1000, 0x1000, "empty" },
};

/* a table of pointers: relocated at load, so it lives in the RELRO part
 * (in a PIE build, as the project's are); read through volatile
 * pointers, so that the compiler cannot answer from what it knows */
static int one(void) { return 1; }
static int two(void) { return 2; }
static int (*const table[])(void) = { one, two };
static const char *const names[] = { "one", "two" };

/* 's' (shared), 'p' (private) or 0: the memfd mapping over the range */
static int moved_in_maps(unsigned long start, unsigned long end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	while (f && fgets(line, sizeof line, f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a <= start && b >= end &&
		    strstr(line, "memfd:postern-relro"))
			found = strstr(line, " r--s ") ? 's' : strstr(line, " r--p ") ? 'p' : 0;
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

/* In a child: a kernel that refuses to map a write-sealed memfd shared
 * (as before Linux 6.7), played by a seccomp filter that answers EPERM
 * to read-only shared mmaps.  The move must fall back to a private
 * mapping.  The child's verdict, or "skip: ..." */
static void private_fallback(char *msg, size_t len)
{
	int p[2];
	pid_t pid;

	msg[0] = '\0';
	if (pipe(p) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 5),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_READ, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
			BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
		char m[300], e[200] = "";
		unsigned long a, b;
		int (*const volatile *ft)(void) = table;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
			snprintf(m, sizeof m, "skip: no seccomp filter here (%s)", strerror(errno));
		} else {
			int rc = relro_share(table, e, sizeof e);
			int moved = relro_range(table, &a, &b) == 0 ? moved_in_maps(a, b) : 0;

			snprintf(m, sizeof m, "%s: rc=%d mapping=%c calls=%d (%s)",
				 rc == 0 && moved == 'p' && ft[0]() + ft[1]() == 3 ? "private" : "WRONG", rc,
				 moved ? moved : '-', ft[0]() + ft[1](), e);
		}
		(void)!write(p[1], m, strlen(m) + 1);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], msg, len - 1) <= 0)
		msg[0] = '\0';
	msg[len - 1] = '\0';
	close(p[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
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
	   (unsigned long)names >= start && (unsigned long)(names + 2) <= end,
	   "range: the pointer tables are in it");
	ok(relro_range((const void *)main, &s2, &e2) == 0 && s2 == start && e2 == end,
	   "range: found from the program's text too");

	for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
		unsigned long s0, e0;

		relro_bounds(bounds[i].addr, bounds[i].size, 4096, &s0, &e0);
		ok(s0 == bounds[i].start && e0 == bounds[i].end, "bounds: %s (%#lx-%#lx)", bounds[i].what,
		   s0, e0);
	}

	const volatile void *const *vt = (const volatile void *const *)(const void *)table;
	int (*const volatile *ft)(void) = table;
	const char *const volatile *vn = names;
	int moved;

	char msg[300];

	private_fallback(msg, sizeof msg);
	if (!strncmp(msg, "skip:", 5))
		diag("%s", msg);
	else
		ok(!strncmp(msg, "private:", 8), "where a shared mapping is refused: %s", msg);

	ok(relro_share(table, err, sizeof err) == 0, "share: done (%s)", err);
	moved = moved_in_maps(start, end);
	ok(moved != 0, "share: the range is a read-only memfd mapping (%s)",
	   moved == 's' ? "shared" : moved == 'p' ? "private: a kernel before 6.7" : "none");
	ok(ft[0]() + ft[1]() == 3 && !strcmp(vn[1], "two") && vt[0] == (const void *)one,
	   "share: the tables still read the same, and calls go through them");
	/* calls into libc go through the GOT, which is in the range too */
	ok(getpid() > 0 && strlen(err) < sizeof err, "share: libc is still called through the GOT");
	rc = mprotect((void *)start, end - start, PROT_READ | PROT_WRITE);
	if (moved == 's')
		ok(rc == -1, "share: sealed, so it cannot be made writable (%s)", strerror(errno));
	else {
		diag("mapped private: it can be made writable, as ld.so's own copy could");
		if (rc == 0)
			mprotect((void *)start, end - start, PROT_READ);
	}
	ok(write_faults((volatile char *)start), "share: a write faults");

	pid_t pid = fork();
	int st = 0;

	if (pid == 0)
		_exit(ft[1]() == 2 && !strcmp(vn[0], "one") ? 0 : 1);
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "share: a forked child reads it");

	err[0] = '\0';
	ok(relro_share(table, err, sizeof err) == -1 && strstr(err, "not private read-only"),
	   "share again: refused, as already moved (%s)", err);
	ok(ft[0]() == 1 && moved_in_maps(start, end) == moved, "share again: the mapping is left as it was");
	ok(relro_share(&stack_var, err, sizeof err) == -1 && strstr(err, "no loaded object"),
	   "share a stack address: refused (%s)", err);

	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
