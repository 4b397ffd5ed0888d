/* The media of a call: a source (camera, pattern, Y4M file; microphone
 * through echo cancellation, tone, WAV file) encoded (VP8, Opus) onto the
 * peer connection's tracks, and what arrives decoded, played on the
 * speakers (unless headless) and measured: frames decoded, the capture
 * stamps read back (order and glass-to-glass latency), the dominant
 * frequency of the audio. A camera or microphone that cannot be opened is
 * one sentence and the call goes on without it.
 * Encoding and decoding run on the loop for now (640x480 VP8 takes a few ms
 * per frame here); their own threads come with the window (issue 6). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "app/app.h"
#include "media/media.h"
#include "rtp/rtp.h"
#include "util/util.h"

#define LOG "media"
#define AUDIO_KEEP_FRAMES (48000 * 2) /* last 2 s of received audio, mono */
#define MAX_LATENCIES 20000

struct call_media {
  struct call_media_opts o;
  uv_loop_t *loop;
  mc_pc *pc;
  bool started, closing;
  int open_handles;
  /* send */
  mc_pc_track vtrack, atrack;
  mc_pattern *pattern;
  mc_y4m *y4m;
  mc_vp8_encoder *venc;
  struct mc_i420 scaled;
  uint64_t vindex, vstart_us;
  uint32_t vts_base;
  uv_timer_t vtimer;
  struct mc_tone tone;
  mc_wav *wav;
  int wav_channels;
  mc_opus_encoder *aenc;
  mc_camera *cam;
  mc_mic *mic;
  mc_apm *apm;
  mc_speaker *spk;
  int16_t last_played[MC_AUDIO_FRAME];
  uint32_t ats;
  uv_timer_t atimer;
  uint64_t frames_encoded, keyframes_encoded, audio_packets_sent;
  /* receive */
  mc_vp8_decoder *vdec;
  mc_opus_decoder *adec;
  mc_ajb *ajb;         /* received Opus packets until their playout time */
  uv_timer_t ptimer;   /* playout: one 20 ms frame per tick */
  uint64_t frames_played, frames_concealed, frames_fec, frames_silent;
  uint64_t astart_us, aframes, pstart_us, pframes; /* real-clock pacing of send and playout */
  uint64_t frames_decoded, decode_errors, stamps_read, stamp_errors, stamps_out_of_order;
  uint64_t last_decoded_ms, max_gap_ms, freezes; /* gaps between decoded frames; a freeze is one over 500 ms */
  uint32_t last_stamp;
  bool have_stamp;
  uint32_t *latencies;
  size_t nlat;
  int16_t *audio;
  size_t audio_len, audio_pos;
  uint64_t audio_packets_received;
  int width_in, height_in;
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
      fprintf(stderr, "medcall: --video-source wants camera[:DEVICE], pattern, file:PATH or none, not '%s'\n", arg);
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
        fprintf(stderr, "medcall: --audio-source tone:HZ wants 50..8000 Hz, not '%s'\n", arg + 5);
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
    fprintf(stderr, "medcall: --audio-source wants mic[:DEVICE], tone[:HZ], file:PATH or none, not '%s'\n", arg);
    return -1;
  }
  return 0;
}

/* Opens the video source. A camera that cannot be opened is a sentence and
 * the call goes on without video; a bad file is an error. */
static int open_video(struct call_media *m) {
  struct call_media_opts *o = &m->o;
  char why[200] = "";
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
      fprintf(stderr, "medcall: %s; the call goes on without video\n", why);
      o->video = CALL_VIDEO_NONE;
      return 0;
    }
    break;
  }
  case CALL_VIDEO_FILE:
    if ((rc = mc_y4m_open(o->video_path, &m->y4m, why, sizeof why)) != 0) {
      fprintf(stderr, "medcall: %s\n", why);
      return rc;
    }
    break;
  }
  /* Camera and file pictures are scaled to the size we send. */
  if ((rc = mc_i420_alloc(&m->scaled, o->width, o->height)) != 0) fprintf(stderr, "medcall: out of memory\n");
  return rc;
}

/* Opens the audio source, and the speakers unless headless. A microphone or
 * speakers that cannot be opened are a sentence and the call goes on. */
