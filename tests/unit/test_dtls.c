/* Unit tests for src/dtls: real OpenSSL on both ends in one process, the
 * datagrams of each side queued and delivered by a pump (which also drops
 * chosen ones), timers fired by calling mc_dtls_handle_timeout when due
 * (OpenSSL reads the real clock, so the test sleeps until then; short
 * rto_ms keeps that brief). DTLS_TRACE=1 prints the records of every
 * datagram sent. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check.h"
#include "dtls/dtls.h"
#include "dtls/dtls_private.h"

#define MAXQ 512

struct dgram {
  uint8_t *data;
  size_t len;
};

struct peer;
/* Returns true to drop a datagram this peer sent. */
typedef bool (*drop_fn)(struct peer *p, const uint8_t *buf, size_t len);

struct peer {
  const char *name;
  mc_dtls *d;
  struct dgram q[MAXQ];
  size_t qn;
  drop_fn drop;
  int drop_arg;
  /* events */
  int connected, closed, failed, failed_err;
  char sentence[256];
  uint8_t *rx;
  size_t rx_len, rx_msgs;
  /* what it sent */
  size_t sent, dropped, max_hs_dgram, close_alerts;
  int client_hellos;           /* ClientHello first fragments */
  int fragmented[256];         /* per handshake type: fragments shorter than the message */
  size_t hs_msg_len[256];      /* per handshake type: the message length */
  bool peer_connected_seen;    /* the other side was connected when this sent */
  struct peer *other;
};

static uint32_t get_be24(const uint8_t *p) { return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2]; }

/* Notes the handshake fragments a datagram carries (epoch 0 only). */
static void note_records(struct peer *p, const uint8_t *buf, size_t len) {
  while (len >= 13) {
    uint8_t type = buf[0];
    uint16_t epoch = (uint16_t)((buf[3] << 8) | buf[4]);
    size_t body = (size_t)((buf[11] << 8) | buf[12]);
    if (body > len - 13) return;
    const uint8_t *b = buf + 13;
    size_t left = body;
    if (type == 22 && epoch == 0) {
      while (left >= 12) {
        uint8_t mt = b[0];
        uint32_t msg_len = get_be24(b + 1), off = get_be24(b + 6), flen = get_be24(b + 9);
        if (flen > left - 12) break;
        if (mt == 1 && off == 0) p->client_hellos++;
        if (flen < msg_len) p->fragmented[mt]++;
        p->hs_msg_len[mt] = msg_len;
        b += 12 + flen;
        left -= 12 + flen;
      }
    }
    buf += 13 + body;
    len -= 13 + body;
  }
}

static void on_send(const uint8_t *data, size_t len, void *user) {
  struct peer *p = user;
  p->sent++;
  if (getenv("DTLS_TRACE")) {
    fprintf(stderr, "%s sends %zu:", p->name, len);
    for (size_t o = 0; o + 13 <= len;) {
      size_t b = (size_t)((data[o + 11] << 8) | data[o + 12]);
      fprintf(stderr, " [t%d e%d l%zu hs%d]", data[o], data[o + 4], b, data[o] == 22 && data[o + 4] == 0 && o + 13 < len ? data[o + 13] : -1);
      o += 13 + b;
    }
    fprintf(stderr, "\n");
  }
  note_records(p, data, len);
  if (!p->connected && len > p->max_hs_dgram) p->max_hs_dgram = len;
  if (p->drop && p->drop(p, data, len)) {
    p->dropped++;
    return;
  }
  if (p->qn >= MAXQ) return;
  p->q[p->qn].data = malloc(len);
  memcpy(p->q[p->qn].data, data, len);
  p->q[p->qn].len = len;
  p->qn++;
}

static void on_connected(void *user) { ((struct peer *)user)->connected++; }
static void on_closed(void *user) { ((struct peer *)user)->closed++; }
static void on_failed(int err, const char *sentence, void *user) {
  struct peer *p = user;
  p->failed++;
  p->failed_err = err;
  snprintf(p->sentence, sizeof p->sentence, "%s", sentence);
}
static void on_data(const uint8_t *data, size_t len, void *user) {
  struct peer *p = user;
  p->rx = realloc(p->rx, p->rx_len + len);
  memcpy(p->rx + p->rx_len, data, len);
  p->rx_len += len;
  p->rx_msgs++;
}

static const struct mc_dtls_callbacks cbs = {on_send, on_connected, on_data, on_closed, on_failed};

static void peer_reset(struct peer *p, const char *name) {
  memset(p, 0, sizeof *p);
  p->name = name;
}

static void peer_free(struct peer *p) {
  for (size_t i = 0; i < p->qn; i++) free(p->q[i].data);
  p->qn = 0;
  free(p->rx);
  p->rx = NULL;
  mc_dtls_free(p->d);
  p->d = NULL;
}

static int new_endpoint(struct peer *p, enum mc_dtls_role role, const mc_dtls_cert *mine, const mc_dtls_cert *theirs,
                        size_t mtu, uint32_t rto_ms, bool srtp) {
  uint8_t fp[MC_DTLS_FP_SHA256_LEN];
  mc_dtls_cert_fingerprint(theirs, fp);
  struct mc_dtls_config c = {
      .role = role,
      .cert = mine,
      .remote_fp_algorithm = "sha-256",
      .remote_fp = fp,
      .remote_fp_len = sizeof fp,
      .mtu = mtu,
      .use_srtp = srtp,
      .rto_ms = rto_ms,
  };
  return mc_dtls_new(&c, &cbs, p, &p->d);
}

