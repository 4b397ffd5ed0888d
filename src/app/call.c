/* One consultation through a medcall-server, on the net thread's uv loop.
 * The doctor (call) creates a room, shows its link, admits the patient who
 * knocks and makes the offer; the patient (join LINK) knocks, waits and
 * answers. Media comes from call_media.c, chat, peer state and files from
 * channels.c; what a person sees goes into the call_view the window draws,
 * and lines on standard output serve people and scripts alike: "link: URL",
 * "state: STATE", "pair: LOCAL-TYPE REMOTE-TYPE [tcp]", "verify: DDD DDD",
 * "chat: TEXT", "peer: mic on|off camera on|off", "file: ...", "ended: WHY".
 *
 * A broken path is repaired, not ended: "disconnected" for 2 s (or
 * "failed") makes the offerer restart ICE; a dropped signaling connection is
 * reopened and the session resumed (a server that restarts says goaway
 * first). Only the doctor ends a consultation (or --duration): a patient who
 * leaves, is replaced or is gone for long leaves the doctor "waiting for
 * NAME to come back" with the room open; a doctor who is gone leaves the
 * patient waiting for the doctor. Sessions are kept in the state directory
 * (call_store.c), so a restarted app takes its place back; a peer that
 * started over (a restarted app, a reloaded page) gets a new peer
 * connection (docs/app.md "Coming back"). */
#include <jansson.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "app/app.h"
#include "app/i18n.h"
#include "dtls/dtls.h"
#include "medcall/pc.h"
#include "net/net.h"
#include "signal/signal.h"
#include "util/util.h"

#define LOG "call"
#define SEND_CHUNK (64 * 1024)
#define SEND_HIGH_WATER (1024 * 1024)
#define SEND_LOW_WATER (256 * 1024)
#define DRAIN_MS 1000
#define END_FLUSH_MS 3000 /* at most this long for the end/leave message to leave */
#define RESTART_AFTER_MS 2000     /* disconnected this long: restart ICE */
#define RECOVER_WITHIN_MS 30000   /* not connected again by then: "waiting for NAME to come back" */
#define SIGNAL_RETRY_MS 1000
#define STATS_INTERVAL_MS 1000
#define GOAWAY_JITTER_MS 500      /* clients of a restarting server do not come back all at once */
#define MAX_KNOCKS 4              /* as many as the server lets wait */
#define INTERRUPTION_MS 1000      /* no video for longer: an interruption, said when it ends */
#define NET_SETTLE_MS 300         /* interface changes come in bursts: act once they settle */
#define MAX_KNOWN_ADDRS 32

struct call {
  const struct call_opts *o;
  struct call_view *view;
  /* Received files waiting for the user's decision, oldest first (their
   * bytes are channels.c's, until saved or discarded). */
  struct offered_file {
    unsigned id;
    char name[256];
    uint64_t size;
  } offered[8];
  int noffered;
  uv_loop_t *loop;
  uv_async_t wake;
  mc_signal_client *sig;
  bool sig_open;
  char session[MC_SIGNAL_ID_LEN_MAX + 1];
  int sig_retries;
  mc_pc *pc;
  struct call_media *media;
  struct call_channels *chans;
  bool offerer;
  uint64_t offer_sent_ms; /* an offer awaits its answer since; 0 none */
  bool ever_connected, connected;
  bool media_started; /* this peer connection's media */
  bool peer_present;  /* the other side's signaling connection, as the server says */
  char peer_name[MC_SIGNAL_NAME_MAX + 1];
  /* doctor: knocks not answered yet, oldest first */
  struct knock {
    char id[MC_SIGNAL_KNOCK_ID_MAX + 1];
    char name[MC_SIGNAL_NAME_MAX + 1];
    bool returning;
  } knocks[MAX_KNOCKS];
  int nknocks;
  /* the session kept in the state directory (call_store.c) */
  enum call_store_kind store_kind;
  char store_key[512];
  char room[MC_SIGNAL_ID_LEN_MAX + 1];
  char link[512];
  bool reclaim; /* doctor --room without a stored session: take it back with the token */
  bool link_shown;
  char relay_url[256]; /* the TURN server carrying the call, "" direct */
  /* interface changes (netwatch): the addresses we know, a change pending */
  mc_net_watch *netwatch;
  mc_addr addrs[MAX_KNOWN_ADDRS];
  size_t naddrs;
  bool net_changed, net_lost; /* a change pending; an address of ours went */
  bool net_restart;           /* restart ICE once signaling is back */
  uv_timer_t net_timer;
  char away_why[96]; /* the last "away:" said */
  bool ending;
  bool sig_closing;        /* ending: our end/leave and the close frame are on their way */
  uint64_t end_deadline_ms; /* ending: tear down by then whatever is left */
  int exit_code;
  bool mic_muted, camera_off;
  uv_timer_t duration_timer, end_timer, restart_timer, recover_timer, sig_timer, stats_timer;
  uv_signal_t sigint, sigterm;
  bool sent_chat_text, sent_file;
  bool peer_state_known;

  struct call_ice_server ice[CALL_MAX_ICE_SERVERS]; /* the server's, then the options' */
  size_t nice;

  /* once a second while connected: the call's course, for --stats-json */
  json_t *timeline;
  /* video received across every peer connection of the call: gaps over
   * INTERRUPTION_MS (--stats-json "interruptions") */
  uint64_t last_video_ms;
  json_t *interruptions;
  json_t *last_pc_stats; /* --stats-json: of the connection dropped last */
  /* statistics of the last interval, for the quality bars and the overlay */
  uint64_t last_bytes_sent, last_bytes_received, last_stats_ms, connected_at_ms;
  int64_t last_lost;
  uint64_t last_packets;
  uint64_t last_frames;

  /* --send-bytes: our own channel "bulk" */
  mc_pc_dc send_ch;
  bool sending;
  uint64_t sent;
  uint64_t rng;
  EVP_MD_CTX *sha;
  /* what arrives on the peer's channel "bulk" */
  mc_pc_dc recv_ch;
  uint64_t received;
  uint64_t recv_first_us, recv_last_us;
  EVP_MD_CTX *recv_sha;
};

/* why: a phrase marked N_(), printed as is ("ended: WHY") and shown translated. */
static void call_end(struct call *c, int code, const char *why);
static void on_duration(uv_timer_t *t);
static void open_signaling(struct call *c);
static void on_sig_retry(uv_timer_t *t);
static void restart_for_network(struct call *c);

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void set_phase(struct call *c, enum call_phase p) {
  struct call_view_state *s = call_view_lock(c->view);
  s->phase = p;
  call_view_unlock(c->view);
}

static void sig_send(struct call *c, json_t *msg) {
  json_object_set_new(msg, "v", json_integer(MC_SIGNAL_VERSION));
  char *text = json_dumps(msg, JSON_COMPACT);
  json_decref(msg);
  if (!text) return;
  if (c->sig && c->sig_open) mc_signal_client_send(c->sig, text, strlen(text));
  free(text);
}

/* ---- data: --send-bytes ---- */

static uint64_t next_rand(struct call *c) {
  /* xorshift64: reproducible bytes, not secret */
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  return c->rng;
}

/* The digest as hex; the context is freed. */
static void finish_sha256(EVP_MD_CTX **ctx, char hex[65]) {
  uint8_t md[32];
  unsigned mdlen = 0;
  EVP_DigestFinal_ex(*ctx, md, &mdlen);
  mc_hex_encode(md, sizeof md, hex, 65);
  EVP_MD_CTX_free(*ctx);
  *ctx = NULL;
}

static void pump_send(struct call *c) {
  if (!c->sending || !c->pc) return;
  uint8_t chunk[SEND_CHUNK];
  while (c->sent < c->o->send_bytes && mc_pc_dc_buffered_amount(c->pc, c->send_ch) < SEND_HIGH_WATER) {
    size_t n = (size_t)MC_MIN((uint64_t)SEND_CHUNK, c->o->send_bytes - c->sent);
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = next_rand(c);
      memcpy(chunk + i, &r, MC_MIN((size_t)8, n - i));
    }
    int rc = mc_pc_dc_send(c->pc, c->send_ch, chunk, n, true);
    if (rc != 0) {
      fprintf(stderr, _("medcall: sending on the data channel failed: %s\n"), app_strerror(rc));
      c->sending = false;
      return;
    }
    EVP_DigestUpdate(c->sha, chunk, n);
    c->sent += n;
  }
  if (c->sent >= c->o->send_bytes) {
    char hex[65];
    finish_sha256(&c->sha, hex);
    say("sent: %llu bytes sha256 %s", (unsigned long long)c->sent, hex);
    c->sending = false;
    /* The close waits for what is still buffered: the peer sees every byte, then the close. */
    mc_pc_dc_close(c->pc, c->send_ch);
  }
}

static void open_bulk(struct call *c) {
  if (c->o->send_bytes == 0 || c->send_ch >= 0) return;
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "bulk";
  if (mc_pc_create_data_channel(c->pc, &dc, &c->send_ch) != 0) {
    fputs(_("medcall: could not open a data channel for --send-bytes\n"), stderr);
    c->send_ch = -1;
  }
}

