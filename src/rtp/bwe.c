/* Bandwidth estimation after draft-ietf-rmcat-gcc-02 (Google Congestion
 * Control), with the trendline filter WebRTC now uses in place of the
 * draft's Kalman filter. Send side from transport-wide feedback (mc_bwe),
 * receive side from abs-send-time for REMB (mc_rbe); both share the
 * delay-based detector and the AIMD rate controller below. No clock reads:
 * every time comes from the caller. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define BWE_MIN_BPS 30000
#define BWE_START_BPS 300000
#define BWE_MAX_BPS 3000000

/* gcc-02 5.2: packets sent within burst_time form one group. */
#define BURST_US 5000
/* Trendline (WebRTC goog_cc): window of 20 groups, smoothing 0.9, gain 4. */
#define TREND_WINDOW 20
#define TREND_SMOOTHING 0.9
#define TREND_GAIN 4.0
#define TREND_MAX_DELTAS 60
/* gcc-02 5.4 adaptive threshold: initial 12.5 ms, within [6, 600] ms,
 * not adapted on outliers 15 ms above it; gains for the trendline's scale
 * (WebRTC): k_up 0.0087 when |m| is above the threshold, k_down 0.039. */
#define TH_INITIAL_MS 12.5
#define TH_MIN_MS 6.0
#define TH_MAX_MS 600.0
#define TH_MAX_OUTLIER_MS 15.0
#define TH_K_UP 0.0087
#define TH_K_DOWN 0.039
#define TH_MAX_STEP_MS 100.0
/* gcc-02 5.4: over-use only after it lasted overuse_time_th (10 ms). */
#define OVERUSE_TIME_MS 10.0
/* gcc-02 5.5 */
#define AIMD_BETA 0.85
#define AIMD_ETA 1.08 /* per second, far from convergence */
/* Until the first over-use, a faster climb (a stand-in for WebRTC's
 * initial probing, which reaches a few times the start rate within a
 * second): from 300 kbit/s, 8% a second needs 22 s to reach 2 Mbit/s. The
 * 1.5 x acknowledged bound still applies, and the first over-use ends it. */
#define AIMD_ETA_START 1.5
/* Near convergence at low rates half a (small) packet per response time is
 * a few kbit/s a second: a minimum keeps recovery from an audio-only dip
 * to seconds, not minutes. */
#define AIMD_MIN_INCREASE_BPS 10000.0
#define AIMD_ACKED_BOUND 1.5
#define AIMD_ACKED_SLACK_BPS 10000.0
/* Beyond gcc-02: a decrease to 0.85 x acknowledged drains a standing queue
 * at 15% of the link, so seconds of queue (a capacity drop into a deep
 * buffer) take tens of seconds to clear. The one-way delay over its recent
 * minimum estimates that queue; a decrease then goes down to
 * 1 - queue / 2 s of the acknowledged rate (no lower than 0.5), which only
 * differs from 0.85 beyond 300 ms of queue. The minimum is kept over two
 * 10 s buckets, so a lasting route change is forgotten within 20 s. */
#define QUEUE_DRAIN_US 2000000.0
#define QUEUE_MIN_FACTOR 0.5
#define OWD_BUCKET_US 10000000
/* Beyond gcc-02: a queue that never drains. The trendline sees growth, not
 * a level: a bottleneck whose buffer is full (a token bucket at 95% of its
 * rate, tail-dropping) shows a flat delay and some loss, between the loss
 * controller's 2% and 10%, so neither detector acts while the audio and
 * video sit 150 ms behind and lose packets. When even the smallest one-way
 * delay of the last 250-500 ms is STANDING_QUEUE_US over the path's
 * minimum, that is treated as over-use. Jitter alone lifts that smallest
 * delay by a few ms (the lab's 50 +- 15 ms: under 10 ms). A standing queue
 * that outlives STANDING_REBASE_US of decreases is a longer path (a route
 * or relay change), not a queue: its delay becomes the new minimum. */
#define STANDING_QUEUE_US 50000
#define RECENT_BUCKET_US 250000
#define STANDING_REBASE_US 5000000
/* gcc-02 6: loss-based controller */
#define LOSS_HIGH 0.10
#define LOSS_LOW 0.02
/* Loss is measured over at least a second and 50 packets, about what an
 * RR's fraction lost covers (gcc-02 6 reads it from RRs): shorter windows
 * turn 5% random loss into frequent readings over 10% and a downward
 * drift. */
#define LOSS_MIN_PACKETS 50
#define LOSS_WINDOW_US 1000000
#define LOSS_INCREASE_US 1000000
#define LOSS_DECREASE_BASE_US 300000
#define RR_STALE_TWCC_US 2000000 /* RR loss only without TWCC for this long */
/* acknowledged / incoming bitrate window */
#define RATE_WINDOW_US 500000
#define RATE_MIN_SPAN_US 150000
#define RATE_RING 2048
#define SENT_RING 4096
/* receive side: REMB every second, at once on a decrease over 3% */
#define REMB_INTERVAL_US 1000000
#define REMB_DECREASE 0.97
#define RBE_INIT_US 1000000 /* incoming rate measured this long starts the estimate */

/* ---- bitrate over a sliding window ---- */

struct rate_window {
  struct {
    int64_t t;
    uint32_t size;
  } ring[RATE_RING];
  size_t head, count; /* oldest at head */
  uint64_t bytes;
  int64_t first_t;
  bool have_first;
};

static void rate_evict(struct rate_window *w);

