/* Video jitter buffer: assembles frames from depacketized RTP packets,
 * hands them out in decode order, lists sequence numbers to NACK (RFC 4585
 * 6.2.1) and asks for a key frame (PLI, RFC 4585 6.3.1) when a frame
 * cannot be completed. Policy in rtp.h. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

struct vslot {
  bool used;
  bool marker, frame_start, keyframe;
  int64_t ext;
  uint32_t ts;
  uint64_t arrival_ms;
  uint8_t *data;
  size_t len, cap;
};

struct nack_entry {
  int64_t ext;
  uint32_t retries;
  uint64_t last_ms;
};

struct mc_vjb {
  struct mc_vjb_config cfg;
  struct vslot *slots;
  size_t mask;
  int64_t unwrap_last;
  bool unwrap_valid;
  int64_t highest;   /* newest extended seq pushed */
  int64_t floor_ext; /* everything below was emitted or dropped */
  bool have_floor;
  int64_t next_ext; /* first seq of the next frame in decode order */
  bool have_next;   /* false: waiting for a key frame */
  uint64_t wait_since_ms;
  bool blocked;
  uint64_t blocked_since_ms;
  uint32_t rtt_ms;
  bool have_pli;
  uint64_t last_pli_ms;
  struct nack_entry nack[MC_VJB_MAX_NACK_LIST];
  size_t nack_count;
  struct mc_vjb_stats stats;
};

int mc_vjb_new(const struct mc_vjb_config *config, mc_vjb **out) {
  if (!out) return MC_EINVAL;
  struct mc_vjb_config c = {0};
  if (config) c = *config;
  if (!c.capacity) c.capacity = 1024;
  if (c.capacity & (c.capacity - 1) || c.capacity > 32768) return MC_EINVAL;
  if (!c.nack_max_retries) c.nack_max_retries = 10;
  if (!c.nack_min_interval_ms) c.nack_min_interval_ms = 20;
  if (!c.frame_timeout_min_ms) c.frame_timeout_min_ms = 200;
  if (!c.pli_min_interval_ms) c.pli_min_interval_ms = 300;
  mc_vjb *j = calloc(1, sizeof *j);
  if (!j) return MC_ENOMEM;
  j->slots = calloc(c.capacity, sizeof *j->slots);
  if (!j->slots) {
    free(j);
    return MC_ENOMEM;
  }
  j->cfg = c;
  j->mask = c.capacity - 1;
  *out = j;
  return MC_OK;
}

void mc_vjb_free(mc_vjb *j) {
  if (!j) return;
  for (size_t i = 0; i <= j->mask; i++) free(j->slots[i].data);
  free(j->slots);
  free(j);
}

void mc_vjb_set_rtt(mc_vjb *j, uint32_t rtt_ms) { j->rtt_ms = rtt_ms; }

static struct vslot *slot_at(mc_vjb *j, int64_t ext) {
  struct vslot *s = &j->slots[(size_t)ext & j->mask];
  return s->used && s->ext == ext ? s : NULL;
}

static void nack_remove_below(mc_vjb *j, int64_t ext) {
  size_t k = 0;
  while (k < j->nack_count && j->nack[k].ext < ext) k++;
  if (k) {
    memmove(j->nack, j->nack + k, (j->nack_count - k) * sizeof *j->nack);
    j->nack_count -= k;
  }
}

static void nack_remove(mc_vjb *j, int64_t ext) {
  for (size_t k = 0; k < j->nack_count; k++) {
    if (j->nack[k].ext == ext) {
      memmove(j->nack + k, j->nack + k + 1, (j->nack_count - k - 1) * sizeof *j->nack);
      j->nack_count--;
      return;
    }
  }
}

/* Releases every slot below ext; later pushes below it are late. */
static void release_below(mc_vjb *j, int64_t ext) {
  for (size_t i = 0; i <= j->mask; i++)
    if (j->slots[i].used && j->slots[i].ext < ext) j->slots[i].used = false;
  if (!j->have_floor || ext > j->floor_ext) j->floor_ext = ext;
  j->have_floor = true;
  nack_remove_below(j, ext);
}

static void enter_wait(mc_vjb *j, uint64_t now_ms) {
  j->have_next = false;
  j->blocked = false;
  j->wait_since_ms = now_ms;
}

