/* medcall call / medcall join: one consultation through a medcall-server.
 * The doctor (call) creates a room, prints its link, admits the patient who
 * knocks and makes the offer; the patient (join LINK) knocks, waits and
 * answers. Until the window (issue 6) exists, the call is headless: media
 * from synthetic or file sources (call_media.c) and data channels: --echo sends every message back,
 * --send-bytes streams bytes on a channel "bulk" with backpressure. Lines on standard output
 * are for people and scripts alike: "link: URL", "state: STATE",
 * "pair: LOCAL-TYPE REMOTE-TYPE", "sent: N bytes sha256 HEX", "received: N bytes
 * sha256 HEX", "ended: WHY". */
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "app/app.h"
#include "medcall/pc.h"
#include "signal/signal.h"
#include "util/util.h"

#define LOG "call"
#define MAX_ICE_SERVERS 8
#define SEND_CHUNK (64 * 1024)
#define SEND_HIGH_WATER (1024 * 1024)
#define SEND_LOW_WATER (256 * 1024)
#define DRAIN_MS 1000

#define COMMON_USAGE \
  "  --insecure          accept a self-signed server certificate (development)\n" \
  "  --relay-only        connect only through a TURN relay\n" \
  "  --duration S        hang up after S seconds connected (media stops sending\n" \
  "                      then, the call ends a second later; default: until the\n" \
  "                      other side leaves or Ctrl-C)\n" \
  "  --echo              send every data-channel message back as it came\n" \
  "  --send-bytes N      once connected, open a data channel \"bulk\", send N bytes\n" \
  "                      on it in 64 KiB messages with backpressure, print\n" \
  "                      'sent: N bytes sha256 HEX' and close it. What arrives on\n" \
  "                      the peer's \"bulk\" is printed as 'received: ...' when it closes\n" \
  "  --stats-json FILE   write the call's statistics as JSON at the end\n" \
  "  --video-source S    camera[:DEVICE] (default /dev/video0), pattern (moving\n" \
  "                      picture with its capture time stamped in the top row),\n" \
  "                      file:PATH (Y4M) or none (default)\n" \
  "  --audio-source S    mic[:DEVICE] (through echo cancellation), tone[:HZ]\n" \
  "                      (default 440 Hz), file:PATH (WAV, 48 kHz, 16-bit) or\n" \
  "                      none (default)\n" \
  "  --video-size WxH    picture size sent (default 640x480)\n" \
  "  --fps N             frames per second sent (default 30)\n" \
  "  --bitrate KBPS      VP8 target bit rate (default 1000)\n" \
  "  --headless          no window and no speakers: what arrives is measured only\n" \
  "  --auto-admit        admit the first patient who knocks (call; always so until\n" \
  "                      the window can ask)\n" \
  "\n" \
  "There is no window yet: received video is decoded and measured\n" \
  "(--stats-json); received audio is played on the speakers unless --headless.\n" \
  "Exit status: 0 when the call connected and ended normally, 1 when it could\n" \
  "not connect or failed, 2 on a usage error.\n"

const char mc_call_usage[] =
    "usage: medcall call [--server URL [--token T]] [options]\n"
    "\n"
    "Creates a consultation room, prints the patient's link as a line\n"
    "'link: URL', admits the first patient who knocks and connects.\n"
    "\n"
    "  --server URL        a medcall-server's signaling address, wss://HOST:PORT/ws;\n"
    "                      without it medcall runs the server itself, on a free port\n"
    "                      on every interface (a patient on this network can open\n"
    "                      the link in a browser; the browser will warn about the\n"
    "                      self-signed certificate)\n"
    "  --token T           the doctor token the server was started with\n"
    COMMON_USAGE;

const char mc_join_usage[] =
    "usage: medcall join LINK [--name NAME] [options]\n"
    "\n"
    "Joins the consultation at LINK (https://HOST:PORT/r/ROOM), waits until the\n"
    "doctor admits you, and connects.\n"
    "\n"
    "  --name NAME         the name the doctor sees (default \"medcall\")\n"
    COMMON_USAGE;



