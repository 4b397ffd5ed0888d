/* ICE restart (RFC 8445 9) at the agent level, beyond test_ice's basic
 * restart: through a real TURN server (coturn on 127.0.0.1) a live
 * allocation is kept and re-offered, a lost one is replaced by a new one
 * whose relayed address the new pair uses; a second restart before the
 * peer heard of the first keeps answering the peer's consent on the old
 * pair; a restart while the path is cut (the agent's test-only drop hook)
 * reconnects once it is back; a cut during a restart that never completes
 * is still reported. And a TURN pool (issue 17): with relays on two
 * servers (a second coturn relaying on 127.0.0.2), the pair through both
 * sides' preferred server is nominated even when the peer's preferred
 * relay candidate trickles in after its other one has been checked. Waits
 * have generous guards; no assertion depends on how fast anything
 * happens. */
#include <stdlib.h>

#include "check.h"
#include "coturn.h"
#include "ice/ice_private.h" /* test_drop_out, and a relay's allocated flag */

#define GUARD_MS 15000
#define MSG_LEN 200
#define NMSG 10
#define MAX_LINES 64

struct peer {
  const char *name;
  mc_ice_agent *a;
  struct peer *other;
  bool forward; /* trickle candidates to the other side */
  enum mc_ice_state state;
  bool saw_disconnected;
  int selected;
  mc_ice_candidate sel_local, sel_remote;
  int gathered; /* on_gathering_done count */
  char lines[MAX_LINES][MC_ICE_CANDIDATE_STRLEN];
  int nlines;
  int rx_ok, rx_bad;
  uint32_t rx_tag;
};

static uv_loop_t *loop;
static struct mc_ice_settings settings;

static void on_candidate(mc_ice_agent *a, const mc_ice_candidate *c, const char *line, void *user) {
  (void)a;
  (void)c;
  struct peer *p = user;
  if (p->nlines < MAX_LINES) mc_strcpy(p->lines[p->nlines++], sizeof p->lines[0], line);
  if (p->forward && p->other && p->other->a) CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(p->other->a, line), 0);
}

static void on_gathering_done(mc_ice_agent *a, void *user) {
  (void)a;
  struct peer *p = user;
  p->gathered++;
  if (p->forward && p->other && p->other->a) mc_ice_agent_set_remote_gathering_done(p->other->a);
}

