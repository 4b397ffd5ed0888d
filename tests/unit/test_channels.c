/* Chat, peer state and files over data channels (src/app/channels.c)
 * between two real mc_pc on 127.0.0.1 on one loop, signaling carried by an
 * in-process queue as in test_pc.c. Checked: chat both ways byte-exact
 * (lines given before the channel opened included), the state announced
 * when "control" opens and on change, a 3 MB random file arriving with the
 * same SHA-256 under its own name, the same name again as "name (2).ext",
 * a hostile name ("../../etc/passwd") saved as "passwd" inside the folder,
 * a sender that closes early giving an error sentence and leaving nothing
 * behind, announced and real sizes above 64 MiB refused, a file the other
 * way, chat kept before open up to a bound, and the parsers and the name
 * cleaner on their own. */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "app/app.h"
#include "check.h"
#include "medcall/pc.h"
#include "util/util.h"

#define STEP_MS 20000 /* liveness bound: a step not done by then is broken */
#define QMAX 512
#define BIG (3 * 1000 * 1000 + 123)

struct sig_msg {
  int to, kind; /* kind: 0 offer, 1 answer, 2 candidate */
  char *text;
  char mid[33];
};

struct received_file {
  char name[256], path[4096], error[512];
  uint64_t size;
};

struct peer {
  const char *name;
  mc_pc *pc;
  struct call_channels *ch;
  enum mc_pc_state state;
  char chat[8][256];
  int chats;
  int states;
  bool mic_on, camera_on, video_paused;
  struct received_file files[12];
  int nfiles;
  struct received_file sent[8];
  int nsent;
  /* files offered (waiting for a decision), and those discarded */
  unsigned offer_id[8];
  char offer_name[8][256];
  uint64_t offer_size[8];
  int noffers, ndiscarded;
  /* a raw "file" channel the test drives itself (hostile or early-closing sender) */
  mc_pc_dc raw;
  bool raw_open;
};

static uv_loop_t *loop;
static struct peer peers[2];
static struct sig_msg queue[QMAX];
static size_t qhead, qtail;
static char dir_a[256], dir_b[256], src_dir[256];

static void push(int to, int kind, const char *text, const char *mid) {
  if (qtail - qhead >= QMAX) return;
  struct sig_msg *m = &queue[qtail++ % QMAX];
  m->to = to;
  m->kind = kind;
  m->text = strdup(text ? text : "");
  mc_strcpy(m->mid, sizeof m->mid, mid ? mid : "");
}

static int idx(mc_pc *pc) { return peers[0].pc == pc ? 0 : 1; }

/* ---- the call's forwarding, as call.c does it ---- */

static void on_candidate(mc_pc *pc, const char *mid, const char *line, void *user) {
  (void)user;
  push(1 - idx(pc), 2, line, mid);
}
static void on_state(mc_pc *pc, enum mc_pc_state s, void *user) {
  (void)pc;
  ((struct peer *)user)->state = s;
}
static void on_data_channel(mc_pc *pc, mc_pc_dc ch, const char *label, const char *protocol, void *user) {
  (void)pc;
  struct peer *p = user;
  CHECK(call_channels_on_data_channel(p->ch, ch, label, protocol));
}
static void on_open(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct peer *p = user;
  if (call_channels_on_open(p->ch, ch)) return;
  if (ch == p->raw) p->raw_open = true;
}
static void on_message(mc_pc *pc, mc_pc_dc ch, const uint8_t *data, size_t len, bool binary, void *user) {
  (void)pc;
  struct peer *p = user;
  CHECK(call_channels_on_message(p->ch, ch, data, len, binary));
}
static void on_low(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct peer *p = user;
  call_channels_on_buffered_amount_low(p->ch, ch);
}
static void on_close(mc_pc *pc, mc_pc_dc ch, void *user) {
  (void)pc;
  struct peer *p = user;
  if (call_channels_on_close(p->ch, ch)) return;
  if (ch == p->raw) {
    p->raw = -1;
    p->raw_open = false;
  }
}

