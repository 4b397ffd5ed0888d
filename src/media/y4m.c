/* Y4M (YUV4MPEG2) file source, 4:2:0 8-bit. The header's promises are
 * checked against the bytes in the file before the first frame is served. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media/media.h"
#include "util/util.h"

#define Y4M_MAX_LINE 1024 /* longest header or FRAME line accepted */

struct mc_y4m {
  FILE *fp;
  uint8_t *mem; /* the copy behind fp for mc_y4m_open_mem */
  struct mc_y4m_info info;
  off_t data_start; /* first FRAME line */
  off_t size;
  uint64_t next;
  size_t frame_bytes;
  struct mc_i420 frame;
};

static void say(char *why, size_t cap, const char *fmt, ...) {
  if (!why || !cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, cap, fmt, ap);
  va_end(ap);
}

/* Reads one '\n'-terminated line (without it) into line; MC_EPARSE when
 * longer than Y4M_MAX_LINE or at end of file. */
static int read_line(FILE *fp, char *line, size_t *n) {
  size_t i = 0;
  for (;;) {
    int c = getc(fp);
    if (c == EOF) return MC_EPARSE;
    if (c == '\n') break;
    if (i + 1 >= Y4M_MAX_LINE) return MC_EPARSE;
    line[i++] = (char)c;
  }
  line[i] = 0;
  *n = i;
  return 0;
}

static bool parse_uint(const char *s, long max, long *out) {
  if (*s < '0' || *s > '9') return false;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    v = v * 10 + (*s - '0');
    if (v > max) return false;
  }
  *out = v;
  return true;
}

static int parse_header(char *line, struct mc_y4m_info *info, char *why, size_t cap) {
  if (strncmp(line, "YUV4MPEG2", 9) != 0 || (line[9] != ' ' && line[9] != 0)) {
    say(why, cap, mc_tr("the file is not a Y4M video (it does not start with YUV4MPEG2)"));
    return MC_EPARSE;
  }
  long w = -1, h = -1, fn = 30, fd = 1;
  char *save = NULL;
  for (char *tok = strtok_r(line + 9, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
    switch (tok[0]) {
    case 'W':
      if (!parse_uint(tok + 1, MC_MEDIA_MAX_DIM, &w)) goto bad;
      break;
    case 'H':
      if (!parse_uint(tok + 1, MC_MEDIA_MAX_DIM, &h)) goto bad;
      break;
    case 'F': {
      char *colon = strchr(tok, ':');
      if (!colon) goto bad;
      *colon = 0;
      if (!parse_uint(tok + 1, 1000000, &fn) || !parse_uint(colon + 1, 1000000, &fd) || fn == 0 || fd == 0)
        goto bad;
      break;
    }
    case 'C':
      if (strcmp(tok, "C420") && strcmp(tok, "C420jpeg") && strcmp(tok, "C420paldv") && strcmp(tok, "C420mpeg2")) {
        say(why, cap, mc_tr("the Y4M video is %s; medcall plays only 8-bit 4:2:0 (C420): convert it, e.g. "
            "ffmpeg -i IN -pix_fmt yuv420p OUT.y4m"), tok + 1);
        return MC_EINVAL;
      }
      break;
    case 'I': case 'A': case 'X':
      break;
    default:
      goto bad;
    }
  }
  if (w < 1 || h < 1) goto bad;
  info->width = (int)w;
  info->height = (int)h;
  info->fps_num = (int)fn;
  info->fps_den = (int)fd;
  return 0;
bad:
  say(why, cap, mc_tr("the Y4M header is malformed (it needs W and H within %d and a valid F): the file is damaged"),
      MC_MEDIA_MAX_DIM);
  return MC_EPARSE;
}

static int frame_line_ok(FILE *fp) {
  char line[Y4M_MAX_LINE];
  size_t n;
  if (read_line(fp, line, &n)) return MC_EPARSE;
  if (strncmp(line, "FRAME", 5) != 0 || (line[5] != 0 && line[5] != ' ')) return MC_EPARSE;
  return 0;
}

static int open_fp(FILE *fp, uint8_t *mem, off_t size, mc_y4m **out, char *why, size_t cap) {
  int rc;
  char line[Y4M_MAX_LINE];
  size_t n;
  mc_y4m *y = calloc(1, sizeof *y);
  if (!y) {
    fclose(fp);
    free(mem);
    return MC_ENOMEM;
  }
  y->fp = fp;
  y->mem = mem;
  y->size = size;
  if (read_line(fp, line, &n)) {
    say(why, cap, mc_tr("the file is not a Y4M video (no header line)"));
    rc = MC_EPARSE;
    goto fail;
  }
  if ((rc = parse_header(line, &y->info, why, cap))) goto fail;
  int cw = (y->info.width + 1) / 2, ch = (y->info.height + 1) / 2;
  y->frame_bytes = (size_t)y->info.width * (size_t)y->info.height + 2 * (size_t)cw * (size_t)ch;
  y->data_start = ftello(fp);
  /* Walk every FRAME line now: a truncated or padded file fails here, not
   * in the middle of a call. */
  off_t pos = y->data_start;
  uint64_t frames = 0;
  while (pos < size) {
    if (frame_line_ok(fp)) goto damaged;
    pos = ftello(fp);
    if (pos < 0 || (uint64_t)(size - pos) < y->frame_bytes) goto damaged;
    pos += (off_t)y->frame_bytes;
    if (fseeko(fp, pos, SEEK_SET)) goto damaged;
    frames++;
  }
  if (frames == 0) {
    say(why, cap, mc_tr("the Y4M video has no frames"));
    rc = MC_EPARSE;
    goto fail;
  }
  y->info.frames = frames;
  if ((rc = mc_i420_alloc(&y->frame, y->info.width, y->info.height))) goto fail;
  if (fseeko(fp, y->data_start, SEEK_SET)) {
    rc = MC_EIO;
    goto fail;
  }
  *out = y;
  return 0;
damaged:
  say(why, cap, mc_tr("the Y4M video is truncated or damaged after frame %llu: its frames do not match the header's "
      "%dx%d 4:2:0 size"), (unsigned long long)frames, y->info.width, y->info.height);
  rc = MC_EPARSE;
fail:
  mc_y4m_free(y);
  return rc;
}

int mc_y4m_open(const char *path, mc_y4m **out, char *why, size_t why_cap) {
  if (!path || !out) return MC_EINVAL;
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    say(why, why_cap, mc_tr("cannot open the video file %s (%s): check the path"), path, strerror(errno));
    return MC_EIO;
  }
  struct stat st;
  if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode)) {
    fclose(fp);
    say(why, why_cap, mc_tr("the video file %s is not a regular file"), path);
    return MC_EIO;
  }
  return open_fp(fp, NULL, st.st_size, out, why, why_cap);
}

