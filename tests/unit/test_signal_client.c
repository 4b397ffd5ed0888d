/* signal client against the real medcall-server binary on 127.0.0.1: two
 * mc_signal_client instances on one libuv loop go through a whole call
 * (create, join, knock, admit, offer/answer/candidate relayed byte-exact,
 * leave, end); then certificate verification, pinning, unreachable servers,
 * refused upgrades, a server that goes away, room links, and a loop left
 * with no handles after mc_signal_client_free.
 *
 * argv[1]: the medcall-server binary, argv[2]: the web root (assets/web). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <uv.h>

#include "check.h"
#include "proc.h"
#include "signal/signal.h"
#include "util/util.h"

static const char *server_bin, *web_root;
static char tmpdir[128];
static struct test_proc srv;
static uv_loop_t loop;
static uv_timer_t waker;
/* Every wait gives up after this long; only to avoid hanging, never a pass criterion. */
#define WAIT_MS 8000
#define STOP_GRACE_MS 5000

static void kill_all(void) {
  proc_kill_all(true);
  proc_remove_dir(tmpdir);
}

static void on_fatal(int sig) {
  proc_kill_all(false);
  signal(sig, SIG_DFL);
  raise(sig);
}

/* ------------------------------------------------------------ a peer */

#define INBOX 64

struct peer {
  mc_signal_client *c;
  bool opened, closed;
  int close_err;
  char why[512];
  char *inbox[INBOX];
  size_t in_len[INBOX];
  size_t head, tail;
  bool free_on_close; /* mc_signal_client_free from inside on_close */
  bool free_on_message; /* ... and from inside on_message */
};

static void p_open(mc_signal_client *c, void *user) {
  struct peer *p = user;
  CHECK(c == p->c);
  p->opened = true;
}

static void p_message(mc_signal_client *c, const char *json, size_t len, void *user) {
  struct peer *p = user;
  (void)c;
  CHECK(json[len] == '\0');
  if (p->tail - p->head >= INBOX) return;
  char *copy = malloc(len + 1);
  memcpy(copy, json, len + 1);
  p->in_len[p->tail % INBOX] = len;
  p->inbox[p->tail++ % INBOX] = copy;
  if (p->free_on_message) {
    mc_signal_client_free(c);
    p->c = NULL;
  }
}

static void p_close(mc_signal_client *c, int err, const char *sentence, void *user) {
  struct peer *p = user;
  CHECK(!p->closed); /* exactly once */
  p->closed = true;
  p->close_err = err;
  snprintf(p->why, sizeof p->why, "%s", sentence ? sentence : "(null)");
  if (p->free_on_close) {
    mc_signal_client_free(c);
    p->c = NULL;
  }
}

static const struct mc_signal_client_callbacks cbs = {p_open, p_message, p_close};

static void on_waker(uv_timer_t *t) { (void)t; }

#define PUMP_UNTIL(cond)                                             \
  do {                                                               \
    uint64_t until_ = mc_now_ms() + WAIT_MS;                         \
    while (!(cond) && mc_now_ms() < until_) uv_run(&loop, UV_RUN_ONCE); \
  } while (0)

static void pump_ms(uint64_t ms) {
  uint64_t until = mc_now_ms() + ms;
  while (mc_now_ms() < until) uv_run(&loop, UV_RUN_ONCE);
}

static int peer_start(struct peer *p, const char *url, bool insecure, const uint8_t *pin) {
  memset(p, 0, sizeof *p);
  struct mc_signal_client_config cfg = {.url = url, .insecure = insecure, .pin_sha256 = pin};
  int rc = mc_signal_client_new(&loop, &cfg, &cbs, p, &p->c);
  if (rc == 0) PUMP_UNTIL(p->opened || p->closed);
  return rc;
}

static void peer_send(struct peer *p, const char *text) {
  CHECK_EQ_INT(mc_signal_client_send(p->c, text, strlen(text)), 0);
}

/* The next message (caller frees), or NULL after WAIT_MS. */
static char *peer_next(struct peer *p, size_t *len) {
  PUMP_UNTIL(p->head != p->tail || p->closed);
  if (p->head == p->tail) return NULL;
  if (len) *len = p->in_len[p->head % INBOX];
  return p->inbox[p->head++ % INBOX];
}

