/* SDP (RFC 8866) model, parser and writer for what WebRTC browsers send:
 * BUNDLE (RFC 9143), ICE attributes (RFC 8839), DTLS fingerprint/setup
 * (RFC 8122, RFC 5763), rtcp-mux (RFC 5761), rtcp-rsize (RFC 5506), msid
 * (RFC 8830), ssrc and ssrc-group (RFC 5576), rtpmap/fmtp (RFC 8866 6.6,
 * 6.15), rtcp-fb (RFC 4585), extmap (RFC 8285), SCTP over DTLS (RFC 8841).
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
};

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

#endif
