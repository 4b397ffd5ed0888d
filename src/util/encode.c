#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/util.h"

int mc_hex_encode(const uint8_t *in, size_t len, char *out, size_t out_cap) {
  static const char digits[] = "0123456789abcdef";
  if (out_cap < 2 * len + 1) return MC_ETOOBIG;
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = '\0';
  return MC_OK;
}

int mc_base64_encode(const uint8_t *in, size_t len, char *out, size_t out_cap) {
  if (len > (size_t)INT32_MAX / 2) return MC_EINVAL;
  if (out_cap < 4 * ((len + 2) / 3) + 1) return MC_ETOOBIG;
  return EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

int mc_base64_decode(const char *in, size_t len, uint8_t *out, size_t out_cap) {
  if (len % 4 != 0 || len > (size_t)INT32_MAX / 2) return MC_EPARSE;
  if (out_cap < 3 * (len / 4)) return MC_ETOOBIG;
  int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
  if (n < 0) return MC_EPARSE;
  /* EVP_DecodeBlock counts padding as zero bytes. */
  if (len >= 1 && in[len - 1] == '=') n--;
  if (len >= 2 && in[len - 2] == '=') n--;
  return n;
}

int mc_strcpy(char *dst, size_t cap, const char *src) {
  if (cap == 0) return MC_ETOOBIG;
  size_t n = strlen(src);
  if (n >= cap) {
    /* Cut at a character boundary: half a UTF-8 sequence is not text (a
     * box in the window, a string JSON refuses), and peer text (a Korean
     * chat line, a name) is cut into fixed buffers this way. */
    size_t k = cap - 1;
    while (k > 0 && ((unsigned char)src[k] & 0xc0) == 0x80) k--;
    memcpy(dst, src, k);
    dst[k] = '\0';
    return MC_ETOOBIG;
  }
  memcpy(dst, src, n + 1);
  return MC_OK;
}

bool mc_secure_equal(const void *a, const void *b, size_t len) { return CRYPTO_memcmp(a, b, len) == 0; }
