/* Fuzz target: a signaling message put together from the WebSocket
 * fragments libwebsockets hands over (mc_signal_rx_add, used by
 * medcall-server and by the app's signaling client), against a model kept
 * by the target: a complete message is the concatenation of its pieces
 * since the first, NUL-terminated; over the cap it is marked and not kept;
 * far over it the connection is closed. Both ways it is used: the server's
 * (a cap, close at four times it) and the client's (close at the cap).
 *
 * Input: one byte of set-up (the cap, which of the two), then pieces
 * [flags][len:2][len bytes], flags: 1 first, 2 binary, 4 last. */
#include <stdlib.h>
#include <string.h>

#include "signal/signal.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max = 1 + (size_t)(data[0] & 0x7f) * 8;
  size_t close_beyond = (data[0] & 0x80) ? max : 4 * max;
  struct mc_signal_rx r;
  memset(&r, 0, sizeof r);
  /* the model */
  uint8_t *want = malloc(size + 1);
  if (!want) return 0;
  size_t want_len = 0, total = 0;
  bool binary = false, over = false;
  size_t i = 1;
  while (size - i >= 3) {
    uint8_t fl = data[i];
    size_t n = mc_get_be16(data + i + 1);
    i += 3;
    if (n > size - i) n = size - i;
    const uint8_t *piece = data + i;
    i += n;
    bool first = fl & 1, last = fl & 4;
    /* libwebsockets starts every message with a first piece; until one
     * comes, pieces add to what is there. */
    if (first) {
      want_len = total = 0;
      binary = fl & 2;
      over = false;
    }
    total += n;
    if (!over && want_len + n > max) over = true;
    if (!over) {
      memcpy(want + want_len, piece, n);
      want_len += n;
    }
    enum mc_signal_rx_step st = mc_signal_rx_add(&r, first, fl & 2, last, piece, n, max, close_beyond);
    if (total > close_beyond) {
      FUZZ_ASSERT(st == MC_SIGNAL_RX_CLOSE);
      break; /* the connection is gone */
    }
    FUZZ_ASSERT(r.total == total && r.binary == binary && r.over == over && r.len == want_len && r.len <= max);
    if (!last) {
      FUZZ_ASSERT(st == MC_SIGNAL_RX_MORE);
      continue;
    }
    FUZZ_ASSERT(st == MC_SIGNAL_RX_DONE);
    FUZZ_ASSERT(over == (total > max));
    if (r.buf) FUZZ_ASSERT(r.cap > r.len && r.buf[r.len] == '\0');
    if (!over) FUZZ_ASSERT(r.buf && (!want_len || !memcmp(r.buf, want, want_len)));
    /* the server lets a big buffer go after its message, the client every one */
    if (r.cap > 64 || (data[0] & 0x80)) {
      mc_signal_rx_free(&r);
      want_len = total = 0;
      binary = over = false;
    }
  }
  mc_signal_rx_free(&r);
  free(want);
  return 0;
}
