/* Drawing the window from its state: one function per part of the layout.
 * Sizes come from the layout (pixels) and the fonts sized from it, never
 * from constants, so the window reads the same at any size or pixel ratio. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app/i18n.h"
#include "app/window_private.h"
#include "util/util.h"

static const SDL_Color C_TEXT = {235, 235, 235, 255}, C_DIM = {160, 165, 175, 255}, C_BG = {20, 22, 26, 255},
                       C_BAR = {34, 37, 43, 255}, C_BUTTON = {58, 62, 70, 255}, C_RED = {200, 45, 45, 255},
                       C_GREEN = {40, 150, 80, 255}, C_BLUE = {50, 110, 190, 255}, C_YELLOW = {225, 185, 50, 255},
                       C_PANEL = {28, 30, 36, 255}, C_SHADE = {0, 0, 0, 170}, C_MINE = {150, 200, 255, 255},
                       C_CROSS = {120, 20, 20, 255}, C_UNREAD = {150, 110, 20, 255};
/* The avatar's disc. tests/ui/ui_test.sh looks for this colour. */
static const SDL_Color C_AVATAR = {60, 110, 170, 255};

static void fill(SDL_Renderer *r, SDL_Rect rc, SDL_Color c) {
  SDL_SetRenderDrawColor(r, c.r, c.g, c.b, c.a);
  SDL_RenderFillRect(r, &rc);
}

static void outline(SDL_Renderer *r, SDL_Rect rc, SDL_Color c) {
  SDL_SetRenderDrawColor(r, c.r, c.g, c.b, c.a);
  SDL_RenderDrawRect(r, &rc);
}

static SDL_Rect sdl_rect(struct window_rect r) { return (SDL_Rect){r.x, r.y, r.w, r.h}; }

/* SDL draws 1-pixel lines; a cross must stay visible on HiDPI screens. */
static void thick_line(SDL_Renderer *r, int x1, int y1, int x2, int y2, int width, SDL_Color c) {
  SDL_SetRenderDrawColor(r, c.r, c.g, c.b, c.a);
  for (int d = -width / 2; d <= width / 2; d++) {
    SDL_RenderDrawLine(r, x1 + d, y1, x2 + d, y2);
  }
}

static void disc(SDL_Renderer *r, int cx, int cy, int radius, SDL_Color c) {
  enum { N = 72 };
  SDL_Vertex v[N + 1];
  int idx[N * 3];
  v[0] = (SDL_Vertex){{(float)cx, (float)cy}, c, {0, 0}};
  for (int i = 0; i < N; i++) {
    double a = 2.0 * M_PI * i / N;
    v[i + 1] = (SDL_Vertex){{(float)(cx + radius * cos(a)), (float)(cy + radius * sin(a))}, c, {0, 0}};
    idx[i * 3] = 0;
    idx[i * 3 + 1] = i + 1;
    idx[i * 3 + 2] = i + 1 < N ? i + 2 : 1;
  }
  SDL_RenderGeometry(r, NULL, v, N + 1, idx, N * 3);
}

static int pad(const struct win *w) { return w->text.px[WIN_FONT_BODY] / 2 + 2; }

/* ---- the remote area ---- */

/* Up to two initials of the name (first letters of its first two words),
 * upper-cased when ASCII; "?" for no name. */
static void initials(const char *name, char *out, size_t cap) {
  size_t n = 0;
  int words = 0;
  bool at_start = true;
  for (const unsigned char *p = (const unsigned char *)name; *p && words < 2; p++) {
    if (*p == ' ') {
      at_start = true;
      continue;
    }
    if (at_start) {
      /* Copy the whole UTF-8 sequence of the first character. */
      size_t len = *p < 0x80 ? 1 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
      if (n + len >= cap) break;
      for (size_t i = 0; i < len && p[i]; i++) out[n++] = (char)p[i];
      if (len == 1 && out[n - 1] >= 'a' && out[n - 1] <= 'z') out[n - 1] -= 'a' - 'A';
      words++;
      at_start = false;
    }
  }
  if (n == 0 && cap > 1) out[n++] = '?';
  out[n] = 0;
}

