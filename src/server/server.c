/* medcall-server's network side: one libwebsockets context serving HTTPS
 * (the patient page) and WSS (/ws, the signaling protocol) on one port, in
 * one thread, on a libuv loop of ours. Every write is queued and sent when
 * the socket is writable, so a slow client only ever fills its own bounded
 * queue. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <uv.h>

#include "server/server.h"
#include "util/util.h"

#define TICK_MS 250
#define SHUTDOWN_FLUSH_MS 300
#define IP_BUCKETS 1024
/* A connection that keeps flooding after this many dropped messages in a row
 * is closed rather than answered. */
#define MAX_DROPS_IN_A_ROW 100
/* Bytes of one message, fragments included, beyond which we stop reading and
 * close instead of discarding (the cap answers too-big below this). */
#define DISCARD_FACTOR 4
/* A receive buffer larger than this is freed after its message. */
#define RX_KEEP 4096
/* Application data of our pings (RFC 6455 5.5.2), at most 125 bytes. */
#define PING_DATA "medcall"
/* Rooms changed are written to the snapshot at most this often. */
#define SNAPSHOT_EVERY_MS 1000

struct ipent {
  char addr[64];
  uint32_t conns;
  double tokens;
  uint64_t last_ms;
  struct ipent *next;
};

struct outmsg {
  struct outmsg *next;
  size_t len;
  unsigned char buf[]; /* LWS_PRE + len */
};

struct conn {
  struct lws *wsi;
  /* In the server's idle list, least recently heard first. */
  struct conn *idle_prev, *idle_next;
  uint64_t heard_ms;
  bool pinged;       /* a ping went out (or is due) since we last heard it */
  bool ping_pending; /* to write at the next WRITEABLE */
  bool ws; /* an upgraded WebSocket (not an HTTP request) */
  mc_session *session;
  struct ipent *ip;
  uint8_t *rx;
  size_t rx_len, rx_cap, rx_total;
  bool rx_over, rx_binary;
  struct outmsg *qhead, *qtail;
  size_t qbytes;
  double tokens;
  uint64_t last_ms;
  uint32_t drops;
  bool closing;
  enum lws_close_status close_code;
  char host[256];
};

struct srv {
  struct mc_server_config *cfg;
  struct lws_context *ctx;
  mc_rooms *rooms;
  struct ipent *ips[IP_BUCKETS];
  size_t nconns;
  /* Open WebSockets ordered by when we last heard from them (head: longest
   * silent). Moving one to the tail is O(1) per message, and the tick stops
   * at the first one heard recently, so the idle check costs nothing for
   * active connections. lws 4.1's own idle policy (retry_and_idle_policy)
   * keeps a timer per connection in one sorted list and re-inserts it on
   * every frame: with 10,000 connections that is quadratic and stalled the
   * loop for seconds (docs/server.md, "Load"). */
  struct conn *idle_head, *idle_tail;
  bool stopping;
  /* SIGTERM: clients were sent goaway; the loop stops once they left or at
   * drain_deadline_ms. */
  bool draining;
  uint64_t drain_deadline_ms;
  char snapshot[4200]; /* "" when there is no state directory */
  uint64_t last_snapshot_ms;
  SSL_CTX *ssl_ctx; /* the vhost's, for SIGHUP's new certificate */
  uv_loop_t *loop;
  lws_sorted_usec_list_t tick;
};

static void save_snapshot(struct srv *s) {
  if (!s->snapshot[0]) return;
  int rc = mc_rooms_save(s->rooms, s->snapshot, mc_now_ms());
  if (rc < 0) MC_LOGW("server", "snapshot not written err=%s", mc_strerror(rc));
  s->last_snapshot_ms = mc_now_ms();
}

static void on_flush_deadline(uv_timer_t *t) { uv_stop(t->loop); }

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* ---- per-address accounting ---- */
static unsigned hash_str(const char *s) {
  unsigned h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h % IP_BUCKETS;
}

