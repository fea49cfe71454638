/* Start-up shared by the session programs; see startup.h. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "listen.h"
#include "log.h"
#include "peer.h"
#include "priv.h"
#include "startup.h"

int startup(int argc, char **argv, const struct startup *sp, struct conf *c,
	    struct pammon *pam, struct tlsm **tls, int *status)
{
	const char *dir = NULL;
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	int busy;

	*tls = NULL;
	log_init(sp->prog);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(sp->usage, stdout);
			*status = 0;
			return -1;
		} else if (!strcmp(argv[i], "-C") && i + 1 < argc) {
			dir = argv[++i];
		} else {
			fputs(sp->usage, stderr);
			*status = EX_USAGE;
			return -1;
		}
	}
	busy = listen_start(dir, c);
	signal(SIGPIPE, SIG_IGN);
	if (!listen_conf_current(dir) && conf_load(c, dir, err, sizeof err) < 0) {
		log_error("%s", err);
		/* a client is waiting: tell it to come back later */
		fputs(sp->conf_error, stdout);
		*status = EX_CONFIG;
		return -1;
	}
	if (busy) {
		char ip[64], port[16];
		struct logline l;

		peer_address(0, ip, sizeof ip, port, sizeof port);
		log_begin(&l, "busy");
		log_s(&l, "ip", ip);
		log_u(&l, "max_sessions_per_ip", c->max_sessions_per_ip);
		log_end(&l);
		sp->refuse_busy(c);
		fflush(stdout);
		*status = 0;
		return -1;
	}
	/* As root, everything that needs root happens now, before a byte
	 * of network input: the PAM monitor forks, the key file is read. */
	if (pammon_start(pam, c, c->tls != TLS_OFF || c->auth_plaintext, err, sizeof err) < 0) {
		log_error("PAM monitor: %s", err);
		fputs(sp->conf_error, stdout);
		*status = EX_TEMPFAIL;
		return -1;
	}
	if (c->tls != TLS_OFF) {
		/* the key bytes only: OpenSSL is loaded when TLS starts */
		*tls = tlsm_server(c, err, sizeof err);
		/* a listener's child shares the listener's parsed context */
		if (*tls && geteuid() == 0 && !tlsm_prepared_for(c) &&
		    tlsm_preload(*tls, err, sizeof err) < 0) {
			tlsm_close(*tls);
			*tls = NULL;
		}
		if (!*tls) {
			log_error("tls: %s", err);
			if (c->tls == TLS_IMPLICIT) {
				pammon_stop(pam);
				*status = EX_CONFIG;
				return -1;
			}
			/* still serve, in clear: STARTTLS/STLS is not offered
			 * (and so POP3 takes no passwords) */
		}
	}
	if (priv_drop(c->user, err, sizeof err) < 0) {
		log_error("%s", err);
		fputs(sp->conf_error, stdout);
		*status = EX_CONFIG;
		return -1;
	}
	return 0;
}

void session_exit(int status)
{
#ifdef __SANITIZE_ADDRESS__
	/* the sanitizer build keeps exit(): its leak check runs there */
	exit(status);
#else
	fflush(NULL);
	listen_session_ended();
	_exit(status);
#endif
}