static void rate_add(struct rate_window *w, int64_t t, size_t size) {
  if (!w->have_first) {
    w->have_first = true;
    w->first_t = t;
  }
  if (w->count == RATE_RING) {
    w->bytes -= w->ring[w->head].size;
    w->head = (w->head + 1) % RATE_RING;
    w->count--;
  }
  size_t i = (w->head + w->count) % RATE_RING;
  w->ring[i].t = t;
  w->ring[i].size = (uint32_t)size;
  w->count++;
  w->bytes += size;
  rate_evict(w);
}

static void rate_evict(struct rate_window *w) {
  if (w->count == 0) return;
  int64_t newest = w->ring[(w->head + w->count - 1) % RATE_RING].t;
  while (w->count > 0 && w->ring[w->head].t <= newest - RATE_WINDOW_US) {
    w->bytes -= w->ring[w->head].size;
    w->head = (w->head + 1) % RATE_RING;
    w->count--;
  }
}

/* Bits per second over the window ending at the newest sample (after
 * rate_evict); 0 until RATE_MIN_SPAN_US of samples were seen. */
static uint64_t rate_get(const struct rate_window *w) {
  if (w->count == 0) return 0;
  int64_t newest = w->ring[(w->head + w->count - 1) % RATE_RING].t;
  int64_t span = newest - w->first_t;
  if (span < RATE_MIN_SPAN_US) return 0;
  if (span > RATE_WINDOW_US) span = RATE_WINDOW_US;
  return (uint64_t)((double)w->bytes * 8.0 * 1e6 / (double)span);
}

/* ---- gcc-02 5.2-5.4: groups, trendline, over-use detector ---- */

struct delay_det {
  /* current and previous complete group */
  bool have_group, have_prev;
  int64_t g_first_send, g_last_send, g_first_arrival, g_last_arrival;
  int64_t p_last_send, p_last_arrival;
  /* trendline */
  bool have_first_arrival;
  int64_t first_arrival;
  double acc_ms, smoothed_ms;
  double wx[TREND_WINDOW], wy[TREND_WINDOW];
  int wn, wpos;
  int num_deltas;
  double trend, prev_trend, modified;
  /* detector and threshold */
  double threshold_ms;
  double time_over_ms;
  int over_count;
  int64_t last_th_ms;
  bool have_th_time;
  enum mc_bwe_usage usage;
  uint64_t overuses, standing_overuses;
  /* one-way delay (clock offset included), its minimum over the last
   * 10-20 s and over the last 250-500 ms, and since when the latter stands
   * over the former */
  int64_t owd_last;
  struct mc_window_min owd_min, recent_min;
  bool standing;
  int64_t standing_since;
};

static void det_init(struct delay_det *d) {
  memset(d, 0, sizeof *d);
  d->threshold_ms = TH_INITIAL_MS;
  d->time_over_ms = -1;
}

static void det_owd(struct delay_det *d, int64_t send_us, int64_t arrival_us) {
  int64_t owd = arrival_us - send_us;
  mc_window_min_add(&d->owd_min, owd, arrival_us, OWD_BUCKET_US);
  mc_window_min_add(&d->recent_min, owd, arrival_us, RECENT_BUCKET_US);
  d->owd_last = owd;
}

/* True while the queue has not drained below STANDING_QUEUE_US for the
 * last 250-500 ms (see STANDING_QUEUE_US). */
static bool det_standing_queue(struct delay_det *d, int64_t now_us) {
  if (!d->recent_min.rolled) return false;
  int64_t recent = mc_window_min_get(&d->recent_min);
  if (recent - mc_window_min_get(&d->owd_min) <= STANDING_QUEUE_US) {
    d->standing = false;
    return false;
  }
  if (!d->standing) {
    d->standing = true;
    d->standing_since = now_us;
  } else if (now_us - d->standing_since >= STANDING_REBASE_US) {
    d->owd_min.cur = d->owd_min.prev = recent;
    d->standing = false;
    return false;
  }
  d->standing_overuses++;
  return true;
}

/* The detector's verdict, a standing queue counting as over-use. */
static enum mc_bwe_usage det_usage(struct delay_det *d, int64_t now_us) {
  if (d->usage == MC_BWE_OVERUSE) return MC_BWE_OVERUSE;
  return det_standing_queue(d, now_us) ? MC_BWE_OVERUSE : d->usage;
}

/* Queueing delay now: one-way delay over its recent minimum. */
static double det_queue_us(const struct delay_det *d) {
  if (!d->owd_min.have) return 0;
  return (double)(d->owd_last - mc_window_min_get(&d->owd_min));
}

static void det_update_threshold(struct delay_det *d, double m, int64_t now_ms) {
  if (!d->have_th_time) {
    d->have_th_time = true;
    d->last_th_ms = now_ms;
  }
  if (fabs(m) > d->threshold_ms + TH_MAX_OUTLIER_MS) {
    d->last_th_ms = now_ms; /* gcc-02 5.4: a spike (e.g. a route change) is not followed */
    return;
  }
  double k = fabs(m) < d->threshold_ms ? TH_K_DOWN : TH_K_UP;
  double dt = (double)(now_ms - d->last_th_ms);
  if (dt > TH_MAX_STEP_MS) dt = TH_MAX_STEP_MS;
  if (dt < 0) dt = 0;
  d->threshold_ms += k * (fabs(m) - d->threshold_ms) * dt;
  if (d->threshold_ms < TH_MIN_MS) d->threshold_ms = TH_MIN_MS;
  if (d->threshold_ms > TH_MAX_MS) d->threshold_ms = TH_MAX_MS;
  d->last_th_ms = now_ms;
}

