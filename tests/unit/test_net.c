/* net layer: addresses, interfaces, UDP, TCP and TLS streams, resolution.
 * All traffic stays on loopback. */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "ipv6.h"
#include "netns.h"
#include "net/net.h"

/* Runs the loop until *flag or the guard fires (a hang guard, not a timing
 * assertion: every expectation is checked on the outcome). */
static void on_guard(uv_timer_t *t) { *(bool *)t->data = true; }

static bool run_until(uv_loop_t *loop, const bool *flag) {
  bool expired = false;
  uv_timer_t guard;
  uv_timer_init(loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, on_guard, 20000, 0);
  while (!*flag && !expired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  if (expired) fprintf(stderr, "run_until: guard expired\n");
  return *flag;
}

/* Lets every pending close and zero-delay timer run. */
static void drain(uv_loop_t *loop) {
  for (int i = 0; i < 10; i++) uv_run(loop, UV_RUN_NOWAIT);
}

/* ---------------- addresses ---------------- */

static void roundtrip(const char *text) {
  mc_addr a, b;
  char buf[MC_ADDR_STRLEN];
  CHECK_EQ_INT(mc_addr_parse_hostport(text, &a), 0);
  CHECK_STR(mc_addr_str(&a, buf), text);
  CHECK_EQ_INT(mc_addr_parse_hostport(buf, &b), 0);
  CHECK(mc_addr_equal(&a, &b));
}

static void test_addr(void) {
  mc_addr a, b;
  char buf[MC_ADDR_STRLEN];

  CHECK_EQ_INT(mc_addr_parse("192.0.2.7", 3478, &a), 0);
  CHECK_EQ_INT(mc_addr_family(&a), AF_INET);
  CHECK_EQ_INT(mc_addr_port(&a), 3478);
  CHECK_EQ_INT(mc_addr_len(&a), sizeof(struct sockaddr_in));
  CHECK_STR(mc_addr_str(&a, buf), "192.0.2.7:3478");
  CHECK_STR(mc_addr_ip_str(&a, buf), "192.0.2.7");

  CHECK_EQ_INT(mc_addr_parse("2001:db8::1", 443, &a), 0);
  CHECK_EQ_INT(mc_addr_family(&a), AF_INET6);
  CHECK_EQ_INT(mc_addr_len(&a), sizeof(struct sockaddr_in6));
  CHECK_STR(mc_addr_str(&a, buf), "[2001:db8::1]:443");
  CHECK_STR(mc_addr_ip_str(&a, buf), "2001:db8::1");
  CHECK_EQ_INT(mc_addr_parse("[2001:db8::1]", 443, &b), 0);
  CHECK(mc_addr_equal(&a, &b));
  CHECK_EQ_INT(mc_addr_parse("fe80::1%7", 1, &a), 0);
  CHECK_EQ_INT(a.u.in6.sin6_scope_id, 7);
  CHECK_STR(mc_addr_ip_str(&a, buf), "fe80::1%7");
  CHECK_EQ_INT(mc_addr_parse("fe80::1%lo", 1, &a), 0);
  CHECK(a.u.in6.sin6_scope_id != 0);
  CHECK(mc_addr_is_link_local(&a));

  roundtrip("1.2.3.4:5");
  roundtrip("0.0.0.0:0");
  roundtrip("255.255.255.255:65535");
  roundtrip("[::1]:9");
  roundtrip("[2001:db8:85a3::8a2e:370:7334]:3478");
  roundtrip("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  roundtrip("[::ffff:192.0.2.1]:80");
  roundtrip("[fe80::1%3]:5000");

  const char *bad_ip[] = {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "::g", "[::1", "::1]", "[]", "abc",
                          "1.2.3.4 ", " 1.2.3.4", "fe80::1%", "fe80::1%nosuchif0", "1:2:3:4:5:6:7:8:9"};
  for (size_t i = 0; i < MC_ARRAY_LEN(bad_ip); i++) {
    int rc = mc_addr_parse(bad_ip[i], 1, &a);
    if (rc != MC_EINVAL) fprintf(stderr, "accepted bad ip '%s'\n", bad_ip[i]);
    CHECK_EQ_INT(rc, MC_EINVAL);
  }
  const char *bad_hp[] = {"1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:-1", "1.2.3.4:8x", "2001:db8::1:80",
                          "[2001:db8::1]", "[2001:db8::1]80", "[::1]:", ":80", "[::1]:99999", "host:80", ""};
  for (size_t i = 0; i < MC_ARRAY_LEN(bad_hp); i++) {
    int rc = mc_addr_parse_hostport(bad_hp[i], &a);
    if (rc != MC_EINVAL) fprintf(stderr, "accepted bad hostport '%s'\n", bad_hp[i]);
    CHECK_EQ_INT(rc, MC_EINVAL);
  }
  CHECK_EQ_INT(mc_addr_parse(NULL, 1, &a), MC_EINVAL);

  /* equality: port matters for equal, not for ip_equal; family always */
  CHECK_EQ_INT(mc_addr_parse("10.0.0.1", 1, &a), 0);
  CHECK_EQ_INT(mc_addr_parse("10.0.0.1", 2, &b), 0);
  CHECK(!mc_addr_equal(&a, &b));
  CHECK(mc_addr_ip_equal(&a, &b));
  mc_addr_set_port(&b, 1);
  CHECK(mc_addr_equal(&a, &b));
  CHECK_EQ_INT(mc_addr_parse("::ffff:10.0.0.1", 1, &b), 0);
  CHECK(!mc_addr_ip_equal(&a, &b));
  CHECK_EQ_INT(mc_addr_parse("10.0.0.2", 1, &b), 0);
  CHECK(!mc_addr_ip_equal(&a, &b));

  /* predicates */
  struct { const char *ip; bool loop, ll, any; } preds[] = {
      {"127.0.0.1", true, false, false},   {"127.255.0.9", true, false, false}, {"::1", true, false, false},
      {"::ffff:127.0.0.1", true, false, false}, {"169.254.10.1", false, true, false},
      {"fe80::abcd", false, true, false},  {"0.0.0.0", false, false, true},     {"::", false, false, true},
      {"192.0.2.1", false, false, false},  {"2001:db8::5", false, false, false}, {"fec0::1", false, false, false},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(preds); i++) {
    CHECK_EQ_INT(mc_addr_parse(preds[i].ip, 0, &a), 0);
    CHECK(mc_addr_is_loopback(&a) == preds[i].loop);
    CHECK(mc_addr_is_link_local(&a) == preds[i].ll);
    CHECK(mc_addr_is_any(&a) == preds[i].any);
  }

  /* from_sockaddr keeps everything and refuses other families */
  struct sockaddr_in6 s6;
  memset(&s6, 0, sizeof s6);
  s6.sin6_family = AF_INET6;
  s6.sin6_port = htons(77);
  inet_pton(AF_INET6, "2001:db8::9", &s6.sin6_addr);
  CHECK_EQ_INT(mc_addr_from_sockaddr((struct sockaddr *)&s6, &a), 0);
  CHECK_STR(mc_addr_str(&a, buf), "[2001:db8::9]:77");
  struct sockaddr un = {.sa_family = AF_UNIX};
  CHECK_EQ_INT(mc_addr_from_sockaddr(&un, &a), MC_EINVAL);
  mc_addr none;
  memset(&none, 0, sizeof none);
  CHECK_EQ_INT(mc_addr_family(&none), AF_UNSPEC);
  CHECK_EQ_INT(mc_addr_len(&none), 0);
}

static void test_local_addresses(void) {
  mc_addr list[32];
  size_t n = 99;
  CHECK_EQ_INT(mc_net_local_addresses(list, MC_ARRAY_LEN(list), &n), 0);
  CHECK(n >= 1); /* at least loopback is up wherever tests run */
  bool only_loop = true;
  for (size_t i = 0; i < n; i++) {
    char buf[MC_ADDR_STRLEN];
    fprintf(stderr, "local address %s\n", mc_addr_ip_str(&list[i], buf));
    CHECK_EQ_INT(mc_addr_port(&list[i]), 0);
    CHECK(!mc_addr_is_link_local(&list[i]));
    CHECK(!mc_addr_is_any(&list[i]));
    if (!mc_addr_is_loopback(&list[i])) only_loop = false;
    for (size_t j = 0; j < i; j++) CHECK(!mc_addr_ip_equal(&list[i], &list[j]));
  }
  /* loopback only as a last resort: either all loopback or none */
  for (size_t i = 0; i < n; i++) CHECK(mc_addr_is_loopback(&list[i]) == only_loop);
  size_t n1 = 0;
  CHECK_EQ_INT(mc_net_local_addresses(list, 1, &n1), 0);
  CHECK_EQ_INT(n1, 1);
}

static bool has_ip(const mc_addr *list, size_t n, const char *ip) {
  mc_addr a;
  if (mc_addr_parse(ip, 0, &a) != 0) return false;
  for (size_t i = 0; i < n; i++)
    if (mc_addr_ip_equal(&list[i], &a)) return true;
  return false;
}

/* In a private namespace: lo alone gives loopback; once a veth pair is up,
 * its addresses replace loopback and link-local ones are left out. */
static int local_addresses_child(void) {
  check_failures = check_count = 0;
  mc_addr list[32];
  size_t n = 0;
  if (system("ip link set lo up && ip link add v0 type veth peer name v1 && "
             "ip addr add 198.51.100.5/24 dev v0 && ip addr add 169.254.3.3/16 dev v0 && "
             "ip -6 addr add 2001:db8::5/64 dev v0 nodad && ip addr add 203.0.113.9/24 dev v1 && "
             "ip link set v0 up") != 0)
    return NETNS_SKIP;
  /* v0 is up but not running while its peer is down */
  CHECK_EQ_INT(mc_net_local_addresses(list, 32, &n), 0);
  CHECK(n >= 1);
  CHECK(has_ip(list, n, "127.0.0.1"));
  CHECK(n >= 1 && mc_addr_family(&list[0]) == AF_INET);
  for (size_t i = 0; i < n; i++) CHECK(mc_addr_is_loopback(&list[i]));
  if (system("ip link set v1 up") != 0) return NETNS_SKIP;
  /* The kernel sets the veth pair running a moment after v1 goes up
   * (carrier comes on asynchronously): until then loopback is still all
   * there is (seen in CI: 2 loopback addresses right after). Wait for it,
   * at most 5 s. */
  for (int tries = 0; tries < 500; tries++) {
    CHECK_EQ_INT(mc_net_local_addresses(list, 32, &n), 0);
    if (!(n >= 1 && mc_addr_is_loopback(&list[0]))) break;
    usleep(10000);
  }
  CHECK_EQ_INT(n, 3);
  CHECK(has_ip(list, n, "198.51.100.5"));
  CHECK(has_ip(list, n, "2001:db8::5"));
  CHECK(has_ip(list, n, "203.0.113.9"));
  for (size_t i = 0; i < n; i++) {
    char buf[MC_ADDR_STRLEN];
    fprintf(stderr, "namespace local address %s\n", mc_addr_ip_str(&list[i], buf));
  }
  return CHECK_DONE();
}

static void test_local_addresses_ns(void) {
  int st = 0;
  if (!netns_run("interface test", NULL, local_addresses_child, &st)) return;
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---------------- UDP ---------------- */

struct udp_ctx {
  mc_udp *echo, *client;
  mc_addr echo_addr, client_addr;
  uint8_t got[200][64];
  size_t got_len[200];
  size_t received;
  size_t expect;
  bool from_ok;
  bool done;
  int after_close; /* callbacks seen after close */
  bool closed;
};

/* The echo side answers with the bytes reversed so the client can tell an
 * echo from its own datagram. */
static void udp_echo_cb(mc_udp *s, const mc_addr *from, const uint8_t *data, size_t len, void *user) {
  struct udp_ctx *c = user;
  uint8_t rev[2048];
  if (len > sizeof rev) return;
  for (size_t i = 0; i < len; i++) rev[i] = data[len - 1 - i];
  CHECK_EQ_INT(mc_udp_send(s, from, rev, len), 0);
  (void)c;
}

static void udp_client_cb(mc_udp *s, const mc_addr *from, const uint8_t *data, size_t len, void *user) {
  (void)s;
  struct udp_ctx *c = user;
  if (c->closed) c->after_close++;
  if (!mc_addr_equal(from, &c->echo_addr)) c->from_ok = false;
  if (c->received < 200 && len <= 64) {
    memcpy(c->got[c->received], data, len);
    c->got_len[c->received] = len;
  }
  if (++c->received == c->expect) c->done = true;
}

static void test_udp_family(uv_loop_t *loop, const char *ip) {
  struct udp_ctx c;
  memset(&c, 0, sizeof c);
  c.from_ok = true;
  mc_addr bind;
  CHECK_EQ_INT(mc_addr_parse(ip, 0, &bind), 0);
  CHECK_EQ_INT(mc_udp_open(loop, &bind, udp_echo_cb, &c, &c.echo), 0);
  CHECK_EQ_INT(mc_udp_open(loop, &bind, udp_client_cb, &c, &c.client), 0);
  if (!c.echo || !c.client) return;
  CHECK_EQ_INT(mc_udp_local_addr(c.echo, &c.echo_addr), 0);
  CHECK_EQ_INT(mc_udp_local_addr(c.client, &c.client_addr), 0);
  CHECK(mc_addr_port(&c.echo_addr) != 0);
  CHECK(mc_addr_ip_equal(&c.echo_addr, &bind));

  /* The same port again must fail: SO_REUSEADDR is off. */
  mc_udp *dup = NULL;
  CHECK_EQ_INT(mc_udp_open(loop, &c.echo_addr, udp_client_cb, &c, &dup), MC_EIO);
  CHECK(dup == NULL);

  c.expect = 100;
  for (int i = 0; i < 100; i++) {
    char msg[64];
    int n = snprintf(msg, sizeof msg, "datagram %03d from medcall", i);
    CHECK_EQ_INT(mc_udp_send(c.client, &c.echo_addr, (const uint8_t *)msg, (size_t)n), 0);
  }
  CHECK(run_until(loop, &c.done));
  CHECK_EQ_INT(c.received, 100);
  CHECK(c.from_ok);
  /* Loopback keeps order and content; each reply is its datagram reversed. */
  for (int i = 0; i < 100 && (size_t)i < c.received; i++) {
    char msg[64], rev[64];
    int n = snprintf(msg, sizeof msg, "datagram %03d from medcall", i);
    for (int k = 0; k < n; k++) rev[k] = msg[n - 1 - k];
    CHECK_EQ_INT(c.got_len[i], n);
    CHECK_MEM(c.got[i], rev, (size_t)n);
  }

  /* A send that is too big is refused at once, not queued. */
  static uint8_t huge[70000];
  CHECK_EQ_INT(mc_udp_send(c.client, &c.echo_addr, huge, sizeof huge), MC_EINVAL);

  /* After close no callback may run even with replies in flight. */
  c.done = false;
  c.expect = 1000;
  const uint8_t last[] = "last";
  CHECK_EQ_INT(mc_udp_send(c.client, &c.echo_addr, last, 4), 0);
  mc_udp_close(c.client);
  c.closed = true;
  drain(loop);
  CHECK_EQ_INT(c.after_close, 0);
  mc_udp_close(c.echo);
  drain(loop);
}

/* ---------------- TCP ---------------- */

struct echo_server {
  uv_tcp_t listener;
  mc_addr addr;
  uv_tcp_t conn;
  bool have_conn;
  size_t close_after; /* close the connection after echoing this many bytes */
  size_t echoed;
  uv_shutdown_t shutdown;
};

struct echo_write {
  uv_write_t req;
  char data[];
};

static void echo_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h;
  b->base = malloc(s);
  b->len = s;
}

static void free_write(uv_write_t *w, int status) {
  (void)status;
  free(w);
}

static void echo_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b) {
  struct echo_server *srv = st->data;
  if (n > 0) {
    struct echo_write *w = malloc(sizeof *w + (size_t)n);
    memcpy(w->data, b->base, (size_t)n);
    uv_buf_t ob = uv_buf_init(w->data, (unsigned)n);
    uv_write(&w->req, st, &ob, 1, free_write);
    srv->echoed += (size_t)n;
    if (srv->close_after && srv->echoed >= srv->close_after) uv_shutdown(&srv->shutdown, st, NULL);
  } else if (n < 0) {
    uv_read_stop(st);
  }
  free(b->base);
}

static void echo_accept(uv_stream_t *l, int status) {
  struct echo_server *srv = l->data;
  if (status != 0 || srv->have_conn) return;
  uv_tcp_init(l->loop, &srv->conn);
  srv->conn.data = srv;
  if (uv_accept(l, (uv_stream_t *)&srv->conn) == 0) {
    srv->have_conn = true;
    uv_read_start((uv_stream_t *)&srv->conn, echo_alloc, echo_read);
  }
}

struct stream_ctx {
  uint8_t got[300000];
  size_t got_len;
  size_t expect;
  bool connected;
  bool done;
  bool errored;
  int err;
  char why[300];
  int events_after_error;
};

static void s_connected(mc_stream *s, void *user) {
  (void)s;
  struct stream_ctx *c = user;
  if (c->errored) c->events_after_error++;
  c->connected = true;
}

static void s_data(mc_stream *s, const uint8_t *data, size_t len, void *user) {
  (void)s;
  struct stream_ctx *c = user;
  if (c->errored) c->events_after_error++;
  if (c->got_len + len <= sizeof c->got) memcpy(c->got + c->got_len, data, len);
  c->got_len += len;
  if (c->expect && c->got_len >= c->expect) c->done = true;
}

static void s_error(mc_stream *s, int err, const char *why, void *user) {
  (void)s;
  struct stream_ctx *c = user;
  if (c->errored) c->events_after_error++;
  c->errored = true;
  c->err = err;
  snprintf(c->why, sizeof c->why, "%s", why);
  c->done = true;
}

static const struct mc_stream_callbacks stream_cbs = {s_connected, s_data, s_error};

static void test_tcp(uv_loop_t *loop) {
  struct echo_server srv;
  memset(&srv, 0, sizeof srv);
  CHECK_EQ_INT(mc_addr_parse("127.0.0.1", 0, &srv.addr), 0);
  uv_tcp_init(loop, &srv.listener);
  srv.listener.data = &srv;
  CHECK_EQ_INT(uv_tcp_bind(&srv.listener, &srv.addr.u.sa, 0), 0);
  CHECK_EQ_INT(uv_listen((uv_stream_t *)&srv.listener, 8, echo_accept), 0);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  uv_tcp_getsockname(&srv.listener, (struct sockaddr *)&ss, &sl);
  mc_addr_from_sockaddr((struct sockaddr *)&ss, &srv.addr);

  static struct stream_ctx c;
  memset(&c, 0, sizeof c);
  static uint8_t payload[200000];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7 + i / 251);
  srv.close_after = sizeof payload;
  c.expect = 0; /* run until the server's close, which follows the echo */
  mc_stream *s = NULL;
  struct mc_stream_options opts = {0};
  CHECK_EQ_INT(mc_stream_connect(loop, &srv.addr, &opts, &stream_cbs, &c, &s), 0);
  /* Written before the connection is up: must be queued and flushed. */
  CHECK_EQ_INT(mc_stream_write(s, payload, 1000), 0);
  CHECK_EQ_INT(mc_stream_write(s, payload + 1000, sizeof payload - 1000), 0);
  CHECK_EQ_INT(mc_stream_queued(s), sizeof payload);
  mc_addr local;
  CHECK_EQ_INT(mc_stream_local_addr(s, &local), 0);
  CHECK(mc_addr_is_loopback(&local) && mc_addr_port(&local) != 0);
  CHECK(run_until(loop, &c.done));
  CHECK(c.connected);
  CHECK_EQ_INT(c.got_len, sizeof payload);
  CHECK(c.got_len == sizeof payload && memcmp(c.got, payload, sizeof payload) == 0);
  CHECK_EQ_INT(mc_stream_queued(s), 0);
  /* The server shuts its side after echoing: an orderly close is MC_ECLOSED. */
  CHECK(c.errored);
  CHECK_EQ_INT(c.err, MC_ECLOSED);
  CHECK_EQ_INT(mc_stream_write(s, payload, 10), MC_ECLOSED);
  mc_stream_close(s);
  drain(loop);
  CHECK_EQ_INT(c.events_after_error, 0);

  /* Close right after connect: no callback at all. */
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_stream_connect(loop, &srv.addr, &opts, &stream_cbs, &c, &s), 0);
  mc_stream_close(s);
  drain(loop);
  CHECK(!c.connected && !c.errored);

  if (srv.have_conn) uv_close((uv_handle_t *)&srv.conn, NULL);
  uv_close((uv_handle_t *)&srv.listener, NULL);
  drain(loop);

  /* Refused: a port we just held and released has nobody listening. */
  uv_tcp_t tmp;
  uv_tcp_init(loop, &tmp);
  mc_addr refused;
  mc_addr_parse("127.0.0.1", 0, &refused);
  uv_tcp_bind(&tmp, &refused.u.sa, 0);
  sl = sizeof ss;
  uv_tcp_getsockname(&tmp, (struct sockaddr *)&ss, &sl);
  mc_addr_from_sockaddr((struct sockaddr *)&ss, &refused);
  uv_close((uv_handle_t *)&tmp, NULL);
  drain(loop);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_stream_connect(loop, &refused, &opts, &stream_cbs, &c, &s), 0);
  CHECK_EQ_INT(mc_stream_write(s, payload, 10), 0);
  CHECK(run_until(loop, &c.done));
  CHECK(!c.connected);
  CHECK_EQ_INT(c.err, MC_EIO);
  char expect_why[128], as[MC_ADDR_STRLEN];
  snprintf(expect_why, sizeof expect_why, "connection refused by %s", mc_addr_str(&refused, as));
  CHECK_STR(c.why, expect_why);
  mc_stream_close(s);
  drain(loop);
}

