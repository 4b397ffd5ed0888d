/* Writes the seeds of the fuzz targets whose input is structured binary
 * (tests/fuzz/corpus/TARGET/gen-*), made with the library's own writers so
 * they are valid where a mutation alone rarely gets: STUN messages whose
 * MESSAGE-INTEGRITY (with fuzz_stun's key) and FINGERPRINT check, padded
 * ChannelData streams, RFC 4571 framed ICE-TCP streams, compound RTCP with
 * NACK and transport-wide feedback, feedback scripts that drive the
 * bandwidth estimator into its states, the TURN client's server scripts
 * (UDP, TCP, TLS with its own events), and SCTP notifications laid out as
 * usrsctp hands them over (host byte order and struct layout: the committed
 * ones are x86-64's, where CI runs; elsewhere the check reports them).
 *
 *   ninja -C build fuzz-seeds            # (re)writes them in the source tree
 *   fuzz_seedgen --check tests/fuzz/corpus   # the 'seeds' test: all current?
 *
 * Everything is fixed (transaction ids, times): the same seeds every run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <usrsctp.h>

#include "ice/ice.h"
#include "rtp/rtp.h"
#include "sctp/sctp.h"
#include "stun/stun.h"

static const char *outdir;
static bool check;
static int problems, written;

/* Writes outdir/target/gen-name, or with --check compares it. */
static void emit(const char *target, const char *name, const uint8_t *buf, size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/gen-%s", outdir, target, name);
  if (check) {
    static uint8_t have[1 << 17];
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(have, 1, sizeof have, f) : 0;
    if (f) fclose(f);
    if (!f || n != len || memcmp(have, buf, len) != 0) {
      fprintf(stderr, "%s: %s; run `ninja -C BUILD fuzz-seeds` and commit\n", path,
              f ? "differs from what the generator writes" : "missing");
      problems++;
    }
    return;
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "%s: cannot write\n", path);
    problems++;
    return;
  }
  written++;
}

/* A growing byte string. */
struct bytes {
  uint8_t b[1 << 16];
  size_t n;
};

static void put(struct bytes *o, const void *p, size_t n) {
  if (o->n + n > sizeof o->b) abort();
  if (n) memcpy(o->b + o->n, p, n); /* an empty piece may come with no pointer */
  o->n += n;
}
static void put8(struct bytes *o, uint8_t v) { put(o, &v, 1); }
static void put16(struct bytes *o, uint16_t v) {
  uint8_t b[2];
  mc_put_be16(b, v);
  put(o, b, 2);
}
static void put32(struct bytes *o, uint32_t v) {
  uint8_t b[4];
  mc_put_be32(b, v);
  put(o, b, 4);
}

static mc_addr addr(const char *ip, uint16_t port) {
  mc_addr a;
  if (mc_addr_parse(ip, port, &a) != 0) abort();
  return a;
}

/* ---- STUN (fuzz_stun: integrity with its fixed key) ---- */

static const uint8_t stun_key[] = "VOkJxbRl1RmTxUk/WvJxBt";
#define STUN_KEY stun_key, sizeof stun_key - 1

static void begin(mc_stun_writer *w, uint8_t *buf, size_t cap, uint16_t method, uint8_t cls, uint8_t id) {
  uint8_t txid[12];
  for (int i = 0; i < 12; i++) txid[i] = (uint8_t)(id * 16 + i);
  mc_stun_begin(w, buf, cap, method, cls, txid);
}

static size_t finish(mc_stun_writer *w) {
  int n = mc_stun_finish(w);
  if (n <= 0) abort();
  return (size_t)n;
}

static void stun_seed(const char *name, mc_stun_writer *w) {
  size_t n = finish(w);
  emit("stun", name, w->buf, n);
}

