/* pc media: encoded frames as RTP over SRTP on the negotiated m-lines.
 * Send: VP8 packetizer (RFC 7741) or one Opus packet (RFC 7587), header
 * extensions as negotiated (mid, abs-send-time, transport-wide sequence),
 * a history answering NACKs with RTX (RFC 4588). Receive: SSRC (or mid, or
 * payload type) to track, RTX unwrapped, receive statistics (RFC 3550 A.3,
 * A.8), the video jitter buffer (NACK, then PLI), transport-wide feedback.
 * RTCP every second: SR or RR with report blocks and SDES CNAME.
 *
 * Congestion control (draft-ietf-rmcat-gcc-02): every packet leaves
 * through the pacer (rtp/pacer.c), which stamps abs-send-time and the
 * transport-wide sequence number as it sends, so both say when the packet
 * really left; the send-side estimator (rtp/bwe.c) hears of each sent
 * packet and of the peer's transport-wide feedback, REMB and report
 * blocks, and its target drives the pacer and on_target_bitrate. For what
 * we receive, a receive-side estimate from abs-send-time goes out as REMB
 * when the peer asked for goog-remb and not transport-cc (as WebRTC: a
 * peer with transport-wide feedback estimates for itself). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pc/pc_private.h"
#include "rtp/rtp.h"
#include "util/util.h"

#define LOG "media"
#define MEDIA_TICK_MS 20
#define MEDIA_REPORT_MS 1000
#define MEDIA_MAX_PAYLOAD 1100 /* RTP payload: leaves room for header, extensions and the SRTP tag under 1,200 */
#define MEDIA_MAX_FRAME (1024 * 1024)
#define MEDIA_PKT_CAP (1500 + MC_SRTP_MAX_OVERHEAD)
/* on_target_bitrate: at most every 200 ms, on a change over 5% (or any
 * change after a second) */
#define TARGET_MIN_INTERVAL_MS 200
#define TARGET_QUIET_MS 1000
#define TARGET_CHANGE 0.05
#define PACER_TAG_RTX 0x100u
/* padding on the RTX SSRC (pad_on_rtx), numbered as it leaves */
#define PACER_TAG_PAD 0x200u

struct pc_track {
  bool present, rejected;
  enum mc_media_kind kind;
  char mid[33];
  int pt, rtx_pt;
  int ext_mid, ext_abs, ext_twcc;
  bool fb_twcc, fb_remb;
  uint32_t clock;
  /* send */
  bool sending;
  uint32_t ssrc, rtx_ssrc;
  uint16_t seq, picture_id;
  mc_rtp_history *hist;
  uint32_t last_rtp_ts;
  uint64_t last_send_us;
  uint64_t packets_sent, bytes_sent, frames_sent, rtx_sent, nack_rx, pli_rx, fir_rx;
  bool keyframe_pending; /* the pacer dropped queued video: ask the encoder */
  /* receive */
  bool receiving, reported;
  uint32_t remote_ssrc, remote_rtx_ssrc;
  struct mc_rtp_recv_stats rs;
  bool rs_started;
  mc_vjb *vjb;
  uint64_t packets_rx, bytes_rx, frames_rx, nack_tx, pli_tx, rtx_rx;
  uint64_t app_pli_ms; /* the last PLI mc_pc_request_keyframe sent */
  double rtt_s;
};

struct pc_media {
  mc_pc *pc;
  uv_timer_t timer;
  uv_timer_t pace_timer;
  int handles; /* timers still to close before free */
  bool started;
  int ntracks;
  struct pc_track tracks[MC_SDP_MAX_MEDIA];
  uint16_t twcc_seq;
  mc_twcc_recorder *twcc;
  uint32_t rtcp_ssrc; /* our SSRC in RRs and feedback when we send nothing */
  char cname[20];
  uint64_t last_report_ms, last_twcc_ms;
  uint8_t *frame_buf;
  /* congestion control */
  mc_bwe *bwe;
  mc_pacer *pacer;
  mc_rbe *rbe;
  bool cc_feedback; /* the peer sends transport-wide feedback or REMB */
  bool send_remb;
  uint64_t reported_bps, reported_ms;
  bool reported_target;
  /* what the encoders hand us, over the last 0.5..1 s (two buckets) */
  uint64_t push_cur, push_prev, push_bucket_ms;
  double pad_credit; /* bytes of padding owed (see send_padding) */
  struct mc_probe_cluster probe; /* the cluster last queued (send_probe) */
  uint64_t pad_last_ms;
  struct mc_twcc_status *twcc_st; /* MC_TWCC_MAX_PACKETS, for decoding feedback */
};

static void on_media_closed(uv_handle_t *h) {
  struct pc_media *m = h->data;
  if (--m->handles > 0) return;
  free(m->twcc_st);
  free(m->frame_buf);
  free(m);
}

void pc_media_free(mc_pc *pc) {
  struct pc_media *m = pc->media;
  if (!m) return;
  pc->media = NULL;
  for (int i = 0; i < m->ntracks; i++) {
    mc_rtp_history_free(m->tracks[i].hist);
    mc_vjb_free(m->tracks[i].vjb);
  }
  mc_twcc_recorder_free(m->twcc);
  mc_bwe_free(m->bwe);
  mc_pacer_free(m->pacer);
  mc_rbe_free(m->rbe);
  uv_timer_stop(&m->timer);
  uv_timer_stop(&m->pace_timer);
  uv_close((uv_handle_t *)&m->timer, on_media_closed);
  uv_close((uv_handle_t *)&m->pace_timer, on_media_closed);
}

static struct pc_media *media_get(mc_pc *pc) {
  if (pc->media) return pc->media;
  struct pc_media *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->frame_buf = malloc(MEDIA_MAX_FRAME);
  m->twcc_st = calloc(MC_TWCC_MAX_PACKETS, sizeof *m->twcc_st);
  if (!m->frame_buf || !m->twcc_st || mc_bwe_new(NULL, &m->bwe) != 0 || mc_pacer_new(NULL, &m->pacer) != 0) {
    mc_bwe_free(m->bwe);
    free(m->twcc_st);
    free(m->frame_buf);
    free(m);
    return NULL;
  }
  m->pc = pc;
  m->rtcp_ssrc = mc_random_u32() | 1;
  mc_random_ice_chars(m->cname, 16);
  uv_timer_init(pc->loop, &m->timer);
  uv_timer_init(pc->loop, &m->pace_timer);
  m->timer.data = m;
  m->pace_timer.data = m;
  m->handles = 2;
  pc->media = m;
  return m;
}

