/* rtp_pipeline: cost of the RTP layer on one thread, per packet and per
 * frame, with a fake media clock (the library reads no clock; the bench
 * times itself with mc_now_us):
 *   - RTP parse + write of a 1200-byte VP8 packet with the three
 *     extensions Chromium negotiates (abs-send-time, twcc seq, mid);
 *   - a video frame end to end: VP8 packetize, RTP write, sender history,
 *     parse, video jitter buffer, frame out; optionally with random loss
 *     repaired through NACK -> RTX -> unwrap (every frame checked intact);
 *   - TWCC: recording 100 arrivals and building their feedback;
 *   - RTCP: parsing a compound SR + SDES + REMB + TWCC.
 *
 *   build/bench/rtp_pipeline [-d SECONDS_PER_CASE] [-f FRAME_BYTES] [-l LOSS_PCT]
 *   defaults: 1 s, 6250 bytes (1.5 Mbit/s at 30 fps), 5 % */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rtp/rtp.h"
#include "util/util.h"

static double seconds = 1.0;
static size_t frame_bytes = 6250;
static unsigned loss_pct = 5;

static uint32_t rng = 0x12345678;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static void bench_packet(void) {
  uint8_t payload[1150], buf[1500], abs[3], tw[2];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)i;
  struct mc_rtp_packet p;
  memset(&p, 0, sizeof p);
  p.h.pt = 96;
  p.h.ssrc = 0xabcdef;
  mc_rtp_abs_send_time_encode(0x123456, abs);
  mc_rtp_ext_set(&p.h, 2, abs, 3);
  mc_rtp_ext_set(&p.h, 3, tw, 2);
  mc_rtp_ext_set(&p.h, 4, (const uint8_t *)"0", 1);
  p.payload = payload;
  p.payload_len = sizeof payload;
  unsigned long long n = 0, bad = 0;
  uint64_t t0 = mc_now_us(), end = t0 + (uint64_t)(seconds * 1e6);
  while (mc_now_us() < end) {
    for (int k = 0; k < 1000; k++, n++) {
      p.h.seq = (uint16_t)n;
      mc_rtp_twcc_seq_encode((uint16_t)n, tw);
      size_t len;
      struct mc_rtp_packet q;
      uint16_t s;
      if (mc_rtp_write(&p, buf, sizeof buf, &len) != MC_OK || mc_rtp_parse(buf, len, &q) != MC_OK ||
          mc_rtp_ext_get_twcc_seq(&q.h, 3, &s) != MC_OK || s != (uint16_t)n)
        bad++;
    }
  }
  double el = (double)(mc_now_us() - t0) / 1e6;
  printf("rtp write+parse 1200 B, 3 extensions: %.0f ns/packet (%.2f M packets/s)%s\n", el * 1e9 / (double)n,
         (double)n / el / 1e6, bad ? "  ERRORS" : "");
}

static void bench_frames(unsigned loss) {
  mc_rtp_history *h = NULL;
  struct mc_rtp_history_config hc = {.rtx_ssrc = 2, .rtx_pt = 97};
  mc_vjb *j = NULL;
  if (mc_rtp_history_new(&hc, &h) || mc_vjb_new(NULL, &j)) return;
  uint8_t *frame = malloc(frame_bytes), *out = malloc(frame_bytes + 64);
  uint8_t pay[1300], pkt[1500], rtx[1500], orig[1500];
  for (size_t i = 0; i < frame_bytes; i++) frame[i] = (uint8_t)(i * 7 + 1);
  unsigned long long frames = 0, packets = 0, lost = 0, repaired = 0, bad = 0;
  uint16_t seq = 0;
  uint64_t now = 0;
  uint64_t t0 = mc_now_us(), end = t0 + (uint64_t)(seconds * 1e6);
  while (mc_now_us() < end) {
    frame[0] = frames % 300 == 0 ? 0x10 : 0x11;
    size_t cnt = mc_vp8_packet_count(frame_bytes, MC_RTP_MTU_PAYLOAD);
    for (size_t i = 0; i < cnt; i++) {
      size_t pl, len;
      bool marker;
      mc_vp8_packetize((uint16_t)frames, frame, frame_bytes, MC_RTP_MTU_PAYLOAD, i, pay, sizeof pay, &pl, &marker);
      struct mc_rtp_packet p;
      memset(&p, 0, sizeof p);
      p.h.pt = 96;
      p.h.seq = seq++;
      p.h.ts = (uint32_t)frames * 3000;
      p.h.ssrc = 1;
      p.h.marker = marker;
      p.payload = pay;
      p.payload_len = pl;
      mc_rtp_write(&p, pkt, sizeof pkt, &len);
      mc_rtp_history_put(h, pkt, len, now);
      packets++;
      if (loss && next_rand() % 100 < loss) {
        lost++;
        continue;
      }
      struct mc_rtp_packet q;
      if (mc_rtp_parse(pkt, len, &q) == MC_OK) mc_vjb_push_vp8(j, &q, now);
    }
    /* the receiver NACKs, the sender answers with RTX, one RTT (10 ms) later */
    uint16_t nl[64];
    size_t nn = 0;
    mc_vjb_nack_list(j, now, nl, 64, &nn);
    for (size_t k = 0; k < nn; k++) {
      size_t xl, ol;
      struct mc_rtp_packet q;
      if (mc_rtp_history_rtx(h, nl[k], now, rtx, sizeof rtx, &xl) != MC_OK) continue;
      if (mc_rtx_unwrap(rtx, xl, 1, 96, orig, sizeof orig, &ol) != MC_OK) continue;
      if (mc_rtp_parse(orig, ol, &q) == MC_OK && mc_vjb_push_vp8(j, &q, now + 10) == MC_OK) repaired++;
    }
    struct mc_vjb_frame fr;
    while (mc_vjb_pop(j, now + 10, out, frame_bytes + 64, &fr) == MC_OK) {
      if (fr.len != frame_bytes || memcmp(out + 1, frame + 1, frame_bytes - 1) != 0) bad++;
      frames++;
    }
    if (mc_vjb_keyframe_request(j, now + 10)) frame[0] = 0x10;
    now += 33;
  }
  double el = (double)(mc_now_us() - t0) / 1e6;
  struct mc_vjb_stats st;
  mc_vjb_get_stats(j, &st);
  printf("video %zu B frames, %u%% loss: %.1f us/frame (%.0f frames/s), %.0f ns/packet; "
         "lost %llu, repaired %llu, frames out %llu, dropped %llu, PLI %llu%s\n",
         frame_bytes, loss, el * 1e6 / (double)frames, (double)frames / el, el * 1e9 / (double)packets, lost,
         repaired, (unsigned long long)st.frames_out, (unsigned long long)st.frames_dropped,
         (unsigned long long)st.keyframe_requests, bad ? "  CORRUPT FRAMES" : "");
  free(frame);
  free(out);
  mc_vjb_free(j);
  mc_rtp_history_free(h);
}

