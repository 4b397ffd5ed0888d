/* Unit tests for src/media: I420 frames, the capture-time stamp (raw and
 * through VP8 at 300 kbit/s), the pattern source, VP8 and Opus round trips
 * with keyframe requests, bitrate and resolution changes, FEC and PLC, the
 * tone detector, and the Y4M and WAV parsers on good and malformed files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "media/media.h"
#include "util/util.h"

static uint32_t rng_state = 0x1234567u;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void test_i420(void) {
  struct mc_i420 f, g;
  CHECK_EQ_INT(mc_i420_alloc(&f, 0, 10), MC_EINVAL);
  CHECK_EQ_INT(mc_i420_alloc(&f, 10, MC_MEDIA_MAX_DIM + 1), MC_EINVAL);
  CHECK_EQ_INT(mc_i420_alloc(&f, 33, 17), MC_OK);
  CHECK(f.stride_y >= 33 && f.stride_u >= 17 && f.stride_v >= 17);
  CHECK(f.y[0] == 16 && f.u[16] == 128 && f.v[8 * f.stride_v + 16] == 128);
  f.y[16 * f.stride_y + 32] = 99;
  f.v[8 * f.stride_v + 16] = 77;
  CHECK_EQ_INT(mc_i420_alloc(&g, 33, 17), MC_OK);
  CHECK_EQ_INT(mc_i420_copy(&f, &g), MC_OK);
  CHECK_EQ_INT(g.y[16 * g.stride_y + 32], 99);
  CHECK_EQ_INT(g.v[8 * g.stride_v + 16], 77);
  mc_i420_free(&g);
  CHECK_EQ_INT(mc_i420_alloc(&g, 34, 17), MC_OK);
  CHECK_EQ_INT(mc_i420_copy(&f, &g), MC_EINVAL);
  mc_i420_free(&g);
  /* Scaling a flat frame keeps it flat. */
  struct mc_i420 a, b;
  CHECK_EQ_INT(mc_i420_alloc(&a, 64, 48), MC_OK);
  CHECK_EQ_INT(mc_i420_alloc(&b, 32, 24), MC_OK);
  memset(a.y, 200, (size_t)a.stride_y * 48);
  CHECK_EQ_INT(mc_i420_scale(&a, &b), MC_OK);
  CHECK_EQ_INT(b.y[10 * b.stride_y + 10], 200);
  mc_i420_free(&a);
  mc_i420_free(&b);
  mc_i420_free(&f);
  CHECK(f.y == NULL);
  mc_i420_free(NULL);
}

static void stamp_values(uint32_t *v, size_t n) {
  v[0] = 0;
  v[1] = UINT32_MAX;
  v[2] = 1;
  v[3] = 0x80000000u;
  v[4] = 0x12345678u;
  v[5] = 0xa5a5a5a5u;
  for (size_t i = 6; i < n; i++) v[i] = rng();
}

static void test_stamp_raw(int w, int h) {
  struct mc_i420 f;
  CHECK_EQ_INT(mc_i420_alloc(&f, w, h), MC_OK);
  /* Busy background so the reader cannot pass by luck on a flat frame. */
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) f.y[(size_t)y * f.stride_y + x] = (uint8_t)(x * 7 + y * 3);
  uint32_t vals[300];
  stamp_values(vals, 300);
  int ok = 0;
  for (size_t i = 0; i < 300; i++) {
    uint32_t got = 0;
    CHECK_EQ_INT(mc_stamp_write(&f, vals[i]), MC_OK);
    if (mc_stamp_read(&f, &got) == 0 && got == vals[i]) ok++;
  }
  CHECK_EQ_INT(ok, 300);
  /* Every single flipped square breaks the checksum. */
  int s = w / 40, caught = 0;
  for (int bit = 0; bit < 40; bit++) {
    CHECK_EQ_INT(mc_stamp_write(&f, 0x5eed1234u), MC_OK);
    for (int r = 0; r < s; r++) {
      uint8_t *p = f.y + (size_t)r * f.stride_y + (size_t)bit * s;
      for (int c = 0; c < s; c++) p[c] = p[c] > 128 ? 16 : 235;
    }
    uint32_t got;
    if (mc_stamp_read(&f, &got) == MC_EPARSE) caught++;
  }
  CHECK_EQ_INT(caught, 40);
  mc_i420_free(&f);
}

