/* medcall diagnose: the checklist a network engineer walks when a call does
 * not connect, for each ICE server and transport: resolve, (connect), STUN
 * Binding, Allocate without and with credentials, a second allocation,
 * CreatePermission, data through Send/Data indications, ChannelBind, and
 * data through ChannelData between the two allocations (RTT, loss, payloads
 * compared byte for byte). Then which candidate types this network offers. */
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/i18n.h"
#include "net/net.h"
#include "server/server.h"
#include "turn/turn.h"

#define MAX_URLS 16
#define MAX_TARGETS 32
#define MAX_STEPS 12
#define MAX_PROBES 200
#define PROBE_MAGIC "MCDG"
#define PROBE_HDR 7 /* magic, phase, seq */
#define INDICATION_PROBES 3
#define INDICATION_PROBE_LEN 100
#define CHANNEL_PROBE_LEN 160
#define PROBE_INTERVAL_MS 10
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_PROBES 20
/* --server-config: TURN REST credentials made for the check live this long
 * (as the pre-call check's: enough for every step, worthless after). */
#define POOL_CREDENTIAL_TTL_S 300

void mc_diagnose_usage(FILE *out) {
  fputs(_(
      "usage: medcall diagnose --ice-server URL [--ice-server URL ...]\n"
      "                        [--server-config FILE]\n"
      "                        [--ice-username U --ice-credential P] [--insecure]\n"
      "                        [--json] [--timeout-ms N] [--probes N]\n"
      "\n"
      "Checks each STUN/TURN server step by step and says which candidate types\n"
      "(host, srflx, relay/udp, relay/tcp, relay/tls) this network can offer.\n"
      "\n"
      "  --ice-server URL      stun:host[:port], stuns:host[:port],\n"
      "                        turn:host[:port][?transport=udp|tcp], turns:host[:port]\n"
      "                        (a turn: URL without ?transport= is checked over UDP and TCP)\n"
      "  --server-config FILE  medcall-server's config file: check every turn-url of\n"
      "                        the pool, with credentials from its turn-secret (or\n"
      "                        turn-user and turn-password)\n"
      "  --ice-username U      TURN username (long-term credentials)\n"
      "  --ice-credential P    TURN password (never printed or logged)\n"
      "  --insecure            do not verify the TLS certificate of turns:/stuns: servers\n"
      "  --json                print one JSON object instead of text\n"
      "  --timeout-ms N        give up on each request after N ms (default 5000)\n"
      "  --probes N            ChannelData probes sent each way (default 20, at most 200)\n"
      "\n"
      "Exit status: 0 when every check passed (each TURN server relayed data on each\n"
      "transport checked, each STUN server answered the Binding); 1 when a check\n"
      "failed; 2 on a usage error. The report is in English whatever the language\n"
      "(it goes into tickets). See docs/diagnose.md.\n"),
        out);
}

struct opts {
  const char *urls[MAX_URLS];
  size_t nurls;
  const char *username, *password;
  const char *server_config; /* medcall-server's config file: its TURN pool */
  bool insecure, json;
  uint32_t timeout_ms;
  int probes;
};

enum step_status { ST_SKIP = 0, ST_OK, ST_FAIL };

enum step_id {
  S_RESOLVE = 0,
  S_CONNECT,
  S_BINDING,
  S_ALLOC_NOAUTH,
  S_ALLOC,
  S_ALLOC_SECOND,
  S_PERMISSION,
  S_DATA_INDICATION,
  S_CHANNEL_BIND,
  S_DATA_CHANNEL,
  S_COUNT
};

static const struct {
  const char *id;
  const char *label;
} step_names[S_COUNT] = {
    {"resolve", "resolve"},
    {"connect", "connect"},
    {"binding", "binding"},
    {"allocate_noauth", "allocate (no auth)"},
    {"allocate", "allocate (authenticated)"},
    {"allocate_second", "allocate (second)"},
    {"permission", "permission"},
    {"data_indication", "data (send/data ind.)"},
    {"channel_bind", "channel bind"},
    {"data_channel", "data (channeldata)"},
};

struct step {
  bool used; /* part of this target's checklist */
  enum step_status st;
  uint16_t code;
  char detail[300];
  char hint[512];
  bool has_rtt;
  uint32_t rtt_ms;
};

struct probe_stats {
  int sent, received, corrupt;
  double rtt_min, rtt_median, rtt_max; /* ms */
};

struct target {
  char url_text[MC_ICE_URL_STRLEN];
  mc_ice_url url;
  enum mc_turn_transport transport;
  bool stun_only;
  struct step steps[S_COUNT];
  bool ok;
  bool binding_ok;
  mc_addr mapped;
  bool relay_ok;
  bool has_probes;
  struct probe_stats probes;
};

enum phase { PH_ALLOC_A, PH_ALLOC_B, PH_PERMISSION, PH_DATA_IND, PH_CHANNEL, PH_DATA_CHAN, PH_DONE };

struct probe {
  uint8_t payload[CHANNEL_PROBE_LEN];
  size_t len;
  uint64_t sent_us;
  double rtt_ms;
  bool got;
};

