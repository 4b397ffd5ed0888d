/* Microphone and speakers through SDL2 audio. SDL calls us back on its own
 * thread; that callback only copies samples through a single-producer
 * single-consumer ring (C11 atomics, no lock, no allocation), so it can
 * never wait on the call's threads. Format conversion (another device rate
 * or channel count) runs on the caller's thread with SDL_AudioStream. */
#include <SDL.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"
#include "util/util.h"

#define LOG "audio"
#define START_MS 40 /* speaker: queued audio before the device starts */

static void say(char *why, size_t cap, const char *fmt, ...) {
  if (!why || !cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, cap, fmt, ap);
  va_end(ap);
}

/* ---- the ring: int16 samples, one producer, one consumer ---- */
struct ring {
  int16_t *buf;
  size_t cap;                /* samples */
  _Atomic size_t head, tail; /* total written / read, never wrapped back */
};

static int ring_init(struct ring *r, size_t cap) {
  r->buf = calloc(cap, sizeof *r->buf);
  r->cap = cap;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  return r->buf ? 0 : MC_ENOMEM;
}

static size_t ring_count(struct ring *r) {
  return atomic_load_explicit(&r->head, memory_order_acquire) -
         atomic_load_explicit(&r->tail, memory_order_acquire);
}

/* Producer side: writes up to n samples, returns how many fit. */
static size_t ring_write(struct ring *r, const int16_t *s, size_t n) {
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  size_t room = r->cap - (head - tail);
  if (n > room) n = room;
  for (size_t i = 0; i < n;) {
    size_t at = (head + i) % r->cap, run = r->cap - at;
    if (run > n - i) run = n - i;
    memcpy(r->buf + at, s + i, run * sizeof *s);
    i += run;
  }
  atomic_store_explicit(&r->head, head + n, memory_order_release);
  return n;
}

/* Consumer side: reads up to n samples, returns how many there were. */
static size_t ring_read(struct ring *r, int16_t *s, size_t n) {
  size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
  if (n > head - tail) n = head - tail;
  for (size_t i = 0; i < n;) {
    size_t at = (tail + i) % r->cap, run = r->cap - at;
    if (run > n - i) run = n - i;
    memcpy(s + i, r->buf + at, run * sizeof *s);
    i += run;
  }
  atomic_store_explicit(&r->tail, tail + n, memory_order_release);
  return n;
}

/* ---- SDL start-up, device lists ---- */

/* the last driver SDL started, kept after SDL_QuitSubSystem for messages */
static char driver_name[32];

static int audio_init(char *why, size_t why_cap) {
  if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0) {
    say(why, why_cap, mc_tr("no audio: SDL could not start an audio driver (%s)"), SDL_GetError());
    return MC_EIO;
  }
  const char *d = SDL_GetCurrentAudioDriver();
  snprintf(driver_name, sizeof driver_name, "%s", d ? d : "");
  return 0;
}

const char *mc_audio_driver(void) { return driver_name; }

/* SDL counts starts and stops of a subsystem: a hold is one more start. */
int mc_audio_hold(char *why, size_t why_cap) { return audio_init(why, why_cap); }

void mc_audio_release(void) { SDL_QuitSubSystem(SDL_INIT_AUDIO); }

int mc_audio_list(bool capture, char (*names)[MC_AUDIO_NAME_MAX], size_t cap, size_t *count, char *why,
                  size_t why_cap) {
  if (!count || (!names && cap)) return MC_EINVAL;
  *count = 0;
  int rc = audio_init(why, why_cap);
  if (rc != 0) return rc;
  int n = SDL_GetNumAudioDevices(capture ? 1 : 0);
  for (int i = 0; i < n && *count < cap; i++) {
    const char *name = SDL_GetAudioDeviceName(i, capture ? 1 : 0);
    if (!name) continue;
    snprintf(names[*count], MC_AUDIO_NAME_MAX, "%s", name);
    (*count)++;
  }
  SDL_QuitSubSystem(SDL_INIT_AUDIO);
  return 0;
}

/* ---- shared device state ---- */

struct dev {
  SDL_AudioDeviceID id;
  SDL_AudioSpec have;
  int channels; /* ours */
  struct ring ring;  /* device-format samples (have.channels, have.freq) */
  SDL_AudioStream *conv; /* NULL when the device runs at 48 kHz with our channels */
  int16_t *scratch;      /* conversion buffer on the caller's side */
  size_t scratch_len;    /* samples */
  _Atomic uint64_t underruns, silence, dropped;
  uint64_t frames;
  bool sdl_up;
};

