/* Unit tests for src/srtp: both DTLS-SRTP profiles between a client and a
 * server session with crosswise keys; tampering, replay, wrong keys, room
 * checks, rollover, RTP/RTCP demultiplexing, many SSRCs, and fixed vectors
 * computed outside libsrtp. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "srtp/srtp.h"
#include "util/util.h"

static const enum mc_dtls_srtp_profile profiles[] = {MC_DTLS_SRTP_AES128_CM_SHA1_80,
                                                     MC_DTLS_SRTP_AEAD_AES_128_GCM};

static size_t tag_len(enum mc_dtls_srtp_profile p) { return p == MC_DTLS_SRTP_AEAD_AES_128_GCM ? 16 : 10; }

static struct mc_dtls_srtp_keys make_keys(enum mc_dtls_srtp_profile p, bool we_are_client, uint8_t seed) {
  struct mc_dtls_srtp_keys k;
  memset(&k, 0, sizeof k);
  k.profile = p;
  k.key_len = 16;
  k.salt_len = p == MC_DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
  for (size_t i = 0; i < 16; i++) {
    k.client_key[i] = (uint8_t)(seed + i);
    k.server_key[i] = (uint8_t)(seed + 0x80 + i);
  }
  for (size_t i = 0; i < 14; i++) {
    k.client_salt[i] = (uint8_t)(seed + 0x40 + i);
    k.server_salt[i] = (uint8_t)(seed + 0xc0 + i);
  }
  k.we_are_client = we_are_client;
  return k;
}

/* Client A and server B of one association. */
static void pair_new(enum mc_dtls_srtp_profile p, mc_srtp **a, mc_srtp **b) {
  struct mc_dtls_srtp_keys ka = make_keys(p, true, 1), kb = make_keys(p, false, 1);
  CHECK_EQ_INT(mc_srtp_new(&ka, a), MC_OK);
  CHECK_EQ_INT(mc_srtp_new(&kb, b), MC_OK);
}

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t payload) {
  buf[0] = 0x80;
  buf[1] = 96;
  mc_put_be16(buf + 2, seq);
  mc_put_be32(buf + 4, 90000u * seq);
  mc_put_be32(buf + 8, ssrc);
  for (size_t i = 0; i < payload; i++) buf[12 + i] = (uint8_t)(i * 7 + seq);
  return 12 + payload;
}

/* A sender report with one report block: 52 bytes. */
static size_t make_rtcp_sr(uint8_t *buf, uint32_t ssrc) {
  memset(buf, 0, 52);
  buf[0] = 0x81;
  buf[1] = 200;
  mc_put_be16(buf + 2, 52 / 4 - 1);
  mc_put_be32(buf + 4, ssrc);
  for (size_t i = 8; i < 52; i++) buf[i] = (uint8_t)(i * 3 + ssrc);
  return 52;
}