static struct ipent *ip_get(struct srv *s, const char *addr, bool create) {
  unsigned h = hash_str(addr);
  for (struct ipent *e = s->ips[h]; e; e = e->next)
    if (!strcmp(e->addr, addr)) return e;
  if (!create) return NULL;
  struct ipent *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  mc_strcpy(e->addr, sizeof e->addr, addr);
  e->tokens = s->cfg->ip_burst;
  e->last_ms = mc_now_ms();
  e->next = s->ips[h];
  s->ips[h] = e;
  return e;
}

static void ip_release(struct srv *s, struct ipent *e) {
  if (!e || --e->conns > 0) return;
  unsigned h = hash_str(e->addr);
  for (struct ipent **p = &s->ips[h]; *p; p = &(*p)->next)
    if (*p == e) {
      *p = e->next;
      free(e);
      return;
    }
}

/* Token buckets: rate per second, burst deep. */
static bool take_token(double *tokens, uint64_t *last_ms, uint32_t rate, uint32_t burst, uint64_t now) {
  *tokens += (double)(now - *last_ms) * rate / 1000.0;
  if (*tokens > burst) *tokens = burst;
  *last_ms = now;
  if (*tokens < 1.0) return false;
  *tokens -= 1.0;
  return true;
}

/* ---- idle connections ---- */
static void idle_unlink(struct srv *s, struct conn *c) {
  if (c->idle_prev) c->idle_prev->idle_next = c->idle_next;
  else if (s->idle_head == c) s->idle_head = c->idle_next;
  else return; /* not in the list */
  if (c->idle_next) c->idle_next->idle_prev = c->idle_prev;
  else s->idle_tail = c->idle_prev;
  c->idle_prev = c->idle_next = NULL;
}

static void idle_append(struct srv *s, struct conn *c) {
  c->idle_prev = s->idle_tail;
  c->idle_next = NULL;
  if (s->idle_tail) s->idle_tail->idle_next = c;
  else s->idle_head = c;
  s->idle_tail = c;
}

/* Anything from the peer, a pong included, proves it is there. */
static void heard(struct srv *s, struct conn *c) {
  c->heard_ms = mc_now_ms();
  c->pinged = false;
  if (c->closing || s->idle_tail == c) return;
  idle_unlink(s, c);
  idle_append(s, c);
}

/* ---- output queue ---- */
static void free_queue(struct conn *c) {
  while (c->qhead) {
    struct outmsg *m = c->qhead;
    c->qhead = m->next;
    free(m);
  }
  c->qtail = NULL;
  c->qbytes = 0;
}

/* Closes with a close frame when the socket takes one; a client that reads
 * nothing never makes it writable again, so the socket goes anyway after
 * CLOSE_WAIT_S (or at once when now is set). */
#define CLOSE_WAIT_S 2
static void close_conn(struct srv *s, struct conn *c, enum lws_close_status code, const char *why, bool now) {
  if (c->closing) return;
  idle_unlink(s, c);
  MC_LOGI("server", "closing connection reason=%s", why);
  c->closing = true;
  c->close_code = code;
  free_queue(c);
  if (now) {
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  lws_close_reason(c->wsi, code, NULL, 0);
  lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_WAIT_S);
  lws_callback_on_writable(c->wsi);
}

static void io_send(void *conn, const char *text, size_t len, void *user) {
  struct srv *s = user;
  struct conn *c = conn;
  if (s->stopping || c->closing) return;
  if (c->qbytes + len > s->cfg->max_queue) {
    close_conn(s, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "slow-client", true);
    return;
  }
  struct outmsg *m = malloc(sizeof *m + LWS_PRE + len);
  if (!m) {
    close_conn(s, c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "no-memory", true);
    return;
  }
  m->next = NULL;
  m->len = len;
  memcpy(m->buf + LWS_PRE, text, len);
  if (c->qtail) c->qtail->next = m;
  else c->qhead = m;
  c->qtail = m;
  c->qbytes += len;
  lws_callback_on_writable(c->wsi);
}

