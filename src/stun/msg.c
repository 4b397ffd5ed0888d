/* STUN message parsing (RFC 8489 5, 14). Every length is checked against the
 * bytes really present; nothing here trusts a length field. */
#include <arpa/inet.h>
#include <string.h>

#include "stun/stun_private.h"

/* RFC 7983 7: a first byte 0..3 is STUN (20..63 is DTLS, so the looser
 * "top two bits zero" of RFC 8489 5 would steal DTLS records); RFC 8489 5:
 * cookie and a length that is a multiple of 4. */
bool mc_stun_is_message(const uint8_t *buf, size_t len) {
  if (!buf || len < MC_STUN_HEADER_LEN) return false;
  if (buf[0] > 3) return false;
  if (mc_get_be32(buf + 4) != MC_STUN_MAGIC_COOKIE) return false;
  size_t body = mc_get_be16(buf + 2);
  if (body % 4) return false;
  return MC_STUN_HEADER_LEN + body <= len;
}

/* RFC 8489 14.1 MAPPED-ADDRESS / 14.2 XOR-MAPPED-ADDRESS: family 0x01 is 4
 * address bytes, 0x02 is 16; anything else or any other length is malformed.
 * The XOR key is the cookie followed by the transaction id (header bytes 4..19). */
static int parse_addr(const uint8_t *v, size_t vlen, const uint8_t *header, bool xored, mc_addr *out) {
  if (vlen < 4) return MC_EPARSE;
  uint8_t family = v[1];
  uint16_t port = mc_get_be16(v + 2);
  if (xored) port ^= (uint16_t)(MC_STUN_MAGIC_COOKIE >> 16);
  memset(out, 0, sizeof *out);
  if (family == 0x01) {
    if (vlen != 8) return MC_EPARSE;
    uint8_t ip[4];
    for (size_t i = 0; i < 4; i++) ip[i] = (uint8_t)(v[4 + i] ^ (xored ? header[4 + i] : 0));
    out->u.in4.sin_family = AF_INET;
    out->u.in4.sin_port = htons(port);
    memcpy(&out->u.in4.sin_addr, ip, 4);
    return MC_OK;
  }
  if (family == 0x02) {
    if (vlen != 20) return MC_EPARSE;
    uint8_t ip[16];
    for (size_t i = 0; i < 16; i++) ip[i] = (uint8_t)(v[4 + i] ^ (xored ? header[4 + i] : 0));
    out->u.in6.sin6_family = AF_INET6;
    out->u.in6.sin6_port = htons(port);
    memcpy(&out->u.in6.sin6_addr, ip, 16);
    return MC_OK;
  }
  return MC_EPARSE;
}

/* Copies a text attribute: byte and character (UTF-8 code point) limits per
 * RFC 8489 14; an embedded NUL is refused so the C string equals the bytes. */
static int parse_text(const uint8_t *v, size_t vlen, size_t max_bytes, size_t max_chars, char *out) {
  if (vlen > max_bytes || vlen > MC_STUN_MAX_STRING) return MC_EPARSE;
  size_t chars = 0;
  for (size_t i = 0; i < vlen; i++) {
    if (v[i] == 0) return MC_EPARSE;
    if ((v[i] & 0xC0) != 0x80) chars++;
  }
  if (chars > max_chars) return MC_EPARSE;
  memcpy(out, v, vlen);
  out[vlen] = '\0';
  return MC_OK;
}

static void note_unknown_required(mc_stun_msg *m, uint16_t type) {
  for (size_t i = 0; i < m->unknown_required_count; i++)
    if (m->unknown_required[i] == type) return;
  if (m->unknown_required_count < MC_STUN_MAX_UNKNOWN) m->unknown_required[m->unknown_required_count++] = type;
}

/* Decodes one attribute; first occurrence wins (RFC 8489 14: "only the first
 * occurrence needs to be processed"). */
