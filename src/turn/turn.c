/* TURN client (RFC 8656): one allocation over UDP, TCP or TLS.
 *
 * Life of a client: resolve -> (TCP/TLS connect) -> (Binding) -> Allocate
 * without credentials -> 401 with REALM and NONCE -> Allocate with long-term
 * credentials -> allocated; then Refresh, CreatePermission and ChannelBind
 * keep themselves alive on one timer until close sends Refresh(0).
 *
 * Re-entrancy: user callbacks may call mc_turn_client_close. Close only
 * marks the client and arms the timer; the real teardown runs from the timer
 * on a fresh stack, and memory is freed from the timer's uv_close callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "turn/turn_private.h"

#define COMP "turn"
#define TURN_BUF 4096
#define STREAM_BUF_MAX (64 * 1024 + 8)
#define PROTO_UDP 17 /* RFC 8656 18.8 REQUESTED-TRANSPORT: UDP */

enum req_kind { REQ_BINDING, REQ_ALLOCATE, REQ_REFRESH, REQ_PERMISSION, REQ_CHANNEL };

struct req {
  struct req *next;
  mc_turn_client *c;
  enum req_kind kind;
  bool authed;       /* carried USERNAME/REALM/NONCE/MESSAGE-INTEGRITY */
  int retries;       /* 438 (or 401 with a fresh nonce) retries so far */
  uint32_t lifetime; /* REFRESH: the LIFETIME asked for */
  bool has_lifetime;
  mc_addr peer;
  uint16_t channel;
  uint64_t start_ms;
  uint64_t deadline_ms; /* cfg.timeout_ms; UINT64_MAX: none of ours */
};

enum entry_state { ENTRY_WANTED, ENTRY_PENDING, ENTRY_OK, ENTRY_FAILED };

/* What a permission and a channel share: both are installed by a request,
 * expire on the server unless refreshed, and are refreshed before that. */
struct entry {
  enum entry_state state;
  uint64_t refresh_at;
  uint64_t expires_at; /* when the server forgets it, if not refreshed */
  bool in_flight;
};

struct perm {
  mc_addr ip; /* port 0 */
  struct entry e;
};

struct chan {
  mc_addr peer;
  uint16_t number;
  struct entry e;
};

struct mc_turn_client {
  uv_loop_t *loop;
  struct mc_turn_callbacks cbs;
  void *user;

  /* config copies */
  char host[MC_ICE_URL_HOST_MAX + 1];
  uint16_t port;
  enum mc_turn_transport transport;
  char *username, *password;
  bool insecure;
  int family;
  uint32_t timeout_ms, lifetime_req;
  uint64_t perm_refresh_ms, chan_refresh_ms;
  bool binding_first, binding_only;
  char server_label[MC_ICE_URL_HOST_MAX + 16]; /* "host:port" for sentences */
  const char *kind;                            /* "TURN server" / "STUN server" */

  enum mc_turn_state state;
  bool closing, torn_down, refresh0_sent;
  uint64_t linger_until;

  mc_resolve_req *resolve;
  mc_udp *udp;
  mc_stream *stream;
  bool stream_up;
  uint8_t *sbuf; /* stream reassembly */
  size_t slen, scap;

  mc_addr server, mapped, relayed, local;
  bool has_server, has_mapped, has_relayed;

  mc_stun_txn_table *txns;
  struct req *reqs;

  /* long-term credentials (RFC 8489 9.2) */
  char realm[MC_STUN_MAX_STRING + 1];
  char nonce[MC_STUN_MAX_STRING + 1];
  uint8_t key[16];
  bool has_key;

  uint32_t lifetime;
  uint64_t refresh_at;
  uint64_t expires_at;
  bool refresh_in_flight;
  uint64_t connect_deadline;

  struct perm *perms;
  size_t nperms, capperms;
  struct chan *chans;
  size_t nchans, capchans;
  uint16_t next_channel;

  uv_timer_t timer;
};

static void schedule(mc_turn_client *c);
static void timer_cb(uv_timer_t *t);
static void timer_cb_close_now(uv_timer_t *t);
static void fail_client(mc_turn_client *c, int err, uint16_t code, const char *reason, bool with_creds);
static int send_request(mc_turn_client *c, struct req *r);
static void send_wanted(mc_turn_client *c);

static const char *astr(const mc_addr *a, char buf[MC_ADDR_STRLEN]) { return mc_addr_str(a, buf); }