/* gcc-02 5.4 over-use detector on the trendline's modified trend. */
static void det_detect(struct delay_det *d, double send_delta_ms, int64_t now_ms) {
  if (d->num_deltas < 2) return;
  double m = (double)MC_MIN(d->num_deltas, TREND_MAX_DELTAS) * d->trend * TREND_GAIN;
  d->modified = m;
  if (m > d->threshold_ms) {
    if (d->time_over_ms < 0) d->time_over_ms = send_delta_ms / 2;
    else d->time_over_ms += send_delta_ms;
    d->over_count++;
    if (d->time_over_ms > OVERUSE_TIME_MS && d->over_count > 1 && d->trend >= d->prev_trend) {
      d->time_over_ms = 0;
      d->over_count = 0;
      d->usage = MC_BWE_OVERUSE;
      d->overuses++;
    }
  } else if (m < -d->threshold_ms) {
    d->time_over_ms = -1;
    d->over_count = 0;
    d->usage = MC_BWE_UNDERUSE;
  } else {
    d->time_over_ms = -1;
    d->over_count = 0;
    d->usage = MC_BWE_NORMAL;
  }
  d->prev_trend = d->trend;
  det_update_threshold(d, m, now_ms);
}

/* Trendline: least-squares slope of the smoothed accumulated delay
 * variation against arrival time over the last TREND_WINDOW groups. */
static void det_on_delta(struct delay_det *d, int64_t send_delta_us, int64_t arrival_delta_us, int64_t arrival_us) {
  double send_ms = (double)send_delta_us / 1000.0, recv_ms = (double)arrival_delta_us / 1000.0;
  int64_t now_ms = arrival_us / 1000;
  if (d->num_deltas < 1000) d->num_deltas++;
  if (!d->have_first_arrival) {
    d->have_first_arrival = true;
    d->first_arrival = now_ms;
  }
  d->acc_ms += recv_ms - send_ms; /* gcc-02 5.3: d(i) */
  d->smoothed_ms = TREND_SMOOTHING * d->smoothed_ms + (1 - TREND_SMOOTHING) * d->acc_ms;
  d->wx[d->wpos] = (double)(now_ms - d->first_arrival);
  d->wy[d->wpos] = d->smoothed_ms;
  d->wpos = (d->wpos + 1) % TREND_WINDOW;
  if (d->wn < TREND_WINDOW) d->wn++;
  if (d->wn == TREND_WINDOW) {
    double xm = 0, ym = 0;
    for (int i = 0; i < d->wn; i++) {
      xm += d->wx[i];
      ym += d->wy[i];
    }
    xm /= d->wn;
    ym /= d->wn;
    double num = 0, den = 0;
    for (int i = 0; i < d->wn; i++) {
      num += (d->wx[i] - xm) * (d->wy[i] - ym);
      den += (d->wx[i] - xm) * (d->wx[i] - xm);
    }
    if (den > 0) d->trend = num / den;
  }
  det_detect(d, send_ms, now_ms);
}

static void det_reset_groups(struct delay_det *d) {
  d->have_group = d->have_prev = false;
}

/* One packet (send time on our clock, arrival on the receiver's), in send
 * order. gcc-02 5.2: a group is the packets sent within BURST_US of its
 * first; a packet arriving within BURST_US of the group's last with a
 * negative delay variation also joins it (it was queued behind the burst). */
static void det_on_packet(struct delay_det *d, int64_t send_us, int64_t arrival_us) {
  det_owd(d, send_us, arrival_us);
  if (!d->have_group) {
    d->have_group = true;
    d->g_first_send = d->g_last_send = send_us;
    d->g_first_arrival = d->g_last_arrival = arrival_us;
    return;
  }
  if (send_us < d->g_first_send) return; /* reordered from an older group */
  bool same = send_us - d->g_first_send <= BURST_US;
  if (!same) {
    int64_t ad = arrival_us - d->g_last_arrival, sd = send_us - d->g_last_send;
    if (ad >= 0 && ad < BURST_US && ad - sd < 0) same = true;
  }
  if (same) {
    if (send_us > d->g_last_send) d->g_last_send = send_us;
    if (arrival_us > d->g_last_arrival) d->g_last_arrival = arrival_us;
    return;
  }
  if (d->have_prev) {
    int64_t sd = d->g_last_send - d->p_last_send, ad = d->g_last_arrival - d->p_last_arrival;
    /* a clock jump or a reset on either side: start over (gcc-02 leaves
     * this to the implementation; 3 s like WebRTC) */
    if (ad < 0 || ad - sd > 3000000 || sd < 0) {
      det_reset_groups(d);
      d->have_group = true;
      d->g_first_send = d->g_last_send = send_us;
      d->g_first_arrival = d->g_last_arrival = arrival_us;
      return;
    }
    det_on_delta(d, sd, ad, d->g_last_arrival);
  }
  d->have_prev = true;
  d->p_last_send = d->g_last_send;
  d->p_last_arrival = d->g_last_arrival;
  d->g_first_send = d->g_last_send = send_us;
  d->g_first_arrival = d->g_last_arrival = arrival_us;
}

/* ---- gcc-02 5.5: AIMD rate controller ---- */

enum aimd_state { AIMD_HOLD = 0, AIMD_INCREASE, AIMD_DECREASE };

struct aimd {
  double rate, min, max;
  enum aimd_state state;
  double avg_max_kbps, var_max_kbps; /* of the acked rate at decreases; avg < 0: unknown */
  int64_t last_update_us, last_decrease_us;
  bool have_update, have_decrease;
  uint32_t rtt_ms;
};

static void aimd_init(struct aimd *a, double start, double min, double max) {
  memset(a, 0, sizeof *a);
  a->rate = start;
  a->min = min;
  a->max = max;
  a->avg_max_kbps = -1;
  a->var_max_kbps = 0.4;
  a->rtt_ms = 200;
}

