/* net layer: the rtnetlink parser on hand-built datagrams, and the interface
 * watcher in a private network namespace (root only). */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "check.h"
#include "netns.h"
#include "net/net.h"

/* ---------------- hand-built datagrams (host byte order, as the kernel sends) ---------------- */

struct nlbuf {
  uint8_t b[1024];
  size_t len;
  size_t msg; /* where the open message starts */
};

static void nl_put(struct nlbuf *m, const void *p, size_t n) {
  memcpy(m->b + m->len, p, n);
  m->len += n;
  while (m->len % 4) m->b[m->len++] = 0;
}

static void nl_begin(struct nlbuf *m, uint16_t type) {
  struct nlmsghdr h;
  memset(&h, 0, sizeof h);
  h.nlmsg_type = type;
  m->msg = m->len;
  nl_put(m, &h, sizeof h);
}

/* Closes the open message: nlmsg_len is what was put since nl_begin. */
static void nl_end(struct nlbuf *m) {
  uint32_t len = (uint32_t)(m->len - m->msg);
  memcpy(m->b + m->msg, &len, sizeof len);
}

static void nl_attr(struct nlbuf *m, uint16_t type, const void *p, size_t n) {
  struct rtattr a = {(unsigned short)(RTA_LENGTH(n)), type};
  nl_put(m, &a, sizeof a);
  nl_put(m, p, n);
}

static void ip_bytes(const char *ip, uint8_t *out) {
  mc_addr a;
  CHECK_EQ_INT(mc_addr_parse(ip, 0, &a), 0);
  if (mc_addr_family(&a) == AF_INET) memcpy(out, &a.u.in4.sin_addr, 4);
  else memcpy(out, &a.u.in6.sin6_addr, 16);
}

/* One address message: local (IFA_LOCAL, NULL: none) and address
 * (IFA_ADDRESS, NULL: none); ifa_flags as given; IFA_FLAGS when xflags != 0. */
static void nl_addr(struct nlbuf *m, uint16_t type, int family, int ifindex, uint8_t ifa_flags, uint32_t xflags,
                    const char *local, const char *address) {
  nl_begin(m, type);
  struct ifaddrmsg ifa = {(uint8_t)family, family == AF_INET ? 24 : 64, ifa_flags, RT_SCOPE_UNIVERSE,
                          (uint32_t)ifindex};
  nl_put(m, &ifa, sizeof ifa);
  size_t alen = family == AF_INET ? 4 : 16;
  uint8_t ip[16];
  if (address) {
    ip_bytes(address, ip);
    nl_attr(m, IFA_ADDRESS, ip, alen);
  }
  if (local) {
    ip_bytes(local, ip);
    nl_attr(m, IFA_LOCAL, ip, alen);
  }
  if (xflags) nl_attr(m, IFA_FLAGS, &xflags, sizeof xflags);
  nl_end(m);
}

static void nl_link(struct nlbuf *m, uint16_t type, int family, int ifindex, unsigned flags) {
  nl_begin(m, type);
  struct ifinfomsg ifi;
  memset(&ifi, 0, sizeof ifi);
  ifi.ifi_family = (unsigned char)family;
  ifi.ifi_index = ifindex;
  ifi.ifi_flags = flags;
  ifi.ifi_change = 0xffffffff;
  nl_put(m, &ifi, sizeof ifi);
  uint32_t mtu = 1500;
  nl_attr(m, IFLA_MTU, &mtu, sizeof mtu);
  nl_attr(m, IFLA_IFNAME, "eth9", 5);
  nl_end(m);
}

struct events {
  struct mc_net_change ev[16];
  size_t n;
};

static void collect(const struct mc_net_change *ch, void *user) {
  struct events *e = user;
  if (e->n < MC_ARRAY_LEN(e->ev)) e->ev[e->n] = *ch;
  e->n++;
}

static int parse(const struct nlbuf *m, size_t len, struct events *e) {
  memset(e, 0, sizeof *e);
  return mc_net_parse_netlink(m->b, len, collect, e);
}

