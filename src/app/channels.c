/* Chat, peer state and files over data channels (app.h, docs/signaling.md
 * "Data channels"): "chat" (in-band, opened by the offerer, one text message
 * per line), "control" (pre-negotiated id 1, JSON state messages) and one
 * in-band "file" channel per file, its JSON header in the channel's
 * protocol (RFC 8831 6.4 leaves the protocol string to the application).
 *
 * Files are streamed from and to disk in 16 KiB binary messages, so a 64 MiB
 * file never sits in memory; what arrives goes to a hidden temporary file
 * in the download directory and takes its name only once every announced
 * byte is there. Chat text and file names are the patient's data: logs get
 * sizes only. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/i18n.h"
#include "util/util.h"

#define LOG "channels"
#define CONTROL_ID 1
#define FILE_CHUNK (16 * 1024)          /* what browsers send everywhere (RFC 8831 6.6) */
#define FILE_HIGH_WATER (1024 * 1024)   /* stop reading the file above this much buffered */
#define FILE_LOW_WATER (256 * 1024)     /* and go on when it drained to this */
#define MAX_TRANSFERS 16                /* files we send at once */
#define MAX_INCOMING 4                  /* files arriving at once (more slots: closing ones) */
#define MAX_OFFERS 8                    /* received files waiting for the user's decision */
/* Bytes a peer may make us hold before the user decides: arriving plus
 * waiting. One 64 MiB file fits four times; a flood does not fill a disk. */
#define INCOMING_BYTES_MAX (256ull * 1024 * 1024)
#define CHAT_QUEUE_MAX 32
#define CHAT_MAX (64 * 1024)            /* longer received chat lines are cut */
#define UNIQUE_TRIES 1000
#define SAVED_NAME_MAX 200 /* bytes: "name (1000).ext" stays within NAME_MAX (255) */
/* The receiver confirms a whole file by closing its channel; a receiver
 * that does not (one written before that rule) gets the sender's close this
 * long after the last byte left. */
#define FILE_CONFIRM_WAIT_MS 10000

/* A transfer that ended while its channel is still closing keeps its slot
 * (closing) until the close event, so late events are still recognised. */
struct file_out {
  bool used, opened, all_sent, closing;
  mc_pc_dc ch;
  int fd;
  char name[256];
  uint64_t size, sent;
  uint64_t drained_ms; /* all sent and nothing buffered since; 0 not yet */
};

struct file_in {
  bool used, done, closing;
  mc_pc_dc ch;
  int fd;
  char name[256];
  char tmp[PATH_MAX];
  uint64_t size, got;
};

/* A received file, whole, in its hidden temporary file, until the user
 * saves it (renamed into the download folder) or discards it. */
struct file_offer {
  bool used;
  unsigned id;
  char name[256];
  char tmp[PATH_MAX];
  uint64_t size;
};

struct call_channels {
  mc_pc *pc;
  bool offerer;
  char dir[PATH_MAX];
  struct call_channels_callbacks cbs;
  void *user;
  mc_pc_dc control, chat;
  bool control_open, chat_open;
  bool state_set, mic_on, camera_on, video_paused;
  char *chat_queue[CHAT_QUEUE_MAX];
  int chat_queued;
  struct file_out out[MAX_TRANSFERS];
  struct file_in in[MAX_TRANSFERS];
  struct file_offer offers[MAX_OFFERS];
  unsigned next_offer_id;
  bool accept_files;
};

/* ---- names ---- */

