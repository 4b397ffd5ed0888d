/* util: the bottom layer. Bytes, time, randomness, encodings, logging.
 * Nothing here knows about networks or protocols. */
#ifndef MC_UTIL_H
#define MC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

#define MC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MC_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- big-endian access: callers check bounds first ---- */
static inline uint16_t mc_get_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t mc_get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t mc_get_be64(const uint8_t *p) {
  return ((uint64_t)mc_get_be32(p) << 32) | mc_get_be32(p + 4);
}
static inline void mc_put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void mc_put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void mc_put_be64(uint8_t *p, uint64_t v) {
  mc_put_be32(p, (uint32_t)(v >> 32)); mc_put_be32(p + 4, (uint32_t)v);
}

/* ---- the minimum of a value over a sliding window, in two buckets ----
 * The current bucket and the last complete one, each `window` long (same
 * unit as `now`): the minimum covers the last one to two windows, and an
 * old minimum is forgotten without keeping every sample. */
struct mc_window_min {
  bool have, rolled; /* a value seen; a bucket completed */
  int64_t cur, prev, start;
};
static inline void mc_window_min_add(struct mc_window_min *w, int64_t value, int64_t now, int64_t window) {
  if (!w->have) {
    w->have = true;
    w->cur = w->prev = value;
    w->start = now;
  } else if (now - w->start >= window) {
    w->prev = w->cur;
    w->cur = value;
    w->start = now;
    w->rolled = true;
  } else if (value < w->cur) {
    w->cur = value;
  }
}
static inline int64_t mc_window_min_get(const struct mc_window_min *w) { return MC_MIN(w->cur, w->prev); }

/* ---- time ---- */
uint64_t mc_now_ms(void);  /* monotonic milliseconds */
uint64_t mc_now_us(void);  /* monotonic microseconds */
uint64_t mc_wall_ms(void); /* wall-clock milliseconds since the Unix epoch */

/* ---- randomness (cryptographically strong) ---- */
int mc_random_bytes(void *out, size_t len);
uint32_t mc_random_u32(void);
uint64_t mc_random_u64(void);
/* Fills out[0..len-1] with characters from the ICE alphabet [A-Za-z0-9+/]
 * (RFC 8445 15.4 ice-char) and NUL-terminates: out needs len + 1 bytes. */
int mc_random_ice_chars(char *out, size_t len);

/* ---- encodings ---- */
/* Writes 2*len hex digits plus NUL; out_cap must be at least 2*len+1. */
int mc_hex_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Standard base64 with padding; returns the encoded length or a negative MC_E code. */
int mc_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Returns the decoded length or a negative MC_E code. */
int mc_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap);

/* ---- strings ---- */
/* strlcpy-like: always NUL-terminates when cap > 0; returns MC_ETOOBIG on
 * truncation, which cuts at a UTF-8 character boundary. */
int mc_strcpy(char *dst, size_t cap, const char *src);
/* Constant-time comparison for secrets. */
bool mc_secure_equal(const void *a, const void *b, size_t len);

/* ---- files kept between runs (files.c) ---- */
/* mkdir -p with mode for every directory it creates. */
int mc_mkdir_p(const char *path, unsigned mode);
/* The state directory: given when not NULL/empty, else systemd's
 * $STATE_DIRECTORY, else $XDG_STATE_HOME/medcall, else
 * ~/.local/state/medcall; created 0700. MC_ENOTFOUND when no variable
 * gives one. */
int mc_state_dir(const char *given, char *out, size_t cap);
/* Writes path whole (a temporary file, fsync, rename) with mode. */
int mc_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Reads at most max bytes (MC_ETOOBIG beyond), NUL-terminated; free *out.
 * MC_ENOTFOUND when the file does not exist. */
int mc_read_file(const char *path, size_t max, char **out, size_t *len_out);

/* ---- config files: "name = value" lines, '#' comments, a name alone is a
 * flag (value NULL) ---- */
