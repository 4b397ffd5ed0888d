/* Candidate lines (RFC 8839 5.1) as Chrome and Firefox write them, plus
 * priorities (RFC 8445 5.1.2), foundations (5.1.1.3) and pair priorities
 * (6.1.2.3). */
#include <arpa/inet.h>
#include <stdlib.h>

#include "check.h"
#include "ice/ice.h"

static int parse(const char *line, mc_ice_candidate *c) {
  return mc_ice_candidate_parse((const uint8_t *)line, strlen(line), c);
}

/* Lines whose formatted form is the line itself (Chrome writes lowercase
 * "udp" and the extension order we write). */
static const char *const chrome_lines[] = {
    "candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 ufrag Gm4G network-id 1 network-cost 10",
    "candidate:3019234235 1 udp 2122262783 2001:db8:1f70::999:de8:7648:6e8 50617 typ host generation 0 ufrag Gm4G network-id 2",
    "candidate:2999745851 1 udp 2122260223 0c4f4a42-6f3e-4f4f-9c3c-8c87d3f7d5d4.local 54321 typ host generation 0 ufrag x9Yz network-cost 999",
    "candidate:842163049 1 udp 1686052607 203.0.113.5 46243 typ srflx raddr 192.168.0.196 rport 46243 generation 0 ufrag Gm4G network-id 1 network-cost 10",
    "candidate:842163049 1 udp 1686052607 203.0.113.5 46243 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Gm4G network-id 1 network-cost 10",
    "candidate:1709251491 1 udp 41885439 198.51.100.7 62233 typ relay raddr 203.0.113.5 rport 46243 generation 0 ufrag Gm4G network-id 1 network-cost 10",
    "candidate:2463045014 1 udp 1677729535 2001:db8::77 61000 typ srflx raddr :: rport 0 generation 0 ufrag Gm4G network-cost 999",
};

static void test_chrome_round_trip(void) {
  for (size_t i = 0; i < MC_ARRAY_LEN(chrome_lines); i++) {
    mc_ice_candidate c;
    int rc = parse(chrome_lines[i], &c);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
      fprintf(stderr, "  line: %s\n", chrome_lines[i]);
      continue;
    }
    char out[MC_ICE_CANDIDATE_STRLEN];
    CHECK_EQ_INT(mc_ice_candidate_format(&c, out, sizeof out), 0);
    CHECK_STR(out, chrome_lines[i]);
    /* With the "a=" prefix and a CRLF, as in SDP. */
    char sdp[600];
    snprintf(sdp, sizeof sdp, "a=%s\r\n", chrome_lines[i]);
    mc_ice_candidate c2;
    CHECK_EQ_INT(parse(sdp, &c2), 0);
    CHECK_EQ_INT(c2.priority, c.priority);
    CHECK_STR(c2.host, c.host);
  }
}

static void test_chrome_fields(void) {
  mc_ice_candidate c;
  CHECK_EQ_INT(parse(chrome_lines[0], &c), 0);
  CHECK_STR(c.foundation, "1467250027");
  CHECK_EQ_INT(c.component, 1);
  CHECK_EQ_INT(c.transport, MC_ICE_TRANSPORT_UDP);
  CHECK_EQ_INT(c.priority, 2122260223u);
  CHECK_STR(c.host, "192.168.0.196");
  CHECK(!c.is_mdns);
  CHECK_EQ_INT(mc_addr_family(&c.addr), AF_INET);
  CHECK_EQ_INT(mc_addr_port(&c.addr), 46243);
  CHECK_EQ_INT(c.type, MC_ICE_CAND_HOST);
  CHECK(!c.has_related);
  CHECK_EQ_INT(c.generation, 0);
  CHECK_STR(c.ufrag, "Gm4G");
  CHECK_EQ_INT(c.network_id, 1);
  CHECK_EQ_INT(c.network_cost, 10);
  char as[MC_ADDR_STRLEN];
  CHECK_STR(mc_addr_str(&c.addr, as), "192.168.0.196:46243");

  CHECK_EQ_INT(parse(chrome_lines[1], &c), 0);
  CHECK_EQ_INT(mc_addr_family(&c.addr), AF_INET6);
  CHECK_STR(mc_addr_str(&c.addr, as), "[2001:db8:1f70:0:999:de8:7648:6e8]:50617");
  CHECK_EQ_INT(c.network_cost, -1);

  CHECK_EQ_INT(parse(chrome_lines[2], &c), 0);
  CHECK(c.is_mdns);
  CHECK_STR(c.host, "0c4f4a42-6f3e-4f4f-9c3c-8c87d3f7d5d4.local");
  CHECK_EQ_INT(mc_addr_family(&c.addr), AF_UNSPEC);
  CHECK_EQ_INT(c.port, 54321);

  CHECK_EQ_INT(parse(chrome_lines[3], &c), 0);
  CHECK_EQ_INT(c.type, MC_ICE_CAND_SRFLX);
  CHECK(c.has_related);
  CHECK_STR(c.related_host, "192.168.0.196");
  CHECK_EQ_INT(c.related_port, 46243);

  CHECK_EQ_INT(parse(chrome_lines[5], &c), 0);
  CHECK_EQ_INT(c.type, MC_ICE_CAND_RELAY);
  CHECK_EQ_INT(c.priority, 41885439u);
}

