/* Echo cancellation (speexdsp's MDF adaptive filter) and noise suppression
 * with residual echo suppression (speexdsp's preprocessor) on the
 * microphone path. 10 ms blocks: speexdsp suggests 10-20 ms, and the
 * shorter block adapts twice as often for the same tail. */
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"

#define BLOCK (MC_AUDIO_RATE / 100) /* 480 samples, 10 ms */

struct mc_apm {
  SpeexEchoState *echo;
  SpeexPreprocessState *pre;
};

int mc_apm_new(const struct mc_apm_config *config, mc_apm **out) {
  if (!out) return MC_EINVAL;
  *out = NULL;
  int tail_ms = config && config->tail_ms ? config->tail_ms : 200;
  int ns_db = config && config->noise_suppress_db ? config->noise_suppress_db : -15;
  bool denoise = !(config && config->no_denoise);
  if (tail_ms < 10 || tail_ms > 1000 || ns_db > 0 || ns_db < -90) return MC_EINVAL;
  mc_apm *a = calloc(1, sizeof *a);
  if (!a) return MC_ENOMEM;
  a->echo = speex_echo_state_init(BLOCK, MC_AUDIO_RATE * tail_ms / 1000);
  a->pre = speex_preprocess_state_init(BLOCK, MC_AUDIO_RATE);
  if (!a->echo || !a->pre) {
    mc_apm_free(a);
    return MC_ENOMEM;
  }
  int rate = MC_AUDIO_RATE;
  speex_echo_ctl(a->echo, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
  int on = denoise ? 1 : 0;
  speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_DENOISE, &on);
  speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &ns_db);
  /* residual echo suppression needs the echo canceller's estimate */
  speex_preprocess_ctl(a->pre, SPEEX_PREPROCESS_SET_ECHO_STATE, a->echo);
  *out = a;
  return 0;
}

int mc_apm_process(mc_apm *a, const int16_t *near, const int16_t *far, int16_t *out) {
  if (!a || !near || !out) return MC_EINVAL;
  for (int i = 0; i < MC_AUDIO_FRAME; i += BLOCK) {
    spx_int16_t blk[BLOCK];
    if (far) {
      speex_echo_cancellation(a->echo, near + i, far + i, blk);
    } else {
      /* nothing played: keep the canceller's clock in step with silence */
      static const spx_int16_t silent[BLOCK];
      speex_echo_cancellation(a->echo, near + i, silent, blk);
    }
    speex_preprocess_run(a->pre, blk);
    memcpy(out + i, blk, sizeof blk);
  }
  return 0;
}

void mc_apm_free(mc_apm *a) {
  if (!a) return;
  if (a->echo) speex_echo_state_destroy(a->echo);
  if (a->pre) speex_preprocess_state_destroy(a->pre);
  free(a);
}
