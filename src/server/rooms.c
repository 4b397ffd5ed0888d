/* Rooms and the waiting room: the state machine of docs/signaling.md.
 * A room holds one doctor session, at most one admitted patient and a short
 * list of patients knocking; only the doctor and the admitted patient
 * exchange descriptions and candidates. The doctor decides who is in the
 * call: a patient who comes back without its session knocks again (the
 * knock says "returning" when the name is the one in the call), and a
 * second knock never displaces the admitted patient unless the doctor
 * admits it. Sessions outlive their connection: a waiting patient's and
 * the doctor's for the grace period, the admitted patient's for as long as
 * the doctor keeps the room (the doctor ends a consultation, not a dropped
 * connection). No sockets here: connections are opaque handles reached
 * through mc_rooms_io, and time is passed in. */
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

/* A room's public tag (struct room): 32 random bits in hex. */
#define PUBLIC_TAG_LEN 8

struct mc_session {
  char id[MC_SIGNAL_ID_LEN_MIN + 1];
  enum role role;
  enum pstate state;
  char name[MC_SIGNAL_NAME_MAX + 1];
  char knock[MC_SIGNAL_KNOCK_ID_MAX + 1]; /* a waiting patient's public id */
  bool returning;     /* knocked with the name of the patient in (or last in) the call */
  bool fresh;         /* holds no peer connection: the offerer must start a new one */
  /* A knock whose connection dropped: it holds no place (not counted for
   * room-full, not in the doctor's list) until it resumes, if there is room
   * then. */
  bool dropped;
  struct room *room;
  mc_session *hnext;  /* next in its hash bucket */
  mc_session *wnext;  /* next in the room's waiting list */
  void *conn;         /* NULL while away */
  mc_session **slot;  /* the connection's pointer to us */
  uint64_t away_deadline_ms; /* 0: no deadline (present, or the admitted patient) */
};

struct room {
  char id[MC_SIGNAL_ID_LEN_MIN + 1];
  mc_session *doctor, *patient; /* patient: the admitted one */
  mc_session *waiting;          /* knocking, oldest first; dropped ones too */
  unsigned nwaiting;            /* those not dropped: the places taken */
  uint32_t knocks;              /* knock ids are this counter */
  char last_name[MC_SIGNAL_NAME_MAX + 1]; /* the last admitted patient's */
  char link[512];
  /* Names the room where its id must not appear (the pre-call check's TURN
   * usernames, which coturn logs): random, unrelated to the id. */
  char public_tag[PUBLIC_TAG_LEN + 1];
  uint64_t precall_tat_ms; /* the pre-call check's rate limit (limit_take) */
  uint64_t knock_tat_ms;   /* the knocks' rate limit */
  uint64_t expires_ms; /* only while no patient is admitted */
  struct room *prev, *next; /* all rooms, for the tick */
  struct room *hnext;        /* next in its hash bucket */
};

/* Rooms and sessions are looked up by id on every join, ice and resume: hash
 * tables keep that flat when there are thousands. Ids are random, so a plain
 * FNV-1a spreads them. */
#define ID_BUCKETS 4096
/* Knocks a room holds at once: enough for a patient coming back while a
 * second device or a relative knocks too, few enough that a link holder
 * cannot flood the doctor. */
#define MAX_WAITING 4
/* Knocks a room lets through to its doctor (issue 14): six at once (the
 * four places fill in one go, with a reload or two to spare), then one
 * every 2.5 s (four per 10 s). A join or a dropped knock's return beyond
 * that is answered rate-limited and the doctor hears nothing: a link
 * holder who joins and drops in a loop reaches the doctor a few times, not
 * dozens. */
#define KNOCK_BURST 6
#define KNOCK_INTERVAL_MS 2500
/* The pre-call check's TURN credentials (issue 14). Gathering a relay
 * candidate takes a second or two (the patient page gives up after 8 s):
 * five minutes leave room for a slow network and for the server's and
 * coturn's clocks to differ a little, and give a link holder who is never
 * admitted nothing worth keeping (coturn refuses them at the first refresh
 * after their expiry, so an allocation made with them dies with its
 * lifetime, 10 minutes by default). */
#define PRECALL_TURN_TTL_S 300
/* Pre-call credentials one room hands out: six at once (a patient, a
 * relative, a second device, a reload or two), then one every 10 s (six a
 * minute); beyond that the check is answered rate-limited. */
#define PRECALL_BURST 6
#define PRECALL_INTERVAL_MS 10000
/* A snapshot larger than this is not ours. */
#define SNAPSHOT_MAX (64u << 20)
#define SNAPSHOT_VERSION 1

struct mc_rooms {
  struct mc_server_config *cfg;
  struct mc_rooms_io io;
  void *user;
  struct room *head;
  size_t count;
  bool draining, dirty;
  bool freeing; /* mc_rooms_free: the rooms live on in the snapshot, nothing happened */
  struct room *room_tab[ID_BUCKETS];
  mc_session *sess_tab[ID_BUCKETS];
  unsigned char token_hash[32];
};

static const char *role_name(enum role r) { return r == ROLE_DOCTOR ? "doctor" : "patient"; }