static void test_firefox(void) {
  mc_ice_candidate c;
  char out[MC_ICE_CANDIDATE_STRLEN];
  CHECK_EQ_INT(parse("candidate:0 1 UDP 2122252543 192.168.1.5 54400 typ host", &c), 0);
  CHECK_STR(c.foundation, "0");
  CHECK_EQ_INT(c.transport, MC_ICE_TRANSPORT_UDP);
  CHECK_EQ_INT(c.generation, -1);
  CHECK_EQ_INT(c.ufrag[0], '\0');
  CHECK_EQ_INT(mc_ice_candidate_format(&c, out, sizeof out), 0);
  CHECK_STR(out, "candidate:0 1 udp 2122252543 192.168.1.5 54400 typ host");

  CHECK_EQ_INT(parse("candidate:1 1 TCP 2105524479 192.168.1.5 9 typ host tcptype active", &c), 0);
  CHECK_EQ_INT(c.transport, MC_ICE_TRANSPORT_TCP);
  CHECK_EQ_INT(c.port, 9);

  CHECK_EQ_INT(parse("candidate:0 1 UDP 2122187007 7a8b2f3e-3a1c-4d9e-8b8f-5c1e2a3b4c5d.local 58712 typ host", &c), 0);
  CHECK(c.is_mdns);
  CHECK_EQ_INT(c.port, 58712);

  CHECK_EQ_INT(parse("candidate:2 1 UDP 1686052863 203.0.113.9 54400 typ srflx raddr 192.168.1.5 rport 54400", &c), 0);
  CHECK_EQ_INT(c.type, MC_ICE_CAND_SRFLX);
  CHECK_EQ_INT(c.related_port, 54400);

  CHECK_EQ_INT(parse("candidate:3 1 UDP 92217343 198.51.100.2 50124 typ relay raddr 198.51.100.2 rport 50124", &c), 0);
  CHECK_EQ_INT(c.type, MC_ICE_CAND_RELAY);

  CHECK_EQ_INT(parse("candidate:4 1 UDP 2122252287 2001:db8::5 50001 typ host", &c), 0);
  CHECK_EQ_INT(mc_addr_family(&c.addr), AF_INET6);
  CHECK_EQ_INT(mc_ice_candidate_format(&c, out, sizeof out), 0);
  CHECK_STR(out, "candidate:4 1 udp 2122252287 2001:db8::5 50001 typ host");

  /* Without the "candidate:" prefix (some signaling strips it), unknown
   * extensions ignored, prflx type. */
  CHECK_EQ_INT(parse("5 1 udp 1853824767 10.0.0.8 40000 typ prflx raddr 10.0.0.8 rport 40000 future-ext 7 generation 3", &c), 0);
  CHECK_EQ_INT(c.type, MC_ICE_CAND_PRFLX);
  CHECK_EQ_INT(c.generation, 3);
}

