/* ice: the ICE agent (RFC 8445 full agent, both roles), trickle ICE
 * (RFC 8838), consent freshness (RFC 7675) and ICE candidate lines.
 *
 * One agent handles one media stream with one component (rtcp-mux), on the
 * net thread's libuv loop; every callback runs on that loop. The shape
 * follows libjuice: an opaque agent, a config struct, callbacks, plain error
 * codes.
 *
 *   mc_ice_agent *a;
 *   mc_ice_agent_new(loop, &config, &callbacks, user, &a);
 *   mc_ice_agent_get_local_credentials(a, ufrag, pwd);   -> signal them
 *   mc_ice_agent_gather(a);                 -> on_candidate(line) ... on_gathering_done
 *   mc_ice_agent_set_remote_credentials(a, ufrag, pwd);  <- from the peer
 *   mc_ice_agent_add_remote_candidate(a, line);          <- from the peer
 *   mc_ice_agent_set_remote_gathering_done(a);           <- end-of-candidates
 *   on_writable (a valid pair: mc_ice_agent_send works, RFC 8445 12.1),
 *   on_state(CONNECTED), on_selected_pair(...): mc_ice_agent_send / on_data on it
 *   mc_ice_agent_free(a);
 */
#ifndef MC_ICE_H
#define MC_ICE_H

#include "net/net.h"
#include "turn/turn.h"
#include "util/util.h"

/* ---- candidates (RFC 8445 5.1, RFC 8839 5.1) ---- */

enum mc_ice_cand_type {
  MC_ICE_CAND_HOST = 0,
  MC_ICE_CAND_SRFLX,
  MC_ICE_CAND_PRFLX,
  MC_ICE_CAND_RELAY,
};

enum mc_ice_transport {
  MC_ICE_TRANSPORT_UDP = 0,
  MC_ICE_TRANSPORT_TCP, /* RFC 6544 ICE-TCP */
};

/* RFC 6544 4.5: the tcptype extension of a TCP candidate. */
enum mc_ice_tcptype {
  MC_ICE_TCPTYPE_NONE = 0, /* UDP, or a TCP candidate without tcptype (never paired) */
  MC_ICE_TCPTYPE_ACTIVE,   /* opens connections; port 9 in SDP */
  MC_ICE_TCPTYPE_PASSIVE,  /* accepts connections */
  MC_ICE_TCPTYPE_SO,       /* simultaneous-open: parsed, never paired */
};

/* RFC 8445 5.1.2.2 recommended type preferences. */
#define MC_ICE_TYPE_PREF_HOST 126
#define MC_ICE_TYPE_PREF_PRFLX 110
#define MC_ICE_TYPE_PREF_SRFLX 100
#define MC_ICE_TYPE_PREF_RELAY 0
/* RFC 6544 4.2 leaves the type preference of TCP candidates to the agent
 * and wants it to say which transport the agent prefers. Media over TCP
 * suffers head-of-line blocking, so every direct UDP candidate (srflx
 * included) ranks above a TCP host candidate; a relay stays below it, as a
 * direct TCP path beats a detour through a TURN server. Chromium ranks
 * them the same way (90 and 80). */
#define MC_ICE_TYPE_PREF_HOST_TCP 90
#define MC_ICE_TYPE_PREF_PRFLX_TCP 80

#define MC_ICE_FOUNDATION_MAX 32 /* RFC 8445 5.1.1.3: 1*32 ice-char */
#define MC_ICE_UFRAG_MAX 256     /* RFC 8839 5.4: 4..256 characters */
#define MC_ICE_PWD_MAX 256       /* RFC 8839 5.4: 22..256 characters */
#define MC_ICE_UFRAG_LEN 8       /* what we generate (>= 24 bits of randomness) */
#define MC_ICE_PWD_LEN 24        /* what we generate (>= 128 bits of randomness) */
#define MC_ICE_CANDIDATE_STRLEN 512
#define MC_ICE_HOST_MAX MC_DNS_NAME_MAX

