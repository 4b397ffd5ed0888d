/* Opus through libopus at 48 kHz with 20 ms frames (issue 5 item 2;
 * RFC 7587 for how it travels). */
#include <stdlib.h>

#include <opus/opus.h>

#include "media/media.h"
#include "util/util.h"

struct mc_opus_encoder {
  OpusEncoder *enc;
  int channels;
};

struct mc_opus_decoder {
  OpusDecoder *dec;
  int channels;
};

int mc_opus_encoder_new(const struct mc_opus_encoder_config *c, mc_opus_encoder **out) {
  if (!c || !out || c->channels < 1 || c->channels > 2 || c->bitrate_bps < 0 || c->bitrate_bps > 510000 ||
      c->loss_pct < 0 || c->loss_pct > 100 || c->complexity < 0 || c->complexity > 10)
    return MC_EINVAL;
  mc_opus_encoder *e = calloc(1, sizeof *e);
  if (!e) return MC_ENOMEM;
  int err = 0;
  e->enc = opus_encoder_create(MC_AUDIO_RATE, c->channels, OPUS_APPLICATION_VOIP, &err);
  if (!e->enc || err != OPUS_OK) {
    free(e);
    return MC_ENOMEM;
  }
  e->channels = c->channels;
  int bps = c->bitrate_bps ? c->bitrate_bps : (c->channels == 2 ? 64000 : 32000);
  opus_encoder_ctl(e->enc, OPUS_SET_BITRATE(bps));
  opus_encoder_ctl(e->enc, OPUS_SET_COMPLEXITY(c->complexity ? c->complexity : 9));
  /* In-band FEC only works when the encoder expects loss (RFC 7587 3.3). */
  opus_encoder_ctl(e->enc, OPUS_SET_INBAND_FEC(c->disable_fec ? 0 : 1));
  opus_encoder_ctl(e->enc, OPUS_SET_PACKET_LOSS_PERC(c->loss_pct ? c->loss_pct : 10));
  opus_encoder_ctl(e->enc, OPUS_SET_DTX(c->disable_dtx ? 0 : 1));
  opus_encoder_ctl(e->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
  *out = e;
  return 0;
}

int mc_opus_encoder_encode(mc_opus_encoder *e, const int16_t *pcm, uint8_t *out, size_t cap, size_t *len) {
  if (!e || !pcm || !out || !len) return MC_EINVAL;
  if (cap < 3) return MC_ETOOBIG;
  opus_int32 max = cap > MC_OPUS_MAX_PACKET ? MC_OPUS_MAX_PACKET : (opus_int32)cap;
  int n = opus_encode(e->enc, pcm, MC_AUDIO_FRAME, out, max);
  if (n == OPUS_BUFFER_TOO_SMALL) return MC_ETOOBIG;
  if (n < 0) {
    MC_LOGE("media", "opus encode failed: %s", opus_strerror(n));
    return MC_EINVAL;
  }
  *len = (size_t)n;
  return 0;
}

int mc_opus_encoder_set_bitrate(mc_opus_encoder *e, int bps) {
  if (!e || bps < 500 || bps > 510000) return MC_EINVAL;
  return opus_encoder_ctl(e->enc, OPUS_SET_BITRATE(bps)) == OPUS_OK ? 0 : MC_EINVAL;
}

int mc_opus_encoder_set_loss_pct(mc_opus_encoder *e, int pct) {
  if (!e || pct < 0 || pct > 100) return MC_EINVAL;
  return opus_encoder_ctl(e->enc, OPUS_SET_PACKET_LOSS_PERC(pct)) == OPUS_OK ? 0 : MC_EINVAL;
}

void mc_opus_encoder_free(mc_opus_encoder *e) {
  if (!e) return;
  opus_encoder_destroy(e->enc);
  free(e);
}

int mc_opus_decoder_new(int channels, mc_opus_decoder **out) {
  if (!out || channels < 1 || channels > 2) return MC_EINVAL;
  mc_opus_decoder *d = calloc(1, sizeof *d);
  if (!d) return MC_ENOMEM;
  int err = 0;
  d->dec = opus_decoder_create(MC_AUDIO_RATE, channels, &err);
  if (!d->dec || err != OPUS_OK) {
    free(d);
    return MC_ENOMEM;
  }
  d->channels = channels;
  *out = d;
  return 0;
}

void mc_opus_decoder_free(mc_opus_decoder *d) {
  if (!d) return;
  opus_decoder_destroy(d->dec);
  free(d);
}

static int decode_common(mc_opus_decoder *d, const uint8_t *pkt, size_t len, int16_t *pcm, size_t cap_frames,
                         size_t want, int fec, size_t *frames) {
  if (!d || !pcm || !frames) return MC_EINVAL;
  *frames = 0;
  size_t room = want ? want : cap_frames;
  if (room > MC_OPUS_MAX_FRAME) room = MC_OPUS_MAX_FRAME;
  if (cap_frames < room) return MC_ETOOBIG;
  if (pkt && len > MC_OPUS_MAX_PACKET * 4) return MC_EPARSE;
  int n = opus_decode(d->dec, pkt, (opus_int32)len, pcm, (int)room, fec);
  if (n < 0) {
    if (n == OPUS_BUFFER_TOO_SMALL) return MC_ETOOBIG;
    MC_LOGW("media", "opus decode failed: %s", opus_strerror(n));
    return MC_EPARSE;
  }
  *frames = (size_t)n;
  return 0;
}

int mc_opus_decoder_decode(mc_opus_decoder *d, const uint8_t *pkt, size_t len, int16_t *pcm, size_t cap_frames,
                           size_t *frames) {
  if (!pkt || len == 0) return MC_EPARSE;
  return decode_common(d, pkt, len, pcm, cap_frames, 0, 0, frames);
}

int mc_opus_decoder_decode_fec(mc_opus_decoder *d, const uint8_t *next_pkt, size_t len, int16_t *pcm,
                               size_t cap_frames, size_t *frames) {
  if (!next_pkt || len == 0) return MC_EPARSE;
  /* libopus: with decode_fec=1 frame_size must be exactly the lost
   * duration; without FEC data in the packet it conceals instead. */
  return decode_common(d, next_pkt, len, pcm, cap_frames, MC_AUDIO_FRAME, 1, frames);
}

int mc_opus_decoder_conceal(mc_opus_decoder *d, int16_t *pcm, size_t cap_frames, size_t *frames) {
  return decode_common(d, NULL, 0, pcm, cap_frames, MC_AUDIO_FRAME, 0, frames);
}
