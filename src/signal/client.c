/* signal client: one WebSocket over TLS (libwebsockets 4.1 on the caller's
 * libuv loop) to a medcall-server (docs/signaling.md "Transport").
 *
 * Each client owns one lws context joined to the caller's loop ("foreign
 * loop"). lws 4.1 tears such a context down in two calls separated by loop
 * iterations (the first closes its uv handles, the second frees once their
 * close callbacks ran), so mc_signal_client_free only starts the teardown;
 * an idle handle of ours finishes it while the caller's loop runs. */
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <uv.h>

#include "signal/signal.h"
#include "util/util.h"

/* A whole incoming message larger than this closes the connection (the
 * server's own cap is 64 KiB by default). */
#define RX_MAX (1u << 20)
/* How long lws waits for the server's close frame after ours. */
#define CLOSE_WAIT_S 3
#define HOST_MAX 256
#define PATH_MAX_ 512
#define WHY_MAX 400

enum cstate { CS_CONNECTING = 0, CS_OPEN, CS_CLOSING, CS_CLOSED };

struct outmsg {
  struct outmsg *next;
  size_t len;
  unsigned char buf[]; /* LWS_PRE + len */
};

struct mc_signal_client {
  uv_loop_t *loop;
  struct lws_context *ctx;
  SSL_CTX *ssl_ctx; /* ours, handed to lws; freed after the context */
  struct lws *wsi;
  struct mc_signal_client_callbacks cbs;
  void *user;
  enum cstate state;
  bool user_closed;  /* mc_signal_client_close was called */
  bool reported;     /* on_close was delivered (or is pending) */
  bool in_new;       /* on_close must not run inside mc_signal_client_new */
  bool freed;
  bool insecure;
  bool have_pin;
  bool pin_checked;
  bool tls_seen;     /* the server's certificate reached the verify step */
  bool hs_sent;      /* TLS is up and the upgrade request is going out */
  char verify_err[120]; /* OpenSSL's reason the certificate did not verify */
  uint8_t pin[32];
  int peer_close_code;
  /* the url as given, for sentences */
  char url[HOST_MAX + PATH_MAX_ + 16];
  char address[HOST_MAX]; /* without IPv6 brackets, for connect */
  char host_hdr[HOST_MAX + 8];
  char origin[HOST_MAX + 16];
  char path[PATH_MAX_];
  int port;
  struct outmsg *qhead, *qtail;
  struct mc_signal_rx rx;
  int pending_err; /* set before lws reports the failure we caused */
  char pending_why[WHY_MAX];
  int close_err;
  char close_why[WHY_MAX];
  uv_idle_t idle; /* deferred on_close, then the teardown steps, one per loop iteration */
  int teardown_step;
};

static void lws_log_to_ours(int level, const char *line) {
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
  if (level & LLL_ERR) MC_LOGE("lws", "%.*s", (int)n, line);
  else MC_LOGW("lws", "%.*s", (int)n, line);
}

static void on_idle(uv_idle_t *t);

static void set_why(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_why(char *dst, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, WHY_MAX, fmt, ap);
  va_end(ap);
}

static void queue_free(struct mc_signal_client *c) {
  while (c->qhead) {
    struct outmsg *m = c->qhead;
    c->qhead = m->next;
    free(m);
  }
  c->qtail = NULL;
  mc_signal_rx_free(&c->rx);
}

/* Delivers on_close once. Inside mc_signal_client_new it waits for the loop:
 * the caller does not hold the client yet. */
static void report_close(struct mc_signal_client *c, int err, const char *why) {
  if (c->reported) return;
  c->reported = true;
  c->state = CS_CLOSED;
  c->close_err = err;
  mc_strcpy(c->close_why, sizeof c->close_why, why ? why : "");
  queue_free(c);
  if (err) MC_LOGW("signal", "client closed url=%s err=%s why=\"%s\"", c->url, mc_strerror(err), c->close_why);
  else MC_LOGI("signal", "client closed url=%s", c->url);
  if (c->in_new) {
    uv_idle_start(&c->idle, on_idle);
    return;
  }
  if (!c->freed && c->cbs.on_close) c->cbs.on_close(c, err, c->close_why, c->user);
}

