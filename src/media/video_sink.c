/* An SDL2 window showing I420 frames: an IYUV texture updated with
 * SDL_UpdateYUVTexture, drawn letterboxed in the renderer's output, which
 * is measured in pixels (SDL_GetRendererOutputSize), so HiDPI screens get
 * full resolution. */
#include <SDL.h>
#include <libyuv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"
#include "util/util.h"

#define LOG "video"

static void say(char *why, size_t cap, const char *fmt, ...) {
  if (!why || !cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, cap, fmt, ap);
  va_end(ap);
}

void mc_letterbox(int src_w, int src_h, int out_w, int out_h, struct mc_rect *r) {
  if (!r) return;
  if (src_w <= 0 || src_h <= 0 || out_w <= 0 || out_h <= 0) {
    *r = (struct mc_rect){0, 0, out_w > 0 ? out_w : 0, out_h > 0 ? out_h : 0};
    return;
  }
  /* full width if the picture is wider than the output, else full height;
   * compared in 64 bits: src_w/src_h >= out_w/out_h */
  if ((int64_t)src_w * out_h >= (int64_t)out_w * src_h) {
    r->w = out_w;
    r->h = (int)(((int64_t)out_w * src_h + src_w / 2) / src_w);
  } else {
    r->h = out_h;
    r->w = (int)(((int64_t)out_h * src_w + src_h / 2) / src_h);
  }
  if (r->w < 1) r->w = 1;
  if (r->h < 1) r->h = 1;
  r->x = (out_w - r->w) / 2;
  r->y = (out_h - r->h) / 2;
}

struct mc_video_sink {
  SDL_Window *win;
  SDL_Renderer *ren;
  SDL_Texture *tex;
  int tex_w, tex_h;
  bool sdl_up;
};

int mc_video_sink_new(const struct mc_video_sink_config *config, mc_video_sink **out, char *why,
                      size_t why_cap) {
  if (!out) return MC_EINVAL;
  *out = NULL;
  int w = config && config->width > 0 ? config->width : 640;
  int h = config && config->height > 0 ? config->height : 480;
  if (w > MC_MEDIA_MAX_DIM || h > MC_MEDIA_MAX_DIM) return MC_EINVAL;
  mc_video_sink *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  int rc = MC_EIO;
  if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
    say(why, why_cap, mc_tr("no display to show video on (SDL: %s); is DISPLAY or WAYLAND_DISPLAY set?"),
        SDL_GetError());
    goto fail;
  }
  s->sdl_up = true;
  Uint32 flags = SDL_WINDOW_ALLOW_HIGHDPI | (config && config->resizable ? SDL_WINDOW_RESIZABLE : 0) |
                 (config && config->hidden ? SDL_WINDOW_HIDDEN : SDL_WINDOW_SHOWN);
  s->win = SDL_CreateWindow(config && config->title ? config->title : "medcall", SDL_WINDOWPOS_CENTERED,
                            SDL_WINDOWPOS_CENTERED, w, h, flags);
  if (!s->win) {
    say(why, why_cap, mc_tr("cannot open a window: %s"), SDL_GetError());
    goto fail;
  }
  s->ren = SDL_CreateRenderer(s->win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
  if (!s->ren) s->ren = SDL_CreateRenderer(s->win, -1, SDL_RENDERER_SOFTWARE);
  if (!s->ren) {
    say(why, why_cap, mc_tr("cannot draw in the window: %s"), SDL_GetError());
    goto fail;
  }
  SDL_RendererInfo ri;
  if (SDL_GetRendererInfo(s->ren, &ri) == 0)
    MC_LOGI(LOG, "window driver=%s renderer=%s", SDL_GetCurrentVideoDriver(), ri.name);
  SDL_SetRenderDrawColor(s->ren, 0, 0, 0, 255);
  SDL_RenderClear(s->ren);
  SDL_RenderPresent(s->ren);
  *out = s;
  return 0;
fail:
  mc_video_sink_free(s);
  return rc;
}

