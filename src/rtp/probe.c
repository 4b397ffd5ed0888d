/* Bandwidth probing, after WebRTC GoogCC's probe controller and probe
 * bitrate estimator. The delay-based rate may not grow past 1.5 x what the
 * path acknowledges (gcc-02 5.5), so alone it climbs at 8% a second: from
 * 300 kbit/s to 2 Mbit/s takes 24 s, and an encoder that uses less than
 * its estimate never lets it climb at all. A probe is a short cluster of
 * padding sent at a chosen rate (at least 5 packets over 15 ms); the rate
 * the receiver saw it arrive at, against the rate it left at, says what
 * the path carries now. No clock reads: every time comes from the caller. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

/* WebRTC ProbeController: 5 packets and 15 ms at least per cluster; 3 x
 * then 6 x the start rate at the start; further probes at 2 x while a
 * result reaches 70 % of what was probed (WebRTC: within 1 s). Beyond
 * WebRTC, a further probe also waits until the path delivered 85 % of the
 * rate last probed, or of the estimate when lower (the acknowledged rate,
 * when known), within 3 s: a
 * token bucket with a 15 KB burst (the lab's tbf) passes a 15 ms probe at
 * its send rate whatever the bucket's rate, and in the lab's drop to 300
 * kbit/s the chain of further probes took the estimate to 3 Mbit/s in a
 * second, loss and frozen video following; media at the probed rate does
 * not fit through such a bucket, so the chain stops there. */
#define PROBE_MIN_PACKETS 5
#define PROBE_MIN_DURATION_US 15000
#define PROBE_FIRST_SCALE 3.0
#define PROBE_SECOND_SCALE 6.0
#define PROBE_FURTHER_SCALE 2.0
#define PROBE_FURTHER_MIN 0.7
#define PROBE_WAIT_US 1000000 /* for a result, before other probes */
#define PROBE_FURTHER_US 3000000
#define PROBE_DELIVERED_MIN 0.85
/* In the application-limited region (the media uses well under the
 * estimate), a probe at 2 x the estimate every 5 s, as WebRTC's periodic
 * ALR probing. */
#define PROBE_ALR_INTERVAL_US 5000000
#define PROBE_ALR_SCALE 2.0
/* A large drop: the estimate under half its peak since the last one.
 * WebRTC probes once at 85 % of the rate before a drop under 66 %; a link
 * that comes back later (the lab's drop to 300 kbit/s for 12 s) would
 * then climb back at 8 % a second, so a probe at 2 x the estimate (no
 * higher than that former rate) follows every 2 s, for 30 s from the
 * drop, while the estimate stays under 85 % of it. Each costs 15 ms at 2
 * x the rate: 30 ms of queue on a link that has not come back, and on
 * one that never went (a probe's over-use, a decrease to 0.85 x acked,
 * which 66 % would often count as a drop) an over-use every 2 s: the
 * threshold is half, and the 30 s are not renewed by later drops. */
#define PROBE_DROP_THRESHOLD 0.5
#define PROBE_DROP_FRACTION 0.85
#define PROBE_RECOVERY_INTERVAL_US 2000000
/* A recovery probe that raised the estimate by half or more, followed
 * within 2.5 s by over-use, read a link that had
 * not come back (the lab's token bucket passes a 15 ms probe at any rate
 * from its 15 KB burst; every 2 s that kept the 300 kbit/s link's queue at
 * 400 ms): the interval doubles, up to 4 s, until the next drop. Up to
 * 16 s, a link back after 15 s waited up to 8 s for the next probe
 * (bench/bwe_sim tbf-2M-300k-2M with the return moved over 16 s: 2.8-10.6
 * s to 90 %, 1.7-6.9 s with 4 s); the queue of a wrong probe is now
 * shorter-lived too, as the padding after a raise (mc_bwe_ramping) shows
 * the over-use within a few feedback intervals. */
#define PROBE_RECOVERY_FALSE_US 2500000
#define PROBE_RECOVERY_MAX_INTERVAL_US 4000000
#define PROBE_RECOVERY_FOR_US 30000000
#define PROBE_MAX_PENDING 4
/* Beyond WebRTC: a probe that brought no result within 1 s (its packets
 * lost, or arrivals jittered into a measuring error: the lab's lossy-rtt,
 * 50 +- 15 ms each way, defeats a 15 ms cluster) is sent again, twice as
 * long each time up to 120 ms, at most 3 times in a row; a result brings
 * the duration back to 15 ms. */
#define PROBE_RETRIES 3
#define PROBE_MAX_DURATION_US 120000

