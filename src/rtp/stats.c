/* Receive statistics per SSRC: RFC 3550 A.1 (sequence number state), A.3
 * (expected and lost packets) and A.8 (interarrival jitter). */
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define RTP_SEQ_MOD (1u << 16)

void mc_rtp_recv_stats_init(struct mc_rtp_recv_stats *s, uint32_t ssrc, uint32_t clock_rate) {
  memset(s, 0, sizeof *s);
  s->ssrc = ssrc;
  s->clock_rate = clock_rate ? clock_rate : 90000;
  s->bad_seq = RTP_SEQ_MOD + 1;
}

static void init_seq(struct mc_rtp_recv_stats *s, uint16_t seq) {
  s->base_seq = seq;
  s->max_seq = seq;
  s->bad_seq = RTP_SEQ_MOD + 1;
  s->cycles = 0;
  s->received = 0;
  s->received_prior = 0;
  s->expected_prior = 0;
}

/* RFC 3550 A.1 update_seq without probation. Returns false for a packet
 * to leave out of the counts (a large jump not yet confirmed). */
static bool update_seq(struct mc_rtp_recv_stats *s, uint16_t seq) {
  uint16_t udelta = (uint16_t)(seq - s->max_seq);
  if (udelta < MC_RTP_MAX_DROPOUT) {
    if (seq < s->max_seq) s->cycles += RTP_SEQ_MOD; /* wrapped */
    s->max_seq = seq;
  } else if (udelta <= RTP_SEQ_MOD - MC_RTP_MAX_MISORDER) {
    /* the sequence number made a very large jump */
    if (seq == s->bad_seq) {
      /* two sequential packets: the source restarted */
      init_seq(s, seq);
    } else {
      s->bad_seq = (seq + 1u) & (RTP_SEQ_MOD - 1);
      return false;
    }
  }
  /* else duplicate or reordered packet */
  return true;
}

void mc_rtp_recv_stats_update(struct mc_rtp_recv_stats *s, uint16_t seq, uint32_t rtp_ts, size_t payload_len,
                              uint64_t arrival_us) {
  if (!s->started) {
    init_seq(s, seq);
    s->started = true;
  } else if (!update_seq(s, seq)) {
    return;
  }
  s->received++;
  s->bytes += payload_len;
  /* A.8: transit in timestamp units; arrival converted to the media clock */
  int64_t arrival = (int64_t)((arrival_us * s->clock_rate) / 1000000);
  int64_t transit = arrival - (int64_t)rtp_ts;
  if (s->have_transit) {
    /* the 32-bit timestamp wraps: take the difference mod 2^32 as signed */
    int32_t d = (int32_t)(uint32_t)(transit - s->transit);
    uint32_t ad = d < 0 ? (uint32_t)-(int64_t)d : (uint32_t)d;
    /* J += (|D| - J) / 16, with jitter kept * 16 as A.8 does */
    int64_t j = (int64_t)s->jitter_q4 + (int64_t)ad - (int64_t)((s->jitter_q4 + 8) >> 4);
    s->jitter_q4 = j < 0 ? 0 : (j > UINT32_MAX ? UINT32_MAX : (uint32_t)j);
  }
  s->transit = transit;
  s->have_transit = true;
}

void mc_rtp_recv_stats_on_sr(struct mc_rtp_recv_stats *s, uint64_t sr_ntp, uint32_t sr_rtp_ts, uint64_t now_us) {
  s->last_sr_ntp = sr_ntp;
  s->last_sr_rtp_ts = sr_rtp_ts;
  s->last_sr_at_us = now_us;
  s->have_sr = true;
}

uint32_t mc_rtp_recv_stats_extended_max(const struct mc_rtp_recv_stats *s) { return s->cycles + s->max_seq; }

int64_t mc_rtp_recv_stats_lost(const struct mc_rtp_recv_stats *s) {
  if (!s->started) return 0;
  int64_t expected = (int64_t)mc_rtp_recv_stats_extended_max(s) - s->base_seq + 1;
  return expected - (int64_t)s->received;
}

uint32_t mc_rtp_recv_stats_jitter(const struct mc_rtp_recv_stats *s) { return s->jitter_q4 >> 4; }

int mc_rtp_recv_stats_report_block(struct mc_rtp_recv_stats *s, uint64_t now_us, struct mc_rtcp_report_block *rb) {
  if (!s || !rb) return MC_EINVAL;
  if (!s->started) return MC_ESTATE;
  memset(rb, 0, sizeof *rb);
  rb->ssrc = s->ssrc;
  uint32_t ext_max = mc_rtp_recv_stats_extended_max(s);
  uint32_t expected = ext_max - s->base_seq + 1;
  int64_t lost = (int64_t)expected - (int64_t)s->received;
  /* A.3: clamp to the 24-bit signed field */
  if (lost > 0x7fffff) lost = 0x7fffff;
  if (lost < -0x800000) lost = -0x800000;
  rb->cumulative_lost = (int32_t)lost;
  uint32_t expected_interval = expected - s->expected_prior;
  int64_t received_interval = (int64_t)(s->received - s->received_prior);
  int64_t lost_interval = (int64_t)expected_interval - received_interval;
  s->expected_prior = expected;
  s->received_prior = s->received;
  if (expected_interval == 0 || lost_interval <= 0)
    rb->fraction_lost = 0;
  else
    rb->fraction_lost = (uint8_t)MC_MIN(255, (lost_interval << 8) / expected_interval);
  rb->highest_seq = ext_max;
  rb->jitter = mc_rtp_recv_stats_jitter(s);
  if (s->have_sr) {
    rb->lsr = mc_ntp_compact(s->last_sr_ntp);
    uint64_t since = now_us > s->last_sr_at_us ? now_us - s->last_sr_at_us : 0;
    rb->dlsr = (uint32_t)((since << 16) / 1000000);
  }
  return MC_OK;
}
