/* JSEP offer/answer (src/sdp/jsep.c, RFC 9429): answers to Chromium's
 * captured offers, two mc_jsep peers negotiating through SDP text,
 * renegotiation, refusals, rejected m-lines and ICE restarts. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sdp/sdp.h"

static const uint8_t fp_chrome_av[32] = {0xFB, 0x6A, 0x04, 0x46, 0x63, 0xC8, 0x6E, 0xC6, 0x82, 0xAB, 0x78,
                                         0x51, 0xD0, 0xB9, 0xD0, 0x48, 0xD9, 0x44, 0xF8, 0x6C, 0x25, 0xE8,
                                         0x8B, 0xC9, 0x99, 0x4A, 0xF5, 0xE7, 0x59, 0xFD, 0x4C, 0xF9};
static uint8_t fp_a[32], fp_b[32];

static char *read_fixture(const char *name, size_t *len) {
  char path[1024];
  const char *f = __FILE__;
  const char *cut = strstr(f, "tests/unit/test_jsep.c");
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

static mc_sdp *parse_text(const char *text) {
  mc_sdp *s = calloc(1, sizeof *s);
  int line = 0;
  char why[128] = "";
  int rc = mc_sdp_parse((const uint8_t *)text, strlen(text), s, &line, why, sizeof why);
  if (rc) fprintf(stderr, "parse: line %d: %s\n", line, why);
  CHECK_EQ_INT(rc, 0);
  return s;
}

static mc_sdp *fixture(const char *name) {
  size_t len = 0;
  char *buf = read_fixture(name, &len);
  CHECK(buf != NULL);
  if (!buf) exit(1);
  mc_sdp *s = parse_text(buf);
  free(buf);
  return s;
}

/* Our descriptions go out as text: write, parse back, and the models must be
 * equal; returns the parsed copy (what the peer would see). */
static char text_buf[256 * 1024];
static mc_sdp *over_the_wire(const mc_sdp *s) {
  size_t n = 0;
  CHECK_EQ_INT(mc_sdp_write(s, text_buf, sizeof text_buf, &n), 0);
  mc_sdp *b = parse_text(text_buf);
  CHECK(mc_sdp_equal(s, b));
  return b;
}

static mc_jsep *peer(const char *ufrag, const char *pwd, const uint8_t *fp, const char *cname) {
  struct mc_jsep_config c = {ufrag, pwd, fp, 32, cname, false};
  mc_jsep *j = NULL;
  CHECK_EQ_INT(mc_jsep_new(&c, &j), 0);
  if (!j) exit(1);
  return j;
}

static struct mc_jsep_track track(uint32_t ssrc, uint32_t rtx, const char *stream, const char *id) {
  struct mc_jsep_track t;
  memset(&t, 0, sizeof t);
  t.ssrc = ssrc;
  t.rtx_ssrc = rtx;
  snprintf(t.stream_id, sizeof t.stream_id, "%s", stream);
  snprintf(t.track_id, sizeof t.track_id, "%s", id);
  return t;
}

static const mc_jsep_media *by_mid(const mc_jsep *j, const char *mid) {
  int i = mc_jsep_media_index(j, mid);
  CHECK(i >= 0);
  return i >= 0 ? mc_jsep_media_at(j, i) : NULL;
}

static bool has_fb(const mc_sdp_payload *p, const char *v) {
  for (int i = 0; i < p->rtcp_fb_count; i++)
    if (strcmp(p->rtcp_fb[i], v) == 0) return true;
  return false;
}

static int ext_id(const mc_sdp_media *m, const char *uri) {
  for (int i = 0; i < m->extmap_count; i++)
    if (strcmp(m->extmaps[i].uri, uri) == 0) return m->extmaps[i].id;
  return 0;
}

static void check_our_transport(const mc_sdp_media *m, const char *ufrag, const uint8_t *fp, enum mc_sdp_setup setup) {
  CHECK_STR(m->transport.ice_ufrag, ufrag);
  CHECK(strlen(m->transport.ice_pwd) >= 22);
  CHECK_STR(m->transport.ice_options, "trickle");
  CHECK(m->transport.has_fingerprint);
  CHECK_STR(m->transport.fp_algorithm, "sha-256");
  CHECK_EQ_INT(m->transport.fp_len, 32);
  CHECK_MEM(m->transport.fp, fp, 32);
  CHECK_EQ_INT(m->transport.setup, setup);
  CHECK_EQ_INT(m->port, 9);
  CHECK(m->conn.present);
  CHECK_STR(m->conn.address, "0.0.0.0");
}

/* (1) Chromium's audio+video offer, answered without and with tracks. */
static void test_chrome_av(bool with_tracks) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, "ourcname");
  int ia = -1, iv = -1;
  if (with_tracks) {
    struct mc_jsep_track ta = track(1111, 0, "s1", "a1"), tv = track(2222, 3333, "s1", "v1");
    CHECK_EQ_INT(mc_jsep_add_transceiver(j, MC_MEDIA_AUDIO, &ta, &ia), 0);
    CHECK_EQ_INT(mc_jsep_add_transceiver(j, MC_MEDIA_VIDEO, &tv, &iv), 0);
    CHECK(mc_jsep_negotiation_needed(j));
  }
  mc_sdp *offer = fixture("chrome-offer-av.sdp");
  char why[256] = "x";
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, why, sizeof why), 0);
  CHECK_STR(why, "");
  CHECK_EQ_INT(mc_jsep_state(j), MC_JSEP_HAVE_REMOTE_OFFER);
  CHECK(!mc_jsep_negotiation_needed(j));
  CHECK_EQ_INT(mc_jsep_media_count(j), 2);
  if (with_tracks) {
    /* our transceivers took Chromium's m-lines instead of new ones */
    CHECK_EQ_INT(mc_jsep_media_index(j, "0"), ia);
    CHECK_EQ_INT(mc_jsep_media_index(j, "1"), iv);
  }
  mc_sdp *ans = calloc(1, sizeof *ans);
  memset(ans, 0xA5, sizeof *ans); /* the answer must not depend on out's contents */
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  mc_sdp *wire = over_the_wire(ans);

  CHECK_STR(ans->origin_user, "-");
  CHECK(strtoull(ans->origin_sess_id, NULL, 10) <= (uint64_t)INT64_MAX);
  CHECK_STR(ans->origin_address, "127.0.0.1");
  CHECK_STR(ans->session_name, "-");
  CHECK(ans->extmap_allow_mixed);
  CHECK_EQ_INT(ans->group_count, 1);
  CHECK_STR(ans->groups[0].semantics, "BUNDLE");
  CHECK_EQ_INT(ans->groups[0].count, 2);
  CHECK_STR(ans->groups[0].mids[0], "0");
  CHECK_STR(ans->groups[0].mids[1], "1");
  CHECK_EQ_INT(ans->media_count, 2);

  const mc_sdp_media *a = &ans->media[0], *v = &ans->media[1];
  CHECK_STR(a->media, "audio");
  CHECK_STR(a->mid, "0");
  CHECK_STR(a->proto_text, "UDP/TLS/RTP/SAVPF");
  check_our_transport(a, "ourU", fp_a, MC_SDP_SETUP_ACTIVE);
  CHECK(a->rtcp_mux);
  CHECK(a->rtcp_rsize);
  CHECK_EQ_INT(a->fmt_count, 1);
  CHECK_EQ_INT(a->fmts[0].pt, 111);
  CHECK_STR(a->fmts[0].encoding, "opus");
  CHECK_EQ_INT(a->fmts[0].clock_rate, 48000);
  CHECK_EQ_INT(a->fmts[0].channels, 2);
  CHECK_STR(a->fmts[0].fmtp, "minptime=10;useinbandfec=1");
  CHECK_EQ_INT(a->fmts[0].rtcp_fb_count, 1);
  CHECK(has_fb(&a->fmts[0], "transport-cc"));
  /* only the offered extensions we know, with the offer's ids */
  CHECK_EQ_INT(a->extmap_count, 3);
  CHECK_EQ_INT(ext_id(a, MC_JSEP_EXT_ABS_SEND_TIME), 2);
  CHECK_EQ_INT(ext_id(a, MC_JSEP_EXT_TWCC), 3);
  CHECK_EQ_INT(ext_id(a, MC_JSEP_EXT_MID), 4);
  CHECK_EQ_INT(ext_id(a, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"), 0);

  CHECK_STR(v->media, "video");
  CHECK_STR(v->mid, "1");
  check_our_transport(v, "ourU", fp_a, MC_SDP_SETUP_ACTIVE);
  CHECK(v->rtcp_mux && v->rtcp_rsize);
  CHECK_EQ_INT(v->fmt_count, 2);
  CHECK_EQ_INT(v->fmts[0].pt, 96);
  CHECK_STR(v->fmts[0].encoding, "VP8");
  CHECK_EQ_INT(v->fmts[0].rtcp_fb_count, 5);
  CHECK(has_fb(&v->fmts[0], "nack") && has_fb(&v->fmts[0], "nack pli") && has_fb(&v->fmts[0], "ccm fir") &&
        has_fb(&v->fmts[0], "goog-remb") && has_fb(&v->fmts[0], "transport-cc"));
  CHECK_EQ_INT(v->fmts[1].pt, 97);
  CHECK_STR(v->fmts[1].encoding, "rtx");
  CHECK_STR(v->fmts[1].fmtp, "apt=96");
  CHECK_EQ_INT(v->extmap_count, 3);
  CHECK_EQ_INT(ext_id(v, MC_JSEP_EXT_ABS_SEND_TIME), 2);
  CHECK_EQ_INT(ext_id(v, "urn:ietf:params:rtp-hdrext:toffset"), 0);

  if (with_tracks) {
    CHECK_EQ_INT(a->dir, MC_SDP_DIR_SENDRECV);
    CHECK_EQ_INT(v->dir, MC_SDP_DIR_SENDRECV);
    CHECK_EQ_INT(a->msid_count, 1);
    CHECK_STR(a->msid[0], "s1 a1");
    CHECK_EQ_INT(a->ssrc_count, 1);
    CHECK_EQ_INT(a->ssrcs[0].ssrc, 1111);
    CHECK_STR(a->ssrcs[0].cname, "ourcname");
    CHECK_STR(a->ssrcs[0].msid, "s1 a1");
    CHECK_EQ_INT(a->ssrc_group_count, 0);
    CHECK_STR(v->msid[0], "s1 v1");
    CHECK_EQ_INT(v->ssrc_group_count, 1);
    CHECK_STR(v->ssrc_groups[0].semantics, "FID");
    CHECK_EQ_INT(v->ssrc_groups[0].ssrcs[0], 2222);
    CHECK_EQ_INT(v->ssrc_groups[0].ssrcs[1], 3333);
    CHECK_EQ_INT(v->ssrc_count, 2);
  } else {
    CHECK_EQ_INT(a->dir, MC_SDP_DIR_RECVONLY);
    CHECK_EQ_INT(v->dir, MC_SDP_DIR_RECVONLY);
    CHECK_EQ_INT(a->msid_count + a->ssrc_count + v->msid_count + v->ssrc_count + v->ssrc_group_count, 0);
  }

  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, wire), 0);
  CHECK_EQ_INT(mc_jsep_state(j), MC_JSEP_STABLE);
  CHECK(!mc_jsep_negotiation_needed(j));
  const mc_jsep_media *ma = by_mid(j, "0"), *mv = by_mid(j, "1");
  if (ma && mv) {
    CHECK_EQ_INT(ma->kind, MC_MEDIA_AUDIO);
    CHECK(!ma->rejected);
    CHECK_EQ_INT(ma->dir, with_tracks ? MC_SDP_DIR_SENDRECV : MC_SDP_DIR_RECVONLY);
    CHECK_EQ_INT(ma->pt, 111);
    CHECK(ma->opus_fec);
    CHECK(ma->fb_twcc && !ma->fb_nack && !ma->fb_pli && !ma->fb_fir && !ma->fb_remb);
    CHECK_EQ_INT(ma->ext_abs_send_time, 2);
    CHECK_EQ_INT(ma->ext_twcc, 3);
    CHECK_EQ_INT(ma->ext_mid, 4);
    CHECK_EQ_INT(ma->remote_ssrc, 4237566764u);
    CHECK_EQ_INT(ma->remote_rtx_ssrc, 0);
    CHECK_STR(ma->remote_msid, "2aba38d7-b6cb-44e9-a2df-1a5ae9820df8 21fd03c7-82e3-4c4b-b9c5-1423bcb25f4a");
    CHECK_EQ_INT(mv->kind, MC_MEDIA_VIDEO);
    CHECK_EQ_INT(mv->pt, 96);
    CHECK_EQ_INT(mv->rtx_pt, 97);
    CHECK(mv->fb_nack && mv->fb_pli && mv->fb_fir && mv->fb_remb && mv->fb_twcc);
    CHECK_EQ_INT(mv->remote_ssrc, 4195271065u);
    CHECK_EQ_INT(mv->remote_rtx_ssrc, 101085727u);
    CHECK_EQ_INT(mv->has_track, with_tracks);
  }
  const struct mc_jsep_transport *t = NULL;
  CHECK_EQ_INT(mc_jsep_transport(j, &t), 0);
  if (t) {
    CHECK_STR(t->remote_ufrag, "iSFx");
    CHECK_STR(t->remote_pwd, "gntxiu3sOsRGT3SbxrwEtq8q");
    CHECK_STR(t->remote_fp_algorithm, "sha-256");
    CHECK_EQ_INT(t->remote_fp_len, 32);
    CHECK_MEM(t->remote_fp, fp_chrome_av, 32);
    CHECK(t->dtls_client); /* we answered actpass with active */
    CHECK(!t->ice_restart);
    CHECK_EQ_INT(t->candidate_count, 0);
  }
  /* a second answer is out of state */
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), MC_ESTATE);
  free(wire);
  free(ans);
  free(offer);
  mc_jsep_free(j);
}