void call_channels_safe_name(const char *name, char *out, size_t cap) {
  if (!out || cap == 0) return;
  out[0] = '\0';
  if (cap < 8) return;
  const char *base = name ? name : "";
  for (const char *p = base; *p; p++)
    if (*p == '/' || *p == '\\') base = p + 1;
  /* Cleaned into a buffer as long as the input: invalid UTF-8 and the
   * characters mc_char_is_hidden names (controls; bidi and format
   * characters, which make "report\u202efdp.exe" read as "reportexe.pdf")
   * dropped, characters other systems refuse replaced. */
  size_t blen = strlen(base);
  char *clean = malloc(blen + 1);
  if (!clean) goto fallback;
  size_t n = 0;
  for (size_t i = 0; i < blen;) {
    uint32_t cp = 0;
    size_t l = mc_utf8_decode(base + i, blen - i, &cp);
    if (l == 0) {
      i++;
      continue;
    }
    if (!mc_char_is_hidden(cp)) {
      if (l == 1) {
        clean[n++] = strchr("<>:\"|?*", base[i]) ? '_' : base[i];
      } else {
        memcpy(clean + n, base + i, l);
        n += l;
      }
    }
    i += l;
  }
  clean[n] = '\0';
  /* No hidden files, nothing that reads as "." or "..", no trailing dots or
   * blanks (refused or silently dropped by some file systems). */
  size_t start = 0;
  while (clean[start] == '.' || clean[start] == ' ') start++;
  while (n > start && (clean[n - 1] == '.' || clean[n - 1] == ' ')) n--;
  clean[n] = '\0';
  const char *c = clean + start;
  size_t len = n - start;
  if (len == 0) {
    free(clean);
    goto fallback;
  }
  if (len < cap) {
    memcpy(out, c, len + 1);
  } else {
    /* Too long: cut the stem at a character boundary, keep a short extension. */
    const char *dot = strrchr(c, '.');
    size_t ext = dot && dot != c && strlen(dot) <= 16 && strlen(dot) + 4 < cap ? strlen(dot) : 0;
    size_t stem = cap - 1 - ext;
    while (stem > 0 && (((unsigned char)c[stem]) & 0xc0) == 0x80) stem--;
    /* the cut may leave blanks or dots at the end of the stem */
    while (stem > 0 && (c[stem - 1] == '.' || c[stem - 1] == ' ')) stem--;
    memcpy(out, c, stem);
    memcpy(out + stem, c + len - ext, ext);
    out[stem + ext] = '\0';
  }
  free(clean);
  if (out[0] == '\0' || out[0] == '.') goto fallback;
  return;
fallback:
  mc_strcpy(out, cap, "file");
}

/* Creates dir/name, or "name (2).ext", "name (3).ext", ... when taken:
 * never replaces a file. The empty file is ours to rename onto. */
static int reserve_unique(const char *dir, const char *name, char *path, size_t cap) {
  const char *dot = strrchr(name, '.');
  size_t stem = dot && dot != name ? (size_t)(dot - name) : strlen(name);
  const char *ext = name + stem;
  for (int i = 1; i <= UNIQUE_TRIES; i++) {
    int n = i == 1 ? snprintf(path, cap, "%s/%s", dir, name)
                   : snprintf(path, cap, "%s/%.*s (%d)%s", dir, (int)stem, name, i, ext);
    if (n < 0 || (size_t)n >= cap) return MC_ETOOBIG;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      close(fd);
      return MC_OK;
    }
    if (errno != EEXIST) return MC_EIO;
  }
  return MC_EIO;
}

static const char *mime_of(const char *name) {
  static const struct { const char *ext, *mime; } table[] = {
      {"pdf", "application/pdf"}, {"png", "image/png"},   {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},     {"gif", "image/gif"},   {"webp", "image/webp"},
      {"heic", "image/heic"},     {"txt", "text/plain"},  {"csv", "text/csv"},
      {"json", "application/json"}, {"zip", "application/zip"}, {"mp4", "video/mp4"},
      {"webm", "video/webm"},     {"mp3", "audio/mpeg"},  {"wav", "audio/wav"},
      {"dcm", "application/dicom"},
  };
  const char *dot = strrchr(name, '.');
  if (dot && dot != name)
    for (size_t i = 0; i < MC_ARRAY_LEN(table); i++)
      if (strcasecmp(dot + 1, table[i].ext) == 0) return table[i].mime;
  return "application/octet-stream";
}

/* ---- parsers (the peer's bytes) ---- */

static json_t *parse_object(const uint8_t *buf, size_t len) {
  if (!buf || len == 0 || len > 4096) return NULL;
  json_error_t err;
  json_t *j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &err);
  if (j && !json_is_object(j)) {
    json_decref(j);
    return NULL;
  }
  return j;
}

