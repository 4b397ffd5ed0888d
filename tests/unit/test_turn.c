/* TURN: ICE server URLs, the error sentences, and the client against a real
 * coturn (Debian's turnserver) that this test starts on 127.0.0.1 with a
 * random port, plain and TLS (a throw-away CA made with the openssl CLI).
 * turnserver is killed on every exit path (atexit, fatal signals, and
 * PR_SET_PDEATHSIG should this process die hard). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "coturn.h"
#include "turn/turn.h"

/* ---------------------------------------------------------------- URLs */

static void test_url_valid(void) {
  static const struct {
    const char *text;
    enum mc_ice_url_scheme scheme;
    const char *host;
    uint16_t port;
    enum mc_turn_transport transport;
    bool v6, port_given, transport_given;
  } cases[] = {
      {"stun:stun.example.org", MC_ICE_URL_STUN, "stun.example.org", 3478, MC_TURN_UDP, false, false, false},
      {"stun:1.2.3.4:19302", MC_ICE_URL_STUN, "1.2.3.4", 19302, MC_TURN_UDP, false, true, false},
      {"STUN:Example.COM", MC_ICE_URL_STUN, "Example.COM", 3478, MC_TURN_UDP, false, false, false},
      {"stuns:example.org", MC_ICE_URL_STUNS, "example.org", 5349, MC_TURN_TLS, false, false, false},
      {"turn:turn.example.org", MC_ICE_URL_TURN, "turn.example.org", 3478, MC_TURN_UDP, false, false, false},
      {"turn:turn.example.org:3479?transport=tcp", MC_ICE_URL_TURN, "turn.example.org", 3479, MC_TURN_TCP, false,
       true, true},
      {"turn:10.0.0.1?transport=udp", MC_ICE_URL_TURN, "10.0.0.1", 3478, MC_TURN_UDP, false, false, true},
      {"turn:h?transport=TCP", MC_ICE_URL_TURN, "h", 3478, MC_TURN_TCP, false, false, true},
      {"turns:turn.example.org", MC_ICE_URL_TURNS, "turn.example.org", 5349, MC_TURN_TLS, false, false, false},
      {"turns:turn.example.org:443?transport=tcp", MC_ICE_URL_TURNS, "turn.example.org", 443, MC_TURN_TLS, false,
       true, true},
      {"turn:[2001:db8::1]", MC_ICE_URL_TURN, "2001:db8::1", 3478, MC_TURN_UDP, true, false, false},
      {"turn:[::1]:65535?transport=tcp", MC_ICE_URL_TURN, "::1", 65535, MC_TURN_TCP, true, true, true},
      {"stun:[::ffff:1.2.3.4]:1", MC_ICE_URL_STUN, "::ffff:1.2.3.4", 1, MC_TURN_UDP, true, true, false},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
    mc_ice_url u;
    char why[200] = "unset";
    int rc = mc_ice_url_parse(cases[i].text, strlen(cases[i].text), &u, why, sizeof why);
    if (rc != 0) fprintf(stderr, "url %s: %s\n", cases[i].text, why);
    CHECK_EQ_INT(rc, 0);
    if (rc) continue;
    CHECK_EQ_INT(u.scheme, cases[i].scheme);
    CHECK_STR(u.host, cases[i].host);
    CHECK_EQ_INT(u.port, cases[i].port);
    CHECK_EQ_INT(u.transport, cases[i].transport);
    CHECK_EQ_INT(u.host_is_ipv6, cases[i].v6);
    CHECK_EQ_INT(u.port_given, cases[i].port_given);
    CHECK_EQ_INT(u.transport_given, cases[i].transport_given);
    /* the canonical form parses back to the same thing */
    char canon[MC_ICE_URL_STRLEN];
    mc_ice_url v;
    mc_ice_url_str(&u, canon, sizeof canon);
    CHECK_EQ_INT(mc_ice_url_parse(canon, strlen(canon), &v, NULL, 0), 0);
    CHECK_STR(v.host, u.host);
    CHECK_EQ_INT(v.port, u.port);
    CHECK_EQ_INT(v.transport, u.transport);
    CHECK_EQ_INT(v.scheme, u.scheme);
  }
  char buf[MC_ICE_URL_STRLEN];
  mc_ice_url u;
  CHECK_EQ_INT(mc_ice_url_parse("turn:[::1]:4000?transport=tcp", 29, &u, NULL, 0), 0);
  CHECK_STR(mc_ice_url_str(&u, buf, sizeof buf), "turn:[::1]:4000?transport=tcp");
  CHECK_EQ_INT(mc_ice_url_parse("turn:a.b", 8, &u, NULL, 0), 0);
  CHECK_STR(mc_ice_url_str(&u, buf, sizeof buf), "turn:a.b:3478");
  /* length is honoured: no NUL needed, trailing bytes ignored */
  CHECK_EQ_INT(mc_ice_url_parse("stun:host:1234garbage", 14, &u, NULL, 0), 0);
  CHECK_EQ_INT(u.port, 1234);
  CHECK(mc_ice_url_is_turn(&(mc_ice_url){.scheme = MC_ICE_URL_TURNS}));
  CHECK(!mc_ice_url_is_turn(&(mc_ice_url){.scheme = MC_ICE_URL_STUN}));
  CHECK_STR(mc_turn_transport_name(MC_TURN_TLS), "tls");
}