static void emit(mc_rooms *r, enum mc_room_event_kind kind, const char *room, const char *role, const char *reason,
                 void *conn) {
  if (!r->io.event || r->freeing) return;
  struct mc_room_event e = {.kind = kind, .room = room, .role = role, .reason = reason, .conn = conn};
  r->io.event(&e, r->user);
}

/* An event about session s (its room, role and connection). */
static void emit_about(mc_rooms *r, enum mc_room_event_kind kind, const mc_session *s, const char *reason) {
  emit(r, kind, s->room->id, role_name(s->role), reason, s->conn);
}

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

static void room_link(mc_rooms *r, struct room *rm) {
  rm->next = r->head;
  rm->prev = NULL;
  if (r->head) r->head->prev = rm;
  r->head = rm;
  r->count++;
  room_insert(r, rm);
}

static void sha256(const char *s, unsigned char out[32]) {
  unsigned int n = 0;
  EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL);
}

/* A rate limit held in one number (GCRA, ITU-T I.371 annex A): tat is when
 * the allowance would be whole again. A request is let through, and costs
 * one interval, while tat is at most burst - 1 intervals ahead of now. */
static bool limit_take(uint64_t *tat, uint64_t now_ms, unsigned burst, uint64_t interval_ms) {
  uint64_t t = *tat > now_ms ? *tat : now_ms;
  if (t - now_ms > (uint64_t)(burst - 1) * interval_ms) return false;
  *tat = t + interval_ms;
  return true;
}

static void new_public_tag(struct room *rm) {
  snprintf(rm->public_tag, sizeof rm->public_tag, "%08x", mc_random_u32());
}

static bool public_tag_valid(const char *t) {
  if (!t || strlen(t) != PUBLIC_TAG_LEN) return false;
  for (; *t; t++)
    if (!((*t >= '0' && *t <= '9') || (*t >= 'a' && *t <= 'f'))) return false;
  return true;
}

int mc_rooms_new(struct mc_server_config *cfg, const struct mc_rooms_io *io, void *user, mc_rooms **out) {
  mc_rooms *r = calloc(1, sizeof *r);
  if (!r) return MC_ENOMEM;
  r->cfg = cfg;
  r->io = *io;
  r->user = user;
  mc_rooms_config_changed(r);
  *out = r;
  return MC_OK;
}

void mc_rooms_config_changed(mc_rooms *r) {
  memset(r->token_hash, 0, sizeof r->token_hash);
  if (r->cfg->doctor_token) sha256(r->cfg->doctor_token, r->token_hash);
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
  emit(r, MC_ROOM_REJECTED, NULL, NULL, mc_signal_error_name(e), conn);
  char *s = mc_signal_error_json(e, ref);
  send_text(r, conn, s);
  free(s);
}

/* The iceServers list (W3C RTCIceServer): every configured URL, with TURN
 * REST credentials for id that live ttl_s, or the static pair when
 * with_static. *issued tells whether credentials went out. */
static json_t *ice_server_list(mc_rooms *r, const char *id, uint32_t ttl_s, bool with_static, bool *issued) {
  const struct mc_server_config *cfg = r->cfg;
  *issued = false;
  json_t *arr = json_array();
  if (!arr || cfg->n_turn_urls == 0) return arr;
  json_t *urls = json_array();
  for (size_t i = 0; i < cfg->n_turn_urls; i++) json_array_append_new(urls, json_string(cfg->turn_urls[i]));
  json_t *entry = json_pack("{s:o}", "urls", urls);
  if (cfg->turn_secret) {
    char user[80], pass[64];
    uint64_t expiry = mc_wall_ms() / 1000 + ttl_s;
    if (mc_turn_rest_credentials(cfg->turn_secret, expiry, id, user, sizeof user, pass, sizeof pass) == 0) {
      json_object_set_new(entry, "username", json_string(user));
      json_object_set_new(entry, "credential", json_string(pass));
      *issued = true;
    }
    OPENSSL_cleanse(pass, sizeof pass);
  } else if (cfg->turn_user && with_static) {
    json_object_set_new(entry, "username", json_string(cfg->turn_user));
    json_object_set_new(entry, "credential", json_string(cfg->turn_password));
    *issued = true;
  }
  json_array_append_new(arr, entry);
  return arr;
}

/* A peer in the call: credentials of its own for --turn-ttl. */
static json_t *ice_servers(mc_rooms *r, const mc_session *s) {
  char id[40];
  snprintf(id, sizeof id, "medcall-%s-%08x", role_name(s->role), mc_random_u32());
  bool issued;
  json_t *arr = ice_server_list(r, id, r->cfg->turn_ttl_s, true, &issued);
  if (issued) emit_about(r, MC_ROOM_TURN_CREDENTIALS, s, NULL);
  return arr;
}

/* The other side of the call: the doctor's peer is the admitted patient. */
static mc_session *peer_of(const mc_session *s) {
  return s->role == ROLE_DOCTOR ? s->room->patient : s->room->doctor;
}

