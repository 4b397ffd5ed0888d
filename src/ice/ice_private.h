/* The agent's private state, shared by agent.c (lifecycle, gathering,
 * sockets, API), checklist.c (pairs, checks, nomination) and consent.c. */
#ifndef MC_ICE_PRIVATE_H
#define MC_ICE_PRIVATE_H

#include "ice/ice.h"
#include "ice/timing.h"
#include "stun/stun.h"
#include "turn/turn.h"

#define ICE_MAX_IFACES 16  /* interface addresses: one UDP socket each */
#define ICE_MAX_BASES 48   /* per interface: UDP, and with ICE-TCP a passive and an active base */
#define ICE_MAX_CONNS 32   /* ICE-TCP connections, ours and accepted */
#define ICE_MAX_RELAYS 8   /* TURN allocations */
#define ICE_MAX_SERVERS 8
#define ICE_MAX_LOCAL 80 /* per interface up to 3 host (UDP, TCP passive, TCP active), srflx, prflx */
#define ICE_MAX_REMOTE 64
#define ICE_MAX_PAIRS 100  /* RFC 8445 6.1.2.5: default checklist limit */
#define ICE_MAX_PERMS 32
#define ICE_MAX_RESOLVED 4

enum pair_state {
  PAIR_FROZEN = 0,
  PAIR_WAITING,
  PAIR_IN_PROGRESS,
  PAIR_SUCCEEDED,
  PAIR_FAILED,
};

enum base_kind {
  BASE_UDP = 0,
  BASE_TCP_PASSIVE, /* a listening socket; its connections are accepted */
  BASE_TCP_ACTIVE,  /* no socket of its own; connects from the interface's address */
};

/* Where a local host candidate lives. For ICE-TCP a route (base, remote
 * address) names one connection (tcp.c), so checks, answers, consent and
 * media find theirs as UDP ones find their socket. */
struct ice_base {
  mc_ice_agent *agent;
  enum base_kind kind;
  mc_udp *udp;
  mc_tcp_listener *listener;
  mc_addr addr; /* bound, with port; active TCP: port 9 as signalled */
  size_t iface_index;
  bool gone; /* its address left the machine (seen at an ICE restart) */
};

struct ice_tcp_conn;

struct ice_relay {
  mc_ice_agent *agent;
  mc_turn_client *turn;
  int server;
  enum mc_turn_transport transport;
  bool done;      /* allocated or failed: gathering no longer waits */
  bool allocated;
  mc_addr relayed, mapped;
  mc_addr perm_ip[ICE_MAX_PERMS]; /* IPs whose permission was answered */
  int perm_state[ICE_MAX_PERMS];  /* 0 requested, 1 ok, -1 failed */
  size_t nperm;
};

struct ice_server {
  mc_ice_agent *agent;
  char url[MC_ICE_URL_STRLEN];
  mc_ice_url parsed;
  char *username, *credential;
  bool valid;
  mc_resolve_req *resolve;
  bool resolving;
  mc_addr addrs[ICE_MAX_RESOLVED];
  size_t naddrs;
};

struct ice_local {
  mc_ice_candidate c;
  int base;  /* host socket, or -1 */
  int relay; /* TURN allocation, or -1 */
  uint16_t local_pref;
  uint64_t gathered_ms;
  /* From a socket whose address is gone or a TURN allocation that was
   * replaced at an ICE restart: neither paired nor signalled again. */
  bool stale;
};

struct ice_remote {
  mc_ice_candidate c;
  uint64_t added_ms;
};

struct ice_pair {
  int local;  /* a host or relay candidate: where checks leave from */
  int remote;
  int valid_local; /* RFC 8445 7.2.5.3.2: the valid pair's local candidate, -1 until succeeded */
  uint64_t priority;
  enum pair_state state;
  bool in_triggered;
  bool nominated;           /* RFC 8445 8.1.1: nomination completed on this pair */
  bool nominate_on_success; /* controlled: USE-CANDIDATE arrived before our check succeeded */
  bool nominating;          /* controlling: a check with USE-CANDIDATE is out */
  struct ice_txn *txn;
  char foundation[2 * MC_ICE_FOUNDATION_MAX + 2];
  uint64_t succeeded_ms;
  /* The latest answer to one of our checks on this pair: its consent
   * (RFC 7675 5.1) before a pair is selected and consent checks start. */
  uint64_t consent_ms;
};

enum txn_kind { TXN_CHECK, TXN_CONSENT, TXN_SRFLX };

