/* Unit tests for src/rtp: RTP and RTCP codecs (byte-exact vectors built by
 * hand from the RFC layouts, round trips, lying lengths), receive
 * statistics, VP8 and Opus payloads, the video and audio jitter buffers,
 * NACK answered by RTX end to end, and transport-wide CC feedback. Every
 * clock is fake. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rtp/rtp.h"
#include "util/util.h"

/* ---------------------------------------------------------------- RTP */

/* A VP8 key frame's first packet as Chromium sends it (layout per RFC
 * 3550 5.1, RFC 8285 4.2, RFC 7741 4.2): PT 96, one-byte extensions
 * abs-send-time (id 2), transport-wide seq (id 3), mid (id 4), 15-bit
 * picture id, then the VP8 payload header of a key frame (P bit 0) with
 * its start code 9d 01 2a and 640x480. */
static const uint8_t chromium_vp8[] = {
    0x90, 0x60, 0x12, 0x34,             /* V=2 X=1, PT 96, seq 0x1234 */
    0x5e, 0x1f, 0x8a, 0x40,             /* ts */
    0xd2, 0x04, 0x16, 0x2e,             /* ssrc */
    0xbe, 0xde, 0x00, 0x03,             /* one-byte profile, 3 words */
    0x22, 0x06, 0x00, 0x00,             /* id 2 len 3: abs-send-time 1.5 s */
    0x31, 0x00, 0x2a,                   /* id 3 len 2: twcc seq 42 */
    0x40, 0x30,                         /* id 4 len 1: mid "0" */
    0x00, 0x00, 0x00,                   /* padding to 32 bits */
    0x90, 0x80, 0x81, 0x23,             /* X S PartID 0 | I | M picture id 0x0123 */
    0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, /* VP8 header: key frame, start code */
    0x80, 0x02, 0xe0, 0x01,             /* 640 x 480 */
    0xaa, 0xbb, 0xcc,
};

static void test_rtp_vector(void) {
  struct mc_rtp_packet p;
  CHECK_EQ_INT(mc_rtp_parse(chromium_vp8, sizeof chromium_vp8, &p), MC_OK);
  CHECK(!p.h.marker);
  CHECK_EQ_INT(p.h.pt, 96);
  CHECK_EQ_INT(p.h.seq, 0x1234);
  CHECK_EQ_INT(p.h.ts, 0x5e1f8a40);
  CHECK_EQ_INT(p.h.ssrc, 0xd204162e);
  CHECK_EQ_INT(p.h.ext_profile, MC_RTP_EXT_PROFILE_ONE_BYTE);
  CHECK_EQ_INT(p.h.ext_count, 3);
  CHECK_EQ_INT(p.payload_len, 17);
  CHECK_EQ_INT(p.padding_len, 0);
  uint32_t ast = 0;
  CHECK_EQ_INT(mc_rtp_ext_get_abs_send_time(&p.h, 2, &ast), MC_OK);
  CHECK_EQ_INT(ast, 0x060000);
  CHECK_EQ_INT(mc_rtp_abs_send_time_from_us(1500000), 0x060000);
  CHECK_EQ_INT(mc_rtp_abs_send_time_from_us(64000000 + 1500000), 0x060000); /* wraps every 64 s */
  uint16_t tw = 0;
  CHECK_EQ_INT(mc_rtp_ext_get_twcc_seq(&p.h, 3, &tw), MC_OK);
  CHECK_EQ_INT(tw, 42);
  char mid[8];
  CHECK_EQ_INT(mc_rtp_ext_get_mid(&p.h, 4, mid, sizeof mid), MC_OK);
  CHECK_STR(mid, "0");
  CHECK_EQ_INT(mc_rtp_ext_get_mid(&p.h, 4, mid, 1), MC_ETOOBIG);
  CHECK_EQ_INT(mc_rtp_ext_get_mid(&p.h, 5, mid, sizeof mid), MC_ENOTFOUND);
  CHECK_EQ_INT(mc_rtp_ext_get_twcc_seq(&p.h, 2, &tw), MC_EPARSE); /* wrong size */

  /* write(parse(x)) == x */
  uint8_t out[256];
  size_t n = 0;
  CHECK_EQ_INT(mc_rtp_write(&p, out, sizeof out, &n), MC_OK);
  CHECK_EQ_INT(n, sizeof chromium_vp8);
  CHECK_MEM(out, chromium_vp8, sizeof chromium_vp8);
  CHECK_EQ_INT(mc_rtp_write_len(&p), sizeof chromium_vp8);
  CHECK_EQ_INT(mc_rtp_write(&p, out, sizeof chromium_vp8 - 1, &n), MC_ETOOBIG);

  /* the VP8 descriptor of it */
  struct mc_vp8_descriptor d;
  CHECK_EQ_INT(mc_vp8_parse_descriptor(p.payload, p.payload_len, &d), MC_OK);
  CHECK(d.start && d.frame_start && d.keyframe && d.has_picture_id && d.picture_id_15);
  CHECK_EQ_INT(d.picture_id, 0x0123);
  CHECK_EQ_INT(d.header_len, 4);

  /* the builder side: same packet from fields */
  struct mc_rtp_packet q;
  memset(&q, 0, sizeof q);
  q.h.pt = 96;
  q.h.seq = 0x1234;
  q.h.ts = 0x5e1f8a40;
  q.h.ssrc = 0xd204162e;
  uint8_t abs[3], tws[2];
  mc_rtp_abs_send_time_encode(mc_rtp_abs_send_time_from_us(1500000), abs);
  mc_rtp_twcc_seq_encode(42, tws);
  CHECK_EQ_INT(mc_rtp_ext_set(&q.h, 2, abs, 3), MC_OK);
  CHECK_EQ_INT(mc_rtp_ext_set(&q.h, 3, tws, 2), MC_OK);
  CHECK_EQ_INT(mc_rtp_ext_set(&q.h, 4, (const uint8_t *)"0", 1), MC_OK);
  q.payload = chromium_vp8 + 28;
  q.payload_len = sizeof chromium_vp8 - 28;
  CHECK_EQ_INT(mc_rtp_write(&q, out, sizeof out, &n), MC_OK);
  CHECK_EQ_INT(n, sizeof chromium_vp8);
  CHECK_MEM(out, chromium_vp8, sizeof chromium_vp8);

  /* rewriting the transport-wide seq in place */
  uint8_t copy[sizeof chromium_vp8];
  memcpy(copy, chromium_vp8, sizeof copy);
  mc_rtp_twcc_seq_encode(0xbeef, tws);
  CHECK_EQ_INT(mc_rtp_ext_rewrite(copy, sizeof copy, 3, tws, 2), MC_OK);
  CHECK_EQ_INT(copy[21], 0xbe);
  CHECK_EQ_INT(copy[22], 0xef);
  CHECK_EQ_INT(mc_rtp_ext_rewrite(copy, sizeof copy, 3, tws, 1), MC_ENOTFOUND);
  CHECK_EQ_INT(mc_rtp_ext_rewrite(copy, sizeof copy, 9, tws, 2), MC_ENOTFOUND);
}

static bool headers_equal(const struct mc_rtp_packet *a, const struct mc_rtp_packet *b) {
  if (a->h.marker != b->h.marker || a->h.pt != b->h.pt || a->h.seq != b->h.seq || a->h.ts != b->h.ts ||
      a->h.ssrc != b->h.ssrc || a->h.csrc_count != b->h.csrc_count || a->h.ext_count != b->h.ext_count ||
      a->payload_len != b->payload_len || a->padding_len != b->padding_len)
    return false;
  for (unsigned i = 0; i < a->h.csrc_count; i++)
    if (a->h.csrc[i] != b->h.csrc[i]) return false;
  for (unsigned i = 0; i < a->h.ext_count; i++)
    if (a->h.ext[i].id != b->h.ext[i].id || a->h.ext[i].len != b->h.ext[i].len ||
        (a->h.ext[i].len && memcmp(a->h.ext[i].data, b->h.ext[i].data, a->h.ext[i].len)))
      return false;
  return a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0;
}

static void test_rtp_roundtrip(void) {
  uint8_t payload[100], big[40], buf[512];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7);
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(0xa0 + i);
  struct mc_rtp_packet p, q;
  size_t n;

  /* CSRCs, marker, padding, two-byte extensions (len 0, len 17 and id 200
   * do not fit the one-byte form) */
  memset(&p, 0, sizeof p);
  p.h.marker = true;
  p.h.pt = 111;
  p.h.seq = 65535;
  p.h.ts = 0xffffffff;
  p.h.ssrc = 1;
  p.h.csrc_count = 3;
  p.h.csrc[0] = 10, p.h.csrc[1] = 20, p.h.csrc[2] = 0xffffffff;
  CHECK_EQ_INT(mc_rtp_ext_set(&p.h, 1, big, 0), MC_OK);
  CHECK_EQ_INT(mc_rtp_ext_set(&p.h, 200, big, 17), MC_OK);
  CHECK_EQ_INT(mc_rtp_ext_set(&p.h, 7, big, 2), MC_OK);
  p.payload = payload;
  p.payload_len = sizeof payload;
  p.padding_len = 7;
  CHECK_EQ_INT(mc_rtp_write(&p, buf, sizeof buf, &n), MC_OK);
  CHECK_EQ_INT(mc_get_be16(buf + 12 + 12), MC_RTP_EXT_PROFILE_TWO_BYTE);
  CHECK_EQ_INT(buf[n - 1], 7);
  CHECK_EQ_INT(mc_rtp_parse(buf, n, &q), MC_OK);
  CHECK(headers_equal(&p, &q));
  CHECK_EQ_INT(q.h.ext_profile, MC_RTP_EXT_PROFILE_TWO_BYTE);

  /* one-byte extension with maximum length 16, no payload */
  memset(&p, 0, sizeof p);
  p.h.pt = 0;
  CHECK_EQ_INT(mc_rtp_ext_set(&p.h, 14, big, 16), MC_OK);
  CHECK_EQ_INT(mc_rtp_write(&p, buf, sizeof buf, &n), MC_OK);
  CHECK_EQ_INT(mc_get_be16(buf + 12), MC_RTP_EXT_PROFILE_ONE_BYTE);
  CHECK_EQ_INT(n, 12 + 4 + 20);
  CHECK_EQ_INT(mc_rtp_parse(buf, n, &q), MC_OK);
  CHECK(headers_equal(&p, &q));
  /* forcing one-byte with an element that does not fit it */
  p.h.ext_profile = MC_RTP_EXT_PROFILE_ONE_BYTE;
  CHECK_EQ_INT(mc_rtp_ext_set(&p.h, 3, big, 17), MC_OK);
  CHECK_EQ_INT(mc_rtp_write(&p, buf, sizeof buf, &n), MC_EINVAL);
  p.h.pt = 128;
  CHECK_EQ_INT(mc_rtp_write(&p, buf, sizeof buf, &n), MC_EINVAL);

  /* id 15 ends a one-byte block (RFC 8285 4.2), id 0 bytes are padding */
  const uint8_t stop[] = {0x90, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 2,
                          0x00, 0x10, 0x55, 0xf0, 0x20, 0x66, 0, 0, 0xee};
  CHECK_EQ_INT(mc_rtp_parse(stop, sizeof stop, &q), MC_OK);
  CHECK_EQ_INT(q.h.ext_count, 1);
  CHECK_EQ_INT(q.h.ext[0].id, 1);
  CHECK_EQ_INT(q.h.ext[0].data[0], 0x55);
  CHECK_EQ_INT(q.payload_len, 1);

  /* an opaque (non RFC 8285) profile is carried through */
  const uint8_t opaque[] = {0x90, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x12, 0x34, 0, 1, 1, 2, 3, 4, 9};
  CHECK_EQ_INT(mc_rtp_parse(opaque, sizeof opaque, &q), MC_OK);
  CHECK_EQ_INT(q.h.ext_profile, 0x1234);
  CHECK_EQ_INT(q.h.ext_raw_len, 4);
  CHECK_EQ_INT(mc_rtp_write(&q, buf, sizeof buf, &n), MC_OK);
  CHECK_EQ_INT(n, sizeof opaque);
  CHECK_MEM(buf, opaque, sizeof opaque);
}