/* (1) Chromium's data-channel-only offer. */
static void test_chrome_datachannel(bool drop_max_message_size) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  mc_sdp *offer = fixture("chrome-offer-datachannel.sdp");
  if (drop_max_message_size) offer->media[0].has_max_message_size = false;
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  mc_sdp *ans = calloc(1, sizeof *ans);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  mc_sdp *wire = over_the_wire(ans);
  CHECK_EQ_INT(ans->media_count, 1);
  const mc_sdp_media *m = &ans->media[0];
  CHECK_STR(m->media, "application");
  CHECK_STR(m->proto_text, "UDP/DTLS/SCTP");
  CHECK_EQ_INT(m->fmt_count, 1);
  CHECK_STR(m->fmts[0].fmt, "webrtc-datachannel");
  CHECK_STR(m->mid, "0");
  check_our_transport(m, "ourU", fp_a, MC_SDP_SETUP_ACTIVE);
  CHECK(m->has_sctp_port && m->sctp_port == 5000);
  CHECK(m->has_max_message_size && m->max_message_size == 262144);
  CHECK_EQ_INT(ans->groups[0].count, 1);
  CHECK_STR(ans->groups[0].mids[0], "0");
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, wire), 0);
  const mc_jsep_media *d = by_mid(j, "0");
  if (d) {
    CHECK_EQ_INT(d->kind, MC_MEDIA_DATA);
    CHECK(!d->rejected);
    CHECK_EQ_INT(d->remote_sctp_port, 5000);
    CHECK_EQ_INT(d->local_sctp_port, 5000);
    CHECK_EQ_INT(d->remote_max_message_size, drop_max_message_size ? 65536 : 262144);
  }
  /* a data channel asked for now is the one already negotiated */
  CHECK_EQ_INT(mc_jsep_add_data(j), 0);
  CHECK(!mc_jsep_negotiation_needed(j));
  free(wire);
  free(ans);
  free(offer);
  mc_jsep_free(j);
}

/* One full exchange through SDP text; returns the rc of the answer's set_remote. */
static int exchange(mc_jsep *offerer, mc_jsep *answerer, char *why, size_t cap) {
  mc_sdp *o = calloc(1, sizeof *o), *a = calloc(1, sizeof *a);
  CHECK_EQ_INT(mc_jsep_create_offer(offerer, o), 0);
  mc_sdp *ow = over_the_wire(o);
  CHECK_EQ_INT(mc_jsep_set_local(offerer, MC_SDP_OFFER, ow), 0);
  CHECK_EQ_INT(mc_jsep_state(offerer), MC_JSEP_HAVE_LOCAL_OFFER);
  CHECK(!mc_jsep_negotiation_needed(offerer));
  CHECK_EQ_INT(mc_jsep_set_remote(answerer, MC_SDP_OFFER, ow, why, cap), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(answerer, a), 0);
  mc_sdp *aw = over_the_wire(a);
  CHECK_EQ_INT(mc_jsep_set_local(answerer, MC_SDP_ANSWER, aw), 0);
  int rc = mc_jsep_set_remote(offerer, MC_SDP_ANSWER, aw, why, cap);
  free(o);
  free(a);
  free(ow);
  free(aw);
  return rc;
}

static void check_roles(const mc_jsep *a, const mc_jsep *b, bool a_client) {
  const struct mc_jsep_transport *ta = NULL, *tb = NULL;
  CHECK_EQ_INT(mc_jsep_transport(a, &ta), 0);
  CHECK_EQ_INT(mc_jsep_transport(b, &tb), 0);
  if (!ta || !tb) return;
  CHECK_EQ_INT(ta->dtls_client, a_client);
  CHECK_EQ_INT(tb->dtls_client, !a_client);
}

/* (2) and (3): A offers to B, both ends agree; then renegotiations from
 * either side keep mids and roles while directions follow the tracks. */
