/* Fuzz target: the TURN client (src/turn/turn.c) as a server answers it:
 * responses to its Binding, Allocate, Refresh, CreatePermission and
 * ChannelBind requests, Data indications and ChannelData, over UDP and over
 * a TCP stream cut into pieces (the reassembly and framing of RFC 8656
 * 12.5 / RFC 8489 6.2.2), and over TLS (turns:, RFC 8656 3.1): the target
 * is then a TLS server on memory BIOs with a throwaway certificate, so the
 * script's bytes reach the client through its real TLS stream (src/net/
 * stream.c: records, post-handshake messages, close_notify, broken
 * records). The client is the real one on a libuv loop; the server is this
 * target on loopback, playing the input as a script.
 *
 * Input: one byte of set-up (bit 0 TCP, 1 no credentials, 2 Binding first,
 * 2|3 Binding only, 4 LIFETIME 0; with TCP: 5 TLS, 6 the server stops at
 * TLS 1.2, 7 the client verifies the certificate, which then fails), then
 * records [ctl][len:2][len bytes]:
 *   ctl & 3 == 0, 1: the answer to the client's next request, success or
 *     error: the request's method and transaction id, the record's bytes as
 *     TLV attributes, then (ctl & 4) MESSAGE-INTEGRITY with the key the
 *     client uses and (ctl & 8) FINGERPRINT; so mutated answers get past
 *     the integrity check.
 *   ctl & 3 == 2: bytes sent as they are (ChannelData, anything).
 *   ctl & 3 == 3: a Data indication with the record's attributes.
 *   Over TCP, ctl >> 4 cuts the bytes in two writes, with the loop run in
 *   between so the client reads a partial frame (over TLS: two records).
 *   Over TLS, ctl & 3 == 2 with ctl >> 4 of 13..15 is about TLS itself:
 *   13 a KeyUpdate (TLS 1.3) or a renegotiation (TLS 1.2) before the
 *   bytes, 14 close_notify, 15 the bytes raw on the connection, outside
 *   TLS (during or after the handshake).
 * Once allocated, the client is asked for a permission and a channel for
 * PEER and sends to it. When the script is played and the loop is quiet the
 * client is closed (a Refresh with LIFETIME 0 is answered). */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "dtls/dtls_private.h"
#include "fuzz_uv.h"
#include "turn/turn.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

#define USERNAME "fuzz"
#define PASSWORD "fuzz-password"
#define PEER_IP "192.0.2.7"
#define PEER_PORT 4000

static uv_loop_t loop;
static bool loop_ready;
/* The TLS server's context and throwaway certificate (ECDSA P-256, the one
 * DTLS makes), made once. */
static SSL_CTX *tls_ctx;
static mc_dtls_cert *tls_cert;

static struct {
  const uint8_t *p, *end; /* the script left */
  bool tcp;
  mc_udp *udp;
  uv_tcp_t listener;
  bool listening;
  uv_tcp_t conn;
  bool conn_open, conn_closing;
  uint8_t rx[70000]; /* the client's stream */
  size_t rx_len;
  mc_addr client_udp;
  bool have_client_udp;
  /* TCP pieces waiting for the next loop turn */
  uint8_t *pending;
  size_t pending_len;
  int activity;
  mc_turn_client *client;
  bool closed, failed;
  int answered;
  bool said_password; /* the server's own bytes carried it (a reason phrase) */
  /* TLS: the server's end, made when the connection is accepted */
  bool tls, tls12, insecure;
  SSL *ssl;
  bool tls_up, tls_dead;
  uint8_t *early; /* plaintext written before the handshake finished */
  size_t early_len;
} s;

static void on_write(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

/* Bytes on the TCP connection as they are. */
static void raw_send(const uint8_t *buf, size_t len) {
  if (!s.conn_open || s.conn_closing || !len) return;
  uv_write_t *w = malloc(sizeof *w + len);
  if (!w) return;
  memcpy(w + 1, buf, len);
  uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)len);
  if (uv_write(w, (uv_stream_t *)&s.conn, &b, 1, on_write) != 0) free(w);
}

static void tls_flush(void) {
  uint8_t buf[16384];
  int n;
  while ((n = BIO_read(SSL_get_wbio(s.ssl), buf, sizeof buf)) > 0) raw_send(buf, (size_t)n);
}

/* One write of the stream: over TLS, one or more records of its own. */
static void conn_send(const uint8_t *buf, size_t len) {
  if (!s.tls) {
    raw_send(buf, len);
    return;
  }
  if (!s.ssl || s.tls_dead || !len) return;
  if (!s.tls_up) {
    uint8_t *n = realloc(s.early, s.early_len + len);
    if (!n) return;
    memcpy(n + s.early_len, buf, len);
    s.early = n;
    s.early_len += len;
    return;
  }
  ERR_clear_error();
  SSL_write(s.ssl, buf, (int)len); /* fails after close_notify: nothing goes */
  tls_flush();
}

