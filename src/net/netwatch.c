/* Interface changes from rtnetlink (rtnetlink(7), netlink(7)): addresses
 * that come and go and links that go up or down, so the ICE agent can restart
 * as soon as the laptop moves from Wi-Fi to wired instead of waiting for
 * consent freshness to fail. Linux only, like the rest of the net layer. */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "net/net.h"

/* netlink(7) suggests 8 KiB; a dump part can be up to 32 KiB (netlink_dump()
 * grows its buffer that far when the receive buffer allows), so 64 KiB holds
 * any datagram the kernel sends us whole. */
#define NETWATCH_RX 65536
/* Room for a burst (a VPN coming up adds routes, addresses and links at
 * once) so the kernel does not drop notifications (ENOBUFS) while the loop is
 * busy; the kernel caps it at net.core.rmem_max. */
#define NETWATCH_RCVBUF (1024 * 1024)
/* Datagrams read per wake-up before other handles get a turn; uv_poll is
 * level-triggered, so the rest is read on the next turn. */
#define NETWATCH_BATCH 64

struct link_state {
  int ifindex;
  bool up;   /* IFF_UP and IFF_RUNNING */
  bool seen; /* in the dump in flight, or changed during it */
};

struct mc_net_watch {
  uv_poll_t poll;
  int fd;
  uint32_t portid; /* our netlink port: dump replies are addressed to it */
  void (*on_change)(const struct mc_net_change *ch, void *user);
  void *user;
  bool closing;
  /* The RTM_GETLINK dump in flight: silent when it only seeds the table. */
  uint32_t seq;
  bool dumping, dump_silent, redump;
  struct link_state *links;
  size_t nlinks, cap;
  uint8_t rx[NETWATCH_RX];
};

/* ---- the parser: pure, bounds-checked, never trusts a length field ---- */

/* Called once per message of a datagram with its header (copied, so the
 * buffer need not be aligned) and payload. 0: go on; > 0: stop quietly;
 * < 0: stop with that error. */
typedef int (*msg_fn)(const struct nlmsghdr *h, const uint8_t *payload, size_t plen, void *ctx);

/* NLMSG_ALIGN / RTA_ALIGN in size_t, so a huge length cannot wrap. */
static size_t align4(size_t n) { return (n + 3) & ~(size_t)3; }

/* netlink(7): a datagram is messages back to back, each padded to 4 bytes;
 * NLMSG_OK's checks (header fits, nlmsg_len at least the header and at most
 * what is left) are made by hand so nothing is read out of bounds. */
static int walk(const uint8_t *buf, size_t len, msg_fn fn, void *ctx) {
  size_t off = 0;
  while (off < len) {
    size_t left = len - off;
    struct nlmsghdr h;
    if (left < sizeof h) return MC_EPARSE;
    memcpy(&h, buf + off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > left) return MC_EPARSE;
    int rc = fn(&h, buf + off + NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN, ctx);
    if (rc != 0) return rc < 0 ? rc : 0;
    /* The last message's padding may be missing. */
    off += MC_MIN(align4(h.nlmsg_len), left);
  }
  return 0;
}

