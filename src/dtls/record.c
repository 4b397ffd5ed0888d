/* Framing check of a received datagram before OpenSSL parses it: an
 * off-path sender can put anything with a first byte of 20..63 on the ICE
 * path, and a malformed epoch-0 handshake fragment would make OpenSSL abort
 * the handshake. Nothing here trusts a length without checking it against
 * the bytes there are. */
#include "dtls/dtls_private.h"
#include "util/util.h"

/* RFC 6347 4.1: TLSCiphertext.length must not exceed 2^14 + 2048. */
#define MAX_RECORD_BODY (16384 + 2048)

enum {
  CT_CHANGE_CIPHER_SPEC = 20,
  CT_ALERT = 21,
  CT_HANDSHAKE = 22,
  CT_APPLICATION_DATA = 23,
};

static uint32_t get_be24(const uint8_t *p) { return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2]; }

/* RFC 6347 4.2.2: handshake header msg_type(1) length(3) message_seq(2)
 * fragment_offset(3) fragment_length(3); a record may hold several. */
static int check_handshake(const uint8_t *p, size_t len) {
  if (len == 0) return MC_EPARSE;
  while (len > 0) {
    if (len < MC_DTLS_HANDSHAKE_HEADER_LEN) return MC_EPARSE;
    uint32_t msg_len = get_be24(p + 1), frag_off = get_be24(p + 6), frag_len = get_be24(p + 9);
    if (frag_len > len - MC_DTLS_HANDSHAKE_HEADER_LEN) return MC_EPARSE;
    if ((uint64_t)frag_off + frag_len > msg_len) return MC_EPARSE;
    p += MC_DTLS_HANDSHAKE_HEADER_LEN + frag_len;
    len -= MC_DTLS_HANDSHAKE_HEADER_LEN + frag_len;
  }
  return MC_OK;
}

int mc_dtls_record_check(const uint8_t *buf, size_t len) {
  if (!buf || len == 0) return MC_EPARSE;
  while (len > 0) {
    /* type(1) version(2) epoch(2) sequence_number(6) length(2) */
    if (len < MC_DTLS_RECORD_HEADER_LEN) return MC_EPARSE;
    uint8_t type = buf[0];
    uint16_t version = mc_get_be16(buf + 1), epoch = mc_get_be16(buf + 3);
    size_t body = mc_get_be16(buf + 11);
    if (type < CT_CHANGE_CIPHER_SPEC || type > CT_APPLICATION_DATA) return MC_EPARSE;
    /* DTLS 1.0 (0xFEFF, in ClientHello records) or 1.2 (0xFEFD). */
    if (version != 0xFEFF && version != 0xFEFD) return MC_EPARSE;
    if (body == 0 || body > MAX_RECORD_BODY || body > len - MC_DTLS_RECORD_HEADER_LEN) return MC_EPARSE;
    const uint8_t *p = buf + MC_DTLS_RECORD_HEADER_LEN;
    if (epoch == 0) {
      /* Cleartext: its structure is known. */
      if (type == CT_HANDSHAKE && check_handshake(p, body) < 0) return MC_EPARSE;
      if (type == CT_CHANGE_CIPHER_SPEC && (body != 1 || p[0] != 1)) return MC_EPARSE;
      if (type == CT_ALERT && body != 2) return MC_EPARSE;
      if (type == CT_APPLICATION_DATA) return MC_EPARSE;
    }
    buf += MC_DTLS_RECORD_HEADER_LEN + body;
    len -= MC_DTLS_RECORD_HEADER_LEN + body;
  }
  return MC_OK;
}