static int write_one(struct conn *c) {
  if (c->closing) return -1; /* the reason was set by close_conn */
  if (c->ping_pending) {
    /* RFC 6455 5.5.2/5.5.3: the peer must answer a ping with a pong carrying
     * the same application data. It is not empty because lws 4.1 does not
     * pass an empty pong up as RECEIVE_PONG. */
    unsigned char ping[LWS_PRE + sizeof PING_DATA];
    memcpy(ping + LWS_PRE, PING_DATA, sizeof PING_DATA - 1);
    c->ping_pending = false;
    if (lws_write(c->wsi, ping + LWS_PRE, sizeof PING_DATA - 1, LWS_WRITE_PING) < 0) return -1;
    if (c->qhead) lws_callback_on_writable(c->wsi);
    return 0;
  }
  struct outmsg *m = c->qhead;
  if (!m) return 0;
  c->qhead = m->next;
  if (!c->qhead) c->qtail = NULL;
  c->qbytes -= m->len;
  /* lws keeps what the socket did not take and holds WRITEABLE back until it
   * is out, so one message per callback never blocks the thread. */
  int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
  size_t len = m->len;
  free(m);
  if (n < (int)len) return -1;
  if (c->qhead) lws_callback_on_writable(c->wsi);
  return 0;
}

/* ---- input ---- */
static void on_complete_message(struct srv *s, struct conn *c) {
  uint64_t now = mc_now_ms();
  bool ok_conn = take_token(&c->tokens, &c->last_ms, s->cfg->rate, s->cfg->burst, now);
  bool ok_ip = c->ip ? take_token(&c->ip->tokens, &c->ip->last_ms, s->cfg->ip_rate, s->cfg->ip_burst, now) : true;
  if (!ok_conn || !ok_ip) {
    if (++c->drops > MAX_DROPS_IN_A_ROW) {
      close_conn(s, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "flooding", false);
      return;
    }
    if (c->drops == 1) MC_LOGW("server", "rate limited scope=%s", ok_conn ? "address" : "connection");
    mc_rooms_send_error(s->rooms, c, MC_SIGERR_RATE_LIMITED, MC_SIG_UNKNOWN);
    return;
  }
  c->drops = 0;
  if (c->rx_over) {
    mc_rooms_send_error(s->rooms, c, MC_SIGERR_TOO_BIG, MC_SIG_UNKNOWN);
    return;
  }
  if (c->rx_binary) {
    mc_rooms_send_error(s->rooms, c, MC_SIGERR_BAD_JSON, MC_SIG_UNKNOWN);
    return;
  }
  mc_signal_msg m;
  enum mc_signal_error err = MC_SIGERR_NONE;
  enum mc_signal_type type = MC_SIG_UNKNOWN;
  if (mc_signal_parse(c->rx, c->rx_len, &m, &err, &type) < 0) {
    MC_LOGD("server", "bad message code=%s type=%s", mc_signal_error_name(err), mc_signal_type_name(type));
    mc_rooms_send_error(s->rooms, c, err, mc_signal_type_from_client(type) ? type : MC_SIG_UNKNOWN);
    return;
  }
  mc_rooms_on_message(s->rooms, c, &c->session, &m, c->rx, c->rx_len, c->host[0] ? c->host : NULL, now);
  mc_signal_msg_clear(&m);
}

