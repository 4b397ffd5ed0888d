/* The signaling protocol's message table, validator and error messages.
 * docs/signaling.md is the contract; every rule checked here is written
 * there, and a change here is a change there. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "signal/signal.h"
#include "util/util.h"

static const char *const type_names[MC_SIG_TYPE_COUNT] = {
    [MC_SIG_UNKNOWN] = "unknown",     [MC_SIG_CREATE] = "create",       [MC_SIG_JOIN] = "join",
    [MC_SIG_RESUME] = "resume",       [MC_SIG_ADMIT] = "admit",         [MC_SIG_DECLINE] = "decline",
    [MC_SIG_OFFER] = "offer",         [MC_SIG_ANSWER] = "answer",       [MC_SIG_CANDIDATE] = "candidate",
    [MC_SIG_LEAVE] = "leave",         [MC_SIG_END] = "end",             [MC_SIG_PING] = "ping",
    [MC_SIG_CREATED] = "created",     [MC_SIG_WAITING] = "waiting",     [MC_SIG_KNOCK] = "knock",
    [MC_SIG_ADMITTED] = "admitted",   [MC_SIG_DECLINED] = "declined",   [MC_SIG_RESUMED] = "resumed",
    [MC_SIG_PEER_AWAY] = "peer-away", [MC_SIG_PEER_BACK] = "peer-back", [MC_SIG_PEER_LEFT] = "peer-left",
    [MC_SIG_ENDED] = "ended",         [MC_SIG_PONG] = "pong",           [MC_SIG_ERROR] = "error",
    [MC_SIG_ICE] = "ice",             [MC_SIG_ICE_SERVERS] = "ice-servers",
    [MC_SIG_GOAWAY] = "goaway",
};

static const struct {
  const char *name;
  const char *sentence;
} errors[MC_SIGERR_COUNT] = {
    [MC_SIGERR_NONE] = {"none", MC_TR_NOOP("No error.")},
    [MC_SIGERR_BAD_JSON] = {"bad-json", MC_TR_NOOP("The message is not a JSON object in UTF-8.")},
    [MC_SIGERR_BAD_VERSION] = {"bad-version", MC_TR_NOOP("The message must carry \"v\": 1; this server speaks version 1.")},
    [MC_SIGERR_UNKNOWN_TYPE] = {"unknown-type", MC_TR_NOOP("The message type is missing or not one a client may send.")},
    [MC_SIGERR_BAD_FIELD] = {"bad-field", MC_TR_NOOP("A field of the message is missing, of the wrong type or out of range.")},
    [MC_SIGERR_TOO_BIG] = {"too-big", MC_TR_NOOP("The message is larger than this server accepts.")},
    [MC_SIGERR_RATE_LIMITED] = {"rate-limited", MC_TR_NOOP("Too many messages: this one was dropped; slow down.")},
    [MC_SIGERR_UNAUTHORIZED] = {"unauthorized", MC_TR_NOOP("Creating a room needs the doctor token this server is configured with.")},
    [MC_SIGERR_NO_ROOM] = {"no-room", MC_TR_NOOP("This room link does not exist or is no longer valid; ask for a new link.")},
    [MC_SIGERR_ROOM_FULL] = {"room-full", MC_TR_NOOP("Too many people are already waiting to join this room; try again in a moment.")},
    [MC_SIGERR_NOT_ADMITTED] = {"not-admitted", MC_TR_NOOP("Descriptions and candidates flow only once the doctor has admitted the patient.")},
    [MC_SIGERR_WRONG_STATE] = {"wrong-state", MC_TR_NOOP("This message is not valid at this point of the session.")},
    [MC_SIGERR_NOT_DOCTOR] = {"not-doctor", MC_TR_NOOP("Only the doctor of the room may do this.")},
    [MC_SIGERR_UNKNOWN_SESSION] = {"unknown-session", MC_TR_NOOP("That session is gone (its grace period passed); join again with the link.")},
    [MC_SIGERR_SERVER_BUSY] = {"server-busy", MC_TR_NOOP("The server is at its limit; try again later.")},
};

const char *mc_signal_type_name(enum mc_signal_type t) {
  if ((unsigned)t >= MC_SIG_TYPE_COUNT) return "unknown";
  return type_names[t];
}

enum mc_signal_type mc_signal_type_from_name(const char *name, size_t len) {
  for (int t = 1; t < MC_SIG_TYPE_COUNT; t++)
    if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0) return (enum mc_signal_type)t;
  return MC_SIG_UNKNOWN;
}

bool mc_signal_type_from_client(enum mc_signal_type t) { return t >= MC_SIG_CREATE && t <= MC_SIG_ICE; }

const char *mc_signal_error_name(enum mc_signal_error e) {
  if ((unsigned)e >= MC_SIGERR_COUNT) return "unknown";
  return errors[e].name;
}

enum mc_signal_error mc_signal_error_from_name(const char *name) {
  for (int e = 0; name && e < MC_SIGERR_COUNT; e++)
    if (!strcmp(errors[e].name, name)) return (enum mc_signal_error)e;
  return MC_SIGERR_COUNT;
}

const char *mc_signal_error_sentence(enum mc_signal_error e) {
  if ((unsigned)e >= MC_SIGERR_COUNT) return MC_TR_NOOP("Unknown error.");
  return errors[e].sentence;
}

/* RFC 4648 5: the URL- and filename-safe alphabet. */
static bool is_b64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

