/* medcall-server's network side: one libwebsockets context serving HTTPS
 * (the patient page) and WSS (/ws, the signaling protocol), in one thread,
 * on a libuv loop of ours. The listening sockets are ours, not lws's: we
 * bind exactly the addresses asked for, say in one sentence when one cannot
 * be bound, and count every TCP connection per address before its TLS
 * handshake, then hand it to lws (lws_adopt_descriptor_vhost_via_info).
 * Every write is queued and sent when the socket is writable, so a slow
 * client only ever fills its own bounded queue. The same loop serves
 * /healthz and /metrics over plain HTTP on --metrics-listen and writes the
 * audit log. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <systemd/sd-daemon.h>
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
/* An address's entry (its rate bucket, its wrong-token count) outlives its
 * connections by this much: reconnecting must not refill the bucket. */
#define IP_FORGET_MS (10 * 60 * 1000)
#define IP_SWEEP_EVERY_MS 10000
/* Wrong doctor tokens: this many from one address within the window lock
 * the address out of creating rooms, first for LOCKOUT_MIN_MS, doubling on
 * each further lockout up to LOCKOUT_MAX_MS. */
#define BAD_TOKENS_ALLOWED 5
#define BAD_TOKEN_WINDOW_MS (60 * 1000)
#define LOCKOUT_MIN_MS (30 * 1000)
#define LOCKOUT_MAX_MS (60 * 60 * 1000)
/* Warnings about one address at most this often. */
#define ADDRESS_LOG_EVERY_MS (60 * 1000)
/* The pre-call check's "ice" request: per address, this many per minute
 * (a patient opens the page a few times; a script does not get a TURN
 * account per request). */
#define ICE_PER_MINUTE 10
#define ICE_BURST 5
/* Connections accepted per wake-up of one listening socket, so one busy
 * listener cannot starve the rest of the loop. */
#define ACCEPTS_PER_WAKE 64
/* After EMFILE the listeners rest this long rather than spin. */
#define ACCEPT_PAUSE_MS 100

struct ipent {
  char addr[64];
  uint32_t conns; /* WebSockets */
  uint32_t tcp;   /* TCP connections, WebSockets included */
  double tokens;
  uint64_t last_ms;
  double ice_tokens;
  uint64_t ice_last_ms;
  uint64_t seen_ms; /* last connection or message */
  uint32_t bad_tokens;
  uint64_t bad_token_since_ms, locked_until_ms, lockout_ms, logged_ms;
  struct ipent *next;
};

/* One accepted TCP connection, from accept(2) to lws's WSI_DESTROY. Freed
 * by the tick, never inside an lws callback, so a late callback cannot
 * touch freed memory. */
struct tcpconn {
  struct tcpconn *next; /* in the dead list once released */
  struct ipent *ip;
  int fd;
  bool metrics;   /* on the --metrics-listen side (plain HTTP) */
  bool tls_done;  /* its TLS handshake completed */
  bool released;
};

struct listener {
  uv_poll_t poll;
  int fd;
  bool metrics;
  struct srv *s;
  char name[80];
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
  struct mc_signal_rx rx;
  struct outmsg *qhead, *qtail;
  size_t qbytes;
  double tokens;
  uint64_t last_ms;
  uint32_t drops;
  bool closing;
  enum lws_close_status close_code;
  char host[256];
  struct tcpconn *tcp;
};

