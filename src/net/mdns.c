/* mDNS (RFC 6762) one-shot lookups and a responder for our own hidden host
 * names (draft-ietf-mmusic-mdns-ice-candidates). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "net/net.h"

/* RFC 6762 5.1 lets a one-shot querier retransmit; the first retry comes
 * soon because a lost packet on a LAN is the common case, later ones back off
 * (5.2: intervals at least double). */
#define MDNS_FIRST_RETRY_MS 250
#define MDNS_MAX_RETRY_MS 1000
/* RFC 6762 11: send with IP TTL / hop limit 255. */
#define MDNS_TTL 255
#define MDNS_GROUP4 "224.0.0.251"
#define MDNS_GROUP6 "ff02::fb"
#define MDNS_MAX_ADDRS 8
#define MDNS_MSG_MAX 9000 /* RFC 6762 17 */

struct mdns_sock {
  uv_udp_t h;
  bool open;
};


/* RFC 6762 15.1: several mDNS programs on one host share port 5353, so the
 * socket is made by hand with SO_REUSEADDR and SO_REUSEPORT before bind, and
 * joins the group on every multicast-capable interface. */
static int open_group_socket(uv_loop_t *loop, int fam, struct mdns_sock *s, void *data, uv_alloc_cb alloc,
                             uv_udp_recv_cb recv) {
  int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return MC_EIO;
  int one = 1, ttl = MDNS_TTL;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
#ifdef SO_REUSEPORT
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
#endif
  mc_addr any;
  if (fam == AF_INET) {
    mc_addr_parse("0.0.0.0", MC_MDNS_PORT, &any);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof one);
  } else {
    mc_addr_parse("::", MC_MDNS_PORT, &any);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &one, sizeof one);
  }
  if (bind(fd, &any.u.sa, mc_addr_len(&any)) != 0) {
    MC_LOGI("mdns", "cannot bind port 5353 family=%d err=%s", fam, strerror(errno));
    close(fd);
    return MC_EIO;
  }
  /* Join the group on every multicast-capable interface that is up. */
  int joined = 0;
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) == 0) {
    unsigned done[32];
    size_t ndone = 0;
    for (struct ifaddrs *it = ifs; it; it = it->ifa_next) {
      if (!it->ifa_addr || it->ifa_addr->sa_family != fam) continue;
      if ((it->ifa_flags & (IFF_UP | IFF_MULTICAST)) != (IFF_UP | IFF_MULTICAST)) continue;
      unsigned idx = if_nametoindex(it->ifa_name);
      bool seen = false;
      for (size_t i = 0; i < ndone; i++) seen = seen || done[i] == idx;
      if (!idx || seen || ndone == MC_ARRAY_LEN(done)) continue;
      done[ndone++] = idx;
      int rc;
      if (fam == AF_INET) {
        struct ip_mreqn m;
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET, MDNS_GROUP4, &m.imr_multiaddr);
        m.imr_ifindex = (int)idx;
        rc = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
      } else {
        struct ipv6_mreq m;
        memset(&m, 0, sizeof m);
        inet_pton(AF_INET6, MDNS_GROUP6, &m.ipv6mr_multiaddr);
        m.ipv6mr_interface = idx;
        rc = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
      }
      if (rc == 0) joined++;
      else MC_LOGD("mdns", "join failed if=%s family=%d err=%s", it->ifa_name, fam, strerror(errno));
    }
    freeifaddrs(ifs);
  }
  if (joined == 0) {
    close(fd);
    return MC_EIO;
  }
  if (uv_udp_init(loop, &s->h) != 0) {
    close(fd);
    return MC_EIO;
  }
  s->h.data = data;
  s->open = true;
  if (uv_udp_open(&s->h, fd) != 0) {
    close(fd);
    return MC_EIO;
  }
  if (uv_udp_recv_start(&s->h, alloc, recv) != 0) return MC_EIO;
  return 0;
}