static void test_rtp_malformed(void) {
  struct mc_rtp_packet q;
  uint8_t b[64];
  /* every truncation of the Chromium packet's header fails */
  for (size_t i = 0; i < 28; i++) CHECK(mc_rtp_parse(chromium_vp8, i, &q) < 0);
  memcpy(b, chromium_vp8, 40);
  b[0] = 0x50; /* version 1 */
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_EPARSE);
  memcpy(b, chromium_vp8, 40);
  b[15] = 9; /* extension says 9 words */
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_EPARSE);
  memcpy(b, chromium_vp8, 40);
  b[15] = 0xff;
  b[14] = 0xff;
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_EPARSE);
  memcpy(b, chromium_vp8, 40);
  b[0] = 0x9f; /* 15 CSRCs in 40 bytes */
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_EPARSE);
  memcpy(b, chromium_vp8, 40);
  b[23] = 0x4f; /* mid element says 16 bytes, block has 5 left */
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_EPARSE);
  /* padding count 0, and larger than the payload */
  memcpy(b, chromium_vp8, 40);
  b[0] |= 0x20;
  b[39] = 0;
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_EPARSE);
  b[39] = 13;
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_EPARSE);
  b[39] = 12; /* the whole payload is padding: allowed */
  CHECK_EQ_INT(mc_rtp_parse(b, 40, &q), MC_OK);
  CHECK_EQ_INT(q.payload_len, 0);
  /* two-byte element running past its block */
  const uint8_t two[] = {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0, 1, 5, 3, 1, 2};
  CHECK_EQ_INT(mc_rtp_parse(two, sizeof two, &q), MC_EPARSE);
}

static void test_seq_wrap(void) {
  CHECK(mc_rtp_seq_newer(0, 65535));
  CHECK(mc_rtp_seq_newer(5, 65000));
  CHECK(!mc_rtp_seq_newer(65535, 0));
  CHECK(!mc_rtp_seq_newer(7, 7));
  CHECK(mc_rtp_ts_newer(10, 0xfffffff0u));
  CHECK(!mc_rtp_ts_newer(0xfffffff0u, 10));
  int64_t last = 0;
  bool valid = false;
  CHECK_EQ_INT(mc_rtp_seq_unwrap(&last, &valid, 65534), 65534);
  CHECK_EQ_INT(mc_rtp_seq_unwrap(&last, &valid, 1), 65537);
  CHECK_EQ_INT(mc_rtp_seq_unwrap(&last, &valid, 65535), 65535); /* late, before the wrap */
  CHECK_EQ_INT(mc_rtp_seq_unwrap(&last, &valid, 2), 65538);
  CHECK_EQ_INT(last, 65538);
}

/* --------------------------------------------------------------- RTCP */

#define MAXP 16
struct collected {
  size_t n;
  struct mc_rtcp_packet p[MAXP];
};
static void collect(const struct mc_rtcp_packet *p, void *user) {
  struct collected *c = user;
  if (c->n < MAXP) c->p[c->n++] = *p;
}

static void test_rtcp_reports(void) {
  uint8_t buf[1500];
  size_t off = 0, n;
  struct mc_rtcp_sr sr;
  memset(&sr, 0, sizeof sr);
  sr.ssrc = 0x11223344;
  sr.ntp = 0xe2ab1234567890abull;
  sr.rtp_ts = 0xdeadbeef;
  sr.packet_count = 1000;
  sr.octet_count = 123456;
  sr.rb_count = 2;
  sr.rb[0] = (struct mc_rtcp_report_block){0xaabbccdd, 25, 10, 0x1ffff, 900, 0x12345678, 32768};
  sr.rb[1] = (struct mc_rtcp_report_block){0x01020304, 255, -5, 7, 0, 0, 0};
  CHECK_EQ_INT(mc_rtcp_write_sr(&sr, buf + off, sizeof buf - off, &n), MC_OK);
  CHECK_EQ_INT(n, 28 + 48);
  off += n;
  struct mc_rtcp_rr rr;
  memset(&rr, 0, sizeof rr);
  rr.ssrc = 0x55;
  CHECK_EQ_INT(mc_rtcp_write_rr(&rr, buf + off, sizeof buf - off, &n), MC_OK);
  CHECK_EQ_INT(n, 8);
  off += n;
  CHECK_EQ_INT(mc_rtcp_write_sdes_cname(0x11223344, "medcall-cname1", buf + off, sizeof buf - off, &n), MC_OK);
  CHECK_EQ_INT(n % 4, 0);
  off += n;
  uint32_t bye_ssrc[2] = {0x11223344, 0x99};
  CHECK_EQ_INT(mc_rtcp_write_bye(bye_ssrc, 2, "hung up", buf + off, sizeof buf - off, &n), MC_OK);
  off += n;

  struct collected c = {0};
  CHECK_EQ_INT(mc_rtcp_parse(buf, off, collect, &c), MC_OK);
  CHECK_EQ_INT(c.n, 4);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_SR);
  CHECK(memcmp(&c.p[0].u.sr, &sr, sizeof sr) == 0);
  CHECK_EQ_INT(c.p[0].u.sr.rb[1].cumulative_lost, -5);
  CHECK_EQ_INT(c.p[1].kind, MC_RTCP_KIND_RR);
  CHECK_EQ_INT(c.p[1].u.rr.ssrc, 0x55);
  CHECK_EQ_INT(c.p[1].u.rr.rb_count, 0);
  CHECK_EQ_INT(c.p[2].kind, MC_RTCP_KIND_SDES);
  CHECK_EQ_INT(c.p[2].u.sdes.chunk_count, 1);
  CHECK_EQ_INT(c.p[2].u.sdes.chunk[0].ssrc, 0x11223344);
  CHECK_EQ_INT(c.p[2].u.sdes.chunk[0].cname_len, 14);
  CHECK(memcmp(c.p[2].u.sdes.chunk[0].cname, "medcall-cname1", 14) == 0);
  CHECK_EQ_INT(c.p[3].kind, MC_RTCP_KIND_BYE);
  CHECK_EQ_INT(c.p[3].u.bye.count, 2);
  CHECK_EQ_INT(c.p[3].u.bye.ssrc[1], 0x99);
  CHECK_EQ_INT(c.p[3].u.bye.reason_len, 7);
  CHECK(memcmp(c.p[3].u.bye.reason, "hung up", 7) == 0);

  /* byte-exact RR with one block (RFC 3550 6.4.2 layout) */
  const uint8_t rr_bytes[] = {0x81, 0xc9, 0x00, 0x07, 0x00, 0x00, 0x00, 0x55, 0xaa, 0xbb, 0xcc, 0xdd,
                              0x19, 0xff, 0xff, 0xfb, 0x00, 0x01, 0xff, 0xff, 0x00, 0x00, 0x03, 0x84,
                              0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x80, 0x00};
  rr.rb_count = 1;
  rr.rb[0] = (struct mc_rtcp_report_block){0xaabbccdd, 25, -5, 0x1ffff, 900, 0x12345678, 32768};
  CHECK_EQ_INT(mc_rtcp_write_rr(&rr, buf, sizeof buf, &n), MC_OK);
  CHECK_EQ_INT(n, sizeof rr_bytes);
  CHECK_MEM(buf, rr_bytes, sizeof rr_bytes);

  /* every prefix parses only when it ends on a packet boundary */
  CHECK_EQ_INT(mc_rtcp_write_sr(&sr, buf, sizeof buf, &n), MC_OK);
  size_t first = n;
  CHECK_EQ_INT(mc_rtcp_write_rr(&rr, buf + n, sizeof buf - n, &n), MC_OK);
  size_t total = first + n;
  for (size_t i = 0; i <= total; i++) {
    int r = mc_rtcp_parse(buf, i, NULL, NULL);
    CHECK_EQ_INT(r == MC_OK, i == first || i == total);
  }
  /* all or nothing: a broken second packet means no callback at all */
  uint8_t bad[256];
  memcpy(bad, buf, total);
  bad[first] = 0x82; /* RC 2 in a packet long enough for 1 block */
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(bad, total, collect, &c), MC_EPARSE);
  CHECK_EQ_INT(c.n, 0);
  /* lying length */
  memcpy(bad, buf, total);
  bad[3]++;
  CHECK_EQ_INT(mc_rtcp_parse(bad, total, NULL, NULL), MC_EPARSE);
  /* padding allowed only in the last packet */
  memcpy(bad, buf, total);
  bad[0] |= 0x20;
  CHECK_EQ_INT(mc_rtcp_parse(bad, total, NULL, NULL), MC_EPARSE);
  /* version 1 */
  memcpy(bad, buf, total);
  bad[0] = (uint8_t)((bad[0] & 0x3f) | 0x40);
  CHECK_EQ_INT(mc_rtcp_parse(bad, total, NULL, NULL), MC_EPARSE);
  /* SDES item running past the packet */
  CHECK_EQ_INT(mc_rtcp_write_sdes_cname(1, "abc", bad, sizeof bad, &n), MC_OK);
  bad[9] = 200;
  CHECK_EQ_INT(mc_rtcp_parse(bad, n, NULL, NULL), MC_EPARSE);
  /* BYE reason longer than the packet */
  CHECK_EQ_INT(mc_rtcp_write_bye(bye_ssrc, 1, "x", bad, sizeof bad, &n), MC_OK);
  bad[8] = 9;
  CHECK_EQ_INT(mc_rtcp_parse(bad, n, NULL, NULL), MC_EPARSE);
  /* an RTP payload type is not RTCP */
  const uint8_t notrtcp[] = {0x80, 0x60, 0x00, 0x00};
  CHECK_EQ_INT(mc_rtcp_parse(notrtcp, sizeof notrtcp, NULL, NULL), MC_EPARSE);
  /* APP is framed and reported as other */
  const uint8_t app[] = {0x80, 0xcc, 0x00, 0x02, 0, 0, 0, 1, 'n', 'a', 'm', 'e'};
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(app, sizeof app, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_OTHER);
}

static void test_rtcp_feedback(void) {
  uint8_t buf[1500];
  size_t n;
  struct collected c;

  /* generic NACK: 100, 101, 116 share a PID; 117 and 200 start new ones */
  const uint16_t seqs[] = {200, 116, 100, 117, 101, 100};
  CHECK_EQ_INT(mc_rtcp_write_nack(1, 2, seqs, 6, buf, sizeof buf, &n), MC_OK);
  const uint8_t nack_bytes[] = {0x81, 0xcd, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 2,
                                0x00, 0x64, 0x80, 0x01, 0x00, 0x75, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00};
  CHECK_EQ_INT(n, sizeof nack_bytes);
  CHECK_MEM(buf, nack_bytes, sizeof nack_bytes);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_NACK);
  CHECK_EQ_INT(c.p[0].u.nack.media_ssrc, 2);
  uint16_t got[64];
  size_t gn = 0;
  CHECK_EQ_INT(mc_rtcp_nack_seqs(&c.p[0].u.nack, got, 64, &gn), MC_OK);
  const uint16_t want[] = {100, 101, 116, 117, 200};
  CHECK_EQ_INT(gn, 5);
  CHECK_MEM(got, want, sizeof want);
  CHECK_EQ_INT(mc_rtcp_nack_seqs(&c.p[0].u.nack, got, 2, &gn), MC_ETOOBIG);
  /* across the wrap: one PID 65534 with BLP covering 65535, 0, 1 */
  const uint16_t wrap[] = {1, 65534, 0, 65535};
  CHECK_EQ_INT(mc_rtcp_write_nack(1, 2, wrap, 4, buf, sizeof buf, &n), MC_OK);
  CHECK_EQ_INT(n, 16);
  CHECK_EQ_INT(mc_get_be16(buf + 12), 65534);
  CHECK_EQ_INT(mc_get_be16(buf + 14), 0x0007);
  /* empty FCI is malformed */
  const uint8_t nack0[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
  CHECK_EQ_INT(mc_rtcp_parse(nack0, sizeof nack0, NULL, NULL), MC_EPARSE);

  /* PLI */
  CHECK_EQ_INT(mc_rtcp_write_pli(0x01020304, 0x0a0b0c0d, buf, sizeof buf, &n), MC_OK);
  const uint8_t pli[] = {0x81, 0xce, 0x00, 0x02, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d};
  CHECK_EQ_INT(n, sizeof pli);
  CHECK_MEM(buf, pli, sizeof pli);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_PLI);
  CHECK_EQ_INT(c.p[0].u.pli.media_ssrc, 0x0a0b0c0d);

  /* FIR */
  struct mc_rtcp_fir fir = {.sender_ssrc = 9, .count = 2};
  fir.entry[0].ssrc = 0xabcdef01, fir.entry[0].seq_nr = 7;
  fir.entry[1].ssrc = 5, fir.entry[1].seq_nr = 255;
  CHECK_EQ_INT(mc_rtcp_write_fir(&fir, buf, sizeof buf, &n), MC_OK);
  CHECK_EQ_INT(n, 28);
  CHECK_EQ_INT(buf[0], 0x84);
  CHECK_EQ_INT(mc_get_be32(buf + 8), 0);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_FIR);
  CHECK(memcmp(&c.p[0].u.fir, &fir, sizeof fir) == 0);

  /* REMB 1 Mbit/s: exp 2, mantissa 250000 */
  struct mc_rtcp_remb remb = {.sender_ssrc = 1, .bitrate_bps = 1000000, .ssrc_count = 2};
  remb.ssrc[0] = 0x11, remb.ssrc[1] = 0x22;
  CHECK_EQ_INT(mc_rtcp_write_remb(&remb, buf, sizeof buf, &n), MC_OK);
  const uint8_t remb_bytes[] = {0x8f, 0xce, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 0, 'R', 'E', 'M', 'B',
                                0x02, 0x0b, 0xd0, 0x90, 0, 0, 0, 0x11, 0, 0, 0, 0x22};
  CHECK_EQ_INT(n, sizeof remb_bytes);
  CHECK_MEM(buf, remb_bytes, sizeof remb_bytes);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_REMB);
  CHECK(memcmp(&c.p[0].u.remb, &remb, sizeof remb) == 0);
  buf[16] = 3; /* claims 3 SSRCs, has 2 */
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, NULL, NULL), MC_EPARSE);
  /* a bitrate whose mantissa loses low bits */
  remb.bitrate_bps = 1000001;
  CHECK_EQ_INT(mc_rtcp_write_remb(&remb, buf, sizeof buf, &n), MC_OK);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.remb.bitrate_bps, 1000000);

  /* compound of feedback (reduced size, RFC 5506: no SR/RR first) */
  size_t off = 0;
  CHECK_EQ_INT(mc_rtcp_write_pli(1, 2, buf, sizeof buf, &n), MC_OK);
  off += n;
  CHECK_EQ_INT(mc_rtcp_write_nack(1, 2, seqs, 1, buf + off, sizeof buf - off, &n), MC_OK);
  off += n;
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, off, collect, &c), MC_OK);
  CHECK_EQ_INT(c.n, 2);
}

