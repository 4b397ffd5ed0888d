/* Unit tests for src/rtp/sync.c: lip sync from sender reports under a
 * synthetic sender and receiver clock (known offsets converge, timestamps
 * that wrap, missing reports, jitter, bounds, a track that goes quiet),
 * the audio jitter buffer's minimum delay, and the fit of VP8 into the
 * sending estimate. Every clock is fake. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rtp/rtp.h"
#include "util/util.h"

/* ---------------------------------------------------------------- lip sync */

/* A peer whose wall clock is 1.7e15 us (Unix) and whose RTP clocks start at
 * the given offsets; our monotonic clock is 42 s behind a different origin:
 * only differences of transits may matter. */
struct sim {
  uint64_t sender_unix_us0;
  uint32_t audio_ts0, video_ts0;
  int64_t local_minus_sender_us; /* local monotonic = sender time + this */
  uint32_t audio_delay_ms;       /* capture to play, before any sync delay */
  uint32_t video_delay_ms;       /* capture to decoded */
  uint32_t jitter_ms;            /* video: +- this, deterministic */
  bool audio_sr, video_sr;
  bool audio_follows_min;        /* model the jitter buffer: play delay grows with the minimum asked */
  uint32_t jb_own_ms;            /* its own target when it does */
};

static uint32_t audio_ts(const struct sim *s, uint64_t t_us) {
  return s->audio_ts0 + (uint32_t)(t_us * 48 / 1000);
}
static uint32_t video_ts(const struct sim *s, uint64_t t_us) {
  return s->video_ts0 + (uint32_t)(t_us * 9 / 100);
}
static uint64_t local_us(const struct sim *s, uint64_t t_us) {
  return (uint64_t)((int64_t)t_us + s->local_minus_sender_us);
}

/* Runs for `ms` of sender time from t0_ms: audio every 20 ms, video every
 * 33 ms, sender reports every second, an update every 20 ms. Returns the
 * number of times the video delay changed after `settle_ms`. */
static int run_sim(mc_sync *y, const struct sim *s, uint64_t t0_ms, uint64_t ms, uint64_t settle_ms) {
  int changes = 0;
  uint32_t last_vd = UINT32_MAX;
  uint32_t rnd = 12345;
  for (uint64_t t = t0_ms; t < t0_ms + ms; t++) {
    uint64_t t_us = t * 1000;
    if (t % 1000 == 0) {
      uint64_t ntp = mc_ntp_from_unix_us(s->sender_unix_us0 + t_us);
      if (s->audio_sr) mc_sync_on_sender_report(y, MC_SYNC_AUDIO, ntp, audio_ts(s, t_us));
      if (s->video_sr) mc_sync_on_sender_report(y, MC_SYNC_VIDEO, ntp, video_ts(s, t_us));
    }
    struct mc_sync_state st;
    mc_sync_get(y, &st);
    if (t % 20 == 0) {
      uint32_t d = s->audio_delay_ms;
      if (s->audio_follows_min) d = d - s->jb_own_ms + MC_MAX(s->jb_own_ms, st.audio_delay_ms);
      /* the audio captured d ms ago plays now */
      if (t >= t0_ms + d) mc_sync_on_audio_played(y, audio_ts(s, (t - d) * 1000), local_us(s, t_us));
    }
    if (t % 33 == 0 && t >= t0_ms + 400) {
      rnd = rnd * 1103515245 + 12345;
      int j = s->jitter_ms ? (int)((rnd >> 16) % (2 * s->jitter_ms + 1)) - (int)s->jitter_ms : 0;
      uint64_t cap = t - 400; /* the picture captured 400 ms ago, decoded now +- jitter */
      uint64_t ready = local_us(s, (cap + s->video_delay_ms) * 1000 + (int64_t)j * 1000);
      mc_sync_on_video_shown(y, video_ts(s, cap * 1000), ready, ready + (uint64_t)st.video_delay_ms * 1000);
    }
    if (t % 20 == 0) {
      uint32_t jb = s->audio_follows_min ? MC_MAX(s->jb_own_ms, st.audio_delay_ms) : 40;
      mc_sync_update(y, jb, local_us(s, t_us));
      mc_sync_get(y, &st);
      if (t >= t0_ms + settle_ms && st.video_delay_ms != last_vd) {
        if (last_vd != UINT32_MAX) changes++;
      }
      if (t >= t0_ms + settle_ms) last_vd = st.video_delay_ms;
    }
  }
  return changes;
}