static void test_url_invalid(void) {
  static const struct {
    const char *text;
    const char *why_has; /* a word the explanation must contain */
  } cases[] = {
      {"", "empty"},
      {"turn", "scheme"},
      {"http://example.org", "scheme"},
      {"turn://example.org", "//"},
      {"turn:", "host"},
      {"turn::3478", "host"},
      {"turn:host:", "port"},
      {"turn:host:0", "port"},
      {"turn:host:65536", "port"},
      {"turn:host:123456", "port"},
      {"turn:host:12a", "port"},
      {"turn:host:-1", "port"},
      {"turn:host?transport=sctp", "transport"},
      {"turn:host?transport=", "transport"},
      {"turn:host?foo=bar", "transport"},
      {"turns:host?transport=udp", "DTLS"},
      {"stun:host?transport=udp", "stun"},
      {"turn:[::1", "bracket"},
      {"turn:[]", "IPv6"},
      {"turn:[not:an:ip]", "IPv6"},
      {"turn:[::1]x", "unexpected"},
      {"turn:user@host", "--ice-username"},
      {"turn:ho st", "space"},
      {"turn:h\xc3\xa9llo", "ASCII"},
      {"turn:host/path", "host name"},
      {"turn:-host", "not valid"},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
    mc_ice_url u;
    char why[200] = "";
    int rc = mc_ice_url_parse(cases[i].text, strlen(cases[i].text), &u, why, sizeof why);
    if (rc != MC_EPARSE || !strstr(why, cases[i].why_has))
      fprintf(stderr, "bad url '%s': rc=%d why='%s' (want '%s')\n", cases[i].text, rc, why, cases[i].why_has);
    CHECK_EQ_INT(rc, MC_EPARSE);
    CHECK(strstr(why, cases[i].why_has) != NULL);
    CHECK(why[0] >= 'a' && why[0] <= 'z' ? true : why[0] >= 'A' && why[0] <= 'Z'); /* a sentence */
  }
  char long_host[400] = "turn:";
  memset(long_host + 5, 'a', 300);
  long_host[305] = '\0';
  char why[200];
  mc_ice_url u;
  CHECK_EQ_INT(mc_ice_url_parse(long_host, strlen(long_host), &u, why, sizeof why), MC_EPARSE);
  CHECK(strstr(why, "too long") != NULL);
  CHECK_EQ_INT(mc_ice_url_parse(NULL, 0, &u, NULL, 0), MC_EPARSE);
}

/* ---------------------------------------------------------------- sentences */

static void test_sentences(void) {
  static const struct {
    uint16_t code;
    int err;
    bool creds;
    const char *must[3];
  } cases[] = {
      {401, 0, true, {"rejected the username or password", "401 Unauthorized", "--ice-credential"}},
      {401, 0, false, {"requires a username and password", "401", "--ice-username"}},
      {400, 0, true, {"400 Bad Request", "malformed", NULL}},
      {403, 0, true, {"403 Forbidden", "operator", NULL}},
      {420, 0, true, {"420 Unknown Attribute", NULL, NULL}},
      {437, 0, true, {"437 Allocation Mismatch", "restart", NULL}},
      {438, 0, true, {"438 Stale Nonce", NULL, NULL}},
      {440, 0, true, {"440 Address Family not Supported", NULL, NULL}},
      {441, 0, true, {"441 Wrong Credentials", NULL, NULL}},
      {442, 0, true, {"442 Unsupported Transport Protocol", NULL, NULL}},
      {486, 0, true, {"486 Allocation Quota Reached", NULL, NULL}},
      {508, 0, true, {"508 Insufficient Capacity", NULL, NULL}},
      {599, 0, true, {"error 599", "Weird", NULL}},
      {0, MC_ETIMEDOUT, false, {"did not answer over UDP", "timed out", "firewall"}},
      {0, MC_EREFUSED, false, {"refused", "listens on UDP", NULL}},
      {0, MC_ETLS, false, {"TLS", "SSL_CERT_FILE", "--insecure"}},
      {0, MC_ERESOLVE, false, {"could not be resolved", "DNS", NULL}},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
    char s[512];
    const char *ret = mc_turn_explain(s, sizeof s, "turn.example.org:3478", MC_TURN_UDP, cases[i].code,
                                      cases[i].code == 599 ? "Weird\x01Thing" : NULL, cases[i].err, cases[i].creds);
    CHECK(ret == s);
    CHECK(strstr(s, "turn.example.org:3478") != NULL);
    for (int k = 0; k < 3; k++) {
      if (!cases[i].must[k]) continue;
      if (!strstr(s, cases[i].must[k])) fprintf(stderr, "sentence '%s' lacks '%s'\n", s, cases[i].must[k]);
      CHECK(strstr(s, cases[i].must[k]) != NULL);
    }
    /* one sentence: ends with a full stop, no newline, no control bytes */
    size_t n = strlen(s);
    CHECK(n > 20 && s[n - 1] == '.');
    for (size_t k = 0; k < n; k++) CHECK(s[k] >= 0x20 && s[k] < 0x7f);
  }
  char s[512];
  mc_turn_explain(s, sizeof s, "h:1", MC_TURN_UDP, 401, NULL, 0, true);
  CHECK_STR(s, "TURN server h:1 rejected the username or password (401 Unauthorized); check --ice-username and "
               "--ice-credential, or that medcall-server's --turn-secret is coturn's static-auth-secret.");
  /* truncation is safe */
  char tiny[8];
  mc_turn_explain(tiny, sizeof tiny, "h:1", MC_TURN_TCP, 403, NULL, 0, true);
  CHECK_EQ_INT(strlen(tiny), 7);
  CHECK_EQ_INT(mc_turn_error_to_mc(401), MC_EAUTH);
  CHECK_EQ_INT(mc_turn_error_to_mc(437), MC_ESTATE);
  CHECK_EQ_INT(mc_turn_error_to_mc(486), MC_EREFUSED);
}

/* ---------------------------------------------------------------- coturn */

/* Every log line medcall writes is checked for the password. */
static int secret_leaks;
static void log_sink(enum mc_log_level level, const char *component, const char *line, void *user) {
  (void)level;
  (void)component;
  (void)user;
  if (strstr(line, "secret") || strstr(line, "wrongpass")) {
    secret_leaks++;
    fprintf(stderr, "LEAK in log: %s\n", line);
  }
}