static void test_twcc_codec(void) {
  uint8_t buf[1500];
  size_t n;
  /* byte-exact: seq 10 at 5*64 ms + 1 ms, 11 lost, 12 75 ms later (300
   * ticks: a large delta) -> one two-bit status vector chunk */
  struct mc_twcc_status st[3] = {
      {10, true, 5 * 64000 + 1000}, {11, false, 0}, {12, true, 5 * 64000 + 1000 + 75000}};
  CHECK_EQ_INT(mc_rtcp_write_twcc(0x01, 0x02, 7, st, 3, buf, sizeof buf, &n), MC_OK);
  const uint8_t want[] = {0x8f, 0xcd, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x0a, 0x00, 0x03,
                          0x00, 0x00, 0x05, 0x07, 0xd2, 0x00, 0x04, 0x01, 0x2c, 0x00, 0x00, 0x00};
  CHECK_EQ_INT(n, sizeof want);
  CHECK_MEM(buf, want, sizeof want);
  struct collected c = {0};
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_TWCC);
  CHECK_EQ_INT(c.p[0].u.twcc.base_seq, 10);
  CHECK_EQ_INT(c.p[0].u.twcc.status_count, 3);
  CHECK_EQ_INT(c.p[0].u.twcc.reference_time, 5);
  CHECK_EQ_INT(c.p[0].u.twcc.fb_count, 7);
  struct mc_twcc_status out[3];
  size_t on = 0;
  CHECK_EQ_INT(mc_rtcp_twcc_decode(&c.p[0].u.twcc, out, 3, &on), MC_OK);
  CHECK_EQ_INT(on, 3);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_INT(out[i].seq, st[i].seq);
    CHECK_EQ_INT(out[i].received, st[i].received);
    CHECK_EQ_INT(out[i].arrival_us, st[i].arrival_us);
  }
  CHECK_EQ_INT(mc_rtcp_twcc_decode(&c.p[0].u.twcc, out, 2, &on), MC_ETOOBIG);

  /* long mixed pattern across the seq wrap: runs of losses, small, large
   * and negative deltas, all three chunk kinds */
  enum { N = 300 };
  struct mc_twcc_status *big = calloc(N, sizeof *big), *back = calloc(N, sizeof *back);
  int64_t t = 1000LL * 1000 * 1000; /* 1000 s */
  for (int i = 0; i < N; i++) {
    big[i].seq = (uint16_t)(65400 + i);
    big[i].received = !(i >= 20 && i < 60) && i % 11 != 3;
    if (i % 37 == 5) t += 2000000;        /* 2 s: 16-bit delta */
    else if (i % 29 == 7) t -= 5000;      /* negative delta */
    else t += 250 * (i % 5);
    big[i].arrival_us = big[i].received ? t : 0;
  }
  CHECK_EQ_INT(mc_rtcp_write_twcc(3, 4, 255, big, N, buf, sizeof buf, &n), MC_OK);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.twcc.fb_count, 255);
  CHECK_EQ_INT(mc_rtcp_twcc_decode(&c.p[0].u.twcc, back, N, &on), MC_OK);
  CHECK_EQ_INT(on, N);
  int bad = 0;
  int64_t shift = 0; /* the 24-bit reference time wraps: compare differences */
  bool first = true;
  for (int i = 0; i < N; i++) {
    if (back[i].seq != big[i].seq || back[i].received != big[i].received) bad++;
    if (!big[i].received) continue;
    if (first) {
      shift = big[i].arrival_us - back[i].arrival_us;
      first = false;
    }
    if (back[i].arrival_us + shift != big[i].arrival_us) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  /* a delta beyond 16 bits is refused */
  st[2].arrival_us = st[0].arrival_us + 9000000;
  CHECK_EQ_INT(mc_rtcp_write_twcc(1, 2, 0, st, 3, buf, sizeof buf, &n), MC_EINVAL);
  free(big);
  free(back);

  /* malformed: status count larger than the chunks, reserved symbol,
   * missing delta */
  const uint8_t shortfb[] = {0x8f, 0xcd, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x0a, 0x00, 0x20,
                             0x00, 0x00, 0x05, 0x07, 0xd2, 0x00, 0x04, 0x00};
  CHECK_EQ_INT(mc_rtcp_parse(shortfb, sizeof shortfb, NULL, NULL), MC_EPARSE);
  uint8_t m[sizeof want];
  memcpy(m, want, sizeof want);
  m[20] = 0xd3; /* third symbol 11 */
  CHECK_EQ_INT(mc_rtcp_parse(m, sizeof m, NULL, NULL), MC_EPARSE);
  memcpy(m, want, sizeof want);
  m[3] = 5; /* cut inside the 16-bit delta */
  CHECK_EQ_INT(mc_rtcp_parse(m, 24, NULL, NULL), MC_EPARSE);
  /* a run-length chunk of 2000 lost packets then one received */
  uint8_t rl[] = {0x8f, 0xcd, 0x00, 0x06, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x00, 0x07, 0xd1,
                  0x00, 0x00, 0x01, 0x00, 0x07, 0xd0, 0x20, 0x01, 0x09, 0x00, 0x00, 0x00};
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(rl, sizeof rl, collect, &c), MC_OK);
  struct mc_twcc_status *rlo = calloc(2001, sizeof *rlo);
  CHECK_EQ_INT(mc_rtcp_twcc_decode(&c.p[0].u.twcc, rlo, 2001, &on), MC_OK);
  CHECK(!rlo[0].received && !rlo[1999].received && rlo[2000].received);
  CHECK_EQ_INT(rlo[2000].arrival_us, 64000 + 9 * 250);
  free(rlo);
}

static void test_rtt(void) {
  uint64_t ntp = mc_ntp_from_unix_us(1700000000ull * 1000000 + 500000);
  CHECK_EQ_INT(ntp >> 32, 1700000000ull + 2208988800ull);
  CHECK_EQ_INT((uint32_t)ntp, 0x80000000u);
  struct mc_rtcp_report_block rb = {0};
  uint64_t rtt = 0;
  CHECK_EQ_INT(mc_rtcp_rtt_us(&rb, ntp, &rtt), MC_ENOTFOUND);
  /* SR sent at ntp, held 0.25 s by the peer, RR back 0.3 s after the SR */
  rb.lsr = mc_ntp_compact(ntp);
  rb.dlsr = 65536 / 4;
  uint64_t now = mc_ntp_from_unix_us(1700000000ull * 1000000 + 800000);
  CHECK_EQ_INT(mc_rtcp_rtt_us(&rb, now, &rtt), MC_OK);
  CHECK(rtt >= 49950 && rtt <= 50050); /* 1/65536 s units */
  rb.dlsr = 65536; /* says it held it longer than the round trip */
  CHECK_EQ_INT(mc_rtcp_rtt_us(&rb, now, &rtt), MC_EINVAL);
}

/* -------------------------------------------------------------- stats */

static void test_stats(void) {
  struct mc_rtp_recv_stats s;
  struct mc_rtcp_report_block rb;
  mc_rtp_recv_stats_init(&s, 0x1234, 90000);
  CHECK_EQ_INT(mc_rtp_recv_stats_report_block(&s, 0, &rb), MC_ESTATE);
  /* 100 packets from 65500 across the wrap, 10 lost, one duplicate, one
   * reordered; perfectly paced (constant transit): jitter 0 */
  uint16_t base = 65500;
  for (int i = 0; i < 100; i++) {
    if (i % 10 == 4) continue;
    int k = i == 50 ? 51 : i == 51 ? 50 : i;
    mc_rtp_recv_stats_update(&s, (uint16_t)(base + k), (uint32_t)(3000u * k + 0xfffff000u), 1000,
                             (uint64_t)k * 33333 + 7000000);
  }
  CHECK_EQ_INT(mc_rtp_recv_stats_extended_max(&s), 65536 + 63);
  CHECK_EQ_INT(mc_rtp_recv_stats_lost(&s), 10);
  CHECK(mc_rtp_recv_stats_jitter(&s) <= 3); /* 33333 us is 2999.97 ticks */
  mc_rtp_recv_stats_on_sr(&s, 0x0001234567890000ull, 1234, 9000000);
  CHECK(s.have_sr && s.last_sr_rtp_ts == 1234);
  CHECK_EQ_INT(mc_rtp_recv_stats_report_block(&s, 9500000, &rb), MC_OK);
  CHECK_EQ_INT(rb.ssrc, 0x1234);
  CHECK_EQ_INT(rb.cumulative_lost, 10);
  CHECK_EQ_INT(rb.fraction_lost, 25); /* 10/100 * 256 */
  CHECK_EQ_INT(rb.highest_seq, 65536 + 63);
  CHECK_EQ_INT(rb.lsr, 0x45678900u >> 0 ? mc_ntp_compact(0x0001234567890000ull) : 0);
  CHECK_EQ_INT(rb.lsr, 0x23456789u);
  CHECK_EQ_INT(rb.dlsr, 32768);
  /* duplicate of the last one: the next interval has no loss */
  mc_rtp_recv_stats_update(&s, (uint16_t)(base + 99), 0, 10, 10000000);
  CHECK_EQ_INT(mc_rtp_recv_stats_report_block(&s, 10000000, &rb), MC_OK);
  CHECK_EQ_INT(rb.fraction_lost, 0);
  CHECK_EQ_INT(rb.cumulative_lost, 9);

  /* A.8 jitter: 20 ms packets (1800 ticks at 90 kHz) arriving alternately
   * on time and 10 ms late: |D| = 900 each time, J -> 900 */
  mc_rtp_recv_stats_init(&s, 1, 90000);
  for (int i = 0; i < 300; i++)
    mc_rtp_recv_stats_update(&s, (uint16_t)i, (uint32_t)i * 1800, 100,
                             (uint64_t)i * 20000 + (i % 2 ? 10000 : 0));
  uint32_t j = mc_rtp_recv_stats_jitter(&s);
  CHECK(j >= 890 && j <= 900);
  CHECK_EQ_INT(mc_rtp_recv_stats_lost(&s), 0);

  /* a restart (two sequential packets after a huge jump) re-bases */
  mc_rtp_recv_stats_init(&s, 1, 48000);
  for (int i = 0; i < 10; i++) mc_rtp_recv_stats_update(&s, (uint16_t)(100 + i), 0, 1, 0);
  mc_rtp_recv_stats_update(&s, 30000, 0, 1, 0);
  CHECK_EQ_INT(mc_rtp_recv_stats_extended_max(&s), 109); /* one packet is not enough */
  mc_rtp_recv_stats_update(&s, 30001, 0, 1, 0);
  CHECK_EQ_INT(mc_rtp_recv_stats_extended_max(&s), 30001);
  CHECK_EQ_INT(mc_rtp_recv_stats_lost(&s), 0);
}

/* ---------------------------------------------------------- VP8, Opus */

