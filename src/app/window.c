/* The call window (issue 6 item 2): SDL2 on the main thread. It owns no
 * call state: each turn it copies the call view's state and newest
 * pictures, draws them, and turns keys, clicks and dropped files into
 * commands for the call. window_draw.c draws; this file sizes, listens and
 * decides when to close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/i18n.h"
#include "app/window_private.h"
#include "util/util.h"

#define LOG "window"
/* Redraw at most this often (about 30 fps): the remote video is 30 fps at
 * most and the software renderer under Xvfb should not spin a core. */
#define FRAME_MS 33
/* The close button during a call hangs up, then waits this long for the
 * call to say it ended before closing anyway. */
#define CLOSE_GRACE_MS 3000
/* Enter with a composition pending sends it; the input method's commit of
 * the same text arriving within this is that composition, not new text. */
#define FLUSH_GRACE_MS 500

void window_layout(int w, int h, bool chat_open, struct window_layout *out) {
  memset(out, 0, sizeof *out);
  if (w < 1) w = 1;
  if (h < 1) h = 1;
  /* Bars are a share of the drawable's pixel height, with no upper bound:
   * the layout only knows pixels, and a HiDPI window (twice the pixels for
   * the same size on screen) must get bars and text of the same apparent
   * size as a normal one. The floors keep tiny windows usable. */
  int status_h = h * 6 / 100 > 24 ? h * 6 / 100 : 24;
  int controls_h = h * 11 / 100 > 44 ? h * 11 / 100 : 44;
  if (status_h + controls_h > h) status_h = controls_h = h / 2;
  out->status = (struct window_rect){0, 0, w, status_h};
  out->controls = (struct window_rect){0, h - controls_h, w, controls_h};

  int middle_h = h - status_h - controls_h;
  int chat_w = 0;
  if (chat_open) {
    chat_w = w * 30 / 100 > 220 ? w * 30 / 100 : 220;
    if (chat_w > w / 2) chat_w = w / 2;
    out->chat = (struct window_rect){w - chat_w, status_h, chat_w, middle_h};
  }
  out->remote = (struct window_rect){0, status_h, w - chat_w, middle_h};

  int margin = w / 100 > 6 ? w / 100 : 6;
  int sv_w = out->remote.w / 4, sv_h = sv_w * 3 / 4;
  if (sv_h > middle_h / 3) {
    sv_h = middle_h / 3;
    sv_w = sv_h * 4 / 3;
  }
  out->self_view = (struct window_rect){out->remote.x + out->remote.w - sv_w - margin,
                                        out->remote.y + out->remote.h - sv_h - margin, sv_w, sv_h};

  /* Six buttons centred in the bar; narrower when the window is. */
  int gap = controls_h / 6 > 4 ? controls_h / 6 : 4;
  int bh = controls_h * 7 / 10;
  int bw = bh * 2;
  if (bw * WINDOW_BTN_COUNT + gap * (WINDOW_BTN_COUNT + 1) > w)
    bw = (w - gap * (WINDOW_BTN_COUNT + 1)) / WINDOW_BTN_COUNT;
  if (bw < 1) bw = 1;
  int x = (w - bw * WINDOW_BTN_COUNT - gap * (WINDOW_BTN_COUNT - 1)) / 2;
  for (int i = 0; i < WINDOW_BTN_COUNT; i++)
    out->button[i] = (struct window_rect){x + i * (bw + gap), out->controls.y + (controls_h - bh) / 2, bw, bh};
}

void win_knock_buttons(const struct window_layout *l, SDL_Rect out[2]) {
  int bh = l->controls.h * 7 / 10, bw = bh * 3;
  if (bw * 2 + bh > l->remote.w) bw = (l->remote.w - bh) / 2;
  int cx = l->remote.x + l->remote.w / 2, y = l->remote.y + l->remote.h * 55 / 100;
  out[0] = (SDL_Rect){cx - bh / 2 - bw, y, bw, bh};
  out[1] = (SDL_Rect){cx + bh / 2, y, bw, bh};
}

/* ---- commands to the call ---- */

static void post(struct win *w, enum call_command_kind kind, const char *text) {
  struct call_command c = {.kind = kind};
  if (text && mc_strcpy(c.text, sizeof c.text, text) != 0) {
    MC_LOGW(LOG, "command dropped: text too long kind=%d", (int)kind);
    return;
  }
  if (call_view_post(w->view, &c) != 0) MC_LOGW(LOG, "command dropped: queue full kind=%d", (int)kind);
}