struct run {
  uv_loop_t loop;
  const struct opts *o;
  struct target *t;
  mc_turn_client *a, *b;
  mc_addr relay_a, relay_b;
  enum phase phase;
  int perm_ok, perm_fail, chan_ok, chan_fail;
  uv_timer_t timer; /* phase deadline */
  uv_timer_t pacer; /* probe pacing */
  bool timers_closed;
  struct probe probes[MAX_PROBES];
  int nprobes, nsent, ngot, ncorrupt;
  uint8_t probe_phase;
  uint64_t phase_start_ms;
};

/* ---- steps ---- */

static void step_ok(struct target *t, enum step_id id, const char *detail, int rtt_ms) {
  struct step *s = &t->steps[id];
  s->st = ST_OK;
  s->code = 0;
  mc_strcpy(s->detail, sizeof s->detail, detail ? detail : "");
  s->hint[0] = '\0';
  s->has_rtt = rtt_ms >= 0;
  s->rtt_ms = rtt_ms >= 0 ? (uint32_t)rtt_ms : 0;
}

static void step_fail(struct target *t, enum step_id id, uint16_t code, const char *detail, const char *hint) {
  struct step *s = &t->steps[id];
  if (s->st == ST_FAIL) return; /* the first failure is the one that explains */
  s->st = ST_FAIL;
  s->code = code;
  mc_strcpy(s->detail, sizeof s->detail, detail ? detail : "");
  mc_strcpy(s->hint, sizeof s->hint, hint ? hint : "");
}

static bool any_failed(const struct target *t) {
  for (int i = 0; i < S_COUNT; i++)
    if (t->steps[i].used && t->steps[i].st == ST_FAIL) return true;
  return false;
}

