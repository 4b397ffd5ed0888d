/* libFuzzer target: SRTP and SRTCP unprotect of arbitrary bytes with fixed
 * keys, for both profiles, on fresh sessions (so a seed that authenticates
 * does so on every run); protect of the same bytes as if they were our own
 * packet, which must then round-trip; and the RTP/RTCP demultiplexer.
 *
 * The seed corpus (corpus/srtp/) holds packets the client side protected
 * with these keys. To write it again:
 *   MC_FUZZ_SRTP_SEEDS=tests/fuzz/corpus/srtp build/tests/fuzz/fuzz_srtp tests/fuzz/corpus/srtp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srtp/srtp.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

#define MAX_INPUT 4096
#define MAX_GROWTH 20 /* GCM tag (16) + SRTCP index (4) */

static struct mc_dtls_srtp_keys fixed_keys(enum mc_dtls_srtp_profile p, bool we_are_client) {
  struct mc_dtls_srtp_keys k;
  memset(&k, 0, sizeof k);
  k.profile = p;
  k.key_len = 16;
  k.salt_len = p == MC_DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
  for (size_t i = 0; i < 16; i++) {
    k.client_key[i] = (uint8_t)(0x11 * i);
    k.server_key[i] = (uint8_t)(0xf0 - i);
  }
  for (size_t i = 0; i < 14; i++) {
    k.client_salt[i] = (uint8_t)(0x30 + i);
    k.server_salt[i] = (uint8_t)(0xa0 + i);
  }
  k.we_are_client = we_are_client;
  return k;
}

static mc_srtp *session(enum mc_dtls_srtp_profile p, bool client) {
  struct mc_dtls_srtp_keys k = fixed_keys(p, client);
  mc_srtp *s = NULL;
  FUZZ_ASSERT(mc_srtp_new(&k, &s) == MC_OK);
  return s;
}

/* ---- seed writer ---- */

static void write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(buf, 1, len, f);
  fclose(f);
}

static void write_seeds(const char *dir) {
  static const struct {
    enum mc_dtls_srtp_profile profile;
    const char *prefix;
  } profs[] = {{MC_DTLS_SRTP_AES128_CM_SHA1_80, "cm"}, {MC_DTLS_SRTP_AEAD_AES_128_GCM, "gcm"}};
  for (size_t i = 0; i < MC_ARRAY_LEN(profs); i++) {
    mc_srtp *tx = session(profs[i].profile, true);
    uint8_t b[256];
    size_t n, out;
    char name[64];

    /* Opus: PT 111, 40 bytes of payload */
    memset(b, 0, sizeof b);
    b[0] = 0x80;
    b[1] = 111;
    mc_put_be16(b + 2, 4321);
    mc_put_be32(b + 4, 960 * 17);
    mc_put_be32(b + 8, 0x0a0b0c0d);
    for (n = 12; n < 52; n++) b[n] = (uint8_t)(n * 5);
    FUZZ_ASSERT(mc_srtp_protect_rtp(tx, b, n, sizeof b, &out) == MC_OK);
    snprintf(name, sizeof name, "%s_rtp_opus", profs[i].prefix);
    write_seed(dir, name, b, out);

    /* VP8 with marker, one CSRC and a one-byte header extension (RFC 8285) */
    memset(b, 0, sizeof b);
    b[0] = 0x91;
    b[1] = 0x80 | 96;
    mc_put_be16(b + 2, 65535);
    mc_put_be32(b + 4, 90000);
    mc_put_be32(b + 8, 0x01020304);
    mc_put_be32(b + 12, 0x99887766);
    mc_put_be16(b + 16, 0xbede);
    mc_put_be16(b + 18, 1);
    b[20] = 0x12; /* id 1, 3 bytes: abs-send-time */
    b[21] = 1;
    b[22] = 2;
    b[23] = 3;
    for (n = 24; n < 124; n++) b[n] = (uint8_t)n;
    FUZZ_ASSERT(mc_srtp_protect_rtp(tx, b, n, sizeof b, &out) == MC_OK);
    snprintf(name, sizeof name, "%s_rtp_vp8_ext", profs[i].prefix);
    write_seed(dir, name, b, out);

    /* compound RTCP: SR without report blocks, then SDES CNAME */
    memset(b, 0, sizeof b);
    b[0] = 0x80;
    b[1] = 200;
    mc_put_be16(b + 2, 6);
    mc_put_be32(b + 4, 0x0a0b0c0d);
    for (n = 8; n < 28; n++) b[n] = (uint8_t)(n * 9);
    b[28] = 0x81;
    b[29] = 202;
    mc_put_be16(b + 30, 3);
    mc_put_be32(b + 32, 0x0a0b0c0d);
    b[36] = 1; /* CNAME */
    b[37] = 4;
    memcpy(b + 38, "mcfz", 4);
    b[42] = 0;
    b[43] = 0;
    n = 44;
    FUZZ_ASSERT(mc_srtp_protect_rtcp(tx, b, n, sizeof b, &out) == MC_OK);
    snprintf(name, sizeof name, "%s_rtcp_sr_sdes", profs[i].prefix);
    write_seed(dir, name, b, out);

    /* PLI (RFC 4585 6.3.1) */
    memset(b, 0, sizeof b);
    b[0] = 0x81;
    b[1] = 206;
    mc_put_be16(b + 2, 2);
    mc_put_be32(b + 4, 0x0a0b0c0d);
    mc_put_be32(b + 8, 0x01020304);
    n = 12;
    FUZZ_ASSERT(mc_srtp_protect_rtcp(tx, b, n, sizeof b, &out) == MC_OK);
    snprintf(name, sizeof name, "%s_rtcp_pli", profs[i].prefix);
    write_seed(dir, name, b, out);
    mc_srtp_free(tx);
  }
}