static struct sim base_sim(void) {
  struct sim s = {.sender_unix_us0 = 1700000000000000ull, .audio_ts0 = 0x12345678, .video_ts0 = 0x9abcdef0,
                  .local_minus_sender_us = -1700000000000000ll + 42000000, .audio_delay_ms = 80,
                  .video_delay_ms = 20, .audio_sr = true, .video_sr = true};
  return s;
}

/* Audio 60 ms later than video: pictures are held 60 ms, the offset
 * after correction is near zero, the audio is left alone. */
static void test_sync_holds_video(void) {
  mc_sync *y = NULL;
  CHECK_EQ_INT(mc_sync_new(NULL, &y), MC_OK);
  struct sim s = base_sim();
  int changes = run_sim(y, &s, 0, 10000, 3000);
  struct mc_sync_state st;
  mc_sync_get(y, &st);
  CHECK(st.measured);
  CHECK(fabs(st.base_offset_ms - -60.0) < 3.0);
  CHECK(st.video_delay_ms >= 55 && st.video_delay_ms <= 65);
  CHECK(fabs(st.offset_ms) < MC_SYNC_DEADBAND_MS);
  CHECK_EQ_INT(st.audio_delay_ms, 0);
  CHECK_EQ_INT(changes, 0);
  CHECK(st.sender_reports == 20);
  mc_sync_free(y);
}

/* Timestamps wrap during the call on both tracks: no jump. */
static void test_sync_wrap(void) {
  mc_sync *y = NULL;
  CHECK_EQ_INT(mc_sync_new(NULL, &y), MC_OK);
  struct sim s = base_sim();
  s.audio_ts0 = 0xffffffffu - 48000 * 3; /* wraps after 3 s */
  s.video_ts0 = 0xffffffffu - 90000 * 5; /* after 5 s */
  s.audio_delay_ms = 130;
  int changes = run_sim(y, &s, 0, 12000, 3000);
  struct mc_sync_state st;
  mc_sync_get(y, &st);
  CHECK(st.measured);
  CHECK(st.video_delay_ms >= 105 && st.video_delay_ms <= 115);
  CHECK(fabs(st.offset_ms) < MC_SYNC_DEADBAND_MS);
  CHECK_EQ_INT(changes, 0);
  mc_sync_free(y);
}

/* Video 120 ms later than audio: the audio delay is raised in steps until
 * the offset is within the dead band; no pictures held. */
static void test_sync_delays_audio(void) {
  mc_sync *y = NULL;
  CHECK_EQ_INT(mc_sync_new(NULL, &y), MC_OK);
  struct sim s = base_sim();
  s.audio_delay_ms = 60;
  s.video_delay_ms = 180;
  s.audio_follows_min = true;
  s.jb_own_ms = 40;
  run_sim(y, &s, 0, 15000, 15000);
  struct mc_sync_state st;
  mc_sync_get(y, &st);
  CHECK(st.measured);
  CHECK(st.audio_delay_ms >= 150 && st.audio_delay_ms <= 170);
  CHECK(fabs(st.offset_ms) <= MC_SYNC_DEADBAND_MS + 2);
  CHECK_EQ_INT(st.video_delay_ms, 0);
  /* then the video catches up: the audio delay is given back */
  s.video_delay_ms = 20;
  run_sim(y, &s, 15000, 15000, 15000);
  mc_sync_get(y, &st);
  CHECK(st.audio_delay_ms <= 50);
  CHECK(fabs(st.offset_ms) <= MC_SYNC_DEADBAND_MS + 2);
  mc_sync_free(y);
}

/* No sender report on one track: nothing can be measured, no correction. */
static void test_sync_missing_sr(void) {
  for (int which = 0; which < 2; which++) {
    mc_sync *y = NULL;
    CHECK_EQ_INT(mc_sync_new(NULL, &y), MC_OK);
    struct sim s = base_sim();
    s.audio_delay_ms = 200;
    if (which) s.video_sr = false;
    else s.audio_sr = false;
    run_sim(y, &s, 0, 5000, 5000);
    struct mc_sync_state st;
    mc_sync_get(y, &st);
    CHECK(!st.measured);
    CHECK_EQ_INT(st.video_delay_ms, 0);
    CHECK_EQ_INT(st.audio_delay_ms, 0);
    mc_sync_free(y);
  }
}

