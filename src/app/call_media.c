/* The media of a call: a source (camera, pattern, Y4M file; microphone
 * through echo cancellation, tone, WAV file) encoded (VP8, Opus) onto the
 * peer connection's tracks, and what arrives decoded, played on the
 * speakers (unless headless), shown in the window (when there is one) and
 * measured: frames decoded, the capture stamps read back (order and
 * glass-to-glass latency), the dominant frequency of the audio, the A/V
 * offset left after lip sync.
 *
 * Threads (ARCHITECTURE.md "Threads"): the peer connection is touched on
 * the net thread only (the loop given to call_media_new), where audio is
 * encoded, played out of its jitter buffer and decoded on 20 ms timers
 * (Opus costs well under a millisecond a frame; SDL's callbacks only copy
 * rings). Video has two threads of its own:
 *   encode  paces itself at the frame rate: picture from the source,
 *           scaled to the size the sending estimate allows, stamped, VP8;
 *           frames go to the net thread through a bounded queue and a
 *           uv_async_t wake-up, which sends them. Key frame requests, the
 *           fit to the estimate and camera off travel the other way under
 *           a small control lock (never held across encoding).
 *   decode  takes frames the net thread queued (bounded: on overflow the
 *           frame is dropped and the decoder waits for a key frame, never
 *           showing a smeared picture; the net thread sends the PLI),
 *           decodes, reads the stamp, and holds
 *           each picture as long as lip sync says (a short queue, at most
 *           MC_SYNC_MAX_VIDEO_DELAY_MS) before showing it: to the window's
 *           view, and as a "shown" event back to the net thread's lip sync.
 * Counters the decode thread keeps are read under its stats lock; those of
 * the encode thread are atomics. */
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "app/app.h"
#include "app/i18n.h"
#include "media/media.h"
#include "rtp/rtp.h"
#include "util/util.h"

#define LOG "media"
#define AUDIO_KEEP_FRAMES (48000 * 2) /* last 2 s of received audio, mono */
/* Decoded audio waiting for the speakers: time stretching makes frames of
 * 960 +- 720 samples, handed on in 20 ms blocks (under a block left over,
 * a frame, its stretch, and room for a concealment frame). */
#define PLAY_FIFO (4 * MC_AUDIO_FRAME)
#define STRETCH_HIST (2 * MC_STRETCH_MAX_LAG) /* played audio the lag search looks back at */
#define MAX_LATENCIES 20000
#define SENDQ_CAP 8   /* encoded frames for the net thread: a quarter second at 30 fps */
#define RECVQ_CAP 32  /* frames for the decoder: about a second at 30 fps */
#define SHOWQ_CAP 24  /* pictures held for lip sync: 300 ms at 60 fps fits */
#define SHOWNQ_CAP 64 /* shown-picture events for the net thread's lip sync */
#define SYNC_SAMPLE_TICKS 5 /* the A/V offset is sampled every 100 ms for its percentiles */
/* What audio takes of the sending estimate: Opus at 32 kbit/s plus
 * IP/UDP/SRTP/RTP headers and extensions (about 60 bytes) 50 times a
 * second. */
#define AUDIO_SHARE_BPS 56000

/* An encoded VP8 frame between threads; data is malloc'd and owned by
 * whoever holds the item. */
struct coded {
  uint8_t *data;
  size_t len;
  uint32_t ts;
  bool key;
  bool gap_before; /* frames before this one were dropped */
};

/* A bounded FIFO of coded frames. The lock guards only the queue (and, for
 * the receive queue, the decode thread's stop flag). */
struct codedq {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  struct coded items[RECVQ_CAP];
  size_t cap, head, n;
};

struct held {
  struct mc_i420 pic; /* owned, reused */
  uint32_t ts;
  uint64_t ready_us;
  bool stamp_ok;
  uint32_t stamp;
  uint64_t ready_wall_ms;
};

struct shown {
  uint32_t ts;
  uint64_t ready_us, shown_us;
};

struct call_media {
  struct call_media_opts o;
  uv_loop_t *loop;
  mc_pc *pc;
  bool started, sending, closing;
  int open_handles;
  /* ---- net thread ---- */
  mc_pc_track vtrack, atrack;
  mc_pc_track rx_vtrack, rx_atrack; /* the peer's tracks, once frames came */
  bool recv_gap;                    /* a frame was dropped: mark the next one queued */
  uint64_t recv_dropped;
  bool mic_muted;
  struct mc_fit fit;
  uv_async_t send_async;
  uint64_t video_frames_sent;
  struct mc_tone tone;
  mc_wav *wav;
  int wav_channels;
  mc_opus_encoder *aenc;
  /* The devices, NULL until the audio thread has opened them
   * (call_audio.c) and after they are handed back to it to close. */
  struct call_audio *devices;
  bool devices_taken;
  mc_mic *mic;
  mc_apm *apm;
  mc_speaker *spk;
  int16_t last_played[MC_AUDIO_FRAME];
  uint32_t ats;
  uv_timer_t atimer;
  uint64_t audio_packets_sent, audio_frames_muted;
  mc_opus_decoder *adec;
  mc_ajb *ajb;       /* received Opus packets until their playout time */
  uv_timer_t ptimer; /* playout: one 20 ms frame per tick */
  uint64_t frames_played, frames_concealed, frames_fec, frames_silent, frames_stretched;
  /* 20 ms blocks of silence between played audio (the jitter buffer ran
   * dry and re-buffered): a gap as audible as concealment. Counted once
   * audio plays again, so the silence after the peer stopped is not. */
  uint64_t frames_underrun, silent_pending;
  /* concealment while waiting for a late packet, counted once one plays:
   * the wait for a peer that stopped sending (it hung up first) is not a
   * gap in the call */
  uint64_t waited_pending;
  uint64_t samples_inserted, samples_removed; /* by time stretching (and its fallback) */
  int16_t fifo[PLAY_FIFO];                    /* decoded, not played yet */
  size_t fifo_n;
  /* The RTP timestamp heard at fifo[0] (lip sync), and the media time the
   * FIFO holds: its samples map onto that time linearly, stretched or not */
  uint32_t fifo_ts;
  bool fifo_ts_ok;
  uint32_t fifo_media;
  uint32_t last_ts; /* the RTP timestamp of the last frame put in the FIFO */
  bool last_ts_ok;
  uint64_t astart_us, aframes, pstart_us, pframes; /* real-clock pacing of send and playout */
  int16_t *audio;
  size_t audio_len, audio_pos;
  uint64_t audio_packets_received;
  mc_sync *sync;
  struct mc_sync_state sync_st;
  uint32_t sync_audio_applied_ms;
  uint32_t sync_video_max_ms;
  uint32_t *sync_abs, *sync_abs_base; /* |offset| after and before correction, every SYNC_SAMPLE_TICKS */
  size_t nsync;
  unsigned sync_ticks;
  /* ---- shared with the encode thread ---- */
  pthread_t enc_thread;
  bool enc_running;
  pthread_mutex_t ctl_mu; /* guards the fields down to fit_gen */
  pthread_cond_t ctl_cv;  /* CLOCK_MONOTONIC: the encode thread's pacing sleep */
  bool enc_stop, camera_off;
  struct mc_fit enc_fit;  /* what the encoder should do; .set false: the configured size and rate */
  uint64_t fit_gen;
  atomic_bool want_keyframe;
  struct codedq sendq;
  atomic_uint_fast64_t frames_encoded, keyframes_encoded, send_dropped, frames_not_sent;
  atomic_int enc_width, enc_height, enc_fps, enc_kbps;
  /* the encoder's overshoot per fit level (mc_fit_meter), written by the
   * encode thread; refit asks the net thread to fit again with it */
  atomic_uint overshoot_pct[MC_FIT_LEVELS];
  atomic_bool refit;
  uint64_t last_target_bps; /* net thread */
  /* ---- the encode thread's own ---- */
  int enc_level;
  struct mc_fit_meter meter;
  uint64_t overshoot_forget_ms;
  mc_pattern *pattern;
  mc_y4m *y4m;
  mc_camera *cam;
  bool cam_failed;
  mc_vp8_encoder *venc;
  struct mc_i420 enc_pic; /* the source scaled to the size sent */
  uint64_t vstart_us;
  uint32_t vts_base;
  /* ---- shared with the decode thread ---- */
  pthread_t dec_thread;
  bool dec_running;
  struct codedq recvq;    /* its lock also guards dec_stop */
  bool dec_stop;
  atomic_uint video_hold_ms; /* lip sync's hold, set by the net thread */
  atomic_bool want_remote_keyframe; /* the decoder cannot go on from what it has */
  uint64_t remote_keyframes_wanted; /* net thread */
  pthread_mutex_t shown_mu;  /* guards the shown events */
  struct shown shownq[SHOWNQ_CAP];
  size_t shown_head, shown_n;
  pthread_mutex_t vst_mu;    /* guards the decode statistics below */
  uint64_t frames_decoded, decode_errors, frames_waiting_key, stamps_read, stamp_errors, stamps_out_of_order;
  uint64_t frames_shown;
  uint64_t last_decoded_ms, max_gap_ms, freezes, freeze_ms; /* gaps between decoded frames; a freeze is one over 500 ms */
  uint32_t last_stamp;
  bool have_stamp;
  uint32_t *latencies;      /* stamp to shown */
  uint32_t *dec_latencies;  /* stamp to decoded */
  size_t nlat, ndlat;
  int width_in, height_in;
  /* ---- the decode thread's own ---- */
  mc_vp8_decoder *vdec;
  bool waiting_key;
  struct held showq[SHOWQ_CAP];
  size_t show_head, show_n;
};

