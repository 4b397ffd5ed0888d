/* Bandwidth estimation and pacing under a simulated bottleneck: a sender
 * that encodes at the target through the pacer, a FIFO link draining at a
 * fixed rate with a finite buffer, random loss, transport-wide feedback
 * every 50 ms through the real recorder, writer, parser and decoder. The
 * clock is the simulation's (1 ms steps): nothing here reads the time. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rtp/rtp.h"
#include "util/util.h"

#define SIM_MAX_INFLIGHT 8192
#define SIM_OVERHEAD 40 /* bytes of IP/UDP/SRTP per packet on the link */

struct sim_pkt {
  uint16_t seq;
  size_t size;
  uint64_t enq_us, arrive_us;
  bool padding;
};

struct sim_fb {
  uint8_t buf[1500];
  size_t len;
  uint64_t at_us;
};

struct sim {
  /* profile */
  uint64_t (*capacity)(uint64_t t_us); /* bits per second */
  size_t buffer_bytes;
  double loss;
  uint64_t owd_us;
  uint64_t jitter_us;
  uint64_t remb_bps; /* 0: none */
  bool no_probes;    /* as before probing (issue 16): what the tests measure against */
  /* state */
  struct mc_probe_cluster probe;
  mc_bwe *bwe;
  mc_pacer *pacer;
  mc_twcc_recorder *rec;
  uint64_t rng;
  uint16_t seq;
  struct sim_pkt queue[SIM_MAX_INFLIGHT];
  size_t qhead, qcount, qbytes;
  double credit;
  struct sim_pkt flight[SIM_MAX_INFLIGHT];
  size_t fhead, fcount;
  uint64_t last_arrive;
  struct sim_fb fbs[64];
  size_t fbhead, fbcount;
  uint64_t next_frame_us, next_audio_us, next_fb_us;
  uint64_t now;
  bool ramped; /* mc_bwe_ramping seen */
  uint32_t rr_rtt_ms; /* the RTT from receiver reports: 0 twice owd_us, UINT32_MAX none */
  /* measurements */
  uint64_t delivered_bytes, queued_waits, wait_over_300ms, max_wait_us;
  uint64_t keyframes;
};

static uint32_t sim_rand(struct sim *s) {
  s->rng ^= s->rng << 13;
  s->rng ^= s->rng >> 7;
  s->rng ^= s->rng << 17;
  return (uint32_t)(s->rng >> 11);
}

static double sim_uniform(struct sim *s) { return (sim_rand(s) & 0xffffff) / (double)0x1000000; }

static void sim_init(struct sim *s, uint64_t seed) {
  CHECK(mc_bwe_new(NULL, &s->bwe) == 0);
  CHECK(mc_pacer_new(NULL, &s->pacer) == 0);
  CHECK(mc_twcc_recorder_new(0x1234, &s->rec) == 0);
  s->rng = seed | 1;
  s->seq = 65000; /* wraps during the run */
  if (s->rr_rtt_ms != UINT32_MAX) mc_bwe_on_rtt(s->bwe, s->rr_rtt_ms ? s->rr_rtt_ms : (uint32_t)(2 * s->owd_us / 1000));
}

static void sim_free(struct sim *s) {
  mc_bwe_free(s->bwe);
  mc_pacer_free(s->pacer);
  mc_twcc_recorder_free(s->rec);
}

static void sim_push(struct sim *s, enum mc_pacer_class cls, size_t len, uint64_t now) {
  uint8_t pkt[MC_PACER_MAX_PACKET];
  memset(pkt, 0xab, len);
  bool kf = false;
  mc_pacer_push(s->pacer, cls, cls == MC_PACER_PROBE ? (uint32_t)s->probe.id : 0, pkt, len, now, &kf);
  if (kf) s->keyframes++;
}

/* A due probe cluster as pc/media.c sends it: 300-byte padding packets,
 * at least min_packets and min_bytes, at the cluster's rate. */
static void sim_probe(struct sim *s, uint64_t now, uint64_t media_bps) {
  struct mc_pacer_stats ps;
  mc_pacer_get_stats(s->pacer, &ps);
  if (s->no_probes || ps.queued_probe || !mc_bwe_probe_next(s->bwe, now, media_bps, &s->probe)) return;
  size_t n = (s->probe.min_bytes + 299) / 300;
  if (n < (size_t)s->probe.min_packets) n = (size_t)s->probe.min_packets;
  mc_pacer_set_probe(s->pacer, s->probe.bps);
  for (size_t i = 0; i < n; i++) sim_push(s, MC_PACER_PROBE, 260, now);
}

static void on_fb(const struct mc_rtcp_packet *p, void *user) {
  struct sim *s = user;
  if (p->kind != MC_RTCP_KIND_TWCC) return;
  static struct mc_twcc_status st[MC_TWCC_MAX_PACKETS];
  size_t n = 0;
  if (mc_rtcp_twcc_decode(&p->u.twcc, st, MC_TWCC_MAX_PACKETS, &n) == 0) mc_bwe_on_twcc(s->bwe, st, n, s->now);
}

