/* server: medcall-server, the signaling server (docs/server.md).
 * One process, one thread: libwebsockets serves HTTPS (the patient page) and
 * WSS (the protocol of src/signal/) on one port; rooms, the waiting room and
 * TURN credentials live here. The pieces below are separate so they can be
 * tested without sockets: configuration, certificate, TURN REST credentials,
 * web paths, and the room state machine. */
#ifndef MC_SERVER_H
#define MC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "signal/signal.h"

/* ---- configuration ---- */
/* A TURN pool: every admitted peer gets all --turn-url, in the order given
 * (the first is preferred: medcall ranks a relay candidate by its server's
 * place in the list, as Chromium does). No protocol sets this number:
 * RFC 8445 and the W3C RTCIceServer list have no limit; Chromium accepts 32
 * TURN servers and Firefox warns from five URLs on that discovery slows
 * down. 8 is what medcall's own ICE agent takes (ICE_MAX_SERVERS, with its
 * 100-pair checklist), so a pool larger than the app can use is refused at
 * start, not cut silently at every call. */
#define MC_SERVER_MAX_TURN_URLS 8
#define MC_SERVER_DEFAULT_PORT 8443
#define MC_SERVER_DEFAULT_ROOM_TTL_S (24 * 3600)
#define MC_SERVER_DEFAULT_GRACE_S 30
/* TURN REST credentials live a day: long enough for any consultation, since
 * coturn checks the expiry again on every refresh of the allocation. */
#define MC_SERVER_DEFAULT_TURN_TTL_S (24 * 3600)
/* A WebSocket silent this long gets a ping (RFC 6455 5.5.2); one silent for
 * the timeout is closed, so a vanished peer starts its grace period. */
#define MC_SERVER_DEFAULT_IDLE_PING_S 20
#define MC_SERVER_DEFAULT_IDLE_TIMEOUT_S 40
/* After SIGTERM the server waits this long for its clients to leave (each
 * was sent goaway) before it exits anyway. */
#define MC_SERVER_DEFAULT_DRAIN_TIMEOUT_S 10
/* The goaway message's hint: reconnect after about this long. */
#define MC_SERVER_GOAWAY_RETRY_MS 1000

/* One numeric address and port to listen on. */
#define MC_SERVER_MAX_LISTEN 8
struct mc_listen_addr {
  char host[64]; /* "0.0.0.0", "::", "127.0.0.1", "::1" ... (no brackets) */
  uint16_t port;
};

/* A silent connection may take this long for its TLS handshake and request
 * before it is closed. */
#define MC_SERVER_DEFAULT_HANDSHAKE_TIMEOUT_S 10

struct mc_server_config {
  /* --listen: where HTTPS and WSS are served. listen_host and port repeat
   * the first address (room links and the snapshot's name use its port). */
  struct mc_listen_addr listen[MC_SERVER_MAX_LISTEN];
  size_t n_listen;
  char *listen_host;
  uint16_t port;
  /* --metrics-listen: plain HTTP for /healthz and /metrics; none by default */
  struct mc_listen_addr metrics_listen[MC_SERVER_MAX_LISTEN];
  size_t n_metrics_listen;
  char *audit_log; /* --audit-log FILE, NULL: none */
  uint32_t handshake_timeout_s;
  char *cert_path, *key_path; /* NULL: a self-signed pair in state_dir */
  char *state_dir;
  char *web_root;
  char *public_url; /* "https://host:port" used in room links; NULL: from the Host header */
  char *doctor_token; /* never logged */
  bool open;          /* anyone may create rooms (single-machine demo) */
  uint32_t room_ttl_s, grace_s;
  char *turn_urls[MC_SERVER_MAX_TURN_URLS];
  size_t n_turn_urls;
  char *turn_secret; /* TURN REST shared secret; never logged */
  uint32_t turn_ttl_s;
  char *turn_user, *turn_password; /* static credentials; never logged */
  size_t max_message;              /* bytes per WebSocket message */
  uint32_t rate, burst;            /* messages per second per connection, bucket size */
  uint32_t ip_rate, ip_burst;      /* messages per second per address */
  uint32_t max_conns_per_ip, max_conns, max_rooms;
  size_t max_queue; /* bytes waiting for a slow client before it is dropped */
  uint32_t idle_ping_s, idle_timeout_s; /* ping after, close after this much silence */
  uint32_t drain_timeout_s;             /* SIGTERM: wait this long for clients to leave */
  bool help, version;
  /* The command line parse_args read, kept to read it again on SIGHUP
   * (pointers into main's argv, never freed). */
  int argc;
  char **argv;
};