static void draw_avatar(struct win *w, const char *caption) {
  const struct window_rect *r = &w->lay.remote;
  int radius = (r->w < r->h ? r->w : r->h) / 5;
  int cx = r->x + r->w / 2, cy = r->y + r->h * 45 / 100;
  disc(w->ren, cx, cy, radius, C_AVATAR);
  char ini[16];
  initials(w->st->peer_name, ini, sizeof ini);
  int lh = win_text_line_height(&w->text, WIN_FONT_BIG);
  win_text_draw(&w->text, w->ren, WIN_FONT_BIG, ini, C_TEXT, cx, cy - lh / 2, WIN_ALIGN_CENTER, 0);
  int y = cy + radius + pad(w);
  if (w->st->peer_name[0])
    y += win_text_draw(&w->text, w->ren, WIN_FONT_BOLD, w->st->peer_name, C_TEXT, cx, y, WIN_ALIGN_CENTER, 0);
  if (caption) win_text_draw(&w->text, w->ren, WIN_FONT_BODY, caption, C_DIM, cx, y, WIN_ALIGN_CENTER, 0);
}

static void draw_remote_picture(struct win *w) {
  const struct window_rect *r = &w->lay.remote;
  struct mc_rect lb;
  mc_letterbox(w->remote.width, w->remote.height, r->w, r->h, &lb);
  SDL_Rect dst = {r->x + lb.x, r->y + lb.y, lb.w, lb.h};
  SDL_RenderCopy(w->ren, w->remote_tex, NULL, &dst);
}

/* A line of text on a dark band at the bottom left of the remote area. */
static void draw_notice(struct win *w, const char *text, int row) {
  const struct window_rect *r = &w->lay.remote;
  int tw, th, p = pad(w);
  SDL_Texture *t = win_text_get(&w->text, w->ren, WIN_FONT_BODY, text, C_TEXT, 0, &tw, &th);
  if (!t) return;
  SDL_Rect band = {r->x + p, r->y + r->h - (th + p) * (row + 1) - p, tw + 2 * p, th + p / 2};
  fill(w->ren, band, C_SHADE);
  SDL_Rect dst = {band.x + p, band.y + p / 4, tw, th};
  SDL_RenderCopy(w->ren, t, NULL, &dst);
}

/* "NAME is back" or "NAME is waiting to join", and how many more wait. */
static void knock_text(const struct call_view_state *s, char *buf, size_t cap) {
  int n;
  if (s->knock_name[0])
    n = snprintf(buf, cap, s->knock_returning ? _("%s is back") : _("%s is waiting to join"), s->knock_name);
  else
    n = snprintf(buf, cap, "%s", s->knock_returning ? _("The patient is back") : _("The patient is waiting to join"));
  if (s->knocks_waiting > 1 && n > 0 && (size_t)n < cap)
    snprintf(buf + n, cap - (size_t)n, _(" (%d more waiting)"), s->knocks_waiting - 1);
}

/* 980 B, 12 KB, 3.4 MB: enough to tell a photo from a document. */
static void format_size(uint64_t bytes, char *out, size_t cap) {
  if (bytes < 1000) snprintf(out, cap, "%llu B", (unsigned long long)bytes);
  else if (bytes < 1000 * 1000) snprintf(out, cap, "%llu KB", (unsigned long long)(bytes + 500) / 1000);
  else snprintf(out, cap, "%.1f MB", (double)bytes / 1e6);
}