/* Returns 0, or negative to stop; why gets a sentence (the reader prefixes
 * "FILE:LINE: "). */
typedef int (*mc_conf_fn)(const char *name, const char *value, void *user, char *why, size_t why_cap);
/* MC_ENOTFOUND when the file does not exist (why still says so); a file
 * over 1 MiB is refused (MC_EIO). */
int mc_conf_read(const char *path, mc_conf_fn fn, void *user, char *why, size_t why_cap);
/* The same over the text buf[0..len-1] (no NUL needed); origin names it in
 * why ("ORIGIN:LINE: ..."). */
int mc_conf_parse(const uint8_t *buf, size_t len, const char *origin, mc_conf_fn fn, void *user, char *why,
                  size_t why_cap);

/* ---- text from the other side ----
 * A peer's chat, name or file name reaches a terminal, a log line or the
 * window: a control character there moves the cursor, sets a title or
 * starts a forged line ("file: invoice.pdf ... saved"), and a bidi or
 * format character makes "report\u202efdp.exe" read as "reportexe.pdf". */
/* Length of the valid UTF-8 sequence at s[0..len) (RFC 3629 4: no
 * overlong forms, no surrogates, nothing above U+10FFFF), its code point
 * in *cp; 0 for an invalid or cut sequence. */
size_t mc_utf8_decode(const char *s, size_t len, uint32_t *cp);
/* C0 and C1 controls, DEL, the bidi controls, the other format characters
 * (Unicode category Cf), the line and paragraph separators, and the
 * invisible Hangul fillers a name can hide behind. */
bool mc_char_is_hidden(uint32_t cp);
/* in as a person may see it: each character mc_char_is_hidden names and
 * each invalid byte becomes U+FFFD, a tab a space; cut at a character
 * boundary to fit cap. The one helper for everything a peer sent that is
 * printed or drawn. */
void mc_text_shown(char *out, size_t cap, const char *in);

/* ---- sentences a person reads ----
 * The sentences this library builds for a person (why a call failed, what
 * is wrong with a config file, a link or a TURN URL) are looked up in the
 * gettext domain "medcall" (po/), whose language the app chooses; logs keep
 * their English words and never go through mc_tr. Where no program chose a
 * language (medcall-server, the tests: LC_MESSAGES is "C") the English
 * comes back as it is. A sentence kept in a table is marked MC_TR_NOOP and
 * translated where it is shown. */
const char *mc_tr(const char *msgid) __attribute__((format_arg(1)));
#define MC_TR_NOOP(s) (s)

/* ---- logging ----
 * One line per event: "LEVEL component: message key=value".
 * Never pass keys, passwords, credentials or media to these. */
enum mc_log_level { MC_LOG_DEBUG = 0, MC_LOG_INFO, MC_LOG_WARN, MC_LOG_ERROR, MC_LOG_OFF };

void mc_log_set_level(enum mc_log_level level);
enum mc_log_level mc_log_get_level(void);
/* Reads MEDCALL_LOG=debug|info|warn|error|off; call once at start-up. */
void mc_log_init_from_env(void);
/* Replaces the sink (default: stderr); NULL restores the default. */
typedef void (*mc_log_sink)(enum mc_log_level level, const char *component, const char *line, void *user);
void mc_log_set_sink(mc_log_sink sink, void *user);

void mc_log(enum mc_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define MC_LOGD(comp, ...) do { if (mc_log_get_level() <= MC_LOG_DEBUG) mc_log(MC_LOG_DEBUG, comp, __VA_ARGS__); } while (0)
#define MC_LOGI(comp, ...) mc_log(MC_LOG_INFO, comp, __VA_ARGS__)
#define MC_LOGW(comp, ...) mc_log(MC_LOG_WARN, comp, __VA_ARGS__)
#define MC_LOGE(comp, ...) mc_log(MC_LOG_ERROR, comp, __VA_ARGS__)

#endif
