/* The medcall program: each subcommand is one function with the shape of
 * main, listed in the command table of main.c. */
#ifndef MC_APP_H
#define MC_APP_H

#include <stdio.h>

struct mc_app_command {
  const char *name;
  const char *summary; /* one line for "medcall --help" (marked N_(), shown translated) */
  void (*usage)(FILE *out); /* full help for "medcall NAME --help", in the user's language */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* Exit statuses shared by every command. */
enum { MC_APP_EXIT_OK = 0, MC_APP_EXIT_FAIL = 1, MC_APP_EXIT_USAGE = 2 };

void mc_diagnose_usage(FILE *out);
int mc_diagnose_main(int argc, char **argv);

void mc_call_usage(FILE *out);
void mc_join_usage(FILE *out);
int mc_call_main(int argc, char **argv);
int mc_join_main(int argc, char **argv);

void mc_devices_usage(FILE *out);
int mc_devices_main(int argc, char **argv);

/* ---- the media of a call (call_media.c) ---- */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/pc.h"
#include "signal/signal.h"

typedef struct json_t json_t;
typedef struct uv_loop_s uv_loop_t;
struct mc_i420;

/* ---- what the window shows (view.c) ----
 * The call runs on the net thread and the window on the main thread (SDL
 * wants it); they share only a call_view: a state the call edits under the
 * view's lock and the window copies out, the newest remote and self-view
 * pictures, and a bounded queue of commands from the window to the call
 * (the call is woken through a function it registers: uv_async_send). */
enum call_phase {
  CALL_PHASE_STARTING = 0,  /* reaching the signaling server */
  CALL_PHASE_WAITING,       /* doctor: no patient yet; patient: until admitted */
  CALL_PHASE_KNOCKING,      /* doctor: peer_name knocks: admit or decline */
  CALL_PHASE_CONNECTING,
  CALL_PHASE_CONNECTED,
  CALL_PHASE_RECONNECTING,  /* the path broke: ICE restart under way */
  CALL_PHASE_AWAY,          /* the other side left or is gone: doctor: "waiting for NAME to come
                               back" (the room stays); patient: "the doctor will be back" */
  CALL_PHASE_ENDED,         /* end_reason says why */
};

#define CALL_CHAT_MAX 64
struct call_chat_line {
  bool mine;          /* we sent it */
  bool file;          /* a file sent or received: text names it */
  char text[512];
  uint64_t wall_ms;
};

struct call_view_state {
  enum call_phase phase;
  bool doctor;
  char link[512];           /* doctor: the patient's link, once the room exists */
  char peer_name[MC_SIGNAL_NAME_MAX + 1]; /* who we talk to ("" unknown) */
  /* doctor: the oldest knock not answered yet (in the lobby or during a
   * call); A admits it, D declines it. knock_name "" when none. */
  char knock_name[MC_SIGNAL_NAME_MAX + 1];
  bool knock_returning;     /* the name of the patient in (or last in) the call: "NAME is back" */
  int knocks_waiting;       /* knocks not answered, this one included */
  char verification[8];     /* "123 456" once DTLS is up (both sides show it) */
  bool relayed;             /* the selected pair goes through a TURN relay */
  char route[64];           /* e.g. "direct (host - srflx)", "relayed (relay - host)" */
  uint64_t connected_wall_ms; /* when the call first connected: the timer; 0 not yet */
  char end_reason[160];
  bool mic_muted, camera_off;           /* ours */
  bool has_video, has_audio;            /* we have a camera / microphone source */
  bool peer_mic_muted, peer_camera_off; /* as the peer announced (control channel) */
  bool video_paused, peer_video_paused; /* for bandwidth: ours (the estimate), the peer's (announced) */
  bool peer_video_seen;                 /* at least one remote picture arrived */
  int quality_bars;         /* 0..4 from RTT, loss and bit rate; -1 unknown */
  char stats_text[1024];    /* the statistics overlay, lines separated by '\n' */
  /* The oldest received file waiting for a decision (Y saves it, N
   * discards it); file_offers counts those waiting, this one included. */
  char file_offer_name[256];
  uint64_t file_offer_size;
  int file_offers;
  struct call_chat_line chat[CALL_CHAT_MAX]; /* oldest first */
  int chat_count;
  bool quit;                /* the call is over and the window should close */
  uint64_t version;         /* bumped by every change */
};

enum call_picture { CALL_PICTURE_REMOTE = 0, CALL_PICTURE_SELF };

enum call_command_kind {
  CALL_CMD_ADMIT = 0,
  CALL_CMD_DECLINE,
  CALL_CMD_TOGGLE_MIC,
  CALL_CMD_TOGGLE_CAMERA,
  CALL_CMD_HANG_UP,
  CALL_CMD_CHAT,      /* text: the message */
  CALL_CMD_SEND_FILE, /* text: the file's path (dropped on the window) */
  CALL_CMD_SAVE_FILE,    /* the oldest file offered */
  CALL_CMD_DISCARD_FILE, /* the oldest file offered */
};
struct call_command {
  enum call_command_kind kind;
  char text[1024];
};

struct call_view;
int call_view_new(bool doctor, struct call_view **out);
void call_view_free(struct call_view *v);
/* The call's side. lock/unlock bracket edits of the state (unlock bumps
 * version); never call back into the view while holding the lock. */
struct call_view_state *call_view_lock(struct call_view *v);
void call_view_unlock(struct call_view *v);
void call_view_add_chat(struct call_view *v, bool mine, bool file, const char *text);
/* Copies f (any size) as the newest picture of that kind. Any thread. */
void call_view_put_picture(struct call_view *v, enum call_picture which, const struct mc_i420 *f);
/* Set once by the call: called (any thread) after a command is queued. */
void call_view_set_waker(struct call_view *v, void (*wake)(void *arg), void *arg);
/* Pops the oldest command; false when there is none. */
bool call_view_next_command(struct call_view *v, struct call_command *out);
/* The window's side. */
void call_view_snapshot(struct call_view *v, struct call_view_state *out);
/* When a picture newer than *seq exists: copies it into dst (reallocated
 * to its size with mc_i420_alloc when needed), updates *seq, true. */
bool call_view_take_picture(struct call_view *v, enum call_picture which, struct mc_i420 *dst, uint64_t *seq);
/* MC_EAGAIN when the queue (32) is full. */
int call_view_post(struct call_view *v, const struct call_command *cmd);

/* ---- the window (window.c; SDL2 + SDL2_ttf on the main thread) ---- */
struct window_opts {
  const char *title;
  int width, height;       /* initial size in screen coordinates */
  bool placed;             /* at x, y (screen coordinates); else centred */
  int x, y;
  bool fullscreen;
  int close_after_end_ms;  /* once ENDED: close by itself after this; < 0 wait for the user */
};
/* Runs until the user closes the window (Esc on the end screen, or the
 * close button; closing during a call hangs up first) or the state says
 * quit. 0, or -1 with a sentence on stderr when no window could open. */
int window_run(struct call_view *v, const struct window_opts *o);
/* What the window's text has drawn since the program started, for tests
 * (tests/ui): strings rendered, their characters, how many of those were
 * Hangul, and how many no installed font has (drawn as boxes). Counts
 * only, never the text. */
struct window_text_stats {
  uint64_t strings, chars, hangul, missing;
};
void window_text_stats(struct window_text_stats *out);
/* The window's parts for a drawable of w x h pixels: tests find the
 * remote picture and the controls in a screenshot with the same function. */
struct window_rect { int x, y, w, h; };
enum window_button { WINDOW_BTN_MIC = 0, WINDOW_BTN_CAMERA, WINDOW_BTN_CHAT, WINDOW_BTN_STATS,
                     WINDOW_BTN_FULLSCREEN, WINDOW_BTN_HANG_UP, WINDOW_BTN_COUNT };
struct window_layout {
  struct window_rect remote;      /* remote picture area (the picture is letterboxed in it) */
  struct window_rect self_view;   /* picture-in-picture, bottom right of remote */
  struct window_rect status;      /* status line: phase, route, timer, quality bars */
  struct window_rect controls;    /* the control bar */
  struct window_rect button[WINDOW_BTN_COUNT];
  struct window_rect chat;        /* chat panel when open (else w = 0) */
};
void window_layout(int w, int h, bool chat_open, struct window_layout *out);
/* The text's sizes in pixels (body, bold, small, big) in that layout at
 * scale pixels per point: tests render reference text at the window's. */
#define WINDOW_TEXT_SIZES 4
void window_text_sizes(const struct window_layout *l, float scale, int px[WINDOW_TEXT_SIZES]);

/* ---- chat, peer state and files over data channels (channels.c) ----
 * "chat": opened in-band by the offerer; each text message is one chat line.
 * "control": pre-negotiated, id 1, both sides: JSON text messages
 *   {"type":"state","mic":BOOL,"camera":BOOL,"videoPaused":BOOL}, sent when
 *   it opens and on every change ("videoPaused", optional, false when
 *   absent: the sender's connection is too slow for video, sound goes on).
 * "file": one in-band channel per file; its protocol is JSON
 *   {"name":NAME,"size":BYTES,"mime":TYPE}; binary messages carry the bytes
 *   in order; the receiver closes the channel once it has them all (the
 *   sender's success), or the sender 10 s after the last byte. A received
 *   file is offered, not saved: it waits in a hidden temporary file until
 *   the user saves it (then in the download directory under its base name,
 *   made safe, never overwriting: "name (2).pdf") or discards it; at most 4
 *   arrive at once, 8 wait, 256 MiB in all. The patient page asks the same
 *   way (docs/signaling.md "Data channels"). */
struct call_channels;
struct call_channels_callbacks {
  void (*on_chat)(void *user, const char *text);
  /* video_paused: the peer's connection is too slow for video (its sound goes on). */
  void (*on_peer_state)(void *user, bool mic_on, bool camera_on, bool video_paused);
  /* A file arrived (error NULL, saved_path set) or failed part way (error:
   * a sentence in English, for the "file-failed:" line; shown: the same in
   * the user's language, for the window). */
  void (*on_file_received)(void *user, const char *name, const char *saved_path, uint64_t size, const char *error,
                           const char *shown);
  /* A whole file waits for the user's decision (call_channels_decide_file
   * with id). name is made safe (call_channels_safe_name). */
  void (*on_file_offered)(void *user, unsigned id, const char *name, uint64_t size);
  /* The user discarded it: nothing was saved. */
  void (*on_file_discarded)(void *user, const char *name, uint64_t size);
  /* A file we sent left completely (error NULL) or could not be sent (error
   * and shown as above). */
  void (*on_file_sent)(void *user, const char *name, uint64_t size, const char *error, const char *shown);
};
/* Creates "control" (and "chat" when offerer) on pc before the first
 * offer or answer. download_dir NULL: call_download_dir's. */
int call_channels_new(mc_pc *pc, bool offerer, const char *download_dir, const struct call_channels_callbacks *cbs,
                      void *user, struct call_channels **out);
void call_channels_free(struct call_channels *c);
/* The peer connection's data channel events, forwarded by the call: true
 * when the channel is one of these (then the call does nothing more). */
bool call_channels_on_data_channel(struct call_channels *c, mc_pc_dc ch, const char *label, const char *protocol);
bool call_channels_on_open(struct call_channels *c, mc_pc_dc ch);
bool call_channels_on_message(struct call_channels *c, mc_pc_dc ch, const uint8_t *data, size_t len, bool binary);
bool call_channels_on_buffered_amount_low(struct call_channels *c, mc_pc_dc ch);
bool call_channels_on_close(struct call_channels *c, mc_pc_dc ch);
int call_channels_send_chat(struct call_channels *c, const char *text);
int call_channels_send_state(struct call_channels *c, bool mic_on, bool camera_on);
/* Our video paused for bandwidth (or resumed): sent with the state. */
int call_channels_set_video_paused(struct call_channels *c, bool paused);
/* Once a second: a file whose receiver did not confirm it (by closing its
 * channel) within 10 s of the last byte is closed by us. */
void call_channels_tick(struct call_channels *c, uint64_t now_ms);
/* Starts sending a file (at most 64 MiB); progress through callbacks. */
int call_channels_send_file(struct call_channels *c, const char *path);
/* Saves (into the download directory) or discards a file on_file_offered
 * announced: on_file_received or on_file_discarded follows. MC_ENOTFOUND
 * for an id not waiting. */
int call_channels_decide_file(struct call_channels *c, unsigned id, bool save);
/* Every file saved as it arrives, without asking (--accept-files). */
void call_channels_set_accept_files(struct call_channels *c, bool accept);
/* Notes (channels.c): chat lines and the state given before their channel
 * is open are kept (chat: up to 32 lines, then MC_ETOOBIG) and go when it
 * opens. send_file: MC_ENOTFOUND no such file, MC_EINVAL not a regular
 * file, MC_ETOOBIG above CALL_FILE_MAX or with 16 files already going. */
#define CALL_FILE_MAX (64u * 1024 * 1024)
/* What the peer sends, parsed (exposed for tests/fuzz/fuzz_channels.c).
 * The file channel's protocol: name is made safe (call_channels_safe_name)
 * and at most 200 bytes. */
struct call_file_header {
  char name[256];
  uint64_t size;
  char mime[128];
};
int call_channels_parse_file_header(const uint8_t *buf, size_t len, struct call_file_header *out);
/* A control message: 0 and the state, MC_ENOTFOUND for a well-formed
 * message of another type (ignored), MC_EPARSE otherwise. */
int call_channels_parse_state(const uint8_t *buf, size_t len, bool *mic_on, bool *camera_on, bool *video_paused);
/* The base name of a peer's file name, safe to create in a directory:
 * no path, no control characters, valid UTF-8, no leading dots, at most
 * cap-1 bytes (the extension kept); "file" when nothing is left. */
void call_channels_safe_name(const char *name, char *out, size_t cap);

/* ---- the desktop's folders (user_dirs.c) ---- */
/* Where received files go: the desktop's download folder as
 * `xdg-user-dir DOWNLOAD` reports it (XDG_DOWNLOAD_DIR in
 * $XDG_CONFIG_HOME/user-dirs.dirs, else ~/.config/user-dirs.dirs), else
 * $XDG_DOWNLOAD_DIR, else ~/Downloads, else ~: the first that is a folder
 * ("." without a home). */
void call_download_dir(char *out, size_t cap);
/* The value of XDG_<name>_DIR in the text of a user-dirs.dirs file, with
 * $HOME as home; the last line that sets it wins. Only the file's form is
 * taken (XDG_NAME_DIR="$HOME/..." or "/...", '#' comments, shell escapes
 * \" \\ \$ \` only, valid UTF-8): other lines are skipped. 0, MC_ENOTFOUND
 * when no line sets it, MC_ETOOBIG when it does not fit cap. */
int call_user_dirs_lookup(const uint8_t *buf, size_t len, const char *name, const char *home, char *out,
                          size_t cap);

/* ---- a call's speakers and microphone, opened off its loop (call_audio.c) ----
 * One thread of the process starts SDL audio (call_audio_start, when the
 * app starts; the first open starts it otherwise) and opens and closes the
 * devices in the order asked; call_audio_stop ends it when the app ends. */
struct call_audio;
struct mc_speaker;
struct mc_mic;
void call_audio_start(void);
void call_audio_stop(void);
/* Asks for the speakers and/or the microphone (mic_device: its SDL name,
 * NULL the default) and returns at once; NULL only without memory. A device
 * that cannot open is a sentence on stderr, and the call goes on. */
struct call_audio *call_audio_open(bool speakers, bool mic, const char *mic_device);
/* false while the devices are being opened; then true with *spk and *mic
 * (NULL: not asked for, or could not open), for the caller alone until
 * call_audio_close. */
bool call_audio_ready(struct call_audio *a, struct mc_speaker **spk, struct mc_mic **mic);
/* Closes the devices (on the audio thread) and frees a; neither may be used
 * after. */
void call_audio_close(struct call_audio *a);

enum call_video_source { CALL_VIDEO_PATTERN = 0, CALL_VIDEO_FILE, CALL_VIDEO_CAMERA, CALL_VIDEO_NONE };
enum call_audio_source { CALL_AUDIO_TONE = 0, CALL_AUDIO_FILE, CALL_AUDIO_MIC, CALL_AUDIO_NONE };

struct call_media_opts {
  enum call_video_source video;
  const char *video_path; /* Y4M file, or the camera device (NULL: /dev/video0) */
  enum call_audio_source audio;
  const char *audio_path; /* WAV file (48 kHz 16-bit), or the microphone's SDL name (NULL: default) */
  bool headless;          /* no speakers: received audio is measured, not played */
  struct call_view *view; /* NULL: no window; else pictures go to it (remote and self) */
  double tone_hz;
  int width, height, fps, bitrate_kbps;
};

struct call_media;
/* "pattern", "file:PATH", "none" (video) or "tone[:HZ]", "file:PATH",
 * "none" (audio) into o; -1 with a sentence on stderr otherwise. */
int call_media_parse_source(const char *arg, bool video, struct call_media_opts *o);
/* Opens the sources and codecs and adds the tracks to pc (before its first
 * description). */
int call_media_new(uv_loop_t *loop, mc_pc *pc, const struct call_media_opts *o, struct call_media **out);
/* The call connected: frames start to flow. */
void call_media_start(struct call_media *m);
/* A received frame; true when it is a video frame. */
bool call_media_on_frame(struct call_media *m, mc_pc_track t, const uint8_t *data, size_t len, uint32_t ts,
                         bool keyframe);
void call_media_on_keyframe_request(struct call_media *m, mc_pc_track t);
/* Stops sending; what is in flight from the peer is still received. */
void call_media_stop_sending(struct call_media *m);
/* Muted: no audio packets at all; camera off: no video packets (the peer
 * shows an avatar, told through the control channel). */
void call_media_set_mic_muted(struct call_media *m, bool muted);
void call_media_set_camera_off(struct call_media *m, bool off);
bool call_media_has_video(const struct call_media *m);
bool call_media_has_audio(const struct call_media *m);
/* Video is paused because the estimate is too low for it (issue 7). */
bool call_media_video_paused(const struct call_media *m);
/* The sending estimate changed (issue 7): fit the encoders into bps. */
void call_media_set_target_bitrate(struct call_media *m, uint64_t bps);
/* Adds "tracks", "video" and "audio" objects to a statistics document. */
void call_media_stats_json(struct call_media *m, json_t *root);
void call_media_free(struct call_media *m);

/* ---- one call (call.c; its command line and threads: call_main.c) ---- */
#define CALL_MAX_ICE_SERVERS 8
struct call_ice_server {
  char *url, *username, *credential;
};
/* ice_servers.c: list[0..*n) becomes the servers of arr (the "ice_servers"
 * of an admission: objects with "urls", a string or a list, "username" and
 * "credential"), then extra, at most CALL_MAX_ICE_SERVERS; the strings are
 * copies, freed (the credentials wiped) by call_ice_servers_clear. */
void call_ice_servers_set(struct call_ice_server *list, size_t *n, json_t *arr, const struct call_ice_server *extra,
                          size_t nextra);
void call_ice_servers_clear(struct call_ice_server *list, size_t *n);
struct call_opts {
  struct call_media_opts media;
  bool doctor;
  const char *ws_url;        /* signaling address */
  const uint8_t *pin_sha256; /* the built-in server's certificate, or NULL */
  const char *room;          /* join: the room id; call: a room to take back (--room) */
  const char *token, *name, *stats_json, *download_dir;
  const char *chat_text; /* headless: sent once the call is up */
  const char *send_files[8]; /* sent at once once the call is up */
  int nsend_files;
  bool insecure, relay_only, echo, auto_admit;
  /* Received files: saved without asking (--accept-files); else asked at
   * the window (window), else discarded (nobody to ask). */
  bool accept_files, window;
  double duration_s;
  uint64_t send_bytes;
  /* From the config file and --ice-server, added to the server's own. */
  struct call_ice_server ice[CALL_MAX_ICE_SERVERS];
  size_t nice;
};
/* Runs the call on the calling thread's default uv loop until it ends,
 * keeping view (never NULL) up to date and obeying its commands. Returns
 * the exit status (MC_APP_EXIT_*). */
int call_run(const struct call_opts *o, struct call_view *view);
/* 0..4 bars from the selected pair's round-trip time, the share of
 * packets lost over the last interval and whether anything arrives. */
int call_quality_bars(double rtt_ms, double loss_pct, bool receiving);

/* ---- sessions kept across a restart of the app (call_store.c) ---- */
enum call_store_kind { CALL_STORE_DOCTOR = 0, CALL_STORE_PATIENT };
struct call_stored {
  char room[MC_SIGNAL_ID_LEN_MAX + 1];
  char session[MC_SIGNAL_ID_LEN_MAX + 1];
  char link[512];
};
/* key: the signaling URL (doctor) or the room id (patient). Files in the
 * state directory's calls/, 0600. load: MC_ENOTFOUND when none. */
int call_store_save(enum call_store_kind kind, const char *key, const struct call_stored *s);
int call_store_load(enum call_store_kind kind, const char *key, struct call_stored *out);
void call_store_forget(enum call_store_kind kind, const char *key);

/* ---- medcall-server inside the app (embedded_server.c) ---- */
struct call_server;
/* Starts it on a free port on every interface, creating rooms only for a
 * doctor token drawn for this run, and prints a "listen:" line; ws_url gets
 * the address our own client uses, pin the SHA-256 of its certificate. */
int call_server_start(struct call_server **out, char *ws_url, size_t ws_cap, uint8_t pin[32]);
/* The token our own client sends with create (a secret: never printed or
 * stored); valid until call_server_stop. */
const char *call_server_token(const struct call_server *s);
void call_server_stop(struct call_server *s);

#endif
