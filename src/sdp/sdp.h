/* SDP (RFC 8866) model, parser and writer for what WebRTC browsers send:
 * BUNDLE (RFC 9143), ICE attributes (RFC 8839), DTLS fingerprint/setup
 * (RFC 8122, RFC 5763), rtcp-mux (RFC 5761), rtcp-rsize (RFC 5506), msid
 * (RFC 8830), ssrc and ssrc-group (RFC 5576), rtpmap/fmtp (RFC 8866 6.6,
 * 6.15), rtcp-fb (RFC 4585), extmap (RFC 8285), SCTP over DTLS (RFC 8841)
 * and its older form: proto DTLS/SCTP, the SCTP port as the format and
 * a=sctpmap (draft-ietf-mmusic-sctp-sdp-05), bundle-only (RFC 9143 6).
 * No offer/answer logic here: only text <-> model.
 *
 * The model is plain fixed-size data (no pointers), about 900 KiB: allocate it
 * on the heap. Arrays are bounded by the MC_SDP_MAX_* limits below; input
 * beyond a limit is rejected with MC_ETOOBIG, malformed input with MC_EPARSE.
 * Unknown line types and attributes are tolerated and dropped. */
#ifndef MC_SDP_H
#define MC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

#define MC_SDP_MAX_LINE 1024      /* bytes per line, without the line ending */
#define MC_SDP_MAX_MEDIA 16       /* m= sections */
#define MC_SDP_MAX_FMT 64         /* formats (payload types) per m= line */
#define MC_SDP_MAX_RTCP_FB 8      /* rtcp-fb values per payload type, and for '*' */
#define MC_SDP_MAX_EXTMAP 24      /* extmap lines per m= section */
#define MC_SDP_MAX_SSRC 16        /* distinct SSRCs per m= section */
#define MC_SDP_MAX_SSRC_GROUP 8   /* ssrc-group lines per m= section */
#define MC_SDP_MAX_GROUP_SSRCS 8  /* SSRCs in one ssrc-group */
#define MC_SDP_MAX_CANDIDATES 32  /* candidate lines per m= section */
#define MC_SDP_MAX_MSID 4         /* a=msid lines per m= section */
#define MC_SDP_MAX_GROUPS 4       /* a=group lines */
#define MC_SDP_MAX_GROUP_MIDS 16  /* identification tags in one a=group */
#define MC_SDP_MAX_FINGERPRINT 64 /* bytes of one fingerprint (SHA-512) */
#define MC_SDP_CANDIDATE_LEN 512  /* buffer per candidate value, as MC_ICE_CANDIDATE_STRLEN */

enum mc_sdp_dir {
  MC_SDP_DIR_NONE = 0, /* no direction attribute present */
  MC_SDP_DIR_SENDRECV,
  MC_SDP_DIR_SENDONLY,
  MC_SDP_DIR_RECVONLY,
  MC_SDP_DIR_INACTIVE,
};

enum mc_sdp_setup {
  MC_SDP_SETUP_NONE = 0, /* no a=setup present */
  MC_SDP_SETUP_ACTPASS,
  MC_SDP_SETUP_ACTIVE,
  MC_SDP_SETUP_PASSIVE,
  MC_SDP_SETUP_HOLDCONN,
};

enum mc_sdp_proto {
  MC_SDP_PROTO_OTHER = 0,     /* kept as text in proto_text */
  MC_SDP_PROTO_RTP_SAVPF,     /* UDP/TLS/RTP/SAVPF */
  MC_SDP_PROTO_DTLS_SCTP,     /* UDP/DTLS/SCTP */
  MC_SDP_PROTO_TCP_DTLS_SCTP, /* TCP/DTLS/SCTP (RFC 8841 4.2) */
  MC_SDP_PROTO_LEGACY_SCTP,   /* DTLS/SCTP: format is the SCTP port (draft-ietf-mmusic-sctp-sdp-05) */
};