static void test_two_peers(void) {
  mc_jsep *a = peer("AAAA", "apassword0123456789012345", fp_a, "acname");
  mc_jsep *b = peer("BBBB", "bpassword0123456789012345", fp_b, "bcname");
  const struct mc_jsep_transport *t = NULL;
  CHECK_EQ_INT(mc_jsep_transport(a, &t), MC_ESTATE);
  struct mc_jsep_track aa = track(0, 0, "as", "aa"), av = track(0, 0, "as", "av"), ba = track(0, 0, "bs", "ba");
  int a_audio, a_video, b_audio, b_video = -1;
  CHECK_EQ_INT(mc_jsep_add_transceiver(a, MC_MEDIA_AUDIO, &aa, &a_audio), 0);
  CHECK_EQ_INT(mc_jsep_add_transceiver(a, MC_MEDIA_VIDEO, &av, &a_video), 0);
  CHECK_EQ_INT(mc_jsep_add_data(a), 0);
  CHECK_EQ_INT(mc_jsep_add_data(a), 0); /* once */
  CHECK_EQ_INT(mc_jsep_media_count(a), 3);
  CHECK_EQ_INT(mc_jsep_add_transceiver(b, MC_MEDIA_AUDIO, &ba, &b_audio), 0);
  /* zero SSRCs were replaced by random ones, video got an RTX SSRC */
  const mc_jsep_media *mav = mc_jsep_media_at(a, a_video);
  CHECK(mav->track.ssrc != 0 && mav->track.rtx_ssrc != 0 && mav->track.ssrc != mav->track.rtx_ssrc);
  CHECK(mc_jsep_negotiation_needed(a));

  /* our offer as Chromium would read it */
  mc_sdp *o = calloc(1, sizeof *o);
  CHECK_EQ_INT(mc_jsep_create_offer(a, o), 0);
  CHECK_EQ_INT(o->media_count, 3);
  CHECK_STR(o->media[0].mid, "0");
  CHECK_STR(o->media[1].mid, "1");
  CHECK_STR(o->media[2].mid, "2");
  CHECK_EQ_INT(o->groups[0].count, 3);
  CHECK_EQ_INT(o->media[0].transport.setup, MC_SDP_SETUP_ACTPASS);
  CHECK_EQ_INT(o->media[0].fmts[0].pt, 111);
  CHECK_STR(o->media[0].fmts[0].fmtp, "minptime=10;useinbandfec=1");
  CHECK(has_fb(&o->media[0].fmts[0], "transport-cc"));
  CHECK_EQ_INT(o->media[1].fmts[0].pt, 96);
  CHECK_EQ_INT(o->media[1].fmts[0].rtcp_fb_count, 5);
  CHECK_EQ_INT(o->media[1].fmts[1].pt, 97);
  CHECK_STR(o->media[1].fmts[1].fmtp, "apt=96");
  CHECK_EQ_INT(ext_id(&o->media[0], MC_JSEP_EXT_MID), ext_id(&o->media[1], MC_JSEP_EXT_MID));
  CHECK(ext_id(&o->media[0], MC_JSEP_EXT_MID) > 0);
  CHECK_EQ_INT(o->media[1].dir, MC_SDP_DIR_SENDRECV);
  CHECK_EQ_INT(o->media[1].ssrc_groups[0].ssrcs[0], mav->track.ssrc);
  CHECK_STR(o->media[2].proto_text, "UDP/DTLS/SCTP");
  CHECK_EQ_INT(o->media[2].sctp_port, 5000);
  /* every offer gets a new version */
  mc_sdp *o2 = calloc(1, sizeof *o2);
  CHECK_EQ_INT(mc_jsep_create_offer(a, o2), 0);
  CHECK_STR(o->origin_sess_id, o2->origin_sess_id);
  CHECK(strtoull(o2->origin_sess_version, NULL, 10) == strtoull(o->origin_sess_version, NULL, 10) + 1);
  free(o);
  free(o2);

  char why[256] = "";
  CHECK_EQ_INT(exchange(a, b, why, sizeof why), 0);
  CHECK_STR(why, "");
  CHECK_EQ_INT(mc_jsep_state(a), MC_JSEP_STABLE);
  CHECK_EQ_INT(mc_jsep_state(b), MC_JSEP_STABLE);
  CHECK(!mc_jsep_negotiation_needed(a));
  CHECK(!mc_jsep_negotiation_needed(b));
  check_roles(a, b, false); /* B answered actpass with active */
  CHECK_EQ_INT(mc_jsep_media_index(b, "0"), b_audio);
  b_video = mc_jsep_media_index(b, "1");
  CHECK(b_video >= 0);
  CHECK_EQ_INT(mc_jsep_media_count(b), 3);

  const mc_jsep_media *x = by_mid(a, "0"), *y = by_mid(b, "0");
  CHECK_EQ_INT(x->dir, MC_SDP_DIR_SENDRECV);
  CHECK_EQ_INT(y->dir, MC_SDP_DIR_SENDRECV);
  CHECK_EQ_INT(x->pt, 111);
  CHECK_EQ_INT(y->pt, 111);
  CHECK(x->fb_twcc && y->fb_twcc);
  CHECK(x->opus_fec && y->opus_fec);
  CHECK_EQ_INT(x->remote_ssrc, y->track.ssrc);
  CHECK_EQ_INT(y->remote_ssrc, x->track.ssrc);
  CHECK_STR(y->remote_msid, "as aa");
  CHECK_EQ_INT(x->ext_mid, y->ext_mid);
  CHECK(x->ext_mid > 0);
  x = by_mid(a, "1");
  y = by_mid(b, "1");
  CHECK_EQ_INT(x->dir, MC_SDP_DIR_SENDONLY); /* B has no camera */
  CHECK_EQ_INT(y->dir, MC_SDP_DIR_RECVONLY);
  CHECK(!y->has_track);
  CHECK_EQ_INT(x->pt, 96);
  CHECK_EQ_INT(y->pt, 96);
  CHECK_EQ_INT(x->rtx_pt, 97);
  CHECK_EQ_INT(y->rtx_pt, 97);
  CHECK(x->fb_nack && x->fb_pli && x->fb_fir && x->fb_remb && x->fb_twcc);
  CHECK(y->fb_nack && y->fb_pli && y->fb_fir && y->fb_remb && y->fb_twcc);
  CHECK_EQ_INT(y->remote_ssrc, x->track.ssrc);
  CHECK_EQ_INT(y->remote_rtx_ssrc, x->track.rtx_ssrc);
  CHECK_EQ_INT(x->remote_ssrc, 0);
  x = by_mid(a, "2");
  y = by_mid(b, "2");
  CHECK_EQ_INT(x->kind, MC_MEDIA_DATA);
  CHECK_EQ_INT(y->kind, MC_MEDIA_DATA);
  CHECK_EQ_INT(x->remote_sctp_port, 5000);
  CHECK_EQ_INT(y->remote_max_message_size, 262144);
  CHECK_EQ_INT(mc_jsep_transport(a, &t), 0);
  CHECK_STR(t->remote_ufrag, "BBBB");
  CHECK_MEM(t->remote_fp, fp_b, 32);
  CHECK_EQ_INT(mc_jsep_transport(b, &t), 0);
  CHECK_STR(t->remote_ufrag, "AAAA");
  CHECK_MEM(t->remote_fp, fp_a, 32);

  /* (3) B turns its camera on and offers: video becomes sendrecv both ways */
  struct mc_jsep_track bv = track(0, 0, "bs", "bv");
  CHECK_EQ_INT(mc_jsep_set_track(b, b_video, &bv), 0);
  CHECK(mc_jsep_negotiation_needed(b));
  CHECK(!mc_jsep_negotiation_needed(a));
  CHECK_EQ_INT(exchange(b, a, why, sizeof why), 0);
  CHECK(!mc_jsep_negotiation_needed(a));
  CHECK(!mc_jsep_negotiation_needed(b));
  check_roles(a, b, false); /* A answered B's actpass keeping its server role */
  CHECK_EQ_INT(by_mid(a, "1")->dir, MC_SDP_DIR_SENDRECV);
  CHECK_EQ_INT(by_mid(b, "1")->dir, MC_SDP_DIR_SENDRECV);
  CHECK_EQ_INT(by_mid(a, "1")->remote_ssrc, mc_jsep_media_at(b, b_video)->track.ssrc);
  CHECK_EQ_INT(mc_jsep_media_index(a, "0"), a_audio);
  CHECK_EQ_INT(mc_jsep_media_index(a, "1"), a_video);
  CHECK_EQ_INT(mc_jsep_media_index(b, "1"), b_video);

  /* A adds a second camera: appended as mid 3; B gets a receive-only transceiver */
  struct mc_jsep_track av2 = track(0, 0, "as", "av2");
  int a_video2 = -1;
  CHECK_EQ_INT(mc_jsep_add_transceiver(a, MC_MEDIA_VIDEO, &av2, &a_video2), 0);
  CHECK(mc_jsep_negotiation_needed(a));
  mc_sdp *o3 = calloc(1, sizeof *o3);
  CHECK_EQ_INT(mc_jsep_create_offer(a, o3), 0);
  CHECK_EQ_INT(o3->media_count, 4);
  for (int i = 0; i < 4; i++) {
    char mid[4];
    snprintf(mid, sizeof mid, "%d", i);
    CHECK_STR(o3->media[i].mid, mid);
  }
  CHECK_EQ_INT(o3->media[0].transport.setup, MC_SDP_SETUP_ACTPASS);
  free(o3);
  CHECK_EQ_INT(exchange(a, b, why, sizeof why), 0);
  CHECK_EQ_INT(mc_jsep_media_index(a, "3"), a_video2);
  CHECK_EQ_INT(mc_jsep_media_count(b), 4);
  CHECK_EQ_INT(by_mid(a, "3")->dir, MC_SDP_DIR_SENDONLY);
  CHECK_EQ_INT(by_mid(b, "3")->dir, MC_SDP_DIR_RECVONLY);
  CHECK_EQ_INT(by_mid(b, "3")->kind, MC_MEDIA_VIDEO);
  CHECK(!by_mid(b, "3")->has_track);
  check_roles(a, b, false);
  CHECK(!mc_jsep_negotiation_needed(a));
  CHECK(!mc_jsep_negotiation_needed(b));

  /* A stops its first camera: its next offer says recvonly */
  CHECK_EQ_INT(mc_jsep_set_track(a, a_video, NULL), 0);
  CHECK(mc_jsep_negotiation_needed(a));
  CHECK_EQ_INT(exchange(a, b, why, sizeof why), 0);
  CHECK_EQ_INT(by_mid(a, "1")->dir, MC_SDP_DIR_RECVONLY);
  CHECK_EQ_INT(by_mid(b, "1")->dir, MC_SDP_DIR_SENDONLY);
  CHECK(!mc_jsep_negotiation_needed(a));
  CHECK(!mc_jsep_negotiation_needed(b));

  /* (6) a local ICE restart: new credentials in the offer, B sees a restart */
  CHECK_EQ_INT(mc_jsep_set_ice_credentials(a, "AAA2", "apassword0123456789000002"), 0);
  CHECK(mc_jsep_negotiation_needed(a));
  CHECK_EQ_INT(exchange(a, b, why, sizeof why), 0);
  CHECK_EQ_INT(mc_jsep_transport(b, &t), 0);
  CHECK(t->ice_restart);
  CHECK_STR(t->remote_ufrag, "AAA2");
  CHECK_EQ_INT(mc_jsep_transport(a, &t), 0);
  CHECK(t->ice_restart); /* B answered with new credentials too */
  CHECK(strcmp(t->remote_ufrag, "BBBB") != 0);
  CHECK(!mc_jsep_negotiation_needed(a));
  CHECK(!mc_jsep_negotiation_needed(b));
  /* the next exchange restarts nothing */
  CHECK_EQ_INT(exchange(b, a, why, sizeof why), 0);
  CHECK_EQ_INT(mc_jsep_transport(a, &t), 0);
  CHECK(!t->ice_restart);
  CHECK_EQ_INT(mc_jsep_transport(b, &t), 0);
  CHECK(!t->ice_restart);
  CHECK_STR(t->remote_ufrag, "AAA2");
  check_roles(a, b, false);

  mc_jsep_free(a);
  mc_jsep_free(b);
}

