/* mDNS: the message codec, and a live lookup against our own responder inside
 * a private network namespace (multicast never leaves it). */
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "netns.h"
#include "net/net.h"

static void test_query_codec(void) {
  uint8_t buf[512];
  size_t len = 0;
  CHECK_EQ_INT(mc_mdns_build_query(0x1234, "Host-1.local", buf, sizeof buf, &len), 0);
  /* RFC 1035 4.1: header, "Host-1.local" as labels, A/IN+QU, pointer, AAAA/IN+QU */
  static const uint8_t want[] = {0x12, 0x34, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                 6, 'H', 'o', 's', 't', '-', '1', 5, 'l', 'o', 'c', 'a', 'l', 0,
                                 0x00, 0x01, 0x80, 0x01, 0xC0, 0x0C, 0x00, 0x1C, 0x80, 0x01};
  CHECK_EQ_INT(len, sizeof want);
  CHECK(len == sizeof want && memcmp(buf, want, len) == 0);

  struct mc_mdns_question qs[4];
  size_t n = 0;
  uint16_t id = 0;
  CHECK_EQ_INT(mc_mdns_parse_query(buf, len, &id, qs, 4, &n), 0);
  CHECK_EQ_INT(id, 0x1234);
  CHECK_EQ_INT(n, 2);
  CHECK_STR(qs[0].name, "Host-1.local");
  CHECK_STR(qs[1].name, "Host-1.local");
  CHECK_EQ_INT(qs[0].type, MC_DNS_TYPE_A);
  CHECK_EQ_INT(qs[1].type, MC_DNS_TYPE_AAAA);
  CHECK(qs[0].unicast && qs[1].unicast);
  /* max 1 keeps the first */
  CHECK_EQ_INT(mc_mdns_parse_query(buf, len, NULL, qs, 1, &n), 0);
  CHECK_EQ_INT(n, 1);
  /* every truncation is refused */
  for (size_t cut = 0; cut < len; cut++) CHECK(mc_mdns_parse_query(buf, cut, &id, qs, 4, &n) < 0);
  /* a query is not a response */
  mc_addr out[4];
  CHECK_EQ_INT(mc_mdns_parse_response(buf, len, "Host-1.local", out, 4, &n), MC_EPARSE);

  /* bad names */
  CHECK_EQ_INT(mc_mdns_build_query(1, "", buf, sizeof buf, &len), MC_EINVAL);
  CHECK_EQ_INT(mc_mdns_build_query(1, "a..local", buf, sizeof buf, &len), MC_EINVAL);
  char longlabel[80];
  memset(longlabel, 'a', 64);
  strcpy(longlabel + 64, ".local");
  CHECK_EQ_INT(mc_mdns_build_query(1, longlabel, buf, sizeof buf, &len), MC_EINVAL);
  CHECK_EQ_INT(mc_mdns_build_query(1, "x.local", buf, 20, &len), MC_ETOOBIG);
  /* a trailing dot is the same name */
  CHECK_EQ_INT(mc_mdns_build_query(1, "x.local.", buf, sizeof buf, &len), 0);
  CHECK_EQ_INT(mc_mdns_parse_query(buf, len, &id, qs, 4, &n), 0);
  CHECK_STR(qs[0].name, "x.local");
}