/* The enum for a proto token as sent ("UDP/DTLS/SCTP" ...), OTHER if none. */
enum mc_sdp_proto mc_sdp_proto_of(const char *text);
/* True for the three SCTP-over-DTLS protos above. */
bool mc_sdp_proto_is_sctp(enum mc_sdp_proto p);

/* c= line (RFC 8866 5.7). address may carry "/ttl" as sent. */
typedef struct {
  bool present;
  char nettype[8];
  char addrtype[8];
  char address[64];
} mc_sdp_conn;

/* The ICE and DTLS attributes that may sit at session or media level. */
typedef struct {
  char ice_ufrag[257]; /* RFC 8839 5.4: up to 256 chars */
  char ice_pwd[257];   /* never log this */
  char ice_options[128];
  bool has_fingerprint;
  char fp_algorithm[16]; /* as sent, e.g. "sha-256" */
  uint8_t fp[MC_SDP_MAX_FINGERPRINT];
  size_t fp_len;
  enum mc_sdp_setup setup;
} mc_sdp_transport;

typedef struct {
  char fmt[32];          /* the m= line token, e.g. "111" or "webrtc-datachannel" */
  int pt;                /* payload type 0..127 for RTP protos, -1 otherwise */
  bool has_rtpmap;
  char encoding[32];     /* "opus", "VP8", "rtx" */
  uint32_t clock_rate;
  uint32_t channels;     /* 0 when the rtpmap has no channels field */
  bool has_fmtp;
  char fmtp[256];        /* parameters as sent, e.g. "minptime=10;useinbandfec=1" */
  int rtcp_fb_count;
  char rtcp_fb[MC_SDP_MAX_RTCP_FB][32]; /* "nack", "nack pli", "ccm fir", ... */
} mc_sdp_payload;

typedef struct {
  int id;                 /* 1..255 (RFC 8285 5) */
  enum mc_sdp_dir dir;    /* MC_SDP_DIR_NONE when absent */
  char uri[128];
  char attributes[128];   /* extension attributes after the uri, "" if none */
} mc_sdp_extmap;

typedef struct {
  uint32_t ssrc;
  char cname[128];
  char msid[160];         /* "stream-id track-id" as sent after "msid:" */
} mc_sdp_ssrc;

typedef struct {
  char semantics[16];     /* "FID", "SIM", ... */
  int count;
  uint32_t ssrcs[MC_SDP_MAX_GROUP_SSRCS];
} mc_sdp_ssrc_group;

typedef struct {
  char semantics[16];     /* "BUNDLE", "LS" */
  int count;
  char mids[MC_SDP_MAX_GROUP_MIDS][33];
} mc_sdp_group;

typedef struct {
  char media[16];         /* "audio", "video", "application" */
  uint16_t port;          /* 0 = rejected m-line, 9 = bundled/trickle */
  uint16_t port_count;    /* 0 when no "/n" */
  enum mc_sdp_proto proto;
  char proto_text[32];
  int fmt_count;
  mc_sdp_payload fmts[MC_SDP_MAX_FMT];
  int rtcp_fb_all_count;  /* a=rtcp-fb:* values */
  char rtcp_fb_all[MC_SDP_MAX_RTCP_FB][32];
  mc_sdp_conn conn;
  char mid[33];           /* RFC 9143 says 1-32 chars; "" when absent */
  mc_sdp_transport transport;
  enum mc_sdp_dir dir;
  bool rtcp_mux, rtcp_rsize, extmap_allow_mixed, end_of_candidates;
  int msid_count;
  char msid[MC_SDP_MAX_MSID][160];
  int extmap_count;
  mc_sdp_extmap extmaps[MC_SDP_MAX_EXTMAP];
  int ssrc_count;
  mc_sdp_ssrc ssrcs[MC_SDP_MAX_SSRC];
  int ssrc_group_count;
  mc_sdp_ssrc_group ssrc_groups[MC_SDP_MAX_SSRC_GROUP];
  int candidate_count;
  /* the value after "candidate:", as sent: mc_ice_candidate_parse validates */
  char candidates[MC_SDP_MAX_CANDIDATES][MC_SDP_CANDIDATE_LEN];
  bool has_sctp_port;
  uint16_t sctp_port;
  bool has_max_message_size;
  uint64_t max_message_size; /* 0 = no limit (RFC 8841 6) */
  /* a=sctpmap:<port> <app> [<value>] of the DTLS/SCTP form; the last one
   * wins. The value is a stream count to some senders and a message size
   * to others: kept as sent, read by nobody. */
  bool has_sctpmap;
  uint16_t sctpmap_port;
  char sctpmap_app[32];     /* "webrtc-datachannel" */
  bool has_sctpmap_value;
  uint64_t sctpmap_value;
  bool bundle_only;         /* a=bundle-only (RFC 9143 6) */
} mc_sdp_media;