struct mc_probe_ctl {
  uint64_t start_bps, max_bps;
  bool started;
  int next_id;
  struct mc_probe_cluster pending[PROBE_MAX_PENDING];
  int npending;
  uint64_t estimate;
  /* exponential probing: further probes while results reach this */
  uint64_t further_min_bps;
  int64_t further_until_us;
  int64_t last_probe_us;
  bool have_probe;
  uint64_t last_probe_bps, delivered_bps;
  bool got_result, retry_further;
  int retries;
  int64_t duration_us;
  /* large drops */
  uint64_t peak_bps, drop_from_bps, delivered_peak_bps;
  int64_t drop_at_us;
  bool have_drop, last_was_recovery, recovery_raised;
  uint64_t estimate_at_probe;
  int64_t recovery_interval_us;
  uint64_t clusters;
};

int mc_probe_ctl_new(uint64_t start_bps, uint64_t max_bps, mc_probe_ctl **out) {
  if (!out || !start_bps || max_bps < start_bps) return MC_EINVAL;
  mc_probe_ctl *c = calloc(1, sizeof *c);
  if (!c) return MC_ENOMEM;
  c->start_bps = start_bps;
  c->max_bps = max_bps;
  c->estimate = start_bps;
  c->peak_bps = start_bps;
  c->next_id = 1;
  c->duration_us = PROBE_MIN_DURATION_US;
  c->recovery_interval_us = PROBE_RECOVERY_INTERVAL_US;
  *out = c;
  return MC_OK;
}

void mc_probe_ctl_free(mc_probe_ctl *c) { free(c); }

static void queue_probe(mc_probe_ctl *c, uint64_t bps, int64_t now_us, bool further) {
  /* WebRTC: a probe at the maximum is the last of its series */
  if (bps >= c->max_bps) {
    bps = c->max_bps;
    further = false;
  }
  if (bps <= c->estimate || c->npending == PROBE_MAX_PENDING) return;
  struct mc_probe_cluster *p = &c->pending[c->npending++];
  p->id = c->next_id++;
  if (c->next_id > 0xffff) c->next_id = 1;
  p->bps = bps;
  p->min_packets = PROBE_MIN_PACKETS;
  p->min_bytes = (size_t)((double)bps * (double)c->duration_us / 1e6 / 8.0);
  c->last_probe_us = now_us;
  c->have_probe = true;
  c->last_probe_bps = bps;
  c->got_result = false;
  c->retry_further = further;
  c->last_was_recovery = false;
  c->recovery_raised = false;
  c->estimate_at_probe = c->estimate;
  /* WebRTC: a result of 70 % of the highest rate probed calls for the next */
  c->further_min_bps = further ? (uint64_t)(PROBE_FURTHER_MIN * (double)bps) : 0;
  c->further_until_us = now_us + PROBE_FURTHER_US;
  c->clusters++;
}

void mc_probe_ctl_on_estimate(mc_probe_ctl *c, uint64_t bps, int64_t now_us) {
  if (!c) return;
  if (c->last_was_recovery && (double)bps >= 1.5 * (double)c->estimate_at_probe) c->recovery_raised = true;
  c->estimate = bps;
  if (bps > c->peak_bps) c->peak_bps = bps;
  /* The peak is what was estimated and also delivered: the start probes
   * through a token bucket's burst put the estimate at twice a 500 kbit/s
   * link for a moment, the over-use that followed read as a large drop,
   * and recovery probes to that rate every 2-16 s for 30 s kept putting
   * the link's queue at 150-200 ms (lab rate500k: a spike of 560-600
   * kbit/s sent every 8-10 s; bench/bwe_sim tbf-500k). */
  uint64_t peak = c->peak_bps;
  if (c->delivered_peak_bps && c->delivered_peak_bps < peak) peak = c->delivered_peak_bps;
  if ((double)bps < PROBE_DROP_THRESHOLD * (double)peak) {
    /* a fall in steps (each decrease once per RTT) is one drop from the
     * rate before the first step */
    bool recent = c->have_drop && now_us - c->drop_at_us <= PROBE_RECOVERY_FOR_US;
    if (!recent) {
      c->drop_from_bps = peak;
      c->drop_at_us = now_us;
      c->recovery_interval_us = PROBE_RECOVERY_INTERVAL_US;
    } else if (peak > c->drop_from_bps) {
      c->drop_from_bps = peak;
    }
    c->have_drop = true;
    c->peak_bps = bps;
    c->delivered_peak_bps = 0;
  }
  bool delivered = !c->delivered_bps || (double)c->delivered_bps >= PROBE_DELIVERED_MIN * (double)MC_MIN(bps, c->last_probe_bps);
  if (c->further_min_bps && now_us <= c->further_until_us && bps >= c->further_min_bps && bps < c->max_bps &&
      c->npending == 0 && delivered)
    queue_probe(c, (uint64_t)(PROBE_FURTHER_SCALE * (double)bps), now_us, true);
}