static struct mc_pc_callbacks pc_cbs = {
    .on_ice_candidate = on_candidate,
    .on_connection_state = on_state,
    .on_data_channel = on_data_channel,
    .on_dc_open = on_open,
    .on_dc_message = on_message,
    .on_dc_buffered_amount_low = on_low,
    .on_dc_close = on_close,
};

/* ---- the channels' callbacks ---- */

static void cc_chat(void *user, const char *text) {
  struct peer *p = user;
  if (p->chats < 8) mc_strcpy(p->chat[p->chats], sizeof p->chat[0], text);
  p->chats++;
}
static void cc_state(void *user, bool mic_on, bool camera_on, bool video_paused) {
  struct peer *p = user;
  p->video_paused = video_paused;
  p->states++;
  p->mic_on = mic_on;
  p->camera_on = camera_on;
}
static void cc_file_received(void *user, const char *name, const char *saved_path, uint64_t size, const char *error,
                             const char *shown) {
  struct peer *p = user;
  CHECK(name != NULL);
  CHECK((saved_path == NULL) == (error != NULL));
  /* no catalog here (LC_MESSAGES "C"): what the window shows is the English sentence */
  CHECK((shown == NULL) == (error == NULL));
  if (error && shown) CHECK(strstr(shown, "could not be received") != NULL && strstr(shown, name) != NULL);
  if (p->nfiles >= 12) return;
  struct received_file *f = &p->files[p->nfiles++];
  mc_strcpy(f->name, sizeof f->name, name);
  mc_strcpy(f->path, sizeof f->path, saved_path ? saved_path : "");
  mc_strcpy(f->error, sizeof f->error, error ? error : "");
  f->size = size;
  fprintf(stderr, "%s received \"%s\" %llu bytes -> %s%s\n", p->name, name, (unsigned long long)size,
          saved_path ? saved_path : "", error ? error : "");
}
static void cc_file_sent(void *user, const char *name, uint64_t size, const char *error, const char *shown) {
  struct peer *p = user;
  CHECK((shown == NULL) == (error == NULL));
  if (error && shown) CHECK(strstr(shown, error) != NULL && strstr(shown, name) != NULL);
  if (p->nsent >= 8) return;
  struct received_file *f = &p->sent[p->nsent++];
  mc_strcpy(f->name, sizeof f->name, name);
  mc_strcpy(f->error, sizeof f->error, error ? error : "");
  f->size = size;
}

static void cc_file_offered(void *user, unsigned id, const char *name, uint64_t size) {
  struct peer *p = user;
  if (p->noffers >= 8) return;
  p->offer_id[p->noffers] = id;
  mc_strcpy(p->offer_name[p->noffers], sizeof p->offer_name[0], name);
  p->offer_size[p->noffers] = size;
  p->noffers++;
}
static void cc_file_discarded(void *user, const char *name, uint64_t size) {
  (void)name;
  (void)size;
  ((struct peer *)user)->ndiscarded++;
}

static const struct call_channels_callbacks cc_cbs = {
    .on_chat = cc_chat,
    .on_peer_state = cc_state,
    .on_file_received = cc_file_received,
    .on_file_offered = cc_file_offered,
    .on_file_discarded = cc_file_discarded,
    .on_file_sent = cc_file_sent,
};

/* ---- signaling and the loop ---- */

static void deliver(struct sig_msg *m) {
  struct peer *p = &peers[m->to];
  if (!p->pc) return;
  if (m->kind == 0) {
    CHECK_EQ_INT(mc_pc_set_remote_description(p->pc, MC_PC_OFFER, m->text), 0);
    char *answer = NULL;
    CHECK_EQ_INT(mc_pc_create_answer(p->pc, &answer), 0);
    if (!answer) return;
    CHECK_EQ_INT(mc_pc_set_local_description(p->pc, MC_PC_ANSWER, answer), 0);
    push(1 - m->to, 1, answer, NULL);
    mc_free(answer);
  } else if (m->kind == 1) {
    CHECK_EQ_INT(mc_pc_set_remote_description(p->pc, MC_PC_ANSWER, m->text), 0);
  } else {
    mc_pc_add_remote_candidate(p->pc, m->mid, m->text);
  }
}

