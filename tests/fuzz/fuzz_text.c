/* Fuzz target: text from the other side as a person will see it
 * (mc_text_shown and its UTF-8 decoder, src/util/text.c): a knocking
 * patient's name, the peer's name after a resume, chat lines. Whatever the
 * bytes, what comes out fits its buffer, is NUL-terminated valid UTF-8
 * (RFC 3629: every sequence the shortest form of a scalar value) and holds
 * no character mc_char_is_hidden names and no tab; with room enough, each
 * character or invalid byte of the input is one character of the output.
 * The decoder must agree with an encoder written here: what it accepts
 * encodes back to the very bytes it read.
 *
 * Input: [cap:1] then the text (cut at its first NUL, as a C string is). */
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

static size_t encode(uint32_t cp, unsigned char out[4]) {
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xc0 | cp >> 6);
    out[1] = (unsigned char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xe0 | cp >> 12);
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (unsigned char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (unsigned char)(0xf0 | cp >> 18);
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
  out[3] = (unsigned char)(0x80 | (cp & 0x3f));
  return 4;
}

/* Characters of s (valid sequences and invalid bytes), checking each
 * sequence the decoder takes against the encoder. */
static size_t units(const char *s, size_t len, bool must_be_valid) {
  size_t count = 0;
  for (size_t i = 0; i < len; count++) {
    uint32_t cp = 0;
    size_t l = mc_utf8_decode(s + i, len - i, &cp);
    if (l == 0) {
      FUZZ_ASSERT(!must_be_valid);
      i++;
      continue;
    }
    unsigned char e[4];
    FUZZ_ASSERT(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
    FUZZ_ASSERT(encode(cp, e) == l && memcmp(e, s + i, l) == 0);
    if (must_be_valid) FUZZ_ASSERT(!mc_char_is_hidden(cp) && cp != '\t');
    i += l;
  }
  return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t cap = data[0];
  char *in = malloc(size);
  if (!in) return 0;
  memcpy(in, data + 1, size - 1);
  in[size - 1] = '\0';
  size_t len = strlen(in);
  size_t in_units = units(in, len, false);

  /* A small buffer, as the knock list and the peer's name have: each
   * size from the input, so cuts land inside sequences too. */
  char *out = malloc(cap + 1);
  if (out) {
    memset(out, 'x', cap + 1);
    mc_text_shown(out, cap, in);
    if (cap > 0) {
      size_t n = strnlen(out, cap);
      FUZZ_ASSERT(n < cap);
      FUZZ_ASSERT(units(out, n, true) <= in_units);
    }
    FUZZ_ASSERT(out[cap] == 'x'); /* nothing written past cap */
    free(out);
  }

  /* Room for everything (call.c's chat lines: three bytes per byte). */
  size_t big = len * 3 + 1;
  out = malloc(big);
  if (out) {
    mc_text_shown(out, big, in);
    FUZZ_ASSERT(units(out, strlen(out), true) == in_units);
    free(out);
  }
  free(in);
  return 0;
}
