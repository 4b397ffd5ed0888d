/* rtp: RTP and RTCP codecs, VP8 and Opus payloads, receive statistics,
 * jitter buffers, NACK/RTX history, transport-wide congestion control
 * feedback, bandwidth estimation, pacing and lip sync. Pure C over byte buffers, above srtp (packets here are plain:
 * unprotect before parsing, protect after writing) and below sdp/pc.
 *
 * Small modules with one job each, in the spirit of Pion's interceptors:
 *
 *   packet     mc_rtp_parse / mc_rtp_write, header extensions (RFC 3550 5.1,
 *              RFC 8285), mid / abs-send-time / transport-wide seq helpers
 *   rtcp       mc_rtcp_parse (compound, all-or-nothing) and one writer per
 *              packet type: SR, RR, SDES, BYE, NACK, PLI, FIR, REMB, TWCC
 *   stats      mc_rtp_recv_stats: RFC 3550 A.1/A.3/A.8 per SSRC, report
 *              blocks for RR, RTT from LSR/DLSR
 *   vp8, opus  RFC 7741 packetizer/depacketizer, RFC 7587 helper
 *   vjb        video jitter buffer: frames in decode order, NACK list, PLI
 *   history    sender history for NACK answered by RTX (RFC 4588)
 *   ajb        adaptive audio jitter buffer for 20 ms Opus frames
 *   twcc       receive side of transport-wide CC: arrivals -> feedback
 *   bwe        sender-side bandwidth estimate (delay trendline, loss bound,
 *              REMB) and the receive-side estimate sent as REMB
 *   pacer      leaky bucket: audio, then retransmissions, then new video
 *   sync       lip sync from sender reports (RFC 3550 6.4.1) and the
 *              video bit rate / size / frame rate fit to an estimate
 *
 * How pc wires them (plain packets: srtp protects after, unprotects before):
 *   send video   mc_vp8_packetize -> mc_rtp_ext_set (mid, abs-send-time,
 *                twcc seq) -> mc_rtp_write -> mc_rtp_history_put -> srtp
 *   send audio   opus packet -> mc_rtp_write (ts += mc_opus_packet_samples)
 *   receive      mc_rtp_parse -> mc_rtp_recv_stats_update,
 *                mc_twcc_recorder_record, mc_vjb_push_vp8 | mc_ajb_push;
 *                mc_rtx_unwrap first for the RTX payload type
 *   RTCP in      mc_rtcp_parse: NACK -> mc_rtcp_nack_seqs ->
 *                mc_rtp_history_rtx; PLI/FIR -> encoder key frame;
 *                SR -> mc_rtp_recv_stats_on_sr; RR -> mc_rtcp_rtt_us ->
 *                mc_vjb_set_rtt
 *   timers       mc_vjb_nack_list -> mc_rtcp_write_nack;
 *                mc_vjb_keyframe_request -> mc_rtcp_write_pli;
 *                mc_twcc_recorder_build every MC_TWCC_FEEDBACK_INTERVAL_MS;
 *                SR/RR about every second with
 *                mc_rtp_recv_stats_report_block; decode: mc_vjb_pop,
 *                audio: mc_ajb_pop every 20 ms.
 *
 * No sockets, no threads and no clock reads: every function that needs the
 * time takes it from the caller (now_ms / now_us on a monotonic clock, or
 * an NTP timestamp where RFC 3550 wants wall-clock time), so everything runs
 * under a fake clock in tests. One owner per object (the net thread). */
#ifndef MC_RTP_H
#define MC_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "medcall/errors.h"

/* ======================================================================
 * RTP packet (RFC 3550 5.1) and header extensions (RFC 8285)
 * ====================================================================== */

#define MC_RTP_HEADER_LEN 12
#define MC_RTP_MAX_CSRC 15
#define MC_RTP_MAX_EXT 16              /* extensions kept per packet; more is MC_EPARSE */
#define MC_RTP_EXT_PROFILE_ONE_BYTE 0xBEDE /* RFC 8285 4.2 */
#define MC_RTP_EXT_PROFILE_TWO_BYTE 0x1000 /* RFC 8285 4.3: 0x100 + 4-bit appbits */
#define MC_RTP_MTU_PAYLOAD 1200        /* payload bytes we put in one packet by default */

/* One header extension element. data points into the parsed buffer (parse)
 * or into caller memory that must live until mc_rtp_write (write). */
struct mc_rtp_ext {
  uint8_t id;  /* 1..14 one-byte form, 1..255 two-byte form */
  uint8_t len; /* 1..16 one-byte form, 0..255 two-byte form */
  const uint8_t *data;
};

struct mc_rtp_header {
  bool marker;
  uint8_t pt; /* 0..127 */
  uint16_t seq;
  uint32_t ts;
  uint32_t ssrc;
  uint8_t csrc_count;
  uint32_t csrc[MC_RTP_MAX_CSRC];
  /* 0: no extension. MC_RTP_EXT_PROFILE_ONE_BYTE / _TWO_BYTE: elements in
   * ext[]. On write, 0 with ext_count > 0 picks one-byte when every element
   * fits it (id 1..14, len 1..16) and two-byte otherwise. Any other profile
   * is kept opaque in ext_raw (RFC 3550 5.3.1); profile 0 is skipped. */
  uint16_t ext_profile;
  uint8_t ext_count;
  struct mc_rtp_ext ext[MC_RTP_MAX_EXT];
  const uint8_t *ext_raw; /* opaque profiles only: the extension body */
  size_t ext_raw_len;     /* multiple of 4 */
};

struct mc_rtp_packet {
  struct mc_rtp_header h;
  const uint8_t *payload; /* points into the parsed buffer / caller memory */
  size_t payload_len;
  uint8_t padding_len; /* RFC 3550 5.1 P bit: 0 none; on write 1..255 pad bytes */
};

/* RFC 3550 5.1 and RFC 8285. Checks version 2, that CSRCs, the extension
 * and the padding count (last byte, at least 1, within the packet) all fit
 * in len, and that extension elements fit their block. One-byte elements
 * with id 0 are padding; id 15 ends the block (RFC 8285 4.2). */
int mc_rtp_parse(const uint8_t *buf, size_t len, struct mc_rtp_packet *out);
/* Serialises p; *out_len is the packet length. MC_ETOOBIG when cap is short,
 * MC_EINVAL for fields out of range (pt > 127, an element that fits neither
 * form, csrc_count > 15, ext_raw_len not a multiple of 4). */
int mc_rtp_write(const struct mc_rtp_packet *p, uint8_t *buf, size_t cap, size_t *out_len);
/* Bytes mc_rtp_write needs for p. */
size_t mc_rtp_write_len(const struct mc_rtp_packet *p);

/* The element with this id, or NULL. */
const struct mc_rtp_ext *mc_rtp_ext_find(const struct mc_rtp_header *h, uint8_t id);
/* Sets (replaces or appends) an element; data is borrowed until write.
 * MC_ETOOBIG when MC_RTP_MAX_EXT elements are already there. */
int mc_rtp_ext_set(struct mc_rtp_header *h, uint8_t id, const uint8_t *data, size_t len);
/* Overwrites, in a serialised packet, the data of the element with this id
 * when it has exactly len bytes (e.g. the transport-wide sequence number
 * assigned at send time, or a fresh one on an RTX copy). MC_ENOTFOUND when
 * the packet has no such element of that size. */