static int parse_attr(mc_stun_msg *m, const uint8_t *buf, uint16_t type, const uint8_t *v, size_t vlen) {
  int err = MC_OK;
  switch (type) {
  case MC_STUN_ATTR_MAPPED_ADDRESS:
    if (m->has_mapped) break;
    if ((err = parse_addr(v, vlen, buf, false, &m->mapped)) < 0) return err;
    m->has_mapped = true;
    break;
  case MC_STUN_ATTR_ALTERNATE_SERVER:
    if (m->has_alternate) break;
    if ((err = parse_addr(v, vlen, buf, false, &m->alternate)) < 0) return err;
    m->has_alternate = true;
    break;
  case MC_STUN_ATTR_XOR_MAPPED_ADDRESS:
    if (m->has_xor_mapped) break;
    if ((err = parse_addr(v, vlen, buf, true, &m->xor_mapped)) < 0) return err;
    m->has_xor_mapped = true;
    break;
  case MC_STUN_ATTR_XOR_PEER_ADDRESS:
    if (m->has_xor_peer) break;
    if ((err = parse_addr(v, vlen, buf, true, &m->xor_peer)) < 0) return err;
    m->has_xor_peer = true;
    break;
  case MC_STUN_ATTR_XOR_RELAYED_ADDRESS:
    if (m->has_xor_relayed) break;
    if ((err = parse_addr(v, vlen, buf, true, &m->xor_relayed)) < 0) return err;
    m->has_xor_relayed = true;
    break;
  case MC_STUN_ATTR_USERNAME:
    if (m->has_username) break;
    if ((err = parse_text(v, vlen, MC_STUN_MAX_USERNAME, SIZE_MAX, m->username)) < 0) return err;
    m->has_username = true;
    break;
  case MC_STUN_ATTR_REALM:
    if (m->has_realm) break;
    if ((err = parse_text(v, vlen, MC_STUN_MAX_TEXT_BYTES, MC_STUN_MAX_TEXT_CHARS, m->realm)) < 0) return err;
    m->has_realm = true;
    break;
  case MC_STUN_ATTR_NONCE:
    if (m->has_nonce) break;
    if ((err = parse_text(v, vlen, MC_STUN_MAX_TEXT_BYTES, MC_STUN_MAX_TEXT_CHARS, m->nonce)) < 0) return err;
    m->has_nonce = true;
    break;
  case MC_STUN_ATTR_SOFTWARE:
    if (m->has_software) break;
    if ((err = parse_text(v, vlen, MC_STUN_MAX_TEXT_BYTES, MC_STUN_MAX_TEXT_CHARS, m->software)) < 0) return err;
    m->has_software = true;
    break;
  case MC_STUN_ATTR_ERROR_CODE: {
    /* RFC 8489 14.8: 21 reserved bits, class (3 bits, 3..6), number (0..99),
     * then a reason phrase. */
    if (m->has_error) break;
    if (vlen < 4) return MC_EPARSE;
    unsigned cls = v[2] & 0x07, number = v[3];
    if (number > 99) return MC_EPARSE;
    unsigned code = cls * 100 + number;
    if (code < 300 || code > 699) return MC_EPARSE;
    if ((err = parse_text(v + 4, vlen - 4, MC_STUN_MAX_TEXT_BYTES, MC_STUN_MAX_TEXT_CHARS, m->error_reason)) < 0)
      return err;
    m->error_code = (uint16_t)code;
    m->has_error = true;
    break;
  }
  case MC_STUN_ATTR_UNKNOWN_ATTRIBUTES:
    /* RFC 8489 14.13: a list of 16-bit types; we keep the first few. */
    if (m->unknown_count) break;
    if (vlen % 2) return MC_EPARSE;
    for (size_t i = 0; i + 2 <= vlen && m->unknown_count < MC_STUN_MAX_UNKNOWN; i += 2)
      m->unknown[m->unknown_count++] = mc_get_be16(v + i);
    break;
  case MC_STUN_ATTR_PRIORITY: /* RFC 8445 16.1 */
    if (m->has_priority) break;
    if (vlen != 4) return MC_EPARSE;
    m->priority = mc_get_be32(v);
    m->has_priority = true;
    break;
  case MC_STUN_ATTR_USE_CANDIDATE:
    if (vlen != 0) return MC_EPARSE;
    m->has_use_candidate = true;
    break;
  case MC_STUN_ATTR_ICE_CONTROLLING:
  case MC_STUN_ATTR_ICE_CONTROLLED:
    /* One tie-breaker field for both: a request carrying both roles is
     * answered by the ICE agent (RFC 8445 7.3.1.1); the first one wins. */
    if (vlen != 8) return MC_EPARSE;
    if (!m->has_ice_controlling && !m->has_ice_controlled) m->ice_tiebreaker = mc_get_be64(v);
    if (type == MC_STUN_ATTR_ICE_CONTROLLING) m->has_ice_controlling = true;
    else m->has_ice_controlled = true;
    break;
  case MC_STUN_ATTR_LIFETIME: /* RFC 8656 18.4 */
    if (m->has_lifetime) break;
    if (vlen != 4) return MC_EPARSE;
    m->lifetime = mc_get_be32(v);
    m->has_lifetime = true;
    break;
  case MC_STUN_ATTR_CHANNEL_NUMBER: /* RFC 8656 18.1: number then 16 RFFU bits */
    if (m->has_channel_number) break;
    if (vlen != 4) return MC_EPARSE;
    m->channel_number = mc_get_be16(v);
    m->has_channel_number = true;
    break;
  case MC_STUN_ATTR_DATA: /* RFC 8656 18.4 */
    if (m->has_data) break;
    m->data = v;
    m->data_len = vlen;
    m->has_data = true;
    break;
  case MC_STUN_ATTR_REQUESTED_TRANSPORT: /* RFC 8656 18.6: protocol then 24 RFFU bits */
    if (m->has_requested_transport) break;
    if (vlen != 4) return MC_EPARSE;
    m->requested_transport = v[0];
    m->has_requested_transport = true;
    break;
  case MC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
  case MC_STUN_ATTR_PASSWORD_ALGORITHM:
  case MC_STUN_ATTR_USERHASH:
  case MC_STUN_ATTR_PASSWORD_ALGORITHMS:
  case MC_STUN_ATTR_ALTERNATE_DOMAIN:
    /* Understood (never an "unknown attribute"), not decoded: a client and
     * ICE agent has no use for them. */
    break;
  default:
    /* RFC 8489 14: 0x0000-0x7FFF are comprehension-required. */
    if (type < 0x8000) note_unknown_required(m, type);
    break;
  }
  return MC_OK;
}