static json_t *peer_info(const mc_session *p) {
  json_t *o = json_pack("{s:s, s:b}", "role", role_name(p->role), "present", p->conn != NULL);
  if (p->role == ROLE_PATIENT) json_object_set_new(o, "name", json_string(p->name));
  if (p->fresh) json_object_set_new(o, "fresh", json_true());
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
  json_object_set_new(o, "knock", json_string(patient->knock));
  json_object_set_new(o, "returning", json_boolean(patient->returning));
  send_obj(r, doctor->conn, o);
}

static void send_peer_event(mc_rooms *r, mc_session *to, enum mc_signal_type t, const mc_session *about,
                            const char *reason) {
  if (!to || !to->conn || r->draining) return;
  json_t *o = msg(t);
  json_object_set_new(o, "role", json_string(role_name(about->role)));
  if (reason) json_object_set_new(o, "reason", json_string(reason));
  if (about->state == ST_WAITING && about->role == ROLE_PATIENT)
    json_object_set_new(o, "knock", json_string(about->knock));
  if (t == MC_SIG_PEER_BACK && about->fresh) json_object_set_new(o, "fresh", json_true());
  send_obj(r, to->conn, o);
}

/* The doctor's connection went or came back: the patient in the call and
 * those knocking (who wait for the doctor) are told. */
static void doctor_event_to_patients(mc_rooms *r, struct room *rm, enum mc_signal_type t) {
  send_peer_event(r, rm->patient, t, rm->doctor, NULL);
  for (mc_session *w = rm->waiting; w; w = w->wnext) send_peer_event(r, w, t, rm->doctor, NULL);
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
  r->dirty = true;
}

static void unlink_waiting(struct room *rm, mc_session *s) {
  for (mc_session **p = &rm->waiting; *p; p = &(*p)->wnext)
    if (*p == s) {
      *p = s->wnext;
      s->wnext = NULL;
      if (!s->dropped) rm->nwaiting--;
      return;
    }
}

/* Puts s at the end of the room's waiting list, holding a place. */
static void append_waiting(struct room *rm, mc_session *s) {
  mc_session **tail = &rm->waiting;
  while (*tail) tail = &(*tail)->wnext;
  *tail = s;
  s->wnext = NULL;
  s->dropped = false;
  rm->nwaiting++;
}

static void end_room(mc_rooms *r, struct room *rm, const char *reason) {
  MC_LOGI("server", "room ended room=%.*s reason=%s", ROOM_TAG(rm), reason);
  emit(r, MC_ROOM_ENDED, rm->id, NULL, reason, rm->doctor ? rm->doctor->conn : NULL);
  if (rm->doctor) send_ended(r, rm->doctor->conn, reason);
  if (rm->patient) send_ended(r, rm->patient->conn, reason);
  for (mc_session *w = rm->waiting; w; w = w->wnext) send_ended(r, w->conn, reason);
  free_session(r, rm->doctor);
  free_session(r, rm->patient);
  while (rm->waiting) {
    mc_session *w = rm->waiting;
    rm->waiting = w->wnext;
    free_session(r, w);
  }
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
  r->dirty = true;
}

static void restart_expiry(mc_rooms *r, struct room *rm, uint64_t now_ms) {
  rm->expires_ms = now_ms + (uint64_t)r->cfg->room_ttl_s * 1000;
}

/* The admitted patient leaves the call for good (it left, or the doctor let
 * another in); the link stays usable until its ttl. */
static void drop_patient(mc_rooms *r, struct room *rm, const char *reason, uint64_t now_ms) {
  mc_session *p = rm->patient;
  if (!p) return;
  MC_LOGI("server", "patient left room=%.*s reason=%s", ROOM_TAG(rm), reason);
  emit_about(r, MC_ROOM_LEFT, p, reason);
  mc_strcpy(rm->last_name, sizeof rm->last_name, p->name);
  send_peer_event(r, rm->doctor, MC_SIG_PEER_LEFT, p, reason);
  rm->patient = NULL;
  free_session(r, p);
  restart_expiry(r, rm, now_ms);
}

/* A knocking patient stops waiting (left, timed out, declined). The doctor
 * was told already of a dropped knock. */
static void drop_waiting(mc_rooms *r, struct room *rm, mc_session *w, const char *reason) {
  MC_LOGI("server", "knock withdrawn room=%.*s reason=%s", ROOM_TAG(rm), reason);
  if (strcmp(reason, "declined") != 0) emit_about(r, MC_ROOM_WITHDRAWN, w, reason);
  unlink_waiting(rm, w);
  if (strcmp(reason, "declined") != 0 && !w->dropped) send_peer_event(r, rm->doctor, MC_SIG_PEER_LEFT, w, reason);
  free_session(r, w);
}

/* Frees without telling anyone: a server that stops keeps its rooms in
 * the snapshot (mc_rooms_save), and its clients resume on the next one. */
void mc_rooms_free(mc_rooms *r) {
  if (!r) return;
  r->draining = true;
  r->freeing = true;
  while (r->head) {
    struct room *rm = r->head;
    mc_session *held[] = {rm->doctor, rm->patient};
    for (size_t i = 0; i < MC_ARRAY_LEN(held); i++)
      if (held[i]) held[i]->conn = NULL, held[i]->slot = NULL;
    for (mc_session *w = rm->waiting; w; w = w->wnext) w->conn = NULL, w->slot = NULL;
    end_room(r, rm, "server-shutdown");
  }
  free(r);
}

