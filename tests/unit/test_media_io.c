/* Unit tests for the device side of src/media: camera formats to I420
 * (YUYV, NV12, I420 with padding, MJPEG) on synthetic buffers, camera
 * errors without a camera, speakers and microphone through SDL's disk
 * audio driver (at 48 kHz and resampled from/to 44.1 kHz), echo
 * cancellation with speexdsp, and the SDL video window under the dummy
 * driver and under Xvfb, read back pixel for pixel through the stamp. */
#include <errno.h>
#include <libyuv.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SDL.h>

#include "check.h"
#include "media/media.h"
#include "util/util.h"

static char tmpdir[64];

/* A 64x32 JPEG (YCbCr 4:2:0, quality 95) made with libjpeg: four 16-pixel
 * bars with Y 40, 100, 160, 220; Cb/Cr 128/128 on the left half and
 * 90/200 on the right half. libyuv can decode but not encode JPEG. */
static const uint8_t test_jpeg[683] = {
    0xff,0xd8,0xff,0xe0,0x00,0x10,0x4a,0x46,0x49,0x46,0x00,0x01,0x01,0x00,0x00,0x01,
    0x00,0x01,0x00,0x00,0xff,0xdb,0x00,0x43,0x00,0x02,0x01,0x01,0x01,0x01,0x01,0x02,
    0x01,0x01,0x01,0x02,0x02,0x02,0x02,0x02,0x04,0x03,0x02,0x02,0x02,0x02,0x05,0x04,
    0x04,0x03,0x04,0x06,0x05,0x06,0x06,0x06,0x05,0x06,0x06,0x06,0x07,0x09,0x08,0x06,
    0x07,0x09,0x07,0x06,0x06,0x08,0x0b,0x08,0x09,0x0a,0x0a,0x0a,0x0a,0x0a,0x06,0x08,
    0x0b,0x0c,0x0b,0x0a,0x0c,0x09,0x0a,0x0a,0x0a,0xff,0xdb,0x00,0x43,0x01,0x02,0x02,
    0x02,0x02,0x02,0x02,0x05,0x03,0x03,0x05,0x0a,0x07,0x06,0x07,0x0a,0x0a,0x0a,0x0a,
    0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,
    0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,
    0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0x0a,0xff,0xc0,
    0x00,0x11,0x08,0x00,0x20,0x00,0x40,0x03,0x01,0x22,0x00,0x02,0x11,0x01,0x03,0x11,
    0x01,0xff,0xc4,0x00,0x1f,0x00,0x00,0x01,0x05,0x01,0x01,0x01,0x01,0x01,0x01,0x00,
    0x00,0x00,0x00,0x00,0x00,0x00,0x00,0x01,0x02,0x03,0x04,0x05,0x06,0x07,0x08,0x09,
    0x0a,0x0b,0xff,0xc4,0x00,0xb5,0x10,0x00,0x02,0x01,0x03,0x03,0x02,0x04,0x03,0x05,
    0x05,0x04,0x04,0x00,0x00,0x01,0x7d,0x01,0x02,0x03,0x00,0x04,0x11,0x05,0x12,0x21,
    0x31,0x41,0x06,0x13,0x51,0x61,0x07,0x22,0x71,0x14,0x32,0x81,0x91,0xa1,0x08,0x23,
    0x42,0xb1,0xc1,0x15,0x52,0xd1,0xf0,0x24,0x33,0x62,0x72,0x82,0x09,0x0a,0x16,0x17,
    0x18,0x19,0x1a,0x25,0x26,0x27,0x28,0x29,0x2a,0x34,0x35,0x36,0x37,0x38,0x39,0x3a,
    0x43,0x44,0x45,0x46,0x47,0x48,0x49,0x4a,0x53,0x54,0x55,0x56,0x57,0x58,0x59,0x5a,
    0x63,0x64,0x65,0x66,0x67,0x68,0x69,0x6a,0x73,0x74,0x75,0x76,0x77,0x78,0x79,0x7a,
    0x83,0x84,0x85,0x86,0x87,0x88,0x89,0x8a,0x92,0x93,0x94,0x95,0x96,0x97,0x98,0x99,
    0x9a,0xa2,0xa3,0xa4,0xa5,0xa6,0xa7,0xa8,0xa9,0xaa,0xb2,0xb3,0xb4,0xb5,0xb6,0xb7,
    0xb8,0xb9,0xba,0xc2,0xc3,0xc4,0xc5,0xc6,0xc7,0xc8,0xc9,0xca,0xd2,0xd3,0xd4,0xd5,
    0xd6,0xd7,0xd8,0xd9,0xda,0xe1,0xe2,0xe3,0xe4,0xe5,0xe6,0xe7,0xe8,0xe9,0xea,0xf1,
    0xf2,0xf3,0xf4,0xf5,0xf6,0xf7,0xf8,0xf9,0xfa,0xff,0xc4,0x00,0x1f,0x01,0x00,0x03,
    0x01,0x01,0x01,0x01,0x01,0x01,0x01,0x01,0x01,0x00,0x00,0x00,0x00,0x00,0x00,0x01,
    0x02,0x03,0x04,0x05,0x06,0x07,0x08,0x09,0x0a,0x0b,0xff,0xc4,0x00,0xb5,0x11,0x00,
    0x02,0x01,0x02,0x04,0x04,0x03,0x04,0x07,0x05,0x04,0x04,0x00,0x01,0x02,0x77,0x00,
    0x01,0x02,0x03,0x11,0x04,0x05,0x21,0x31,0x06,0x12,0x41,0x51,0x07,0x61,0x71,0x13,
    0x22,0x32,0x81,0x08,0x14,0x42,0x91,0xa1,0xb1,0xc1,0x09,0x23,0x33,0x52,0xf0,0x15,
    0x62,0x72,0xd1,0x0a,0x16,0x24,0x34,0xe1,0x25,0xf1,0x17,0x18,0x19,0x1a,0x26,0x27,
    0x28,0x29,0x2a,0x35,0x36,0x37,0x38,0x39,0x3a,0x43,0x44,0x45,0x46,0x47,0x48,0x49,
    0x4a,0x53,0x54,0x55,0x56,0x57,0x58,0x59,0x5a,0x63,0x64,0x65,0x66,0x67,0x68,0x69,
    0x6a,0x73,0x74,0x75,0x76,0x77,0x78,0x79,0x7a,0x82,0x83,0x84,0x85,0x86,0x87,0x88,
    0x89,0x8a,0x92,0x93,0x94,0x95,0x96,0x97,0x98,0x99,0x9a,0xa2,0xa3,0xa4,0xa5,0xa6,
    0xa7,0xa8,0xa9,0xaa,0xb2,0xb3,0xb4,0xb5,0xb6,0xb7,0xb8,0xb9,0xba,0xc2,0xc3,0xc4,
    0xc5,0xc6,0xc7,0xc8,0xc9,0xca,0xd2,0xd3,0xd4,0xd5,0xd6,0xd7,0xd8,0xd9,0xda,0xe2,
    0xe3,0xe4,0xe5,0xe6,0xe7,0xe8,0xe9,0xea,0xf2,0xf3,0xf4,0xf5,0xf6,0xf7,0xf8,0xf9,
    0xfa,0xff,0xda,0x00,0x0c,0x03,0x01,0x00,0x02,0x11,0x03,0x11,0x00,0x3f,0x00,0xfc,
    0x9f,0xa2,0x8a,0x28,0x03,0xef,0x0a,0x28,0xa2,0x80,0x3e,0xf0,0xa2,0x8a,0x2b,0xf9,
    0x9c,0xff,0x00,0x48,0x0f,0xbc,0x28,0xa2,0x8a,0x00,0xfe,0x4b,0xe8,0xa2,0x8a,0xfe,
    0x98,0x3f,0xcd,0xf3,0xef,0x0a,0x28,0xa2,0x80,0x3e,0xf0,0xa2,0x8a,0x2b,0xf9,0x9c,
    0xff,0x00,0x48,0x0f,0xbc,0x28,0xa2,0x8a,0x00,0xff,0xd9,
};