int call_media_parse_source(const char *arg, bool video, struct call_media_opts *o) {
  if (video) {
    if (strcmp(arg, "pattern") == 0) o->video = CALL_VIDEO_PATTERN;
    else if (strcmp(arg, "none") == 0) o->video = CALL_VIDEO_NONE;
    else if (strncmp(arg, "file:", 5) == 0 && arg[5]) {
      o->video = CALL_VIDEO_FILE;
      o->video_path = arg + 5;
    } else if (strcmp(arg, "camera") == 0 || (strncmp(arg, "camera:", 7) == 0 && arg[7])) {
      o->video = CALL_VIDEO_CAMERA;
      o->video_path = arg[6] == ':' ? arg + 7 : NULL;
    } else {
      fprintf(stderr, _("medcall: --video-source wants camera[:DEVICE], pattern, file:PATH or none, not '%s'\n"), arg);
      return -1;
    }
    return 0;
  }
  if (strcmp(arg, "none") == 0) o->audio = CALL_AUDIO_NONE;
  else if (strncmp(arg, "tone", 4) == 0 && (arg[4] == '\0' || arg[4] == ':')) {
    o->audio = CALL_AUDIO_TONE;
    o->tone_hz = 440;
    if (arg[4] == ':') {
      char *end = NULL;
      o->tone_hz = strtod(arg + 5, &end);
      if (!end || *end || o->tone_hz < 50 || o->tone_hz > 8000) {
        fprintf(stderr, _("medcall: --audio-source tone:HZ wants 50..8000 Hz, not '%s'\n"), arg + 5);
        return -1;
      }
    }
  } else if (strncmp(arg, "file:", 5) == 0 && arg[5]) {
    o->audio = CALL_AUDIO_FILE;
    o->audio_path = arg + 5;
  } else if (strcmp(arg, "mic") == 0 || (strncmp(arg, "mic:", 4) == 0 && arg[4])) {
    o->audio = CALL_AUDIO_MIC;
    o->audio_path = arg[3] == ':' ? arg + 4 : NULL;
  } else {
    fprintf(stderr, _("medcall: --audio-source wants mic[:DEVICE], tone[:HZ], file:PATH or none, not '%s'\n"), arg);
    return -1;
  }
  return 0;
}

/* ---- bounded queues between threads ---- */

static void abs_deadline(uint64_t at_us, struct timespec *ts) {
  /* mc_now_us is CLOCK_MONOTONIC too */
  ts->tv_sec = (time_t)(at_us / 1000000);
  ts->tv_nsec = (long)(at_us % 1000000) * 1000;
}

static int cond_init_monotonic(pthread_cond_t *cv) {
  pthread_condattr_t a;
  if (pthread_condattr_init(&a) != 0) return MC_ENOMEM;
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(cv, &a) == 0 ? 0 : MC_ENOMEM;
  pthread_condattr_destroy(&a);
  return rc;
}

static int codedq_init(struct codedq *q, size_t cap) {
  q->cap = cap;
  if (pthread_mutex_init(&q->mu, NULL) != 0) return MC_ENOMEM;
  return cond_init_monotonic(&q->cv);
}

/* Caller holds q->mu. false when full (the item stays the caller's). */
static bool codedq_push_locked(struct codedq *q, const struct coded *c) {
  if (q->n == q->cap) return false;
  q->items[(q->head + q->n) % q->cap] = *c;
  q->n++;
  return true;
}

static bool codedq_pop_locked(struct codedq *q, struct coded *out) {
  if (!q->n) return false;
  *out = q->items[q->head];
  q->head = (q->head + 1) % q->cap;
  q->n--;
  return true;
}

static void codedq_clear(struct codedq *q) {
  struct coded c;
  pthread_mutex_lock(&q->mu);
  while (codedq_pop_locked(q, &c)) free(c.data);
  pthread_mutex_unlock(&q->mu);
}

static void codedq_destroy(struct codedq *q) {
  codedq_clear(q);
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->cv);
}

/* ---- opening ---- */

/* Opens the video source. A camera that cannot be opened is a sentence and
 * the call goes on without video; a bad file is an error. */
static int open_video(struct call_media *m) {
  struct call_media_opts *o = &m->o;
  char why[400] = "";
  int rc;
  switch (o->video) {
  case CALL_VIDEO_NONE:
    return 0;
  case CALL_VIDEO_PATTERN:
    return mc_pattern_new(&(struct mc_pattern_config){.width = o->width, .height = o->height, .fps = o->fps},
                          &m->pattern);
  case CALL_VIDEO_CAMERA: {
    struct mc_camera_config cc = {.device = o->video_path, .width = o->width, .height = o->height, .fps = o->fps};
    if (mc_camera_open(&cc, &m->cam, why, sizeof why) != 0) {
      fprintf(stderr, _("medcall: %s; the call goes on without video\n"), why);
      o->video = CALL_VIDEO_NONE;
    }
    return 0;
  }
  case CALL_VIDEO_FILE:
    if ((rc = mc_y4m_open(o->video_path, &m->y4m, why, sizeof why)) != 0) fprintf(stderr, "medcall: %s\n", why);
    return rc;
  }
  return 0;
}

/* Opens the audio source, and asks for the speakers unless headless. The
 * microphone and speakers open on the audio thread while the call goes on
 * (take_devices); one that cannot open is a sentence there, and the call
 * goes on without it. */
static int open_audio(struct call_media *m) {
  struct call_media_opts *o = &m->o;
  char why[400] = "";
  int rc = 0;
  bool mic = o->audio == CALL_AUDIO_MIC;
  if ((!o->headless || mic) && !(m->devices = call_audio_open(!o->headless, mic, o->audio_path))) return MC_ENOMEM;
  switch (o->audio) {
  case CALL_AUDIO_NONE:
    break;
  case CALL_AUDIO_MIC:
    rc = mc_apm_new(NULL, &m->apm);
    break;
  case CALL_AUDIO_TONE:
    rc = mc_tone_init(&m->tone, o->tone_hz, 1, 0.25);
    break;
  case CALL_AUDIO_FILE:
    if ((rc = mc_wav_open(o->audio_path, &m->wav, why, sizeof why)) != 0) fprintf(stderr, "medcall: %s\n", why);
    else m->wav_channels = mc_wav_channels(m->wav);
    break;
  }
  return rc;
}

static void on_send_async(uv_async_t *a);
static void *decode_main(void *arg);