size_t mc_rooms_count(const mc_rooms *r) { return r->count; }

size_t mc_rooms_waiting_count(const mc_rooms *r) {
  size_t n = 0;
  for (const struct room *rm = r->head; rm; rm = rm->next) n += rm->nwaiting;
  return n;
}

size_t mc_rooms_admitted_count(const mc_rooms *r) {
  size_t n = 0;
  for (const struct room *rm = r->head; rm; rm = rm->next) n += rm->patient != NULL;
  return n;
}

void mc_rooms_set_draining(mc_rooms *r, bool draining) { r->draining = draining; }

bool mc_rooms_take_dirty(mc_rooms *r) {
  bool d = r->dirty;
  r->dirty = false;
  return d;
}

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

static const char *room_state(const struct room *rm) {
  return rm->patient ? "admitted" : rm->nwaiting ? "waiting" : "open";
}

/* What a doctor or patient learns when it (re)gains its session. */
static void send_resumed(mc_rooms *r, mc_session *s) {
  struct room *rm = s->room;
  mc_session *peer = s->state == ST_WAITING && s->role == ROLE_PATIENT ? rm->doctor : peer_of(s);
  json_t *o = msg(MC_SIG_RESUMED);
  json_object_set_new(o, "room", json_string(rm->id));
  json_object_set_new(o, "session", json_string(s->id));
  json_object_set_new(o, "role", json_string(role_name(s->role)));
  bool in_call = rm->patient && (s->role == ROLE_DOCTOR || s == rm->patient);
  const char *state = s->role == ROLE_DOCTOR ? room_state(rm) : s->state == ST_ADMITTED ? "admitted" : "waiting";
  json_object_set_new(o, "state", json_string(state));
  json_object_set_new(o, "grace", json_integer(r->cfg->grace_s));
  if (s->role == ROLE_DOCTOR) json_object_set_new(o, "link", json_string(rm->link));
  if (peer) json_object_set_new(o, "peer", peer_info(peer));
  if (in_call) {
    json_object_set_new(o, "offerer", json_boolean(s->role == ROLE_DOCTOR));
    json_object_set_new(o, "ice_servers", ice_servers(r, s));
  }
  send_obj(r, s->conn, o);
}

/* A session is taken by a new connection; the old one, if still open, is
 * told (the newest holder wins: the old one may be the half-open connection
 * of a phone that changed networks). */
static void take_session(mc_rooms *r, mc_session *s, void *conn, mc_session **slot) {
  if (s->conn) {
    send_ended(r, s->conn, "resumed-elsewhere");
    unbind(s);
  }
  bind_conn(s, conn, slot);
}

static void knocks_to_doctor(mc_rooms *r, struct room *rm) {
  for (mc_session *w = rm->waiting; w; w = w->wnext)
    if (!w->dropped) send_knock(r, rm->doctor, w);
}

static bool knock_allowed(struct room *rm, uint64_t now_ms) {
  if (limit_take(&rm->knock_tat_ms, now_ms, KNOCK_BURST, KNOCK_INTERVAL_MS)) return true;
  MC_LOGD("server", "knock refused room=%.*s reason=rate-limited", ROOM_TAG(rm));
  return false;
}

/* create with a room id: the doctor takes its room back from another
 * machine with the doctor token (a server where anyone may create rooms
 * lets nobody take one). */
static void on_reclaim(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m) {
  struct room *rm = find_room(r, m->room);
  if (r->cfg->open || !token_ok(r, m->token)) {
    MC_LOGW("server", "room reclaim refused reason=%s", r->cfg->open ? "open-server" : "bad-token");
    if (!r->cfg->open) emit(r, MC_ROOM_BAD_TOKEN, NULL, "doctor", NULL, conn);
    FAIL(MC_SIGERR_UNAUTHORIZED);
  }
  if (!rm) FAIL(MC_SIGERR_NO_ROOM);
  mc_session *d = rm->doctor;
  take_session(r, d, conn, slot);
  d->fresh = true;
  send_resumed(r, d);
  doctor_event_to_patients(r, rm, MC_SIG_PEER_BACK);
  knocks_to_doctor(r, rm);
  MC_LOGI("server", "room reclaimed room=%.*s", ROOM_TAG(rm));
  emit_about(r, MC_ROOM_RECLAIMED, d, NULL);
}

