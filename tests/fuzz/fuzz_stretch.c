/* Fuzz target: time stretching (src/media/stretch.c) of audio decoded from
 * what the peer sent, which can be anything a decoder puts out. The input
 * is [op:1][hist:2][n:2] then samples (int16, little-endian); op bit 0:
 * slower or faster. What comes out stays in its bounds (ASan), changes the
 * length by a lag in range, and only mixes input samples: no value outside
 * the range of the samples it was made from. */
#include <stdlib.h>
#include <string.h>

#include "media/media.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

#define MAX_IN 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int16_t x[MAX_IN], out[MAX_IN + MC_STRETCH_MAX_LAG];
  if (size < 5) return 0;
  bool slower = data[0] & 1;
  size_t avail = MC_MIN((size - 5) / 2, (size_t)MAX_IN);
  size_t hist = MC_MIN((size_t)(data[1] | data[2] << 8), avail);
  size_t n = MC_MIN((size_t)(data[3] | data[4] << 8), avail - hist);
  for (size_t i = 0; i < hist + n; i++) x[i] = (int16_t)(data[5 + 2 * i] | data[6 + 2 * i] << 8);
  size_t ch = slower ? mc_stretch_slower(x, hist, n, out) : mc_stretch_faster(x, hist, n, out);
  FUZZ_ASSERT(ch == 0 || (ch >= MC_STRETCH_MIN_LAG && ch <= MC_STRETCH_MAX_LAG));
  FUZZ_ASSERT(slower ? ch <= n && ch <= hist : 2 * ch <= n);
  int lo = 32767, hi = -32768;
  for (size_t i = hist >= ch ? hist - ch : 0; i < hist + n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  size_t out_n = slower ? n + ch : n - ch;
  for (size_t i = 0; i < out_n; i++) FUZZ_ASSERT(out[i] >= lo && out[i] <= hi);
  if (ch == 0) FUZZ_ASSERT(n == 0 || memcmp(out, x + hist, n * sizeof *x) == 0);
  return 0;
}