static int max_plane_diff(const uint8_t *a, int sa, const uint8_t *b, int sb, int w, int h) {
  int m = 0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      int d = abs(a[y * sa + x] - b[y * sb + x]);
      if (d > m) m = d;
    }
  return m;
}

static int max_frame_diff(const struct mc_i420 *a, const struct mc_i420 *b) {
  int cw = (a->width + 1) / 2, ch = (a->height + 1) / 2;
  int m = max_plane_diff(a->y, a->stride_y, b->y, b->stride_y, a->width, a->height);
  int u = max_plane_diff(a->u, a->stride_u, b->u, b->stride_u, cw, ch);
  int v = max_plane_diff(a->v, a->stride_v, b->v, b->stride_v, cw, ch);
  return m > u ? (m > v ? m : v) : (u > v ? u : v);
}

static void test_convert(void) {
  const int w = 320, h = 240;
  mc_pattern *p = NULL;
  CHECK_EQ_INT(mc_pattern_new(&(struct mc_pattern_config){.width = w, .height = h, .fps = 30}, &p), 0);
  const struct mc_i420 *src = NULL;
  CHECK_EQ_INT(mc_pattern_frame(p, 7, 0xdeadbeefu, &src), 0);
  struct mc_i420 out;
  CHECK_EQ_INT(mc_i420_alloc(&out, w, h), 0);

  /* YUYV: I420 -> YUY2 repeats each chroma row, YUY2 -> I420 averages the
   * pair back: the picture returns exactly, stamp included. */
  size_t ylen = (size_t)w * 2 * h;
  uint8_t *yuyv = malloc(ylen);
  I420ToYUY2(src->y, src->stride_y, src->u, src->stride_u, src->v, src->stride_v, yuyv, w * 2, w, h);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_YUYV, yuyv, ylen, w, h, 0, &out), 0);
  CHECK(max_frame_diff(src, &out) <= 1);
  uint32_t stamp = 0;
  CHECK_EQ_INT(mc_stamp_read(&out, &stamp), 0);
  CHECK_EQ_INT(stamp, 0xdeadbeefu);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_YUYV, yuyv, ylen - 1, w, h, 0, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_YUYV, yuyv, ylen, w, h, w, &out), MC_EPARSE); /* stride too small */
  free(yuyv);

  /* NV12 with a padded stride (bytesperline 384 > 320) */
  int st = 384;
  size_t nlen = (size_t)st * h + (size_t)st * h / 2;
  uint8_t *nv12 = calloc(1, nlen);
  I420ToNV12(src->y, src->stride_y, src->u, src->stride_u, src->v, src->stride_v, nv12, st, nv12 + st * h, st, w, h);
  memset(out.y, 0, (size_t)out.stride_y * h);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_NV12, nv12, nlen, w, h, st, &out), 0);
  CHECK_EQ_INT(max_frame_diff(src, &out), 0);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_NV12, nv12, nlen - st + 100, w, h, st, &out), MC_EPARSE);
  free(nv12);

  /* I420 packed (stride 0) */
  size_t ilen = (size_t)w * h * 3 / 2;
  uint8_t *i420 = malloc(ilen);
  I420Copy(src->y, src->stride_y, src->u, src->stride_u, src->v, src->stride_v, i420, w, i420 + w * h, w / 2,
           i420 + w * h + w * h / 4, w / 2, w, h);
  memset(out.u, 0, (size_t)out.stride_u * h / 2);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_I420, i420, ilen, w, h, 0, &out), 0);
  CHECK_EQ_INT(max_frame_diff(src, &out), 0);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_I420, i420, ilen - 1, w, h, 0, &out), MC_EPARSE);
  /* wrong fourcc, wrong destination size */
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC('R', 'G', 'B', '3'), i420, ilen, w, h, 0, &out), MC_EINVAL);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_I420, i420, ilen, w, h - 2, 0, &out), MC_EINVAL);
  free(i420);
  mc_i420_free(&out);
  mc_pattern_free(p);

  /* MJPEG */
  CHECK_EQ_INT(mc_i420_alloc(&out, 64, 32), 0);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_MJPEG, test_jpeg, sizeof test_jpeg, 64, 32, 0, &out), 0);
  int worst = 0;
  for (int y = 0; y < 32; y++)
    for (int x = 0; x < 64; x++) {
      int want = 40 + 60 * (x / 16), d = abs(out.y[y * out.stride_y + x] - want);
      if (d > worst) worst = d;
    }
  CHECK(worst <= 4);
  CHECK(abs(out.u[4 * out.stride_u + 4] - 128) <= 3 && abs(out.v[4 * out.stride_v + 4] - 128) <= 3);
  CHECK(abs(out.u[4 * out.stride_u + 28] - 90) <= 3 && abs(out.v[4 * out.stride_v + 28] - 200) <= 3);
  /* a JPEG of another size, a truncated one and garbage are refused */
  struct mc_i420 big;
  CHECK_EQ_INT(mc_i420_alloc(&big, 128, 64), 0);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_MJPEG, test_jpeg, sizeof test_jpeg, 128, 64, 0, &big), MC_EPARSE);
  mc_i420_free(&big);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_MJPEG, test_jpeg, 100, 64, 32, 0, &out), MC_EPARSE);
  uint8_t junk[600];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
  CHECK_EQ_INT(mc_camera_convert(MC_FOURCC_MJPEG, junk, sizeof junk, 64, 32, 0, &out), MC_EPARSE);
  mc_i420_free(&out);

  char fb[5];
  CHECK_STR(mc_fourcc_str(MC_FOURCC_MJPEG, fb), "MJPG");
  CHECK(mc_camera_fourcc_supported(MC_FOURCC_NV12));
  CHECK(!mc_camera_fourcc_supported(MC_FOURCC('R', 'G', 'B', '3')));
}

