/* The ICE agent: lifecycle, gathering (RFC 8445 5.1), sockets and the
 * public API. Checks live in checklist.c, consent in consent.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ice/ice_private.h"

#define LOG "ice"

void mc_ice_settings_default(struct mc_ice_settings *s) {
  if (!s) return;
  memset(s, 0, sizeof *s);
  s->ta_ms = MC_ICE_TA_MS;
  s->check_rto_ms = MC_ICE_CHECK_RTO_MS;
  s->relay_nomination_grace_ms = MC_ICE_RELAY_GRACE_MS;
  s->consent_interval_ms = MC_ICE_CONSENT_INTERVAL_MS;
  s->consent_timeout_ms = MC_ICE_CONSENT_TIMEOUT_MS;
  s->disconnected_ms = MC_ICE_DISCONNECTED_MS;
  s->silence_probe_ms = MC_ICE_SILENCE_PROBE_MS;
  s->disconnected_silence_ms = MC_ICE_DISCONNECTED_SILENCE_MS;
  s->keepalive_ms = MC_ICE_KEEPALIVE_MS;
  s->server_timeout_ms = MC_ICE_SERVER_TIMEOUT_MS;
  s->mdns_timeout_ms = MC_ICE_MDNS_TIMEOUT_MS;
  s->eoc_wait_ms = MC_ICE_EOC_WAIT_MS;
}

static const char *const state_names[] = {"new", "checking", "connected", "completed",
                                          "failed", "disconnected", "closed"};

const char *mc_ice_state_name(enum mc_ice_state s) {
  return (unsigned)s < MC_ARRAY_LEN(state_names) ? state_names[s] : "unknown";
}

const char *mc_ice_role_name(enum mc_ice_role r) { return r == MC_ICE_ROLE_CONTROLLING ? "controlling" : "controlled"; }

/* ---- re-entrancy: the application may free the agent from a callback ---- */

static void really_free(mc_ice_agent *a);

static void enter(mc_ice_agent *a) { a->busy++; }

static void leave(mc_ice_agent *a) {
  if (--a->busy == 0 && a->free_pending) really_free(a);
}

void ice_enter(mc_ice_agent *a) { enter(a); }
void ice_leave(mc_ice_agent *a) { leave(a); }

bool ice_base_is_tcp(const mc_ice_agent *a, int base) {
  return base >= 0 && (size_t)base < a->nbases && a->bases[base].kind != BASE_UDP;
}

void ice_set_state(mc_ice_agent *a, enum mc_ice_state s) {
  if (a->state == s || a->closed) return;
  MC_LOGI(LOG, "state from=%s to=%s", mc_ice_state_name(a->state), mc_ice_state_name(s));
  a->state = s;
  if (a->cbs.on_state) a->cbs.on_state(a, s, a->user);
}

/* ---- timer ---- */

static void tick(mc_ice_agent *a);

static void on_timer(uv_timer_t *t) {
  mc_ice_agent *a = t->data;
  enter(a);
  if (!a->closed) tick(a);
  leave(a);
}

/* Runs tick on the next loop turn; tick then arms the timer for the next
 * deadline itself. */
void ice_schedule(mc_ice_agent *a) {
  if (a->closed) return;
  if (a->in_tick) {
    a->resched = true;
    return;
  }
  uv_timer_start(&a->timer, on_timer, 0, 0);
}

static void arm(mc_ice_agent *a, uint64_t next) {
  if (a->closed) return;
  if (next == UINT64_MAX) {
    uv_timer_stop(&a->timer);
    return;
  }
  uint64_t now = mc_now_ms();
  /* At least 1 ms: libuv runs a timer re-armed with 0 from its own callback
   * again in the same pass, which would spin forever. */
  uv_timer_start(&a->timer, on_timer, next > now + 1 ? next - now : 1, 0);
}

/* ---- transactions ---- */

struct ice_txn *ice_txn_new(mc_ice_agent *a, enum txn_kind kind) {
  if (a->closed) return NULL;
  struct ice_txn *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->agent = a;
  t->kind = kind;
  t->base = -1;
  t->relay = -1;
  t->pair = -1;
  t->server = -1;
  t->next = a->txn_head;
  if (a->txn_head) a->txn_head->prev = t;
  a->txn_head = t;
  return t;
}

/* Takes t off the agent's list; a callback that closes the agent then
 * cannot free it under our feet. */
static void txn_detach(mc_ice_agent *a, struct ice_txn *t) {
  if (t->detached) return;
  if (t->prev) t->prev->next = t->next;
  else a->txn_head = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
  t->detached = true;
}

void ice_txn_free(mc_ice_agent *a, struct ice_txn *t) {
  if (!t) return;
  mc_stun_txn_cancel_user(a->txns, t);
  txn_detach(a, t);
  if (t->kind == TXN_CHECK && t->pair >= 0 && (size_t)t->pair < a->npairs && a->pairs[t->pair].txn == t)
    a->pairs[t->pair].txn = NULL;
  free(t);
}

int ice_route_send(mc_ice_agent *a, int base, int relay, const mc_addr *to, const uint8_t *data, size_t len) {
  if (a->closed) return MC_ECLOSED;
  if (a->test_drop_out) return 0;
  if (a->test_drop_fn && a->test_drop_fn(data, len)) return 0;
  if (relay >= 0) {
    struct ice_relay *r = &a->relays[relay];
    if (!r->turn || !r->allocated) return MC_ESTATE;
    return mc_turn_send(r->turn, to, data, len);
  }
  if (base < 0 || (size_t)base >= a->nbases) return MC_ESTATE;
  if (a->bases[base].kind != BASE_UDP) return ice_tcp_send(a, base, to, data, len);
  if (!a->bases[base].udp) return MC_ESTATE;
  return mc_udp_send(a->bases[base].udp, to, data, len);
}

static void txn_send(void *txn_user, const uint8_t *msg, size_t len, void *table_user) {
  mc_ice_agent *a = table_user;
  struct ice_txn *t = txn_user;
  t->sent_ms = mc_now_ms();
  int rc = ice_route_send(a, t->base, t->relay, &t->dest, msg, len);
  if (rc != 0) {
    char as[MC_ADDR_STRLEN];
    MC_LOGD(LOG, "stun send failed to=%s err=%s", mc_addr_str(&t->dest, as), mc_strerror(rc));
  }
}

static void srflx_done(mc_ice_agent *a, struct ice_txn *t, int err, const mc_stun_msg *m);

static void txn_done(void *txn_user, int err, const mc_stun_msg *m, const uint8_t *buf, size_t len,
                     void *table_user) {
  mc_ice_agent *a = table_user;
  struct ice_txn *t = txn_user;
  txn_detach(a, t);
  switch (t->kind) {
    case TXN_CHECK: ice_check_done(a, t, err, m, buf, len); break;
    case TXN_CONSENT: ice_consent_done(a, t, err, m, buf, len); break;
    case TXN_SRFLX: srflx_done(a, t, err, m); break;
  }
  ice_txn_free(a, t);
}

