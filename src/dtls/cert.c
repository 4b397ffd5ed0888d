/* The DTLS certificate of one peer connection: a fresh ECDSA P-256 key and
 * a self-signed certificate, identified to the peer only by its fingerprint
 * in the SDP (RFC 8122 5, RFC 8827 6.5). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "dtls/dtls_private.h"
#include "util/util.h"

#define CERT_CN "medcall"
#define CERT_VALID_DAYS 30
#define CERT_BACKDATE_S (24L * 3600) /* tolerate a peer whose clock is behind */

static int set_random_serial(X509 *x) {
  uint8_t serial[16];
  if (mc_random_bytes(serial, sizeof serial) < 0) return MC_EIO;
  serial[0] &= 0x7f; /* RFC 5280 4.1.2.2: a positive integer */
  serial[0] |= 0x01; /* and a non-zero first byte, so all 16 bytes are kept */
  BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
  int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
  BN_free(bn);
  return ok ? MC_OK : MC_ENOMEM;
}

int mc_dtls_cert_generate(mc_dtls_cert **out) {
  if (!out) return MC_EINVAL;
  *out = NULL;
  int rc = MC_ENOMEM;
  mc_dtls_cert *c = calloc(1, sizeof *c);
  if (!c) goto fail;
  if (!(c->key = EVP_EC_gen("P-256"))) goto fail;
  if (!(c->x509 = X509_new())) goto fail;
  if (!X509_set_version(c->x509, X509_VERSION_3)) goto fail;
  if ((rc = set_random_serial(c->x509)) < 0) goto fail;
  rc = MC_ENOMEM;
  if (!X509_gmtime_adj(X509_getm_notBefore(c->x509), -CERT_BACKDATE_S)) goto fail;
  if (!X509_gmtime_adj(X509_getm_notAfter(c->x509), (long)CERT_VALID_DAYS * 24 * 3600)) goto fail;
  if (!X509_set_pubkey(c->x509, c->key)) goto fail;
  X509_NAME *name = X509_get_subject_name(c->x509);
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)CERT_CN, -1, -1, 0)) goto fail;
  if (!X509_set_issuer_name(c->x509, name)) goto fail;
  if (!X509_sign(c->x509, c->key, EVP_sha256())) goto fail;
  unsigned int n = 0;
  if (!X509_digest(c->x509, EVP_sha256(), c->fp_sha256, &n) || n != MC_DTLS_FP_SHA256_LEN) goto fail;
  if ((rc = mc_dtls_ctx_new(c->key, c->x509, &c->ctx)) < 0) goto fail;
  *out = c;
  return MC_OK;
fail:
  mc_dtls_cert_free(c);
  return rc;
}

void mc_dtls_cert_free(mc_dtls_cert *c) {
  if (!c) return;
  SSL_CTX_free(c->ctx);
  X509_free(c->x509);
  EVP_PKEY_free(c->key);
  free(c);
}

int mc_dtls_cert_fingerprint(const mc_dtls_cert *c, uint8_t out[MC_DTLS_FP_SHA256_LEN]) {
  if (!c || !out) return MC_EINVAL;
  memcpy(out, c->fp_sha256, MC_DTLS_FP_SHA256_LEN);
  return MC_OK;
}

/* RFC 8122 5: fingerprint = 2UHEX *(":" 2UHEX). */
int mc_dtls_fingerprint_format(const uint8_t *fp, size_t len, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  if (!fp || !out || len == 0 || len > MC_DTLS_FP_MAX) return MC_EINVAL;
  if (cap < 3 * len) {
    if (cap > 0) out[0] = '\0';
    return MC_ETOOBIG;
  }
  for (size_t i = 0; i < len; i++) {
    out[3 * i] = hex[fp[i] >> 4];
    out[3 * i + 1] = hex[fp[i] & 0x0f];
    out[3 * i + 2] = i + 1 < len ? ':' : '\0';
  }
  return MC_OK;
}
