/* Unit tests for src/stun: RFC 5769 vectors, attribute round trips, malformed
 * input, integrity, ChannelData and stream framing, transaction timing. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stun/stun.h"

/* ---- RFC 5769 vectors (bytes as printed in the RFC) ---- */

static const char rfc5769_short_pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t rfc5769_txid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* 2.1 Sample Request */
static const uint8_t vec_req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
    0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f,
    0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
    0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* 2.2 Sample IPv4 Response */
static const uint8_t vec_resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* 2.3 Sample IPv6 Response */
static const uint8_t vec_resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87,
    0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25,
    0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb,
    0x0b, 0x4c,
};

/* 2.4 Sample Request with Long-Term Authentication */
static const uint8_t vec_lt[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda,
    0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
    0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39,
    0x6b, 0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72,
    0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
    0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};
/* "マトリックス" in UTF-8, as in the vector */
static const char lt_username[] = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
static const char lt_nonce[] = "f//499k954d6OL34oL9FSTvy64sA";
static const char lt_realm[] = "example.org";
/* RFC 5769 2.4 prints the password after SASLprep: "TheMatrIX". */
static const char lt_password[] = "TheMatrIX";

static mc_addr make_addr(const char *ip, uint16_t port) {
  mc_addr a;
  memset(&a, 0, sizeof a);
  if (strchr(ip, ':')) {
    a.u.in6.sin6_family = AF_INET6;
    a.u.in6.sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &a.u.in6.sin6_addr);
  } else {
    a.u.in4.sin_family = AF_INET;
    a.u.in4.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.u.in4.sin_addr);
  }
  return a;
}

static bool addr_eq(const mc_addr *a, const mc_addr *b) {
  if (a->u.sa.sa_family != b->u.sa.sa_family) return false;
  if (a->u.sa.sa_family == AF_INET)
    return a->u.in4.sin_port == b->u.in4.sin_port &&
           memcmp(&a->u.in4.sin_addr, &b->u.in4.sin_addr, 4) == 0;
  if (a->u.sa.sa_family == AF_INET6)
    return a->u.in6.sin6_port == b->u.in6.sin6_port &&
           memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
  return false;
}

static const uint8_t *short_key(size_t *len) {
  *len = strlen(rfc5769_short_pwd);
  return (const uint8_t *)rfc5769_short_pwd;
}

static void test_vector_request(void) {
  mc_stun_msg m;
  size_t klen;
  const uint8_t *key = short_key(&klen);
  CHECK_EQ_INT(mc_stun_parse(vec_req, sizeof vec_req, &m), MC_OK);
  CHECK(mc_stun_is_message(vec_req, sizeof vec_req));
  CHECK_EQ_INT(m.method, MC_STUN_BINDING);
  CHECK_EQ_INT(m.cls, MC_STUN_REQUEST);
  CHECK(m.has_cookie);
  CHECK_MEM(m.txid, rfc5769_txid, 12);
  CHECK_EQ_INT(m.length, 108);
  CHECK(m.has_software);
  CHECK_STR(m.software, "STUN test client");
  CHECK(m.has_priority);
  CHECK_EQ_INT(m.priority, 0x6e0001ff);
  CHECK(m.has_ice_controlled);
  CHECK(!m.has_ice_controlling);
  CHECK(m.ice_tiebreaker == 0x932ff9b151263b36ull);
  CHECK(m.has_username);
  CHECK_STR(m.username, "evtj:h6vY");
  CHECK(!m.has_use_candidate && !m.has_realm && !m.has_nonce && !m.has_error && !m.has_xor_mapped);
  CHECK_EQ_INT(m.integrity_offset, 76);
  CHECK_EQ_INT(m.integrity_sha256_offset, 0);
  CHECK_EQ_INT(m.fingerprint_offset, 100);
  CHECK(m.fingerprint_ok);
  CHECK_EQ_INT(m.unknown_required_count, 0);
  CHECK_EQ_INT(mc_stun_check_integrity(vec_req, sizeof vec_req, &m, key, klen), MC_OK);
  CHECK_EQ_INT(mc_stun_check_integrity(vec_req, sizeof vec_req, &m, (const uint8_t *)"wrong", 5), MC_EAUTH);

  /* Rebuild. The RFC pads USERNAME with 0x20 where our writer sends zeros
   * (RFC 8489 14: padding "MUST be set to zero on sending ... ignored by the
   * receiver"); the test overwrites those three padding bytes in the buffer
   * before MESSAGE-INTEGRITY, which then must match the RFC bit for bit. */
  uint8_t buf[256];
  mc_stun_writer w;
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, "STUN test client");
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 0x6e0001ff);
  mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLED, 0x932ff9b151263b36ull);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "evtj:h6vY");
  CHECK_EQ_INT(w.len, 76);
  CHECK_EQ_INT(mc_get_be16(buf + 2), 56);
  CHECK(buf[73] == 0 && buf[74] == 0 && buf[75] == 0);
  uint8_t zero_padded[256];
  memcpy(zero_padded, buf, w.len);
  buf[73] = buf[74] = buf[75] = 0x20;
  mc_stun_put_integrity(&w, key, klen);
  mc_stun_put_fingerprint(&w);
  CHECK_EQ_INT(mc_stun_finish(&w), (int)sizeof vec_req);
  CHECK_MEM(buf, vec_req, sizeof vec_req);

  /* Zero padding as the writer produces it: semantically the same message. */
  mc_stun_writer w2 = w;
  w2.buf = zero_padded;
  w2.len = 76;
  mc_put_be16(zero_padded + 2, 56);
  mc_stun_put_integrity(&w2, key, klen);
  mc_stun_put_fingerprint(&w2);
  CHECK_EQ_INT(mc_stun_finish(&w2), (int)sizeof vec_req);
  mc_stun_msg m2;
  CHECK_EQ_INT(mc_stun_parse(zero_padded, sizeof vec_req, &m2), MC_OK);
  CHECK_STR(m2.username, m.username);
  CHECK_STR(m2.software, m.software);
  CHECK_EQ_INT(m2.priority, m.priority);
  CHECK(m2.ice_tiebreaker == m.ice_tiebreaker);
  CHECK_EQ_INT(mc_stun_check_integrity(zero_padded, sizeof vec_req, &m2, key, klen), MC_OK);
  CHECK(memcmp(zero_padded + 80, vec_req + 80, 20) != 0); /* padding is covered by the HMAC */

  /* A flipped bit breaks the fingerprint first: the parser refuses it. */
  uint8_t bad[sizeof vec_req];
  for (size_t i = 0; i < sizeof vec_req; i++) {
    memcpy(bad, vec_req, sizeof bad);
    bad[i] ^= 0x01;
    mc_stun_msg mb;
    int err = mc_stun_parse(bad, sizeof bad, &mb);
    if (err == MC_OK) {
      /* Only a flip in FINGERPRINT's own type passes: it turns it into an
       * attribute after MESSAGE-INTEGRITY, which is ignored (RFC 8489 14.5). */
      CHECK(i == 100 || i == 101);
      CHECK(!mb.fingerprint_ok);
    }
  }
  /* Flip a bit, then recompute the fingerprint: integrity must catch it. */
  memcpy(bad, vec_req, sizeof bad);
  bad[64] ^= 0x04; /* in the USERNAME */
  mc_stun_msg mb;
  CHECK_EQ_INT(mc_stun_parse(bad, sizeof bad, &mb), MC_EPARSE);
  mc_stun_writer wf = {bad, sizeof bad, 100, 0};
  mc_stun_put_fingerprint(&wf);
  CHECK_EQ_INT(mc_stun_finish(&wf), (int)sizeof bad);
  CHECK_EQ_INT(mc_stun_parse(bad, sizeof bad, &mb), MC_OK);
  CHECK_EQ_INT(mc_stun_check_integrity(bad, sizeof bad, &mb, key, klen), MC_EAUTH);
}

