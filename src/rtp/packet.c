/* RTP fixed header (RFC 3550 5.1) and header extensions (RFC 8285). */
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

/* RFC 8285 4.2 one-byte elements. */
static int parse_one_byte(const uint8_t *p, size_t n, struct mc_rtp_header *h) {
  size_t i = 0;
  while (i < n) {
    uint8_t id = p[i] >> 4;
    if (id == 0) { /* padding byte: len nibble must be 0 too, but be lenient */
      i++;
      continue;
    }
    if (id == 15) break; /* RFC 8285 4.2: stop processing */
    size_t len = (size_t)(p[i] & 0x0f) + 1;
    if (i + 1 + len > n) return MC_EPARSE;
    if (h->ext_count >= MC_RTP_MAX_EXT) return MC_EPARSE;
    h->ext[h->ext_count].id = id;
    h->ext[h->ext_count].len = (uint8_t)len;
    h->ext[h->ext_count].data = p + i + 1;
    h->ext_count++;
    i += 1 + len;
  }
  return MC_OK;
}

/* RFC 8285 4.3 two-byte elements. */
static int parse_two_byte(const uint8_t *p, size_t n, struct mc_rtp_header *h) {
  size_t i = 0;
  while (i < n) {
    uint8_t id = p[i];
    if (id == 0) { /* padding */
      i++;
      continue;
    }
    if (i + 2 > n) return MC_EPARSE;
    size_t len = p[i + 1];
    if (i + 2 + len > n) return MC_EPARSE;
    if (h->ext_count >= MC_RTP_MAX_EXT) return MC_EPARSE;
    h->ext[h->ext_count].id = id;
    h->ext[h->ext_count].len = (uint8_t)len;
    h->ext[h->ext_count].data = p + i + 2;
    h->ext_count++;
    i += 2 + len;
  }
  return MC_OK;
}