/* Family, IP and port 0 (and scope for "fe80::1%4"). */
static bool addr_is(const mc_addr *a, const char *ip) {
  mc_addr want;
  return mc_addr_parse(ip, 0, &want) == 0 && mc_addr_equal(a, &want);
}

static void test_parse_addresses(void) {
  struct nlbuf m;
  struct events e;

  /* an IPv4 address added on a broadcast interface: IFA_ADDRESS == IFA_LOCAL */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET, 3, IFA_F_PERMANENT, 0, "192.0.2.5", "192.0.2.5");
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 1);
  CHECK_EQ_INT(e.ev[0].kind, MC_NET_ADDR_ADDED);
  CHECK_EQ_INT(e.ev[0].ifindex, 3);
  CHECK(addr_is(&e.ev[0].addr, "192.0.2.5"));
  CHECK_EQ_INT(mc_addr_port(&e.ev[0].addr), 0);

  /* the same from an unaligned buffer (a fuzzer's or a test's) */
  uint8_t odd[sizeof m.b + 1];
  memcpy(odd + 1, m.b, m.len);
  memset(&e, 0, sizeof e);
  CHECK_EQ_INT(mc_net_parse_netlink(odd + 1, m.len, collect, &e), 0);
  CHECK_EQ_INT(e.n, 1);
  CHECK(addr_is(&e.ev[0].addr, "192.0.2.5"));

  /* point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET, 7, 0, 0, "10.0.0.1", "10.0.0.2");
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 1);
  CHECK(addr_is(&e.ev[0].addr, "10.0.0.1"));

  /* an IPv6 address deleted (IFA_ADDRESS only, as the kernel sends IPv6) */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_DELADDR, AF_INET6, 4, 0, IFA_F_PERMANENT, NULL, "2001:db8::7");
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 1);
  CHECK_EQ_INT(e.ev[0].kind, MC_NET_ADDR_REMOVED);
  CHECK_EQ_INT(e.ev[0].ifindex, 4);
  CHECK(addr_is(&e.ev[0].addr, "2001:db8::7"));
  CHECK_EQ_INT(e.ev[0].addr.u.in6.sin6_scope_id, 0);

  /* link-local: reported, with the interface as its scope */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET6, 4, 0, IFA_F_PERMANENT, NULL, "fe80::1");
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 1);
  CHECK(addr_is(&e.ev[0].addr, "fe80::1%4"));

  /* tentative (DAD running): not yet; optimistic: usable; DAD failed: never.
   * IFA_FLAGS, when present, is the whole story. */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET6, 4, IFA_F_TENTATIVE, 0, NULL, "2001:db8::8");
  nl_addr(&m, RTM_NEWADDR, AF_INET6, 4, IFA_F_TENTATIVE, IFA_F_TENTATIVE | IFA_F_NOPREFIXROUTE, NULL, "2001:db8::8");
  nl_addr(&m, RTM_NEWADDR, AF_INET6, 4, 0, IFA_F_DADFAILED, NULL, "2001:db8::8");
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 0);
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET6, 4, IFA_F_TENTATIVE, IFA_F_TENTATIVE | IFA_F_OPTIMISTIC, NULL, "2001:db8::9");
  nl_addr(&m, RTM_DELADDR, AF_INET6, 4, IFA_F_TENTATIVE, 0, NULL, "2001:db8::8");
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 2);
  CHECK(e.ev[0].kind == MC_NET_ADDR_ADDED && addr_is(&e.ev[0].addr, "2001:db8::9"));
  CHECK(e.ev[1].kind == MC_NET_ADDR_REMOVED && addr_is(&e.ev[1].addr, "2001:db8::8"));

  /* no address attribute, or a family that is not IP: nothing to say */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET, 3, 0, 0, NULL, NULL);
  nl_addr(&m, RTM_NEWADDR, AF_PACKET, 3, 0, 0, NULL, NULL);
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 0);
}