/* lws's reason for a failed connection -> an MC_E code and a sentence. */
static int classify_failure(struct mc_signal_client *c, const char *in, char *why) {
  const char *s = in ? in : "";
  if (c->pending_err) {
    mc_strcpy(why, WHY_MAX, c->pending_why);
    return c->pending_err;
  }
  if (c->verify_err[0] && !c->hs_sent) {
    set_why(why, mc_tr("the signaling server's certificate does not verify (%s) at %s; use --insecure for a "
                 "self-signed development server, or pin its SHA-256 fingerprint"), c->verify_err, c->url);
    return MC_ETLS;
  }
  if (c->hs_sent) {
    /* medcall-server drops an upgrade to any path but /ws without an answer */
    set_why(why, mc_tr("the server at %s refused the WebSocket upgrade (%s); check that the URL ends in /ws and "
                 "names a medcall-server"), c->url, s[0] ? s : mc_tr("connection closed"));
    return MC_EREFUSED;
  }
  if (c->tls_seen || strstr(s, "SSL") || strstr(s, "ssl") || strstr(s, "tls")) {
    set_why(why, mc_tr("the TLS handshake with the signaling server at %s failed; is it a medcall-server (an "
                 "https:// port)?"), c->url);
    return MC_ETLS;
  }
  if (strstr(s, "getaddrinfo") || strstr(s, "resolve") || strstr(s, "DNS") || strstr(s, "dns")) {
    set_why(why, mc_tr("cannot reach the signaling server at %s: the name %s does not resolve"), c->url, c->address);
    return MC_ERESOLVE;
  }
  if (strstr(s, "timed out") || strstr(s, "timeout")) {
    set_why(why, mc_tr("cannot reach the signaling server at %s: no answer"), c->url);
    return MC_ETIMEDOUT;
  }
  /* lws 4.1 reports a refused TCP connect as "closed before established" */
  set_why(why, mc_tr("cannot reach the signaling server at %s: connection refused (is medcall-server running there, "
               "and is the port right?)"), c->url);
  return MC_EIO;
}

/* The server's certificate against the pinned SHA-256 fingerprint. */
static bool pin_matches(struct mc_signal_client *c, struct lws *wsi) {
  SSL *ssl = lws_get_ssl(wsi);
  X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!cert || X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) return false;
  return CRYPTO_memcmp(md, c->pin, 32) == 0;
}

static int check_pin(struct mc_signal_client *c, struct lws *wsi) {
  if (!c->have_pin || c->pin_checked) return 0;
  c->pin_checked = true;
  if (pin_matches(c, wsi)) return 0;
  c->pending_err = MC_ETLS;
  set_why(c->pending_why, mc_tr("the signaling server at %s presented a certificate whose SHA-256 fingerprint is not "
                          "the pinned one; someone may be intercepting the connection, or the server's "
                          "certificate changed"), c->url);
  return -1;
}

static int on_writeable(struct mc_signal_client *c, struct lws *wsi) {
  if (c->qhead) {
    struct outmsg *m = c->qhead;
    int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    c->qhead = m->next;
    if (!c->qhead) c->qtail = NULL;
    free(m);
    if (n < 0) return -1;
    if (c->qhead || c->state == CS_CLOSING) lws_callback_on_writable(wsi);
    return 0;
  }
  if (c->state == CS_CLOSING) {
    lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
    return -1;
  }
  return 0;
}

/* RFC 6455 5.4: a message may come in fragments; lws may also split a frame.
 * Reassembled (mc_signal_rx_add) into one NUL-terminated text. */