int mc_rtp_ext_rewrite(uint8_t *buf, size_t len, uint8_t id, const uint8_t *data, size_t data_len);

/* urn:ietf:params:rtp-hdrext:sdes:mid (RFC 8843 15): NUL-terminated copy.
 * MC_ENOTFOUND without it, MC_ETOOBIG when cap is short, MC_EPARSE when it
 * holds a NUL. */
int mc_rtp_ext_get_mid(const struct mc_rtp_header *h, uint8_t id, char *out, size_t cap);
/* http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time: 24 bits,
 * 6.18 fixed point seconds. */
int mc_rtp_ext_get_abs_send_time(const struct mc_rtp_header *h, uint8_t id, uint32_t *out);
/* abs-send-time of a time in microseconds (any epoch; the field wraps every 64 s). */
uint32_t mc_rtp_abs_send_time_from_us(uint64_t us);
void mc_rtp_abs_send_time_encode(uint32_t v, uint8_t out[3]);
/* draft-holmer-rmcat-transport-wide-cc-extensions-01 2: 16-bit sequence. */
int mc_rtp_ext_get_twcc_seq(const struct mc_rtp_header *h, uint8_t id, uint16_t *out);
void mc_rtp_twcc_seq_encode(uint16_t seq, uint8_t out[2]);

/* Sequence arithmetic with wrap (RFC 3550 A.1): a is newer than b when the
 * forward distance from b to a is below 2^15. */
static inline bool mc_rtp_seq_newer(uint16_t a, uint16_t b) { return a != b && (uint16_t)(a - b) < 0x8000; }
static inline bool mc_rtp_ts_newer(uint32_t a, uint32_t b) { return a != b && (uint32_t)(a - b) < 0x80000000u; }

/* Extends a 16-bit seq to 64 bits next to the newest extended value seen
 * (*last, or the first value when *valid is false). */
int64_t mc_rtp_seq_unwrap(int64_t *last, bool *valid, uint16_t seq);

/* ======================================================================
 * RTCP (RFC 3550 6, RFC 4585, RFC 5104, REMB, transport-wide CC)
 * ====================================================================== */

enum mc_rtcp_type {
  MC_RTCP_SR = 200,
  MC_RTCP_RR = 201,
  MC_RTCP_SDES = 202,
  MC_RTCP_BYE = 203,
  MC_RTCP_APP = 204,
  MC_RTCP_RTPFB = 205, /* RFC 4585 6.1: FMT 1 generic NACK, 15 TWCC */
  MC_RTCP_PSFB = 206,  /* FMT 1 PLI, 4 FIR, 15 application layer (REMB) */
};

/* What mc_rtcp_parse reports for each packet of a compound. */
enum mc_rtcp_kind {
  MC_RTCP_KIND_SR = 1,
  MC_RTCP_KIND_RR,
  MC_RTCP_KIND_SDES,
  MC_RTCP_KIND_BYE,
  MC_RTCP_KIND_NACK,
  MC_RTCP_KIND_PLI,
  MC_RTCP_KIND_FIR,
  MC_RTCP_KIND_REMB,
  MC_RTCP_KIND_TWCC,
  MC_RTCP_KIND_OTHER, /* well framed but not one we read (APP, XR, other FMTs) */
};

#define MC_RTCP_MAX_RB 31         /* 5-bit RC */
#define MC_RTCP_MAX_SDES_CHUNKS 31
#define MC_RTCP_MAX_FIR 16        /* FIR entries kept; more are ignored */
#define MC_RTCP_MAX_REMB_SSRC 16  /* REMB SSRCs kept; more are ignored */

/* RFC 3550 6.4.1 report block. */
struct mc_rtcp_report_block {
  uint32_t ssrc;
  uint8_t fraction_lost;   /* 8-bit fixed point (lost/expected * 256) */
  int32_t cumulative_lost; /* 24-bit signed */
  uint32_t highest_seq;    /* extended highest sequence number received */
  uint32_t jitter;         /* interarrival jitter in timestamp units */
  uint32_t lsr;            /* middle 32 bits of the last SR's NTP time */
  uint32_t dlsr;           /* delay since that SR, 1/65536 s */
};

struct mc_rtcp_sr {
  uint32_t ssrc;
  uint64_t ntp; /* NTP timestamp, 32.32 */
  uint32_t rtp_ts;
  uint32_t packet_count;
  uint32_t octet_count;
  uint8_t rb_count;
  struct mc_rtcp_report_block rb[MC_RTCP_MAX_RB];
};

struct mc_rtcp_rr {
  uint32_t ssrc;
  uint8_t rb_count;
  struct mc_rtcp_report_block rb[MC_RTCP_MAX_RB];
};

/* RFC 3550 6.5: CNAME of each chunk (items other than CNAME are skipped). */
struct mc_rtcp_sdes {
  uint8_t chunk_count;
  struct {
    uint32_t ssrc;
    const uint8_t *cname; /* into the parsed buffer, not NUL-terminated; NULL without CNAME */
    uint8_t cname_len;
  } chunk[MC_RTCP_MAX_SDES_CHUNKS];
};

struct mc_rtcp_bye {
  uint8_t count;
  uint32_t ssrc[31];
  const uint8_t *reason; /* NULL or into the buffer */
  uint8_t reason_len;
};

/* RFC 4585 6.2.1: FCI is pairs of PID and BLP; see mc_rtcp_nack_seqs. */
struct mc_rtcp_nack {
  uint32_t sender_ssrc, media_ssrc;
  const uint8_t *fci; /* into the parsed buffer: pair_count * 4 bytes */
  size_t pair_count;
};

/* RFC 4585 6.3.1 */
struct mc_rtcp_pli {
  uint32_t sender_ssrc, media_ssrc;
};

/* RFC 5104 4.3.1 */
struct mc_rtcp_fir {
  uint32_t sender_ssrc;
  uint8_t count;
  struct {
    uint32_t ssrc;
    uint8_t seq_nr;
  } entry[MC_RTCP_MAX_FIR];
};

/* draft-alvestrand-rmcat-remb-03 2.2 */
struct mc_rtcp_remb {
  uint32_t sender_ssrc;
  uint64_t bitrate_bps; /* mantissa << exp, up to 2^18-1 << 63: saturates at UINT64_MAX */
  uint8_t ssrc_count;
  uint32_t ssrc[MC_RTCP_MAX_REMB_SSRC];
};

/* draft-holmer-rmcat-transport-wide-cc-extensions-01 3.1. The chunks and
 * deltas are checked by mc_rtcp_parse; expand them with mc_rtcp_twcc_decode. */
struct mc_rtcp_twcc {
  uint32_t sender_ssrc, media_ssrc;
  uint16_t base_seq;
  uint16_t status_count;
  int32_t reference_time; /* 24-bit signed, multiples of 64 ms */
  uint8_t fb_count;
  const uint8_t *body; /* chunks then deltas, into the parsed buffer */
  size_t body_len;
};

struct mc_rtcp_packet {
  enum mc_rtcp_kind kind;
  uint8_t type; /* RFC 3550 PT: 200.. */
  uint8_t fmt;  /* RC / FMT field */
  union {
    struct mc_rtcp_sr sr;
    struct mc_rtcp_rr rr;
    struct mc_rtcp_sdes sdes;
    struct mc_rtcp_bye bye;
    struct mc_rtcp_nack nack;
    struct mc_rtcp_pli pli;
    struct mc_rtcp_fir fir;
    struct mc_rtcp_remb remb;
    struct mc_rtcp_twcc twcc;
  } u;
  const uint8_t *raw; /* the whole packet inside the compound */
  size_t raw_len;
};

