/* Rooms and the waiting room: the state machine of docs/signaling.md.
 * A room holds one doctor session and at most one patient session; a
 * patient waits until the doctor admits it, and only then do descriptions
 * and candidates flow. Sessions outlive their connection by the grace
 * period so a peer can resume. No sockets here: connections are opaque
 * handles reached through mc_rooms_io, and time is passed in. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "server/server.h"
#include "util/util.h"

enum role { ROLE_DOCTOR = 0, ROLE_PATIENT };
enum pstate { ST_WAITING = 0, ST_ADMITTED };

struct room;

struct mc_session {
  char id[MC_SIGNAL_ID_LEN_MIN + 1];
  enum role role;
  enum pstate state;
  char name[MC_SIGNAL_NAME_MAX + 1];
  struct room *room;
  mc_session *hnext;  /* next in its hash bucket */
  void *conn;         /* NULL while away */
  mc_session **slot;  /* the connection's pointer to us */
  uint64_t away_deadline_ms;
};

struct room {
  char id[MC_SIGNAL_ID_LEN_MIN + 1];
  mc_session *doctor, *patient;
  uint64_t expires_ms; /* only while no patient is admitted */
  struct room *prev, *next; /* all rooms, for the tick */
  struct room *hnext;        /* next in its hash bucket */
};

/* Rooms and sessions are looked up by id on every join, ice and resume: hash
 * tables keep that flat when there are thousands. Ids are random, so a plain
 * FNV-1a spreads them. */
#define ID_BUCKETS 4096

struct mc_rooms {
  const struct mc_server_config *cfg;
  struct mc_rooms_io io;
  void *user;
  struct room *head;
  size_t count;
  struct room *room_tab[ID_BUCKETS];
  mc_session *sess_tab[ID_BUCKETS];
  unsigned char token_hash[32];
};

static const char *role_name(enum role r) { return r == ROLE_DOCTOR ? "doctor" : "patient"; }

/* Logs name a room by its first characters only: the full id is the key to
 * a consultation. */
#define ROOM_TAG(rm) 6, (rm)->id

#define FAIL(e)                                 \
  do {                                          \
    mc_rooms_send_error(r, conn, (e), m->type); \
    return;                                     \
  } while (0)

static unsigned id_hash(const char *id) {
  unsigned h = 2166136261u;
  for (int i = 0; i < MC_SIGNAL_ID_LEN_MIN && id[i]; i++) h = (h ^ (unsigned char)id[i]) * 16777619u;
  return h % ID_BUCKETS;
}

static void sess_insert(mc_rooms *r, mc_session *s) {
  unsigned h = id_hash(s->id);
  s->hnext = r->sess_tab[h];
  r->sess_tab[h] = s;
}

static void room_insert(mc_rooms *r, struct room *rm) {
  unsigned h = id_hash(rm->id);
  rm->hnext = r->room_tab[h];
  r->room_tab[h] = rm;
}

static void sha256(const char *s, unsigned char out[32]) {
  unsigned int n = 0;
  EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL);
}

int mc_rooms_new(const struct mc_server_config *cfg, const struct mc_rooms_io *io, void *user, mc_rooms **out) {
  mc_rooms *r = calloc(1, sizeof *r);
  if (!r) return MC_ENOMEM;
  r->cfg = cfg;
  r->io = *io;
  r->user = user;
  if (cfg->doctor_token) sha256(cfg->doctor_token, r->token_hash);
  *out = r;
  return MC_OK;
}

static void send_text(mc_rooms *r, void *conn, const char *text) {
  if (conn && text) r->io.send(conn, text, strlen(text), r->user);
}

/* Sends o (consumed) to the session's connection, if it has one. */
static void send_obj(mc_rooms *r, void *conn, json_t *o) {
  if (!o) return;
  json_object_set_new(o, "v", json_integer(MC_SIGNAL_VERSION));
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  send_text(r, conn, s);
  free(s);
}