static int on_receive(struct mc_signal_client *c, struct lws *wsi, const void *in, size_t len) {
  bool last = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
  switch (mc_signal_rx_add(&c->rx, lws_is_first_fragment(wsi), lws_frame_is_binary(wsi), last, in, len, RX_MAX,
                           RX_MAX)) {
  case MC_SIGNAL_RX_CLOSE:
    c->pending_err = MC_EPARSE;
    set_why(c->pending_why, mc_tr("the signaling server at %s sent a message larger than %u bytes"), c->url, RX_MAX);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    return -1;
  case MC_SIGNAL_RX_NOMEM:
    c->pending_err = MC_ENOMEM;
    set_why(c->pending_why, mc_tr("out of memory while reading from the signaling server"));
    return -1;
  case MC_SIGNAL_RX_MORE:
    return 0;
  case MC_SIGNAL_RX_DONE:
    break;
  }
  /* The message is the callback's to read; the next one starts afresh. */
  uint8_t *msg = c->rx.buf;
  size_t mlen = c->rx.len;
  bool binary = c->rx.binary;
  memset(&c->rx, 0, sizeof c->rx);
  /* docs/signaling.md: every message is a text message */
  if (binary) MC_LOGW("signal", "client dropped a binary message len=%zu", mlen);
  else if (!c->freed && c->state != CS_CLOSED && c->cbs.on_message) c->cbs.on_message(c, (const char *)msg, mlen, c->user);
  free(msg);
  return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  struct mc_signal_client *c = lws_context_user(lws_get_context(wsi));
  if (!c) return lws_callback_http_dummy(wsi, reason, user, in, len);
  char why[WHY_MAX];
  switch (reason) {
  case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
    /* TLS is up and nothing has been sent yet: the moment to check a pin. */
    if (check_pin(c, wsi) < 0) return -1;
    c->hs_sent = true;
    break;
  case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
    /* user: the X509_STORE_CTX, in: the SSL, len: preverify_ok. lws 4.1 asks only about
     * errors its LCCSCF_ flags did not settle; an error left set fails the
     * handshake, X509_V_OK and 0 accept. Insecure accepts anything; a pin
     * accepts any chain because check_pin then decides on the leaf. */
    c->tls_seen = true;
    if (!len && user) {
      X509_STORE_CTX *xs = user;
      if (c->insecure || c->have_pin) {
        X509_STORE_CTX_set_error(xs, X509_V_OK);
        return 0;
      }
      int e = X509_STORE_CTX_get_error(xs);
      if (e != X509_V_OK && !c->verify_err[0])
        mc_strcpy(c->verify_err, sizeof c->verify_err, X509_verify_cert_error_string(e));
    }
    return 0;
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    if (check_pin(c, wsi) < 0) return -1;
    if (c->state == CS_CONNECTING) c->state = CS_OPEN;
    MC_LOGI("signal", "client connected url=%s", c->url);
    if (c->qhead || c->state == CS_CLOSING) lws_callback_on_writable(wsi);
    if (!c->freed && c->state == CS_OPEN && c->cbs.on_open) c->cbs.on_open(c, c->user);
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
    c->wsi = NULL;
    if (c->user_closed) {
      report_close(c, 0, "");
      break;
    }
    int err = classify_failure(c, (const char *)in, why);
    report_close(c, err, why);
    break;
  }
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (len >= 2) c->peer_close_code = (((const uint8_t *)in)[0] << 8) | ((const uint8_t *)in)[1];
    else c->peer_close_code = LWS_CLOSE_STATUS_NO_STATUS;
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    return on_receive(c, wsi, in, len);
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    return on_writeable(c, wsi);
  case LWS_CALLBACK_CLIENT_CLOSED:
    c->wsi = NULL;
    if (c->user_closed) report_close(c, 0, "");
    else if (c->pending_err) report_close(c, c->pending_err, c->pending_why);
    else if (c->peer_close_code) {
      /* RFC 6455 7.4.1; docs/signaling.md says when the server uses 1008 and 1009 */
      if (c->peer_close_code == LWS_CLOSE_STATUS_POLICY_VIOLATION)
        set_why(why, mc_tr("the signaling server at %s closed the connection (WebSocket status %d): it found this "
                           "client too fast, or too slow to read"), c->url, c->peer_close_code);
      else if (c->peer_close_code == LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE)
        set_why(why, mc_tr("the signaling server at %s closed the connection (WebSocket status %d): a message was "
                           "far too large"), c->url, c->peer_close_code);
      else if (c->peer_close_code == LWS_CLOSE_STATUS_GOINGAWAY)
        set_why(why, mc_tr("the signaling server at %s closed the connection (WebSocket status %d): it is "
                           "stopping or the connection was idle"), c->url, c->peer_close_code);
      else
        set_why(why, mc_tr("the signaling server at %s closed the connection (WebSocket status %d)"), c->url,
                c->peer_close_code);
      report_close(c, MC_ECLOSED, why);
    } else {
      set_why(why, mc_tr("the connection to the signaling server at %s closed unexpectedly (the server stopped or "
                   "the network dropped)"), c->url);
      report_close(c, MC_ECLOSED, why);
    }
    break;
  case LWS_CALLBACK_WSI_DESTROY:
    if (wsi == c->wsi) c->wsi = NULL;
    if (!c->reported && !c->freed) {
      if (c->user_closed) report_close(c, 0, "");
      else {
        int err = classify_failure(c, "", why);
        report_close(c, err, why);
      }
    }
    break;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    {"medcall.v1", callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* "wss://HOST[:PORT][/PATH]" with HOST a name, IPv4 or [IPv6]. */
static int parse_url(struct mc_signal_client *c, const char *url) {
  if (mc_strcpy(c->url, sizeof c->url, url) < 0) return MC_EINVAL;
  if (strncmp(url, "wss://", 6) != 0) return MC_EINVAL;
  const char *h = url + 6, *end;
  const char *hend;
  if (*h == '[') {
    hend = strchr(h, ']');
    if (!hend) return MC_EINVAL;
    size_t n = (size_t)(hend - h - 1);
    if (n == 0 || n >= sizeof c->address) return MC_EINVAL;
    memcpy(c->address, h + 1, n);
    c->address[n] = '\0';
    end = hend + 1;
  } else {
    end = h + strcspn(h, ":/?#");
    size_t n = (size_t)(end - h);
    if (n == 0 || n >= sizeof c->address) return MC_EINVAL;
    memcpy(c->address, h, n);
    c->address[n] = '\0';
  }
  c->port = 443;
  if (*end == ':') {
    char *pe;
    unsigned long p = strtoul(end + 1, &pe, 10);
    if (pe == end + 1 || p == 0 || p > 65535) return MC_EINVAL;
    c->port = (int)p;
    end = pe;
  }
  /* Host as the server will use it to build room links (RFC 9110 7.2). */
  size_t hn = (size_t)(end - h);
  if (hn >= sizeof c->host_hdr) return MC_EINVAL;
  memcpy(c->host_hdr, h, hn);
  c->host_hdr[hn] = '\0';
  if (*end == '\0') return mc_strcpy(c->path, sizeof c->path, "/");
  if (*end != '/') return MC_EINVAL;
  size_t pn = strcspn(end, "#");
  if (pn >= sizeof c->path) return MC_EINVAL;
  memcpy(c->path, end, pn);
  c->path[pn] = '\0';
  return 0;
}

/* The system's trust store, parsed once per process and shared by every
 * client: parsing the CA bundle took 50-160 ms, and 1.7 s on a loaded
 * machine, on the loop that also carries the call's media, and a client
 * reconnecting to a server that went away paid it at every try (the
 * doctor's video froze for that long: tests/interop/come_back_page.js). */
static X509_STORE *system_store;
static pthread_once_t system_store_once = PTHREAD_ONCE_INIT;

static void load_system_store(void) {
  X509_STORE *s = X509_STORE_new();
  if (s && X509_STORE_set_default_paths(s) != 1) {
    X509_STORE_free(s);
    s = NULL;
  }
  system_store = s;
}

int mc_signal_client_new(uv_loop_t *loop, const struct mc_signal_client_config *config,
                         const struct mc_signal_client_callbacks *cbs, void *user, mc_signal_client **out) {
  if (!loop || !config || !config->url || !cbs || !out) return MC_EINVAL;
  *out = NULL;
  struct mc_signal_client *c = calloc(1, sizeof *c);
  if (!c) return MC_ENOMEM;
  int rc = parse_url(c, config->url);
  if (rc < 0) {
    MC_LOGW("signal", "client refused url: not wss://HOST:PORT/PATH");
    free(c);
    return rc;
  }
  c->loop = loop;
  c->cbs = *cbs;
  c->user = user;
  c->insecure = config->insecure;
  if (config->pin_sha256) {
    c->have_pin = true;
    memcpy(c->pin, config->pin_sha256, 32);
  }

  c->ssl_ctx = SSL_CTX_new(TLS_client_method());
  if (!c->ssl_ctx) {
    free(c);
    return MC_ENOMEM;
  }
  SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
  if (config->ca_file) {
    if (SSL_CTX_load_verify_locations(c->ssl_ctx, config->ca_file, NULL) != 1) {
      MC_LOGE("signal", "client cannot read CA file %s", config->ca_file);
      SSL_CTX_free(c->ssl_ctx);
      free(c);
      return MC_EINVAL;
    }
  } else if (!c->insecure && !c->have_pin) {
    /* With --insecure or a pin no CA is asked: the store is not read. */
    pthread_once(&system_store_once, load_system_store);
    if (system_store) SSL_CTX_set1_cert_store(c->ssl_ctx, system_store);
    else MC_LOGW("signal", "client found no system trust store");
  }

  static bool log_set;
  if (!log_set) {
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_ours);
    log_set = true;
  }
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  /* PLATFORM.md: a client-only context needs LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT
   * (without it lws makes no client SSL_CTX). lws 4.1 then also allocates
   * fresh ex_data indices, so an SSL_CTX that lws made for an older context
   * can no longer be found to be freed: we make and free the SSL_CTX
   * ourselves (provided_client_ssl_ctx). */
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV |
                 LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
  void *foreign_loops[1] = {loop};
  info.foreign_loops = foreign_loops;
  info.provided_client_ssl_ctx = c->ssl_ctx;
  info.user = c;
  info.timeout_secs = 10;
  c->ctx = lws_create_context(&info);
  if (!c->ctx) {
    MC_LOGE("signal", "client cannot create a libwebsockets context (is libwebsockets-evlib-uv installed?)");
    SSL_CTX_free(c->ssl_ctx);
    free(c);
    return MC_EIO;
  }
  uv_idle_init(loop, &c->idle);
  c->idle.data = c;

  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = c->ctx;
  ci.address = c->address;
  ci.port = c->port;
  ci.path = c->path;
  ci.host = c->host_hdr;
  snprintf(c->origin, sizeof c->origin, "https://%s", c->host_hdr);
  ci.origin = c->origin;
  ci.protocol = "medcall.v1";
  ci.local_protocol_name = "medcall.v1";
  ci.ssl_connection = LCCSCF_USE_SSL;
  /* A pin replaces the CA and name checks: any certificate passes the
   * handshake (see LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) and
   * its digest is compared before the upgrade request goes out (check_pin). */
  if (c->insecure || c->have_pin)
    ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;
  ci.pwsi = &c->wsi;
  c->in_new = true;
  struct lws *w = lws_client_connect_via_info(&ci);
  c->in_new = false;
  if (!w && !c->reported) {
    /* lws 4.1 fails a name it cannot resolve here, with no callback */
    char why[WHY_MAX];
    int err = MC_EIO;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(c->address, NULL, &hints, &ai) != 0) {
      err = MC_ERESOLVE;
      set_why(why, mc_tr("cannot reach the signaling server at %s: the name %s does not resolve"), c->url, c->address);
    } else {
      set_why(why, mc_tr("cannot reach the signaling server at %s: the connection could not be started"), c->url);
    }
    if (ai) freeaddrinfo(ai);
    c->in_new = true;
    report_close(c, err, why);
    c->in_new = false;
  }
  MC_LOGI("signal", "client connecting url=%s insecure=%d pinned=%d ca_file=%d", c->url, c->insecure,
          c->have_pin, config->ca_file != NULL);
  *out = c;
  return 0;
}

