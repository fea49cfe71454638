/* Password checks by backend and the root PAM monitor; see pamauth.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#include "lazylib.h"
#include "log.h"
#include "pamauth.h"
#include "rcpt.h"
#include "sasl.h"
#include "str.h"

#define REQ_MAX (4 + 2 * SASL_FIELD_MAX)
#define ANSWER_WAIT_MS 60000

struct conv_data {
	const char *user, *pass;
};

/* Answer PAM's prompts from what the client sent; anything else gets an
 * empty answer, so a module that wants more (OTP, a new password) fails. */
static int conv(int n, const struct pam_message **msg, struct pam_response **resp,
		void *data)
{
	struct conv_data *d = data;
	struct pam_response *r;

	if (n <= 0 || n > PAM_MAX_NUM_MSG)
		return PAM_CONV_ERR;
	r = calloc((size_t)n, sizeof *r);
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		const char *a = NULL;

		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF)
			a = d->pass;
		else if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			a = d->user;
		if (a && !(r[i].resp = strdup(a))) {
			for (int j = 0; j < i; j++)
				free(r[j].resp);
			free(r);
			return PAM_BUF_ERR;
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

/* Our own delay applies to every backend alike; pam_unix's would add. */
static void no_delay(int status, unsigned usec, void *arg)
{
}

/* libpam (and with it libaudit and libcap-ng) is loaded at the first
 * PAM login, in the monitor or in process, never at start-up. */
static struct {
	int (*start)(const char *, const char *, const struct pam_conv *, pam_handle_t **);
	int (*set_item)(pam_handle_t *, int, const void *);
	int (*authenticate)(pam_handle_t *, int);
	int (*acct_mgmt)(pam_handle_t *, int);
	const char *(*strerror)(pam_handle_t *, int);
	int (*end)(pam_handle_t *, int);
} pam;

static int pam_load(char *why, size_t whylen)
{
	static struct lazylib lib = { "libpam.so.0", NULL };

	if (pam.end)
		return 0;
	if (!(pam.start = lazy_sym(&lib, "pam_start", why, whylen)) ||
	    !(pam.set_item = lazy_sym(&lib, "pam_set_item", why, whylen)) ||
	    !(pam.authenticate = lazy_sym(&lib, "pam_authenticate", why, whylen)) ||
	    !(pam.acct_mgmt = lazy_sym(&lib, "pam_acct_mgmt", why, whylen)) ||
	    !(pam.strerror = lazy_sym(&lib, "pam_strerror", why, whylen)) ||
	    !(pam.end = lazy_sym(&lib, "pam_end", why, whylen)))
		return -1;
	return 0;
}

/* Results mapped like OpenSMTPD's parent_auth_pam: the user's fault is a
 * failure, the system's is temporary. */
static enum auth_result pam_verdict(const char *service, const char *user, const char *pass,
				    char *why, size_t whylen)
{
	struct conv_data d = { user, pass };
	struct pam_conv pc = { conv, &d };
	pam_handle_t *h = NULL;
	int r;

	if (pam_load(why, whylen) < 0)
		return AUTH_TEMP;
	r = pam.start(service, user, &pc, &h);
	if (r != PAM_SUCCESS) {
		snprintf(why, whylen, "pam_start: %s", h ? pam.strerror(h, r) : "failed");
		return AUTH_TEMP;
	}
	pam.set_item(h, PAM_FAIL_DELAY, (const void *)no_delay);
	r = pam.authenticate(h, PAM_SILENT | PAM_DISALLOW_NULL_AUTHTOK);
	if (r == PAM_SUCCESS)
		r = pam.acct_mgmt(h, PAM_SILENT);
	snprintf(why, whylen, "pam: %s", pam.strerror(h, r));
	pam.end(h, r);
	switch (r) {
	case PAM_SUCCESS:
		return AUTH_OK;
	case PAM_AUTH_ERR: case PAM_USER_UNKNOWN: case PAM_MAXTRIES:
	case PAM_ACCT_EXPIRED: case PAM_PERM_DENIED: case PAM_NEW_AUTHTOK_REQD:
	case PAM_CRED_INSUFFICIENT:
		return AUTH_FAIL;
	default:
		return AUTH_TEMP;
	}
}

/* One request: lengths checked against the message size. */
static int parse_request(const unsigned char *b, size_t n, char *user, char *pass)
{
	size_t ul, pl;

	if (n < 4)
		return -1;
	ul = (size_t)b[0] << 8 | b[1];
	if (!ul || ul > SASL_FIELD_MAX || 2 + ul + 2 > n)
		return -1;
	pl = (size_t)b[2 + ul] << 8 | b[3 + ul];
	if (!pl || pl > SASL_FIELD_MAX || 4 + ul + pl != n)
		return -1;
	if (memchr(b + 2, 0, ul) || memchr(b + 4 + ul, 0, pl))
		return -1;
	memcpy(user, b + 2, ul);
	user[ul] = '\0';
	memcpy(pass, b + 4 + ul, pl);
	pass[pl] = '\0';
	return 0;
}

/* The monitor: root, no network, one job, a bounded number of times. */
static void monitor(int fd, const char *service, unsigned max)
{
	unsigned char req[REQ_MAX + 1];
	char user[SASL_FIELD_MAX + 1], pass[SASL_FIELD_MAX + 1], why[128];
	int null = open("/dev/null", O_RDWR);

	/* the client's socket is no business of ours */
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (log_to_syslog())
			dup2(null, 2);
		if (null > 2)
			close(null);
	}
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; i < max; i++) {
		ssize_t n = recv(fd, req, sizeof req, 0);
		unsigned char answer;

		if (n < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (n <= 0 || parse_request(req, (size_t)n, user, pass) < 0)
			break;
		answer = (unsigned char)pam_verdict(service, user, pass, why, sizeof why);
		explicit_bzero(pass, sizeof pass);
		explicit_bzero(req, sizeof req);
		if (send(fd, &answer, 1, 0) != 1)
			break;
	}
	_exit(0);
}

