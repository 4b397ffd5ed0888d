/* net: addresses, interfaces, UDP sockets, TCP/TLS streams, name resolution
 * and mDNS, all on one libuv loop (the net thread). Callbacks run on that loop.
 * Above this layer nobody touches a file descriptor. */
#ifndef MC_NET_H
#define MC_NET_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include "util/util.h"

/* ---- addresses ---- */
typedef struct mc_addr {
  union {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
  } u;
} mc_addr;

/* "255.255.255.255" or "[ffff:...:ffff%scope]" plus ":65535" and NUL */
#define MC_ADDR_STRLEN 80

/* Numeric IPv4 or IPv6 (brackets allowed) and a port; no name lookup. */
int mc_addr_parse(const char *ip, uint16_t port, mc_addr *out);
/* "1.2.3.4:5", "[::1]:5". */
int mc_addr_parse_hostport(const char *text, mc_addr *out);
int mc_addr_from_sockaddr(const struct sockaddr *sa, mc_addr *out);
socklen_t mc_addr_len(const mc_addr *a);
int mc_addr_family(const mc_addr *a); /* AF_INET, AF_INET6 or AF_UNSPEC */
uint16_t mc_addr_port(const mc_addr *a);
void mc_addr_set_port(mc_addr *a, uint16_t port);
bool mc_addr_equal(const mc_addr *a, const mc_addr *b);    /* family, ip and port */
bool mc_addr_ip_equal(const mc_addr *a, const mc_addr *b); /* family and ip */
/* "ip:port" with brackets for IPv6; returns buf. */
const char *mc_addr_str(const mc_addr *a, char buf[MC_ADDR_STRLEN]);
/* The IP alone, no brackets; returns buf. */
const char *mc_addr_ip_str(const mc_addr *a, char buf[MC_ADDR_STRLEN]);
bool mc_addr_is_loopback(const mc_addr *a);
bool mc_addr_is_link_local(const mc_addr *a);
bool mc_addr_is_any(const mc_addr *a);

/* Addresses of usable interfaces (up and running; no IPv6 link-local, no
 * IPv4 169.254/16), IPv4 and IPv6, port 0, no duplicates. Loopback is
 * returned only when nothing else is up, so an agent in a namespace that
 * holds only lo still has a candidate. */
int mc_net_local_addresses(mc_addr *out, size_t max, size_t *count);

/* ---- interface changes (rtnetlink, Linux), so ICE can restart at once ---- */
typedef struct mc_net_watch mc_net_watch;

enum mc_net_change_kind { MC_NET_ADDR_ADDED, MC_NET_ADDR_REMOVED, MC_NET_LINK_UP, MC_NET_LINK_DOWN };

struct mc_net_change {
  enum mc_net_change_kind kind;
  int ifindex;
  mc_addr addr; /* for ADDR_* (port 0; IPv6 link-local carries ifindex as its scope id) */
};

/* What is reported: every IPv4 and IPv6 address added or removed on any
 * interface, loopback and link-local (169.254/16, fe80::/10) included: the
 * consumer filters, as mc_net_local_addresses does. An IPv6 address still
 * in duplicate address detection is reported once DAD has passed (the
 * kernel announces it again then). ADDR_ADDED can repeat for an address
 * already known (the kernel re-announces an address when its flags or
 * lifetimes change, e.g. each router advertisement); compare with what you
 * hold. LINK_UP / LINK_DOWN: a change of "IFF_UP and IFF_RUNNING" of an
 * interface, deduplicated per ifindex; an interface that appears down or
 * disappears while down is no change, one that disappears while up is
 * LINK_DOWN. Callbacks run on the loop thread. If the kernel drops
 * notifications (socket overrun), link state is re-read and its changes
 * reported; lost address changes are logged, not recovered. */
int mc_net_watch_start(uv_loop_t *loop, void (*on_change)(const struct mc_net_change *ch, void *user), void *user,
                       mc_net_watch **out);
/* No callback runs after this returns; safe from inside the callback; memory
 * is freed once libuv lets go of the handle. */
void mc_net_watch_stop(mc_net_watch *w);

