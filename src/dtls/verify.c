/* The verification code doctor and patient read to each other (issue 6
 * item 3). Both sides derive it from the same two certificate fingerprints
 * (the ones each saw signaled and checked inside the handshake), so it
 * matches only when nobody in the middle swapped a certificate. The patient
 * page computes the same in assets/web/room.js: keep the two in step. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "dtls/dtls.h"

/* "AB:CD:..." hex pairs joined by ':' */
#define FP_TEXT_MAX (MC_DTLS_FP_MAX * 3)

/* Skips a leading "sha-256 " and surrounding blanks, upper-cases, and checks
 * the shape mc_dtls_fingerprint_format writes. */
static int normalize(const char *fp, char out[FP_TEXT_MAX + 1]) {
  if (!fp) return MC_EINVAL;
  while (*fp == ' ' || *fp == '\t') fp++;
  if (strncasecmp(fp, "sha-256 ", 8) == 0) fp += 8;
  while (*fp == ' ' || *fp == '\t') fp++;
  size_t len = strlen(fp);
  while (len && isspace((unsigned char)fp[len - 1])) len--;
  /* n pairs and n-1 colons: 3n-1 characters */
  if (len < 2 || len > FP_TEXT_MAX - 1 || (len + 1) % 3 != 0) return MC_EINVAL;
  for (size_t i = 0; i < len; i++) {
    char ch = fp[i];
    if (i % 3 == 2) {
      if (ch != ':') return MC_EINVAL;
    } else if (!isxdigit((unsigned char)ch)) {
      return MC_EINVAL;
    }
    out[i] = (char)toupper((unsigned char)ch);
  }
  out[len] = '\0';
  return MC_OK;
}

int mc_dtls_verification_code(const char *fp_a, const char *fp_b, char out[MC_DTLS_VERIFICATION_CODE_LEN]) {
  if (!out) return MC_EINVAL;
  out[0] = '\0';
  char a[FP_TEXT_MAX + 1], b[FP_TEXT_MAX + 1];
  int rc = normalize(fp_a, a);
  if (rc == MC_OK) rc = normalize(fp_b, b);
  if (rc != MC_OK) return rc;
  /* Sorted, so both sides hash the same text whichever is "local". */
  const char *lo = strcmp(a, b) <= 0 ? a : b;
  const char *hi = lo == a ? b : a;
  char text[2 * FP_TEXT_MAX + 2];
  int n = snprintf(text, sizeof text, "%s %s", lo, hi);
  if (n < 0 || (size_t)n >= sizeof text) return MC_EINVAL;
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned mdlen = 0;
  if (!EVP_Digest(text, (size_t)n, md, &mdlen, EVP_sha256(), NULL) || mdlen < 4) return MC_ENOMEM;
  uint32_t v = ((uint32_t)md[0] << 24) | ((uint32_t)md[1] << 16) | ((uint32_t)md[2] << 8) | md[3];
  v %= 1000000u;
  snprintf(out, MC_DTLS_VERIFICATION_CODE_LEN, "%03u %03u", (unsigned)(v / 1000), (unsigned)(v % 1000));
  return MC_OK;
}