static void start_sending(struct call *c, mc_pc_dc ch) {
  if (ch != c->send_ch || c->sending || c->sent) return;
  c->sending = true;
  c->rng = 0x6d656463616c6c31ull; /* "medcall1" */
  c->sha = EVP_MD_CTX_new();
  EVP_DigestInit_ex(c->sha, EVP_sha256(), NULL);
  mc_pc_dc_set_buffered_amount_low_threshold(c->pc, ch, SEND_LOW_WATER);
  pump_send(c);
}

/* ---- peer connection callbacks ---- */

static void on_ice_candidate(mc_pc *pc, const char *mid, const char *line, void *user) {
  (void)pc;
  struct call *c = user;
  json_t *m = json_pack("{s:s, s:s, s:s, s:i}", "type", "candidate", "candidate", line, "sdpMid", mid,
                        "sdpMLineIndex", 0);
  sig_send(c, m);
}

/* The pair, the route the window shows and the verification code: printed
 * the first time, refreshed in the view after every (re)connection. */
static void show_connection(struct call *c, bool print) {
  struct mc_pc_stats st;
  if (mc_pc_get_stats(c->pc, &st) != 0) return;
  char code[MC_DTLS_VERIFICATION_CODE_LEN] = "";
  if (st.local_fingerprint[0] && st.remote_fingerprint[0])
    mc_dtls_verification_code(st.local_fingerprint, st.remote_fingerprint, code);
  bool relayed = st.has_selected_pair &&
                 (!strcmp(st.local_candidate_type, "relay") || !strcmp(st.remote_candidate_type, "relay"));
  if (print) {
    /* ICE-TCP pairs say so; UDP ones keep the two-word line scripts read. */
    if (st.has_selected_pair)
      say("pair: %s %s%s", st.local_candidate_type, st.remote_candidate_type,
          strcmp(st.protocol, "tcp") == 0 ? " tcp" : "");
    say("dtls: %s %s", st.dtls_client ? "client" : "server", st.srtp_cipher);
    if (code[0]) say("verify: %s", code);
  }
  /* Which TURN server carries the call, and the one that stopped when a
   * repair moved it (a relay server that died mid-call is named). */
  if (st.has_selected_pair && strcmp(st.relay_url, c->relay_url) != 0) {
    if (c->relay_url[0])
      say("relay: %s stopped carrying the call; it goes on %s%s", c->relay_url,
          st.relay_url[0] ? "through " : "directly", st.relay_url);
    else
      say("relay: through %s", st.relay_url);
    mc_strcpy(c->relay_url, sizeof c->relay_url, st.relay_url);
  }
  struct call_view_state *s = call_view_lock(c->view);
  mc_strcpy(s->verification, sizeof s->verification, code);
  s->relayed = relayed;
  if (st.has_selected_pair)
    snprintf(s->route, sizeof s->route, "%s (%s - %s)", relayed ? "relayed" : "direct", st.local_candidate_type,
             st.remote_candidate_type);
  call_view_unlock(c->view);
}

static void make_offer(struct call *c) {
  char *offer = NULL;
  int rc = mc_pc_create_offer(c->pc, &offer);
  if (rc == 0) rc = mc_pc_set_local_description(c->pc, MC_PC_OFFER, offer);
  if (rc != 0) {
    fprintf(stderr, _("medcall: could not make an offer: %s\n"), mc_pc_last_error(c->pc));
    mc_free(offer);
    call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
    return;
  }
  sig_send(c, json_pack("{s:s, s:s}", "type", "offer", "sdp", offer));
  c->offer_sent_ms = mc_now_ms();
  mc_free(offer);
}

/* The offerer repairs the path with an ICE restart (RFC 8445 9); the
 * answerer answers the offer that brings it. */
/* The offerer's ICE restart with a new offer; why ends the stdout line.
 * false when it cannot go now. */
static bool offer_ice_restart(struct call *c, const char *why) {
  if (!c->pc || c->ending || !c->offerer) return false;
  /* resumed later: peer-back or resumed restarts then (an offer to a peer
   * that is away is dropped by the server) */
  if (!c->sig_open || !c->peer_present) return false;
  /* An offer still waits for its answer: signaling is reliable while both
   * connections are up, so a second offer could only cross the answer to
   * the first (a peer asleep for 30 s answers every offer it finds when it
   * wakes). An offer lost with a connection is forgotten on resumed or
   * peer-back, which restart again. */
  if (c->offer_sent_ms) return false;
  if (mc_pc_restart_ice(c->pc) != 0) {
    MC_LOGW(LOG, "ice restart refused: %s", mc_pc_last_error(c->pc));
    return false;
  }
  say("reconnecting: %s", why);
  make_offer(c);
  return true;
}

/* A broken path: repaired only while it is broken. */
static void restart_ice(struct call *c) {
  if (!c->connected) offer_ice_restart(c, "ice restart");
}

static void on_restart_timer(uv_timer_t *t) {
  struct call *c = t->data;
  restart_ice(c);
  /* The restart may itself be lost with the path: try again until the deadline. */
  if (!c->connected && !c->ending) uv_timer_start(&c->restart_timer, on_restart_timer, 5000, 0);
}

/* Who the other side is, for "waiting for NAME to come back". */
static const char *peer_label(const struct call *c) {
  return c->o->doctor ? (c->peer_name[0] ? c->peer_name : "the patient") : "the doctor";
}

/* The other side is gone for now; the call is not over (only the doctor
 * ends it). The doctor keeps the room and waits; the patient waits for the
 * doctor. */
static void show_away(struct call *c, const char *why) {
  struct call_view_state *v = call_view_lock(c->view);
  bool changed = v->phase != CALL_PHASE_AWAY || strcmp(c->away_why, why) != 0;
  v->phase = CALL_PHASE_AWAY;
  call_view_unlock(c->view);
  mc_strcpy(c->away_why, sizeof c->away_why, why);
  if (changed) say("away: %s; waiting for %s to come back", why, peer_label(c));
}

static void on_recover_deadline(uv_timer_t *t) {
  struct call *c = t->data;
  if (c->connected || c->ending) return;
  /* Restarts go on every 5 s: a laptop that wakes, a phone back in range. */
  show_away(c, "the connection is lost");
}

static void send_headless_extras(struct call *c) {
  if (c->o->nsend_files && !c->sent_file && c->chans) {
    c->sent_file = true;
    for (int i = 0; i < c->o->nsend_files; i++) {
      int rc = call_channels_send_file(c->chans, c->o->send_files[i]);
      if (rc != 0) fprintf(stderr, _("medcall: cannot send %s: %s\n"), c->o->send_files[i], app_strerror(rc));
    }
  }
}

static void open_bulk(struct call *c);

static void on_connection_state(mc_pc *pc, enum mc_pc_state s, void *user) {
  struct call *c = user;
  say("state: %s", mc_pc_state_name(s));
  if (s == MC_PC_STATE_CONNECTED) {
    c->connected = true;
    uv_timer_stop(&c->restart_timer);
    uv_timer_stop(&c->recover_timer);
    bool first = !c->ever_connected;
    show_connection(c, first);
    struct call_view_state *v = call_view_lock(c->view);
    v->phase = CALL_PHASE_CONNECTED;
    c->away_why[0] = '\0';
    if (first) v->connected_wall_ms = (uint64_t)mc_wall_ms();
    if (first) c->connected_at_ms = mc_now_ms();
    call_view_unlock(c->view);
    if (!c->media_started) {
      c->media_started = true;
      call_media_start(c->media);
    }
    if (first) {
      c->ever_connected = true;
      open_bulk(c);
      send_headless_extras(c);
      if (c->o->duration_s > 0)
        uv_timer_start(&c->duration_timer, on_duration, (uint64_t)(c->o->duration_s * 1000), 0);
    }
    return;
  }
  if (s == MC_PC_STATE_DISCONNECTED || s == MC_PC_STATE_FAILED) {
    if (!c->ever_connected) {
      if (s == MC_PC_STATE_FAILED) {
        const char *why = mc_pc_last_error(pc);
        fprintf(stderr, _("medcall: the call failed: %s\n"), why[0] ? why : _("the connection broke"));
        call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
      }
      return;
    }
    bool was_connected = c->connected;
    c->connected = false;
    set_phase(c, CALL_PHASE_RECONNECTING);
    /* Gone from the server too: nothing to repair before it comes back. */
    if (!c->peer_present) show_away(c, c->o->doctor ? "the patient's connection dropped" : "the doctor's connection dropped");
    if (was_connected) uv_timer_start(&c->recover_timer, on_recover_deadline, RECOVER_WITHIN_MS, 0);
    if (s == MC_PC_STATE_FAILED) uv_timer_start(&c->restart_timer, on_restart_timer, 0, 0);
    else if (was_connected) uv_timer_start(&c->restart_timer, on_restart_timer, RESTART_AFTER_MS, 0);
    return;
  }
  /* The peer closed its connection (hung up, or started over): signaling
   * says which; the consultation itself ends only by the doctor. */
  if (s == MC_PC_STATE_CLOSED && !c->ending) {
    c->connected = false;
    uv_timer_stop(&c->restart_timer);
    show_away(c, c->o->doctor ? "the patient closed the connection" : "the doctor closed the connection");
  }
}

/* ---- chat, peer state and files (channels.c) ---- */

