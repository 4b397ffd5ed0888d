/* media: raw frames, synthetic and file sources, and the codecs (libvpx VP8,
 * libopus). No threads, no sockets and no clock here: the caller owns timing
 * (it passes frame indexes, presentation times and stamp values in), so each
 * piece can run on whichever thread the call gives it (video encode, video
 * decode, audio worker; see ARCHITECTURE.md "Threads"). One handle is used by
 * one thread at a time.
 *
 *   video out: mc_pattern_frame / mc_y4m_next -> mc_vp8_encoder_encode -> rtp
 *   video in:  rtp -> mc_vp8_decoder_decode -> sink; mc_stamp_read for tests
 *   audio out: mc_tone_next / mc_wav_read -> mc_opus_encoder_encode -> rtp
 *   audio in:  rtp -> mc_opus_decoder_decode | _decode_fec | _conceal -> sink
 *
 * Every function that can fail returns 0 or a negative MC_E* code. Functions
 * that open files take an optional `why` buffer (may be NULL) that receives
 * one sentence for a person saying what is wrong and what to do. */
#ifndef MC_MEDIA_H
#define MC_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

#define MC_MEDIA_MAX_DIM 8192   /* widest/tallest frame any source or codec accepts */
#define MC_MEDIA_WHY_MAX 256    /* size of a `why` buffer */

/* ---- I420 frames ---- */

/* 8-bit 4:2:0 planar. Chroma planes are ((width+1)/2) x ((height+1)/2).
 * A frame either owns its planes (mc_i420_alloc, free with mc_i420_free) or
 * is a view of someone else's memory (owned == NULL; e.g. a decoder output,
 * valid until the next call on that decoder). */
struct mc_i420 {
  int width, height;
  int stride_y, stride_u, stride_v;
  uint8_t *y, *u, *v;
  void *owned; /* the allocation behind y/u/v, or NULL for a view */
};

/* Allocates planes with strides rounded up to 32 bytes and fills them
 * black (Y 16, U/V 128). 1 <= width, height <= MC_MEDIA_MAX_DIM. */
int mc_i420_alloc(struct mc_i420 *f, int width, int height);
/* Frees owned planes and zeroes *f; a view is just zeroed. NULL is fine. */
void mc_i420_free(struct mc_i420 *f);
/* Copies pixels between two frames of the same size. */
int mc_i420_copy(const struct mc_i420 *src, struct mc_i420 *dst);
/* Scales src into dst (whatever their sizes) with libyuv's box filter. */
int mc_i420_scale(const struct mc_i420 *src, struct mc_i420 *dst);

/* ---- the stamp: capture time in pixels (issue 5 item 1) ----
 * A row of MC_STAMP_BITS equal squares across the top of the frame, bit 0
 * leftmost; white (Y 235) = 1, black (Y 16) = 0, chroma neutral (128) under
 * it. Bits 0-31: the capture wall-clock time in ms modulo 2^32, most
 * significant bit first. Bits 32-39: the XOR of those four bytes. The
 * browser test pages draw the same stamp.
 *
 * Square side s = width / 40 (integer division), both wide and high: the
 * stamp covers columns 0 .. 40*s-1 and rows 0 .. s-1. When width is not a
 * multiple of 40 the last width % 40 columns of those rows are left as they
 * were (a reader computes the same s from the same width, so both agree).
 * Needs s >= 2 (width >= 80) and height >= s; else MC_EINVAL.
 * The reader averages the middle half of each square and thresholds at
 * mid-grey (Y 128), so it survives codec blur and ringing at the edges. */
#define MC_STAMP_BITS 40
int mc_stamp_write(struct mc_i420 *f, uint32_t wall_ms);
/* MC_EPARSE when the checksum does not match (no stamp, or damaged);
 * MC_EINVAL when the frame is too small to carry one. */
int mc_stamp_read(const struct mc_i420 *f, uint32_t *wall_ms);
/* The 8-bit checksum of a time value (XOR of its four bytes). */
uint8_t mc_stamp_checksum(uint32_t wall_ms);