/* Sends the piece out() held back for the next turn; true if there was one. */
static bool send_pending(void) {
  if (!s.pending) return false;
  uint8_t *p = s.pending;
  size_t n = s.pending_len;
  s.pending = NULL;
  s.pending_len = 0;
  conn_send(p, n);
  free(p);
  return true;
}

static void out(const uint8_t *buf, size_t len, uint8_t ctl) {
  if (memmem(buf, len, PASSWORD, strlen(PASSWORD))) s.said_password = true;
  if (!s.tcp) {
    if (s.udp && s.have_client_udp) mc_udp_send(s.udp, &s.client_udp, buf, len);
    return;
  }
  size_t cut = len ? (size_t)(ctl >> 4) * len / 16 : 0;
  if (s.pending) {
    /* Still a piece waiting: keep the order. */
    uint8_t *n = realloc(s.pending, s.pending_len + len);
    if (!n) return;
    memcpy(n + s.pending_len, buf, len);
    s.pending = n;
    s.pending_len += len;
    return;
  }
  conn_send(buf, cut);
  if (len > cut) {
    s.pending = malloc(len - cut);
    if (!s.pending) return;
    memcpy(s.pending, buf + cut, len - cut);
    s.pending_len = len - cut;
  }
}

/* The record's bytes as attributes (type, length, value; a value cut short
 * by the record's end is cut short in the message too). */
static void put_tlvs(mc_stun_writer *w, const uint8_t *p, size_t n) {
  while (n >= 4) {
    uint16_t type = mc_get_be16(p), len = mc_get_be16(p + 2);
    p += 4, n -= 4;
    size_t take = len < n ? len : n;
    /* Integrity and fingerprint are the target's to add, last. */
    if (type != MC_STUN_ATTR_MESSAGE_INTEGRITY && type != MC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
        type != MC_STUN_ATTR_FINGERPRINT)
      mc_stun_put_attr(w, type, p, take);
    size_t adv = (take + 3) & ~(size_t)3;
    if (adv > n) adv = n;
    p += adv, n -= adv;
  }
}

static bool next_record(uint8_t *ctl, const uint8_t **body, size_t *len) {
  if (s.end - s.p < 3) return false;
  *ctl = s.p[0];
  size_t n = mc_get_be16(s.p + 1);
  s.p += 3;
  if (n > (size_t)(s.end - s.p)) n = (size_t)(s.end - s.p);
  *body = s.p;
  *len = n;
  s.p += n;
  return true;
}

/* ctl >> 4 of 13..15 on an "as they are" record over TLS. */
static void tls_special(uint8_t op, const uint8_t *body, size_t len) {
  if (!s.ssl) return;
  send_pending(); /* the piece held for the next turn goes first */
  if (op == 15) {
    if (memmem(body, len, PASSWORD, strlen(PASSWORD))) s.said_password = true;
    raw_send(body, len);
    return;
  }
  if (!s.tls_up || s.tls_dead) return;
  ERR_clear_error();
  if (op == 14) {
    SSL_shutdown(s.ssl);
    tls_flush();
    return;
  }
  /* The client must answer these from inside its read path. */
  if (SSL_version(s.ssl) == TLS1_3_VERSION ? SSL_key_update(s.ssl, SSL_KEY_UPDATE_REQUESTED)
                                           : SSL_renegotiate(s.ssl))
    SSL_do_handshake(s.ssl);
  tls_flush();
  out(body, len, 0);
}

static bool next_is_answer(void) { return s.end - s.p >= 3 && (s.p[0] & 3) < 2; }

static void finish_and_out(mc_stun_writer *w, uint8_t ctl, const mc_stun_msg *req) {
  if (ctl & 4) {
    /* The client's key (RFC 8489 9.2.2) from the realm it sent. */
    uint8_t key[16];
    if (req && req->has_realm && mc_stun_long_term_key(USERNAME, req->realm, PASSWORD, key) == 0)
      mc_stun_put_integrity(w, key, sizeof key);
  }
  if (ctl & 8) mc_stun_put_fingerprint(w);
  int n = mc_stun_finish(w);
  if (n > 0) out(w->buf, (size_t)n, ctl);
}

