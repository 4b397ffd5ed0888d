/* Receive side of transport-wide congestion control
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): arrival times by
 * transport-wide sequence number, turned into feedback packets (3.1) for
 * the sender's bandwidth estimator. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

struct arrival {
  bool used;
  int64_t ext;
  uint64_t arrival_us;
};

struct mc_twcc_recorder {
  uint32_t sender_ssrc, media_ssrc;
  struct arrival ring[MC_TWCC_MAX_PACKETS];
  int64_t unwrap_last;
  bool unwrap_valid;
  int64_t highest;
  int64_t next; /* first seq not yet reported */
  bool have_next;
  uint8_t fb_count;
  struct mc_twcc_status scratch[MC_TWCC_MAX_PACKETS];
};

int mc_twcc_recorder_new(uint32_t sender_ssrc, mc_twcc_recorder **out) {
  if (!out) return MC_EINVAL;
  mc_twcc_recorder *r = calloc(1, sizeof *r);
  if (!r) return MC_ENOMEM;
  r->sender_ssrc = sender_ssrc;
  *out = r;
  return MC_OK;
}

void mc_twcc_recorder_free(mc_twcc_recorder *r) { free(r); }

static struct arrival *at(mc_twcc_recorder *r, int64_t ext) {
  struct arrival *a = &r->ring[(size_t)ext & (MC_TWCC_MAX_PACKETS - 1)];
  return a->used && a->ext == ext ? a : NULL;
}

void mc_twcc_recorder_record(mc_twcc_recorder *r, uint16_t seq, uint32_t media_ssrc, uint64_t arrival_us) {
  if (!r) return;
  int64_t ext = mc_rtp_seq_unwrap(&r->unwrap_last, &r->unwrap_valid, seq);
  r->media_ssrc = media_ssrc;
  if (!r->have_next) {
    r->have_next = true;
    r->next = ext;
    r->highest = ext;
  }
  if (ext < r->next) return; /* already reported as lost */
  if (ext <= r->highest - MC_TWCC_MAX_PACKETS) return;
  if (ext > r->highest) r->highest = ext;
  /* keep the unreported span within the ring: the oldest are given up */
  if (r->highest - r->next >= MC_TWCC_MAX_PACKETS) r->next = r->highest - MC_TWCC_MAX_PACKETS + 1;
  struct arrival *a = &r->ring[(size_t)ext & (MC_TWCC_MAX_PACKETS - 1)];
  a->used = true;
  a->ext = ext;
  a->arrival_us = arrival_us;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int mc_twcc_recorder_build(mc_twcc_recorder *r, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!r || !buf || !out_len) return MC_EINVAL;
  if (!r->have_next || r->next > r->highest) return MC_ENOTFOUND;
  /* skip a leading stretch of losses the ring no longer covers */
  size_t n = 0;
  bool have_ref = false;
  int64_t prev = 0;
  int64_t last_received = -1;
  for (int64_t e = r->next; e <= r->highest && n < MC_TWCC_MAX_PACKETS && n < 0xffff; e++) {
    struct arrival *a = at(r, e);
    struct mc_twcc_status *s = &r->scratch[n];
    s->seq = (uint16_t)e;
    s->received = a != NULL;
    s->arrival_us = a ? (int64_t)a->arrival_us : 0;
    if (a) {
      int64_t ticks = floor_div(s->arrival_us, 250);
      if (!have_ref) {
        have_ref = true;
        prev = floor_div(s->arrival_us, 64000) * 256;
      }
      int64_t d = ticks - prev;
      if (d < INT16_MIN || d > INT16_MAX) break; /* the next feedback starts here */
      prev = ticks;
      last_received = (int64_t)n;
    }
    n++;
  }
  if (last_received < 0) { /* nothing received in the span (cannot happen: highest was) */
    r->next = r->highest + 1;
    return MC_ENOTFOUND;
  }
  n = (size_t)last_received + 1;
  int rc;
  for (;;) {
    rc = mc_rtcp_write_twcc(r->sender_ssrc, r->media_ssrc, r->fb_count, r->scratch, n, buf, cap, out_len);
    if (rc != MC_ETOOBIG || n == 1) break;
    n /= 2;
  }
  if (rc < 0) return rc;
  r->next += (int64_t)n;
  r->fb_count++;
  return MC_OK;
}