static void test_response_codec(void) {
  const char *name = "0b7c2a9e-7d4e-4c1b-9a55-3f1e2d3c4b5a.local";
  mc_addr in[3];
  CHECK_EQ_INT(mc_addr_parse("192.168.1.20", 0, &in[0]), 0);
  CHECK_EQ_INT(mc_addr_parse("2001:db8::20", 0, &in[1]), 0);
  CHECK_EQ_INT(mc_addr_parse("10.1.2.3", 0, &in[2]), 0);
  uint8_t buf[1024];
  size_t len = 0;
  CHECK_EQ_INT(mc_mdns_build_response(0x4242, name, in, 3, false, 0, buf, sizeof buf, &len), 0);
  /* RFC 6762 18.1: id 0 in multicast responses; QR and AA set; 3 answers */
  CHECK_EQ_INT(mc_get_be16(buf), 0);
  CHECK_EQ_INT(mc_get_be16(buf + 2), 0x8400);
  CHECK_EQ_INT(mc_get_be16(buf + 4), 0);
  CHECK_EQ_INT(mc_get_be16(buf + 6), 3);
  size_t name_len = strlen(name) + 2;
  size_t p = 12 + name_len;
  CHECK_EQ_INT(mc_get_be16(buf + p), MC_DNS_TYPE_A);
  CHECK_EQ_INT(mc_get_be16(buf + p + 2), 0x8001); /* cache-flush + IN */
  CHECK_EQ_INT(mc_get_be32(buf + p + 4), 120);
  CHECK_EQ_INT(mc_get_be16(buf + p + 8), 4);
  CHECK_MEM(buf + p + 10, "\xc0\xa8\x01\x14", 4);
  p += 14;
  /* later answers compress their name to a pointer at offset 12 */
  CHECK_EQ_INT(mc_get_be16(buf + p), 0xC00C);
  CHECK_EQ_INT(mc_get_be16(buf + p + 2), MC_DNS_TYPE_AAAA);
  CHECK_EQ_INT(len, 12 + name_len + 14 + 2 + 26 + 2 + 14);

  mc_addr out[8];
  size_t n = 0;
  CHECK_EQ_INT(mc_mdns_parse_response(buf, len, name, out, 8, &n), 0);
  CHECK_EQ_INT(n, 3);
  for (size_t i = 0; i < 3 && i < n; i++) CHECK(mc_addr_equal(&out[i], &in[i]));
  /* names match without regard to case */
  char upper[64];
  for (size_t i = 0; i <= strlen(name); i++) upper[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
  CHECK_EQ_INT(mc_mdns_parse_response(buf, len, upper, out, 8, &n), 0);
  CHECK_EQ_INT(n, 3);
  CHECK_EQ_INT(mc_mdns_parse_response(buf, len, "other.local", out, 8, &n), MC_ENOTFOUND);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(mc_mdns_parse_response(buf, len, name, out, 2, &n), 0);
  CHECK_EQ_INT(n, 2);
  for (size_t cut = 0; cut < len; cut++) {
    int rc = mc_mdns_parse_response(buf, cut, name, out, 8, &n);
    CHECK(rc < 0);
  }

  /* RFC 6762 6.7 legacy unicast: id echoed, question repeated, TTL 10, no cache-flush */
  CHECK_EQ_INT(mc_mdns_build_response(0x4242, name, in, 1, true, MC_DNS_TYPE_A, buf, sizeof buf, &len), 0);
  CHECK_EQ_INT(mc_get_be16(buf), 0x4242);
  CHECK_EQ_INT(mc_get_be16(buf + 4), 1);
  CHECK_EQ_INT(mc_get_be16(buf + 6), 1);
  p = 12 + name_len;
  CHECK_EQ_INT(mc_get_be16(buf + p), MC_DNS_TYPE_A);
  CHECK_EQ_INT(mc_get_be16(buf + p + 2), 1);
  p += 4;
  CHECK_EQ_INT(mc_get_be16(buf + p), 0xC00C);
  CHECK_EQ_INT(mc_get_be16(buf + p + 4), 1);
  CHECK_EQ_INT(mc_get_be32(buf + p + 6), 10);
  CHECK_EQ_INT(mc_mdns_parse_response(buf, len, name, out, 8, &n), 0);
  CHECK_EQ_INT(n, 1);
  CHECK(n == 1 && mc_addr_equal(&out[0], &in[0]));

  /* duplicates collapse */
  mc_addr dup[2] = {in[0], in[0]};
  CHECK_EQ_INT(mc_mdns_build_response(0, name, dup, 2, false, 0, buf, sizeof buf, &len), 0);
  CHECK_EQ_INT(mc_mdns_parse_response(buf, len, name, out, 8, &n), 0);
  CHECK_EQ_INT(n, 1);
}

/* Hand-built messages: compression into the middle of a name, and attacks. */
static size_t put_name(uint8_t *p, const char *labels) {
  size_t n = strlen(labels);
  memcpy(p, labels, n);
  return n;
}

static void test_compression(void) {
  uint8_t m[256];
  memset(m, 0, sizeof m);
  /* header: response, 0 questions, 2 answers */
  m[2] = 0x84;
  m[7] = 2;
  size_t p = 12;
  /* answer 1: "\4host\5local\0" A 10.0.0.1 */
  p += put_name(m + p, "\x04host\x05local");
  m[p++] = 0;
  size_t local_off = 12 + 5; /* the "\5local" label */
  uint8_t a1[] = {0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 1};
  memcpy(m + p, a1, sizeof a1);
  p += sizeof a1;
  /* answer 2: "\4peer" + pointer to "local": "peer.local" A 10.0.0.2 */
  m[p++] = 4;
  memcpy(m + p, "peer", 4);
  p += 4;
  m[p++] = 0xC0;
  m[p++] = (uint8_t)local_off;
  uint8_t a2[] = {0, 1, 0x80, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 2};
  memcpy(m + p, a2, sizeof a2);
  p += sizeof a2;

  mc_addr out[4];
  size_t n = 0;
  char ip[MC_ADDR_STRLEN];
  CHECK_EQ_INT(mc_mdns_parse_response(m, p, "peer.local", out, 4, &n), 0);
  CHECK_EQ_INT(n, 1);
  CHECK_STR(mc_addr_ip_str(&out[0], ip), "10.0.0.2");
  CHECK_EQ_INT(mc_mdns_parse_response(m, p, "host.local", out, 4, &n), 0);
  CHECK_STR(mc_addr_ip_str(&out[0], ip), "10.0.0.1");

  char name[MC_DNS_NAME_MAX];
  size_t off = 12 + 12 + 14;
  CHECK_EQ_INT(mc_dns_read_name(m, p, &off, name, sizeof name), 0);
  CHECK_STR(name, "peer.local");
  CHECK_EQ_INT(off, 12 + 12 + 14 + 7); /* past the pointer, not past the target */
  char small[6];
  off = 12;
  CHECK_EQ_INT(mc_dns_read_name(m, p, &off, small, sizeof small), MC_ETOOBIG);

  /* A pointer to itself. */
  uint8_t loop1[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
  CHECK_EQ_INT(mc_mdns_parse_response(loop1, sizeof loop1, "x.local", out, 4, &n), MC_EPARSE);
  off = 12;
  CHECK_EQ_INT(mc_dns_read_name(loop1, sizeof loop1, &off, name, sizeof name), MC_EPARSE);
  /* Two pointers at each other (the second points forward). */
  uint8_t loop2[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x01, 'a', 0xC0, 0x10, 0xC0, 0x0C,
                     0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
  CHECK_EQ_INT(mc_mdns_parse_response(loop2, sizeof loop2, "a.local", out, 4, &n), MC_EPARSE);
  /* A label running past the end. */
  uint8_t trunc[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x3F, 'a', 'b'};
  CHECK_EQ_INT(mc_mdns_parse_response(trunc, sizeof trunc, "ab", out, 4, &n), MC_EPARSE);
  /* rdlength beyond the message. */
  uint8_t rdlen[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 'x', 0, 0, 1, 0, 1, 0, 0, 0, 1, 0xFF, 0xFF, 1, 2, 3, 4};
  CHECK_EQ_INT(mc_mdns_parse_response(rdlen, sizeof rdlen, "x", out, 4, &n), MC_EPARSE);
  /* A with the wrong rdlength is skipped, not read. */
  uint8_t badlen[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 'x', 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3, 1, 2, 3};
  CHECK_EQ_INT(mc_mdns_parse_response(badlen, sizeof badlen, "x", out, 4, &n), MC_ENOTFOUND);
  /* Reserved label type bits. */
  uint8_t reserved[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x41, 'x', 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
  CHECK_EQ_INT(mc_mdns_parse_response(reserved, sizeof reserved, "x", out, 4, &n), MC_EPARSE);
  /* Huge counts with a short body. */
  uint8_t counts[] = {0, 0, 0x84, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  CHECK_EQ_INT(mc_mdns_parse_response(counts, sizeof counts, "x", out, 4, &n), MC_EPARSE);
  /* RFC 6762 18.3 / 18.11: non-zero opcode or rcode is ignored. */
  uint8_t opcode[] = {0, 0, 0x84 | 0x08, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 'x', 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4};
  CHECK_EQ_INT(mc_mdns_parse_response(opcode, sizeof opcode, "x", out, 4, &n), MC_EPARSE);
  opcode[2] = 0x84;
  CHECK_EQ_INT(mc_mdns_parse_response(opcode, sizeof opcode, "x", out, 4, &n), 0);
  opcode[3] = 0x03; /* NXDOMAIN */
  CHECK_EQ_INT(mc_mdns_parse_response(opcode, sizeof opcode, "x", out, 4, &n), MC_EPARSE);

  /* A name longer than 255 octets built from backward pointers. */
  uint8_t big[1200];
  memset(big, 0, sizeof big);
  big[2] = 0x84;
  big[7] = 1;
  size_t q = 12;
  size_t prev = 0;
  for (int i = 0; i < 6; i++) {
    size_t start = q;
    big[q++] = 60;
    memset(big + q, 'a' + i, 60);
    q += 60;
    if (prev) {
      big[q++] = (uint8_t)(0xC0 | (prev >> 8));
      big[q++] = (uint8_t)prev;
    } else {
      big[q++] = 0;
    }
    prev = start;
  }
  /* the last label sequence, read from its start, spans 6 * 61 = 366 octets */
  off = prev;
  CHECK_EQ_INT(mc_dns_read_name(big, q, &off, name, sizeof name), MC_EPARSE);
  /* a dot inside a label is refused (its text form would be ambiguous) */
  uint8_t dot[] = {3, 'a', '.', 'b', 0};
  off = 0;
  CHECK_EQ_INT(mc_dns_read_name(dot, sizeof dot, &off, name, sizeof name), MC_EPARSE);
  /* the root name reads as "" */
  uint8_t root[] = {0};
  off = 0;
  CHECK_EQ_INT(mc_dns_read_name(root, 1, &off, name, sizeof name), 0);
  CHECK_STR(name, "");
  CHECK_EQ_INT(off, 1);
}

/* ---------------- live: responder and resolver in a private namespace ---------------- */

struct res {
  int calls, err;
  mc_addr addrs[8];
  size_t count;
  bool done;
};

static void res_cb(int err, const mc_addr *addrs, size_t count, void *user) {
  struct res *r = user;
  r->calls++;
  r->err = err;
  r->count = MC_MIN(count, (size_t)8);
  if (addrs) memcpy(r->addrs, addrs, r->count * sizeof *addrs);
  r->done = true;
}

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
  return *flag;
}

static bool is_uuid_v4_local(const char *s) {
  if (strlen(s) != 36 + 6 || strcmp(s + 36, ".local") != 0) return false;
  for (int i = 0; i < 36; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/* A responder that ignores RFC 6762 6.7 and answers a legacy query on the
 * group: the resolver must still hear it. */
struct fake {
  uv_udp_t h;
  uint8_t rx[2048];
  const char *name;
  int answered;
};

static void fake_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)s;
  struct fake *f = h->data;
  b->base = (char *)f->rx;
  b->len = sizeof f->rx;
}

static void fake_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *from, unsigned fl) {
  (void)fl;
  (void)from;
  struct fake *f = h->data;
  if (n <= 0) return;
  struct mc_mdns_question qs[4];
  size_t nq = 0;
  if (mc_mdns_parse_query((const uint8_t *)b->base, (size_t)n, NULL, qs, 4, &nq) != 0) return;
  if (nq == 0 || strcmp(qs[0].name, f->name) != 0) return;
  mc_addr ip, group;
  mc_addr_parse("10.9.8.7", 0, &ip);
  mc_addr_parse("224.0.0.251", 5353, &group);
  uint8_t msg[512];
  size_t len;
  if (mc_mdns_build_response(0, f->name, &ip, 1, false, 0, msg, sizeof msg, &len) != 0) return;
  uv_buf_t ob = uv_buf_init((char *)msg, (unsigned)len);
  if (uv_udp_try_send(h, &ob, 1, &group.u.sa) == (int)len) f->answered++;
}

static int open_fake(uv_loop_t *loop, struct fake *f) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(5353)};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return -1;
  struct ip_mreqn m = {.imr_ifindex = 1};
  inet_pton(AF_INET, "224.0.0.251", &m.imr_multiaddr);
  if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0) return -1;
  uv_udp_init(loop, &f->h);
  f->h.data = f;
  if (uv_udp_open(&f->h, fd) != 0) return -1;
  return uv_udp_recv_start(&f->h, fake_alloc, fake_recv);
}