static json_t *msg(enum mc_signal_type t) { return json_pack("{s:s}", "type", mc_signal_type_name(t)); }

void mc_rooms_send_error(mc_rooms *r, void *conn, enum mc_signal_error e, enum mc_signal_type ref) {
  char *s = mc_signal_error_json(e, ref);
  send_text(r, conn, s);
  free(s);
}

/* The iceServers entry for one peer (W3C RTCIceServer): every configured URL
 * with this peer's own credentials. */
static json_t *ice_servers(mc_rooms *r, const mc_session *s) {
  const struct mc_server_config *cfg = r->cfg;
  json_t *arr = json_array();
  if (!arr || cfg->n_turn_urls == 0) return arr;
  json_t *urls = json_array();
  for (size_t i = 0; i < cfg->n_turn_urls; i++) json_array_append_new(urls, json_string(cfg->turn_urls[i]));
  json_t *entry = json_pack("{s:o}", "urls", urls);
  if (cfg->turn_secret) {
    char id[40], user[80], pass[64];
    uint32_t tag = mc_random_u32();
    snprintf(id, sizeof id, "medcall-%s-%08x", role_name(s->role), tag);
    uint64_t expiry = mc_wall_ms() / 1000 + cfg->turn_ttl_s;
    if (mc_turn_rest_credentials(cfg->turn_secret, expiry, id, user, sizeof user, pass, sizeof pass) == 0) {
      json_object_set_new(entry, "username", json_string(user));
      json_object_set_new(entry, "credential", json_string(pass));
    }
    OPENSSL_cleanse(pass, sizeof pass);
  } else if (cfg->turn_user) {
    json_object_set_new(entry, "username", json_string(cfg->turn_user));
    json_object_set_new(entry, "credential", json_string(cfg->turn_password));
  }
  json_array_append_new(arr, entry);
  return arr;
}

static mc_session *peer_of(const mc_session *s) {
  return s->role == ROLE_DOCTOR ? s->room->patient : s->room->doctor;
}

static json_t *peer_info(const mc_session *p) {
  json_t *o = json_pack("{s:s, s:b}", "role", role_name(p->role), "present", p->conn != NULL);
  if (p->role == ROLE_PATIENT) json_object_set_new(o, "name", json_string(p->name));
  return o;
}

static void send_admitted(mc_rooms *r, mc_session *s) {
  json_t *o = msg(MC_SIG_ADMITTED);
  json_object_set_new(o, "role", json_string(role_name(s->role)));
  json_object_set_new(o, "offerer", json_boolean(s->role == ROLE_DOCTOR));
  json_object_set_new(o, "peer", peer_info(peer_of(s)));
  json_object_set_new(o, "ice_servers", ice_servers(r, s));
  send_obj(r, s->conn, o);
}

static void send_knock(mc_rooms *r, mc_session *doctor, const mc_session *patient) {
  json_t *o = msg(MC_SIG_KNOCK);
  json_object_set_new(o, "name", json_string(patient->name));
  send_obj(r, doctor->conn, o);
}

static void send_peer_event(mc_rooms *r, mc_session *to, enum mc_signal_type t, const mc_session *about,
                            const char *reason) {
  if (!to || !to->conn) return;
  json_t *o = msg(t);
  json_object_set_new(o, "role", json_string(role_name(about->role)));
  if (reason) json_object_set_new(o, "reason", json_string(reason));
  send_obj(r, to->conn, o);
}

static void send_ended(mc_rooms *r, void *conn, const char *reason) {
  if (!conn) return;
  json_t *o = msg(MC_SIG_ENDED);
  json_object_set_new(o, "reason", json_string(reason));
  send_obj(r, conn, o);
}

/* Cuts the link between a session and its connection. */
static void unbind(mc_session *s) {
  if (s->slot) *s->slot = NULL;
  s->slot = NULL;
  s->conn = NULL;
}

