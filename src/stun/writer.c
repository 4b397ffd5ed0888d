/* STUN message building (RFC 8489 5, 14). The writer keeps the header length
 * field current after every attribute, so integrity and fingerprint can be
 * computed over the buffer as it stands. Errors are sticky: the first one is
 * kept and every later call does nothing; mc_stun_finish reports it. */
#include <arpa/inet.h>
#include <string.h>

#include "stun/stun_private.h"

/* Which trailer attributes have been written, read back from the buffer so
 * the writer struct stays as declared: RFC 8489 14.5-14.7 ordering. */
static bool has_trailer(const mc_stun_writer *w, uint16_t type) {
  size_t off = MC_STUN_HEADER_LEN;
  while (off + 4 <= w->len) {
    uint16_t t = mc_get_be16(w->buf + off);
    size_t vlen = mc_get_be16(w->buf + off + 2);
    if (t == type) return true;
    off += 4 + ((vlen + 3) & ~(size_t)3);
  }
  return false;
}

static void set_err(mc_stun_writer *w, int err) {
  if (!w->err) w->err = err;
}

/* Reserves room for one attribute and writes its header and padding;
 * returns where the value goes, or NULL (error recorded). */
static uint8_t *reserve(mc_stun_writer *w, uint16_t type, size_t len) {
  if (w->err) return NULL;
  if (len > 0xFFFF) {
    set_err(w, MC_EINVAL);
    return NULL;
  }
  size_t padded = (len + 3) & ~(size_t)3;
  if (w->len > w->cap || w->cap - w->len < 4 + padded) {
    set_err(w, MC_ETOOBIG);
    return NULL;
  }
  if (w->len - MC_STUN_HEADER_LEN + 4 + padded > 0xFFFF) {
    set_err(w, MC_ETOOBIG);
    return NULL;
  }
  uint8_t *p = w->buf + w->len;
  mc_put_be16(p, type);
  mc_put_be16(p + 2, (uint16_t)len);
  /* RFC 8489 14: padding bytes are zero when sent. */
  memset(p + 4 + len, 0, padded - len);
  w->len += 4 + padded;
  mc_put_be16(w->buf + 2, (uint16_t)(w->len - MC_STUN_HEADER_LEN));
  return p + 4;
}

/* Ordinary attributes may not follow the integrity or fingerprint trailer:
 * a receiver would ignore them (RFC 8489 14.5) or reject the message (14.7). */
static bool ordinary_allowed(mc_stun_writer *w) {
  if (w->err) return false;
  if (has_trailer(w, MC_STUN_ATTR_MESSAGE_INTEGRITY) || has_trailer(w, MC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) ||
      has_trailer(w, MC_STUN_ATTR_FINGERPRINT)) {
    set_err(w, MC_ESTATE);
    return false;
  }
  return true;
}

void mc_stun_begin(mc_stun_writer *w, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls,
                   const uint8_t *txid) {
  if (!w) return;
  w->buf = buf;
  w->cap = cap;
  w->len = 0;
  w->err = 0;
  if (!buf || method > 0x0FFF || cls > 3) {
    w->err = MC_EINVAL;
    return;
  }
  if (cap < MC_STUN_HEADER_LEN) {
    w->err = MC_ETOOBIG;
    return;
  }
  mc_put_be16(buf, mc_stun_type_encode(method, cls));
  mc_put_be16(buf + 2, 0);
  mc_put_be32(buf + 4, MC_STUN_MAGIC_COOKIE);
  if (txid) {
    memcpy(buf + 8, txid, MC_STUN_TXID_LEN);
  } else {
    /* RFC 8489 6: the transaction id is uniformly and randomly chosen. */
    int err = mc_random_bytes(buf + 8, MC_STUN_TXID_LEN);
    if (err < 0) {
      w->err = err;
      return;
    }
  }
  w->len = MC_STUN_HEADER_LEN;
}