struct srv {
  struct mc_server_config *cfg;
  struct lws_context *ctx;
  struct lws_vhost *vhost, *metrics_vhost;
  mc_rooms *rooms;
  struct ipent *ips[IP_BUCKETS];
  size_t nconns; /* WebSockets */
  size_t ntcp;   /* TCP connections */
  struct listener *listeners;
  size_t nlisteners;
  uv_timer_t accept_pause;
  /* fd -> connection, for the TLS info callback (which only knows the SSL) */
  struct tcpconn **by_fd;
  size_t by_fd_cap;
  struct tcpconn *dead;
  uint64_t last_ip_sweep_ms;
  struct mc_server_metrics metrics;
  mc_audit *audit;
  bool embedded;
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
  SSL_CTX *ssl_ctx; /* the vhost's, for SIGHUP's new certificate and the TLS policy */
  SSL_CTX *client_ssl_ctx; /* given to lws so it makes none (server_run) */
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

static struct ipent *ip_get(struct srv *s, const char *addr) {
  unsigned h = hash_str(addr);
  for (struct ipent *e = s->ips[h]; e; e = e->next)
    if (!strcmp(e->addr, addr)) return e;
  struct ipent *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  mc_strcpy(e->addr, sizeof e->addr, addr);
  e->tokens = s->cfg->ip_burst;
  e->ice_tokens = ICE_BURST;
  e->last_ms = e->ice_last_ms = e->seen_ms = mc_now_ms();
  e->next = s->ips[h];
  s->ips[h] = e;
  return e;
}

/* Entries without connections are kept IP_FORGET_MS after they were last
 * seen, and while a lockout lasts: an address that disconnects and comes
 * back finds its bucket as it left it. */
static void ip_sweep(struct srv *s, uint64_t now) {
  for (int i = 0; i < IP_BUCKETS; i++)
    for (struct ipent **p = &s->ips[i]; *p;) {
      struct ipent *e = *p;
      if (e->tcp == 0 && e->conns == 0 && now - e->seen_ms > IP_FORGET_MS && now >= e->locked_until_ms) {
        *p = e->next;
        free(e);
      } else {
        p = &e->next;
      }
    }
}

/* At most one warning per address per ADDRESS_LOG_EVERY_MS. */
static bool ip_log_due(struct ipent *e, uint64_t now) {
  if (e->logged_ms && now - e->logged_ms < ADDRESS_LOG_EVERY_MS) return false;
  e->logged_ms = now;
  return true;
}

/* Token buckets: rate tokens per second (a fraction for slower ones),
 * burst deep. */
static bool take_token(double *tokens, uint64_t *last_ms, double rate, uint32_t burst, uint64_t now) {
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
/* Limits kept per address across its connections: an address locked out
 * after wrong doctor tokens may not create rooms, and the pre-call check's
 * "ice" (which hands out short-lived TURN credentials) has a bucket of its
 * own. */
static bool address_may(struct srv *s, struct conn *c, const mc_signal_msg *m, uint64_t now) {
  struct ipent *e = c->ip;
  if (!e) return true;
  if (m->type == MC_SIG_CREATE && now < e->locked_until_ms) {
    if (ip_log_due(e, now))
      MC_LOGW("server", "room creation refused: address locked out after wrong doctor tokens addr=%s left_s=%llu",
              e->addr, (unsigned long long)((e->locked_until_ms - now) / 1000));
    return false;
  }
  if (m->type == MC_SIG_ICE && !take_token(&e->ice_tokens, &e->ice_last_ms, ICE_PER_MINUTE / 60.0, ICE_BURST, now)) {
    s->metrics.rate_limited_address++;
    return false;
  }
  return true;
}

/* A wrong doctor token from c's address (rooms told us): after
 * BAD_TOKENS_ALLOWED within BAD_TOKEN_WINDOW_MS the address is locked out,
 * each lockout twice as long as the one before. */
static void bad_token(struct srv *s, struct conn *c, uint64_t now) {
  s->metrics.bad_tokens++;
  struct ipent *e = c ? c->ip : NULL;
  if (!e) return;
  if (now - e->bad_token_since_ms > BAD_TOKEN_WINDOW_MS) {
    e->bad_token_since_ms = now;
    e->bad_tokens = 0;
  }
  if (++e->bad_tokens < BAD_TOKENS_ALLOWED) return;
  e->lockout_ms = e->lockout_ms ? MC_MIN(2 * e->lockout_ms, (uint64_t)LOCKOUT_MAX_MS) : LOCKOUT_MIN_MS;
  e->locked_until_ms = now + e->lockout_ms;
  e->bad_tokens = 0;
  e->bad_token_since_ms = now;
  s->metrics.lockouts++;
  e->logged_ms = now;
  MC_LOGW("server", "wrong doctor tokens: address locked out addr=%s attempts=%d lockout_s=%llu", e->addr,
          BAD_TOKENS_ALLOWED, (unsigned long long)(e->lockout_ms / 1000));
}

static void on_complete_message(struct srv *s, struct conn *c) {
  uint64_t now = mc_now_ms();
  bool ok_conn = take_token(&c->tokens, &c->last_ms, s->cfg->rate, s->cfg->burst, now);
  bool ok_ip = c->ip ? take_token(&c->ip->tokens, &c->ip->last_ms, s->cfg->ip_rate, s->cfg->ip_burst, now) : true;
  if (!ok_conn || !ok_ip) {
    if (++c->drops > MAX_DROPS_IN_A_ROW) {
      close_conn(s, c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "flooding", false);
      return;
    }
    if (ok_conn) s->metrics.rate_limited_address++;
    else s->metrics.rate_limited_connection++;
    if (c->drops == 1 && (!c->ip || ip_log_due(c->ip, now)))
      MC_LOGW("server", "rate limited scope=%s addr=%s", ok_conn ? "address" : "connection",
              c->ip ? c->ip->addr : "?");
    mc_rooms_send_error(s->rooms, c, MC_SIGERR_RATE_LIMITED, MC_SIG_UNKNOWN);
    return;
  }
  if (c->ip) c->ip->seen_ms = now;
  c->drops = 0;
  if (c->rx.over) {
    mc_rooms_send_error(s->rooms, c, MC_SIGERR_TOO_BIG, MC_SIG_UNKNOWN);
    return;
  }
  if (c->rx.binary) {
    mc_rooms_send_error(s->rooms, c, MC_SIGERR_BAD_JSON, MC_SIG_UNKNOWN);
    return;
  }
  mc_signal_msg m;
  enum mc_signal_error err = MC_SIGERR_NONE;
  enum mc_signal_type type = MC_SIG_UNKNOWN;
  if (mc_signal_parse(c->rx.buf, c->rx.len, &m, &err, &type) < 0) {
    MC_LOGD("server", "bad message code=%s type=%s", mc_signal_error_name(err), mc_signal_type_name(type));
    mc_rooms_send_error(s->rooms, c, err, mc_signal_type_from_client(type) ? type : MC_SIG_UNKNOWN);
    return;
  }
  if (!address_may(s, c, &m, now)) {
    mc_rooms_send_error(s->rooms, c, MC_SIGERR_RATE_LIMITED, m.type);
    mc_signal_msg_clear(&m);
    return;
  }
  mc_rooms_on_message(s->rooms, c, &c->session, &m, c->host[0] ? c->host : NULL, now);
  mc_signal_msg_clear(&m);
}

static int on_receive(struct srv *s, struct conn *c, const void *in, size_t len) {
  heard(s, c);
  bool last = lws_is_final_fragment(c->wsi) && lws_remaining_packet_payload(c->wsi) == 0;
  switch (mc_signal_rx_add(&c->rx, lws_is_first_fragment(c->wsi), lws_frame_is_binary(c->wsi), last, in, len,
                           s->cfg->max_message, DISCARD_FACTOR * s->cfg->max_message)) {
  case MC_SIGNAL_RX_CLOSE:
    lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    MC_LOGI("server", "closing connection reason=message-far-too-big");
    return -1;
  case MC_SIGNAL_RX_NOMEM:
    return -1;
  case MC_SIGNAL_RX_MORE:
    return 0;
  case MC_SIGNAL_RX_DONE:
    break;
  }
  if (!c->closing) on_complete_message(s, c);
  if (c->rx.cap > RX_KEEP) mc_signal_rx_free(&c->rx);
  return 0;
}

/* ---- HTTP ---- */
/* Sent with every answer of the HTTPS side, files and errors alike. */
static const struct {
  const char *name, *value;
} security_headers[] = {
    {"content-security-policy:", "default-src 'self'; connect-src 'self' wss:; img-src 'self' data: blob:; "
                                 "media-src 'self' blob: mediastream:; frame-ancestors 'none'; base-uri 'none'; "
                                 "form-action 'none'"},
    /* RFC 6797 6.1: a year, renewed on every answer. */
    {"strict-transport-security:", "max-age=31536000"},
    {"x-content-type-options:", "nosniff"},
    {"x-frame-options:", "DENY"},
    /* The room id is in the URL: no Referer may carry it elsewhere. */
    {"referrer-policy:", "no-referrer"},
    {"permissions-policy:", "camera=(self), microphone=(self), display-capture=(self), geolocation=()"},
    {"cross-origin-opener-policy:", "same-origin"},
    {"cache-control:", "no-store"},
};

/* The same headers as raw lines, for lws_serve_http_file. */
static char security_header_lines[1024];

static void build_security_header_lines(void) {
  size_t n = 0;
  for (size_t i = 0; i < MC_ARRAY_LEN(security_headers); i++)
    n += (size_t)snprintf(security_header_lines + n, sizeof security_header_lines - n, "%s %s\x0d\x0a",
                          security_headers[i].name, security_headers[i].value);
}

static int http_done(struct lws *wsi) { return lws_http_transaction_completed(wsi) ? -1 : 0; }

/* Whether wsi came in on a --metrics-listen address. Our own record decides,
 * not lws's vhost: lws may move a request to another vhost by its Host
 * header when vhosts share a "port", as ours (none) do. */
static bool on_metrics_side(struct lws *wsi) {
  const struct tcpconn *tc = lws_get_opaque_user_data(wsi);
  return tc && tc->metrics;
}

/* A whole answer in one go: status, headers (the security ones on the
 * HTTPS side), body. */
static int respond(struct lws *wsi, unsigned status, const char *mime, const char *body, size_t len) {
  unsigned char head[LWS_PRE + 2048], *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
  if (lws_add_http_common_headers(wsi, status, mime, (lws_filepos_t)len, &p, end)) return -1;
  if (!on_metrics_side(wsi))
    for (size_t i = 0; i < MC_ARRAY_LEN(security_headers); i++)
      if (lws_add_http_header_by_name(wsi, (const unsigned char *)security_headers[i].name,
                                      (const unsigned char *)security_headers[i].value,
                                      (int)strlen(security_headers[i].value), &p, end))
        return -1;
  if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
  if (len) {
    unsigned char *buf = malloc(LWS_PRE + len);
    if (!buf) return -1;
    memcpy(buf + LWS_PRE, body, len);
    /* lws keeps what the socket does not take at once and sends it before
     * anything else on this connection. */
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    if (n < 0) return -1;
  }
  return http_done(wsi);
}

static int not_found(struct lws *wsi) {
  static const char body[] = "Not found.\n";
  return respond(wsi, HTTP_STATUS_NOT_FOUND, "text/plain; charset=utf-8", body, sizeof body - 1);
}

static void fill_gauges(struct srv *s) {
  s->metrics.serving = !s->draining && !s->stopping && s->nlisteners > 0;
  s->metrics.tcp_connections = s->ntcp;
  s->metrics.websockets = s->nconns;
  s->metrics.rooms = mc_rooms_count(s->rooms);
  s->metrics.patients_waiting = mc_rooms_waiting_count(s->rooms);
  s->metrics.calls_in_progress = mc_rooms_admitted_count(s->rooms);
}

/* --metrics-listen: /healthz for load balancers and systemd watchers,
 * /metrics for Prometheus. */
static int on_metrics_http(struct srv *s, struct lws *wsi, const char *uri) {
  fill_gauges(s);
  if (!strcmp(uri, "/healthz")) {
    const char *text = s->metrics.serving ? "ok\n" : s->draining || s->stopping ? "draining\n" : "starting\n";
    return respond(wsi, s->metrics.serving ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE,
                   "text/plain; charset=utf-8", text, strlen(text));
  }
  if (!strcmp(uri, "/metrics")) {
    char *text = NULL;
    size_t len = 0;
    if (mc_server_metrics_render(&s->metrics, &text, &len) < 0) return -1;
    int rc = respond(wsi, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
    return rc;
  }
  return not_found(wsi);
}

static int on_http(struct srv *s, struct lws *wsi) {
  char uri[512];
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
    static const char body[] = "Only GET is served here.\n";
    return respond(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", body, sizeof body - 1);
  }
  if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0) return not_found(wsi);
  if (on_metrics_side(wsi)) return on_metrics_http(s, wsi, uri);
  char path[4096];
  const char *mime = NULL;
  int rc = s->cfg->web_root ? mc_web_resolve(s->cfg->web_root, uri, path, sizeof path, &mime) : MC_ENOTFOUND;
  if (rc < 0) {
    MC_LOGD("server", "http refused status=404 reason=%s", mc_strerror(rc));
    return not_found(wsi);
  }
  int n = lws_serve_http_file(wsi, path, mime, security_header_lines, (int)strlen(security_header_lines));
  if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
  return 0;
}

/* ---- TCP connections, before lws ---- */
static void by_fd_set(struct srv *s, int fd, struct tcpconn *tc) {
  if (fd < 0) return;
  if ((size_t)fd >= s->by_fd_cap) {
    if (!tc) return;
    size_t cap = MC_MAX((size_t)fd + 1, 2 * s->by_fd_cap);
    struct tcpconn **p = realloc(s->by_fd, cap * sizeof *p);
    if (!p) return; /* only the TLS handshake count misses it */
    memset(p + s->by_fd_cap, 0, (cap - s->by_fd_cap) * sizeof *p);
    s->by_fd = p;
    s->by_fd_cap = cap;
  }
  s->by_fd[fd] = tc;
}

/* lws is done with the connection (WSI_DESTROY), or never took it. */
static void tcp_release(struct srv *s, struct tcpconn *tc) {
  if (!tc || tc->released) return;
  tc->released = true;
  if (tc->fd >= 0 && (size_t)tc->fd < s->by_fd_cap && s->by_fd[tc->fd] == tc) s->by_fd[tc->fd] = NULL;
  if (!tc->metrics) {
    s->ntcp--;
    tc->ip->tcp--;
    tc->ip->seen_ms = mc_now_ms();
    if (!tc->tls_done) s->metrics.tls_handshake_failures++;
  }
  tc->next = s->dead;
  s->dead = tc;
}

static void free_dead(struct srv *s) {
  while (s->dead) {
    struct tcpconn *tc = s->dead;
    s->dead = tc->next;
    free(tc);
  }
}

/* Which srv an SSL_CTX belongs to, for the info callback. */
static int ssl_srv_index = -1;
static pthread_once_t ssl_srv_once = PTHREAD_ONCE_INIT;
static void ssl_srv_index_init(void) { ssl_srv_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

static void tls_info(const SSL *ssl, int where, int ret) {
  (void)ret;
  if (!(where & SSL_CB_HANDSHAKE_DONE)) return;
  struct srv *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ssl_srv_index);
  int fd = SSL_get_fd(ssl);
  if (!s || fd < 0 || (size_t)fd >= s->by_fd_cap || !s->by_fd[fd]) return;
  struct tcpconn *tc = s->by_fd[fd];
  if (tc->tls_done) return;
  tc->tls_done = true;
  s->metrics.tls_handshakes++;
}

/* TLS 1.2 with AEAD suites and forward secrecy only, and TLS 1.3 (whose
 * suites are all AEAD): Mozilla's "intermediate" policy without DHE. */
#define TLS12_CIPHERS                                                                                          \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                   \
  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

static void tls_policy(struct srv *s, SSL_CTX *ctx) {
  pthread_once(&ssl_srv_once, ssl_srv_index_init);
  SSL_CTX_set_ex_data(ctx, ssl_srv_index, s);
  SSL_CTX_set_info_callback(ctx, tls_info);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 || SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, TLS13_CIPHERS) != 1)
    MC_LOGW("server", "TLS policy not applied");
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
}