enum mc_signal_rx_step mc_signal_rx_add(struct mc_signal_rx *r, bool first, bool binary, bool last, const void *in,
                                        size_t len, size_t max, size_t close_beyond) {
  if (first) {
    r->len = 0;
    r->total = 0;
    r->over = false;
    r->binary = binary;
  }
  r->total += len;
  if (r->total > close_beyond) return MC_SIGNAL_RX_CLOSE;
  if (!r->over && r->len + len > max) r->over = true;
  if (!r->over) {
    /* Grown to what this message needs, not to the cap: idle connections
     * must stay small when there are thousands of them. */
    if (r->len + len + 1 > r->cap) {
      size_t cap = MC_MAX(r->len + len + 1, MC_MIN(2 * r->cap, max + 1));
      uint8_t *p = realloc(r->buf, cap);
      if (!p) return MC_SIGNAL_RX_NOMEM;
      r->buf = p;
      r->cap = cap;
    }
    if (len) memcpy(r->buf + r->len, in, len);
    r->len += len;
  }
  if (!last) return MC_SIGNAL_RX_MORE;
  if (r->buf) r->buf[r->len] = '\0';
  return MC_SIGNAL_RX_DONE;
}

void mc_signal_rx_free(struct mc_signal_rx *r) {
  free(r->buf);
  memset(r, 0, sizeof *r);
}

bool mc_signal_id_valid(const char *s, size_t len) {
  if (!s || len < MC_SIGNAL_ID_LEN_MIN || len > MC_SIGNAL_ID_LEN_MAX) return false;
  for (size_t i = 0; i < len; i++)
    if (!is_b64url(s[i])) return false;
  return true;
}

int mc_signal_new_id(char *out, size_t cap) {
  uint8_t raw[16];
  char std[32];
  if (cap < 23) return MC_ETOOBIG;
  int rc = mc_random_bytes(raw, sizeof raw);
  if (rc < 0) return rc;
  rc = mc_base64_encode(raw, sizeof raw, std, sizeof std);
  if (rc < 0) return rc;
  /* RFC 4648 5: '+' -> '-', '/' -> '_', padding dropped (16 bytes -> 22 chars). */
  for (int i = 0; i < 22; i++) out[i] = std[i] == '+' ? '-' : std[i] == '/' ? '_' : std[i];
  out[22] = '\0';
  return MC_OK;
}

/* A display name: 1..MC_SIGNAL_NAME_MAX bytes of UTF-8 with something
 * visible in it, and none of the characters mc_char_is_hidden names: it
 * ends up in the doctor's window and terminal, where a control character
 * moves the cursor or forges a line, and a bidi or format character makes
 * a name read as another. */
static bool name_valid(const char *s, size_t len) {
  if (len == 0 || len > MC_SIGNAL_NAME_MAX) return false;
  bool visible = false;
  for (size_t i = 0; i < len;) {
    uint32_t cp = 0;
    size_t l = mc_utf8_decode(s + i, len - i, &cp);
    if (l == 0 || mc_char_is_hidden(cp)) return false;
    if (cp != ' ') visible = true;
    i += l;
  }
  return visible;
}

/* Returns the string value of key, or NULL; *bad is set when the key is
 * present but not a string of an acceptable length. */
