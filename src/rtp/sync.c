/* Lip sync from the peer's sender reports (RFC 3550 6.4.1), and the fit of
 * VP8 into the sending estimate. Policy in rtp.h. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

struct strack {
  bool have_sr;
  uint64_t sr_ntp;
  uint32_t sr_rtp_ts;
  uint32_t clock_hz;
  bool have_transit;
  double transit_ms;       /* smoothed; relative to mc_sync.ref_us */
  double shown_transit_ms; /* video only: with the hold */
  uint64_t last_event_us;
};

struct mc_sync {
  uint32_t max_video_ms, max_audio_ms;
  struct strack tr[2];
  bool have_ref;
  int64_t ref_us; /* the first transit seen: keeps the averages small */
  uint64_t last_audio_step_us;
  bool audio_stepped;
  struct mc_sync_state st;
};

int mc_sync_new(const struct mc_sync_config *c, mc_sync **out) {
  if (!out) return MC_EINVAL;
  mc_sync *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  s->max_video_ms = c && c->max_video_delay_ms ? c->max_video_delay_ms : MC_SYNC_MAX_VIDEO_DELAY_MS;
  s->max_audio_ms = c && c->max_audio_delay_ms ? c->max_audio_delay_ms : MC_SYNC_MAX_AUDIO_DELAY_MS;
  s->tr[MC_SYNC_VIDEO].clock_hz = c && c->video_clock_hz ? c->video_clock_hz : 90000;
  s->tr[MC_SYNC_AUDIO].clock_hz = c && c->audio_clock_hz ? c->audio_clock_hz : 48000;
  *out = s;
  return MC_OK;
}

void mc_sync_free(mc_sync *s) { free(s); }

void mc_sync_on_sender_report(mc_sync *s, enum mc_sync_track t, uint64_t ntp, uint32_t rtp_ts) {
  if (!s || (t != MC_SYNC_AUDIO && t != MC_SYNC_VIDEO)) return;
  struct strack *k = &s->tr[t];
  if (k->have_sr && k->sr_ntp == ntp && k->sr_rtp_ts == rtp_ts) return;
  k->have_sr = true;
  k->sr_ntp = ntp;
  k->sr_rtp_ts = rtp_ts;
  s->st.sender_reports++;
}

/* The capture instant of rtp_ts on the sender's clock, in us since 1900.
 * The difference to the report's timestamp is taken modulo 2^32 as a
 * signed number (RFC 3550 5.1: timestamps wrap), good for +-6 hours of
 * 90 kHz video. */
static int64_t capture_us(const struct strack *k, uint32_t rtp_ts) {
  int64_t sr_us = (int64_t)(k->sr_ntp >> 32) * 1000000 + (int64_t)(((k->sr_ntp & 0xffffffffu) * 1000000) >> 32);
  int64_t d = (int32_t)(rtp_ts - k->sr_rtp_ts);
  return sr_us + d * 1000000 / (int64_t)k->clock_hz;
}

/* Transit relative to the first one seen, in ms. */
static double rel_transit_ms(mc_sync *s, const struct strack *k, uint32_t rtp_ts, uint64_t local_us) {
  int64_t transit = (int64_t)local_us - capture_us(k, rtp_ts);
  if (!s->have_ref) {
    s->have_ref = true;
    s->ref_us = transit;
  }
  return (double)(transit - s->ref_us) / 1000.0;
}

static double smooth(double avg, bool first, double x) {
  return first ? x : avg + MC_SYNC_SMOOTHING * (x - avg);
}

void mc_sync_on_audio_played(mc_sync *s, uint32_t rtp_ts, uint64_t play_us) {
  if (!s) return;
  struct strack *k = &s->tr[MC_SYNC_AUDIO];
  if (!k->have_sr) return;
  k->transit_ms = smooth(k->transit_ms, !k->have_transit, rel_transit_ms(s, k, rtp_ts, play_us));
  k->have_transit = true;
  k->last_event_us = play_us;
  s->st.audio_events++;
}

