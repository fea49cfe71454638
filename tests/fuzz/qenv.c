/* Fuzz harness: queue envelopes (lib/qenv.c).
 *
 * Checked: a parsed envelope has values without control bytes (a value
 * that could break a line could forge a recipient), and formatting it
 * and parsing the result gives the same envelope, whose format is
 * byte-identical (the runner's save/load cycle loses nothing). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "queue.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qenv e, e2;
	struct str s1, s2;
	char err[512];
	char *buf = malloc(size ? size : 1);

	memcpy(buf, data, size);
	qenv_init(&e);
	qenv_init(&e2);
	str_init(&s1, 0);
	str_init(&s2, 0);
	if (qenv_parse(&e, buf, size, err, sizeof err) == 0) {
		FUZZ_CHECK(qvalue_ok(e.sender) && qvalue_ok(e.id));
		for (size_t i = 0; i < e.n; i++) {
			FUZZ_CHECK(qvalue_ok(e.r[i].addr) && qvalue_ok(e.r[i].reply));
			FUZZ_CHECK(e.r[i].state >= QS_PENDING && e.r[i].state <= QS_FAILED);
		}
		FUZZ_CHECK(qenv_format(&e, &s1, err, sizeof err) == 0);
		FUZZ_CHECK(qenv_parse(&e2, s1.s, s1.len, err, sizeof err) == 0);
		FUZZ_CHECK(e2.n == e.n && !strcmp(e.sender, e2.sender) && !strcmp(e.id, e2.id));
		FUZZ_CHECK(e.created == e2.created && e.size == e2.size);
		FUZZ_CHECK(e.hold == e2.hold && e.dsn == e2.dsn);
		for (size_t i = 0; i < e.n; i++) {
			FUZZ_CHECK(!strcmp(e.r[i].addr, e2.r[i].addr));
			FUZZ_CHECK(!strcmp(e.r[i].reply, e2.r[i].reply));
			FUZZ_CHECK(e.r[i].state == e2.r[i].state);
			FUZZ_CHECK(e.r[i].attempts == e2.r[i].attempts && e.r[i].next == e2.r[i].next);
		}
		FUZZ_CHECK(qenv_format(&e2, &s2, err, sizeof err) == 0);
		FUZZ_CHECK(s1.len == s2.len && !memcmp(s1.s, s2.s, s1.len));
		(void)qenv_done(&e);
		(void)qenv_expire(&e, 1LL << 50, 1000);
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
	}
	qenv_free(&e);
	qenv_free(&e2);
	str_free(&s1);
	str_free(&s2);
	free(buf);
	return 0;
}