/* Plays the records up to the next answer (or the end). */
static void play_unsolicited(void) {
  static uint8_t msg[66000];
  while (s.end - s.p >= 3 && !next_is_answer()) {
    uint8_t ctl;
    const uint8_t *body;
    size_t len;
    next_record(&ctl, &body, &len);
    if ((ctl & 3) == 2) {
      if (s.tls && (ctl >> 4) >= 13) tls_special(ctl >> 4, body, len);
      else out(body, len, ctl);
      continue;
    }
    mc_stun_writer w;
    mc_stun_begin(&w, msg, sizeof msg, MC_STUN_DATA, MC_STUN_INDICATION, NULL);
    put_tlvs(&w, body, len);
    finish_and_out(&w, ctl, NULL);
  }
}

static void answer(const mc_stun_msg *req) {
  static uint8_t msg[66000];
  mc_stun_writer w;
  s.activity++;
  if (req->method == MC_STUN_REFRESH && req->has_lifetime && req->lifetime == 0) {
    /* The close: answered so the client goes at once. */
    mc_stun_begin(&w, msg, sizeof msg, req->method, MC_STUN_SUCCESS, req->txid);
    finish_and_out(&w, 4, req);
    return;
  }
  uint8_t ctl;
  const uint8_t *body;
  size_t len;
  if (!next_is_answer() || !next_record(&ctl, &body, &len)) return;
  mc_stun_begin(&w, msg, sizeof msg, req->method, (ctl & 1) ? MC_STUN_ERROR : MC_STUN_SUCCESS, req->txid);
  put_tlvs(&w, body, len);
  finish_and_out(&w, ctl, req);
  s.answered++;
  play_unsolicited();
}

static void server_got(const uint8_t *buf, size_t len) {
  mc_stun_msg m;
  if (mc_stun_parse(buf, len, &m) == 0 && m.cls == MC_STUN_REQUEST) answer(&m);
}

static void udp_recv(mc_udp *sock, const mc_addr *from, const uint8_t *data, size_t len, void *user) {
  (void)sock, (void)user;
  if (!s.have_client_udp) {
    s.client_udp = *from;
    s.have_client_udp = true;
    play_unsolicited();
  }
  if (!mc_addr_equal(from, &s.client_udp)) return;
  s.activity++;
  server_got(data, len);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)h, (void)suggested;
  static char buf[65536];
  *b = uv_buf_init(buf, sizeof buf);
}

/* The client's stream (after TLS): STUN requests back to back. */
static void stream_in(const uint8_t *data, size_t n) {
  if (s.rx_len + n > sizeof s.rx) s.rx_len = 0;
  memcpy(s.rx + s.rx_len, data, n);
  s.rx_len += n;
  size_t off = 0;
  for (;;) {
    int f = mc_stun_stream_frame_len(s.rx + off, s.rx_len - off);
    if (f <= 0 || (size_t)f > s.rx_len - off) break;
    server_got(s.rx + off, (size_t)f);
    off += (size_t)f;
  }
  memmove(s.rx, s.rx + off, s.rx_len - off);
  s.rx_len -= off;
}

static void tls_pump(void) {
  if (!s.tls_up) {
    ERR_clear_error();
    int r = SSL_do_handshake(s.ssl);
    tls_flush();
    if (r != 1) {
      if (SSL_get_error(s.ssl, r) != SSL_ERROR_WANT_READ) s.tls_dead = true;
      return;
    }
    s.tls_up = true;
    if (s.early) {
      uint8_t *e = s.early;
      size_t n = s.early_len;
      s.early = NULL;
      s.early_len = 0;
      conn_send(e, n);
      free(e);
    }
  }
  static uint8_t plain[16384];
  while (s.ssl && !s.tls_dead) {
    ERR_clear_error();
    int n = SSL_read(s.ssl, plain, sizeof plain);
    if (n <= 0) {
      int e = SSL_get_error(s.ssl, n);
      tls_flush(); /* a renegotiation's handshake goes on in here */
      if (e != SSL_ERROR_WANT_READ) s.tls_dead = true;
      return;
    }
    stream_in(plain, (size_t)n);
  }
}

static void tcp_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  (void)st;
  if (n <= 0) return;
  s.activity++;
  if (!s.tls) {
    stream_in((const uint8_t *)b->base, (size_t)n);
    return;
  }
  if (!s.ssl || s.tls_dead) return;
  if (BIO_write(SSL_get_rbio(s.ssl), b->base, (int)n) != (int)n) {
    s.tls_dead = true;
    return;
  }
  tls_pump();
}

static void on_conn_closed(uv_handle_t *h) {
  (void)h;
  s.conn_open = false;
  s.conn_closing = false;
}