static int live_child(void) {
  check_failures = check_count = 0; /* the parent reports its own */
  uv_loop_t loop;
  uv_loop_init(&loop);
  mc_mdns_responder *resp = NULL;
  CHECK_EQ_INT(mc_mdns_responder_start(&loop, &resp), 0);
  if (!resp) return CHECK_DONE();

  mc_addr ip4, ip6;
  mc_addr_parse("127.0.0.1", 0, &ip4);
  mc_addr_parse("2001:db8::77", 0, &ip6);
  char name4[64], name6[64], tiny[8];
  CHECK_EQ_INT(mc_mdns_responder_add(resp, &ip4, name4, sizeof name4), 0);
  CHECK_EQ_INT(mc_mdns_responder_add(resp, &ip6, name6, sizeof name6), 0);
  CHECK_EQ_INT(mc_mdns_responder_add(resp, &ip6, tiny, sizeof tiny), MC_ETOOBIG);
  CHECK(is_uuid_v4_local(name4));
  CHECK(is_uuid_v4_local(name6));
  CHECK(strcmp(name4, name6) != 0);
  fprintf(stderr, "registered %s and %s\n", name4, name6);

  /* The IPv4 name resolves to exactly its address. */
  struct res r;
  memset(&r, 0, sizeof r);
  mc_mdns_query *q = NULL;
  CHECK_EQ_INT(mc_mdns_resolve(&loop, name4, 5000, res_cb, &r, &q), 0);
  CHECK(run_until(&loop, &r.done));
  CHECK_EQ_INT(r.err, 0);
  CHECK_EQ_INT(r.count, 1);
  char buf[MC_ADDR_STRLEN];
  if (r.count) CHECK_STR(mc_addr_ip_str(&r.addrs[0], buf), "127.0.0.1");

  /* The IPv6 record is carried over IPv4 multicast too (AAAA question). */
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, name6, 5000, res_cb, &r, &q), 0);
  CHECK(run_until(&loop, &r.done));
  CHECK_EQ_INT(r.err, 0);
  CHECK_EQ_INT(r.count, 1);
  if (r.count) CHECK_STR(mc_addr_ip_str(&r.addrs[0], buf), "2001:db8::77");

  /* Names are matched regardless of case (RFC 6762 16). */
  char upper[64];
  for (size_t i = 0; i <= strlen(name4); i++) upper[i] = (char)(name4[i] >= 'a' && name4[i] <= 'z' ? name4[i] - 32 : name4[i]);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, upper, 5000, res_cb, &r, &q), 0);
  CHECK(run_until(&loop, &r.done));
  CHECK_EQ_INT(r.err, 0);

  /* Nobody owns this name: MC_ETIMEDOUT. */
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, "00000000-0000-4000-8000-000000000000.local", 700, res_cb, &r, &q), 0);
  CHECK(run_until(&loop, &r.done));
  CHECK_EQ_INT(r.err, MC_ETIMEDOUT);
  CHECK_EQ_INT(r.count, 0);

  /* Cancelled: never called back, even though the answer would come. */
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, name4, 5000, res_cb, &r, &q), 0);
  mc_mdns_cancel(q);
  struct res r2;
  memset(&r2, 0, sizeof r2);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, name4, 5000, res_cb, &r2, NULL), 0);
  CHECK(run_until(&loop, &r2.done));
  CHECK_EQ_INT(r2.err, 0);
  CHECK_EQ_INT(r.calls, 0);

  /* Answers multicast to the group (not to our port) are heard too. */
  static struct fake f;
  f.name = "fake-responder.local";
  CHECK_EQ_INT(open_fake(&loop, &f), 0);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, f.name, 5000, res_cb, &r, &q), 0);
  CHECK(run_until(&loop, &r.done));
  CHECK(f.answered >= 1);
  CHECK_EQ_INT(r.err, 0);
  CHECK_EQ_INT(r.count, 1);
  if (r.count) CHECK_STR(mc_addr_ip_str(&r.addrs[0], buf), "10.9.8.7");
  uv_close((uv_handle_t *)&f.h, NULL);

  /* A removed name is no longer answered. */
  CHECK_EQ_INT(mc_mdns_responder_remove(resp, name4), 0);
  CHECK_EQ_INT(mc_mdns_responder_remove(resp, name4), MC_ENOTFOUND);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, name4, 700, res_cb, &r, &q), 0);
  CHECK(run_until(&loop, &r.done));
  CHECK_EQ_INT(r.err, MC_ETIMEDOUT);
  /* ... while the other still is. */
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(mc_mdns_resolve(&loop, name6, 5000, res_cb, &r, &q), 0);
  CHECK(run_until(&loop, &r.done));
  CHECK_EQ_INT(r.err, 0);

  /* Only .local names are asked on the link. */
  CHECK_EQ_INT(mc_mdns_resolve(&loop, "example.com", 100, res_cb, &r, &q), MC_EINVAL);

  mc_mdns_responder_stop(resp);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  return CHECK_DONE();
}

static void test_live(void) {
  int st = 0;
  if (!netns_run("live mDNS",
                 "ip link set lo up && ip link set lo multicast on && "
                 "ip route add 224.0.0.0/4 dev lo src 127.0.0.1",
                 live_child, &st))
    return;
  CHECK(WIFEXITED(st));
  CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

int main(void) {
  mc_log_init_from_env();
  test_query_codec();
  test_response_codec();
  test_compression();
  test_live();
  return CHECK_DONE();
}
