/* Fuzz target: the sender's consumers of the peer's RTCP feedback, as
 * src/pc/media.c applies it: generic NACK answered from the send history
 * with RTX (RFC 4588), transport-wide feedback into the bandwidth
 * estimator (mc_bwe_on_twcc_feedback), REMB and receiver-report loss. The
 * sender's own packets (trusted) are made by the target: each RTX answer
 * must unwrap to the very packet that was sent, and the estimate stays
 * within its bounds whatever the feedback says.
 *
 * Input: records [op][len:2][len bytes]:
 *   op & 1 == 0: the bytes as a compound RTCP packet from the peer
 *   op & 1 == 1: op >> 1 more media packets sent (sizes from the bytes),
 *     time moved on by the first byte (ms). */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

#define MEDIA_SSRC 0x11223344u
#define RTX_SSRC 0x55667788u
#define MEDIA_PT 96
#define RTX_PT 97
#define HISTORY 256
#define MIN_BPS 30000
#define MAX_BPS 3000000

static struct {
  mc_rtp_history *hist;
  mc_bwe *bwe;
  uint16_t seq, twcc_seq;
  uint64_t now_us;
  /* what was sent, by seq % HISTORY */
  uint8_t sent[HISTORY][1300];
  size_t sent_len[HISTORY];
  uint16_t sent_seq[HISTORY];
  uint64_t sent_ms[HISTORY];
  struct mc_twcc_status scratch[MC_TWCC_MAX_PACKETS];
  int nacked, rtx_ok;
} s;

static void send_media(size_t payload) {
  struct mc_rtp_packet p;
  memset(&p, 0, sizeof p);
  p.h.pt = MEDIA_PT;
  p.h.seq = s.seq++;
  p.h.ts = (uint32_t)(s.now_us / 1000 * 90);
  p.h.ssrc = MEDIA_SSRC;
  static uint8_t pl[1200];
  memset(pl, (int)(p.h.seq & 0xff), sizeof pl);
  p.payload = pl;
  p.payload_len = payload % sizeof pl;
  size_t slot = p.h.seq % HISTORY, len = 0;
  FUZZ_ASSERT(mc_rtp_write(&p, s.sent[slot], sizeof s.sent[slot], &len) == 0);
  s.sent_len[slot] = len;
  s.sent_seq[slot] = p.h.seq;
  s.sent_ms[slot] = s.now_us / 1000;
  FUZZ_ASSERT(mc_rtp_history_put(s.hist, s.sent[slot], len, s.now_us / 1000) == 0);
  /* probe clusters the estimator asks for take part too: their results
   * come from the same (hostile) feedback */
  struct mc_probe_cluster c;
  if (mc_bwe_probe_next(s.bwe, s.now_us, payload * 1000u, &c))
    for (int i = 0; i < c.min_packets; i++) mc_bwe_on_probe_sent(s.bwe, s.twcc_seq++, 300, s.now_us + (uint64_t)i * 100, &c);
  mc_bwe_on_packet_sent(s.bwe, s.twcc_seq++, len, s.now_us);
}

static void on_packet(const struct mc_rtcp_packet *p, void *user) {
  (void)user;
  uint64_t now_ms = s.now_us / 1000;
  switch (p->kind) {
  case MC_RTCP_KIND_NACK: {
    uint16_t seqs[512];
    size_t n = 0;
    if (p->u.nack.media_ssrc != MEDIA_SSRC || mc_rtcp_nack_seqs(&p->u.nack, seqs, MC_ARRAY_LEN(seqs), &n) != 0) break;
    for (size_t i = 0; i < n; i++) {
      uint8_t rtx[1500], back[1500];
      size_t len = 0, blen = 0;
      s.nacked++;
      int rc = mc_rtp_history_rtx(s.hist, seqs[i], now_ms, rtx, sizeof rtx, &len);
      size_t slot = seqs[i] % HISTORY;
      bool held = s.sent_len[slot] && s.sent_seq[slot] == seqs[i] && now_ms - s.sent_ms[slot] <= 1000;
      FUZZ_ASSERT((rc == 0) == held);
      if (rc != 0) continue;
      s.rtx_ok++;
      struct mc_rtp_packet r;
      FUZZ_ASSERT(mc_rtp_parse(rtx, len, &r) == 0 && r.h.ssrc == RTX_SSRC && r.h.pt == RTX_PT);
      FUZZ_ASSERT(mc_rtx_unwrap(rtx, len, MEDIA_SSRC, MEDIA_PT, back, sizeof back, &blen) == 0);
      FUZZ_ASSERT(blen == s.sent_len[slot] && !memcmp(back, s.sent[slot], blen));
    }
    break;
  }
  case MC_RTCP_KIND_TWCC: {
    int rc = mc_bwe_on_twcc_feedback(s.bwe, &p->u.twcc, s.scratch, MC_ARRAY_LEN(s.scratch), s.now_us);
    FUZZ_ASSERT(rc == 0 || (rc == MC_ETOOBIG && p->u.twcc.status_count > MC_TWCC_MAX_PACKETS));
    break;
  }
  case MC_RTCP_KIND_REMB:
    mc_bwe_on_remb(s.bwe, p->u.remb.bitrate_bps, s.now_us);
    break;
  case MC_RTCP_KIND_RR:
  case MC_RTCP_KIND_SR: {
    const struct mc_rtcp_report_block *rb = p->kind == MC_RTCP_KIND_RR ? p->u.rr.rb : p->u.sr.rb;
    unsigned n = p->kind == MC_RTCP_KIND_RR ? p->u.rr.rb_count : p->u.sr.rb_count;
    for (unsigned i = 0; i < n; i++)
      if (rb[i].ssrc == MEDIA_SSRC) {
        mc_bwe_on_rr_loss(s.bwe, rb[i].fraction_lost, s.now_us);
        mc_bwe_on_rtt(s.bwe, rb[i].dlsr >> 6);
      }
    break;
  }
  default:
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  memset(&s, 0, sizeof s);
  struct mc_rtp_history_config hc = {HISTORY, 1000, RTX_SSRC, RTX_PT, 5000};
  struct mc_bwe_config bc = {MIN_BPS, 300000, MAX_BPS};
  if (mc_rtp_history_new(&hc, &s.hist) != 0) return 0;
  if (mc_bwe_new(&bc, &s.bwe) != 0) {
    mc_rtp_history_free(s.hist);
    return 0;
  }
  s.seq = 65500; /* wraps within the input */
  s.now_us = 1000000;
  for (int i = 0; i < 40; i++) {
    send_media(1000);
    s.now_us += 5000;
  }
  size_t i = 0;
  while (size - i >= 3) {
    uint8_t op = data[i];
    size_t n = mc_get_be16(data + i + 1);
    i += 3;
    if (n > size - i) n = size - i;
    const uint8_t *b = data + i;
    i += n;
    if (op & 1) {
      s.now_us += n ? (uint64_t)b[0] * 1000 : 20000;
      for (unsigned k = 0; k < (unsigned)(op >> 1); k++) send_media(n > 1 + k ? (size_t)b[1 + k] * 5 : 1000);
    } else {
      s.now_us += 1000;
      mc_rtcp_parse(b, n, on_packet, NULL);
    }
    uint64_t t = mc_bwe_target_bps(s.bwe);
    FUZZ_ASSERT(t >= MIN_BPS && t <= MAX_BPS);
  }
  mc_rtp_history_free(s.hist);
  mc_bwe_free(s.bwe);
  return 0;
}
