/* The checklist: pairs (RFC 8445 6.1.2), pacing and triggered checks
 * (6.1.4), answering checks (7.3), handling answers (7.2.5), peer-reflexive
 * candidates, role conflicts and nomination (8.1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ice/ice_private.h"

#define LOG "ice"

static const char *const pair_state_names[] = {"frozen", "waiting", "in-progress", "succeeded", "failed"};

static uint64_t pair_prio(const mc_ice_agent *a, int local, int remote) {
  uint32_t l = a->locals[local].c.priority, r = a->remotes[remote].c.priority;
  return a->role == MC_ICE_ROLE_CONTROLLING ? mc_ice_pair_priority(l, r) : mc_ice_pair_priority(r, l);
}

static const char *pair_desc(const mc_ice_agent *a, int i, char *buf, size_t cap) {
  const struct ice_pair *p = &a->pairs[i];
  char ls[MC_ADDR_STRLEN], rs[MC_ADDR_STRLEN];
  const struct ice_local *l = &a->locals[p->valid_local >= 0 ? p->valid_local : p->local];
  const struct ice_remote *r = &a->remotes[p->remote];
  snprintf(buf, cap, "local=%s:%s remote=%s:%s", mc_ice_cand_type_name(l->c.type), mc_addr_str(&l->c.addr, ls),
           mc_ice_cand_type_name(r->c.type), mc_addr_str(&r->c.addr, rs));
  return buf;
}

static void set_pair_state(mc_ice_agent *a, int i, enum pair_state s) {
  struct ice_pair *p = &a->pairs[i];
  if (p->state == s) return;
  if (mc_log_get_level() <= MC_LOG_DEBUG) {
    char d[200];
    MC_LOGD(LOG, "pair %s from=%s to=%s", pair_desc(a, i, d, sizeof d), pair_state_names[p->state],
            pair_state_names[s]);
  }
  p->state = s;
}

int ice_find_remote(const mc_ice_agent *a, const mc_addr *addr, enum mc_ice_transport transport) {
  for (size_t i = 0; i < a->nremotes; i++)
    if (a->remotes[i].c.transport == transport && mc_addr_equal(&a->remotes[i].c.addr, addr)) return (int)i;
  return -1;
}

static enum mc_ice_transport rx_transport(const mc_ice_agent *a) {
  return ice_base_is_tcp(a, a->rx_base) ? MC_ICE_TRANSPORT_TCP : MC_ICE_TRANSPORT_UDP;
}

static bool is_relay_pair(const mc_ice_agent *a, const struct ice_pair *p) {
  const struct ice_local *l = &a->locals[p->valid_local >= 0 ? p->valid_local : p->local];
  return l->c.type == MC_ICE_CAND_RELAY || a->remotes[p->remote].c.type == MC_ICE_CAND_RELAY;
}

static bool selected_in_checklist(const mc_ice_agent *a) { return a->sel.set && a->sel.pair >= 0; }

/* RFC 8445 6.1.2.2: pair local and remote candidates of the same component
 * and address family. Local srflx candidates are represented by their base
 * (6.1.2.4), so only host and relay candidates pair. Loopback pairs only
 * with loopback: from a socket bound to 127.0.0.1 nothing else is reachable. */
static bool can_pair(const mc_ice_agent *a, int local, int remote) {
  const struct ice_local *l = &a->locals[local];
  const struct ice_remote *r = &a->remotes[remote];
  if (l->c.type != MC_ICE_CAND_HOST && l->c.type != MC_ICE_CAND_RELAY) return false;
  if (l->stale) return false;
  if (a->cfg.relay_only && l->c.type != MC_ICE_CAND_RELAY) return false;
  if (r->c.transport != l->c.transport) return false;
  if (l->c.transport == MC_ICE_TRANSPORT_TCP) {
    /* RFC 6544 6.2: an active candidate pairs with a passive one and the
     * other way round (simultaneous-open is not done). Our passive side
     * pairs only with an active candidate that reached it: the
     * peer-reflexive one learned on an accepted connection; a signalled
     * active candidate (port 9) is never a destination. */
    if (l->c.tcptype == MC_ICE_TCPTYPE_ACTIVE) {
      if (r->c.tcptype != MC_ICE_TCPTYPE_PASSIVE) return false;
    } else if (l->c.tcptype == MC_ICE_TCPTYPE_PASSIVE) {
      if (r->c.tcptype != MC_ICE_TCPTYPE_ACTIVE || !ice_tcp_conn_usable(a, l->base, &r->c.addr)) return false;
    } else {
      return false;
    }
  }
  int fam = mc_addr_family(&r->c.addr);
  if (fam == AF_UNSPEC || fam != mc_addr_family(&l->c.addr)) return false;
  if (mc_addr_port(&r->c.addr) == 0) return false;
  if (mc_addr_is_loopback(&l->c.addr) != mc_addr_is_loopback(&r->c.addr)) return false;
  if (mc_addr_is_link_local(&r->c.addr) || mc_addr_is_any(&r->c.addr)) return false;
  return true;
}

static int find_pair(const mc_ice_agent *a, int local, int remote) {
  for (size_t i = 0; i < a->npairs; i++)
    if (a->pairs[i].local == local && a->pairs[i].remote == remote) return (int)i;
  return -1;
}

static bool foundation_active(const mc_ice_agent *a, const char *foundation, int except) {
  for (size_t i = 0; i < a->npairs; i++) {
    if ((int)i == except) continue;
    const struct ice_pair *p = &a->pairs[i];
    if ((p->state == PAIR_WAITING || p->state == PAIR_IN_PROGRESS) && strcmp(p->foundation, foundation) == 0)
      return true;
  }
  return false;
}