typedef struct {
  /* o= (RFC 8866 5.2) */
  char origin_user[64];
  char origin_sess_id[32];
  char origin_sess_version[32];
  char origin_nettype[8];
  char origin_addrtype[8];
  char origin_address[64];
  char session_name[128]; /* s= */
  uint64_t t_start, t_stop;
  mc_sdp_conn conn;
  int group_count;
  mc_sdp_group groups[MC_SDP_MAX_GROUPS];
  bool extmap_allow_mixed;
  bool has_msid_semantic;
  char msid_semantic[160]; /* value as sent, e.g. " WMS stream-id" */
  mc_sdp_transport transport;
  enum mc_sdp_dir dir;
  int media_count;
  mc_sdp_media media[MC_SDP_MAX_MEDIA];
} mc_sdp;

/* Parses an SDP blob (CRLF or LF line endings) into *out, which is fully
 * overwritten. On failure returns MC_EPARSE (malformed) or MC_ETOOBIG (a
 * limit above exceeded), sets *err_line to the 1-based line number (0 when
 * not about one line) and writes a one-sentence reason into why (either
 * out-param may be NULL). */
int mc_sdp_parse(const uint8_t *buf, size_t len, mc_sdp *out, int *err_line, char *why, size_t why_cap);

/* Writes the model as SDP text with CRLF line endings, NUL-terminated.
 * *out_len (may be NULL) gets the length without the NUL. MC_ETOOBIG when it
 * does not fit cap. mc_sdp_parse reads the result back to an equal model. */
int mc_sdp_write(const mc_sdp *sdp, char *out, size_t cap, size_t *out_len);

/* True when both models hold the same values. Both must have been produced by
 * mc_sdp_parse or zeroed (calloc/memset) before being filled in. */
bool mc_sdp_equal(const mc_sdp *a, const mc_sdp *b);

/* The payload entry for pt in m, or NULL. */
const mc_sdp_payload *mc_sdp_payload_find(const mc_sdp_media *m, int pt);

/* The m= section whose a=mid is mid, or NULL. */
const mc_sdp_media *mc_sdp_media_find(const mc_sdp *sdp, const char *mid);

/* ---- JSEP (RFC 9429) offer/answer, both roles ----
 * One mc_jsep per peer connection. It builds offers and answers as mc_sdp
 * models from our transceivers and checks the peer's, and keeps what the
 * last complete exchange agreed (mc_jsep_media, mc_jsep_transport). Always
 * max-bundle (one ICE/DTLS transport: the first bundled m-line's), rtcp-mux,
 * trickle ICE (no candidates in our SDP: they go separately). Codecs: Opus
 * 48000/2 (useinbandfec=1) and VP8 with nack, nack pli, ccm fir, goog-remb,
 * transport-cc, plus RTX for VP8 (audio gets transport-cc only: no audio
 * retransmission); anything else in an offer is answered
 * without it, and an m-line with nothing we support is rejected (port 0).
 * Header extensions: an answer carries only extensions the offer had and we
 * know (mid, abs-send-time, transport-wide-cc), with the offer's ids.
 * Data: offers say UDP/DTLS/SCTP with a=sctp-port and a=max-message-size;
 * an offer's data m-line in UDP/DTLS/SCTP or TCP/DTLS/SCTP (a=sctp-port
 * absent: port 5000) is answered in that form, one in the older DTLS/SCTP
 * form (format = SCTP port, a=sctpmap) in the older form. A rejected m-line
 * keeps the offer's media, proto, first format and mid, with port 0; an
 * offered port-0 m-line with a=bundle-only inside the BUNDLE group is
 * bundled, not rejected. */