static char *dupstr(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void wipe_free(char *s) {
  if (!s) return;
  volatile char *v = s;
  while (*v) *v++ = 0;
  free(s);
}

static bool user_ok(const mc_turn_client *c) { return !c->closing; }

static void progress(mc_turn_client *c, const struct mc_turn_progress *p) {
  if (user_ok(c) && c->cbs.on_progress) c->cbs.on_progress(c, p, c->user);
}

static const char *explain(mc_turn_client *c, char *buf, size_t cap, int err, uint16_t code, const char *reason,
                           bool with_creds) {
  return mc_turn_explain_as(buf, cap, c->kind, c->server_label, c->transport, code, reason, err, with_creds);
}

/* ---- sending ---- */

static int tx(mc_turn_client *c, const uint8_t *buf, size_t len) {
  if (c->transport == MC_TURN_UDP) {
    if (!c->udp) return MC_ESTATE;
    return mc_udp_send(c->udp, &c->server, buf, len);
  }
  if (!c->stream || !c->stream_up) return MC_ESTATE;
  return mc_stream_write(c->stream, buf, len);
}

static void txn_send(void *txn_user, const uint8_t *msg, size_t len, void *table_user) {
  (void)txn_user;
  mc_turn_client *c = table_user;
  int rc = tx(c, msg, len);
  if (rc < 0) MC_LOGD(COMP, "send failed err=%s", mc_strerror(rc));
}

static void req_unlink(mc_turn_client *c, struct req *r) {
  for (struct req **pp = &c->reqs; *pp; pp = &(*pp)->next) {
    if (*pp == r) {
      *pp = r->next;
      return;
    }
  }
}

static struct req *req_new(mc_turn_client *c, enum req_kind kind) {
  struct req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->c = c;
  r->kind = kind;
  r->next = c->reqs;
  c->reqs = r;
  return r;
}

/* ---- permissions and channels ---- */

static struct perm *perm_find(mc_turn_client *c, const mc_addr *peer) {
  for (size_t i = 0; i < c->nperms; i++)
    if (mc_addr_ip_equal(&c->perms[i].ip, peer)) return &c->perms[i];
  return NULL;
}

static struct chan *chan_find(mc_turn_client *c, const mc_addr *peer) {
  for (size_t i = 0; i < c->nchans; i++)
    if (mc_addr_equal(&c->chans[i].peer, peer)) return &c->chans[i];
  return NULL;
}

static struct chan *chan_by_number(mc_turn_client *c, uint16_t number) {
  for (size_t i = 0; i < c->nchans; i++)
    if (c->chans[i].number == number) return &c->chans[i];
  return NULL;
}

/* arr (n used of *cap elements of elem bytes) with room for one more: the
 * same or a new block, *cap doubled from 8; NULL (arr untouched) if out of
 * memory. */
static void *array_room(void *arr, size_t n, size_t *cap, size_t elem) {
  if (n < *cap) return arr;
  size_t newcap = *cap ? *cap * 2 : 8;
  void *grown = realloc(arr, newcap * elem);
  if (!grown) return NULL;
  *cap = newcap;
  return grown;
}

static struct perm *perm_add(mc_turn_client *c, const mc_addr *peer) {
  struct perm *p = perm_find(c, peer);
  if (p) return p;
  struct perm *n = array_room(c->perms, c->nperms, &c->capperms, sizeof *n);
  if (!n) return NULL;
  c->perms = n;
  p = &c->perms[c->nperms++];
  memset(p, 0, sizeof *p);
  p->ip = *peer;
  mc_addr_set_port(&p->ip, 0);
  p->e.state = ENTRY_WANTED;
  return p;
}

/* ---- building requests ---- */

/* RFC 8489 9.2.4: an authenticated request carries USERNAME, REALM, NONCE
 * and MESSAGE-INTEGRITY computed with the long-term key. */
static void put_auth(mc_turn_client *c, mc_stun_writer *w) {
  mc_stun_put_string(w, MC_STUN_ATTR_USERNAME, c->username);
  mc_stun_put_string(w, MC_STUN_ATTR_REALM, c->realm);
  mc_stun_put_string(w, MC_STUN_ATTR_NONCE, c->nonce);
  mc_stun_put_integrity(w, c->key, sizeof c->key);
}

static int build(mc_turn_client *c, struct req *r, uint8_t *buf, size_t cap) {
  mc_stun_writer w;
  switch (r->kind) {
  case REQ_BINDING:
    /* RFC 8489 7: a Binding request needs no attributes. */
    mc_stun_begin(&w, buf, cap, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
    mc_stun_put_fingerprint(&w);
    return mc_stun_finish(&w);
  case REQ_ALLOCATE:
    /* RFC 8656 7.1: REQUESTED-TRANSPORT UDP; LIFETIME optional;
     * REQUESTED-ADDRESS-FAMILY only when asking for IPv6. */
    mc_stun_begin(&w, buf, cap, MC_STUN_ALLOCATE, MC_STUN_REQUEST, NULL);
    mc_stun_put_requested_transport(&w, PROTO_UDP);
    if (c->lifetime_req) mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, c->lifetime_req);
    if (c->family == AF_INET6) {
      uint8_t fam[4] = {0x02, 0, 0, 0};
      mc_stun_put_attr(&w, MC_STUN_ATTR_REQUESTED_ADDRESS_FAMILY, fam, sizeof fam);
    }
    r->authed = c->has_key;
    if (r->authed) put_auth(c, &w);
    return mc_stun_finish(&w);
  case REQ_REFRESH:
    /* RFC 8656 8.1 */
    mc_stun_begin(&w, buf, cap, MC_STUN_REFRESH, MC_STUN_REQUEST, NULL);
    if (r->has_lifetime) mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, r->lifetime);
    r->authed = true;
    put_auth(c, &w);
    return mc_stun_finish(&w);
  case REQ_PERMISSION:
    /* RFC 8656 10.1: one XOR-PEER-ADDRESS per request keeps answers per peer. */
    mc_stun_begin(&w, buf, cap, MC_STUN_CREATE_PERMISSION, MC_STUN_REQUEST, NULL);
    mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &r->peer);
    r->authed = true;
    put_auth(c, &w);
    return mc_stun_finish(&w);
  case REQ_CHANNEL:
    /* RFC 8656 12.1 */
    mc_stun_begin(&w, buf, cap, MC_STUN_CHANNEL_BIND, MC_STUN_REQUEST, NULL);
    mc_stun_put_channel_number(&w, r->channel);
    mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &r->peer);
    r->authed = true;
    put_auth(c, &w);
    return mc_stun_finish(&w);
  }
  return MC_EINVAL;
}

static bool req_linked(const mc_turn_client *c, const struct req *r) {
  for (const struct req *x = c->reqs; x; x = x->next)
    if (x == r) return true;
  return false;
}

/* (Re)sends r as a new transaction; r is on c->reqs afterwards when this
 * succeeds, which is how txn_done knows a handler took it over again. */
static int send_request(mc_turn_client *c, struct req *r) {
  uint8_t buf[MC_STUN_MAX_MESSAGE];
  int n = build(c, r, buf, sizeof buf);
  if (n < 0) return n;
  if (!req_linked(c, r)) {
    r->next = c->reqs;
    c->reqs = r;
  }
  uint64_t now = mc_now_ms();
  if (r->start_ms == 0) r->start_ms = now;
  r->deadline_ms = c->timeout_ms ? now + c->timeout_ms : UINT64_MAX;
  int rc = mc_stun_txn_start(c->txns, buf, (size_t)n, 0, c->transport != MC_TURN_UDP, r, now);
  if (rc < 0) req_unlink(c, r);
  schedule(c);
  return rc;
}

static int start_req(mc_turn_client *c, enum req_kind kind, const mc_addr *peer, uint16_t channel) {
  struct req *r = req_new(c, kind);
  if (!r) return MC_ENOMEM;
  if (peer) r->peer = *peer;
  r->channel = channel;
  if (kind == REQ_REFRESH) {
    r->has_lifetime = c->lifetime_req != 0;
    r->lifetime = c->lifetime_req;
  }
  int rc = send_request(c, r);
  if (rc < 0) {
    req_unlink(c, r);
    free(r);
  }
  return rc;
}

/* ---- allocation state ---- */

/* RFC 8656 8: refresh "before expiry"; one minute ahead, or at half the
 * lifetime when the server grants two minutes or less. */
static uint64_t refresh_delay_ms(uint32_t lifetime_s) {
  uint64_t l = lifetime_s;
  if (l <= 2 * MC_TURN_REFRESH_MARGIN_S) return l * 1000 / 2;
  return (l - MC_TURN_REFRESH_MARGIN_S) * 1000;
}

static void set_state(mc_turn_client *c, enum mc_turn_state s) { c->state = s; }

/* RFC 8656 8, 9, 12: a refresh that timed out (UDP loss) is not the end of
 * what it refreshes while the old lifetime lasts; when to try again, or 0
 * when there is no time left. */
static uint64_t retry_at(uint64_t now, uint64_t expires_at) {
  if (expires_at <= now) return 0;
  uint64_t left = expires_at - now;
  uint64_t wait = MC_MIN((uint64_t)MC_TURN_REFRESH_RETRY_MS, left / 2);
  return wait >= 100 ? now + wait : 0;
}

static void fail_client(mc_turn_client *c, int err, uint16_t code, const char *reason, bool with_creds) {
  char sentence[512];
  if (c->state == MC_TURN_STATE_FAILED || c->state == MC_TURN_STATE_CLOSED) return;
  explain(c, sentence, sizeof sentence, err, code, reason, with_creds);
  set_state(c, MC_TURN_STATE_FAILED);
  c->has_relayed = false;
  MC_LOGW(COMP, "failed server=%s transport=%s code=%u err=%s", c->server_label,
          mc_turn_transport_name(c->transport), (unsigned)code, mc_strerror(err ? err : mc_turn_error_to_mc(code)));
  if (user_ok(c) && c->cbs.on_error) c->cbs.on_error(c, err ? err : mc_turn_error_to_mc(code), sentence, c->user);
}

