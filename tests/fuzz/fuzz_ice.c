/* Fuzz target: what the ICE agent (src/ice) receives on its socket from the
 * peer: Binding requests (USERNAME, PRIORITY, USE-CANDIDATE,
 * ICE-CONTROLLING/CONTROLLED), answers to its own checks, and anything
 * else (media, junk). The agent is the real one on a libuv loop with a host
 * candidate on 127.0.0.1; the peer is this target on two loopback sockets
 * (the second one is an address the agent was not told about: a
 * peer-reflexive candidate), playing the input as a script. Requests and
 * answers carry MESSAGE-INTEGRITY computed with the right password over the
 * mutated attributes, so the fuzzer gets past the integrity checks.
 *
 * Input: one byte of set-up (role, aggressive nomination, end of
 * candidates, ICE-TCP: bit 3, so that tcp candidate lines pair, connect
 * and fail, and the agent's TCP sockets must all be gone after it is
 * freed), then records
 * [ctl][len:2][len bytes]:
 *   ctl & 3 == 0: a Binding request to the agent: USERNAME "AGENT:PEER"
 *     (unless ctl & 0x40: the record's own), the record's bytes as TLV
 *     attributes, MESSAGE-INTEGRITY with the agent's password (ctl & 4),
 *     FINGERPRINT (ctl & 8).
 *   ctl & 3 == 1: the answer to the agent's next check: success or (ctl &
 *     0x40) error, the record's attributes, MESSAGE-INTEGRITY with the
 *     peer's password (ctl & 4), FINGERPRINT (ctl & 8).
 *   ctl & 3 == 2: the bytes as they are.
 *   ctl & 3 == 3: the remote candidate line (text) given to the agent.
 *   ctl & 0x10: sent from the second socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "fuzz_uv.h"
#include "ice/ice.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

#define PEER_UFRAG "peerUfrag"
#define PEER_PWD "peerPasswordPeerPassword"

static uv_loop_t loop;
static bool loop_ready;

struct pending_check {
  mc_stun_msg m; /* the agent's check (txid, and where it came from) */
  int sock;
};

static struct {
  const uint8_t *p, *end;
  mc_udp *sock[2];
  mc_addr sock_addr[2];
  mc_ice_agent *agent;
  mc_addr agent_addr;
  bool have_agent_addr;
  char ufrag[MC_ICE_UFRAG_MAX + 1], pwd[MC_ICE_PWD_MAX + 1];
  struct pending_check checks[16];
  size_t nchecks;
  int activity;
  bool selected;
} s;

static void peer_recv(mc_udp *sock, const mc_addr *from, const uint8_t *data, size_t len, void *user) {
  (void)sock;
  int i = (int)(intptr_t)user;
  if (!s.have_agent_addr || !mc_addr_equal(from, &s.agent_addr)) return;
  s.activity++;
  mc_stun_msg m;
  if (mc_stun_parse(data, len, &m) != 0 || m.cls != MC_STUN_REQUEST) return;
  /* The agent's check carries our ufrag first, its own second (RFC 8445 7.2.2). */
  FUZZ_ASSERT(m.has_username && !strncmp(m.username, PEER_UFRAG ":", strlen(PEER_UFRAG) + 1));
  FUZZ_ASSERT(mc_stun_check_integrity(data, len, &m, (const uint8_t *)PEER_PWD, strlen(PEER_PWD)) == 0);
  if (s.nchecks == MC_ARRAY_LEN(s.checks)) memmove(s.checks, s.checks + 1, sizeof s.checks[0] * --s.nchecks);
  s.checks[s.nchecks].m = m;
  s.checks[s.nchecks].sock = i;
  s.nchecks++;
}

static void put_tlvs(mc_stun_writer *w, const uint8_t *p, size_t n, bool skip_username) {
  while (n >= 4) {
    uint16_t type = mc_get_be16(p), len = mc_get_be16(p + 2);
    p += 4, n -= 4;
    size_t take = len < n ? len : n;
    if (type != MC_STUN_ATTR_MESSAGE_INTEGRITY && type != MC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 &&
        type != MC_STUN_ATTR_FINGERPRINT && !(skip_username && type == MC_STUN_ATTR_USERNAME))
      mc_stun_put_attr(w, type, p, take);
    size_t adv = (take + 3) & ~(size_t)3;
    if (adv > n) adv = n;
    p += adv, n -= adv;
  }
}