int pammon_start(struct pammon *m, const struct conf *c, int want, char *err, size_t errlen)
{
	int sv[2];

	memset(m, 0, sizeof *m);
	m->fd = -1;
	m->on = c->auth_backend == AUTHB_PAM || c->auth_backend == AUTHB_BOTH;
	snprintf(m->service, sizeof m->service, "%s", c->pam_service);
	if (!m->on || !want || geteuid() != 0)
		return 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	m->pid = fork();
	if (m->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (m->pid == 0) {
		close(sv[0]);
		/* every attempt the session may make, and the one that succeeds */
		monitor(sv[1], m->service, c->max_auth_failures + 1);
	}
	close(sv[1]);
	m->fd = sv[0];
	return 0;
}

enum auth_result pammon_check(struct pammon *m, const char *user, const char *pass,
			      char *why, size_t whylen)
{
	unsigned char req[REQ_MAX], answer;
	size_t ul = strlen(user), pl = strlen(pass);
	struct pollfd p = { .fd = m->fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (!ul || ul > SASL_FIELD_MAX || !pl || pl > SASL_FIELD_MAX) {
		snprintf(why, whylen, "user name or password length");
		return AUTH_FAIL;
	}
	if (m->fd < 0)
		return pam_verdict(m->service, user, pass, why, whylen);
	req[0] = (unsigned char)(ul >> 8);
	req[1] = (unsigned char)ul;
	/* a length-prefixed binary request, not a string: no NUL wanted */
	memcpy(req + 2, user, ul);      /* NOLINT(bugprone-not-null-terminated-result) */
	req[2 + ul] = (unsigned char)(pl >> 8);
	req[3 + ul] = (unsigned char)pl;
	memcpy(req + 4 + ul, pass, pl); /* NOLINT(bugprone-not-null-terminated-result) */
	n = send(m->fd, req, 4 + ul + pl, MSG_NOSIGNAL);
	explicit_bzero(req, sizeof req);
	if (n != (ssize_t)(4 + ul + pl)) {
		snprintf(why, whylen, "PAM monitor gone");
		return AUTH_TEMP;
	}
	while ((r = poll(&p, 1, ANSWER_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (r <= 0 || recv(m->fd, &answer, 1, 0) != 1 || answer > AUTH_TEMP) {
		snprintf(why, whylen, "no answer from the PAM monitor");
		return AUTH_TEMP;
	}
	snprintf(why, whylen, "pam: %s", answer == AUTH_OK ? "ok" : "refused");
	return (enum auth_result)answer;
}

void pammon_stop(struct pammon *m)
{
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
	if (m->pid > 0) {
		/* it exits on EOF; reap it so no zombie outlives the session */
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
}

static enum auth_result pam_login(struct maps *ms, const struct conf *c, struct pammon *m,
				  const char *user, const char *pass, struct auth_user *u,
				  char *why, size_t whylen)
{
	char local[AUTH_ADDR_MAX], domain[256], primary[256];
	size_t hl;
	enum auth_result r;
	int d;

	if (auth_split_user(user, strlen(user), local, sizeof local, domain, sizeof domain) < 0 ||
	    strlen(local) > SASL_FIELD_MAX) {
		snprintf(why, whylen, "not a user name");
		return AUTH_FAIL;
	}
	d = rcpt_domain(ms, domain, primary, sizeof primary);
	if (d < 0) {
		snprintf(why, whylen, "domains map unavailable");
		return AUTH_TEMP;
	}
	if (d == 0) {
		snprintf(why, whylen, "not a local domain");
		return AUTH_FAIL;
	}
	r = pammon_check(m, local, pass, why, whylen);
	if (r != AUTH_OK)
		return r;
	if ((size_t)snprintf(u->addr, sizeof u->addr, "%s@%s", local, primary) >= sizeof u->addr ||
	    rcpt_user_value(c, local, primary, "", 0, &hl, u->mailbox, sizeof u->mailbox) < 0) {
		snprintf(why, whylen, "address or mailbox path too long");
		return AUTH_TEMP;
	}
	return AUTH_OK;
}

enum auth_result login_check(struct maps *ms, const struct conf *c, struct pammon *m,
			     const char *user, const char *pass, struct auth_user *u,
			     char *why, size_t whylen)
{
	enum auth_result r = AUTH_FAIL, p;

	if (c->auth_backend != AUTHB_PAM) {
		r = auth_login(ms, c, user, strlen(user), pass, u, why, whylen);
		if (r == AUTH_OK || c->auth_backend == AUTHB_USERS)
			return r;
	}
	p = pam_login(ms, c, m, user, pass, u, why, whylen);
	/* users then PAM: a broken users map must not read as "wrong password" */
	return p == AUTH_FAIL && r == AUTH_TEMP ? AUTH_TEMP : p;
}