static void test_camera_errors(void) {
  char why[MC_MEDIA_WHY_MAX] = "";
  mc_camera *c = (mc_camera *)1;
  CHECK_EQ_INT(mc_camera_open(&(struct mc_camera_config){.device = "/dev/video97", .width = 640, .height = 480},
                              &c, why, sizeof why),
               MC_ENOTFOUND);
  CHECK(c == NULL);
  CHECK_STR(why, "no camera at /dev/video97");
  /* a character device that is not a camera */
  why[0] = '\0';
  CHECK_EQ_INT(mc_camera_open(&(struct mc_camera_config){.device = "/dev/null"}, &c, why, sizeof why),
               MC_ENOTFOUND);
  CHECK(strstr(why, "no camera at /dev/null") != NULL);
  struct mc_camera_info infos[MC_CAMERA_MAX];
  size_t n = 99;
  CHECK_EQ_INT(mc_camera_list(infos, MC_CAMERA_MAX, &n), 0);
  CHECK(n <= MC_CAMERA_MAX);
  for (size_t i = 0; i < n; i++) CHECK(strncmp(infos[i].path, "/dev/video", 10) == 0);
}

/* ---- audio through SDL's disk driver ---- */

static int16_t *read_raw(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  int16_t *s = malloc((size_t)len + 2);
  *n = s ? fread(s, 1, (size_t)len, f) / 2 : 0;
  fclose(f);
  return s;
}

