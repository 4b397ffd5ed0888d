/* RTCP compound packets (RFC 3550 6, RFC 5506 reduced size) and the
 * feedback messages WebRTC uses: generic NACK and PLI (RFC 4585), FIR
 * (RFC 5104), REMB (draft-alvestrand-rmcat-remb-03) and transport-wide CC
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01). */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define RTCP_HDR 4
#define FB_HDR 12 /* header + sender ssrc + media ssrc (RFC 4585 6.1) */

static void put_header(uint8_t *b, uint8_t count, uint8_t pt, size_t total) {
  b[0] = (uint8_t)(0x80 | (count & 0x1f));
  b[1] = pt;
  mc_put_be16(b + 2, (uint16_t)(total / 4 - 1));
}

/* ---- report blocks (RFC 3550 6.4.1) ---- */

static void parse_rb(const uint8_t *p, struct mc_rtcp_report_block *rb) {
  rb->ssrc = mc_get_be32(p);
  rb->fraction_lost = p[4];
  int32_t lost = (int32_t)(((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7]);
  if (lost & 0x800000) lost -= 0x1000000;
  rb->cumulative_lost = lost;
  rb->highest_seq = mc_get_be32(p + 8);
  rb->jitter = mc_get_be32(p + 12);
  rb->lsr = mc_get_be32(p + 16);
  rb->dlsr = mc_get_be32(p + 20);
}

static void write_rb(uint8_t *p, const struct mc_rtcp_report_block *rb) {
  int32_t lost = rb->cumulative_lost;
  if (lost > 0x7fffff) lost = 0x7fffff;
  if (lost < -0x800000) lost = -0x800000;
  uint32_t l = (uint32_t)lost & 0xffffff;
  mc_put_be32(p, rb->ssrc);
  p[4] = rb->fraction_lost;
  p[5] = (uint8_t)(l >> 16);
  p[6] = (uint8_t)(l >> 8);
  p[7] = (uint8_t)l;
  mc_put_be32(p + 8, rb->highest_seq);
  mc_put_be32(p + 12, rb->jitter);
  mc_put_be32(p + 16, rb->lsr);
  mc_put_be32(p + 20, rb->dlsr);
}

/* ---- transport-wide CC feedback: walk chunks and deltas ---- */

/* Checks the body against status_count and, when out is given, expands it.
 * Symbols: 0 not received, 1 small delta (8 bits), 2 large or negative
 * delta (16 bits signed), 3 reserved (rejected). */
static int twcc_walk(const struct mc_rtcp_twcc *fb, struct mc_twcc_status *out) {
  const uint8_t *b = fb->body;
  size_t n = fb->body_len, off = 0;
  size_t total = fb->status_count, have = 0;
  uint8_t *sym = malloc(total ? total : 1);
  if (!sym) return MC_ENOMEM;
  int r = MC_EPARSE;
  while (have < total) {
    if (n - off < 2) goto fail;
    uint16_t c = mc_get_be16(b + off);
    off += 2;
    if (!(c & 0x8000)) { /* 3.1.3 run length chunk */
      uint8_t s = (uint8_t)((c >> 13) & 3);
      size_t run = c & 0x1fff;
      if (s == 3) goto fail;
      for (size_t i = 0; i < run && have < total; i++) sym[have++] = s;
    } else if (!(c & 0x4000)) { /* 3.1.4 status vector, 14 one-bit symbols */
      for (int i = 13; i >= 0 && have < total; i--) sym[have++] = (uint8_t)((c >> i) & 1);
    } else { /* 7 two-bit symbols */
      for (int i = 6; i >= 0 && have < total; i--) {
        uint8_t s = (uint8_t)((c >> (2 * i)) & 3);
        if (s == 3) goto fail;
        sym[have++] = s;
      }
    }
  }
  int64_t t = (int64_t)fb->reference_time * 64000;
  for (size_t i = 0; i < total; i++) {
    int64_t d = 0;
    if (sym[i] == 1) {
      if (n - off < 1) goto fail;
      d = b[off];
      off += 1;
    } else if (sym[i] == 2) {
      if (n - off < 2) goto fail;
      d = (int16_t)mc_get_be16(b + off);
      off += 2;
    }
    t += d * 250;
    if (out) {
      out[i].seq = (uint16_t)(fb->base_seq + i);
      out[i].received = sym[i] != 0;
      out[i].arrival_us = sym[i] ? t : 0;
    }
  }
  if (n - off > 3) goto fail; /* only 32-bit alignment may follow */
  r = MC_OK;
fail:
  free(sym);
  return r;
}

int mc_rtcp_twcc_decode(const struct mc_rtcp_twcc *fb, struct mc_twcc_status *out, size_t cap, size_t *out_count) {
  if (!fb || !out_count || (cap && !out)) return MC_EINVAL;
  if (cap < fb->status_count) {
    *out_count = fb->status_count;
    return MC_ETOOBIG;
  }
  int r = twcc_walk(fb, out);
  if (r < 0) return r;
  *out_count = fb->status_count;
  return MC_OK;
}

/* ---- one packet ---- */

static int parse_one(const uint8_t *p, size_t len, struct mc_rtcp_packet *out) {
  memset(out, 0, sizeof *out);
  uint8_t count = p[0] & 0x1f;
  out->type = p[1];
  out->fmt = count;
  out->raw = p;
  out->raw_len = len;
  size_t n = len;
  if (p[0] & 0x20) { /* padding: checked by the caller to be in the last packet */
    uint8_t pad = p[len - 1];
    if (pad == 0 || pad > len - RTCP_HDR) return MC_EPARSE;
    n -= pad;
  }
  switch (p[1]) {
  case MC_RTCP_SR: {
    struct mc_rtcp_sr *sr = &out->u.sr;
    if (n < 28 + (size_t)count * 24) return MC_EPARSE;
    out->kind = MC_RTCP_KIND_SR;
    sr->ssrc = mc_get_be32(p + 4);
    sr->ntp = mc_get_be64(p + 8);
    sr->rtp_ts = mc_get_be32(p + 16);
    sr->packet_count = mc_get_be32(p + 20);
    sr->octet_count = mc_get_be32(p + 24);
    sr->rb_count = count;
    for (unsigned i = 0; i < count; i++) parse_rb(p + 28 + i * 24, &sr->rb[i]);
    return MC_OK;
  }
  case MC_RTCP_RR: {
    struct mc_rtcp_rr *rr = &out->u.rr;
    if (n < 8 + (size_t)count * 24) return MC_EPARSE;
    out->kind = MC_RTCP_KIND_RR;
    rr->ssrc = mc_get_be32(p + 4);
    rr->rb_count = count;
    for (unsigned i = 0; i < count; i++) parse_rb(p + 8 + i * 24, &rr->rb[i]);
    return MC_OK;
  }
  case MC_RTCP_SDES: { /* RFC 3550 6.5 */
    struct mc_rtcp_sdes *s = &out->u.sdes;
    size_t off = RTCP_HDR;
    out->kind = MC_RTCP_KIND_SDES;
    for (unsigned c = 0; c < count; c++) {
      if (n - off < 4) return MC_EPARSE;
      s->chunk[c].ssrc = mc_get_be32(p + off);
      off += 4;
      for (;;) {
        if (off >= n) return MC_EPARSE;
        uint8_t type = p[off];
        if (type == 0) { /* END, then null octets to the next 32-bit boundary */
          off = (off + 4) & ~(size_t)3;
          if (off > n) return MC_EPARSE;
          break;
        }
        if (n - off < 2) return MC_EPARSE;
        size_t ilen = p[off + 1];
        if (n - off - 2 < ilen) return MC_EPARSE;
        if (type == 1 && !s->chunk[c].cname) {
          s->chunk[c].cname = p + off + 2;
          s->chunk[c].cname_len = (uint8_t)ilen;
        }
        off += 2 + ilen;
      }
      s->chunk_count = (uint8_t)(c + 1);
    }
    return MC_OK;
  }
  case MC_RTCP_BYE: { /* RFC 3550 6.6 */
    struct mc_rtcp_bye *b = &out->u.bye;
    if (n < RTCP_HDR + (size_t)count * 4) return MC_EPARSE;
    out->kind = MC_RTCP_KIND_BYE;
    b->count = count;
    for (unsigned i = 0; i < count; i++) b->ssrc[i] = mc_get_be32(p + RTCP_HDR + i * 4);
    size_t off = RTCP_HDR + (size_t)count * 4;
    if (off < n) {
      size_t rl = p[off];
      if (n - off - 1 < rl) return MC_EPARSE;
      b->reason = p + off + 1;
      b->reason_len = (uint8_t)rl;
    }
    return MC_OK;
  }
  case MC_RTCP_RTPFB:
  case MC_RTCP_PSFB:
    break;
  default:
    if (p[1] < 192 || p[1] > 223) return MC_EPARSE; /* RFC 5761 4: that is RTP */
    out->kind = MC_RTCP_KIND_OTHER;
    return MC_OK;
  }
  /* RFC 4585 6.1 feedback */
  if (n < FB_HDR) return MC_EPARSE;
  uint32_t sender = mc_get_be32(p + 4), media = mc_get_be32(p + 8);
  const uint8_t *fci = p + FB_HDR;
  size_t fl = n - FB_HDR;
  if (p[1] == MC_RTCP_RTPFB && count == 1) { /* 6.2.1 generic NACK */
    if (fl == 0 || fl % 4) return MC_EPARSE;
    out->kind = MC_RTCP_KIND_NACK;
    out->u.nack.sender_ssrc = sender;
    out->u.nack.media_ssrc = media;
    out->u.nack.fci = fci;
    out->u.nack.pair_count = fl / 4;
    return MC_OK;
  }
  if (p[1] == MC_RTCP_RTPFB && count == 15) { /* transport-wide CC 3.1 */
    struct mc_rtcp_twcc *t = &out->u.twcc;
    if (fl < 8) return MC_EPARSE;
    out->kind = MC_RTCP_KIND_TWCC;
    t->sender_ssrc = sender;
    t->media_ssrc = media;
    t->base_seq = mc_get_be16(fci);
    t->status_count = mc_get_be16(fci + 2);
    int32_t ref = (int32_t)(((uint32_t)fci[4] << 16) | ((uint32_t)fci[5] << 8) | fci[6]);
    if (ref & 0x800000) ref -= 0x1000000;
    t->reference_time = ref;
    t->fb_count = fci[7];
    t->body = fci + 8;
    t->body_len = fl - 8;
    return twcc_walk(t, NULL);
  }
  if (p[1] == MC_RTCP_PSFB && count == 1) { /* 6.3.1 PLI: no FCI */
    out->kind = MC_RTCP_KIND_PLI;
    out->u.pli.sender_ssrc = sender;
    out->u.pli.media_ssrc = media;
    return MC_OK;
  }
  if (p[1] == MC_RTCP_PSFB && count == 4) { /* RFC 5104 4.3.1 FIR */
    if (fl == 0 || fl % 8) return MC_EPARSE;
    out->kind = MC_RTCP_KIND_FIR;
    out->u.fir.sender_ssrc = sender;
    for (size_t i = 0; i < fl / 8 && i < MC_RTCP_MAX_FIR; i++) {
      out->u.fir.entry[i].ssrc = mc_get_be32(fci + i * 8);
      out->u.fir.entry[i].seq_nr = fci[i * 8 + 4];
      out->u.fir.count = (uint8_t)(i + 1);
    }
    return MC_OK;
  }
  if (p[1] == MC_RTCP_PSFB && count == 15 && fl >= 8 && memcmp(fci, "REMB", 4) == 0) {
    struct mc_rtcp_remb *r = &out->u.remb;
    size_t num = fci[4];
    if (fl - 8 < num * 4) return MC_EPARSE;
    out->kind = MC_RTCP_KIND_REMB;
    r->sender_ssrc = sender;
    uint8_t exp = fci[5] >> 2;
    uint64_t mant = ((uint64_t)(fci[5] & 3) << 16) | ((uint64_t)fci[6] << 8) | fci[7];
    if (mant && exp > 0 && (mant >> (64 - exp)) != 0)
      r->bitrate_bps = UINT64_MAX;
    else
      r->bitrate_bps = mant << exp;
    for (size_t i = 0; i < num && i < MC_RTCP_MAX_REMB_SSRC; i++) {
      r->ssrc[i] = mc_get_be32(fci + 8 + i * 4);
      r->ssrc_count = (uint8_t)(i + 1);
    }
    return MC_OK;
  }
  out->kind = MC_RTCP_KIND_OTHER;
  return MC_OK;
}

/* Walks the compound; on_packet NULL validates only. */
static int walk(const uint8_t *buf, size_t len, mc_rtcp_on_packet on_packet, void *user) {
  size_t off = 0;
  if (len < RTCP_HDR) return MC_EPARSE;
  while (off < len) {
    if (len - off < RTCP_HDR) return MC_EPARSE;
    const uint8_t *p = buf + off;
    if ((p[0] >> 6) != 2) return MC_EPARSE;
    size_t plen = ((size_t)mc_get_be16(p + 2) + 1) * 4;
    if (plen > len - off) return MC_EPARSE;
    if ((p[0] & 0x20) && off + plen != len) return MC_EPARSE; /* RFC 3550 6.4.1: padding only last */
    struct mc_rtcp_packet pkt;
    int r = parse_one(p, plen, &pkt);
    if (r < 0) return r;
    if (on_packet) on_packet(&pkt, user);
    off += plen;
  }
  return MC_OK;
}

int mc_rtcp_parse(const uint8_t *buf, size_t len, mc_rtcp_on_packet on_packet, void *user) {
  if (!buf) return MC_EINVAL;
  int r = walk(buf, len, NULL, NULL);
  if (r < 0) return r;
  return on_packet ? walk(buf, len, on_packet, user) : MC_OK;
}

/* ---- writers ---- */

int mc_rtcp_write_sr(const struct mc_rtcp_sr *sr, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!sr || !buf || !out_len || sr->rb_count > MC_RTCP_MAX_RB) return MC_EINVAL;
  size_t total = 28 + (size_t)sr->rb_count * 24;
  if (total > cap) return MC_ETOOBIG;
  put_header(buf, sr->rb_count, MC_RTCP_SR, total);
  mc_put_be32(buf + 4, sr->ssrc);
  mc_put_be64(buf + 8, sr->ntp);
  mc_put_be32(buf + 16, sr->rtp_ts);
  mc_put_be32(buf + 20, sr->packet_count);
  mc_put_be32(buf + 24, sr->octet_count);
  for (unsigned i = 0; i < sr->rb_count; i++) write_rb(buf + 28 + i * 24, &sr->rb[i]);
  *out_len = total;
  return MC_OK;
}