/* ---- synthetic pattern source ----
 * Moving diagonal colour bars, a horizontal luma gradient scrolling
 * sideways and a bouncing box with a noisy texture, so the encoder has real
 * motion to code; the stamp on top. Pixels depend only on the frame index,
 * the size and the frame rate (deterministic). */
struct mc_pattern_config {
  int width, height; /* even is best for I420; odd works */
  int fps;           /* frames per second, 1..240: sets the speed of motion */
};
typedef struct mc_pattern mc_pattern;
int mc_pattern_new(const struct mc_pattern_config *config, mc_pattern **out);
/* Draws frame `index` with stamp value wall_ms; *out points into the
 * pattern and stays valid until the next call or mc_pattern_free. */
int mc_pattern_frame(mc_pattern *p, uint64_t index, uint32_t wall_ms, const struct mc_i420 **out);
void mc_pattern_free(mc_pattern *p);

/* ---- Y4M file source (4:2:0 8-bit only) ----
 * Header "YUV4MPEG2" with W, H (required), F (default 30:1), C (420,
 * 420jpeg, 420paldv, 420mpeg2 or absent; anything else refused), I and A
 * and X ignored; then "FRAME[ params]\n" + exactly one frame of planes per
 * frame. The whole file is checked at open (truncated frames, bad FRAME
 * lines, sizes that do not add up: MC_EPARSE); frames are then read
 * sequentially and loop back to the first at the end. */
struct mc_y4m_info {
  int width, height;
  int fps_num, fps_den;
  uint64_t frames;
};
typedef struct mc_y4m mc_y4m;
int mc_y4m_open(const char *path, mc_y4m **out, char *why, size_t why_cap);
/* The same over bytes in memory (copied); the fuzz target's entry point. */
int mc_y4m_open_mem(const uint8_t *buf, size_t len, mc_y4m **out, char *why, size_t why_cap);
void mc_y4m_get_info(const mc_y4m *y, struct mc_y4m_info *info);
/* The next frame (looping). *out stays valid until the next call. MC_EIO if
 * the file changed under us. */
int mc_y4m_next(mc_y4m *y, const struct mc_i420 **out);
void mc_y4m_free(mc_y4m *y);

/* ---- audio constants (Opus at 48 kHz, 20 ms frames) ---- */
#define MC_AUDIO_RATE 48000
#define MC_AUDIO_FRAME 960            /* samples per channel in 20 ms */
#define MC_AUDIO_MAX_CHANNELS 2
#define MC_OPUS_MAX_PACKET 1500       /* bytes: fits one RTP packet */
#define MC_OPUS_MAX_FRAME 5760        /* samples per channel of the longest Opus packet (120 ms) */

/* ---- WAV file source (PCM 16-bit, 48 kHz, mono or stereo) ----
 * RIFF/WAVE with a "fmt " chunk (PCM, or WAVE_FORMAT_EXTENSIBLE carrying
 * PCM) and a "data" chunk; other chunks skipped. Chunk sizes are checked
 * against the bytes present: a lying or truncated file is MC_EPARSE. Other
 * rates, sample formats or channel counts are MC_EINVAL with a sentence
 * saying how to convert the file. The samples are loaded (files up to
 * 256 MiB) and read in a loop. */
typedef struct mc_wav mc_wav;
int mc_wav_open(const char *path, mc_wav **out, char *why, size_t why_cap);
int mc_wav_open_mem(const uint8_t *buf, size_t len, mc_wav **out, char *why, size_t why_cap);
int mc_wav_channels(const mc_wav *w);
uint64_t mc_wav_frames(const mc_wav *w); /* sample frames in the file */
/* Fills pcm with `frames` interleaved sample frames, wrapping to the start
 * at the end of the file. */
void mc_wav_read(mc_wav *w, int16_t *pcm, size_t frames);
void mc_wav_free(mc_wav *w);

/* ---- tone source and detector ---- */
struct mc_tone {
  double phase, step; /* radians */
  double amplitude;   /* peak, in int16 units */
  int channels;
};
/* A sine at hz (1 .. 20000) at 48 kHz; amplitude 0..1 of full scale
 * (0 means 0.25). Same samples in every channel. */
