/* Unit tests for src/media/stretch.c: a sine and a synthetic voice
 * stretched frame after frame (slower, faster) keep their pitch, have no
 * jump larger than the original's, and change length by what the stretcher
 * says; quiet audio is stretched, loud noise left alone; random input of
 * random lengths stays in bounds and in range. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "media/media.h"
#include "util/util.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define HIST (2 * MC_STRETCH_MAX_LAG)
#define OUT_MAX (48000 * 4)

static uint32_t rng_state = 0x9e3779b9u;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

/* A 440 Hz sine at half scale; its period (109.09 samples) is no whole
 * number of samples, as a real voice's is not. */
static int16_t sine(size_t i) { return (int16_t)lrint(16000.0 * sin(2 * M_PI * 440.0 * (double)i / 48000.0)); }

/* A vowel-like signal: ten harmonics of 137 Hz falling off as 1/k with
 * fixed phases (a period of 350.4 samples) */
#define VOICE_HZ 137.0
static int16_t voice(size_t i) {
  double v = 0;
  for (int k = 1; k <= 10; k++) v += sin(2 * M_PI * VOICE_HZ * k * (double)i / 48000.0 + 0.7 * k) / k;
  return (int16_t)lrint(5000.0 * v);
}

static int max_jump(const int16_t *x, size_t n) {
  int m = 0;
  for (size_t i = 1; i < n; i++) {
    int d = abs((int)x[i] - (int)x[i - 1]);
    if (d > m) m = d;
  }
  return m;
}

/* The lag (MIN_LAG..MAX_LAG) of the strongest normalised autocorrelation. */
static size_t period_of(const int16_t *x, size_t n) {
  size_t best = 0;
  double best_c = -2;
  size_t w = n - MC_STRETCH_MAX_LAG;
  for (size_t p = MC_STRETCH_MIN_LAG; p <= MC_STRETCH_MAX_LAG; p++) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < w; i++) {
      ab += (double)x[i] * x[i + p];
      aa += (double)x[i] * x[i];
      bb += (double)x[i + p] * x[i + p];
    }
    double c = ab / sqrt(aa * bb + 1);
    if (c > best_c + 1e-3) {
      best_c = c;
      best = p;
    }
  }
  return best;
}

struct run {
  int16_t *out;
  size_t len;       /* samples out */
  size_t consumed;  /* samples of the source */
  size_t changed;   /* sum of what the stretcher said */
  unsigned stretches, calls;
};

/* Plays `frames` 20 ms frames of gen through the stretcher, as the player
 * does: slower takes the history already played and a new frame; faster
 * the new frame, not played yet. every: stretch one frame in `every`. */
static void play(int16_t (*gen)(size_t), bool slower, unsigned frames, unsigned every, struct run *r) {
  memset(r, 0, sizeof *r);
  r->out = calloc(OUT_MAX, sizeof *r->out);
  int16_t x[HIST + MC_AUDIO_FRAME], y[MC_AUDIO_FRAME + MC_STRETCH_MAX_LAG];
  for (unsigned f = 0; f < frames && r->len + sizeof y / sizeof *y < OUT_MAX; f++) {
    size_t hist = MC_MIN(r->len, (size_t)HIST);
    memcpy(x, r->out + r->len - hist, hist * sizeof *x);
    for (size_t i = 0; i < MC_AUDIO_FRAME; i++) x[hist + i] = gen(r->consumed + i);
    r->consumed += MC_AUDIO_FRAME;
    size_t n = MC_AUDIO_FRAME, ch = 0;
    if (f > 0 && f % every == 0) {
      r->calls++;
      if (slower) {
        ch = mc_stretch_slower(x, hist, MC_AUDIO_FRAME, y);
        n += ch;
      } else {
        ch = mc_stretch_faster(x, hist, MC_AUDIO_FRAME, y);
        n -= ch;
      }
      if (ch) r->stretches++;
    } else {
      memcpy(y, x + hist, sizeof x[0] * MC_AUDIO_FRAME);
    }
    r->changed += ch;
    memcpy(r->out + r->len, y, n * sizeof *y);
    r->len += n;
  }
}

static void check_signal(int16_t (*gen)(size_t), double hz, size_t period) {
  int16_t *src = malloc(48000 * sizeof *src);
  for (size_t i = 0; i < 48000; i++) src[i] = gen(i);
  int jump0 = max_jump(src, 48000);
  size_t p0 = period_of(src, 48000);
  CHECK(p0 >= period - 2 && p0 <= period + 2);
  for (int slower = 0; slower <= 1; slower++) {
    struct run r;
    play(gen, slower, 50, 2, &r); /* a stretch every other frame: 12-37% */
    CHECK_EQ_INT(r.stretches, r.calls);
    CHECK_EQ_INT(r.len, slower ? r.consumed + r.changed : r.consumed - r.changed);
    CHECK(r.changed >= r.stretches * MC_STRETCH_MIN_LAG);
    /* no click: no step larger than the signal's own steepest */
    int jump = max_jump(r.out, r.len);
    CHECK(jump <= jump0 + jump0 / 10);
    if (jump > jump0 + jump0 / 10) fprintf(stderr, "slower=%d jump %d, original %d\n", slower, jump, jump0);
    /* the pitch kept */
    size_t p = period_of(r.out, r.len);
    CHECK(p >= p0 - 2 && p <= p0 + 2);
    if (p < p0 - 2 || p > p0 + 2) fprintf(stderr, "slower=%d period %zu, original %zu\n", slower, p, p0);
    /* 0.2 s: the detector's coarse scan has 5 Hz steps */
    double power = 0, got = mc_tone_dominant(r.out + r.len / 2, 9600, 1, 100, 4000, &power);
    CHECK(fabs(got - hz) < 1.0);
    if (fabs(got - hz) >= 1.0) fprintf(stderr, "slower=%d dominant %.2f Hz, want %.2f\n", slower, got, hz);
    free(r.out);
  }
  free(src);
}