/* Without any congestion feedback from the peer there is nothing to
 * estimate with: the pacer then only smooths bursts, at 2.5 x the highest
 * rate we would ever send. */
static void push_meter(struct pc_media *m, size_t len, uint64_t now_ms) {
  if (now_ms - m->push_bucket_ms >= 500) {
    m->push_prev = now_ms - m->push_bucket_ms >= 1000 ? 0 : m->push_cur;
    m->push_cur = 0;
    m->push_bucket_ms = now_ms;
  }
  m->push_cur += len;
}

static uint64_t push_rate(const struct pc_media *m, uint64_t now_ms) {
  if (now_ms - m->push_bucket_ms >= 1000) return 0;
  uint64_t span = now_ms - m->push_bucket_ms + 500;
  return (m->push_prev + m->push_cur) * 8 * 1000 / span;
}

/* The pacer smooths bursts at 2.5 x the target; it does not enforce the
 * target on encoders that have not followed it yet (a queue fed faster
 * than it drains only grows until it drops frames), so it paces at 2.5 x
 * what they produce when that is more. Without any congestion feedback
 * from the peer there is no target: 2.5 x what they produce, at least
 * the estimator's maximum. */
static void pacer_follow(struct pc_media *m) {
  uint64_t now = mc_now_ms();
  uint64_t rate = m->cc_feedback ? mc_bwe_target_bps(m->bwe) : 3000000;
  uint64_t produced = push_rate(m, now);
  mc_pacer_set_target(m->pacer, produced > rate ? produced : rate);
}

void pc_media_on_negotiated(mc_pc *pc) {
  int n = pc->jsep ? mc_jsep_media_count(pc->jsep) : 0;
  if (n == 0) return;
  struct pc_media *m = media_get(pc);
  if (!m) return;
  for (int i = 0; i < n && i < MC_SDP_MAX_MEDIA; i++) {
    const mc_jsep_media *jm = mc_jsep_media_at(pc->jsep, i);
    struct pc_track *t = &m->tracks[i];
    if (i >= m->ntracks) m->ntracks = i + 1;
    if (!jm || jm->kind == MC_MEDIA_DATA || !jm->mid[0]) continue;
    t->present = true;
    t->kind = jm->kind;
    t->rejected = jm->rejected;
    mc_strcpy(t->mid, sizeof t->mid, jm->mid);
    t->pt = jm->pt;
    t->rtx_pt = jm->rtx_pt;
    t->ext_mid = jm->ext_mid;
    t->ext_abs = jm->ext_abs_send_time;
    t->ext_twcc = jm->ext_twcc;
    t->fb_twcc = jm->fb_twcc;
    t->fb_remb = jm->fb_remb;
    t->clock = jm->kind == MC_MEDIA_VIDEO ? 90000 : 48000;
    bool send = !jm->rejected && jm->has_track && jm->pt >= 0 &&
                (jm->dir == MC_SDP_DIR_SENDRECV || jm->dir == MC_SDP_DIR_SENDONLY);
    bool recv = !jm->rejected && jm->pt >= 0 && (jm->dir == MC_SDP_DIR_SENDRECV || jm->dir == MC_SDP_DIR_RECVONLY);
    if (send && !t->sending) {
      t->ssrc = jm->track.ssrc;
      t->rtx_ssrc = jm->track.rtx_ssrc;
      t->seq = (uint16_t)mc_random_u32();
      t->picture_id = (uint16_t)(mc_random_u32() & 0x7fff);
      if (t->kind == MC_MEDIA_VIDEO && !t->hist) {
        struct mc_rtp_history_config hc = {.rtx_ssrc = t->rtx_ssrc,
                                           .rtx_pt = (uint8_t)(t->rtx_pt > 0 ? t->rtx_pt : 0),
                                           .rtx_first_seq = (uint16_t)mc_random_u32()};
        mc_rtp_history_new(&hc, &t->hist);
      }
    }
    t->sending = send;
    if (jm->remote_ssrc) t->remote_ssrc = jm->remote_ssrc;
    if (jm->remote_rtx_ssrc) t->remote_rtx_ssrc = jm->remote_rtx_ssrc;
    if (recv && t->kind == MC_MEDIA_VIDEO && !t->vjb) mc_vjb_new(&(struct mc_vjb_config){0}, &t->vjb);
    if (recv && t->ext_twcc > 0 && !m->twcc) mc_twcc_recorder_new(m->rtcp_ssrc, &m->twcc);
    /* the receive-side estimate needs abs-send-time; it goes out as REMB
     * only to a peer without transport-wide feedback from us */
    if (recv && t->ext_abs > 0 && !m->rbe) mc_rbe_new(NULL, &m->rbe);
    if (recv && t->fb_remb && t->ext_abs > 0 && !(t->fb_twcc && t->ext_twcc > 0)) m->send_remb = true;
    if (send && ((t->fb_twcc && t->ext_twcc > 0) || t->fb_remb) && !m->cc_feedback) {
      m->cc_feedback = true;
      MC_LOGI("bwe", "feedback=%s", t->fb_twcc && t->ext_twcc > 0 ? "transport-cc" : "remb");
    }
    t->receiving = recv;
    if (recv && !t->reported) {
      t->reported = true;
      MC_LOGI(LOG, "track mid=%s kind=%s pt=%d rtx_pt=%d", t->mid, mc_media_kind_name(t->kind), t->pt, t->rtx_pt);
      if (pc->cbs.on_track)
        pc->cbs.on_track(pc, i, t->kind == MC_MEDIA_VIDEO ? MC_PC_VIDEO : MC_PC_AUDIO, pc->user);
    }
  }
  if (pc->media == m) pacer_follow(m);
}

/* ---- sending ---- */

static void send_protected_rtcp(mc_pc *pc, uint8_t *buf, size_t len) {
  size_t out = 0;
  if (!pc->srtp || mc_srtp_protect_rtcp(pc->srtp, buf, len, MEDIA_PKT_CAP, &out) != 0) return;
  pc_send_datagram(pc, buf, out);
}

static void pace_flush(mc_pc *pc);
static void on_pace(uv_timer_t *timer);

/* Serialises, keeps (video) and queues one RTP packet in the pacer, which
 * stamps abs-send-time and the transport-wide sequence when it sends;
 * probe padding (cls MC_PACER_PROBE) carries the cluster id in tag. */