/* Realms and addresses are printed; keep them printable. */
static void printable(char *dst, size_t cap, const char *src) {
  size_t n = 0;
  for (; src && *src && n + 1 < cap; src++) {
    unsigned char ch = (unsigned char)*src;
    dst[n++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? (char)ch : '?';
  }
  if (cap) dst[n] = '\0';
}

/* ---- the run ---- */

static void finish(struct run *r);
static void start_channel_phase(struct run *r);
static void check_data_done(struct run *r);

static void arm_deadline(struct run *r, uv_timer_cb cb, uint64_t ms) {
  uv_timer_stop(&r->timer);
  uv_timer_start(&r->timer, cb, ms, 0);
}

static void make_probe(struct run *r, int seq, size_t len) {
  struct probe *p = &r->probes[seq];
  memcpy(p->payload, PROBE_MAGIC, 4);
  p->payload[4] = r->probe_phase;
  mc_put_be16(p->payload + 5, (uint16_t)seq);
  mc_random_bytes(p->payload + PROBE_HDR, len - PROBE_HDR);
  p->len = len;
  p->got = false;
  p->sent_us = mc_now_us();
}

static double median_of(double *v, int n) {
  /* insertion sort: n <= MAX_PROBES */
  for (int i = 1; i < n; i++) {
    double x = v[i];
    int j = i - 1;
    while (j >= 0 && v[j] > x) {
      v[j + 1] = v[j];
      j--;
    }
    v[j + 1] = x;
  }
  if (n == 0) return 0;
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void probe_summary(struct run *r, struct probe_stats *ps) {
  double v[MAX_PROBES];
  int n = 0;
  memset(ps, 0, sizeof *ps);
  ps->sent = r->nsent;
  ps->received = r->ngot;
  ps->corrupt = r->ncorrupt;
  for (int i = 0; i < r->nsent; i++)
    if (r->probes[i].got) v[n++] = r->probes[i].rtt_ms;
  if (n) {
    ps->rtt_min = ps->rtt_max = v[0];
    for (int i = 0; i < n; i++) {
      ps->rtt_min = v[i] < ps->rtt_min ? v[i] : ps->rtt_min;
      ps->rtt_max = v[i] > ps->rtt_max ? v[i] : ps->rtt_max;
    }
    ps->rtt_median = median_of(v, n);
  }
}

static void on_data_a(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len, void *user) {
  (void)c;
  struct run *r = user;
  if (r->phase != PH_DATA_IND && r->phase != PH_DATA_CHAN) return;
  if (!mc_addr_equal(peer, &r->relay_b)) return;
  if (len < PROBE_HDR || memcmp(data, PROBE_MAGIC, 4) != 0 || data[4] != r->probe_phase) return;
  int seq = mc_get_be16(data + 5);
  if (seq >= r->nsent) return;
  struct probe *p = &r->probes[seq];
  if (p->got) return;
  /* The echo crossed the relay twice: equal bytes prove both directions. */
  if (len != p->len || memcmp(data, p->payload, len) != 0) {
    r->ncorrupt++;
    check_data_done(r);
    return;
  }
  p->got = true;
  p->rtt_ms = (double)(mc_now_us() - p->sent_us) / 1000.0;
  r->ngot++;
  check_data_done(r);
}

static void on_data_b(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len, void *user) {
  struct run *r = user;
  if (!mc_addr_equal(peer, &r->relay_a)) return;
  /* Echo as received: A checks the bytes. */
  mc_turn_send(c, peer, data, len);
}

static void end_data_phase(struct run *r) {
  struct probe_stats ps;
  probe_summary(r, &ps);
  char detail[300];
  bool ok = ps.received > 0 && ps.corrupt == 0;
  int loss = ps.sent ? (int)((ps.sent - ps.received) * 100 / ps.sent) : 100;
  if (r->phase == PH_DATA_IND) {
    snprintf(detail, sizeof detail, "%d/%d echoed byte-exact%s", ps.received, ps.sent,
             ps.corrupt ? " (some corrupted)" : "");
    if (ok) step_ok(r->t, S_DATA_INDICATION, detail, -1);
    else
      step_fail(r->t, S_DATA_INDICATION, 0, detail,
                ps.corrupt ? "The relay altered the data; something between here and the server rewrites packets."
                           : "No data came back through the relay with Send/Data indications; the server may not relay between its own allocations (loopback or private peers forbidden?).");
    start_channel_phase(r);
    return;
  }
  r->t->has_probes = true;
  r->t->probes = ps;
  snprintf(detail, sizeof detail, "%d/%d echoed byte-exact  loss=%d%%  rtt min/median/max=%.2f/%.2f/%.2f ms",
           ps.received, ps.sent, loss, ps.rtt_min, ps.rtt_median, ps.rtt_max);
  if (ok) {
    step_ok(r->t, S_DATA_CHANNEL, detail, -1);
    r->t->relay_ok = true;
  } else {
    step_fail(r->t, S_DATA_CHANNEL, 0, detail,
              ps.corrupt ? "The relay altered the data; something between here and the server rewrites packets."
                         : "No ChannelData came back through the relay; the server may not relay between its own allocations (loopback or private peers forbidden?).");
  }
  finish(r);
}

static void data_deadline(uv_timer_t *t) {
  struct run *r = t->data;
  uv_timer_stop(&r->pacer);
  if (r->phase == PH_DATA_IND || r->phase == PH_DATA_CHAN) end_data_phase(r);
}

static void check_data_done(struct run *r) {
  if (r->nsent >= r->nprobes && r->ngot + r->ncorrupt >= r->nprobes) {
    uv_timer_stop(&r->timer);
    uv_timer_start(&r->timer, data_deadline, 0, 0);
  }
}

static void pace(uv_timer_t *t) {
  struct run *r = t->data;
  if (r->nsent >= r->nprobes) {
    uv_timer_stop(&r->pacer);
    /* Wait for the last echoes at most the request timeout. */
    arm_deadline(r, data_deadline, r->o->timeout_ms);
    check_data_done(r);
    return;
  }
  int seq = r->nsent;
  make_probe(r, seq, r->phase == PH_DATA_IND ? INDICATION_PROBE_LEN : CHANNEL_PROBE_LEN);
  r->nsent++;
  int rc = mc_turn_send(r->a, &r->relay_b, r->probes[seq].payload, r->probes[seq].len);
  if (rc < 0) MC_LOGD("diagnose", "probe send failed err=%s", mc_strerror(rc));
}

static void start_data_phase(struct run *r, enum phase ph, int count) {
  r->phase = ph;
  r->probe_phase++;
  r->nprobes = count;
  r->nsent = r->ngot = r->ncorrupt = 0;
  uv_timer_stop(&r->timer);
  uv_timer_start(&r->pacer, pace, 0, PROBE_INTERVAL_MS);
}

static void step_deadline(uv_timer_t *t) {
  struct run *r = t->data;
  char hint[300];
  switch (r->phase) {
  case PH_PERMISSION:
    snprintf(hint, sizeof hint, "The server did not answer CreatePermission within %u ms.", (unsigned)r->o->timeout_ms);
    step_fail(r->t, S_PERMISSION, 0, "no answer", hint);
    finish(r);
    break;
  case PH_CHANNEL:
    snprintf(hint, sizeof hint, "The server did not answer ChannelBind within %u ms.", (unsigned)r->o->timeout_ms);
    step_fail(r->t, S_CHANNEL_BIND, 0, "no answer", hint);
    finish(r);
    break;
  default:
    /* The clients' own timeouts report allocation failures. */
    break;
  }
}

static void start_channel_phase(struct run *r) {
  r->phase = PH_CHANNEL;
  r->chan_ok = r->chan_fail = 0;
  int rc1 = mc_turn_channel_bind(r->a, &r->relay_b);
  int rc2 = mc_turn_channel_bind(r->b, &r->relay_a);
  if (rc1 < 0 || rc2 < 0) {
    step_fail(r->t, S_CHANNEL_BIND, 0, mc_strerror(rc1 < 0 ? rc1 : rc2), "ChannelBind could not be sent.");
    finish(r);
    return;
  }
  /* the clients time out requests themselves; this is a safety net */
  arm_deadline(r, step_deadline, (uint64_t)r->o->timeout_ms * 2 + 1000);
}

static void on_permission(mc_turn_client *c, const mc_addr *peer, int err, void *user) {
  (void)peer;
  (void)c;
  struct run *r = user;
  if (r->phase != PH_PERMISSION) return;
  if (err) r->perm_fail++;
  else r->perm_ok++;
  if (r->perm_ok + r->perm_fail < 2) return;
  if (r->perm_fail) {
    finish(r); /* on_progress recorded the failure */
    return;
  }
  char a[MC_ADDR_STRLEN], b[MC_ADDR_STRLEN], detail[300];
  snprintf(detail, sizeof detail, "%s <-> %s", mc_addr_ip_str(&r->relay_a, a), mc_addr_ip_str(&r->relay_b, b));
  step_ok(r->t, S_PERMISSION, detail, (int)(mc_now_ms() - r->phase_start_ms));
  start_data_phase(r, PH_DATA_IND, INDICATION_PROBES);
}

static void on_channel(mc_turn_client *c, const mc_addr *peer, uint16_t channel, int err, void *user) {
  (void)peer;
  struct run *r = user;
  if (r->phase != PH_CHANNEL) return;
  if (err) r->chan_fail++;
  else r->chan_ok++;
  if (r->chan_ok + r->chan_fail < 2) return;
  if (r->chan_fail) {
    finish(r);
    return;
  }
  char detail[120];
  (void)c;
  snprintf(detail, sizeof detail, "channel=0x%04x both ways", (unsigned)channel);
  step_ok(r->t, S_CHANNEL_BIND, detail, -1);
  start_data_phase(r, PH_DATA_CHAN, r->o->probes);
}

static void progress_a(mc_turn_client *c, const struct mc_turn_progress *p, void *user) {
  (void)c;
  struct run *r = user;
  struct target *t = r->t;
  char a[MC_ADDR_STRLEN], m[MC_ADDR_STRLEN], detail[300], realm[120];
  if (p->err) {
    char code[16] = "";
    if (p->code) snprintf(code, sizeof code, "%u", (unsigned)p->code);
    enum step_id id;
    switch (p->step) {
    case MC_TURN_STEP_RESOLVE: id = S_RESOLVE; break;
    case MC_TURN_STEP_CONNECT: id = S_CONNECT; break;
    case MC_TURN_STEP_BINDING: id = S_BINDING; break;
    case MC_TURN_STEP_ALLOCATE_NOAUTH: id = S_ALLOC_NOAUTH; break;
    case MC_TURN_STEP_ALLOCATE: id = S_ALLOC; break;
    case MC_TURN_STEP_PERMISSION: id = S_PERMISSION; break;
    case MC_TURN_STEP_CHANNEL_BIND: id = S_CHANNEL_BIND; break;
    default: return;
    }
    char why[160];
    if (p->code) {
      char reason[120];
      printable(reason, sizeof reason, p->reason ? p->reason : "");
      snprintf(why, sizeof why, "error %u%s%s", (unsigned)p->code, reason[0] ? " " : "", reason);
    } else {
      mc_strcpy(why, sizeof why, mc_strerror(p->err));
    }
    step_fail(t, id, p->code, why, p->sentence);
    return;
  }
  switch (p->step) {
  case MC_TURN_STEP_RESOLVE:
    step_ok(t, S_RESOLVE, mc_addr_str(&p->addr, a), -1);
    break;
  case MC_TURN_STEP_CONNECT:
    snprintf(detail, sizeof detail, "local=%s%s", mc_addr_str(&p->addr, a),
             t->transport == MC_TURN_TLS ? (r->o->insecure ? "  certificate NOT verified (--insecure)"
                                                           : "  certificate verified")
                                         : "");
    step_ok(t, S_CONNECT, detail, -1);
    break;
  case MC_TURN_STEP_BINDING:
    snprintf(detail, sizeof detail, "mapped=%s", mc_addr_str(&p->addr, a));
    step_ok(t, S_BINDING, detail, (int)p->rtt_ms);
    t->binding_ok = true;
    t->mapped = p->addr;
    break;
  case MC_TURN_STEP_ALLOCATE_NOAUTH:
    if (p->code == 401) {
      printable(realm, sizeof realm, p->realm);
      snprintf(detail, sizeof detail, "401 with realm=\"%s\" nonce=%s", realm, p->has_nonce ? "yes" : "no");
    } else {
      snprintf(detail, sizeof detail, "the server allocates without credentials");
    }
    step_ok(t, S_ALLOC_NOAUTH, detail, (int)p->rtt_ms);
    break;
  case MC_TURN_STEP_ALLOCATE:
    snprintf(detail, sizeof detail, "relayed=%s  mapped=%s  lifetime=%us", mc_addr_str(&p->addr, a),
             mc_addr_str(&p->mapped, m), (unsigned)p->lifetime_s);
    step_ok(t, S_ALLOC, detail, (int)p->rtt_ms);
    break;
  default:
    break;
  }
}

static void progress_b(mc_turn_client *c, const struct mc_turn_progress *p, void *user) {
  (void)c;
  struct run *r = user;
  char a[MC_ADDR_STRLEN], detail[300];
  if (p->err && p->step <= MC_TURN_STEP_ALLOCATE) {
    char why[160], reason[120];
    printable(reason, sizeof reason, p->reason ? p->reason : "");
    if (p->code) snprintf(why, sizeof why, "error %u%s%s", (unsigned)p->code, reason[0] ? " " : "", reason);
    else mc_strcpy(why, sizeof why, mc_strerror(p->err));
    step_fail(r->t, S_ALLOC_SECOND, p->code, why, p->sentence);
    return;
  }
  if (!p->err && p->step == MC_TURN_STEP_ALLOCATE) {
    snprintf(detail, sizeof detail, "relayed=%s", mc_addr_str(&p->addr, a));
    step_ok(r->t, S_ALLOC_SECOND, detail, (int)p->rtt_ms);
  }
}

static void on_error_any(mc_turn_client *c, int err, const char *sentence, void *user) {
  struct run *r = user;
  struct target *t = r->t;
  (void)c;
  if (!any_failed(t)) {
    /* Failure without a step of its own: charge it to the first step not done. */
    for (int i = 0; i < S_COUNT; i++) {
      if (t->steps[i].used && t->steps[i].st != ST_OK) {
        step_fail(t, (enum step_id)i, 0, mc_strerror(err), sentence);
        break;
      }
    }
  }
  finish(r);
}

static void on_allocated_b(mc_turn_client *c, const mc_addr *relayed, const mc_addr *mapped, void *user) {
  (void)mapped;
  (void)c;
  struct run *r = user;
  r->relay_b = *relayed;
  r->phase = PH_PERMISSION;
  r->phase_start_ms = mc_now_ms();
  r->perm_ok = r->perm_fail = 0;
  /* RFC 8656 9: each side lets the other's relayed address in. */
  int rc1 = mc_turn_create_permission(r->a, &r->relay_b);
  int rc2 = mc_turn_create_permission(r->b, &r->relay_a);
  if (rc1 < 0 || rc2 < 0) {
    step_fail(r->t, S_PERMISSION, 0, mc_strerror(rc1 < 0 ? rc1 : rc2), "CreatePermission could not be sent.");
    finish(r);
    return;
  }
  arm_deadline(r, step_deadline, (uint64_t)r->o->timeout_ms * 2 + 1000);
}

static int make_client(struct run *r, bool first, mc_turn_client **out);

static void on_allocated_a(mc_turn_client *c, const mc_addr *relayed, const mc_addr *mapped, void *user) {
  (void)mapped;
  (void)c;
  struct run *r = user;
  if (r->t->stun_only) {
    finish(r);
    return;
  }
  r->relay_a = *relayed;
  r->phase = PH_ALLOC_B;
  if (make_client(r, false, &r->b) < 0 || mc_turn_client_start(r->b) < 0) {
    step_fail(r->t, S_ALLOC_SECOND, 0, "internal error", "Could not start a second TURN client.");
    finish(r);
  }
}

static int make_client(struct run *r, bool first, mc_turn_client **out) {
  struct mc_turn_config cfg;
  memset(&cfg, 0, sizeof cfg);
  mc_turn_config_from_url(&cfg, &r->t->url);
  cfg.transport = r->t->transport;
  cfg.username = r->o->username;
  cfg.password = r->o->password;
  cfg.insecure = r->o->insecure;
  cfg.timeout_ms = r->o->timeout_ms;
  cfg.family = AF_UNSPEC;
  cfg.binding_first = first;
  cfg.binding_only = r->t->stun_only;
  struct mc_turn_callbacks cbs;
  memset(&cbs, 0, sizeof cbs);
  cbs.on_allocated = first ? on_allocated_a : on_allocated_b;
  cbs.on_error = on_error_any;
  cbs.on_data = first ? on_data_a : on_data_b;
  cbs.on_permission = on_permission;
  cbs.on_channel = on_channel;
  cbs.on_progress = first ? progress_a : progress_b;
  return mc_turn_client_new(&r->loop, &cfg, &cbs, r, out);
}

static void timer_closed(uv_handle_t *h) { (void)h; }

static void finish(struct run *r) {
  if (r->phase == PH_DONE) return;
  r->phase = PH_DONE;
  /* close sends Refresh(0) and frees itself; the loop runs until it has */
  if (r->a) mc_turn_client_close(r->a);
  if (r->b) mc_turn_client_close(r->b);
  r->a = r->b = NULL;
  uv_timer_stop(&r->timer);
  uv_timer_stop(&r->pacer);
  if (!r->timers_closed) {
    r->timers_closed = true;
    uv_close((uv_handle_t *)&r->timer, timer_closed);
    uv_close((uv_handle_t *)&r->pacer, timer_closed);
  }
}

static void run_target(const struct opts *o, struct target *t) {
  struct run *r = calloc(1, sizeof *r);
  if (!r) {
    step_fail(t, S_RESOLVE, 0, "out of memory", "Ran out of memory.");
    return;
  }
  r->o = o;
  r->t = t;
  uv_loop_init(&r->loop);
  uv_timer_init(&r->loop, &r->timer);
  uv_timer_init(&r->loop, &r->pacer);
  r->timer.data = r;
  r->pacer.data = r;
  r->phase = PH_ALLOC_A;
  int rc = make_client(r, true, &r->a);
  if (rc == 0) rc = mc_turn_client_start(r->a);
  if (rc < 0) {
    step_fail(t, S_RESOLVE, 0, mc_strerror(rc), "Could not start the check.");
    finish(r);
  }
  uv_run(&r->loop, UV_RUN_DEFAULT);
  if (r->phase != PH_DONE) finish(r); /* the loop ran dry: close what is left */
  uv_run(&r->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&r->loop) != 0) MC_LOGW("diagnose", "loop still had handles at exit");
  free(r);
  t->ok = !any_failed(t);
  for (int i = 0; i < S_COUNT; i++)
    if (t->steps[i].used && t->steps[i].st != ST_OK) t->ok = false;
}

/* ---- output ---- */

/* The TURN pool: each distinct TURN URL, and whether any of its transports
 * relayed data. A dead member of the pool shows here even when the others
 * give every candidate type. */
struct pool_sum {
  size_t servers, relaying;
};

static struct pool_sum pool_summary(const struct target *targets, size_t n) {
  struct pool_sum p = {0, 0};
  for (size_t i = 0; i < n; i++) {
    if (targets[i].stun_only) continue;
    bool seen = false, relayed = false;
    for (size_t k = 0; k < n; k++) {
      if (targets[k].stun_only || strcmp(targets[k].url_text, targets[i].url_text) != 0) continue;
      if (k < i) seen = true;
      relayed = relayed || targets[k].relay_ok;
    }
    if (seen) continue;
    p.servers++;
    if (relayed) p.relaying++;
  }
  return p;
}

static void print_text(FILE *f, const struct target *targets, size_t n, const char *host_detail,
                       const char *cand[5], const char *cand_detail[5]) {
  static const char *cand_names[5] = {"host", "srflx", "relay/udp", "relay/tcp", "relay/tls"};
  for (size_t i = 0; i < n; i++) {
    const struct target *t = &targets[i];
    fprintf(f, "%s  (%s)\n", t->url_text, mc_turn_transport_name(t->transport));
    for (int s = 0; s < S_COUNT; s++) {
      const struct step *st = &t->steps[s];
      if (!st->used) continue;
      const char *tag = st->st == ST_OK ? "[ok]  " : st->st == ST_FAIL ? "[FAIL]" : "[skip]";
      char extra[40] = "";
      if (st->st == ST_OK && st->has_rtt) snprintf(extra, sizeof extra, "  %ums", (unsigned)st->rtt_ms);
      if (st->detail[0] || extra[0])
        fprintf(f, "  %s %-26s %s%s\n", tag, step_names[s].label, st->detail, extra);
      else
        fprintf(f, "  %s %s\n", tag, step_names[s].label);
      if (st->st == ST_FAIL && st->hint[0]) fprintf(f, "         %-26s %s\n", "", st->hint);
    }
    fprintf(f, "  => %s\n\n", t->ok ? "ok" : "FAILED");
  }
  struct pool_sum pool = pool_summary(targets, n);
  if (pool.servers > 1) {
    fprintf(f, "TURN pool: %zu of %zu servers relayed data\n", pool.relaying, pool.servers);
    for (size_t i = 0; i < n; i++)
      if (!targets[i].stun_only && !targets[i].relay_ok) fprintf(f, "  failed: %s  (%s)\n", targets[i].url_text,
                                                                 mc_turn_transport_name(targets[i].transport));
    fputc('\n', f);
  }
  fprintf(f, "candidate types this network can offer:\n");
  for (int i = 0; i < 5; i++) {
    const char *d = i == 0 ? host_detail : cand_detail[i];
    if (d[0]) fprintf(f, "  %-10s %-11s %s\n", cand_names[i], cand[i], d);
    else fprintf(f, "  %-10s %s\n", cand_names[i], cand[i]);
  }
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"') fputs("\\\"", f);
    else if (ch == '\\') fputs("\\\\", f);
    else if (ch == '\n') fputs("\\n", f);
    else if (ch < 0x20 || ch == 0x7f) fprintf(f, "\\u%04x", ch);
    else if (ch >= 0x80) fputc('?', f); /* only ASCII leaves here: always valid UTF-8 */
    else fputc(ch, f);
  }
  fputc('"', f);
}