/* Video decoded with +-15 ms jitter: the average is followed, the hold
 * does not chase each picture. */
static void test_sync_smoothing(void) {
  mc_sync *y = NULL;
  CHECK_EQ_INT(mc_sync_new(NULL, &y), MC_OK);
  struct sim s = base_sim();
  s.jitter_ms = 15;
  int changes = run_sim(y, &s, 0, 20000, 3000);
  struct mc_sync_state st;
  mc_sync_get(y, &st);
  CHECK(st.video_delay_ms >= 50 && st.video_delay_ms <= 70);
  CHECK(changes <= 3);
  mc_sync_free(y);
}

/* Bounds: audio 700 ms late holds video 300 ms at most (or what the
 * config says); the audio delay asked never passes its bound. */
static void test_sync_bounds(void) {
  mc_sync *y = NULL;
  CHECK_EQ_INT(mc_sync_new(NULL, &y), MC_OK);
  struct sim s = base_sim();
  s.audio_delay_ms = 700;
  run_sim(y, &s, 0, 5000, 5000);
  struct mc_sync_state st;
  mc_sync_get(y, &st);
  CHECK_EQ_INT(st.video_delay_ms, MC_SYNC_MAX_VIDEO_DELAY_MS);
  CHECK(st.offset_ms < -350);
  mc_sync_free(y);

  CHECK_EQ_INT(mc_sync_new(&(struct mc_sync_config){.max_video_delay_ms = 100, .max_audio_delay_ms = 120}, &y), MC_OK);
  run_sim(y, &s, 0, 5000, 5000);
  mc_sync_get(y, &st);
  CHECK_EQ_INT(st.video_delay_ms, 100);
  mc_sync_free(y);

  CHECK_EQ_INT(mc_sync_new(&(struct mc_sync_config){.max_audio_delay_ms = 120}, &y), MC_OK);
  s = base_sim();
  s.audio_delay_ms = 40;
  s.video_delay_ms = 900;
  s.audio_follows_min = true;
  s.jb_own_ms = 40;
  run_sim(y, &s, 0, 20000, 20000);
  mc_sync_get(y, &st);
  CHECK_EQ_INT(st.audio_delay_ms, 120);
  CHECK_EQ_INT(st.video_delay_ms, 0);
  mc_sync_free(y);
}

/* The video stops (camera off): after MC_SYNC_STALE_MS the hold goes. */
static void test_sync_stale(void) {
  mc_sync *y = NULL;
  CHECK_EQ_INT(mc_sync_new(NULL, &y), MC_OK);
  struct sim s = base_sim();
  run_sim(y, &s, 0, 5000, 5000);
  struct mc_sync_state st;
  mc_sync_get(y, &st);
  CHECK(st.video_delay_ms > 0);
  uint64_t last = local_us(&s, 5000 * 1000);
  mc_sync_update(y, 40, last + (MC_SYNC_STALE_MS - 500) * 1000);
  mc_sync_get(y, &st);
  CHECK(st.measured && st.video_delay_ms > 0);
  mc_sync_update(y, 40, last + (MC_SYNC_STALE_MS + 100) * 1000);
  mc_sync_get(y, &st);
  CHECK(!st.measured);
  CHECK_EQ_INT(st.video_delay_ms, 0);
  /* the same report twice counts once */
  uint64_t before = st.sender_reports;
  mc_sync_on_sender_report(y, MC_SYNC_AUDIO, 99, 7);
  mc_sync_on_sender_report(y, MC_SYNC_AUDIO, 99, 7);
  mc_sync_get(y, &st);
  CHECK_EQ_INT(st.sender_reports, before + 1);
  mc_sync_free(y);
}

