/* signal: the medcall signaling protocol, version 1 (docs/signaling.md).
 * JSON text messages over a WebSocket. This layer only knows messages:
 * their types, how a client->server message is validated, and the error
 * codes; it knows no sockets and no rooms. Used by medcall-server and by
 * the app's own signaling client. */
#ifndef MC_SIGNAL_H
#define MC_SIGNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

#define MC_SIGNAL_VERSION 1
/* Protocol limits (docs/signaling.md "Limits"). The server's message cap is
 * configurable; these bound single fields whatever the cap. */
#define MC_SIGNAL_ID_LEN_MIN 22     /* 128 bits in base64url, no padding */
#define MC_SIGNAL_ID_LEN_MAX 64
#define MC_SIGNAL_NAME_MAX 64       /* bytes of UTF-8 */
#define MC_SIGNAL_TOKEN_MAX 256
#define MC_SIGNAL_SDP_MAX 60000
#define MC_SIGNAL_CANDIDATE_MAX 1024
#define MC_SIGNAL_MID_MAX 64
#define MC_SIGNAL_DEFAULT_MAX_MESSAGE 65536
#define MC_SIGNAL_KNOCK_ID_MAX 16   /* a knock's id: public, not a secret */

enum mc_signal_type {
  MC_SIG_UNKNOWN = 0,
  /* client -> server */
  MC_SIG_CREATE,
  MC_SIG_JOIN,
  MC_SIG_RESUME,
  MC_SIG_ADMIT,
  MC_SIG_DECLINE,
  MC_SIG_OFFER,
  MC_SIG_ANSWER,
  MC_SIG_CANDIDATE,
  MC_SIG_LEAVE,
  MC_SIG_END,
  MC_SIG_PING,
  MC_SIG_ICE, /* ICE servers for a pre-call check, before joining */
  /* server -> client */
  MC_SIG_CREATED,
  MC_SIG_WAITING,
  MC_SIG_KNOCK,
  MC_SIG_ADMITTED,
  MC_SIG_DECLINED,
  MC_SIG_RESUMED,
  MC_SIG_PEER_AWAY,
  MC_SIG_PEER_BACK,
  MC_SIG_PEER_LEFT,
  MC_SIG_ENDED,
  MC_SIG_PONG,
  MC_SIG_ERROR,
  MC_SIG_ICE_SERVERS,
  MC_SIG_GOAWAY, /* the server is restarting: reconnect after retry_ms and resume */
  MC_SIG_TYPE_COUNT,
};

/* The "code" of an error message; each documented in docs/signaling.md. */
enum mc_signal_error {
  MC_SIGERR_NONE = 0,
  MC_SIGERR_BAD_JSON,       /* not a JSON object in UTF-8 */
  MC_SIGERR_BAD_VERSION,    /* "v" missing or not 1 */
  MC_SIGERR_UNKNOWN_TYPE,   /* "type" missing or not a client message */
  MC_SIGERR_BAD_FIELD,      /* a field missing, of the wrong type or out of range */
  MC_SIGERR_TOO_BIG,        /* the message exceeds the server's cap */
  MC_SIGERR_RATE_LIMITED,   /* too many messages; this one was dropped */
  MC_SIGERR_UNAUTHORIZED,   /* create without the right doctor token */
  MC_SIGERR_NO_ROOM,        /* no such room, or it expired or ended */
  MC_SIGERR_ROOM_FULL,      /* the room already has its doctor and patient */
  MC_SIGERR_NOT_ADMITTED,   /* offer/answer/candidate before both are admitted */
  MC_SIGERR_WRONG_STATE,    /* the message makes no sense now (e.g. join twice) */
  MC_SIGERR_NOT_DOCTOR,     /* admit/decline/end from the patient */
  MC_SIGERR_UNKNOWN_SESSION, /* resume of a session that is gone */
  MC_SIGERR_SERVER_BUSY,    /* a server-wide limit was reached */
  MC_SIGERR_COUNT,
};