static int deliver(struct peer *from, struct peer *to) {
  size_t n = from->qn;
  if (n == 0) return 0;
  struct dgram *q = malloc(n * sizeof *q);
  memcpy(q, from->q, n * sizeof *q);
  from->qn = 0;
  for (size_t i = 0; i < n; i++) {
    if (to->d) mc_dtls_receive(to->d, q[i].data, q[i].len);
    free(q[i].data);
  }
  free(q);
  return (int)n;
}

/* Delivers what each side queued to the other, then fires due timers, until
 * the queues are empty and no timer runs (both connected, or stuck), or one
 * side failed or closed. Returns how many times it fired timers. */
static int pump(struct peer *a, struct peer *b) {
  int timeouts = 0;
  for (int iter = 0; iter < 10000; iter++) {
    if (deliver(a, b) + deliver(b, a) > 0) continue;
    if (a->failed || b->failed || a->closed || b->closed) break;
    int64_t ta = mc_dtls_timeout_ms(a->d), tb = mc_dtls_timeout_ms(b->d);
    if (ta < 0 && tb < 0) break;
    int64_t t = ta < 0 ? tb : tb < 0 ? ta : (ta < tb ? ta : tb);
    if (t > 0) usleep((useconds_t)(t * 1000 + 500));
    timeouts++;
    mc_dtls_handle_timeout(a->d);
    mc_dtls_handle_timeout(b->d);
  }
  return timeouts;
}

static bool zeros(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

/* ---- demux ---- */

static void test_demux(void) {
  static const struct {
    uint8_t b;
    enum mc_demux want;
  } cases[] = {
      {0, MC_DEMUX_STUN},    {3, MC_DEMUX_STUN},       {4, MC_DEMUX_DROP},          {15, MC_DEMUX_DROP},
      {16, MC_DEMUX_ZRTP},   {19, MC_DEMUX_ZRTP},      {20, MC_DEMUX_DTLS},         {63, MC_DEMUX_DTLS},
      {64, MC_DEMUX_TURN_CHANNEL}, {79, MC_DEMUX_TURN_CHANNEL}, {80, MC_DEMUX_DROP}, {127, MC_DEMUX_DROP},
      {128, MC_DEMUX_RTP},   {191, MC_DEMUX_RTP},      {192, MC_DEMUX_DROP},        {255, MC_DEMUX_DROP},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[4] = {cases[i].b, 0, 0, 0};
    if (mc_demux_classify(buf, sizeof buf) != cases[i].want)
      fprintf(stderr, "demux byte %u\n", cases[i].b);
    CHECK_EQ_INT(mc_demux_classify(buf, sizeof buf), cases[i].want);
    CHECK_EQ_INT(mc_demux_classify(buf, 1), cases[i].want);
  }
  uint8_t one = 22;
  CHECK_EQ_INT(mc_demux_classify(&one, 0), MC_DEMUX_DROP);
  CHECK_EQ_INT(mc_demux_classify(NULL, 0), MC_DEMUX_DROP);
}

/* ---- certificates and fingerprints ---- */

static void test_cert(mc_dtls_cert *a, mc_dtls_cert *b) {
  uint8_t fa[32], fb[32];
  CHECK_EQ_INT(mc_dtls_cert_fingerprint(a, fa), 0);
  CHECK_EQ_INT(mc_dtls_cert_fingerprint(b, fb), 0);
  CHECK(memcmp(fa, fb, 32) != 0);
  CHECK(!zeros(fa, 32));

  char s[MC_DTLS_FP_STRLEN];
  const uint8_t v[] = {0x00, 0xab, 0x1f, 0xff};
  CHECK_EQ_INT(mc_dtls_fingerprint_format(v, sizeof v, s, sizeof s), 0);
  CHECK_STR(s, "00:AB:1F:FF");
  CHECK_EQ_INT(mc_dtls_fingerprint_format(v, sizeof v, s, 12), 0); /* exactly 3 * len */
  CHECK_STR(s, "00:AB:1F:FF");
  CHECK_EQ_INT(mc_dtls_fingerprint_format(v, sizeof v, s, 11), MC_ETOOBIG);
  CHECK_EQ_INT(mc_dtls_fingerprint_format(v, 0, s, sizeof s), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_fingerprint_format(fa, 32, s, sizeof s), 0);
  CHECK_EQ_INT(strlen(s), 95);
  uint8_t big[64];
  memset(big, 0xee, sizeof big);
  CHECK_EQ_INT(mc_dtls_fingerprint_format(big, 64, s, sizeof s), 0);
  CHECK_EQ_INT(strlen(s), 191);
  CHECK_EQ_INT(mc_dtls_fingerprint_format(big, 65, s, sizeof s), MC_EINVAL);

  CHECK_STR(mc_dtls_state_name(MC_DTLS_STATE_CONNECTING), "connecting");
  CHECK_STR(mc_dtls_srtp_profile_name(MC_DTLS_SRTP_AEAD_AES_128_GCM), "SRTP_AEAD_AES_128_GCM");
  CHECK_STR(mc_dtls_srtp_profile_name(MC_DTLS_SRTP_AES128_CM_SHA1_80), "SRTP_AES128_CM_SHA1_80");
}

static void test_config_checks(mc_dtls_cert *a) {
  uint8_t fp[64] = {1};
  struct mc_dtls_config c = {.role = MC_DTLS_CLIENT, .cert = a, .remote_fp_algorithm = "sha-256",
                             .remote_fp = fp, .remote_fp_len = 32};
  mc_dtls *d = NULL;
  struct peer p;
  peer_reset(&p, "x");
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), 0);
  CHECK_EQ_INT(mc_dtls_state(d), MC_DTLS_STATE_NEW);
  CHECK_EQ_INT(mc_dtls_timeout_ms(d), -1);
  uint8_t rec[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK_EQ_INT(mc_dtls_receive(d, rec, sizeof rec), MC_ESTATE); /* before start */
  CHECK_EQ_INT(mc_dtls_send(d, rec, sizeof rec), MC_ESTATE);
  struct mc_dtls_srtp_keys k;
  CHECK_EQ_INT(mc_dtls_srtp_keys(d, &k), MC_ESTATE);
  mc_dtls_free(d);
  d = NULL;
  c.remote_fp_algorithm = "SHA-256"; /* any case */
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), 0);
  mc_dtls_free(d);
  d = NULL;
  c.remote_fp_algorithm = "md5";
  c.remote_fp_len = 16;
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), MC_EINVAL);
  c.remote_fp_algorithm = "sha-256";
  c.remote_fp_len = 20; /* length of another hash */
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), MC_EINVAL);
  c.remote_fp_algorithm = "sha-1";
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), 0);
  mc_dtls_free(d);
  d = NULL;
  c.remote_fp_algorithm = NULL;
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), MC_EINVAL);
  c.remote_fp_algorithm = "sha-256";
  c.remote_fp_len = 32;
  c.mtu = 100;
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), MC_EINVAL);
  CHECK(d == NULL);
  c.mtu = 0;
  c.cert = NULL;
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, &p, &d), MC_EINVAL);
}