static void test_parse_links(void) {
  struct nlbuf m;
  struct events e;
  memset(&m, 0, sizeof m);
  nl_link(&m, RTM_NEWLINK, AF_UNSPEC, 5, IFF_UP | IFF_BROADCAST);                  /* up, no carrier */
  nl_link(&m, RTM_NEWLINK, AF_UNSPEC, 5, IFF_UP | IFF_RUNNING | IFF_BROADCAST);    /* up and running */
  nl_link(&m, RTM_NEWLINK, AF_BRIDGE, 5, IFF_UP | IFF_RUNNING);                    /* a bridge port: skipped */
  nl_link(&m, RTM_DELLINK, AF_BRIDGE, 5, IFF_UP | IFF_RUNNING);                    /* left the bridge: skipped */
  nl_link(&m, RTM_NEWLINK, AF_UNSPEC, 6, IFF_RUNNING);                             /* down by the administrator */
  nl_link(&m, RTM_DELLINK, AF_UNSPEC, 5, IFF_UP | IFF_RUNNING);                    /* gone */
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 4);
  CHECK(e.ev[0].kind == MC_NET_LINK_DOWN && e.ev[0].ifindex == 5);
  CHECK(e.ev[1].kind == MC_NET_LINK_UP && e.ev[1].ifindex == 5);
  CHECK(e.ev[2].kind == MC_NET_LINK_DOWN && e.ev[2].ifindex == 6);
  CHECK(e.ev[3].kind == MC_NET_LINK_DOWN && e.ev[3].ifindex == 5);
  CHECK_EQ_INT(mc_addr_family(&e.ev[0].addr), AF_UNSPEC);
}

static void test_parse_mixed_and_skipped(void) {
  struct nlbuf m;
  struct events e;
  memset(&m, 0, sizeof m);
  nl_begin(&m, NLMSG_NOOP);
  nl_end(&m);
  nl_link(&m, RTM_NEWLINK, AF_UNSPEC, 2, IFF_UP | IFF_RUNNING);
  struct rtmsg rt;
  memset(&rt, 0, sizeof rt);
  nl_begin(&m, RTM_NEWROUTE);
  nl_put(&m, &rt, sizeof rt);
  nl_end(&m);
  nl_addr(&m, RTM_NEWADDR, AF_INET, 2, 0, 0, "198.51.100.1", "198.51.100.1");
  nl_begin(&m, 0x7777); /* unknown type */
  nl_put(&m, "junk", 4);
  nl_end(&m);
  int32_t zero = 0;
  nl_begin(&m, NLMSG_DONE);
  nl_put(&m, &zero, sizeof zero);
  nl_end(&m);
  CHECK_EQ_INT(parse(&m, m.len, &e), 0);
  CHECK_EQ_INT(e.n, 2);
  CHECK(e.ev[0].kind == MC_NET_LINK_UP && e.ev[0].ifindex == 2);
  CHECK(e.ev[1].kind == MC_NET_ADDR_ADDED && addr_is(&e.ev[1].addr, "198.51.100.1"));

  /* the last message's padding may be missing: an attribute of 6 bytes */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET, 2, 0, 0, "198.51.100.2", NULL);
  nl_attr(&m, IFA_LABEL, "v0", 3);
  nl_end(&m);
  size_t unpadded = m.len - 1; /* "v0\0" is 7 bytes of attribute, padded to 8 */
  uint32_t len = (uint32_t)unpadded;
  memcpy(m.b, &len, sizeof len);
  CHECK_EQ_INT(parse(&m, unpadded, &e), 0);
  CHECK_EQ_INT(e.n, 1);

  /* nothing at all */
  CHECK_EQ_INT(parse(&m, 0, &e), 0);
  CHECK_EQ_INT(e.n, 0);
  CHECK_EQ_INT(mc_net_parse_netlink(NULL, 0, collect, &e), 0);
  CHECK_EQ_INT(mc_net_parse_netlink(NULL, 4, collect, &e), MC_EINVAL);
  CHECK_EQ_INT(mc_net_parse_netlink(m.b, m.len, NULL, &e), MC_EINVAL);
}

