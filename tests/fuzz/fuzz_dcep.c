/* libFuzzer target: DCEP DATA_CHANNEL_OPEN parse (RFC 8832 5.1), and a
 * writer round trip of what the parser accepted. */
#include <stdlib.h>
#include <string.h>

#include "sctp/sctp.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct mc_dcep_open o;
  if (mc_dcep_parse_open(data, size, &o) != MC_OK) return 0;
  size_t label_len = strlen(o.label), protocol_len = strlen(o.protocol);
  FUZZ_ASSERT(label_len <= MC_SCTP_LABEL_MAX && protocol_len <= MC_SCTP_LABEL_MAX);
  FUZZ_ASSERT(size >= 12 + label_len + protocol_len);
  FUZZ_ASSERT(data[0] == MC_DCEP_OPEN && o.channel_type == data[1]);
  FUZZ_ASSERT(memcmp(data + 12, o.label, label_len) == 0);
  FUZZ_ASSERT(memcmp(data + 12 + label_len, o.protocol, protocol_len) == 0);

  static uint8_t buf[12 + 2 * MC_SCTP_LABEL_MAX];
  size_t len = 0;
  FUZZ_ASSERT(mc_dcep_write_open(&o, buf, sizeof buf, &len) == MC_OK);
  FUZZ_ASSERT(len == 12 + label_len + protocol_len);
  /* The accepted prefix of the input is exactly what the writer produces. */
  FUZZ_ASSERT(memcmp(buf, data, len) == 0);
  struct mc_dcep_open r;
  FUZZ_ASSERT(mc_dcep_parse_open(buf, len, &r) == MC_OK);
  FUZZ_ASSERT(r.channel_type == o.channel_type && r.priority == o.priority && r.reliability == o.reliability);
  FUZZ_ASSERT(strcmp(r.label, o.label) == 0 && strcmp(r.protocol, o.protocol) == 0);
  FUZZ_ASSERT(len < 1 || mc_dcep_write_open(&o, buf, len - 1, &len) == MC_ETOOBIG);
  return 0;
}