static void gen_stun(void) {
  static uint8_t buf[2048];
  mc_stun_writer w;
  mc_addr v4 = addr("203.0.113.5", 40000), v6 = addr("2001:db8::7", 50000), relay = addr("198.51.100.9", 50002),
          peer = addr("192.0.2.7", 4000);

  /* ICE connectivity check (RFC 8445 7.1.1), both integrities. */
  begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, 1);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "evtj:h6vY");
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 0x6e0001ff);
  mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLING, 0x932ff9b151263b36ull);
  mc_stun_put_flag(&w, MC_STUN_ATTR_USE_CANDIDATE);
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, "medcall seedgen");
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("ice_check_controlling", &w);

  begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, 2);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "h6vY:evtj");
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 0x7e7f00ff);
  mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLED, 1);
  mc_stun_put_integrity_sha256(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("ice_check_controlled_sha256", &w);

  begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_SUCCESS, 3);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &v4);
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("binding_success_v4", &w);

  begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_SUCCESS, 4);
  mc_stun_put_addr(&w, MC_STUN_ATTR_MAPPED_ADDRESS, &v6);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &v6);
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_integrity_sha256(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("binding_success_v6_both_integrities", &w);

  begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_ERROR, 5);
  mc_stun_put_error(&w, 487, "Role Conflict");
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("binding_error_487", &w);

  /* TURN (RFC 8656): the long-term exchange and an allocation's life. */
  begin(&w, buf, sizeof buf, MC_STUN_ALLOCATE, MC_STUN_REQUEST, 6);
  mc_stun_put_requested_transport(&w, 17);
  mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, 600);
  mc_stun_put_fingerprint(&w);
  stun_seed("allocate_request_first", &w);

  begin(&w, buf, sizeof buf, MC_STUN_ALLOCATE, MC_STUN_ERROR, 7);
  mc_stun_put_error(&w, 401, "Unauthorized");
  mc_stun_put_string(&w, MC_STUN_ATTR_REALM, "example.org");
  mc_stun_put_string(&w, MC_STUN_ATTR_NONCE, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA");
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, "coturn");
  mc_stun_put_fingerprint(&w);
  stun_seed("allocate_401", &w);

  begin(&w, buf, sizeof buf, MC_STUN_ALLOCATE, MC_STUN_REQUEST, 8);
  mc_stun_put_requested_transport(&w, 17);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "1700000000:medcall");
  mc_stun_put_string(&w, MC_STUN_ATTR_REALM, "example.org");
  mc_stun_put_string(&w, MC_STUN_ATTR_NONCE, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA");
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("allocate_request_authenticated", &w);

  begin(&w, buf, sizeof buf, MC_STUN_ALLOCATE, MC_STUN_SUCCESS, 9);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relay);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &v4);
  mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, 600);
  mc_stun_put_string(&w, MC_STUN_ATTR_SOFTWARE, "coturn");
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("allocate_success", &w);

  begin(&w, buf, sizeof buf, MC_STUN_ALLOCATE, MC_STUN_ERROR, 10);
  mc_stun_put_error(&w, 300, "Try Alternate");
  mc_stun_put_addr(&w, MC_STUN_ATTR_ALTERNATE_SERVER, &v6);
  mc_stun_put_integrity(&w, STUN_KEY);
  stun_seed("allocate_300_alternate", &w);

  begin(&w, buf, sizeof buf, MC_STUN_ALLOCATE, MC_STUN_ERROR, 11);
  uint16_t unknown[] = {0x0031, 0x7001, 0x0040};
  mc_stun_put_error(&w, 420, "Unknown Attribute");
  mc_stun_put_unknown(&w, unknown, 3);
  mc_stun_put_fingerprint(&w);
  stun_seed("error_420_unknown", &w);

  begin(&w, buf, sizeof buf, MC_STUN_REFRESH, MC_STUN_REQUEST, 12);
  mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, 0);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "1700000000:medcall");
  mc_stun_put_string(&w, MC_STUN_ATTR_REALM, "example.org");
  mc_stun_put_string(&w, MC_STUN_ATTR_NONCE, "nonce-2");
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("refresh_zero", &w);

  begin(&w, buf, sizeof buf, MC_STUN_CREATE_PERMISSION, MC_STUN_REQUEST, 13);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &v6);
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("create_permission_two_peers", &w);

  begin(&w, buf, sizeof buf, MC_STUN_CHANNEL_BIND, MC_STUN_REQUEST, 14);
  mc_stun_put_channel_number(&w, 0x4001);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  stun_seed("channel_bind", &w);

  static const uint8_t payload[] = "\x80\x60\x00\x01 a relayed datagram";
  begin(&w, buf, sizeof buf, MC_STUN_DATA, MC_STUN_INDICATION, 15);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
  mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, payload, sizeof payload - 1);
  mc_stun_put_fingerprint(&w);
  stun_seed("data_indication", &w);

  begin(&w, buf, sizeof buf, MC_STUN_SEND, MC_STUN_INDICATION, 16);
  mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &v6);
  mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, payload, sizeof payload - 1);
  stun_seed("send_indication_v6", &w);
}

