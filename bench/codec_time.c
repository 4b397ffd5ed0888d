/* codec_time: VP8 encode and decode time per frame (p50/p95) with the
 * pattern source at 640x480 and 1280x720, 1.5 and 2.5 Mbit/s, 30 fps; Opus
 * encode and decode time per 20 ms frame. Frames are fed as fast as they
 * encode (no pacing), so the figures are pure codec time on this machine;
 * pattern drawing is outside the timed region. The achieved bitrate and
 * first keyframe's size and the mean PSNR are printed too, and every frame's stamp is read
 * back after decoding.
 *
 *   build/bench/codec_time [-n FRAMES] [-t THREADS] [-c CPU_USED]
 *   (defaults: 300 frames = 10 s of video, threads 0 = MC_VP8_THREADS_DEFAULT,
 *    cpu_used 0 = MC_VP8_CPU_USED_DEFAULT) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libyuv/compare.h>

#include "media/media.h"
#include "util/util.h"

/* CPU time of the whole process (libvpx's worker threads included), us. */
static uint64_t cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p) {
  if (!n) return 0;
  qsort(v, n, sizeof *v, cmp_u64);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return (double)v[i] / 1000.0; /* us -> ms */
}

static int video_case(int w, int h, int kbps, int frames, int threads, int cpu_used) {
  struct mc_pattern_config pc = {.width = w, .height = h, .fps = 30};
  struct mc_vp8_encoder_config ec = {.width = w, .height = h, .fps = 30, .bitrate_kbps = kbps,
                                     .threads = threads, .cpu_used = cpu_used};
  mc_pattern *p = NULL;
  mc_vp8_encoder *e = NULL;
  mc_vp8_decoder *d = NULL;
  uint64_t *enc = calloc((size_t)frames, sizeof *enc), *dec = calloc((size_t)frames, sizeof *dec);
  int rc = MC_ENOMEM;
  if (!enc || !dec) goto done;
  if ((rc = mc_pattern_new(&pc, &p)) || (rc = mc_vp8_encoder_new(&ec, &e)) || (rc = mc_vp8_decoder_new(1, &d)))
    goto done;
  size_t ne = 0, nd = 0, bytes = 0, key_bytes = 0;
  uint64_t enc_cpu = 0;
  double psnr_sum = 0;
  int stamps_ok = 0;
  for (int i = 0; i < frames; i++) {
    const struct mc_i420 *f;
    struct mc_encoded_frame ef;
    uint32_t stamp = 0x40000000u + (uint32_t)i * 33;
    if ((rc = mc_pattern_frame(p, (uint64_t)i, stamp, &f))) goto done;
    uint64_t c0 = cpu_us(), t0 = mc_now_us();
    if ((rc = mc_vp8_encoder_encode(e, f, (int64_t)i * 3000, &ef))) goto done;
    enc[ne++] = mc_now_us() - t0;
    enc_cpu += cpu_us() - c0;
    if (!ef.len) continue;
    bytes += ef.len;
    if (i == 0) key_bytes = ef.len;
    struct mc_i420 out;
    bool got;
    t0 = mc_now_us();
    if ((rc = mc_vp8_decoder_decode(d, ef.data, ef.len, &out, &got))) goto done;
    dec[nd++] = mc_now_us() - t0;
    uint32_t v;
    if (got && mc_stamp_read(&out, &v) == 0 && v == stamp) stamps_ok++;
    if (got)
      psnr_sum += I420Psnr(f->y, f->stride_y, f->u, f->stride_u, f->v, f->stride_v, out.y, out.stride_y, out.u,
                           out.stride_u, out.v, out.stride_v, w, h);
  }
  printf("| VP8 %4dx%-4d | %5d | %7.2f | %7.2f | %7.2f | %7.2f | %7.2f | %6.0f | %5.1f | %6zu | %3d/%-3d |\n", w, h,
         kbps, pct(enc, ne, 0.5), pct(enc, ne, 0.95), (double)enc_cpu / 1000.0 / (double)(ne ? ne : 1), pct(dec, nd, 0.5), pct(dec, nd, 0.95),
         (double)bytes * 8 * 30 / (double)frames / 1000.0, psnr_sum / (double)(nd ? nd : 1), key_bytes, stamps_ok, frames);
  fflush(stdout);
  rc = 0;
done:
  if (rc) fprintf(stderr, "codec_time: video case %dx%d failed: %s\n", w, h, mc_strerror(rc));
  mc_pattern_free(p);
  mc_vp8_encoder_free(e);
  mc_vp8_decoder_free(d);
  free(enc);
  free(dec);
  return rc;
}