int call_media_new(uv_loop_t *loop, mc_pc *pc, const struct call_media_opts *opts, struct call_media **out) {
  struct call_media *m = calloc(1, sizeof *m);
  if (!m) return MC_ENOMEM;
  m->o = *opts;
  m->loop = loop;
  m->pc = pc;
  m->vtrack = m->atrack = m->rx_vtrack = m->rx_atrack = -1;
  atomic_init(&m->want_keyframe, false);
  atomic_init(&m->video_hold_ms, 0);
  atomic_init(&m->want_remote_keyframe, false);
  /* Locks and handles first: call_media_free undoes them whatever failed. */
  int rc = 0;
  if (pthread_mutex_init(&m->ctl_mu, NULL) != 0 || cond_init_monotonic(&m->ctl_cv) != 0 ||
      pthread_mutex_init(&m->shown_mu, NULL) != 0 || pthread_mutex_init(&m->vst_mu, NULL) != 0 ||
      codedq_init(&m->sendq, SENDQ_CAP) != 0 || codedq_init(&m->recvq, RECVQ_CAP) != 0) {
    free(m); /* nothing else exists yet; a failed pthread init leaves nothing to destroy on Linux */
    return MC_ENOMEM;
  }
  uv_timer_init(loop, &m->atimer);
  uv_timer_init(loop, &m->ptimer);
  uv_async_init(loop, &m->send_async, on_send_async);
  m->atimer.data = m->ptimer.data = m->send_async.data = m;
  m->open_handles = 3;
  *out = m;
  const struct call_media_opts *o = &m->o;
  rc = open_video(m);
  if (rc == 0) rc = open_audio(m);
  if (rc == 0 && o->video != CALL_VIDEO_NONE) {
    struct mc_vp8_encoder_config vc = {.width = o->width, .height = o->height, .fps = o->fps,
                                       .bitrate_kbps = o->bitrate_kbps};
    rc = mc_vp8_encoder_new(&vc, &m->venc);
    if (rc == 0) rc = mc_pc_add_transceiver(pc, MC_PC_VIDEO, true, &m->vtrack);
  }
  if (rc == 0 && o->audio != CALL_AUDIO_NONE) {
    int ch = o->audio == CALL_AUDIO_FILE ? m->wav_channels : 1;
    rc = mc_opus_encoder_new(&(struct mc_opus_encoder_config){.channels = ch}, &m->aenc);
    if (rc == 0) rc = mc_pc_add_transceiver(pc, MC_PC_AUDIO, true, &m->atrack);
  }
  /* Receive what the peer sends even when we send nothing. */
  if (rc == 0 && o->video == CALL_VIDEO_NONE) rc = mc_pc_add_transceiver(pc, MC_PC_VIDEO, false, NULL);
  if (rc == 0 && o->audio == CALL_AUDIO_NONE) rc = mc_pc_add_transceiver(pc, MC_PC_AUDIO, false, NULL);
  if (rc == 0) rc = mc_vp8_decoder_new(0, &m->vdec);
  if (rc == 0) rc = mc_opus_decoder_new(1, &m->adec);
  if (rc == 0) rc = mc_ajb_new(NULL, &m->ajb);
  if (rc == 0) rc = mc_sync_new(NULL, &m->sync);
  m->latencies = calloc(MAX_LATENCIES, sizeof *m->latencies);
  m->dec_latencies = calloc(MAX_LATENCIES, sizeof *m->dec_latencies);
  m->audio = calloc(AUDIO_KEEP_FRAMES, sizeof *m->audio);
  m->sync_abs = calloc(MAX_LATENCIES, sizeof *m->sync_abs);
  m->sync_abs_base = calloc(MAX_LATENCIES, sizeof *m->sync_abs_base);
  if (rc == 0 && (!m->latencies || !m->dec_latencies || !m->audio || !m->sync_abs || !m->sync_abs_base))
    rc = MC_ENOMEM;
  atomic_init(&m->enc_width, o->width);
  atomic_init(&m->enc_height, o->height);
  atomic_init(&m->enc_fps, o->fps);
  atomic_init(&m->enc_kbps, o->bitrate_kbps);
  for (int i = 0; i < MC_FIT_LEVELS; i++) atomic_init(&m->overshoot_pct[i], 100);
  m->vts_base = mc_random_u32();
  m->ats = mc_random_u32();
  if (rc == 0) {
    if (pthread_create(&m->dec_thread, NULL, decode_main, m) == 0) m->dec_running = true;
    else rc = MC_ENOMEM;
  }
  return rc;
}

/* ---- video encode thread ---- */

/* The next source picture, or NULL when there is none this tick. */
static const struct mc_i420 *next_picture(struct call_media *m, uint64_t now_us, uint32_t wall, bool *stamped,
                                          struct mc_i420 *view) {
  *stamped = false;
  if (m->cam) {
    if (m->cam_failed) return NULL;
    bool got = false;
    int rc = mc_camera_read(m->cam, view, &got);
    if (rc == MC_EIO) {
      fputs(_("medcall: the camera went away; the call goes on without video\n"), stderr);
      m->cam_failed = true;
      return NULL;
    }
    return rc == 0 && got ? view : NULL;
  }
  if (m->pattern) {
    /* the picture for this instant, whatever rate we encode at */
    uint64_t index = (now_us - m->vstart_us) * (uint64_t)m->o.fps / 1000000;
    const struct mc_i420 *f = NULL;
    if (mc_pattern_frame(m->pattern, index, wall, &f) != 0) return NULL;
    *stamped = true;
    return f;
  }
  if (m->y4m) {
    const struct mc_i420 *f = NULL;
    return mc_y4m_next(m->y4m, &f) == 0 ? f : NULL;
  }
  return NULL;
}

static void apply_fit(struct call_media *m, const struct mc_fit *f) {
  int level = f->set ? f->level : 0;
  if (level != m->enc_level) {
    m->enc_level = level;
    memset(&m->meter, 0, sizeof m->meter);
  }
  int w = f->set ? f->width : m->o.width, h = f->set ? f->height : m->o.height;
  int fps = f->set ? f->fps : m->o.fps, kbps = f->set ? f->kbps : m->o.bitrate_kbps;
  if (w != atomic_load(&m->enc_width) || h != atomic_load(&m->enc_height)) {
    if (mc_vp8_encoder_set_resolution(m->venc, w, h) != 0) {
      MC_LOGW(LOG, "video: could not change size width=%d height=%d", w, h);
      return;
    }
    atomic_store(&m->enc_width, w);
    atomic_store(&m->enc_height, h);
#ifdef __GLIBC__
    /* The old encoder's buffers (megabytes, freed in the middle of a heap)
     * would otherwise stay resident for the rest of the call. */
    malloc_trim(0);
#endif
  }
  if (fps != atomic_load(&m->enc_fps) && mc_vp8_encoder_set_framerate(m->venc, fps) == 0)
    atomic_store(&m->enc_fps, fps);
  if (kbps != atomic_load(&m->enc_kbps) && mc_vp8_encoder_set_bitrate(m->venc, kbps) == 0)
    atomic_store(&m->enc_kbps, kbps);
}

/* Encode thread: what the encoder produced against what it was asked for
 * (see mc_fit_meter in rtp.h); other levels' overshoot is forgotten a
 * point at a time. */
static void note_overshoot(struct call_media *m, size_t bytes, uint64_t now_ms) {
  uint16_t pct = 0;
  bool changed = false;
  if (mc_fit_meter_add(&m->meter, bytes, atomic_load(&m->enc_kbps), atomic_load(&m->enc_fps), &pct)) {
    unsigned old = atomic_load(&m->overshoot_pct[m->enc_level]);
    unsigned next = mc_fit_overshoot_update((uint16_t)old, pct);
    if (next != old) {
      atomic_store(&m->overshoot_pct[m->enc_level], next);
      changed = true;
      if (next > 110 && old <= 110)
        MC_LOGI(LOG, "video: encoder over its target level=%d pct=%u", m->enc_level, next);
    }
  }
  if (now_ms - m->overshoot_forget_ms >= MC_FIT_OVERSHOOT_FORGET_MS) {
    m->overshoot_forget_ms = now_ms;
    for (int i = 0; i < MC_FIT_LEVELS; i++) {
      unsigned v = atomic_load(&m->overshoot_pct[i]);
      if (i != m->enc_level && v > 100) {
        atomic_store(&m->overshoot_pct[i], v - 1);
        changed = true;
      }
    }
  }
  if (changed) atomic_store(&m->refit, true);
}