void mc_probe_ctl_on_delivered(mc_probe_ctl *c, uint64_t bps) {
  if (!c) return;
  c->delivered_bps = bps;
  if (bps > c->delivered_peak_bps) c->delivered_peak_bps = bps;
}

void mc_probe_ctl_on_overuse(mc_probe_ctl *c, int64_t now_us) {
  if (!c || !c->last_was_recovery || !c->recovery_raised || now_us - c->last_probe_us > PROBE_RECOVERY_FALSE_US) return;
  c->last_was_recovery = false;
  c->recovery_interval_us = MC_MIN(2 * c->recovery_interval_us, PROBE_RECOVERY_MAX_INTERVAL_US);
}

void mc_probe_ctl_on_result(mc_probe_ctl *c) {
  if (!c) return;
  c->got_result = true;
  c->retries = 0;
  c->duration_us = PROBE_MIN_DURATION_US;
}

bool mc_probe_ctl_next(mc_probe_ctl *c, int64_t now_us, bool app_limited, struct mc_probe_cluster *out) {
  if (!c || !out) return false;
  if (!c->started) {
    c->started = true;
    queue_probe(c, (uint64_t)(PROBE_FIRST_SCALE * (double)c->start_bps), now_us, false);
    queue_probe(c, (uint64_t)(PROBE_SECOND_SCALE * (double)c->start_bps), now_us, true);
  }
  if (c->npending == 0 && c->estimate < c->max_bps) {
    int64_t since = c->have_probe ? now_us - c->last_probe_us : INT64_MAX;
    bool waiting = c->further_min_bps && since <= PROBE_WAIT_US;
    if (c->have_probe && !c->got_result && since > PROBE_WAIT_US && c->retries < PROBE_RETRIES) {
      c->retries++;
      c->duration_us = MC_MIN(2 * c->duration_us, PROBE_MAX_DURATION_US);
      queue_probe(c, c->last_probe_bps, now_us, c->retry_further);
    } else if (!waiting && c->have_drop && now_us - c->drop_at_us <= PROBE_RECOVERY_FOR_US &&
        (double)c->estimate < PROBE_DROP_FRACTION * (double)c->drop_from_bps && since >= c->recovery_interval_us) {
      uint64_t bps = (uint64_t)(PROBE_ALR_SCALE * (double)c->estimate);
      if (bps > c->drop_from_bps) bps = c->drop_from_bps;
      queue_probe(c, bps, now_us, true);
      c->last_was_recovery = true;
    } else if (!waiting && app_limited && since >= PROBE_ALR_INTERVAL_US) {
      queue_probe(c, (uint64_t)(PROBE_ALR_SCALE * (double)c->estimate), now_us, true);
    }
  }
  if (c->npending == 0) return false;
  *out = c->pending[0];
  memmove(&c->pending[0], &c->pending[1], (size_t)(c->npending - 1) * sizeof c->pending[0]);
  c->npending--;
  return true;
}

uint64_t mc_probe_ctl_clusters(const mc_probe_ctl *c) { return c ? c->clusters : 0; }

/* ---- results ---- */

/* WebRTC ProbeBitrateEstimator: 80 % of a cluster's packets and bytes must
 * come back; send and receive spans within 1 s; a receive rate over the
 * send rate is a measuring error (WebRTC allows up to twice it; here 1.2
 * x: under 30 ms of jitter, arrivals bunched behind a late first packet
 * read as a receive rate far over a 2 Mbit/s link, which the result then
 * took from the send rate, a probe at 3 Mbit/s passing as 3 Mbit/s of
 * capacity, bench/bwe_sim rtt100-jitter30); a receive rate under 90 % of the
 * send rate means the probe saturated the link, whose rate is then 95 % of
 * what arrived. Clusters are forgotten 1 s after their last packet.
 *
 * Beyond WebRTC, the spans run between the medians of the first and the
 * last third of the cluster's packets (in send order), not between its
 * first and last packet: under the lab's lossy-rtt (50 +- 15 ms each way)
 * the earliest and latest arrivals of a 15 ms cluster are 30 ms further
 * apart than they were sent, every probe read as a third of its rate and
 * none ever raised the estimate; the medians of the two ends carry the
 * same delay on average. With 5 packets a third is one packet: first and
 * last, as WebRTC. */