static void pump(uv_timer_t *t) {
  (void)t;
  while (qhead < qtail) {
    struct sig_msg *m = &queue[qhead++ % QMAX];
    deliver(m);
    free(m->text);
  }
}

static bool run_until(bool (*cond)(void), uint32_t ms) {
  uint64_t deadline = mc_now_ms() + ms;
  while (!cond() && mc_now_ms() < deadline) uv_run(loop, UV_RUN_ONCE);
  return cond();
}

/* ---- files on disk ---- */

static bool sha256_file(const char *path, uint8_t md[32], uint64_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  uint8_t buf[65536];
  size_t n;
  *size = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    EVP_DigestUpdate(ctx, buf, n);
    *size += n;
  }
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  fclose(f);
  return true;
}

static void write_random(const char *path, size_t size) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  uint8_t buf[65536];
  for (size_t off = 0; off < size; off += sizeof buf) {
    size_t n = MC_MIN(sizeof buf, size - off);
    mc_random_bytes(buf, n);
    fwrite(buf, 1, n, f);
  }
  fclose(f);
}

/* Names in dir, sorted by nothing: count and whether one matches. */
static int dir_count(const char *dir, const char *want, bool *found, int *hidden) {
  DIR *d = opendir(dir);
  int n = 0;
  if (found) *found = false;
  if (hidden) *hidden = 0;
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    n++;
    if (want && found && strcmp(e->d_name, want) == 0) *found = true;
    if (hidden && e->d_name[0] == '.') (*hidden)++;
  }
  closedir(d);
  return n;
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char p[600];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

/* ---- steps ---- */

static bool connected(void) { return peers[0].state == MC_PC_STATE_CONNECTED && peers[1].state == MC_PC_STATE_CONNECTED; }
static bool chats_in(void) { return peers[1].chats >= 1 && peers[0].chats >= 2; }
static bool first_states(void) { return peers[0].states >= 1 && peers[1].states >= 1; }
static int want_states;
static bool more_states(void) { return peers[0].states >= want_states && peers[1].states >= want_states; }
static bool b_states(void) { return peers[1].states >= want_states; }
static int want_files_b, want_sent_a;
static bool b_files(void) { return peers[1].nfiles >= want_files_b && peers[0].nsent >= want_sent_a; }
static bool b_files_only(void) { return peers[1].nfiles >= want_files_b; }
static bool a_file(void) { return peers[0].nfiles >= 1 && peers[1].nsent >= 1; }
static bool raw_open(void) { return peers[0].raw_open; }
static int want_offers;
static bool b_offers(void) { return peers[1].noffers >= want_offers; }
static bool b_offers_and_files(void) { return peers[1].noffers >= want_offers && peers[1].nfiles >= want_files_b; }

/* A "file" channel from A with header proto, sending data, then closed. */
static void raw_send(const char *proto, const uint8_t *data, size_t len) {
  struct mc_dc_config cfg = MC_DC_CONFIG_DEFAULT;
  cfg.label = "file";
  cfg.protocol = proto;
  peers[0].raw_open = false;
  CHECK_EQ_INT(mc_pc_create_data_channel(peers[0].pc, &cfg, &peers[0].raw), 0);
  CHECK(run_until(raw_open, STEP_MS));
  if (len) CHECK_EQ_INT(mc_pc_dc_send(peers[0].pc, peers[0].raw, data, len, true), 0);
  CHECK_EQ_INT(mc_pc_dc_close(peers[0].pc, peers[0].raw), 0);
}

