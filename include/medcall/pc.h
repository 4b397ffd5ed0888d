/* medcall peer connection: the public API of libmedcall, shaped like the
 * W3C RTCPeerConnection. One header a newcomer reads to place a call.
 *
 * Threading: a peer connection lives on one libuv loop (the net thread).
 * Call every mc_pc_* function on that loop's thread; every callback runs
 * there too. No function blocks.
 *
 * A call, offering side (the answering side mirrors it with
 * mc_pc_set_remote_description(OFFER) then mc_pc_create_answer):
 *
 *   mc_pc *pc;
 *   mc_pc_new(&config, &callbacks, user, &pc);
 *   mc_pc_create_data_channel(pc, &(struct mc_dc_config){.label = "chat", .ordered = true}, &ch);
 *   char *offer;
 *   mc_pc_create_offer(pc, &offer);
 *   mc_pc_set_local_description(pc, MC_PC_OFFER, offer);  -> send offer to the peer
 *   mc_free(offer);
 *   on_ice_candidate(mid, line)                           -> send each to the peer
 *   mc_pc_set_remote_description(pc, MC_PC_ANSWER, answer_from_peer);
 *   mc_pc_add_remote_candidate(pc, mid, line_from_peer);  for each
 *   on_connection_state(CONNECTED), on_dc_open(ch) -> mc_pc_dc_send(pc, ch, ...)
 *   mc_pc_close(pc); mc_pc_free(pc);
 *
 * Errors: functions return 0 or a negative MC_E code (medcall/errors.h);
 * mc_pc_last_error(pc) then holds one sentence for a person. */
#ifndef MEDCALL_PC_H
#define MEDCALL_PC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

typedef struct uv_loop_s uv_loop_t;
typedef struct mc_pc mc_pc;

/* Frees memory libmedcall returned (SDP text). */
void mc_free(void *p);

/* Optional: the library's one-time set-up (crypto back-ends; about 70 ms
 * the first time) now, rather than inside the first call's connection
 * set-up. Safe to call more than once, from any thread. */
int mc_global_init(void);

enum mc_pc_sdp_type { MC_PC_OFFER = 0, MC_PC_ANSWER };

/* Like RTCPeerConnectionState. */
enum mc_pc_state {
  MC_PC_STATE_NEW = 0,
  MC_PC_STATE_CONNECTING,
  MC_PC_STATE_CONNECTED,
  MC_PC_STATE_DISCONNECTED, /* ICE lost the path for now; may recover */
  MC_PC_STATE_FAILED,       /* no path, or DTLS refused (see mc_pc_last_error); an
                               ICE failure recovers with mc_pc_restart_ice, a DTLS
                               failure is final */
  MC_PC_STATE_CLOSED,
};
const char *mc_pc_state_name(enum mc_pc_state s); /* "new", "connecting", ... */

enum mc_pc_kind { MC_PC_AUDIO = 0, MC_PC_VIDEO };

/* As RTCIceServer. */
struct mc_pc_ice_server {
  const char *url;        /* stun:, turn:, turns: */
  const char *username;
  const char *credential; /* never logged */
};

struct mc_pc_config {
  uv_loop_t *loop;
  const struct mc_pc_ice_server *ice_servers; /* copied */
  size_t ice_server_count;
  bool relay_only;        /* iceTransportPolicy "relay" */
  bool insecure_turns;    /* turns: without certificate verification (development) */
  /* Offer loopback host candidates too (tests on one machine). */
  bool include_loopback;
  /* Host candidates from 127.0.0.1 only, nothing else (tests that must not
   * send to the machine's own external address). */
  bool loopback_only;
  /* Tests and benches only: offer and answer goog-remb without
   * transport-cc (nor its header extension), as a peer that estimates on
   * the receive side and sends REMB; both directions then use REMB. */
  bool remb_only;
};

/* A data channel handle: a small number, stable for the channel's life.
 * Its SCTP stream id is known once the connection is up (mc_pc_dc_id). */
typedef int mc_pc_dc;

/* A media track: an audio or video transceiver (see "media" below). */
typedef int mc_pc_track;

/* As RTCDataChannelInit. */
struct mc_dc_config {
  const char *label;
  const char *protocol;
  bool ordered;
  int max_retransmits;     /* -1: unset; 0 is a valid value */
  int max_packet_lifetime; /* ms, -1: unset */
  bool negotiated;         /* pre-negotiated with the peer: id required */
  int id;                  /* -1: chosen at connection */
};
/* Defaults: ordered, reliable, in-band. */
#define MC_DC_CONFIG_DEFAULT {.label = "", .protocol = "", .ordered = true, .max_retransmits = -1, \
                              .max_packet_lifetime = -1, .negotiated = false, .id = -1}

