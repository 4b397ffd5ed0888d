/* Pacer: a leaky bucket that spreads packets at factor x the target
 * bitrate in short bursts, so that a key frame does not land on the
 * bottleneck queue at once (a burst there reads as over-use to the delay
 * detector, and as loss on a shallow buffer). WebRTC paces at 2.5 x the
 * estimate in 5 ms steps; so do we. Audio first, then retransmissions,
 * then new video, then probe padding. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define PACER_CAPACITY 2048
#define PACER_FACTOR 2.5
#define PACER_BURST_MS 5
#define PACER_MAX_VIDEO_DELAY_MS 2000
#define PACER_MAX_DEBT_MS 100 /* audio may run the budget this far below zero */

struct slot {
  size_t len;
  uint32_t tag;
  uint64_t enq_us;
  uint8_t *data; /* malloc'd at push: memory follows what is queued */
};

struct fifo {
  size_t *idx;
  size_t head, count;
};

struct mc_pacer {
  struct mc_pacer_config cfg;
  struct slot *slots;
  size_t *free_stack;
  size_t nfree;
  struct fifo q[MC_PACER_CLASSES];
  size_t queued_bytes;
  double rate_Bps; /* pacing rate, bytes per second; 0: unlimited */
  double probe_Bps; /* while probe packets are queued, when higher */
  uint64_t pacing_bps;
  double budget; /* bytes */
  uint64_t last_us;
  bool have_last;
  uint64_t sent_packets, sent_bytes, dropped_video, overflows, max_queue_us;
};

int mc_pacer_new(const struct mc_pacer_config *config, mc_pacer **out) {
  if (!out) return MC_EINVAL;
  mc_pacer *p = calloc(1, sizeof *p);
  if (!p) return MC_ENOMEM;
  if (config) p->cfg = *config;
  if (!p->cfg.capacity) p->cfg.capacity = PACER_CAPACITY;
  if (p->cfg.factor <= 0) p->cfg.factor = PACER_FACTOR;
  if (!p->cfg.burst_ms) p->cfg.burst_ms = PACER_BURST_MS;
  if (!p->cfg.max_video_delay_ms) p->cfg.max_video_delay_ms = PACER_MAX_VIDEO_DELAY_MS;
  size_t n = p->cfg.capacity;
  p->slots = calloc(n, sizeof *p->slots);
  p->free_stack = calloc(n, sizeof *p->free_stack);
  if (!p->slots || !p->free_stack) goto fail;
  for (int c = 0; c < MC_PACER_CLASSES; c++) {
    p->q[c].idx = calloc(n, sizeof *p->q[c].idx);
    if (!p->q[c].idx) goto fail;
  }
  for (size_t i = 0; i < n; i++) p->free_stack[i] = n - 1 - i;
  p->nfree = n;
  *out = p;
  return MC_OK;
fail:
  mc_pacer_free(p);
  return MC_ENOMEM;
}

void mc_pacer_free(mc_pacer *p) {
  if (!p) return;
  if (p->slots)
    for (size_t i = 0; i < p->cfg.capacity; i++) free(p->slots[i].data);
  for (int c = 0; c < MC_PACER_CLASSES; c++) free(p->q[c].idx);
  free(p->free_stack);
  free(p->slots);
  free(p);
}

void mc_pacer_set_target(mc_pacer *p, uint64_t target_bps) {
  if (!p) return;
  p->pacing_bps = (uint64_t)((double)target_bps * p->cfg.factor);
  p->rate_Bps = (double)p->pacing_bps / 8.0;
}

void mc_pacer_set_probe(mc_pacer *p, uint64_t probe_bps) {
  if (p) p->probe_Bps = (double)probe_bps / 8.0;
}

/* A probe cluster is measured by the rate it left at: while one is queued
 * everything leaves at its rate (WebRTC's pacer does the same). */
static double rate_now(const mc_pacer *p) {
  if (p->q[MC_PACER_PROBE].count && p->rate_Bps > 0 && p->probe_Bps > p->rate_Bps) return p->probe_Bps;
  return p->rate_Bps;
}

static void refill(mc_pacer *p, uint64_t now_us) {
  if (!p->have_last) {
    p->have_last = true;
    p->last_us = now_us;
    return;
  }
  if (now_us <= p->last_us) return;
  double dt = (double)(now_us - p->last_us) / 1e6;
  p->last_us = now_us;
  double rate = rate_now(p);
  p->budget += rate * dt;
  double cap = rate * p->cfg.burst_ms / 1000.0;
  if (p->budget > cap) p->budget = cap;
}

static size_t fifo_at(const struct fifo *f, size_t cap, size_t i) { return f->idx[(f->head + i) % cap]; }

static void fifo_push(struct fifo *f, size_t cap, size_t slot) {
  f->idx[(f->head + f->count) % cap] = slot;
  f->count++;
}

static size_t fifo_pop(struct fifo *f, size_t cap) {
  size_t s = f->idx[f->head];
  f->head = (f->head + 1) % cap;
  f->count--;
  return s;
}

static void release(mc_pacer *p, size_t slot) {
  p->queued_bytes -= p->slots[slot].len;
  free(p->slots[slot].data);
  p->slots[slot].data = NULL;
  p->free_stack[p->nfree++] = slot;
}