struct cl {
  mc_turn_client *c;
  bool allocated, failed;
  int err;
  char sentence[512];
  mc_addr relayed, mapped;
  int perm_ok, chan_ok, perm_err, chan_err;
  int steps_ok[16], steps_fail[16];
  uint16_t last_code;
  char realm[64];
  /* received data */
  uint8_t rx[8][2048];
  size_t rx_len[8];
  mc_addr rx_from[8];
  int nrx;
  bool echo;
  uint32_t lifetime, refreshes;
};

static void cb_allocated(mc_turn_client *c, const mc_addr *relayed, const mc_addr *mapped, void *user) {
  (void)c;
  struct cl *x = user;
  x->allocated = true;
  if (relayed) x->relayed = *relayed;
  if (mapped) x->mapped = *mapped;
}

static void cb_error(mc_turn_client *c, int err, const char *sentence, void *user) {
  (void)c;
  struct cl *x = user;
  x->failed = true;
  x->err = err;
  mc_strcpy(x->sentence, sizeof x->sentence, sentence);
}

static void cb_data(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len, void *user) {
  struct cl *x = user;
  if (x->nrx < 8 && len <= sizeof x->rx[0]) {
    memcpy(x->rx[x->nrx], data, len);
    x->rx_len[x->nrx] = len;
    x->rx_from[x->nrx] = *peer;
    x->nrx++;
  }
  if (x->echo) mc_turn_send(c, peer, data, len);
}

static void cb_perm(mc_turn_client *c, const mc_addr *peer, int err, void *user) {
  (void)c;
  (void)peer;
  struct cl *x = user;
  if (err) x->perm_err++;
  else x->perm_ok++;
}

static void cb_chan(mc_turn_client *c, const mc_addr *peer, uint16_t ch, int err, void *user) {
  (void)c;
  (void)peer;
  (void)ch;
  struct cl *x = user;
  if (err) x->chan_err++;
  else x->chan_ok++;
}

static void cb_progress(mc_turn_client *c, const struct mc_turn_progress *p, void *user) {
  (void)c;
  struct cl *x = user;
  if (p->err) x->steps_fail[p->step]++;
  else x->steps_ok[p->step]++;
  if (p->code) x->last_code = p->code;
  if (p->step == MC_TURN_STEP_ALLOCATE_NOAUTH && p->realm) mc_strcpy(x->realm, sizeof x->realm, p->realm);
  if (p->step == MC_TURN_STEP_ALLOCATE && !p->err) x->lifetime = p->lifetime_s;
  if (p->step == MC_TURN_STEP_REFRESH && !p->err) x->refreshes++;
}

static const struct mc_turn_callbacks cbs = {cb_allocated, cb_error, cb_data, cb_perm, cb_chan, cb_progress};

static uv_loop_t loop;

static void wake(uv_timer_t *t) { (void)t; }

/* Runs the loop until cond() or ms pass. */
#define RUN_UNTIL(cond, ms)                                                   \
  do {                                                                        \
    uint64_t until_ = mc_now_ms() + (ms);                                     \
    uv_timer_t tick_;                                                         \
    uv_timer_init(&loop, &tick_);                                             \
    uv_timer_start(&tick_, wake, 10, 10);                                     \
    while (!(cond) && mc_now_ms() < until_) uv_run(&loop, UV_RUN_ONCE);       \
    uv_close((uv_handle_t *)&tick_, NULL);                                    \
    uv_run(&loop, UV_RUN_NOWAIT);                                             \
  } while (0)

static int next_family = AF_UNSPEC; /* family new_client asks for */

static mc_turn_client *new_client(struct cl *x, enum mc_turn_transport tr, const char *host, uint16_t port,
                                  const char *user, const char *pass, uint32_t timeout_ms) {
  memset(x, 0, sizeof *x);
  struct mc_turn_config cfg = {0};
  cfg.host = host;
  cfg.port = port;
  cfg.transport = tr;
  cfg.username = user;
  cfg.password = pass;
  cfg.timeout_ms = timeout_ms;
  cfg.family = next_family;
  int rc = mc_turn_client_new(&loop, &cfg, &cbs, x, &x->c);
  CHECK_EQ_INT(rc, 0);
  if (rc == 0) CHECK_EQ_INT(mc_turn_client_start(x->c), 0);
  return x->c;
}

static void close_client(struct cl *x) {
  if (!x->c) return;
  mc_turn_client_close(x->c);
  x->c = NULL;
}

static void count_handle(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) (*(int *)arg)++;
}

static int open_handles(void) {
  int n = 0;
  uv_walk(&loop, count_handle, &n);
  return n;
}

/* Lets closing clients send Refresh(0) and free themselves: runs until only
 * `keep` handles (plus the wake-up timer) are left, or 3 s. */
static void drain_keep(int keep) { RUN_UNTIL(open_handles() <= keep + 1, 3000); }
static void drain(void) { drain_keep(0); }

static uint16_t port_for(enum mc_turn_transport tr) { return tr == MC_TURN_TLS ? tls_port : turn_port; }

/* Two allocations on one server send to each other: Send/Data indications
 * first, then ChannelData once both channels are bound. */
