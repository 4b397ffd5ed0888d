/* medcall-server end to end: the real binary on 127.0.0.1 and a free port,
 * driven over WSS by libwebsockets clients and over HTTPS by a raw OpenSSL
 * client; TURN REST credentials it issues are used to allocate on a real
 * coturn (use-auth-secret). Also the pure pieces: config, TURN REST vector,
 * web paths.
 *
 * argv[1]: the medcall-server binary, argv[2]: the web root (assets/web). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "check.h"
#include "proc.h"
#include "server/server.h"
#include "turn/turn.h"
#include "util/util.h"

static const char *server_bin, *web_root;
static char tmpdir[128];
/* Every test waits at most this long for a message; only to avoid hanging, never a pass criterion. */
#define WAIT_MS 5000

/* ------------------------------------------------------------ processes */

/* How long a server gets to exit after SIGTERM before it is killed. */
#define STOP_GRACE_MS 5000

static void kill_all(void) {
  proc_kill_all(true);
  if (!getenv("KEEP_TMP")) proc_remove_dir(tmpdir);
}

static void on_fatal(int sig) {
  proc_kill_all(false);
  signal(sig, SIG_DFL);
  raise(sig);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 20);
  size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
  (void)n;
  fclose(f);
  return buf;
}

static bool file_contains(const char *path, const char *needle) {
  char *s = read_file(path);
  bool found = s && strstr(s, needle);
  free(s);
  return found;
}

static bool start_server(struct test_proc *p, const char *name, const char *const *extra) {
  p->port = proc_pick_ports(1);
  snprintf(p->log, sizeof p->log, "%s/%s.log", tmpdir, name);
  char listen[64], state[200];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", p->port);
  snprintf(state, sizeof state, "%s/state", tmpdir);
  const char *argv[64] = {server_bin, "--listen", listen, "--state-dir", state, "--web-root", web_root};
  size_t n = 7;
  for (size_t i = 0; extra[i] && n < 62; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  bool ok = proc_spawn(p, argv);
  if (!ok) fprintf(stderr, "medcall-server %s did not start; log %s\n", name, p->log);
  return ok;
}

/* ------------------------------------------------------------ coturn */

static struct test_proc coturn;
static const char turn_secret[] = "turn-shared-secret-4711";

static bool start_coturn(void) {
  if (system("command -v turnserver >/dev/null 2>&1") != 0) {
    fprintf(stderr, "turnserver missing (apt-get install coturn)\n");
    return false;
  }
  coturn.port = proc_pick_ports(1);
  snprintf(coturn.log, sizeof coturn.log, "%s/coturn.log", tmpdir);
  char port_s[8], db[200];
  snprintf(port_s, sizeof port_s, "%u", coturn.port);
  /* A fresh user db: with /dev/null coturn looks the shared secret up in an
   * empty SQLite db and ignores --static-auth-secret. */
  snprintf(db, sizeof db, "%s/turndb", tmpdir);
  const char *argv[] = {"turnserver", "--use-auth-secret", "--static-auth-secret", turn_secret, "--realm",
                        "medcall.test", "--no-cli", "--no-dtls", "--no-tls", "--listening-ip", "127.0.0.1",
                        "--relay-ip", "127.0.0.1", "--allow-loopback-peers", "--listening-port", port_s,
                        "--min-port", "40000", "--max-port", "60000", "--log-file", "stdout", "--simple-log",
                        "--userdb", db, NULL};
  if (!proc_spawn(&coturn, argv)) return false;
  usleep(100000); /* the UDP listener opens right after TCP */
  return true;
}

/* ------------------------------------------------------------ HTTPS client */

/* GET path (sent as is: no normalisation) and returns the status; body gets
 * the whole response (headers and body). */
static int https_get(uint16_t port, const char *path, char *resp, size_t cap) {
  int status = -1;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL *ssl = NULL;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  resp[0] = '\0';
  if (!ctx || fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) goto done;
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) goto done;
  char req[1024];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n\r\n", path, port);
  if (SSL_write(ssl, req, n) != n) goto done;
  size_t got = 0;
  for (;;) {
    int r = SSL_read(ssl, resp + got, (int)(cap - 1 - got));
    if (r <= 0) break;
    got += (size_t)r;
    resp[got] = '\0';
    /* lws keeps HTTP/1.1 alive: stop once Content-Length bytes are in. */
    char *hdr_end = strstr(resp, "\r\n\r\n");
    char *cl = strcasestr(resp, "content-length:");
    if (hdr_end && cl && cl < hdr_end && got >= (size_t)(hdr_end + 4 - resp) + strtoul(cl + 15, NULL, 10)) break;
    if (got + 1 >= cap) break;
  }
  if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) status = -1;
done:
  if (ssl) SSL_free(ssl);
  if (fd >= 0) close(fd);
  SSL_CTX_free(ctx);
  return status;
}

/* ------------------------------------------------------------ WSS client */

#define INBOX 256

struct tc {
  struct lws *wsi;
  int state; /* 0 connecting, 1 open, 2 closed or failed */
  int close_code;
  char *inbox[INBOX];
  size_t in_head, in_tail;
  char *out[INBOX];
  size_t out_len[INBOX];
  size_t out_head, out_tail;
  uint8_t *rx;
  size_t rx_len;
};

static struct lws_context *cctx;
static lws_sorted_usec_list_t waker;

static void on_waker(lws_sorted_usec_list_t *sul) {
  lws_sul_schedule(cctx, 0, sul, on_waker, 10 * LWS_US_PER_MS);
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len) {
  (void)user;
  struct tc *c = lws_get_opaque_user_data(wsi);
  switch (reason) {
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    if (c) c->state = 1;
    if (c && c->out_head != c->out_tail) lws_callback_on_writable(wsi);
    break;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    if (c) {
      c->state = 2;
      c->wsi = NULL;
    }
    break;
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    if (c && len >= 2) c->close_code = (((const uint8_t *)in)[0] << 8) | ((const uint8_t *)in)[1];
    break;
  case LWS_CALLBACK_CLIENT_CLOSED:
    if (c) {
      c->state = 2;
      c->wsi = NULL;
    }
    break;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (!c) break;
    c->rx = realloc(c->rx, c->rx_len + len + 1);
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
      c->rx[c->rx_len] = '\0';
      if (c->in_tail - c->in_head < INBOX) c->inbox[c->in_tail++ % INBOX] = (char *)c->rx;
      else free(c->rx);
      c->rx = NULL;
      c->rx_len = 0;
    }
    break;
  case LWS_CALLBACK_CLIENT_WRITEABLE: {
    if (!c || c->out_head == c->out_tail) break;
    size_t i = c->out_head++ % INBOX;
    int n = lws_write(wsi, (unsigned char *)c->out[i] + LWS_PRE, c->out_len[i], LWS_WRITE_TEXT);
    free(c->out[i]);
    if (n < (int)c->out_len[i]) return -1;
    if (c->out_head != c->out_tail) lws_callback_on_writable(wsi);
    break;
  }
  default:
    break;
  }
  return 0;
}

