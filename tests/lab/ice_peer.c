/* ice_peer: the network lab's ICE test peer. Two of them, in two network
 * namespaces, signal over a Unix socket, connect with the ICE agent, send
 * each other N datagrams over the selected pair and check every byte.
 * The contract with the lab scripts is tests/lab/ICE_PEER.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ice/ice.h"

#define FILLER_LEN 200
#define MAX_MSG 512
#define MAX_SERVERS 8
#define SEND_INTERVAL_MS 5
#define CONNECT_RETRY_MS 100
#define CONNECT_WINDOW_MS 10000
#define EXIT_LINGER_MS 2500

struct opts {
  bool controlling;
  const char *signal_path;
  struct mc_ice_server servers[MAX_SERVERS];
  size_t nservers;
  bool insecure, relay_only, expect_consent_failure, mdns;
  unsigned messages;
  uint64_t timeout_ms, consent_timeout_ms, hold_ms;
  bool consent_timeout_given;
  int family;
  uint64_t ta_ms; /* 0: the default */
};

static struct opts o;
static uv_loop_t *loop;
static mc_ice_agent *agent;
static uint64_t t0, gather_t0;

/* signaling */
static uv_pipe_t server_pipe, conn_pipe;
static bool server_open, conn_open, connected;
static uv_connect_t connect_req;
static uv_timer_t retry_timer, send_timer, deadline_timer, hold_timer;
static uint64_t connect_started;
static char rxline[4096];
static size_t rxlen;
static char **outq;
static size_t noutq, capoutq;

/* state */
static char rufrag[MC_ICE_UFRAG_MAX + 1], rpwd[MC_ICE_PWD_MAX + 1];
static bool have_rufrag, have_rpwd, creds_set;
static bool selected, ever_selected, sending_done, data_done, peer_bye, bye_sent, consent_failed, finished;
static bool holding;
static unsigned next_seq, received;
static bool *seen;
static int exit_status = 1;

static const char *role_name(bool controlling) { return controlling ? "controlling" : "controlled"; }

static uint64_t since_start(void) { return mc_now_ms() - t0; }

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

/* One sentence; quotes inside become apostrophes so the line stays parseable. */
static void out_error(const char *sentence) {
  char buf[600];
  snprintf(buf, sizeof buf, "%s", sentence);
  for (char *p = buf; *p; p++)
    if (*p == '"' || *p == '\n') *p = '\'';
  out("error message=\"%s\"", buf);
}

static void finish(bool ok);

/* ---- signaling: newline-terminated lines over a Unix stream socket ---- */

struct write_req {
  uv_write_t req;
  char data[];
};

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void write_line_now(const char *line) {
  size_t n = strlen(line);
  struct write_req *w = malloc(sizeof *w + n + 1);
  if (!w) return;
  memcpy(w->data, line, n);
  w->data[n] = '\n';
  uv_buf_t b = uv_buf_init(w->data, (unsigned)(n + 1));
  if (uv_write(&w->req, (uv_stream_t *)&conn_pipe, &b, 1, on_written) != 0) free(w);
}

static void send_line(const char *line) {
  if (connected) {
    write_line_now(line);
    return;
  }
  if (noutq == capoutq) {
    size_t cap = capoutq ? capoutq * 2 : 16;
    char **n = realloc(outq, cap * sizeof *n);
    if (!n) return;
    outq = n;
    capoutq = cap;
  }
  outq[noutq] = strdup(line);
  if (outq[noutq]) noutq++;
}

static void maybe_set_creds(void) {
  if (creds_set || !have_rufrag || !have_rpwd || !agent) return;
  int rc = mc_ice_agent_set_remote_credentials(agent, rufrag, rpwd);
  if (rc != 0) {
    out_error("The peer sent ICE credentials that are not valid.");
    finish(false);
    return;
  }
  creds_set = true;
}

static void check_done(void);