struct mc_pc_callbacks {
  /* A local candidate to signal; line "" means end-of-candidates. */
  void (*on_ice_candidate)(mc_pc *pc, const char *mid, const char *line, void *user);
  void (*on_connection_state)(mc_pc *pc, enum mc_pc_state state, void *user);
  /* Something changed that the peer must hear about in a new offer. */
  void (*on_negotiation_needed)(mc_pc *pc, void *user);
  /* The peer opened a channel (ondatachannel). */
  void (*on_data_channel)(mc_pc *pc, mc_pc_dc ch, const char *label, const char *protocol, void *user);
  void (*on_dc_open)(mc_pc *pc, mc_pc_dc ch, void *user);
  void (*on_dc_message)(mc_pc *pc, mc_pc_dc ch, const uint8_t *data, size_t len, bool binary, void *user);
  void (*on_dc_buffered_amount_low)(mc_pc *pc, mc_pc_dc ch, void *user);
  void (*on_dc_close)(mc_pc *pc, mc_pc_dc ch, void *user);
  /* A track we receive on was negotiated (ontrack). */
  void (*on_track)(mc_pc *pc, mc_pc_track t, enum mc_pc_kind kind, void *user);
  /* A received frame: video, a complete VP8 frame in decode order; audio,
   * one Opus packet as it arrived (the application's jitter buffer orders
   * and conceals). */
  void (*on_frame)(mc_pc *pc, mc_pc_track t, const uint8_t *data, size_t len, uint32_t rtp_timestamp,
                   bool keyframe, void *user);
  /* The peer asked for a key frame (PLI or FIR) on a track we send. */
  void (*on_keyframe_request)(mc_pc *pc, mc_pc_track t, void *user);
  /* The sending bandwidth estimate changed (transport-wide feedback with a
   * loss bound, or the peer's REMB when that is all it sends): the
   * application fits its encoders into bps, audio first. */
  void (*on_target_bitrate)(mc_pc *pc, uint64_t bps, void *user);
};

int mc_pc_new(const struct mc_pc_config *config, const struct mc_pc_callbacks *cbs, void *user, mc_pc **out);
/* Closes (if needed) and frees. No callback after this returns. */
void mc_pc_free(mc_pc *pc);
/* Sends DTLS close_notify, stops ICE; state closed. */
void mc_pc_close(mc_pc *pc);

/* ---- media ----
 * The application encodes and decodes; the peer connection carries encoded
 * frames as RTP over SRTP (VP8: RFC 7741 packets with picture ids, RTX for
 * NACKed packets, a jitter buffer that NACKs, then asks for a key frame;
 * Opus: RFC 7587), with RTCP sender/receiver reports, NACK, PLI/FIR and
 * transport-wide congestion feedback. A track is a transceiver: an audio or
 * video m-line, numbered from 0 in the order they were added (the peer's
 * are numbered as they appear). */

/* An audio or video m-line; send: we have a track to send on it. *out (may
 * be NULL) gets its number. */
int mc_pc_add_transceiver(mc_pc *pc, enum mc_pc_kind kind, bool send, mc_pc_track *out);
/* One encoded frame: a whole VP8 frame (rtp_timestamp on the 90 kHz clock)
 * or one 20 ms Opus packet (48 kHz clock). MC_ESTATE before media can flow
 * (not connected, m-line rejected or not sending). */
int mc_pc_send_frame(mc_pc *pc, mc_pc_track t, const uint8_t *data, size_t len, uint32_t rtp_timestamp,
                     bool keyframe);

/* The application's decoder lost its reference (a frame it could not
 * decode, a full queue): ask the peer for a key frame on a video track we
 * receive (PLI), at most one per 300 ms. MC_ESTATE before media flows. */
int mc_pc_request_keyframe(mc_pc *pc, mc_pc_track t);

/* As RTCInboundRtpStreamStats / RTCOutboundRtpStreamStats, per track. */
struct mc_pc_track_stats {
  enum mc_pc_kind kind;
  char mid[33];
  bool sending, receiving;
  char codec[16];                    /* "VP8", "opus" */
  uint64_t packets_sent, bytes_sent, frames_sent;
  uint64_t retransmitted_packets_sent; /* RTX answers to NACKs */
  uint64_t nack_received, pli_received, fir_received;
  uint64_t packets_received, bytes_received, frames_received;
  uint64_t retransmitted_packets_received; /* repairs that arrived as RTX */
  int64_t packets_lost;
  double jitter_s;                   /* interarrival jitter, seconds */
  uint64_t nack_sent, pli_sent;
  uint64_t frames_dropped;           /* by the jitter buffer */
  double round_trip_time_s;          /* from RTCP receiver reports; 0 unknown */
  /* The peer's last sender report on this track: its wall clock (NTP 32.32)
   * at RTP timestamp sender_report_rtp_ts. Tracks of one peer share that
   * clock, which is what lip sync aligns (RFC 3550 6.4.1). */
  bool has_sender_report;
  uint64_t sender_report_ntp;
  uint32_t sender_report_rtp_ts;
};
int mc_pc_get_track_stats(const mc_pc *pc, mc_pc_track t, struct mc_pc_track_stats *out);
int mc_pc_track_count(const mc_pc *pc);