enum mc_media_kind { MC_MEDIA_AUDIO = 0, MC_MEDIA_VIDEO, MC_MEDIA_DATA };
const char *mc_media_kind_name(enum mc_media_kind k); /* "audio", "video", "application" */

enum mc_sdp_type { MC_SDP_OFFER = 0, MC_SDP_ANSWER };
const char *mc_sdp_type_name(enum mc_sdp_type t); /* "offer", "answer" */

/* Like RTCSignalingState (no pranswer). */
enum mc_jsep_state { MC_JSEP_STABLE = 0, MC_JSEP_HAVE_LOCAL_OFFER, MC_JSEP_HAVE_REMOTE_OFFER };
const char *mc_jsep_state_name(enum mc_jsep_state s); /* "stable", "have-local-offer", ... */

#define MC_JSEP_ID_MAX 64 /* msid stream/track id length */
#define MC_JSEP_EXT_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define MC_JSEP_EXT_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define MC_JSEP_EXT_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

/* A track we send on an audio or video transceiver. */
struct mc_jsep_track {
  uint32_t ssrc;
  uint32_t rtx_ssrc;                  /* video: RTX stream (ssrc-group FID); 0 for audio */
  char stream_id[MC_JSEP_ID_MAX + 1]; /* a=msid stream id */
  char track_id[MC_JSEP_ID_MAX + 1];  /* a=msid track id */
};

/* One m-line as agreed (or, before the first answer, as offered). */
typedef struct {
  char mid[33];
  enum mc_media_kind kind;
  bool rejected;         /* port 0: nothing flows */
  enum mc_sdp_dir dir;   /* our point of view: SENDRECV, SENDONLY, RECVONLY or INACTIVE */
  bool has_track;        /* we send a track here */
  struct mc_jsep_track track;
  /* audio/video; -1 or 0 when not negotiated */
  int pt;                /* Opus or VP8 payload type */
  int rtx_pt;            /* VP8's RTX payload type */
  bool opus_fec;         /* the peer asked for in-band FEC */
  bool fb_nack, fb_pli, fb_fir, fb_remb, fb_twcc;
  int ext_mid, ext_abs_send_time, ext_twcc; /* extmap ids, 0 = not negotiated */
  uint32_t remote_ssrc, remote_rtx_ssrc;    /* from the peer's a=ssrc / ssrc-group FID, 0 = unknown */
  char remote_msid[160];                    /* "stream-id track-id", "" = none */
  /* application: the SCTP ports of both descriptions, whichever form they
   * used (a=sctp-port, or the DTLS/SCTP format) */
  uint16_t local_sctp_port;
  uint16_t remote_sctp_port;
  uint64_t remote_max_message_size; /* MC_SCTP default 65536 when absent, 0 = unlimited */
} mc_jsep_media;

/* The one bundled transport, from the peer's last description. */
struct mc_jsep_transport {
  char remote_ufrag[257];
  char remote_pwd[257];       /* never log */
  char remote_fp_algorithm[16];
  uint8_t remote_fp[MC_SDP_MAX_FINGERPRINT];
  size_t remote_fp_len;
  bool dtls_client;           /* we send the ClientHello (we are a=setup:active) */
  bool ice_restart;           /* the last remote description changed ufrag/pwd */
  int candidate_count;        /* candidates that came inside the SDP */
  char candidates[MC_SDP_MAX_CANDIDATES][MC_SDP_CANDIDATE_LEN];
  bool end_of_candidates;
};

struct mc_jsep_config {
  const char *ice_ufrag, *ice_pwd;  /* copied */
  const uint8_t *fingerprint;       /* SHA-256 of our DTLS certificate */
  size_t fingerprint_len;
  const char *cname;                /* RTCP CNAME for our a=ssrc lines; NULL: random */
  bool remb_only;                   /* no transport-cc nor its extension (tests) */
};

