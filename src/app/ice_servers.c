/* The ICE servers of a call: those the signaling server sends with each
 * admission (untrusted JSON, docs/signaling.md "admitted"), then those of
 * the options. */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"

static void add(struct call_ice_server *list, size_t *n, const char *url, const char *user, const char *cred) {
  if (*n >= CALL_MAX_ICE_SERVERS) return;
  struct call_ice_server *s = &list[*n];
  s->url = strdup(url);
  s->username = user ? strdup(user) : NULL;
  s->credential = cred ? strdup(cred) : NULL;
  if (!s->url || (user && !s->username) || (cred && !s->credential)) {
    free(s->url);
    free(s->username);
    free(s->credential);
    memset(s, 0, sizeof *s);
    return;
  }
  (*n)++;
}

void call_ice_servers_clear(struct call_ice_server *list, size_t *n) {
  for (size_t i = 0; i < *n; i++) {
    free(list[i].url);
    free(list[i].username);
    if (list[i].credential) {
      OPENSSL_cleanse(list[i].credential, strlen(list[i].credential));
      free(list[i].credential);
    }
  }
  *n = 0;
}

void call_ice_servers_set(struct call_ice_server *list, size_t *n, json_t *arr, const struct call_ice_server *extra,
                          size_t nextra) {
  call_ice_servers_clear(list, n);
  size_t i;
  json_t *s;
  json_array_foreach(arr, i, s) {
    json_t *urls = json_object_get(s, "urls");
    const char *user = json_string_value(json_object_get(s, "username"));
    const char *cred = json_string_value(json_object_get(s, "credential"));
    /* RTCIceServer.urls: one string or a list of them */
    json_t *list_urls = json_is_string(urls) ? json_pack("[O]", urls) : json_incref(urls);
    size_t k;
    json_t *u;
    json_array_foreach(list_urls, k, u) {
      if (json_is_string(u)) add(list, n, json_string_value(u), user, cred);
    }
    json_decref(list_urls);
  }
  for (size_t k = 0; k < nextra; k++) add(list, n, extra[k].url, extra[k].username, extra[k].credential);
}