static const struct lws_protocols client_protocols[] = {
    {"medcall.v1", client_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void client_init(void) {
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = client_protocols;
  /* PLATFORM.md: a client-only context needs the global SSL init too. */
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  lws_set_log_level(LLL_ERR, NULL);
  cctx = lws_create_context(&info);
  lws_sul_schedule(cctx, 0, &waker, on_waker, 10 * LWS_US_PER_MS);
}

#define PUMP_UNTIL(cond)                                                  \
  do {                                                                    \
    uint64_t until_ = mc_now_ms() + WAIT_MS;                              \
    while (!(cond) && mc_now_ms() < until_) lws_service(cctx, 0);          \
  } while (0)

static void pump_ms(uint64_t ms) {
  uint64_t until = mc_now_ms() + ms;
  while (mc_now_ms() < until) lws_service(cctx, 0);
}

/* A client from source address src (NULL: any): loopback is a /8, so
 * 127.0.0.N stands for another machine where a limit is per address. */
static struct tc *tc_open_from(uint16_t port, const char *path, const char *src) {
  struct tc *c = calloc(1, sizeof *c);
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = cctx;
  ci.address = "127.0.0.1";
  ci.port = port;
  ci.path = path;
  ci.host = "127.0.0.1";
  ci.origin = "127.0.0.1";
  ci.protocol = NULL; /* no subprotocol header, as a plain browser client would */
  ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
  ci.local_protocol_name = "medcall.v1";
  ci.iface = src;
  ci.opaque_user_data = c;
  ci.pwsi = &c->wsi;
  if (!lws_client_connect_via_info(&ci)) c->state = 2;
  PUMP_UNTIL(c->state != 0);
  return c;
}

static struct tc *tc_open(uint16_t port, const char *path) { return tc_open_from(port, path, NULL); }

static void tc_send_len(struct tc *c, const char *text, size_t len) {
  if (!c->wsi || c->out_tail - c->out_head >= INBOX) return;
  size_t i = c->out_tail++ % INBOX;
  c->out[i] = malloc(LWS_PRE + len);
  memcpy(c->out[i] + LWS_PRE, text, len);
  c->out_len[i] = len;
  lws_callback_on_writable(c->wsi);
  PUMP_UNTIL(c->out_head == c->out_tail || c->state == 2);
}

static void tc_send(struct tc *c, const char *text) { tc_send_len(c, text, strlen(text)); }

static void tc_sendf(struct tc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tc_sendf(struct tc *c, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  tc_send(c, buf);
}

/* The next message as text (caller frees), or NULL after WAIT_MS. */
static char *tc_next_text(struct tc *c) {
  PUMP_UNTIL(c->in_head != c->in_tail || c->state == 2);
  if (c->in_head == c->in_tail) return NULL;
  return c->inbox[c->in_head++ % INBOX];
}

/* The next message, parsed; a JSON null object when none came. */
static json_t *tc_next(struct tc *c) {
  char *t = tc_next_text(c);
  if (!t) return json_null();
  json_t *j = json_loads(t, 0, NULL);
  free(t);
  return j ? j : json_null();
}

static const char *jstr(json_t *j, const char *key) {
  const char *s = json_string_value(json_object_get(j, key));
  return s ? s : "";
}

/* Reads the next message and checks its type (and error code); returns it. */
static json_t *expect_at(struct tc *c, const char *type, const char *code, int line) {
  json_t *j = tc_next(c);
  const char *t = jstr(j, "type");
  bool ok = !strcmp(t, type) && (!code || !strcmp(jstr(j, "code"), code)) &&
            json_integer_value(json_object_get(j, "v")) == 1;
  check_count++;
  if (!ok) {
    check_failures++;
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    fprintf(stderr, "%s:%d: expected %s%s%s, got %s\n", __FILE__, line, type, code ? " " : "", code ? code : "",
            s ? s : "?");
    free(s);
  }
  return j;
}
#define EXPECT(c, type) expect_at((c), (type), NULL, __LINE__)
#define EXPECT_ERR(c, code) expect_at((c), "error", (code), __LINE__)
#define EXPECT_DROP(c, type) json_decref(EXPECT(c, type))
#define EXPECT_ERR_DROP(c, code) json_decref(EXPECT_ERR(c, code))

/* No message arrives within ms (used where the protocol says nothing is sent). */
static bool tc_quiet(struct tc *c, uint64_t ms) {
  pump_ms(ms);
  return c->in_head == c->in_tail;
}

static void tc_close(struct tc *c) {
  if (!c) return;
  if (c->wsi) {
    lws_set_opaque_user_data(c->wsi, NULL);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, LWS_TO_KILL_ASYNC);
    pump_ms(50);
  }
  while (c->in_head != c->in_tail) free(c->inbox[c->in_head++ % INBOX]);
  while (c->out_head != c->out_tail) free(c->out[c->out_head++ % INBOX]);
  free(c->rx);
  free(c);
}

/* ------------------------------------------------------------ unit parts */

static void test_turn_rest_vector(void) {
  char user[80], pass[64];
  /* expected from: printf '%s' USER | openssl dgst -sha1 -hmac north-wind -binary | base64 */
  CHECK_EQ_INT(mc_turn_rest_credentials("north-wind", 1700000000, "medcall-patient-0badf00d", user, sizeof user, pass,
                                        sizeof pass),
               0);
  CHECK_STR(user, "1700000000:medcall-patient-0badf00d");
  CHECK_STR(pass, "n9IYI1DC6nmyyV/3ZsF8v6F2Fk0=");
  CHECK_EQ_INT(mc_turn_rest_credentials("k", 1, "a:b", user, sizeof user, pass, sizeof pass), MC_EINVAL);
  CHECK_EQ_INT(mc_turn_rest_credentials("k", 1700000000, "id", user, 8, pass, sizeof pass), MC_ETOOBIG);
}

static void test_config(void) {
  struct mc_server_config cfg;
  char why[400];
  uint32_t d;
  CHECK_EQ_INT(mc_server_parse_duration("30", &d), 0);
  CHECK_EQ_INT(d, 30);
  CHECK_EQ_INT(mc_server_parse_duration("5m", &d), 0);
  CHECK_EQ_INT(d, 300);
  CHECK_EQ_INT(mc_server_parse_duration("24h", &d), 0);
  CHECK_EQ_INT(d, 86400);
  CHECK_EQ_INT(mc_server_parse_duration("2d", &d), 0);
  CHECK_EQ_INT(d, 172800);
  CHECK_EQ_INT(mc_server_parse_duration("1x", &d), MC_EINVAL);
  CHECK_EQ_INT(mc_server_parse_duration("-1", &d), MC_EINVAL);
  CHECK_EQ_INT(mc_server_parse_duration("99999999999d", &d), MC_EINVAL);

  mc_server_config_init(&cfg);
  char *argv1[] = {"x", "--listen", "[::1]:9443", "--open", "--grace=5s", "--turn-url", "turn:192.0.2.1:3478",
                   "--turn-url", "stun:192.0.2.1", NULL};
  CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 9, argv1, why, sizeof why), 0);
  CHECK_STR(cfg.listen_host, "::1");
  CHECK_EQ_INT(cfg.port, 9443);
  CHECK(cfg.open);
  CHECK_EQ_INT(cfg.grace_s, 5);
  CHECK_EQ_INT(cfg.room_ttl_s, 86400);
  CHECK_EQ_INT(cfg.n_turn_urls, 2);
  CHECK_EQ_INT(cfg.idle_ping_s, 20);
  CHECK_EQ_INT(cfg.idle_timeout_s, 40);
  mc_server_config_free(&cfg);

  /* neither --open nor a token: refused with a sentence saying what to do */
  mc_server_config_init(&cfg);
  char *argv2[] = {"x", NULL};
  CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 1, argv2, why, sizeof why), MC_EINVAL);
  CHECK(strstr(why, "--doctor-token") != NULL);
  mc_server_config_free(&cfg);

  const char *bad[][2] = {{"--public-url", "http://x"}, {"--listen", "8443"}, {"--room-ttl", "soon"}, {"--turn-url", "http://x"},
                          {"--rate", "0"},      {"--bogus", "1"},       {"--max-message", "10"},
                          {"--idle-timeout", "20s"}, {"--idle-ping", "0"}};
  for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
    mc_server_config_init(&cfg);
    char *argv3[] = {"x", "--open", (char *)bad[i][0], (char *)bad[i][1], NULL};
    why[0] = '\0';
    CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 4, argv3, why, sizeof why), MC_EINVAL);
    CHECK(strlen(why) > 10);
    mc_server_config_free(&cfg);
  }
  /* A TURN pool: at most 8 URLs, kept in the order given (the preference);
   * the ninth is refused with a sentence naming it. */
  mc_server_config_init(&cfg);
  char pool_urls[9][40];
  char *argv_pool[2 + 2 * 9 + 1] = {"x", "--open"};
  for (int i = 0; i < 9; i++) {
    snprintf(pool_urls[i], sizeof pool_urls[i], "turn:192.0.2.%d:3478", i + 1);
    argv_pool[2 + 2 * i] = "--turn-url";
    argv_pool[3 + 2 * i] = pool_urls[i];
  }
  CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 2 + 2 * 8, argv_pool, why, sizeof why), MC_OK);
  CHECK_EQ_INT(cfg.n_turn_urls, 8);
  for (int i = 0; i < 8; i++) CHECK_STR(cfg.turn_urls[i], pool_urls[i]);
  mc_server_config_free(&cfg);
  mc_server_config_init(&cfg);
  CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 2 + 2 * 9, argv_pool, why, sizeof why), MC_EINVAL);
  CHECK(strstr(why, "turn:192.0.2.9:3478") != NULL && strstr(why, "at most 8 TURN URLs") != NULL);
  mc_server_config_free(&cfg);
  mc_server_config_init(&cfg);
  char *argv4[] = {"x", "--doctor-token", "t", "--turn-secret", "s", NULL};
  CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 5, argv4, why, sizeof why), MC_EINVAL); /* secret without url */
  mc_server_config_free(&cfg);

  /* the config file, overridden by the command line */
  char path[256];
  snprintf(path, sizeof path, "%s/unit.conf", tmpdir);
  FILE *f = fopen(path, "w");
  fprintf(f, "# comment\n  doctor-token = tok en  \nroom-ttl=2h\ngrace = 10 # trailing comment\nturn-url = "
             "turn:192.0.2.9\n\n");
  fclose(f);
  mc_server_config_init(&cfg);
  char *argv5[] = {"x", "--config", path, "--grace", "7", NULL};
  CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 5, argv5, why, sizeof why), 0);
  CHECK_STR(cfg.doctor_token, "tok en");
  CHECK_EQ_INT(cfg.room_ttl_s, 7200);
  CHECK_EQ_INT(cfg.grace_s, 7);
  CHECK_EQ_INT(cfg.n_turn_urls, 1);
  mc_server_config_free(&cfg);
  f = fopen(path, "w");
  fprintf(f, "open\nfrobnicate = 1\n");
  fclose(f);
  mc_server_config_init(&cfg);
  CHECK_EQ_INT(mc_server_config_parse_args(&cfg, 3, argv5, why, sizeof why), MC_EINVAL);
  CHECK(strstr(why, ":2:") != NULL); /* the line is named */
  mc_server_config_free(&cfg);
}

static void test_web_resolve(void) {
  char path[4096];
  const char *mime = NULL;
  CHECK_EQ_INT(mc_web_resolve(web_root, "/r/AAAAAAAAAAAAAAAAAAAAAA", path, sizeof path, &mime), 0);
  CHECK(strstr(path, "/room.html") != NULL);
  CHECK_STR(mime, "text/html; charset=utf-8");
  CHECK_EQ_INT(mc_web_resolve(web_root, "/style.css", path, sizeof path, &mime), 0);
  CHECK_STR(mime, "text/css; charset=utf-8");
  CHECK_EQ_INT(mc_web_resolve(web_root, "/r/short", path, sizeof path, &mime), MC_ENOTFOUND);
  CHECK_EQ_INT(mc_web_resolve(web_root, "/../../etc/passwd", path, sizeof path, &mime), MC_EINVAL);
  CHECK_EQ_INT(mc_web_resolve(web_root, "/r/../../etc/passwd", path, sizeof path, &mime), MC_EINVAL);
  CHECK_EQ_INT(mc_web_resolve(web_root, "/%2e%2e/etc/passwd", path, sizeof path, &mime), MC_EINVAL);
  CHECK_EQ_INT(mc_web_resolve(web_root, "/.git/config", path, sizeof path, &mime), MC_EINVAL);
  CHECK_EQ_INT(mc_web_resolve(web_root, "//etc/passwd", path, sizeof path, &mime), MC_EINVAL);
  CHECK_EQ_INT(mc_web_resolve(web_root, "/a\\..\\b", path, sizeof path, &mime), MC_EINVAL);
  CHECK_EQ_INT(mc_web_resolve(web_root, "etc/passwd", path, sizeof path, &mime), MC_EINVAL);
  CHECK_EQ_INT(mc_web_resolve(web_root, "/nothing-here.js", path, sizeof path, &mime), MC_ENOTFOUND);
  /* a symlink inside the root that points outside is not followed */
  char root2[256], link[300], cmd[700];
  snprintf(root2, sizeof root2, "%s/web2", tmpdir);
  snprintf(link, sizeof link, "%s/passwd.txt", root2);
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' && ln -sf /etc/passwd '%s'", root2, link);
  CHECK_EQ_INT(system(cmd), 0);
  CHECK_EQ_INT(mc_web_resolve(root2, "/passwd.txt", path, sizeof path, &mime), MC_ENOTFOUND);
}

/* ------------------------------------------------------------ end to end */

static struct test_proc srv_a, srv_b;
static const char doctor_token[] = "doctor-token-very-secret-91";

static struct tc *doctor_create(uint16_t port, const char *token, char *room, char *session) {
  struct tc *d = tc_open(port, "/ws");
  CHECK_EQ_INT(d->state, 1);
  if (token) tc_sendf(d, "{\"v\":1,\"type\":\"create\",\"token\":\"%s\"}", token);
  else tc_send(d, "{\"v\":1,\"type\":\"create\"}");
  json_t *j = EXPECT(d, "created");
  mc_strcpy(room, 64, jstr(j, "room"));
  mc_strcpy(session, 64, jstr(j, "session"));
  json_decref(j);
  return d;
}

static void test_http(void) {
  static char resp[1 << 16];
  CHECK_EQ_INT(https_get(srv_a.port, "/r/AAAAAAAAAAAAAAAAAAAAAA", resp, sizeof resp), 200);
  CHECK(strstr(resp, "<!doctype html>") != NULL);
  CHECK(strcasestr(resp, "content-type: text/html") != NULL);
  CHECK(strcasestr(resp, "referrer-policy: no-referrer") != NULL);
  CHECK(strcasestr(resp, "content-security-policy:") != NULL);
  CHECK_EQ_INT(https_get(srv_a.port, "/style.css", resp, sizeof resp), 200);
  CHECK(strcasestr(resp, "content-type: text/css") != NULL);
  const char *evil[] = {"/../../../../etc/passwd", "/r/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                        "/..%2f..%2f..%2fetc%2fpasswd", "/r/AAAAAAAAAAAAAAAAAAAAAA/../../../etc/passwd",
                        "/.%2e/.%2e/etc/passwd", "/r/short", "/nothing.html"};
  for (size_t i = 0; i < MC_ARRAY_LEN(evil); i++) {
    int st = https_get(srv_a.port, evil[i], resp, sizeof resp);
    check_count++;
    if (st == 200 || st < 0 || strstr(resp, "root:") != NULL) {
      check_failures++;
      fprintf(stderr, "GET %s: status %d\n", evil[i], st);
    }
  }
}