static void test_relay_on(enum mc_turn_transport tr, const char *host, int family, const char *relay_ip) {
  static struct cl a, b;
  next_family = family;
  fprintf(stderr, "-- relay over %s to %s\n", mc_turn_transport_name(tr), host);
  new_client(&a, tr, host, port_for(tr), "test", "secret", 3000);
  new_client(&b, tr, host, port_for(tr), "test", "secret", 3000);
  RUN_UNTIL((a.allocated || a.failed) && (b.allocated || b.failed), 8000);
  if (a.failed) fprintf(stderr, "a failed: %s\n", a.sentence);
  CHECK(a.allocated && b.allocated);
  if (!a.allocated || !b.allocated) goto done;
  CHECK_EQ_INT(mc_turn_client_state(a.c), MC_TURN_STATE_ALLOCATED);
  CHECK_EQ_INT(mc_turn_client_transport(a.c), tr);
  CHECK_EQ_INT(a.steps_ok[MC_TURN_STEP_ALLOCATE_NOAUTH], 1); /* the 401 challenge was seen */
  CHECK_EQ_INT(a.last_code, 401);
  CHECK_STR(a.realm, "medcall.test");
  CHECK_EQ_INT(a.steps_ok[MC_TURN_STEP_CONNECT], tr == MC_TURN_UDP ? 0 : 1);
  CHECK_EQ_INT(a.lifetime, 600);
  char s1[MC_ADDR_STRLEN];
  mc_addr tmp, local;
  CHECK_EQ_INT(mc_turn_client_relayed_addr(a.c, &tmp), 0);
  CHECK(mc_addr_equal(&tmp, &a.relayed));
  CHECK_STR(mc_addr_ip_str(&a.relayed, s1), relay_ip);
  CHECK(!mc_addr_equal(&a.relayed, &b.relayed));
  /* the mapped address is our own socket: no NAT on loopback */
  CHECK_EQ_INT(mc_turn_client_local_addr(a.c, &local), 0);
  CHECK_EQ_INT(mc_turn_client_mapped_addr(a.c, &tmp), 0);
  CHECK_EQ_INT(mc_addr_port(&tmp), mc_addr_port(&local));
  CHECK_EQ_INT(mc_turn_client_server_addr(a.c, &tmp), 0);
  CHECK_EQ_INT(mc_addr_port(&tmp), port_for(tr));

  /* permissions both ways */
  CHECK_EQ_INT(mc_turn_create_permission(a.c, &b.relayed), 0);
  CHECK_EQ_INT(mc_turn_create_permission(b.c, &a.relayed), 0);
  CHECK_EQ_INT(mc_turn_create_permission(a.c, &b.relayed), 0); /* idempotent: no second request */
  RUN_UNTIL(a.perm_ok + a.perm_err >= 1 && b.perm_ok + b.perm_err >= 1, 5000);
  CHECK_EQ_INT(a.perm_ok, 1);
  CHECK_EQ_INT(b.perm_ok, 1);

  /* Send indication a -> b, Data indication at b; b echoes */
  uint8_t msg[777];
  for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 7 + 3);
  b.echo = true;
  CHECK(!mc_turn_client_has_channel(a.c, &b.relayed));
  CHECK_EQ_INT(mc_turn_send(a.c, &b.relayed, msg, sizeof msg), 0);
  RUN_UNTIL(a.nrx >= 1, 3000);
  CHECK_EQ_INT(b.nrx, 1);
  CHECK_EQ_INT(b.rx_len[0], sizeof msg);
  CHECK_MEM(b.rx[0], msg, sizeof msg);
  CHECK(mc_addr_equal(&b.rx_from[0], &a.relayed));
  CHECK_EQ_INT(a.nrx, 1);
  CHECK_EQ_INT(a.rx_len[0], sizeof msg);
  CHECK_MEM(a.rx[0], msg, sizeof msg);
  CHECK(mc_addr_equal(&a.rx_from[0], &b.relayed));

  /* channels both ways, then ChannelData; odd length tests TCP padding */
  CHECK_EQ_INT(mc_turn_channel_bind(a.c, &b.relayed), 0);
  CHECK_EQ_INT(mc_turn_channel_bind(b.c, &a.relayed), 0);
  RUN_UNTIL(a.chan_ok + a.chan_err >= 1 && b.chan_ok + b.chan_err >= 1, 5000);
  CHECK_EQ_INT(a.chan_ok, 1);
  CHECK_EQ_INT(b.chan_ok, 1);
  CHECK(mc_turn_client_has_channel(a.c, &b.relayed));
  CHECK(mc_turn_client_has_channel(b.c, &a.relayed));
  uint8_t msg2[3][301];
  for (int k = 0; k < 3; k++)
    for (size_t i = 0; i < sizeof msg2[k]; i++) msg2[k][i] = (uint8_t)(i ^ (k * 91));
  for (int k = 0; k < 3; k++) CHECK_EQ_INT(mc_turn_send(a.c, &b.relayed, msg2[k], sizeof msg2[k] - (size_t)k), 0);
  RUN_UNTIL(a.nrx >= 4, 3000);
  CHECK_EQ_INT(b.nrx, 4);
  CHECK_EQ_INT(a.nrx, 4);
  for (int k = 0; k < 3; k++) {
    CHECK_EQ_INT(b.rx_len[1 + k], sizeof msg2[k] - (size_t)k);
    CHECK_MEM(b.rx[1 + k], msg2[k], sizeof msg2[k] - (size_t)k);
    CHECK_EQ_INT(a.rx_len[1 + k], sizeof msg2[k] - (size_t)k);
    CHECK_MEM(a.rx[1 + k], msg2[k], sizeof msg2[k] - (size_t)k);
    CHECK(mc_addr_equal(&a.rx_from[1 + k], &b.relayed));
  }
  /* data from a peer without a permission never reaches us: c is a third
   * allocation that a and b never let in */
  {
    static struct cl c3;
    new_client(&c3, tr, host, port_for(tr), "test", "secret", 3000);
    RUN_UNTIL(c3.allocated || c3.failed, 5000);
    CHECK(c3.allocated);
    if (c3.allocated) {
      CHECK_EQ_INT(mc_turn_create_permission(c3.c, &a.relayed), 0);
      RUN_UNTIL(c3.perm_ok + c3.perm_err >= 1, 3000);
      /* a never asked for c3, but permissions are per IP (RFC 8656 9) and
       * every relay here is 127.0.0.1, so the data comes in as a Data
       * indication from c3's relayed address: the peer must be told apart. */
      b.echo = false;
      int before = a.nrx;
      CHECK_EQ_INT(mc_turn_send(c3.c, &a.relayed, msg, 10), 0);
      RUN_UNTIL(a.nrx > before, 1000);
      CHECK_EQ_INT(a.nrx, before + 1);
      if (a.nrx == before + 1) {
        CHECK(mc_addr_equal(&a.rx_from[before], &c3.relayed));
        CHECK_EQ_INT(a.rx_len[before], 10);
        CHECK_MEM(a.rx[before], msg, 10);
      }
    }
    close_client(&c3);
  }