static void on_state(mc_ice_agent *a, enum mc_ice_state s, void *user) {
  (void)a;
  struct peer *p = user;
  p->state = s;
  if (s == MC_ICE_STATE_DISCONNECTED) p->saw_disconnected = true;
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
  if (len != MSG_LEN || mc_get_be32(data) != p->rx_tag || data[4] != (uint8_t)p->other->name[0]) {
    p->rx_bad++;
    return;
  }
  p->rx_ok++;
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

static bool run_until(bool (*pred)(void *), void *ctx, uint64_t guard_ms) {
  bool expired = false;
  uv_timer_t guard, wake;
  uv_timer_init(loop, &guard);
  uv_timer_init(loop, &wake);
  guard.data = &expired;
  uv_timer_start(&guard, on_guard, guard_ms, 0);
  uv_timer_start(&wake, on_wake, 10, 10);
  while (!pred(ctx) && !expired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_close((uv_handle_t *)&wake, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return pred(ctx);
}

static bool never(void *ctx) {
  (void)ctx;
  return false;
}
static void run_for(uint64_t ms) { run_until(never, NULL, ms); }

static bool connected(const struct peer *p) {
  return p->state == MC_ICE_STATE_CONNECTED || p->state == MC_ICE_STATE_COMPLETED;
}

struct two {
  struct peer *x, *y;
  int want_selected;
};

static bool both_selected(void *ctx) {
  struct two *t = ctx;
  return t->x->selected >= t->want_selected && t->y->selected >= t->want_selected && connected(t->x) &&
         connected(t->y);
}

static bool both_disconnected(void *ctx) {
  struct two *t = ctx;
  return t->x->state == MC_ICE_STATE_DISCONNECTED && t->y->state == MC_ICE_STATE_DISCONNECTED;
}

static bool both_received(void *ctx) {
  struct two *t = ctx;
  return t->x->rx_ok >= NMSG && t->y->rx_ok >= NMSG;
}

static void exchange_data(struct peer *x, struct peer *y, uint32_t tag) {
  x->rx_tag = y->rx_tag = tag;
  x->rx_ok = y->rx_ok = x->rx_bad = y->rx_bad = 0;
  uint8_t buf[MSG_LEN];
  memset(buf, 0x42, sizeof buf);
  mc_put_be32(buf, tag);
  for (int i = 0; i < NMSG; i++) {
    buf[4] = (uint8_t)x->name[0];
    CHECK_EQ_INT(mc_ice_agent_send(x->a, buf, sizeof buf), 0);
    buf[4] = (uint8_t)y->name[0];
    CHECK_EQ_INT(mc_ice_agent_send(y->a, buf, sizeof buf), 0);
  }
  struct two t = {x, y, 0};
  CHECK(run_until(both_received, &t, GUARD_MS));
  CHECK(x->rx_ok >= NMSG && y->rx_ok >= NMSG);
  CHECK_EQ_INT(x->rx_bad + y->rx_bad, 0);
}

static void make(struct peer *p, const char *name, enum mc_ice_role role, const struct mc_ice_server *srv,
                 size_t nsrv) {
  static mc_addr lo4;
  mc_addr_parse("127.0.0.1", 0, &lo4);
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.role = role;
  cfg.servers = srv;
  cfg.server_count = nsrv;
  cfg.relay_only = nsrv > 0;
  cfg.bind_addrs = &lo4;
  cfg.bind_addr_count = 1;
  cfg.family = AF_INET;
  cfg.settings = &settings;
  memset(p, 0, sizeof *p);
  p->name = name;
  p->forward = true;
  CHECK_EQ_INT(mc_ice_agent_new(loop, &cfg, &cbs, p, &p->a), 0);
}

/* JSEP order: the offerer restarts, the answerer takes its credentials and
 * restarts too, the offerer takes the answerer's. Candidates trickle. */
static void restart_both(struct peer *x, struct peer *y) {
  char u[MC_ICE_UFRAG_MAX + 1], pw[MC_ICE_PWD_MAX + 1];
  CHECK_EQ_INT(mc_ice_agent_restart(x->a), 0);
  mc_ice_agent_get_local_credentials(x->a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y->a, u, pw), 0);
  CHECK_EQ_INT(mc_ice_agent_restart(y->a), 0);
  mc_ice_agent_get_local_credentials(y->a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x->a, u, pw), 0);
}

static void connect_pair(struct peer *x, struct peer *y, const struct mc_ice_server *srv, size_t nsrv) {
  make(x, "A", MC_ICE_ROLE_CONTROLLING, srv, nsrv);
  make(y, "B", MC_ICE_ROLE_CONTROLLED, srv, nsrv);
  x->other = y;
  y->other = x;
  char u[MC_ICE_UFRAG_MAX + 1], pw[MC_ICE_PWD_MAX + 1];
  mc_ice_agent_get_local_credentials(x->a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y->a, u, pw), 0);
  mc_ice_agent_get_local_credentials(y->a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x->a, u, pw), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(x->a), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(y->a), 0);
  struct two t = {x, y, 1};
  CHECK(run_until(both_selected, &t, GUARD_MS));
}

static void teardown(struct peer *x, struct peer *y) {
  mc_ice_agent_free(x->a);
  mc_ice_agent_free(y->a);
  x->a = y->a = NULL;
  run_for(300); /* TURN Refresh(0) lingers */
}

/* The relay candidates among p's lines from index from on, as addresses. */
static int relay_addrs(const struct peer *p, int from, mc_addr *out, int max) {
  int n = 0;
  for (int i = from; i < p->nlines && n < max; i++) {
    mc_ice_candidate c;
    if (mc_ice_candidate_parse((const uint8_t *)p->lines[i], strlen(p->lines[i]), &c) != 0) continue;
    if (c.type == MC_ICE_CAND_RELAY) out[n++] = c.addr;
  }
  return n;
}

