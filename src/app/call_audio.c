/* The speakers and microphone of each call, opened and closed on a thread
 * of their own, never on the call's loop. Starting SDL audio probes the
 * sound system, and opening a device can wait on it: on a machine without
 * a sound card, SDL's ALSA driver took about 100 ms to fail and stop again
 * (its hot-plug thread looks every 100 ms), and that sat between a
 * patient's admission and the first data channel opening (bench/README.md).
 * A device that never answers (a stuck sound server, a FIFO nobody reads)
 * would have held the whole call.
 *
 * So: one thread per process starts SDL audio when the app starts (before
 * any call, mc_audio_hold) and keeps it until the app ends; it opens and
 * closes the devices of each call in the order asked, one at a time (SDL's
 * device table is not meant for two threads opening at once). The call
 * asks and goes on; the loop takes the devices on one of its audio ticks
 * once they are open (call_audio_ready, an acquire load): received audio
 * before that is decoded and measured, not played, as with no speakers.
 * Each call_audio is queued twice, to open and then to close, and the loop
 * lets go of it when it asks to close, so thread and loop never use a
 * device at the same time. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <SDL.h>

#include "app/app.h"
#include "app/i18n.h"
#include "media/media.h"
#include "util/util.h"

#define LOG "audio"
#define STOP_WAIT_S 3 /* at exit, for the closes still queued; a stuck device is left to the exit */

struct job {
  struct job *next;
  struct call_audio *a;
  bool close;
};

struct call_audio {
  struct job open_job, close_job;
  bool want_speakers, want_mic;
  char *mic_device;
  mc_speaker *spk;
  mc_mic *mic;
  _Atomic bool ready;
};

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;  /* a job was queued, or stop */
  pthread_cond_t idle; /* the thread finished */
  pthread_t th;
  bool started, running, stop, done;
  struct job *head, *tail;
} w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER};

static void open_devices(struct call_audio *a) {
  char why[400] = "";
  if (a->want_speakers &&
      mc_speaker_open(&(struct mc_audio_config){.channels = 1}, &a->spk, why, sizeof why) != 0)
    fprintf(stderr, _("medcall: %s; the other side will not be heard\n"), why);
  if (a->want_mic && mc_mic_open(&(struct mc_audio_config){.device = a->mic_device, .channels = 1}, &a->mic, why,
                                 sizeof why) != 0)
    fprintf(stderr, _("medcall: %s; the call goes on without sound from here\n"), why);
  /* release: the loop that sees ready sees the devices whole */
  atomic_store_explicit(&a->ready, true, memory_order_release);
}

static void close_devices(struct call_audio *a) {
  mc_mic_free(a->mic);
  mc_speaker_free(a->spk);
  free(a->mic_device);
  free(a);
}

static void *audio_main(void *arg) {
  (void)arg;
  /* Failing here is said when a call asks for a device (each open starts
   * SDL audio again and words its own failure). */
  char why[400];
  bool held = mc_audio_hold(why, sizeof why) == 0;
  MC_LOGI(LOG, "SDL audio %s", held ? "started" : "did not start");
  pthread_mutex_lock(&w.mu);
  for (;;) {
    while (!w.head && !w.stop) pthread_cond_wait(&w.cv, &w.mu);
    struct job *j = w.head;
    if (!j) break; /* stop, and nothing left to do */
    w.head = j->next;
    if (!w.head) w.tail = NULL;
    pthread_mutex_unlock(&w.mu);
    if (j->close) close_devices(j->a);
    else open_devices(j->a);
    pthread_mutex_lock(&w.mu);
  }
  pthread_mutex_unlock(&w.mu);
  if (held) mc_audio_release();
  /* SDL keeps each thread's error text in thread-local storage it frees
   * only when told (SDL_TLSCleanup, SDL 2.0.16): every failed open on this
   * thread left one behind (LeakSanitizer, app_audio_late in the ASan
   * build). */
  SDL_TLSCleanup();
  pthread_mutex_lock(&w.mu);
  w.done = true;
  pthread_cond_signal(&w.idle);
  pthread_mutex_unlock(&w.mu);
  return NULL;
}

void call_audio_start(void) {
  pthread_mutex_lock(&w.mu);
  if (!w.started) {
    w.started = true;
    w.running = pthread_create(&w.th, NULL, audio_main, NULL) == 0;
    if (!w.running) MC_LOGW(LOG, "no audio thread: devices open on the call's thread");
  }
  pthread_mutex_unlock(&w.mu);
}

/* Queues j; false when there is no thread to run it (then the caller does). */
static bool queue(struct job *j) {
  call_audio_start();
  pthread_mutex_lock(&w.mu);
  bool ok = w.running && !w.stop;
  if (ok) {
    j->next = NULL;
    if (w.tail) w.tail->next = j;
    else w.head = j;
    w.tail = j;
    pthread_cond_signal(&w.cv);
  }
  pthread_mutex_unlock(&w.mu);
  return ok;
}

struct call_audio *call_audio_open(bool speakers, bool mic, const char *mic_device) {
  struct call_audio *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->want_speakers = speakers;
  a->want_mic = mic;
  if (mic_device && !(a->mic_device = strdup(mic_device))) {
    free(a);
    return NULL;
  }
  atomic_init(&a->ready, false);
  a->open_job = (struct job){.a = a, .close = false};
  a->close_job = (struct job){.a = a, .close = true};
  if (!queue(&a->open_job)) open_devices(a);
  return a;
}

bool call_audio_ready(struct call_audio *a, mc_speaker **spk, mc_mic **mic) {
  if (!a || !atomic_load_explicit(&a->ready, memory_order_acquire)) return false;
  *spk = a->spk;
  *mic = a->mic;
  return true;
}

void call_audio_close(struct call_audio *a) {
  if (a && !queue(&a->close_job)) close_devices(a);
}

void call_audio_stop(void) {
  pthread_mutex_lock(&w.mu);
  if (!w.running) {
    pthread_mutex_unlock(&w.mu);
    return;
  }
  w.stop = true;
  pthread_cond_signal(&w.cv);
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += STOP_WAIT_S;
  int rc = 0;
  while (!w.done && rc != ETIMEDOUT) rc = pthread_cond_clockwait(&w.idle, &w.mu, CLOCK_MONOTONIC, &until);
  bool done = w.done;
  w.running = false;
  pthread_mutex_unlock(&w.mu);
  if (done) {
    pthread_join(w.th, NULL);
  } else {
    /* A device that never answers keeps its thread: the process ends
     * around it rather than hang (its devices go with the process). */
    MC_LOGW(LOG, "an audio device did not close within %d s", STOP_WAIT_S);
    pthread_detach(w.th);
  }
}