#define EST_MIN_RATIO 0.8
#define EST_MAX_INTERVAL_US 1000000
#define EST_MAX_VALID_RATIO 1.2
#define EST_UNSATURATED 0.9
#define EST_TARGET_FRACTION 0.95
#define EST_HISTORY_US 1000000
#define EST_CLUSTERS 8
#define EST_MAX_PACKETS 128

struct est_pkt {
  int64_t send, recv;
  uint32_t size;
};

struct est_cluster {
  bool used;
  struct mc_probe_cluster c;
  int64_t updated;
  size_t bytes;
  int packets;
  struct est_pkt p[EST_MAX_PACKETS]; /* in send order */
};

struct mc_probe_est {
  struct est_cluster cl[EST_CLUSTERS];
  uint64_t last_bps;
};

int mc_probe_est_new(mc_probe_est **out) {
  if (!out) return MC_EINVAL;
  *out = calloc(1, sizeof **out);
  return *out ? MC_OK : MC_ENOMEM;
}

void mc_probe_est_free(mc_probe_est *e) { free(e); }

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* The median of the n values of field recv (or send) from p[from]. */
static int64_t median_of(const struct est_pkt *p, int from, int n, bool recv) {
  int64_t v[EST_MAX_PACKETS];
  for (int i = 0; i < n; i++) v[i] = recv ? p[from + i].recv : p[from + i].send;
  qsort(v, (size_t)n, sizeof v[0], cmp_i64);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t est_result(struct est_cluster *k) {
  if ((double)k->packets < EST_MIN_RATIO * k->c.min_packets || (double)k->bytes < EST_MIN_RATIO * (double)k->c.min_bytes)
    return 0;
  int n = k->packets, third = n / 3 > 0 ? n / 3 : 1;
  int64_t send_a = median_of(k->p, 0, third, false), send_b = median_of(k->p, n - third, third, false);
  int64_t recv_a = median_of(k->p, 0, third, true), recv_b = median_of(k->p, n - third, third, true);
  int64_t send_iv = send_b - send_a, recv_iv = recv_b - recv_a;
  if (send_iv <= 0 || send_iv > EST_MAX_INTERVAL_US || recv_iv <= 0 || recv_iv > EST_MAX_INTERVAL_US) return 0;
  /* the bytes between the two medians: from the middle of the first third
   * (exclusive) to the middle of the last (inclusive) */
  int a = third / 2, b = n - third + third / 2;
  size_t bytes = 0;
  for (int i = a + 1; i <= b; i++) bytes += k->p[i].size;
  if (!bytes) return 0;
  double send_bps = (double)bytes * 8e6 / (double)send_iv;
  double recv_bps = (double)bytes * 8e6 / (double)recv_iv;
  if (recv_bps > EST_MAX_VALID_RATIO * send_bps) return 0;
  double res = recv_bps < send_bps ? recv_bps : send_bps;
  if (recv_bps < EST_UNSATURATED * send_bps) res = EST_TARGET_FRACTION * recv_bps;
  return (uint64_t)res;
}

uint64_t mc_probe_est_on_packet(mc_probe_est *e, const struct mc_probe_cluster *cluster, size_t size, int64_t send_us,
                                int64_t recv_us) {
  if (!e || !cluster || cluster->id <= 0) return 0;
  struct est_cluster *k = NULL, *oldest = &e->cl[0];
  for (int i = 0; i < EST_CLUSTERS; i++) {
    struct est_cluster *x = &e->cl[i];
    if (x->used && recv_us - x->updated > EST_HISTORY_US) x->used = false;
    if (x->used && x->c.id == cluster->id) k = x;
    if (!x->used || (oldest->used && x->updated < oldest->updated)) oldest = x;
  }
  if (!k) {
    k = oldest;
    k->used = true;
    k->c = *cluster;
    k->bytes = 0;
    k->packets = 0;
  }
  k->updated = recv_us;
  if (k->packets == EST_MAX_PACKETS) return 0;
  /* insertion in send order (feedback may report out of order) */
  int i = k->packets++;
  while (i > 0 && k->p[i - 1].send > send_us) {
    k->p[i] = k->p[i - 1];
    i--;
  }
  k->p[i] = (struct est_pkt){.send = send_us, .recv = recv_us, .size = (uint32_t)size};
  k->bytes += size;
  uint64_t r = est_result(k);
  if (r) e->last_bps = r;
  return r;
}

uint64_t mc_probe_est_last_bps(const mc_probe_est *e) { return e ? e->last_bps : 0; }