static int add_pair(mc_ice_agent *a, int local, int remote) {
  if (!can_pair(a, local, remote)) return -1;
  int existing = find_pair(a, local, remote);
  if (existing >= 0) return existing;
  if (a->npairs == ICE_MAX_PAIRS) {
    MC_LOGW(LOG, "checklist full, pair dropped pairs=%zu", a->npairs);
    return -1;
  }
  int i = (int)a->npairs++;
  struct ice_pair *p = &a->pairs[i];
  memset(p, 0, sizeof *p);
  p->local = local;
  p->remote = remote;
  p->valid_local = -1;
  p->priority = pair_prio(a, local, remote);
  size_t lf = strlen(a->locals[local].c.foundation), rf = strlen(a->remotes[remote].c.foundation);
  memcpy(p->foundation, a->locals[local].c.foundation, lf);
  p->foundation[lf] = ':';
  memcpy(p->foundation + lf + 1, a->remotes[remote].c.foundation, rf + 1);
  /* RFC 8445 6.1.2.6 and RFC 8838 11: one pair per foundation is Waiting,
   * the rest Frozen until a pair of their foundation succeeds (7.2.5.3.3) or
   * nothing else is left to check (6.1.4.2). */
  p->state = foundation_active(a, p->foundation, i) ? PAIR_FROZEN : PAIR_WAITING;
  const struct ice_local *l = &a->locals[local];
  if (l->relay >= 0) {
    bool failed;
    ice_relay_permitted(a, l->relay, &a->remotes[remote].c.addr, &failed);
  }
  a->stats.pairs = a->npairs;
  if (mc_log_get_level() <= MC_LOG_DEBUG) {
    char d[200];
    MC_LOGD(LOG, "pair added %s state=%s prio=%llu", pair_desc(a, i, d, sizeof d), pair_state_names[p->state],
            (unsigned long long)p->priority);
  }
  return i;
}

void ice_pairs_add_for_remote(mc_ice_agent *a, int remote) {
  for (size_t l = 0; l < a->nlocals; l++) add_pair(a, (int)l, remote);
  ice_schedule(a);
}

void ice_pairs_add_for_local(mc_ice_agent *a, int local) {
  for (size_t r = 0; r < a->nremotes; r++) add_pair(a, local, (int)r);
  ice_schedule(a);
}

void ice_pairs_recompute_priorities(mc_ice_agent *a) {
  for (size_t i = 0; i < a->npairs; i++) a->pairs[i].priority = pair_prio(a, a->pairs[i].local, a->pairs[i].remote);
}

int ice_remote_add(mc_ice_agent *a, const mc_ice_candidate *c, int only_local) {
  int r = ice_find_remote(a, &c->addr, c->transport);
  if (r >= 0) {
    struct ice_remote *o = &a->remotes[r];
    /* RFC 8838 11.4 (and 8445 7.3.1.3): a signalled candidate replaces the
     * peer-reflexive one learned first, keeping its pairs and their state. */
    if (o->c.type == MC_ICE_CAND_PRFLX && c->type != MC_ICE_CAND_PRFLX) {
      o->c = *c;
      ice_pairs_recompute_priorities(a);
      for (size_t l = 0; l < a->nlocals; l++) add_pair(a, (int)l, r);
      ice_schedule(a);
    }
    return r;
  }
  if (a->nremotes == ICE_MAX_REMOTE) {
    MC_LOGW(LOG, "too many remote candidates, one dropped");
    return -1;
  }
  r = (int)a->nremotes++;
  struct ice_remote *rc = &a->remotes[r];
  rc->c = *c;
  rc->added_ms = mc_now_ms();
  a->stats.remote_candidates = a->nremotes;
  char as[MC_ADDR_STRLEN];
  MC_LOGI(LOG, "remote candidate type=%s addr=%s prio=%u", mc_ice_cand_type_name(c->type),
          mc_addr_str(&c->addr, as), (unsigned)c->priority);
  if (only_local >= 0) {
    add_pair(a, only_local, r);
    ice_schedule(a);
  } else {
    ice_pairs_add_for_remote(a, r);
  }
  return r;
}

void ice_checklist_clear(mc_ice_agent *a) {
  struct ice_txn *t = a->txn_head;
  while (t) {
    struct ice_txn *next = t->next;
    if (t->kind == TXN_CHECK) ice_txn_free(a, t);
    t = next;
  }
  a->npairs = 0;
  a->ntriggered = 0;
  a->nominating = -1;
  a->relay_grace_deadline = 0;
  a->sel.pair = -1;
  a->data_pair = -1;
  a->writable_reported = false;
  a->stats.pairs = 0;
}

static void enqueue_triggered(mc_ice_agent *a, int i) {
  struct ice_pair *p = &a->pairs[i];
  if (p->in_triggered || a->ntriggered == ICE_MAX_PAIRS) return;
  p->in_triggered = true;
  a->triggered[a->ntriggered++] = i;
}

void ice_relay_permission_changed(mc_ice_agent *a, int relay) {
  for (size_t i = 0; i < a->npairs; i++) {
    struct ice_pair *p = &a->pairs[i];
    if (a->locals[p->local].relay != relay) continue;
    bool failed;
    ice_relay_permitted(a, relay, &a->remotes[p->remote].c.addr, &failed);
    if (failed && p->state != PAIR_SUCCEEDED) set_pair_state(a, (int)i, PAIR_FAILED);
  }
  ice_schedule(a);
}

/* ---- building and sending checks (RFC 8445 7.2.2) ---- */