static int queue_rtp(mc_pc *pc, struct pc_track *t, struct mc_rtp_packet *p, bool media, enum mc_pacer_class cls,
                     uint32_t tag) {
  struct pc_media *m = pc->media;
  uint8_t buf[MEDIA_PKT_CAP];
  static const uint8_t zero[3];
  if (t->ext_mid > 0) mc_rtp_ext_set(&p->h, (uint8_t)t->ext_mid, (const uint8_t *)t->mid, strlen(t->mid));
  if (t->ext_abs > 0) mc_rtp_ext_set(&p->h, (uint8_t)t->ext_abs, zero, 3);
  if (t->ext_twcc > 0) mc_rtp_ext_set(&p->h, (uint8_t)t->ext_twcc, zero, 2);
  size_t len = 0;
  int rc = mc_rtp_write(p, buf, 1500, &len);
  if (rc != 0) return rc;
  /* a probe is numbered as it leaves (pace_flush), padding on the RTX
   * SSRC is no video packet: nothing to repair */
  if (t->hist && cls != MC_PACER_PROBE && !(tag & PACER_TAG_PAD)) mc_rtp_history_put(t->hist, buf, len, mc_now_ms());
  bool keyframe = false;
  if (media) push_meter(m, len, mc_now_ms());
  rc = mc_pacer_push(m->pacer, cls, tag, buf, len, mc_now_us(), &keyframe);
  if (keyframe) {
    MC_LOGW(LOG, "pacer overflow: queued video dropped, key frame requested");
    for (int i = 0; i < m->ntracks; i++)
      if (m->tracks[i].sending && m->tracks[i].kind == MC_MEDIA_VIDEO) m->tracks[i].keyframe_pending = true;
  }
  return rc;
}

static int send_rtp(mc_pc *pc, struct pc_track *t, struct mc_rtp_packet *p, bool media) {
  enum mc_pacer_class cls = t->kind == MC_MEDIA_AUDIO ? MC_PACER_AUDIO : MC_PACER_VIDEO;
  return queue_rtp(pc, t, p, media, cls, (uint32_t)(t - pc->media->tracks));
}

/* Sends what the pacer lets go now, then sleeps until it lets more. */
static void pace_flush(mc_pc *pc) {
  struct pc_media *m = pc->media;
  uint8_t buf[MEDIA_PKT_CAP];
  size_t len = 0;
  uint32_t tag = 0;
  enum mc_pacer_class cls;
  uint64_t now_us = mc_now_us();
  if (!pc->srtp) return;
  pacer_follow(m);
  while (mc_pacer_pop(m->pacer, now_us, buf, 1500, &len, &cls, &tag) == 0) {
    int ti = (int)(tag & 0xff);
    if (ti >= m->ntracks) continue;
    struct pc_track *t = &m->tracks[ti];
    uint8_t abs[3], tw[2];
    uint16_t tseq = 0;
    bool has_seq = false;
    if (t->ext_abs > 0) {
      mc_rtp_abs_send_time_encode(mc_rtp_abs_send_time_from_us(mc_wall_ms() * 1000), abs);
      mc_rtp_ext_rewrite(buf, len, (uint8_t)t->ext_abs, abs, 3);
    }
    if (t->ext_twcc > 0) {
      mc_rtp_twcc_seq_encode(m->twcc_seq, tw);
      /* an RTX copy gets a sequence number of its own: it is another packet on the wire */
      if (mc_rtp_ext_rewrite(buf, len, (uint8_t)t->ext_twcc, tw, 2) == 0) {
        tseq = m->twcc_seq++;
        has_seq = true;
      }
    }
    if ((cls == MC_PACER_PROBE || (tag & PACER_TAG_PAD)) && len >= 4) {
      /* Probes wait behind every video packet (the lowest class). Numbered
       * when queued, one would leave after newer video: the receiver
       * counted it lost and asked for it again, and behind more than
       * SRTP's replay window (128 packets) it was dropped as a replay
       * (test_pc's media test under ASan: the 6 packets of a probe lost).
       * Numbered as it leaves, it is in sequence, as WebRTC numbers its
       * padding when the pacer sends it; on the RTX SSRC, in sequence with
       * the retransmissions (which go before it). */
      uint16_t seq = (tag & PACER_TAG_PAD) ? mc_rtp_history_take_rtx_seq(t->hist) : t->seq++;
      buf[2] = (uint8_t)(seq >> 8);
      buf[3] = (uint8_t)seq;
    }
    size_t payload = 0;
    struct mc_rtp_packet p;
    if (mc_rtp_parse(buf, len, &p) == 0) payload = p.payload_len;
    size_t out = 0;
    if (mc_srtp_protect_rtp(pc->srtp, buf, len, sizeof buf, &out) != 0) continue;
    if (has_seq && cls == MC_PACER_PROBE && (int)(tag >> 16) == m->probe.id)
      mc_bwe_on_probe_sent(m->bwe, tseq, out, now_us, &m->probe);
    else if (has_seq)
      mc_bwe_on_packet_sent(m->bwe, tseq, out, now_us);
    pc_send_datagram(pc, buf, out);
    if (tag & PACER_TAG_RTX) {
      t->rtx_sent++;
    } else if (!(tag & PACER_TAG_PAD)) {
      t->packets_sent++;
      t->bytes_sent += payload;
    }
  }
  uint64_t next = mc_pacer_next_us(m->pacer, now_us);
  if (next == UINT64_MAX) {
    uv_timer_stop(&m->pace_timer);
    return;
  }
  uint64_t wait_ms = next > now_us ? (next - now_us + 999) / 1000 : 1;
  uv_timer_start(&m->pace_timer, on_pace, wait_ms, 0);
}

static void on_pace(uv_timer_t *timer) {
  struct pc_media *m = timer->data;
  mc_pc *pc = m->pc;
  if (!pc->srtp || pc->closed) return;
  pc_enter(pc);
  if (pc->media == m) pace_flush(pc);
  pc_leave(pc);
}

/* A new packet on t's SSRC: its payload type, the next sequence number. */
static void new_packet(struct pc_track *t, uint32_t rtp_timestamp, struct mc_rtp_packet *p) {
  memset(p, 0, sizeof *p);
  p->h.pt = (uint8_t)t->pt;
  p->h.seq = t->seq++;
  p->h.ts = rtp_timestamp;
  p->h.ssrc = t->ssrc;
}