static void step_fail(mc_turn_client *c, enum mc_turn_step step, int err, uint16_t code, const char *reason,
                      bool with_creds, uint32_t rtt, const mc_addr *addr) {
  char sentence[512];
  struct mc_turn_progress p;
  memset(&p, 0, sizeof p);
  p.step = step;
  p.err = err ? err : mc_turn_error_to_mc(code);
  p.code = code;
  p.sentence = explain(c, sentence, sizeof sentence, err, code, reason, with_creds);
  p.reason = code ? reason : NULL;
  p.rtt_ms = rtt;
  if (addr) p.addr = *addr;
  progress(c, &p);
}

static void begin_allocate(mc_turn_client *c) {
  set_state(c, MC_TURN_STATE_ALLOCATING);
  int rc = start_req(c, REQ_ALLOCATE, NULL, 0);
  if (rc < 0) fail_client(c, rc, 0, NULL, false);
}

static void begin_protocol(mc_turn_client *c) {
  if (c->binding_first) {
    set_state(c, MC_TURN_STATE_BINDING);
    int rc = start_req(c, REQ_BINDING, NULL, 0);
    if (rc < 0) fail_client(c, rc, 0, NULL, false);
  } else {
    begin_allocate(c);
  }
}

/* ---- responses ---- */

static bool retry_with_new_nonce(mc_turn_client *c, struct req *r, const mc_stun_msg *m) {
  /* RFC 8489 9.2.5: 438 Stale Nonce -> retry with the NONCE (and REALM) of
   * the answer. A 401 to an authenticated request that brings a different
   * nonce is treated the same way once, since some servers rotate that way. */
  if (!m->has_nonce || r->retries >= MC_TURN_MAX_STALE_NONCE_RETRIES) return false;
  if (m->error_code == 401 && strcmp(m->nonce, c->nonce) == 0) return false;
  if (m->error_code == 401 && r->retries >= 1) return false;
  if (m->has_realm && strcmp(m->realm, c->realm) != 0) {
    mc_strcpy(c->realm, sizeof c->realm, m->realm);
    if (mc_stun_long_term_key(c->username, c->realm, c->password, c->key) < 0) return false;
  }
  mc_strcpy(c->nonce, sizeof c->nonce, m->nonce);
  r->retries++;
  MC_LOGI(COMP, "new nonce server=%s code=%u retry=%d", c->server_label, (unsigned)m->error_code, r->retries);
  return send_request(c, r) == 0;
}

static void on_binding_done(mc_turn_client *c, struct req *r, int err, const mc_stun_msg *m, uint32_t rtt) {
  if (err == 0 && m->cls == MC_STUN_SUCCESS && (m->has_xor_mapped || m->has_mapped)) {
    c->mapped = m->has_xor_mapped ? m->xor_mapped : m->mapped;
    c->has_mapped = true;
    struct mc_turn_progress p;
    memset(&p, 0, sizeof p);
    p.step = MC_TURN_STEP_BINDING;
    p.addr = c->mapped;
    p.mapped = c->mapped;
    p.rtt_ms = rtt;
    progress(c, &p);
    char a[MC_ADDR_STRLEN];
    MC_LOGI(COMP, "binding ok server=%s mapped=%s", c->server_label, astr(&c->mapped, a));
    if (c->binding_only) {
      set_state(c, MC_TURN_STATE_BOUND);
      if (user_ok(c) && c->cbs.on_allocated) c->cbs.on_allocated(c, NULL, &c->mapped, c->user);
      return;
    }
    begin_allocate(c);
    return;
  }
  uint16_t code = err == 0 ? (m->cls == MC_STUN_ERROR ? m->error_code : 0) : 0;
  int e = err ? err : (code ? 0 : MC_EPARSE);
  step_fail(c, MC_TURN_STEP_BINDING, e, code, m ? m->error_reason : NULL, false, rtt, NULL);
  /* A server that answers Binding with an error may still allocate; one that
   * does not answer at all will not. */
  if (c->binding_only || err) {
    fail_client(c, e, code, m ? m->error_reason : NULL, false);
    return;
  }
  (void)r;
  begin_allocate(c);
}

static void on_allocate_done(mc_turn_client *c, struct req *r, int err, const mc_stun_msg *m, uint32_t rtt) {
  char a[MC_ADDR_STRLEN], b[MC_ADDR_STRLEN];
  if (err) {
    enum mc_turn_step step = r->authed ? MC_TURN_STEP_ALLOCATE : MC_TURN_STEP_ALLOCATE_NOAUTH;
    step_fail(c, step, err, 0, NULL, r->authed, rtt, NULL);
    fail_client(c, err, 0, NULL, r->authed);
    return;
  }
  if (m->cls == MC_STUN_ERROR) {
    uint16_t code = m->error_code;
    if (!r->authed && code == 401) {
      /* RFC 8656 7.1 / RFC 8489 9.2.3: the expected challenge. */
      struct mc_turn_progress p;
      memset(&p, 0, sizeof p);
      p.step = MC_TURN_STEP_ALLOCATE_NOAUTH;
      p.realm = m->has_realm ? m->realm : NULL;
      p.has_nonce = m->has_nonce;
      p.rtt_ms = rtt;
      p.code = 401;
      if (!m->has_realm || !m->has_nonce) {
        p.err = MC_EPARSE;
        char s[512];
        snprintf(s, sizeof s, mc_tr("%s %s answered 401 without REALM and NONCE, so long-term credentials cannot be used; check that it is a TURN server."), mc_tr(c->kind), c->server_label);
        p.sentence = s;
        progress(c, &p);
        set_state(c, MC_TURN_STATE_FAILED);
        if (user_ok(c) && c->cbs.on_error) c->cbs.on_error(c, MC_EPARSE, s, c->user);
        return;
      }
      progress(c, &p);
      if (!c->username || !c->password) {
        step_fail(c, MC_TURN_STEP_ALLOCATE, 0, 401, m->error_reason, false, 0, NULL);
        fail_client(c, 0, 401, m->error_reason, false);
        return;
      }
      mc_strcpy(c->realm, sizeof c->realm, m->realm);
      mc_strcpy(c->nonce, sizeof c->nonce, m->nonce);
      int rc = mc_stun_long_term_key(c->username, c->realm, c->password, c->key);
      if (rc < 0) {
        fail_client(c, rc, 0, NULL, true);
        return;
      }
      c->has_key = true;
      MC_LOGD(COMP, "challenge server=%s realm=\"%s\"", c->server_label, c->realm);
      r->start_ms = 0; /* the authenticated Allocate is its own step */
      rc = send_request(c, r);
      if (rc < 0) fail_client(c, rc, 0, NULL, true);
      return;
    }
    if (r->authed && (code == 438 || code == 401) && retry_with_new_nonce(c, r, m)) return;
    step_fail(c, r->authed ? MC_TURN_STEP_ALLOCATE : MC_TURN_STEP_ALLOCATE_NOAUTH, 0, code, m->error_reason,
              r->authed, rtt, NULL);
    fail_client(c, 0, code, m->error_reason, r->authed);
    return;
  }
  /* success */
  if (!r->authed) {
    /* A server without authentication: no challenge step. */
    struct mc_turn_progress p;
    memset(&p, 0, sizeof p);
    p.step = MC_TURN_STEP_ALLOCATE_NOAUTH;
    p.rtt_ms = rtt;
    progress(c, &p);
  }
  if (!m->has_xor_relayed) {
    step_fail(c, MC_TURN_STEP_ALLOCATE, MC_EPARSE, 0, NULL, r->authed, rtt, NULL);
    fail_client(c, MC_EPARSE, 0, NULL, r->authed);
    return;
  }
  c->relayed = m->xor_relayed;
  c->has_relayed = true;
  if (m->has_xor_mapped) {
    c->mapped = m->xor_mapped;
    c->has_mapped = true;
  }
  c->lifetime = m->has_lifetime ? m->lifetime : MC_TURN_DEFAULT_LIFETIME_S;
  c->refresh_at = mc_now_ms() + refresh_delay_ms(c->lifetime);
  c->expires_at = mc_now_ms() + c->lifetime * 1000ull;
  set_state(c, MC_TURN_STATE_ALLOCATED);
  MC_LOGI(COMP, "allocated server=%s transport=%s relayed=%s mapped=%s lifetime=%u", c->server_label,
          mc_turn_transport_name(c->transport), astr(&c->relayed, a), c->has_mapped ? astr(&c->mapped, b) : "-",
          (unsigned)c->lifetime);
  struct mc_turn_progress p;
  memset(&p, 0, sizeof p);
  p.step = MC_TURN_STEP_ALLOCATE;
  p.addr = c->relayed;
  p.mapped = c->mapped;
  p.lifetime_s = c->lifetime;
  p.rtt_ms = rtt;
  progress(c, &p);
  if (user_ok(c) && c->cbs.on_allocated)
    c->cbs.on_allocated(c, &c->relayed, c->has_mapped ? &c->mapped : NULL, c->user);
  if (c->state == MC_TURN_STATE_ALLOCATED) send_wanted(c);
  schedule(c);
}