static json_t *expect_at(struct peer *p, const char *type, int line) {
  char *t = peer_next(p, NULL);
  json_t *j = t ? json_loads(t, 0, NULL) : NULL;
  const char *got = j ? json_string_value(json_object_get(j, "type")) : NULL;
  check_count++;
  if (!got || strcmp(got, type) != 0) {
    check_failures++;
    fprintf(stderr, "%s:%d: expected %s, got %.200s\n", __FILE__, line, type, t ? t : "nothing");
  }
  free(t);
  return j ? j : json_null();
}
#define EXPECT(p, type) expect_at((p), (type), __LINE__)
#define EXPECT_DROP(p, type) json_decref(EXPECT(p, type))

static void peer_free(struct peer *p) {
  if (p->c) mc_signal_client_free(p->c);
  p->c = NULL;
  while (p->head != p->tail) free(p->inbox[p->head++ % INBOX]);
}

static const char *jstr(json_t *j, const char *key) {
  const char *s = json_string_value(json_object_get(j, key));
  return s ? s : "";
}

/* ------------------------------------------------------------ tests */

static void test_parse_link(void) {
  char url[128], room[80], why[256];
  const char *id = "Jq2x0b3kR8yC9tLmPq4wZg";
  char link[256];
  snprintf(link, sizeof link, "https://127.0.0.1:8443/r/%s", id);
  CHECK_EQ_INT(mc_signal_parse_link(link, url, sizeof url, room, sizeof room, why, sizeof why), 0);
  CHECK_STR(url, "wss://127.0.0.1:8443/ws");
  CHECK_STR(room, id);
  snprintf(link, sizeof link, "https://clinic.example/r/%s#name=Ana", id);
  CHECK_EQ_INT(mc_signal_parse_link(link, url, sizeof url, room, sizeof room, why, sizeof why), 0);
  CHECK_STR(url, "wss://clinic.example/ws");
  CHECK_STR(room, id);
  snprintf(link, sizeof link, "https://[::1]:9443/r/%s?lang=pt", id);
  CHECK_EQ_INT(mc_signal_parse_link(link, url, sizeof url, room, sizeof room, why, sizeof why), 0);
  CHECK_STR(url, "wss://[::1]:9443/ws");
  CHECK_STR(room, id);

  struct {
    const char *link, *why_has;
  } bad[] = {
      {"http://127.0.0.1:8443/r/Jq2x0b3kR8yC9tLmPq4wZg", "https://"},
      {"ftp://127.0.0.1/r/Jq2x0b3kR8yC9tLmPq4wZg", "https://"},
      {"", "https://"},
      {"https://127.0.0.1:0/r/Jq2x0b3kR8yC9tLmPq4wZg", "port"},
      {"https://127.0.0.1:99999/r/Jq2x0b3kR8yC9tLmPq4wZg", "port"},
      {"https://127.0.0.1:8443/x/Jq2x0b3kR8yC9tLmPq4wZg", "/r/"},
      {"https://127.0.0.1:8443/r/short", "room id"},
      {"https://127.0.0.1:8443/r/Jq2x0b3kR8yC9tLmPq4wZg/more", "room id"},
      {"https://127.0.0.1:8443/r/Jq2x0b3kR8yC9tLmPq4w+g", "room id"},
      {"https:///r/Jq2x0b3kR8yC9tLmPq4wZg", "server"},
      {"https://a b/r/Jq2x0b3kR8yC9tLmPq4wZg", "host"},
      {"https://[::1/r/Jq2x0b3kR8yC9tLmPq4wZg", "IPv6"},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
    why[0] = '\0';
    int rc = mc_signal_parse_link(bad[i].link, url, sizeof url, room, sizeof room, why, sizeof why);
    CHECK_EQ_INT(rc, MC_EINVAL);
    if (!strstr(why, bad[i].why_has)) {
      CHECK(!"sentence");
      fprintf(stderr, "  link %s: why \"%s\" lacks \"%s\"\n", bad[i].link, why, bad[i].why_has);
    }
  }
  /* outputs too small */
  snprintf(link, sizeof link, "https://127.0.0.1:8443/r/%s", id);
  CHECK_EQ_INT(mc_signal_parse_link(link, url, 10, room, sizeof room, why, sizeof why), MC_EINVAL);
  CHECK_EQ_INT(mc_signal_parse_link(link, url, sizeof url, room, 22, why, sizeof why), MC_EINVAL);
  CHECK_EQ_INT(mc_signal_parse_link(link, url, sizeof url, room, 23, NULL, 0), 0);
}