typedef void (*mc_rtcp_on_packet)(const struct mc_rtcp_packet *p, void *user);

/* Parses a compound RTCP packet (RFC 3550 6.1, with RFC 5506 reduced size:
 * any first packet, one packet alone). Every packet must be version 2, its
 * length must chain exactly to len, padding only in the last; each known
 * type must parse. All or nothing: when anything is wrong nothing is
 * reported and MC_EPARSE returned; otherwise on_packet runs once per packet
 * in order. */
int mc_rtcp_parse(const uint8_t *buf, size_t len, mc_rtcp_on_packet on_packet, void *user);

/* Writers: each appends one RTCP packet at buf (cap bytes), *out_len its
 * length; MC_ETOOBIG when it does not fit. A compound is these written one
 * after another. */
int mc_rtcp_write_sr(const struct mc_rtcp_sr *sr, uint8_t *buf, size_t cap, size_t *out_len);
int mc_rtcp_write_rr(const struct mc_rtcp_rr *rr, uint8_t *buf, size_t cap, size_t *out_len);
/* One chunk with a CNAME item (cname_len 1..255). */
int mc_rtcp_write_sdes_cname(uint32_t ssrc, const char *cname, uint8_t *buf, size_t cap, size_t *out_len);
int mc_rtcp_write_bye(const uint32_t *ssrc, size_t count, const char *reason, uint8_t *buf, size_t cap,
                      size_t *out_len);
/* Generic NACK for these sequence numbers (any order, duplicates fine):
 * packs them into PID+BLP pairs. */
int mc_rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seqs, size_t count,
                       uint8_t *buf, size_t cap, size_t *out_len);
/* Expands the FCI of a parsed NACK into sequence numbers, PID order. */
int mc_rtcp_nack_seqs(const struct mc_rtcp_nack *n, uint16_t *out, size_t cap, size_t *out_count);
int mc_rtcp_write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *buf, size_t cap, size_t *out_len);
int mc_rtcp_write_fir(const struct mc_rtcp_fir *fir, uint8_t *buf, size_t cap, size_t *out_len);
int mc_rtcp_write_remb(const struct mc_rtcp_remb *remb, uint8_t *buf, size_t cap, size_t *out_len);

/* One packet's fate in transport-wide feedback. */
struct mc_twcc_status {
  uint16_t seq;
  bool received;
  int64_t arrival_us; /* received only: reference_time*64 ms + sum of deltas */
};
/* Builds TWCC feedback for status_count packets; st[i] must be packet
 * st[0].seq + i (base_seq is st[0].seq). Received ones carry arrival_us in
 * any time base; it is floored to 250 us ticks (exact for multiples of
 * 250). The reference time is the first received arrival floored to 64 ms,
 * taken mod 2^24 as the field is; so decoded arrival times equal the
 * written ones up to a common shift. Chunks: run-length for runs of 14 or
 * more (or 7 or more among large deltas), else 14 one-bit or 7 two-bit
 * symbols. MC_EINVAL when a delta does not fit 16 bits signed (±8.19 s:
 * callers split there, as mc_twcc_recorder does), MC_ETOOBIG when cap is
 * short. */
int mc_rtcp_write_twcc(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t fb_count, const struct mc_twcc_status *st,
                       size_t status_count, uint8_t *buf, size_t cap, size_t *out_len);
/* Expands parsed feedback: out[i] for packet base_seq+i, arrival_us =
 * reference_time * 64 ms + the sum of deltas up to it (250 us each).
 * MC_ETOOBIG when cap < status_count (*out_count says how many). */
int mc_rtcp_twcc_decode(const struct mc_rtcp_twcc *fb, struct mc_twcc_status *out, size_t cap, size_t *out_count);

/* NTP helpers (RFC 3550 4): 32.32 fixed point seconds since 1900. */
uint64_t mc_ntp_from_unix_us(uint64_t unix_us);
static inline uint32_t mc_ntp_compact(uint64_t ntp) { return (uint32_t)(ntp >> 16); }

/* RFC 3550 6.4.1: round trip from a report block about our stream, received
 * when our wall clock read now_ntp: A - LSR - DLSR in microseconds.
 * MC_ENOTFOUND when lsr is 0 (no SR seen by the peer yet), MC_EINVAL when
 * the result is negative (clock trouble). */
int mc_rtcp_rtt_us(const struct mc_rtcp_report_block *rb, uint64_t now_ntp, uint64_t *rtt_us);

/* ======================================================================
 * Receive statistics per SSRC (RFC 3550 A.1, A.3, A.8)
 * ====================================================================== */

#define MC_RTP_MAX_DROPOUT 3000 /* RFC 3550 A.1 */
#define MC_RTP_MAX_MISORDER 100

/* Plain struct owned by the caller; fields are private to stats.c except
 * those documented. No probation (A.1 MIN_SEQUENTIAL): SRTP has already
 * authenticated the source. */
struct mc_rtp_recv_stats {
  uint32_t ssrc;
  uint32_t clock_rate;
  bool started;
  uint16_t max_seq;
  uint32_t cycles; /* count of wraps << 16 */
  uint32_t base_seq;
  uint32_t bad_seq;
  uint64_t received;       /* packets received (duplicates included, as A.3) */
  uint64_t bytes;          /* payload bytes received */
  uint32_t expected_prior; /* at the last report block */
  uint64_t received_prior;
  int64_t transit;   /* A.8: previous transit, timestamp units */
  uint32_t jitter_q4; /* A.8: jitter * 16 */
  bool have_transit;
  uint64_t last_sr_ntp;   /* of the last SR received from this SSRC */
  uint64_t last_sr_at_us; /* our monotonic clock when it arrived */
  uint32_t last_sr_rtp_ts; /* the SR's RTP timestamp: with last_sr_ntp, the
                              sender's clock mapping used for lip sync */
  bool have_sr;
};

void mc_rtp_recv_stats_init(struct mc_rtp_recv_stats *s, uint32_t ssrc, uint32_t clock_rate);
/* One received packet (after SRTP). */
void mc_rtp_recv_stats_update(struct mc_rtp_recv_stats *s, uint16_t seq, uint32_t rtp_ts, size_t payload_len,
                              uint64_t arrival_us);
/* An SR from this SSRC arrived at now_us: remembered for LSR/DLSR. */
void mc_rtp_recv_stats_on_sr(struct mc_rtp_recv_stats *s, uint64_t sr_ntp, uint32_t sr_rtp_ts, uint64_t now_us);
uint32_t mc_rtp_recv_stats_extended_max(const struct mc_rtp_recv_stats *s);
int64_t mc_rtp_recv_stats_lost(const struct mc_rtp_recv_stats *s); /* expected - received */
uint32_t mc_rtp_recv_stats_jitter(const struct mc_rtp_recv_stats *s); /* timestamp units */
/* Fills a report block for an RR/SR sent at now_us and starts the next
 * interval (fraction lost is over the interval, A.3). MC_ESTATE before the
 * first packet. */
int mc_rtp_recv_stats_report_block(struct mc_rtp_recv_stats *s, uint64_t now_us, struct mc_rtcp_report_block *rb);

/* ======================================================================
 * VP8 payload (RFC 7741)
 * ====================================================================== */