static void test_stamp_geometry(void) {
  struct mc_i420 f;
  uint32_t got;
  /* 1010 wide: s = 25, the stamp covers 1000 columns, the last 10 stay. */
  CHECK_EQ_INT(mc_i420_alloc(&f, 1010, 100), MC_OK);
  memset(f.y, 77, (size_t)f.stride_y * 100);
  CHECK_EQ_INT(mc_stamp_write(&f, UINT32_MAX), MC_OK);
  CHECK_EQ_INT(f.y[799], 235); /* bit 31, the last time bit */
  CHECK_EQ_INT(f.y[800], 16);  /* checksum of ff ff ff ff is 0 */
  CHECK_EQ_INT(f.y[999], 16);
  CHECK_EQ_INT(f.y[1000], 77);
  CHECK_EQ_INT(f.y[24 * f.stride_y + 5], 235);
  CHECK_EQ_INT(f.y[25 * f.stride_y + 5], 77);
  CHECK_EQ_INT(mc_stamp_read(&f, &got), MC_OK);
  CHECK(got == UINT32_MAX);
  mc_i420_free(&f);
  /* A blank frame: the checksum rejects it (all zeros would pass: 0 ^ ... = 0
   * is a valid stamp of 0, so use mid-grey noise instead). */
  CHECK_EQ_INT(mc_i420_alloc(&f, 640, 480), MC_OK);
  for (size_t i = 0; i < (size_t)f.stride_y * 480; i++) f.y[i] = (uint8_t)(i * 2654435761u >> 24);
  CHECK_EQ_INT(mc_stamp_read(&f, &got), MC_EPARSE);
  mc_i420_free(&f);
  CHECK_EQ_INT(mc_i420_alloc(&f, 79, 100), MC_OK);
  CHECK_EQ_INT(mc_stamp_write(&f, 5), MC_EINVAL);
  CHECK_EQ_INT(mc_stamp_read(&f, &got), MC_EINVAL);
  mc_i420_free(&f);
  CHECK_EQ_INT(mc_i420_alloc(&f, 400, 9), MC_OK); /* s = 10 > height */
  CHECK_EQ_INT(mc_stamp_write(&f, 5), MC_EINVAL);
  mc_i420_free(&f);
  CHECK_EQ_INT(mc_stamp_checksum(0x01020304u), 0x01 ^ 0x02 ^ 0x03 ^ 0x04);
}

static size_t count_diff(const struct mc_i420 *a, const struct mc_i420 *b) {
  size_t n = 0;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      n += a->y[(size_t)y * a->stride_y + x] != b->y[(size_t)y * b->stride_y + x];
  return n;
}

static void test_pattern(void) {
  struct mc_pattern_config cfg = {.width = 640, .height = 480, .fps = 30};
  mc_pattern *p, *q;
  CHECK_EQ_INT(mc_pattern_new(&cfg, &p), MC_OK);
  CHECK_EQ_INT(mc_pattern_new(&cfg, &q), MC_OK);
  struct mc_i420 a, b;
  CHECK_EQ_INT(mc_i420_alloc(&a, 640, 480), MC_OK);
  CHECK_EQ_INT(mc_i420_alloc(&b, 640, 480), MC_OK);
  const struct mc_i420 *f;
  CHECK_EQ_INT(mc_pattern_frame(p, 5, 1000, &f), MC_OK);
  mc_i420_copy(f, &a);
  CHECK_EQ_INT(mc_pattern_frame(p, 6, 1000, &f), MC_OK);
  mc_i420_copy(f, &b);
  size_t moved = count_diff(&a, &b);
  CHECK(moved > 640 * 480 / 4); /* the gradient scrolls everywhere */
  /* Same index, other instance: identical, chroma too. */
  CHECK_EQ_INT(mc_pattern_frame(q, 5, 1000, &f), MC_OK);
  CHECK_EQ_INT(count_diff(&a, f), 0);
  int cd = 0;
  for (int y = 0; y < 240; y++) cd += memcmp(a.u + (size_t)y * a.stride_u, f->u + (size_t)y * f->stride_u, 320) != 0;
  CHECK_EQ_INT(cd, 0);
  /* Index 5 again after 6 on the same instance: no hidden state. */
  CHECK_EQ_INT(mc_pattern_frame(p, 5, 1000, &f), MC_OK);
  CHECK_EQ_INT(count_diff(&a, f), 0);
  uint32_t got;
  CHECK_EQ_INT(mc_pattern_frame(p, 1234567, 0xdeadbeefu, &f), MC_OK);
  CHECK_EQ_INT(mc_stamp_read(f, &got), MC_OK);
  CHECK(got == 0xdeadbeefu);
  mc_i420_free(&a);
  mc_i420_free(&b);
  mc_pattern_free(p);
  mc_pattern_free(q);
  cfg.fps = 0;
  CHECK_EQ_INT(mc_pattern_new(&cfg, &p), MC_EINVAL);
}

/* The stamp must read back exactly after VP8 at 300 kbit/s. Values change
 * every frame (arbitrary values, not just +33), which is the hard case: the
 * encoder has to code the changed squares at a low rate. */