static void test_bad_lines(void) {
  static const char *const bad[] = {
      "",
      "candidate:",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 host",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ foo",
      "candidate:1 0 udp 2122260223 192.168.0.196 46243 typ host",
      "candidate:1 257 udp 2122260223 192.168.0.196 46243 typ host",
      "candidate:1 1 sctp 2122260223 192.168.0.196 46243 typ host",
      "candidate:1 1 udp 4294967296 192.168.0.196 46243 typ host",
      "candidate:1 1 udp 0 192.168.0.196 46243 typ host",
      "candidate:1 1 udp -5 192.168.0.196 46243 typ host",
      "candidate:1 1 udp 2122260223 300.168.0.196 46243 typ host",
      "candidate:1 1 udp 2122260223 192.168.0.196 65536 typ host",
      "candidate:1 1 udp 2122260223 192.168.0.196 4x243 typ host",
      "candidate:1 1 udp 2122260223 [2001:db8::1] 46243 typ host",
      "candidate:1 1 udp 2122260223 fe80::1%eth0 46243 typ host",
      "candidate:1 1 udp 2122260223 example.com 46243 typ host",
      "candidate:1 1 udp 2122260223 .local 46243 typ host",
      "candidate:1 1 udp 2122260223 a..local 46243 typ host",
      "candidate:123456789012345678901234567890123 1 udp 2122260223 192.168.0.196 46243 typ host",
      "candidate:ab-cd 1 udp 2122260223 192.168.0.196 46243 typ host",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ srflx raddr 10.0.0.1",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ srflx raddr 10.0.0.1 port 5",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ srflx raddr 10.0.0.1 rport 70000",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ host generation",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ host generation x",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ host ufrag a:b",
      "candidate:1 1 udp 2122260223 192.168.0.196\t46243 typ host",
      "candidate:1 1 udp 2122260223 192.168.0.196 46243 typ host typ relay",
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
    mc_ice_candidate c;
    int rc = parse(bad[i], &c);
    if (rc != MC_EPARSE) fprintf(stderr, "accepted bad line: '%s'\n", bad[i]);
    CHECK_EQ_INT(rc, MC_EPARSE);
  }
  /* An embedded NUL: the length rules, not strlen. */
  static const char nul[] = "candidate:1 1 udp 2122260223 192.168.0.196\0 46243 typ host";
  mc_ice_candidate c;
  CHECK_EQ_INT(mc_ice_candidate_parse((const uint8_t *)nul, sizeof nul - 1, &c), MC_EPARSE);
  /* A buffer that is not NUL-terminated parses by its length. */
  const char *ok = "candidate:1 1 udp 2122260223 10.1.2.3 5000 typ hostXXXX";
  CHECK_EQ_INT(mc_ice_candidate_parse((const uint8_t *)ok, strlen(ok) - 4, &c), 0);
  CHECK_EQ_INT(c.port, 5000);
}

static void test_priority(void) {
  /* RFC 8445 5.1.2.1 formula with the recommended type preferences. */
  CHECK_EQ_INT(mc_ice_candidate_priority(126, 65535, 1), 2130706431u);
  CHECK_EQ_INT(mc_ice_candidate_priority(100, 65535, 1), (100u << 24) + (65535u << 8) + 255);
  CHECK_EQ_INT(mc_ice_candidate_priority(0, 0, 1), 255);
  CHECK_EQ_INT(mc_ice_candidate_priority(126, 0, 2), (126u << 24) + 254);
  CHECK_EQ_INT(mc_ice_type_preference(MC_ICE_CAND_HOST), 126);
  CHECK_EQ_INT(mc_ice_type_preference(MC_ICE_CAND_PRFLX), 110);
  CHECK_EQ_INT(mc_ice_type_preference(MC_ICE_CAND_SRFLX), 100);
  CHECK_EQ_INT(mc_ice_type_preference(MC_ICE_CAND_RELAY), 0);
  /* Relay over UDP above TCP above TLS; IPv6 host above IPv4 host. */
  uint16_t udp = mc_ice_local_preference(MC_ICE_CAND_RELAY, AF_INET, 0, MC_TURN_UDP);
  uint16_t tcp = mc_ice_local_preference(MC_ICE_CAND_RELAY, AF_INET, 0, MC_TURN_TCP);
  uint16_t tls = mc_ice_local_preference(MC_ICE_CAND_RELAY, AF_INET, 0, MC_TURN_TLS);
  CHECK(udp > tcp);
  CHECK(tcp > tls);
  /* ...even when the UDP relay comes from a later server. */
  CHECK(mc_ice_local_preference(MC_ICE_CAND_RELAY, AF_INET, 5, MC_TURN_UDP) > tcp);
  CHECK(mc_ice_local_preference(MC_ICE_CAND_HOST, AF_INET6, 0, MC_TURN_UDP) >
        mc_ice_local_preference(MC_ICE_CAND_HOST, AF_INET, 0, MC_TURN_UDP));
  CHECK(mc_ice_local_preference(MC_ICE_CAND_HOST, AF_INET, 0, MC_TURN_UDP) >
        mc_ice_local_preference(MC_ICE_CAND_HOST, AF_INET, 1, MC_TURN_UDP));
  /* Every host candidate beats every srflx, every srflx every relay. */
  uint32_t host_low = mc_ice_candidate_priority(126, 0, 1);
  uint32_t srflx_high = mc_ice_candidate_priority(100, 65535, 1);
  uint32_t relay_high = mc_ice_candidate_priority(0, 65535, 1);
  CHECK(host_low > srflx_high);
  CHECK(srflx_high > relay_high);
}

