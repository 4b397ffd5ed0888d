/* Consent freshness (RFC 7675) and keepalives (RFC 8445 11) on the selected
 * pair. */
#include <string.h>

#include "ice/ice_private.h"

#define LOG "ice"

/* RFC 7675 5.1: the interval is randomised to 0.8..1.2 of the base so
 * consent checks of many flows do not synchronise. */
static uint64_t consent_interval(const mc_ice_agent *a) {
  uint64_t base = a->set.consent_interval_ms;
  return base * 8 / 10 + (base ? mc_random_u32() % (base * 4 / 10 + 1) : 0);
}

void ice_consent_start(mc_ice_agent *a) {
  uint64_t now = mc_now_ms();
  a->last_consent_ms = now;
  a->next_consent_ms = now + consent_interval(a);
  a->last_sent_ms = now;
  a->last_heard_ms = now;
  a->probe_out_ms = 0;
  a->last_probe_ms = 0;
}

void ice_consent_heard(mc_ice_agent *a, uint64_t now) {
  a->last_heard_ms = now;
  /* Back from silence while disconnected: ask for consent now rather than
   * at the next retransmission of a check sent into the outage. */
  if (a->state == MC_ICE_STATE_DISCONNECTED && now - a->last_probe_ms >= a->set.check_rto_ms) ice_schedule(a);
}

static bool fast_path(const mc_ice_agent *a) { return a->set.silence_probe_ms && a->set.disconnected_silence_ms; }

static void send_consent(mc_ice_agent *a, uint64_t now) {
  uint8_t buf[512];
  const struct ice_local *base = NULL;
  for (size_t i = 0; i < a->nlocals; i++) {
    if (a->locals[i].base == a->sel.base && a->locals[i].relay == a->sel.relay &&
        (a->locals[i].c.type == MC_ICE_CAND_HOST || a->locals[i].c.type == MC_ICE_CAND_RELAY)) {
      base = &a->locals[i];
      break;
    }
  }
  uint32_t prio = mc_ice_candidate_priority(MC_ICE_TYPE_PREF_PRFLX, base ? base->local_pref : 0, 1);
  int n = ice_build_binding_request(a, buf, sizeof buf, prio, false);
  if (n < 0) return;
  struct ice_txn *t = ice_txn_new(a, TXN_CONSENT);
  if (!t) return;
  t->base = a->sel.base;
  t->relay = a->sel.relay;
  t->dest = a->sel.remote;
  t->role = a->role;
  t->remote_gen = a->remote_gen;
  MC_LOGD(LOG, "consent check");
  /* Over an ICE-TCP connection the transport retransmits (RFC 8489 6.2.2). */
  if (mc_stun_txn_start(a->txns, buf, (size_t)n, a->set.check_rto_ms, ice_base_is_tcp(a, a->sel.base), t, now) != 0) {
    ice_txn_free(a, t);
    return;
  }
  a->last_sent_ms = now;
  a->last_probe_ms = now;
  if (!a->probe_out_ms) a->probe_out_ms = now;
}

void ice_consent_done(mc_ice_agent *a, struct ice_txn *t, int err, const mc_stun_msg *m, const uint8_t *buf,
                      size_t len) {
  if (err != 0 || !m || m->cls != MC_STUN_SUCCESS || !a->sel.set) return;
  if (t->remote_gen != a->remote_gen) return;
  if (mc_stun_check_integrity(buf, len, m, (const uint8_t *)a->rpwd, strlen(a->rpwd)) != 0) return;
  /* RFC 7675 5.1: only an authenticated answer from the pair's remote
   * address, on the pair's socket, renews consent. */
  if (a->rx_base != a->sel.base || a->rx_relay != a->sel.relay || !mc_addr_equal(&a->rx_from, &a->sel.remote))
    return;
  a->last_consent_ms = mc_now_ms();
  a->last_heard_ms = a->last_consent_ms;
  a->probe_out_ms = 0;
  if (a->state == MC_ICE_STATE_DISCONNECTED && !a->consent_lost) {
    MC_LOGI(LOG, "consent answer again, pair back");
    ice_set_state(a, MC_ICE_STATE_CONNECTED);
  }
}