static bool gathered_again(void *ctx) {
  struct two *t = ctx;
  return t->x->gathered >= t->want_selected && t->y->gathered >= t->want_selected;
}

static void test_relay_kept_and_replaced(uint16_t port) {
  fprintf(stderr, "-- restart over TURN: the live allocation is kept, a lost one replaced\n");
  char url[64];
  snprintf(url, sizeof url, "turn:127.0.0.1:%u?transport=udp", port);
  struct mc_ice_server srv = {.url = url, .username = "test", .credential = "secret"};
  struct peer x, y;
  connect_pair(&x, &y, &srv, 1);
  CHECK_EQ_INT(x.sel_local.type, MC_ICE_CAND_RELAY);
  exchange_data(&x, &y, 0x01010101);
  mc_addr before[4], after[4];
  CHECK_EQ_INT(relay_addrs(&x, 0, before, 4), 1);

  /* 1. A restart re-offers the same relayed address (RFC 8445 9 allows
   * reuse; the allocation is alive and refreshed). */
  int from = x.nlines;
  restart_both(&x, &y);
  struct two t = {&x, &y, 2};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK(run_until(gathered_again, &t, GUARD_MS));
  CHECK_EQ_INT(relay_addrs(&x, from, after, 4), 1);
  CHECK(mc_addr_equal(&before[0], &after[0]));
  CHECK(mc_addr_equal(&x.sel_local.addr, &before[0]));
  exchange_data(&x, &y, 0x02020202);

  /* 2. The allocation is lost (what on_turn_error leaves behind): the next
   * restart allocates anew; only the new relayed address is offered and
   * the new pair uses it. */
  x.a->relays[0].allocated = false;
  from = x.nlines;
  restart_both(&x, &y);
  t.want_selected = 3;
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK(run_until(gathered_again, &t, GUARD_MS));
  CHECK_EQ_INT(relay_addrs(&x, from, after, 4), 1);
  CHECK(!mc_addr_equal(&before[0], &after[0]));
  CHECK(mc_addr_equal(&x.sel_local.addr, &after[0]));
  CHECK(mc_addr_equal(&y.sel_remote.addr, &after[0]));
  CHECK_EQ_INT(x.a->nrelays, 1); /* the slot was reused */
  exchange_data(&x, &y, 0x03030303);
  teardown(&x, &y);
}

static void test_double_restart_keeps_old_credentials(void) {
  fprintf(stderr, "-- two restarts before the peer hears: its consent on the old pair is still answered\n");
  struct peer x, y;
  connect_pair(&x, &y, NULL, 0);
  exchange_data(&x, &y, 0x11111111);
  x.forward = false; /* the restart offers are lost (signaling down) */
  CHECK_EQ_INT(mc_ice_agent_restart(x.a), 0);
  run_for(100);
  CHECK_EQ_INT(mc_ice_agent_restart(x.a), 0);
  /* Many consent intervals and disconnected_ms: B's checks on the old pair
   * carry A's first credentials and must keep being answered. */
  run_for(3 * settings.disconnected_ms);
  CHECK(!y.saw_disconnected);
  CHECK(connected(&y));
  /* Media still flows on the old pair. */
  exchange_data(&x, &y, 0x22222222);
  /* Now the offer gets through. */
  x.forward = true;
  for (int i = 0; i < x.nlines; i++) CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(y.a, x.lines[i]), 0);
  char u[MC_ICE_UFRAG_MAX + 1], pw[MC_ICE_PWD_MAX + 1];
  mc_ice_agent_get_local_credentials(x.a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y.a, u, pw), 0);
  CHECK_EQ_INT(mc_ice_agent_restart(y.a), 0);
  mc_ice_agent_get_local_credentials(y.a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x.a, u, pw), 0);
  struct two t = {&x, &y, 2};
  CHECK(run_until(both_selected, &t, GUARD_MS));
  CHECK(!x.a->restarting && !y.a->restarting);
  exchange_data(&x, &y, 0x33333333);
  teardown(&x, &y);
}