static void on_chat(void *user, const char *text) {
  struct call *c = user;
  /* The peer's text goes to a terminal and the window: no escape sequence,
   * no new line (a forged "file: ... saved" line), no bidi trick. */
  char *shown = malloc(strlen(text) * 3 + 1);
  if (!shown) return;
  mc_text_shown(shown, strlen(text) * 3 + 1, text);
  say("chat: %s", shown);
  call_view_add_chat(c->view, false, false, shown);
  free(shown);
}

static void on_peer_state(void *user, bool mic_on, bool camera_on, bool video_paused) {
  struct call *c = user;
  struct call_view_state *s = call_view_lock(c->view);
  bool changed = !c->peer_state_known || s->peer_mic_muted != !mic_on || s->peer_camera_off != !camera_on;
  bool paused_changed = s->peer_video_paused != video_paused;
  s->peer_mic_muted = !mic_on;
  s->peer_camera_off = !camera_on;
  s->peer_video_paused = video_paused;
  call_view_unlock(c->view);
  c->peer_state_known = true;
  if (changed) say("peer: mic %s camera %s", mic_on ? "on" : "off", camera_on ? "on" : "off");
  if (paused_changed) say("peer-video: %s", video_paused ? "paused (their connection is too slow)" : "resumed");
}

/* The estimate paused our video (or let it resume): say so here and to the
 * peer, so neither side takes a frozen picture for a broken call. */
static void check_video_paused(struct call *c) {
  bool paused = call_media_video_paused(c->media);
  struct call_view_state *s = call_view_lock(c->view);
  bool changed = s->video_paused != paused;
  s->video_paused = paused;
  call_view_unlock(c->view);
  if (!changed) return;
  say("video: %s", paused ? "paused (the connection is too slow; sound goes on)" : "resumed");
  if (c->chans) call_channels_set_video_paused(c->chans, paused);
}

static void on_file_received(void *user, const char *name, const char *saved_path, uint64_t size, const char *error,
                             const char *shown) {
  struct call *c = user;
  char line[512];
  if (error) {
    say("file-failed: %s: %s", name, error);
    mc_strcpy(line, sizeof line, shown);
  } else {
    say("file: %s %llu bytes saved %s", name, (unsigned long long)size, saved_path);
    snprintf(line, sizeof line,
             ngettext("%s received (%llu byte), saved as %s", "%s received (%llu bytes), saved as %s",
                      (unsigned long)size),
             name, (unsigned long long)size, saved_path);
  }
  call_view_add_chat(c->view, false, true, line);
}

static void show_offers(struct call *c) {
  struct call_view_state *s = call_view_lock(c->view);
  s->file_offers = c->noffered;
  mc_strcpy(s->file_offer_name, sizeof s->file_offer_name, c->noffered ? c->offered[0].name : "");
  s->file_offer_size = c->noffered ? c->offered[0].size : 0;
  call_view_unlock(c->view);
}

/* The channels (and the files waiting with them) are gone. */
static void forget_offers(struct call *c) {
  c->noffered = 0;
  show_offers(c);
}

static void decide_oldest_file(struct call *c, bool save) {
  if (!c->noffered) return;
  unsigned id = c->offered[0].id;
  memmove(&c->offered[0], &c->offered[1], (size_t)(c->noffered - 1) * sizeof c->offered[0]);
  c->noffered--;
  show_offers(c);
  if (c->chans) call_channels_decide_file(c->chans, id, save);
}

static void on_file_offered(void *user, unsigned id, const char *name, uint64_t size) {
  struct call *c = user;
  say("file-offered: %s %llu bytes", name, (unsigned long long)size);
  if (!c->o->window || c->noffered == (int)MC_ARRAY_LEN(c->offered)) {
    /* Nobody at a window to ask: a file is never saved unasked. */
    if (!c->o->window)
      fputs(_("medcall: a received file was discarded: nobody is at a window to accept it (--accept-files keeps "
              "received files)\n"),
            stderr);
    if (c->chans) call_channels_decide_file(c->chans, id, false);
    return;
  }
  struct offered_file *f = &c->offered[c->noffered++];
  f->id = id;
  mc_strcpy(f->name, sizeof f->name, name);
  f->size = size;
  show_offers(c);
}

static void on_file_discarded(void *user, const char *name, uint64_t size) {
  struct call *c = user;
  (void)size;
  say("file-discarded: %s", name);
  char line[512];
  snprintf(line, sizeof line, _("%s was discarded"), name);
  call_view_add_chat(c->view, false, true, line);
}

static void on_file_sent(void *user, const char *name, uint64_t size, const char *error, const char *shown) {
  struct call *c = user;
  char line[512];
  if (error) {
    say("file-failed: %s: %s", name, error);
    mc_strcpy(line, sizeof line, shown);
  } else {
    say("file-sent: %s %llu bytes", name, (unsigned long long)size);
    snprintf(line, sizeof line, ngettext("%s sent (%llu byte)", "%s sent (%llu bytes)", (unsigned long)size), name,
             (unsigned long long)size);
  }
  call_view_add_chat(c->view, true, true, line);
}

static void send_our_state(struct call *c) {
  if (c->chans)
    call_channels_send_state(c->chans, !c->mic_muted && call_media_has_audio(c->media),
                             !c->camera_off && call_media_has_video(c->media));
}

/* ---- data channel events: ours (channels.c) first, then the test modes ---- */

static void on_data_channel(mc_pc *pc, mc_pc_dc ch, const char *label, const char *protocol, void *user) {
  (void)pc;
  struct call *c = user;
  if (!c->o->echo && c->chans && call_channels_on_data_channel(c->chans, ch, label, protocol)) return;
  say("channel: %d %s", ch, label);
  if (strcmp(label, "bulk") == 0 && c->recv_ch < 0) {
    c->recv_ch = ch;
    c->recv_sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c->recv_sha, EVP_sha256(), NULL);
  }
}

static void print_received(struct call *c) {
  if (!c->recv_sha) return;
  char hex[65];
  finish_sha256(&c->recv_sha, hex);
  say("received: %llu bytes sha256 %s", (unsigned long long)c->received, hex);
  double ms = (double)(c->recv_last_us - c->recv_first_us) / 1000.0;
  if (ms > 0)
    say("rate: %llu bytes in %.1f ms, %.1f Mbit/s", (unsigned long long)c->received, ms,
        (double)c->received * 8.0 / (ms * 1000.0));
}

static void start_sending(struct call *c, mc_pc_dc ch);

static void on_dc_open(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct call *c = user;
  if (c->chans && call_channels_on_open(c->chans, ch)) {
    send_our_state(c);
    if (c->o->chat_text && !c->sent_chat_text && call_channels_send_chat(c->chans, c->o->chat_text) == 0) {
      c->sent_chat_text = true;
      call_view_add_chat(c->view, true, false, c->o->chat_text);
    }
    return;
  }
  say("open: %d", ch);
  start_sending(c, ch);
}

static void on_dc_message(mc_pc *pc, mc_pc_dc ch, const uint8_t *data, size_t len, bool binary, void *user) {
  struct call *c = user;
  if (ch == c->recv_ch && c->recv_sha) {
    EVP_DigestUpdate(c->recv_sha, data, len);
    c->recv_last_us = mc_now_us();
    if (!c->received) c->recv_first_us = c->recv_last_us;
    c->received += len;
    return;
  }
  if (c->o->echo) {
    int rc = mc_pc_dc_send(pc, ch, data, len, binary);
    if (rc != 0) MC_LOGW(LOG, "echo failed len=%zu err=%s", len, mc_strerror(rc));
    return;
  }
  if (c->chans) call_channels_on_message(c->chans, ch, data, len, binary);
}

static void pump_send(struct call *c);

static void on_dc_low(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct call *c = user;
  if (c->sending && ch == c->send_ch) {
    pump_send(c);
    return;
  }
  if (c->chans) call_channels_on_buffered_amount_low(c->chans, ch);
}

static void on_dc_close(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct call *c = user;
  if (!c->o->echo && c->chans && call_channels_on_close(c->chans, ch)) return;
  say("closed: %d", ch);
  if (ch == c->recv_ch) print_received(c);
}

static void on_track(mc_pc *pc, mc_pc_track t, enum mc_pc_kind kind, void *user) {
  (void)pc;
  (void)user;
  say("track: %d %s", t, kind == MC_PC_VIDEO ? "video" : "audio");
}

static void on_frame(mc_pc *pc, mc_pc_track t, const uint8_t *data, size_t len, uint32_t ts, bool key, void *user) {
  (void)pc;
  struct call *c = user;
  if (!call_media_on_frame(c->media, t, data, len, ts, key)) return;
  uint64_t now = mc_now_ms();
  if (c->last_video_ms && now - c->last_video_ms > INTERRUPTION_MS) {
    uint64_t gap = now - c->last_video_ms;
    say("video: flowing again after %llu ms", (unsigned long long)gap);
    if (!c->interruptions) c->interruptions = json_array();
    json_array_append_new(c->interruptions,
                          json_pack("{s:f, s:I}", "endS", (double)(now - c->connected_at_ms) / 1000.0, "ms",
                                    (json_int_t)gap));
  }
  c->last_video_ms = now;
}