static void check_refused(mc_jsep *j, enum mc_sdp_type type, const mc_sdp *s, const char *needle) {
  char why[256] = "";
  enum mc_jsep_state before = mc_jsep_state(j);
  CHECK_EQ_INT(mc_jsep_set_remote(j, type, s, why, sizeof why), MC_EINVAL);
  size_t n = strlen(why);
  CHECK(n > 10 && why[n - 1] == '.');
  if (!strstr(why, needle)) fprintf(stderr, "refusal without \"%s\": %s\n", needle, why);
  CHECK(strstr(why, needle) != NULL);
  CHECK_EQ_INT(mc_jsep_state(j), before);
}

/* (4) descriptions that cannot be used are refused with one sentence */
static void test_refusals(void) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  mc_sdp *answer = fixture("chrome-answer-av.sdp");
  check_refused(j, MC_SDP_ANSWER, answer, "answer");

  mc_sdp *s = fixture("chrome-offer-av.sdp");
  for (int i = 0; i < s->media_count; i++) s->media[i].transport.has_fingerprint = false;
  check_refused(j, MC_SDP_OFFER, s, "fingerprint");
  free(s);

  s = fixture("chrome-offer-av.sdp");
  s->media[0].transport.fp_algorithm[4] = '5'; /* "sha-556" */
  check_refused(j, MC_SDP_OFFER, s, "hash");
  free(s);

  s = fixture("chrome-offer-av.sdp");
  for (int i = 0; i < s->media_count; i++) s->media[i].transport.ice_pwd[0] = '\0';
  check_refused(j, MC_SDP_OFFER, s, "ice-pwd");
  free(s);

  s = fixture("chrome-offer-av.sdp");
  s->group_count = 0;
  snprintf(s->media[1].transport.ice_ufrag, sizeof s->media[1].transport.ice_ufrag, "othr");
  check_refused(j, MC_SDP_OFFER, s, "without BUNDLE");
  /* the same m-lines on one transport need no BUNDLE */
  snprintf(s->media[1].transport.ice_ufrag, sizeof s->media[1].transport.ice_ufrag, "iSFx");
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, s, NULL, 0), 0);
  free(s);
  mc_jsep_free(j);

  s = fixture("chrome-offer-av.sdp");
  j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  snprintf(s->media[1].mid, sizeof s->media[1].mid, "0");
  check_refused(j, MC_SDP_OFFER, s, "two m-lines");
  s->media[1].mid[0] = '\0';
  check_refused(j, MC_SDP_OFFER, s, "a=mid");
  free(s);
  mc_jsep_free(j);

  /* answers to our offer */
  mc_jsep *a = peer("AAAA", "apassword0123456789012345", fp_a, NULL);
  mc_jsep *b = peer("BBBB", "bpassword0123456789012345", fp_b, NULL);
  struct mc_jsep_track ta = track(0, 0, "s", "a"), tv = track(0, 0, "s", "v");
  CHECK_EQ_INT(mc_jsep_add_transceiver(a, MC_MEDIA_AUDIO, &ta, NULL), 0);
  CHECK_EQ_INT(mc_jsep_add_transceiver(a, MC_MEDIA_VIDEO, &tv, NULL), 0);
  mc_sdp *o = calloc(1, sizeof *o), *ans = calloc(1, sizeof *ans), *bad = calloc(1, sizeof *bad);
  CHECK_EQ_INT(mc_jsep_create_answer(a, ans), MC_ESTATE);
  CHECK_EQ_INT(mc_jsep_create_offer(a, o), 0);
  CHECK_EQ_INT(mc_jsep_set_local(a, MC_SDP_OFFER, o), 0);
  CHECK_EQ_INT(mc_jsep_set_remote(b, MC_SDP_OFFER, o, NULL, 0), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(b, ans), 0);
  check_refused(a, MC_SDP_OFFER, o, "our own offer"); /* glare: no rollback */

  memcpy(bad, ans, sizeof *bad);
  for (int i = 0; i < bad->media_count; i++) bad->media[i].transport.setup = MC_SDP_SETUP_ACTPASS;
  check_refused(a, MC_SDP_ANSWER, bad, "actpass");

  memcpy(bad, ans, sizeof *bad);
  mc_sdp_media *v = &bad->media[1];
  mc_sdp_payload *h = &v->fmts[v->fmt_count++];
  memset(h, 0, sizeof *h);
  snprintf(h->fmt, sizeof h->fmt, "102");
  h->pt = 102;
  h->has_rtpmap = true;
  snprintf(h->encoding, sizeof h->encoding, "H264");
  h->clock_rate = 90000;
  check_refused(a, MC_SDP_ANSWER, bad, "payload type 102");

  memcpy(bad, ans, sizeof *bad);
  snprintf(bad->media[1].fmts[0].encoding, sizeof bad->media[1].fmts[0].encoding, "VP9");
  check_refused(a, MC_SDP_ANSWER, bad, "did not have");

  memcpy(bad, ans, sizeof *bad);
  bad->media_count = 1;
  bad->groups[0].count = 1;
  check_refused(a, MC_SDP_ANSWER, bad, "2");

  memcpy(bad, ans, sizeof *bad);
  bad->media[0].rtcp_mux = false;
  check_refused(a, MC_SDP_ANSWER, bad, "rtcp-mux");

  memcpy(bad, ans, sizeof *bad);
  bad->groups[0].count = 1;
  check_refused(a, MC_SDP_ANSWER, bad, "BUNDLE");

  /* after all that, the right answer still completes the exchange */
  char why[256] = "";
  CHECK_EQ_INT(mc_jsep_set_remote(a, MC_SDP_ANSWER, ans, why, sizeof why), 0);
  CHECK_EQ_INT(mc_jsep_state(a), MC_JSEP_STABLE);
  check_refused(a, MC_SDP_ANSWER, ans, "stable");

  /* an offer that drops an m-line of the session */
  memcpy(bad, o, sizeof *bad);
  bad->media_count = 1;
  bad->groups[0].count = 1;
  check_refused(a, MC_SDP_OFFER, bad, "removed");

  free(o);
  free(ans);
  free(bad);
  free(answer);
  mc_jsep_free(a);
  mc_jsep_free(b);
}

static char *replace_all(const char *s, const char *from, const char *to) {
  size_t fl = strlen(from), tl = strlen(to), n = 0;
  for (const char *p = s; (p = strstr(p, from)); p += fl) n++;
  char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *w = out;
  for (const char *p = s;;) {
    const char *q = strstr(p, from);
    if (!q) {
      strcpy(w, p);
      break;
    }
    memcpy(w, p, (size_t)(q - p));
    w += q - p;
    memcpy(w, to, tl);
    w += tl;
    p = q + fl;
  }
  return out;
}

/* ---- data m-line forms (issue 16) ---- */

/* Sets the offer text as the remote offer of a fresh peer and answers it;
 * the answer goes over the wire and is applied. */
static mc_sdp *answer_text(mc_jsep **jo, const char *text) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  mc_sdp *offer = parse_text(text);
  char why[256] = "";
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, why, sizeof why), 0);
  mc_sdp *ans = calloc(1, sizeof *ans);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  mc_sdp *wire = over_the_wire(ans);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, wire), 0);
  free(offer);
  free(wire);
  *jo = j;
  return ans;
}

static bool group_has(const mc_sdp *s, const char *mid) {
  for (int g = 0; g < s->group_count; g++)
    for (int i = 0; i < s->groups[g].count; i++)
      if (strcmp(s->groups[g].mids[i], mid) == 0) return true;
  return false;
}

/* RFC 3264 6 / RFC 9143 7.3.3: a rejected m-line says port 0, the offer's
 * media and proto, at least one of its formats, keeps its mid, stays out of
 * the BUNDLE group and never says a=bundle-only. */
static void check_rejected(const mc_sdp *ans, int i, const mc_sdp_media *om) {
  const mc_sdp_media *m = &ans->media[i];
  CHECK_EQ_INT(m->port, 0);
  CHECK_STR(m->media, om->media);
  CHECK_STR(m->proto_text, om->proto_text);
  CHECK(m->fmt_count >= 1);
  bool offered = false;
  for (int f = 0; f < om->fmt_count; f++) offered |= strcmp(om->fmts[f].fmt, m->fmts[0].fmt) == 0;
  CHECK(offered);
  CHECK_STR(m->mid, om->mid);
  CHECK(!group_has(ans, m->mid));
  CHECK(!m->bundle_only);
  CHECK(!strstr(text_buf, "bundle-only"));
}

/* The DTLS/SCTP form (draft-ietf-mmusic-sctp-sdp-05) after Chromium's audio
 * and video: answered in that form, with our port, and the peer's port is
 * the one its format names. */