/* ---- ChannelData (fuzz_channeldata) and ICE-TCP frames (fuzz_ice_frame) ---- */

static void channeldata(struct bytes *o, uint16_t ch, const char *data, bool pad) {
  uint8_t b[256];
  int n = mc_channeldata_write(b, sizeof b, ch, (const uint8_t *)data, strlen(data), pad);
  if (n < 0) abort();
  put(o, b, (size_t)n);
}

static void gen_channeldata(void) {
  struct bytes o = {0};
  channeldata(&o, 0x4000, "hello", false);
  emit("channeldata", "udp_lowest_channel", o.b, o.n);
  o.n = 0;
  channeldata(&o, 0x4FFF, "", false);
  emit("channeldata", "udp_highest_channel_empty", o.b, o.n);
  /* Over TCP frames are padded to 4 and follow each other (RFC 8656 12.5). */
  o.n = 0;
  channeldata(&o, 0x4001, "abc", true);
  channeldata(&o, 0x4002, "abcdefgh", true);
  channeldata(&o, 0x4003, "a", true);
  emit("channeldata", "tcp_three_padded", o.b, o.n);
}

static void gen_ice_frame(void) {
  static uint8_t buf[512];
  mc_stun_writer w;
  begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, 20);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, "evtj:h6vY");
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, 0x6e0001ff);
  mc_stun_put_integrity(&w, STUN_KEY);
  mc_stun_put_fingerprint(&w);
  size_t stun_len = finish(&w);
  uint8_t media[300];
  for (size_t i = 0; i < sizeof media; i++) media[i] = (uint8_t)i;
  media[0] = 0x80;
  /* Piece sizes that cut inside the header, inside a frame, and whole. */
  static const uint8_t pieces[] = {0, 6, 255};
  static const char *names[] = {"stun_media_empty_by_1", "stun_media_empty_by_7", "stun_media_empty_whole"};
  for (size_t k = 0; k < 3; k++) {
    struct bytes o = {0};
    uint8_t h[2];
    put8(&o, pieces[k]);
    mc_ice_frame_header(stun_len, h);
    put(&o, h, 2);
    put(&o, buf, stun_len);
    mc_ice_frame_header(sizeof media, h);
    put(&o, h, 2);
    put(&o, media, sizeof media);
    mc_ice_frame_header(0, h);
    put(&o, h, 2);
    mc_ice_frame_header(stun_len, h);
    put(&o, h, 2);
    put(&o, buf, stun_len / 2); /* the stream ends inside a frame */
    emit("ice_frame", names[k], o.b, o.n);
  }
}

/* ---- RTCP (fuzz_rtcp) ---- */

#define OUR_SSRC 0x0badcafeu
#define MEDIA_SSRC 0x11223344u /* fuzz_feedback's sender */

static void rtcp_twcc(struct bytes *o, uint16_t base, size_t count, const int64_t *arrival_us, uint8_t fb_count) {
  struct mc_twcc_status st[256];
  if (count > 256) abort();
  for (size_t i = 0; i < count; i++) {
    st[i].seq = (uint16_t)(base + i);
    st[i].received = arrival_us[i] >= 0;
    st[i].arrival_us = arrival_us[i] >= 0 ? arrival_us[i] : 0;
  }
  size_t n = 0;
  if (mc_rtcp_write_twcc(OUR_SSRC, MEDIA_SSRC, fb_count, st, count, o->b + o->n, sizeof o->b - o->n, &n) != 0)
    abort();
  o->n += n;
}

static void rtcp_nack(struct bytes *o, const uint16_t *seqs, size_t count) {
  size_t n = 0;
  if (mc_rtcp_write_nack(OUR_SSRC, MEDIA_SSRC, seqs, count, o->b + o->n, sizeof o->b - o->n, &n) != 0) abort();
  o->n += n;
}