static void pause_accepting(struct srv *s);

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t cap) {
  mc_strcpy(out, cap, "?");
  if (ss->ss_family == AF_INET) {
    inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)cap);
  } else if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    /* A v4-mapped address is the IPv4 client it stands for. */
    if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)cap);
    else inet_ntop(AF_INET6, a, out, (socklen_t)cap);
  }
}

/* Counts a new connection against its address and the server before it
 * costs a TLS handshake, then gives it to lws. lws closes it if no request
 * completes within --handshake-timeout. */
static void take_connection(struct srv *s, struct listener *l, int fd, const struct sockaddr_storage *ss) {
  uint64_t now = mc_now_ms();
  char addr[64];
  addr_text(ss, addr, sizeof addr);
  struct ipent *ip = NULL;
  if (!l->metrics) {
    if (s->stopping || s->draining || s->ntcp >= s->cfg->max_conns) {
      s->metrics.connections_refused++;
      close(fd);
      return;
    }
    if (!(ip = ip_get(s, addr))) {
      close(fd);
      return;
    }
    ip->seen_ms = now;
    if (ip->tcp >= s->cfg->max_conns_per_ip) {
      s->metrics.connections_refused++;
      if (ip_log_due(ip, now))
        MC_LOGW("server", "connections refused: too many from one address addr=%s open=%u limit=%u", addr, ip->tcp,
                s->cfg->max_conns_per_ip);
      close(fd);
      return;
    }
  }
  struct tcpconn *tc = calloc(1, sizeof *tc);
  if (!tc) {
    close(fd);
    return;
  }
  tc->fd = fd;
  tc->ip = ip;
  tc->metrics = l->metrics;
  if (ip) {
    ip->tcp++;
    s->ntcp++;
  }
  by_fd_set(s, fd, tc);
  lws_adopt_desc_t d;
  memset(&d, 0, sizeof d);
  d.vh = l->metrics ? s->metrics_vhost : s->vhost;
  d.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | (l->metrics ? 0 : LWS_ADOPT_ALLOW_SSL);
  d.fd.sockfd = fd;
  d.opaque = tc;
  if (!lws_adopt_descriptor_vhost_via_info(&d)) tcp_release(s, tc); /* lws closed the socket */
}