void mc_stun_put_attr(mc_stun_writer *w, uint16_t type, const void *value, size_t len) {
  if (!w || !ordinary_allowed(w)) return;
  if (len && !value) {
    set_err(w, MC_EINVAL);
    return;
  }
  uint8_t *p = reserve(w, type, len);
  if (p && len) memcpy(p, value, len);
}

void mc_stun_put_u32(mc_stun_writer *w, uint16_t type, uint32_t v) {
  uint8_t b[4];
  mc_put_be32(b, v);
  mc_stun_put_attr(w, type, b, sizeof b);
}

void mc_stun_put_u64(mc_stun_writer *w, uint16_t type, uint64_t v) {
  uint8_t b[8];
  mc_put_be64(b, v);
  mc_stun_put_attr(w, type, b, sizeof b);
}

void mc_stun_put_string(mc_stun_writer *w, uint16_t type, const char *s) {
  if (!w || w->err) return;
  if (!s) {
    set_err(w, MC_EINVAL);
    return;
  }
  size_t n = strlen(s);
  /* RFC 8489 14.3 / 14.9 / 14.10 / 14.14: never send what the parser
   * (ours or a peer's) must refuse. */
  size_t max = type == MC_STUN_ATTR_USERNAME ? MC_STUN_MAX_USERNAME : MC_STUN_MAX_TEXT_BYTES;
  if (n > max) {
    set_err(w, MC_EINVAL);
    return;
  }
  mc_stun_put_attr(w, type, s, n);
}

void mc_stun_put_flag(mc_stun_writer *w, uint16_t type) { mc_stun_put_attr(w, type, NULL, 0); }

/* RFC 8489 14.1 and 14.2: family, port, address; the XOR form XORs the port
 * with the cookie's top 16 bits and the address with cookie || txid. */
static void put_address(mc_stun_writer *w, uint16_t type, const mc_addr *a, bool xored) {
  if (!w || w->err) return;
  if (!a) {
    set_err(w, MC_EINVAL);
    return;
  }
  uint8_t v[20];
  size_t vlen;
  uint16_t port;
  const uint8_t *ip;
  if (a->u.sa.sa_family == AF_INET) {
    v[1] = 0x01;
    vlen = 8;
    port = ntohs(a->u.in4.sin_port);
    ip = (const uint8_t *)&a->u.in4.sin_addr;
  } else if (a->u.sa.sa_family == AF_INET6) {
    v[1] = 0x02;
    vlen = 20;
    port = ntohs(a->u.in6.sin6_port);
    ip = (const uint8_t *)&a->u.in6.sin6_addr;
  } else {
    set_err(w, MC_EINVAL);
    return;
  }
  v[0] = 0;
  if (xored) port ^= (uint16_t)(MC_STUN_MAGIC_COOKIE >> 16);
  mc_put_be16(v + 2, port);
  for (size_t i = 0; i < vlen - 4; i++) v[4 + i] = (uint8_t)(ip[i] ^ (xored ? w->buf[4 + i] : 0));
  mc_stun_put_attr(w, type, v, vlen);
}

void mc_stun_put_xor_addr(mc_stun_writer *w, uint16_t type, const mc_addr *a) { put_address(w, type, a, true); }

void mc_stun_put_addr(mc_stun_writer *w, uint16_t type, const mc_addr *a) { put_address(w, type, a, false); }

/* RFC 8489 14.8 */
void mc_stun_put_error(mc_stun_writer *w, uint16_t code, const char *reason) {
  if (!w || w->err) return;
  if (code < 300 || code > 699) {
    set_err(w, MC_EINVAL);
    return;
  }
  if (!reason) reason = "";
  size_t n = strlen(reason);
  if (n > MC_STUN_MAX_TEXT_BYTES) {
    set_err(w, MC_EINVAL);
    return;
  }
  uint8_t v[4 + MC_STUN_MAX_TEXT_BYTES];
  v[0] = 0;
  v[1] = 0;
  v[2] = (uint8_t)(code / 100);
  v[3] = (uint8_t)(code % 100);
  memcpy(v + 4, reason, n);
  mc_stun_put_attr(w, MC_STUN_ATTR_ERROR_CODE, v, 4 + n);
}

