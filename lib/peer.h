/* Who is on the other end of fd 0: the socket's peer, else what the
 * super-server says (REMOTE_ADDR/REMOTE_PORT, TCPREMOTEIP/TCPREMOTEPORT). */
#ifndef POSTERN_PEER_H
#define POSTERN_PEER_H

#include <stddef.h>

/* ip gets "" when nothing is known; an IPv4-mapped IPv6 address comes
 * back as plain IPv4. */
void peer_address(int fd, char *ip, size_t iplen, char *port, size_t portlen);

#endif