/* ---- local candidates ---- */

static void emit_local(mc_ice_agent *a, int idx) {
  struct ice_local *l = &a->locals[idx];
  char line[MC_ICE_CANDIDATE_STRLEN];
  if (mc_ice_candidate_format(&l->c, line, sizeof line) != 0) return;
  MC_LOGI(LOG, "local candidate %s", line);
  if (a->cbs.on_candidate && !a->closed) a->cbs.on_candidate(a, &l->c, line, a->user);
}

/* RFC 8445 5.1.3: a candidate with the same transport address and base as
 * one we have is redundant. Returns the new index or -1. */
static int add_local(mc_ice_agent *a, enum mc_ice_cand_type type, int base, int relay, const mc_addr *addr,
                     const mc_addr *related, const mc_addr *server, uint16_t local_pref,
                     enum mc_turn_transport relay_transport, enum mc_ice_tcptype tcptype, bool signal) {
  for (size_t i = 0; i < a->nlocals; i++) {
    struct ice_local *o = &a->locals[i];
    if (o->base == base && o->relay == relay && mc_addr_equal(&o->c.addr, addr)) return -1;
  }
  if (a->nlocals == ICE_MAX_LOCAL) {
    MC_LOGW(LOG, "too many local candidates, dropping one type=%s", mc_ice_cand_type_name(type));
    return -1;
  }
  int idx = (int)a->nlocals++;
  struct ice_local *l = &a->locals[idx];
  memset(l, 0, sizeof *l);
  l->base = base;
  l->relay = relay;
  l->local_pref = local_pref;
  l->gathered_ms = mc_now_ms();
  mc_ice_candidate *c = &l->c;
  c->component = 1;
  c->transport = tcptype != MC_ICE_TCPTYPE_NONE ? MC_ICE_TRANSPORT_TCP : MC_ICE_TRANSPORT_UDP;
  c->tcptype = tcptype;
  c->type = type;
  c->addr = *addr;
  c->port = mc_addr_port(addr);
  uint8_t type_pref = mc_ice_type_preference(type);
  if (c->transport == MC_ICE_TRANSPORT_TCP)
    type_pref = type == MC_ICE_CAND_PRFLX ? MC_ICE_TYPE_PREF_PRFLX_TCP : MC_ICE_TYPE_PREF_HOST_TCP;
  c->priority = mc_ice_candidate_priority(type_pref, local_pref, 1);
  c->generation = 0;
  c->network_id = -1;
  c->network_cost = -1;
  c->has_relay_transport = type == MC_ICE_CAND_RELAY;
  c->relay_transport = relay_transport;
  const mc_addr *fbase = base >= 0 ? &a->bases[base].addr : addr;
  mc_ice_foundation(type, fbase, server, c->transport, relay_transport, c->foundation);
  char ip[MC_ADDR_STRLEN];
  mc_addr_ip_str(addr, ip);
  mc_strcpy(c->host, sizeof c->host, ip);
  if (type == MC_ICE_CAND_HOST && a->cfg.mdns_hide_host && !mc_addr_is_loopback(addr)) {
    /* RFC 8445 + draft-ietf-mmusic-mdns-ice-candidates 3.1: the host IP
     * goes out as a random ".local" name we answer for. */
    char name[MC_ICE_HOST_MAX];
    if (!a->responder && mc_mdns_responder_start(a->loop, &a->responder) != 0) a->responder = NULL;
    if (a->responder && mc_mdns_responder_add(a->responder, addr, name, sizeof name) == 0) {
      mc_strcpy(c->host, sizeof c->host, name);
      c->is_mdns = true;
    } else {
      MC_LOGW(LOG, "mdns responder unavailable, host candidate not hidden addr=%s", ip);
    }
  }
  if (related) {
    c->has_related = true;
    if (a->cfg.mdns_hide_host && type == MC_ICE_CAND_SRFLX) {
      /* The related address would reveal the host IP we hide. */
      mc_strcpy(c->related_host, sizeof c->related_host, mc_addr_family(addr) == AF_INET6 ? "::" : "0.0.0.0");
      c->related_port = 0;
    } else {
      mc_addr_ip_str(related, ip);
      mc_strcpy(c->related_host, sizeof c->related_host, ip);
      c->related_port = mc_addr_port(related);
    }
  }
  a->stats.local_candidates = a->nlocals;
  if (signal) emit_local(a, idx);
  return idx;
}

/* RFC 8445 7.2.5.3.1: a mapped address we did not know is a local
 * peer-reflexive candidate; its priority is the PRIORITY we sent. Not
 * signalled (RFC 8445 7.2.5.3.1 says it need not be). */
int ice_add_prflx_local(mc_ice_agent *a, int base, int relay, const mc_addr *mapped) {
  uint16_t pref = 0;
  for (size_t i = 0; i < a->nlocals; i++) {
    if (a->locals[i].base == base && a->locals[i].relay == relay &&
        (a->locals[i].c.type == MC_ICE_CAND_HOST || a->locals[i].c.type == MC_ICE_CAND_RELAY)) {
      pref = a->locals[i].local_pref;
      break;
    }
  }
  const mc_addr *baddr = base >= 0 ? &a->bases[base].addr : NULL;
  /* Over TCP only active candidates learn a mapped address of their own
   * (the connection's source port); it keeps their tcptype. */
  enum mc_ice_tcptype tt = ice_base_is_tcp(a, base) ? MC_ICE_TCPTYPE_ACTIVE : MC_ICE_TCPTYPE_NONE;
  int idx = add_local(a, MC_ICE_CAND_PRFLX, base, relay, mapped, baddr, NULL, pref, MC_TURN_UDP, tt, false);
  if (idx >= 0) {
    char as[MC_ADDR_STRLEN];
    MC_LOGI(LOG, "local prflx addr=%s", mc_addr_str(mapped, as));
  }
  return idx;
}

static void gather_step_done(mc_ice_agent *a) {
  if (a->gather_pending > 0) a->gather_pending--;
  if (a->gathering && a->gather_pending == 0) a->gather_done_pending = true;
  ice_schedule(a);
}

/* ---- sockets ---- */