static uint32_t prflx_priority(const mc_ice_agent *a, int local) {
  /* RFC 8445 7.1.1: PRIORITY is what a prflx candidate from this base would
   * get; RFC 6544 4.2: over TCP with the local preference of the candidate
   * the check leaves from (its direction). */
  const struct ice_local *l = &a->locals[local];
  uint8_t tp = l->c.transport == MC_ICE_TRANSPORT_TCP ? MC_ICE_TYPE_PREF_PRFLX_TCP : MC_ICE_TYPE_PREF_PRFLX;
  return mc_ice_candidate_priority(tp, l->local_pref, 1);
}

/* RFC 8445 7.1: USERNAME "remote-ufrag:local-ufrag", PRIORITY, the role
 * with our tie-breaker, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY
 * keyed with the peer's password, FINGERPRINT. */
int ice_build_binding_request(mc_ice_agent *a, uint8_t *buf, size_t cap, uint32_t prio, bool use_candidate) {
  char username[2 * MC_ICE_UFRAG_MAX + 2];
  snprintf(username, sizeof username, "%s:%s", a->rufrag, a->ufrag);
  mc_stun_writer w;
  mc_stun_begin(&w, buf, cap, MC_STUN_BINDING, MC_STUN_REQUEST, NULL);
  mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, username);
  mc_stun_put_u32(&w, MC_STUN_ATTR_PRIORITY, prio);
  if (a->role == MC_ICE_ROLE_CONTROLLING) {
    mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLING, a->tiebreaker);
    if (use_candidate) mc_stun_put_flag(&w, MC_STUN_ATTR_USE_CANDIDATE);
  } else {
    mc_stun_put_u64(&w, MC_STUN_ATTR_ICE_CONTROLLED, a->tiebreaker);
  }
  mc_stun_put_integrity(&w, (const uint8_t *)a->rpwd, strlen(a->rpwd));
  mc_stun_put_fingerprint(&w);
  return mc_stun_finish(&w);
}

void ice_send_check(mc_ice_agent *a, int i, bool use_candidate) {
  struct ice_pair *p = &a->pairs[i];
  const struct ice_local *l = &a->locals[p->local];
  uint8_t buf[512];
  int n = ice_build_binding_request(a, buf, sizeof buf, prflx_priority(a, p->local), use_candidate);
  if (n < 0) return;
  struct ice_txn *t = ice_txn_new(a, TXN_CHECK);
  if (!t) return;
  t->base = l->base;
  t->relay = l->relay;
  t->dest = a->remotes[p->remote].c.addr;
  t->pair = i;
  t->use_candidate = use_candidate;
  t->role = a->role;
  t->remote_gen = a->remote_gen;
  /* An older transaction on this pair keeps running: its answer counts too
   * (RFC 8445 7.3.1.4 asks to keep waiting for it). */
  p->txn = t;
  /* A nomination re-checks a pair that already succeeded: it stays valid. */
  if (p->state != PAIR_SUCCEEDED) set_pair_state(a, i, PAIR_IN_PROGRESS);
  uint64_t now = mc_now_ms();
  if (a->stats.checks_started_ms == 0) a->stats.checks_started_ms = now;
  a->stats.checks_sent++;
  if (mc_log_get_level() <= MC_LOG_DEBUG) {
    char d[200];
    MC_LOGD(LOG, "check %s use_candidate=%d role=%s", pair_desc(a, i, d, sizeof d), (int)use_candidate,
            mc_ice_role_name(a->role));
  }
  /* RFC 6544 7.1 with RFC 8489 6.2.2: over a TCP connection a check is not
   * retransmitted; it fails with the connection or after Ti (39.5 s). */
  bool reliable = ice_base_is_tcp(a, l->base);
  if (mc_stun_txn_start(a->txns, buf, (size_t)n, a->set.check_rto_ms, reliable, t, now) != 0) {
    ice_txn_free(a, t);
    set_pair_state(a, i, PAIR_FAILED);
    return;
  }
  if (a->state == MC_ICE_STATE_NEW || (a->state == MC_ICE_STATE_FAILED && !a->consent_lost && !a->sel.set))
    ice_set_state(a, MC_ICE_STATE_CHECKING);
}

/* ---- selection and nomination (RFC 8445 8.1) ---- */