static void rtcp_rr(struct bytes *o, uint8_t fraction_lost) {
  struct mc_rtcp_rr rr = {.ssrc = OUR_SSRC, .rb_count = 1};
  rr.rb[0] = (struct mc_rtcp_report_block){MEDIA_SSRC, fraction_lost, 12, 0x10000 + 300, 45, 0x12345678, 0x8000};
  size_t n = 0;
  if (mc_rtcp_write_rr(&rr, o->b + o->n, sizeof o->b - o->n, &n) != 0) abort();
  o->n += n;
}

static void gen_rtcp(void) {
  struct bytes o = {0};
  size_t n = 0;
  struct mc_rtcp_sr sr = {.ssrc = MEDIA_SSRC, .ntp = 0xe8e4f0a2c0000000ull, .rtp_ts = 90000, .packet_count = 1000,
                          .octet_count = 1200000, .rb_count = 2};
  sr.rb[0] = (struct mc_rtcp_report_block){OUR_SSRC, 25, 100, 0x20000 + 5, 300, 0xf0a2c000, 0x10000};
  sr.rb[1] = (struct mc_rtcp_report_block){0x77777777, 0, -3, 7, 0, 0, 0};
  if (mc_rtcp_write_sr(&sr, o.b, sizeof o.b, &n) != 0) abort();
  o.n += n;
  if (mc_rtcp_write_sdes_cname(MEDIA_SSRC, "medcall-seed@example", o.b + o.n, sizeof o.b - o.n, &n) != 0) abort();
  o.n += n;
  emit("rtcp", "sr_two_blocks_sdes", o.b, o.n);

  o.n = 0;
  rtcp_rr(&o, 64);
  uint32_t bye[] = {MEDIA_SSRC, 0x77777777};
  if (mc_rtcp_write_bye(bye, 2, "seedgen done", o.b + o.n, sizeof o.b - o.n, &n) != 0) abort();
  o.n += n;
  emit("rtcp", "rr_bye_reason", o.b, o.n);

  o.n = 0;
  rtcp_rr(&o, 0);
  uint16_t seqs[] = {65530, 65533, 65535, 0, 2, 17, 100, 101, 102, 116, 117, 400};
  rtcp_nack(&o, seqs, sizeof seqs / sizeof seqs[0]);
  emit("rtcp", "rr_nack_wrapping", o.b, o.n);

  o.n = 0;
  rtcp_rr(&o, 0);
  if (mc_rtcp_write_pli(OUR_SSRC, MEDIA_SSRC, o.b + o.n, sizeof o.b - o.n, &n) != 0) abort();
  o.n += n;
  struct mc_rtcp_fir fir = {.sender_ssrc = OUR_SSRC, .count = 2};
  fir.entry[0].ssrc = MEDIA_SSRC, fir.entry[0].seq_nr = 7;
  fir.entry[1].ssrc = 0x77777777, fir.entry[1].seq_nr = 255;
  if (mc_rtcp_write_fir(&fir, o.b + o.n, sizeof o.b - o.n, &n) != 0) abort();
  o.n += n;
  struct mc_rtcp_remb remb = {.sender_ssrc = OUR_SSRC, .bitrate_bps = 1500000, .ssrc_count = 2,
                              .ssrc = {MEDIA_SSRC, 0x77777777}};
  if (mc_rtcp_write_remb(&remb, o.b + o.n, sizeof o.b - o.n, &n) != 0) abort();
  o.n += n;
  emit("rtcp", "rr_pli_fir_remb", o.b, o.n);

  /* Transport-wide feedback in each chunk form: one-bit vectors (small
   * deltas, losses), two-bit vectors (large and negative deltas), runs. */
  int64_t arr[200];
  for (int i = 0; i < 40; i++) arr[i] = 5000000 + i * 1000 + (i % 3) * 250;
  for (int i = 5; i < 40; i += 7) arr[i] = -1;
  o.n = 0;
  rtcp_twcc(&o, 65520, 40, arr, 1);
  emit("rtcp", "twcc_small_deltas_losses", o.b, o.n);
  for (int i = 0; i < 30; i++) arr[i] = 9000000 + (i % 2 ? -2000 : 70000) * (i % 5) + i * 100000;
  o.n = 0;
  rtcp_twcc(&o, 1000, 30, arr, 2);
  emit("rtcp", "twcc_large_negative_deltas", o.b, o.n);
  for (int i = 0; i < 200; i++) arr[i] = i < 60 ? 1000000 + i * 4000 : -1;
  o.n = 0;
  rtcp_rr(&o, 10);
  rtcp_twcc(&o, 300, 200, arr, 3);
  emit("rtcp", "rr_twcc_runs", o.b, o.n);
}