static void print_json(FILE *f, const struct target *targets, size_t n, bool all_ok, const char *host_detail,
                       const char *cand[5], const char *cand_detail[5]) {
  static const char *keys[5] = {"host", "srflx", "relay_udp", "relay_tcp", "relay_tls"};
  fprintf(f, "{\"version\":1,\"ok\":%s,\"servers\":[", all_ok ? "true" : "false");
  for (size_t i = 0; i < n; i++) {
    const struct target *t = &targets[i];
    fprintf(f, "%s{\"url\":", i ? "," : "");
    json_str(f, t->url_text);
    fprintf(f, ",\"transport\":\"%s\",\"ok\":%s,\"steps\":[", mc_turn_transport_name(t->transport),
            t->ok ? "true" : "false");
    bool first = true;
    for (int s = 0; s < S_COUNT; s++) {
      const struct step *st = &t->steps[s];
      if (!st->used) continue;
      fprintf(f, "%s{\"name\":\"%s\",\"status\":\"%s\"", first ? "" : ",", step_names[s].id,
              st->st == ST_OK ? "ok" : st->st == ST_FAIL ? "fail" : "skip");
      first = false;
      if (st->code) fprintf(f, ",\"code\":%u", (unsigned)st->code);
      if (st->has_rtt && st->st == ST_OK) fprintf(f, ",\"rtt_ms\":%u", (unsigned)st->rtt_ms);
      if (st->detail[0]) {
        fputs(",\"detail\":", f);
        json_str(f, st->detail);
      }
      if (st->st == ST_FAIL && st->hint[0]) {
        fputs(",\"hint\":", f);
        json_str(f, st->hint);
      }
      fputc('}', f);
    }
    fputc(']', f);
    if (t->binding_ok) {
      char a[MC_ADDR_STRLEN];
      fputs(",\"mapped\":", f);
      json_str(f, mc_addr_str(&t->mapped, a));
    }
    if (t->has_probes) {
      const struct probe_stats *p = &t->probes;
      fprintf(f,
              ",\"probes\":{\"sent\":%d,\"received\":%d,\"corrupt\":%d,\"loss_percent\":%d,"
              "\"rtt_ms\":{\"min\":%.3f,\"median\":%.3f,\"max\":%.3f}}",
              p->sent, p->received, p->corrupt, p->sent ? (p->sent - p->received) * 100 / p->sent : 100,
              p->rtt_min, p->rtt_median, p->rtt_max);
    }
    fputc('}', f);
  }
  struct pool_sum pool = pool_summary(targets, n);
  fprintf(f, "],\"turn_pool\":{\"servers\":%zu,\"relaying\":%zu}", pool.servers, pool.relaying);
  fputs(",\"candidates\":{", f);
  for (int i = 0; i < 5; i++) {
    fprintf(f, "%s\"%s\":{\"status\":", i ? "," : "", keys[i]);
    json_str(f, cand[i]);
    fputs(",\"detail\":", f);
    json_str(f, i == 0 ? host_detail : cand_detail[i]);
    fputc('}', f);
  }
  fputs("}}\n", f);
}

