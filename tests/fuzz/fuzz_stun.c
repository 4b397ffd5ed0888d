/* libFuzzer target: STUN parse, integrity with a fixed key, stream framing,
 * and a writer round trip of what the parser accepted. */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "stun/stun.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

static bool addr_same(const mc_addr *a, const mc_addr *b) {
  if (a->u.sa.sa_family != b->u.sa.sa_family) return false;
  if (a->u.sa.sa_family == AF_INET)
    return a->u.in4.sin_port == b->u.in4.sin_port && memcmp(&a->u.in4.sin_addr, &b->u.in4.sin_addr, 4) == 0;
  return a->u.in6.sin6_port == b->u.in6.sin6_port && memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
}

/* Re-encodes the decoded fields and checks the parser reads them back. */
static void round_trip(const mc_stun_msg *m, size_t in_len) {
  static uint8_t buf[MC_STUN_HEADER_LEN + 0xFFFF];
  static const uint8_t key[] = "round-trip-key";
  mc_stun_writer w;
  mc_stun_begin(&w, buf, sizeof buf, m->method, m->cls, m->txid);
  if (m->has_mapped) mc_stun_put_addr(&w, MC_STUN_ATTR_MAPPED_ADDRESS, &m->mapped);
  if (m->has_xor_mapped) mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &m->xor_mapped);
  if (m->has_xor_peer) mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &m->xor_peer);
  if (m->has_xor_relayed) mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_RELAYED_ADDRESS, &m->xor_relayed);
  if (m->has_alternate) mc_stun_put_addr(&w, MC_STUN_ATTR_ALTERNATE_SERVER, &m->alternate);
  if (m->has_username) mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, m->username);
  if (m->has_realm) mc_stun_put_string(&w, MC_STUN_ATTR_REALM, m->realm);
  if (m->has_nonce) mc_stun_put_string(&w, MC_STUN_ATTR_NONCE, m->nonce);
  if (m->has_software) mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, m->software);
  if (m->has_error) mc_stun_put_error(&w, m->error_code, m->error_reason);
  if (m->unknown_count) mc_stun_put_unknown(&w, m->unknown, m->unknown_count);
  if (m->has_priority) mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, m->priority);
  if (m->has_use_candidate) mc_stun_put_flag(&w, MC_STUN_ATTR_USE_CANDIDATE);
  if (m->has_ice_controlling) mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLING, m->ice_tiebreaker);
  else if (m->has_ice_controlled) mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLED, m->ice_tiebreaker);
  if (m->has_lifetime) mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, m->lifetime);
  if (m->has_channel_number) mc_stun_put_channel_number(&w, m->channel_number);
  if (m->has_requested_transport) mc_stun_put_requested_transport(&w, m->requested_transport);
  if (m->has_data) mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, m->data, m->data_len);
  mc_stun_put_integrity(&w, key, sizeof key - 1);
  mc_stun_put_integrity_sha256(&w, key, sizeof key - 1);
  mc_stun_put_fingerprint(&w);
  int n = mc_stun_finish(&w);
  /* The copy adds up to 68 bytes of trailer to what was accepted. */
  if (n == MC_ETOOBIG && in_len + 68 > sizeof buf) return;
  FUZZ_ASSERT(n > 0);

  mc_stun_msg r;
  FUZZ_ASSERT(mc_stun_parse(buf, (size_t)n, &r) == MC_OK);
  FUZZ_ASSERT(r.method == m->method && r.cls == m->cls && memcmp(r.txid, m->txid, 12) == 0);
  FUZZ_ASSERT(r.has_mapped == m->has_mapped && (!r.has_mapped || addr_same(&r.mapped, &m->mapped)));
  FUZZ_ASSERT(r.has_xor_mapped == m->has_xor_mapped && (!r.has_xor_mapped || addr_same(&r.xor_mapped, &m->xor_mapped)));
  FUZZ_ASSERT(r.has_xor_peer == m->has_xor_peer && (!r.has_xor_peer || addr_same(&r.xor_peer, &m->xor_peer)));
  FUZZ_ASSERT(r.has_xor_relayed == m->has_xor_relayed &&
              (!r.has_xor_relayed || addr_same(&r.xor_relayed, &m->xor_relayed)));
  FUZZ_ASSERT(r.has_alternate == m->has_alternate && (!r.has_alternate || addr_same(&r.alternate, &m->alternate)));
  FUZZ_ASSERT(r.has_username == m->has_username && strcmp(r.username, m->username) == 0);
  FUZZ_ASSERT(r.has_realm == m->has_realm && strcmp(r.realm, m->realm) == 0);
  FUZZ_ASSERT(r.has_nonce == m->has_nonce && strcmp(r.nonce, m->nonce) == 0);
  FUZZ_ASSERT(r.has_software == m->has_software && strcmp(r.software, m->software) == 0);
  FUZZ_ASSERT(r.has_error == m->has_error && r.error_code == m->error_code &&
              strcmp(r.error_reason, m->error_reason) == 0);
  FUZZ_ASSERT(r.unknown_count == m->unknown_count &&
              memcmp(r.unknown, m->unknown, m->unknown_count * sizeof m->unknown[0]) == 0);
  FUZZ_ASSERT(r.has_priority == m->has_priority && r.priority == m->priority);
  FUZZ_ASSERT(r.has_use_candidate == m->has_use_candidate);
  FUZZ_ASSERT(r.ice_tiebreaker == m->ice_tiebreaker);
  FUZZ_ASSERT(r.has_lifetime == m->has_lifetime && r.lifetime == m->lifetime);
  FUZZ_ASSERT(r.has_channel_number == m->has_channel_number && r.channel_number == m->channel_number);
  FUZZ_ASSERT(r.has_requested_transport == m->has_requested_transport &&
              r.requested_transport == m->requested_transport);
  FUZZ_ASSERT(r.has_data == m->has_data && r.data_len == m->data_len &&
              (!r.data_len || memcmp(r.data, m->data, r.data_len) == 0));
  FUZZ_ASSERT(r.fingerprint_ok && r.integrity_offset && r.integrity_sha256_offset);
  FUZZ_ASSERT(mc_stun_check_integrity(buf, (size_t)n, &r, key, sizeof key - 1) == MC_OK);
  FUZZ_ASSERT(mc_stun_stream_frame_len(buf, (size_t)n) == n);
  FUZZ_ASSERT(mc_stun_is_message(buf, (size_t)n) == (buf[0] <= 3));
}