static void encode_one(struct call_media *m, uint64_t now_us, bool silent, bool camera_off) {
  if (camera_off) { /* no picture at all, not even the self view */
    atomic_fetch_add(&m->frames_not_sent, 1);
    return;
  }
  uint32_t wall = (uint32_t)mc_wall_ms();
  struct mc_i420 view;
  bool stamped = false;
  const struct mc_i420 *src = next_picture(m, now_us, wall, &stamped, &view);
  if (!src) return;
  if (m->o.view) call_view_put_picture(m->o.view, CALL_PICTURE_SELF, src);
  if (silent) {
    atomic_fetch_add(&m->frames_not_sent, 1);
    return;
  }
  int w = atomic_load(&m->enc_width), h = atomic_load(&m->enc_height);
  const struct mc_i420 *in = src;
  if (src->width != w || src->height != h || m->y4m) {
    if (m->enc_pic.width != w || m->enc_pic.height != h) {
      mc_i420_free(&m->enc_pic);
      if (mc_i420_alloc(&m->enc_pic, w, h) != 0) return;
    }
    if (src->width == w && src->height == h ? mc_i420_copy(src, &m->enc_pic) != 0
                                            : mc_i420_scale(src, &m->enc_pic) != 0)
      return;
    /* a scaled stamp would still read, but drawn at the size sent it is exact */
    if (stamped || m->y4m) mc_stamp_write(&m->enc_pic, wall);
    in = &m->enc_pic;
  }
  /* RTP time is the capture instant (RFC 3550 5.1), not frame index / fps:
   * a thread that runs a little fast or slow must not make the receiver's
   * jitter estimate drift. */
  int64_t pts = (int64_t)((now_us - m->vstart_us) * 9 / 100);
  if (atomic_exchange(&m->want_keyframe, false)) mc_vp8_encoder_request_keyframe(m->venc);
  struct mc_encoded_frame ef;
  if (mc_vp8_encoder_encode(m->venc, in, pts, &ef) != 0 || !ef.data || ef.len == 0) return;
  atomic_fetch_add(&m->frames_encoded, 1);
  if (ef.keyframe) atomic_fetch_add(&m->keyframes_encoded, 1);
  else note_overshoot(m, ef.len, now_us / 1000);
  struct coded c = {.data = malloc(ef.len), .len = ef.len, .ts = m->vts_base + (uint32_t)pts, .key = ef.keyframe};
  if (!c.data) return;
  memcpy(c.data, ef.data, ef.len);
  pthread_mutex_lock(&m->sendq.mu);
  bool queued = codedq_push_locked(&m->sendq, &c);
  pthread_mutex_unlock(&m->sendq.mu);
  if (!queued) {
    /* the net thread is that far behind: the frames after this one would
     * reference it, so the next one starts afresh */
    free(c.data);
    atomic_fetch_add(&m->send_dropped, 1);
    atomic_store(&m->want_keyframe, true);
  }
  uv_async_send(&m->send_async);
}

static void *encode_main(void *arg) {
  struct call_media *m = arg;
  uint64_t gen = UINT64_MAX, next_us = mc_now_us();
  bool was_silent = false;
  struct mc_fit fit = {0};
  m->vstart_us = next_us;
  for (;;) {
    pthread_mutex_lock(&m->ctl_mu);
    while (!m->enc_stop) {
      uint64_t now = mc_now_us();
      if (now >= next_us) break;
      struct timespec ts;
      abs_deadline(next_us, &ts);
      pthread_cond_timedwait(&m->ctl_cv, &m->ctl_mu, &ts);
    }
    bool stop = m->enc_stop, off = m->camera_off;
    bool changed = gen != m->fit_gen;
    if (changed) {
      fit = m->enc_fit;
      gen = m->fit_gen;
    }
    pthread_mutex_unlock(&m->ctl_mu);
    if (stop) break;
    if (changed) apply_fit(m, &fit);
    uint64_t now = mc_now_us();
    uint64_t interval = 1000000 / (uint64_t)MC_MAX(1, atomic_load(&m->enc_fps));
    next_us += interval;
    if (next_us + interval < now) next_us = now + interval; /* far behind: skip, do not burst */
    bool silent = off || (fit.set && fit.paused);
    /* Camera back on or video resumed: the peer's decoder starts from a key
     * frame (its references are long gone). */
    if (was_silent && !silent) atomic_store(&m->want_keyframe, true);
    was_silent = silent;
    encode_one(m, now, silent, off);
  }
  return NULL;
}

/* Net thread: frames the encode thread made go out. */
static void on_send_async(uv_async_t *a) {
  struct call_media *m = a->data;
  struct coded c;
  for (;;) {
    pthread_mutex_lock(&m->sendq.mu);
    bool got = codedq_pop_locked(&m->sendq, &c);
    pthread_mutex_unlock(&m->sendq.mu);
    if (!got) break;
    if (m->sending && mc_pc_send_frame(m->pc, m->vtrack, c.data, c.len, c.ts, c.key) == 0) m->video_frames_sent++;
    free(c.data);
  }
  if (atomic_exchange(&m->refit, false) && m->last_target_bps) call_media_set_target_bitrate(m, m->last_target_bps);
}

static void stop_encoder(struct call_media *m) {
  if (!m->enc_running) return;
  pthread_mutex_lock(&m->ctl_mu);
  m->enc_stop = true;
  pthread_cond_signal(&m->ctl_cv);
  pthread_mutex_unlock(&m->ctl_mu);
  pthread_join(m->enc_thread, NULL);
  m->enc_running = false;
  codedq_clear(&m->sendq);
}

/* ---- audio out (net thread) ---- */

static void encode_audio(struct call_media *m, const int16_t *pcm);
static void play_audio(uv_timer_t *t);

/* Net thread: the devices, once the audio thread has opened them. A
 * microphone that did not open leaves the call without sound from here
 * (the peer is told: call_media_has_audio). */
static void take_devices(struct call_media *m) {
  if (m->devices_taken || !call_audio_ready(m->devices, &m->spk, &m->mic)) return;
  m->devices_taken = true;
  if (m->o.audio == CALL_AUDIO_MIC && !m->mic) {
    m->o.audio = CALL_AUDIO_NONE;
    uv_timer_stop(&m->atimer);
  }
}

static void send_audio(uv_timer_t *t) {
  struct call_media *m = t->data;
  int16_t pcm[MC_AUDIO_FRAME * 2];
  take_devices(m);
  if (m->o.audio == CALL_AUDIO_MIC) {
    if (!m->mic) return; /* not open yet */
    /* Every 20 ms frame the microphone has, through echo cancellation
     * against what the speakers last played. */
    bool got = false;
    while (mc_mic_read(m->mic, pcm, &got) == 0 && got) {
      if (m->apm) mc_apm_process(m->apm, pcm, m->spk ? m->last_played : NULL, pcm);
      encode_audio(m, pcm);
    }
    return;
  }
  /* A synthetic or file source runs on the real clock: every 20 ms frame
   * due since the start is sent, so a late timer tick never stretches the
   * media clock (libuv reschedules a repeating timer from when it ran). */
  uint64_t now = mc_now_us();
  if (!m->astart_us) m->astart_us = now;
  uint64_t due = (now - m->astart_us) / 20000 + 1;
  for (int n = 0; m->aframes < due && n < 10; n++, m->aframes++) {
    if (m->wav) mc_wav_read(m->wav, pcm, MC_AUDIO_FRAME);
    else mc_tone_next(&m->tone, pcm);
    encode_audio(m, pcm);
  }
  if (m->aframes < due) m->aframes = due; /* more than 200 ms behind: skip, do not burst */
}

static void encode_audio(struct call_media *m, const int16_t *pcm) {
  uint8_t pkt[1500];
  size_t len = 0;
  uint32_t ts = m->ats;
  /* Muted, the clock still runs: the peer sees the gap as time passing. */
  m->ats += MC_AUDIO_FRAME;
  if (m->mic_muted) {
    m->audio_frames_muted++;
    return;
  }
  if (mc_opus_encoder_encode(m->aenc, pcm, pkt, sizeof pkt, &len) != 0) return;
  if (len <= 2) return; /* DTX: silence is not sent (RFC 7587 3.1.3) */
  if (mc_pc_send_frame(m->pc, m->atrack, pkt, len, ts, false) == 0) m->audio_packets_sent++;
}

void call_media_start(struct call_media *m) {
  if (!m || m->started || m->closing) return;
  m->started = true;
  m->sending = true;
  if (m->venc) {
    if (pthread_create(&m->enc_thread, NULL, encode_main, m) == 0) m->enc_running = true;
    else fputs(_("medcall: could not start the video encoder; the call goes on without video\n"), stderr);
  }
  take_devices(m);
  if (m->aenc && m->o.audio != CALL_AUDIO_NONE)
    uv_timer_start(&m->atimer, send_audio, 0, m->o.audio == CALL_AUDIO_MIC ? 10 : 20);
  uv_timer_start(&m->ptimer, play_audio, 20, 20);
}

