/* A V4L2 camera through libv4l2 (so libv4l converts the formats it knows
 * when the device sends none of ours), mmap streaming, and the newest
 * frame converted to I420 with libyuv. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <libyuv.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/media.h"
#include "util/util.h"

#define LOG "camera"
#define NBUFFERS 4

static void say(char *why, size_t cap, const char *fmt, ...) {
  if (!why || !cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, cap, fmt, ap);
  va_end(ap);
}

bool mc_camera_fourcc_supported(uint32_t fourcc) {
  return fourcc == MC_FOURCC_YUYV || fourcc == MC_FOURCC_MJPEG || fourcc == MC_FOURCC_NV12 ||
         fourcc == MC_FOURCC_I420;
}

const char *mc_fourcc_str(uint32_t fourcc, char buf[5]) {
  for (int i = 0; i < 4; i++) {
    char c = (char)((fourcc >> (8 * i)) & 0xff);
    buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  buf[4] = '\0';
  return buf;
}

int mc_camera_convert(uint32_t fourcc, const uint8_t *buf, size_t len, int width, int height, int stride,
                      struct mc_i420 *dst) {
  if (!buf || !dst || width < 2 || height < 2 || width > MC_MEDIA_MAX_DIM || height > MC_MEDIA_MAX_DIM ||
      dst->width != width || dst->height != height || stride < 0)
    return MC_EINVAL;
  size_t w = (size_t)width, h = (size_t)height, cw = (w + 1) / 2, ch = (h + 1) / 2;
  int r;
  switch (fourcc) {
  case MC_FOURCC_YUYV: {
    size_t st = stride ? (size_t)stride : 2 * cw * 2;
    if (st < 2 * cw * 2 || len < st * (h - 1) + 2 * cw * 2) return MC_EPARSE;
    r = YUY2ToI420(buf, (int)st, dst->y, dst->stride_y, dst->u, dst->stride_u, dst->v, dst->stride_v, width,
                   height);
    break;
  }
  case MC_FOURCC_NV12: {
    /* V4L2 single-planar NV12: the UV plane follows the Y plane directly,
     * with the same stride. */
    size_t st = stride ? (size_t)stride : w;
    if (st < w || len < st * h + st * (ch - 1) + 2 * cw) return MC_EPARSE;
    r = NV12ToI420(buf, (int)st, buf + st * h, (int)st, dst->y, dst->stride_y, dst->u, dst->stride_u, dst->v,
                   dst->stride_v, width, height);
    break;
  }
  case MC_FOURCC_I420: {
    size_t st = stride ? (size_t)stride : w;
    size_t cst = stride ? (st + 1) / 2 : cw;
    if (st < w || cst < cw || len < st * h + 2 * cst * ch) return MC_EPARSE;
    const uint8_t *u = buf + st * h, *v = u + cst * ch;
    r = I420Copy(buf, (int)st, u, (int)cst, v, (int)cst, dst->y, dst->stride_y, dst->u, dst->stride_u, dst->v,
                 dst->stride_v, width, height);
    break;
  }
  case MC_FOURCC_MJPEG:
    /* A JPEG is at least SOI + EOI; libyuv checks the markers and that the
     * picture is the expected size. */
    if (len < 4) return MC_EPARSE;
    r = MJPGToI420(buf, len, dst->y, dst->stride_y, dst->u, dst->stride_u, dst->v, dst->stride_v, width, height,
                   width, height);
    break;
  default:
    return MC_EINVAL;
  }
  return r == 0 ? 0 : MC_EPARSE;
}

/* ---- listing ---- */

static int xioctl(int fd, unsigned long req, void *arg) {
  int r;
  do r = v4l2_ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

static bool is_capture(const struct v4l2_capability *cap) {
  uint32_t caps = (cap->capabilities & V4L2_CAP_DEVICE_CAPS) ? cap->device_caps : cap->capabilities;
  return (caps & V4L2_CAP_VIDEO_CAPTURE) && (caps & V4L2_CAP_STREAMING);
}

static void list_formats(int fd, struct mc_camera_info *info) {
  for (uint32_t i = 0; info->nformats < MC_CAMERA_MAX_FORMATS; i++) {
    struct v4l2_fmtdesc fd_ = {.index = i, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
    if (xioctl(fd, VIDIOC_ENUM_FMT, &fd_) < 0) break;
    struct mc_camera_format *f = &info->formats[info->nformats++];
    memset(f, 0, sizeof *f);
    f->fourcc = fd_.pixelformat;
    f->emulated = (fd_.flags & V4L2_FMT_FLAG_EMULATED) != 0;
    for (uint32_t j = 0; f->nsizes < MC_CAMERA_MAX_SIZES; j++) {
      struct v4l2_frmsizeenum fs = {.index = j, .pixel_format = fd_.pixelformat};
      if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs) < 0) break;
      if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
        f->sizes[f->nsizes].width = (int)fs.discrete.width;
        f->sizes[f->nsizes].height = (int)fs.discrete.height;
        f->nsizes++;
      } else {
        f->sizes[0].width = (int)fs.stepwise.min_width;
        f->sizes[0].height = (int)fs.stepwise.min_height;
        f->sizes[1].width = (int)fs.stepwise.max_width;
        f->sizes[1].height = (int)fs.stepwise.max_height;
        f->nsizes = 2;
        break;
      }
    }
  }
}