static void aimd_note_max(struct aimd *a, double acked_kbps) {
  const double alpha = 0.05;
  if (a->avg_max_kbps < 0) a->avg_max_kbps = acked_kbps;
  else a->avg_max_kbps = (1 - alpha) * a->avg_max_kbps + alpha * acked_kbps;
  double norm = a->avg_max_kbps > 1.0 ? a->avg_max_kbps : 1.0;
  double e = a->avg_max_kbps - acked_kbps;
  a->var_max_kbps = (1 - alpha) * a->var_max_kbps + alpha * e * e / norm;
  if (a->var_max_kbps < 0.4) a->var_max_kbps = 0.4;
  if (a->var_max_kbps > 2.5) a->var_max_kbps = 2.5;
}

/* acked: the acknowledged (send side) or incoming (receive side) bitrate,
 * 0 when not known yet. */
static void aimd_update(struct aimd *a, enum mc_bwe_usage usage, double acked, double queue_us, int64_t now_us) {
  double dt_s = a->have_update ? (double)(now_us - a->last_update_us) / 1e6 : 0;
  if (dt_s < 0) dt_s = 0;
  if (dt_s > 1) dt_s = 1;
  a->have_update = true;
  a->last_update_us = now_us;
  /* gcc-02 5.5 state transitions */
  switch (usage) {
  case MC_BWE_OVERUSE: a->state = AIMD_DECREASE; break;
  case MC_BWE_UNDERUSE: a->state = AIMD_HOLD; break;
  default:
    if (a->state == AIMD_HOLD) a->state = AIMD_INCREASE;
    else if (a->state == AIMD_DECREASE) a->state = AIMD_HOLD;
    break;
  }
  double acked_kbps = acked / 1000.0;
  if (a->state == AIMD_INCREASE) {
    double std = sqrt(a->var_max_kbps * (a->avg_max_kbps > 1 ? a->avg_max_kbps : 1));
    if (acked > 0 && a->avg_max_kbps >= 0 && acked_kbps > a->avg_max_kbps + 3 * std) a->avg_max_kbps = -1;
    double inc;
    if (a->avg_max_kbps >= 0) {
      /* near convergence: half a packet per response time */
      double response_s = (a->rtt_ms + 100) / 1000.0;
      double bits_per_frame = a->rate / 30.0;
      double packets_per_frame = ceil(bits_per_frame / (1200.0 * 8));
      double packet_bits = bits_per_frame / (packets_per_frame > 0 ? packets_per_frame : 1);
      double per_s = 0.5 * packet_bits / response_s;
      if (per_s < AIMD_MIN_INCREASE_BPS) per_s = AIMD_MIN_INCREASE_BPS;
      inc = per_s * dt_s;
    } else {
      inc = a->rate * (pow(a->have_decrease ? AIMD_ETA : AIMD_ETA_START, dt_s) - 1.0);
      if (inc < AIMD_MIN_INCREASE_BPS * dt_s) inc = AIMD_MIN_INCREASE_BPS * dt_s;
    }
    double next = a->rate + inc;
    if (acked > 0) {
      /* gcc-02 5.5: never run far ahead of what the path delivers */
      double limit = AIMD_ACKED_BOUND * acked + AIMD_ACKED_SLACK_BPS;
      if (next > limit) next = a->rate > limit ? a->rate : limit;
    }
    a->rate = next;
  } else if (a->state == AIMD_DECREASE) {
    /* at most once per RTT unless the path delivers under half the rate */
    int64_t gap_us = (int64_t)MC_MAX(10u, MC_MIN(200u, a->rtt_ms)) * 1000;
    bool may = !a->have_decrease || now_us - a->last_decrease_us >= gap_us || (acked > 0 && acked < a->rate / 2);
    if (may) {
      /* gcc-02 5.5: A = beta * R_acked; a rate already below that (the
       * queue still draining after an earlier decrease) is kept */
      double beta = AIMD_BETA;
      double drain = 1.0 - queue_us / QUEUE_DRAIN_US;
      if (drain < QUEUE_MIN_FACTOR) drain = QUEUE_MIN_FACTOR;
      if (drain < beta) beta = drain;
      double next = acked > 0 ? beta * acked : beta * a->rate;
      if (next < a->rate) a->rate = next;
      if (acked > 0) aimd_note_max(a, acked_kbps);
      a->have_decrease = true;
      a->last_decrease_us = now_us;
    }
    a->state = AIMD_HOLD;
  }
  if (a->rate < a->min) a->rate = a->min;
  if (a->rate > a->max) a->rate = a->max;
}

/* ---- send side ---- */

struct sent_pkt {
  bool used;
  uint16_t seq;
  uint32_t size;
  int64_t send_us;
  struct mc_probe_cluster probe; /* id 0: not a probe */
};

/* The application-limited region: what the encoders produce is under
 * this share of the target (WebRTC's ALR detector starts near 65 %). */
#define ALR_SHARE 0.65
#define BWE_RAMP_US 1000000 /* mc_bwe_ramping */