static int on_receive(struct srv *s, struct conn *c, const void *in, size_t len) {
  heard(s, c);
  if (lws_is_first_fragment(c->wsi)) {
    c->rx_len = 0;
    c->rx_total = 0;
    c->rx_over = false;
    c->rx_binary = lws_frame_is_binary(c->wsi);
  }
  c->rx_total += len;
  if (c->rx_total > DISCARD_FACTOR * s->cfg->max_message) {
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    MC_LOGI("server", "closing connection reason=message-far-too-big");
    return -1;
  }
  if (!c->rx_over) {
    if (c->rx_len + len > s->cfg->max_message) {
      c->rx_over = true;
    } else {
      /* Grown to what this message needs, not to the cap: idle connections
       * must stay small when there are thousands of them. */
      if (c->rx_len + len > c->rx_cap) {
        size_t cap = MC_MAX(c->rx_len + len, MC_MIN(2 * c->rx_cap, s->cfg->max_message));
        uint8_t *p = realloc(c->rx, cap);
        if (!p) return -1;
        c->rx = p;
        c->rx_cap = cap;
      }
      memcpy(c->rx + c->rx_len, in, len);
      c->rx_len += len;
    }
  }
  if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi) > 0) return 0;
  if (!c->closing) on_complete_message(s, c);
  if (c->rx_cap > RX_KEEP) {
    free(c->rx);
    c->rx = NULL;
    c->rx_cap = 0;
  }
  return 0;
}

/* ---- HTTP ---- */
static const char security_headers[] =
    "content-security-policy: default-src 'self'; connect-src 'self' wss:; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; frame-ancestors 'none'\x0d\x0a"
    "x-content-type-options: nosniff\x0d\x0a"
    /* The room id is in the URL: no Referer may carry it elsewhere. */
    "referrer-policy: no-referrer\x0d\x0a"
    "cache-control: no-store\x0d\x0a";

static int http_done(struct lws *wsi) { return lws_http_transaction_completed(wsi) ? -1 : 0; }

static int on_http(struct srv *s, struct lws *wsi) {
  char uri[512];
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
    lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
    return http_done(wsi);
  }
  if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0) {
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return http_done(wsi);
  }
  char path[4096];
  const char *mime = NULL;
  int rc = s->cfg->web_root ? mc_web_resolve(s->cfg->web_root, uri, path, sizeof path, &mime) : MC_ENOTFOUND;
  if (rc < 0) {
    MC_LOGD("server", "http refused status=404 reason=%s", mc_strerror(rc));
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
    return http_done(wsi);
  }
  int n = lws_serve_http_file(wsi, path, mime, security_headers, (int)strlen(security_headers));
  if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
  return 0;
}

