/* Text for the window: fonts chosen through fontconfig, a fallback chain
 * per style, strings drawn in runs by font, and a small cache of rendered
 * strings. Rendering a string costs far more than copying its texture, and
 * most of the window's text (labels, status) is the same frame after frame.
 *
 * The chain (issue 15): fontconfig's sans-serif for the user's locale
 * first, then its sans-serif for Korean that has Hangul (fonts-noto-cjk),
 * then DejaVu Sans by its fixed path, which is also all there is when
 * fontconfig finds nothing. Each character is drawn by the first font of
 * the chain that has it; a line is cut into runs of one font each, rendered
 * apart and put side by side on the first font's baseline. Widths for
 * wrapping and layout are measured the same way, run by run. */
#include <fontconfig/fontconfig.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/i18n.h"
#include "app/window_private.h"
#include "util/util.h"

#define LOG "window"

/* fonts-dejavu-core (Debian) puts them here. */
#define DEJAVU_DIR "/usr/share/fonts/truetype/dejavu/"
static const char *const dejavu_file[2] = {DEJAVU_DIR "DejaVuSans.ttf", DEJAVU_DIR "DejaVuSans-Bold.ttf"};
/* 가, the first Hangul syllable: the Korean font must have it. */
#define HANGUL_PROBE 0xAC00
static const bool slot_bold[WIN_FONT_COUNT] = {false, true, false, true};

/* What was drawn since the program started (window_text_stats). */
static atomic_ullong stat_strings, stat_chars, stat_hangul, stat_missing;

struct font_file {
  char path[PATH_MAX];
  int index; /* the face in a collection (.ttc) */
  char family[64];
};
struct font_chain {
  struct font_file f[WIN_FONT_CHAIN];
  int n;
};

static void chain_add(struct font_chain *c, const struct font_file *f) {
  for (int i = 0; i < c->n; i++)
    if (c->f[i].index == f->index && strcmp(c->f[i].path, f->path) == 0) return;
  if (c->n < WIN_FONT_CHAIN) c->f[c->n++] = *f;
}

/* fontconfig's best scalable sans-serif of this weight for lang (NULL: the
 * user's locale) that has the character ch (0: any). */
static bool fc_pick(FcConfig *fc, bool bold, const char *lang, FcChar32 ch, struct font_file *out) {
  bool ok = false;
  FcPattern *p = FcPatternCreate(), *m = NULL;
  FcCharSet *want = ch ? FcCharSetCreate() : NULL;
  if (!p || (ch && !want)) goto out;
  FcPatternAddString(p, FC_FAMILY, (const FcChar8 *)"sans-serif");
  FcPatternAddInteger(p, FC_WEIGHT, bold ? FC_WEIGHT_BOLD : FC_WEIGHT_REGULAR);
  FcPatternAddInteger(p, FC_SLANT, FC_SLANT_ROMAN);
  FcPatternAddBool(p, FC_SCALABLE, FcTrue);
  if (lang) FcPatternAddString(p, FC_LANG, (const FcChar8 *)lang);
  if (want && FcCharSetAddChar(want, ch)) FcPatternAddCharSet(p, FC_CHARSET, want);
  if (!FcConfigSubstitute(fc, p, FcMatchPattern)) goto out;
  FcDefaultSubstitute(p);
  FcResult r;
  m = FcFontMatch(fc, p, &r);
  if (!m) goto out;
  FcChar8 *file = NULL, *family = NULL;
  FcBool scalable = FcTrue;
  FcCharSet *has = NULL;
  int index = 0;
  if (FcPatternGetString(m, FC_FILE, 0, &file) != FcResultMatch) goto out;
  FcPatternGetInteger(m, FC_INDEX, 0, &index);
  FcPatternGetBool(m, FC_SCALABLE, 0, &scalable);
  /* The best match is returned even when nothing has ch. */
  if (!scalable || (ch && (FcPatternGetCharSet(m, FC_CHARSET, 0, &has) != FcResultMatch || !FcCharSetHasChar(has, ch))))
    goto out;
  if (FcPatternGetString(m, FC_FAMILY, 0, &family) != FcResultMatch) family = (FcChar8 *)"?";
  out->index = index;
  mc_strcpy(out->family, sizeof out->family, (const char *)family);
  ok = mc_strcpy(out->path, sizeof out->path, (const char *)file) == 0;
out:
  if (m) FcPatternDestroy(m);
  if (p) FcPatternDestroy(p);
  if (want) FcCharSetDestroy(want);
  return ok;
}