int call_channels_parse_file_header(const uint8_t *buf, size_t len, struct call_file_header *out) {
  if (!out) return MC_EINVAL;
  memset(out, 0, sizeof *out);
  json_t *j = parse_object(buf, len);
  if (!j) return MC_EPARSE;
  int rc = MC_EPARSE;
  json_t *name = json_object_get(j, "name"), *size = json_object_get(j, "size"), *mime = json_object_get(j, "mime");
  if (!json_is_string(name) || !json_is_integer(size) || (mime && !json_is_string(mime) && !json_is_null(mime)))
    goto out;
  json_int_t sz = json_integer_value(size);
  if (sz < 0) goto out;
  /* "\u0000" is refused by jansson unless JSON_ALLOW_NUL: kept as a guard */
  if (strlen(json_string_value(name)) != json_string_length(name)) goto out;
  call_channels_safe_name(json_string_value(name), out->name, SAVED_NAME_MAX + 1);
  out->size = (uint64_t)sz;
  const char *m = json_is_string(mime) ? json_string_value(mime) : "";
  /* a MIME type is printable ASCII (RFC 6838 4.2); anything else is dropped */
  bool ok = strlen(m) < sizeof out->mime;
  for (const char *p = m; ok && *p; p++) ok = *p > 0x20 && *p < 0x7f;
  mc_strcpy(out->mime, sizeof out->mime, ok && *m ? m : "application/octet-stream");
  rc = MC_OK;
out:
  json_decref(j);
  return rc;
}

int call_channels_parse_state(const uint8_t *buf, size_t len, bool *mic_on, bool *camera_on, bool *video_paused) {
  json_t *j = parse_object(buf, len);
  if (!j) return MC_EPARSE;
  int rc = MC_EPARSE;
  json_t *type = json_object_get(j, "type");
  if (!json_is_string(type)) goto out;
  if (strcmp(json_string_value(type), "state") != 0) {
    rc = MC_ENOTFOUND;
    goto out;
  }
  json_t *mic = json_object_get(j, "mic"), *cam = json_object_get(j, "camera");
  json_t *vp = json_object_get(j, "videoPaused");
  if (!json_is_boolean(mic) || !json_is_boolean(cam) || (vp && !json_is_boolean(vp))) goto out;
  if (mic_on) *mic_on = json_is_true(mic);
  if (camera_on) *camera_on = json_is_true(cam);
  if (video_paused) *video_paused = vp && json_is_true(vp);
  rc = MC_OK;
out:
  json_decref(j);
  return rc;
}

/* ---- life ---- */

int call_channels_new(mc_pc *pc, bool offerer, const char *download_dir, const struct call_channels_callbacks *cbs,
                      void *user, struct call_channels **out) {
  if (!pc || !out) return MC_EINVAL;
  *out = NULL;
  if (download_dir && strlen(download_dir) >= PATH_MAX - 300) return MC_EINVAL;
  struct call_channels *c = calloc(1, sizeof *c);
  if (!c) return MC_ENOMEM;
  c->pc = pc;
  c->offerer = offerer;
  if (cbs) c->cbs = *cbs;
  c->user = user;
  c->control = c->chat = -1;
  if (download_dir && *download_dir) mc_strcpy(c->dir, sizeof c->dir, download_dir);
  else call_download_dir(c->dir, sizeof c->dir);
  for (int i = 0; i < MAX_TRANSFERS; i++) {
    c->out[i].fd = -1;
    c->out[i].ch = -1;
  }
  for (int i = 0; i < MAX_TRANSFERS; i++) {
    c->in[i].fd = -1;
    c->in[i].ch = -1;
  }
  struct mc_dc_config cfg = MC_DC_CONFIG_DEFAULT;
  cfg.label = "control";
  cfg.negotiated = true;
  cfg.id = CONTROL_ID;
  int rc = mc_pc_create_data_channel(pc, &cfg, &c->control);
  if (rc == 0 && offerer) {
    cfg = (struct mc_dc_config)MC_DC_CONFIG_DEFAULT;
    cfg.label = "chat";
    rc = mc_pc_create_data_channel(pc, &cfg, &c->chat);
  }
  if (rc != 0) {
    MC_LOGW(LOG, "could not create the data channels err=%s", mc_strerror(rc));
    free(c);
    return rc;
  }
  *out = c;
  return MC_OK;
}

static void file_in_discard(struct file_in *f) {
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  if (f->tmp[0]) unlink(f->tmp);
  f->tmp[0] = '\0';
}