#define MC_VP8_DESCRIPTOR_LEN 4 /* what we write: X, I with M (15-bit picture id) */

/* RFC 7741 4.2 payload descriptor. */
struct mc_vp8_descriptor {
  bool non_reference;  /* N */
  bool start;          /* S: start of a VP8 partition */
  uint8_t partition_id;
  bool has_picture_id; /* I */
  bool picture_id_15;  /* M: 15-bit picture id */
  uint16_t picture_id;
  bool has_tl0picidx;  /* L */
  uint8_t tl0picidx;
  bool has_tid;        /* T */
  uint8_t tid;
  bool layer_sync;     /* Y */
  bool has_keyidx;     /* K */
  uint8_t keyidx;
  size_t header_len;   /* bytes of descriptor before the VP8 data */
  /* S set, PartID 0 and the VP8 payload header's P bit 0 (RFC 7741 4.3):
   * this packet starts a key frame. */
  bool keyframe;
  bool frame_start; /* S and PartID 0: first packet of a frame */
};

/* Parses the descriptor; MC_EPARSE when it runs past len or leaves no VP8
 * data. */
int mc_vp8_parse_descriptor(const uint8_t *payload, size_t len, struct mc_vp8_descriptor *out);

/* Packets of max_payload bytes (descriptor included) a frame of frame_len
 * bytes is split into; sizes are balanced (they differ by at most one). 0 when
 * max_payload <= MC_VP8_DESCRIPTOR_LEN or frame_len is 0. */
size_t mc_vp8_packet_count(size_t frame_len, size_t max_payload);
/* Writes packet index (0..count-1) of the frame: descriptor (X=1, I=1, M=1,
 * picture_id & 0x7fff, S=1 on packet 0, PartID 0) then its share of the
 * frame. *marker is true on the last packet (RFC 7741 4.1). */
int mc_vp8_packetize(uint16_t picture_id, const uint8_t *frame, size_t frame_len, size_t max_payload, size_t index,
                     uint8_t *out, size_t cap, size_t *out_len, bool *marker);

/* ======================================================================
 * Opus payload (RFC 7587): one Opus packet per RTP packet, 48 kHz clock
 * ====================================================================== */

#define MC_OPUS_CLOCK_RATE 48000 /* RFC 7587 4.1, whatever the coded rate */
#define MC_OPUS_FRAME_SAMPLES 960 /* 20 ms */

/* Samples at 48 kHz that an Opus packet covers, from its TOC byte and frame
 * count (RFC 6716 3.1): the RTP timestamp advance of the next packet.
 * MC_EPARSE for an empty or malformed packet or one over 120 ms. */
int mc_opus_packet_samples(const uint8_t *payload, size_t len, uint32_t *samples);

/* ======================================================================
 * Video jitter buffer: frames in decode order, NACK then PLI
 * ====================================================================== */

/* Policy (defaults in parentheses):
 * - A missing sequence number is NACKed at once, then again every
 *   max(rtt, nack_min_interval_ms) (20 ms) up to nack_max_retries (10)
 *   times; a gap wider than MC_VJB_MAX_NACK_LIST gives up on NACK and
 *   asks for a key frame.
 * - The frame the decoder needs next is waited for at most
 *   max(3 * rtt, frame_timeout_min_ms) (200 ms) from when it was first seen
 *   missing, or until every missing packet in front of the newest one has
 *   had its last NACK and one more RTT has passed. Then the buffer skips to
 *   the next complete key frame it holds, or else drops everything and
 *   waits for a key frame, asking for one (PLI).
 * - Key frame requests (mc_vjb_keyframe_request) are at most one per
 *   pli_min_interval_ms (300 ms: about one key frame's delivery on a slow
 *   link; Chromium's receiver uses a similar spacing), repeated while the
 *   wait lasts. The first frame emitted is always a key frame. */
#define MC_VJB_MAX_NACK_LIST 512

struct mc_vjb_config {
  size_t capacity;                /* packets held (power of two; 0: 1024) */
  uint32_t nack_max_retries;      /* 0: 10 */
  uint32_t nack_min_interval_ms;  /* 0: 20 */
  uint32_t frame_timeout_min_ms;  /* 0: 200 */
  uint32_t pli_min_interval_ms;   /* 0: 300 */
};

/* One depacketized packet: payload without the codec descriptor. A packet
 * with len 0 and neither frame_start nor marker is padding (RFC 3550 5.1,
 * as sent for bandwidth probing): it holds its seq between frames. */
struct mc_vjb_packet {
  uint16_t seq;
  uint32_t ts;
  bool marker;      /* last packet of its frame */
  bool frame_start; /* first packet of its frame */
  bool keyframe;    /* the frame is a key frame (known on frame_start) */
  const uint8_t *data;
  size_t len;
};

struct mc_vjb_frame {
  uint32_t ts;
  bool keyframe;
  size_t len;             /* bytes of the frame (also set on MC_ETOOBIG) */
  uint16_t first_seq, last_seq;
  uint64_t first_arrival_ms; /* of its earliest packet */
};

struct mc_vjb_stats {
  uint64_t packets, duplicates, late, frames_out, frames_dropped, nacks_sent, keyframe_requests;
};

typedef struct mc_vjb mc_vjb;

int mc_vjb_new(const struct mc_vjb_config *config, mc_vjb **out);
void mc_vjb_free(mc_vjb *j);
void mc_vjb_set_rtt(mc_vjb *j, uint32_t rtt_ms);
/* Copies the packet in. Duplicates, packets older than the last frame
 * emitted or dropped, and packets a capacity or more behind the newest are
 * dropped (return 0, counted in stats). A jump of more than
 * MC_VJB_MAX_NACK_LIST missing packets gives up on NACK for them and waits
 * for a key frame. */
int mc_vjb_push(mc_vjb *j, const struct mc_vjb_packet *p, uint64_t now_ms);
/* Depacketizes a VP8 RTP packet (RFC 7741) and pushes it; a padding-only
 * packet (no payload) is pushed as padding. MC_EPARSE for a bad
 * descriptor. */
int mc_vjb_push_vp8(mc_vjb *j, const struct mc_rtp_packet *p, uint64_t now_ms);
/* The next complete frame in decode order into buf: 0, MC_ENOTFOUND when
 * none is ready, MC_ETOOBIG when cap < frame->len (the frame stays). Also
 * applies the timeout policy above. */
int mc_vjb_pop(mc_vjb *j, uint64_t now_ms, uint8_t *buf, size_t cap, struct mc_vjb_frame *frame);
/* Sequence numbers to NACK now (each counted as sent). */
int mc_vjb_nack_list(mc_vjb *j, uint64_t now_ms, uint16_t *out, size_t cap, size_t *count);
/* True when a PLI should go out now (then counted as sent). */
bool mc_vjb_keyframe_request(mc_vjb *j, uint64_t now_ms);
void mc_vjb_get_stats(const mc_vjb *j, struct mc_vjb_stats *out);

/* ======================================================================
 * Sender history and RTX (RFC 4588)
 * ====================================================================== */

struct mc_rtp_history_config {
  size_t capacity;     /* packets (power of two; 0: 1024) */
  uint32_t max_age_ms; /* 0: 1000 */
  uint32_t rtx_ssrc;
  uint8_t rtx_pt;
  uint16_t rtx_first_seq; /* RFC 4588 8.3: random start */
};

typedef struct mc_rtp_history mc_rtp_history;

