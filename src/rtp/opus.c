/* Opus RTP payload (RFC 7587): one Opus packet per RTP packet, timestamps
 * at 48 kHz. The duration comes from the TOC byte (RFC 6716 3.1). */
#include "rtp/rtp.h"

int mc_opus_packet_samples(const uint8_t *p, size_t len, uint32_t *samples) {
  if (!p || !samples) return MC_EINVAL;
  if (len < 1) return MC_EPARSE;
  uint8_t config = p[0] >> 3;
  uint32_t frame; /* samples at 48 kHz per frame (RFC 6716 3.1 table 2) */
  if (config < 12) { /* SILK: 10, 20, 40, 60 ms */
    static const uint32_t silk[4] = {480, 960, 1920, 2880};
    frame = silk[config & 3];
  } else if (config < 16) { /* hybrid: 10, 20 ms */
    frame = (config & 1) ? 960 : 480;
  } else { /* CELT: 2.5, 5, 10, 20 ms */
    static const uint32_t celt[4] = {120, 240, 480, 960};
    frame = celt[config & 3];
  }
  uint32_t frames;
  switch (p[0] & 3) {
  case 0: frames = 1; break;
  case 1:
  case 2: frames = 2; break;
  default:
    if (len < 2) return MC_EPARSE;
    frames = p[1] & 0x3f;
    if (frames == 0) return MC_EPARSE;
    break;
  }
  uint32_t total = frames * frame;
  if (total > 5760) return MC_EPARSE; /* RFC 6716 3.2.5: at most 120 ms */
  *samples = total;
  return MC_OK;
}
