/* Private to src/stun: helpers shared by the parser, the writer and the
 * integrity code. Nothing outside src/stun includes this. */
#ifndef MC_STUN_PRIVATE_H
#define MC_STUN_PRIVATE_H

#include "stun/stun.h"

/* RFC 8489 14.7: FINGERPRINT is CRC-32 XOR this constant ("STUN"). */
#define MC_STUN_FINGERPRINT_XOR 0x5354554Eu

/* RFC 8489 14.3: USERNAME is fewer than 509 bytes. ICE usernames are
 * "ufrag:ufrag" with ufrags up to 256 characters (RFC 8445 15.4), 513 bytes,
 * so we accept up to that rather than refuse a legal ICE peer. */
#define MC_STUN_MAX_USERNAME 513
/* RFC 8489 14.9/14.10/14.8/14.14: REALM, NONCE, ERROR-CODE reason and
 * SOFTWARE are fewer than 128 characters and at most 763 bytes. */
#define MC_STUN_MAX_TEXT_BYTES 763
#define MC_STUN_MAX_TEXT_CHARS 127

/* RFC 8489 5: the 14-bit message type interleaves method and class bits:
 * M11..M7 C1 M6..M4 C0 M3..M0. */
static inline uint16_t mc_stun_type_encode(uint16_t method, uint8_t cls) {
  return (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                    ((cls & 1) << 4) | ((cls & 2) << 7));
}
static inline void mc_stun_type_decode(uint16_t type, uint16_t *method, uint8_t *cls) {
  *method = (uint16_t)((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
  *cls = (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
}

/* CRC-32 of buf XOR the STUN constant. */
uint32_t mc_stun_fingerprint_value(const uint8_t *buf, size_t len);

/* HMAC of header (with its length field replaced by length_field) followed
 * by body[0..body_len). md_name: "SHA1" or "SHA256". out must hold 32 bytes. */
int mc_stun_hmac(const char *md_name, const uint8_t *key, size_t key_len, const uint8_t header[MC_STUN_HEADER_LEN],
                 uint16_t length_field, const uint8_t *body, size_t body_len, uint8_t out[32]);

#endif
