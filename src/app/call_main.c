/* medcall call / medcall join: the command line, the config file and the
 * threads of a call. The call itself (call.c) runs on a net thread with its
 * own uv loop; the window runs on the main thread, which SDL wants; they
 * share a call_view. Without a display (or with --headless / --no-window)
 * the call runs on the main thread and nothing is drawn. */
#include <SDL.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/i18n.h"
#include "media/media.h"
#include "signal/signal.h"
#include "turn/turn.h"
#include "util/util.h"

/* --help, in paragraphs (one msgid each: translators see the common
 * options once for call and join). */
static const char *const options_usage = N_(
    "  --config FILE       read options from FILE instead of the default\n"
    "                      $XDG_CONFIG_HOME/medcall/medcall.conf (~/.config/...):\n"
    "                      'name = value' lines with the long names below\n"
    "                      (server, token, name, video-source, audio-source,\n"
    "                      ice-server, download-dir, lang, ...); the command line\n"
    "                      wins\n"
    "  --lang ko|en        the language of the window and messages (default: from\n"
    "                      LANGUAGE, LC_ALL, LC_MESSAGES or LANG)\n"
    "  --insecure          accept a self-signed server certificate (development)\n"
    "  --server-pin FP     accept the server's certificate only when its SHA-256\n"
    "                      fingerprint is FP (AB:CD:... as medcall-server prints it\n"
    "                      at start, or 'SHA-256 AB:CD:...' as the doctor's medcall\n"
    "                      prints it on its server-fingerprint: line): a\n"
    "                      self-signed server without --insecure\n"
    "  --relay-only        connect only through a TURN relay\n"
    "  --ice-server 'URL [USERNAME CREDENTIAL]'\n"
    "                      a STUN or TURN server to use besides the server's own\n"
    "                      (repeat for more; credentials belong in the config file)\n"
    "  --video-source S    camera[:DEVICE] (default /dev/video0), pattern (moving\n"
    "                      picture with its capture time stamped in the top row),\n"
    "                      file:PATH (Y4M) or none (default: camera when there is a\n"
    "                      window, else none; a missing camera means sound only)\n"
    "  --audio-source S    mic[:DEVICE] (through echo cancellation), tone[:HZ]\n"
    "                      (default 440 Hz), file:PATH (WAV, 48 kHz, 16-bit) or\n"
    "                      none (default: mic when there is a window, else none)\n"
    "  --video-size WxH    picture size sent (default 640x480)\n"
    "  --fps N             frames per second sent (default 30)\n"
    "  --bitrate KBPS      VP8 starting bit rate (default 1000)\n"
    "  --download-dir DIR  where files the other side sends are saved (default\n"
    "                      the desktop's download folder, as xdg-user-dir\n"
    "                      DOWNLOAD says; else $XDG_DOWNLOAD_DIR, ~/Downloads or ~)\n"
    "  --accept-files      save every file the other side sends without asking\n"
    "                      (default: the window asks, Y saves and N discards;\n"
    "                      without a window received files are discarded)\n"
    "  --fullscreen        start with the window full screen\n"
    "  --window WxH[+X+Y]  the window's size, and where it opens (default\n"
    "                      1024x640, centred)\n"
    "  --no-window         no window; sound still plays on the speakers\n"
    "  --headless          no window and no speakers: what arrives is measured only\n"
    "                      (for tests and benchmarks; implies --auto-admit)\n"
    "\n");

static const char *const keys_usage = N_(
    "Window keys: M microphone, V camera, Enter chat, S statistics, F full screen,\n"
    "Esc hang up (on the end screen: close); A/D admit or decline a knock; Y/N\n"
    "save or discard a file the other side sent. Drop a file on the window to\n"
    "send it.\n"
    "\n");

