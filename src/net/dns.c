/* The slice of the DNS message format that mDNS host-name lookups need
 * (RFC 1035 4, RFC 6762 18). */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"

#define DNS_HEADER_LEN 12
#define DNS_FLAG_QR 0x8000
#define DNS_OPCODE_MASK 0x7800
#define DNS_RCODE_MASK 0x000f
#define DNS_CLASS_IN 1
/* RFC 6762 5.4 (QU bit in questions) and 10.2 (cache-flush bit in records). */
#define MDNS_TOP_BIT 0x8000
#define MDNS_MAX_HOPS 64
/* RFC 6762 10: host address records carry 120 s; 6.7: legacy answers <= 10 s. */
#define MDNS_TTL_HOST 120
#define MDNS_TTL_LEGACY 10

/* RFC 1035 4.1.4: a label is 0-63 bytes; 0xC0 marks a 14-bit offset pointer.
 * Requiring each pointer to land strictly before the label it replaces makes
 * every walk finite; the hop limit is a second guard. */
int mc_dns_read_name(const uint8_t *buf, size_t len, size_t *off, char *out, size_t cap) {
  if (!buf || !off || !out || cap == 0) return MC_EINVAL;
  size_t pos = *off, end_after = 0, n = 0;
  bool jumped = false;
  int hops = 0;
  size_t wire = 0; /* RFC 1035 2.3.4: 255 octets at most */
  for (;;) {
    if (pos >= len) return MC_EPARSE;
    uint8_t l = buf[pos];
    if ((l & 0xC0) == 0xC0) {
      if (pos + 1 >= len) return MC_EPARSE;
      size_t target = ((size_t)(l & 0x3F) << 8) | buf[pos + 1];
      if (target >= pos || ++hops > MDNS_MAX_HOPS) return MC_EPARSE;
      if (!jumped) end_after = pos + 2;
      jumped = true;
      pos = target;
      continue;
    }
    if (l & 0xC0) return MC_EPARSE; /* 0x40 and 0x80 are reserved (RFC 6891 obsoleted extended labels) */
    if (l == 0) {
      if (!jumped) end_after = pos + 1;
      break;
    }
    wire += 1u + l;
    if (wire + 1 > 255 || pos + 1 + l > len) return MC_EPARSE;
    if (n + (n ? 1 : 0) + l + 1 > cap) return MC_ETOOBIG;
    if (n) out[n++] = '.';
    for (size_t i = 0; i < l; i++) {
      uint8_t c = buf[pos + 1 + i];
      /* A dot or NUL inside a label would make the text form ambiguous. */
      if (c == '.' || c == 0) return MC_EPARSE;
      out[n++] = (char)c;
    }
    pos += 1u + l;
  }
  out[n] = '\0';
  *off = end_after;
  return 0;
}

static int write_name(const char *name, uint8_t *buf, size_t cap, size_t *pos) {
  size_t nlen = strlen(name);
  if (nlen > 0 && name[nlen - 1] == '.') nlen--;
  if (nlen == 0 || nlen > MC_DNS_NAME_MAX - 1) return MC_EINVAL;
  size_t p = *pos, start = 0;
  while (start <= nlen) {
    const char *dot = memchr(name + start, '.', nlen - start);
    size_t l = (dot ? (size_t)(dot - name) : nlen) - start;
    if (l == 0 || l > 63) return MC_EINVAL;
    if (p + 1 + l > cap) return MC_ETOOBIG;
    buf[p++] = (uint8_t)l;
    memcpy(buf + p, name + start, l);
    p += l;
    start += l + 1;
  }
  if (p + 1 > cap) return MC_ETOOBIG;
  buf[p++] = 0;
  *pos = p;
  return 0;
}

static void put_header(uint8_t *buf, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an) {
  mc_put_be16(buf, id);
  mc_put_be16(buf + 2, flags);
  mc_put_be16(buf + 4, qd);
  mc_put_be16(buf + 6, an);
  mc_put_be16(buf + 8, 0);
  mc_put_be16(buf + 10, 0);
}

