/* The sessions a killed or crashed medcall leaves behind, so that the next
 * start takes its place back (docs/app.md "Coming back"): the patient's per
 * room, the doctor's per signaling server (one consultation at a time).
 * Files in STATE_DIR/calls/, 0600: a session id is a secret, so file names
 * carry a digest of the room or server, never the id itself. A call that
 * ends normally forgets its file. */
#include <dirent.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "util/util.h"

#define STORE_MAX 4096

static int store_path(enum call_store_kind kind, const char *key, char *out, size_t cap) {
  char dir[4096];
  int rc = mc_state_dir(NULL, dir, sizeof dir);
  if (rc < 0) return rc;
  size_t n = strlen(dir);
  if (snprintf(dir + n, sizeof dir - n, "/calls") >= (int)(sizeof dir - n)) return MC_ETOOBIG;
  if ((rc = mc_mkdir_p(dir, 0700)) < 0) return rc;
  uint8_t md[32];
  unsigned mdlen = 0;
  EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
  char hex[65];
  mc_hex_encode(md, 12, hex, sizeof hex);
  int w = snprintf(out, cap, "%s/%s-%s.json", dir, kind == CALL_STORE_DOCTOR ? "doctor" : "patient", hex);
  return w > 0 && (size_t)w < cap ? MC_OK : MC_ETOOBIG;
}

int call_store_save(enum call_store_kind kind, const char *key, const struct call_stored *s) {
  char path[4300];
  int rc = store_path(kind, key, path, sizeof path);
  if (rc < 0) return rc;
  json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "room", s->room, "session", s->session, "link", s->link, "saved",
                        (json_int_t)mc_wall_ms());
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (!text) return MC_ENOMEM;
  rc = mc_write_file_atomic(path, text, strlen(text), 0600);
  OPENSSL_cleanse(text, strlen(text));
  free(text);
  return rc;
}

int call_store_load(enum call_store_kind kind, const char *key, struct call_stored *out) {
  char path[4300], *text = NULL;
  size_t len = 0;
  memset(out, 0, sizeof *out);
  int rc = store_path(kind, key, path, sizeof path);
  if (rc == 0) rc = mc_read_file(path, STORE_MAX, &text, &len);
  if (rc < 0) return rc;
  json_error_t err;
  json_t *o = json_loadb(text, len, 0, &err);
  OPENSSL_cleanse(text, len);
  free(text);
  const char *room = json_string_value(json_object_get(o, "room"));
  const char *session = json_string_value(json_object_get(o, "session"));
  const char *link = json_string_value(json_object_get(o, "link"));
  rc = MC_EPARSE;
  if (room && session && mc_signal_id_valid(session, strlen(session)) &&
      mc_strcpy(out->room, sizeof out->room, room) == 0 && mc_strcpy(out->session, sizeof out->session, session) == 0) {
    mc_strcpy(out->link, sizeof out->link, link ? link : "");
    rc = MC_OK;
  }
  json_decref(o);
  return rc;
}

void call_store_forget(enum call_store_kind kind, const char *key) {
  char path[4300];
  if (store_path(kind, key, path, sizeof path) == 0) unlink(path);
}