struct mc_bwe {
  struct mc_bwe_config cfg;
  struct sent_pkt sent[SENT_RING];
  struct delay_det det;
  struct aimd aimd;
  /* acknowledged bitrate: bytes over the last 500 ms of arrival times. A
   * shorter window (or WebRTC's Bayesian smoothing of 150 ms windows) was
   * tried: short windows follow key-frame bursts upwards and loosen the
   * 1.5 x bound, and the smoothing delayed the reaction to a drop from 2
   * Mbit/s to 300 kbit/s in bench/bwe_sim by 0.8 s with a queue ten times
   * longer. A receiver that stalls and then reads a backlog does not
   * trigger over-use (the backlog arrives as one burst group, gcc-02
   * 5.2), see test_bwe's stall case. */
  struct rate_window acked;
  uint64_t acked_bps;
  int64_t last_arrival_us;
  bool have_arrival;
  /* loss-based */
  double loss_bps, last_loss;
  uint64_t lost_acc, total_acc;
  int64_t last_loss_inc_us, last_loss_dec_us, last_loss_eval_us;
  bool have_twcc, have_decrease;
  int64_t last_twcc_us, last_decrease_us; /* the target's last decrease */
  /* REMB */
  double remb_bps;
  bool have_remb;
  uint32_t rtt_ms;
  uint64_t feedbacks, packets_acked, packets_lost;
  /* probing */
  mc_probe_ctl *probe;
  mc_probe_est *probe_est;
  uint64_t probe_bps;
  int64_t ramp_until_us; /* see mc_bwe_ramping */
  bool have_ramp, have_rr_rtt;
};

static void cfg_defaults(const struct mc_bwe_config *in, struct mc_bwe_config *out) {
  memset(out, 0, sizeof *out);
  if (in) *out = *in;
  if (!out->min_bps) out->min_bps = BWE_MIN_BPS;
  if (!out->max_bps) out->max_bps = BWE_MAX_BPS;
  if (out->max_bps < out->min_bps) out->max_bps = out->min_bps;
  if (!out->start_bps) out->start_bps = BWE_START_BPS;
  if (out->start_bps < out->min_bps) out->start_bps = out->min_bps;
  if (out->start_bps > out->max_bps) out->start_bps = out->max_bps;
}