/* ---------------- TCP listener (ICE-TCP passive candidates) ---------------- */

struct accept_ctx {
  mc_stream *s;
  mc_addr peer;
  int accepted;
  bool refuse; /* close the stream in the callback */
  struct stream_ctx *sc;
};

static void on_accept(mc_tcp_listener *l, mc_stream *s, const mc_addr *peer, void *user) {
  (void)l;
  struct accept_ctx *a = user;
  a->accepted++;
  a->peer = *peer;
  if (a->refuse) {
    mc_stream_close(s);
    return;
  }
  a->s = s;
  mc_stream_set_callbacks(s, &stream_cbs, a->sc);
}

static void test_listener(uv_loop_t *loop) {
  mc_addr lo;
  mc_addr_parse("127.0.0.1", 0, &lo);
  static struct stream_ctx server_side, client_side;
  memset(&server_side, 0, sizeof server_side);
  memset(&client_side, 0, sizeof client_side);
  struct accept_ctx a = {.sc = &server_side};
  mc_tcp_listener *l = NULL;
  CHECK_EQ_INT(mc_tcp_listen(loop, &lo, on_accept, &a, &l), 0);
  mc_addr at;
  CHECK_EQ_INT(mc_tcp_listener_local_addr(l, &at), 0);
  CHECK(mc_addr_is_loopback(&at) && mc_addr_port(&at) != 0);
  /* The client leaves from the address it is told to (port 0: any). */
  struct mc_stream_options opts = {.bind = &lo};
  mc_stream *c = NULL;
  CHECK_EQ_INT(mc_stream_connect(loop, &at, &opts, &stream_cbs, &client_side, &c), 0);
  CHECK_EQ_INT(mc_stream_write(c, (const uint8_t *)"hello", 5), 0);
  server_side.expect = 5;
  CHECK(run_until(loop, &server_side.done));
  CHECK_EQ_INT(a.accepted, 1);
  CHECK(server_side.got_len == 5 && memcmp(server_side.got, "hello", 5) == 0);
  mc_addr cl, peer;
  CHECK_EQ_INT(mc_stream_local_addr(c, &cl), 0);
  CHECK(mc_addr_equal(&cl, &a.peer));
  CHECK_EQ_INT(mc_stream_peer_addr(a.s, &peer), 0);
  CHECK(mc_addr_equal(&peer, &cl));
  /* And back, on the accepted stream. */
  client_side.expect = 3;
  CHECK_EQ_INT(mc_stream_write(a.s, (const uint8_t *)"hey", 3), 0);
  CHECK(run_until(loop, &client_side.done));
  CHECK(client_side.got_len == 3 && memcmp(client_side.got, "hey", 3) == 0);
  /* The client goes: the accepted stream hears an orderly close. */
  server_side.done = false;
  server_side.expect = 0;
  mc_stream_close(c);
  CHECK(run_until(loop, &server_side.done));
  CHECK_EQ_INT(server_side.err, MC_ECLOSED);
  mc_stream_close(a.s);
  /* A listener may refuse by closing in the callback. */
  a.refuse = true;
  memset(&client_side, 0, sizeof client_side);
  CHECK_EQ_INT(mc_stream_connect(loop, &at, &opts, &stream_cbs, &client_side, &c), 0);
  CHECK(run_until(loop, &client_side.done));
  CHECK_EQ_INT(a.accepted, 2);
  CHECK(client_side.errored);
  mc_stream_close(c);
  /* A bind address of another family than the destination is refused. */
  mc_addr lo6;
  mc_addr_parse("::1", 0, &lo6);
  struct mc_stream_options bad = {.bind = &lo6};
  CHECK(mc_stream_connect(loop, &at, &bad, &stream_cbs, &client_side, &c) != 0);
  mc_tcp_listener_close(l);
  drain(loop);
  CHECK_EQ_INT(mc_tcp_listen(loop, NULL, on_accept, &a, &l), MC_EINVAL);
}