/* RFC 6762 5.4 and 18: a one-shot query asking for unicast answers. */
int mc_mdns_build_query(uint16_t id, const char *name, uint8_t *buf, size_t cap, size_t *len) {
  if (!name || !buf || !len) return MC_EINVAL;
  if (cap < DNS_HEADER_LEN) return MC_ETOOBIG;
  put_header(buf, id, 0, 2, 0);
  size_t p = DNS_HEADER_LEN;
  int rc = write_name(name, buf, cap, &p);
  if (rc != 0) return rc;
  /* The second question points back at the first name (RFC 1035 4.1.4). */
  if (p + 4 + 2 + 4 > cap) return MC_ETOOBIG;
  mc_put_be16(buf + p, MC_DNS_TYPE_A);
  mc_put_be16(buf + p + 2, MDNS_TOP_BIT | DNS_CLASS_IN);
  p += 4;
  mc_put_be16(buf + p, 0xC000 | DNS_HEADER_LEN);
  mc_put_be16(buf + p + 2, MC_DNS_TYPE_AAAA);
  mc_put_be16(buf + p + 4, MDNS_TOP_BIT | DNS_CLASS_IN);
  p += 6;
  *len = p;
  return 0;
}

/* RFC 6762 6 (responses), 6.7 (legacy unicast), 10.2 (cache-flush), 18.4 (AA). */
int mc_mdns_build_response(uint16_t id, const char *name, const mc_addr *addrs, size_t n, bool legacy,
                           uint16_t qtype, uint8_t *buf, size_t cap, size_t *len) {
  if (!name || (!addrs && n) || !buf || !len || n > 64) return MC_EINVAL;
  if (cap < DNS_HEADER_LEN) return MC_ETOOBIG;
  put_header(buf, legacy ? id : 0, DNS_FLAG_QR | 0x0400 /* AA */, legacy ? 1 : 0, (uint16_t)n);
  size_t p = DNS_HEADER_LEN;
  int rc = write_name(name, buf, cap, &p);
  if (rc != 0) return rc;
  bool name_pending = true; /* the first answer reuses the name written above */
  if (legacy) {
    if (p + 4 > cap) return MC_ETOOBIG;
    mc_put_be16(buf + p, qtype);
    mc_put_be16(buf + p + 2, DNS_CLASS_IN);
    p += 4;
    name_pending = false;
  }
  for (size_t i = 0; i < n; i++) {
    int fam = mc_addr_family(&addrs[i]);
    size_t rdlen = fam == AF_INET ? 4 : fam == AF_INET6 ? 16 : 0;
    if (!rdlen) return MC_EINVAL;
    if (!name_pending) {
      if (p + 2 > cap) return MC_ETOOBIG;
      mc_put_be16(buf + p, 0xC000 | DNS_HEADER_LEN);
      p += 2;
    }
    name_pending = false;
    if (p + 10 + rdlen > cap) return MC_ETOOBIG;
    mc_put_be16(buf + p, fam == AF_INET ? MC_DNS_TYPE_A : MC_DNS_TYPE_AAAA);
    mc_put_be16(buf + p + 2, legacy ? DNS_CLASS_IN : MDNS_TOP_BIT | DNS_CLASS_IN);
    mc_put_be32(buf + p + 4, legacy ? MDNS_TTL_LEGACY : MDNS_TTL_HOST);
    mc_put_be16(buf + p + 8, (uint16_t)rdlen);
    if (fam == AF_INET) memcpy(buf + p + 10, &addrs[i].u.in4.sin_addr, 4);
    else memcpy(buf + p + 10, &addrs[i].u.in6.sin6_addr, 16);
    p += 10 + rdlen;
  }
  if (name_pending) {
    /* No answers and no question: the name written was not needed. */
    p = DNS_HEADER_LEN;
  }
  *len = p;
  return 0;
}

static int skip_question(const uint8_t *buf, size_t len, size_t *off, char *name, size_t cap, uint16_t *type,
                         uint16_t *klass) {
  int rc = mc_dns_read_name(buf, len, off, name, cap);
  if (rc != 0) return rc == MC_ETOOBIG ? MC_EPARSE : rc;
  if (*off + 4 > len) return MC_EPARSE;
  *type = mc_get_be16(buf + *off);
  *klass = mc_get_be16(buf + *off + 2);
  *off += 4;
  return 0;
}