/* ---- the protocol callback ---- */
static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  struct srv *s = lws_context_user(lws_get_context(wsi));
  struct conn *c = user;
  char buf[256];
  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI) < 0 || strcmp(buf, "/ws") != 0) return -1;
    if (s->stopping || s->draining || s->nconns >= s->cfg->max_conns) return -1;
    if (lws_get_peer_simple(wsi, buf, sizeof buf)) {
      struct ipent *e = ip_get(s, buf, false);
      if (e && e->conns >= s->cfg->max_conns_per_ip) {
        MC_LOGW("server", "connection refused reason=too-many-from-address");
        return -1;
      }
    }
    return 0;
  }
  case LWS_CALLBACK_ESTABLISHED:
    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    c->ws = true;
    c->tokens = s->cfg->burst;
    c->last_ms = mc_now_ms();
    c->heard_ms = c->last_ms;
    idle_append(s, c);
    if (lws_hdr_copy(wsi, c->host, sizeof c->host, WSI_TOKEN_HOST) < 0) c->host[0] = '\0';
    if (lws_get_peer_simple(wsi, buf, sizeof buf) && (c->ip = ip_get(s, buf, true))) c->ip->conns++;
    s->nconns++;
    MC_LOGD("server", "websocket open conns=%zu", s->nconns);
    return 0;
  case LWS_CALLBACK_RECEIVE:
    return on_receive(s, c, in, len);
  case LWS_CALLBACK_RECEIVE_PONG:
    heard(s, c);
    return 0;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return write_one(c);
  case LWS_CALLBACK_CLOSED:
    if (!c->ws) return 0;
    idle_unlink(s, c);
    mc_rooms_on_close(s->rooms, &c->session, mc_now_ms());
    free_queue(c);
    free(c->rx);
    c->rx = NULL;
    ip_release(s, c->ip);
    c->ip = NULL;
    c->ws = false;
    s->nconns--;
    return 0;
  case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
    /* user is the vhost's SSL_CTX: kept so SIGHUP can give it a new
     * certificate without a new listening socket. */
    if (s) s->ssl_ctx = user;
    return 0;
  case LWS_CALLBACK_HTTP:
    return on_http(s, wsi);
  case LWS_CALLBACK_HTTP_FILE_COMPLETION:
    return http_done(wsi);
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    /* First, so a WebSocket without a subprotocol header lands here too. */
    {"medcall.v1", callback, sizeof(struct conn), 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Pings the connections silent for --idle-ping and closes those silent for
 * --idle-timeout. Pings per tick are capped so that 10,000 connections that
 * went quiet together are pinged over a quarter of the ping interval, not in
 * one burst of TLS writes that would delay every relay behind it. */
#define PINGS_MIN_PER_TICK 64
static void check_idle(struct srv *s, uint64_t now) {
  uint64_t ping_ms = (uint64_t)s->cfg->idle_ping_s * 1000, timeout_ms = (uint64_t)s->cfg->idle_timeout_s * 1000;
  if (ping_ms == 0 || timeout_ms == 0) return; /* a config not checked by mc_server_config_check */
  size_t cap = MC_MAX((size_t)PINGS_MIN_PER_TICK, s->nconns * TICK_MS * 4 / (size_t)ping_ms + 1), pings = 0;
  struct conn *c = s->idle_head;
  while (c && now - c->heard_ms >= ping_ms) {
    struct conn *next = c->idle_next;
    if (now - c->heard_ms >= timeout_ms) {
      /* RFC 6455 7.1.7: a peer that answers nothing, pings included, is
       * failed. (lws 4.1 drops a socket closed from WRITEABLE without the
       * close frame; the peer sees the TCP close.) */
      close_conn(s, c, LWS_CLOSE_STATUS_GOINGAWAY, "idle-timeout", false);
    } else if (!c->pinged && pings < cap) {
      c->pinged = true;
      c->ping_pending = true;
      pings++;
      lws_callback_on_writable(c->wsi);
    }
    c = next;
  }
}

static void on_tick(lws_sorted_usec_list_t *sul) {
  struct srv *s = lws_container_of(sul, struct srv, tick);
  uint64_t now = mc_now_ms();
  mc_rooms_tick(s->rooms, now);
  if (!s->stopping) check_idle(s, now);
  if (now - s->last_snapshot_ms >= SNAPSHOT_EVERY_MS && mc_rooms_take_dirty(s->rooms)) save_snapshot(s);
  if (s->draining && (s->nconns == 0 || now >= s->drain_deadline_ms)) {
    MC_LOGI("server", "drained conns_left=%zu", s->nconns);
    uv_stop(s->loop);
    return;
  }
  lws_sul_schedule(s->ctx, 0, &s->tick, on_tick, TICK_MS * LWS_US_PER_MS);
}

/* SIGTERM: every client is told to reconnect elsewhere or later and resume
 * (docs/signaling.md "goaway"); nobody is told that anyone left. */
static void begin_drain(struct srv *s) {
  s->draining = true;
  s->drain_deadline_ms = mc_now_ms() + (uint64_t)s->cfg->drain_timeout_s * 1000;
  mc_rooms_set_draining(s->rooms, true);
  char text[96];
  snprintf(text, sizeof text, "{\"v\":%d,\"type\":\"goaway\",\"retry_ms\":%d}", MC_SIGNAL_VERSION,
           MC_SERVER_GOAWAY_RETRY_MS);
  size_t n = 0;
  for (struct conn *c = s->idle_head; c; c = c->idle_next, n++) io_send(c, text, strlen(text), s);
  MC_LOGI("server", "draining conns=%zu timeout_s=%u", n, s->cfg->drain_timeout_s);
  save_snapshot(s);
}

/* SIGHUP: the config file and the certificate again, connections kept. */
static void reload(struct srv *s) {
  char why[512];
  if (mc_server_config_reload(s->cfg, why, sizeof why) < 0) {
    MC_LOGW("server", "reload refused: %s", why);
    fprintf(stderr, "medcall-server: reload refused, the running configuration stays: %s\n", why);
    return;
  }
  if (why[0]) fprintf(stderr, "medcall-server: %s\n", why);
  mc_rooms_config_changed(s->rooms);
  char cert[4096], key[4096], fp[100];
  bool generated = false;
  int rc = mc_server_cert_ensure(s->cfg, cert, sizeof cert, key, sizeof key, fp, sizeof fp, &generated);
  /* Both files are checked together on a scratch context first: a key that
   * does not match its certificate must not half-replace the live pair. */
  SSL_CTX *probe = rc == 0 ? SSL_CTX_new(TLS_server_method()) : NULL;
  bool ok = probe && SSL_CTX_use_certificate_chain_file(probe, cert) == 1 &&
            SSL_CTX_use_PrivateKey_file(probe, key, SSL_FILETYPE_PEM) == 1 && SSL_CTX_check_private_key(probe) == 1;
  SSL_CTX_free(probe);
  if (ok && s->ssl_ctx)
    ok = SSL_CTX_use_certificate_chain_file(s->ssl_ctx, cert) == 1 &&
         SSL_CTX_use_PrivateKey_file(s->ssl_ctx, key, SSL_FILETYPE_PEM) == 1;
  if (!ok) {
    fprintf(stderr, "medcall-server: the certificate %s or its key could not be loaded; the previous one stays.\n",
            cert);
    MC_LOGW("server", "reload: certificate not loaded");
    return;
  }
  MC_LOGI("server", "reloaded");
  printf("medcall-server: reloaded; certificate SHA-256 fingerprint %s\n", fp);
  fflush(stdout);
}

static void lws_log_to_ours(int level, const char *line) {
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
  if (level & LLL_ERR) MC_LOGE("lws", "%.*s", (int)n, line);
  else MC_LOGW("lws", "%.*s", (int)n, line);
}

/* Embedded in the app: started on a thread of its own, stopped by an async
 * wake-up instead of signals, and silent on stdout (the app's lines are
 * its own). */
struct mc_server_thread {
  struct mc_server_config *cfg;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool ready, failed;
  uv_async_t *stop; /* set while the loop runs */
  int rc;
};

static void on_stop_async(uv_async_t *a) {
  MC_LOGI("server", "embedded server stop requested");
  uv_stop(a->loop);
}

/* SIGTERM and SIGINT drain (a second one stops at once); SIGHUP reloads.
 * They arrive as libuv signal watchers, on the loop. */
static void on_uv_signal(uv_signal_t *h, int signum) {
  struct srv *s = h->data;
  MC_LOGI("server", "signal received signum=%d", signum);
  if (signum == SIGHUP) {
    reload(s);
  } else if (!s->draining) {
    printf("medcall-server: stopping: clients were told to reconnect; waiting up to %u s for them to leave\n",
           s->cfg->drain_timeout_s);
    fflush(stdout);
    begin_drain(s);
  } else {
    uv_stop(h->loop);
  }
}

static int server_run(struct mc_server_config *cfg, struct mc_server_thread *emb);

int mc_server_run(struct mc_server_config *cfg) { return server_run(cfg, NULL); }

static void *server_thread_main(void *arg) {
  struct mc_server_thread *t = arg;
  t->rc = server_run(t->cfg, t);
  pthread_mutex_lock(&t->lock);
  if (!t->ready) {
    t->ready = true;
    t->failed = true;
  }
  pthread_cond_broadcast(&t->cond);
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

int mc_server_start_thread(struct mc_server_config *cfg, mc_server_thread **out) {
  struct mc_server_thread *t = calloc(1, sizeof *t);
  if (!t) return MC_ENOMEM;
  t->cfg = cfg;
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->cond, NULL);
  if (pthread_create(&t->thread, NULL, server_thread_main, t) != 0) {
    free(t);
    return MC_EIO;
  }
  pthread_mutex_lock(&t->lock);
  while (!t->ready) pthread_cond_wait(&t->cond, &t->lock);
  bool failed = t->failed;
  pthread_mutex_unlock(&t->lock);
  if (failed) {
    pthread_join(t->thread, NULL);
    free(t);
    return MC_EIO;
  }
  *out = t;
  return 0;
}

void mc_server_stop_thread(mc_server_thread *t) {
  if (!t) return;
  pthread_mutex_lock(&t->lock);
  if (t->stop) uv_async_send(t->stop);
  pthread_mutex_unlock(&t->lock);
  pthread_join(t->thread, NULL);
  pthread_mutex_destroy(&t->lock);
  pthread_cond_destroy(&t->cond);
  free(t);
}

static int server_run(struct mc_server_config *cfg, struct mc_server_thread *emb) {
  struct srv s = {.cfg = cfg};
  char cert[4096], key[4096], fp[100];
  bool generated = false;
  int rc = mc_server_cert_ensure(cfg, cert, sizeof cert, key, sizeof key, fp, sizeof fp, &generated);
  if (rc < 0) {
    fprintf(stderr, "medcall-server: cannot load or create the TLS certificate (%s); check --cert/--key or "
                    "--state-dir.\n", mc_strerror(rc));
    return 1;
  }
  if (!emb) {
    printf("medcall-server: %s certificate %s\n", generated ? "created self-signed" : "using", cert);
    printf("medcall-server: certificate SHA-256 fingerprint %s\n", fp);
    fflush(stdout);
  }

  struct mc_rooms_io io = {io_send};
  if (mc_rooms_new(cfg, &io, &s, &s.rooms) < 0) return 1;

  /* The rooms of the last run (docs/server.md "Restarting"), loaded before
   * the first client can connect. */
  int snapshot_rc = MC_ENOTFOUND;
  if (mc_server_snapshot_path(cfg, s.snapshot, sizeof s.snapshot) < 0) s.snapshot[0] = '\0';
  if (s.snapshot[0]) {
    size_t loaded = 0;
    snapshot_rc = mc_rooms_load(s.rooms, s.snapshot, mc_now_ms(), &loaded);
    if (snapshot_rc == 0 && !emb) {
      printf("medcall-server: %zu room%s taken over from the last run\n", loaded, loaded == 1 ? "" : "s");
      fflush(stdout);
    } else if (snapshot_rc == MC_ETIMEDOUT) {
      MC_LOGI("server", "snapshot older than the grace period: not loaded");
    } else if (snapshot_rc != MC_ENOTFOUND && snapshot_rc != 0) {
      MC_LOGW("server", "snapshot not loaded err=%s", mc_strerror(snapshot_rc));
    }
  }

  /* Zero turns lws's per-connection validity timers off (they would default
   * to 300 s / 310 s without a policy): check_idle does that job. */
  static const lws_retry_bo_t idle = {.secs_since_valid_ping = 0, .secs_since_valid_hangup = 0};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  /* No LWS_SERVER_OPTION_VALIDATE_UTF8: bad UTF-8 gets a bad-json answer, not a dropped connection. */
  /* libuv (epoll) rather than lws's default poll(): poll walks every socket
   * on each wake-up, which costs milliseconds per message at thousands of
   * connections. A crash must crash, not spin: NO_SIGSEGV_SIGFPE_SPIN. */
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV |
                 LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
  /* Our own loop ("foreign" to lws): the app can later run this server on
   * its net thread's loop, and we own start-up, signals and tear-down. */
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) {
    mc_rooms_free(s.rooms);
    return 1;
  }
  s.loop = &loop;
  void *foreign_loops[1] = {&loop};
  info.foreign_loops = foreign_loops;
  info.port = cfg->port;
  const char *h = cfg->listen_host ? cfg->listen_host : "0.0.0.0";
  if (!strcmp(h, "0.0.0.0")) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  else if (strcmp(h, "::") != 0) info.iface = h;
  info.protocols = protocols;
  info.ssl_cert_filepath = cert;
  info.ssl_private_key_filepath = key;
  info.alpn = "http/1.1";
  info.vhost_name = "medcall";
  info.user = &s;
  info.retry_and_idle_policy = &idle;
  info.timeout_secs = 10;
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
  s.ctx = lws_create_context(&info);
  if (!s.ctx) {
    fprintf(stderr, "medcall-server: cannot start on %s:%u: the port is in use, the address is not one of this "
                    "machine's, or libwebsockets' libuv plugin is missing (apt-get install libwebsockets-evlib-uv).\n",
            h, cfg->port);
    mc_rooms_free(s.rooms);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    return 1;
  }
  /* Loaded or not, the snapshot is the past once we listen: what this run
   * changes replaces it. */
  if (snapshot_rc != MC_ENOTFOUND) save_snapshot(&s);
  signal(SIGPIPE, SIG_IGN);
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_async_t stop_async;
  uv_timer_t flush_timer;
  uv_timer_init(&loop, &flush_timer);
  if (emb) {
    uv_async_init(&loop, &stop_async, on_stop_async);
    pthread_mutex_lock(&emb->lock);
    emb->stop = &stop_async;
    emb->ready = true;
    pthread_cond_broadcast(&emb->cond);
    pthread_mutex_unlock(&emb->lock);
  } else {
    uv_signal_t *sigs[] = {&sig_term, &sig_int, &sig_hup};
    int nums[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < MC_ARRAY_LEN(sigs); i++) {
      uv_signal_init(&loop, sigs[i]);
      sigs[i]->data = &s;
      uv_signal_start(sigs[i], on_uv_signal, nums[i]);
    }
  }
  lws_sul_schedule(s.ctx, 0, &s.tick, on_tick, TICK_MS * LWS_US_PER_MS);
  MC_LOGI("server", "listening addr=%s port=%u auth=%s turn_urls=%zu", h, cfg->port,
          cfg->open ? "open" : "doctor-token", cfg->n_turn_urls);
  if (!emb) {
    printf("medcall-server: listening on https://%s:%u\n", h, cfg->port);
    fflush(stdout);
  }

  uv_run(&loop, UV_RUN_DEFAULT); /* until a signal stops it */

  MC_LOGI("server", "shutting down rooms=%zu conns=%zu", mc_rooms_count(s.rooms), s.nconns);
  lws_sul_cancel(&s.tick);
  /* The rooms live on in the snapshot; clients still connected resume on
   * the next run. Queued messages get a moment to go out. */
  mc_rooms_set_draining(s.rooms, true);
  save_snapshot(&s);
  s.stopping = true;
  uv_timer_start(&flush_timer, on_flush_deadline, SHUTDOWN_FLUSH_MS, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (emb) {
    pthread_mutex_lock(&emb->lock);
    emb->stop = NULL;
    pthread_mutex_unlock(&emb->lock);
    close_handle((uv_handle_t *)&stop_async);
  } else {
    close_handle((uv_handle_t *)&sig_term);
    close_handle((uv_handle_t *)&sig_int);
    close_handle((uv_handle_t *)&sig_hup);
  }
  close_handle((uv_handle_t *)&flush_timer);
  lws_context_destroy(s.ctx);
  /* lws closes its handles on our loop: let those closes finish, then (lws
   * 4.1 with a foreign loop) a second destroy frees what waited on them. */
  uv_run(&loop, UV_RUN_DEFAULT);
  lws_context_destroy(s.ctx);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) MC_LOGW("server", "event loop closed with handles left");
  mc_rooms_free(s.rooms);
  for (int i = 0; i < IP_BUCKETS; i++)
    while (s.ips[i]) {
      struct ipent *e = s.ips[i];
      s.ips[i] = e->next;
      free(e);
    }
  MC_LOGI("server", "stopped");
  return 0;
}
