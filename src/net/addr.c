/* Numeric socket addresses: parse, print, compare, classify. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

static int parse_v6(const char *ip, size_t n, uint16_t port, mc_addr *out) {
  char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (n == 0 || n >= sizeof tmp) return MC_EINVAL;
  memcpy(tmp, ip, n);
  tmp[n] = '\0';
  uint32_t scope = 0;
  char *pct = strchr(tmp, '%');
  if (pct) {
    *pct++ = '\0';
    if (*pct == '\0') return MC_EINVAL;
    char *end;
    unsigned long v = strtoul(pct, &end, 10);
    if (*end == '\0' && v <= UINT32_MAX) {
      scope = (uint32_t)v;
    } else {
      scope = if_nametoindex(pct);
      if (scope == 0) return MC_EINVAL;
    }
  }
  struct sockaddr_in6 in6;
  memset(&in6, 0, sizeof in6);
  if (inet_pton(AF_INET6, tmp, &in6.sin6_addr) != 1) return MC_EINVAL;
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  in6.sin6_scope_id = scope;
  memset(out, 0, sizeof *out);
  out->u.in6 = in6;
  return 0;
}

int mc_addr_parse(const char *ip, uint16_t port, mc_addr *out) {
  if (!ip || !out) return MC_EINVAL;
  size_t n = strlen(ip);
  if (n > 0 && ip[0] == '[') {
    if (n < 3 || ip[n - 1] != ']') return MC_EINVAL;
    return parse_v6(ip + 1, n - 2, port, out);
  }
  struct in_addr a4;
  if (strchr(ip, ':') == NULL) {
    if (inet_pton(AF_INET, ip, &a4) != 1) return MC_EINVAL;
    memset(out, 0, sizeof *out);
    out->u.in4.sin_family = AF_INET;
    out->u.in4.sin_port = htons(port);
    out->u.in4.sin_addr = a4;
    return 0;
  }
  return parse_v6(ip, n, port, out);
}

static int parse_port(const char *s, uint16_t *port) {
  if (*s == '\0') return MC_EINVAL;
  unsigned long v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return MC_EINVAL;
    v = v * 10 + (unsigned long)(*p - '0');
    if (v > 65535) return MC_EINVAL;
  }
  *port = (uint16_t)v;
  return 0;
}

int mc_addr_parse_hostport(const char *text, mc_addr *out) {
  if (!text || !out) return MC_EINVAL;
  uint16_t port;
  if (text[0] == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':') return MC_EINVAL;
    if (parse_port(close + 2, &port) != 0) return MC_EINVAL;
    return parse_v6(text + 1, (size_t)(close - text - 1), port, out);
  }
  const char *colon = strrchr(text, ':');
  if (!colon || colon != strchr(text, ':')) return MC_EINVAL; /* bare IPv6 needs brackets */
  if (parse_port(colon + 1, &port) != 0) return MC_EINVAL;
  char ip[INET_ADDRSTRLEN];
  size_t n = (size_t)(colon - text);
  if (n == 0 || n >= sizeof ip) return MC_EINVAL;
  memcpy(ip, text, n);
  ip[n] = '\0';
  return mc_addr_parse(ip, port, out);
}

