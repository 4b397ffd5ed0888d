/* Adaptive audio jitter buffer for 20 ms Opus packets (RFC 7587: 48 kHz
 * timestamps). Policy in rtp.h. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define AJB_SLOTS 64          /* 1.28 s of 20 ms frames */
#define AJB_MAX_PACKET 1500
#define AJB_FRAME_MS 20
#define AJB_SAMPLES_PER_MS 48
/* Delay is measured over the fastest packet of the last 4-8 s (two 4 s
 * buckets). The target is the 97th percentile of that delay over a
 * histogram of 10 ms buckets that forgets 0.3% a packet (a time constant
 * of about 7 s at 50 packets a second). The lab's bottleneck (rate500k)
 * queues for 1-2 s up to 150-400 ms about every 10 s, as the sender's
 * estimate probes and backs off, with 20 ms of jitter between: measured
 * over the fastest packet of 1-2 s, with a histogram forgetting in 2 s,
 * the target fell between those episodes and was grown again at the next
 * (1.7-2.5% of the audio stretched, 2-3% lost to late packets and
 * re-buffering, in replays of six calls' arrival traces). This memory
 * keeps the delay one episode needs until the next; a standing queue is
 * still forgotten, within about 25 s. */
#define AJB_MIN_BUCKET_MS 4000
#define AJB_HIST_MS 10
#define AJB_HIST_BUCKETS 64 /* 0..630 ms, the last one open */
#define AJB_FORGET 0.997
#define AJB_QUANTILE 0.97
/* Consecutive empty pops (waiting for a late packet included) before
 * re-buffering: a sender that stopped (DTX, a pause) is heard as silence,
 * not as 200 ms more of concealment. */
#define AJB_REBUFFER_POPS 10
/* Faster only above target + the spread of recent transits + 20 ms
 * (NetEq's high limit), and at least this: wider than the longest period
 * one stretch adds or removes (15 ms), so one never overshoots into the
 * other. A bottleneck queue that drains and builds again moves every
 * packet's delay together: cut down to the target after it drained, the
 * delay was short when it built again (rate500k, faster above target + 40
 * ms: 50 late packets in 30 s, concealment 0.7 -> 4.5%). */
#define AJB_BAND_MS 40
/* NetEq looks back 2 s; the lab's bottleneck queue drains and builds again
 * over 3-8 s (the bandwidth estimate's cycles): with 1-2 s the delay was
 * cut after each drain and grown again at the next build (rate500k: 1.7-3%
 * of the audio removed, 0.4-0.7% added). */
#define AJB_SPREAD_BUCKET_MS 4000
/* Frames in a row the player could not stretch before the buffer falls
 * back to concealment (growing) or dropping frames (shrinking). */
#define AJB_FALLBACK_REFUSALS 25

struct aslot {
  bool used;
  int64_t fi; /* frame index from the first packet's timestamp */
  uint16_t seq;
  size_t len;
  uint8_t data[AJB_MAX_PACKET];
};

struct mc_ajb {
  uint32_t min_delay_ms, max_delay_ms;
  uint32_t config_min_ms; /* min_delay_ms as configured; lip sync may raise it */
  bool have_last_fi;
  int64_t last_fi;        /* the frame the last pop gave out */
  struct aslot slots[AJB_SLOTS];
  bool have_base;
  int64_t ts_last; /* unwrapped timestamp of the newest packet */
  int64_t ts_base;
  bool have_newest;
  int64_t newest_fi;
  bool playing;
  int64_t next_fi;
  unsigned empty_pops;
  unsigned waits; /* WAITING pops since the last frame given out */
  bool stretched_last;
  enum mc_ajb_wish wish;
  bool wish_open;                   /* the player has not answered yet */
  unsigned refused_slower, refused_faster;
  /* delay estimate */
  struct mc_window_min min_transit; /* samples, fastest of the last 4-8 s */
  /* fastest and (minus) slowest of the last 4-8 s: the spread of delays */
  struct mc_window_min spread_min, spread_max;
  double hist[AJB_HIST_BUCKETS];
  uint64_t delays; /* delays measured */
  uint32_t delay_ms; /* the quantile */
  struct mc_ajb_stats stats;
};