/* ---- record framing ---- */

static void test_record_check(void) {
  /* ChangeCipherSpec, epoch 0 */
  uint8_t ccs[] = {20, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1};
  CHECK_EQ_INT(mc_dtls_record_check(ccs, sizeof ccs), 0);
  CHECK_EQ_INT(mc_dtls_record_check(ccs, sizeof ccs - 1), MC_EPARSE); /* cut body */
  CHECK_EQ_INT(mc_dtls_record_check(ccs, 12), MC_EPARSE);             /* cut header */
  ccs[13] = 2;
  CHECK_EQ_INT(mc_dtls_record_check(ccs, sizeof ccs), MC_EPARSE);
  ccs[13] = 1;
  ccs[2] = 0xfc; /* DTLS 1.3 legacy? no: unknown version */
  CHECK_EQ_INT(mc_dtls_record_check(ccs, sizeof ccs), MC_EPARSE);
  ccs[2] = 0xff; /* DTLS 1.0 record version, as in ClientHellos */
  CHECK_EQ_INT(mc_dtls_record_check(ccs, sizeof ccs), 0);
  /* two records in one datagram, then trailing bytes */
  uint8_t two[2 * sizeof ccs + 1];
  memcpy(two, ccs, sizeof ccs);
  memcpy(two + sizeof ccs, ccs, sizeof ccs);
  CHECK_EQ_INT(mc_dtls_record_check(two, 2 * sizeof ccs), 0);
  two[2 * sizeof ccs] = 22;
  CHECK_EQ_INT(mc_dtls_record_check(two, sizeof two), MC_EPARSE);
  /* handshake fragment: type 1, length 100, seq 0, offset 90, frag 10 */
  uint8_t hs[13 + 12 + 10] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 22,
                              1, 0, 0, 100, 0, 0, 0, 0, 90, 0, 0, 10};
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), 0);
  hs[13 + 8] = 91; /* offset + fragment past the message */
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), MC_EPARSE);
  hs[13 + 8] = 90;
  hs[13 + 11] = 11; /* fragment longer than the record */
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), MC_EPARSE);
  hs[13 + 11] = 10;
  hs[3] = 0, hs[4] = 1; /* epoch 1: encrypted, only framing is checked */
  hs[13 + 8] = 0xff;
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), 0);
  hs[0] = 23;
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), 0);
  hs[3] = 0, hs[4] = 0; /* application data in epoch 0 */
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), MC_EPARSE);
  hs[0] = 24; /* heartbeat: not ours */
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), MC_EPARSE);
  hs[0] = 0x2c; /* a DTLS 1.3 unified header */
  CHECK_EQ_INT(mc_dtls_record_check(hs, sizeof hs), MC_EPARSE);
  CHECK_EQ_INT(mc_dtls_record_check(hs, 0), MC_EPARSE);
}

/* ---- handshakes ---- */

static void check_keys_crosswise(struct peer *c, struct peer *s, enum mc_dtls_srtp_profile want) {
  struct mc_dtls_srtp_keys kc, ks;
  CHECK_EQ_INT(mc_dtls_srtp_keys(c->d, &kc), 0);
  CHECK_EQ_INT(mc_dtls_srtp_keys(s->d, &ks), 0);
  CHECK_EQ_INT(kc.profile, want);
  CHECK_EQ_INT(ks.profile, want);
  CHECK_EQ_INT(kc.key_len, 16);
  CHECK_EQ_INT(kc.salt_len, want == MC_DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14);
  CHECK_EQ_INT(ks.salt_len, kc.salt_len);
  CHECK(kc.we_are_client);
  CHECK(!ks.we_are_client);
  CHECK_MEM(kc.client_key, ks.client_key, kc.key_len);
  CHECK_MEM(kc.server_key, ks.server_key, kc.key_len);
  CHECK_MEM(kc.client_salt, ks.client_salt, kc.salt_len);
  CHECK_MEM(kc.server_salt, ks.server_salt, kc.salt_len);
  CHECK(memcmp(kc.client_key, kc.server_key, kc.key_len) != 0);
  CHECK(memcmp(kc.client_salt, kc.server_salt, kc.salt_len) != 0);
  CHECK(!zeros(kc.client_key, kc.key_len));
  CHECK(!zeros(kc.server_salt, kc.salt_len));
  /* nothing past the lengths */
  CHECK(zeros(kc.client_key + 16, 16));
  if (kc.salt_len == 12) CHECK(zeros(kc.client_salt + 12, 2));
}