void ice_consent_tick(mc_ice_agent *a, uint64_t now, uint64_t *next) {
  /* During a restart the old pair's credentials are going away; media
   * keeps flowing and consent resumes on the new pair. Silence on the old
   * pair still says the path broke (a restart for a network change that
   * loses the old path, or an offer that never got through); hearing
   * again does not say it is back both ways, the new pair will. */
  if (a->sel.set && !a->consent_lost && a->restarting && fast_path(a)) {
    uint64_t at = a->last_heard_ms + a->set.disconnected_silence_ms;
    if (now >= at && (a->state == MC_ICE_STATE_CONNECTED || a->state == MC_ICE_STATE_COMPLETED)) {
      MC_LOGW(LOG, "nothing heard on the old pair during the restart ms=%llu",
              (unsigned long long)(now - a->last_heard_ms));
      ice_set_state(a, MC_ICE_STATE_DISCONNECTED);
    } else if (now < at) {
      *next = MC_MIN(*next, at);
    }
  }
  if (!a->sel.set || a->consent_lost || a->restarting) return;
  if (now - a->last_consent_ms >= a->set.consent_timeout_ms) {
    /* RFC 7675 5.1: consent expired: stop sending, tell the application. */
    a->consent_lost = true;
    MC_LOGW(LOG, "consent lost: no answer for ms=%llu", (unsigned long long)(now - a->last_consent_ms));
    ice_set_state(a, MC_ICE_STATE_FAILED);
    return;
  }
  uint64_t silence = now - a->last_heard_ms;
  bool fast = fast_path(a);
  /* Nothing heard from the pair for a while, and no consent check out (or
   * the path is back while we are disconnected): a consent check now. */
  bool probe = fast && silence >= a->set.silence_probe_ms && !a->probe_out_ms;
  bool back = a->state == MC_ICE_STATE_DISCONNECTED && a->last_heard_ms > a->last_probe_ms &&
              now - a->last_probe_ms >= a->set.check_rto_ms;
  if (now >= a->next_consent_ms || probe || back) {
    send_consent(a, now);
    a->next_consent_ms = now + consent_interval(a);
  }
  bool silent = fast && silence >= a->set.disconnected_silence_ms && a->probe_out_ms &&
                now - a->probe_out_ms >= a->set.disconnected_silence_ms / 2;
  if ((now - a->last_consent_ms >= a->set.disconnected_ms || silent) &&
      (a->state == MC_ICE_STATE_CONNECTED || a->state == MC_ICE_STATE_COMPLETED)) {
    MC_LOGW(LOG, "no consent answer for ms=%llu heard_ms=%llu", (unsigned long long)(now - a->last_consent_ms),
            (unsigned long long)silence);
    ice_set_state(a, MC_ICE_STATE_DISCONNECTED);
    if (a->closed) return;
  }
  /* RFC 8445 11: a Binding indication when nothing else was sent for Tr;
   * with consent every 4-6 s this fires only with a long interval. */
  if (a->set.keepalive_ms && now - a->last_sent_ms >= a->set.keepalive_ms) {
    uint8_t buf[64];
    mc_stun_writer w;
    mc_stun_begin(&w, buf, sizeof buf, MC_STUN_BINDING, MC_STUN_INDICATION, NULL);
    mc_stun_put_fingerprint(&w);
    int n = mc_stun_finish(&w);
    if (n > 0) ice_route_send(a, a->sel.base, a->sel.relay, &a->sel.remote, buf, (size_t)n);
    a->last_sent_ms = now;
  }
  *next = MC_MIN(*next, a->next_consent_ms);
  *next = MC_MIN(*next, a->last_consent_ms + a->set.consent_timeout_ms);
  uint64_t disc = a->last_consent_ms + a->set.disconnected_ms;
  if (disc > now) *next = MC_MIN(*next, disc);
  if (fast) {
    uint64_t at = a->probe_out_ms ? MC_MAX(a->last_heard_ms + a->set.disconnected_silence_ms,
                                           a->probe_out_ms + a->set.disconnected_silence_ms / 2)
                                  : a->last_heard_ms + a->set.silence_probe_ms;
    if (at > now) *next = MC_MIN(*next, at);
  }
  if (a->state == MC_ICE_STATE_DISCONNECTED && a->last_heard_ms > a->last_probe_ms)
    *next = MC_MIN(*next, MC_MAX(now + 1, a->last_probe_ms + a->set.check_rto_ms));
  if (a->set.keepalive_ms) *next = MC_MIN(*next, a->last_sent_ms + a->set.keepalive_ms);
}