static void hang_up(struct win *w) {
  post(w, CALL_CMD_HANG_UP, NULL);
  w->hanging_up = true;
}

static void set_chat_open(struct win *w, bool open) {
  w->chat_open = open;
  w->composing[0] = 0;
  /* Text input only while the panel is open: otherwise SDL turns the
   * M, V, S... hot keys into text as well. Starting it is also what asks
   * the input method (ibus, fcitx) to compose for us. */
  if (open) {
    SDL_StartTextInput();
  } else {
    SDL_StopTextInput();
    w->ime_rect = (SDL_Rect){0};
  }
}

static void toggle_fullscreen(struct win *w) {
  w->fullscreen = !w->fullscreen;
  SDL_SetWindowFullscreen(w->window, w->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
}

static void press_button(struct win *w, enum window_button b) {
  switch (b) {
  case WINDOW_BTN_MIC: post(w, CALL_CMD_TOGGLE_MIC, NULL); break;
  case WINDOW_BTN_CAMERA: post(w, CALL_CMD_TOGGLE_CAMERA, NULL); break;
  case WINDOW_BTN_CHAT: set_chat_open(w, !w->chat_open); break;
  case WINDOW_BTN_STATS: w->stats_open = !w->stats_open; break;
  case WINDOW_BTN_FULLSCREEN: toggle_fullscreen(w); break;
  case WINDOW_BTN_HANG_UP: hang_up(w); break;
  case WINDOW_BTN_COUNT: break;
  }
}

static bool inside(int x, int y, int rx, int ry, int rw, int rh) {
  return x >= rx && y >= ry && x < rx + rw && y < ry + rh;
}

/* ---- input ---- */

enum outcome { KEEP_GOING = 0, CLOSE_NOW };

static void drop_last_char(char *s) {
  size_t n = strlen(s);
  /* Back over UTF-8 continuation bytes to the start of the last character. */
  while (n > 0 && ((unsigned char)s[n - 1] & 0xC0) == 0x80) n--;
  if (n > 0) n--;
  s[n] = 0;
}

static void append_text(struct win *w, const char *t) {
  size_t have = strlen(w->input), add = strlen(t);
  if (have + add < sizeof w->input) memcpy(w->input + have, t, add + 1);
}

/* Committed text (typed, or the input method's commit). */
static void on_text(struct win *w, const SDL_TextInputEvent *e) {
  if (w->flushed[0]) {
    bool again = strcmp(e->text, w->flushed) == 0 && e->timestamp - w->flushed_at < FLUSH_GRACE_MS;
    w->flushed[0] = 0;
    if (again) return;
  }
  if (strcmp(e->text, w->composing) == 0) w->composing[0] = 0;
  append_text(w, e->text);
}

static void on_chat_key(struct win *w, const SDL_KeyboardEvent *k) {
  switch (k->keysym.sym) {
  case SDLK_ESCAPE: set_chat_open(w, false); break; /* closes the panel, never hangs up */
  case SDLK_RETURN:
  case SDLK_KP_ENTER:
    /* What is being composed is part of the message. An input method may
     * pass Enter on before committing it (ibus does, with SDL): its commit
     * then follows, and on_text drops it once. */
    if (w->composing[0]) {
      append_text(w, w->composing);
      mc_strcpy(w->flushed, sizeof w->flushed, w->composing);
      w->flushed_at = k->timestamp;
      w->composing[0] = 0;
    }
    if (w->input[0]) {
      post(w, CALL_CMD_CHAT, w->input);
      w->input[0] = 0;
    } else {
      set_chat_open(w, false);
    }
    break;
  case SDLK_BACKSPACE:
    /* While composing, Backspace edits the composition: the method's. */
    if (!w->composing[0]) drop_last_char(w->input);
    break;
  case SDLK_v:
    if (k->keysym.mod & KMOD_CTRL) {
      char *clip = SDL_GetClipboardText();
      if (clip) append_text(w, clip);
      SDL_free(clip);
    }
    break;
  default: break;
  }
}

static enum outcome on_key(struct win *w, const SDL_KeyboardEvent *k) {
  if (w->st->phase == CALL_PHASE_ENDED) return k->keysym.sym == SDLK_ESCAPE ? CLOSE_NOW : KEEP_GOING;
  if (w->chat_open) {
    on_chat_key(w, k);
    return KEEP_GOING;
  }
  if (k->repeat) return KEEP_GOING;
  bool knocking = w->st->doctor && w->st->knock_name[0];
  switch (k->keysym.sym) {
  case SDLK_m: press_button(w, WINDOW_BTN_MIC); break;
  case SDLK_v: press_button(w, WINDOW_BTN_CAMERA); break;
  case SDLK_s: press_button(w, WINDOW_BTN_STATS); break;
  case SDLK_f: press_button(w, WINDOW_BTN_FULLSCREEN); break;
  case SDLK_ESCAPE: hang_up(w); break;
  case SDLK_RETURN:
  case SDLK_KP_ENTER: set_chat_open(w, true); break;
  case SDLK_a:
    if (knocking) post(w, CALL_CMD_ADMIT, NULL);
    break;
  case SDLK_d:
    if (knocking) post(w, CALL_CMD_DECLINE, NULL);
    break;
  case SDLK_y:
    if (w->st->file_offers) post(w, CALL_CMD_SAVE_FILE, NULL);
    break;
  case SDLK_n:
    if (w->st->file_offers) post(w, CALL_CMD_DISCARD_FILE, NULL);
    break;
  case SDLK_c:
    /* The doctor sends the link by other means: copying must be one key. */
    if (w->st->doctor && w->st->link[0]) SDL_SetClipboardText(w->st->link);
    break;
  default: break;
  }
  return KEEP_GOING;
}

static void on_click(struct win *w, int px, int py) {
  if (w->st->phase == CALL_PHASE_ENDED) return;
  bool lobby = w->st->phase != CALL_PHASE_CONNECTING && w->st->phase != CALL_PHASE_CONNECTED &&
               w->st->phase != CALL_PHASE_RECONNECTING;
  if (lobby && w->st->doctor && w->st->knock_name[0]) {
    SDL_Rect k[2];
    win_knock_buttons(&w->lay, k);
    if (inside(px, py, k[0].x, k[0].y, k[0].w, k[0].h)) post(w, CALL_CMD_ADMIT, NULL);
    if (inside(px, py, k[1].x, k[1].y, k[1].w, k[1].h)) post(w, CALL_CMD_DECLINE, NULL);
  }
  for (int i = 0; i < WINDOW_BTN_COUNT; i++) {
    const struct window_rect *b = &w->lay.button[i];
    if (inside(px, py, b->x, b->y, b->w, b->h)) press_button(w, (enum window_button)i);
  }
}

/* Mouse positions come in points; the layout is in pixels. */
static void to_pixels(struct win *w, int x, int y, int *px, int *py) {
  int ww, wh;
  SDL_GetWindowSize(w->window, &ww, &wh);
  *px = ww > 0 ? x * w->out_w / ww : x;
  *py = wh > 0 ? y * w->out_h / wh : y;
}

struct closing {
  bool requested;       /* the user closed the window during the call */
  uint64_t deadline_ms; /* then: close at the latest by this time */
};

static enum outcome on_event(struct win *w, const SDL_Event *e, struct closing *c) {
  /* The close button: the window event, then SDL_QUIT as it was the last
   * window. Either one hangs up (once) and waits for the call to end. */
  bool close_asked = e->type == SDL_QUIT ||
                     (e->type == SDL_WINDOWEVENT && e->window.event == SDL_WINDOWEVENT_CLOSE);
  if (close_asked) {
    if (w->st->phase == CALL_PHASE_ENDED) return CLOSE_NOW;
    if (!c->requested) {
      hang_up(w);
      c->requested = true;
      c->deadline_ms = w->now_ms + CLOSE_GRACE_MS;
    }
    return KEEP_GOING;
  }
  switch (e->type) {
  case SDL_KEYDOWN: return on_key(w, &e->key);
  case SDL_TEXTINPUT:
    if (w->chat_open) on_text(w, &e->text);
    break;
  case SDL_TEXTEDITING:
    if (w->chat_open) mc_strcpy(w->composing, sizeof w->composing, e->edit.text);
    break;
  case SDL_TEXTEDITING_EXT: /* a composition longer than SDL_TEXTEDITING carries */
    if (w->chat_open && e->editExt.text) mc_strcpy(w->composing, sizeof w->composing, e->editExt.text);
    SDL_free(e->editExt.text);
    break;
  case SDL_MOUSEBUTTONUP:
    if (e->button.button == SDL_BUTTON_LEFT) {
      int px, py;
      to_pixels(w, e->button.x, e->button.y, &px, &py);
      on_click(w, px, py);
    }
    break;
  case SDL_DROPFILE:
  case SDL_DROPTEXT: /* SDL allocates the text of both; only files are sent */
    if (e->drop.file) {
      if (e->type == SDL_DROPFILE && w->st->phase != CALL_PHASE_ENDED) post(w, CALL_CMD_SEND_FILE, e->drop.file);
      SDL_free(e->drop.file);
    }
    break;
  default: break;
  }
  return KEEP_GOING;
}

/* ---- one turn of the loop ---- */

/* Uploads a new picture into its streaming texture, made anew when the
 * picture's size changed (the peer's resolution follows its bandwidth). */
static void upload(SDL_Renderer *r, SDL_Texture **tex, const struct mc_i420 *f) {
  if (*tex) {
    int tw, th;
    SDL_QueryTexture(*tex, NULL, NULL, &tw, &th);
    if (tw != f->width || th != f->height) {
      SDL_DestroyTexture(*tex);
      *tex = NULL;
    }
  }
  if (!*tex) *tex = SDL_CreateTexture(r, SDL_PIXELFORMAT_IYUV, SDL_TEXTUREACCESS_STREAMING, f->width, f->height);
  if (*tex) SDL_UpdateYUVTexture(*tex, NULL, f->y, f->stride_y, f->u, f->stride_u, f->v, f->stride_v);
}

/* Copies what changed out of the view; true when the picture must be redrawn. */
static bool refresh(struct win *w, uint64_t *version) {
  bool changed = false;
  call_view_snapshot(w->view, w->st);
  if (w->st->version != *version) {
    *version = w->st->version;
    changed = true;
  }
  if (w->chat_open && w->st->chat_count > 0) w->chat_seen_ms = w->st->chat[w->st->chat_count - 1].wall_ms;
  if (call_view_take_picture(w->view, CALL_PICTURE_REMOTE, &w->remote, &w->remote_seq)) {
    upload(w->ren, &w->remote_tex, &w->remote);
    changed = true;
  }
  if (call_view_take_picture(w->view, CALL_PICTURE_SELF, &w->self, &w->self_seq)) {
    upload(w->ren, &w->self_tex, &w->self);
    changed = true;
  }
  return changed;
}

int win_chat_unread(const struct win *w) {
  int n = 0;
  for (int i = 0; i < w->st->chat_count; i++)
    if (!w->st->chat[i].mine && w->st->chat[i].wall_ms > w->chat_seen_ms) n++;
  return n;
}

/* Sizes follow the drawable: resizes, fullscreen and HiDPI all land here. */
static void measure(struct win *w) {
  int ow = 0, oh = 0, ww = 0, wh = 0;
  SDL_GetRendererOutputSize(w->ren, &ow, &oh);
  SDL_GetWindowSize(w->window, &ww, &wh);
  w->out_w = ow > 0 ? ow : 1;
  w->out_h = oh > 0 ? oh : 1;
  w->scale = ww > 0 ? (float)w->out_w / (float)ww : 1.0f;
  window_layout(w->out_w, w->out_h, w->chat_open, &w->lay);
  int px[WINDOW_TEXT_SIZES];
  window_text_sizes(&w->lay, w->scale, px);
  win_text_set_size(&w->text, px);
}

void window_text_sizes(const struct window_layout *l, float scale, int px[WINDOW_TEXT_SIZES]) {
  /* The body text fills about half the status line, which already scales
   * with the pixel height; never below 12 points (times the pixel ratio). */
  int body = l->status.h * 46 / 100, floor_px = (int)(12.0f * scale);
  if (body < floor_px) body = floor_px;
  if (body < 8) body = 8;
  px[0] = px[1] = body;
  px[2] = body * 5 / 6;
  px[3] = body * 8 / 5;
}

/* ---- open, run, close ---- */

static int open_window(struct win *w, const struct window_opts *o) {
  char why[400];
  if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
    fprintf(stderr, _("medcall: no display to show the call on (SDL: %s); set DISPLAY or use --headless.\n"),
            SDL_GetError());
    return -1;
  }
  w->video_up = true;
  if (win_text_open(&w->text, why, sizeof why) != 0) {
    fprintf(stderr, "medcall: %s.\n", why);
    return -1;
  }
  SDL_SetHint(SDL_HINT_MOUSE_FOCUS_CLICKTHROUGH, "1");
  /* The input method's whole composition, however long: the chat input
   * shows it (SDL_TEXTEDITING_EXT). */
  SDL_SetHint(SDL_HINT_IME_SUPPORT_EXTENDED_TEXT, "1");
  SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
  Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI |
                 (o && o->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
  int ww = o && o->width > 0 ? o->width : 960, wh = o && o->height > 0 ? o->height : 640;
  int x = (int)SDL_WINDOWPOS_CENTERED, y = (int)SDL_WINDOWPOS_CENTERED;
  if (o && o->placed) {
    x = o->x;
    y = o->y;
  }
  w->window = SDL_CreateWindow(o && o->title ? o->title : "medcall", x, y, ww, wh, flags);
  if (!w->window) {
    fprintf(stderr, _("medcall: cannot open a window (SDL: %s).\n"), SDL_GetError());
    return -1;
  }
  w->fullscreen = o && o->fullscreen;
  /* Accelerated when there is a GPU; Xvfb and remote desktops have none. */
  w->ren = SDL_CreateRenderer(w->window, -1, SDL_RENDERER_ACCELERATED);
  if (!w->ren) w->ren = SDL_CreateRenderer(w->window, -1, SDL_RENDERER_SOFTWARE);
  if (!w->ren) {
    fprintf(stderr, _("medcall: cannot draw in the window (SDL: %s).\n"), SDL_GetError());
    return -1;
  }
  SDL_SetRenderDrawBlendMode(w->ren, SDL_BLENDMODE_BLEND);
  SDL_RendererInfo ri;
  if (SDL_GetRendererInfo(w->ren, &ri) == 0)
    MC_LOGI(LOG, "opened driver=%s renderer=%s", SDL_GetCurrentVideoDriver(), ri.name);
  set_chat_open(w, false);
  return 0;
}

static void close_window(struct win *w) {
  if (w->remote_tex) SDL_DestroyTexture(w->remote_tex);
  if (w->self_tex) SDL_DestroyTexture(w->self_tex);
  win_text_close(&w->text);
  if (w->ren) SDL_DestroyRenderer(w->ren);
  if (w->window) SDL_DestroyWindow(w->window);
  /* Only video: the call may still be using SDL audio on its threads. */
  if (w->video_up) SDL_QuitSubSystem(SDL_INIT_VIDEO);
  mc_i420_free(&w->remote);
  mc_i420_free(&w->self);
  free(w->st);
}

/* Whether the window should close now, after this turn's events. */
static bool should_close(struct win *w, const struct window_opts *o, const struct closing *c, uint64_t *ended_at) {
  if (w->st->quit) return true;
  if (w->st->phase == CALL_PHASE_ENDED) {
    if (!*ended_at) *ended_at = w->now_ms;
    if (c->requested) return true;
    if (o && o->close_after_end_ms >= 0 && w->now_ms - *ended_at >= (uint64_t)o->close_after_end_ms) return true;
  }
  return c->requested && w->now_ms >= c->deadline_ms;
}

int window_run(struct call_view *v, const struct window_opts *o) {
  struct win w = {.view = v};
  w.st = calloc(1, sizeof *w.st);
  if (!w.st) {
    fputs(_("medcall: out of memory opening the window.\n"), stderr);
    return -1;
  }
  if (open_window(&w, o) != 0) {
    close_window(&w);
    return -1;
  }
  struct closing closing = {0};
  uint64_t version = 0, ended_at = 0, last_draw = 0, last_second = UINT64_MAX;
  bool dirty = true;
  w.now_ms = mc_now_ms();
  refresh(&w, &version);
  for (;;) {
    SDL_Event e;
    bool done = false;
    if (SDL_WaitEventTimeout(&e, FRAME_MS)) {
      do {
        w.now_ms = mc_now_ms();
        done = on_event(&w, &e, &closing) == CLOSE_NOW || done;
        dirty = true;
      } while (SDL_PollEvent(&e));
    }
    w.now_ms = mc_now_ms();
    if (done) break;
    dirty = refresh(&w, &version) || dirty;
    if (should_close(&w, o, &closing, &ended_at)) break;
    /* The call timer shows seconds: one redraw per second keeps it true. */
    uint64_t second = mc_wall_ms() / 1000;
    if (second != last_second) {
      last_second = second;
      dirty = true;
    }
    if (dirty && w.now_ms - last_draw >= FRAME_MS) {
      measure(&w);
      win_draw(&w);
      SDL_RenderPresent(w.ren);
      last_draw = w.now_ms;
      dirty = false;
    }
  }
  MC_LOGI(LOG, "closed phase=%d", (int)w.st->phase);
  close_window(&w);
  return 0;
}