static size_t first_nonzero(const int16_t *s, size_t n) {
  size_t i = 0;
  while (i < n && s[i] == 0) i++;
  return i;
}

/* Plays 1 s of a 1000 Hz tone through the speakers (device at `rate`) and
 * finds it in the file SDL wrote. */
static void play_tone(int rate) {
  char path[128];
  snprintf(path, sizeof path, "%s/out%d.raw", tmpdir, rate);
  setenv("SDL_DISKAUDIOFILE", path, 1);
  char why[MC_MEDIA_WHY_MAX] = "";
  mc_speaker *s = NULL;
  int rc = mc_speaker_open(&(struct mc_audio_config){.channels = 1, .device_rate = rate}, &s, why, sizeof why);
  CHECK_EQ_INT(rc, 0);
  if (rc != 0) {
    fprintf(stderr, "speaker: %s\n", why);
    return;
  }
  CHECK_EQ_INT(strcmp(mc_audio_driver(), "disk"), 0);
  struct mc_tone t;
  mc_tone_init(&t, 1000, 1, 0.5);
  int16_t first[MC_AUDIO_FRAME], pcm[MC_AUDIO_FRAME];
  for (int i = 0; i < 50; i++) {
    mc_tone_next(&t, pcm);
    if (i == 0) memcpy(first, pcm, sizeof pcm);
    while (mc_speaker_queued_ms(s) > 100) SDL_Delay(2);
    CHECK_EQ_INT(mc_speaker_write(s, pcm), 0);
  }
  for (int i = 0; i < 5000 && mc_speaker_queued_ms(s) > 0; i++) SDL_Delay(2);
  /* the queue is empty: the device plays silence now, counted */
  struct mc_audio_stats st;
  mc_speaker_get_stats(s, &st);
  for (int i = 0; i < 5000 && st.underruns == 0; i++) {
    SDL_Delay(2);
    mc_speaker_get_stats(s, &st);
  }
  mc_speaker_free(s);
  CHECK_EQ_INT(st.device_rate, rate);
  CHECK_EQ_INT(st.frames, 50);
  CHECK(st.underruns >= 1 && st.silence_samples > 0);
  CHECK_EQ_INT(st.dropped_samples, 0);
  size_t n = 0;
  int16_t *raw = read_raw(path, &n);
  CHECK(raw != NULL);
  if (!raw) return;
  size_t at = first_nonzero(raw, n);
  /* the device started with 40 ms queued: the first frame is in the file as
   * it was written (at 48 kHz; resampled it cannot be) */
  CHECK(n >= at + (size_t)rate * 9 / 10);
  if (rate == 48000 && at > 0 && n >= at + MC_AUDIO_FRAME) {
    /* first sample of a 1000 Hz sine is 0: it is the one before `at` */
    CHECK_MEM(raw + at - 1, first, sizeof first);
  }
  if (n >= at + (size_t)rate / 2 + 4800) {
    double power = 0;
    /* read at 48 kHz, a tone played at another rate appears scaled */
    double hz = mc_tone_dominant(raw + at + 4800, (size_t)rate / 2, 1, 200, 4000, &power);
    double want = 1000.0 * MC_AUDIO_RATE / rate;
    fprintf(stderr, "speaker rate=%d: dominant %.2f Hz (want %.2f) power %.4f underruns=%llu\n", rate, hz, want,
            power, (unsigned long long)st.underruns);
    CHECK(fabs(hz - want) < 2);
    CHECK(power > 0.03);
  }
  free(raw);
}