static int dev_open(struct dev *d, const struct mc_audio_config *config, bool capture, SDL_AudioCallback cb,
                    void *ud, char *why, size_t why_cap) {
  int ch = config && config->channels ? config->channels : 1;
  int rate = config && config->device_rate ? config->device_rate : MC_AUDIO_RATE;
  int buffer_ms = config && config->buffer_ms ? config->buffer_ms : 200;
  if (ch < 1 || ch > MC_AUDIO_MAX_CHANNELS || rate < 8000 || rate > 192000 || buffer_ms < 40 || buffer_ms > 5000)
    return MC_EINVAL;
  d->channels = ch;
  int rc = audio_init(why, why_cap);
  if (rc != 0) return rc;
  d->sdl_up = true;
  SDL_AudioSpec want;
  SDL_zero(want);
  want.freq = rate;
  want.format = AUDIO_S16SYS;
  want.channels = (Uint8)ch;
  want.samples = 512; /* about 10 ms at 48 kHz: small enough for a call */
  want.callback = cb;
  want.userdata = ud;
  const char *name = config ? config->device : NULL;
  /* S16 always (the callback copies raw samples); rate and channels as the
   * device likes them, converted on our side. */
  d->id = SDL_OpenAudioDevice(name, capture ? 1 : 0, &want, &d->have,
                              SDL_AUDIO_ALLOW_FREQUENCY_CHANGE | SDL_AUDIO_ALLOW_CHANNELS_CHANGE);
  if (d->id == 0) {
    char label[MC_AUDIO_NAME_MAX + 8];
    if (name) snprintf(label, sizeof label, "'%s'", name);
    else snprintf(label, sizeof label, "%s", mc_tr("(default device)"));
    if (capture) say(why, why_cap, mc_tr("cannot open the microphone %s: %s"), label, SDL_GetError());
    else say(why, why_cap, mc_tr("cannot open the speakers %s: %s"), label, SDL_GetError());
    return name ? MC_ENOTFOUND : MC_EIO;
  }
  if (d->have.format != AUDIO_S16SYS || d->have.channels < 1) {
    say(why, why_cap, mc_tr("the audio device gave an unexpected sample format"));
    return MC_EIO;
  }
  size_t cap = (size_t)d->have.freq * d->have.channels * (size_t)buffer_ms / 1000;
  if ((rc = ring_init(&d->ring, cap)) != 0) return rc;
  if (d->have.freq != MC_AUDIO_RATE || d->have.channels != ch) {
    d->conv = capture ? SDL_NewAudioStream(AUDIO_S16SYS, d->have.channels, d->have.freq, AUDIO_S16SYS, (Uint8)ch,
                                           MC_AUDIO_RATE)
                      : SDL_NewAudioStream(AUDIO_S16SYS, (Uint8)ch, MC_AUDIO_RATE, AUDIO_S16SYS, d->have.channels,
                                           d->have.freq);
    if (!d->conv) {
      say(why, why_cap, mc_tr("cannot convert audio to the device's format: %s"), SDL_GetError());
      return MC_EIO;
    }
  }
  /* enough for one 20 ms frame at the device's rate and channel count, and
   * for a frame of ours, with slack for the resampler's rounding */
  size_t dev_frame = ((size_t)d->have.freq * 20 / 1000 + 64) * d->have.channels;
  size_t our_frame = (size_t)MC_AUDIO_FRAME * ch;
  d->scratch_len = (dev_frame > our_frame ? dev_frame : our_frame) * 2;
  d->scratch = malloc(d->scratch_len * sizeof *d->scratch);
  if (!d->scratch) return MC_ENOMEM;
  MC_LOGI(LOG, "open %s driver=%s rate=%d channels=%d convert=%s", capture ? "capture" : "playback",
          mc_audio_driver(), d->have.freq, d->have.channels, d->conv ? "yes" : "no");
  return 0;
}

static void dev_close(struct dev *d) {
  if (d->id) SDL_CloseAudioDevice(d->id); /* waits for the callback to finish */
  if (d->conv) SDL_FreeAudioStream(d->conv);
  free(d->ring.buf);
  free(d->scratch);
  if (d->sdl_up) SDL_QuitSubSystem(SDL_INIT_AUDIO);
}

static void dev_stats(struct dev *d, struct mc_audio_stats *st) {
  memset(st, 0, sizeof *st);
  st->device_rate = d->have.freq;
  st->device_channels = d->have.channels;
  st->frames = d->frames;
  st->underruns = atomic_load(&d->underruns);
  st->silence_samples = atomic_load(&d->silence);
  st->dropped_samples = atomic_load(&d->dropped);
}

static int ring_ms(struct dev *d, size_t samples) {
  if (!d->have.freq || !d->have.channels) return 0;
  return (int)(samples * 1000 / ((size_t)d->have.freq * d->have.channels));
}

/* ---- microphone ---- */

struct mc_mic {
  struct dev d;
};

static void mic_callback(void *ud, Uint8 *stream, int len) {
  struct mc_mic *m = ud;
  size_t n = (size_t)len / sizeof(int16_t);
  size_t put = ring_write(&m->d.ring, (const int16_t *)(void *)stream, n);
  if (put < n) atomic_fetch_add_explicit(&m->d.dropped, (n - put) / m->d.have.channels, memory_order_relaxed);
}