/* A listener nobody accepts from: the kernel completes TCP handshakes until
 * the backlog is full, then drops SYNs. */
static int silent_listener(int backlog, mc_addr *addr) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, backlog) != 0) return -1;
  socklen_t sl = sizeof sa;
  getsockname(fd, (struct sockaddr *)&sa, &sl);
  mc_addr_from_sockaddr((struct sockaddr *)&sa, addr);
  return fd;
}

static void test_stream_timeouts(uv_loop_t *loop) {
  static struct stream_ctx c;
  mc_addr addr;
  char as[MC_ADDR_STRLEN], want[160];

  /* TCP up, TLS silent: the handshake deadline fires. */
  int fd = silent_listener(8, &addr);
  CHECK(fd >= 0);
  memset(&c, 0, sizeof c);
  struct mc_stream_options opts = {.tls = true, .insecure = true, .timeout_ms = 300};
  mc_stream *s = NULL;
  CHECK_EQ_INT(mc_stream_connect(loop, &addr, &opts, &stream_cbs, &c, &s), 0);
  CHECK(run_until(loop, &c.done));
  CHECK(!c.connected);
  CHECK_EQ_INT(c.err, MC_ETIMEDOUT);
  snprintf(want, sizeof want, "%s did not complete the TLS handshake in time", mc_addr_str(&addr, as));
  CHECK_STR(c.why, want);
  mc_stream_close(s);
  drain(loop);
  CHECK_EQ_INT(c.events_after_error, 0);

  /* Plain TCP with a deadline and a live peer: no timeout fires later. */
  memset(&c, 0, sizeof c);
  struct mc_stream_options plain = {.timeout_ms = 200};
  CHECK_EQ_INT(mc_stream_connect(loop, &addr, &plain, &stream_cbs, &c, &s), 0);
  CHECK(run_until(loop, &c.connected));
  bool later = false;
  uv_timer_t wait;
  uv_timer_init(loop, &wait);
  wait.data = &later;
  uv_timer_start(&wait, on_guard, 400, 0);
  run_until(loop, &later);
  uv_close((uv_handle_t *)&wait, NULL);
  CHECK(!c.errored);
  mc_stream_close(s);
  drain(loop);
  close(fd);

  /* The accept queue full (backlog 0 holds one connection): our SYNs are
   * dropped and the connect deadline fires. */
  fd = silent_listener(0, &addr);
  int filler = socket(AF_INET, SOCK_STREAM, 0);
  CHECK_EQ_INT(connect(filler, &addr.u.sa, mc_addr_len(&addr)), 0);
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_stream_connect(loop, &addr, &plain, &stream_cbs, &c, &s), 0);
  CHECK(run_until(loop, &c.done));
  CHECK(!c.connected);
  CHECK_EQ_INT(c.err, MC_ETIMEDOUT);
  snprintf(want, sizeof want, "%s did not accept the connection in time", mc_addr_str(&addr, as));
  CHECK_STR(c.why, want);
  mc_stream_close(s);
  drain(loop);
  CHECK_EQ_INT(c.events_after_error, 0);
  close(filler);
  close(fd);
}

