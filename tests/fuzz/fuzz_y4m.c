/* libFuzzer target: the Y4M file source over arbitrary bytes. When a file
 * is accepted, every frame (and one more, which loops to the first) must
 * read back at the size the header promised. */
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
  mc_y4m *y = NULL;
  char why[MC_MEDIA_WHY_MAX];
  int rc = mc_y4m_open_mem(data, size, &y, why, sizeof why);
  if (rc) {
    FUZZ_ASSERT(rc == MC_EPARSE || rc == MC_EINVAL || rc == MC_ENOMEM);
    FUZZ_ASSERT(y == NULL);
    return 0;
  }
  struct mc_y4m_info info;
  mc_y4m_get_info(y, &info);
  FUZZ_ASSERT(info.width >= 1 && info.height >= 1 && info.frames >= 1 && info.fps_den >= 1);
  /* Each frame needs its bytes in the input: the count cannot exceed it. */
  FUZZ_ASSERT(info.frames <= size);
  for (uint64_t i = 0; i <= info.frames && i < 64; i++) {
    const struct mc_i420 *f;
    FUZZ_ASSERT(mc_y4m_next(y, &f) == 0);
    FUZZ_ASSERT(f->width == info.width && f->height == info.height);
  }
  mc_y4m_free(y);
  return 0;
}
