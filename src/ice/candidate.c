/* ICE candidates: the candidate-attribute grammar (RFC 8839 5.1) as browsers
 * write it, priorities (RFC 8445 5.1.2), foundations (RFC 8445 5.1.1.3) and
 * pair priorities (RFC 8445 6.1.2.3). Pure functions, no sockets. */
#include <stdio.h>
#include <string.h>

#include "ice/ice.h"

static const char *const type_names[] = {"host", "srflx", "prflx", "relay"};

const char *mc_ice_cand_type_name(enum mc_ice_cand_type t) {
  return (unsigned)t < MC_ARRAY_LEN(type_names) ? type_names[t] : "unknown";
}

static const char *const tcptype_names[] = {"", "active", "passive", "so"};

const char *mc_ice_tcptype_name(enum mc_ice_tcptype t) {
  return (unsigned)t < MC_ARRAY_LEN(tcptype_names) ? tcptype_names[t] : "";
}

int mc_ice_cand_type_from_name(const char *name, size_t len, enum mc_ice_cand_type *out) {
  for (size_t i = 0; i < MC_ARRAY_LEN(type_names); i++) {
    if (strlen(type_names[i]) == len && memcmp(type_names[i], name, len) == 0) {
      *out = (enum mc_ice_cand_type)i;
      return 0;
    }
  }
  return MC_EPARSE;
}

/* RFC 8445 5.1.2.2 */
uint8_t mc_ice_type_preference(enum mc_ice_cand_type t) {
  switch (t) {
    case MC_ICE_CAND_HOST: return MC_ICE_TYPE_PREF_HOST;
    case MC_ICE_CAND_PRFLX: return MC_ICE_TYPE_PREF_PRFLX;
    case MC_ICE_CAND_SRFLX: return MC_ICE_TYPE_PREF_SRFLX;
    case MC_ICE_CAND_RELAY: return MC_ICE_TYPE_PREF_RELAY;
  }
  return 0;
}

/* RFC 8445 5.1.2.1 */
uint32_t mc_ice_candidate_priority(uint8_t type_pref, uint16_t local_pref, uint32_t component) {
  if (type_pref > 126) type_pref = 126;
  if (component < 1) component = 1;
  if (component > 256) component = 256;
  return ((uint32_t)type_pref << 24) | ((uint32_t)local_pref << 8) | (256u - component);
}

/* RFC 8445 5.1.2.1 leaves local preference to the agent. RFC 8421 4 asks
 * dual-stack agents to favour IPv6 without starving IPv4, so IPv6 takes the
 * upper half of the range. For relays the TURN transport decides: UDP to the
 * server adds no head-of-line blocking, TCP does, TLS adds a handshake too. */
uint16_t mc_ice_local_preference(enum mc_ice_cand_type type, int family, size_t iface_index,
                                 enum mc_turn_transport relay_transport) {
  size_t idx = MC_MIN(iface_index, (size_t)1000);
  if (type == MC_ICE_CAND_RELAY) {
    uint32_t top = relay_transport == MC_TURN_UDP ? 0xFFFF : relay_transport == MC_TURN_TCP ? 0xBFFF : 0x7FFF;
    return (uint16_t)(top - idx * 16 - (family == AF_INET6 ? 0 : 8));
  }
  uint32_t top = family == AF_INET6 ? 0xFFFF : 0x7FFF;
  return (uint16_t)(top - idx * 16);
}

/* RFC 6544 4.2: for host candidates (and relayed and UDP-tunneled ones)
 * direction-pref is 6 for active, 4 for passive and 2 for S-O, so that
 * active/passive pairs are checked before simultaneous-open ones. */
uint16_t mc_ice_tcp_local_preference(enum mc_ice_tcptype tcptype, int family, size_t iface_index) {
  uint32_t dir = tcptype == MC_ICE_TCPTYPE_ACTIVE ? 6 : tcptype == MC_ICE_TCPTYPE_PASSIVE ? 4 : 2;
  uint32_t top = family == AF_INET6 ? 8191 : 4095;
  uint32_t down = (uint32_t)MC_MIN(iface_index, (size_t)255) * 16;
  uint32_t other = down > top ? 0 : top - down;
  return (uint16_t)((dir << 13) + other);
}