/* ---------------- TLS ---------------- */

struct tls_server {
  int lfd;
  uint16_t port;
  SSL_CTX *ctx;
  int conns; /* connections to serve, then the thread ends */
  int handshakes_ok;
  /* After one echo, this connection ends with close_notify, that one with
   * bytes outside TLS (a broken record); -1: none. */
  int close_at, garbage_at;
};

static void *tls_server_main(void *arg) {
  struct tls_server *t = arg;
  for (int i = 0; i < t->conns; i++) {
    int fd = accept(t->lfd, NULL, NULL);
    if (fd < 0) break;
    SSL *ssl = SSL_new(t->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      t->handshakes_ok++;
      char buf[16384];
      int n;
      bool close_first = i == t->close_at, garbage = i == t->garbage_at;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        if (SSL_write(ssl, buf, n) <= 0) break;
        if (close_first || garbage) break;
      }
      if (garbage) {
        static const char junk[] = "not a TLS record";
        ssize_t w = write(fd, junk, sizeof junk - 1);
        (void)w; /* the client's check says whether it came */
        /* Until the client gave up: its alert, or the end. */
        while (read(fd, buf, sizeof buf) > 0) {
        }
      } else {
        SSL_shutdown(ssl);
      }
    }
    SSL_free(ssl);
    close(fd);
  }
  return NULL;
}