static void test_restart_during_cut(void) {
  fprintf(stderr, "-- the path is cut: disconnected, restart while cut, restore: connected on a new pair\n");
  struct peer x, y;
  connect_pair(&x, &y, NULL, 0);
  exchange_data(&x, &y, 0x44444444);
  x.a->test_drop_out = y.a->test_drop_out = true;
  uint64_t t0 = mc_now_ms();
  struct two t = {&x, &y, 2};
  CHECK(run_until(both_disconnected, &t, GUARD_MS));
  fprintf(stderr, "figure: cut -> disconnected ms=%llu\n", (unsigned long long)(mc_now_ms() - t0));
  restart_both(&x, &y);
  run_for(800); /* the new checks back off into the outage */
  CHECK_EQ_INT(x.state, MC_ICE_STATE_DISCONNECTED);
  CHECK_EQ_INT(x.selected, 1);
  x.a->test_drop_out = y.a->test_drop_out = false;
  /* A datagram on the old pair, as media would be. */
  uint8_t buf[MSG_LEN] = {0};
  CHECK_EQ_INT(mc_ice_agent_send(y.a, buf, sizeof buf), 0);
  t0 = mc_now_ms();
  CHECK(run_until(both_selected, &t, GUARD_MS));
  fprintf(stderr, "figure: restore -> connected ms=%llu\n", (unsigned long long)(mc_now_ms() - t0));
  exchange_data(&x, &y, 0x55555555);
  teardown(&x, &y);
}

static bool x_disconnected(void *ctx) { return ((struct peer *)ctx)->state == MC_ICE_STATE_DISCONNECTED; }

static void test_cut_during_unanswered_restart(void) {
  fprintf(stderr, "-- a restart whose offer is lost, then the path breaks: still reported disconnected\n");
  struct peer x, y;
  connect_pair(&x, &y, NULL, 0);
  x.forward = false;
  CHECK_EQ_INT(mc_ice_agent_restart(x.a), 0);
  run_for(300);
  CHECK(connected(&x));
  x.a->test_drop_out = y.a->test_drop_out = true;
  CHECK(run_until(x_disconnected, &x, GUARD_MS));
  CHECK(x.a->restarting);
  teardown(&x, &y);
}

static struct test_proc coturn2;

/* A second pool member relaying on 127.0.0.2 (the same user); it listens
 * on 127.0.0.1 too, which is where proc_spawn looks for it. */
static uint16_t start_coturn2(void) {
  uint16_t port = proc_pick_ports(1);
  if (!port) return 0;
  char port_s[8];
  snprintf(port_s, sizeof port_s, "%u", port);
  snprintf(coturn2.log, sizeof coturn2.log, "%.200s/coturn2.log", tmpdir);
  const char *argv[] = {"turnserver", "--lt-cred-mech", "--user", "test:secret", "--realm", "medcall.test",
                        "--no-cli", "--no-dtls", "--no-tls", "--listening-ip", "127.0.0.2", "--listening-ip",
                        "127.0.0.1", "--relay-ip", "127.0.0.2", "--allow-loopback-peers", "--log-file", "stdout",
                        "--simple-log", "--listening-port", port_s, "--min-port", "40000", "--max-port", "60000",
                        "--userdb", "/dev/null", NULL};
  coturn2.port = port;
  if (!proc_spawn(&coturn2, argv)) return 0;
  usleep(100000);
  return port;
}

static bool x_selected(void *ctx) { return ((struct peer *)ctx)->selected > 0; }

/* p's relay candidate line with the highest (want_best) or lowest priority. */
static const char *relay_line(const struct peer *p, bool want_best, uint32_t *prio) {
  const char *pick = NULL;
  for (int i = 0; i < p->nlines; i++) {
    mc_ice_candidate c;
    if (mc_ice_candidate_parse((const uint8_t *)p->lines[i], strlen(p->lines[i]), &c) != 0) continue;
    if (c.type != MC_ICE_CAND_RELAY) continue;
    if (!pick || (want_best ? c.priority > *prio : c.priority < *prio)) {
      pick = p->lines[i];
      *prio = c.priority;
    }
  }
  return pick;
}