int mc_pc_send_frame(mc_pc *pc, mc_pc_track ti, const uint8_t *data, size_t len, uint32_t rtp_timestamp,
                     bool keyframe) {
  (void)keyframe;
  if (!pc || !data || len == 0) return MC_EINVAL;
  struct pc_media *m = pc->media;
  if (!m || ti < 0 || ti >= m->ntracks || !m->tracks[ti].present) return MC_EINVAL;
  struct pc_track *t = &m->tracks[ti];
  if (!t->sending || !pc->srtp || pc->closed || !m->started) return MC_ESTATE;
  pc_enter(pc);
  int rc = 0;
  struct mc_rtp_packet p;
  if (t->kind == MC_MEDIA_AUDIO) {
    new_packet(t, rtp_timestamp, &p);
    p.payload = data;
    p.payload_len = len;
    rc = send_rtp(pc, t, &p, true);
  } else {
    size_t count = mc_vp8_packet_count(len, MEDIA_MAX_PAYLOAD);
    uint8_t payload[MEDIA_MAX_PAYLOAD];
    for (size_t i = 0; i < count && rc == 0; i++) {
      size_t plen = 0;
      bool marker = false;
      rc = mc_vp8_packetize(t->picture_id, data, len, MEDIA_MAX_PAYLOAD, i, payload, sizeof payload, &plen, &marker);
      if (rc != 0) break;
      new_packet(t, rtp_timestamp, &p);
      p.h.marker = marker;
      p.payload = payload;
      p.payload_len = plen;
      rc = send_rtp(pc, t, &p, true);
    }
    t->picture_id = (uint16_t)((t->picture_id + 1) & 0x7fff);
  }
  if (rc == 0) {
    t->frames_sent++;
    t->last_rtp_ts = rtp_timestamp;
    t->last_send_us = mc_wall_ms() * 1000;
  }
  if (pc->media == m) pace_flush(pc);
  pc_leave(pc);
  return rc;
}

/* ---- receiving ---- */

static struct pc_track *track_for(struct pc_media *m, const struct mc_rtp_packet *p, bool *is_rtx) {
  *is_rtx = false;
  for (int i = 0; i < m->ntracks; i++) {
    struct pc_track *t = &m->tracks[i];
    if (!t->receiving) continue;
    if (t->remote_ssrc && p->h.ssrc == t->remote_ssrc) return t;
    if (t->remote_rtx_ssrc && p->h.ssrc == t->remote_rtx_ssrc) {
      *is_rtx = true;
      return t;
    }
  }
  /* Unsignaled SSRC: the mid extension names the m-line (RFC 9143 15), or
   * else the payload type does (BUNDLE keeps them distinct). */
  for (int i = 0; i < m->ntracks; i++) {
    struct pc_track *t = &m->tracks[i];
    if (!t->receiving) continue;
    char mid[33];
    bool match = false;
    if (t->ext_mid > 0 && mc_rtp_ext_get_mid(&p->h, (uint8_t)t->ext_mid, mid, sizeof mid) == 0)
      match = strcmp(mid, t->mid) == 0;
    else
      match = p->h.pt == t->pt || (t->rtx_pt > 0 && p->h.pt == t->rtx_pt);
    if (!match) continue;
    if (t->rtx_pt > 0 && p->h.pt == t->rtx_pt) {
      t->remote_rtx_ssrc = p->h.ssrc;
      *is_rtx = true;
    } else {
      t->remote_ssrc = p->h.ssrc;
    }
    return t;
  }
  return NULL;
}

static void deliver_video(mc_pc *pc, mc_pc_track ti, struct pc_track *t) {
  struct pc_media *m = pc->media;
  struct mc_vjb_frame f;
  uint64_t now = mc_now_ms();
  while (pc->media == m && t->vjb && mc_vjb_pop(t->vjb, now, m->frame_buf, MEDIA_MAX_FRAME, &f) == 0) {
    t->frames_rx++;
    if (pc->cbs.on_frame) pc->cbs.on_frame(pc, ti, m->frame_buf, f.len, f.ts, f.keyframe, pc->user);
  }
}

static void on_rtp(mc_pc *pc, const uint8_t *buf, size_t len) {
  struct pc_media *m = pc->media;
  struct mc_rtp_packet p;
  if (mc_rtp_parse(buf, len, &p) != 0) return;
  bool is_rtx = false;
  struct pc_track *t = track_for(m, &p, &is_rtx);
  if (!t) return;
  mc_pc_track ti = (int)(t - m->tracks);
  uint64_t now_us = mc_now_us();
  if (m->twcc && t->ext_twcc > 0) {
    uint16_t tseq;
    if (mc_rtp_ext_get_twcc_seq(&p.h, (uint8_t)t->ext_twcc, &tseq) == 0)
      mc_twcc_recorder_record(m->twcc, tseq, p.h.ssrc, now_us);
  }
  uint32_t abs;
  if (m->rbe && t->ext_abs > 0 && mc_rtp_ext_get_abs_send_time(&p.h, (uint8_t)t->ext_abs, &abs) == 0)
    mc_rbe_on_packet(m->rbe, abs, len, now_us, p.payload_len == 0 && p.padding_len > 0);
  uint8_t orig[1500];
  if (is_rtx) {
    size_t olen = 0;
    if (t->pt < 0 || mc_rtx_unwrap(buf, len, t->remote_ssrc, (uint8_t)t->pt, orig, sizeof orig, &olen) != 0) return;
    if (mc_rtp_parse(orig, olen, &p) != 0) return;
  }
  if (p.h.pt != t->pt) return;
  if (!t->rs_started) {
    mc_rtp_recv_stats_init(&t->rs, p.h.ssrc, t->clock);
    t->rs_started = true;
  }
  /* A repaired packet is not counted as an original arrival: packetsLost
   * stays the network's loss (as webrtc-stats counts it), and jitter is
   * measured on originals only. */
  if (!is_rtx) mc_rtp_recv_stats_update(&t->rs, p.h.seq, p.h.ts, p.payload_len, now_us);
  else t->rtx_rx++;
  t->packets_rx++;
  t->bytes_rx += p.payload_len;
  if (t->kind == MC_MEDIA_VIDEO) {
    if (t->vjb && mc_vjb_push_vp8(t->vjb, &p, now_us / 1000) == 0) deliver_video(pc, ti, t);
  } else {
    t->frames_rx++;
    if (pc->cbs.on_frame) pc->cbs.on_frame(pc, ti, p.payload, p.payload_len, p.h.ts, false, pc->user);
  }
}

static struct pc_track *track_by_our_ssrc(struct pc_media *m, uint32_t ssrc) {
  for (int i = 0; i < m->ntracks; i++)
    if (m->tracks[i].sending && m->tracks[i].ssrc == ssrc) return &m->tracks[i];
  return NULL;
}