/* Peer A (cert ca) plays role ra, peer B the other; both offer SRTP. */
static void test_handshake(mc_dtls_cert *ca, mc_dtls_cert *cb, enum mc_dtls_role ra) {
  struct peer a, b;
  peer_reset(&a, "a");
  peer_reset(&b, "b");
  enum mc_dtls_role rb = ra == MC_DTLS_CLIENT ? MC_DTLS_SERVER : MC_DTLS_CLIENT;
  CHECK_EQ_INT(new_endpoint(&a, ra, ca, cb, 0, 0, true), 0);
  CHECK_EQ_INT(new_endpoint(&b, rb, cb, ca, 0, 0, true), 0);
  /* start the server first, as the caller may, then the client */
  struct peer *client = ra == MC_DTLS_CLIENT ? &a : &b, *server = ra == MC_DTLS_CLIENT ? &b : &a;
  CHECK_EQ_INT(mc_dtls_start(server->d), 0);
  CHECK_EQ_INT(server->qn, 0);                     /* a server sends nothing first */
  CHECK_EQ_INT(mc_dtls_timeout_ms(server->d), -1); /* and runs no timer */
  CHECK_EQ_INT(mc_dtls_start(client->d), 0);
  CHECK_EQ_INT(mc_dtls_start(client->d), MC_ESTATE);
  CHECK(client->qn >= 1);
  CHECK_EQ_INT(client->client_hellos, 1);
  CHECK(mc_dtls_timeout_ms(client->d) > 0);
  CHECK_EQ_INT(mc_dtls_state(client->d), MC_DTLS_STATE_CONNECTING);
  int timeouts = pump(&a, &b);
  CHECK_EQ_INT(timeouts, 0);
  CHECK_EQ_INT(a.connected, 1);
  CHECK_EQ_INT(b.connected, 1);
  CHECK_EQ_INT(a.failed + b.failed, 0);
  CHECK_EQ_INT(mc_dtls_state(a.d), MC_DTLS_STATE_CONNECTED);
  CHECK_EQ_INT(mc_dtls_state(b.d), MC_DTLS_STATE_CONNECTED);
  CHECK(a.max_hs_dgram > 0 && a.max_hs_dgram <= MC_DTLS_DEFAULT_MTU);
  CHECK(b.max_hs_dgram > 0 && b.max_hs_dgram <= MC_DTLS_DEFAULT_MTU);
  CHECK_EQ_INT(client->client_hellos, 1);
  CHECK_EQ_INT(mc_dtls_timeout_ms(client->d), -1);
  CHECK_EQ_INT(mc_dtls_timeout_ms(server->d), -1);
  check_keys_crosswise(client, server, MC_DTLS_SRTP_AEAD_AES_128_GCM);
  peer_free(&a);
  peer_free(&b);
}

static void test_app_data(mc_dtls_cert *ca, mc_dtls_cert *cb) {
  struct peer c, s;
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, cb, 0, 0, false), 0);
  CHECK_EQ_INT(new_endpoint(&s, MC_DTLS_SERVER, cb, ca, 0, 0, false), 0);
  mc_dtls_start(s.d);
  mc_dtls_start(c.d);
  pump(&c, &s);
  CHECK(c.connected && s.connected);
  struct mc_dtls_srtp_keys k;
  CHECK_EQ_INT(mc_dtls_srtp_keys(c.d, &k), MC_ESTATE); /* no use_srtp */

  static uint8_t msg[MC_DTLS_MAX_RECORD + 1];
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7 + (i >> 8));
  const size_t sizes[] = {1, 100, 1200, 5000, MC_DTLS_MAX_RECORD};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    CHECK_EQ_INT(mc_dtls_send(c.d, msg, sizes[i]), 0);
    CHECK_EQ_INT(mc_dtls_send(s.d, msg + 1, sizes[i]), 0);
    /* one datagram per record, whatever its size */
    CHECK_EQ_INT(c.qn, 1);
    CHECK_EQ_INT(s.qn, 1);
    pump(&c, &s);
    total += sizes[i];
    CHECK_EQ_INT(s.rx_msgs, i + 1);
    CHECK_EQ_INT(c.rx_msgs, i + 1);
  }
  CHECK_EQ_INT(s.rx_len, total);
  CHECK_EQ_INT(c.rx_len, total);
  size_t off = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && s.rx_len == total && c.rx_len == total; i++) {
    CHECK_MEM(s.rx + off, msg, sizes[i]);
    CHECK_MEM(c.rx + off, msg + 1, sizes[i]);
    off += sizes[i];
  }
  CHECK_EQ_INT(mc_dtls_send(c.d, msg, MC_DTLS_MAX_RECORD + 1), MC_EINVAL);
  CHECK_EQ_INT(mc_dtls_send(c.d, msg, 0), MC_EINVAL);
  CHECK_EQ_INT(c.failed + s.failed, 0);
  peer_free(&c);
  peer_free(&s);
}

