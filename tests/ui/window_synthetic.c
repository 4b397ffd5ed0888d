/* The window on a synthetic call, for tests/ui/ui_test.sh under Xvfb.
 *
 * main runs window_run (SDL wants the main thread); a driver thread plays
 * the call's side of the call view: it obeys directives read from stdin,
 * one per line, and prints on stdout each command the window posts
 * ("cmd toggle_mic", "cmd chat TEXT", ...), reacting to it as a call would
 * (mute toggles mic_muted, hang up ends the call...).
 *
 * Directives: wait | knock NAME | peer NAME or name NAME (the peer's name in
 *   the call) | connect | publish N | reconnecting |
 *   peer_camera_off 0|1 | peer_mic_muted 0|1 | peer_video_paused 0|1 |
 *   video_paused 0|1 | chat mine|peer|file TEXT |
 *   drop PATH (a file dropped on the window) | deaf 0|1 (ignore hang up) |
 *   compose TEXT | commit TEXT (what an input method sends: the
 *   composition so far, SDL_TEXTEDITING; its commit, SDL_TEXTINPUT) |
 *   end REASON | quit | echo TEXT. Each is answered "ok WORD".
 *   glyphs: answered "glyphs strings=N chars=N hangul=N missing=N", what
 *   the window's text drew so far (window_text_stats).
 *
 *   window_synthetic [--title T] [--size WxH] [--close-after MS] [--lang ko|en]
 *     (the language as medcall chooses it: the environment, or --lang)
 *   window_synthetic --layout W H PIC_W PIC_H [chat]
 *     prints the layout's rectangles for a drawable of W x H pixels,
 *     "picture X Y W H": where a PIC_W x PIC_H remote picture lands, and
 *     "text_px BODY BOLD SMALL BIG": the text's sizes in pixels. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <SDL.h>

#include "app/app.h"
#include "app/i18n.h"
#include "media/media.h"
#include "util/util.h"

/* Stamp values published: STAMP_BASE + 33 * frame index, like capture
 * times in ms. */
#define STAMP_BASE 1234567u

struct driver {
  struct call_view *view;
  int wake_pipe[2];
  atomic_bool stop;
  mc_pattern *remote_pattern, *self_pattern;
  uint64_t frames;
  bool deaf; /* a stuck call: hang up is ignored */
};

static void wake(void *arg) {
  struct driver *d = arg;
  char b = 1;
  /* A full pipe already means "wake up": the write may fail harmlessly. */
  if (write(d->wake_pipe[1], &b, 1) < 0) return;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flockfile(stdout);
  vprintf(fmt, ap);
  putchar('\n');
  fflush(stdout);
  funlockfile(stdout);
  va_end(ap);
}

static const char *const cmd_name[] = {"admit", "decline", "toggle_mic", "toggle_camera", "hang_up", "chat",
                                       "send_file"};

/* What a call does with each command, reduced to the view. */
static void obey(struct driver *d, const struct call_command *c) {
  if (c->kind == CALL_CMD_CHAT || c->kind == CALL_CMD_SEND_FILE) say("cmd %s %s", cmd_name[c->kind], c->text);
  else say("cmd %s", cmd_name[c->kind]);
  if (c->kind == CALL_CMD_CHAT) {
    call_view_add_chat(d->view, true, false, c->text);
    return;
  }
  if (c->kind == CALL_CMD_SEND_FILE) {
    call_view_add_chat(d->view, true, true, c->text);
    return;
  }
  struct call_view_state *s = call_view_lock(d->view);
  switch (c->kind) {
  case CALL_CMD_ADMIT: s->phase = CALL_PHASE_CONNECTING; break;
  case CALL_CMD_DECLINE: s->phase = CALL_PHASE_WAITING; break;
  case CALL_CMD_TOGGLE_MIC: s->mic_muted = !s->mic_muted; break;
  case CALL_CMD_TOGGLE_CAMERA: s->camera_off = !s->camera_off; break;
  case CALL_CMD_HANG_UP:
    if (d->deaf) break;
    s->phase = CALL_PHASE_ENDED;
    snprintf(s->end_reason, sizeof s->end_reason, "You hung up.");
    break;
  default: break;
  }
  call_view_unlock(d->view);
}

static void drain_commands(struct driver *d) {
  struct call_command c;
  while (call_view_next_command(d->view, &c)) obey(d, &c);
}

static void publish(struct driver *d, int n) {
  uint32_t last = 0;
  for (int i = 0; i < n && !atomic_load(&d->stop); i++, d->frames++) {
    const struct mc_i420 *f;
    last = STAMP_BASE + 33u * (uint32_t)d->frames;
    if (mc_pattern_frame(d->remote_pattern, d->frames, last, &f) == 0)
      call_view_put_picture(d->view, CALL_PICTURE_REMOTE, f);
    if (mc_pattern_frame(d->self_pattern, d->frames, last, &f) == 0)
      call_view_put_picture(d->view, CALL_PICTURE_SELF, f);
    drain_commands(d);
    usleep(33000);
  }
  say("published %d last=%u", n, (unsigned)last);
}