static const char *get_str(json_t *obj, const char *key, size_t min, size_t max, bool *bad, size_t *len_out) {
  json_t *v = json_object_get(obj, key);
  if (!v) return NULL;
  if (!json_is_string(v)) {
    *bad = true;
    return NULL;
  }
  size_t len = json_string_length(v);
  if (len < min || len > max) {
    *bad = true;
    return NULL;
  }
  if (len_out) *len_out = len;
  return json_string_value(v);
}

void mc_signal_msg_clear(mc_signal_msg *msg) {
  if (!msg) return;
  if (msg->json_) json_decref((json_t *)msg->json_);
  memset(msg, 0, sizeof *msg);
  msg->sdp_mline_index = -1;
}

static json_t *load(const uint8_t *buf, size_t len) {
  /* JSON_REJECT_DUPLICATES: a message with two "type"s has no one meaning.
   * jansson rejects \u0000 in strings unless told otherwise, so every string
   * we hand out is NUL-terminated with no NUL inside. */
  json_error_t jerr;
  json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (root && !json_is_object(root)) {
    json_decref(root);
    return NULL;
  }
  return root;
}

static int read_header(json_t *root, enum mc_signal_type *type, enum mc_signal_error *err) {
  json_t *v = json_object_get(root, "v");
  if (!v || !json_is_integer(v) || json_integer_value(v) != MC_SIGNAL_VERSION) {
    *err = MC_SIGERR_BAD_VERSION;
    json_t *t = json_object_get(root, "type");
    if (t && json_is_string(t)) *type = mc_signal_type_from_name(json_string_value(t), json_string_length(t));
    return MC_EPARSE;
  }
  json_t *t = json_object_get(root, "type");
  if (!t || !json_is_string(t)) {
    *err = MC_SIGERR_UNKNOWN_TYPE;
    return MC_EPARSE;
  }
  *type = mc_signal_type_from_name(json_string_value(t), json_string_length(t));
  return MC_OK;
}

int mc_signal_parse(const uint8_t *buf, size_t len, mc_signal_msg *msg, enum mc_signal_error *err,
                    enum mc_signal_type *type_out) {
  enum mc_signal_type type = MC_SIG_UNKNOWN;
  enum mc_signal_error e = MC_SIGERR_NONE;
  bool bad = false;
  size_t n = 0;
  memset(msg, 0, sizeof *msg);
  msg->sdp_mline_index = -1;
  json_t *root = load(buf, len);
  if (!root) {
    e = MC_SIGERR_BAD_JSON;
    goto fail;
  }
  if (read_header(root, &type, &e) < 0) goto fail;
  if (!mc_signal_type_from_client(type)) {
    e = MC_SIGERR_UNKNOWN_TYPE;
    goto fail;
  }
  msg->type = type;
  switch (type) {
  case MC_SIG_CREATE:
    msg->token = get_str(root, "token", 0, MC_SIGNAL_TOKEN_MAX, &bad, NULL);
    msg->room = get_str(root, "room", 0, MC_SIGNAL_ID_LEN_MAX, &bad, &n);
    if (msg->room && !mc_signal_id_valid(msg->room, n)) bad = true;
    break;
  case MC_SIG_ADMIT:
  case MC_SIG_DECLINE:
    msg->knock = get_str(root, "knock", 1, MC_SIGNAL_KNOCK_ID_MAX, &bad, &n);
    for (size_t i = 0; msg->knock && i < n; i++)
      if (!is_b64url(msg->knock[i])) bad = true;
    break;
  case MC_SIG_JOIN:
    msg->room = get_str(root, "room", 0, MC_SIGNAL_ID_LEN_MAX, &bad, &n);
    if (!msg->room || !mc_signal_id_valid(msg->room, n)) bad = true;
    msg->name = get_str(root, "name", 1, MC_SIGNAL_NAME_MAX, &bad, &n);
    if (!msg->name || !name_valid(msg->name, n)) bad = true;
    break;
  case MC_SIG_ICE:
    msg->room = get_str(root, "room", 0, MC_SIGNAL_ID_LEN_MAX, &bad, &n);
    if (!msg->room || !mc_signal_id_valid(msg->room, n)) bad = true;
    break;
  case MC_SIG_RESUME:
    msg->session = get_str(root, "session", 0, MC_SIGNAL_ID_LEN_MAX, &bad, &n);
    if (!msg->session || !mc_signal_id_valid(msg->session, n)) bad = true;
    {
      json_t *fresh = json_object_get(root, "fresh");
      if (fresh && !json_is_boolean(fresh)) bad = true;
      msg->fresh = json_is_true(fresh);
    }
    break;
  case MC_SIG_OFFER:
  case MC_SIG_ANSWER:
    /* RFC 8866 5: a session description starts with its "v=0" line. */
    msg->sdp = get_str(root, "sdp", 3, MC_SIGNAL_SDP_MAX, &bad, NULL);
    if (!msg->sdp || strncmp(msg->sdp, "v=0", 3) != 0) bad = true;
    break;
  case MC_SIG_CANDIDATE: {
    /* RFC 8840 / W3C RTCIceCandidateInit: candidate, sdpMid, sdpMLineIndex;
     * an empty candidate signals the end of candidates (RFC 8838 4). */
    msg->candidate = get_str(root, "candidate", 0, MC_SIGNAL_CANDIDATE_MAX, &bad, &n);
    if (!msg->candidate) bad = true;
    else if (n > 0 && strncmp(msg->candidate, "candidate:", 10) != 0) bad = true;
    else
      for (size_t i = 0; i < n; i++)
        if ((unsigned char)msg->candidate[i] < 0x20) bad = true;
    json_t *mid = json_object_get(root, "sdpMid");
    if (mid && !json_is_null(mid)) msg->sdp_mid = get_str(root, "sdpMid", 0, MC_SIGNAL_MID_MAX, &bad, NULL);
    json_t *idx = json_object_get(root, "sdpMLineIndex");
    if (idx && !json_is_null(idx)) {
      if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 255) bad = true;
      else msg->sdp_mline_index = (int)json_integer_value(idx);
    }
    break;
  }
  default:
    break;
  }
  if (bad) {
    e = MC_SIGERR_BAD_FIELD;
    goto fail;
  }
  msg->json_ = root;
  if (type_out) *type_out = type;
  return MC_OK;
