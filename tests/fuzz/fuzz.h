/* Shared pieces of the libFuzzer harnesses: a throwaway instance, an
 * in-memory io below lib/io.c, a small PRNG for input splits.
 *
 * A harness that finds a property broken calls FUZZ_CHECK, which aborts
 * with the failed condition: libFuzzer then saves the input like any
 * crash. */
#ifndef POSTERN_FUZZ_H
#define POSTERN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"
#include "io.h"

#define FUZZ_CHECK(cond) \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, #cond))
void fuzz_fail(const char *file, int line, const char *what)
	__attribute__((noreturn));

/* Create (once per process) an instance directory on tmpfs when there is
 * one: postern.conf with no fsync and no delays, the test maps compiled
 * into CDBs, the mail root and the spool.  extra_conf is appended to
 * postern.conf.  Returns the directory; exits on failure. */
const char *fuzz_instance(const char *extra_conf);
/* Remove a directory tree (quietly; missing is fine). */
void fuzz_rmtree(const char *path);
/* Number of regular files below path, and whether any holds a byte of
 * bad[] (nbad bytes); both for checks after a session. */
size_t fuzz_count_files(const char *path, const char *bad, size_t nbad, int *found_bad);
/* Regular files in folders named tmp below path (all must be gone
 * after a session: nothing half-written stays). */
size_t fuzz_count_tmp(const char *path);

/* Memory io: reads come from a buffer in pieces of the sizes the PRNG
 * picks (1..max_chunk, or all at once when max_chunk is 0); writes are
 * kept (up to a cap) for checks.  pending() always says "more" so
 * lib/io.c never polls: the end of the buffer is EOF. */
struct fuzz_io {
	const unsigned char *in;
	size_t inlen, inpos;
	size_t max_chunk;
	uint32_t rng;
	unsigned char *out;
	size_t outlen, outcap;
	int nullfd;             /* /dev/null: always writable for poll() */
	struct io_ops ops;
};

void fuzz_io_init(struct fuzz_io *f, const unsigned char *in, size_t n,
		  size_t max_chunk, uint32_t seed);
void fuzz_io_free(struct fuzz_io *f);
/* Point a reader and a writer at it (after io_in_init/io_out_init). */
void fuzz_io_attach(struct fuzz_io *f, struct io_in *in, struct io_out *out);

uint32_t fuzz_rand(uint32_t *state);

/* Check what a server wrote: every line ends in CRLF, and line_ok
 * (when not NULL) accepts each line (without CRLF). */
void fuzz_check_lines(const unsigned char *p, size_t n,
		      int (*line_ok)(const char *line, size_t len));

#endif