static void bind_conn(mc_session *s, void *conn, mc_session **slot) {
  s->conn = conn;
  s->slot = slot;
  s->away_deadline_ms = 0;
  *slot = s;
}

static void free_session(mc_rooms *r, mc_session *s) {
  if (!s) return;
  for (mc_session **p = &r->sess_tab[id_hash(s->id)]; *p; p = &(*p)->hnext)
    if (*p == s) {
      *p = s->hnext;
      break;
    }
  unbind(s);
  OPENSSL_cleanse(s->id, sizeof s->id);
  free(s);
}

static void end_room(mc_rooms *r, struct room *rm, const char *reason) {
  MC_LOGI("server", "room ended room=%.*s reason=%s", ROOM_TAG(rm), reason);
  if (rm->doctor) send_ended(r, rm->doctor->conn, reason);
  if (rm->patient) send_ended(r, rm->patient->conn, reason);
  free_session(r, rm->doctor);
  free_session(r, rm->patient);
  for (struct room **p = &r->room_tab[id_hash(rm->id)]; *p; p = &(*p)->hnext)
    if (*p == rm) {
      *p = rm->hnext;
      break;
    }
  if (rm->prev) rm->prev->next = rm->next;
  else r->head = rm->next;
  if (rm->next) rm->next->prev = rm->prev;
  r->count--;
  OPENSSL_cleanse(rm->id, sizeof rm->id);
  free(rm);
}

/* The patient leaves the room for good; the link stays usable until its ttl. */
static void drop_patient(mc_rooms *r, struct room *rm, const char *reason, uint64_t now_ms) {
  mc_session *p = rm->patient;
  if (!p) return;
  MC_LOGI("server", "patient left room=%.*s reason=%s", ROOM_TAG(rm), reason);
  send_peer_event(r, rm->doctor, MC_SIG_PEER_LEFT, p, reason);
  rm->patient = NULL;
  free_session(r, p);
  rm->expires_ms = now_ms + (uint64_t)r->cfg->room_ttl_s * 1000;
}

void mc_rooms_end_all(mc_rooms *r, const char *reason) {
  while (r->head) end_room(r, r->head, reason);
}

void mc_rooms_free(mc_rooms *r) {
  if (!r) return;
  mc_rooms_end_all(r, "server-shutdown");
  free(r);
}

size_t mc_rooms_count(const mc_rooms *r) { return r->count; }

static struct room *find_room(mc_rooms *r, const char *id) {
  if (strlen(id) != MC_SIGNAL_ID_LEN_MIN) return NULL;
  for (struct room *rm = r->room_tab[id_hash(id)]; rm; rm = rm->hnext)
    if (mc_secure_equal(rm->id, id, MC_SIGNAL_ID_LEN_MIN)) return rm;
  return NULL;
}

static mc_session *find_session(mc_rooms *r, const char *id) {
  if (strlen(id) != MC_SIGNAL_ID_LEN_MIN) return NULL;
  for (mc_session *s = r->sess_tab[id_hash(id)]; s; s = s->hnext)
    if (mc_secure_equal(s->id, id, MC_SIGNAL_ID_LEN_MIN)) return s;
  return NULL;
}

static bool host_ok(const char *h) {
  if (!h || !h[0] || strlen(h) > 255) return false;
  for (const char *p = h; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
          *p == '-' || *p == ':' || *p == '[' || *p == ']'))
      return false;
  return true;
}

