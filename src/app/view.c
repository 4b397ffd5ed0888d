/* The call view: the only state the net thread (the call) and the main
 * thread (the window) share. One pthread mutex guards everything here; the
 * call side has no SDL, so the lock cannot be an SDL one. Nothing slow runs
 * under the lock except copying a picture, which the window needs whole. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "media/media.h"
#include "util/util.h"

#define LOG "view"
#define VIEW_QUEUE_MAX 32

struct view_picture {
  struct mc_i420 frame; /* owned copy; width 0 until the first picture */
  uint64_t seq;         /* 1 for the first picture, +1 for each newer one */
};

struct call_view {
  pthread_mutex_t lock;
  struct call_view_state state;
  struct view_picture picture[2]; /* indexed by enum call_picture */
  struct call_command queue[VIEW_QUEUE_MAX];
  int queue_head, queue_count;    /* ring: oldest at queue_head */
  void (*wake)(void *arg);
  void *wake_arg;
};

int call_view_new(bool doctor, struct call_view **out) {
  *out = NULL;
  struct call_view *v = calloc(1, sizeof *v);
  if (!v) return MC_ENOMEM;
  if (pthread_mutex_init(&v->lock, NULL) != 0) {
    free(v);
    return MC_ENOMEM;
  }
  v->state.phase = CALL_PHASE_STARTING;
  v->state.doctor = doctor;
  v->state.quality_bars = -1;
  *out = v;
  return 0;
}

void call_view_free(struct call_view *v) {
  if (!v) return;
  for (int i = 0; i < 2; i++) mc_i420_free(&v->picture[i].frame);
  pthread_mutex_destroy(&v->lock);
  free(v);
}

struct call_view_state *call_view_lock(struct call_view *v) {
  pthread_mutex_lock(&v->lock);
  return &v->state;
}

void call_view_unlock(struct call_view *v) {
  v->state.version++;
  pthread_mutex_unlock(&v->lock);
}

void call_view_add_chat(struct call_view *v, bool mine, bool file, const char *text) {
  struct call_view_state *s = call_view_lock(v);
  if (s->chat_count == CALL_CHAT_MAX) {
    /* Full: the oldest line goes, the panel shows the newest CALL_CHAT_MAX. */
    memmove(&s->chat[0], &s->chat[1], (CALL_CHAT_MAX - 1) * sizeof s->chat[0]);
    s->chat_count--;
  }
  struct call_chat_line *l = &s->chat[s->chat_count++];
  l->mine = mine;
  l->file = file;
  mc_strcpy(l->text, sizeof l->text, text ? text : "");
  l->wall_ms = mc_wall_ms();
  call_view_unlock(v);
}

/* Makes dst an owned frame of w x h unless it already is one. */
static int ensure_frame(struct mc_i420 *dst, int w, int h) {
  if (dst->owned && dst->width == w && dst->height == h) return 0;
  mc_i420_free(dst);
  return mc_i420_alloc(dst, w, h);
}

void call_view_put_picture(struct call_view *v, enum call_picture which, const struct mc_i420 *f) {
  if ((which != CALL_PICTURE_REMOTE && which != CALL_PICTURE_SELF) || !f || f->width < 1 || f->height < 1)
    return;
  pthread_mutex_lock(&v->lock);
  struct view_picture *p = &v->picture[which];
  if (ensure_frame(&p->frame, f->width, f->height) == 0 && mc_i420_copy(f, &p->frame) == 0) {
    p->seq++;
  } else {
    MC_LOGW(LOG, "picture dropped: no memory width=%d height=%d", f->width, f->height);
  }
  pthread_mutex_unlock(&v->lock);
}

bool call_view_take_picture(struct call_view *v, enum call_picture which, struct mc_i420 *dst, uint64_t *seq) {
  if (which != CALL_PICTURE_REMOTE && which != CALL_PICTURE_SELF) return false;
  bool taken = false;
  pthread_mutex_lock(&v->lock);
  struct view_picture *p = &v->picture[which];
  if (p->seq > *seq && p->frame.width > 0 && ensure_frame(dst, p->frame.width, p->frame.height) == 0 &&
      mc_i420_copy(&p->frame, dst) == 0) {
    *seq = p->seq;
    taken = true;
  }
  pthread_mutex_unlock(&v->lock);
  return taken;
}

void call_view_set_waker(struct call_view *v, void (*wake)(void *arg), void *arg) {
  pthread_mutex_lock(&v->lock);
  v->wake = wake;
  v->wake_arg = arg;
  pthread_mutex_unlock(&v->lock);
}

int call_view_post(struct call_view *v, const struct call_command *cmd) {
  pthread_mutex_lock(&v->lock);
  if (v->queue_count == VIEW_QUEUE_MAX) {
    pthread_mutex_unlock(&v->lock);
    return MC_EAGAIN;
  }
  struct call_command *slot = &v->queue[(v->queue_head + v->queue_count) % VIEW_QUEUE_MAX];
  slot->kind = cmd->kind;
  mc_strcpy(slot->text, sizeof slot->text, cmd->text);
  v->queue_count++;
  void (*wake)(void *) = v->wake;
  void *arg = v->wake_arg;
  pthread_mutex_unlock(&v->lock);
  /* Outside the lock: the waker may take locks of its own (uv_async_send). */
  if (wake) wake(arg);
  return 0;
}

bool call_view_next_command(struct call_view *v, struct call_command *out) {
  pthread_mutex_lock(&v->lock);
  bool got = v->queue_count > 0;
  if (got) {
    *out = v->queue[v->queue_head];
    v->queue_head = (v->queue_head + 1) % VIEW_QUEUE_MAX;
    v->queue_count--;
  }
  pthread_mutex_unlock(&v->lock);
  return got;
}

void call_view_snapshot(struct call_view *v, struct call_view_state *out) {
  pthread_mutex_lock(&v->lock);
  *out = v->state;
  pthread_mutex_unlock(&v->lock);
}