static void build_chain(FcConfig *fc, bool bold, struct font_chain *c) {
  struct font_file f;
  c->n = 0;
  if (fc && fc_pick(fc, bold, NULL, 0, &f)) chain_add(c, &f);
  if (fc && fc_pick(fc, bold, "ko", HANGUL_PROBE, &f)) chain_add(c, &f);
  f = (struct font_file){.index = 0, .family = "DejaVu Sans (fixed path)"};
  mc_strcpy(f.path, sizeof f.path, dejavu_file[bold]);
  if (access(f.path, R_OK) == 0) chain_add(c, &f);
}

int win_text_open(struct win_text *t, char *why, size_t why_cap) {
  memset(t, 0, sizeof *t);
  if (TTF_Init() != 0) {
    snprintf(why, why_cap, _("cannot start the font renderer (SDL_ttf: %s)"), TTF_GetError());
    return -1;
  }
  t->open = true;
  /* A configuration of our own, destroyed at once: nothing of fontconfig
   * stays alive, only the fonts SDL_ttf opened. */
  FcConfig *fc = FcInitLoadConfigAndFonts();
  if (!fc) MC_LOGW(LOG, "fontconfig found no configuration; using DejaVu Sans by its path");
  struct font_chain chain[2];
  build_chain(fc, false, &chain[0]);
  build_chain(fc, true, &chain[1]);
  if (fc) FcConfigDestroy(fc);
  for (int i = 0; i < WIN_FONT_COUNT; i++) {
    const struct font_chain *c = &chain[slot_bold[i]];
    t->px[i] = 16;
    for (int k = 0; k < c->n; k++) {
      TTF_Font *font = TTF_OpenFontIndex(c->f[k].path, t->px[i], c->f[k].index);
      if (font) t->font[i][t->n[i]++] = font;
      else MC_LOGW(LOG, "font not opened file=%s index=%d (SDL_ttf: %s)", c->f[k].path, c->f[k].index, TTF_GetError());
    }
    if (t->n[i] == 0) {
      snprintf(why, why_cap,
               _("no font to draw the window's text: fontconfig offered none that opens and %s is missing; install "
                 "the fonts-dejavu-core and fonts-noto-cjk packages"),
               dejavu_file[slot_bold[i]]);
      win_text_close(t);
      return -1;
    }
  }
  for (int b = 0; b < 2; b++) {
    char names[3 * 72] = "";
    for (int k = 0; k < chain[b].n; k++) {
      size_t used = strlen(names);
      snprintf(names + used, sizeof names - used, "%s%s", k ? ", " : "", chain[b].f[k].family);
    }
    MC_LOGI(LOG, "fonts %s=%s", b ? "bold" : "regular", names);
  }
  return 0;
}

static void drop_entry(struct win_text_entry *e) {
  if (e->tex) SDL_DestroyTexture(e->tex);
  free(e->s);
  memset(e, 0, sizeof *e);
}

void win_text_close(struct win_text *t) {
  if (!t->open) return;
  for (int i = 0; i < WIN_TEXT_CACHE; i++) drop_entry(&t->cache[i]);
  for (int i = 0; i < WIN_FONT_COUNT; i++) {
    for (int k = 0; k < t->n[i]; k++) TTF_CloseFont(t->font[i][k]);
    t->n[i] = 0;
  }
  TTF_Quit();
  t->open = false;
}

void win_text_set_size(struct win_text *t, const int px[WIN_FONT_COUNT]) {
  if (memcmp(px, t->px, sizeof t->px) == 0) return;
  for (int i = 0; i < WIN_FONT_COUNT; i++) {
    t->px[i] = px[i];
    for (int k = 0; k < t->n[i]; k++) TTF_SetFontSize(t->font[i][k], px[i]);
  }
  for (int i = 0; i < WIN_TEXT_CACHE; i++) drop_entry(&t->cache[i]);
}

/* Lines take the first font's metrics, whichever fonts draw them: a line
 * with Hangul is as high as one without, so layout does not jump. */
int win_text_line_height(struct win_text *t, enum win_font f) { return TTF_FontLineSkip(t->font[f][0]); }