/* ---- feedback scripts (fuzz_feedback) ----
 * The target sends 40 packets first (transport seq 0..39, every 5 ms from
 * t = 1 s; RTP seq 65500..), then plays records [op][len:2][bytes]: op 3
 * sends one packet after [ms] at [size / 5]; op 0 is RTCP from the peer,
 * 1 ms after the previous record. */

struct fb_script {
  struct bytes o;
  uint64_t now_us;
  uint16_t next_twcc;
  uint64_t sent_us[65536];
};

static void fb_begin(struct fb_script *s) {
  s->o.n = 0;
  s->now_us = 1000000;
  for (int i = 0; i < 40; i++) {
    s->sent_us[i] = s->now_us;
    s->now_us += 5000;
  }
  s->next_twcc = 40;
}

static void fb_send(struct fb_script *s, uint8_t ms, uint8_t size5) {
  put8(&s->o, 3);
  put16(&s->o, 2);
  put8(&s->o, ms);
  put8(&s->o, size5);
  s->now_us += (uint64_t)ms * 1000;
  s->sent_us[s->next_twcc++] = s->now_us;
}

static void fb_rtcp_begin(struct fb_script *s, size_t *len_at) {
  put8(&s->o, 0);
  *len_at = s->o.n;
  put16(&s->o, 0);
  s->now_us += 1000;
}

static void fb_rtcp_end(struct fb_script *s, size_t len_at) {
  mc_put_be16(s->o.b + len_at, (uint16_t)(s->o.n - len_at - 2));
}

/* rounds of `per` packets every `gap` ms, each answered with TWCC: one-way
 * delay growing by `grow_us` a packet (a queue filling: overuse), every
 * `lose`-th lost, and a receiver report with that loss. */
static void fb_scenario(const char *name, int rounds, int per, uint8_t gap, int64_t grow_us, int lose, int calm_after) {
  static struct fb_script s;
  fb_begin(&s);
  int64_t queue = 0;
  for (int r = 0; r < rounds; r++) {
    uint16_t first = s.next_twcc;
    for (int i = 0; i < per; i++) fb_send(&s, gap, 200);
    int64_t arr[64];
    for (int i = 0; i < per; i++) {
      if (r < calm_after) queue += grow_us;
      else queue = queue > 4000 ? queue - 4000 : 0;
      arr[i] = (int64_t)s.sent_us[(uint16_t)(first + i)] + 30000 + queue;
      if (lose && (r * per + i) % lose == lose - 1) arr[i] = -1;
    }
    size_t at;
    fb_rtcp_begin(&s, &at);
    if (lose) rtcp_rr(&s.o, (uint8_t)(256 / lose));
    rtcp_twcc(&s.o, first, (size_t)per, arr, (uint8_t)r);
    fb_rtcp_end(&s, at);
  }
  emit("feedback", name, s.o.b, s.o.n);
}

static void gen_feedback(void) {
  fb_scenario("bwe_steady_increase", 40, 5, 4, 0, 0, 1000);
  fb_scenario("bwe_overuse_growing_delay", 40, 5, 4, 1500, 0, 1000);
  fb_scenario("bwe_overuse_then_drain", 40, 5, 4, 2000, 0, 20);
  fb_scenario("bwe_loss_tenth", 30, 5, 4, 0, 10, 1000);
  /* NACK for the first packets (RTP seq wraps at 36), then sends, then
   * NACK again: some still held, some gone. */
  static struct fb_script s;
  fb_begin(&s);
  size_t at;
  uint16_t seqs[] = {65500, 65510, 65535, 0, 1, 3};
  fb_rtcp_begin(&s, &at);
  rtcp_nack(&s.o, seqs, 6);
  fb_rtcp_end(&s, at);
  for (int i = 0; i < 30; i++) fb_send(&s, 40, 200);
  uint16_t later[] = {65501, 5, 20, 30};
  fb_rtcp_begin(&s, &at);
  rtcp_nack(&s.o, later, 4);
  fb_rtcp_end(&s, at);
  emit("feedback", "nack_held_and_expired", s.o.b, s.o.n);
}