int mc_rtcp_write_rr(const struct mc_rtcp_rr *rr, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!rr || !buf || !out_len || rr->rb_count > MC_RTCP_MAX_RB) return MC_EINVAL;
  size_t total = 8 + (size_t)rr->rb_count * 24;
  if (total > cap) return MC_ETOOBIG;
  put_header(buf, rr->rb_count, MC_RTCP_RR, total);
  mc_put_be32(buf + 4, rr->ssrc);
  for (unsigned i = 0; i < rr->rb_count; i++) write_rb(buf + 8 + i * 24, &rr->rb[i]);
  *out_len = total;
  return MC_OK;
}

int mc_rtcp_write_sdes_cname(uint32_t ssrc, const char *cname, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!cname || !buf || !out_len) return MC_EINVAL;
  size_t cl = strlen(cname);
  if (cl == 0 || cl > 255) return MC_EINVAL;
  /* chunk: ssrc, CNAME item, END plus null octets to a 32-bit boundary */
  size_t chunk = (4 + 2 + cl + 1 + 3) & ~(size_t)3;
  size_t total = RTCP_HDR + chunk;
  if (total > cap) return MC_ETOOBIG;
  memset(buf, 0, total);
  put_header(buf, 1, MC_RTCP_SDES, total);
  mc_put_be32(buf + 4, ssrc);
  buf[8] = 1;
  buf[9] = (uint8_t)cl;
  memcpy(buf + 10, cname, cl);
  *out_len = total;
  return MC_OK;
}