static void test_round_trip(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL;
  pair_new(p, &a, &b);
  uint8_t orig[1500], buf[1500];
  size_t n = make_rtp(orig, 1000, 0x11223344, 160), out = 0;

  /* A to B */
  memcpy(buf, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, buf, n, sizeof buf, &out), MC_OK);
  CHECK_EQ_INT(out, n + tag_len(p));
  CHECK_MEM(buf, orig, 12);                      /* header in the clear */
  CHECK(memcmp(buf + 12, orig + 12, n - 12) != 0); /* payload encrypted */
  size_t plain = 0;
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, out, &plain), MC_OK);
  CHECK_EQ_INT(plain, n);
  CHECK_MEM(buf, orig, n);

  /* B to A: the other key pair */
  memcpy(buf, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtp(b, buf, n, sizeof buf, &out), MC_OK);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(a, buf, out, &plain), MC_OK);
  CHECK_EQ_INT(plain, n);
  CHECK_MEM(buf, orig, n);

  /* RTCP both ways */
  n = make_rtcp_sr(orig, 0x11223344);
  memcpy(buf, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtcp(a, buf, n, sizeof buf, &out), MC_OK);
  CHECK_EQ_INT(out, n + tag_len(p) + 4);
  CHECK_MEM(buf, orig, 8);
  CHECK(memcmp(buf + 8, orig + 8, n - 8) != 0);
  /* RFC 3711 3.4 (after the tag for AEAD, RFC 7714 9.1): E flag set */
  CHECK(buf[p == MC_DTLS_SRTP_AEAD_AES_128_GCM ? n + 16 : n] & 0x80);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, out, &plain), MC_OK);
  CHECK_EQ_INT(plain, n);
  CHECK_MEM(buf, orig, n);
  memcpy(buf, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtcp(b, buf, n, sizeof buf, &out), MC_OK);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(a, buf, out, &plain), MC_OK);
  CHECK_MEM(buf, orig, n);

  /* RTP with CSRCs and a header extension (RFC 8285 one-byte) */
  uint8_t ext[1500];
  ext[0] = 0x92; /* V=2, X=1, CC=2 */
  ext[1] = 111;
  mc_put_be16(ext + 2, 7);
  mc_put_be32(ext + 4, 1234);
  mc_put_be32(ext + 8, 0xabcdef01);
  mc_put_be32(ext + 12, 1);
  mc_put_be32(ext + 16, 2);
  mc_put_be16(ext + 20, 0xbede);
  mc_put_be16(ext + 22, 1);
  mc_put_be32(ext + 24, 0x10ff0000);
  for (size_t i = 28; i < 28 + 40; i++) ext[i] = (uint8_t)i;
  n = 68;
  memcpy(buf, ext, n);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, buf, n, sizeof buf, &out), MC_OK);
  CHECK_MEM(buf, ext, 28); /* whole header in the clear */
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, out, &plain), MC_OK);
  CHECK_EQ_INT(plain, n);
  CHECK_MEM(buf, ext, n);

  mc_srtp_free(a);
  mc_srtp_free(b);
}

/* Every single-bit change of a protected packet is refused, and refusals
 * leave the receiver able to take the genuine packet afterwards. */
static void test_bit_flips(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL;
  pair_new(p, &a, &b);
  uint8_t orig[200], prot[300], buf[300];
  size_t n = make_rtp(orig, 42, 0xcafe, 60), pn = 0, out = 0;
  memcpy(prot, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, prot, n, sizeof prot, &pn), MC_OK);
  int refused = 0, header_parse = 0;
  for (size_t bit = 0; bit < pn * 8; bit++) {
    memcpy(buf, prot, pn);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int rc = mc_srtp_unprotect_rtp(b, buf, pn, &out);
    if (rc == MC_EAUTH) refused++;
    /* version, CSRC count and X in byte 0 can make the header itself
     * unreadable: that is a parse refusal */
    else if (bit < 8 && rc == MC_EPARSE) header_parse++;
    else fprintf(stderr, "rtp bit %zu: rc %d\n", bit, rc);
  }
  CHECK_EQ_INT(refused + header_parse, (int)(pn * 8));
  CHECK(header_parse <= 8);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, pn, &out), MC_OK);
  CHECK_MEM(buf, orig, n);

  n = make_rtcp_sr(orig, 0xcafe);
  memcpy(prot, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtcp(a, prot, n, sizeof prot, &pn), MC_OK);
  refused = header_parse = 0;
  for (size_t bit = 0; bit < pn * 8; bit++) {
    memcpy(buf, prot, pn);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int rc = mc_srtp_unprotect_rtcp(b, buf, pn, &out);
    if (rc == MC_EAUTH) refused++;
    else if (bit < 8 && rc == MC_EPARSE) header_parse++;
    else fprintf(stderr, "rtcp bit %zu: rc %d\n", bit, rc);
  }
  CHECK_EQ_INT(refused + header_parse, (int)(pn * 8));
  CHECK(header_parse <= 2); /* only the version bits matter to RTCP's header check */
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, pn, &out), MC_OK);
  CHECK_MEM(buf, orig, n);

  /* truncation: a tag cut short */
  n = make_rtp(orig, 43, 0xcafe, 60);
  memcpy(buf, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, buf, n, sizeof buf, &pn), MC_OK);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, pn - 1, &out), MC_EAUTH);
  mc_srtp_free(a);
  mc_srtp_free(b);
}

