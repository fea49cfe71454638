/* Fuzz harness: map source lines (lib/mapsrc.c mapsrc_line), every kind.
 *
 * Byte 0 picks the map; the rest is one line.  Checked: an entry has a
 * non-empty key, key and value hold no CR, LF or NUL (they go into a CDB
 * that sessions trust), the key is lowercase, and the error text is a
 * terminated string. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mapsrc.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str key, val;
	char err[512];
	enum map_kind k;
	char *line;
	int r;

	if (size < 1)
		return 0;
	k = (enum map_kind)(data[0] % MAP_NKINDS);
	line = malloc(size - 1 ? size - 1 : 1);
	memcpy(line, data + 1, size - 1);
	str_init(&key, 0);
	str_init(&val, 0);
	err[0] = '\0';
	r = mapsrc_line(k, line, size - 1, &key, &val, err, sizeof err);
	FUZZ_CHECK(r >= -1 && r <= 1);
	if (r == 1) {
		const char *ks = str_c(&key), *vs = str_c(&val);

		FUZZ_CHECK(key.len > 0 && strlen(ks) == key.len);
		FUZZ_CHECK(strlen(vs) == val.len);
		FUZZ_CHECK(!strpbrk(ks, "\r\n") && !strpbrk(vs, "\r\n"));
		for (size_t i = 0; i < key.len; i++)
			FUZZ_CHECK(!(ks[i] >= 'A' && ks[i] <= 'Z'));
	} else if (r < 0) {
		FUZZ_CHECK(memchr(err, '\0', sizeof err) && err[0]);
	}
	str_free(&key);
	str_free(&val);
	free(line);
	return 0;
}
