/* SDP parser/writer (src/sdp): Chromium's captured offers and answers parse
 * to the expected fields, write -> parse round-trips to an equal model,
 * malformed input is rejected with the right line number, unknown lines are
 * tolerated. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ice/ice.h"
#include "sdp/sdp.h"

static char *read_fixture(const char *name, size_t *len) {
  /* __FILE__ is tests/unit/test_sdp.c relative to the build root (meson's cwd
   * for tests) or absolute: the fixtures sit two directories up. */
  char path[1024];
  const char *f = __FILE__;
  const char *cut = strstr(f, "tests/unit/test_sdp.c");
  int plen = cut ? (int)(cut - f) : 0;
  snprintf(path, sizeof path, "%.*stests/fixtures/sdp/%s", plen, f, name);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    fprintf(stderr, "cannot open %s\n", path);
    return NULL;
  }
  char *buf = malloc(65536);
  *len = buf ? fread(buf, 1, 65535, fp) : 0;
  fclose(fp);
  if (buf) buf[*len] = '\0';
  return buf;
}

static int parse_str(const char *s, mc_sdp *out, int *line, char *why, size_t cap) {
  return mc_sdp_parse((const uint8_t *)s, strlen(s), out, line, why, cap);
}

static void check_roundtrip(const mc_sdp *a) {
  static char text[256 * 1024];
  size_t n = 0;
  mc_sdp *b = calloc(1, sizeof *b);
  CHECK_EQ_INT(mc_sdp_write(a, text, sizeof text, &n), 0);
  CHECK(n == strlen(text));
  CHECK(n > 2 && text[n - 2] == '\r' && text[n - 1] == '\n');
  int line = 0;
  char why[128];
  CHECK_EQ_INT(mc_sdp_parse((const uint8_t *)text, n, b, &line, why, sizeof why), 0);
  CHECK(mc_sdp_equal(a, b));
  /* a buffer one byte short is refused, not truncated */
  char small[64];
  CHECK_EQ_INT(mc_sdp_write(a, small, sizeof small, NULL), MC_ETOOBIG);
  /* counts beyond the arrays are refused, not followed */
  memcpy(b, a, sizeof *b);
  b->media[0].fmt_count = MC_SDP_MAX_FMT + 1;
  CHECK_EQ_INT(mc_sdp_write(b, text, sizeof text, NULL), MC_EINVAL);
  free(b);
}

static mc_sdp *parse_fixture(const char *name) {
  size_t len = 0;
  char *buf = read_fixture(name, &len);
  CHECK(buf != NULL);
  if (!buf) return NULL;
  mc_sdp *s = calloc(1, sizeof *s);
  int line = -1;
  char why[128] = "";
  int rc = mc_sdp_parse((const uint8_t *)buf, len, s, &line, why, sizeof why);
  if (rc) fprintf(stderr, "%s: line %d: %s\n", name, line, why);
  CHECK_EQ_INT(rc, 0);
  free(buf);
  return s;
}

static const uint8_t fp_dc[32] = {0x31, 0x8A, 0x77, 0xE9, 0x2D, 0xB7, 0x67, 0x79, 0xF8, 0x66, 0x22,
                                  0x47, 0x44, 0x8F, 0xE4, 0x7B, 0xE2, 0xC1, 0xCA, 0x31, 0x7D, 0xAB,
                                  0x78, 0xF9, 0x24, 0xE7, 0x94, 0x0A, 0x02, 0x99, 0x98, 0xF4};
static const uint8_t fp_offer[32] = {0xFB, 0x6A, 0x04, 0x46, 0x63, 0xC8, 0x6E, 0xC6, 0x82, 0xAB, 0x78,
                                     0x51, 0xD0, 0xB9, 0xD0, 0x48, 0xD9, 0x44, 0xF8, 0x6C, 0x25, 0xE8,
                                     0x8B, 0xC9, 0x99, 0x4A, 0xF5, 0xE7, 0x59, 0xFD, 0x4C, 0xF9};
static const uint8_t fp_answer[32] = {0xBA, 0x52, 0x02, 0x35, 0xCC, 0x48, 0xCF, 0xDD, 0x47, 0x27, 0xAB,
                                      0x56, 0x3C, 0x1D, 0x42, 0x85, 0x0F, 0xF1, 0xC2, 0x29, 0x97, 0x10,
                                      0xEE, 0xB4, 0xAF, 0xB7, 0x6E, 0x28, 0xD0, 0xF8, 0x01, 0xAD};

