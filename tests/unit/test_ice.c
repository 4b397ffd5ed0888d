/* Two ICE agents in one process on one loop over 127.0.0.1, exchanging
 * credentials and candidates through their callbacks (trickle). Every
 * wait has a generous guard so a broken agent fails the test instead of
 * hanging it; no assertion depends on how fast anything happens. */
#include <stdlib.h>

#include "check.h"
#include "ipv6.h"
#include "ice/ice.h"
#include "ice/ice_private.h" /* the nomination hold and the pairs, for the pre-selection test */

#define GUARD_MS 15000
#define MSG_LEN 300
#define NMSG 20

struct peer {
  const char *name;
  mc_ice_agent *a;
  struct peer *other;
  bool forward_candidates; /* trickle our candidates to the other side */
  const char *forward_only; /* if set: only lines containing this are trickled */
  int ncand_tcp;
  bool forward_eoc;
  enum mc_ice_state state;
  enum mc_ice_state states[32];
  size_t nstates;
  int selected;
  mc_ice_candidate sel_local, sel_remote;
  bool gathered;
  int ncand;
  int rx_ok, rx_bad;
  int rx_big; /* 4000 bytes of 0x5a arrived whole */
  bool seen[1000];
  uint32_t rx_tag; /* only messages carrying this tag count */
};

static uv_loop_t *loop;

static void fill(uint8_t *buf, uint32_t tag, uint32_t seq, char who) {
  mc_put_be32(buf, tag);
  mc_put_be32(buf + 4, seq);
  buf[8] = (uint8_t)who;
  for (size_t i = 9; i < MSG_LEN; i++) buf[i] = (uint8_t)((seq * 31 + i + (uint8_t)who) & 0xff);
}

static void on_candidate(mc_ice_agent *a, const mc_ice_candidate *c, const char *line, void *user) {
  (void)a;
  struct peer *p = user;
  p->ncand++;
  if (c->transport == MC_ICE_TRANSPORT_TCP) {
    p->ncand_tcp++;
    /* RFC 6544 4.5: active candidates carry port 9, passive ones the port
     * they listen on; the line says which. */
    CHECK(strstr(line, " tcp ") != NULL);
    if (c->tcptype == MC_ICE_TCPTYPE_ACTIVE) CHECK(strstr(line, " 9 typ host tcptype active") != NULL);
    else CHECK(strstr(line, " typ host tcptype passive") != NULL && c->port != 9 && c->port != 0);
  }
  if (p->forward_only && !strstr(line, p->forward_only)) return;
  if (p->forward_candidates && p->other->a) CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(p->other->a, line), 0);
}

static void on_gathering_done(mc_ice_agent *a, void *user) {
  (void)a;
  struct peer *p = user;
  p->gathered = true;
  if (p->forward_eoc && p->other->a) mc_ice_agent_set_remote_gathering_done(p->other->a);
}

static void on_state(mc_ice_agent *a, enum mc_ice_state s, void *user) {
  (void)a;
  struct peer *p = user;
  p->state = s;
  if (p->nstates < MC_ARRAY_LEN(p->states)) p->states[p->nstates++] = s;
}

static void on_selected(mc_ice_agent *a, const mc_ice_candidate *l, const mc_ice_candidate *r, void *user) {
  (void)a;
  struct peer *p = user;
  p->selected++;
  p->sel_local = *l;
  p->sel_remote = *r;
}

static void on_data(mc_ice_agent *a, const uint8_t *data, size_t len, void *user) {
  (void)a;
  struct peer *p = user;
  if (len == 4000 && data[0] == 0x5a && data[3999] == 0x5a) {
    p->rx_big++;
    return;
  }
  if (len != MSG_LEN) {
    p->rx_bad++;
    return;
  }
  uint32_t tag = mc_get_be32(data), seq = mc_get_be32(data + 4);
  uint8_t want[MSG_LEN];
  if (seq >= 1000 || tag != p->rx_tag) {
    p->rx_bad++;
    return;
  }
  fill(want, tag, seq, (char)data[8]);
  if (memcmp(want, data, MSG_LEN) != 0 || data[8] != (uint8_t)p->other->name[0]) {
    p->rx_bad++;
    return;
  }
  if (!p->seen[seq]) {
    p->seen[seq] = true;
    p->rx_ok++;
  }
}

static const struct mc_ice_callbacks cbs = {
    .on_candidate = on_candidate,
    .on_gathering_done = on_gathering_done,
    .on_state = on_state,
    .on_selected_pair = on_selected,
    .on_data = on_data,
};

static void on_guard(uv_timer_t *t) { *(bool *)t->data = true; }
static void on_wake(uv_timer_t *t) { (void)t; }