typedef struct mc_ice_candidate {
  char foundation[MC_ICE_FOUNDATION_MAX + 1];
  uint32_t component; /* 1..256 */
  enum mc_ice_transport transport;
  enum mc_ice_tcptype tcptype; /* TCP only */
  uint32_t priority;
  /* The connection-address as written: an IP without brackets, or an mDNS
   * name such as "0c4f...-....local". */
  char host[MC_ICE_HOST_MAX];
  bool is_mdns;     /* host ends in ".local" */
  mc_addr addr;     /* host and port; AF_UNSPEC until an mDNS name resolves */
  uint16_t port;
  enum mc_ice_cand_type type;
  bool has_related; /* raddr/rport present */
  char related_host[MC_ICE_HOST_MAX];
  uint16_t related_port;
  /* Extensions browsers add; absent ones are -1 / empty. */
  long generation;
  char ufrag[MC_ICE_UFRAG_MAX + 1];
  long network_id;
  long network_cost;
  /* Local relay candidates only: how we reach the TURN server. */
  bool has_relay_transport;
  enum mc_turn_transport relay_transport;
} mc_ice_candidate;

/* Parses a candidate attribute value, with or without the leading "a=" and
 * "candidate:" (RFC 8839 5.1 grammar, browser extensions accepted, unknown
 * extensions ignored). Transport "UDP"/"udp"/"tcp" in any case. Numeric
 * addresses are parsed into addr; ".local" names leave addr AF_UNSPEC with
 * is_mdns set. MC_EPARSE on anything malformed. */
int mc_ice_candidate_parse(const uint8_t *buf, size_t len, mc_ice_candidate *out);
/* Writes "candidate:F 1 udp P IP PORT typ T [raddr R rport P] [tcptype X]
 * [generation G] [ufrag U] [network-id N] [network-cost C]" (no "a=", no
 * newline); tcptype for TCP candidates. */
int mc_ice_candidate_format(const mc_ice_candidate *c, char *buf, size_t cap);
const char *mc_ice_cand_type_name(enum mc_ice_cand_type t); /* "host", "srflx", "prflx", "relay" */
const char *mc_ice_tcptype_name(enum mc_ice_tcptype t);     /* "active", "passive", "so", "" */
int mc_ice_cand_type_from_name(const char *name, size_t len, enum mc_ice_cand_type *out);
uint8_t mc_ice_type_preference(enum mc_ice_cand_type t);

/* RFC 8445 5.1.2.1: (2^24)*type_pref + (2^8)*local_pref + (256 - component). */
uint32_t mc_ice_candidate_priority(uint8_t type_pref, uint16_t local_pref, uint32_t component);

/* Local preferences (RFC 8445 5.1.2.1, 0..65535). Interfaces are ranked by
 * the order mc_net_local_addresses gives (index 0 best); IPv6 above IPv4
 * (RFC 8421 dual stack); a relay reached over TCP or TLS below one reached
 * over UDP, so a UDP relay wins whenever both work. */
uint16_t mc_ice_local_preference(enum mc_ice_cand_type type, int family, size_t iface_index,
                                 enum mc_turn_transport relay_transport);

/* RFC 6544 4.2: the local preference of a TCP candidate is
 * (2^13) * direction-pref + other-pref; for host candidates active ranks
 * above passive above simultaneous-open. other-pref (0..8191) ranks the
 * interface as mc_ice_local_preference does, IPv6 above IPv4. */
uint16_t mc_ice_tcp_local_preference(enum mc_ice_tcptype tcptype, int family, size_t iface_index);

/* RFC 8445 5.1.1.3: candidates share a foundation when they have the same
 * type, base IP, STUN/TURN server IP and transport. Writes a short
 * deterministic ice-char string (a hash of those) to out (MC_ICE_FOUNDATION_MAX + 1). */