static void on_connection(uv_stream_t *l, int status) {
  if (status != 0) return;
  if (s.conn_open) {
    /* One connection per input; a stray one is refused. */
    uv_tcp_t *t = malloc(sizeof *t);
    if (t && uv_tcp_init(&loop, t) == 0 && uv_accept(l, (uv_stream_t *)t) == 0) uv_close((uv_handle_t *)t, (uv_close_cb)free);
    else free(t);
    return;
  }
  if (uv_tcp_init(&loop, &s.conn) != 0) return;
  s.conn_open = true;
  if (uv_accept(l, (uv_stream_t *)&s.conn) != 0) {
    s.conn_closing = true;
    uv_close((uv_handle_t *)&s.conn, on_conn_closed);
    return;
  }
  /* Each piece leaves at once: Nagle would hold the second until an ACK
   * the client delays, and the loop would look quiet. */
  uv_tcp_nodelay(&s.conn, 1);
  if (s.tls) {
    BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());
    s.ssl = SSL_new(tls_ctx);
    FUZZ_ASSERT(r && w && s.ssl);
    BIO_set_mem_eof_return(r, -1);
    BIO_set_mem_eof_return(w, -1);
    SSL_set_bio(s.ssl, r, w);
    SSL_set_accept_state(s.ssl);
    if (s.tls12) SSL_set_max_proto_version(s.ssl, TLS1_2_VERSION);
  }
  uv_read_start((uv_stream_t *)&s.conn, alloc_cb, tcp_read);
  s.activity++;
  play_unsolicited();
}

/* ---- the client's callbacks ---- */

static void check_sentence(const char *sentence) {
  FUZZ_ASSERT(sentence && sentence[0]);
  /* The password is never shown, unless the server wrote it in its reason
   * phrase (the sentence quotes that). */
  FUZZ_ASSERT(!strstr(sentence, PASSWORD) || s.said_password);
  /* Told not to verify, the client cannot blame the certificate. */
  FUZZ_ASSERT(!s.insecure || !strstr(sentence, "did not verify"));
}

static void cb_allocated(mc_turn_client *c, const mc_addr *relayed, const mc_addr *mapped, void *user) {
  (void)user, (void)mapped;
  s.activity++;
  FUZZ_ASSERT(c == s.client);
  if (!relayed) {
    FUZZ_ASSERT(mc_turn_client_state(c) == MC_TURN_STATE_BOUND);
    return;
  }
  FUZZ_ASSERT(mc_turn_client_state(c) == MC_TURN_STATE_ALLOCATED);
  mc_addr peer;
  mc_addr_parse(PEER_IP, PEER_PORT, &peer);
  mc_turn_create_permission(c, &peer);
  mc_turn_channel_bind(c, &peer);
  mc_turn_send(c, &peer, (const uint8_t *)"hello", 5);
}

static void cb_error(mc_turn_client *c, int err, const char *sentence, void *user) {
  (void)user;
  s.activity++;
  FUZZ_ASSERT(c == s.client && err < 0);
  check_sentence(sentence);
  FUZZ_ASSERT(mc_turn_client_state(c) == MC_TURN_STATE_FAILED);
  s.failed = true;
}

static void cb_data(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len, void *user) {
  (void)user, (void)data;
  s.activity++;
  FUZZ_ASSERT(c == s.client && peer && len <= 0xFFFF);
  FUZZ_ASSERT(mc_turn_client_state(c) == MC_TURN_STATE_ALLOCATED);
  mc_addr p;
  mc_addr_parse(PEER_IP, PEER_PORT, &p);
  mc_turn_send(c, &p, data, len > 1000 ? 1000 : len);
}

static void cb_perm(mc_turn_client *c, const mc_addr *peer, int err, void *user) {
  (void)user, (void)peer, (void)err;
  s.activity++;
  FUZZ_ASSERT(c == s.client && err <= 0);
}

static void cb_chan(mc_turn_client *c, const mc_addr *peer, uint16_t ch, int err, void *user) {
  (void)user, (void)peer;
  s.activity++;
  FUZZ_ASSERT(c == s.client && err <= 0 && ch >= MC_TURN_CHANNEL_MIN && ch <= MC_TURN_CHANNEL_MAX);
}

static void cb_progress(mc_turn_client *c, const struct mc_turn_progress *p, void *user) {
  (void)user;
  s.activity++;
  FUZZ_ASSERT(c == s.client && p->step <= MC_TURN_STEP_CHANNEL_BIND);
  if (p->err) check_sentence(p->sentence);
}

static const struct mc_turn_callbacks cbs = {cb_allocated, cb_error, cb_data, cb_perm, cb_chan, cb_progress};