/* One rtnetlink datagram (a sequence of netlink messages, host byte order),
 * exposed for tests and fuzzing. Reports, in order: RTM_NEWADDR / RTM_DELADDR
 * (AF_INET, AF_INET6) as ADDR_ADDED / ADDR_REMOVED; RTM_NEWLINK as the state
 * it carries, LINK_UP when IFF_UP and IFF_RUNNING are both set, else
 * LINK_DOWN (a level, not a transition: mc_net_watch dedups); RTM_DELLINK as
 * LINK_DOWN. Other messages and families are skipped. Returns 0, or
 * MC_EPARSE at the first malformed message, after the messages before it
 * have been reported. */
int mc_net_parse_netlink(const uint8_t *buf, size_t len, void (*on_change)(const struct mc_net_change *, void *),
                         void *user);

/* ---- UDP ---- */
typedef struct mc_udp mc_udp;
typedef void (*mc_udp_recv_cb)(mc_udp *sock, const mc_addr *from, const uint8_t *data, size_t len, void *user);

/* Binds to bind_addr (port 0 picks a free port) and starts receiving. */
int mc_udp_open(uv_loop_t *loop, const mc_addr *bind_addr, mc_udp_recv_cb cb, void *user, mc_udp **out);
/* Sends a copy of data; never blocks. MC_EIO when the kernel refuses. */
int mc_udp_send(mc_udp *sock, const mc_addr *to, const uint8_t *data, size_t len);
int mc_udp_local_addr(mc_udp *sock, mc_addr *out);
/* No callback runs after this returns; memory is freed once libuv lets go. */
void mc_udp_close(mc_udp *sock);

/* ---- TCP and TLS client streams, TCP listeners ---- */
typedef struct mc_stream mc_stream;

struct mc_stream_callbacks {
  void (*on_connected)(mc_stream *s, void *user);          /* TCP up and, for TLS, handshake verified */
  void (*on_data)(mc_stream *s, const uint8_t *data, size_t len, void *user);
  /* Connect failure, TLS failure, reset or orderly close by the peer (MC_ECLOSED).
   * why is one sentence for a person. No callback follows; the owner still
   * calls mc_stream_close. */
  void (*on_error)(mc_stream *s, int err, const char *why, void *user);
};

struct mc_stream_options {
  bool tls;
  /* TLS: SNI and the name the certificate must match. NULL: the IP is checked. */
  const char *server_name;
  /* TLS: skip certificate verification (self-signed development servers). */
  bool insecure;
  /* TCP connect plus TLS handshake must finish within this, else on_error
   * gets MC_ETIMEDOUT. 0: no limit of ours (the kernel gives up after ~2 min). */
  uint32_t timeout_ms;
  /* The local address to connect from (port 0: any port), or NULL. ICE-TCP
   * active candidates leave from their interface's address. */
  const mc_addr *bind;
};

/* The trust store is the system's (OpenSSL default paths, so SSL_CERT_FILE
 * and SSL_CERT_DIR are honoured). */
int mc_stream_connect(uv_loop_t *loop, const mc_addr *to, const struct mc_stream_options *opts,
                      const struct mc_stream_callbacks *cbs, void *user, mc_stream **out);
/* Queues a copy of data. */
int mc_stream_write(mc_stream *s, const uint8_t *data, size_t len);
int mc_stream_local_addr(mc_stream *s, mc_addr *out);
int mc_stream_peer_addr(mc_stream *s, mc_addr *out);
/* Bytes written and not yet handed to the kernel (queued while connecting,
 * or behind a full socket buffer). */
size_t mc_stream_queued(const mc_stream *s);
void mc_stream_close(mc_stream *s);

/* A listening TCP socket (plain TCP, no TLS): ICE-TCP passive candidates. */
typedef struct mc_tcp_listener mc_tcp_listener;
/* A connection came in: s is open. The callee must call
 * mc_stream_set_callbacks (reading starts when this returns) or
 * mc_stream_close. */
typedef void (*mc_tcp_accept_cb)(mc_tcp_listener *l, mc_stream *s, const mc_addr *peer, void *user);
/* Binds to bind_addr (port 0 picks a free port) and listens. */
int mc_tcp_listen(uv_loop_t *loop, const mc_addr *bind_addr, mc_tcp_accept_cb cb, void *user, mc_tcp_listener **out);
int mc_tcp_listener_local_addr(mc_tcp_listener *l, mc_addr *out);
/* No callback runs after this returns; streams it accepted stay open. */
void mc_tcp_listener_close(mc_tcp_listener *l);
/* For accepted streams: who gets the stream's events. */
void mc_stream_set_callbacks(mc_stream *s, const struct mc_stream_callbacks *cbs, void *user);