void call_media_stop_sending(struct call_media *m) {
  if (!m || m->closing) return;
  m->sending = false;
  uv_timer_stop(&m->atimer);
  stop_encoder(m);
}

void call_media_on_keyframe_request(struct call_media *m, mc_pc_track t) {
  if (m && m->venc && t == m->vtrack) atomic_store(&m->want_keyframe, true);
}

void call_media_set_mic_muted(struct call_media *m, bool muted) {
  if (!m || m->mic_muted == muted) return;
  m->mic_muted = muted;
  MC_LOGI(LOG, "audio: %s", muted ? "muted" : "unmuted");
}

void call_media_set_camera_off(struct call_media *m, bool off) {
  if (!m) return;
  pthread_mutex_lock(&m->ctl_mu);
  bool changed = m->camera_off != off;
  m->camera_off = off;
  pthread_mutex_unlock(&m->ctl_mu);
  if (changed) MC_LOGI(LOG, "video: camera %s", off ? "off" : "on");
}

bool call_media_has_video(const struct call_media *m) { return m && m->venc; }
bool call_media_has_audio(const struct call_media *m) { return m && m->aenc && m->o.audio != CALL_AUDIO_NONE; }
bool call_media_video_paused(const struct call_media *m) { return m && m->venc && m->fit.set && m->fit.paused; }

#define FIT_BUDGET_PCT 90

void call_media_set_target_bitrate(struct call_media *m, uint64_t bps) {
  if (!m || !m->venc) return;
  m->last_target_bps = bps;
  uint16_t overshoot[MC_FIT_LEVELS];
  for (int i = 0; i < MC_FIT_LEVELS; i++) overshoot[i] = (uint16_t)atomic_load(&m->overshoot_pct[i]);
  struct mc_fit_config fc = {.width = m->o.width, .height = m->o.height, .fps = m->o.fps,
                             .max_kbps = m->o.bitrate_kbps,
                             .audio_bps = m->aenc && !m->mic_muted ? AUDIO_SHARE_BPS : 0,
                             .overshoot_pct = overshoot};
  int old_kbps = m->fit.kbps;
  /* The estimate counts what leaves on the wire: RTP/SRTP headers and
   * extensions, NACK repairs and the encoder's overshoot come out of it
   * before the encoders get their share. */
  bool changed = mc_fit_video(&fc, bps / 100 * FIT_BUDGET_PCT, mc_now_ms(), &m->fit);
  if (changed)
    MC_LOGI(LOG, "video: fit to estimate bps=%llu width=%d height=%d fps=%d kbps=%d paused=%d",
            (unsigned long long)bps, m->fit.width, m->fit.height, m->fit.fps, m->fit.kbps, m->fit.paused);
  if (!changed && m->fit.kbps == old_kbps) return;
  pthread_mutex_lock(&m->ctl_mu);
  m->enc_fit = m->fit;
  m->fit_gen++;
  pthread_mutex_unlock(&m->ctl_mu);
}

/* ---- video in: net thread to decode thread ---- */

bool call_media_on_frame(struct call_media *m, mc_pc_track t, const uint8_t *data, size_t len, uint32_t ts,
                         bool keyframe) {
  if (!m || m->closing || !data || !len) return false;
  struct mc_pc_track_stats st;
  if (mc_pc_get_track_stats(m->pc, t, &st) != 0) return false;
  if (st.kind == MC_PC_VIDEO) {
    m->rx_vtrack = t;
    struct coded c = {.data = malloc(len), .len = len, .ts = ts, .key = keyframe, .gap_before = m->recv_gap};
    if (!c.data) return true;
    memcpy(c.data, data, len);
    pthread_mutex_lock(&m->recvq.mu);
    bool queued = codedq_push_locked(&m->recvq, &c);
    if (queued) pthread_cond_signal(&m->recvq.cv);
    pthread_mutex_unlock(&m->recvq.mu);
    if (queued) {
      m->recv_gap = false;
    } else {
      /* The decoder is a second behind. Dropped, the frames after this one
       * cannot decode: the decode thread waits for the next key frame. */
      free(c.data);
      m->recv_gap = true;
      if (m->recv_dropped++ == 0) MC_LOGW(LOG, "video: decoder behind, frames dropped until a key frame");
    }
  } else {
    /* Audio waits in the adaptive jitter buffer; the playout tick decodes
     * (or conceals) one 20 ms frame at a time. */
    m->rx_atrack = t;
    m->audio_packets_received++;
    mc_ajb_push(m->ajb, (uint16_t)(ts / MC_AUDIO_FRAME), ts, data, len, mc_now_ms());
  }
  return st.kind == MC_PC_VIDEO;
}

/* ---- video decode thread ---- */

static void record_latency(uint32_t *arr, size_t *n, uint32_t lat) {
  if (lat < 60000 && *n < MAX_LATENCIES) arr[(*n)++] = lat;
}

static void show(struct call_media *m, const struct mc_i420 *pic, uint32_t ts, uint64_t ready_us, bool stamp_ok,
                 uint32_t stamp) {
  uint64_t shown_us = mc_now_us();
  if (m->o.view) call_view_put_picture(m->o.view, CALL_PICTURE_REMOTE, pic);
  uint32_t lat = (uint32_t)mc_wall_ms() - stamp;
  pthread_mutex_lock(&m->vst_mu);
  if (stamp_ok) record_latency(m->latencies, &m->nlat, lat);
  m->frames_shown++;
  pthread_mutex_unlock(&m->vst_mu);
  pthread_mutex_lock(&m->shown_mu);
  if (m->shown_n == SHOWNQ_CAP) { /* the net thread is behind: the oldest event goes */
    m->shown_head = (m->shown_head + 1) % SHOWNQ_CAP;
    m->shown_n--;
  }
  m->shownq[(m->shown_head + m->shown_n) % SHOWNQ_CAP] = (struct shown){ts, ready_us, shown_us};
  m->shown_n++;
  pthread_mutex_unlock(&m->shown_mu);
}

static void show_head(struct call_media *m) {
  struct held *h = &m->showq[m->show_head];
  show(m, &h->pic, h->ts, h->ready_us, h->stamp_ok, h->stamp);
  m->show_head = (m->show_head + 1) % SHOWQ_CAP;
  m->show_n--;
}

/* Pictures whose hold is over are shown. */
static void show_due(struct call_media *m) {
  uint64_t hold_us = (uint64_t)atomic_load(&m->video_hold_ms) * 1000;
  while (m->show_n && mc_now_us() >= m->showq[m->show_head].ready_us + hold_us) show_head(m);
}

static void decode_one(struct call_media *m, const struct coded *c) {
  if (c->gap_before) {
    m->waiting_key = true;
    atomic_store(&m->want_remote_keyframe, true);
  }
  if (m->waiting_key && !c->key) {
    pthread_mutex_lock(&m->vst_mu);
    m->frames_waiting_key++;
    pthread_mutex_unlock(&m->vst_mu);
    return;
  }
  m->waiting_key = false;
  struct mc_i420 pic;
  bool got = false;
  int rc = mc_vp8_decoder_decode(m->vdec, c->data, c->len, &pic, &got);
  uint64_t ready_us = mc_now_us();
  uint32_t stamp = 0;
  bool stamp_ok = rc == 0 && got && mc_stamp_read(&pic, &stamp) == 0;
  uint64_t now_ms = ready_us / 1000;
  /* A frame that does not decode leaves the decoder without a reference:
   * what follows would be smeared, so it waits for the key frame it asks
   * for. */
  if (rc != 0) {
    m->waiting_key = true;
    atomic_store(&m->want_remote_keyframe, true);
  }
  pthread_mutex_lock(&m->vst_mu);
  if (rc != 0) {
    m->decode_errors++;
  } else if (got) {
    m->frames_decoded++;
    if (m->last_decoded_ms) {
      uint64_t gap = now_ms - m->last_decoded_ms;
      if (gap > m->max_gap_ms) m->max_gap_ms = gap;
      if (gap > 500) {
        m->freezes++;
        m->freeze_ms += gap;
      }
    }
    m->last_decoded_ms = now_ms;
    m->width_in = pic.width;
    m->height_in = pic.height;
    if (!stamp_ok) {
      m->stamp_errors++;
    } else {
      m->stamps_read++;
      /* The same stamp twice is a repeated picture (a browser's canvas
       * capture can send one), not disorder. */
      if (m->have_stamp && (int32_t)(stamp - m->last_stamp) < 0) m->stamps_out_of_order++;
      m->last_stamp = stamp;
      m->have_stamp = true;
      record_latency(m->dec_latencies, &m->ndlat, (uint32_t)mc_wall_ms() - stamp);
    }
  }
  pthread_mutex_unlock(&m->vst_mu);
  if (rc != 0 || !got) return;
  if (atomic_load(&m->video_hold_ms) == 0 && m->show_n == 0) {
    show(m, &pic, c->ts, ready_us, stamp_ok, stamp);
    return;
  }
  if (m->show_n == SHOWQ_CAP) show_head(m); /* full: the oldest goes early */
  struct held *h = &m->showq[(m->show_head + m->show_n) % SHOWQ_CAP];
  if (h->pic.width != pic.width || h->pic.height != pic.height) {
    mc_i420_free(&h->pic);
    if (mc_i420_alloc(&h->pic, pic.width, pic.height) != 0) return;
  }
  if (mc_i420_copy(&pic, &h->pic) != 0) return;
  h->ts = c->ts;
  h->ready_us = ready_us;
  h->stamp_ok = stamp_ok;
  h->stamp = stamp;
  m->show_n++;
}