void mc_server_config_init(struct mc_server_config *cfg);
void mc_server_config_free(struct mc_server_config *cfg);
/* Sets one option by its long name without "--" ("listen", "room-ttl"...);
 * flags ("open") take "true"/"false"/"1"/"0"/"yes"/"no" or NULL for true.
 * Durations take seconds or a number with s, m, h or d. On failure returns
 * MC_EINVAL and writes one sentence to why. */
int mc_server_config_set(struct mc_server_config *cfg, const char *name, const char *value, char *why,
                         size_t why_cap);
/* Reads "name = value" lines ('#' starts a comment) through
 * mc_server_config_set. */
int mc_server_config_load(struct mc_server_config *cfg, const char *path, char *why, size_t why_cap);
/* The same over the text of a config file (origin names it in why). */
int mc_server_config_load_text(struct mc_server_config *cfg, const uint8_t *text, size_t len, const char *origin,
                               char *why, size_t why_cap);
/* Command line: --config FILE is read first, then the other options
 * override it (--turn-url adds to those of the file). Checks the result
 * (mc_server_config_check) unless --help was given. */
int mc_server_config_parse_args(struct mc_server_config *cfg, int argc, char **argv, char *why, size_t why_cap);
/* SIGHUP: reads the command line and config file again into a fresh
 * config and moves what may change while running into cfg (everything but
 * the listening address and the state directory, which stay; a change to
 * them is named in why). MC_EINVAL with a sentence when the new config is
 * refused: cfg is then unchanged. */
int mc_server_config_reload(struct mc_server_config *cfg, char *why, size_t why_cap);
/* Consistency: a way to create rooms, TURN options that fit together. */
int mc_server_config_check(const struct mc_server_config *cfg, char *why, size_t why_cap);
void mc_server_usage(FILE *out);
/* Seconds from "30", "30s", "5m", "24h", "2d"; MC_EINVAL otherwise. */
int mc_server_parse_duration(const char *text, uint32_t *out_s);

/* ---- certificate ---- */
/* When cfg has no cert/key, uses STATE_DIR/cert.pem and key.pem, creating a
 * self-signed ECDSA P-256 pair there first if missing (state dir 0700, key
 * 0600). Writes the paths to use and the certificate's SHA-256 fingerprint
 * ("AB:CD:..", 95 characters + NUL). generated tells whether it made one. */
int mc_server_cert_ensure(const struct mc_server_config *cfg, char *cert_out, size_t cert_cap, char *key_out,
                          size_t key_cap, char *fp_out, size_t fp_cap, bool *generated);
int mc_server_cert_fingerprint(const char *cert_path, char *fp_out, size_t fp_cap);

/* ---- TURN REST credentials (draft-uberti-behave-turn-rest-00 2.2, as
 * coturn's use-auth-secret implements it) ---- */
/* username = "<expiry unix seconds>:<id>", password = base64(HMAC-SHA1(secret,
 * username)). */
int mc_turn_rest_credentials(const char *secret, uint64_t expiry_unix_s, const char *id, char *user_out,
                             size_t user_cap, char *pass_out, size_t pass_cap);

/* ---- web root ---- */
/* Maps a request path to a file under web_root: "/r/ROOM" -> room.html (ROOM
 * must look like a room id), "/" -> index.html, "/NAME" -> NAME. Segments
 * starting with '.', '%', '\\' and anything outside [A-Za-z0-9._/-] are
 * refused (MC_EINVAL); the resolved file must be a regular file whose real
 * path is inside web_root's (MC_ENOTFOUND otherwise). mime gets the
 * Content-Type. */