static int parse_addr(uint16_t type, const uint8_t *p, size_t n, struct mc_net_change *ch) {
  struct ifaddrmsg ifa;
  if (n < sizeof ifa) return MC_EPARSE;
  memcpy(&ifa, p, sizeof ifa);
  size_t alen = ifa.ifa_family == AF_INET ? 4 : ifa.ifa_family == AF_INET6 ? 16 : 0;
  if (alen == 0 || ifa.ifa_index == 0 || ifa.ifa_index > INT_MAX) return 0; /* not an IP address of ours */
  const uint8_t *local = NULL, *address = NULL;
  uint32_t flags = ifa.ifa_flags;
  /* rtnetlink(7) attributes, RTA_OK's checks by hand. */
  for (size_t off = MC_MIN(align4(sizeof ifa), n); off < n;) {
    struct rtattr rta;
    if (n - off < sizeof rta) return MC_EPARSE;
    memcpy(&rta, p + off, sizeof rta);
    if (rta.rta_len < sizeof rta || rta.rta_len > n - off) return MC_EPARSE;
    const uint8_t *v = p + off + sizeof rta;
    size_t vlen = rta.rta_len - sizeof rta;
    if (rta.rta_type == IFA_LOCAL || rta.rta_type == IFA_ADDRESS) {
      if (vlen != alen) return MC_EPARSE;
      if (rta.rta_type == IFA_LOCAL) local = v;
      else address = v;
    } else if (rta.rta_type == IFA_FLAGS) {
      /* The full 32-bit flags; ifa_flags holds only the low 8. */
      if (vlen != sizeof flags) return MC_EPARSE;
      memcpy(&flags, v, sizeof flags);
    }
    off += MC_MIN(align4(rta.rta_len), n - off);
  }
  /* linux/if_addr.h: IFA_ADDRESS is the peer on point-to-point links and
   * IFA_LOCAL the local address; elsewhere they are equal or IFA_LOCAL is
   * absent (IPv6). */
  const uint8_t *ip = local ? local : address;
  if (!ip) return 0;
  /* RFC 4862 5.4: a tentative address cannot be used until duplicate address
   * detection passes, when the kernel sends RTM_NEWADDR again without the
   * flag. Optimistic ones (RFC 4429) are usable at once. */
  if (type == RTM_NEWADDR &&
      (((flags & IFA_F_TENTATIVE) && !(flags & IFA_F_OPTIMISTIC)) || (flags & IFA_F_DADFAILED)))
    return 0;
  memset(ch, 0, sizeof *ch);
  ch->kind = type == RTM_NEWADDR ? MC_NET_ADDR_ADDED : MC_NET_ADDR_REMOVED;
  ch->ifindex = (int)ifa.ifa_index;
  if (ifa.ifa_family == AF_INET) {
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    memcpy(&sin.sin_addr, ip, alen);
    return mc_addr_from_sockaddr((const struct sockaddr *)&sin, &ch->addr) == 0 ? 1 : MC_EPARSE;
  }
  struct sockaddr_in6 sin6;
  memset(&sin6, 0, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  memcpy(&sin6.sin6_addr, ip, alen);
  /* RFC 4007 6: a link-local address means nothing without its link. */
  if (IN6_IS_ADDR_LINKLOCAL(&sin6.sin6_addr)) sin6.sin6_scope_id = ifa.ifa_index;
  return mc_addr_from_sockaddr((const struct sockaddr *)&sin6, &ch->addr) == 0 ? 1 : MC_EPARSE;
}

static int parse_link(uint16_t type, const uint8_t *p, size_t n, struct mc_net_change *ch) {
  struct ifinfomsg ifi;
  if (n < sizeof ifi) return MC_EPARSE;
  memcpy(&ifi, p, sizeof ifi);
  /* Only AF_UNSPEC messages speak of the interface itself: the bridge driver
   * also sends AF_BRIDGE RTM_NEWLINK/RTM_DELLINK to this group about its
   * ports, the latter when a port leaves the bridge and still exists. */
  if (ifi.ifi_family != AF_UNSPEC || ifi.ifi_index <= 0) return 0;
  /* netdevice(7): IFF_RUNNING is the operational state (carrier, RFC 2863
   * ifOperStatus up); IFF_UP alone is only the administrator's wish. */
  const unsigned both = IFF_UP | IFF_RUNNING;
  bool up = type == RTM_NEWLINK && (ifi.ifi_flags & both) == both;
  memset(ch, 0, sizeof *ch);
  ch->kind = up ? MC_NET_LINK_UP : MC_NET_LINK_DOWN;
  ch->ifindex = ifi.ifi_index;
  return 1;
}

/* 1 and *ch filled when the message is one we report, 0 when it is skipped,
 * MC_EPARSE when it is malformed. */
static int parse_msg(uint16_t type, const uint8_t *p, size_t n, struct mc_net_change *ch) {
  switch (type) {
  case RTM_NEWADDR:
  case RTM_DELADDR: return parse_addr(type, p, n, ch);
  case RTM_NEWLINK:
  case RTM_DELLINK: return parse_link(type, p, n, ch);
  default: return 0;
  }
}

struct report_ctx {
  void (*on_change)(const struct mc_net_change *, void *);
  void *user;
};

static int report_msg(const struct nlmsghdr *h, const uint8_t *p, size_t n, void *ctx) {
  struct report_ctx *c = ctx;
  struct mc_net_change ch;
  int rc = parse_msg(h->nlmsg_type, p, n, &ch);
  if (rc > 0) c->on_change(&ch, c->user);
  return rc < 0 ? rc : 0;
}

int mc_net_parse_netlink(const uint8_t *buf, size_t len, void (*on_change)(const struct mc_net_change *, void *),
                         void *user) {
  if ((!buf && len > 0) || !on_change) return MC_EINVAL;
  struct report_ctx c = {on_change, user};
  return walk(buf, len, report_msg, &c);
}

/* ---- the watcher ---- */

static const char *kind_name(enum mc_net_change_kind k) {
  switch (k) {
  case MC_NET_ADDR_ADDED: return "addr-added";
  case MC_NET_ADDR_REMOVED: return "addr-removed";
  case MC_NET_LINK_UP: return "link-up";
  case MC_NET_LINK_DOWN: return "link-down";
  }
  return "?";
}

static void deliver(mc_net_watch *w, const struct mc_net_change *ch) {
  if (w->closing) return;
  char as[MC_ADDR_STRLEN];
  bool addr = ch->kind == MC_NET_ADDR_ADDED || ch->kind == MC_NET_ADDR_REMOVED;
  MC_LOGD("netwatch", "%s ifindex=%d%s%s", kind_name(ch->kind), ch->ifindex, addr ? " addr=" : "",
          addr ? mc_addr_ip_str(&ch->addr, as) : "");
  w->on_change(ch, w->user);
}

static struct link_state *link_find(mc_net_watch *w, int ifindex) {
  for (size_t i = 0; i < w->nlinks; i++)
    if (w->links[i].ifindex == ifindex) return &w->links[i];
  return NULL;
}

static struct link_state *link_add(mc_net_watch *w, int ifindex) {
  if (w->nlinks == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 16;
    struct link_state *l = realloc(w->links, cap * sizeof *l);
    if (!l) return NULL;
    w->links = l;
    w->cap = cap;
  }
  struct link_state *l = &w->links[w->nlinks++];
  memset(l, 0, sizeof *l);
  l->ifindex = ifindex;
  return l;
}

/* Turns a link's level into a transition. A missing entry counts as down:
 * an interface that appears down is no change, one that appears up is. */
static void link_change(mc_net_watch *w, const struct mc_net_change *ch, bool gone, bool silent) {
  struct link_state *l = link_find(w, ch->ifindex);
  bool was = l && l->up;
  bool up = ch->kind == MC_NET_LINK_UP;
  if (gone) {
    if (l) *l = w->links[--w->nlinks];
  } else {
    if (!l) l = link_add(w, ch->ifindex);
    if (l) {
      l->up = up;
      l->seen = true;
    } else {
      /* Without memory the state is not kept: the next message about this
       * link may report again, which costs an ICE restart, not a miss. */
      MC_LOGW("netwatch", "no memory for link state ifindex=%d", ch->ifindex);
    }
  }
  if (!silent && up != was) deliver(w, ch);
}

static int request_dump(mc_net_watch *w, bool silent) {
  struct {
    struct nlmsghdr h;
    struct ifinfomsg i;
  } req;
  memset(&req, 0, sizeof req);
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.i);
  req.h.nlmsg_type = RTM_GETLINK;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = ++w->seq;
  req.i.ifi_family = AF_UNSPEC;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  if (sendto(w->fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    MC_LOGW("netwatch", "link dump request failed err=%s", strerror(errno));
    return MC_EIO;
  }
  for (size_t i = 0; i < w->nlinks; i++) w->links[i].seen = false;
  w->dumping = true;
  w->dump_silent = silent;
  return 0;
}

static void dump_done(mc_net_watch *w, bool complete) {
  w->dumping = false;
  /* A complete dump lists every interface: one not in it and not heard of
   * since is gone (its RTM_DELLINK was among the dropped notifications). */
  for (size_t i = 0; complete && i < w->nlinks;) {
    if (w->links[i].seen) {
      i++;
      continue;
    }
    struct mc_net_change ch;
    memset(&ch, 0, sizeof ch);
    ch.kind = MC_NET_LINK_DOWN;
    ch.ifindex = w->links[i].ifindex;
    link_change(w, &ch, true, w->dump_silent); /* moves the last entry to i */
  }
  if (w->redump && !w->closing) {
    w->redump = false;
    request_dump(w, false);
  }
}

/* The kernel dropped notifications (netlink(7) ENOBUFS): what links did is
 * read again, and differences from the table are reported. */
static void overrun(mc_net_watch *w) {
  MC_LOGW("netwatch", "kernel dropped interface notifications; reading link state again");
  if (w->dumping) w->redump = true; /* one dump at a time per socket */
  else request_dump(w, false);
}

static int watch_msg(const struct nlmsghdr *h, const uint8_t *p, size_t n, void *ctx) {
  mc_net_watch *w = ctx;
  /* Dump replies carry our request's sequence number and our port id;
   * notifications carry whoever caused them (0: the kernel itself). */
  bool ours = w->dumping && h->nlmsg_seq == w->seq && h->nlmsg_pid == w->portid;
  if (ours && (h->nlmsg_flags & NLM_F_DUMP_INTR)) w->redump = true; /* linux/netlink.h: inconsistent dump */
  if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
    if (!ours) return 0;
    /* Both start with an int error (struct nlmsgerr; NLMSG_DONE since 4.x). */
    int err = 0;
    if (n >= sizeof err) memcpy(&err, p, sizeof err);
    if (err < 0) MC_LOGW("netwatch", "link dump failed err=%s", strerror(-err));
    dump_done(w, err >= 0 && h->nlmsg_type == NLMSG_DONE);
    return w->closing ? 1 : 0;
  }
  struct mc_net_change ch;
  int rc = parse_msg(h->nlmsg_type, p, n, &ch);
  if (rc <= 0) return rc;
  if (ch.kind == MC_NET_LINK_UP || ch.kind == MC_NET_LINK_DOWN)
    link_change(w, &ch, h->nlmsg_type == RTM_DELLINK, ours && w->dump_silent);
  else
    deliver(w, &ch);
  return w->closing ? 1 : 0;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  mc_net_watch *w = handle->data;
  if (w->closing) return;
  if (status < 0) {
    /* libuv turns POLLERR into UV_EBADF and stops the handle, and POLLERR is
     * how a netlink socket says the kernel dropped notifications (sk_err set
     * to ENOBUFS, netlink(7)). SO_ERROR reads and clears it (socket(7)), then
     * polling goes on; with no error to clear it would only spin. */
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err == 0) {
      MC_LOGE("netwatch", "poll failed, interface changes no longer watched err=%s", uv_strerror(status));
      return;
    }
    if (err == ENOBUFS) overrun(w);
    else MC_LOGW("netwatch", "socket error err=%s", strerror(err));
    int rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
    if (rc != 0) {
      MC_LOGE("netwatch", "poll restart failed, interface changes no longer watched err=%s", uv_strerror(rc));
      return;
    }
  }
  for (int i = 0; i < NETWATCH_BATCH && !w->closing; i++) {
    struct sockaddr_nl from;
    memset(&from, 0, sizeof from);
    struct iovec iov = {w->rx, sizeof w->rx};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(w->fd, &m, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        overrun(w);
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) MC_LOGW("netwatch", "receive failed err=%s", strerror(errno));
      return;
    }
    /* netlink(7): only the kernel (port 0) speaks for the interfaces; anyone
     * else able to send to our port is ignored. */
    if (m.msg_namelen < sizeof from || from.nl_pid != 0) {
      MC_LOGD("netwatch", "ignored datagram from port=%u", (unsigned)from.nl_pid);
      continue;
    }
    /* Cannot happen with NETWATCH_RX; if it does, what fit is still used. */
    if (m.msg_flags & MSG_TRUNC) MC_LOGW("netwatch", "datagram truncated at %zd bytes", n);
    if (walk(w->rx, (size_t)n, watch_msg, w) < 0)
      MC_LOGW("netwatch", "malformed rtnetlink datagram len=%zd; rest of it skipped", n);
  }
}