static void send_from(int sock, const uint8_t *buf, size_t len) {
  if (s.have_agent_addr && s.sock[sock]) mc_udp_send(s.sock[sock], &s.agent_addr, buf, len);
}

static void finish(mc_stun_writer *w, uint8_t ctl, const char *key, int sock) {
  if ((ctl & 4) && key) mc_stun_put_integrity(w, (const uint8_t *)key, strlen(key));
  if (ctl & 8) mc_stun_put_fingerprint(w);
  int n = mc_stun_finish(w);
  if (n > 0) send_from(sock, w->buf, (size_t)n);
}

/* Plays the next record; false when it must wait for a check to answer. */
static bool play_one(void) {
  static uint8_t msg[66000];
  if (s.end - s.p < 3) return false;
  uint8_t ctl = s.p[0];
  size_t n = mc_get_be16(s.p + 1);
  if ((ctl & 3) == 1 && s.nchecks == 0) return false;
  const uint8_t *body = s.p + 3;
  if (n > (size_t)(s.end - body)) n = (size_t)(s.end - body);
  s.p = body + n;
  int sock = (ctl & 0x10) ? 1 : 0;
  mc_stun_writer w;
  switch (ctl & 3) {
  case 0: {
    uint8_t txid[12];
    mc_random_bytes(txid, sizeof txid);
    mc_stun_begin(&w, msg, sizeof msg, MC_STUN_BINDING, MC_STUN_REQUEST, txid);
    if (!(ctl & 0x40)) {
      char user[2 * MC_ICE_UFRAG_MAX + 2];
      snprintf(user, sizeof user, "%s:%s", s.ufrag, PEER_UFRAG);
      mc_stun_put_string(&w, MC_STUN_ATTR_USERNAME, user);
    }
    put_tlvs(&w, body, n, !(ctl & 0x40));
    finish(&w, ctl, s.pwd, sock);
    break;
  }
  case 1: {
    struct pending_check c = s.checks[0];
    memmove(s.checks, s.checks + 1, sizeof s.checks[0] * --s.nchecks);
    if (ctl & 0x20) sock = c.sock; /* else from the record's socket: maybe not where it went */
    mc_stun_begin(&w, msg, sizeof msg, MC_STUN_BINDING, (ctl & 0x40) ? MC_STUN_ERROR : MC_STUN_SUCCESS, c.m.txid);
    put_tlvs(&w, body, n, false);
    finish(&w, ctl, PEER_PWD, sock);
    break;
  }
  case 2:
    send_from(sock, body, n);
    break;
  case 3: {
    char line[600];
    size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
    memcpy(line, body, k);
    line[k] = '\0';
    /* Keep the peer's candidates on loopback: no name to resolve over mDNS. */
    if (!strstr(line, ".local")) mc_ice_agent_add_remote_candidate(s.agent, line);
    break;
  }
  }
  s.activity++;
  return true;
}

/* ---- the agent's callbacks ---- */

static void on_candidate(mc_ice_agent *a, const mc_ice_candidate *c, const char *line, void *user) {
  (void)a, (void)user, (void)line;
  if (c->type == MC_ICE_CAND_HOST && !s.have_agent_addr) {
    s.agent_addr = c->addr;
    s.have_agent_addr = true;
  }
}

static void on_gathering_done(mc_ice_agent *a, void *user) { (void)a, (void)user; }

static void on_state(mc_ice_agent *a, enum mc_ice_state st, void *user) {
  (void)user;
  s.activity++;
  FUZZ_ASSERT(st <= MC_ICE_STATE_CLOSED && mc_ice_agent_state(a) == st);
}

static void on_selected_pair(mc_ice_agent *a, const mc_ice_candidate *local, const mc_ice_candidate *remote,
                             void *user) {
  (void)user;
  s.activity++;
  s.selected = true;
  FUZZ_ASSERT(local && remote);
  /* Only our sockets can have answered. */
  FUZZ_ASSERT(mc_addr_equal(&remote->addr, &s.sock_addr[0]) || mc_addr_equal(&remote->addr, &s.sock_addr[1]));
  mc_ice_agent_send(a, (const uint8_t *)"\x80media", 6);
}

static void on_data(mc_ice_agent *a, const uint8_t *data, size_t len, void *user) {
  (void)a, (void)data, (void)user;
  s.activity++;
  FUZZ_ASSERT(len > 0 && !mc_stun_is_message(data, len));
}