/* RFC 8445 6.1.2.3 */
uint64_t mc_ice_pair_priority(uint32_t g, uint32_t d) {
  uint64_t mn = MC_MIN(g, d), mx = MC_MAX(g, d);
  return (mn << 32) + 2 * mx + (g > d ? 1 : 0);
}

static uint32_t fnv1a(uint32_t h, const void *data, size_t len) {
  const uint8_t *p = data;
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 16777619u;
  }
  return h;
}

static uint32_t hash_ip(uint32_t h, const mc_addr *a) {
  int fam = a ? mc_addr_family(a) : AF_UNSPEC;
  h = fnv1a(h, &fam, sizeof fam);
  if (fam == AF_INET) h = fnv1a(h, &a->u.in4.sin_addr, 4);
  else if (fam == AF_INET6) h = fnv1a(h, &a->u.in6.sin6_addr, 16);
  return h;
}

/* RFC 8445 5.1.1.3: same type, base IP, server IP and transport give the same
 * foundation. Decimal digits, as browsers write them (all are ice-chars). */
void mc_ice_foundation(enum mc_ice_cand_type type, const mc_addr *base, const mc_addr *server,
                       enum mc_ice_transport transport, enum mc_turn_transport relay_transport,
                       char out[MC_ICE_FOUNDATION_MAX + 1]) {
  uint32_t h = 2166136261u;
  int t = (int)type, tr = (int)transport, rt = type == MC_ICE_CAND_RELAY ? (int)relay_transport : -1;
  h = fnv1a(h, &t, sizeof t);
  h = fnv1a(h, &tr, sizeof tr);
  h = fnv1a(h, &rt, sizeof rt);
  h = hash_ip(h, base);
  h = hash_ip(h, server);
  snprintf(out, MC_ICE_FOUNDATION_MAX + 1, "%u", (unsigned)h);
}

/* ---- parsing ---- */

struct tok {
  const char *p;
  size_t n;
};

static bool tok_eq(struct tok t, const char *s) { return strlen(s) == t.n && memcmp(t.p, s, t.n) == 0; }

static bool tok_eq_nocase(struct tok t, const char *s) {
  if (strlen(s) != t.n) return false;
  for (size_t i = 0; i < t.n; i++) {
    char c = t.p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != s[i]) return false;
  }
  return true;
}

static bool is_ice_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Unsigned decimal, 1..max_digits digits, value <= max. */
static int tok_uint(struct tok t, size_t max_digits, uint64_t max, uint64_t *out) {
  if (t.n == 0 || t.n > max_digits) return MC_EPARSE;
  uint64_t v = 0;
  for (size_t i = 0; i < t.n; i++) {
    if (t.p[i] < '0' || t.p[i] > '9') return MC_EPARSE;
    v = v * 10 + (uint64_t)(t.p[i] - '0');
  }
  if (v > max) return MC_EPARSE;
  *out = v;
  return 0;
}

static bool ends_with_local(const char *s, size_t n) {
  static const char suffix[] = ".local";
  size_t sn = sizeof suffix - 1;
  if (n <= sn) return false;
  for (size_t i = 0; i < sn; i++) {
    char c = s[n - sn + i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != suffix[i]) return false;
  }
  return true;
}

/* An mDNS name: DNS labels of letters, digits and hyphens (browsers use a
 * UUID), ending in ".local". */