static void test_vp8(void) {
  enum { FL = 3000 };
  uint8_t frame[FL], pkt[1300], re[FL];
  for (int i = 0; i < FL; i++) frame[i] = (uint8_t)(i * 31 + 1);
  frame[0] = 0x50; /* key frame */
  CHECK_EQ_INT(mc_vp8_packet_count(FL, 1200), 3);
  CHECK_EQ_INT(mc_vp8_packet_count(FL, 4), 0);
  CHECK_EQ_INT(mc_vp8_packet_count(0, 1200), 0);
  CHECK_EQ_INT(mc_vp8_packet_count(1196, 1200), 1);
  CHECK_EQ_INT(mc_vp8_packet_count(1197, 1200), 2);
  size_t off = 0;
  for (size_t i = 0; i < 3; i++) {
    size_t n;
    bool marker;
    CHECK_EQ_INT(mc_vp8_packetize(0x8123, frame, FL, 1200, i, pkt, sizeof pkt, &n, &marker), MC_OK);
    CHECK_EQ_INT(n, 1004); /* balanced: 1000 bytes each */
    CHECK_EQ_INT(marker, i == 2);
    CHECK_EQ_INT(pkt[0], i == 0 ? 0x90 : 0x80);
    CHECK_EQ_INT(pkt[1], 0x80);
    CHECK_EQ_INT(pkt[2], 0x81); /* picture id taken mod 2^15 */
    CHECK_EQ_INT(pkt[3], 0x23);
    struct mc_vp8_descriptor d;
    CHECK_EQ_INT(mc_vp8_parse_descriptor(pkt, n, &d), MC_OK);
    CHECK_EQ_INT(d.frame_start, i == 0);
    CHECK_EQ_INT(d.keyframe, i == 0);
    CHECK_EQ_INT(d.picture_id, 0x0123);
    memcpy(re + off, pkt + d.header_len, n - d.header_len);
    off += n - d.header_len;
  }
  CHECK_EQ_INT(off, FL);
  CHECK_MEM(re, frame, FL);
  size_t n;
  bool marker;
  CHECK_EQ_INT(mc_vp8_packetize(1, frame, FL, 1200, 3, pkt, sizeof pkt, &n, &marker), MC_EINVAL);
  CHECK_EQ_INT(mc_vp8_packetize(1, frame, FL, 1200, 0, pkt, 100, &n, &marker), MC_ETOOBIG);
  /* 1001 bytes in 3 packets of max 504: 334, 334, 333 */
  CHECK_EQ_INT(mc_vp8_packet_count(1001, 504), 3);
  CHECK_EQ_INT(mc_vp8_packetize(1, frame, 1001, 504, 2, pkt, sizeof pkt, &n, &marker), MC_OK);
  CHECK_EQ_INT(n, 4 + 333);
  CHECK_MEM(pkt + 4, frame + 668, 333);

  /* all optional fields: X, I (7-bit), L, T with Y, K */
  const uint8_t full[] = {0xa0 | 0x10 | 0x80, 0xf0, 0x23, 0x45, 0xa3, 0x51, 0x00};
  struct mc_vp8_descriptor d;
  CHECK_EQ_INT(mc_vp8_parse_descriptor(full, sizeof full, &d), MC_OK);
  CHECK(d.non_reference && d.start && d.has_picture_id && !d.picture_id_15);
  CHECK_EQ_INT(d.picture_id, 0x23);
  CHECK(d.has_tl0picidx && d.has_tid && d.has_keyidx && d.layer_sync);
  CHECK_EQ_INT(d.tl0picidx, 0x45);
  CHECK_EQ_INT(d.tid, 2);
  CHECK_EQ_INT(d.keyidx, 3);
  CHECK_EQ_INT(d.header_len, 5);
  CHECK(!d.keyframe); /* P bit 1 */
  for (size_t i = 0; i < 6; i++) CHECK_EQ_INT(mc_vp8_parse_descriptor(full, i, &d), MC_EPARSE);
  /* without X: one octet; a continuation packet is never a key frame */
  const uint8_t minimal[] = {0x01, 0x00};
  CHECK_EQ_INT(mc_vp8_parse_descriptor(minimal, 2, &d), MC_OK);
  CHECK(!d.start && !d.keyframe && d.partition_id == 1);
  CHECK_EQ_INT(d.header_len, 1);

  /* Opus TOC (RFC 6716 3.1) */
  uint32_t smp = 0;
  const uint8_t celt20[] = {0xf8};
  CHECK_EQ_INT(mc_opus_packet_samples(celt20, 1, &smp), MC_OK);
  CHECK_EQ_INT(smp, 960);
  const uint8_t three[] = {0xfb, 0x03};
  CHECK_EQ_INT(mc_opus_packet_samples(three, 2, &smp), MC_OK);
  CHECK_EQ_INT(smp, 2880);
  const uint8_t silk60x2[] = {0x19};
  CHECK_EQ_INT(mc_opus_packet_samples(silk60x2, 1, &smp), MC_OK);
  CHECK_EQ_INT(smp, 5760);
  const uint8_t toolong[] = {0x1b, 0x03};
  CHECK_EQ_INT(mc_opus_packet_samples(toolong, 2, &smp), MC_EPARSE);
  CHECK_EQ_INT(mc_opus_packet_samples(three, 1, &smp), MC_EPARSE);
  CHECK_EQ_INT(mc_opus_packet_samples(three, 0, &smp), MC_EPARSE);
  const uint8_t hybrid10[] = {0x60};
  CHECK_EQ_INT(mc_opus_packet_samples(hybrid10, 1, &smp), MC_OK);
  CHECK_EQ_INT(smp, 480);
}

/* ------------------------------------------------- video jitter buffer */

/* Frame f (0-based) of a stream: packets_per_frame packets; key frame when
 * key; payload bytes derived from (f, packet). */
static struct mc_vjb_packet vpkt(uint16_t seq0, int f, int k, int per, bool key, uint8_t *storage) {
  storage[0] = (uint8_t)f;
  storage[1] = (uint8_t)k;
  storage[2] = 0xee;
  return (struct mc_vjb_packet){.seq = (uint16_t)(seq0 + f * per + k),
                                .ts = (uint32_t)(0xfffff000u + (uint32_t)f * 3000),
                                .marker = k == per - 1,
                                .frame_start = k == 0,
                                .keyframe = key,
                                .data = storage,
                                .len = 3};
}

static int pop_all(mc_vjb *j, uint64_t now, int *frames, int max) {
  uint8_t buf[256];
  struct mc_vjb_frame fr;
  int n = 0;
  while (n < max && mc_vjb_pop(j, now, buf, sizeof buf, &fr) == MC_OK) frames[n++] = buf[0];
  return n;
}

static void test_vjb_order(void) {
  mc_vjb *j = NULL;
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  uint8_t st[3];
  /* 6 frames of 3 packets across the seq wrap, shuffled, duplicated */
  int order[18];
  for (int i = 0; i < 18; i++) order[i] = i;
  uint32_t seed = 12345;
  for (int i = 17; i > 0; i--) {
    seed = seed * 1103515245 + 12345;
    int k = (int)((seed >> 16) % (uint32_t)(i + 1));
    int t = order[i];
    order[i] = order[k];
    order[k] = t;
  }
  for (int i = 0; i < 18; i++) {
    int f = order[i] / 3, k = order[i] % 3;
    struct mc_vjb_packet p = vpkt(65530, f, k, 3, f == 0, st);
    CHECK_EQ_INT(mc_vjb_push(j, &p, 1000), MC_OK);
    if (i % 4 == 0) CHECK_EQ_INT(mc_vjb_push(j, &p, 1000), MC_OK); /* duplicate */
  }
  int frames[10];
  CHECK_EQ_INT(pop_all(j, 1000, frames, 10), 6);
  for (int i = 0; i < 6; i++) CHECK_EQ_INT(frames[i], i);
  struct mc_vjb_stats s;
  mc_vjb_get_stats(j, &s);
  CHECK_EQ_INT(s.frames_out, 6);
  CHECK_EQ_INT(s.duplicates, 5);
  CHECK_EQ_INT(s.packets, 18);
  /* a frame's data is the concatenation of its packets, and the info */
  struct mc_vjb_packet p = vpkt(6, 6, 0, 1, false, st); /* seq 6 + 6 = 12 */
  p.marker = true;
  CHECK_EQ_INT(mc_vjb_push(j, &p, 1001), MC_OK);
  uint8_t small[2], buf[16];
  struct mc_vjb_frame fr;
  CHECK_EQ_INT(mc_vjb_pop(j, 1001, small, sizeof small, &fr), MC_ETOOBIG);
  CHECK_EQ_INT(fr.len, 3);
  CHECK_EQ_INT(mc_vjb_pop(j, 1001, buf, sizeof buf, &fr), MC_OK);
  CHECK_EQ_INT(fr.ts, 0xfffff000u + 18000);
  CHECK(!fr.keyframe);
  CHECK_EQ_INT(fr.first_arrival_ms, 1001);
  /* late: a packet of an emitted frame */
  p = vpkt(65530, 2, 1, 3, false, st);
  CHECK_EQ_INT(mc_vjb_push(j, &p, 1002), MC_OK);
  mc_vjb_get_stats(j, &s);
  CHECK_EQ_INT(s.late, 1);
  CHECK_EQ_INT(mc_vjb_pop(j, 1002, buf, sizeof buf, &fr), MC_ENOTFOUND);
  mc_vjb_free(j);
}

/* A frame whose tail is late (the sender paused, or our loop was late
 * reading the socket) with nothing missing and nothing of a later frame
 * here is still arriving, not lost: no drop and no key-frame request, however
 * long it takes (a bug once dropped it after 200 ms and sent a PLI). */
static void test_vjb_slow_frame(void) {
  mc_vjb *j = NULL;
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  uint8_t st[3];
  int frames[4];
  struct mc_vjb_packet p;
  for (int k = 0; k < 3; k++) {
    p = vpkt(100, 0, k, 3, true, st);
    mc_vjb_push(j, &p, 0);
  }
  CHECK_EQ_INT(pop_all(j, 0, frames, 4), 1); /* the key frame */
  for (int k = 0; k < 2; k++) {
    p = vpkt(100, 1, k, 3, false, st);
    mc_vjb_push(j, &p, 10);
  }
  CHECK_EQ_INT(pop_all(j, 10, frames, 4), 0);
  CHECK_EQ_INT(pop_all(j, 900, frames, 4), 0); /* long past the 200 ms frame timeout */
  CHECK(!mc_vjb_keyframe_request(j, 900));
  p = vpkt(100, 1, 2, 3, false, st);
  mc_vjb_push(j, &p, 950);
  CHECK_EQ_INT(pop_all(j, 950, frames, 4), 1);
  CHECK_EQ_INT(frames[0], 1);
  struct mc_vjb_stats s;
  mc_vjb_get_stats(j, &s);
  CHECK_EQ_INT(s.frames_dropped, 0);
  CHECK_EQ_INT(s.keyframe_requests, 0);
  mc_vjb_free(j);
}

static void test_vjb_nack(void) {
  mc_vjb *j = NULL;
  struct mc_vjb_config cfg = {0};
  CHECK_EQ_INT(mc_vjb_new(&cfg, &j), MC_OK);
  mc_vjb_set_rtt(j, 50);
  uint8_t st[3];
  int frames[10];
  uint16_t nl[32];
  size_t nn = 0;
  /* frames 0 (key) .. 3, 2 packets each; frame 1's second packet lost */
  for (int f = 0; f < 4; f++)
    for (int k = 0; k < 2; k++) {
      if (f == 1 && k == 1) continue;
      struct mc_vjb_packet p = vpkt(100, f, k, 2, f == 0, st);
      mc_vjb_push(j, &p, 0);
    }
  CHECK_EQ_INT(pop_all(j, 0, frames, 10), 1);
  CHECK_EQ_INT(mc_vjb_nack_list(j, 0, nl, 32, &nn), MC_OK);
  CHECK_EQ_INT(nn, 1);
  CHECK_EQ_INT(nl[0], 103);
  CHECK_EQ_INT(mc_vjb_nack_list(j, 30, nl, 32, &nn), MC_OK);
  CHECK_EQ_INT(nn, 0); /* spaced by the RTT */
  CHECK_EQ_INT(mc_vjb_nack_list(j, 50, nl, 32, &nn), MC_OK);
  CHECK_EQ_INT(nn, 1);
  CHECK(!mc_vjb_keyframe_request(j, 60));
  CHECK_EQ_INT(pop_all(j, 100, frames, 10), 0); /* still within 3 * RTT of 150 ms... 200 */
  struct mc_vjb_packet p = vpkt(100, 1, 1, 2, false, st);
  mc_vjb_push(j, &p, 120);
  CHECK_EQ_INT(pop_all(j, 120, frames, 10), 3);
  CHECK_EQ_INT(frames[0], 1);
  CHECK_EQ_INT(frames[2], 3);
  CHECK_EQ_INT(mc_vjb_nack_list(j, 500, nl, 32, &nn), MC_OK);
  CHECK_EQ_INT(nn, 0);
  struct mc_vjb_stats s;
  mc_vjb_get_stats(j, &s);
  CHECK_EQ_INT(s.nacks_sent, 2);
  CHECK_EQ_INT(s.frames_dropped, 0);
  mc_vjb_free(j);
}