static void select_pair(mc_ice_agent *a, int i) {
  struct ice_pair *p = &a->pairs[i];
  if (selected_in_checklist(a)) {
    if (a->sel.pair == i) return;
    /* Aggressive nomination may nominate several pairs: the highest
     * priority nominated pair carries media (RFC 5245 8.1.1.2). */
    if (a->pairs[a->sel.pair].priority >= p->priority) return;
  }
  const struct ice_local *base = &a->locals[p->local];
  const struct ice_local *vl = &a->locals[p->valid_local >= 0 ? p->valid_local : p->local];
  const struct ice_remote *r = &a->remotes[p->remote];
  a->sel.set = true;
  a->sel.base = base->base;
  a->sel.relay = base->relay;
  a->sel.remote = r->c.addr;
  a->sel.local_c = vl->c;
  a->sel.remote_c = r->c;
  a->sel.pair = i;
  a->restarting = false;
  a->remote_fresh = false;
  a->old_ufrag[0] = '\0';
  memset(a->old_pwd, 0, sizeof a->old_pwd);
  a->consent_lost = false;
  uint64_t now = mc_now_ms();
  a->stats.selected_ms = now;
  if (base->relay >= 0 && a->relays[base->relay].turn) {
    /* RFC 8656 12: media through the relay takes the ChannelData path. */
    mc_turn_channel_bind(a->relays[base->relay].turn, &r->c.addr);
  }
  char d[200];
  MC_LOGI(LOG, "selected pair %s relay_transport=%s ms=%llu", pair_desc(a, i, d, sizeof d),
          base->relay >= 0 ? mc_turn_transport_name(a->relays[base->relay].transport) : "-",
          (unsigned long long)(a->stats.checks_started_ms ? now - a->stats.checks_started_ms : 0));
  /* RFC 8445 8.1.2: once a pair is nominated, Waiting and Frozen pairs are
   * dropped and lower-priority checks stop retransmitting. */
  struct ice_txn *tx = a->txn_head;
  while (tx) {
    struct ice_txn *next = tx->next;
    if (tx->kind == TXN_CHECK && tx->pair != i && tx->pair >= 0 && a->pairs[tx->pair].priority < p->priority)
      ice_txn_free(a, tx);
    tx = next;
  }
  for (size_t k = 0; k < a->npairs; k++) {
    struct ice_pair *q = &a->pairs[k];
    if ((int)k == i || q->state == PAIR_SUCCEEDED || q->state == PAIR_FAILED) continue;
    if (q->state != PAIR_IN_PROGRESS || q->priority < p->priority) set_pair_state(a, (int)k, PAIR_FAILED);
  }
  ice_consent_start(a);
  if (a->cbs.on_selected_pair && !a->closed) a->cbs.on_selected_pair(a, &a->sel.local_c, &a->sel.remote_c, a->user);
  if (a->state != MC_ICE_STATE_COMPLETED) ice_set_state(a, MC_ICE_STATE_CONNECTED);
}

static void nominate(mc_ice_agent *a, int i) {
  struct ice_pair *p = &a->pairs[i];
  char d[200];
  MC_LOGI(LOG, "nominating %s", pair_desc(a, i, d, sizeof d));
  p->nominating = true;
  a->nominating = i;
  a->relay_grace_deadline = 0;
  ice_send_check(a, i, true);
}

int ice_best_valid(const mc_ice_agent *a, bool direct_only) {
  int best = -1;
  for (size_t i = 0; i < a->npairs; i++) {
    const struct ice_pair *p = &a->pairs[i];
    if (p->state != PAIR_SUCCEEDED) continue;
    bool relay = is_relay_pair(a, p);
    if (direct_only && relay) continue;
    if (best < 0) {
      best = (int)i;
      continue;
    }
    bool brelay = is_relay_pair(a, &a->pairs[best]);
    if (brelay != relay ? !relay : p->priority > a->pairs[best].priority) best = (int)i;
  }
  return best;
}

/* RFC 8445 8.1.1 leaves the moment of nomination to the controlling agent.
 * A direct pair is nominated as soon as it succeeds: waiting for a "better"
 * one costs a call its join time. A relay pair gets a short grace for a
 * direct pair to succeed first. */
static void consider_nomination(mc_ice_agent *a, int i, uint64_t now, uint64_t rtt) {
  if (a->role != MC_ICE_ROLE_CONTROLLING || a->cfg.aggressive_nomination || a->test_hold_nomination) return;
  if (a->nominating >= 0 || selected_in_checklist(a)) return;
  if (!is_relay_pair(a, &a->pairs[i])) {
    nominate(a, i);
  } else if (a->relay_grace_deadline == 0) {
    /* The grace scales with the path: a direct pair that can work answers
     * within a few round trips of the relay pair's (a direct path is not
     * slower than one through the relay), so a fast network waits less. */
    uint64_t grace = MC_MAX((uint64_t)MC_ICE_RELAY_GRACE_MIN_MS, MC_ICE_RELAY_GRACE_RTTS * rtt);
    grace = MC_MIN(grace, (uint64_t)a->set.relay_nomination_grace_ms);
    a->relay_grace_deadline = now + grace;
    MC_LOGD(LOG, "relay pair succeeded, nomination in %llu ms unless a direct pair succeeds",
            (unsigned long long)grace);
  }
}

/* ---- answers to our checks (RFC 8445 7.2.5) ---- */

static int valid_local_for(mc_ice_agent *a, const struct ice_local *base, const mc_addr *mapped) {
  /* RFC 6544: an active candidate's port (9, 4.5) is not the one its
   * connection leaves from, so its mapped address differs in the port
   * alone; that is the active candidate itself, not a peer-reflexive one. */
  if (base->c.tcptype == MC_ICE_TCPTYPE_ACTIVE && mc_addr_ip_equal(&base->c.addr, mapped))
    return (int)(base - a->locals);
  for (size_t i = 0; i < a->nlocals; i++) {
    const struct ice_local *l = &a->locals[i];
    if (l->base == base->base && l->relay == base->relay && mc_addr_equal(&l->c.addr, mapped)) return (int)i;
  }
  return ice_add_prflx_local(a, base->base, base->relay, mapped);
}