fail:
  if (root) json_decref(root);
  mc_signal_msg_clear(msg);
  *err = e;
  if (type_out) *type_out = type;
  return MC_EPARSE;
}

char *mc_signal_relay_json(const mc_signal_msg *msg) {
  if (!msg) return NULL;
  json_t *o = json_pack("{s:i, s:s}", "v", MC_SIGNAL_VERSION, "type", mc_signal_type_name(msg->type));
  if (!o) return NULL;
  int rc = 0;
  switch (msg->type) {
  case MC_SIG_OFFER:
  case MC_SIG_ANSWER:
    rc = msg->sdp ? json_object_set_new(o, "sdp", json_string(msg->sdp)) : -1;
    break;
  case MC_SIG_CANDIDATE:
    rc = msg->candidate ? json_object_set_new(o, "candidate", json_string(msg->candidate)) : -1;
    if (rc == 0 && msg->sdp_mid) rc = json_object_set_new(o, "sdpMid", json_string(msg->sdp_mid));
    if (rc == 0 && msg->sdp_mline_index >= 0)
      rc = json_object_set_new(o, "sdpMLineIndex", json_integer(msg->sdp_mline_index));
    break;
  default:
    rc = -1;
    break;
  }
  char *s = rc == 0 ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  return s;
}

int mc_signal_peek_type(const uint8_t *buf, size_t len, enum mc_signal_type *type) {
  enum mc_signal_error e;
  enum mc_signal_type t = MC_SIG_UNKNOWN;
  json_t *root = load(buf, len);
  if (!root) return MC_EPARSE;
  int rc = read_header(root, &t, &e);
  json_decref(root);
  if (rc < 0 || t == MC_SIG_UNKNOWN || mc_signal_type_from_client(t)) return MC_EPARSE;
  *type = t;
  return MC_OK;
}

char *mc_signal_error_json(enum mc_signal_error e, enum mc_signal_type ref) {
  json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "v", MC_SIGNAL_VERSION, "type", "error", "code",
                        mc_signal_error_name(e), "message", mc_signal_error_sentence(e));
  if (!o) return NULL;
  if (ref != MC_SIG_UNKNOWN) json_object_set_new(o, "ref", json_string(mc_signal_type_name(ref)));
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}