/* Runs the loop until pred(ctx) holds or the guard fires. A 10 ms wake-up
 * keeps UV_RUN_ONCE from sleeping until the guard after pred became true. */
static bool run_until(bool (*pred)(void *), void *ctx, uint64_t guard_ms) {
  bool expired = false;
  uv_timer_t guard, wake;
  uv_timer_init(loop, &guard);
  uv_timer_init(loop, &wake);
  guard.data = &expired;
  uv_timer_start(&guard, on_guard, guard_ms, 0);
  uv_timer_start(&wake, on_wake, 10, 10);
  while (!pred(ctx) && !expired) uv_run(loop, UV_RUN_ONCE);
  uv_timer_stop(&guard);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_close((uv_handle_t *)&wake, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return pred(ctx);
}

static void run_for(uint64_t ms) {
  bool expired = false;
  uv_timer_t guard;
  uv_timer_init(loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, on_guard, ms, 0);
  while (!expired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static struct mc_ice_settings test_settings(void) {
  struct mc_ice_settings s;
  mc_ice_settings_default(&s);
  s.consent_interval_ms = 200;
  s.consent_timeout_ms = 1500;
  s.disconnected_ms = 700;
  return s;
}

static mc_addr lo4;
static struct mc_ice_settings settings;

static bool make_tcp; /* the next agents made gather ICE-TCP candidates too */

static void make(struct peer *p, const char *name, enum mc_ice_role role, bool aggressive) {
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.tcp = make_tcp;
  cfg.role = role;
  cfg.bind_addrs = &lo4;
  cfg.bind_addr_count = 1;
  cfg.aggressive_nomination = aggressive;
  cfg.settings = &settings;
  p->name = name;
  p->forward_candidates = true;
  p->forward_eoc = true;
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &cbs, p, &p->a), 0);
}

static void exchange_credentials(struct peer *x, struct peer *y) {
  char u[MC_ICE_UFRAG_MAX + 1], pw[MC_ICE_PWD_MAX + 1];
  mc_ice_agent_get_local_credentials(x->a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y->a, u, pw), 0);
  mc_ice_agent_get_local_credentials(y->a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x->a, u, pw), 0);
}

static void pair_up(struct peer *x, struct peer *y) {
  x->other = y;
  y->other = x;
  exchange_credentials(x, y);
  CHECK_EQ_INT(mc_ice_agent_gather(x->a), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(y->a), 0);
}

struct two {
  struct peer *x, *y;
  int want_selected;
};

static bool both_selected(void *ctx) {
  struct two *t = ctx;
  return t->x->selected >= t->want_selected && t->y->selected >= t->want_selected &&
         (t->x->state == MC_ICE_STATE_CONNECTED || t->x->state == MC_ICE_STATE_COMPLETED) &&
         (t->y->state == MC_ICE_STATE_CONNECTED || t->y->state == MC_ICE_STATE_COMPLETED);
}

static bool both_received(void *ctx) {
  struct two *t = ctx;
  return t->x->rx_ok >= NMSG && t->y->rx_ok >= NMSG;
}

/* Sends NMSG tagged messages each way and checks every one arrives intact. */
static void exchange_data(struct peer *x, struct peer *y, uint32_t tag) {
  x->rx_tag = y->rx_tag = tag;
  x->rx_ok = y->rx_ok = x->rx_bad = y->rx_bad = 0;
  memset(x->seen, 0, sizeof x->seen);
  memset(y->seen, 0, sizeof y->seen);
  uint8_t buf[MSG_LEN];
  for (uint32_t i = 0; i < NMSG; i++) {
    fill(buf, tag, i, x->name[0]);
    CHECK_EQ_INT(mc_ice_agent_send(x->a, buf, sizeof buf), 0);
    fill(buf, tag, i, y->name[0]);
    CHECK_EQ_INT(mc_ice_agent_send(y->a, buf, sizeof buf), 0);
  }
  struct two t = {x, y, 0};
  CHECK(run_until(both_received, &t, GUARD_MS));
  CHECK_EQ_INT(x->rx_ok, NMSG);
  CHECK_EQ_INT(y->rx_ok, NMSG);
  CHECK_EQ_INT(x->rx_bad, 0);
  CHECK_EQ_INT(y->rx_bad, 0);
}

static void teardown(struct peer *x, struct peer *y) {
  mc_ice_agent_free(x->a);
  mc_ice_agent_free(y->a);
  x->a = y->a = NULL;
  run_for(50);
}

/* A (controlling) and B (controlled) gather, trade candidates and both
 * select a pair. */
