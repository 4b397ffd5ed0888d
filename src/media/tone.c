/* Tone source and a Goertzel detector for tests (issue 5 item 1, 6). */
#include <math.h>
#include <stdlib.h>

#include "media/media.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

int mc_tone_init(struct mc_tone *t, double hz, int channels, double amplitude) {
  if (!t || !(hz >= 1 && hz <= 20000) || channels < 1 || channels > MC_AUDIO_MAX_CHANNELS ||
      !(amplitude >= 0 && amplitude <= 1))
    return MC_EINVAL;
  t->phase = 0;
  t->step = 2 * M_PI * hz / MC_AUDIO_RATE;
  t->amplitude = (amplitude ? amplitude : 0.25) * 32767.0;
  t->channels = channels;
  return 0;
}

void mc_tone_next(struct mc_tone *t, int16_t *pcm) {
  for (int i = 0; i < MC_AUDIO_FRAME; i++) {
    int16_t s = (int16_t)lrint(t->amplitude * sin(t->phase));
    for (int c = 0; c < t->channels; c++) pcm[i * t->channels + c] = s;
    t->phase += t->step;
    if (t->phase >= 2 * M_PI) t->phase -= 2 * M_PI;
  }
}

/* The first channel, Hann-windowed and scaled so that |X| / sum(window)
 * is amplitude/2 for a sine at any frequency. */
static double *windowed(const int16_t *pcm, size_t frames, int channels) {
  double *x = malloc(frames * sizeof *x);
  if (!x) return NULL;
  double wsum = 0;
  for (size_t i = 0; i < frames; i++) {
    double win = 0.5 - 0.5 * cos(2 * M_PI * (double)i / (double)(frames - 1));
    x[i] = win * pcm[i * (size_t)channels] / 32768.0;
    wsum += win;
  }
  for (size_t i = 0; i < frames; i++) x[i] /= wsum;
  return x;
}

/* Goertzel at an arbitrary (non-bin) frequency. */
static double goertzel(const double *x, size_t n, double hz) {
  double w = 2 * M_PI * hz / MC_AUDIO_RATE, coeff = 2 * cos(w);
  double s1 = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) {
    double s0 = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  double re = s1 - s2 * cos(w), im = s2 * sin(w);
  return re * re + im * im;
}

double mc_tone_power(const int16_t *pcm, size_t frames, int channels, double hz) {
  if (!pcm || frames < 2 || channels < 1) return 0;
  double *x = windowed(pcm, frames, channels);
  if (!x) return 0;
  double p = goertzel(x, frames, hz);
  free(x);
  return p;
}

double mc_tone_dominant(const int16_t *pcm, size_t frames, int channels, double lo_hz, double hi_hz,
                        double *power) {
  double best = lo_hz, bp = 0;
  double *x = pcm && frames >= 2 && channels >= 1 ? windowed(pcm, frames, channels) : NULL;
  if (x) {
    for (double f = lo_hz; f <= hi_hz; f += 5) {
      double p = goertzel(x, frames, f);
      if (p > bp) bp = p, best = f;
    }
    double c = best;
    for (double f = c - 5; f <= c + 5; f += 0.25) {
      if (f < lo_hz || f > hi_hz) continue;
      double p = goertzel(x, frames, f);
      if (p > bp) bp = p, best = f;
    }
    free(x);
  }
  if (power) *power = bp;
  return best;
}
