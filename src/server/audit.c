/* The audit log: who met whom and when, without content. One JSON object
 * per line, appended with a single write(2) so concurrent readers never see
 * half a line. A room appears as a keyed hash of its id: the id is the
 * secret part of the link, and the key (in the state directory) stays with
 * the server, so the log lets the clinic follow one consultation without
 * being able to open it. Names, chat, links, tokens, credentials and SDP
 * never reach this file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "server/server.h"
#include "util/util.h"

#define KEY_LEN 32

struct mc_audit {
  char *path;
  int fd;
  unsigned char key[KEY_LEN];
};

static int open_log(const char *path) {
  /* 0640: the clinic's log shipper may read it through the group. */
  return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* STATE_DIR/audit-key: 64 hex digits, made once. */
static int load_key(const char *state_dir, unsigned char key[KEY_LEN], char *why, size_t cap) {
  char dir[4096], path[4200];
  if (mc_state_dir(state_dir, dir, sizeof dir) < 0) {
    snprintf(why, cap, "The audit log needs a state directory for its key: give --state-dir DIR.");
    return MC_ENOTFOUND;
  }
  snprintf(path, sizeof path, "%s/audit-key", dir);
  char *text = NULL;
  size_t len = 0;
  int rc = mc_read_file(path, 256, &text, &len);
  if (rc == 0) {
    bool ok = len >= 2 * KEY_LEN;
    for (size_t i = 0; ok && i < KEY_LEN; i++) {
      unsigned v;
      if (sscanf(text + 2 * i, "%2x", &v) != 1) ok = false;
      key[i] = (unsigned char)v;
    }
    OPENSSL_cleanse(text, len);
    free(text);
    if (!ok) {
      snprintf(why, cap, "%s is not an audit key (64 hex digits); move it away to make a new one.", path);
      return MC_EPARSE;
    }
    return MC_OK;
  }
  char hex[2 * KEY_LEN + 2];
  if (mc_random_bytes(key, KEY_LEN) < 0 || mc_hex_encode(key, KEY_LEN, hex, sizeof hex) < 0) return MC_EIO;
  strcat(hex, "\n");
  rc = mc_write_file_atomic(path, hex, strlen(hex), 0600);
  OPENSSL_cleanse(hex, sizeof hex);
  if (rc < 0) {
    snprintf(why, cap, "Cannot write the audit key %s: check the state directory's permissions.", path);
    return rc;
  }
  return MC_OK;
}

int mc_audit_open(const char *path, const char *state_dir, mc_audit **out, char *why, size_t cap) {
  mc_audit *a = calloc(1, sizeof *a);
  if (!a || !(a->path = strdup(path))) {
    free(a);
    return MC_ENOMEM;
  }
  int rc = load_key(state_dir, a->key, why, cap);
  if (rc < 0) goto fail;
  if ((a->fd = open_log(path)) < 0) {
    snprintf(why, cap, "Cannot open the audit log %s: %s.", path, strerror(errno));
    rc = MC_EIO;
    goto fail;
  }
  *out = a;
  return MC_OK;
fail:
  OPENSSL_cleanse(a->key, sizeof a->key);
  free(a->path);
  free(a);
  return rc;
}

int mc_audit_reopen(mc_audit *a) {
  int fd = open_log(a->path);
  if (fd < 0) return MC_EIO; /* the old file stays in use */
  close(a->fd);
  a->fd = fd;
  return MC_OK;
}

void mc_audit_close(mc_audit *a) {
  if (!a) return;
  close(a->fd);
  OPENSSL_cleanse(a->key, sizeof a->key);
  free(a->path);
  free(a);
}

void mc_audit_room_ref(const mc_audit *a, const char *room_id, char *out, size_t cap) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), a->key, KEY_LEN, (const unsigned char *)room_id, strlen(room_id), mac, &n) || n < 16) {
    mc_strcpy(out, cap, "");
    return;
  }
  mc_hex_encode(mac, 16, out, cap);
}

/* Every string written comes from the server's own vocabulary (event,
 * role, reason words) or is an address or a hex digest; they are checked
 * anyway, so nothing can break out of its JSON string. */
static bool plain(const char *s) {
  for (; s && *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr(".:-_[]", *s)))
      return false;
  return true;
}

int mc_audit_write(mc_audit *a, const char *event, const char *role, const char *addr, const char *room_id,
                   const char *reason) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char when[32], ref[40] = "", line[512];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  if (room_id) mc_audit_room_ref(a, room_id, ref, sizeof ref);
  int n = snprintf(line, sizeof line, "{\"time\":\"%s.%03ldZ\",\"event\":\"%s\"", when, ts.tv_nsec / 1000000,
                   plain(event) ? event : "?");
  if (role && plain(role)) n += snprintf(line + n, sizeof line - (size_t)n, ",\"role\":\"%s\"", role);
  if (addr && plain(addr)) n += snprintf(line + n, sizeof line - (size_t)n, ",\"addr\":\"%s\"", addr);
  if (ref[0]) n += snprintf(line + n, sizeof line - (size_t)n, ",\"room\":\"%s\"", ref);
  if (reason && plain(reason)) n += snprintf(line + n, sizeof line - (size_t)n, ",\"reason\":\"%s\"", reason);
  n += snprintf(line + n, sizeof line - (size_t)n, "}\n");
  if (n <= 0 || (size_t)n >= sizeof line) return MC_ETOOBIG;
  ssize_t w;
  do w = write(a->fd, line, (size_t)n);
  while (w < 0 && errno == EINTR);
  return w == n ? MC_OK : MC_EIO;
}