void mc_sync_on_video_shown(mc_sync *s, uint32_t rtp_ts, uint64_t ready_us, uint64_t shown_us) {
  if (!s) return;
  struct strack *k = &s->tr[MC_SYNC_VIDEO];
  if (!k->have_sr) return;
  k->transit_ms = smooth(k->transit_ms, !k->have_transit, rel_transit_ms(s, k, rtp_ts, ready_us));
  k->shown_transit_ms = smooth(k->shown_transit_ms, !k->have_transit, rel_transit_ms(s, k, rtp_ts, shown_us));
  k->have_transit = true;
  k->last_event_us = MC_MAX(ready_us, shown_us);
  s->st.video_events++;
}

static bool fresh(const struct strack *k, uint64_t now_us) {
  return k->have_sr && k->have_transit && now_us < k->last_event_us + (uint64_t)MC_SYNC_STALE_MS * 1000;
}

void mc_sync_update(mc_sync *s, uint32_t audio_jb_ms, uint64_t now_us) {
  if (!s) return;
  struct strack *a = &s->tr[MC_SYNC_AUDIO], *v = &s->tr[MC_SYNC_VIDEO];
  if (!fresh(a, now_us) || !fresh(v, now_us)) {
    s->st.measured = false;
    s->st.video_delay_ms = 0;
    s->st.audio_delay_ms = 0;
    s->audio_stepped = false;
    return;
  }
  s->st.measured = true;
  double base = v->transit_ms - a->transit_ms;
  s->st.base_offset_ms = base;
  s->st.offset_ms = v->shown_transit_ms - a->transit_ms;
  /* Audio later: hold pictures. The ready times do not depend on the hold,
   * so this is the error itself, not a step toward it. */
  double want = base < 0 ? -base : 0;
  if (want > s->max_video_ms) want = s->max_video_ms;
  double cur = s->st.video_delay_ms;
  if (want - cur >= MC_SYNC_DEADBAND_MS || cur - want >= MC_SYNC_DEADBAND_MS || (want == 0 && cur > 0))
    s->st.video_delay_ms = (uint32_t)(want + 0.5);
  /* Video later: more audio delay; audio too late with a delay of ours in
   * place: give some back. The audio transit follows only as the buffer
   * fills or drains, hence steps of half the error, one a second. */
  if (s->audio_stepped && now_us < s->last_audio_step_us + (uint64_t)MC_SYNC_AUDIO_STEP_MS * 1000) return;
  uint32_t ad = s->st.audio_delay_ms;
  if (base > MC_SYNC_DEADBAND_MS) {
    double from = MC_MAX((double)ad, (double)audio_jb_ms);
    double next = from + MC_SYNC_AUDIO_GAIN * base;
    ad = (uint32_t)MC_MIN(next, (double)s->max_audio_ms);
  } else if (base < -MC_SYNC_DEADBAND_MS && ad > 0) {
    double step = MC_SYNC_AUDIO_GAIN * -base;
    ad = step >= ad ? 0 : ad - (uint32_t)step;
  } else {
    return;
  }
  if (ad != s->st.audio_delay_ms) {
    s->st.audio_delay_ms = ad;
    s->audio_stepped = true;
    s->last_audio_step_us = now_us;
  }
}

void mc_sync_get(const mc_sync *s, struct mc_sync_state *out) { *out = s->st; }

/* ---- fitting video into the sending estimate ---- */

static const struct {
  int div;          /* size divisor */
  bool low_fps;
  int above_kbps;   /* this level needs at least this much (640x480) */
} fit_levels[MC_FIT_LEVELS] = {{1, false, 250}, {2, false, 150}, {2, true, 100}, {4, true, 0}};

