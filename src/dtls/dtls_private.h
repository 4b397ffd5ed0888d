/* dtls: private to src/dtls. */
#ifndef MC_DTLS_PRIVATE_H
#define MC_DTLS_PRIVATE_H

#include <openssl/ssl.h>

#include "dtls/dtls.h"

struct mc_dtls_cert {
  EVP_PKEY *key;
  X509 *x509;
  /* The DTLS 1.2 settings every endpoint of this certificate shares, made
   * once with the certificate: SSL_CTX_new costs about 0.2 ms of CPU in
   * OpenSSL 3.0, a fifth of a whole in-process handshake. */
  SSL_CTX *ctx;
  uint8_t fp_sha256[MC_DTLS_FP_SHA256_LEN];
};

/* dtls.c: a context with our certificate, ciphers, groups and verify mode. */
int mc_dtls_ctx_new(EVP_PKEY *key, X509 *x509, SSL_CTX **out);

/* bio.c: a BIO that keeps datagram boundaries. Each write is one datagram
 * handed to send; a read returns the one datagram set with
 * mc_dtls_bio_set_input whole, then "retry" until the next one. */
struct mc_dtls_bio_io {
  void (*send)(const uint8_t *data, size_t len, void *user);
  void *user;
  const uint8_t *in;
  size_t in_len;
};
BIO_METHOD *mc_dtls_bio_method_new(void);
/* io is borrowed and must outlive the BIO. */
BIO *mc_dtls_bio_new(BIO_METHOD *m, struct mc_dtls_bio_io *io);

/* record.c: RFC 6347 4.1 record framing of one datagram, before OpenSSL
 * sees it. 0 when it is a sequence of whole DTLS 1.0/1.2 records (and, in
 * epoch 0, whole handshake fragments); MC_EPARSE otherwise. */
int mc_dtls_record_check(const uint8_t *buf, size_t len);

#define MC_DTLS_RECORD_HEADER_LEN 13
#define MC_DTLS_HANDSHAKE_HEADER_LEN 12

#endif