static void on_create(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m, const char *host,
                      uint64_t now_ms) {
  if (*slot) FAIL(MC_SIGERR_WRONG_STATE);
  if (m->room) {
    on_reclaim(r, conn, slot, m);
    return;
  }
  if (!token_ok(r, m->token)) {
    MC_LOGW("server", "create refused reason=bad-token");
    emit(r, MC_ROOM_BAD_TOKEN, NULL, "doctor", NULL, conn);
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
  new_public_tag(rm);
  restart_expiry(r, rm, now_ms);
  make_link(r, rm, host, rm->link, sizeof rm->link);
  room_link(r, rm);
  sess_insert(r, d);
  bind_conn(d, conn, slot);
  r->dirty = true;
  json_t *o = msg(MC_SIG_CREATED);
  json_object_set_new(o, "room", json_string(rm->id));
  json_object_set_new(o, "link", json_string(rm->link));
  json_object_set_new(o, "session", json_string(d->id));
  json_object_set_new(o, "role", json_string("doctor"));
  json_object_set_new(o, "expires", json_integer((json_int_t)(mc_wall_ms() / 1000 + r->cfg->room_ttl_s)));
  json_object_set_new(o, "grace", json_integer(r->cfg->grace_s));
  send_obj(r, conn, o);
  MC_LOGI("server", "room created room=%.*s rooms=%zu", ROOM_TAG(rm), r->count);
  emit_about(r, MC_ROOM_CREATED, d, NULL);
}

static void on_join(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m, uint64_t now_ms) {
  if (*slot) FAIL(MC_SIGERR_WRONG_STATE);
  struct room *rm = find_room(r, m->room);
  if (!rm) FAIL(MC_SIGERR_NO_ROOM);
  if (rm->nwaiting >= MAX_WAITING) {
    MC_LOGI("server", "join refused room=%.*s reason=room-full", ROOM_TAG(rm));
    FAIL(MC_SIGERR_ROOM_FULL);
  }
  if (!knock_allowed(rm, now_ms)) FAIL(MC_SIGERR_RATE_LIMITED);
  mc_session *p = calloc(1, sizeof *p);
  if (!p || mc_signal_new_id(p->id, sizeof p->id) < 0) {
    free(p);
    FAIL(MC_SIGERR_SERVER_BUSY);
  }
  p->role = ROLE_PATIENT;
  p->state = ST_WAITING;
  p->room = rm;
  mc_strcpy(p->name, sizeof p->name, m->name);
  snprintf(p->knock, sizeof p->knock, "%u", ++rm->knocks);
  p->returning = (rm->patient && !strcmp(rm->patient->name, p->name)) || !strcmp(rm->last_name, p->name);
  append_waiting(rm, p);
  sess_insert(r, p);
  bind_conn(p, conn, slot);
  r->dirty = true;
  json_t *o = msg(MC_SIG_WAITING);
  json_object_set_new(o, "room", json_string(rm->id));
  json_object_set_new(o, "session", json_string(p->id));
  json_object_set_new(o, "role", json_string("patient"));
  json_object_set_new(o, "grace", json_integer(r->cfg->grace_s));
  json_object_set_new(o, "doctor_present", json_boolean(rm->doctor->conn != NULL));
  send_obj(r, conn, o);
  send_knock(r, rm->doctor, p);
  MC_LOGI("server", "patient knocked room=%.*s returning=%d waiting=%u", ROOM_TAG(rm), p->returning, rm->nwaiting);
  emit_about(r, MC_ROOM_KNOCKED, p, NULL);
}

static void on_resume(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m, uint64_t now_ms) {
  if (*slot) FAIL(MC_SIGERR_WRONG_STATE);
  mc_session *s = find_session(r, m->session);
  if (!s) FAIL(MC_SIGERR_UNKNOWN_SESSION);
  struct room *rm = s->room;
  /* A dropped knock knocks again: if there is a place, and as one of the
   * room's knocks; refused, it stays resumable for the rest of its grace. */
  bool knocks_again = s->dropped;
  if (knocks_again) {
    if (rm->nwaiting >= MAX_WAITING) {
      MC_LOGI("server", "resume refused room=%.*s reason=room-full", ROOM_TAG(rm));
      FAIL(MC_SIGERR_ROOM_FULL);
    }
    if (!knock_allowed(rm, now_ms)) FAIL(MC_SIGERR_RATE_LIMITED);
    unlink_waiting(rm, s);
    append_waiting(rm, s);
  }
  bool was_away = s->conn == NULL;
  take_session(r, s, conn, slot);
  bool in_call = s->role == ROLE_DOCTOR || s == rm->patient;
  if (in_call) s->fresh = m->fresh;
  r->dirty = true;
  send_resumed(r, s);
  if (s->role == ROLE_DOCTOR) {
    if (was_away || m->fresh) doctor_event_to_patients(r, rm, MC_SIG_PEER_BACK);
    knocks_to_doctor(r, rm);
  } else if (s == rm->patient) {
    if (was_away || m->fresh) send_peer_event(r, rm->doctor, MC_SIG_PEER_BACK, s, NULL);
  } else if (knocks_again) {
    send_knock(r, rm->doctor, s);
  }
  MC_LOGI("server", "session resumed room=%.*s role=%s fresh=%d", ROOM_TAG(rm), role_name(s->role), m->fresh);
  emit_about(r, was_away ? MC_ROOM_BACK : MC_ROOM_RESUMED, s, m->fresh ? "fresh" : NULL);
}

/* The pre-call check gathers a relay candidate before the patient knocks,
 * so anyone holding a live room link may ask for ICE servers (issue 14):
 * TURN REST credentials for a few minutes, whose username names the room by
 * its public tag, a few a minute per room; never the static credentials, which do
 * not expire (only the URLs, docs/signaling.md "ice"). */
static void on_ice(mc_rooms *r, void *conn, const mc_session *s, const mc_signal_msg *m, uint64_t now_ms) {
  const struct mc_server_config *cfg = r->cfg;
  struct room *rm = find_room(r, m->room);
  if (!rm) FAIL(MC_SIGERR_NO_ROOM);
  bool rest = cfg->turn_secret && cfg->n_turn_urls;
  if (rest && !limit_take(&rm->precall_tat_ms, now_ms, PRECALL_BURST, PRECALL_INTERVAL_MS)) {
    MC_LOGD("server", "pre-call check refused room=%.*s reason=rate-limited", ROOM_TAG(rm));
    FAIL(MC_SIGERR_RATE_LIMITED);
  }
  char id[40];
  snprintf(id, sizeof id, "medcall-precall-%s-%08x", rm->public_tag, mc_random_u32());
  uint32_t ttl = cfg->turn_ttl_s < PRECALL_TURN_TTL_S ? cfg->turn_ttl_s : PRECALL_TURN_TTL_S;
  bool issued;
  json_t *o = msg(MC_SIG_ICE_SERVERS);
  json_object_set_new(o, "ice_servers", ice_server_list(r, id, ttl, false, &issued));
  if (issued)
    emit(r, MC_ROOM_TURN_CREDENTIALS, rm->id, s && s->room == rm ? role_name(s->role) : NULL, "pre-call", conn);
  send_obj(r, conn, o);
}

static mc_session *find_knock(struct room *rm, const char *knock) {
  for (mc_session *w = rm->waiting; w; w = w->wnext)
    if (!w->dropped && (!knock || !strcmp(w->knock, knock))) return w;
  return NULL;
}

static void on_admit(mc_rooms *r, void *conn, mc_session *s, const mc_signal_msg *m, uint64_t now_ms) {
  struct room *rm = s->room;
  mc_session *p = find_knock(rm, m->knock);
  if (!p) FAIL(MC_SIGERR_WRONG_STATE);
  if (m->type == MC_SIG_DECLINE) {
    MC_LOGI("server", "patient declined room=%.*s", ROOM_TAG(rm));
    emit_about(r, MC_ROOM_DECLINED, p, NULL);
    send_obj(r, p->conn, msg(MC_SIG_DECLINED));
    drop_waiting(r, rm, p, "declined");
    return;
  }
  if (rm->patient) {
    /* The doctor let someone else in (most often the same patient on a new
     * device or without its session): the one in the call is told. */
    send_ended(r, rm->patient->conn, "replaced");
    drop_patient(r, rm, "replaced", now_ms);
  }
  unlink_waiting(rm, p);
  p->state = ST_ADMITTED;
  p->away_deadline_ms = 0;
  p->fresh = false;
  rm->patient = p;
  r->dirty = true;
  MC_LOGI("server", "patient admitted room=%.*s", ROOM_TAG(rm));
  emit_about(r, MC_ROOM_ADMITTED, p, NULL);
  send_admitted(r, p);
  send_admitted(r, s);
}

/* The peer gets the message rebuilt from the fields the protocol defines
 * (mc_signal_relay_json), never the sender's text: whatever else a client
 * puts in a message stays with it (issue 14). */
static void on_relay(mc_rooms *r, void *conn, mc_session *s, const mc_signal_msg *m) {
  struct room *rm = s->room;
  if (!rm->patient || (s->role == ROLE_PATIENT && s != rm->patient)) FAIL(MC_SIGERR_NOT_ADMITTED);
  mc_session *peer = peer_of(s);
  /* A peer that is away gets nothing: on peer-back the two renegotiate
   * (docs/signaling.md "Reconnecting"), so stale candidates are worthless. */
  if (!peer || !peer->conn) return;
  if (m->type == MC_SIG_OFFER && peer->fresh) {
    peer->fresh = false;
    r->dirty = true;
  }
  char *text = mc_signal_relay_json(m);
  if (!text) FAIL(MC_SIGERR_SERVER_BUSY);
  send_text(r, peer->conn, text);
  free(text);
  emit(r, MC_ROOM_RELAYED, rm->id, role_name(s->role), mc_signal_type_name(m->type), conn);
}

static void on_leave(mc_rooms *r, void *conn, mc_session *s, uint64_t now_ms) {
  struct room *rm = s->room;
  if (s->role == ROLE_DOCTOR) {
    end_room(r, rm, "ended-by-doctor");
    return;
  }
  send_ended(r, conn, "left");
  if (s == rm->patient) drop_patient(r, rm, "left", now_ms);
  else drop_waiting(r, rm, s, "left");
}

void mc_rooms_on_message(mc_rooms *r, void *conn, mc_session **slot, const mc_signal_msg *m, const char *host,
                         uint64_t now_ms) {
  mc_session *s = *slot;
  switch (m->type) {
  case MC_SIG_PING:
    send_obj(r, conn, msg(MC_SIG_PONG));
    return;
  case MC_SIG_CREATE:
    { on_create(r, conn, slot, m, host, now_ms); return; }
  case MC_SIG_JOIN:
    { on_join(r, conn, slot, m, now_ms); return; }
  case MC_SIG_RESUME:
    { on_resume(r, conn, slot, m, now_ms); return; }
  case MC_SIG_ICE:
    { on_ice(r, conn, s, m, now_ms); return; }
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
    { on_leave(r, conn, s, now_ms); return; }
  case MC_SIG_OFFER:
  case MC_SIG_ANSWER:
  case MC_SIG_CANDIDATE:
    { on_relay(r, conn, s, m); return; }
  default:
    FAIL(MC_SIGERR_UNKNOWN_TYPE);
  }
}

void mc_rooms_on_close(mc_rooms *r, mc_session **slot, uint64_t now_ms) {
  mc_session *s = *slot;
  if (!s) return;
  emit_about(r, MC_ROOM_AWAY, s, NULL);
  unbind(s);
  struct room *rm = s->room;
  /* The admitted patient keeps its place until the doctor decides: a
   * phone's tab may be gone for minutes while the call itself goes on. */
  if (s != rm->patient) s->away_deadline_ms = now_ms + (uint64_t)r->cfg->grace_s * 1000;
  r->dirty = true;
  MC_LOGI("server", "peer away room=%.*s role=%s grace_s=%u", ROOM_TAG(rm), role_name(s->role), r->cfg->grace_s);
  if (s->role == ROLE_DOCTOR) doctor_event_to_patients(r, rm, MC_SIG_PEER_AWAY);
  else if (s == rm->patient) send_peer_event(r, rm->doctor, MC_SIG_PEER_AWAY, s, NULL);
  else if (!r->draining) {
    /* A knock that drops gives its place back at once (issue 14: joining
     * and dropping in a loop must not keep the room full), and the doctor
     * sees who knocks now; it knocks again if it resumes within its grace.
     * A server that stops (draining) keeps every knock where it was. */
    send_peer_event(r, rm->doctor, MC_SIG_PEER_LEFT, s, "away");
    s->dropped = true;
    rm->nwaiting--;
  }
}

static bool expired(const mc_session *s, uint64_t now_ms) {
  return !s->conn && s->away_deadline_ms && now_ms >= s->away_deadline_ms;
}

void mc_rooms_tick(mc_rooms *r, uint64_t now_ms) {
  if (r->draining) return;
  struct room *next;
  for (struct room *rm = r->head; rm; rm = next) {
    next = rm->next;
    if (expired(rm->doctor, now_ms)) {
      end_room(r, rm, "doctor-gone");
      continue;
    }
    mc_session *wnext;
    for (mc_session *w = rm->waiting; w; w = wnext) {
      wnext = w->wnext;
      if (expired(w, now_ms)) drop_waiting(r, rm, w, "timeout");
    }
    if (!rm->patient && now_ms >= rm->expires_ms) end_room(r, rm, "expired");
  }
}

/* ---- the snapshot: rooms across a restart of the server ----
 * Times are kept as wall-clock milliseconds (the monotonic clock starts
 * again with the process). Every session is away in a snapshot: its
 * connection ends with the process that writes it. */

static json_t *session_json(const mc_session *s, uint64_t now_ms, uint64_t wall, uint32_t grace_s) {
  json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b}", "id", s->id, "name", s->name, "knock", s->knock,
                        "returning", s->returning, "fresh", s->fresh, "dropped", s->dropped);
  /* The admitted patient has no deadline; one away keeps what is left of
   * its grace; one present now gets a whole grace period from the restart. */
  uint64_t deadline = 0;
  if (s->room->patient != s) {
    if (!s->conn && s->away_deadline_ms)
      deadline = wall + (s->away_deadline_ms > now_ms ? s->away_deadline_ms - now_ms : 0);
    else
      deadline = wall + (uint64_t)grace_s * 1000;
  }
  json_object_set_new(o, "awayUntil", json_integer((json_int_t)deadline));
  return o;
}