static void one(const uint8_t *data, size_t size) {
  static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";
  mc_stun_msg m;
  bool looks = mc_stun_is_message(data, size);
  int err = mc_stun_parse(data, size, &m);
  if (err == MC_OK) {
    FUZZ_ASSERT(m.length == size);
    FUZZ_ASSERT(!looks || m.has_cookie);
    FUZZ_ASSERT(!m.has_data || (m.data >= data && m.data + m.data_len <= data + size));
    FUZZ_ASSERT(m.unknown_required_count <= MC_STUN_MAX_UNKNOWN && m.unknown_count <= MC_STUN_MAX_UNKNOWN);
    FUZZ_ASSERT(!m.has_error || (m.error_code >= 300 && m.error_code <= 699));
    FUZZ_ASSERT(m.fingerprint_ok == (m.fingerprint_offset != 0));
    int ie = mc_stun_check_integrity(data, size, &m, key, sizeof key - 1);
    FUZZ_ASSERT(ie == MC_OK || ie == MC_EAUTH || ie == MC_ENOTFOUND);
    FUZZ_ASSERT((ie == MC_ENOTFOUND) == (!m.integrity_offset && !m.integrity_sha256_offset));
    round_trip(&m, size);
  }
  int f = mc_stun_stream_frame_len(data, size);
  FUZZ_ASSERT(f == 0 || f == MC_EPARSE || (f >= 4 && f <= 20 + 0xFFFF));
  if (err == MC_OK && m.has_cookie) FUZZ_ASSERT(f == (int)size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size);
  /* A mutated message almost always has a stale FINGERPRINT, which stops
   * the parser early; also try a copy with the CRC repaired so the
   * attribute decoders see the mutations. */
  static uint8_t fixed[MC_STUN_HEADER_LEN + 0xFFFF];
  if (size >= MC_STUN_HEADER_LEN + 8 && size <= sizeof fixed && mc_get_be16(data + size - 8) == 0x8028 &&
      mc_get_be16(data + size - 6) == 4) {
    memcpy(fixed, data, size);
    uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 8)) ^ 0x5354554Eu;
    mc_put_be32(fixed + size - 4, crc);
    one(fixed, size);
  }
  return 0;
}
