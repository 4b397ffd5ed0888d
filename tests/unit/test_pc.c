/* The peer connection end to end, native to native on 127.0.0.1: two mc_pc
 * on one loop, their offer, answer and candidates carried by an in-process
 * queue (as a signaling server would), real ICE, DTLS, SRTP keys, SCTP and
 * data channels. Both offer directions, byte-exact messages, a data
 * channel offered in the older DTLS/SCTP form, a tampered fingerprint
 * refused by both sides, hang-up seen by the peer, lost probe packets that
 * cost no video. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "ice/ice_private.h" /* ICE restart test: the agent's drop-outgoing hook */
#include "medcall/pc.h"
#include "pc/pc_private.h"
#include "util/util.h"

#define STEP_MS 20000 /* liveness bound: a step not done by then is broken */
#define QMAX 512
#define MSGS 200
#define MAX_MSG (256 * 1024)

struct sig_msg {
  int to; /* 0 = A, 1 = B */
  int kind; /* 0 offer, 1 answer, 2 candidate */
  char *text;
  char mid[33];
};

struct peer {
  const char *name;
  mc_pc *pc;
  enum mc_pc_state state;
  bool saw_failed, saw_closed, saw_connected, saw_disconnected, saw_connecting_after_failed;
  uint64_t disconnected_ms; /* mc_now_ms() of the latest disconnected */
  int remote_channels;
  mc_pc_dc last_remote_ch;
  bool open[16];
  bool echo;
  /* what came back, for the sender */
  size_t received;
  size_t received_bytes;
  bool mismatch;
};

static uv_loop_t *loop;
static struct peer peers[2];
static struct sig_msg queue[QMAX];
static size_t qhead, qtail;
static bool tamper_offer;
static bool legacy_offer; /* offer_from rewrites the offer into the DTLS/SCTP form */
static char *last_answer; /* the text of the last answer deliver() created */
static uint8_t *sent_msgs[MSGS];
static size_t sent_len[MSGS];
static bool sent_binary[MSGS];

static void push(int to, int kind, const char *text, const char *mid) {
  if (qtail - qhead >= QMAX) return;
  struct sig_msg *m = &queue[qtail++ % QMAX];
  m->to = to;
  m->kind = kind;
  m->text = strdup(text ? text : "");
  mc_strcpy(m->mid, sizeof m->mid, mid ? mid : "");
}

static int idx(mc_pc *pc) { return peers[0].pc == pc ? 0 : 1; }

static void on_candidate(mc_pc *pc, const char *mid, const char *line, void *user) {
  (void)user;
  push(1 - idx(pc), 2, line, mid);
}

static void on_state(mc_pc *pc, enum mc_pc_state s, void *user) {
  struct peer *p = user;
  (void)pc;
  p->state = s;
  if (s == MC_PC_STATE_FAILED) p->saw_failed = true;
  if (s == MC_PC_STATE_DISCONNECTED) {
    p->saw_disconnected = true;
    p->disconnected_ms = mc_now_ms();
  }
  if (s == MC_PC_STATE_CONNECTING && p->saw_failed) p->saw_connecting_after_failed = true;
  if (s == MC_PC_STATE_CLOSED) p->saw_closed = true;
  if (s == MC_PC_STATE_CONNECTED) p->saw_connected = true;
}

static void on_data_channel(mc_pc *pc, mc_pc_dc ch, const char *label, const char *protocol, void *user) {
  (void)pc;
  (void)protocol;
  struct peer *p = user;
  p->remote_channels++;
  p->last_remote_ch = ch;
  CHECK_STR(label, "chat");
}

static void on_open(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct peer *p = user;
  if (ch >= 0 && ch < 16) p->open[ch] = true;
}

static void on_message(mc_pc *pc, mc_pc_dc ch, const uint8_t *data, size_t len, bool binary, void *user) {
  struct peer *p = user;
  if (p->echo) {
    CHECK_EQ_INT(mc_pc_dc_send(pc, ch, data, len, binary), 0);
    return;
  }
  size_t i = p->received;
  if (i >= MSGS || len != sent_len[i] || binary != sent_binary[i] || memcmp(data, sent_msgs[i], len) != 0)
    p->mismatch = true;
  p->received++;
  p->received_bytes += len;
}

/* ---- media ---- */
#define VFRAMES 40
#define AFRAMES 50
static uint8_t *vframes[VFRAMES];
static size_t vlen[VFRAMES];
static int vgot, vbad, agot, abad, tracks_seen, kreqs;
static bool restart_frames; /* test_ice_restart's frames: 300 bytes of 0x5a after the header */

static void on_track(mc_pc *pc, mc_pc_track t, enum mc_pc_kind kind, void *user) {
  (void)pc;
  (void)t;
  (void)kind;
  (void)user;
  tracks_seen++;
}