/* A small MTU fragments the server's Certificate (and the client's). */
static void test_fragmentation(mc_dtls_cert *ca, mc_dtls_cert *cb) {
  struct peer c, s;
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, cb, 256, 0, true), 0);
  CHECK_EQ_INT(new_endpoint(&s, MC_DTLS_SERVER, cb, ca, 256, 0, true), 0);
  mc_dtls_start(s.d);
  mc_dtls_start(c.d);
  pump(&c, &s);
  CHECK(c.connected && s.connected);
  CHECK(s.fragmented[11] >= 2); /* Certificate */
  CHECK(c.fragmented[11] >= 2);
  CHECK(s.hs_msg_len[11] > 256);
  CHECK(c.max_hs_dgram <= 256);
  CHECK(s.max_hs_dgram <= 256);
  check_keys_crosswise(&c, &s, MC_DTLS_SRTP_AEAD_AES_128_GCM);
  peer_free(&c);
  peer_free(&s);
}

static void test_fingerprint_mismatch(mc_dtls_cert *ca, mc_dtls_cert *cb, mc_dtls_cert *other, bool server_checks) {
  struct peer c, s;
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  /* The side that checks expects the certificate "other", not the peer's. */
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, server_checks ? cb : other, 0, 0, true), 0);
  CHECK_EQ_INT(new_endpoint(&s, MC_DTLS_SERVER, cb, server_checks ? other : ca, 0, 0, true), 0);
  mc_dtls_start(s.d);
  mc_dtls_start(c.d);
  pump(&c, &s);
  struct peer *checker = server_checks ? &s : &c, *refused = server_checks ? &c : &s;
  CHECK_EQ_INT(c.connected + s.connected, 0);
  CHECK_EQ_INT(checker->failed, 1);
  CHECK_EQ_INT(checker->failed_err, MC_ETLS);
  CHECK(strstr(checker->sentence, "does not match the fingerprint it signaled") != NULL);
  CHECK_EQ_INT(refused->failed, 1); /* through the bad_certificate alert */
  CHECK_EQ_INT(refused->failed_err, MC_ETLS);
  CHECK(strstr(refused->sentence, "refused our DTLS certificate") != NULL);
  CHECK_EQ_INT(mc_dtls_state(c.d), MC_DTLS_STATE_FAILED);
  CHECK_EQ_INT(mc_dtls_state(s.d), MC_DTLS_STATE_FAILED);
  struct mc_dtls_srtp_keys k;
  CHECK_EQ_INT(mc_dtls_srtp_keys(c.d, &k), MC_ESTATE);
  CHECK_EQ_INT(mc_dtls_srtp_keys(s.d, &k), MC_ESTATE);
  uint8_t x = 1;
  CHECK_EQ_INT(mc_dtls_send(c.d, &x, 1), MC_ESTATE);
  CHECK_EQ_INT(mc_dtls_timeout_ms(c.d), -1);
  /* no callback after on_failed */
  mc_dtls_close(c.d);
  CHECK_EQ_INT(mc_dtls_state(c.d), MC_DTLS_STATE_FAILED);
  CHECK_EQ_INT(c.failed + s.failed, 2);
  CHECK_EQ_INT(c.closed + s.closed, 0);
  peer_free(&c);
  peer_free(&s);
}

/* Drops every datagram of this peer until the pump fired a timer. */
static bool drop_until_timeout(struct peer *p, const uint8_t *buf, size_t len) {
  (void)buf, (void)len;
  return p->drop_arg == 0;
}
/* Drops the ChangeCipherSpec and the encrypted records this peer sends
 * (the server's last flight) until the pump fired a timer. */
static bool drop_final_flight(struct peer *p, const uint8_t *buf, size_t len) {
  bool last_flight = len >= 13 && (buf[0] == 20 || buf[3] != 0 || buf[4] != 0);
  return last_flight && p->drop_arg == 0;
}
static bool drop_all(struct peer *p, const uint8_t *buf, size_t len) {
  (void)p, (void)buf, (void)len;
  return true;
}

static int pump_with_drop(struct peer *c, struct peer *s, struct peer *dropper) {
  int timeouts = 0;
  for (int i = 0; i < 10000; i++) {
    if (deliver(c, s) + deliver(s, c) > 0) continue;
    int64_t tc = mc_dtls_timeout_ms(c->d), ts = mc_dtls_timeout_ms(s->d);
    if (tc < 0 && ts < 0) break;
    int64_t t = tc < 0 ? ts : ts < 0 ? tc : (tc < ts ? tc : ts);
    if (t > 0) usleep((useconds_t)(t * 1000 + 500));
    mc_dtls_handle_timeout(c->d);
    mc_dtls_handle_timeout(s->d);
    timeouts++;
    dropper->drop_arg = 1;
  }
  return timeouts;
}