done:
  next_family = AF_UNSPEC;
  close_client(&a);
  close_client(&b);
  drain();
}

static void test_relay(enum mc_turn_transport tr) {
  test_relay_on(tr, tr == MC_TURN_TLS ? "localhost" : "127.0.0.1", AF_UNSPEC, "127.0.0.1");
}

static void test_wrong_password(enum mc_turn_transport tr) {
  static struct cl a;
  fprintf(stderr, "-- wrong password over %s\n", mc_turn_transport_name(tr));
  new_client(&a, tr, "127.0.0.1", port_for(tr), "test", "wrongpass", 3000);
  RUN_UNTIL(a.allocated || a.failed, 8000);
  CHECK(a.failed);
  CHECK(!a.allocated);
  CHECK_EQ_INT(a.err, MC_EAUTH);
  CHECK_EQ_INT(a.last_code, 401);
  CHECK_EQ_INT(a.steps_ok[MC_TURN_STEP_ALLOCATE_NOAUTH], 1);
  CHECK_EQ_INT(a.steps_fail[MC_TURN_STEP_ALLOCATE], 1);
  char want[512], server[64];
  snprintf(server, sizeof server, "127.0.0.1:%u", port_for(tr));
  mc_turn_explain(want, sizeof want, server, tr, 401, NULL, 0, true);
  CHECK_STR(a.sentence, want);
  CHECK(strstr(a.sentence, "wrongpass") == NULL);
  CHECK_EQ_INT(mc_turn_client_state(a.c), MC_TURN_STATE_FAILED);
  mc_addr tmp;
  CHECK_EQ_INT(mc_turn_client_relayed_addr(a.c, &tmp), MC_ESTATE);
  CHECK_EQ_INT(mc_turn_send(a.c, &tmp, (const uint8_t *)"x", 1), MC_ESTATE);
  close_client(&a);
  drain();
}

static void test_no_credentials(void) {
  static struct cl a;
  fprintf(stderr, "-- no credentials\n");
  new_client(&a, MC_TURN_UDP, "127.0.0.1", turn_port, NULL, NULL, 3000);
  RUN_UNTIL(a.allocated || a.failed, 5000);
  CHECK(a.failed);
  CHECK_EQ_INT(a.err, MC_EAUTH);
  CHECK(strstr(a.sentence, "requires a username and password") != NULL);
  close_client(&a);
  drain();
}

static void test_tls_verification(void) {
  static struct cl a;
  fprintf(stderr, "-- TLS without the CA\n");
  unsetenv("SSL_CERT_FILE");
  new_client(&a, MC_TURN_TLS, "localhost", tls_port, "test", "secret", 3000);
  RUN_UNTIL(a.allocated || a.failed, 5000);
  CHECK(a.failed);
  CHECK_EQ_INT(a.err, MC_ETLS);
  CHECK(strstr(a.sentence, "TLS") != NULL);
  CHECK(strstr(a.sentence, "--insecure") != NULL);
  CHECK_EQ_INT(a.steps_fail[MC_TURN_STEP_CONNECT], 1);
  close_client(&a);
  drain();

  fprintf(stderr, "-- TLS insecure\n");
  memset(&a, 0, sizeof a);
  struct mc_turn_config cfg = {.host = "localhost", .port = tls_port, .transport = MC_TURN_TLS,
                               .username = "test", .password = "secret", .insecure = true, .timeout_ms = 3000};
  CHECK_EQ_INT(mc_turn_client_new(&loop, &cfg, &cbs, &a, &a.c), 0);
  CHECK_EQ_INT(mc_turn_client_start(a.c), 0);
  RUN_UNTIL(a.allocated || a.failed, 5000);
  CHECK(a.allocated);
  close_client(&a);
  drain();

  fprintf(stderr, "-- TLS to an IP literal (checked against the IP SAN)\n");
  char ca[300];
  snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
  setenv("SSL_CERT_FILE", ca, 1);
  new_client(&a, MC_TURN_TLS, "127.0.0.1", tls_port, "test", "secret", 3000);
  RUN_UNTIL(a.allocated || a.failed, 5000);
  CHECK(a.allocated);
  close_client(&a);
  drain();
}