static void check_response_vector(const uint8_t *vec, size_t len, const mc_addr *want, size_t xor_len) {
  mc_stun_msg m;
  size_t klen;
  const uint8_t *key = short_key(&klen);
  CHECK_EQ_INT(mc_stun_parse(vec, len, &m), MC_OK);
  CHECK_EQ_INT(m.method, MC_STUN_BINDING);
  CHECK_EQ_INT(m.cls, MC_STUN_SUCCESS);
  CHECK_MEM(m.txid, rfc5769_txid, 12);
  CHECK(m.has_software);
  CHECK_STR(m.software, "test vector");
  CHECK(m.has_xor_mapped);
  CHECK(!m.has_mapped);
  CHECK(addr_eq(&m.xor_mapped, want));
  CHECK(m.fingerprint_ok);
  CHECK_EQ_INT(m.integrity_offset, 20 + 16 + 4 + xor_len);
  CHECK_EQ_INT(mc_stun_check_integrity(vec, len, &m, key, klen), MC_OK);

  /* Rebuild: the RFC pads SOFTWARE "test vector" with one 0x20 byte. */
  uint8_t buf[256];
  mc_stun_writer w;
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_SUCCESS, rfc5769_txid);
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, "test vector");
  CHECK(buf[35] == 0);
  buf[35] = 0x20;
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, want);
  mc_stun_put_integrity(&w, key, klen);
  mc_stun_put_fingerprint(&w);
  CHECK_EQ_INT(mc_stun_finish(&w), (int)len);
  CHECK_MEM(buf, vec, len);
}

static void test_vector_responses(void) {
  mc_addr v4 = make_addr("192.0.2.1", 32853);
  mc_addr v6 = make_addr("2001:db8:1234:5678:11:2233:4455:6677", 32853);
  check_response_vector(vec_resp4, sizeof vec_resp4, &v4, 8);
  check_response_vector(vec_resp6, sizeof vec_resp6, &v6, 20);
}

static void test_vector_long_term(void) {
  mc_stun_msg m;
  CHECK_EQ_INT(mc_stun_parse(vec_lt, sizeof vec_lt, &m), MC_OK);
  CHECK_EQ_INT(m.method, MC_STUN_BINDING);
  CHECK_EQ_INT(m.cls, MC_STUN_REQUEST);
  CHECK(m.has_username);
  CHECK_STR(m.username, lt_username);
  CHECK(m.has_nonce);
  CHECK_STR(m.nonce, lt_nonce);
  CHECK(m.has_realm);
  CHECK_STR(m.realm, lt_realm);
  CHECK(!m.fingerprint_ok);
  CHECK_EQ_INT(m.fingerprint_offset, 0);
  CHECK_EQ_INT(m.integrity_offset, 92);

  uint8_t key[16];
  CHECK_EQ_INT(mc_stun_long_term_key(lt_username, lt_realm, lt_password, key), MC_OK);
  CHECK_EQ_INT(mc_stun_check_integrity(vec_lt, sizeof vec_lt, &m, key, sizeof key), MC_OK);
  uint8_t other[16];
  CHECK_EQ_INT(mc_stun_long_term_key(lt_username, lt_realm, "thematrix", other), MC_OK);
  CHECK_EQ_INT(mc_stun_check_integrity(vec_lt, sizeof vec_lt, &m, other, sizeof other), MC_EAUTH);

  /* Every single-bit flip before the MAC (and in it) must fail integrity. */
  int caught = 0, tried = 0;
  for (size_t i = 20; i < sizeof vec_lt; i++) {
    uint8_t bad[sizeof vec_lt];
    memcpy(bad, vec_lt, sizeof bad);
    bad[i] ^= 0x10;
    mc_stun_msg mb;
    if (mc_stun_parse(bad, sizeof bad, &mb) != MC_OK) continue; /* e.g. a length field now lies */
    tried++;
    if (mc_stun_check_integrity(bad, sizeof bad, &mb, key, sizeof key) != MC_OK) caught++;
  }
  CHECK(tried > 60);
  CHECK_EQ_INT(caught, tried);
  uint8_t bad[sizeof vec_lt];
  memcpy(bad, vec_lt, sizeof bad);
  bad[42] = 0x20;
  mc_stun_msg mb;
  CHECK_EQ_INT(mc_stun_parse(bad, sizeof bad, &mb), MC_OK);
  CHECK_EQ_INT(mc_stun_check_integrity(bad, sizeof bad, &mb, key, sizeof key), MC_EAUTH);

  /* Rebuild byte for byte: this vector pads with zeros. */
  uint8_t buf[256];
  mc_stun_writer w;
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, vec_lt + 8);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, lt_username);
  mc_stun_put_string(&w, MC_STUN_ATTR_NONCE, lt_nonce);
  mc_stun_put_string(&w, MC_STUN_ATTR_REALM, lt_realm);
  mc_stun_put_integrity(&w, key, sizeof key);
  CHECK_EQ_INT(mc_stun_finish(&w), (int)sizeof vec_lt);
  CHECK_MEM(buf, vec_lt, sizeof vec_lt);

  /* SHA-256 long-term key: SHA256(user:realm:pass), checked against a
   * digest computed independently (sha256sum of the same bytes). */
  uint8_t k256[32];
  CHECK_EQ_INT(mc_stun_long_term_key_sha256("user", "realm", "pass", k256), MC_OK);
  static const uint8_t want256[32] = {0x07, 0xe9, 0x34, 0x11, 0x7a, 0xbd, 0x40, 0x83, 0x6e, 0x7c, 0x63,
                                      0x29, 0xb5, 0x47, 0x31, 0xb2, 0xb2, 0xd2, 0xa5, 0xf9, 0xa7, 0x1f,
                                      0x54, 0x49, 0x22, 0xd7, 0x5e, 0x07, 0x30, 0xd8, 0x25, 0x1b};
  CHECK_MEM(k256, want256, 32);
  uint8_t k5[16];
  CHECK_EQ_INT(mc_stun_long_term_key("user", "realm", "pass", k5), MC_OK);
  static const uint8_t want5[16] = {0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
                                    0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb};
  CHECK_MEM(k5, want5, 16);
}