int mc_web_resolve(const char *web_root, const char *uri, char *path_out, size_t path_cap, const char **mime);

/* The snapshot of rooms and sessions kept across restarts:
 * STATE_DIR/rooms-PORT.json (docs/server.md "Restarting"). */
int mc_server_snapshot_path(const struct mc_server_config *cfg, char *out, size_t cap);

/* ---- rooms ---- */
typedef struct mc_rooms mc_rooms;
typedef struct mc_session mc_session;

/* What happened in a room, for the audit log and the metrics (server.c
 * decides what each becomes). */
enum mc_room_event_kind {
  MC_ROOM_CREATED,   /* a doctor made a room */
  MC_ROOM_RECLAIMED, /* a doctor took its room back with the token */
  MC_ROOM_KNOCKED,   /* a patient knocked */
  MC_ROOM_ADMITTED,  /* the doctor let a knock in */
  MC_ROOM_DECLINED,  /* the doctor turned a knock away */
  MC_ROOM_WITHDRAWN, /* a knock ended otherwise (reason: left, timeout) */
  MC_ROOM_LEFT,      /* the admitted patient left the call (reason: left, replaced) */
  MC_ROOM_AWAY,      /* a session lost its connection */
  MC_ROOM_BACK,      /* a session that was away resumed */
  MC_ROOM_RESUMED,   /* a session moved to a new connection while its old one was open */
  MC_ROOM_ENDED,     /* the room is gone (reason: ended-by-doctor, doctor-gone, expired) */
  MC_ROOM_BAD_TOKEN, /* a create or reclaim with a wrong doctor token */
  MC_ROOM_TURN_CREDENTIALS, /* TURN credentials were handed out */
  MC_ROOM_RELAYED,   /* an offer, answer or candidate went to the peer */
  MC_ROOM_REJECTED,  /* an error answer went out (reason: its code) */
};

/* room is the room's id, a secret (the audit log keeps only a keyed hash of
 * it); role "doctor" or "patient" or NULL; reason NULL or a word; conn the
 * connection the event came from or concerns, NULL when it has none. */
struct mc_room_event {
  enum mc_room_event_kind kind;
  const char *room;
  const char *role;
  const char *reason;
  void *conn;
};

/* How rooms reach connections. conn is the opaque connection handle given to
 * mc_rooms_on_message; send queues text for it and must not block. When a
 * session ends or moves to another connection, rooms set the old
 * connection's slot to NULL. event (may be NULL) hears every
 * mc_room_event. */
struct mc_rooms_io {
  void (*send)(void *conn, const char *text, size_t len, void *user);
  void (*event)(const struct mc_room_event *e, void *user);
};

/* cfg is read live (a SIGHUP may change it); call config_changed after. */
int mc_rooms_new(struct mc_server_config *cfg, const struct mc_rooms_io *io, void *user, mc_rooms **out);
void mc_rooms_config_changed(mc_rooms *r);
/* Frees every room without telling anyone (they live on in the snapshot). */
void mc_rooms_free(mc_rooms *r);
/* One validated message from conn. *slot is the connection's session (NULL
 * before create/join/resume); rooms update it. An offer, answer or
 * candidate reaches the peer rebuilt from msg's fields
 * (mc_signal_relay_json), never as the client wrote it. host is the Host
 * header of the connection's upgrade request (may be NULL), used for the
 * room link. */
void mc_rooms_on_message(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *msg, const char *host,
                         uint64_t now_ms);
/* The connection holding *slot closed: its session starts its grace period. */
void mc_rooms_on_close(mc_rooms *r, mc_session **slot, uint64_t now_ms);
/* Ends grace periods and expires unused rooms. */
void mc_rooms_tick(mc_rooms *r, uint64_t now_ms);
size_t mc_rooms_count(const mc_rooms *r);
/* Patients knocking in every room, and rooms with a patient admitted. */
size_t mc_rooms_waiting_count(const mc_rooms *r);
size_t mc_rooms_admitted_count(const mc_rooms *r);
/* While draining (the server is stopping and its clients will resume on
 * the next one) nobody is told that a peer went away, and no grace period
 * ends. */