static void test_stamp_vp8(int w, int h) {
  struct mc_pattern_config pc = {.width = w, .height = h, .fps = 30};
  struct mc_vp8_encoder_config ec = {.width = w, .height = h, .fps = 30, .bitrate_kbps = 300};
  mc_pattern *p;
  mc_vp8_encoder *e;
  mc_vp8_decoder *d;
  CHECK_EQ_INT(mc_pattern_new(&pc, &p), MC_OK);
  CHECK_EQ_INT(mc_vp8_encoder_new(&ec, &e), MC_OK);
  CHECK_EQ_INT(mc_vp8_decoder_new(0, &d), MC_OK);
  uint32_t vals[90];
  stamp_values(vals, 90);
  int decoded = 0, exact = 0;
  for (int i = 0; i < 90; i++) {
    const struct mc_i420 *f;
    struct mc_encoded_frame ef;
    CHECK_EQ_INT(mc_pattern_frame(p, (uint64_t)i, vals[i], &f), MC_OK);
    CHECK_EQ_INT(mc_vp8_encoder_encode(e, f, i * 3000, &ef), MC_OK);
    if (!ef.len) continue;
    struct mc_i420 out;
    bool got;
    if (mc_vp8_decoder_decode(d, ef.data, ef.len, &out, &got) != 0 || !got) continue;
    decoded++;
    uint32_t v;
    int rc = mc_stamp_read(&out, &v);
    if (rc == 0 && v == vals[i]) exact++;
    else fprintf(stderr, "stamp %dx%d frame %d: rc=%d got=%08x want=%08x\n", w, h, i, rc, v, vals[i]);
  }
  CHECK_EQ_INT(decoded, 90);
  CHECK_EQ_INT(exact, 90);
  mc_pattern_free(p);
  mc_vp8_encoder_free(e);
  mc_vp8_decoder_free(d);
}

static void test_vp8(void) {
  struct mc_pattern_config pc = {.width = 640, .height = 480, .fps = 30};
  struct mc_vp8_encoder_config ec = {.width = 640, .height = 480, .fps = 30, .bitrate_kbps = 2000};
  mc_pattern *p;
  mc_vp8_encoder *e;
  mc_vp8_decoder *d;
  CHECK_EQ_INT(mc_pattern_new(&pc, &p), MC_OK);
  CHECK_EQ_INT(mc_vp8_encoder_new(&ec, &e), MC_OK);
  CHECK_EQ_INT(mc_vp8_decoder_new(0, &d), MC_OK);
  int encoded = 0, decoded = 0, keys = 0;
  bool first_key = false, requested_key = false, after_request_delta = false;
  size_t bytes_high = 0, bytes_low = 0;
  uint8_t *delta_copy = NULL;
  size_t delta_len = 0;
  uint8_t *key_copy = NULL;
  size_t key_len = 0;
  for (int i = 0; i < 120; i++) {
    const struct mc_i420 *f;
    struct mc_encoded_frame ef;
    if (i == 30) mc_vp8_encoder_request_keyframe(e);
    if (i == 60) CHECK_EQ_INT(mc_vp8_encoder_set_bitrate(e, 200), MC_OK);
    CHECK_EQ_INT(mc_pattern_frame(p, (uint64_t)i, (uint32_t)i, &f), MC_OK);
    CHECK_EQ_INT(mc_vp8_encoder_encode(e, f, i * 3000, &ef), MC_OK);
    if (!ef.len) continue;
    encoded++;
    CHECK(ef.keyframe == mc_vp8_is_keyframe(ef.data, ef.len));
    CHECK(ef.pts_90k == i * 3000);
    if (ef.keyframe) keys++;
    if (i == 0) {
      first_key = ef.keyframe;
      key_copy = malloc(ef.len);
      memcpy(key_copy, ef.data, ef.len);
      key_len = ef.len;
    }
    if (i == 5) {
      delta_copy = malloc(ef.len);
      memcpy(delta_copy, ef.data, ef.len);
      delta_len = ef.len;
    }
    if (i == 30) requested_key = ef.keyframe;
    if (i == 31) after_request_delta = !ef.keyframe;
    if (i >= 40 && i < 60) bytes_high += ef.len;
    if (i >= 100) bytes_low += ef.len;
    struct mc_i420 out;
    bool got;
    if (mc_vp8_decoder_decode(d, ef.data, ef.len, &out, &got) == 0 && got && out.width == 640 && out.height == 480)
      decoded++;
  }
  CHECK_EQ_INT(encoded, 120);
  CHECK_EQ_INT(decoded, 120);
  CHECK(first_key);
  CHECK(requested_key);
  CHECK(after_request_delta);
  CHECK_EQ_INT(keys, 2);
  fprintf(stderr, "vp8 640x480 bytes/20 frames at 2000 kbit/s=%zu at 200 kbit/s=%zu\n", bytes_high, bytes_low);
  CHECK(bytes_low * 3 < bytes_high);
  /* CBR holds the target within 30% over 20 frames (2000 kbit/s: 166,667 B).
   * Not at 200 kbit/s: there this content needs more than the quantizer cap
   * (56) allows without dropping frames, and frame dropping is off. */
  CHECK(bytes_high > 116667 && bytes_high < 216667);

  /* A delta frame without its keyframe, garbage, and a truncated keyframe
   * are errors on a fresh decoder, never a picture. */
  mc_vp8_decoder *d2;
  struct mc_i420 out;
  bool got = true;
  CHECK_EQ_INT(mc_vp8_decoder_new(1, &d2), MC_OK);
  CHECK_EQ_INT(mc_vp8_decoder_decode(d2, delta_copy, delta_len, &out, &got), MC_EPARSE);
  CHECK(!got);
  uint8_t junk[300];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)rng();
  junk[0] &= 0xfe; /* claims to be a keyframe */
  CHECK_EQ_INT(mc_vp8_decoder_decode(d2, junk, sizeof junk, &out, &got), MC_EPARSE);
  CHECK_EQ_INT(mc_vp8_decoder_decode(d2, key_copy, 8, &out, &got), MC_EPARSE);
  CHECK_EQ_INT(mc_vp8_decoder_decode(d2, key_copy, 0, &out, &got), MC_EPARSE);
  CHECK_EQ_INT(mc_vp8_decoder_decode(d2, key_copy, key_len, &out, &got), MC_OK);
  CHECK(got && out.width == 640);
  mc_vp8_decoder_free(d2);
  free(delta_copy);
  free(key_copy);

  /* Resolution change: the next frame is a keyframe at the new size. */
  const struct mc_i420 *f;
  struct mc_encoded_frame ef;
  CHECK_EQ_INT(mc_pattern_frame(p, 0, 0, &f), MC_OK);
  CHECK_EQ_INT(mc_vp8_encoder_set_resolution(e, 320, 240), MC_OK);
  CHECK_EQ_INT(mc_vp8_encoder_encode(e, f, 0, &ef), MC_EINVAL); /* still 640x480 input */
  mc_pattern *small;
  struct mc_pattern_config sc = {.width = 320, .height = 240, .fps = 30};
  CHECK_EQ_INT(mc_pattern_new(&sc, &small), MC_OK);
  int small_ok = 0;
  for (int i = 0; i < 10; i++) {
    CHECK_EQ_INT(mc_pattern_frame(small, (uint64_t)i, 42, &f), MC_OK);
    CHECK_EQ_INT(mc_vp8_encoder_encode(e, f, 400000 + i * 3000, &ef), MC_OK);
    if (i == 0) CHECK(ef.keyframe);
    if (ef.len && mc_vp8_decoder_decode(d, ef.data, ef.len, &out, &got) == 0 && got && out.width == 320 &&
        out.height == 240)
      small_ok++;
  }
  CHECK_EQ_INT(small_ok, 10);
  CHECK_EQ_INT(mc_vp8_encoder_set_framerate(e, 15), MC_OK);
  CHECK_EQ_INT(mc_vp8_encoder_set_framerate(e, 0), MC_EINVAL);
  CHECK_EQ_INT(mc_vp8_encoder_set_bitrate(e, 0), MC_EINVAL);
  CHECK_EQ_INT(mc_vp8_encoder_set_resolution(e, 8, 8), MC_EINVAL);
  mc_pattern_free(small);
  mc_pattern_free(p);
  mc_vp8_encoder_free(e);
  mc_vp8_decoder_free(d);
  struct mc_vp8_encoder_config bad = {.width = 640, .height = 480, .fps = 30, .bitrate_kbps = 0};
  CHECK_EQ_INT(mc_vp8_encoder_new(&bad, &e), MC_EINVAL);
}

