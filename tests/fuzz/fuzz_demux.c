/* libFuzzer target: RFC 7983 classification of arbitrary datagrams, and a
 * DTLS endpoint fed the ones classified as DTLS.
 *
 * Input: one flags byte (bit 0: the endpoint is a client, else a server;
 * bit 1: MTU 256 instead of 1200; bit 2: no use_srtp), then datagrams,
 * each a 2-byte big-endian length and that many bytes; a length past the
 * end takes what is left. */
#include <stdlib.h>
#include <string.h>

#include "dtls/dtls.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

struct events {
  size_t mtu;
  bool handshaking;
  int connected, failed, closed;
};

static void on_send(const uint8_t *data, size_t len, void *user) {
  struct events *e = user;
  FUZZ_ASSERT(data != NULL && len > 0);
  /* handshake flights never exceed the MTU */
  if (e->handshaking) FUZZ_ASSERT(len <= e->mtu);
  FUZZ_ASSERT(!e->failed);
}
static void on_connected(void *user) {
  struct events *e = user;
  FUZZ_ASSERT(!e->failed && !e->connected);
  e->connected++;
  e->handshaking = false;
}
static void on_data(const uint8_t *data, size_t len, void *user) {
  struct events *e = user;
  FUZZ_ASSERT(e->connected && !e->failed);
  FUZZ_ASSERT(data != NULL && len <= MC_DTLS_MAX_RECORD);
}
static void on_closed(void *user) {
  struct events *e = user;
  FUZZ_ASSERT(!e->failed && !e->closed);
  e->closed++;
}
static void on_failed(int err, const char *sentence, void *user) {
  struct events *e = user;
  FUZZ_ASSERT(!e->failed && !e->closed);
  FUZZ_ASSERT(err == MC_ETLS || err == MC_ETIMEDOUT);
  FUZZ_ASSERT(sentence != NULL && sentence[0] != '\0');
  e->failed++;
  e->handshaking = false;
}

static mc_dtls_cert *cert; /* generated once: key generation is slow */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!cert) {
    mc_log_set_level(MC_LOG_ERROR); /* a failed handshake per input is expected */
    if (mc_dtls_cert_generate(&cert) != 0) abort();
  }
  if (size < 1) return 0;
  uint8_t flags = data[0];
  data++, size--;

  struct events ev = {.mtu = (flags & 2) ? 256 : MC_DTLS_DEFAULT_MTU, .handshaking = true};
  uint8_t fp[MC_DTLS_FP_SHA256_LEN];
  mc_dtls_cert_fingerprint(cert, fp);
  struct mc_dtls_config c = {
      .role = (flags & 1) ? MC_DTLS_CLIENT : MC_DTLS_SERVER,
      .cert = cert,
      .remote_fp_algorithm = "sha-256",
      .remote_fp = fp,
      .remote_fp_len = sizeof fp,
      .mtu = ev.mtu,
      .use_srtp = !(flags & 4),
  };
  struct mc_dtls_callbacks cbs = {on_send, on_connected, on_data, on_closed, on_failed};
  mc_dtls *d = NULL;
  if (mc_dtls_new(&c, &cbs, &ev, &d) != 0) abort();
  FUZZ_ASSERT(mc_dtls_start(d) == 0);

  while (size > 0) {
    size_t len = size >= 2 ? (size_t)((data[0] << 8) | data[1]) : size;
    size_t hdr = size >= 2 ? 2 : 0;
    if (len > size - hdr) len = size - hdr;
    const uint8_t *dg = data + hdr;
    enum mc_demux k = mc_demux_classify(dg, len);
    FUZZ_ASSERT(k == MC_DEMUX_DROP || k == MC_DEMUX_STUN || k == MC_DEMUX_ZRTP || k == MC_DEMUX_DTLS ||
                k == MC_DEMUX_TURN_CHANNEL || k == MC_DEMUX_RTP);
    if (len == 0) FUZZ_ASSERT(k == MC_DEMUX_DROP);
    if (k == MC_DEMUX_DTLS) {
      FUZZ_ASSERT(dg[0] >= 20 && dg[0] <= 63);
      /* copied so ASan sees any read past the datagram */
      uint8_t *copy = malloc(len);
      if (!copy) abort();
      memcpy(copy, dg, len);
      int rc = mc_dtls_receive(d, copy, len);
      free(copy);
      FUZZ_ASSERT(rc == 0 || rc == MC_EPARSE || rc == MC_ETLS || rc == MC_ECLOSED);
    }
    data += hdr + len;
    size -= hdr + len;
  }
  (void)mc_dtls_timeout_ms(d);
  enum mc_dtls_state st = mc_dtls_state(d);
  FUZZ_ASSERT(st != MC_DTLS_STATE_NEW);
  if (st == MC_DTLS_STATE_CONNECTED) {
    static const uint8_t ping[] = "ping";
    FUZZ_ASSERT(mc_dtls_send(d, ping, sizeof ping) == 0);
  }
  mc_dtls_close(d);
  mc_dtls_free(d);
  return 0;
}