/* One millisecond of the world. */
static void sim_step(struct sim *s, uint64_t now) {
  s->now = now;
  uint64_t target = mc_bwe_target_bps(s->bwe);
  /* the encoder: 30 fps video at the target less audio, 20 ms audio */
  if (now >= s->next_frame_us) {
    s->next_frame_us += 33333;
    /* the target covers everything on the wire: audio's 48 kbit/s and
     * the per-packet overhead come off the video budget */
    double bits = ((double)target - 48000) / 30;
    size_t bytes = bits > 800 ? (size_t)(bits / 8) : 100;
    size_t n = (bytes + 1199) / 1200;
    bytes = bytes > n * SIM_OVERHEAD + 50 ? bytes - n * SIM_OVERHEAD : 50;
    for (size_t i = 0; i < n; i++) sim_push(s, MC_PACER_VIDEO, bytes / n, now);
  }
  if (now >= s->next_audio_us) {
    s->next_audio_us += 20000;
    sim_push(s, MC_PACER_AUDIO, 80, now);
  }
  sim_probe(s, now, target);
  /* the pacer hands packets to the link */
  uint8_t buf[MC_PACER_MAX_PACKET];
  size_t len;
  enum mc_pacer_class cls;
  uint32_t tag;
  while (mc_pacer_pop(s->pacer, now, buf, sizeof buf, &len, &cls, &tag) == 0) {
    uint16_t seq = s->seq++;
    size_t wire = len + SIM_OVERHEAD;
    bool probe = cls == MC_PACER_PROBE && (int)tag == s->probe.id;
    mc_bwe_on_probe_sent(s->bwe, seq, wire, now, probe ? &s->probe : NULL);
    if (s->qbytes + wire > s->buffer_bytes || s->qcount == SIM_MAX_INFLIGHT) continue; /* tail drop */
    struct sim_pkt *q = &s->queue[(s->qhead + s->qcount++) % SIM_MAX_INFLIGHT];
    q->seq = seq;
    q->size = wire;
    q->enq_us = now;
    s->qbytes += wire;
  }
  /* the bottleneck drains */
  s->credit += (double)s->capacity(now) / 8 / 1000;
  while (s->qcount && s->credit >= (double)s->queue[s->qhead].size) {
    struct sim_pkt p = s->queue[s->qhead];
    s->qhead = (s->qhead + 1) % SIM_MAX_INFLIGHT;
    s->qcount--;
    s->qbytes -= p.size;
    s->credit -= (double)p.size;
    uint64_t wait = now - p.enq_us;
    s->queued_waits++;
    if (wait > 300000) s->wait_over_300ms++;
    if (wait > s->max_wait_us) s->max_wait_us = wait;
    s->delivered_bytes += p.size;
    if (s->loss > 0 && sim_uniform(s) < s->loss) continue;
    uint64_t j = s->jitter_us ? sim_rand(s) % s->jitter_us : 0;
    p.arrive_us = now + s->owd_us + j;
    if (p.arrive_us < s->last_arrive) p.arrive_us = s->last_arrive;
    s->last_arrive = p.arrive_us;
    if (s->fcount < SIM_MAX_INFLIGHT) s->flight[(s->fhead + s->fcount++) % SIM_MAX_INFLIGHT] = p;
  }
  if (!s->qcount) s->credit = 0;
  /* the receiver */
  while (s->fcount && s->flight[s->fhead].arrive_us <= now) {
    struct sim_pkt *p = &s->flight[s->fhead];
    mc_twcc_recorder_record(s->rec, p->seq, 0x5678, p->arrive_us);
    s->fhead = (s->fhead + 1) % SIM_MAX_INFLIGHT;
    s->fcount--;
  }
  if (now >= s->next_fb_us) {
    s->next_fb_us = now + MC_TWCC_FEEDBACK_INTERVAL_MS * 1000;
    uint8_t fb[1500];
    size_t fl;
    while (s->fbcount < 64 && mc_twcc_recorder_build(s->rec, fb, sizeof fb, &fl) == 0) {
      struct sim_fb *f = &s->fbs[(s->fbhead + s->fbcount++) % 64];
      memcpy(f->buf, fb, fl);
      f->len = fl;
      f->at_us = now + s->owd_us;
    }
  }
  while (s->fbcount && s->fbs[s->fbhead].at_us <= now) {
    struct sim_fb *f = &s->fbs[s->fbhead];
    CHECK(mc_rtcp_parse(f->buf, f->len, on_fb, s) == 0);
    if (s->remb_bps) mc_bwe_on_remb(s->bwe, s->remb_bps, now);
    s->fbhead = (s->fbhead + 1) % 64;
    s->fbcount--;
  }
  mc_pacer_set_target(s->pacer, mc_bwe_target_bps(s->bwe));
}

static uint64_t cap_500k(uint64_t t) { (void)t; return 500000; }
static uint64_t cap_drop(uint64_t t) { return t < 20000000 || t >= 40000000 ? 2000000 : 300000; }
static uint64_t cap_10m(uint64_t t) { (void)t; return 10000000; }

/* A 500 kbit/s bottleneck: the target settles below the link (60..100%),
 * the queue stays short. */
static void test_bottleneck(void) {
  struct sim s = {.capacity = cap_500k, .buffer_bytes = 60000, .owd_us = 20000};
  sim_init(&s, 1);
  uint64_t sum = 0, n = 0, lo = UINT64_MAX, hi = 0;
  uint64_t waits_before = 0, over_before = 0;
  for (uint64_t t = 0; t < 90000; t++) {
    sim_step(&s, t * 1000);
    if (t == 30000) {
      waits_before = s.queued_waits;
      over_before = s.wait_over_300ms;
    }
    if (t >= 30000 && t % 100 == 0) {
      uint64_t b = mc_bwe_target_bps(s.bwe);
      sum += b;
      n++;
      if (b < lo) lo = b;
      if (b > hi) hi = b;
    }
  }
  uint64_t mean = sum / n;
  fprintf(stderr, "bottleneck 500k: target mean %llu min %llu max %llu, max queue wait %llu ms\n",
          (unsigned long long)mean, (unsigned long long)lo, (unsigned long long)hi,
          (unsigned long long)s.max_wait_us / 1000);
  CHECK(mean >= 300000 && mean <= 500000);
  CHECK(lo >= 200000);
  CHECK(hi <= 600000);
  /* after convergence, under 2% of packets wait over 300 ms at the bottleneck */
  CHECK((s.wait_over_300ms - over_before) * 50 <= s.queued_waits - waits_before);
  struct mc_bwe_stats st;
  mc_bwe_get_stats(s.bwe, &st);
  CHECK(st.overuses > 0);
  CHECK(st.acked_bps > 250000 && st.acked_bps < 550000);
  sim_free(&s);
}

/* Without an RTT from receiver reports the additive increase near the
 * last decrease (half a packet per RTT + 100 ms) takes the round trip
 * from transport-wide feedback, not a default of 200 ms: the lab's calls
 * have none for their first seconds, and climbed 11 kbit/s a second. */
static double additive_rate(uint32_t rr_rtt_ms) {
  struct sim s = {.capacity = cap_500k, .buffer_bytes = 60000, .owd_us = 20000, .rr_rtt_ms = rr_rtt_ms};
  sim_init(&s, 1);
  double up = 0;
  uint64_t up_ms = 0, last = 0;
  for (uint64_t t = 0; t < 60000; t++) {
    sim_step(&s, t * 1000);
    uint64_t b = mc_bwe_target_bps(s.bwe);
    if (t >= 10000 && b > last && b - last < 20000) {
      up += (double)(b - last);
      up_ms++;
    }
    last = b;
  }
  struct mc_bwe_stats st;
  mc_bwe_get_stats(s.bwe, &st);
  sim_free(&s);
  return up_ms ? up / 60.0 : 0; /* bits per second of increase, over the 50 s */
}

static void test_feedback_rtt(void) {
  double rr200 = additive_rate(200), none = additive_rate(UINT32_MAX);
  fprintf(stderr, "additive increase on 500 kbit/s: %.0f bit/s a second with an RR RTT of 200 ms, %.0f without one\n",
          rr200, none);
  CHECK(none > 1.3 * rr200);
}

