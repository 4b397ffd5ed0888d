/* libFuzzer target: compound RTCP parse (RFC 3550 6, RFC 4585, RFC 5104,
 * REMB, transport-wide CC) of arbitrary bytes. Every packet reported is
 * written back with its writer and must parse to the same fields (NACK as
 * the same set of sequence numbers, TWCC as the same statuses and arrival
 * differences). The RR statistics are fed the bytes as a packet trace too. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

struct one {
  bool seen;
  struct mc_rtcp_packet p;
};
static void take(const struct mc_rtcp_packet *p, void *user) {
  struct one *o = user;
  FUZZ_ASSERT(!o->seen);
  o->seen = true;
  o->p = *p;
}

static void reparse(const uint8_t *buf, size_t n, struct mc_rtcp_packet *out) {
  struct one o = {0};
  FUZZ_ASSERT(mc_rtcp_parse(buf, n, take, &o) == MC_OK && o.seen);
  *out = o.p;
}

static void nack_bits(const struct mc_rtcp_nack *nk, uint8_t *bits, uint16_t *seqs, size_t cap, size_t *count) {
  FUZZ_ASSERT(mc_rtcp_nack_seqs(nk, seqs, cap, count) == MC_OK);
  memset(bits, 0, 8192);
  for (size_t i = 0; i < *count; i++) bits[seqs[i] >> 3] |= (uint8_t)(1u << (seqs[i] & 7));
}

static void twcc_check(const struct mc_rtcp_twcc *t) {
  size_t n = t->status_count, got = 0;
  struct mc_twcc_status *a = calloc(n + 1, sizeof *a), *b = calloc(n + 1, sizeof *b);
  FUZZ_ASSERT(a && b);
  FUZZ_ASSERT(mc_rtcp_twcc_decode(t, a, n, &got) == MC_OK && got == n);
  if (n) {
    size_t cap = 20 + n * 3 + 16, len = 0;
    uint8_t *buf = malloc(cap);
    FUZZ_ASSERT(buf);
    FUZZ_ASSERT(mc_rtcp_write_twcc(t->sender_ssrc, t->media_ssrc, t->fb_count, a, n, buf, cap, &len) == MC_OK);
    struct mc_rtcp_packet q;
    reparse(buf, len, &q);
    FUZZ_ASSERT(q.kind == MC_RTCP_KIND_TWCC && q.u.twcc.base_seq == t->base_seq && q.u.twcc.status_count == n);
    FUZZ_ASSERT(mc_rtcp_twcc_decode(&q.u.twcc, b, n, &got) == MC_OK);
    int64_t shift = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
      FUZZ_ASSERT(a[i].seq == b[i].seq && a[i].received == b[i].received);
      if (!a[i].received) continue;
      if (first) shift = a[i].arrival_us - b[i].arrival_us, first = false;
      FUZZ_ASSERT(b[i].arrival_us + shift == a[i].arrival_us);
    }
    free(buf);
  }
  free(a);
  free(b);
}

static bool rb_equal(const struct mc_rtcp_report_block *a, const struct mc_rtcp_report_block *b, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (a[i].ssrc != b[i].ssrc || a[i].fraction_lost != b[i].fraction_lost ||
        a[i].cumulative_lost != b[i].cumulative_lost || a[i].highest_seq != b[i].highest_seq ||
        a[i].jitter != b[i].jitter || a[i].lsr != b[i].lsr || a[i].dlsr != b[i].dlsr)
      return false;
  return true;
}

static void check(const struct mc_rtcp_packet *p, void *user) {
  (void)user;
  static uint8_t buf[4096];
  static uint16_t s1[70000], s2[70000];
  static uint8_t b1[8192], b2[8192];
  size_t n = 0;
  struct mc_rtcp_packet q;
  FUZZ_ASSERT(p->raw_len >= 4 && p->raw_len % 4 == 0);
  switch (p->kind) {
  case MC_RTCP_KIND_SR:
    FUZZ_ASSERT(mc_rtcp_write_sr(&p->u.sr, buf, sizeof buf, &n) == MC_OK);
    reparse(buf, n, &q);
    FUZZ_ASSERT(q.kind == p->kind && q.u.sr.ssrc == p->u.sr.ssrc && q.u.sr.ntp == p->u.sr.ntp);
    FUZZ_ASSERT(q.u.sr.rtp_ts == p->u.sr.rtp_ts && q.u.sr.packet_count == p->u.sr.packet_count);
    FUZZ_ASSERT(q.u.sr.octet_count == p->u.sr.octet_count && q.u.sr.rb_count == p->u.sr.rb_count);
    FUZZ_ASSERT(rb_equal(q.u.sr.rb, p->u.sr.rb, p->u.sr.rb_count));
    break;
  case MC_RTCP_KIND_RR:
    FUZZ_ASSERT(mc_rtcp_write_rr(&p->u.rr, buf, sizeof buf, &n) == MC_OK);
    reparse(buf, n, &q);
    FUZZ_ASSERT(q.kind == p->kind && q.u.rr.ssrc == p->u.rr.ssrc && q.u.rr.rb_count == p->u.rr.rb_count);
    FUZZ_ASSERT(rb_equal(q.u.rr.rb, p->u.rr.rb, p->u.rr.rb_count));
    break;
  case MC_RTCP_KIND_SDES:
    for (unsigned c = 0; c < p->u.sdes.chunk_count; c++) {
      const uint8_t *cn = p->u.sdes.chunk[c].cname;
      size_t cl = p->u.sdes.chunk[c].cname_len;
      if (!cn || cl == 0 || memchr(cn, 0, cl)) continue;
      char name[256];
      memcpy(name, cn, cl);
      name[cl] = '\0';
      FUZZ_ASSERT(mc_rtcp_write_sdes_cname(p->u.sdes.chunk[c].ssrc, name, buf, sizeof buf, &n) == MC_OK);
      reparse(buf, n, &q);
      FUZZ_ASSERT(q.kind == p->kind && q.u.sdes.chunk_count == 1 && q.u.sdes.chunk[0].cname_len == cl);
      FUZZ_ASSERT(memcmp(q.u.sdes.chunk[0].cname, cn, cl) == 0);
    }
    break;
  case MC_RTCP_KIND_BYE: {
    char reason[256] = "";
    if (p->u.bye.reason) {
      if (memchr(p->u.bye.reason, 0, p->u.bye.reason_len)) break;
      memcpy(reason, p->u.bye.reason, p->u.bye.reason_len);
      reason[p->u.bye.reason_len] = '\0';
    }
    FUZZ_ASSERT(mc_rtcp_write_bye(p->u.bye.ssrc, p->u.bye.count, reason, buf, sizeof buf, &n) == MC_OK);
    reparse(buf, n, &q);
    FUZZ_ASSERT(q.kind == p->kind && q.u.bye.count == p->u.bye.count);
    FUZZ_ASSERT(memcmp(q.u.bye.ssrc, p->u.bye.ssrc, p->u.bye.count * 4u) == 0);
    FUZZ_ASSERT(q.u.bye.reason_len == strlen(reason));
    break;
  }
  case MC_RTCP_KIND_NACK: {
    size_t c1, c2;
    nack_bits(&p->u.nack, b1, s1, 70000, &c1);
    static uint8_t big[70000 * 4];
    FUZZ_ASSERT(mc_rtcp_write_nack(p->u.nack.sender_ssrc, p->u.nack.media_ssrc, s1, c1, big, sizeof big, &n) ==
                MC_OK);
    reparse(big, n, &q);
    FUZZ_ASSERT(q.kind == p->kind && q.u.nack.media_ssrc == p->u.nack.media_ssrc);
    FUZZ_ASSERT(q.u.nack.pair_count <= p->u.nack.pair_count);
    nack_bits(&q.u.nack, b2, s2, 70000, &c2);
    FUZZ_ASSERT(memcmp(b1, b2, sizeof b1) == 0);
    break;
  }
  case MC_RTCP_KIND_PLI:
    FUZZ_ASSERT(mc_rtcp_write_pli(p->u.pli.sender_ssrc, p->u.pli.media_ssrc, buf, sizeof buf, &n) == MC_OK);
    reparse(buf, n, &q);
    FUZZ_ASSERT(q.kind == p->kind && q.u.pli.sender_ssrc == p->u.pli.sender_ssrc && q.u.pli.media_ssrc == p->u.pli.media_ssrc);
    break;
  case MC_RTCP_KIND_FIR:
    FUZZ_ASSERT(mc_rtcp_write_fir(&p->u.fir, buf, sizeof buf, &n) == MC_OK);
    reparse(buf, n, &q);
    FUZZ_ASSERT(q.kind == p->kind && q.u.fir.sender_ssrc == p->u.fir.sender_ssrc && q.u.fir.count == p->u.fir.count);
    for (unsigned i = 0; i < p->u.fir.count; i++)
      FUZZ_ASSERT(q.u.fir.entry[i].ssrc == p->u.fir.entry[i].ssrc && q.u.fir.entry[i].seq_nr == p->u.fir.entry[i].seq_nr);
    break;
  case MC_RTCP_KIND_REMB:
    FUZZ_ASSERT(mc_rtcp_write_remb(&p->u.remb, buf, sizeof buf, &n) == MC_OK);
    reparse(buf, n, &q);
    FUZZ_ASSERT(q.kind == p->kind && q.u.remb.ssrc_count == p->u.remb.ssrc_count);
    if (p->u.remb.bitrate_bps != UINT64_MAX) FUZZ_ASSERT(q.u.remb.bitrate_bps == p->u.remb.bitrate_bps);
    break;
  case MC_RTCP_KIND_TWCC:
    twcc_check(&p->u.twcc);
    break;
  case MC_RTCP_KIND_OTHER:
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  (void)mc_rtcp_parse(data, size, check, NULL);

  /* receive statistics over the bytes read as (seq, ts, arrival) triples */
  struct mc_rtp_recv_stats s;
  mc_rtp_recv_stats_init(&s, 1, 90000);
  for (size_t i = 0; i + 8 <= size && i < 4096; i += 8)
    mc_rtp_recv_stats_update(&s, mc_get_be16(data + i), mc_get_be32(data + i + 2), 100,
                             (uint64_t)mc_get_be16(data + i + 6) * 1000 + i * 20000);
  struct mc_rtcp_report_block rb;
  if (mc_rtp_recv_stats_report_block(&s, 1000000000, &rb) == MC_OK) {
    uint8_t buf[64];
    size_t n;
    struct mc_rtcp_rr rr = {.ssrc = 2, .rb_count = 1};
    rr.rb[0] = rb;
    FUZZ_ASSERT(mc_rtcp_write_rr(&rr, buf, sizeof buf, &n) == MC_OK);
    FUZZ_ASSERT(mc_rtcp_parse(buf, n, NULL, NULL) == MC_OK);
  }
  return 0;
}
