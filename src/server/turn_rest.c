/* TURN REST credentials: the server and coturn share a secret, so the server
 * can hand out short-lived TURN credentials without telling coturn anything.
 * draft-uberti-behave-turn-rest-00 2.2: username = "<expiry>:<id>",
 * password = base64(HMAC-SHA1(secret, username)); coturn's use-auth-secret
 * checks exactly this and refuses the username once expiry is past. */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server/server.h"
#include "util/util.h"

int mc_turn_rest_credentials(const char *secret, uint64_t expiry_unix_s, const char *id, char *user_out,
                             size_t user_cap, char *pass_out, size_t pass_cap) {
  if (!secret || !id || strchr(id, ':')) return MC_EINVAL;
  int n = snprintf(user_out, user_cap, "%llu:%s", (unsigned long long)expiry_unix_s, id);
  if (n < 0 || (size_t)n >= user_cap) return MC_ETOOBIG;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)user_out, (size_t)n, mac, &mac_len))
    return MC_ENOMEM;
  int rc = mc_base64_encode(mac, mac_len, pass_out, pass_cap);
  OPENSSL_cleanse(mac, sizeof mac);
  return rc < 0 ? rc : MC_OK;
}
