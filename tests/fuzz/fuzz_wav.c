/* libFuzzer target: the WAV file source over arbitrary bytes. When a file
 * is accepted, reading past its end wraps without touching memory beyond
 * the samples it holds. */
#include <stdlib.h>

#include "media/media.h"
#include "util/util.h"

#define FUZZ_ASSERT(c) \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool quiet;
  if (!quiet) mc_log_set_level(MC_LOG_OFF), quiet = true;
  mc_wav *w = NULL;
  char why[MC_MEDIA_WHY_MAX];
  int rc = mc_wav_open_mem(data, size, &w, why, sizeof why);
  if (rc) {
    FUZZ_ASSERT(rc == MC_EPARSE || rc == MC_EINVAL || rc == MC_ENOMEM);
    FUZZ_ASSERT(w == NULL);
    return 0;
  }
  int ch = mc_wav_channels(w);
  uint64_t frames = mc_wav_frames(w);
  FUZZ_ASSERT(ch >= 1 && ch <= MC_AUDIO_MAX_CHANNELS);
  FUZZ_ASSERT(frames >= 1 && frames * (uint64_t)ch * 2 <= size);
  int16_t pcm[MC_AUDIO_FRAME * MC_AUDIO_MAX_CHANNELS];
  for (int i = 0; i < 3; i++) mc_wav_read(w, pcm, MC_AUDIO_FRAME);
  mc_wav_free(w);
  return 0;
}