static void on_listener_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  struct listener *l = h->data;
  if (status < 0) return;
  for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        MC_LOGW("server", "cannot accept: %s", strerror(errno));
        pause_accepting(l->s);
      }
      return;
    }
    take_connection(l->s, l, fd, &ss);
  }
}

static void resume_accepting(uv_timer_t *t) {
  struct srv *s = t->data;
  for (size_t i = 0; i < s->nlisteners; i++)
    if (s->listeners[i].fd >= 0) uv_poll_start(&s->listeners[i].poll, UV_READABLE, on_listener_readable);
}

static void pause_accepting(struct srv *s) {
  for (size_t i = 0; i < s->nlisteners; i++)
    if (s->listeners[i].fd >= 0) uv_poll_stop(&s->listeners[i].poll);
  uv_timer_start(&s->accept_pause, resume_accepting, ACCEPT_PAUSE_MS, 0);
}

/* Binds one address; on failure a sentence in why that says what to do. */
static int listener_open(struct srv *s, const struct mc_listen_addr *a, bool metrics, struct listener *l, char *why,
                         size_t cap) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  bool v6 = strchr(a->host, ':') != NULL;
  snprintf(l->name, sizeof l->name, "%s://%s%s%s:%u", metrics ? "http" : "https", v6 ? "[" : "", a->host,
           v6 ? "]" : "", a->port);
  if (v6) {
    struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(a->port);
    inet_pton(AF_INET6, a->host, &sa->sin6_addr);
    len = sizeof *sa;
  } else {
    struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
    sa->sin_family = AF_INET;
    sa->sin_port = htons(a->port);
    inet_pton(AF_INET, a->host, &sa->sin_addr);
    len = sizeof *sa;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(why, cap, "Cannot listen on %s: %s.", l->name,
             errno == EAFNOSUPPORT ? "this machine has no IPv6" : strerror(errno));
    return MC_EIO;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* [::] means the IPv6 addresses only: the list says exactly where to
   * listen, and 0.0.0.0 beside it must not collide. */
  if (v6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 511) < 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE)
      snprintf(why, cap, "Cannot listen on %s: the port is in use (another medcall-server?); stop it or choose another "
                         "port with --%slisten.", l->name, metrics ? "metrics-" : "");
    else if (e == EADDRNOTAVAIL)
      snprintf(why, cap, "Cannot listen on %s: the address is not one of this machine's; check --%slisten.", l->name,
               metrics ? "metrics-" : "");
    else if (e == EACCES)
      snprintf(why, cap, "Cannot listen on %s: ports below 1024 need CAP_NET_BIND_SERVICE (the systemd unit gives "
                         "it) or root.", l->name);
    else snprintf(why, cap, "Cannot listen on %s: %s.", l->name, strerror(e));
    return MC_EIO;
  }
  l->fd = fd;
  l->metrics = metrics;
  l->s = s;
  return MC_OK;
}

