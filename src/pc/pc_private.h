/* Shared inside src/pc only: the peer connection's state, so that media.c
 * (RTP over SRTP) and pc.c (descriptions, ICE, DTLS, SCTP) see one object. */
#ifndef MC_PC_PRIVATE_H
#define MC_PC_PRIVATE_H

#include <uv.h>

#include "dtls/dtls.h"
#include "ice/ice.h"
#include "medcall/pc.h"
#include "sctp/sctp.h"
#include "sdp/sdp.h"
#include "srtp/srtp.h"

#define PC_MAX_DC 256
#define PC_MAX_TRANSCEIVERS MC_SDP_MAX_MEDIA
#define PC_SDP_CAP (128 * 1024)
#define PC_EARLY_DTLS 4

struct pc_dc {
  bool used;
  bool open;      /* on_dc_open was reported */
  bool requested; /* handed to SCTP (DCEP OPEN sent, or negotiated id taken) */
  bool closed;
  int sid;        /* SCTP stream id, -1 until known */
  struct mc_dc_config cfg;
  char label[MC_SCTP_LABEL_MAX + 1];
  char protocol[MC_SCTP_LABEL_MAX + 1];
  size_t low_threshold;
};

struct mc_pc {
  uv_loop_t *loop;
  struct mc_pc_callbacks cbs;
  void *user;
  struct mc_pc_config cfg;
  struct mc_pc_ice_server *servers; /* deep copies */
  size_t nservers;

  mc_dtls_cert *cert;
  uint8_t fp[MC_DTLS_FP_SHA256_LEN];
  /* The msid stream every local track belongs to: one stream is what a
   * browser plays in lip sync (RFC 8830 2). */
  char stream_id[17];

  /* Created by the first offer (ours: ICE controlling; theirs: controlled). */
  mc_jsep *jsep;
  mc_ice_agent *ice;
  bool gathering;
  char first_mid[33];

  /* What the app asked for before the session existed. */
  int pending_kinds[PC_MAX_TRANSCEIVERS];
  bool pending_send[PC_MAX_TRANSCEIVERS];
  int npending;
  bool want_data;

  /* Local candidates wait here for the next loop turn, as onicecandidate
   * does: the app sends its description before the first candidate. */
  struct pc_cand {
    struct pc_cand *next;
    char line[MC_ICE_CANDIDATE_STRLEN]; /* "" = end-of-candidates */
  } *cand_head, **cand_tail;
  uv_timer_t cand_timer;

  mc_dtls *dtls;
  uv_timer_t dtls_timer;
  /* DTLS from the peer before our pair was selected (its ClientHello can
   * beat our nomination): kept and fed in when DTLS starts, rather than
   * waiting for the peer to retransmit. */
  struct pc_early {
    size_t len;
    uint8_t data[1500];
  } early[PC_EARLY_DTLS];
  int nearly;
  mc_srtp *srtp;
  mc_sctp *sctp;
  uv_timer_t sctp_timer;
  uint64_t remote_max_message;

  struct pc_dc dcs[PC_MAX_DC];

  enum mc_pc_state state;
  bool closed;
  char last_error[768];
  /* What the last STUN/TURN server problem was, for the sentence of a
   * failed ICE: a wrong TURN password explains "no path worked". */
  char server_problem[512];

  uint64_t t_start_ms, t_ice_ms, t_dtls_ms;
  uint64_t srtp_packets, srtp_failures;
  uint64_t dc_msgs_sent, dc_msgs_recv, dc_bytes_sent, dc_bytes_recv;

  /* Re-entrancy: the app may close or free from inside a callback. */
  int depth;
  bool teardown_pending;
  bool free_pending;
  int open_handles;

  /* RTP media on the negotiated m-lines (media.c); NULL until negotiated. */
  struct pc_media *media;
};

/* Re-entrancy guard around every entry from the loop or the app: the last
 * pc_leave runs deferred teardown and free. */
void pc_enter(mc_pc *pc);
void pc_leave(mc_pc *pc);
/* Sends one datagram on the selected pair (nothing when there is none). */
void pc_send_datagram(mc_pc *pc, const uint8_t *data, size_t len);

/* ---- media.c ---- */
struct pc_media;
/* After each complete offer/answer: tracks for the negotiated audio/video
 * m-lines, on_track for new receiving ones. */
void pc_media_on_negotiated(mc_pc *pc);
/* One SRTP or SRTCP datagram from the selected pair. */
void pc_media_receive(mc_pc *pc, const uint8_t *data, size_t len);
/* DTLS connected and SRTP keyed: reports and feedback start. */
void pc_media_start(mc_pc *pc);
void pc_media_free(mc_pc *pc);
/* The sending estimate (0 when the peer sends no congestion feedback) and
 * the receive-side estimate (0 before it has one), for
 * mc_pc_stats.available_outgoing/incoming_bitrate_bps. */
void pc_media_bitrates(const mc_pc *pc, uint64_t *outgoing_bps, uint64_t *incoming_bps);

#endif