void ice_handle_packet(mc_ice_agent *a, int base, int relay, const mc_addr *from, const uint8_t *data,
                       size_t len) {
  if (a->closed) return;
  bool on_sel = a->sel.set && a->sel.base == base && a->sel.relay == relay && mc_addr_equal(&a->sel.remote, from);
  if (on_sel) ice_consent_heard(a, mc_now_ms());
  if (a->restarting) ice_path_heard(a, base, relay, from, mc_now_ms());
  if (mc_stun_is_message(data, len)) {
    mc_stun_msg *m = malloc(sizeof *m);
    if (!m) return;
    int prc = mc_stun_parse(data, len, m);
    if (mc_log_get_level() <= MC_LOG_DEBUG) {
      char fs[MC_ADDR_STRLEN];
      MC_LOGD(LOG, "rx stun from=%s base=%d relay=%d len=%zu parse=%d class=%d method=0x%03x", mc_addr_str(from, fs),
              base, relay, len, prc, prc == 0 ? m->cls : -1, prc == 0 ? m->method : 0);
    }
    if (prc == 0 && m->method == MC_STUN_BINDING) {
      a->rx_base = base;
      a->rx_relay = relay;
      a->rx_from = *from;
      if (m->cls == MC_STUN_SUCCESS || m->cls == MC_STUN_ERROR) {
        mc_stun_txn_handle_response(a->txns, m, data, len);
      } else if (m->cls == MC_STUN_REQUEST) {
        ice_handle_request(a, m, data, len);
      }
      /* Binding indications are keepalives: nothing to do. */
    }
    free(m);
    ice_schedule(a);
    return;
  }
  /* Media from the peer: only from an address a pair knows (or the pair
   * kept across a restart), never from strangers. */
  bool ok = on_sel;
  if (!ok) {
    int r = ice_find_remote(a, from, ice_base_is_tcp(a, base) ? MC_ICE_TRANSPORT_TCP : MC_ICE_TRANSPORT_UDP);
    if (r >= 0) {
      for (size_t i = 0; i < a->npairs && !ok; i++) {
        const struct ice_pair *p = &a->pairs[i];
        const struct ice_local *l = &a->locals[p->local];
        ok = p->remote == r && l->base == base && l->relay == relay;
      }
    }
  }
  if (!ok) {
    char as[MC_ADDR_STRLEN];
    MC_LOGD(LOG, "dropped datagram from unknown address from=%s len=%zu", mc_addr_str(from, as), len);
    return;
  }
  /* RFC 8445 12.2: "ICE implementations SHOULD by default be prepared to
   * receive data on any of the candidates provided in the most recent
   * candidate exchange with the peer." Before selection, remember which
   * valid pair it came on: our answers go back on it. */
  if (!a->sel.set) ice_data_heard(a, base, relay, from);
  a->stats.bytes_received += len;
  if (a->cbs.on_data) a->cbs.on_data(a, data, len, a->user);
}

static void on_udp(mc_udp *sock, const mc_addr *from, const uint8_t *data, size_t len, void *user) {
  (void)sock;
  struct ice_base *b = user;
  mc_ice_agent *a = b->agent;
  enter(a);
  ice_handle_packet(a, (int)(b - a->bases), -1, from, data, len);
  leave(a);
}

/* ---- server-reflexive candidates (RFC 8445 5.1.1.2) ---- */

static void start_srflx(mc_ice_agent *a, int server) {
  struct ice_server *s = &a->servers[server];
  uint64_t now = mc_now_ms();
  for (size_t b = 0; b < a->nbases; b++) {
    struct ice_base *base = &a->bases[b];
    if (base->kind != BASE_UDP || mc_addr_is_loopback(&base->addr) || base->gone) continue;
    const mc_addr *dest = NULL;
    for (size_t i = 0; i < s->naddrs; i++) {
      if (mc_addr_family(&s->addrs[i]) == mc_addr_family(&base->addr)) {
        dest = &s->addrs[i];
        break;
      }
    }
    if (!dest) continue;
    uint8_t buf[128];
    mc_stun_writer w;
    mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
    mc_stun_put_fingerprint(&w);
    int n = mc_stun_finish(&w);
    if (n < 0) continue;
    struct ice_txn *t = ice_txn_new(a, TXN_SRFLX);
    if (!t) continue;
    t->base = (int)b;
    t->dest = *dest;
    t->server = server;
    t->expires_ms = now + a->set.server_timeout_ms;
    a->gather_pending++;
    if (mc_stun_txn_start(a->txns, buf, (size_t)n, 0, false, t, now) != 0) {
      ice_txn_free(a, t);
      a->gather_pending--;
    }
  }
}

static void srflx_done(mc_ice_agent *a, struct ice_txn *t, int err, const mc_stun_msg *m) {
  struct ice_server *s = &a->servers[t->server];
  char as[MC_ADDR_STRLEN], bs[MC_ADDR_STRLEN];
  if (err != 0 || !m || m->cls != MC_STUN_SUCCESS || (!m->has_xor_mapped && !m->has_mapped)) {
    char sentence[512];
    snprintf(sentence, sizeof sentence, mc_tr("The STUN server %s did not answer a Binding request from %s."), s->url,
             mc_addr_str(&a->bases[t->base].addr, as));
    MC_LOGW(LOG, "srflx failed server=%s base=%s err=%s", s->url, as, err ? mc_strerror(err) : "error response");
    if (a->cbs.on_server_error && !a->closed) a->cbs.on_server_error(a, s->url, sentence, a->user);
  } else {
    mc_addr mapped = m->has_xor_mapped ? m->xor_mapped : m->mapped;
    struct ice_base *b = &a->bases[t->base];
    MC_LOGI(LOG, "srflx mapped=%s base=%s server=%s", mc_addr_str(&mapped, as), mc_addr_str(&b->addr, bs), s->url);
    /* RFC 8445 5.1.3: no NAT in the way, the srflx equals its base. */
    if (!mc_addr_equal(&mapped, &b->addr) && !a->cfg.relay_only) {
      uint16_t pref = mc_ice_local_preference(MC_ICE_CAND_SRFLX, mc_addr_family(&b->addr), b->iface_index, MC_TURN_UDP);
      add_local(a, MC_ICE_CAND_SRFLX, t->base, -1, &mapped, &b->addr, &t->dest, pref, MC_TURN_UDP,
                MC_ICE_TCPTYPE_NONE, true);
    }
  }
  gather_step_done(a);
}

static void on_resolved(int err, const mc_addr *addrs, size_t count, void *user) {
  struct ice_server *s = user;
  mc_ice_agent *a = s->agent;
  enter(a);
  s->resolve = NULL;
  s->resolving = false;
  if (err != 0 || count == 0) {
    char sentence[512];
    snprintf(sentence, sizeof sentence,
             mc_tr("The server %s could not be resolved to an address of the family in use, so it gives no "
             "server-reflexive candidate."), s->url);
    MC_LOGW(LOG, "server resolve failed url=%s", s->url);
    if (a->cbs.on_server_error && !a->closed) a->cbs.on_server_error(a, s->url, sentence, a->user);
  } else {
    s->naddrs = MC_MIN(count, (size_t)ICE_MAX_RESOLVED);
    memcpy(s->addrs, addrs, s->naddrs * sizeof *addrs);
    start_srflx(a, (int)(s - a->servers));
  }
  gather_step_done(a);
  leave(a);
}

/* ---- relayed candidates (RFC 8445 5.1.1.2 via RFC 8656) ---- */

