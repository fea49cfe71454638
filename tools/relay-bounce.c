/* Delivery status notifications (RFC 3464 multipart/report) for failed recipients, queued to the sender from <>. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "str.h"

/* The original's header block goes back (text/rfc822-headers), never
 * more than this: a bounce must not carry a big message around again. */
#define HEADERS_MAX (64 * 1024)

static void rfc5322_date(long long ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* "550 5.1.1 text" -> "5.1.1"; without one, by class. */
static void status_of(const char *reply, char *out, size_t len)
{
	const char *p = reply;
	size_t n = 0;

	if (strlen(p) > 4 && p[0] >= '2' && p[0] <= '5' && p[3] == ' ')
		p += 4;
	while (p[n] && p[n] != ' ')
		n++;
	if (n >= 5 && n < 12 && p[1] == '.' && p[0] >= '2' && p[0] <= '5' &&
	    strspn(p, "0123456789.") == n) {
		snprintf(out, len, "%.*s", (int)n, p);
		return;
	}
	snprintf(out, len, "%s", strstr(reply, "lifetime expired") ? "4.4.7" : "5.0.0");
}

/* The original's header block, LF-terminated lines, at most HEADERS_MAX. */
static void original_headers(const struct relay *rl, const char *id, struct str *out)
{
	char p[CONF_PATH_MAX + 96], buf[8192];
	int fd, bol = 1;
	ssize_t r;

	if (queue_path(rl->conf, "queue", id, ".msg", p, sizeof p) < 0 ||
	    (fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while (out->len < HEADERS_MAX && (r = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < r; i++) {
			if (bol && buf[i] == '\n') {
				close(fd);
				return;
			}
			bol = buf[i] == '\n';
			if (str_catc(out, buf[i]) < 0 || out->len >= HEADERS_MAX)
				break;
		}
	}
	close(fd);
	if (out->len && out->s[out->len - 1] != '\n')
		str_catc(out, '\n');
}

int relay_bounce(struct relay *rl, const struct qenv *e, char *err, size_t errlen)
{
	const struct conf *c = rl->conf;
	struct str m = STR_INIT, hdr = STR_INIT;
	char date[64], arrival[64], boundary[QUEUE_ID_MAX + 300], st[16];
	const char *to[1] = { e->sender };
	struct queue q;
	int rc = -1;

	rfc5322_date(queue_now_ms(), date, sizeof date);
	rfc5322_date(e->created, arrival, sizeof arrival);
	snprintf(boundary, sizeof boundary, "%s/%s", e->id, c->hostname);
	str_printf(&m,
		   "From: Mail Delivery System <MAILER-DAEMON@%s>\n"
		   "To: <%s>\n"
		   "Subject: Undelivered Mail Returned to Sender\n"
		   "Date: %s\n"
		   "Message-ID: <%s.dsn@%s>\n"
		   "Auto-Submitted: auto-replied\n"
		   "MIME-Version: 1.0\n"
		   "Content-Type: multipart/report; report-type=delivery-status;\n"
		   "\tboundary=\"%s\"\n"
		   "\n"
		   "This is a MIME-encapsulated message.\n"
		   "\n"
		   "--%s\n"
		   "Content-Type: text/plain; charset=us-ascii\n"
		   "\n"
		   "This is the mail system at host %s.\n"
		   "\n"
		   "Your message could not be delivered to one or more recipients.\n"
		   "\n",
		   c->hostname, e->sender, date, e->id, c->hostname, boundary, boundary, c->hostname);
	for (size_t i = 0; i < e->n; i++)
		if (e->r[i].state == QS_FAILED)
			str_printf(&m, "<%s>: %s\n", e->r[i].addr, e->r[i].reply);
	str_printf(&m, "\n--%s\n"
		   "Content-Type: message/delivery-status\n"
		   "\n"
		   "Reporting-MTA: dns; %s\n"
		   "X-Postern-Queue-ID: %s\n"
		   "Arrival-Date: %s\n",
		   boundary, c->hostname, e->id, arrival);
	for (size_t i = 0; i < e->n; i++) {
		const struct qrcpt *r = &e->r[i];

		if (r->state != QS_FAILED)
			continue;
		status_of(r->reply, st, sizeof st);
		str_printf(&m, "\n"
			   "Final-Recipient: rfc822; %s\n"
			   "Action: failed\n"
			   "Status: %s\n"
			   "Diagnostic-Code: smtp; %s\n"
			   "Last-Attempt-Date: %s\n",
			   r->addr, st, r->reply[0] ? r->reply : "unknown", date);
	}
	original_headers(rl, e->id, &hdr);
	str_printf(&m, "\n--%s\n"
		   "Content-Type: text/rfc822-headers\n"
		   "\n", boundary);
	str_catn(&m, hdr.s ? hdr.s : "", hdr.len);
	str_printf(&m, "\n--%s--\n", boundary);

	if (queue_open(&q, c, "", to, 1, err, errlen) == 0) {
		q.env.dsn = 1;
		if (queue_write(&q, m.s, m.len) == 0 && queue_commit(&q, err, errlen) == 0) {
			struct logline l;
			log_begin(&l, "bounce");
			log_s(&l, "id", e->id);
			log_s(&l, "dsn_id", q.env.id);
			log_s(&l, "to", e->sender);
			log_end(&l);
			rc = 0;
		}
	}
	queue_abort(&q);
	str_free(&m);
	str_free(&hdr);
	return rc;
}
