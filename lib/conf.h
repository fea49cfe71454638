/* postern.conf: "key = value" lines, typed and bounded keys.
 *
 * Unknown keys, bad values, values out of range and repeated keys are
 * errors that name file:line.  Relative paths are relative to the
 * instance directory given with -C. */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <stddef.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define CONF_DEFAULT_DIR SYSCONFDIR "/postern"
#define CONF_ERR_MAX 512
#define CONF_PATH_MAX 1024

enum { DELIVERY_INTERNAL = 0, DELIVERY_DELIVER = 1 };
enum { TLS_OFF = 0, TLS_STARTTLS = 1, TLS_IMPLICIT = 2 };
enum { TLS_MIN_12 = 0, TLS_MIN_13 = 1 };
enum { AUTHB_USERS = 0, AUTHB_PAM = 1, AUTHB_BOTH = 2 };

struct conf {
	char dir[CONF_PATH_MAX];        /* instance directory (-C) */

	char hostname[256];             /* name in banner, EHLO, Received */
	char banner[256];               /* text after "220 hostname ESMTP" */
	char mail_root[CONF_PATH_MAX];  /* mail store: mail_root/domain/user */
	char spool[CONF_PATH_MAX];      /* queue, pickup, badmail */
	char user[64];                  /* run as this user when started as root */
	char postmaster[320];           /* where postmaster@<any local> goes */
	char recipient_delimiter[8];    /* "+" for user+ext; "" = off */

	unsigned long long max_message_size;  /* bytes, SIZE */
	unsigned max_recipients;        /* per message */
	unsigned max_messages;          /* per session */
	unsigned max_errors;            /* before 421 */
	unsigned max_sessions;          /* listener mode: children at once */
	unsigned max_sessions_per_ip;   /* listener mode: per client address; 0 = no limit */
	unsigned line_max;              /* command line cap (octets) */
	unsigned idle_timeout;          /* seconds per read */
	unsigned session_timeout;       /* seconds, whole session */
	unsigned data_timeout;          /* seconds, whole DATA phase */
	unsigned alias_depth;           /* nesting limit for aliases */
	unsigned max_expansion;         /* mailboxes one recipient may expand to */
	unsigned greeting_delay;        /* ms to wait before the banner; talkers are dropped */
	unsigned min_data_rate;         /* bytes/s a DATA/BDAT transfer must keep up */
	int fsync;                      /* fsync files and directories */
	int smtputf8;                   /* advertise SMTPUTF8 */
	int chunking;                   /* advertise CHUNKING/BDAT */
	int vrfy;                       /* 0: VRFY answers 252 without lookup */
	int delivery;                   /* DELIVERY_INTERNAL or DELIVERY_DELIVER */
	int auth_plaintext;             /* POP3 USER/PASS without TLS */
	unsigned auth_fail_delay;       /* milliseconds before a failed login's reply */
	unsigned max_auth_failures;     /* per connection, then close */

	char maps[CONF_PATH_MAX];       /* directory of the CDB maps; "" = dir */
	int submission;                 /* AUTH before MAIL, sender checks */
	int auth_backend;               /* AUTHB_* */
	char pam_service[64];

	int tls;                        /* TLS_OFF, TLS_STARTTLS, TLS_IMPLICIT */
	char tls_cert[CONF_PATH_MAX];   /* PEM chain: certificate first */
	char tls_key[CONF_PATH_MAX];    /* PEM private key */
	char tls_ticket_key[CONF_PATH_MAX]; /* shared session-ticket keys */
	int tls_min_version;            /* TLS_MIN_* */
	char tls_ciphers[512];          /* TLS 1.2 cipher list; "" = default */
	char tls_ciphersuites[256];     /* TLS 1.3 suites; "" = default */
	char tls_groups[256];           /* key exchange groups; "" = default */

	char smarthost[300];            /* "host[:port]" or "[ip][:port]"; "" = MX */
	unsigned queue_lifetime;        /* ms a message may stay queued */
	unsigned retry_min;             /* ms before the first retry */
	unsigned retry_max;             /* ms, cap of the doubling back-off */
	unsigned relay_concurrency;     /* destinations served at once */
	unsigned relay_timeout;         /* seconds per connect, reply, DATA */
	char tls_ca_file[CONF_PATH_MAX];/* relay tls=verify; "" = system store */
};

/* Where the maps are: conf.maps, else the instance directory. */
const char *conf_maps_dir(const struct conf *c);

/* Defaults only (hostname from gethostname()). */
void conf_defaults(struct conf *c);

/* Parse a postern.conf buffer (pure: no I/O apart from nothing).  name is
 * used in error messages.  Returns 0, or -1 with "name:line: message" in
 * err.  Values already in *c are overwritten per key. */
int conf_parse(struct conf *c, const char *name, const char *buf, size_t len,
	       char *err, size_t errlen);

/* Defaults, then DIR/postern.conf, then make relative paths absolute.
 * dir NULL means CONF_DEFAULT_DIR.  Returns 0 or -1 with err set. */
int conf_load(struct conf *c, const char *dir, char *err, size_t errlen);

/* conf_load(), and in *st what fstat() said of postern.conf as it was
 * read, for conf_unchanged(). */
struct stat;
int conf_load_st(struct conf *c, const char *dir, struct stat *st, char *err, size_t errlen);

/* DIR/postern.conf (dir NULL: CONF_DEFAULT_DIR) into out: 0, or -1 when
 * it does not fit. */
int conf_file(const char *dir, char *out, size_t len);

/* 1 when DIR/postern.conf is still the file st describes (same device,
 * inode, size and modification time: samefile.h), else 0. */
int conf_unchanged(const char *dir, const struct stat *st);

/* Resolve p against the instance directory into out.  A path that
 * starts with "$CREDENTIALS_DIRECTORY/" (systemd LoadCredential=) takes
 * that variable from the environment. */
int conf_path(const struct conf *c, const char *p, char *out, size_t outlen);

/* Print every key with its current value (postern-map -c -v, tests). */
void conf_dump(const struct conf *c, int fd);

#endif
