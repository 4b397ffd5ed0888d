/* Shared by the fuzz targets that run real code on a libuv loop. */
#ifndef MC_FUZZ_UV_H
#define MC_FUZZ_UV_H

#include <uv.h>

static inline void fuzz_count_handle(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h)) ++*(int *)arg;
}

/* Handles of the loop not yet closing: what one input left behind once it
 * has torn everything down must be none (or only the target's own). */
static inline int fuzz_open_handles(uv_loop_t *loop) {
  int n = 0;
  uv_walk(loop, fuzz_count_handle, &n);
  return n;
}

#endif