static void directive(struct driver *d, char *line) {
  char *arg = strchr(line, ' ');
  if (arg) *arg++ = 0;
  else arg = "";
  if (strcmp(line, "publish") == 0) {
    publish(d, atoi(arg));
    return;
  }
  if (strcmp(line, "chat") == 0) {
    char *text = strchr(arg, ' ');
    if (text) *text++ = 0;
    call_view_add_chat(d->view, strcmp(arg, "mine") == 0, strcmp(arg, "file") == 0, text ? text : "");
    say("ok chat");
    return;
  }
  if (strcmp(line, "drop") == 0) {
    /* What SDL's X11 drag and drop delivers; xdotool cannot drag a file.
     * SDL_PushEvent may be called from any thread. */
    SDL_Event e = {.drop = {.type = SDL_DROPFILE, .file = SDL_strdup(arg)}};
    if (SDL_PushEvent(&e) != 1) SDL_free(e.drop.file);
    say("ok drop");
    return;
  }
  if (strcmp(line, "compose") == 0 || strcmp(line, "commit") == 0) {
    /* What SDL delivers from ibus or fcitx; SDL_PushEvent stamps the time. */
    SDL_Event e = {0};
    if (strcmp(line, "commit") == 0) {
      e.type = SDL_TEXTINPUT;
      snprintf(e.text.text, sizeof e.text.text, "%s", arg);
    } else {
      e.type = SDL_TEXTEDITING;
      snprintf(e.edit.text, sizeof e.edit.text, "%s", arg);
      e.edit.start = (Sint32)strlen(arg);
    }
    SDL_PushEvent(&e);
    say("ok %s", line);
    return;
  }
  if (strcmp(line, "glyphs") == 0) {
    struct window_text_stats g;
    window_text_stats(&g);
    say("glyphs strings=%llu chars=%llu hangul=%llu missing=%llu", (unsigned long long)g.strings,
        (unsigned long long)g.chars, (unsigned long long)g.hangul, (unsigned long long)g.missing);
    return;
  }
  if (strcmp(line, "deaf") == 0) {
    d->deaf = atoi(arg) != 0;
    say("ok deaf");
    return;
  }
  struct call_view_state *s = call_view_lock(d->view);
  if (strcmp(line, "wait") == 0) {
    s->phase = CALL_PHASE_WAITING;
    snprintf(s->link, sizeof s->link, "https://192.0.2.10:8443/r/9f2c4e7a1b3d5f60#k=Zm9vYmFyYmF6cXV4");
  } else if (strcmp(line, "knock") == 0) {
    s->phase = CALL_PHASE_KNOCKING;
    snprintf(s->knock_name, sizeof s->knock_name, "%s", arg);
    s->knocks_waiting = 1;
  } else if (strcmp(line, "peer") == 0 || strcmp(line, "name") == 0) {
    snprintf(s->peer_name, sizeof s->peer_name, "%s", arg);
  } else if (strcmp(line, "connect") == 0) {
    s->phase = CALL_PHASE_CONNECTED;
    s->connected_wall_ms = mc_wall_ms();
    snprintf(s->verification, sizeof s->verification, "123 456");
    snprintf(s->route, sizeof s->route, "direct (host - host)");
    snprintf(s->stats_text, sizeof s->stats_text,
             "pair: host 127.0.0.1:50000 - host 127.0.0.1:50001 (udp)\nvideo out: VP8 640x480 30 fps 1500 kbit/s\n"
             "video in: VP8 640x480 30 fps 1480 kbit/s\naudio: opus 48 kHz 32 kbit/s\nRTT 2 ms  loss 0.0%%  jitter 1 ms");
    s->quality_bars = 3;
    s->has_audio = s->has_video = true;
  } else if (strcmp(line, "reconnecting") == 0) {
    s->phase = CALL_PHASE_RECONNECTING;
  } else if (strcmp(line, "peer_camera_off") == 0) {
    s->peer_camera_off = atoi(arg) != 0;
  } else if (strcmp(line, "peer_mic_muted") == 0) {
    s->peer_mic_muted = atoi(arg) != 0;
  } else if (strcmp(line, "peer_video_paused") == 0) {
    s->peer_video_paused = atoi(arg) != 0;
  } else if (strcmp(line, "video_paused") == 0) {
    s->video_paused = atoi(arg) != 0;
  } else if (strcmp(line, "end") == 0) {
    s->phase = CALL_PHASE_ENDED;
    snprintf(s->end_reason, sizeof s->end_reason, "%s", arg);
  } else if (strcmp(line, "quit") == 0) {
    s->quit = true;
  } else if (strcmp(line, "echo") == 0) {
    call_view_unlock(d->view);
    say("echo %s", arg);
    return;
  } else {
    call_view_unlock(d->view);
    say("unknown %s", line);
    return;
  }
  call_view_unlock(d->view);
  say("ok %s", line);
}