int mc_rtcp_write_bye(const uint32_t *ssrc, size_t count, const char *reason, uint8_t *buf, size_t cap,
                      size_t *out_len) {
  if (!buf || !out_len || count > 31 || (count && !ssrc)) return MC_EINVAL;
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > 255) return MC_EINVAL;
  size_t total = RTCP_HDR + count * 4 + (rl ? (1 + rl + 3) & ~(size_t)3 : 0);
  if (total > cap) return MC_ETOOBIG;
  memset(buf, 0, total);
  put_header(buf, (uint8_t)count, MC_RTCP_BYE, total);
  for (size_t i = 0; i < count; i++) mc_put_be32(buf + RTCP_HDR + i * 4, ssrc[i]);
  if (rl) {
    buf[RTCP_HDR + count * 4] = (uint8_t)rl;
    memcpy(buf + RTCP_HDR + count * 4 + 1, reason, rl);
  }
  *out_len = total;
  return MC_OK;
}

int mc_rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seqs, size_t count,
                       uint8_t *buf, size_t cap, size_t *out_len) {
  if (!buf || !out_len || !seqs || count == 0) return MC_EINVAL;
  /* Sorted, unique, in wrap order: a bitmap over the 16-bit space, read
   * from just after the widest empty stretch. */
  uint64_t bits[1024];
  memset(bits, 0, sizeof bits);
  for (size_t i = 0; i < count; i++) bits[seqs[i] >> 6] |= 1ull << (seqs[i] & 63);
  uint16_t *sorted = malloc(count * sizeof *sorted);
  if (!sorted) return MC_ENOMEM;
  size_t n = 0;
  for (uint32_t s = 0; s < 65536; s++) {
    if (!bits[s >> 6]) {
      s |= 63;
      continue;
    }
    if (bits[s >> 6] & (1ull << (s & 63))) sorted[n++] = (uint16_t)s;
  }
  size_t start = 0;
  uint32_t widest = n ? (uint32_t)(uint16_t)(sorted[0] - sorted[n - 1]) : 0;
  for (size_t i = 1; i < n; i++) {
    uint32_t gap = (uint32_t)(sorted[i] - sorted[i - 1]);
    if (gap > widest) {
      widest = gap;
      start = i;
    }
  }
  size_t pairs = 0, i = 0;
  while (i < n) { /* count pairs first */
    uint16_t pid = sorted[(start + i) % n];
    i++;
    while (i < n && (uint16_t)(sorted[(start + i) % n] - pid) <= 16) i++;
    pairs++;
  }
  size_t total = FB_HDR + pairs * 4;
  int r = MC_ETOOBIG;
  if (total > cap || total / 4 - 1 > 0xffff) goto done;
  put_header(buf, 1, MC_RTCP_RTPFB, total);
  mc_put_be32(buf + 4, sender_ssrc);
  mc_put_be32(buf + 8, media_ssrc);
  size_t off = FB_HDR;
  i = 0;
  while (i < n) {
    uint16_t pid = sorted[(start + i) % n], blp = 0;
    i++;
    while (i < n) {
      uint16_t d = (uint16_t)(sorted[(start + i) % n] - pid);
      if (d > 16) break;
      blp |= (uint16_t)(1u << (d - 1));
      i++;
    }
    mc_put_be16(buf + off, pid);
    mc_put_be16(buf + off + 2, blp);
    off += 4;
  }
  *out_len = total;
  r = MC_OK;
done:
  free(sorted);
  return r;
}