void mc_ice_foundation(enum mc_ice_cand_type type, const mc_addr *base, const mc_addr *server,
                       enum mc_ice_transport transport, enum mc_turn_transport relay_transport,
                       char out[MC_ICE_FOUNDATION_MAX + 1]);

/* RFC 8445 6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0), where G is the
 * controlling agent's candidate priority and D the controlled agent's. */
uint64_t mc_ice_pair_priority(uint32_t controlling_prio, uint32_t controlled_prio);

/* ---- RFC 4571 framing of ICE-TCP connections ---- */

/* RFC 6544 3: STUN and media on an ICE-TCP connection are framed as in
 * RFC 4571: a 16-bit big-endian length, then that many bytes. */
#define MC_ICE_FRAME_MAX 65535

/* Writes the 2-byte header for a frame of len bytes; MC_ETOOBIG over
 * MC_ICE_FRAME_MAX. */
int mc_ice_frame_header(size_t len, uint8_t out[2]);

/* Cuts a byte stream into frames. The peer's bytes are untrusted: any
 * length is possible, a frame may arrive in any number of pieces. */
typedef struct mc_ice_framer mc_ice_framer;
mc_ice_framer *mc_ice_framer_new(void);
void mc_ice_framer_free(mc_ice_framer *f);
/* Called once per complete frame (an empty frame too). Returning non-zero
 * stops the push (the owner closed the stream): the rest is dropped. */
typedef int (*mc_ice_frame_cb)(const uint8_t *frame, size_t len, void *user);
/* Feeds len more bytes of the stream. Returns 0, or what on_frame returned. */
int mc_ice_framer_push(mc_ice_framer *f, const uint8_t *data, size_t len, mc_ice_frame_cb on_frame, void *user);
/* Bytes held of an incomplete frame (header included). */
size_t mc_ice_framer_pending(const mc_ice_framer *f);

/* ---- timing: every tunable in one place, defaults from the RFCs and from
 * measurements (see timing.h for the sources and figures). ---- */
struct mc_ice_settings {
  uint32_t ta_ms;              /* check pacing (RFC 8445 14.2) */
  uint32_t check_rto_ms;       /* first retransmission of a check (RFC 8445 14.3) */
  /* Controlling: a pair through a relay waits after it succeeds for a
   * direct pair to succeed before it is nominated (direct pairs are
   * nominated at once): 4 times the relay check's round trip, at least
   * 100 ms, at most this. */
  uint32_t relay_nomination_grace_ms;
  uint32_t consent_interval_ms; /* RFC 7675 5.1: base, randomised 0.8..1.2 (4-6 s) */
  uint32_t consent_timeout_ms;  /* RFC 7675 5.1: 30 s without an answer: consent lost */
  uint32_t disconnected_ms;     /* no answer this long: state disconnected (recovers) */
  /* Nothing at all heard on the selected pair this long: a consent check at
   * once; and with nothing heard for disconnected_silence_ms and that check
   * unanswered: disconnected. 0 turns the fast path off. */
  uint32_t silence_probe_ms;
  uint32_t disconnected_silence_ms;
  uint32_t keepalive_ms;        /* RFC 8445 11: Binding indication when idle (Tr, >= 15 s) */
  uint32_t server_timeout_ms;   /* STUN Binding / TURN transactions while gathering */
  uint32_t mdns_timeout_ms;     /* resolving a remote ".local" candidate */
  /* All pairs failed, no end-of-candidates: declare failure after this long
   * without a new remote candidate. */
  uint32_t eoc_wait_ms;
};

/* Fills s with the defaults. */
void mc_ice_settings_default(struct mc_ice_settings *s);

/* ---- agent ---- */
typedef struct mc_ice_agent mc_ice_agent;

enum mc_ice_role {
  MC_ICE_ROLE_CONTROLLING = 0,
  MC_ICE_ROLE_CONTROLLED,
};