/* ---- every attribute through the writer and back ---- */
static void test_round_trip_all(void) {
  uint8_t buf[1500];
  uint8_t txid[12];
  for (int i = 0; i < 12; i++) txid[i] = (uint8_t)(0xA0 + i);
  mc_addr mapped = make_addr("198.51.100.7", 3478);
  mc_addr xmapped = make_addr("2001:db8::1:2", 61000);
  mc_addr xpeer = make_addr("203.0.113.9", 1);
  mc_addr xrelayed = make_addr("2001:db8:ffff::abcd", 65535);
  mc_addr alt = make_addr("2001:db8::99", 5349);
  const uint16_t unknown[] = {0x0018, 0x0022, 0x7777};
  const uint8_t data[5] = {1, 2, 3, 4, 5};
  uint8_t key[20];
  memset(key, 0x5a, sizeof key);

  mc_stun_writer w;
  memset(buf, 0xAA, sizeof buf); /* padding must come out zero regardless */
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_ALLOCATE, MC_STUN_ERROR, txid);
  mc_stun_put_addr(&w, MC_STUN_ATTR_MAPPED_ADDRESS, &mapped);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &xmapped);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &xpeer);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_RELAYED_ADDRESS, &xrelayed);
  mc_stun_put_addr(&w, MC_STUN_ATTR_ALTERNATE_SERVER, &alt);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "alice");
  mc_stun_put_string(&w, MC_STUN_ATTR_REALM, "medcall.example");
  mc_stun_put_string(&w, MC_STUN_ATTR_NONCE, "n0nce-xyz");
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, "medcall 0.1");
  mc_stun_put_error(&w, 438, "Stale Nonce");
  mc_stun_put_unknown(&w, unknown, 3);
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 0x7e0000ff);
  mc_stun_put_flag(&w, MC_STUN_ATTR_USE_CANDIDATE);
  mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLING, 0x0102030405060708ull);
  mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, 600);
  mc_stun_put_channel_number(&w, 0x4001);
  mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, data, sizeof data);
  mc_stun_put_requested_transport(&w, 17);
  mc_stun_put_integrity(&w, key, sizeof key);
  mc_stun_put_integrity_sha256(&w, key, sizeof key);
  mc_stun_put_fingerprint(&w);
  int n = mc_stun_finish(&w);
  CHECK(n > 0);
  if (n <= 0) return;
  CHECK_EQ_INT(n % 4, 0);
  CHECK_EQ_INT(mc_get_be16(buf + 2), n - 20);
  CHECK_EQ_INT(mc_get_be16(buf), 0x0113); /* Allocate error response, RFC 8656 17 */

  mc_stun_msg m;
  CHECK_EQ_INT(mc_stun_parse(buf, (size_t)n, &m), MC_OK);
  CHECK_EQ_INT(m.method, MC_STUN_ALLOCATE);
  CHECK_EQ_INT(m.cls, MC_STUN_ERROR);
  CHECK_MEM(m.txid, txid, 12);
  CHECK(m.has_mapped && addr_eq(&m.mapped, &mapped));
  CHECK(m.has_xor_mapped && addr_eq(&m.xor_mapped, &xmapped));
  CHECK(m.has_xor_peer && addr_eq(&m.xor_peer, &xpeer));
  CHECK(m.has_xor_relayed && addr_eq(&m.xor_relayed, &xrelayed));
  CHECK(m.has_alternate && addr_eq(&m.alternate, &alt));
  CHECK(m.has_username);
  CHECK_STR(m.username, "alice");
  CHECK_STR(m.realm, "medcall.example");
  CHECK_STR(m.nonce, "n0nce-xyz");
  CHECK_STR(m.software, "medcall 0.1");
  CHECK(m.has_error);
  CHECK_EQ_INT(m.error_code, 438);
  CHECK_STR(m.error_reason, "Stale Nonce");
  CHECK_EQ_INT(m.unknown_count, 3);
  CHECK_EQ_INT(m.unknown[0], 0x0018);
  CHECK_EQ_INT(m.unknown[1], 0x0022);
  CHECK_EQ_INT(m.unknown[2], 0x7777);
  CHECK_EQ_INT(m.unknown_required_count, 0);
  CHECK(m.has_priority);
  CHECK_EQ_INT(m.priority, 0x7e0000ff);
  CHECK(m.has_use_candidate);
  CHECK(m.has_ice_controlling && !m.has_ice_controlled);
  CHECK(m.ice_tiebreaker == 0x0102030405060708ull);
  CHECK(m.has_lifetime);
  CHECK_EQ_INT(m.lifetime, 600);
  CHECK(m.has_channel_number);
  CHECK_EQ_INT(m.channel_number, 0x4001);
  CHECK(m.has_data);
  CHECK_EQ_INT(m.data_len, 5);
  CHECK(m.data && memcmp(m.data, data, 5) == 0);
  CHECK(m.has_requested_transport);
  CHECK_EQ_INT(m.requested_transport, 17);
  CHECK(m.integrity_offset > 0);
  CHECK_EQ_INT(m.integrity_sha256_offset, m.integrity_offset + 24);
  CHECK_EQ_INT(m.fingerprint_offset, m.integrity_sha256_offset + 36);
  CHECK(m.fingerprint_ok);
  /* SHA-256 is preferred when present. */
  CHECK_EQ_INT(mc_stun_check_integrity(buf, (size_t)n, &m, key, sizeof key), MC_OK);
  uint8_t wrong[20];
  memcpy(wrong, key, sizeof wrong);
  wrong[19] ^= 1;
  CHECK_EQ_INT(mc_stun_check_integrity(buf, (size_t)n, &m, wrong, sizeof wrong), MC_EAUTH);
  /* The SHA-1 MESSAGE-INTEGRITY was computed right too. */
  mc_stun_msg m1 = m;
  m1.integrity_sha256_offset = 0;
  CHECK_EQ_INT(mc_stun_check_integrity(buf, (size_t)n, &m1, key, sizeof key), MC_OK);
  /* Corrupting the SHA-256 MAC (then fixing the fingerprint) fails integrity. */
  buf[m.integrity_sha256_offset + 10] ^= 0x80;
  mc_stun_writer wf = {buf, sizeof buf, m.fingerprint_offset, 0};
  mc_stun_put_fingerprint(&wf);
  CHECK_EQ_INT(mc_stun_finish(&wf), n);
  CHECK_EQ_INT(mc_stun_parse(buf, (size_t)n, &m), MC_OK);
  CHECK_EQ_INT(mc_stun_check_integrity(buf, (size_t)n, &m, key, sizeof key), MC_EAUTH);

  /* The padding after DATA (5 bytes) and the strings is zero. */
  size_t off = 20;
  bool pads_zero = true;
  while (off + 4 <= (size_t)n) {
    size_t vlen = mc_get_be16(buf + off + 2);
    for (size_t i = vlen; i < ((vlen + 3) & ~(size_t)3); i++)
      if (buf[off + 4 + i] != 0) pads_zero = false;
    off += 4 + ((vlen + 3) & ~(size_t)3);
  }
  CHECK(pads_zero);
  CHECK_EQ_INT(off, n);

  /* No integrity at all. */
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_INDICATION, NULL);
  n = mc_stun_finish(&w);
  CHECK_EQ_INT(n, 20);
  CHECK_EQ_INT(mc_stun_parse(buf, 20, &m), MC_OK);
  CHECK_EQ_INT(m.cls, MC_STUN_INDICATION);
  CHECK_EQ_INT(mc_stun_check_integrity(buf, 20, &m, key, sizeof key), MC_ENOTFOUND);
}

