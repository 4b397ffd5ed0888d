/* Time stretching of decoded speech, WSOLA-style (what NetEq calls
 * preemptive expand and accelerate): one pitch period is repeated or left
 * out, joined by a crossfade over that period, so the jitter buffer can
 * grow or shrink its delay by 2.5-15 ms at a time without playing
 * concealment or skipping 20 ms of speech. 48 kHz mono. Contract in
 * media.h. */
#include <math.h>
#include <string.h>

#include "media/media.h"
#include "util/util.h"

/* The lag search runs on the signal averaged over 4 samples (12 kHz: a
 * voice's fundamental is under 500 Hz), then is refined at 48 kHz around
 * the best coarse lag; a search at full rate costs about 1 ms a frame. */
#define DECIM 4
#define MAX_HIST (2 * MC_STRETCH_MAX_LAG)
#define MAX_NEW (3 * MC_AUDIO_FRAME)
#define MAX_DECIM ((MAX_HIST + MAX_NEW) / DECIM + 1)
/* NetEq's threshold: a normalised correlation over 0.9 between the two
 * periods joined, or a quiet signal (below about -36 dBFS), for which any
 * join is inaudible. Loud noise-like audio is left alone. */
#define MIN_CORR 0.9
#define QUIET_RMS 512.0

static double ncc(const int16_t *a, const int16_t *b, size_t w) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < w; i++) {
    ab += (double)a[i] * b[i];
    aa += (double)a[i] * a[i];
    bb += (double)b[i] * b[i];
  }
  if (aa <= 0 || bb <= 0) return 0;
  return ab / sqrt(aa * bb);
}

static double mean_square(const int16_t *x, size_t n) {
  double e = 0;
  for (size_t i = 0; i < n; i++) e += (double)x[i] * x[i];
  return n ? e / (double)n : 0;
}

/* The lag P in [lo, hi] at which x[ref + dir * P ..] over w samples looks
 * most like x[ref ..] (dir -1: the period before ref, +1: after it). The
 * caller guarantees every index touched is inside x[0, len). */
static size_t best_lag(const int16_t *x, size_t len, size_t ref, int dir, size_t lo, size_t hi, size_t w) {
  int16_t d[MAX_DECIM];
  size_t off = ref % DECIM, nd = (len - off) / DECIM;
  if (nd > MAX_DECIM) nd = MAX_DECIM;
  for (size_t k = 0; k < nd; k++) {
    const int16_t *s = x + off + k * DECIM;
    /* the mean, so the coarse search correlates int16 as the fine one */
    d[k] = (int16_t)((s[0] + s[1] + s[2] + s[3]) / DECIM);
  }
  size_t dref = ref / DECIM, dw = w / DECIM;
  size_t best = lo;
  double best_c = -2;
  for (size_t p = (lo + DECIM - 1) / DECIM; p * DECIM <= hi; p++) {
    size_t m = dir < 0 ? dref - p : dref + p;
    if (m + dw > nd || dref + dw > nd) break;
    double c = ncc(d + dref, d + m, dw);
    if (c > best_c) {
      best_c = c;
      best = p * DECIM;
    }
  }
  size_t from = best > lo + DECIM ? best - DECIM : lo, to = MC_MIN(best + DECIM, hi);
  best_c = -2;
  size_t fine = best;
  for (size_t p = from; p <= to; p++) {
    size_t m = dir < 0 ? ref - p : ref + p;
    double c = ncc(x + ref, x + m, w);
    if (c > best_c) {
      best_c = c;
      fine = p;
    }
  }
  return fine;
}

/* out[i] = from[i] fading out, to[i] fading in, over n samples. A convex
 * mix: the output never leaves the range of its inputs. */
static void crossfade(const int16_t *from, const int16_t *to, size_t n, int16_t *out) {
  for (size_t i = 0; i < n; i++) {
    int32_t w = (int32_t)(((i + 1) << 15) / (n + 1));
    out[i] = (int16_t)(((int32_t)from[i] * (32768 - w) + (int32_t)to[i] * w) >> 15);
  }
}

static bool worth_it(const int16_t *a, const int16_t *b, size_t p) {
  if (mean_square(a, p) + mean_square(b, p) < 2 * QUIET_RMS * QUIET_RMS) return true;
  return ncc(a, b, p) > MIN_CORR;
}

size_t mc_stretch_slower(const int16_t *x, size_t hist, size_t n, int16_t *out) {
  if (!x || !out) return 0;
  if (hist > MAX_HIST) {
    x += hist - MAX_HIST;
    hist = MAX_HIST;
  }
  size_t look = MC_MIN(n, (size_t)MAX_NEW);
  /* the period repeated is the last one played; its copy is mixed into the
   * first new one, so both must be whole */
  size_t hi = MC_MIN(MC_STRETCH_MAX_LAG, MC_MIN(hist, n));
  const int16_t *in = x + hist;
  if (n) memcpy(out, in, n * sizeof *out);
  if (hi < MC_STRETCH_MIN_LAG) return 0;
  size_t p = best_lag(x, hist + look, hist, -1, MC_STRETCH_MIN_LAG, hi, look - look % DECIM);
  if (!worth_it(in - p, in, p)) return 0;
  /* out: new[0, p) fading into old[-p, 0) (the period before), then new
   * from its start again: it starts as new[0] right after the last sample
   * played and ends as old[-1] right before new[0] */
  crossfade(in, in - p, p, out);
  memcpy(out + p, in, n * sizeof *out);
  return p;
}

size_t mc_stretch_faster(const int16_t *x, size_t hist, size_t n, int16_t *out) {
  if (!x || !out) return 0;
  if (hist > MAX_HIST) {
    x += hist - MAX_HIST;
    hist = MAX_HIST;
  }
  size_t look = MC_MIN(n, (size_t)MAX_NEW);
  /* two whole periods of what is not played yet: the first fades into the
   * second, which is then played on from its end */
  size_t hi = MC_MIN(MC_STRETCH_MAX_LAG, n / 2);
  const int16_t *in = x + hist;
  if (n) memcpy(out, in, n * sizeof *out);
  if (hi < MC_STRETCH_MIN_LAG) return 0;
  size_t w = look - hi;
  w -= w % DECIM;
  size_t p = best_lag(x, hist + look, hist, +1, MC_STRETCH_MIN_LAG, hi, w);
  if (!worth_it(in, in + p, p)) return 0;
  crossfade(in, in + p, p, out);
  memcpy(out + p, in + 2 * p, (n - 2 * p) * sizeof *out);
  return p;
}