/* Closes the listening sockets (all, or the HTTPS side only). */
static void listeners_close(struct srv *s, bool https_only) {
  for (size_t i = 0; i < s->nlisteners; i++) {
    struct listener *l = &s->listeners[i];
    if (l->fd < 0 || (https_only && l->metrics)) continue;
    close_handle((uv_handle_t *)&l->poll);
    close(l->fd);
    l->fd = -1;
  }
}

/* ---- room events: the audit log and the metrics ---- */
static const char *const event_names[] = {
    [MC_ROOM_CREATED] = "created",   [MC_ROOM_RECLAIMED] = "reclaimed", [MC_ROOM_KNOCKED] = "knocked",
    [MC_ROOM_ADMITTED] = "admitted", [MC_ROOM_DECLINED] = "declined",   [MC_ROOM_WITHDRAWN] = "withdrawn",
    [MC_ROOM_LEFT] = "left",         [MC_ROOM_AWAY] = "away",           [MC_ROOM_BACK] = "back",
    [MC_ROOM_RESUMED] = "resumed",   [MC_ROOM_ENDED] = "ended",         [MC_ROOM_BAD_TOKEN] = "bad-token",
};

static void io_event(const struct mc_room_event *e, void *user) {
  struct srv *s = user;
  struct conn *c = e->conn;
  struct mc_server_metrics *m = &s->metrics;
  switch (e->kind) {
  case MC_ROOM_CREATED: m->rooms_created++; break;
  case MC_ROOM_KNOCKED: m->knocks++; break;
  case MC_ROOM_ADMITTED: m->calls_admitted++; break;
  case MC_ROOM_ENDED: m->rooms_ended[mc_server_end_reason_index(e->reason)]++; break;
  case MC_ROOM_BAD_TOKEN: bad_token(s, c, mc_now_ms()); break;
  case MC_ROOM_TURN_CREDENTIALS: m->turn_credentials++; return;
  case MC_ROOM_RELAYED: m->messages_relayed++; return;
  case MC_ROOM_REJECTED: {
    enum mc_signal_error code = mc_signal_error_from_name(e->reason);
    if (code > MC_SIGERR_NONE && code < MC_SIGERR_COUNT) m->messages_rejected[code]++;
    return;
  }
  default: break;
  }
  if (!s->audit || (size_t)e->kind >= MC_ARRAY_LEN(event_names) || !event_names[e->kind]) return;
  if (mc_audit_write(s->audit, event_names[e->kind], e->role, c && c->ip ? c->ip->addr : NULL, e->room, e->reason) < 0)
    MC_LOGW("server", "audit log: a line could not be written");
}