static int open_audio(struct call_media *m) {
  struct call_media_opts *o = &m->o;
  char why[200] = "";
  int rc = 0;
  if (!o->headless && mc_speaker_open(&(struct mc_audio_config){.channels = 1}, &m->spk, why, sizeof why) != 0)
    fprintf(stderr, "medcall: %s; the other side will not be heard\n", why);
  switch (o->audio) {
  case CALL_AUDIO_NONE:
    break;
  case CALL_AUDIO_MIC:
    if (mc_mic_open(&(struct mc_audio_config){.device = o->audio_path, .channels = 1}, &m->mic, why, sizeof why) != 0) {
      fprintf(stderr, "medcall: %s; the call goes on without sound from here\n", why);
      o->audio = CALL_AUDIO_NONE;
    } else {
      rc = mc_apm_new(NULL, &m->apm);
    }
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

int call_media_new(uv_loop_t *loop, mc_pc *pc, const struct call_media_opts *opts, struct call_media **out) {
  struct call_media *m = calloc(1, sizeof *m);
  if (!m) return MC_ENOMEM;
  m->o = *opts;
  m->loop = loop;
  m->pc = pc;
  m->vtrack = m->atrack = -1;
  const struct call_media_opts *o = &m->o;
  int rc = open_video(m);
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
  m->latencies = calloc(MAX_LATENCIES, sizeof *m->latencies);
  m->audio = calloc(AUDIO_KEEP_FRAMES, sizeof *m->audio);
  if (rc == 0 && (!m->latencies || !m->audio)) rc = MC_ENOMEM;
  uv_timer_init(loop, &m->vtimer);
  uv_timer_init(loop, &m->atimer);
  uv_timer_init(loop, &m->ptimer);
  m->vtimer.data = m->atimer.data = m->ptimer.data = m;
  m->open_handles = 3;
  m->vts_base = mc_random_u32();
  m->ats = mc_random_u32();
  *out = m;
  return rc;
}

static void send_video(uv_timer_t *t) {
  struct call_media *m = t->data;
  const struct mc_i420 *frame = NULL;
  uint32_t wall = (uint32_t)mc_wall_ms();
  if (m->cam) {
    struct mc_i420 pic;
    bool got = false;
    int rc = mc_camera_read(m->cam, &pic, &got);
    if (rc == MC_EIO) {
      fprintf(stderr, "medcall: the camera went away; the call goes on without video\n");
      uv_timer_stop(&m->vtimer);
      return;
    }
    if (rc != 0 || !got) return; /* no new picture this tick */
    if (pic.width == m->scaled.width && pic.height == m->scaled.height) mc_i420_copy(&pic, &m->scaled);
    else if (mc_i420_scale(&pic, &m->scaled) != 0) return;
    frame = &m->scaled;
  } else if (m->pattern) {
    if (mc_pattern_frame(m->pattern, m->vindex, wall, &frame) != 0) return;
  } else if (m->y4m) {
    const struct mc_i420 *raw = NULL;
    if (mc_y4m_next(m->y4m, &raw) != 0 || mc_i420_scale(raw, &m->scaled) != 0) return;
    mc_stamp_write(&m->scaled, wall);
    frame = &m->scaled;
  }
  /* RTP time is the capture instant (RFC 3550 5.1), not frame index / fps:
   * a timer that runs a little fast or slow must not make the receiver's
   * jitter estimate drift. */
  uint64_t now_us = mc_now_us();
  if (!m->vstart_us) m->vstart_us = now_us;
  int64_t pts = (int64_t)((now_us - m->vstart_us) * 9 / 100);
  m->vindex++;
  struct mc_encoded_frame ef;
  if (mc_vp8_encoder_encode(m->venc, frame, pts, &ef) != 0 || !ef.data || ef.len == 0) return;
  m->frames_encoded++;
  if (ef.keyframe) m->keyframes_encoded++;
  mc_pc_send_frame(m->pc, m->vtrack, ef.data, ef.len, m->vts_base + (uint32_t)pts, ef.keyframe);
}

static void encode_audio(struct call_media *m, const int16_t *pcm);
static void play_audio(uv_timer_t *t);

static void send_audio(uv_timer_t *t) {
  struct call_media *m = t->data;
  int16_t pcm[MC_AUDIO_FRAME * 2];
  if (m->mic) {
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
  m->ats += MC_AUDIO_FRAME;
  if (mc_opus_encoder_encode(m->aenc, pcm, pkt, sizeof pkt, &len) != 0) return;
  if (len <= 2) return; /* DTX: silence is not sent (RFC 7587 3.1.3) */
  if (mc_pc_send_frame(m->pc, m->atrack, pkt, len, ts, false) == 0) m->audio_packets_sent++;
}

void call_media_start(struct call_media *m) {
  if (!m || m->started) return;
  m->started = true;
  if (m->venc) uv_timer_start(&m->vtimer, send_video, 0, (uint64_t)(1000 / m->o.fps));
  if (m->aenc) uv_timer_start(&m->atimer, send_audio, 0, m->mic ? 10 : 20);
  uv_timer_start(&m->ptimer, play_audio, 20, 20);
}

void call_media_stop_sending(struct call_media *m) {
  if (!m || m->closing) return;
  uv_timer_stop(&m->vtimer);
  uv_timer_stop(&m->atimer);
}

void call_media_on_keyframe_request(struct call_media *m, mc_pc_track t) {
  if (m && m->venc && t == m->vtrack) mc_vp8_encoder_request_keyframe(m->venc);
}

void call_media_on_frame(struct call_media *m, mc_pc_track t, const uint8_t *data, size_t len, uint32_t ts,
                         bool keyframe) {
  (void)ts;
  (void)keyframe;
  if (!m) return;
  struct mc_pc_track_stats st;
  if (mc_pc_get_track_stats(m->pc, t, &st) != 0) return;
  if (st.kind == MC_PC_VIDEO) {
    struct mc_i420 pic;
    bool got = false;
    if (mc_vp8_decoder_decode(m->vdec, data, len, &pic, &got) != 0) {
      m->decode_errors++;
      return;
    }
    if (!got) return;
    m->frames_decoded++;
    uint64_t now = mc_now_ms();
    if (m->last_decoded_ms) {
      uint64_t gap = now - m->last_decoded_ms;
      if (gap > m->max_gap_ms) m->max_gap_ms = gap;
      if (gap > 500) m->freezes++;
    }
    m->last_decoded_ms = now;
    m->width_in = pic.width;
    m->height_in = pic.height;
    uint32_t stamp;
    if (mc_stamp_read(&pic, &stamp) != 0) {
      m->stamp_errors++;
      return;
    }
    m->stamps_read++;
    /* The same stamp twice is a repeated picture (a browser's canvas
     * capture can send one), not disorder. */
    if (m->have_stamp && (int32_t)(stamp - m->last_stamp) < 0) m->stamps_out_of_order++;
    m->last_stamp = stamp;
    m->have_stamp = true;
    uint32_t lat = (uint32_t)mc_wall_ms() - stamp;
    if (lat < 60000 && m->nlat < MAX_LATENCIES) m->latencies[m->nlat++] = lat;
  } else {
    /* Audio waits in the adaptive jitter buffer; the playout tick decodes
     * (or conceals) one 20 ms frame at a time. */
    m->audio_packets_received++;
    mc_ajb_push(m->ajb, (uint16_t)(ts / MC_AUDIO_FRAME), ts, data, len, mc_now_ms());
  }
}

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

/* RFC 6716 / RFC 7587: a missing packet is rebuilt from the next one's
 * in-band FEC when it is already here, else concealed (PLC). */
static void play_one(struct call_media *m);

/* Playout on the real clock too: every 20 ms frame due is played. (With a
 * speaker the device's own clock would pace it; SDL queues what we give.) */
static void play_audio(uv_timer_t *t) {
  struct call_media *m = t->data;
  uint64_t now = mc_now_us();
  if (!m->pstart_us) m->pstart_us = now;
  uint64_t due = (now - m->pstart_us) / 20000 + 1;
  for (int n = 0; m->pframes < due && n < 10; n++, m->pframes++) play_one(m);
  if (m->pframes < due) m->pframes = due;
}

static void play_one(struct call_media *m) {
  uint8_t pkt[1500];
  size_t len = 0, frames = 0;
  enum mc_ajb_status st;
  int16_t pcm[MC_OPUS_MAX_FRAME];
  if (mc_ajb_pop(m->ajb, mc_now_ms(), pkt, sizeof pkt, &len, &st) != 0) return;
  int rc = MC_EPARSE;
  switch (st) {
  case MC_AJB_BUFFERING:
    m->frames_silent++;
    return;
  case MC_AJB_FRAME:
    rc = mc_opus_decoder_decode(m->adec, pkt, len, pcm, MC_OPUS_MAX_FRAME, &frames);
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
  case MC_AJB_STRETCH:
    rc = mc_opus_decoder_conceal(m->adec, pcm, MC_OPUS_MAX_FRAME, &frames);
    if (rc == 0) m->frames_concealed++;
    break;
  }
  if (rc != 0 || frames < MC_AUDIO_FRAME) return;
  m->frames_played++;
  keep_played(m, pcm);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
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
  uint32_t p50 = 0, p95 = 0;
  if (m->nlat) {
    qsort(m->latencies, m->nlat, sizeof *m->latencies, cmp_u32);
    p50 = m->latencies[m->nlat / 2];
    p95 = m->latencies[(m->nlat * 95) / 100 < m->nlat ? (m->nlat * 95) / 100 : m->nlat - 1];
  }
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
  json_object_set_new(root, "video", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:I, s:I, s:I}",
      "framesEncoded", (json_int_t)m->frames_encoded, "keyFramesEncoded", (json_int_t)m->keyframes_encoded,
      "framesDecoded", (json_int_t)m->frames_decoded, "decodeErrors", (json_int_t)m->decode_errors,
      "stampsRead", (json_int_t)m->stamps_read, "stampErrors", (json_int_t)m->stamp_errors,
      "stampsOutOfOrder", (json_int_t)m->stamps_out_of_order, "frameWidth", m->width_in, "frameHeight",
      m->height_in, "glassToGlassP50Ms", (json_int_t)p50, "glassToGlassP95Ms", (json_int_t)p95,
      "maxFrameGapMs", (json_int_t)m->max_gap_ms, "freezeCount", (json_int_t)m->freezes));
  struct mc_ajb_stats js;
  mc_ajb_get_stats(m->ajb, &js);
  json_object_set_new(root, "audio", json_pack("{s:I, s:I, s:f, s:f, s:I, s:I, s:I, s:I, s:i, s:I}", "packetsSent",
      (json_int_t)m->audio_packets_sent, "packetsReceived", (json_int_t)m->audio_packets_received,
      "dominantHz", hz, "dominantPower", power, "framesPlayed", (json_int_t)m->frames_played,
      "concealedFrames", (json_int_t)m->frames_concealed, "fecFrames", (json_int_t)m->frames_fec,
      "jitterBufferDropped", (json_int_t)js.dropped, "jitterBufferTargetMs", (int)js.target_ms,
      "latePackets", (json_int_t)js.late));
}

static void on_closed(uv_handle_t *h) {
  struct call_media *m = h->data;
  if (--m->open_handles > 0) return;
  mc_pattern_free(m->pattern);
  mc_y4m_free(m->y4m);
  mc_i420_free(&m->scaled);
  mc_vp8_encoder_free(m->venc);
  mc_opus_encoder_free(m->aenc);
  mc_wav_free(m->wav);
  mc_camera_free(m->cam);
  mc_mic_free(m->mic);
  mc_apm_free(m->apm);
  mc_speaker_free(m->spk);
  mc_vp8_decoder_free(m->vdec);
  mc_opus_decoder_free(m->adec);
  mc_ajb_free(m->ajb);
  free(m->latencies);
  free(m->audio);
  free(m);
}

void call_media_free(struct call_media *m) {
  if (!m || m->closing) return;
  m->closing = true;
  uv_close((uv_handle_t *)&m->vtimer, on_closed);
  uv_close((uv_handle_t *)&m->atimer, on_closed);
  uv_close((uv_handle_t *)&m->ptimer, on_closed);
}