int mc_rooms_save(mc_rooms *r, const char *path, uint64_t now_ms) {
  uint64_t wall = mc_wall_ms();
  json_t *rooms = json_array();
  for (struct room *rm = r->head; rm; rm = rm->next) {
    json_t *waiting = json_array();
    for (mc_session *w = rm->waiting; w; w = w->wnext)
      json_array_append_new(waiting, session_json(w, now_ms, wall, r->cfg->grace_s));
    uint64_t expires = rm->patient ? 0 : wall + (rm->expires_ms > now_ms ? rm->expires_ms - now_ms : 0);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:o, s:o}", "id", rm->id, "link", rm->link, "tag",
                          rm->public_tag, "lastName", rm->last_name, "knocks", (json_int_t)rm->knocks, "expires",
                          (json_int_t)expires, "doctor", session_json(rm->doctor, now_ms, wall, r->cfg->grace_s),
                          "waiting", waiting);
    if (rm->patient) json_object_set_new(o, "patient", session_json(rm->patient, now_ms, wall, r->cfg->grace_s));
    json_array_append_new(rooms, o);
  }
  json_t *root = json_pack("{s:i, s:I, s:o}", "version", SNAPSHOT_VERSION, "saved", (json_int_t)wall, "rooms", rooms);
  char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
  json_decref(root);
  if (!text) return MC_ENOMEM;
  /* Session ids are secrets: the file is the server's alone. */
  int rc = mc_write_file_atomic(path, text, strlen(text), 0600);
  OPENSSL_cleanse(text, strlen(text));
  free(text);
  if (rc == 0) MC_LOGD("server", "snapshot written rooms=%zu", r->count);
  return rc;
}