int mc_tone_init(struct mc_tone *t, double hz, int channels, double amplitude);
/* Writes MC_AUDIO_FRAME interleaved sample frames (20 ms). */
void mc_tone_next(struct mc_tone *t, int16_t *pcm);
/* Goertzel power of `hz` in the first channel of interleaved pcm at
 * MC_AUDIO_RATE, Hann-windowed, normalised so a full-scale sine gives about
 * 0.25 (amplitude^2 / 4 relative to full scale). */
double mc_tone_power(const int16_t *pcm, size_t frames, int channels, double hz);
/* The strongest frequency between lo_hz and hi_hz (coarse 5 Hz scan, then
 * refined to 0.25 Hz). Resolution needs frames >= MC_AUDIO_RATE / 5. */
double mc_tone_dominant(const int16_t *pcm, size_t frames, int channels, double lo_hz, double hi_hz,
                        double *power);

/* ---- time stretching of decoded speech (stretch.c) ----
 * The jitter buffer grows or shrinks its delay by one pitch period at a
 * time, WSOLA-style as WebRTC's NetEq does (preemptive expand, accelerate):
 * the lag (2.5-15 ms) where the signal best matches itself, by normalised
 * cross-correlation, is repeated or left out, joined by a linear crossfade
 * over one period, so nothing is concealed or skipped and the pitch is
 * kept. Done when the two periods joined correlate over 0.9, or the audio
 * is quiet (under about -36 dBFS); loud noise-like audio is left alone
 * (the caller tries again on the next frame). 48 kHz mono; at most 30 ms of
 * history and 60 ms of new samples are looked at. out must not overlap x. */
#define MC_STRETCH_MIN_LAG 120 /* 2.5 ms: a 400 Hz voice */
#define MC_STRETCH_MAX_LAG 720 /* 15 ms: 67 Hz */
/* x: `hist` samples already played (read only) then n new ones. out (room
 * for n + MC_STRETCH_MAX_LAG) gets the new samples with the period before
 * them played once more; returns the samples added (0: out is a copy of the
 * new samples). Needs a period of history and of new samples. */
size_t mc_stretch_slower(const int16_t *x, size_t hist, size_t n, int16_t *out);
/* x: `hist` samples already played, then n not played yet. out (room for
 * n) gets those with one period left out; returns the samples removed (0:
 * a copy). Needs two periods not played. */
size_t mc_stretch_faster(const int16_t *x, size_t hist, size_t n, int16_t *out);

/* ---- VP8 (libvpx) ---- */
struct mc_vp8_encoder_config {
  int width, height;   /* 16..MC_MEDIA_MAX_DIM */
  int fps;             /* 1..240 */
  int bitrate_kbps;    /* target, CBR */
  int threads;         /* 0: MC_VP8_THREADS_DEFAULT */
  int cpu_used;        /* 0: MC_VP8_CPU_USED_DEFAULT; VP8E_SET_CPUUSED range -16..16 */
  int kf_max_dist;     /* 0: MC_VP8_KF_MAX_DIST_DEFAULT frames between forced keyframes */
  bool allow_frame_drop; /* let rate control skip frames under pressure (WebRTC does, 30%) */
};
/* 1 thread: libvpx's VP8 row threads synchronise by spinning, and on a
 * 2-core laptop whose other core runs decode, audio and the network,
 * threads=2 cost 1.4x to 50x the CPU per frame of threads=1 and gave p95
 * encode times of 100-250 ms (bench/codec_time -t 2, machine under load),
 * while one thread encodes 720p in 5-8 ms (p50). WebRTC also gives VP8 one
 * thread below 3 cores. */
#define MC_VP8_THREADS_DEFAULT 1
/* -8: negative selects a fixed speed instead of libvpx's adaptive one,
 * which reacts to the other helper threads of a shared 2-core laptop by
 * oscillating. At 8 one core encodes 720p in 5-8 ms of the 33 ms
 * frame interval and holds the target rate; -6 was no faster here, and -12
 * overshot a 1.5 Mbit/s target by 65% at 720p (bench/codec_time -c). */