int mc_ajb_new(const struct mc_ajb_config *config, mc_ajb **out) {
  if (!out) return MC_EINVAL;
  mc_ajb *j = calloc(1, sizeof *j);
  if (!j) return MC_ENOMEM;
  j->min_delay_ms = config && config->min_delay_ms ? config->min_delay_ms : 40;
  j->max_delay_ms = config && config->max_delay_ms ? config->max_delay_ms : 400;
  if (j->max_delay_ms > (AJB_SLOTS - 4) * AJB_FRAME_MS) j->max_delay_ms = (AJB_SLOTS - 4) * AJB_FRAME_MS;
  if (j->min_delay_ms > j->max_delay_ms) j->min_delay_ms = j->max_delay_ms;
  j->config_min_ms = j->min_delay_ms;
  *out = j;
  return MC_OK;
}

void mc_ajb_free(mc_ajb *j) { free(j); }

void mc_ajb_set_min_delay(mc_ajb *j, uint32_t ms) {
  if (!j) return;
  if (ms < j->config_min_ms) ms = j->config_min_ms;
  j->min_delay_ms = MC_MIN(ms, j->max_delay_ms);
}

static uint32_t target_ms(const mc_ajb *j) {
  uint32_t t = j->delay_ms + AJB_FRAME_MS;
  return MC_MIN(MC_MAX(t, j->min_delay_ms), j->max_delay_ms);
}

/* The slowest packet is measured against the fastest of the same window
 * (as NetEq's arrival history does), not against the fastest when it came:
 * after a queue drained, the packets that waited in it still count, and
 * the delay is not cut at once. */
static int64_t high_margin_ms(const mc_ajb *j) {
  int64_t spread = (-mc_window_min_get(&j->spread_max) - mc_window_min_get(&j->spread_min)) / AJB_SAMPLES_PER_MS;
  return MC_MAX(AJB_BAND_MS, spread + AJB_FRAME_MS);
}

static int64_t oldest_fi(const mc_ajb *j) {
  int64_t lo = INT64_MAX;
  for (size_t i = 0; i < AJB_SLOTS; i++)
    if (j->slots[i].used && j->slots[i].fi < lo) lo = j->slots[i].fi;
  return lo;
}

static uint32_t level_ms(const mc_ajb *j) {
  if (!j->have_newest) return 0;
  int64_t from = j->playing ? j->next_fi : oldest_fi(j);
  if (from == INT64_MAX || j->newest_fi < from) return 0;
  return (uint32_t)(j->newest_fi - from + 1) * AJB_FRAME_MS;
}

static void clear(mc_ajb *j) {
  for (size_t i = 0; i < AJB_SLOTS; i++) j->slots[i].used = false;
  j->playing = false;
  j->have_newest = false;
  j->empty_pops = 0;
  j->waits = 0;
}

static void update_delay(mc_ajb *j, int64_t ext_ts, uint64_t arrival_ms) {
  int64_t transit = (int64_t)arrival_ms * AJB_SAMPLES_PER_MS - ext_ts;
  mc_window_min_add(&j->min_transit, transit, (int64_t)arrival_ms, AJB_MIN_BUCKET_MS);
  int64_t d = (transit - mc_window_min_get(&j->min_transit)) / AJB_SAMPLES_PER_MS;
  mc_window_min_add(&j->spread_min, transit, (int64_t)arrival_ms, AJB_SPREAD_BUCKET_MS);
  mc_window_min_add(&j->spread_max, -transit, (int64_t)arrival_ms, AJB_SPREAD_BUCKET_MS);
  size_t bucket = (size_t)MC_MIN(d / AJB_HIST_MS, (int64_t)AJB_HIST_BUCKETS - 1);
  /* the first packets weigh more, so the estimate is usable at once */
  double w = MC_MAX(1.0 - AJB_FORGET, 2.0 / (double)(j->delays + 2));
  j->delays++;
  double below = 0;
  uint32_t q = 0;
  bool found = false;
  for (size_t i = 0; i < AJB_HIST_BUCKETS; i++) {
    j->hist[i] = j->hist[i] * (1.0 - w) + (i == bucket ? w : 0.0);
    below += j->hist[i];
    if (!found && below >= AJB_QUANTILE) {
      found = true;
      q = (uint32_t)(i * AJB_HIST_MS);
    }
  }
  j->delay_ms = q;
}

