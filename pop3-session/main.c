/* pop3-session: a POP3 server on fds 0 and 1, one process per connection. */
#include "config.h"

#include <stdio.h>

#include "log.h"
#include "peer.h"
#include "access.h"
#include "pop3.h"
#include "startup.h"

static const char usage[] =
	"usage: pop3-session [-C DIR]\n"
	"  POP3 server on standard input and output, one process per connection,\n"
	"  started by systemd (Accept=yes), xinetd or tcpserver; or given listening\n"
	"  sockets (systemd Accept=no, xinetd wait = yes), it accepts connections\n"
	"  itself and forks one process for each.\n"
	"  -C DIR   instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  -h, --help  this text\n";

/* Listener mode, max_sessions_per_ip reached for this address. */
static void refuse_busy(const struct conf *c)
{
	(void)c;
	fputs("-ERR [SYS/TEMP] too many connections from your address, try again later\r\n",
	      stdout);
}

static const struct startup start = {
	.prog = "pop3-session",
	.usage = usage,
	.conf_error = "-ERR [SYS/TEMP] server configuration error, try again later\r\n",
	.refuse_busy = refuse_busy,
};

int main(int argc, char **argv)
{
	static struct session s;
	int status;

	if (startup(argc, argv, &start, &s.conf, &s.pam, &s.tls, &status) < 0)
		return status;
	session_init(&s);
	s.started = io_now_ms();
	s.deadline = s.started + (int64_t)s.conf.session_timeout * 1000;
	peer_address(0, s.ip, sizeof s.ip, s.port, sizeof s.port);
	maps_init(&s.maps, conf_maps_dir(&s.conf));
	io_in_init(&s.in, 0, s.conf.line_max + 4096);
	io_out_init(&s.out, 1, 65536);
	s.in.idle_ms = (int)s.conf.idle_timeout * 1000;
	s.out.idle_ms = (int)s.conf.idle_timeout * 1000;
	s.in.deadline = s.out.deadline = s.deadline;
	s.in.flush = &s.out;

	/* connection control before a byte goes out; POP3 has no relaying,
	 * so only deny matters here */
	{
		struct access acc;
		struct logline l;

		if (access_check(&s.maps, s.ip, &acc) < 0) {
			log_error("relay map missing or broken: refusing connections (fail closed)");
			session_reply(&s, "-ERR [SYS/TEMP] service temporarily unavailable, try again later");
			session_end(&s, "relay-map");
			goto out;
		}
		if (acc.action == ACCESS_DENY) {
			log_begin(&l, "deny");
			log_s(&l, "ip", s.ip);
			log_s(&l, "rule", acc.rule);
			log_end(&l);
			session_reply(&s, "-ERR connection refused");
			session_end(&s, "denied");
			goto out;
		}
	}
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
