/* libFuzzer target: TURN ChannelData parsing and framing. */
#include <stdlib.h>
#include <string.h>

#include "stun/stun.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint16_t ch = 0;
  const uint8_t *d = NULL;
  size_t dl = 0;
  int err = mc_channeldata_parse(data, size, &ch, &d, &dl);
  int f = mc_stun_stream_frame_len(data, size);
  if (err == MC_OK) {
    FUZZ_ASSERT(ch >= MC_TURN_CHANNEL_MIN && ch <= MC_TURN_CHANNEL_MAX);
    FUZZ_ASSERT(d == data + 4 && dl <= size - 4);
    /* Stream framing agrees with the parser about where the frame ends. */
    FUZZ_ASSERT(f == (int)(4 + ((dl + 3) & ~(size_t)3)));
    static uint8_t out[4 + 0xFFFF + 3];
    for (int pad = 0; pad < 2; pad++) {
      int n = mc_channeldata_write(out, sizeof out, ch, d, dl, pad);
      FUZZ_ASSERT(n == (int)(pad ? 4 + ((dl + 3) & ~(size_t)3) : 4 + dl));
      FUZZ_ASSERT(memcmp(out, data, 4 + dl) == 0);
      uint16_t ch2;
      const uint8_t *d2;
      size_t dl2;
      FUZZ_ASSERT(mc_channeldata_parse(out, (size_t)n, &ch2, &d2, &dl2) == MC_OK);
      FUZZ_ASSERT(ch2 == ch && dl2 == dl);
    }
  } else {
    FUZZ_ASSERT(err == MC_EPARSE);
  }
  /* Walk the input as a stream: every frame length is progress or a stop. */
  size_t off = 0;
  while (off < size) {
    int fl = mc_stun_stream_frame_len(data + off, size - off);
    if (fl <= 0) break;
    FUZZ_ASSERT(fl >= 4);
    if ((size_t)fl > size - off) break;
    off += (size_t)fl;
  }
  return 0;
}