static void make_link(mc_rooms *r, const struct room *rm, const char *host, char *out, size_t cap) {
  const struct mc_server_config *cfg = r->cfg;
  if (cfg->public_url) {
    size_t n = strlen(cfg->public_url);
    while (n && cfg->public_url[n - 1] == '/') n--;
    snprintf(out, cap, "%.*s/r/%s", (int)n, cfg->public_url, rm->id);
  } else if (host_ok(host)) {
    /* A Host header without a port means the default one (RFC 9110 7.2);
     * ours may not be 443, so say it. */
    const char *bracket = strrchr(host, ']');
    bool has_port = strchr(bracket ? bracket : host, ':') != NULL;
    if (has_port || cfg->port == 443) snprintf(out, cap, "https://%s/r/%s", host, rm->id);
    else snprintf(out, cap, "https://%s:%u/r/%s", host, cfg->port, rm->id);
  } else {
    snprintf(out, cap, "https://localhost:%u/r/%s", cfg->port, rm->id);
  }
}

static bool token_ok(mc_rooms *r, const char *token) {
  if (r->cfg->open) return true;
  if (!token) return false;
  unsigned char h[32];
  sha256(token, h);
  /* Equal-length digests compared in constant time: neither the token's
   * bytes nor its length show in the timing. */
  return CRYPTO_memcmp(h, r->token_hash, sizeof h) == 0;
}

static void on_create(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m, const char *host,
                      uint64_t now_ms) {
  if (*slot) FAIL(MC_SIGERR_WRONG_STATE);
  if (!token_ok(r, m->token)) {
    MC_LOGW("server", "create refused reason=bad-token");
    FAIL(MC_SIGERR_UNAUTHORIZED);
  }
  if (r->count >= r->cfg->max_rooms) FAIL(MC_SIGERR_SERVER_BUSY);
  struct room *rm = calloc(1, sizeof *rm);
  mc_session *d = calloc(1, sizeof *d);
  if (!rm || !d || mc_signal_new_id(rm->id, sizeof rm->id) < 0 || mc_signal_new_id(d->id, sizeof d->id) < 0) {
    free(rm);
    free(d);
    FAIL(MC_SIGERR_SERVER_BUSY);
  }
  d->role = ROLE_DOCTOR;
  d->room = rm;
  rm->doctor = d;
  rm->expires_ms = now_ms + (uint64_t)r->cfg->room_ttl_s * 1000;
  rm->next = r->head;
  if (r->head) r->head->prev = rm;
  r->head = rm;
  r->count++;
  room_insert(r, rm);
  sess_insert(r, d);
  bind_conn(d, conn, slot);
  char link[512];
  make_link(r, rm, host, link, sizeof link);
  json_t *o = msg(MC_SIG_CREATED);
  json_object_set_new(o, "room", json_string(rm->id));
  json_object_set_new(o, "link", json_string(link));
  json_object_set_new(o, "session", json_string(d->id));
  json_object_set_new(o, "role", json_string("doctor"));
  json_object_set_new(o, "expires", json_integer((json_int_t)(mc_wall_ms() / 1000 + r->cfg->room_ttl_s)));
  json_object_set_new(o, "grace", json_integer(r->cfg->grace_s));
  send_obj(r, conn, o);
  MC_LOGI("server", "room created room=%.*s rooms=%zu", ROOM_TAG(rm), r->count);
}

static void on_join(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m) {
  if (*slot) FAIL(MC_SIGERR_WRONG_STATE);
  struct room *rm = find_room(r, m->room);
  if (!rm) FAIL(MC_SIGERR_NO_ROOM);
  if (rm->patient) {
    MC_LOGI("server", "join refused room=%.*s reason=room-full", ROOM_TAG(rm));
    FAIL(MC_SIGERR_ROOM_FULL);
  }
  mc_session *p = calloc(1, sizeof *p);
  if (!p || mc_signal_new_id(p->id, sizeof p->id) < 0) {
    free(p);
    FAIL(MC_SIGERR_SERVER_BUSY);
  }
  p->role = ROLE_PATIENT;
  p->state = ST_WAITING;
  p->room = rm;
  mc_strcpy(p->name, sizeof p->name, m->name);
  rm->patient = p;
  sess_insert(r, p);
  bind_conn(p, conn, slot);
  json_t *o = msg(MC_SIG_WAITING);
  json_object_set_new(o, "room", json_string(rm->id));
  json_object_set_new(o, "session", json_string(p->id));
  json_object_set_new(o, "role", json_string("patient"));
  json_object_set_new(o, "grace", json_integer(r->cfg->grace_s));
  json_object_set_new(o, "doctor_present", json_boolean(rm->doctor->conn != NULL));
  send_obj(r, conn, o);
  send_knock(r, rm->doctor, p);
  MC_LOGI("server", "patient knocked room=%.*s", ROOM_TAG(rm));
}