int mc_vjb_push(mc_vjb *j, const struct mc_vjb_packet *p, uint64_t now_ms) {
  if (!j || !p || (p->len && !p->data)) return MC_EINVAL;
  bool first = !j->unwrap_valid;
  int64_t ext = mc_rtp_seq_unwrap(&j->unwrap_last, &j->unwrap_valid, p->seq);
  if (first) {
    j->highest = ext - 1;
    j->wait_since_ms = now_ms;
  }
  if ((j->have_floor && ext < j->floor_ext) || ext <= j->highest - (int64_t)j->mask) {
    j->stats.late++;
    return MC_OK;
  }
  struct vslot *s = &j->slots[(size_t)ext & j->mask];
  if (s->used && s->ext == ext) {
    j->stats.duplicates++;
    return MC_OK;
  }
  if (ext > j->highest) {
    int64_t gap = ext - j->highest - 1;
    if (gap > 0 && !first) {
      if (gap + (int64_t)j->nack_count > MC_VJB_MAX_NACK_LIST) {
        /* too much lost to repair by NACK: wait for a key frame */
        MC_LOGD("rtp", "vjb: gap too wide for nack gap=%lld", (long long)gap);
        j->nack_count = 0;
        if (j->have_next) enter_wait(j, now_ms);
        j->wait_since_ms = now_ms - MC_MAX(3u * j->rtt_ms, j->cfg.frame_timeout_min_ms);
      } else {
        for (int64_t m = j->highest + 1; m < ext; m++)
          j->nack[j->nack_count++] = (struct nack_entry){.ext = m, .retries = 0, .last_ms = 0};
      }
    }
    j->highest = ext;
    /* slots about to be reused by newer seqs are gone */
  } else {
    nack_remove(j, ext);
  }
  if (s->cap < p->len) {
    uint8_t *d = realloc(s->data, p->len);
    if (!d) return MC_ENOMEM;
    s->data = d;
    s->cap = p->len;
  }
  if (p->len) memcpy(s->data, p->data, p->len);
  s->len = p->len;
  s->used = true;
  s->ext = ext;
  s->ts = p->ts;
  s->marker = p->marker;
  s->frame_start = p->frame_start;
  s->keyframe = p->frame_start && p->keyframe;
  s->arrival_ms = now_ms;
  j->stats.packets++;
  return MC_OK;
}

int mc_vjb_push_vp8(mc_vjb *j, const struct mc_rtp_packet *p, uint64_t now_ms) {
  if (!j || !p) return MC_EINVAL;
  if (p->payload_len == 0) { /* padding only (bandwidth probing): keeps the seq chain */
    struct mc_vjb_packet pad = {.seq = p->h.seq, .ts = p->h.ts};
    return mc_vjb_push(j, &pad, now_ms);
  }
  struct mc_vp8_descriptor d;
  int r = mc_vp8_parse_descriptor(p->payload, p->payload_len, &d);
  if (r < 0) return r;
  struct mc_vjb_packet vp = {
      .seq = p->h.seq,
      .ts = p->h.ts,
      .marker = p->h.marker,
      .frame_start = d.frame_start,
      .keyframe = d.keyframe,
      .data = p->payload + d.header_len,
      .len = p->payload_len - d.header_len,
  };
  return mc_vjb_push(j, &vp, now_ms);
}

/* The frame that starts at start: true and *end when all its packets are
 * there (start has S, same timestamp, consecutive up to the marker). */
static bool frame_complete(mc_vjb *j, int64_t start, int64_t *end, size_t *bytes) {
  struct vslot *s = slot_at(j, start);
  if (!s || !s->frame_start) return false;
  size_t n = 0;
  for (int64_t e = start; e <= j->highest; e++) {
    struct vslot *x = slot_at(j, e);
    if (!x || x->ts != s->ts || (e != start && x->frame_start)) return false;
    n += x->len;
    if (x->marker) {
      *end = e;
      *bytes = n;
      return true;
    }
  }
  return false;
}

/* The frame at next_ext has all its packets so far and nothing of a later
 * frame has come: it is still arriving (a sender paused, or our own loop
 * late reading the socket), not lost. */