static void test_retransmit(mc_dtls_cert *ca, mc_dtls_cert *cb) {
  /* The server's first flight is lost: the client sends its ClientHello
   * again when its timer fires. */
  struct peer c, s;
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, cb, 0, 50, true), 0);
  CHECK_EQ_INT(new_endpoint(&s, MC_DTLS_SERVER, cb, ca, 0, 50, true), 0);
  s.drop = drop_until_timeout;
  mc_dtls_start(s.d);
  mc_dtls_start(c.d);
  int64_t t = mc_dtls_timeout_ms(c.d);
  CHECK(t > 0 && t <= 50);
  int timeouts = pump_with_drop(&c, &s, &s);
  CHECK(timeouts >= 1);
  CHECK(s.dropped >= 1); /* ServerHello .. ServerHelloDone */
  CHECK(c.client_hellos >= 2);
  CHECK(c.connected && s.connected);
  CHECK_EQ_INT(c.failed + s.failed, 0);
  check_keys_crosswise(&c, &s, MC_DTLS_SRTP_AEAD_AES_128_GCM);
  peer_free(&c);
  peer_free(&s);

  /* The server's last flight (ChangeCipherSpec, Finished) is lost, so the
   * server counts itself connected and the client does not: the client's
   * retransmitted flight makes the connected server send it again. */
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, cb, 0, 50, true), 0);
  CHECK_EQ_INT(new_endpoint(&s, MC_DTLS_SERVER, cb, ca, 0, 50, true), 0);
  s.drop = drop_final_flight;
  mc_dtls_start(s.d);
  mc_dtls_start(c.d);
  for (int i = 0; i < 10; i++)
    if (deliver(&c, &s) + deliver(&s, &c) == 0) break;
  CHECK_EQ_INT(s.connected, 1);
  CHECK_EQ_INT(c.connected, 0);
  CHECK_EQ_INT(s.dropped, 1); /* one datagram: OpenSSL packs records up to the MTU */
  CHECK(mc_dtls_timeout_ms(c.d) >= 0);
  timeouts = pump_with_drop(&c, &s, &s);
  CHECK(timeouts >= 1);
  CHECK_EQ_INT(s.connected, 1);
  CHECK_EQ_INT(c.connected, 1);
  CHECK_EQ_INT(c.failed + s.failed, 0);
  check_keys_crosswise(&c, &s, MC_DTLS_SRTP_AEAD_AES_128_GCM);
  uint8_t hello[] = "hello";
  CHECK_EQ_INT(mc_dtls_send(c.d, hello, 5), 0);
  pump(&c, &s);
  CHECK_EQ_INT(s.rx_len, 5);
  peer_free(&c);
  peer_free(&s);

  /* Nobody answers: the client gives up after MC_DTLS_MAX_RETRANSMITS. */
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, cb, 0, 1, true), 0);
  c.drop = drop_all;
  mc_dtls_start(c.d);
  for (int i = 0; i < 100 && !c.failed; i++) {
    int64_t w = mc_dtls_timeout_ms(c.d);
    if (w < 0) break;
    if (w > 0) usleep((useconds_t)(w * 1000 + 500));
    mc_dtls_handle_timeout(c.d);
  }
  CHECK_EQ_INT(c.failed, 1);
  CHECK_EQ_INT(c.failed_err, MC_ETIMEDOUT);
  CHECK_EQ_INT(c.client_hellos, 1 + MC_DTLS_MAX_RETRANSMITS);
  CHECK_EQ_INT(mc_dtls_state(c.d), MC_DTLS_STATE_FAILED);
  CHECK_EQ_INT(mc_dtls_timeout_ms(c.d), -1);
  CHECK_EQ_INT(c.connected, 0);
  peer_free(&c);
}

static void test_close(mc_dtls_cert *ca, mc_dtls_cert *cb) {
  struct peer c, s;
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, cb, 0, 0, true), 0);
  CHECK_EQ_INT(new_endpoint(&s, MC_DTLS_SERVER, cb, ca, 0, 0, true), 0);
  mc_dtls_start(s.d);
  mc_dtls_start(c.d);
  pump(&c, &s);
  CHECK(c.connected && s.connected);
  size_t sent = s.sent;
  mc_dtls_close(s.d);
  CHECK_EQ_INT(s.sent, sent + 1); /* one close_notify */
  mc_dtls_close(s.d);
  CHECK_EQ_INT(s.sent, sent + 1); /* once */
  CHECK_EQ_INT(mc_dtls_state(s.d), MC_DTLS_STATE_CLOSED);
  uint8_t x = 1;
  CHECK_EQ_INT(mc_dtls_send(s.d, &x, 1), MC_ESTATE);
  size_t csent = c.sent;
  pump(&c, &s);
  CHECK_EQ_INT(c.closed, 1);
  CHECK_EQ_INT(s.closed, 0); /* the side that closed hears nothing back */
  CHECK_EQ_INT(c.failed + s.failed, 0);
  CHECK_EQ_INT(mc_dtls_state(c.d), MC_DTLS_STATE_CLOSED);
  CHECK_EQ_INT(c.sent, csent + 1); /* answered with its own close_notify */
  CHECK_EQ_INT(mc_dtls_send(c.d, &x, 1), MC_ESTATE);
  struct mc_dtls_srtp_keys k;
  CHECK_EQ_INT(mc_dtls_srtp_keys(c.d, &k), 0); /* keys of the finished handshake */
  peer_free(&c);
  peer_free(&s);
}

