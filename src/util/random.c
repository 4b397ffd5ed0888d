#include <stdlib.h>

#include <openssl/rand.h>

#include "util/util.h"

int mc_random_bytes(void *out, size_t len) {
  if (len > INT32_MAX) return MC_EINVAL;
  return RAND_bytes(out, (int)len) == 1 ? MC_OK : MC_EIO;
}

uint32_t mc_random_u32(void) {
  uint32_t v = 0;
  if (mc_random_bytes(&v, sizeof v) != MC_OK) abort();
  return v;
}

uint64_t mc_random_u64(void) {
  uint64_t v = 0;
  if (mc_random_bytes(&v, sizeof v) != MC_OK) abort();
  return v;
}

int mc_random_ice_chars(char *out, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t raw[256];
  if (len >= sizeof raw) return MC_EINVAL;
  int err = mc_random_bytes(raw, len);
  if (err) return err;
  /* 64 symbols: taking the low 6 bits of a uniform byte is unbiased. */
  for (size_t i = 0; i < len; i++) out[i] = alphabet[raw[i] & 63];
  out[len] = '\0';
  return MC_OK;
}