void ice_check_done(mc_ice_agent *a, struct ice_txn *t, int err, const mc_stun_msg *m, const uint8_t *buf,
                    size_t len) {
  if (t->pair < 0 || (size_t)t->pair >= a->npairs) return;
  int i = t->pair;
  struct ice_pair *p = &a->pairs[i];
  bool current = p->txn == t;
  char d[200];
  if (err != 0) {
    /* A superseded transaction timing out says nothing: the newer one runs. */
    if (!current) return;
    if (p->nominating) {
      /* The nominating check went unanswered: the pair stopped working. */
      p->nominating = false;
      if (a->nominating == i) a->nominating = -1;
      MC_LOGI(LOG, "nomination timed out %s", pair_desc(a, i, d, sizeof d));
    } else if (p->state == PAIR_SUCCEEDED) {
      return;
    }
    MC_LOGD(LOG, "check timed out %s", pair_desc(a, i, d, sizeof d));
    set_pair_state(a, i, PAIR_FAILED);
    return;
  }
  if (t->remote_gen != a->remote_gen) return;
  /* RFC 8445 7.2.5.1: answers are authenticated with the peer's password;
   * anything else is discarded as if never received. */
  if (mc_stun_check_integrity(buf, len, m, (const uint8_t *)a->rpwd, strlen(a->rpwd)) != 0) {
    MC_LOGD(LOG, "check answer failed integrity, discarded");
    return;
  }
  if (m->cls == MC_STUN_ERROR) {
    if (m->error_code == 487) {
      /* RFC 8445 7.2.5.1: role conflict; switch if we still claim the role
       * the request carried, then retry the pair. */
      if (t->role == a->role) {
        a->role = a->role == MC_ICE_ROLE_CONTROLLING ? MC_ICE_ROLE_CONTROLLED : MC_ICE_ROLE_CONTROLLING;
        MC_LOGI(LOG, "role conflict (487): switched role=%s", mc_ice_role_name(a->role));
        ice_pairs_recompute_priorities(a);
        a->nominating = -1;
        a->relay_grace_deadline = 0;
        for (size_t k = 0; k < a->npairs; k++) a->pairs[k].nominating = false;
      }
      if (p->state != PAIR_SUCCEEDED) {
        set_pair_state(a, i, PAIR_WAITING);
        enqueue_triggered(a, i);
      }
      return;
    }
    MC_LOGD(LOG, "check error code=%u %s", (unsigned)m->error_code, pair_desc(a, i, d, sizeof d));
    if (current && p->state != PAIR_SUCCEEDED) set_pair_state(a, i, PAIR_FAILED);
    return;
  }
  /* RFC 8445 7.2.5.2.1: the answer must come from where the request went,
   * on the socket it left from. */
  if (a->rx_base != t->base || a->rx_relay != t->relay || !mc_addr_equal(&a->rx_from, &t->dest)) {
    MC_LOGD(LOG, "check answer not symmetric %s", pair_desc(a, i, d, sizeof d));
    if (p->state != PAIR_SUCCEEDED) set_pair_state(a, i, PAIR_FAILED);
    return;
  }
  if (!m->has_xor_mapped) return;
  uint64_t now = mc_now_ms();
  bool was = p->state == PAIR_SUCCEEDED;
  int vl = valid_local_for(a, &a->locals[p->local], &m->xor_mapped);
  if (vl < 0) vl = p->local;
  p->valid_local = vl;
  set_pair_state(a, i, PAIR_SUCCEEDED);
  p->consent_ms = now;
  if (!was) {
    p->succeeded_ms = now;
    MC_LOGI(LOG, "check succeeded %s rtt_ms=%llu", pair_desc(a, i, d, sizeof d),
            (unsigned long long)(now - t->sent_ms));
  }
  /* RFC 8445 12.1: "An ICE agent MAY send data on any valid pair before
   * selected pairs have been produced for the data stream." The first
   * valid pair lets DTLS start (and answer a ClientHello) without waiting
   * for the controlling agent's nomination. */
  if (!a->sel.set && !a->writable_reported) {
    a->writable_reported = true;
    if (a->cbs.on_writable && !a->closed) a->cbs.on_writable(a, a->user);
  }
  /* RFC 8445 7.2.5.3.3: pairs of the same foundation may now be checked. */
  for (size_t k = 0; k < a->npairs; k++)
    if (a->pairs[k].state == PAIR_FROZEN && strcmp(a->pairs[k].foundation, p->foundation) == 0)
      set_pair_state(a, (int)k, PAIR_WAITING);
  if (a->role == MC_ICE_ROLE_CONTROLLING && t->use_candidate) {
    /* RFC 8445 7.2.5.3.4: a successful check with USE-CANDIDATE nominates. */
    p->nominated = true;
    p->nominating = false;
    if (a->nominating == i) a->nominating = -1;
    select_pair(a, i);
  } else if (a->role == MC_ICE_ROLE_CONTROLLED && p->nominate_on_success) {
    /* RFC 8445 7.3.1.5: nominated by the peer before our check succeeded. */
    p->nominated = true;
    select_pair(a, i);
  } else {
    consider_nomination(a, i, now, now - t->sent_ms);
  }
}

/* ---- data before selection (RFC 8445 12.1) ---- */

static bool pair_consent_fresh(const mc_ice_agent *a, const struct ice_pair *p, uint64_t now) {
  /* RFC 7675 5.1: consent comes from an answered check and lasts 30 s;
   * before selection no consent checks run, so the check's answer is it. */
  return p->state == PAIR_SUCCEEDED && now - p->consent_ms < a->set.consent_timeout_ms;
}

int ice_presel_pair(mc_ice_agent *a, uint64_t now) {
  if (a->sel.set) return -1;
  /* Back where the peer's data came from: that is the pair the peer uses,
   * so a DTLS answer reaches the peer on the path its ClientHello took. */
  if (a->data_pair >= 0 && (size_t)a->data_pair < a->npairs &&
      pair_consent_fresh(a, &a->pairs[a->data_pair], now))
    return a->data_pair;
  int best = ice_best_valid(a, false);
  return best >= 0 && pair_consent_fresh(a, &a->pairs[best], now) ? best : -1;
}

