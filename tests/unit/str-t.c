/* Tests for bounded strings and overflow-checked sizes. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "tap.h"

int main(void)
{
	struct str s;
	size_t r;

	str_init(&s, 0);
	is_str(str_c(&s), "", "empty string reads as \"\"");
	ok(str_cats(&s, "abc") == 0 && s.len == 3, "cats");
	ok(str_catc(&s, 'd') == 0, "catc");
	ok(str_catu(&s, 0) == 0 && str_catu(&s, 18446744073709551615ULL) == 0, "catu");
	is_str(str_c(&s), "abcd018446744073709551615", "contents after appends");
	ok(str_printf(&s, "-%d-%s", 42, "x") == 0, "printf");
	is_str(str_c(&s), "abcd018446744073709551615-42-x", "printf appends");
	str_truncate(&s, 2);
	is_str(str_c(&s), "ab", "truncate");
	ok(str_copys(&s, "zz") == 0, "copys");
	is_str(str_c(&s), "zz", "copy replaces");
	str_clear(&s);
	ok(s.len == 0 && !strcmp(str_c(&s), ""), "clear");
	str_free(&s);

	str_init(&s, 5);
	ok(str_cats(&s, "12345") == 0, "bounded: exactly max fits");
	ok(str_catc(&s, '6') < 0, "bounded: one over max refused");
	is_str(str_c(&s), "12345", "bounded: unchanged after refusal");
	ok(str_copys(&s, "1234567") < 0 && !strcmp(str_c(&s), "12345"), "bounded: copy over max refused, old kept");
	ok(str_printf(&s, "%s", "x") < 0, "bounded: printf over max refused");
	ok(s.cap <= 6, "bounded: never allocates past max+1 (%zu)", s.cap);
	str_free(&s);

	str_init(&s, 0);
	ok(str_reserve(&s, SIZE_MAX) < 0, "reserve SIZE_MAX refused (overflow)");
	str_cats(&s, "x");
	ok(str_reserve(&s, SIZE_MAX - 1) < 0, "reserve len+SIZE_MAX-1 refused (overflow with NUL)");
	ok(str_catn(&s, "y", SIZE_MAX) < 0, "catn with huge length refused");
	str_free(&s);

	ok(size_add(SIZE_MAX, 1, &r) < 0, "size_add overflow");
	ok(size_add(SIZE_MAX - 1, 1, &r) == 0 && r == SIZE_MAX, "size_add at limit");
	ok(size_mul(SIZE_MAX / 2 + 1, 2, &r) < 0, "size_mul overflow");
	ok(size_mul(0, SIZE_MAX, &r) == 0 && r == 0, "size_mul zero");

	ok(ascii_casecmp("Example.TEST", "example.test") == 0, "ascii_casecmp equal");
	ok(ascii_casecmp("a", "b") < 0, "ascii_casecmp order");
	ok(ascii_ncasecmp("MAIL FROM", "mail", 4) == 0, "ascii_ncasecmp prefix");
	{
		char t[] = "\xc3\x89T\xc3\xa9";
		ascii_lowercase(t, strlen(t));
		is_str(t, "\xc3\x89t\xc3\xa9", "ascii_lowercase leaves 8-bit bytes alone");
	}
	{
		char *d = xstrndup("hello", 3);
		is_str(d, "hel", "xstrndup");
		free(d);
	}
	return tap_done();
}