static void bench_twcc(void) {
  mc_twcc_recorder *r = NULL;
  if (mc_twcc_recorder_new(1, &r)) return;
  uint8_t buf[1500];
  unsigned long long fbs = 0, seq = 0, bytes = 0;
  uint64_t arrival = 1000000;
  uint64_t t0 = mc_now_us(), end = t0 + (uint64_t)(seconds * 1e6);
  while (mc_now_us() < end) {
    for (int i = 0; i < 100; i++) {
      arrival += 400 + next_rand() % 800;
      if (next_rand() % 50) mc_twcc_recorder_record(r, (uint16_t)seq, 2, arrival);
      seq++;
    }
    size_t n;
    while (mc_twcc_recorder_build(r, buf, sizeof buf, &n) == MC_OK) {
      fbs++;
      bytes += n;
    }
  }
  double el = (double)(mc_now_us() - t0) / 1e6;
  printf("twcc record 100 + build: %.2f us per 100 packets, %.0f B per feedback\n",
         el * 1e6 / ((double)seq / 100), (double)bytes / (double)fbs);
  mc_twcc_recorder_free(r);
}

static void on_pkt(const struct mc_rtcp_packet *p, void *user) { *(unsigned *)user += p->kind; }

static void bench_rtcp(void) {
  uint8_t buf[1500];
  size_t off = 0, n;
  struct mc_rtcp_sr sr = {.ssrc = 1, .rb_count = 1};
  mc_rtcp_write_sr(&sr, buf, sizeof buf, &n), off += n;
  mc_rtcp_write_sdes_cname(1, "medcall-0123456789", buf + off, sizeof buf - off, &n), off += n;
  struct mc_rtcp_remb remb = {.sender_ssrc = 1, .bitrate_bps = 2500000, .ssrc_count = 1};
  mc_rtcp_write_remb(&remb, buf + off, sizeof buf - off, &n), off += n;
  struct mc_twcc_status st[50];
  for (int i = 0; i < 50; i++) st[i] = (struct mc_twcc_status){(uint16_t)i, i % 9 != 4, 1000000 + i * 750};
  mc_rtcp_write_twcc(1, 2, 0, st, 50, buf + off, sizeof buf - off, &n), off += n;
  unsigned long long k = 0;
  unsigned sink = 0;
  uint64_t t0 = mc_now_us(), end = t0 + (uint64_t)(seconds * 1e6);
  while (mc_now_us() < end)
    for (int i = 0; i < 1000; i++, k++) mc_rtcp_parse(buf, off, on_pkt, &sink);
  double el = (double)(mc_now_us() - t0) / 1e6;
  printf("rtcp parse SR+SDES+REMB+TWCC(50) %zu B: %.0f ns/compound\n", off, el * 1e9 / (double)k);
}

int main(int argc, char **argv) {
  int c;
  while ((c = getopt(argc, argv, "d:f:l:")) != -1) {
    if (c == 'd') seconds = atof(optarg);
    else if (c == 'f') frame_bytes = (size_t)atol(optarg);
    else if (c == 'l') loss_pct = (unsigned)atoi(optarg);
    else {
      fprintf(stderr, "usage: %s [-d SECONDS] [-f FRAME_BYTES] [-l LOSS_PCT]\n", argv[0]);
      return 2;
    }
  }
  if (seconds <= 0 || frame_bytes < 2 || loss_pct > 50) return 2;
  bench_packet();
  bench_frames(0);
  bench_frames(loss_pct);
  bench_twcc();
  bench_rtcp();
  return 0;
}