/* ---- characters and runs ---- */

/* The character at s (at most n bytes) and its length; an invalid
 * sequence is one byte of U+FFFD (SDL_ttf draws it the same way). */
static size_t utf8_next(const char *s, size_t n, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  size_t len = u[0] < 0x80 ? 1 : u[0] >= 0xC2 && u[0] <= 0xDF ? 2 : u[0] >= 0xE0 && u[0] <= 0xEF ? 3
                             : u[0] >= 0xF0 && u[0] <= 0xF4 ? 4 : 0;
  if (len == 0 || len > n) goto bad;
  uint32_t c = len == 1 ? u[0] : len == 2 ? u[0] & 0x1Fu : len == 3 ? u[0] & 0x0Fu : u[0] & 0x07u;
  for (size_t i = 1; i < len; i++) {
    if ((u[i] & 0xC0) != 0x80) goto bad;
    c = c << 6 | (u[i] & 0x3Fu);
  }
  /* Overlong forms, surrogates and beyond U+10FFFF (RFC 3629 3). */
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
    goto bad;
  *cp = c;
  return len;
bad:
  *cp = 0xFFFD;
  return 1;
}

static bool is_hangul(uint32_t c) {
  return (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) ||
         (c >= 0xA960 && c <= 0xA97F) || (c >= 0xD7B0 && c <= 0xD7FF);
}

/* Characters that belong to the run they are in rather than to a font of
 * their own: spaces, combining marks, joiners and variation selectors,
 * and conjoining Hangul vowels and finals (a name typed on a Mac arrives
 * decomposed; its jamo must be shaped together). */
static bool joins_run(uint32_t c) {
  return c == ' ' || c == 0xA0 || (c >= 0x300 && c <= 0x36F) || c == 0x200C || c == 0x200D ||
         (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0x1160 && c <= 0x11FF) || (c >= 0xD7B0 && c <= 0xD7FF);
}

/* The chain's font for c: the current run's for a joining character it
 * has, else the first that has it; -1 when none has it. */
static int font_for(const struct win_text *t, enum win_font f, uint32_t c, int current) {
  if (current >= 0 && joins_run(c) && TTF_GlyphIsProvided32(t->font[f][current], c)) return current;
  for (int k = 0; k < t->n[f]; k++)
    if (TTF_GlyphIsProvided32(t->font[f][k], c)) return k;
  return -1;
}

/* The run of s[pos, end) that starts at pos: returns its end, and the font
 * that draws it: -1 for characters no font has (the first font draws its
 * box for them). */
static size_t run_at(const struct win_text *t, enum win_font f, const char *s, size_t pos, size_t end, int *font) {
  uint32_t c;
  size_t i = pos + utf8_next(s + pos, end - pos, &c);
  int k = font_for(t, f, c, -1);
  while (i < end) {
    size_t n = utf8_next(s + i, end - i, &c);
    if (font_for(t, f, c, k) != k) break;
    i += n;
  }
  *font = k;
  return i;
}

/* A NUL-terminated copy of s[a, b) in scratch (at least b - a + 1 bytes). */
static const char *piece(const char *s, size_t a, size_t b, char *scratch) {
  memcpy(scratch, s + a, b - a);
  scratch[b - a] = 0;
  return scratch;
}

/* The width of s[a, b) in pixels, run by run as it is drawn. */
static int width_of(const struct win_text *t, enum win_font f, const char *s, size_t a, size_t b, char *scratch) {
  int total = 0;
  while (a < b) {
    int k, w = 0, h;
    size_t e = run_at(t, f, s, a, b, &k);
    if (TTF_SizeUTF8(t->font[f][k < 0 ? 0 : k], piece(s, a, e, scratch), &w, &h) == 0) total += w;
    a = e;
  }
  return total;
}

/* ---- lines ---- */

struct line {
  size_t a, b; /* bytes of s drawn on this line (trailing spaces left out) */
};
struct lines {
  struct line *v;
  size_t n, cap;
};

static int add_line(struct lines *l, size_t a, size_t b) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    struct line *v = realloc(l->v, cap * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (struct line){a, b};
  return 0;
}

/* The largest of the n ends (ascending offsets into s) whose line from a
 * is at most wrap pixels wide; -1 when even the first is wider. Widths
 * grow with the end, so a binary search finds it in a few measures. */