int mc_rtp_history_new(const struct mc_rtp_history_config *config, mc_rtp_history **out);
void mc_rtp_history_free(mc_rtp_history *h);
/* Keeps a copy of a plain (unprotected) RTP packet we sent at now_ms. */
int mc_rtp_history_put(mc_rtp_history *h, const uint8_t *pkt, size_t len, uint64_t now_ms);
/* RFC 4588 4: the RTX packet for the original seq: same header (timestamp,
 * marker, CSRCs, extensions) with rtx ssrc, rtx pt and the next RTX
 * sequence number; payload = original seq (2 bytes) then the original
 * payload; padding dropped. MC_ENOTFOUND when not held or older than
 * max_age_ms. */
int mc_rtp_history_rtx(mc_rtp_history *h, uint16_t seq, uint64_t now_ms, uint8_t *out, size_t cap,
                       size_t *out_len);
/* The RTX stream's next sequence number, taken: for padding-only packets
 * sent on the RTX SSRC (no OSN; WebRTC pads and probes the same way),
 * numbered in one sequence with the retransmissions. */
uint16_t mc_rtp_history_take_rtx_seq(mc_rtp_history *h);
/* Receive side (RFC 4588 4): rebuilds the original packet from an RTX one,
 * with the media ssrc and pt given (from the negotiated apt). */
int mc_rtx_unwrap(const uint8_t *rtx, size_t len, uint32_t media_ssrc, uint8_t media_pt, uint8_t *out, size_t cap,
                  size_t *out_len);

/* ======================================================================
 * Audio jitter buffer (adaptive) for 20 ms Opus packets
 * ====================================================================== */

/* Policy: packets are placed by RTP timestamp on a 20 ms grid. Each
 * arrival's delay relative to the fastest packet of the last 4-8 s
 * (transit - that minimum: a queue that builds and then stands is not
 * jitter, and would otherwise keep the audio that much later for good)
 * goes into a histogram (10 ms buckets) that forgets 0.3% per packet
 * (about 7 s); its 97th percentile is the delay to cover. The memory
 * spans the gaps between a bottleneck's queue episodes (rate500k: one
 * every 10 s or so), so the delay one needed is kept for the next. The
 * target delay is that + one frame, within [min_delay_ms, max_delay_ms]
 * (40..400). Playout starts once the buffer holds the target; each pop
 * gives one frame or MISSING (the decoder conceals, or decodes FEC from
 * the next packet: mc_ajb_peek_next) when later packets are here, or
 * WAITING when none is: the frame is late, not lost, and the buffer waits
 * for it (the player conceals 20 ms and the delay grows by as much, as
 * NetEq's expand) instead of moving on and letting it and the packets
 * behind it arrive late; when a later packet comes first, the frames
 * still missing before it were lost, and the concealment played while
 * waiting stands in for them (the delay does not grow by a loss burst);
 * after 10 consecutive pops with nothing to give
 * (WAITING or MISSING with an empty buffer) playout re-buffers.
 *
 * The delay is changed by time stretching in the player, as WebRTC's NetEq
 * does: at each frame popped, the playout delay (the time of the pop over
 * when the frame would have come with the fastest transit of the last 4-8
 * s) is compared with the target. Under it, the player is asked to play
 * the frame slower (one pitch period more); over
 * target + the spread of the last 4-8 s of transits + 20 ms (NetEq's high
 * limit, over a longer look back; at least target + 40 ms), faster (one
 * period less); it says what it did (mc_ajb_stretched). The playout delay
 * moves only when the player stretches or the path's delay changes, not
 * with each packet's jitter, and the band is wider than a period (at most
 * 15 ms), so the buffer does not swing back and forth as it did when its
 * fill level steered it (a level under target when one packet is late,
 * over it once it came). When the player cannot stretch (loud noise-like
 * audio) for 25 frames in a row, the buffer falls back to what it did
 * before stretching existed: under target - 1 frame, every other pop is
 * STRETCH (20 ms of concealment instead of advancing); over target + 2
 * frames, one frame is dropped per pop. */
enum mc_ajb_status {
  MC_AJB_FRAME = 0,   /* a packet was copied out */
  MC_AJB_MISSING,     /* playout time of a frame that did not arrive (later
                       * ones did: lost): conceal, or FEC from the next */
  MC_AJB_BUFFERING,   /* not playing yet: output silence */
  MC_AJB_STRETCH,     /* nothing lost: the buffer is growing its delay toward the
                       * target and the audio could not be stretched; play 20 ms
                       * of concealment (no FEC) */
  MC_AJB_WAITING,     /* the next frame has not come, nor any after it: it is
                       * late, and waited for; conceal 20 ms (no FEC, no
                       * timestamp) */
};

/* What the buffer asks of the frame just popped (MC_AJB_FRAME). */
enum mc_ajb_wish {
  MC_AJB_KEEP = 0,
  MC_AJB_SLOWER, /* the delay is under target: play it longer */
  MC_AJB_FASTER, /* well over target: play it shorter */
};

struct mc_ajb_config {
  uint32_t min_delay_ms; /* 0: 40 */
  uint32_t max_delay_ms; /* 0: 400 */
};

struct mc_ajb_stats {
  uint64_t packets, late, duplicates, frames, missing;
  uint64_t dropped, stretched; /* fallbacks: frames dropped, STRETCH pops */
  uint64_t waited;             /* WAITING pops */
  uint64_t inserted, removed;  /* samples the player added and removed (mc_ajb_stretched) */
  uint32_t target_ms, level_ms;
  int32_t delay_ms; /* the playout delay at the last frame popped */
};

typedef struct mc_ajb mc_ajb;

int mc_ajb_new(const struct mc_ajb_config *config, mc_ajb **out);
void mc_ajb_free(mc_ajb *j);
/* Copies one Opus packet in (1..1500 bytes: MC_EPARSE empty, MC_ETOOBIG
 * larger). Late packets (their playout time passed) and duplicates are
 * dropped and counted; a timestamp jump the buffer cannot span (over 1.28
 * s: a pause, a restart) empties it and buffering starts again. */
int mc_ajb_push(mc_ajb *j, uint16_t seq, uint32_t ts, const uint8_t *data, size_t len, uint64_t arrival_ms);
/* One 20 ms frame at playout time (the audio device's clock paces the
 * calls): play_ms is the playout clock's time of this pop, on the clock of
 * mc_ajb_push's arrival_ms (what the player holds decoded ahead is not
 * added: the packet had to be here now). *status says what; on
 * MC_AJB_FRAME the packet is in buf (*len). MC_ETOOBIG when cap is short
 * (*len says how much is needed). */
int mc_ajb_pop(mc_ajb *j, uint64_t play_ms, uint8_t *buf, size_t cap, size_t *len, enum mc_ajb_status *status);
/* After MC_AJB_FRAME: whether to play that frame slower or faster. */
enum mc_ajb_wish mc_ajb_wish(const mc_ajb *j);
/* The player's answer to a wish: samples added (> 0), removed (< 0), or 0
 * when the audio could not be stretched. A wish left unanswered until the
 * next pop counts as 0. */
void mc_ajb_stretched(mc_ajb *j, int samples);
/* After MC_AJB_MISSING: the packet that follows, for Opus in-band FEC;
 * MC_ENOTFOUND when not there yet. */