void call_channels_free(struct call_channels *c) {
  if (!c) return;
  for (int i = 0; i < MAX_TRANSFERS; i++)
    if (c->out[i].used && c->out[i].fd >= 0) close(c->out[i].fd);
  for (int i = 0; i < MAX_TRANSFERS; i++)
    if (c->in[i].used) file_in_discard(&c->in[i]);
  /* Not decided by the end of the call: never saved. */
  for (int i = 0; i < MAX_OFFERS; i++)
    if (c->offers[i].used) unlink(c->offers[i].tmp);
  for (int i = 0; i < c->chat_queued; i++) free(c->chat_queue[i]);
  free(c);
}

static struct file_out *out_of(struct call_channels *c, mc_pc_dc ch) {
  for (int i = 0; i < MAX_TRANSFERS; i++)
    if (c->out[i].used && c->out[i].ch == ch) return &c->out[i];
  return NULL;
}

static struct file_in *in_of(struct call_channels *c, mc_pc_dc ch) {
  for (int i = 0; i < MAX_TRANSFERS; i++)
    if (c->in[i].used && c->in[i].ch == ch) return &c->in[i];
  return NULL;
}

/* ---- sending files ---- */

/* closing: the channel is still ours to close (not called from its close
 * event). error: a phrase marked N_(), NULL for success. */
static void file_out_end(struct call_channels *c, struct file_out *f, const char *error, bool closing) {
  char name[256], shown[512] = "";
  mc_strcpy(name, sizeof name, f->name);
  if (error) snprintf(shown, sizeof shown, _("%s could not be sent: %s"), name, _(error));
  uint64_t size = error ? f->sent : f->size;
  if (f->fd >= 0) close(f->fd);
  mc_pc_dc ch = f->ch;
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->ch = -1;
  if (closing) {
    f->used = f->closing = true;
    f->ch = ch;
    mc_pc_dc_close(c->pc, ch);
  }
  MC_LOGI(LOG, "file sent ok=%d bytes=%llu", !error, (unsigned long long)size);
  if (c->cbs.on_file_sent) c->cbs.on_file_sent(c->user, name, size, error, error ? shown : NULL);
}

static void file_out_pump(struct call_channels *c, struct file_out *f) {
  uint8_t chunk[FILE_CHUNK];
  while (!f->closing && !f->all_sent && f->sent < f->size && mc_pc_dc_buffered_amount(c->pc, f->ch) < FILE_HIGH_WATER) {
    size_t want = (size_t)MC_MIN((uint64_t)FILE_CHUNK, f->size - f->sent);
    ssize_t n = pread(f->fd, chunk, want, (off_t)f->sent);
    if (n <= 0) {
      file_out_end(c, f, n == 0 ? N_("the file became shorter while it was sent") : N_("the file could not be read"),
                   true);
      return;
    }
    int rc = mc_pc_dc_send(c->pc, f->ch, chunk, (size_t)n, true);
    if (rc != 0) {
      file_out_end(c, f, N_("the connection did not take the file"), true);
      return;
    }
    f->sent += (uint64_t)n;
  }
  if (!f->closing && !f->all_sent && f->sent >= f->size) {
    /* Every byte is handed over; the receiver closes the channel once it has
     * them all, and that close is the success. Closing here at once could
     * lose the bytes: a browser that is busy when the channel opens may
     * take the close before its page has read any of them. */
    f->all_sent = true;
    close(f->fd);
    f->fd = -1;
  }
}

void call_channels_tick(struct call_channels *c, uint64_t now_ms) {
  if (!c) return;
  for (int i = 0; i < MAX_TRANSFERS; i++) {
    struct file_out *f = &c->out[i];
    if (!f->used || !f->all_sent || f->closing) continue;
    if (mc_pc_dc_buffered_amount(c->pc, f->ch) > 0) {
      f->drained_ms = 0;
    } else if (!f->drained_ms) {
      f->drained_ms = now_ms;
    } else if (now_ms - f->drained_ms >= FILE_CONFIRM_WAIT_MS) {
      /* A receiver that does not confirm: the close after the last byte,
       * as before the rule. Success is reported when it completes. */
      MC_LOGI(LOG, "file not confirmed by the receiver; closing ch=%d", f->ch);
      f->drained_ms = UINT64_MAX;
      mc_pc_dc_close(c->pc, f->ch);
    }
  }
}