static void on_keyframe_request(mc_pc *pc, mc_pc_track t, void *user) {
  (void)pc;
  struct call *c = user;
  call_media_on_keyframe_request(c->media, t);
}

static void on_target_bitrate(mc_pc *pc, uint64_t bps, void *user) {
  (void)pc;
  struct call *c = user;
  call_media_set_target_bitrate(c->media, bps);
  check_video_paused(c);
}

/* ---- signaling ---- */

static void clear_ice_servers(struct call *c) { call_ice_servers_clear(c->ice, &c->nice); }

/* The server's ICE servers (fresh credentials with every admission), then
 * those of the options. */
static void set_ice_servers(struct call *c, json_t *arr) {
  call_ice_servers_set(c->ice, &c->nice, arr, c->o->ice, c->o->nice);
}

static int make_pc(struct call *c) {
  struct mc_pc_ice_server servers[CALL_MAX_ICE_SERVERS];
  for (size_t i = 0; i < c->nice; i++)
    servers[i] = (struct mc_pc_ice_server){c->ice[i].url, c->ice[i].username, c->ice[i].credential};
  struct mc_pc_config cfg = {
      .loop = c->loop,
      .ice_servers = servers,
      .ice_server_count = c->nice,
      .relay_only = c->o->relay_only,
      .insecure_turns = c->o->insecure,
      /* For the lab and benches only (a REMB-only peer, issue 16): never
       * set in normal use. */
      .remb_only = getenv("MEDCALL_TEST_REMB_ONLY") != NULL,
  };
  struct mc_pc_callbacks cbs = {
      .on_ice_candidate = on_ice_candidate,
      .on_connection_state = on_connection_state,
      .on_data_channel = on_data_channel,
      .on_dc_open = on_dc_open,
      .on_dc_message = on_dc_message,
      .on_dc_buffered_amount_low = on_dc_low,
      .on_dc_close = on_dc_close,
      .on_track = on_track,
      .on_frame = on_frame,
      .on_keyframe_request = on_keyframe_request,
      .on_target_bitrate = on_target_bitrate,
  };
  int rc = mc_pc_new(&cfg, &cbs, c, &c->pc);
  if (rc != 0) {
    fprintf(stderr, _("medcall: could not set up the call: %s\n"), app_strerror(rc));
    return rc;
  }
  struct call_media_opts mo = c->o->media;
  mo.view = c->view;
  rc = call_media_new(c->loop, c->pc, &mo, &c->media);
  if (rc != 0) {
    fprintf(stderr, _("medcall: could not set up the media: %s\n"), app_strerror(rc));
    return rc;
  }
  /* The new connection starts with what the user chose in the old one. */
  call_media_set_mic_muted(c->media, c->mic_muted);
  call_media_set_camera_off(c->media, c->camera_off);
  struct call_view_state *s = call_view_lock(c->view);
  s->has_video = call_media_has_video(c->media);
  s->has_audio = call_media_has_audio(c->media);
  call_view_unlock(c->view);
  if (c->o->echo) {
    /* The test mode keeps every channel to itself; the offerer still opens
     * "chat", which the test pages expect. */
    struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
    dc.label = "chat";
    mc_pc_dc ch;
    return c->offerer ? mc_pc_create_data_channel(c->pc, &dc, &ch) : 0;
  }
  struct call_channels_callbacks ccb = {.on_chat = on_chat,
                                        .on_peer_state = on_peer_state,
                                        .on_file_received = on_file_received,
                                        .on_file_offered = on_file_offered,
                                        .on_file_discarded = on_file_discarded,
                                        .on_file_sent = on_file_sent};
  rc = call_channels_new(c->pc, c->offerer, c->o->download_dir, &ccb, c, &c->chans);
  if (rc == 0) call_channels_set_accept_files(c->chans, c->o->accept_files);
  if (rc != 0) fprintf(stderr, _("medcall: could not set up chat and file transfer: %s\n"), app_strerror(rc));
  return rc;
}

/* The peer connection and everything riding on it go; the call goes on
 * (a new peer joins, or the same one starts over). */
static json_t *pc_stats_json(struct call *c);

static void drop_pc(struct call *c) {
  if (!c->pc) return;
  if (c->o->stats_json) {
    json_decref(c->last_pc_stats);
    c->last_pc_stats = pc_stats_json(c);
  }
  call_channels_free(c->chans);
  c->chans = NULL;
  forget_offers(c);
  call_media_free(c->media);
  c->media = NULL;
  mc_pc_free(c->pc);
  c->pc = NULL;
  c->connected = c->media_started = c->peer_state_known = false;
  c->offer_sent_ms = 0;
  c->send_ch = c->recv_ch = -1;
  c->relay_url[0] = '\0';
  uv_timer_stop(&c->restart_timer);
  uv_timer_stop(&c->recover_timer);
  struct call_view_state *v = call_view_lock(c->view);
  v->peer_mic_muted = v->peer_camera_off = v->peer_video_paused = false;
  v->verification[0] = '\0';
  call_view_unlock(c->view);
}

/* A new peer connection for this session: the doctor offers, the patient
 * waits for the offer. */
static void start_pc(struct call *c, json_t *ice_servers) {
  drop_pc(c);
  set_ice_servers(c, ice_servers);
  set_phase(c, CALL_PHASE_CONNECTING);
  if (make_pc(c) != 0) {
    call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
    return;
  }
  if (c->offerer) make_offer(c);
}

/* The DTLS fingerprint of an SDP as mc_pc_stats has it ("sha-256
 * AB:CD:..."), "" when none. */
static void sdp_fingerprint(const char *sdp, char *out, size_t cap) {
  out[0] = '\0';
  const char *p = sdp ? strstr(sdp, "a=fingerprint:") : NULL;
  if (!p) return;
  p += strlen("a=fingerprint:");
  size_t n = strcspn(p, "\r\n");
  if (n < cap) {
    memcpy(out, p, n);
    out[n] = '\0';
  }
}

/* A description whose certificate is not the one our connection knows
 * comes from a peer that started over (a restarted app, a reloaded page):
 * DTLS cannot change its certificate, so the connection must be new. */
static bool peer_started_over(struct call *c, const char *sdp) {
  struct mc_pc_stats st;
  if (!c->pc || mc_pc_get_stats(c->pc, &st) != 0 || !st.remote_fingerprint[0]) return false;
  char fp[256];
  sdp_fingerprint(sdp, fp, sizeof fp);
  return fp[0] && strcasecmp(fp, st.remote_fingerprint) != 0;
}

static void on_offer(struct call *c, const char *sdp) {
  if (!c->pc) return;
  if (peer_started_over(c, sdp)) {
    say("reconnecting: %s started over", peer_label(c));
    /* the ICE servers already issued stay valid for the new connection */
    drop_pc(c);
    set_phase(c, CALL_PHASE_CONNECTING);
    if (make_pc(c) != 0) {
      call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
      return;
    }
  }
  int rc = mc_pc_set_remote_description(c->pc, MC_PC_OFFER, sdp);
  char *answer = NULL;
  if (rc == 0) rc = mc_pc_create_answer(c->pc, &answer);
  if (rc == 0) rc = mc_pc_set_local_description(c->pc, MC_PC_ANSWER, answer);
  if (rc != 0) {
    fprintf(stderr, "medcall: %s\n", mc_pc_last_error(c->pc));
    mc_free(answer);
    call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
    return;
  }
  sig_send(c, json_pack("{s:s, s:s}", "type", "answer", "sdp", answer));
  mc_free(answer);
}

static void on_answer(struct call *c, const char *sdp) {
  if (!c->pc || !sdp) return;
  if (!c->offer_sent_ms) {
    /* The answer to an offer that was given up (sent while the peer was
     * away): the offer that replaced it has an answer of its own coming. */
    MC_LOGI(LOG, "an answer to an earlier offer was ignored");
    return;
  }
  c->offer_sent_ms = 0;
  if (peer_started_over(c, sdp)) {
    /* Our offer reached a patient that had started over: offer anew from a
     * connection of our own that is new as well. */
    say("reconnecting: %s started over", peer_label(c));
    drop_pc(c);
    set_phase(c, CALL_PHASE_CONNECTING);
    if (make_pc(c) != 0) call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
    else make_offer(c);
    return;
  }
  if (mc_pc_set_remote_description(c->pc, MC_PC_ANSWER, sdp) != 0) {
    fprintf(stderr, "medcall: %s\n", mc_pc_last_error(c->pc));
    call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
  }
}

static void save_session(struct call *c) {
  if (!c->session[0] || !c->room[0]) return;
  struct call_stored st = {0};
  mc_strcpy(st.room, sizeof st.room, c->room);
  mc_strcpy(st.session, sizeof st.session, c->session);
  mc_strcpy(st.link, sizeof st.link, c->link);
  int rc = call_store_save(c->store_kind, c->store_key, &st);
  if (rc != 0) MC_LOGW(LOG, "session not kept in the state directory err=%s", mc_strerror(rc));
  OPENSSL_cleanse(&st, sizeof st);
}