int mc_rtp_parse(const uint8_t *buf, size_t len, struct mc_rtp_packet *out) {
  if (!buf || !out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  if (len < MC_RTP_HEADER_LEN) return MC_EPARSE;
  if ((buf[0] >> 6) != 2) return MC_EPARSE;
  bool padding = (buf[0] & 0x20) != 0;
  bool ext = (buf[0] & 0x10) != 0;
  struct mc_rtp_header *h = &out->h;
  h->csrc_count = buf[0] & 0x0f;
  h->marker = (buf[1] & 0x80) != 0;
  h->pt = buf[1] & 0x7f;
  h->seq = mc_get_be16(buf + 2);
  h->ts = mc_get_be32(buf + 4);
  h->ssrc = mc_get_be32(buf + 8);
  size_t off = MC_RTP_HEADER_LEN;
  if (len - off < (size_t)h->csrc_count * 4) return MC_EPARSE;
  for (unsigned i = 0; i < h->csrc_count; i++, off += 4) h->csrc[i] = mc_get_be32(buf + off);
  if (ext) {
    if (len - off < 4) return MC_EPARSE;
    uint16_t profile = mc_get_be16(buf + off);
    size_t body = (size_t)mc_get_be16(buf + off + 2) * 4;
    off += 4;
    if (len - off < body) return MC_EPARSE;
    int r;
    if (profile == MC_RTP_EXT_PROFILE_ONE_BYTE) {
      h->ext_profile = profile;
      r = parse_one_byte(buf + off, body, h);
    } else if ((profile & 0xfff0) == MC_RTP_EXT_PROFILE_TWO_BYTE) {
      h->ext_profile = MC_RTP_EXT_PROFILE_TWO_BYTE; /* appbits ignored (RFC 8285 4.3) */
      r = parse_two_byte(buf + off, body, h);
    } else if (profile != 0) {
      h->ext_profile = profile;
      h->ext_raw = buf + off;
      h->ext_raw_len = body;
      r = MC_OK;
    } else {
      /* profile 0 means nothing to anyone (and "none" in our struct): skipped */
      r = MC_OK;
    }
    if (r < 0) return r;
    off += body;
  }
  size_t end = len;
  if (padding) {
    uint8_t pad = buf[len - 1];
    if (pad == 0 || pad > len - off) return MC_EPARSE;
    end -= pad;
    out->padding_len = pad;
  }
  out->payload = buf + off;
  out->payload_len = end - off;
  return MC_OK;
}

static bool fits_one_byte(const struct mc_rtp_header *h) {
  for (unsigned i = 0; i < h->ext_count; i++)
    if (h->ext[i].id < 1 || h->ext[i].id > 14 || h->ext[i].len < 1 || h->ext[i].len > 16) return false;
  return true;
}

static uint16_t chosen_profile(const struct mc_rtp_header *h) {
  if (h->ext_profile) return h->ext_profile;
  if (h->ext_count == 0) return 0;
  return fits_one_byte(h) ? MC_RTP_EXT_PROFILE_ONE_BYTE : MC_RTP_EXT_PROFILE_TWO_BYTE;
}

static size_t ext_body_len(const struct mc_rtp_header *h, uint16_t profile) {
  size_t n = 0;
  if (profile == MC_RTP_EXT_PROFILE_ONE_BYTE) {
    for (unsigned i = 0; i < h->ext_count; i++) n += 1 + h->ext[i].len;
  } else if (profile == MC_RTP_EXT_PROFILE_TWO_BYTE) {
    for (unsigned i = 0; i < h->ext_count; i++) n += 2 + h->ext[i].len;
  } else {
    n = h->ext_raw_len;
  }
  return (n + 3) & ~(size_t)3;
}

size_t mc_rtp_write_len(const struct mc_rtp_packet *p) {
  uint16_t profile = chosen_profile(&p->h);
  size_t n = MC_RTP_HEADER_LEN + (size_t)p->h.csrc_count * 4;
  if (profile) n += 4 + ext_body_len(&p->h, profile);
  return n + p->payload_len + p->padding_len;
}

int mc_rtp_write(const struct mc_rtp_packet *p, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!p || !buf || !out_len) return MC_EINVAL;
  const struct mc_rtp_header *h = &p->h;
  if (h->pt > 127 || h->csrc_count > MC_RTP_MAX_CSRC || h->ext_count > MC_RTP_MAX_EXT) return MC_EINVAL;
  uint16_t profile = chosen_profile(h);
  if (profile == MC_RTP_EXT_PROFILE_ONE_BYTE) {
    if (!fits_one_byte(h)) return MC_EINVAL;
  } else if (profile == MC_RTP_EXT_PROFILE_TWO_BYTE) {
    for (unsigned i = 0; i < h->ext_count; i++)
      if (h->ext[i].id == 0) return MC_EINVAL;
  } else if (profile) {
    if (h->ext_raw_len % 4 || h->ext_raw_len > 0xffff * 4 || (h->ext_raw_len && !h->ext_raw)) return MC_EINVAL;
  }
  if (p->payload_len && !p->payload) return MC_EINVAL;
  size_t need = mc_rtp_write_len(p);
  if (need > cap) return MC_ETOOBIG;
  buf[0] = (uint8_t)(0x80 | (p->padding_len ? 0x20 : 0) | (profile ? 0x10 : 0) | h->csrc_count);
  buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
  mc_put_be16(buf + 2, h->seq);
  mc_put_be32(buf + 4, h->ts);
  mc_put_be32(buf + 8, h->ssrc);
  size_t off = MC_RTP_HEADER_LEN;
  for (unsigned i = 0; i < h->csrc_count; i++, off += 4) mc_put_be32(buf + off, h->csrc[i]);
  if (profile) {
    size_t body = ext_body_len(h, profile);
    mc_put_be16(buf + off, profile);
    mc_put_be16(buf + off + 2, (uint16_t)(body / 4));
    off += 4;
    size_t start = off;
    if (profile == MC_RTP_EXT_PROFILE_ONE_BYTE) {
      for (unsigned i = 0; i < h->ext_count; i++) {
        buf[off++] = (uint8_t)((h->ext[i].id << 4) | (h->ext[i].len - 1));
        memcpy(buf + off, h->ext[i].data, h->ext[i].len);
        off += h->ext[i].len;
      }
    } else if (profile == MC_RTP_EXT_PROFILE_TWO_BYTE) {
      for (unsigned i = 0; i < h->ext_count; i++) {
        buf[off++] = h->ext[i].id;
        buf[off++] = h->ext[i].len;
        if (h->ext[i].len) memcpy(buf + off, h->ext[i].data, h->ext[i].len);
        off += h->ext[i].len;
      }
    } else if (h->ext_raw_len) {
      memcpy(buf + off, h->ext_raw, h->ext_raw_len);
      off += h->ext_raw_len;
    }
    while (off < start + body) buf[off++] = 0;
  }
  if (p->payload_len) memcpy(buf + off, p->payload, p->payload_len);
  off += p->payload_len;
  if (p->padding_len) {
    memset(buf + off, 0, p->padding_len - 1u);
    off += p->padding_len;
    buf[off - 1] = p->padding_len;
  }
  *out_len = off;
  return MC_OK;
}