/* With frame dropping allowed, a rate far below what the content needs
 * makes rate control skip frames (len 0), and what it does send decodes. */
static void test_vp8_frame_drop(void) {
  struct mc_pattern_config pc = {.width = 640, .height = 480, .fps = 30};
  struct mc_vp8_encoder_config ec = {.width = 640, .height = 480, .fps = 30, .bitrate_kbps = 100,
                                     .allow_frame_drop = true};
  mc_pattern *p;
  mc_vp8_encoder *e;
  mc_vp8_decoder *d;
  CHECK_EQ_INT(mc_pattern_new(&pc, &p), MC_OK);
  CHECK_EQ_INT(mc_vp8_encoder_new(&ec, &e), MC_OK);
  CHECK_EQ_INT(mc_vp8_decoder_new(0, &d), MC_OK);
  int sent = 0, dropped = 0, decoded = 0;
  for (int i = 0; i < 60; i++) {
    const struct mc_i420 *f;
    struct mc_encoded_frame ef;
    struct mc_i420 out;
    bool got;
    CHECK_EQ_INT(mc_pattern_frame(p, (uint64_t)i, (uint32_t)i, &f), MC_OK);
    CHECK_EQ_INT(mc_vp8_encoder_encode(e, f, i * 3000, &ef), MC_OK);
    if (!ef.len) {
      dropped++;
      continue;
    }
    sent++;
    if (mc_vp8_decoder_decode(d, ef.data, ef.len, &out, &got) == 0 && got) decoded++;
  }
  fprintf(stderr, "vp8 100 kbit/s with frame dropping: sent=%d dropped=%d\n", sent, dropped);
  CHECK(dropped > 0);
  CHECK(sent > 0);
  CHECK_EQ_INT(decoded, sent);
  mc_pattern_free(p);
  mc_vp8_encoder_free(e);
  mc_vp8_decoder_free(d);
}