/* ---- one-shot resolution ---- */

struct mc_mdns_query {
  struct mdns_sock s4, s6;
  /* Listens on 5353 for answers a responder multicasts instead of sending
   * them back to our port; best effort. */
  struct mdns_sock g4;
  uv_timer_t retry, deadline;
  int handles; /* still open; freed at zero */
  bool finished;
  mc_resolve_cb cb;
  void *user;
  uint16_t id;
  uint64_t retry_ms;
  char name[MC_DNS_NAME_MAX];
  uint8_t msg[512];
  size_t msg_len;
  uint8_t rx[MDNS_MSG_MAX];
};

static void query_handle_closed(uv_handle_t *h) {
  mc_mdns_query *q = h->data;
  if (--q->handles == 0) free(q);
}

static void query_close(mc_mdns_query *q) {
  q->finished = true;
  uv_close((uv_handle_t *)&q->retry, query_handle_closed);
  uv_close((uv_handle_t *)&q->deadline, query_handle_closed);
  if (q->s4.open) uv_close((uv_handle_t *)&q->s4.h, query_handle_closed);
  if (q->s6.open) uv_close((uv_handle_t *)&q->s6.h, query_handle_closed);
  if (q->g4.open) uv_close((uv_handle_t *)&q->g4.h, query_handle_closed);
}

static void query_finish(mc_mdns_query *q, int err, const mc_addr *addrs, size_t n) {
  if (q->finished) return;
  q->finished = true;
  MC_LOGD("mdns", "lookup done name=%s err=%d count=%zu", q->name, err, n);
  q->cb(err, addrs, n, q->user);
  query_close(q);
}

static int query_send(mc_mdns_query *q) {
  int sent = 0;
  mc_addr g;
  uv_buf_t b = uv_buf_init((char *)q->msg, (unsigned)q->msg_len);
  if (q->s4.open && mc_addr_parse(MDNS_GROUP4, MC_MDNS_PORT, &g) == 0 &&
      uv_udp_try_send(&q->s4.h, &b, 1, &g.u.sa) >= 0)
    sent++;
  if (q->s6.open && mc_addr_parse(MDNS_GROUP6, MC_MDNS_PORT, &g) == 0 &&
      uv_udp_try_send(&q->s6.h, &b, 1, &g.u.sa) >= 0)
    sent++;
  return sent;
}

static void on_query_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  mc_mdns_query *q = h->data;
  buf->base = (char *)q->rx;
  buf->len = sizeof q->rx;
}

static void on_query_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                          unsigned flags) {
  mc_mdns_query *q = h->data;
  if (q->finished || nread <= 0 || !from || (flags & UV_UDP_PARTIAL)) return;
  mc_addr addrs[MDNS_MAX_ADDRS];
  size_t n = 0;
  if (mc_mdns_parse_response((const uint8_t *)buf->base, (size_t)nread, q->name, addrs, MDNS_MAX_ADDRS, &n) != 0)
    return;
  query_finish(q, 0, addrs, n);
}

static void on_retry(uv_timer_t *t) {
  mc_mdns_query *q = t->data;
  if (q->finished) return;
  query_send(q);
  q->retry_ms = MC_MIN(q->retry_ms * 2, (uint64_t)MDNS_MAX_RETRY_MS);
  uv_timer_start(&q->retry, on_retry, q->retry_ms, 0);
}

static void on_deadline(uv_timer_t *t) { query_finish(t->data, MC_ETIMEDOUT, NULL, 0); }