static int cmp_info(const void *a, const void *b) {
  const struct mc_camera_info *x = a, *y = b;
  int nx = atoi(x->path + 10), ny = atoi(y->path + 10);
  return nx < ny ? -1 : nx > ny;
}

int mc_camera_list(struct mc_camera_info *out, size_t cap, size_t *count) {
  if (!count || (!out && cap)) return MC_EINVAL;
  *count = 0;
  DIR *d = opendir("/dev");
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d)) && *count < cap) {
    if (strncmp(e->d_name, "video", 5) != 0 || !e->d_name[5]) continue;
    struct mc_camera_info *info = &out[*count];
    memset(info, 0, sizeof *info);
    snprintf(info->path, sizeof info->path, "/dev/%.20s", e->d_name);
    int fd = open(info->path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      /* busy devices still open; EACCES etc. are listed without details */
      if (errno == ENOENT || errno == ENXIO || errno == ENODEV) continue;
      snprintf(info->name, sizeof info->name, mc_tr("(cannot open: %s)"), strerror(errno));
      (*count)++;
      continue;
    }
    struct v4l2_capability vc;
    memset(&vc, 0, sizeof vc);
    if (ioctl(fd, VIDIOC_QUERYCAP, &vc) != 0 || !is_capture(&vc)) {
      close(fd);
      continue;
    }
    snprintf(info->name, sizeof info->name, "%.63s", (const char *)vc.card);
    (*count)++;
    /* through libv4l2 so its converted formats are listed too */
    int vfd = v4l2_fd_open(fd, 0);
    if (vfd < 0) {
      close(fd);
      continue;
    }
    list_formats(vfd, info);
    v4l2_close(vfd);
  }
  closedir(d);
  qsort(out, *count, sizeof *out, cmp_info);
  return 0;
}

/* ---- capture ---- */

struct mc_camera {
  int fd;
  char path[64];
  int width, height, fps;
  uint32_t fourcc;
  uint32_t bytesperline;
  struct {
    void *start;
    size_t len;
  } bufs[NBUFFERS];
  int nbufs;
  bool streaming;
  struct mc_i420 frame;
  uint64_t frames, skipped, bad;
};

static bool has_format(const struct mc_camera_info *info, uint32_t fourcc, bool native) {
  for (int i = 0; i < info->nformats; i++)
    if (info->formats[i].fourcc == fourcc && (!native || !info->formats[i].emulated)) return true;
  return false;
}

/* Native formats libyuv converts cheaply first; above VGA USB 2 cameras only
 * reach 30 fps in MJPEG, so it goes first there. Failing all, ask libv4l for
 * I420 and let it convert whatever the device sends. */
static uint32_t choose_format(const struct mc_camera_info *info, int width, int height) {
  bool big = (long)width * height > 640L * 480;
  if (big && has_format(info, MC_FOURCC_MJPEG, true)) return MC_FOURCC_MJPEG;
  static const uint32_t order[] = {MC_FOURCC_I420, MC_FOURCC_NV12, MC_FOURCC_YUYV, MC_FOURCC_MJPEG};
  for (size_t i = 0; i < MC_ARRAY_LEN(order); i++)
    if (has_format(info, order[i], true)) return order[i];
  return MC_FOURCC_I420;
}

