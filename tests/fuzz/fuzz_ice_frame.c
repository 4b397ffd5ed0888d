/* libFuzzer target: the RFC 4571 framer of ICE-TCP connections (a peer's
 * byte stream, cut into pieces at points the input chooses). */
#include <stdlib.h>
#include <string.h>

#include "ice/ice.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

struct seen {
  size_t frames, bytes;
};

static int on_frame(const uint8_t *f, size_t len, void *user) {
  struct seen *s = user;
  FUZZ_ASSERT(len <= MC_ICE_FRAME_MAX);
  FUZZ_ASSERT(len == 0 || f != NULL);
  /* Touch every byte: ASan sees a frame that points outside its buffer. */
  volatile uint8_t x = 0;
  for (size_t i = 0; i < len; i++) x ^= f[i];
  (void)x;
  s->frames++;
  s->bytes += 2 + len;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mc_ice_framer *f;
  if (!f) f = mc_ice_framer_new();
  if (!f || size < 1) return 0;
  /* The first byte picks the piece size (1..256); the rest is the stream. */
  size_t piece = (size_t)data[0] + 1;
  data++;
  size--;
  struct seen s = {0};
  size_t pending_before = mc_ice_framer_pending(f);
  for (size_t off = 0; off < size; off += piece)
    FUZZ_ASSERT(mc_ice_framer_push(f, data + off, MC_MIN(piece, size - off), on_frame, &s) == 0);
  /* Every byte fed is in a delivered frame or held, nothing else. */
  FUZZ_ASSERT(s.bytes + mc_ice_framer_pending(f) == pending_before + size);
  FUZZ_ASSERT(mc_ice_framer_pending(f) < 2 + MC_ICE_FRAME_MAX);
  /* Start the next input on a frame boundary: a fresh framer. */
  mc_ice_framer_free(f);
  f = mc_ice_framer_new();
  return 0;
}