/* Malformed: MC_EPARSE, after what came before it was reported. */
static void test_parse_malformed(void) {
  struct nlbuf m;
  struct events e;

  /* a lying rta_len: longer than what is left of the message */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET, 3, 0, 0, "192.0.2.5", NULL);
  size_t rta = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifaddrmsg));
  uint16_t lie = 200;
  memcpy(m.b + rta, &lie, sizeof lie);
  CHECK_EQ_INT(parse(&m, m.len, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 0);
  /* ... or shorter than an attribute header (would never advance) */
  lie = 2;
  memcpy(m.b + rta, &lie, sizeof lie);
  CHECK_EQ_INT(parse(&m, m.len, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 0);
  /* ... or an address of the wrong size for the family */
  lie = RTA_LENGTH(2);
  memcpy(m.b + rta, &lie, sizeof lie);
  CHECK_EQ_INT(parse(&m, m.len, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 0);

  /* a valid message, then the liar: the first is reported */
  memset(&m, 0, sizeof m);
  nl_link(&m, RTM_NEWLINK, AF_UNSPEC, 9, IFF_UP | IFF_RUNNING);
  size_t second = m.len;
  nl_addr(&m, RTM_DELADDR, AF_INET6, 9, 0, 0, NULL, "2001:db8::7");
  lie = 0xffff;
  memcpy(m.b + second + rta, &lie, sizeof lie);
  CHECK_EQ_INT(parse(&m, m.len, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 1);
  CHECK(e.ev[0].kind == MC_NET_LINK_UP && e.ev[0].ifindex == 9);

  /* a truncated nlmsghdr: alone, and after a valid message */
  memset(&m, 0, sizeof m);
  nl_addr(&m, RTM_NEWADDR, AF_INET, 3, 0, 0, "192.0.2.5", "192.0.2.5");
  size_t one = m.len;
  CHECK_EQ_INT(parse(&m, 10, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 0);
  memset(m.b + one, 0x41, 8);
  CHECK_EQ_INT(parse(&m, one + 8, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 1);
  /* the message cut short of its nlmsg_len */
  CHECK_EQ_INT(parse(&m, one - 4, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 0);

  /* nlmsg_len smaller than the header (0 would never advance), or than the
   * ifaddrmsg / ifinfomsg its type needs */
  uint32_t bad[] = {0, 8, NLMSG_HDRLEN - 1};
  for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
    memset(&m, 0, sizeof m);
    nl_addr(&m, RTM_NEWADDR, AF_INET, 3, 0, 0, "192.0.2.5", "192.0.2.5");
    memcpy(m.b, &bad[i], sizeof bad[i]);
    CHECK_EQ_INT(parse(&m, m.len, &e), MC_EPARSE);
    CHECK_EQ_INT(e.n, 0);
  }
  memset(&m, 0, sizeof m);
  nl_begin(&m, RTM_NEWADDR);
  nl_put(&m, "abcd", 4);
  nl_end(&m);
  CHECK_EQ_INT(parse(&m, m.len, &e), MC_EPARSE);
  memset(&m, 0, sizeof m);
  nl_begin(&m, RTM_DELLINK);
  nl_put(&m, "abcdefgh", 8);
  nl_end(&m);
  CHECK_EQ_INT(parse(&m, m.len, &e), MC_EPARSE);
  CHECK_EQ_INT(e.n, 0);
}

/* ---------------- the watcher in a private network namespace ---------------- */

struct ns_ctx {
  struct mc_net_change ev[512];
  size_t n;
  mc_net_watch *w;
  const char *stop_ip; /* stop the watcher from inside the callback for this address */
  size_t n_at_stop;
};

static void ns_collect(const struct mc_net_change *ch, void *user) {
  struct ns_ctx *c = user;
  if (c->n < MC_ARRAY_LEN(c->ev)) c->ev[c->n++] = *ch;
  if (c->stop_ip && ch->kind == MC_NET_ADDR_ADDED && addr_is(&ch->addr, c->stop_ip)) {
    c->stop_ip = NULL;
    mc_net_watch_stop(c->w);
    mc_net_watch_stop(c->w); /* twice is harmless */
    c->n_at_stop = c->n;
  }
}

/* Events of kind on ifindex (and, for addresses, ip). */
static size_t count(const struct ns_ctx *c, enum mc_net_change_kind kind, int ifindex, const char *ip) {
  size_t k = 0;
  for (size_t i = 0; i < c->n; i++)
    if (c->ev[i].kind == kind && c->ev[i].ifindex == ifindex && (!ip || addr_is(&c->ev[i].addr, ip))) k++;
  return k;
}

static size_t count_links(const struct ns_ctx *c) {
  size_t k = 0;
  for (size_t i = 0; i < c->n; i++) k += c->ev[i].kind == MC_NET_LINK_UP || c->ev[i].kind == MC_NET_LINK_DOWN;
  return k;
}

static void on_guard(uv_timer_t *t) { *(bool *)t->data = true; }

/* Runs the loop until the event has come or the guard fires (a hang guard,
 * not a timing assertion). */
static bool wait_event(uv_loop_t *loop, struct ns_ctx *c, enum mc_net_change_kind kind, int ifindex,
                       const char *ip) {
  bool expired = false;
  uv_timer_t guard;
  uv_timer_init(loop, &guard);
  guard.data = &expired;
  uv_timer_start(&guard, on_guard, 10000, 0);
  while (count(c, kind, ifindex, ip) == 0 && !expired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  if (expired) fprintf(stderr, "wait_event: guard expired kind=%d ifindex=%d ip=%s\n", kind, ifindex, ip ? ip : "-");
  return !expired;
}

/* Carrier comes through the kernel's linkwatch work, up to a second after
 * "ip link set up" returns: wait for it so the watcher starts on a settled
 * state. */
static bool wait_running(const char *name) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  for (int i = 0; i < 500 && !ok; i++) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING);
    if (!ok) usleep(10000);
  }
  close(fd);
  return ok;
}

static int sh(const char *cmd) {
  int rc = system(cmd);
  if (rc != 0) fprintf(stderr, "command failed: %s\n", cmd);
  return rc;
}

static int watch_child(void) {
  check_failures = check_count = 0;
  if (system("ip link add v0 type veth peer name v1 && ip link set v0 up && ip link set v1 up") != 0)
    return NETNS_SKIP;
  CHECK(wait_running("v0") && wait_running("v1"));
  int v0 = (int)if_nametoindex("v0");
  CHECK(v0 > 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  static struct ns_ctx c;
  memset(&c, 0, sizeof c);
  /* Opened here, after unshare: the socket sees this namespace only. */
  CHECK_EQ_INT(mc_net_watch_start(&loop, ns_collect, &c, &c.w), 0);
  if (!c.w) return CHECK_DONE();

  CHECK_EQ_INT(sh("ip addr add 203.0.113.7/24 dev v0"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_ADDR_ADDED, v0, "203.0.113.7"));
  /* The links were up before the watcher started: its seeding dump is
   * silent, so no link event came before the address. */
  CHECK_EQ_INT(count_links(&c), 0);
  CHECK_EQ_INT(sh("ip addr del 203.0.113.7/24 dev v0"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_ADDR_REMOVED, v0, "203.0.113.7"));
  CHECK_EQ_INT(count(&c, MC_NET_ADDR_ADDED, v0, "203.0.113.7"), 1);

  /* IPv6 with duplicate address detection: reported once, when it passed */
  CHECK_EQ_INT(sh("ip -6 addr add 2001:db8::8/64 dev v0"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_ADDR_ADDED, v0, "2001:db8::8"));
  CHECK(system("ip -6 addr show dev v0 | grep '2001:db8::8' | grep -q tentative") != 0);

  /* Down and up again: "ip link set" and the carrier change each send
   * RTM_NEWLINK; one transition each way comes out. */
  CHECK_EQ_INT(sh("ip link set v0 down"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_LINK_DOWN, v0, NULL));
  CHECK_EQ_INT(sh("ip link set v0 up"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_LINK_UP, v0, NULL));
  CHECK_EQ_INT(count(&c, MC_NET_LINK_DOWN, v0, NULL), 1);
  CHECK_EQ_INT(count(&c, MC_NET_LINK_UP, v0, NULL), 1);
  /* the addresses went with the link (IPv6 drops them on down) */
  CHECK_EQ_INT(count(&c, MC_NET_ADDR_REMOVED, v0, "2001:db8::8"), 1);

  /* A new interface that appears down is no change; up it is; deleted while
   * up it is LINK_DOWN. */
  CHECK_EQ_INT(sh("ip link add v2 type veth peer name v3"), 0);
  int v2 = (int)if_nametoindex("v2");
  CHECK(v2 > 0);
  CHECK_EQ_INT(sh("ip link set v2 up && ip link set v3 up"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_LINK_UP, v2, NULL));
  CHECK_EQ_INT(sh("ip link del v2"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_LINK_DOWN, v2, NULL));
  CHECK_EQ_INT(count(&c, MC_NET_LINK_DOWN, v2, NULL), 1);
  CHECK_EQ_INT(count(&c, MC_NET_LINK_UP, v2, NULL), 1);

  /* Stopped from inside a callback while more changes are queued (v0 down
   * removes addresses and v1 loses carrier): nothing after it. */
  c.stop_ip = "203.0.113.8";
  CHECK_EQ_INT(sh("ip addr add 203.0.113.8/24 dev v0 && ip link set v0 down"), 0);
  CHECK(wait_event(&loop, &c, MC_NET_ADDR_ADDED, v0, "203.0.113.8"));
  CHECK_EQ_INT(sh("ip link set v0 up && ip addr add 203.0.113.9/24 dev v0"), 0);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once the watcher's handle is closed */
  CHECK(c.n_at_stop > 0);
  CHECK_EQ_INT(c.n, c.n_at_stop);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  for (size_t i = 0; i < c.n; i++) {
    char buf[MC_ADDR_STRLEN];
    fprintf(stderr, "event %zu kind=%d ifindex=%d addr=%s\n", i, c.ev[i].kind, c.ev[i].ifindex,
            mc_addr_ip_str(&c.ev[i].addr, buf));
  }
  return CHECK_DONE();
}

static void test_watch_ns(void) {
  int st = 0;
  if (!netns_run("netwatch namespace test", NULL, watch_child, &st)) return;
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_watch_args(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  mc_net_watch *w = NULL;
  struct ns_ctx *c = calloc(1, sizeof *c);
  CHECK_EQ_INT(mc_net_watch_start(NULL, ns_collect, c, &w), MC_EINVAL);
  CHECK_EQ_INT(mc_net_watch_start(&loop, NULL, c, &w), MC_EINVAL);
  CHECK_EQ_INT(mc_net_watch_start(&loop, ns_collect, c, NULL), MC_EINVAL);
  mc_net_watch_stop(NULL);
  /* Any user may open an rtnetlink socket and listen: start and stop in the
   * host's namespace, touching nothing. */
  CHECK_EQ_INT(mc_net_watch_start(&loop, ns_collect, c, &w), 0);
  mc_net_watch_stop(w);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  free(c);
}

int main(void) {
  mc_log_init_from_env();
  test_parse_addresses();
  test_parse_links();
  test_parse_mixed_and_skipped();
  test_parse_malformed();
  test_watch_args();
  test_watch_ns();
  return CHECK_DONE();
}