static void test_pair_priority(void) {
  /* RFC 8445 6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0) */
  CHECK(mc_ice_pair_priority(100, 50) == ((uint64_t)50 << 32) + 200 + 1);
  CHECK(mc_ice_pair_priority(50, 100) == ((uint64_t)50 << 32) + 200);
  CHECK(mc_ice_pair_priority(7, 7) == ((uint64_t)7 << 32) + 14);
  uint64_t max = mc_ice_pair_priority(0xFFFFFFFFu, 0xFFFFFFFFu);
  CHECK(max == ((uint64_t)0xFFFFFFFFu << 32) + 2 * (uint64_t)0xFFFFFFFFu);
  /* Both agents compute the same number for the same pair. */
  uint32_t l = 2130706431u, r = 1694498815u;
  CHECK(mc_ice_pair_priority(l, r) == mc_ice_pair_priority(l, r));
  CHECK(mc_ice_pair_priority(l, r) != mc_ice_pair_priority(r, l));
}

static void test_foundation(void) {
  mc_addr b1, b2, s1, s2, b1p;
  mc_addr_parse("192.168.0.2", 5000, &b1);
  mc_addr_parse("192.168.0.2", 6000, &b1p);
  mc_addr_parse("10.0.0.2", 5000, &b2);
  mc_addr_parse("203.0.113.1", 3478, &s1);
  mc_addr_parse("203.0.113.2", 3478, &s2);
  char f1[MC_ICE_FOUNDATION_MAX + 1], f2[MC_ICE_FOUNDATION_MAX + 1];
  /* Same type, base IP, server IP, transport: same foundation (ports do
   * not count). */
  mc_ice_foundation(MC_ICE_CAND_SRFLX, &b1, &s1, MC_ICE_TRANSPORT_UDP, MC_TURN_UDP, f1);
  mc_ice_foundation(MC_ICE_CAND_SRFLX, &b1p, &s1, MC_ICE_TRANSPORT_UDP, MC_TURN_UDP, f2);
  CHECK_STR(f1, f2);
  mc_ice_foundation(MC_ICE_CAND_SRFLX, &b1, &s2, MC_ICE_TRANSPORT_UDP, MC_TURN_UDP, f2);
  CHECK(strcmp(f1, f2) != 0);
  mc_ice_foundation(MC_ICE_CAND_SRFLX, &b2, &s1, MC_ICE_TRANSPORT_UDP, MC_TURN_UDP, f2);
  CHECK(strcmp(f1, f2) != 0);
  mc_ice_foundation(MC_ICE_CAND_HOST, &b1, NULL, MC_ICE_TRANSPORT_UDP, MC_TURN_UDP, f2);
  CHECK(strcmp(f1, f2) != 0);
  char r1[MC_ICE_FOUNDATION_MAX + 1], r2[MC_ICE_FOUNDATION_MAX + 1];
  mc_ice_foundation(MC_ICE_CAND_RELAY, &b1, &s1, MC_ICE_TRANSPORT_UDP, MC_TURN_UDP, r1);
  mc_ice_foundation(MC_ICE_CAND_RELAY, &b1, &s1, MC_ICE_TRANSPORT_UDP, MC_TURN_TCP, r2);
  CHECK(strcmp(r1, r2) != 0);
  /* The foundation is a valid candidate token. */
  char line[200];
  snprintf(line, sizeof line, "candidate:%s 1 udp 1 10.0.0.1 1 typ host", f1);
  mc_ice_candidate c;
  CHECK_EQ_INT(parse(line, &c), 0);
  CHECK(strlen(f1) >= 1 && strlen(f1) <= 32);
}

