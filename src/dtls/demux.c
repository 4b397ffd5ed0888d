/* RFC 7983 7 (updated by RFC 9443 3): demultiplexing STUN, ZRTP, DTLS,
 * TURN channels and RTP/RTCP on one 5-tuple by the first byte. */
#include "dtls/dtls.h"

enum mc_demux mc_demux_classify(const uint8_t *buf, size_t len) {
  if (!buf || len == 0) return MC_DEMUX_DROP;
  uint8_t b = buf[0];
  if (b <= 3) return MC_DEMUX_STUN;
  if (b >= 16 && b <= 19) return MC_DEMUX_ZRTP;
  if (b >= 20 && b <= 63) return MC_DEMUX_DTLS;
  if (b >= 64 && b <= 79) return MC_DEMUX_TURN_CHANNEL;
  if (b >= 128 && b <= 191) return MC_DEMUX_RTP;
  /* 4..15, 80..127 (QUIC) and 192..255 belong to no one here. */
  return MC_DEMUX_DROP;
}
