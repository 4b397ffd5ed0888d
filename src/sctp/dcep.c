/* DCEP (RFC 8832 5) message codec. */
#include <string.h>

#include "sctp/sctp.h"
#include "util/util.h"

/* RFC 8832 5.1: type, channel type, priority, reliability, label length,
 * protocol length. */
#define DCEP_OPEN_HEADER_LEN 12

static bool channel_type_known(uint8_t t) {
  switch (t) {
    case MC_DCEP_RELIABLE:
    case MC_DCEP_RELIABLE_UNORDERED:
    case MC_DCEP_PARTIAL_RELIABLE_REXMIT:
    case MC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED:
    case MC_DCEP_PARTIAL_RELIABLE_TIMED:
    case MC_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED:
      return true;
    default:
      return false;
  }
}

/* RFC 8832 5.1. DATA_CHANNEL_OPEN Message. The label and protocol are
 * UTF-8 without a terminator; an embedded NUL could not be handed on as a C
 * string, so it is refused like an unknown channel type. */
int mc_dcep_parse_open(const uint8_t *buf, size_t len, struct mc_dcep_open *out) {
  if (!buf || !out) return MC_EINVAL;
  if (len < DCEP_OPEN_HEADER_LEN || buf[0] != MC_DCEP_OPEN) return MC_EPARSE;
  if (!channel_type_known(buf[1])) return MC_EPARSE;
  size_t label_len = mc_get_be16(buf + 8);
  size_t protocol_len = mc_get_be16(buf + 10);
  if (label_len > MC_SCTP_LABEL_MAX || protocol_len > MC_SCTP_LABEL_MAX) return MC_EPARSE;
  if (label_len + protocol_len > len - DCEP_OPEN_HEADER_LEN) return MC_EPARSE;
  const uint8_t *label = buf + DCEP_OPEN_HEADER_LEN;
  const uint8_t *protocol = label + label_len;
  if (memchr(label, 0, label_len) || memchr(protocol, 0, protocol_len)) return MC_EPARSE;

  memset(out, 0, sizeof *out);
  out->channel_type = buf[1];
  out->priority = mc_get_be16(buf + 2);
  out->reliability = mc_get_be32(buf + 4);
  memcpy(out->label, label, label_len);
  out->label[label_len] = '\0';
  memcpy(out->protocol, protocol, protocol_len);
  out->protocol[protocol_len] = '\0';
  return MC_OK;
}

int mc_dcep_write_open(const struct mc_dcep_open *open, uint8_t *buf, size_t cap, size_t *out_len) {
  if (!open || !buf || !out_len) return MC_EINVAL;
  size_t label_len = strnlen(open->label, sizeof open->label);
  size_t protocol_len = strnlen(open->protocol, sizeof open->protocol);
  if (label_len > MC_SCTP_LABEL_MAX || protocol_len > MC_SCTP_LABEL_MAX) return MC_EINVAL;
  if (!channel_type_known(open->channel_type)) return MC_EINVAL;
  size_t total = DCEP_OPEN_HEADER_LEN + label_len + protocol_len;
  if (cap < total) return MC_ETOOBIG;
  buf[0] = MC_DCEP_OPEN;
  buf[1] = open->channel_type;
  mc_put_be16(buf + 2, open->priority);
  mc_put_be32(buf + 4, open->reliability);
  mc_put_be16(buf + 8, (uint16_t)label_len);
  mc_put_be16(buf + 10, (uint16_t)protocol_len);
  memcpy(buf + DCEP_OPEN_HEADER_LEN, open->label, label_len);
  memcpy(buf + DCEP_OPEN_HEADER_LEN + label_len, open->protocol, protocol_len);
  *out_len = total;
  return MC_OK;
}