static void handle_line(char *line) {
  size_t n = strlen(line);
  if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
  if (!agent || finished) return;
  if (strncmp(line, "ufrag ", 6) == 0) {
    mc_strcpy(rufrag, sizeof rufrag, line + 6);
    have_rufrag = true;
    maybe_set_creds();
  } else if (strncmp(line, "pwd ", 4) == 0) {
    mc_strcpy(rpwd, sizeof rpwd, line + 4);
    have_rpwd = true;
    maybe_set_creds();
  } else if (strncmp(line, "candidate ", 10) == 0) {
    const char *cl = line + 10;
    mc_ice_candidate c;
    if (mc_ice_candidate_parse((const uint8_t *)cl, strlen(cl), &c) == 0) {
      out("remote-candidate type=%s addr=%s%s%s:%u", mc_ice_cand_type_name(c.type),
          strchr(c.host, ':') ? "[" : "", c.host, strchr(c.host, ':') ? "]" : "", (unsigned)c.port);
    }
    int rc = mc_ice_agent_add_remote_candidate(agent, cl);
    if (rc != 0) MC_LOGW("ice_peer", "remote candidate refused err=%s", mc_strerror(rc));
  } else if (strcmp(line, "end-of-candidates") == 0) {
    mc_ice_agent_set_remote_gathering_done(agent);
  } else if (strcmp(line, "bye") == 0) {
    peer_bye = true;
    check_done();
  } else if (line[0]) {
    MC_LOGW("ice_peer", "unknown signaling line ignored");
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  static char rb[4096];
  buf->base = rb;
  buf->len = sizeof rb;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)s;
  if (nread < 0) {
    MC_LOGI("ice_peer", "signaling closed by the peer");
    uv_read_stop((uv_stream_t *)&conn_pipe);
    connected = false;
    return;
  }
  for (ssize_t i = 0; i < nread; i++) {
    char c = buf->base[i];
    if (c == '\n') {
      rxline[rxlen] = '\0';
      handle_line(rxline);
      rxlen = 0;
    } else if (rxlen + 1 < sizeof rxline) {
      rxline[rxlen++] = c;
    }
  }
}

static void on_signal_connected(void) {
  connected = true;
  uv_read_start((uv_stream_t *)&conn_pipe, on_alloc, on_read);
  for (size_t i = 0; i < noutq; i++) {
    write_line_now(outq[i]);
    free(outq[i]);
  }
  noutq = 0;
  MC_LOGI("ice_peer", "signaling connected");
}

static void on_connection(uv_stream_t *server, int status) {
  if (status != 0 || conn_open) return;
  uv_pipe_init(loop, &conn_pipe, 0);
  conn_open = true;
  if (uv_accept(server, (uv_stream_t *)&conn_pipe) != 0) {
    out_error("The signaling socket could not accept the peer's connection.");
    finish(false);
    return;
  }
  on_signal_connected();
}

static void try_connect(void);

static void on_pipe_closed_retry(uv_handle_t *h) {
  (void)h;
  conn_open = false;
  if (finished) return;
  if (mc_now_ms() - connect_started >= CONNECT_WINDOW_MS) {
    char msg[300];
    snprintf(msg, sizeof msg, "Could not connect to the signaling socket %s within 10 s.", o.signal_path);
    out_error(msg);
    finish(false);
    return;
  }
  uv_timer_start(&retry_timer, (uv_timer_cb)try_connect, CONNECT_RETRY_MS, 0);
}

static void on_connect(uv_connect_t *req, int status) {
  (void)req;
  if (status != 0) {
    MC_LOGD("ice_peer", "signaling connect failed err=%s, retrying", uv_strerror(status));
    uv_close((uv_handle_t *)&conn_pipe, on_pipe_closed_retry);
    return;
  }
  on_signal_connected();
}

static void try_connect(void) {
  if (finished) return;
  uv_pipe_init(loop, &conn_pipe, 0);
  conn_open = true;
  uv_pipe_connect(&connect_req, &conn_pipe, o.signal_path, on_connect);
}

static int start_signaling(void) {
  if (o.controlling) {
    unlink(o.signal_path);
    uv_pipe_init(loop, &server_pipe, 0);
    server_open = true;
    int rc = uv_pipe_bind(&server_pipe, o.signal_path);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&server_pipe, 1, on_connection);
    if (rc != 0) {
      char msg[300];
      snprintf(msg, sizeof msg, "Could not listen on the signaling socket %s: %s.", o.signal_path, uv_strerror(rc));
      out_error(msg);
      return -1;
    }
  } else {
    connect_started = mc_now_ms();
    try_connect();
  }
  return 0;
}

/* ---- data: "medcall-lab <seq> <role>", a NUL, then filler from seq ---- */