int mc_y4m_open_mem(const uint8_t *buf, size_t len, mc_y4m **out, char *why, size_t why_cap) {
  if ((!buf && len) || !out) return MC_EINVAL;
  if (len == 0) {
    say(why, why_cap, mc_tr("the Y4M video is empty"));
    return MC_EPARSE;
  }
  uint8_t *mem = malloc(len);
  if (!mem) return MC_ENOMEM;
  memcpy(mem, buf, len);
  FILE *fp = fmemopen(mem, len, "rb");
  if (!fp) {
    free(mem);
    return MC_ENOMEM;
  }
  return open_fp(fp, mem, (off_t)len, out, why, why_cap);
}

void mc_y4m_get_info(const mc_y4m *y, struct mc_y4m_info *info) {
  if (y && info) *info = y->info;
}

static int read_plane(FILE *fp, uint8_t *dst, int stride, int w, int h) {
  for (int r = 0; r < h; r++)
    if (fread(dst + (size_t)r * stride, 1, (size_t)w, fp) != (size_t)w) return MC_EIO;
  return 0;
}

int mc_y4m_next(mc_y4m *y, const struct mc_i420 **out) {
  if (!y || !out) return MC_EINVAL;
  if (y->next == y->info.frames) {
    if (fseeko(y->fp, y->data_start, SEEK_SET)) return MC_EIO;
    y->next = 0;
  }
  struct mc_i420 *f = &y->frame;
  int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
  if (frame_line_ok(y->fp) || read_plane(y->fp, f->y, f->stride_y, f->width, f->height) ||
      read_plane(y->fp, f->u, f->stride_u, cw, ch) || read_plane(y->fp, f->v, f->stride_v, cw, ch)) {
    MC_LOGE("media", "y4m: the file changed while it was read frame=%llu", (unsigned long long)y->next);
    return MC_EIO;
  }
  y->next++;
  *out = f;
  return 0;
}

void mc_y4m_free(mc_y4m *y) {
  if (!y) return;
  if (y->fp) fclose(y->fp);
  free(y->mem);
  mc_i420_free(&y->frame);
  free(y);
}