#define MC_VP8_CPU_USED_DEFAULT (-8)
/* Keyframes come on request (PLI/FIR, start): a periodic one every 3000
 * frames (100 s at 30 fps) is only a backstop. */
#define MC_VP8_KF_MAX_DIST_DEFAULT 3000

struct mc_encoded_frame {
  const uint8_t *data; /* one VP8 frame (single partition); valid until the next encode */
  size_t len;          /* 0 when rate control dropped the frame */
  bool keyframe;
  int64_t pts_90k;
};

typedef struct mc_vp8_encoder mc_vp8_encoder;
int mc_vp8_encoder_new(const struct mc_vp8_encoder_config *config, mc_vp8_encoder **out);
/* Encodes one frame (its size must be the configured one: MC_EINVAL
 * otherwise) with presentation time pts_90k (90 kHz, the RTP clock).
 * real-time deadline, no lag: the output is this frame. */
int mc_vp8_encoder_encode(mc_vp8_encoder *e, const struct mc_i420 *in, int64_t pts_90k,
                          struct mc_encoded_frame *out);
/* The next encoded frame is a keyframe (answer to PLI/FIR). */
void mc_vp8_encoder_request_keyframe(mc_vp8_encoder *e);
int mc_vp8_encoder_set_bitrate(mc_vp8_encoder *e, int kbps);
int mc_vp8_encoder_set_framerate(mc_vp8_encoder *e, int fps);
/* Re-initialises the encoder at the new size; the next frame is a keyframe. */
int mc_vp8_encoder_set_resolution(mc_vp8_encoder *e, int width, int height);
void mc_vp8_encoder_free(mc_vp8_encoder *e);

typedef struct mc_vp8_decoder mc_vp8_decoder;
/* threads: 0 means 1 (decode runs on its own thread already). Error
 * concealment is off: a damaged frame is an error, never a smeared picture. */
int mc_vp8_decoder_new(int threads, mc_vp8_decoder **out);
/* Decodes one whole VP8 frame. On success *out is a view valid until the
 * next call (or *got is false when libvpx produced no picture). MC_EPARSE for
 * corrupt input or a delta frame without its reference (the caller should
 * ask for a keyframe). */
int mc_vp8_decoder_decode(mc_vp8_decoder *d, const uint8_t *buf, size_t len, struct mc_i420 *out,
                          bool *got);
void mc_vp8_decoder_free(mc_vp8_decoder *d);
/* true when the bytes start a VP8 keyframe (RFC 6386 9.1: P bit clear and
 * start code 9d 01 2a). */
bool mc_vp8_is_keyframe(const uint8_t *buf, size_t len);

/* ---- Opus (libopus, 48 kHz, 20 ms) ---- */
struct mc_opus_encoder_config {
  int channels;      /* 1 or 2 */
  int bitrate_bps;   /* 0: 32000 mono, 64000 stereo */
  int loss_pct;      /* expected packet loss for in-band FEC, 0..100; 0 means 10 */
  int complexity;    /* 0: 9; 1..10 */
  bool disable_fec;  /* in-band FEC is on unless set */
  bool disable_dtx;  /* DTX is on unless set */
};
typedef struct mc_opus_encoder mc_opus_encoder;
int mc_opus_encoder_new(const struct mc_opus_encoder_config *config, mc_opus_encoder **out);
/* Encodes MC_AUDIO_FRAME interleaved sample frames. With DTX a silent frame
 * gives a packet of 1-2 bytes (*len <= 2): the caller need not send those
 * (RFC 7587 3.1.3 DTX). MC_ETOOBIG if cap is too small. */
int mc_opus_encoder_encode(mc_opus_encoder *e, const int16_t *pcm, uint8_t *out, size_t cap, size_t *len);
int mc_opus_encoder_set_bitrate(mc_opus_encoder *e, int bps);
int mc_opus_encoder_set_loss_pct(mc_opus_encoder *e, int pct);
void mc_opus_encoder_free(mc_opus_encoder *e);