/* The audio jitter buffer builds up to a raised minimum and comes back. */
static void test_ajb_min_delay(void) {
  mc_ajb *j = NULL;
  CHECK_EQ_INT(mc_ajb_new(NULL, &j), MC_OK);
  uint8_t pkt[3] = {1, 2, 3}, out[1500];
  size_t len;
  enum mc_ajb_status st;
  struct mc_ajb_stats js;
  uint64_t now = 1000;
  uint32_t ts = 0;
  uint16_t seq = 0;
  for (int i = 0; i < 100; i++, now += 20, ts += 960, seq++) {
    mc_ajb_push(j, seq, ts, pkt, sizeof pkt, now);
    mc_ajb_pop(j, now, out, sizeof out, &len, &st);
  }
  mc_ajb_get_stats(j, &js);
  CHECK_EQ_INT(js.target_ms, 40);
  uint32_t level_before = js.level_ms;
  mc_ajb_set_min_delay(j, 200);
  for (int i = 0; i < 100; i++, now += 20, ts += 960, seq++) {
    mc_ajb_push(j, seq, ts, pkt, sizeof pkt, now);
    mc_ajb_pop(j, now, out, sizeof out, &len, &st);
  }
  mc_ajb_get_stats(j, &js);
  CHECK_EQ_INT(js.target_ms, 200);
  CHECK(js.level_ms >= 160 && js.level_ms > level_before);
  CHECK(js.stretched >= 7);
  mc_ajb_set_min_delay(j, 0); /* back to the configured 40 */
  for (int i = 0; i < 100; i++, now += 20, ts += 960, seq++) {
    mc_ajb_push(j, seq, ts, pkt, sizeof pkt, now);
    mc_ajb_pop(j, now, out, sizeof out, &len, &st);
  }
  mc_ajb_get_stats(j, &js);
  CHECK_EQ_INT(js.target_ms, 40);
  CHECK(js.level_ms <= 100);
  mc_ajb_set_min_delay(j, 100000); /* clamped to the maximum */
  mc_ajb_get_stats(j, &js);
  CHECK_EQ_INT(js.target_ms, 400);
  mc_ajb_free(j);
}

/* What the buffer plays is named by its RTP timestamp (across a wrap). */
static void test_ajb_last_ts(void) {
  mc_ajb *j = NULL;
  CHECK_EQ_INT(mc_ajb_new(NULL, &j), MC_OK);
  uint8_t pkt[3] = {1, 2, 3}, out[1500];
  size_t len;
  enum mc_ajb_status st;
  uint32_t ts = 0xffffffffu - 960 * 5 + 1, got = 0;
  CHECK_EQ_INT(mc_ajb_last_ts(j, &got), MC_ENOTFOUND);
  uint32_t prev = 0;
  int frames = 0, ok = 0, missing = 0;
  for (int i = 0; i < 30; i++, ts += 960) {
    if (i != 12) mc_ajb_push(j, (uint16_t)i, ts, pkt, sizeof pkt, 1000 + (uint64_t)i * 20); /* 12 lost */
    CHECK_EQ_INT(mc_ajb_pop(j, 0, out, sizeof out, &len, &st), MC_OK);
    int rc = mc_ajb_last_ts(j, &got);
    if (st == MC_AJB_BUFFERING || st == MC_AJB_STRETCH || st == MC_AJB_WAITING) {
      CHECK_EQ_INT(rc, MC_ENOTFOUND);
      continue;
    }
    CHECK_EQ_INT(rc, MC_OK);
    if (st == MC_AJB_MISSING) missing++;
    if (frames++ == 0) CHECK(got == 0xffffffffu - 960 * 5 + 1);
    else if (got == prev + 960) ok++;
    prev = got;
  }
  CHECK(frames >= 25);
  CHECK_EQ_INT(missing, 1);
  CHECK_EQ_INT(ok, frames - 1);
  mc_ajb_free(j);
}

/* ---------------------------------------------------------------- fit */

/* The first estimate is the estimator's start value: it sets the rate,
 * not the size. What follows is obeyed. */
static void test_fit_start(void) {
  struct mc_fit_config c = {.width = 640, .height = 480, .fps = 30, .max_kbps = 1500, .audio_bps = 56000};
  struct mc_fit f;
  memset(&f, 0, sizeof f);
  CHECK(mc_fit_video(&c, 300000, 1000, &f));
  CHECK(f.level == 0 && f.width == 640 && f.fps == 30 && !f.paused);
  CHECK_EQ_INT(f.kbps, 244);
  CHECK(mc_fit_video(&c, 250000, 1500, &f)); /* 194 kbit/s: half size at once */
  CHECK(f.level == 1 && f.width == 320);
  CHECK(!mc_fit_video(&c, 1500000, 2500, &f)); /* up again: only after the hold */
  CHECK_EQ_INT(f.level, 1);
  CHECK(mc_fit_video(&c, 1500000, 1500 + MC_FIT_UP_HOLD_MS, &f));
  CHECK_EQ_INT(f.level, 0);
  memset(&f, 0, sizeof f);
  CHECK(mc_fit_video(&c, 10000, 0, &f)); /* even a tiny start value */
  CHECK(!f.paused && f.level == 0 && f.kbps == MC_FIT_MIN_KBPS);
  CHECK(mc_fit_video(&c, 10000, 100, &f));
  CHECK(f.paused && f.level == 3);
}