static struct ice_relay *relay_of(mc_turn_client *c, void *user) {
  (void)c;
  return user;
}

static void on_turn_allocated(mc_turn_client *c, const mc_addr *relayed, const mc_addr *mapped, void *user) {
  struct ice_relay *r = relay_of(c, user);
  mc_ice_agent *a = r->agent;
  enter(a);
  if (!relayed) goto out;
  r->allocated = true;
  r->relayed = *relayed;
  if (mapped) r->mapped = *mapped;
  int ri = (int)(r - a->relays);
  mc_addr server;
  memset(&server, 0, sizeof server);
  mc_turn_client_server_addr(c, &server);
  uint16_t pref = mc_ice_local_preference(MC_ICE_CAND_RELAY, mc_addr_family(relayed), (size_t)ri, r->transport);
  char as[MC_ADDR_STRLEN];
  MC_LOGI(LOG, "relay allocated relayed=%s transport=%s", mc_addr_str(relayed, as), mc_turn_transport_name(r->transport));
  int idx = add_local(a, MC_ICE_CAND_RELAY, -1, ri, relayed, mapped, &server, pref, r->transport,
                      MC_ICE_TCPTYPE_NONE, true);
  if (idx >= 0) ice_pairs_add_for_local(a, idx);
  if (!r->done) {
    r->done = true;
    gather_step_done(a);
  }
out:
  leave(a);
}

static void on_turn_error(mc_turn_client *c, int err, const char *sentence, void *user) {
  struct ice_relay *r = relay_of(c, user);
  mc_ice_agent *a = r->agent;
  enter(a);
  struct ice_server *s = &a->servers[r->server];
  MC_LOGW(LOG, "turn failed url=%s err=%s", s->url, mc_strerror(err));
  r->allocated = false;
  if (a->cbs.on_server_error && !a->closed) a->cbs.on_server_error(a, s->url, sentence, a->user);
  /* Pairs through a lost allocation cannot succeed any more. */
  for (size_t i = 0; i < a->npairs; i++) {
    struct ice_pair *p = &a->pairs[i];
    if (a->locals[p->local].relay == (int)(r - a->relays) && p->state != PAIR_SUCCEEDED) p->state = PAIR_FAILED;
  }
  if (!r->done) {
    r->done = true;
    gather_step_done(a);
  }
  ice_schedule(a);
  leave(a);
}

static void on_turn_data(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len, void *user) {
  struct ice_relay *r = relay_of(c, user);
  mc_ice_agent *a = r->agent;
  enter(a);
  ice_handle_packet(a, -1, (int)(r - a->relays), peer, data, len);
  leave(a);
}

static void on_turn_permission(mc_turn_client *c, const mc_addr *peer, int err, void *user) {
  struct ice_relay *r = relay_of(c, user);
  mc_ice_agent *a = r->agent;
  enter(a);
  for (size_t i = 0; i < r->nperm; i++) {
    if (mc_addr_ip_equal(&r->perm_ip[i], peer)) {
      int was = r->perm_state[i];
      r->perm_state[i] = err == 0 ? 1 : (was == 1 ? 1 : -1);
      if (was != r->perm_state[i]) {
        char as[MC_ADDR_STRLEN];
        MC_LOGD(LOG, "turn permission peer=%s ok=%d", mc_addr_ip_str(peer, as), err == 0);
        ice_relay_permission_changed(a, (int)(r - a->relays));
      }
    }
  }
  leave(a);
}

/* Pairs through a relay wait for the permission of the peer's IP (RFC 8656
 * 9): a check sent before it would be dropped by the server. */
bool ice_relay_permitted(mc_ice_agent *a, int relay, const mc_addr *peer, bool *failed) {
  struct ice_relay *r = &a->relays[relay];
  *failed = false;
  if (!r->allocated) return false;
  for (size_t i = 0; i < r->nperm; i++) {
    if (mc_addr_ip_equal(&r->perm_ip[i], peer)) {
      *failed = r->perm_state[i] < 0;
      return r->perm_state[i] > 0;
    }
  }
  if (r->nperm == ICE_MAX_PERMS) {
    *failed = true;
    return false;
  }
  r->perm_ip[r->nperm] = *peer;
  r->perm_state[r->nperm] = 0;
  r->nperm++;
  if (mc_turn_create_permission(r->turn, peer) != 0) {
    r->perm_state[r->nperm - 1] = -1;
    *failed = true;
  }
  return false;
}

/* slot: a relay entry to reuse (its allocation was lost), or -1 for a new one. */
static int start_turn(mc_ice_agent *a, int server, int slot) {
  struct ice_server *s = &a->servers[server];
  if (slot < 0 && a->nrelays == ICE_MAX_RELAYS) return MC_ETOOBIG;
  struct ice_relay *r = &a->relays[slot >= 0 ? (size_t)slot : a->nrelays];
  memset(r, 0, sizeof *r);
  r->agent = a;
  r->server = server;
  r->transport = s->parsed.transport;
  struct mc_turn_config tc;
  memset(&tc, 0, sizeof tc);
  mc_turn_config_from_url(&tc, &s->parsed);
  tc.username = s->username;
  tc.password = s->credential;
  tc.insecure = a->cfg.insecure;
  tc.family = a->cfg.family == AF_INET6 ? AF_INET6 : AF_INET;
  tc.timeout_ms = a->set.server_timeout_ms;
  static const struct mc_turn_callbacks tcbs = {
      .on_allocated = on_turn_allocated,
      .on_error = on_turn_error,
      .on_data = on_turn_data,
      .on_permission = on_turn_permission,
  };
  int rc = mc_turn_client_new(a->loop, &tc, &tcbs, r, &r->turn);
  if (rc != 0) {
    r->turn = NULL;
    r->done = true;
    return rc;
  }
  if (slot < 0) a->nrelays++;
  a->gather_pending++;
  rc = mc_turn_client_start(r->turn);
  if (rc != 0) {
    r->done = true;
    a->gather_pending--;
    return rc;
  }
  return 0;
}

/* ---- lifecycle ---- */

static void new_credentials(mc_ice_agent *a) {
  mc_random_ice_chars(a->ufrag, MC_ICE_UFRAG_LEN);
  mc_random_ice_chars(a->pwd, MC_ICE_PWD_LEN);
}