/* Captures from a file holding 1 s of a tone at `rate` and finds it in the
 * 20 ms frames (at 48 kHz). */
static void capture_tone(int rate, double hz) {
  char path[128];
  snprintf(path, sizeof path, "%s/in%d.raw", tmpdir, rate);
  size_t n = (size_t)rate;
  int16_t *in = malloc(n * sizeof *in);
  for (size_t i = 0; i < n; i++) in[i] = (int16_t)lrint(8000 * sin(2 * M_PI * hz * (double)i / rate));
  FILE *f = fopen(path, "wb");
  fwrite(in, sizeof *in, n, f);
  fclose(f);
  setenv("SDL_DISKAUDIOFILEIN", path, 1);
  char why[MC_MEDIA_WHY_MAX] = "";
  mc_mic *m = NULL;
  int rc = mc_mic_open(&(struct mc_audio_config){.channels = 1, .device_rate = rate}, &m, why, sizeof why);
  CHECK_EQ_INT(rc, 0);
  if (rc != 0) {
    fprintf(stderr, "mic: %s\n", why);
    free(in);
    return;
  }
  enum { FRAMES = 40 };
  int16_t *got = malloc(FRAMES * MC_AUDIO_FRAME * sizeof *got);
  int frames = 0;
  /* bounded by iterations, not time: about 20 s at worst */
  for (int i = 0; i < 10000 && frames < FRAMES; i++) {
    bool ok = false;
    CHECK_EQ_INT(mc_mic_read(m, got + frames * MC_AUDIO_FRAME, &ok), 0);
    if (ok) frames++;
    else SDL_Delay(2);
  }
  struct mc_audio_stats st;
  mc_mic_get_stats(m, &st);
  mc_mic_free(m);
  CHECK_EQ_INT(frames, FRAMES);
  CHECK_EQ_INT(st.device_rate, rate);
  CHECK_EQ_INT(st.frames, FRAMES);
  if (rate == 48000) CHECK_MEM(got, in, MC_AUDIO_FRAME * sizeof *got); /* byte-exact */
  double power = 0;
  double found = mc_tone_dominant(got + 2 * MC_AUDIO_FRAME, 30 * MC_AUDIO_FRAME, 1, 200, 4000, &power);
  fprintf(stderr, "mic rate=%d: dominant %.2f Hz (want %.2f) power %.4f\n", rate, found, hz, power);
  CHECK(fabs(found - hz) < 1);
  CHECK(power > 0.01);
  free(got);
  free(in);
}