static void connect_ab(struct peer *x, struct peer *y) {
  make(x, "A", MC_ICE_ROLE_CONTROLLING, false);
  make(y, "B", MC_ICE_ROLE_CONTROLLED, false);
  pair_up(x, y);
  struct two t = {x, y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
}

static bool saw_state(const struct peer *p, enum mc_ice_state s) {
  for (size_t i = 0; i < p->nstates; i++)
    if (p->states[i] == s) return true;
  return false;
}

static void test_connect_host(void) {
  struct peer x = {0}, y = {0};
  connect_ab(&x, &y);
  CHECK_EQ_INT(x.selected, 1);
  CHECK_EQ_INT(y.selected, 1);
  CHECK_EQ_INT(x.sel_local.type, MC_ICE_CAND_HOST);
  CHECK_EQ_INT(x.sel_remote.type, MC_ICE_CAND_HOST);
  CHECK_EQ_INT(y.sel_local.type, MC_ICE_CAND_HOST);
  CHECK_EQ_INT(y.sel_remote.type, MC_ICE_CAND_HOST);
  /* Each side's selected pair is the mirror of the other's. */
  CHECK(mc_addr_equal(&x.sel_local.addr, &y.sel_remote.addr));
  CHECK(mc_addr_equal(&x.sel_remote.addr, &y.sel_local.addr));
  CHECK(mc_addr_is_loopback(&x.sel_local.addr));
  CHECK(saw_state(&x, MC_ICE_STATE_CHECKING));
  CHECK(x.gathered && y.gathered);
  CHECK_EQ_INT(x.ncand, 1);
  CHECK_EQ_INT(mc_ice_agent_role(x.a), MC_ICE_ROLE_CONTROLLING);
  CHECK_EQ_INT(mc_ice_agent_role(y.a), MC_ICE_ROLE_CONTROLLED);
  exchange_data(&x, &y, 0x11111111);
  /* Both finished gathering and sent end-of-candidates: completed. */
  run_for(100);
  CHECK_EQ_INT(x.state, MC_ICE_STATE_COMPLETED);
  struct mc_ice_stats st;
  CHECK_EQ_INT(mc_ice_agent_get_stats(x.a, &st), 0);
  CHECK(st.has_selected);
  CHECK(st.checks_started_ms > 0 && st.selected_ms >= st.checks_started_ms);
  fprintf(stderr, "connect_host: checks to selected %llu ms\n",
          (unsigned long long)(st.selected_ms - st.checks_started_ms));
  /* Consent keeps flowing: after several intervals the pair is still up. */
  run_for(800);
  CHECK_EQ_INT(x.state, MC_ICE_STATE_COMPLETED);
  CHECK(y.state == MC_ICE_STATE_COMPLETED || y.state == MC_ICE_STATE_CONNECTED);
  CHECK(!saw_state(&x, MC_ICE_STATE_DISCONNECTED));
  exchange_data(&x, &y, 0x22222222);
  teardown(&x, &y);
  CHECK_EQ_INT(x.state, MC_ICE_STATE_CLOSED);
}

/* RFC 8445 5.1.1.1 host candidates are IPv6 too: two agents that only have
 * ::1 connect over it and carry data. */
static void test_connect_ipv6(void) {
  if (!ipv6_loopback_usable()) {
    fprintf(stderr, "connect_ipv6: ::1 not usable here, not run\n");
    return;
  }
  mc_addr saved = lo4;
  CHECK_EQ_INT(mc_addr_parse("::1", 0, &lo4), 0);
  struct peer x = {0}, y = {0};
  make(&x, "C", MC_ICE_ROLE_CONTROLLING, false);
  make(&y, "D", MC_ICE_ROLE_CONTROLLED, false);
  pair_up(&x, &y);
  struct two t = {&x, &y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK_EQ_INT(mc_addr_family(&x.sel_local.addr), AF_INET6);
  CHECK_EQ_INT(mc_addr_family(&x.sel_remote.addr), AF_INET6);
  CHECK(mc_addr_equal(&x.sel_local.addr, &y.sel_remote.addr));
  CHECK(mc_addr_equal(&x.sel_remote.addr, &y.sel_local.addr));
  CHECK(mc_addr_is_loopback(&x.sel_local.addr));
  exchange_data(&x, &y, 0x66666666);
  teardown(&x, &y);
  lo4 = saved;
}

static void test_role_conflict(void) {
  struct peer x = {0}, y = {0};
  make(&x, "A", MC_ICE_ROLE_CONTROLLING, false);
  make(&y, "B", MC_ICE_ROLE_CONTROLLING, false);
  pair_up(&x, &y);
  struct two t = {&x, &y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  /* RFC 8445 7.3.1.1: exactly one stays controlling. */
  CHECK(mc_ice_agent_role(x.a) != mc_ice_agent_role(y.a));
  CHECK(mc_addr_equal(&x.sel_local.addr, &y.sel_remote.addr));
  exchange_data(&x, &y, 0x33333333);
  teardown(&x, &y);

  /* Both controlled: one becomes controlling and nominates. */
  memset(&x, 0, sizeof x);
  memset(&y, 0, sizeof y);
  make(&x, "A", MC_ICE_ROLE_CONTROLLED, false);
  make(&y, "B", MC_ICE_ROLE_CONTROLLED, false);
  pair_up(&x, &y);
  t = (struct two){&x, &y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK(mc_ice_agent_role(x.a) != mc_ice_agent_role(y.a));
  exchange_data(&x, &y, 0x44444444);
  teardown(&x, &y);
}

static bool x_failed(void *ctx) { return ((struct peer *)ctx)->state == MC_ICE_STATE_FAILED; }

static void test_consent_failure(void) {
  struct peer x = {0}, y = {0};
  connect_ab(&x, &y);
  exchange_data(&x, &y, 0x55555555);
  /* The peer vanishes. */
  mc_ice_agent_free(y.a);
  y.a = NULL;
  x.forward_candidates = false;
  CHECK(run_until(x_failed, &x, GUARD_MS));
  CHECK_EQ_INT(x.state, MC_ICE_STATE_FAILED);
  /* Disconnected came first, failed after. */
  CHECK(saw_state(&x, MC_ICE_STATE_DISCONNECTED));
  CHECK_EQ_INT(x.states[x.nstates - 1], MC_ICE_STATE_FAILED);
  struct mc_ice_stats st;
  mc_ice_agent_get_stats(x.a, &st);
  CHECK(mc_now_ms() - st.last_consent_ms >= settings.consent_timeout_ms);
  /* RFC 7675: without consent nothing more is sent. */
  uint8_t buf[MSG_LEN] = {0};
  CHECK_EQ_INT(mc_ice_agent_send(x.a, buf, sizeof buf), MC_ESTATE);
  mc_ice_agent_free(x.a);
  run_for(50);
}

static void test_restart(void) {
  struct peer x = {0}, y = {0};
  connect_ab(&x, &y);
  struct two t = {&x, &y, 1};
  exchange_data(&x, &y, 0x66666666);
  char u1[MC_ICE_UFRAG_MAX + 1], u2[MC_ICE_UFRAG_MAX + 1], pw[MC_ICE_PWD_MAX + 1];
  mc_ice_agent_get_local_credentials(x.a, u1, pw);
  /* Offerer restarts; the answerer takes its new credentials and answers
   * with new ones (JSEP order: credentials before candidates). */
  CHECK_EQ_INT(mc_ice_agent_restart(x.a), 0);
  mc_ice_agent_get_local_credentials(x.a, u2, pw);
  CHECK(strcmp(u1, u2) != 0);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y.a, u2, pw), 0);
  CHECK_EQ_INT(mc_ice_agent_restart(y.a), 0);
  mc_ice_agent_get_local_credentials(y.a, u2, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x.a, u2, pw), 0);
  /* Media keeps flowing on the old pair while the new checks run. */
  uint8_t buf[MSG_LEN];
  y.rx_tag = 0x77777777;
  y.rx_ok = y.rx_bad = 0;
  memset(y.seen, 0, sizeof y.seen);
  fill(buf, 0x77777777, 0, 'A');
  CHECK_EQ_INT(mc_ice_agent_send(x.a, buf, sizeof buf), 0);
  t.want_selected = 2;
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK_EQ_INT(y.rx_ok, 1);
  CHECK_EQ_INT(y.rx_bad, 0);
  CHECK_EQ_INT(x.selected, 2);
  CHECK_EQ_INT(y.selected, 2);
  CHECK_EQ_INT(x.sel_local.type, MC_ICE_CAND_HOST);
  CHECK(mc_addr_equal(&x.sel_local.addr, &y.sel_remote.addr));
  exchange_data(&x, &y, 0x88888888);
  /* Consent on the new pair works with the new credentials. */
  run_for(700);
  CHECK(x.state == MC_ICE_STATE_CONNECTED || x.state == MC_ICE_STATE_COMPLETED);
  CHECK(y.state == MC_ICE_STATE_CONNECTED || y.state == MC_ICE_STATE_COMPLETED);
  exchange_data(&x, &y, 0x99999999);
  /* Now the controlled side restarts (it sends the new offer). */
  CHECK_EQ_INT(mc_ice_agent_restart(y.a), 0);
  mc_ice_agent_get_local_credentials(y.a, u2, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x.a, u2, pw), 0);
  CHECK_EQ_INT(mc_ice_agent_restart(x.a), 0);
  mc_ice_agent_get_local_credentials(x.a, u2, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y.a, u2, pw), 0);
  t.want_selected = 3;
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK_EQ_INT(x.selected, 3);
  CHECK_EQ_INT(y.selected, 3);
  CHECK_EQ_INT(mc_ice_agent_role(x.a), MC_ICE_ROLE_CONTROLLING);
  exchange_data(&x, &y, 0x9999AAAA);
  teardown(&x, &y);
}

