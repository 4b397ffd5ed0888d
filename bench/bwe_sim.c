/* bwe_sim: the send-side bandwidth estimator and pacer (src/rtp/bwe.c,
 * pacer.c) against simulated links, in simulated time (1 ms steps, no
 * sleeping, deterministic for a seed). The sender encodes at the target
 * (30 fps video plus 32 kbit/s audio) through the pacer; the link is a FIFO
 * draining at the profile's capacity with a finite buffer, then random
 * loss, one-way delay and jitter; transport-wide feedback every 50 ms
 * through the real recorder, writer, parser and decoder.
 *
 * Prints, per profile: time to converge, mean target and utilisation of
 * the link, queue delay p50/p95 at the bottleneck, packet loss. Never
 * pass/fail.
 *
 * "converge" is the first time the target reaches 80% of the link (before
 * the drop, for the drop profile); "fall" the time from the drop until the
 * target is under the lower capacity; "recover" the time from the capacity's
 * return until the target is at 80% of it again.
 *
 *   bwe_sim              all profiles
 *   bwe_sim -t PROFILE   a trace of one profile every 500 ms
 *   bwe_sim -T PROFILE   the same with REMB instead of transport-wide feedback
 *
 * Each profile runs twice: with transport-wide feedback (twcc) and with
 * REMB alone from the receive-side estimator (remb). "start (90%)" and
 * "recover (90%)" are the times to 90% of the link (or of the maximum),
 * from the start and from the capacity's return; "prb" the probe clusters
 * sent. The tbf- profiles are the lab's token bucket (tests/lab/impair.sh)
 * with an encoder that follows a raise over a second and padding as
 * pc/media.c sends it; there the 90% times are of the rate sent over the
 * last second, as the quality bench measures them. NORAMP=1 leaves out the
 * padding after a probe's raise (mc_bwe_ramping). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define MAXQ 16384
#define OVERHEAD 40 /* IP/UDP/SRTP bytes per packet */

struct profile {
  const char *name;
  uint64_t cap1, cap2;        /* cap2 from t2 to t3 */
  uint64_t t2_ms, t3_ms;
  size_t buffer_bytes;
  double loss;
  uint64_t owd_ms, jitter_ms;
  uint64_t duration_ms;
  /* a token bucket as the lab's tc tbf (tests/lab/impair.sh): a bucket of
   * burst_bytes that fills at the capacity, and a queue of latency_ms at
   * the capacity plus the burst (tbf's limit); 0: a FIFO of buffer_bytes */
  size_t burst_bytes;
  uint64_t latency_ms;
  /* an encoder that follows a rise of the target with this time constant
   * (at once a fall), up to enc_max_bps, with padding as pc/media.c sends
   * it; 0: the encoder fills the target at once, no padding */
  uint64_t enc_tau_ms, enc_max_bps;
};

static const struct profile profiles[] = {
    {"clean-2M", 2000000, 0, 0, 0, 120000, 0, 20, 0, 60000, 0, 0, 0, 0},
    {"500k", 500000, 0, 0, 0, 60000, 0, 20, 0, 60000, 0, 0, 0, 0},
    {"2M-300k-2M", 2000000, 300000, 30000, 50000, 120000, 0, 20, 0, 100000, 0, 0, 0, 0},
    {"loss-5%", 2000000, 0, 0, 0, 120000, 0.05, 20, 0, 60000, 0, 0, 0, 0},
    {"rtt100-jitter30", 2000000, 0, 0, 0, 120000, 0.0, 50, 30, 60000, 0, 0, 0, 0},
    {"loss2%-rtt100-j30", 2000000, 0, 0, 0, 120000, 0.02, 50, 30, 60000, 0, 0, 0, 0},
    {"1M-deep-buffer", 1000000, 0, 0, 0, 500000, 0, 20, 0, 60000, 0, 0, 0, 0},
    /* the lab's rate500k and drop300k (12 s at 2 Mbit/s, 15 s at 300) */
    {"tbf-500k", 500000, 0, 0, 0, 0, 0, 1, 0, 30000, 15000, 150, 1000, 1500000},
    {"tbf-2M-300k-2M", 2000000, 300000, 12000, 27000, 0, 0, 1, 0, 40000, 15000, 150, 1000, 1500000},
};