static const char *const test_usage = N_(
    "For tests and scripts:\n"
    "  --duration S        hang up after S seconds connected (media stops sending\n"
    "                      then, the call ends a second later)\n"
    "  --stats-json FILE   write the call's statistics as JSON at the end\n"
    "  --chat TEXT         send TEXT as a chat message once the chat opens\n"
    "  --send-file PATH    send the file once connected (repeat for more, up to 8,\n"
    "                      sent at once)\n"
    "  --echo              send every data-channel message back as it came\n"
    "  --send-bytes N      once connected, open a data channel \"bulk\", send N bytes\n"
    "                      on it with backpressure, print 'sent: N bytes sha256 HEX'\n"
    "\n");

static const char *const output_usage = N_(
    "Lines on standard output (in English, whatever the language): link:, knock:,\n"
    "state:, pair:, verify: (the code both sides compare aloud), chat:, peer:,\n"
    "file:, reconnecting:, ended:.\n"
    "MEDCALL_LOG=warn|info|debug adds a diagnostic log on standard error.\n"
    "Exit status: 0 when the call connected and ended normally, 1 when it could\n"
    "not connect or failed, 2 on a usage error.\n");

static void common_usage(FILE *out) {
  fputs(_(options_usage), out);
  fputs(_(keys_usage), out);
  fputs(_(test_usage), out);
  fputs(_(output_usage), out);
}

void mc_call_usage(FILE *out) {
  fputs(_("usage: medcall call [--server URL [--token T]] [options]\n"
          "\n"
          "Creates a consultation room and shows the patient's link (also printed as\n"
          "a line 'link: URL'); when the patient knocks, admit them (A) and the call\n"
          "starts. The room stays open until you hang up: a patient who leaves or\n"
          "drops can come back. If medcall was killed during a consultation, the\n"
          "next 'medcall call' with the same server takes the room back.\n"
          "\n"
          "  --server URL        a medcall-server's signaling address, wss://HOST:PORT/ws;\n"
          "                      without it medcall runs the server itself, on a free port\n"
          "                      on every interface (a patient on this network can open\n"
          "                      the link in a browser; the browser will warn about the\n"
          "                      self-signed certificate), where only this app creates\n"
          "                      rooms (a token of its own for each run)\n"
          "  --token T           the doctor token the server was started with (prefer\n"
          "                      the config file: a command line is visible to others)\n"
          "  --room ROOM         take back the room ROOM (the last part of its link): from\n"
          "                      this machine's state directory, or with --token from\n"
          "                      another machine\n"
          "  --auto-admit        admit the first patient who knocks (always so without\n"
          "                      a window)\n"),
        out);
  common_usage(out);
}

void mc_join_usage(FILE *out) {
  fputs(_("usage: medcall join LINK [--name NAME] [options]\n"
          "\n"
          "Joins the consultation at LINK (https://HOST:PORT/r/ROOM), waits until the\n"
          "doctor admits you, and connects.\n"
          "\n"
          "  --name NAME         the name the doctor sees (default \"medcall\")\n"),
        out);
  common_usage(out);
}

enum {
  O_SERVER = 1, O_TOKEN, O_NAME, O_INSECURE, O_RELAY, O_DURATION, O_ECHO, O_SEND, O_STATS, O_VIDEO, O_AUDIO,
  O_SIZE, O_FPS, O_BITRATE, O_HEADLESS, O_AUTO_ADMIT, O_NO_WINDOW, O_CHAT, O_SEND_FILE, O_DOWNLOAD_DIR,
  O_ICE_SERVER, O_CONFIG, O_FULLSCREEN, O_SERVER_PIN, O_WINDOW, O_ROOM, O_ACCEPT_FILES
};