static int open_query_socket(uv_loop_t *loop, int fam, struct mdns_sock *s, void *data) {
  if (uv_udp_init_ex(loop, &s->h, (unsigned)fam) != 0) return MC_EIO;
  s->h.data = data;
  s->open = true;
  mc_addr any;
  mc_addr_parse(fam == AF_INET ? "0.0.0.0" : "::", 0, &any);
  if (uv_udp_bind(&s->h, &any.u.sa, fam == AF_INET6 ? UV_UDP_IPV6ONLY : 0) != 0) return MC_EIO;
  /* Our own responder (or another app on this host) must hear us. */
  uv_udp_set_multicast_loop(&s->h, 1);
  uv_udp_set_multicast_ttl(&s->h, MDNS_TTL);
  if (uv_udp_recv_start(&s->h, on_query_alloc, on_query_recv) != 0) return MC_EIO;
  return 0;
}

static bool have_ipv6(void) {
  mc_addr list[16];
  size_t n = 0;
  if (mc_net_local_addresses(list, MC_ARRAY_LEN(list), &n) != 0) return false;
  for (size_t i = 0; i < n; i++)
    if (mc_addr_family(&list[i]) == AF_INET6 && !mc_addr_is_loopback(&list[i])) return true;
  return false;
}

int mc_mdns_resolve(uv_loop_t *loop, const char *name, uint64_t timeout_ms, mc_resolve_cb cb, void *user,
                    mc_mdns_query **out) {
  if (!loop || !name || !cb) return MC_EINVAL;
  size_t nl = strlen(name);
  if (nl < 7 || strcasecmp(name + nl - 6, ".local") != 0) return MC_EINVAL;
  if (out) *out = NULL;
  mc_mdns_query *q = calloc(1, sizeof *q);
  if (!q) return MC_ENOMEM;
  q->cb = cb;
  q->user = user;
  q->id = (uint16_t)mc_random_u32();
  if (mc_strcpy(q->name, sizeof q->name, name) != 0 ||
      mc_mdns_build_query(q->id, name, q->msg, sizeof q->msg, &q->msg_len) != 0) {
    free(q);
    return MC_EINVAL;
  }
  uv_timer_init(loop, &q->retry);
  uv_timer_init(loop, &q->deadline);
  q->retry.data = q->deadline.data = q;
  q->handles = 2;
  struct {
    struct mdns_sock *s;
    int rc;
  } socks[3] = {{&q->s4, MC_EIO}, {&q->g4, MC_EIO}, {&q->s6, MC_EIO}};
  socks[0].rc = open_query_socket(loop, AF_INET, &q->s4, q);
  if (q->s4.open) q->handles++;
  if (socks[0].rc == 0) {
    /* RFC 6762 6.7 obliges responders to answer a query from a port other
     * than 5353 by unicast, but some answer on the group anyway. Best effort. */
    socks[1].rc = open_group_socket(loop, AF_INET, &q->g4, q, on_query_alloc, on_query_recv);
    if (q->g4.open) q->handles++;
  }
  if (have_ipv6()) {
    socks[2].rc = open_query_socket(loop, AF_INET6, &q->s6, q);
    if (q->s6.open) q->handles++;
  }
  for (size_t i = 0; i < MC_ARRAY_LEN(socks); i++) {
    if (socks[i].rc != 0 && socks[i].s->open) {
      uv_close((uv_handle_t *)&socks[i].s->h, query_handle_closed);
      socks[i].s->open = false;
    }
  }
  if (query_send(q) == 0) {
    MC_LOGI("mdns", "cannot send query name=%s", name);
    query_close(q);
    return MC_EIO;
  }
  q->retry_ms = MDNS_FIRST_RETRY_MS;
  uv_timer_start(&q->retry, on_retry, q->retry_ms, 0);
  uv_timer_start(&q->deadline, on_deadline, timeout_ms, 0);
  if (out) *out = q;
  return 0;
}

void mc_mdns_cancel(mc_mdns_query *q) {
  if (!q || q->finished) return;
  query_close(q);
}

/* ---- responder ---- */

struct mdns_entry {
  char name[MC_DNS_NAME_MAX];
  mc_addr ip;
};

