/* ICE-TCP connections (RFC 6544): one per candidate pair, opened by our
 * active candidates or accepted by our passive ones, each carrying STUN and
 * media in RFC 4571 frames. A connection is named by its route (the base of
 * the local candidate, the remote address), which is how the rest of the
 * agent already names a UDP path; simultaneous-open is not done. */
#include <stdlib.h>
#include <string.h>

#include "ice/ice_private.h"

#define LOG "ice"

/* A UDP socket drops what it cannot send; a TCP connection would queue it
 * without end while the path is slower than the media. Past this much
 * unsent (about 1 s of a 2 Mbit/s call) a frame is dropped whole, as UDP
 * would: the estimator sees loss and lowers the rate, DTLS and SCTP
 * retransmit, and what is queued is never older than about a second. */
#define ICE_TCP_QUEUE_MAX (256 * 1024)

struct ice_tcp_conn {
  mc_ice_agent *agent;
  mc_stream *stream;
  mc_ice_framer *framer;
  int base;
  mc_addr remote;
  bool accepted;
  bool heard;  /* a frame arrived */
  bool failed; /* refused, reset or closed: not reopened while its pair lives (RFC 6544 7.1) */
};

static struct ice_tcp_conn *find_conn(const mc_ice_agent *a, int base, const mc_addr *remote) {
  for (size_t i = 0; i < a->nconns; i++) {
    struct ice_tcp_conn *c = a->conns[i];
    if (c->base == base && mc_addr_equal(&c->remote, remote)) return c;
  }
  return NULL;
}

bool ice_tcp_conn_usable(const mc_ice_agent *a, int base, const mc_addr *remote) {
  const struct ice_tcp_conn *c = find_conn(a, base, remote);
  return c && !c->failed;
}

static void conn_fail(struct ice_tcp_conn *c) {
  if (c->failed) return;
  c->failed = true;
  mc_stream_close(c->stream);
  c->stream = NULL;
  ice_tcp_route_failed(c->agent, c->base, &c->remote);
}

static int on_frame(const uint8_t *frame, size_t len, void *user) {
  struct ice_tcp_conn *c = user;
  mc_ice_agent *a = c->agent;
  /* Our choice, not the RFC's: on an accepted connection the peer's check
   * comes first (nothing else can, before a pair exists); anything else is
   * not an ICE peer and would only hold a connection slot. */
  if (c->accepted && !c->heard && !mc_stun_is_message(frame, len)) {
    char as[MC_ADDR_STRLEN];
    MC_LOGD(LOG, "tcp connection closed: first frame not stun remote=%s", mc_addr_str(&c->remote, as));
    conn_fail(c);
    return MC_ECLOSED;
  }
  c->heard = true;
  ice_handle_packet(a, c->base, -1, &c->remote, frame, len);
  /* The application may have closed the agent from a callback. */
  return a->closed || c->failed ? MC_ECLOSED : 0;
}

static void on_data(mc_stream *s, const uint8_t *data, size_t len, void *user) {
  (void)s;
  struct ice_tcp_conn *c = user;
  mc_ice_agent *a = c->agent;
  ice_enter(a);
  if (!a->closed && !c->failed) mc_ice_framer_push(c->framer, data, len, on_frame, c);
  ice_leave(a);
}

static void on_error(mc_stream *s, int err, const char *why, void *user) {
  (void)s;
  (void)why;
  struct ice_tcp_conn *c = user;
  mc_ice_agent *a = c->agent;
  ice_enter(a);
  char as[MC_ADDR_STRLEN];
  MC_LOGI(LOG, "tcp connection ended remote=%s accepted=%d err=%s", mc_addr_str(&c->remote, as), (int)c->accepted,
          mc_strerror(err));
  conn_fail(c);
  ice_schedule(a);
  ice_leave(a);
}

static void on_connected(mc_stream *s, void *user) {
  (void)s;
  struct ice_tcp_conn *c = user;
  char as[MC_ADDR_STRLEN];
  MC_LOGD(LOG, "tcp connected remote=%s", mc_addr_str(&c->remote, as));
}

static const struct mc_stream_callbacks conn_cbs = {
    .on_connected = on_connected,
    .on_data = on_data,
    .on_error = on_error,
};

/* A failed connection no pair routes over any more (the checklist started
 * over, or it failed before a pair formed) is forgotten, so a later pair on
 * the same route may connect again. Only from the agent's tick: no
 * connection's callback is on the stack then. */
void ice_tcp_sweep(mc_ice_agent *a) {
  size_t k = 0;
  for (size_t i = 0; i < a->nconns; i++) {
    struct ice_tcp_conn *c = a->conns[i];
    bool used = false;
    for (size_t p = 0; p < a->npairs && !used && c->failed; p++)
      used = a->locals[a->pairs[p].local].base == c->base && mc_addr_equal(&a->remotes[a->pairs[p].remote].c.addr, &c->remote);
    if (c->failed && !used && !(a->sel.set && a->sel.base == c->base && mc_addr_equal(&a->sel.remote, &c->remote))) {
      mc_ice_framer_free(c->framer);
      free(c);
      continue;
    }
    a->conns[k++] = c;
  }
  a->nconns = k;
}