void ice_data_heard(mc_ice_agent *a, int base, int relay, const mc_addr *from) {
  if (a->sel.set) return;
  uint64_t now = mc_now_ms();
  bool have = a->data_pair >= 0 && (size_t)a->data_pair < a->npairs &&
              pair_consent_fresh(a, &a->pairs[a->data_pair], now);
  for (size_t i = 0; i < a->npairs; i++) {
    const struct ice_pair *p = &a->pairs[i];
    const struct ice_local *l = &a->locals[p->local];
    if (l->base != base || l->relay != relay || !mc_addr_equal(&a->remotes[p->remote].c.addr, from)) continue;
    /* A pair our check has not proven yet (the peer's ClientHello often
     * beats our triggered check) is remembered too: it is used as soon as
     * it succeeds, unless data meanwhile came on a valid one. */
    if (p->state == PAIR_SUCCEEDED || !have) a->data_pair = (int)i;
    return;
  }
}

/* During a restart the checks may have gone into an outage and backed off
 * (RTO doubling: 0.5, 1, 2, 4 s apart). A datagram from a pair's remote on
 * its socket (media on the old pair, often the same 5-tuple) says the path
 * is back: check that pair again now instead of at the next retransmission.
 * At most once per MC_ICE_HEARD_RECHECK_MS per pair; the older transaction
 * keeps running (its answer counts too). */
void ice_path_heard(mc_ice_agent *a, int base, int relay, const mc_addr *from, uint64_t now) {
  if (!a->restarting || selected_in_checklist(a) || !a->has_remote_creds) return;
  for (size_t i = 0; i < a->npairs; i++) {
    struct ice_pair *p = &a->pairs[i];
    const struct ice_local *l = &a->locals[p->local];
    if (l->base != base || l->relay != relay || p->in_triggered) continue;
    if (p->state != PAIR_IN_PROGRESS && p->state != PAIR_FAILED) continue;
    if (p->txn && now - p->txn->sent_ms < MC_ICE_HEARD_RECHECK_MS) continue;
    if (!mc_addr_equal(&a->remotes[p->remote].c.addr, from)) continue;
    if (p->state == PAIR_FAILED) set_pair_state(a, (int)i, PAIR_WAITING);
    MC_LOGD(LOG, "path heard, checking again pair=%zu", i);
    enqueue_triggered(a, (int)i);
    ice_schedule(a);
  }
}

/* ---- incoming checks (RFC 8445 7.3) ---- */

static void respond(mc_ice_agent *a, const mc_stun_msg *m, uint16_t code, const char *reason, const char *key) {
  uint8_t buf[512];
  mc_stun_writer w;
  mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, code ? MC_STUN_ERROR : MC_STUN_SUCCESS, m->txid);
  if (code) {
    mc_stun_put_error(&w, code, reason);
    if (code == 420) mc_stun_put_unknown(&w, m->unknown_required, m->unknown_required_count);
  } else {
    mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, &a->rx_from);
  }
  if (key) mc_stun_put_integrity(&w, (const uint8_t *)key, strlen(key));
  mc_stun_put_fingerprint(&w);
  int n = mc_stun_finish(&w);
  if (n > 0) ice_route_send(a, a->rx_base, a->rx_relay, &a->rx_from, buf, (size_t)n);
}

static int local_for_rx(const mc_ice_agent *a) {
  for (size_t i = 0; i < a->nlocals; i++) {
    const struct ice_local *l = &a->locals[i];
    if (l->c.type != MC_ICE_CAND_HOST && l->c.type != MC_ICE_CAND_RELAY) continue;
    if (l->stale) continue;
    if (l->base == a->rx_base && l->relay == a->rx_relay) return (int)i;
  }
  return -1;
}