static void test_audio(void) {
  setenv("SDL_AUDIODRIVER", "disk", 1);
  unsetenv("SDL_DISKAUDIODELAY"); /* real-time pacing: the test reads like a caller would */
  char names[4][MC_AUDIO_NAME_MAX];
  size_t n = 99;
  CHECK_EQ_INT(mc_audio_list(false, names, 4, &n, NULL, 0), 0);
  CHECK(n <= 4);
  play_tone(48000);
  play_tone(44100);
  capture_tone(48000, 700);
  capture_tone(44100, 1000);
  /* capture without its file: a clear error */
  setenv("SDL_DISKAUDIOFILEIN", "/nonexistent/in.raw", 1);
  char why[MC_MEDIA_WHY_MAX] = "";
  mc_mic *m = NULL;
  CHECK(mc_mic_open(NULL, &m, why, sizeof why) < 0);
  CHECK(m == NULL && strstr(why, "microphone") != NULL);
  CHECK_EQ_INT(mc_mic_open(&(struct mc_audio_config){.channels = 3}, &m, why, sizeof why), MC_EINVAL);
}

/* ---- echo cancellation ---- */

/* near end: tone A (440 Hz) spoken in bursts; far end: tone B (1200 Hz)
 * coming back through the room 30 ms later and 6 dB weaker. Returns the
 * drop in dB of B and of A over the last talking second (6-7 s). */
static void apm_run(const struct mc_apm_config *cfg, bool syllables, double *b_drop, double *a_drop) {
  enum { SECONDS = 8, DELAY = 1440 };
  const double ha = 440, hb = 1200;
  *b_drop = *a_drop = 0;
  mc_apm *a = NULL;
  CHECK_EQ_INT(mc_apm_new(cfg, &a), 0);
  if (!a) return;
  size_t total = (size_t)SECONDS * MC_AUDIO_RATE;
  int16_t *far = calloc(total + DELAY, sizeof *far), *cap = calloc(total, sizeof *cap);
  int16_t *out = calloc(total, sizeof *out);
  uint32_t seed = 99;
  for (size_t i = 0; i < total + DELAY; i++)
    far[i] = (int16_t)lrint(9000 * sin(2 * M_PI * hb * (double)i / MC_AUDIO_RATE));
  for (size_t i = 0; i < total; i++) {
    double t = (double)i / MC_AUDIO_RATE;
    bool talking = (i / 24000) % 3 != 2; /* 1 s on, 0.5 s off */
    /* speech comes in syllables (about 3 a second), not as a steady tone */
    double env = syllables ? 0.6 + 0.4 * sin(2 * M_PI * 3 * t) : 1;
    seed = seed * 1664525u + 1013904223u;
    double noise = ((int)(seed >> 20) - 2048) / 2048.0 * 100; /* low room noise */
    double near = talking ? 6000 * env * sin(2 * M_PI * ha * t) : 0;
    cap[i] = (int16_t)lrint(near + noise + 0.5 * (i >= DELAY ? far[i - DELAY] : 0));
  }
  for (size_t i = 0; i < total; i += MC_AUDIO_FRAME) CHECK_EQ_INT(mc_apm_process(a, cap + i, far + i, out + i), 0);
  mc_apm_free(a);
  size_t from = 6 * (size_t)MC_AUDIO_RATE, len = MC_AUDIO_RATE;
  double b_in = mc_tone_power(cap + from, len, 1, hb), b_out = mc_tone_power(out + from, len, 1, hb);
  double a_in = mc_tone_power(cap + from, len, 1, ha), a_out = mc_tone_power(out + from, len, 1, ha);
  *b_drop = 10 * log10(b_in / (b_out + 1e-12));
  *a_drop = 10 * log10(a_in / (a_out + 1e-12));
  free(far);
  free(cap);
  free(out);
}

