/* window_layout: the parts fit the drawable, do not overlap where they
 * must not, and scale with the pixel size (a HiDPI drawable of twice the
 * pixels gets the same layout twice as large). No display needed. */
#include <stdbool.h>
#include <stdlib.h>

#include "../unit/check.h"
#include "app/app.h"

static bool within(struct window_rect in, struct window_rect out) {
  return in.x >= out.x && in.y >= out.y && in.x + in.w <= out.x + out.w && in.y + in.h <= out.y + out.h;
}

static bool overlap(struct window_rect a, struct window_rect b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void check_size(int w, int h, bool chat) {
  struct window_layout l;
  window_layout(w, h, chat, &l);
  struct window_rect all = {0, 0, w, h};
  CHECK(within(l.status, all));
  CHECK(within(l.remote, all));
  CHECK(within(l.controls, all));
  CHECK(!overlap(l.status, l.remote));
  CHECK(!overlap(l.remote, l.controls));
  CHECK(l.remote.w > 0 && l.remote.h > 0);
  /* Status on top, controls at the bottom, the picture between them. */
  CHECK_EQ_INT(l.status.y, 0);
  CHECK_EQ_INT(l.controls.y + l.controls.h, h);
  CHECK_EQ_INT(l.remote.y, l.status.h);
  CHECK(within(l.self_view, l.remote));
  for (int i = 0; i < WINDOW_BTN_COUNT; i++) {
    CHECK(within(l.button[i], l.controls));
    CHECK(l.button[i].w > 0);
    if (i > 0) CHECK(l.button[i].x >= l.button[i - 1].x + l.button[i - 1].w);
  }
  if (chat) {
    CHECK(l.chat.w > 0);
    CHECK(within(l.chat, all));
    CHECK(!overlap(l.chat, l.remote));
    CHECK_EQ_INT(l.chat.x, l.remote.x + l.remote.w);
  } else {
    CHECK_EQ_INT(l.chat.w, 0);
    CHECK_EQ_INT(l.remote.w, w);
  }
}

int main(void) {
  static const int sizes[][2] = {{960, 600}, {1280, 720}, {1920, 1080}, {2560, 1440}, {640, 480}, {400, 300}, {3840, 2160}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    check_size(sizes[i][0], sizes[i][1], false);
    check_size(sizes[i][0], sizes[i][1], true);
  }
  /* HiDPI: 1280x720 points at 2 pixels per point. */
  struct window_layout a, b;
  window_layout(1280, 720, false, &a);
  window_layout(2560, 1440, false, &b);
  CHECK(abs(b.status.h - 2 * a.status.h) <= 1);
  CHECK(abs(b.controls.h - 2 * a.controls.h) <= 1);
  CHECK(abs(b.button[0].w - 2 * a.button[0].w) <= 2);
  CHECK(abs(b.self_view.w - 2 * a.self_view.w) <= 2);
  /* Degenerate sizes do not crash or produce negative sizes. */
  struct window_layout z;
  window_layout(0, 0, true, &z);
  CHECK(z.remote.w >= 0 && z.remote.h >= 0 && z.self_view.w >= 0);
  return CHECK_DONE();
}