void mc_rooms_set_draining(mc_rooms *r, bool draining);
/* True once after anything worth a new snapshot changed. */
bool mc_rooms_take_dirty(mc_rooms *r);
/* Writes every room and session to path (0600, atomically). */
int mc_rooms_save(mc_rooms *r, const char *path, uint64_t now_ms);
/* Adds the rooms of a snapshot; sessions come back away, with what was
 * left of their grace. MC_ENOTFOUND no file, MC_ETIMEDOUT older than the
 * grace period (nothing loaded), MC_EPARSE not a snapshot. */
int mc_rooms_load(mc_rooms *r, const char *path, uint64_t now_ms, size_t *loaded);
/* Sends an error message to conn. */
void mc_rooms_send_error(mc_rooms *r, void *conn, enum mc_signal_error e, enum mc_signal_type ref);

/* ---- metrics (metrics.c) ---- */
/* Rooms end for these reasons; anything else counts as "other". */
#define MC_SERVER_END_REASONS 4
extern const char *const mc_server_end_reasons[MC_SERVER_END_REASONS];
size_t mc_server_end_reason_index(const char *reason);

struct mc_server_metrics {
  bool serving; /* false while starting or draining */
  uint64_t tcp_connections, websockets, rooms, patients_waiting, calls_in_progress; /* gauges */
  uint64_t connections_refused, rooms_created, knocks, calls_admitted, messages_relayed;
  uint64_t rooms_ended[MC_SERVER_END_REASONS];
  uint64_t messages_rejected[MC_SIGERR_COUNT];
  uint64_t rate_limited_connection, rate_limited_address;
  uint64_t bad_tokens, lockouts, turn_credentials, tls_handshakes, tls_handshake_failures;
};
/* The Prometheus text exposition (format 0.0.4) of m plus this process's
 * CPU, memory and descriptors; *out is malloc'd. */
int mc_server_metrics_render(const struct mc_server_metrics *m, char **out, size_t *out_len);

/* ---- audit log (audit.c) ---- */
typedef struct mc_audit mc_audit;
/* Opens path for appending and loads (or makes) the key of the room
 * references in the state directory. A sentence in why on failure. */
int mc_audit_open(const char *path, const char *state_dir, mc_audit **out, char *why, size_t cap);
/* SIGHUP after a rotation: a new file at the same path. */
int mc_audit_reopen(mc_audit *a);
void mc_audit_close(mc_audit *a);
/* One line {"time","event","role","addr","room","reason"}; NULL fields are
 * left out. room_id is hashed (mc_audit_room_ref), never written. */
int mc_audit_write(mc_audit *a, const char *event, const char *role, const char *addr, const char *room_id,
                   const char *reason);
/* 32 hex digits of HMAC-SHA256(key, room_id). */
void mc_audit_room_ref(const mc_audit *a, const char *room_id, char *out, size_t cap);

/* ---- the server ---- */
/* Runs until SIGTERM or SIGINT (then drains: goaway to every client, the
 * snapshot written, exit once they left or after --drain-timeout); SIGHUP
 * reloads the config and the certificate. Returns 0 after a clean
 * shutdown. */
int mc_server_run(struct mc_server_config *cfg);

/* The same server embedded in another program (medcall call without
 * --server): on a thread and loop of its own, no signal handling, nothing
 * printed. Returns once it listens (0) or failed to start (MC_EIO, the
 * reason logged). cfg must outlive it. */
typedef struct mc_server_thread mc_server_thread;
int mc_server_start_thread(struct mc_server_config *cfg, mc_server_thread **out);
/* Writes the snapshot, closes, joins the thread, frees. */
void mc_server_stop_thread(mc_server_thread *t);

#endif
