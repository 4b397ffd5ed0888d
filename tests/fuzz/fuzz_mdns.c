/* mDNS message parsing: responses, queries and raw (compressed) names. */
#include <stdint.h>
#include <string.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mc_addr addrs[8];
  size_t n = 0;
  /* The name every seed answers for, and one taken from the input itself so
   * matching answers are reachable. */
  mc_mdns_parse_response(data, size, "fuzz.local", addrs, 8, &n);
  struct mc_mdns_question qs[8];
  uint16_t id;
  if (mc_mdns_parse_query(data, size, &id, qs, 8, &n) == 0 && n > 0)
    mc_mdns_parse_response(data, size, qs[0].name, addrs, 8, &n);
  char name[MC_DNS_NAME_MAX];
  size_t off = 12;
  if (mc_dns_read_name(data, size, &off, name, sizeof name) == 0) {
    mc_mdns_parse_response(data, size, name, addrs, 8, &n);
    /* whatever parses must build again */
    uint8_t out[600];
    size_t len;
    mc_mdns_build_query(1, name, out, sizeof out, &len);
  }
  for (size_t start = 0; start < size && start < 64; start++) {
    off = start;
    mc_dns_read_name(data, size, &off, name, sizeof name);
  }
  return 0;
}