static int audio_case(int channels, int bps, int frames) {
  struct mc_opus_encoder_config oc = {.channels = channels, .bitrate_bps = bps};
  mc_opus_encoder *e = NULL;
  mc_opus_decoder *d = NULL;
  struct mc_tone t;
  uint64_t *enc = calloc((size_t)frames, sizeof *enc), *dec = calloc((size_t)frames, sizeof *dec);
  int rc = MC_ENOMEM;
  if (!enc || !dec) goto done;
  if ((rc = mc_opus_encoder_new(&oc, &e)) || (rc = mc_opus_decoder_new(channels, &d)) ||
      (rc = mc_tone_init(&t, 440, channels, 0.3)))
    goto done;
  size_t bytes = 0;
  for (int i = 0; i < frames; i++) {
    int16_t in[MC_AUDIO_FRAME * 2], out[MC_OPUS_MAX_FRAME * 2];
    uint8_t pkt[MC_OPUS_MAX_PACKET];
    size_t len, n;
    mc_tone_next(&t, in);
    uint64_t t0 = mc_now_us();
    if ((rc = mc_opus_encoder_encode(e, in, pkt, sizeof pkt, &len))) goto done;
    enc[i] = mc_now_us() - t0;
    bytes += len;
    t0 = mc_now_us();
    if ((rc = mc_opus_decoder_decode(d, pkt, len, out, MC_OPUS_MAX_FRAME, &n))) goto done;
    dec[i] = mc_now_us() - t0;
  }
  printf("| Opus %-9s | %5d | %7.3f | %7.3f |         | %7.3f | %7.3f | %6.1f |       |        |         |\n",
         channels == 2 ? "stereo" : "mono", bps / 1000, pct(enc, (size_t)frames, 0.5),
         pct(enc, (size_t)frames, 0.95), pct(dec, (size_t)frames, 0.5), pct(dec, (size_t)frames, 0.95),
         (double)bytes * 8 * 50 / (double)frames / 1000.0);
  rc = 0;
done:
  if (rc) fprintf(stderr, "codec_time: opus case failed: %s\n", mc_strerror(rc));
  mc_opus_encoder_free(e);
  mc_opus_decoder_free(d);
  free(enc);
  free(dec);
  return rc;
}

int main(int argc, char **argv) {
  int frames = 300, threads = 0, cpu_used = 0, opt;
  while ((opt = getopt(argc, argv, "n:t:c:")) != -1) {
    switch (opt) {
    case 'n': frames = atoi(optarg); break;
    case 't': threads = atoi(optarg); break;
    case 'c': cpu_used = atoi(optarg); break;
    default:
      fprintf(stderr, "usage: %s [-n FRAMES] [-t THREADS] [-c CPU_USED]\n", argv[0]);
      return 2;
    }
  }
  if (frames < 1 || frames > 100000) return 2;
  mc_log_set_level(MC_LOG_WARN);
  printf("codec_time: %d frames per video case, 30 fps pattern, VP8 threads=%d cpu_used=%d (0 = default %d)\n",
         frames, threads ? threads : MC_VP8_THREADS_DEFAULT, cpu_used, MC_VP8_CPU_USED_DEFAULT);
  printf("| codec          | kbps  | enc p50 | enc p95 | enc cpu | dec p50 | dec p95 | kbit/s | PSNR  | key B  | stamps  |\n");
  printf("|----------------|-------|---------|---------|---------|---------|---------|--------|-------|--------|---------|\n");
  static const int sizes[2][2] = {{640, 480}, {1280, 720}};
  static const int rates[2] = {1500, 2500};
  int bad = 0;
  for (int s = 0; s < 2; s++)
    for (int r = 0; r < 2; r++) bad |= video_case(sizes[s][0], sizes[s][1], rates[r], frames, threads, cpu_used);
  int aframes = frames * 5 / 3; /* same duration as the video: 20 ms frames */
  bad |= audio_case(1, 32000, aframes);
  bad |= audio_case(2, 64000, aframes);
  printf("(ms per frame, wall clock; enc cpu = mean CPU ms of the whole process per encode, worker threads included; Opus frames are 20 ms; kbit/s is what came out; PSNR = mean I420 PSNR in dB of decoded vs source; key B = first keyframe bytes; stamps = frames whose stamp read back exactly)\n");
  return bad ? 1 : 0;
}