static void test_legacy_datachannel(uint16_t their_port) {
  size_t len = 0;
  char *text = read_fixture("derived/offer-av-dtls-sctp-sctpmap.sdp", &len);
  char from_m[64], from_map[64];
  snprintf(from_m, sizeof from_m, "DTLS/SCTP %u", (unsigned)their_port);
  snprintf(from_map, sizeof from_map, "a=sctpmap:%u ", (unsigned)their_port);
  char *t1 = replace_all(text, "DTLS/SCTP 5000", from_m);
  char *t2 = replace_all(t1, "a=sctpmap:5000 ", from_map);
  mc_jsep *j = NULL;
  mc_sdp *ans = answer_text(&j, t2);
  CHECK_EQ_INT(ans->media_count, 3);
  const mc_sdp_media *m = &ans->media[2];
  CHECK_STR(m->media, "application");
  CHECK_EQ_INT(m->port, 9);
  CHECK_STR(m->proto_text, "DTLS/SCTP");
  CHECK_EQ_INT(m->proto, MC_SDP_PROTO_LEGACY_SCTP);
  CHECK_EQ_INT(m->fmt_count, 1);
  CHECK_STR(m->fmts[0].fmt, "5000");
  CHECK(m->has_sctpmap);
  CHECK_EQ_INT(m->sctpmap_port, 5000);
  CHECK_STR(m->sctpmap_app, "webrtc-datachannel");
  CHECK(m->has_sctpmap_value && m->sctpmap_value == 65535);
  CHECK(!m->has_sctp_port && !m->has_max_message_size);
  CHECK_STR(m->mid, "2");
  CHECK(group_has(ans, "2"));
  check_our_transport(m, "ourU", fp_a, MC_SDP_SETUP_ACTIVE);
  CHECK(strstr(text_buf, "m=application 9 DTLS/SCTP 5000\r\n") != NULL);
  CHECK(strstr(text_buf, "a=sctpmap:5000 webrtc-datachannel 65535\r\n") != NULL);
  CHECK(!strstr(text_buf, "a=sctp-port"));
  const mc_jsep_media *d = by_mid(j, "2");
  if (d) {
    CHECK_EQ_INT(d->kind, MC_MEDIA_DATA);
    CHECK(!d->rejected);
    CHECK_EQ_INT(d->local_sctp_port, 5000);
    CHECK_EQ_INT(d->remote_sctp_port, their_port);
    CHECK_EQ_INT(d->remote_max_message_size, 65536); /* RFC 8841 6.1; the sctpmap value is not a size */
  }
  CHECK(!by_mid(j, "0")->rejected && !by_mid(j, "1")->rejected);
  free(ans);
  mc_jsep_free(j);

  /* an sctpmap for another application, or on a port the m= line does not
   * list, is no data channel: rejected in a shape every stack takes */
  const char *bad[] = {"a=sctpmap:5000 webrtc-datachannel", "a=sctpmap:5000 bfcp 65535",
                       "a=sctpmap:5001 webrtc-datachannel 65535"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    char *t3 = replace_all(text, "a=sctpmap:5000 webrtc-datachannel 65535", bad[k]);
    mc_sdp *offer = parse_text(t3);
    ans = answer_text(&j, t3);
    if (k == 0) {
      /* the value is optional: still the data channel */
      CHECK_EQ_INT(ans->media[2].port, 9);
    } else {
      check_rejected(ans, 2, &offer->media[2]);
      CHECK(by_mid(j, "2")->rejected);
      CHECK_EQ_INT(ans->media[0].port, 9);
    }
    free(ans);
    free(offer);
    free(t3);
    mc_jsep_free(j);
  }
  free(t2);
  free(t1);
  free(text);
}

/* RFC 8841 forms other than Chromium's: no a=sctp-port (taken as 5000, see
 * jsep.c), and TCP/DTLS/SCTP; each answered in its own proto. */
static void test_sctp_port_forms(const char *name, const char *proto) {
  size_t len = 0;
  char *text = read_fixture(name, &len);
  mc_jsep *j = NULL;
  mc_sdp *ans = answer_text(&j, text);
  CHECK_EQ_INT(ans->media_count, 1);
  const mc_sdp_media *m = &ans->media[0];
  CHECK_EQ_INT(m->port, 9);
  CHECK_STR(m->proto_text, proto);
  CHECK_STR(m->fmts[0].fmt, "webrtc-datachannel");
  CHECK(m->has_sctp_port && m->sctp_port == 5000);
  CHECK(m->has_max_message_size && m->max_message_size == 262144);
  CHECK(!m->has_sctpmap);
  const mc_jsep_media *d = by_mid(j, "0");
  if (d) {
    CHECK(!d->rejected);
    CHECK_EQ_INT(d->local_sctp_port, 5000);
    CHECK_EQ_INT(d->remote_sctp_port, 5000);
    CHECK_EQ_INT(d->remote_max_message_size, 262144);
  }
  free(ans);
  mc_jsep_free(j);
  free(text);
}

/* Two peers: A's offer goes out in the DTLS/SCTP form on port 5002 (as an
 * older stack would send it, and as A applied it locally); B answers in
 * that form. Each side's ports are the other's reversed. Then B's answer to
 * A's next (new form) offer comes back in the older form, as some stacks
 * answer: accepted. */
static void to_legacy(mc_sdp_media *m, uint16_t port) {
  /* models compare with memcmp: no bytes of the old text may stay behind */
  memset(m->proto_text, 0, sizeof m->proto_text);
  memset(m->fmts[0].fmt, 0, sizeof m->fmts[0].fmt);
  memset(m->sctpmap_app, 0, sizeof m->sctpmap_app);
  snprintf(m->proto_text, sizeof m->proto_text, "DTLS/SCTP");
  m->proto = MC_SDP_PROTO_LEGACY_SCTP;
  snprintf(m->fmts[0].fmt, sizeof m->fmts[0].fmt, "%u", (unsigned)port);
  m->has_sctp_port = m->has_max_message_size = false;
  m->sctp_port = 0;
  m->max_message_size = 0;
  m->has_sctpmap = true;
  m->sctpmap_port = port;
  snprintf(m->sctpmap_app, sizeof m->sctpmap_app, "webrtc-datachannel");
}

static void test_legacy_two_peers(void) {
  mc_jsep *a = peer("AAAA", "apassword0123456789012345", fp_a, "acname");
  mc_jsep *b = peer("BBBB", "bpassword0123456789012345", fp_b, "bcname");
  CHECK_EQ_INT(mc_jsep_add_data(a), 0);
  mc_sdp *o = calloc(1, sizeof *o), *an = calloc(1, sizeof *an);
  CHECK_EQ_INT(mc_jsep_create_offer(a, o), 0);
  to_legacy(&o->media[0], 5002);
  mc_sdp *ow = over_the_wire(o);
  CHECK(strstr(text_buf, "m=application 9 DTLS/SCTP 5002\r\n") != NULL);
  CHECK_EQ_INT(mc_jsep_set_local(a, MC_SDP_OFFER, ow), 0);
  char why[256] = "";
  CHECK_EQ_INT(mc_jsep_set_remote(b, MC_SDP_OFFER, ow, why, sizeof why), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(b, an), 0);
  mc_sdp *aw = over_the_wire(an);
  CHECK_STR(aw->media[0].proto_text, "DTLS/SCTP");
  CHECK_EQ_INT(mc_jsep_set_local(b, MC_SDP_ANSWER, aw), 0);
  CHECK_EQ_INT(mc_jsep_set_remote(a, MC_SDP_ANSWER, aw, why, sizeof why), 0);
  CHECK_STR(why, "");
  const char *mid = o->media[0].mid;
  const mc_jsep_media *da = by_mid(a, mid), *db = by_mid(b, mid);
  if (da && db) {
    CHECK(!da->rejected && !db->rejected);
    CHECK_EQ_INT(da->local_sctp_port, 5002);
    CHECK_EQ_INT(da->remote_sctp_port, 5000);
    CHECK_EQ_INT(db->local_sctp_port, 5000);
    CHECK_EQ_INT(db->remote_sctp_port, 5002);
  }
  free(ow);
  free(aw);

  /* A re-offers: JSEP 5.1.2, the correct profile again (UDP/DTLS/SCTP) */
  struct mc_jsep_track tv = track(0, 0, "s", "v");
  CHECK_EQ_INT(mc_jsep_add_transceiver(a, MC_MEDIA_VIDEO, &tv, NULL), 0);
  CHECK_EQ_INT(mc_jsep_create_offer(a, o), 0);
  ow = over_the_wire(o);
  CHECK_STR(ow->media[0].proto_text, "UDP/DTLS/SCTP");
  CHECK(ow->media[0].has_sctp_port && ow->media[0].sctp_port == 5000);
  CHECK_EQ_INT(mc_jsep_set_local(a, MC_SDP_OFFER, ow), 0);
  CHECK_EQ_INT(mc_jsep_set_remote(b, MC_SDP_OFFER, ow, why, sizeof why), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(b, an), 0);
  CHECK_STR(an->media[0].proto_text, "UDP/DTLS/SCTP");
  to_legacy(&an->media[0], 5003);
  aw = over_the_wire(an);
  CHECK_EQ_INT(mc_jsep_set_local(b, MC_SDP_ANSWER, aw), 0);
  CHECK_EQ_INT(mc_jsep_set_remote(a, MC_SDP_ANSWER, aw, why, sizeof why), 0);
  CHECK_STR(why, "");
  if (why[0]) fprintf(stderr, "refused: %s\n", why);
  da = by_mid(a, mid);
  if (da) {
    CHECK_EQ_INT(da->local_sctp_port, 5000);
    CHECK_EQ_INT(da->remote_sctp_port, 5003);
  }
  free(ow);
  free(aw);

  /* an answer whose DTLS/SCTP m-line names no webrtc-datachannel is refused */
  CHECK_EQ_INT(mc_jsep_create_offer(a, o), 0);
  ow = over_the_wire(o);
  CHECK_EQ_INT(mc_jsep_set_local(a, MC_SDP_OFFER, ow), 0);
  CHECK_EQ_INT(mc_jsep_set_remote(b, MC_SDP_OFFER, ow, why, sizeof why), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(b, an), 0);
  to_legacy(&an->media[0], 5003);
  snprintf(an->media[0].sctpmap_app, sizeof an->media[0].sctpmap_app, "bfcp");
  CHECK_EQ_INT(mc_jsep_set_remote(a, MC_SDP_ANSWER, an, why, sizeof why), MC_EINVAL);
  CHECK(strstr(why, "webrtc-datachannel") != NULL);
  free(ow);
  free(o);
  free(an);
  mc_jsep_free(a);
  mc_jsep_free(b);
}

