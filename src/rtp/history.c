/* Sender history answering NACK with RTX (RFC 4588). */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

struct slot {
  uint8_t *data;
  size_t len, cap;
  uint64_t at_ms;
  uint16_t seq;
  bool used;
};

struct mc_rtp_history {
  struct slot *slots;
  size_t capacity; /* power of two */
  uint32_t max_age_ms;
  uint32_t rtx_ssrc;
  uint8_t rtx_pt;
  uint16_t rtx_seq;
};

int mc_rtp_history_new(const struct mc_rtp_history_config *c, mc_rtp_history **out) {
  if (!c || !out || c->rtx_pt > 127) return MC_EINVAL;
  size_t cap = c->capacity ? c->capacity : 1024;
  if (cap & (cap - 1) || cap > 65536) return MC_EINVAL;
  mc_rtp_history *h = calloc(1, sizeof *h);
  if (!h) return MC_ENOMEM;
  h->slots = calloc(cap, sizeof *h->slots);
  if (!h->slots) {
    free(h);
    return MC_ENOMEM;
  }
  h->capacity = cap;
  h->max_age_ms = c->max_age_ms ? c->max_age_ms : 1000;
  h->rtx_ssrc = c->rtx_ssrc;
  h->rtx_pt = c->rtx_pt;
  h->rtx_seq = c->rtx_first_seq;
  *out = h;
  return MC_OK;
}

void mc_rtp_history_free(mc_rtp_history *h) {
  if (!h) return;
  for (size_t i = 0; i < h->capacity; i++) free(h->slots[i].data);
  free(h->slots);
  free(h);
}

int mc_rtp_history_put(mc_rtp_history *h, const uint8_t *pkt, size_t len, uint64_t now_ms) {
  if (!h || !pkt) return MC_EINVAL;
  struct mc_rtp_packet p;
  int r = mc_rtp_parse(pkt, len, &p);
  if (r < 0) return r;
  struct slot *s = &h->slots[p.h.seq & (h->capacity - 1)];
  if (s->cap < len) {
    uint8_t *d = realloc(s->data, len);
    if (!d) return MC_ENOMEM;
    s->data = d;
    s->cap = len;
  }
  memcpy(s->data, pkt, len);
  s->len = len;
  s->at_ms = now_ms;
  s->seq = p.h.seq;
  s->used = true;
  return MC_OK;
}

int mc_rtp_history_rtx(mc_rtp_history *h, uint16_t seq, uint64_t now_ms, uint8_t *out, size_t cap,
                       size_t *out_len) {
  if (!h || !out || !out_len) return MC_EINVAL;
  struct slot *s = &h->slots[seq & (h->capacity - 1)];
  if (!s->used || s->seq != seq || (now_ms > s->at_ms && now_ms - s->at_ms > h->max_age_ms)) return MC_ENOTFOUND;
  struct mc_rtp_packet p;
  int r = mc_rtp_parse(s->data, s->len, &p);
  if (r < 0) return r;
  /* RFC 4588 4: OSN then the original payload; header fields copied with
   * the RTX stream's SSRC, payload type and sequence number. */
  size_t hdr = mc_rtp_write_len(&(struct mc_rtp_packet){.h = p.h});
  if (cap < hdr + 2 + p.payload_len) return MC_ETOOBIG;
  uint16_t osn = p.h.seq;
  const uint8_t *orig_payload = p.payload;
  size_t orig_len = p.payload_len;
  p.h.ssrc = h->rtx_ssrc;
  p.h.pt = h->rtx_pt;
  p.h.seq = h->rtx_seq;
  p.payload = NULL;
  p.payload_len = 0;
  p.padding_len = 0;
  size_t n;
  r = mc_rtp_write(&p, out, cap, &n);
  if (r < 0) return r;
  mc_put_be16(out + n, osn);
  if (orig_len) memcpy(out + n + 2, orig_payload, orig_len);
  *out_len = n + 2 + orig_len;
  h->rtx_seq++;
  return MC_OK;
}

uint16_t mc_rtp_history_take_rtx_seq(mc_rtp_history *h) { return h ? h->rtx_seq++ : 0; }

int mc_rtx_unwrap(const uint8_t *rtx, size_t len, uint32_t media_ssrc, uint8_t media_pt, uint8_t *out, size_t cap,
                  size_t *out_len) {
  if (!rtx || !out || !out_len || media_pt > 127) return MC_EINVAL;
  struct mc_rtp_packet p;
  int r = mc_rtp_parse(rtx, len, &p);
  if (r < 0) return r;
  if (p.payload_len < 2) return MC_EPARSE; /* RFC 4588 4: padding-only probes have no OSN */
  p.h.seq = mc_get_be16(p.payload);
  p.h.ssrc = media_ssrc;
  p.h.pt = media_pt;
  p.payload += 2;
  p.payload_len -= 2;
  p.padding_len = 0;
  return mc_rtp_write(&p, out, cap, out_len);
}