static void draw_peer(struct win *w) {
  const struct call_view_state *s = w->st;
  bool picture = w->remote_tex && w->remote_seq > 0 && !s->peer_camera_off;
  if (picture) draw_remote_picture(w);
  else
    draw_avatar(w, s->peer_camera_off ? _("Camera off") : s->phase == CALL_PHASE_CONNECTING ? _("Connecting…") : NULL);
  int row = 0;
  if (s->peer_mic_muted) {
    char t[128];
    if (s->peer_name[0]) snprintf(t, sizeof t, _("%s's microphone is off"), s->peer_name);
    else mc_strcpy(t, sizeof t, _("The other side's microphone is off"));
    draw_notice(w, t, row++);
  }
  /* Video paused for bandwidth (issue 7): a still picture must not look
   * like a broken call. */
  if (s->peer_video_paused && !s->peer_camera_off) {
    char t[160];
    if (s->peer_name[0]) snprintf(t, sizeof t, _("%s's connection is too slow for video; sound goes on"), s->peer_name);
    else mc_strcpy(t, sizeof t, _("The other side's connection is too slow for video; sound goes on"));
    draw_notice(w, t, row++);
  }
  if (s->video_paused) draw_notice(w, _("Your connection is too slow for video; you are still heard"), row++);
  /* Someone knocks during the call (the patient on a second device, a
   * relative): the doctor decides without leaving the call. */
  if (s->doctor && s->knock_name[0]) {
    char t[320], k[200];
    knock_text(s, k, sizeof k);
    /* TRANSLATORS: A and D are the keys; keep them. */
    snprintf(t, sizeof t, _("%s — A admit (replaces the call) · D decline"), k);
    draw_notice(w, t, row++);
  }
  /* A file the other side sent is saved only when asked to: until then it
   * says what it is and which keys decide. */
  if (s->file_offers) {
    char t[512], size[32];
    format_size(s->file_offer_size, size, sizeof size);
    if (s->file_offers > 1)
      /* TRANSLATORS: Y and N are the keys; keep them. */
      snprintf(t, sizeof t, _("%s (%s) was sent to you — Y save · N discard (%d more waiting)"), s->file_offer_name,
               size, s->file_offers - 1);
    else
      /* TRANSLATORS: Y and N are the keys; keep them. */
      snprintf(t, sizeof t, _("%s (%s) was sent to you — Y save · N discard"), s->file_offer_name, size);
    draw_notice(w, t, row++);
  }
  if (s->phase == CALL_PHASE_RECONNECTING) {
    const struct window_rect *r = &w->lay.remote;
    int lh = win_text_line_height(&w->text, WIN_FONT_BIG);
    SDL_Rect band = {r->x, r->y + r->h / 2 - lh, r->w, lh * 2};
    fill(w->ren, band, C_SHADE);
    win_text_draw(&w->text, w->ren, WIN_FONT_BIG, _("Reconnecting…"), C_TEXT, r->x + r->w / 2, band.y + lh / 2,
                  WIN_ALIGN_CENTER, 0);
  }
}

/* A filled button, crossed out (under its text) when what it controls is
 * off, with its label and its key below. */
static void draw_button(struct win *w, SDL_Rect b, SDL_Color bg, bool crossed, const char *label, const char *key) {
  fill(w->ren, b, bg);
  if (crossed) {
    int line = w->text.px[WIN_FONT_BODY] / 6 + 2;
    thick_line(w->ren, b.x + b.w / 5, b.y + b.h - b.h / 6, b.x + b.w - b.w / 5, b.y + b.h / 6, line, C_CROSS);
  }
  int lh = win_text_line_height(&w->text, WIN_FONT_BODY), sh = win_text_line_height(&w->text, WIN_FONT_SMALL);
  int y = b.y + (b.h - lh - (key ? sh : 0)) / 2;
  win_text_draw(&w->text, w->ren, WIN_FONT_BODY, label, C_TEXT, b.x + b.w / 2, y, WIN_ALIGN_CENTER, 0);
  if (key) win_text_draw(&w->text, w->ren, WIN_FONT_SMALL, key, C_DIM, b.x + b.w / 2, y + lh, WIN_ALIGN_CENTER, 0);
}