static void test_message_types(void) {
  static const struct {
    uint16_t method;
    uint8_t cls;
    uint16_t type;
  } cases[] = {
      {MC_STUN_BINDING, MC_STUN_REQUEST, 0x0001},         {MC_STUN_BINDING, MC_STUN_SUCCESS, 0x0101},
      {MC_STUN_BINDING, MC_STUN_ERROR, 0x0111},           {MC_STUN_BINDING, MC_STUN_INDICATION, 0x0011},
      {MC_STUN_ALLOCATE, MC_STUN_REQUEST, 0x0003},        {MC_STUN_REFRESH, MC_STUN_SUCCESS, 0x0104},
      {MC_STUN_SEND, MC_STUN_INDICATION, 0x0016},         {MC_STUN_DATA, MC_STUN_INDICATION, 0x0017},
      {MC_STUN_CREATE_PERMISSION, MC_STUN_ERROR, 0x0118}, {MC_STUN_CHANNEL_BIND, MC_STUN_REQUEST, 0x0009},
      {0xFFF, MC_STUN_ERROR, 0x3FFF},                     {0x0F80, MC_STUN_REQUEST, 0x3E00},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
    uint8_t buf[64];
    mc_stun_writer w;
    mc_stun_begin(&w, buf, sizeof buf, cases[i].method, cases[i].cls, NULL);
    CHECK_EQ_INT(mc_stun_finish(&w), 20);
    CHECK_EQ_INT(mc_get_be16(buf), cases[i].type);
    mc_stun_msg m;
    CHECK_EQ_INT(mc_stun_parse(buf, 20, &m), MC_OK);
    CHECK_EQ_INT(m.method, cases[i].method);
    CHECK_EQ_INT(m.cls, cases[i].cls);
  }
  /* Random transaction ids differ. */
  uint8_t a[20], b[20];
  mc_stun_writer w;
  mc_stun_begin(&w, a, sizeof a, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
  mc_stun_begin(&w, b, sizeof b, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
  CHECK(memcmp(a + 8, b + 8, 12) != 0);
}

/* ---- malformed input ---- */

/* Builds header + raw attribute bytes, with the length field set to the
 * body length unless lie >= 0. */
static size_t raw_msg(uint8_t *buf, const uint8_t *attrs, size_t attrs_len, int lie) {
  mc_put_be16(buf, 0x0101);
  mc_put_be16(buf + 2, (uint16_t)(lie >= 0 ? lie : (int)attrs_len));
  mc_put_be32(buf + 4, MC_STUN_MAGIC_COOKIE);
  memcpy(buf + 8, rfc5769_txid, 12);
  memcpy(buf + 20, attrs, attrs_len);
  return 20 + attrs_len;
}

static int parse_raw(const uint8_t *attrs, size_t attrs_len, mc_stun_msg *m) {
  uint8_t buf[2048];
  size_t n = raw_msg(buf, attrs, attrs_len, -1);
  return mc_stun_parse(buf, n, m);
}

static void test_malformed(void) {
  mc_stun_msg m;
  uint8_t buf[2048];

  /* Short buffers, top bits, lying or odd lengths. */
  CHECK_EQ_INT(mc_stun_parse(vec_req, 19, &m), MC_EPARSE);
  CHECK_EQ_INT(mc_stun_parse(vec_req, 0, &m), MC_EPARSE);
  CHECK_EQ_INT(mc_stun_parse(vec_req, sizeof vec_req - 4, &m), MC_EPARSE); /* truncated: length lies */
  memcpy(buf, vec_req, sizeof vec_req);
  memset(buf + sizeof vec_req, 0, 8);
  CHECK_EQ_INT(mc_stun_parse(buf, sizeof vec_req + 4, &m), MC_EPARSE); /* trailing bytes */
  buf[0] |= 0x80;
  CHECK_EQ_INT(mc_stun_parse(buf, sizeof vec_req, &m), MC_EPARSE);
  CHECK(!mc_stun_is_message(buf, sizeof vec_req));
  buf[0] = 0x40;
  CHECK_EQ_INT(mc_stun_parse(buf, sizeof vec_req, &m), MC_EPARSE);

  const uint8_t prio[] = {0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4};
  size_t n = raw_msg(buf, prio, sizeof prio, 100); /* claims 100, holds 8 */
  CHECK_EQ_INT(mc_stun_parse(buf, n, &m), MC_EPARSE);
  CHECK(!mc_stun_is_message(buf, n));
  n = raw_msg(buf, prio, sizeof prio, 4); /* claims less than it holds */
  CHECK_EQ_INT(mc_stun_parse(buf, n, &m), MC_EPARSE);
  n = raw_msg(buf, prio, sizeof prio, 6); /* not a multiple of 4 */
  CHECK_EQ_INT(mc_stun_parse(buf, 26, &m), MC_EPARSE);
  CHECK(!mc_stun_is_message(buf, 26));
  CHECK_EQ_INT(parse_raw(prio, sizeof prio, &m), MC_OK);
  CHECK_EQ_INT(m.priority, 0x01020304);

  /* Truncated attribute: value length runs past the message. */
  const uint8_t trunc[] = {0x00, 0x06, 0x00, 0x09, 'a', 'b', 'c', 'd'};
  CHECK_EQ_INT(parse_raw(trunc, sizeof trunc, &m), MC_EPARSE);
  /* Value fits but its padding does not. */
  const uint8_t nopad[] = {0x00, 0x06, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e', 0, 0, 0, 0x00, 0x06, 0x00, 0x01};
  CHECK_EQ_INT(parse_raw(nopad, sizeof nopad, &m), MC_EPARSE);
  /* Half an attribute header. */
  const uint8_t halfhdr[] = {0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4, 0x00, 0x24};
  n = raw_msg(buf, halfhdr, sizeof halfhdr, 12);
  CHECK_EQ_INT(mc_stun_parse(buf, 32, &m), MC_EPARSE);

  /* Wrong fixed lengths. */
  const uint8_t prio3[] = {0x00, 0x24, 0x00, 0x03, 1, 2, 3, 0};
  CHECK_EQ_INT(parse_raw(prio3, sizeof prio3, &m), MC_EPARSE);
  const uint8_t usecand4[] = {0x00, 0x25, 0x00, 0x04, 0, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(usecand4, sizeof usecand4, &m), MC_EPARSE);
  const uint8_t ctl4[] = {0x80, 0x2A, 0x00, 0x04, 0, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(ctl4, sizeof ctl4, &m), MC_EPARSE);
  const uint8_t life8[] = {0x00, 0x0D, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(life8, sizeof life8, &m), MC_EPARSE);
  const uint8_t chan2[] = {0x00, 0x0C, 0x00, 0x02, 0x40, 0x00, 0, 0};
  CHECK_EQ_INT(parse_raw(chan2, sizeof chan2, &m), MC_EPARSE);
  const uint8_t rt1[] = {0x00, 0x19, 0x00, 0x01, 17, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(rt1, sizeof rt1, &m), MC_EPARSE);
  const uint8_t mi16[] = {0x00, 0x08, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(mi16, sizeof mi16, &m), MC_EPARSE);
  const uint8_t mi256_12[] = {0x00, 0x1C, 0x00, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(mi256_12, sizeof mi256_12, &m), MC_EPARSE);
  const uint8_t unk3[] = {0x00, 0x0A, 0x00, 0x03, 0x00, 0x18, 0x00, 0};
  CHECK_EQ_INT(parse_raw(unk3, sizeof unk3, &m), MC_EPARSE);

  /* Addresses: bad family, wrong length for the family. */
  const uint8_t xor_fam3[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x03, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
  CHECK_EQ_INT(parse_raw(xor_fam3, sizeof xor_fam3, &m), MC_EPARSE);
  const uint8_t xor_fam0[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x00, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
  CHECK_EQ_INT(parse_raw(xor_fam0, sizeof xor_fam0, &m), MC_EPARSE);
  const uint8_t xor_v4_long[] = {0x00, 0x20, 0x00, 0x0C, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(xor_v4_long, sizeof xor_v4_long, &m), MC_EPARSE);
  const uint8_t xor_v6_short[] = {0x00, 0x16, 0x00, 0x08, 0x00, 0x02, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
  CHECK_EQ_INT(parse_raw(xor_v6_short, sizeof xor_v6_short, &m), MC_EPARSE);
  const uint8_t mapped_3[] = {0x00, 0x01, 0x00, 0x03, 0x00, 0x01, 0x00, 0};
  CHECK_EQ_INT(parse_raw(mapped_3, sizeof mapped_3, &m), MC_EPARSE);
  const uint8_t peer_fam9[] = {0x00, 0x12, 0x00, 0x08, 0x00, 0x09, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
  CHECK_EQ_INT(parse_raw(peer_fam9, sizeof peer_fam9, &m), MC_EPARSE);
  const uint8_t alt_v4[] = {0x80, 0x23, 0x00, 0x08, 0x00, 0x01, 0x0D, 0x96, 192, 0, 2, 10};
  CHECK_EQ_INT(parse_raw(alt_v4, sizeof alt_v4, &m), MC_OK);
  mc_addr want_alt = make_addr("192.0.2.10", 3478);
  CHECK(m.has_alternate && addr_eq(&m.alternate, &want_alt));

  /* ERROR-CODE range 300..699 and number 0..99. */
  const struct {
    uint8_t cls, number;
    int ok;
    int code;
  } ec[] = {{3, 0, 1, 300}, {6, 99, 1, 699}, {4, 1, 1, 401}, {2, 99, 0, 0},
            {7, 0, 0, 0},   {1, 0, 0, 0},    {4, 100, 0, 0}, {0, 0, 0, 0}};
  for (size_t i = 0; i < MC_ARRAY_LEN(ec); i++) {
    uint8_t a[] = {0x00, 0x09, 0x00, 0x06, 0x00, 0x00, ec[i].cls, ec[i].number, 'h', 'i', 0, 0};
    int err = parse_raw(a, sizeof a, &m);
    CHECK_EQ_INT(err, ec[i].ok ? MC_OK : MC_EPARSE);
    if (ec[i].ok) {
      CHECK_EQ_INT(m.error_code, ec[i].code);
      CHECK_STR(m.error_reason, "hi");
    }
  }
  const uint8_t ec_short[] = {0x00, 0x09, 0x00, 0x03, 0x00, 0x00, 0x04, 0};
  CHECK_EQ_INT(parse_raw(ec_short, sizeof ec_short, &m), MC_EPARSE);

  /* Text limits: REALM 127 characters fine, 128 not; multi-byte characters
   * count once; more than 763 bytes never; USERNAME up to 513 bytes. */
  uint8_t a[4 + 1024];
  mc_put_be16(a, MC_STUN_ATTR_REALM);
  mc_put_be16(a + 2, 127);
  memset(a + 4, 'r', 128);
  CHECK_EQ_INT(parse_raw(a, 4 + 128, &m), MC_OK);
  CHECK_EQ_INT(strlen(m.realm), 127);
  mc_put_be16(a + 2, 128);
  CHECK_EQ_INT(parse_raw(a, 4 + 128, &m), MC_EPARSE);
  for (int i = 0; i < 127; i++) memcpy(a + 4 + 3 * i, "\xe2\x82\xac", 3); /* euro sign */
  mc_put_be16(a + 2, 381);
  a[4 + 381] = a[4 + 382] = a[4 + 383] = 0;
  CHECK_EQ_INT(parse_raw(a, 4 + 384, &m), MC_OK);
  CHECK_EQ_INT(strlen(m.realm), 381);
  memcpy(a + 4 + 381, "\xe2\x82\xac", 3);
  mc_put_be16(a + 2, 384);
  CHECK_EQ_INT(parse_raw(a, 4 + 384, &m), MC_EPARSE);
  mc_put_be16(a, MC_STUN_ATTR_USERNAME);
  memset(a + 4, 'u', 516);
  mc_put_be16(a + 2, 513);
  CHECK_EQ_INT(parse_raw(a, 4 + 516, &m), MC_OK);
  CHECK_EQ_INT(strlen(m.username), 513);
  mc_put_be16(a + 2, 514);
  CHECK_EQ_INT(parse_raw(a, 4 + 516, &m), MC_EPARSE);
  const uint8_t nul_user[] = {0x00, 0x06, 0x00, 0x03, 'a', 0, 'b', 0};
  CHECK_EQ_INT(parse_raw(nul_user, sizeof nul_user, &m), MC_EPARSE);
  mc_put_be16(a, MC_STUN_ATTR_SOFTWARE);
  memset(a + 4, 0x80, 764); /* continuation bytes: few "characters", too many bytes */
  mc_put_be16(a + 2, 764);
  CHECK_EQ_INT(parse_raw(a, 4 + 764, &m), MC_EPARSE);

  /* Wrong FINGERPRINT, FINGERPRINT not last. */
  memcpy(buf, vec_resp4, sizeof vec_resp4);
  buf[sizeof vec_resp4 - 1] ^= 1;
  CHECK_EQ_INT(mc_stun_parse(buf, sizeof vec_resp4, &m), MC_EPARSE);
  const uint8_t fp_short[] = {0x80, 0x28, 0x00, 0x02, 0, 0, 0, 0};
  CHECK_EQ_INT(parse_raw(fp_short, sizeof fp_short, &m), MC_EPARSE);
  {
    mc_stun_writer w;
    mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
    mc_stun_put_fingerprint(&w);
    int len = mc_stun_finish(&w);
    CHECK_EQ_INT(len, 28);
    CHECK_EQ_INT(mc_stun_parse(buf, 28, &m), MC_OK);
    CHECK(m.fingerprint_ok);
    /* Append an attribute after it and fix the length: refused. */
    memcpy(buf + 28, prio, sizeof prio);
    mc_put_be16(buf + 2, 16);
    CHECK_EQ_INT(mc_stun_parse(buf, 36, &m), MC_EPARSE);
  }

  /* Demux (RFC 7983): first byte 0..3 only, even with a cookie in place. */
  {
    mc_stun_writer w;
    mc_stun_begin(&w, buf, sizeof buf, 0x080, MC_STUN_SUCCESS, rfc5769_txid); /* type 0x0300 */
    CHECK_EQ_INT(mc_stun_finish(&w), 20);
    CHECK_EQ_INT(buf[0], 3);
    CHECK(mc_stun_is_message(buf, 20));
    CHECK(!mc_stun_is_message(buf, 19));
    buf[0] = 0x16; /* a DTLS handshake record's first byte */
    CHECK(!mc_stun_is_message(buf, 20));
  }

  /* RFC 3489 message (no cookie): parsed, flagged. */
  memcpy(buf, vec_lt, sizeof vec_lt);
  mc_put_be32(buf + 4, 0x01020304);
  CHECK_EQ_INT(mc_stun_parse(buf, sizeof vec_lt, &m), MC_OK);
  CHECK(!m.has_cookie);
  CHECK(!mc_stun_is_message(buf, sizeof vec_lt));
}

static void test_ordering_and_unknown(void) {
  mc_stun_msg m;
  uint8_t buf[512];
  uint8_t key[4] = {'k', 'e', 'y', '!'};

  /* Unknown comprehension-required attributes are listed once each;
   * comprehension-optional ones are not. Duplicates: first wins. */
  mc_stun_writer w;
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_u32(&w, 0x0018, 1); /* EVEN-PORT-ish: unknown here */
  mc_stun_put_u32(&w, 0x8FFF, 2);
  mc_stun_put_u32(&w, 0x7FFF, 3);
  mc_stun_put_u32(&w, 0x0018, 4);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "first");
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "second");
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 10);
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 20);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &(mc_addr){0});
  CHECK_EQ_INT(mc_stun_finish(&w), MC_EINVAL); /* AF_UNSPEC address: sticky error */
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_u32(&w, 0x0018, 1);
  mc_stun_put_u32(&w, 0x8FFF, 2);
  mc_stun_put_u32(&w, 0x7FFF, 3);
  mc_stun_put_u32(&w, 0x0018, 4);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "first");
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "second");
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 10);
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 20);
  mc_stun_put_attr(&w, MC_STUN_ATTR_PASSWORD_ALGORITHM, "\x00\x02\x00\x00", 4); /* known, not decoded */
  mc_stun_put_integrity(&w, key, sizeof key);
  size_t mi_end = w.len;
  int n = mc_stun_finish(&w);
  CHECK(n > 0);
  CHECK_EQ_INT(mc_stun_parse(buf, (size_t)n, &m), MC_OK);
  CHECK_EQ_INT(m.unknown_required_count, 2);
  CHECK_EQ_INT(m.unknown_required[0], 0x0018);
  CHECK_EQ_INT(m.unknown_required[1], 0x7FFF);
  CHECK_STR(m.username, "first");
  CHECK_EQ_INT(m.priority, 10);

  /* Attributes after MESSAGE-INTEGRITY are ignored (RFC 8489 14.5), even
   * malformed or comprehension-required ones; MESSAGE-INTEGRITY-SHA256 and
   * FINGERPRINT still count. Appended by hand: the writer refuses. */
  const uint8_t after[] = {0x00, 0x14, 0x00, 0x04, 'e', 'v', 'i', 'l', /* REALM */
                           0x00, 0x24, 0x00, 0x01, 9, 0, 0, 0,         /* malformed PRIORITY */
                           0x00, 0x33, 0x00, 0x00};                    /* unknown required */
  memcpy(buf + mi_end, after, sizeof after);
  mc_put_be16(buf + 2, (uint16_t)(mi_end + sizeof after - 20));
  CHECK_EQ_INT(mc_stun_parse(buf, mi_end + sizeof after, &m), MC_OK);
  CHECK(!m.has_realm);
  CHECK_EQ_INT(m.unknown_required_count, 2);
  CHECK_EQ_INT(m.priority, 10);
  /* The MAC covers what precedes it, so it still verifies. */
  CHECK_EQ_INT(mc_stun_check_integrity(buf, mi_end + sizeof after, &m, key, sizeof key), MC_OK);
  /* Add a fingerprint after the junk: accepted and checked. */
  mc_stun_writer wf = {buf, sizeof buf, mi_end + sizeof after, 0};
  mc_stun_put_fingerprint(&wf);
  n = mc_stun_finish(&wf);
  CHECK_EQ_INT(mc_stun_parse(buf, (size_t)n, &m), MC_OK);
  CHECK(m.fingerprint_ok);
  CHECK(!m.has_realm);

  /* The writer refuses ordinary attributes after the trailer. */
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_integrity(&w, key, sizeof key);
  mc_stun_put_string(&w, MC_STUN_ATTR_REALM, "late");
  CHECK_EQ_INT(mc_stun_finish(&w), MC_ESTATE);
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_fingerprint(&w);
  mc_stun_put_integrity(&w, key, sizeof key);
  CHECK_EQ_INT(mc_stun_finish(&w), MC_ESTATE);
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_integrity_sha256(&w, key, sizeof key);
  mc_stun_put_integrity(&w, key, sizeof key); /* would be ignored by receivers */
  CHECK_EQ_INT(mc_stun_finish(&w), MC_ESTATE);

  /* MESSAGE-INTEGRITY after MESSAGE-INTEGRITY-SHA256 is ignored by the parser. */
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_integrity_sha256(&w, key, sizeof key);
  n = mc_stun_finish(&w);
  CHECK_EQ_INT(n, 20 + 36);
  const uint8_t mi_junk[24] = {0x00, 0x08, 0x00, 0x14};
  memcpy(buf + n, mi_junk, sizeof mi_junk);
  mc_put_be16(buf + 2, (uint16_t)(n + 24 - 20));
  CHECK_EQ_INT(mc_stun_parse(buf, (size_t)n + 24, &m), MC_OK);
  CHECK_EQ_INT(m.integrity_offset, 0);
  CHECK_EQ_INT(m.integrity_sha256_offset, 20);
  CHECK_EQ_INT(mc_stun_check_integrity(buf, (size_t)n + 24, &m, key, sizeof key), MC_OK);
}