struct mc_mdns_responder {
  struct mdns_sock s4, s6;
  int handles;
  bool stopping;
  struct mdns_entry *entries;
  size_t n_entries, cap_entries;
  uint8_t rx[MDNS_MSG_MAX];
};

static void on_responder_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  mc_mdns_responder *r = h->data;
  buf->base = (char *)r->rx;
  buf->len = sizeof r->rx;
}

static void responder_handle_closed(uv_handle_t *h) {
  mc_mdns_responder *r = h->data;
  if (--r->handles == 0) {
    free(r->entries);
    free(r);
  }
}

static void responder_reply(mc_mdns_responder *r, uv_udp_t *h, const mc_addr *from, uint16_t id,
                            const struct mc_mdns_question *qs, size_t nq) {
  for (size_t e = 0; e < r->n_entries; e++) {
    const char *name = r->entries[e].name;
    bool want4 = false, want6 = false, unicast = false;
    uint16_t qtype = 0;
    for (size_t i = 0; i < nq; i++) {
      if (strcasecmp(qs[i].name, name) != 0) continue;
      if (qs[i].type == MC_DNS_TYPE_A || qs[i].type == MC_DNS_TYPE_ANY) want4 = true;
      if (qs[i].type == MC_DNS_TYPE_AAAA || qs[i].type == MC_DNS_TYPE_ANY) want6 = true;
      if (qs[i].type == MC_DNS_TYPE_A || qs[i].type == MC_DNS_TYPE_AAAA || qs[i].type == MC_DNS_TYPE_ANY) {
        if (!qtype) qtype = qs[i].type;
        unicast = unicast || qs[i].unicast;
      }
    }
    if (!qtype) continue;
    mc_addr answers[MDNS_MAX_ADDRS];
    size_t na = 0;
    for (size_t k = e; k < r->n_entries && na < MDNS_MAX_ADDRS; k++) {
      if (strcasecmp(r->entries[k].name, name) != 0) continue;
      int fam = mc_addr_family(&r->entries[k].ip);
      if ((fam == AF_INET && want4) || (fam == AF_INET6 && want6)) answers[na++] = r->entries[k].ip;
    }
    /* RFC 6762 6.2: without a record of the asked type we stay silent. */
    if (na == 0) continue;
    /* RFC 6762 6.7: a query from a port other than 5353 is a legacy
     * resolver, answered by unicast with its id and question. */
    bool legacy = mc_addr_port(from) != MC_MDNS_PORT;
    uint8_t msg[1024];
    size_t len;
    if (mc_mdns_build_response(id, name, answers, na, legacy, qtype, msg, sizeof msg, &len) != 0) continue;
    mc_addr to = *from;
    /* RFC 6762 5.4 / 6: QU and legacy questions get unicast, others the group. */
    if (!legacy && !unicast)
      mc_addr_parse(mc_addr_family(from) == AF_INET ? MDNS_GROUP4 : MDNS_GROUP6, MC_MDNS_PORT, &to);
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);
    char as[MC_ADDR_STRLEN];
    int rc = uv_udp_try_send(h, &b, 1, &to.u.sa);
    MC_LOGD("mdns", "answered name=%s to=%s legacy=%d rc=%d", name, mc_addr_str(&to, as), legacy, rc);
    return; /* names are unique: one answer per query */
  }
}

static void on_responder_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *from,
                              unsigned flags) {
  mc_mdns_responder *r = h->data;
  if (r->stopping || nread <= 0 || !from || (flags & UV_UDP_PARTIAL) || r->n_entries == 0) return;
  struct mc_mdns_question qs[8];
  size_t nq = 0;
  uint16_t id = 0;
  if (mc_mdns_parse_query((const uint8_t *)buf->base, (size_t)nread, &id, qs, MC_ARRAY_LEN(qs), &nq) != 0) return;
  mc_addr src;
  if (mc_addr_from_sockaddr(from, &src) != 0) return;
  responder_reply(r, h, &src, id, qs, nq);
}