static void on_refresh_done(mc_turn_client *c, struct req *r, int err, const mc_stun_msg *m, uint32_t rtt) {
  c->refresh_in_flight = false;
  if (r->has_lifetime && r->lifetime == 0) {
    /* The close's Refresh(0) was answered: tear down now. */
    MC_LOGI(COMP, "deallocated server=%s ok=%d", c->server_label, (int)(!err && m->cls == MC_STUN_SUCCESS));
    if (c->closing) uv_timer_start(&c->timer, timer_cb_close_now, 0, 0);
    return;
  }
  if (!err && m->cls == MC_STUN_SUCCESS) {
    c->lifetime = m->has_lifetime ? m->lifetime : MC_TURN_DEFAULT_LIFETIME_S;
    c->refresh_at = mc_now_ms() + refresh_delay_ms(c->lifetime);
    c->expires_at = mc_now_ms() + c->lifetime * 1000ull;
    MC_LOGD(COMP, "refreshed server=%s lifetime=%u", c->server_label, (unsigned)c->lifetime);
    struct mc_turn_progress p;
    memset(&p, 0, sizeof p);
    p.step = MC_TURN_STEP_REFRESH;
    p.lifetime_s = c->lifetime;
    p.rtt_ms = rtt;
    progress(c, &p);
    return;
  }
  if (!err && (m->error_code == 438 || m->error_code == 401) && retry_with_new_nonce(c, r, m)) {
    c->refresh_in_flight = true;
    return;
  }
  uint16_t code = err ? 0 : m->error_code;
  if (err == MC_ETIMEDOUT) {
    uint64_t at = retry_at(mc_now_ms(), c->expires_at);
    if (at) {
      MC_LOGW(COMP, "refresh timed out, retrying server=%s in_ms=%llu", c->server_label,
              (unsigned long long)(at - mc_now_ms()));
      c->refresh_at = at;
      return;
    }
  }
  step_fail(c, MC_TURN_STEP_REFRESH, err, code, m ? m->error_reason : NULL, true, rtt, NULL);
  fail_client(c, err, code, m ? m->error_reason : NULL, true);
}

/* RFC 8656 9.2 / 12.2: a CreatePermission or ChannelBind for e finished
 * (ok: success). A timed-out refresh of an entry the server still holds is
 * retried at retry_at() instead: false then, and the caller reports nothing.
 * Otherwise e is settled and true: an installed entry is refreshed after
 * refresh_ms and expires after lifetime_s. */
static bool entry_settle(struct entry *e, int err, bool ok, uint64_t now, uint64_t refresh_ms, uint32_t lifetime_s) {
  if (err == MC_ETIMEDOUT && e->state == ENTRY_OK) {
    uint64_t at = retry_at(now, e->expires_at);
    if (at) {
      e->in_flight = false;
      e->refresh_at = at;
      return false;
    }
  }
  e->in_flight = false;
  e->state = ok ? ENTRY_OK : ENTRY_FAILED;
  e->refresh_at = now + (ok ? refresh_ms : 0);
  if (ok) e->expires_at = now + lifetime_s * 1000ull;
  return true;
}

/* The common start of a CreatePermission or ChannelBind answer: a 401 or 438
 * is retried with the server's new nonce (true: nothing more to do here);
 * otherwise *ok and the error code (0 on success or a local error). */
static bool answer_retried(mc_turn_client *c, struct req *r, int err, const mc_stun_msg *m, bool *ok,
                           uint16_t *code) {
  if (!err && m->cls == MC_STUN_ERROR && (m->error_code == 438 || m->error_code == 401) &&
      retry_with_new_nonce(c, r, m))
    return true;
  *ok = !err && m->cls == MC_STUN_SUCCESS;
  *code = (!err && !*ok) ? m->error_code : 0;
  return false;
}

static void on_permission_done(mc_turn_client *c, struct req *r, int err, const mc_stun_msg *m, uint32_t rtt) {
  struct perm *p = perm_find(c, &r->peer);
  char a[MC_ADDR_STRLEN];
  bool ok;
  uint16_t code;
  if (answer_retried(c, r, err, m, &ok, &code)) return;
  uint64_t now = mc_now_ms();
  if (p && !entry_settle(&p->e, err, ok, now, c->perm_refresh_ms, MC_TURN_PERMISSION_LIFETIME_S)) return;
  MC_LOGD(COMP, "permission server=%s peer=%s ok=%d code=%u", c->server_label, mc_addr_ip_str(&r->peer, a),
          (int)ok, (unsigned)code);
  if (ok) {
    struct mc_turn_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.step = MC_TURN_STEP_PERMISSION;
    pr.addr = r->peer;
    pr.rtt_ms = rtt;
    progress(c, &pr);
  } else {
    step_fail(c, MC_TURN_STEP_PERMISSION, err, code, m ? m->error_reason : NULL, true, rtt, &r->peer);
  }
  if (user_ok(c) && c->cbs.on_permission)
    c->cbs.on_permission(c, &r->peer, ok ? 0 : (err ? err : mc_turn_error_to_mc(code)), c->user);
  /* 437: the allocation is gone; nothing else will work. */
  if (code == 437) fail_client(c, 0, code, m->error_reason, true);
}