/* Before the call, or between two: who waits for whom, the link, the knock. */
static void draw_lobby(struct win *w) {
  const struct call_view_state *s = w->st;
  const struct window_rect *r = &w->lay.remote;
  int cx = r->x + r->w / 2, y = r->y + r->h / 4, wrap = r->w * 9 / 10;
  char t[200];
  if (s->phase == CALL_PHASE_STARTING) {
    win_text_draw(&w->text, w->ren, WIN_FONT_BIG, _("Reaching the server…"), C_TEXT, cx, y, WIN_ALIGN_CENTER, wrap);
    return;
  }
  if (s->doctor && s->knock_name[0]) {
    knock_text(s, t, sizeof t);
    win_text_draw(&w->text, w->ren, WIN_FONT_BIG, t, C_TEXT, cx, y, WIN_ALIGN_CENTER, wrap);
    SDL_Rect k[2];
    win_knock_buttons(&w->lay, k);
    draw_button(w, k[0], C_GREEN, false, _("Admit"), "A");
    draw_button(w, k[1], C_RED, false, _("Decline"), "D");
    return;
  }
  if (!s->doctor) {
    const char *title = s->phase == CALL_PHASE_AWAY ? _("The doctor will be back; please stay")
                                                     : _("Waiting for the doctor to let you in");
    win_text_draw(&w->text, w->ren, WIN_FONT_BIG, title, C_TEXT, cx, y, WIN_ALIGN_CENTER, wrap);
    return;
  }
  if (s->phase == CALL_PHASE_AWAY && s->peer_name[0])
    snprintf(t, sizeof t, _("Waiting for %s to come back"), s->peer_name);
  else if (s->phase == CALL_PHASE_AWAY)
    mc_strcpy(t, sizeof t, _("Waiting for the patient to come back"));
  else
    mc_strcpy(t, sizeof t, _("Waiting for the patient"));
  y += win_text_draw(&w->text, w->ren, WIN_FONT_BIG, t, C_TEXT, cx, y, WIN_ALIGN_CENTER, wrap);
  if (!s->link[0]) return;
  y += pad(w);
  y += win_text_draw(&w->text, w->ren, WIN_FONT_BODY, _("Send the patient this link:"), C_DIM, cx, y,
                     WIN_ALIGN_CENTER, wrap);
  /* In full, never shortened: the doctor reads it out or types it. */
  y += win_text_draw(&w->text, w->ren, WIN_FONT_BOLD, s->link, C_TEXT, cx, y, WIN_ALIGN_CENTER, wrap);
  /* TRANSLATORS: C is the key; keep it. */
  win_text_draw(&w->text, w->ren, WIN_FONT_SMALL, _("Press C to copy it"), C_DIM, cx, y + pad(w), WIN_ALIGN_CENTER,
                wrap);
}

static void draw_self_view(struct win *w) {
  const struct call_view_state *s = w->st;
  if (!s->has_video && !w->self_tex) return;
  SDL_Rect box = sdl_rect(w->lay.self_view);
  if (box.w < 8 || box.h < 8) return;
  fill(w->ren, box, C_BG);
  if (s->camera_off || !w->self_tex) {
    int lh = win_text_line_height(&w->text, WIN_FONT_SMALL);
    win_text_draw(&w->text, w->ren, WIN_FONT_SMALL, s->camera_off ? _("Camera off") : _("No picture yet"), C_DIM,
                  box.x + box.w / 2, box.y + (box.h - lh) / 2, WIN_ALIGN_CENTER, 0);
  } else {
    struct mc_rect lb;
    mc_letterbox(w->self.width, w->self.height, box.w, box.h, &lb);
    SDL_Rect dst = {box.x + lb.x, box.y + lb.y, lb.w, lb.h};
    /* Mirrored, as people expect to see themselves. */
    SDL_RenderCopyEx(w->ren, w->self_tex, NULL, &dst, 0, NULL, SDL_FLIP_HORIZONTAL);
  }
  outline(w->ren, box, C_DIM);
}

/* ---- the status line ---- */

static const char *phase_text(const struct win *w, char *buf, size_t cap) {
  const struct call_view_state *s = w->st;
  if (w->hanging_up && s->phase != CALL_PHASE_ENDED) return _("Hanging up…");
  switch (s->phase) {
  case CALL_PHASE_STARTING: return _("Connecting to the server…");
  case CALL_PHASE_WAITING: return s->doctor ? _("Waiting for the patient") : _("Waiting for the doctor to let you in");
  case CALL_PHASE_KNOCKING: {
    char k[160];
    knock_text(s, k, sizeof k);
    /* TRANSLATORS: A and D are the keys; keep them. */
    snprintf(buf, cap, _("%s — A admit · D decline"), k);
    return buf;
  }
  case CALL_PHASE_AWAY:
    if (!s->doctor) return _("The doctor will be back");
    if (!s->peer_name[0]) return _("Waiting for the patient to come back");
    snprintf(buf, cap, _("Waiting for %s to come back"), s->peer_name);
    return buf;
  case CALL_PHASE_CONNECTING: return _("Connecting…");
  case CALL_PHASE_CONNECTED: return s->relayed ? _("Connected through a relay") : _("Connected directly");
  case CALL_PHASE_RECONNECTING: return _("Reconnecting…");
  case CALL_PHASE_ENDED: return _("Call ended");
  }
  return "";
}