static const struct mc_ice_callbacks cbs = {
    .on_candidate = on_candidate,
    .on_gathering_done = on_gathering_done,
    .on_state = on_state,
    .on_selected_pair = on_selected_pair,
    .on_data = on_data,
};

static void tick(uv_timer_t *t) { (void)t; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!loop_ready) {
    uv_loop_init(&loop);
    mc_log_set_level(MC_LOG_OFF);
    if (getenv("MEDCALL_LOG")) mc_log_init_from_env();
    loop_ready = true;
  }
  if (size < 1) return 0;
  memset(&s, 0, sizeof s);
  s.p = data + 1;
  s.end = data + size;

  mc_addr lo;
  mc_addr_parse("127.0.0.1", 0, &lo);
  for (int i = 0; i < 2; i++) {
    if (mc_udp_open(&loop, &lo, peer_recv, (void *)(intptr_t)i, &s.sock[i]) != 0) goto out;
    mc_udp_local_addr(s.sock[i], &s.sock_addr[i]);
  }

  struct mc_ice_settings set;
  mc_ice_settings_default(&set);
  /* Checks go out at once and are never retransmitted while the script
   * plays: everything the agent does is an answer to the input. */
  set.ta_ms = 1;
  set.check_rto_ms = 60000;
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.role = (data[0] & 1) ? MC_ICE_ROLE_CONTROLLED : MC_ICE_ROLE_CONTROLLING;
  cfg.aggressive_nomination = data[0] & 2;
  cfg.tcp = data[0] & 8;
  cfg.include_loopback = true;
  cfg.family = AF_INET;
  cfg.bind_addrs = &lo;
  cfg.bind_addr_count = 1;
  cfg.settings = &set;
  FUZZ_ASSERT(mc_ice_agent_new(&loop, &cfg, &cbs, NULL, &s.agent) == 0);
  mc_ice_agent_get_local_credentials(s.agent, s.ufrag, s.pwd);
  FUZZ_ASSERT(mc_ice_agent_gather(s.agent) == 0);
  FUZZ_ASSERT(mc_ice_agent_set_remote_credentials(s.agent, PEER_UFRAG, PEER_PWD) == 0);
  char line[200];
  snprintf(line, sizeof line, "candidate:1 1 udp 2130706431 127.0.0.1 %u typ host", mc_addr_port(&s.sock_addr[0]));
  FUZZ_ASSERT(mc_ice_agent_add_remote_candidate(s.agent, line) == 0);
  if (data[0] & 4) mc_ice_agent_set_remote_gathering_done(s.agent);

  /* One record per turn of the loop. The agent paces its checks on a
   * timer (Ta, 1 ms here), so a turn waits for I/O or a 1 ms tick; when
   * the script waits on nothing and three turns pass without a sound, the
   * agent is closed. */
  uv_timer_t ticker;
  uv_timer_init(&loop, &ticker);
  uv_timer_start(&ticker, tick, 1, 1);
  int quiet = 0;
  for (int turn = 0; turn < 5000 && (s.p < s.end || quiet < 3); turn++) {
    s.activity = 0;
    bool played = s.have_agent_addr && play_one();
    uv_run(&loop, played ? UV_RUN_NOWAIT : UV_RUN_ONCE);
    if (played || s.activity) {
      quiet = 0;
      continue;
    }
    if (++quiet < 3) continue;
    /* An answer nobody asked for, or a cut record, is dropped. */
    if (s.end - s.p >= 3 && (s.p[0] & 3) == 1 && s.nchecks == 0) {
      size_t skip = 3 + (size_t)mc_get_be16(s.p + 1);
      s.p = skip < (size_t)(s.end - s.p) ? s.p + skip : s.end;
      quiet = 0;
    } else if (s.end - s.p < 3) {
      s.p = s.end;
    }
  }
  uv_close((uv_handle_t *)&ticker, NULL);
  mc_ice_agent_free(s.agent);
  s.agent = NULL;
out:
  for (int i = 0; i < 2; i++)
    if (s.sock[i]) mc_udp_close(s.sock[i]);
  uv_run(&loop, UV_RUN_DEFAULT);
  FUZZ_ASSERT(fuzz_open_handles(&loop) == 0);
  return 0;
}