static void test_writer_errors(void) {
  uint8_t buf[64];
  mc_stun_writer w;

  mc_stun_begin(&w, buf, 19, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
  CHECK_EQ_INT(mc_stun_finish(&w), MC_ETOOBIG);
  mc_stun_begin(&w, NULL, 64, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
  CHECK_EQ_INT(mc_stun_finish(&w), MC_EINVAL);
  mc_stun_begin(&w, buf, sizeof buf, 0x1000, MC_STUN_REQUEST, NULL);
  CHECK_EQ_INT(mc_stun_finish(&w), MC_EINVAL);

  /* Sticky: the first error stays, later calls change nothing. */
  mc_stun_begin(&w, buf, 28, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 1);
  CHECK_EQ_INT(w.len, 28);
  CHECK_EQ_INT(mc_get_be16(buf + 2), 8);
  mc_stun_put_flag(&w, MC_STUN_ATTR_USE_CANDIDATE); /* 4 more bytes: no room */
  CHECK_EQ_INT(w.err, MC_ETOOBIG);
  mc_stun_put_error(&w, 100, "bad"); /* would be EINVAL; the first error stays */
  CHECK_EQ_INT(mc_stun_finish(&w), MC_ETOOBIG);
  CHECK_EQ_INT(w.len, 28);
  CHECK_EQ_INT(mc_get_be16(buf + 2), 8);

  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_ERROR, rfc5769_txid);
  mc_stun_put_error(&w, 700, "nope");
  CHECK_EQ_INT(mc_stun_finish(&w), MC_EINVAL);
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_ERROR, rfc5769_txid);
  mc_stun_put_error(&w, 299, "nope");
  CHECK_EQ_INT(mc_stun_finish(&w), MC_EINVAL);

  /* A string longer than a peer may accept is refused at the source. */
  char big[800];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  uint8_t large[2048];
  mc_stun_begin(&w, large, sizeof large, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, big);
  CHECK_EQ_INT(mc_stun_finish(&w), MC_EINVAL);

  /* Length field tracks every attribute, padding included. */
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, rfc5769_txid);
  memset(buf + 20, 0xEE, sizeof buf - 20);
  mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, "\x01", 1);
  CHECK_EQ_INT(mc_get_be16(buf + 2), 8);
  CHECK(buf[25] == 0 && buf[26] == 0 && buf[27] == 0);
  mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, NULL, 0);
  CHECK_EQ_INT(mc_get_be16(buf + 2), 12);
  CHECK_EQ_INT(mc_stun_finish(&w), 32);
}