static int16_t zero(size_t i) {
  (void)i;
  return 0;
}

static int16_t quiet_noise(size_t i) {
  (void)i;
  return (int16_t)((int)(rng() % 401) - 200);
}

static int16_t loud_noise(size_t i) {
  (void)i;
  return (int16_t)((int)(rng() % 40001) - 20000);
}

static void test_quiet_and_noise(void) {
  struct run r;
  play(zero, true, 20, 1, &r);
  CHECK_EQ_INT(r.stretches, r.calls); /* silence: trivially longer */
  CHECK_EQ_INT(max_jump(r.out, r.len), 0);
  free(r.out);
  play(quiet_noise, false, 20, 1, &r);
  CHECK_EQ_INT(r.stretches, r.calls); /* near silence: trivially shorter */
  CHECK_EQ_INT(r.len, r.consumed - r.changed);
  free(r.out);
  /* loud noise has no period: joining two stretches of it would be heard */
  play(loud_noise, true, 20, 1, &r);
  CHECK_EQ_INT(r.stretches, 0);
  CHECK_EQ_INT(r.len, r.consumed);
  free(r.out);
  play(loud_noise, false, 20, 1, &r);
  CHECK_EQ_INT(r.stretches, 0);
  free(r.out);
}

/* Too little to work with: a copy, nothing changed. */
static void test_short(void) {
  int16_t x[2000], y[2000 + MC_STRETCH_MAX_LAG];
  for (size_t i = 0; i < 2000; i++) x[i] = sine(i);
  CHECK_EQ_INT(mc_stretch_slower(x, 100, 960, y), 0); /* under one period of history */
  CHECK_MEM(y, x + 100, 960 * sizeof *x);
  CHECK_EQ_INT(mc_stretch_slower(x, 960, 100, y), 0); /* under one period new */
  CHECK_MEM(y, x + 960, 100 * sizeof *x);
  CHECK_EQ_INT(mc_stretch_faster(x, 960, 200, y), 0); /* under two periods not played */
  CHECK_MEM(y, x + 960, 200 * sizeof *x);
  CHECK_EQ_INT(mc_stretch_slower(NULL, 0, 0, y), 0);
  CHECK_EQ_INT(mc_stretch_faster(x, 0, 0, NULL), 0);
  /* faster with no history at all still works on what is not played */
  CHECK(mc_stretch_faster(x, 0, 960, y) > 0);
}

/* Random lengths and content (extremes included): the result stays inside
 * its bounds (ASan in the sanitizer build), within the input's range (a
 * crossfade only mixes), and the length change is within the lag range. */
static void test_random(void) {
  static int16_t x[HIST + 64 + 4 * MC_AUDIO_FRAME], y[4 * MC_AUDIO_FRAME + MC_STRETCH_MAX_LAG];
  for (int t = 0; t < 3000; t++) {
    size_t hist = rng() % (HIST + 64), n = rng() % (4 * MC_AUDIO_FRAME);
    int kind = (int)(rng() % 4);
    double f = 50 + rng() % 600;
    for (size_t i = 0; i < hist + n; i++) {
      int v;
      switch (kind) {
      case 0: v = (int)(rng() % 65536) - 32768; break;
      case 1: v = (rng() & 1) ? 32767 : -32768; break;
      case 2: v = (int)lrint(32767.0 * sin(2 * M_PI * f * (double)i / 48000.0)); break;
      default: v = i % 300 < 3 ? 32767 : 0; break; /* pulses */
      }
      x[i] = (int16_t)v;
    }
    int lo = 32767, hi = -32768;
    for (size_t i = hist; i < hist + n; i++) {
      if (x[i] < lo) lo = x[i];
      if (x[i] > hi) hi = x[i];
    }
    for (size_t i = hist >= MC_STRETCH_MAX_LAG ? hist - MC_STRETCH_MAX_LAG : 0; i < hist; i++) {
      if (x[i] < lo) lo = x[i];
      if (x[i] > hi) hi = x[i];
    }
    bool slower = rng() & 1;
    size_t ch = slower ? mc_stretch_slower(x, hist, n, y) : mc_stretch_faster(x, hist, n, y);
    size_t out_n = slower ? n + ch : n - ch;
    CHECK(ch == 0 || (ch >= MC_STRETCH_MIN_LAG && ch <= MC_STRETCH_MAX_LAG));
    CHECK(slower || 2 * ch <= n);
    CHECK(!slower || (ch <= hist && ch <= n));
    bool in_range = true;
    for (size_t i = 0; i < out_n; i++)
      if (y[i] < lo || y[i] > hi) in_range = false;
    CHECK(in_range);
  }
}

int main(void) {
  check_signal(sine, 440.0, 218); /* two periods: one is under 2.5 ms */
  check_signal(voice, VOICE_HZ, 350);
  test_quiet_and_noise();
  test_short();
  test_random();
  return CHECK_DONE();
}