static void test_tone_detector(void) {
  struct mc_tone t;
  int16_t pcm[MC_AUDIO_FRAME * 50 * 2];
  CHECK_EQ_INT(mc_tone_init(&t, 1000, 2, 0.5), MC_OK);
  for (int i = 0; i < 50; i++) mc_tone_next(&t, pcm + i * MC_AUDIO_FRAME * 2);
  double pw;
  double hz = mc_tone_dominant(pcm, MC_AUDIO_FRAME * 50, 2, 50, 4000, &pw);
  CHECK(fabs(hz - 1000) <= 1);
  CHECK(fabs(pw - 0.0625) < 0.01); /* (0.5)^2 / 4 */
  CHECK(mc_tone_power(pcm, MC_AUDIO_FRAME * 50, 2, 1000) > 100 * mc_tone_power(pcm, MC_AUDIO_FRAME * 50, 2, 1300));
  CHECK_EQ_INT(mc_tone_init(&t, 0, 1, 0.5), MC_EINVAL);
  CHECK_EQ_INT(mc_tone_init(&t, 440, 3, 0.5), MC_EINVAL);
}

static void opus_tone_roundtrip(int channels) {
  struct mc_opus_encoder_config c = {.channels = channels};
  mc_opus_encoder *e;
  mc_opus_decoder *d;
  struct mc_tone t;
  CHECK_EQ_INT(mc_opus_encoder_new(&c, &e), MC_OK);
  CHECK_EQ_INT(mc_opus_decoder_new(channels, &d), MC_OK);
  CHECK_EQ_INT(mc_tone_init(&t, 440, channels, 0.3), MC_OK);
  enum { N = 50 };
  int16_t *got = calloc((size_t)MC_AUDIO_FRAME * N * (size_t)channels, sizeof *got);
  int16_t in[MC_AUDIO_FRAME * 2];
  int16_t out[MC_OPUS_MAX_FRAME * 2];
  size_t total = 0;
  for (int i = 0; i < N; i++) {
    uint8_t pkt[MC_OPUS_MAX_PACKET];
    size_t len = 0, frames = 0;
    mc_tone_next(&t, in);
    CHECK_EQ_INT(mc_opus_encoder_encode(e, in, pkt, sizeof pkt, &len), MC_OK);
    CHECK(len > 2);
    CHECK_EQ_INT(mc_opus_decoder_decode(d, pkt, len, out, MC_OPUS_MAX_FRAME, &frames), MC_OK);
    CHECK_EQ_INT(frames, MC_AUDIO_FRAME);
    memcpy(got + total * (size_t)channels, out, frames * (size_t)channels * sizeof *out);
    total += frames;
  }
  /* Skip the first 100 ms (codec start-up). */
  size_t skip = MC_AUDIO_FRAME * 5;
  double pw;
  double hz = mc_tone_dominant(got + skip * (size_t)channels, total - skip, channels, 50, 4000, &pw);
  fprintf(stderr, "opus channels=%d tone 440 Hz found at %.2f Hz power=%.4f\n", channels, hz, pw);
  CHECK(fabs(hz - 440) <= 5);
  CHECK(pw > 0.01);
  if (channels == 2) { /* the right channel carries it too */
    double hz_r = mc_tone_dominant(got + skip * 2 + 1, total - skip, 2, 50, 4000, NULL);
    CHECK(fabs(hz_r - 440) <= 5);
  }
  free(got);
  mc_opus_encoder_free(e);
  mc_opus_decoder_free(d);
}