static void test_call(void) {
  memset(peers, 0, sizeof peers);
  peers[0].name = "A";
  peers[1].name = "B";
  peers[0].raw = peers[1].raw = -1;
  struct mc_pc_config cfg = {.loop = loop, .loopback_only = true};
  for (int i = 0; i < 2; i++) {
    CHECK_EQ_INT(mc_pc_new(&cfg, &pc_cbs, &peers[i], &peers[i].pc), 0);
    CHECK_EQ_INT(call_channels_new(peers[i].pc, i == 0, i == 0 ? dir_a : dir_b, &cc_cbs, &peers[i], &peers[i].ch), 0);
    /* --accept-files; asking is tested below */
    call_channels_set_accept_files(peers[i].ch, true);
  }
  /* Given before anything is open: kept, sent when the channels open. */
  CHECK_EQ_INT(call_channels_send_chat(peers[0].ch, "Hello, I am the doctor."), 0);
  CHECK_EQ_INT(call_channels_send_chat(peers[1].ch, "Good morning"), 0);
  CHECK_EQ_INT(call_channels_send_chat(peers[1].ch, "Olá, <b>doutora</b> — ça va? 🩺"), 0);
  CHECK_EQ_INT(call_channels_send_state(peers[0].ch, true, false), 0);
  CHECK_EQ_INT(call_channels_send_state(peers[1].ch, false, true), 0);

  char *offer = NULL;
  CHECK_EQ_INT(mc_pc_create_offer(peers[0].pc, &offer), 0);
  CHECK_EQ_INT(mc_pc_set_local_description(peers[0].pc, MC_PC_OFFER, offer), 0);
  push(1, 0, offer, NULL);
  mc_free(offer);
  CHECK(run_until(connected, STEP_MS));

  fprintf(stderr, "-- chat both ways\n");
  CHECK(run_until(chats_in, STEP_MS));
  CHECK_EQ_INT(peers[1].chats, 1);
  CHECK_STR(peers[1].chat[0], "Hello, I am the doctor.");
  CHECK_EQ_INT(peers[0].chats, 2);
  CHECK_STR(peers[0].chat[0], "Good morning");
  CHECK_STR(peers[0].chat[1], "Olá, <b>doutora</b> — ça va? 🩺");
  CHECK_EQ_INT(call_channels_send_chat(peers[1].ch, "and once open"), 0);
  CHECK_EQ_INT(call_channels_send_chat(peers[1].ch, ""), MC_EINVAL);

  fprintf(stderr, "-- state on open and on change\n");
  CHECK(run_until(first_states, STEP_MS));
  CHECK(peers[1].mic_on && !peers[1].camera_on); /* what A announced */
  CHECK(!peers[0].mic_on && peers[0].camera_on);
  CHECK_EQ_INT(call_channels_send_state(peers[0].ch, false, false), 0);
  CHECK_EQ_INT(call_channels_send_state(peers[1].ch, true, true), 0);
  want_states = 2;
  CHECK(run_until(more_states, STEP_MS));
  CHECK(!peers[1].mic_on && !peers[1].camera_on);
  CHECK(peers[0].mic_on && peers[0].camera_on);
  CHECK(!peers[1].video_paused);
  fprintf(stderr, "-- video paused for bandwidth, then resumed\n");
  CHECK_EQ_INT(call_channels_set_video_paused(peers[0].ch, true), 0);
  want_states = 3;
  CHECK(run_until(b_states, STEP_MS));
  CHECK(peers[1].video_paused && !peers[1].mic_on); /* the rest of the state is kept */
  CHECK_EQ_INT(call_channels_set_video_paused(peers[0].ch, false), 0);
  want_states = 4;
  CHECK(run_until(b_states, STEP_MS));
  CHECK(!peers[1].video_paused);
  CHECK_EQ_INT(peers[0].chats, 3);
  CHECK_STR(peers[0].chat[2], "and once open");

  fprintf(stderr, "-- a 3 MB file, then the same name again\n");
  char src[512];
  snprintf(src, sizeof src, "%s/Blood test.pdf", src_dir);
  write_random(src, BIG);
  uint8_t want_md[32], got_md[32];
  uint64_t want_size = 0, got_size = 0;
  CHECK(sha256_file(src, want_md, &want_size));
  CHECK_EQ_INT(want_size, BIG);
  CHECK_EQ_INT(call_channels_send_file(peers[0].ch, src), 0);
  want_files_b = 1;
  want_sent_a = 1;
  CHECK(run_until(b_files, 60000));
  struct received_file *r = &peers[1].files[0];
  char expect[600];
  snprintf(expect, sizeof expect, "%s/Blood test.pdf", dir_b);
  CHECK_STR(r->error, "");
  CHECK_STR(r->name, "Blood test.pdf");
  CHECK_STR(r->path, expect);
  CHECK_EQ_INT(r->size, BIG);
  CHECK(sha256_file(r->path, got_md, &got_size));
  CHECK_EQ_INT(got_size, BIG);
  CHECK_MEM(got_md, want_md, 32);
  CHECK_STR(peers[0].sent[0].name, "Blood test.pdf");
  CHECK_STR(peers[0].sent[0].error, "");
  CHECK_EQ_INT(peers[0].sent[0].size, BIG);

  CHECK_EQ_INT(call_channels_send_file(peers[0].ch, src), 0);
  want_files_b = 2;
  want_sent_a = 2;
  CHECK(run_until(b_files, 60000));
  snprintf(expect, sizeof expect, "%s/Blood test (2).pdf", dir_b);
  CHECK_STR(peers[1].files[1].path, expect);
  CHECK(sha256_file(peers[1].files[1].path, got_md, &got_size));
  CHECK_MEM(got_md, want_md, 32);
  /* the first one is untouched */
  snprintf(expect, sizeof expect, "%s/Blood test.pdf", dir_b);
  CHECK(sha256_file(expect, got_md, &got_size));
  CHECK_MEM(got_md, want_md, 32);

  fprintf(stderr, "-- a hostile name stays in the folder\n");
  static const uint8_t secret[] = "root:x:0:0";
  raw_send("{\"name\":\"../../etc/passwd\",\"size\":10,\"mime\":\"text/plain\"}", secret, 10);
  want_files_b = 3;
  CHECK(run_until(b_files_only, STEP_MS));
  snprintf(expect, sizeof expect, "%s/passwd", dir_b);
  CHECK_STR(peers[1].files[2].name, "passwd");
  CHECK_STR(peers[1].files[2].path, expect);
  CHECK(sha256_file(expect, got_md, &got_size));
  CHECK_EQ_INT(got_size, 10);

  fprintf(stderr, "-- a sender that stops early\n");
  uint8_t part[4000];
  mc_random_bytes(part, sizeof part);
  raw_send("{\"name\":\"scan.png\",\"size\":100000,\"mime\":\"image/png\"}", part, sizeof part);
  want_files_b = 4;
  CHECK(run_until(b_files_only, STEP_MS));
  r = &peers[1].files[3];
  CHECK_STR(r->name, "scan.png");
  CHECK_STR(r->path, "");
  CHECK(strstr(r->error, "scan.png") != NULL && strstr(r->error, "4000 of 100000") != NULL);
  fprintf(stderr, "says: %s\n", r->error);

  fprintf(stderr, "-- above 64 MiB: refused on both ends\n");
  raw_send("{\"name\":\"huge.bin\",\"size\":67108865}", NULL, 0);
  want_files_b = 5;
  CHECK(run_until(b_files_only, STEP_MS));
  CHECK(strstr(peers[1].files[4].error, "64 MiB") != NULL);
  raw_send("{\"size\":12}", part, 12); /* no name: not understood */
  want_files_b = 6;
  CHECK(run_until(b_files_only, STEP_MS));
  CHECK(strstr(peers[1].files[5].error, "could not be received") != NULL);
  char huge[512];
  snprintf(huge, sizeof huge, "%s/huge.bin", src_dir);
  int fd = open(huge, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0 && ftruncate(fd, (off_t)CALL_FILE_MAX + 1) == 0);
  close(fd);
  CHECK_EQ_INT(call_channels_send_file(peers[0].ch, huge), MC_ETOOBIG);
  unlink(huge);
  char missing[512];
  snprintf(missing, sizeof missing, "%s/nothing-here", src_dir);
  CHECK_EQ_INT(call_channels_send_file(peers[0].ch, missing), MC_ENOTFOUND);
  CHECK_EQ_INT(call_channels_send_file(peers[0].ch, src_dir), MC_EINVAL);

  /* B's folder: the three files, nothing half-written, nothing else. */
  bool found = false;
  int hidden = 0;
  CHECK_EQ_INT(dir_count(dir_b, "Blood test (2).pdf", &found, &hidden), 3);
  CHECK(found);
  CHECK_EQ_INT(hidden, 0);

  fprintf(stderr, "-- asked first: offered, saved only when the user says so\n");
  call_channels_set_accept_files(peers[1].ch, false);
  raw_send("{\"name\":\"report\u202efdp.exe\",\"size\":10}", secret, 10); /* reads "reportexe.pdf" */
  want_offers = 1;
  CHECK(run_until(b_offers, STEP_MS));
  CHECK_STR(peers[1].offer_name[0], "reportfdp.exe"); /* the bidi override is gone from the name */
  CHECK_EQ_INT(peers[1].offer_size[0], 10);
  CHECK_EQ_INT(dir_count(dir_b, NULL, NULL, &hidden), 4); /* the three, and the offer's hidden part */
  CHECK_EQ_INT(hidden, 1);
  CHECK_EQ_INT(call_channels_decide_file(peers[1].ch, peers[1].offer_id[0], false), 0);
  CHECK_EQ_INT(peers[1].ndiscarded, 1);
  CHECK_EQ_INT(dir_count(dir_b, NULL, NULL, &hidden), 3);
  CHECK_EQ_INT(hidden, 0);
  CHECK_EQ_INT(call_channels_decide_file(peers[1].ch, peers[1].offer_id[0], true), MC_ENOTFOUND);
  raw_send("{\"name\":\"x-ray.png\",\"size\":10}", secret, 10);
  want_offers = 2;
  CHECK(run_until(b_offers, STEP_MS));
  CHECK_EQ_INT(peers[1].nfiles, 6); /* nothing saved yet */
  CHECK_EQ_INT(call_channels_decide_file(peers[1].ch, peers[1].offer_id[1], true), 0);
  CHECK_EQ_INT(peers[1].nfiles, 7);
  snprintf(expect, sizeof expect, "%s/x-ray.png", dir_b);
  CHECK_STR(peers[1].files[6].path, expect);
  CHECK(sha256_file(expect, got_md, &got_size));
  CHECK_EQ_INT(got_size, 10);
  unlink(expect);

  fprintf(stderr, "-- at most 4 files arrive at once\n");
  for (int i = 0; i < 5; i++) CHECK_EQ_INT(call_channels_send_file(peers[0].ch, src), 0);
  want_offers = 6;
  want_files_b = 8;
  CHECK(run_until(b_offers_and_files, 60000));
  CHECK_EQ_INT(peers[1].noffers, 6);
  CHECK(strstr(peers[1].files[7].error, "too many files are arriving at once") != NULL);
  /* Not decided when the call ends: never saved (checked after the free). */

  fprintf(stderr, "-- a file the other way\n");
  char small[512];
  snprintf(small, sizeof small, "%s/notes.txt", src_dir);
  write_random(small, 70000);
  CHECK(sha256_file(small, want_md, &want_size));
  CHECK_EQ_INT(call_channels_send_file(peers[1].ch, small), 0);
  CHECK(run_until(a_file, STEP_MS));
  snprintf(expect, sizeof expect, "%s/notes.txt", dir_a);
  CHECK_STR(peers[0].files[0].path, expect);
  CHECK(sha256_file(expect, got_md, &got_size));
  CHECK_MEM(got_md, want_md, 32);
  CHECK_STR(peers[1].sent[0].error, "");

  for (int i = 0; i < 2; i++) {
    mc_pc_free(peers[i].pc);
    call_channels_free(peers[i].ch);
  }
  for (int i = 0; i < 20; i++) uv_run(loop, UV_RUN_NOWAIT);
  CHECK_EQ_INT(dir_count(dir_b, NULL, NULL, &hidden), 3); /* the four offers left nothing behind */
  CHECK_EQ_INT(hidden, 0);
  unlink(src);
  unlink(small);
}