/* RFC 8489 5 (header), 14 (attributes), 14.5-14.7 (integrity and fingerprint
 * placement). */
int mc_stun_parse(const uint8_t *buf, size_t len, mc_stun_msg *out) {
  if (!buf || !out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  if (len < MC_STUN_HEADER_LEN) return MC_EPARSE;
  if (buf[0] & 0xC0) return MC_EPARSE;
  size_t body = mc_get_be16(buf + 2);
  if (body % 4 || MC_STUN_HEADER_LEN + body != len) return MC_EPARSE;

  mc_stun_type_decode(mc_get_be16(buf), &out->method, &out->cls);
  out->has_cookie = mc_get_be32(buf + 4) == MC_STUN_MAGIC_COOKIE;
  memcpy(out->txid, buf + 8, MC_STUN_TXID_LEN);
  out->length = len;

  bool after_mi = false, after_mi256 = false;
  size_t off = MC_STUN_HEADER_LEN;
  while (off < len) {
    if (out->fingerprint_offset) return MC_EPARSE; /* RFC 8489 14.7: FINGERPRINT is last */
    if (len - off < 4) return MC_EPARSE;
    uint16_t type = mc_get_be16(buf + off);
    size_t vlen = mc_get_be16(buf + off + 2);
    size_t padded = (vlen + 3) & ~(size_t)3;
    if (padded > len - off - 4) return MC_EPARSE;
    const uint8_t *v = buf + off + 4;

    if (type == MC_STUN_ATTR_FINGERPRINT) {
      /* RFC 8489 14.7: CRC-32 of the message up to this attribute, with
       * the length field already covering it; it is last, so the length
       * field as received is the one that was used. */
      if (vlen != 4) return MC_EPARSE;
      if (mc_get_be32(v) != mc_stun_fingerprint_value(buf, off)) return MC_EPARSE;
      out->fingerprint_offset = off;
      out->fingerprint_ok = true;
    } else if (after_mi256) {
      /* RFC 8489 14.6: everything after MESSAGE-INTEGRITY-SHA256 but
       * FINGERPRINT is ignored. */
    } else if (type == MC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256) {
      /* RFC 8489 14.6: 16 to 32 bytes, a multiple of 4. */
      if (vlen < 16 || vlen > 32 || vlen % 4) return MC_EPARSE;
      out->integrity_sha256_offset = off;
      after_mi256 = true;
    } else if (after_mi) {
      /* RFC 8489 14.5: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256
       * and FINGERPRINT count. */
    } else if (type == MC_STUN_ATTR_MESSAGE_INTEGRITY) {
      if (vlen != 20) return MC_EPARSE;
      out->integrity_offset = off;
      after_mi = true;
    } else {
      int err = parse_attr(out, buf, type, v, vlen);
      if (err < 0) return err;
    }
    off += 4 + padded;
  }
  return MC_OK;
}