int mc_signal_client_send(mc_signal_client *c, const char *json, size_t len) {
  if (!c || (!json && len)) return MC_EINVAL;
  if (c->state != CS_OPEN || !c->wsi || c->freed) return MC_ESTATE;
  struct outmsg *m = malloc(sizeof *m + LWS_PRE + len);
  if (!m) return MC_ENOMEM;
  m->next = NULL;
  m->len = len;
  if (len) memcpy(m->buf + LWS_PRE, json, len);
  if (c->qtail) c->qtail->next = m;
  else c->qhead = m;
  c->qtail = m;
  lws_callback_on_writable(c->wsi);
  return 0;
}

void mc_signal_client_close(mc_signal_client *c) {
  if (!c || c->state == CS_CLOSED || c->state == CS_CLOSING) return;
  c->user_closed = true;
  if (!c->wsi) {
    report_close(c, 0, "");
    return;
  }
  if (c->state == CS_CONNECTING) {
    /* no WebSocket yet to send a close frame on */
    c->state = CS_CLOSING;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  c->state = CS_CLOSING;
  /* whatever is queued goes out first, then the close frame */
  lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_WAIT_S);
  lws_callback_on_writable(c->wsi);
}

static bool any_closing;
static void find_closing(uv_handle_t *h, void *arg) {
  if (h != arg && uv_is_closing(h)) any_closing = true;
}