void ice_handle_request(mc_ice_agent *a, const mc_stun_msg *m, const uint8_t *buf, size_t len) {
  a->stats.checks_received++;
  char fs[MC_ADDR_STRLEN];
  /* RFC 8489 6.3.1: unknown comprehension-required attributes: 420. */
  if (m->unknown_required_count > 0) {
    respond(a, m, 420, "Unknown Attribute", NULL);
    return;
  }
  /* RFC 8445 7.3 with RFC 8489 9.1.3: short-term credentials. */
  if (!m->has_username || m->integrity_offset == 0) {
    respond(a, m, 400, "Bad Request", NULL);
    return;
  }
  const char *colon = strchr(m->username, ':');
  size_t ulen = colon ? (size_t)(colon - m->username) : strlen(m->username);
  const char *key = NULL;
  bool old = false;
  if (ulen == strlen(a->ufrag) && memcmp(m->username, a->ufrag, ulen) == 0) {
    key = a->pwd;
  } else if (a->old_ufrag[0] && ulen == strlen(a->old_ufrag) && memcmp(m->username, a->old_ufrag, ulen) == 0) {
    /* The old credentials answer consent on the old pair during a restart. */
    key = a->old_pwd;
    old = true;
  }
  if (!key || mc_stun_check_integrity(buf, len, m, (const uint8_t *)key, strlen(key)) != 0) {
    MC_LOGD(LOG, "check rejected (401) from=%s", mc_addr_str(&a->rx_from, fs));
    respond(a, m, 401, "Unauthorized", NULL);
    return;
  }
  if (!old) {
    /* RFC 8445 7.3.1.1: role conflict, decided by the tie-breakers. */
    if (a->role == MC_ICE_ROLE_CONTROLLING && m->has_ice_controlling) {
      if (a->tiebreaker >= m->ice_tiebreaker) {
        MC_LOGI(LOG, "role conflict: both controlling, we keep it (487)");
        respond(a, m, 487, "Role Conflict", key);
        return;
      }
      a->role = MC_ICE_ROLE_CONTROLLED;
      MC_LOGI(LOG, "role conflict: both controlling, switched role=controlled");
      ice_pairs_recompute_priorities(a);
      a->nominating = -1;
      a->relay_grace_deadline = 0;
      for (size_t k = 0; k < a->npairs; k++) a->pairs[k].nominating = false;
    } else if (a->role == MC_ICE_ROLE_CONTROLLED && m->has_ice_controlled) {
      if (a->tiebreaker >= m->ice_tiebreaker) {
        a->role = MC_ICE_ROLE_CONTROLLING;
        MC_LOGI(LOG, "role conflict: both controlled, switched role=controlling");
        ice_pairs_recompute_priorities(a);
      } else {
        MC_LOGI(LOG, "role conflict: both controlled, peer must switch (487)");
        respond(a, m, 487, "Role Conflict", key);
        return;
      }
    }
  }
  respond(a, m, 0, NULL, key);
  if (old) return;

  int local = local_for_rx(a);
  if (local < 0) return;
  int r = ice_find_remote(a, &a->rx_from, rx_transport(a));
  if (r < 0) {
    /* RFC 8445 7.3.1.3: a request from an address we were not told about
     * is a peer-reflexive remote candidate with the PRIORITY it carries. */
    mc_ice_candidate c;
    memset(&c, 0, sizeof c);
    c.component = 1;
    c.transport = rx_transport(a);
    /* RFC 6544 7.2: a check arriving on a connection our passive
     * candidate accepted comes from the peer's active candidate. */
    if (c.transport == MC_ICE_TRANSPORT_TCP) c.tcptype = MC_ICE_TCPTYPE_ACTIVE;
    c.type = MC_ICE_CAND_PRFLX;
    c.addr = a->rx_from;
    c.port = mc_addr_port(&a->rx_from);
    c.priority = m->has_priority ? m->priority : mc_ice_candidate_priority(MC_ICE_TYPE_PREF_PRFLX, 0, 1);
    c.generation = c.network_id = c.network_cost = -1;
    mc_random_ice_chars(c.foundation, 8);
    mc_addr_ip_str(&a->rx_from, c.host);
    r = ice_remote_add(a, &c, local);
    if (r < 0) return;
  }
  int i = find_pair(a, local, r);
  if (i < 0) i = add_pair(a, local, r);
  if (i < 0) return;
  struct ice_pair *p = &a->pairs[i];
  /* RFC 8445 7.3.1.4: triggered check. */
  switch (p->state) {
    case PAIR_SUCCEEDED: break;
    case PAIR_IN_PROGRESS:
    case PAIR_WAITING:
    case PAIR_FROZEN:
    case PAIR_FAILED:
      if (p->state != PAIR_IN_PROGRESS) set_pair_state(a, i, PAIR_WAITING);
      enqueue_triggered(a, i);
      break;
  }
  /* RFC 8445 7.3.1.5: USE-CANDIDATE nominates, now or when our check succeeds. */
  if (m->has_use_candidate && a->role == MC_ICE_ROLE_CONTROLLED) {
    if (p->state == PAIR_SUCCEEDED) {
      if (!p->nominated) MC_LOGD(LOG, "nominated by peer");
      p->nominated = true;
      select_pair(a, i);
    } else {
      p->nominate_on_success = true;
    }
  }
  ice_schedule(a);
}

/* ---- pacing (RFC 8445 6.1.4.2) ---- */

static bool pair_ready(mc_ice_agent *a, int i) {
  struct ice_pair *p = &a->pairs[i];
  const struct ice_local *l = &a->locals[p->local];
  if (l->relay >= 0) {
    bool failed;
    bool ok = ice_relay_permitted(a, l->relay, &a->remotes[p->remote].c.addr, &failed);
    if (failed) {
      set_pair_state(a, i, PAIR_FAILED);
      return false;
    }
    return ok;
  }
  return true;
}

static int pick_check(mc_ice_agent *a, bool *triggered) {
  *triggered = true;
  for (size_t k = 0; k < a->ntriggered; k++) {
    int i = a->triggered[k];
    struct ice_pair *p = &a->pairs[i];
    if ((p->state == PAIR_WAITING || p->state == PAIR_IN_PROGRESS) && !pair_ready(a, i)) continue;
    memmove(&a->triggered[k], &a->triggered[k + 1], (a->ntriggered - k - 1) * sizeof a->triggered[0]);
    a->ntriggered--;
    p->in_triggered = false;
    if (p->state == PAIR_WAITING || p->state == PAIR_IN_PROGRESS) return i;
    k--;
  }
  *triggered = false;
  /* Ordinary checks stop once a pair is selected (RFC 8445 8.1.2, 8.3). */
  if (selected_in_checklist(a)) return -1;
  for (int round = 0; round < 2; round++) {
    int best = -1;
    for (size_t i = 0; i < a->npairs; i++) {
      struct ice_pair *p = &a->pairs[i];
      if (p->state != PAIR_WAITING) continue;
      if (best >= 0 && p->priority <= a->pairs[best].priority) continue;
      if (!pair_ready(a, (int)i)) continue;
      best = (int)i;
    }
    if (best >= 0) return best;
    /* Nothing Waiting: unfreeze Frozen pairs whose foundation is idle. */
    bool any = false;
    for (size_t i = 0; i < a->npairs; i++) {
      struct ice_pair *p = &a->pairs[i];
      if (p->state == PAIR_FROZEN && !foundation_active(a, p->foundation, (int)i)) {
        set_pair_state(a, (int)i, PAIR_WAITING);
        any = true;
      }
    }
    if (!any) break;
  }
  return -1;
}

