/* A datagram BIO for OpenSSL's DTLS. A memory BIO would merge the records
 * OpenSSL writes into one byte stream and lose the datagram boundaries the
 * MTU is about; here every BIO_write is one record of at most the MTU
 * (OpenSSL writes each handshake fragment as its own record) and goes out
 * as one datagram at once, and every received datagram is read whole, so
 * the record layer (RFC 6347 4.1.1) sees exactly what the peer sent. */
#include <string.h>

#include "dtls/dtls_private.h"

static int bio_write(BIO *b, const char *in, int inl) {
  struct mc_dtls_bio_io *io = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (!io || inl <= 0) return 0;
  if (io->send) io->send((const uint8_t *)in, (size_t)inl, io->user);
  return inl;
}

static int bio_read(BIO *b, char *out, int outl) {
  struct mc_dtls_bio_io *io = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (!io || !io->in) {
    BIO_set_retry_read(b);
    return -1;
  }
  /* A datagram longer than OpenSSL's buffer is cut, as recvfrom would cut
   * it; OpenSSL then drops the partial record. */
  size_t cap = outl > 0 ? (size_t)outl : 0;
  size_t n = io->in_len < cap ? io->in_len : cap;
  memcpy(out, io->in, n);
  io->in = NULL;
  io->in_len = 0;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  struct mc_dtls_bio_io *io = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_FLUSH: return 1;
  case BIO_CTRL_PENDING: return io && io->in ? (long)io->in_len : 0;
  case BIO_CTRL_WPENDING: return 0; /* nothing is ever held back */
  /* The MTU is the caller's (SSL_OP_NO_QUERY_MTU): no socket to ask, and
   * no IP/UDP overhead to subtract from a payload size. */
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
  case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
  case BIO_CTRL_DGRAM_MTU_EXCEEDED:
  default: return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  BIO_set_data(b, NULL);
  return 1;
}

static int bio_destroy(BIO *b) {
  if (b) BIO_set_data(b, NULL);
  return 1;
}

BIO_METHOD *mc_dtls_bio_method_new(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "medcall dtls datagram");
  if (!m) return NULL;
  if (!BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) || !BIO_meth_set_ctrl(m, bio_ctrl) ||
      !BIO_meth_set_create(m, bio_create) || !BIO_meth_set_destroy(m, bio_destroy)) {
    BIO_meth_free(m);
    return NULL;
  }
  return m;
}

BIO *mc_dtls_bio_new(BIO_METHOD *m, struct mc_dtls_bio_io *io) {
  BIO *b = BIO_new(m);
  if (b) BIO_set_data(b, io);
  return b;
}