static void test_aggressive(void) {
  struct peer x = {0}, y = {0};
  make(&x, "A", MC_ICE_ROLE_CONTROLLING, true);
  make(&y, "B", MC_ICE_ROLE_CONTROLLED, false);
  pair_up(&x, &y);
  struct two t = {&x, &y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK_EQ_INT(y.sel_local.type, MC_ICE_CAND_HOST);
  exchange_data(&x, &y, 0xAAAAAAAA);
  teardown(&x, &y);
}

static void test_prflx(void) {
  /* The controlled side never hears of the controlling side's candidates
   * (as when a .local name does not resolve): the first check it receives
   * makes a peer-reflexive remote candidate, and the call connects. */
  struct peer x = {0}, y = {0};
  make(&x, "A", MC_ICE_ROLE_CONTROLLING, false);
  make(&y, "B", MC_ICE_ROLE_CONTROLLED, false);
  x.forward_candidates = false;
  x.forward_eoc = false;
  pair_up(&x, &y);
  struct two t = {&x, &y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK_EQ_INT(y.sel_remote.type, MC_ICE_CAND_PRFLX);
  CHECK_EQ_INT(x.sel_remote.type, MC_ICE_CAND_HOST);
  exchange_data(&x, &y, 0xBBBBBBBB);
  teardown(&x, &y);
}

/* ---- data before selection (RFC 8445 12.1, 12.2) ---- */

static bool all_pairs_valid(void *ctx) {
  struct two *t = ctx;
  const mc_ice_agent *as[2] = {t->x->a, t->y->a};
  for (int k = 0; k < 2; k++) {
    if (as[k]->npairs < 4) return false;
    for (size_t i = 0; i < as[k]->npairs; i++)
      if (as[k]->pairs[i].state != PAIR_SUCCEEDED) return false;
  }
  return true;
}

static const mc_addr *pair_local_addr(const mc_ice_agent *a, int i) {
  return &a->bases[a->locals[a->pairs[i].local].base].addr;
}
static const mc_addr *pair_remote_addr(const mc_ice_agent *a, int i) {
  return &a->remotes[a->pairs[i].remote].c.addr;
}

/* a's pair that is the other direction of b's pair k, -1 none. */
static int reverse_pair(const mc_ice_agent *a, const mc_ice_agent *b, int k) {
  for (size_t i = 0; i < a->npairs; i++)
    if (mc_addr_equal(pair_local_addr(a, (int)i), pair_remote_addr(b, k)) &&
        mc_addr_equal(pair_remote_addr(a, (int)i), pair_local_addr(b, k)))
      return (int)i;
  return -1;
}

static bool got_one(void *ctx) { return ((struct peer *)ctx)->rx_ok >= 1; }

static void test_data_before_selection(void) {
  /* Two host candidates a side, four pairs. A (controlling) holds its
   * nomination back, so every pair succeeds and none is selected. B sends
   * on a valid pair that is not A's best: A takes it and answers on that
   * same pair, not on the pair A would pick itself (the ClientHello of
   * issue 16 came on such a pair). */
  mc_addr two_lo[2];
  CHECK_EQ_INT(mc_addr_parse("127.0.0.1", 0, &two_lo[0]), 0);
  CHECK_EQ_INT(mc_addr_parse("127.0.0.2", 0, &two_lo[1]), 0);
  struct peer x = {0}, y = {0};
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.bind_addrs = two_lo;
  cfg.bind_addr_count = 2;
  cfg.settings = &settings;
  x.name = "A";
  y.name = "B";
  x.forward_candidates = y.forward_candidates = true;
  x.forward_eoc = y.forward_eoc = true;
  cfg.role = MC_ICE_ROLE_CONTROLLING;
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &cbs, &x, &x.a), 0);
  cfg.role = MC_ICE_ROLE_CONTROLLED;
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &cbs, &y, &y.a), 0);
  x.a->test_hold_nomination = true;
  pair_up(&x, &y);
  struct two t = {&x, &y, 0};
  CHECK(run_until(all_pairs_valid, &t, GUARD_MS));
  CHECK_EQ_INT(x.selected + y.selected, 0);

  int best = ice_best_valid(x.a, false), k = -1;
  for (size_t i = 0; i < y.a->npairs && k < 0; i++) {
    int r = reverse_pair(x.a, y.a, (int)i);
    if (r >= 0 && r != best) k = (int)i;
  }
  CHECK(k >= 0);
  if (k < 0) {
    teardown(&x, &y);
    return;
  }
  y.a->data_pair = k; /* as if A's data had come in on it */
  x.rx_tag = y.rx_tag = 0xCCCCCCCC;
  uint8_t buf[MSG_LEN];
  fill(buf, x.rx_tag, 0, 'B');
  CHECK_EQ_INT(mc_ice_agent_send(y.a, buf, sizeof buf), 0);
  CHECK(run_until(got_one, &x, GUARD_MS));
  CHECK_EQ_INT(x.rx_ok, 1);
  CHECK_EQ_INT(x.a->data_pair, reverse_pair(x.a, y.a, k));
  y.a->data_pair = -1; /* B learns the pair from A's answer alone */
  fill(buf, x.rx_tag, 0, 'A');
  CHECK_EQ_INT(mc_ice_agent_send(x.a, buf, sizeof buf), 0);
  CHECK(run_until(got_one, &y, GUARD_MS));
  CHECK_EQ_INT(y.a->data_pair, k);
  CHECK_EQ_INT(x.selected + y.selected, 0);
  /* RFC 7675 5.1: a pair's consent is its last answered check; with no
   * consent checks before selection it runs out after consent_timeout_ms. */
  run_for(settings.consent_timeout_ms + 100);
  CHECK_EQ_INT(mc_ice_agent_send(x.a, buf, sizeof buf), MC_ESTATE);

  /* Nominating selects a pair; data then goes on it only. */
  x.a->test_hold_nomination = false;
  ice_schedule(x.a);
  struct two t1 = {&x, &y, 1};
  CHECK(run_until(both_selected, &t1, GUARD_MS));
  exchange_data(&x, &y, 0xDDDDDDDD);
  teardown(&x, &y);
}

