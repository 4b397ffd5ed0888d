/* Test helper: whether this machine can bind ::1 (containers often have
 * IPv6 switched off), so IPv6 parts of a test run only where they can. */
#ifndef MC_TEST_IPV6_H
#define MC_TEST_IPV6_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

static inline bool ipv6_loopback_usable(void) {
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

#endif
