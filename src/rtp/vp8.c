/* VP8 RTP payload format (RFC 7741). */
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

/* RFC 7741 4.2 payload descriptor:
 *   X R N S R PID | I L T K RSV | M PictureID [PictureID] | TL0PICIDX | TID Y KEYIDX */
int mc_vp8_parse_descriptor(const uint8_t *p, size_t len, struct mc_vp8_descriptor *d) {
  if (!p || !d) return MC_EINVAL;
  memset(d, 0, sizeof *d);
  if (len < 1) return MC_EPARSE;
  size_t off = 1;
  d->non_reference = (p[0] & 0x20) != 0;
  d->start = (p[0] & 0x10) != 0;
  d->partition_id = p[0] & 0x0f;
  if (p[0] & 0x80) { /* X */
    if (len < 2) return MC_EPARSE;
    uint8_t x = p[1];
    off = 2;
    d->has_picture_id = (x & 0x80) != 0;
    d->has_tl0picidx = (x & 0x40) != 0;
    d->has_tid = (x & 0x20) != 0;
    d->has_keyidx = (x & 0x10) != 0;
    if (d->has_picture_id) {
      if (off >= len) return MC_EPARSE;
      if (p[off] & 0x80) {
        if (off + 2 > len) return MC_EPARSE;
        d->picture_id_15 = true;
        d->picture_id = (uint16_t)(((p[off] & 0x7f) << 8) | p[off + 1]);
        off += 2;
      } else {
        d->picture_id = p[off] & 0x7f;
        off += 1;
      }
    }
    if (d->has_tl0picidx) {
      if (off >= len) return MC_EPARSE;
      d->tl0picidx = p[off++];
    }
    if (d->has_tid || d->has_keyidx) { /* one shared octet (4.2) */
      if (off >= len) return MC_EPARSE;
      d->tid = p[off] >> 6;
      d->layer_sync = (p[off] & 0x20) != 0;
      d->keyidx = p[off] & 0x1f;
      off++;
    }
  }
  if (off >= len) return MC_EPARSE; /* no VP8 data */
  d->header_len = off;
  d->frame_start = d->start && d->partition_id == 0;
  /* RFC 7741 4.3: the VP8 payload header's P bit (bit 0 of the first
   * octet) is 0 for a key frame; it is there only at the frame start. */
  d->keyframe = d->frame_start && (p[off] & 0x01) == 0;
  return MC_OK;
}

size_t mc_vp8_packet_count(size_t frame_len, size_t max_payload) {
  if (frame_len == 0 || max_payload <= MC_VP8_DESCRIPTOR_LEN) return 0;
  size_t room = max_payload - MC_VP8_DESCRIPTOR_LEN;
  return (frame_len + room - 1) / room;
}

int mc_vp8_packetize(uint16_t picture_id, const uint8_t *frame, size_t frame_len, size_t max_payload, size_t index,
                     uint8_t *out, size_t cap, size_t *out_len, bool *marker) {
  if (!frame || !out || !out_len || !marker) return MC_EINVAL;
  size_t count = mc_vp8_packet_count(frame_len, max_payload);
  if (count == 0 || index >= count) return MC_EINVAL;
  /* balanced split: the first (frame_len % count) packets get one byte more */
  size_t base = frame_len / count, extra = frame_len % count;
  size_t start = index * base + MC_MIN(index, extra);
  size_t n = base + (index < extra ? 1 : 0);
  if (cap < MC_VP8_DESCRIPTOR_LEN + n) return MC_ETOOBIG;
  uint16_t pid = picture_id & 0x7fff;
  out[0] = (uint8_t)(0x80 | (index == 0 ? 0x10 : 0)); /* X, S on the first; PartID 0 */
  out[1] = 0x80;                                      /* I */
  out[2] = (uint8_t)(0x80 | (pid >> 8));              /* M: 15-bit picture id */
  out[3] = (uint8_t)pid;
  memcpy(out + MC_VP8_DESCRIPTOR_LEN, frame + start, n);
  *out_len = MC_VP8_DESCRIPTOR_LEN + n;
  *marker = index == count - 1;
  return MC_OK;
}