/* SDP text, NUL-terminated, for the caller to free with mc_free. */
int mc_pc_create_offer(mc_pc *pc, char **sdp_out);
int mc_pc_create_answer(mc_pc *pc, char **sdp_out);
/* Applies our description; starts gathering the first time. */
int mc_pc_set_local_description(mc_pc *pc, enum mc_pc_sdp_type type, const char *sdp);
/* Applies the peer's: MC_EPARSE (bad SDP, the line number in the sentence)
 * or MC_EINVAL (unusable) with mc_pc_last_error saying why. */
int mc_pc_set_remote_description(mc_pc *pc, enum mc_pc_sdp_type type, const char *sdp);
/* A trickled candidate ("candidate:..." with or without "a="); "" or NULL
 * line means the peer's end-of-candidates. mid may be NULL. */
int mc_pc_add_remote_candidate(mc_pc *pc, const char *mid, const char *line);
/* New ICE credentials in the next offer (RFC 8445 9); on_negotiation_needed.
 * Works in any state after the first offer/answer, disconnected and failed
 * included: candidates are gathered again (a live TURN allocation is kept,
 * a lost one replaced), and DTLS, SRTP and data channels go on over the new
 * pair. */
int mc_pc_restart_ice(mc_pc *pc);

enum mc_pc_state mc_pc_state(const mc_pc *pc);
/* The sentence about the last failure (of a call or of the connection); "" if none. */
const char *mc_pc_last_error(const mc_pc *pc);

/* ---- data channels ---- */
int mc_pc_create_data_channel(mc_pc *pc, const struct mc_dc_config *config, mc_pc_dc *out);
/* MC_ETOOBIG above the peer's max-message-size, MC_ESTATE when not open. */
int mc_pc_dc_send(mc_pc *pc, mc_pc_dc ch, const void *data, size_t len, bool binary);
size_t mc_pc_dc_buffered_amount(const mc_pc *pc, mc_pc_dc ch);
int mc_pc_dc_set_buffered_amount_low_threshold(mc_pc *pc, mc_pc_dc ch, size_t threshold);
/* The SCTP stream id, or -1 while not known. */
int mc_pc_dc_id(const mc_pc *pc, mc_pc_dc ch);
/* The peer's max-message-size (0: unlimited). */
uint64_t mc_pc_dc_max_message_size(const mc_pc *pc);
int mc_pc_dc_close(mc_pc *pc, mc_pc_dc ch);

/* ---- statistics (names follow W3C webrtc-stats where one exists) ---- */
struct mc_pc_stats {
  enum mc_pc_state state;
  char ice_state[16];          /* RTCIceConnectionState */
  char dtls_state[16];         /* RTCDtlsTransportState */
  char srtp_cipher[32];        /* "SRTP_AEAD_AES_128_GCM", "" before DTLS */
  bool dtls_client;            /* we sent the ClientHello */
  char local_fingerprint[256]; /* "sha-256 AB:CD:..." */
  char remote_fingerprint[256];
  bool has_selected_pair;
  char local_candidate_type[8];  /* "host", "srflx", "prflx", "relay" */
  char remote_candidate_type[8];
  char protocol[4];              /* of the selected pair: "udp", or "tcp" for ICE-TCP (RFC 6544) */
  char local_address[64];        /* "IP:port" */
  char remote_address[64];
  /* The TURN server our side of the selected pair goes through, as its URL
   * was configured (W3C RTCIceCandidateStats.url); "" when not relayed. */
  char relay_url[256];
  uint64_t ice_connected_ms;     /* from set_local_description to ICE connected */
  uint64_t dtls_connected_ms;    /* from set_local_description to DTLS connected */
  uint64_t bytes_sent, bytes_received; /* on the selected pair */
  uint64_t srtp_packets_received, srtp_auth_failures;
  uint64_t dc_messages_sent, dc_messages_received, dc_bytes_sent, dc_bytes_received;
  /* RTCIceCandidatePairStats.availableOutgoingBitrate: our sending estimate;
   * availableIncomingBitrate: what we tell the peer in REMB. 0 unknown. */
  uint64_t available_outgoing_bitrate_bps, available_incoming_bitrate_bps;
};
int mc_pc_get_stats(const mc_pc *pc, struct mc_pc_stats *out);

#endif