static void test_apm(void) {
  mc_apm *a = NULL;
  CHECK_EQ_INT(mc_apm_new(&(struct mc_apm_config){.tail_ms = 5}, &a), MC_EINVAL);
  CHECK_EQ_INT(mc_apm_new(&(struct mc_apm_config){.noise_suppress_db = 3}, &a), MC_EINVAL);
  CHECK(a == NULL);
  double b, n;
  apm_run(NULL, true, &b, &n);
  fprintf(stderr, "apm (cancel + denoise): far-end tone down %.1f dB, near-end speech-like tone down %.1f dB\n", b, n);
  CHECK(b >= 10);
  CHECK(n <= 3);
  /* the canceller alone leaves even a perfectly steady near-end tone */
  apm_run(&(struct mc_apm_config){.no_denoise = true}, false, &b, &n);
  fprintf(stderr, "apm (cancel only): far-end tone down %.1f dB, near-end steady tone down %.1f dB\n", b, n);
  CHECK(b >= 10);
  CHECK(n <= 1);
  /* without a far end nothing is cancelled: a lone near-end stays */
  CHECK_EQ_INT(mc_apm_new(&(struct mc_apm_config){.no_denoise = true}, &a), 0);
  struct mc_tone t;
  mc_tone_init(&t, 440, 1, 0.2);
  int16_t *buf = calloc(50 * MC_AUDIO_FRAME, sizeof *buf), *o = calloc(50 * MC_AUDIO_FRAME, sizeof *o);
  for (int i = 0; i < 50; i++) {
    mc_tone_next(&t, buf + i * MC_AUDIO_FRAME);
    CHECK_EQ_INT(mc_apm_process(a, buf + i * MC_AUDIO_FRAME, NULL, o + i * MC_AUDIO_FRAME), 0);
  }
  double pin = mc_tone_power(buf + 25 * MC_AUDIO_FRAME, 24000, 1, 440);
  double pout = mc_tone_power(o + 25 * MC_AUDIO_FRAME, 24000, 1, 440);
  CHECK(10 * log10(pin / pout) < 1);
  free(buf);
  free(o);
  mc_apm_free(a);
}

/* ---- the window ---- */

static void test_letterbox(void) {
  struct mc_rect r;
  mc_letterbox(640, 360, 640, 480, &r);
  CHECK(r.x == 0 && r.y == 60 && r.w == 640 && r.h == 360);
  mc_letterbox(480, 480, 640, 480, &r);
  CHECK(r.x == 80 && r.y == 0 && r.w == 480 && r.h == 480);
  mc_letterbox(1280, 720, 2560, 1440, &r); /* HiDPI output: scaled up */
  CHECK(r.x == 0 && r.y == 0 && r.w == 2560 && r.h == 1440);
  mc_letterbox(640, 480, 1000, 500, &r);
  CHECK(r.h == 500 && r.w == 667 && r.x == 166 && r.y == 0);
  mc_letterbox(0, 480, 100, 50, &r);
  CHECK(r.w == 100 && r.h == 50);
}

/* Every pixel of rows [y0, y1) and columns [x0, x1) is black (Y 16). */
static bool black(const struct mc_i420 *f, int x0, int y0, int x1, int y1) {
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      if (abs(f->y[y * f->stride_y + x] - 16) > 2) return false;
  for (int y = y0 / 2; y < y1 / 2; y++)
    for (int x = x0 / 2; x < x1 / 2; x++)
      if (abs(f->u[y * f->stride_u + x] - 128) > 2 || abs(f->v[y * f->stride_v + x] - 128) > 2) return false;
  return true;
}

static void window_pass(const char *driver) {
  setenv("SDL_VIDEODRIVER", driver, 1);
  char why[MC_MEDIA_WHY_MAX] = "";
  mc_video_sink *s = NULL;
  int rc = mc_video_sink_new(&(struct mc_video_sink_config){.width = 640, .height = 480}, &s, why, sizeof why);
  CHECK_EQ_INT(rc, 0);
  if (rc != 0) {
    fprintf(stderr, "window (%s): %s\n", driver, why);
    return;
  }
  int ow = 0, oh = 0;
  mc_video_sink_output_size(s, &ow, &oh);
  CHECK(ow == 640 && oh == 480);
  /* 16:9 into 4:3: bars above and below */
  mc_pattern *p = NULL;
  const struct mc_i420 *f = NULL;
  mc_pattern_new(&(struct mc_pattern_config){.width = 640, .height = 360, .fps = 30}, &p);
  const uint32_t stamps[] = {0x12345678u, 0x00000001u, 0xfedcba98u};
  for (size_t k = 0; k < MC_ARRAY_LEN(stamps); k++) {
    mc_pattern_frame(p, k, stamps[k], &f);
    CHECK_EQ_INT(mc_video_sink_show(s, f), 0);
    bool closed = true;
    mc_video_sink_poll(s, &closed);
    CHECK(!closed);
    struct mc_i420 back;
    CHECK_EQ_INT(mc_video_sink_read_back(s, &back), 0);
    if (back.width != 640 || back.height != 480) {
      CHECK(false);
      mc_i420_free(&back);
      continue;
    }
    struct mc_i420 pic = back;
    pic.owned = NULL;
    pic.height = 360;
    pic.y += 60 * back.stride_y;
    pic.u += 30 * back.stride_u;
    pic.v += 30 * back.stride_v;
    uint32_t got = 0;
    CHECK_EQ_INT(mc_stamp_read(&pic, &got), 0);
    CHECK_EQ_INT(got, stamps[k]);
    CHECK(black(&back, 0, 0, 640, 58));
    CHECK(black(&back, 0, 422, 640, 480));
    CHECK(!black(&back, 0, 62, 640, 418));
    mc_i420_free(&back);
  }
  mc_pattern_free(p);
  /* 1:1 into 4:3: bars left and right */
  mc_pattern_new(&(struct mc_pattern_config){.width = 480, .height = 480, .fps = 30}, &p);
  mc_pattern_frame(p, 3, 0x0badcafeu, &f);
  CHECK_EQ_INT(mc_video_sink_show(s, f), 0);
  struct mc_i420 back;
  CHECK_EQ_INT(mc_video_sink_read_back(s, &back), 0);
  if (back.width == 640) {
    CHECK(black(&back, 0, 0, 78, 480));
    CHECK(black(&back, 562, 0, 640, 480));
    struct mc_i420 pic = back;
    pic.owned = NULL;
    pic.width = 480;
    pic.y += 80;
    pic.u += 40;
    pic.v += 40;
    uint32_t got = 0;
    CHECK_EQ_INT(mc_stamp_read(&pic, &got), 0);
    CHECK_EQ_INT(got, 0x0badcafeu);
  }
  mc_i420_free(&back);
  mc_pattern_free(p);
  mc_video_sink_free(s);
}

