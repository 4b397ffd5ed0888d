/* Private to window*.c: the window's own state, its text renderer and the
 * drawing of each part. Everything here runs on the main thread. */
#ifndef MC_APP_WINDOW_PRIVATE_H
#define MC_APP_WINDOW_PRIVATE_H

#include <SDL.h>
#include <SDL_ttf.h>

#include "app/app.h"
#include "media/media.h"

/* ---- text (window_text.c) ---- */
enum win_font { WIN_FONT_BODY = 0, WIN_FONT_BOLD, WIN_FONT_SMALL, WIN_FONT_BIG, WIN_FONT_COUNT };
enum win_align { WIN_ALIGN_LEFT = 0, WIN_ALIGN_CENTER, WIN_ALIGN_RIGHT };

_Static_assert(WIN_FONT_COUNT == WINDOW_TEXT_SIZES, "window_text_sizes gives one size per style");

#define WIN_TEXT_CACHE 96
struct win_text_entry {
  char *s;            /* owned copy of the string; NULL: slot free */
  enum win_font font;
  SDL_Color color;
  int wrap;           /* wrap width in pixels, 0 none */
  SDL_Texture *tex;
  int w, h;
  uint64_t used;      /* frame number of the last use: the oldest is evicted */
};
/* Each style's fallback chain (window_text.c): its first font, the one for
 * Hangul, DejaVu by its path; fewer when some are the same or missing. */
#define WIN_FONT_CHAIN 3
struct win_text {
  bool open;
  TTF_Font *font[WIN_FONT_COUNT][WIN_FONT_CHAIN];
  int n[WIN_FONT_COUNT];       /* fonts in each chain, at least 1 once open */
  int px[WIN_FONT_COUNT];
  struct win_text_entry cache[WIN_TEXT_CACHE];
  uint64_t frame;
};
/* Opens the fonts (fontconfig's, else DejaVu by its path); -1 with a
 * sentence in why when there is none. */
int win_text_open(struct win_text *t, char *why, size_t why_cap);
void win_text_close(struct win_text *t);
/* Sets each style's size in pixels (window_text_sizes); drops cached textures. */
void win_text_set_size(struct win_text *t, const int px[WIN_FONT_COUNT]);
/* The texture of s (cached until evicted); NULL for "" or on failure. */
SDL_Texture *win_text_get(struct win_text *t, SDL_Renderer *r, enum win_font f, const char *s, SDL_Color c,
                          int wrap, int *w, int *h);
/* Draws s with its top at y and x as the left, centre or right edge;
 * returns the height drawn (0 for nothing). */
int win_text_draw(struct win_text *t, SDL_Renderer *r, enum win_font f, const char *s, SDL_Color c, int x,
                  int y, enum win_align a, int wrap);
int win_text_line_height(struct win_text *t, enum win_font f);
/* The width of s on one line, measured as it is drawn (run by run). */
int win_text_width(struct win_text *t, enum win_font f, const char *s);
/* Where the byte offset of s falls in its texture (wrapped at wrap as
 * win_text_get does): the left of the character there, the top of its line. */
void win_text_caret(struct win_text *t, enum win_font f, const char *s, int wrap, size_t offset, int *x, int *y);

/* ---- the window ---- */
struct win {
  SDL_Window *window;
  SDL_Renderer *ren;
  struct call_view *view;
  struct call_view_state *st;  /* the latest snapshot (heap: it is large) */
  struct win_text text;
  int out_w, out_h;            /* drawable in pixels */
  float scale;                 /* pixels per point (2 on a HiDPI screen) */
  struct window_layout lay;
  struct mc_i420 remote, self;
  uint64_t remote_seq, self_seq;
  SDL_Texture *remote_tex, *self_tex;
  bool video_up;               /* our SDL_InitSubSystem(VIDEO) succeeded */
  bool chat_open, stats_open, fullscreen, hanging_up;
  char input[500];             /* the chat message being typed; fits a chat line */
  /* Typing through an input method (Korean, issue 15): what it composes
   * and has not committed yet (SDL_TEXTEDITING), shown after input; a
   * composition Enter sent before the method committed it, and when. */
  char composing[256];
  char flushed[256];
  uint32_t flushed_at;
  SDL_Rect ime_rect;           /* where the input method was last told the caret is (points) */
  uint64_t now_ms;             /* monotonic, this frame */
  uint64_t chat_seen_ms;       /* wall time of the newest chat line seen in the open panel */
};

/* The peer's chat lines newer than any seen in the open panel. */
int win_chat_unread(const struct win *w);

/* The two buttons of a knock (admit, decline) in the remote area. */
void win_knock_buttons(const struct window_layout *l, SDL_Rect out[2]);
/* The whole frame from w's state. */
void win_draw(struct win *w);

/* Test hook (window_trace.c): each distinct string drawn, to $MEDCALL_UI_TRACE. */
void win_trace_text(const char *s);

#endif