typedef struct mc_opus_decoder mc_opus_decoder;
int mc_opus_decoder_new(int channels, mc_opus_decoder **out);
/* Decodes one packet into pcm (room for cap_frames sample frames per
 * channel, interleaved; MC_OPUS_MAX_FRAME always fits). *frames gets the
 * sample frames written. MC_EPARSE for a corrupt packet. */
int mc_opus_decoder_decode(mc_opus_decoder *d, const uint8_t *pkt, size_t len, int16_t *pcm,
                           size_t cap_frames, size_t *frames);
/* The packet before `next_pkt` was lost: rebuilds it (MC_AUDIO_FRAME sample
 * frames) from next_pkt's in-band FEC, or by concealment if next_pkt has
 * none. Then decode next_pkt itself normally. */
int mc_opus_decoder_decode_fec(mc_opus_decoder *d, const uint8_t *next_pkt, size_t len, int16_t *pcm,
                               size_t cap_frames, size_t *frames);
/* A packet was lost and the next is not here yet: packet loss concealment
 * for MC_AUDIO_FRAME sample frames. */
int mc_opus_decoder_conceal(mc_opus_decoder *d, int16_t *pcm, size_t cap_frames, size_t *frames);
void mc_opus_decoder_free(mc_opus_decoder *d);

/* ======================================================================
 * Devices (camera.c, audio_io.c, apm.c, video_sink.c): a V4L2 camera
 * through libv4l2, microphone and speakers through SDL2 audio, echo
 * cancellation and noise suppression with speexdsp, and an SDL2 window.
 * Unlike the pieces above these touch hardware and, for audio, SDL's own
 * callback thread; each handle is still used by one caller thread at a
 * time. Opening functions take the same optional `why` buffer.
 * ====================================================================== */

/* ---- camera frames to I420 ----
 * V4L2 fourccs (V4L2_PIX_FMT_*) of the layouts we convert with libyuv. */
#define MC_FOURCC(a, b, c, d) \
  ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define MC_FOURCC_YUYV MC_FOURCC('Y', 'U', 'Y', 'V') /* packed 4:2:2 */
#define MC_FOURCC_MJPEG MC_FOURCC('M', 'J', 'P', 'G')
#define MC_FOURCC_NV12 MC_FOURCC('N', 'V', '1', '2')
#define MC_FOURCC_I420 MC_FOURCC('Y', 'U', '1', '2') /* V4L2_PIX_FMT_YUV420 */
/* true for the four above. */
bool mc_camera_fourcc_supported(uint32_t fourcc);
/* "YUYV", "MJPG", ...: the fourcc as text (buf of 5 bytes at least). */
const char *mc_fourcc_str(uint32_t fourcc, char buf[5]);
/* Converts one captured image (width x height, `stride` bytes per line of
 * the first plane, 0 for packed) into dst, which must already be allocated
 * at width x height. MC_EPARSE when len is too short for the layout or the
 * JPEG does not decode; MC_EINVAL for another fourcc or a size mismatch. */
int mc_camera_convert(uint32_t fourcc, const uint8_t *buf, size_t len, int width, int height, int stride,
                      struct mc_i420 *dst);

/* ---- V4L2 camera (libv4l2) ---- */
#define MC_CAMERA_MAX 16
#define MC_CAMERA_MAX_FORMATS 8
#define MC_CAMERA_MAX_SIZES 12
struct mc_camera_format {
  uint32_t fourcc;
  bool emulated; /* converted by libv4l, not sent by the device */
  int nsizes;    /* discrete sizes; a stepwise range is given as min and max */
  struct { int width, height; } sizes[MC_CAMERA_MAX_SIZES];
};
struct mc_camera_info {
  char path[32];  /* /dev/videoN */
  char name[64];  /* the driver's card name */
  int nformats;
  struct mc_camera_format formats[MC_CAMERA_MAX_FORMATS];
};
/* Lists /dev/video* nodes that capture video (metadata nodes skipped), in
 * number order; *count may be 0. Busy devices are listed by name when the
 * driver answers VIDIOC_QUERYCAP. */