static void test_fit_levels(void) {
  struct mc_fit_config c = {.width = 640, .height = 480, .fps = 30, .max_kbps = 1000, .audio_bps = 40000};
  struct mc_fit f;
  memset(&f, 0, sizeof f);
  uint64_t now = 0;
  CHECK(mc_fit_video(&c, 2000000, now, &f));
  CHECK_EQ_INT(f.level, 0);
  CHECK(!f.paused);
  CHECK(f.width == 640 && f.height == 480 && f.fps == 30);
  CHECK_EQ_INT(f.kbps, 1000); /* clamped to the configured rate */
  /* the bit rate alone: no change reported, the rate follows */
  CHECK(!mc_fit_video(&c, 840000, now += 100, &f));
  CHECK_EQ_INT(f.kbps, 800);
  /* 210 kbit/s for video: half size at once */
  CHECK(mc_fit_video(&c, 250000, now += 100, &f));
  CHECK(f.level == 1 && f.width == 320 && f.height == 240 && f.fps == 30);
  CHECK_EQ_INT(f.kbps, 210);
  /* 90 kbit/s: two levels down at once, 15 fps */
  CHECK(mc_fit_video(&c, 130000, now += 100, &f));
  CHECK(f.level == 3 && f.width == 160 && f.height == 120 && f.fps == 15);
  /* 40 kbit/s: paused */
  CHECK(mc_fit_video(&c, 80000, now += 100, &f));
  CHECK(f.paused);
  /* plenty again, but not for long enough: still paused, same level */
  CHECK(!mc_fit_video(&c, 2000000, now += 1000, &f));
  CHECK(f.paused && f.level == 3);
  /* after the hold: resumed, and one level up only */
  now += MC_FIT_UP_HOLD_MS;
  CHECK(mc_fit_video(&c, 2000000, now, &f));
  CHECK(!f.paused && f.level == 2);
  CHECK(!mc_fit_video(&c, 2000000, now += 1000, &f));
  CHECK_EQ_INT(f.level, 2);
  CHECK(mc_fit_video(&c, 2000000, now += MC_FIT_UP_HOLD_MS, &f));
  CHECK(f.level == 1 && f.fps == 30);
  /* just over the full-size threshold (250) but under the margin: stays */
  CHECK(!mc_fit_video(&c, 40000 + 270000, now += MC_FIT_UP_HOLD_MS, &f));
  CHECK_EQ_INT(f.level, 1);
  CHECK(mc_fit_video(&c, 40000 + 320000, now += 10, &f));
  CHECK(f.level == 0 && f.width == 640);
  /* an estimate under the audio share is a pause, not a wrap-around */
  CHECK(mc_fit_video(&c, 30000, now += 10, &f));
  CHECK(f.paused && f.kbps == MC_FIT_MIN_KBPS);
  /* resume needs MC_FIT_RESUME_KBPS, not just the pause threshold */
  CHECK(!mc_fit_video(&c, 40000 + 60000, now += 2 * MC_FIT_UP_HOLD_MS, &f));
  CHECK(f.paused);
  CHECK(mc_fit_video(&c, 40000 + 85000, now += 10, &f));
  CHECK(!f.paused);
}

/* A fresh fit given bps twice (the first is taken as a start value). */
static void fit_at(const struct mc_fit_config *c, uint64_t bps, struct mc_fit *f) {
  memset(f, 0, sizeof *f);
  mc_fit_video(c, bps, 0, f);
  mc_fit_video(c, bps, 10, f);
}

