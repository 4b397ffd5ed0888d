/* WAV file source: RIFF/WAVE PCM 16-bit at 48 kHz, mono or stereo. Every
 * chunk size is checked against the bytes that are there. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media/media.h"
#include "util/util.h"

#define WAV_MAX_BYTES (256u << 20)
#define WAVE_FORMAT_PCM 1
#define WAVE_FORMAT_EXTENSIBLE 0xfffe

struct mc_wav {
  int16_t *pcm;
  uint64_t frames;
  uint64_t pos;
  int channels;
};

static void say(char *why, size_t cap, const char *fmt, ...) {
  if (!why || !cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, cap, fmt, ap);
  va_end(ap);
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

#define CONVERT_COMMAND "sox IN.wav -r 48000 -b 16 -e signed-integer OUT.wav"

int mc_wav_open_mem(const uint8_t *buf, size_t len, mc_wav **out, char *why, size_t cap) {
  if ((!buf && len) || !out) return MC_EINVAL;
  if (len < 12 || memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0) {
    say(why, cap, mc_tr("the file is not a WAV audio file (no RIFF/WAVE header)"));
    return MC_EPARSE;
  }
  /* The RIFF size may not promise more than is there. */
  uint32_t riff = le32(buf + 4);
  if (riff < 4 || (uint64_t)riff > len - 8) goto damaged;
  size_t end = 8 + (size_t)riff;
  size_t p = 12;
  bool have_fmt = false;
  int channels = 0;
  const uint8_t *data = NULL;
  size_t data_len = 0;
  while (p + 8 <= end) {
    uint32_t sz = le32(buf + p + 4);
    const uint8_t *body = buf + p + 8;
    if (sz > end - (p + 8)) goto damaged;
    if (memcmp(buf + p, "fmt ", 4) == 0) {
      if (have_fmt || sz < 16) goto damaged;
      uint16_t fmt = le16(body), ch = le16(body + 2), align = le16(body + 12), bits = le16(body + 14);
      uint32_t rate = le32(body + 4), byterate = le32(body + 8);
      if (fmt == WAVE_FORMAT_EXTENSIBLE) {
        /* cbSize 22, then valid bits, channel mask, SubFormat GUID whose
         * first two bytes are the plain format tag. */
        if (sz < 40) goto damaged;
        fmt = le16(body + 24);
      }
      if (fmt != WAVE_FORMAT_PCM || bits != 16) {
        say(why, cap, mc_tr("the WAV file is not 16-bit PCM (format %u, %u bits): convert it, e.g. %s"), fmt, bits,
            CONVERT_COMMAND);
        return MC_EINVAL;
      }
      if (ch < 1 || ch > MC_AUDIO_MAX_CHANNELS) {
        say(why, cap, mc_tr("the WAV file has %u channels; medcall plays mono or stereo: convert it, e.g. %s -c 1"), ch,
            CONVERT_COMMAND);
        return MC_EINVAL;
      }
      if (rate != MC_AUDIO_RATE) {
        say(why, cap, mc_tr("the WAV file is %u Hz; medcall plays only 48000 Hz WAV files: convert it, e.g. %s"), rate,
            CONVERT_COMMAND);
        return MC_EINVAL;
      }
      if (align != ch * 2 || byterate != rate * align) goto damaged;
      channels = ch;
      have_fmt = true;
    } else if (memcmp(buf + p, "data", 4) == 0) {
      if (data) goto damaged;
      data = body;
      data_len = sz;
    }
    /* Chunks are padded to an even size (RIFF). */
    size_t step = 8 + (size_t)sz + (sz & 1);
    if (step > end - p) break;
    p += step;
  }
  if (!have_fmt || !data) goto damaged;
  if (data_len == 0 || data_len % ((size_t)channels * 2) != 0) goto damaged;
  mc_wav *w = calloc(1, sizeof *w);
  if (!w) return MC_ENOMEM;
  w->pcm = malloc(data_len);
  if (!w->pcm) {
    free(w);
    return MC_ENOMEM;
  }
  w->channels = channels;
  w->frames = data_len / ((size_t)channels * 2);
  for (size_t i = 0; i < data_len / 2; i++) w->pcm[i] = (int16_t)le16(data + 2 * i);
  *out = w;
  return 0;
damaged:
  say(why, cap, mc_tr("the WAV file is truncated or damaged (its chunk sizes do not match its length)"));
  return MC_EPARSE;
}

int mc_wav_open(const char *path, mc_wav **out, char *why, size_t cap) {
  if (!path || !out) return MC_EINVAL;
  int rc = MC_EIO;
  uint8_t *buf = NULL;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    say(why, cap, mc_tr("cannot open the audio file %s (%s): check the path"), path, strerror(errno));
    return MC_EIO;
  }
  struct stat st;
  if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) {
    say(why, cap, mc_tr("the audio file %s is not a regular file"), path);
    goto done;
  }
  if ((uint64_t)st.st_size > WAV_MAX_BYTES) {
    say(why, cap, mc_tr("the audio file %s is larger than 256 MiB: use a shorter clip"), path);
    rc = MC_EINVAL;
    goto done;
  }
  size_t len = (size_t)st.st_size;
  buf = malloc(len ? len : 1);
  if (!buf) {
    rc = MC_ENOMEM;
    goto done;
  }
  if (fread(buf, 1, len, fp) != len) {
    say(why, cap, mc_tr("cannot read the audio file %s"), path);
    goto done;
  }
  rc = mc_wav_open_mem(buf, len, out, why, cap);
done:
  free(buf);
  fclose(fp);
  return rc;
}

int mc_wav_channels(const mc_wav *w) { return w ? w->channels : 0; }
uint64_t mc_wav_frames(const mc_wav *w) { return w ? w->frames : 0; }

void mc_wav_read(mc_wav *w, int16_t *pcm, size_t frames) {
  size_t ch = (size_t)w->channels;
  while (frames) {
    uint64_t left = w->frames - w->pos;
    size_t n = frames < left ? frames : (size_t)left;
    memcpy(pcm, w->pcm + w->pos * ch, n * ch * sizeof *pcm);
    pcm += n * ch;
    frames -= n;
    w->pos += n;
    if (w->pos == w->frames) w->pos = 0;
  }
}

void mc_wav_free(mc_wav *w) {
  if (!w) return;
  free(w->pcm);
  free(w);
}