int mc_camera_list(struct mc_camera_info *out, size_t cap, size_t *count);

struct mc_camera_config {
  const char *device; /* NULL: /dev/video0 */
  int width, height;  /* wanted; the driver picks the nearest it has */
  int fps;            /* wanted; 0: 30 */
};
typedef struct mc_camera mc_camera;
/* Opens, chooses a format (native YUYV/NV12/I420 up to 640x480, MJPEG above
 * when the device has it, else what libv4l can convert), sets the size and
 * frame rate and starts mmap streaming. MC_ENOTFOUND: no such device or not
 * a camera; MC_EIO: busy or failing; the sentence says which ("no camera at
 * /dev/video0", "the camera /dev/video0 is busy (another program uses it)")
 * so the call can go on audio-only. */
int mc_camera_open(const struct mc_camera_config *config, mc_camera **out, char *why, size_t why_cap);
/* The size, rate and fourcc the driver granted. */
void mc_camera_get_format(const mc_camera *c, int *width, int *height, int *fps, uint32_t *fourcc);
/* A file descriptor to poll for readability (a frame is ready). */
int mc_camera_fd(const mc_camera *c);
/* Non-blocking: takes the newest filled buffer (older ones go straight
 * back to the driver), converts it to I420 and sets *out to a view valid
 * until the next call; *got is false when no new frame is ready. MC_EIO
 * when the device went away (unplugged). */
int mc_camera_read(mc_camera *c, struct mc_i420 *out, bool *got);
/* Frames converted, frames skipped for a newer one, conversion failures. */
void mc_camera_get_counts(const mc_camera *c, uint64_t *frames, uint64_t *skipped, uint64_t *bad);
void mc_camera_free(mc_camera *c);

/* ---- microphone and speakers (SDL2 audio) ----
 * 48 kHz S16 interleaved, MC_AUDIO_FRAME (20 ms) frames on our side. SDL's
 * callback thread only copies samples into or out of a bounded
 * single-producer single-consumer ring; when the device runs at another
 * rate or channel count the caller's side converts with SDL_AudioStream. */
#define MC_AUDIO_NAME_MAX 128
/* The names of SDL's capture (or playback) devices; *count may be 0.
 * MC_EIO with a sentence when SDL audio cannot start at all. */
int mc_audio_list(bool capture, char (*names)[MC_AUDIO_NAME_MAX], size_t cap, size_t *count, char *why,
                  size_t why_cap);
/* The SDL audio driver started by the last mc_audio_list or open
 * ("pulseaudio", "pipewire", "alsa", "disk", ...), or "" before any. Not
 * thread-safe: for messages and tests. */
const char *mc_audio_driver(void);
/* Starts SDL audio and keeps it started until mc_audio_release, so that
 * devices opened and closed in between neither probe the sound system
 * again nor wait for it to stop (SDL's ALSA driver stops a hot-plug thread
 * that looks every 100 ms). Each open still needs its own call. MC_EIO with
 * a sentence when no driver starts. Call from one thread at a time, as
 * every function here that opens or closes a device. */
int mc_audio_hold(char *why, size_t why_cap);
void mc_audio_release(void);

struct mc_audio_config {
  const char *device; /* an SDL device name; NULL: the default device */
  int channels;       /* 1 or 2; 0: 1 */
  int device_rate;    /* rate to ask the device for; 0: 48000 (tests use others) */
  int buffer_ms;      /* ring size; 0: 200 */
};
struct mc_audio_stats {
  int device_rate, device_channels; /* what SDL granted */
  uint64_t frames;         /* 20 ms frames delivered (mic) or accepted (speaker) */
  uint64_t underruns;      /* speaker: callbacks that found too few samples */
  uint64_t silence_samples;/* speaker: sample frames of silence played for them */
  uint64_t dropped_samples;/* ring full: mic samples lost, speaker samples refused */
};