/* ---- the TURN client's server (fuzz_turn) ----
 * A script: [set-up] then records [ctl][len:2][attributes]; the target adds
 * the request's method and transaction id, and (ctl & 4) the integrity the
 * client expects and (ctl & 8) a fingerprint. ctl >> 4 cuts a record in two
 * writes over TCP/TLS; over TLS 0xD2, 0xE2, 0xF2 are a KeyUpdate (or a
 * renegotiation), close_notify and bytes outside TLS. */

#define TURN_ANSWER 0x0c       /* success, integrity, fingerprint */
#define TURN_CHALLENGE 0x09    /* error, fingerprint */
#define TURN_AS_IS 0x02
#define TURN_DATA_IND 0x0b     /* a Data indication, fingerprint */
#define TURN_TLS_KEY_UPDATE 0xd2
#define TURN_TLS_CLOSE 0xe2
#define TURN_TLS_RAW 0xf2

struct turn_rec {
  mc_stun_writer w;
  uint8_t buf[1024];
};

static void rec_begin(struct turn_rec *r) { begin(&r->w, r->buf, sizeof r->buf, MC_STUN_BINDING, MC_STUN_REQUEST, 0); }

/* The attributes written since rec_begin, without the writer's header. */
static void rec_end(struct bytes *o, uint8_t ctl, struct turn_rec *r) {
  size_t n = r->w.len - MC_STUN_HEADER_LEN;
  put8(o, ctl);
  put16(o, (uint16_t)n);
  put(o, r->buf + MC_STUN_HEADER_LEN, n);
}

static void turn_raw(struct bytes *o, uint8_t ctl, const void *p, size_t n) {
  put8(o, ctl);
  put16(o, (uint16_t)n);
  put(o, p, n);
}

/* The long-term exchange, the allocation, the permission and channel the
 * target asks for, then the peer's data both ways a server relays it. */
static void turn_flow(struct bytes *o, bool stream, uint8_t cut) {
  struct turn_rec r;
  mc_addr relay = addr("198.51.100.9", 50000), mapped = addr("203.0.113.5", 40000), peer = addr("192.0.2.7", 4000);
  rec_begin(&r);
  mc_stun_put_error(&r.w, 401, "Unauthorized");
  mc_stun_put_string(&r.w, MC_STUN_ATTR_REALM, "fuzz.example");
  mc_stun_put_string(&r.w, MC_STUN_ATTR_NONCE, "nonce-1");
  rec_end(o, TURN_CHALLENGE | cut, &r);
  rec_begin(&r);
  mc_stun_put_xor_addr(&r.w, MC_STUN_ATTR_XOR_RELAYED_ADDRESS, &relay);
  mc_stun_put_xor_addr(&r.w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &mapped);
  mc_stun_put_u32(&r.w, MC_STUN_ATTR_LIFETIME, 600);
  rec_end(o, TURN_ANSWER | cut, &r);
  rec_begin(&r);
  rec_end(o, TURN_ANSWER, &r); /* CreatePermission */
  rec_begin(&r);
  rec_end(o, TURN_ANSWER, &r); /* ChannelBind */
  struct bytes cd = {0};
  channeldata(&cd, MC_TURN_CHANNEL_MIN, "hello", stream);
  channeldata(&cd, MC_TURN_CHANNEL_MIN, "again", stream);
  turn_raw(o, TURN_AS_IS | cut, cd.b, cd.n);
  rec_begin(&r);
  mc_stun_put_xor_addr(&r.w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &peer);
  mc_stun_put_attr(&r.w, MC_STUN_ATTR_DATA, "from peer", 9);
  rec_end(o, TURN_DATA_IND | cut, &r);
}

static void turn_seed(const char *name, uint8_t setup, const char *before, size_t before_len, bool stream,
                      uint8_t cut, const uint8_t *after, size_t after_len) {
  struct bytes o = {0};
  put8(&o, setup);
  if (before) turn_raw(&o, TURN_TLS_RAW, before, before_len);
  turn_flow(&o, stream, cut);
  put(&o, after, after_len);
  emit("turn", name, o.b, o.n);
}