int mc_ice_agent_new(uv_loop_t *loop, const struct mc_ice_config *config, const struct mc_ice_callbacks *cbs,
                     void *user, mc_ice_agent **out) {
  if (!loop || !config || !out) return MC_EINVAL;
  if (config->server_count > ICE_MAX_SERVERS || config->bind_addr_count > ICE_MAX_IFACES) return MC_EINVAL;
  *out = NULL;
  mc_ice_agent *a = calloc(1, sizeof *a);
  if (!a) return MC_ENOMEM;
  a->loop = loop;
  a->cfg = *config;
  a->cfg.servers = NULL;
  a->cfg.server_count = 0;
  a->cfg.bind_addrs = NULL;
  a->cfg.bind_addr_count = 0;
  for (size_t i = 0; i < config->bind_addr_count; i++) a->bind_addrs[a->nbind++] = config->bind_addrs[i];
  if (config->settings) a->set = *config->settings;
  else mc_ice_settings_default(&a->set);
  a->cfg.settings = &a->set;
  if (a->set.ta_ms == 0) a->set.ta_ms = 1;
  if (cbs) a->cbs = *cbs;
  a->user = user;
  a->role = config->role;
  a->tiebreaker = mc_random_u64();
  a->nominating = -1;
  a->sel.pair = -1;
  a->data_pair = -1;
  a->rx_base = a->rx_relay = -1;
  new_credentials(a);
  static const struct mc_stun_txn_callbacks tcb = {.send = txn_send, .done = txn_done};
  a->txns = mc_stun_txn_table_new(&tcb, a);
  if (!a->txns) goto fail;
  for (size_t i = 0; i < config->server_count; i++) {
    const struct mc_ice_server *in = &config->servers[i];
    struct ice_server *s = &a->servers[a->nservers];
    s->agent = a;
    if (!in->url) continue;
    char why[320];
    if (mc_ice_url_parse(in->url, strlen(in->url), &s->parsed, why, sizeof why) != 0) {
      MC_LOGW(LOG, "ignoring ice server: %s", why);
      continue;
    }
    mc_ice_url_str(&s->parsed, s->url, sizeof s->url);
    if (in->username && !(s->username = strdup(in->username))) goto fail;
    if (in->credential && !(s->credential = strdup(in->credential))) goto fail;
    s->valid = true;
    a->nservers++;
  }
  if (uv_timer_init(loop, &a->timer) != 0) goto fail;
  a->timer.data = a;
  a->timer_started = true;
  MC_LOGI(LOG, "agent new role=%s servers=%zu relay_only=%d", mc_ice_role_name(a->role), a->nservers,
          (int)a->cfg.relay_only);
  *out = a;
  return 0;
fail:
  for (size_t i = 0; i < ICE_MAX_SERVERS; i++) {
    free(a->servers[i].username);
    free(a->servers[i].credential);
  }
  mc_stun_txn_table_free(a->txns);
  free(a);
  return MC_ENOMEM;
}

/* RFC 6544 4.1 (with 5.1): per interface a passive candidate, listening on
 * the interface's address, and an active one. RFC 6544 4.5: an active
 * candidate is signalled with port 9 (discard), as it listens nowhere. */
static void open_tcp_hosts(mc_ice_agent *a, const mc_addr *ip, size_t iface_index, bool signal) {
  if (a->nbases + 2 > ICE_MAX_BASES) return;
  char as[MC_ADDR_STRLEN];
  struct ice_base *p = &a->bases[a->nbases];
  memset(p, 0, sizeof *p);
  p->agent = a;
  p->kind = BASE_TCP_PASSIVE;
  p->iface_index = iface_index;
  mc_addr bind = *ip;
  mc_addr_set_port(&bind, 0);
  if (mc_tcp_listen(a->loop, &bind, ice_tcp_accept, p, &p->listener) != 0 ||
      mc_tcp_listener_local_addr(p->listener, &p->addr) != 0) {
    MC_LOGW(LOG, "tcp listening socket failed addr=%s", mc_addr_str(&bind, as));
    mc_tcp_listener_close(p->listener);
    p->listener = NULL;
    return;
  }
  int fam = mc_addr_family(ip);
  int pi = (int)a->nbases++;
  int idx = add_local(a, MC_ICE_CAND_HOST, pi, -1, &p->addr, NULL, NULL,
                      mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_PASSIVE, fam, iface_index), MC_TURN_UDP,
                      MC_ICE_TCPTYPE_PASSIVE, signal);
  if (idx >= 0) ice_pairs_add_for_local(a, idx);
  struct ice_base *ac = &a->bases[a->nbases];
  memset(ac, 0, sizeof *ac);
  ac->agent = a;
  ac->kind = BASE_TCP_ACTIVE;
  ac->iface_index = iface_index;
  ac->addr = *ip;
  mc_addr_set_port(&ac->addr, 9);
  int ai = (int)a->nbases++;
  idx = add_local(a, MC_ICE_CAND_HOST, ai, -1, &ac->addr, NULL, NULL,
                  mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_ACTIVE, fam, iface_index), MC_TURN_UDP,
                  MC_ICE_TCPTYPE_ACTIVE, signal);
  if (idx >= 0) ice_pairs_add_for_local(a, idx);
}

static void open_host(mc_ice_agent *a, const mc_addr *ip, size_t iface_index, bool signal) {
  if (a->nbases == ICE_MAX_BASES) return;
  struct ice_base *b = &a->bases[a->nbases];
  memset(b, 0, sizeof *b);
  b->agent = a;
  b->iface_index = iface_index;
  mc_addr bind = *ip;
  char as[MC_ADDR_STRLEN];
  if (mc_udp_open(a->loop, &bind, on_udp, b, &b->udp) != 0) {
    MC_LOGW(LOG, "host socket failed addr=%s", mc_addr_str(&bind, as));
    return;
  }
  if (mc_udp_local_addr(b->udp, &b->addr) != 0) {
    mc_udp_close(b->udp);
    b->udp = NULL;
    return;
  }
  int bi = (int)a->nbases++;
  uint16_t pref = mc_ice_local_preference(MC_ICE_CAND_HOST, mc_addr_family(&b->addr), iface_index, MC_TURN_UDP);
  int idx = add_local(a, MC_ICE_CAND_HOST, bi, -1, &b->addr, NULL, NULL, pref, MC_TURN_UDP, MC_ICE_TCPTYPE_NONE,
                      signal);
  if (idx >= 0) ice_pairs_add_for_local(a, idx);
  if (a->cfg.tcp) open_tcp_hosts(a, ip, iface_index, signal);
}

static int base_of_ip(const mc_ice_agent *a, const mc_addr *ip) {
  for (size_t i = 0; i < a->nbases; i++)
    if (a->bases[i].kind == BASE_UDP && mc_addr_ip_equal(&a->bases[i].addr, ip)) return (int)i;
  return -1;
}

static void set_base_gone(mc_ice_agent *a, int bi, bool gone) {
  struct ice_base *b = &a->bases[bi];
  if (b->gone == gone) return;
  char as[MC_ADDR_STRLEN];
  MC_LOGI(LOG, "host address %s addr=%s", gone ? "gone" : "back", mc_addr_str(&b->addr, as));
  /* The interface's TCP bases share its fate. */
  for (size_t k = 0; k < a->nbases; k++) {
    if ((int)k != bi && (a->bases[k].kind == BASE_UDP || !mc_addr_ip_equal(&a->bases[k].addr, &b->addr))) continue;
    a->bases[k].gone = gone;
    for (size_t i = 0; i < a->nlocals; i++)
      if (a->locals[i].base == (int)k) a->locals[i].stale = gone;
  }
}