static void test_bad_config(void) {
  struct peer p;
  memset(&p, 0, sizeof p);
  mc_signal_client *c = (mc_signal_client *)&p;
  const char *urls[] = {"ws://127.0.0.1:8443/ws", "https://127.0.0.1/ws", "wss://", "wss://127.0.0.1:0/ws",
                        "wss://[::1/ws"};
  for (size_t i = 0; i < MC_ARRAY_LEN(urls); i++) {
    struct mc_signal_client_config cfg = {.url = urls[i], .insecure = true};
    CHECK_EQ_INT(mc_signal_client_new(&loop, &cfg, &cbs, &p, &c), MC_EINVAL);
    CHECK(c == NULL);
  }
  CHECK_EQ_INT(mc_signal_client_new(&loop, NULL, &cbs, &p, &c), MC_EINVAL);
  mc_signal_client_free(NULL);
  mc_signal_client_close(NULL);
}

static char *make_sdp(size_t len) {
  char *s = malloc(len + 1);
  static const char head[] = "v=0\\r\\no=- 46117314 2 IN IP4 127.0.0.1\\r\\n";
  memcpy(s, head, sizeof head - 1);
  for (size_t i = sizeof head - 1; i < len; i++) s[i] = (char)('a' + (i * 7) % 26);
  s[len] = '\0';
  return s;
}