struct pkt {
  uint16_t seq;
  size_t size;
  uint64_t enq, arrive;
  bool padding;
};

struct world {
  const struct profile *pr;
  mc_bwe *bwe;
  mc_pacer *pacer;
  mc_twcc_recorder *rec;
  /* REMB mode: the receiver's estimator, its REMBs on their way back */
  bool remb;
  mc_rbe *rbe;
  struct {
    uint64_t bps, at;
  } rb[64];
  size_t rbh, rbn;
  struct mc_probe_cluster probe;
  uint64_t probes;
  uint64_t rng, now;
  uint16_t seq;
  struct pkt q[MAXQ];
  size_t qh, qn, qbytes;
  double credit;
  struct pkt fl[MAXQ];
  size_t fh, fn;
  uint64_t last_arrive;
  struct {
    uint8_t b[1500];
    size_t len;
    uint64_t at;
  } fb[64];
  size_t fbh, fbn;
  uint64_t next_frame, next_audio, next_fb, next_rr;
  uint64_t rr_sent, rr_lost; /* sent_pkts, dropped + lost at the last RR */
  double enc_bps, pad_credit; /* the encoder's rate, padding owed (bytes) */
  uint64_t next_pad;
  uint32_t sent_ms[1000]; /* bytes sent in each of the last 1000 ms */
  uint64_t sent_1s;
  /* measurements */
  uint32_t *waits; /* ms, per delivered packet */
  size_t nwaits, capwaits;
  uint64_t sent_pkts, dropped_pkts, lost_pkts, delivered_bytes, keyframes;
};

static uint32_t rnd(struct world *w) {
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 7;
  w->rng ^= w->rng << 17;
  return (uint32_t)(w->rng >> 11);
}

static uint64_t capacity(const struct profile *p, uint64_t t_ms) {
  return p->cap2 && t_ms >= p->t2_ms && t_ms < p->t3_ms ? p->cap2 : p->cap1;
}

static void on_fb(const struct mc_rtcp_packet *p, void *user) {
  struct world *w = user;
  static struct mc_twcc_status st[MC_TWCC_MAX_PACKETS];
  size_t n = 0;
  if (p->kind == MC_RTCP_KIND_TWCC && mc_rtcp_twcc_decode(&p->u.twcc, st, MC_TWCC_MAX_PACKETS, &n) == 0)
    mc_bwe_on_twcc(w->bwe, st, n, w->now);
}

static void push(struct world *w, enum mc_pacer_class c, size_t len) {
  static uint8_t data[MC_PACER_MAX_PACKET];
  bool kf = false;
  mc_pacer_push(w->pacer, c, c == MC_PACER_PROBE ? (uint32_t)w->probe.id : 0, data, len, w->now, &kf);
  if (kf) w->keyframes++;
}

/* A probe cluster as pc/media.c sends it: padding of up to 255 bytes. */
static void probe(struct world *w, uint64_t target) {
  struct mc_pacer_stats ps;
  mc_pacer_get_stats(w->pacer, &ps);
  struct mc_probe_cluster c;
  if (ps.queued_probe || !mc_bwe_probe_next(w->bwe, w->now, target, &c)) return;
  size_t n = (c.min_bytes + 299) / 300;
  if (n < (size_t)c.min_packets) n = (size_t)c.min_packets;
  if (n > 64) n = 64;
  w->probe = c;
  w->probes++;
  mc_pacer_set_probe(w->pacer, c.bps);
  for (size_t i = 0; i < n; i++) push(w, MC_PACER_PROBE, c.min_bytes / n > 260 ? 260 : c.min_bytes / n);
}