typedef struct mc_mic mc_mic;
int mc_mic_open(const struct mc_audio_config *config, mc_mic **out, char *why, size_t why_cap);
/* Non-blocking: one 20 ms frame (MC_AUDIO_FRAME x channels samples) into
 * pcm when that much has been captured; *got false otherwise. */
int mc_mic_read(mc_mic *m, int16_t *pcm, bool *got);
/* Captured audio waiting to be read, in ms. */
int mc_mic_queued_ms(mc_mic *m);
void mc_mic_get_stats(mc_mic *m, struct mc_audio_stats *st);
void mc_mic_free(mc_mic *m);

typedef struct mc_speaker mc_speaker;
/* The device starts playing once 40 ms are queued; until then, and
 * whenever the queue runs dry, it plays silence (counted). */
int mc_speaker_open(const struct mc_audio_config *config, mc_speaker **out, char *why, size_t why_cap);
/* Queues one 20 ms frame. MC_ETOOBIG (frame dropped, counted) when the ring
 * is full: the caller is ahead of the device clock. */
int mc_speaker_write(mc_speaker *s, const int16_t *pcm);
/* Audio queued but not yet handed to the device, in ms: the playout delay
 * to add to the device's own when aligning the echo reference. */
int mc_speaker_queued_ms(mc_speaker *s);
void mc_speaker_get_stats(mc_speaker *s, struct mc_audio_stats *st);
void mc_speaker_free(mc_speaker *s);

/* ---- echo cancellation and noise suppression (speexdsp) ----
 * Mono, 48 kHz, 20 ms frames (processed as two 10 ms halves). */
struct mc_apm_config {
  int tail_ms;          /* longest echo path to cancel; 0: 200 */
  bool no_denoise;      /* noise suppression is on unless set */
  int noise_suppress_db;/* 0: -15 (speex's default is -15 dB) */
};
typedef struct mc_apm mc_apm;
int mc_apm_new(const struct mc_apm_config *config, mc_apm **out);
/* near: the captured frame; far: the frame the speakers played while it
 * was captured (NULL when nothing played: then only noise suppression).
 * out may be near. */
int mc_apm_process(mc_apm *a, const int16_t *near, const int16_t *far, int16_t *out);
void mc_apm_free(mc_apm *a);

/* ---- video window (SDL2) ---- */
struct mc_rect { int x, y, w, h; };
/* Where a src_w x src_h picture goes in an out_w x out_h output keeping
 * its aspect ratio: centred, bars left/right or top/bottom. */
void mc_letterbox(int src_w, int src_h, int out_w, int out_h, struct mc_rect *r);

struct mc_video_sink_config {
  const char *title;  /* NULL: "medcall" */
  int width, height;  /* window size in screen coordinates; 0: 640x480 */
  bool resizable;
  bool hidden;
};
typedef struct mc_video_sink mc_video_sink;
/* Creates a window (SDL_WINDOW_ALLOW_HIGHDPI) and a renderer (accelerated,
 * else software). Every call on a sink must come from the thread that
 * created it (SDL video). MC_EIO with a sentence when there is no display. */
int mc_video_sink_new(const struct mc_video_sink_config *config, mc_video_sink **out, char *why,
                      size_t why_cap);
/* Uploads f to an IYUV texture (re-created when the size changes) and
 * presents it letterboxed in the renderer's output (pixels, not points). */
int mc_video_sink_show(mc_video_sink *s, const struct mc_i420 *f);
/* Handles window events; *closed becomes true when the user closed it. */
void mc_video_sink_poll(mc_video_sink *s, bool *closed);
/* The renderer's output size in pixels (differs from the window size on
 * HiDPI screens). */
void mc_video_sink_output_size(mc_video_sink *s, int *w, int *h);
/* Draws the last frame again and reads the output back as I420 into out
 * (allocated here at the output size; free with mc_i420_free). For tests. */
int mc_video_sink_read_back(mc_video_sink *s, struct mc_i420 *out);
void mc_video_sink_free(mc_video_sink *s);

#endif
