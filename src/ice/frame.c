/* RFC 4571 framing on ICE-TCP connections (RFC 6544 3): each STUN message
 * and each media packet (DTLS, SRTP) is a 16-bit length and that many
 * bytes. The framer holds at most one incomplete frame. */
#include <stdlib.h>
#include <string.h>

#include "ice/ice.h"

#define HEADER_LEN 2

struct mc_ice_framer {
  size_t len; /* bytes held in buf: header and part of the body */
  uint8_t buf[HEADER_LEN + MC_ICE_FRAME_MAX];
};

int mc_ice_frame_header(size_t len, uint8_t out[2]) {
  if (!out) return MC_EINVAL;
  if (len > MC_ICE_FRAME_MAX) return MC_ETOOBIG;
  mc_put_be16(out, (uint16_t)len);
  return 0;
}

mc_ice_framer *mc_ice_framer_new(void) { return calloc(1, sizeof(mc_ice_framer)); }

void mc_ice_framer_free(mc_ice_framer *f) { free(f); }

size_t mc_ice_framer_pending(const mc_ice_framer *f) { return f ? f->len : 0; }

int mc_ice_framer_push(mc_ice_framer *f, const uint8_t *data, size_t len, mc_ice_frame_cb on_frame, void *user) {
  if (!f || (!data && len) || !on_frame) return MC_EINVAL;
  while (len > 0) {
    if (f->len == 0 && len >= HEADER_LEN) {
      /* Whole frames straight from the reader's buffer, no copy. */
      size_t n = mc_get_be16(data);
      if (len - HEADER_LEN >= n) {
        int rc = on_frame(data + HEADER_LEN, n, user);
        if (rc != 0) return rc;
        data += HEADER_LEN + n;
        len -= HEADER_LEN + n;
        continue;
      }
    }
    /* The header first, then the body it announces. */
    size_t want = f->len < HEADER_LEN ? HEADER_LEN : HEADER_LEN + (size_t)mc_get_be16(f->buf);
    size_t take = MC_MIN(want - f->len, len);
    memcpy(f->buf + f->len, data, take);
    f->len += take;
    data += take;
    len -= take;
    if (f->len < HEADER_LEN) continue;
    size_t n = mc_get_be16(f->buf);
    if (f->len == HEADER_LEN + n) {
      f->len = 0;
      int rc = on_frame(f->buf + HEADER_LEN, n, user);
      if (rc != 0) return rc;
    }
  }
  return 0;
}
