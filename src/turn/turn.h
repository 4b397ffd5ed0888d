/* turn: ICE server URLs (RFC 7064 stun:/stuns:, RFC 7065 turn:/turns:) and a
 * TURN client (RFC 8656) holding one allocation over UDP, TCP or TLS.
 * Everything runs on the net thread's libuv loop; callbacks run there too. */
#ifndef MC_TURN_H
#define MC_TURN_H

#include "net/net.h"
#include "stun/stun.h"
#include "util/util.h"

/* ---- ICE server URLs (RFC 7064 3.1, RFC 7065 3.1) ---- */
enum mc_ice_url_scheme {
  MC_ICE_URL_STUN = 0,
  MC_ICE_URL_STUNS,
  MC_ICE_URL_TURN,
  MC_ICE_URL_TURNS,
};

/* How we talk to the server (not what the relay carries: always UDP). */
enum mc_turn_transport {
  MC_TURN_UDP = 0,
  MC_TURN_TCP,
  MC_TURN_TLS,
};

#define MC_ICE_URL_DEFAULT_PORT 3478     /* RFC 8489 18.8: stun / turn */
#define MC_ICE_URL_DEFAULT_TLS_PORT 5349 /* RFC 8489 18.8: stuns / turns */
#define MC_ICE_URL_HOST_MAX 254          /* DNS name limit; IPv6 literal fits */
#define MC_ICE_URL_STRLEN (MC_ICE_URL_HOST_MAX + 40)

typedef struct mc_ice_url {
  enum mc_ice_url_scheme scheme;
  char host[MC_ICE_URL_HOST_MAX + 1]; /* without brackets for IPv6 */
  bool host_is_ipv6;                  /* the URL had a bracketed IPv6 literal */
  uint16_t port;                      /* the default when none was given */
  bool port_given;
  /* turn: UDP unless ?transport=tcp; turns: TLS (?transport=tcp allowed);
   * stun: UDP; stuns: TLS. */
  enum mc_turn_transport transport;
  bool transport_given; /* the URL carried ?transport= */
} mc_ice_url;

/* Parses text[0..len-1] (no NUL needed). On failure returns MC_EPARSE and,
 * when why is not NULL, writes one sentence saying what is wrong. */
int mc_ice_url_parse(const char *text, size_t len, mc_ice_url *out, char *why, size_t why_cap);
/* Canonical form: "turn:[::1]:3478?transport=tcp"; returns buf. */
const char *mc_ice_url_str(const mc_ice_url *url, char *buf, size_t cap);
bool mc_ice_url_is_turn(const mc_ice_url *url); /* turn: or turns: */
const char *mc_turn_transport_name(enum mc_turn_transport t); /* "udp", "tcp", "tls" */

/* ---- error sentences ----
 * One sentence for a person about a failure talking to a TURN/STUN server.
 * server: "host:port" as the user wrote it. code: the STUN ERROR-CODE (300..699)
 * or 0 for a local failure, then err says which (MC_ETIMEDOUT, MC_EREFUSED
 * for a refused or reset connection, MC_ETLS, MC_ERESOLVE, MC_EIO...).
 * reason: the server's reason phrase, or for a local failure a detail from
 * the layer below (e.g. the TLS verification error), or NULL.
 * with_credentials: whether the
 * failing request carried credentials (a 401 then means a wrong password).
 * Returns buf. Never contains a password. */
const char *mc_turn_explain(char *buf, size_t cap, const char *server, enum mc_turn_transport transport,
                            uint16_t code, const char *reason, int err, bool with_credentials);
/* The MC_E code a STUN error code maps to (401 -> MC_EAUTH, 437 -> MC_ESTATE...). */
int mc_turn_error_to_mc(uint16_t code);