static size_t build_msg(uint8_t *buf, unsigned seq, bool controlling) {
  int n = snprintf((char *)buf, MAX_MSG, "medcall-lab %u %s", seq, role_name(controlling));
  size_t off = (size_t)n + 1;
  buf[n] = '\0';
  for (size_t i = 0; i < FILLER_LEN; i++) buf[off + i] = (uint8_t)((seq * 31 + i) & 0xff);
  return off + FILLER_LEN;
}

static void on_send_timer(uv_timer_t *t) {
  (void)t;
  if (!selected || sending_done || finished) return;
  uint8_t buf[MAX_MSG];
  size_t n = build_msg(buf, next_seq, o.controlling);
  int rc = mc_ice_agent_send(agent, buf, n);
  if (rc != 0) {
    MC_LOGD("ice_peer", "send failed seq=%u err=%s", next_seq, mc_strerror(rc));
    return;
  }
  if (++next_seq >= o.messages) {
    sending_done = true;
    uv_timer_stop(&send_timer);
    check_done();
  }
}

static void on_data(mc_ice_agent *a, const uint8_t *data, size_t len, void *user) {
  (void)a;
  (void)user;
  static const char prefix[] = "medcall-lab ";
  if (len < sizeof prefix || memcmp(data, prefix, sizeof prefix - 1) != 0) {
    MC_LOGW("ice_peer", "unexpected datagram len=%zu", len);
    return;
  }
  unsigned seq = 0;
  size_t i = sizeof prefix - 1;
  bool digits = false;
  while (i < len && data[i] >= '0' && data[i] <= '9' && seq < 100000000) {
    seq = seq * 10 + (unsigned)(data[i++] - '0');
    digits = true;
  }
  uint8_t want[MAX_MSG];
  if (!digits || seq >= o.messages) {
    MC_LOGW("ice_peer", "datagram with a bad sequence number len=%zu", len);
    return;
  }
  size_t wn = build_msg(want, seq, !o.controlling);
  if (wn != len || memcmp(want, data, len) != 0) {
    MC_LOGW("ice_peer", "datagram content mismatch seq=%u len=%zu", seq, len);
    return;
  }
  if (!seen[seq]) {
    seen[seq] = true;
    received++;
    check_done();
  }
}

/* ---- ICE events ---- */

static void on_candidate(mc_ice_agent *a, const mc_ice_candidate *c, const char *line, void *user) {
  (void)a;
  (void)user;
  char as[MC_ADDR_STRLEN];
  out("candidate type=%s proto=udp addr=%s relay_transport=%s gather_ms=%llu", mc_ice_cand_type_name(c->type),
      mc_addr_str(&c->addr, as), c->has_relay_transport ? mc_turn_transport_name(c->relay_transport) : "-",
      (unsigned long long)(mc_now_ms() - gather_t0));
  char buf[MC_ICE_CANDIDATE_STRLEN + 16];
  snprintf(buf, sizeof buf, "candidate %s", line);
  send_line(buf);
}

static void on_gathering_done(mc_ice_agent *a, void *user) {
  (void)a;
  (void)user;
  out("gathering-done ms=%llu", (unsigned long long)(mc_now_ms() - gather_t0));
  send_line("end-of-candidates");
}

static void on_state(mc_ice_agent *a, enum mc_ice_state s, void *user) {
  (void)user;
  out("state value=%s ms=%llu", mc_ice_state_name(s), (unsigned long long)since_start());
  if (s != MC_ICE_STATE_FAILED || finished) return;
  if (ever_selected) {
    struct mc_ice_stats st;
    mc_ice_agent_get_stats(a, &st);
    consent_failed = true;
    selected = false;
    out("consent-failure ms=%llu", (unsigned long long)(mc_now_ms() - st.last_consent_ms));
    if (o.expect_consent_failure) {
      finish(data_done && received >= o.messages);
    } else {
      out_error("Consent to send was lost: the peer stopped answering on the selected pair.");
      finish(false);
    }
  } else {
    out_error("ICE failed: every candidate pair failed.");
    finish(false);
  }
}

static void on_selected(mc_ice_agent *a, const mc_ice_candidate *l, const mc_ice_candidate *r, void *user) {
  (void)user;
  struct mc_ice_stats st;
  mc_ice_agent_get_stats(a, &st);
  char ls[MC_ADDR_STRLEN], rs[MC_ADDR_STRLEN];
  out("selected local_type=%s remote_type=%s local=%s remote=%s relay_transport=%s ms=%llu",
      mc_ice_cand_type_name(l->type), mc_ice_cand_type_name(r->type), mc_addr_str(&l->addr, ls),
      mc_addr_str(&r->addr, rs), l->has_relay_transport ? mc_turn_transport_name(l->relay_transport) : "-",
      (unsigned long long)(st.checks_started_ms ? st.selected_ms - st.checks_started_ms : 0));
  selected = true;
  if (!ever_selected) {
    ever_selected = true;
    uv_timer_start(&send_timer, on_send_timer, 0, SEND_INTERVAL_MS);
  }
}

