/* ICE server URLs: RFC 7064 (stun:, stuns:) and RFC 7065 (turn:, turns:). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "turn/turn.h"

static int fail(char *why, size_t cap, const char *msg) {
  if (why && cap) mc_strcpy(why, cap, msg);
  return MC_EPARSE;
}

static bool ieq(const char *a, size_t alen, const char *b) {
  return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* RFC 3986 3.2.2 reg-name, restricted to what DNS names use: letters,
 * digits, '-', '.', '_' and '~'. Percent-encoding is refused: no ICE server
 * name needs it and it would let odd bytes reach the resolver. */
static bool is_name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
         ch == '.' || ch == '_' || ch == '~';
}

/* RFC 7064 3.1: stunURI = scheme ":" host [ ":" port ]
 * RFC 7065 3.1: turnURI = scheme ":" host [ ":" port ] [ "?transport=" transport ] */
int mc_ice_url_parse(const char *text, size_t len, mc_ice_url *out, char *why, size_t why_cap) {
  mc_ice_url u;
  memset(&u, 0, sizeof u);
  if (!text || !out) return fail(why, why_cap, mc_tr("no ICE server URL was given."));
  if (why && why_cap) why[0] = '\0';
  if (len == 0) return fail(why, why_cap, mc_tr("the ICE server URL is empty."));
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)text[i];
    if (ch <= 0x20 || ch >= 0x7f)
      return fail(why, why_cap, mc_tr("the ICE server URL contains a space or a character outside printable ASCII."));
  }

  const char *colon = memchr(text, ':', len);
  if (!colon) return fail(why, why_cap, mc_tr("the ICE server URL has no scheme; write it as turn:host:port or stun:host:port."));
  size_t slen = (size_t)(colon - text);
  if (ieq(text, slen, "stun")) u.scheme = MC_ICE_URL_STUN;
  else if (ieq(text, slen, "stuns")) u.scheme = MC_ICE_URL_STUNS;
  else if (ieq(text, slen, "turn")) u.scheme = MC_ICE_URL_TURN;
  else if (ieq(text, slen, "turns")) u.scheme = MC_ICE_URL_TURNS;
  else return fail(why, why_cap, mc_tr("the ICE server URL scheme must be stun:, stuns:, turn: or turns:."));
  bool tls = u.scheme == MC_ICE_URL_STUNS || u.scheme == MC_ICE_URL_TURNS;
  bool turn = u.scheme == MC_ICE_URL_TURN || u.scheme == MC_ICE_URL_TURNS;
  u.transport = tls ? MC_TURN_TLS : MC_TURN_UDP;
  u.port = tls ? MC_ICE_URL_DEFAULT_TLS_PORT : MC_ICE_URL_DEFAULT_PORT;

  const char *p = colon + 1;
  const char *end = text + len;
  if (end - p >= 2 && p[0] == '/' && p[1] == '/')
    return fail(why, why_cap, mc_tr("ICE server URLs take no \"//\": write turn:host:port, not turn://host:port."));

  /* The query, if any, belongs to turn: URLs only. */
  const char *q = memchr(p, '?', (size_t)(end - p));
  const char *hp_end = q ? q : end;

  /* host */
  const char *h = p;
  const char *h_end;
  if (h < hp_end && *h == '[') {
    const char *rb = memchr(h, ']', (size_t)(hp_end - h));
    if (!rb) return fail(why, why_cap, mc_tr("the IPv6 address in the ICE server URL has no closing bracket."));
    size_t hl = (size_t)(rb - h - 1);
    char tmp[INET6_ADDRSTRLEN + 1];
    struct in6_addr a6;
    if (hl == 0 || hl >= sizeof tmp) return fail(why, why_cap, mc_tr("the IPv6 address in the ICE server URL is not valid."));
    memcpy(tmp, h + 1, hl);
    tmp[hl] = '\0';
    if (inet_pton(AF_INET6, tmp, &a6) != 1)
      return fail(why, why_cap, mc_tr("the IPv6 address in the ICE server URL is not valid."));
    memcpy(u.host, tmp, hl + 1);
    u.host_is_ipv6 = true;
    h_end = rb + 1;
  } else {
    h_end = memchr(h, ':', (size_t)(hp_end - h));
    if (!h_end) h_end = hp_end;
    size_t hl = (size_t)(h_end - h);
    if (hl == 0) return fail(why, why_cap, mc_tr("the ICE server URL has no host name."));
    if (hl > MC_ICE_URL_HOST_MAX) return fail(why, why_cap, mc_tr("the host name in the ICE server URL is too long."));
    for (size_t i = 0; i < hl; i++) {
      if (h[i] == '@')
        return fail(why, why_cap,
                    mc_tr("ICE server URLs carry no user name; give it with --ice-username and --ice-credential."));
      if (!is_name_char(h[i])) return fail(why, why_cap, mc_tr("the host name in the ICE server URL has a character a host name cannot have."));
    }
    if (h[0] == '.' || h[0] == '-') return fail(why, why_cap, mc_tr("the host name in the ICE server URL is not valid."));
    memcpy(u.host, h, hl);
    u.host[hl] = '\0';
  }

  /* port */
  if (h_end < hp_end) {
    if (*h_end != ':') return fail(why, why_cap, mc_tr("unexpected characters after the host in the ICE server URL."));
    const char *d = h_end + 1;
    size_t dl = (size_t)(hp_end - d);
    if (dl == 0) return fail(why, why_cap, mc_tr("the ICE server URL has a ':' but no port number after it."));
    if (dl > 5) return fail(why, why_cap, mc_tr("the port in the ICE server URL must be a number from 1 to 65535."));
    unsigned long port = 0;
    for (size_t i = 0; i < dl; i++) {
      if (d[i] < '0' || d[i] > '9')
        return fail(why, why_cap, mc_tr("the port in the ICE server URL must be a number from 1 to 65535."));
      port = port * 10 + (unsigned long)(d[i] - '0');
    }
    if (port == 0 || port > 65535)
      return fail(why, why_cap, mc_tr("the port in the ICE server URL must be a number from 1 to 65535."));
    u.port = (uint16_t)port;
    u.port_given = true;
  }

  /* query: RFC 7065 3.1 "?transport=" udp / tcp */
  if (q) {
    if (!turn) return fail(why, why_cap, mc_tr("stun: and stuns: URLs take no ?transport= (RFC 7064); remove it."));
    const char *k = q + 1;
    size_t ql = (size_t)(end - k);
    const char key[] = "transport=";
    if (ql < sizeof key - 1 || strncasecmp(k, key, sizeof key - 1) != 0)
      return fail(why, why_cap, mc_tr("the only query a turn: URL takes is ?transport=udp or ?transport=tcp."));
    const char *v = k + sizeof key - 1;
    size_t vl = (size_t)(end - v);
    if (ieq(v, vl, "udp")) {
      if (tls)
        return fail(why, why_cap, mc_tr("turns: with ?transport=udp means DTLS, which is not supported; use turns: with tcp or turn: with udp."));
      u.transport = MC_TURN_UDP;
    } else if (ieq(v, vl, "tcp")) {
      u.transport = tls ? MC_TURN_TLS : MC_TURN_TCP;
    } else {
      return fail(why, why_cap, mc_tr("the transport in a turn: URL must be udp or tcp."));
    }
    u.transport_given = true;
  }
  *out = u;
  return 0;
}