static void test_create_auth(void) {
  struct tc *c = tc_open(srv_a.port, "/ws");
  CHECK_EQ_INT(c->state, 1);
  tc_send(c, "{\"v\":1,\"type\":\"create\",\"token\":\"wrong\"}");
  json_t *j = EXPECT_ERR(c, "unauthorized");
  CHECK_STR(jstr(j, "ref"), "create");
  CHECK(strlen(jstr(j, "message")) > 10);
  json_decref(j);
  tc_send(c, "{\"v\":1,\"type\":\"create\"}");
  EXPECT_ERR_DROP(c, "unauthorized");
  /* a prefix of the token is not the token */
  tc_send(c, "{\"v\":1,\"type\":\"create\",\"token\":\"doctor-token-very-secret-9\"}");
  EXPECT_ERR_DROP(c, "unauthorized");
  tc_sendf(c, "{\"v\":1,\"type\":\"create\",\"token\":\"%s\"}", doctor_token);
  j = EXPECT(c, "created");
  char room[64];
  mc_strcpy(room, sizeof room, jstr(j, "room"));
  CHECK_EQ_INT(strlen(room), 22);
  CHECK(mc_signal_id_valid(room, strlen(room)));
  CHECK(mc_signal_id_valid(jstr(j, "session"), strlen(jstr(j, "session"))));
  CHECK(strcmp(room, jstr(j, "session")) != 0);
  char link[200];
  snprintf(link, sizeof link, "https://127.0.0.1:%u/r/%s", srv_a.port, room);
  CHECK_STR(jstr(j, "link"), link);
  CHECK_STR(jstr(j, "role"), "doctor");
  CHECK_EQ_INT(json_integer_value(json_object_get(j, "grace")), 2);
  json_int_t expires = json_integer_value(json_object_get(j, "expires"));
  CHECK(expires > (json_int_t)(mc_wall_ms() / 1000) + 86000);
  json_decref(j);
  /* the link's page is served */
  static char resp[1 << 16];
  char path[64];
  snprintf(path, sizeof path, "/r/%s", room);
  CHECK_EQ_INT(https_get(srv_a.port, path, resp, sizeof resp), 200);
  /* one room per connection */
  tc_sendf(c, "{\"v\":1,\"type\":\"create\",\"token\":\"%s\"}", doctor_token);
  EXPECT_ERR_DROP(c, "wrong-state");
  tc_send(c, "{\"v\":1,\"type\":\"end\"}");
  j = EXPECT(c, "ended");
  CHECK_STR(jstr(j, "reason"), "ended-by-doctor");
  json_decref(j);
  tc_close(c);
}

struct turn_result {
  bool allocated, failed;
};

static void turn_on_allocated(mc_turn_client *c, const mc_addr *relayed, const mc_addr *mapped, void *user) {
  (void)c, (void)relayed, (void)mapped;
  ((struct turn_result *)user)->allocated = true;
}

static void turn_on_error(mc_turn_client *c, int err, const char *sentence, void *user) {
  (void)c, (void)err;
  fprintf(stderr, "turn: %s\n", sentence);
  ((struct turn_result *)user)->failed = true;
}

static void uv_wake(uv_timer_t *t) { (void)t; }

/* Allocates on coturn with the given credentials; true once allocated. */
static bool turn_allocate(const char *user, const char *pass) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct turn_result res = {0};
  struct mc_turn_config cfg = {0};
  cfg.host = "127.0.0.1";
  cfg.port = coturn.port;
  cfg.transport = MC_TURN_UDP;
  cfg.username = user;
  cfg.password = pass;
  cfg.timeout_ms = 4000;
  struct mc_turn_callbacks cbs = {0};
  cbs.on_allocated = turn_on_allocated;
  cbs.on_error = turn_on_error;
  mc_turn_client *c = NULL;
  if (mc_turn_client_new(&loop, &cfg, &cbs, &res, &c) == 0 && mc_turn_client_start(c) == 0) {
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    uv_timer_start(&t, uv_wake, 10, 10);
    uint64_t until = mc_now_ms() + WAIT_MS;
    while (!res.allocated && !res.failed && mc_now_ms() < until) uv_run(&loop, UV_RUN_ONCE);
    mc_turn_client_close(c);
    /* Refresh(0) goes out and the client frees itself (MC_TURN_CLOSE_LINGER_MS at most). */
    until = mc_now_ms() + MC_TURN_CLOSE_LINGER_MS + 500;
    while (mc_now_ms() < until) uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
  }
  /* let every handle close before the loop goes */
  for (int i = 0; i < 300 && uv_loop_close(&loop) == UV_EBUSY; i++) uv_run(&loop, UV_RUN_NOWAIT), usleep(10000);
  return res.allocated;
}

static char issued_password[128];

static void check_ice_servers(json_t *adm, bool with_coturn) {
  json_t *servers = json_object_get(adm, "ice_servers");
  CHECK(json_is_array(servers) && json_array_size(servers) == 1);
  json_t *s0 = json_array_get(servers, 0);
  json_t *urls = json_object_get(s0, "urls");
  CHECK(json_is_array(urls) && json_array_size(urls) == 1);
  char url[64];
  snprintf(url, sizeof url, "turn:127.0.0.1:%u?transport=udp", coturn.port);
  CHECK_STR(json_string_value(json_array_get(urls, 0)) ? json_string_value(json_array_get(urls, 0)) : "", url);
  const char *user = jstr(s0, "username"), *pass = jstr(s0, "credential");
  /* username = expiry:id, expiry a turn-ttl (1h here) ahead */
  unsigned long long expiry = strtoull(user, NULL, 10);
  uint64_t now = mc_wall_ms() / 1000;
  CHECK(expiry >= now + 3500 && expiry <= now + 3700);
  CHECK(strchr(user, ':') != NULL && strlen(strchr(user, ':')) > 4);
  CHECK_EQ_INT(strlen(pass), 28); /* base64 of 20 bytes */
  char expect_pass[64], u2[128];
  const char *id = strchr(user, ':') ? strchr(user, ':') + 1 : "";
  mc_turn_rest_credentials(turn_secret, expiry, id, u2, sizeof u2, expect_pass, sizeof expect_pass);
  CHECK_STR(pass, expect_pass);
  mc_strcpy(issued_password, sizeof issued_password, pass);
  if (!with_coturn) return;
  /* coturn (use-auth-secret) accepts what the server issued... */
  CHECK(turn_allocate(user, pass));
  /* ...and refuses a tampered password, so the check above means something. */
  char bad[64];
  mc_strcpy(bad, sizeof bad, pass);
  bad[0] = bad[0] == 'A' ? 'B' : 'A';
  CHECK(!turn_allocate(user, bad));
}

/* The pre-call check's credentials (issue 14): a few minutes, not a
 * turn-ttl; the username's id part names the room by a tag that is not its
 * id (coturn logs usernames); coturn takes them. tag gets that tag. */
static void check_precall_servers(json_t *j, const char *room, bool with_coturn, char *tag, size_t tag_cap) {
  json_t *s0 = json_array_get(json_object_get(j, "ice_servers"), 0);
  const char *user = jstr(s0, "username"), *pass = jstr(s0, "credential");
  unsigned long long expiry = strtoull(user, NULL, 10);
  uint64_t now = mc_wall_ms() / 1000;
  check_count++;
  if (!(expiry >= now + 240 && expiry <= now + 310)) {
    check_failures++;
    fprintf(stderr, "pre-call credentials live %lld s, not about 300\n", (long long)expiry - (long long)now);
  }
  const char *id = strchr(user, ':') ? strchr(user, ':') + 1 : "";
  CHECK(!strncmp(id, "medcall-precall-", 16));
  char prefix[7];
  snprintf(prefix, sizeof prefix, "%.6s", room);
  CHECK(!strstr(user, room) && !strstr(user, prefix));
  const char *t = id + (strlen(id) > 16 ? 16 : strlen(id));
  const char *dash = strchr(t, '-');
  snprintf(tag, tag_cap, "%.*s", dash ? (int)(dash - t) : (int)strlen(t), t);
  CHECK(strlen(tag) == 8);
  char expect_pass[64], u2[128];
  mc_turn_rest_credentials(turn_secret, expiry, id, u2, sizeof u2, expect_pass, sizeof expect_pass);
  CHECK_STR(pass, expect_pass);
  if (with_coturn) CHECK(turn_allocate(user, pass));
}

/* Relayed messages are rebuilt from the fields the protocol defines for
 * their type (issue 14): the peer gets exactly those of the sent message
 * (nulls dropped), byte for byte, and nothing else. */
static void check_relayed(const char *sent, const char *got, int line) {
  static const char *const desc[] = {"v", "type", "sdp"};
  static const char *const cand[] = {"v", "type", "candidate", "sdpMid", "sdpMLineIndex"};
  json_t *s = json_loads(sent, 0, NULL), *g = got ? json_loads(got, 0, NULL) : NULL;
  json_t *expect = json_object();
  bool is_cand = !strcmp(jstr(s, "type"), "candidate");
  const char *const *keys = is_cand ? cand : desc;
  size_t n = is_cand ? MC_ARRAY_LEN(cand) : MC_ARRAY_LEN(desc);
  for (size_t i = 0; i < n; i++) {
    json_t *v = json_object_get(s, keys[i]);
    if (v && !json_is_null(v)) json_object_set(expect, keys[i], v);
  }
  check_count++;
  if (!s || !g || !json_equal(expect, g)) {
    check_failures++;
    fprintf(stderr, "%s:%d: relayed as %s\n  sent %s\n", __FILE__, line, got ? got : "(nothing)", sent);
  }
  json_decref(expect);
  json_decref(s);
  json_decref(g);
}
#define CHECK_RELAYED(sent, got) check_relayed((sent), (got), __LINE__)

static const char offer_sdp[] = "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n";

