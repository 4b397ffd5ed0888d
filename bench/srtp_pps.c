/* srtp_pps: packets per second through mc_srtp on one thread, for both
 * DTLS-SRTP profiles, 1200-byte RTP (a full video packet) and 100-byte RTCP
 * (a compound report). Each round protects a batch of packets on the
 * client's session and unprotects them on the server's, timing the two
 * halves apart; every packet is checked to come back intact.
 *
 *   build/bench/srtp_pps [-d SECONDS_PER_CASE]    (default 2) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include "srtp/srtp.h"
#include "util/util.h"

#define BATCH 256
#define ROOM 1500

static struct mc_dtls_srtp_keys bench_keys(enum mc_dtls_srtp_profile p, bool client) {
  struct mc_dtls_srtp_keys k;
  memset(&k, 0, sizeof k);
  k.profile = p;
  k.key_len = 16;
  k.salt_len = p == MC_DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
  mc_random_bytes(k.client_key, sizeof k.client_key);
  mc_random_bytes(k.server_key, sizeof k.server_key);
  mc_random_bytes(k.client_salt, sizeof k.client_salt);
  mc_random_bytes(k.server_salt, sizeof k.server_salt);
  k.we_are_client = client;
  return k;
}

static void make_packet(uint8_t *b, size_t len, bool rtcp, uint16_t seq) {
  for (size_t i = 0; i < len; i++) b[i] = (uint8_t)(i * 13 + 7);
  if (rtcp) {
    b[0] = 0x80; /* SR without blocks, then padding-free filler as one APP */
    b[1] = 200;
    mc_put_be16(b + 2, 6);
    mc_put_be32(b + 4, 0x1234abcd);
    b[28] = 0x80;
    b[29] = 204;
    mc_put_be16(b + 30, (uint16_t)((len - 28) / 4 - 1));
  } else {
    b[0] = 0x80;
    b[1] = 96;
    mc_put_be16(b + 2, seq);
    mc_put_be32(b + 4, 3000u * seq);
    mc_put_be32(b + 8, 0x1234abcd);
  }
}

struct result {
  double protect_pps, unprotect_pps, both_pps;
  unsigned long long packets, failures;
};

static int run_case(enum mc_dtls_srtp_profile p, bool rtcp, size_t len, double seconds, struct result *r) {
  mc_srtp *a = NULL, *b = NULL;
  struct mc_dtls_srtp_keys ka = bench_keys(p, true);
  struct mc_dtls_srtp_keys kb = ka;
  kb.we_are_client = false;
  if (mc_srtp_new(&ka, &a) < 0 || mc_srtp_new(&kb, &b) < 0) {
    mc_srtp_free(a);
    return -1;
  }
  explicit_bzero(&ka, sizeof ka);
  explicit_bzero(&kb, sizeof kb);

  static uint8_t pkts[BATCH][ROOM];
  static size_t lens[BATCH];
  uint8_t ref[ROOM];
  uint64_t t_protect = 0, t_unprotect = 0, start = mc_now_us();
  uint16_t seq = 1;
  memset(r, 0, sizeof *r);
  while (mc_now_us() - start < (uint64_t)(seconds * 1e6)) {
    uint16_t first = seq;
    for (int i = 0; i < BATCH; i++) make_packet(pkts[i], len, rtcp, seq++);
    uint64_t t0 = mc_now_us();
    for (int i = 0; i < BATCH; i++) {
      int rc = rtcp ? mc_srtp_protect_rtcp(a, pkts[i], len, ROOM, &lens[i])
                    : mc_srtp_protect_rtp(a, pkts[i], len, ROOM, &lens[i]);
      if (rc < 0) lens[i] = 0;
    }
    uint64_t t1 = mc_now_us();
    for (int i = 0; i < BATCH; i++) {
      size_t out = 0;
      int rc = lens[i] == 0 ? MC_EINVAL
               : rtcp       ? mc_srtp_unprotect_rtcp(b, pkts[i], lens[i], &out)
                            : mc_srtp_unprotect_rtp(b, pkts[i], lens[i], &out);
      lens[i] = rc == MC_OK ? out : 0;
    }
    uint64_t t2 = mc_now_us();
    t_protect += t1 - t0;
    t_unprotect += t2 - t1;
    for (int i = 0; i < BATCH; i++) {
      make_packet(ref, len, rtcp, (uint16_t)(first + i));
      if (lens[i] != len || memcmp(pkts[i], ref, len) != 0) r->failures++;
    }
    r->packets += BATCH;
  }
  r->protect_pps = t_protect ? r->packets / (t_protect / 1e6) : 0;
  r->unprotect_pps = t_unprotect ? r->packets / (t_unprotect / 1e6) : 0;
  r->both_pps = (t_protect + t_unprotect) ? r->packets / ((t_protect + t_unprotect) / 1e6) : 0;
  mc_srtp_free(a);
  mc_srtp_free(b);
  return 0;
}

int main(int argc, char **argv) {
  double seconds = 2.0;
  int opt;
  while ((opt = getopt(argc, argv, "d:")) != -1) {
    if (opt == 'd') seconds = atof(optarg);
    else {
      fprintf(stderr, "usage: %s [-d SECONDS_PER_CASE]\n", argv[0]);
      return 2;
    }
  }
  if (seconds <= 0) seconds = 2.0;
  mc_log_set_level(MC_LOG_WARN);

  static const struct {
    enum mc_dtls_srtp_profile profile;
    const char *name;
  } profiles[] = {{MC_DTLS_SRTP_AES128_CM_SHA1_80, "AES128_CM_SHA1_80"},
                  {MC_DTLS_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM"}};
  static const struct {
    bool rtcp;
    size_t len;
    const char *name;
  } kinds[] = {{false, 1200, "RTP 1200 B"}, {true, 100, "RTCP 100 B"}};

  printf("srtp_pps: %s, one thread, %.1f s per case\n\n", srtp_get_version_string(), seconds);
  printf("| profile | packet | protect pkt/s | unprotect pkt/s | protect+unprotect pkt/s | us per pair | Mbit/s through a pair |\n");
  printf("|---|---|---:|---:|---:|---:|---:|\n");
  int status = 0;
  for (size_t i = 0; i < MC_ARRAY_LEN(profiles); i++) {
    for (size_t j = 0; j < MC_ARRAY_LEN(kinds); j++) {
      struct result r;
      if (run_case(profiles[i].profile, kinds[j].rtcp, kinds[j].len, seconds, &r) < 0) {
        printf("| %s | %s | session set-up failed |\n", profiles[i].name, kinds[j].name);
        status = 1;
        continue;
      }
      printf("| %s | %s | %.0f | %.0f | %.0f | %.2f | %.0f |\n", profiles[i].name, kinds[j].name, r.protect_pps,
             r.unprotect_pps, r.both_pps, r.both_pps > 0 ? 1e6 / r.both_pps : 0,
             r.both_pps * kinds[j].len * 8 / 1e6);
      if (r.failures) {
        fprintf(stderr, "srtp_pps: %llu of %llu packets did not come back intact\n", r.failures, r.packets);
        status = 1;
      }
    }
  }
  return status;
}