const char *mc_ice_url_str(const mc_ice_url *url, char *buf, size_t cap) {
  static const char *schemes[] = {"stun", "stuns", "turn", "turns"};
  if (!buf || cap == 0) return buf;
  const char *scheme = (unsigned)url->scheme < MC_ARRAY_LEN(schemes) ? schemes[url->scheme] : "?";
  const char *query = "";
  if (url->transport_given || url->scheme == MC_ICE_URL_TURN) {
    if (url->scheme == MC_ICE_URL_TURN && url->transport == MC_TURN_TCP) query = "?transport=tcp";
    else if (url->scheme == MC_ICE_URL_TURNS && url->transport_given) query = "?transport=tcp";
    else if (url->transport_given) query = "?transport=udp";
  }
  snprintf(buf, cap, "%s:%s%s%s:%u%s", scheme, url->host_is_ipv6 ? "[" : "", url->host,
           url->host_is_ipv6 ? "]" : "", (unsigned)url->port, query);
  return buf;
}

bool mc_ice_url_is_turn(const mc_ice_url *url) {
  return url->scheme == MC_ICE_URL_TURN || url->scheme == MC_ICE_URL_TURNS;
}

const char *mc_turn_transport_name(enum mc_turn_transport t) {
  switch (t) {
  case MC_TURN_UDP: return "udp";
  case MC_TURN_TCP: return "tcp";
  case MC_TURN_TLS: return "tls";
  }
  return "?";
}

void mc_turn_config_from_url(struct mc_turn_config *cfg, const mc_ice_url *url) {
  cfg->host = url->host;
  cfg->port = url->port;
  cfg->transport = url->transport;
}