int mc_ajb_push(mc_ajb *j, uint16_t seq, uint32_t ts, const uint8_t *data, size_t len, uint64_t arrival_ms) {
  if (!j || (len && !data)) return MC_EINVAL;
  if (len == 0) return MC_EPARSE;
  if (len > AJB_MAX_PACKET) return MC_ETOOBIG;
  int64_t ext;
  if (!j->have_base) {
    j->have_base = true;
    j->ts_base = ts;
    j->ts_last = ts;
    ext = ts;
  } else {
    ext = j->ts_last + (int32_t)(ts - (uint32_t)j->ts_last);
    if (ext > j->ts_last) j->ts_last = ext;
  }
  /* nearest 20 ms slot on the grid set by the first packet */
  int64_t rel = ext - j->ts_base;
  int64_t fi = (rel >= 0 ? rel + MC_OPUS_FRAME_SAMPLES / 2 : rel - MC_OPUS_FRAME_SAMPLES / 2) / MC_OPUS_FRAME_SAMPLES;
  update_delay(j, ext, arrival_ms);
  if (j->playing && fi < j->next_fi) {
    j->stats.late++;
    return MC_OK;
  }
  int64_t lo = fi;
  if (j->playing) {
    lo = j->next_fi;
  } else if (j->have_newest) {
    int64_t o = oldest_fi(j);
    if (o != INT64_MAX) lo = o;
  }
  if (fi >= lo + AJB_SLOTS || (j->have_newest && fi <= j->newest_fi - AJB_SLOTS)) {
    /* a jump the buffer cannot span (pause, restart): start again */
    MC_LOGD("rtp", "ajb: timestamp jump, re-buffering seq=%u", (unsigned)seq);
    clear(j);
  }
  struct aslot *s = &j->slots[(size_t)(fi & (AJB_SLOTS - 1))];
  if (s->used && s->fi == fi) {
    j->stats.duplicates++;
    return MC_OK;
  }
  s->used = true;
  s->fi = fi;
  s->seq = seq;
  s->len = len;
  memcpy(s->data, data, len);
  if (!j->have_newest || fi > j->newest_fi) j->newest_fi = fi;
  j->have_newest = true;
  j->stats.packets++;
  return MC_OK;
}