/* ---- timing (RFC 8656) ---- */
#define MC_TURN_DEFAULT_LIFETIME_S 600   /* RFC 8656 7.2: 10 minutes */
#define MC_TURN_REFRESH_MARGIN_S 60      /* refresh this long before expiry */
#define MC_TURN_PERMISSION_LIFETIME_S 300 /* RFC 8656 9: 5 minutes */
#define MC_TURN_PERMISSION_REFRESH_S 240  /* refresh at 4 minutes */
#define MC_TURN_CHANNEL_LIFETIME_S 600    /* RFC 8656 12: 10 minutes */
#define MC_TURN_CHANNEL_REFRESH_S 480     /* refresh at 8 minutes */
#define MC_TURN_CLOSE_LINGER_MS 2000      /* wait this long for the Refresh(0) answer */
#define MC_TURN_REFRESH_RETRY_MS 5000     /* a timed-out refresh is retried while time remains */
#define MC_TURN_MAX_STALE_NONCE_RETRIES 3 /* 438 answers accepted in a row per request */

/* ---- client ---- */
typedef struct mc_turn_client mc_turn_client;

enum mc_turn_state {
  MC_TURN_STATE_NEW = 0,
  MC_TURN_STATE_RESOLVING,
  MC_TURN_STATE_CONNECTING, /* TCP/TLS connect and handshake */
  MC_TURN_STATE_BINDING,    /* optional STUN Binding first (config.binding_first) */
  MC_TURN_STATE_ALLOCATING,
  MC_TURN_STATE_ALLOCATED,
  MC_TURN_STATE_BOUND, /* binding_only done: mapped address known, no allocation */
  MC_TURN_STATE_FAILED,
  MC_TURN_STATE_CLOSED,
};

struct mc_turn_config {
  const char *host; /* name or numeric IP (no brackets); copied; SNI for TLS */
  uint16_t port;
  enum mc_turn_transport transport;
  const char *username; /* copied; NULL: only the unauthenticated steps work */
  const char *password; /* copied, never logged */
  bool insecure;        /* TLS: skip certificate verification */
  int family;           /* resolution and relay family: AF_UNSPEC (IPv4 first), AF_INET, AF_INET6 */
  /* Each transaction fails after this long (MC_ETIMEDOUT). 0: RFC 8489 timing
   * (39.5 s over UDP and TCP). */
  uint32_t timeout_ms;
  uint32_t lifetime_s; /* LIFETIME to ask for; 0: server default */
  /* Refresh intervals; 0: MC_TURN_PERMISSION_REFRESH_S / MC_TURN_CHANNEL_REFRESH_S.
   * Shorter ones are for tests. */
  uint32_t permission_refresh_ms, channel_refresh_ms;
  bool binding_first;  /* send a STUN Binding before the Allocate (diagnose) */
  bool binding_only;   /* stop after the Binding (stun: servers); implies binding_first */
};

/* Fills cfg's host/port/transport from a parsed URL (cfg keeps pointing into url). */
void mc_turn_config_from_url(struct mc_turn_config *cfg, const mc_ice_url *url);

/* Steps reported to on_progress as they finish, for diagnose and logs. */
enum mc_turn_step {
  MC_TURN_STEP_RESOLVE = 0,    /* addr: the server address used */
  MC_TURN_STEP_CONNECT,        /* TCP/TLS only; addr: local address */
  MC_TURN_STEP_BINDING,        /* addr: the mapped (server-reflexive) address */
  MC_TURN_STEP_ALLOCATE_NOAUTH, /* ok means the expected 401 with REALM and NONCE came back */
  MC_TURN_STEP_ALLOCATE,       /* addr: relayed; mapped: mapped; lifetime_s */
  MC_TURN_STEP_REFRESH,        /* lifetime_s */
  MC_TURN_STEP_PERMISSION,     /* addr: peer */
  MC_TURN_STEP_CHANNEL_BIND,   /* addr: peer; channel */
};