static void test_garbage(mc_dtls_cert *ca, mc_dtls_cert *cb) {
  struct peer c, s;
  peer_reset(&c, "c");
  peer_reset(&s, "s");
  CHECK_EQ_INT(new_endpoint(&c, MC_DTLS_CLIENT, ca, cb, 0, 0, true), 0);
  CHECK_EQ_INT(new_endpoint(&s, MC_DTLS_SERVER, cb, ca, 0, 0, true), 0);
  mc_dtls_start(s.d);
  uint8_t junk[300];
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 131 + 17);
  junk[0] = 22;
  CHECK_EQ_INT(mc_dtls_receive(s.d, junk, sizeof junk), MC_EPARSE);
  CHECK_EQ_INT(mc_dtls_receive(s.d, junk, 5), MC_EPARSE);
  CHECK_EQ_INT(mc_dtls_receive(s.d, junk, 0), MC_EPARSE);
  /* a ClientHello header whose fragment claims more than is there */
  uint8_t hs[13 + 12 + 4] = {22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16,
                             1, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0, 200, 1, 2, 3, 4};
  CHECK_EQ_INT(mc_dtls_receive(s.d, hs, sizeof hs), MC_EPARSE);
  CHECK_EQ_INT(mc_dtls_state(s.d), MC_DTLS_STATE_CONNECTING);

  mc_dtls_start(c.d);
  deliver(&c, &s); /* ClientHello */
  CHECK_EQ_INT(mc_dtls_receive(c.d, junk, sizeof junk), MC_EPARSE); /* in the middle */
  CHECK_EQ_INT(mc_dtls_receive(s.d, junk, sizeof junk), MC_EPARSE);
  pump(&c, &s);
  CHECK(c.connected && s.connected);
  CHECK_EQ_INT(c.failed + s.failed, 0);
  check_keys_crosswise(&c, &s, MC_DTLS_SRTP_AEAD_AES_128_GCM);

  /* After the handshake: junk, and a well-framed epoch-1 record that fails
   * authentication, are dropped; data still flows. */
  CHECK_EQ_INT(mc_dtls_receive(s.d, junk, sizeof junk), MC_EPARSE);
  uint8_t forged[13 + 40] = {23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 9, 0, 40};
  memset(forged + 13, 0x5a, 40);
  CHECK_EQ_INT(mc_dtls_receive(s.d, forged, sizeof forged), 0);
  CHECK_EQ_INT(mc_dtls_receive(c.d, forged, sizeof forged), 0);
  CHECK_EQ_INT(s.rx_msgs + c.rx_msgs, 0);
  CHECK_EQ_INT(mc_dtls_state(s.d), MC_DTLS_STATE_CONNECTED);
  uint8_t ping[] = "ping";
  CHECK_EQ_INT(mc_dtls_send(c.d, ping, 4), 0);
  pump(&c, &s);
  CHECK_EQ_INT(s.rx_len, 4);
  CHECK_EQ_INT(c.failed + s.failed, 0);
  peer_free(&c);
  peer_free(&s);
}

/* ---- a ClientHello over 1200 bytes from a plain OpenSSL client ---- */

struct raw_client {
  EVP_PKEY *key;
  X509 *x;
  SSL_CTX *ctx;
  SSL *ssl;
  BIO_METHOD *meth;
  struct mc_dtls_bio_io io;
  struct peer p; /* its queue and notes */
};

static int accept_any(int ok, X509_STORE_CTX *x) {
  (void)ok, (void)x;
  return 1;
}

static void raw_step(struct raw_client *r) {
  ERR_clear_error();
  if (SSL_do_handshake(r->ssl) == 1 && !r->p.connected) r->p.connected = 1;
  ERR_clear_error();
}

/* Delivery into the raw client: deliver() calls mc_dtls_receive on to->d,
 * which the raw peer does not have; feed its BIO instead. */
static int deliver_raw(struct peer *from, struct raw_client *r) {
  size_t n = from->qn;
  from->qn = 0;
  for (size_t i = 0; i < n; i++) {
    r->io.in = from->q[i].data;
    r->io.in_len = from->q[i].len;
    raw_step(r);
    r->io.in = NULL;
    free(from->q[i].data);
  }
  return (int)n;
}

/* A plain OpenSSL DTLS client with its own certificate, through the same
 * datagram BIO, offering only max_version, groups and srtp. */