/* ---- the protocol callback ---- */
static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  struct srv *s = lws_context_user(lws_get_context(wsi));
  struct conn *c = user;
  char buf[256];
  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    /* (Connections per address were counted at accept.) */
    if (on_metrics_side(wsi)) return -1;
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_GET_URI) < 0 || strcmp(buf, "/ws") != 0) return -1;
    if (s->stopping || s->draining || s->nconns >= s->cfg->max_conns) return -1;
    return 0;
  case LWS_CALLBACK_ESTABLISHED: {
    struct tcpconn *tc = lws_get_opaque_user_data(wsi);
    memset(c, 0, sizeof *c);
    c->wsi = wsi;
    c->ws = true;
    c->tokens = s->cfg->burst;
    c->last_ms = mc_now_ms();
    c->heard_ms = c->last_ms;
    idle_append(s, c);
    if (lws_hdr_copy(wsi, c->host, sizeof c->host, WSI_TOKEN_HOST) < 0) c->host[0] = '\0';
    c->tcp = tc;
    if (tc && (c->ip = tc->ip)) c->ip->conns++;
    s->nconns++;
    MC_LOGD("server", "websocket open conns=%zu", s->nconns);
    return 0;
  }
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
    mc_signal_rx_free(&c->rx);
    if (c->ip) c->ip->conns--;
    c->ip = NULL;
    c->ws = false;
    s->nconns--;
    return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    tcp_release(s, lws_get_opaque_user_data(wsi));
    lws_set_opaque_user_data(wsi, NULL);
    return 0;
  case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
    /* user is the vhost's SSL_CTX: kept so SIGHUP can give it a new
     * certificate without a new listening socket. */
    if (s) {
      s->ssl_ctx = user;
      tls_policy(s, user);
    }
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
  free_dead(s);
  if (now - s->last_ip_sweep_ms >= IP_SWEEP_EVERY_MS) {
    s->last_ip_sweep_ms = now;
    ip_sweep(s, now);
  }
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
  if (!s->embedded) sd_notify(0, "STOPPING=1\nSTATUS=Draining: clients were told to reconnect");
  /* New connections go to whoever listens next (the restarted server);
   * /healthz stays and answers 503. */
  listeners_close(s, true);
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
/* systemd.service(5), Type=notify: RELOADING=1 with the monotonic time,
 * then READY=1 once done, whatever the outcome. */