static void on_server_error(mc_ice_agent *a, const char *url, const char *sentence, void *user) {
  (void)a;
  (void)url;
  (void)user;
  out_error(sentence);
}

/* ---- completion ---- */

static void on_exit_timer(uv_timer_t *t) {
  (void)t;
  uv_stop(loop);
}

static void close_all(void) {
  uv_timer_stop(&send_timer);
  uv_timer_stop(&deadline_timer);
  uv_timer_stop(&retry_timer);
  uv_timer_stop(&hold_timer);
  if (agent) mc_ice_agent_free(agent);
  agent = NULL;
  if (conn_open && !uv_is_closing((uv_handle_t *)&conn_pipe)) uv_close((uv_handle_t *)&conn_pipe, NULL);
  if (server_open) {
    uv_close((uv_handle_t *)&server_pipe, NULL);
    unlink(o.signal_path);
  }
  uv_close((uv_handle_t *)&send_timer, NULL);
  uv_close((uv_handle_t *)&retry_timer, NULL);
  uv_close((uv_handle_t *)&hold_timer, NULL);
  uv_timer_start(&deadline_timer, on_exit_timer, EXIT_LINGER_MS, 0);
  uv_unref((uv_handle_t *)&deadline_timer);
}

static void finish(bool ok) {
  if (finished) return;
  finished = true;
  out("data sent=%u received=%u ok=%d", next_seq, received, received >= o.messages ? 1 : 0);
  out("result ok=%d", ok ? 1 : 0);
  exit_status = ok ? 0 : 1;
  close_all();
}

static void on_hold_done(uv_timer_t *t) {
  (void)t;
  finish(true);
}

static void check_done(void) {
  if (finished) return;
  if (!data_done && sending_done && received >= o.messages) {
    data_done = true;
    MC_LOGI("ice_peer", "data exchange done sent=%u received=%u", next_seq, received);
  }
  if (data_done && !bye_sent) {
    bye_sent = true;
    send_line("bye");
  }
  if (!data_done || o.expect_consent_failure || holding) return;
  if (!peer_bye) return;
  if (o.hold_ms > 0) {
    holding = true;
    uv_timer_start(&hold_timer, on_hold_done, o.hold_ms, 0);
    return;
  }
  finish(true);
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  if (finished) return;
  char msg[300];
  if (data_done && !o.expect_consent_failure) {
    /* Our side verified everything; the peer's bye just never came. */
    if (o.hold_ms > 0 && !holding) {
      holding = true;
      uv_timer_start(&hold_timer, on_hold_done, o.hold_ms, 0);
      return;
    }
    if (!holding) finish(true);
    return;
  }
  if (data_done && o.expect_consent_failure) {
    snprintf(msg, sizeof msg, "Timed out: the peer's disappearance was not detected as a consent failure.");
  } else if (!connected) {
    snprintf(msg, sizeof msg, "Timed out after %llu ms without a signaling connection.", (unsigned long long)o.timeout_ms);
  } else if (!ever_selected) {
    snprintf(msg, sizeof msg, "Timed out after %llu ms before a candidate pair was selected.", (unsigned long long)o.timeout_ms);
  } else {
    snprintf(msg, sizeof msg, "Timed out after %llu ms: sent %u and received %u of %u datagrams.",
             (unsigned long long)o.timeout_ms, next_seq, received, o.messages);
  }
  out_error(msg);
  finish(false);
}

/* With --expect-consent-failure the clock restarts once the data is done:
 * the lab kills the other peer at a time of its choosing, and detection
 * takes the consent timeout. */
static void on_progress_timer(uv_timer_t *t) {
  (void)t;
  static bool extended;
  if (o.expect_consent_failure && data_done && !extended) {
    extended = true;
    uv_timer_start(&deadline_timer, on_deadline, o.timeout_ms + o.consent_timeout_ms, 0);
    return;
  }
  on_deadline(t);
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "error message=\"The peer hung past its deadline and was stopped.\"\nresult ok=0\n";
  ssize_t w = write(STDOUT_FILENO, msg, sizeof msg - 1);
  (void)w;
  _exit(1);
}