static bool work_left(const mc_ice_agent *a) {
  if (a->ntriggered > 0) return true;
  for (size_t i = 0; i < a->npairs; i++) {
    enum pair_state s = a->pairs[i].state;
    if (s == PAIR_IN_PROGRESS) return true;
    if (!selected_in_checklist(a) && (s == PAIR_WAITING || s == PAIR_FROZEN)) return true;
  }
  return false;
}

void ice_checklist_tick(mc_ice_agent *a, uint64_t now, uint64_t *next) {
  if (a->has_remote_creds && now >= a->next_check_ms) {
    bool triggered;
    int i = pick_check(a, &triggered);
    if (i >= 0) {
      bool uc = a->role == MC_ICE_ROLE_CONTROLLING &&
                (a->cfg.aggressive_nomination || a->pairs[i].nominating);
      ice_send_check(a, i, uc);
      a->next_check_ms = now + a->set.ta_ms;
    }
  }
  /* Is there more to send? Then wake at the next pacing slot. */
  if (a->has_remote_creds) {
    /* Pairs waiting for a TURN permission do not count: its answer
     * schedules a tick. */
    bool more = false;
    for (size_t k = 0; k < a->ntriggered && !more; k++) more = pair_ready(a, a->triggered[k]);
    for (size_t i = 0; i < a->npairs && !more; i++) {
      enum pair_state s = a->pairs[i].state;
      more = !selected_in_checklist(a) && (s == PAIR_WAITING || s == PAIR_FROZEN) && pair_ready(a, (int)i);
    }
    if (more) *next = MC_MIN(*next, MC_MAX(a->next_check_ms, now));
  }

  /* Controlling, regular nomination: the relay grace ran out, or every
   * check is done; nominate the best valid pair. */
  if (a->role == MC_ICE_ROLE_CONTROLLING && !a->cfg.aggressive_nomination && a->nominating < 0 &&
      !selected_in_checklist(a) && !a->test_hold_nomination) {
    int direct = ice_best_valid(a, true);
    if (direct >= 0) {
      nominate(a, direct);
    } else {
      int best = ice_best_valid(a, false);
      if (best >= 0) {
        if (a->relay_grace_deadline == 0) a->relay_grace_deadline = now + a->set.relay_nomination_grace_ms;
        /* Nothing left to check ends the grace early only once the peer
         * said end-of-candidates: before, its better relay candidates may
         * still be on their way (a TURN pool: the peer's relay on the
         * preferred server trickles in a little after another one, and
         * its checks cannot reach us before our relay has a permission
         * for its address). Seen in the lab: both pairs through the
         * peer's second server checked, nominated 11 ms into a 100 ms
         * grace, the peer's preferred relay arriving 32 ms later. */
        if (now >= a->relay_grace_deadline || (a->remote_eoc && !work_left(a))) nominate(a, best);
        else *next = MC_MIN(*next, a->relay_grace_deadline);
      }
    }
  }

  /* Completed: selected, nothing left to check, both sides done gathering. */
  if (selected_in_checklist(a) && a->state == MC_ICE_STATE_CONNECTED && a->remote_eoc && a->gathered &&
      !work_left(a))
    ice_set_state(a, MC_ICE_STATE_COMPLETED);

  /* Failed: no pair can succeed any more (RFC 8445 8.1.2 / RFC 8838 8):
   * every pair failed, both sides finished gathering, or the peer stayed
   * silent about more candidates for eoc_wait_ms. */
  if (!a->sel.set && a->has_remote_creds && a->gathered && !a->mdns_head && a->state != MC_ICE_STATE_FAILED) {
    bool all_failed = true;
    for (size_t i = 0; i < a->npairs && all_failed; i++) all_failed = a->pairs[i].state == PAIR_FAILED;
    if (all_failed && a->ntriggered == 0) {
      /* With no pair at all (every candidate dropped, e.g. unresolvable
       * .local names) a peer-reflexive path may still appear when the peer's
       * checks arrive, so even end-of-candidates waits for eoc_wait_ms. */
      uint64_t deadline = a->last_remote_cand_ms + a->set.eoc_wait_ms;
      if ((a->remote_eoc && a->npairs > 0) || now >= deadline) {
        MC_LOGW(LOG, "all pairs failed pairs=%zu remote_eoc=%d", a->npairs, (int)a->remote_eoc);
        ice_set_state(a, MC_ICE_STATE_FAILED);
      } else {
        *next = MC_MIN(*next, deadline);
      }
    }
  }
}

void ice_tcp_route_failed(mc_ice_agent *a, int base, const mc_addr *remote) {
  for (size_t i = 0; i < a->npairs; i++) {
    struct ice_pair *p = &a->pairs[i];
    if (a->locals[p->local].base != base || !mc_addr_equal(&a->remotes[p->remote].c.addr, remote)) continue;
    if (a->remotes[p->remote].c.transport != MC_ICE_TRANSPORT_TCP) continue;
    /* Its checks can no longer be answered: stop waiting for them. */
    struct ice_txn *t = a->txn_head;
    while (t) {
      struct ice_txn *next = t->next;
      if (t->kind == TXN_CHECK && t->pair == (int)i) ice_txn_free(a, t);
      t = next;
    }
    if (p->state != PAIR_SUCCEEDED) set_pair_state(a, (int)i, PAIR_FAILED);
    if (p->nominating) {
      p->nominating = false;
      if (a->nominating == (int)i) a->nominating = -1;
    }
  }
  ice_schedule(a);
}
