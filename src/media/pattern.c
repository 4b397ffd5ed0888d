/* Synthetic pattern source: deterministic moving content plus the stamp.
 * Speeds are in pixels per second so the motion looks the same at any frame
 * rate; positions come from the frame index alone. */
#include <stdlib.h>
#include <string.h>

#include "media/media.h"

#define GRADIENT_SPEED 120 /* px/s the luma gradient scrolls */
#define BARS_SPEED 90      /* px/s the diagonal colour bars move */
#define BOX_SPEED_X 230    /* px/s of the bouncing box */
#define BOX_SPEED_Y 170

struct mc_pattern {
  struct mc_pattern_config cfg;
  struct mc_i420 frame;
  uint8_t *texture; /* the box's fixed noisy texture, box x box */
  int box;
  uint8_t *grad;    /* one row of the gradient, width + period */
};

static uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

int mc_pattern_new(const struct mc_pattern_config *config, mc_pattern **out) {
  if (!config || !out || config->fps < 1 || config->fps > 240) return MC_EINVAL;
  mc_pattern *p = calloc(1, sizeof *p);
  if (!p) return MC_ENOMEM;
  int rc = mc_i420_alloc(&p->frame, config->width, config->height);
  if (rc) goto fail;
  p->cfg = *config;
  p->box = (config->width < config->height ? config->width : config->height) / 5;
  if (p->box < 2) p->box = 2;
  rc = MC_ENOMEM;
  p->texture = malloc((size_t)p->box * (size_t)p->box);
  p->grad = malloc((size_t)config->width * 2 + 512);
  if (!p->texture || !p->grad) goto fail;
  for (int i = 0; i < p->box * p->box; i++) {
    int bx = i % p->box, by = i / p->box;
    /* Blocks of 4x4 noise over a ramp: detail the encoder must code. */
    p->texture[i] = (uint8_t)(60 + (hash32((uint32_t)((by / 4) * 4099 + bx / 4)) & 0x7f) + (bx * 40) / p->box);
  }
  *out = p;
  return 0;
fail:
  mc_pattern_free(p);
  return rc;
}

void mc_pattern_free(mc_pattern *p) {
  if (!p) return;
  mc_i420_free(&p->frame);
  free(p->texture);
  free(p->grad);
  free(p);
}

/* Triangle wave: position bouncing between 0 and range. */
static int bounce(uint64_t travelled, int range) {
  if (range <= 0) return 0;
  uint64_t period = 2 * (uint64_t)range;
  uint64_t m = travelled % period;
  return (int)(m <= (uint64_t)range ? m : period - m);
}

int mc_pattern_frame(mc_pattern *p, uint64_t index, uint32_t wall_ms, const struct mc_i420 **out) {
  if (!p || !out) return MC_EINVAL;
  struct mc_i420 *f = &p->frame;
  int w = f->width, h = f->height, fps = p->cfg.fps;
  int cw = (w + 1) / 2, ch = (h + 1) / 2;
  uint64_t gshift = index * GRADIENT_SPEED / (uint64_t)fps;
  uint64_t bshift = index * BARS_SPEED / (uint64_t)fps;

  /* Luma: a sawtooth gradient (period 256 px, 32..223) scrolling left,
   * brightened on alternate diagonal bars of 64 px. */
  for (int x = 0; x < w; x++) p->grad[x] = (uint8_t)(32 + (((uint64_t)x + gshift) & 0xff) * 3 / 4);
  for (int y = 0; y < h; y++) {
    uint8_t *row = f->y + (size_t)y * f->stride_y;
    uint64_t diag = (uint64_t)y + bshift;
    for (int x = 0; x < w; x++) row[x] = (uint8_t)(p->grad[x] + (((diag + (uint64_t)x) >> 6) & 1 ? 24 : 0));
  }
  /* Chroma: the same bars in four hues. */
  static const uint8_t hue_u[4] = {90, 170, 128, 200}, hue_v[4] = {170, 90, 200, 128};
  for (int y = 0; y < ch; y++) {
    uint8_t *ur = f->u + (size_t)y * f->stride_u, *vr = f->v + (size_t)y * f->stride_v;
    uint64_t diag = 2 * (uint64_t)y + bshift;
    for (int x = 0; x < cw; x++) {
      unsigned k = (unsigned)(((diag + 2 * (uint64_t)x) >> 6) & 3);
      ur[x] = hue_u[k];
      vr[x] = hue_v[k];
    }
  }
  /* The bouncing box, textured so motion search has something to lock on. */
  int bs = p->box;
  if (bs <= w && bs <= h) {
    int bx = bounce(index * BOX_SPEED_X / (uint64_t)fps, w - bs);
    int by = bounce(index * BOX_SPEED_Y / (uint64_t)fps, h - bs);
    for (int y = 0; y < bs; y++)
      memcpy(f->y + (size_t)(by + y) * f->stride_y + bx, p->texture + (size_t)y * bs, (size_t)bs);
    for (int y = by / 2; y < (by + bs) / 2 && y < ch; y++)
      for (int x = bx / 2; x < (bx + bs) / 2 && x < cw; x++) {
        f->u[(size_t)y * f->stride_u + x] = 60;
        f->v[(size_t)y * f->stride_v + x] = 210;
      }
  }
  /* Too small for a stamp: still a valid moving pattern. */
  (void)mc_stamp_write(f, wall_ms);
  *out = f;
  return 0;
}