/* ---- ChannelData and stream framing ---- */
static void test_channeldata(void) {
  uint8_t buf[64];
  const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
  uint16_t ch;
  const uint8_t *d;
  size_t dl;

  memset(buf, 0xEE, sizeof buf);
  CHECK_EQ_INT(mc_channeldata_write(buf, sizeof buf, 0x4001, payload, 5, false), 9);
  CHECK(buf[0] == 0x40 && buf[1] == 0x01 && buf[2] == 0 && buf[3] == 5);
  CHECK_EQ_INT(mc_channeldata_parse(buf, 9, &ch, &d, &dl), MC_OK);
  CHECK_EQ_INT(ch, 0x4001);
  CHECK_EQ_INT(dl, 5);
  CHECK(d == buf + 4 && memcmp(d, payload, 5) == 0);
  CHECK_EQ_INT(mc_channeldata_parse(buf, 8, &ch, &d, &dl), MC_EPARSE); /* datagram shorter than claimed */
  CHECK_EQ_INT(mc_channeldata_parse(buf, 3, &ch, &d, &dl), MC_EPARSE);

  memset(buf, 0xEE, sizeof buf);
  CHECK_EQ_INT(mc_channeldata_write(buf, sizeof buf, 0x4FFF, payload, 5, true), 12);
  CHECK(buf[9] == 0 && buf[10] == 0 && buf[11] == 0);
  CHECK_EQ_INT(mc_get_be16(buf + 2), 5); /* padding not counted */
  CHECK_EQ_INT(mc_channeldata_parse(buf, 12, &ch, &d, &dl), MC_OK);
  CHECK_EQ_INT(ch, 0x4FFF);
  CHECK_EQ_INT(dl, 5);
  CHECK_EQ_INT(mc_channeldata_write(buf, sizeof buf, 0x4000, NULL, 0, true), 4);
  CHECK_EQ_INT(mc_channeldata_parse(buf, 4, &ch, &d, &dl), MC_OK);
  CHECK_EQ_INT(dl, 0);

  CHECK_EQ_INT(mc_channeldata_write(buf, sizeof buf, 0x3FFF, payload, 5, false), MC_EINVAL);
  CHECK_EQ_INT(mc_channeldata_write(buf, sizeof buf, 0x5000, payload, 5, false), MC_EINVAL);
  CHECK_EQ_INT(mc_channeldata_write(buf, 11, 0x4000, payload, 5, true), MC_ETOOBIG);
  CHECK_EQ_INT(mc_channeldata_write(buf, 9, 0x4000, payload, 5, false), 9);

  /* In place: the payload already sits after room for the header. */
  memset(buf, 0, sizeof buf);
  memcpy(buf + 4, "in-place", 8);
  CHECK_EQ_INT(mc_channeldata_write(buf, sizeof buf, 0x4ABC, buf + 4, 8, true), 12);
  CHECK_EQ_INT(mc_channeldata_parse(buf, 12, &ch, &d, &dl), MC_OK);
  CHECK(ch == 0x4ABC && dl == 8 && memcmp(d, "in-place", 8) == 0);

  const uint8_t reserved[] = {0x50, 0x00, 0x00, 0x00};
  CHECK_EQ_INT(mc_channeldata_parse(reserved, 4, &ch, &d, &dl), MC_EPARSE);
  const uint8_t stunlike[] = {0x00, 0x01, 0x00, 0x00};
  CHECK_EQ_INT(mc_channeldata_parse(stunlike, 4, &ch, &d, &dl), MC_EPARSE);
}