/* ---- command line ---- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("medcall diagnose: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs("\n\n", stderr);
  mc_diagnose_usage(stderr);
  return MC_APP_EXIT_USAGE;
}

static int parse_uint(const char *s, long min, long max, long *out) {
  char *end;
  if (!s || !*s) return -1;
  long v = strtol(s, &end, 10);
  if (*end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static void add_step_set(struct target *t) {
  t->steps[S_RESOLVE].used = true;
  t->steps[S_CONNECT].used = t->transport != MC_TURN_UDP;
  t->steps[S_BINDING].used = true;
  if (t->stun_only) return;
  for (int s = S_ALLOC_NOAUTH; s < S_COUNT; s++) t->steps[s].used = true;
}

static int run_checks(const struct opts *opts);

/* --server-config: the TURN pool of a medcall-server config file, each URL
 * in the order the server hands them out, with credentials as an admitted
 * peer gets them (TURN REST from turn-secret, short-lived) unless
 * --ice-username gave others. The secret stays in this process. */
static int pool_from_config(struct opts *o, struct mc_server_config *cfg, char *user, size_t user_cap, char *pass,
                            size_t pass_cap) {
  char why[400];
  if (mc_server_config_load(cfg, o->server_config, why, sizeof why) < 0) {
    /* why names the file (and the line) already */
    fprintf(stderr, "medcall diagnose: %s\n", why);
    return -1;
  }
  if (cfg->n_turn_urls == 0) {
    usage_error(_("%s names no turn-url: nothing to check"), o->server_config);
    return -1;
  }
  for (size_t i = 0; i < cfg->n_turn_urls; i++) {
    if (o->nurls == MAX_URLS) {
      usage_error("%s", _("too many --ice-server options"));
      return -1;
    }
    o->urls[o->nurls++] = cfg->turn_urls[i];
  }
  if (o->username) return 0;
  if (cfg->turn_secret) {
    char id[40];
    snprintf(id, sizeof id, "medcall-diagnose-%08x", mc_random_u32());
    uint64_t expiry = mc_wall_ms() / 1000 + POOL_CREDENTIAL_TTL_S;
    if (mc_turn_rest_credentials(cfg->turn_secret, expiry, id, user, user_cap, pass, pass_cap) < 0) {
      usage_error("%s", _("could not make TURN credentials from the turn-secret"));
      return -1;
    }
    o->username = user;
    o->password = pass;
  } else if (cfg->turn_user && cfg->turn_password) {
    o->username = cfg->turn_user;
    o->password = cfg->turn_password;
  }
  return 0;
}

