/* The DATA and BDAT readers as pure state machines over byte buffers.
 *
 * DATA: only CRLF "." CRLF ends the message; dot-stuffing is removed; CRLF
 * becomes LF for the maildir.  A bare CR, a bare LF or a NUL anywhere is
 * flagged (the message is then refused, never passed on), and a bare LF
 * never starts a new line, so "\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r" and
 * friends cannot end the data early (SMTP smuggling).
 * BDAT: chunks are taken verbatim apart from CRLF -> LF, with the same
 * flags. */
#ifndef POSTERN_DATA_H
#define POSTERN_DATA_H

#include <stddef.h>

enum {
	DATA_BARE_CR = 1,
	DATA_BARE_LF = 2,
	DATA_NUL = 4,
};

struct dataparse {
	int state;
	unsigned flags;
	unsigned long long size;   /* octets as on the wire, CRLF line ends, unstuffed */
	unsigned long long lines;
	int done;
	int last_lf;               /* output so far ends with LF (or is empty) */
};

void data_init(struct dataparse *d);
/* Consume up to n bytes of DATA.  Writes at most n bytes to out (LF line
 * ends) and their count to *outlen.  Returns the number of input bytes
 * consumed: fewer than n only when the end of data was reached (then
 * d->done is set and the rest belongs to the next command).  out may be
 * in itself: the output never runs ahead of the input, so the message
 * can be unstuffed in place in the input buffer. */
size_t data_feed(struct dataparse *d, const char *in, size_t n, char *out, size_t *outlen);

/* BDAT: consume all n bytes of a chunk.  out must hold n bytes. */
void bdat_feed(struct dataparse *d, const char *in, size_t n, char *out, size_t *outlen);
/* After the LAST chunk: a CR left pending is a bare CR.  Writes a final
 * LF into out (1 byte) when the message does not end with one. */
void bdat_finish(struct dataparse *d, char *out, size_t *outlen);

#endif