static void test_stream_framing(void) {
  /* A stream carrying: the 2.1 request, a padded ChannelData frame, the 2.2
   * response, an empty ChannelData frame. */
  uint8_t stream[512];
  size_t n = 0;
  memcpy(stream + n, vec_req, sizeof vec_req);
  n += sizeof vec_req;
  int cd = mc_channeldata_write(stream + n, sizeof stream - n, 0x4123, (const uint8_t *)"abcde", 5, true);
  CHECK_EQ_INT(cd, 12);
  n += 12;
  memcpy(stream + n, vec_resp4, sizeof vec_resp4);
  n += sizeof vec_resp4;
  CHECK_EQ_INT(mc_channeldata_write(stream + n, sizeof stream - n, 0x4000, NULL, 0, true), 4);
  n += 4;
  const size_t want[] = {sizeof vec_req, 12, sizeof vec_resp4, 4};

  /* Whole buffer at once: frame after frame. */
  size_t off = 0, k = 0;
  while (off < n && k < 4) {
    int f = mc_stun_stream_frame_len(stream + off, n - off);
    CHECK_EQ_INT(f, want[k]);
    if (f <= 0) break;
    off += (size_t)f;
    k++;
  }
  CHECK_EQ_INT(off, n);
  CHECK_EQ_INT(k, 4);

  /* Too few bytes to tell: 0; STUN needs 8 (length and cookie), ChannelData 4. */
  for (size_t i = 0; i < 8; i++) CHECK_EQ_INT(mc_stun_stream_frame_len(vec_req, i), 0);
  CHECK_EQ_INT(mc_stun_stream_frame_len(vec_req, 8), 108);
  const uint8_t *c = stream + sizeof vec_req;
  for (size_t i = 0; i < 4; i++) CHECK_EQ_INT(mc_stun_stream_frame_len(c, i), 0);
  CHECK_EQ_INT(mc_stun_stream_frame_len(c, 4), 12);

  /* Neither STUN nor ChannelData. */
  const uint8_t rtp[] = {0x80, 0x60, 0, 1, 0, 0, 0, 0};
  CHECK_EQ_INT(mc_stun_stream_frame_len(rtp, sizeof rtp), MC_EPARSE);
  const uint8_t res[] = {0x50, 0x00, 0, 1};
  CHECK_EQ_INT(mc_stun_stream_frame_len(res, sizeof res), MC_EPARSE);
  const uint8_t nocookie[] = {0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4};
  CHECK_EQ_INT(mc_stun_stream_frame_len(nocookie, sizeof nocookie), MC_EPARSE);
  const uint8_t oddlen[] = {0x00, 0x01, 0x00, 0x06, 0x21, 0x12, 0xa4, 0x42};
  CHECK_EQ_INT(mc_stun_stream_frame_len(oddlen, sizeof oddlen), MC_EPARSE);

  /* Partial reads: feed the stream in chunks of every size from 1 to 13
   * through a reassembly buffer, and get the same four frames back, each of
   * which parses. */
  for (size_t chunk = 1; chunk <= 13; chunk++) {
    uint8_t acc[512];
    size_t have = 0, fed = 0, frames = 0;
    bool ok = true;
    while (fed < n || have > 0) {
      if (fed < n) {
        size_t take = MC_MIN(chunk, n - fed);
        memcpy(acc + have, stream + fed, take);
        have += take;
        fed += take;
      }
      for (;;) {
        int f = mc_stun_stream_frame_len(acc, have);
        if (f < 0) ok = false;
        if (f <= 0 || (size_t)f > have) break;
        if (frames >= 4 || (size_t)f != want[frames]) ok = false;
        if (acc[0] < 0x40) {
          mc_stun_msg m;
          if (mc_stun_parse(acc, (size_t)f, &m) != MC_OK) ok = false;
        } else {
          uint16_t ch;
          const uint8_t *d;
          size_t dl;
          if (mc_channeldata_parse(acc, (size_t)f, &ch, &d, &dl) != MC_OK) ok = false;
          if (frames == 1 && (ch != 0x4123 || dl != 5 || memcmp(d, "abcde", 5) != 0)) ok = false;
          if (frames == 3 && (ch != 0x4000 || dl != 0)) ok = false;
        }
        memmove(acc, acc + f, have - (size_t)f);
        have -= (size_t)f;
        frames++;
      }
      if (!ok || (fed == n && have > 0 && mc_stun_stream_frame_len(acc, have) >= 0 &&
                  (size_t)mc_stun_stream_frame_len(acc, have) > have))
        break;
    }
    CHECK(ok);
    CHECK_EQ_INT(frames, 4);
    CHECK_EQ_INT(have, 0);
  }
}

/* ---- transactions, driven by a fake clock ---- */
static int user_a, user_b, user_c, user_retry; /* distinct txn_user pointers */
struct txn_log {
  uint64_t now;
  uint64_t send_at[16];
  void *send_user[16];
  size_t sends;
  uint64_t done_at[8];
  void *done_user[8];
  int done_err[8];
  uint16_t done_code[8];
  size_t dones;
  mc_stun_txn_table *table;
  bool restart_on_done; /* done starts a follow-up transaction (like a 401 retry) */
};

static void log_send(void *txn_user, const uint8_t *msg, size_t len, void *table_user) {
  struct txn_log *l = table_user;
  (void)msg;
  (void)len;
  if (l->sends < MC_ARRAY_LEN(l->send_at)) {
    l->send_at[l->sends] = l->now;
    l->send_user[l->sends] = txn_user;
  }
  l->sends++;
}

static void log_done(void *txn_user, int err, const mc_stun_msg *msg, const uint8_t *buf, size_t len,
                     void *table_user) {
  struct txn_log *l = table_user;
  (void)buf;
  (void)len;
  if (l->dones < MC_ARRAY_LEN(l->done_at)) {
    l->done_at[l->dones] = l->now;
    l->done_user[l->dones] = txn_user;
    l->done_err[l->dones] = err;
    l->done_code[l->dones] = msg && msg->has_error ? msg->error_code : 0;
  }
  l->dones++;
  if (l->restart_on_done) {
    l->restart_on_done = false;
    uint8_t req[64];
    mc_stun_writer w;
    mc_stun_begin(&w, req, sizeof req, MC_STUN_ALLOCATE, MC_STUN_REQUEST, NULL);
    int n = mc_stun_finish(&w);
    if (n > 0) mc_stun_txn_start(l->table, req, (size_t)n, 0, false, &user_retry, l->now);
  }
}

static const struct mc_stun_txn_callbacks log_cbs = {log_send, log_done};

static int make_request(uint8_t *buf, size_t cap, uint16_t method, uint8_t tag) {
  uint8_t txid[12];
  memset(txid, tag, sizeof txid);
  mc_stun_writer w;
  mc_stun_begin(&w, buf, cap, method, MC_STUN_REQUEST, txid);
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, "medcall test");
  return mc_stun_finish(&w);
}

/* Runs the table to completion by jumping to each deadline. */
static void run_until_idle(struct txn_log *l) {
  for (int guard = 0; guard < 100; guard++) {
    uint64_t d = mc_stun_txn_next_deadline(l->table);
    if (d == UINT64_MAX) return;
    /* One millisecond early nothing happens. */
    size_t sends = l->sends, dones = l->dones;
    l->now = d - 1;
    mc_stun_txn_tick(l->table, l->now);
    CHECK(l->sends == sends && l->dones == dones);
    l->now = d;
    mc_stun_txn_tick(l->table, l->now);
  }
  CHECK(!"table never went idle");
}

