/* The peer's address for logs and policy; see peer.h. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "peer.h"

void peer_address(int fd, char *ip, size_t iplen, char *port, size_t portlen)
{
	/* zeroed: a short address leaves no garbage in ss_family */
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof ss;
	const char *env_ip = NULL, *env_port = NULL;
	unsigned char bin[16];

	ip[0] = '\0';
	port[0] = '\0';
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)iplen);
			snprintf(port, portlen, "%u", ntohs(in->sin_port));
			return;
		}
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
				inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, (socklen_t)iplen);
			else
				inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen);
			snprintf(port, portlen, "%u", ntohs(in6->sin6_port));
			return;
		}
	}
	/* not a socket (a pipe under tcpserver's -- or a test): trust the
	 * environment only for what parses as an address */
	if ((env_ip = getenv("REMOTE_ADDR")))
		env_port = getenv("REMOTE_PORT");
	else if ((env_ip = getenv("TCPREMOTEIP")))
		env_port = getenv("TCPREMOTEPORT");
	if (env_ip && strlen(env_ip) < iplen &&
	    (inet_pton(AF_INET, env_ip, bin) == 1 || inet_pton(AF_INET6, env_ip, bin) == 1)) {
		snprintf(ip, iplen, "%s", env_ip);
		if (!strncmp(ip, "::ffff:", 7) && strchr(ip + 7, '.'))
			memmove(ip, ip + 7, strlen(ip + 7) + 1);
		if (env_port && strlen(env_port) < portlen &&
		    strspn(env_port, "0123456789") == strlen(env_port))
			snprintf(port, portlen, "%s", env_port);
	}
}