static SDL_Color phase_color(const struct call_view_state *s) {
  switch (s->phase) {
  case CALL_PHASE_CONNECTED: return C_GREEN;
  case CALL_PHASE_KNOCKING:
  case CALL_PHASE_AWAY:
  case CALL_PHASE_RECONNECTING: return C_YELLOW;
  case CALL_PHASE_ENDED: return C_RED;
  default: return C_DIM;
  }
}

/* Four bars of rising height, the first `bars` lit; all dim when unknown.
 * Returns the width used, drawn leftwards from right. */
static int draw_quality(struct win *w, int right, int bars) {
  const struct window_rect *st = &w->lay.status;
  int h = st->h / 2, bw = h / 4 + 1, gap = bw / 2 + 1, y0 = st->y + (st->h + h) / 2;
  int total = 4 * bw + 3 * gap, x = right - total;
  SDL_Color lit = bars >= 3 ? C_GREEN : bars == 2 ? C_YELLOW : C_RED;
  for (int i = 0; i < 4; i++) {
    int bh = h * (i + 1) / 4;
    fill(w->ren, (SDL_Rect){x + i * (bw + gap), y0 - bh, bw, bh}, i < bars ? lit : C_BUTTON);
  }
  return total;
}

static void draw_status(struct win *w) {
  const struct call_view_state *s = w->st;
  const struct window_rect *st = &w->lay.status;
  fill(w->ren, sdl_rect(*st), C_BAR);
  int p = pad(w), lh = win_text_line_height(&w->text, WIN_FONT_BODY), ty = st->y + (st->h - lh) / 2;
  int dot = lh / 2;
  fill(w->ren, (SDL_Rect){st->x + p, st->y + (st->h - dot) / 2, dot, dot}, phase_color(s));
  char buf[256];
  win_text_draw(&w->text, w->ren, WIN_FONT_BODY, phase_text(w, buf, sizeof buf), C_TEXT, st->x + 2 * p + dot, ty,
                WIN_ALIGN_LEFT, 0);

  int right = st->x + st->w - p;
  bool live = s->phase == CALL_PHASE_CONNECTED || s->phase == CALL_PHASE_RECONNECTING;
  if (live) right -= draw_quality(w, right, s->quality_bars) + p;
  uint64_t now = mc_wall_ms();
  if (live && s->connected_wall_ms && now >= s->connected_wall_ms) {
    uint64_t secs = (now - s->connected_wall_ms) / 1000;
    char t[32];
    if (secs >= 3600)
      snprintf(t, sizeof t, "%u:%02u:%02u", (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
    else
      snprintf(t, sizeof t, "%02u:%02u", (unsigned)(secs / 60), (unsigned)(secs % 60));
    int tw, th;
    win_text_get(&w->text, w->ren, WIN_FONT_BODY, t, C_TEXT, 0, &tw, &th);
    win_text_draw(&w->text, w->ren, WIN_FONT_BODY, t, C_TEXT, right, ty, WIN_ALIGN_RIGHT, 0);
    right -= tw + 2 * p;
  }
  if (s->verification[0]) {
    char t[32];
    /* TRANSLATORS: the code doctor and patient read to each other. */
    snprintf(t, sizeof t, _("Verify: %s"), s->verification);
    win_text_draw(&w->text, w->ren, WIN_FONT_BOLD, t, C_TEXT, right, ty, WIN_ALIGN_RIGHT, 0);
  }
}

/* ---- the control bar ---- */

static void draw_controls(struct win *w) {
  const struct call_view_state *s = w->st;
  fill(w->ren, sdl_rect(w->lay.controls), C_BAR);
  char chat_label[32];
  for (int i = 0; i < WINDOW_BTN_COUNT; i++) {
    SDL_Rect b = sdl_rect(w->lay.button[i]);
    SDL_Color bg = C_BUTTON;
    const char *label = "", *key = NULL;
    bool crossed = false;
    switch ((enum window_button)i) {
    case WINDOW_BTN_MIC:
      crossed = s->mic_muted || !s->has_audio;
      label = !s->has_audio ? _("No mic") : s->mic_muted ? _("Muted") : _("Mic");
      key = "M";
      break;
    case WINDOW_BTN_CAMERA:
      crossed = s->camera_off || !s->has_video;
      label = !s->has_video ? _("No camera") : s->camera_off ? _("Camera off") : _("Camera");
      key = "V";
      break;
    case WINDOW_BTN_CHAT: {
      /* Lines that came while the panel was shut would go unseen. */
      int unread = win_chat_unread(w);
      /* TRANSLATORS: the chat button with the number of unread lines. */
      if (unread > 0) snprintf(chat_label, sizeof chat_label, _("Chat (%d)"), unread);
      label = unread > 0 ? chat_label : _("Chat");
      key = "Enter";
      if (w->chat_open) bg = C_BLUE;
      else if (unread > 0) bg = C_UNREAD;
      break;
    }
    case WINDOW_BTN_STATS:
      label = _("Stats");
      key = "S";
      if (w->stats_open) bg = C_BLUE;
      break;
    case WINDOW_BTN_FULLSCREEN:
      label = w->fullscreen ? _("Window") : _("Full screen");
      key = "F";
      break;
    case WINDOW_BTN_HANG_UP:
      label = _("Hang up");
      key = "Esc";
      bg = C_RED;
      break;
    case WINDOW_BTN_COUNT: break;
    }
    if (crossed) bg = C_RED;
    draw_button(w, b, bg, crossed, label, key);
  }
}

/* ---- panels over the picture ---- */

/* What the input method composes, not yet committed, is underlined in the
 * input (text drawn at x, y, wrapped at wrap); the method is told where the
 * caret is, for its candidate window. */
static void draw_composition(struct win *w, const char *typed, int wrap, int x, int y) {
  size_t start = strlen(w->input), end = start + strlen(w->composing);
  int x0, y0, x1, y1, lh = win_text_line_height(&w->text, WIN_FONT_BODY);
  win_text_caret(&w->text, WIN_FONT_BODY, typed, wrap, start, &x0, &y0);
  win_text_caret(&w->text, WIN_FONT_BODY, typed, wrap, end, &x1, &y1);
  if (end > start) {
    int thick = w->text.px[WIN_FONT_BODY] / 12 + 1;
    fill(w->ren, (SDL_Rect){x + (y0 == y1 ? x0 : 0), y + y1 + lh - thick, x1 - (y0 == y1 ? x0 : 0), thick}, C_YELLOW);
  }
  float s = w->scale > 0 ? w->scale : 1.0f;
  SDL_Rect caret = {(int)((x + x1) / s), (int)((y + y1) / s), 1, (int)(lh / s)};
  if (memcmp(&caret, &w->ime_rect, sizeof caret) != 0) {
    w->ime_rect = caret;
    SDL_SetTextInputRect(&caret);
  }
}

static void draw_chat(struct win *w) {
  const struct call_view_state *s = w->st;
  SDL_Rect panel = sdl_rect(w->lay.chat);
  if (panel.w <= 0) return;
  fill(w->ren, panel, C_PANEL);
  int p = pad(w), wrap = panel.w - 2 * p, lh = win_text_line_height(&w->text, WIN_FONT_BODY);
  if (wrap < 16) return;
  int top = panel.y + p + win_text_draw(&w->text, w->ren, WIN_FONT_BOLD, _("Chat"), C_TEXT, panel.x + p, panel.y + p,
                                        WIN_ALIGN_LEFT, 0) + p / 2;

  /* The input box at the bottom, the hint above it, the lines above that. */
  char typed[sizeof w->input + sizeof w->composing + 8];
  snprintf(typed, sizeof typed, "%s%s|", w->input, w->composing);
  int iw, ih;
  SDL_Texture *it = win_text_get(&w->text, w->ren, WIN_FONT_BODY, typed, C_TEXT, wrap - p, &iw, &ih);
  if (ih < lh) ih = lh;
  SDL_Rect box = {panel.x + p, panel.y + panel.h - ih - 2 * p, wrap, ih + p};
  fill(w->ren, box, C_BG);
  outline(w->ren, box, C_BLUE);
  if (it) SDL_RenderCopy(w->ren, it, NULL, &(SDL_Rect){box.x + p / 2, box.y + p / 2, iw, ih});
  draw_composition(w, typed, wrap - p, box.x + p / 2, box.y + p / 2);
  int hw, hh;
  /* TRANSLATORS: Enter and Esc are the keys; keep them. */
  SDL_Texture *hint = win_text_get(&w->text, w->ren, WIN_FONT_SMALL,
                                   _("Enter sends · Esc closes · drop a file to send it"), C_DIM, wrap, &hw, &hh);
  int y = box.y - hh - p / 2;
  if (hint) SDL_RenderCopy(w->ren, hint, NULL, &(SDL_Rect){panel.x + p, y, hw, hh});

  /* TRANSLATORS: who wrote a chat line when the other side gave no name. */
  const char *peer = s->peer_name[0] ? s->peer_name : _("Peer");
  for (int i = s->chat_count - 1; i >= 0 && y > top; i--) {
    const struct call_chat_line *l = &s->chat[i];
    char line[sizeof l->text + 96];
    if (l->file && l->mine) snprintf(line, sizeof line, _("You sent a file: %s"), l->text);
    else if (l->file) snprintf(line, sizeof line, _("%s sent a file: %s"), peer, l->text);
    else if (l->mine) snprintf(line, sizeof line, _("You: %s"), l->text);
    else snprintf(line, sizeof line, "%s: %s", peer, l->text);
    SDL_Color c = l->file ? C_YELLOW : l->mine ? C_MINE : C_TEXT;
    int tw, th;
    SDL_Texture *t = win_text_get(&w->text, w->ren, WIN_FONT_BODY, line, c, wrap, &tw, &th);
    if (!t) continue;
    y -= th + p / 3;
    if (y < top) break;
    SDL_RenderCopy(w->ren, t, NULL, &(SDL_Rect){panel.x + p, y, tw, th});
  }
}

static void draw_stats(struct win *w) {
  const struct window_rect *r = &w->lay.remote;
  int p = pad(w), wrap = r->w - 4 * p;
  if (wrap > w->text.px[WIN_FONT_SMALL] * 36) wrap = w->text.px[WIN_FONT_SMALL] * 36;
  if (wrap < 16) return;
  const char *text = w->st->stats_text[0] ? w->st->stats_text : _("No statistics yet");
  int tw, th;
  SDL_Texture *t = win_text_get(&w->text, w->ren, WIN_FONT_SMALL, text, C_TEXT, wrap, &tw, &th);
  if (!t) return;
  /* Translucent: the picture stays visible behind the numbers. */
  SDL_Rect panel = {r->x + p, r->y + p, tw + 2 * p, th + 2 * p};
  fill(w->ren, panel, C_SHADE);
  SDL_RenderCopy(w->ren, t, NULL, &(SDL_Rect){panel.x + p, panel.y + p, tw, th});
}

static void draw_end_screen(struct win *w) {
  const struct call_view_state *s = w->st;
  int cx = w->out_w / 2, y = w->out_h * 35 / 100, wrap = w->out_w * 8 / 10;
  y += win_text_draw(&w->text, w->ren, WIN_FONT_BIG, _("The call has ended"), C_TEXT, cx, y, WIN_ALIGN_CENTER, wrap);
  y += pad(w);
  if (s->end_reason[0])
    y += win_text_draw(&w->text, w->ren, WIN_FONT_BODY, s->end_reason, C_TEXT, cx, y, WIN_ALIGN_CENTER, wrap);
  y += 2 * pad(w);
  /* TRANSLATORS: Esc is the key; keep it. */
  win_text_draw(&w->text, w->ren, WIN_FONT_BODY, _("Press Esc to close"), C_DIM, cx, y, WIN_ALIGN_CENTER, wrap);
}

void win_draw(struct win *w) {
  SDL_SetRenderDrawColor(w->ren, C_BG.r, C_BG.g, C_BG.b, 255);
  SDL_RenderClear(w->ren);
  if (w->st->phase == CALL_PHASE_ENDED) {
    draw_end_screen(w);
    return;
  }
  switch (w->st->phase) {
  case CALL_PHASE_CONNECTING:
  case CALL_PHASE_CONNECTED:
  case CALL_PHASE_RECONNECTING: draw_peer(w); break;
  default: draw_lobby(w); break;
  }
  draw_self_view(w);
  if (w->stats_open) draw_stats(w);
  draw_status(w);
  draw_controls(w);
  if (w->chat_open) draw_chat(w);
}