static void drop_video(mc_pacer *p) {
  struct fifo *v = &p->q[MC_PACER_VIDEO];
  while (v->count) {
    release(p, fifo_pop(v, p->cfg.capacity));
    p->dropped_video++;
  }
  p->overflows++;
}

int mc_pacer_push(mc_pacer *p, enum mc_pacer_class cls, uint32_t tag, const uint8_t *pkt, size_t len,
                  uint64_t now_us, bool *keyframe_needed) {
  if (keyframe_needed) *keyframe_needed = false;
  if (!p || !pkt || len == 0 || (int)cls < 0 || cls >= MC_PACER_CLASSES) return MC_EINVAL;
  if (len > MC_PACER_MAX_PACKET) return MC_ETOOBIG;
  size_t cap = p->cfg.capacity;
  struct fifo *v = &p->q[MC_PACER_VIDEO];
  bool stale = v->count && now_us - p->slots[fifo_at(v, cap, 0)].enq_us >= (uint64_t)p->cfg.max_video_delay_ms * 1000;
  if (stale || (p->nfree == 0 && v->count)) {
    drop_video(p);
    if (keyframe_needed) *keyframe_needed = true;
  }
  if (p->nfree == 0) {
    if (cls == MC_PACER_VIDEO) {
      p->dropped_video++;
      if (keyframe_needed) *keyframe_needed = true;
      return 0;
    }
    return MC_ETOOBIG;
  }
  uint8_t *copy = malloc(len);
  if (!copy) return MC_ENOMEM;
  size_t s = p->free_stack[--p->nfree];
  p->slots[s].data = copy;
  p->slots[s].len = len;
  p->slots[s].tag = tag;
  p->slots[s].enq_us = now_us;
  memcpy(p->slots[s].data, pkt, len);
  p->queued_bytes += len;
  fifo_push(&p->q[cls], cap, s);
  return 0;
}

int mc_pacer_pop(mc_pacer *p, uint64_t now_us, uint8_t *buf, size_t cap, size_t *len, enum mc_pacer_class *cls,
                 uint32_t *tag) {
  if (!p || !buf || !len) return MC_EINVAL;
  refill(p, now_us);
  int c = -1;
  if (p->q[MC_PACER_AUDIO].count) c = MC_PACER_AUDIO;
  else if (p->rate_Bps <= 0 || p->budget >= 0)
    c = p->q[MC_PACER_RTX].count     ? MC_PACER_RTX
        : p->q[MC_PACER_VIDEO].count ? MC_PACER_VIDEO
        : p->q[MC_PACER_PROBE].count ? MC_PACER_PROBE
                                     : -1;
  if (c < 0) return MC_ENOTFOUND;
  size_t s = fifo_at(&p->q[c], p->cfg.capacity, 0);
  if (p->slots[s].len > cap) return MC_ETOOBIG;
  fifo_pop(&p->q[c], p->cfg.capacity);
  struct slot *sl = &p->slots[s];
  memcpy(buf, sl->data, sl->len);
  *len = sl->len;
  if (cls) *cls = (enum mc_pacer_class)c;
  if (tag) *tag = sl->tag;
  if (p->rate_Bps > 0) {
    p->budget -= (double)sl->len;
    double floor = -rate_now(p) * PACER_MAX_DEBT_MS / 1000.0;
    if (p->budget < floor) p->budget = floor;
  }
  uint64_t waited = now_us > sl->enq_us ? now_us - sl->enq_us : 0;
  if (waited > p->max_queue_us) p->max_queue_us = waited;
  p->sent_packets++;
  p->sent_bytes += sl->len;
  release(p, s);
  return 0;
}

uint64_t mc_pacer_next_us(const mc_pacer *p, uint64_t now_us) {
  if (!p) return UINT64_MAX;
  size_t queued = 0;
  for (int c = 0; c < MC_PACER_CLASSES; c++) queued += p->q[c].count;
  if (!queued) return UINT64_MAX;
  if (p->q[MC_PACER_AUDIO].count || p->rate_Bps <= 0 || !p->have_last) return now_us;
  double budget = p->budget, rate = rate_now(p);
  if (now_us > p->last_us) {
    budget += rate * (double)(now_us - p->last_us) / 1e6;
    double cap = rate * p->cfg.burst_ms / 1000.0;
    if (budget > cap) budget = cap;
  }
  if (budget >= 0) return now_us;
  return now_us + (uint64_t)(-budget / rate * 1e6) + 1;
}

void mc_pacer_get_stats(const mc_pacer *p, struct mc_pacer_stats *out) {
  if (!p || !out) return;
  memset(out, 0, sizeof *out);
  out->pacing_bps = p->pacing_bps;
  for (int c = 0; c < MC_PACER_CLASSES; c++) out->queued_packets += p->q[c].count;
  out->queued_probe = p->q[MC_PACER_PROBE].count;
  out->queued_bytes = p->queued_bytes;
  out->sent_packets = p->sent_packets;
  out->sent_bytes = p->sent_bytes;
  out->dropped_video = p->dropped_video;
  out->overflows = p->overflows;
  out->max_queue_us = p->max_queue_us;
}