static void *decode_main(void *arg) {
  struct call_media *m = arg;
  for (;;) {
    struct coded c;
    bool have = false, stop;
    pthread_mutex_lock(&m->recvq.mu);
    for (;;) {
      if (m->dec_stop) break;
      if ((have = codedq_pop_locked(&m->recvq, &c))) break;
      if (!m->show_n) {
        pthread_cond_wait(&m->recvq.cv, &m->recvq.mu);
        continue;
      }
      uint64_t due = m->showq[m->show_head].ready_us + (uint64_t)atomic_load(&m->video_hold_ms) * 1000;
      if (mc_now_us() >= due) break;
      struct timespec ts;
      abs_deadline(due, &ts);
      pthread_cond_timedwait(&m->recvq.cv, &m->recvq.mu, &ts);
    }
    stop = m->dec_stop;
    pthread_mutex_unlock(&m->recvq.mu);
    if (have) {
      if (!stop) decode_one(m, &c);
      free(c.data);
    }
    if (stop) break;
    show_due(m);
  }
  return NULL;
}

static void stop_decoder(struct call_media *m) {
  if (!m->dec_running) return;
  pthread_mutex_lock(&m->recvq.mu);
  m->dec_stop = true;
  pthread_cond_signal(&m->recvq.cv);
  pthread_mutex_unlock(&m->recvq.mu);
  pthread_join(m->dec_thread, NULL);
  m->dec_running = false;
}

/* ---- audio in and lip sync (net thread) ---- */

static void keep_played(struct call_media *m, const int16_t *pcm) {
  if (m->spk) {
    mc_speaker_write(m->spk, pcm);
    memcpy(m->last_played, pcm, sizeof m->last_played);
  }
  for (size_t i = 0; i < MC_AUDIO_FRAME; i++) {
    m->audio[m->audio_pos] = pcm[i];
    m->audio_pos = (m->audio_pos + 1) % AUDIO_KEEP_FRAMES;
    if (m->audio_len < AUDIO_KEEP_FRAMES) m->audio_len++;
  }
}

/* Plays the frame just popped slower or faster when the jitter buffer asks
 * (src/media/stretch.c): slower repeats a pitch period of it after what
 * was played and is waiting; faster leaves one out of what is waiting and
 * the frame. pcm is replaced; returns its new length. */
static size_t stretch_frame(struct call_media *m, enum mc_ajb_wish wish, int16_t *pcm, size_t n) {
  static int16_t x[STRETCH_HIST + PLAY_FIFO + MC_AUDIO_FRAME];
  int16_t out[PLAY_FIFO + MC_AUDIO_FRAME + MC_STRETCH_MAX_LAG];
  size_t h = MC_MIN(m->audio_len, (size_t)STRETCH_HIST);
  for (size_t i = 0; i < h; i++) x[i] = m->audio[(m->audio_pos + AUDIO_KEEP_FRAMES - h + i) % AUDIO_KEEP_FRAMES];
  memcpy(x + h, m->fifo, m->fifo_n * sizeof *x);
  memcpy(x + h + m->fifo_n, pcm, n * sizeof *x);
  int changed = 0;
  if (wish == MC_AJB_SLOWER) {
    size_t add = mc_stretch_slower(x, h + m->fifo_n, n, out);
    memcpy(pcm, out, (n + add) * sizeof *pcm);
    n += add;
    changed = (int)add;
  } else {
    /* what waits in the FIFO is rewritten too: the period can start there */
    size_t waiting = m->fifo_n + n;
    size_t cut = mc_stretch_faster(x, h, waiting, out);
    if (cut) {
      size_t keep = MC_MIN(m->fifo_n, waiting - cut);
      memcpy(m->fifo, out, keep * sizeof *out);
      m->fifo_n = keep;
      n = waiting - cut - keep;
      memcpy(pcm, out + keep, n * sizeof *pcm);
    }
    changed = -(int)cut;
  }
  mc_ajb_stretched(m->ajb, changed);
  if (changed > 0) m->samples_inserted += (uint64_t)changed;
  if (changed < 0) m->samples_removed += (uint64_t)-changed;
  return n;
}

/* One popped frame into the FIFO. RFC 6716 / RFC 7587: a missing packet
 * is rebuilt from the next one's in-band FEC when it is already here, else
 * concealed (PLC). false when there is nothing to play (buffering). */
static bool decode_next(struct call_media *m, uint64_t play_ms) {
  uint8_t pkt[1500];
  size_t len = 0, frames = 0;
  enum mc_ajb_status st;
  int16_t pcm[MC_OPUS_MAX_FRAME];
  if (mc_ajb_pop(m->ajb, play_ms, pkt, sizeof pkt, &len, &st) != 0) return false;
  int rc = MC_EPARSE;
  switch (st) {
  case MC_AJB_BUFFERING:
    return false;
  case MC_AJB_FRAME:
    rc = mc_opus_decoder_decode(m->adec, pkt, len, pcm, MC_OPUS_MAX_FRAME, &frames);
    m->frames_concealed += m->waited_pending;
    m->waited_pending = 0;
    break;
  case MC_AJB_MISSING:
    if (mc_ajb_peek_next(m->ajb, pkt, sizeof pkt, &len) == 0 &&
        mc_opus_decoder_decode_fec(m->adec, pkt, len, pcm, MC_OPUS_MAX_FRAME, &frames) == 0) {
      m->frames_fec++;
      rc = 0;
      break;
    }
    rc = mc_opus_decoder_conceal(m->adec, pcm, MC_OPUS_MAX_FRAME, &frames);
    if (rc == 0) m->frames_concealed++;
    break;
  case MC_AJB_WAITING:
    /* late, not lost: concealment all the same (as NetEq's expand), but
     * the packet is played when it comes */
    rc = mc_opus_decoder_conceal(m->adec, pcm, MC_OPUS_MAX_FRAME, &frames);
    if (rc == 0) m->waited_pending++;
    break;
  case MC_AJB_STRETCH:
    /* the fallback when the audio could not be stretched: not a loss
     * (WebRTC counts its equivalent apart too, as samples inserted for
     * deceleration) */
    rc = mc_opus_decoder_conceal(m->adec, pcm, MC_OPUS_MAX_FRAME, &frames);
    if (rc == 0) {
      m->frames_stretched++;
      m->samples_inserted += MC_AUDIO_FRAME;
    }
    break;
  }
  if (rc != 0 || frames != MC_AUDIO_FRAME) return true;
  uint32_t ts = 0;
  bool has_ts = mc_ajb_last_ts(m->ajb, &ts) == 0;
  enum mc_ajb_wish wish = st == MC_AJB_FRAME ? mc_ajb_wish(m->ajb) : MC_AJB_KEEP;
  size_t n = wish == MC_AJB_KEEP ? frames : stretch_frame(m, wish, pcm, frames);
  /* Frames the jitter buffer skipped after a wait (lost; the concealment
   * played while waiting stood in for them) are media time too: this
   * frame brings all of it since the last one, or lip sync would take the
   * audio as played that much later for good (burst10: video held 300
   * ms). */
  uint32_t media = MC_AUDIO_FRAME;
  if (has_ts && m->last_ts_ok && ts - m->last_ts > MC_AUDIO_FRAME && ts - m->last_ts <= 16 * MC_AUDIO_FRAME)
    media = ts - m->last_ts;
  if (m->fifo_n == 0 || (has_ts && !m->fifo_ts_ok)) {
    /* what waits before this frame (concealment that stood for no
     * timestamp) is taken as the media time just before it */
    m->fifo_ts = ts - (uint32_t)m->fifo_n;
    m->fifo_ts_ok = has_ts;
    m->fifo_media = (uint32_t)m->fifo_n;
    media = MC_AUDIO_FRAME;
  }
  memcpy(m->fifo + m->fifo_n, pcm, n * sizeof *pcm);
  m->fifo_n += n;
  if (has_ts) {
    m->fifo_media += media;
    m->last_ts = ts;
    m->last_ts_ok = true;
  }
  return true;
}

