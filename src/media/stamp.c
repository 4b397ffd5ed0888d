/* The capture-time stamp of issue 5 item 1 (layout in media.h). The browser
 * test pages (assets/web) draw the same 40 squares from a canvas, so the
 * geometry here must not change without them. */
#include <string.h>

#include "media/media.h"

#define STAMP_WHITE 235 /* BT.601 limited range: what a browser's RGB 255 becomes */
#define STAMP_BLACK 16
#define STAMP_THRESHOLD 128

uint8_t mc_stamp_checksum(uint32_t v) {
  return (uint8_t)((v >> 24) ^ (v >> 16) ^ (v >> 8) ^ v);
}

static int stamp_side(const struct mc_i420 *f) {
  if (!f || !f->y || f->width < 2 * MC_STAMP_BITS) return 0;
  int s = f->width / MC_STAMP_BITS;
  return f->height >= s ? s : 0;
}

static bool stamp_bit(uint32_t v, int i) {
  if (i < 32) return (v >> (31 - i)) & 1u;
  return (mc_stamp_checksum(v) >> (39 - i)) & 1u;
}

int mc_stamp_write(struct mc_i420 *f, uint32_t wall_ms) {
  int s = stamp_side(f);
  if (!s) return MC_EINVAL;
  for (int r = 0; r < s; r++) {
    uint8_t *row = f->y + (size_t)r * f->stride_y;
    for (int i = 0; i < MC_STAMP_BITS; i++)
      memset(row + i * s, stamp_bit(wall_ms, i) ? STAMP_WHITE : STAMP_BLACK, (size_t)s);
  }
  /* Chroma rows that lie (even partly) under the stamp go neutral, so the
   * squares read as grey levels whatever the pattern drew below. */
  int crows = (s + 1) / 2, ccols = (MC_STAMP_BITS * s + 1) / 2;
  for (int r = 0; r < crows; r++) {
    memset(f->u + (size_t)r * f->stride_u, 128, (size_t)ccols);
    memset(f->v + (size_t)r * f->stride_v, 128, (size_t)ccols);
  }
  return 0;
}

int mc_stamp_read(const struct mc_i420 *f, uint32_t *wall_ms) {
  int s = stamp_side(f);
  if (!s || !wall_ms) return MC_EINVAL;
  /* The middle half of each square: edges blur and ring after coding. */
  int lo = s / 4, hi = s - s / 4;
  if (hi <= lo) hi = lo + 1;
  uint64_t bits = 0;
  for (int i = 0; i < MC_STAMP_BITS; i++) {
    unsigned sum = 0, n = 0;
    for (int r = lo; r < hi; r++) {
      const uint8_t *p = f->y + (size_t)r * f->stride_y + (size_t)i * s;
      for (int c = lo; c < hi; c++) sum += p[c], n++;
    }
    bits = (bits << 1) | (sum >= (unsigned)STAMP_THRESHOLD * n ? 1u : 0u);
  }
  uint32_t v = (uint32_t)(bits >> 8);
  if ((uint8_t)(bits & 0xff) != mc_stamp_checksum(v)) return MC_EPARSE;
  *wall_ms = v;
  return 0;
}