static void on_channel_done(mc_turn_client *c, struct req *r, int err, const mc_stun_msg *m, uint32_t rtt) {
  struct chan *ch = chan_find(c, &r->peer);
  char a[MC_ADDR_STRLEN];
  bool ok;
  uint16_t code;
  if (answer_retried(c, r, err, m, &ok, &code)) return;
  uint64_t now = mc_now_ms();
  if (ch && !entry_settle(&ch->e, err, ok, now, c->chan_refresh_ms, MC_TURN_CHANNEL_LIFETIME_S)) return;
  if (ok) {
    /* RFC 8656 12.2: a ChannelBind also installs or refreshes the permission. */
    struct perm *p = perm_find(c, &r->peer);
    if (p && !p->e.in_flight) entry_settle(&p->e, 0, true, now, c->perm_refresh_ms, MC_TURN_PERMISSION_LIFETIME_S);
  }
  MC_LOGD(COMP, "channel server=%s peer=%s channel=0x%04x ok=%d code=%u", c->server_label, astr(&r->peer, a),
          (unsigned)r->channel, (int)ok, (unsigned)code);
  if (ok) {
    struct mc_turn_progress pr;
    memset(&pr, 0, sizeof pr);
    pr.step = MC_TURN_STEP_CHANNEL_BIND;
    pr.addr = r->peer;
    pr.channel = r->channel;
    pr.rtt_ms = rtt;
    progress(c, &pr);
  } else {
    step_fail(c, MC_TURN_STEP_CHANNEL_BIND, err, code, m ? m->error_reason : NULL, true, rtt, &r->peer);
  }
  if (user_ok(c) && c->cbs.on_channel)
    c->cbs.on_channel(c, &r->peer, r->channel, ok ? 0 : (err ? err : mc_turn_error_to_mc(code)), c->user);
  if (code == 437) fail_client(c, 0, code, m->error_reason, true);
}

static void txn_done(void *txn_user, int err, const mc_stun_msg *m, const uint8_t *buf, size_t len,
                     void *table_user) {
  mc_turn_client *c = table_user;
  struct req *r = txn_user;
  (void)buf;
  (void)len;
  uint64_t now = mc_now_ms();
  uint32_t rtt = (uint32_t)(now - r->start_ms);
  req_unlink(c, r);
  r->next = NULL;
  /* RFC 8489 14.8: the ERROR-CODE attribute is what an error response
   * says; one without it is a malformed answer, not a success (every
   * handler would read its code 0 as "no error"). */
  if (!err && m && m->cls == MC_STUN_ERROR && !m->has_error) {
    MC_LOGI(COMP, "error response without ERROR-CODE server=%s", c->server_label);
    err = MC_EPARSE;
    m = NULL;
  }
  switch (r->kind) {
  case REQ_BINDING: on_binding_done(c, r, err, m, rtt); break;
  case REQ_ALLOCATE: on_allocate_done(c, r, err, m, rtt); break;
  case REQ_REFRESH: on_refresh_done(c, r, err, m, rtt); break;
  case REQ_PERMISSION: on_permission_done(c, r, err, m, rtt); break;
  case REQ_CHANNEL: on_channel_done(c, r, err, m, rtt); break;
  }
  /* A handler that retried (new nonce, challenge) linked r again. */
  if (!req_linked(c, r)) free(r);
}

/* ---- receiving ---- */

static void handle_stun(mc_turn_client *c, const uint8_t *buf, size_t len) {
  mc_stun_msg m;
  if (mc_stun_parse(buf, len, &m) < 0) {
    MC_LOGD(COMP, "dropped unparsable stun len=%zu", len);
    return;
  }
  if (m.cls == MC_STUN_SUCCESS || m.cls == MC_STUN_ERROR) {
    /* RFC 8489 9.2.5: check the integrity of success responses to
     * authenticated requests; an answer that fails is discarded. Error
     * responses are taken as they are: a server answering a wrong password
     * with 401 may sign it with a key we cannot reproduce. */
    if (m.cls == MC_STUN_SUCCESS && c->has_key && (m.integrity_offset || m.integrity_sha256_offset)) {
      if (mc_stun_check_integrity(buf, len, &m, c->key, sizeof c->key) != 0) {
        MC_LOGW(COMP, "dropped response with bad integrity server=%s", c->server_label);
        return;
      }
    }
    mc_stun_txn_handle_response(c->txns, &m, buf, len);
    return;
  }
  /* RFC 8656 11.6: a Data indication carries XOR-PEER-ADDRESS and DATA. */
  if (m.cls == MC_STUN_INDICATION && m.method == MC_STUN_DATA) {
    if (!m.has_xor_peer || !m.has_data) return;
    if (c->state != MC_TURN_STATE_ALLOCATED) return;
    if (user_ok(c) && c->cbs.on_data) c->cbs.on_data(c, &m.xor_peer, m.data, m.data_len, c->user);
  }
}

static void handle_channeldata(mc_turn_client *c, const uint8_t *buf, size_t len) {
  uint16_t number;
  const uint8_t *data;
  size_t dlen;
  if (mc_channeldata_parse(buf, len, &number, &data, &dlen) < 0) return;
  /* RFC 8656 12.6: data on an unbound channel is discarded. */
  struct chan *ch = chan_by_number(c, number);
  if (!ch || c->state != MC_TURN_STATE_ALLOCATED) return;
  if (user_ok(c) && c->cbs.on_data) c->cbs.on_data(c, &ch->peer, data, dlen, c->user);
}

static void handle_packet(mc_turn_client *c, const uint8_t *buf, size_t len) {
  /* While closing only the Refresh(0) answer matters; user callbacks are off. */
  if (len < 4 || c->torn_down) return;
  /* RFC 8656 12: the first two bits tell STUN (00) from ChannelData (01). */
  if (buf[0] >= 0x40 && buf[0] <= 0x4F) handle_channeldata(c, buf, len);
  else if (buf[0] < 4) handle_stun(c, buf, len);
}

static void udp_recv(mc_udp *sock, const mc_addr *from, const uint8_t *data, size_t len, void *user) {
  (void)sock;
  mc_turn_client *c = user;
  /* Only the server talks to us on this socket. */
  if (!c->has_server || !mc_addr_equal(from, &c->server)) return;
  handle_packet(c, data, len);
}

/* RFC 8656 12.5 / RFC 8489 6.2.2: over TCP and TLS the stream carries STUN
 * messages and padded ChannelData back to back. */
