/* The medcall program: each subcommand is one function with the shape of
 * main, listed in the command table of main.c. */
#ifndef MC_APP_H
#define MC_APP_H

struct mc_app_command {
  const char *name;
  const char *summary; /* one line for "medcall --help" */
  const char *usage;   /* full help for "medcall NAME --help" */
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* Exit statuses shared by every command. */
enum { MC_APP_EXIT_OK = 0, MC_APP_EXIT_FAIL = 1, MC_APP_EXIT_USAGE = 2 };

extern const char mc_diagnose_usage[];
int mc_diagnose_main(int argc, char **argv);

extern const char mc_call_usage[];
extern const char mc_join_usage[];
int mc_call_main(int argc, char **argv);
int mc_join_main(int argc, char **argv);

extern const char mc_devices_usage[];
int mc_devices_main(int argc, char **argv);

/* ---- the media of a call (call_media.c) ---- */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/pc.h"

typedef struct json_t json_t;
typedef struct uv_loop_s uv_loop_t;

enum call_video_source { CALL_VIDEO_PATTERN = 0, CALL_VIDEO_FILE, CALL_VIDEO_CAMERA, CALL_VIDEO_NONE };
enum call_audio_source { CALL_AUDIO_TONE = 0, CALL_AUDIO_FILE, CALL_AUDIO_MIC, CALL_AUDIO_NONE };

struct call_media_opts {
  enum call_video_source video;
  const char *video_path; /* Y4M file, or the camera device (NULL: /dev/video0) */
  enum call_audio_source audio;
  const char *audio_path; /* WAV file (48 kHz 16-bit), or the microphone's SDL name (NULL: default) */
  bool headless;          /* no speakers: received audio is measured, not played */
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
void call_media_on_frame(struct call_media *m, mc_pc_track t, const uint8_t *data, size_t len, uint32_t ts,
                         bool keyframe);
void call_media_on_keyframe_request(struct call_media *m, mc_pc_track t);
/* Stops sending; what is in flight from the peer is still received. */
void call_media_stop_sending(struct call_media *m);
/* Adds "tracks", "video" and "audio" objects to a statistics document. */
void call_media_stats_json(struct call_media *m, json_t *root);
void call_media_free(struct call_media *m);

/* ---- medcall-server inside the app (embedded_server.c) ---- */
struct call_server;
/* Starts it on a free port on every interface; ws_url gets the address our
 * own client uses, pin the SHA-256 of its certificate. */
int call_server_start(struct call_server **out, char *ws_url, size_t ws_cap, uint8_t pin[32]);
void call_server_stop(struct call_server *s);

#endif