static void test_datachannel_offer(void) {
  mc_sdp *s = parse_fixture("chrome-offer-datachannel.sdp");
  if (!s) return;
  CHECK_STR(s->origin_user, "-");
  CHECK_STR(s->origin_sess_version, "2");
  CHECK_STR(s->session_name, "-");
  CHECK_EQ_INT(s->group_count, 1);
  CHECK_STR(s->groups[0].semantics, "BUNDLE");
  CHECK_EQ_INT(s->groups[0].count, 1);
  CHECK_STR(s->groups[0].mids[0], "0");
  CHECK(s->extmap_allow_mixed);
  CHECK(s->has_msid_semantic);
  CHECK_STR(s->msid_semantic, " WMS");
  CHECK_EQ_INT(s->media_count, 1);
  const mc_sdp_media *m = mc_sdp_media_find(s, "0");
  CHECK(m != NULL);
  if (m) {
    CHECK_STR(m->media, "application");
    CHECK_EQ_INT(m->port, 9);
    CHECK_EQ_INT(m->proto, MC_SDP_PROTO_DTLS_SCTP);
    CHECK_EQ_INT(m->fmt_count, 1);
    CHECK_STR(m->fmts[0].fmt, "webrtc-datachannel");
    CHECK_EQ_INT(m->fmts[0].pt, -1);
    CHECK(m->conn.present);
    CHECK_STR(m->conn.address, "0.0.0.0");
    CHECK_STR(m->transport.ice_ufrag, "2Bs3");
    CHECK_STR(m->transport.ice_pwd, "4xuHt7uRIXC0SASVLSWXG63V");
    CHECK_STR(m->transport.ice_options, "trickle");
    CHECK(m->transport.has_fingerprint);
    CHECK_STR(m->transport.fp_algorithm, "sha-256");
    CHECK_EQ_INT(m->transport.fp_len, 32);
    CHECK_MEM(m->transport.fp, fp_dc, 32);
    CHECK_EQ_INT(m->transport.setup, MC_SDP_SETUP_ACTPASS);
    CHECK(m->has_sctp_port);
    CHECK_EQ_INT(m->sctp_port, 5000);
    CHECK(m->has_max_message_size);
    CHECK_EQ_INT(m->max_message_size, 262144);
  }
  check_roundtrip(s);
  free(s);
}