static void stream_data(mc_stream *s, const uint8_t *data, size_t len, void *user) {
  (void)s;
  mc_turn_client *c = user;
  if (c->torn_down) return;
  if (c->slen + len > STREAM_BUF_MAX) {
    fail_client(c, MC_EPARSE, 0, NULL, c->has_key);
    return;
  }
  if (c->slen + len > c->scap) {
    size_t cap = c->scap ? c->scap : 4096;
    while (cap < c->slen + len) cap *= 2;
    uint8_t *n = realloc(c->sbuf, cap);
    if (!n) {
      fail_client(c, MC_ENOMEM, 0, NULL, c->has_key);
      return;
    }
    c->sbuf = n;
    c->scap = cap;
  }
  memcpy(c->sbuf + c->slen, data, len);
  c->slen += len;
  size_t off = 0;
  while (off < c->slen && !c->torn_down && c->state != MC_TURN_STATE_FAILED) {
    int flen = mc_stun_stream_frame_len(c->sbuf + off, c->slen - off);
    if (flen == 0) break;
    if (flen < 0) {
      fail_client(c, MC_EPARSE, 0, NULL, c->has_key);
      c->slen = 0;
      return;
    }
    if ((size_t)flen > c->slen - off) break;
    handle_packet(c, c->sbuf + off, (size_t)flen);
    off += (size_t)flen;
  }
  if (c->torn_down || c->state == MC_TURN_STATE_FAILED) {
    c->slen = 0;
    return;
  }
  memmove(c->sbuf, c->sbuf + off, c->slen - off);
  c->slen -= off;
}

static void stream_connected(mc_stream *s, void *user) {
  mc_turn_client *c = user;
  c->stream_up = true;
  c->connect_deadline = 0;
  mc_stream_local_addr(s, &c->local);
  struct mc_turn_progress p;
  memset(&p, 0, sizeof p);
  p.step = MC_TURN_STEP_CONNECT;
  p.addr = c->local;
  progress(c, &p);
  if (c->closing) return;
  begin_protocol(c);
}

static void stream_error(mc_stream *s, int err, const char *why, void *user) {
  (void)s;
  mc_turn_client *c = user;
  bool was_up = c->stream_up;
  c->stream_up = false;
  if (c->closing) return;
  /* A refused connection deserves its own advice. */
  if (err == MC_EIO && why && strstr(why, "refused")) err = MC_EREFUSED;
  if (err == MC_ECLOSED) err = MC_EREFUSED;
  MC_LOGI(COMP, "stream failed server=%s err=%s why=\"%s\"", c->server_label, mc_strerror(err), why ? why : "");
  if (!was_up) {
    char sentence[512];
    struct mc_turn_progress p;
    memset(&p, 0, sizeof p);
    p.step = MC_TURN_STEP_CONNECT;
    p.err = err;
    p.sentence = explain(c, sentence, sizeof sentence, err, 0, why, false);
    progress(c, &p);
  }
  /* Over TCP the connection is the allocation (RFC 8656 3.1). */
  fail_client(c, err, 0, why, false);
}

static void resolved(int err, const mc_addr *addrs, size_t count, void *user) {
  mc_turn_client *c = user;
  char a[MC_ADDR_STRLEN];
  c->resolve = NULL;
  c->connect_deadline = 0;
  if (c->closing) return;
  if (err || count == 0) {
    step_fail(c, MC_TURN_STEP_RESOLVE, MC_ERESOLVE, 0, NULL, false, 0, NULL);
    fail_client(c, MC_ERESOLVE, 0, NULL, false);
    return;
  }
  c->server = addrs[0];
  for (size_t i = 0; i < count; i++) {
    if (c->family == AF_UNSPEC && mc_addr_family(&addrs[i]) == AF_INET) {
      c->server = addrs[i];
      break;
    }
  }
  c->has_server = true;
  MC_LOGD(COMP, "resolved server=%s addr=%s", c->server_label, astr(&c->server, a));
  struct mc_turn_progress p;
  memset(&p, 0, sizeof p);
  p.step = MC_TURN_STEP_RESOLVE;
  p.addr = c->server;
  progress(c, &p);
  if (c->closing) return;

  int rc;
  if (c->transport == MC_TURN_UDP) {
    mc_addr any;
    if (mc_addr_family(&c->server) == AF_INET6) rc = mc_addr_parse("::", 0, &any);
    else rc = mc_addr_parse("0.0.0.0", 0, &any);
    if (rc == 0) rc = mc_udp_open(c->loop, &any, udp_recv, c, &c->udp);
    if (rc < 0) {
      fail_client(c, rc, 0, NULL, false);
      return;
    }
    mc_udp_local_addr(c->udp, &c->local);
    begin_protocol(c);
    return;
  }
  set_state(c, MC_TURN_STATE_CONNECTING);
  struct mc_stream_options opts;
  memset(&opts, 0, sizeof opts);
  opts.tls = c->transport == MC_TURN_TLS;
  opts.insecure = c->insecure;
  /* SNI and the name checked: the URL host, unless it is an IP literal. */
  mc_addr probe;
  opts.server_name = mc_addr_parse(c->host, 0, &probe) == 0 ? NULL : c->host;
  struct mc_stream_callbacks scbs = {stream_connected, stream_data, stream_error};
  c->connect_deadline = mc_now_ms() + (c->timeout_ms ? c->timeout_ms : MC_STUN_TI_MS);
  rc = mc_stream_connect(c->loop, &c->server, &opts, &scbs, c, &c->stream);
  if (rc < 0) {
    c->stream = NULL;
    step_fail(c, MC_TURN_STEP_CONNECT, rc, 0, NULL, false, 0, NULL);
    fail_client(c, rc, 0, NULL, false);
    return;
  }
  schedule(c);
}

/* ---- timer: retransmissions, deadlines, refreshes, close ---- */

static void teardown(mc_turn_client *c);

/* Marks e in flight and true if a request for it is due: it is wanted, or
 * installed and its refresh time has come, and none is in flight. */
static bool entry_claim(struct entry *e, uint64_t now) {
  bool due = e->state == ENTRY_WANTED || (e->state == ENTRY_OK && e->refresh_at <= now);
  if (!due || e->in_flight) return false;
  e->in_flight = true;
  if (e->state == ENTRY_WANTED) e->state = ENTRY_PENDING;
  return true;
}

static void send_wanted(mc_turn_client *c) {
  uint64_t now = mc_now_ms();
  for (size_t i = 0; i < c->nperms && c->state == MC_TURN_STATE_ALLOCATED; i++) {
    struct perm *p = &c->perms[i];
    /* A bound channel's own refresh keeps this permission alive. */
    if (!entry_claim(&p->e, now)) continue;
    mc_addr ip = p->ip;
    if (start_req(c, REQ_PERMISSION, &ip, 0) < 0) {
      p = perm_find(c, &ip);
      if (p) p->e.in_flight = false;
    }
  }
  for (size_t i = 0; i < c->nchans && c->state == MC_TURN_STATE_ALLOCATED; i++) {
    struct chan *ch = &c->chans[i];
    if (!entry_claim(&ch->e, now)) continue;
    mc_addr peer = ch->peer;
    uint16_t number = ch->number;
    if (start_req(c, REQ_CHANNEL, &peer, number) < 0) {
      ch = chan_find(c, &peer);
      if (ch) ch->e.in_flight = false;
    }
  }
}