struct ice_txn {
  struct ice_txn *prev, *next;
  mc_ice_agent *agent;
  enum txn_kind kind;
  bool detached;
  int base, relay; /* route */
  mc_addr dest;
  int pair;        /* TXN_CHECK */
  bool use_candidate;
  enum mc_ice_role role; /* the role we claimed */
  unsigned remote_gen;   /* remote credentials the request was signed with */
  int server;            /* TXN_SRFLX */
  uint64_t expires_ms;   /* TXN_SRFLX: our own, shorter deadline */
  uint64_t sent_ms;
};

/* The path media uses; independent of the checklist so it survives a restart. */
struct ice_route {
  bool set;
  int base, relay;
  mc_addr remote;
  mc_ice_candidate local_c, remote_c;
  int pair; /* in the current checklist, or -1 after a restart */
};

struct mdns_pending {
  struct mdns_pending *next;
  mc_ice_agent *agent;
  mc_mdns_query *q;
  mc_ice_candidate c;
  unsigned remote_gen;
};

struct mc_ice_agent {
  uv_loop_t *loop;
  struct mc_ice_config cfg;
  struct mc_ice_settings set;
  struct mc_ice_callbacks cbs;
  void *user;

  uv_timer_t timer;
  bool timer_started;
  bool in_tick, resched;
  int busy;
  bool closed, free_pending;

  enum mc_ice_role role;
  uint64_t tiebreaker;
  enum mc_ice_state state;

  char ufrag[MC_ICE_UFRAG_MAX + 1], pwd[MC_ICE_PWD_MAX + 1];
  char old_ufrag[MC_ICE_UFRAG_MAX + 1], old_pwd[MC_ICE_PWD_MAX + 1]; /* before a restart */
  char rufrag[MC_ICE_UFRAG_MAX + 1], rpwd[MC_ICE_PWD_MAX + 1];
  bool has_remote_creds;
  bool remote_fresh; /* the peer's credentials changed since our last selection */
  unsigned remote_gen;
  bool remote_eoc;
  uint64_t last_remote_cand_ms;

  mc_addr bind_addrs[ICE_MAX_IFACES];
  size_t nbind;
  struct ice_server servers[ICE_MAX_SERVERS];
  size_t nservers;
  struct ice_base bases[ICE_MAX_BASES];
  size_t nbases;
  struct ice_relay relays[ICE_MAX_RELAYS];
  size_t nrelays;
  struct ice_tcp_conn *conns[ICE_MAX_CONNS]; /* freed with the agent */
  size_t nconns;
  mc_mdns_responder *responder;

  struct ice_local locals[ICE_MAX_LOCAL];
  size_t nlocals;
  struct ice_remote remotes[ICE_MAX_REMOTE];
  size_t nremotes;
  struct ice_pair pairs[ICE_MAX_PAIRS];
  size_t npairs;
  int triggered[ICE_MAX_PAIRS];
  size_t ntriggered;

  mc_stun_txn_table *txns;
  struct ice_txn *txn_head;
  struct mdns_pending *mdns_head;

  bool gathering, gathered, gather_done_pending;
  int gather_pending; /* server steps still out */
  size_t reemit_from; /* after a restart: locals still to report again */
  bool reemit_pending;

  uint64_t next_check_ms;
  int nominating;     /* controlling: pair with USE-CANDIDATE out, -1 none */
  uint64_t relay_grace_deadline; /* 0 = not armed */
  bool checks_frozen_after_nomination;

  struct ice_route sel;
  /* Before any selection (RFC 8445 12.1): the valid pair the peer's latest
   * data arrived on, which our data goes back on; -1 none. */
  int data_pair;
  bool writable_reported; /* on_writable ran for this checklist */
  bool restarting; /* a restart is under way: sel is the old pair */
  uint64_t last_consent_ms, next_consent_ms, last_sent_ms;
  bool consent_lost;
  /* Fast loss detection (timing.h MC_ICE_SILENCE_*): the last datagram of
   * any kind from the selected pair's remote on its route, when the oldest
   * unanswered consent check went out (0: none), the latest consent check. */
  uint64_t last_heard_ms, probe_out_ms, last_probe_ms;

  /* Tests only (tests/unit): drop every datagram the agent would send, as
   * a cut path does. Never set by the library. */
  bool test_drop_out;
  /* Tests only: drop a datagram the agent would send when this returns
   * true, as a lossy path does to chosen packets. Never set by the library. */
  bool (*test_drop_fn)(const uint8_t *data, size_t len);
  /* Tests only: the controlling agent never nominates while set, as a peer
   * that takes its time does. Never set by the library. */
  bool test_hold_nomination;