/* 2 Mbit/s, then 300 kbit/s from 20 s to 40 s, then 2 Mbit/s again. */
static void test_capacity_drop(void) {
  struct sim s = {.capacity = cap_drop, .buffer_bytes = 100000, .owd_us = 20000};
  sim_init(&s, 2);
  uint64_t at_drop = 0, below_at = 0, at_40 = 0, at_end = 0, over_28 = 0, over_40 = 0;
  for (uint64_t t = 0; t < 70000; t++) {
    sim_step(&s, t * 1000);
    uint64_t b = mc_bwe_target_bps(s.bwe);
    if (t == 28000) over_28 = s.wait_over_300ms;
    if (t == 40000) over_40 = s.wait_over_300ms;
    if (t == 19999) at_drop = b;
    if (t >= 20000 && !below_at && b < 300000) below_at = t;
    if (t == 39999) at_40 = b;
    if (t == 69999) at_end = b;
  }
  fprintf(stderr, "drop: before %llu, below 300k after %llu ms, at 40 s %llu, at 70 s %llu\n",
          (unsigned long long)at_drop, (unsigned long long)(below_at - 20000), (unsigned long long)at_40,
          (unsigned long long)at_end);
  CHECK(at_drop > 800000);
  CHECK(below_at > 0);
  /* within 40 feedback intervals (2 s) of the drop */
  CHECK(below_at - 20000 <= 40 * MC_TWCC_FEEDBACK_INTERVAL_MS);
  CHECK(at_40 < 330000);
  /* the queue built by the drop (about 2.5 s) is gone 8 s after it */
  CHECK(over_28 > 0);
  CHECK_EQ_INT(over_40 - over_28, 0);
  CHECK(at_end > 2 * at_40);
  sim_free(&s);
}

/* The same drop into a small buffer (the lab's token bucket at 300 kbit/s
 * holds about 20 KB): the queue overflows before the sender slows, and a
 * burst of loss arrives with the delay. The delay-based decrease brings
 * the rate under what the path delivers; the loss of packets sent before
 * it must not cut that rate once or twice more (in the lab: to 111
 * kbit/s, and video paused). */
static void test_drop_small_buffer(void) {
  struct sim s = {.capacity = cap_drop, .buffer_bytes = 20000, .owd_us = 20000};
  sim_init(&s, 3);
  uint64_t lowest = UINT64_MAX;
  for (uint64_t t = 0; t < 40000; t++) {
    sim_step(&s, t * 1000);
    uint64_t b = mc_bwe_target_bps(s.bwe);
    if (t >= 20000 && b < lowest) lowest = b;
  }
  struct mc_bwe_stats st;
  mc_bwe_get_stats(s.bwe, &st);
  fprintf(stderr, "drop into 20 KB: lowest %llu, %llu of %llu packets lost\n", (unsigned long long)lowest,
          (unsigned long long)st.packets_lost, (unsigned long long)(st.packets_lost + st.packets_acked));
  CHECK(st.packets_lost > 0);
  CHECK(lowest >= 180000);
  sim_free(&s);
}

static void run_loss(double loss, uint64_t *end, uint64_t *min_after_10s) {
  struct sim s = {.capacity = cap_10m, .buffer_bytes = 200000, .owd_us = 20000, .loss = loss};
  sim_init(&s, 3);
  *min_after_10s = UINT64_MAX;
  for (uint64_t t = 0; t < 40000; t++) {
    sim_step(&s, t * 1000);
    uint64_t b = mc_bwe_target_bps(s.bwe);
    if (t >= 10000 && b < *min_after_10s) *min_after_10s = b;
  }
  *end = mc_bwe_target_bps(s.bwe);
  sim_free(&s);
}

/* Random loss on an uncongested link: 5% does not collapse the target,
 * 20% brings it down. */
static void test_loss(void) {
  uint64_t end5, min5, end20, min20;
  run_loss(0.05, &end5, &min5);
  run_loss(0.20, &end20, &min20);
  fprintf(stderr, "loss 5%%: end %llu min %llu; loss 20%%: end %llu\n", (unsigned long long)end5,
          (unsigned long long)min5, (unsigned long long)end20);
  CHECK(min5 >= 250000);
  CHECK(end20 < 150000);
  CHECK(end5 > 4 * end20);
}

/* REMB caps the target, even when transport-wide feedback says more. */
static void test_remb(void) {
  struct sim s = {.capacity = cap_10m, .buffer_bytes = 200000, .owd_us = 10000, .remb_bps = 400000};
  sim_init(&s, 4);
  uint64_t hi = 0;
  for (uint64_t t = 0; t < 30000; t++) {
    sim_step(&s, t * 1000);
    uint64_t b = mc_bwe_target_bps(s.bwe);
    if (b > hi) hi = b;
  }
  CHECK(hi <= 400000);
  CHECK(mc_bwe_target_bps(s.bwe) == 400000);
  sim_free(&s);

  /* REMB alone (no transport-wide feedback) is the target as is */
  mc_bwe *b = NULL;
  CHECK(mc_bwe_new(&(struct mc_bwe_config){.max_bps = 2000000}, &b) == 0);
  CHECK(mc_bwe_target_bps(b) == 300000);
  mc_bwe_on_remb(b, 1200000, 0);
  CHECK(mc_bwe_target_bps(b) == 1200000);
  mc_bwe_on_remb(b, 9000000, 1000);
  CHECK(mc_bwe_target_bps(b) == 2000000);
  mc_bwe_on_remb(b, 1000, 2000);
  CHECK(mc_bwe_target_bps(b) == 30000);
  /* RR loss over 10% lowers it; under 2% lets it back up */
  mc_bwe_on_remb(b, 1000000, 3000);
  mc_bwe_on_rr_loss(b, 64, 4000); /* 25% */
  CHECK(mc_bwe_target_bps(b) == 875000);
  mc_bwe_on_rr_loss(b, 0, 2000000);
  CHECK(mc_bwe_target_bps(b) > 875000);
  /* with REMB alone no padding after a raise (lab quality-remb: 2.4
   * Mbit/s sent on a clean path, video paused) */
  mc_bwe_on_remb(b, 400000, 6000000);
  mc_bwe_on_remb(b, 600000, 6200000);
  CHECK(!mc_bwe_ramping(b, 6200000));
  mc_bwe_free(b);
}

/* A 300 ms stall (a busy host: nothing arrives, then the backlog at 2.5
 * Mbit/s) is one delay spike: at most an ordinary decrease, not a
 * collapse. */
