/* Tests for key=value log formatting. */
#include "config.h"

#include <string.h>

#include "log.h"
#include "tap.h"

static const char *fmt(const char *key, const char *val, size_t n)
{
	static struct logline l;

	log_begin(&l, "t");
	log_sn(&l, key, val, n);
	l.buf[l.len] = '\0';
	return l.buf;
}

int main(void)
{
	struct logline l;

	is_str(fmt("ip", "192.0.2.1", 9), "event=t ip=192.0.2.1", "plain value");
	is_str(fmt("helo", "a b", 3), "event=t helo=\"a b\"", "space quoted");
	is_str(fmt("x", "", 0), "event=t x=\"\"", "empty quoted");
	is_str(fmt("x", "a\"b", 3), "event=t x=\"a\\\"b\"", "quote escaped");
	is_str(fmt("x", "a\r\nb", 4), "event=t x=\"a\\x0d\\x0ab\"", "CR LF escaped");
	is_str(fmt("x", "a\0b", 3), "event=t x=\"a\\x00b\"", "NUL escaped");
	is_str(fmt("x", "k=v", 3), "event=t x=\"k=v\"", "= quoted");
	is_str(fmt("x", "\xc3\xa9", 2), "event=t x=\"\\xc3\\xa9\"", "8-bit escaped");
	is_str(fmt("x", "a\\b", 3), "event=t x=\"a\\\\b\"", "backslash escaped");

	log_begin(&l, "t");
	log_u(&l, "n", 18446744073709551615ULL);
	log_i(&l, "m", -5);
	l.buf[l.len] = '\0';
	is_str(l.buf, "event=t n=18446744073709551615 m=-5", "numbers");

	{
		char big[4000];
		memset(big, 'a', sizeof big);
		log_begin(&l, "t");
		log_sn(&l, "x", big, sizeof big);
		ok(l.len <= LOG_LINE_MAX - 1 && l.truncated, "long value truncated within the line cap");
	}
	return tap_done();
}