int mc_ajb_peek_next(mc_ajb *j, uint8_t *buf, size_t cap, size_t *len);
void mc_ajb_get_stats(const mc_ajb *j, struct mc_ajb_stats *out);

/* ======================================================================
 * Transport-wide CC, receive side
 * ====================================================================== */

#define MC_TWCC_FEEDBACK_INTERVAL_MS 50 /* Chromium sends every 50-100 ms */
#define MC_TWCC_MAX_PACKETS 2048        /* arrivals held between feedbacks */

typedef struct mc_twcc_recorder mc_twcc_recorder;

int mc_twcc_recorder_new(uint32_t sender_ssrc, mc_twcc_recorder **out);
void mc_twcc_recorder_free(mc_twcc_recorder *r);
/* A packet carrying transport-wide seq arrived at arrival_us; media_ssrc
 * (its SSRC) is used as the feedback's media source. */
void mc_twcc_recorder_record(mc_twcc_recorder *r, uint16_t seq, uint32_t media_ssrc, uint64_t arrival_us);
/* Builds the next feedback packet covering arrivals not yet reported, from
 * the oldest unreported seq to the newest seen (missing ones marked not
 * received). MC_ENOTFOUND when there is nothing to report. When the span
 * has a delta beyond 16 bits or more than fits cap, the packet covers a
 * prefix: call again until MC_ENOTFOUND. Call every
 * MC_TWCC_FEEDBACK_INTERVAL_MS. */
int mc_twcc_recorder_build(mc_twcc_recorder *r, uint8_t *buf, size_t cap, size_t *out_len);

/* ======================================================================
 * Bandwidth estimation (draft-ietf-rmcat-gcc-02) and pacing
 * ====================================================================== */

/* Send side: transport-wide feedback -> packet groups (5 ms bursts, gcc-02
 * 5.2) -> inter-group delay variation -> trendline (slope of the smoothed
 * accumulated delay over 20 groups, as WebRTC's delay-based estimator) ->
 * adaptive-threshold over-use detector (gcc-02 5.4) -> AIMD rate control
 * (gcc-02 5.5: 0.85 x acknowledged bitrate on over-use; +8%/s far from the
 * last decrease, about half a packet per response time near it; never
 * above 1.5 x acknowledged + 10 kbit/s). Loss-based bound (gcc-02 6):
 * loss > 10%: rate * (1 - 0.5 loss), < 2%: +5% (at most once a second),
 * between: hold; loss comes from the feedback (or RR fraction lost when
 * there is no transport-wide feedback); the loss-based rate is capped by
 * the delay-based one. target = min(delay, loss, REMB when received),
 * clamped to [min_bps, max_bps]. Times are the caller's (microseconds,
 * monotonic); arrival times in feedback are the peer's clock. */
struct mc_bwe_config {
  uint64_t min_bps;   /* 0: 30 kbit/s */
  uint64_t start_bps; /* 0: 300 kbit/s */
  uint64_t max_bps;   /* 0: 3 Mbit/s */
};

enum mc_bwe_usage { MC_BWE_NORMAL = 0, MC_BWE_OVERUSE, MC_BWE_UNDERUSE };

struct mc_bwe_stats {
  uint64_t target_bps, delay_bps, loss_bps, remb_bps; /* remb 0: none */
  uint64_t acked_bps;      /* 0 until measured */
  double trend;            /* modified trend, ms (the detector's input) */
  double threshold_ms;
  enum mc_bwe_usage usage;
  double loss;             /* last loss fraction used, 0..1 */
  uint32_t rtt_ms;
  uint64_t feedbacks, overuses, packets_acked, packets_lost;
  uint64_t standing_overuses; /* feedbacks that found a standing queue (over-use too) */
  uint64_t probes;            /* clusters started */
  uint64_t probe_bps;         /* the last probe result (0: none) */
};

typedef struct mc_bwe mc_bwe;

int mc_bwe_new(const struct mc_bwe_config *config, mc_bwe **out);
void mc_bwe_free(mc_bwe *b);
/* A packet carrying transport-wide seq left at send_us (size: bytes on the
 * wire, or of the RTP packet: used for the acknowledged bitrate). */
void mc_bwe_on_packet_sent(mc_bwe *b, uint16_t twcc_seq, size_t size, uint64_t send_us);
/* Decoded transport-wide feedback (mc_rtcp_twcc_decode) arriving at now_us. */
void mc_bwe_on_twcc(mc_bwe *b, const struct mc_twcc_status *st, size_t count, uint64_t now_us);
/* Parsed feedback from the peer, decoded into scratch (cap statuses) and
 * fed to mc_bwe_on_twcc. Feedback with more statuses than cap is left
 * out (MC_ETOOBIG), as is feedback that does not decode. */
int mc_bwe_on_twcc_feedback(mc_bwe *b, const struct mc_rtcp_twcc *fb, struct mc_twcc_status *scratch, size_t cap,
                            uint64_t now_us);
/* RFC 3550 fraction lost (8-bit) from an RR block about our stream: used
 * only while no transport-wide feedback came in the last 2 s. */
void mc_bwe_on_rr_loss(mc_bwe *b, uint8_t fraction_lost, uint64_t now_us);
void mc_bwe_on_rtt(mc_bwe *b, uint32_t rtt_ms);
/* The peer's REMB (draft-alvestrand-rmcat-remb-03): an upper bound. */
void mc_bwe_on_remb(mc_bwe *b, uint64_t bps, uint64_t now_us);
uint64_t mc_bwe_target_bps(const mc_bwe *b);
uint64_t mc_bwe_acked_bps(const mc_bwe *b);
void mc_bwe_get_stats(const mc_bwe *b, struct mc_bwe_stats *out);
/* Probing (probe.c): the next cluster to send now, if one is due. media_bps
 * is what the encoders produce: under 65 % of the target is the
 * application-limited region, where probes go out every 5 s. */
struct mc_probe_cluster;
bool mc_bwe_probe_next(mc_bwe *b, uint64_t now_us, uint64_t media_bps, struct mc_probe_cluster *out);
/* True for a second after a probe's result raised the rate, once the rate
 * has gone down once (a recovery): the sender pads up to the target
 * meanwhile, so the path proves the raise before the encoder has
 * followed it (see bwe.c). */
bool mc_bwe_ramping(const mc_bwe *b, uint64_t now_us);
/* As mc_bwe_on_packet_sent, for a packet of a probe cluster: its feedback
 * measures the cluster, whose result (min of the send and receive rates)
 * raises the delay-based and loss-based rates when it is higher. */
void mc_bwe_on_probe_sent(mc_bwe *b, uint16_t twcc_seq, size_t size, uint64_t send_us,
                          const struct mc_probe_cluster *cluster);

/* Receive side, for REMB: the same delay-based detector and AIMD over the
 * abs-send-time (6.18 fixed seconds, wraps every 64 s) and local arrival
 * time of every media packet, against the bitrate we receive. A REMB is
 * due about once a second, or at once when the estimate falls by more
 * than 3%. */
typedef struct mc_rbe mc_rbe;

int mc_rbe_new(const struct mc_bwe_config *config, mc_rbe **out);
void mc_rbe_free(mc_rbe *r);
/* padding: a padding-only packet. A run of at least 5 of them sent less
 * than 10 ms apart is taken for a probe cluster (a sender's padding comes
 * in such runs only when it probes or fills up to its target): its
 * result, as mc_probe_est's, raises the estimate when higher, and a REMB
 * is then due at once. */