static void test_vjb_pli(void) {
  mc_vjb *j = NULL;
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  uint8_t st[3];
  int frames[10];
  /* starting mid-stream: no key frame, so nothing out and a PLI, rate
   * limited to one per 300 ms */
  for (int f = 0; f < 3; f++) {
    struct mc_vjb_packet p = vpkt(1, f, 0, 1, false, st);
    p.marker = true;
    mc_vjb_push(j, &p, 0);
  }
  CHECK_EQ_INT(pop_all(j, 0, frames, 10), 0);
  CHECK(mc_vjb_keyframe_request(j, 0));
  CHECK(!mc_vjb_keyframe_request(j, 299));
  CHECK(mc_vjb_keyframe_request(j, 300));
  /* the key frame arrives: emitted; the frames before it are dropped */
  struct mc_vjb_packet p = vpkt(1, 3, 0, 1, true, st);
  p.marker = true;
  mc_vjb_push(j, &p, 310);
  CHECK_EQ_INT(pop_all(j, 310, frames, 10), 1);
  CHECK_EQ_INT(frames[0], 3);
  CHECK(!mc_vjb_keyframe_request(j, 1000));
  /* frame 4 lost entirely, 5 (delta) and 6 (key) arrive: after the
   * timeout (200 ms with no RTT) the buffer skips to 6 without a PLI */
  for (int f = 5; f < 7; f++) {
    p = vpkt(1, f, 0, 1, f == 6, st);
    p.marker = true;
    mc_vjb_push(j, &p, 1000);
  }
  CHECK_EQ_INT(pop_all(j, 1000, frames, 10), 0);
  CHECK_EQ_INT(pop_all(j, 1199, frames, 10), 0);
  CHECK_EQ_INT(pop_all(j, 1200, frames, 10), 1);
  CHECK_EQ_INT(frames[0], 6);
  CHECK(!mc_vjb_keyframe_request(j, 1200));
  /* frame 7 lost, 8 and 9 delta frames: after the timeout everything is
   * dropped and a PLI goes out at once */
  for (int f = 8; f < 10; f++) {
    p = vpkt(1, f, 0, 1, false, st);
    p.marker = true;
    mc_vjb_push(j, &p, 2000);
  }
  CHECK_EQ_INT(pop_all(j, 2000, frames, 10), 0);
  CHECK(!mc_vjb_keyframe_request(j, 2100));
  CHECK_EQ_INT(pop_all(j, 2200, frames, 10), 0);
  CHECK(mc_vjb_keyframe_request(j, 2200));
  CHECK(!mc_vjb_keyframe_request(j, 2300));
  struct mc_vjb_stats s;
  mc_vjb_get_stats(j, &s);
  CHECK_EQ_INT(s.keyframe_requests, 3);
  CHECK(s.frames_dropped >= 5);
  /* NACKs exhausted before the timeout: 2 retries, 20 ms apart */
  mc_vjb_free(j);
  struct mc_vjb_config cfg = {.nack_max_retries = 2, .frame_timeout_min_ms = 1000};
  CHECK_EQ_INT(mc_vjb_new(&cfg, &j), MC_OK);
  for (int f = 0; f < 4; f++) {
    if (f == 1) continue;
    p = vpkt(500, f, 0, 1, f == 0 || f == 3, st);
    p.marker = true;
    mc_vjb_push(j, &p, 0);
  }
  uint16_t nl[8];
  size_t nn;
  CHECK_EQ_INT(pop_all(j, 0, frames, 10), 1);
  mc_vjb_nack_list(j, 0, nl, 8, &nn);
  CHECK_EQ_INT(nn, 1);
  CHECK_EQ_INT(pop_all(j, 19, frames, 10), 0);
  mc_vjb_nack_list(j, 20, nl, 8, &nn);
  CHECK_EQ_INT(nn, 1);
  mc_vjb_nack_list(j, 40, nl, 8, &nn);
  CHECK_EQ_INT(nn, 0); /* exhausted */
  CHECK_EQ_INT(pop_all(j, 39, frames, 10), 0);
  CHECK_EQ_INT(pop_all(j, 40, frames, 10), 1);
  CHECK_EQ_INT(frames[0], 3);
  mc_vjb_free(j);
}

/* ------------------------------------------------ NACK + RTX end to end */

static void test_rtx_end_to_end(void) {
  enum { FRAMES = 4, FL = 2500 };
  mc_rtp_history *h = NULL;
  struct mc_rtp_history_config hc = {.rtx_ssrc = 0xbbbb, .rtx_pt = 97, .rtx_first_seq = 65535};
  CHECK_EQ_INT(mc_rtp_history_new(&hc, &h), MC_OK);
  mc_vjb *j = NULL;
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  uint8_t frame[FRAMES][FL];
  uint8_t pkts[16][1300];
  size_t plen[16];
  int np = 0;
  uint16_t seq = 65533;
  uint8_t tw[2];
  for (int f = 0; f < FRAMES; f++) {
    for (int i = 0; i < FL; i++) frame[f][i] = (uint8_t)(f * 17 + i);
    frame[f][0] = f == 0 ? 0x10 : 0x11;
    size_t cnt = mc_vp8_packet_count(FL, 1100);
    for (size_t i = 0; i < cnt; i++) {
      uint8_t pay[1200];
      size_t pl;
      bool marker;
      CHECK_EQ_INT(mc_vp8_packetize((uint16_t)(32767 + f), frame[f], FL, 1100, i, pay, sizeof pay, &pl, &marker),
                   MC_OK);
      struct mc_rtp_packet p;
      memset(&p, 0, sizeof p);
      p.h.pt = 96;
      p.h.marker = marker;
      p.h.seq = seq++;
      p.h.ts = 0xffffffffu - 1000 + (uint32_t)f * 3000;
      p.h.ssrc = 0xaaaa;
      mc_rtp_twcc_seq_encode((uint16_t)np, tw);
      mc_rtp_ext_set(&p.h, 3, tw, 2);
      p.payload = pay;
      p.payload_len = pl;
      CHECK_EQ_INT(mc_rtp_write(&p, pkts[np], sizeof pkts[np], &plen[np]), MC_OK);
      CHECK_EQ_INT(mc_rtp_history_put(h, pkts[np], plen[np], 0), MC_OK);
      np++;
    }
  }
  CHECK_EQ_INT(np, 12);
  /* lose packets 1 (key frame middle), 4 and 5 (frame 1 first two) */
  for (int i = 0; i < np; i++) {
    if (i == 1 || i == 4 || i == 5) continue;
    struct mc_rtp_packet p;
    CHECK_EQ_INT(mc_rtp_parse(pkts[i], plen[i], &p), MC_OK);
    CHECK_EQ_INT(mc_vjb_push_vp8(j, &p, 10), MC_OK);
  }
  uint8_t out[FL + 100];
  struct mc_vjb_frame fr;
  CHECK_EQ_INT(mc_vjb_pop(j, 10, out, sizeof out, &fr), MC_ENOTFOUND);
  uint16_t nl[16];
  size_t nn;
  CHECK_EQ_INT(mc_vjb_nack_list(j, 10, nl, 16, &nn), MC_OK);
  CHECK_EQ_INT(nn, 3);
  uint8_t rtcp[256];
  size_t rl;
  CHECK_EQ_INT(mc_rtcp_write_nack(0x1, 0xaaaa, nl, nn, rtcp, sizeof rtcp, &rl), MC_OK);
  struct collected c = {0};
  CHECK_EQ_INT(mc_rtcp_parse(rtcp, rl, collect, &c), MC_OK);
  uint16_t asked[16];
  size_t an;
  CHECK_EQ_INT(mc_rtcp_nack_seqs(&c.p[0].u.nack, asked, 16, &an), MC_OK);
  CHECK_EQ_INT(an, 3);
  uint16_t want_rtx_seq = 65535;
  for (size_t i = 0; i < an; i++) {
    uint8_t rtx[1400], orig[1400];
    size_t xl, ol;
    CHECK_EQ_INT(mc_rtp_history_rtx(h, asked[i], 20, rtx, sizeof rtx, &xl), MC_OK);
    struct mc_rtp_packet rp;
    CHECK_EQ_INT(mc_rtp_parse(rtx, xl, &rp), MC_OK);
    CHECK_EQ_INT(rp.h.ssrc, 0xbbbb);
    CHECK_EQ_INT(rp.h.pt, 97);
    CHECK_EQ_INT(rp.h.seq, want_rtx_seq);
    want_rtx_seq++;
    CHECK_EQ_INT(mc_get_be16(rp.payload), asked[i]);
    CHECK_EQ_INT(mc_rtx_unwrap(rtx, xl, 0xaaaa, 96, orig, sizeof orig, &ol), MC_OK);
    int idx = (uint16_t)(asked[i] - 65533);
    CHECK_EQ_INT(ol, plen[idx]);
    CHECK_MEM(orig, pkts[idx], plen[idx]);
    struct mc_rtp_packet op;
    CHECK_EQ_INT(mc_rtp_parse(orig, ol, &op), MC_OK);
    CHECK_EQ_INT(mc_vjb_push_vp8(j, &op, 30), MC_OK);
  }
  for (int f = 0; f < FRAMES; f++) {
    CHECK_EQ_INT(mc_vjb_pop(j, 30, out, sizeof out, &fr), MC_OK);
    CHECK_EQ_INT(fr.len, FL);
    CHECK_MEM(out, frame[f], FL);
    CHECK_EQ_INT(fr.keyframe, f == 0);
  }
  /* too old, or never sent */
  uint8_t rtx[1400];
  size_t xl;
  CHECK_EQ_INT(mc_rtp_history_rtx(h, 65533, 1001, rtx, sizeof rtx, &xl), MC_ENOTFOUND);
  CHECK_EQ_INT(mc_rtp_history_rtx(h, 5000, 10, rtx, sizeof rtx, &xl), MC_ENOTFOUND);
  CHECK_EQ_INT(mc_rtp_history_rtx(h, 65533, 10, rtx, 20, &xl), MC_ETOOBIG);
  /* an RTX padding probe has no OSN */
  const uint8_t probe[] = {0xa0, 97, 0, 1, 0, 0, 0, 1, 0, 0, 0xbb, 0xbb, 0, 0, 0, 4};
  CHECK_EQ_INT(mc_rtx_unwrap(probe, sizeof probe, 1, 96, rtx, sizeof rtx, &xl), MC_EPARSE);
  /* padding on the RTX SSRC takes its number in the retransmissions' sequence */
  CHECK_EQ_INT(mc_rtp_history_take_rtx_seq(h), 2); /* 65535, 0, 1 went to the three above */
  CHECK_EQ_INT(mc_rtp_history_rtx(h, 65534, 10, rtx, sizeof rtx, &xl), MC_OK);
  struct mc_rtp_packet after;
  CHECK_EQ_INT(mc_rtp_parse(rtx, xl, &after), MC_OK);
  CHECK_EQ_INT(after.h.seq, 3);
  mc_vjb_free(j);
  mc_rtp_history_free(h);
}

/* ------------------------------------------------ audio jitter buffer */