int mc_bwe_new(const struct mc_bwe_config *config, mc_bwe **out) {
  if (!out) return MC_EINVAL;
  mc_bwe *b = calloc(1, sizeof *b);
  if (!b) return MC_ENOMEM;
  cfg_defaults(config, &b->cfg);
  det_init(&b->det);
  aimd_init(&b->aimd, (double)b->cfg.start_bps, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
  b->loss_bps = (double)b->cfg.max_bps; /* no bound until loss is seen */
  b->rtt_ms = 200;
  if (mc_probe_ctl_new(b->cfg.start_bps, b->cfg.max_bps, &b->probe) != 0 || mc_probe_est_new(&b->probe_est) != 0) {
    mc_bwe_free(b);
    return MC_ENOMEM;
  }
  *out = b;
  return MC_OK;
}

void mc_bwe_free(mc_bwe *b) {
  if (!b) return;
  mc_probe_ctl_free(b->probe);
  mc_probe_est_free(b->probe_est);
  free(b);
}

void mc_bwe_on_probe_sent(mc_bwe *b, uint16_t twcc_seq, size_t size, uint64_t send_us,
                          const struct mc_probe_cluster *cluster) {
  if (!b) return;
  struct sent_pkt *s = &b->sent[twcc_seq % SENT_RING];
  s->used = true;
  s->seq = twcc_seq;
  s->size = (uint32_t)size;
  s->send_us = (int64_t)send_us;
  if (cluster) s->probe = *cluster;
  else memset(&s->probe, 0, sizeof s->probe);
}

void mc_bwe_on_packet_sent(mc_bwe *b, uint16_t twcc_seq, size_t size, uint64_t send_us) {
  mc_bwe_on_probe_sent(b, twcc_seq, size, send_us, NULL);
}

static double bwe_delay_term(const mc_bwe *b) {
  /* REMB alone (no transport-wide feedback ever) is honoured as is. */
  return b->have_twcc || !b->have_remb ? b->aimd.rate : (double)b->cfg.max_bps;
}

uint64_t mc_bwe_target_bps(const mc_bwe *b) {
  if (!b) return 0;
  double t = bwe_delay_term(b);
  if (b->loss_bps < t) t = b->loss_bps;
  if (b->have_remb && b->remb_bps < t) t = b->remb_bps;
  if (t < (double)b->cfg.min_bps) t = (double)b->cfg.min_bps;
  if (t > (double)b->cfg.max_bps) t = (double)b->cfg.max_bps;
  return (uint64_t)t;
}

uint64_t mc_bwe_acked_bps(const mc_bwe *b) { return b ? b->acked_bps : 0; }

/* A probe result above the delay-based rate replaces it unless the
 * detector sees over-use now (WebRTC's delay-based estimator does the
 * same); the result is what the path carried, so the 1.5 x acknowledged
 * bound does not apply to it. The loss-based bound follows while loss is
 * under 2 %. A result under the current rates (a probe into a link that
 * has not come back) changes nothing: the detectors handle decreases. */
static void bwe_apply_probe(mc_bwe *b, uint64_t probe_bps, enum mc_bwe_usage usage, int64_t now_us) {
  b->probe_bps = probe_bps;
  double r = (double)probe_bps;
  if (r > (double)b->cfg.max_bps) r = (double)b->cfg.max_bps;
  /* After the first decrease, one result raises the rate to 1.5 x what
   * is acknowledged at most (the next probe, once the media got through,
   * goes further): a token bucket's burst (the lab's tbf, 15 KB) passes a
   * probe at any rate, and a target at twice a 300 kbit/s link kept its
   * queue standing at 400 ms (lab quality-drop). */
  if (b->have_decrease && b->acked_bps) {
    double cap = AIMD_ACKED_BOUND * (double)b->acked_bps + AIMD_ACKED_SLACK_BPS;
    if (r > cap) r = cap;
  }
  if (usage != MC_BWE_OVERUSE && r > b->aimd.rate) {
    MC_LOGD("bwe", "probe result bps=%.0f delay_bps=%.0f", r, b->aimd.rate);
    b->aimd.rate = r;
    if (b->have_decrease) {
      b->ramp_until_us = now_us + BWE_RAMP_US;
      b->have_ramp = true;
    }
  }
  if (b->last_loss < LOSS_LOW && r > b->loss_bps) b->loss_bps = r;
}

/* gcc-02 6: loss-based controller. The decrease acts on the current
 * target (the rate actually in use), at most once per 300 ms + RTT; the
 * increase at most once a second. */
static void loss_update(mc_bwe *b, double p, int64_t now_us) {
  b->last_loss = p;
  double target = (double)mc_bwe_target_bps(b);
  if (p > LOSS_HIGH) {
    int64_t gap = LOSS_DECREASE_BASE_US + (int64_t)b->rtt_ms * 1000;
    if (b->last_loss_dec_us && now_us - b->last_loss_dec_us < gap) return;
    b->loss_bps = target * (1 - 0.5 * p);
    b->last_loss_dec_us = now_us;
    b->last_loss_inc_us = now_us;
    MC_LOGD("bwe", "loss decrease loss=%.3f loss_bps=%.0f", p, b->loss_bps);
  } else if (p < LOSS_LOW) {
    if (b->last_loss_inc_us && now_us - b->last_loss_inc_us < LOSS_INCREASE_US) return;
    b->loss_bps *= 1.05;
    /* Little loss at what the path now delivers: no reason to hold the
     * bound under it (after a collapse, 5% a second from the floor would
     * take half a minute to let the delay-based rate lead again). */
    double delivered = 1.5 * (double)b->acked_bps;
    if (b->loss_bps < delivered) b->loss_bps = delivered;
    b->last_loss_inc_us = now_us;
  }
  if (b->loss_bps < (double)b->cfg.min_bps) b->loss_bps = (double)b->cfg.min_bps;
  if (b->loss_bps > (double)b->cfg.max_bps) b->loss_bps = (double)b->cfg.max_bps;
}

void mc_bwe_on_twcc(mc_bwe *b, const struct mc_twcc_status *st, size_t count, uint64_t now_us) {
  if (!b || !st) return;
  int64_t now = (int64_t)now_us;
  b->have_twcc = true;
  b->last_twcc_us = now;
  b->feedbacks++;
  uint64_t lost = 0, known = 0, probe_bps = 0;
  int64_t fb_rtt = -1;
  for (size_t i = 0; i < count; i++) {
    struct sent_pkt *s = &b->sent[st[i].seq % SENT_RING];
    if (!s->used || s->seq != st[i].seq) continue; /* not ours, or too old */
    known++;
    /* Loss counts only for packets sent after the target last went down
     * (for delay or for loss): those sent before were sent at a rate
     * already corrected. After a capacity drop, with a second of queue,
     * the same burst of loss would otherwise cut a rate the delay-based
     * decrease had already brought under the link once or twice more
     * (the lab's drop to 300 kbit/s: down to 111 kbit/s, video paused). */
    bool counts = !b->have_decrease || s->send_us >= b->last_decrease_us;
    if (counts) {
      b->total_acc++;
      if (!st[i].received) b->lost_acc++;
    }
    if (!st[i].received) {
      lost++;
      continue;
    }
    s->used = false; /* a later report of the same seq is a duplicate */
    if (now >= s->send_us && (fb_rtt < 0 || now - s->send_us < fb_rtt)) fb_rtt = now - s->send_us;
    int64_t arr = st[i].arrival_us;
    if (b->have_arrival && arr < b->last_arrival_us - 5000000) {
      /* the peer's clock went back (reset): start the detector over */
      det_init(&b->det);
      memset(&b->acked, 0, sizeof b->acked);
    }
    b->have_arrival = true;
    if (arr > b->last_arrival_us) b->last_arrival_us = arr;
    det_on_packet(&b->det, s->send_us, arr);
    rate_add(&b->acked, arr, s->size);
    if (s->probe.id > 0) {
      uint64_t r = mc_probe_est_on_packet(b->probe_est, &s->probe, s->size, s->send_us, arr);
      if (r > probe_bps) probe_bps = r;
    }
  }
  /* Until receiver reports give a round trip, the quickest feedback's
   * (sent to fed back, the peer's feedback interval included), as WebRTC
   * takes its round trip from transport-wide feedback: the additive
   * increase near the last decrease is half a packet per (RTT + 100 ms),
   * and the default 200 ms made it about 11 kbit/s a second for the
   * first seconds of the lab's rate500k (RTT 1-30 ms; the first RR-based
   * RTT after 5 s), 8 s from the first over-use to 90 % of the link. */
  if (!b->have_rr_rtt && fb_rtt >= 0) b->aimd.rtt_ms = (uint32_t)MC_MIN(fb_rtt / 1000, 1000);
  b->packets_acked += known - lost;
  b->packets_lost += lost;
  uint64_t ab = rate_get(&b->acked);
  if (ab) b->acked_bps = ab;
  uint64_t before = mc_bwe_target_bps(b);
  enum mc_bwe_usage usage = det_usage(&b->det, now);
  aimd_update(&b->aimd, usage, (double)b->acked_bps, det_queue_us(&b->det), now);
  if (probe_bps) {
    mc_probe_ctl_on_result(b->probe);
    bwe_apply_probe(b, probe_bps, usage, now);
  }
  if (b->total_acc >= LOSS_MIN_PACKETS && now - b->last_loss_eval_us >= LOSS_WINDOW_US) {
    double p = (double)b->lost_acc / (double)b->total_acc;
    loss_update(b, p, now);
    b->lost_acc = b->total_acc = 0;
    b->last_loss_eval_us = now;
  }
  uint64_t after = mc_bwe_target_bps(b);
  if (after < before) {
    b->have_decrease = true;
    b->last_decrease_us = now;
  }
  if (usage == MC_BWE_OVERUSE) mc_probe_ctl_on_overuse(b->probe, now);
  mc_probe_ctl_on_delivered(b->probe, b->acked_bps);
  mc_probe_ctl_on_estimate(b->probe, after, now);
  if (after != before && usage == MC_BWE_OVERUSE)
    MC_LOGD("bwe", "overuse target=%llu acked=%llu trend=%.2f th=%.2f", (unsigned long long)after,
            (unsigned long long)b->acked_bps, b->det.modified, b->det.threshold_ms);
}

int mc_bwe_on_twcc_feedback(mc_bwe *b, const struct mc_rtcp_twcc *fb, struct mc_twcc_status *scratch, size_t cap,
                            uint64_t now_us) {
  size_t n = 0;
  /* On MC_ETOOBIG n is the count the feedback claims, not what scratch
   * holds: nothing of it is used. */
  int rc = mc_rtcp_twcc_decode(fb, scratch, cap, &n);
  if (rc < 0) return rc;
  mc_bwe_on_twcc(b, scratch, n, now_us);
  return MC_OK;
}

void mc_bwe_on_rr_loss(mc_bwe *b, uint8_t fraction_lost, uint64_t now_us) {
  if (!b) return;
  int64_t now = (int64_t)now_us;
  if (b->have_twcc && now - b->last_twcc_us < RR_STALE_TWCC_US) return;
  loss_update(b, fraction_lost / 256.0, now);
}

void mc_bwe_on_rtt(mc_bwe *b, uint32_t rtt_ms) {
  if (!b) return;
  b->rtt_ms = rtt_ms;
  b->aimd.rtt_ms = rtt_ms;
  b->have_rr_rtt = true;
}

/* With REMB alone, the peer's receive-side estimator measures our probes
 * (mc_rbe_on_packet) and its next REMB carries the result. */
void mc_bwe_on_remb(mc_bwe *b, uint64_t bps, uint64_t now_us) {
  if (!b) return;
  /* a REMB up on the last is the peer's measure of a probe, or close
   * enough: no need to send it again */
  if (!b->have_remb || (double)bps > b->remb_bps) mc_probe_ctl_on_result(b->probe);
  else if ((double)bps < REMB_DECREASE * b->remb_bps) mc_probe_ctl_on_overuse(b->probe, (int64_t)now_us);
  b->have_remb = true;
  b->remb_bps = (double)bps;
  mc_probe_ctl_on_estimate(b->probe, mc_bwe_target_bps(b), (int64_t)now_us);
}

/* After the first decrease a probe's result raises the rate to 1.5 x what
 * is acknowledged at most, and a further probe waits until the path
 * delivered 85 % of it (probe.c): both wait for the encoder, which follows
 * a higher target over a second or more (the lab's VP8: sent 60-70 % of
 * the target while it climbed), so after drop300k's return the estimate
 * went up a step every 1.5-2 s and reached 90 % of the link after 9 s.
 * For a while after such a raise the caller pads up to the target
 * (pc/media.c): the path then carries the raised rate at once, proving it
 * (the next probe goes further) or disproving it (over-use within a few
 * feedback intervals, where a token bucket's burst had passed the probe). */
bool mc_bwe_ramping(const mc_bwe *b, uint64_t now_us) {
  return b && b->have_ramp && (int64_t)now_us < b->ramp_until_us;
}

bool mc_bwe_probe_next(mc_bwe *b, uint64_t now_us, uint64_t media_bps, struct mc_probe_cluster *out) {
  if (!b || !out) return false;
  uint64_t target = mc_bwe_target_bps(b);
  mc_probe_ctl_on_estimate(b->probe, target, (int64_t)now_us);
  bool alr = (double)media_bps < ALR_SHARE * (double)target;
  return mc_probe_ctl_next(b->probe, (int64_t)now_us, alr, out);
}

void mc_bwe_get_stats(const mc_bwe *b, struct mc_bwe_stats *out) {
  if (!b || !out) return;
  memset(out, 0, sizeof *out);
  out->target_bps = mc_bwe_target_bps(b);
  out->delay_bps = (uint64_t)b->aimd.rate;
  out->loss_bps = (uint64_t)b->loss_bps;
  out->remb_bps = b->have_remb ? (uint64_t)b->remb_bps : 0;
  out->acked_bps = b->acked_bps;
  out->trend = b->det.modified;
  out->threshold_ms = b->det.threshold_ms;
  out->usage = b->det.usage;
  out->loss = b->last_loss;
  out->rtt_ms = b->rtt_ms;
  out->feedbacks = b->feedbacks;
  out->overuses = b->det.overuses;
  out->standing_overuses = b->det.standing_overuses;
  out->packets_acked = b->packets_acked;
  out->packets_lost = b->packets_lost;
  out->probes = mc_probe_ctl_clusters(b->probe);
  out->probe_bps = b->probe_bps;
}

/* ---- receive side (REMB) ---- */

struct mc_rbe {
  struct mc_bwe_config cfg;
  struct delay_det det;
  struct aimd aimd;
  struct rate_window incoming;
  bool have_abs, valid;
  uint32_t last_abs;
  int64_t abs_ext; /* unwrapped abs-send-time, 2^-18 s */
  int64_t first_arrival_us, last_arrival_us;
  uint64_t last_remb_us, last_remb_bps;
  bool have_remb;
  /* probe clusters seen as runs of padding (mc_rbe_on_packet) */
  mc_probe_est *probe_est;
  struct mc_probe_cluster run;
  int64_t run_last_send;
  bool in_run, probe_raised;
};

/* A run of padding with gaps under this is one cluster: our probes leave
 * at 60 kbit/s or more in packets of at most 300 bytes, 40 ms apart at
 * worst only below that; 10 ms keeps two clusters (or two ticks of
 * filler padding, 20 ms apart) apart. */
#define RBE_PROBE_GAP_US 10000

int mc_rbe_new(const struct mc_bwe_config *config, mc_rbe **out) {
  if (!out) return MC_EINVAL;
  mc_rbe *r = calloc(1, sizeof *r);
  if (!r) return MC_ENOMEM;
  cfg_defaults(config, &r->cfg);
  det_init(&r->det);
  aimd_init(&r->aimd, (double)r->cfg.start_bps, (double)r->cfg.min_bps, (double)r->cfg.max_bps);
  if (mc_probe_est_new(&r->probe_est) != 0) {
    free(r);
    return MC_ENOMEM;
  }
  *out = r;
  return MC_OK;
}

void mc_rbe_free(mc_rbe *r) {
  if (!r) return;
  mc_probe_est_free(r->probe_est);
  free(r);
}

/* WebRTC's receive-side estimator finds probes by their send spacing; a
 * run of padding-only packets is simpler and is what our sender probes
 * with. Its result (as for transport-wide feedback, mc_probe_est) starts
 * the estimate, or raises it unless the detector sees over-use. */
static void rbe_probe(mc_rbe *r, int64_t send_us, size_t size, int64_t arr) {
  if (!r->in_run || send_us < r->run_last_send || send_us - r->run_last_send > RBE_PROBE_GAP_US) {
    r->in_run = true;
    r->run.id = r->run.id % 0xffff + 1;
    r->run.min_packets = 5;
    r->run.min_bytes = 0;
    r->run.bps = 0;
  }
  r->run_last_send = send_us;
  uint64_t res = mc_probe_est_on_packet(r->probe_est, &r->run, size, send_us, arr);
  if (!res) return;
  double v = (double)res;
  if (v > r->aimd.max) v = r->aimd.max;
  if (!r->valid) {
    r->valid = true;
    r->aimd.rate = v < r->aimd.min ? r->aimd.min : v;
    r->aimd.have_update = true;
    r->aimd.last_update_us = arr;
    r->probe_raised = true;
  } else if (v > r->aimd.rate && r->det.usage != MC_BWE_OVERUSE) {
    r->aimd.rate = v;
    r->probe_raised = true;
  }
}

void mc_rbe_on_packet(mc_rbe *r, uint32_t abs_send_time, size_t size, uint64_t arrival_us, bool padding) {
  if (!r) return;
  abs_send_time &= 0xffffff;
  int64_t arr = (int64_t)arrival_us;
  if (!r->have_abs) {
    r->have_abs = true;
    r->abs_ext = abs_send_time;
    r->first_arrival_us = arr;
  } else {
    /* 24-bit wrap (every 64 s): the signed distance from the last value */
    int32_t diff = (int32_t)((abs_send_time - r->last_abs) << 8) >> 8;
    r->abs_ext += diff;
  }
  r->last_abs = abs_send_time;
  r->last_arrival_us = arr;
  int64_t send_us = r->abs_ext * 1000000 / (1 << 18);
  det_on_packet(&r->det, send_us, arr);
  rate_add(&r->incoming, arr, size);
  if (padding) rbe_probe(r, send_us, size, arr);
  uint64_t in = rate_get(&r->incoming);
  if (!r->valid) {
    /* WebRTC's remote estimator also waits for a measured incoming rate
     * before it says anything: starting from a guess would tell a sender
     * already above it to slow down for nothing. */
    if (in && (arr - r->first_arrival_us >= RBE_INIT_US || r->det.usage == MC_BWE_OVERUSE)) {
      r->valid = true;
      r->aimd.rate = (double)in;
      if (r->aimd.rate < r->aimd.min) r->aimd.rate = r->aimd.min;
      if (r->aimd.rate > r->aimd.max) r->aimd.rate = r->aimd.max;
      r->aimd.have_update = true;
      r->aimd.last_update_us = arr;
    }
    return;
  }
  aimd_update(&r->aimd, det_usage(&r->det, arr), (double)in, det_queue_us(&r->det), arr);
}

void mc_rbe_on_rtt(mc_rbe *r, uint32_t rtt_ms) {
  if (r) r->aimd.rtt_ms = rtt_ms;
}

uint64_t mc_rbe_estimate_bps(const mc_rbe *r) { return r && r->valid ? (uint64_t)r->aimd.rate : 0; }

uint64_t mc_rbe_incoming_bps(const mc_rbe *r) {
  if (!r) return 0;
  return rate_get(&r->incoming);
}

bool mc_rbe_remb_due(mc_rbe *r, uint64_t now_us, uint64_t *bps) {
  if (!r || !r->valid) return false;
  uint64_t est = (uint64_t)r->aimd.rate;
  bool due = !r->have_remb || now_us - r->last_remb_us >= REMB_INTERVAL_US || r->probe_raised ||
             (double)est < REMB_DECREASE * (double)r->last_remb_bps;
  if (!due) return false;
  r->probe_raised = false;
  r->have_remb = true;
  r->last_remb_us = now_us;
  r->last_remb_bps = est;
  if (bps) *bps = est;
  return true;
}
