/* VP8 through libvpx in real-time mode (issue 5 item 2). Settings follow
 * what WebRTC's libvpx wrapper does for a camera stream: one pass CBR, no
 * lag, error resilient, keyframes on request. */
#include <stdlib.h>
#include <string.h>

#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vpx_encoder.h>

#include "media/media.h"
#include "util/util.h"

#define TIMEBASE 90000 /* the RTP video clock */

struct mc_vp8_encoder {
  struct mc_vp8_encoder_config cfg;
  vpx_codec_enc_cfg_t vcfg;
  vpx_codec_ctx_t ctx;
  bool inited;
  bool force_kf;
  vpx_image_t img; /* a wrapper around the caller's planes */
  uint8_t *buf;
  size_t cap;
};

static bool enc_config_ok(const struct mc_vp8_encoder_config *c) {
  return c && c->width >= 16 && c->height >= 16 && c->width <= MC_MEDIA_MAX_DIM &&
         c->height <= MC_MEDIA_MAX_DIM && c->fps >= 1 && c->fps <= 240 && c->bitrate_kbps > 0 &&
         c->bitrate_kbps <= 100000 && c->threads >= 0 && c->threads <= 16 && c->cpu_used >= -16 &&
         c->cpu_used <= 16 && c->kf_max_dist >= 0;
}

static int enc_init(mc_vp8_encoder *e) {
  const struct mc_vp8_encoder_config *c = &e->cfg;
  vpx_codec_enc_cfg_t *v = &e->vcfg;
  if (vpx_codec_enc_config_default(vpx_codec_vp8_cx(), v, 0) != VPX_CODEC_OK) return MC_EINVAL;
  v->g_w = (unsigned)c->width;
  v->g_h = (unsigned)c->height;
  v->g_timebase.num = 1;
  v->g_timebase.den = TIMEBASE;
  v->g_threads = (unsigned)(c->threads ? c->threads : MC_VP8_THREADS_DEFAULT);
  v->g_lag_in_frames = 0;
  v->g_pass = VPX_RC_ONE_PASS;
  v->g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
  v->rc_end_usage = VPX_CBR;
  v->rc_target_bitrate = (unsigned)c->bitrate_kbps;
  v->rc_min_quantizer = 2;
  v->rc_max_quantizer = 56;
  v->rc_undershoot_pct = 100;
  v->rc_overshoot_pct = 15;
  /* Buffer model in ms, as WebRTC: small, so the rate tracks the target
   * within about half a second and queues stay short. */
  v->rc_buf_initial_sz = 500;
  v->rc_buf_optimal_sz = 600;
  v->rc_buf_sz = 1000;
  v->rc_dropframe_thresh = c->allow_frame_drop ? 30 : 0;
  v->rc_resize_allowed = 0;
  v->kf_mode = VPX_KF_AUTO;
  v->kf_min_dist = 0;
  v->kf_max_dist = (unsigned)(c->kf_max_dist ? c->kf_max_dist : MC_VP8_KF_MAX_DIST_DEFAULT);
  if (vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), v, 0) != VPX_CODEC_OK) {
    MC_LOGE("media", "vp8 encoder init failed: %s", vpx_codec_error_detail(&e->ctx) ? vpx_codec_error_detail(&e->ctx) : vpx_codec_error(&e->ctx));
    return MC_EINVAL;
  }
  e->inited = true;
  int cpu = c->cpu_used ? c->cpu_used : MC_VP8_CPU_USED_DEFAULT;
  vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, cpu);
  vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
  vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1);
  vpx_codec_control(&e->ctx, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION);
  /* Keyframes may take 3x an average frame (WebRTC: 0.5 * optimal buffer
   * * fps / 10 percent), or the one after a PLI would be mush. */
  unsigned intra = (unsigned)(v->rc_buf_optimal_sz / 2 * (unsigned)c->fps / 10);
  if (intra < 300) intra = 300;
  vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, intra);
  vpx_codec_control(&e->ctx, VP8E_SET_SCREEN_CONTENT_MODE, 0);
  e->force_kf = true;
  MC_LOGI("media", "vp8 encoder width=%d height=%d fps=%d kbps=%d threads=%u cpu_used=%d", c->width, c->height,
          c->fps, c->bitrate_kbps, v->g_threads, cpu);
  return 0;
}