/* RFC 8445 5.1.1.1: host candidates from every interface (a relay-only
 * policy still needs a socket only inside the TURN client). Again at an ICE
 * restart, where a network change shows: sockets open for new addresses,
 * and candidates of addresses that left are no longer offered. */
static void gather_hosts(mc_ice_agent *a, bool restart) {
  if (a->cfg.relay_only) return;
  mc_addr addrs[ICE_MAX_IFACES];
  size_t n = 0;
  if (a->nbind > 0) {
    n = a->nbind;
    memcpy(addrs, a->bind_addrs, n * sizeof *addrs);
  } else if (mc_net_local_addresses(addrs, ICE_MAX_IFACES, &n) != 0) {
    if (restart) return; /* no news is not a network change */
    n = 0;
  }
  size_t idx = 0;
  bool seen[ICE_MAX_BASES] = {false};
  for (size_t i = 0; i < n; i++) {
    int fam = mc_addr_family(&addrs[i]);
    if (a->cfg.family != AF_UNSPEC && fam != a->cfg.family) continue;
    int bi = restart ? base_of_ip(a, &addrs[i]) : -1;
    if (bi >= 0) {
      seen[bi] = true;
      idx++;
      continue;
    }
    size_t before = a->nbases;
    open_host(a, &addrs[i], idx++, !restart);
    if (a->nbases > before) seen[before] = true;
  }
  if (a->cfg.include_loopback && a->nbind == 0) {
    static const char *const lo[] = {"127.0.0.1", "::1"};
    for (size_t k = 0; k < MC_ARRAY_LEN(lo); k++) {
      mc_addr l;
      if (mc_addr_parse(lo[k], 0, &l) != 0) continue;
      if (a->cfg.family != AF_UNSPEC && mc_addr_family(&l) != a->cfg.family) continue;
      int bi = base_of_ip(a, &l);
      if (bi >= 0) seen[bi] = true;
      else open_host(a, &l, idx++, !restart);
    }
  }
  if (restart && a->nbind == 0) {
    for (size_t i = 0; i < a->nbases; i++)
      if (a->bases[i].kind == BASE_UDP && !mc_addr_is_loopback(&a->bases[i].addr)) set_base_gone(a, (int)i, !seen[i]);
  }
  if (a->nbases == 0) MC_LOGW(LOG, "no usable interface for host candidates");
}

/* Server-reflexive Bindings and TURN allocations. At a restart a live
 * allocation is kept (RFC 8445 9 lets candidates be reused); a lost one is
 * replaced in its slot, its old relayed candidate no longer offered. */
static void gather_servers(mc_ice_agent *a, bool restart) {
  for (size_t i = 0; i < a->nservers; i++) {
    struct ice_server *s = &a->servers[i];
    bool turn = mc_ice_url_is_turn(&s->parsed);
    if (turn) {
      int slot = -1;
      bool live = false;
      for (size_t k = 0; restart && k < a->nrelays; k++) {
        if (a->relays[k].server != (int)i) continue;
        if (a->relays[k].turn && (a->relays[k].allocated || !a->relays[k].done)) live = true;
        else if (slot < 0) slot = (int)k;
      }
      int rc = 0;
      if (!live) {
        if (slot >= 0) {
          struct ice_relay *r = &a->relays[slot];
          if (r->turn) mc_turn_client_close(r->turn);
          r->turn = NULL;
          for (size_t l = 0; l < a->nlocals; l++)
            if (a->locals[l].relay == slot) a->locals[l].stale = true;
          MC_LOGI(LOG, "new turn allocation url=%s", s->url);
        }
        rc = start_turn(a, (int)i, slot);
      }
      if (rc != 0) {
        char sentence[512];
        snprintf(sentence, sizeof sentence, mc_tr("The TURN client for %s could not start (%s)."), s->url, mc_strerror(rc));
        if (a->cbs.on_server_error) a->cbs.on_server_error(a, s->url, sentence, a->user);
      }
    }
    /* A Binding to the server over UDP from each host socket gives the
     * srflx candidates; TURN servers answer Binding too (RFC 8656 4). */
    if (!a->cfg.relay_only && a->nbases > 0 && !s->resolving && s->parsed.transport == MC_TURN_UDP &&
        (s->parsed.scheme == MC_ICE_URL_STUN || s->parsed.scheme == MC_ICE_URL_TURN)) {
      s->resolving = true;
      a->gather_pending++;
      if (mc_resolve(a->loop, s->parsed.host, s->parsed.port, a->cfg.family, on_resolved, s, &s->resolve) != 0) {
        s->resolving = false;
        a->gather_pending--;
      }
    } else if (!turn && !restart) {
      MC_LOGI(LOG, "ignoring server for srflx (not UDP) url=%s", s->url);
    }
  }
}

int mc_ice_agent_gather(mc_ice_agent *a) {
  if (!a) return MC_EINVAL;
  if (a->closed) return MC_ECLOSED;
  if (a->gathering || a->gathered) return MC_ESTATE;
  enter(a);
  a->gathering = true;
  a->stats.gather_started_ms = mc_now_ms();
  a->gather_pending = 0;
  gather_hosts(a, false);
  gather_servers(a, false);
  if (a->gather_pending == 0) a->gather_done_pending = true;
  ice_schedule(a);
  leave(a);
  return 0;
}

int mc_ice_agent_get_local_credentials(const mc_ice_agent *a, char *ufrag, char *pwd) {
  if (!a) return MC_EINVAL;
  if (ufrag) memcpy(ufrag, a->ufrag, sizeof a->ufrag);
  if (pwd) memcpy(pwd, a->pwd, sizeof a->pwd);
  return 0;
}

static bool valid_ice_string(const char *s, size_t min, size_t max) {
  size_t n = strlen(s);
  if (n < min || n > max) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return false;
  }
  return true;
}

static void drop_remote_state(mc_ice_agent *a) {
  ice_checklist_clear(a);
  a->nremotes = 0;
  a->remote_eoc = false;
  for (struct mdns_pending *p = a->mdns_head; p; p = p->next) p->remote_gen = UINT32_MAX;
  a->stats.remote_candidates = 0;
}