struct opts {
  struct call_media_opts media;
  bool doctor;
  const char *server, *token, *link, *name, *stats_json;
  bool insecure, relay_only, echo;
  double duration_s;
  uint64_t send_bytes;
};

struct ice_server_store {
  char *url, *username, *credential;
};

struct call {
  struct opts o;
  uv_loop_t *loop;
  mc_signal_client *sig;
  bool sig_open;
  mc_pc *pc;
  struct call_media *media;
  struct call_server *server; /* built in, when no --server */
  char room[MC_SIGNAL_ID_LEN_MAX + 1];
  bool offerer;
  bool ever_connected;
  bool ending;
  int exit_code;
  uv_timer_t duration_timer, end_timer;
  uv_signal_t sigint, sigterm;

  struct ice_server_store ice[MAX_ICE_SERVERS];
  size_t nice;

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

static void call_end(struct call *c, int code, const char *why);
static void on_duration(uv_timer_t *t);

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
  while (c->sent < c->o.send_bytes && mc_pc_dc_buffered_amount(c->pc, c->send_ch) < SEND_HIGH_WATER) {
    size_t n = (size_t)MC_MIN((uint64_t)SEND_CHUNK, c->o.send_bytes - c->sent);
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = next_rand(c);
      memcpy(chunk + i, &r, MC_MIN((size_t)8, n - i));
    }
    int rc = mc_pc_dc_send(c->pc, c->send_ch, chunk, n, true);
    if (rc != 0) {
      fprintf(stderr, "medcall: sending on the data channel failed: %s\n", mc_strerror(rc));
      c->sending = false;
      return;
    }
    EVP_DigestUpdate(c->sha, chunk, n);
    c->sent += n;
  }
  if (c->sent >= c->o.send_bytes) {
    char hex[65];
    finish_sha256(&c->sha, hex);
    printf("sent: %llu bytes sha256 %s\n", (unsigned long long)c->sent, hex);
    fflush(stdout);
    c->sending = false;
    /* The close waits for what is still buffered: the peer sees every byte, then the close. */
    mc_pc_dc_close(c->pc, c->send_ch);
  }
}