int mc_vp8_encoder_new(const struct mc_vp8_encoder_config *config, mc_vp8_encoder **out) {
  if (!enc_config_ok(config) || !out) return MC_EINVAL;
  mc_vp8_encoder *e = calloc(1, sizeof *e);
  if (!e) return MC_ENOMEM;
  e->cfg = *config;
  int rc = enc_init(e);
  if (rc) {
    free(e);
    return rc;
  }
  *out = e;
  return 0;
}

void mc_vp8_encoder_free(mc_vp8_encoder *e) {
  if (!e) return;
  if (e->inited) vpx_codec_destroy(&e->ctx);
  free(e->buf);
  free(e);
}

void mc_vp8_encoder_request_keyframe(mc_vp8_encoder *e) {
  if (e) e->force_kf = true;
}

int mc_vp8_encoder_set_bitrate(mc_vp8_encoder *e, int kbps) {
  if (!e || kbps <= 0 || kbps > 100000) return MC_EINVAL;
  e->vcfg.rc_target_bitrate = (unsigned)kbps;
  if (vpx_codec_enc_config_set(&e->ctx, &e->vcfg) != VPX_CODEC_OK) return MC_EINVAL;
  e->cfg.bitrate_kbps = kbps;
  return 0;
}

int mc_vp8_encoder_set_framerate(mc_vp8_encoder *e, int fps) {
  if (!e || fps < 1 || fps > 240) return MC_EINVAL;
  /* The frame rate reaches libvpx through the pts step (duration); the
   * intra cap depends on it too. */
  e->cfg.fps = fps;
  unsigned intra = (unsigned)(e->vcfg.rc_buf_optimal_sz / 2 * (unsigned)fps / 10);
  vpx_codec_control(&e->ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, intra < 300 ? 300 : intra);
  return 0;
}

int mc_vp8_encoder_set_resolution(mc_vp8_encoder *e, int width, int height) {
  if (!e) return MC_EINVAL;
  struct mc_vp8_encoder_config c = e->cfg;
  c.width = width;
  c.height = height;
  if (!enc_config_ok(&c)) return MC_EINVAL;
  if (c.width == e->cfg.width && c.height == e->cfg.height) return 0;
  struct mc_vp8_encoder_config old = e->cfg;
  vpx_codec_destroy(&e->ctx);
  e->inited = false;
  e->cfg = c;
  int rc = enc_init(e);
  if (rc) {
    e->cfg = old; /* try to stay usable at the old size */
    if (enc_init(e)) return MC_ESTATE;
  }
  return rc;
}

int mc_vp8_encoder_encode(mc_vp8_encoder *e, const struct mc_i420 *in, int64_t pts_90k,
                          struct mc_encoded_frame *out) {
  if (!e || !in || !out || !in->y) return MC_EINVAL;
  if (!e->inited) return MC_ESTATE;
  if (in->width != e->cfg.width || in->height != e->cfg.height) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  out->pts_90k = pts_90k;
  vpx_image_t *img = &e->img;
  vpx_img_wrap(img, VPX_IMG_FMT_I420, (unsigned)in->width, (unsigned)in->height, 1, in->y);
  img->planes[VPX_PLANE_Y] = in->y;
  img->planes[VPX_PLANE_U] = in->u;
  img->planes[VPX_PLANE_V] = in->v;
  img->stride[VPX_PLANE_Y] = in->stride_y;
  img->stride[VPX_PLANE_U] = in->stride_u;
  img->stride[VPX_PLANE_V] = in->stride_v;
  vpx_enc_frame_flags_t flags = e->force_kf ? VPX_EFLAG_FORCE_KF : 0;
  unsigned long duration = (unsigned long)(TIMEBASE / e->cfg.fps);
  if (vpx_codec_encode(&e->ctx, img, pts_90k, duration, flags, VPX_DL_REALTIME) != VPX_CODEC_OK) {
    MC_LOGE("media", "vp8 encode failed: %s", vpx_codec_error(&e->ctx));
    return MC_EINVAL;
  }
  vpx_codec_iter_t iter = NULL;
  const vpx_codec_cx_pkt_t *pkt;
  size_t len = 0;
  bool kf = false;
  while ((pkt = vpx_codec_get_cx_data(&e->ctx, &iter)) != NULL) {
    if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
    /* One partition is configured, but append any fragments all the same. */
    size_t need = len + pkt->data.frame.sz;
    if (need > e->cap) {
      size_t cap = need * 2;
      uint8_t *nb = realloc(e->buf, cap);
      if (!nb) return MC_ENOMEM;
      e->buf = nb;
      e->cap = cap;
    }
    memcpy(e->buf + len, pkt->data.frame.buf, pkt->data.frame.sz);
    len = need;
    if (pkt->data.frame.flags & VPX_FRAME_IS_KEY) kf = true;
  }
  if (len) {
    if (kf) e->force_kf = false;
    out->data = e->buf;
    out->len = len;
    out->keyframe = kf;
  }
  return 0;
}