/* ---- target ---- */

static void unprotect_copy(mc_srtp *rx, bool rtcp, const uint8_t *data, size_t size) {
  /* an exact-size copy: any read or write past len is caught by ASan */
  uint8_t *buf = malloc(size ? size : 1);
  FUZZ_ASSERT(buf);
  memcpy(buf, data, size);
  size_t out = 0;
  int rc = rtcp ? mc_srtp_unprotect_rtcp(rx, buf, size, &out) : mc_srtp_unprotect_rtp(rx, buf, size, &out);
  FUZZ_ASSERT(rc == MC_OK || rc == MC_EAUTH || rc == MC_EPARSE);
  if (rc == MC_OK) FUZZ_ASSERT(out < size);
  free(buf);
}

/* Our own packet path: protect, then the peer's session takes it back. */
static void round_trip(mc_srtp *tx, mc_srtp *rx, bool rtcp, const uint8_t *data, size_t size) {
  size_t cap = size + MAX_GROWTH;
  uint8_t *buf = malloc(cap);
  FUZZ_ASSERT(buf);
  memcpy(buf, data, size);
  size_t out = 0;
  int rc = rtcp ? mc_srtp_protect_rtcp(tx, buf, size, cap, &out) : mc_srtp_protect_rtp(tx, buf, size, cap, &out);
  FUZZ_ASSERT(rc == MC_OK || rc == MC_EPARSE);
  if (rc == MC_OK) {
    FUZZ_ASSERT(out > size && out <= cap);
    size_t plain = 0;
    rc = rtcp ? mc_srtp_unprotect_rtcp(rx, buf, out, &plain) : mc_srtp_unprotect_rtp(rx, buf, out, &plain);
    FUZZ_ASSERT(rc == MC_OK);
    FUZZ_ASSERT(plain == size);
    FUZZ_ASSERT(memcmp(buf, data, size) == 0);
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool started;
  if (!started) {
    started = true;
    mc_log_set_level(MC_LOG_OFF);
    const char *dir = getenv("MC_FUZZ_SRTP_SEEDS");
    if (dir) write_seeds(dir);
  }
  if (size > MAX_INPUT) return 0;

  (void)mc_srtp_is_rtcp(data, size);

  static const enum mc_dtls_srtp_profile profiles[] = {MC_DTLS_SRTP_AES128_CM_SHA1_80,
                                                       MC_DTLS_SRTP_AEAD_AES_128_GCM};
  for (size_t i = 0; i < MC_ARRAY_LEN(profiles); i++) {
    mc_srtp *tx = session(profiles[i], true);
    mc_srtp *rx = session(profiles[i], false);
    unprotect_copy(rx, false, data, size);
    unprotect_copy(rx, true, data, size);
    mc_srtp_free(rx);
    /* a fresh receiver: the input itself may have used up its index */
    rx = session(profiles[i], false);
    round_trip(tx, rx, false, data, size);
    round_trip(tx, rx, true, data, size);
    mc_srtp_free(rx);
    mc_srtp_free(tx);
  }
  return 0;
}