int mc_camera_open(const struct mc_camera_config *config, mc_camera **out, char *why, size_t why_cap) {
  if (!config || !out) return MC_EINVAL;
  *out = NULL;
  const char *path = config->device ? config->device : "/dev/video0";
  int width = config->width > 0 ? config->width : 640, height = config->height > 0 ? config->height : 480;
  int fps = config->fps > 0 ? config->fps : 30;
  if (width > MC_MEDIA_MAX_DIM || height > MC_MEDIA_MAX_DIM || fps > 240) return MC_EINVAL;
  mc_camera *c = calloc(1, sizeof *c);
  if (!c) return MC_ENOMEM;
  c->fd = -1;
  snprintf(c->path, sizeof c->path, "%s", path);
  int rc = MC_EIO;
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISCHR(st.st_mode)) {
    say(why, why_cap, mc_tr("no camera at %s"), path);
    rc = MC_ENOTFOUND;
    goto fail;
  }
  /* plain open and QUERYCAP first: libv4l2 would print its own complaint
   * about a device that is not a camera */
  int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EBUSY) say(why, why_cap, mc_tr("the camera %s is busy (another program uses it)"), path);
    else if (errno == EACCES || errno == EPERM)
      say(why, why_cap, mc_tr("no permission to open the camera %s (is your user in the 'video' group?)"), path);
    else if (errno == ENOENT || errno == ENXIO || errno == ENODEV) {
      say(why, why_cap, mc_tr("no camera at %s"), path);
      rc = MC_ENOTFOUND;
    } else say(why, why_cap, mc_tr("cannot open the camera %s: %s"), path, strerror(errno));
    goto fail;
  }
  struct v4l2_capability vc;
  memset(&vc, 0, sizeof vc);
  if (ioctl(fd, VIDIOC_QUERYCAP, &vc) != 0 || !is_capture(&vc)) {
    close(fd);
    say(why, why_cap, mc_tr("no camera at %s (the device does not capture video)"), path);
    rc = MC_ENOTFOUND;
    goto fail;
  }
  c->fd = v4l2_fd_open(fd, 0);
  if (c->fd < 0) {
    close(fd);
    say(why, why_cap, mc_tr("the camera %s could not be set up: %s"), path, strerror(errno));
    goto fail;
  }
  struct mc_camera_info info;
  memset(&info, 0, sizeof info);
  list_formats(c->fd, &info);
  struct v4l2_format fmt = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
  fmt.fmt.pix.width = (uint32_t)width;
  fmt.fmt.pix.height = (uint32_t)height;
  fmt.fmt.pix.pixelformat = choose_format(&info, width, height);
  fmt.fmt.pix.field = V4L2_FIELD_NONE;
  if (xioctl(c->fd, VIDIOC_S_FMT, &fmt) != 0) {
    if (errno == EBUSY) say(why, why_cap, mc_tr("the camera %s is busy (another program uses it)"), path);
    else say(why, why_cap, mc_tr("the camera %s refused the format: %s"), path, strerror(errno));
    goto fail;
  }
  c->fourcc = fmt.fmt.pix.pixelformat;
  c->width = (int)fmt.fmt.pix.width;
  c->height = (int)fmt.fmt.pix.height;
  c->bytesperline = fmt.fmt.pix.bytesperline;
  if (!mc_camera_fourcc_supported(c->fourcc) || c->width < 2 || c->height < 2 || c->width > MC_MEDIA_MAX_DIM ||
      c->height > MC_MEDIA_MAX_DIM) {
    char fb[5];
    say(why, why_cap, mc_tr("the camera %s offers no format medcall can read (got %s %dx%d)"), path,
        mc_fourcc_str(c->fourcc, fb), c->width, c->height);
    goto fail;
  }
  struct v4l2_streamparm parm = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
  parm.parm.capture.timeperframe.numerator = 1;
  parm.parm.capture.timeperframe.denominator = (uint32_t)fps;
  c->fps = fps;
  if (xioctl(c->fd, VIDIOC_S_PARM, &parm) == 0 && parm.parm.capture.timeperframe.numerator > 0)
    c->fps = (int)(parm.parm.capture.timeperframe.denominator / parm.parm.capture.timeperframe.numerator);
  else MC_LOGW(LOG, "cannot set the frame rate path=%s fps=%d", path, fps);

  struct v4l2_requestbuffers req = {.count = NBUFFERS, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
                                    .memory = V4L2_MEMORY_MMAP};
  if (xioctl(c->fd, VIDIOC_REQBUFS, &req) != 0 || req.count < 2) {
    if (errno == EBUSY) say(why, why_cap, mc_tr("the camera %s is busy (another program uses it)"), path);
    else say(why, why_cap, mc_tr("the camera %s cannot stream (memory-mapped buffers refused)"), path);
    goto fail;
  }
  for (uint32_t i = 0; i < req.count && i < NBUFFERS; i++) {
    struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP, .index = i};
    if (xioctl(c->fd, VIDIOC_QUERYBUF, &b) != 0) goto fail_io;
    void *p = v4l2_mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, b.m.offset);
    if (p == MAP_FAILED) goto fail_io;
    c->bufs[i].start = p;
    c->bufs[i].len = b.length;
    c->nbufs++;
    if (xioctl(c->fd, VIDIOC_QBUF, &b) != 0) goto fail_io;
  }
  enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
  if (xioctl(c->fd, VIDIOC_STREAMON, &type) != 0) {
    if (errno == EBUSY || errno == ENOSPC)
      say(why, why_cap, mc_tr("the camera %s is busy (another program uses it)"), path);
    else say(why, why_cap, mc_tr("the camera %s cannot start streaming: %s"), path, strerror(errno));
    goto fail;
  }
  c->streaming = true;
  if ((rc = mc_i420_alloc(&c->frame, c->width, c->height)) != 0) goto fail;
  char fb[5];
  MC_LOGI(LOG, "open path=%s format=%s size=%dx%d fps=%d", path, mc_fourcc_str(c->fourcc, fb), c->width,
          c->height, c->fps);
  *out = c;
  return 0;