static long last_fitting(const struct win_text *t, enum win_font f, const char *s, size_t a, const size_t *ends,
                         long n, int wrap, char *scratch) {
  long lo = 0, hi = n - 1, best = -1;
  while (lo <= hi) {
    long mid = (lo + hi) / 2;
    if (width_of(t, f, s, a, ends[mid], scratch) <= wrap) {
      best = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return best;
}

/* Breaks s[a, end) (no '\n' in it) into lines of at most wrap pixels: at
 * spaces, or between characters for a word longer than a line. */
static int wrap_segment(const struct win_text *t, enum win_font f, const char *s, size_t a, size_t end, int wrap,
                        struct lines *out, size_t *ends, char *scratch) {
  for (;;) {
    if (width_of(t, f, s, a, end, scratch) <= wrap) return add_line(out, a, end);
    /* Where a line may end: before each run of spaces. */
    long n = 0;
    for (size_t i = a + 1; i < end; i++)
      if (s[i] == ' ' && s[i - 1] != ' ') ends[n++] = i;
    long k = last_fitting(t, f, s, a, ends, n, wrap, scratch);
    size_t b;
    if (k >= 0) {
      b = ends[k];
    } else {
      /* Not even the first word fits: cut it between characters, at least one. */
      n = 0;
      uint32_t c;
      for (size_t i = a; i < end;) {
        i += utf8_next(s + i, end - i, &c);
        ends[n++] = i;
      }
      k = last_fitting(t, f, s, a, ends, n, wrap, scratch);
      b = ends[k < 0 ? 0 : k];
    }
    if (add_line(out, a, b) != 0) return -1;
    a = b;
    while (a < end && s[a] == ' ') a++;
    if (a >= end) return 0;
  }
}

/* s as lines: split at '\n', and wrapped when wrap > 0. */
static int lay_out(const struct win_text *t, enum win_font f, const char *s, int wrap, struct lines *out,
                   char *scratch) {
  size_t len = strlen(s);
  size_t *ends = wrap > 0 ? malloc((len + 1) * sizeof *ends) : NULL;
  int rc = wrap > 0 && !ends ? -1 : 0;
  for (size_t a = 0; rc == 0;) {
    const char *nl = memchr(s + a, '\n', len - a);
    size_t end = nl ? (size_t)(nl - s) : len;
    rc = wrap > 0 && end > a ? wrap_segment(t, f, s, a, end, wrap, out, ends, scratch) : add_line(out, a, end);
    if (!nl) break;
    a = end + 1;
  }
  free(ends);
  return rc;
}

/* ---- rendering ---- */

/* Lays src's coverage over dst, both ARGB8888: dst keeps its colour (the
 * text's) and takes the larger alpha, so runs that touch blend exactly. */
static void put_coverage(SDL_Surface *dst, SDL_Surface *src, int dx, int dy) {
  for (int y = 0; y < src->h; y++) {
    int ty = dy + y;
    if (ty < 0 || ty >= dst->h) continue;
    const Uint32 *sp = (const Uint32 *)((const Uint8 *)src->pixels + (size_t)y * src->pitch);
    Uint32 *dp = (Uint32 *)((Uint8 *)dst->pixels + (size_t)ty * dst->pitch);
    for (int x = 0; x < src->w; x++) {
      int tx = dx + x;
      if (tx < 0 || tx >= dst->w) continue;
      Uint32 a = sp[x] >> 24;
      if (a > dp[tx] >> 24) dp[tx] = (dp[tx] & 0x00FFFFFFu) | a << 24;
    }
  }
}

static void count(const char *s) {
  unsigned long long chars = 0, hangul = 0;
  for (size_t i = 0, n = strlen(s); i < n;) {
    uint32_t c;
    i += utf8_next(s + i, n - i, &c);
    if (c < 0x20) continue;
    chars++;
    hangul += is_hangul(c);
  }
  atomic_fetch_add(&stat_strings, 1);
  atomic_fetch_add(&stat_chars, chars);
  atomic_fetch_add(&stat_hangul, hangul);
}

/* Draws line [a, b) of s on dst at y, run by run, on the first font's baseline. */
static void draw_line(struct win_text *t, enum win_font f, const char *s, size_t a, size_t b, SDL_Color c,
                     SDL_Surface *dst, int y, char *scratch) {
  int x = 0, base = TTF_FontAscent(t->font[f][0]);
  unsigned long long missing = 0;
  while (a < b) {
    int k;
    size_t e = run_at(t, f, s, a, b, &k);
    const char *text = piece(s, a, e, scratch);
    if (k < 0) {
      for (size_t i = 0, n = e - a; i < n;) {
        uint32_t cp;
        i += utf8_next(text + i, n - i, &cp);
        missing += cp >= 0x20;
      }
      k = 0;
    }
    SDL_Surface *run = TTF_RenderUTF8_Blended(t->font[f][k], text, c);
    if (run) {
      SDL_Surface *argb = run->format->format == SDL_PIXELFORMAT_ARGB8888
                              ? run
                              : SDL_ConvertSurfaceFormat(run, SDL_PIXELFORMAT_ARGB8888, 0);
      if (argb) put_coverage(dst, argb, x, y + base - TTF_FontAscent(t->font[f][k]));
      if (argb && argb != run) SDL_FreeSurface(argb);
      int w, h;
      x += TTF_SizeUTF8(t->font[f][k], text, &w, &h) == 0 ? w : run->w;
      SDL_FreeSurface(run);
    }
    a = e;
  }
  if (missing) {
    /* Once: the count says how much, never which characters (they may be a name). */
    if (atomic_fetch_add(&stat_missing, missing) == 0)
      MC_LOGW(LOG, "no installed font has some characters of the text; they show as boxes (install "
                   "fonts-noto-cjk) count=%llu", missing);
  }
}

static SDL_Surface *render(struct win_text *t, enum win_font f, const char *s, SDL_Color c, int wrap) {
  size_t len = strlen(s);
  char *scratch = malloc(len + 1);
  struct lines l = {0};
  SDL_Surface *out = NULL;
  if (!scratch || lay_out(t, f, s, wrap, &l, scratch) != 0) goto done;
  int w = 0;
  for (size_t i = 0; i < l.n; i++) {
    int lw = width_of(t, f, s, l.v[i].a, l.v[i].b, scratch);
    if (lw > w) w = lw;
  }
  int skip = TTF_FontLineSkip(t->font[f][0]), h = TTF_FontHeight(t->font[f][0]) + (int)(l.n - 1) * skip;
  if (w <= 0 || h <= 0) goto done;
  out = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
  if (!out) goto done;
  SDL_FillRect(out, NULL, (Uint32)c.r << 16 | (Uint32)c.g << 8 | c.b);
  count(s);
  for (size_t i = 0; i < l.n; i++) draw_line(t, f, s, l.v[i].a, l.v[i].b, c, out, (int)i * skip, scratch);
done:
  free(l.v);
  free(scratch);
  return out;
}

int win_text_width(struct win_text *t, enum win_font f, const char *s) {
  size_t len = s ? strlen(s) : 0;
  char *scratch = len ? malloc(len + 1) : NULL;
  int w = scratch ? width_of(t, f, s, 0, len, scratch) : 0;
  free(scratch);
  return w;
}

void win_text_caret(struct win_text *t, enum win_font f, const char *s, int wrap, size_t offset, int *x, int *y) {
  *x = *y = 0;
  size_t len = strlen(s);
  char *scratch = malloc(len + 1);
  struct lines l = {0};
  if (offset > len) offset = len;
  if (scratch && lay_out(t, f, s, wrap, &l, scratch) == 0 && l.n > 0) {
    size_t i = 0;
    /* The line the offset is on: the last that starts at or before it. */
    while (i + 1 < l.n && l.v[i + 1].a <= offset) i++;
    *x = width_of(t, f, s, l.v[i].a, offset < l.v[i].b ? offset : l.v[i].b, scratch);
    *y = (int)i * TTF_FontLineSkip(t->font[f][0]);
  }
  free(l.v);
  free(scratch);
}

/* ---- the cache ---- */

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
    SDL_Surface *surf = render(t, f, s, c, wrap);
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

void window_text_stats(struct window_text_stats *out) {
  out->strings = atomic_load(&stat_strings);
  out->chars = atomic_load(&stat_chars);
  out->hangul = atomic_load(&stat_hangul);
  out->missing = atomic_load(&stat_missing);
}