static void test_stall(void) {
  mc_bwe *b = NULL;
  CHECK(mc_bwe_new(&(struct mc_bwe_config){.start_bps = 1000000}, &b) == 0);
  mc_bwe_on_rtt(b, 40);
  struct mc_twcc_status st[16];
  size_t n = 0;
  uint16_t seq = 0;
  uint64_t before = 0, last = 0;
  for (uint64_t t = 0; t < 10000000; t += 10000) {
    uint64_t arrive = t + 20000;
    if (arrive >= 5000000 && arrive < 5300000) arrive = 5300000;
    if (last && arrive < last + 4000) arrive = last + 4000;
    last = arrive;
    mc_bwe_on_packet_sent(b, seq, 1250, t);
    st[n++] = (struct mc_twcc_status){.seq = seq++, .received = true, .arrival_us = (int64_t)arrive};
    if (n == 5) { /* feedback every 50 ms, 20 ms on its way back */
      mc_bwe_on_twcc(b, st, n, t + 40000);
      n = 0;
    }
    if (t == 4900000) before = mc_bwe_target_bps(b);
  }
  uint64_t after = mc_bwe_target_bps(b);
  struct mc_bwe_stats s;
  mc_bwe_get_stats(b, &s);
  fprintf(stderr, "stall: before %llu after %llu overuses %llu\n", (unsigned long long)before,
          (unsigned long long)after, (unsigned long long)s.overuses);
  CHECK(before > 900000);
  CHECK(after >= before * 3 / 4);
  mc_bwe_free(b);
}

/* 1 Mbit/s offered (1250 bytes every 10 ms) with feedback every 50 ms;
 * the one-way delay is 20 ms plus queue_ms(t), packets in order. */
static uint64_t run_queue(uint64_t (*queue_us)(uint64_t t, uint32_t *rng), uint64_t until_us, uint64_t *at,
                          size_t nat, uint64_t *targets, struct mc_bwe_stats *out) {
  mc_bwe *b = NULL;
  CHECK(mc_bwe_new(&(struct mc_bwe_config){.start_bps = 1000000}, &b) == 0);
  mc_bwe_on_rtt(b, 100);
  struct mc_twcc_status st[16];
  size_t n = 0, k = 0;
  uint16_t seq = 0;
  uint64_t last = 0;
  uint32_t rng = 12345;
  for (uint64_t t = 0; t < until_us; t += 10000) {
    uint64_t arrive = t + 20000 + queue_us(t, &rng);
    if (arrive < last) arrive = last;
    last = arrive;
    mc_bwe_on_packet_sent(b, seq, 1250, t);
    st[n++] = (struct mc_twcc_status){.seq = seq++, .received = true, .arrival_us = (int64_t)arrive};
    if (n == 5) {
      mc_bwe_on_twcc(b, st, n, arrive + 20000);
      n = 0;
    }
    while (k < nat && t == at[k]) targets[k++] = mc_bwe_target_bps(b);
  }
  mc_bwe_get_stats(b, out);
  uint64_t end = mc_bwe_target_bps(b);
  mc_bwe_free(b);
  return end;
}

static uint64_t queue_none(uint64_t t, uint32_t *rng) { (void)t; (void)rng; return 0; }
/* 15 ms of jitter each way, as the lab's lossy-rtt profile */
static uint64_t queue_jitter(uint64_t t, uint32_t *rng) {
  (void)t;
  *rng = *rng * 1103515245u + 12345u;
  return (*rng >> 16) % 30000;
}
/* from 3 s a full buffer: 120 ms of queue that never drains */
static uint64_t queue_standing(uint64_t t, uint32_t *rng) { (void)rng; return t >= 3000000 ? 120000 : 0; }

/* A queue that stands (a full bottleneck buffer: flat delay, nothing for
 * the trendline) is over-use until it drains; one that outlives 5 s of
 * decreases is a longer path and becomes the new minimum; jitter alone is
 * never mistaken for one. */
static void test_standing_queue(void) {
  uint64_t at[3] = {2990000, 7000000, 14000000}, tq[3], tn[3], tj[3];
  struct mc_bwe_stats sq, sn, sj;
  run_queue(queue_standing, 14010000, at, 3, tq, &sq);
  run_queue(queue_none, 14010000, at, 3, tn, &sn);
  run_queue(queue_jitter, 14010000, at, 3, tj, &sj);
  fprintf(stderr, "standing queue: %llu -> %llu -> %llu (standing %llu); flat %llu -> %llu; jitter %llu -> %llu (standing %llu)\n",
          (unsigned long long)tq[0], (unsigned long long)tq[1], (unsigned long long)tq[2],
          (unsigned long long)sq.standing_overuses, (unsigned long long)tn[0], (unsigned long long)tn[1],
          (unsigned long long)tj[0], (unsigned long long)tj[1], (unsigned long long)sj.standing_overuses);
  CHECK(tq[0] > 1000000);
  CHECK(sq.standing_overuses > 0);
  CHECK(tq[1] <= 900000);      /* decreased to 0.85 x delivered and held there */
  CHECK(tq[2] > tq[1] + 50000); /* rebased: growing again */
  CHECK(sn.standing_overuses == 0 && tn[1] >= 1400000);
  CHECK(sj.standing_overuses == 0);
}

/* Feedback about packets never sent, duplicates and nonsense do no harm. */
/* Feedback from the peer with more statuses than the caller's scratch
 * holds (status_count is 16 bits: a few run-length chunks say 65535) is
 * left out; it used to be fed to the estimator with the count it claimed,
 * reading past the scratch array (found writing fuzz_feedback; its seed
 * twcc_too_many reproduces it). */
static void on_one_packet(const struct mc_rtcp_packet *p, void *user) { *(struct mc_rtcp_packet *)user = *p; }

static void test_feedback_too_long(void) {
  static struct mc_twcc_status big[5000];
  for (size_t i = 0; i < MC_ARRAY_LEN(big); i++) big[i] = (struct mc_twcc_status){.seq = (uint16_t)i};
  static uint8_t buf[4096];
  size_t len = 0;
  CHECK_EQ_INT(mc_rtcp_write_twcc(1, 2, 0, big, MC_ARRAY_LEN(big), buf, sizeof buf, &len), 0);
  struct mc_rtcp_packet pkt;
  CHECK_EQ_INT(mc_rtcp_parse(buf, len, on_one_packet, &pkt), 0);
  CHECK_EQ_INT(pkt.kind, MC_RTCP_KIND_TWCC);
  CHECK_EQ_INT(pkt.u.twcc.status_count, 5000);
  mc_bwe *b;
  CHECK_EQ_INT(mc_bwe_new(NULL, &b), 0);
  struct mc_twcc_status *scratch = calloc(16, sizeof *scratch);
  CHECK_EQ_INT(mc_bwe_on_twcc_feedback(b, &pkt.u.twcc, scratch, 16, 1000), MC_ETOOBIG);
  struct mc_bwe_stats st;
  mc_bwe_get_stats(b, &st);
  CHECK(st.feedbacks == 0);
  /* one that fits goes in */
  CHECK_EQ_INT(mc_rtcp_write_twcc(1, 2, 1, big, 10, buf, sizeof buf, &len), 0);
  CHECK_EQ_INT(mc_rtcp_parse(buf, len, on_one_packet, &pkt), 0);
  CHECK_EQ_INT(mc_bwe_on_twcc_feedback(b, &pkt.u.twcc, scratch, 16, 2000), 0);
  mc_bwe_get_stats(b, &st);
  CHECK(st.feedbacks == 1);
  free(scratch);
  mc_bwe_free(b);
}

