/* The call view shared by the call (net thread) and the window (main
 * thread): commands, pictures, chat and state across threads. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "check.h"
#include "media/media.h"
#include "util/util.h"

static void test_new_defaults(void) {
  struct call_view *v = NULL;
  CHECK_EQ_INT(call_view_new(true, &v), 0);
  struct call_view_state s;
  call_view_snapshot(v, &s);
  CHECK(s.doctor);
  CHECK_EQ_INT(s.phase, CALL_PHASE_STARTING);
  CHECK_EQ_INT(s.quality_bars, -1);
  CHECK_EQ_INT(s.chat_count, 0);
  uint64_t before = s.version;
  struct call_view_state *w = call_view_lock(v);
  w->phase = CALL_PHASE_CONNECTED;
  mc_strcpy(w->verification, sizeof w->verification, "123 456");
  call_view_unlock(v);
  call_view_snapshot(v, &s);
  CHECK_EQ_INT(s.phase, CALL_PHASE_CONNECTED);
  CHECK_STR(s.verification, "123 456");
  CHECK(s.version > before);
  call_view_free(v);
}

static int wakes;
static void count_wake(void *arg) { (*(int *)arg)++; }

static void test_queue_full_and_order(void) {
  struct call_view *v = NULL;
  CHECK_EQ_INT(call_view_new(false, &v), 0);
  call_view_set_waker(v, count_wake, &wakes);
  struct call_command c = {0};
  for (int i = 0; i < 32; i++) {
    c.kind = CALL_CMD_CHAT;
    snprintf(c.text, sizeof c.text, "m%d", i);
    CHECK_EQ_INT(call_view_post(v, &c), 0);
  }
  CHECK_EQ_INT(wakes, 32);
  c.kind = CALL_CMD_HANG_UP;
  CHECK_EQ_INT(call_view_post(v, &c), MC_EAGAIN);
  CHECK_EQ_INT(wakes, 32); /* nothing queued, nobody woken */
  struct call_command out;
  CHECK(call_view_next_command(v, &out));
  CHECK_STR(out.text, "m0");
  /* One slot free again: the ring wraps. */
  c.kind = CALL_CMD_HANG_UP;
  c.text[0] = 0;
  CHECK_EQ_INT(call_view_post(v, &c), 0);
  for (int i = 1; i < 32; i++) {
    CHECK(call_view_next_command(v, &out));
    char want[16];
    snprintf(want, sizeof want, "m%d", i);
    CHECK_STR(out.text, want);
  }
  CHECK(call_view_next_command(v, &out));
  CHECK_EQ_INT(out.kind, CALL_CMD_HANG_UP);
  CHECK(!call_view_next_command(v, &out));
  call_view_free(v);
}

static void test_chat_keeps_newest(void) {
  struct call_view *v = NULL;
  CHECK_EQ_INT(call_view_new(true, &v), 0);
  for (int i = 0; i < CALL_CHAT_MAX + 10; i++) {
    char t[32];
    snprintf(t, sizeof t, "line %d", i);
    call_view_add_chat(v, i % 2 == 0, i == CALL_CHAT_MAX + 9, t);
  }
  struct call_view_state *s = malloc(sizeof *s);
  call_view_snapshot(v, s);
  CHECK_EQ_INT(s->chat_count, CALL_CHAT_MAX);
  CHECK_STR(s->chat[0].text, "line 10");
  char last[32];
  snprintf(last, sizeof last, "line %d", CALL_CHAT_MAX + 9);
  CHECK_STR(s->chat[CALL_CHAT_MAX - 1].text, last);
  CHECK(s->chat[CALL_CHAT_MAX - 1].file);
  CHECK(!s->chat[CALL_CHAT_MAX - 2].file);
  CHECK(s->chat[0].mine);  /* line 10: even */
  CHECK(!s->chat[1].mine);
  CHECK(s->chat[0].wall_ms > 0);
  free(s);
  call_view_free(v);
}

static void fill(struct mc_i420 *f, int w, int h, uint8_t luma) {
  CHECK_EQ_INT(mc_i420_alloc(f, w, h), 0);
  for (int y = 0; y < h; y++) memset(f->y + (size_t)y * f->stride_y, luma, (size_t)w);
}