/* ---- name resolution ---- */
typedef struct mc_resolve_req mc_resolve_req;
/* err is 0 with count >= 1 addresses, or MC_ERESOLVE. */
typedef void (*mc_resolve_cb)(int err, const mc_addr *addrs, size_t count, void *user);

/* family: AF_UNSPEC, AF_INET or AF_INET6. Numeric hosts answer at once (still
 * through the callback, on the next loop turn). */
int mc_resolve(uv_loop_t *loop, const char *host, uint16_t port, int family, mc_resolve_cb cb, void *user,
               mc_resolve_req **out);
/* The callback will not run. Valid until the callback has returned (calling
 * it from inside the callback is harmless); req is freed after that. */
void mc_resolve_cancel(mc_resolve_req *req);

/* ---- mDNS (RFC 6762) for ICE candidates hidden behind ".local" names ---- */
typedef struct mc_mdns_query mc_mdns_query;
/* Asks 224.0.0.251:5353 (and ff02::fb) for name's A/AAAA record; cb gets
 * MC_ETIMEDOUT when nobody answers within timeout_ms. name must end in
 * ".local" (MC_EINVAL). MC_EIO at once when no query could be sent (no
 * multicast route). q is freed after the callback returns; cancel only before. */
int mc_mdns_resolve(uv_loop_t *loop, const char *name, uint64_t timeout_ms, mc_resolve_cb cb, void *user,
                    mc_mdns_query **out);
void mc_mdns_cancel(mc_mdns_query *q);

typedef struct mc_mdns_responder mc_mdns_responder;
/* Answers queries for names we registered (our own hidden host candidates). */
int mc_mdns_responder_start(uv_loop_t *loop, mc_mdns_responder **out);
/* Registers ip under a fresh random "<uuid>.local" name, written to name_out. */
int mc_mdns_responder_add(mc_mdns_responder *r, const mc_addr *ip, char *name_out, size_t cap);
/* Forgets a name given by mc_mdns_responder_add; MC_ENOTFOUND if unknown. */
int mc_mdns_responder_remove(mc_mdns_responder *r, const char *name);
void mc_mdns_responder_stop(mc_mdns_responder *r);

/* The mDNS message codec (RFC 1035 4 and RFC 6762), exposed for tests and
 * fuzzing. Names are dotted text without the trailing dot, compared without
 * regard to ASCII case. */
#define MC_MDNS_PORT 5353
#define MC_DNS_NAME_MAX 254 /* 253 characters of text plus NUL */
#define MC_DNS_TYPE_A 1
#define MC_DNS_TYPE_AAAA 28
#define MC_DNS_TYPE_ANY 255

/* Reads a possibly compressed name at *off (RFC 1035 4.1.4) and moves *off
 * past it. Pointers must point backwards, so loops are impossible. */
int mc_dns_read_name(const uint8_t *buf, size_t len, size_t *off, char *out, size_t cap);
/* A query with questions for name's A and AAAA records, QU bit set (RFC 6762 5.4). */
int mc_mdns_build_query(uint16_t id, const char *name, uint8_t *buf, size_t cap, size_t *len);
/* A response with one A or AAAA answer per address; the name is written once
 * and then compressed. legacy (RFC 6762 6.7): echo id, repeat the question
 * (qtype), TTL 10 s and no cache-flush bit; otherwise id 0, no question,
 * TTL 120 s and cache-flush set. */
int mc_mdns_build_response(uint16_t id, const char *name, const mc_addr *addrs, size_t n, bool legacy,
                           uint16_t qtype, uint8_t *buf, size_t cap, size_t *len);
/* The A/AAAA answers (and additional records) for name, port 0, without
 * duplicates. MC_EPARSE when malformed or not a response, MC_ENOTFOUND when
 * nothing for name is in it. */
int mc_mdns_parse_response(const uint8_t *buf, size_t len, const char *name, mc_addr *out, size_t max,
                           size_t *count);
struct mc_mdns_question {
  char name[MC_DNS_NAME_MAX];
  uint16_t type;
  bool unicast; /* QU bit */
};
/* The questions of a query; MC_EPARSE when malformed or a response. */
int mc_mdns_parse_query(const uint8_t *buf, size_t len, uint16_t *id, struct mc_mdns_question *qs, size_t max,
                        size_t *count);

#endif