/* RFC 9143 7.3.5: an RFC 8843 offerer marks bundled m-lines but the tagged
 * one with port 0 and a=bundle-only. Inside the BUNDLE group that is a
 * bundled m-line to accept; outside it, a rejected one. */
static void test_bundle_only_offer(void) {
  for (int in_bundle = 1; in_bundle >= 0; in_bundle--) {
    mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
    mc_sdp *offer = fixture("chrome-offer-av.sdp");
    offer->media[1].port = 0;
    offer->media[1].bundle_only = true;
    if (!in_bundle) {
      offer->groups[0].count = 1; /* "0" only */
      memset(offer->groups[0].mids[1], 0, sizeof offer->groups[0].mids[1]);
    }
    mc_sdp *ow = over_the_wire(offer);
    CHECK(strstr(text_buf, "a=bundle-only\r\n") != NULL);
    CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, ow, NULL, 0), 0);
    mc_sdp *ans = calloc(1, sizeof *ans);
    CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
    mc_sdp *aw = over_the_wire(ans);
    CHECK(!strstr(text_buf, "bundle-only"));
    if (in_bundle) {
      CHECK_EQ_INT(ans->media[1].port, 9);
      CHECK(group_has(ans, "1"));
      CHECK_STR(ans->media[1].fmts[0].encoding, "VP8");
    } else {
      check_rejected(ans, 1, &ow->media[1]);
    }
    CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, aw), 0);
    CHECK_EQ_INT(by_mid(j, "1")->rejected, !in_bundle);
    CHECK(!by_mid(j, "0")->rejected);
    free(aw);
    free(ans);
    free(ow);
    free(offer);
    mc_jsep_free(j);
  }
}

/* (5) a video m-line with no codec we support is rejected, the rest kept;
 * the rejected m-line stays in later offers with port 0. */
static void test_rejected_mline(void) {
  size_t len = 0;
  char *text = read_fixture("chrome-offer-av.sdp", &len);
  char *h264 = replace_all(text, "VP8/90000", "H265/90000");
  mc_sdp *offer = parse_text(h264);
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  struct mc_jsep_track tv = track(0, 0, "s", "v");
  int iv = -1;
  CHECK_EQ_INT(mc_jsep_add_transceiver(j, MC_MEDIA_VIDEO, &tv, &iv), 0);
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  CHECK(by_mid(j, "1")->rejected); /* known before the answer */
  CHECK(!by_mid(j, "0")->rejected);
  mc_sdp *ans = calloc(1, sizeof *ans);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  mc_sdp *wire = over_the_wire(ans);
  CHECK_EQ_INT(ans->media_count, 2);
  CHECK_EQ_INT(ans->media[0].port, 9);
  CHECK_EQ_INT(ans->media[1].port, 0);
  CHECK_STR(ans->media[1].media, "video");
  CHECK_STR(ans->media[1].proto_text, "UDP/TLS/RTP/SAVPF");
  CHECK_STR(ans->media[1].mid, "1");
  CHECK_EQ_INT(ans->media[1].fmt_count, 1);
  CHECK(mc_sdp_payload_find(&offer->media[1], ans->media[1].fmts[0].pt) != NULL);
  CHECK(!ans->media[1].transport.ice_ufrag[0]);
  CHECK_EQ_INT(ans->groups[0].count, 1);
  CHECK_STR(ans->groups[0].mids[0], "0");
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, wire), 0);
  CHECK(by_mid(j, "1")->rejected);
  CHECK(!by_mid(j, "0")->rejected);
  /* our video transceiver did not go down with the rejected m-line */
  CHECK(mc_jsep_media_index(j, "1") != iv);
  CHECK(!mc_jsep_media_at(j, iv)->rejected);
  CHECK(mc_jsep_negotiation_needed(j));
  mc_sdp *o = calloc(1, sizeof *o);
  CHECK_EQ_INT(mc_jsep_create_offer(j, o), 0);
  free(over_the_wire(o));
  CHECK_EQ_INT(o->media_count, 3);
  CHECK_EQ_INT(o->media[1].port, 0);
  CHECK_STR(o->media[1].mid, "1");
  CHECK_EQ_INT(o->media[2].port, 9);
  CHECK_STR(o->media[2].mid, "2"); /* 0 and 1 are taken */
  CHECK_EQ_INT(o->groups[0].count, 2);
  CHECK_STR(o->groups[0].mids[1], "2");
  free(o);
  free(wire);
  free(ans);
  free(offer);
  free(h264);
  free(text);
  mc_jsep_free(j);
}

/* RFC 9429 5.2.2: the peer reuses a rejected m-line's slot for a new mid
 * and kind (Chromium does after transceiver.stop()). */
static void test_recycled_mline(void) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  mc_sdp *offer = fixture("chrome-offer-av.sdp");
  mc_sdp *ans = calloc(1, sizeof *ans);
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  int old_video = mc_jsep_media_index(j, "1");
  /* the peer stops its video: port 0 */
  offer->media[1].port = 0;
  offer->groups[0].count = 1;
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  CHECK_EQ_INT(ans->media[1].port, 0);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  const mc_jsep_media *v = mc_jsep_media_at(j, old_video);
  CHECK(v->rejected);
  CHECK_EQ_INT(v->dir, MC_SDP_DIR_INACTIVE);
  CHECK_EQ_INT(v->pt, -1);
  CHECK_EQ_INT(v->remote_ssrc, 0);
  CHECK(!mc_jsep_negotiation_needed(j));
  /* then puts a new audio m-line, mid 3, in that slot */
  memcpy(&offer->media[1], &offer->media[0], sizeof offer->media[1]);
  snprintf(offer->media[1].mid, sizeof offer->media[1].mid, "3");
  offer->media[1].ssrc_count = 0;
  offer->media[1].msid_count = 0;
  offer->media[1].dir = MC_SDP_DIR_RECVONLY;
  offer->groups[0].count = 2;
  snprintf(offer->groups[0].mids[1], sizeof offer->groups[0].mids[1], "3");
  char why[256] = "";
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, why, sizeof why), 0);
  CHECK_STR(why, "");
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  free(over_the_wire(ans));
  CHECK_EQ_INT(ans->media[1].port, 9);
  CHECK_STR(ans->media[1].mid, "3");
  CHECK_EQ_INT(ans->media[1].dir, MC_SDP_DIR_INACTIVE); /* recvonly offered, nothing to send */
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  int na = mc_jsep_media_index(j, "3");
  CHECK(na >= 0 && na != old_video);
  CHECK_EQ_INT(mc_jsep_media_index(j, "1"), MC_ENOTFOUND);
  CHECK_EQ_INT(mc_jsep_media_at(j, na)->kind, MC_MEDIA_AUDIO);
  CHECK_EQ_INT(mc_jsep_media_at(j, na)->pt, 111);
  CHECK(mc_jsep_media_at(j, old_video)->rejected);
  /* moving an accepted mid elsewhere is refused */
  memcpy(&offer->media[1], &offer->media[0], sizeof offer->media[1]);
  check_refused(j, MC_SDP_OFFER, offer, "two m-lines");
  snprintf(offer->media[1].mid, sizeof offer->media[1].mid, "3");
  snprintf(offer->media[0].mid, sizeof offer->media[0].mid, "9");
  snprintf(offer->groups[0].mids[0], sizeof offer->groups[0].mids[0], "9");
  check_refused(j, MC_SDP_OFFER, offer, "mid 9");
  free(ans);
  free(offer);
  mc_jsep_free(j);
}

/* (6) a remote ICE restart and candidates carried inside the offer */
static void test_remote_ice_restart(void) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  mc_sdp *offer = fixture("chrome-offer-av.sdp");
  mc_sdp *ans = calloc(1, sizeof *ans);
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  for (int i = 0; i < offer->media_count; i++) {
    snprintf(offer->media[i].transport.ice_ufrag, sizeof offer->media[i].transport.ice_ufrag, "nEwU");
    snprintf(offer->media[i].transport.ice_pwd, sizeof offer->media[i].transport.ice_pwd, "newpassword0123456789012");
  }
  mc_sdp_media *m0 = &offer->media[0];
  snprintf(m0->candidates[0], sizeof m0->candidates[0], "1 1 udp 2122260223 127.0.0.1 50000 typ host");
  m0->candidate_count = 1;
  m0->end_of_candidates = true;
  snprintf(offer->origin_sess_version, sizeof offer->origin_sess_version, "3");
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  const struct mc_jsep_transport *t = NULL;
  CHECK_EQ_INT(mc_jsep_transport(j, &t), 0);
  CHECK(t->ice_restart);
  CHECK_STR(t->remote_ufrag, "nEwU");
  CHECK_EQ_INT(t->candidate_count, 1);
  CHECK_STR(t->candidates[0], "1 1 udp 2122260223 127.0.0.1 50000 typ host");
  CHECK(t->end_of_candidates);
  /* RFC 8839 4.4.1.1.2: the answer to a restart has new credentials */
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  CHECK(strcmp(ans->media[0].transport.ice_ufrag, "ourU") != 0);
  CHECK(strlen(ans->media[0].transport.ice_ufrag) >= 4);
  CHECK_STR(ans->media[0].transport.ice_ufrag, ans->media[1].transport.ice_ufrag);
  CHECK_EQ_INT(ans->media[0].transport.setup, MC_SDP_SETUP_ACTIVE);
  char ufrag[257];
  snprintf(ufrag, sizeof ufrag, "%s", ans->media[0].transport.ice_ufrag);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  CHECK(!mc_jsep_negotiation_needed(j));
  /* the same offer again is no restart, and our credentials stay new */
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  CHECK_EQ_INT(mc_jsep_transport(j, &t), 0);
  CHECK(!t->ice_restart);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  CHECK_STR(ans->media[0].transport.ice_ufrag, ufrag);
  /* an offer that says active makes us passive, i.e. the DTLS server */
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  free(ans);
  free(offer);
  mc_jsep_free(j);

  j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  offer = fixture("chrome-offer-av.sdp");
  ans = calloc(1, sizeof *ans);
  for (int i = 0; i < offer->media_count; i++) offer->media[i].transport.setup = MC_SDP_SETUP_ACTIVE;
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  CHECK_EQ_INT(ans->media[0].transport.setup, MC_SDP_SETUP_PASSIVE);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  CHECK_EQ_INT(mc_jsep_transport(j, &t), 0);
  CHECK(!t->dtls_client);
  free(ans);
  free(offer);
  mc_jsep_free(j);
}