static void test_bwe_edges(void) {
  mc_bwe *b = NULL;
  CHECK(mc_bwe_new(NULL, &b) == 0);
  struct mc_twcc_status st[3] = {{.seq = 7, .received = true, .arrival_us = 1000},
                                 {.seq = 8, .received = false},
                                 {.seq = 9, .received = true, .arrival_us = -5000000000LL}};
  mc_bwe_on_twcc(b, st, 3, 1000);
  CHECK(mc_bwe_target_bps(b) == 300000);
  struct mc_bwe_stats s;
  mc_bwe_get_stats(b, &s);
  CHECK(s.packets_acked == 0 && s.packets_lost == 0);
  mc_bwe_on_packet_sent(b, 7, 1200, 0);
  mc_bwe_on_twcc(b, st, 3, 2000);
  mc_bwe_on_twcc(b, st, 3, 3000);
  mc_bwe_get_stats(b, &s);
  CHECK_EQ_INT(s.packets_acked, 1);
  mc_bwe_on_twcc(b, NULL, 3, 1000);
  mc_bwe_free(b);
  mc_bwe_on_twcc(NULL, st, 3, 1000);
  CHECK(mc_bwe_target_bps(NULL) == 0);
}

/* Receive side: abs-send-time over a 500 kbit/s bottleneck fed at 1
 * Mbit/s; the estimate drops under the link and a REMB goes out at once. */
static void test_rbe(void) {
  mc_rbe *r = NULL;
  CHECK(mc_rbe_new(NULL, &r) == 0);
  CHECK(mc_rbe_estimate_bps(r) == 0);
  uint64_t bps = 0;
  CHECK(!mc_rbe_remb_due(r, 0, &bps));
  /* 2 s at 400 kbit/s, uncongested, starting near the 64 s wrap */
  uint64_t base_us = 63000000;
  uint64_t link_free = 0;
  int remb_count = 0;
  uint64_t last_remb = 0;
  for (uint64_t t = 0; t < 2000; t += 10) {
    uint64_t send = base_us + t * 1000;
    mc_rbe_on_packet(r, mc_rtp_abs_send_time_from_us(send), 500, t * 1000 + 30000, false);
    if (mc_rbe_remb_due(r, t * 1000 + 30000, &bps)) remb_count++, last_remb = bps;
  }
  CHECK(remb_count >= 1 && remb_count <= 2);
  CHECK(last_remb > 300000 && last_remb < 700000);
  /* now 1 Mbit/s of 1000-byte packets into a 500 kbit/s link */
  bool decreased = false;
  link_free = 2030000;
  for (uint64_t t = 2000; t < 6000; t += 8) {
    uint64_t send = base_us + t * 1000;
    uint64_t arrive = t * 1000 + 30000;
    if (link_free > arrive) arrive = link_free;
    link_free = arrive + 16000; /* 1000 bytes at 500 kbit/s */
    mc_rbe_on_packet(r, mc_rtp_abs_send_time_from_us(send), 1000, arrive, false);
    if (mc_rbe_remb_due(r, arrive, &bps) && bps < last_remb * 97 / 100) decreased = true;
    if (decreased) break;
  }
  CHECK(decreased);
  CHECK(mc_rbe_estimate_bps(r) < 500000);
  CHECK(mc_rbe_incoming_bps(r) > 300000 && mc_rbe_incoming_bps(r) < 700000);
  mc_rbe_free(r);
}

/* Pacer: the rate over a window, the priority order and the bounds. */
static void test_pacer(void) {
  mc_pacer *p = NULL;
  CHECK(mc_pacer_new(&(struct mc_pacer_config){.capacity = 512}, &p) == 0);
  mc_pacer_set_target(p, 400000); /* pacing 1 Mbit/s = 125000 bytes/s */
  uint8_t pkt[1000], buf[1500];
  memset(pkt, 1, sizeof pkt);
  bool kf;
  for (int i = 0; i < 300; i++) CHECK(mc_pacer_push(p, MC_PACER_VIDEO, (uint32_t)i, pkt, 1000, 0, &kf) == 0);
  CHECK(!kf);
  size_t sent = 0, len;
  uint32_t tag, expect_tag = 0;
  bool in_order = true;
  for (uint64_t t = 0; t <= 1000000; t += 1000) {
    while (mc_pacer_pop(p, t, buf, sizeof buf, &len, NULL, &tag) == 0) {
      sent += len;
      if (tag != expect_tag++) in_order = false;
    }
  }
  CHECK(in_order);
  CHECK(sent >= 124000 && sent <= 127000);
  struct mc_pacer_stats st;
  mc_pacer_get_stats(p, &st);
  CHECK_EQ_INT(st.pacing_bps, 1000000);
  CHECK_EQ_INT(st.queued_packets, 300 - sent / 1000);
  /* budget spent: next_us is in the future, and the pop then succeeds */
  uint64_t next = mc_pacer_next_us(p, 1000000);
  CHECK(next >= 1000000 && next <= 1010000);
  mc_pacer_free(p);

  /* order: audio, then RTX, then new video, whatever the push order */
  CHECK(mc_pacer_new(NULL, &p) == 0);
  mc_pacer_set_target(p, 100000);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 1, pkt, 1000, 0, NULL) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_RTX, 2, pkt, 1000, 0, NULL) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_AUDIO, 3, pkt, 100, 0, NULL) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 4, pkt, 1000, 0, NULL) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_AUDIO, 5, pkt, 100, 0, NULL) == 0);
  uint32_t order[5];
  int k = 0;
  enum mc_pacer_class cls;
  for (uint64_t t = 0; t < 1000000 && k < 5; t += 1000)
    while (k < 5 && mc_pacer_pop(p, t, buf, sizeof buf, &len, &cls, &order[k]) == 0) k++;
  CHECK_EQ_INT(k, 5);
  CHECK(order[0] == 3 && order[1] == 5 && order[2] == 2 && order[3] == 1 && order[4] == 4);
  /* audio is never held by the budget */
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 6, pkt, 1000, 1000000, NULL) == 0);
  CHECK(mc_pacer_pop(p, 1000000, buf, sizeof buf, &len, &cls, &tag) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 7, pkt, 1000, 1000000, NULL) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_AUDIO, 8, pkt, 100, 1000000, NULL) == 0);
  CHECK(mc_pacer_pop(p, 1000000, buf, sizeof buf, &len, &cls, &tag) == 0);
  CHECK(tag == 8 && cls == MC_PACER_AUDIO);
  CHECK(mc_pacer_pop(p, 1000000, buf, sizeof buf, &len, &cls, &tag) == MC_ENOTFOUND);
  mc_pacer_free(p);

  /* bounds: a full queue drops its new video and asks for a key frame */
  CHECK(mc_pacer_new(&(struct mc_pacer_config){.capacity = 8, .max_video_delay_ms = 500}, &p) == 0);
  mc_pacer_set_target(p, 10000);
  for (int i = 0; i < 6; i++) CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 0, pkt, 1000, 0, &kf) == 0 && !kf);
  CHECK(mc_pacer_push(p, MC_PACER_AUDIO, 0, pkt, 100, 0, &kf) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_RTX, 0, pkt, 1000, 0, &kf) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 9, pkt, 1000, 0, &kf) == 0);
  CHECK(kf);
  mc_pacer_get_stats(p, &st);
  CHECK_EQ_INT(st.queued_packets, 3);
  CHECK_EQ_INT(st.dropped_video, 6);
  for (int i = 0; i < 5; i++) CHECK(mc_pacer_push(p, MC_PACER_AUDIO, 0, pkt, 100, 0, &kf) == 0 && !kf);
  CHECK(mc_pacer_push(p, MC_PACER_AUDIO, 0, pkt, 100, 0, &kf) == 0 && kf); /* displaces the video */
  CHECK(mc_pacer_push(p, MC_PACER_AUDIO, 0, pkt, 100, 0, &kf) == MC_ETOOBIG);
  mc_pacer_free(p);
  CHECK(mc_pacer_new(&(struct mc_pacer_config){.capacity = 8, .max_video_delay_ms = 500}, &p) == 0);
  mc_pacer_set_target(p, 10000);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 0, pkt, 1000, 0, &kf) == 0 && !kf);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 0, pkt, 1000, 0, &kf) == 0 && !kf);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 0, pkt, 1000, 499000, &kf) == 0 && !kf);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 5, pkt, 1000, 500000, &kf) == 0 && kf);
  mc_pacer_get_stats(p, &st);
  CHECK_EQ_INT(st.queued_packets, 1);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 0, pkt, 1501, 0, &kf) == MC_ETOOBIG);
  CHECK(mc_pacer_push(p, (enum mc_pacer_class)7, 0, pkt, 10, 0, &kf) == MC_EINVAL);
  CHECK(mc_pacer_pop(p, 500000, buf, 10, &len, &cls, &tag) == MC_ETOOBIG);
  mc_pacer_free(p);
  mc_pacer_free(NULL);
}