int call_channels_send_file(struct call_channels *c, const char *path) {
  if (!c || !path || !*path) return MC_EINVAL;
  struct file_out *f = NULL;
  for (int i = 0; i < MAX_TRANSFERS && !f; i++)
    if (!c->out[i].used) f = &c->out[i];
  if (!f) return MC_ETOOBIG;
  /* O_NONBLOCK: a FIFO must not stall the net thread; no effect on a regular file */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return errno == ENOENT || errno == ENOTDIR ? MC_ENOTFOUND : MC_EIO;
  struct stat st;
  int rc = MC_EIO;
  char *proto = NULL;
  if (fstat(fd, &st) != 0) goto fail;
  rc = MC_EINVAL;
  if (!S_ISREG(st.st_mode)) goto fail;
  rc = MC_ETOOBIG;
  if ((uint64_t)st.st_size > CALL_FILE_MAX) goto fail;
  char name[256];
  call_channels_safe_name(path, name, sizeof name);
  /* The header must fit the channel's protocol field: shorten the name. */
  for (size_t cap = sizeof name;; cap -= 16) {
    rc = MC_ENOMEM;
    json_t *j = json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)st.st_size, "mime", mime_of(name));
    if (!j) goto fail;
    proto = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!proto) goto fail;
    if (strlen(proto) <= 256) break;
    free(proto);
    proto = NULL;
    char shorter[256];
    mc_strcpy(shorter, sizeof shorter, name);
    call_channels_safe_name(shorter, name, cap - 16);
  }
  struct mc_dc_config cfg = MC_DC_CONFIG_DEFAULT;
  cfg.label = "file";
  cfg.protocol = proto;
  mc_pc_dc ch = -1;
  rc = mc_pc_create_data_channel(c->pc, &cfg, &ch);
  if (rc != 0) goto fail;
  mc_pc_dc_set_buffered_amount_low_threshold(c->pc, ch, FILE_LOW_WATER);
  memset(f, 0, sizeof *f);
  f->used = true;
  f->ch = ch;
  f->fd = fd;
  f->size = (uint64_t)st.st_size;
  mc_strcpy(f->name, sizeof f->name, name);
  free(proto);
  MC_LOGI(LOG, "file sending bytes=%llu ch=%d", (unsigned long long)f->size, ch);
  return MC_OK;
fail:
  free(proto);
  close(fd);
  return rc;
}

/* ---- receiving files ---- */

/* closing: as for file_out_end. why: in English, why_shown in the user's
 * language (_() of a phrase marked N_(), or formatted by the caller). */
static void file_in_fail(struct call_channels *c, struct file_in *f, const char *why, const char *why_shown,
                         bool closing) {
  char name[256], error[512], shown[512];
  mc_strcpy(name, sizeof name, f->name);
  snprintf(error, sizeof error, "The file \"%s\" could not be received: %s.", name, why);
  snprintf(shown, sizeof shown, _("The file \"%s\" could not be received: %s."), name, why_shown);
  uint64_t got = f->got;
  mc_pc_dc ch = f->ch;
  file_in_discard(f);
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->ch = -1;
  if (closing) {
    f->used = f->closing = true;
    f->ch = ch;
    mc_pc_dc_close(c->pc, ch);
  }
  MC_LOGW(LOG, "file not received bytes=%llu", (unsigned long long)got);
  if (c->cbs.on_file_received) c->cbs.on_file_received(c->user, name, NULL, got, error, shown);
}

/* Every announced byte is there: the file waits, hidden, for the user's
 * decision (or is saved at once with call_channels_set_accept_files). */
static void file_in_complete(struct call_channels *c, struct file_in *f, bool closing) {
  if (f->fd >= 0 && close(f->fd) != 0) {
    f->fd = -1;
    file_in_fail(c, f, N_("it could not be written to the disk"), _("it could not be written to the disk"), closing);
    return;
  }
  f->fd = -1;
  struct file_offer *o = NULL;
  for (int i = 0; i < MAX_OFFERS && !o; i++)
    if (!c->offers[i].used) o = &c->offers[i];
  if (!o) {
    file_in_fail(c, f, N_("too many received files wait for a decision"),
                 _("too many received files wait for a decision"), closing);
    return;
  }
  o->used = true;
  o->id = ++c->next_offer_id;
  o->size = f->size;
  mc_strcpy(o->name, sizeof o->name, f->name);
  mc_strcpy(o->tmp, sizeof o->tmp, f->tmp);
  f->tmp[0] = '\0';
  f->done = true;
  /* Closing confirms the whole file to the sender (docs/signaling.md "file"):
   * it arrived; whether it is kept is the user's business. */
  if (closing) mc_pc_dc_close(c->pc, f->ch);
  MC_LOGI(LOG, "file received bytes=%llu", (unsigned long long)o->size);
  unsigned id = o->id;
  if (c->accept_files) {
    call_channels_decide_file(c, id, true);
    return;
  }
  if (c->cbs.on_file_offered) c->cbs.on_file_offered(c->user, id, o->name, o->size);
}