fail_io:
  say(why, why_cap, mc_tr("the camera %s failed while setting up buffers: %s"), path, strerror(errno));
  rc = MC_EIO;
fail:
  mc_camera_free(c);
  return rc;
}

void mc_camera_get_format(const mc_camera *c, int *width, int *height, int *fps, uint32_t *fourcc) {
  if (width) *width = c ? c->width : 0;
  if (height) *height = c ? c->height : 0;
  if (fps) *fps = c ? c->fps : 0;
  if (fourcc) *fourcc = c ? c->fourcc : 0;
}

int mc_camera_fd(const mc_camera *c) { return c ? c->fd : -1; }

int mc_camera_read(mc_camera *c, struct mc_i420 *out, bool *got) {
  if (!c || !out || !got) return MC_EINVAL;
  *got = false;
  struct v4l2_buffer newest;
  bool have = false;
  for (;;) {
    struct v4l2_buffer b = {.type = V4L2_BUF_TYPE_VIDEO_CAPTURE, .memory = V4L2_MEMORY_MMAP};
    if (xioctl(c->fd, VIDIOC_DQBUF, &b) != 0) {
      if (errno == EAGAIN) break;
      if (have) xioctl(c->fd, VIDIOC_QBUF, &newest);
      MC_LOGW(LOG, "capture failed path=%s errno=%d", c->path, errno);
      return MC_EIO;
    }
    if (have) {
      c->skipped++;
      xioctl(c->fd, VIDIOC_QBUF, &newest);
    }
    newest = b;
    have = true;
  }
  if (!have) return 0;
  int rc = MC_EPARSE;
  if (newest.index < (uint32_t)c->nbufs && !(newest.flags & V4L2_BUF_FLAG_ERROR)) {
    size_t used = newest.bytesused ? newest.bytesused : c->bufs[newest.index].len;
    if (used > c->bufs[newest.index].len) used = c->bufs[newest.index].len;
    int stride = c->fourcc == MC_FOURCC_MJPEG ? 0 : (int)c->bytesperline;
    rc = mc_camera_convert(c->fourcc, c->bufs[newest.index].start, used, c->width, c->height, stride, &c->frame);
  }
  xioctl(c->fd, VIDIOC_QBUF, &newest);
  if (rc != 0) {
    c->bad++; /* a torn or corrupt MJPEG frame: skip it, the next one comes */
    return 0;
  }
  c->frames++;
  *out = c->frame;
  out->owned = NULL;
  *got = true;
  return 0;
}

void mc_camera_get_counts(const mc_camera *c, uint64_t *frames, uint64_t *skipped, uint64_t *bad) {
  if (frames) *frames = c ? c->frames : 0;
  if (skipped) *skipped = c ? c->skipped : 0;
  if (bad) *bad = c ? c->bad : 0;
}

void mc_camera_free(mc_camera *c) {
  if (!c) return;
  if (c->streaming) {
    enum v4l2_buf_type type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    xioctl(c->fd, VIDIOC_STREAMOFF, &type);
  }
  for (int i = 0; i < c->nbufs; i++) v4l2_munmap(c->bufs[i].start, c->bufs[i].len);
  if (c->fd >= 0) v4l2_close(c->fd);
  mc_i420_free(&c->frame);
  free(c);
}