static const struct option longopts[] = {
    {"server", required_argument, NULL, O_SERVER},       {"token", required_argument, NULL, O_TOKEN},
    {"name", required_argument, NULL, O_NAME},           {"insecure", no_argument, NULL, O_INSECURE},
    {"relay-only", no_argument, NULL, O_RELAY},          {"duration", required_argument, NULL, O_DURATION},
    {"echo", no_argument, NULL, O_ECHO},                 {"send-bytes", required_argument, NULL, O_SEND},
    {"stats-json", required_argument, NULL, O_STATS},    {"video-source", required_argument, NULL, O_VIDEO},
    {"audio-source", required_argument, NULL, O_AUDIO},  {"video-size", required_argument, NULL, O_SIZE},
    {"fps", required_argument, NULL, O_FPS},             {"bitrate", required_argument, NULL, O_BITRATE},
    {"headless", no_argument, NULL, O_HEADLESS},         {"auto-admit", no_argument, NULL, O_AUTO_ADMIT},
    {"no-window", no_argument, NULL, O_NO_WINDOW},       {"chat", required_argument, NULL, O_CHAT},
    {"send-file", required_argument, NULL, O_SEND_FILE}, {"download-dir", required_argument, NULL, O_DOWNLOAD_DIR},
    {"ice-server", required_argument, NULL, O_ICE_SERVER}, {"config", required_argument, NULL, O_CONFIG},
    {"fullscreen", no_argument, NULL, O_FULLSCREEN},     {"server-pin", required_argument, NULL, O_SERVER_PIN},
    {"window", required_argument, NULL, O_WINDOW},     {"room", required_argument, NULL, O_ROOM},
    {"accept-files", no_argument, NULL, O_ACCEPT_FILES},
    {NULL, 0, NULL, 0},
};

/* What a config file may set: lasting preferences, not one call's test knobs. */
static const char *const config_names[] = {"server",       "token",      "name",       "insecure",     "relay-only",
                                           "ice-server",   "video-source", "audio-source", "video-size", "fps",
                                           "bitrate",      "download-dir", "auto-admit", "fullscreen", "no-window",
                                           "server-pin",   "window",       "accept-files"};

struct cli {
  struct call_opts o;
  const char *link, *server;
  bool no_window, fullscreen, video_set, audio_set;
  uint8_t pin[32];
  bool pinned;
  struct window_opts win;
  /* argv built from the config file, then the command line */
  char **args;
  int nargs, cap;
};

static int push_arg(struct cli *cl, const char *s) {
  if (cl->nargs + 1 >= cl->cap) {
    int cap = cl->cap ? cl->cap * 2 : 32;
    char **a = realloc(cl->args, (size_t)cap * sizeof *a);
    if (!a) return MC_ENOMEM;
    cl->args = a;
    cl->cap = cap;
  }
  cl->args[cl->nargs] = strdup(s);
  if (!cl->args[cl->nargs]) return MC_ENOMEM;
  cl->args[++cl->nargs] = NULL;
  return 0;
}

/* The long option a config file line names, when a config file may set it. */
static const struct option *config_option(const char *name) {
  for (size_t i = 0; i < MC_ARRAY_LEN(config_names); i++)
    if (!strcmp(name, config_names[i]))
      for (const struct option *o = longopts; o->name; o++)
        if (!strcmp(o->name, name)) return o;
  return NULL;
}