/* What the peer makes us hold: files arriving and files waiting for a decision. */
static bool arriving(const struct file_in *f) { return f->used && !f->done && !f->closing; }

static uint64_t incoming_bytes(const struct call_channels *c) {
  uint64_t n = 0;
  for (int i = 0; i < MAX_TRANSFERS; i++)
    if (arriving(&c->in[i])) n += c->in[i].size;
  for (int i = 0; i < MAX_OFFERS; i++)
    if (c->offers[i].used) n += c->offers[i].size;
  return n;
}

static struct file_offer *offer_of(struct call_channels *c, unsigned id) {
  for (int i = 0; i < MAX_OFFERS; i++)
    if (c->offers[i].used && c->offers[i].id == id) return &c->offers[i];
  return NULL;
}

void call_channels_set_accept_files(struct call_channels *c, bool accept) {
  if (c) c->accept_files = accept;
}

int call_channels_decide_file(struct call_channels *c, unsigned id, bool save) {
  struct file_offer *o = c ? offer_of(c, id) : NULL;
  if (!o) return MC_ENOTFOUND;
  struct file_offer f = *o;
  memset(o, 0, sizeof *o);
  if (!save) {
    unlink(f.tmp);
    MC_LOGI(LOG, "file discarded bytes=%llu", (unsigned long long)f.size);
    if (c->cbs.on_file_discarded) c->cbs.on_file_discarded(c->user, f.name, f.size);
    return MC_OK;
  }
  char path[PATH_MAX];
  if (reserve_unique(c->dir, f.name, path, sizeof path) != 0 || rename(f.tmp, path) != 0) {
    unlink(f.tmp);
    char error[512], shown[512];
    snprintf(error, sizeof error, "The file \"%s\" could not be received: %s.", f.name,
             "it could not be saved in the download folder");
    snprintf(shown, sizeof shown, _("The file \"%s\" could not be received: %s."), f.name,
             _("it could not be saved in the download folder"));
    MC_LOGW(LOG, "file not saved bytes=%llu", (unsigned long long)f.size);
    if (c->cbs.on_file_received) c->cbs.on_file_received(c->user, f.name, NULL, f.size, error, shown);
    return MC_EIO;
  }
  MC_LOGI(LOG, "file saved bytes=%llu", (unsigned long long)f.size);
  if (c->cbs.on_file_received) c->cbs.on_file_received(c->user, f.name, path, f.size, NULL, NULL);
  return MC_OK;
}

static void file_in_start(struct call_channels *c, mc_pc_dc ch, const char *protocol) {
  struct call_file_header h;
  struct file_in *f = NULL;
  int active = 0;
  for (int i = 0; i < MAX_TRANSFERS; i++) {
    if (arriving(&c->in[i])) active++;
    else if (!c->in[i].used && !f) f = &c->in[i];
  }
  int rc = call_channels_parse_file_header((const uint8_t *)protocol, strlen(protocol), &h);
  const char *why = NULL;
  if (rc != 0) why = N_("the sender's description of it was not understood");
  else if (h.size > CALL_FILE_MAX) why = N_("it is larger than 64 MiB");
  else if (!f || active >= MAX_INCOMING) why = N_("too many files are arriving at once");
  else if (incoming_bytes(c) + h.size > INCOMING_BYTES_MAX)
    why = N_("too many received files wait for a decision (256 MiB); save or discard them first");
  if (why) {
    char error[512], shown[512];
    snprintf(error, sizeof error, "The file \"%s\" could not be received: %s.", rc == 0 ? h.name : "file", why);
    snprintf(shown, sizeof shown, _("The file \"%s\" could not be received: %s."), rc == 0 ? h.name : "file",
             _(why));
    if (f) {
      memset(f, 0, sizeof *f);
      f->used = f->closing = true;
      f->ch = ch;
      f->fd = -1;
    }
    mc_pc_dc_close(c->pc, ch);
    MC_LOGW(LOG, "file refused rc=%d", rc);
    if (c->cbs.on_file_received) c->cbs.on_file_received(c->user, rc == 0 ? h.name : "file", NULL, 0, error, shown);
    return;
  }
  memset(f, 0, sizeof *f);
  f->used = true;
  f->ch = ch;
  f->size = h.size;
  mc_strcpy(f->name, sizeof f->name, h.name);
  mkdir(c->dir, 0755); /* the default folders exist; a --download-dir may not yet */
  int n = snprintf(f->tmp, sizeof f->tmp, "%s/.medcall-XXXXXX.part", c->dir);
  f->fd = n > 0 && (size_t)n < sizeof f->tmp ? mkstemps(f->tmp, 5) : -1;
  if (f->fd < 0) {
    f->tmp[0] = '\0';
    file_in_fail(c, f, N_("the download folder cannot be written to"), _("the download folder cannot be written to"),
                 true);
    return;
  }
  MC_LOGI(LOG, "file arriving bytes=%llu ch=%d", (unsigned long long)f->size, ch);
}