static void rtt_from_block(struct pc_media *m, const struct mc_rtcp_report_block *rb) {
  struct pc_track *t = track_by_our_ssrc(m, rb->ssrc);
  uint64_t rtt_us;
  if (!t) return;
  mc_bwe_on_rr_loss(m->bwe, rb->fraction_lost, mc_now_us());
  if (mc_rtcp_rtt_us(rb, mc_ntp_from_unix_us(mc_wall_ms() * 1000), &rtt_us) != 0) return;
  t->rtt_s = (double)rtt_us / 1e6;
  uint32_t rtt_ms = (uint32_t)(rtt_us / 1000);
  for (int i = 0; i < m->ntracks; i++)
    if (m->tracks[i].vjb) mc_vjb_set_rtt(m->tracks[i].vjb, rtt_ms);
  mc_bwe_on_rtt(m->bwe, rtt_ms);
  if (m->rbe) mc_rbe_on_rtt(m->rbe, rtt_ms);
}

/* Raises on_target_bitrate when the target moved enough (see
 * TARGET_*), and keeps the pacer on it. */
static void check_target(mc_pc *pc) {
  struct pc_media *m = pc->media;
  if (!m) return;
  pacer_follow(m);
  if (!m->cc_feedback) return; /* no estimate: the application keeps its own rate */
  uint64_t now = mc_now_ms();
  uint64_t bps = mc_bwe_target_bps(m->bwe);
  if (m->reported_target) {
    if (bps == m->reported_bps || now - m->reported_ms < TARGET_MIN_INTERVAL_MS) return;
    double change = bps > m->reported_bps ? (double)(bps - m->reported_bps) : (double)(m->reported_bps - bps);
    if (change < TARGET_CHANGE * (double)m->reported_bps && now - m->reported_ms < TARGET_QUIET_MS) return;
  }
  struct mc_bwe_stats st;
  mc_bwe_get_stats(m->bwe, &st);
  MC_LOGD("bwe", "target bps=%llu delay_bps=%llu loss_bps=%llu remb_bps=%llu acked_bps=%llu loss=%.3f rtt_ms=%u "
                 "overuses=%llu",
          (unsigned long long)bps, (unsigned long long)st.delay_bps, (unsigned long long)st.loss_bps,
          (unsigned long long)st.remb_bps, (unsigned long long)st.acked_bps, st.loss, st.rtt_ms,
          (unsigned long long)st.overuses);
  m->reported_target = true;
  m->reported_bps = bps;
  m->reported_ms = now;
  if (pc->cbs.on_target_bitrate) pc->cbs.on_target_bitrate(pc, bps, pc->user);
}

static void on_rtcp_packet(const struct mc_rtcp_packet *p, void *user) {
  mc_pc *pc = user;
  struct pc_media *m = pc->media;
  if (!m) return;
  switch (p->kind) {
  case MC_RTCP_KIND_SR:
    for (int i = 0; i < m->ntracks; i++)
      if (m->tracks[i].rs_started && m->tracks[i].rs.ssrc == p->u.sr.ssrc)
        mc_rtp_recv_stats_on_sr(&m->tracks[i].rs, p->u.sr.ntp, p->u.sr.rtp_ts, mc_now_us());
    for (int i = 0; i < p->u.sr.rb_count; i++) rtt_from_block(m, &p->u.sr.rb[i]);
    break;
  case MC_RTCP_KIND_RR:
    for (int i = 0; i < p->u.rr.rb_count; i++) rtt_from_block(m, &p->u.rr.rb[i]);
    break;
  case MC_RTCP_KIND_NACK: {
    struct pc_track *t = track_by_our_ssrc(m, p->u.nack.media_ssrc);
    uint16_t seqs[512];
    size_t n = 0;
    if (!t || !t->hist || mc_rtcp_nack_seqs(&p->u.nack, seqs, MC_ARRAY_LEN(seqs), &n) != 0) break;
    t->nack_rx++;
    if (t->rtx_pt <= 0) break; /* no RTX negotiated: nothing to answer with */
    uint32_t tag = (uint32_t)(t - m->tracks) | PACER_TAG_RTX;
    for (size_t i = 0; i < n; i++) {
      uint8_t buf[MEDIA_PKT_CAP];
      size_t len = 0;
      if (mc_rtp_history_rtx(t->hist, seqs[i], mc_now_ms(), buf, 1500, &len) != 0) continue;
      if (mc_pacer_push(m->pacer, MC_PACER_RTX, tag, buf, len, mc_now_us(), NULL) != 0) break;
    }
    pace_flush(pc);
    break;
  }
  case MC_RTCP_KIND_PLI:
  case MC_RTCP_KIND_FIR: {
    uint32_t ssrc = p->kind == MC_RTCP_KIND_PLI ? p->u.pli.media_ssrc
                                                : (p->u.fir.count ? p->u.fir.entry[0].ssrc : 0);
    struct pc_track *t = track_by_our_ssrc(m, ssrc);
    if (!t) break;
    if (p->kind == MC_RTCP_KIND_PLI) t->pli_rx++;
    else t->fir_rx++;
    if (pc->cbs.on_keyframe_request) pc->cbs.on_keyframe_request(pc, (int)(t - m->tracks), pc->user);
    break;
  }
  case MC_RTCP_KIND_TWCC:
    mc_bwe_on_twcc_feedback(m->bwe, &p->u.twcc, m->twcc_st, MC_TWCC_MAX_PACKETS, mc_now_us());
    break;
  case MC_RTCP_KIND_REMB:
    mc_bwe_on_remb(m->bwe, p->u.remb.bitrate_bps, mc_now_us());
    break;
  default:
    break;
  }
}

void pc_media_receive(mc_pc *pc, const uint8_t *data, size_t len) {
  if (!pc->srtp || !pc->media || len > 1500) return;
  uint8_t buf[1500];
  size_t out = 0;
  memcpy(buf, data, len);
  bool rtcp = mc_srtp_is_rtcp(buf, len);
  int rc = rtcp ? mc_srtp_unprotect_rtcp(pc->srtp, buf, len, &out) : mc_srtp_unprotect_rtp(pc->srtp, buf, len, &out);
  if (rc != 0) {
    pc->srtp_failures++;
    return;
  }
  pc->srtp_packets++;
  if (rtcp) {
    mc_rtcp_parse(buf, out, on_rtcp_packet, pc);
    check_target(pc);
  } else {
    on_rtp(pc, buf, out);
  }
}

/* ---- the tick: feedback and reports ---- */

static uint32_t feedback_ssrc(struct pc_media *m) {
  for (int i = 0; i < m->ntracks; i++)
    if (m->tracks[i].sending) return m->tracks[i].ssrc;
  return m->rtcp_ssrc;
}