static void *driver_main(void *arg) {
  struct driver *d = arg;
  char buf[4096];
  size_t have = 0;
  bool stdin_open = true;
  while (!atomic_load(&d->stop)) {
    struct pollfd p[2] = {{d->wake_pipe[0], POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    if (poll(p, 2, 100) < 0 && errno != EINTR) break;
    if (p[0].revents & POLLIN) {
      char junk[64];
      if (read(d->wake_pipe[0], junk, sizeof junk) < 0) continue;
    }
    drain_commands(d);
    if (p[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf + have, sizeof buf - 1 - have);
      if (n <= 0) {
        stdin_open = false;
        continue;
      }
      have += (size_t)n;
      char *nl;
      while ((nl = memchr(buf, '\n', have))) {
        *nl = 0;
        directive(d, buf);
        size_t used = (size_t)(nl - buf) + 1;
        memmove(buf, nl + 1, have - used);
        have -= used;
      }
      if (have == sizeof buf - 1) have = 0; /* a line too long: dropped */
    }
  }
  return NULL;
}

static void print_rect(const char *name, int x, int y, int w, int h) { printf("%s %d %d %d %d\n", name, x, y, w, h); }

static int print_layout(int w, int h, int pw, int ph, bool chat) {
  struct window_layout l;
  window_layout(w, h, chat, &l);
  print_rect("remote", l.remote.x, l.remote.y, l.remote.w, l.remote.h);
  struct mc_rect lb;
  mc_letterbox(pw, ph, l.remote.w, l.remote.h, &lb);
  print_rect("picture", l.remote.x + lb.x, l.remote.y + lb.y, lb.w, lb.h);
  print_rect("self", l.self_view.x, l.self_view.y, l.self_view.w, l.self_view.h);
  print_rect("status", l.status.x, l.status.y, l.status.w, l.status.h);
  print_rect("controls", l.controls.x, l.controls.y, l.controls.w, l.controls.h);
  print_rect("chat", l.chat.x, l.chat.y, l.chat.w, l.chat.h);
  static const char *const names[WINDOW_BTN_COUNT] = {"mic", "camera", "chat_button", "stats", "fullscreen", "hang_up"};
  for (int i = 0; i < WINDOW_BTN_COUNT; i++)
    print_rect(names[i], l.button[i].x, l.button[i].y, l.button[i].w, l.button[i].h);
  int px[WINDOW_TEXT_SIZES];
  window_text_sizes(&l, 1.0f, px);
  printf("text_px %d %d %d %d\n", px[0], px[1], px[2], px[3]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 6 && strcmp(argv[1], "--layout") == 0)
    return print_layout(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argc >= 7);
  struct window_opts o = {.title = "medcall-ui-test", .width = 960, .height = 600, .close_after_end_ms = -1};
  app_i18n_init();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--title") == 0) o.title = argv[i + 1];
    else if (strcmp(argv[i], "--lang") == 0 && app_i18n_set_lang(argv[i + 1]) != 0) {
      fprintf(stderr, "window_synthetic: --lang %s: ko or en\n", argv[i + 1]);
      return 2;
    } else if (strcmp(argv[i], "--lang") == 0) continue;
    else if (strcmp(argv[i], "--size") == 0) sscanf(argv[i + 1], "%dx%d", &o.width, &o.height);
    else if (strcmp(argv[i], "--close-after") == 0) o.close_after_end_ms = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "window_synthetic: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  mc_log_init_from_env();
  struct driver d = {0};
  struct mc_pattern_config rc = {640, 480, 30}, sc = {320, 240, 30};
  if (pipe(d.wake_pipe) != 0 || call_view_new(true, &d.view) != 0 || mc_pattern_new(&rc, &d.remote_pattern) != 0 ||
      mc_pattern_new(&sc, &d.self_pattern) != 0) {
    fprintf(stderr, "window_synthetic: set-up failed\n");
    return 1;
  }
  call_view_set_waker(d.view, wake, &d);
  pthread_t th;
  if (pthread_create(&th, NULL, driver_main, &d) != 0) return 1;
  say("started");
  int rc_run = window_run(d.view, &o);
  atomic_store(&d.stop, true);
  wake(&d);
  pthread_join(th, NULL);
  drain_commands(&d); /* what the window posted last (hang up on close) */
  say("window_run rc=%d", rc_run);
  call_view_free(d.view);
  mc_pattern_free(d.remote_pattern);
  mc_pattern_free(d.self_pattern);
  return rc_run == 0 ? 0 : 1;
}