int mc_addr_from_sockaddr(const struct sockaddr *sa, mc_addr *out) {
  if (!sa || !out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  if (sa->sa_family == AF_INET) {
    memcpy(&out->u.in4, sa, sizeof out->u.in4);
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    memcpy(&out->u.in6, sa, sizeof out->u.in6);
    return 0;
  }
  return MC_EINVAL;
}

socklen_t mc_addr_len(const mc_addr *a) {
  switch (a->u.sa.sa_family) {
  case AF_INET: return sizeof(struct sockaddr_in);
  case AF_INET6: return sizeof(struct sockaddr_in6);
  default: return 0;
  }
}

int mc_addr_family(const mc_addr *a) {
  int f = a->u.sa.sa_family;
  return (f == AF_INET || f == AF_INET6) ? f : AF_UNSPEC;
}

uint16_t mc_addr_port(const mc_addr *a) {
  switch (a->u.sa.sa_family) {
  case AF_INET: return ntohs(a->u.in4.sin_port);
  case AF_INET6: return ntohs(a->u.in6.sin6_port);
  default: return 0;
  }
}

void mc_addr_set_port(mc_addr *a, uint16_t port) {
  if (a->u.sa.sa_family == AF_INET) a->u.in4.sin_port = htons(port);
  else if (a->u.sa.sa_family == AF_INET6) a->u.in6.sin6_port = htons(port);
}

bool mc_addr_ip_equal(const mc_addr *a, const mc_addr *b) {
  if (a->u.sa.sa_family != b->u.sa.sa_family) return false;
  if (a->u.sa.sa_family == AF_INET) return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
  if (a->u.sa.sa_family == AF_INET6)
    return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0 &&
           a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id;
  return false;
}

bool mc_addr_equal(const mc_addr *a, const mc_addr *b) {
  return mc_addr_ip_equal(a, b) && mc_addr_port(a) == mc_addr_port(b);
}

/* The IP with its scope id: INET6_ADDRSTRLEN plus "%4294967295". */
#define IP_STRLEN (INET6_ADDRSTRLEN + 12)

static void ip_str(const mc_addr *a, char buf[IP_STRLEN]) {
  buf[0] = '\0';
  if (a->u.sa.sa_family == AF_INET) {
    inet_ntop(AF_INET, &a->u.in4.sin_addr, buf, IP_STRLEN);
  } else if (a->u.sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &a->u.in6.sin6_addr, buf, INET6_ADDRSTRLEN);
    if (a->u.in6.sin6_scope_id) {
      size_t n = strlen(buf);
      snprintf(buf + n, IP_STRLEN - n, "%%%u", (unsigned)a->u.in6.sin6_scope_id);
    }
  } else {
    snprintf(buf, IP_STRLEN, "(none)");
  }
}

const char *mc_addr_ip_str(const mc_addr *a, char buf[MC_ADDR_STRLEN]) {
  char ip[IP_STRLEN];
  ip_str(a, ip);
  snprintf(buf, MC_ADDR_STRLEN, "%s", ip);
  return buf;
}

const char *mc_addr_str(const mc_addr *a, char buf[MC_ADDR_STRLEN]) {
  char ip[IP_STRLEN];
  ip_str(a, ip);
  if (a->u.sa.sa_family == AF_INET6)
    snprintf(buf, MC_ADDR_STRLEN, "[%s]:%u", ip, (unsigned)mc_addr_port(a));
  else if (a->u.sa.sa_family == AF_INET)
    snprintf(buf, MC_ADDR_STRLEN, "%s:%u", ip, (unsigned)mc_addr_port(a));
  else
    snprintf(buf, MC_ADDR_STRLEN, "%s", ip);
  return buf;
}

static bool v4mapped(const mc_addr *a) {
  return a->u.sa.sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr);
}

static uint32_t v4_host(const mc_addr *a) {
  if (a->u.sa.sa_family == AF_INET) return ntohl(a->u.in4.sin_addr.s_addr);
  return mc_get_be32(&a->u.in6.sin6_addr.s6_addr[12]);
}

/* RFC 1122 3.2.1.3: 127/8 is loopback. */
bool mc_addr_is_loopback(const mc_addr *a) {
  if (a->u.sa.sa_family == AF_INET || v4mapped(a)) return (v4_host(a) >> 24) == 127;
  if (a->u.sa.sa_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
  return false;
}

/* RFC 3927 (169.254/16) and RFC 4291 2.5.6 (fe80::/10). */
bool mc_addr_is_link_local(const mc_addr *a) {
  if (a->u.sa.sa_family == AF_INET || v4mapped(a)) return (v4_host(a) >> 16) == 0xA9FE;
  if (a->u.sa.sa_family == AF_INET6) return IN6_IS_ADDR_LINKLOCAL(&a->u.in6.sin6_addr);
  return false;
}

bool mc_addr_is_any(const mc_addr *a) {
  if (a->u.sa.sa_family == AF_INET) return a->u.in4.sin_addr.s_addr == htonl(INADDR_ANY);
  if (a->u.sa.sa_family == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
  return false;
}