static void test_ajb(void) {
  mc_ajb *j = NULL;
  CHECK_EQ_INT(mc_ajb_new(NULL, &j), MC_OK);
  uint8_t pkt[4] = {0xf8, 0, 0, 0}, out[64];
  size_t len;
  enum mc_ajb_status st;
  uint32_t ts0 = 0xffffffffu - 960 * 3; /* wraps after 3 frames */
  uint16_t seq0 = 65534;
  /* steady 20 ms arrivals: buffering until 40 ms are held, then frames in order */
  uint64_t t = 1000;
  pkt[1] = 0;
  CHECK_EQ_INT(mc_ajb_push(j, seq0, ts0, pkt, 4, t), MC_OK);
  CHECK_EQ_INT(mc_ajb_pop(j, t, out, sizeof out, &len, &st), MC_OK);
  CHECK_EQ_INT(st, MC_AJB_BUFFERING);
  int played = 0, missing = 0, expect = 0, order_ok = 1;
  for (int i = 1; i < 50; i++) {
    t += 20;
    if (i != 20) { /* packet 20 is lost */
      pkt[1] = (uint8_t)i;
      CHECK_EQ_INT(mc_ajb_push(j, (uint16_t)(seq0 + i), ts0 + (uint32_t)i * 960, pkt, 4, t), MC_OK);
    }
    CHECK_EQ_INT(mc_ajb_pop(j, t, out, sizeof out, &len, &st), MC_OK);
    if (st == MC_AJB_FRAME) {
      if (out[1] != expect) order_ok = 0;
      expect++;
      played++;
    } else if (st == MC_AJB_MISSING) {
      CHECK_EQ_INT(expect, 20);
      expect++;
      missing++;
      uint8_t nx[8];
      size_t nl;
      CHECK_EQ_INT(mc_ajb_peek_next(j, nx, sizeof nx, &nl), MC_OK); /* FEC source */
      CHECK_EQ_INT(nx[1], 21);
    }
  }
  CHECK(order_ok);
  CHECK_EQ_INT(missing, 1);
  CHECK(played >= 46);
  struct mc_ajb_stats s;
  mc_ajb_get_stats(j, &s);
  CHECK_EQ_INT(s.target_ms, 40);
  /* a late packet (already played) is counted and dropped */
  CHECK_EQ_INT(mc_ajb_push(j, seq0, ts0, pkt, 4, t), MC_OK);
  mc_ajb_get_stats(j, &s);
  CHECK_EQ_INT(s.late, 1);
  mc_ajb_free(j);

  /* jitter: every 5th packet 100 ms late -> target grows past 100 ms;
   * 2 s of steady arrivals do not make it forget; 20 s do */
  CHECK_EQ_INT(mc_ajb_new(NULL, &j), MC_OK);
  t = 0;
  uint32_t ts = 0;
  for (int i = 0; i < 200; i++) {
    t += 20;
    ts += 960;
    mc_ajb_push(j, (uint16_t)i, ts, pkt, 4, t + (i % 5 == 0 ? 100 : 0));
    mc_ajb_pop(j, t, out, sizeof out, &len, &st);
  }
  mc_ajb_get_stats(j, &s);
  CHECK(s.target_ms >= 110 && s.target_ms <= 130);
  uint32_t high = s.target_ms;
  for (int i = 200; i < 300; i++) { /* 2 s steady */
    t += 20;
    ts += 960;
    mc_ajb_push(j, (uint16_t)i, ts, pkt, 4, t);
    mc_ajb_pop(j, t, out, sizeof out, &len, &st);
  }
  mc_ajb_get_stats(j, &s);
  CHECK_EQ_INT(s.target_ms, high);
  for (int i = 300; i < 1300; i++) { /* 20 s more */
    t += 20;
    ts += 960;
    mc_ajb_push(j, (uint16_t)i, ts, pkt, 4, t);
    mc_ajb_pop(j, t, out, sizeof out, &len, &st);
  }
  mc_ajb_get_stats(j, &s);
  CHECK_EQ_INT(s.target_ms, 40);
  CHECK(s.level_ms <= 40 + 40); /* (no answers to its wishes: dropped) */
  /* a queue that builds (150 ms within a second) and then stands: few
   * late packets while it builds (the buffer waits for them), then the
   * delay over the recent fastest packet is small again, and within 30 s
   * so is the target */
  uint64_t late_before = s.late;
  for (int i = 1300; i < 2800; i++) {
    t += 20;
    ts += 960;
    uint64_t queue = i < 1350 ? (uint64_t)(i - 1300) * 3 : 150;
    mc_ajb_push(j, (uint16_t)i, ts, pkt, 4, t + queue);
    mc_ajb_pop(j, t, out, sizeof out, &len, &st);
    if (i == 1360) {
      mc_ajb_get_stats(j, &s);
      CHECK(s.target_ms >= 100); /* while it builds: covered */
    }
    if (i == 1800) {
      mc_ajb_get_stats(j, &s);
      CHECK(s.target_ms >= 100); /* 9 s later: remembered */
    }
  }
  mc_ajb_get_stats(j, &s);
  CHECK(s.target_ms <= 60);
  CHECK(s.late - late_before < 25);
  mc_ajb_free(j);
}

/* A player as call_media.c's: pops while it holds under a frame, plays one
 * frame a tick, and answers each wish with a stretch of one 10 ms period
 * (it always can: a steady voice). */
struct ajb_player {
  mc_ajb *j;
  int pending; /* samples decoded, not played */
  uint64_t ticks, frames, silent, missing, fallback, waited;
};

static void ajb_player_tick(struct ajb_player *p, uint64_t now_ms, bool can_stretch) {
  uint8_t out[64];
  size_t len;
  enum mc_ajb_status st;
  while (p->pending < 960) {
    if (mc_ajb_pop(p->j, now_ms, out, sizeof out, &len, &st) != MC_OK) break;
    if (st == MC_AJB_BUFFERING) break;
    int n = 960;
    if (st == MC_AJB_MISSING) p->missing++;
    if (st == MC_AJB_STRETCH) p->fallback++;
    if (st == MC_AJB_WAITING) p->waited++;
    if (st == MC_AJB_FRAME) {
      p->frames++;
      enum mc_ajb_wish w = mc_ajb_wish(p->j);
      int ch = !can_stretch || w == MC_AJB_KEEP ? 0 : w == MC_AJB_SLOWER ? 480 : -480;
      if (w != MC_AJB_KEEP) mc_ajb_stretched(p->j, ch);
      n += ch;
    }
    p->pending += n;
  }
  p->ticks++;
  if (p->pending >= 960) p->pending -= 960;
  else p->silent++;
}

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

/* The delay follows the jitter by stretching, and holds still while the
 * jitter does not change: packets each delayed 0-60 ms at random (uniform)
 * for 30 s stretch under 0.5% of the audio once the delay is found. The
 * buffer's fill level under that jitter swings by 60 ms at every packet;
 * the level-driven policy before (hold a frame when more than a frame
 * under target, drop one when two over) played 2-4% of it as inserted
 * concealment and dropped as much. */
static void test_ajb_stretch(void) {
  struct ajb_player p = {0};
  CHECK_EQ_INT(mc_ajb_new(NULL, &p.j), MC_OK);
  uint8_t pkt[4] = {0xf8, 0, 0, 0};
  uint32_t seed = 7, ts = 0;
  uint64_t t = 1000;
  struct mc_ajb_stats s0, s;
  for (int i = 0; i < 1500; i++, t += 20, ts += 960) {
    mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t + lcg(&seed) % 61);
    if (i == 250) mc_ajb_get_stats(p.j, &s0); /* the delay found after 5 s */
    ajb_player_tick(&p, t, true);
  }
  mc_ajb_get_stats(p.j, &s);
  CHECK(s.target_ms >= 70 && s.target_ms <= 100);
  CHECK(s.delay_ms >= (int32_t)s.target_ms && s.delay_ms <= (int32_t)s.target_ms + 40);
  uint64_t changed = s.inserted - s0.inserted + s.removed - s0.removed;
  CHECK(changed * 200 < (uint64_t)1250 * 960); /* under 0.5% of 25 s */
  if (changed * 200 >= (uint64_t)1250 * 960)
    fprintf(stderr, "stretched %llu samples in 25 s\n", (unsigned long long)changed);
  CHECK_EQ_INT(s.stretched, 0); /* no concealment inserted */
  CHECK_EQ_INT(s.dropped, 0);
  CHECK(s.late < 75); /* the 95th percentile is covered */
  /* lip sync raises the minimum: the delay grows by stretching, no
   * concealment inserted, nothing lost */
  mc_ajb_set_min_delay(p.j, 200);
  uint64_t missing_before = p.missing;
  for (int i = 1500; i < 1800; i++, t += 20, ts += 960) {
    mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t);
    ajb_player_tick(&p, t, true);
  }
  mc_ajb_get_stats(p.j, &s);
  CHECK(s.delay_ms >= 200 && s.delay_ms <= 240);
  CHECK_EQ_INT(s.stretched, 0);
  CHECK_EQ_INT(p.missing, missing_before);
  /* and back: the delay comes down by playing faster, nothing dropped
   * (once the jitter of the start is forgotten: 20 s) */
  mc_ajb_set_min_delay(p.j, 0);
  uint64_t removed_before = s.removed;
  for (int i = 1800; i < 2800; i++, t += 20, ts += 960) {
    mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t);
    ajb_player_tick(&p, t, true);
  }
  mc_ajb_get_stats(p.j, &s);
  CHECK_EQ_INT(s.target_ms, 40);
  CHECK(s.removed - removed_before >= 100 * 48);
  CHECK(s.delay_ms >= 40 && s.delay_ms <= 80);
  CHECK_EQ_INT(s.dropped, 0);
  CHECK_EQ_INT(p.missing, missing_before);
  /* audio that cannot be stretched: after 25 refusals the fallbacks, frames
   * of concealment to grow and dropped frames to shrink */
  mc_ajb_set_min_delay(p.j, 200);
  for (int i = 2800; i < 3100; i++, t += 20, ts += 960) {
    mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t);
    ajb_player_tick(&p, t, false);
  }
  mc_ajb_get_stats(p.j, &s);
  CHECK(s.stretched >= 4); /* as before stretching: within a frame of the target */
  CHECK(s.delay_ms >= 160);
  mc_ajb_set_min_delay(p.j, 0);
  for (int i = 3100; i < 3400; i++, t += 20, ts += 960) {
    mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t);
    ajb_player_tick(&p, t, false);
  }
  mc_ajb_get_stats(p.j, &s);
  CHECK(s.dropped >= 4);
  CHECK(s.delay_ms <= 100);
  mc_ajb_free(p.j);
}

/* A wish belongs to the frame popped with it: a pop that gives none
 * (buffering after a timestamp jump) carries none. */
static void test_ajb_wish_scope(void) {
  mc_ajb *j = NULL;
  CHECK_EQ_INT(mc_ajb_new(NULL, &j), MC_OK);
  uint8_t pkt[4] = {0xf8, 0, 0, 0}, out[64];
  size_t len;
  enum mc_ajb_status st;
  for (int i = 0; i < 4; i++) mc_ajb_push(j, (uint16_t)i, (uint32_t)i * 960, pkt, 4, 1000 + (uint64_t)i * 20);
  /* popped at once: the delay is under the target, slower wished */
  CHECK_EQ_INT(mc_ajb_pop(j, 1010, out, sizeof out, &len, &st), MC_OK);
  CHECK_EQ_INT(st, MC_AJB_FRAME);
  CHECK_EQ_INT(mc_ajb_wish(j), MC_AJB_SLOWER);
  mc_ajb_push(j, 4, 960 * 4 + 48000 * 60, pkt, 4, 1080); /* a minute later: re-buffering */
  CHECK_EQ_INT(mc_ajb_pop(j, 1080, out, sizeof out, &len, &st), MC_OK);
  CHECK_EQ_INT(st, MC_AJB_BUFFERING);
  CHECK_EQ_INT(mc_ajb_wish(j), MC_AJB_KEEP);
  mc_ajb_free(j);
}

/* A bottleneck queue that builds (0 to 150 ms in 2.5 s) and drains (in
 * 0.5 s) again and again, as rate500k's does: the delay is not cut after
 * each drain only to be grown again at the next build. With faster at a
 * fixed target + 40 ms: 49,000 samples stretched in 30 s (1.4%); at
 * NetEq's high limit (target + the spread of recent transits + 20 ms):
 * 0.7% in the first 5 s while the delay is found, 0.1% after. */
static void test_ajb_queue_cycles(void) {
  struct ajb_player p = {0};
  CHECK_EQ_INT(mc_ajb_new(NULL, &p.j), MC_OK);
  uint8_t pkt[4] = {0xf8, 0, 0, 0};
  uint32_t ts = 0;
  uint64_t t = 1000;
  struct mc_ajb_stats s0, s;
  for (int i = 0; i < 1750; i++, t += 20, ts += 960) {
    int ph = i % 150; /* 3 s cycles */
    uint64_t q = ph < 125 ? (uint64_t)ph * 6 / 5 : (uint64_t)(150 - ph) * 6;
    mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t + q);
    if (i == 250) mc_ajb_get_stats(p.j, &s0);
    ajb_player_tick(&p, t, true);
  }
  mc_ajb_get_stats(p.j, &s);
  uint64_t changed = s.inserted + s.removed - s0.inserted - s0.removed;
  CHECK(changed < 2400); /* 0.2% of the 25 s after the first 5 */
  if (changed >= 2400)
    fprintf(stderr, "queue cycles: %llu samples added, %llu removed\n", (unsigned long long)s.inserted,
            (unsigned long long)s.removed);
  CHECK(s.late - s0.late < 30);
  CHECK_EQ_INT(s.stretched, 0);
  CHECK_EQ_INT(s.dropped, 0);
  mc_ajb_free(p.j);
}

/* The lab's bottleneck at 500 kbit/s (arrival traces of rate500k calls):
 * 0-20 ms of jitter, and about every 10 s the sender's estimate overshoots
 * and a queue builds to 150-400 ms for 1-2 s. Modelled: every 10 s the
 * queue rises to 250 ms in 0.6 s, stands 0.6 s and drains in 0.3 s. After
 * the first episode the delay it needed is kept for the next (no growing
 * and shrinking with each), and packets held up in the queue are waited
 * for rather than counted late: with the delay over the fastest packet
 * of 1-2 s and a histogram forgetting in 2 s, the same 25 s stretched
 * 50,400 samples (4.2%). */