/* A CA and a server certificate it signs (P-256, SAN DNS:turn.medcall.test
 * and IP:127.0.0.1), made with the OpenSSL API so the test needs no CLI. */
static EVP_PKEY *p256_key(void) { return EVP_EC_gen("P-256"); }

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, bool ca) {
  X509 *x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 2 * 86400);
  X509_set_pubkey(x, key);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
  const char *exts[][2] = {{"basicConstraints", ca ? "critical,CA:TRUE" : "CA:FALSE"},
                           {"keyUsage", ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature"},
                           {"subjectAltName", ca ? NULL : "DNS:turn.medcall.test,IP:127.0.0.1"}};
  for (size_t i = 0; i < MC_ARRAY_LEN(exts); i++) {
    if (!exts[i][1]) continue;
    X509_EXTENSION *e = X509V3_EXT_nconf(NULL, &v3, exts[i][0], exts[i][1]);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
  }
  X509_sign(x, issuer_key, EVP_sha256());
  return x;
}


static int tls_case(uv_loop_t *loop, struct tls_server *t, const char *server_name, bool insecure,
                    int peer_ends, struct stream_ctx *c) {
  memset(c, 0, sizeof *c);
  mc_addr to;
  mc_addr_parse("127.0.0.1", t->port, &to);
  struct mc_stream_options opts = {.tls = true, .server_name = server_name, .insecure = insecure};
  mc_stream *s = NULL;
  int rc = mc_stream_connect(loop, &to, &opts, &stream_cbs, c, &s);
  if (rc != 0) return rc;
  static const char msg[] = "GET /vitals HTTP/1.1\r\n\r\n";
  /* Queued before the handshake; must arrive after it. */
  mc_stream_write(s, (const uint8_t *)msg, sizeof msg - 1);
  c->expect = peer_ends ? 0 : sizeof msg - 1;
  run_until(loop, &c->done);
  if (peer_ends) {
    CHECK(c->connected);
    CHECK(c->got_len == sizeof msg - 1 && memcmp(c->got, msg, sizeof msg - 1) == 0);
    CHECK_EQ_INT(c->err, peer_ends);
  } else if (!c->errored) {
    CHECK(c->connected);
    CHECK_EQ_INT(c->got_len, sizeof msg - 1);
    CHECK(c->got_len == sizeof msg - 1 && memcmp(c->got, msg, sizeof msg - 1) == 0);
    /* A bigger second round spans many TLS records. */
    static uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i % 253);
    c->done = false;
    c->got_len = 0;
    c->expect = sizeof big;
    CHECK_EQ_INT(mc_stream_write(s, big, sizeof big), 0);
    run_until(loop, &c->done);
    CHECK_EQ_INT(c->got_len, sizeof big);
    CHECK(c->got_len == sizeof big && memcmp(c->got, big, sizeof big) == 0);
  }
  mc_stream_close(s);
  drain(loop);
  return 0;
}

