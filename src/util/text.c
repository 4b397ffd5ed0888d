/* Text from the other side, made safe to show (util.h). */
#include <string.h>

#include "util/util.h"

size_t mc_utf8_decode(const char *s, size_t len, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  if (len == 0) return 0;
  unsigned char c = u[0];
  size_t n;
  uint32_t v;
  if (c < 0x80) n = 1, v = c;
  else if (c >= 0xc2 && c <= 0xdf) n = 2, v = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, v = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, v = c & 0x07;
  else return 0;
  if (n > len) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((u[i] & 0xc0) != 0x80) return 0;
    v = (v << 6) | (u[i] & 0x3f);
  }
  if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10ffff)) || (v >= 0xd800 && v <= 0xdfff)) return 0;
  if (cp) *cp = v;
  return n;
}

bool mc_char_is_hidden(uint32_t cp) {
  static const struct {
    uint32_t lo, hi;
  } ranges[] = {
      {0x0000, 0x001f}, {0x007f, 0x009f},                      /* C0, DEL, C1 */
      {0x00ad, 0x00ad}, {0x0600, 0x0605}, {0x061c, 0x061c},    /* soft hyphen, Arabic marks */
      {0x06dd, 0x06dd}, {0x070f, 0x070f}, {0x0890, 0x0891}, {0x08e2, 0x08e2},
      {0x115f, 0x1160}, {0x180e, 0x180e},                      /* Hangul choseong/jungseong fillers */
      {0x200b, 0x200f},                                        /* zero widths, LRM, RLM */
      {0x2028, 0x202e},                                        /* separators, LRE..RLO */
      {0x2060, 0x2064}, {0x2066, 0x206f},                      /* word joiner.., LRI..PDI, deprecated */
      {0x3164, 0x3164}, {0xfeff, 0xfeff}, {0xffa0, 0xffa0},    /* Hangul filler, BOM, half-width filler */
      {0xfff9, 0xfffb}, {0x110bd, 0x110bd}, {0x110cd, 0x110cd}, {0x13430, 0x1343f},
      {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a}, {0xe0001, 0xe0001}, {0xe0020, 0xe007f}, /* tags */
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(ranges); i++)
    if (cp >= ranges[i].lo && cp <= ranges[i].hi) return true;
  return false;
}

void mc_text_shown(char *out, size_t cap, const char *in) {
  static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
  if (!out || cap == 0) return;
  size_t n = 0, len = in ? strlen(in) : 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp = 0;
    size_t l = mc_utf8_decode(in + i, len - i, &cp);
    const char *put = in + i;
    size_t put_len = l;
    if (l == 0) {
      put = replacement, put_len = 3, l = 1;
    } else if (cp == '\t') {
      put = " ", put_len = 1;
    } else if (mc_char_is_hidden(cp)) {
      put = replacement, put_len = 3;
    }
    if (n + put_len + 1 > cap) break;
    memcpy(out + n, put, put_len);
    n += put_len;
    i += l;
  }
  out[n] = '\0';
}