static void test_replay(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL;
  pair_new(p, &a, &b);
  uint8_t orig[200], prot[300], buf[300];
  size_t n = make_rtp(orig, 7, 0x5151, 100), pn = 0, out = 0;
  memcpy(prot, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, prot, n, sizeof prot, &pn), MC_OK);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, pn, &out), MC_OK);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, pn, &out), MC_EAUTH);

  /* A sender may protect the same packet again (a retransmission); the
   * receiver still takes it once. */
  size_t n8 = make_rtp(orig, 8, 0x5151, 100), pn8a = 0, pn8b = 0;
  uint8_t first[300], again[300];
  memcpy(first, orig, n8);
  memcpy(again, orig, n8);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, first, n8, sizeof first, &pn8a), MC_OK);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, again, n8, sizeof again, &pn8b), MC_OK);
  CHECK_EQ_INT(pn8a, pn8b);
  CHECK_MEM(first, again, pn8a);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, first, pn8a, &out), MC_OK);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, again, pn8b, &out), MC_EAUTH);

  /* reordering inside the window is fine; far behind it is a replay */
  static uint8_t pkts[2100][160];
  static size_t lens[2100];
  for (uint16_t s = 100; s < 2100; s++) {
    size_t ln = make_rtp(pkts[s], s, 0x5151, 40);
    CHECK_EQ_INT(mc_srtp_protect_rtp(a, pkts[s], ln, sizeof pkts[s], &lens[s]), MC_OK);
  }
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, pkts[2099], lens[2099], &out), MC_OK);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, pkts[2000], lens[2000], &out), MC_OK);  /* 99 behind */
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, pkts[1200], lens[1200], &out), MC_OK);  /* 899 behind */
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, pkts[200], lens[200], &out), MC_EAUTH); /* 1899 behind */

  /* SRTCP replay */
  n = make_rtcp_sr(orig, 0x5151);
  memcpy(prot, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtcp(a, prot, n, sizeof prot, &pn), MC_OK);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, pn, &out), MC_OK);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, pn, &out), MC_EAUTH);

  /* SRTCP's replay window is 128 indexes (libsrtp's rdb) */
  static uint8_t reports[200][120];
  static size_t rlens[200];
  for (int i = 0; i < 200; i++) {
    size_t ln = make_rtcp_sr(reports[i], 0x5151);
    CHECK_EQ_INT(mc_srtp_protect_rtcp(a, reports[i], ln, sizeof reports[i], &rlens[i]), MC_OK);
  }
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, reports[199], rlens[199], &out), MC_OK);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, reports[100], rlens[100], &out), MC_OK); /* 99 behind */
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, reports[10], rlens[10], &out), MC_EAUTH); /* 189 behind */
  mc_srtp_free(a);
  mc_srtp_free(b);
}