/* The X11 pass loads Mesa's GL driver, which keeps a few bytes until
 * exit and is unloaded before LeakSanitizer can name it: those
 * allocations (made on this thread) are not ours to report. */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

static pid_t xvfb_pid = -1;

static void stop_xvfb(void) {
  if (xvfb_pid > 0) {
    kill(xvfb_pid, SIGTERM);
    waitpid(xvfb_pid, NULL, 0);
    xvfb_pid = -1;
  }
}

/* Starts Xvfb on the first free display of :90..:99; its number or -1. */
static int start_xvfb(void) {
  for (int d = 90; d <= 99; d++) {
    char lock[64], sock[64], disp[16];
    snprintf(lock, sizeof lock, "/tmp/.X%d-lock", d);
    snprintf(sock, sizeof sock, "/tmp/.X11-unix/X%d", d);
    if (access(lock, F_OK) == 0 || access(sock, F_OK) == 0) continue;
    snprintf(disp, sizeof disp, ":%d", d);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
      execlp("Xvfb", "Xvfb", disp, "-screen", "0", "1280x720x24", "-nolisten", "tcp", (char *)NULL);
      _exit(127);
    }
    xvfb_pid = pid;
    /* up to 10 s for the socket, or until Xvfb exits (display taken) */
    for (int i = 0; i < 1000; i++) {
      if (access(sock, F_OK) == 0) return d;
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        xvfb_pid = -1;
        break;
      }
      usleep(10000);
    }
    stop_xvfb();
  }
  return -1;
}

static bool have_xvfb(void) {
  return system("command -v Xvfb >/dev/null 2>&1") == 0;
}

static int test_window(void) {
  test_letterbox();
  window_pass("dummy"); /* SDL's software renderer, no display needed */
  if (!have_xvfb()) {
    if (getenv("CI")) {
      fprintf(stderr, "Xvfb is missing in CI (scripts/install-deps.sh installs it)\n");
      CHECK(false);
      return 0;
    }
    fprintf(stderr, "Xvfb is missing: the X11 window pass is skipped\n");
    return 77;
  }
  int d = start_xvfb();
  CHECK(d > 0);
  if (d < 0) return 0;
  char disp[16];
  snprintf(disp, sizeof disp, ":%d", d);
  setenv("DISPLAY", disp, 1);
  if (__lsan_disable) __lsan_disable();
  window_pass("x11");
  if (__lsan_enable) __lsan_enable();
  stop_xvfb();
  return 0;
}

int main(void) {
  mc_log_set_level(MC_LOG_WARN);
  mc_log_init_from_env();
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mc-media-io-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  atexit(stop_xvfb);
  test_convert();
  test_camera_errors();
  test_apm();
  test_audio();
  int skip = test_window();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  int rc = CHECK_DONE();
  return rc ? rc : skip;
}