static void remember_session(struct call *c, json_t *m) {
  const char *session = json_string_value(json_object_get(m, "session"));
  const char *room = json_string_value(json_object_get(m, "room"));
  const char *link = json_string_value(json_object_get(m, "link"));
  if (session) mc_strcpy(c->session, sizeof c->session, session);
  if (room) mc_strcpy(c->room, sizeof c->room, room);
  if (link) mc_strcpy(c->link, sizeof c->link, link);
  save_session(c);
}

static void send_hello(struct call *c) {
  if (c->session[0]) {
    /* fresh: this process holds no peer connection for the session (a
     * restarted app): the doctor must start a new one. */
    sig_send(c, json_pack("{s:s, s:s, s:b}", "type", "resume", "session", c->session, "fresh", c->pc == NULL));
  } else if (c->o->doctor) {
    json_t *m = json_pack("{s:s}", "type", "create");
    if (c->o->token) json_object_set_new(m, "token", json_string(c->o->token));
    if (c->reclaim) json_object_set_new(m, "room", json_string(c->o->room));
    sig_send(c, m);
  } else {
    sig_send(c, json_pack("{s:s, s:s, s:s}", "type", "join", "room", c->o->room, "name",
                          c->o->name ? c->o->name : "medcall"));
  }
}

static void on_sig_open(mc_signal_client *s, void *user) {
  (void)s;
  struct call *c = user;
  c->sig_open = true;
  send_hello(c);
}

/* ---- knocks (doctor) ---- */

/* Whether a patient is in the call now: a knock then waits for the doctor. */
static bool patient_in_call(const struct call *c) { return c->pc && c->connected && c->peer_present; }

static void show_knocks(struct call *c) {
  struct call_view_state *v = call_view_lock(c->view);
  v->knocks_waiting = c->nknocks;
  mc_strcpy(v->knock_name, sizeof v->knock_name, c->nknocks ? c->knocks[0].name : "");
  v->knock_returning = c->nknocks && c->knocks[0].returning;
  if (c->nknocks && v->phase == CALL_PHASE_WAITING) v->phase = CALL_PHASE_KNOCKING;
  else if (!c->nknocks && v->phase == CALL_PHASE_KNOCKING) v->phase = CALL_PHASE_WAITING;
  call_view_unlock(c->view);
}

static void forget_knock(struct call *c, const char *id) {
  for (int i = 0; i < c->nknocks; i++)
    if (!strcmp(c->knocks[i].id, id)) {
      memmove(&c->knocks[i], &c->knocks[i + 1], (size_t)(c->nknocks - i - 1) * sizeof c->knocks[0]);
      c->nknocks--;
      break;
    }
  show_knocks(c);
}

/* The doctor's answer to the oldest knock (the one the window shows). */
static void answer_knock(struct call *c, bool admit) {
  if (!c->nknocks) return;
  char id[sizeof c->knocks[0].id];
  mc_strcpy(id, sizeof id, c->knocks[0].id);
  say("%s: %s", admit ? "admit" : "decline", c->knocks[0].name);
  sig_send(c, json_pack("{s:s, s:s}", "type", admit ? "admit" : "decline", "knock", id));
  forget_knock(c, id);
}

static void on_knock(struct call *c, json_t *m) {
  const char *name = json_string_value(json_object_get(m, "name"));
  const char *id = json_string_value(json_object_get(m, "knock"));
  bool returning = json_is_true(json_object_get(m, "returning"));
  if (!name || !id) return;
  for (int i = 0; i < c->nknocks; i++)
    if (!strcmp(c->knocks[i].id, id)) return; /* told again after a resume */
  if (c->nknocks == MAX_KNOCKS) return;
  struct knock *k = &c->knocks[c->nknocks++];
  mc_strcpy(k->id, sizeof k->id, id);
  mc_text_shown(k->name, sizeof k->name, name); /* typed by whoever holds the link */
  k->returning = returning;
  if (returning) say("back: %s is back", k->name);
  else say("knock: %s", k->name);
  show_knocks(c);
  /* Without a window nobody decides: the first knock is let in while
   * nobody is in the call, and a knock during a call (a second tab, a
   * stranger with the link) is turned away. */
  if (c->o->auto_admit) answer_knock(c, !patient_in_call(c));
}

/* The patient in the call is gone from the room (left, or the doctor let
 * another knock in); the room stays open for it to come back. */
static void on_patient_left(struct call *c, const char *reason) {
  if (reason && !strcmp(reason, "replaced")) return; /* admitted follows */
  drop_pc(c);
  c->peer_present = false;
  show_away(c, reason && !strcmp(reason, "left") ? "the patient left" : "the patient is gone");
}

static void on_admitted(struct call *c, json_t *m) {
  c->offerer = json_is_true(json_object_get(m, "offerer"));
  json_t *peer = json_object_get(m, "peer");
  const char *name = json_string_value(json_object_get(peer, "name"));
  c->peer_present = json_is_true(json_object_get(peer, "present")) || json_object_get(peer, "present") == NULL;
  if (name) {
    mc_text_shown(c->peer_name, sizeof c->peer_name, name);
    struct call_view_state *v = call_view_lock(c->view);
    mc_strcpy(v->peer_name, sizeof v->peer_name, c->peer_name);
    call_view_unlock(c->view);
  }
  say("admitted: %s", c->offerer ? "offerer" : "answerer");
  start_pc(c, json_object_get(m, "ice_servers"));
}

/* Our session is ours again (after a dropped connection, a restarted
 * server or a restarted app). */
static void on_resumed(struct call *c, json_t *m) {
  say("signaling: resumed");
  c->sig_retries = 0;
  remember_session(c, m);
  const char *state = json_string_value(json_object_get(m, "state"));
  json_t *peer = json_object_get(m, "peer");
  c->peer_present = json_is_true(json_object_get(peer, "present"));
  const char *name = json_string_value(json_object_get(peer, "name"));
  if (name) mc_text_shown(c->peer_name, sizeof c->peer_name, name);
  struct call_view_state *v = call_view_lock(c->view);
  if (c->o->doctor) mc_strcpy(v->link, sizeof v->link, c->link);
  if (name) mc_strcpy(v->peer_name, sizeof v->peer_name, c->peer_name);
  call_view_unlock(c->view);
  if (c->o->doctor && !c->link_shown && c->link[0]) {
    c->link_shown = true;
    say("link: %s", c->link);
  }
  if (!state || strcmp(state, "admitted") != 0) {
    /* Nobody in the call any more (the patient left while we were away). */
    if (c->pc) on_patient_left(c, "gone");
    else if (!c->o->doctor) {
      say("waiting: for the doctor to admit you");
      set_phase(c, CALL_PHASE_WAITING);
    } else {
      set_phase(c, c->peer_name[0] ? CALL_PHASE_AWAY : CALL_PHASE_WAITING);
      show_knocks(c);
    }
    return;
  }
  c->offerer = json_is_true(json_object_get(m, "offerer"));
  if (!c->pc || json_is_true(json_object_get(peer, "fresh"))) {
    /* We are new (a restarted app), or the peer is: a new connection. */
    if (c->pc) say("reconnecting: %s started over", peer_label(c));
    start_pc(c, json_object_get(m, "ice_servers"));
    if (!c->peer_present) show_away(c, c->o->doctor ? "the patient is not connected" : "the doctor is not connected");
    return;
  }
  if (!c->peer_present && !c->connected) show_away(c, "the other side is not connected");
  c->offer_sent_ms = 0; /* an offer sent while we were away was lost */
  if (c->net_restart) {
    c->net_restart = false;
    restart_for_network(c);
    return;
  }
  restart_ice(c);
}

static void on_peer_back(struct call *c, json_t *m) {
  c->peer_present = true;
  if (json_is_true(json_object_get(m, "fresh")) && c->pc) {
    /* The peer started over and holds no connection: the doctor offers from
     * a new one; the patient waits for that offer. */
    say("reconnecting: %s started over", peer_label(c));
    drop_pc(c);
    set_phase(c, CALL_PHASE_CONNECTING);
    if (make_pc(c) != 0) call_end(c, MC_APP_EXIT_FAIL, N_("failed"));
    else if (c->offerer) make_offer(c);
    return;
  }
  if (!c->pc) {
    if (c->o->doctor) return; /* a patient not in the call */
    set_phase(c, CALL_PHASE_CONNECTING);
    return;
  }
  if (!c->connected) set_phase(c, CALL_PHASE_RECONNECTING);
  c->offer_sent_ms = 0;
  restart_ice(c);
}

/* The server is restarting: reconnect after its hint and resume. */
static void on_goaway(struct call *c, json_t *m) {
  json_int_t retry = json_integer_value(json_object_get(m, "retry_ms"));
  if (retry <= 0 || retry > 60000) retry = 1000;
  say("signaling: the server is restarting; reconnecting");
  c->sig_open = false;
  if (c->sig) {
    mc_signal_client_free(c->sig);
    c->sig = NULL;
  }
  c->sig_retries = 1;
  uv_timer_start(&c->sig_timer, on_sig_retry, (uint64_t)retry + mc_random_u32() % GOAWAY_JITTER_MS, 0);
}