static bool failed_both(void *ctx) {
  struct two *t = ctx;
  return t->x->state == MC_ICE_STATE_FAILED;
}

static void test_fail_no_path(void) {
  /* A remote candidate nobody listens on, then end-of-candidates: the
   * checklist fails (slowly: the check has to time out). */
  struct peer x = {0}, y = {0};
  struct mc_ice_settings fast = settings;
  fast.check_rto_ms = 20; /* 7 sends over ~1.3 s, then 16 * RTO */
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.role = MC_ICE_ROLE_CONTROLLING;
  cfg.bind_addrs = &lo4;
  cfg.bind_addr_count = 1;
  cfg.settings = &fast;
  x.name = "A";
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &cbs, &x, &x.a), 0);
  x.other = &y;
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x.a, "abcd", "0123456789012345678901"), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(x.a), 0);
  /* A tcp candidate is ignored without error, a malformed one refused. */
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active"), 0);
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:1 1 udp"), MC_EPARSE);
  /* Port 9 (discard) on loopback: nothing answers. */
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"), 0);
  CHECK_EQ_INT(mc_ice_agent_set_remote_gathering_done(x.a), 0);
  struct two t = {&x, &y, 0};
  CHECK(run_until(failed_both, &t, GUARD_MS));
  CHECK_EQ_INT(x.state, MC_ICE_STATE_FAILED);
  CHECK(saw_state(&x, MC_ICE_STATE_CHECKING));
  CHECK_EQ_INT(x.selected, 0);
  uint8_t b[4] = {0};
  CHECK_EQ_INT(mc_ice_agent_send(x.a, b, sizeof b), MC_ESTATE);
  mc_ice_agent_free(x.a);
  run_for(50);
}