static void test_format_local(void) {
  /* What the agent builds for its own candidates. */
  mc_ice_candidate c;
  memset(&c, 0, sizeof c);
  strcpy(c.foundation, "42");
  c.component = 1;
  c.priority = mc_ice_candidate_priority(0, 0xBFFF, 1);
  mc_addr_parse("198.51.100.7", 49152, &c.addr);
  c.type = MC_ICE_CAND_RELAY;
  c.has_related = true;
  strcpy(c.related_host, "203.0.113.5");
  c.related_port = 40000;
  c.generation = 0;
  c.network_id = c.network_cost = -1;
  char out[MC_ICE_CANDIDATE_STRLEN];
  CHECK_EQ_INT(mc_ice_candidate_format(&c, out, sizeof out), 0);
  char want[200];
  snprintf(want, sizeof want, "candidate:42 1 udp %u 198.51.100.7 49152 typ relay raddr 203.0.113.5 rport 40000 generation 0",
           (unsigned)c.priority);
  CHECK_STR(out, want);
  char small[20];
  CHECK_EQ_INT(mc_ice_candidate_format(&c, small, sizeof small), MC_ETOOBIG);
}

/* RFC 6544 4.5 lines as Chromium writes them: a passive candidate on its
 * listening port, an active one on port 9. */
static const char *const chrome_tcp_lines[] = {
    "candidate:2027484457 1 tcp 1518280447 192.168.0.196 9 typ host tcptype active generation 0 ufrag Gm4G network-id 1",
    "candidate:3019234235 1 tcp 1518214911 192.168.0.196 43017 typ host tcptype passive generation 0 ufrag Gm4G network-id 1",
    "candidate:1 1 tcp 1518214911 10.0.0.1 5000 typ host tcptype so",
};

static void test_tcp_lines(void) {
  for (size_t i = 0; i < MC_ARRAY_LEN(chrome_tcp_lines); i++) {
    mc_ice_candidate c;
    CHECK_EQ_INT(parse(chrome_tcp_lines[i], &c), 0);
    CHECK_EQ_INT(c.transport, MC_ICE_TRANSPORT_TCP);
    char out[MC_ICE_CANDIDATE_STRLEN];
    CHECK_EQ_INT(mc_ice_candidate_format(&c, out, sizeof out), 0);
    CHECK_STR(out, chrome_tcp_lines[i]);
  }
  mc_ice_candidate c;
  CHECK_EQ_INT(parse(chrome_tcp_lines[0], &c), 0);
  CHECK_EQ_INT(c.tcptype, MC_ICE_TCPTYPE_ACTIVE);
  CHECK_EQ_INT(c.port, 9);
  CHECK_EQ_INT(parse(chrome_tcp_lines[1], &c), 0);
  CHECK_EQ_INT(c.tcptype, MC_ICE_TCPTYPE_PASSIVE);
  CHECK_EQ_INT(parse(chrome_tcp_lines[2], &c), 0);
  CHECK_EQ_INT(c.tcptype, MC_ICE_TCPTYPE_SO);
  /* "TCP" in capitals, as older agents write it. */
  CHECK_EQ_INT(parse("candidate:1 1 TCP 1518214911 10.0.0.1 5000 typ host tcptype passive", &c), 0);
  CHECK_EQ_INT(c.transport, MC_ICE_TRANSPORT_TCP);
  /* A TCP line without tcptype, or with one we do not know, still parses
   * (the agent never pairs it); tcptype on UDP means nothing. */
  CHECK_EQ_INT(parse("candidate:1 1 tcp 1518214911 10.0.0.1 5000 typ host", &c), 0);
  CHECK_EQ_INT(c.tcptype, MC_ICE_TCPTYPE_NONE);
  CHECK_EQ_INT(parse("candidate:1 1 tcp 1518214911 10.0.0.1 5000 typ host tcptype sideways", &c), 0);
  CHECK_EQ_INT(c.tcptype, MC_ICE_TCPTYPE_NONE);
  CHECK_EQ_INT(parse("candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host tcptype passive", &c), 0);
  CHECK_EQ_INT(c.tcptype, MC_ICE_TCPTYPE_NONE);
  char out[MC_ICE_CANDIDATE_STRLEN];
  CHECK_EQ_INT(mc_ice_candidate_format(&c, out, sizeof out), 0);
  CHECK(strstr(out, "tcptype") == NULL);
  /* A tcptype without its value is malformed. */
  CHECK_EQ_INT(parse("candidate:1 1 tcp 1518214911 10.0.0.1 5000 typ host tcptype", &c), MC_EPARSE);
  CHECK_STR(mc_ice_tcptype_name(MC_ICE_TCPTYPE_ACTIVE), "active");
  CHECK_STR(mc_ice_tcptype_name(MC_ICE_TCPTYPE_PASSIVE), "passive");
}