static const char *ended_text(const struct call *c, const char *reason) {
  if (!reason) return N_("the consultation ended");
  if (!strcmp(reason, "ended-by-doctor"))
    return c->o->doctor ? N_("you ended the consultation") : N_("the doctor ended the consultation");
  if (!strcmp(reason, "replaced")) return N_("the doctor let you in again from another window or device");
  if (!strcmp(reason, "resumed-elsewhere")) return N_("this consultation continues in another window");
  if (!strcmp(reason, "doctor-gone")) return N_("the doctor is no longer connected");
  if (!strcmp(reason, "expired")) return N_("the room link expired");
  if (!strcmp(reason, "left")) return N_("you left the consultation");
  return N_("the consultation ended");
}

static void on_error_message(struct call *c, json_t *m) {
  const char *code = json_string_value(json_object_get(m, "code"));
  if (code && !strcmp(code, "unknown-session")) {
    if (!c->pc && !c->ever_connected) {
      /* A session kept from an earlier run that the server no longer has:
       * start over (a new room; a new knock). */
      call_store_forget(c->store_kind, c->store_key);
      c->session[0] = '\0';
      c->link[0] = '\0';
      say("signaling: the earlier session is gone; starting a new one");
      send_hello(c);
      return;
    }
    if (c->pc) {
      /* The server forgot us (restarted without its rooms): media does not
       * need it. */
      say("signaling: the server no longer knows this call; media continues");
      c->session[0] = '\0';
      return;
    }
    call_end(c, MC_APP_EXIT_OK, N_("the consultation has ended"));
    return;
  }
  if (code && !strcmp(code, "wrong-state") && c->o->doctor) {
    /* A knock answered twice (it left meanwhile): nothing to do. */
    MC_LOGI(LOG, "server refused a message code=wrong-state");
    return;
  }
  /* Our own sentence for the code, in the user's language: the server's
   * "message" is English, and text from the network never reaches the
   * terminal as sent. */
  fprintf(stderr, _("medcall: the server refused: %s\n"), mc_tr(mc_signal_error_sentence(mc_signal_error_from_name(code))));
  call_end(c, MC_APP_EXIT_FAIL, N_("refused by the server"));
}

static void on_sig_message(mc_signal_client *s, const char *text, size_t len, void *user) {
  (void)s;
  struct call *c = user;
  if (c->ending) return;
  json_error_t jerr;
  json_t *m = json_loadb(text, len, 0, &jerr);
  const char *type = json_string_value(json_object_get(m, "type"));
  if (!type) {
    json_decref(m);
    return;
  }
  MC_LOGD(LOG, "signal message type=%s", type);
  if (strcmp(type, "created") == 0) {
    remember_session(c, m);
    c->link_shown = true;
    say("link: %s", c->link);
    struct call_view_state *v = call_view_lock(c->view);
    mc_strcpy(v->link, sizeof v->link, c->link);
    v->phase = CALL_PHASE_WAITING;
    call_view_unlock(c->view);
  } else if (strcmp(type, "waiting") == 0) {
    remember_session(c, m);
    say("waiting: for the doctor to admit you");
    set_phase(c, CALL_PHASE_WAITING);
  } else if (strcmp(type, "knock") == 0) {
    on_knock(c, m);
  } else if (strcmp(type, "admitted") == 0) {
    on_admitted(c, m);
  } else if (strcmp(type, "resumed") == 0) {
    on_resumed(c, m);
  } else if (strcmp(type, "peer-back") == 0) {
    on_peer_back(c, m);
  } else if (strcmp(type, "peer-away") == 0) {
    c->peer_present = false;
    if (c->pc && !c->connected) show_away(c, "the other side's connection dropped");
  } else if (strcmp(type, "offer") == 0) {
    const char *sdp = json_string_value(json_object_get(m, "sdp"));
    if (sdp) on_offer(c, sdp);
  } else if (strcmp(type, "answer") == 0) {
    on_answer(c, json_string_value(json_object_get(m, "sdp")));
  } else if (strcmp(type, "candidate") == 0) {
    const char *cand = json_string_value(json_object_get(m, "candidate"));
    const char *mid = json_string_value(json_object_get(m, "sdpMid"));
    if (c->pc && cand) mc_pc_add_remote_candidate(c->pc, mid, cand);
  } else if (strcmp(type, "declined") == 0) {
    fputs(_("medcall: the doctor declined the call\n"), stderr);
    call_end(c, MC_APP_EXIT_FAIL, N_("the doctor could not let you in now"));
  } else if (strcmp(type, "peer-left") == 0) {
    const char *knock = json_string_value(json_object_get(m, "knock"));
    if (knock) {
      say("left: a knock stopped waiting");
      forget_knock(c, knock);
    } else {
      on_patient_left(c, json_string_value(json_object_get(m, "reason")));
    }
  } else if (strcmp(type, "goaway") == 0) {
    on_goaway(c, m);
  } else if (strcmp(type, "ended") == 0) {
    const char *reason = json_string_value(json_object_get(m, "reason"));
    if (c->o->doctor || (reason && strcmp(reason, "left") != 0)) call_store_forget(c->store_kind, c->store_key);
    call_end(c, c->ever_connected ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL, ended_text(c, reason));
  } else if (strcmp(type, "error") == 0) {
    on_error_message(c, m);
  }
  json_decref(m);
}

static void on_sig_retry(uv_timer_t *t) {
  struct call *c = t->data;
  if (c->ending) return;
  if (c->sig) {
    mc_signal_client_free(c->sig);
    c->sig = NULL;
  }
  open_signaling(c);
}

static void on_sig_close(mc_signal_client *s, int err, const char *sentence, void *user) {
  (void)s;
  struct call *c = user;
  c->sig_open = false;
  if (c->ending) {
    c->sig_closing = false;
    return;
  }
  if (!c->ever_connected && !c->session[0]) {
    fprintf(stderr, "medcall: %s\n", err ? sentence : _("the signaling server closed the connection"));
    call_end(c, MC_APP_EXIT_FAIL, N_("signaling failed"));
    return;
  }
  /* Media does not need the server once connected; the session is kept
   * (docs/signaling.md "Reconnecting"), so reconnect and resume for as long
   * as the call lasts. */
  if (c->sig_retries == 0) {
    say("signaling: reconnecting");
    MC_LOGI(LOG, "signaling lost: %s", err ? sentence : "closed");
  }
  c->sig_retries++;
  uv_timer_start(&c->sig_timer, on_sig_retry, SIGNAL_RETRY_MS * (uint64_t)MC_MIN(c->sig_retries, 5), 0);
}

static void open_signaling(struct call *c) {
  struct mc_signal_client_config sc = {.url = c->o->ws_url, .insecure = c->o->insecure && !c->o->pin_sha256,
                                       .pin_sha256 = c->o->pin_sha256};
  struct mc_signal_client_callbacks scb = {
      .on_open = on_sig_open, .on_message = on_sig_message, .on_close = on_sig_close};
  int rc = mc_signal_client_new(c->loop, &sc, &scb, c, &c->sig);
  if (rc != 0) {
    c->sig = NULL;
    if (!c->ever_connected && !c->session[0]) {
      fprintf(stderr, _("medcall: cannot use the signaling address %s: %s\n"), c->o->ws_url, app_strerror(rc));
      call_end(c, MC_APP_EXIT_FAIL, N_("signaling failed"));
    } else {
      c->sig_retries++;
      uv_timer_start(&c->sig_timer, on_sig_retry, SIGNAL_RETRY_MS * 5, 0);
    }
  }
}

/* ---- what the window asked for ---- */

static void toggle_mic(struct call *c) {
  c->mic_muted = !c->mic_muted;
  if (c->media) call_media_set_mic_muted(c->media, c->mic_muted);
  say("mic: %s", c->mic_muted ? "off" : "on");
  struct call_view_state *s = call_view_lock(c->view);
  s->mic_muted = c->mic_muted;
  call_view_unlock(c->view);
  send_our_state(c);
}

static void toggle_camera(struct call *c) {
  c->camera_off = !c->camera_off;
  if (c->media) call_media_set_camera_off(c->media, c->camera_off);
  say("camera: %s", c->camera_off ? "off" : "on");
  struct call_view_state *s = call_view_lock(c->view);
  s->camera_off = c->camera_off;
  call_view_unlock(c->view);
  send_our_state(c);
}

static void send_chat(struct call *c, const char *text) {
  if (!c->chans || call_channels_send_chat(c->chans, text) != 0) {
    call_view_add_chat(c->view, true, false, _("(not connected: the message was not sent)"));
    return;
  }
  call_view_add_chat(c->view, true, false, text);
}

static void send_file(struct call *c, const char *path) {
  int rc = c->chans ? call_channels_send_file(c->chans, path) : MC_ESTATE;
  char line[512];
  const char *slash = strrchr(path, '/');
  char base[256];
  mc_strcpy(base, sizeof base, slash ? slash + 1 : path);
  if (rc == 0) snprintf(line, sizeof line, _("sending %s"), base);
  else if (rc == MC_ETOOBIG) snprintf(line, sizeof line, _("%s is larger than 64 MiB and was not sent"), base);
  else snprintf(line, sizeof line, _("%s could not be sent: %s"), base, c->chans ? app_strerror(rc) : _("not connected"));
  call_view_add_chat(c->view, true, true, line);
}