static void send_reports(mc_pc *pc) {
  struct pc_media *m = pc->media;
  uint8_t buf[MEDIA_PKT_CAP];
  size_t off = 0, len = 0;
  struct mc_rtcp_report_block rbs[MC_RTCP_MAX_RB];
  uint8_t nrb = 0;
  uint64_t now_us = mc_now_us();
  for (int i = 0; i < m->ntracks && nrb < MC_RTCP_MAX_RB; i++)
    if (m->tracks[i].rs_started && mc_rtp_recv_stats_report_block(&m->tracks[i].rs, now_us, &rbs[nrb]) == 0) nrb++;
  bool first = true;
  for (int i = 0; i < m->ntracks; i++) {
    struct pc_track *t = &m->tracks[i];
    if (!t->sending || !t->packets_sent) continue;
    struct mc_rtcp_sr sr;
    memset(&sr, 0, sizeof sr);
    uint64_t wall_us = mc_wall_ms() * 1000;
    sr.ssrc = t->ssrc;
    sr.ntp = mc_ntp_from_unix_us(wall_us);
    sr.rtp_ts = t->last_rtp_ts + (uint32_t)((wall_us - t->last_send_us) * t->clock / 1000000);
    sr.packet_count = (uint32_t)t->packets_sent;
    sr.octet_count = (uint32_t)t->bytes_sent;
    if (first) {
      sr.rb_count = nrb;
      memcpy(sr.rb, rbs, nrb * sizeof rbs[0]);
    }
    if (mc_rtcp_write_sr(&sr, buf + off, 1500 - off, &len) != 0) break;
    off += len;
    first = false;
  }
  if (first) {
    struct mc_rtcp_rr rr;
    memset(&rr, 0, sizeof rr);
    rr.ssrc = m->rtcp_ssrc;
    rr.rb_count = nrb;
    memcpy(rr.rb, rbs, nrb * sizeof rbs[0]);
    if (mc_rtcp_write_rr(&rr, buf, 1500, &len) != 0) return;
    off = len;
  }
  if (mc_rtcp_write_sdes_cname(feedback_ssrc(m), m->cname, buf + off, 1500 - off, &len) == 0) off += len;
  send_protected_rtcp(pc, buf, off);
}

/* Padding while the encoders leave most of the estimate unused (video
 * paused below the audio-only threshold, a static scene): the delay-based
 * rate may not grow past 1.5 x what is acknowledged (gcc-02 5.5), so
 * without traffic the estimate could never climb back to where video
 * resumes. WebRTC probes with padding for the same reason. Padding-only
 * packets (RFC 3550 5.1 P bit, no payload) on the video SSRC, up to 90% of
 * the target, only while the media uses less than 85% of it and the
 * target is under 300 kbit/s (audio alone is ~55 kbit/s on the wire, so a
 * lower share would leave a paused call stuck where 1.5 x audio caps it): enough to climb past the point where video
 * resumes (mc_fit: 80 kbit/s of video plus audio), never a standing cost
 * for an encoder that is simply capped below a high estimate. */
#define PAD_SHARE 0.9
#define PAD_BELOW 0.85
#define PAD_MAX_TARGET_BPS 300000.0
#define PAD_MAX_PACKETS_PER_TICK 10
/* a padding packet on the wire: 255 bytes of padding, the RTP header with
 * its extensions, the SRTP tag */
#define PAD_PACKET_BYTES 300.0

/* With REMB alone the peer's estimate may not grow past 1.5 x what it
 * receives either, and nothing of ours measures the path: padding up to
 * the target (as WebRTC's pacer pads up to it when the encoder produces
 * less) lets it climb, up to 1 Mbit/s (beyond that, the probes do). */
#define PAD_REMB_SHARE 1.0
#define PAD_REMB_MAX_TARGET_BPS 1000000.0

/* For a second after a probe's result raised the target in a recovery
 * (mc_bwe_ramping), padding up to 90 % of it whatever its level, so that
 * the path proves the raise before the encoder has followed it: the next
 * probe waits for 85 % of the rate to be delivered, and each result may
 * raise the target to 1.5 x what is delivered, so with the encoder alone
 * (sending 60-70 % of the target while it climbed) the lab's drop300k came
 * back in steps of 1.5-2 s, 9 s to 90 % of the link. The target padded to
 * is at most 1.5 Mbit/s, about what a call's encoder is given at most
 * (the app's --bitrate; the quality bench's 1500): above it the probes
 * carry on alone. */
#define PAD_RAMP_MAX_BPS 1500000.0

/* The video track padding and probes go on: one whose packets the peer
 * measures (transport-wide sequence, or abs-send-time for its REMB). */
static struct pc_track *padding_track(struct pc_media *m, bool twcc) {
  for (int i = 0; i < m->ntracks; i++) {
    struct pc_track *t = &m->tracks[i];
    if (t->sending && t->kind == MC_MEDIA_VIDEO && t->packets_sent && (twcc ? t->ext_twcc > 0 : t->ext_abs > 0))
      return t;
  }
  return NULL;
}

/* Padding (filler and probes) goes on the RTX SSRC when RTX is
 * negotiated, as WebRTC sends it. On the video SSRC each padding packet
 * takes a video sequence number, and our jitter buffer (as any that
 * assembles frames by sequence) cannot tell a lost one from a lost piece
 * of a frame: probes are never retransmitted, so a lost probe packet
 * stalled the next frame until a key frame came (lab call-media-loss, 5 %
 * loss: a "frame lost, waiting for a key frame" 200 ms after each probe
 * that lost a packet, 256 of 300 frames decoded), and a lost filler
 * packet held the video for a retransmission. On the RTX SSRC a lost
 * padding packet leaves no gap in the video; the receiver counts it for
 * its estimate (transport-wide sequence, abs-send-time) and drops it (an
 * RTX packet without the original sequence number). */
static bool pad_on_rtx(const struct pc_track *t) { return t->rtx_pt > 0 && t->rtx_ssrc && t->hist; }

/* A padding-only packet on t: on the RTX SSRC, numbered as it leaves
 * (*tag gets PACER_TAG_PAD); else the video SSRC's next number, or none
 * yet for a probe (numbered as it leaves, see pace_flush). */
static void new_padding(struct pc_track *t, struct mc_rtp_packet *p, bool probe, uint32_t *tag) {
  if (pad_on_rtx(t)) {
    memset(p, 0, sizeof *p);
    p->h.pt = (uint8_t)t->rtx_pt;
    p->h.ssrc = t->rtx_ssrc;
    p->h.ts = t->last_rtp_ts;
    *tag |= PACER_TAG_PAD;
    return;
  }
  new_packet(t, t->last_rtp_ts, p);
  if (probe) t->seq--;
}