static void test_pool_preferred_relay(uint16_t port) {
  fprintf(stderr, "-- a TURN pool: the preferred relay wins though it trickles in last\n");
  uint16_t port2 = start_coturn2();
  CHECK(port2 != 0);
  if (!port2) return;
  /* The first listed (127.0.0.2) is preferred: its relay ranks higher. */
  char url0[64], url1[64];
  snprintf(url0, sizeof url0, "turn:127.0.0.2:%u?transport=udp", port2);
  snprintf(url1, sizeof url1, "turn:127.0.0.1:%u?transport=udp", port);
  struct mc_ice_server srv[2] = {{.url = url0, .username = "test", .credential = "secret"},
                                 {.url = url1, .username = "test", .credential = "secret"}};
  struct peer x, y;
  make(&x, "A", MC_ICE_ROLE_CONTROLLING, srv, 2);
  make(&y, "B", MC_ICE_ROLE_CONTROLLED, srv, 2);
  x.other = &y;
  y.other = &x;
  /* A's candidates trickle to B; B's reach A below, one at a time. */
  y.forward = false;
  char u[MC_ICE_UFRAG_MAX + 1], pw[MC_ICE_PWD_MAX + 1];
  mc_ice_agent_get_local_credentials(x.a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(y.a, u, pw), 0);
  mc_ice_agent_get_local_credentials(y.a, u, pw);
  CHECK_EQ_INT(mc_ice_agent_set_remote_credentials(x.a, u, pw), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(x.a), 0);
  CHECK_EQ_INT(mc_ice_agent_gather(y.a), 0);
  struct two g = {&x, &y, 1};
  CHECK(run_until(gathered_again, &g, GUARD_MS));
  uint32_t best = 0, worst = 0, xbest = 0;
  const char *best_line = relay_line(&y, true, &best), *worst_line = relay_line(&y, false, &worst);
  CHECK(relay_line(&x, true, &xbest) != NULL);
  CHECK(best_line && worst_line && best > worst);
  if (best_line && worst_line && best > worst) {
    /* B's less preferred relay first: A checks it from both its relays and
     * both pairs succeed; B's checks from its preferred relay cannot reach
     * A (A's relays have no permission for 127.0.0.2 yet). B's preferred
     * relay follows 40 ms later, as over signaling. Before B's
     * end-of-candidates, nothing left to check is no reason to nominate
     * before the relay grace (at least 100 ms) runs out. */
    CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, worst_line), 0);
    run_for(40);
    CHECK(x.selected == 0);
    CHECK_EQ_INT(mc_ice_agent_add_remote_candidate(x.a, best_line), 0);
    mc_ice_agent_set_remote_gathering_done(x.a);
    CHECK(run_until(x_selected, &x, GUARD_MS));
    CHECK_EQ_INT(x.sel_local.type, MC_ICE_CAND_RELAY);
    CHECK_EQ_INT(x.sel_local.priority, xbest);
    CHECK_EQ_INT(x.sel_remote.priority, best);
  }
  teardown(&x, &y);
  proc_stop(&coturn2, 1000);
}

int main(void) {
  mc_log_init_from_env();
  mc_ice_settings_default(&settings);
  settings.consent_interval_ms = 200;
  settings.disconnected_ms = 700;
  settings.consent_timeout_ms = 20000;
  uv_loop_t l;
  uv_loop_init(&l);
  loop = &l;
  test_double_restart_keeps_old_credentials();
  test_restart_during_cut();
  test_cut_during_unanswered_restart();
  bool up = coturn_setup();
  CHECK(up);
  if (up) test_relay_kept_and_replaced(turn_port);
  if (up) test_pool_preferred_relay(turn_port);
  run_for(1200); /* TURN clients closed above finish their Refresh(0) */
  int rc = uv_loop_close(&l);
  if (rc) uv_print_all_handles(&l, stderr);
  CHECK_EQ_INT(rc, 0);
  kill_coturn();
  return CHECK_DONE();
}