static void on_resume(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m) {
  if (*slot) FAIL(MC_SIGERR_WRONG_STATE);
  mc_session *s = find_session(r, m->session);
  if (!s) FAIL(MC_SIGERR_UNKNOWN_SESSION);
  bool was_away = s->conn == NULL;
  if (!was_away) {
    /* The old connection may be half-open (a phone changed networks): the
     * newest holder of the session id wins. */
    send_ended(r, s->conn, "resumed-elsewhere");
    unbind(s);
  }
  bind_conn(s, conn, slot);
  struct room *rm = s->room;
  mc_session *peer = peer_of(s);
  json_t *o = msg(MC_SIG_RESUMED);
  json_object_set_new(o, "room", json_string(rm->id));
  json_object_set_new(o, "session", json_string(s->id));
  json_object_set_new(o, "role", json_string(role_name(s->role)));
  const char *state = !rm->patient ? "open" : rm->patient->state == ST_ADMITTED ? "admitted" : "waiting";
  json_object_set_new(o, "state", json_string(state));
  if (peer) json_object_set_new(o, "peer", peer_info(peer));
  if (rm->patient && rm->patient->state == ST_ADMITTED) {
    json_object_set_new(o, "offerer", json_boolean(s->role == ROLE_DOCTOR));
    json_object_set_new(o, "ice_servers", ice_servers(r, s));
  }
  send_obj(r, conn, o);
  if (was_away) send_peer_event(r, peer, MC_SIG_PEER_BACK, s, NULL);
  if (s->role == ROLE_DOCTOR && rm->patient && rm->patient->state == ST_WAITING) send_knock(r, s, rm->patient);
  MC_LOGI("server", "session resumed room=%.*s role=%s", ROOM_TAG(rm), role_name(s->role));
}

/* The pre-call check gathers a relay candidate before the patient knocks, so
 * anyone holding a live room link may ask for ICE servers; the credentials
 * are this peer's own and as short-lived as those of admitted peers. */
static void on_ice(mc_rooms *r, void *conn, const mc_signal_msg *m) {
  struct room *rm = find_room(r, m->room);
  if (!rm) FAIL(MC_SIGERR_NO_ROOM);
  mc_session probe = {.role = ROLE_PATIENT, .room = rm};
  json_t *o = msg(MC_SIG_ICE_SERVERS);
  json_object_set_new(o, "ice_servers", ice_servers(r, &probe));
  send_obj(r, conn, o);
}

static void on_admit(mc_rooms *r, void *conn, mc_session *s, const mc_signal_msg *m, uint64_t now_ms) {
  struct room *rm = s->room;
  mc_session *p = rm->patient;
  if (!p || p->state != ST_WAITING) FAIL(MC_SIGERR_WRONG_STATE);
  if (m->type == MC_SIG_DECLINE) {
    MC_LOGI("server", "patient declined room=%.*s", ROOM_TAG(rm));
    send_obj(r, p->conn, msg(MC_SIG_DECLINED));
    rm->patient = NULL;
    free_session(r, p);
    rm->expires_ms = now_ms + (uint64_t)r->cfg->room_ttl_s * 1000;
    return;
  }
  p->state = ST_ADMITTED;
  MC_LOGI("server", "patient admitted room=%.*s", ROOM_TAG(rm));
  send_admitted(r, p);
  send_admitted(r, s);
}