static void send_padding(mc_pc *pc, uint64_t now_ms) {
  struct pc_media *m = pc->media;
  uint64_t elapsed_ms = m->pad_last_ms ? now_ms - m->pad_last_ms : MEDIA_TICK_MS;
  m->pad_last_ms = now_ms;
  struct mc_bwe_stats st;
  mc_bwe_get_stats(m->bwe, &st);
  bool remb_only = st.feedbacks == 0 && st.remb_bps > 0;
  if (!m->cc_feedback || (st.feedbacks == 0 && !remb_only)) return;
  struct pc_track *t = padding_track(m, !remb_only);
  struct mc_pacer_stats ps;
  mc_pacer_get_stats(m->pacer, &ps);
  double media = (double)push_rate(m, now_ms), target = (double)st.target_bps;
  double share = remb_only ? PAD_REMB_SHARE : PAD_SHARE;
  double max_target = remb_only ? PAD_REMB_MAX_TARGET_BPS : PAD_MAX_TARGET_BPS;
  if (!remb_only && mc_bwe_ramping(m->bwe, now_ms * 1000)) {
    if (target > PAD_RAMP_MAX_BPS) target = PAD_RAMP_MAX_BPS;
    max_target = INFINITY;
  }
  if (!t || ps.queued_packets || media >= PAD_BELOW * target || target >= max_target) {
    m->pad_credit = 0;
    return;
  }
  /* What is owed accumulates over ticks: a packet per tick whatever the
   * gap (as this once did) is 120 kbit/s of padding, which on a 300
   * kbit/s link after a drop kept the bottleneck queue full. */
  if (elapsed_ms > 4 * MEDIA_TICK_MS) elapsed_ms = 4 * MEDIA_TICK_MS;
  m->pad_credit += (share * target - media) * (double)elapsed_ms / 1000.0 / 8.0;
  int n = 0;
  while (m->pad_credit >= PAD_PACKET_BYTES && n < PAD_MAX_PACKETS_PER_TICK) {
    struct mc_rtp_packet p;
    uint32_t tag = (uint32_t)(t - m->tracks);
    new_padding(t, &p, false, &tag);
    p.padding_len = 255;
    if (queue_rtp(pc, t, &p, false, MC_PACER_VIDEO, tag) != 0) break;
    m->pad_credit -= PAD_PACKET_BYTES;
    n++;
  }
  if (m->pad_credit > PAD_PACKET_BYTES) m->pad_credit = PAD_PACKET_BYTES;
  if (n) pace_flush(pc);
}

/* A probe cluster (rtp/probe.c) as padding-only packets on the video's
 * RTX SSRC (or the video SSRC without RTX, see new_padding), through the pacer at the cluster's rate; each carries the
 * transport-wide sequence number and abs-send-time, so the peer's
 * feedback (or its receive-side estimator, for REMB) measures it. One
 * cluster at a time: the next is asked for once the last has left. */
#define PROBE_MAX_PACKETS 64
static void send_probe(mc_pc *pc, uint64_t now_ms) {
  struct pc_media *m = pc->media;
  if (!m->cc_feedback) return;
  struct mc_pacer_stats ps;
  mc_pacer_get_stats(m->pacer, &ps);
  if (ps.queued_probe) return;
  struct mc_bwe_stats st;
  mc_bwe_get_stats(m->bwe, &st);
  struct pc_track *t = padding_track(m, st.feedbacks > 0 || st.remb_bps == 0);
  if (!t) t = padding_track(m, false);
  if (!t) return;
  struct mc_probe_cluster c;
  if (!mc_bwe_probe_next(m->bwe, now_ms * 1000, push_rate(m, now_ms), &c)) return;
  size_t n = (size_t)((double)c.min_bytes / PAD_PACKET_BYTES + 0.999);
  if (n < (size_t)c.min_packets) n = (size_t)c.min_packets;
  if (n > PROBE_MAX_PACKETS) n = PROBE_MAX_PACKETS;
  /* enough packets for a slow probe cost more than its 15 ms: smaller ones */
  size_t pad = (size_t)((double)c.min_bytes / (double)n);
  pad = pad > PAD_PACKET_BYTES - 45 ? 255 : pad < 45 + 32 ? 32 : pad - 45;
  m->probe = c;
  mc_pacer_set_probe(m->pacer, c.bps);
  MC_LOGD("bwe", "probe cluster=%d bps=%llu packets=%zu rtx=%d", c.id, (unsigned long long)c.bps, n, pad_on_rtx(t));
  for (size_t i = 0; i < n; i++) {
    struct mc_rtp_packet p;
    uint32_t tag = (uint32_t)(t - m->tracks) | ((uint32_t)c.id << 16);
    new_padding(t, &p, true, &tag);
    p.padding_len = (uint8_t)pad;
    if (queue_rtp(pc, t, &p, false, MC_PACER_PROBE, tag) != 0) break;
  }
  pace_flush(pc);
}

/* draft-alvestrand-rmcat-remb-03: our estimate for every stream we receive. */
static void send_remb(mc_pc *pc, uint64_t bps) {
  struct pc_media *m = pc->media;
  struct mc_rtcp_remb r;
  memset(&r, 0, sizeof r);
  r.sender_ssrc = feedback_ssrc(m);
  r.bitrate_bps = bps;
  for (int i = 0; i < m->ntracks && r.ssrc_count < MC_RTCP_MAX_REMB_SSRC; i++)
    if (m->tracks[i].receiving && m->tracks[i].remote_ssrc) r.ssrc[r.ssrc_count++] = m->tracks[i].remote_ssrc;
  if (r.ssrc_count == 0) return;
  uint8_t buf[MEDIA_PKT_CAP];
  size_t len = 0;
  if (mc_rtcp_write_remb(&r, buf, 1500, &len) != 0) return;
  MC_LOGD("bwe", "remb bps=%llu incoming_bps=%llu", (unsigned long long)bps,
          (unsigned long long)mc_rbe_incoming_bps(m->rbe));
  send_protected_rtcp(pc, buf, len);
}