static bool still_arriving(mc_vjb *j) {
  struct vslot *s = slot_at(j, j->next_ext);
  if (!s || !s->frame_start) return false;
  for (int64_t e = j->next_ext; e <= j->highest; e++) {
    struct vslot *x = slot_at(j, e);
    if (!x || x->ts != s->ts) return false;
  }
  return true;
}

/* The oldest complete key frame at or after from. */
static bool find_keyframe(mc_vjb *j, int64_t from, int64_t *start) {
  int64_t lo = MC_MAX(from, j->highest - (int64_t)j->mask);
  for (int64_t e = lo; e <= j->highest; e++) {
    struct vslot *s = slot_at(j, e);
    int64_t end;
    size_t bytes;
    if (s && s->keyframe && frame_complete(j, e, &end, &bytes)) {
      *start = e;
      return true;
    }
  }
  return false;
}

/* The oldest key frame start held at or after from, complete or not. */
static bool find_keyframe_start(mc_vjb *j, int64_t from, int64_t *start) {
  int64_t lo = MC_MAX(from, j->highest - (int64_t)j->mask);
  for (int64_t e = lo; e <= j->highest; e++) {
    struct vslot *s = slot_at(j, e);
    if (s && s->keyframe) {
      *start = e;
      return true;
    }
  }
  return false;
}

static uint32_t frame_timeout_ms(const mc_vjb *j) { return MC_MAX(3u * j->rtt_ms, j->cfg.frame_timeout_min_ms); }
static uint32_t nack_interval_ms(const mc_vjb *j) { return MC_MAX(j->rtt_ms, j->cfg.nack_min_interval_ms); }

/* Every missing packet in front of the newest one has had its last NACK
 * and an interval more passed: waiting longer cannot help. */
static bool nacks_exhausted(const mc_vjb *j, uint64_t now_ms) {
  bool any = false;
  for (size_t k = 0; k < j->nack_count; k++) {
    const struct nack_entry *e = &j->nack[k];
    if (e->ext < j->next_ext) continue;
    if (e->retries < j->cfg.nack_max_retries || now_ms - e->last_ms < nack_interval_ms(j)) return false;
    any = true;
  }
  return any;
}

static size_t count_frame_starts(mc_vjb *j, int64_t from, int64_t to) {
  size_t n = 0;
  for (int64_t e = MC_MAX(from, j->highest - (int64_t)j->mask); e < to; e++) {
    struct vslot *s = slot_at(j, e);
    if (s && s->frame_start) n++;
  }
  return n;
}