static double overshoot(const struct mc_fit_config *c, int level) {
  if (!c->overshoot_pct || c->overshoot_pct[level] <= 100) return 1.0;
  return MC_MIN(c->overshoot_pct[level], MC_FIT_OVERSHOOT_MAX_PCT) / 100.0;
}

static int level_kbps(const struct mc_fit_config *c, int level) {
  double px = (double)c->width * c->height / MC_FIT_REF_PIXELS;
  return (int)(fit_levels[level].above_kbps * px * overshoot(c, level));
}

static int even_dim(int full, int div, int min) {
  int d = full / div;
  if (d < min) d = MC_MIN(min, full);
  d &= ~1;
  return d < 2 ? 2 : d;
}

bool mc_fit_video(const struct mc_fit_config *c, uint64_t bps, uint64_t now_ms, struct mc_fit *f) {
  uint64_t audio = c->audio_bps;
  int64_t vk = bps > audio ? (int64_t)((bps - audio) / 1000) : 0;
  int level = MC_FIT_LEVELS - 1;
  for (int i = 0; i < MC_FIT_LEVELS; i++)
    if (vk >= level_kbps(c, i)) {
      level = i;
      break;
    }
  double last = overshoot(c, MC_FIT_LEVELS - 1);
  bool paused = vk < MC_FIT_PAUSE_KBPS * last;
  struct mc_fit old = *f;
  if (!f->set) {
    f->set = true;
    f->level = 0;
    f->paused = false;
    f->changed_ms = now_ms;
    f->up_after_ms = now_ms;
  } else {
    bool held = now_ms >= f->up_after_ms;
    if (paused) {
      f->paused = true;
    } else if (f->paused) {
      if (vk >= MC_FIT_RESUME_KBPS * last && held) f->paused = false;
    }
    if (level > f->level) {
      f->level = level;
    } else if (level < f->level && held && vk >= level_kbps(c, f->level - 1) * MC_FIT_UP_MARGIN) {
      f->level--; /* one step at a time */
    }
    if (f->level != old.level || f->paused != old.paused) {
      f->changed_ms = now_ms;
      f->up_after_ms = now_ms + MC_FIT_UP_HOLD_MS;
    }
  }
  int div = fit_levels[f->level].div;
  /* 80 pixels wide at least: the stamp needs 2 per square */
  f->width = even_dim(c->width, div, 80);
  f->height = even_dim(c->height, div, 16);
  f->fps = fit_levels[f->level].low_fps ? MC_MIN(c->fps, MC_FIT_LOW_FPS) : c->fps;
  int64_t k = vk;
  if (k < MC_FIT_MIN_KBPS) k = MC_FIT_MIN_KBPS;
  if (c->max_kbps > 0 && k > c->max_kbps) k = c->max_kbps;
  f->kbps = (int)k;
  return !old.set || old.width != f->width || old.height != f->height || old.fps != f->fps ||
         old.paused != f->paused;
}

bool mc_fit_meter_add(struct mc_fit_meter *mm, size_t bytes, int kbps, int fps, uint16_t *pct) {
  if (!mm || kbps <= 0 || fps <= 0) return false;
  mm->bits += (uint64_t)bytes * 8;
  mm->allowed_bits += (uint64_t)kbps * 1000 / (uint64_t)fps;
  if (++mm->frames < fps) return false;
  uint64_t p = mm->allowed_bits ? mm->bits * 100 / mm->allowed_bits : 100;
  if (pct) *pct = (uint16_t)MC_MIN(p, 1000u);
  memset(mm, 0, sizeof *mm);
  return true;
}

uint16_t mc_fit_overshoot_update(uint16_t old_pct, uint16_t measured_pct) {
  unsigned o = old_pct < 100 ? 100 : old_pct, m = measured_pct < 100 ? 100 : measured_pct;
  unsigned v = (o + m + 1) / 2;
  return (uint16_t)MC_MIN(v, (unsigned)MC_FIT_OVERSHOOT_MAX_PCT);
}