  /* The packet being handled, for the response-symmetry check (RFC 8445 7.2.5.2.1). */
  int rx_base, rx_relay;
  mc_addr rx_from;

  struct mc_ice_stats stats;
};

/* agent.c */
void ice_enter(mc_ice_agent *a);
void ice_leave(mc_ice_agent *a);
void ice_handle_packet(mc_ice_agent *a, int base, int relay, const mc_addr *from, const uint8_t *data, size_t len);
bool ice_base_is_tcp(const mc_ice_agent *a, int base);
void ice_schedule(mc_ice_agent *a);
void ice_set_state(mc_ice_agent *a, enum mc_ice_state s);
int ice_route_send(mc_ice_agent *a, int base, int relay, const mc_addr *to, const uint8_t *data, size_t len);
struct ice_txn *ice_txn_new(mc_ice_agent *a, enum txn_kind kind);
void ice_txn_free(mc_ice_agent *a, struct ice_txn *t);
bool ice_relay_permitted(mc_ice_agent *a, int relay, const mc_addr *peer, bool *failed);
int ice_add_prflx_local(mc_ice_agent *a, int base, int relay, const mc_addr *mapped);

/* checklist.c */
/* Adds (or, for a known address, updates) a remote candidate and pairs it;
 * only_local >= 0 pairs it with that local candidate alone (a prflx). */
int ice_remote_add(mc_ice_agent *a, const mc_ice_candidate *c, int only_local);
void ice_pairs_add_for_remote(mc_ice_agent *a, int remote);
void ice_pairs_add_for_local(mc_ice_agent *a, int local);
void ice_pairs_recompute_priorities(mc_ice_agent *a);
void ice_checklist_clear(mc_ice_agent *a);
void ice_checklist_tick(mc_ice_agent *a, uint64_t now, uint64_t *next);
void ice_handle_request(mc_ice_agent *a, const mc_stun_msg *m, const uint8_t *buf, size_t len);
void ice_check_done(mc_ice_agent *a, struct ice_txn *t, int err, const mc_stun_msg *m, const uint8_t *buf,
                    size_t len);
/* A remote candidate by address and transport (the same ip:port may be a
 * UDP and a TCP candidate), or -1. */
int ice_find_remote(const mc_ice_agent *a, const mc_addr *addr, enum mc_ice_transport transport);
void ice_relay_permission_changed(mc_ice_agent *a, int relay);
void ice_send_check(mc_ice_agent *a, int pair, bool use_candidate);
void ice_path_heard(mc_ice_agent *a, int base, int relay, const mc_addr *from, uint64_t now);
/* The best valid pair (highest priority, a direct one before any relay), -1 none. */
int ice_best_valid(const mc_ice_agent *a, bool direct_only);
/* Before selection: the pair data goes out on (RFC 8445 12.1), -1 none. */
int ice_presel_pair(mc_ice_agent *a, uint64_t now);
/* Before selection: non-STUN data arrived on (base, relay) from `from`. */
void ice_data_heard(mc_ice_agent *a, int base, int relay, const mc_addr *from);

/* tcp.c: ICE-TCP connections (RFC 6544) */
/* Sends one framed packet on the connection of route (base, to); on an
 * active base the first send opens it (one connection per pair). */
int ice_tcp_send(mc_ice_agent *a, int base, const mc_addr *to, const uint8_t *data, size_t len);
/* A connection for (base, remote) exists and is not failed. */
bool ice_tcp_conn_usable(const mc_ice_agent *a, int base, const mc_addr *remote);
void ice_tcp_accept(mc_tcp_listener *l, mc_stream *s, const mc_addr *peer, void *user);
void ice_tcp_close_all(mc_ice_agent *a);
void ice_tcp_sweep(mc_ice_agent *a);
void ice_tcp_free_all(mc_ice_agent *a);

/* checklist.c, for tcp.c: the connection of (base, remote) is gone; its
 * pairs that have not succeeded fail. */
void ice_tcp_route_failed(mc_ice_agent *a, int base, const mc_addr *remote);

/* consent.c */
void ice_consent_tick(mc_ice_agent *a, uint64_t now, uint64_t *next);
void ice_consent_start(mc_ice_agent *a);
/* A datagram arrived on the selected pair's route from its remote. */
void ice_consent_heard(mc_ice_agent *a, uint64_t now);
void ice_consent_done(mc_ice_agent *a, struct ice_txn *t, int err, const mc_stun_msg *m, const uint8_t *buf,
                      size_t len);
int ice_build_binding_request(mc_ice_agent *a, uint8_t *buf, size_t cap, uint32_t prio, bool use_candidate);

#endif
