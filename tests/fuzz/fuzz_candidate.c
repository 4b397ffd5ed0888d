/* Fuzzes the candidate-line parser (RFC 8839 5.1): it must never crash or
 * read out of bounds, and whatever it accepts must format and parse back to
 * the same candidate. */
#include <stdlib.h>
#include <string.h>

#include "ice/ice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mc_ice_candidate c;
  if (mc_ice_candidate_parse(data, size, &c) != 0) return 0;
  char line[8192];
  if (mc_ice_candidate_format(&c, line, sizeof line) != 0) abort();
  mc_ice_candidate d;
  if (mc_ice_candidate_parse((const uint8_t *)line, strlen(line), &d) != 0) abort();
  if (strcmp(c.foundation, d.foundation) != 0 || c.component != d.component || c.transport != d.transport ||
      c.priority != d.priority || strcmp(c.host, d.host) != 0 || c.port != d.port || c.type != d.type ||
      c.has_related != d.has_related || c.related_port != d.related_port ||
      strcmp(c.related_host, d.related_host) != 0 || c.generation != d.generation ||
      strcmp(c.ufrag, d.ufrag) != 0 || c.network_id != d.network_id || c.network_cost != d.network_cost ||
      c.is_mdns != d.is_mdns || !(mc_addr_family(&c.addr) == AF_UNSPEC ? mc_addr_family(&d.addr) == AF_UNSPEC
                                                                       : mc_addr_equal(&c.addr, &d.addr)))
    abort();
  return 0;
}