int mc_mdns_responder_start(uv_loop_t *loop, mc_mdns_responder **out) {
  if (!loop || !out) return MC_EINVAL;
  *out = NULL;
  mc_mdns_responder *r = calloc(1, sizeof *r);
  if (!r) return MC_ENOMEM;
  int rc4 = open_group_socket(loop, AF_INET, &r->s4, r, on_responder_alloc, on_responder_recv);
  if (r->s4.open) r->handles++;
  int rc6 = open_group_socket(loop, AF_INET6, &r->s6, r, on_responder_alloc, on_responder_recv);
  if (r->s6.open) r->handles++;
  if (rc4 != 0 && rc6 != 0) {
    MC_LOGW("mdns", "responder could not start: port 5353 unavailable or no multicast interface");
    r->stopping = true;
    if (r->handles == 0) {
      free(r);
    } else {
      if (r->s4.open) uv_close((uv_handle_t *)&r->s4.h, responder_handle_closed);
      if (r->s6.open) uv_close((uv_handle_t *)&r->s6.h, responder_handle_closed);
    }
    return MC_EIO;
  }
  if (rc4 != 0 && r->s4.open) {
    uv_close((uv_handle_t *)&r->s4.h, responder_handle_closed);
    r->s4.open = false;
  }
  if (rc6 != 0 && r->s6.open) {
    uv_close((uv_handle_t *)&r->s6.h, responder_handle_closed);
    r->s6.open = false;
  }
  MC_LOGD("mdns", "responder started ipv4=%d ipv6=%d", rc4 == 0, rc6 == 0);
  *out = r;
  return 0;
}

/* draft-ietf-mmusic-mdns-ice-candidates 3.1.1: the name is a fresh version 4
 * UUID (RFC 4122 4.4) under ".local". */
int mc_mdns_responder_add(mc_mdns_responder *r, const mc_addr *ip, char *name_out, size_t cap) {
  if (!r || !ip || !name_out || mc_addr_family(ip) == AF_UNSPEC) return MC_EINVAL;
  if (r->stopping) return MC_ECLOSED;
  uint8_t u[16];
  int rc = mc_random_bytes(u, sizeof u);
  if (rc != 0) return rc;
  u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
  u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
  char name[64];
  snprintf(name, sizeof name,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x.local", u[0], u[1], u[2], u[3],
           u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
  if (strlen(name) + 1 > cap) return MC_ETOOBIG;
  if (r->n_entries == r->cap_entries) {
    size_t nc = r->cap_entries ? r->cap_entries * 2 : 4;
    struct mdns_entry *e = realloc(r->entries, nc * sizeof *e);
    if (!e) return MC_ENOMEM;
    r->entries = e;
    r->cap_entries = nc;
  }
  struct mdns_entry *e = &r->entries[r->n_entries++];
  memset(e, 0, sizeof *e);
  mc_strcpy(e->name, sizeof e->name, name);
  e->ip = *ip;
  mc_addr_set_port(&e->ip, 0);
  memcpy(name_out, name, strlen(name) + 1);
  return 0;
}

int mc_mdns_responder_remove(mc_mdns_responder *r, const char *name) {
  if (!r || !name) return MC_EINVAL;
  for (size_t i = 0; i < r->n_entries; i++) {
    if (strcasecmp(r->entries[i].name, name) != 0) continue;
    memmove(&r->entries[i], &r->entries[i + 1], (r->n_entries - i - 1) * sizeof *r->entries);
    r->n_entries--;
    return 0;
  }
  return MC_ENOTFOUND;
}

void mc_mdns_responder_stop(mc_mdns_responder *r) {
  if (!r || r->stopping) return;
  r->stopping = true;
  if (r->s4.open) uv_close((uv_handle_t *)&r->s4.h, responder_handle_closed);
  if (r->s6.open) uv_close((uv_handle_t *)&r->s6.h, responder_handle_closed);
}