static void on_state_free(mc_ice_agent *a, enum mc_ice_state s, void *user) {
  (void)user;
  if (s == MC_ICE_STATE_CONNECTED) mc_ice_agent_free(a);
}

static void test_free_in_callback(void) {
  /* The application may free the agent from inside its callback. */
  struct peer x = {0}, y = {0};
  connect_ab(&x, &y);
  teardown(&x, &y);
  struct mc_ice_callbacks c2 = cbs;
  c2.on_state = on_state_free;
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.bind_addrs = &lo4;
  cfg.bind_addr_count = 1;
  cfg.settings = &settings;
  memset(&x, 0, sizeof x);
  memset(&y, 0, sizeof y);
  x.name = "A";
  y.name = "B";
  x.other = &y;
  y.other = &x;
  x.forward_candidates = y.forward_candidates = true;
  cfg.role = MC_ICE_ROLE_CONTROLLING;
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &c2, &x, &x.a), 0);
  cfg.role = MC_ICE_ROLE_CONTROLLED;
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &cbs, &y, &y.a), 0);
  exchange_credentials(&x, &y);
  mc_ice_agent_gather(x.a);
  mc_ice_agent_gather(y.a);
  /* x frees itself on connected; y still selects (it was nominated). */
  run_for(1000);
  CHECK(x.selected == 1);
  x.a = NULL;
  mc_ice_agent_free(y.a);
  run_for(50);
}

