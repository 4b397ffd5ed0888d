/* TCP client streams, optionally wrapped in TLS through memory BIOs, and
 * plain streams accepted by a listener (listen.c). */
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/stream_private.h"
#include "net/tls.h"

#define MC_STREAM_RX 16384

enum stream_state { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_FAILED };

struct mc_stream {
  uv_tcp_t tcp;
  uv_timer_t timer; /* connect + handshake deadline, when asked for */
  int handles;      /* open libuv handles; freed at zero */
  uv_connect_t connect_req;
  struct mc_stream_callbacks cbs;
  void *user;
  mc_addr peer;
  enum stream_state state;
  bool closed; /* mc_stream_close ran: no callback may run */
  SSL *ssl;
  BIO *rbio, *wbio;
  /* Plaintext written before the stream is open. */
  uint8_t *pending;
  size_t pending_len, pending_cap;
  uint8_t rx[MC_STREAM_RX];
};

struct stream_write_req {
  uv_write_t req;
  size_t len;
  uint8_t data[];
};

static void on_close(uv_handle_t *h) {
  mc_stream *s = h->data;
  if (--s->handles > 0) return;
  SSL_free(s->ssl);
  free(s->pending);
  free(s);
}

static void fail(mc_stream *s, int err, const char *why) {
  if (s->state == ST_FAILED) return;
  s->state = ST_FAILED;
  uv_timer_stop(&s->timer);
  uv_read_stop((uv_stream_t *)&s->tcp);
  MC_LOGI("stream", "failed err=%s why=\"%s\"", mc_strerror(err), why);
  if (!s->closed && s->cbs.on_error) s->cbs.on_error(s, err, why, s->user);
}

static void on_written(uv_write_t *req, int status) {
  struct stream_write_req *w = (struct stream_write_req *)req;
  mc_stream *s = req->handle->data;
  free(w);
  if (status == 0 || status == UV_ECANCELED) return;
  char why[320], as[MC_ADDR_STRLEN];
  snprintf(why, sizeof why, mc_tr("the connection to %s failed while sending (%s)"), mc_addr_str(&s->peer, as),
           uv_strerror(status));
  fail(s, MC_EIO, why);
}

static int raw_write(mc_stream *s, const uint8_t *data, size_t len) {
  struct stream_write_req *w = malloc(sizeof *w + len);
  if (!w) return MC_ENOMEM;
  w->len = len;
  memcpy(w->data, data, len);
  uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
  int rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_written);
  if (rc != 0) {
    free(w);
    return MC_EIO;
  }
  return 0;
}

/* Sends whatever TLS records OpenSSL has produced. */
static int flush_tls(mc_stream *s) {
  uint8_t buf[16384];
  int n;
  while ((n = BIO_read(s->wbio, buf, sizeof buf)) > 0) {
    int rc = raw_write(s, buf, (size_t)n);
    if (rc != 0) return rc;
  }
  return 0;
}

static int send_plain(mc_stream *s, const uint8_t *data, size_t len) {
  if (!s->ssl) return raw_write(s, data, len);
  while (len > 0) {
    int chunk = (int)MC_MIN(len, (size_t)1 << 30);
    ERR_clear_error();
    int n = SSL_write(s->ssl, data, chunk);
    if (n <= 0) return MC_ETLS;
    data += n;
    len -= (size_t)n;
  }
  return flush_tls(s);
}

static void become_open(mc_stream *s) {
  s->state = ST_OPEN;
  uv_timer_stop(&s->timer);
  char as[MC_ADDR_STRLEN];
  MC_LOGI("stream", "connected peer=%s tls=%d", mc_addr_str(&s->peer, as), s->ssl != NULL);
  if (s->pending_len) {
    int rc = send_plain(s, s->pending, s->pending_len);
    free(s->pending);
    s->pending = NULL;
    s->pending_len = s->pending_cap = 0;
    if (rc != 0) {
      fail(s, rc, mc_tr("could not send queued data"));
      return;
    }
  }
  if (!s->closed && s->cbs.on_connected) s->cbs.on_connected(s, s->user);
}