int mc_ajb_pop(mc_ajb *j, uint64_t play_ms, uint8_t *buf, size_t cap, size_t *len, enum mc_ajb_status *status) {
  if (!j || !len || !status || (cap && !buf)) return MC_EINVAL;
  *len = 0;
  j->have_last_fi = false;
  /* a wish the player did not answer: it could not stretch (and a wish
   * belongs to one frame: none after buffering) */
  if (j->wish_open) mc_ajb_stretched(j, 0);
  j->wish = MC_AJB_KEEP;
  uint32_t target = target_ms(j);
  if (!j->playing) {
    if (!j->have_newest || level_ms(j) < target) {
      *status = MC_AJB_BUFFERING;
      return MC_OK;
    }
    j->playing = true;
    j->next_fi = oldest_fi(j);
    j->empty_pops = 0;
    j->waits = 0;
  }
  /* fallbacks while the audio cannot be stretched: drop one frame per pop
   * until back near the target */
  if (j->refused_faster >= AJB_FALLBACK_REFUSALS && level_ms(j) > target + 2 * AJB_FRAME_MS) {
    struct aslot *d = &j->slots[(size_t)(j->next_fi & (AJB_SLOTS - 1))];
    if (d->used && d->fi == j->next_fi) d->used = false;
    j->next_fi++;
    j->stats.dropped++;
  }
  /* ... or hold back one frame time, every other pop */
  if (j->refused_slower >= AJB_FALLBACK_REFUSALS && level_ms(j) + AJB_FRAME_MS < target && !j->stretched_last &&
      j->newest_fi >= j->next_fi) {
    j->stretched_last = true;
    j->stats.stretched++;
    *status = MC_AJB_STRETCH;
    return MC_OK;
  }
  j->stretched_last = false;
  /* A later packet came after a wait: the frames still missing before it
   * were lost, not late, and the concealment played while waiting stands
   * in for them (as NetEq merges expanded audio into a later packet), so
   * a loss burst does not grow the delay by the frames it took (burst10,
   * waiting without this: 6% of the audio removed again, concealment 14%
   * for 10% lost). */
  while (j->waits > 0 && j->newest_fi > j->next_fi) {
    struct aslot *g = &j->slots[(size_t)(j->next_fi & (AJB_SLOTS - 1))];
    if (g->used && g->fi == j->next_fi) break;
    j->next_fi++;
    j->waits--;
    j->stats.missing++;
  }
  struct aslot *s = &j->slots[(size_t)(j->next_fi & (AJB_SLOTS - 1))];
  if (s->used && s->fi == j->next_fi) {
    if (cap < s->len) {
      *len = s->len;
      return MC_ETOOBIG;
    }
    memcpy(buf, s->data, s->len);
    *len = s->len;
    s->used = false;
    j->have_last_fi = true;
    j->last_fi = j->next_fi;
    j->next_fi++;
    j->empty_pops = 0;
    j->waits = 0;
    j->stats.frames++;
    *status = MC_AJB_FRAME;
    /* the playout delay: when this frame is heard over when it would have
     * come with the fastest recent transit */
    int64_t ext = j->ts_base + j->last_fi * MC_OPUS_FRAME_SAMPLES;
    int64_t d = ((int64_t)play_ms * AJB_SAMPLES_PER_MS - ext - mc_window_min_get(&j->min_transit)) / AJB_SAMPLES_PER_MS;
    j->stats.delay_ms = (int32_t)MC_MAX(MC_MIN(d, INT32_MAX), INT32_MIN);
    if (d < (int64_t)target) j->wish = MC_AJB_SLOWER;
    else if (d > (int64_t)target + high_margin_ms(j)) j->wish = MC_AJB_FASTER;
    /* refusals count in a row, while the delay stays on that side */
    if (j->wish != MC_AJB_SLOWER) j->refused_slower = 0;
    if (j->wish != MC_AJB_FASTER) j->refused_faster = 0;
    j->wish_open = j->wish != MC_AJB_KEEP;
    return MC_OK;
  }
  if (j->newest_fi < j->next_fi) {
    j->stats.waited++;
    j->waits++;
    *status = MC_AJB_WAITING;
    /* Nothing after this frame has come either: it is late rather than
     * lost (a queue building on the path), so the buffer waits for it
     * (as NetEq expands without moving on): the player conceals 20 ms
     * that stand for no timestamp, and the delay grows by a frame. Moving on instead
     * made every packet behind it late as well, until the queue drained
     * (rate500k: 5-35 late packets in 30 s, each concealed, then 200 ms
     * of re-buffering silence at once). */
    if (++j->empty_pops >= AJB_REBUFFER_POPS) {
      MC_LOGD("rtp", "ajb: underrun, re-buffering target_ms=%u", target);
      j->playing = false;
    }
    return MC_OK;
  }
  j->stats.missing++;
  *status = MC_AJB_MISSING;
  j->have_last_fi = true;
  j->last_fi = j->next_fi;
  j->next_fi++;
  j->empty_pops = 0;
  return MC_OK;
}

enum mc_ajb_wish mc_ajb_wish(const mc_ajb *j) { return j ? j->wish : MC_AJB_KEEP; }

void mc_ajb_stretched(mc_ajb *j, int samples) {
  if (!j) return;
  if (j->wish == MC_AJB_SLOWER) j->refused_slower = samples > 0 ? 0 : j->refused_slower + 1;
  if (j->wish == MC_AJB_FASTER) j->refused_faster = samples < 0 ? 0 : j->refused_faster + 1;
  if (samples > 0) j->stats.inserted += (uint64_t)samples;
  if (samples < 0) j->stats.removed += (uint64_t)-(int64_t)samples;
  j->wish_open = false;
}

int mc_ajb_peek_next(mc_ajb *j, uint8_t *buf, size_t cap, size_t *len) {
  if (!j || !len || (cap && !buf)) return MC_EINVAL;
  if (!j->playing) return MC_ENOTFOUND;
  struct aslot *s = &j->slots[(size_t)(j->next_fi & (AJB_SLOTS - 1))];
  if (!s->used || s->fi != j->next_fi) return MC_ENOTFOUND;
  *len = s->len;
  if (cap < s->len) return MC_ETOOBIG;
  memcpy(buf, s->data, s->len);
  return MC_OK;
}

int mc_ajb_last_ts(const mc_ajb *j, uint32_t *ts) {
  if (!j || !ts) return MC_EINVAL;
  if (!j->have_last_fi) return MC_ENOTFOUND;
  *ts = (uint32_t)(j->ts_base + j->last_fi * MC_OPUS_FRAME_SAMPLES);
  return MC_OK;
}

void mc_ajb_get_stats(const mc_ajb *j, struct mc_ajb_stats *out) {
  *out = j->stats;
  out->target_ms = target_ms(j);
  out->level_ms = level_ms(j);
}