/* One session from a snapshot, or NULL when it is malformed or its grace
 * passed while the server was down. */
static mc_session *session_from_json(mc_rooms *r, json_t *o, struct room *rm, enum role role, enum pstate st,
                                     uint64_t now_ms, uint64_t wall) {
  const char *id = json_string_value(json_object_get(o, "id"));
  const char *name = json_string_value(json_object_get(o, "name"));
  const char *knock = json_string_value(json_object_get(o, "knock"));
  json_t *until = json_object_get(o, "awayUntil");
  if (!id || !mc_signal_id_valid(id, strlen(id)) || strlen(id) != MC_SIGNAL_ID_LEN_MIN || !json_is_integer(until) ||
      find_session(r, id))
    return NULL;
  uint64_t deadline = (uint64_t)json_integer_value(until);
  if (deadline && deadline <= wall) return NULL;
  mc_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  memcpy(s->id, id, MC_SIGNAL_ID_LEN_MIN);
  s->role = role;
  s->state = st;
  s->room = rm;
  if (name) mc_strcpy(s->name, sizeof s->name, name);
  if (knock) mc_strcpy(s->knock, sizeof s->knock, knock);
  s->returning = json_is_true(json_object_get(o, "returning"));
  s->fresh = json_is_true(json_object_get(o, "fresh"));
  s->dropped = st == ST_WAITING && json_is_true(json_object_get(o, "dropped"));
  s->away_deadline_ms = deadline ? now_ms + (deadline - wall) : 0;
  sess_insert(r, s);
  return s;
}