static void on_idle_closed(uv_handle_t *h) {
  struct mc_signal_client *c = h->data;
  queue_free(c); /* what arrived between free and the context's end */
  SSL_CTX_free(c->ssl_ctx);
  free(c);
}

/* An idle handle rather than a 0 ms timer: libuv 1.44 runs a timer re-armed
 * at 0 ms in its own callback again at once, so the loop never reaches the
 * close callbacks step 1 waits for. */
static void on_idle(uv_idle_t *t) {
  struct mc_signal_client *c = t->data;
  if (!c->freed) {
    uv_idle_stop(t);
    /* an on_close deferred out of mc_signal_client_new */
    if (c->cbs.on_close) c->cbs.on_close(c, c->close_err, c->close_why, c->user);
    return;
  }
  switch (c->teardown_step) {
  case 0:
    /* closes every connection and lws's handles on the loop */
    lws_context_destroy(c->ctx);
    c->teardown_step = 1;
    break;
  case 1:
    /* the second call frees the context, once the handles' close callbacks ran */
    any_closing = false;
    uv_walk(c->loop, find_closing, t);
    if (!any_closing) {
      lws_context_destroy(c->ctx);
      c->ctx = NULL;
      c->teardown_step = 2;
    }
    break;
  default:
    uv_close((uv_handle_t *)t, on_idle_closed);
    break;
  }
}