/* Thresholds scale with the source's pixels. */
static void test_fit_scales(void) {
  struct mc_fit_config c = {.width = 1280, .height = 720, .fps = 30, .max_kbps = 2500, .audio_bps = 0};
  struct mc_fit f;
  fit_at(&c, 600000, &f); /* 3x the pixels of 640x480: half size under 750 */
  CHECK(f.level == 1 && f.width == 640 && f.height == 360);
  fit_at(&c, 800000, &f);
  CHECK(f.level == 0 && f.width == 1280);
  fit_at(&c, 200000, &f); /* under 300: a quarter, 15 fps */
  CHECK(f.level == 3 && f.width == 320 && f.height == 180 && f.fps == 15);
  struct mc_fit_config small = {.width = 320, .height = 240, .fps = 30, .max_kbps = 300};
  fit_at(&small, 55000, &f); /* a quarter of the pixels: full size down to 62 */
  CHECK_EQ_INT(f.level, 1);
  CHECK(f.width == 160 && f.height == 120);
  fit_at(&small, 70000, &f);
  CHECK(f.level == 0 && f.width == 320);
}

/* An encoder that cannot get down to its target at a level makes that
 * level need more: the picture steps down to where it fits. */
static void test_fit_overshoot(void) {
  uint16_t over[MC_FIT_LEVELS] = {100, 100, 100, 100};
  struct mc_fit_config c = {.width = 640, .height = 480, .fps = 30, .max_kbps = 1500, .audio_bps = 56000,
                            .overshoot_pct = over};
  struct mc_fit f;
  fit_at(&c, 380000 * 9 / 10, &f); /* 286 kbit/s for video: full size while it fits */
  CHECK_EQ_INT(f.level, 0);
  over[0] = 135; /* 390 kbit/s out when asked for 290 */
  uint64_t now = 20;
  CHECK(mc_fit_video(&c, 380000 * 9 / 10, now, &f));
  CHECK(f.level == 1 && f.width == 320 && f.kbps == 286);
  /* back up only where full size fits with the margin: 250 x 1.35 x 1.25 */
  now += MC_FIT_UP_HOLD_MS;
  CHECK(!mc_fit_video(&c, 56000 + 400000, now, &f));
  CHECK_EQ_INT(f.level, 1);
  CHECK(mc_fit_video(&c, 56000 + 425000, now += 10, &f));
  CHECK_EQ_INT(f.level, 0);
  /* the last level's overshoot raises the pause and resume thresholds */
  uint16_t last[MC_FIT_LEVELS] = {100, 100, 100, 200};
  c.overshoot_pct = last;
  fit_at(&c, 56000 + 90000, &f);
  CHECK(f.paused);
  c.overshoot_pct = NULL;
  fit_at(&c, 56000 + 90000, &f);
  CHECK(!f.paused && f.level == 3);
  /* over 300% counts as 300% */
  uint16_t huge[MC_FIT_LEVELS] = {1000, 100, 100, 100};
  c.overshoot_pct = huge;
  fit_at(&c, 56000 + 760000, &f);
  CHECK_EQ_INT(f.level, 0);

  /* the meter: a second of delta frames against the target */
  struct mc_fit_meter mm;
  memset(&mm, 0, sizeof mm);
  uint16_t pct = 0;
  for (int i = 0; i < 29; i++) CHECK(!mc_fit_meter_add(&mm, 1500, 300, 30, &pct));
  CHECK(mc_fit_meter_add(&mm, 1500, 300, 30, &pct)); /* 12 kbit each, 10 allowed */
  CHECK_EQ_INT(pct, 120);
  CHECK_EQ_INT(mm.frames, 0);
  for (int i = 0; i < 15; i++) mc_fit_meter_add(&mm, 500, 300, 15, &pct);
  CHECK_EQ_INT(pct, 20);
  CHECK(!mc_fit_meter_add(&mm, 100, 0, 30, &pct));
  CHECK(!mc_fit_meter_add(NULL, 100, 300, 30, &pct));
  CHECK_EQ_INT(mc_fit_overshoot_update(100, 140), 120);
  CHECK_EQ_INT(mc_fit_overshoot_update(120, 20), 110); /* under target counts as on target */
  CHECK_EQ_INT(mc_fit_overshoot_update(300, 1000), MC_FIT_OVERSHOOT_MAX_PCT);
}

int main(void) {
  test_sync_holds_video();
  test_sync_wrap();
  test_sync_delays_audio();
  test_sync_missing_sr();
  test_sync_smoothing();
  test_sync_bounds();
  test_sync_stale();
  test_ajb_min_delay();
  test_ajb_last_ts();
  test_fit_start();
  test_fit_levels();
  test_fit_scales();
  test_fit_overshoot();
  return CHECK_DONE();
}