static void on_tick(uv_timer_t *timer) {
  struct pc_media *m = timer->data;
  mc_pc *pc = m->pc;
  if (!pc->srtp || pc->closed) return;
  pc_enter(pc);
  uint64_t now = mc_now_ms();
  uint8_t buf[MEDIA_PKT_CAP];
  size_t len = 0;
  for (int i = 0; i < m->ntracks && pc->media == m; i++) {
    struct pc_track *t = &m->tracks[i];
    if (!t->vjb || !t->remote_ssrc) continue;
    uint16_t seqs[256];
    size_t n = 0;
    if (mc_vjb_nack_list(t->vjb, now, seqs, MC_ARRAY_LEN(seqs), &n) == 0 && n > 0 &&
        mc_rtcp_write_nack(feedback_ssrc(m), t->remote_ssrc, seqs, n, buf, 1500, &len) == 0) {
      send_protected_rtcp(pc, buf, len);
      t->nack_tx++;
    }
    if (mc_vjb_keyframe_request(t->vjb, now) &&
        mc_rtcp_write_pli(feedback_ssrc(m), t->remote_ssrc, buf, 1500, &len) == 0) {
      send_protected_rtcp(pc, buf, len);
      t->pli_tx++;
    }
    deliver_video(pc, i, t); /* frames released by the timeout policy */
  }
  if (pc->media == m && m->twcc && now - m->last_twcc_ms >= MC_TWCC_FEEDBACK_INTERVAL_MS) {
    m->last_twcc_ms = now;
    while (mc_twcc_recorder_build(m->twcc, buf, 1500, &len) == 0) send_protected_rtcp(pc, buf, len);
  }
  if (pc->media == m && now - m->last_report_ms >= MEDIA_REPORT_MS) {
    m->last_report_ms = now;
    send_reports(pc);
  }
  uint64_t remb_bps = 0;
  if (pc->media == m && m->send_remb && mc_rbe_remb_due(m->rbe, now * 1000, &remb_bps)) send_remb(pc, remb_bps);
  for (int i = 0; i < m->ntracks && pc->media == m; i++) {
    struct pc_track *t = &m->tracks[i];
    if (!t->keyframe_pending) continue;
    t->keyframe_pending = false;
    if (pc->cbs.on_keyframe_request) pc->cbs.on_keyframe_request(pc, i, pc->user);
  }
  if (pc->media == m) send_probe(pc, now);
  if (pc->media == m) send_padding(pc, now);
  if (pc->media == m) check_target(pc);
  pc_leave(pc);
}

void pc_media_start(mc_pc *pc) {
  struct pc_media *m = media_get(pc);
  if (!m || m->started) return;
  m->started = true;
  m->last_report_ms = mc_now_ms();
  uv_timer_start(&m->timer, on_tick, MEDIA_TICK_MS, MEDIA_TICK_MS);
}

int mc_pc_track_count(const mc_pc *pc) { return pc && pc->media ? pc->media->ntracks : 0; }

int mc_pc_get_track_stats(const mc_pc *pc, mc_pc_track ti, struct mc_pc_track_stats *out) {
  if (!pc || !out || !pc->media || ti < 0 || ti >= pc->media->ntracks) return MC_EINVAL;
  const struct pc_track *t = &pc->media->tracks[ti];
  if (!t->present) return MC_ENOTFOUND;
  memset(out, 0, sizeof *out);
  out->kind = t->kind == MC_MEDIA_VIDEO ? MC_PC_VIDEO : MC_PC_AUDIO;
  mc_strcpy(out->mid, sizeof out->mid, t->mid);
  out->sending = t->sending;
  out->receiving = t->receiving;
  mc_strcpy(out->codec, sizeof out->codec, t->kind == MC_MEDIA_VIDEO ? "VP8" : "opus");
  out->packets_sent = t->packets_sent;
  out->bytes_sent = t->bytes_sent;
  out->frames_sent = t->frames_sent;
  out->retransmitted_packets_sent = t->rtx_sent;
  out->nack_received = t->nack_rx;
  out->pli_received = t->pli_rx;
  out->fir_received = t->fir_rx;
  out->packets_received = t->packets_rx;
  out->retransmitted_packets_received = t->rtx_rx;
  out->bytes_received = t->bytes_rx;
  out->frames_received = t->frames_rx;
  out->packets_lost = t->rs_started ? mc_rtp_recv_stats_lost(&t->rs) : 0;
  out->jitter_s = t->rs_started ? (double)mc_rtp_recv_stats_jitter(&t->rs) / t->clock : 0;
  out->nack_sent = t->nack_tx;
  out->pli_sent = t->pli_tx;
  if (t->vjb) {
    struct mc_vjb_stats vs;
    mc_vjb_get_stats(t->vjb, &vs);
    out->frames_dropped = vs.frames_dropped;
  }
  out->round_trip_time_s = t->rtt_s;
  if (t->rs_started && t->rs.have_sr) {
    out->has_sender_report = true;
    out->sender_report_ntp = t->rs.last_sr_ntp;
    out->sender_report_rtp_ts = t->rs.last_sr_rtp_ts;
  }
  return 0;
}

void pc_media_bitrates(const mc_pc *pc, uint64_t *outgoing_bps, uint64_t *incoming_bps) {
  const struct pc_media *m = pc ? pc->media : NULL;
  if (outgoing_bps) *outgoing_bps = m && m->cc_feedback ? mc_bwe_target_bps(m->bwe) : 0;
  if (incoming_bps) *incoming_bps = m && m->rbe ? mc_rbe_estimate_bps(m->rbe) : 0;
}

/* The application's decoder lost its reference (a frame it could not
 * decode, its queue overflowed): a PLI (RFC 4585 6.3.1) to the track's
 * sender, no more than one per APP_PLI_MIN_MS so a struggling decoder does
 * not flood the peer. */
#define APP_PLI_MIN_MS 300
int mc_pc_request_keyframe(mc_pc *pc, mc_pc_track ti) {
  if (!pc || !pc->media || ti < 0 || ti >= pc->media->ntracks) return MC_EINVAL;
  struct pc_media *m = pc->media;
  struct pc_track *t = &m->tracks[ti];
  if (!t->present || t->kind != MC_MEDIA_VIDEO) return MC_EINVAL;
  if (!pc->srtp || pc->closed || !t->remote_ssrc) return MC_ESTATE;
  uint64_t now = mc_now_ms();
  if (t->app_pli_ms && now - t->app_pli_ms < APP_PLI_MIN_MS) return 0;
  uint8_t buf[64];
  size_t len = 0;
  int rc = mc_rtcp_write_pli(feedback_ssrc(m), t->remote_ssrc, buf, sizeof buf, &len);
  if (rc != 0) return rc;
  t->app_pli_ms = now;
  send_protected_rtcp(pc, buf, len);
  t->pli_tx++;
  return 0;
}