const struct mc_rtp_ext *mc_rtp_ext_find(const struct mc_rtp_header *h, uint8_t id) {
  if (!h || id == 0) return NULL;
  for (unsigned i = 0; i < h->ext_count && i < MC_RTP_MAX_EXT; i++)
    if (h->ext[i].id == id) return &h->ext[i];
  return NULL;
}

int mc_rtp_ext_set(struct mc_rtp_header *h, uint8_t id, const uint8_t *data, size_t len) {
  if (!h || id == 0 || len > 255 || (len && !data)) return MC_EINVAL;
  for (unsigned i = 0; i < h->ext_count; i++) {
    if (h->ext[i].id == id) {
      h->ext[i].data = data;
      h->ext[i].len = (uint8_t)len;
      return MC_OK;
    }
  }
  if (h->ext_count >= MC_RTP_MAX_EXT) return MC_ETOOBIG;
  h->ext[h->ext_count].id = id;
  h->ext[h->ext_count].len = (uint8_t)len;
  h->ext[h->ext_count].data = data;
  h->ext_count++;
  return MC_OK;
}

int mc_rtp_ext_rewrite(uint8_t *buf, size_t len, uint8_t id, const uint8_t *data, size_t data_len) {
  struct mc_rtp_packet p;
  int r = mc_rtp_parse(buf, len, &p);
  if (r < 0) return r;
  const struct mc_rtp_ext *e = mc_rtp_ext_find(&p.h, id);
  if (!e || e->len != data_len || (p.h.ext_profile != MC_RTP_EXT_PROFILE_ONE_BYTE &&
                                   p.h.ext_profile != MC_RTP_EXT_PROFILE_TWO_BYTE))
    return MC_ENOTFOUND;
  memcpy(buf + (e->data - buf), data, data_len);
  return MC_OK;
}

int mc_rtp_ext_get_mid(const struct mc_rtp_header *h, uint8_t id, char *out, size_t cap) {
  const struct mc_rtp_ext *e = mc_rtp_ext_find(h, id);
  if (!e) return MC_ENOTFOUND;
  if (!out || cap == 0) return MC_EINVAL;
  if ((size_t)e->len + 1 > cap) return MC_ETOOBIG;
  memcpy(out, e->data, e->len);
  out[e->len] = '\0';
  if (strlen(out) != e->len) return MC_EPARSE; /* embedded NUL */
  return MC_OK;
}

int mc_rtp_ext_get_abs_send_time(const struct mc_rtp_header *h, uint8_t id, uint32_t *out) {
  const struct mc_rtp_ext *e = mc_rtp_ext_find(h, id);
  if (!e) return MC_ENOTFOUND;
  if (e->len != 3) return MC_EPARSE;
  *out = ((uint32_t)e->data[0] << 16) | ((uint32_t)e->data[1] << 8) | e->data[2];
  return MC_OK;
}

uint32_t mc_rtp_abs_send_time_from_us(uint64_t us) {
  /* 6.18 fixed point seconds: (us << 18) / 1e6, keeping 24 bits. Split to
   * avoid overflow of us << 18. */
  uint64_t sec = us / 1000000, frac = us % 1000000;
  uint64_t v = (sec << 18) + ((frac << 18) + 500000) / 1000000;
  return (uint32_t)(v & 0xffffff);
}

void mc_rtp_abs_send_time_encode(uint32_t v, uint8_t out[3]) {
  out[0] = (uint8_t)(v >> 16);
  out[1] = (uint8_t)(v >> 8);
  out[2] = (uint8_t)v;
}

int mc_rtp_ext_get_twcc_seq(const struct mc_rtp_header *h, uint8_t id, uint16_t *out) {
  const struct mc_rtp_ext *e = mc_rtp_ext_find(h, id);
  if (!e) return MC_ENOTFOUND;
  if (e->len != 2) return MC_EPARSE;
  *out = mc_get_be16(e->data);
  return MC_OK;
}

void mc_rtp_twcc_seq_encode(uint16_t seq, uint8_t out[2]) { mc_put_be16(out, seq); }

int64_t mc_rtp_seq_unwrap(int64_t *last, bool *valid, uint16_t seq) {
  if (!*valid) {
    *valid = true;
    *last = seq;
    return seq;
  }
  int16_t diff = (int16_t)(uint16_t)(seq - (uint16_t)*last);
  int64_t v = *last + diff;
  if (v > *last) *last = v;
  return v;
}