static void test_opus_loss(void) {
  struct mc_opus_encoder_config c = {.channels = 1, .loss_pct = 20};
  mc_opus_encoder *e;
  mc_opus_decoder *d;
  struct mc_tone t;
  CHECK_EQ_INT(mc_opus_encoder_new(&c, &e), MC_OK);
  CHECK_EQ_INT(mc_opus_decoder_new(1, &d), MC_OK);
  CHECK_EQ_INT(mc_tone_init(&t, 440, 1, 0.3), MC_OK);
  uint8_t pkts[30][MC_OPUS_MAX_PACKET];
  size_t lens[30];
  int16_t in[MC_AUDIO_FRAME];
  for (int i = 0; i < 30; i++) {
    mc_tone_next(&t, in);
    CHECK_EQ_INT(mc_opus_encoder_encode(e, in, pkts[i], sizeof pkts[i], &lens[i]), MC_OK);
  }
  int16_t out[MC_OPUS_MAX_FRAME];
  size_t frames;
  for (int i = 0; i < 20; i++)
    CHECK_EQ_INT(mc_opus_decoder_decode(d, pkts[i], lens[i], out, MC_OPUS_MAX_FRAME, &frames), MC_OK);
  /* Packet 20 lost: recover it from 21's FEC, then 21 itself. */
  CHECK_EQ_INT(mc_opus_decoder_decode_fec(d, pkts[21], lens[21], out, MC_OPUS_MAX_FRAME, &frames), MC_OK);
  CHECK_EQ_INT(frames, MC_AUDIO_FRAME);
  double fec_power = mc_tone_power(out, frames, 1, 440);
  fprintf(stderr, "opus FEC frame power at 440 Hz=%.4f\n", fec_power);
  CHECK(fec_power > 0.005); /* the tone goes on through the gap (0.3^2/4 = 0.0225) */
  CHECK_EQ_INT(mc_opus_decoder_decode(d, pkts[21], lens[21], out, MC_OPUS_MAX_FRAME, &frames), MC_OK);
  CHECK_EQ_INT(frames, MC_AUDIO_FRAME);
  /* Packet 22 lost with nothing after it yet: concealment. */
  CHECK_EQ_INT(mc_opus_decoder_conceal(d, out, MC_OPUS_MAX_FRAME, &frames), MC_OK);
  CHECK_EQ_INT(frames, MC_AUDIO_FRAME);
  CHECK_EQ_INT(mc_opus_decoder_decode(d, pkts[23], lens[23], out, MC_OPUS_MAX_FRAME, &frames), MC_OK);
  CHECK_EQ_INT(mc_opus_decoder_conceal(d, out, 100, &frames), MC_ETOOBIG);
  CHECK_EQ_INT(mc_opus_decoder_decode(d, pkts[24], 0, out, MC_OPUS_MAX_FRAME, &frames), MC_EPARSE);
  /* A packet whose TOC promises more frames than its bytes hold (code 3, 48 frames). */
  uint8_t bad[3] = {0xfb, 0x30, 0x00};
  CHECK_EQ_INT(mc_opus_decoder_decode(d, bad, sizeof bad, out, MC_OPUS_MAX_FRAME, &frames), MC_EPARSE);

  /* DTX: silence becomes packets of at most 2 bytes after a short while. */
  memset(in, 0, sizeof in);
  int tiny = 0;
  for (int i = 0; i < 50; i++) {
    uint8_t pkt[MC_OPUS_MAX_PACKET];
    size_t len;
    CHECK_EQ_INT(mc_opus_encoder_encode(e, in, pkt, sizeof pkt, &len), MC_OK);
    if (len <= 2) tiny++;
  }
  CHECK(tiny > 30);
  CHECK_EQ_INT(mc_opus_encoder_set_bitrate(e, 24000), MC_OK);
  CHECK_EQ_INT(mc_opus_encoder_set_bitrate(e, 1), MC_EINVAL);
  CHECK_EQ_INT(mc_opus_encoder_set_loss_pct(e, 5), MC_OK);
  CHECK_EQ_INT(mc_opus_encoder_set_loss_pct(e, 101), MC_EINVAL);
  mc_opus_encoder_free(e);
  mc_opus_decoder_free(d);
  struct mc_opus_encoder_config bad_cfg = {.channels = 3};
  CHECK_EQ_INT(mc_opus_encoder_new(&bad_cfg, &e), MC_EINVAL);
}

/* ---- Y4M ---- */

static size_t make_y4m(uint8_t *buf, const char *header, int w, int h, int frames) {
  size_t n = (size_t)sprintf((char *)buf, "%s\n", header);
  size_t fb = (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2);
  for (int i = 0; i < frames; i++) {
    n += (size_t)sprintf((char *)buf + n, i == 1 ? "FRAME Ixyz\n" : "FRAME\n");
    memset(buf + n, 50 + i * 40, fb);
    buf[n + fb - 1] = (uint8_t)(200 + i); /* last V byte */
    n += fb;
  }
  return n;
}

static int y4m_rc(const uint8_t *buf, size_t len) {
  mc_y4m *y = NULL;
  char why[MC_MEDIA_WHY_MAX] = "";
  int rc = mc_y4m_open_mem(buf, len, &y, why, sizeof why);
  if (rc == 0) mc_y4m_free(y);
  else CHECK(why[0] != 0);
  return rc;
}