static void test_call_flow(bool coturn_up) {
  char room[64], dsess[64];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  struct tc *p = tc_open(srv_a.port, "/ws");
  /* a bad room id and an unknown room */
  tc_send(p, "{\"v\":1,\"type\":\"join\",\"room\":\"nope\",\"name\":\"Ana\"}");
  json_t *j = EXPECT_ERR(p, "bad-field");
  CHECK_STR(jstr(j, "ref"), "join");
  json_decref(j);
  tc_send(p, "{\"v\":1,\"type\":\"join\",\"room\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"name\":\"Ana\"}");
  EXPECT_ERR_DROP(p, "no-room");
  /* relay before joining anything */
  tc_sendf(p, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", offer_sdp);
  EXPECT_ERR_DROP(p, "not-admitted");

  /* the pre-call check: ICE servers for a live link, before knocking */
  tc_send(p, "{\"v\":1,\"type\":\"ice\",\"room\":\"AAAAAAAAAAAAAAAAAAAAAA\"}");
  EXPECT_ERR_DROP(p, "no-room");
  tc_sendf(p, "{\"v\":1,\"type\":\"ice\",\"room\":\"%s\"}", room);
  j = EXPECT(p, "ice-servers");
  char tag[32];
  check_precall_servers(j, room, false, tag, sizeof tag);
  json_decref(j);
  CHECK(tc_quiet(d, 50)); /* the doctor hears nothing of it */

  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana L\\u00facia\"}", room);
  j = EXPECT(p, "waiting");
  char psess[64];
  mc_strcpy(psess, sizeof psess, jstr(j, "session"));
  CHECK(mc_signal_id_valid(psess, strlen(psess)));
  CHECK(strcmp(psess, dsess) != 0);
  CHECK_STR(jstr(j, "room"), room);
  CHECK(json_is_true(json_object_get(j, "doctor_present")));
  json_decref(j);
  j = EXPECT(d, "knock");
  CHECK_STR(jstr(j, "name"), "Ana L\xc3\xba" "cia");
  json_decref(j);

  /* waiting patients exchange nothing, and only the doctor admits */
  tc_sendf(p, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", offer_sdp);
  EXPECT_ERR_DROP(p, "not-admitted");
  tc_sendf(d, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", offer_sdp);
  EXPECT_ERR_DROP(d, "not-admitted");
  tc_send(p, "{\"v\":1,\"type\":\"admit\"}");
  EXPECT_ERR_DROP(p, "not-doctor");
  tc_send(p, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_ERR_DROP(p, "not-doctor");
  CHECK(tc_quiet(d, 100));

  /* a second knock while Ana waits: the doctor hears of it and decides */
  struct tc *x = tc_open(srv_a.port, "/ws");
  tc_sendf(x, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Eve\"}", room);
  EXPECT_DROP(x, "waiting");
  j = EXPECT(d, "knock");
  CHECK_STR(jstr(j, "name"), "Eve");
  CHECK(json_is_false(json_object_get(j, "returning")));
  char eve_knock[32];
  mc_strcpy(eve_knock, sizeof eve_knock, jstr(j, "knock"));
  CHECK(eve_knock[0] != '\0');
  json_decref(j);

  /* admit without a knock id admits the oldest knock: Ana */
  tc_send(d, "{\"v\":1,\"type\":\"admit\"}");
  j = EXPECT(p, "admitted");
  CHECK_STR(jstr(j, "role"), "patient");
  CHECK(json_is_false(json_object_get(j, "offerer")));
  CHECK_STR(jstr(json_object_get(j, "peer"), "role"), "doctor");
  check_ice_servers(j, coturn_up);
  json_decref(j);
  j = EXPECT(d, "admitted");
  CHECK_STR(jstr(j, "role"), "doctor");
  CHECK(json_is_true(json_object_get(j, "offerer")));
  CHECK_STR(jstr(json_object_get(j, "peer"), "name"), "Ana L\xc3\xba" "cia");
  check_ice_servers(j, false);
  json_decref(j);
  CHECK(tc_quiet(x, 50)); /* Eve still waits, told nothing */
  /* an unknown knock id is refused; Eve's is declined by its id */
  tc_send(d, "{\"v\":1,\"type\":\"admit\",\"knock\":\"999\"}");
  EXPECT_ERR_DROP(d, "wrong-state");
  tc_send(d, "{\"v\":1,\"type\":\"admit\",\"knock\":\"no/slash\"}");
  EXPECT_ERR_DROP(d, "bad-field");
  tc_sendf(d, "{\"v\":1,\"type\":\"decline\",\"knock\":\"%s\"}", eve_knock);
  EXPECT_DROP(x, "declined");
  tc_send(d, "{\"v\":1,\"type\":\"admit\"}");
  EXPECT_ERR_DROP(d, "wrong-state");

  /* relay: both ways, rebuilt from the fields the protocol defines; an
   * unknown field, nested or not, stays with the sender, and the sdp
   * arrives byte for byte (escapes, non-ASCII, quotes, slashes) */
  char msg[1024];
  snprintf(msg, sizeof msg,
           "{\"v\":1,\"type\":\"offer\",\"evil\":\"x\",\"sdp\":\"%ss=caf\\u00e9 \\\"q\\\" \\\\ \\/ \xe2\x82\xac\\r\\n\","
           "\"nested\":{\"a\":[1,{\"b\":\"c\"}],\"sdp\":\"v=0\"},\"x-extra\":42}",
           offer_sdp);
  tc_send(d, msg);
  char *t = tc_next_text(p);
  CHECK_RELAYED(msg, t);
  CHECK(t && !strstr(t, "evil") && !strstr(t, "nested") && !strstr(t, "x-extra"));
  free(t);
  snprintf(msg, sizeof msg, "{\"v\":1,\"type\":\"answer\",\"sdp\":\"%s\",\"type2\":{}}", offer_sdp);
  tc_send(p, msg);
  t = tc_next_text(d);
  CHECK_RELAYED(msg, t);
  free(t);
  const char *cand = "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 2122260223 127.0.0.1 50000 "
                     "typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}";
  tc_send(p, cand);
  t = tc_next_text(d);
  CHECK_RELAYED(cand, t);
  free(t);
  const char *cand_extra = "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"candidate:2 1 udp 2122260222 127.0.0.1 "
                           "50001 typ host\",\"sdpMid\":null,\"sdpMLineIndex\":null,\"usernameFragment\":\"u\","
                           "\"evil\":[{\"x\":1}]}";
  tc_send(p, cand_extra);
  t = tc_next_text(d);
  CHECK_RELAYED(cand_extra, t);
  free(t);
  const char *eoc = "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\",\"sdpMid\":\"0\"}";
  tc_send(d, eoc);
  t = tc_next_text(p);
  CHECK_RELAYED(eoc, t);
  free(t);
  /* an invalid candidate is not relayed */
  tc_send(d, "{\"v\":1,\"type\":\"candidate\",\"candidate\":\"bogus\"}");
  EXPECT_ERR_DROP(d, "bad-field");
  CHECK(tc_quiet(p, 100));
  /* the refused third peer still cannot relay into the call */
  tc_send(x, cand);
  EXPECT_ERR_DROP(x, "not-admitted");
  CHECK(tc_quiet(d, 50) && tc_quiet(p, 50));
  tc_close(x);

  /* the patient drops and comes back within the grace period */
  tc_close(p);
  EXPECT_DROP(d, "peer-away");
  tc_sendf(d, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", offer_sdp); /* to an away peer: dropped */
  p = tc_open(srv_a.port, "/ws");
  tc_send(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"AAAAAAAAAAAAAAAAAAAAAA\"}");
  EXPECT_ERR_DROP(p, "unknown-session");
  tc_sendf(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", psess);
  j = EXPECT(p, "resumed");
  CHECK_STR(jstr(j, "state"), "admitted");
  CHECK_STR(jstr(j, "role"), "patient");
  CHECK_STR(jstr(j, "room"), room);
  CHECK(json_array_size(json_object_get(j, "ice_servers")) == 1);
  json_decref(j);
  EXPECT_DROP(d, "peer-back");
  tc_send(p, cand);
  t = tc_next_text(d);
  CHECK_RELAYED(cand, t);
  free(t);

  /* the doctor resumes too, on a new connection while the old one is open */
  struct tc *d2 = tc_open(srv_a.port, "/ws");
  tc_sendf(d2, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", dsess);
  j = EXPECT(d2, "resumed");
  CHECK_STR(jstr(j, "role"), "doctor");
  CHECK_STR(jstr(json_object_get(j, "peer"), "name"), "Ana L\xc3\xba" "cia");
  json_decref(j);
  j = EXPECT(d, "ended");
  CHECK_STR(jstr(j, "reason"), "resumed-elsewhere");
  json_decref(j);
  tc_send(d, eoc); /* the old connection holds nothing any more */
  EXPECT_ERR_DROP(d, "not-admitted");
  tc_close(d);
  d = d2;

  /* the doctor ends the room: both told, the link is dead */
  tc_send(d, "{\"v\":1,\"type\":\"end\"}");
  j = EXPECT(d, "ended");
  CHECK_STR(jstr(j, "reason"), "ended-by-doctor");
  json_decref(j);
  j = EXPECT(p, "ended");
  CHECK_STR(jstr(j, "reason"), "ended-by-doctor");
  json_decref(j);
  struct tc *late = tc_open(srv_a.port, "/ws");
  tc_sendf(late, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana\"}", room);
  EXPECT_ERR_DROP(late, "no-room");
  tc_sendf(late, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", psess);
  EXPECT_ERR_DROP(late, "unknown-session");
  tc_close(late);
  tc_close(p);
  tc_close(d);
}

static void test_decline_and_leave(void) {
  char room[64], dsess[64];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  struct tc *p = tc_open(srv_a.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Bob\"}", room);
  EXPECT_DROP(p, "waiting");
  EXPECT_DROP(d, "knock");
  tc_send(d, "{\"v\":1,\"type\":\"decline\"}");
  EXPECT_DROP(p, "declined");
  /* a declined patient holds nothing */
  tc_sendf(p, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", offer_sdp);
  EXPECT_ERR_DROP(p, "not-admitted");
  tc_close(p);
  /* the place is free again: another patient knocks, is admitted, leaves */
  p = tc_open(srv_a.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Carla\"}", room);
  EXPECT_DROP(p, "waiting");
  json_t *j = EXPECT(d, "knock");
  CHECK_STR(jstr(j, "name"), "Carla");
  json_decref(j);
  tc_send(d, "{\"v\":1,\"type\":\"decline\"}");
  EXPECT_DROP(p, "declined");
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Carla\"}", room);
  EXPECT_DROP(p, "waiting");
  EXPECT_DROP(d, "knock");
  tc_send(d, "{\"v\":1,\"type\":\"admit\"}");
  EXPECT_DROP(p, "admitted");
  EXPECT_DROP(d, "admitted");
  tc_send(p, "{\"v\":1,\"type\":\"leave\"}");
  j = EXPECT(p, "ended");
  CHECK_STR(jstr(j, "reason"), "left");
  json_decref(j);
  j = EXPECT(d, "peer-left");
  CHECK_STR(jstr(j, "reason"), "left");
  CHECK_STR(jstr(j, "role"), "patient");
  json_decref(j);
  tc_send(d, "{\"v\":1,\"type\":\"decline\"}");
  EXPECT_ERR_DROP(d, "wrong-state");
  tc_close(p);

  /* grace passes (2 s on this server): the patient's place is gone */
  p = tc_open(srv_a.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Dan\"}", room);
  j = EXPECT(p, "waiting");
  char psess[64];
  mc_strcpy(psess, sizeof psess, jstr(j, "session"));
  json_decref(j);
  j = EXPECT(d, "knock");
  char dan_knock[32];
  mc_strcpy(dan_knock, sizeof dan_knock, jstr(j, "knock"));
  json_decref(j);
  tc_close(p);
  /* a knock whose connection drops stops waiting at once (issue 14: it
   * holds no place while away); the doctor is not told a second time when
   * its grace passes */
  j = EXPECT(d, "peer-left");
  CHECK_STR(jstr(j, "reason"), "away");
  CHECK_STR(jstr(j, "knock"), dan_knock);
  json_decref(j);
  CHECK(tc_quiet(d, 2500));
  p = tc_open(srv_a.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", psess);
  EXPECT_ERR_DROP(p, "unknown-session");
  tc_close(p);
  tc_close(d);
}

static void test_malformed(void) {
  struct tc *c = tc_open(srv_a.port, "/ws");
  const struct {
    const char *text;
    const char *code;
  } cases[] = {
      {"not json", "bad-json"},
      {"[1,2]", "bad-json"},
      {"{\"v\":1,\"type\":\"ping\",\"type\":\"end\"}", "bad-json"},
      {"{\"v\":1,\"type\":\"ping\",\"x\":\"\xff\xfe\"}", "bad-json"},
      {"{\"type\":\"ping\"}", "bad-version"},
      {"{\"v\":2,\"type\":\"ping\"}", "bad-version"},
      {"{\"v\":1}", "unknown-type"},
      {"{\"v\":1,\"type\":\"frobnicate\"}", "unknown-type"},
      {"{\"v\":1,\"type\":\"created\",\"room\":\"x\"}", "unknown-type"},
      {"{\"v\":1,\"type\":\"join\",\"room\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"name\":\"a\\nb\"}", "bad-field"},
      {"{\"v\":1,\"type\":\"admit\"}", "wrong-state"},
      {"{\"v\":1,\"type\":\"leave\"}", "wrong-state"},
      {"{\"v\":1,\"type\":\"candidate\",\"candidate\":\"\"}", "not-admitted"},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
    tc_send(c, cases[i].text);
    EXPECT_ERR_DROP(c, cases[i].code);
  }
  tc_send_len(c, "{\"v\":1,\0\"type\":\"ping\"}", 23);
  EXPECT_ERR_DROP(c, "bad-json");
  /* still alive and well after all that */
  tc_send(c, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(c, "pong");
  CHECK_EQ_INT(c->state, 1);

  /* oversize (cap 16384 here): answered, connection kept */
  size_t big = 20000;
  char *buf = malloc(big + 1);
  int n = snprintf(buf, big, "{\"v\":1,\"type\":\"ping\",\"pad\":\"");
  memset(buf + n, 'x', big - (size_t)n - 2);
  memcpy(buf + big - 2, "\"}", 2);
  tc_send_len(c, buf, big);
  EXPECT_ERR_DROP(c, "too-big");
  tc_send(c, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(c, "pong");
  free(buf);
  /* far beyond the cap: the connection is closed with 1009 */
  big = 100000;
  buf = malloc(big);
  memset(buf, ' ', big);
  tc_send_len(c, buf, big);
  PUMP_UNTIL(c->state == 2);
  CHECK_EQ_INT(c->state, 2);
  CHECK_EQ_INT(c->close_code, 1009);
  free(buf);
  tc_close(c);

  /* only /ws upgrades */
  c = tc_open(srv_a.port, "/elsewhere");
  CHECK_EQ_INT(c->state, 2);
  tc_close(c);
}

/* A WebSocket client on a bare TLS socket with a tiny receive buffer, that
 * never reads after its handshake: the slow client. */
struct raw {
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
};

static bool raw_open(struct raw *r, uint16_t port) {
  memset(r, 0, sizeof *r);
  r->fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(r->fd, (struct sockaddr *)&a, sizeof a) != 0) return false;
  r->ctx = SSL_CTX_new(TLS_client_method());
  r->ssl = SSL_new(r->ctx);
  SSL_set_fd(r->ssl, r->fd);
  if (SSL_connect(r->ssl) != 1) return false;
  const char req[] = "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (SSL_write(r->ssl, req, (int)strlen(req)) <= 0) return false;
  char resp[2048];
  size_t got = 0;
  while (got < sizeof resp - 1) {
    int n = SSL_read(r->ssl, resp + got, 1); /* byte by byte: leave the frames after the headers unread */
    if (n <= 0) return false;
    got++;
    resp[got] = '\0';
    if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4)) break;
  }
  return strncmp(resp, "HTTP/1.1 101", 12) == 0;
}

/* RFC 6455 5.2: one masked text frame (client frames must be masked). */
static bool raw_send(struct raw *r, const char *text) {
  size_t len = strlen(text);
  uint8_t frame[16 + 1024];
  if (len > 1024) return false;
  size_t h = 0;
  frame[h++] = 0x81;
  if (len < 126) frame[h++] = (uint8_t)(0x80 | len);
  else {
    frame[h++] = 0x80 | 126;
    frame[h++] = (uint8_t)(len >> 8);
    frame[h++] = (uint8_t)len;
  }
  uint8_t mask[4] = {0x12, 0x34, 0x56, 0x78};
  memcpy(frame + h, mask, 4);
  h += 4;
  for (size_t i = 0; i < len; i++) frame[h + i] = (uint8_t)text[i] ^ mask[i % 4];
  return SSL_write(r->ssl, frame, (int)(h + len)) == (int)(h + len);
}

static void raw_close(struct raw *r) {
  if (r->ssl) SSL_free(r->ssl);
  if (r->ctx) SSL_CTX_free(r->ctx);
  if (r->fd >= 0) close(r->fd);
}

static void test_slow_client(void) {
  char room[64], dsess[64];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  struct raw slow;
  CHECK(raw_open(&slow, srv_a.port));
  char join[200];
  snprintf(join, sizeof join, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Slow\"}", room);
  CHECK(raw_send(&slow, join));
  EXPECT_DROP(d, "knock");
  tc_send(d, "{\"v\":1,\"type\":\"admit\"}");
  EXPECT_DROP(d, "admitted");
  /* 16000-byte offers to a peer that reads nothing: its queue (64 KiB) and
   * socket buffers fill, and the server must cut it off, not stall. */
  size_t len = 16000;
  char *offer = malloc(len + 1);
  int n = snprintf(offer, len, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"v=0");
  memset(offer + n, 'a', len - (size_t)n - 2);
  memcpy(offer + len - 2, "\"}", 3);
  struct tc *other = tc_open(srv_a.port, "/ws");
  bool away = false;
  int sent = 0, pongs = 0;
  for (; sent < 400 && !away; sent++) {
    tc_send(d, offer);
    if (sent % 50 == 49) {
      /* others are served all along */
      tc_send(other, "{\"v\":1,\"type\":\"ping\"}");
      json_t *j = tc_next(other);
      pongs += !strcmp(jstr(j, "type"), "pong");
      json_decref(j);
    }
    pump_ms(1);
    if (d->in_head != d->in_tail) {
      json_t *j = tc_next(d);
      away = !strcmp(jstr(j, "type"), "peer-away");
      json_decref(j);
    }
  }
  /* the server may still be reading what was sent */
  if (!away) {
    json_t *j = tc_next(d);
    away = !strcmp(jstr(j, "type"), "peer-away");
    json_decref(j);
  }
  fprintf(stderr, "slow client: cut off after at most %d offers of %zu bytes; %d pongs to another client meanwhile\n",
          sent, len, pongs);
  CHECK(away);
  if (!away) {
    char *log = read_file(srv_a.log);
    fprintf(stderr, "server log:\n%s\n", log ? log : "");
    free(log);
  }
  CHECK_EQ_INT(pongs, sent / 50);
  tc_send(d, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(d, "pong");
  free(offer);
  raw_close(&slow);
  tc_close(other);
  tc_send(d, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_DROP(d, "ended");
  tc_close(d);
  CHECK(file_contains(srv_a.log, "reason=slow-client"));
}

static void test_rate_limit(void) {
  /* server B: --rate 1 --burst 5 */
  struct tc *c = tc_open(srv_b.port, "/ws");
  for (int i = 0; i < 30; i++) tc_send(c, "{\"v\":1,\"type\":\"ping\"}");
  int pongs = 0, limited = 0, other = 0;
  for (int i = 0; i < 30; i++) {
    json_t *j = tc_next(c);
    if (!strcmp(jstr(j, "type"), "pong")) pongs++;
    else if (!strcmp(jstr(j, "code"), "rate-limited")) limited++;
    else other++;
    json_decref(j);
  }
  fprintf(stderr, "rate limit: %d pongs, %d rate-limited of 30\n", pongs, limited);
  CHECK(pongs >= 5);
  CHECK(limited >= 1);
  CHECK_EQ_INT(pongs + limited, 30);
  CHECK_EQ_INT(other, 0);
  /* another connection from the same address has its own bucket */
  struct tc *c2 = tc_open(srv_b.port, "/ws");
  tc_send(c2, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(c2, "pong");
  tc_close(c2);
  /* and the flooder recovers once it slows down (rate 1/s) */
  pump_ms(1200);
  tc_send(c, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(c, "pong");
  tc_close(c);
  /* a flood that does not stop: 100 drops in a row close the connection (1008) */
  c = tc_open(srv_b.port, "/ws");
  for (int i = 0; i < 130 && c->state == 1; i++) tc_send(c, "{\"v\":1,\"type\":\"ping\"}");
  PUMP_UNTIL(c->state == 2);
  CHECK_EQ_INT(c->state, 2);
  /* The close frame carries 1008, but this client is still writing when the
   * server closes, so the kernel may answer with a reset that swallows it:
   * the server's log says why it closed. */
  CHECK(c->close_code == 1008 || c->close_code == 0);
  CHECK(file_contains(srv_b.log, "closing connection reason=flooding"));
  tc_close(c);
}

static void test_conns_per_ip(void) {
  /* server B: --max-conns-per-ip 4 */
  struct tc *c[5];
  for (int i = 0; i < 4; i++) {
    c[i] = tc_open(srv_b.port, "/ws");
    CHECK_EQ_INT(c[i]->state, 1);
  }
  c[4] = tc_open(srv_b.port, "/ws");
  CHECK_EQ_INT(c[4]->state, 2);
  tc_close(c[4]);
  tc_close(c[0]);
  pump_ms(100);
  c[0] = tc_open(srv_b.port, "/ws");
  CHECK_EQ_INT(c[0]->state, 1);
  tc_send(c[0], "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(c[0], "pong");
  for (int i = 0; i < 4; i++) tc_close(c[i]);
  pump_ms(100);
}

static void test_room_ttl(void) {
  /* server B: --open --room-ttl 1s */
  char room[64], dsess[64];
  struct tc *d = doctor_create(srv_b.port, NULL, room, dsess);
  json_t *j = EXPECT(d, "ended");
  CHECK_STR(jstr(j, "reason"), "expired");
  json_decref(j);
  struct tc *p = tc_open(srv_b.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana\"}", room);
  EXPECT_ERR_DROP(p, "no-room");
  tc_close(p);
  tc_close(d);
}

/* The admitted patient who comes back: with its session it resumes (a
 * reload: fresh, so the doctor starts a new peer connection); without it, it
 * knocks as "returning" and the doctor decides; its grace never runs out
 * while the doctor keeps the room. */
static void test_coming_back(void) {
  char room[64], dsess[64], psess[64];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  struct tc *p = tc_open(srv_a.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana\"}", room);
  json_t *j = EXPECT(p, "waiting");
  mc_strcpy(psess, sizeof psess, jstr(j, "session"));
  json_decref(j);
  j = EXPECT(d, "knock");
  CHECK(json_is_false(json_object_get(j, "returning")));
  json_decref(j);
  tc_send(d, "{\"v\":1,\"type\":\"admit\"}");
  EXPECT_DROP(p, "admitted");
  EXPECT_DROP(d, "admitted");

  /* gone for longer than the grace (2 s on server A): still in the call */
  tc_close(p);
  EXPECT_DROP(d, "peer-away");
  CHECK(tc_quiet(d, 2800));

  /* the same name knocks from a new tab: returning; a stranger: not */
  struct tc *p2 = tc_open(srv_a.port, "/ws");
  tc_sendf(p2, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana\"}", room);
  EXPECT_DROP(p2, "waiting");
  j = EXPECT(d, "knock");
  CHECK_STR(jstr(j, "name"), "Ana");
  CHECK(json_is_true(json_object_get(j, "returning")));
  char back_knock[32];
  mc_strcpy(back_knock, sizeof back_knock, jstr(j, "knock"));
  json_decref(j);
  struct tc *m = tc_open(srv_a.port, "/ws");
  tc_sendf(m, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Mallory\"}", room);
  EXPECT_DROP(m, "waiting");
  j = EXPECT(d, "knock");
  CHECK(json_is_false(json_object_get(j, "returning")));
  json_decref(j);

  /* the reloaded page resumes its session, fresh: the doctor is told */
  p = tc_open(srv_a.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\",\"fresh\":true}", psess);
  j = EXPECT(p, "resumed");
  CHECK_STR(jstr(j, "state"), "admitted");
  CHECK(json_is_true(json_object_get(json_object_get(j, "peer"), "present")));
  json_decref(j);
  j = EXPECT(d, "peer-back");
  CHECK(json_is_true(json_object_get(j, "fresh")));
  json_decref(j);
  tc_send(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"fresh\":1}");
  EXPECT_ERR_DROP(p, "bad-field"); /* fresh is a boolean */
  /* a doctor reconnecting before its new offer learns the patient is fresh */
  struct tc *d2 = tc_open(srv_a.port, "/ws");
  tc_sendf(d2, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", dsess);
  j = EXPECT(d2, "resumed");
  CHECK_STR(jstr(j, "state"), "admitted");
  CHECK(strstr(jstr(j, "link"), room) != NULL);
  CHECK(json_is_true(json_object_get(json_object_get(j, "peer"), "fresh")));
  json_decref(j);
  EXPECT_DROP(d, "ended");
  tc_close(d);
  d = d2;
  /* the two pending knocks are told again to the resumed doctor */
  EXPECT_DROP(d, "knock");
  EXPECT_DROP(d, "knock");
  tc_sendf(d, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", offer_sdp);
  EXPECT_DROP(p, "offer");

  /* the doctor lets the returning knock in: the old place is replaced */
  tc_sendf(d, "{\"v\":1,\"type\":\"admit\",\"knock\":\"%s\"}", back_knock);
  j = EXPECT(p, "ended");
  CHECK_STR(jstr(j, "reason"), "replaced");
  json_decref(j);
  j = EXPECT(d, "peer-left");
  CHECK_STR(jstr(j, "reason"), "replaced");
  json_decref(j);
  j = EXPECT(d, "admitted");
  CHECK_STR(jstr(json_object_get(j, "peer"), "name"), "Ana");
  json_decref(j);
  EXPECT_DROP(p2, "admitted");
  tc_sendf(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", psess);
  EXPECT_ERR_DROP(p, "unknown-session");
  /* Mallory was never let in */
  tc_sendf(m, "{\"v\":1,\"type\":\"answer\",\"sdp\":\"%s\"}", offer_sdp);
  EXPECT_ERR_DROP(m, "not-admitted");
  CHECK(tc_quiet(d, 50) && tc_quiet(p2, 50));

  /* at most four knocks wait at once */
  struct tc *k[4];
  for (int i = 0; i < 4; i++) {
    k[i] = tc_open(srv_a.port, "/ws");
    tc_sendf(k[i], "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"K%d\"}", room, i);
    if (i < 3) {
      EXPECT_DROP(k[i], "waiting");
      EXPECT_DROP(d, "knock");
    }
  }
  EXPECT_ERR_DROP(k[3], "room-full");
  for (int i = 0; i < 4; i++) tc_close(k[i]);
  tc_close(m);
  tc_close(p);
  tc_send(d, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_DROP(p2, "ended");
  tc_close(p2);
  tc_close(d);
}

/* The pre-call check (issue 14): credentials for a few minutes, bound to
 * the room by a tag, at most a few pairs a minute per room; admitted peers
 * still get theirs for turn-ttl (check_ice_servers in test_call_flow). */
static void test_precall_turn(bool coturn_up) {
  char room[64], dsess[64], room2[64], dsess2[64], tag1[32], tag2[32], tag3[32], user1[128];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  struct tc *d2 = doctor_create(srv_a.port, doctor_token, room2, dsess2);
  struct tc *p = tc_open(srv_a.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"ice\",\"room\":\"%s\"}", room);
  json_t *j = EXPECT(p, "ice-servers");
  check_precall_servers(j, room, coturn_up, tag1, sizeof tag1);
  mc_strcpy(user1, sizeof user1, jstr(json_array_get(json_object_get(j, "ice_servers"), 0), "username"));
  json_decref(j);
  /* each check its own pair, the same room the same tag */
  tc_sendf(p, "{\"v\":1,\"type\":\"ice\",\"room\":\"%s\"}", room);
  j = EXPECT(p, "ice-servers");
  check_precall_servers(j, room, false, tag2, sizeof tag2);
  CHECK_STR(tag1, tag2);
  CHECK(strcmp(user1, jstr(json_array_get(json_object_get(j, "ice_servers"), 0), "username")) != 0);
  json_decref(j);
  tc_sendf(p, "{\"v\":1,\"type\":\"ice\",\"room\":\"%s\"}", room2);
  j = EXPECT(p, "ice-servers");
  check_precall_servers(j, room2, false, tag3, sizeof tag3);
  CHECK(strcmp(tag1, tag3) != 0);
  json_decref(j);
  /* a burst of checks on one room, each from another address (the limit
   * is the room's, whoever asks; one per address stays under any limit
   * per address): a few pairs, then rate-limited */
  int served = 2, limited = 0;
  for (int i = 0; i < 6; i++) {
    char src[32];
    snprintf(src, sizeof src, "127.0.0.%d", 20 + i);
    struct tc *q = tc_open_from(srv_a.port, "/ws", src);
    CHECK_EQ_INT(q->state, 1);
    tc_sendf(q, "{\"v\":1,\"type\":\"ice\",\"room\":\"%s\"}", room);
    j = tc_next(q);
    if (!strcmp(jstr(j, "type"), "ice-servers")) served++;
    else if (!strcmp(jstr(j, "code"), "rate-limited") && !strcmp(jstr(j, "ref"), "ice")) limited++;
    json_decref(j);
    tc_close(q);
  }
  fprintf(stderr, "pre-call check: %d of 8 pairs for one room at once, %d refused (rate-limited)\n", served, limited);
  CHECK_EQ_INT(served, 6);
  CHECK_EQ_INT(limited, 2);
  /* another room has its own allowance */
  struct tc *q = tc_open_from(srv_a.port, "/ws", "127.0.0.30");
  tc_sendf(q, "{\"v\":1,\"type\":\"ice\",\"room\":\"%s\"}", room2);
  EXPECT_DROP(q, "ice-servers");
  tc_close(q);
  CHECK(tc_quiet(d, 50) && tc_quiet(d2, 50)); /* the doctors hear nothing of it */
  tc_close(p);
  tc_send(d, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_DROP(d, "ended");
  tc_send(d2, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_DROP(d2, "ended");
  tc_close(d);
  tc_close(d2);
}

static char *join_knock(struct tc *k, const char *room, const char *name) {
  tc_sendf(k, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"%s\"}", room, name);
  json_t *j = EXPECT(k, "waiting");
  char *sess = strdup(jstr(j, "session"));
  json_decref(j);
  return sess;
}

/* A knock whose connection drops holds no place (issue 14): the doctor
 * hears it stopped waiting, another patient may take the place, and the
 * dropped one comes back within its grace only if there is room. */
static void test_knock_away(void) {
  char room[64], dsess[64], ids[5][32];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  struct tc *k[5];
  char *sess[5];
  for (int i = 0; i < 4; i++) {
    char name[8];
    snprintf(name, sizeof name, "K%d", i);
    k[i] = tc_open(srv_a.port, "/ws");
    sess[i] = join_knock(k[i], room, name);
    json_t *j = EXPECT(d, "knock");
    mc_strcpy(ids[i], sizeof ids[i], jstr(j, "knock"));
    json_decref(j);
  }
  /* K0 drops: the doctor is told, and K0 can no longer be admitted */
  tc_close(k[0]);
  json_t *j = EXPECT(d, "peer-left");
  CHECK_STR(jstr(j, "reason"), "away");
  CHECK_STR(jstr(j, "knock"), ids[0]);
  json_decref(j);
  tc_sendf(d, "{\"v\":1,\"type\":\"admit\",\"knock\":\"%s\"}", ids[0]);
  EXPECT_ERR_DROP(d, "wrong-state");
  /* its place is free: a fifth patient knocks */
  k[4] = tc_open(srv_a.port, "/ws");
  sess[4] = join_knock(k[4], room, "K4");
  j = EXPECT(d, "knock");
  mc_strcpy(ids[4], sizeof ids[4], jstr(j, "knock"));
  json_decref(j);
  /* K0 comes back within its grace: four knock, so no room for it yet */
  k[0] = tc_open(srv_a.port, "/ws");
  tc_sendf(k[0], "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", sess[0]);
  EXPECT_ERR_DROP(k[0], "room-full");
  CHECK(tc_quiet(d, 50));
  /* K1 leaves; K0 tries again and is back, with its knock */
  tc_send(k[1], "{\"v\":1,\"type\":\"leave\"}");
  EXPECT_DROP(k[1], "ended");
  j = EXPECT(d, "peer-left");
  CHECK_STR(jstr(j, "knock"), ids[1]);
  CHECK_STR(jstr(j, "reason"), "left");
  json_decref(j);
  tc_sendf(k[0], "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", sess[0]);
  j = EXPECT(k[0], "resumed");
  CHECK_STR(jstr(j, "state"), "waiting");
  json_decref(j);
  j = EXPECT(d, "knock");
  CHECK_STR(jstr(j, "knock"), ids[0]);
  CHECK_STR(jstr(j, "name"), "K0");
  json_decref(j);
  /* the doctor, resuming, is told the four that knock now */
  struct tc *d2 = tc_open(srv_a.port, "/ws");
  tc_sendf(d2, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", dsess);
  j = EXPECT(d2, "resumed");
  CHECK_STR(jstr(j, "state"), "waiting");
  json_decref(j);
  EXPECT_DROP(d, "ended");
  tc_close(d);
  d = d2;
  int told = 0;
  for (int i = 0; i < 4; i++) {
    j = EXPECT(d, "knock");
    told += strcmp(jstr(j, "knock"), ids[1]) != 0;
    json_decref(j);
  }
  CHECK_EQ_INT(told, 4);
  CHECK(tc_quiet(d, 50));
  tc_sendf(d, "{\"v\":1,\"type\":\"admit\",\"knock\":\"%s\"}", ids[0]);
  EXPECT_DROP(k[0], "admitted");
  EXPECT_DROP(d, "admitted");
  tc_send(d, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_DROP(d, "ended");
  for (int i = 0; i < 5; i++) {
    tc_close(k[i]);
    free(sess[i]);
  }
  tc_close(d);
}

/* The flood of issue 14: a link holder joins and drops (or leaves) in a
 * loop for 5 s. The doctor hears a bounded number of knocks, and a genuine
 * patient who knocks afterwards reaches the doctor. */
static void test_knock_flood(void) {
  char room[64], dsess[64];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  int joins = 0, waiting = 0, full = 0, limited = 0, knocks = 0;
  uint64_t until = mc_now_ms() + 5000;
  while (mc_now_ms() < until) {
    struct tc *f = tc_open(srv_a.port, "/ws");
    tc_sendf(f, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Flood\"}", room);
    joins++;
    json_t *j = tc_next(f);
    if (!strcmp(jstr(j, "type"), "waiting")) {
      waiting++;
      if (joins % 2) { /* half drop, half leave first */
        tc_send(f, "{\"v\":1,\"type\":\"leave\"}");
        json_decref(tc_next(f));
      }
    } else if (!strcmp(jstr(j, "code"), "room-full")) full++;
    else if (!strcmp(jstr(j, "code"), "rate-limited")) limited++;
    json_decref(j);
    tc_close(f);
    while (d->in_head != d->in_tail) {
      j = tc_next(d);
      knocks += !strcmp(jstr(j, "type"), "knock");
      json_decref(j);
    }
  }
  pump_ms(100);
  while (d->in_head != d->in_tail) {
    json_t *j = tc_next(d);
    knocks += !strcmp(jstr(j, "type"), "knock");
    json_decref(j);
  }
  fprintf(stderr, "knock flood: %d joins in 5 s: %d waiting, %d room-full, %d rate-limited; the doctor got %d knocks\n",
          joins, waiting, full, limited, knocks);
  CHECK(knocks <= 9);
  /* a genuine patient afterwards: never room-full; a rate-limited knock
   * is tried again while the room's allowance comes back */
  struct tc *g = tc_open(srv_a.port, "/ws");
  bool in = false, refused_full = false;
  for (int i = 0; i < 12 && !in && !refused_full; i++) {
    tc_sendf(g, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Genuine\"}", room);
    json_t *j = tc_next(g);
    in = !strcmp(jstr(j, "type"), "waiting");
    refused_full = !strcmp(jstr(j, "code"), "room-full");
    json_decref(j);
    if (!in) pump_ms(500);
  }
  CHECK(in);
  CHECK(!refused_full);
  bool told = false;
  for (int i = 0; i < 20 && !told; i++) {
    json_t *j = tc_next(d);
    told = !strcmp(jstr(j, "type"), "knock") && !strcmp(jstr(j, "name"), "Genuine");
    bool none = json_is_null(j);
    json_decref(j);
    if (none) break;
  }
  CHECK(told);
  tc_send(d, "{\"v\":1,\"type\":\"end\"}");
  tc_close(g);
  tc_close(d);
}

/* A doctor takes its room back from another machine with the doctor
 * token; without the token, or on an open server, nobody can. */
static void test_reclaim(void) {
  char room[64], dsess[64];
  struct tc *d = doctor_create(srv_a.port, doctor_token, room, dsess);
  struct tc *o = tc_open(srv_a.port, "/ws");
  tc_sendf(o, "{\"v\":1,\"type\":\"create\",\"token\":\"wrong\",\"room\":\"%s\"}", room);
  EXPECT_ERR_DROP(o, "unauthorized");
  tc_sendf(o, "{\"v\":1,\"type\":\"create\",\"token\":\"%s\",\"room\":\"AAAAAAAAAAAAAAAAAAAAAA\"}", doctor_token);
  EXPECT_ERR_DROP(o, "no-room");
  tc_sendf(o, "{\"v\":1,\"type\":\"create\",\"token\":\"%s\",\"room\":\"%s\"}", doctor_token, room);
  json_t *j = EXPECT(o, "resumed");
  CHECK_STR(jstr(j, "role"), "doctor");
  CHECK_STR(jstr(j, "session"), dsess);
  CHECK_STR(jstr(j, "state"), "open");
  json_decref(j);
  j = EXPECT(d, "ended");
  CHECK_STR(jstr(j, "reason"), "resumed-elsewhere");
  json_decref(j);
  tc_send(o, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_DROP(o, "ended");
  tc_close(o);
  tc_close(d);
  /* server B is open: a room id alone takes nothing */
  d = doctor_create(srv_b.port, NULL, room, dsess);
  o = tc_open(srv_b.port, "/ws");
  tc_sendf(o, "{\"v\":1,\"type\":\"create\",\"room\":\"%s\"}", room);
  EXPECT_ERR_DROP(o, "unauthorized");
  tc_close(o);
  tc_close(d);
}

/* SIGTERM: goaway to every client, the rooms kept in the state directory;
 * the next run takes them over and everyone resumes; nobody is told that
 * anyone left. A snapshot older than the grace period is not used. */
static void test_restart(void) {
  static struct test_proc srv_d;
  char state[200];
  snprintf(state, sizeof state, "%s/state-d", tmpdir);
  const char *args[] = {"--open", "--grace", "3s", "--state-dir", state, NULL};
  CHECK(start_server(&srv_d, "d", args));
  uint16_t port = srv_d.port;
  char room[64], dsess[64], psess[64];
  struct tc *d = doctor_create(port, NULL, room, dsess);
  struct tc *p = tc_open(port, "/ws");
  struct tc *w = tc_open(port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana\"}", room);
  json_t *j = EXPECT(p, "waiting");
  mc_strcpy(psess, sizeof psess, jstr(j, "session"));
  json_decref(j);
  EXPECT_DROP(d, "knock");
  tc_send(d, "{\"v\":1,\"type\":\"admit\"}");
  EXPECT_DROP(p, "admitted");
  EXPECT_DROP(d, "admitted");
  tc_sendf(w, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Bea\"}", room);
  j = EXPECT(w, "waiting");
  char wsess[64];
  mc_strcpy(wsess, sizeof wsess, jstr(j, "session"));
  json_decref(j);
  EXPECT_DROP(d, "knock");

  kill(srv_d.pid, SIGTERM);
  struct tc *all[] = {d, p, w};
  for (size_t i = 0; i < MC_ARRAY_LEN(all); i++) {
    j = EXPECT(all[i], "goaway");
    CHECK(json_integer_value(json_object_get(j, "retry_ms")) > 0);
    json_decref(j);
  }
  /* while draining nobody hears that anyone went away */
  tc_close(p);
  CHECK(tc_quiet(d, 300));
  struct tc *late = tc_open(port, "/ws");
  CHECK(late->state == 2); /* no new WebSocket while draining */
  tc_close(late);
  CHECK_EQ_INT(proc_wait_exit(&srv_d, 1000), -1); /* two clients are still there */
  tc_close(d);
  tc_close(w);
  CHECK_EQ_INT(proc_wait_exit(&srv_d, 3000), 0);
  CHECK(file_contains(srv_d.log, "drained"));
  char snap[300];
  snprintf(snap, sizeof snap, "%s/rooms-%u.json", state, port);
  struct stat st;
  CHECK(stat(snap, &st) == 0 && (st.st_mode & 0777) == 0600);

  /* started again: the room, the call and the knock are there */
  srv_d.port = port;
  const char *argv[] = {server_bin, "--listen", NULL, "--state-dir", state, "--web-root", web_root, "--open",
                        "--grace", "3s", NULL};
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
  argv[2] = listen;
  CHECK(proc_spawn(&srv_d, argv));
  CHECK(file_contains(srv_d.log, "1 room taken over"));
  d = tc_open(port, "/ws");
  tc_sendf(d, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", dsess);
  j = EXPECT(d, "resumed");
  CHECK_STR(jstr(j, "state"), "admitted");
  CHECK(json_is_false(json_object_get(json_object_get(j, "peer"), "present")));
  json_decref(j);
  EXPECT_DROP(d, "knock"); /* Bea still waits */
  p = tc_open(port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", psess);
  j = EXPECT(p, "resumed");
  CHECK_STR(jstr(j, "state"), "admitted");
  CHECK(json_is_true(json_object_get(json_object_get(j, "peer"), "present")));
  json_decref(j);
  EXPECT_DROP(d, "peer-back");
  tc_sendf(d, "{\"v\":1,\"type\":\"offer\",\"sdp\":\"%s\"}", offer_sdp);
  EXPECT_DROP(p, "offer");
  /* Bea did not come back within her grace: the doctor hears so */
  j = EXPECT(d, "peer-left");
  CHECK_STR(jstr(j, "reason"), "timeout");
  json_decref(j);
  w = tc_open(port, "/ws");
  tc_sendf(w, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", wsess);
  EXPECT_ERR_DROP(w, "unknown-session");
  tc_close(w);
  tc_close(d);
  tc_close(p);

  /* down for longer than the grace: the snapshot is the past */
  CHECK_EQ_INT(proc_stop(&srv_d, STOP_GRACE_MS), 0);
  sleep(4);
  CHECK(proc_spawn(&srv_d, argv));
  CHECK(!file_contains(srv_d.log, "taken over"));
  p = tc_open(port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"resume\",\"session\":\"%s\"}", psess);
  EXPECT_ERR_DROP(p, "unknown-session");
  tc_close(p);
  /* a second SIGTERM does not wait for the drain */
  struct tc *stay = tc_open(port, "/ws");
  kill(srv_d.pid, SIGTERM);
  EXPECT_DROP(stay, "goaway");
  kill(srv_d.pid, SIGTERM);
  CHECK_EQ_INT(proc_wait_exit(&srv_d, 2000), 0);
  tc_close(stay);
}

/* The SHA-256 fingerprint ("AB:CD:...") of the certificate a new TLS
 * connection to port is shown; "" when none. */
static void served_fingerprint(uint16_t port, char out[100]) {
  out[0] = '\0';
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SSL *ssl = NULL;
  if (ctx && fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      X509 *x = SSL_get1_peer_certificate(ssl);
      unsigned char md[32];
      unsigned n = 0;
      if (x && X509_digest(x, EVP_sha256(), md, &n) && n == 32)
        for (unsigned i = 0; i < n; i++) snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
      X509_free(x);
    }
  }
  if (ssl) SSL_free(ssl);
  if (fd >= 0) close(fd);
  SSL_CTX_free(ctx);
}

static void make_cert(const char *dir, char fp[100]) {
  struct mc_server_config c;
  mc_server_config_init(&c);
  c.state_dir = strdup(dir);
  char cert[300], key[300];
  bool gen = false;
  CHECK_EQ_INT(mc_server_cert_ensure(&c, cert, sizeof cert, key, sizeof key, fp, 100, &gen), 0);
  mc_server_config_free(&c);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static int created_grace(uint16_t port) {
  char room[64], sess[64];
  struct tc *d = doctor_create(port, NULL, room, sess);
  tc_send(d, "{\"v\":1,\"type\":\"end\"}");
  EXPECT_DROP(d, "ended");
  tc_send(d, "{\"v\":1,\"type\":\"create\"}");
  json_t *j = EXPECT(d, "created");
  int grace = (int)json_integer_value(json_object_get(j, "grace"));
  json_decref(j);
  tc_close(d);
  return grace;
}

/* SIGHUP: the config file and the certificate again, connections kept; a
 * refused config or a key that does not fit changes nothing. */
static void test_sighup(void) {
  char dir_a[200], dir_b[200], dir_e[200], fp_a[100], fp_b[100], conf[300], cmd[1200], got[100];
  snprintf(dir_a, sizeof dir_a, "%s/cert-a", tmpdir);
  snprintf(dir_b, sizeof dir_b, "%s/cert-b", tmpdir);
  snprintf(dir_e, sizeof dir_e, "%s/e", tmpdir);
  make_cert(dir_a, fp_a);
  make_cert(dir_b, fp_b);
  CHECK(strcmp(fp_a, fp_b) != 0);
  mkdir(dir_e, 0700);
  snprintf(cmd, sizeof cmd, "cp '%s/cert.pem' '%s/key.pem' '%s/'", dir_a, dir_a, dir_e);
  CHECK_EQ_INT(system(cmd), 0);
  snprintf(conf, sizeof conf, "%s/e.conf", tmpdir);
  char text[1000];
  snprintf(text, sizeof text, "open\ngrace = 2s\ncert = %s/cert.pem\nkey = %s/key.pem\n", dir_e, dir_e);
  write_text(conf, text);
  struct test_proc e = {0};
  const char *args[] = {"--config", conf, NULL};
  CHECK(start_server(&e, "e", args));
  served_fingerprint(e.port, got);
  CHECK_STR(got, fp_a);
  CHECK_EQ_INT(created_grace(e.port), 2);
  struct tc *held = tc_open(e.port, "/ws");

  /* a new certificate and a new grace */
  snprintf(text, sizeof text, "open\ngrace = 7s\ncert = %s/cert.pem\nkey = %s/key.pem\n", dir_e, dir_e);
  write_text(conf, text);
  snprintf(cmd, sizeof cmd, "cp '%s/cert.pem' '%s/key.pem' '%s/'", dir_b, dir_b, dir_e);
  CHECK_EQ_INT(system(cmd), 0);
  kill(e.pid, SIGHUP);
  for (int i = 0; i < 100 && !file_contains(e.log, "reloaded"); i++) usleep(20000);
  CHECK(file_contains(e.log, "reloaded"));
  served_fingerprint(e.port, got);
  CHECK_STR(got, fp_b);
  CHECK_EQ_INT(created_grace(e.port), 7);
  tc_send(held, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(held, "pong"); /* the connection made before is still served */

  /* a config that does not parse is refused as a whole */
  write_text(conf, "open\ngrace = soon\n");
  kill(e.pid, SIGHUP);
  for (int i = 0; i < 100 && !file_contains(e.log, "reload refused"); i++) usleep(20000);
  CHECK(file_contains(e.log, "reload refused"));
  CHECK_EQ_INT(created_grace(e.port), 7);
  /* a key that does not fit its certificate leaves the old pair */
  snprintf(text, sizeof text, "open\ngrace = 7s\ncert = %s/cert.pem\nkey = %s/key.pem\n", dir_a, dir_b);
  write_text(conf, text);
  kill(e.pid, SIGHUP);
  for (int i = 0; i < 100 && !file_contains(e.log, "could not be loaded"); i++) usleep(20000);
  CHECK(file_contains(e.log, "could not be loaded"));
  served_fingerprint(e.port, got);
  CHECK_STR(got, fp_b);
  tc_send(held, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(held, "pong");
  tc_close(held);
  CHECK_EQ_INT(proc_stop(&e, STOP_GRACE_MS), 0);
}

/* A WebSocket client by hand (RFC 6455 4.1), so that it can do what lws's
 * client never does: leave the server's pings unanswered. */
struct raw_ws {
  SSL_CTX *ctx;
  SSL *ssl;
  int fd;
  uint8_t buf[4096];
  size_t len;
};

static bool raw_ws_open(struct raw_ws *w, uint16_t port) {
  memset(w, 0, sizeof *w);
  w->fd = socket(AF_INET, SOCK_STREAM, 0);
  w->ctx = SSL_CTX_new(TLS_client_method());
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!w->ctx || w->fd < 0 || connect(w->fd, (struct sockaddr *)&a, sizeof a) != 0) return false;
  w->ssl = SSL_new(w->ctx);
  SSL_set_fd(w->ssl, w->fd);
  if (SSL_connect(w->ssl) != 1) return false;
  /* The key and accept value of RFC 6455 1.3's example. */
  char req[512];
  int n = snprintf(req, sizeof req,
                   "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   port);
  if (SSL_write(w->ssl, req, n) != n) return false;
  char resp[2048];
  size_t got = 0;
  resp[0] = '\0';
  while (!strstr(resp, "\r\n\r\n") && got + 1 < sizeof resp) {
    int r = SSL_read(w->ssl, resp + got, 1); /* byte by byte: nothing past the headers is consumed */
    if (r <= 0) return false;
    resp[++got] = '\0';
  }
  fcntl(w->fd, F_SETFL, fcntl(w->fd, F_GETFL) | O_NONBLOCK);
  return !strncmp(resp, "HTTP/1.1 101", 12) && strstr(resp, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

/* Reads what is there; false once the server closed the connection. */
static bool raw_ws_pull(struct raw_ws *w) {
  for (;;) {
    if (w->len == sizeof w->buf) return true;
    int r = SSL_read(w->ssl, w->buf + w->len, (int)(sizeof w->buf - w->len));
    if (r > 0) {
      w->len += (size_t)r;
      continue;
    }
    int e = SSL_get_error(w->ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
  }
}

/* Takes the next whole frame from the server (unmasked, short payloads
 * only: pings and closes). Returns its opcode, or -1 when none is whole. */
static int raw_ws_frame(struct raw_ws *w, uint8_t *payload, size_t *plen) {
  if (w->len < 2 || (w->buf[1] & 0x80) || (w->buf[1] & 0x7f) > 125) return -1;
  size_t n = w->buf[1] & 0x7f;
  if (w->len < 2 + n) return -1;
  int op = w->buf[0] & 0x0f;
  memcpy(payload, w->buf + 2, n);
  *plen = n;
  memmove(w->buf, w->buf + 2 + n, w->len - 2 - n);
  w->len -= 2 + n;
  return op;
}

static void raw_ws_free(struct raw_ws *w) {
  if (w->ssl) SSL_free(w->ssl);
  if (w->fd >= 0) close(w->fd);
  SSL_CTX_free(w->ctx);
}

/* Server C: --idle-ping 1s --idle-timeout 3s. A client that never answers
 * pings is pinged, then disconnected; one whose lws answers them stays. */
static void test_idle(void) {
  static struct test_proc srv_c;
  const char *args[] = {"--open", "--idle-ping", "1s", "--idle-timeout", "3s", NULL};
  bool up = start_server(&srv_c, "c", args);
  CHECK(up);
  if (!up) return;
  struct tc *live = tc_open(srv_c.port, "/ws");
  CHECK_EQ_INT(live->state, 1);
  struct raw_ws w;
  bool opened = raw_ws_open(&w, srv_c.port);
  CHECK(opened);
  int pings = 0, other = 0;
  bool open = opened;
  /* Bounded only so a broken server cannot hang the test. */
  uint64_t until = mc_now_ms() + 4 * WAIT_MS;
  while (open && mc_now_ms() < until) {
    lws_service(cctx, 0); /* the live client keeps answering */
    open = raw_ws_pull(&w);
    uint8_t pl[128];
    size_t n;
    int op;
    while ((op = raw_ws_frame(&w, pl, &n)) >= 0) {
      /* Pings carry data: lws 4.1 passes only non-empty pongs up. */
      if (op == 0x9 && n > 0) pings++;
      else if (op != 0x8) other++; /* a close frame may come first, or not */
    }
  }
  CHECK(!open);                    /* the server hung up on the silent one */
  CHECK(pings >= 1);               /* after pinging it first */
  CHECK_EQ_INT(other, 0);
  raw_ws_free(&w);
  CHECK(file_contains(srv_c.log, "reason=idle-timeout"));
  /* The live one, silent itself but for pongs, outlives another timeout. */
  pump_ms(3500);
  CHECK_EQ_INT(live->state, 1);
  tc_send(live, "{\"v\":1,\"type\":\"ping\"}");
  EXPECT_DROP(live, "pong");
  tc_close(live);
  CHECK_EQ_INT(proc_stop(&srv_c, STOP_GRACE_MS), 0);
}

/* --help explains every option; a bad option is one sentence and status 2. */
static void test_cli(void) {
  char cmd[600], out[300];
  snprintf(out, sizeof out, "%s/help.txt", tmpdir);
  snprintf(cmd, sizeof cmd, "'%s' --help > '%s' 2>&1", server_bin, out);
  CHECK_EQ_INT(system(cmd), 0);
  const char *names[] = {"--listen", "--cert", "--key", "--state-dir", "--web-root", "--public-url", "--doctor-token",
                         "--open", "--room-ttl", "--grace", "--turn-url", "--turn-secret", "--turn-ttl", "--turn-user",
                         "--turn-password", "--max-message", "--rate", "--burst", "--ip-rate", "--ip-burst",
                         "--max-conns-per-ip", "--max-conns", "--max-rooms", "--max-queue", "--config", "--help"};
  for (size_t i = 0; i < MC_ARRAY_LEN(names); i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "  %s ", names[i]);
    check_count++;
    if (!file_contains(out, needle)) {
      check_failures++;
      fprintf(stderr, "--help does not explain %s\n", names[i]);
    }
  }
  snprintf(cmd, sizeof cmd, "'%s' --open --grace soon > '%s' 2>&1", server_bin, out);
  int st = system(cmd);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
  CHECK(file_contains(out, "--grace wants a duration"));
}

/* A given certificate is used as is, and --public-url makes the links. */
static void test_given_cert(void) {
  struct test_proc c = {0};
  char certp[300], keyp[300];
  snprintf(certp, sizeof certp, "%s/state/cert.pem", tmpdir);
  snprintf(keyp, sizeof keyp, "%s/state/key.pem", tmpdir);
  const char *args[] = {"--open", "--cert", certp, "--key", keyp, "--public-url", "https://call.example:9443/",
                        "--turn-url", "turns:turn.example:5349", "--turn-user", "static-user", "--turn-password",
                        "static-pass-123", "--ip-rate", "1", "--ip-burst", "6", NULL};
  CHECK(start_server(&c, "c", args));
  char expect[400];
  snprintf(expect, sizeof expect, "using certificate %s", certp);
  CHECK(file_contains(c.log, expect));
  char room[64], sess[64];
  struct tc *d = tc_open(c.port, "/ws");
  tc_send(d, "{\"v\":1,\"type\":\"create\"}");
  json_t *j = EXPECT(d, "created");
  mc_strcpy(room, sizeof room, jstr(j, "room"));
  mc_strcpy(sess, sizeof sess, jstr(j, "session"));
  char link[200];
  snprintf(link, sizeof link, "https://call.example:9443/r/%s", room);
  CHECK_STR(jstr(j, "link"), link);
  json_decref(j);
  /* static TURN credentials are never handed to a link holder before the
   * doctor admits it (they do not expire): the pre-call check learns only
   * the URLs */
  struct tc *p = tc_open(c.port, "/ws");
  tc_sendf(p, "{\"v\":1,\"type\":\"ice\",\"room\":\"%s\"}", room);
  j = EXPECT(p, "ice-servers");
  json_t *s0 = json_array_get(json_object_get(j, "ice_servers"), 0);
  const char *url0 = json_string_value(json_array_get(json_object_get(s0, "urls"), 0));
  CHECK(url0 && !strcmp(url0, "turns:turn.example:5349"));
  CHECK(!json_object_get(s0, "username") && !json_object_get(s0, "credential"));
  json_decref(j);
  /* ...and the admitted patient gets them as configured */
  tc_sendf(p, "{\"v\":1,\"type\":\"join\",\"room\":\"%s\",\"name\":\"Ana\"}", room);
  EXPECT_DROP(p, "waiting");
  EXPECT_DROP(d, "knock");
  tc_send(d, "{\"v\":1,\"type\":\"admit\"}");
  EXPECT_DROP(d, "admitted");
  j = EXPECT(p, "admitted");
  s0 = json_array_get(json_object_get(j, "ice_servers"), 0);
  CHECK_STR(jstr(s0, "username"), "static-user");
  CHECK_STR(jstr(s0, "credential"), "static-pass-123");
  json_decref(j);
  /* the per-address bucket (6, 1/s) is shared by this address's connections:
   * 4 messages spent above, 2 more here, then a new connection is limited too */
  for (int i = 0; i < 2; i++) {
    tc_send(d, "{\"v\":1,\"type\":\"ping\"}");
    EXPECT_DROP(d, "pong");
  }
  struct tc *e = tc_open(c.port, "/ws");
  for (int i = 0; i < 5; i++) tc_send(e, "{\"v\":1,\"type\":\"ping\"}");
  int limited = 0;
  for (int i = 0; i < 5; i++) {
    j = tc_next(e);
    limited += !strcmp(jstr(j, "code"), "rate-limited");
    json_decref(j);
  }
  CHECK(limited >= 1);
  tc_close(e);
  tc_close(p);
  tc_close(d);
  CHECK_EQ_INT(proc_stop(&c, STOP_GRACE_MS), 0);
  CHECK(!file_contains(c.log, "static-pass-123"));
}

static void check_no_secrets(const char *log) {
  CHECK(!file_contains(log, doctor_token));
  CHECK(!file_contains(log, turn_secret));
  CHECK(!issued_password[0] || !file_contains(log, issued_password));
}

static char *fingerprint_in(const char *log) {
  char *s = read_file(log);
  char *fp = s ? strstr(s, "fingerprint ") : NULL;
  char *out = NULL;
  if (fp) out = strndup(fp + 12, 95);
  free(s);
  return out;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MEDCALL_SERVER WEB_ROOT\n", argv[0]);
    return 2;
  }
  server_bin = argv[1];
  web_root = argv[2];
  signal(SIGPIPE, SIG_IGN);
  snprintf(tmpdir, sizeof tmpdir, "/tmp/medcall-server-test-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  atexit(kill_all);
  signal(SIGINT, on_fatal);
  signal(SIGTERM, on_fatal);
  signal(SIGABRT, on_fatal);
  signal(SIGSEGV, on_fatal);
  setenv("MEDCALL_LOG", "info", 1);

  test_turn_rest_vector();
  test_config();
  test_web_resolve();

  bool coturn_up = start_coturn();
  CHECK(coturn_up);

  /* Server A: doctor token and TURN secret from a config file (so neither is
   * on a command line), grace 2 s, 16 KiB messages, 64 KiB queues, generous rates (the rate
   * limits are tested on server B). */
  char conf[256];
  snprintf(conf, sizeof conf, "%s/a.conf", tmpdir);
  FILE *f = fopen(conf, "w");
  fprintf(f, "doctor-token = %s\nturn-secret = %s\nturn-url = turn:127.0.0.1:%u?transport=udp\nturn-ttl = 1h\n"
             "grace = 2s\nmax-message = 16384\nmax-queue = 65536\nrate = 500\nburst = 1000\n"
             "ip-rate = 2000\nip-burst = 4000\n",
          doctor_token, turn_secret, coturn.port);
  fclose(f);
  const char *a_args[] = {"--config", conf, NULL};
  bool a_up = start_server(&srv_a, "a", a_args);
  CHECK(a_up);
  const char *b_args[] = {"--open", "--rate", "1", "--burst", "5", "--room-ttl", "1s", "--grace", "1s", "--max-conns-per-ip", "4", NULL};
  bool b_up = start_server(&srv_b, "b", b_args);
  CHECK(b_up);

  /* the first start made the certificate; the second reused it */
  char *fpa = fingerprint_in(srv_a.log), *fpb = fingerprint_in(srv_b.log);
  CHECK(fpa && fpb && !strcmp(fpa, fpb) && strlen(fpa) == 95);
  CHECK(file_contains(srv_a.log, "created self-signed") != file_contains(srv_b.log, "created self-signed"));
  char certp[300], keyp[300], fp[100];
  snprintf(certp, sizeof certp, "%s/state/cert.pem", tmpdir);
  snprintf(keyp, sizeof keyp, "%s/state/key.pem", tmpdir);
  CHECK_EQ_INT(mc_server_cert_fingerprint(certp, fp, sizeof fp), 0);
  CHECK(fpa && !strcmp(fp, fpa));
  struct stat st;
  CHECK(stat(keyp, &st) == 0 && (st.st_mode & 0777) == 0600);
  free(fpa);
  free(fpb);

  client_init();
  test_cli();
  test_given_cert();
  if (a_up) {
    test_http();
    test_create_auth();
    test_call_flow(coturn_up);
    test_decline_and_leave();
    test_coming_back();
    test_reclaim();
    test_precall_turn(coturn_up);
    test_knock_away();
    test_knock_flood();
    test_malformed();
    test_slow_client();
  }
  if (b_up) {
    test_rate_limit();
    test_conns_per_ip();
    test_room_ttl();
  }
  test_restart();
  test_sighup();
  test_idle();
  lws_sul_cancel(&waker);
  lws_context_destroy(cctx);
  if (a_up) {
    CHECK_EQ_INT(proc_stop(&srv_a, STOP_GRACE_MS), 0);
    check_no_secrets(srv_a.log);
    CHECK(file_contains(srv_a.log, "room created"));
  }
  proc_stop(&coturn, STOP_GRACE_MS);
  return CHECK_DONE();
}
