/* Fuzz target: the ICE servers the signaling server sends the app with an
 * admission (src/app/ice_servers.c): any JSON gives at most
 * CALL_MAX_ICE_SERVERS entries, each a copy of a string of the message (or
 * of the options, which come after), and clearing frees them all (LeakSanitizer
 * checks). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *root = json_loadb((const char *)data, size, 0, NULL);
  if (!root) return 0;
  static const struct call_ice_server opts[] = {{"stun:stun.example:3478", NULL, NULL},
                                                {"turn:turn.example:3478?transport=tcp", "u", "secret"}};
  struct call_ice_server list[CALL_MAX_ICE_SERVERS];
  memset(list, 0, sizeof list);
  size_t n = 0;
  /* An admission's "ice_servers", or the document itself when it is the list. */
  json_t *arr = json_is_object(root) ? json_object_get(root, "ice_servers") : root;
  for (int round = 0; round < 2; round++) {
    call_ice_servers_set(list, &n, arr, opts, MC_ARRAY_LEN(opts));
    FUZZ_ASSERT(n <= CALL_MAX_ICE_SERVERS);
    /* the model: every string of "urls" in order with its object's
     * username and credential, then the options, as many as fit */
    size_t k = 0, i;
    json_t *s;
    json_array_foreach(arr, i, s) {
      json_t *urls = json_object_get(s, "urls");
      const char *user = json_string_value(json_object_get(s, "username"));
      const char *cred = json_string_value(json_object_get(s, "credential"));
      size_t count = json_is_string(urls) ? 1 : json_array_size(urls);
      for (size_t u = 0; u < count && k < CALL_MAX_ICE_SERVERS; u++) {
        const char *url = json_is_string(urls) ? json_string_value(urls) : json_string_value(json_array_get(urls, u));
        if (!url) continue;
        FUZZ_ASSERT(k < n && !strcmp(list[k].url, url));
        FUZZ_ASSERT(user ? list[k].username && !strcmp(list[k].username, user) : !list[k].username);
        FUZZ_ASSERT(cred ? list[k].credential && !strcmp(list[k].credential, cred) : !list[k].credential);
        k++;
      }
    }
    for (size_t o = 0; o < MC_ARRAY_LEN(opts) && k < CALL_MAX_ICE_SERVERS; o++, k++)
      FUZZ_ASSERT(k < n && !strcmp(list[k].url, opts[o].url));
    FUZZ_ASSERT(k == n);
  }
  call_ice_servers_clear(list, &n);
  FUZZ_ASSERT(n == 0);
  json_decref(root);
  return 0;
}