static void test_dead_server(void) {
  static struct cl a;
  fprintf(stderr, "-- dead server\n");
  /* A bound UDP socket that never answers */
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  CHECK(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  uint16_t port = ntohs(sa.sin_port);
  uint64_t t0 = mc_now_ms();
  new_client(&a, MC_TURN_UDP, "127.0.0.1", port, "test", "secret", 400);
  RUN_UNTIL(a.allocated || a.failed, 5000);
  uint64_t took = mc_now_ms() - t0;
  CHECK(a.failed);
  CHECK_EQ_INT(a.err, MC_ETIMEDOUT);
  CHECK(strstr(a.sentence, "did not answer over UDP") != NULL);
  CHECK(strstr(a.sentence, "secret") == NULL);
  fprintf(stderr, "dead server reported after %llu ms: %s\n", (unsigned long long)took, a.sentence);
  /* the server saw retransmissions (RFC 8489 6.2.1: 0, 500 ms...): at least 1 */
  uint8_t buf[1500];
  int got = 0;
  fcntl(fd, F_SETFL, O_NONBLOCK);
  while (recv(fd, buf, sizeof buf, 0) > 0) got++;
  CHECK(got >= 1);
  close(fd);
  close_client(&a);
  drain();

  fprintf(stderr, "-- refused TCP\n");
  new_client(&a, MC_TURN_TCP, "127.0.0.1", port, "test", "secret", 400); /* nobody listens on TCP there */
  RUN_UNTIL(a.allocated || a.failed, 5000);
  CHECK(a.failed);
  CHECK_EQ_INT(a.err, MC_EREFUSED);
  CHECK(strstr(a.sentence, "refused") != NULL);
  close_client(&a);
  drain();
}

/* A tiny fake TURN server on the loop: coturn grants at least 600 s, so the
 * refresh timing and the 438 Stale Nonce path are tested against this one.
 * It grants 2 s, answers the first Refresh with 438 and a new nonce, and
 * checks integrity with the nonce it expects. */
struct fake {
  mc_udp *sock;
  uint8_t key[16];
  char nonce[16];
  int allocs, refreshes, stale_sent, bad_integrity, dealloc, stale_retry_ok;
  int refresh_seen;
  int perms, chans, dropped;
  uint16_t alloc_error; /* answer the authenticated Allocate with this */
  bool alloc_error_no_code; /* ... or with an error response without ERROR-CODE */
  mc_addr perm_peer, chan_peer, client;
  uint16_t chan_number;
};

static void fake_reply(struct fake *f, const mc_addr *to, const mc_stun_msg *m, uint16_t code, const char *nonce,
                       uint32_t lifetime, bool relayed) {
  uint8_t buf[512];
  mc_stun_writer w;
  mc_stun_begin(&w, buf, sizeof buf, m->method, code ? MC_STUN_ERROR : MC_STUN_SUCCESS, m->txid);
  if (code) {
    mc_stun_put_error(&w, code, code == 401 ? "Unauthorized" : code == 438 ? "Stale Nonce" : "Refused");
    mc_stun_put_string(&w, MC_STUN_ATTR_REALM, "fake");
    mc_stun_put_string(&w, MC_STUN_ATTR_NONCE, nonce);
  } else {
    if (relayed) {
      mc_addr r;
      mc_addr_parse("127.0.0.1", 5000, &r);
      mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_RELAYED_ADDRESS, &r);
      mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_MAPPED_ADDRESS, to);
    }
    mc_stun_put_u32(&w, MC_STUN_ATTR_LIFETIME, lifetime);
    mc_stun_put_integrity(&w, f->key, sizeof f->key);
  }
  int n = mc_stun_finish(&w);
  if (n > 0) mc_udp_send(f->sock, to, buf, (size_t)n);
}

static void fake_recv(mc_udp *sock, const mc_addr *from, const uint8_t *data, size_t len, void *user) {
  (void)sock;
  struct fake *f = user;
  mc_stun_msg m;
  if (mc_stun_parse(data, len, &m) < 0 || m.cls != MC_STUN_REQUEST) return;
  if (!m.integrity_offset) {
    fake_reply(f, from, &m, 401, f->nonce, 0, false);
    return;
  }
  if (mc_stun_check_integrity(data, len, &m, f->key, sizeof f->key) != 0 || !m.has_nonce) {
    f->bad_integrity++;
    return;
  }
  if (strcmp(m.nonce, f->nonce) != 0) {
    fake_reply(f, from, &m, 438, f->nonce, 0, false);
    return;
  }
  f->client = *from;
  if (m.method == MC_STUN_CREATE_PERMISSION) {
    f->perms++;
    if (m.has_xor_peer) f->perm_peer = m.xor_peer;
    fake_reply(f, from, &m, 0, NULL, 0, false);
  } else if (m.method == MC_STUN_CHANNEL_BIND) {
    f->chans++;
    if (m.has_xor_peer) f->chan_peer = m.xor_peer;
    if (m.has_channel_number) f->chan_number = m.channel_number;
    fake_reply(f, from, &m, 0, NULL, 0, false);
  } else if (m.method == MC_STUN_ALLOCATE) {
    f->allocs++;
    if (f->alloc_error_no_code) {
      uint8_t buf[128];
      mc_stun_writer w;
      mc_stun_begin(&w, buf, sizeof buf, m.method, MC_STUN_ERROR, m.txid);
      mc_stun_put_string(&w, MC_STUN_ATTR_REALM, "fake");
      int n = mc_stun_finish(&w);
      if (n > 0) mc_udp_send(f->sock, from, buf, (size_t)n);
    } else if (f->alloc_error) fake_reply(f, from, &m, f->alloc_error, f->nonce, 0, false);
    else fake_reply(f, from, &m, 0, NULL, 2, true);
  } else if (m.method == MC_STUN_REFRESH) {
    f->refresh_seen++;
    if (m.has_lifetime && m.lifetime == 0) {
      f->dealloc++;
      fake_reply(f, from, &m, 0, NULL, 0, false);
      return;
    }
    if (f->stale_sent == 0) {
      /* the nonce expires: the client must retry with the new one */
      f->stale_sent++;
      mc_strcpy(f->nonce, sizeof f->nonce, "nonce-two");
      fake_reply(f, from, &m, 438, f->nonce, 0, false);
      return;
    }
    if (f->stale_sent == 1 && strcmp(m.nonce, "nonce-two") == 0) f->stale_retry_ok = 1;
    if (f->refreshes == 1 && !f->dropped) {
      /* lost on the way: the client must retry before the lifetime ends */
      f->dropped = 1;
      return;
    }
    f->refreshes++;
    fake_reply(f, from, &m, 0, NULL, 2, false);
  }
}