static void on_wake(uv_async_t *a) {
  struct call *c = a->data;
  struct call_command cmd;
  while (call_view_next_command(c->view, &cmd)) {
    if (c->ending) continue;
    switch (cmd.kind) {
    case CALL_CMD_ADMIT: answer_knock(c, true); break;
    case CALL_CMD_DECLINE: answer_knock(c, false); break;
    case CALL_CMD_TOGGLE_MIC: toggle_mic(c); break;
    case CALL_CMD_TOGGLE_CAMERA: toggle_camera(c); break;
    case CALL_CMD_HANG_UP: call_end(c, c->ever_connected ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL, N_("you hung up")); break;
    case CALL_CMD_CHAT: send_chat(c, cmd.text); break;
    case CALL_CMD_SEND_FILE: send_file(c, cmd.text); break;
    case CALL_CMD_SAVE_FILE: decide_oldest_file(c, true); break;
    case CALL_CMD_DISCARD_FILE: decide_oldest_file(c, false); break;
    }
  }
}

static void wake_call(void *arg) { uv_async_send(arg); }

/* ---- the quality bars and the statistics overlay, once a second ---- */

int call_quality_bars(double rtt_ms, double loss_pct, bool receiving) {
  if (!receiving) return 0;
  if (rtt_ms < 150 && loss_pct < 1) return 4;
  if (rtt_ms < 300 && loss_pct < 3) return 3;
  if (rtt_ms < 600 && loss_pct < 8) return 2;
  return 1;
}

/* Whether the microphone opened is known once the audio thread has tried
 * (call_audio.c), which may be after the call connected: the window and
 * the peer learn it then. */
static void check_has_audio(struct call *c) {
  if (!c->media) return;
  bool has = call_media_has_audio(c->media);
  struct call_view_state *s = call_view_lock(c->view);
  bool changed = s->has_audio != has;
  s->has_audio = has;
  call_view_unlock(c->view);
  if (changed) send_our_state(c);
}

static void on_stats_timer(uv_timer_t *t) {
  struct call *c = t->data;
  call_channels_tick(c->chans, mc_now_ms());
  check_has_audio(c);
  if (!c->pc || !c->ever_connected) return;
  struct mc_pc_stats st;
  if (mc_pc_get_stats(c->pc, &st) != 0) return;
  uint64_t now = mc_now_ms();
  double secs = c->last_stats_ms ? (double)(now - c->last_stats_ms) / 1000.0 : 0;
  double out_kbps = secs > 0 ? (double)(st.bytes_sent - c->last_bytes_sent) * 8 / 1000 / secs : 0;
  double in_kbps = secs > 0 ? (double)(st.bytes_received - c->last_bytes_received) * 8 / 1000 / secs : 0;
  double rtt_ms = 0, jitter_ms = 0, fps = 0;
  int64_t lost = 0;
  uint64_t packets = 0, frames = 0;
  char codecs[64] = "";
  for (int i = 0; i < mc_pc_track_count(c->pc); i++) {
    struct mc_pc_track_stats ts;
    if (mc_pc_get_track_stats(c->pc, i, &ts) != 0) continue;
    if (ts.round_trip_time_s > 0) rtt_ms = ts.round_trip_time_s * 1000;
    lost += ts.packets_lost;
    packets += ts.packets_received;
    if (ts.jitter_s * 1000 > jitter_ms) jitter_ms = ts.jitter_s * 1000;
    if (ts.kind == MC_PC_VIDEO) frames += ts.frames_received;
    if ((ts.sending || ts.receiving) && !strstr(codecs, ts.codec)) {
      size_t n = strlen(codecs);
      snprintf(codecs + n, sizeof codecs - n, "%s%s", n ? ", " : "", ts.codec);
    }
  }
  int64_t dlost = lost - c->last_lost;
  uint64_t dpackets = packets - c->last_packets;
  double loss_pct = dpackets + (uint64_t)MC_MAX(dlost, 0) > 0
                        ? 100.0 * (double)MC_MAX(dlost, 0) / (double)(dpackets + (uint64_t)MC_MAX(dlost, 0))
                        : 0;
  if (secs > 0) fps = (double)(frames - c->last_frames) / secs;
  bool receiving = secs == 0 || st.bytes_received > c->last_bytes_received;
  c->last_bytes_sent = st.bytes_sent;
  c->last_bytes_received = st.bytes_received;
  c->last_lost = lost;
  c->last_packets = packets;
  c->last_frames = frames;
  c->last_stats_ms = now;
  if (secs > 0 && c->o->stats_json) {
    if (!c->timeline) c->timeline = json_array();
    json_array_append_new(c->timeline,
                          json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "t",
                                    (double)(now - c->connected_at_ms) / 1000.0, "sentKbps", out_kbps,
                                    "receivedKbps", in_kbps, "targetKbps",
                                    (double)st.available_outgoing_bitrate_bps / 1000, "framesPerSecond", fps,
                                    "roundTripMs", rtt_ms, "lossPercent", loss_pct));
  }
  struct call_view_state *s = call_view_lock(c->view);
  s->quality_bars = call_quality_bars(rtt_ms, loss_pct, receiving);
  /* TRANSLATORS: the statistics overlay (S), one figure a line; candidate
     types (host, srflx, relay), addresses, DTLS, codec and cipher names stay
     as they are. */
  snprintf(s->stats_text, sizeof s->stats_text,
           _("pair: %s %s -> %s %s\nsecurity: DTLS %s, %s\ncodecs: %s\nsending: %.0f kbit/s (estimate %.0f)\n"
             "receiving: %.0f kbit/s, %.1f frames/s\nround trip: %.0f ms\nloss: %.1f %%\njitter: %.1f ms"),
           st.local_candidate_type, st.local_address, st.remote_candidate_type, st.remote_address,
           st.dtls_client ? _("client") : _("server"), st.srtp_cipher, codecs[0] ? codecs : "-", out_kbps,
           (double)st.available_outgoing_bitrate_bps / 1000, in_kbps, fps, rtt_ms, loss_pct, jitter_ms);
  call_view_unlock(c->view);
}

/* ---- ending ---- */

/* The figures of the current peer connection and its media. */
static json_t *pc_stats_json(struct call *c) {
  struct mc_pc_stats st;
  mc_pc_get_stats(c->pc, &st);
  json_t *j = json_pack(
      "{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
      "connectionState", mc_pc_state_name(st.state), "iceConnectionState", st.ice_state, "dtlsState",
      st.dtls_state, "srtpCipher", st.srtp_cipher, "dtlsClient", st.dtls_client, "localFingerprint",
      st.local_fingerprint, "remoteFingerprint", st.remote_fingerprint, "selectedCandidatePair",
      "localCandidateType", st.local_candidate_type, "remoteCandidateType", st.remote_candidate_type,
      "localAddress", st.local_address, "remoteAddress", st.remote_address, "protocol", st.protocol, "iceConnectedMs",
      (json_int_t)st.ice_connected_ms, "dtlsConnectedMs", (json_int_t)st.dtls_connected_ms, "bytesSent",
      (json_int_t)st.bytes_sent, "bytesReceived", (json_int_t)st.bytes_received, "messagesSent",
      (json_int_t)st.dc_messages_sent, "messagesReceived", (json_int_t)st.dc_messages_received,
      "dataBytesSent", (json_int_t)st.dc_bytes_sent, "dataBytesReceived", (json_int_t)st.dc_bytes_received,
      "srtpPacketsReceived", (json_int_t)st.srtp_packets_received, "availableOutgoingBitrate",
      (json_int_t)st.available_outgoing_bitrate_bps);
  if (j) call_media_stats_json(c->media, j);
  return j;
}

/* --stats-json: the last peer connection's figures (the current one, or
 * the one dropped last when the peer is gone), and the call's course. */
static void write_stats(struct call *c) {
  if (!c->o->stats_json) return;
  json_t *j = c->pc ? pc_stats_json(c) : json_incref(c->last_pc_stats);
  if (!j) return;
  if (c->timeline) json_object_set(j, "timeline", c->timeline);
  json_object_set_new(j, "interruptions", c->interruptions ? json_incref(c->interruptions) : json_array());
  if (json_dump_file(j, c->o->stats_json, JSON_INDENT(2)) != 0)
    fprintf(stderr, _("medcall: could not write statistics to %s\n"), c->o->stats_json);
  json_decref(j);
}

static void on_end_timer(uv_timer_t *t) {
  struct call *c = t->data;
  /* The end (or leave) must reach the server: it is how the other side
   * learns the consultation is over. */
  if (c->sig_closing && mc_now_ms() < c->end_deadline_ms) {
    uv_timer_start(&c->end_timer, on_end_timer, 50, 0);
    return;
  }
  if (c->sig) {
    mc_signal_client_free(c->sig);
    c->sig = NULL;
  }
  mc_net_watch_stop(c->netwatch);
  c->netwatch = NULL;
  uv_handle_t *handles[] = {(uv_handle_t *)&c->duration_timer, (uv_handle_t *)&c->end_timer,
                            (uv_handle_t *)&c->restart_timer,  (uv_handle_t *)&c->recover_timer,
                            (uv_handle_t *)&c->sig_timer,      (uv_handle_t *)&c->stats_timer,
                            (uv_handle_t *)&c->net_timer,
                            (uv_handle_t *)&c->sigint,         (uv_handle_t *)&c->sigterm,
                            (uv_handle_t *)&c->wake};
  for (size_t i = 0; i < MC_ARRAY_LEN(handles); i++) uv_close(handles[i], NULL);
}