void mc_rbe_on_packet(mc_rbe *r, uint32_t abs_send_time, size_t size, uint64_t arrival_us, bool padding);
void mc_rbe_on_rtt(mc_rbe *r, uint32_t rtt_ms);
/* The estimate (0 before the first packet). */
uint64_t mc_rbe_estimate_bps(const mc_rbe *r);
/* The bitrate received over the last 500 ms (0 unknown). */
uint64_t mc_rbe_incoming_bps(const mc_rbe *r);
/* True when a REMB should go out now, with *bps (then counted as sent). */
bool mc_rbe_remb_due(mc_rbe *r, uint64_t now_us, uint64_t *bps);

/* Probing (probe.c), after WebRTC GoogCC's ProbeController and
 * ProbeBitrateEstimator. A cluster: padding sent at bps, at least
 * min_packets and min_bytes (15 ms at bps). */
struct mc_probe_cluster {
  int id; /* 1..65535 */
  uint64_t bps;
  int min_packets;
  size_t min_bytes;
};

/* When to probe: 3 x then 6 x start_bps at the start; 2 x the estimate
 * again while a result reaches 70 % of the rate probed and the path
 * delivered 85 % of it (within 3 s);
 * after a large drop (under half the peak), 2 x the estimate (no
 * higher than before the drop) every 2 s (doubling after a probe that
 * over-use proved wrong) for 30 s while under 85 % of it;
 * in the application-limited region 2 x the estimate every 5 s. Never
 * above max_bps, never at or under the estimate. */
typedef struct mc_probe_ctl mc_probe_ctl;
int mc_probe_ctl_new(uint64_t start_bps, uint64_t max_bps, mc_probe_ctl **out);
void mc_probe_ctl_free(mc_probe_ctl *c);
void mc_probe_ctl_on_estimate(mc_probe_ctl *c, uint64_t bps, int64_t now_us);
/* What the path delivers (the acknowledged rate; 0: not known, as with
 * REMB alone): a further probe waits for 85 % of the rate last probed. */
void mc_probe_ctl_on_delivered(mc_probe_ctl *c, uint64_t bps);
/* A result of the last cluster came in (lower or higher than the
 * estimate). Without one within 1 s the cluster is sent again, twice as
 * long (up to 120 ms), at most 3 times. */
void mc_probe_ctl_on_result(mc_probe_ctl *c);
/* Over-use (or a REMB decrease): within 2.5 s of a recovery probe, the
 * probe misread the link and the recovery interval doubles (up to 16 s). */
void mc_probe_ctl_on_overuse(mc_probe_ctl *c, int64_t now_us);
/* The next cluster to send at now_us, if any. */
bool mc_probe_ctl_next(mc_probe_ctl *c, int64_t now_us, bool app_limited, struct mc_probe_cluster *out);
uint64_t mc_probe_ctl_clusters(const mc_probe_ctl *c);

/* Results: each received packet of a cluster (send time on our clock,
 * receive time on the peer's); returns the cluster's rate once enough of
 * it came back (80 % of its packets and bytes), else 0. */
typedef struct mc_probe_est mc_probe_est;
int mc_probe_est_new(mc_probe_est **out);
void mc_probe_est_free(mc_probe_est *e);
uint64_t mc_probe_est_on_packet(mc_probe_est *e, const struct mc_probe_cluster *cluster, size_t size, int64_t send_us,
                                int64_t recv_us);
uint64_t mc_probe_est_last_bps(const mc_probe_est *e);

/* Pacer: a leaky bucket at factor x the target (2.5) in bursts of
 * burst_ms (5 ms). Order: audio (never held by the budget, but counted in
 * it), then retransmissions, then new video, each FIFO. Bounded: when the
 * queue holds capacity packets, or its oldest video packet has waited
 * max_video_delay_ms, every queued new-video packet is dropped (a partial
 * frame is useless to the decoder and the link is clearly too slow) and
 * *keyframe_needed is raised: the encoder must restart with a key frame.
 * Audio or RTX beyond capacity is refused (MC_ETOOBIG). Packets are
 * copied in (up to MC_PACER_MAX_PACKET bytes). */
#define MC_PACER_MAX_PACKET 1500

/* Probe packets (padding of a probe cluster) go last, at the probe's rate
 * (mc_pacer_set_probe) while any is queued. */
enum mc_pacer_class { MC_PACER_AUDIO = 0, MC_PACER_RTX, MC_PACER_VIDEO, MC_PACER_PROBE, MC_PACER_CLASSES };

struct mc_pacer_config {
  size_t capacity;             /* packets (0: 2048) */
  double factor;               /* pacing rate / target (0: 2.5) */
  uint32_t burst_ms;           /* 0: 5 */
  uint32_t max_video_delay_ms; /* 0: 2000 */
};

struct mc_pacer_stats {
  uint64_t pacing_bps;
  size_t queued_packets, queued_bytes;
  uint64_t sent_packets, sent_bytes, dropped_video, overflows;
  uint64_t max_queue_us; /* longest wait of a sent packet */
  size_t queued_probe;   /* probe packets among queued_packets */
};

typedef struct mc_pacer mc_pacer;

int mc_pacer_new(const struct mc_pacer_config *config, mc_pacer **out);
void mc_pacer_free(mc_pacer *p);
/* The target the pacing rate follows (pacing = factor x target). */
void mc_pacer_set_target(mc_pacer *p, uint64_t target_bps);
/* The rate probe packets leave at (when above the pacing rate). */
void mc_pacer_set_probe(mc_pacer *p, uint64_t probe_bps);
/* Queues one packet; tag is the caller's (e.g. which track). */
int mc_pacer_push(mc_pacer *p, enum mc_pacer_class cls, uint32_t tag, const uint8_t *pkt, size_t len,
                  uint64_t now_us, bool *keyframe_needed);
/* The next packet that may leave at now_us into buf: 0, or MC_ENOTFOUND
 * when the queue is empty or the budget is spent (see next_us). */
int mc_pacer_pop(mc_pacer *p, uint64_t now_us, uint8_t *buf, size_t cap, size_t *len, enum mc_pacer_class *cls,
                 uint32_t *tag);
/* When a pop may succeed next (now_us when it can now); UINT64_MAX when
 * the queue is empty. */
uint64_t mc_pacer_next_us(const mc_pacer *p, uint64_t now_us);
void mc_pacer_get_stats(const mc_pacer *p, struct mc_pacer_stats *out);

/* ======================================================================
 * Lip sync (RFC 3550 6.4.1) and fitting video into the sending estimate
 * (sync.c)
 * ====================================================================== */

/* The peer's sender reports put each track's RTP timestamps on one sender
 * wall clock (NTP). For what is played, transit = local play time - capture
 * time on that clock; the offset between the two machines' clocks is the
 * same for both tracks, so transit(video) - transit(audio) is the A/V
 * offset (positive: video is late). Audio later: pictures are held up to
 * max_video_delay_ms after they are ready; video later: the audio jitter
 * buffer is given a minimum delay (mc_ajb_set_min_delay), raised and
 * released in steps because the audio transit follows it only as the
 * buffer fills. Control uses the pictures' ready times (the hold is ours
 * to choose, so it does not feed back); the offset reported uses their
 * shown times (after correction). No sender report on either track, or a
 * track silent for MC_SYNC_STALE_MS: no correction. Times are the
 * caller's monotonic microseconds; one owner (the net thread). */