static uint64_t cap_2m(uint64_t t) { (void)t; return 2000000; }

/* Issue 16: on a clean 2 Mbit/s path the target reaches 90 % of the link
 * within 5 s of the start, and within 5 s of the link's return after a
 * drop to 300 kbit/s. Without probing (no_probes) the delay-based rate
 * climbs at 8 % a second under 1.5 x acknowledged: the same bounds fail,
 * which the second run checks so that the first cannot pass for nothing. */
static uint64_t time_to(struct sim *s, uint64_t from_ms, uint64_t until_ms, uint64_t bps) {
  for (uint64_t t = from_ms; t < until_ms; t++) {
    sim_step(s, t * 1000);
    if (mc_bwe_ramping(s->bwe, t * 1000)) s->ramped = true;
    if (mc_bwe_target_bps(s->bwe) >= bps) return t - from_ms;
  }
  return UINT64_MAX;
}

static void test_probe_startup(void) {
  for (int probes = 1; probes >= 0; probes--) {
    struct sim s = {.capacity = cap_2m, .buffer_bytes = 120000, .owd_us = 20000, .no_probes = !probes};
    sim_init(&s, 7);
    uint64_t t90 = UINT64_MAX, over = 0;
    for (uint64_t t = 0; t < 30000; t++) {
      sim_step(&s, t * 1000);
      if (t90 == UINT64_MAX && mc_bwe_target_bps(s.bwe) >= 1800000) t90 = t;
      if (t == 10000) over = s.wait_over_300ms;
    }
    struct mc_bwe_stats st;
    mc_bwe_get_stats(s.bwe, &st);
    fprintf(stderr, "start-up %s probes: 90%% of 2 Mbit/s after %llu ms, %llu clusters, %llu waits over 300 ms after 10 s\n",
            probes ? "with" : "without", (unsigned long long)t90, (unsigned long long)st.probes,
            (unsigned long long)(s.wait_over_300ms - over));
    /* 5 s is the bound; probing does it within 2 s, the AIMD alone
     * needs more than 4 */
    if (probes) {
      CHECK(t90 <= 2000);
      CHECK(st.probes >= 2 && st.probe_bps > 0);
    } else {
      CHECK(t90 > 2000);
      CHECK(st.probes == 0);
    }
    /* once settled, the probes leave no queue behind */
    CHECK(s.wait_over_300ms == over);
    sim_free(&s);
  }
}

static void test_probe_recovery(void) {
  for (int probes = 1; probes >= 0; probes--) {
    struct sim s = {.capacity = cap_drop, .buffer_bytes = 100000, .owd_us = 20000, .no_probes = !probes};
    sim_init(&s, 8);
    for (uint64_t t = 0; t < 40000; t++) sim_step(&s, t * 1000);
    CHECK(mc_bwe_target_bps(s.bwe) < 400000);
    CHECK(!mc_bwe_ramping(s.bwe, 40000000));
    uint64_t back = time_to(&s, 40000, 60000, 1800000);
    /* the recovery probes' raises call for padding (pc/media.c) */
    if (probes) CHECK(s.ramped);
    else CHECK(!s.ramped);
    fprintf(stderr, "recovery %s probes: 90%% of 2 Mbit/s %lld ms after the link came back (-1: not within 20 s)\n",
            probes ? "with" : "without", back == UINT64_MAX ? -1LL : (long long)back);
    if (probes) CHECK(back <= 5000);
    else CHECK(back > 5000);
    sim_free(&s);
  }
}