static void check_av_common(const mc_sdp *s, const uint8_t *fp, enum mc_sdp_setup setup, const char *ufrag,
                            const char *pwd) {
  CHECK_EQ_INT(s->group_count, 1);
  CHECK_STR(s->groups[0].semantics, "BUNDLE");
  CHECK_EQ_INT(s->groups[0].count, 2);
  CHECK_STR(s->groups[0].mids[0], "0");
  CHECK_STR(s->groups[0].mids[1], "1");
  CHECK_EQ_INT(s->media_count, 2);
  const mc_sdp_media *a = mc_sdp_media_find(s, "0"), *v = mc_sdp_media_find(s, "1");
  CHECK(a != NULL && v != NULL);
  if (!a || !v) return;
  for (int i = 0; i < 2; i++) {
    const mc_sdp_media *m = i ? v : a;
    CHECK_EQ_INT(m->proto, MC_SDP_PROTO_RTP_SAVPF);
    CHECK_STR(m->proto_text, "UDP/TLS/RTP/SAVPF");
    CHECK_STR(m->transport.ice_ufrag, ufrag);
    CHECK_STR(m->transport.ice_pwd, pwd);
    CHECK_EQ_INT(m->transport.fp_len, 32);
    CHECK_MEM(m->transport.fp, fp, 32);
    CHECK_EQ_INT(m->transport.setup, setup);
    CHECK(m->rtcp_mux);
    CHECK(m->rtcp_rsize);
    CHECK_EQ_INT(m->dir, MC_SDP_DIR_SENDRECV);
    CHECK_EQ_INT(m->msid_count, 1);
  }
  CHECK_STR(a->media, "audio");
  CHECK_EQ_INT(a->fmt_count, 8);
  const mc_sdp_payload *opus = mc_sdp_payload_find(a, 111);
  CHECK(opus != NULL);
  if (opus) {
    CHECK(opus->has_rtpmap);
    CHECK_STR(opus->encoding, "opus");
    CHECK_EQ_INT(opus->clock_rate, 48000);
    CHECK_EQ_INT(opus->channels, 2);
    CHECK(opus->has_fmtp);
    CHECK_STR(opus->fmtp, "minptime=10;useinbandfec=1");
    CHECK_EQ_INT(opus->rtcp_fb_count, 1);
    CHECK_STR(opus->rtcp_fb[0], "transport-cc");
  }
  const mc_sdp_payload *pcmu = mc_sdp_payload_find(a, 0);
  CHECK(pcmu && pcmu->has_rtpmap && strcmp(pcmu->encoding, "PCMU") == 0 && pcmu->clock_rate == 8000 &&
        pcmu->channels == 0 && !pcmu->has_fmtp);
  CHECK_EQ_INT(a->extmap_count, 4);
  CHECK_EQ_INT(a->extmaps[0].id, 1);
  CHECK_STR(a->extmaps[0].uri, "urn:ietf:params:rtp-hdrext:ssrc-audio-level");
  CHECK_EQ_INT(a->extmaps[0].dir, MC_SDP_DIR_NONE);
  CHECK_EQ_INT(a->extmaps[3].id, 4);
  CHECK_STR(a->extmaps[3].uri, "urn:ietf:params:rtp-hdrext:sdes:mid");

  CHECK_STR(v->media, "video");
  const mc_sdp_payload *vp8 = mc_sdp_payload_find(v, 96);
  CHECK(vp8 != NULL);
  if (vp8) {
    CHECK_STR(vp8->encoding, "VP8");
    CHECK_EQ_INT(vp8->clock_rate, 90000);
    CHECK_EQ_INT(vp8->rtcp_fb_count, 5);
    CHECK_STR(vp8->rtcp_fb[0], "goog-remb");
    CHECK_STR(vp8->rtcp_fb[1], "transport-cc");
    CHECK_STR(vp8->rtcp_fb[2], "ccm fir");
    CHECK_STR(vp8->rtcp_fb[3], "nack");
    CHECK_STR(vp8->rtcp_fb[4], "nack pli");
  }
  const mc_sdp_payload *rtx = mc_sdp_payload_find(v, 97);
  CHECK(rtx && strcmp(rtx->encoding, "rtx") == 0 && rtx->has_fmtp && strcmp(rtx->fmtp, "apt=96") == 0);
  CHECK_EQ_INT(v->extmap_count, 11);
  CHECK_EQ_INT(v->extmaps[0].id, 14);
  CHECK_STR(v->extmaps[0].uri, "urn:ietf:params:rtp-hdrext:toffset");
  CHECK_EQ_INT(v->extmaps[10].id, 11);
  CHECK_EQ_INT(v->ssrc_group_count, 1);
  CHECK_STR(v->ssrc_groups[0].semantics, "FID");
  CHECK_EQ_INT(v->ssrc_groups[0].count, 2);
  CHECK_EQ_INT(v->ssrc_count, 2);
  CHECK_EQ_INT(v->ssrcs[0].ssrc, v->ssrc_groups[0].ssrcs[0]);
  CHECK_EQ_INT(v->ssrcs[1].ssrc, v->ssrc_groups[0].ssrcs[1]);
  CHECK(v->ssrcs[0].cname[0] != '\0');
  CHECK_STR(v->ssrcs[0].cname, a->ssrcs[0].cname);
}

static void test_av_offer(void) {
  mc_sdp *s = parse_fixture("chrome-offer-av.sdp");
  if (!s) return;
  check_av_common(s, fp_offer, MC_SDP_SETUP_ACTPASS, "iSFx", "gntxiu3sOsRGT3SbxrwEtq8q");
  CHECK_STR(s->msid_semantic, " WMS 2aba38d7-b6cb-44e9-a2df-1a5ae9820df8");
  const mc_sdp_media *a = mc_sdp_media_find(s, "0"), *v = mc_sdp_media_find(s, "1");
  if (a && v) {
    CHECK_EQ_INT(a->ssrc_count, 1);
    CHECK_EQ_INT(a->ssrcs[0].ssrc, 4237566764u);
    CHECK_STR(a->ssrcs[0].cname, "TbQLWYcDsthfn8Wd");
    CHECK_STR(a->ssrcs[0].msid, "2aba38d7-b6cb-44e9-a2df-1a5ae9820df8 21fd03c7-82e3-4c4b-b9c5-1423bcb25f4a");
    CHECK_STR(a->msid[0], "2aba38d7-b6cb-44e9-a2df-1a5ae9820df8 21fd03c7-82e3-4c4b-b9c5-1423bcb25f4a");
    CHECK_EQ_INT(v->ssrc_groups[0].ssrcs[0], 4195271065u);
    CHECK_EQ_INT(v->ssrc_groups[0].ssrcs[1], 101085727u);
    /* the offer repeats the msid on each SSRC; Chromium's answer does not */
    CHECK_STR(v->ssrcs[0].msid, v->msid[0]);
    CHECK_STR(v->ssrcs[1].msid, v->msid[0]);
  }
  check_roundtrip(s);
  free(s);
}