static void test_refresh_and_stale_nonce(void) {
  static struct cl a;
  static struct fake f;
  fprintf(stderr, "-- refresh and 438 against a fake server\n");
  memset(&f, 0, sizeof f);
  mc_strcpy(f.nonce, sizeof f.nonce, "nonce-one");
  CHECK_EQ_INT(mc_stun_long_term_key("test", "fake", "secret", f.key), 0);
  mc_addr any, bound;
  mc_addr_parse("127.0.0.1", 0, &any);
  CHECK_EQ_INT(mc_udp_open(&loop, &any, fake_recv, &f, &f.sock), 0);
  CHECK_EQ_INT(mc_udp_local_addr(f.sock, &bound), 0);
  memset(&a, 0, sizeof a);
  struct mc_turn_config cfg = {.host = "127.0.0.1", .port = mc_addr_port(&bound), .transport = MC_TURN_UDP,
                               .username = "test", .password = "secret", .timeout_ms = 300,
                               .permission_refresh_ms = 700, .channel_refresh_ms = 900};
  CHECK_EQ_INT(mc_turn_client_new(&loop, &cfg, &cbs, &a, &a.c), 0);
  CHECK_EQ_INT(mc_turn_client_start(a.c), 0);
  /* asked before the allocation exists: sent once it does */
  mc_addr peer1, peer2;
  mc_addr_parse("192.0.2.1", 1111, &peer1);
  mc_addr_parse("198.51.100.2", 2222, &peer2);
  CHECK_EQ_INT(mc_turn_create_permission(a.c, &peer1), 0);
  RUN_UNTIL(a.allocated || a.failed, 3000);
  CHECK(a.allocated);
  CHECK_EQ_INT(a.lifetime, 2);
  RUN_UNTIL(a.perm_ok >= 1, 1000);
  CHECK_EQ_INT(f.perms, 1);
  CHECK(mc_addr_ip_equal(&f.perm_peer, &peer1));
  CHECK_EQ_INT(mc_turn_channel_bind(a.c, &peer2), 0);
  RUN_UNTIL(a.chan_ok >= 1, 1000);
  CHECK_EQ_INT(f.chans, 1);
  CHECK(mc_addr_equal(&f.chan_peer, &peer2));
  CHECK_EQ_INT(f.chan_number, 0x4000);
  CHECK(mc_turn_client_has_channel(a.c, &peer2));
  /* the client sends ChannelData to a bound peer */
  {
    uint8_t d[5] = {1, 2, 3, 4, 5};
    CHECK_EQ_INT(mc_turn_send(a.c, &peer2, d, sizeof d), 0);
  }
  /* incoming: ChannelData on the bound channel, on an unbound one, and a
   * Data indication from peer1 */
  {
    uint8_t buf[64];
    int n = mc_channeldata_write(buf, sizeof buf, 0x4000, (const uint8_t *)"hello", 5, false);
    mc_udp_send(f.sock, &f.client, buf, (size_t)n);
    n = mc_channeldata_write(buf, sizeof buf, 0x4001, (const uint8_t *)"nobody", 6, false);
    mc_udp_send(f.sock, &f.client, buf, (size_t)n);
    mc_stun_writer w;
    mc_stun_begin(&w, buf, sizeof buf, MC_STUN_DATA, MC_STUN_INDICATION, NULL);
    mc_stun_put_xor_addr(&w, MC_STUN_ATTR_XOR_PEER_ADDRESS, &peer1);
    mc_stun_put_attr(&w, MC_STUN_ATTR_DATA, "world!", 6);
    n = mc_stun_finish(&w);
    mc_udp_send(f.sock, &f.client, buf, (size_t)n);
    RUN_UNTIL(a.nrx >= 2, 1000);
    RUN_UNTIL(false, 100);
    CHECK_EQ_INT(a.nrx, 2);
    CHECK_EQ_INT(a.rx_len[0], 5);
    CHECK_MEM(a.rx[0], "hello", 5);
    CHECK(mc_addr_equal(&a.rx_from[0], &peer2));
    CHECK_EQ_INT(a.rx_len[1], 6);
    CHECK_MEM(a.rx[1], "world!", 6);
    CHECK(mc_addr_equal(&a.rx_from[1], &peer1));
  }
  uint64_t t0 = mc_now_ms();
  /* lifetime 2 s: refresh every second; the first refresh meets a 438, the
   * second is lost (300 ms timeout, retried within the lifetime) */
  RUN_UNTIL(a.refreshes >= 3 || a.failed, 6000);
  uint64_t took = mc_now_ms() - t0;
  CHECK(!a.failed);
  CHECK(a.refreshes >= 3);
  CHECK_EQ_INT(f.stale_sent, 1);
  CHECK_EQ_INT(f.stale_retry_ok, 1);
  CHECK_EQ_INT(f.dropped, 1);
  CHECK_EQ_INT(f.bad_integrity, 0);
  CHECK(f.refreshes >= 3);
  fprintf(stderr, "3 refreshes of a 2 s allocation in %llu ms\n", (unsigned long long)took);
  /* permissions every 0.7 s and channels every 0.9 s were kept alive too;
   * a bound channel also refreshes its peer's permission, so peer1's own
   * requests are what is counted */
  fprintf(stderr, "permission requests=%d channel binds=%d\n", f.perms, f.chans);
  CHECK(f.perms >= 3);
  CHECK(f.chans >= 3);
  CHECK_EQ_INT(a.perm_err, 0);
  CHECK_EQ_INT(a.chan_err, 0);
  close_client(&a);
  drain_keep(1); /* the fake server's socket stays */
  CHECK_EQ_INT(f.dealloc, 1);
  mc_udp_close(f.sock);
  drain();
}

/* Each error answer to the authenticated Allocate ends the client with the
 * sentence for that code. */