/* RFC 8489 14.13 */
void mc_stun_put_unknown(mc_stun_writer *w, const uint16_t *types, size_t count) {
  if (!w || w->err) return;
  if ((count && !types) || count > 0x7FFF) {
    set_err(w, MC_EINVAL);
    return;
  }
  if (!ordinary_allowed(w)) return;
  uint8_t *p = reserve(w, MC_STUN_ATTR_UNKNOWN_ATTRIBUTES, count * 2);
  if (!p) return;
  for (size_t i = 0; i < count; i++) mc_put_be16(p + 2 * i, types[i]);
}

/* RFC 8656 18.6 */
void mc_stun_put_requested_transport(mc_stun_writer *w, uint8_t protocol) {
  uint8_t v[4] = {protocol, 0, 0, 0};
  mc_stun_put_attr(w, MC_STUN_ATTR_REQUESTED_TRANSPORT, v, sizeof v);
}

/* RFC 8656 18.1 */
void mc_stun_put_channel_number(mc_stun_writer *w, uint16_t channel) {
  uint8_t v[4] = {0, 0, 0, 0};
  mc_put_be16(v, channel);
  mc_stun_put_attr(w, MC_STUN_ATTR_CHANNEL_NUMBER, v, sizeof v);
}

/* RFC 8489 14.5 / 14.6: the length field must cover the integrity attribute
 * while the HMAC is computed; reserve() sets it that way before we hash. */
static void put_mac(mc_stun_writer *w, uint16_t type, const char *md, size_t mac_len, const uint8_t *key,
                    size_t key_len) {
  if (!w || w->err) return;
  if (!key && key_len) {
    set_err(w, MC_EINVAL);
    return;
  }
  if (has_trailer(w, MC_STUN_ATTR_FINGERPRINT) || has_trailer(w, type) ||
      has_trailer(w, MC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256)) {
    set_err(w, MC_ESTATE);
    return;
  }
  size_t start = w->len;
  uint8_t *p = reserve(w, type, mac_len);
  if (!p) return;
  uint8_t mac[32];
  int err = mc_stun_hmac(md, key, key_len, w->buf, mc_get_be16(w->buf + 2), w->buf + MC_STUN_HEADER_LEN,
                         start - MC_STUN_HEADER_LEN, mac);
  if (err < 0) {
    set_err(w, err);
    return;
  }
  memcpy(p, mac, mac_len);
}

void mc_stun_put_integrity(mc_stun_writer *w, const uint8_t *key, size_t key_len) {
  put_mac(w, MC_STUN_ATTR_MESSAGE_INTEGRITY, "SHA1", 20, key, key_len);
}

void mc_stun_put_integrity_sha256(mc_stun_writer *w, const uint8_t *key, size_t key_len) {
  put_mac(w, MC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256, "SHA256", 32, key, key_len);
}

/* RFC 8489 14.7: CRC-32 over the message before FINGERPRINT, the length
 * field already including it. */
void mc_stun_put_fingerprint(mc_stun_writer *w) {
  if (!w || w->err) return;
  if (has_trailer(w, MC_STUN_ATTR_FINGERPRINT)) {
    set_err(w, MC_ESTATE);
    return;
  }
  size_t start = w->len;
  uint8_t *p = reserve(w, MC_STUN_ATTR_FINGERPRINT, 4);
  if (!p) return;
  mc_put_be32(p, mc_stun_fingerprint_value(w->buf, start));
}

int mc_stun_finish(mc_stun_writer *w) {
  if (!w) return MC_EINVAL;
  if (w->err) return w->err;
  return (int)w->len;
}