int mc_mic_open(const struct mc_audio_config *config, mc_mic **out, char *why, size_t why_cap) {
  if (!out) return MC_EINVAL;
  *out = NULL;
  mc_mic *m = calloc(1, sizeof *m);
  if (!m) return MC_ENOMEM;
  int rc = dev_open(&m->d, config, true, mic_callback, m, why, why_cap);
  if (rc != 0) goto fail;
  SDL_PauseAudioDevice(m->d.id, 0);
  *out = m;
  return 0;
fail:
  mc_mic_free(m);
  return rc;
}

int mc_mic_read(mc_mic *m, int16_t *pcm, bool *got) {
  if (!m || !pcm || !got) return MC_EINVAL;
  *got = false;
  size_t want = (size_t)MC_AUDIO_FRAME * m->d.channels;
  if (!m->d.conv) {
    if (ring_count(&m->d.ring) < want) return 0;
    ring_read(&m->d.ring, pcm, want);
  } else {
    /* feed the resampler what has arrived until it holds a frame */
    while (SDL_AudioStreamAvailable(m->d.conv) < (int)(want * sizeof *pcm)) {
      size_t n = ring_read(&m->d.ring, m->d.scratch, m->d.scratch_len);
      if (n == 0) return 0;
      if (SDL_AudioStreamPut(m->d.conv, m->d.scratch, (int)(n * sizeof *pcm)) != 0) return MC_EIO;
    }
    if (SDL_AudioStreamGet(m->d.conv, pcm, (int)(want * sizeof *pcm)) != (int)(want * sizeof *pcm)) return MC_EIO;
  }
  m->d.frames++;
  *got = true;
  return 0;
}

int mc_mic_queued_ms(mc_mic *m) {
  if (!m) return 0;
  int ms = ring_ms(&m->d, ring_count(&m->d.ring));
  if (m->d.conv) ms += SDL_AudioStreamAvailable(m->d.conv) / (int)(sizeof(int16_t) * m->d.channels * 48);
  return ms;
}

void mc_mic_get_stats(mc_mic *m, struct mc_audio_stats *st) {
  if (m && st) dev_stats(&m->d, st);
}

void mc_mic_free(mc_mic *m) {
  if (!m) return;
  dev_close(&m->d);
  free(m);
}

/* ---- speakers ---- */

struct mc_speaker {
  struct dev d;
  bool started;
};

static void speaker_callback(void *ud, Uint8 *stream, int len) {
  struct mc_speaker *s = ud;
  size_t n = (size_t)len / sizeof(int16_t);
  size_t got = ring_read(&s->d.ring, (int16_t *)(void *)stream, n);
  if (got < n) {
    memset((int16_t *)(void *)stream + got, 0, (n - got) * sizeof(int16_t));
    atomic_fetch_add_explicit(&s->d.underruns, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->d.silence, (n - got) / s->d.have.channels, memory_order_relaxed);
  }
}

int mc_speaker_open(const struct mc_audio_config *config, mc_speaker **out, char *why, size_t why_cap) {
  if (!out) return MC_EINVAL;
  *out = NULL;
  mc_speaker *s = calloc(1, sizeof *s);
  if (!s) return MC_ENOMEM;
  int rc = dev_open(&s->d, config, false, speaker_callback, s, why, why_cap);
  if (rc != 0) goto fail;
  *out = s; /* paused until START_MS are queued */
  return 0;
fail:
  mc_speaker_free(s);
  return rc;
}

int mc_speaker_write(mc_speaker *s, const int16_t *pcm) {
  if (!s || !pcm) return MC_EINVAL;
  size_t n = (size_t)MC_AUDIO_FRAME * s->d.channels;
  const int16_t *src = pcm;
  if (s->d.conv) {
    if (SDL_AudioStreamPut(s->d.conv, pcm, (int)(n * sizeof *pcm)) != 0) return MC_EIO;
    int bytes = SDL_AudioStreamGet(s->d.conv, s->d.scratch, (int)(s->d.scratch_len * sizeof *pcm));
    if (bytes < 0) return MC_EIO;
    n = (size_t)bytes / sizeof *pcm;
    src = s->d.scratch;
  }
  size_t room = s->d.ring.cap - ring_count(&s->d.ring);
  if (n > room) {
    atomic_fetch_add_explicit(&s->d.dropped, n / s->d.have.channels, memory_order_relaxed);
    return MC_ETOOBIG;
  }
  ring_write(&s->d.ring, src, n);
  s->d.frames++;
  if (!s->started && ring_ms(&s->d, ring_count(&s->d.ring)) >= START_MS) {
    s->started = true;
    SDL_PauseAudioDevice(s->d.id, 0);
  }
  return 0;
}

int mc_speaker_queued_ms(mc_speaker *s) { return s ? ring_ms(&s->d, ring_count(&s->d.ring)) : 0; }

void mc_speaker_get_stats(mc_speaker *s, struct mc_audio_stats *st) {
  if (s && st) dev_stats(&s->d, st);
}

void mc_speaker_free(mc_speaker *s) {
  if (!s) return;
  dev_close(&s->d);
  free(s);
}