static void file_in_data(struct call_channels *c, struct file_in *f, const uint8_t *data, size_t len, bool binary) {
  if (f->done || f->closing) return;
  if (!binary) {
    file_in_fail(c, f, N_("the sender did not follow the file protocol"),
                 _("the sender did not follow the file protocol"), true);
    return;
  }
  if (len > f->size - f->got) {
    file_in_fail(c, f, N_("the sender sent more than it announced"), _("the sender sent more than it announced"),
                 true);
    return;
  }
  for (size_t off = 0; off < len;) {
    ssize_t n = write(f->fd, data + off, len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      file_in_fail(c, f, N_("it could not be written to the disk (is it full?)"),
                   _("it could not be written to the disk (is it full?)"), true);
      return;
    }
    off += (size_t)n;
  }
  f->got += len;
  if (f->got == f->size) file_in_complete(c, f, true);
}

/* ---- chat and control ---- */

static void send_state_now(struct call_channels *c) {
  char msg[96];
  int n = snprintf(msg, sizeof msg, "{\"type\":\"state\",\"mic\":%s,\"camera\":%s,\"videoPaused\":%s}",
                   c->mic_on ? "true" : "false", c->camera_on ? "true" : "false", c->video_paused ? "true" : "false");
  int rc = mc_pc_dc_send(c->pc, c->control, msg, (size_t)n, false);
  if (rc != 0) MC_LOGW(LOG, "state not sent err=%s", mc_strerror(rc));
  else MC_LOGD(LOG, "state sent mic=%d camera=%d", (int)c->mic_on, (int)c->camera_on);
}

static void flush_chat(struct call_channels *c) {
  int sent = 0;
  while (sent < c->chat_queued) {
    const char *t = c->chat_queue[sent];
    if (mc_pc_dc_send(c->pc, c->chat, t, strlen(t), false) != 0) break;
    free(c->chat_queue[sent]);
    sent++;
  }
  memmove(c->chat_queue, c->chat_queue + sent, (size_t)(c->chat_queued - sent) * sizeof c->chat_queue[0]);
  c->chat_queued -= sent;
}

int call_channels_send_chat(struct call_channels *c, const char *text) {
  if (!c || !text || !*text) return MC_EINVAL;
  if (c->chat_open && c->chat_queued == 0) return mc_pc_dc_send(c->pc, c->chat, text, strlen(text), false);
  if (c->chat_queued >= CHAT_QUEUE_MAX) return MC_ETOOBIG;
  char *copy = strdup(text);
  if (!copy) return MC_ENOMEM;
  c->chat_queue[c->chat_queued++] = copy;
  return MC_OK;
}

int call_channels_send_state(struct call_channels *c, bool mic_on, bool camera_on) {
  if (!c) return MC_EINVAL;
  c->state_set = true;
  c->mic_on = mic_on;
  c->camera_on = camera_on;
  if (c->control_open) send_state_now(c);
  return MC_OK;
}

int call_channels_set_video_paused(struct call_channels *c, bool paused) {
  if (!c) return MC_EINVAL;
  c->video_paused = paused;
  if (c->control_open && c->state_set) send_state_now(c);
  return MC_OK;
}