static void timer_cb(uv_timer_t *t) {
  mc_turn_client *c = t->data;
  uint64_t now = mc_now_ms();

  if (c->closing) {
    if (!c->refresh0_sent) {
      c->refresh0_sent = true;
      bool alive = c->state == MC_TURN_STATE_ALLOCATED &&
                   (c->transport == MC_TURN_UDP ? c->udp != NULL : c->stream_up);
      /* Pending requests are of no use any more. */
      for (struct req *r = c->reqs; r; r = r->next) mc_stun_txn_cancel_user(c->txns, r);
      while (c->reqs) {
        struct req *r = c->reqs;
        c->reqs = r->next;
        free(r);
      }
      if (alive) {
        /* RFC 8656 7.2 / 8: Refresh with LIFETIME 0 deletes the allocation. */
        struct req *r = req_new(c, REQ_REFRESH);
        if (r) {
          r->has_lifetime = true;
          r->lifetime = 0;
          c->linger_until = now + MC_TURN_CLOSE_LINGER_MS;
          MC_LOGI(COMP, "deallocating server=%s transport=%s", c->server_label, mc_turn_transport_name(c->transport));
          if (send_request(c, r) == 0) {
            uv_timer_start(&c->timer, timer_cb, MC_TURN_CLOSE_LINGER_MS / 10, 0);
            return;
          }
          req_unlink(c, r);
          free(r);
        }
      }
      teardown(c);
      return;
    }
    mc_stun_txn_tick(c->txns, now);
    /* The Refresh(0) was answered (or we gave up waiting). */
    if (!c->reqs || now >= c->linger_until) {
      teardown(c);
      return;
    }
    uv_timer_start(&c->timer, timer_cb, MC_TURN_CLOSE_LINGER_MS / 10, 0);
    return;
  }

  mc_stun_txn_tick(c->txns, now);
  if (c->closing) {
    schedule(c);
    return;
  }

  /* Our own per-request deadline (cfg.timeout_ms), shorter than RFC timing. */
  for (bool again = true; again && !c->closing;) {
    again = false;
    for (struct req *r = c->reqs; r; r = r->next) {
      if (r->deadline_ms > now) continue;
      mc_stun_txn_cancel_user(c->txns, r);
      r->deadline_ms = UINT64_MAX;
      /* txn_done frees r, as after a real timeout. */
      txn_done(r, MC_ETIMEDOUT, NULL, NULL, 0, c);
      again = true;
      break;
    }
  }
  if (c->closing) {
    schedule(c);
    return;
  }

  if (c->connect_deadline && now >= c->connect_deadline &&
      (c->state == MC_TURN_STATE_CONNECTING || c->state == MC_TURN_STATE_RESOLVING)) {
    c->connect_deadline = 0;
    if (c->state == MC_TURN_STATE_RESOLVING) {
      if (c->resolve) mc_resolve_cancel(c->resolve);
      c->resolve = NULL;
      step_fail(c, MC_TURN_STEP_RESOLVE, MC_ERESOLVE, 0, NULL, false, 0, NULL);
      fail_client(c, MC_ERESOLVE, 0, NULL, false);
    } else {
      step_fail(c, MC_TURN_STEP_CONNECT, MC_ETIMEDOUT, 0, NULL, false, 0, NULL);
      fail_client(c, MC_ETIMEDOUT, 0, NULL, false);
    }
  }

  if (c->state == MC_TURN_STATE_ALLOCATED && !c->refresh_in_flight && now >= c->refresh_at) {
    c->refresh_in_flight = true;
    if (start_req(c, REQ_REFRESH, NULL, 0) < 0) c->refresh_in_flight = false;
  }
  if (c->state == MC_TURN_STATE_ALLOCATED) send_wanted(c);
  schedule(c);
}

static void timer_cb_close_now(uv_timer_t *t) {
  mc_turn_client *c = t->data;
  teardown(c);
}

static void schedule(mc_turn_client *c) {
  if (c->torn_down) return;
  if (c->closing) {
    if (!uv_is_active((uv_handle_t *)&c->timer)) uv_timer_start(&c->timer, timer_cb, 0, 0);
    return;
  }
  uint64_t now = mc_now_ms();
  uint64_t next = mc_stun_txn_next_deadline(c->txns);
  for (struct req *r = c->reqs; r; r = r->next) next = MC_MIN(next, r->deadline_ms);
  if (c->connect_deadline) next = MC_MIN(next, c->connect_deadline);
  if (c->state == MC_TURN_STATE_ALLOCATED) {
    if (!c->refresh_in_flight) next = MC_MIN(next, c->refresh_at);
    for (size_t i = 0; i < c->nperms; i++)
      if (c->perms[i].e.state == ENTRY_OK && !c->perms[i].e.in_flight) next = MC_MIN(next, c->perms[i].e.refresh_at);
    for (size_t i = 0; i < c->nchans; i++)
      if (c->chans[i].e.state == ENTRY_OK && !c->chans[i].e.in_flight) next = MC_MIN(next, c->chans[i].e.refresh_at);
  }
  if (next == UINT64_MAX) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t delay = next > now ? next - now : 0;
  uv_timer_start(&c->timer, timer_cb, delay, 0);
}

static void free_client(uv_handle_t *h) {
  mc_turn_client *c = h->data;
  free(c->perms);
  free(c->chans);
  free(c->sbuf);
  wipe_free(c->username);
  wipe_free(c->password);
  memset(c->key, 0, sizeof c->key);
  free(c);
}

static void teardown(mc_turn_client *c) {
  if (c->torn_down) return;
  c->torn_down = true;
  set_state(c, MC_TURN_STATE_CLOSED);
  if (c->resolve) mc_resolve_cancel(c->resolve);
  c->resolve = NULL;
  mc_stun_txn_table_free(c->txns);
  c->txns = NULL;
  while (c->reqs) {
    struct req *r = c->reqs;
    c->reqs = r->next;
    free(r);
  }
  if (c->udp) mc_udp_close(c->udp);
  c->udp = NULL;
  if (c->stream) mc_stream_close(c->stream);
  c->stream = NULL;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, free_client);
}

/* ---- public API ---- */

