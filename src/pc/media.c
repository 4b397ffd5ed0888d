/* pc media: encoded frames as RTP over SRTP on the negotiated m-lines.
 * Send: VP8 packetizer (RFC 7741) or one Opus packet (RFC 7587), header
 * extensions as negotiated (mid, abs-send-time, transport-wide sequence),
 * a history answering NACKs with RTX (RFC 4588). Receive: SSRC (or mid, or
 * payload type) to track, RTX unwrapped, receive statistics (RFC 3550 A.3,
 * A.8), the video jitter buffer (NACK, then PLI), transport-wide feedback.
 * RTCP every second: SR or RR with report blocks and SDES CNAME. */
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

struct pc_track {
  bool present, rejected;
  enum mc_media_kind kind;
  char mid[33];
  int pt, rtx_pt;
  int ext_mid, ext_abs, ext_twcc;
  uint32_t clock;
  /* send */
  bool sending;
  uint32_t ssrc, rtx_ssrc;
  uint16_t seq, picture_id;
  mc_rtp_history *hist;
  uint32_t last_rtp_ts;
  uint64_t last_send_us;
  uint64_t packets_sent, bytes_sent, frames_sent, rtx_sent, nack_rx, pli_rx, fir_rx;
  /* receive */
  bool receiving, reported;
  uint32_t remote_ssrc, remote_rtx_ssrc;
  struct mc_rtp_recv_stats rs;
  bool rs_started;
  mc_vjb *vjb;
  uint64_t packets_rx, bytes_rx, frames_rx, nack_tx, pli_tx, rtx_rx;
  double rtt_s;
};

struct pc_media {
  mc_pc *pc;
  uv_timer_t timer;
  bool started;
  int ntracks;
  struct pc_track tracks[MC_SDP_MAX_MEDIA];
  uint16_t twcc_seq;
  mc_twcc_recorder *twcc;
  uint32_t rtcp_ssrc; /* our SSRC in RRs and feedback when we send nothing */
  char cname[20];
  uint64_t last_report_ms, last_twcc_ms;
  uint8_t *frame_buf;
};

static void on_media_closed(uv_handle_t *h) {
  struct pc_media *m = h->data;
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
  uv_timer_stop(&m->timer);
  uv_close((uv_handle_t *)&m->timer, on_media_closed);
}

static struct pc_media *media_get(mc_pc *pc) {
  if (pc->media) return pc->media;
  struct pc_media *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->frame_buf = malloc(MEDIA_MAX_FRAME);
  if (!m->frame_buf) {
    free(m);
    return NULL;
  }
  m->pc = pc;
  m->rtcp_ssrc = mc_random_u32() | 1;
  mc_random_ice_chars(m->cname, 16);
  uv_timer_init(pc->loop, &m->timer);
  m->timer.data = m;
  pc->media = m;
  return m;
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
    t->receiving = recv;
    if (recv && !t->reported) {
      t->reported = true;
      MC_LOGI(LOG, "track mid=%s kind=%s pt=%d rtx_pt=%d", t->mid, mc_media_kind_name(t->kind), t->pt, t->rtx_pt);
      if (pc->cbs.on_track)
        pc->cbs.on_track(pc, i, t->kind == MC_MEDIA_VIDEO ? MC_PC_VIDEO : MC_PC_AUDIO, pc->user);
    }
  }
}

/* ---- sending ---- */

static void send_protected_rtcp(mc_pc *pc, uint8_t *buf, size_t len) {
  size_t out = 0;
  if (!pc->srtp || mc_srtp_protect_rtcp(pc->srtp, buf, len, MEDIA_PKT_CAP, &out) != 0) return;
  pc_send_datagram(pc, buf, out);
}

