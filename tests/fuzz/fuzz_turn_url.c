/* Fuzz target: ICE server URL parser (RFC 7064, RFC 7065). Any input either
 * parses into a URL whose canonical form parses back to the same fields, or
 * fails with MC_EPARSE and a non-empty explanation. */
#include <stdlib.h>
#include <string.h>

#include "turn/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mc_ice_url u, v;
  char why[200];
  int rc = mc_ice_url_parse((const char *)data, size, &u, why, sizeof why);
  if (rc != 0) {
    if (rc != MC_EPARSE || why[0] == '\0') abort();
    return 0;
  }
  if (u.port == 0 || strlen(u.host) == 0 || strlen(u.host) > MC_ICE_URL_HOST_MAX) abort();
  char canon[MC_ICE_URL_STRLEN];
  mc_ice_url_str(&u, canon, sizeof canon);
  if (mc_ice_url_parse(canon, strlen(canon), &v, why, sizeof why) != 0) abort();
  if (v.scheme != u.scheme || v.port != u.port || v.transport != u.transport || strcmp(v.host, u.host) != 0 ||
      v.host_is_ipv6 != u.host_is_ipv6)
    abort();
  char sentence[512];
  mc_turn_explain(sentence, sizeof sentence, u.host, u.transport, 401, NULL, 0, true);
  return 0;
}