/* A hand-written offer in Firefox's shape: fingerprint, ICE credentials and
 * setup at session level, other payload type numbers, a second data m-line
 * (only one SCTP association per transport: rejected). */
static const char *session_level_offer =
    "v=0\r\n"
    "o=mozilla...THIS_IS_SDPARTA-99.0 4294967296 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00\r\n"
    "a=group:BUNDLE a v d d2\r\n"
    "a=ice-options:trickle\r\n"
    "a=ice-ufrag:sessufrag\r\n"
    "a=ice-pwd:sessionpassword0123456789\r\n"
    "a=setup:actpass\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=sendrecv\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"
    "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
    "a=mid:a\r\n"
    "a=msid:{s} {t}\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:109 opus/48000/2\r\n"
    "a=rtpmap:9 G722/8000/1\r\n"
    "a=ssrc:11 cname:{c}\r\n"
    "a=candidate:0 1 UDP 2122252543 192.0.2.1 5000 typ host\r\n"
    "a=end-of-candidates\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 120 124\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=recvonly\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=fmtp:124 apt=120\r\n"
    "a=mid:v\r\n"
    "a=rtcp-fb:120 nack\r\n"
    "a=rtcp-fb:120 nack pli\r\n"
    "a=rtcp-fb:* ccm fir\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:120 VP8/90000\r\n"
    "a=rtpmap:124 rtx/90000\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:d\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:1073741823\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=mid:d2\r\n"
    "a=sctp-port:5001\r\n";

static void test_session_level_offer(void) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  struct mc_jsep_track tv = track(0, 0, "s", "v");
  CHECK_EQ_INT(mc_jsep_add_transceiver(j, MC_MEDIA_VIDEO, &tv, NULL), 0);
  mc_sdp *offer = parse_text(session_level_offer);
  char why[256] = "";
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, why, sizeof why), 0);
  CHECK_STR(why, "");
  const struct mc_jsep_transport *t = NULL;
  CHECK_EQ_INT(mc_jsep_transport(j, &t), 0);
  CHECK_STR(t->remote_ufrag, "sessufrag");
  CHECK_STR(t->remote_pwd, "sessionpassword0123456789");
  CHECK_EQ_INT(t->remote_fp[0], 0x11);
  CHECK_EQ_INT(t->candidate_count, 1);
  CHECK(t->end_of_candidates);
  mc_sdp *ans = calloc(1, sizeof *ans);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  free(over_the_wire(ans));
  CHECK_EQ_INT(ans->media_count, 4);
  CHECK_EQ_INT(ans->media[0].fmt_count, 1);
  CHECK_EQ_INT(ans->media[0].fmts[0].pt, 109);
  CHECK_EQ_INT(ans->media[0].fmts[0].rtcp_fb_count, 0); /* none offered */
  CHECK_EQ_INT(ans->media[0].extmap_count, 1);
  CHECK_EQ_INT(ext_id(&ans->media[0], MC_JSEP_EXT_MID), 3);
  CHECK_EQ_INT(ans->media[0].transport.setup, MC_SDP_SETUP_ACTIVE);
  CHECK_EQ_INT(ans->media[1].fmts[0].pt, 120);
  CHECK_EQ_INT(ans->media[1].fmts[1].pt, 124);
  CHECK_STR(ans->media[1].fmts[1].fmtp, "apt=120");
  CHECK_EQ_INT(ans->media[1].fmts[0].rtcp_fb_count, 3); /* nack, nack pli, and ccm fir from '*' */
  CHECK_EQ_INT(ans->media[1].dir, MC_SDP_DIR_SENDONLY); /* the offer only receives; we have a camera */
  CHECK_EQ_INT(ans->media[1].ssrc_group_count, 1);
  CHECK_EQ_INT(ext_id(&ans->media[1], MC_JSEP_EXT_TWCC), 7);
  CHECK_EQ_INT(ans->media[2].port, 9);
  CHECK_EQ_INT(ans->media[3].port, 0); /* the second data m-line */
  CHECK_EQ_INT(ans->groups[0].count, 3);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  const mc_jsep_media *a = by_mid(j, "a"), *v = by_mid(j, "v"), *d = by_mid(j, "d"), *d2 = by_mid(j, "d2");
  CHECK_EQ_INT(a->pt, 109);
  CHECK(a->opus_fec);
  CHECK(!a->fb_twcc);
  CHECK_EQ_INT(a->ext_mid, 3);
  CHECK_EQ_INT(a->remote_ssrc, 11);
  CHECK_STR(a->remote_msid, "{s} {t}");
  CHECK_EQ_INT(a->dir, MC_SDP_DIR_RECVONLY);
  CHECK_EQ_INT(v->dir, MC_SDP_DIR_SENDONLY);
  CHECK(v->has_track);
  CHECK(v->fb_nack && v->fb_pli && v->fb_fir && !v->fb_remb && !v->fb_twcc);
  CHECK_EQ_INT(v->rtx_pt, 124);
  CHECK_EQ_INT(v->ext_twcc, 7);
  CHECK_EQ_INT(d->remote_max_message_size, 1073741823);
  CHECK(!d->rejected);
  CHECK(d2->rejected);
  const struct mc_jsep_transport *t2 = NULL;
  CHECK_EQ_INT(mc_jsep_transport(j, &t2), 0);
  CHECK(t2->dtls_client);
  /* our next offer reuses the peer's payload types and extension ids */
  mc_sdp *o = calloc(1, sizeof *o);
  CHECK_EQ_INT(mc_jsep_create_offer(j, o), 0);
  free(over_the_wire(o));
  CHECK_EQ_INT(o->media[0].fmts[0].pt, 109);
  CHECK_EQ_INT(ext_id(&o->media[0], MC_JSEP_EXT_MID), 3);
  /* abs-send-time was never negotiated: not id 2, which the peer uses */
  int abs = ext_id(&o->media[0], MC_JSEP_EXT_ABS_SEND_TIME);
  CHECK(abs >= 1 && abs <= 14 && abs != 2 && abs != 3 && abs != 7);
  CHECK_EQ_INT(ext_id(&o->media[1], MC_JSEP_EXT_ABS_SEND_TIME), abs);
  CHECK_EQ_INT(o->media[1].fmts[0].pt, 120);
  CHECK_EQ_INT(o->media[1].fmts[1].pt, 124);
  CHECK_EQ_INT(ext_id(&o->media[1], MC_JSEP_EXT_TWCC), 7);
  CHECK_EQ_INT(o->media[3].port, 0);
  CHECK_STR(o->media[3].mid, "d2");
  free(o);
  free(ans);
  free(offer);
  mc_jsep_free(j);
}


/* The peer puts the mid extension on id 2, our default for abs-send-time:
 * our next offer moves abs-send-time elsewhere (RFC 8285 6). */
static void test_ext_id_clash(void) {
  mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
  mc_sdp *offer = fixture("chrome-offer-av.sdp");
  for (int i = 0; i < offer->media_count; i++) {
    mc_sdp_media *m = &offer->media[i];
    memset(m->extmaps, 0, sizeof m->extmaps);
    m->extmap_count = 1;
    m->extmaps[0].id = 2;
    snprintf(m->extmaps[0].uri, sizeof m->extmaps[0].uri, "%s", MC_JSEP_EXT_MID);
  }
  mc_sdp *ans = calloc(1, sizeof *ans), *o = calloc(1, sizeof *o);
  CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
  CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
  CHECK_EQ_INT(ans->media[0].extmap_count, 1);
  CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
  CHECK_EQ_INT(by_mid(j, "0")->ext_mid, 2);
  CHECK_EQ_INT(by_mid(j, "0")->ext_abs_send_time, 0);
  CHECK_EQ_INT(mc_jsep_create_offer(j, o), 0);
  for (int i = 0; i < 2; i++) {
    const mc_sdp_media *m = &o->media[i];
    CHECK_EQ_INT(ext_id(m, MC_JSEP_EXT_MID), 2);
    int abs = ext_id(m, MC_JSEP_EXT_ABS_SEND_TIME), twcc = ext_id(m, MC_JSEP_EXT_TWCC);
    CHECK(abs > 0 && abs != 2 && twcc > 0 && twcc != 2 && abs != twcc);
  }
  free(o);
  free(ans);
  free(offer);
  mc_jsep_free(j);
}