int mc_vjb_pop(mc_vjb *j, uint64_t now_ms, uint8_t *buf, size_t cap, struct mc_vjb_frame *frame) {
  if (!j || !frame || (cap && !buf)) return MC_EINVAL;
  for (int guard = 0; guard < 4; guard++) {
    if (!j->have_next) {
      int64_t k;
      if (!j->unwrap_valid || !find_keyframe(j, j->have_floor ? j->floor_ext : INT64_MIN, &k))
        return MC_ENOTFOUND;
      size_t skipped = count_frame_starts(j, j->have_floor ? j->floor_ext : INT64_MIN, k);
      j->stats.frames_dropped += skipped;
      release_below(j, k);
      j->next_ext = k;
      j->have_next = true;
      j->blocked = false;
      continue;
    }
    /* padding packets between frames */
    struct vslot *pad;
    while ((pad = slot_at(j, j->next_ext)) && pad->len == 0 && !pad->frame_start && !pad->marker) {
      pad->used = false;
      j->next_ext++;
      j->floor_ext = j->next_ext;
      nack_remove_below(j, j->next_ext);
    }
    int64_t end;
    size_t bytes;
    if (frame_complete(j, j->next_ext, &end, &bytes)) {
      struct vslot *s = slot_at(j, j->next_ext);
      memset(frame, 0, sizeof *frame);
      frame->ts = s->ts;
      frame->keyframe = s->keyframe;
      frame->len = bytes;
      frame->first_seq = (uint16_t)j->next_ext;
      frame->last_seq = (uint16_t)end;
      frame->first_arrival_ms = UINT64_MAX;
      if (cap < bytes) return MC_ETOOBIG;
      size_t off = 0;
      for (int64_t e = j->next_ext; e <= end; e++) {
        struct vslot *x = slot_at(j, e);
        if (x->len) memcpy(buf + off, x->data, x->len);
        off += x->len;
        if (x->arrival_ms < frame->first_arrival_ms) frame->first_arrival_ms = x->arrival_ms;
        x->used = false;
      }
      j->next_ext = end + 1;
      j->floor_ext = j->next_ext;
      j->have_floor = true;
      nack_remove_below(j, j->next_ext);
      j->blocked = false;
      j->stats.frames_out++;
      return MC_OK;
    }
    if (j->highest < j->next_ext) {
      j->blocked = false;
      return MC_ENOTFOUND;
    }
    if (still_arriving(j)) {
      j->blocked = false;
      return MC_ENOTFOUND;
    }
    if (!j->blocked) {
      j->blocked = true;
      j->blocked_since_ms = now_ms;
    }
    if (now_ms - j->blocked_since_ms < frame_timeout_ms(j) && !nacks_exhausted(j, now_ms)) return MC_ENOTFOUND;
    /* the frame needed next cannot be completed in time */
    int64_t k;
    if (find_keyframe(j, j->next_ext + 1, &k)) {
      MC_LOGD("rtp", "vjb: skipping to key frame seq=%u", (unsigned)(uint16_t)k);
      j->stats.frames_dropped += MC_MAX((size_t)1, count_frame_starts(j, j->next_ext, k));
      release_below(j, k);
      j->next_ext = k;
      j->blocked = false;
      continue;
    }
    /* keep a key frame still arriving; drop the rest and wait */
    int64_t ks;
    int64_t cut = find_keyframe_start(j, j->next_ext + 1, &ks) ? ks : j->highest + 1;
    MC_LOGD("rtp", "vjb: frame lost, waiting for a key frame seq=%u", (unsigned)(uint16_t)j->next_ext);
    j->stats.frames_dropped += MC_MAX((size_t)1, count_frame_starts(j, j->next_ext, cut));
    release_below(j, cut);
    enter_wait(j, now_ms);
    /* ask at once: this loss is why */
    j->wait_since_ms = now_ms - frame_timeout_ms(j);
    return MC_ENOTFOUND;
  }
  return MC_ENOTFOUND;
}

int mc_vjb_nack_list(mc_vjb *j, uint64_t now_ms, uint16_t *out, size_t cap, size_t *count) {
  if (!j || !count || (cap && !out)) return MC_EINVAL;
  size_t n = 0;
  if (!j->have_next) {
    /* only what a held key frame still needs is worth asking for */
    int64_t ks;
    if (find_keyframe_start(j, j->have_floor ? j->floor_ext : INT64_MIN, &ks))
      nack_remove_below(j, ks);
    else
      j->nack_count = 0;
  }
  nack_remove_below(j, j->highest - (int64_t)j->mask);
  for (size_t k = 0; k < j->nack_count && n < cap; k++) {
    struct nack_entry *e = &j->nack[k];
    if (e->retries >= j->cfg.nack_max_retries) continue;
    if (e->retries > 0 && now_ms - e->last_ms < nack_interval_ms(j)) continue;
    e->retries++;
    e->last_ms = now_ms;
    out[n++] = (uint16_t)e->ext;
    j->stats.nacks_sent++;
  }
  *count = n;
  return MC_OK;
}

bool mc_vjb_keyframe_request(mc_vjb *j, uint64_t now_ms) {
  if (!j || j->have_next || !j->unwrap_valid) return false;
  int64_t ks;
  bool held = find_keyframe_start(j, j->have_floor ? j->floor_ext : INT64_MIN, &ks);
  /* a key frame on its way gets the usual time to complete */
  if (held && now_ms - j->wait_since_ms < frame_timeout_ms(j)) return false;
  if (j->have_pli && now_ms - j->last_pli_ms < j->cfg.pli_min_interval_ms) return false;
  j->have_pli = true;
  j->last_pli_ms = now_ms;
  j->stats.keyframe_requests++;
  return true;
}

void mc_vjb_get_stats(const mc_vjb *j, struct mc_vjb_stats *out) { *out = j->stats; }