/* "create", "join", ...; "unknown" for MC_SIG_UNKNOWN. Never NULL. */
const char *mc_signal_type_name(enum mc_signal_type t);
/* MC_SIG_UNKNOWN when name is none of the types. */
enum mc_signal_type mc_signal_type_from_name(const char *name, size_t len);
bool mc_signal_type_from_client(enum mc_signal_type t);
/* "bad-json", "bad-version", ...; never NULL. */
const char *mc_signal_error_name(enum mc_signal_error e);
/* The code a name stands for; MC_SIGERR_COUNT for a name this version
 * does not know. */
enum mc_signal_error mc_signal_error_from_name(const char *name);
/* The English sentence the server sends with each error code; a client
 * shows mc_tr() of it (the same sentence in the user's language), never
 * the text the server sent. */
const char *mc_signal_error_sentence(enum mc_signal_error e);

/* A validated client->server message. String fields point into storage the
 * message owns; they are NUL-terminated and valid UTF-8 (JSON guarantees
 * it). Fields not carried by the type are NULL / -1. */
typedef struct mc_signal_msg {
  enum mc_signal_type type;
  const char *token;   /* create: optional */
  const char *room;    /* join, ice; create: optional (take a room back with the token) */
  const char *name;    /* join */
  const char *session; /* resume */
  bool fresh;          /* resume: this client holds no peer connection (a restarted app, a reloaded page) */
  const char *knock;   /* admit, decline: optional, which knock (default: the oldest) */
  const char *sdp;     /* offer, answer */
  const char *candidate; /* candidate: "" means end of candidates */
  const char *sdp_mid;   /* candidate: optional */
  int sdp_mline_index;   /* candidate: optional, -1 when absent */
  void *json_;           /* private: the parsed document */
} mc_signal_msg;

/* Parses and validates one client->server message buf[0..len-1] (no NUL
 * needed). On success returns 0 and fills msg (release with
 * mc_signal_msg_clear). On failure returns MC_EPARSE, leaves msg empty, and
 * sets *err to the error code to answer with and, when type_out is not NULL,
 * *type_out to the message's type if it could be read (for the "ref" field). */
int mc_signal_parse(const uint8_t *buf, size_t len, mc_signal_msg *msg, enum mc_signal_error *err,
                    enum mc_signal_type *type_out);
void mc_signal_msg_clear(mc_signal_msg *msg);

/* The offer, answer or candidate msg rebuilt from its validated fields, as
 * the other peer gets it: {"v":1,"type":"offer"|"answer","sdp":..} or
 * {"v":1,"type":"candidate","candidate":..,"sdpMid":..,"sdpMLineIndex":..}
 * (sdpMid and sdpMLineIndex only when given and not null). Nothing else the
 * sender put in the message is passed on. Returns malloc'd NUL-terminated
 * text the caller frees with free(), or NULL for another type or when out
 * of memory. */
char *mc_signal_relay_json(const mc_signal_msg *msg);

/* Reads only "v" and "type" of a server->client message (for clients).
 * MC_EPARSE when it is not a version-1 server message. */
int mc_signal_peek_type(const uint8_t *buf, size_t len, enum mc_signal_type *type);

/* An error message as JSON text: {"v":1,"type":"error","code":..,
 * "message":..,"ref":..}. ref is the type of the message being answered
 * (MC_SIG_UNKNOWN: omitted). Returns a malloc'd NUL-terminated string the
 * caller frees with free(), or NULL when out of memory. */
char *mc_signal_error_json(enum mc_signal_error e, enum mc_signal_type ref);

/* true when s[0..len-1] is an identifier as the protocol makes them: base64url
 * (RFC 4648 5) without padding, MC_SIGNAL_ID_LEN_MIN..MAX characters. */