/* The probe bitrate estimator (WebRTC ProbeBitrateEstimator's rules). */
static void test_probe_est(void) {
  mc_probe_est *e = NULL;
  CHECK(mc_probe_est_new(&e) == 0);
  struct mc_probe_cluster c = {.id = 1, .bps = 8000000, .min_packets = 5, .min_bytes = 5000};
  /* 10 x 1000 bytes sent 1 ms apart (8 Mbit/s), received 2 ms apart: the
   * link is saturated, its rate 95 % of the 4 Mbit/s received */
  uint64_t r = 0;
  for (int i = 0; i < 10; i++) {
    uint64_t x = mc_probe_est_on_packet(e, &c, 1000, i * 1000, 500000 + i * 2000);
    if (i < 3) CHECK(x == 0); /* under 80 % of the cluster's packets and bytes */
    if (x) r = x;
  }
  CHECK(r >= 3700000 && r <= 3900000);
  CHECK(mc_probe_est_last_bps(e) == r);
  /* received as sent: the send rate */
  struct mc_probe_cluster c2 = {.id = 2, .bps = 2000000, .min_packets = 5, .min_bytes = 0};
  for (int i = 0; i < 6; i++) r = mc_probe_est_on_packet(e, &c2, 500, i * 2000, 600000 + i * 2000);
  CHECK(r >= 1990000 && r <= 2010000);
  /* arrivals bunched far tighter than sent (jitter): no result */
  struct mc_probe_cluster c3 = {.id = 3, .bps = 2000000, .min_packets = 5, .min_bytes = 0};
  for (int i = 0; i < 6; i++) r = mc_probe_est_on_packet(e, &c3, 500, i * 2000, 700000 + i * 500);
  CHECK(r == 0);
  /* not a cluster */
  struct mc_probe_cluster none = {0};
  CHECK(mc_probe_est_on_packet(e, &none, 500, 0, 0) == 0);
  CHECK(mc_probe_est_on_packet(NULL, &c, 500, 0, 0) == 0);
  mc_probe_est_free(e);
  mc_probe_est_free(NULL);
}

/* When the controller probes. */
static void test_probe_ctl(void) {
  mc_probe_ctl *c = NULL;
  struct mc_probe_cluster p;
  CHECK(mc_probe_ctl_new(0, 3000000, &c) == MC_EINVAL);
  CHECK(mc_probe_ctl_new(300000, 3000000, &c) == 0);
  /* the start: 3 x, then 6 x the start rate, then nothing until a result */
  CHECK(mc_probe_ctl_next(c, 0, false, &p) && p.bps == 900000 && p.min_packets == 5);
  CHECK(p.min_bytes == 900000 * 15 / 1000 / 8);
  int first = p.id;
  CHECK(mc_probe_ctl_next(c, 0, false, &p) && p.bps == 1800000 && p.id != first);
  CHECK(!mc_probe_ctl_next(c, 100000, false, &p));
  /* a result of 70 % or more of 1.8 Mbit/s within 1 s: 2 x again, capped at
   * the maximum, which ends the series */
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1700000, 300000);
  CHECK(mc_probe_ctl_next(c, 300000, false, &p) && p.bps == 3000000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 2900000, 600000);
  CHECK(!mc_probe_ctl_next(c, 600000, false, &p));
  /* application-limited: 2 x the estimate every 5 s */
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1600000, 1000000);
  CHECK(!mc_probe_ctl_next(c, 1000000, true, &p)); /* 5 s since the last probe not yet */
  CHECK(mc_probe_ctl_next(c, 5400000, true, &p) && p.bps == 3000000);
  mc_probe_ctl_on_result(c);
  CHECK(!mc_probe_ctl_next(c, 6000000, true, &p));
  CHECK(!mc_probe_ctl_next(c, 20000000, false, &p)); /* not limited: no probe */
  CHECK(mc_probe_ctl_clusters(c) == 4);
  mc_probe_ctl_free(c);

  /* a large drop: 2 x the estimate (no higher than before it) every 2 s
   * for 30 s while under 85 % of the rate before */
  CHECK(mc_probe_ctl_new(300000, 3000000, &c) == 0);
  CHECK(mc_probe_ctl_next(c, 0, false, &p) && mc_probe_ctl_next(c, 0, false, &p));
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1000000, 2000000); /* under 70 % of 1.8 M: no further probe */
  CHECK(!mc_probe_ctl_next(c, 2000000, false, &p));
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 2000000, 10000000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1200000, 10100000); /* 60 %: not a large drop */
  CHECK(!mc_probe_ctl_next(c, 12200000, false, &p));
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 300000, 12300000); /* a fall in steps from 2 M */
  CHECK(mc_probe_ctl_next(c, 12300000, false, &p) && p.bps == 600000);
  mc_probe_ctl_on_result(c);
  CHECK(!mc_probe_ctl_next(c, 14000000, false, &p)); /* 2 s apart */
  CHECK(mc_probe_ctl_next(c, 14300000, false, &p) && p.bps == 600000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 400000, 14500000); /* under 70 % of 600 k: the link is still low */
  CHECK(!mc_probe_ctl_next(c, 15000000, false, &p));
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 800000, 16400000); /* 2 x, no higher than before the drop */
  CHECK(mc_probe_ctl_next(c, 16400000, false, &p) && p.bps == 1600000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1400000, 18500000); /* a result: the series goes on, beyond the former rate */
  CHECK(mc_probe_ctl_next(c, 18500000, false, &p) && p.bps == 2800000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1900000, 19800000); /* over 85 % of 2 M: done */
  CHECK(!mc_probe_ctl_next(c, 25000000, false, &p));
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 800000, 26000000);
  CHECK(mc_probe_ctl_next(c, 26000000, false, &p)); /* within 30 s of the drop */
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 700000, 43000000);
  CHECK(!mc_probe_ctl_next(c, 43000000, false, &p)); /* after them */
  mc_probe_ctl_free(c);
  mc_probe_ctl_free(NULL);

  /* a further probe waits until the path delivered 85 % of the rate last
   * probed (a token bucket passes a 15 ms probe whatever its rate) */
  CHECK(mc_probe_ctl_new(300000, 3000000, &c) == 0);
  CHECK(mc_probe_ctl_next(c, 0, false, &p) && mc_probe_ctl_next(c, 0, false, &p));
  mc_probe_ctl_on_delivered(c, 500000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1700000, 200000);
  CHECK(!mc_probe_ctl_next(c, 200000, false, &p));
  mc_probe_ctl_on_delivered(c, 1600000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1700000, 2500000);
  CHECK(mc_probe_ctl_next(c, 2500000, false, &p) && p.bps == 3000000);
  mc_probe_ctl_free(c);

  /* a recovery probe that doubled the estimate, over-use right after:
   * the link had not come back (a token bucket's burst passed the probe),
   * the next recovery probe waits twice as long */
  CHECK(mc_probe_ctl_new(300000, 3000000, &c) == 0);
  CHECK(mc_probe_ctl_next(c, 0, false, &p) && mc_probe_ctl_next(c, 0, false, &p));
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1000000, 500000);
  mc_probe_ctl_on_estimate(c, 2000000, 10000000);
  mc_probe_ctl_on_estimate(c, 300000, 10100000);
  CHECK(mc_probe_ctl_next(c, 10100000, false, &p) && p.bps == 600000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_delivered(c, 300000); /* no further probe: media did not get through */
  mc_probe_ctl_on_estimate(c, 560000, 10300000);
  CHECK(!mc_probe_ctl_next(c, 10300000, false, &p));
  mc_probe_ctl_on_overuse(c, 11000000);
  mc_probe_ctl_on_estimate(c, 280000, 11000000);
  CHECK(!mc_probe_ctl_next(c, 12200000, false, &p)); /* 2 s: not yet */
  CHECK(mc_probe_ctl_next(c, 14200000, false, &p) && p.bps == 560000); /* 4 s */
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 290000, 14400000); /* no raise: over-use does not count */
  mc_probe_ctl_on_overuse(c, 15000000);
  CHECK(!mc_probe_ctl_next(c, 18100000, false, &p));
  CHECK(mc_probe_ctl_next(c, 18300000, false, &p)); /* still 4 s */
  mc_probe_ctl_free(c);

  /* a large drop counts from what was also delivered: the start probes
   * through a token bucket's burst put the estimate at 1 Mbit/s on a
   * 500 kbit/s link, and the over-use after it is no drop to probe back
   * from */
  CHECK(mc_probe_ctl_new(300000, 3000000, &c) == 0);
  CHECK(mc_probe_ctl_next(c, 0, false, &p) && mc_probe_ctl_next(c, 0, false, &p));
  mc_probe_ctl_on_delivered(c, 450000);
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1000000, 300000);
  mc_probe_ctl_on_estimate(c, 420000, 2000000);
  CHECK(!mc_probe_ctl_next(c, 2000000, false, &p));
  CHECK(!mc_probe_ctl_next(c, 4100000, false, &p));
  /* what was delivered, then fell by half, is one */
  mc_probe_ctl_on_delivered(c, 1400000);
  mc_probe_ctl_on_estimate(c, 1500000, 8000000);
  mc_probe_ctl_on_estimate(c, 300000, 8100000);
  CHECK(mc_probe_ctl_next(c, 8100000, false, &p) && p.bps == 600000);
  mc_probe_ctl_free(c);

  /* no result within 1 s: the same rate again, twice as long, at most 3
   * times; a result ends it */
  CHECK(mc_probe_ctl_new(300000, 3000000, &c) == 0);
  CHECK(mc_probe_ctl_next(c, 0, false, &p) && mc_probe_ctl_next(c, 0, false, &p));
  size_t bytes = p.min_bytes;
  CHECK(!mc_probe_ctl_next(c, 1000000, false, &p));
  for (int i = 1; i <= 3; i++) {
    CHECK(mc_probe_ctl_next(c, 1000001 + (int64_t)i * 1100000, false, &p) && p.bps == 1800000);
    CHECK(p.min_bytes == bytes << i);
  }
  CHECK(!mc_probe_ctl_next(c, 9000000, false, &p));
  mc_probe_ctl_on_result(c);
  mc_probe_ctl_on_estimate(c, 1000000, 9500000);
  CHECK(mc_probe_ctl_next(c, 9500000, true, &p) && p.bps == 2000000 && p.min_bytes == 2000000 * 15 / 1000 / 8);
  mc_probe_ctl_free(c);
}