static void test_ajb_late_episodes(void) {
  struct ajb_player p = {0};
  CHECK_EQ_INT(mc_ajb_new(NULL, &p.j), MC_OK);
  uint8_t pkt[4] = {0xf8, 0, 0, 0};
  uint32_t seed = 11, ts = 0;
  uint64_t t = 1000;
  struct mc_ajb_stats s0, s;
  uint64_t silent0 = 0, waited0 = 0;
  for (int i = 0; i < 1500; i++, t += 20, ts += 960) {
    int ph = (i + 350) % 500; /* episodes from 3 s on, every 10 s */
    uint64_t q = ph < 30 ? (uint64_t)ph * 250 / 30 : ph < 60 ? 250 : ph < 75 ? (uint64_t)(75 - ph) * 250 / 15 : 0;
    mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t + q + lcg(&seed) % 21);
    if (i == 250) {
      mc_ajb_get_stats(p.j, &s0);
      silent0 = p.silent;
      waited0 = p.waited;
    }
    ajb_player_tick(&p, t, true);
  }
  mc_ajb_get_stats(p.j, &s);
  uint64_t changed = s.inserted + s.removed - s0.inserted - s0.removed;
  if (changed * 200 >= (uint64_t)1250 * 960 || s.late - s0.late > 5 || p.silent != silent0)
    fprintf(stderr, "late episodes: %llu samples stretched, %llu late, %llu silent, %llu waited\n",
            (unsigned long long)changed, (unsigned long long)(s.late - s0.late),
            (unsigned long long)(p.silent - silent0), (unsigned long long)(p.waited - waited0));
  CHECK(changed * 200 < (uint64_t)1250 * 960); /* under 0.5% of the 25 s */
  CHECK(s.late - s0.late <= 5);
  CHECK_EQ_INT(p.silent, silent0); /* no re-buffering */
  CHECK(p.waited - waited0 <= 25); /* 2% of the 25 s */
  CHECK_EQ_INT(s.stretched, 0);
  CHECK_EQ_INT(s.dropped, 0);
  mc_ajb_free(p.j);
}

/* A stall: for 120 ms nothing comes, then the packets held up arrive
 * together. The buffer waits for the first of them (WAITING, concealed
 * without moving on) instead of giving its slot up as MISSING and then
 * counting it and the ones behind it late: every packet is played. Moving
 * on, 4 of the 6 were late. */
static void test_ajb_waits_for_late(void) {
  struct ajb_player p = {0};
  CHECK_EQ_INT(mc_ajb_new(NULL, &p.j), MC_OK);
  uint8_t pkt[4] = {0xf8, 0, 0, 0};
  uint32_t ts = 0;
  uint64_t t = 1000;
  int pushed = 0;
  for (int i = 0; i < 300; i++, t += 20, ts += 960) {
    if (i < 100 || i > 105) {
      mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t);
      pushed++;
    }
    if (i == 106)
      for (int k = 100; k <= 105; k++, pushed++)
        mc_ajb_push(p.j, (uint16_t)k, (uint32_t)k * 960, pkt, 4, t);
    ajb_player_tick(&p, t, true);
  }
  struct mc_ajb_stats s;
  mc_ajb_get_stats(p.j, &s);
  CHECK_EQ_INT(s.late, 0);
  CHECK(p.waited >= 2);
  CHECK_EQ_INT(p.missing, 0);
  CHECK_EQ_INT(p.frames + s.level_ms / 20, (uint64_t)pushed); /* played or still waiting to be */
  mc_ajb_free(p.j);
}

/* A loss burst looks like a late packet while it lasts (nothing comes),
 * but the packets after it arrive on time: the concealment played while
 * waiting stands in for the lost frames, and the delay does not grow (nor
 * has to be cut again). Without that, 8 lost frames were waited for and
 * then concealed again, and the delay grew by 160 ms. */
static void test_ajb_loss_burst(void) {
  struct ajb_player p = {0};
  CHECK_EQ_INT(mc_ajb_new(NULL, &p.j), MC_OK);
  uint8_t pkt[4] = {0xf8, 0, 0, 0};
  uint32_t ts = 0;
  uint64_t t = 1000;
  struct mc_ajb_stats s0, s;
  for (int i = 0; i < 300; i++, t += 20, ts += 960) {
    if (i < 100 || i >= 108) mc_ajb_push(p.j, (uint16_t)i, ts, pkt, 4, t);
    if (i == 99) mc_ajb_get_stats(p.j, &s0);
    ajb_player_tick(&p, t, true);
  }
  mc_ajb_get_stats(p.j, &s);
  CHECK(p.waited + p.missing <= 9); /* each lost frame concealed once */
  CHECK(s.delay_ms <= s0.delay_ms + 20);
  CHECK_EQ_INT(s.removed, s0.removed);
  CHECK_EQ_INT(s.late, 0);
  mc_ajb_free(p.j);
}

/* ------------------------------------------------------ TWCC recorder */

static void test_twcc_recorder(void) {
  mc_twcc_recorder *r = NULL;
  CHECK_EQ_INT(mc_twcc_recorder_new(0x42, &r), MC_OK);
  uint8_t buf[1500];
  size_t n;
  CHECK_EQ_INT(mc_twcc_recorder_build(r, buf, sizeof buf, &n), MC_ENOTFOUND);
  /* 65530 .. 5 across the wrap, 2 lost, 65534 arrives after 0 */
  uint64_t base = 10000000;
  for (int i = 0; i < 12; i++) {
    uint16_t s = (uint16_t)(65530 + i);
    if (s == 2 || s == 65534) continue;
    mc_twcc_recorder_record(r, s, 0x77, base + (uint64_t)i * 1000);
  }
  mc_twcc_recorder_record(r, 65534, 0x77, base + 4 * 1000 + 7000);
  CHECK_EQ_INT(mc_twcc_recorder_build(r, buf, sizeof buf, &n), MC_OK);
  struct collected c = {0};
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_TWCC);
  CHECK_EQ_INT(c.p[0].u.twcc.sender_ssrc, 0x42);
  CHECK_EQ_INT(c.p[0].u.twcc.media_ssrc, 0x77);
  CHECK_EQ_INT(c.p[0].u.twcc.base_seq, 65530);
  CHECK_EQ_INT(c.p[0].u.twcc.status_count, 12);
  CHECK_EQ_INT(c.p[0].u.twcc.fb_count, 0);
  struct mc_twcc_status st[12];
  size_t sn;
  CHECK_EQ_INT(mc_rtcp_twcc_decode(&c.p[0].u.twcc, st, 12, &sn), MC_OK);
  int64_t ref = st[0].arrival_us - (int64_t)base;
  for (int i = 0; i < 12; i++) {
    CHECK_EQ_INT(st[i].received, i != 8);
    if (!st[i].received) continue;
    int64_t want = (int64_t)base + i * 1000 + (i == 4 ? 7000 : 0);
    CHECK_EQ_INT(st[i].arrival_us - ref, want);
  }
  CHECK_EQ_INT(mc_twcc_recorder_build(r, buf, sizeof buf, &n), MC_ENOTFOUND);
  /* a late arrival for a reported seq is ignored; new ones continue */
  mc_twcc_recorder_record(r, 2, 0x77, base + 20000);
  CHECK_EQ_INT(mc_twcc_recorder_build(r, buf, sizeof buf, &n), MC_ENOTFOUND);
  /* a 10 s silence between two packets: two feedback packets */
  mc_twcc_recorder_record(r, 6, 0x77, base + 30000);
  mc_twcc_recorder_record(r, 7, 0x77, base + 30000 + 10000000);
  CHECK_EQ_INT(mc_twcc_recorder_build(r, buf, sizeof buf, &n), MC_OK);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.twcc.base_seq, 6);
  CHECK_EQ_INT(c.p[0].u.twcc.status_count, 1);
  CHECK_EQ_INT(c.p[0].u.twcc.fb_count, 1);
  CHECK_EQ_INT(mc_twcc_recorder_build(r, buf, sizeof buf, &n), MC_OK);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.twcc.base_seq, 7);
  CHECK_EQ_INT(c.p[0].u.twcc.fb_count, 2);
  CHECK_EQ_INT(mc_twcc_recorder_build(r, buf, sizeof buf, &n), MC_ENOTFOUND);
  /* many packets into a small buffer: split into several */
  for (int i = 0; i < 1000; i++) mc_twcc_recorder_record(r, (uint16_t)(8 + i), 0x77, base + 20000000 + i * 500);
  int packets = 0;
  size_t covered = 0;
  while (mc_twcc_recorder_build(r, buf, 200, &n) == MC_OK) {
    CHECK(n <= 200);
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
    CHECK_EQ_INT(c.p[0].u.twcc.base_seq, 8 + covered);
    covered += c.p[0].u.twcc.status_count;
    packets++;
  }
  CHECK_EQ_INT(covered, 1000);
  CHECK(packets > 1);
  mc_twcc_recorder_free(r);
}

/* ------------------------------------------------------- more edges */