static void test_allocate_errors(void) {
  static struct fake f;
  static struct cl a;
  static const uint16_t codes[] = {400, 403, 420, 437, 440, 441, 442, 486, 508};
  fprintf(stderr, "-- allocate error answers\n");
  memset(&f, 0, sizeof f);
  mc_strcpy(f.nonce, sizeof f.nonce, "n");
  CHECK_EQ_INT(mc_stun_long_term_key("test", "fake", "secret", f.key), 0);
  mc_addr any, bound;
  mc_addr_parse("127.0.0.1", 0, &any);
  CHECK_EQ_INT(mc_udp_open(&loop, &any, fake_recv, &f, &f.sock), 0);
  CHECK_EQ_INT(mc_udp_local_addr(f.sock, &bound), 0);
  for (size_t i = 0; i < MC_ARRAY_LEN(codes); i++) {
    f.alloc_error = codes[i];
    new_client(&a, MC_TURN_UDP, "127.0.0.1", mc_addr_port(&bound), "test", "secret", 1000);
    RUN_UNTIL(a.failed || a.allocated, 2000);
    CHECK(a.failed);
    CHECK_EQ_INT(a.last_code, codes[i]);
    char want[512], server[64];
    snprintf(server, sizeof server, "127.0.0.1:%u", mc_addr_port(&bound));
    mc_turn_explain(want, sizeof want, server, MC_TURN_UDP, codes[i], "Refused", 0, true);
    if (strcmp(a.sentence, want) != 0) fprintf(stderr, "got '%s'\nwant '%s'\n", a.sentence, want);
    CHECK_STR(a.sentence, want);
    CHECK_EQ_INT(a.err, mc_turn_error_to_mc(codes[i]));
    CHECK_EQ_INT(a.steps_fail[MC_TURN_STEP_ALLOCATE], 1);
    close_client(&a);
    drain_keep(1);
  }
  /* An error response without ERROR-CODE (found by fuzz_turn): a failure
   * with a negative code, never reported as a step that passed. */
  f.alloc_error = 0;
  f.alloc_error_no_code = true;
  new_client(&a, MC_TURN_UDP, "127.0.0.1", mc_addr_port(&bound), "test", "secret", 1000);
  RUN_UNTIL(a.failed || a.allocated, 2000);
  CHECK(a.failed && !a.allocated);
  CHECK_EQ_INT(a.err, MC_EPARSE);
  CHECK_EQ_INT(a.steps_ok[MC_TURN_STEP_ALLOCATE], 0);
  CHECK_EQ_INT(a.steps_fail[MC_TURN_STEP_ALLOCATE], 1);
  CHECK(a.sentence[0] != '\0');
  close_client(&a);
  drain_keep(1);
  mc_udp_close(f.sock);
  drain();
}

static void test_api_misuse(void) {
  mc_turn_client *c = NULL;
  struct mc_turn_config cfg = {.host = "127.0.0.1", .port = 3478};
  CHECK_EQ_INT(mc_turn_client_new(NULL, &cfg, &cbs, NULL, &c), MC_EINVAL);
  cfg.port = 0;
  CHECK_EQ_INT(mc_turn_client_new(&loop, &cfg, &cbs, NULL, &c), MC_EINVAL);
  cfg.port = 3478;
  cfg.username = "u"; /* a username without a password */
  CHECK_EQ_INT(mc_turn_client_new(&loop, &cfg, &cbs, NULL, &c), MC_EINVAL);
  cfg.username = NULL;
  CHECK_EQ_INT(mc_turn_client_new(&loop, &cfg, &cbs, NULL, &c), 0);
  mc_addr peer;
  mc_addr_parse("127.0.0.1", 9, &peer);
  CHECK_EQ_INT(mc_turn_send(c, &peer, (const uint8_t *)"x", 1), MC_ESTATE);
  CHECK_EQ_INT(mc_turn_client_relayed_addr(c, &peer), MC_ESTATE);
  mc_turn_client_close(c); /* never started: frees without traffic */
  drain();
}

int main(void) {
  mc_log_set_level(MC_LOG_DEBUG);
  mc_log_set_sink(log_sink, NULL);
  test_url_valid();
  test_url_invalid();
  test_sentences();
  uv_loop_init(&loop);
  test_api_misuse();
  test_refresh_and_stale_nonce();
  test_allocate_errors();

  bool up = coturn_setup();
  CHECK(up);
  if (up) {
    char ca[300];
    snprintf(ca, sizeof ca, "%s/ca.pem", tmpdir);
    setenv("SSL_CERT_FILE", ca, 1);
    test_relay(MC_TURN_UDP);
    test_relay(MC_TURN_TCP);
    test_relay(MC_TURN_TLS);
    if (coturn_v6) {
      /* RFC 8656 7.1 REQUESTED-ADDRESS-FAMILY: an IPv6 relay over IPv6 */
      test_relay_on(MC_TURN_UDP, "::1", AF_INET6, "::1");
      test_relay_on(MC_TURN_TCP, "::1", AF_INET6, "::1");
    }
    test_wrong_password(MC_TURN_UDP);
    test_wrong_password(MC_TURN_TCP);
    test_no_credentials();
    test_tls_verification();
    test_dead_server();
    /* Refresh(0) on close: coturn logs each as lifetime=0 (three relay tests
     * of three allocations each, TLS insecure, TLS to the IP). */
    usleep(200000);
    int zero = count_in_log("lifetime=0");
    fprintf(stderr, "coturn logged %d deallocations\n", zero);
    CHECK_EQ_INT(zero, coturn_v6 ? 17 : 11);
  }
  CHECK_EQ_INT(secret_leaks, 0);
  drain();
  int rc = uv_loop_close(&loop);
  if (rc) uv_print_all_handles(&loop, stderr);
  CHECK_EQ_INT(rc, 0);
  kill_coturn();
  return CHECK_DONE();
}