static int config_line(const char *name, const char *value, void *user, char *why, size_t why_cap) {
  struct cli *cl = user;
  /* The language is chosen before the options are parsed; --lang wins. */
  if (!strcmp(name, "lang")) {
    if (!value || (strcmp(value, "ko") != 0 && strcmp(value, "en") != 0)) {
      snprintf(why, why_cap, _("\"lang\" wants one of %s, not '%s'"), APP_LANGS, value ? value : "");
      return MC_EINVAL;
    }
    if (!app_i18n_lang_from_command_line()) app_i18n_set_lang(value);
    return 0;
  }
  const struct option *opt = config_option(name);
  if (!opt) {
    snprintf(why, why_cap, _("\"%s\" is not an option a config file can set"), name);
    return MC_EINVAL;
  }
  if (opt->has_arg == no_argument) {
    if (value && (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0"))) return 0;
  } else if (!value || !*value) {
    snprintf(why, why_cap, _("\"%s\" wants a value: %s = VALUE"), name, name);
    return MC_EINVAL;
  }
  char flag[64];
  snprintf(flag, sizeof flag, "--%s", name);
  int rc = push_arg(cl, flag);
  if (rc == 0 && opt->has_arg != no_argument) rc = push_arg(cl, value);
  return rc;
}

static int read_config(struct cli *cl, int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < argc) path = argv[i + 1];
    else if (!strncmp(argv[i], "--config=", 9)) path = argv[i] + 9;
  }
  char def[1024];
  bool explicit_path = path != NULL;
  if (!path) {
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(def, sizeof def, "%s/medcall/medcall.conf", xdg);
    else if (home && *home) snprintf(def, sizeof def, "%s/.config/medcall/medcall.conf", home);
    else return 0;
    path = def;
  }
  char why[600];
  int rc = mc_conf_read(path, config_line, cl, why, sizeof why);
  if (rc == MC_ENOTFOUND && !explicit_path) return 0;
  if (rc != 0) fprintf(stderr, "medcall: %s\n", why);
  return rc;
}

static int add_ice_option(struct call_opts *o, const char *arg) {
  char url[512] = "", user[256] = "", cred[256] = "";
  int n = sscanf(arg, "%511s %255s %255s", url, user, cred);
  if (n < 1 || (strncmp(url, "stun:", 5) && strncmp(url, "turn:", 5) && strncmp(url, "turns:", 6)) || n == 2) {
    fputs(_("medcall: --ice-server wants 'stun:HOST[:PORT]' or 'turn:HOST[:PORT] USERNAME CREDENTIAL'\n"), stderr);
    return -1;
  }
  mc_ice_url parsed;
  char why[400];
  if (mc_ice_url_parse(url, strlen(url), &parsed, why, sizeof why) < 0) {
    fprintf(stderr, _("medcall: bad --ice-server '%s': %s\n"), url, why);
    return -1;
  }
  if (o->nice >= CALL_MAX_ICE_SERVERS) {
    fprintf(stderr, _("medcall: at most %d --ice-server\n"), CALL_MAX_ICE_SERVERS);
    return -1;
  }
  o->ice[o->nice].url = strdup(url);
  o->ice[o->nice].username = n == 3 ? strdup(user) : NULL;
  o->ice[o->nice].credential = n == 3 ? strdup(cred) : NULL;
  o->nice++;
  return 0;
}

/* "AB:CD:..." (colons optional, any case), optionally after "SHA-256 " as
 * the built-in server's `server-fingerprint:` line prints it -> 32 bytes. */
static int parse_pin(const char *arg, uint8_t out[32]) {
  size_t n = 0;
  if (strncasecmp(arg, "SHA-256 ", 8) == 0) arg += 8;
  for (const char *p = arg; *p;) {
    if (*p == ':') {
      p++;
      continue;
    }
    unsigned v;
    if (n >= 32 || sscanf(p, "%2x", &v) != 1 || !p[1] || p[1] == ':') return -1;
    out[n++] = (uint8_t)v;
    p += 2;
  }
  return n == 32 ? 0 : -1;
}