static void test_tcp_priority(void) {
  /* RFC 6544 4.2: (2^13) * direction-pref + other-pref; active 6, passive
   * 4, S-O 2 for host candidates. */
  uint16_t act = mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_ACTIVE, AF_INET, 0);
  uint16_t pas = mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_PASSIVE, AF_INET, 0);
  uint16_t so = mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_SO, AF_INET, 0);
  CHECK_EQ_INT(act >> 13, 6);
  CHECK_EQ_INT(pas >> 13, 4);
  CHECK_EQ_INT(so >> 13, 2);
  CHECK(mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_ACTIVE, AF_INET6, 0) > act);
  CHECK(mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_ACTIVE, AF_INET, 1) < act);
  CHECK_EQ_INT(mc_ice_tcp_local_preference(MC_ICE_TCPTYPE_PASSIVE, AF_INET, 1000) >> 13, 4);
  /* UDP first: the best TCP host candidate ranks below the worst UDP srflx,
   * and above the best relay. */
  uint32_t tcp_best = mc_ice_candidate_priority(MC_ICE_TYPE_PREF_HOST_TCP, 0xFFFF, 1);
  uint32_t tcp_worst = mc_ice_candidate_priority(MC_ICE_TYPE_PREF_HOST_TCP, 0, 1);
  CHECK(tcp_best < mc_ice_candidate_priority(MC_ICE_TYPE_PREF_SRFLX, 0, 1));
  CHECK(tcp_worst > mc_ice_candidate_priority(MC_ICE_TYPE_PREF_RELAY, 0xFFFF, 1));
  CHECK(mc_ice_candidate_priority(MC_ICE_TYPE_PREF_PRFLX_TCP, 0xFFFF, 1) < tcp_worst);
  /* Foundations differ by transport (RFC 8445 5.1.1.3). */
  mc_addr b;
  mc_addr_parse("192.168.0.2", 0, &b);
  char fu[MC_ICE_FOUNDATION_MAX + 1], ft[MC_ICE_FOUNDATION_MAX + 1];
  mc_ice_foundation(MC_ICE_CAND_HOST, &b, NULL, MC_ICE_TRANSPORT_UDP, MC_TURN_UDP, fu);
  mc_ice_foundation(MC_ICE_CAND_HOST, &b, NULL, MC_ICE_TRANSPORT_TCP, MC_TURN_UDP, ft);
  CHECK(strcmp(fu, ft) != 0);
}

/* ---- RFC 4571 framing ---- */

struct frames {
  size_t n;
  size_t lens[16];
  uint8_t first[16];
  int stop_after; /* return non-zero after this many frames (0: never) */
};

static int on_frame(const uint8_t *f, size_t len, void *user) {
  struct frames *fr = user;
  if (fr->n < 16) {
    fr->lens[fr->n] = len;
    fr->first[fr->n] = len ? f[0] : 0;
  }
  fr->n++;
  return fr->stop_after && (int)fr->n >= fr->stop_after ? MC_ECLOSED : 0;
}