static void tls_progress(mc_stream *s) {
  if (s->state == ST_HANDSHAKE) {
    ERR_clear_error();
    int r = SSL_do_handshake(s->ssl);
    int fr = flush_tls(s);
    if (r == 1) {
      if (fr != 0) {
        fail(s, MC_EIO, mc_tr("could not send the TLS handshake"));
        return;
      }
      become_open(s);
      if (s->closed || s->state != ST_OPEN) return;
    } else {
      int e = SSL_get_error(s->ssl, r);
      if (e == SSL_ERROR_WANT_READ) return;
      char why[320];
      mc_tls_failure_text(s->ssl, e, false, &s->peer, why, sizeof why);
      fail(s, MC_ETLS, why);
      return;
    }
  }
  /* Application data may already sit in the BIO right behind the Finished. */
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(s->ssl, s->rx, sizeof s->rx);
    if (n > 0) {
      if (!s->closed && s->cbs.on_data) s->cbs.on_data(s, s->rx, (size_t)n, s->user);
      if (s->closed || s->state != ST_OPEN) return;
      continue;
    }
    int e = SSL_get_error(s->ssl, n);
    flush_tls(s); /* post-handshake messages (key updates, tickets) may need answers */
    if (e == SSL_ERROR_WANT_READ) return;
    if (e == SSL_ERROR_ZERO_RETURN) {
      char why[320], as[MC_ADDR_STRLEN];
      snprintf(why, sizeof why, mc_tr("%s closed the connection"), mc_addr_str(&s->peer, as));
      fail(s, MC_ECLOSED, why);
      return;
    }
    char why[320];
    mc_tls_failure_text(s->ssl, e, true, &s->peer, why, sizeof why);
    fail(s, MC_ETLS, why);
    return;
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  mc_stream *s = h->data;
  /* For TLS, ciphertext lands in rx and is copied into the BIO before
   * SSL_read reuses rx for plaintext. */
  buf->base = (char *)s->rx;
  buf->len = sizeof s->rx;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  mc_stream *s = st->data;
  if (s->closed || s->state == ST_FAILED) return;
  if (nread == 0) return;
  if (nread < 0) {
    char why[320], as[MC_ADDR_STRLEN];
    if (nread == UV_EOF) {
      snprintf(why, sizeof why, mc_tr("%s closed the connection"), mc_addr_str(&s->peer, as));
      fail(s, MC_ECLOSED, why);
    } else {
      snprintf(why, sizeof why, mc_tr("the connection to %s failed (%s)"), mc_addr_str(&s->peer, as),
               uv_strerror((int)nread));
      fail(s, MC_EIO, why);
    }
    return;
  }
  if (!s->ssl) {
    if (s->cbs.on_data) s->cbs.on_data(s, s->rx, (size_t)nread, s->user);
    return;
  }
  if (BIO_write(s->rbio, s->rx, (int)nread) != (int)nread) {
    fail(s, MC_ENOMEM, mc_tr("out of memory while reading from the server"));
    return;
  }
  tls_progress(s);
}

static void on_connect(uv_connect_t *req, int status) {
  mc_stream *s = req->data;
  if (status == UV_ECANCELED || s->closed || s->state == ST_FAILED) return;
  char why[320], as[MC_ADDR_STRLEN];
  if (status != 0) {
    if (status == UV_ECONNREFUSED)
      snprintf(why, sizeof why, mc_tr("connection refused by %s"), mc_addr_str(&s->peer, as));
    else
      snprintf(why, sizeof why, mc_tr("could not connect to %s (%s)"), mc_addr_str(&s->peer, as), uv_strerror(status));
    fail(s, MC_EIO, why);
    return;
  }
  int rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read);
  if (rc != 0) {
    snprintf(why, sizeof why, mc_tr("could not read from %s (%s)"), mc_addr_str(&s->peer, as), uv_strerror(rc));
    fail(s, MC_EIO, why);
    return;
  }
  if (!s->ssl) {
    become_open(s);
    return;
  }
  s->state = ST_HANDSHAKE;
  tls_progress(s);
}

static void on_timeout(uv_timer_t *t) {
  mc_stream *s = t->data;
  if (s->closed || s->state == ST_OPEN || s->state == ST_FAILED) return;
  char why[320], as[MC_ADDR_STRLEN];
  if (s->state == ST_CONNECTING)
    snprintf(why, sizeof why, mc_tr("%s did not accept the connection in time"), mc_addr_str(&s->peer, as));
  else
    snprintf(why, sizeof why, mc_tr("%s did not complete the TLS handshake in time"), mc_addr_str(&s->peer, as));
  fail(s, MC_ETIMEDOUT, why);
}

/* libuv writes streams with write(2): a peer that reset the connection would
 * raise SIGPIPE and kill the process. Ignore it unless the program installed
 * a handler of its own; the write then fails with EPIPE and on_error runs. */
static void ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
}