/* Receive side: a run of padding sent at 2 Mbit/s that arrives at that
 * rate starts the estimate there at once (not after a second of measuring
 * the incoming rate) and makes a REMB due; media alone does not. */
static void test_rbe_probe(void) {
  mc_rbe *r = NULL;
  uint64_t bps = 0;
  CHECK(mc_rbe_new(NULL, &r) == 0);
  for (int i = 0; i < 10; i++) {
    uint64_t send = 100000 + (uint64_t)i * 1200; /* 300 bytes every 1.2 ms */
    mc_rbe_on_packet(r, mc_rtp_abs_send_time_from_us(send), 300, send + 20000, i >= 2);
  }
  CHECK(mc_rbe_estimate_bps(r) >= 1800000 && mc_rbe_estimate_bps(r) <= 2100000);
  CHECK(mc_rbe_remb_due(r, 120000, &bps) && bps == mc_rbe_estimate_bps(r));
  CHECK(!mc_rbe_remb_due(r, 130000, &bps));
  mc_rbe_free(r);
  CHECK(mc_rbe_new(NULL, &r) == 0);
  for (int i = 0; i < 10; i++) {
    uint64_t send = 100000 + (uint64_t)i * 1200;
    mc_rbe_on_packet(r, mc_rtp_abs_send_time_from_us(send), 300, send + 20000, false);
  }
  CHECK(mc_rbe_estimate_bps(r) == 0);
  mc_rbe_free(r);
}

/* The pacer: probe packets go after video, at the probe's rate while any
 * is queued, the pacing rate after. */
static void test_pacer_probe(void) {
  mc_pacer *p = NULL;
  uint8_t pkt[300] = {0}, buf[1500];
  size_t len;
  enum mc_pacer_class cls;
  uint32_t tag;
  struct mc_pacer_stats st;
  CHECK(mc_pacer_new(NULL, &p) == 0);
  mc_pacer_set_target(p, 100000); /* 250 kbit/s pacing: 300 bytes per 9.6 ms */
  mc_pacer_set_probe(p, 2400000); /* 300 bytes per 1 ms */
  for (int i = 0; i < 10; i++) CHECK(mc_pacer_push(p, MC_PACER_PROBE, 7, pkt, 300, 0, NULL) == 0);
  CHECK(mc_pacer_push(p, MC_PACER_VIDEO, 1, pkt, 300, 0, NULL) == 0);
  mc_pacer_get_stats(p, &st);
  CHECK(st.queued_probe == 10 && st.queued_packets == 11);
  uint64_t t = 0, first_probe = 0, last_probe = 0;
  int n = 0;
  (void)mc_pacer_pop(p, 0, buf, sizeof buf, &len, &cls, &tag); /* the first call starts the clock */
  CHECK(cls == MC_PACER_VIDEO && tag == 1);
  for (t = 0; t < 100000 && n < 10; t += 100) {
    while (mc_pacer_pop(p, t, buf, sizeof buf, &len, &cls, &tag) == 0) {
      CHECK(cls == MC_PACER_PROBE && tag == 7);
      if (!n) first_probe = t;
      last_probe = t;
      n++;
    }
  }
  CHECK(n == 10);
  /* 9 gaps of about 1 ms (the 5 ms burst allowance lets some go at once) */
  CHECK(last_probe - first_probe >= 3000 && last_probe - first_probe <= 12000);
  mc_pacer_get_stats(p, &st);
  CHECK(st.queued_probe == 0);
  mc_pacer_free(p);
}

int main(void) {
  test_pacer();
  test_pacer_probe();
  test_probe_est();
  test_probe_ctl();
  test_rbe_probe();
  test_probe_startup();
  test_probe_recovery();
  test_bwe_edges();
  test_feedback_too_long();
  test_stall();
  test_standing_queue();
  test_drop_small_buffer();
  test_remb();
  test_rbe();
  test_bottleneck();
  test_feedback_rtt();
  test_capacity_drop();
  test_loss();
  return CHECK_DONE();
}