static void test_wrong_keys(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL, *also_client = NULL, *stranger = NULL;
  pair_new(p, &a, &b);
  struct mc_dtls_srtp_keys k = make_keys(p, true, 1);
  CHECK_EQ_INT(mc_srtp_new(&k, &also_client), MC_OK);
  k = make_keys(p, false, 2);
  CHECK_EQ_INT(mc_srtp_new(&k, &stranger), MC_OK);

  uint8_t orig[200], prot[300], buf[300];
  size_t n = make_rtp(orig, 1, 0x77, 80), pn = 0, out = 0;
  memcpy(prot, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, prot, n, sizeof prot, &pn), MC_OK);
  /* a client's own packet back to a client: not its inbound key */
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(also_client, buf, pn, &out), MC_EAUTH);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(a, buf, pn, &out), MC_EAUTH);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(stranger, buf, pn, &out), MC_EAUTH);
  /* refusals create no state: the right receiver still takes it */
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, pn, &out), MC_OK);
  CHECK_MEM(buf, orig, n);

  n = make_rtcp_sr(orig, 0x77);
  memcpy(prot, orig, n);
  CHECK_EQ_INT(mc_srtp_protect_rtcp(a, prot, n, sizeof prot, &pn), MC_OK);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(also_client, buf, pn, &out), MC_EAUTH);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(stranger, buf, pn, &out), MC_EAUTH);
  memcpy(buf, prot, pn);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, pn, &out), MC_OK);

  mc_srtp_free(a);
  mc_srtp_free(b);
  mc_srtp_free(also_client);
  mc_srtp_free(stranger);
}

/* MC_ETOOBIG when cap is one short, with the buffer untouched; with the
 * exact room, nothing is written past cap. */
static void test_cap(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL;
  pair_new(p, &a, &b);
  uint8_t orig[200], buf[400], before[400];
  size_t out = 0;
  for (int rtcp = 0; rtcp <= 1; rtcp++) {
    size_t n = rtcp ? make_rtcp_sr(orig, 9) : make_rtp(orig, 9, 9, 100);
    size_t grow = tag_len(p) + (rtcp ? 4 : 0);
    memset(buf, 0xa5, sizeof buf);
    memcpy(buf, orig, n);
    memcpy(before, buf, sizeof buf);
    int rc = rtcp ? mc_srtp_protect_rtcp(a, buf, n, n + grow - 1, &out)
                  : mc_srtp_protect_rtp(a, buf, n, n + grow - 1, &out);
    CHECK_EQ_INT(rc, MC_ETOOBIG);
    CHECK_MEM(buf, before, sizeof buf);
    rc = rtcp ? mc_srtp_protect_rtcp(a, buf, n, n, &out) : mc_srtp_protect_rtp(a, buf, n, n, &out);
    CHECK_EQ_INT(rc, MC_ETOOBIG);
    rc = rtcp ? mc_srtp_protect_rtcp(a, buf, n, n + grow, &out) : mc_srtp_protect_rtp(a, buf, n, n + grow, &out);
    CHECK_EQ_INT(rc, MC_OK);
    CHECK_EQ_INT(out, n + grow);
    for (size_t i = n + grow; i < sizeof buf; i++) {
      if (buf[i] != 0xa5) {
        fprintf(stderr, "write past cap at %zu (rtcp %d)\n", i, rtcp);
        CHECK(buf[i] == 0xa5);
        break;
      }
    }
    size_t plain = 0;
    rc = rtcp ? mc_srtp_unprotect_rtcp(b, buf, out, &plain) : mc_srtp_unprotect_rtp(b, buf, out, &plain);
    CHECK_EQ_INT(rc, MC_OK);
    CHECK_MEM(buf, orig, n);
  }
  mc_srtp_free(a);
  mc_srtp_free(b);
}