int mc_diagnose_main(int argc, char **argv) {
  struct opts o;
  memset(&o, 0, sizeof o);
  /* Each step's failure is reported in the output; log lines would repeat it. */
  if (!getenv("MEDCALL_LOG")) mc_log_set_level(MC_LOG_ERROR);
  o.timeout_ms = DEFAULT_TIMEOUT_MS;
  o.probes = DEFAULT_PROBES;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    const char *eq = strchr(a, '=');
    char name[32];
    if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof name) {
      memcpy(name, a, (size_t)(eq - a));
      name[eq - a] = '\0';
      val = eq + 1;
      a = name;
    }
    bool takes = strcmp(a, "--ice-server") == 0 || strcmp(a, "--ice-username") == 0 ||
                 strcmp(a, "--server-config") == 0 ||
                 strcmp(a, "--ice-credential") == 0 || strcmp(a, "--timeout-ms") == 0 ||
                 strcmp(a, "--probes") == 0;
    if (takes && !val) {
      if (i + 1 >= argc) return usage_error(_("missing value after %s"), a);
      val = argv[++i];
    }
    if (strcmp(a, "--ice-server") == 0) {
      if (o.nurls == MAX_URLS) return usage_error("%s", _("too many --ice-server options"));
      o.urls[o.nurls++] = val;
    } else if (strcmp(a, "--server-config") == 0) {
      o.server_config = val;
    } else if (strcmp(a, "--ice-username") == 0) {
      o.username = val;
    } else if (strcmp(a, "--ice-credential") == 0) {
      o.password = val;
    } else if (strcmp(a, "--timeout-ms") == 0) {
      long v;
      if (parse_uint(val, 1, 600000, &v) < 0) return usage_error(_("--timeout-ms takes 1..600000, not %s"), val);
      o.timeout_ms = (uint32_t)v;
    } else if (strcmp(a, "--probes") == 0) {
      long v;
      if (parse_uint(val, 1, MAX_PROBES, &v) < 0) return usage_error(_("--probes takes 1..200, not %s"), val);
      o.probes = (int)v;
    } else if (strcmp(a, "--insecure") == 0 && !val) {
      o.insecure = true;
    } else if (strcmp(a, "--json") == 0 && !val) {
      o.json = true;
    } else {
      return usage_error(_("unknown option %s"), a);
    }
  }
  if ((o.username == NULL) != (o.password == NULL))
    return usage_error("%s", _("--ice-username and --ice-credential go together"));
  struct mc_server_config scfg;
  mc_server_config_init(&scfg);
  char rest_user[128], rest_pass[64];
  int rc = MC_APP_EXIT_USAGE;
  if (o.server_config && pool_from_config(&o, &scfg, rest_user, sizeof rest_user, rest_pass, sizeof rest_pass) < 0)
    goto out;
  if (o.nurls == 0) {
    rc = usage_error("%s", _("give at least one --ice-server URL"));
    goto out;
  }
  rc = run_checks(&o);