/* ---- decoder ---- */

struct mc_vp8_decoder {
  vpx_codec_ctx_t ctx;
};

int mc_vp8_decoder_new(int threads, mc_vp8_decoder **out) {
  if (!out || threads < 0 || threads > 16) return MC_EINVAL;
  mc_vp8_decoder *d = calloc(1, sizeof *d);
  if (!d) return MC_ENOMEM;
  vpx_codec_dec_cfg_t cfg = {.threads = (unsigned)(threads ? threads : 1), .w = 0, .h = 0};
  /* No VPX_CODEC_USE_ERROR_CONCEALMENT: a broken frame is reported. */
  if (vpx_codec_dec_init(&d->ctx, vpx_codec_vp8_dx(), &cfg, 0) != VPX_CODEC_OK) {
    free(d);
    return MC_EINVAL;
  }
  *out = d;
  return 0;
}

void mc_vp8_decoder_free(mc_vp8_decoder *d) {
  if (!d) return;
  vpx_codec_destroy(&d->ctx);
  free(d);
}

int mc_vp8_decoder_decode(mc_vp8_decoder *d, const uint8_t *buf, size_t len, struct mc_i420 *out, bool *got) {
  if (!d || !out || !got || (!buf && len)) return MC_EINVAL;
  *got = false;
  memset(out, 0, sizeof *out);
  if (len == 0 || len > UINT32_MAX) return MC_EPARSE;
  if (vpx_codec_decode(&d->ctx, buf, (unsigned)len, NULL, 0) != VPX_CODEC_OK) {
    const char *detail = vpx_codec_error_detail(&d->ctx);
    MC_LOGW("media", "vp8 decode failed: %s%s%s", vpx_codec_error(&d->ctx), detail ? ": " : "",
            detail ? detail : "");
    return MC_EPARSE;
  }
  int corrupted = 0;
  if (vpx_codec_control(&d->ctx, VP8D_GET_FRAME_CORRUPTED, &corrupted) == VPX_CODEC_OK && corrupted) {
    MC_LOGW("media", "vp8 decode: frame corrupted (reference missing)");
    return MC_EPARSE;
  }
  vpx_codec_iter_t iter = NULL;
  vpx_image_t *img = vpx_codec_get_frame(&d->ctx, &iter);
  if (!img) return 0;
  if (img->fmt != VPX_IMG_FMT_I420) return MC_EPARSE;
  out->width = (int)img->d_w;
  out->height = (int)img->d_h;
  out->y = img->planes[VPX_PLANE_Y];
  out->u = img->planes[VPX_PLANE_U];
  out->v = img->planes[VPX_PLANE_V];
  out->stride_y = img->stride[VPX_PLANE_Y];
  out->stride_u = img->stride[VPX_PLANE_U];
  out->stride_v = img->stride[VPX_PLANE_V];
  out->owned = NULL;
  *got = true;
  return 0;
}

bool mc_vp8_is_keyframe(const uint8_t *buf, size_t len) {
  /* RFC 6386 9.1: 3-byte frame tag, bit 0 of byte 0 is 0 for key frames,
   * followed by the start code 9d 01 2a. */
  return buf && len >= 10 && (buf[0] & 1) == 0 && buf[3] == 0x9d && buf[4] == 0x01 && buf[5] == 0x2a;
}