/* RFC 3711 3.3.1: the rollover counter carries the index across 65535 -> 0. */
static void test_rollover(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL;
  pair_new(p, &a, &b);
  uint8_t orig[200], buf[300], last_before_wrap[300];
  size_t out = 0, plain = 0, lbw = 0;
  int ok = 0;
  uint16_t seq = 65500;
  for (int i = 0; i < 100; i++, seq++) {
    size_t n = make_rtp(orig, seq, 0xbeef, 50);
    memcpy(buf, orig, n);
    CHECK_EQ_INT(mc_srtp_protect_rtp(a, buf, n, sizeof buf, &out), MC_OK);
    if (seq == 65535) {
      memcpy(last_before_wrap, buf, out);
      lbw = out;
    }
    if (mc_srtp_unprotect_rtp(b, buf, out, &plain) == MC_OK && plain == n && memcmp(buf, orig, n) == 0) ok++;
  }
  CHECK_EQ_INT(ok, 100);
  CHECK_EQ_INT(seq, 64); /* it did wrap */
  /* the pre-wrap packet replayed after the wrap is still a replay */
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, last_before_wrap, lbw, &plain), MC_EAUTH);

  /* a packet from before the wrap that arrives late, after it, is taken */
  mc_srtp *c = NULL, *d = NULL;
  pair_new(p, &c, &d);
  uint8_t late[300];
  size_t late_len = 0, ln = make_rtp(orig, 65534, 0xbeef, 50);
  memcpy(late, orig, ln);
  CHECK_EQ_INT(mc_srtp_protect_rtp(c, late, ln, sizeof late, &late_len), MC_OK);
  for (uint16_t s = 65535, k = 0; k < 3; k++, s++) {
    size_t n = make_rtp(buf, s, 0xbeef, 50);
    CHECK_EQ_INT(mc_srtp_protect_rtp(c, buf, n, sizeof buf, &out), MC_OK);
    CHECK_EQ_INT(mc_srtp_unprotect_rtp(d, buf, out, &plain), MC_OK);
  }
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(d, late, late_len, &plain), MC_OK);
  CHECK_MEM(late, orig, ln);
  mc_srtp_free(c);
  mc_srtp_free(d);
  mc_srtp_free(a);
  mc_srtp_free(b);
}

/* One session serves every SSRC of the association (audio, video, RTX). */
static void test_many_ssrcs(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL;
  pair_new(p, &a, &b);
  enum { NSSRC = 40, ROUNDS = 5 };
  int ok = 0;
  for (int r = 0; r < ROUNDS; r++) {
    for (uint32_t i = 0; i < NSSRC; i++) {
      uint8_t orig[200], buf[300];
      uint32_t ssrc = 0x1000u + i * 0x01010101u;
      /* each SSRC has its own sequence space, some starting near the wrap */
      uint16_t seq = (uint16_t)(i * 1637u + (uint32_t)r);
      size_t n = make_rtp(orig, seq, ssrc, 30 + i), out = 0, plain = 0;
      memcpy(buf, orig, n);
      if (mc_srtp_protect_rtp(a, buf, n, sizeof buf, &out) != MC_OK) continue;
      if (mc_srtp_unprotect_rtp(b, buf, out, &plain) == MC_OK && plain == n && !memcmp(buf, orig, n)) ok++;
      n = make_rtcp_sr(orig, ssrc);
      memcpy(buf, orig, n);
      if (mc_srtp_protect_rtcp(b, buf, n, sizeof buf, &out) != MC_OK) continue;
      if (mc_srtp_unprotect_rtcp(a, buf, out, &plain) == MC_OK && plain == n && !memcmp(buf, orig, n)) ok++;
    }
  }
  CHECK_EQ_INT(ok, 2 * NSSRC * ROUNDS);
  mc_srtp_free(a);
  mc_srtp_free(b);
}

static void test_malformed(enum mc_dtls_srtp_profile p) {
  mc_srtp *a = NULL, *b = NULL;
  pair_new(p, &a, &b);
  uint8_t buf[300];
  size_t out = 0;
  memset(buf, 0, sizeof buf);
  buf[0] = 0x80;
  buf[1] = 96;
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, 0, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, 11, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, 12 + tag_len(p) - 1, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, buf, 11, sizeof buf, &out), MC_EPARSE);
  buf[0] = 0x8f; /* 15 CSRCs claimed: 72-byte header */
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, 40, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, buf, 40, sizeof buf, &out), MC_EPARSE);
  buf[0] = 0x90; /* extension whose length runs past the packet */
  mc_put_be16(buf + 12, 0xbede);
  mc_put_be16(buf + 14, 100);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, 60, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_srtp_protect_rtp(a, buf, 60, sizeof buf, &out), MC_EPARSE);
  buf[0] = 0x40; /* version 1 */
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, buf, 60, &out), MC_EPARSE);
  buf[0] = 0x80;
  buf[1] = 200;
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, 4, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, 8 + 4 + tag_len(p) - 1, &out), MC_EPARSE);
  CHECK_EQ_INT(mc_srtp_protect_rtcp(a, buf, 7, sizeof buf, &out), MC_EPARSE);
  /* long enough but garbage */
  CHECK_EQ_INT(mc_srtp_unprotect_rtcp(b, buf, 8 + 4 + tag_len(p), &out), MC_EAUTH);
  CHECK_EQ_INT(mc_srtp_protect_rtp(NULL, buf, 20, sizeof buf, &out), MC_EINVAL);
  CHECK_EQ_INT(mc_srtp_unprotect_rtp(b, NULL, 20, &out), MC_EINVAL);
  mc_srtp_free(a);
  mc_srtp_free(b);
}