static void test_av_answer(void) {
  mc_sdp *s = parse_fixture("chrome-answer-av.sdp");
  if (!s) return;
  check_av_common(s, fp_answer, MC_SDP_SETUP_ACTIVE, "UxJ0", "GqLxbgDZ3xXF27zc8w26SW1+");
  const mc_sdp_media *v = mc_sdp_media_find(s, "1");
  if (v) {
    CHECK_EQ_INT(v->ssrc_groups[0].ssrcs[0], 918513996u);
    CHECK_EQ_INT(v->ssrc_groups[0].ssrcs[1], 3664478912u);
    CHECK_STR(v->ssrcs[0].msid, "");
  }
  check_roundtrip(s);
  free(s);
}

#define HEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

/* Line endings, candidates, extmap direction, rtcp-fb wildcard and unknown
 * lines and attributes, which Chromium's captures do not exercise. */
static void test_features(void) {
  const char *text =
      "v=0\n"
      "o=- 1 2 IN IP4 127.0.0.1\n"
      "s=-\r\n"
      "i=session info\n"
      "t=0 0\n"
      "a=x-unknown-session:whatever\n"
      "a=group:BUNDLE m0\n"
      "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\n"
      "c=IN IP6 ::\n"
      "b=AS:30\n"
      "a=mid:m0\n"
      "a=recvonly\n"
      "a=extmap:3/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\n"
      "a=rtcp-fb:* nack\n"
      "a=rtpmap:111 opus/48000/2\n"
      "a=rtpmap:99 unlisted/8000\n"
      "a=x-google-flag:conference\n"
      "a=ssrc:5 label:ignored\n"
      "a=ssrc:5 cname:abc\n"
      "a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host generation 0\n"
      "a=candidate:2 1 udp 1686052607 198.51.100.7 40000 typ srflx raddr 192.0.2.1 rport 50000\n"
      "a=end-of-candidates\n";
  mc_sdp *s = calloc(1, sizeof *s);
  int line = -1;
  char why[128] = "";
  int rc = parse_str(text, s, &line, why, sizeof why);
  if (rc) fprintf(stderr, "features: line %d: %s\n", line, why);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(s->media_count, 1);
  const mc_sdp_media *m = &s->media[0];
  CHECK_STR(m->mid, "m0");
  CHECK_STR(m->conn.addrtype, "IP6");
  CHECK_STR(m->conn.address, "::");
  CHECK_EQ_INT(m->dir, MC_SDP_DIR_RECVONLY);
  CHECK_EQ_INT(m->extmap_count, 1);
  CHECK_EQ_INT(m->extmaps[0].id, 3);
  CHECK_EQ_INT(m->extmaps[0].dir, MC_SDP_DIR_SENDONLY);
  CHECK_EQ_INT(m->rtcp_fb_all_count, 1);
  CHECK_STR(m->rtcp_fb_all[0], "nack");
  CHECK(mc_sdp_payload_find(m, 99) == NULL);
  CHECK_EQ_INT(m->ssrc_count, 1);
  CHECK_STR(m->ssrcs[0].cname, "abc");
  CHECK_EQ_INT(m->candidate_count, 2);
  CHECK_STR(m->candidates[0], "1 1 udp 2122260223 192.0.2.1 50000 typ host generation 0");
  CHECK_STR(m->candidates[1], "2 1 udp 1686052607 198.51.100.7 40000 typ srflx raddr 192.0.2.1 rport 50000");
  CHECK(m->end_of_candidates);
  /* the raw values are what the ICE layer's parser takes */
  mc_ice_candidate c;
  CHECK_EQ_INT(mc_ice_candidate_parse((const uint8_t *)m->candidates[1], strlen(m->candidates[1]), &c), 0);
  CHECK_EQ_INT(c.type, MC_ICE_CAND_SRFLX);
  CHECK_EQ_INT(c.port, 40000);
  CHECK_EQ_INT(c.related_port, 50000);
  check_roundtrip(s);

  /* the same description with CRLF parses to the same model */
  char crlf[4096];
  size_t j = 0;
  for (const char *p = text; *p && j + 2 < sizeof crlf; p++) {
    if (*p == '\n' && (p == text || p[-1] != '\r')) crlf[j++] = '\r';
    crlf[j++] = *p;
  }
  crlf[j] = '\0';
  mc_sdp *t = calloc(1, sizeof *t);
  CHECK_EQ_INT(parse_str(crlf, t, &line, why, sizeof why), 0);
  CHECK(mc_sdp_equal(s, t));
  free(t);
  free(s);
}