int mc_ice_agent_set_remote_credentials(mc_ice_agent *a, const char *ufrag, const char *pwd) {
  if (!a || !ufrag || !pwd) return MC_EINVAL;
  if (a->closed) return MC_ECLOSED;
  /* RFC 8839 5.4: ufrag 4..256 ice-chars, pwd 22..256. Browsers comply;
   * be lenient on the minimum ufrag for old peers (RFC 5245 allowed 4). */
  if (!valid_ice_string(ufrag, 1, MC_ICE_UFRAG_MAX) || !valid_ice_string(pwd, 1, MC_ICE_PWD_MAX)) return MC_EINVAL;
  if (a->has_remote_creds && strcmp(ufrag, a->rufrag) == 0 && strcmp(pwd, a->rpwd) == 0) return 0;
  enter(a);
  if (a->has_remote_creds) {
    /* RFC 8445 9: the peer restarted ICE. Media stays on the old pair. */
    MC_LOGI(LOG, "remote credentials changed: ice restart by the peer");
    drop_remote_state(a);
    if (a->sel.set) a->restarting = true;
    a->remote_fresh = true;
  }
  mc_strcpy(a->rufrag, sizeof a->rufrag, ufrag);
  mc_strcpy(a->rpwd, sizeof a->rpwd, pwd);
  a->has_remote_creds = true;
  a->remote_gen++;
  a->last_remote_cand_ms = mc_now_ms();
  ice_schedule(a);
  leave(a);
  return 0;
}

static void on_mdns(int err, const mc_addr *addrs, size_t count, void *user) {
  struct mdns_pending *p = user;
  mc_ice_agent *a = p->agent;
  enter(a);
  for (struct mdns_pending **pp = &a->mdns_head; *pp; pp = &(*pp)->next) {
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  }
  if (err != 0 || count == 0) {
    MC_LOGW(LOG, "dropped remote candidate: mdns name did not resolve name=%s err=%s", p->c.host, mc_strerror(err));
  } else if (p->remote_gen == a->remote_gen) {
    const mc_addr *pick = NULL;
    for (size_t i = 0; i < count && !pick; i++) {
      for (size_t b = 0; b < a->nlocals && !pick; b++)
        if (mc_addr_family(&a->locals[b].c.addr) == mc_addr_family(&addrs[i])) pick = &addrs[i];
    }
    if (!pick) pick = &addrs[0];
    p->c.addr = *pick;
    mc_addr_set_port(&p->c.addr, p->c.port);
    char as[MC_ADDR_STRLEN];
    MC_LOGI(LOG, "mdns resolved name=%s addr=%s", p->c.host, mc_addr_str(&p->c.addr, as));
    ice_remote_add(a, &p->c, -1);
  }
  free(p);
  ice_schedule(a);
  leave(a);
}

int mc_ice_agent_add_remote_candidate(mc_ice_agent *a, const char *line) {
  if (!a || !line) return MC_EINVAL;
  if (a->closed) return MC_ECLOSED;
  mc_ice_candidate c;
  int rc = mc_ice_candidate_parse((const uint8_t *)line, strlen(line), &c);
  if (rc != 0) {
    MC_LOGW(LOG, "rejected remote candidate: malformed line");
    return rc;
  }
  if ((c.transport == MC_ICE_TRANSPORT_TCP && !a->cfg.tcp) || c.component != 1) {
    MC_LOGD(LOG, "ignored remote candidate transport=%s component=%u",
            c.transport == MC_ICE_TRANSPORT_TCP ? "tcp" : "udp", (unsigned)c.component);
    return 0;
  }
  if (a->has_remote_creds && c.ufrag[0] && strcmp(c.ufrag, a->rufrag) != 0) {
    MC_LOGI(LOG, "ignored remote candidate of another ice generation ufrag=%s", c.ufrag);
    return 0;
  }
  enter(a);
  a->last_remote_cand_ms = mc_now_ms();
  if (c.is_mdns) {
    struct mdns_pending *p = calloc(1, sizeof *p);
    if (!p) {
      rc = MC_ENOMEM;
      goto out;
    }
    p->agent = a;
    p->c = c;
    p->remote_gen = a->remote_gen;
    p->next = a->mdns_head;
    a->mdns_head = p;
    rc = mc_mdns_resolve(a->loop, c.host, a->set.mdns_timeout_ms, on_mdns, p, &p->q);
    if (rc != 0) {
      a->mdns_head = p->next;
      free(p);
      MC_LOGW(LOG, "dropped remote candidate: mdns query failed name=%s err=%s", c.host, mc_strerror(rc));
      rc = 0;
    }
    goto out;
  }
  ice_remote_add(a, &c, -1);
  rc = 0;
out:
  ice_schedule(a);
  leave(a);
  return rc;
}

int mc_ice_agent_set_remote_gathering_done(mc_ice_agent *a) {
  if (!a) return MC_EINVAL;
  if (a->closed) return MC_ECLOSED;
  a->remote_eoc = true;
  ice_schedule(a);
  return 0;
}

int mc_ice_agent_send(mc_ice_agent *a, const uint8_t *data, size_t len) {
  if (!a || (!data && len)) return MC_EINVAL;
  if (a->closed) return MC_ECLOSED;
  int rc;
  if (a->sel.set) {
    /* RFC 8445 12.1: "Once selected pairs have been produced for a data
     * stream, an agent MUST send data on those pairs only." RFC 7675 5.1:
     * no consent, no sending. */
    if (a->consent_lost) return MC_ESTATE;
    rc = ice_route_send(a, a->sel.base, a->sel.relay, &a->sel.remote, data, len);
  } else {
    /* RFC 8445 12.1: "An ICE agent MAY send data on any valid pair before
     * selected pairs have been produced for the data stream." */
    int i = ice_presel_pair(a, mc_now_ms());
    if (i < 0) return MC_ESTATE;
    const struct ice_pair *p = &a->pairs[i];
    const struct ice_local *l = &a->locals[p->local];
    rc = ice_route_send(a, l->base, l->relay, &a->remotes[p->remote].c.addr, data, len);
  }
  if (rc == 0) {
    a->stats.bytes_sent += len;
    a->last_sent_ms = mc_now_ms();
  }
  return rc;
}

int mc_ice_agent_restart(mc_ice_agent *a) {
  if (!a) return MC_EINVAL;
  if (a->closed) return MC_ECLOSED;
  enter(a);
  /* RFC 8445 9: fresh credentials; the old ones still answer consent on the
   * old pair until a new pair is selected. A second restart before that
   * keeps the first one's: the peer's checks on the old pair carry those. */
  if (a->sel.set) {
    if (!a->old_ufrag[0]) {
      memcpy(a->old_ufrag, a->ufrag, sizeof a->ufrag);
      memcpy(a->old_pwd, a->pwd, sizeof a->pwd);
    }
    a->restarting = true;
  }
  new_credentials(a);
  if (a->remote_fresh) {
    /* The peer restarted first (JSEP answerer): its new credentials and
     * candidates stay; the pairs start over with our new credentials. */
    ice_checklist_clear(a);
    for (size_t r = 0; r < a->nremotes; r++) ice_pairs_add_for_remote(a, (int)r);
  } else {
    drop_remote_state(a);
    a->has_remote_creds = false;
    a->rufrag[0] = a->rpwd[0] = '\0';
  }
  a->stats.checks_started_ms = 0;
  if (a->gathered) {
    /* Gather again (a network change may be why we restart); done is
     * reported once the servers answered, after the candidates. */
    a->gathered = false;
    a->gathering = true;
    a->gather_pending = 0;
    a->stats.gather_started_ms = mc_now_ms();
    gather_hosts(a, true);
    gather_servers(a, true);
    if (a->gather_pending == 0) a->gather_done_pending = true;
  }
  /* Our candidates are reported again (after this call returns, so the
   * caller can signal the new credentials first). */
  a->reemit_from = 0;
  a->reemit_pending = true;
  MC_LOGI(LOG, "ice restart remote_fresh=%d state=%s has_pair=%d", (int)a->remote_fresh,
          mc_ice_state_name(a->state), (int)a->sel.set);
  ice_schedule(a);
  leave(a);
  return 0;
}