static void call_end(struct call *c, int code, const char *why) {
  if (c->ending) return;
  c->ending = true;
  c->exit_code = code;
  print_received(c);
  say("ended: %s", why);
  write_stats(c);
  if (c->sig_open) {
    sig_send(c, json_pack("{s:s}", "type", c->o->doctor ? "end" : "leave"));
    /* What is queued goes out first, then the close frame. */
    c->sig_closing = true;
    mc_signal_client_close(c->sig);
  }
  c->end_deadline_ms = mc_now_ms() + END_FLUSH_MS;
  /* Ended on purpose: the next start begins anew. A killed process never
   * gets here, and its next start takes the place back. */
  call_store_forget(c->store_kind, c->store_key);
  call_channels_free(c->chans);
  c->chans = NULL;
  forget_offers(c);
  call_media_free(c->media);
  c->media = NULL;
  if (c->pc) {
    mc_pc_free(c->pc);
    c->pc = NULL;
  }
  struct call_view_state *s = call_view_lock(c->view);
  s->phase = CALL_PHASE_ENDED;
  if (code == MC_APP_EXIT_OK) snprintf(s->end_reason, sizeof s->end_reason, _("The call ended: %s"), _(why));
  else mc_strcpy(s->end_reason, sizeof s->end_reason, _(why));
  call_view_unlock(c->view);
  /* Give the leave/end message and DTLS close_notify a moment on the wire. */
  uv_timer_start(&c->end_timer, on_end_timer, 200, 0);
}

static void on_duration_drained(uv_timer_t *t) {
  struct call *c = t->data;
  call_end(c, c->ever_connected ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL, N_("duration reached"));
}

/* At the end of --duration our media stops first and the call ends a
 * second later, so what the peer sent before its own end is still
 * received and counted (two peers given the same duration stop together). */
static void on_duration(uv_timer_t *t) {
  struct call *c = t->data;
  if (!c->media) {
    on_duration_drained(t);
    return;
  }
  call_media_stop_sending(c->media);
  uv_timer_start(&c->duration_timer, on_duration_drained, DRAIN_MS, 0);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  struct call *c = s->data;
  call_end(c, c->ever_connected ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL, N_("interrupted"));
  /* Ctrl-C in the terminal closes the window too. */
  struct call_view_state *v = call_view_lock(c->view);
  v->quit = true;
  call_view_unlock(c->view);
}

/* ---- the network under us changes ---- */

/* An address that ICE could use: not loopback, not link-local. */
static bool usable_addr(const mc_addr *a) { return !mc_addr_is_loopback(a) && !mc_addr_is_link_local(a); }

static int known_addr(const struct call *c, const mc_addr *a) {
  for (size_t i = 0; i < c->naddrs; i++)
    if (mc_addr_ip_equal(&c->addrs[i], a)) return (int)i;
  return -1;
}

/* The offerer's ICE restart for a network change, at once (RFC 8445 9),
 * instead of waiting for consent to fail. */
static void restart_for_network(struct call *c) {
  if (!c->ever_connected || !offer_ice_restart(c, "the network changed"))
    MC_LOGI(LOG, "network changed; no restart now (offerer=%d connected=%d)", c->offerer, c->connected);
}

/* A laptop moved from Wi-Fi to wired, a phone to another network: the
 * selected pair's local address may be gone, or a better path has come.
 * An address gone takes the signaling connection with it, silently (TCP
 * from an address that no longer exists): that is reopened at once, and
 * the offerer restarts ICE when it has resumed; a new address alone is a
 * restart now. The answerer's peer restarts when its checks stop being
 * answered. */
static void on_net_settled(uv_timer_t *t) {
  struct call *c = t->data;
  if (!c->net_changed || c->ending) return;
  c->net_changed = false;
  if (c->net_lost && c->sig && (c->session[0] || c->ever_connected)) {
    c->net_lost = false;
    c->net_restart = true;
    say("signaling: the network changed; reconnecting");
    c->sig_open = false;
    mc_signal_client_free(c->sig);
    c->sig = NULL;
    c->sig_retries = 1;
    uv_timer_start(&c->sig_timer, on_sig_retry, 0, 0);
    return;
  }
  c->net_lost = false;
  restart_for_network(c);
}

static void on_net_change(const struct mc_net_change *ch, void *user) {
  struct call *c = user;
  if (ch->kind != MC_NET_ADDR_ADDED && ch->kind != MC_NET_ADDR_REMOVED) return;
  if (!usable_addr(&ch->addr)) return;
  int i = known_addr(c, &ch->addr);
  if (ch->kind == MC_NET_ADDR_ADDED) {
    if (i >= 0) return; /* the kernel says it again when its lifetimes change */
    if (c->naddrs < MAX_KNOWN_ADDRS) c->addrs[c->naddrs++] = ch->addr;
  } else {
    if (i < 0) return;
    c->addrs[i] = c->addrs[--c->naddrs];
    c->net_lost = true;
  }
  char as[MC_ADDR_STRLEN];
  MC_LOGI(LOG, "network change kind=%s addr=%s", ch->kind == MC_NET_ADDR_ADDED ? "added" : "removed",
          mc_addr_ip_str(&ch->addr, as));
  c->net_changed = true;
  uv_timer_start(&c->net_timer, on_net_settled, NET_SETTLE_MS, 0);
}

static void watch_network(struct call *c) {
  size_t n = 0;
  if (mc_net_local_addresses(c->addrs, MAX_KNOWN_ADDRS, &n) == 0) c->naddrs = n;
  size_t k = 0;
  for (size_t i = 0; i < c->naddrs; i++)
    if (usable_addr(&c->addrs[i])) c->addrs[k++] = c->addrs[i];
  c->naddrs = k;
  int rc = mc_net_watch_start(c->loop, on_net_change, c, &c->netwatch);
  /* Without it a network change is noticed by consent, a few seconds later. */
  if (rc != 0) MC_LOGW(LOG, "interface changes are not watched err=%s", mc_strerror(rc));
}

/* A session an earlier run of this program left (it was killed): the
 * patient's for this room, the doctor's for this server (or for --room).
 * A doctor's --room without one takes the room back with the token. */
static void take_stored_session(struct call *c) {
  c->store_kind = c->o->doctor ? CALL_STORE_DOCTOR : CALL_STORE_PATIENT;
  mc_strcpy(c->store_key, sizeof c->store_key, c->o->doctor ? c->o->ws_url : c->o->room);
  if (!c->o->doctor) mc_strcpy(c->room, sizeof c->room, c->o->room);
  struct call_stored st;
  bool have = call_store_load(c->store_kind, c->store_key, &st) == 0;
  if (have && c->o->doctor && c->o->room && strcmp(st.room, c->o->room) != 0) have = false;
  if (have) {
    mc_strcpy(c->session, sizeof c->session, st.session);
    mc_strcpy(c->room, sizeof c->room, st.room);
    mc_strcpy(c->link, sizeof c->link, st.link);
    say("signaling: taking back the session of an earlier run");
  } else if (c->o->doctor && c->o->room) {
    c->reclaim = true;
  }
  OPENSSL_cleanse(&st, sizeof st);
}

int call_run(const struct call_opts *o, struct call_view *view) {
  struct call *c = calloc(1, sizeof *c);
  if (!c) return MC_APP_EXIT_FAIL;
  c->o = o;
  c->view = view;
  c->send_ch = c->recv_ch = -1;
  c->exit_code = MC_APP_EXIT_FAIL;
  c->loop = uv_default_loop();
  uv_timer_t *timers[] = {&c->duration_timer, &c->end_timer, &c->restart_timer,
                          &c->recover_timer,  &c->sig_timer, &c->stats_timer, &c->net_timer};
  for (size_t i = 0; i < MC_ARRAY_LEN(timers); i++) {
    uv_timer_init(c->loop, timers[i]);
    timers[i]->data = c;
  }
  uv_signal_init(c->loop, &c->sigint);
  uv_signal_init(c->loop, &c->sigterm);
  c->sigint.data = c->sigterm.data = c;
  uv_signal_start(&c->sigint, on_signal, SIGINT);
  uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  uv_async_init(c->loop, &c->wake, on_wake);
  c->wake.data = c;
  call_view_set_waker(view, wake_call, &c->wake);
  uv_timer_start(&c->stats_timer, on_stats_timer, STATS_INTERVAL_MS, STATS_INTERVAL_MS);
  take_stored_session(c);
  watch_network(c);
  open_signaling(c);
  uv_run(c->loop, UV_RUN_DEFAULT);
  call_view_set_waker(view, NULL, NULL);
  int code = c->exit_code;
  clear_ice_servers(c);
  OPENSSL_cleanse(c->session, sizeof c->session);
  if (c->sha) EVP_MD_CTX_free(c->sha);
  if (c->recv_sha) EVP_MD_CTX_free(c->recv_sha);
  json_decref(c->timeline);
  json_decref(c->interruptions);
  json_decref(c->last_pc_stats);
  free(c);
  return code;
}