static int parse_int(const char *arg, int lo, int hi, int *out) {
  char *end = NULL;
  long v = strtol(arg, &end, 10);
  if (!end || *end || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

static int parse_opts(struct cli *cl, int argc, char **argv) {
  struct call_opts *o = &cl->o;
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    char *end = NULL;
    switch (opt) {
    case O_SERVER: cl->server = optarg; break;
    case O_TOKEN: o->token = optarg; break;
    case O_NAME: o->name = optarg; break;
    case O_INSECURE: o->insecure = true; break;
    case O_RELAY: o->relay_only = true; break;
    case O_ECHO: o->echo = true; break;
    case O_STATS: o->stats_json = optarg; break;
    case O_HEADLESS: o->media.headless = true; break;
    case O_AUTO_ADMIT: o->auto_admit = true; break;
    case O_ACCEPT_FILES: o->accept_files = true; break;
    case O_NO_WINDOW: cl->no_window = true; break;
    case O_FULLSCREEN: cl->fullscreen = true; break;
    case O_CHAT: o->chat_text = optarg; break;
    case O_SEND_FILE:
      if (o->nsend_files == (int)MC_ARRAY_LEN(o->send_files)) {
        fprintf(stderr, _("medcall: at most %d --send-file\n"), (int)MC_ARRAY_LEN(o->send_files));
        return -1;
      }
      o->send_files[o->nsend_files++] = optarg;
      break;
    case O_DOWNLOAD_DIR: o->download_dir = optarg; break;
    case O_CONFIG: break; /* read before */
    case O_ROOM:
      if (!o->doctor || !mc_signal_id_valid(optarg, strlen(optarg))) {
        fputs(o->doctor ? _("medcall: --room wants a room id (the last part of the room link)\n")
                        : _("medcall: --room is for 'medcall call'; 'join' takes the link\n"),
              stderr);
        return -1;
      }
      o->room = optarg;
      break;
    case O_WINDOW: {
      int n = 0;
      cl->win.placed = false;
      if (sscanf(optarg, "%dx%d%n", &cl->win.width, &cl->win.height, &n) != 2 || cl->win.width < 320 ||
          cl->win.height < 240 || cl->win.width > 7680 || cl->win.height > 4320 ||
          (optarg[n] && (sscanf(optarg + n, "+%d+%d", &cl->win.x, &cl->win.y) != 2 || cl->win.x < 0 || cl->win.y < 0))) {
        fprintf(stderr, _("medcall: --window wants WIDTHxHEIGHT (at least 320x240), optionally +X+Y, not '%s'\n"),
                optarg);
        return -1;
      }
      cl->win.placed = optarg[n] != '\0';
      break;
    }
    case O_SERVER_PIN:
      if (parse_pin(optarg, cl->pin) != 0) {
        fputs(_("medcall: --server-pin wants the 32-byte SHA-256 fingerprint as hex (AB:CD:...)\n"), stderr);
        return -1;
      }
      cl->pinned = true;
      break;
    case O_ICE_SERVER:
      if (add_ice_option(o, optarg) != 0) return -1;
      break;
    case O_VIDEO:
      if (call_media_parse_source(optarg, true, &o->media) != 0) return -1;
      cl->video_set = true;
      break;
    case O_AUDIO:
      if (call_media_parse_source(optarg, false, &o->media) != 0) return -1;
      cl->audio_set = true;
      break;
    case O_SIZE:
      if (sscanf(optarg, "%dx%d", &o->media.width, &o->media.height) != 2 || o->media.width < 16 ||
          o->media.height < 16 || o->media.width > 3840 || o->media.height > 2160) {
        fprintf(stderr, _("medcall: --video-size wants WIDTHxHEIGHT (16x16 to 3840x2160), not '%s'\n"), optarg);
        return -1;
      }
      break;
    case O_FPS:
      if (parse_int(optarg, 1, 60, &o->media.fps) != 0) {
        fprintf(stderr, _("medcall: --fps wants 1..60, not '%s'\n"), optarg);
        return -1;
      }
      break;
    case O_BITRATE:
      if (parse_int(optarg, 30, 20000, &o->media.bitrate_kbps) != 0) {
        fprintf(stderr, _("medcall: --bitrate wants 30..20000 kbit/s, not '%s'\n"), optarg);
        return -1;
      }
      break;
    case O_DURATION:
      o->duration_s = strtod(optarg, &end);
      if (!end || *end || o->duration_s <= 0) {
        fprintf(stderr, _("medcall: --duration wants a number of seconds above 0, not '%s'\n"), optarg);
        return -1;
      }
      break;
    case O_SEND:
      o->send_bytes = strtoull(optarg, &end, 10);
      if (!end || *end) {
        fprintf(stderr, _("medcall: --send-bytes wants a number of bytes, not '%s'\n"), optarg);
        return -1;
      }
      break;
    default: return -1;
    }
  }
  if (!o->doctor) {
    if (optind != argc - 1) {
      fputs(_("medcall: join wants exactly one LINK (the room link the doctor sent)\n"), stderr);
      return -1;
    }
    cl->link = argv[optind];
  } else if (optind != argc) {
    fprintf(stderr, _("medcall: unexpected argument '%s'\n"), argv[optind]);
    return -1;
  }
  if (o->media.headless) o->auto_admit = true;
  return 0;
}

static bool display_present(void) {
  const char *vars[] = {"DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"};
  for (size_t i = 0; i < MC_ARRAY_LEN(vars); i++) {
    const char *v = getenv(vars[i]);
    if (v && *v) return true;
  }
  return false;
}

struct net_thread {
  const struct call_opts *o;
  struct call_view *view;
  int code;
};

static void *net_main(void *arg) {
  struct net_thread *t = arg;
  t->code = call_run(t->o, t->view);
  return NULL;
}

/* The window on this thread, the call on another; closing the window hangs
 * up, and the call ending leaves its end screen until the window closes. */
static int run_with_window(struct cli *cl, struct call_view *view) {
  struct net_thread t = {.o = &cl->o, .view = view, .code = MC_APP_EXIT_FAIL};
  pthread_t th;
  if (pthread_create(&th, NULL, net_main, &t) != 0) {
    fputs(_("medcall: could not start the call's thread\n"), stderr);
    return MC_APP_EXIT_FAIL;
  }
  struct window_opts wo = cl->win;
  wo.title = cl->o.doctor ? _("medcall - doctor") : _("medcall - patient");
  wo.fullscreen = cl->fullscreen;
  wo.close_after_end_ms = cl->o.duration_s > 0 ? 3000 : -1;
  if (window_run(view, &wo) == 0) {
    struct call_command hang = {.kind = CALL_CMD_HANG_UP};
    call_view_post(view, &hang);
  } else {
    fputs(_("medcall: no window could open; the call goes on without one (Ctrl-C hangs up)\n"), stderr);
  }
  pthread_join(th, NULL);
  return t.code;
}

static void free_cli(struct cli *cl) {
  for (int i = 0; i < cl->nargs; i++) free(cl->args[i]);
  free(cl->args);
  for (size_t i = 0; i < cl->o.nice; i++) {
    free(cl->o.ice[i].url);
    free(cl->o.ice[i].username);
    if (cl->o.ice[i].credential) {
      OPENSSL_cleanse(cl->o.ice[i].credential, strlen(cl->o.ice[i].credential));
      free(cl->o.ice[i].credential);
    }
  }
}

/* A Y4M or WAV file named as a source is read once before the call: a wrong
 * path is for the doctor to fix before a patient is let in, not a failed
 * call when one is. 0, or -1 with the sentence on stderr. */
static int check_source_files(const struct call_media_opts *m) {
  char why[400];
  if (m->video == CALL_VIDEO_FILE) {
    mc_y4m *y = NULL;
    if (mc_y4m_open(m->video_path, &y, why, sizeof why) != 0) {
      fprintf(stderr, "medcall: %s\n", why);
      return -1;
    }
    mc_y4m_free(y);
  }
  if (m->audio == CALL_AUDIO_FILE) {
    mc_wav *w = NULL;
    if (mc_wav_open(m->audio_path, &w, why, sizeof why) != 0) {
      fprintf(stderr, "medcall: %s\n", why);
      return -1;
    }
    mc_wav_free(w);
  }
  return 0;
}

static int run(int argc, char **argv, bool doctor) {
  struct cli cl;
  memset(&cl, 0, sizeof cl);
  cl.o.doctor = doctor;
  cl.win.width = 1024;
  cl.win.height = 640;
  cl.o.media = (struct call_media_opts){.video = CALL_VIDEO_NONE, .audio = CALL_AUDIO_NONE, .tone_hz = 440,
                                        .width = 640, .height = 480, .fps = 30, .bitrate_kbps = 1000};
  /* A person reads one sentence per failure; the log is for diagnosis
   * (MEDCALL_LOG=warn|info|debug). */
  if (!getenv("MEDCALL_LOG")) mc_log_set_level(MC_LOG_OFF);
  int code = MC_APP_EXIT_USAGE;
  struct call_server *server = NULL;
  struct call_view *view = NULL;
  int rc = push_arg(&cl, argv[0]);
  if (rc == 0) rc = read_config(&cl, argc, argv);
  for (int i = 1; rc == 0 && i < argc; i++) rc = push_arg(&cl, argv[i]);
  if (rc != 0 || parse_opts(&cl, cl.nargs, cl.args) != 0) {
    fputs(doctor ? _("see 'medcall call --help'\n") : _("see 'medcall join --help'\n"), stderr);
    goto out;
  }
  bool window = !cl.o.media.headless && !cl.no_window && display_present();
  /* A person at a window expects their camera and microphone. */
  if (window && !cl.video_set) cl.o.media.video = CALL_VIDEO_CAMERA;
  if (window && !cl.audio_set) cl.o.media.audio = CALL_AUDIO_MIC;
  char ws_url[512], room[MC_SIGNAL_ID_LEN_MAX + 1];
  uint8_t pin[32];
  if (!doctor) {
    char why[400];
    if (mc_signal_parse_link(cl.link, ws_url, sizeof ws_url, room, sizeof room, why, sizeof why) != 0) {
      fprintf(stderr, "medcall: %s\n", why); /* mc_tr() made it in the user's language */
      goto out;
    }
    cl.o.room = room;
  }
  if (check_source_files(&cl.o.media) != 0) goto out;
  if (!doctor) {
    /* the patient's server is the link's */
  } else if (cl.server) {
    mc_strcpy(ws_url, sizeof ws_url, cl.server);
  } else if (call_server_start(&server, ws_url, sizeof ws_url, pin) == 0) {
    cl.o.pin_sha256 = pin;
    /* Our own create (and a --room taken back) carries the run's token:
     * the built-in server takes no other. */
    cl.o.token = call_server_token(server);
  } else {
    code = MC_APP_EXIT_FAIL;
    goto out;
  }
  cl.o.ws_url = ws_url;
  if (cl.pinned && !cl.o.pin_sha256) cl.o.pin_sha256 = cl.pin;
  /* Library set-up before the call, not inside it. */
  mc_global_init();
  code = MC_APP_EXIT_FAIL;
  if (call_view_new(doctor, &view) != 0) goto out;
  if (window && SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
    fprintf(stderr, _("medcall: no window (%s); the call goes on without one\n"), SDL_GetError());
    window = false;
  }
  /* Without a window nobody could press Admit: the first knock is let in. */
  if (!window) cl.o.auto_admit = true;
  cl.o.window = window;
  /* SDL audio starts now, on its own thread, while we connect and wait:
   * not between a knock let in and the call (call_audio.c). After the
   * window's SDL_InitSubSystem, which is not for two threads at once. */
  if (!cl.o.media.headless || cl.o.media.audio == CALL_AUDIO_MIC) call_audio_start();
  code = window ? run_with_window(&cl, view) : call_run(&cl.o, view);
  if (window) SDL_QuitSubSystem(SDL_INIT_VIDEO);
out:
  call_audio_stop();
  call_server_stop(server);
  call_view_free(view);
  free_cli(&cl);
  return code;
}

int mc_call_main(int argc, char **argv) { return run(argc, argv, true); }
int mc_join_main(int argc, char **argv) { return run(argc, argv, false); }