static void on_close(uv_handle_t *h) {
  mc_net_watch *w = h->data;
  /* libuv (uv_poll_t): the descriptor is ours, closed after the handle. */
  if (w->fd >= 0) close(w->fd);
  free(w->links);
  free(w);
}

int mc_net_watch_start(uv_loop_t *loop, void (*on_change)(const struct mc_net_change *ch, void *user), void *user,
                       mc_net_watch **out) {
  if (!loop || !on_change || !out) return MC_EINVAL;
  *out = NULL;
  mc_net_watch *w = calloc(1, sizeof *w);
  if (!w) return MC_ENOMEM;
  w->on_change = on_change;
  w->user = user;
  bool polled = false;
  int rc = MC_EIO;
  /* The socket belongs to the network namespace of the thread that opens
   * it, for good (network_namespaces(7)). */
  w->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (w->fd < 0) {
    MC_LOGW("netwatch", "netlink socket failed err=%s", strerror(errno));
    goto fail;
  }
  int size = NETWATCH_RCVBUF;
  if (setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0)
    MC_LOGD("netwatch", "could not raise receive buffer err=%s", strerror(errno));
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  socklen_t salen = sizeof sa;
  if (bind(w->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
      getsockname(w->fd, (struct sockaddr *)&sa, &salen) != 0) {
    MC_LOGW("netwatch", "netlink bind failed err=%s", strerror(errno));
    goto fail;
  }
  w->portid = sa.nl_pid;
  /* Subscribed first, then the dump, on the same socket: its replies and the
   * notifications come in the kernel's order, so the table is seeded without
   * a gap in which a change could be missed. */
  if (request_dump(w, true) != 0) goto fail;
  int uvrc = uv_poll_init(loop, &w->poll, w->fd);
  if (uvrc == 0) {
    polled = true;
    w->poll.data = w;
    uvrc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  }
  if (uvrc != 0) {
    MC_LOGW("netwatch", "poll failed err=%s", uv_strerror(uvrc));
    goto fail;
  }
  *out = w;
  return 0;
fail:
  if (polled) {
    w->closing = true;
    uv_close((uv_handle_t *)&w->poll, on_close);
  } else {
    if (w->fd >= 0) close(w->fd);
    free(w);
  }
  return rc;
}

void mc_net_watch_stop(mc_net_watch *w) {
  if (!w || w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_close);
}