int mc_turn_client_new(uv_loop_t *loop, const struct mc_turn_config *cfg, const struct mc_turn_callbacks *cbs,
                       void *user, mc_turn_client **out) {
  if (!loop || !cfg || !cfg->host || !out) return MC_EINVAL;
  if (strlen(cfg->host) > MC_ICE_URL_HOST_MAX || cfg->port == 0) return MC_EINVAL;
  if ((cfg->username == NULL) != (cfg->password == NULL)) return MC_EINVAL;
  mc_turn_client *c = calloc(1, sizeof *c);
  if (!c) return MC_ENOMEM;
  c->loop = loop;
  if (cbs) c->cbs = *cbs;
  c->user = user;
  mc_strcpy(c->host, sizeof c->host, cfg->host);
  c->port = cfg->port;
  c->transport = cfg->transport;
  c->insecure = cfg->insecure;
  c->family = cfg->family;
  c->timeout_ms = cfg->timeout_ms;
  c->lifetime_req = cfg->lifetime_s;
  c->perm_refresh_ms = cfg->permission_refresh_ms ? cfg->permission_refresh_ms : MC_TURN_PERMISSION_REFRESH_S * 1000ull;
  c->chan_refresh_ms = cfg->channel_refresh_ms ? cfg->channel_refresh_ms : MC_TURN_CHANNEL_REFRESH_S * 1000ull;
  c->binding_only = cfg->binding_only;
  c->binding_first = cfg->binding_first || cfg->binding_only;
  c->kind = c->binding_only ? MC_TR_NOOP("STUN server") : MC_TR_NOOP("TURN server");
  c->next_channel = MC_TURN_CHANNEL_MIN;
  bool v6 = strchr(c->host, ':') != NULL;
  snprintf(c->server_label, sizeof c->server_label, "%s%s%s:%u", v6 ? "[" : "", c->host, v6 ? "]" : "",
           (unsigned)c->port);
  struct mc_stun_txn_callbacks tcbs = {txn_send, txn_done};
  c->txns = mc_stun_txn_table_new(&tcbs, c);
  if (!c->txns) goto fail;
  if (cfg->username) {
    c->username = dupstr(cfg->username);
    c->password = dupstr(cfg->password);
    if (!c->username || !c->password) goto fail;
  }
  if (uv_timer_init(loop, &c->timer) != 0) goto fail;
  c->timer.data = c;
  *out = c;
  return 0;
fail:
  mc_stun_txn_table_free(c->txns);
  wipe_free(c->username);
  wipe_free(c->password);
  free(c);
  return MC_ENOMEM;
}

int mc_turn_client_start(mc_turn_client *c) {
  if (!c || c->closing) return MC_ECLOSED;
  if (c->state != MC_TURN_STATE_NEW) return MC_ESTATE;
  set_state(c, MC_TURN_STATE_RESOLVING);
  /* Name resolution and the TCP/TLS connect share one deadline. */
  c->connect_deadline = mc_now_ms() + (c->timeout_ms ? c->timeout_ms : MC_STUN_TI_MS);
  MC_LOGI(COMP, "start server=%s transport=%s auth=%s", c->server_label, mc_turn_transport_name(c->transport),
          c->username ? "long-term" : "none");
  int family = c->family;
  int rc = mc_resolve(c->loop, c->host, c->port, family, resolved, c, &c->resolve);
  if (rc < 0) {
    set_state(c, MC_TURN_STATE_FAILED);
    return rc;
  }
  schedule(c);
  return 0;
}

int mc_turn_create_permission(mc_turn_client *c, const mc_addr *peer) {
  if (!c || !peer) return MC_EINVAL;
  if (c->closing) return MC_ECLOSED;
  if (c->state == MC_TURN_STATE_FAILED || c->state == MC_TURN_STATE_BOUND) return MC_ESTATE;
  struct perm *p = perm_find(c, peer);
  if (p && p->e.state != ENTRY_FAILED) return 0;
  if (!p) p = perm_add(c, peer);
  if (!p) return MC_ENOMEM;
  p->e.state = ENTRY_WANTED;
  if (c->state == MC_TURN_STATE_ALLOCATED) send_wanted(c);
  return 0;
}

int mc_turn_channel_bind(mc_turn_client *c, const mc_addr *peer) {
  if (!c || !peer) return MC_EINVAL;
  if (c->closing) return MC_ECLOSED;
  if (c->state == MC_TURN_STATE_FAILED || c->state == MC_TURN_STATE_BOUND) return MC_ESTATE;
  struct chan *ch = chan_find(c, peer);
  if (ch && ch->e.state != ENTRY_FAILED) return 0;
  /* The permission comes with the channel; remember it for refreshes. */
  struct perm *p = perm_add(c, peer);
  if (!p) return MC_ENOMEM;
  if (!ch) {
    if (c->next_channel > MC_TURN_CHANNEL_MAX) return MC_ETOOBIG;
    struct chan *n = array_room(c->chans, c->nchans, &c->capchans, sizeof *n);
    if (!n) return MC_ENOMEM;
    c->chans = n;
    ch = &c->chans[c->nchans++];
    memset(ch, 0, sizeof *ch);
    ch->peer = *peer;
    ch->number = c->next_channel++;
  }
  ch->e.state = ENTRY_WANTED;
  if (c->state == MC_TURN_STATE_ALLOCATED) send_wanted(c);
  return 0;
}

int mc_turn_send(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len) {
  uint8_t buf[TURN_BUF];
  if (!c || !peer || (!data && len)) return MC_EINVAL;
  if (c->closing) return MC_ECLOSED;
  if (c->state != MC_TURN_STATE_ALLOCATED) return MC_ESTATE;
  if (!perm_find(c, peer)) {
    int rc = mc_turn_create_permission(c, peer);
    if (rc < 0) return rc;
  }
  struct chan *ch = chan_find(c, peer);
  int n;
  if (ch && ch->e.state == ENTRY_OK) {
    /* RFC 8656 12.4: over TCP/TLS ChannelData is padded to 4 bytes. */
    n = mc_channeldata_write(buf, sizeof buf, ch->number, data, len, c->transport != MC_TURN_UDP);
  } else {
    /* RFC 8656 11.1: Send indication with XOR-PEER-ADDRESS and DATA. */
    mc_stun_writer w;
    mc_stun_begin(&w, buf, sizeof buf, MC_STUN_SEND, MC_STUN_INDICATION, NULL);
    mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, peer);
    mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, data, len);
    n = mc_stun_finish(&w);
  }
  if (n < 0) return n;
  return tx(c, buf, (size_t)n);
}

enum mc_turn_state mc_turn_client_state(const mc_turn_client *c) { return c ? c->state : MC_TURN_STATE_CLOSED; }

enum mc_turn_transport mc_turn_client_transport(const mc_turn_client *c) { return c->transport; }

int mc_turn_client_relayed_addr(const mc_turn_client *c, mc_addr *out) {
  if (!c || !out) return MC_EINVAL;
  if (!c->has_relayed) return MC_ESTATE;
  *out = c->relayed;
  return 0;
}

int mc_turn_client_mapped_addr(const mc_turn_client *c, mc_addr *out) {
  if (!c || !out) return MC_EINVAL;
  if (!c->has_mapped) return MC_ESTATE;
  *out = c->mapped;
  return 0;
}

int mc_turn_client_server_addr(const mc_turn_client *c, mc_addr *out) {
  if (!c || !out) return MC_EINVAL;
  if (!c->has_server) return MC_ESTATE;
  *out = c->server;
  return 0;
}

int mc_turn_client_local_addr(const mc_turn_client *c, mc_addr *out) {
  if (!c || !out) return MC_EINVAL;
  if (c->udp) return mc_udp_local_addr(c->udp, out);
  if (!c->stream_up) return MC_ESTATE;
  *out = c->local;
  return 0;
}

bool mc_turn_client_has_channel(const mc_turn_client *c, const mc_addr *peer) {
  if (!c || !peer) return false;
  for (size_t i = 0; i < c->nchans; i++)
    if (mc_addr_equal(&c->chans[i].peer, peer)) return c->chans[i].e.state == ENTRY_OK;
  return false;
}

void mc_turn_client_close(mc_turn_client *c) {
  if (!c || c->closing) return;
  c->closing = true;
  uv_timer_start(&c->timer, timer_cb, 0, 0);
}