/* Like RTCIceConnectionState. */
enum mc_ice_state {
  MC_ICE_STATE_NEW = 0,
  MC_ICE_STATE_CHECKING,
  MC_ICE_STATE_CONNECTED,
  MC_ICE_STATE_COMPLETED,
  MC_ICE_STATE_FAILED,
  MC_ICE_STATE_DISCONNECTED,
  MC_ICE_STATE_CLOSED,
};
const char *mc_ice_state_name(enum mc_ice_state s); /* "new", "checking", ... */
const char *mc_ice_role_name(enum mc_ice_role r);   /* "controlling", "controlled" */

/* One STUN or TURN server, as in RTCIceServer. */
struct mc_ice_server {
  const char *url;        /* stun:, stuns: (ignored: not useful for UDP srflx), turn:, turns: */
  const char *username;   /* TURN only */
  const char *credential; /* TURN only; never logged */
};

struct mc_ice_config {
  enum mc_ice_role role; /* initial role; role conflicts (RFC 8445 7.3.1.1) may switch it */
  const struct mc_ice_server *servers; /* copied by mc_ice_agent_new */
  size_t server_count;
  bool insecure;         /* turns: skip certificate verification */
  bool relay_only;       /* like iceTransportPolicy "relay": only relay candidates */
  bool mdns_hide_host;   /* signal host candidates as "<uuid>.local" (we answer mDNS for them) */
  /* Offer loopback host candidates too (tests); they pair only with remote
   * loopback candidates. Without it loopback is offered only when it is the
   * only interface (mc_net_local_addresses). */
  bool include_loopback;
  int family;            /* AF_UNSPEC (both), AF_INET or AF_INET6: which host candidates */
  /* Host candidates from these addresses only instead of every interface
   * (a port other than 0 binds that port). Copied. Tests use 127.0.0.1. */
  const mc_addr *bind_addrs;
  size_t bind_addr_count;
  /* Also gather ICE-TCP host candidates (RFC 6544): per interface a passive
   * one (a listening socket) and an active one; pair TCP candidates of the
   * peer. Without it TCP candidates of the peer are ignored. */
  bool tcp;
  /* Controlling only: put USE-CANDIDATE on every check (aggressive
   * nomination, RFC 5245; kept to test peers that still do it). */
  bool aggressive_nomination;
  /* NULL: mc_ice_settings_default. Copied. */
  const struct mc_ice_settings *settings;
};

struct mc_ice_callbacks {
  /* Trickle (RFC 8838): a new local candidate. line is the attribute value
   * ("candidate:..."), to send to the peer as is. */
  void (*on_candidate)(mc_ice_agent *a, const mc_ice_candidate *cand, const char *line, void *user);
  /* Gathering finished: signal end-of-candidates. */
  void (*on_gathering_done)(mc_ice_agent *a, void *user);
  void (*on_state)(mc_ice_agent *a, enum mc_ice_state state, void *user);
  /* The pair media uses changed (first selection, after an ICE restart). */
  void (*on_selected_pair)(mc_ice_agent *a, const mc_ice_candidate *local, const mc_ice_candidate *remote,
                           void *user);
  /* Optional: before any pair is selected, the first valid pair (a check
   * of ours succeeded): mc_ice_agent_send works from now on (RFC 8445
   * 12.1), on that pair or the one the peer's data comes in on. Runs once
   * per checklist (again after an ICE restart only if no pair was selected). */
  void (*on_writable)(mc_ice_agent *a, void *user);
  /* A datagram from the peer that is not STUN. */
  void (*on_data)(mc_ice_agent *a, const uint8_t *data, size_t len, void *user);
  /* Optional: a STUN/TURN server failed while gathering. sentence says which
   * server and why, for a person. The agent carries on without it. */
  void (*on_server_error)(mc_ice_agent *a, const char *url, const char *sentence, void *user);
};

int mc_ice_agent_new(uv_loop_t *loop, const struct mc_ice_config *config, const struct mc_ice_callbacks *cbs,
                     void *user, mc_ice_agent **out);