static void on_frame(mc_pc *pc, mc_pc_track t, const uint8_t *data, size_t len, uint32_t ts, bool key, void *user) {
  (void)pc;
  (void)t;
  (void)user;
  if (restart_frames) {
    if (len != 300 || data[1] != 0x5a) vbad++;
    vgot++;
    return;
  }
  if (len > 100) { /* video: frame i carries its index in the timestamp */
    uint32_t i = ts / 3000;
    if (i >= VFRAMES || len != vlen[i] || memcmp(data, vframes[i], len) != 0 || key != (i % 10 == 0)) vbad++;
    vgot++;
  } else {
    uint32_t i = ts / 960;
    if (len != 40 || data[0] != (uint8_t)i) abad++;
    agot++;
  }
}

static void on_keyframe_request(mc_pc *pc, mc_pc_track t, void *user) {
  (void)pc;
  (void)t;
  (void)user;
  kreqs++;
}

static struct mc_pc_callbacks cbs = {
    .on_ice_candidate = on_candidate,
    .on_connection_state = on_state,
    .on_data_channel = on_data_channel,
    .on_dc_open = on_open,
    .on_dc_message = on_message,
    .on_track = on_track,
    .on_frame = on_frame,
    .on_keyframe_request = on_keyframe_request,
};

static void deliver(struct sig_msg *m) {
  struct peer *p = &peers[m->to];
  if (!p->pc) return;
  if (m->kind == 0) {
    if (mc_pc_set_remote_description(p->pc, MC_PC_OFFER, m->text) != 0) {
      fprintf(stderr, "%s: offer refused: %s\n", p->name, mc_pc_last_error(p->pc));
      return;
    }
    char *answer = NULL;
    CHECK_EQ_INT(mc_pc_create_answer(p->pc, &answer), 0);
    if (!answer) return;
    CHECK_EQ_INT(mc_pc_set_local_description(p->pc, MC_PC_ANSWER, answer), 0);
    free(last_answer);
    last_answer = strdup(answer);
    push(1 - m->to, 1, answer, NULL);
    mc_free(answer);
  } else if (m->kind == 1) {
    int rc = mc_pc_set_remote_description(p->pc, MC_PC_ANSWER, m->text);
    if (rc != 0) fprintf(stderr, "%s: answer refused: %s\n", p->name, mc_pc_last_error(p->pc));
    CHECK_EQ_INT(rc, 0);
  } else {
    mc_pc_add_remote_candidate(p->pc, m->mid, m->text);
  }
}

static void pump(uv_timer_t *t) {
  (void)t;
  while (qhead < qtail) {
    struct sig_msg *m = &queue[qhead++ % QMAX];
    deliver(m);
    free(m->text);
  }
}

static uv_timer_t pump_timer;

static bool run_until(bool (*cond)(void), uint32_t ms) {
  uint64_t deadline = mc_now_ms() + ms;
  while (!cond() && mc_now_ms() < deadline) uv_run(loop, UV_RUN_ONCE);
  return cond();
}

static bool both_connected(void) {
  return peers[0].state == MC_PC_STATE_CONNECTED && peers[1].state == MC_PC_STATE_CONNECTED;
}
static bool both_failed(void) { return peers[0].saw_failed && peers[1].saw_failed; }
static bool remote_open(void) { return peers[1].remote_channels > 0 && peers[0].open[0]; }
static bool all_back(void) { return peers[0].received >= MSGS || peers[0].mismatch; }
static bool b_closed(void) { return peers[1].saw_closed || peers[1].saw_failed; }

static void peers_new(void) {
  memset(peers, 0, sizeof peers);
  peers[0].name = "A";
  peers[1].name = "B";
  struct mc_pc_config cfg = {.loop = loop, .loopback_only = true};
  CHECK_EQ_INT(mc_pc_new(&cfg, &cbs, &peers[0], &peers[0].pc), 0);
  CHECK_EQ_INT(mc_pc_new(&cfg, &cbs, &peers[1], &peers[1].pc), 0);
}

static void peers_free(void) {
  for (int i = 0; i < 2; i++) {
    mc_pc_free(peers[i].pc);
    peers[i].pc = NULL;
  }
  /* let handles close and TURN/ICE linger end */
  for (int i = 0; i < 20; i++) uv_run(loop, UV_RUN_NOWAIT);
}

static char *tamper(const char *sdp) {
  char *s = strdup(sdp);
  char *fp = strstr(s, "a=fingerprint:sha-256 ");
  if (fp) {
    char *hex = fp + strlen("a=fingerprint:sha-256 ");
    hex[0] = hex[0] == 'A' ? 'B' : 'A';
  }
  return s;
}

/* s with the first from replaced by to (a new string). */
static char *replaced(const char *s, const char *from, const char *to) {
  const char *at = strstr(s, from);
  CHECK(at != NULL);
  if (!at) return strdup(s);
  size_t head = (size_t)(at - s), fl = strlen(from), tl = strlen(to);
  char *out = malloc(strlen(s) - fl + tl + 1);
  memcpy(out, s, head);
  memcpy(out + head, to, tl);
  strcpy(out + head + tl, at + fl);
  return out;
}