bool mc_signal_id_valid(const char *s, size_t len);
/* Writes a fresh identifier of 16 random bytes (22 characters) plus NUL:
 * out needs 23 bytes. */
int mc_signal_new_id(char *out, size_t cap);

/* ---- client: one WebSocket (libwebsockets, on the caller's libuv loop) to
 * a medcall-server. Text messages only; every callback runs on that loop. ---- */
typedef struct uv_loop_s uv_loop_t;
typedef struct mc_signal_client mc_signal_client;

struct mc_signal_client_config {
  const char *url;      /* "wss://HOST:PORT/ws" (ws:// is refused) */
  /* Accept a certificate that does not verify (self-signed development
   * server). Otherwise the system trust store, or ca_file when given, or a
   * pinned SHA-256 certificate fingerprint. */
  bool insecure;
  const char *ca_file;
  const uint8_t *pin_sha256; /* 32 bytes or NULL */
};

struct mc_signal_client_callbacks {
  void (*on_open)(mc_signal_client *c, void *user);
  /* One whole text message, NUL-terminated at json[len]. */
  void (*on_message)(mc_signal_client *c, const char *json, size_t len, void *user);
  /* The connection ended or never opened: err 0 after mc_signal_client_close,
   * otherwise a negative MC_E code and one sentence for a person (e.g.
   * "cannot reach the signaling server at wss://...: connection refused",
   * "the signaling server's certificate does not verify; use --insecure for
   * a self-signed development server"). No callback after this one. */
  void (*on_close)(mc_signal_client *c, int err, const char *sentence, void *user);
};

/* Starts connecting at once. */
int mc_signal_client_new(uv_loop_t *loop, const struct mc_signal_client_config *config,
                         const struct mc_signal_client_callbacks *cbs, void *user, mc_signal_client **out);
/* Queues one text message (copied). MC_ESTATE before on_open or after close. */
int mc_signal_client_send(mc_signal_client *c, const char *json, size_t len);
/* Closes with a WebSocket close frame; on_close(0) follows. */
void mc_signal_client_close(mc_signal_client *c);
/* Frees; callbacks stop at once. Safe after on_close and from inside any
 * callback. The libwebsockets context is torn down over the next few
 * iterations of the loop, so keep running it: uv_run returns once the
 * client's handles are all closed. */
void mc_signal_client_free(mc_signal_client *c);

/* A room link "https://HOST:PORT/r/ROOM[#...]" -> the signaling URL
 * "wss://HOST:PORT/ws" and the room id. MC_EINVAL with a sentence for a
 * link that is not one. */
int mc_signal_parse_link(const char *link, char *ws_url, size_t ws_cap, char *room, size_t room_cap,
                         char *why, size_t why_cap);

/* ---- one message put together from its WebSocket fragments (RFC 6455
 * 5.4), as libwebsockets hands them over; the server and the client share
 * it. ---- */
struct mc_signal_rx {
  uint8_t *buf; /* the message's bytes, NUL-terminated once it is complete */
  size_t len, cap;
  size_t total; /* bytes of this message seen, kept or not */
  bool binary;  /* its first frame was binary */
  bool over;    /* longer than max: the rest of it was not kept */
};

enum mc_signal_rx_step {
  MC_SIGNAL_RX_MORE = 0, /* the message goes on */
  MC_SIGNAL_RX_DONE,     /* complete: buf[0..len-1] unless over */
  MC_SIGNAL_RX_CLOSE,    /* more than close_beyond bytes: close the connection */
  MC_SIGNAL_RX_NOMEM,
};

/* One piece in[0..len-1]: first when it starts a message (binary: of a
 * binary frame), last when it ends it. Bytes beyond max are counted, not
 * kept. */
enum mc_signal_rx_step mc_signal_rx_add(struct mc_signal_rx *r, bool first, bool binary, bool last, const void *in,
                                        size_t len, size_t max, size_t close_beyond);
void mc_signal_rx_free(struct mc_signal_rx *r);

#endif