static int draw(mc_video_sink *s) {
  int ow = 0, oh = 0;
  if (SDL_GetRendererOutputSize(s->ren, &ow, &oh) != 0) return MC_EIO;
  SDL_SetRenderDrawColor(s->ren, 0, 0, 0, 255);
  SDL_RenderClear(s->ren);
  if (s->tex) {
    struct mc_rect r;
    mc_letterbox(s->tex_w, s->tex_h, ow, oh, &r);
    SDL_Rect dst = {r.x, r.y, r.w, r.h};
    if (SDL_RenderCopy(s->ren, s->tex, NULL, &dst) != 0) return MC_EIO;
  }
  return 0;
}

int mc_video_sink_show(mc_video_sink *s, const struct mc_i420 *f) {
  if (!s || !f || f->width < 1 || f->height < 1) return MC_EINVAL;
  if (!s->tex || s->tex_w != f->width || s->tex_h != f->height) {
    if (s->tex) SDL_DestroyTexture(s->tex);
    s->tex = SDL_CreateTexture(s->ren, SDL_PIXELFORMAT_IYUV, SDL_TEXTUREACCESS_STREAMING, f->width, f->height);
    if (!s->tex) {
      MC_LOGW(LOG, "texture failed size=%dx%d", f->width, f->height);
      return MC_EIO;
    }
    s->tex_w = f->width;
    s->tex_h = f->height;
  }
  if (SDL_UpdateYUVTexture(s->tex, NULL, f->y, f->stride_y, f->u, f->stride_u, f->v, f->stride_v) != 0)
    return MC_EIO;
  int rc = draw(s);
  SDL_RenderPresent(s->ren);
  return rc;
}

void mc_video_sink_poll(mc_video_sink *s, bool *closed) {
  if (closed) *closed = false;
  if (!s) return;
  SDL_Event e;
  Uint32 id = SDL_GetWindowID(s->win);
  while (SDL_PollEvent(&e)) {
    if (e.type == SDL_QUIT || (e.type == SDL_WINDOWEVENT && e.window.windowID == id &&
                               e.window.event == SDL_WINDOWEVENT_CLOSE)) {
      if (closed) *closed = true;
    } else if (e.type == SDL_WINDOWEVENT && e.window.windowID == id &&
               (e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED || e.window.event == SDL_WINDOWEVENT_EXPOSED)) {
      /* redraw at the new output size so the bars follow the window */
      if (draw(s) == 0) SDL_RenderPresent(s->ren);
    }
  }
}

void mc_video_sink_output_size(mc_video_sink *s, int *w, int *h) {
  int ow = 0, oh = 0;
  if (s) SDL_GetRendererOutputSize(s->ren, &ow, &oh);
  if (w) *w = ow;
  if (h) *h = oh;
}

int mc_video_sink_read_back(mc_video_sink *s, struct mc_i420 *out) {
  if (!s || !out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  int ow = 0, oh = 0;
  if (SDL_GetRendererOutputSize(s->ren, &ow, &oh) != 0 || ow < 1 || oh < 1) return MC_EIO;
  /* the back buffer is undefined after a present: draw again, read, present */
  int rc = draw(s);
  if (rc != 0) return rc;
  uint8_t *argb = malloc((size_t)ow * oh * 4);
  if (!argb) return MC_ENOMEM;
  rc = MC_EIO;
  if (SDL_RenderReadPixels(s->ren, NULL, SDL_PIXELFORMAT_BGRA32, argb, ow * 4) != 0) goto done;
  if ((rc = mc_i420_alloc(out, ow, oh)) != 0) goto done;
  /* SDL's BGRA32 is the bytes B G R A in memory: libyuv's "ARGB". */
  ARGBToI420(argb, ow * 4, out->y, out->stride_y, out->u, out->stride_u, out->v, out->stride_v, ow, oh);
  rc = 0;
done:
  SDL_RenderPresent(s->ren);
  free(argb);
  return rc;
}

void mc_video_sink_free(mc_video_sink *s) {
  if (!s) return;
  if (s->tex) SDL_DestroyTexture(s->tex);
  if (s->ren) SDL_DestroyRenderer(s->ren);
  if (s->win) SDL_DestroyWindow(s->win);
  if (s->sdl_up) SDL_QuitSubSystem(SDL_INIT_VIDEO);
  free(s);
}