static void test_call(uint16_t port) {
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%u/ws", port);
  struct peer doc, pat;
  CHECK_EQ_INT(peer_start(&doc, url, true, NULL), 0);
  CHECK(doc.opened && !doc.closed);
  if (!doc.opened) {
    fprintf(stderr, "doctor did not connect: %s\n", doc.why);
    peer_free(&doc);
    return;
  }
  peer_send(&doc, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(&doc, "pong");
  peer_send(&doc, "{\"v\":1,\"type\":\"create\"}");
  json_t *created = EXPECT(&doc, "created");
  const char *link = jstr(created, "link");
  char ws_url[128], room[80], why[256];
  CHECK_EQ_INT(mc_signal_parse_link(link, ws_url, sizeof ws_url, room, sizeof room, why, sizeof why), 0);
  CHECK_STR(room, jstr(created, "room"));
  CHECK_STR(ws_url, url);
  json_decref(created);

  CHECK_EQ_INT(peer_start(&pat, ws_url, true, NULL), 0);
  CHECK(pat.opened);
  char msg[256];
  snprintf(msg, sizeof msg, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana L\\u00facia\"}", room);
  peer_send(&pat, msg);
  json_t *w = EXPECT(&pat, "waiting");
  CHECK(json_is_true(json_object_get(w, "doctor_present")));
  json_decref(w);
  json_t *k = EXPECT(&doc, "knock");
  CHECK_STR(jstr(k, "name"), "Ana L\xc3\xba" "cia");
  json_decref(k);
  peer_send(&doc, "{\"v\":1,\"type\":\"admit\"}");
  json_t *ad = EXPECT(&doc, "admitted"), *ap = EXPECT(&pat, "admitted");
  CHECK(json_is_true(json_object_get(ad, "offerer")));
  CHECK(json_is_false(json_object_get(ap, "offerer")));
  json_decref(ad);
  json_decref(ap);

  /* A 50 KB offer: several TLS records and, at lws's rx buffer size, several
   * receive callbacks; it must arrive as one message, byte for byte. */
  char *sdp = make_sdp(50000);
  size_t cap = strlen(sdp) + 200;
  char *offer = malloc(cap);
  snprintf(offer, cap, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\",\"x-extra\":[1,2]}", sdp);
  peer_send(&doc, offer);
  /* relayed rebuilt from the protocol's fields: the extra one stays behind */
  snprintf(offer, cap, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", sdp);
  size_t got_len = 0;
  char *got = peer_next(&pat, &got_len);
  CHECK(got && got_len == strlen(offer) && !memcmp(got, offer, got_len));
  free(got);
  snprintf(offer, cap, "{\"v\":1,\"type\":\"answer\",\"sdp\":\"%s\"}", sdp);
  peer_send(&pat, offer);
  got = peer_next(&doc, &got_len);
  CHECK(got && got_len == strlen(offer) && !memcmp(got, offer, got_len));
  free(got);
  free(offer);
  free(sdp);

  /* several queued before the loop runs: order kept */
  const char *cands[] = {
      "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host\","
      "\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
      "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:2 1 udp 1686052607 198.51.100.7 3478 typ srflx "
      "raddr 192.0.2.1 rport 54400\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
      "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\"}",
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(cands); i++) peer_send(&pat, cands[i]);
  for (size_t i = 0; i < MC_ARRAY_LEN(cands); i++) {
    got = peer_next(&doc, &got_len);
    CHECK(got && !strcmp(got, cands[i]));
    free(got);
  }

  /* the patient leaves; the room stays for the doctor */
  peer_send(&pat, "{\"v\":1,\"type\":\"leave\"}");
  json_t *e = EXPECT(&pat, "ended");
  CHECK_STR(jstr(e, "reason"), "left");
  json_decref(e);
  json_t *pl = EXPECT(&doc, "peer-left");
  CHECK_STR(jstr(pl, "reason"), "left");
  json_decref(pl);

  /* the patient hangs up its socket: on_close with 0, then send refuses */
  mc_signal_client_close(pat.c);
  PUMP_UNTIL(pat.closed);
  CHECK(pat.closed);
  CHECK_EQ_INT(pat.close_err, 0);
  CHECK_EQ_INT(mc_signal_client_send(pat.c, "{}", 2), MC_ESTATE);
  mc_signal_client_close(pat.c); /* a second close is harmless and calls nothing */
  pump_ms(50);
  peer_free(&pat);

  peer_send(&doc, "{\"v\":1,\"type\":\"end\"}");
  json_t *de = EXPECT(&doc, "ended");
  CHECK_STR(jstr(de, "reason"), "ended-by-doctor");
  json_decref(de);
  /* close with a message still queued: it goes out before the close frame */
  peer_send(&doc, "{\"v\":1,\"type\":\"ping\"}");
  mc_signal_client_close(doc.c);
  PUMP_UNTIL(doc.closed);
  CHECK(doc.closed);
  CHECK_EQ_INT(doc.close_err, 0);
  peer_free(&doc);
}

static void test_verify(uint16_t port, const uint8_t pin[32]) {
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%u/ws", port);
  struct peer p;

  /* self-signed without --insecure */
  CHECK_EQ_INT(peer_start(&p, url, false, NULL), 0);
  CHECK(!p.opened && p.closed);
  CHECK_EQ_INT(p.close_err, MC_ETLS);
  CHECK(strstr(p.why, "certificate") && strstr(p.why, "--insecure"));
  fprintf(stderr, "self-signed, strict: %s\n", p.why);
  CHECK_EQ_INT(mc_signal_client_send(p.c, "{}", 2), MC_ESTATE);
  peer_free(&p);

  /* the right pin: opens, and talks */
  CHECK_EQ_INT(peer_start(&p, url, false, pin), 0);
  CHECK(p.opened && !p.closed);
  if (p.opened) {
    peer_send(&p, "{\"v\":1,\"type\":\"ping\"}");
    EXPECT_DROP(&p, "pong");
  }
  peer_free(&p); /* freed while open, without close */

  /* a wrong pin: closed before any message, with a sentence */
  uint8_t wrong[32];
  memcpy(wrong, pin, 32);
  wrong[31] ^= 1;
  CHECK_EQ_INT(peer_start(&p, url, false, wrong), 0);
  CHECK(!p.opened && p.closed);
  CHECK_EQ_INT(p.close_err, MC_ETLS);
  CHECK(strstr(p.why, "fingerprint") != NULL);
  fprintf(stderr, "wrong pin: %s\n", p.why);
  peer_free(&p);

  /* --insecure with a wrong pin: the pin still decides */
  CHECK_EQ_INT(peer_start(&p, url, true, wrong), 0);
  CHECK(!p.opened && p.closed && p.close_err == MC_ETLS);
  peer_free(&p);

  char ca[256];
  snprintf(ca, sizeof ca, "%s/state/cert.pem", tmpdir);
  struct mc_signal_client_config cfg = {.url = url, .ca_file = ca};
  memset(&p, 0, sizeof p);
  /* the server's own self-signed certificate as the CA: it verifies, host
   * name check included (the server's certificate names 127.0.0.1) */
  CHECK_EQ_INT(mc_signal_client_new(&loop, &cfg, &cbs, &p, &p.c), 0);
  PUMP_UNTIL(p.opened || p.closed);
  CHECK(p.opened && !p.closed);
  peer_free(&p);
  /* a CA bundle without it: refused like the system store */
  const char *bundle = "/etc/ssl/certs/ca-certificates.crt";
  if (access(bundle, R_OK) == 0) {
    cfg.ca_file = bundle;
    memset(&p, 0, sizeof p);
    CHECK_EQ_INT(mc_signal_client_new(&loop, &cfg, &cbs, &p, &p.c), 0);
    PUMP_UNTIL(p.opened || p.closed);
    CHECK(!p.opened && p.closed && p.close_err == MC_ETLS);
    CHECK(strstr(p.why, "certificate") != NULL);
    peer_free(&p);
  }
}

static void test_unreachable(void) {
  uint16_t port = proc_pick_ports(1);
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%u/ws", port);
  struct peer p;
  CHECK_EQ_INT(peer_start(&p, url, true, NULL), 0);
  CHECK(!p.opened && p.closed);
  CHECK(p.close_err < 0);
  CHECK(strstr(p.why, "cannot reach the signaling server at") && strstr(p.why, url));
  fprintf(stderr, "closed port: %s (%s)\n", p.why, mc_strerror(p.close_err));
  peer_free(&p);

  /* RFC 6761 6.4: .invalid never resolves */
  CHECK_EQ_INT(peer_start(&p, "wss://no-such-host.invalid:8443/ws", true, NULL), 0);
  CHECK(!p.opened && p.closed);
  CHECK_EQ_INT(p.close_err, MC_ERESOLVE);
  CHECK(strstr(p.why, "does not resolve") != NULL);
  peer_free(&p);

  /* freed from inside on_close */
  CHECK_EQ_INT(peer_start(&p, url, true, NULL), 0);
  p.free_on_close = true;
  PUMP_UNTIL(p.closed);
  /* (on_close may already have run before free_on_close was set) */
  peer_free(&p);
}

/* freed from inside on_message: no more callbacks, and the teardown finishes */
static void test_free_in_callback(uint16_t port) {
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%u/ws", port);
  struct peer p;
  CHECK_EQ_INT(peer_start(&p, url, true, NULL), 0);
  CHECK(p.opened);
  if (!p.opened) {
    peer_free(&p);
    return;
  }
  p.free_on_message = true;
  peer_send(&p, "{\"v\":1,\"type\":\"ping\"}");
  peer_send(&p, "{\"v\":1,\"type\":\"ping\"}");
  PUMP_UNTIL(p.c == NULL);
  CHECK(p.c == NULL);
  pump_ms(200);
  CHECK_EQ_INT(p.tail - p.head, 1); /* the second pong was not delivered */
  CHECK(!p.closed);
  peer_free(&p);
}

/* close and free before the connection is up */
static void test_early(uint16_t port) {
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%u/ws", port);
  struct peer p;
  memset(&p, 0, sizeof p);
  struct mc_signal_client_config cfg = {.url = url, .insecure = true};
  CHECK_EQ_INT(mc_signal_client_new(&loop, &cfg, &cbs, &p, &p.c), 0);
  CHECK_EQ_INT(mc_signal_client_send(p.c, "{}", 2), MC_ESTATE); /* before on_open */
  mc_signal_client_close(p.c);
  CHECK(!p.closed); /* on_close comes from the loop, not from inside close */
  PUMP_UNTIL(p.closed);
  CHECK(p.closed && !p.opened);
  CHECK_EQ_INT(p.close_err, 0);
  peer_free(&p);

  /* freed while connecting: no callback at all */
  memset(&p, 0, sizeof p);
  CHECK_EQ_INT(mc_signal_client_new(&loop, &cfg, &cbs, &p, &p.c), 0);
  mc_signal_client_free(p.c);
  p.c = NULL;
  pump_ms(300);
  CHECK(!p.opened && !p.closed);
}

static void test_refused_upgrade(uint16_t port) {
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%u/not-ws", port);
  struct peer p;
  CHECK_EQ_INT(peer_start(&p, url, true, NULL), 0);
  CHECK(!p.opened && p.closed);
  CHECK_EQ_INT(p.close_err, MC_EREFUSED);
  CHECK(strstr(p.why, "upgrade") != NULL);
  fprintf(stderr, "refused upgrade: %s\n", p.why);
  peer_free(&p);
}

/* The server stops under an open client: goaway first (reconnect later and
 * resume); a second SIGTERM stops it at once, and the client's on_close
 * comes with an error and a sentence. */
static void test_server_gone(uint16_t port) {
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%u/ws", port);
  struct peer p;
  CHECK_EQ_INT(peer_start(&p, url, true, NULL), 0);
  CHECK(p.opened);
  peer_send(&p, "{\"v\":1,\"type\":\"create\"}");
  EXPECT_DROP(&p, "created");
  kill(srv.pid, SIGTERM);
  json_t *g = EXPECT(&p, "goaway");
  CHECK(json_integer_value(json_object_get(g, "retry_ms")) > 0);
  json_decref(g);
  CHECK(!p.closed);
  kill(srv.pid, SIGTERM);
  PUMP_UNTIL(p.closed);
  CHECK(p.closed);
  CHECK_EQ_INT(p.close_err, MC_ECLOSED);
  CHECK(strstr(p.why, "closed") || strstr(p.why, "lost"));
  fprintf(stderr, "server stopped: %s\n", p.why);
  peer_free(&p);
  proc_stop(&srv, STOP_GRACE_MS);
}

static bool read_pin(const char *log, uint8_t pin[32]) {
  FILE *f = fopen(log, "r");
  if (!f) return false;
  char line[512];
  bool ok = false;
  while (!ok && fgets(line, sizeof line, f)) {
    char *fp = strstr(line, "fingerprint ");
    if (!fp) continue;
    fp += 12;
    ok = true;
    for (int i = 0; i < 32 && ok; i++) {
      unsigned v;
      if (sscanf(fp + 3 * i, "%2x", &v) != 1) ok = false;
      pin[i] = (uint8_t)v;
    }
  }
  fclose(f);
  return ok;
}

static unsigned active_handles;
static void count_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) active_handles++;
}