static bool is_mdns_name(const char *s, size_t n) {
  if (!ends_with_local(s, n) || n >= MC_ICE_HOST_MAX) return false;
  size_t label = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

/* A connection-address: numeric IPv4/IPv6 (parsed into addr when given) or an
 * mDNS name. Copies the text into host. */
static int parse_address(struct tok t, uint16_t port, char *host, bool *is_mdns, mc_addr *addr) {
  if (t.n == 0 || t.n >= MC_ICE_HOST_MAX) return MC_EPARSE;
  memcpy(host, t.p, t.n);
  host[t.n] = '\0';
  if (memchr(host, '\0', t.n)) return MC_EPARSE;
  if (is_mdns_name(host, t.n)) {
    *is_mdns = true;
    if (addr) memset(addr, 0, sizeof *addr);
    return 0;
  }
  *is_mdns = false;
  if (host[0] == '[') return MC_EPARSE; /* SDP writes IPv6 without brackets */
  mc_addr tmp;
  if (mc_addr_parse(host, port, &tmp) != 0) return MC_EPARSE;
  /* A zone index has no meaning for the peer. */
  if (strchr(host, '%')) return MC_EPARSE;
  if (addr) *addr = tmp;
  return 0;
}

#define MAX_TOKENS 64

int mc_ice_candidate_parse(const uint8_t *buf, size_t len, mc_ice_candidate *out) {
  if (!buf || !out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  out->generation = -1;
  out->network_id = -1;
  out->network_cost = -1;
  const char *s = (const char *)buf;
  /* Trailing CR/LF/spaces, as lines come out of SDP or signaling. */
  while (len > 0 && (s[len - 1] == '\r' || s[len - 1] == '\n' || s[len - 1] == ' ')) len--;
  if (len >= 2 && memcmp(s, "a=", 2) == 0) {
    s += 2;
    len -= 2;
  }
  static const char prefix[] = "candidate:";
  if (len >= sizeof prefix - 1 && memcmp(s, prefix, sizeof prefix - 1) == 0) {
    s += sizeof prefix - 1;
    len -= sizeof prefix - 1;
  }
  if (len == 0 || len > 4096) return MC_EPARSE;

  struct tok toks[MAX_TOKENS];
  size_t nt = 0;
  for (size_t i = 0; i < len;) {
    if (s[i] == ' ') {
      i++;
      continue;
    }
    if (s[i] == '\t' || s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return MC_EPARSE;
    size_t j = i;
    while (j < len && s[j] != ' ') j++;
    if (nt == MAX_TOKENS) return MC_EPARSE;
    toks[nt++] = (struct tok){s + i, j - i};
    i = j;
  }
  if (nt < 8) return MC_EPARSE;

  /* RFC 8839 5.1: foundation = 1*32ice-char */
  struct tok f = toks[0];
  if (f.n == 0 || f.n > MC_ICE_FOUNDATION_MAX) return MC_EPARSE;
  for (size_t i = 0; i < f.n; i++)
    if (!is_ice_char(f.p[i])) return MC_EPARSE;
  memcpy(out->foundation, f.p, f.n);

  uint64_t v;
  /* component-id = 1*3DIGIT, 1..256 */
  if (tok_uint(toks[1], 3, 256, &v) != 0 || v == 0) return MC_EPARSE;
  out->component = (uint32_t)v;

  if (tok_eq_nocase(toks[2], "udp")) out->transport = MC_ICE_TRANSPORT_UDP;
  else if (tok_eq_nocase(toks[2], "tcp")) out->transport = MC_ICE_TRANSPORT_TCP;
  else return MC_EPARSE;

  /* priority = 1*10DIGIT, 1..2^31-1 per RFC 8445 5.1.2.1 (0 never occurs) */
  if (tok_uint(toks[3], 10, 0xFFFFFFFFu, &v) != 0 || v == 0) return MC_EPARSE;
  out->priority = (uint32_t)v;

  uint64_t port;
  if (tok_uint(toks[5], 5, 65535, &port) != 0) return MC_EPARSE;
  out->port = (uint16_t)port;
  if (parse_address(toks[4], out->port, out->host, &out->is_mdns, &out->addr) != 0) return MC_EPARSE;

  if (!tok_eq(toks[6], "typ")) return MC_EPARSE;
  if (mc_ice_cand_type_from_name(toks[7].p, toks[7].n, &out->type) != 0) return MC_EPARSE;

  size_t i = 8;
  if (i < nt && tok_eq(toks[i], "raddr")) {
    if (i + 3 >= nt) return MC_EPARSE;
    if (!tok_eq(toks[i + 2], "rport")) return MC_EPARSE;
    if (tok_uint(toks[i + 3], 5, 65535, &port) != 0) return MC_EPARSE;
    bool rel_mdns;
    if (parse_address(toks[i + 1], (uint16_t)port, out->related_host, &rel_mdns, NULL) != 0) return MC_EPARSE;
    out->related_port = (uint16_t)port;
    out->has_related = true;
    i += 4;
  }
  /* RFC 8839 5.1: *(SP extension-att-name SP extension-att-value) */
  if ((nt - i) % 2 != 0) return MC_EPARSE;
  for (; i + 1 < nt; i += 2) {
    struct tok name = toks[i], val = toks[i + 1];
    if (tok_eq(name, "raddr") || tok_eq(name, "rport") || tok_eq(name, "typ")) return MC_EPARSE;
    if (tok_eq(name, "generation")) {
      if (tok_uint(val, 10, 0x7FFFFFFF, &v) != 0) return MC_EPARSE;
      out->generation = (long)v;
    } else if (tok_eq(name, "network-id")) {
      if (tok_uint(val, 10, 0x7FFFFFFF, &v) != 0) return MC_EPARSE;
      out->network_id = (long)v;
    } else if (tok_eq(name, "network-cost")) {
      if (tok_uint(val, 10, 0x7FFFFFFF, &v) != 0) return MC_EPARSE;
      out->network_cost = (long)v;
    } else if (tok_eq(name, "tcptype")) {
      /* RFC 6544 4.5: tcp-type = "active" / "passive" / "so". */
      if (tok_eq(val, "active")) out->tcptype = MC_ICE_TCPTYPE_ACTIVE;
      else if (tok_eq(val, "passive")) out->tcptype = MC_ICE_TCPTYPE_PASSIVE;
      else if (tok_eq(val, "so")) out->tcptype = MC_ICE_TCPTYPE_SO;
      else out->tcptype = MC_ICE_TCPTYPE_NONE; /* a later kind: never paired, line kept */
    } else if (tok_eq(name, "ufrag")) {
      if (val.n == 0 || val.n > MC_ICE_UFRAG_MAX) return MC_EPARSE;
      for (size_t k = 0; k < val.n; k++)
        if (!is_ice_char(val.p[k])) return MC_EPARSE;
      memcpy(out->ufrag, val.p, val.n);
      out->ufrag[val.n] = '\0';
    }
    /* Anything else (Firefox's and Chrome's future additions):
     * RFC 8839 5.1 says ignore what we do not understand. */
  }
  /* tcptype means nothing on a UDP candidate. */
  if (out->transport != MC_ICE_TRANSPORT_TCP) out->tcptype = MC_ICE_TCPTYPE_NONE;
  return 0;
}

int mc_ice_candidate_format(const mc_ice_candidate *c, char *buf, size_t cap) {
  if (!c || !buf || cap == 0) return MC_EINVAL;
  char ipbuf[MC_ADDR_STRLEN];
  const char *host = c->host;
  if (host[0] == '\0') {
    if (mc_addr_family(&c->addr) == AF_UNSPEC) return MC_EINVAL;
    host = mc_addr_ip_str(&c->addr, ipbuf);
  }
  uint16_t port = c->port ? c->port : mc_addr_port(&c->addr);
  int n = snprintf(buf, cap, "candidate:%s %u %s %u %s %u typ %s", c->foundation, (unsigned)c->component,
                   c->transport == MC_ICE_TRANSPORT_TCP ? "tcp" : "udp", (unsigned)c->priority, host,
                   (unsigned)port, mc_ice_cand_type_name(c->type));
  if (n < 0 || (size_t)n >= cap) return MC_ETOOBIG;
  size_t off = (size_t)n;
#define APPEND(...)                                              \
  do {                                                           \
    int m_ = snprintf(buf + off, cap - off, __VA_ARGS__);        \
    if (m_ < 0 || (size_t)m_ >= cap - off) return MC_ETOOBIG;    \
    off += (size_t)m_;                                           \
  } while (0)
  if (c->has_related) APPEND(" raddr %s rport %u", c->related_host, (unsigned)c->related_port);
  if (c->transport == MC_ICE_TRANSPORT_TCP && c->tcptype != MC_ICE_TCPTYPE_NONE)
    APPEND(" tcptype %s", mc_ice_tcptype_name(c->tcptype));
  if (c->generation >= 0) APPEND(" generation %ld", c->generation);
  if (c->ufrag[0]) APPEND(" ufrag %s", c->ufrag);
  if (c->network_id >= 0) APPEND(" network-id %ld", c->network_id);
  if (c->network_cost >= 0) APPEND(" network-cost %ld", c->network_cost);
#undef APPEND
  return 0;
}