static struct ice_tcp_conn *conn_new(mc_ice_agent *a, int base, const mc_addr *remote, bool accepted) {
  if (a->nconns == ICE_MAX_CONNS) {
    MC_LOGW(LOG, "too many tcp connections, one refused conns=%zu", a->nconns);
    return NULL;
  }
  struct ice_tcp_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->framer = mc_ice_framer_new();
  if (!c->framer) {
    free(c);
    return NULL;
  }
  c->agent = a;
  c->base = base;
  c->remote = *remote;
  c->accepted = accepted;
  a->conns[a->nconns++] = c;
  return c;
}

/* RFC 6544 7.1: an active candidate opens the connection to the passive
 * candidate of the pair; its checks then go over it. A connection that
 * fails is not opened again: the pair fails with it. */
static struct ice_tcp_conn *conn_open(mc_ice_agent *a, int base, const mc_addr *to) {
  struct ice_base *b = &a->bases[base];
  mc_addr from = b->addr;
  mc_addr_set_port(&from, 0);
  struct ice_tcp_conn *c = conn_new(a, base, to, false);
  if (!c) return NULL;
  struct mc_stream_options o = {.bind = &from, .timeout_ms = MC_ICE_TCP_CONNECT_MS};
  char as[MC_ADDR_STRLEN];
  MC_LOGD(LOG, "tcp connecting remote=%s", mc_addr_str(to, as));
  if (mc_stream_connect(a->loop, to, &o, &conn_cbs, c, &c->stream) != 0) {
    c->stream = NULL;
    c->failed = true;
  }
  return c;
}

int ice_tcp_send(mc_ice_agent *a, int base, const mc_addr *to, const uint8_t *data, size_t len) {
  uint8_t hdr[2];
  if (mc_ice_frame_header(len, hdr) != 0) return MC_ETOOBIG;
  struct ice_tcp_conn *c = find_conn(a, base, to);
  if (!c) {
    /* A passive base only answers on connections it accepted. */
    if (a->bases[base].kind != BASE_TCP_ACTIVE) return MC_ESTATE;
    c = conn_open(a, base, to);
    if (!c) return MC_ENOMEM;
  }
  if (c->failed || !c->stream) return MC_ECLOSED;
  if (mc_stream_queued(c->stream) + 2 + len > ICE_TCP_QUEUE_MAX) return MC_EAGAIN;
  /* One write per frame keeps it whole on the wire even when the stream
   * is still connecting (queued until then). */
  uint8_t small[2 + 1500];
  uint8_t *buf = len <= sizeof small - 2 ? small : malloc(2 + len);
  if (!buf) return MC_ENOMEM;
  memcpy(buf, hdr, 2);
  if (len) memcpy(buf + 2, data, len);
  int rc = mc_stream_write(c->stream, buf, 2 + len);
  if (buf != small) free(buf);
  return rc;
}

/* RFC 6544 7.2: a passive candidate accepts connections; the checks that
 * arrive on one make the peer's active candidate known as peer-reflexive
 * (checklist.c), paired with this passive candidate alone. */
void ice_tcp_accept(mc_tcp_listener *l, mc_stream *s, const mc_addr *peer, void *user) {
  (void)l;
  struct ice_base *b = user;
  mc_ice_agent *a = b->agent;
  char as[MC_ADDR_STRLEN];
  if (a->closed || b->gone) {
    mc_stream_close(s);
    return;
  }
  struct ice_tcp_conn *old = find_conn(a, (int)(b - a->bases), peer);
  struct ice_tcp_conn *c = old && old->failed ? old : old ? NULL : conn_new(a, (int)(b - a->bases), peer, true);
  if (!c) {
    MC_LOGD(LOG, "tcp connection refused remote=%s", mc_addr_str(peer, as));
    mc_stream_close(s);
    return;
  }
  if (c == old) {
    /* The same 4-tuple again after the last one ended: a new connection. */
    c->failed = false;
    c->heard = false;
    mc_ice_framer_free(c->framer);
    c->framer = mc_ice_framer_new();
    if (!c->framer) {
      c->failed = true;
      mc_stream_close(s);
      return;
    }
  }
  c->stream = s;
  mc_stream_set_callbacks(s, &conn_cbs, c);
  MC_LOGI(LOG, "tcp connection accepted remote=%s", mc_addr_str(peer, as));
}

void ice_tcp_close_all(mc_ice_agent *a) {
  for (size_t i = 0; i < a->nconns; i++) {
    struct ice_tcp_conn *c = a->conns[i];
    c->failed = true;
    mc_stream_close(c->stream);
    c->stream = NULL;
  }
}

void ice_tcp_free_all(mc_ice_agent *a) {
  ice_tcp_close_all(a);
  for (size_t i = 0; i < a->nconns; i++) {
    mc_ice_framer_free(a->conns[i]->framer);
    free(a->conns[i]);
  }
  a->nconns = 0;
}