static void notify_reloading(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
}

static void reload_config_and_cert(struct srv *s);

static void reload(struct srv *s) {
  notify_reloading();
  reload_config_and_cert(s);
  /* logrotate moved the audit log away: a new file at the same path. */
  if (s->audit && mc_audit_reopen(s->audit) < 0)
    fprintf(stderr, "medcall-server: the audit log %s could not be reopened; still writing the old file.\n",
            s->cfg->audit_log);
  sd_notify(0, "READY=1");
}

static void reload_config_and_cert(struct srv *s) {
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

/* Every address of --listen and --metrics-listen, bound before anything
 * else so a port in use stops the start with one sentence. */
static int open_listeners(struct srv *s, uv_loop_t *loop, char *why, size_t cap) {
  const struct mc_server_config *cfg = s->cfg;
  size_t n = cfg->n_listen + cfg->n_metrics_listen;
  if (!(s->listeners = calloc(n, sizeof *s->listeners))) return MC_ENOMEM;
  for (size_t i = 0; i < n; i++) s->listeners[i].fd = -1;
  for (size_t i = 0; i < n; i++) {
    bool metrics = i >= cfg->n_listen;
    const struct mc_listen_addr *a = metrics ? &cfg->metrics_listen[i - cfg->n_listen] : &cfg->listen[i];
    struct listener *l = &s->listeners[i];
    int rc = listener_open(s, a, metrics, l, why, cap);
    if (rc < 0) return rc;
    s->nlisteners = i + 1;
    uv_poll_init(loop, &l->poll, l->fd);
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, on_listener_readable);
  }
  return MC_OK;
}

/* Lets the loop finish closing lws's handles and ours, then frees lws. */
static void destroy_context(struct srv *s, uv_loop_t *loop) {
  if (s->ctx) {
    lws_context_destroy(s->ctx);
    /* lws closes its handles on our loop: let those closes finish, then (lws
     * 4.1 with a foreign loop) a second destroy frees what waited on them. */
    uv_run(loop, UV_RUN_DEFAULT);
    lws_context_destroy(s->ctx);
    s->ctx = NULL;
  }
  uv_run(loop, UV_RUN_DEFAULT);
}