enum mc_ice_state mc_ice_agent_state(const mc_ice_agent *a) { return a ? a->state : MC_ICE_STATE_CLOSED; }
enum mc_ice_role mc_ice_agent_role(const mc_ice_agent *a) { return a ? a->role : MC_ICE_ROLE_CONTROLLED; }

int mc_ice_agent_get_stats(const mc_ice_agent *a, struct mc_ice_stats *out) {
  if (!a || !out) return MC_EINVAL;
  *out = a->stats;
  out->local_candidates = a->nlocals;
  out->remote_candidates = a->nremotes;
  out->pairs = a->npairs;
  out->last_consent_ms = a->last_consent_ms;
  out->has_selected = a->sel.set;
  out->selected_relay_url[0] = '\0';
  if (a->sel.set) {
    out->selected_local = a->sel.local_c;
    out->selected_remote = a->sel.remote_c;
    if (a->sel.relay >= 0 && (size_t)a->sel.relay < a->nrelays) {
      int server = a->relays[a->sel.relay].server;
      if (server >= 0 && (size_t)server < a->nservers)
        mc_strcpy(out->selected_relay_url, sizeof out->selected_relay_url, a->servers[server].url);
    }
  }
  return 0;
}

/* ---- the tick ---- */

static void expire_srflx(mc_ice_agent *a, uint64_t now, uint64_t *next) {
  bool again = true;
  while (again) {
    again = false;
    for (struct ice_txn *t = a->txn_head; t; t = t->next) {
      if (t->kind != TXN_SRFLX) continue;
      if (t->expires_ms <= now) {
        mc_stun_txn_cancel_user(a->txns, t);
        txn_detach(a, t);
        srflx_done(a, t, MC_ETIMEDOUT, NULL);
        ice_txn_free(a, t);
        again = true;
        break;
      }
      if (t->expires_ms < *next) *next = t->expires_ms;
    }
  }
}

static void tick(mc_ice_agent *a) {
  uint64_t now = mc_now_ms();
  uint64_t next = UINT64_MAX;
  a->in_tick = true;
  a->resched = false;
  ice_tcp_sweep(a);
  mc_stun_txn_tick(a->txns, now);
  expire_srflx(a, now, &next);
  if (a->reemit_pending && !a->closed) {
    a->reemit_pending = false;
    /* W3C webrtc-pc: restartIce() from failed goes back to checking. */
    if (a->state == MC_ICE_STATE_FAILED) ice_set_state(a, MC_ICE_STATE_CHECKING);
    for (size_t i = 0; i < a->nlocals && !a->closed; i++) {
      if (a->locals[i].c.type == MC_ICE_CAND_PRFLX || a->locals[i].stale) continue;
      a->locals[i].c.generation = 0;
      emit_local(a, (int)i);
    }
    if (a->gathered && a->cbs.on_gathering_done && !a->closed) a->cbs.on_gathering_done(a, a->user);
  }
  if (a->gather_done_pending && !a->closed) {
    a->gather_done_pending = false;
    a->gathering = false;
    a->gathered = true;
    a->stats.gather_done_ms = mc_now_ms();
    MC_LOGI(LOG, "gathering done candidates=%zu ms=%llu", a->nlocals,
            (unsigned long long)(a->stats.gather_done_ms - a->stats.gather_started_ms));
    if (a->cbs.on_gathering_done) a->cbs.on_gathering_done(a, a->user);
  }
  if (!a->closed) ice_checklist_tick(a, now, &next);
  if (!a->closed) ice_consent_tick(a, now, &next);
  uint64_t td = mc_stun_txn_next_deadline(a->txns);
  if (td < next) next = td;
  a->in_tick = false;
  arm(a, a->resched ? now : next);
}

/* ---- close ---- */

void mc_ice_agent_close(mc_ice_agent *a) {
  if (!a || a->closed) return;
  MC_LOGI(LOG, "agent close");
  ice_set_state(a, MC_ICE_STATE_CLOSED);
  a->closed = true;
  uv_timer_stop(&a->timer);
  for (size_t i = 0; i < a->nbases; i++) {
    if (a->bases[i].udp) mc_udp_close(a->bases[i].udp);
    a->bases[i].udp = NULL;
    if (a->bases[i].listener) mc_tcp_listener_close(a->bases[i].listener);
    a->bases[i].listener = NULL;
  }
  ice_tcp_close_all(a);
  for (size_t i = 0; i < a->nrelays; i++) {
    if (a->relays[i].turn) mc_turn_client_close(a->relays[i].turn);
    a->relays[i].turn = NULL;
    a->relays[i].allocated = false;
  }
  for (size_t i = 0; i < a->nservers; i++) {
    if (a->servers[i].resolve) mc_resolve_cancel(a->servers[i].resolve);
    a->servers[i].resolve = NULL;
  }
  while (a->mdns_head) {
    struct mdns_pending *p = a->mdns_head;
    a->mdns_head = p->next;
    mc_mdns_cancel(p->q);
    free(p);
  }
  if (a->responder) mc_mdns_responder_stop(a->responder);
  a->responder = NULL;
  while (a->txn_head) ice_txn_free(a, a->txn_head);
}

static void on_timer_closed(uv_handle_t *h) {
  mc_ice_agent *a = h->data;
  free(a);
}

static void really_free(mc_ice_agent *a) {
  ice_tcp_free_all(a);
  mc_stun_txn_table_free(a->txns);
  a->txns = NULL;
  for (size_t i = 0; i < ICE_MAX_SERVERS; i++) {
    free(a->servers[i].username);
    if (a->servers[i].credential) {
      memset(a->servers[i].credential, 0, strlen(a->servers[i].credential));
      free(a->servers[i].credential);
    }
  }
  memset(a->pwd, 0, sizeof a->pwd);
  memset(a->rpwd, 0, sizeof a->rpwd);
  memset(a->old_pwd, 0, sizeof a->old_pwd);
  uv_close((uv_handle_t *)&a->timer, on_timer_closed);
}

void mc_ice_agent_free(mc_ice_agent *a) {
  if (!a) return;
  mc_ice_agent_close(a);
  if (a->free_pending) return;
  a->free_pending = true;
  if (a->busy == 0) really_free(a);
}