int mc_rtcp_nack_seqs(const struct mc_rtcp_nack *nk, uint16_t *out, size_t cap, size_t *out_count) {
  if (!nk || !out_count || (cap && !out)) return MC_EINVAL;
  size_t n = 0;
  for (size_t i = 0; i < nk->pair_count; i++) {
    uint16_t pid = mc_get_be16(nk->fci + i * 4), blp = mc_get_be16(nk->fci + i * 4 + 2);
    if (n >= cap) return MC_ETOOBIG;
    out[n++] = pid;
    for (unsigned b = 0; b < 16; b++) {
      if (!(blp & (1u << b))) continue;
      if (n >= cap) return MC_ETOOBIG;
      out[n++] = (uint16_t)(pid + b + 1);
    }
  }
  *out_count = n;
  return MC_OK;
}

int mc_rtcp_write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!buf || !out_len) return MC_EINVAL;
  if (cap < FB_HDR) return MC_ETOOBIG;
  put_header(buf, 1, MC_RTCP_PSFB, FB_HDR);
  mc_put_be32(buf + 4, sender_ssrc);
  mc_put_be32(buf + 8, media_ssrc);
  *out_len = FB_HDR;
  return MC_OK;
}

int mc_rtcp_write_fir(const struct mc_rtcp_fir *fir, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!fir || !buf || !out_len || fir->count == 0 || fir->count > MC_RTCP_MAX_FIR) return MC_EINVAL;
  size_t total = FB_HDR + (size_t)fir->count * 8;
  if (total > cap) return MC_ETOOBIG;
  memset(buf, 0, total);
  put_header(buf, 4, MC_RTCP_PSFB, total);
  mc_put_be32(buf + 4, fir->sender_ssrc);
  /* RFC 5104 4.3.1.2: media source SSRC is 0 */
  for (unsigned i = 0; i < fir->count; i++) {
    mc_put_be32(buf + FB_HDR + i * 8, fir->entry[i].ssrc);
    buf[FB_HDR + i * 8 + 4] = fir->entry[i].seq_nr;
  }
  *out_len = total;
  return MC_OK;
}