static void test_y4m(void) {
  static uint8_t buf[1 << 16];
  size_t n = make_y4m(buf, "YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG", 64, 48, 3);
  mc_y4m *y;
  CHECK_EQ_INT(mc_y4m_open_mem(buf, n, &y, NULL, 0), MC_OK);
  struct mc_y4m_info info;
  mc_y4m_get_info(y, &info);
  CHECK_EQ_INT(info.width, 64);
  CHECK_EQ_INT(info.height, 48);
  CHECK_EQ_INT(info.fps_num, 25);
  CHECK_EQ_INT(info.fps_den, 1);
  CHECK_EQ_INT(info.frames, 3);
  for (int i = 0; i < 7; i++) {
    const struct mc_i420 *f;
    CHECK_EQ_INT(mc_y4m_next(y, &f), MC_OK);
    CHECK_EQ_INT(f->y[5], 50 + (i % 3) * 40);
    CHECK_EQ_INT(f->v[23 * f->stride_v + 31], 200 + i % 3);
  }
  mc_y4m_free(y);

  /* From a file, odd size, no C tag. */
  n = make_y4m(buf, "YUV4MPEG2 W5 H3 F30000:1001", 5, 3, 2);
  char path[] = "/tmp/test_media_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, buf, n) == (ssize_t)n);
  close(fd);
  CHECK_EQ_INT(mc_y4m_open(path, &y, NULL, 0), MC_OK);
  mc_y4m_get_info(y, &info);
  CHECK_EQ_INT(info.frames, 2);
  CHECK_EQ_INT(info.fps_den, 1001);
  const struct mc_i420 *f;
  CHECK_EQ_INT(mc_y4m_next(y, &f), MC_OK);
  CHECK_EQ_INT(f->width, 5);
  CHECK_EQ_INT(f->v[1 * f->stride_v + 2], 200);
  mc_y4m_free(y);
  unlink(path);
  char why[MC_MEDIA_WHY_MAX] = "";
  CHECK_EQ_INT(mc_y4m_open("/nonexistent/x.y4m", &y, why, sizeof why), MC_EIO);
  CHECK(strstr(why, "/nonexistent/x.y4m") != NULL);

  /* Malformed: every one is refused. */
  n = make_y4m(buf, "YUV4MPEG2 W64 H48 F25:1", 64, 48, 2);
  CHECK_EQ_INT(y4m_rc(buf, n - 1), MC_EPARSE);          /* truncated last frame */
  CHECK_EQ_INT(y4m_rc(buf, n - 4608), MC_EPARSE);       /* a whole frame missing but its FRAME line there */
  buf[n] = 'F';
  CHECK_EQ_INT(y4m_rc(buf, n + 1), MC_EPARSE);          /* trailing garbage */
  n = make_y4m(buf, "YUV4MPEG2 W65 H48 F25:1", 64, 48, 2); /* header lies about the width */
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);
  n = make_y4m(buf, "YUV4MPEG2 W64 H48 F25:1", 64, 48, 0);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);              /* no frames */
  n = make_y4m(buf, "YUV4MPEG2 H48 F25:1", 64, 48, 1);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);              /* no W */
  n = make_y4m(buf, "YUV4MPEG2 W99999 H48", 64, 48, 1);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);
  n = make_y4m(buf, "YUV4MPEG2 W64 H48 F25:0", 64, 48, 1);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);
  n = make_y4m(buf, "YUV4MPEG2 W-4 H48", 64, 48, 1);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);
  n = make_y4m(buf, "YUV4MPEG3 W64 H48", 64, 48, 1);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);
  n = make_y4m(buf, "YUV4MPEG2 W64 H48 C444", 64, 48, 1);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EINVAL);              /* valid, but not 4:2:0 */
  n = make_y4m(buf, "YUV4MPEG2 W64 H48", 64, 48, 2);
  memcpy(strstr((char *)buf, "FRAME"), "FRAMX", 5);
  CHECK_EQ_INT(y4m_rc(buf, n), MC_EPARSE);
  memset(buf, 'Y', 2000);                               /* no newline within the line limit */
  CHECK_EQ_INT(y4m_rc(buf, 2000), MC_EPARSE);
  CHECK_EQ_INT(y4m_rc(buf, 0), MC_EPARSE);
}

/* ---- WAV ---- */

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xffff), put16(p + 2, v >> 16); }

/* A WAV with an odd-sized LIST chunk before the data (padding exercised). */
static size_t make_wav(uint8_t *b, unsigned rate, unsigned ch, unsigned bits, uint32_t frames) {
  size_t n = 12;
  memcpy(b, "RIFF", 4);
  memcpy(b + 8, "WAVE", 4);
  memcpy(b + n, "fmt ", 4);
  put32(b + n + 4, 16);
  put16(b + n + 8, 1);
  put16(b + n + 10, ch);
  put32(b + n + 12, rate);
  put32(b + n + 16, rate * ch * bits / 8);
  put16(b + n + 20, ch * bits / 8);
  put16(b + n + 22, bits);
  n += 24;
  memcpy(b + n, "LIST", 4);
  put32(b + n + 4, 3);
  memcpy(b + n + 8, "abc\0", 4);
  n += 12;
  memcpy(b + n, "data", 4);
  uint32_t dl = frames * ch * bits / 8;
  put32(b + n + 4, dl);
  n += 8;
  for (uint32_t i = 0; i < dl / 2; i++) put16(b + n + 2 * i, (unsigned)(int16_t)(i * 3 - 100) & 0xffff);
  n += dl;
  put32(b + 4, (uint32_t)n - 8);
  return n;
}