static void gen_turn(void) {
  static const uint8_t key_update[] = {TURN_TLS_KEY_UPDATE, 0, 8, 0x40, 0, 0, 4, 'a', 'b', 'c', 'd',
                                       TURN_TLS_CLOSE, 0, 0};
  static const uint8_t garbage[] = {TURN_TLS_RAW, 0, 5, 'h', 'e', 'l', 'l', 'o'};
  turn_seed("udp_allocate_channel_data", 0x00, NULL, 0, false, 0, NULL, 0);
  turn_seed("tcp_allocate_channel_data_split", 0x01, NULL, 0, true, 0x80, NULL, 0);
  /* turns: (set-up bit 5), the server's bytes cut into two records. */
  turn_seed("tls_allocate_channel_data_split", 0x21, NULL, 0, true, 0x80, NULL, 0);
  turn_seed("tls_key_update_then_close", 0x21, NULL, 0, true, 0, key_update, sizeof key_update);
  turn_seed("tls12_renegotiate_then_close", 0x61, NULL, 0, true, 0, key_update, sizeof key_update);
  turn_seed("tls_garbage_in_handshake", 0x21, "hello", 5, true, 0, NULL, 0);
  /* Once blamed on the certificate the client was told not to check. */
  turn_seed("tls_garbage_after_handshake", 0x21, NULL, 0, true, 0, garbage, sizeof garbage);
  turn_seed("tls_verify_fails", 0xa1, NULL, 0, true, 0, NULL, 0);
}

/* ---- SCTP glue (fuzz_sctp): records [kind][sid:2][ppid:4][len:2][bytes] ---- */

#define PPID_DCEP 50
#define PPID_STRING 51
#define PPID_BINARY 53

static void sctp_rec(struct bytes *o, uint8_t kind, uint16_t sid, uint32_t ppid, const void *p, size_t n) {
  put8(o, kind);
  put16(o, sid);
  put32(o, ppid);
  put16(o, (uint16_t)n);
  put(o, p, n);
}

static void sctp_note(struct bytes *o, const void *p, size_t n) { sctp_rec(o, 0, 0, 0, p, n); }

static void sctp_comm(struct bytes *o, uint16_t state) {
  struct sctp_assoc_change ac;
  memset(&ac, 0, sizeof ac);
  ac.sac_type = SCTP_ASSOC_CHANGE;
  ac.sac_length = sizeof ac;
  ac.sac_state = state;
  ac.sac_outbound_streams = ac.sac_inbound_streams = 16;
  sctp_note(o, &ac, sizeof ac);
}

static void sctp_open(struct bytes *o, uint16_t sid, const char *label) {
  struct mc_dcep_open op;
  memset(&op, 0, sizeof op);
  op.channel_type = MC_DCEP_RELIABLE;
  snprintf(op.label, sizeof op.label, "%s", label);
  uint8_t b[256];
  size_t n = 0;
  if (mc_dcep_write_open(&op, b, sizeof b, &n) != 0) abort();
  sctp_rec(o, 2, sid, PPID_DCEP, b, n);
}

/* A stream reset event for sids (none: all streams), its length as given
 * (a lying one too). */
static void sctp_reset(struct bytes *o, uint16_t flags, const uint16_t *sids, size_t count, int extra_len) {
  uint8_t b[sizeof(struct sctp_stream_reset_event) + 64];
  struct sctp_stream_reset_event ev;
  memset(&ev, 0, sizeof ev);
  ev.strreset_type = SCTP_STREAM_RESET_EVENT;
  ev.strreset_flags = flags;
  ev.strreset_length = (uint32_t)((int)(sizeof ev + count * 2) + extra_len);
  memcpy(b, &ev, sizeof ev);
  if (count) memcpy(b + sizeof ev, sids, count * 2); /* no list: sids may be NULL */
  sctp_note(o, b, sizeof ev + count * 2);
}