static void test_framer(void) {
  uint8_t hdr[2];
  CHECK_EQ_INT(mc_ice_frame_header(300, hdr), 0);
  CHECK_EQ_INT(hdr[0], 1);
  CHECK_EQ_INT(hdr[1], 44);
  CHECK_EQ_INT(mc_ice_frame_header(MC_ICE_FRAME_MAX, hdr), 0);
  CHECK_EQ_INT(mc_ice_frame_header(MC_ICE_FRAME_MAX + 1, hdr), MC_ETOOBIG);

  /* Three frames (5 bytes, empty, 3 bytes) in one stream. */
  static const uint8_t stream[] = {0, 5, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 3, 'a', 'b', 'c'};
  mc_ice_framer *f = mc_ice_framer_new();
  CHECK(f != NULL);
  struct frames fr = {0};
  CHECK_EQ_INT(mc_ice_framer_push(f, stream, sizeof stream, on_frame, &fr), 0);
  CHECK_EQ_INT(fr.n, 3);
  CHECK_EQ_INT(fr.lens[0], 5);
  CHECK_EQ_INT(fr.first[0], 'h');
  CHECK_EQ_INT(fr.lens[1], 0);
  CHECK_EQ_INT(fr.lens[2], 3);
  CHECK_EQ_INT(fr.first[2], 'a');
  CHECK_EQ_INT(mc_ice_framer_pending(f), 0);
  /* The same stream one byte at a time, and cut at every point. */
  memset(&fr, 0, sizeof fr);
  for (size_t i = 0; i < sizeof stream; i++) CHECK_EQ_INT(mc_ice_framer_push(f, stream + i, 1, on_frame, &fr), 0);
  CHECK_EQ_INT(fr.n, 3);
  CHECK_EQ_INT(fr.lens[0], 5);
  CHECK_EQ_INT(fr.first[2], 'a');
  for (size_t cut = 0; cut <= sizeof stream; cut++) {
    memset(&fr, 0, sizeof fr);
    CHECK_EQ_INT(mc_ice_framer_push(f, stream, cut, on_frame, &fr), 0);
    CHECK_EQ_INT(mc_ice_framer_push(f, stream + cut, sizeof stream - cut, on_frame, &fr), 0);
    CHECK_EQ_INT(fr.n, 3);
    CHECK_EQ_INT(fr.lens[2], 3);
    CHECK_EQ_INT(mc_ice_framer_pending(f), 0);
  }
  /* A partial frame is held until the rest comes. */
  memset(&fr, 0, sizeof fr);
  CHECK_EQ_INT(mc_ice_framer_push(f, stream, 4, on_frame, &fr), 0);
  CHECK_EQ_INT(fr.n, 0);
  CHECK_EQ_INT(mc_ice_framer_pending(f), 4);
  CHECK_EQ_INT(mc_ice_framer_push(f, stream + 4, 3, on_frame, &fr), 0);
  CHECK_EQ_INT(fr.n, 1);
  /* The largest frame, announced and delivered in pieces. */
  size_t big = 2 + MC_ICE_FRAME_MAX;
  uint8_t *b = malloc(big);
  CHECK(b != NULL);
  memset(b, 0x77, big);
  mc_ice_frame_header(MC_ICE_FRAME_MAX, b);
  memset(&fr, 0, sizeof fr);
  for (size_t off = 0; off < big; off += 1000)
    CHECK_EQ_INT(mc_ice_framer_push(f, b + off, MC_MIN((size_t)1000, big - off), on_frame, &fr), 0);
  CHECK_EQ_INT(fr.n, 1);
  CHECK_EQ_INT(fr.lens[0], MC_ICE_FRAME_MAX);
  CHECK_EQ_INT(fr.first[0], 0x77);
  free(b);
  /* The owner stops the push (it closed the stream): the rest is not read. */
  memset(&fr, 0, sizeof fr);
  fr.stop_after = 1;
  CHECK_EQ_INT(mc_ice_framer_push(f, stream, sizeof stream, on_frame, &fr), MC_ECLOSED);
  CHECK_EQ_INT(fr.n, 1);
  CHECK_EQ_INT(mc_ice_framer_push(NULL, stream, 1, on_frame, &fr), MC_EINVAL);
  mc_ice_framer_free(f);
}

int main(void) {
  mc_log_init_from_env();
  test_tcp_lines();
  test_tcp_priority();
  test_framer();
  test_chrome_round_trip();
  test_chrome_fields();
  test_firefox();
  test_bad_lines();
  test_priority();
  test_pair_priority();
  test_foundation();
  test_format_local();
  return CHECK_DONE();
}