static void test_txn_udp_schedule(void) {
  struct txn_log l;
  memset(&l, 0, sizeof l);
  l.table = mc_stun_txn_table_new(&log_cbs, &l);
  CHECK(l.table != NULL);
  if (!l.table) return;
  CHECK(mc_stun_txn_next_deadline(l.table) == UINT64_MAX);
  uint8_t req[64];
  int n = make_request(req, sizeof req, MC_STUN_BINDING, 1);
  l.now = 10000;
  CHECK_EQ_INT(mc_stun_txn_start(l.table, req, (size_t)n, 0, false, &user_a, l.now), MC_OK);
  CHECK_EQ_INT(l.sends, 1);
  CHECK(mc_stun_txn_next_deadline(l.table) == 10500);
  run_until_idle(&l);
  /* RFC 8489 6.2.1: sends at 0, 500, 1500, 3500, 7500, 15500, 31500 ms and
   * the transaction fails at 39500 ms (Rc = 7, Rm = 16, RTO = 500 ms). */
  static const uint64_t want[] = {0, 500, 1500, 3500, 7500, 15500, 31500};
  CHECK_EQ_INT(l.sends, 7);
  for (size_t i = 0; i < 7; i++) CHECK_EQ_INT(l.send_at[i], 10000 + want[i]);
  CHECK_EQ_INT(l.dones, 1);
  CHECK_EQ_INT(l.done_err[0], MC_ETIMEDOUT);
  CHECK_EQ_INT(l.done_at[0], 10000 + 39500);
  CHECK(l.done_user[0] == &user_a);
  CHECK_EQ_INT(mc_stun_txn_count(l.table), 0);

  /* A custom RTO scales the whole schedule. */
  memset(l.send_at, 0, sizeof l.send_at);
  l.sends = l.dones = 0;
  l.now = 0;
  CHECK_EQ_INT(mc_stun_txn_start(l.table, req, (size_t)n, 100, false, &user_b, l.now), MC_OK);
  run_until_idle(&l);
  static const uint64_t want100[] = {0, 100, 300, 700, 1500, 3100, 6300};
  CHECK_EQ_INT(l.sends, 7);
  for (size_t i = 0; i < 7; i++) CHECK_EQ_INT(l.send_at[i], want100[i]);
  CHECK_EQ_INT(l.done_at[0], 7900);

  /* A late tick sends once, not a burst, and the schedule continues from
   * when that send really happened. */
  l.sends = l.dones = 0;
  l.now = 0;
  CHECK_EQ_INT(mc_stun_txn_start(l.table, req, (size_t)n, 0, false, &user_c, l.now), MC_OK);
  l.now = 5000;
  mc_stun_txn_tick(l.table, l.now);
  CHECK_EQ_INT(l.sends, 2);
  CHECK(mc_stun_txn_next_deadline(l.table) == 6000);
  mc_stun_txn_table_free(l.table); /* pending: no callback */
  CHECK_EQ_INT(l.dones, 0);
}

static void test_txn_reliable(void) {
  struct txn_log l;
  memset(&l, 0, sizeof l);
  l.table = mc_stun_txn_table_new(&log_cbs, &l);
  uint8_t req[64];
  int n = make_request(req, sizeof req, MC_STUN_ALLOCATE, 2);
  l.now = 123;
  CHECK_EQ_INT(mc_stun_txn_start(l.table, req, (size_t)n, 0, true, NULL, l.now), MC_OK);
  CHECK(mc_stun_txn_next_deadline(l.table) == 123 + 39500);
  run_until_idle(&l);
  CHECK_EQ_INT(l.sends, 1);
  CHECK_EQ_INT(l.dones, 1);
  CHECK_EQ_INT(l.done_err[0], MC_ETIMEDOUT);
  CHECK_EQ_INT(l.done_at[0], 123 + 39500);
  mc_stun_txn_table_free(l.table);
}

static void test_txn_matching(void) {
  struct txn_log l;
  memset(&l, 0, sizeof l);
  l.table = mc_stun_txn_table_new(&log_cbs, &l);
  uint8_t r1[64], r2[64], r3[64];
  int n1 = make_request(r1, sizeof r1, MC_STUN_BINDING, 1);
  int n2 = make_request(r2, sizeof r2, MC_STUN_ALLOCATE, 2);
  int n3 = make_request(r3, sizeof r3, MC_STUN_BINDING, 3);
  CHECK_EQ_INT(mc_stun_txn_start(l.table, r1, (size_t)n1, 0, false, &user_a, 0), MC_OK);
  CHECK_EQ_INT(mc_stun_txn_start(l.table, r2, (size_t)n2, 0, false, &user_a, 0), MC_OK);
  CHECK_EQ_INT(mc_stun_txn_start(l.table, r3, (size_t)n3, 0, false, &user_b, 0), MC_OK);
  CHECK_EQ_INT(mc_stun_txn_start(l.table, r3, (size_t)n3, 0, false, &user_b, 0), MC_EINVAL); /* same txid */
  CHECK_EQ_INT(mc_stun_txn_count(l.table), 3);
  CHECK_EQ_INT(l.sends, 3);

  /* A 401 error response to the Allocate matches by txid and method. */
  uint8_t resp[128];
  mc_stun_writer w;
  mc_stun_begin(&w, resp, sizeof resp, MC_STUN_ALLOCATE, MC_STUN_ERROR, r2 + 8);
  mc_stun_put_error(&w, 401, "Unauthorized");
  int rn = mc_stun_finish(&w);
  mc_stun_msg m;
  CHECK_EQ_INT(mc_stun_parse(resp, (size_t)rn, &m), MC_OK);
  l.restart_on_done = true; /* the done callback starts another transaction */
  CHECK(mc_stun_txn_handle_response(l.table, &m, resp, (size_t)rn));
  CHECK_EQ_INT(l.dones, 1);
  CHECK_EQ_INT(l.done_err[0], MC_OK);
  CHECK_EQ_INT(l.done_code[0], 401);
  CHECK(l.done_user[0] == &user_a);
  CHECK_EQ_INT(mc_stun_txn_count(l.table), 3); /* r1, r3 and the retry */
  CHECK(!mc_stun_txn_handle_response(l.table, &m, resp, (size_t)rn)); /* already done */

  /* Unknown txid, wrong method, or a request class: no match. */
  uint8_t other[12];
  memset(other, 9, sizeof other);
  mc_stun_begin(&w, resp, sizeof resp, MC_STUN_BINDING, MC_STUN_SUCCESS, other);
  rn = mc_stun_finish(&w);
  CHECK_EQ_INT(mc_stun_parse(resp, (size_t)rn, &m), MC_OK);
  CHECK(!mc_stun_txn_handle_response(l.table, &m, resp, (size_t)rn));
  mc_stun_begin(&w, resp, sizeof resp, MC_STUN_ALLOCATE, MC_STUN_SUCCESS, r1 + 8);
  rn = mc_stun_finish(&w);
  CHECK_EQ_INT(mc_stun_parse(resp, (size_t)rn, &m), MC_OK);
  CHECK(!mc_stun_txn_handle_response(l.table, &m, resp, (size_t)rn));
  mc_stun_begin(&w, resp, sizeof resp, MC_STUN_BINDING, MC_STUN_REQUEST, r1 + 8);
  rn = mc_stun_finish(&w);
  CHECK_EQ_INT(mc_stun_parse(resp, (size_t)rn, &m), MC_OK);
  CHECK(!mc_stun_txn_handle_response(l.table, &m, resp, (size_t)rn));
  CHECK_EQ_INT(l.dones, 1);

  /* Cancel drops A's remaining transaction silently. */
  mc_stun_txn_cancel_user(l.table, &user_a);
  CHECK_EQ_INT(mc_stun_txn_count(l.table), 2);
  mc_stun_begin(&w, resp, sizeof resp, MC_STUN_BINDING, MC_STUN_SUCCESS, r1 + 8);
  rn = mc_stun_finish(&w);
  CHECK_EQ_INT(mc_stun_parse(resp, (size_t)rn, &m), MC_OK);
  CHECK(!mc_stun_txn_handle_response(l.table, &m, resp, (size_t)rn));

  /* Run out the clock: B and the retry time out, nothing for A. */
  run_until_idle(&l);
  CHECK_EQ_INT(l.dones, 3);
  CHECK_EQ_INT(l.done_err[1], MC_ETIMEDOUT);
  CHECK_EQ_INT(l.done_err[2], MC_ETIMEDOUT);
  bool saw_b = false, saw_retry = false;
  for (size_t i = 1; i < 3; i++) {
    if (l.done_user[i] == &user_b) saw_b = true;
    if (l.done_user[i] == &user_retry) saw_retry = true;
    CHECK(l.done_user[i] != &user_a);
  }
  CHECK(saw_b && saw_retry);
  for (size_t i = 0; i < MC_MIN(l.sends, MC_ARRAY_LEN(l.send_user)); i++)
    CHECK(l.send_at[i] == 0 || l.send_user[i] != &user_a);
  CHECK_EQ_INT(mc_stun_txn_count(l.table), 0);
  mc_stun_txn_table_free(l.table);
}

int main(void) {
  test_vector_request();
  test_vector_responses();
  test_vector_long_term();
  test_round_trip_all();
  test_message_types();
  test_malformed();
  test_ordering_and_unknown();
  test_writer_errors();
  test_channeldata();
  test_stream_framing();
  test_txn_udp_schedule();
  test_txn_reliable();
  test_txn_matching();
  return CHECK_DONE();
}
