/* Text for the window: SDL2_ttf fonts and a small cache of rendered
 * strings. Rendering a string costs far more than copying its texture, and
 * most of the window's text (labels, status) is the same frame after frame. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/window_private.h"

/* fonts-dejavu-core (Debian) puts them here; the README's install step
 * installs that package. */
#define FONT_DIR "/usr/share/fonts/truetype/dejavu/"
static const char *const font_file[WIN_FONT_COUNT] = {
    FONT_DIR "DejaVuSans.ttf", FONT_DIR "DejaVuSans-Bold.ttf", FONT_DIR "DejaVuSans.ttf",
    FONT_DIR "DejaVuSans-Bold.ttf"};

int win_text_open(struct win_text *t, char *why, size_t why_cap) {
  memset(t, 0, sizeof *t);
  if (TTF_Init() != 0) {
    snprintf(why, why_cap, "cannot start the font renderer (SDL_ttf: %s)", TTF_GetError());
    return -1;
  }
  for (int i = 0; i < WIN_FONT_COUNT; i++) {
    t->px[i] = 16;
    t->font[i] = TTF_OpenFont(font_file[i], t->px[i]);
    if (!t->font[i]) {
      snprintf(why, why_cap, "cannot load the font %s (SDL_ttf: %s); install the fonts-dejavu-core package",
               font_file[i], TTF_GetError());
      win_text_close(t);
      return -1;
    }
  }
  return 0;
}

static void drop_entry(struct win_text_entry *e) {
  if (e->tex) SDL_DestroyTexture(e->tex);
  free(e->s);
  memset(e, 0, sizeof *e);
}

void win_text_close(struct win_text *t) {
  for (int i = 0; i < WIN_TEXT_CACHE; i++) drop_entry(&t->cache[i]);
  for (int i = 0; i < WIN_FONT_COUNT; i++) {
    if (t->font[i]) TTF_CloseFont(t->font[i]);
    t->font[i] = NULL;
  }
  /* win_text_open's TTF_Init succeeded whenever we get here. */
  TTF_Quit();
}

void win_text_set_size(struct win_text *t, int body_px) {
  if (body_px < 8) body_px = 8;
  int want[WIN_FONT_COUNT] = {body_px, body_px, body_px * 5 / 6, body_px * 8 / 5};
  if (memcmp(want, t->px, sizeof want) == 0) return;
  for (int i = 0; i < WIN_FONT_COUNT; i++) {
    t->px[i] = want[i];
    TTF_SetFontSize(t->font[i], want[i]);
  }
  for (int i = 0; i < WIN_TEXT_CACHE; i++) drop_entry(&t->cache[i]);
}

int win_text_line_height(struct win_text *t, enum win_font f) { return TTF_FontLineSkip(t->font[f]); }

static bool same_color(SDL_Color a, SDL_Color b) { return a.r == b.r && a.g == b.g && a.b == b.b && a.a == b.a; }

static struct win_text_entry *find_entry(struct win_text *t, enum win_font f, const char *s, SDL_Color c,
                                         int wrap) {
  for (int i = 0; i < WIN_TEXT_CACHE; i++) {
    struct win_text_entry *e = &t->cache[i];
    if (e->s && e->font == f && e->wrap == wrap && same_color(e->color, c) && strcmp(e->s, s) == 0) return e;
  }
  return NULL;
}

static struct win_text_entry *free_entry(struct win_text *t) {
  struct win_text_entry *oldest = &t->cache[0];
  for (int i = 0; i < WIN_TEXT_CACHE; i++) {
    if (!t->cache[i].s) return &t->cache[i];
    if (t->cache[i].used < oldest->used) oldest = &t->cache[i];
  }
  drop_entry(oldest);
  return oldest;
}

SDL_Texture *win_text_get(struct win_text *t, SDL_Renderer *r, enum win_font f, const char *s, SDL_Color c,
                          int wrap, int *w, int *h) {
  win_trace_text(s);
  *w = *h = 0;
  if (!s || !*s) return NULL;
  struct win_text_entry *e = find_entry(t, f, s, c, wrap);
  if (!e) {
    SDL_Surface *surf = wrap > 0 ? TTF_RenderUTF8_Blended_Wrapped(t->font[f], s, c, (Uint32)wrap)
                                 : TTF_RenderUTF8_Blended(t->font[f], s, c);
    if (!surf) return NULL;
    SDL_Texture *tex = SDL_CreateTextureFromSurface(r, surf);
    int sw = surf->w, sh = surf->h;
    SDL_FreeSurface(surf);
    if (!tex) return NULL;
    char *copy = strdup(s);
    if (!copy) {
      SDL_DestroyTexture(tex);
      return NULL;
    }
    e = free_entry(t);
    *e = (struct win_text_entry){.s = copy, .font = f, .color = c, .wrap = wrap, .tex = tex, .w = sw, .h = sh};
  }
  e->used = ++t->frame;
  *w = e->w;
  *h = e->h;
  return e->tex;
}

int win_text_draw(struct win_text *t, SDL_Renderer *r, enum win_font f, const char *s, SDL_Color c, int x,
                  int y, enum win_align a, int wrap) {
  int tw, th;
  SDL_Texture *tex = win_text_get(t, r, f, s, c, wrap, &tw, &th);
  if (!tex) return 0;
  if (a == WIN_ALIGN_CENTER) x -= tw / 2;
  else if (a == WIN_ALIGN_RIGHT) x -= tw;
  SDL_Rect dst = {x, y, tw, th};
  SDL_RenderCopy(r, tex, NULL, &dst);
  return th;
}
