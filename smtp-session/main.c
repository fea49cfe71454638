/* smtp-session: an ESMTP server on fds 0 and 1, one process per connection. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "smtp.h"
#include "str.h"

static const char usage[] =
	"usage: smtp-session [-C DIR]\n"
	"  ESMTP server on standard input and output, one process per connection,\n"
	"  started by systemd (Accept=yes), xinetd or tcpserver.\n"
	"  -C DIR   instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  -h, --help  this text\n";

/* The peer: the socket itself, else what the super-server told us. */
static void peer_address(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	const char *env_ip = NULL, *env_port = NULL;
	unsigned char bin[16];

	if (getpeername(0, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, s->ip, sizeof s->ip);
			snprintf(s->port, sizeof s->port, "%u", ntohs(in->sin_port));
			return;
		}
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
				inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], s->ip, sizeof s->ip);
			else
				inet_ntop(AF_INET6, &in6->sin6_addr, s->ip, sizeof s->ip);
			snprintf(s->port, sizeof s->port, "%u", ntohs(in6->sin6_port));
			return;
		}
	}
	if ((env_ip = getenv("REMOTE_ADDR")))
		env_port = getenv("REMOTE_PORT");
	else if ((env_ip = getenv("TCPREMOTEIP")))
		env_port = getenv("TCPREMOTEPORT");
	if (env_ip && (inet_pton(AF_INET, env_ip, bin) == 1 || inet_pton(AF_INET6, env_ip, bin) == 1)) {
		snprintf(s->ip, sizeof s->ip, "%s", env_ip);
		if (!strncmp(s->ip, "::ffff:", 7) && strchr(s->ip + 7, '.'))
			memmove(s->ip, s->ip + 7, strlen(s->ip + 7) + 1);
		if (env_port && strlen(env_port) < sizeof s->port &&
		    strspn(env_port, "0123456789") == strlen(env_port))
			snprintf(s->port, sizeof s->port, "%s", env_port);
	}
}

int main(int argc, char **argv)
{
	static struct session s;
	const char *dir = NULL;
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	struct logline l;

	log_init("smtp-session");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fputs(usage, stderr);
			return EX_USAGE;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (conf_load(&s.conf, dir, err, sizeof err) < 0) {
		log_error("%s", err);
		/* a client is waiting: tell it to come back later */
		fputs("421 4.3.0 Server configuration error, try again later\r\n", stdout);
		return EX_CONFIG;
	}
	/* As root, everything that needs root happens now, before a byte
	 * of network input: the PAM monitor forks, the key file is read. */
	if (pammon_start(&s.pam, &s.conf, s.conf.tls != TLS_OFF || s.conf.auth_plaintext,
			 err, sizeof err) < 0) {
		log_error("PAM monitor: %s", err);
		fputs("421 4.3.0 Server configuration error, try again later\r\n", stdout);
		return EX_TEMPFAIL;
	}
	if (s.conf.tls != TLS_OFF) {
		s.tls = tls_server(&s.conf);
		if (geteuid() == 0 && tls_preload(s.tls, err, sizeof err) < 0) {
			log_error("tls: %s", err);
			if (s.conf.tls == TLS_IMPLICIT) {
				pammon_stop(&s.pam);
				return EX_CONFIG;
			}
			/* mail still flows in clear; STARTTLS is not offered */
			tls_close(s.tls);
			s.tls = NULL;
		}
	}
	if (priv_drop(s.conf.user, err, sizeof err) < 0) {
		log_error("%s", err);
		fputs("421 4.3.0 Server configuration error, try again later\r\n", stdout);
		return EX_CONFIG;
	}
	session_init(&s);
	s.started = io_now_ms();
	s.deadline = s.started + (int64_t)s.conf.session_timeout * 1000;
	peer_address(&s);
	maps_init(&s.maps, conf_maps_dir(&s.conf));
	io_in_init(&s.in, 0, s.conf.line_max + 4096);
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

	if (s.conf.tls == TLS_IMPLICIT && session_tls_begin(&s) < 0) {
		session_end(&s, "tls-failed");
		goto out;
	}
	session_banner(&s);
	for (;;) {
		char *line;
		size_t len;
		int crlf;
		int r = io_getline(&s.in, s.conf.line_max, &line, &len, &crlf);

		if (r == IO_LONG) {
			s.errors++;
			if (++s.long_lines >= 3) {
				session_reply(&s, "421 4.7.0 Too many overlong lines, closing connection");
				session_end(&s, "long-lines");
				break;
			}
			session_reply(&s, "500 5.5.2 Error: line too long");
			if (s.errors >= s.conf.max_errors) {
				session_reply(&s, "421 4.7.0 Too many errors, closing connection");
				session_end(&s, "too-many-errors");
				break;
			}
			continue;
		}
		if (r != IO_OK) {
			if (r == IO_TIMEOUT)
				session_reply(&s, "421 4.4.2 Timeout, closing connection");
			session_end(&s, r == IO_TIMEOUT ? "timeout" : r == IO_EOF ? "eof" : "io-error");
			break;
		}
		if (session_command(&s, line, len) < 0) {
			if (s.quit)
				session_end(&s, "quit");
			break;
		}
	}
	io_flush(&s.out);
out:
	tls_close(s.tls);
	pammon_stop(&s.pam);
	maps_close(&s.maps);
	return 0;
}