static void raw_new(struct raw_client *r, int max_version, const char *groups, const char *srtp) {
  memset(r, 0, sizeof *r);
  peer_reset(&r->p, "raw");
  r->key = EVP_EC_gen("P-256");
  r->x = X509_new();
  X509_set_version(r->x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(r->x), 7);
  X509_gmtime_adj(X509_getm_notBefore(r->x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(r->x), 3600);
  X509_set_pubkey(r->x, r->key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(r->x), "CN", MBSTRING_ASC, (const unsigned char *)"raw", -1, -1,
                             0);
  X509_set_issuer_name(r->x, X509_get_subject_name(r->x));
  X509_sign(r->x, r->key, EVP_sha256());

  r->ctx = SSL_CTX_new(DTLS_client_method());
  SSL_CTX_set_min_proto_version(r->ctx, DTLS1_VERSION);
  SSL_CTX_set_max_proto_version(r->ctx, max_version);
  SSL_CTX_set_security_level(r->ctx, 0); /* let it offer DTLS 1.0 */
  SSL_CTX_use_certificate(r->ctx, r->x);
  SSL_CTX_use_PrivateKey(r->ctx, r->key);
  SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, accept_any);
  CHECK_EQ_INT(SSL_CTX_set_tlsext_use_srtp(r->ctx, srtp), 0);
  CHECK_EQ_INT(SSL_CTX_set1_groups_list(r->ctx, groups), 1);
  r->ssl = SSL_new(r->ctx);
  r->meth = mc_dtls_bio_method_new();
  r->io.send = on_send;
  r->io.user = &r->p;
  BIO *bio = mc_dtls_bio_new(r->meth, &r->io);
  SSL_set_bio(r->ssl, bio, bio);
  SSL_set_options(r->ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(r->ssl, MC_DTLS_DEFAULT_MTU);
  SSL_set_connect_state(r->ssl);
}

static void raw_free(struct raw_client *r) {
  SSL_free(r->ssl);
  BIO_meth_free(r->meth);
  SSL_CTX_free(r->ctx);
  X509_free(r->x);
  EVP_PKEY_free(r->key);
  for (size_t i = 0; i < r->p.qn; i++) free(r->p.q[i].data);
}

/* A server endpoint of ours that expects the raw client's SHA-1 fingerprint. */
static void raw_server(struct peer *s, struct raw_client *r, mc_dtls_cert *cs) {
  uint8_t fp1[20];
  unsigned int n = 0;
  X509_digest(r->x, EVP_sha1(), fp1, &n);
  peer_reset(s, "s");
  struct mc_dtls_config c = {.role = MC_DTLS_SERVER, .cert = cs, .remote_fp_algorithm = "sha-1",
                             .remote_fp = fp1, .remote_fp_len = n, .use_srtp = true};
  CHECK_EQ_INT(mc_dtls_new(&c, &cbs, s, &s->d), 0);
  mc_dtls_start(s->d);
}

static void test_dtls10_refused(mc_dtls_cert *cs) {
  struct raw_client r;
  struct peer s;
  raw_new(&r, DTLS1_VERSION, "X25519", "SRTP_AES128_CM_SHA1_80");
  raw_server(&s, &r, cs);
  raw_step(&r);
  for (int i = 0; i < 20; i++)
    if (deliver(&r.p, &s) + deliver_raw(&s, &r) == 0) break;
  CHECK_EQ_INT(s.connected, 0);
  CHECK_EQ_INT(r.p.connected, 0);
  CHECK_EQ_INT(s.failed, 1);
  CHECK_EQ_INT(s.failed_err, MC_ETLS);
  raw_free(&r);
  peer_free(&s);
}

static void test_big_client_hello(mc_dtls_cert *cs) {
  struct raw_client r;
  /* AES-CM only, and P-256 where X25519 is the server's first choice */
  raw_new(&r, DTLS1_2_VERSION, "P-256", "SRTP_AES128_CM_SHA1_80");
  /* An ALPN list of 1500 bytes makes the ClientHello as large as a
   * browser's with post-quantum key shares. */
  static uint8_t alpn[1500];
  for (size_t i = 0; i + 30 <= sizeof alpn; i += 30) {
    alpn[i] = 29;
    memset(alpn + i + 1, 'a' + (int)(i / 30 % 26), 29);
  }
  CHECK_EQ_INT(SSL_set_alpn_protos(r.ssl, alpn, sizeof alpn), 0);
  struct peer s;
  raw_server(&s, &r, cs);
  unsigned int n = 0;

  raw_step(&r);
  CHECK(r.p.qn >= 2);                 /* the ClientHello in fragments */
  CHECK(r.p.hs_msg_len[1] > MC_DTLS_DEFAULT_MTU);
  CHECK(r.p.fragmented[1] >= 2);
  CHECK(r.p.max_hs_dgram <= MC_DTLS_DEFAULT_MTU);
  for (int i = 0; i < 20; i++)
    if (deliver(&r.p, &s) + deliver_raw(&s, &r) == 0) break;
  CHECK_EQ_INT(s.connected, 1);
  CHECK_EQ_INT(r.p.connected, 1);
  CHECK_EQ_INT(s.failed, 0);

  CHECK_EQ_INT(SSL_get_negotiated_group(r.ssl), NID_X9_62_prime256v1);
  CHECK_STR(SSL_get_cipher_name(r.ssl), "ECDHE-ECDSA-AES128-GCM-SHA256");
  CHECK_EQ_INT(SSL_version(r.ssl), DTLS1_2_VERSION);
  /* the server's certificate is the one whose fingerprint we publish */
  uint8_t fp[32], want[32];
  X509 *peer_cert = SSL_get0_peer_certificate(r.ssl);
  CHECK(peer_cert != NULL);
  if (peer_cert) {
    X509_digest(peer_cert, EVP_sha256(), fp, &n);
    mc_dtls_cert_fingerprint(cs, want);
    CHECK_MEM(fp, want, 32);
  }
  /* AES-CM is what the client offered; keys equal the client's export */
  struct mc_dtls_srtp_keys k;
  CHECK_EQ_INT(mc_dtls_srtp_keys(s.d, &k), 0);
  CHECK_EQ_INT(k.profile, MC_DTLS_SRTP_AES128_CM_SHA1_80);
  CHECK_EQ_INT(k.salt_len, 14);
  uint8_t km[60];
  CHECK_EQ_INT(SSL_export_keying_material(r.ssl, km, sizeof km, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0), 1);
  CHECK_MEM(k.client_key, km, 16);
  CHECK_MEM(k.server_key, km + 16, 16);
  CHECK_MEM(k.client_salt, km + 32, 14);
  CHECK_MEM(k.server_salt, km + 46, 14);
  CHECK(!k.we_are_client);

  raw_free(&r);
  peer_free(&s);
}

int main(void) {
  mc_dtls_cert *a = NULL, *b = NULL, *other = NULL;
  CHECK_EQ_INT(mc_dtls_cert_generate(&a), 0);
  CHECK_EQ_INT(mc_dtls_cert_generate(&b), 0);
  CHECK_EQ_INT(mc_dtls_cert_generate(&other), 0);
  CHECK_EQ_INT(mc_dtls_cert_generate(NULL), MC_EINVAL);
  if (!a || !b || !other) return CHECK_DONE();
  test_demux();
  test_cert(a, b);
  test_config_checks(a);
  test_record_check();
  test_handshake(a, b, MC_DTLS_CLIENT);
  test_handshake(a, b, MC_DTLS_SERVER);
  test_app_data(a, b);
  test_fragmentation(a, b);
  test_fingerprint_mismatch(a, b, other, true);
  test_fingerprint_mismatch(a, b, other, false);
  test_retransmit(a, b);
  test_close(a, b);
  test_garbage(a, b);
  test_big_client_hello(b);
  test_dtls10_refused(b);
  mc_dtls_cert_free(a);
  mc_dtls_cert_free(b);
  mc_dtls_cert_free(other);
  return CHECK_DONE();
}