static void expect_reject(const char *text, int want_rc, int want_line, const char *why_has) {
  mc_sdp *s = calloc(1, sizeof *s);
  int line = -1;
  char why[128] = "";
  int rc = parse_str(text, s, &line, why, sizeof why);
  CHECK_EQ_INT(rc, want_rc);
  CHECK_EQ_INT(line, want_line);
  CHECK(strstr(why, why_has) != NULL);
  if (!strstr(why, why_has) || line != want_line) fprintf(stderr, "  got line %d: %s\n", line, why);
  free(s);
}

static void test_malformed(void) {
  expect_reject("o=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", MC_EPARSE, 1, "missing v=");
  expect_reject("", MC_EPARSE, 1, "missing v=");
  expect_reject(HEAD "m=audio nine UDP/TLS/RTP/SAVPF 111\r\n", MC_EPARSE, 5, "port");
  expect_reject(HEAD "m=audio 9\r\n", MC_EPARSE, 5, "m=");
  expect_reject(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF opus\r\n", MC_EPARSE, 5, "payload type");
  expect_reject(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:abc opus/48000/2\r\n", MC_EPARSE, 7,
                "rtpmap payload type");
  expect_reject(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AB:CD:XY\r\n", MC_EPARSE, 6,
                "fingerprint");
  expect_reject(HEAD "a=fingerprint:sha-256 ABC:D\r\n", MC_EPARSE, 5, "fingerprint");
  expect_reject(HEAD "a=fingerprint:sha-256\r\n", MC_EPARSE, 5, "fingerprint");
  expect_reject(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\nthis line has no equals sign\r\n", MC_EPARSE,
                7, "<type>=<value>");
  expect_reject(HEAD "ab=c\r\n", MC_EPARSE, 5, "<type>=<value>");
  expect_reject(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:sometimes\r\n", MC_EPARSE, 6, "setup");
  expect_reject(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=extmap:0 urn:x\r\n", MC_EPARSE, 6, "extmap id");
  expect_reject(HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ssrc:-1 cname:x\r\n", MC_EPARSE, 6, "ssrc");
  expect_reject("v=0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", MC_EPARSE, 4, "o=");
  expect_reject("v=1\r\n", MC_EPARSE, 1, "v=");
  {
    static char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof buf, HEAD "a=x-long:");
    memset(buf + n, 'x', 2000);
    memcpy(buf + n + 2000, "\r\n", 3);
    expect_reject(buf, MC_ETOOBIG, 5, "longer than");
  }
  {
    static char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof buf, HEAD);
    for (int i = 0; i < MC_SDP_MAX_MEDIA + 1; i++)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n", i);
    /* header is 4 lines, each section 2: the 17th m= is line 4 + 16*2 + 1 */
    expect_reject(buf, MC_ETOOBIG, 4 + MC_SDP_MAX_MEDIA * 2 + 1, "m= sections");
  }
  /* a NUL inside a line */
  {
    static const uint8_t nul[] = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=\0-\r\nt=0 0\r\n";
    mc_sdp *s = calloc(1, sizeof *s);
    int line = -1;
    CHECK_EQ_INT(mc_sdp_parse(nul, sizeof nul - 1, s, &line, NULL, 0), MC_EPARSE);
    CHECK_EQ_INT(line, 3);
    free(s);
  }
}

/* The SCTP protos of RFC 8841 4.2 and the older DTLS/SCTP form with
 * a=sctpmap (draft-ietf-mmusic-sctp-sdp-05), and a=bundle-only (RFC 9143 6). */
static void test_sctp_forms(void) {
  const char *text = HEAD
      "m=application 9 DTLS/SCTP 5001\r\n"
      "a=mid:0\r\n"
      "a=bundle-only\r\n"
      "a=sctpmap:5001 webrtc-datachannel 65535\r\n"
      "m=application 9 TCP/DTLS/SCTP webrtc-datachannel\r\n"
      "a=mid:1\r\n"
      "a=sctpmap:5000 webrtc-datachannel\r\n"
      "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
      "a=mid:2\r\n";
  mc_sdp *s = calloc(1, sizeof *s);
  int line = -1;
  char why[128] = "";
  int rc = parse_str(text, s, &line, why, sizeof why);
  if (rc) fprintf(stderr, "sctp forms: line %d: %s\n", line, why);
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(s->media_count, 3);
  const mc_sdp_media *m = &s->media[0];
  CHECK_EQ_INT(m->proto, MC_SDP_PROTO_LEGACY_SCTP);
  CHECK_STR(m->fmts[0].fmt, "5001");
  CHECK_EQ_INT(m->fmts[0].pt, -1);
  CHECK(m->bundle_only);
  CHECK(m->has_sctpmap && m->sctpmap_port == 5001);
  CHECK_STR(m->sctpmap_app, "webrtc-datachannel");
  CHECK(m->has_sctpmap_value && m->sctpmap_value == 65535);
  CHECK(!m->has_sctp_port);
  m = &s->media[1];
  CHECK_EQ_INT(m->proto, MC_SDP_PROTO_TCP_DTLS_SCTP);
  CHECK(!m->bundle_only);
  CHECK(m->has_sctpmap && !m->has_sctpmap_value);
  CHECK_EQ_INT(s->media[2].proto, MC_SDP_PROTO_DTLS_SCTP);
  CHECK(mc_sdp_proto_is_sctp(s->media[0].proto) && mc_sdp_proto_is_sctp(s->media[1].proto) &&
        mc_sdp_proto_is_sctp(s->media[2].proto) && !mc_sdp_proto_is_sctp(MC_SDP_PROTO_RTP_SAVPF));
  CHECK_EQ_INT(mc_sdp_proto_of("UDP/TLS/RTP/SAVPF"), MC_SDP_PROTO_RTP_SAVPF);
  CHECK_EQ_INT(mc_sdp_proto_of("RTP/AVP"), MC_SDP_PROTO_OTHER);
  check_roundtrip(s);
  free(s);
  expect_reject(HEAD "m=application 9 DTLS/SCTP 5000\r\na=sctpmap:5000\r\n", MC_EPARSE, 6, "sctpmap");
  expect_reject(HEAD "m=application 9 DTLS/SCTP 5000\r\na=sctpmap:port webrtc-datachannel\r\n", MC_EPARSE, 6,
                "sctpmap port");
  expect_reject(HEAD "m=application 9 DTLS/SCTP 5000\r\na=sctpmap:70000 webrtc-datachannel\r\n", MC_EPARSE, 6,
                "sctpmap port");
  expect_reject(HEAD "m=application 9 DTLS/SCTP 5000\r\na=sctpmap:5000 webrtc-datachannel many\r\n", MC_EPARSE, 6,
                "sctpmap");
  expect_reject(HEAD "m=application 9 DTLS/SCTP 5000\r\na=sctpmap:5000 webrtc-datachannel 1 2\r\n", MC_EPARSE, 6,
                "three fields");
}

/* Every prefix of a real offer either parses or is rejected naming a line:
 * a truncated read never crashes or loops. */
static void test_truncation(void) {
  size_t len = 0;
  char *buf = read_fixture("chrome-offer-av.sdp", &len);
  CHECK(buf != NULL);
  if (!buf) return;
  mc_sdp *s = calloc(1, sizeof *s);
  int bad = 0;
  for (size_t n = 0; n <= len; n += 7) {
    int line = -1;
    int rc = mc_sdp_parse((const uint8_t *)buf, n, s, &line, NULL, 0);
    if (rc != 0 && line < 1) bad++;
  }
  CHECK_EQ_INT(bad, 0);
  free(s);
  free(buf);
}

int main(void) {
  test_datachannel_offer();
  test_av_offer();
  test_av_answer();
  test_features();
  test_malformed();
  test_sctp_forms();
  test_truncation();
  return CHECK_DONE();
}