#define MC_SYNC_MAX_VIDEO_DELAY_MS 300
#define MC_SYNC_MAX_AUDIO_DELAY_MS 300
#define MC_SYNC_STALE_MS 2000
#define MC_SYNC_DEADBAND_MS 10     /* smaller errors are left alone (a hold change skips or repeats) */
#define MC_SYNC_AUDIO_STEP_MS 1000 /* the audio delay moves at most once a second ... */
#define MC_SYNC_AUDIO_GAIN 0.5     /* ... by half the error: no overshoot while the buffer fills */
#define MC_SYNC_SMOOTHING 0.05     /* weight of one play event in the transit averages */

struct mc_sync_config {
  uint32_t max_video_delay_ms; /* 0: MC_SYNC_MAX_VIDEO_DELAY_MS */
  uint32_t max_audio_delay_ms; /* 0: MC_SYNC_MAX_AUDIO_DELAY_MS */
  uint32_t video_clock_hz;     /* 0: 90000 */
  uint32_t audio_clock_hz;     /* 0: 48000 */
};

enum mc_sync_track { MC_SYNC_AUDIO = 0, MC_SYNC_VIDEO };

struct mc_sync_state {
  bool measured;           /* both tracks have a sender report and recent play events */
  double offset_ms;        /* shown video minus played audio transit, smoothed (after correction) */
  double base_offset_ms;   /* the same with video ready times (before the hold) */
  uint32_t video_delay_ms; /* hold each picture this long after it is ready */
  uint32_t audio_delay_ms; /* minimum delay for the audio jitter buffer; 0: its own */
  uint64_t video_events, audio_events, sender_reports;
};

typedef struct mc_sync mc_sync;

int mc_sync_new(const struct mc_sync_config *config, mc_sync **out);
void mc_sync_free(mc_sync *s);
/* The peer's last sender report on a track: its wall clock ntp (32.32) at
 * RTP timestamp rtp_ts. The same report given again changes nothing. */
void mc_sync_on_sender_report(mc_sync *s, enum mc_sync_track t, uint64_t ntp, uint32_t rtp_ts);
/* Audio with RTP timestamp rtp_ts reached the speaker (or was measured,
 * headless) at play_us. */
void mc_sync_on_audio_played(mc_sync *s, uint32_t rtp_ts, uint64_t play_us);
/* The picture with RTP timestamp rtp_ts was decoded at ready_us and shown
 * at shown_us. */
void mc_sync_on_video_shown(mc_sync *s, uint32_t rtp_ts, uint64_t ready_us, uint64_t shown_us);
/* Recomputes the correction; audio_jb_ms is the audio jitter buffer's
 * present target delay (where a raised minimum starts from). */
void mc_sync_update(mc_sync *s, uint32_t audio_jb_ms, uint64_t now_us);
void mc_sync_get(const mc_sync *s, struct mc_sync_state *out);

/* An audio jitter buffer's minimum delay from now on (lip sync); 0
 * restores the configured one. Clamped to its maximum. */
void mc_ajb_set_min_delay(mc_ajb *j, uint32_t ms);
/* The RTP timestamp of the frame the last mc_ajb_pop gave out (status
 * MC_AJB_FRAME or MC_AJB_MISSING): what is played now. MC_ENOTFOUND when
 * that pop gave out nothing (MC_AJB_WAITING included). */
int mc_ajb_last_ts(const mc_ajb *j, uint32_t *ts);

/* Fitting VP8 into the sending estimate (issue 7): video gets the estimate
 * minus the audio share, clamped to [MC_FIT_MIN_KBPS, max_kbps]. Lower
 * budgets step the picture down; thresholds are kbit/s for a 640x480
 * source and scale with the source's pixels:
 *   level 0  full size, full rate    budget >= 250
 *   level 1  1/2 size, full rate     budget >= 150
 *   level 2  1/2 size, 15 fps        budget >= 100
 *   level 3  1/4 size, 15 fps        otherwise
 * and below MC_FIT_PAUSE_KBPS (absolute) no video at all until the budget
 * is back over MC_FIT_RESUME_KBPS. Down at once; up one level at a time,
 * only with MC_FIT_UP_MARGIN over the threshold and MC_FIT_UP_HOLD_MS
 * after the last change, so a wobbling estimate does not flip the size
 * (each size change costs a key frame and re-creates the encoder). The
 * first estimate is the estimator's start value, not a measurement: it
 * sets the bit rate only, the picture stays full size.
 *
 * An encoder cannot always meet its target: VP8 at its coarsest quantizer
 * still needs about 390 kbit/s for the lab's busy pattern at 640x480, so
 * asked for 290 it sends a third more and keeps the bottleneck full. The
 * encoder's overshoot at each level (delta frames' bits over what the
 * target allowed them, measured with mc_fit_meter) raises that level's
 * threshold (and, at the last level, the pause and resume thresholds)
 * by the same factor: the picture steps down to where the encoder does
 * fit. A level's overshoot is forgotten slowly while the call runs at
 * another level (MC_FIT_OVERSHOOT_FORGET_MS a point), so a scene that got
 * simpler is tried again after a minute or so. */
#define MC_FIT_REF_PIXELS (640 * 480)
#define MC_FIT_LEVELS 4
#define MC_FIT_PAUSE_KBPS 50
#define MC_FIT_RESUME_KBPS 80
#define MC_FIT_MIN_KBPS 30
#define MC_FIT_LOW_FPS 15
#define MC_FIT_UP_MARGIN 1.25
#define MC_FIT_UP_HOLD_MS 4000
#define MC_FIT_OVERSHOOT_MAX_PCT 300
#define MC_FIT_OVERSHOOT_FORGET_MS 1000

struct mc_fit_config {
  int width, height, fps; /* the source's */
  int max_kbps;
  uint32_t audio_bps;     /* the audio share (0 when no audio is sent) */
  /* per level, the encoder's output over its target in percent (100: on
   * target; values under 100 count as 100); NULL: 100 everywhere */
  const uint16_t *overshoot_pct;
};

struct mc_fit {
  int level;              /* 0..MC_FIT_LEVELS-1 */
  bool paused;
  int width, height, fps, kbps; /* what the encoder should use */
  uint64_t changed_ms;    /* when level or pause last changed */
  uint64_t up_after_ms;   /* no step up (or resume) before this */
  bool set;               /* false in a zeroed fit: the first call sets it */
};

/* Updates *f for an estimate of bps at now_ms; true when the size, frame
 * rate or pause changed (the bit rate alone: false). */
bool mc_fit_video(const struct mc_fit_config *c, uint64_t bps, uint64_t now_ms, struct mc_fit *f);

/* The encoder's overshoot, a second of delta frames at a time (key frames
 * are left out: their size is the rate controller's plan, not a miss). */
struct mc_fit_meter {
  uint64_t bits, allowed_bits;
  int frames;
};

/* One delta frame of `bytes` encoded with a target of kbps at fps. True
 * when a second's worth is complete: *pct is the output over the target
 * in percent (then the meter starts over). */
bool mc_fit_meter_add(struct mc_fit_meter *mm, size_t bytes, int kbps, int fps, uint16_t *pct);
/* Folds a measurement into a level's overshoot (the mean of the old value
 * and the new one, at least 100, at most MC_FIT_OVERSHOOT_MAX_PCT). */
uint16_t mc_fit_overshoot_update(uint16_t old_pct, uint16_t measured_pct);

#endif