int mc_rooms_load(mc_rooms *r, const char *path, uint64_t now_ms, size_t *loaded) {
  char *text = NULL;
  size_t len = 0;
  *loaded = 0;
  int rc = mc_read_file(path, SNAPSHOT_MAX, &text, &len);
  if (rc < 0) return rc;
  json_error_t jerr;
  json_t *root = json_loadb(text, len, 0, &jerr);
  OPENSSL_cleanse(text, len);
  free(text);
  uint64_t wall = mc_wall_ms();
  json_t *saved = json_object_get(root, "saved");
  if (!json_is_object(root) || json_integer_value(json_object_get(root, "version")) != SNAPSHOT_VERSION ||
      !json_is_integer(saved)) {
    json_decref(root);
    return MC_EPARSE;
  }
  /* A snapshot older than the grace period holds no session anyone may
   * still resume (docs/server.md "Restarting"). */
  if ((uint64_t)json_integer_value(saved) + (uint64_t)r->cfg->grace_s * 1000 < wall) {
    json_decref(root);
    return MC_ETIMEDOUT;
  }
  size_t i;
  json_t *o;
  json_array_foreach(json_object_get(root, "rooms"), i, o) {
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *link = json_string_value(json_object_get(o, "link"));
    if (!id || strlen(id) != MC_SIGNAL_ID_LEN_MIN || !mc_signal_id_valid(id, strlen(id)) || find_room(r, id) ||
        r->count >= r->cfg->max_rooms)
      continue;
    struct room *rm = calloc(1, sizeof *rm);
    if (!rm) break;
    memcpy(rm->id, id, MC_SIGNAL_ID_LEN_MIN);
    if (link) mc_strcpy(rm->link, sizeof rm->link, link);
    const char *last = json_string_value(json_object_get(o, "lastName"));
    if (last) mc_strcpy(rm->last_name, sizeof rm->last_name, last);
    const char *tag = json_string_value(json_object_get(o, "tag"));
    if (public_tag_valid(tag)) mc_strcpy(rm->public_tag, sizeof rm->public_tag, tag);
    else new_public_tag(rm); /* a snapshot of an older version */
    rm->knocks = (uint32_t)json_integer_value(json_object_get(o, "knocks"));
    rm->doctor = session_from_json(r, json_object_get(o, "doctor"), rm, ROLE_DOCTOR, ST_ADMITTED, now_ms, wall);
    if (!rm->doctor) {
      free(rm);
      continue;
    }
    json_t *p = json_object_get(o, "patient");
    if (p) rm->patient = session_from_json(r, p, rm, ROLE_PATIENT, ST_ADMITTED, now_ms, wall);
    uint64_t expires = (uint64_t)json_integer_value(json_object_get(o, "expires"));
    rm->expires_ms = now_ms + (expires > wall ? expires - wall : 0);
    if (!rm->patient && expires == 0) restart_expiry(r, rm, now_ms);
    mc_session **tail = &rm->waiting;
    size_t k;
    json_t *w;
    json_array_foreach(json_object_get(o, "waiting"), k, w) {
      bool dropped = json_is_true(json_object_get(w, "dropped"));
      if (!dropped && rm->nwaiting >= MAX_WAITING) continue;
      mc_session *s = session_from_json(r, w, rm, ROLE_PATIENT, ST_WAITING, now_ms, wall);
      if (!s) continue;
      *tail = s;
      tail = &s->wnext;
      if (!s->dropped) rm->nwaiting++;
    }
    room_link(r, rm);
    (*loaded)++;
  }
  json_decref(root);
  MC_LOGI("server", "snapshot loaded rooms=%zu", *loaded);
  return MC_OK;
}