static void test_edges(void) {
  uint8_t buf[1500];
  size_t n;
  struct collected c;

  /* SR with a profile-specific extension after its blocks, SDES with two
   * chunks and items other than CNAME (RFC 3550 6.5) */
  const uint8_t sr_ext[] = {0x80, 0xc8, 0x00, 0x07, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8,
                            0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 11, 0xde, 0xad, 0xbe, 0xef};
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(sr_ext, sizeof sr_ext, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.sr.ntp, 0x0102030405060708ull);
  CHECK_EQ_INT(c.p[0].u.sr.octet_count, 11);
  const uint8_t sdes2[] = {0x82, 0xca, 0x00, 0x06,
                           0, 0, 0, 1, 6, 2, 'h', 'i', 1, 1, 'a', 0, /* TOOL "hi", CNAME "a" */
                           0, 0, 0, 2, 1, 2, 'b', 'c', 0, 0, 0, 0};  /* CNAME "bc" */
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(sdes2, sizeof sdes2, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.sdes.chunk_count, 2);
  CHECK_EQ_INT(c.p[0].u.sdes.chunk[0].cname_len, 1);
  CHECK_EQ_INT(c.p[0].u.sdes.chunk[0].cname[0], 'a');
  CHECK_EQ_INT(c.p[0].u.sdes.chunk[1].ssrc, 2);
  CHECK_EQ_INT(c.p[0].u.sdes.chunk[1].cname_len, 2);
  /* a chunk without its END octet */
  uint8_t sdes_bad[sizeof sdes2];
  memcpy(sdes_bad, sdes2, sizeof sdes2);
  sdes_bad[3] = 0x04; /* cut after the first chunk's items: no END */
  CHECK_EQ_INT(mc_rtcp_parse(sdes_bad, 20, NULL, NULL), MC_EPARSE);
  /* padding in the last packet */
  uint8_t padded[16] = {0xa1, 0xce, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 4};
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(padded, sizeof padded, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].kind, MC_RTCP_KIND_PLI);
  padded[15] = 13; /* more padding than the packet holds */
  CHECK_EQ_INT(mc_rtcp_parse(padded, sizeof padded, NULL, NULL), MC_EPARSE);
  /* cumulative lost clamps to 24 bits signed */
  struct mc_rtcp_rr rr = {.ssrc = 1, .rb_count = 1};
  rr.rb[0].cumulative_lost = 0x7fffffff;
  CHECK_EQ_INT(mc_rtcp_write_rr(&rr, buf, sizeof buf, &n), MC_OK);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(buf, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.rr.rb[0].cumulative_lost, 0x7fffff);
  /* writers refuse short buffers */
  CHECK_EQ_INT(mc_rtcp_write_rr(&rr, buf, 31, &n), MC_ETOOBIG);
  CHECK_EQ_INT(mc_rtcp_write_pli(1, 2, buf, 11, &n), MC_ETOOBIG);
  CHECK_EQ_INT(mc_rtcp_write_sdes_cname(1, "", buf, sizeof buf, &n), MC_EINVAL);

  /* history: a newer packet with the same slot replaces the older */
  mc_rtp_history *h = NULL;
  struct mc_rtp_history_config hc = {.capacity = 4, .rtx_ssrc = 2, .rtx_pt = 97};
  CHECK_EQ_INT(mc_rtp_history_new(&hc, &h), MC_OK);
  for (uint16_t s = 10; s < 16; s++) {
    struct mc_rtp_packet p;
    memset(&p, 0, sizeof p);
    p.h.seq = s;
    p.h.pt = 96;
    uint8_t pl[2] = {(uint8_t)s, 0};
    p.payload = pl;
    p.payload_len = 2;
    CHECK_EQ_INT(mc_rtp_write(&p, buf, sizeof buf, &n), MC_OK);
    CHECK_EQ_INT(mc_rtp_history_put(h, buf, n, s), MC_OK);
  }
  CHECK_EQ_INT(mc_rtp_history_rtx(h, 11, 20, buf, sizeof buf, &n), MC_ENOTFOUND);
  CHECK_EQ_INT(mc_rtp_history_rtx(h, 15, 20, buf, sizeof buf, &n), MC_OK);
  CHECK_EQ_INT(n, 12 + 2 + 2);
  CHECK_EQ_INT(mc_rtp_history_put(h, buf, 5, 0), MC_EPARSE);
  mc_rtp_history_free(h);
  hc.capacity = 6;
  CHECK_EQ_INT(mc_rtp_history_new(&hc, &h), MC_EINVAL);

  /* video: a gap wider than the NACK list waits for a key frame and asks
   * for it at once */
  mc_vjb *j = NULL;
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  uint8_t st[3];
  int frames[4];
  struct mc_vjb_packet p = vpkt(0, 0, 0, 1, true, st);
  p.marker = true;
  mc_vjb_push(j, &p, 0);
  CHECK_EQ_INT(pop_all(j, 0, frames, 4), 1);
  p = vpkt(0, 800, 0, 1, false, st);
  p.marker = true;
  mc_vjb_push(j, &p, 10);
  uint16_t nl[16];
  size_t nn;
  CHECK_EQ_INT(mc_vjb_nack_list(j, 10, nl, 16, &nn), MC_OK);
  CHECK_EQ_INT(nn, 0);
  CHECK_EQ_INT(pop_all(j, 10, frames, 4), 0);
  CHECK(mc_vjb_keyframe_request(j, 10));
  /* padding-only packets between frames keep the chain going */
  mc_vjb_free(j);
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  for (int f = 0; f < 3; f++) {
    p = vpkt(0, f * 2, 0, 1, f == 0, st); /* seq 0, 2, 4 */
    p.marker = true;
    mc_vjb_push(j, &p, 0);
  }
  const uint8_t padonly[] = {0xa0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4};
  struct mc_rtp_packet rp;
  CHECK_EQ_INT(mc_rtp_parse(padonly, sizeof padonly, &rp), MC_OK);
  CHECK_EQ_INT(mc_vjb_push_vp8(j, &rp, 0), MC_OK); /* seq 1 */
  CHECK_EQ_INT(pop_all(j, 0, frames, 4), 2);
  rp.h.seq = 3;
  CHECK_EQ_INT(mc_vjb_push_vp8(j, &rp, 0), MC_OK);
  CHECK_EQ_INT(pop_all(j, 0, frames, 4), 1);
  CHECK_EQ_INT(frames[0], 4);
  /* packets of one "frame" with different timestamps never make a frame */
  mc_vjb_free(j);
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  p = vpkt(0, 0, 0, 2, true, st);
  mc_vjb_push(j, &p, 0);
  p = vpkt(0, 0, 1, 2, true, st);
  p.ts += 1;
  mc_vjb_push(j, &p, 0);
  CHECK_EQ_INT(pop_all(j, 0, frames, 4), 0);
  /* the NACK list is bounded by cap and by the capacity window */
  mc_vjb_free(j);
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  p = vpkt(0, 0, 0, 1, true, st);
  mc_vjb_push(j, &p, 0);
  p = vpkt(0, 40, 0, 1, false, st);
  mc_vjb_push(j, &p, 0);
  CHECK_EQ_INT(mc_vjb_nack_list(j, 0, nl, 16, &nn), MC_OK);
  CHECK_EQ_INT(nn, 16);
  CHECK_EQ_INT(nl[0], 1);
  CHECK_EQ_INT(mc_vjb_nack_list(j, 0, nl, 16, &nn), MC_OK);
  CHECK_EQ_INT(nn, 16);
  CHECK_EQ_INT(nl[0], 17);
  mc_vjb_free(j);
  struct mc_vjb_config bad = {.capacity = 1000};
  CHECK_EQ_INT(mc_vjb_new(&bad, &j), MC_EINVAL);

  /* audio: an underrun re-buffers; a timestamp jump (pause) starts again */
  mc_ajb *a = NULL;
  CHECK_EQ_INT(mc_ajb_new(NULL, &a), MC_OK);
  uint8_t pk[2] = {0xf8, 0}, out[8];
  size_t len;
  enum mc_ajb_status as;
  for (int i = 0; i < 3; i++) mc_ajb_push(a, (uint16_t)i, (uint32_t)i * 960, pk, 2, (uint64_t)i * 20);
  int statuses[MC_AJB_WAITING + 1] = {0};
  for (int i = 0; i < 14; i++) {
    CHECK_EQ_INT(mc_ajb_pop(a, 40 + (uint64_t)i * 20, out, sizeof out, &len, &as), MC_OK);
    statuses[as]++;
  }
  CHECK_EQ_INT(statuses[MC_AJB_FRAME], 3);
  CHECK_EQ_INT(statuses[MC_AJB_WAITING], 10); /* nothing after: late, waited for */
  CHECK_EQ_INT(statuses[MC_AJB_BUFFERING], 1);
  mc_ajb_push(a, 3, 960 * 3 + 48000 * 60, pk, 2, 400); /* a minute later */
  CHECK_EQ_INT(mc_ajb_pop(a, 400, out, sizeof out, &len, &as), MC_OK);
  CHECK_EQ_INT(as, MC_AJB_BUFFERING);
  mc_ajb_push(a, 4, 960 * 4 + 48000 * 60, pk, 2, 420);
  CHECK_EQ_INT(mc_ajb_pop(a, 420, out, sizeof out, &len, &as), MC_OK);
  CHECK_EQ_INT(as, MC_AJB_FRAME);
  CHECK_EQ_INT(mc_ajb_pop(a, 440, out, 1, &len, &as), MC_ETOOBIG);
  CHECK_EQ_INT(len, 2);
  CHECK_EQ_INT(mc_ajb_push(a, 5, 0, pk, 0, 440), MC_EPARSE);
  mc_ajb_free(a);

  /* TWCC recorder: a span longer than it holds keeps the newest */
  mc_twcc_recorder *r = NULL;
  CHECK_EQ_INT(mc_twcc_recorder_new(1, &r), MC_OK);
  for (int i = 0; i < 3000; i++) mc_twcc_recorder_record(r, (uint16_t)i, 2, 1000000 + (uint64_t)i * 100);
  static uint8_t big[16384];
  CHECK_EQ_INT(mc_twcc_recorder_build(r, big, sizeof big, &n), MC_OK);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_rtcp_parse(big, n, collect, &c), MC_OK);
  CHECK_EQ_INT(c.p[0].u.twcc.base_seq, 3000 - MC_TWCC_MAX_PACKETS);
  CHECK_EQ_INT(c.p[0].u.twcc.status_count, MC_TWCC_MAX_PACKETS);
  mc_twcc_recorder_free(r);
}

/* A lossy network for the video jitter buffer: 10 % loss, 2 % duplicates,
 * 0-15 ms of reordering, NACKs answered after a 20 ms round trip (the
 * retransmissions lost 10 % too), a key frame every 100 frames and on
 * request. Whatever comes out must be decodable: intact frames in
 * increasing order, the first a key frame, and any jump landing on a key
 * frame. */
struct sim_pkt {
  uint64_t at;
  struct mc_vjb_packet p;
  uint8_t data[8];
};

static uint32_t sim_rand(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static void vjb_lossy_network(unsigned loss, unsigned rtx_loss, bool harsh) {
  enum { FRAMES = 1500, MAXQ = 4096 };
  mc_vjb *j = NULL;
  CHECK_EQ_INT(mc_vjb_new(NULL, &j), MC_OK);
  mc_vjb_set_rtt(j, 20);
  static struct sim_pkt q[MAXQ];
  static struct sim_pkt sent[65536]; /* by seq: the sender's history */
  static bool is_key[FRAMES];
  size_t nq = 0;
  uint32_t rs = 0xdecafbad;
  uint16_t seq = 65000;
  bool force_key = false;
  int last_index = -1, out = 0, bad_order = 0, bad_data = 0, bad_jump = 0;
  bool first_key = true;
  uint8_t buf[64];
  for (uint64_t now = 0; now < (uint64_t)FRAMES * 33 + 1000; now++) {
    if (now % 33 == 0 && now / 33 < FRAMES) { /* the sender makes a frame */
      int f = (int)(now / 33);
      bool key = f % 100 == 0 || force_key;
      force_key = false;
      is_key[f] = key;
      int per = 1 + (int)(sim_rand(&rs) % 5);
      for (int k = 0; k < per; k++) {
        struct sim_pkt sp;
        memset(&sp, 0, sizeof sp);
        sp.data[0] = (uint8_t)f;
        sp.data[1] = (uint8_t)(f >> 8);
        sp.data[2] = (uint8_t)k;
        sp.p = (struct mc_vjb_packet){.seq = seq, .ts = (uint32_t)f * 3000, .marker = k == per - 1,
                                      .frame_start = k == 0, .keyframe = key, .len = 3};
        sent[seq] = sp;
        seq++;
        if (sim_rand(&rs) % 100 < loss) continue; /* lost */
        int copies = sim_rand(&rs) % 100 < 2 ? 2 : 1;
        for (int c = 0; c < copies && nq < MAXQ; c++) {
          sp.at = now + sim_rand(&rs) % 16;
          q[nq++] = sp;
        }
      }
    }
    /* deliveries due now */
    for (size_t i = 0; i < nq;) {
      if (q[i].at <= now) {
        struct mc_vjb_packet p = q[i].p;
        p.data = q[i].data;
        CHECK_EQ_INT(mc_vjb_push(j, &p, now), MC_OK);
        q[i] = q[--nq];
      } else {
        i++;
      }
    }
    if (now % 5 == 0) { /* the receiver's timer */
      uint16_t nl[128];
      size_t nn;
      mc_vjb_nack_list(j, now, nl, 128, &nn);
      for (size_t k = 0; k < nn && nq < MAXQ; k++) {
        if (sim_rand(&rs) % 100 < rtx_loss) continue;
        q[nq] = sent[nl[k]];
        q[nq].at = now + 20;
        nq++;
      }
      if (mc_vjb_keyframe_request(j, now)) force_key = true;
    }
    struct mc_vjb_frame fr;
    while (mc_vjb_pop(j, now, buf, sizeof buf, &fr) == MC_OK) {
      int f = buf[0] | buf[1] << 8;
      if (f <= last_index) bad_order++;
      if (f != last_index + 1 && !is_key[f]) bad_jump++;
      if (first_key && !is_key[f]) bad_jump++;
      first_key = false;
      if (fr.keyframe != is_key[f] || fr.ts != (uint32_t)f * 3000 || fr.len % 3) bad_data++;
      for (size_t b = 0; b < fr.len; b += 3)
        if (buf[b] != buf[0] || buf[b + 1] != buf[1] || buf[b + 2] != b / 3) bad_data++;
      last_index = f;
      out++;
    }
  }
  CHECK_EQ_INT(bad_order, 0);
  CHECK_EQ_INT(bad_data, 0);
  CHECK_EQ_INT(bad_jump, 0);
  struct mc_vjb_stats st;
  mc_vjb_get_stats(j, &st);
  if (harsh) { /* frames are lost for good: skipped, and key frames asked for */
    CHECK(st.frames_dropped > 0);
    CHECK(st.keyframe_requests > 0);
    CHECK(out >= FRAMES / 4);
  } else {
    CHECK(out >= FRAMES * 9 / 10); /* NACK repairs nearly all of 10 % loss */
  }
  CHECK(st.nacks_sent > 0);
  CHECK(st.duplicates > 0);
  fprintf(stderr, "lossy network (loss %u%%, rtx loss %u%%): %d/%d frames out, %llu dropped, %llu NACKs, %llu PLIs\n", loss, rtx_loss, out, FRAMES,
          (unsigned long long)st.frames_dropped, (unsigned long long)st.nacks_sent,
          (unsigned long long)st.keyframe_requests);
  mc_vjb_free(j);
}

static void test_vjb_lossy_network(void) {
  vjb_lossy_network(10, 10, false);
  vjb_lossy_network(30, 60, true);
}

int main(void) {
  test_rtp_vector();
  test_rtp_roundtrip();
  test_rtp_malformed();
  test_seq_wrap();
  test_rtcp_reports();
  test_rtcp_feedback();
  test_twcc_codec();
  test_rtt();
  test_stats();
  test_vp8();
  test_vjb_order();
  test_vjb_slow_frame();
  test_vjb_nack();
  test_vjb_pli();
  test_rtx_end_to_end();
  test_ajb();
  test_ajb_stretch();
  test_ajb_queue_cycles();
  test_ajb_late_episodes();
  test_ajb_waits_for_late();
  test_ajb_loss_burst();
  test_ajb_wish_scope();
  test_twcc_recorder();
  test_edges();
  test_vjb_lossy_network();
  return CHECK_DONE();
}