static void gen_sctp(void) {
  struct bytes o = {0};
  static const char hello[] = "{\"type\":\"hello\"}";
  uint16_t one[] = {1}, two[] = {2, 4, 999};

  /* A channel's life: up, opened by the peer, a message in two pieces, a
   * binary one, our send, the peer's reset (incoming) and ours done. */
  put8(&o, 0);
  sctp_comm(&o, SCTP_COMM_UP);
  sctp_open(&o, 1, "chat");
  sctp_rec(&o, 1, 1, PPID_STRING, hello, 6);
  sctp_rec(&o, 2, 1, PPID_STRING, hello + 6, sizeof hello - 7);
  sctp_rec(&o, 2, 1, PPID_BINARY, "\x00\x01\x02", 3);
  sctp_rec(&o, 3 | 4, 1, 0, "ours", 4);
  sctp_reset(&o, SCTP_STREAM_RESET_INCOMING_SSN, one, 1, 0);
  sctp_reset(&o, SCTP_STREAM_RESET_OUTGOING_SSN, one, 1, 0);
  sctp_comm(&o, SCTP_SHUTDOWN_COMP);
  emit("sctp", "channel_life", o.b, o.n);

  /* Two channels, we close one, the peer refuses (retried), then resets
   * every stream at once (an empty list) with a length that lies. */
  o.n = 0;
  put8(&o, 1);
  sctp_comm(&o, SCTP_COMM_UP);
  sctp_open(&o, 2, "file");
  sctp_open(&o, 4, "control");
  sctp_rec(&o, 3, 2, 0, NULL, 0);
  sctp_reset(&o, SCTP_STREAM_RESET_OUTGOING_SSN | SCTP_STREAM_RESET_DENIED, two, 3, 0);
  sctp_reset(&o, SCTP_STREAM_RESET_OUTGOING_SSN | SCTP_STREAM_RESET_FAILED, two, 1, 0);
  sctp_reset(&o, SCTP_STREAM_RESET_INCOMING_SSN | SCTP_STREAM_RESET_OUTGOING_SSN, NULL, 0, 40);
  sctp_rec(&o, 3 | 4, 4, 0, "late", 4);
  emit("sctp", "refused_then_reset_all", o.b, o.n);

  /* A message cut by a partial-delivery abort, then the next one whole;
   * a send failure, sender dry, a restart and the association lost. */
  o.n = 0;
  put8(&o, 0);
  sctp_comm(&o, SCTP_COMM_UP);
  sctp_open(&o, 3, "bulk");
  sctp_rec(&o, 1, 3, PPID_BINARY, "first half ", 11);
  struct sctp_pdapi_event pd;
  memset(&pd, 0, sizeof pd);
  pd.pdapi_type = SCTP_PARTIAL_DELIVERY_EVENT;
  pd.pdapi_length = sizeof pd;
  pd.pdapi_indication = SCTP_PARTIAL_DELIVERY_ABORTED;
  pd.pdapi_stream = 3;
  sctp_note(&o, &pd, sizeof pd);
  sctp_rec(&o, 2, 3, PPID_BINARY, "whole", 5);
  struct sctp_send_failed_event sf;
  memset(&sf, 0, sizeof sf);
  sf.ssfe_type = SCTP_SEND_FAILED_EVENT;
  sf.ssfe_length = sizeof sf;
  sf.ssfe_flags = SCTP_DATA_SENT;
  sctp_note(&o, &sf, sizeof sf);
  struct sctp_sender_dry_event dry;
  memset(&dry, 0, sizeof dry);
  dry.sender_dry_type = SCTP_SENDER_DRY_EVENT;
  dry.sender_dry_length = sizeof dry;
  sctp_note(&o, &dry, sizeof dry);
  sctp_comm(&o, SCTP_RESTART);
  sctp_comm(&o, SCTP_COMM_LOST);
  emit("sctp", "partial_abort_send_failed_lost", o.b, o.n);
}

int main(int argc, char **argv) {
  int a = 1;
  if (a < argc && strcmp(argv[a], "--check") == 0) {
    check = true;
    a++;
  }
  if (a + 1 != argc) {
    fprintf(stderr, "usage: %s [--check] CORPUS_DIR\n", argv[0]);
    return 2;
  }
  outdir = argv[a];
  gen_stun();
  gen_channeldata();
  gen_ice_frame();
  gen_rtcp();
  gen_feedback();
  gen_sctp();
  gen_turn();
  if (!check) printf("wrote %d seeds under %s\n", written, outdir);
  return problems ? 1 : 0;
}