static void test_picture_seq(void) {
  struct call_view *v = NULL;
  CHECK_EQ_INT(call_view_new(true, &v), 0);
  struct mc_i420 dst = {0};
  uint64_t seq = 0;
  CHECK(!call_view_take_picture(v, CALL_PICTURE_REMOTE, &dst, &seq));

  struct mc_i420 a = {0}, b = {0};
  fill(&a, 64, 48, 50);
  fill(&b, 320, 240, 200);
  call_view_put_picture(v, CALL_PICTURE_REMOTE, &a);
  CHECK(call_view_take_picture(v, CALL_PICTURE_REMOTE, &dst, &seq));
  CHECK_EQ_INT(seq, 1);
  CHECK_EQ_INT(dst.width, 64);
  CHECK_EQ_INT(dst.y[0], 50);
  /* Nothing newer: false, dst and seq untouched. */
  CHECK(!call_view_take_picture(v, CALL_PICTURE_REMOTE, &dst, &seq));
  CHECK_EQ_INT(seq, 1);
  /* The self view is a separate picture with its own counter. */
  uint64_t self_seq = 0;
  CHECK(!call_view_take_picture(v, CALL_PICTURE_SELF, &dst, &self_seq));

  /* Two puts before a take: only the newest is seen, at its new size. */
  call_view_put_picture(v, CALL_PICTURE_REMOTE, &a);
  call_view_put_picture(v, CALL_PICTURE_REMOTE, &b);
  CHECK(call_view_take_picture(v, CALL_PICTURE_REMOTE, &dst, &seq));
  CHECK_EQ_INT(seq, 3);
  CHECK_EQ_INT(dst.width, 320);
  CHECK_EQ_INT(dst.height, 240);
  CHECK_EQ_INT(dst.y[239 * dst.stride_y + 319], 200);
  /* A second reader that has seen nothing gets the same newest picture. */
  struct mc_i420 dst2 = {0};
  uint64_t seq2 = 0;
  CHECK(call_view_take_picture(v, CALL_PICTURE_REMOTE, &dst2, &seq2));
  CHECK_EQ_INT(seq2, 3);

  call_view_put_picture(v, CALL_PICTURE_SELF, &a);
  CHECK(call_view_take_picture(v, CALL_PICTURE_SELF, &dst2, &self_seq));
  CHECK_EQ_INT(self_seq, 1);
  CHECK_EQ_INT(dst2.width, 64);
  /* The view kept its own copy: changing the source does not reach it. */
  a.y[0] = 99;
  call_view_put_picture(v, CALL_PICTURE_REMOTE, &b);
  CHECK(call_view_take_picture(v, CALL_PICTURE_REMOTE, &dst, &seq));
  CHECK_EQ_INT(dst.y[0], 200);

  mc_i420_free(&a);
  mc_i420_free(&b);
  mc_i420_free(&dst);
  mc_i420_free(&dst2);
  call_view_free(v);
}

/* A window thread posting commands while the call thread pops them and
 * publishes pictures; the window takes pictures and snapshots. Every
 * command arrives once, in order; pictures arrive whole (each carries one
 * luma value everywhere) and their sequence numbers only grow. */
#define THREAD_CMDS 5000
#define THREAD_PICS 300

struct thread_ctx {
  struct call_view *v;
  int posted, busy;
  int taken, torn, backwards;
};

static void *window_thread(void *arg) {
  struct thread_ctx *t = arg;
  struct call_command c = {.kind = CALL_CMD_CHAT};
  struct mc_i420 pic = {0};
  uint64_t seq = 0;
  struct call_view_state *snap = malloc(sizeof *snap);
  for (int i = 0; i < THREAD_CMDS;) {
    snprintf(c.text, sizeof c.text, "%d", i);
    int rc = call_view_post(t->v, &c);
    if (rc == 0) {
      i++;
      t->posted++;
    } else {
      t->busy++;
      sched_yield();
    }
    uint64_t before = seq;
    if (call_view_take_picture(t->v, CALL_PICTURE_REMOTE, &pic, &seq)) {
      t->taken++;
      if (seq <= before) t->backwards++;
      uint8_t want = pic.y[0];
      for (int y = 0; y < pic.height; y++)
        for (int x = 0; x < pic.width; x++)
          if (pic.y[y * pic.stride_y + x] != want) {
            t->torn++;
            y = pic.height;
            break;
          }
    }
    call_view_snapshot(t->v, snap);
  }
  free(snap);
  mc_i420_free(&pic);
  return NULL;
}

static void test_threads(void) {
  struct call_view *v = NULL;
  CHECK_EQ_INT(call_view_new(true, &v), 0);
  struct thread_ctx t = {.v = v};
  pthread_t th;
  CHECK_EQ_INT(pthread_create(&th, NULL, window_thread, &t), 0);
  struct mc_i420 pic[2] = {{0}};
  fill(&pic[0], 160, 120, 0);
  fill(&pic[1], 96, 64, 0);
  int next = 0, out_of_order = 0, published = 0;
  struct call_command c;
  while (next < THREAD_CMDS) {
    while (call_view_next_command(v, &c)) {
      if (atoi(c.text) != next) out_of_order++;
      next++;
    }
    if (published < THREAD_PICS) {
      struct mc_i420 *p = &pic[published % 2];
      for (int y = 0; y < p->height; y++) memset(p->y + (size_t)y * p->stride_y, published % 250, (size_t)p->width);
      call_view_put_picture(v, CALL_PICTURE_REMOTE, p);
      published++;
      struct call_view_state *s = call_view_lock(v);
      s->quality_bars = published % 5;
      call_view_unlock(v);
    }
    sched_yield();
  }
  pthread_join(th, NULL);
  CHECK_EQ_INT(out_of_order, 0);
  CHECK_EQ_INT(t.posted, THREAD_CMDS);
  CHECK(t.taken > 0);
  CHECK_EQ_INT(t.torn, 0);
  CHECK_EQ_INT(t.backwards, 0);
  fprintf(stderr, "threads: %d commands, %d queue-full retries, %d of %d pictures taken\n", t.posted, t.busy,
          t.taken, published);
  mc_i420_free(&pic[0]);
  mc_i420_free(&pic[1]);
  call_view_free(v);
}

int main(void) {
  test_new_defaults();
  test_queue_full_and_order();
  test_chat_keeps_newest();
  test_picture_seq();
  test_threads();
  return CHECK_DONE();
}