/* One 20 ms block to the speakers (and the measurement), decoding as many
 * frames as that takes: none when a stretched one left enough, two when
 * one was shortened. tick_ms: when the block starts to play. */
static void play_one(struct call_media *m, uint64_t tick_ms) {
  for (int n = 0; m->fifo_n < MC_AUDIO_FRAME && n < 4; n++)
    /* the pop's own time, not when the frame is heard (that is up to a
     * frame later, behind what waits in the FIFO): a packet must be here
     * by then, and the jitter buffer's target covers its lateness from
     * there */
    if (!decode_next(m, tick_ms)) break;
  if (m->fifo_n < MC_AUDIO_FRAME) {
    m->frames_silent++;
    if (m->frames_played) m->silent_pending++;
    return;
  }
  m->frames_played++;
  m->frames_underrun += m->silent_pending;
  m->silent_pending = 0;
  keep_played(m, m->fifo);
  /* Heard now, or once the speaker's queue ahead of it has played. */
  if (m->fifo_ts_ok) {
    uint64_t at = mc_now_us() + (m->spk ? (uint64_t)mc_speaker_queued_ms(m->spk) * 1000 : 0);
    mc_sync_on_audio_played(m->sync, m->fifo_ts, at);
  }
  uint32_t media = (uint32_t)(((uint64_t)m->fifo_media * MC_AUDIO_FRAME + m->fifo_n / 2) / m->fifo_n);
  m->fifo_ts += media;
  m->fifo_media -= MC_MIN(media, m->fifo_media);
  m->fifo_n -= MC_AUDIO_FRAME;
  memmove(m->fifo, m->fifo + MC_AUDIO_FRAME, m->fifo_n * sizeof *m->fifo);
}

/* RFC 4585 6.3.1: the decoder lost its reference; the peer connection
 * rate-limits the PLIs. */
static void request_remote_keyframe(struct call_media *m) {
  if (m->rx_vtrack < 0) return;
  m->remote_keyframes_wanted++;
  int rc = mc_pc_request_keyframe(m->pc, m->rx_vtrack);
  if (rc != 0) MC_LOGD(LOG, "video: key frame request not sent rc=%d", rc);
}

static void feed_sender_report(struct call_media *m, mc_pc_track t, enum mc_sync_track k) {
  struct mc_pc_track_stats st;
  if (t >= 0 && mc_pc_get_track_stats(m->pc, t, &st) == 0 && st.has_sender_report)
    mc_sync_on_sender_report(m->sync, k, st.sender_report_ntp, st.sender_report_rtp_ts);
}

/* RFC 3550 6.4.1: the sender reports' clock mapping, what was played and
 * shown, and the correction it gives: the decode thread's hold and the
 * audio jitter buffer's minimum delay. */
static void sync_tick(struct call_media *m) {
  if (atomic_exchange(&m->want_remote_keyframe, false)) request_remote_keyframe(m);
  feed_sender_report(m, m->rx_atrack, MC_SYNC_AUDIO);
  feed_sender_report(m, m->rx_vtrack, MC_SYNC_VIDEO);
  struct shown ev[SHOWNQ_CAP];
  size_t n = 0;
  pthread_mutex_lock(&m->shown_mu);
  while (m->shown_n) {
    ev[n++] = m->shownq[m->shown_head];
    m->shown_head = (m->shown_head + 1) % SHOWNQ_CAP;
    m->shown_n--;
  }
  pthread_mutex_unlock(&m->shown_mu);
  for (size_t i = 0; i < n; i++) mc_sync_on_video_shown(m->sync, ev[i].ts, ev[i].ready_us, ev[i].shown_us);
  struct mc_ajb_stats js;
  mc_ajb_get_stats(m->ajb, &js);
  mc_sync_update(m->sync, js.target_ms, mc_now_us());
  struct mc_sync_state s;
  mc_sync_get(m->sync, &s);
  if (s.video_delay_ms != m->sync_st.video_delay_ms || s.audio_delay_ms != m->sync_st.audio_delay_ms)
    MC_LOGD(LOG, "lip sync: offset_ms=%.1f video_delay_ms=%u audio_delay_ms=%u", s.base_offset_ms,
            s.video_delay_ms, s.audio_delay_ms);
  atomic_store(&m->video_hold_ms, s.video_delay_ms);
  if (s.audio_delay_ms != m->sync_audio_applied_ms) {
    mc_ajb_set_min_delay(m->ajb, s.audio_delay_ms);
    m->sync_audio_applied_ms = s.audio_delay_ms;
  }
  if (s.video_delay_ms > m->sync_video_max_ms) m->sync_video_max_ms = s.video_delay_ms;
  m->sync_st = s;
  if (s.measured && ++m->sync_ticks % SYNC_SAMPLE_TICKS == 0 && m->nsync < MAX_LATENCIES) {
    m->sync_abs[m->nsync] = (uint32_t)(fabs(s.offset_ms) + 0.5);
    m->sync_abs_base[m->nsync++] = (uint32_t)(fabs(s.base_offset_ms) + 0.5);
  }
}

/* Playout on the real clock too: every 20 ms frame due is played. (With a
 * speaker the device's own clock would pace it; SDL queues what we give.) */
static void play_audio(uv_timer_t *t) {
  struct call_media *m = t->data;
  take_devices(m);
  uint64_t now = mc_now_us();
  if (!m->pstart_us) m->pstart_us = now;
  uint64_t due = (now - m->pstart_us) / 20000 + 1;
  /* each block's own time on the playout clock, not the tick's: a late
   * tick must not look like a longer jitter buffer delay */
  for (int n = 0; m->pframes < due && n < 10; n++, m->pframes++) play_one(m, (m->pstart_us + m->pframes * 20000) / 1000);
  if (m->pframes < due) m->pframes = due;
  sync_tick(m);
}

/* ---- statistics ---- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* p50 and p95 of a copy (the decode thread keeps appending). */
static void percentiles(const uint32_t *arr, size_t n, uint32_t *p50, uint32_t *p95) {
  *p50 = *p95 = 0;
  uint32_t *c = n ? malloc(n * sizeof *c) : NULL;
  if (!c) return;
  memcpy(c, arr, n * sizeof *c);
  qsort(c, n, sizeof *c, cmp_u32);
  *p50 = c[n / 2];
  *p95 = c[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1];
  free(c);
}

static json_t *track_json(const struct mc_pc_track_stats *s) {
  return json_pack("{s:s, s:s, s:s, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:f}",
                   "kind", s->kind == MC_PC_VIDEO ? "video" : "audio", "mid", s->mid, "codec", s->codec,
                   "sending", s->sending, "receiving", s->receiving, "packetsSent", (json_int_t)s->packets_sent,
                   "bytesSent", (json_int_t)s->bytes_sent, "framesSent", (json_int_t)s->frames_sent,
                   "retransmittedPacketsSent", (json_int_t)s->retransmitted_packets_sent, "nackReceived",
                   (json_int_t)s->nack_received, "pliReceived", (json_int_t)s->pli_received, "packetsReceived",
                   (json_int_t)s->packets_received, "bytesReceived", (json_int_t)s->bytes_received,
                   "framesReceived", (json_int_t)s->frames_received, "retransmittedPacketsReceived",
                   (json_int_t)s->retransmitted_packets_received, "packetsLost", (json_int_t)s->packets_lost,
                   "nackCount", (json_int_t)s->nack_sent, "pliCount", (json_int_t)s->pli_sent, "jitter",
                   s->jitter_s, "framesDropped", (json_int_t)s->frames_dropped, "currentRoundTripTime",
                   s->round_trip_time_s);
}