static int wav_rc(const uint8_t *buf, size_t len, char *why) {
  mc_wav *w = NULL;
  int rc = mc_wav_open_mem(buf, len, &w, why, MC_MEDIA_WHY_MAX);
  mc_wav_free(w);
  return rc;
}

static void test_wav(void) {
  static uint8_t buf[1 << 16];
  char why[MC_MEDIA_WHY_MAX];
  size_t n = make_wav(buf, 48000, 2, 16, 1000);
  mc_wav *w;
  CHECK_EQ_INT(mc_wav_open_mem(buf, n, &w, NULL, 0), MC_OK);
  CHECK_EQ_INT(mc_wav_channels(w), 2);
  CHECK_EQ_INT(mc_wav_frames(w), 1000);
  int16_t pcm[1500 * 2];
  mc_wav_read(w, pcm, 1500); /* wraps after 1000 */
  CHECK_EQ_INT(pcm[0], -100);
  CHECK_EQ_INT(pcm[1], -97);
  CHECK_EQ_INT(pcm[1999], (int16_t)(1999 * 3 - 100));
  CHECK_EQ_INT(pcm[2000], -100);
  mc_wav_free(w);

  n = make_wav(buf, 48000, 1, 16, 960);
  char path[] = "/tmp/test_media_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, buf, n) == (ssize_t)n);
  close(fd);
  CHECK_EQ_INT(mc_wav_open(path, &w, NULL, 0), MC_OK);
  CHECK_EQ_INT(mc_wav_channels(w), 1);
  mc_wav_free(w);
  unlink(path);

  /* WAVE_FORMAT_EXTENSIBLE carrying PCM: fmt grows from 16 to 40 bytes. */
  n = make_wav(buf, 48000, 2, 16, 100);
  memmove(buf + 60, buf + 36, n - 36);
  put32(buf + 16, 40);
  put16(buf + 20, 0xfffe);
  put16(buf + 36, 22);   /* cbSize */
  put16(buf + 38, 16);   /* valid bits */
  put32(buf + 40, 3);    /* channel mask */
  memset(buf + 44, 0, 16);
  put16(buf + 44, 1);    /* SubFormat: KSDATAFORMAT_SUBTYPE_PCM starts 01 00 */
  n += 24;
  put32(buf + 4, (uint32_t)n - 8);
  w = NULL;
  CHECK_EQ_INT(mc_wav_open_mem(buf, n, &w, NULL, 0), MC_OK);
  if (w) CHECK_EQ_INT(mc_wav_frames(w), 100);
  mc_wav_free(w);
  w = NULL;
  put16(buf + 44, 3);    /* IEEE float inside the extensible wrapper */
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EINVAL);

  why[0] = 0;
  n = make_wav(buf, 44100, 1, 16, 100);
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EINVAL);
  CHECK(strstr(why, "44100 Hz") && strstr(why, "48000"));
  n = make_wav(buf, 48000, 1, 8, 100);
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EINVAL);
  n = make_wav(buf, 48000, 3, 16, 100);
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EINVAL);

  n = make_wav(buf, 48000, 2, 16, 100);
  CHECK_EQ_INT(wav_rc(buf, n - 1, why), MC_EPARSE);      /* truncated: RIFF size lies */
  put32(buf + 4, (uint32_t)n - 8 - 4);                   /* RIFF shorter than data chunk claims */
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);
  n = make_wav(buf, 48000, 2, 16, 100);
  put32(buf + 52, 100 * 4 + 4);                          /* data size lies */
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);
  n = make_wav(buf, 48000, 2, 16, 100);
  put32(buf + 52, 401);                                  /* not whole sample frames */
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);
  n = make_wav(buf, 48000, 2, 16, 100);
  put32(buf + 16, 0x7ffffff0);                           /* fmt size lies */
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);
  n = make_wav(buf, 48000, 2, 16, 100);
  put16(buf + 32, 2);                                    /* block align disagrees */
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);
  n = make_wav(buf, 48000, 2, 16, 0);
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);          /* no samples */
  n = make_wav(buf, 48000, 2, 16, 10);
  memcpy(buf + 48, "dat_", 4);                           /* no data chunk */
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);
  memcpy(buf, "RIFX", 4);
  CHECK_EQ_INT(wav_rc(buf, n, why), MC_EPARSE);
  CHECK_EQ_INT(wav_rc(buf, 0, why), MC_EPARSE);
  CHECK_EQ_INT(wav_rc(buf, 11, why), MC_EPARSE);
}

int main(void) {
  mc_log_set_level(MC_LOG_ERROR);
  test_i420();
  test_stamp_raw(640, 480);
  test_stamp_raw(1280, 720);
  test_stamp_geometry();
  test_pattern();
  test_stamp_vp8(640, 480);
  test_stamp_vp8(1280, 720);
  test_vp8();
  test_vp8_frame_drop();
  test_tone_detector();
  opus_tone_roundtrip(1);
  opus_tone_roundtrip(2);
  test_opus_loss();
  test_y4m();
  test_wav();
  return CHECK_DONE();
}