/* Filler padding as pc/media.c's send_padding: with transport-wide
 * feedback up to 90 % of the target while the media is under 85 % of it
 * and the target under 300 kbit/s; with REMB alone up to the target, under
 * 1 Mbit/s. Every 20 ms. */
#define FILLER_TAG 0xfffffu
static void pad(struct world *w, uint64_t target) {
  struct mc_pacer_stats ps;
  mc_pacer_get_stats(w->pacer, &ps);
  double media = w->enc_bps, t = (double)target;
  double share = w->remb ? 1.0 : 0.9, max_target = w->remb ? 1000000 : 300000;
  if (!w->remb && !getenv("NORAMP") && mc_bwe_ramping(w->bwe, w->now)) {
    if (t > 1500000) t = 1500000;
    max_target = 1e12;
  }
  if (ps.queued_packets || media >= 0.85 * t || t >= max_target) {
    w->pad_credit = 0;
    return;
  }
  w->pad_credit += (share * t - media) * 0.020 / 8.0;
  static uint8_t data[MC_PACER_MAX_PACKET];
  for (int n = 0; w->pad_credit >= 300 && n < 10; n++) {
    bool kf = false;
    mc_pacer_push(w->pacer, MC_PACER_VIDEO, FILLER_TAG, data, 260, w->now, &kf);
    w->pad_credit -= 300;
  }
  if (w->pad_credit > 300) w->pad_credit = 300;
}