/* ---- arguments ---- */

static void usage(void) {
  fprintf(stderr,
          "usage: ice_peer --role controlling|controlled --signal PATH\n"
          "         [--stun URL]... [--turn URL --ice-username U --ice-credential P]... [--insecure]\n"
          "         [--relay-only] [--messages N] [--timeout-ms N] [--consent-timeout-ms N]\n"
          "         [--expect-consent-failure] [--hold-ms N] [--mdns] [--bind-family 4|6|any]\n"
          "         [--ta-ms N (check pacing, for measurements)]\n");
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || end == s) return false;
  *out = v;
  return true;
}

static int parse_args(int argc, char **argv) {
  enum { O_ROLE = 1, O_SIGNAL, O_STUN, O_TURN, O_USER, O_CRED, O_INSECURE, O_RELAY, O_MSGS, O_TIMEOUT,
         O_CONSENT, O_EXPECT, O_HOLD, O_MDNS, O_FAMILY, O_TA };
  static const struct option longopts[] = {
      {"role", required_argument, NULL, O_ROLE},
      {"signal", required_argument, NULL, O_SIGNAL},
      {"stun", required_argument, NULL, O_STUN},
      {"turn", required_argument, NULL, O_TURN},
      {"ice-username", required_argument, NULL, O_USER},
      {"ice-credential", required_argument, NULL, O_CRED},
      {"insecure", no_argument, NULL, O_INSECURE},
      {"relay-only", no_argument, NULL, O_RELAY},
      {"messages", required_argument, NULL, O_MSGS},
      {"timeout-ms", required_argument, NULL, O_TIMEOUT},
      {"consent-timeout-ms", required_argument, NULL, O_CONSENT},
      {"expect-consent-failure", no_argument, NULL, O_EXPECT},
      {"hold-ms", required_argument, NULL, O_HOLD},
      {"mdns", no_argument, NULL, O_MDNS},
      {"bind-family", required_argument, NULL, O_FAMILY},
      {"ta-ms", required_argument, NULL, O_TA},
      {NULL, 0, NULL, 0},
  };
  o.messages = 50;
  o.timeout_ms = 20000;
  o.family = AF_UNSPEC;
  bool role_given = false;
  const char *user = NULL, *cred = NULL;
  int last_turn = -1;
  int c;
  uint64_t v;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case O_ROLE:
        if (strcmp(optarg, "controlling") == 0) o.controlling = true;
        else if (strcmp(optarg, "controlled") == 0) o.controlling = false;
        else return -1;
        role_given = true;
        break;
      case O_SIGNAL: o.signal_path = optarg; break;
      case O_STUN:
      case O_TURN:
        if (o.nservers == MAX_SERVERS) return -1;
        o.servers[o.nservers].url = optarg;
        if (c == O_TURN) last_turn = (int)o.nservers;
        o.nservers++;
        break;
      /* Credentials belong to the --turn before them; given before any
       * --turn, or once for several, they apply to every TURN server
       * without its own. */
      case O_USER:
        user = optarg;
        if (last_turn >= 0) o.servers[last_turn].username = optarg;
        break;
      case O_CRED:
        cred = optarg;
        if (last_turn >= 0) o.servers[last_turn].credential = optarg;
        break;
      case O_INSECURE: o.insecure = true; break;
      case O_RELAY: o.relay_only = true; break;
      case O_MSGS:
        if (!parse_u64(optarg, &v) || v == 0 || v > 100000) return -1;
        o.messages = (unsigned)v;
        break;
      case O_TIMEOUT:
        if (!parse_u64(optarg, &v) || v == 0) return -1;
        o.timeout_ms = v;
        break;
      case O_CONSENT:
        if (!parse_u64(optarg, &v) || v == 0) return -1;
        o.consent_timeout_ms = v;
        o.consent_timeout_given = true;
        break;
      case O_EXPECT: o.expect_consent_failure = true; break;
      case O_HOLD:
        if (!parse_u64(optarg, &v)) return -1;
        o.hold_ms = v;
        break;
      case O_MDNS: o.mdns = true; break;
      case O_FAMILY:
        if (strcmp(optarg, "4") == 0) o.family = AF_INET;
        else if (strcmp(optarg, "6") == 0) o.family = AF_INET6;
        else if (strcmp(optarg, "any") == 0) o.family = AF_UNSPEC;
        else return -1;
        break;
      case O_TA:
        if (!parse_u64(optarg, &v) || v == 0 || v > 1000) return -1;
        o.ta_ms = v;
        break;
      default: return -1;
    }
  }
  if (optind != argc || !role_given || !o.signal_path) return -1;
  for (size_t i = 0; i < o.nservers; i++) {
    if (strncmp(o.servers[i].url, "turn", 4) != 0) continue;
    if (!o.servers[i].username) o.servers[i].username = user;
    if (!o.servers[i].credential) o.servers[i].credential = cred;
  }
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  mc_log_init_from_env();
  t0 = mc_now_ms();
  if (parse_args(argc, argv) != 0) {
    usage();
    out_error("The command line is not valid.");
    out("result ok=0");
    return 2;
  }
  seen = calloc(o.messages, sizeof *seen);
  if (!seen) return 1;
  loop = uv_default_loop();
  uv_timer_init(loop, &retry_timer);
  uv_timer_init(loop, &send_timer);
  uv_timer_init(loop, &deadline_timer);
  uv_timer_init(loop, &hold_timer);

  struct mc_ice_settings set;
  mc_ice_settings_default(&set);
  if (o.consent_timeout_given) {
    set.consent_timeout_ms = (uint32_t)o.consent_timeout_ms;
    /* Check often enough that a short timeout sees several attempts. */
    if (set.consent_interval_ms * 3 > set.consent_timeout_ms) set.consent_interval_ms = MC_MAX(set.consent_timeout_ms / 5, 50u);
    if (set.disconnected_ms >= set.consent_timeout_ms) set.disconnected_ms = set.consent_timeout_ms / 2;
  }
  o.consent_timeout_ms = set.consent_timeout_ms;
  if (o.ta_ms) set.ta_ms = (uint32_t)o.ta_ms;
  /* A backstop that does not depend on the event loop: whatever happens,
   * the lab never waits on a hung peer. */
  signal(SIGALRM, on_alarm);
  uint64_t hard_ms = o.timeout_ms + o.hold_ms + (o.expect_consent_failure ? o.timeout_ms + o.consent_timeout_ms : 0);
  alarm((unsigned)(hard_ms / 1000 + 15));
  struct mc_ice_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.role = o.controlling ? MC_ICE_ROLE_CONTROLLING : MC_ICE_ROLE_CONTROLLED;
  cfg.servers = o.servers;
  cfg.server_count = o.nservers;
  cfg.insecure = o.insecure;
  cfg.relay_only = o.relay_only;
  cfg.mdns_hide_host = o.mdns;
  cfg.family = o.family;
  cfg.settings = &set;
  static const struct mc_ice_callbacks cbs = {
      .on_candidate = on_candidate,
      .on_gathering_done = on_gathering_done,
      .on_state = on_state,
      .on_selected_pair = on_selected,
      .on_data = on_data,
      .on_server_error = on_server_error,
  };
  int rc = mc_ice_agent_new(loop, &cfg, &cbs, NULL, &agent);
  if (rc != 0) {
    char msg[200];
    snprintf(msg, sizeof msg, "The ICE agent could not be created (%s).", mc_strerror(rc));
    out_error(msg);
    out("result ok=0");
    return 1;
  }
  char ufrag[MC_ICE_UFRAG_MAX + 1], pwd[MC_ICE_PWD_MAX + 1], line[MC_ICE_PWD_MAX + 8];
  mc_ice_agent_get_local_credentials(agent, ufrag, pwd);
  snprintf(line, sizeof line, "ufrag %s", ufrag);
  send_line(line);
  snprintf(line, sizeof line, "pwd %s", pwd);
  send_line(line);
  if (start_signaling() != 0) {
    finish(false);
  } else {
    uv_timer_start(&deadline_timer, on_progress_timer, o.timeout_ms, 0);
    gather_t0 = mc_now_ms();
    rc = mc_ice_agent_gather(agent);
    if (rc != 0) {
      out_error("Gathering candidates could not start.");
      finish(false);
    }
  }
  uv_run(loop, UV_RUN_DEFAULT);
  free(seen);
  for (size_t i = 0; i < noutq; i++) free(outq[i]);
  free(outq);
  return exit_status;
}