static void test_bad_keys(void) {
  mc_srtp *s = (mc_srtp *)1;
  struct mc_dtls_srtp_keys k = make_keys(MC_DTLS_SRTP_AES128_CM_SHA1_80, true, 1);
  k.key_len = 32;
  CHECK_EQ_INT(mc_srtp_new(&k, &s), MC_EINVAL);
  CHECK(s == NULL);
  k = make_keys(MC_DTLS_SRTP_AES128_CM_SHA1_80, true, 1);
  k.salt_len = 12;
  CHECK_EQ_INT(mc_srtp_new(&k, &s), MC_EINVAL);
  k = make_keys(MC_DTLS_SRTP_AEAD_AES_128_GCM, true, 1);
  k.salt_len = 14;
  CHECK_EQ_INT(mc_srtp_new(&k, &s), MC_EINVAL);
  k.profile = MC_DTLS_SRTP_NONE;
  CHECK_EQ_INT(mc_srtp_new(&k, &s), MC_EINVAL);
  CHECK_EQ_INT(mc_srtp_new(NULL, &s), MC_EINVAL);
  mc_srtp_free(NULL);
}

static void test_is_rtcp(void) {
  uint8_t b[12] = {0x80, 0};
  b[1] = 200; /* SR: marker + PT 72 */
  CHECK(mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 201; /* RR: marker + PT 73 */
  CHECK(mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 192;
  CHECK(mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 223;
  CHECK(mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 205; /* RTPFB (NACK, TWCC) */
  CHECK(mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 206; /* PSFB (PLI) */
  CHECK(mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 0x80 | 96; /* VP8 with marker: 224 */
  CHECK(!mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 96;
  CHECK(!mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 111; /* Opus */
  CHECK(!mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 0x80 | 111;
  CHECK(!mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 191; /* marker + PT 63 */
  CHECK(!mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 72; /* PT 72 without the marker is not RTCP's byte */
  CHECK(!mc_srtp_is_rtcp(b, sizeof b));
  b[1] = 200;
  CHECK(!mc_srtp_is_rtcp(b, 7));
  CHECK(!mc_srtp_is_rtcp(NULL, 12));
  b[0] = 0x40; /* not version 2 */
  CHECK(!mc_srtp_is_rtcp(b, sizeof b));
}

/* ---- fixed vectors ----
 * Computed with an independent SRTP implementation (Python: the RFC 3711
 * 4.3 key derivation, AES-CM and HMAC-SHA1 from the `cryptography`
 * package, and RFC 7714 AES-GCM): a packet protected by the client with the
 * keys of make_keys(profile, true, 1). They pin the key || salt order and
 * the choice of client or server key, which a round trip between two of our
 * own sessions cannot see. */
static const uint8_t vec_rtp_plain[] = {
    0x80, 0x60, 0x03, 0xe8, 0x05, 0x5d, 0x4a, 0x80, 0x11, 0x22, 0x33, 0x44, 0xe8, 0xef, 0xf6, 0xfd,
    0x04, 0x0b, 0x12, 0x19, 0x20, 0x27, 0x2e, 0x35, 0x3c, 0x43, 0x4a, 0x51, 0x58, 0x5f, 0x66, 0x6d,
    0x74, 0x7b, 0x82, 0x89, 0x90, 0x97, 0x9e, 0xa5, 0xac, 0xb3, 0xba, 0xc1,
};
static const uint8_t vec_rtcp_plain[] = {
    0x81, 0xc8, 0x00, 0x0c, 0x11, 0x22, 0x33, 0x44, 0x5c, 0x5f, 0x62, 0x65, 0x68, 0x6b, 0x6e, 0x71,
    0x74, 0x77, 0x7a, 0x7d, 0x80, 0x83, 0x86, 0x89, 0x8c, 0x8f, 0x92, 0x95, 0x98, 0x9b, 0x9e, 0xa1,
    0xa4, 0xa7, 0xaa, 0xad, 0xb0, 0xb3, 0xb6, 0xb9, 0xbc, 0xbf, 0xc2, 0xc5, 0xc8, 0xcb, 0xce, 0xd1,
    0xd4, 0xd7, 0xda, 0xdd,
};
static const uint8_t vec_cm_rtp[] = {
    0x80, 0x60, 0x03, 0xe8, 0x05, 0x5d, 0x4a, 0x80, 0x11, 0x22, 0x33, 0x44, 0x47, 0xdf, 0x18, 0x08,
    0x76, 0x15, 0x66, 0x1d, 0x74, 0x59, 0xa3, 0x8a, 0x90, 0xa9, 0x43, 0xf9, 0xe1, 0x4f, 0xff, 0x16,
    0x8e, 0xfa, 0xb7, 0x53, 0x6e, 0x7b, 0xa0, 0xa2, 0xb4, 0xeb, 0x9a, 0x58, 0xc5, 0x65, 0x23, 0xd0,
    0xbb, 0xb4, 0x7d, 0xcd, 0x1a, 0xe1,
};
static const uint8_t vec_cm_rtcp[] = {
    0x81, 0xc8, 0x00, 0x0c, 0x11, 0x22, 0x33, 0x44, 0x0c, 0xe8, 0xff, 0x67, 0x95, 0x40, 0xfd, 0x68,
    0x93, 0x94, 0x34, 0x69, 0x95, 0x44, 0x1b, 0xe8, 0x88, 0x9e, 0x14, 0x56, 0xb2, 0x1c, 0x15, 0xde,
    0xcd, 0xd9, 0xa6, 0xe0, 0x84, 0xd8, 0x8c, 0x16, 0xc0, 0x79, 0x75, 0x53, 0x78, 0x92, 0x44, 0x5f,
    0xa2, 0x96, 0xb4, 0x23, 0x80, 0x00, 0x00, 0x01, 0x8c, 0x67, 0x8d, 0x71, 0x70, 0x5e, 0x26, 0x6d,
    0xb9, 0x14,
};
static const uint8_t vec_gcm_rtp[] = {
    0x80, 0x60, 0x03, 0xe8, 0x05, 0x5d, 0x4a, 0x80, 0x11, 0x22, 0x33, 0x44, 0x21, 0xf1, 0x64, 0x19,
    0x68, 0xd3, 0xd3, 0xc4, 0x62, 0xf2, 0xf9, 0x95, 0x04, 0xc2, 0xb3, 0x8a, 0x16, 0xc8, 0xd0, 0x34,
    0xb4, 0xd1, 0x26, 0xbd, 0x11, 0x60, 0x60, 0xcb, 0x9d, 0x71, 0x3c, 0xc7, 0xd2, 0x70, 0x24, 0xcf,
    0x39, 0x63, 0x42, 0x88, 0x30, 0xed, 0x7e, 0xf6, 0x24, 0x6e, 0x3b, 0xad,
};
static const uint8_t vec_gcm_rtcp[] = {
    0x81, 0xc8, 0x00, 0x0c, 0x11, 0x22, 0x33, 0x44, 0xf6, 0xda, 0x2b, 0x6e, 0xac, 0xf2, 0xce, 0x63,
    0xae, 0x05, 0x4f, 0x99, 0x85, 0xa1, 0xaf, 0xaa, 0x22, 0xfb, 0x1b, 0xd0, 0xa4, 0xa0, 0xde, 0x34,
    0x18, 0xf6, 0x74, 0x5a, 0xa2, 0xcd, 0x90, 0x82, 0xfd, 0xde, 0xaa, 0x22, 0x04, 0xb5, 0xe7, 0x52,
    0xe3, 0x9e, 0x33, 0xee, 0x67, 0x3f, 0x72, 0x00, 0xf6, 0xf4, 0x6d, 0x94, 0xf5, 0x5f, 0x0c, 0x1d,
    0x14, 0x41, 0xfa, 0x28, 0x80, 0x00, 0x00, 0x01,
};


struct srtp_vector {
  enum mc_dtls_srtp_profile profile;
  bool rtcp;
  const uint8_t *plain, *prot;
  size_t plain_len, prot_len;
};

/* SRTCP vectors are for index 1: libsrtp numbers a stream's first SRTCP
 * packet 1. */
static const struct srtp_vector srtp_vectors[] = {
    {MC_DTLS_SRTP_AES128_CM_SHA1_80, false, vec_rtp_plain, vec_cm_rtp, sizeof vec_rtp_plain, sizeof vec_cm_rtp},
    {MC_DTLS_SRTP_AES128_CM_SHA1_80, true, vec_rtcp_plain, vec_cm_rtcp, sizeof vec_rtcp_plain, sizeof vec_cm_rtcp},
    {MC_DTLS_SRTP_AEAD_AES_128_GCM, false, vec_rtp_plain, vec_gcm_rtp, sizeof vec_rtp_plain, sizeof vec_gcm_rtp},
    {MC_DTLS_SRTP_AEAD_AES_128_GCM, true, vec_rtcp_plain, vec_gcm_rtcp, sizeof vec_rtcp_plain, sizeof vec_gcm_rtcp},
};

static void test_vectors(void) {
  for (size_t i = 0; i < MC_ARRAY_LEN(srtp_vectors); i++) {
    const struct srtp_vector *v = &srtp_vectors[i];
    mc_srtp *a = NULL, *b = NULL;
    pair_new(v->profile, &a, &b);
    uint8_t buf[512];
    size_t out = 0;
    memcpy(buf, v->plain, v->plain_len);
    int rc = v->rtcp ? mc_srtp_protect_rtcp(a, buf, v->plain_len, sizeof buf, &out)
                     : mc_srtp_protect_rtp(a, buf, v->plain_len, sizeof buf, &out);
    CHECK_EQ_INT(rc, MC_OK);
    CHECK_EQ_INT(out, v->prot_len);
    CHECK_MEM(buf, v->prot, v->prot_len);
    memcpy(buf, v->prot, v->prot_len);
    rc = v->rtcp ? mc_srtp_unprotect_rtcp(b, buf, v->prot_len, &out) : mc_srtp_unprotect_rtp(b, buf, v->prot_len, &out);
    CHECK_EQ_INT(rc, MC_OK);
    CHECK_EQ_INT(out, v->plain_len);
    CHECK_MEM(buf, v->plain, v->plain_len);
    mc_srtp_free(a);
    mc_srtp_free(b);
  }
}

int main(void) {
  mc_log_set_level(MC_LOG_WARN);
  for (size_t i = 0; i < MC_ARRAY_LEN(profiles); i++) {
    test_round_trip(profiles[i]);
    test_bit_flips(profiles[i]);
    test_replay(profiles[i]);
    test_wrong_keys(profiles[i]);
    test_cap(profiles[i]);
    test_rollover(profiles[i]);
    test_many_ssrcs(profiles[i]);
    test_malformed(profiles[i]);
  }
  test_bad_keys();
  test_is_rtcp();
  test_vectors();
  return CHECK_DONE();
}