static void test_tls(uv_loop_t *loop) {
  char dir[] = "/tmp/mc-test-net-XXXXXX";
  if (!mkdtemp(dir)) {
    CHECK(false);
    return;
  }
  EVP_PKEY *ca_key = p256_key(), *srv_key = p256_key();
  X509 *ca_cert = make_cert(ca_key, "medcall test CA", NULL, ca_key, true);
  X509 *srv_cert = make_cert(srv_key, "turn.medcall.test", ca_cert, ca_key, false);
  char ca[512], empty[512];
  snprintf(ca, sizeof ca, "%s/ca.pem", dir);
  snprintf(empty, sizeof empty, "%s/empty", dir);
  FILE *f = fopen(ca, "w");
  CHECK(f != NULL);
  if (!f) return;
  CHECK_EQ_INT(PEM_write_X509(f, ca_cert), 1);
  fclose(f);
  CHECK_EQ_INT(mkdir(empty, 0700), 0);

  struct tls_server t;
  memset(&t, 0, sizeof t);
  t.ctx = SSL_CTX_new(TLS_server_method());
  CHECK_EQ_INT(SSL_CTX_use_certificate(t.ctx, srv_cert), 1);
  CHECK_EQ_INT(SSL_CTX_use_PrivateKey(t.ctx, srv_key), 1);
  t.lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ_INT(bind(t.lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  socklen_t sl = sizeof sa;
  getsockname(t.lfd, (struct sockaddr *)&sa, &sl);
  t.port = ntohs(sa.sin_port);
  CHECK_EQ_INT(listen(t.lfd, 8), 0);
  t.conns = 7;
  t.close_at = 5;
  t.garbage_at = 6;
  pthread_t th;
  pthread_create(&th, NULL, tls_server_main, &t);

  static struct stream_ctx c;

  /* 1. Trusting our CA through SSL_CERT_FILE, by name: verified and echoed. */
  setenv("SSL_CERT_FILE", ca, 1);
  setenv("SSL_CERT_DIR", empty, 1);
  CHECK_EQ_INT(tls_case(loop, &t, "turn.medcall.test", false, 0, &c), 0);
  CHECK(c.connected && !c.errored);

  /* 2. No name: the certificate's IP SAN is checked against 127.0.0.1. */
  CHECK_EQ_INT(tls_case(loop, &t, NULL, false, 0, &c), 0);
  CHECK(c.connected && !c.errored);

  /* 3. Trusted CA but another name: hostname mismatch. */
  CHECK_EQ_INT(tls_case(loop, &t, "other.medcall.test", false, 0, &c), 0);
  CHECK(!c.connected);
  CHECK_EQ_INT(c.err, MC_ETLS);
  CHECK(strstr(c.why, "did not verify") != NULL);
  fprintf(stderr, "mismatch: %s\n", c.why);

  /* 4. Without our CA: the chain does not verify. */
  unsetenv("SSL_CERT_FILE");
  unsetenv("SSL_CERT_DIR");
  CHECK_EQ_INT(tls_case(loop, &t, "turn.medcall.test", false, 0, &c), 0);
  CHECK(!c.connected);
  CHECK_EQ_INT(c.err, MC_ETLS);
  CHECK_STR(c.why, "the server's certificate did not verify (unable to get local issuer certificate)");
  fprintf(stderr, "untrusted: %s\n", c.why);

  /* 5. insecure: connects anyway and data flows. */
  CHECK_EQ_INT(tls_case(loop, &t, "turn.medcall.test", true, 0, &c), 0);
  CHECK(c.connected && !c.errored);

  /* 6. The server sends close_notify after one echo: MC_ECLOSED after the data. */
  CHECK_EQ_INT(tls_case(loop, &t, NULL, true, MC_ECLOSED, &c), 0);
  CHECK(c.connected);

  /* 7. insecure, and a broken record after the handshake: the connection
   * failed, not the handshake, and the certificate (not checked, though
   * OpenSSL noted it would not verify) is not blamed (found by fuzz_turn). */
  CHECK_EQ_INT(tls_case(loop, &t, "turn.medcall.test", true, MC_ETLS, &c), 0);
  char want[128];
  snprintf(want, sizeof want, "the TLS connection with 127.0.0.1:%u failed (", t.port);
  CHECK(strncmp(c.why, want, strlen(want)) == 0);
  fprintf(stderr, "broken record: %s\n", c.why);

  pthread_join(th, NULL);
  CHECK_EQ_INT(t.handshakes_ok, 5);
  close(t.lfd);
  SSL_CTX_free(t.ctx);
  X509_free(ca_cert);
  X509_free(srv_cert);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(srv_key);
  unlink(ca);
  rmdir(empty);
  rmdir(dir);
}

/* ---------------- resolution ---------------- */

struct res_ctx {
  int calls;
  int err;
  mc_addr addrs[16];
  size_t count;
  bool done;
};

static void res_cb(int err, const mc_addr *addrs, size_t count, void *user) {
  struct res_ctx *c = user;
  c->calls++;
  c->err = err;
  c->count = MC_MIN(count, (size_t)16);
  if (addrs) memcpy(c->addrs, addrs, c->count * sizeof *addrs);
  c->done = true;
}

static void test_resolve(uv_loop_t *loop) {
  struct res_ctx c;
  mc_resolve_req *req = NULL;
  char buf[MC_ADDR_STRLEN];

  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_resolve(loop, "localhost", 8443, AF_UNSPEC, res_cb, &c, &req), 0);
  CHECK(run_until(loop, &c.done));
  CHECK_EQ_INT(c.calls, 1);
  CHECK_EQ_INT(c.err, 0);
  CHECK(c.count >= 1);
  for (size_t i = 0; i < c.count; i++) {
    fprintf(stderr, "localhost -> %s\n", mc_addr_str(&c.addrs[i], buf));
    CHECK(mc_addr_is_loopback(&c.addrs[i]));
    CHECK_EQ_INT(mc_addr_port(&c.addrs[i]), 8443);
    for (size_t j = 0; j < i; j++) CHECK(!mc_addr_equal(&c.addrs[i], &c.addrs[j]));
  }

  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_resolve(loop, "localhost", 1, AF_INET, res_cb, &c, &req), 0);
  CHECK(run_until(loop, &c.done));
  CHECK_EQ_INT(c.err, 0);
  for (size_t i = 0; i < c.count; i++) CHECK_EQ_INT(mc_addr_family(&c.addrs[i]), AF_INET);

  /* Numeric: answered through the callback, not before mc_resolve returns. */
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_resolve(loop, "192.0.2.44", 3478, AF_UNSPEC, res_cb, &c, &req), 0);
  CHECK_EQ_INT(c.calls, 0);
  CHECK(run_until(loop, &c.done));
  CHECK_EQ_INT(c.calls, 1);
  CHECK_EQ_INT(c.err, 0);
  CHECK_EQ_INT(c.count, 1);
  CHECK_STR(mc_addr_str(&c.addrs[0], buf), "192.0.2.44:3478");

  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_resolve(loop, "[2001:db8::2]", 5349, AF_UNSPEC, res_cb, &c, &req), 0);
  CHECK(run_until(loop, &c.done));
  CHECK_EQ_INT(c.count, 1);
  CHECK_STR(mc_addr_str(&c.addrs[0], buf), "[2001:db8::2]:5349");

  /* A numeric host of the wrong family does not resolve. */
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_resolve(loop, "192.0.2.44", 1, AF_INET6, res_cb, &c, &req), 0);
  CHECK(run_until(loop, &c.done));
  CHECK_EQ_INT(c.err, MC_ERESOLVE);
  CHECK_EQ_INT(c.count, 0);

  /* Cancel: the callback never runs, for both kinds. */
  memset(&c, 0, sizeof c);
  CHECK_EQ_INT(mc_resolve(loop, "localhost", 1, AF_UNSPEC, res_cb, &c, &req), 0);
  mc_resolve_cancel(req);
  struct res_ctx c2;
  memset(&c2, 0, sizeof c2);
  mc_resolve_req *req2 = NULL;
  CHECK_EQ_INT(mc_resolve(loop, "192.0.2.1", 1, AF_UNSPEC, res_cb, &c2, &req2), 0);
  mc_resolve_cancel(req2);
  /* A later lookup finishing proves the loop ran past the cancelled ones. */
  struct res_ctx c3;
  memset(&c3, 0, sizeof c3);
  CHECK_EQ_INT(mc_resolve(loop, "localhost", 1, AF_UNSPEC, res_cb, &c3, NULL), 0);
  CHECK(run_until(loop, &c3.done));
  uv_run(loop, UV_RUN_DEFAULT); /* everything pending, including the cancelled lookup, ends */
  CHECK_EQ_INT(c.calls, 0);
  CHECK_EQ_INT(c2.calls, 0);
  CHECK_EQ_INT(c3.calls, 1);

  CHECK_EQ_INT(mc_resolve(loop, "", 1, AF_UNSPEC, res_cb, &c, &req), MC_EINVAL);
  CHECK_EQ_INT(mc_resolve(loop, "localhost", 1, 12345, res_cb, &c, &req), MC_EINVAL);
}

int main(void) {
  mc_log_init_from_env();
  /* The in-test TLS server may write to a socket the client already closed. */
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);

  test_addr();
  test_local_addresses();
  test_local_addresses_ns();
  test_udp_family(&loop, "127.0.0.1");
  if (ipv6_loopback_usable()) test_udp_family(&loop, "::1");
  else fprintf(stderr, "skip: no IPv6 loopback\n");
  test_tcp(&loop);
  test_listener(&loop);
  test_tls(&loop);
  test_stream_timeouts(&loop);
  test_resolve(&loop);

  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  return CHECK_DONE();
}