static int ours(void) { return (s.udp ? 1 : 0) + (s.listening ? 1 : 0) + (s.conn_open && !s.conn_closing ? 1 : 0); }

static void on_listener_closed(uv_handle_t *h) {
  (void)h;
  s.listening = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!loop_ready) {
    uv_loop_init(&loop);
    /* Quiet unless MEDCALL_LOG asks (to see what a seed reaches). */
    mc_log_set_level(MC_LOG_OFF);
    if (getenv("MEDCALL_LOG")) mc_log_init_from_env();
    FUZZ_ASSERT(mc_dtls_cert_generate(&tls_cert) == 0);
    tls_ctx = SSL_CTX_new(TLS_server_method());
    FUZZ_ASSERT(tls_ctx && SSL_CTX_use_certificate(tls_ctx, tls_cert->x509) == 1 &&
                SSL_CTX_use_PrivateKey(tls_ctx, tls_cert->key) == 1);
    loop_ready = true;
  }
  if (size < 1) return 0;
  uint8_t setup = data[0];
  memset(&s, 0, sizeof s);
  s.p = data + 1;
  s.end = data + size;
  s.tcp = setup & 1;
  s.tls = s.tcp && (setup & 0x20);
  s.tls12 = setup & 0x40;

  mc_addr local;
  mc_addr_parse("127.0.0.1", 0, &local);
  uint16_t port = 0;
  if (!s.tcp) {
    if (mc_udp_open(&loop, &local, udp_recv, NULL, &s.udp) != 0) return 0;
    mc_addr a;
    mc_udp_local_addr(s.udp, &a);
    port = mc_addr_port(&a);
  } else {
    uv_tcp_init(&loop, &s.listener);
    s.listening = true;
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_bind(&s.listener, &local.u.sa, 0) != 0 || uv_listen((uv_stream_t *)&s.listener, 4, on_connection) != 0 ||
        uv_tcp_getsockname(&s.listener, (struct sockaddr *)&ss, &sl) != 0) {
      uv_close((uv_handle_t *)&s.listener, on_listener_closed);
      uv_run(&loop, UV_RUN_DEFAULT);
      return 0;
    }
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }

  struct mc_turn_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.host = "127.0.0.1";
  cfg.port = port;
  cfg.transport = s.tls ? MC_TURN_TLS : s.tcp ? MC_TURN_TCP : MC_TURN_UDP;
  cfg.insecure = s.insecure = !(setup & 0x80);
  if (!(setup & 2)) {
    cfg.username = USERNAME;
    cfg.password = PASSWORD;
  }
  cfg.binding_first = setup & 4;
  cfg.binding_only = (setup & 0x0c) == 0x0c;
  cfg.family = AF_INET;
  cfg.timeout_ms = 5000;
  cfg.lifetime_s = setup & 0x10 ? 0 : 300;
  FUZZ_ASSERT(mc_turn_client_new(&loop, &cfg, &cbs, NULL, &s.client) == 0);
  FUZZ_ASSERT(mc_turn_client_start(s.client) == 0);

  /* Run until the client is gone: the script played and nothing moving,
   * then the client is closed; its handles are then all closed. */
  int quiet = 0;
  bool closing = false, reset = false;
  for (int turn = 0; turn < 20000; turn++) {
    s.activity = 0;
    if (send_pending()) s.activity++;
    uv_run(&loop, closing ? UV_RUN_ONCE : UV_RUN_NOWAIT);
    if (closing && fuzz_open_handles(&loop) <= ours()) break;
    if (s.activity) {
      quiet = 0;
      continue;
    }
    if (++quiet < 3) continue;
    if (s.tcp && s.conn_open && !reset && !s.pending) {
      /* The server goes first, with a reset, so no connection of the
       * loopback is left in TIME_WAIT across millions of runs. */
      reset = true;
      uv_read_stop((uv_stream_t *)&s.conn);
      s.conn_closing = true;
      uv_tcp_close_reset(&s.conn, on_conn_closed);
      quiet = 0;
      continue;
    }
    if (!closing) {
      closing = true;
      mc_turn_client_close(s.client);
    }
  }
  if (!closing) mc_turn_client_close(s.client);
  while (fuzz_open_handles(&loop) > ours()) uv_run(&loop, UV_RUN_ONCE);
  if (s.udp) mc_udp_close(s.udp);
  s.udp = NULL;
  if (s.conn_open && !s.conn_closing) {
    s.conn_closing = true;
    uv_tcp_close_reset(&s.conn, on_conn_closed);
  }
  if (s.listening) uv_close((uv_handle_t *)&s.listener, on_listener_closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  free(s.pending);
  free(s.early);
  SSL_free(s.ssl);
  return 0;
}