/* RFC 6762 18.3 and 18.11: messages with a non-zero opcode or rcode are ignored. */
static int check_header(const uint8_t *buf, size_t len, bool want_response) {
  if (len < DNS_HEADER_LEN) return MC_EPARSE;
  uint16_t flags = mc_get_be16(buf + 2);
  if (((flags & DNS_FLAG_QR) != 0) != want_response) return MC_EPARSE;
  if (flags & (DNS_OPCODE_MASK | DNS_RCODE_MASK)) return MC_EPARSE;
  return 0;
}

int mc_mdns_parse_response(const uint8_t *buf, size_t len, const char *name, mc_addr *out, size_t max,
                           size_t *count) {
  if (!buf || !name || !count || (!out && max)) return MC_EINVAL;
  *count = 0;
  int rc = check_header(buf, len, true);
  if (rc != 0) return rc;
  unsigned qd = mc_get_be16(buf + 4);
  unsigned records = (unsigned)mc_get_be16(buf + 6) + mc_get_be16(buf + 8) + mc_get_be16(buf + 10);
  size_t off = DNS_HEADER_LEN;
  char rname[MC_DNS_NAME_MAX];
  for (unsigned i = 0; i < qd; i++) {
    uint16_t t, k;
    rc = skip_question(buf, len, &off, rname, sizeof rname, &t, &k);
    if (rc != 0) return rc;
  }
  size_t n = 0;
  for (unsigned i = 0; i < records; i++) {
    rc = mc_dns_read_name(buf, len, &off, rname, sizeof rname);
    if (rc != 0) return MC_EPARSE;
    if (off + 10 > len) return MC_EPARSE;
    uint16_t type = mc_get_be16(buf + off);
    uint16_t klass = mc_get_be16(buf + off + 2) & ~MDNS_TOP_BIT;
    size_t rdlen = mc_get_be16(buf + off + 8);
    off += 10;
    if (off + rdlen > len) return MC_EPARSE;
    const uint8_t *rd = buf + off;
    off += rdlen;
    if (klass != DNS_CLASS_IN || strcasecmp(rname, name) != 0) continue;
    mc_addr a;
    memset(&a, 0, sizeof a);
    if (type == MC_DNS_TYPE_A && rdlen == 4) {
      a.u.in4.sin_family = AF_INET;
      memcpy(&a.u.in4.sin_addr, rd, 4);
    } else if (type == MC_DNS_TYPE_AAAA && rdlen == 16) {
      a.u.in6.sin6_family = AF_INET6;
      memcpy(&a.u.in6.sin6_addr, rd, 16);
    } else {
      continue;
    }
    bool dup = false;
    for (size_t j = 0; j < n; j++) dup = dup || mc_addr_ip_equal(&out[j], &a);
    if (!dup && n < max) out[n++] = a;
  }
  *count = n;
  return n ? 0 : MC_ENOTFOUND;
}

int mc_mdns_parse_query(const uint8_t *buf, size_t len, uint16_t *id, struct mc_mdns_question *qs, size_t max,
                        size_t *count) {
  if (!buf || !count || (!qs && max)) return MC_EINVAL;
  *count = 0;
  int rc = check_header(buf, len, false);
  if (rc != 0) return rc;
  if (id) *id = mc_get_be16(buf);
  unsigned qd = mc_get_be16(buf + 4);
  size_t off = DNS_HEADER_LEN, n = 0;
  for (unsigned i = 0; i < qd; i++) {
    struct mc_mdns_question q;
    uint16_t klass;
    rc = skip_question(buf, len, &off, q.name, sizeof q.name, &q.type, &klass);
    if (rc != 0) return rc;
    q.unicast = (klass & MDNS_TOP_BIT) != 0;
    klass &= ~MDNS_TOP_BIT;
    if (klass != DNS_CLASS_IN && klass != 255 /* ANY */) continue;
    if (n < max) qs[n++] = q;
  }
  *count = n;
  return 0;
}