out:
  OPENSSL_cleanse(rest_pass, sizeof rest_pass);
  mc_server_config_free(&scfg);
  return rc;
}

/* The checks of every URL, then the candidate types. */
static int run_checks(const struct opts *opts) {
  const struct opts o = *opts;
  static struct target targets[MAX_TARGETS];
  size_t nt = 0;
  memset(targets, 0, sizeof targets);
  for (size_t i = 0; i < o.nurls; i++) {
    mc_ice_url url;
    char why[400];
    if (mc_ice_url_parse(o.urls[i], strlen(o.urls[i]), &url, why, sizeof why) < 0) {
      fprintf(stderr, _("medcall diagnose: bad --ice-server '%s': %s\n"), o.urls[i], why);
      return MC_APP_EXIT_USAGE;
    }
    enum mc_turn_transport trs[2];
    size_t ntr = 0;
    trs[ntr++] = url.transport;
    /* A turn: URL without ?transport= may be used over UDP or TCP: check both. */
    if (url.scheme == MC_ICE_URL_TURN && !url.transport_given) trs[ntr++] = MC_TURN_TCP;
    for (size_t k = 0; k < ntr && nt < MAX_TARGETS; k++) {
      struct target *t = &targets[nt++];
      t->url = url;
      mc_strcpy(t->url_text, sizeof t->url_text, o.urls[i]);
      t->transport = trs[k];
      t->stun_only = !mc_ice_url_is_turn(&url);
      add_step_set(t);
    }
  }

  bool all_ok = true;
  for (size_t i = 0; i < nt; i++) {
    run_target(&o, &targets[i]);
    all_ok = all_ok && targets[i].ok;
  }

  /* Candidate types (RFC 8445 5.1.1): host from interfaces, srflx from a
   * UDP Binding, relay per transport from data that really went through. */
  mc_addr locals[32];
  size_t nlocal = 0;
  char host_detail[200];
  if (mc_net_local_addresses(locals, MC_ARRAY_LEN(locals), &nlocal) < 0) nlocal = 0;
  if (nlocal) {
    char a[MC_ADDR_STRLEN];
    snprintf(host_detail, sizeof host_detail, "%zu address%s, e.g. %s", nlocal, nlocal == 1 ? "" : "es",
             mc_addr_ip_str(&locals[0], a));
  } else {
    snprintf(host_detail, sizeof host_detail, "no usable interface");
  }
  const char *cand[5] = {nlocal ? "yes" : "no", "not tested", "not tested", "not tested", "not tested"};
  static char cand_detail_buf[5][200];
  const char *cand_detail[5] = {"", "", "", "", ""};
  for (size_t i = 0; i < nt; i++) {
    const struct target *t = &targets[i];
    if (t->transport == MC_TURN_UDP) {
      if (t->binding_ok) {
        char a[MC_ADDR_STRLEN];
        bool nat = true;
        for (size_t k = 0; k < nlocal; k++)
          if (mc_addr_ip_equal(&locals[k], &t->mapped)) nat = false;
        if (strcmp(cand[1], "yes") != 0) {
          snprintf(cand_detail_buf[1], sizeof cand_detail_buf[1], "mapped=%s%s", mc_addr_str(&t->mapped, a),
                   nat ? "" : " (same as a host address: no NAT on the way)");
          cand_detail[1] = cand_detail_buf[1];
        }
        cand[1] = "yes";
      } else if (strcmp(cand[1], "yes") != 0 && t->steps[S_BINDING].st == ST_FAIL) {
        cand[1] = "no";
      }
    }
    if (t->stun_only) continue;
    int idx = t->transport == MC_TURN_UDP ? 2 : t->transport == MC_TURN_TCP ? 3 : 4;
    if (t->relay_ok) {
      cand[idx] = "yes";
      snprintf(cand_detail_buf[idx], sizeof cand_detail_buf[idx], "via %.150s", t->url_text);
      cand_detail[idx] = cand_detail_buf[idx];
    } else if (strcmp(cand[idx], "yes") != 0 && strcmp(cand[idx], "no") != 0) {
      cand[idx] = "no";
      snprintf(cand_detail_buf[idx], sizeof cand_detail_buf[idx], "failed via %.150s", t->url_text);
      cand_detail[idx] = cand_detail_buf[idx];
    }
  }

  if (o.json) print_json(stdout, targets, nt, all_ok, host_detail, cand, cand_detail);
  else print_text(stdout, targets, nt, host_detail, cand, cand_detail);
  fflush(stdout);
  return all_ok ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL;
}