static void on_relay(mc_rooms *r, void *conn, mc_session *s, const mc_signal_msg *m, const uint8_t *raw,
                     size_t raw_len) {
  struct room *rm = s->room;
  if (!rm->patient || rm->patient->state != ST_ADMITTED)
    FAIL(MC_SIGERR_NOT_ADMITTED);
  mc_session *peer = peer_of(s);
  /* A peer that is away gets nothing: on peer-back the two renegotiate
   * (docs/signaling.md "Reconnecting"), so stale candidates are worthless. */
  if (peer && peer->conn) r->io.send(peer->conn, (const char *)raw, raw_len, r->user);
}

void mc_rooms_on_message(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m, const uint8_t *raw,
                         size_t raw_len, const char *host, uint64_t now_ms) {
  mc_session *s = *slot;
  switch (m->type) {
  case MC_SIG_PING:
    send_obj(r, conn, msg(MC_SIG_PONG));
    return;
  case MC_SIG_CREATE:
    { on_create(r, conn, slot, m, host, now_ms); return; }
  case MC_SIG_JOIN:
    { on_join(r, conn, slot, m); return; }
  case MC_SIG_RESUME:
    { on_resume(r, conn, slot, m); return; }
  case MC_SIG_ICE:
    { on_ice(r, conn, m); return; }
  default:
    break;
  }
  if (!s) {
    enum mc_signal_error e = m->type == MC_SIG_OFFER || m->type == MC_SIG_ANSWER || m->type == MC_SIG_CANDIDATE
                                 ? MC_SIGERR_NOT_ADMITTED
                                 : MC_SIGERR_WRONG_STATE;
    FAIL(e);
  }
  struct room *rm = s->room;
  switch (m->type) {
  case MC_SIG_ADMIT:
  case MC_SIG_DECLINE:
    if (s->role != ROLE_DOCTOR) FAIL(MC_SIGERR_NOT_DOCTOR);
    { on_admit(r, conn, s, m, now_ms); return; }
  case MC_SIG_END:
    if (s->role != ROLE_DOCTOR) FAIL(MC_SIGERR_NOT_DOCTOR);
    { end_room(r, rm, "ended-by-doctor"); return; }
  case MC_SIG_LEAVE:
    if (s->role == ROLE_DOCTOR) { end_room(r, rm, "ended-by-doctor"); return; }
    send_ended(r, conn, "left");
    { drop_patient(r, rm, "left", now_ms); return; }
  case MC_SIG_OFFER:
  case MC_SIG_ANSWER:
  case MC_SIG_CANDIDATE:
    { on_relay(r, conn, s, m, raw, raw_len); return; }
  default:
    FAIL(MC_SIGERR_UNKNOWN_TYPE);
  }
}

void mc_rooms_on_close(mc_rooms *r, mc_session **slot, uint64_t now_ms) {
  mc_session *s = *slot;
  if (!s) return;
  unbind(s);
  s->away_deadline_ms = now_ms + (uint64_t)r->cfg->grace_s * 1000;
  MC_LOGI("server", "peer away room=%.*s role=%s grace_s=%u", ROOM_TAG(s->room), role_name(s->role),
          r->cfg->grace_s);
  send_peer_event(r, peer_of(s), MC_SIG_PEER_AWAY, s, NULL);
}

void mc_rooms_tick(mc_rooms *r, uint64_t now_ms) {
  struct room *next;
  for (struct room *rm = r->head; rm; rm = next) {
    next = rm->next;
    mc_session *d = rm->doctor, *p = rm->patient;
    if (!d->conn && now_ms >= d->away_deadline_ms) {
      end_room(r, rm, "doctor-gone");
      continue;
    }
    if (p && !p->conn && now_ms >= p->away_deadline_ms) {
      drop_patient(r, rm, "timeout", now_ms);
      p = NULL;
    }
    if ((!p || p->state != ST_ADMITTED) && now_ms >= rm->expires_ms) end_room(r, rm, "expired");
  }
}
