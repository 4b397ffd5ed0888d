/* Fuzzes the SDP parser (RFC 8866): it must never crash or read out of
 * bounds, every rejection must name a line, and whatever it accepts must
 * write and parse back to an equal model. */
#include <stdlib.h>
#include <string.h>

#include "sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mc_sdp a, b;
  static char text[256 * 1024];
  int line = -1;
  char why[128];
  int rc = mc_sdp_parse(data, size, &a, &line, why, sizeof why);
  if (rc != 0) {
    if ((rc != MC_EPARSE && rc != MC_ETOOBIG) || line < 1 || why[0] == '\0') abort();
    return 0;
  }
  size_t n = 0;
  if (mc_sdp_write(&a, text, sizeof text, &n) != 0) abort();
  if (mc_sdp_parse((const uint8_t *)text, n, &b, &line, why, sizeof why) != 0) abort();
  if (!mc_sdp_equal(&a, &b)) abort();
  return 0;
}