static void on_stranger_recv(mc_udp *s, const mc_addr *from, const uint8_t *d, size_t n, void *u) {
  (void)s;
  (void)from;
  (void)d;
  (void)n;
  (void)u;
}

static bool gathered(void *ctx) { return ((struct peer *)ctx)->gathered; }

static void test_misc(void) {
  /* Relay-only with no TURN server: nothing to offer, gathering still ends. */
  struct peer x = {0}, y = {0};
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.relay_only = true;
  cfg.bind_addrs = &lo4;
  cfg.bind_addr_count = 1;
  cfg.settings = &settings;
  x.name = "A";
  x.other = &y;
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &cbs, &x, &x.a), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(x.a), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(x.a), MC_ESTATE);
  CHECK(run_until(gathered, &x, GUARD_MS));
  CHECK_EQ_INT(x.ncand, 0);
  mc_ice_agent_free(x.a);
  run_for(20);

  /* Candidates of another ICE generation (ufrag extension) are ignored;
   * datagrams from an address no pair knows never reach on_data. */
  memset(&x, 0, sizeof x);
  memset(&y, 0, sizeof y);
  connect_ab(&x, &y);
  struct mc_ice_stats st;
  mc_ice_agent_get_stats(x.a, &st);
  size_t before = st.remote_candidates;
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:9 1 udp 2130706431 127.0.0.1 4242 typ host ufrag zzzzOLD"), 0);
  mc_ice_agent_get_stats(x.a, &st);
  CHECK_EQ_INT(st.remote_candidates, before);
  mc_udp *stranger;
  CHECK_EQ_INT(mc_udp_open(loop, &lo4, on_stranger_recv, NULL, &stranger), 0);
  uint8_t buf[MSG_LEN];
  x.rx_tag = 0x12345678;
  fill(buf, 0x12345678, 1, 'B');
  CHECK_EQ_INT(mc_udp_send(stranger, &x.sel_local.addr, buf, sizeof buf), 0);
  run_for(100);
  CHECK_EQ_INT(x.rx_ok, 0);
  CHECK_EQ_INT(x.rx_bad, 0);
  mc_udp_close(stranger);
  /* The same bytes from the real peer do arrive. */
  CHECK_EQ_INT(mc_ice_agent_send(y.a, buf, sizeof buf), 0);
  run_for(100);
  CHECK_EQ_INT(x.rx_ok, 1);
  teardown(&x, &y);
}

/* ICE-TCP (RFC 6544) between two agents, the only path being TCP: one side
 * hears only the other's passive candidate, so the pair is that side's
 * active candidate connecting to it; the other side learns the active
 * candidate as peer-reflexive on the accepted connection. A controls in
 * both runs; `a_active` says whose candidate is active. */