/* The data m-line as older stacks offer it (draft-ietf-mmusic-sctp-sdp-05):
 * proto DTLS/SCTP, the SCTP port 5001 as the format, a=sctpmap, no
 * a=sctp-port or a=max-message-size. */
static char *to_legacy_form(const char *sdp) {
  char *a = replaced(sdp, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n", "m=application 9 DTLS/SCTP 5001\r\n");
  char *b = replaced(a, "a=sctp-port:5000\r\n", "a=sctpmap:5001 webrtc-datachannel 65535\r\n");
  char *c = replaced(b, "a=max-message-size:262144\r\n", "");
  free(a);
  free(b);
  return c;
}

static void offer_from(int from) {
  char *offer = NULL;
  CHECK_EQ_INT(mc_pc_create_offer(peers[from].pc, &offer), 0);
  if (!offer) return;
  CHECK(strstr(offer, "a=setup:actpass") != NULL);
  CHECK(strstr(offer, "a=fingerprint:sha-256 ") != NULL);
  if (legacy_offer) {
    /* applied locally too, as the older stack would: its SCTP listens on 5001 */
    char *l = to_legacy_form(offer);
    mc_free(offer);
    offer = l;
  }
  CHECK_EQ_INT(mc_pc_set_local_description(peers[from].pc, MC_PC_OFFER, offer), 0);
  if (tamper_offer) {
    char *t = tamper(offer);
    push(1 - from, 0, t, NULL);
    free(t);
  } else {
    push(1 - from, 0, offer, NULL);
  }
  if (legacy_offer) free(offer);
  else mc_free(offer);
}

static void test_call_and_echo(void) {
  fprintf(stderr, "-- A offers, in-band channel, echo of %d messages\n", MSGS);
  peers_new();
  peers[1].echo = true;
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "chat";
  mc_pc_dc ch = -1;
  CHECK_EQ_INT(mc_pc_create_data_channel(peers[0].pc, &dc, &ch), 0);
  CHECK_EQ_INT(ch, 0);
  offer_from(0);
  CHECK(run_until(both_connected, STEP_MS));
  CHECK(run_until(remote_open, STEP_MS));
  struct mc_pc_stats sa, sb;
  CHECK_EQ_INT(mc_pc_get_stats(peers[0].pc, &sa), 0);
  CHECK_EQ_INT(mc_pc_get_stats(peers[1].pc, &sb), 0);
  CHECK(sa.has_selected_pair && sb.has_selected_pair);
  CHECK_STR(sa.local_candidate_type, "host");
  CHECK(sa.dtls_client != sb.dtls_client);
  CHECK_STR(sa.remote_fingerprint, sb.local_fingerprint);
  CHECK_STR(sb.remote_fingerprint, sa.local_fingerprint);
  CHECK_STR(sa.srtp_cipher, "SRTP_AEAD_AES_128_GCM");
  CHECK_STR(sa.srtp_cipher, sb.srtp_cipher);
  CHECK_STR(sa.dtls_state, "connected");
  /* A's channel: even stream id when A is the DTLS client (RFC 8832 6). */
  int sid = mc_pc_dc_id(peers[0].pc, ch);
  CHECK(sid >= 0 && (sid % 2) == (sa.dtls_client ? 0 : 1));

  srand(7);
  for (int i = 0; i < MSGS; i++) {
    size_t len = (i == 0) ? MAX_MSG : (size_t)(rand() % MAX_MSG);
    if (i == 1) len = 0;
    sent_len[i] = len;
    sent_binary[i] = (i % 3) != 0;
    sent_msgs[i] = malloc(len ? len : 1);
    for (size_t k = 0; k < len; k++) sent_msgs[i][k] = sent_binary[i] ? (uint8_t)rand() : (uint8_t)('a' + rand() % 26);
    CHECK_EQ_INT(mc_pc_dc_send(peers[0].pc, ch, sent_msgs[i], len, sent_binary[i]), 0);
  }
  CHECK(mc_pc_dc_buffered_amount(peers[0].pc, ch) > 0);
  CHECK(run_until(all_back, 60000));
  CHECK_EQ_INT(peers[0].received, MSGS);
  CHECK(!peers[0].mismatch);
  /* Above the peer's max-message-size: refused, not truncated. */
  uint64_t max = mc_pc_dc_max_message_size(peers[0].pc);
  CHECK(max > 0);
  uint8_t *big = calloc(1, (size_t)max + 1);
  CHECK_EQ_INT(mc_pc_dc_send(peers[0].pc, ch, big, (size_t)max + 1, true), MC_ETOOBIG);
  free(big);
  for (int i = 0; i < MSGS; i++) free(sent_msgs[i]);

  /* Hang-up: close_notify reaches B. */
  mc_pc_close(peers[0].pc);
  CHECK(run_until(b_closed, STEP_MS));
  CHECK(peers[1].saw_closed);
  CHECK_EQ_INT(mc_pc_state(peers[0].pc), MC_PC_STATE_CLOSED);
  peers_free();
}

static bool b_open_neg(void) { return peers[0].open[0] && peers[1].open[0]; }
static bool b_got_one(void) { return peers[1].received > 0 || peers[1].mismatch; }
static bool b_got_echo(void) { return peers[0].received > 0 || peers[0].mismatch; }

/* A sends one text message on ch; peer `at` (B, or A itself when B echoes)
 * must receive exactly it. */
static void send_one(mc_pc_dc ch, int at, const char *text, bool (*done)(void)) {
  sent_msgs[0] = (uint8_t *)text;
  sent_len[0] = strlen(text) + 1;
  sent_binary[0] = false;
  CHECK_EQ_INT(mc_pc_dc_send(peers[0].pc, ch, text, sent_len[0], false), 0);
  CHECK(run_until(done, STEP_MS));
  CHECK_EQ_INT(peers[at].received, 1);
  CHECK(!peers[at].mismatch);
}

static void test_reverse_negotiated(void) {
  fprintf(stderr, "-- B offers, pre-negotiated channel id 3\n");
  peers_new();
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "neg";
  dc.negotiated = true;
  dc.id = 3;
  mc_pc_dc cha = -1, chb = -1;
  CHECK_EQ_INT(mc_pc_create_data_channel(peers[0].pc, &dc, &cha), 0);
  CHECK_EQ_INT(mc_pc_create_data_channel(peers[1].pc, &dc, &chb), 0);
  offer_from(1);
  CHECK(run_until(both_connected, STEP_MS));
  CHECK(run_until(b_open_neg, STEP_MS));
  CHECK_EQ_INT(mc_pc_dc_id(peers[0].pc, cha), 3);
  CHECK_EQ_INT(peers[0].remote_channels + peers[1].remote_channels, 0);
  send_one(cha, 1, "hello over a negotiated channel", b_got_one);
  peers_free();
}

/* Issue 16: RFC 8445 12.1 lets data flow on a valid pair before the
 * controlling agent nominates one. A (offerer, controlling) holds its
 * nomination back, as a peer still checking better pairs does: the DTLS
 * handshake, the data channel and a message must all get through on the
 * succeeded but unselected pair; once A nominates, the pair is selected and
 * the connection is connected. Before the fix DTLS waited for selection. */
static uint64_t hello_ms, dtls_done_ms;
static bool dtls_connected(int i) {
  return peers[i].pc->dtls && mc_dtls_state(peers[i].pc->dtls) == MC_DTLS_STATE_CONNECTED;
}
static bool dtls_up_unselected(void) {
  /* B is the DTLS client: its first ClientHello leaves as its DTLS starts. */
  if (!hello_ms && peers[1].pc->dtls) hello_ms = mc_now_ms();
  if (!dtls_done_ms && dtls_connected(0) && dtls_connected(1)) dtls_done_ms = mc_now_ms();
  return dtls_done_ms && remote_open();
}
static bool selected_both(void) { return peers[0].pc->ice->sel.set && peers[1].pc->ice->sel.set; }

static void test_data_before_nomination(void) {
  fprintf(stderr, "-- A holds its nomination: DTLS, channel and a message on a valid, unselected pair\n");
  peers_new();
  peers[1].echo = false;
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "chat";
  mc_pc_dc ch = -1;
  CHECK_EQ_INT(mc_pc_create_data_channel(peers[0].pc, &dc, &ch), 0);
  uint64_t t0 = mc_now_ms();
  offer_from(0);
  CHECK(peers[0].pc->ice != NULL);
  if (!peers[0].pc->ice) return;
  peers[0].pc->ice->test_hold_nomination = true;
  hello_ms = dtls_done_ms = 0;
  bool up = run_until(dtls_up_unselected, 5000);
  CHECK(up);
  CHECK(!peers[0].pc->ice->sel.set && !peers[1].pc->ice->sel.set);
  if (up) {
    fprintf(stderr, "offer to handshake done %llu ms, first ClientHello to handshake done %llu ms (nothing selected)\n",
            (unsigned long long)(dtls_done_ms - t0), (unsigned long long)(dtls_done_ms - hello_ms));
    send_one(ch, 1, "before nomination", b_got_one);
  }
  /* Nothing selected: the connection is not called connected yet. */
  CHECK(peers[0].state != MC_PC_STATE_CONNECTED);
  peers[0].pc->ice->test_hold_nomination = false;
  ice_schedule(peers[0].pc->ice);
  CHECK(run_until(selected_both, STEP_MS));
  CHECK(run_until(both_connected, STEP_MS));
  if (!up) {
    CHECK(run_until(dtls_up_unselected, STEP_MS));
    fprintf(stderr, "offer to handshake done %llu ms (after the nomination was released)\n",
            (unsigned long long)(dtls_done_ms - t0));
  }
  peers_free();
}

/* Issue 16: a peer offers its data channel in the older DTLS/SCTP form on
 * SCTP port 5001. B answers in that form on 5000, each SCTP association
 * connects to the port the other side's description named (an INIT to any
 * other port finds no endpoint), the channel opens and carries a message
 * there and back. */
static void test_legacy_offer(void) {
  fprintf(stderr, "-- A offers its data channel as DTLS/SCTP 5001 with a=sctpmap\n");
  peers_new();
  peers[1].echo = true;
  legacy_offer = true;
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "chat";
  mc_pc_dc ch = -1;
  CHECK_EQ_INT(mc_pc_create_data_channel(peers[0].pc, &dc, &ch), 0);
  offer_from(0);
  legacy_offer = false;
  CHECK(run_until(both_connected, STEP_MS));
  CHECK(last_answer != NULL);
  if (last_answer) {
    CHECK(strstr(last_answer, "m=application 9 DTLS/SCTP 5000\r\n") != NULL);
    CHECK(strstr(last_answer, "a=sctpmap:5000 webrtc-datachannel 65535\r\n") != NULL);
    CHECK(!strstr(last_answer, "a=sctp-port"));
  }
  CHECK(run_until(remote_open, STEP_MS));
  send_one(ch, 0, "hello over the older data channel form", b_got_echo); /* B echoes */
  /* RFC 8841 6.1: no a=max-message-size from B's older form means 64 KiB */
  CHECK_EQ_INT(mc_pc_dc_max_message_size(peers[0].pc), 65536);
  peers_free();
}

static void test_tampered_fingerprint(void) {
  fprintf(stderr, "-- tampered fingerprint: both sides refuse\n");
  peers_new();
  tamper_offer = true;
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "chat";
  mc_pc_dc ch;
  mc_pc_create_data_channel(peers[0].pc, &dc, &ch);
  offer_from(0);
  CHECK(run_until(both_failed, STEP_MS));
  CHECK(!peers[0].saw_connected && !peers[1].saw_connected);
  CHECK_EQ_INT(peers[1].remote_channels, 0);
  /* B checked A's certificate against the tampered fingerprint. */
  CHECK(strstr(mc_pc_last_error(peers[1].pc), "fingerprint") != NULL);
  fprintf(stderr, "B says: %s\nA says: %s\n", mc_pc_last_error(peers[1].pc), mc_pc_last_error(peers[0].pc));
  tamper_offer = false;
  peers_free();
}

static void test_malformed(void) {
  fprintf(stderr, "-- malformed remote SDP\n");
  peers_new();
  const char *bad = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio nonsense\r\n";
  CHECK_EQ_INT(mc_pc_set_remote_description(peers[0].pc, MC_PC_OFFER, bad), MC_EPARSE);
  CHECK(strstr(mc_pc_last_error(peers[0].pc), "line 5") != NULL);
  fprintf(stderr, "says: %s\n", mc_pc_last_error(peers[0].pc));
  CHECK_EQ_INT(mc_pc_set_remote_description(peers[1].pc, MC_PC_ANSWER, "v=0\r\n"), MC_EPARSE);
  char *answer = NULL;
  CHECK(mc_pc_create_answer(peers[1].pc, &answer) != 0);
  CHECK(answer == NULL);
  peers_free();
}

static bool media_done(void) { return vgot >= VFRAMES && agot >= AFRAMES; }

static void test_media(void) {
  fprintf(stderr, "-- A sends video and audio frames, B receives them whole\n");
  peers_new();
  mc_pc_track vt = -1, at = -1;
  CHECK_EQ_INT(mc_pc_add_transceiver(peers[0].pc, MC_PC_VIDEO, true, &vt), 0);
  CHECK_EQ_INT(mc_pc_add_transceiver(peers[0].pc, MC_PC_AUDIO, true, &at), 0);
  CHECK_EQ_INT(vt, 0);
  CHECK_EQ_INT(at, 1);
  offer_from(0);
  CHECK(run_until(both_connected, STEP_MS));
  CHECK_EQ_INT(tracks_seen, 2); /* B receives video and audio */
  srand(11);
  for (int i = 0; i < VFRAMES; i++) {
    vlen[i] = 200 + (size_t)(rand() % 30000); /* up to ~28 packets */
    vframes[i] = malloc(vlen[i]);
    for (size_t k = 0; k < vlen[i]; k++) vframes[i][k] = (uint8_t)rand();
    /* VP8 payload header (RFC 6386 9.1): bit 0 of the first byte is 0 on a key frame. */
    vframes[i][0] = (uint8_t)((vframes[i][0] & ~1) | (i % 10 == 0 ? 0 : 1));
  }
  for (int i = 0; i < VFRAMES; i++) {
    CHECK_EQ_INT(mc_pc_send_frame(peers[0].pc, vt, vframes[i], vlen[i], (uint32_t)i * 3000, i % 10 == 0), 0);
    uint8_t audio[40];
    memset(audio, 0, sizeof audio);
    for (int k = 0; k < 2 && i * 2 + k < AFRAMES + 10; k++) {
      audio[0] = (uint8_t)(i * 2 + k);
      if (i * 2 + k < AFRAMES) CHECK_EQ_INT(mc_pc_send_frame(peers[0].pc, at, audio, sizeof audio, (uint32_t)(i * 2 + k) * 960, false), 0);
    }
    uv_run(loop, UV_RUN_NOWAIT);
  }
  CHECK(run_until(media_done, STEP_MS));
  CHECK_EQ_INT(vgot, VFRAMES);
  CHECK_EQ_INT(vbad, 0);
  CHECK_EQ_INT(agot, AFRAMES);
  CHECK_EQ_INT(abad, 0);
  /* B (receive only) refuses to send on a track it does not send. */
  uint8_t x[10] = {0};
  CHECK(mc_pc_send_frame(peers[1].pc, 0, x, sizeof x, 0, false) != 0);
  struct mc_pc_track_stats ts;
  CHECK_EQ_INT(mc_pc_get_track_stats(peers[1].pc, 0, &ts), 0);
  CHECK(ts.receiving && !ts.sending);
  CHECK_EQ_INT(ts.frames_received, VFRAMES);
  CHECK_EQ_INT(ts.packets_lost, 0);
  CHECK_STR(ts.codec, "VP8");
  CHECK_EQ_INT(mc_pc_get_track_stats(peers[0].pc, 0, &ts), 0);
  CHECK(ts.sending && ts.frames_sent == VFRAMES && ts.packets_sent > VFRAMES);
  for (int i = 0; i < VFRAMES; i++) free(vframes[i]);
  peers_free();
}

/* ---- padding and probes lost on the way ---- */

/* Drops A's first padding-only RTP packets (the P bit is in SRTP's clear
 * header; media and retransmissions never set it; RTCP is types 200-206). */
#define PAD_DROPS 4
static int pad_dropped;
static bool drop_padding(const uint8_t *d, size_t len) {
  if (len < 12 || (d[0] & 0xc0) != 0x80 || (d[1] >= 200 && d[1] <= 206)) return false;
  if (!(d[0] & 0x20) || pad_dropped >= PAD_DROPS) return false;
  pad_dropped++;
  return true;
}

static uv_timer_t flow_timer;
static mc_pc_track flow_track;
static uint32_t vts;
static int flow_sent;
static void on_flow(uv_timer_t *t);
static int vwant;
static bool frames_in(void) { return vgot >= vwant; }

static void test_lost_padding(void) {
  fprintf(stderr, "-- A's first probe packets are lost: no video frame is\n");
  peers_new();
  vgot = vbad = kreqs = 0;
  restart_frames = true;
  mc_pc_track vt = -1;
  CHECK_EQ_INT(mc_pc_add_transceiver(peers[0].pc, MC_PC_VIDEO, true, &vt), 0);
  offer_from(0);
  CHECK(run_until(both_connected, STEP_MS));
  pad_dropped = 0;
  peers[0].pc->ice->test_drop_fn = drop_padding;
  /* a key frame, then a frame every 33 ms for 2 s: the probes at the
   * start (3 x then 6 x the start rate) go out meanwhile */
  uint8_t f[300];
  memset(f, 0x5a, sizeof f);
  f[0] = 0;
  CHECK_EQ_INT(mc_pc_send_frame(peers[0].pc, vt, f, sizeof f, vts += 3000, true), 0);
  flow_sent = 1;
  flow_track = vt;
  uv_timer_init(loop, &flow_timer);
  uv_timer_start(&flow_timer, on_flow, 33, 33);
  uint64_t until = mc_now_ms() + 2000;
  while (mc_now_ms() < until) uv_run(loop, UV_RUN_ONCE);
  uv_timer_stop(&flow_timer);
  uv_close((uv_handle_t *)&flow_timer, NULL);
  vwant = flow_sent;
  CHECK(run_until(frames_in, 3000));
  fprintf(stderr, "figure: padding packets dropped=%d, frames sent=%d received=%d key frame requests=%d\n",
          pad_dropped, flow_sent, vgot, kreqs);
  CHECK_EQ_INT(pad_dropped, PAD_DROPS); /* A did probe, and lost some */
  CHECK_EQ_INT(vgot, flow_sent);
  CHECK_EQ_INT(vbad, 0);
  CHECK_EQ_INT(kreqs, 0);
  struct mc_pc_track_stats ts;
  CHECK_EQ_INT(mc_pc_get_track_stats(peers[1].pc, 0, &ts), 0);
  CHECK_EQ_INT(ts.frames_dropped, 0);
  CHECK_EQ_INT(ts.packets_lost, 0); /* padding is not the video's */
  peers[0].pc->ice->test_drop_fn = NULL;
  restart_frames = false;
  peers_free();
}

/* ---- ICE restart (RFC 8445 9) over a live call: DTLS, SRTP and SCTP stay ---- */

static int rphase_to;
static uint64_t sel_before[2];

static bool echoes_back(void) { return peers[0].received >= (size_t)rphase_to || peers[0].mismatch; }
static bool both_disconnected(void) {
  return peers[0].state == MC_PC_STATE_DISCONNECTED && peers[1].state == MC_PC_STATE_DISCONNECTED;
}
static bool both_failed_now(void) {
  return peers[0].state == MC_PC_STATE_FAILED && peers[1].state == MC_PC_STATE_FAILED;
}
static uint64_t selected_ms(int i) {
  struct mc_ice_stats st;
  mc_ice_agent_get_stats(peers[i].pc->ice, &st);
  return st.selected_ms;
}
/* Both sides selected a pair after the restart and consider it connected. */
static bool reselected(void) {
  return both_connected() && selected_ms(0) > sel_before[0] && selected_ms(1) > sel_before[1] &&
         !peers[0].pc->ice->restarting && !peers[1].pc->ice->restarting;
}

static void send_msgs(mc_pc_dc ch, int from, int to) {
  for (int i = from; i < to; i++) {
    sent_len[i] = 100 + (size_t)i;
    sent_binary[i] = true;
    sent_msgs[i] = malloc(sent_len[i]);
    memset(sent_msgs[i], (uint8_t)i, sent_len[i]);
    CHECK_EQ_INT(mc_pc_dc_send(peers[0].pc, ch, sent_msgs[i], sent_len[i], true), 0);
  }
  rphase_to = to;
}

/* Video frames of one 300-byte packet; B counts them in on_frame. */
static void send_frames(mc_pc_track vt, int n) {
  uint32_t *ts = &vts;
  uint8_t f[300];
  vwant = vgot + n;
  memset(f, 0x5a, sizeof f);
  for (int i = 0; i < n; i++) {
    f[0] = i == 0 ? 0 : 1; /* VP8: bit 0 clear on a key frame */
    CHECK_EQ_INT(mc_pc_send_frame(peers[0].pc, vt, f, sizeof f, *ts += 3000, i == 0), 0);
    uv_run(loop, UV_RUN_NOWAIT);
  }
}

/* A camera's steady flow (during the outage): a frame every 33 ms. */
static void on_flow(uv_timer_t *t) {
  (void)t;
  uint8_t f[300];
  memset(f, 0x5a, sizeof f);
  f[0] = 1;
  if (mc_pc_send_frame(peers[0].pc, flow_track, f, sizeof f, vts += 3000, false) == 0) flow_sent++;
}

static void cut(bool on) {
  peers[0].pc->ice->test_drop_out = on;
  peers[1].pc->ice->test_drop_out = on;
}

static char ufrag_before[2][MC_ICE_UFRAG_MAX + 1];

/* B answered the restart offer with new credentials and A took them. */
static bool new_credentials_both(void) {
  char u[MC_ICE_UFRAG_MAX + 1];
  mc_ice_agent_get_local_credentials(peers[1].pc->ice, u, NULL);
  return strcmp(u, ufrag_before[1]) != 0 && strcmp(peers[0].pc->ice->rufrag, u) == 0;
}

/* JSEP 5.2.1 / RFC 8445 9: A restarts ICE and sends a fresh offer. */
static void restart_from_a(void) {
  for (int i = 0; i < 2; i++) {
    mc_ice_agent_get_local_credentials(peers[i].pc->ice, ufrag_before[i], NULL);
    sel_before[i] = selected_ms(i);
  }
  CHECK_EQ_INT(mc_pc_restart_ice(peers[0].pc), 0);
  char u[MC_ICE_UFRAG_MAX + 1];
  mc_ice_agent_get_local_credentials(peers[0].pc->ice, u, NULL);
  CHECK(strcmp(u, ufrag_before[0]) != 0);
  offer_from(0);
  CHECK(run_until(new_credentials_both, STEP_MS));
}

static void check_same_security(mc_dtls *d0, mc_dtls *d1, mc_srtp *s0, mc_srtp *s1) {
  /* The same DTLS association and SRTP sessions carry on over the new pair. */
  CHECK(peers[0].pc->dtls == d0 && peers[1].pc->dtls == d1);
  CHECK(peers[0].pc->srtp == s0 && peers[1].pc->srtp == s1);
  CHECK_EQ_INT(mc_dtls_state(d0), MC_DTLS_STATE_CONNECTED);
  CHECK_EQ_INT(mc_dtls_state(d1), MC_DTLS_STATE_CONNECTED);
}

static void test_ice_restart(void) {
  fprintf(stderr, "-- ICE restart: live, while the path is cut (disconnected), after consent is lost (failed)\n");
  peers_new();
  vgot = vbad = 0;
  restart_frames = true;
  peers[1].echo = true;
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "chat";
  mc_pc_dc ch = -1;
  CHECK_EQ_INT(mc_pc_create_data_channel(peers[0].pc, &dc, &ch), 0);
  mc_pc_track vt = -1;
  CHECK_EQ_INT(mc_pc_add_transceiver(peers[0].pc, MC_PC_VIDEO, true, &vt), 0);
  offer_from(0);
  CHECK(run_until(both_connected, STEP_MS));
  CHECK(run_until(remote_open, STEP_MS));
  send_msgs(ch, 0, 10);
  CHECK(run_until(echoes_back, STEP_MS));
  mc_dtls *d0 = peers[0].pc->dtls, *d1 = peers[1].pc->dtls;
  mc_srtp *s0 = peers[0].pc->srtp, *s1 = peers[1].pc->srtp;
  CHECK(d0 && d1 && s0 && s1);

  /* 1. Restart on a working path: data sent meanwhile goes over the old pair. */
  restart_from_a();
  send_msgs(ch, 10, 20);
  CHECK(run_until(reselected, STEP_MS));
  CHECK(run_until(echoes_back, STEP_MS));
  CHECK_EQ_INT(peers[0].received, 20);
  CHECK(!peers[0].mismatch);
  CHECK(!peers[0].saw_failed && !peers[1].saw_failed);
  check_same_security(d0, d1, s0, s1);
  send_frames(vt, 10);
  CHECK(run_until(frames_in, STEP_MS));

  /* 2. The path breaks: both notice (disconnected), A restarts while it is
   * still broken, the path comes back, a new pair carries the call. */
  flow_track = vt;
  uv_timer_init(loop, &flow_timer);
  uv_timer_start(&flow_timer, on_flow, 33, 33);
  uint64_t t_cut = mc_now_ms();
  cut(true);
  CHECK(run_until(both_disconnected, STEP_MS));
  uint64_t t_disc = MC_MAX(peers[0].disconnected_ms, peers[1].disconnected_ms);
  fprintf(stderr, "figure: cut -> disconnected (both) ms=%llu (A %llu, B %llu)\n",
          (unsigned long long)(t_disc - t_cut), (unsigned long long)(peers[0].disconnected_ms - t_cut),
          (unsigned long long)(peers[1].disconnected_ms - t_cut));
  send_msgs(ch, 20, 30);
  restart_from_a();
  /* The new checks go into the void for a while. */
  uint64_t until = mc_now_ms() + 1500;
  while (mc_now_ms() < until) uv_run(loop, UV_RUN_ONCE);
  CHECK(peers[0].state == MC_PC_STATE_DISCONNECTED);
  uint64_t t_restore = mc_now_ms();
  cut(false);
  CHECK(run_until(reselected, STEP_MS));
  fprintf(stderr, "figure: restore -> connected (both, new pair) ms=%llu\n",
          (unsigned long long)(mc_now_ms() - t_restore));
  CHECK(run_until(echoes_back, STEP_MS));
  CHECK_EQ_INT(peers[0].received, 30);
  CHECK(!peers[0].mismatch);
  check_same_security(d0, d1, s0, s1);
  uv_timer_stop(&flow_timer);
  uv_close((uv_handle_t *)&flow_timer, NULL);
  send_frames(vt, 10);
  CHECK(run_until(frames_in, STEP_MS));

  /* 3. Consent expires (failed, RFC 7675 5.1); a restart brings it back. */
  for (int i = 0; i < 2; i++) peers[i].pc->ice->set.consent_timeout_ms = 4000;
  cut(true);
  CHECK(run_until(both_failed_now, STEP_MS));
  restart_from_a();
  t_restore = mc_now_ms();
  cut(false);
  CHECK(run_until(reselected, STEP_MS));
  fprintf(stderr, "figure: failed, restart + restore -> connected ms=%llu\n",
          (unsigned long long)(mc_now_ms() - t_restore));
  CHECK(peers[0].saw_connecting_after_failed);
  send_msgs(ch, 30, 40);
  CHECK(run_until(echoes_back, 60000));
  CHECK_EQ_INT(peers[0].received, 40);
  CHECK(!peers[0].mismatch);
  check_same_security(d0, d1, s0, s1);
  send_frames(vt, 10);
  CHECK(run_until(frames_in, STEP_MS));
  CHECK_EQ_INT(vbad, 0);
  for (int i = 0; i < 40; i++) free(sent_msgs[i]);
  peers_free();
}

int main(void) {
  mc_log_init_from_env();
  loop = uv_default_loop();
  uv_timer_init(loop, &pump_timer);
  uv_timer_start(&pump_timer, pump, 1, 1);
  test_call_and_echo();
  test_reverse_negotiated();
  test_legacy_offer();
  test_data_before_nomination();
  test_tampered_fingerprint();
  test_malformed();
  test_media();
  test_lost_padding();
  test_ice_restart();
  free(last_answer);
  uv_close((uv_handle_t *)&pump_timer, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(loop), 0);
  return CHECK_DONE();
}