/* handles on the loop, closing ones not counted */
static unsigned count_active(void) {
  active_handles = 0;
  uv_walk(&loop, count_handle, NULL);
  return active_handles;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MEDCALL_SERVER WEB_ROOT\n", argv[0]);
    return 2;
  }
  server_bin = argv[1];
  web_root = argv[2];
  signal(SIGPIPE, SIG_IGN);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/medcall-sigclient-test-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  atexit(kill_all);
  signal(SIGINT, on_fatal);
  signal(SIGTERM, on_fatal);
  signal(SIGABRT, on_fatal);
  signal(SIGSEGV, on_fatal);

  test_parse_link();

  uv_loop_init(&loop);
  uv_timer_init(&loop, &waker);
  /* UV_RUN_ONCE would block with nothing due: tick so waits can give up */
  uv_timer_start(&waker, on_waker, 10, 10);
  test_bad_config();

  srv.port = proc_pick_ports(1);
  snprintf(srv.log, sizeof srv.log, "%s/server.log", tmpdir);
  char listen[64], state[200];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", srv.port);
  snprintf(state, sizeof state, "%s/state", tmpdir);
  const char *sargv[] = {server_bin, "--listen", listen, "--state-dir", state, "--web-root", web_root, "--open", NULL};
  bool up = proc_spawn(&srv, sargv);
  CHECK(up);
  uint8_t pin[32];
  bool have_pin = up && read_pin(srv.log, pin);
  CHECK(have_pin);
  if (up) {
    test_call(srv.port);
    if (have_pin) test_verify(srv.port, pin);
    test_refused_upgrade(srv.port);
    test_early(srv.port);
    test_free_in_callback(srv.port);
  }
  test_unreachable();
  if (up) test_server_gone(srv.port);

  /* every client is freed: once the loop has run their teardown, only the
   * waker is left, then nothing */
  PUMP_UNTIL(count_active() == 1);
  CHECK_EQ_INT(count_active(), 1);
  uv_close((uv_handle_t *)&waker, NULL);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns: nothing keeps the loop alive */
  CHECK_EQ_INT(uv_run(&loop, UV_RUN_NOWAIT), 0);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  return CHECK_DONE();
}