typedef struct mc_jsep mc_jsep;

int mc_jsep_new(const struct mc_jsep_config *config, mc_jsep **out);
void mc_jsep_free(mc_jsep *j);
/* New local ICE credentials (ICE restart): the next offer carries them. */
int mc_jsep_set_ice_credentials(mc_jsep *j, const char *ufrag, const char *pwd);

/* A new audio or video transceiver with a track to send (track NULL: receive
 * only). *index_out (may be NULL) is its index for mc_jsep_media_at. */
int mc_jsep_add_transceiver(mc_jsep *j, enum mc_media_kind kind, const struct mc_jsep_track *track,
                            int *index_out);
/* Puts a track on transceiver index, or removes it (track NULL): the next
 * offer's direction changes accordingly (renegotiation). */
int mc_jsep_set_track(mc_jsep *j, int index, const struct mc_jsep_track *track);
/* The next offer carries an application m-line (once). */
int mc_jsep_add_data(mc_jsep *j);
/* True when a transceiver, track or data m-line changed since the last
 * complete exchange (like onnegotiationneeded), or new ICE credentials wait.
 * Always false while an exchange is in progress: ask again once stable. */
bool mc_jsep_negotiation_needed(const mc_jsep *j);

/* Offer: from stable (or again from have-local-offer). m-lines keep their
 * order and mids across renegotiations; new transceivers are appended
 * (reusing a rejected m-line's slot is not done). a=setup:actpass. */
int mc_jsep_create_offer(mc_jsep *j, mc_sdp *out);
/* Answer: from have-remote-offer. a=setup:active when the offer said actpass
 * or passive, passive when it said active; on actpass in a renegotiation the
 * DTLS role of the last exchange is kept. Remote m-lines without a matching
 * transceiver get one, receive only: a transceiver of ours that has no m-line
 * yet (same kind, lowest index) when we can accept the m-line, else a new
 * one. Indices never change: when the peer reuses a rejected m-line's slot,
 * a new transceiver takes it; the old one stays rejected and
 * mc_jsep_media_index no longer finds its mid.
 * The answer to an offer that restarts ICE carries new local credentials
 * (those of mc_jsep_set_ice_credentials, else random ones): the ICE agent
 * reads them from the answer's a=ice-ufrag/a=ice-pwd. */
int mc_jsep_create_answer(mc_jsep *j, mc_sdp *out);
/* Applies our description (the one just created, possibly as modified by
 * the caller): offer -> have-local-offer, answer -> stable. MC_ESTATE in the
 * wrong state, MC_EINVAL when its m-lines or mids are not the expected ones. */
int mc_jsep_set_local(mc_jsep *j, enum mc_sdp_type type, const mc_sdp *sdp);
/* Applies the peer's description: offer (from stable, or replacing a
 * pending remote offer) -> have-remote-offer, answer (from have-local-offer)
 * -> stable. Refuses with MC_EINVAL and one sentence in why (may be NULL)
 * when it cannot be used: wrong state, no ice-ufrag/pwd, no or unsupported
 * fingerprint, a=setup:actpass in an answer, no BUNDLE with m-lines on
 * different transports, m-lines without a unique token a=mid, an offer that
 * drops or moves m-lines of the session, an answer whose m-lines do not
 * match the offer's or lack rtcp-mux, a codec in an answer that was not
 * offered. A refused description changes nothing. */
int mc_jsep_set_remote(mc_jsep *j, enum mc_sdp_type type, const mc_sdp *sdp, char *why, size_t why_cap);

enum mc_jsep_state mc_jsep_state(const mc_jsep *j);
int mc_jsep_media_count(const mc_jsep *j);
const mc_jsep_media *mc_jsep_media_at(const mc_jsep *j, int index);
/* The index of the transceiver with this mid, or MC_ENOTFOUND. */
int mc_jsep_media_index(const mc_jsep *j, const char *mid);
/* The bundled transport; MC_ESTATE before a remote description was set. */
int mc_jsep_transport(const mc_jsep *j, const struct mc_jsep_transport **out);

#endif
