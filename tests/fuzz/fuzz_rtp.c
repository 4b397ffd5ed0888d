/* libFuzzer target: RTP parse (RFC 3550 5.1, RFC 8285) of arbitrary bytes;
 * what parses is written back and must parse to the same fields. The VP8
 * descriptor (RFC 7741) of the payload, RTX unwrapping (RFC 4588), and the
 * video jitter buffer fed with the input cut into packets (2-byte length
 * prefixes) under a fake clock. */
#include <stdlib.h>
#include <string.h>

#include "rtp/rtp.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

static void same(const struct mc_rtp_packet *a, const struct mc_rtp_packet *b) {
  FUZZ_ASSERT(a->h.marker == b->h.marker && a->h.pt == b->h.pt && a->h.seq == b->h.seq);
  FUZZ_ASSERT(a->h.ts == b->h.ts && a->h.ssrc == b->h.ssrc && a->h.csrc_count == b->h.csrc_count);
  for (unsigned i = 0; i < a->h.csrc_count; i++) FUZZ_ASSERT(a->h.csrc[i] == b->h.csrc[i]);
  FUZZ_ASSERT(a->h.ext_profile == b->h.ext_profile && a->h.ext_count == b->h.ext_count);
  for (unsigned i = 0; i < a->h.ext_count; i++) {
    FUZZ_ASSERT(a->h.ext[i].id == b->h.ext[i].id && a->h.ext[i].len == b->h.ext[i].len);
    FUZZ_ASSERT(memcmp(a->h.ext[i].data, b->h.ext[i].data, a->h.ext[i].len) == 0);
  }
  FUZZ_ASSERT(a->h.ext_raw_len == b->h.ext_raw_len);
  if (a->h.ext_raw_len) FUZZ_ASSERT(memcmp(a->h.ext_raw, b->h.ext_raw, a->h.ext_raw_len) == 0);
  FUZZ_ASSERT(a->payload_len == b->payload_len && a->padding_len == b->padding_len);
  if (a->payload_len) FUZZ_ASSERT(memcmp(a->payload, b->payload, a->payload_len) == 0);
}

static void one_packet(const uint8_t *data, size_t size) {
  struct mc_rtp_packet p, q;
  if (mc_rtp_parse(data, size, &p) != MC_OK) return;
  FUZZ_ASSERT(p.payload >= data && p.payload + p.payload_len + p.padding_len <= data + size);
  size_t need = mc_rtp_write_len(&p);
  uint8_t *buf = malloc(need + 1);
  FUZZ_ASSERT(buf);
  size_t n = 0;
  FUZZ_ASSERT(mc_rtp_write(&p, buf, need, &n) == MC_OK);
  FUZZ_ASSERT(n == need && n <= size); /* canonical form never grows */
  FUZZ_ASSERT(mc_rtp_parse(buf, n, &q) == MC_OK);
  same(&p, &q);
  if (n) FUZZ_ASSERT(mc_rtp_write(&p, buf, n - 1, &n) == MC_ETOOBIG);
  free(buf);

  char mid[300];
  uint32_t v32;
  uint16_t v16;
  for (uint8_t id = 1; id < 16; id++) {
    (void)mc_rtp_ext_get_mid(&p.h, id, mid, sizeof mid);
    (void)mc_rtp_ext_get_abs_send_time(&p.h, id, &v32);
    (void)mc_rtp_ext_get_twcc_seq(&p.h, id, &v16);
  }

  struct mc_vp8_descriptor d;
  if (mc_vp8_parse_descriptor(p.payload, p.payload_len, &d) == MC_OK) {
    FUZZ_ASSERT(d.header_len >= 1 && d.header_len < p.payload_len && d.header_len <= 6);
    FUZZ_ASSERT(!d.keyframe || d.frame_start);
  }

  /* RTX: unwrap, and the result is a packet that parses */
  uint8_t *orig = malloc(size + 16);
  FUZZ_ASSERT(orig);
  size_t ol = 0;
  if (mc_rtx_unwrap(data, size, 0x1234, 96, orig, size + 16, &ol) == MC_OK) {
    FUZZ_ASSERT(mc_rtp_parse(orig, ol, &q) == MC_OK);
    FUZZ_ASSERT(q.h.ssrc == 0x1234 && q.h.pt == 96 && q.h.seq == mc_get_be16(p.payload));
    FUZZ_ASSERT(q.payload_len + 2 == p.payload_len);
  }
  free(orig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  one_packet(data, size);

  /* the input as a stream of length-prefixed VP8 packets into a jitter
   * buffer; 1 ms per packet on the fake clock */
  mc_vjb *j = NULL;
  struct mc_vjb_config cfg = {.capacity = 64};
  FUZZ_ASSERT(mc_vjb_new(&cfg, &j) == MC_OK);
  size_t off = 0;
  uint64_t now = 1000;
  static uint8_t frame[1 << 17];
  while (size - off >= 2) {
    size_t n = mc_get_be16(data + off);
    off += 2;
    if (n > size - off) n = size - off;
    struct mc_rtp_packet p;
    if (mc_rtp_parse(data + off, n, &p) == MC_OK) (void)mc_vjb_push_vp8(j, &p, now);
    off += n;
    now += 7;
    struct mc_vjb_frame fr;
    while (mc_vjb_pop(j, now, frame, sizeof frame, &fr) == MC_OK) FUZZ_ASSERT(fr.len <= size);
    uint16_t nl[64];
    size_t nn;
    FUZZ_ASSERT(mc_vjb_nack_list(j, now, nl, 64, &nn) == MC_OK && nn <= 64);
    (void)mc_vjb_keyframe_request(j, now);
  }
  mc_vjb_free(j);
  return 0;
}