int mc_rtcp_write_remb(const struct mc_rtcp_remb *remb, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!remb || !buf || !out_len || remb->ssrc_count > MC_RTCP_MAX_REMB_SSRC) return MC_EINVAL;
  size_t total = FB_HDR + 8 + (size_t)remb->ssrc_count * 4;
  if (total > cap) return MC_ETOOBIG;
  uint8_t exp = 0;
  while ((remb->bitrate_bps >> exp) > 0x3ffff) exp++;
  uint32_t mant = (uint32_t)(remb->bitrate_bps >> exp);
  put_header(buf, 15, MC_RTCP_PSFB, total);
  mc_put_be32(buf + 4, remb->sender_ssrc);
  mc_put_be32(buf + 8, 0);
  memcpy(buf + 12, "REMB", 4);
  buf[16] = remb->ssrc_count;
  buf[17] = (uint8_t)((exp << 2) | (mant >> 16));
  buf[18] = (uint8_t)(mant >> 8);
  buf[19] = (uint8_t)mant;
  for (unsigned i = 0; i < remb->ssrc_count; i++) mc_put_be32(buf + 20 + i * 4, remb->ssrc[i]);
  *out_len = total;
  return MC_OK;
}

/* ---- transport-wide CC feedback writer ---- */

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int mc_rtcp_write_twcc(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t fb_count, const struct mc_twcc_status *st,
                       size_t status_count, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!st || !buf || !out_len || status_count == 0 || status_count > 0xffff) return MC_EINVAL;
  uint8_t *sym = malloc(status_count);
  int16_t *delta = malloc(status_count * sizeof *delta);
  int r = MC_ENOMEM;
  if (!sym || !delta) goto done;
  r = MC_EINVAL;
  int64_t ref = 0;
  bool have_ref = false;
  int64_t prev = 0;
  size_t delta_bytes = 0;
  for (size_t i = 0; i < status_count; i++) {
    if (!st[i].received) {
      sym[i] = 0;
      continue;
    }
    int64_t ticks = floor_div(st[i].arrival_us, 250);
    if (!have_ref) {
      ref = floor_div(st[i].arrival_us, 64000);
      prev = ref * 256; /* 64 ms in 250 us ticks */
      have_ref = true;
    }
    int64_t d = ticks - prev;
    if (d < INT16_MIN || d > INT16_MAX) goto done;
    delta[i] = (int16_t)d;
    sym[i] = (d >= 0 && d <= 255) ? 1 : 2;
    delta_bytes += sym[i];
    prev = ticks;
  }
  /* Chunks, greedily: a run of 14 or more same symbols is a run-length
   * chunk; else 14 one-bit symbols when they are all 0/1; else a run of 7
   * or more; else 7 two-bit symbols. */
  uint16_t *chunks = malloc((status_count + 6) / 7 * sizeof *chunks + 2);
  if (!chunks) {
    r = MC_ENOMEM;
    goto done;
  }
  size_t nch = 0, i = 0;
  while (i < status_count) {
    size_t run = 1;
    while (i + run < status_count && sym[i + run] == sym[i] && run < 0x1fff) run++;
    bool small = true;
    for (size_t k = i; k < i + 14 && k < status_count; k++)
      if (sym[k] == 2) small = false;
    if (run >= 14 || (run >= 7 && !small) || (run == status_count - i && run >= 7)) {
      chunks[nch++] = (uint16_t)((sym[i] << 13) | run);
      i += run;
    } else if (small) {
      uint16_t c = 0x8000;
      for (size_t k = 0; k < 14; k++)
        if (i + k < status_count && sym[i + k]) c |= (uint16_t)(1u << (13 - k));
      chunks[nch++] = c;
      i += 14;
    } else {
      uint16_t c = 0xc000;
      for (size_t k = 0; k < 7; k++)
        if (i + k < status_count) c |= (uint16_t)(sym[i + k] << (2 * (6 - k)));
      chunks[nch++] = c;
      i += 7;
    }
  }
  size_t body = FB_HDR + 8 + nch * 2 + delta_bytes;
  size_t total = (body + 3) & ~(size_t)3;
  if (total > cap || total / 4 - 1 > 0xffff) {
    free(chunks);
    r = MC_ETOOBIG;
    goto done;
  }
  memset(buf, 0, total);
  put_header(buf, 15, MC_RTCP_RTPFB, total);
  mc_put_be32(buf + 4, sender_ssrc);
  mc_put_be32(buf + 8, media_ssrc);
  mc_put_be16(buf + 12, st[0].seq);
  mc_put_be16(buf + 14, (uint16_t)status_count);
  uint32_t ref24 = (uint32_t)ref & 0xffffff;
  buf[16] = (uint8_t)(ref24 >> 16);
  buf[17] = (uint8_t)(ref24 >> 8);
  buf[18] = (uint8_t)ref24;
  buf[19] = fb_count;
  size_t off = 20;
  for (size_t k = 0; k < nch; k++, off += 2) mc_put_be16(buf + off, chunks[k]);
  for (size_t k = 0; k < status_count; k++) {
    if (sym[k] == 1) {
      buf[off++] = (uint8_t)delta[k];
    } else if (sym[k] == 2) {
      mc_put_be16(buf + off, (uint16_t)delta[k]);
      off += 2;
    }
  }
  free(chunks);
  *out_len = total;
  r = MC_OK;
done:
  free(sym);
  free(delta);
  return r;
}

/* ---- NTP and RTT ---- */

uint64_t mc_ntp_from_unix_us(uint64_t unix_us) {
  /* RFC 5905: 2208988800 s between 1900 and 1970 */
  uint64_t sec = unix_us / 1000000 + 2208988800ull;
  uint64_t frac = ((unix_us % 1000000) << 32) / 1000000;
  return (sec << 32) | frac;
}

int mc_rtcp_rtt_us(const struct mc_rtcp_report_block *rb, uint64_t now_ntp, uint64_t *rtt_us) {
  if (!rb || !rtt_us) return MC_EINVAL;
  if (rb->lsr == 0) return MC_ENOTFOUND;
  uint32_t a = mc_ntp_compact(now_ntp);
  uint32_t rtt = a - rb->lsr - rb->dlsr; /* 1/65536 s, mod 2^32 */
  if (rtt & 0x80000000u) return MC_EINVAL;
  *rtt_us = ((uint64_t)rtt * 1000000 + 32768) >> 16;
  return MC_OK;
}