static int server_run(struct mc_server_config *cfg, struct mc_server_thread *emb) {
  struct srv s = {.cfg = cfg, .embedded = emb != NULL};
  char cert[4096], key[4096], fp[100], why[512];
  bool generated = false;
  int status = 1;
  if (!cfg->cert_path && mc_state_dir(cfg->state_dir, cert, sizeof cert) == MC_ENOTFOUND) {
    fprintf(stderr, "medcall-server: no state directory for the self-signed certificate and the rooms: give "
                    "--state-dir DIR (or --cert and --key), or run it from the systemd unit (StateDirectory=).\n");
    return 1;
  }
  int rc = mc_server_cert_ensure(cfg, cert, sizeof cert, key, sizeof key, fp, sizeof fp, &generated);
  if (rc < 0) {
    fprintf(stderr, "medcall-server: cannot load or create the TLS certificate (%s); check --cert/--key or "
                    "--state-dir.\n", mc_strerror(rc));
    return 1;
  }
  if (cfg->audit_log && mc_audit_open(cfg->audit_log, cfg->state_dir, &s.audit, why, sizeof why) < 0) {
    fprintf(stderr, "medcall-server: %s\n", why);
    return 1;
  }
  if (!emb) {
    printf("medcall-server: %s certificate %s\n", generated ? "created self-signed" : "using", cert);
    printf("medcall-server: certificate SHA-256 fingerprint %s\n", fp);
    fflush(stdout);
  }
  build_security_header_lines();

  struct mc_rooms_io io = {io_send, io_event};
  if (mc_rooms_new(cfg, &io, &s, &s.rooms) < 0) {
    mc_audit_close(s.audit);
    return 1;
  }

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

  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) {
    mc_rooms_free(s.rooms);
    mc_audit_close(s.audit);
    return 1;
  }
  s.loop = &loop;
  uv_signal_t sig_term, sig_int, sig_hup;
  uv_async_t stop_async;
  uv_timer_t flush_timer;
  uv_timer_init(&loop, &flush_timer);
  uv_timer_init(&loop, &s.accept_pause);
  s.accept_pause.data = &s;

  /* Zero turns lws's per-connection validity timers off (they would default
   * to 300 s / 310 s without a policy): check_idle does that job. */
  static const lws_retry_bo_t idle = {.secs_since_valid_ping = 0, .secs_since_valid_hangup = 0};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  /* No LWS_SERVER_OPTION_VALIDATE_UTF8: bad UTF-8 gets a bad-json answer, not a dropped connection. */
  /* libuv (epoll) rather than lws's default poll(): poll walks every socket
   * on each wake-up, which costs milliseconds per message at thousands of
   * connections. A crash must crash, not spin: NO_SIGSEGV_SIGFPE_SPIN.
   * Vhosts are made below, without listening sockets of lws's own. */
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV |
                 LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  /* Our own loop ("foreign" to lws): we own start-up, signals and
   * tear-down. */
  void *foreign_loops[1] = {&loop};
  info.foreign_loops = foreign_loops;
  info.user = &s;
  /* lws would otherwise make a client SSL_CTX of its own for the server's
   * context and vhost, loading the system trust store into it, and in a
   * process with a second lws context (the app's signaling client) it can
   * no longer find it to free it (PLATFORM.md: each context with
   * DO_SSL_GLOBAL_INIT takes fresh ex-data slots). The server makes no
   * client connections: an empty client SSL_CTX of ours, freed by us. */
  if (!(s.client_ssl_ctx = SSL_CTX_new(TLS_client_method()))) goto out;
  info.provided_client_ssl_ctx = s.client_ssl_ctx;
  /* A new connection's TLS handshake and first request must fit in this. */
  info.timeout_secs = cfg->handshake_timeout_s;
  info.timeout_secs_ah_idle = cfg->handshake_timeout_s; /* a connection that says nothing at all */
  info.keepalive_timeout = 5;
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
  s.ctx = lws_create_context(&info);
  if (!s.ctx) {
    fprintf(stderr, "medcall-server: cannot start libwebsockets; is its libuv plugin installed (apt-get install "
                    "libwebsockets-evlib-uv)?\n");
    goto out;
  }
  info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
  info.protocols = protocols;
  info.retry_and_idle_policy = &idle;
  info.vhost_name = "medcall";
  info.ssl_cert_filepath = cert;
  info.ssl_private_key_filepath = key;
  info.ssl_cipher_list = TLS12_CIPHERS;
  info.tls1_3_plus_cipher_list = TLS13_CIPHERS;
  info.alpn = "http/1.1";
  if (!(s.vhost = lws_create_vhost(s.ctx, &info))) {
    fprintf(stderr, "medcall-server: cannot use the certificate %s with its key %s.\n", cert, key);
    goto out;
  }
  if (cfg->n_metrics_listen) {
    info.vhost_name = "metrics";
    info.ssl_cert_filepath = info.ssl_private_key_filepath = NULL;
    info.ssl_cipher_list = info.tls1_3_plus_cipher_list = NULL;
    info.alpn = NULL;
    info.options &= ~(uint64_t)LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!(s.metrics_vhost = lws_create_vhost(s.ctx, &info))) {
      fprintf(stderr, "medcall-server: cannot set up the metrics listener.\n");
      goto out;
    }
  }
  if (open_listeners(&s, &loop, why, sizeof why) < 0) {
    fprintf(stderr, "medcall-server: %s\n", why);
    goto out;
  }
  /* Loaded or not, the snapshot is the past once we listen: what this run
   * changes replaces it. */
  if (snapshot_rc != MC_ENOTFOUND) save_snapshot(&s);
  signal(SIGPIPE, SIG_IGN);
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
  MC_LOGI("server", "listening addrs=%zu port=%u auth=%s turn_urls=%zu", cfg->n_listen, cfg->port,
          cfg->open ? "open" : "doctor-token", cfg->n_turn_urls);
  if (!emb) {
    for (size_t i = 0; i < s.nlisteners; i++)
      printf("medcall-server: listening on %s%s\n", s.listeners[i].name,
             s.listeners[i].metrics ? " (/healthz, /metrics)" : "");
    fflush(stdout);
    sd_notifyf(0, "READY=1\nSTATUS=Serving on %zu address%s", cfg->n_listen, cfg->n_listen == 1 ? "" : "es");
  }

  uv_run(&loop, UV_RUN_DEFAULT); /* until a signal stops it */

  MC_LOGI("server", "shutting down rooms=%zu conns=%zu", mc_rooms_count(s.rooms), s.nconns);
  if (!emb) sd_notify(0, "STOPPING=1");
  lws_sul_cancel(&s.tick);
  listeners_close(&s, false);
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
  status = 0;
out:
  listeners_close(&s, false);
  close_handle((uv_handle_t *)&flush_timer);
  close_handle((uv_handle_t *)&s.accept_pause);
  destroy_context(&s, &loop);
  if (uv_loop_close(&loop) != 0) MC_LOGW("server", "event loop closed with handles left");
  mc_rooms_free(s.rooms);
  for (int i = 0; i < IP_BUCKETS; i++)
    while (s.ips[i]) {
      struct ipent *e = s.ips[i];
      s.ips[i] = e->next;
      free(e);
    }
  free_dead(&s);
  free(s.by_fd);
  free(s.listeners);
  SSL_CTX_free(s.client_ssl_ctx);
  mc_audit_close(s.audit);
  MC_LOGI("server", "stopped");
  return status;
}
