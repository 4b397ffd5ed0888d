/* TURN ChannelData framing (RFC 8656 12.4, 12.5) and STUN/ChannelData frame
 * boundaries on TCP/TLS streams (RFC 8489 6.2.2, RFC 8656 12.5). */
#include <string.h>

#include "stun/stun_private.h"

#define MC_CHANNELDATA_HEADER_LEN 4

/* Returns the frame length written. */
int mc_channeldata_write(uint8_t *buf, size_t cap, uint16_t channel, const uint8_t *data, size_t len,
                         bool pad) {
  if (!buf || (len && !data)) return MC_EINVAL;
  if (channel < MC_TURN_CHANNEL_MIN || channel > MC_TURN_CHANNEL_MAX) return MC_EINVAL;
  if (len > 0xFFFF) return MC_EINVAL;
  /* RFC 8656 12.5: over TCP/TLS the frame is padded to a multiple of 4
   * (padding not counted in the length field); over UDP it need not be. */
  size_t total = MC_CHANNELDATA_HEADER_LEN + (pad ? ((len + 3) & ~(size_t)3) : len);
  if (total > cap) return MC_ETOOBIG;
  mc_put_be16(buf, channel);
  mc_put_be16(buf + 2, (uint16_t)len);
  if (len) memmove(buf + MC_CHANNELDATA_HEADER_LEN, data, len);
  memset(buf + MC_CHANNELDATA_HEADER_LEN + len, 0, total - MC_CHANNELDATA_HEADER_LEN - len);
  return (int)total;
}

/* RFC 8656 12.4: channel numbers 0x4000-0x4FFF; 0x5000-0x7FFF are reserved
 * and a message using them is malformed. Bytes after the claimed length
 * (padding, or the next frame on a stream) are left to the caller. */
int mc_channeldata_parse(const uint8_t *buf, size_t len, uint16_t *channel, const uint8_t **data,
                         size_t *data_len) {
  if (!buf || !channel || !data || !data_len) return MC_EINVAL;
  if (len < MC_CHANNELDATA_HEADER_LEN) return MC_EPARSE;
  uint16_t ch = mc_get_be16(buf);
  if (ch < MC_TURN_CHANNEL_MIN || ch > MC_TURN_CHANNEL_MAX) return MC_EPARSE;
  size_t n = mc_get_be16(buf + 2);
  /* RFC 8656 12.5: a datagram shorter than the claimed length is discarded. */
  if (n > len - MC_CHANNELDATA_HEADER_LEN) return MC_EPARSE;
  *channel = ch;
  *data = buf + MC_CHANNELDATA_HEADER_LEN;
  *data_len = n;
  return MC_OK;
}

/* RFC 8489 6.2.2 and RFC 8656 12.5: on a stream, STUN messages and
 * ChannelData frames follow each other; the first two bits tell which. */
int mc_stun_stream_frame_len(const uint8_t *buf, size_t len) {
  if (!buf && len) return MC_EINVAL;
  if (len < 1) return 0;
  switch (buf[0] >> 6) {
  case 0: {
    /* The length field (bytes 2-3) and the cookie (4-7) decide. */
    if (len < 8) return 0;
    if (mc_get_be32(buf + 4) != MC_STUN_MAGIC_COOKIE) return MC_EPARSE;
    size_t body = mc_get_be16(buf + 2);
    if (body % 4) return MC_EPARSE;
    return (int)(MC_STUN_HEADER_LEN + body);
  }
  case 1: {
    if (len < MC_CHANNELDATA_HEADER_LEN) return 0;
    uint16_t ch = mc_get_be16(buf);
    if (ch > MC_TURN_CHANNEL_MAX) return MC_EPARSE;
    size_t n = mc_get_be16(buf + 2);
    return (int)(MC_CHANNELDATA_HEADER_LEN + ((n + 3) & ~(size_t)3));
  }
  default:
    return MC_EPARSE;
  }
}