/* Starts gathering: host candidates at once (reported before this returns),
 * server-reflexive and relay ones as servers answer. */
int mc_ice_agent_gather(mc_ice_agent *a);
/* ufrag: MC_ICE_UFRAG_MAX + 1 bytes, pwd: MC_ICE_PWD_MAX + 1 bytes. */
int mc_ice_agent_get_local_credentials(const mc_ice_agent *a, char *ufrag, char *pwd);
/* The peer's ice-ufrag and ice-pwd. Checks start once these are known.
 * Different ones than before mean the peer restarted ICE: remote candidates
 * and checks start over (call mc_ice_agent_restart too when we must answer
 * with new credentials, as JSEP does). */
int mc_ice_agent_set_remote_credentials(mc_ice_agent *a, const char *ufrag, const char *pwd);
/* A candidate line from the peer ("candidate:..." or "a=candidate:...").
 * Other components, and tcp candidates unless config.tcp, are ignored
 * (returns 0); ".local" names are resolved by mDNS first. MC_EPARSE when
 * the line is malformed. */
int mc_ice_agent_add_remote_candidate(mc_ice_agent *a, const char *line);
/* The peer's end-of-candidates. */
int mc_ice_agent_set_remote_gathering_done(mc_ice_agent *a);
/* Sends one datagram over the selected pair; before a pair is selected,
 * over the valid pair the peer's latest data arrived on, else the best
 * valid pair (RFC 8445 12.1), while that pair's check answer is less than
 * consent_timeout_ms old (RFC 7675). Over TCP: one RFC 4571 frame, at most
 * MC_ICE_FRAME_MAX bytes. MC_ESTATE when there is no such pair or consent
 * was lost. */
int mc_ice_agent_send(mc_ice_agent *a, const uint8_t *data, size_t len);
/* ICE restart (RFC 8445 9): new local credentials, local candidates
 * reported again (on_candidate, on_gathering_done), remote candidates and
 * checks start over once the peer's new credentials arrive. Media keeps
 * using the old selected pair until a new one is selected. Works in any
 * state after gathering started, also disconnected or failed (failed goes
 * back to checking). Gathering runs again: host sockets for addresses that
 * appeared (those of vanished addresses are no longer offered), fresh
 * server-reflexive Bindings, and a new TURN allocation where the old one
 * was lost (a live allocation is kept). */
int mc_ice_agent_restart(mc_ice_agent *a);
/* Closes sockets and TURN allocations; state closed. No callback runs after
 * this returns. */
void mc_ice_agent_close(mc_ice_agent *a);
/* Closes (if needed) and frees. TURN clients linger on the loop for their
 * Refresh(0) (MC_TURN_CLOSE_LINGER_MS). */
void mc_ice_agent_free(mc_ice_agent *a);

enum mc_ice_state mc_ice_agent_state(const mc_ice_agent *a);
enum mc_ice_role mc_ice_agent_role(const mc_ice_agent *a);

struct mc_ice_stats {
  uint64_t checks_started_ms;   /* mc_now_ms() of the first check, 0 before */
  uint64_t selected_ms;         /* mc_now_ms() of the latest selection, 0 before */
  uint64_t last_consent_ms;     /* mc_now_ms() of the latest answer on the selected pair */
  uint64_t gather_started_ms;
  uint64_t gather_done_ms;
  size_t local_candidates, remote_candidates, pairs;
  size_t checks_sent, checks_received;
  uint64_t bytes_sent, bytes_received;
  bool has_selected;
  mc_ice_candidate selected_local, selected_remote;
  /* The TURN server the selected pair is relayed through (its URL as
   * configured), "" when our side is not relayed. */
  char selected_relay_url[MC_ICE_URL_STRLEN];
};
int mc_ice_agent_get_stats(const mc_ice_agent *a, struct mc_ice_stats *out);

#endif
