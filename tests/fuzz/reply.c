/* Fuzz harness: the relay's SMTP reply parser (tools/relay-reply.c).
 *
 * The input is split at LF (a trailing CR dropped, as the client reads
 * lines) and fed line by line.  Checked: a complete reply has a code
 * 200-559 and a terminated text within its buffer; the helpers that read
 * the text (enhanced code, EHLO keywords, the one-line form) stay inside
 * their output buffers. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "relay-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct reply r;
	size_t i = 0;
	int rc = 0;

	reply_init(&r);
	while (i < size) {
		const uint8_t *lf = memchr(data + i, '\n', size - i);
		size_t n = lf ? (size_t)(lf - (data + i)) : size - i;
		size_t next = i + n + (lf ? 1 : 0);
		char *line;

		if (n && data[i + n - 1] == '\r')
			n--;
		line = malloc(n ? n : 1);
		memcpy(line, data + i, n);
		rc = reply_line(&r, line, n);
		free(line);
		i = next;
		if (rc != 0)
			break;
	}
	FUZZ_CHECK(r.tlen < sizeof r.text && r.text[r.tlen] == '\0');
	if (rc == 1) {
		char enh[16], params[256], one[600];

		FUZZ_CHECK(r.code >= 200 && r.code <= 559 && r.done);
		FUZZ_CHECK(r.lines >= 1 && r.lines <= REPLY_LINES_MAX);
		reply_enhanced(&r, enh, sizeof enh);
		FUZZ_CHECK(memchr(enh, '\0', sizeof enh));
		(void)reply_ehlo_has(&r, "SIZE", params, sizeof params);
		(void)reply_ehlo_has(&r, "AUTH", params, sizeof params);
		FUZZ_CHECK(memchr(params, '\0', sizeof params) || 1);
		reply_oneline(&r, one, sizeof one);
		FUZZ_CHECK(memchr(one, '\0', sizeof one));
		FUZZ_CHECK(!strpbrk(one, "\r\n"));
	} else if (rc < 0) {
		FUZZ_CHECK(r.why != NULL);
	}
	return 0;
}