static void open_bulk(struct call *c) {
  if (c->o.send_bytes == 0 || c->send_ch >= 0) return;
  struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
  dc.label = "bulk";
  if (mc_pc_create_data_channel(c->pc, &dc, &c->send_ch) != 0) {
    fprintf(stderr, "medcall: could not open a data channel for --send-bytes\n");
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

static void print_pair(struct call *c) {
  struct mc_pc_stats st;
  if (mc_pc_get_stats(c->pc, &st) == 0 && st.has_selected_pair) {
    printf("pair: %s %s\n", st.local_candidate_type, st.remote_candidate_type);
    printf("dtls: %s %s\n", st.dtls_client ? "client" : "server", st.srtp_cipher);
  }
}

static void on_connection_state(mc_pc *pc, enum mc_pc_state s, void *user) {
  struct call *c = user;
  printf("state: %s\n", mc_pc_state_name(s));
  if (s == MC_PC_STATE_CONNECTED && !c->ever_connected) {
    c->ever_connected = true;
    print_pair(c);
    open_bulk(c);
    call_media_start(c->media);
    if (c->o.duration_s > 0) uv_timer_start(&c->duration_timer, on_duration, (uint64_t)(c->o.duration_s * 1000), 0);
  }
  fflush(stdout);
  if (s == MC_PC_STATE_FAILED) {
    const char *why = mc_pc_last_error(pc);
    fprintf(stderr, "medcall: the call failed: %s\n", why[0] ? why : "the connection broke");
    call_end(c, MC_APP_EXIT_FAIL, "failed");
  } else if (s == MC_PC_STATE_CLOSED && !c->ending) {
    call_end(c, MC_APP_EXIT_OK, "the other side hung up");
  }
}

static void on_data_channel(mc_pc *pc, mc_pc_dc ch, const char *label, const char *protocol, void *user) {
  (void)pc;
  (void)protocol;
  struct call *c = user;
  printf("channel: %d %s\n", ch, label);
  fflush(stdout);
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
  printf("received: %llu bytes sha256 %s\n", (unsigned long long)c->received, hex);
  double ms = (double)(c->recv_last_us - c->recv_first_us) / 1000.0;
  if (ms > 0)
    printf("rate: %llu bytes in %.1f ms, %.1f Mbit/s\n", (unsigned long long)c->received, ms,
           (double)c->received * 8.0 / (ms * 1000.0));
  fflush(stdout);
}

static void on_dc_open(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct call *c = user;
  printf("open: %d\n", ch);
  fflush(stdout);
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
  if (!c->o.echo) return;
  int rc = mc_pc_dc_send(pc, ch, data, len, binary);
  if (rc != 0) MC_LOGW(LOG, "echo failed len=%zu err=%s", len, mc_strerror(rc));
}

static void on_dc_low(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct call *c = user;
  if (c->sending && ch == c->send_ch) pump_send(c);
}

static void on_track(mc_pc *pc, mc_pc_track t, enum mc_pc_kind kind, void *user) {
  (void)pc;
  (void)user;
  printf("track: %d %s\n", t, kind == MC_PC_VIDEO ? "video" : "audio");
  fflush(stdout);
}

static void on_frame(mc_pc *pc, mc_pc_track t, const uint8_t *data, size_t len, uint32_t ts, bool key, void *user) {
  (void)pc;
  struct call *c = user;
  call_media_on_frame(c->media, t, data, len, ts, key);
}

static void on_keyframe_request(mc_pc *pc, mc_pc_track t, void *user) {
  (void)pc;
  struct call *c = user;
  call_media_on_keyframe_request(c->media, t);
}

static void on_dc_close(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct call *c = user;
  printf("closed: %d\n", ch);
  fflush(stdout);
  if (ch == c->recv_ch) print_received(c);
}

/* ---- signaling ---- */

static int parse_ice_servers(struct call *c, json_t *arr) {
  if (!json_is_array(arr)) return 0;
  size_t i;
  json_t *s;
  json_array_foreach(arr, i, s) {
    json_t *urls = json_object_get(s, "urls");
    const char *user = json_string_value(json_object_get(s, "username"));
    const char *cred = json_string_value(json_object_get(s, "credential"));
    json_t *list = json_is_string(urls) ? json_pack("[O]", urls) : json_incref(urls);
    size_t k;
    json_t *u;
    json_array_foreach(list, k, u) {
      if (!json_is_string(u) || c->nice >= MAX_ICE_SERVERS) continue;
      c->ice[c->nice].url = strdup(json_string_value(u));
      c->ice[c->nice].username = user ? strdup(user) : NULL;
      c->ice[c->nice].credential = cred ? strdup(cred) : NULL;
      c->nice++;
    }
    json_decref(list);
  }
  return 0;
}

static int make_pc(struct call *c) {
  struct mc_pc_ice_server servers[MAX_ICE_SERVERS];
  for (size_t i = 0; i < c->nice; i++)
    servers[i] = (struct mc_pc_ice_server){c->ice[i].url, c->ice[i].username, c->ice[i].credential};
  struct mc_pc_config cfg = {
      .loop = c->loop,
      .ice_servers = servers,
      .ice_server_count = c->nice,
      .relay_only = c->o.relay_only,
      .insecure_turns = c->o.insecure,
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
  };
  int rc = mc_pc_new(&cfg, &cbs, c, &c->pc);
  if (rc != 0) {
    fprintf(stderr, "medcall: could not set up the call: %s\n", mc_strerror(rc));
    return rc;
  }
  rc = call_media_new(c->loop, c->pc, &c->o.media, &c->media);
  if (rc != 0) fprintf(stderr, "medcall: could not set up the media: %s\n", mc_strerror(rc));
  return rc;
}

static void send_description(struct call *c, const char *type, const char *sdp) {
  sig_send(c, json_pack("{s:s, s:s}", "type", type, "sdp", sdp));
}

static void make_offer(struct call *c) {
  char *offer = NULL;
  int rc = mc_pc_create_offer(c->pc, &offer);
  if (rc == 0) rc = mc_pc_set_local_description(c->pc, MC_PC_OFFER, offer);
  if (rc != 0) {
    fprintf(stderr, "medcall: could not make an offer: %s\n", mc_pc_last_error(c->pc));
    mc_free(offer);
    call_end(c, MC_APP_EXIT_FAIL, "failed");
    return;
  }
  send_description(c, "offer", offer);
  mc_free(offer);
}

static void on_admitted(struct call *c, json_t *m) {
  if (c->pc) return;
  c->offerer = json_is_true(json_object_get(m, "offerer"));
  parse_ice_servers(c, json_object_get(m, "ice_servers"));
  printf("admitted: %s\n", c->offerer ? "offerer" : "answerer");
  fflush(stdout);
  if (make_pc(c) != 0) {
    call_end(c, MC_APP_EXIT_FAIL, "failed");
    return;
  }
  if (c->offerer) {
    struct mc_dc_config dc = MC_DC_CONFIG_DEFAULT;
    dc.label = "chat";
    mc_pc_dc ch;
    mc_pc_create_data_channel(c->pc, &dc, &ch);
    make_offer(c);
  }
}

static void on_offer(struct call *c, const char *sdp) {
  if (!c->pc) return;
  int rc = mc_pc_set_remote_description(c->pc, MC_PC_OFFER, sdp);
  char *answer = NULL;
  if (rc == 0) rc = mc_pc_create_answer(c->pc, &answer);
  if (rc == 0) rc = mc_pc_set_local_description(c->pc, MC_PC_ANSWER, answer);
  if (rc != 0) {
    fprintf(stderr, "medcall: %s\n", mc_pc_last_error(c->pc));
    mc_free(answer);
    call_end(c, MC_APP_EXIT_FAIL, "failed");
    return;
  }
  send_description(c, "answer", answer);
  mc_free(answer);
}

static void on_sig_open(mc_signal_client *s, void *user) {
  (void)s;
  struct call *c = user;
  c->sig_open = true;
  if (c->o.doctor) {
    json_t *m = json_pack("{s:s}", "type", "create");
    if (c->o.token) json_object_set_new(m, "token", json_string(c->o.token));
    sig_send(c, m);
  } else {
    sig_send(c, json_pack("{s:s, s:s, s:s}", "type", "join", "room", c->room, "name",
                          c->o.name ? c->o.name : "medcall"));
  }
}

static void on_sig_message(mc_signal_client *s, const char *text, size_t len, void *user) {
  (void)s;
  struct call *c = user;
  json_error_t jerr;
  json_t *m = json_loadb(text, len, 0, &jerr);
  const char *type = json_string_value(json_object_get(m, "type"));
  if (!type) {
    json_decref(m);
    return;
  }
  MC_LOGD(LOG, "signal message type=%s", type);
  if (strcmp(type, "created") == 0) {
    printf("link: %s\n", json_string_value(json_object_get(m, "link")));
    fflush(stdout);
  } else if (strcmp(type, "waiting") == 0) {
    printf("waiting: for the doctor to admit you\n");
    fflush(stdout);
  } else if (strcmp(type, "knock") == 0) {
    printf("knock: %s\n", json_string_value(json_object_get(m, "name")));
    fflush(stdout);
    /* No window yet to ask the doctor: admit the first knock. */
    sig_send(c, json_pack("{s:s}", "type", "admit"));
  } else if (strcmp(type, "admitted") == 0) {
    on_admitted(c, m);
  } else if (strcmp(type, "offer") == 0) {
    const char *sdp = json_string_value(json_object_get(m, "sdp"));
    if (sdp) on_offer(c, sdp);
  } else if (strcmp(type, "answer") == 0) {
    const char *sdp = json_string_value(json_object_get(m, "sdp"));
    if (sdp && c->pc && mc_pc_set_remote_description(c->pc, MC_PC_ANSWER, sdp) != 0) {
      fprintf(stderr, "medcall: %s\n", mc_pc_last_error(c->pc));
      call_end(c, MC_APP_EXIT_FAIL, "failed");
    }
  } else if (strcmp(type, "candidate") == 0) {
    const char *cand = json_string_value(json_object_get(m, "candidate"));
    const char *mid = json_string_value(json_object_get(m, "sdpMid"));
    if (c->pc && cand) mc_pc_add_remote_candidate(c->pc, mid, cand);
  } else if (strcmp(type, "declined") == 0) {
    fprintf(stderr, "medcall: the doctor declined the call\n");
    call_end(c, MC_APP_EXIT_FAIL, "declined");
  } else if (strcmp(type, "peer-left") == 0 || strcmp(type, "ended") == 0) {
    call_end(c, c->ever_connected ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL, "the other side left");
  } else if (strcmp(type, "error") == 0) {
    const char *msg = json_string_value(json_object_get(m, "message"));
    fprintf(stderr, "medcall: the server refused: %s\n", msg ? msg : "unknown error");
    call_end(c, MC_APP_EXIT_FAIL, "refused");
  }
  json_decref(m);
}

static void on_sig_close(mc_signal_client *s, int err, const char *sentence, void *user) {
  (void)s;
  struct call *c = user;
  c->sig_open = false;
  if (err != 0 && !c->ending) {
    fprintf(stderr, "medcall: %s\n", sentence);
    /* Media does not need the server once connected (issue 6 item 4). */
    if (!c->ever_connected) call_end(c, MC_APP_EXIT_FAIL, "signaling failed");
  }
}

/* ---- ending ---- */

static void write_stats(struct call *c) {
  if (!c->o.stats_json || !c->pc) return;
  struct mc_pc_stats st;
  mc_pc_get_stats(c->pc, &st);
  json_t *j = json_pack(
      "{s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
      "connectionState", mc_pc_state_name(st.state), "iceConnectionState", st.ice_state, "dtlsState",
      st.dtls_state, "srtpCipher", st.srtp_cipher, "dtlsClient", st.dtls_client, "localFingerprint",
      st.local_fingerprint, "remoteFingerprint", st.remote_fingerprint, "selectedCandidatePair",
      "localCandidateType", st.local_candidate_type, "remoteCandidateType", st.remote_candidate_type,
      "localAddress", st.local_address, "remoteAddress", st.remote_address, "iceConnectedMs",
      (json_int_t)st.ice_connected_ms, "dtlsConnectedMs", (json_int_t)st.dtls_connected_ms, "bytesSent",
      (json_int_t)st.bytes_sent, "bytesReceived", (json_int_t)st.bytes_received, "messagesSent",
      (json_int_t)st.dc_messages_sent, "messagesReceived", (json_int_t)st.dc_messages_received,
      "dataBytesSent", (json_int_t)st.dc_bytes_sent, "dataBytesReceived", (json_int_t)st.dc_bytes_received,
      "srtpPacketsReceived", (json_int_t)st.srtp_packets_received);
  if (j) call_media_stats_json(c->media, j);
  if (j && json_dump_file(j, c->o.stats_json, JSON_INDENT(2)) != 0)
    fprintf(stderr, "medcall: could not write statistics to %s\n", c->o.stats_json);
  json_decref(j);
}

static void on_end_timer(uv_timer_t *t) {
  struct call *c = t->data;
  if (c->sig) {
    mc_signal_client_free(c->sig);
    c->sig = NULL;
  }
  uv_close((uv_handle_t *)&c->duration_timer, NULL);
  uv_close((uv_handle_t *)&c->end_timer, NULL);
  uv_close((uv_handle_t *)&c->sigint, NULL);
  uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void call_end(struct call *c, int code, const char *why) {
  if (c->ending) return;
  c->ending = true;
  c->exit_code = code;
  print_received(c);
  printf("ended: %s\n", why);
  fflush(stdout);
  write_stats(c);
  if (c->sig_open) sig_send(c, json_pack("{s:s}", "type", c->o.doctor ? "end" : "leave"));
  call_media_free(c->media);
  c->media = NULL;
  if (c->pc) {
    mc_pc_free(c->pc);
    c->pc = NULL;
  }
  /* Give the leave/end message and DTLS close_notify a moment on the wire. */
  uv_timer_start(&c->end_timer, on_end_timer, 200, 0);
}

static void on_duration_drained(uv_timer_t *t) {
  struct call *c = t->data;
  call_end(c, c->ever_connected ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL, "duration reached");
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
  call_end(c, c->ever_connected ? MC_APP_EXIT_OK : MC_APP_EXIT_FAIL, "interrupted");
}

/* ---- command line ---- */

static int parse_opts(int argc, char **argv, struct opts *o) {
  enum { O_SERVER = 1, O_TOKEN, O_NAME, O_INSECURE, O_RELAY, O_DURATION, O_ECHO, O_SEND, O_STATS, O_VIDEO, O_AUDIO,
         O_SIZE, O_FPS, O_BITRATE, O_HEADLESS, O_AUTO_ADMIT };
  static const struct option longopts[] = {
      {"server", required_argument, NULL, O_SERVER},   {"token", required_argument, NULL, O_TOKEN},
      {"name", required_argument, NULL, O_NAME},       {"insecure", no_argument, NULL, O_INSECURE},
      {"relay-only", no_argument, NULL, O_RELAY},      {"duration", required_argument, NULL, O_DURATION},
      {"echo", no_argument, NULL, O_ECHO},             {"send-bytes", required_argument, NULL, O_SEND},
      {"stats-json", required_argument, NULL, O_STATS}, {"video-source", required_argument, NULL, O_VIDEO},
      {"audio-source", required_argument, NULL, O_AUDIO}, {"video-size", required_argument, NULL, O_SIZE},
      {"fps", required_argument, NULL, O_FPS},         {"bitrate", required_argument, NULL, O_BITRATE},
      {"headless", no_argument, NULL, O_HEADLESS},     {"auto-admit", no_argument, NULL, O_AUTO_ADMIT},
      {NULL, 0, NULL, 0},
  };
  int opt;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    char *end = NULL;
    switch (opt) {
    case O_SERVER: o->server = optarg; break;
    case O_TOKEN: o->token = optarg; break;
    case O_NAME: o->name = optarg; break;
    case O_INSECURE: o->insecure = true; break;
    case O_RELAY: o->relay_only = true; break;
    case O_ECHO: o->echo = true; break;
    case O_STATS: o->stats_json = optarg; break;
    case O_HEADLESS: o->media.headless = true; break;
    case O_AUTO_ADMIT: break; /* no window to ask the doctor yet: the first knock is always admitted */
    case O_VIDEO:
      if (call_media_parse_source(optarg, true, &o->media) != 0) return -1;
      break;
    case O_AUDIO:
      if (call_media_parse_source(optarg, false, &o->media) != 0) return -1;
      break;
    case O_SIZE:
      if (sscanf(optarg, "%dx%d", &o->media.width, &o->media.height) != 2 || o->media.width < 16 ||
          o->media.height < 16 || o->media.width > 3840 || o->media.height > 2160) {
        fprintf(stderr, "medcall: --video-size wants WIDTHxHEIGHT (16x16 to 3840x2160), not '%s'\n", optarg);
        return -1;
      }
      break;
    case O_FPS:
      o->media.fps = (int)strtol(optarg, &end, 10);
      if (!end || *end || o->media.fps < 1 || o->media.fps > 60) {
        fprintf(stderr, "medcall: --fps wants 1..60, not '%s'\n", optarg);
        return -1;
      }
      break;
    case O_BITRATE:
      o->media.bitrate_kbps = (int)strtol(optarg, &end, 10);
      if (!end || *end || o->media.bitrate_kbps < 30 || o->media.bitrate_kbps > 20000) {
        fprintf(stderr, "medcall: --bitrate wants 30..20000 kbit/s, not '%s'\n", optarg);
        return -1;
      }
      break;
    case O_DURATION:
      o->duration_s = strtod(optarg, &end);
      if (!end || *end || o->duration_s <= 0) {
        fprintf(stderr, "medcall: --duration wants a number of seconds above 0, not '%s'\n", optarg);
        return -1;
      }
      break;
    case O_SEND:
      o->send_bytes = strtoull(optarg, &end, 10);
      if (!end || *end) {
        fprintf(stderr, "medcall: --send-bytes wants a number of bytes, not '%s'\n", optarg);
        return -1;
      }
      break;
    default: return -1;
    }
  }
  if (!o->doctor) {
    if (optind != argc - 1) {
      fprintf(stderr, "medcall: join wants exactly one LINK (the room link the doctor sent)\n");
      return -1;
    }
    o->link = argv[optind];
  } else if (optind != argc) {
    fprintf(stderr, "medcall: unexpected argument '%s'\n", argv[optind]);
    return -1;
  }
  return 0;
}

static int run(int argc, char **argv, bool doctor) {
  struct call *c = calloc(1, sizeof *c);
  if (!c) return MC_APP_EXIT_FAIL;
  c->o.doctor = doctor;
  c->o.media = (struct call_media_opts){.video = CALL_VIDEO_NONE, .audio = CALL_AUDIO_NONE, .tone_hz = 440,
                                        .width = 640, .height = 480, .fps = 30, .bitrate_kbps = 1000};
  c->send_ch = c->recv_ch = -1;
  int code = MC_APP_EXIT_USAGE;
  if (parse_opts(argc, argv, &c->o) != 0) {
    fputs(doctor ? "see 'medcall call --help'\n" : "see 'medcall join --help'\n", stderr);
    goto out;
  }
  char ws_url[512];
  uint8_t pin[32];
  bool pinned = false;
  if (!doctor) {
    char why[200];
    if (mc_signal_parse_link(c->o.link, ws_url, sizeof ws_url, c->room, sizeof c->room, why, sizeof why) != 0) {
      fprintf(stderr, "medcall: %s\n", why);
      goto out;
    }
  } else if (c->o.server) {
    mc_strcpy(ws_url, sizeof ws_url, c->o.server);
  } else if (call_server_start(&c->server, ws_url, sizeof ws_url, pin) == 0) {
    pinned = true;
  } else {
    code = MC_APP_EXIT_FAIL;
    goto out;
  }
  /* Library set-up while the server connection opens, not inside the call. */
  mc_global_init();
  c->loop = uv_default_loop();
  c->exit_code = MC_APP_EXIT_FAIL;
  uv_timer_init(c->loop, &c->duration_timer);
  uv_timer_init(c->loop, &c->end_timer);
  c->duration_timer.data = c->end_timer.data = c;
  uv_signal_init(c->loop, &c->sigint);
  uv_signal_init(c->loop, &c->sigterm);
  c->sigint.data = c->sigterm.data = c;
  uv_signal_start(&c->sigint, on_signal, SIGINT);
  uv_signal_start(&c->sigterm, on_signal, SIGTERM);
  struct mc_signal_client_config sc = {.url = ws_url, .insecure = c->o.insecure && !pinned,
                                       .pin_sha256 = pinned ? pin : NULL};
  struct mc_signal_client_callbacks scb = {
      .on_open = on_sig_open, .on_message = on_sig_message, .on_close = on_sig_close};
  int rc = mc_signal_client_new(c->loop, &sc, &scb, c, &c->sig);
  if (rc != 0) {
    fprintf(stderr, "medcall: cannot use the signaling address %s: %s\n", ws_url, mc_strerror(rc));
    c->ending = true;
    on_end_timer(&c->end_timer);
  }
  uv_run(c->loop, UV_RUN_DEFAULT);
  code = c->exit_code;
  call_server_stop(c->server);
out:
  for (size_t i = 0; i < c->nice; i++) {
    free(c->ice[i].url);
    free(c->ice[i].username);
    if (c->ice[i].credential) {
      memset(c->ice[i].credential, 0, strlen(c->ice[i].credential));
      free(c->ice[i].credential);
    }
  }
  if (c->sha) EVP_MD_CTX_free(c->sha);
  if (c->recv_sha) EVP_MD_CTX_free(c->recv_sha);
  free(c);
  return code;
}

int mc_call_main(int argc, char **argv) { return run(argc, argv, true); }
int mc_join_main(int argc, char **argv) { return run(argc, argv, false); }
