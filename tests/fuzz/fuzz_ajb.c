/* Fuzz target: the audio jitter buffer (src/rtp/ajb.c) fed what the network
 * decides: sequence numbers, timestamps (jumps, wraps, reordering,
 * duplicates), payload sizes and arrival times, with pops at the audio
 * device's pace in between. Each frame given out must be one that was
 * pushed for that playout slot (its payload carries the timestamp it was
 * pushed with), and the delay the buffer aims for stays within its bounds.
 *
 * Input: a list of operations, each one byte then its arguments:
 *   op % 4 == 0, 1: push [seq delta:1][ts delta:2, signed, in 10 ms
 *     units unless op & 0x80: raw][len:1 (x6, 0..1530)][arrival delta ms:1]
 *   op % 4 == 2: pop (op & 0x40: then peek the next), 20 ms later; a
 *     frame's wish answered (op & 0x10) with a stretch of (op & 0x0f) x 60
 *     samples, added when the wish was slower, removed when faster
 *   op % 4 == 3: the minimum delay (lip sync) set to [ms:2] % 1000 */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

#define MIN_MS 40
#define MAX_MS 400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mc_ajb_config cfg = {MIN_MS, MAX_MS};
  mc_ajb *j;
  if (mc_ajb_new(&cfg, &j) != 0) return 0;
  static uint8_t pkt[1600], out[1600];
  uint16_t seq = 1000;
  uint32_t ts = 0x7fffff00u; /* wraps soon */
  uint64_t now = 1000000;
  uint32_t min_ms = MIN_MS;
  size_t i = 0;
  while (i < size) {
    uint8_t op = data[i++];
    switch (op % 4) {
    case 0:
    case 1: {
      if (size - i < 5) goto done;
      seq = (uint16_t)(seq + data[i]);
      int16_t d = (int16_t)mc_get_be16(data + i + 1);
      ts += (op & 0x80) ? (uint32_t)(int32_t)d : (uint32_t)((int32_t)d * 480);
      size_t len = (size_t)data[i + 3] * 6;
      now += data[i + 4];
      i += 5;
      /* The payload says which timestamp it was pushed with. */
      memset(pkt, (int)op, sizeof pkt);
      if (len >= 4) mc_put_be32(pkt, ts);
      int rc = mc_ajb_push(j, seq, ts, pkt, len, now);
      FUZZ_ASSERT(len == 0 ? rc == MC_EPARSE : len > 1500 ? rc == MC_ETOOBIG : rc == MC_OK);
      break;
    }
    case 2: {
      now += 20;
      size_t len = 0;
      enum mc_ajb_status st;
      size_t cap = (op & 0x20) ? 3 : sizeof out;
      int rc = mc_ajb_pop(j, now, out, cap, &len, &st);
      if (rc == MC_ETOOBIG) {
        FUZZ_ASSERT(len > cap && len <= 1500);
        break;
      }
      FUZZ_ASSERT(rc == MC_OK && st <= MC_AJB_WAITING);
      uint32_t last;
      int lr = mc_ajb_last_ts(j, &last);
      enum mc_ajb_wish w = mc_ajb_wish(j);
      FUZZ_ASSERT(w <= MC_AJB_FASTER && (st == MC_AJB_FRAME || w == MC_AJB_KEEP));
      if ((op & 0x10) && w != MC_AJB_KEEP)
        mc_ajb_stretched(j, (w == MC_AJB_SLOWER ? 1 : -1) * (int)(op & 0x0f) * 60);
      if (st == MC_AJB_FRAME) {
        FUZZ_ASSERT(len >= 1 && len <= 1500 && lr == MC_OK);
        /* RFC 7587: 20 ms is 960 samples; the frame is the one nearest its slot. */
        if (len >= 4) {
          int32_t off = (int32_t)(mc_get_be32(out) - last);
          FUZZ_ASSERT(off >= -480 && off <= 480);
        }
      } else {
        FUZZ_ASSERT(len == 0);
        FUZZ_ASSERT((st == MC_AJB_MISSING) == (lr == MC_OK));
      }
      if (op & 0x40) {
        size_t pl = 0;
        int pr = mc_ajb_peek_next(j, out, sizeof out, &pl);
        FUZZ_ASSERT(pr == MC_ENOTFOUND || (pr == MC_OK && pl >= 1 && pl <= 1500));
      }
      break;
    }
    case 3:
      if (size - i < 2) goto done;
      min_ms = mc_get_be16(data + i) % 1000;
      i += 2;
      mc_ajb_set_min_delay(j, min_ms);
      break;
    }
    struct mc_ajb_stats s;
    mc_ajb_get_stats(j, &s);
    FUZZ_ASSERT(s.target_ms <= MAX_MS && s.target_ms >= MC_MIN(MC_MAX(min_ms, MIN_MS), MAX_MS));
    FUZZ_ASSERT(s.level_ms <= 64 * 20);
  }
done:
  mc_ajb_free(j);
  return 0;
}