void call_media_stats_json(struct call_media *m, json_t *root) {
  if (!m) return;
  json_t *tracks = json_array();
  for (int i = 0; i < mc_pc_track_count(m->pc); i++) {
    struct mc_pc_track_stats s;
    if (mc_pc_get_track_stats(m->pc, i, &s) == 0) json_array_append_new(tracks, track_json(&s));
  }
  json_object_set_new(root, "tracks", tracks);
  double power = 0, hz = 0;
  if (m->audio_len >= 48000) {
    /* the last second, oldest first */
    int16_t *last = malloc(48000 * sizeof *last);
    if (last) {
      for (size_t i = 0; i < 48000; i++)
        last[i] = m->audio[(m->audio_pos + AUDIO_KEEP_FRAMES - 48000 + i) % AUDIO_KEEP_FRAMES];
      hz = mc_tone_dominant(last, 48000, 1, 100, 4000, &power);
      free(last);
    }
  }
  uint32_t p50 = 0, p95 = 0, dp50 = 0, dp95 = 0;
  pthread_mutex_lock(&m->vst_mu);
  percentiles(m->latencies, m->nlat, &p50, &p95);
  percentiles(m->dec_latencies, m->ndlat, &dp50, &dp95);
  json_t *video = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
      "framesEncoded", (json_int_t)atomic_load(&m->frames_encoded), "keyFramesEncoded",
      (json_int_t)atomic_load(&m->keyframes_encoded), "framesDecoded", (json_int_t)m->frames_decoded,
      "decodeErrors", (json_int_t)m->decode_errors, "stampsRead", (json_int_t)m->stamps_read, "stampErrors",
      (json_int_t)m->stamp_errors, "stampsOutOfOrder", (json_int_t)m->stamps_out_of_order, "framesShown",
      (json_int_t)m->frames_shown, "frameWidth", m->width_in, "frameHeight", m->height_in,
      "glassToGlassP50Ms", (json_int_t)dp50, "glassToGlassP95Ms", (json_int_t)dp95, "glassToGlassShownP50Ms",
      (json_int_t)p50, "glassToGlassShownP95Ms", (json_int_t)p95, "maxFrameGapMs", (json_int_t)m->max_gap_ms,
      "freezeCount", (json_int_t)m->freezes, "freezeTotalMs", (json_int_t)m->freeze_ms);
  json_object_set_new(video, "framesWaitingKeyFrame", json_integer((json_int_t)m->frames_waiting_key));
  pthread_mutex_unlock(&m->vst_mu);
  const struct mc_sync_state *s = &m->sync_st;
  json_object_set_new(video, "framesDroppedBeforeDecode", json_integer((json_int_t)m->recv_dropped));
  json_object_set_new(video, "keyFramesWanted", json_integer((json_int_t)m->remote_keyframes_wanted));
  json_object_set_new(video, "framesDroppedBeforeSend", json_integer((json_int_t)atomic_load(&m->send_dropped)));
  json_object_set_new(video, "framesNotSent", json_integer((json_int_t)atomic_load(&m->frames_not_sent)));
  json_object_set_new(video, "sendWidth", json_integer(atomic_load(&m->enc_width)));
  json_object_set_new(video, "sendHeight", json_integer(atomic_load(&m->enc_height)));
  json_object_set_new(video, "sendFramesPerSecond", json_integer(atomic_load(&m->enc_fps)));
  json_object_set_new(video, "targetBitrateKbps", json_integer(atomic_load(&m->enc_kbps)));
  json_t *over = json_array();
  for (int i = 0; i < MC_FIT_LEVELS; i++) json_array_append_new(over, json_integer(atomic_load(&m->overshoot_pct[i])));
  json_object_set_new(video, "encoderOvershootPct", over);
  json_object_set_new(video, "avSyncMeasured", json_boolean(s->measured));
  json_object_set_new(video, "avSyncOffsetMs", s->measured ? json_real(s->offset_ms) : json_null());
  json_object_set_new(video, "avSyncOffsetUncorrectedMs", s->measured ? json_real(s->base_offset_ms) : json_null());
  uint32_t sp50, sp95, sbp50, sbp95;
  percentiles(m->sync_abs, m->nsync, &sp50, &sp95);
  percentiles(m->sync_abs_base, m->nsync, &sbp50, &sbp95);
  json_object_set_new(video, "avSyncAbsOffsetP50Ms", json_integer(sp50));
  json_object_set_new(video, "avSyncAbsOffsetP95Ms", json_integer(sp95));
  json_object_set_new(video, "avSyncAbsOffsetUncorrectedP50Ms", json_integer(sbp50));
  json_object_set_new(video, "avSyncAbsOffsetUncorrectedP95Ms", json_integer(sbp95));
  json_object_set_new(video, "syncDelayMs", json_integer(s->video_delay_ms));
  json_object_set_new(video, "syncDelayMaxMs", json_integer(m->sync_video_max_ms));
  json_object_set_new(root, "video", video);
  struct mc_ajb_stats js;
  mc_ajb_get_stats(m->ajb, &js);
  json_t *audio = json_pack("{s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:I, s:i, s:I}", "packetsSent",
      (json_int_t)m->audio_packets_sent, "packetsReceived", (json_int_t)m->audio_packets_received,
      "dominantHz", hz, "dominantPower", power, "framesPlayed", (json_int_t)m->frames_played,
      "concealedFrames", (json_int_t)m->frames_concealed, "fecFrames", (json_int_t)m->frames_fec,
      "jitterBufferDropped", (json_int_t)js.dropped, "jitterBufferTargetMs", (int)js.target_ms,
      "latePackets", (json_int_t)js.late);
  json_object_set_new(audio, "framesMuted", json_integer((json_int_t)m->audio_frames_muted));
  json_object_set_new(audio, "underrunFrames", json_integer((json_int_t)m->frames_underrun));
  json_object_set_new(audio, "stretchedFrames", json_integer((json_int_t)m->frames_stretched));
  json_object_set_new(audio, "insertedSamplesForDeceleration", json_integer((json_int_t)m->samples_inserted));
  /* a frame the fallback dropped shortened the audio as much */
  json_object_set_new(audio, "removedSamplesForAcceleration",
                      json_integer((json_int_t)(m->samples_removed + js.dropped * MC_AUDIO_FRAME)));
  json_object_set_new(audio, "avSyncOffsetMs", s->measured ? json_real(s->offset_ms) : json_null());
  json_object_set_new(audio, "syncDelayMs", json_integer(s->audio_delay_ms));
  json_object_set_new(root, "audio", audio);
}

/* ---- the end ---- */

static void on_closed(uv_handle_t *h) {
  struct call_media *m = h->data;
  if (--m->open_handles > 0) return;
  codedq_destroy(&m->sendq);
  codedq_destroy(&m->recvq);
  pthread_mutex_destroy(&m->ctl_mu);
  pthread_cond_destroy(&m->ctl_cv);
  pthread_mutex_destroy(&m->shown_mu);
  pthread_mutex_destroy(&m->vst_mu);
  for (size_t i = 0; i < SHOWQ_CAP; i++) mc_i420_free(&m->showq[i].pic);
  mc_pattern_free(m->pattern);
  mc_y4m_free(m->y4m);
  mc_i420_free(&m->enc_pic);
  mc_vp8_encoder_free(m->venc);
  mc_opus_encoder_free(m->aenc);
  mc_wav_free(m->wav);
  mc_camera_free(m->cam);
  mc_apm_free(m->apm);
  mc_vp8_decoder_free(m->vdec);
  mc_opus_decoder_free(m->adec);
  mc_ajb_free(m->ajb);
  mc_sync_free(m->sync);
  free(m->latencies);
  free(m->dec_latencies);
  free(m->audio);
  free(m->sync_abs);
  free(m->sync_abs_base);
  free(m);
}

/* The threads are joined here, so after this returns nothing touches the
 * peer connection or the view; the memory goes once libuv has closed the
 * handles (on a later loop turn). */
void call_media_free(struct call_media *m) {
  if (!m || m->closing) return;
  m->sending = false;
  stop_encoder(m);
  stop_decoder(m);
  m->closing = true;
  call_audio_close(m->devices);
  m->devices = NULL;
  m->spk = NULL;
  m->mic = NULL;
  uv_close((uv_handle_t *)&m->atimer, on_closed);
  uv_close((uv_handle_t *)&m->ptimer, on_closed);
  uv_close((uv_handle_t *)&m->send_async, on_closed);
}