void mc_signal_client_free(mc_signal_client *c) {
  if (!c || c->freed) return;
  c->freed = true;
  c->reported = true; /* no on_close after free */
  c->state = CS_CLOSED;
  memset(&c->cbs, 0, sizeof c->cbs);
  queue_free(c);
  /* never from here: this may run inside one of the context's own callbacks */
  c->teardown_step = 0;
  uv_idle_start(&c->idle, on_idle);
}

static int link_fail(char *why, size_t why_cap, const char *sentence) {
  if (why && why_cap) snprintf(why, why_cap, "%s", sentence);
  return MC_EINVAL;
}

int mc_signal_parse_link(const char *link, char *ws_url, size_t ws_cap, char *room, size_t room_cap, char *why,
                         size_t why_cap) {
  if (why && why_cap) why[0] = '\0';
  if (!link || !ws_url || !room) return link_fail(why, why_cap, mc_tr("no room link was given"));
  if (!strncmp(link, "http://", 7))
    return link_fail(why, why_cap, mc_tr("the room link starts with http://; medcall only connects over https://"));
  if (strncmp(link, "https://", 8) != 0)
    return link_fail(why, why_cap, mc_tr("the room link must start with https:// (like https://clinic.example:8443/r/ROOM)"));
  const char *h = link + 8, *end;
  if (*h == '[') {
    const char *b = strchr(h, ']');
    if (!b || b == h + 1 || strspn(h + 1, "0123456789abcdefABCDEF:.") != (size_t)(b - h - 1))
      return link_fail(why, why_cap, mc_tr("the room link has a malformed IPv6 address"));
    end = b + 1;
  } else {
    end = h + strcspn(h, ":/?#");
    if (end == h) return link_fail(why, why_cap, mc_tr("the room link names no server"));
    for (const char *p = h; p < end; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
            *p == '-'))
        return link_fail(why, why_cap, mc_tr("the room link's server name has characters a host name cannot have"));
  }
  const char *hostport_end = end;
  if (*end == ':') {
    const char *p = end + 1;
    size_t nd = strspn(p, "0123456789");
    unsigned long port = nd && nd <= 5 ? strtoul(p, NULL, 10) : 0;
    if (!port || port > 65535) return link_fail(why, why_cap, mc_tr("the room link has an invalid port number"));
    hostport_end = p + nd;
  }
  if (strncmp(hostport_end, "/r/", 3) != 0)
    return link_fail(why, why_cap, mc_tr("the link is not a room link: its path must be /r/ followed by the room id"));
  const char *r = hostport_end + 3;
  size_t rn = strcspn(r, "?#");
  if (!mc_signal_id_valid(r, rn))
    return link_fail(why, why_cap, mc_tr("the room id in the link is malformed; ask for the link again and copy all of it"));
  size_t hpn = (size_t)(hostport_end - h);
  int n = snprintf(ws_url, ws_cap, "wss://%.*s/ws", (int)hpn, h);
  if (n < 0 || (size_t)n >= ws_cap) return link_fail(why, why_cap, mc_tr("the room link is too long"));
  if (rn + 1 > room_cap) return link_fail(why, why_cap, mc_tr("the room id is too long"));
  memcpy(room, r, rn);
  room[rn] = '\0';
  return 0;
}