struct mc_turn_progress {
  enum mc_turn_step step;
  int err;           /* 0 = the step passed */
  uint16_t code;     /* STUN error code when the server answered with one */
  const char *sentence; /* on failure: the one-sentence explanation; NULL on success */
  const char *reason;   /* on an error response: the server's reason phrase (untrusted text) */
  mc_addr addr;
  mc_addr mapped;
  uint32_t lifetime_s;
  uint16_t channel;
  const char *realm; /* ALLOCATE_NOAUTH: the realm the server announced, else NULL */
  bool has_nonce;    /* ALLOCATE_NOAUTH: a NONCE came with it */
  uint32_t rtt_ms;   /* request to final response, retransmissions included */
};

struct mc_turn_callbacks {
  /* The allocation exists (or, with binding_only, the mapped address is
   * known: relayed is then NULL). */
  void (*on_allocated)(mc_turn_client *c, const mc_addr *relayed, const mc_addr *mapped, void *user);
  /* Fatal: the allocation failed or was lost (state FAILED). sentence is one
   * sentence for a person. The owner still calls mc_turn_client_close. */
  void (*on_error)(mc_turn_client *c, int err, const char *sentence, void *user);
  /* Data from a peer, through a Data indication or ChannelData. */
  void (*on_data)(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len, void *user);
  /* Optional: each CreatePermission / ChannelBind answer (first time and
   * refreshes), err 0 on success. */
  void (*on_permission)(mc_turn_client *c, const mc_addr *peer, int err, void *user);
  void (*on_channel)(mc_turn_client *c, const mc_addr *peer, uint16_t channel, int err, void *user);
  /* Optional: every step as it finishes (see enum mc_turn_step). */
  void (*on_progress)(mc_turn_client *c, const struct mc_turn_progress *p, void *user);
};

int mc_turn_client_new(uv_loop_t *loop, const struct mc_turn_config *cfg, const struct mc_turn_callbacks *cbs,
                       void *user, mc_turn_client **out);
/* Resolves, connects (TCP/TLS), optionally Binds, then Allocates. */
int mc_turn_client_start(mc_turn_client *c);

/* RFC 8656 9: installs a permission for peer's IP (the port is ignored) and
 * keeps refreshing it. Idempotent. Valid before the allocation exists (it is
 * sent once it does). */
int mc_turn_create_permission(mc_turn_client *c, const mc_addr *peer);
/* RFC 8656 12: binds a channel to peer (IP and port), creating the permission
 * too, and keeps refreshing it; once bound, mc_turn_send uses ChannelData. */
int mc_turn_channel_bind(mc_turn_client *c, const mc_addr *peer);
/* Sends data to peer through the relay: ChannelData when a channel is bound,
 * a Send indication otherwise. Requests the permission if none was asked for.
 * MC_ESTATE when the allocation does not exist (yet, or any more). */
int mc_turn_send(mc_turn_client *c, const mc_addr *peer, const uint8_t *data, size_t len);

enum mc_turn_state mc_turn_client_state(const mc_turn_client *c);
enum mc_turn_transport mc_turn_client_transport(const mc_turn_client *c);
int mc_turn_client_relayed_addr(const mc_turn_client *c, mc_addr *out); /* MC_ESTATE before allocation */
int mc_turn_client_mapped_addr(const mc_turn_client *c, mc_addr *out);  /* server-reflexive */
int mc_turn_client_server_addr(const mc_turn_client *c, mc_addr *out);  /* after resolution */
int mc_turn_client_local_addr(const mc_turn_client *c, mc_addr *out);   /* our socket */
/* True when peer has a bound channel (ChannelData fast path in use). */
bool mc_turn_client_has_channel(const mc_turn_client *c, const mc_addr *peer);

/* No callback runs after this returns and c must not be used again (it is
 * safe to call from inside any of c's callbacks). When an allocation exists
 * it sends Refresh with LIFETIME 0 (RFC 8656 7.2) and frees itself once that
 * is answered or after MC_TURN_CLOSE_LINGER_MS, so keep the loop running
 * that long. */
void mc_turn_client_close(mc_turn_client *c);

#endif