/* RFC 3264 6.1: the answer's direction from the offer's and our track. */
static void test_direction_table(void) {
  static const struct {
    enum mc_sdp_dir offered;
    bool track;
    enum mc_sdp_dir answered;
  } rows[] = {
      {MC_SDP_DIR_SENDRECV, true, MC_SDP_DIR_SENDRECV}, {MC_SDP_DIR_SENDRECV, false, MC_SDP_DIR_RECVONLY},
      {MC_SDP_DIR_RECVONLY, true, MC_SDP_DIR_SENDONLY}, {MC_SDP_DIR_RECVONLY, false, MC_SDP_DIR_INACTIVE},
      {MC_SDP_DIR_SENDONLY, true, MC_SDP_DIR_RECVONLY}, {MC_SDP_DIR_SENDONLY, false, MC_SDP_DIR_RECVONLY},
      {MC_SDP_DIR_INACTIVE, true, MC_SDP_DIR_INACTIVE}, {MC_SDP_DIR_INACTIVE, false, MC_SDP_DIR_INACTIVE},
  };
  mc_sdp *offer = fixture("chrome-offer-av.sdp");
  mc_sdp *ans = calloc(1, sizeof *ans);
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    mc_jsep *j = peer("ourU", "ourpassword0123456789012", fp_a, NULL);
    struct mc_jsep_track ta = track(5, 0, "s", "a");
    CHECK_EQ_INT(mc_jsep_add_transceiver(j, MC_MEDIA_AUDIO, rows[r].track ? &ta : NULL, NULL), 0);
    offer->media[0].dir = rows[r].offered;
    CHECK_EQ_INT(mc_jsep_set_remote(j, MC_SDP_OFFER, offer, NULL, 0), 0);
    CHECK_EQ_INT(mc_jsep_create_answer(j, ans), 0);
    CHECK_EQ_INT(ans->media[0].dir, rows[r].answered);
    bool sends = rows[r].answered == MC_SDP_DIR_SENDRECV || rows[r].answered == MC_SDP_DIR_SENDONLY;
    CHECK_EQ_INT(ans->media[0].ssrc_count, sends ? 1 : 0);
    CHECK_EQ_INT(ans->media[0].msid_count, sends ? 1 : 0);
    CHECK_EQ_INT(mc_jsep_set_local(j, MC_SDP_ANSWER, ans), 0);
    CHECK_EQ_INT(by_mid(j, "0")->dir, rows[r].answered);
    CHECK(!mc_jsep_negotiation_needed(j));
    mc_jsep_free(j);
  }
  free(ans);
  free(offer);
}

static void test_arguments(void) {
  struct mc_jsep_config c = {"ab", "ourpassword0123456789012", fp_a, 32, NULL, false};
  mc_jsep *j = NULL;
  CHECK_EQ_INT(mc_jsep_new(&c, &j), MC_EINVAL); /* ufrag shorter than 4 */
  c.ice_ufrag = "ourU";
  c.fingerprint_len = 20;
  CHECK_EQ_INT(mc_jsep_new(&c, &j), MC_EINVAL);
  c.fingerprint_len = 32;
  c.cname = "has space";
  CHECK_EQ_INT(mc_jsep_new(&c, &j), MC_EINVAL);
  c.cname = NULL;
  CHECK_EQ_INT(mc_jsep_new(&c, &j), 0);
  struct mc_jsep_track bad = track(1, 0, "stream id", "t");
  CHECK_EQ_INT(mc_jsep_add_transceiver(j, MC_MEDIA_AUDIO, &bad, NULL), MC_EINVAL);
  CHECK_EQ_INT(mc_jsep_add_transceiver(j, MC_MEDIA_DATA, NULL, NULL), MC_EINVAL);
  CHECK_EQ_INT(mc_jsep_set_track(j, 0, NULL), MC_EINVAL);
  CHECK_EQ_INT(mc_jsep_set_ice_credentials(j, "ok!!", "ourpassword0123456789012"), MC_EINVAL);
  int n = 0;
  for (int i = 0; i < 20; i++)
    if (mc_jsep_add_transceiver(j, MC_MEDIA_AUDIO, NULL, NULL) == 0) n++;
  CHECK_EQ_INT(n, MC_SDP_MAX_MEDIA);
  mc_sdp *o = calloc(1, sizeof *o);
  CHECK_EQ_INT(mc_jsep_create_offer(j, o), 0);
  CHECK_EQ_INT(o->media_count, MC_SDP_MAX_MEDIA);
  free(over_the_wire(o));
  free(o);
  CHECK_EQ_INT(mc_jsep_media_index(j, "0"), MC_ENOTFOUND); /* not applied yet */
  CHECK_STR(mc_jsep_state_name(MC_JSEP_HAVE_REMOTE_OFFER), "have-remote-offer");
  CHECK_STR(mc_sdp_type_name(MC_SDP_ANSWER), "answer");
  CHECK_STR(mc_media_kind_name(MC_MEDIA_DATA), "application");
  mc_jsep_free(j);
}


/* Issue 16: the REMB-only mode for tests. A full peer's offer answered by
 * a REMB-only one, and the REMB-only one's own offer: neither carries
 * transport-cc or the transport-wide sequence extension, both negotiate
 * goog-remb and abs-send-time, on both sides. */
static void test_remb_only(void) {
  for (int remb_offers = 0; remb_offers < 2; remb_offers++) {
    mc_jsep *full = peer("AAAA", "apassword0123456789012345", fp_a, "acname");
    struct mc_jsep_config c = {"BBBB", "bpassword0123456789012345", fp_b, 32, "bcname", true};
    mc_jsep *remb = NULL;
    CHECK_EQ_INT(mc_jsep_new(&c, &remb), 0);
    if (!remb) exit(1);
    struct mc_jsep_track fa = track(0, 0, "as", "aa"), fv = track(0, 0, "as", "av");
    struct mc_jsep_track ra = track(0, 0, "bs", "ba"), rv = track(0, 0, "bs", "bv");
    CHECK_EQ_INT(mc_jsep_add_transceiver(full, MC_MEDIA_AUDIO, &fa, NULL), 0);
    CHECK_EQ_INT(mc_jsep_add_transceiver(full, MC_MEDIA_VIDEO, &fv, NULL), 0);
    CHECK_EQ_INT(mc_jsep_add_transceiver(remb, MC_MEDIA_AUDIO, &ra, NULL), 0);
    CHECK_EQ_INT(mc_jsep_add_transceiver(remb, MC_MEDIA_VIDEO, &rv, NULL), 0);
    mc_jsep *off = remb_offers ? remb : full, *ans = remb_offers ? full : remb;
    mc_sdp *o = calloc(1, sizeof *o);
    CHECK_EQ_INT(mc_jsep_create_offer(off, o), 0);
    if (remb_offers) {
      CHECK(!has_fb(&o->media[1].fmts[0], "transport-cc") && has_fb(&o->media[1].fmts[0], "goog-remb"));
      CHECK(!has_fb(&o->media[0].fmts[0], "transport-cc"));
      CHECK_EQ_INT(ext_id(&o->media[1], MC_JSEP_EXT_TWCC), 0);
      CHECK(ext_id(&o->media[1], MC_JSEP_EXT_ABS_SEND_TIME) > 0);
    }
    CHECK_EQ_INT(mc_jsep_set_local(off, MC_SDP_OFFER, o), 0);
    mc_sdp *ow = over_the_wire(o);
    char why[256] = "";
    CHECK_EQ_INT(mc_jsep_set_remote(ans, MC_SDP_OFFER, ow, why, sizeof why), 0);
    mc_sdp *a = calloc(1, sizeof *a);
    CHECK_EQ_INT(mc_jsep_create_answer(ans, a), 0);
    if (!remb_offers) {
      CHECK(!has_fb(&a->media[1].fmts[0], "transport-cc") && has_fb(&a->media[1].fmts[0], "goog-remb"));
      CHECK_EQ_INT(ext_id(&a->media[1], MC_JSEP_EXT_TWCC), 0);
    }
    CHECK_EQ_INT(mc_jsep_set_local(ans, MC_SDP_ANSWER, a), 0);
    mc_sdp *aw = over_the_wire(a);
    CHECK_EQ_INT(mc_jsep_set_remote(off, MC_SDP_ANSWER, aw, why, sizeof why), 0);
    for (int side = 0; side < 2; side++) {
      mc_jsep *j = side ? remb : full;
      for (int k = 0; k < 2; k++) {
        const mc_jsep_media *m = by_mid(j, k ? "1" : "0");
        CHECK(!m->fb_twcc && m->ext_twcc == 0);
        CHECK(m->ext_abs_send_time > 0);
        if (k) CHECK(m->fb_remb);
      }
    }
    free(o);
    free(ow);
    free(a);
    free(aw);
    mc_jsep_free(full);
    mc_jsep_free(remb);
  }
}

int main(void) {
  test_remb_only();
  for (int i = 0; i < 32; i++) {
    fp_a[i] = (uint8_t)(0xA0 + i);
    fp_b[i] = (uint8_t)(0x10 + i);
  }
  test_chrome_av(false);
  test_chrome_av(true);
  test_chrome_datachannel(false);
  test_chrome_datachannel(true);
  test_legacy_datachannel(5000);
  test_legacy_datachannel(5001);
  test_sctp_port_forms("derived/offer-datachannel-no-sctp-port.sdp", "UDP/DTLS/SCTP");
  test_sctp_port_forms("derived/offer-datachannel-tcp.sdp", "TCP/DTLS/SCTP");
  test_legacy_two_peers();
  test_bundle_only_offer();
  test_two_peers();
  test_refusals();
  test_rejected_mline();
  test_recycled_mline();
  test_remote_ice_restart();
  test_session_level_offer();
  test_ext_id_clash();
  test_direction_table();
  test_arguments();
  return CHECK_DONE();
}