/* Serialises, keeps (video), protects and sends one RTP packet. */
static int send_rtp(mc_pc *pc, struct pc_track *t, struct mc_rtp_packet *p) {
  struct pc_media *m = pc->media;
  uint8_t buf[MEDIA_PKT_CAP];
  uint8_t abs[3], tw[2];
  if (t->ext_mid > 0) mc_rtp_ext_set(&p->h, (uint8_t)t->ext_mid, (const uint8_t *)t->mid, strlen(t->mid));
  if (t->ext_abs > 0) {
    mc_rtp_abs_send_time_encode(mc_rtp_abs_send_time_from_us(mc_wall_ms() * 1000), abs);
    mc_rtp_ext_set(&p->h, (uint8_t)t->ext_abs, abs, 3);
  }
  if (t->ext_twcc > 0) {
    mc_rtp_twcc_seq_encode(m->twcc_seq++, tw);
    mc_rtp_ext_set(&p->h, (uint8_t)t->ext_twcc, tw, 2);
  }
  size_t len = 0;
  int rc = mc_rtp_write(p, buf, 1500, &len);
  if (rc != 0) return rc;
  if (t->hist) mc_rtp_history_put(t->hist, buf, len, mc_now_ms());
  size_t out = 0;
  rc = mc_srtp_protect_rtp(pc->srtp, buf, len, sizeof buf, &out);
  if (rc != 0) return rc;
  pc_send_datagram(pc, buf, out);
  t->packets_sent++;
  t->bytes_sent += p->payload_len;
  return 0;
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
    memset(&p, 0, sizeof p);
    p.h.pt = (uint8_t)t->pt;
    p.h.seq = t->seq++;
    p.h.ts = rtp_timestamp;
    p.h.ssrc = t->ssrc;
    p.payload = data;
    p.payload_len = len;
    rc = send_rtp(pc, t, &p);
  } else {
    size_t count = mc_vp8_packet_count(len, MEDIA_MAX_PAYLOAD);
    uint8_t payload[MEDIA_MAX_PAYLOAD];
    for (size_t i = 0; i < count && rc == 0; i++) {
      size_t plen = 0;
      bool marker = false;
      rc = mc_vp8_packetize(t->picture_id, data, len, MEDIA_MAX_PAYLOAD, i, payload, sizeof payload, &plen, &marker);
      if (rc != 0) break;
      memset(&p, 0, sizeof p);
      p.h.marker = marker;
      p.h.pt = (uint8_t)t->pt;
      p.h.seq = t->seq++;
      p.h.ts = rtp_timestamp;
      p.h.ssrc = t->ssrc;
      p.payload = payload;
      p.payload_len = plen;
      rc = send_rtp(pc, t, &p);
    }
    t->picture_id = (uint16_t)((t->picture_id + 1) & 0x7fff);
  }
  if (rc == 0) {
    t->frames_sent++;
    t->last_rtp_ts = rtp_timestamp;
    t->last_send_us = mc_wall_ms() * 1000;
  }
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
  if (!t || mc_rtcp_rtt_us(rb, mc_ntp_from_unix_us(mc_wall_ms() * 1000), &rtt_us) != 0) return;
  t->rtt_s = (double)rtt_us / 1e6;
  for (int i = 0; i < m->ntracks; i++)
    if (m->tracks[i].vjb) mc_vjb_set_rtt(m->tracks[i].vjb, (uint32_t)(rtt_us / 1000));
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
    for (size_t i = 0; i < n; i++) {
      uint8_t buf[MEDIA_PKT_CAP];
      size_t len = 0, out = 0;
      if (mc_rtp_history_rtx(t->hist, seqs[i], mc_now_ms(), buf, 1500, &len) != 0) continue;
      if (mc_srtp_protect_rtp(pc->srtp, buf, len, sizeof buf, &out) != 0) continue;
      pc_send_datagram(pc, buf, out);
      t->rtx_sent++;
    }
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
  default:
    break; /* REMB and transport-wide feedback: bandwidth estimation (issue 7) */
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
  if (rtcp) mc_rtcp_parse(buf, out, on_rtcp_packet, pc);
  else on_rtp(pc, buf, out);
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
