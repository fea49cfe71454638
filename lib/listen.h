/* Listener mode: one long-lived process accepts, one child per connection.
 *
 * Started with a listening socket instead of a connection (systemd
 * Accept=no passes it as fd 3 with LISTEN_FDS=1 and LISTEN_PID; inetd and
 * xinetd "wait" services pass it as fd 0), smtp-session and pop3-session
 * accept connections themselves and fork a child for each.  The child
 * goes on exactly as a program started per connection would: it reads
 * postern.conf, opens the maps, drops privileges and speaks on fds 0/1.
 * What is saved is the super-server's fork and our exec, dynamic loading
 * and libc start-up on every connection.
 *
 * The parent only accepts, forks and reaps; it never reads a byte from
 * the network.  It enforces max_sessions (at the limit it stops
 * accepting; the kernel's backlog holds new connections) and
 * max_sessions_per_ip (the child is told to refuse with the protocol's
 * temporary error).  SIGHUP re-reads those two keys; SIGTERM and SIGINT
 * close the listening socket and end the parent, running sessions finish
 * on their own. */
#ifndef POSTERN_LISTEN_H
#define POSTERN_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

struct conf;

#define LISTEN_MAX 16               /* listening sockets served at once */

/* What LISTEN_FDS / LISTEN_PID say (pure): how many sockets from fd 3 on
 * are ours (0: unset, or another process's), -1 = garbage or more than
 * LISTEN_MAX. */
int listen_env(const char *fds, const char *pid, long me);

/* The listening sockets this process was started with: fills fds
 * (room for LISTEN_MAX) and returns how many; 0 = started per
 * connection (Accept=yes also passes fd 3, but a connected one);
 * -1 = LISTEN_FDS is garbage (err says so).  Unsets LISTEN_FDS,
 * LISTEN_PID and LISTEN_FDNAMES so nothing started later takes them
 * for its own. */
int listen_find(int *fds, char *err, size_t errlen);

/* Children not yet reaped and the address each serves (pure
 * bookkeeping).  A child says its session has ended just before it
 * exits, and so before its client sees the connection close; from then
 * on it counts against no limit, though it stays in the table until it
 * is reaped. */
struct listen_slot {
	pid_t pid;
	unsigned char addr[16];         /* IPv4 as IPv4-mapped IPv6 */
	int ended;                      /* the session said it has ended */
};
struct listen_table {
	struct listen_slot *v;
	size_t n, cap;                  /* n: children not yet reaped */
	size_t live;                    /* of which not ended */
};
int listen_table_add(struct listen_table *t, pid_t pid, const unsigned char addr[16]);
int listen_table_remove(struct listen_table *t, pid_t pid);
/* 0: marked ended; -1: unknown pid or already ended. */
int listen_table_end(struct listen_table *t, pid_t pid);
/* Sessions from addr that have not ended. */
size_t listen_table_count(const struct listen_table *t, const unsigned char addr[16]);

/* For main(): listen when started with listening sockets, else return
 * 0 at once (per connection).  In listener mode the parent accepts until
 * SIGTERM/SIGINT and never returns (it exits: 0 once its sessions have
 * ended, a second signal stops the wait; EX_CONFIG if postern.conf
 * cannot be read at start; EX_OSERR if a socket fails for good); each
 * child returns with fds 0 and 1 its connection: 0 = serve it, 1 =
 * refuse it (its address has max_sessions_per_ip sessions already).  c
 * is the configuration the session will use: the listener keeps in it
 * the postern.conf it last read without error, for
 * listen_conf_current(). */
int listen_start(const char *dir, struct conf *c);

/* In a listener's child: 1 when the configuration the listener left in
 * listen_start()'s c came from the postern.conf that is there now
 * (same_file()), so the session need not read it again; else 0 (and
 * always 0 per connection).  A changed file is read by the next
 * session, as without a listener. */
int listen_conf_current(const char *dir);

/* In a listener's child: tell the listener its session has ended (also
 * done at exit()).  Elsewhere nothing. */
void listen_session_ended(void);

#endif