static void step(struct world *w, uint64_t t_ms) {
  uint64_t now = t_ms * 1000;
  w->now = now;
  const struct profile *pr = w->pr;
  uint64_t target = mc_bwe_target_bps(w->bwe);
  if (now >= w->next_frame) {
    w->next_frame += 33333;
    /* the target covers everything on the wire: audio's 48 kbit/s and
     * the per-packet overhead come off the video budget */
    double goal = (double)target;
    if (pr->enc_max_bps && goal > (double)pr->enc_max_bps) goal = (double)pr->enc_max_bps;
    if (!pr->enc_tau_ms || goal < w->enc_bps) w->enc_bps = goal;
    else w->enc_bps += (goal - w->enc_bps) * (1 - exp(-33.3 / (double)pr->enc_tau_ms));
    double bits = (w->enc_bps - 48000) / 30;
    size_t bytes = bits > 800 ? (size_t)(bits / 8) : 100;
    size_t n = (bytes + 1199) / 1200;
    bytes = bytes > n * OVERHEAD + 50 ? bytes - n * OVERHEAD : 50;
    for (size_t i = 0; i < n; i++) push(w, MC_PACER_VIDEO, bytes / n);
  }
  if (now >= w->next_audio) {
    w->next_audio += 20000;
    push(w, MC_PACER_AUDIO, 80);
  }
  probe(w, target);
  uint8_t buf[MC_PACER_MAX_PACKET];
  size_t len;
  enum mc_pacer_class cls;
  uint32_t tag;
  while (mc_pacer_pop(w->pacer, now, buf, sizeof buf, &len, &cls, &tag) == 0) {
    uint16_t seq = w->seq++;
    size_t wire = len + OVERHEAD;
    bool is_probe = cls == MC_PACER_PROBE && (int)tag == w->probe.id;
    mc_bwe_on_probe_sent(w->bwe, seq, wire, now, is_probe ? &w->probe : NULL);
    w->sent_pkts++;
    w->sent_ms[t_ms % 1000] += (uint32_t)wire;
    w->sent_1s += wire;
    size_t limit = pr->latency_ms ? (size_t)(capacity(pr, t_ms) * pr->latency_ms / 8000) + pr->burst_bytes
                                  : pr->buffer_bytes;
    if (w->qbytes + wire > limit || w->qn == MAXQ) {
      w->dropped_pkts++;
      continue;
    }
    w->q[(w->qh + w->qn++) % MAXQ] = (struct pkt){.seq = seq, .size = wire, .enq = now, .padding = is_probe || tag == FILLER_TAG};
    w->qbytes += wire;
  }
  w->credit += (double)capacity(pr, t_ms) / 8000.0;
  while (w->qn && w->credit >= (double)w->q[w->qh].size) {
    struct pkt p = w->q[w->qh];
    w->qh = (w->qh + 1) % MAXQ;
    w->qn--;
    w->qbytes -= p.size;
    w->credit -= (double)p.size;
    w->delivered_bytes += p.size;
    if (w->nwaits == w->capwaits) {
      w->capwaits = w->capwaits ? 2 * w->capwaits : 65536;
      w->waits = realloc(w->waits, w->capwaits * sizeof *w->waits);
    }
    w->waits[w->nwaits++] = (uint32_t)((now - p.enq) / 1000);
    if (pr->loss > 0 && (rnd(w) & 0xffffff) < pr->loss * 0x1000000) {
      w->lost_pkts++;
      continue;
    }
    uint64_t j = pr->jitter_ms ? rnd(w) % (pr->jitter_ms * 1000) : 0;
    p.arrive = now + pr->owd_ms * 1000 + j;
    if (p.arrive < w->last_arrive) p.arrive = w->last_arrive;
    w->last_arrive = p.arrive;
    if (w->fn < MAXQ) w->fl[(w->fh + w->fn++) % MAXQ] = p;
  }
  if (!w->qn && w->credit > (double)pr->burst_bytes) w->credit = (double)pr->burst_bytes;
  while (w->fn && w->fl[w->fh].arrive <= now) {
    const struct pkt *a = &w->fl[w->fh];
    uint64_t bps;
    if (w->remb) {
      mc_rbe_on_packet(w->rbe, mc_rtp_abs_send_time_from_us(a->enq), a->size, a->arrive, a->padding);
      if (mc_rbe_remb_due(w->rbe, now, &bps) && w->rbn < 64) {
        w->rb[(w->rbh + w->rbn++) % 64].bps = bps;
        w->rb[(w->rbh + w->rbn - 1) % 64].at = now + pr->owd_ms * 1000;
      }
    } else {
      mc_twcc_recorder_record(w->rec, a->seq, 0x5678, a->arrive);
    }
    w->fh = (w->fh + 1) % MAXQ;
    w->fn--;
  }
  if (now >= w->next_fb) {
    w->next_fb = now + MC_TWCC_FEEDBACK_INTERVAL_MS * 1000;
    size_t fl;
    while (w->fbn < 64) {
      size_t i = (w->fbh + w->fbn) % 64;
      if (mc_twcc_recorder_build(w->rec, w->fb[i].b, sizeof w->fb[i].b, &fl) != 0) break;
      w->fb[i].len = fl;
      w->fb[i].at = now + pr->owd_ms * 1000;
      w->fbn++;
    }
  }
  /* REMB mode: receiver reports every second, their fraction lost as the
   * peer counts it (tail drops and random loss alike), after the one-way
   * delay (approximated: counted now) */
  if (w->remb && now >= w->next_rr) {
    w->next_rr = now + 1000000;
    uint64_t sent = w->sent_pkts - w->rr_sent, lost = w->dropped_pkts + w->lost_pkts - w->rr_lost;
    if (sent) mc_bwe_on_rr_loss(w->bwe, (uint8_t)(lost * 256 / sent > 255 ? 255 : lost * 256 / sent), now);
    w->rr_sent = w->sent_pkts;
    w->rr_lost = w->dropped_pkts + w->lost_pkts;
  }
  while (w->rbn && w->rb[w->rbh].at <= now) {
    mc_bwe_on_remb(w->bwe, w->rb[w->rbh].bps, now);
    w->rbh = (w->rbh + 1) % 64;
    w->rbn--;
  }
  while (w->fbn && w->fb[w->fbh].at <= now) {
    mc_rtcp_parse(w->fb[w->fbh].b, w->fb[w->fbh].len, on_fb, w);
    w->fbh = (w->fbh + 1) % 64;
    w->fbn--;
  }
  mc_pacer_set_target(w->pacer, mc_bwe_target_bps(w->bwe));
  /* after the pacer sent what it could (audio leaves at once in medcall:
   * queued with it, no padding would ever go) */
  if (pr->enc_tau_ms && now >= w->next_pad) {
    w->next_pad = now + 20000;
    pad(w, mc_bwe_target_bps(w->bwe));
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void run(const struct profile *pr, bool trace, bool remb) {
  struct world *w = calloc(1, sizeof *w);
  if (!w) return;
  w->pr = pr;
  w->remb = remb;
  if (remb) mc_rbe_new(NULL, &w->rbe);
  w->rng = 0x9e3779b97f4a7c15ull;
  w->seq = 1000;
  mc_bwe_new(NULL, &w->bwe);
  mc_pacer_new(NULL, &w->pacer);
  mc_twcc_recorder_new(1, &w->rec);
  /* the lab's calls have no RTT from receiver reports for their first
   * seconds: the tbf profiles never get one */
  if (!pr->enc_tau_ms) mc_bwe_on_rtt(w->bwe, (uint32_t)(2 * pr->owd_ms));
  /* converge: target first within 80% of the capacity (or of the max the
   * estimator allows); for a drop profile also the time to fall under the
   * lower capacity and to recover to 80% of the first again */
  uint64_t conv = 0, fall = 0, recover = 0, sum_target = 0, n_target = 0, t90 = 0, r90 = 0;
  bool have_t90 = false, have_r90 = false;
  uint64_t measure_from = pr->duration_ms / 3;
  uint64_t delivered_at_measure = 0;
  size_t waits_at_measure = 0;
  for (uint64_t t = 0; t < pr->duration_ms; t++) {
    w->sent_1s -= w->sent_ms[t % 1000];
    w->sent_ms[t % 1000] = 0;
    step(w, t);
    uint64_t b = mc_bwe_target_bps(w->bwe);
    /* with an encoder that lags, as the lab's bench: what was sent over
     * the last second against the link or the encoder's maximum */
    uint64_t sent = w->sent_1s * 8;
    uint64_t reach = pr->enc_tau_ms && t >= 1000 ? sent : pr->enc_tau_ms ? 0 : b;
    uint64_t cap = capacity(pr, t);
    uint64_t goal = cap < 3000000 ? cap : 3000000;
    if (pr->enc_max_bps && goal > pr->enc_max_bps) goal = pr->enc_max_bps;
    if (!conv && (!pr->cap2 || t < pr->t2_ms) && b >= goal * 8 / 10) conv = t;
    if (!have_t90 && (!pr->cap2 || t < pr->t2_ms) && reach >= goal * 9 / 10) have_t90 = true, t90 = t;
    if (pr->cap2 && t >= pr->t3_ms && !have_r90 && reach >= goal * 9 / 10) have_r90 = true, r90 = t - pr->t3_ms;
    if (pr->cap2 && t >= pr->t2_ms && !fall && b < pr->cap2) fall = t - pr->t2_ms;
    if (pr->cap2 && t >= pr->t3_ms && !recover && b >= pr->cap1 * 8 / 10) recover = t - pr->t3_ms;
    if (t == measure_from) {
      delivered_at_measure = w->delivered_bytes;
      waits_at_measure = w->nwaits;
    }
    if (t >= measure_from && t % 10 == 0) {
      sum_target += b;
      n_target++;
    }
    if (trace && t % 500 == 0) {
      struct mc_bwe_stats s;
      struct mc_pacer_stats ps;
      mc_bwe_get_stats(w->bwe, &s);
      mc_pacer_get_stats(w->pacer, &ps);
      printf("t=%6.1f sent=%5llu cap=%5llu target=%5llu delay=%5llu loss_bps=%5llu acked=%5llu trend=%7.2f th=%6.2f "
             "usage=%d queue=%4zu ms pacerq=%zu probe=%llu/%llu\n",
             t / 1000.0, (unsigned long long)sent / 1000, (unsigned long long)cap / 1000, (unsigned long long)b / 1000,
             (unsigned long long)s.delay_bps / 1000, (unsigned long long)s.loss_bps / 1000,
             (unsigned long long)s.acked_bps / 1000, s.trend, s.threshold_ms, s.usage,
             (size_t)(w->qbytes * 8000 / cap), ps.queued_packets, (unsigned long long)s.probes,
             (unsigned long long)s.probe_bps / 1000);
    }
  }
  /* utilisation and queue delay from a third of the run on (after start-up) */
  double secs = (double)(pr->duration_ms - measure_from) / 1000;
  double cap_bits = 0;
  for (uint64_t t = measure_from; t < pr->duration_ms; t++) cap_bits += (double)capacity(pr, t) / 1000;
  double util = (double)(w->delivered_bytes - delivered_at_measure) * 8 / cap_bits;
  size_t nw = w->nwaits - waits_at_measure;
  uint32_t *wv = w->waits + waits_at_measure;
  qsort(wv, nw, sizeof *wv, cmp_u32);
  uint32_t p50 = nw ? wv[nw / 2] : 0, p95 = nw ? wv[nw * 95 / 100] : 0;
  (void)secs;
  char convs[32], falls[32] = "-", recs[32] = "-", t90s[32], r90s[32] = "-";
  snprintf(t90s, sizeof t90s, have_t90 ? "%.1f s" : "never", t90 / 1000.0);
  if (pr->cap2) snprintf(r90s, sizeof r90s, have_r90 ? "%.1f s" : "never", r90 / 1000.0);
  snprintf(convs, sizeof convs, conv ? "%.1f s" : "never", conv / 1000.0);
  if (pr->cap2) {
    snprintf(falls, sizeof falls, fall ? "%.2f s" : "never", fall / 1000.0);
    snprintf(recs, sizeof recs, recover ? "%.1f s" : "never", recover / 1000.0);
  }
  printf("%-18s %-4s %9s %9s %9s %8s %8s %8llu %6.0f%% %6u %6u %6.2f%% %6.2f%% %4llu %4llu\n", pr->name,
         remb ? "remb" : "twcc", convs, falls, recs, t90s, r90s,
         (unsigned long long)(n_target ? sum_target / n_target / 1000 : 0), util * 100, p50, p95,
         w->sent_pkts ? 100.0 * (double)w->dropped_pkts / (double)w->sent_pkts : 0,
         w->sent_pkts ? 100.0 * (double)w->lost_pkts / (double)w->sent_pkts : 0, (unsigned long long)w->keyframes,
         (unsigned long long)w->probes);
  mc_bwe_free(w->bwe);
  mc_rbe_free(w->rbe);
  mc_pacer_free(w->pacer);
  mc_twcc_recorder_free(w->rec);
  free(w->waits);
  free(w);
}

int main(int argc, char **argv) {
  mc_log_init_from_env();
  const char *trace = argc == 3 && strcmp(argv[1], "-t") == 0 ? argv[2] : NULL;
  bool remb_trace = argc == 3 && strcmp(argv[1], "-T") == 0;
  if (remb_trace) trace = argv[2];
  if (!trace) {
    printf("bwe_sim: simulated time, 1 ms steps; figures from a third of each run on\n");
    printf("%-18s %-4s %9s %9s %9s %8s %8s %8s %7s %6s %6s %7s %7s %4s %4s\n", "profile", "fb", "converge", "fall",
           "recover", "start", "recover", "target", "util", "q p50", "q p95", "qdrop", "loss", "kf", "prb");
    printf("%-18s %-4s %9s %9s %9s %8s %8s %8s %7s %6s %6s %7s %7s %4s %4s\n", "", "", "(80%cap)", "(<low)", "(80%hi)",
           "(90%)", "(90%)", "kbit/s", "", "ms", "ms", "", "random", "", "");
  }
  for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
    if (trace && strcmp(trace, profiles[i].name) != 0) continue;
    if (!trace || !remb_trace) run(&profiles[i], trace != NULL, false);
    if (!trace || remb_trace) run(&profiles[i], trace != NULL, true);
  }
  return 0;
}