static void tcp_run(bool a_active, uint32_t tag) {
  struct peer x = {0}, y = {0};
  make_tcp = true;
  make(&x, "A", MC_ICE_ROLE_CONTROLLING, false);
  make(&y, "B", MC_ICE_ROLE_CONTROLLED, false);
  make_tcp = false;
  struct peer *active = a_active ? &x : &y, *passive = a_active ? &y : &x;
  passive->forward_only = "tcptype passive";
  active->forward_candidates = false; /* its UDP and its active (port 9) candidate are of no use */
  pair_up(&x, &y);
  struct two t = {&x, &y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK_EQ_INT(x.ncand, 3); /* UDP host, TCP passive, TCP active */
  CHECK_EQ_INT(x.ncand_tcp, 2);
  CHECK_EQ_INT(active->sel_local.transport, MC_ICE_TRANSPORT_TCP);
  CHECK_EQ_INT(active->sel_local.tcptype, MC_ICE_TCPTYPE_ACTIVE);
  CHECK_EQ_INT(active->sel_local.type, MC_ICE_CAND_HOST);
  CHECK_EQ_INT(active->sel_remote.tcptype, MC_ICE_TCPTYPE_PASSIVE);
  CHECK_EQ_INT(active->sel_remote.type, MC_ICE_CAND_HOST);
  CHECK_EQ_INT(passive->sel_local.tcptype, MC_ICE_TCPTYPE_PASSIVE);
  CHECK_EQ_INT(passive->sel_remote.transport, MC_ICE_TRANSPORT_TCP);
  CHECK_EQ_INT(passive->sel_remote.tcptype, MC_ICE_TCPTYPE_ACTIVE);
  CHECK_EQ_INT(passive->sel_remote.type, MC_ICE_CAND_PRFLX);
  CHECK(mc_addr_equal(&active->sel_remote.addr, &passive->sel_local.addr));
  /* Media in RFC 4571 frames, both ways, every message whole. */
  exchange_data(&x, &y, tag);
  /* Consent rides the same connection: several intervals later still up. */
  run_for(800);
  CHECK(!saw_state(&x, MC_ICE_STATE_DISCONNECTED) && !saw_state(&y, MC_ICE_STATE_DISCONNECTED));
  CHECK(x.state == MC_ICE_STATE_CONNECTED || x.state == MC_ICE_STATE_COMPLETED);
  /* Frames larger than a UDP datagram on a typical path go whole too. */
  uint8_t big[4000];
  memset(big, 0x5a, sizeof big);
  CHECK_EQ_INT(mc_ice_agent_send(x.a, big, sizeof big), 0);
  uint8_t huge[MC_ICE_FRAME_MAX + 1] = {0};
  CHECK_EQ_INT(mc_ice_agent_send(x.a, huge, sizeof huge), MC_ETOOBIG);
  exchange_data(&x, &y, tag + 1);
  CHECK_EQ_INT(y.rx_big, 1);
  /* An ICE restart (as the app does after a disconnection): new
   * credentials, the checks start over and find their way over TCP again. */
  char u[MC_ICE_UFRAG_MAX + 1], pw[MC_ICE_PWD_MAX + 1];
  CHECK_EQ_INT(mc_ice_agent_restart(x.a), 0);
  mc_ice_agent_get_local_credentials(x.a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y.a, u, pw), 0);
  CHECK_EQ_INT(mc_ice_agent_restart(y.a), 0);
  mc_ice_agent_get_local_credentials(y.a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x.a, u, pw), 0);
  t.want_selected = 2;
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK_EQ_INT(active->sel_local.tcptype, MC_ICE_TCPTYPE_ACTIVE);
  CHECK_EQ_INT(passive->sel_remote.tcptype, MC_ICE_TCPTYPE_ACTIVE);
  exchange_data(&x, &y, tag + 2);
  teardown(&x, &y);
}

static void test_tcp(void) {
  tcp_run(true, 0x7C900001);
  tcp_run(false, 0x7C900101);
}

/* Without ICE-TCP a peer's TCP candidates are ignored; with it, a signalled
 * active candidate (port 9) forms no pair (RFC 6544 6.2: it is nobody's
 * destination), and a passive one pairs with our active candidate only. */
static void test_tcp_pairing(void) {
  struct peer x = {0}, y = {0};
  make_tcp = true;
  make(&x, "A", MC_ICE_ROLE_CONTROLLING, false);
  make_tcp = false;
  x.other = &y;
  x.forward_candidates = false;
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x.a, "abcd", "0123456789012345678901"), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(x.a), 0);
  struct mc_ice_stats st;
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active"), 0);
  CHECK_EQ_INT(mc_ice_agent_get_stats(x.a, &st), 0);
  CHECK_EQ_INT(st.remote_candidates, 1);
  CHECK_EQ_INT(st.pairs, 0);
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:2 1 tcp 1518280447 127.0.0.1 1 typ host tcptype so"), 0);
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:3 1 tcp 1518280447 127.0.0.1 2 typ host"), 0);
  CHECK_EQ_INT(mc_ice_agent_get_stats(x.a, &st), 0);
  CHECK_EQ_INT(st.pairs, 0);
  /* Nobody listens on port 3 of loopback: the connection is refused, the
   * pair fails at once rather than after the check's 39.5 s. */
  CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, "candidate:4 1 tcp 1518280447 127.0.0.1 3 typ host tcptype passive"), 0);
  CHECK_EQ_INT(mc_ice_agent_get_stats(x.a, &st), 0);
  CHECK_EQ_INT(st.pairs, 1);
  CHECK_EQ_INT(mc_ice_agent_set_remote_gathering_done(x.a), 0);
  struct two t = {&x, &y, 0};
  CHECK(run_until(failed_both, &t, 5000));
  mc_ice_agent_free(x.a);
  run_for(50);
}

int main(void) {
  mc_log_init_from_env();
  loop = uv_default_loop();
  settings = test_settings();
  mc_addr_parse("127.0.0.1", 0, &lo4);
  test_connect_host();
  test_connect_ipv6();
  test_role_conflict();
  test_aggressive();
  test_prflx();
  test_data_before_selection();
  test_restart();
  test_consent_failure();
  test_fail_no_path();
  test_free_in_callback();
  test_misc();
  test_tcp();
  test_tcp_pairing();
  run_for(100);
  return CHECK_DONE();
}