/* Chat given before the channel opens is kept, up to 32 lines. */
static void test_queue_limit(void) {
  fprintf(stderr, "-- chat kept before open: bounded\n");
  struct mc_pc_config cfg = {.loop = loop, .loopback_only = true};
  mc_pc *pc = NULL;
  struct call_channels *ch = NULL;
  CHECK_EQ_INT(mc_pc_new(&cfg, &pc_cbs, &peers[0], &pc), 0);
  CHECK_EQ_INT(call_channels_new(pc, true, dir_a, &cc_cbs, &peers[0], &ch), 0);
  for (int i = 0; i < 32; i++) CHECK_EQ_INT(call_channels_send_chat(ch, "waiting"), 0);
  CHECK_EQ_INT(call_channels_send_chat(ch, "one too many"), MC_ETOOBIG);
  CHECK_EQ_INT(call_channels_send_state(ch, true, true), 0);
  call_channels_free(ch);
  mc_pc_free(pc);
  for (int i = 0; i < 20; i++) uv_run(loop, UV_RUN_NOWAIT);
}

static void test_names(void) {
  fprintf(stderr, "-- names and parsers\n");
  char out[256];
  static const struct { const char *in, *want; } cases[] = {
      {"../../etc/passwd", "passwd"},
      {"..\\..\\Windows\\win.ini", "win.ini"},
      {"report.pdf", "report.pdf"},
      {"", "file"},
      {"..", "file"},
      {"/", "file"},
      {".bashrc", "bashrc"},
      {"a\x01" "b\nc.txt", "abc.txt"},
      {"bad\xff\xfe.txt", "bad.txt"},
      {"\xc0\xaf.txt", "txt"}, /* overlong '/' dropped, then the leading dot */
      {"what?.txt", "what_.txt"},
      {"résumé café.doc", "résumé café.doc"},
      {"name. . ", "name"},
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
    call_channels_safe_name(cases[i].in, out, sizeof out);
    if (strcmp(out, cases[i].want) != 0) fprintf(stderr, "safe_name(%s) = %s\n", cases[i].in, out);
    CHECK_STR(out, cases[i].want);
  }
  char long_name[600];
  memset(long_name, 'x', 500);
  strcpy(long_name + 500, ".pdf");
  call_channels_safe_name(long_name, out, 64);
  CHECK_EQ_INT(strlen(out), 63);
  CHECK(strcmp(out + 59, ".pdf") == 0);
  /* cut on a character boundary: "é" is two bytes */
  char accents[600] = "";
  for (int i = 0; i < 100; i++) strcat(accents, "é");
  call_channels_safe_name(accents, out, 10);
  CHECK_STR(out, "éééé");

  struct call_file_header h;
  const char *ok = "{\"name\":\"x/y.pdf\",\"size\":5,\"mime\":\"application/pdf\"}";
  CHECK_EQ_INT(call_channels_parse_file_header((const uint8_t *)ok, strlen(ok), &h), 0);
  CHECK_STR(h.name, "y.pdf");
  CHECK_EQ_INT(h.size, 5);
  CHECK_STR(h.mime, "application/pdf");
  /* a long name is cut to 200 bytes, extension kept: "name (2).pdf" still fits NAME_MAX */
  char longhdr[400];
  snprintf(longhdr, sizeof longhdr, "{\"name\":\"%s.pdf\",\"size\":1}", long_name + 260);
  CHECK_EQ_INT(call_channels_parse_file_header((const uint8_t *)longhdr, strlen(longhdr), &h), 0);
  CHECK_EQ_INT(strlen(h.name), 200);
  CHECK(strcmp(h.name + 196, ".pdf") == 0);
  const char *nomime = "{\"name\":\"a\",\"size\":0}";
  CHECK_EQ_INT(call_channels_parse_file_header((const uint8_t *)nomime, strlen(nomime), &h), 0);
  CHECK_STR(h.mime, "application/octet-stream");
  static const char *bad[] = {
      "{\"name\":\"a\",\"size\":-1}", "{\"name\":\"a\",\"size\":1.5}", "{\"name\":\"a\"}", "{\"size\":3}",
      "{\"name\":3,\"size\":3}",      "[1,2]",                      "",              "{\"name\":\"a\",\"size\":1",
      "{\"name\":\"a\",\"name\":\"b\",\"size\":1}", "{\"name\":\"a\\u0000b\",\"size\":1}",
      "{\"name\":\"a\",\"size\":1,\"mime\":7}",
  };
  for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++)
    CHECK_EQ_INT(call_channels_parse_file_header((const uint8_t *)bad[i], strlen(bad[i]), &h), MC_EPARSE);

  bool mic = true, cam = true, paused = true;
  const char *st = "{\"type\":\"state\",\"mic\":false,\"camera\":true}";
  CHECK_EQ_INT(call_channels_parse_state((const uint8_t *)st, strlen(st), &mic, &cam, &paused), 0);
  CHECK(!mic && cam && !paused); /* videoPaused is optional: absent means false */
  const char *vp = "{\"type\":\"state\",\"mic\":true,\"camera\":true,\"videoPaused\":true}";
  CHECK_EQ_INT(call_channels_parse_state((const uint8_t *)vp, strlen(vp), &mic, &cam, &paused), 0);
  CHECK(mic && cam && paused);
  const char *badvp = "{\"type\":\"state\",\"mic\":true,\"camera\":true,\"videoPaused\":\"yes\"}";
  CHECK_EQ_INT(call_channels_parse_state((const uint8_t *)badvp, strlen(badvp), &mic, &cam, &paused), MC_EPARSE);
  const char *other = "{\"type\":\"hello\"}";
  CHECK_EQ_INT(call_channels_parse_state((const uint8_t *)other, strlen(other), &mic, &cam, &paused), MC_ENOTFOUND);
  const char *badst = "{\"type\":\"state\",\"mic\":1,\"camera\":true}";
  CHECK_EQ_INT(call_channels_parse_state((const uint8_t *)badst, strlen(badst), &mic, &cam, &paused), MC_EPARSE);
  CHECK_EQ_INT(call_channels_parse_state((const uint8_t *)"nope", 4, &mic, &cam, &paused), MC_EPARSE);
}

int main(void) {
  mc_log_init_from_env();
  char base[] = "/tmp/medcall-channels-XXXXXX";
  CHECK(mkdtemp(base) != NULL);
  snprintf(dir_a, sizeof dir_a, "%s/a", base);
  snprintf(dir_b, sizeof dir_b, "%s/b", base); /* created by the first file */
  snprintf(src_dir, sizeof src_dir, "%s/src", base);
  mkdir(dir_a, 0700);
  mkdir(src_dir, 0700);
  test_names();
  loop = uv_default_loop();
  uv_timer_t pump_timer;
  uv_timer_init(loop, &pump_timer);
  uv_timer_start(&pump_timer, pump, 1, 1);
  test_call();
  test_queue_limit();
  uv_close((uv_handle_t *)&pump_timer, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(loop), 0);
  rm_rf(dir_a);
  rm_rf(dir_b);
  rm_rf(src_dir);
  rmdir(base);
  return CHECK_DONE();
}