int mc_stream_connect(uv_loop_t *loop, const mc_addr *to, const struct mc_stream_options *opts,
                      const struct mc_stream_callbacks *cbs, void *user, mc_stream **out) {
  if (!loop || !to || !cbs || !out || mc_addr_family(to) == AF_UNSPEC) return MC_EINVAL;
  ignore_sigpipe();
  *out = NULL;
  mc_stream *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  s->cbs = *cbs;
  s->user = user;
  s->peer = *to;
  s->state = ST_CONNECTING;
  int rc;
  if (opts && opts->tls) {
    rc = mc_tls_client_new(to, opts->server_name, opts->insecure, &s->ssl, &s->rbio, &s->wbio);
    if (rc != 0) {
      free(s);
      return rc;
    }
  }
  if (uv_tcp_init(loop, &s->tcp) != 0) {
    SSL_free(s->ssl);
    free(s);
    return MC_EIO;
  }
  s->tcp.data = s;
  uv_timer_init(loop, &s->timer);
  s->timer.data = s;
  s->handles = 2;
  s->connect_req.data = s;
  uv_tcp_nodelay(&s->tcp, 1);
  int uvrc = 0;
  if (opts && opts->bind) {
    if (mc_addr_family(opts->bind) != mc_addr_family(to)) uvrc = UV_EINVAL;
    else uvrc = uv_tcp_bind(&s->tcp, &opts->bind->u.sa, 0);
  }
  if (uvrc == 0) uvrc = uv_tcp_connect(&s->connect_req, &s->tcp, &to->u.sa, on_connect);
  if (uvrc != 0) {
    char as[MC_ADDR_STRLEN];
    MC_LOGI("stream", "connect failed peer=%s err=%s", mc_addr_str(to, as), uv_strerror(uvrc));
    s->closed = true;
    uv_close((uv_handle_t *)&s->timer, on_close);
    uv_close((uv_handle_t *)&s->tcp, on_close);
    return MC_EIO;
  }
  if (opts && opts->timeout_ms) uv_timer_start(&s->timer, on_timeout, opts->timeout_ms, 0);
  *out = s;
  return 0;
}

int mc_stream_write(mc_stream *s, const uint8_t *data, size_t len) {
  if (!s || (!data && len > 0)) return MC_EINVAL;
  if (s->closed || s->state == ST_FAILED) return MC_ECLOSED;
  if (len == 0) return 0;
  if (s->state == ST_OPEN) return send_plain(s, data, len);
  if (s->pending_len + len > s->pending_cap) {
    size_t cap = MC_MAX(s->pending_cap * 2, s->pending_len + len);
    uint8_t *p = realloc(s->pending, cap);
    if (!p) return MC_ENOMEM;
    s->pending = p;
    s->pending_cap = cap;
  }
  memcpy(s->pending + s->pending_len, data, len);
  s->pending_len += len;
  return 0;
}

int mc_stream_peer_addr(mc_stream *s, mc_addr *out) {
  if (!s || !out) return MC_EINVAL;
  *out = s->peer;
  return 0;
}

size_t mc_stream_queued(const mc_stream *s) {
  if (!s) return 0;
  return s->pending_len + uv_stream_get_write_queue_size((const uv_stream_t *)&s->tcp);
}

/* ---- accepted streams (listen.c) ---- */

int mc_stream_accept(uv_stream_t *server, mc_stream **out) {
  ignore_sigpipe();
  *out = NULL;
  mc_stream *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  if (uv_tcp_init(server->loop, &s->tcp) != 0) {
    free(s);
    return MC_EIO;
  }
  s->tcp.data = s;
  uv_timer_init(server->loop, &s->timer);
  s->timer.data = s;
  s->handles = 2;
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (uv_accept(server, (uv_stream_t *)&s->tcp) != 0 ||
      uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &n) != 0 ||
      mc_addr_from_sockaddr((struct sockaddr *)&ss, &s->peer) != 0) {
    s->closed = true;
    uv_close((uv_handle_t *)&s->timer, on_close);
    uv_close((uv_handle_t *)&s->tcp, on_close);
    return MC_EIO;
  }
  uv_tcp_nodelay(&s->tcp, 1);
  s->state = ST_OPEN;
  *out = s;
  return 0;
}

int mc_stream_start_reading(mc_stream *s) {
  if (s->closed) return 0;
  if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) != 0) return MC_EIO;
  return 0;
}

void mc_stream_set_callbacks(mc_stream *s, const struct mc_stream_callbacks *cbs, void *user) {
  if (!s || !cbs) return;
  s->cbs = *cbs;
  s->user = user;
}

int mc_stream_local_addr(mc_stream *s, mc_addr *out) {
  if (!s || !out) return MC_EINVAL;
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &n) != 0) return MC_EIO;
  return mc_addr_from_sockaddr((struct sockaddr *)&ss, out);
}

void mc_stream_close(mc_stream *s) {
  if (!s || s->closed) return;
  s->closed = true;
  if (s->ssl && s->state == ST_OPEN) {
    /* RFC 8446 6.1: say goodbye with close_notify; best effort. */
    uint8_t buf[512];
    SSL_shutdown(s->ssl);
    int n = BIO_read(s->wbio, buf, sizeof buf);
    if (n > 0) {
      uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
      uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
    }
  }
  uv_read_stop((uv_stream_t *)&s->tcp);
  uv_close((uv_handle_t *)&s->timer, on_close);
  uv_close((uv_handle_t *)&s->tcp, on_close);
}