/* ---- the peer connection's events ---- */

bool call_channels_on_data_channel(struct call_channels *c, mc_pc_dc ch, const char *label, const char *protocol) {
  if (!c || !label) return false;
  if (strcmp(label, "chat") == 0) {
    /* the offerer's; a second one replaces the first */
    c->chat = ch;
    c->chat_open = false;
    return true;
  }
  if (strcmp(label, "file") == 0) {
    file_in_start(c, ch, protocol ? protocol : "");
    return true;
  }
  return false;
}

bool call_channels_on_open(struct call_channels *c, mc_pc_dc ch) {
  if (!c) return false;
  if (ch == c->control) {
    c->control_open = true;
    if (c->state_set) send_state_now(c);
    return true;
  }
  if (ch == c->chat) {
    c->chat_open = true;
    flush_chat(c);
    return true;
  }
  struct file_out *f = out_of(c, ch);
  if (f) {
    f->opened = true;
    if (!f->closing) file_out_pump(c, f);
    return true;
  }
  return in_of(c, ch) != NULL;
}

bool call_channels_on_message(struct call_channels *c, mc_pc_dc ch, const uint8_t *data, size_t len, bool binary) {
  if (!c) return false;
  if (ch == c->chat) {
    if (binary) {
      MC_LOGW(LOG, "binary chat message ignored len=%zu", len);
      return true;
    }
    size_t n = MC_MIN(len, (size_t)CHAT_MAX);
    char *text = malloc(n + 1);
    if (!text) return true;
    memcpy(text, data, n);
    text[n] = '\0';
    if (c->cbs.on_chat && text[0]) c->cbs.on_chat(c->user, text);
    free(text);
    return true;
  }
  if (ch == c->control) {
    bool mic = false, cam = false, paused = false;
    int rc = binary ? MC_EPARSE : call_channels_parse_state(data, len, &mic, &cam, &paused);
    if (rc == 0 && c->cbs.on_peer_state) c->cbs.on_peer_state(c->user, mic, cam, paused);
    else if (rc == MC_EPARSE) MC_LOGW(LOG, "control message not understood len=%zu", len);
    return true;
  }
  struct file_in *f = in_of(c, ch);
  if (f) {
    file_in_data(c, f, data, len, binary);
    return true;
  }
  return out_of(c, ch) != NULL; /* nothing comes back on a file we send */
}

bool call_channels_on_buffered_amount_low(struct call_channels *c, mc_pc_dc ch) {
  if (!c) return false;
  struct file_out *f = out_of(c, ch);
  if (f) {
    if (f->opened && !f->closing) file_out_pump(c, f);
    return true;
  }
  return ch == c->chat || ch == c->control || in_of(c, ch) != NULL;
}

bool call_channels_on_close(struct call_channels *c, mc_pc_dc ch) {
  if (!c) return false;
  if (ch == c->control) {
    c->control_open = false;
    c->control = -1;
    return true;
  }
  if (ch == c->chat) {
    c->chat_open = false;
    c->chat = -1;
    return true;
  }
  struct file_out *o = out_of(c, ch);
  if (o && o->closing) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->ch = -1;
    return true;
  }
  if (o) {
    if (o->all_sent) file_out_end(c, o, NULL, false);
    else
      file_out_end(c, o, o->opened ? N_("the other side stopped the transfer") : N_("the transfer could not start"),
                   false);
    return true;
  }
  struct file_in *f = in_of(c, ch);
  if (f) {
    if (f->done || f->closing) {
      memset(f, 0, sizeof *f);
      f->fd = -1;
      f->ch = -1;
    } else if (f->got == f->size) {
      file_in_complete(c, f, false);
      if (f->done) {
        memset(f, 0, sizeof *f);
        f->fd = -1;
        f->ch = -1;
      }
    } else {
      char why[128], why_shown[256];
      snprintf(why, sizeof why, "the sender stopped after %llu of %llu bytes", (unsigned long long)f->got,
               (unsigned long long)f->size);
      snprintf(why_shown, sizeof why_shown,
               ngettext("the sender stopped after %llu of %llu byte", "the sender stopped after %llu of %llu bytes",
                        (unsigned long)f->size),
               (unsigned long long)f->got, (unsigned long long)f->size);
      file_in_fail(c, f, why, why_shown, false);
    }
    return true;
  }
  return false;
}
