/* DATA/BDAT framing and dot-unstuffing; see data.h. */
#include "config.h"

#include <string.h>

#include "data.h"

enum { S_BOL, S_TEXT, S_CR, S_DOT, S_DOTCR };

void data_init(struct dataparse *d)
{
	memset(d, 0, sizeof *d);
	d->state = S_BOL;
	d->last_lf = 1;
}

static void emit(struct dataparse *d, char *out, size_t *o, char c)
{
	out[(*o)++] = c;
	if (c == '\n') {
		d->size += 2;
		d->lines++;
		d->last_lf = 1;
	} else {
		d->size++;
		d->last_lf = 0;
	}
}

size_t data_feed(struct dataparse *d, const char *in, size_t n, char *out, size_t *outlen)
{
	size_t i = 0, o = 0;

	while (i < n) {
		char c = in[i];

		switch (d->state) {
		case S_TEXT:
		case S_BOL:
			if (d->state == S_BOL && c == '.') {
				d->state = S_DOT;
				i++;
				continue;
			}
			/* fast path: copy a run of ordinary bytes */
			if (c != '\r' && c != '\n' && c != '\0') {
				size_t j = i;
				while (j < n && in[j] != '\r' && in[j] != '\n' && in[j] != '\0')
					j++;
				memmove(out + o, in + i, j - i); /* out may be in */
				o += j - i;
				d->size += j - i;
				d->last_lf = 0;
				i = j;
				d->state = S_TEXT;
				continue;
			}
			break;
		case S_CR:
			if (c == '\n') {
				emit(d, out, &o, '\n');
				d->state = S_BOL;
				i++;
				continue;
			}
			/* the CR is dropped: the message is refused anyway */
			d->flags |= DATA_BARE_CR;
			d->state = S_TEXT;
			continue;       /* reprocess c as text */
		case S_DOT:
			if (c == '\r') {
				d->state = S_DOTCR;
				i++;
				continue;
			}
			/* stuffed dot removed; c is ordinary text */
			d->state = S_TEXT;
			break;
		case S_DOTCR:
			if (c == '\n') {
				d->done = 1;
				*outlen = o;
				return i + 1;
			}
			d->flags |= DATA_BARE_CR;
			d->state = S_TEXT;
			continue;
		}
		/* c in text position */
		if (c == '\r') {
			d->state = S_CR;
		} else if (c == '\n') {
			/* a bare LF is content, never a line start */
			d->flags |= DATA_BARE_LF;
			emit(d, out, &o, '\n');
			d->state = S_TEXT;
		} else {
			if (c == '\0')
				d->flags |= DATA_NUL;
			emit(d, out, &o, c);
			d->state = S_TEXT;
		}
		i++;
	}
	*outlen = o;
	return n;
}

void bdat_feed(struct dataparse *d, const char *in, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (d->state == S_CR) {
			d->state = S_TEXT;
			if (c == '\n') {
				emit(d, out, &o, '\n');
				continue;
			}
			d->flags |= DATA_BARE_CR;
		}
		if (c == '\r') {
			d->state = S_CR;
		} else if (c == '\n') {
			d->flags |= DATA_BARE_LF;
			emit(d, out, &o, '\n');
		} else {
			if (c == '\0')
				d->flags |= DATA_NUL;
			emit(d, out, &o, c);
		}
	}
	*outlen = o;
}

void bdat_finish(struct dataparse *d, char *out, size_t *outlen)
{
	*outlen = 0;
	if (d->state == S_CR) {
		d->flags |= DATA_BARE_CR;
		d->state = S_TEXT;
	}
	if (!d->last_lf)
		emit(d, out, outlen, '\n');
	d->done = 1;
}
