/* I420 frames: allocation, copy, scaling. */
#include <stdlib.h>
#include <string.h>

#include <libyuv/scale.h>

#include "media/media.h"

static int align32(int v) { return (v + 31) & ~31; }

int mc_i420_alloc(struct mc_i420 *f, int width, int height) {
  if (!f || width < 1 || height < 1 || width > MC_MEDIA_MAX_DIM || height > MC_MEDIA_MAX_DIM) return MC_EINVAL;
  memset(f, 0, sizeof *f);
  int cw = (width + 1) / 2, ch = (height + 1) / 2;
  int sy = align32(width), sc = align32(cw);
  size_t ysz = (size_t)sy * (size_t)height, csz = (size_t)sc * (size_t)ch;
  uint8_t *mem = aligned_alloc(32, ysz + 2 * csz);
  if (!mem) return MC_ENOMEM;
  memset(mem, 16, ysz);
  memset(mem + ysz, 128, 2 * csz);
  f->width = width;
  f->height = height;
  f->stride_y = sy;
  f->stride_u = sc;
  f->stride_v = sc;
  f->y = mem;
  f->u = mem + ysz;
  f->v = mem + ysz + csz;
  f->owned = mem;
  return 0;
}

void mc_i420_free(struct mc_i420 *f) {
  if (!f) return;
  free(f->owned);
  memset(f, 0, sizeof *f);
}

static void copy_plane(const uint8_t *s, int ss, uint8_t *d, int ds, int w, int h) {
  for (int r = 0; r < h; r++) memcpy(d + (size_t)r * ds, s + (size_t)r * ss, (size_t)w);
}

int mc_i420_copy(const struct mc_i420 *src, struct mc_i420 *dst) {
  if (!src || !dst || !src->y || !dst->y || src->width != dst->width || src->height != dst->height)
    return MC_EINVAL;
  int cw = (src->width + 1) / 2, ch = (src->height + 1) / 2;
  copy_plane(src->y, src->stride_y, dst->y, dst->stride_y, src->width, src->height);
  copy_plane(src->u, src->stride_u, dst->u, dst->stride_u, cw, ch);
  copy_plane(src->v, src->stride_v, dst->v, dst->stride_v, cw, ch);
  return 0;
}

int mc_i420_scale(const struct mc_i420 *src, struct mc_i420 *dst) {
  if (!src || !dst || !src->y || !dst->y) return MC_EINVAL;
  int r = I420Scale(src->y, src->stride_y, src->u, src->stride_u, src->v, src->stride_v, src->width,
                    src->height, dst->y, dst->stride_y, dst->u, dst->stride_u, dst->v, dst->stride_v,
                    dst->width, dst->height, kFilterBox);
  return r == 0 ? 0 : MC_EINVAL;
}
