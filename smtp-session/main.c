/* smtp-session: an ESMTP server on fds 0 and 1, one process per connection. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "log.h"
#include "peer.h"
#include "smtp.h"
#include "startup.h"

static const char usage[] =
	"usage: smtp-session [-C DIR]\n"
	"  ESMTP server on standard input and output, one process per connection,\n"
	"  started by systemd (Accept=yes), xinetd or tcpserver; or given listening\n"
	"  sockets (systemd Accept=no, xinetd wait = yes), it accepts connections\n"
	"  itself and forks one process for each.\n"
	"  -C DIR   instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  -h, --help  this text\n";

/* Connection control, before a byte goes out: the relay map decides
 * whether this client may talk to us at all.  0 go on, -1 end. */
static int admit(struct session *s)
{
	struct logline l;

	if (access_check(&s->maps, s->ip, &s->acc) < 0) {
		log_error("relay map missing or broken: refusing connections (fail closed)");
		io_puts(&s->out, "421 4.3.0 Service temporarily unavailable, try again later\r\n");
		session_end(s, "relay-map");
		return -1;
	}
	if (s->acc.action == ACCESS_DENY) {
		log_begin(&l, "deny");
		log_s(&l, "ip", s->ip);
		log_s(&l, "rule", s->acc.rule);
		log_end(&l);
		io_printf(&s->out, "554 5.7.1 %s: connection refused\r\n", s->conf.hostname);
		session_end(s, "denied");
		return -1;
	}
	/* per-rule limits only ever tighten the instance's */
	if (s->acc.max_size && s->acc.max_size < s->conf.max_message_size)
		s->conf.max_message_size = s->acc.max_size;
	if (s->acc.max_rcpts && s->acc.max_rcpts < s->conf.max_recipients)
		s->conf.max_recipients = s->acc.max_rcpts;
	return 0;
}

/* Greeting delay: a client that talks before the banner is a bulk
 * sender that does not wait for replies. */
static int pregreet(struct session *s)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	struct logline l;
	int r;

	if (!s->conf.greeting_delay || s->conf.tls == TLS_IMPLICIT)
		return 0;
	do
		r = poll(&p, 1, (int)s->conf.greeting_delay);
	while (r < 0 && errno == EINTR);
	if (r <= 0 || !(p.revents & (POLLIN | POLLHUP)))
		return 0;
	log_begin(&l, "pregreet");
	log_s(&l, "ip", s->ip);
	log_end(&l);
	io_printf(&s->out, "554 5.5.1 %s: protocol error: talking before the greeting\r\n",
		  s->conf.hostname);
	session_end(s, "pregreet");
	return -1;
}

/* Listener mode, max_sessions_per_ip reached for this address. */
static void refuse_busy(const struct conf *c)
{
	printf("421 4.7.0 %s Too many connections from your address, try again later\r\n",
	       c->hostname);
}

static const struct startup start = {
	.prog = "smtp-session",
	.usage = usage,
	.conf_error = "421 4.3.0 Server configuration error, try again later\r\n",
	.refuse_busy = refuse_busy,
};

int main(int argc, char **argv)
{
	static struct session s;
	struct logline l;
	int status;

	if (startup(argc, argv, &start, &s.conf, &s.pam, &s.tls, &status) < 0)
		return status;
	session_init(&s);
	s.started = io_now_ms();
	s.deadline = s.started + (int64_t)s.conf.session_timeout * 1000;
	peer_address(0, s.ip, sizeof s.ip, s.port, sizeof s.port);
	maps_init(&s.maps, conf_maps_dir(&s.conf));
	/* room for a longest line, and for message data to arrive in
	 * large reads (a 10 KB message in one) */
	io_in_init(&s.in, 0, s.conf.line_max + 4096 > 65536 ? s.conf.line_max + 4096 : 65536);
	io_out_init(&s.out, 1, 16384);
	s.in.idle_ms = (int)s.conf.idle_timeout * 1000;
	s.out.idle_ms = (int)s.conf.idle_timeout * 1000;
	s.in.deadline = s.out.deadline = s.deadline;
	s.in.flush = &s.out;

	log_begin(&l, "connect");
	log_s(&l, "ip", s.ip);
	log_s(&l, "port", s.port);
	log_s(&l, "instance", s.conf.dir);
	log_end(&l);

	if (admit(&s) < 0 || pregreet(&s) < 0)
		goto out;
	if (s.conf.tls == TLS_IMPLICIT && session_tls_begin(&s) < 0) {
		session_end(&s, "tls-failed");
		goto out;
	}
	session_run(&s);
out:
	tlsm_close(s.tls);
	pammon_stop(&s.pam);
	maps_close(&s.maps);
	session_exit(0);
}
